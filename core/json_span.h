/*
 * json_span.h
 *     A small strict JSON scanner (RFC 8259) that locates values instead of
 *     converting them.
 *
 * It checks one JSON text completely (strings, escapes, UTF-8, numbers,
 * literals, nesting up to TP_JSON_MAX_DEPTH, nothing after the value) and
 * reports where each value is: a span of bytes in the caller's text. Numbers
 * are never converted unless asked for, and then only strictly into int64,
 * so a numeric(40) or -0 keeps every byte it had. This is how change lines
 * are decoded: a JSON library's number type would round or refuse them.
 */
#ifndef TP_JSON_SPAN_H
#define TP_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays and objects accepted (the top value is 1). */
#define TP_JSON_MAX_DEPTH 64

typedef enum tp_json_type
{
	TP_JSON_NULL = 1,
	TP_JSON_FALSE,
	TP_JSON_TRUE,
	TP_JSON_NUMBER,
	TP_JSON_STRING,				/* the span includes the quotes */
	TP_JSON_ARRAY,
	TP_JSON_OBJECT
} tp_json_type;

/* A value: its type and its bytes [start, start + len) in the text. */
typedef struct tp_json_span
{
	tp_json_type type;
	size_t		start;
	size_t		len;
} tp_json_span;

/*
 * Check that text[0, len) is exactly one JSON text (the value, optionally
 * surrounded by JSON whitespace). On success fill *value (if not NULL) and
 * return true; otherwise false with a one-sentence reason that gives the
 * byte offset of the fault ("... at byte N"). Nothing is allocated or logged.
 */
bool		tp_json_check(const char *text, size_t len, tp_json_span *value,
						  char *reason, size_t reason_len);

/*
 * Iteration over the members of an object. The object must be a span of a
 * text that tp_json_check accepted (the iterator does not report errors in
 * it again). Zero-fill is not needed: tp_json_members_init sets it up, and
 * tp_json_members_done frees the key buffer.
 */
typedef struct tp_json_members
{
	const char *text;
	size_t		pos;			/* where the next member (or '}') starts */
	size_t		end;			/* one past the object's '}' */
	char	   *key;			/* the current key, decoded, NUL-terminated */
	size_t		key_len;		/* its length (it may contain NUL bytes) */
	size_t		key_size;		/* bytes allocated for key */
	tp_json_span key_span;		/* the current key as it stands in text */
} tp_json_members;

/* Start iterating the members of object (a TP_JSON_OBJECT span of text). */
void		tp_json_members_init(tp_json_members *it, const char *text,
								 tp_json_span object);

/*
 * Step to the next member: true with it->key / it->key_len set to its
 * decoded key (owned by the iterator, valid until the next call) and
 * *value to its value; false after the last member.
 */
bool		tp_json_members_next(tp_json_members *it, tp_json_span *value);

/* Free what the iterator holds (calling it twice is harmless). */
void		tp_json_members_done(tp_json_members *it);

/*
 * Check that no two members of object (a span of a checked text) have the
 * same decoded key; only that object's own keys are compared, not those of
 * nested objects. False with a reason naming the key and its byte offset.
 */
bool		tp_json_unique_keys(const char *text, tp_json_span object,
								char *reason, size_t reason_len);

/*
 * tp_json_unique_keys and a lookup in one pass over object: spans[i] is
 * the value of the member named names[i], or has type 0
 * when there is none. The spans are set even when false is returned.
 */
bool		tp_json_find_unique(const char *text, tp_json_span object,
								const char *const *names, tp_json_span *spans,
								size_t n, char *reason, size_t reason_len);

/*
 * Decode string (a TP_JSON_STRING span of a checked text): a new malloc'd,
 * NUL-terminated copy with escapes resolved, owned by the caller (free).
 * Its length, which counts any NUL from \u0000, goes to *len if not NULL.
 * Aborts when memory is exhausted; NULL when the span is not a string.
 */
char	   *tp_json_string(const char *text, tp_json_span string, size_t *len);

/*
 * Decode string (a TP_JSON_STRING span of a checked text) into out, which
 * holds at least string.len bytes (a decoded string is never longer than
 * its token), NUL-terminated. Returns the decoded length.
 */
size_t		tp_json_string_decode(const char *text, tp_json_span string,
								  char *out);

/* True when string (a span of a checked text) decodes exactly to s. */
bool		tp_json_string_eq(const char *text, tp_json_span string,
							  const char *s);

typedef enum tp_json_int_result
{
	TP_JSON_INT_OK = 0,
	TP_JSON_INT_NOT_INTEGER,	/* not a number, or one with . or e */
	TP_JSON_INT_RANGE			/* an integer beyond int64 */
} tp_json_int_result;

/*
 * Read number (a span of a checked text) strictly as an int64: no fraction,
 * no exponent, within range ("-0" is 0). Sets *value only on TP_JSON_INT_OK.
 */
tp_json_int_result tp_json_int64(const char *text, tp_json_span number,
								 int64_t *value);

/* A malloc'd, NUL-terminated copy of span's bytes, owned by the caller. */
char	   *tp_json_span_dup(const char *text, tp_json_span span);

#endif							/* TP_JSON_SPAN_H */
