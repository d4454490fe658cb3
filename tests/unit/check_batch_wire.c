/*
 * check_batch_wire.c
 *     Unit tests of core/batch_wire.c: a batch's header line and wire form,
 *     their strict parse, and the decoding of change lines.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "plan.h"

/* A 45-digit numeric value, which a double or an int64 would round. */
#define BIG_NUMBER "123456789012345678901234567890123456789012345"

/*
 * A source member of origin "finops-db", schema "public" and batch 42, with
 * table (a '"table":..,' piece or ""), txid and seq (number literals).
 */
#define SOURCE(table, txid, seq) "\"source\":{\"name\":\"finops-db\"," \
	"\"schema\":\"public\"," table "\"txid\":" txid ",\"seq\":" seq ",\"batch\":42}"

/* The change lines of the round-trip batch: every op, odd values. */
static const char sample_data[] =
	"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,\"n\":" BIG_NUMBER
	",\"z\":-0,\"e\":1e400,\"f\":0.1,\"neg\":-98765432109876543210987,"
	"\"note\":null},"
	SOURCE("\"table\":\"t\",", "7311", "1") ",\"ts_ms\":1795000000000}\n"
	"{\"op\":\"u\",\"before\":{\"id\":1},\"after\":{\"id\":2,"
	"\"note\":\"\U0001F600 \\\"q\\\" \\\\ b\",\"e\":\"\\u00e9\\ud83d\\ude00\"},"
	SOURCE("\"table\":\"t\",", "7311", "2") ",\"ts_ms\":1795000000000}\n"
	"{\"op\":\"d\",\"before\":{\"id\":2},"
	SOURCE("\"table\":\"t\",", "7312", "3") ",\"ts_ms\":1795000000000}\n"
	"{\"ts_ms\":1795000000001,\"op\":\"t\",\"future\":{\"x\":[1,2.5e9]},"
	"\"source\":{\"lsn\":\"0/1\",\"name\":\"n\\u00e9\",\"schema\":\"s p\","
	"\"table\":\"t\\\"x\",\"txid\":9223372036854775807,\"seq\":0,\"batch\":42}}\n"
	"{\"op\":\"ddl\",\"before\":null,\"after\":null,"
	"\"ddl\":{\"command\":\"CREATE TABLE\",\"query\":\"create table u (a int)\",\"n\":3},"
	SOURCE("", "7314", "5") ",\"ts_ms\":1795000000002}\n";

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
			 "\"data_bytes\":%zu,\"partial\":false}\n", strlen(sample_data));
	ck_assert_str_eq(header, expected);
	free(header);

	b.flags = TP_BATCH_PARTIAL;
	header = tp_batch_header(&b);
	ck_assert_ptr_nonnull(strstr(header, "\"partial\":true}"));
	free(header);

	/* "follows" only when set, after "partial" */
	b.flags = TP_BATCH_FOLLOWS;
	header = tp_batch_header(&b);
	ck_assert_ptr_nonnull(strstr(header, "\"partial\":false,\"follows\":true}"));
	free(header);
	b.flags = 0;

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
	char	   *header;

	b.flags = TP_BATCH_PARTIAL | TP_BATCH_FOLLOWS;
	header = tp_batch_header(&b);
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
	ck_assert_uint_eq(p->flags, TP_BATCH_PARTIAL | TP_BATCH_FOLLOWS);
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

/*
 * A load batch: its first line is a JSON object, the rows after it COPY
 * text (empty lines, tabs, \N); it goes through header and parse as it
 * is. The same rows in a changes batch are refused.
 */
START_TEST(test_round_trip_load_rows)
{
	static const char rows[] =
		"{\"load\":{\"id\":1,\"step\":\"rows\",\"schema\":\"public\",\"table\":\"t\",\"columns\":[\"v\"],\"chunk\":1}}\n"
		"\n"
		"\\N\n"
		"a\tb\\n\n";
	tp_batch	b = make_batch(rows, 4);
	char	   *header;
	size_t		len;
	char	   *buf;
	tp_batch   *p = NULL;
	char		reason[256] = "";

	b.kind = TP_BATCH_LOAD;
	header = tp_batch_header(&b);
	ck_assert_ptr_nonnull(header);
	buf = concat(header, b.data, b.data_len, &len);
	ck_assert_int_eq(tp_batch_parse(buf, len, &p, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(p->kind, TP_BATCH_LOAD);
	ck_assert_uint_eq(p->n_changes, 4);
	ck_assert_uint_eq(p->data_len, b.data_len);
	ck_assert_int_eq(memcmp(p->data, rows, b.data_len), 0);
	tp_batch_free(p);
	free(buf);
	free(header);

	/* its first line must still be a JSON object */
	b = make_batch(rows + strlen(rows) - 6, 1);
	b.kind = TP_BATCH_LOAD;
	ck_assert_ptr_null(tp_batch_header(&b));

	/* and rows are no changes */
	b = make_batch(rows, 4);
	ck_assert_ptr_null(tp_batch_header(&b));
}
END_TEST

/*
 * The rows of a load batch are counted 8 bytes at a time: lines of every
 * length from 0 to 40 bytes, at every alignment, with bytes that differ
 * from '\n' by one bit (\v, \b, '*', 0x8A) and UTF-8 around them, give
 * the count; data that does not end in a newline is refused with the
 * number of its last line.
 */
START_TEST(test_load_rows_counted)
{
	static const char fill[] = "a\x0b\x08*\xc3\xa9\x8a\tz";
	const char *step = "{\"load\":{\"id\":1,\"step\":\"rows\"}}\n";
	char	   *data = malloc(64 * 1024);
	size_t		len = 0;
	uint64_t	lines = 1;

	ck_assert_ptr_nonnull(data);
	memcpy(data, step, strlen(step));
	len = strlen(step);
	for (int pad = 0; pad < 9; pad++)
	{
		for (int n = 0; n <= 40; n++)
		{
			for (int k = 0; k < n; k++)
				data[len++] = fill[(k + pad) % (sizeof(fill) - 1)];
			data[len++] = '\n';
			lines++;
		}
		data[len++] = 'x';		/* shifts the next lines' alignment */
		data[len++] = '\n';
		lines++;
	}
	for (int cut = 0; cut < 2; cut++)
	{
		tp_batch	b;
		char	   *header;
		char	   *buf;
		size_t		buf_len;
		tp_batch   *p = NULL;
		char		reason[256] = "";

		b = make_batch("", lines);
		b.kind = TP_BATCH_LOAD;
		b.data = data;
		b.data_len = len;
		header = tp_batch_header(&b);
		ck_assert_ptr_nonnull(header);
		if (cut == 0)
		{
			buf = concat(header, data, len, &buf_len);
			ck_assert_msg(tp_batch_parse(buf, buf_len, &p, reason, sizeof(reason)) == TP_OK,
						  "%s", reason);
			ck_assert_uint_eq(p->n_changes, lines);
			tp_batch_free(p);
		}
		else
		{
			char		line[64];

			/* the same header, the data without its final newline */
			buf = concat(header, data, len, &buf_len);
			buf[buf_len - 1] = 'y';
			ck_assert_int_eq(tp_batch_parse(buf, buf_len, &p, reason, sizeof(reason)),
							 TP_ERROR);
			snprintf(line, sizeof(line), "line %" PRIu64 " of", lines);
			ck_assert_msg(strstr(reason, line) != NULL && strstr(reason, "newline") != NULL,
						  "%s", reason);
		}
		free(buf);
		free(header);
	}
	free(data);
}
END_TEST

/*
 * Parsed without a copy (host->batch_parse_borrowed): the same batch, its
 * data pointing into the buffer, which must end in a NUL; refusals as with
 * a copy.
 */
START_TEST(test_parse_borrowed)
{
	tp_batch	b = make_batch(sample_data, 5);
	char	   *header = tp_batch_header(&b);
	size_t		len;
	char	   *buf;
	tp_batch   *p = NULL;
	char		reason[256] = "";
	const tp_host_api *host = tp_host_api_get();

	ck_assert_ptr_nonnull(header);
	buf = concat(header, b.data, b.data_len, &len);
	ck_assert(TP_HAS_FIELD(host, tp_host_api, batch_parse_borrowed));
	ck_assert_int_eq(host->batch_parse_borrowed(NULL, buf, len, &p, reason, sizeof(reason)),
					 TP_OK);
	ck_assert_ptr_eq(p->data, buf + strlen(header));
	ck_assert_uint_eq(p->data_len, b.data_len);
	ck_assert_uint_eq(p->n_changes, 5);
	ck_assert_str_eq(p->source, "src");
	ck_assert_str_eq(p->apply_schema, "test");
	ck_assert_int_eq(p->data[p->data_len], '\0');
	host->batch_free(p);
	/* truncated: refused, as by batch_parse */
	buf[len - 10] = '\0';
	ck_assert_int_eq(tp_batch_parse_borrowed(buf, len - 10, &p, reason, sizeof(reason)),
					 TP_ERROR);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(reason, "truncated") != NULL, "%s", reason);
	/* a buffer that does not end in a NUL */
	ck_assert_int_eq(tp_batch_parse_borrowed(buf, len - 12, &p, reason, sizeof(reason)),
					 TP_ERROR);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(reason, "NUL") != NULL, "%s", reason);
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
	"\"target\":\"t\",\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\"," \
	"\"partial\":false," members "}\n"
#define H_NO_PARTIAL(members) "{\"teleport_batch\":1,\"kind\":\"changes\"," \
	"\"source\":\"s\",\"target\":\"t\",\"first_tick\":1,\"last_tick\":2," \
	"\"apply_schema\":\"a\"," members "}\n"
#define HL(members) "{\"teleport_batch\":1,\"kind\":\"load\",\"source\":\"s\"," \
	"\"target\":\"t\",\"first_tick\":1,\"last_tick\":2,\"apply_schema\":\"a\"," \
	"\"partial\":false," members "}\n"
#define LINE "{\"id\":1}\n"

static const bad_wire bad_wires[] = {
	{H_NO_PARTIAL("\"seq\":1,\"changes\":0,\"data_bytes\":0"), 0, "\"partial\" member is missing"},
	{H_NO_PARTIAL("\"seq\":1,\"changes\":0,\"data_bytes\":0,\"partial\":1"), 0, "\"partial\" member is not a boolean"},
	{H("\"seq\":1,\"changes\":0,\"data_bytes\":0,\"follows\":\"yes\""), 0, "\"follows\" member is not a boolean"},
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
	/* a load batch: its first line must be its step, a JSON object */
	{HL("\"seq\":1,\"changes\":2,\"data_bytes\":13") "a\tb\n" LINE, 0,
	"line 1 of the batch's data is not a JSON object"},
	{HL("\"seq\":1,\"changes\":2,\"data_bytes\":10") "\n" LINE, 0,
	"line 1 of the batch's data is empty"},
	{HL("\"seq\":1,\"changes\":2,\"data_bytes\":12") LINE "row", 0,
	"line 2 of the batch's data does not end in a newline"},
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

	/* insert: after kept byte for byte, numbers never converted */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, sizeof(tp_change));
	ck_assert_int_eq(ch.op, TP_CHANGE_INSERT);
	ck_assert_str_eq(ch.origin, "finops-db");
	ck_assert_str_eq(ch.schema, "public");
	ck_assert_str_eq(ch.table, "t");
	ck_assert_int_eq(ch.txid, 7311);
	ck_assert_int_eq(ch.seq, 1);
	ck_assert_int_eq(ch.batch, 42);
	ck_assert_int_eq(ch.ts_ms, 1795000000000LL);
	ck_assert_ptr_null(ch.before);
	ck_assert_str_eq(ch.after,
					 "{\"id\":1,\"n\":" BIG_NUMBER ",\"z\":-0,\"e\":1e400,"
					 "\"f\":0.1,\"neg\":-98765432109876543210987,\"note\":null}");
	ck_assert_ptr_null(ch.ddl);
	ck_assert_ptr_eq(ch.line, p->data);
	line1_end = strchr(p->data, '\n');
	ck_assert_uint_eq(ch.line_len, (size_t) (line1_end - p->data));
	ck_assert_uint_eq(cur.index, 1);
	ck_assert_uint_eq(cur.offset, ch.line_len + 1);

	/* update: unicode, escapes and quotes come back exactly as sent */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_UPDATE);
	ck_assert_int_eq(ch.seq, 2);
	ck_assert_str_eq(ch.before, "{\"id\":1}");
	ck_assert_str_eq(ch.after,
					 "{\"id\":2,\"note\":\"\U0001F600 \\\"q\\\" \\\\ b\","
					 "\"e\":\"\\u00e9\\ud83d\\ude00\"}");
	ck_assert_ptr_nonnull(strstr(sample_data, ch.after));

	/* delete: before only (after absent) */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_DELETE);
	ck_assert_int_eq(ch.txid, 7312);
	ck_assert_int_eq(ch.seq, 3);
	ck_assert_str_eq(ch.before, "{\"id\":2}");
	ck_assert_ptr_null(ch.after);

	/*
	 * truncate: neither; names decoded from JSON escapes; members in any
	 * order; unknown members of the line and of source ignored
	 */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_TRUNCATE);
	ck_assert_str_eq(ch.origin, "n\u00e9");
	ck_assert_str_eq(ch.schema, "s p");
	ck_assert_str_eq(ch.table, "t\"x");
	ck_assert_int_eq(ch.txid, INT64_MAX);
	ck_assert_int_eq(ch.seq, 0);
	ck_assert_int_eq(ch.ts_ms, 1795000000001LL);
	ck_assert_ptr_null(ch.before);
	ck_assert_ptr_null(ch.after);
	ck_assert_ptr_null(ch.ddl);

	/* ddl: no table, before and after null, ddl object as its bytes */
	ck_assert_int_eq(tp_change_next(p, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_DDL);
	ck_assert_int_eq(ch.txid, 7314);
	ck_assert_ptr_null(ch.table);
	ck_assert_str_eq(ch.ddl,
					 "{\"command\":\"CREATE TABLE\",\"query\":\"create table u (a int)\",\"n\":3}");
	ck_assert_ptr_null(ch.before);
	ck_assert_ptr_null(ch.after);

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

/* The source member of the test lines below. */
#define SRC "\"source\":{\"name\":\"n\",\"schema\":\"public\",\"table\":\"t\"," \
	"\"txid\":2,\"seq\":3,\"batch\":4}"
#define TS "\"ts_ms\":5"

START_TEST(test_change_exact_values)
{
	/* whitespace, number spellings and escapes survive as they stand */
	static const char data[] =
		"{\"op\":\"u\",\"before\": { \"id\" : -0 } ,\"after\":{\"id\":-0,"
		"\"n\":-123456789012345678901234567890.000000000000001,"
		"\"x\":1E+400,\"y\":-1e-400,\"s\":\"a\\\\\\\"b\\n\\u0000\\/\","
		"\"j\":{\"k\":[1,{\"k\":2,\"k\":3}]},\"nan\":\"NaN\"}," SRC "," TS "}\n"
		"{\"op\":\"ddl\",\"ddl\":{},\"source\":{\"name\":\"n\",\"schema\":\"p\","
		"\"table\":null,\"txid\":0,\"seq\":0,\"batch\":0},\"ts_ms\":-1}\n"
		"{\"op\":\"ddl\",\"ddl\":{\"q\":null}," SRC "," TS "}\n";
	tp_batch	b = make_batch(data, 3);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_str_eq(ch.before, "{ \"id\" : -0 }");
	/* nested json values may repeat keys (PostgreSQL's json keeps them) */
	ck_assert_str_eq(ch.after,
					 "{\"id\":-0,\"n\":-123456789012345678901234567890.000000000000001,"
					 "\"x\":1E+400,\"y\":-1e-400,\"s\":\"a\\\\\\\"b\\n\\u0000\\/\","
					 "\"j\":{\"k\":[1,{\"k\":2,\"k\":3}]},\"nan\":\"NaN\"}");

	/* a ddl event may have a null table, and a negative ts_ms is read */
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_DDL);
	ck_assert_ptr_null(ch.table);
	ck_assert_str_eq(ch.ddl, "{}");
	ck_assert_int_eq(ch.ts_ms, -1);

	/* ... or a table */
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_str_eq(ch.table, "t");
	ck_assert_str_eq(ch.ddl, "{\"q\":null}");
	tp_change_cursor_done(&cur);
}
END_TEST

/*
 * "values":"text" marks a row change's images as text mode; without it
 * (or on the next line) text_values is false; the images are kept as
 * they stand either way.
 */
START_TEST(test_change_text_values)
{
	static const char data[] =
		"{\"op\":\"c\",\"after\":{\"a\":\"[0:1]={1,2}\",\"j\":\"null\",\"n\":null},"
		"\"values\":\"text\"," SRC "," TS "}\n"
		"{\"op\":\"u\",\"before\":{\"a\":\"{1}\"},\"after\":{\"a\":\"{2}\"}," SRC ","
		TS ",\"values\":\"t\\u0065xt\"}\n"
		"{\"op\":\"d\",\"before\":{\"a\":1}," SRC "," TS "}\n"
		"{\"op\":\"d\",\"values\":\"text\",\"before\":{\"a\":\"1\"}," SRC "," TS "}\n";
	tp_batch	b = make_batch(data, 4);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert(TP_HAS_FIELD(&ch, tp_change, text_values));
	ck_assert(ch.text_values);
	ck_assert_str_eq(ch.after, "{\"a\":\"[0:1]={1,2}\",\"j\":\"null\",\"n\":null}");
	/* members in any order, the string's escapes decoded */
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert(ch.text_values);
	ck_assert_str_eq(ch.before, "{\"a\":\"{1}\"}");
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert(!ch.text_values);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert(ch.text_values);
	ck_assert_int_eq(ch.op, TP_CHANGE_DELETE);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_uint_eq(ch.size, 0);
	ck_assert_str_eq(reason, "");
	tp_change_cursor_done(&cur);
}
END_TEST

/*
 * The host's change_next writes only the part of tp_change that the
 * plugin's ABI minor knows: a 1.0 plugin's smaller struct is never
 * written past its end, and its size says 1.0; a 1.1 plugin gets it all.
 */
START_TEST(test_change_next_by_minor)
{
	static const char data[] =
		"{\"op\":\"c\",\"after\":{\"a\":\"1\"},\"values\":\"text\"," SRC "," TS "}\n";
	tp_batch	b = make_batch(data, 1);
	tp_config	config;
	tp_plugin_info info;
	tp_plugin	plugin;
	tp_plan_entry entry;
	size_t		old_size = offsetof(tp_change, text_values);

	memset(&config, 0, sizeof(config));
	memset(&info, 0, sizeof(info));
	memset(&plugin, 0, sizeof(plugin));
	memset(&entry, 0, sizeof(entry));
	info.size = sizeof(info);
	info.abi_major = TELEPORT_ABI_MAJOR;
	info.kind = TP_PLUGIN_APPLIER;
	info.name = "minor";
	plugin.info = &info;
	entry.role = TP_ROLE_APPLY;
	entry.kind = TP_PLUGIN_APPLIER;
	entry.plugin_name = "minor";
	entry.plugin = &plugin;
	ck_assert_uint_gt(sizeof(tp_change), old_size);
	for (uint16_t minor = 0; minor <= TELEPORT_ABI_MINOR; minor++)
	{
		tp_plugin_ctx *ctx;
		tp_change_cursor cur = new_cursor();
		unsigned char buf[sizeof(tp_change) + 16];
		tp_change	ch;

		info.abi_minor = minor;
		ctx = tp_host_ctx_new(&config, "dbname=x", &entry);
		ck_assert_ptr_nonnull(ctx);
		memset(buf, 0xa5, sizeof(buf));
		ck_assert_int_eq(ctx->host->change_next(ctx, &b, &cur, (tp_change *) buf), TP_OK);
		memcpy(&ch, buf, sizeof(ch));
		ck_assert_int_eq(ch.op, TP_CHANGE_INSERT);
		ck_assert_str_eq(ch.after, "{\"a\":\"1\"}");
		if (minor == 0)
		{
			ck_assert_uint_eq(ch.size, old_size);
			ck_assert(!TP_HAS_FIELD(&ch, tp_change, text_values));
			for (size_t i = old_size; i < sizeof(buf); i++)
				ck_assert_uint_eq(buf[i], 0xa5);
		}
		else
		{
			ck_assert_uint_eq(ch.size, sizeof(tp_change));
			ck_assert(TP_HAS_FIELD(&ch, tp_change, text_values));
			ck_assert(ch.text_values);
			for (size_t i = sizeof(tp_change); i < sizeof(buf); i++)
				ck_assert_uint_eq(buf[i], 0xa5);
		}
		/* the end: size 0 whatever the minor */
		ck_assert_int_eq(ctx->host->change_next(ctx, &b, &cur, (tp_change *) buf), TP_OK);
		memcpy(&ch, buf, sizeof(ch));
		ck_assert_uint_eq(ch.size, 0);
		ctx->host->change_cursor_done(&cur);
		tp_host_ctx_free(ctx);
	}
}
END_TEST

/* One change line that must be refused, and a piece of the reason. */
typedef struct bad_line
{
	const char *line;
	const char *reason;
} bad_line;

/* The pieces of a source member, to build ones with a piece changed. */
#define SRC_WITH(members) "\"source\":{" members "}"
#define SRC_IDS "\"txid\":2,\"seq\":3,\"batch\":4"
#define SRC_NAMES "\"name\":\"n\",\"schema\":\"public\",\"table\":\"t\""
#define C_AFTER "{\"op\":\"c\",\"after\":{\"a\":1},"

static const bad_line bad_lines[] = {
	/* op */
	{"{\"after\":{}," SRC "," TS "}\n", "line 1 of the batch's data: \"op\" is missing or not a string"},
	{"{\"op\":7,\"after\":{}," SRC "," TS "}\n", "\"op\" is missing or not a string"},
	{"{\"op\":null}\n", "\"op\" is missing or not a string"},
	{"{\"op\":\"INSERT\",\"after\":{}," SRC "," TS "}\n", "unknown op \"INSERT\""},
	{"{\"op\":\"C\",\"after\":{}," SRC "," TS "}\n", "unknown op \"C\""},
	{"{\"op\":\"c\\u0000\",\"after\":{}," SRC "," TS "}\n", "unknown op \"c\""},
	/* source */
	{C_AFTER TS "}\n", "\"source\" is missing or not a JSON object"},
	{C_AFTER "\"source\":\"db\"," TS "}\n", "\"source\" is missing or not a JSON object"},
	{C_AFTER "\"source\":null," TS "}\n", "\"source\" is missing or not a JSON object"},
	{C_AFTER SRC_WITH("\"schema\":\"p\",\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.name\" is missing or not a string"},
	{C_AFTER SRC_WITH("\"name\":3,\"schema\":\"p\",\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.name\" is missing or not a string"},
	{C_AFTER SRC_WITH("\"name\":\"\",\"schema\":\"p\",\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.name\" is empty"},
	{C_AFTER SRC_WITH("\"name\":\"a\\u0000b\",\"schema\":\"p\",\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.name\" is a string with a NUL character"},
	{C_AFTER SRC_WITH("\"name\":\"n\",\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.schema\" is missing or not a string"},
	{C_AFTER SRC_WITH("\"name\":\"n\",\"schema\":[],\"table\":\"t\"," SRC_IDS) "," TS "}\n",
	"\"source.schema\" is missing or not a string"},
	{C_AFTER SRC_WITH("\"name\":\"n\",\"schema\":\"p\"," SRC_IDS) "," TS "}\n",
	"\"source.table\" is missing or not a string"},
	{C_AFTER SRC_WITH("\"name\":\"n\",\"schema\":\"p\",\"table\":\"\"," SRC_IDS) "," TS "}\n",
	"\"source.table\" is empty"},
	{"{\"op\":\"t\"," SRC_WITH("\"name\":\"n\",\"schema\":\"p\",\"table\":null," SRC_IDS) "," TS "}\n",
	"\"source.table\" is missing or not a string"},
	{"{\"op\":\"ddl\",\"ddl\":{}," SRC_WITH("\"name\":\"n\",\"schema\":\"p\",\"table\":3," SRC_IDS) "," TS "}\n",
	"\"source.table\" is missing or not a string"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":\"2\",\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":2.0,\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":1e3,\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":-1,\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is negative"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":9223372036854775808,\"seq\":3,\"batch\":4") "," TS "}\n",
	"\"source.txid\" is out of the 64-bit range"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":2,\"batch\":4") "," TS "}\n",
	"\"source.seq\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":2,\"seq\":-3,\"batch\":4") "," TS "}\n",
	"\"source.seq\" is negative"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":2,\"seq\":3") "," TS "}\n",
	"\"source.batch\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES ",\"txid\":2,\"seq\":3,\"batch\":null") "," TS "}\n",
	"\"source.batch\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES "," SRC_IDS ",\"stmt\":\"1\"") "," TS "}\n",
	"\"source.stmt\" is missing or not an integer"},
	{C_AFTER SRC_WITH(SRC_NAMES "," SRC_IDS ",\"stmt\":-1") "," TS "}\n",
	"\"source.stmt\" is negative"},
	{C_AFTER SRC_WITH(SRC_NAMES "," SRC_IDS ",\"stmt\":1.5") "," TS "}\n",
	"\"source.stmt\" is missing or not an integer"},
	/* ts_ms */
	{C_AFTER SRC "}\n", "\"ts_ms\" is missing or not an integer"},
	{C_AFTER SRC ",\"ts_ms\":\"5\"}\n", "\"ts_ms\" is missing or not an integer"},
	{C_AFTER SRC ",\"ts_ms\":5.5}\n", "\"ts_ms\" is missing or not an integer"},
	{C_AFTER SRC ",\"ts_ms\":-92233720368547758080}\n", "\"ts_ms\" is out of the 64-bit range"},
	/* before, after and ddl by op */
	{"{\"op\":\"u\",\"before\":[1],\"after\":{}," SRC "," TS "}\n", "\"before\" is not a JSON object or null"},
	{"{\"op\":\"c\",\"after\":\"x\"," SRC "," TS "}\n", "\"after\" is not a JSON object or null"},
	{"{\"op\":\"c\",\"after\":0," SRC "," TS "}\n", "\"after\" is not a JSON object or null"},
	{"{\"op\":\"c\"," SRC "," TS "}\n", "an insert (\"c\") has no \"after\""},
	{"{\"op\":\"c\",\"after\":null," SRC "," TS "}\n", "an insert (\"c\") has no \"after\""},
	{"{\"op\":\"c\",\"before\":{},\"after\":{}," SRC "," TS "}\n", "an insert (\"c\") must have a null or absent \"before\""},
	{"{\"op\":\"u\",\"after\":{}," SRC "," TS "}\n", "an update (\"u\") has no \"before\""},
	{"{\"op\":\"u\",\"before\":{}," SRC "," TS "}\n", "an update (\"u\") has no \"after\""},
	{"{\"op\":\"d\"," SRC "," TS "}\n", "a delete (\"d\") has no \"before\""},
	{"{\"op\":\"d\",\"before\":{},\"after\":{}," SRC "," TS "}\n", "a delete (\"d\") must have a null or absent \"after\""},
	{"{\"op\":\"t\",\"before\":{}," SRC "," TS "}\n", "a truncate (\"t\") must have a null or absent \"before\""},
	{"{\"op\":\"t\",\"after\":{}," SRC "," TS "}\n", "a truncate (\"t\") must have a null or absent \"after\""},
	{"{\"op\":\"ddl\",\"after\":{},\"ddl\":{}," SRC "," TS "}\n", "a ddl event must have a null or absent \"after\""},
	{"{\"op\":\"ddl\"," SRC "," TS "}\n", "a ddl event has no \"ddl\" object"},
	{"{\"op\":\"ddl\",\"ddl\":null," SRC "," TS "}\n", "a ddl event has no \"ddl\" object"},
	{"{\"op\":\"ddl\",\"ddl\":\"create table x ()\"," SRC "," TS "}\n", "\"ddl\" is not a JSON object or null"},
	{"{\"op\":\"c\",\"after\":{},\"ddl\":{}," SRC "," TS "}\n", "only a ddl event has a \"ddl\" member"},
	{"{\"op\":\"t\",\"ddl\":{}," SRC "," TS "}\n", "only a ddl event has a \"ddl\" member"},
	/* values: absent, or "text" on a row change */
	{C_AFTER "\"values\":1," SRC "," TS "}\n", "\"values\" is not \"text\""},
	{C_AFTER "\"values\":null," SRC "," TS "}\n", "\"values\" is not \"text\""},
	{C_AFTER "\"values\":\"json\"," SRC "," TS "}\n", "\"values\" is not \"text\""},
	{C_AFTER "\"values\":\"TEXT\"," SRC "," TS "}\n", "\"values\" is not \"text\""},
	{C_AFTER "\"values\":[\"text\"]," SRC "," TS "}\n", "\"values\" is not \"text\""},
	{"{\"op\":\"t\",\"values\":\"text\"," SRC "," TS "}\n",
	"a truncate (\"t\") must not have a \"values\" member"},
	{"{\"op\":\"ddl\",\"ddl\":{},\"values\":\"text\"," SRC "," TS "}\n",
	"a ddl event must not have a \"values\" member"},
	{C_AFTER "\"values\":\"text\",\"values\":\"text\"," SRC "," TS "}\n",
	"has a duplicate member name \"values\""},
	/* duplicate member names */
	{"{\"op\":\"t\",\"op\":\"t\"," SRC "," TS "}\n", "has a duplicate member name \"op\""},
	{"{\"op\":\"t\",\"x\":1," SRC "," TS ",\"x\":2}\n", "has a duplicate member name \"x\""},
	{"{\"op\":\"t\",\"\\u006fp\":\"t\"," SRC "," TS "}\n", "has a duplicate member name \"op\""},
	{"{\"op\":\"t\"," SRC_WITH(SRC_NAMES "," SRC_IDS ",\"txid\":2") "," TS "}\n",
	"\"source\" has a duplicate member name \"txid\""},
	{C_AFTER SRC_WITH(SRC_NAMES "," SRC_IDS ",\"lsn\":1,\"lsn\":1") "," TS "}\n",
	"\"source\" has a duplicate member name \"lsn\""},
	{"{\"op\":\"c\",\"after\":{\"a\":1,\"a\":1}," SRC "," TS "}\n", "\"after\" has a duplicate member name \"a\""},
	{"{\"op\":\"d\",\"before\":{\"a\":1,\"b\":1,\"a\":2}," SRC "," TS "}\n", "\"before\" has a duplicate member name \"a\""},
	{"{\"op\":\"ddl\",\"ddl\":{\"q\":1,\"q\":1}," SRC "," TS "}\n", "\"ddl\" has a duplicate member name \"q\""},
	/* not JSON */
	{"{\"op\":\"t\"," SRC "," TS ",}\n", "is not valid JSON: trailing comma in an object at byte"},
	{"{\"op\":\"t\"," SRC "," TS ",\"x\":\"abc}\n", "is not valid JSON: unterminated string starting at byte"},
	{C_AFTER "\"b\":\"a\\qb\"," SRC "," TS "}\n", "is not valid JSON: invalid escape \"\\q\" in a string at byte 32"},
	{"{\"op\":\"c\",\"after\":{\"a\":\"\xff\"}," SRC "," TS "}\n", "is not valid JSON: invalid UTF-8 in a string at byte 24"},
	{"{\"op\":\"c\",\"after\":{\"a\":\"\xc0\x80\"}," SRC "," TS "}\n", "invalid UTF-8"},
	{"{\"op\":\"c\",\"after\":{\"a\":012}," SRC "," TS "}\n", "is not valid JSON: invalid number: leading zero at byte 23"},
	{"{\"op\":\"c\",\"after\":{\"a\":1.}," SRC "," TS "}\n", "is not valid JSON: invalid number"},
	{"{\"op\":\"c\",\"after\":{\"a\":NaN}," SRC "," TS "}\n", "is not valid JSON: unexpected character \"N\""},
	{"{\"op\":\"c\",\"after\":{\"a\":\"\\ud800\"}," SRC "," TS "}\n", "is not valid JSON: unpaired high surrogate \\ud800"},
	{"{\"op\":\"c\",\"after\":{\"a\":\"\\udc00x\"}," SRC "," TS "}\n", "is not valid JSON: unpaired low surrogate"},
	{"{\"op\":\"c\",\"after\":{\"a\":\"tab\there\"}," SRC "," TS "}\n", "is not valid JSON: control character 0x09"},
	{"{\"op\":\"t\"," SRC "," TS "} {}\n", "is not valid JSON: unexpected data after the JSON value"},
	{"{\"op\":\"t\"," SRC "," TS "}x\n", "is not valid JSON: unexpected data after the JSON value"},
	{"[]\n", "line 1 of the batch's data is not a JSON object"},
	{"\"op\"\n", "line 1 of the batch's data is not a JSON object"},
	{"{\"op\":\"t\"," SRC "," TS "}", "does not end in a newline"},
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
	ck_assert_msg(strncmp(reason, "line 1 of the batch's data", 26) == 0,
				  "reason \"%s\" does not name the line", reason);
	ck_assert_int_ne(reason[strlen(reason) - 1], '.');
	ck_assert_uint_eq(ch.size, 0);
	ck_assert_ptr_null(ch.after);
	ck_assert_uint_eq(cur.index, 0);
	ck_assert_uint_eq(cur.offset, 0);
	tp_change_cursor_done(&cur);
}
END_TEST

/*
 * source.stmt: read when present, 0 when absent or null; and a plugin
 * built for ABI 1.0, whose tp_change ends before stmt, gets only what it
 * knows from the host's change_next (nothing written past it).
 */
START_TEST(test_change_stmt)
{
	static const char data[] =
		"{\"op\":\"u\",\"before\":{\"a\":1},\"after\":{\"a\":2},"
		SRC_WITH(SRC_NAMES "," SRC_IDS ",\"stmt\":7") "," TS "}\n"
		"{\"op\":\"u\",\"before\":{\"a\":2},\"after\":{\"a\":3},"
		SRC_WITH(SRC_NAMES "," SRC_IDS ",\"stmt\":null") "," TS "}\n"
		"{\"op\":\"u\",\"before\":{\"a\":3},\"after\":{\"a\":4}," SRC "," TS "}\n";
	tp_batch	b = make_batch(data, 3);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";
	static const tp_plugin_info info = {
		sizeof(tp_plugin_info), 1, 0, TP_PLUGIN_APPLIER, "old", "1", "", NULL, NULL
	};
	static const tp_plugin_info current_info = {
		sizeof(tp_plugin_info), TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR,
		TP_PLUGIN_APPLIER, "new", "1", "", NULL, NULL
	};
	tp_plugin	plugin = {NULL, &info, NULL, NULL};
	tp_plugin	current = {NULL, &current_info, NULL, NULL};
	tp_plan_entry entry;
	tp_config	config;
	tp_plugin_ctx *ctx;
	union
	{
		tp_change	ch;
		unsigned char bytes[sizeof(tp_change)];
	}			old;
	size_t		known = offsetof(tp_change, text_values);

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.stmt, 7);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.stmt, 0);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.stmt, 0);
	ck_assert_str_eq(ch.after, "{\"a\":4}");
	tp_change_cursor_done(&cur);

	/* through the host, for a plugin of ABI 1.0 */
	memset(&config, 0, sizeof(config));
	config.database.name = "db";
	memset(&entry, 0, sizeof(entry));
	entry.kind = TP_PLUGIN_APPLIER;
	entry.plugin = &plugin;
	ctx = tp_host_ctx_new(&config, "", &entry);
	cur = new_cursor();
	memset(old.bytes, 0xA5, sizeof(old.bytes));
	ck_assert_int_eq(ctx->host->change_next(ctx, &b, &cur, &old.ch), TP_OK);
	ck_assert_uint_eq(old.ch.size, known);
	ck_assert(TP_HAS_FIELD(&old.ch, tp_change, line_len));
	ck_assert(!TP_HAS_FIELD(&old.ch, tp_change, stmt));
	ck_assert_int_eq(old.ch.op, TP_CHANGE_UPDATE);
	ck_assert_str_eq(old.ch.after, "{\"a\":2}");
	for (size_t i = known; i < sizeof(old.bytes); i++)
		ck_assert_msg(old.bytes[i] == 0xA5, "byte %zu past a 1.0 tp_change was written", i);
	tp_change_cursor_done(&cur);

	/* and one of this ABI gets it all */
	tp_host_ctx_free(ctx);
	entry.plugin = &current;
	ctx = tp_host_ctx_new(&config, "", &entry);
	cur = new_cursor();
	ck_assert_int_eq(ctx->host->change_next(ctx, &b, &cur, &ch), TP_OK);
	ck_assert_uint_eq(ch.size, sizeof(tp_change));
	ck_assert_int_eq(ch.stmt, 7);
	tp_change_cursor_done(&cur);
	tp_host_ctx_free(ctx);
}
END_TEST

/* A line whose after's column "a" holds depth nested arrays, malloc'd. */
static char *
deep_line(int depth)
{
	static const char head[] = "{\"op\":\"c\",\"after\":{\"a\":";
	static const char tail[] = "}," SRC "," TS "}\n";
	size_t		len = strlen(head) + 2 * (size_t) depth + 1 + strlen(tail);
	char	   *s = malloc(len + 1);
	char	   *p = s;

	ck_assert_ptr_nonnull(s);
	memcpy(p, head, strlen(head));
	p += strlen(head);
	memset(p, '[', (size_t) depth);
	p += depth;
	*p++ = '1';
	memset(p, ']', (size_t) depth);
	p += depth;
	memcpy(p, tail, strlen(tail) + 1);
	return s;
}

START_TEST(test_change_depth_limit)
{
	/* the line is level 1 and after level 2: 62 arrays reach 64 */
	char	   *ok = deep_line(62);
	char	   *deep = deep_line(63);
	tp_batch	b;
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";

	b = make_batch(ok, 1);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_ptr_nonnull(strstr(ok, ch.after));
	tp_change_cursor_done(&cur);

	cur = new_cursor();
	b = make_batch(deep, 1);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason,
								 "is not valid JSON: arrays and objects nested deeper than 64 levels at byte"));
	tp_change_cursor_done(&cur);
	free(ok);
	free(deep);
}
END_TEST

START_TEST(test_change_nul_byte)
{
	char		data[] = "{\"op\":\"t\"," SRC "," TS ",\"x\":\"a b\"}\n";
	tp_batch	b = make_batch(data, 1);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256] = "";

	*strchr(data, ' ') = '\0';	/* data_len still counts the whole line */
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_str_eq(reason, "line 1 of the batch's data contains a NUL byte");
	tp_change_cursor_done(&cur);
}
END_TEST

START_TEST(test_change_second_line_bad)
{
	static const char data[] =
		"{\"op\":\"t\"," SRC "," TS "}\n"
		"{\"op\":\"c\",\"after\":{\"a\":false,}," SRC "," TS "}\n";
	tp_batch	b = make_batch(data, 2);
	tp_change_cursor cur = new_cursor();
	tp_change	ch;
	char		reason[256];

	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_OK);
	ck_assert_int_eq(ch.op, TP_CHANGE_TRUNCATE);
	ck_assert_int_eq(tp_change_next(&b, &cur, &ch, reason, sizeof(reason)), TP_ERROR);
	ck_assert_ptr_nonnull(strstr(reason, "line 2 of the batch's data is not valid JSON: trailing comma"));
	ck_assert_uint_eq(cur.index, 1);
	tp_change_cursor_done(&cur);
}
END_TEST

START_TEST(test_change_cursor_checks)
{
	static const char data[] = "{\"op\":\"t\"," SRC "," TS "}\n";
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
	tcase_add_test(tc, test_round_trip_load_rows);
	tcase_add_test(tc, test_load_rows_counted);
	tcase_add_test(tc, test_parse_borrowed);
	tcase_add_loop_test(tc, test_parse_refusals, 0,
						(int) (sizeof(bad_wires) / sizeof(bad_wires[0])));
	tcase_add_test(tc, test_parse_nul_bytes);
	tcase_add_test(tc, test_parse_small_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("change");
	tcase_add_test(tc, test_change_each_op);
	tcase_add_test(tc, test_change_exact_values);
	tcase_add_test(tc, test_change_text_values);
	tcase_add_test(tc, test_change_next_by_minor);
	tcase_add_loop_test(tc, test_change_refusals, 0,
						(int) (sizeof(bad_lines) / sizeof(bad_lines[0])));
	tcase_add_test(tc, test_change_stmt);
	tcase_add_test(tc, test_change_depth_limit);
	tcase_add_test(tc, test_change_nul_byte);
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
