/*
 * check_batch_lines.c
 *     Unit tests of the change lines built from event rows
 *     (core/batch_lines.c), on results made without a server.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "batch_lines.h"
#include "checkmain.h"

/* The columns of TP_LINES_COLUMNS, in order. */
static const char *const columns[] = {
	"id", "op", "before", "after", "ddl", "text_values", "origin",
	"schema_name", "table_name", "txid", "stmt"
};
#define N_COLUMNS ((int) (sizeof(columns) / sizeof(columns[0])))

/* An empty result with the columns of TP_LINES_COLUMNS; the caller clears it. */
static PGresult *
event_result(void)
{
	PGresult   *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[N_COLUMNS];

	ck_assert_ptr_nonnull(res);
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < N_COLUMNS; i++)
	{
		attrs[i].name = (char *) columns[i];
		attrs[i].typid = 25;	/* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	ck_assert(PQsetResultAttrs(res, N_COLUMNS, attrs));
	return res;
}

/* Set row of res to values (NULL: SQL NULL). */
static void
set_row(PGresult *res, int row, const char *const values[N_COLUMNS])
{
	for (int i = 0; i < N_COLUMNS; i++)
		ck_assert(PQsetvalue(res, row, i, (char *) values[i],
							 values[i] ? (int) strlen(values[i]) : -1));
}

/* s as tp_lines_json_string writes it; the caller frees it. */
static char *
json_string(const char *s)
{
	tp_lines	lines = {0};

	tp_lines_json_string(&lines, s);
	ck_assert_int_eq(lines.count, 0);
	ck_assert_uint_eq(lines.len, strlen(lines.data));
	return lines.data;
}

/* Escapes as to_json(text) writes them, runs between them copied whole. */
START_TEST(test_json_string)
{
	static const struct
	{
		const char *in;
		const char *out;
	}			cases[] = {
		{"", "\"\""},
		{"plain text", "\"plain text\""},
		{"a\"b\\c", "\"a\\\"b\\\\c\""},
		{"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
		{"x\001y\037z", "\"x\\u0001y\\u001fz\""},
		{"\"", "\"\\\"\""},
		{"end\\", "\"end\\\\\""},
		{"caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
		{"/ and \x7f stay", "\"/ and \x7f stay\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *got = json_string(cases[i].in);

		ck_assert_str_eq(got, cases[i].out);
		free(got);
	}
}
END_TEST

/*
 * A line of each shape: nulls, raw newlines of json text turned into
 * spaces (never of the escaped ones), the text-values flag, a ddl, an
 * origin, a statement number; a reserve of the lines' size keeps the
 * buffer from growing, and a header appended first stays ahead.
 */
START_TEST(test_lines_add)
{
	PGresult   *res = event_result();
	tp_lines	lines = {0};
	const char *row0[N_COLUMNS] = {
		"7", "INSERT", NULL, "{\"id\": 1,\n \"t\": \"a\\nb\"}", NULL, "f", NULL,
		"public", "t\"1", "100", NULL
	};
	const char *row1[N_COLUMNS] = {
		"8", "DDL", "{\"a\":\n1}", "{\"a\": 2}", "{\"kind\": \"table\"}", "t", "elsewhere",
		"s", NULL, "101", "3"
	};
	size_t		cap;

	set_row(res, 0, row0);
	set_row(res, 1, row1);
	tp_lines_append(&lines, "head\0", 5);
	tp_lines_reserve(&lines, 1024);
	cap = lines.cap;
	tp_lines_add(&lines, res, 0, "src", "42", "1700000000000");
	tp_lines_add(&lines, res, 1, "src", "42", "1700000000000");
	ck_assert_uint_eq(lines.cap, cap);
	ck_assert_int_eq(lines.count, 2);
	ck_assert_mem_eq(lines.data, "head\0", 5);
	ck_assert_str_eq(lines.data + 5,
					 "{\"op\":\"INSERT\",\"before\":null,\"after\":{\"id\": 1,  \"t\": \"a\\nb\"},"
					 "\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\\\"1\","
					 "\"txid\":100,\"seq\":7,\"batch\":42},\"ts_ms\":1700000000000}\n"
					 "{\"op\":\"DDL\",\"before\":{\"a\": 1},\"after\":{\"a\": 2},"
					 "\"values\":\"text\",\"ddl\":{\"kind\": \"table\"},"
					 "\"source\":{\"name\":\"elsewhere\",\"schema\":\"s\",\"table\":null,"
					 "\"txid\":101,\"seq\":8,\"batch\":42,\"stmt\":3},\"ts_ms\":1700000000000}\n");
	ck_assert_uint_eq(lines.len, 5 + strlen(lines.data + 5));
	free(lines.data);
	PQclear(res);
}
END_TEST

/* Without a reserve the buffer grows as it must; every byte is kept. */
START_TEST(test_lines_grow)
{
	PGresult   *res = event_result();
	tp_lines	lines = {0};
	char	   *big = malloc(100001);
	const char *row[N_COLUMNS] = {
		"1", "UPDATE", NULL, NULL, NULL, NULL, NULL, "public", "t", "5", NULL
	};

	ck_assert_ptr_nonnull(big);
	memset(big, '\n', 100000);
	big[0] = '[';
	memcpy(big + 1, "\"x\"", 3);
	big[99999] = ']';
	big[100000] = '\0';
	row[3] = big;
	set_row(res, 0, row);
	for (int i = 0; i < 3; i++)
		tp_lines_add(&lines, res, 0, "src", "1", "0");
	ck_assert_int_eq(lines.count, 3);
	ck_assert_ptr_null(memchr(lines.data, '\n', 100000));
	ck_assert_uint_eq(strlen(lines.data), lines.len);
	for (size_t i = 0, n = 0; i < lines.len; i++)
	{
		if (lines.data[i] == '\n')
			n++;
		if (i + 1 == lines.len)
			ck_assert_uint_eq(n, 3);
	}
	free(lines.data);
	free(big);
	PQclear(res);
}
END_TEST

/* The suite. */
static Suite *
batch_lines_suite(void)
{
	Suite	   *s = suite_create("batch_lines");
	TCase	   *tc = tcase_create("lines");

	tcase_add_test(tc, test_json_string);
	tcase_add_test(tc, test_lines_add);
	tcase_add_test(tc, test_lines_grow);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(batch_lines_suite());
}
