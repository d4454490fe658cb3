/*
 * check_values.c
 *     Exact values end to end: a real source teleport captures a table with
 *     a column of every built-in type kind (numeric with 40+ digits and NaN,
 *     integer extremes, float specials and shortest-exact digits, arrays
 *     multi-dimensional with NULLs, nested composites, enums, json, jsonb,
 *     bytea of all 256 bytes, date/time types with infinities and BC dates,
 *     intervals, uuid, network types, ranges and multiranges, bit strings,
 *     text search types, geometric types, xml, money, oid, pg_lsn, Unicode
 *     outside the BMP and combining characters), written by a session
 *     whose TimeZone, DateStyle, IntervalStyle and extra_float_digits are
 *     not the pinned ones; a real target teleport applies it over http with
 *     the postgres applier into apply_schema "copy". Rows are inserted,
 *     updated (a key change too) and deleted; then the target's rows,
 *     copied next to the source's, must match with EXCEPT both ways over
 *     the typed columns that have equality and over every row's text.
 *
 *     Known losses, left out of the rows here (not fixed: the capture
 *     renders rows with row_to_json and the applier reads them with
 *     json_populate_recordset):
 *     - a json or jsonb value that is the JSON literal null arrives as SQL
 *       NULL (row_to_json renders both as null);
 *     - a json value containing the escape \u0000 (valid in json, not in
 *       jsonb) cannot be applied: json_populate_recordset rejects any
 *       \u0000 in its input, so the batch is held;
 *     - an array whose lower bound is not 1 ('[0:1]={1,2}') arrives with
 *       lower bound 1 (row_to_json renders a JSON array);
 *     - xml's default declaration (<?xml version="1.0"?>) is dropped, as
 *       by every output of xml (pg_dump, COPY): compared by output text;
 *     - money follows lc_monetary, which neither side pins.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkmain.h"
#include "pgcluster.h"
#include "runcmd.h"

/* The shared cluster. */
static tp_cluster *cluster;

/* The token of the target's http server. */
#define TOKEN "vals-s3cret"

/* The enum and composite types (in public on both sides). */
static const char types_ddl[] =
"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ''quoted''');\n"
"CREATE TYPE inner_t AS (a int, b text);\n"
"CREATE TYPE outer_t AS (x inner_t, y numeric, z text[]);\n";

/* The table of every type, and the marker table. */
static const char tables_ddl[] =
"CREATE TABLE t (id serial PRIMARY KEY,\n"
" c_num numeric, c_i2 int2, c_i4 int4, c_i8 int8, c_f4 float4, c_f8 float8,\n"
" c_ia int[], c_ta text[], c_fa float8[], c_comp outer_t, c_compa inner_t[], c_enum mood, c_enuma mood[],\n"
" c_json json, c_jsonb jsonb, c_bytea bytea,\n"
" c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_tsa timestamptz[],\n"
" c_iv interval, c_uuid uuid, c_inet inet, c_cidr cidr, c_mac macaddr, c_mac8 macaddr8,\n"
" c_i4r int4range, c_tsr tsrange, c_tstzr tstzrange, c_numr numrange, c_mr int4multirange,\n"
" c_bool bool, c_char char(5), c_vc varchar(20), c_text text, c_money money,\n"
" c_bit bit(5), c_vbit varbit, c_tsv tsvector, c_tsq tsquery,\n"
" c_point point, c_box box, c_poly polygon, c_line line, c_lseg lseg, c_path path, c_circle circle,\n"
" c_xml xml, c_oid oid, c_lsn pg_lsn);\n"
"CREATE TABLE marker (label text PRIMARY KEY);\n";

/* The rows: extremes, specials, empties and NULLs of every type. */
static const char rows_sql[] =
"INSERT INTO t (c_num, c_i2, c_i4, c_i8, c_f4, c_f8, c_ia, c_ta, c_fa, c_comp, c_compa, c_enum, c_enuma,\n"
" c_json, c_jsonb, c_bytea, c_date, c_time, c_timetz, c_ts, c_tstz, c_tsa, c_iv, c_uuid, c_inet, c_cidr,\n"
" c_mac, c_mac8, c_i4r, c_tsr, c_tstzr, c_numr, c_mr, c_bool, c_char, c_vc, c_text, c_money, c_bit, c_vbit,\n"
" c_tsv, c_tsq, c_point, c_box, c_poly, c_line, c_lseg, c_path, c_circle, c_xml, c_oid, c_lsn) VALUES\n"
"('1234567890123456789012345678901234567890.123456789012345678901234567890', 32767, 2147483647,\n"
" 9223372036854775807, 3.4028235e38, 1.7976931348623157e308,\n"
" '{{1,NULL,3},{NULL,5,-2147483648}}', ARRAY['a\"b', 'c,d', '{e}', 'f\\g', NULL, 'NULL', '', ' sp '],\n"
" '{NaN,Infinity,-Infinity,-0,0.1,5e-324}', ROW(ROW(1, 'x\"y'), 1.50, ARRAY['p', NULL])::outer_t,\n"
" ARRAY[ROW(1, 'a')::inner_t, NULL, ROW(NULL, NULL)::inner_t], 'happy ''quoted''', '{sad,ok}',\n"
" '{\"b\" :  1, \"b\": 2,   \"s\": \"\\u00e9\"}', '{\"n\": 1.50, \"e\": 1e-20, \"big\": 123456789012345678901234567890123456789012345, \"a\": [1, \"x\", null, true]}',\n"
" (SELECT string_agg(set_byte('\\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g),\n"
" 'infinity', '23:59:59.999999', '00:00:01.5-14:59', '294276-12-31 23:59:59.999999', 'infinity',\n"
" ARRAY['infinity', '-infinity', '2000-02-29 12:00:00.000001+05:45']::timestamptz[],\n"
" '1 year 2 mons -3 days 04:05:06.789012', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1/64', '10.0.0.0/8',\n"
" '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 'empty', '[2020-01-01 00:00:00.5,)', '(,infinity]',\n"
" '[-1234567890123456789012345678901234567890.5,0.000000000000000000001)', '{[1,3),[5,7),[10,)}',\n"
" true, 'ab', 'h' || chr(233) || 'llo', 'it''s \"q\" \\ ' || chr(233) || ' ' || chr(128512) || ' e' || chr(769) || ' ' || chr(65535) || E'\\x01\\x1f\\x7f\\t\\n\\r' || '\\u0000',\n"
" '12345678.91', B'10101', B'', 'a:1A fat:2B,4C cat:5D ''it''''s'':3', '(fat & rat) | !cat:*',\n"
" '(1.5,-2.25e-300)', '(1,2),(3,4)', '((0,0),(1,1),(1,0))', '{1,-1,0}', '[(0,0),(1e300,1)]', '[(0,0),(1,1),(2,0)]',\n"
" '<(0,0),0.5>', '<a  b=\"1\">x &amp; <![CDATA[<y>]]></a>', 4294967295, 'FFFFFFFF/FFFFFFFF'),\n"
"('-0.00000000000000000000000000000000000000000000001', -32768, -2147483648, -9223372036854775808,\n"
" 1.4e-45, 4.9406564584124654e-324, '{}', '{}', '{}', ROW(NULL, NULL, NULL)::outer_t, '{}', 'sad', '{}',\n"
" '[]', '{}', '\\x', '-infinity', '00:00', '24:00:00+15:59', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC',\n"
" '{}', '-178000000 years -2147483647 days -2562047788:00:54.775807', '00000000-0000-0000-0000-000000000000', '0.0.0.0/0', '::/0',\n"
" '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', '[,)', '[-infinity,infinity]', 'empty', '(,)', '{}', false,\n"
" '     ', '', '', '-92233720368547758.08', B'00000', B'1', '', 'a', '(0,0)', '(0,0),(0,0)', '((0,0))',\n"
" '{0,1,0}', '[(0,0),(0,0)]', '((0,0))', '<(0,0),0>', '', 0, '0/0'),\n"
"('NaN', 0, 0, 0, 'NaN', 'NaN', '{{{1}},{{2}}}', '{{\"a\",\"b\"},{NULL,\"}\"}}', '{{NaN},{-0}}', ROW(ROW(NULL, ''), 'NaN', '{}')::outer_t,\n"
" NULL, 'ok', '{NULL}', '\"just a string\"', '\"just a string\"', '\\x00', '2000-02-29', '12:34:56.789', '12:34:56+05:30',\n"
" '1999-12-31 23:59:60', '2024-03-31 02:30:00', NULL, '-1 mons +1 day -00:00:00.000001',\n"
" 'ffffffff-ffff-ffff-ffff-ffffffffffff', '192.168.1.5/24', '192.168.1.0/24', 'ff:ff:ff:ff:ff:ff', NULL,\n"
" '(1,5]', '(2020-01-01,2020-01-02)', '[2020-06-01 00:00:00+02,2020-06-02 00:00:00-02)', '[NaN,NaN]', '{[1,2],[4,5)}', NULL,\n"
" 'abcde', 'x', E'\\u3042\\u0301 \\U0001F468\\u200D\\U0001F469 \\U0010FFFF', '0', B'11111', B'0101010101', NULL, NULL,\n"
" '(Infinity,-Infinity)', NULL, NULL, NULL, NULL, NULL, NULL, '<?xml version=\"1.0\"?><r/>', NULL, NULL),\n"
"('Infinity', 1, 1, 1, '-Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '123.4500', '[1.0, 1e2, -0]', NULL,\n"
" NULL, NULL, NULL, NULL, '0001-01-01 00:00:00+00 BC', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'text only', NULL, NULL),\n"
"('-Infinity', -1, -1, -1, '-0', '-0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),\n"
"(1.000, 2, 3, 4, 0.1, 0.1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),\n"
"(0.30000000000000004, 3, 4, 5, 1.17549435e-38, 0.30000000000000004, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);\n";

/*
 * The writer's session: settings unlike the pinned ones, so that nothing
 * of the capture depends on the session that writes.
 */
#define WRITER_SESSION \
	"SET TimeZone = 'Asia/Kathmandu'; SET DateStyle = 'SQL, DMY';" \
	" SET IntervalStyle = 'sql_standard'; SET extra_float_digits = 0;" \
	" SET bytea_output = 'escape'; SET search_path = public;"

/*
 * The changes after the first load: updates of every kind of value (signs,
 * appended text, shifted times), a key change, deletes, an insert.
 */
static const char changes_sql[] =
"UPDATE t SET c_f4 = -c_f4, c_f8 = -c_f8, c_num = -c_num, c_iv = -c_iv,"
" c_text = c_text || chr(128512) || chr(776), c_i8 = c_i8 / 2,"
" c_tstz = c_tstz + interval '1 microsecond', c_ts = c_ts - interval '1 day',"
" c_ta = CASE WHEN array_ndims(c_ta) = 1 THEN c_ta || ARRAY['\"', NULL, '\\\\'] ELSE c_ta END,"
" c_bytea = c_bytea || '\\x00ff'::bytea"
" WHERE id % 2 = 1;\n"
"UPDATE t SET id = id + 100, c_enum = 'ok' WHERE id = 3;\n"
"UPDATE t SET c_comp = ROW(ROW(-1, NULL), -0.0, ARRAY[NULL, 'q,\"}'])::outer_t,"
" c_jsonb = c_jsonb || '{\"u\": \"\\ud83d\\ude00\"}', c_json = '{\"a\" : [1, 2 ]  }',"
" c_mr = '{[1,2), [3,4)}' WHERE id = 2;\n"
"DELETE FROM t WHERE id IN (5, 6);\n"
"INSERT INTO t (c_f8, c_f4, c_num) VALUES (1e-300, 1e-30, 1e-300), (1.5e300, 3e38, -1e300);\n";

/* A free port on the loopback, or the test fails. */
static int
free_port(void)
{
	int			port = tp_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

/* Run sql (printf format) in database db; fails the test on error. */
static void
exec_sqlf(const char *db, const char *fmt,...)
{
	char	   *sql = NULL;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	ck_assert_msg(tp_cluster_exec(cluster, db, sql), "SQL failed in %s: %.2000s", db, sql);
	free(sql);
}

/*
 * The one value of query sql (printf format) in database db, as a new
 * string ("(null)" for NULL); NULL when the query fails.
 */
static char *
query_valuef(const char *db, const char *fmt,...)
{
	char	   *sql = NULL;
	char	   *value = NULL;
	va_list		ap;
	PGconn	   *conn;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	conn = tp_cluster_connect(cluster, db);
	if (conn != NULL)
	{
		PGresult   *res = PQexec(conn, sql);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			value = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(conn);
	}
	free(sql);
	return value;
}

/* A teleport process under test: its config, output and log files. */
typedef struct inst
{
	char	   *config;
	char	   *out;
	char	   *log;
	pid_t		pid;
} inst;

/* Fail with msg and the tails of both instances' logs (on stderr). */
static void
fail_with_logs(const inst *src, const inst *tgt, const char *msg)
{
	const inst *both[2] = {src, tgt};

	for (int i = 0; i < 2; i++)
	{
		char	   *log = tp_read_file(both[i]->log);
		size_t		len = log ? strlen(log) : 0;

		fprintf(stderr, "===== %s log tail:\n%s\n", i == 0 ? "source" : "target",
				log == NULL ? "(none)" : log + (len > 4000 ? len - 4000 : 0));
		free(log);
	}
	ck_abort_msg("%.3000s", msg);
}

/* Start the instance, wait until its log says it runs. */
static void
inst_start(inst *in, const inst *src, const inst *tgt)
{
	char	   *argv[6];

	argv[0] = getenv("TELEPORT_BIN");
	argv[1] = "-config";
	argv[2] = in->config;
	argv[3] = "--plugin-dir";
	argv[4] = getenv("TELEPORT_PLUGIN_DIR");
	argv[5] = NULL;
	ck_assert_ptr_nonnull(argv[0]);
	ck_assert_ptr_nonnull(argv[4]);
	in->pid = tp_spawn_split(argv, NULL, in->out, in->log);
	ck_assert_int_gt(in->pid, 0);
	if (!tp_wait_for_text(in->log, " running", 30))
		fail_with_logs(src, tgt, "an instance never said it runs");
}

/* Stop the instance with SIGTERM (SIGKILL if it lingers); it must exit 0. */
static int
inst_stop(inst *in)
{
	int			status;

	if (in->pid <= 0)
		return 0;
	kill(in->pid, SIGTERM);
	status = tp_wait_exit(in->pid, 30);
	if (status < 0)
	{
		kill(in->pid, SIGKILL);
		tp_wait_exit(in->pid, 10);
	}
	in->pid = 0;
	return status;
}

/* Write the config of an instance named name on database db into dir. */
static void
inst_configure(inst *in, const char *dir, const char *name, const char *db,
			   const char *extra)
{
	char		text[4096];
	char		file[64];

	snprintf(text, sizeof(text),
			 "replicate_ddl: false\n"
			 "processing_intervals:\n"
			 "  batcher: 50\n"
			 "  transmitter: 50\n"
			 "  applier: 50\n"
			 "  vacuum: 500\n"
			 "  ddlwatcher: 1000\n"
			 "database:\n"
			 "  name: \"%s\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"postgres\"\n"
			 "%s",
			 name, db, cluster->dir, cluster->port, extra);
	snprintf(file, sizeof(file), "%s.yml", name);
	in->config = tp_write_file(dir, file, text);
	ck_assert_ptr_nonnull(in->config);
	ck_assert_int_ge(asprintf(&in->out, "%s/%s.out", dir, name), 0);
	ck_assert_int_ge(asprintf(&in->log, "%s/%s.log", dir, name), 0);
}

/*
 * Wait until the source's capture is installed (t and marker have their
 * triggers and the queue knows the target).
 */
static void
wait_capture(const inst *src, const inst *tgt)
{
	for (int i = 0; i < 300; i++)
	{
		char	   *ok = query_valuef("vals_src",
									  "SELECT (SELECT count(DISTINCT t.tgrelid) FROM pg_trigger t"
									  " WHERE t.tgrelid IN ('public.t'::regclass, 'public.marker'::regclass)"
									  " AND t.tgname = 'teleport_capture_truncate') = 2"
									  " AND to_regclass('teleport.target') IS NOT NULL"
									  " AND (SELECT count(*) FROM teleport.target) = 1");
		bool		done = ok != NULL && strcmp(ok, "t") == 0;

		free(ok);
		if (done)
			return;
		usleep(100000);
	}
	fail_with_logs(src, tgt, "capture was never installed");
}

/* Insert marker label on the source and wait until the target has it. */
static void
wait_marker(const inst *src, const inst *tgt, const char *label)
{
	exec_sqlf("vals_src", "INSERT INTO public.marker VALUES ('%s')", label);
	for (int i = 0; i < 300; i++)
	{
		char	   *n = query_valuef("vals_tgt",
									 "SELECT count(*) FROM copy.marker WHERE label = '%s'", label);
		bool		done = n != NULL && strcmp(n, "1") == 0;

		free(n);
		if (done)
			return;
		usleep(100000);
	}
	fail_with_logs(src, tgt, "the marker never reached the target");
}

/*
 * The query listing, column by column, every value that differs between
 * public.t and tp_cmp.t (the target's rows) by output text: "id column:
 * sent X, received Y" lines, or "" when none. A new string.
 */
static char *
column_diffs(void)
{
	char	   *q = query_valuef("vals_src",
								 "SELECT string_agg(format('SELECT format(%%L, id, s.%%I, c.%%I)"
								 " FROM public.t s FULL JOIN tp_cmp.t c USING (id)"
								 " WHERE ROW(s.%%I)::text IS DISTINCT FROM ROW(c.%%I)::text',"
								 " '%%s ' || attname || ': sent %%s, received %%s',"
								 " attname, attname, attname, attname), ' UNION ALL ')"
								 " FROM pg_attribute WHERE attrelid = 'public.t'::regclass"
								 " AND attnum > 1 AND NOT attisdropped");
	char	   *diffs;

	ck_assert_ptr_nonnull(q);
	diffs = query_valuef("vals_src", "SELECT coalesce(string_agg(d, E'\\n'), '') FROM (%s) x(d)", q);
	ck_assert_ptr_nonnull(diffs);
	free(q);
	return diffs;
}

/*
 * Every type round-trips: the target's rows (copied back next to the
 * source's) equal the source's by typed EXCEPT both ways over the columns
 * with equality, and by EXCEPT both ways over every row's text (which
 * also tells -0 from 0, 1.50 from 1.5, and covers json, xml and the
 * geometric types, which have no equality).
 */
START_TEST(test_every_type)
{
	char	   *dir;
	inst		src = {0};
	inst		tgt = {0};
	char		extra[1024];
	char	   *conninfo;
	char	   *n;
	char	   *diffs;
	int			port = free_port();
	static const char eq_cols[] =
		"id, c_num, c_i2, c_i4, c_i8, c_f4, c_f8, c_ia, c_ta, c_fa, c_comp, c_compa,"
		" c_enum, c_enuma, c_jsonb, c_bytea, c_date, c_time, c_timetz, c_ts, c_tstz, c_tsa,"
		" c_iv, c_uuid, c_inet, c_cidr, c_mac, c_mac8, c_i4r, c_tsr, c_tstzr, c_numr, c_mr,"
		" c_bool, c_char, c_vc, c_text, c_money, c_bit, c_vbit, c_tsv, c_tsq, c_oid, c_lsn";

	dir = tp_cluster_make_dir(cluster, "vals");
	ck_assert_ptr_nonnull(dir);
	conninfo = tp_cluster_create_db(cluster, "vals_src");
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	conninfo = tp_cluster_create_db(cluster, "vals_tgt");
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	exec_sqlf("vals_src", "SET search_path = public; %s %s", types_ddl, tables_ddl);
	exec_sqlf("vals_tgt", "SET search_path = public; %s CREATE SCHEMA copy;"
			  " SET search_path = copy, public; %s", types_ddl, tables_ddl);

	snprintf(extra, sizeof(extra),
			 "server:\n"
			 "  hostname: \"127.0.0.1\"\n"
			 "  port: %d\n"
			 "  token: \"%s\"\n"
			 "applier: postgres\n", port, TOKEN);
	inst_configure(&tgt, dir, "tgt", "vals_tgt", extra);
	snprintf(extra, sizeof(extra),
			 "targets:\n"
			 "  tgt:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: \"copy\"\n"
			 "    endpoint:\n"
			 "      hostname: \"127.0.0.1\"\n"
			 "      port: %d\n"
			 "      token: \"%s\"\n", port, TOKEN);
	inst_configure(&src, dir, "src", "vals_src", extra);
	inst_start(&tgt, &src, &tgt);
	inst_start(&src, &src, &tgt);
	wait_capture(&src, &tgt);

	/* the rows, then the changes, each in a writer's odd session */
	exec_sqlf("vals_src", WRITER_SESSION "%s", rows_sql);
	exec_sqlf("vals_src", WRITER_SESSION "%s", changes_sql);
	wait_marker(&src, &tgt, "values-done");

	/* the target's rows next to the source's */
	exec_sqlf("vals_src", "CREATE SCHEMA tp_cmp; CREATE TABLE tp_cmp.t (LIKE public.t)");
	tp_cluster_copy_rows(cluster, "vals_tgt", "SELECT * FROM copy.t", cluster, "vals_src", "tp_cmp.t");

	n = query_valuef("vals_src", "SELECT count(*) FROM public.t");
	ck_assert_str_eq(n, "7");
	free(n);
	diffs = column_diffs();
	n = query_valuef("vals_src",
					 "SELECT (SELECT count(*) FROM (SELECT %s FROM public.t"
					 "  EXCEPT SELECT %s FROM tp_cmp.t) a)"
					 " || ' ' || (SELECT count(*) FROM (SELECT %s FROM tp_cmp.t"
					 "  EXCEPT SELECT %s FROM public.t) b)"
					 " || ' ' || (SELECT count(*) FROM (SELECT s::text FROM public.t s"
					 "  EXCEPT SELECT c::text FROM tp_cmp.t c) d)"
					 " || ' ' || (SELECT count(*) FROM (SELECT c::text FROM tp_cmp.t c"
					 "  EXCEPT SELECT s::text FROM public.t s) e)"
					 " || ' ' || (SELECT count(*) FROM tp_cmp.t)",
					 eq_cols, eq_cols, eq_cols, eq_cols);
	ck_assert_ptr_nonnull(n);
	if (strcmp(n, "0 0 0 0 7") != 0 || diffs[0] != '\0')
	{
		char	   *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "values differ (typed EXCEPT source-target, target-source,"
								  " text EXCEPT both ways, target rows): %s\n%s", n, diffs), 0);
		fail_with_logs(&src, &tgt, msg);
	}
	free(n);
	free(diffs);

	ck_assert_int_eq(inst_stop(&src), 0);
	ck_assert_int_eq(inst_stop(&tgt), 0);
	free(src.config);
	free(src.out);
	free(src.log);
	free(tgt.config);
	free(tgt.out);
	free(tgt.log);
	tp_remove_tree(dir);
	free(dir);
}
END_TEST

/* The unchecked fixture: the shared cluster (skips without PostgreSQL). */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* The suite. */
static Suite *
values_suite(void)
{
	Suite	   *s = suite_create("values");
	TCase	   *tc = tcase_create("every_type");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_every_type);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(values_suite());
}
