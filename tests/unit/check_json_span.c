/*
 * check_json_span.c
 *     Unit tests of core/json_span.c: the strict JSON scanner, its member
 *     iteration, string decoding and strict int64 reading.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "json_span.h"

/* Texts that RFC 8259 accepts, each with the type of its value. */
typedef struct good_text
{
	const char *text;
	tp_json_type type;
} good_text;

static const good_text good_texts[] = {
	{"{}", TP_JSON_OBJECT},
	{" \t\r\n{ } \n", TP_JSON_OBJECT},
	{"[]", TP_JSON_ARRAY},
	{"[1, [2, {\"a\": []}], \"x\"]", TP_JSON_ARRAY},
	{"null", TP_JSON_NULL},
	{"true", TP_JSON_TRUE},
	{"false", TP_JSON_FALSE},
	{"0", TP_JSON_NUMBER},
	{"-0", TP_JSON_NUMBER},
	{"-0.0e-0", TP_JSON_NUMBER},
	{"1e400", TP_JSON_NUMBER},
	{"1E+2", TP_JSON_NUMBER},
	{"0.1", TP_JSON_NUMBER},
	{"123456789012345678901234567890123456789012345", TP_JSON_NUMBER},
	{"\"\"", TP_JSON_STRING},
	{"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9\"", TP_JSON_STRING},
	{"\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf\"",
	TP_JSON_STRING},
	{"\"\\u0000\"", TP_JSON_STRING},
	{"\"\x7f\"", TP_JSON_STRING},
	{"{\"a\":1,\"a\":2}", TP_JSON_OBJECT},	/* duplicates are for the caller */
};

START_TEST(test_check_accepts)
{
	const good_text *g = &good_texts[_i];
	tp_json_span v;
	char		reason[256] = "";
	size_t		len = strlen(g->text);
	size_t		lead = strspn(g->text, " \t\r\n");

	memset(&v, 0, sizeof(v));
	ck_assert_msg(tp_json_check(g->text, len, &v, reason, sizeof(reason)),
				  "refused %s: %s", g->text, reason);
	ck_assert_int_eq(v.type, g->type);
	/* the span is the value without the whitespace around it */
	ck_assert_uint_eq(v.start, lead);
	ck_assert_int_ne(g->text[v.start + v.len - 1], ' ');
	ck_assert_int_ne(g->text[v.start + v.len - 1], '\n');
	ck_assert_str_eq(reason, "");
}
END_TEST

/* A text that must be refused, and a piece of the reason (with its byte). */
typedef struct bad_text
{
	const char *text;
	size_t		len;			/* 0: strlen(text) */
	const char *reason;
} bad_text;

static const bad_text bad_texts[] = {
	{"", 0, "unexpected end of the text where a value was expected at byte 0"},
	{"   ", 0, "where a value was expected at byte 3"},
	{"{", 0, "unexpected end of the text in an object at byte 1"},
	{"[1,2", 0, "unexpected end of the text in an array at byte 4"},
	{"[1,]", 0, "trailing comma in an array at byte 3"},
	{"{\"a\":1,}", 0, "trailing comma in an object at byte 7"},
	{"{\"a\" 1}", 0, "expected \":\" after a member name in an object at byte 5"},
	{"{a:1}", 0, "expected a string as a member name in an object at byte 1"},
	{"{\"a\":1 \"b\":2}", 0, "expected \",\" or \"}\" in an object at byte 7"},
	{"[1 2]", 0, "expected \",\" or \"]\" in an array at byte 3"},
	{"{\"a\":}", 0, "unexpected character \"}\" where a value was expected at byte 5"},
	{"\"abc", 0, "unterminated string starting at byte 0"},
	{"[\"ab\\", 0, "unterminated string starting at byte 1"},
	{"\"a\\x\"", 0, "invalid escape \"\\x\" in a string at byte 2"},
	{"\"a\\'\"", 0, "invalid escape \"\\'\" in a string at byte 2"},
	{"\"\\u12G4\"", 0, "invalid \\u escape in a string at byte 1"},
	{"\"\\u12\"", 0, "invalid \\u escape in a string at byte 1"},
	{"\"x\\ud800\"", 0, "unpaired high surrogate \\ud800 in a string at byte 2"},
	{"\"\\ud800\\u0041\"", 0, "unpaired high surrogate \\ud800 in a string at byte 1"},
	{"\"\\ud800\\n\"", 0, "unpaired high surrogate"},
	{"\"\\udc00\"", 0, "unpaired low surrogate \\udc00 in a string at byte 1"},
	{"\"\\ude00\\ud83d\"", 0, "unpaired low surrogate"},
	{"\"a\tb\"", 0, "control character 0x09 in a string at byte 2"},
	{"\"a\nb\"", 0, "control character 0x0a in a string at byte 2"},
	{"\"\xff\"", 0, "invalid UTF-8 in a string at byte 1"},
	{"\"\xc0\xaf\"", 0, "invalid UTF-8"},	/* overlong '/' */
	{"\"\xe0\x80\xaf\"", 0, "invalid UTF-8"},	/* overlong */
	{"\"\xed\xa0\x80\"", 0, "invalid UTF-8"},	/* an encoded surrogate */
	{"\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8"},	/* beyond U+10FFFF */
	{"\"\xc3\"", 0, "invalid UTF-8 in a string at byte 1"},	/* truncated */
	{"\"\xe2\x82\"", 0, "invalid UTF-8"},
	{"\"\x80\"", 0, "invalid UTF-8"},
	{"012", 0, "invalid number: leading zero at byte 0"},
	{"[-01]", 0, "invalid number: leading zero at byte 1"},
	{"-", 0, "a digit must follow \"-\" at byte 0"},
	{"-a", 0, "a digit must follow \"-\""},
	{"1.", 0, "a digit must follow \".\" at byte 0"},
	{".5", 0, "unexpected character \".\" where a value was expected at byte 0"},
	{"1e", 0, "a digit must follow the exponent mark at byte 0"},
	{"1e+", 0, "a digit must follow the exponent mark"},
	{"+1", 0, "unexpected character \"+\""},
	{"NaN", 0, "unexpected character \"N\""},
	{"Infinity", 0, "unexpected character \"I\""},
	{"0x10", 0, "unexpected data after the JSON value at byte 1"},
	{"tru", 0, "invalid literal (expected \"true\") at byte 0"},
	{"nul", 0, "invalid literal (expected \"null\")"},
	{"falsey", 0, "unexpected data after the JSON value at byte 5"},
	{"True", 0, "unexpected character \"T\""},
	{"{} {}", 0, "unexpected data after the JSON value at byte 3"},
	{"{}x", 0, "unexpected data after the JSON value at byte 2"},
	{"'a'", 0, "unexpected character \"'\""},
	{"{\"a\":1}//", 0, "unexpected data after the JSON value at byte 7"},
	{"\xef\xbb\xbf{}", 0, "unexpected byte 0xef"},	/* no BOM */
	{"\"a\0b\"", 5, "control character 0x00 in a string at byte 2"},
	{"{}\0", 3, "unexpected data after the JSON value at byte 2"},
	{"[\f1]", 0, "unexpected byte 0x0c"},
};

START_TEST(test_check_refuses)
{
	const bad_text *b = &bad_texts[_i];
	size_t		len = b->len ? b->len : strlen(b->text);
	tp_json_span v = {TP_JSON_NULL, 99, 99};
	char		reason[256] = "";

	ck_assert_msg(!tp_json_check(b->text, len, &v, reason, sizeof(reason)),
				  "accepted: %s", b->text);
	ck_assert_msg(strstr(reason, b->reason) != NULL,
				  "reason \"%s\" lacks \"%s\"", reason, b->reason);
	/* one sentence, PostgreSQL style, and the value is left alone */
	ck_assert(reason[0] >= 'a' && reason[0] <= 'z');
	ck_assert_int_ne(reason[strlen(reason) - 1], '.');
	ck_assert_ptr_nonnull(strstr(reason, " at byte "));
	ck_assert_uint_eq(v.start, 99);
}
END_TEST

/* n nested arrays around 1: "[[...[1]...]]", malloc'd. */
static char *
nested(int n, char open, char close)
{
	char	   *s = malloc((size_t) n * 2 + 2);
	int			i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		s[i] = open;
	s[n] = '1';
	for (i = 0; i < n; i++)
		s[n + 1 + i] = close;
	s[2 * n + 1] = '\0';
	return s;
}

START_TEST(test_check_depth)
{
	char	   *ok = nested(TP_JSON_MAX_DEPTH, '[', ']');
	char	   *deep = nested(TP_JSON_MAX_DEPTH + 1, '[', ']');
	char	   *huge = nested(100000, '[', ']');
	char		reason[256] = "";
	char		expected[128];

	ck_assert(tp_json_check(ok, strlen(ok), NULL, reason, sizeof(reason)));
	ck_assert(!tp_json_check(deep, strlen(deep), NULL, reason, sizeof(reason)));
	snprintf(expected, sizeof(expected),
			 "arrays and objects nested deeper than %d levels at byte %d",
			 TP_JSON_MAX_DEPTH, TP_JSON_MAX_DEPTH);
	ck_assert_str_eq(reason, expected);
	/* far deeper input fails the same way, without exhausting the stack */
	ck_assert(!tp_json_check(huge, strlen(huge), NULL, reason, sizeof(reason)));
	ck_assert_ptr_nonnull(strstr(reason, "nested deeper"));
	free(ok);
	free(deep);
	free(huge);

	/* objects count as levels too */
	{
		char		obj[64 * 6 + 64];
		size_t		n = 0;

		for (int i = 0; i < TP_JSON_MAX_DEPTH + 1; i++)
			n += (size_t) sprintf(obj + n, "{\"a\":");
		obj[n++] = '1';
		for (int i = 0; i < TP_JSON_MAX_DEPTH + 1; i++)
			obj[n++] = '}';
		obj[n] = '\0';
		ck_assert(!tp_json_check(obj, n, NULL, reason, sizeof(reason)));
		ck_assert_ptr_nonnull(strstr(reason, "nested deeper"));
	}
}
END_TEST

START_TEST(test_check_reason_buffer)
{
	char		reason[6];

	memset(reason, 'z', sizeof(reason));
	ck_assert(!tp_json_check("[", 1, NULL, reason, sizeof(reason)));
	ck_assert_uint_eq(strlen(reason), sizeof(reason) - 1);
	ck_assert(!tp_json_check("[", 1, NULL, NULL, 0));
	ck_assert(!tp_json_check(NULL, 0, NULL, NULL, 0));
}
END_TEST

START_TEST(test_members)
{
	static const char text[] =
		" { \"a\" : 1 , \"b\\u00e9\\\"\":[1,{\"x\":2}],\"\":null,"
		"\"n\":-0.10e+5,\"s\":\"t\\u00e9\\n\",\"o\":{\"k\":{}} } ";
	tp_json_span top;
	tp_json_span v;
	tp_json_members it;
	char		reason[256];
	char	   *s;
	size_t		len;

	ck_assert(tp_json_check(text, strlen(text), &top, reason, sizeof(reason)));
	ck_assert_int_eq(top.type, TP_JSON_OBJECT);
	tp_json_members_init(&it, text, top);

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "a");
	ck_assert_uint_eq(it.key_len, 1);
	ck_assert_int_eq(v.type, TP_JSON_NUMBER);
	ck_assert_int_eq(strncmp(text + v.start, "1", v.len), 0);
	ck_assert_uint_eq(v.len, 1);

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "b\u00e9\"");
	ck_assert_int_eq(it.key_span.type, TP_JSON_STRING);
	ck_assert_int_eq(text[it.key_span.start], '"');
	ck_assert_int_eq(v.type, TP_JSON_ARRAY);
	ck_assert_int_eq(strncmp(text + v.start, "[1,{\"x\":2}]", v.len), 0);
	ck_assert_uint_eq(v.len, strlen("[1,{\"x\":2}]"));

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "");
	ck_assert_uint_eq(it.key_len, 0);
	ck_assert_int_eq(v.type, TP_JSON_NULL);
	ck_assert_uint_eq(v.len, 4);

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "n");
	ck_assert_int_eq(v.type, TP_JSON_NUMBER);
	s = tp_json_span_dup(text, v);
	ck_assert_str_eq(s, "-0.10e+5");
	free(s);

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "s");
	ck_assert_int_eq(v.type, TP_JSON_STRING);
	s = tp_json_string(text, v, &len);
	ck_assert_str_eq(s, "t\u00e9\n");
	ck_assert_uint_eq(len, strlen("t\u00e9\n"));
	free(s);
	ck_assert(tp_json_string_eq(text, v, "t\u00e9\n"));
	ck_assert(!tp_json_string_eq(text, v, "t\u00e9"));
	s = tp_json_span_dup(text, v);
	ck_assert_str_eq(s, "\"t\\u00e9\\n\"");
	free(s);

	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_str_eq(it.key, "o");
	ck_assert_int_eq(v.type, TP_JSON_OBJECT);
	{
		tp_json_members inner;
		tp_json_span iv;

		tp_json_members_init(&inner, text, v);
		ck_assert(tp_json_members_next(&inner, &iv));
		ck_assert_str_eq(inner.key, "k");
		ck_assert_int_eq(iv.type, TP_JSON_OBJECT);
		ck_assert_uint_eq(iv.len, 2);
		ck_assert(!tp_json_members_next(&inner, &iv));
		tp_json_members_done(&inner);
	}

	ck_assert(!tp_json_members_next(&it, &v));
	ck_assert(!tp_json_members_next(&it, &v));
	tp_json_members_done(&it);
	tp_json_members_done(&it);
	ck_assert_ptr_null(it.key);
}
END_TEST

/* Values skipped by their brackets and quotes: escapes and brackets in strings. */
START_TEST(test_members_skip_strings)
{
	/* "a\\" ends in an escaped backslash; "b\"}]" holds a quote and brackets */
	static const char text[] =
		"{\"k\\\\\":\"a\\\\\",\"x\":[\"b\\\"}]\",{\"y\":\"]}\\\\\"}],"
		"\"t\":true,\"f\":false,\"e\":1e3\t}";
	static const char *const keys[] = {"k\\", "x", "t", "f", "e"};
	static const char *const values[] = {
		"\"a\\\\\"", "[\"b\\\"}]\",{\"y\":\"]}\\\\\"}]", "true", "false", "1e3"
	};
	static const tp_json_type types[] = {
		TP_JSON_STRING, TP_JSON_ARRAY, TP_JSON_TRUE, TP_JSON_FALSE, TP_JSON_NUMBER
	};
	tp_json_span top;
	tp_json_span v;
	tp_json_members it;
	char		reason[256];

	ck_assert_msg(tp_json_check(text, strlen(text), &top, reason, sizeof(reason)),
				  "%s", reason);
	tp_json_members_init(&it, text, top);
	for (int i = 0; i < 5; i++)
	{
		ck_assert(tp_json_members_next(&it, &v));
		ck_assert_str_eq(it.key, keys[i]);
		ck_assert_int_eq(v.type, types[i]);
		ck_assert_uint_eq(v.len, strlen(values[i]));
		ck_assert_int_eq(strncmp(text + v.start, values[i], v.len), 0);
	}
	ck_assert(!tp_json_members_next(&it, &v));
	tp_json_members_done(&it);
}
END_TEST

START_TEST(test_members_empty_and_not_object)
{
	tp_json_span top;
	tp_json_span v;
	tp_json_members it;

	ck_assert(tp_json_check(" { } ", 5, &top, NULL, 0));
	tp_json_members_init(&it, " { } ", top);
	ck_assert(!tp_json_members_next(&it, &v));
	tp_json_members_done(&it);

	/* an array is not iterated as an object */
	ck_assert(tp_json_check("[1]", 3, &top, NULL, 0));
	tp_json_members_init(&it, "[1]", top);
	ck_assert(!tp_json_members_next(&it, &v));
	tp_json_members_done(&it);
}
END_TEST

START_TEST(test_members_key_with_nul)
{
	static const char text[] = "{\"a\\u0000b\":true}";
	tp_json_span top;
	tp_json_span v;
	tp_json_members it;

	ck_assert(tp_json_check(text, strlen(text), &top, NULL, 0));
	tp_json_members_init(&it, text, top);
	ck_assert(tp_json_members_next(&it, &v));
	ck_assert_uint_eq(it.key_len, 3);
	ck_assert_int_eq(memcmp(it.key, "a\0b", 4), 0);
	ck_assert_int_eq(v.type, TP_JSON_TRUE);
	tp_json_members_done(&it);
}
END_TEST

START_TEST(test_unique_keys)
{
	static const char ok[] = "{\"a\":{\"x\":1,\"x\":2},\"b\":1,\"ab\":2,\"\":3}";
	static const char dup[] = "{\"id\":1,\"n\":2,\"i\\u0064\":3}";
	static const char dup_nul[] = "{\"a\\u0000\":1,\"a\":2,\"a\\u0000\":3}";
	tp_json_span top;
	char		reason[256] = "";

	/* nested objects' keys are not compared: only the object's own */
	ck_assert(tp_json_check(ok, strlen(ok), &top, NULL, 0));
	ck_assert(tp_json_unique_keys(ok, top, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "");

	/* an escaped spelling of the same key is the same key */
	ck_assert(tp_json_check(dup, strlen(dup), &top, NULL, 0));
	ck_assert(!tp_json_unique_keys(dup, top, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "duplicate member name \"id\" at byte 14");

	ck_assert(tp_json_check(dup_nul, strlen(dup_nul), &top, NULL, 0));
	ck_assert(!tp_json_unique_keys(dup_nul, top, reason, sizeof(reason)));
	ck_assert_ptr_nonnull(strstr(reason, "at byte 19"));

	ck_assert(tp_json_check("{}", 2, &top, NULL, 0));
	ck_assert(tp_json_unique_keys("{}", top, NULL, 0));
}
END_TEST

/* Write an object of n keys k0..k(n-1) into buf, key at replaced by dup. */
static void
many_keys(char *buf, size_t size, int n, int at, const char *dup)
{
	size_t		len = 0;

	len += (size_t) snprintf(buf + len, size - len, "{");
	for (int i = 0; i < n; i++)
	{
		if (i == at)
			len += (size_t) snprintf(buf + len, size - len, "%s\"%s\":%d",
									 i > 0 ? "," : "", dup, i);
		else
			len += (size_t) snprintf(buf + len, size - len, "%s\"k%d\":%d",
									 i > 0 ? "," : "", i, i);
	}
	snprintf(buf + len, size - len, "}");
}

START_TEST(test_find_unique)
{
	static const char obj[] = "{\"a\":1,\"b\\u0062\":\"x\",\"c\":{\"a\":3}}";
	static const char *const names[] = {"a", "bb", "z", "c"};
	tp_json_span top;
	tp_json_span spans[4];
	char		buf[2048];
	char		reason[256] = "";

	/* found by their decoded names, nested keys not seen, absent: type 0 */
	ck_assert(tp_json_check(obj, strlen(obj), &top, NULL, 0));
	ck_assert(tp_json_find_unique(obj, top, names, spans, 4, reason, sizeof(reason)));
	ck_assert_int_eq(spans[0].type, TP_JSON_NUMBER);
	ck_assert_int_eq(obj[spans[0].start], '1');
	ck_assert_int_eq(spans[1].type, TP_JSON_STRING);
	ck_assert(tp_json_string_eq(obj, spans[1], "x"));
	ck_assert_int_eq(spans[2].type, 0);
	ck_assert_int_eq(spans[3].type, TP_JSON_OBJECT);

	/* more keys than are compared pairwise: sorted, and still exact */
	many_keys(buf, sizeof(buf), 40, -1, NULL);
	ck_assert(tp_json_check(buf, strlen(buf), &top, NULL, 0));
	ck_assert(tp_json_unique_keys(buf, top, reason, sizeof(reason)));
	many_keys(buf, sizeof(buf), 40, 39, "k\\u00317");
	ck_assert(tp_json_check(buf, strlen(buf), &top, NULL, 0));
	ck_assert(!tp_json_unique_keys(buf, top, reason, sizeof(reason)));
	ck_assert_ptr_nonnull(strstr(reason, "duplicate member name \"k17\""));

	/* few keys, the duplicate spelled with an escape and without */
	many_keys(buf, sizeof(buf), 5, 4, "k\\u0032");
	ck_assert(tp_json_check(buf, strlen(buf), &top, NULL, 0));
	ck_assert(!tp_json_find_unique(buf, top, names, spans, 4, reason, sizeof(reason)));
	ck_assert_ptr_nonnull(strstr(reason, "duplicate member name \"k2\""));
}
END_TEST

START_TEST(test_strings)
{
	static const char text[] =
		"[\"\\ud83d\\ude00|\\u20ac|\\u00e9|\\u0041|\\/|\\b\\f\\r\\t\","
		"\"\xf0\x9f\x98\x80 raw\",\"\\u0000x\",\"\\uDBFF\\uDFFF\"]";
	tp_json_span top;
	tp_json_span v;
	char	   *s;
	size_t		len;
	size_t		pos;

	ck_assert(tp_json_check(text, strlen(text), &top, NULL, 0));
	/* the array's elements, by hand: the scanner checked the text */
	pos = 1;
	v.type = TP_JSON_STRING;
	v.start = pos;
	v.len = (size_t) (strchr(text + pos + 1, ',') - (text + pos));
	s = tp_json_string(text, v, &len);
	ck_assert_str_eq(s, "\xf0\x9f\x98\x80|\xe2\x82\xac|\xc3\xa9|A|/|\b\f\r\t");
	ck_assert_uint_eq(len, strlen(s));
	free(s);

	pos += v.len + 1;
	v.start = pos;
	v.len = strlen("\"\xf0\x9f\x98\x80 raw\"");
	s = tp_json_string(text, v, NULL);
	ck_assert_str_eq(s, "\xf0\x9f\x98\x80 raw");
	free(s);

	pos += v.len + 1;
	v.start = pos;
	v.len = strlen("\"\\u0000x\"");
	s = tp_json_string(text, v, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(s, "\0x", 3), 0);
	free(s);
	ck_assert(!tp_json_string_eq(text, v, ""));

	pos += v.len + 1;
	v.start = pos;
	v.len = strlen("\"\\uDBFF\\uDFFF\"");
	s = tp_json_string(text, v, &len);
	ck_assert_str_eq(s, "\xf4\x8f\xbf\xbf");	/* U+10FFFF */
	free(s);

	/* not a string span */
	v.type = TP_JSON_NUMBER;
	ck_assert_ptr_null(tp_json_string(text, v, &len));
	ck_assert(!tp_json_string_eq(text, v, ""));
}
END_TEST

/* A number text, what tp_json_int64 makes of it, and the value. */
typedef struct int_case
{
	const char *text;
	tp_json_int_result result;
	int64_t		value;
} int_case;

static const int_case int_cases[] = {
	{"0", TP_JSON_INT_OK, 0},
	{"-0", TP_JSON_INT_OK, 0},
	{"42", TP_JSON_INT_OK, 42},
	{"-7311", TP_JSON_INT_OK, -7311},
	{"9223372036854775807", TP_JSON_INT_OK, INT64_MAX},
	{"-9223372036854775808", TP_JSON_INT_OK, INT64_MIN},
	{"9223372036854775808", TP_JSON_INT_RANGE, 0},
	{"-9223372036854775809", TP_JSON_INT_RANGE, 0},
	{"18446744073709551616", TP_JSON_INT_RANGE, 0},
	{"123456789012345678901234567890123456789012345", TP_JSON_INT_RANGE, 0},
	{"1.0", TP_JSON_INT_NOT_INTEGER, 0},
	{"1e2", TP_JSON_INT_NOT_INTEGER, 0},
	{"-0.0", TP_JSON_INT_NOT_INTEGER, 0},
	{"1E400", TP_JSON_INT_NOT_INTEGER, 0},
	{"\"1\"", TP_JSON_INT_NOT_INTEGER, 0},
	{"null", TP_JSON_INT_NOT_INTEGER, 0},
	{"true", TP_JSON_INT_NOT_INTEGER, 0},
	{"[1]", TP_JSON_INT_NOT_INTEGER, 0},
};

START_TEST(test_int64)
{
	const int_case *c = &int_cases[_i];
	tp_json_span v;
	int64_t		value = 12345;

	ck_assert(tp_json_check(c->text, strlen(c->text), &v, NULL, 0));
	ck_assert_msg(tp_json_int64(c->text, v, &value) == c->result,
				  "%s: unexpected result", c->text);
	if (c->result == TP_JSON_INT_OK)
		ck_assert_int_eq(value, c->value);
	else
		ck_assert_int_eq(value, 12345);
}
END_TEST

START_TEST(test_span_exact_bytes)
{
	/* values come back byte for byte: no number is ever converted */
	static const char text[] =
		"{\"n\":123456789012345678901234567890123456789012345.000,"
		"\"z\":-0,\"big\":1e400,\"f\":0.1,\"neg\":-98765432109876543210987}";
	static const char *const expected[] = {
		"123456789012345678901234567890123456789012345.000",
		"-0", "1e400", "0.1", "-98765432109876543210987"
	};
	tp_json_span top;
	tp_json_span v;
	tp_json_members it;
	int			i = 0;

	ck_assert(tp_json_check(text, strlen(text), &top, NULL, 0));
	tp_json_members_init(&it, text, top);
	while (tp_json_members_next(&it, &v))
	{
		char	   *s = tp_json_span_dup(text, v);

		ck_assert_int_lt(i, 5);
		ck_assert_int_eq(v.type, TP_JSON_NUMBER);
		ck_assert_str_eq(s, expected[i]);
		free(s);
		i++;
	}
	ck_assert_int_eq(i, 5);
	tp_json_members_done(&it);
}
END_TEST

/* The suite: checking, iteration, strings, integers. */
static Suite *
json_span_suite(void)
{
	Suite	   *s = suite_create("json_span");
	TCase	   *tc = tcase_create("check");

	tcase_add_loop_test(tc, test_check_accepts, 0,
						(int) (sizeof(good_texts) / sizeof(good_texts[0])));
	tcase_add_loop_test(tc, test_check_refuses, 0,
						(int) (sizeof(bad_texts) / sizeof(bad_texts[0])));
	tcase_add_test(tc, test_check_depth);
	tcase_add_test(tc, test_check_reason_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("members");
	tcase_add_test(tc, test_members);
	tcase_add_test(tc, test_members_skip_strings);
	tcase_add_test(tc, test_members_empty_and_not_object);
	tcase_add_test(tc, test_members_key_with_nul);
	tcase_add_test(tc, test_unique_keys);
	tcase_add_test(tc, test_find_unique);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_strings);
	tcase_add_loop_test(tc, test_int64, 0,
						(int) (sizeof(int_cases) / sizeof(int_cases[0])));
	tcase_add_test(tc, test_span_exact_bytes);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit status 0 when every test passed. */
int
main(void)
{
	return tp_check_run(json_span_suite());
}
