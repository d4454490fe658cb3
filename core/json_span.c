/*
 * json_span.c
 *     A small strict JSON scanner (RFC 8259) that locates values instead of
 *     converting them; see json_span.h.
 *
 * The grammar is RFC 8259's, with no extension: no comments, no trailing
 * commas, no NaN, no single quotes, no leading zeros, no control
 * characters in strings, only well-formed UTF-8 (no overlong forms, no
 * encoded surrogates, nothing beyond U+10FFFF) and only paired surrogate
 * escapes. Nesting is limited to TP_JSON_MAX_DEPTH so that the recursion is
 * bounded. Numbers are checked against the grammar and never converted.
 */
#include "tp_autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/abi.h>

#include "json_span.h"
#include "xalloc.h"

/* The scanner's state over one text. */
typedef struct scanner
{
	const unsigned char *s;
	size_t		len;
	size_t		pos;
	char	   *reason;			/* may be NULL */
	size_t		reason_len;
} scanner;

static bool scan_value(scanner *sc, int depth, tp_json_span *value);

/*
 * Record a reason, "<message> at byte <at>", in sc's reason buffer (if any).
 * Always returns false.
 */
static bool
scan_fail(scanner *sc, size_t at, const char *fmt,...)
TP_PRINTF(3, 4);

static bool
scan_fail(scanner *sc, size_t at, const char *fmt,...)
{
	if (sc->reason != NULL && sc->reason_len > 0)
	{
		va_list		ap;
		size_t		used;

		va_start(ap, fmt);
		vsnprintf(sc->reason, sc->reason_len, fmt, ap);
		va_end(ap);
		used = strlen(sc->reason);
		if (used < sc->reason_len)
			snprintf(sc->reason + used, sc->reason_len - used, " at byte %zu",
					 at);
	}
	return false;
}

/* Skip JSON whitespace (space, tab, newline, carriage return). */
static void
skip_ws(scanner *sc)
{
	while (sc->pos < sc->len &&
		   (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t' ||
			sc->s[sc->pos] == '\n' || sc->s[sc->pos] == '\r'))
		sc->pos++;
}

/*
 * The length of the well-formed UTF-8 sequence at s (avail bytes there), or
 * 0 when it is not one (Unicode's table 3-7: no overlong forms, no
 * surrogates, nothing beyond U+10FFFF).
 */
static size_t
utf8_length(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	size_t		n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
	{
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return n;
}

/* The value of hex digit c, or -1. */
static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the 4 hex digits at s[at] (avail bytes from there); -1 if invalid. */
static long
hex4(const unsigned char *s, size_t avail)
{
	long		v = 0;

	if (avail < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		int			d = hex_value(s[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Whether c stands for itself in a string: printable ASCII but " and \\. */
static inline bool
plain_string_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Scan a string starting at its opening quote; sc->pos ends after it. */
static bool
scan_string(scanner *sc)
{
	size_t		start = sc->pos;

	sc->pos++;					/* the opening quote */
	for (;;)
	{
		unsigned char c;

		/* the common bytes first, in a tight loop */
		while (sc->pos < sc->len && plain_string_byte(sc->s[sc->pos]))
			sc->pos++;
		if (sc->pos >= sc->len)
			return scan_fail(sc, start, "unterminated string starting");
		c = sc->s[sc->pos];
		if (c == '"')
		{
			sc->pos++;
			return true;
		}
		if (c < 0x20)
			return scan_fail(sc, sc->pos,
							 "control character 0x%02x in a string", c);
		if (c == '\\')
		{
			size_t		esc = sc->pos;

			if (sc->pos + 1 >= sc->len)
				return scan_fail(sc, start, "unterminated string starting");
			c = sc->s[sc->pos + 1];
			if (c == 'u')
			{
				long		u = hex4(sc->s + sc->pos + 2, sc->len - sc->pos - 2);

				if (u < 0)
					return scan_fail(sc, esc, "invalid \\u escape in a string");
				sc->pos += 6;
				if (u >= 0xDC00 && u <= 0xDFFF)
					return scan_fail(sc, esc,
									 "unpaired low surrogate \\u%04lx in a string",
									 u);
				if (u >= 0xD800 && u <= 0xDBFF)
				{
					long		low = -1;

					if (sc->pos + 1 < sc->len && sc->s[sc->pos] == '\\' &&
						sc->s[sc->pos + 1] == 'u')
						low = hex4(sc->s + sc->pos + 2,
								   sc->len - sc->pos - 2);
					if (low < 0xDC00 || low > 0xDFFF)
						return scan_fail(sc, esc,
										 "unpaired high surrogate \\u%04lx in a string",
										 u);
					sc->pos += 6;
				}
				continue;
			}
			if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
				c != 'n' && c != 'r' && c != 't')
			{
				if (c >= 0x20 && c < 0x7F)
					return scan_fail(sc, esc, "invalid escape \"\\%c\" in a string",
									 c);
				return scan_fail(sc, esc, "invalid escape in a string");
			}
			sc->pos += 2;
			continue;
		}
		if (c >= 0x80)
		{
			size_t		n = utf8_length(sc->s + sc->pos, sc->len - sc->pos);

			if (n == 0)
				return scan_fail(sc, sc->pos, "invalid UTF-8 in a string");
			sc->pos += n;
			continue;
		}
		sc->pos++;
	}
}

/* True when c is an ASCII digit. */
static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Scan a number per RFC 8259's grammar:
 *   -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
 */
static bool
scan_number(scanner *sc)
{
	size_t		start = sc->pos;

	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
		return scan_fail(sc, start, "invalid number: a digit must follow \"-\"");
	if (sc->s[sc->pos] == '0')
	{
		sc->pos++;
		if (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			return scan_fail(sc, start, "invalid number: leading zero");
	}
	else
	{
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->len && sc->s[sc->pos] == '.')
	{
		sc->pos++;
		if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
			return scan_fail(sc, start,
							 "invalid number: a digit must follow \".\"");
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E'))
	{
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (sc->pos >= sc->len || !is_digit(sc->s[sc->pos]))
			return scan_fail(sc, start,
							 "invalid number: a digit must follow the exponent mark");
		while (sc->pos < sc->len && is_digit(sc->s[sc->pos]))
			sc->pos++;
	}
	return true;
}

/* Scan the literal word (true, false, null) expected at sc->pos. */
static bool
scan_literal(scanner *sc, const char *word)
{
	size_t		n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return scan_fail(sc, sc->pos, "invalid literal (expected \"%s\")", word);
	sc->pos += n;
	return true;
}

/* Scan an array whose '[' is at sc->pos; depth is its own nesting level. */
static bool
scan_array(scanner *sc, int depth)
{
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == ']')
	{
		sc->pos++;
		return true;
	}
	for (;;)
	{
		if (!scan_value(sc, depth + 1, NULL))
			return false;
		skip_ws(sc);
		if (sc->pos >= sc->len)
			return scan_fail(sc, sc->pos,
							 "unexpected end of the text in an array");
		if (sc->s[sc->pos] == ']')
		{
			sc->pos++;
			return true;
		}
		if (sc->s[sc->pos] != ',')
			return scan_fail(sc, sc->pos, "expected \",\" or \"]\" in an array");
		sc->pos++;
		skip_ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == ']')
			return scan_fail(sc, sc->pos, "trailing comma in an array");
	}
}

/* Scan an object whose '{' is at sc->pos; depth is its own nesting level. */
static bool
scan_object(scanner *sc, int depth)
{
	sc->pos++;
	skip_ws(sc);
	if (sc->pos < sc->len && sc->s[sc->pos] == '}')
	{
		sc->pos++;
		return true;
	}
	for (;;)
	{
		if (sc->pos >= sc->len)
			return scan_fail(sc, sc->pos,
							 "unexpected end of the text in an object");
		if (sc->s[sc->pos] != '"')
			return scan_fail(sc, sc->pos,
							 "expected a string as a member name in an object");
		if (!scan_string(sc))
			return false;
		skip_ws(sc);
		if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
			return scan_fail(sc, sc->pos,
							 "expected \":\" after a member name in an object");
		sc->pos++;
		if (!scan_value(sc, depth + 1, NULL))
			return false;
		skip_ws(sc);
		if (sc->pos >= sc->len)
			return scan_fail(sc, sc->pos,
							 "unexpected end of the text in an object");
		if (sc->s[sc->pos] == '}')
		{
			sc->pos++;
			return true;
		}
		if (sc->s[sc->pos] != ',')
			return scan_fail(sc, sc->pos, "expected \",\" or \"}\" in an object");
		sc->pos++;
		skip_ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == '}')
			return scan_fail(sc, sc->pos, "trailing comma in an object");
	}
}

/*
 * Scan one value after optional whitespace, at nesting level depth (an
 * array or object there counts as that level). Fills *value if not NULL.
 */
static bool
scan_value(scanner *sc, int depth, tp_json_span *value)
{
	size_t		start;
	tp_json_type type;
	bool		ok;
	unsigned char c;

	skip_ws(sc);
	start = sc->pos;
	if (sc->pos >= sc->len)
		return scan_fail(sc, sc->pos,
						 "unexpected end of the text where a value was expected");
	c = sc->s[sc->pos];
	switch (c)
	{
		case '{':
		case '[':
			if (depth > TP_JSON_MAX_DEPTH)
				return scan_fail(sc, sc->pos,
								 "arrays and objects nested deeper than %d levels",
								 TP_JSON_MAX_DEPTH);
			type = c == '{' ? TP_JSON_OBJECT : TP_JSON_ARRAY;
			ok = c == '{' ? scan_object(sc, depth) : scan_array(sc, depth);
			break;
		case '"':
			type = TP_JSON_STRING;
			ok = scan_string(sc);
			break;
		case 't':
			type = TP_JSON_TRUE;
			ok = scan_literal(sc, "true");
			break;
		case 'f':
			type = TP_JSON_FALSE;
			ok = scan_literal(sc, "false");
			break;
		case 'n':
			type = TP_JSON_NULL;
			ok = scan_literal(sc, "null");
			break;
		default:
			if (c != '-' && !is_digit(c))
			{
				if (c >= 0x20 && c < 0x7F)
					return scan_fail(sc, sc->pos,
									 "unexpected character \"%c\" where a value was expected",
									 c);
				return scan_fail(sc, sc->pos,
								 "unexpected byte 0x%02x where a value was expected",
								 c);
			}
			type = TP_JSON_NUMBER;
			ok = scan_number(sc);
			break;
	}
	if (ok && value != NULL)
	{
		value->type = type;
		value->start = start;
		value->len = sc->pos - start;
	}
	return ok;
}

/* Check one JSON text; see json_span.h. */
bool
tp_json_check(const char *text, size_t len, tp_json_span *value,
			  char *reason, size_t reason_len)
{
	scanner		sc;
	tp_json_span v;

	sc.s = (const unsigned char *) text;
	sc.len = text == NULL ? 0 : len;
	sc.pos = 0;
	sc.reason = reason;
	sc.reason_len = reason_len;
	if (!scan_value(&sc, 1, &v))
		return false;
	skip_ws(&sc);
	if (sc.pos < sc.len)
		return scan_fail(&sc, sc.pos, "unexpected data after the JSON value");
	if (value != NULL)
		*value = v;
	return true;
}

/*
 * Decode the string token at s[0, len) (quotes included, already checked)
 * into out, which has room for len bytes; returns the decoded length.
 */
static size_t
decode_string(const unsigned char *s, size_t len, char *out)
{
	size_t		i = 1;
	size_t		n = 0;

	while (i + 1 < len)
	{
		unsigned char c = s[i];
		unsigned long cp;

		if (c != '\\')
		{
			out[n++] = (char) c;
			i++;
			continue;
		}
		c = s[i + 1];
		i += 2;
		switch (c)
		{
			case 'b':
				out[n++] = '\b';
				continue;
			case 'f':
				out[n++] = '\f';
				continue;
			case 'n':
				out[n++] = '\n';
				continue;
			case 'r':
				out[n++] = '\r';
				continue;
			case 't':
				out[n++] = '\t';
				continue;
			case 'u':
				break;
			default:			/* '"', '\\', '/' */
				out[n++] = (char) c;
				continue;
		}
		cp = (unsigned long) hex4(s + i, len - i);
		i += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			unsigned long low = (unsigned long) hex4(s + i + 2, len - i - 2);

			cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			i += 6;
		}
		if (cp < 0x80)
			out[n++] = (char) cp;
		else if (cp < 0x800)
		{
			out[n++] = (char) (0xC0 | (cp >> 6));
			out[n++] = (char) (0x80 | (cp & 0x3F));
		}
		else if (cp < 0x10000)
		{
			out[n++] = (char) (0xE0 | (cp >> 12));
			out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char) (0x80 | (cp & 0x3F));
		}
		else
		{
			out[n++] = (char) (0xF0 | (cp >> 18));
			out[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
			out[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char) (0x80 | (cp & 0x3F));
		}
	}
	return n;
}

/* Decode a string span into a new string; see json_span.h. */
char *
tp_json_string(const char *text, tp_json_span string, size_t *len)
{
	char	   *out;
	size_t		n;

	if (string.type != TP_JSON_STRING || string.len < 2)
		return NULL;
	/* a decoded string is never longer than its token */
	out = tp_xmalloc(string.len + 1);
	n = tp_json_string_decode(text, string, out);
	if (len != NULL)
		*len = n;
	return out;
}

/* Decode a string span into out; see json_span.h. */
size_t
tp_json_string_decode(const char *text, tp_json_span string, char *out)
{
	size_t		n = decode_string((const unsigned char *) text + string.start,
								  string.len, out);

	out[n] = '\0';
	return n;
}

/* Compare a decoded string span with s; see json_span.h. */
bool
tp_json_string_eq(const char *text, tp_json_span string, const char *s)
{
	size_t		n;
	char	   *decoded;
	bool		eq;

	if (string.type != TP_JSON_STRING || string.len < 2)
		return false;
	/* without escapes the token between its quotes is the string */
	if (memchr(text + string.start + 1, '\\', string.len - 2) == NULL)
		return string.len - 2 == strlen(s) &&
			memcmp(text + string.start + 1, s, string.len - 2) == 0;
	decoded = tp_json_string(text, string, &n);
	if (decoded == NULL)
		return false;
	eq = n == strlen(s) && memcmp(decoded, s, n) == 0;
	free(decoded);
	return eq;
}

/*
 * One past the closing quote of the string whose opening quote is at pos
 * of a checked text s (len bytes); len when there is none (a misuse). A
 * quote closes the string unless an odd run of backslashes precedes it;
 * the opening quote ends any run.
 */
static size_t
checked_string_end(const unsigned char *s, size_t len, size_t pos)
{
	pos++;
	while (pos < len)
	{
		const unsigned char *q = memchr(s + pos, '"', len - pos);
		size_t		at;
		size_t		backslashes = 0;

		if (q == NULL)
			break;
		at = (size_t) (q - s);
		while (s[at - backslashes - 1] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			return at + 1;
		pos = at + 1;
	}
	return len;
}

/*
 * Skip the value at sc->pos (after whitespace) of a checked text without
 * checking it again: strings by memchr, arrays and objects by their
 * brackets, numbers and literals up to a delimiter. Fills *value. False
 * when the text ends first (a misuse: the text was not checked).
 */
static bool
skip_checked_value(scanner *sc, tp_json_span *value)
{
	const unsigned char *s = sc->s;
	size_t		start;
	unsigned char first;

	skip_ws(sc);
	if (sc->pos >= sc->len)
		return false;
	start = sc->pos;
	first = s[start];
	if (first == '"')
	{
		value->type = TP_JSON_STRING;
		sc->pos = checked_string_end(s, sc->len, start);
		if (s[sc->pos - 1] != '"')
			return false;
	}
	else if (first == '{' || first == '[')
	{
		int			depth = 0;

		value->type = first == '{' ? TP_JSON_OBJECT : TP_JSON_ARRAY;
		while (sc->pos < sc->len)
		{
			unsigned char c = s[sc->pos];

			if (c == '"')
			{
				sc->pos = checked_string_end(s, sc->len, sc->pos);
				continue;
			}
			sc->pos++;
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				break;
		}
		if (depth != 0)
			return false;
	}
	else
	{
		value->type = first == 't' ? TP_JSON_TRUE : first == 'f' ? TP_JSON_FALSE :
			first == 'n' ? TP_JSON_NULL : TP_JSON_NUMBER;
		while (sc->pos < sc->len && s[sc->pos] != ',' && s[sc->pos] != '}' &&
			   s[sc->pos] != ']' && s[sc->pos] != ' ' && s[sc->pos] != '\t' &&
			   s[sc->pos] != '\n' && s[sc->pos] != '\r')
			sc->pos++;
	}
	value->start = start;
	value->len = sc->pos - start;
	return true;
}

/* Start iterating an object's members; see json_span.h. */
void
tp_json_members_init(tp_json_members *it, const char *text,
					 tp_json_span object)
{
	memset(it, 0, sizeof(*it));
	it->text = text;
	if (object.type == TP_JSON_OBJECT && object.len >= 2)
	{
		it->pos = object.start + 1;
		it->end = object.start + object.len;
	}
}

/* The next member; see json_span.h. The key buffer grows as needed. */
bool
tp_json_members_next(tp_json_members *it, tp_json_span *value)
{
	scanner		sc;
	size_t		key_start;

	if (it->text == NULL || it->pos >= it->end)
		return false;
	sc.s = (const unsigned char *) it->text;
	sc.len = it->end;
	sc.pos = it->pos;
	sc.reason = NULL;
	sc.reason_len = 0;
	skip_ws(&sc);
	if (sc.pos < sc.len && sc.s[sc.pos] == ',')
	{
		sc.pos++;
		skip_ws(&sc);
	}
	if (sc.pos >= sc.len || sc.s[sc.pos] != '"')
	{
		it->pos = it->end;		/* the closing '}' (or a misuse): the end */
		return false;
	}
	key_start = sc.pos;
	sc.pos = checked_string_end(sc.s, sc.len, key_start);
	if (sc.s[sc.pos - 1] != '"' || sc.pos - key_start < 2)
	{
		it->pos = it->end;
		return false;
	}
	it->key_span.type = TP_JSON_STRING;
	it->key_span.start = key_start;
	it->key_span.len = sc.pos - key_start;
	if (it->key_size < it->key_span.len + 1)
	{
		it->key_size = it->key_span.len + 1;
		it->key = tp_xrealloc(it->key, it->key_size);
	}
	it->key_len = decode_string(sc.s + key_start, it->key_span.len, it->key);
	it->key[it->key_len] = '\0';
	skip_ws(&sc);
	if (sc.pos >= sc.len || sc.s[sc.pos] != ':')
	{
		it->pos = it->end;
		return false;
	}
	sc.pos++;
	/* a value of the (already checked) object */
	if (!skip_checked_value(&sc, value))
	{
		it->pos = it->end;
		return false;
	}
	it->pos = sc.pos;
	return true;
}

/* Free the iterator's key buffer; see json_span.h. */
void
tp_json_members_done(tp_json_members *it)
{
	free(it->key);
	it->key = NULL;
	it->key_size = 0;
	it->key_len = 0;
}

/*
 * A decoded key and where it stands, for tp_json_find_unique: a key
 * without escapes is its own bytes in the text (not owned), another a
 * decoded copy (owned).
 */
typedef struct key_entry
{
	const char *key;
	size_t		len;
	size_t		at;
	bool		owned;
} key_entry;

/* Keys compared pairwise, without allocating, up to this many. */
#define FEW_KEYS 32

/* qsort order of key entries: by length, then bytes, then position. */
static int
key_entry_cmp(const void *a, const void *b)
{
	const key_entry *x = a;
	const key_entry *y = b;
	int			c;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	c = memcmp(x->key, y->key, x->len);
	if (c != 0)
		return c;
	return x->at < y->at ? -1 : (x->at > y->at ? 1 : 0);
}

/* Whether two key entries are the same decoded key. */
static bool
same_key(const key_entry *x, const key_entry *y)
{
	return x->len == y->len && memcmp(x->key, y->key, x->len) == 0;
}

/*
 * The later of two equal keys of keys[0, n), or NULL when all differ:
 * pairwise when they are few, else after sorting keys (reordering them).
 */
static const key_entry *
duplicate_of(key_entry *keys, size_t n)
{
	if (n <= FEW_KEYS)
	{
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (same_key(&keys[i], &keys[j]))
					return &keys[i];
		return NULL;
	}
	qsort(keys, n, sizeof(key_entry), key_entry_cmp);
	for (size_t i = 1; i < n; i++)
		if (same_key(&keys[i], &keys[i - 1]))
			return &keys[i];
	return NULL;
}

/* Find named members and check that keys are unique; see json_span.h. */
bool
tp_json_find_unique(const char *text, tp_json_span object,
					const char *const *names, tp_json_span *spans, size_t n,
					char *reason, size_t reason_len)
{
	tp_json_members it;
	tp_json_span value;
	key_entry	few[FEW_KEYS];
	key_entry  *keys = few;
	size_t		count = 0,
				size = FEW_KEYS;
	const key_entry *dup;

	if (n > 0)
		memset(spans, 0, n * sizeof(tp_json_span));
	tp_json_members_init(&it, text, object);
	while (tp_json_members_next(&it, &value))
	{
		key_entry  *k;

		if (count == size)
		{
			size *= 2;
			if (keys == few)
			{
				keys = tp_xmalloc(size * sizeof(key_entry));
				memcpy(keys, few, sizeof(few));
			}
			else
				keys = tp_xrealloc(keys, size * sizeof(key_entry));
		}
		k = &keys[count++];
		k->len = it.key_len;
		k->at = it.key_span.start;
		/* the token without its quotes is the key unless it has escapes */
		k->owned = memchr(text + it.key_span.start + 1, '\\', it.key_span.len - 2) != NULL;
		if (k->owned)
		{
			char	   *copy = tp_xmalloc(it.key_len + 1);

			memcpy(copy, it.key, it.key_len + 1);
			k->key = copy;
		}
		else
			k->key = text + it.key_span.start + 1;
		for (size_t i = 0; i < n; i++)
		{
			if (it.key_len == strlen(names[i]) &&
				memcmp(it.key, names[i], it.key_len) == 0)
			{
				spans[i] = value;
				break;
			}
		}
	}
	tp_json_members_done(&it);
	dup = duplicate_of(keys, count);
	if (dup != NULL && reason != NULL && reason_len > 0)
		snprintf(reason, reason_len, "duplicate member name \"%.*s\" at byte %zu",
				 (int) (dup->len < 64 ? dup->len : 64), dup->key, dup->at);
	for (size_t i = 0; i < count; i++)
	{
		if (keys[i].owned)
			free((char *) keys[i].key);
	}
	if (keys != few)
		free(keys);
	return dup == NULL;
}

/* Check an object's keys for duplicates; see json_span.h. */
bool
tp_json_unique_keys(const char *text, tp_json_span object,
					char *reason, size_t reason_len)
{
	return tp_json_find_unique(text, object, NULL, NULL, 0, reason, reason_len);
}

/* Read a number span strictly as an int64; see json_span.h. */
tp_json_int_result
tp_json_int64(const char *text, tp_json_span number, int64_t *value)
{
	const char *s = text + number.start;
	size_t		i = 0;
	bool		negative = false;
	uint64_t	limit;
	uint64_t	v = 0;

	if (number.type != TP_JSON_NUMBER || number.len == 0)
		return TP_JSON_INT_NOT_INTEGER;
	if (s[0] == '-')
	{
		negative = true;
		i = 1;
	}
	if (i >= number.len)
		return TP_JSON_INT_NOT_INTEGER;
	for (size_t j = i; j < number.len; j++)
	{
		if (!is_digit((unsigned char) s[j]))
			return TP_JSON_INT_NOT_INTEGER;
	}
	limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; i < number.len; i++)
	{
		unsigned	d = (unsigned) (s[i] - '0');

		if (v > (limit - d) / 10)
			return TP_JSON_INT_RANGE;
		v = v * 10 + d;
	}
	if (negative)
		*value = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v;
	else
		*value = (int64_t) v;
	return TP_JSON_INT_OK;
}

/* Copy a span's bytes; see json_span.h. */
char *
tp_json_span_dup(const char *text, tp_json_span span)
{
	char	   *out = tp_xmalloc(span.len + 1);

	if (span.len > 0)
		memcpy(out, text + span.start, span.len);
	out[span.len] = '\0';
	return out;
}
