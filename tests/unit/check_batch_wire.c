/*
 * check_batch_wire.c
 *     Unit tests of core/batch_wire.c: a batch's header line and wire form,
 *     their strict parse, and the decoding of change lines.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_wire.h"
#include "checkmain.h"

/* A 40-digit numeric value, which a double or an int64 would round. */
#define BIG_NUMBER "1234567890123456789012345678901234567890.5"

/* The change lines of the round-trip batch: every op, odd values. */
static const char sample_data[] =
	"{\"id\":1,\"txid\":7311,\"op\":\"INSERT\",\"schema\":\"public\",\"table\":\"t\","
	"\"row\":{\"id\":\"1\",\"n\":\"" BIG_NUMBER "\",\"note\":null}}\n"
	"{\"id\":2,\"txid\":7311,\"op\":\"UPDATE\",\"schema\":\"public\",\"table\":\"t\","
	"\"key\":{\"id\":\"1\"},\"row\":{\"id\":\"2\",\"note\":\"\U0001F600 \\\"q\\\" \\\\ b\"}}\n"
	"{\"id\":3,\"txid\":7312,\"op\":\"DELETE\",\"schema\":\"public\",\"table\":\"t\","
	"\"key\":{\"id\":\"2\"}}\n"
	"{\"id\":4,\"txid\":7313,\"op\":\"TRUNCATE\",\"schema\":\"s p\",\"table\":\"t\\\"x\"}\n"
	"{\"id\":5,\"txid\":7314,\"op\":\"DDL\",\"schema\":\"public\","
	"\"ddl\":{\"command\":\"CREATE TABLE\",\"query\":\"create table u (a int)\",\"n\":3}}\n";

/* A batch over data (a string literal), with fixed header fields. */
static tp_batch
make_batch(const char *data, uint64_t n_changes)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = "src";
	b.target = "my-target";
	b.seq = 42;
	b.n_changes = n_changes;
	b.first_tick = 10;
	b.last_tick = 12;
	b.apply_schema = "test";
	b.data = data;
	b.data_len = strlen(data);
	return b;
}

/* header + data as one malloc'd buffer; its length in *len. */
static char *
concat(const char *header, const char *data, size_t data_len, size_t *len)
{
	size_t		hlen = strlen(header);
	char	   *buf = malloc(hlen + data_len + 1);

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, header, hlen);
	memcpy(buf + hlen, data, data_len);
	buf[hlen + data_len] = '\0';
	*len = hlen + data_len;
	return buf;
}

START_TEST(test_header_text)
{
	tp_batch	b = make_batch(sample_data, 5);
	char	   *header = tp_batch_header(&b);
	char		expected[512];

	ck_assert_ptr_nonnull(header);
	snprintf(expected, sizeof(expected),
			 "{\"teleport_batch\":1,\"kind\":\"changes\",\"source\":\"src\","
			 "\"target\":\"my-target\",\"seq\":42,\"changes\":5,"
			 "\"first_tick\":10,\"last_tick\":12,\"apply_schema\":\"test\","
			 "\"data_bytes\":%zu}\n", strlen(sample_data));
	ck_assert_str_eq(header, expected);
	free(header);

	b.kind = TP_BATCH_LOAD;
	header = tp_batch_header(&b);
	ck_assert_ptr_nonnull(strstr(header, "\"kind\":\"load\""));
	free(header);
}
END_TEST

START_TEST(test_header_refuses_invalid)
{
	tp_batch	b;

	b = make_batch(sample_data, 5);
	b.seq = 0;
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.source = NULL;
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.apply_schema = "";
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 4);
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.seq = (uint64_t) INT64_MAX + 1;
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.first_tick = 13;
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch("{\"id\":1}", 1);	/* no trailing newline */
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.kind = (tp_batch_kind) 7;
	ck_assert_ptr_null(tp_batch_header(&b));
	b = make_batch(sample_data, 5);
	b.target = "\xff\xfe";		/* not UTF-8 */
	ck_assert_ptr_null(tp_batch_header(&b));
}
END_TEST

START_TEST(test_round_trip)
{
	tp_batch	b = make_batch(sample_data, 5);
	char	   *header = tp_batch_header(&b);
	size_t		len;
	char	   *buf = concat(header, b.data, b.data_len, &len);
	tp_batch   *p = NULL;
	char		reason[256] = "";

	ck_assert_int_eq(tp_batch_parse(buf, len, &p, reason, sizeof(reason)),
					 TP_OK);
	ck_assert_str_eq(reason, "");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->size, sizeof(tp_batch));
	ck_assert_uint_eq(p->format, TELEPORT_BATCH_FORMAT);
	ck_assert_int_eq(p->kind, TP_BATCH_CHANGES);
	ck_assert_str_eq(p->source, "src");
	ck_assert_str_eq(p->target, "my-target");
	ck_assert_str_eq(p->apply_schema, "test");
	ck_assert_uint_eq(p->seq, 42);
	ck_assert_uint_eq(p->n_changes, 5);
	ck_assert_uint_eq(p->first_tick, 10);
	ck_assert_uint_eq(p->last_tick, 12);
	ck_assert_uint_eq(p->data_len, b.data_len);
	ck_assert_int_eq(memcmp(p->data, b.data, b.data_len), 0);

	/* the parsed batch owns copies: wipe the buffer, it must not matter */
	memset(buf, 'x', len);
	ck_assert_str_eq(p->source, "src");
	ck_assert_int_eq(memcmp(p->data, sample_data, b.data_len), 0);

	/* and it writes the same header again */
	{
		char	   *again = tp_batch_header(p);

		ck_assert_str_eq(again, header);
		free(again);
	}
	tp_batch_free(p);
	free(buf);
	free(header);
}
END_TEST

START_TEST(test_round_trip_empty_and_big)
{
	tp_batch	b = make_batch("", 0);
	char	   *header;
	tp_batch   *p = NULL;
	char		reason[256];

	b.kind = TP_BATCH_LOAD;
	b.seq = (uint64_t) INT64_MAX;
	b.first_tick = 0;
	b.last_tick = (uint64_t) INT64_MAX;
	header = tp_batch_header(&b);
	ck_assert_ptr_nonnull(header);
	ck_assert_int_eq(tp_batch_parse(header, strlen(header), &p, reason,
									sizeof(reason)), TP_OK);
	ck_assert_int_eq(p->kind, TP_BATCH_LOAD);
	ck_assert_uint_eq(p->seq, (uint64_t) INT64_MAX);
	ck_assert_uint_eq(p->last_tick, (uint64_t) INT64_MAX);
	ck_assert_uint_eq(p->n_changes, 0);
	ck_assert_uint_eq(p->data_len, 0);
	tp_batch_free(p);
	free(header);
}
END_TEST

/* One wire form that must be refused, and a piece of the expected reason. */
typedef struct bad_wire
{
	const char *buf;
	size_t		len;			/* 0: strlen(buf) */
	const char *reason;
} bad_wire;

#define H(members) "{\"teleport_batch\":1,\"kind\":\"changes\",\"source\":\"s\"," \
	"\"target\":\"t\",\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\"," members "}\n"
#define LINE "{\"id\":1}\n"

static const bad_wire bad_wires[] = {
	{"", 0, "empty"},
	{"{\"teleport_batch\":1", 0, "header line does not end in a newline"},
	{"not json\n", 0, "not valid JSON"},
	{"[1,2]\n", 0, "not a JSON object"},
	{"{\"teleport_batch\":2,\"seq\":1}\n", 0, "format version 2 is not known"},
	{"{\"seq\":1}\n", 0, "no \"teleport_batch\" member"},
	{"{\"teleport_batch\":\"1\"}\n", 0, "\"teleport_batch\" member is not an integer"},
	{H("\"changes\":0,\"data_bytes\":0"), 0, "no \"seq\" member"},
	{H("\"seq\":\"1\",\"changes\":0,\"data_bytes\":0"), 0, "\"seq\" member is not an integer"},
	{H("\"seq\":1.5,\"changes\":0,\"data_bytes\":0"), 0, "\"seq\" member is not an integer"},
	{H("\"seq\":-1,\"changes\":0,\"data_bytes\":0"), 0, "\"seq\" member is negative"},
	{H("\"seq\":0,\"changes\":0,\"data_bytes\":0"), 0, "\"seq\" member is 0"},
	{H("\"seq\":9223372036854775808,\"changes\":0,\"data_bytes\":0"), 0, "not valid JSON"},
	{H("\"seq\":1,\"changes\":-5,\"data_bytes\":0"), 0, "\"changes\" member is negative"},
	{H("\"seq\":1,\"changes\":0"), 0, "no \"data_bytes\" member"},
	{H("\"seq\":1,\"changes\":0,\"data_bytes\":null"), 0, "\"data_bytes\" member is not an integer"},
	{H("\"seq\":1,\"changes\":0,\"data_bytes\":0,\"extra\":1"), 0, "unknown member \"extra\""},
	{H("\"seq\":1,\"seq\":2,\"changes\":0,\"data_bytes\":0"), 0, "not valid JSON"},
	{"{\"teleport_batch\":1,\"kind\":\"other\",\"source\":\"s\",\"target\":\"t\",\"seq\":1,"
	 "\"changes\":0,\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\",\"data_bytes\":0}\n",
	0, "kind \"other\""},
	{"{\"teleport_batch\":1,\"kind\":\"changes\",\"source\":\"\",\"target\":\"t\",\"seq\":1,"
	 "\"changes\":0,\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\",\"data_bytes\":0}\n",
	0, "\"source\" member is empty"},
	{"{\"teleport_batch\":1,\"kind\":\"changes\",\"source\":\"s\",\"target\":7,\"seq\":1,"
	 "\"changes\":0,\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\",\"data_bytes\":0}\n",
	0, "\"target\" member is not a string"},
	{"{\"teleport_batch\":1,\"kind\":\"changes\",\"source\":\"s\",\"target\":\"t\",\"seq\":1,"
	 "\"changes\":0,\"first_tick\":3,\"last_tick\":2,\"apply_schema\":\"a\",\"data_bytes\":0}\n",
	0, "first_tick 3 is after its last_tick 2"},
	/* data_bytes disagreeing with what follows */
	{H("\"seq\":1,\"changes\":1,\"data_bytes\":10") "{\"id\":1}", 0,
	"truncated: its header announces 10 bytes of data but 8 follow"},
	{H("\"seq\":1,\"changes\":1,\"data_bytes\":9") LINE "x", 0,
	"1 bytes after the 9 bytes of data"},
	{H("\"seq\":1,\"changes\":2,\"data_bytes\":9") LINE, 0,
	"announces 2 changes but its data has 1 lines"},
	{H("\"seq\":1,\"changes\":0,\"data_bytes\":9") LINE, 0,
	"announces 0 changes but its data has 1 lines"},
	{H("\"seq\":1,\"changes\":2,\"data_bytes\":17") LINE "{\"id\":2}", 0,
	"line 2 of the batch's data does not end in a newline"},
	{H("\"seq\":1,\"changes\":2,\"data_bytes\":10") LINE "\n", 0,
	"line 2 of the batch's data is empty"},
	{H("\"seq\":1,\"changes\":1,\"data_bytes\":6") "[1,2]\n", 0,
	"line 1 of the batch's data is not a JSON object"},
};

/* The length of header H(...) with seq 1, changes 1, data_bytes 9 */
#define NUL_HEADER H("\"seq\":1,\"changes\":1,\"data_bytes\":9")

START_TEST(test_parse_refusals)
{
	const bad_wire *w = &bad_wires[_i];
	size_t		len = w->len ? w->len : strlen(w->buf);
	tp_batch   *p = (tp_batch *) 0x1;
	char		reason[256] = "";

	ck_assert_msg(tp_batch_parse(w->buf, len, &p, reason, sizeof(reason))
				  == TP_ERROR, "accepted: %s", w->buf);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(reason, w->reason) != NULL,
				  "reason \"%s\" lacks \"%s\"", reason, w->reason);
	/* one sentence in the PostgreSQL style: lower case, no period */
	ck_assert(reason[0] >= 'a' && reason[0] <= 'z');
	ck_assert_int_ne(reason[strlen(reason) - 1], '.');
}
END_TEST

START_TEST(test_parse_nul_bytes)
{
	char		buf[512];
	size_t		hlen = strlen(NUL_HEADER);
	tp_batch   *p = NULL;
	char		reason[256];

	/* a NUL inside the data */
	memcpy(buf, NUL_HEADER, hlen);
	memcpy(buf + hlen, "{\"id\":1}\n", 9);
	buf[hlen + 3] = '\0';
	ck_assert_int_eq(tp_batch_parse(buf, hlen + 9, &p, reason, sizeof(reason)),
					 TP_ERROR);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(reason, "NUL byte"));

	/* a NUL inside the header line */
	memcpy(buf, NUL_HEADER, hlen);
	memcpy(buf + hlen, "{\"id\":1}\n", 9);
	buf[5] = '\0';
	ck_assert_int_eq(tp_batch_parse(buf, hlen + 9, &p, reason, sizeof(reason)),
					 TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "header contains a NUL byte"));

	/* the same bytes without the NUL are fine */
	memcpy(buf, NUL_HEADER, hlen);
	memcpy(buf + hlen, "{\"id\":1}\n", 9);
	ck_assert_int_eq(tp_batch_parse(buf, hlen + 9, &p, reason, sizeof(reason)),
					 TP_OK);
	tp_batch_free(p);
}
END_TEST

START_TEST(test_parse_small_reason)
{
	tp_batch   *p = NULL;
	char		reason[8];

	memset(reason, 'z', sizeof(reason));
	ck_assert_int_eq(tp_batch_parse("x", 1, &p, reason, sizeof(reason)),
					 TP_ERROR);
	ck_assert_uint_eq(strlen(reason), sizeof(reason) - 1);
	/* no reason buffer at all is fine too */
	ck_assert_int_eq(tp_batch_parse("x", 1, &p, NULL, 0), TP_ERROR);
}
END_TEST

/* A cursor over batch, zero-filled with its size set. */
static tp_change_cursor
new_cursor(void)
{
	tp_change_cursor c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	return c;
}

START_TEST(test_change_each_op)
{
	tp_batch	b = make_batch(sample_data, 5);
	char	   *header = tp_batch_header(&b);
	size_t		len;
	char	   *buf = concat(header, b.data, b.data_len, &len);
	tp_batch   *p = NULL;
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";
	const char *line1_end;

	ck_assert_int_eq(tp_batch_parse(buf, len, &p, reason, sizeof(reason)), TP_OK);

	/* INSERT: row kept digit for digit, no key */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, sizeof(tp_change));
	ck_assert_int_eq(ch.op, TP_CHANGE_INSERT);
	ck_assert_int_eq(ch.id, 1);
	ck_assert_int_eq(ch.txid, 7311);
	ck_assert_str_eq(ch.schema, "public");
	ck_assert_str_eq(ch.table, "t");
	ck_assert_ptr_null(ch.key);
	ck_assert_str_eq(ch.row,
					 "{\"id\":\"1\",\"n\":\"" BIG_NUMBER "\",\"note\":null}");
	ck_assert_ptr_null(ch.ddl);
	ck_assert_ptr_eq(ch.line, p->data);
	line1_end = strchr(p->data, '\n');
	ck_assert_uint_eq(ch.line_len, (size_t) (line1_end - p->data));
	ck_assert_uint_eq(cur.index, 1);
	ck_assert_uint_eq(cur.offset, ch.line_len + 1);

	/* UPDATE: unicode, quotes and backslashes come back as they were sent */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_UPDATE);
	ck_assert_int_eq(ch.id, 2);
	ck_assert_str_eq(ch.key, "{\"id\":\"1\"}");
	ck_assert_str_eq(ch.row,
					 "{\"id\":\"2\",\"note\":\"\U0001F600 \\\"q\\\" \\\\ b\"}");
	ck_assert_ptr_nonnull(strstr(sample_data, ch.row));

	/* DELETE: key only */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_DELETE);
	ck_assert_int_eq(ch.txid, 7312);
	ck_assert_str_eq(ch.key, "{\"id\":\"2\"}");
	ck_assert_ptr_null(ch.row);

	/* TRUNCATE: neither; names decoded from JSON escapes */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_TRUNCATE);
	ck_assert_str_eq(ch.schema, "s p");
	ck_assert_str_eq(ch.table, "t\"x");
	ck_assert_ptr_null(ch.key);
	ck_assert_ptr_null(ch.row);
	ck_assert_ptr_null(ch.ddl);

	/* DDL: no table, ddl object as text (its values may be anything) */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_DDL);
	ck_assert_int_eq(ch.id, 5);
	ck_assert_ptr_null(ch.table);
	ck_assert_str_eq(ch.ddl,
					 "{\"command\":\"CREATE TABLE\",\"query\":\"create table u (a int)\",\"n\":3}");
	ck_assert_ptr_null(ch.key);

	/* the end, and it stays the end */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, 0);
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, 0);
	ck_assert_uint_eq(cur.index, 5);
	ck_assert_uint_eq(cur.offset, p->data_len);
	ck_assert_str_eq(reason, "");

	tp_change_cursor_done(&cur);
	ck_assert_ptr_null(cur.state);
	tp_change_cursor_done(&cur);
	tp_batch_free(p);
	free(buf);
	free(header);
}
END_TEST

START_TEST(test_change_unicode_escapes)
{
	/* \u escapes (a surrogate pair) decode to UTF-8 and stay text */
	static const char data[] =
		"{\"id\":1,\"txid\":2,\"op\":\"INSERT\",\"schema\":\"\\u00e9\",\"table\":\"t\","
		"\"row\":{\"e\":\"\\ud83d\\ude00\",\"n\":\"0.10\",\"s\":\"a\\\\\\\"b\\n\"}}\n";
	tp_batch	b = make_batch(data, 1);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256];

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_str_eq(ch.schema, "\u00e9");
	ck_assert_str_eq(ch.row,
					 "{\"e\":\"\U0001F600\",\"n\":\"0.10\",\"s\":\"a\\\\\\\"b\\n\"}");
	tp_change_cursor_done(&cur);
}
END_TEST

/* One change line that must be refused, and a piece of the reason. */
typedef struct bad_line
{
	const char *line;
	const char *reason;
} bad_line;

#define PRE "{\"id\":1,\"txid\":2,\"schema\":\"public\",\"table\":\"t\","

static const bad_line bad_lines[] = {
	{PRE "\"op\":\"INSERT\",\"row\":{\"n\":12345678901234567890123}}\n", "not valid JSON"},
	{PRE "\"op\":\"INSERT\",\"row\":{\"n\":1}}\n", "column \"n\" in \"row\" is not a string or null"},
	{PRE "\"op\":\"INSERT\",\"row\":{\"n\":1.5}}\n", "column \"n\" in \"row\" is not a string or null"},
	{PRE "\"op\":\"INSERT\",\"row\":{\"b\":true}}\n", "column \"b\" in \"row\" is not a string or null"},
	{PRE "\"op\":\"INSERT\",\"row\":{\"a\":[\"1\"]}}\n", "column \"a\" in \"row\" is not a string or null"},
	{PRE "\"op\":\"INSERT\",\"row\":{\"o\":{}}}\n", "column \"o\" in \"row\" is not a string or null"},
	{PRE "\"op\":\"UPDATE\",\"key\":{\"id\":1},\"row\":{}}\n", "column \"id\" in \"key\""},
	{PRE "\"op\":\"INSERT\",\"row\":[\"1\"]}\n", "\"row\" is not a JSON object"},
	{PRE "\"op\":\"INSERT\"}\n", "an INSERT has no \"row\""},
	{PRE "\"op\":\"UPDATE\",\"key\":{\"id\":\"1\"}}\n", "an UPDATE has no \"row\""},
	{PRE "\"op\":\"UPDATE\",\"row\":{\"id\":\"1\"}}\n", "an UPDATE has no \"key\""},
	{PRE "\"op\":\"DELETE\"}\n", "a DELETE has no \"key\""},
	{PRE "\"op\":\"TRUNCATE\",\"row\":{}}\n", "a TRUNCATE has a \"key\" or \"row\""},
	{PRE "\"op\":\"INSERT\",\"row\":{},\"ddl\":{}}\n", "only a DDL has a \"ddl\" member"},
	{PRE "\"op\":\"DDL\"}\n", "a DDL has no \"ddl\" object"},
	{PRE "\"op\":\"DDL\",\"ddl\":\"create table x ()\"}\n", "a DDL has no \"ddl\" object"},
	{PRE "\"op\":\"MERGE\"}\n", "unknown op \"MERGE\""},
	{PRE "\"op\":7}\n", "\"op\" is missing or not a string"},
	{"{\"txid\":2,\"op\":\"TRUNCATE\",\"schema\":\"p\",\"table\":\"t\"}\n", "\"id\" is missing"},
	{"{\"id\":1,\"txid\":\"2\",\"op\":\"TRUNCATE\",\"schema\":\"p\",\"table\":\"t\"}\n", "\"txid\" is missing or not an integer"},
	{"{\"id\":1,\"txid\":2,\"op\":\"TRUNCATE\",\"table\":\"t\"}\n", "\"schema\" is missing"},
	{"{\"id\":1,\"txid\":2,\"op\":\"TRUNCATE\",\"schema\":\"p\"}\n", "\"table\" is missing"},
	{"{\"id\":1,\"txid\":2,\"op\":\"TRUNCATE\",\"schema\":\"p\",\"table\":3}\n", "\"table\" is missing or not a string"},
	{PRE "\"op\":\"TRUNCATE\",\"op\":\"TRUNCATE\"}\n", "duplicate"},
	{"{\"id\":1,\"txid\":2}x\n", "not valid JSON"},
	{"[]\n", "not a JSON object"},
	{PRE "\"op\":\"TRUNCATE\"}", "does not end in a newline"},
	{"\n", "line 1 of the batch's data is empty"},
};

START_TEST(test_change_refusals)
{
	const bad_line *l = &bad_lines[_i];
	tp_batch	b = make_batch(l->line, 1);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";

	ck_assert_msg(tp_change_next(&b, &cur, &ch, reason, sizeof(reason))
				  == TP_ERROR, "accepted: %s", l->line);
	ck_assert_msg(strstr(reason, l->reason) != NULL,
				  "reason \"%s\" lacks \"%s\"", reason, l->reason);
	ck_assert_uint_eq(ch.size, 0);
	ck_assert_uint_eq(cur.index, 0);
	tp_change_cursor_done(&cur);
}
END_TEST

START_TEST(test_change_second_line_bad)
{
	static const char data[] =
		"{\"id\":1,\"txid\":2,\"op\":\"TRUNCATE\",\"schema\":\"p\",\"table\":\"t\"}\n"
		"{\"id\":2,\"txid\":2,\"op\":\"INSERT\",\"schema\":\"p\",\"table\":\"t\",\"row\":{\"a\":false}}\n";
	tp_batch	b = make_batch(data, 2);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256];

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_TRUNCATE);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "line 2 of the batch's data"));
	tp_change_cursor_done(&cur);
}
END_TEST

START_TEST(test_change_cursor_checks)
{
	static const char data[] =
		"{\"id\":1,\"txid\":2,\"op\":\"TRUNCATE\",\"schema\":\"p\",\"table\":\"t\"}\n";
	tp_batch	b = make_batch(data, 1);
	tp_change_cursor cur;
	tp_change	ch;
	char		reason[256];

	/* a cursor whose size was not set */
	memset(&cur, 0, sizeof(cur));
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "not initialised"));
	ck_assert_ptr_null(cur.state);

	/* a batch whose count disagrees with its data (not one from parse) */
	b.n_changes = 2;
	cur = new_cursor();
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "counts 2 changes but its data has 1 lines"));
	tp_change_cursor_done(&cur);

	/* an empty batch ends at once */
	b = make_batch("", 0);
	cur = new_cursor();
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, 0);
	tp_change_cursor_done(&cur);
}
END_TEST

/* The suite: header, parse, change decoding. */
static Suite *
batch_wire_suite(void)
{
	Suite	   *s = suite_create("batch_wire");
	TCase	   *tc = tcase_create("header");

	tcase_add_test(tc, test_header_text);
	tcase_add_test(tc, test_header_refuses_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_empty_and_big);
	tcase_add_loop_test(tc, test_parse_refusals, 0,
						(int) (sizeof(bad_wires) / sizeof(bad_wires[0])));
	tcase_add_test(tc, test_parse_nul_bytes);
	tcase_add_test(tc, test_parse_small_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("change");
	tcase_add_test(tc, test_change_each_op);
	tcase_add_test(tc, test_change_unicode_escapes);
	tcase_add_loop_test(tc, test_change_refusals, 0,
						(int) (sizeof(bad_lines) / sizeof(bad_lines[0])));
	tcase_add_test(tc, test_change_second_line_bad);
	tcase_add_test(tc, test_change_cursor_checks);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit status 0 when every test passed. */
int
main(void)
{
	return tp_check_run(batch_wire_suite());
}
