/*
 * check_capture.c
 *     Change capture end to end: the real teleport binary runs as a source
 *     against a throwaway cluster, captures with the trigger plugin, cuts
 *     batches with the tick algorithm and writes them through the file or
 *     stdout transport. The tests replay what arrived into a copy of the
 *     tables and compare the copy with the source in SQL, so that a change
 *     missed, repeated or reordered shows as a difference.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "deadline.h"
#include "pgcluster.h"
#include "runcmd.h"

static tp_cluster *cluster;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* A source instance under test. */
typedef struct source
{
	char	   *dir;
	char	   *spool;
	char	   *out;			/* teleport's stdout */
	char	   *log;			/* teleport's stderr */
	char	   *config;
	char	   *db;
	pid_t		pid;
} source;

/* Run sql in the test's database; fails the test on error. */
static void
exec_sql(const source *src, const char *sql)
{
	ck_assert_msg(tp_cluster_exec(cluster, src->db, sql), "SQL failed: %s", sql);
}

/* One value of a query in the test's database, as a new string. */
static char *
query_value(const source *src, const char *sql)
{
	PGconn	   *conn = tp_cluster_connect(cluster, src->db);
	PGresult   *res;
	char	   *value;

	ck_assert_ptr_nonnull(conn);
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1,
				  "%s: %s", sql, PQerrorMessage(conn));
	value = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return value;
}

/*
 * Create database db with the given tables, and write the config of a
 * source instance on it whose one target "t1" uses transport (file into
 * dir/spool, or stdout) and selects expressions (YAML flow text).
 */
static void
source_prepare(source *src, const char *db, const char *tables,
			   const char *transport, const char *expressions,
			   const char *db_user_yaml)
{
	char		text[4096];
	char	   *conninfo;

	memset(src, 0, sizeof(*src));
	src->db = strdup(db);
	conninfo = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	if (tables != NULL)
		exec_sql(src, tables);
	src->dir = tp_make_temp_dir("tp-capture");
	ck_assert_ptr_nonnull(src->dir);
	src->spool = malloc(strlen(src->dir) + 16);
	src->out = malloc(strlen(src->dir) + 16);
	src->log = malloc(strlen(src->dir) + 16);
	sprintf(src->spool, "%s/spool", src->dir);
	sprintf(src->out, "%s/out", src->dir);
	sprintf(src->log, "%s/log", src->dir);
	snprintf(text, sizeof(text),
			 "max_events_per_batch: 300\n"
			 "replicate_ddl: false\n"
			 "processing_intervals:\n"
			 "  batcher: 50\n"
			 "  transmitter: 50\n"
			 "  vacuum: 200\n"
			 "  ddlwatcher: 200\n"
			 "database:\n"
			 "  name: \"src\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "%s"
			 "targets:\n"
			 "  t1:\n"
			 "    target_expression: %s\n"
			 "    apply_schema: \"copy\"\n"
			 "    transport: %s\n"
			 "%s",
			 db, cluster->dir, cluster->port,
			 db_user_yaml ? db_user_yaml : "  username: \"postgres\"\n",
			 expressions, transport,
			 strcmp(transport, "file") == 0 ? "    options:\n      directory: " : "");
	if (strcmp(transport, "file") == 0)
	{
		strcat(text, "\"");
		strcat(text, src->spool);
		strcat(text, "\"\n");
	}
	src->config = tp_write_file(src->dir, "source.yml", text);
	ck_assert_ptr_nonnull(src->config);
}

/* Start teleport on the prepared config. */
static void
source_start(source *src)
{
	char	   *argv[] = {getenv("TELEPORT_BIN"), "-config", src->config, NULL};

	src->pid = tp_spawn_split(argv, NULL, src->out, src->log);
	ck_assert_int_gt(src->pid, 0);
}

/* Wait until the capture trigger is on table (a regclass text). */
static void
wait_for_trigger(const source *src, const char *table)
{
	char		sql[512];

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass "
			 "AND (tgname = 'teleport_capture' OR tgname ~ '^teleport_capture_root_[0-9]+$')", table);
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *n = query_value(src, sql);
		bool		done = strcmp(n, "1") == 0;

		free(n);
		if (done)
			return;
		usleep(100000);
	}
	{
		char	   *log = tp_read_file(src->log);

		ck_abort_msg("no capture trigger on %s in time; log:\n%s", table, log);
	}
}

/* Stop teleport with SIGTERM; it must exit 0. */
static void
source_stop(source *src)
{
	int			status;

	if (src->pid <= 0)
		return;
	kill(src->pid, SIGTERM);
	status = tp_wait_exit(src->pid, 20);
	if (status < 0)
		kill(src->pid, SIGKILL);
	src->pid = 0;
	if (status != 0)
	{
		char	   *log = tp_read_file(src->log);

		ck_abort_msg("teleport exited with %d; log:\n%s", status, log);
	}
}

/* Free what src holds and remove its files. */
static void
source_free(source *src)
{
	if (src->pid > 0)
	{
		kill(src->pid, SIGKILL);
		tp_wait_exit(src->pid, 10);
	}
	tp_remove_tree(src->dir);
	free(src->dir);
	free(src->spool);
	free(src->out);
	free(src->log);
	free(src->config);
	free(src->db);
}

/* The spool's batch files, sorted (their names sort in seq order). */
static char **
spool_files(const source *src, size_t *n)
{
	DIR		   *d = opendir(src->spool);
	struct dirent *de;
	char	  **names = NULL;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 6, ".batch") != 0)
			continue;
		{
			char	  **more = realloc(names, (*n + 1) * sizeof(char *));

			ck_assert_ptr_nonnull(more);
			names = more;
		}
		names[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < *n; i++)
	{
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--)
		{
			char	   *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	}
	return names;
}

/* Whether any spooled batch mentions needle. */
static bool
spool_contains(const source *src, const char *needle)
{
	size_t		n;
	char	  **names = spool_files(src, &n);
	bool		found = false;

	for (size_t i = 0; i < n; i++)
	{
		char		path[4096];
		char	   *text;

		snprintf(path, sizeof(path), "%s/%s", src->spool, names[i]);
		text = tp_read_file(path);
		found = found || tp_contains(text, needle);
		free(text);
		free(names[i]);
	}
	free(names);
	return found;
}

/* Wait until a spooled batch mentions needle. */
static void
wait_for_spooled(const source *src, const char *needle, int timeout_s)
{
	for (double end = tp_deadline(timeout_s); tp_before(end);)
	{
		if (spool_contains(src, needle))
			return;
		usleep(100000);
	}
	{
		char	   *log = tp_read_file(src->log);

		ck_abort_msg("\"%s\" never arrived in the spool; log:\n%s", needle, log);
	}
}

/* A replay target: the copy tables live in schema copy of the same db. */
typedef struct replay
{
	PGconn	   *conn;
	uint64_t	next_seq;
	uint64_t	changes;
} replay;

/* Run one parameterised statement of the replay; fails the test on error. */
static void
replay_exec(replay *r, const char *sql, int n, const char *const *params)
{
	PGresult   *res = PQexecParams(r->conn, sql, n, NULL, params, NULL, NULL, 0);

	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
				  PQresultStatus(res) == PGRES_TUPLES_OK,
				  "replay: %s: %s", sql, PQerrorMessage(r->conn));
	PQclear(res);
}

/*
 * Apply one change to copy.TABLE: the test's own small applier. Keys come
 * from the "before" object, rows from "after" through json_populate_record
 * (json, so every digit survives); an update deletes the old key first so
 * that a key change moves the row.
 */
static void
replay_change(replay *r, const tp_change *c)
{
	char		sql[1024];
	const char *params[2];

	ck_assert_str_eq(c->schema, "public");
	if (c->op == TP_CHANGE_TRUNCATE)
	{
		snprintf(sql, sizeof(sql), "TRUNCATE copy.%s", c->table);
		replay_exec(r, sql, 0, NULL);
		return;
	}
	if (c->op == TP_CHANGE_UPDATE || c->op == TP_CHANGE_DELETE)
	{
		/* delete the row whose key columns equal those of before */
		snprintf(sql, sizeof(sql),
				 "DELETE FROM copy.%s t USING json_populate_record(NULL::copy.%s, $1::json) k "
				 "WHERE (SELECT bool_and(to_jsonb(t) -> key = to_jsonb(k) -> key) "
				 "FROM json_object_keys($1::json) key)",
				 c->table, c->table);
		params[0] = c->before;
		replay_exec(r, sql, 1, params);
	}
	if (c->op == TP_CHANGE_INSERT || c->op == TP_CHANGE_UPDATE)
	{
		snprintf(sql, sizeof(sql),
				 "INSERT INTO copy.%s SELECT * FROM json_populate_record(NULL::copy.%s, $1::json)",
				 c->table, c->table);
		params[0] = c->after;
		replay_exec(r, sql, 1, params);
	}
	r->changes++;
}

/* Replay every spooled batch in seq order; seqs must be 1, 2, 3 ... */
static void
replay_spool(const source *src, replay *r)
{
	size_t		n;
	char	  **names = spool_files(src, &n);

	for (size_t i = 0; i < n; i++)
	{
		char		path[4096];
		char	   *text;
		tp_batch   *batch;
		char		reason[256];
		tp_change_cursor cursor = {.size = sizeof(cursor)};

		snprintf(path, sizeof(path), "%s/%s", src->spool, names[i]);
		text = tp_read_file(path);
		ck_assert_msg(tp_batch_parse(text, strlen(text), &batch, reason, sizeof(reason)) == TP_OK,
					  "%s: %s", names[i], reason);
		ck_assert_msg(batch->seq == r->next_seq, "%s: seq %llu, expected %llu",
					  names[i], (unsigned long long) batch->seq,
					  (unsigned long long) r->next_seq);
		r->next_seq++;
		ck_assert_str_eq(batch->source, "src");
		ck_assert_str_eq(batch->target, "t1");
		ck_assert_str_eq(batch->apply_schema, "copy");
		for (;;)
		{
			tp_change	c;

			memset(&c, 0, sizeof(c));
			ck_assert_msg(tp_change_next(batch, &cursor, &c, reason, sizeof(reason)) == TP_OK,
						  "%s: %s", names[i], reason);
			if (c.size == 0)
				break;
			ck_assert_int_eq(c.batch, (int64_t) batch->seq);
			ck_assert_str_eq(c.origin, "src");
			replay_change(r, &c);
		}
		tp_change_cursor_done(&cursor);
		tp_batch_free(batch);
		free(text);
		free(names[i]);
	}
	free(names);
}

/* Replay the spool into copy.* and require each table to equal the source. */
static void
assert_replay_equal(const source *src, const char *const *tables)
{
	replay		r = {0};
	char		sql[512];

	r.conn = tp_cluster_connect(cluster, src->db);
	r.next_seq = 1;
	ck_assert_ptr_nonnull(r.conn);
	replay_spool(src, &r);
	for (size_t i = 0; tables[i] != NULL; i++)
	{
		char	   *diff;

		snprintf(sql, sizeof(sql),
				 "SELECT count(*) FROM ((TABLE public.%s EXCEPT ALL TABLE copy.%s) "
				 "UNION ALL (TABLE copy.%s EXCEPT ALL TABLE public.%s)) d",
				 tables[i], tables[i], tables[i], tables[i]);
		diff = query_value(src, sql);
		ck_assert_msg(strcmp(diff, "0") == 0, "table %s: %s rows differ after replaying %llu changes",
					  tables[i], diff, (unsigned long long) r.changes);
		free(diff);
	}
	PQfinish(r.conn);
}

/* Make copy.TABLE for each table, like the source's. */
static void
make_copies(const source *src, const char *const *tables)
{
	char		sql[512];

	exec_sql(src, "CREATE SCHEMA IF NOT EXISTS copy");
	for (size_t i = 0; tables[i] != NULL; i++)
	{
		snprintf(sql, sizeof(sql),
				 "CREATE TABLE copy.%s (LIKE public.%s INCLUDING ALL)", tables[i], tables[i]);
		exec_sql(src, sql);
	}
}

/* Write a marker row and wait until its batch has been spooled. */
static void
drain(const source *src, const char *label)
{
	char		sql[256];
	char		needle[128];

	snprintf(sql, sizeof(sql), "INSERT INTO public.marker VALUES ('%s')", label);
	exec_sql(src, sql);
	snprintf(needle, sizeof(needle), "\"label\":\"%s\"", label);
	wait_for_spooled(src, needle, 60);
}

START_TEST(test_stdout_is_a_cdc_tool)
{
	source		src;
	char	   *out;
	tp_batch	batch = {.size = sizeof(tp_batch), .format = TELEPORT_BATCH_FORMAT};
	tp_change_cursor cursor = {.size = sizeof(cursor)};
	tp_change	c;
	char		reason[256];
	int			seen = 0;

	source_prepare(&src, "cap_stdout",
				   "CREATE TABLE public.t (id int PRIMARY KEY, v text, f float8, n numeric)",
				   "stdout", "\"public.*\"", NULL);
	source_start(&src);
	wait_for_trigger(&src, "public.t");
	exec_sql(&src, "INSERT INTO public.t VALUES (1, 'snow ☃ \U0001F600 \"q\"', '-0', 123456789012345678901234567890.123456789012345)");
	exec_sql(&src, "UPDATE public.t SET id = 2, f = 'NaN' WHERE id = 1");
	exec_sql(&src, "DELETE FROM public.t WHERE id = 2");
	ck_assert_msg(tp_wait_for_text(src.out, "\"op\":\"d\"", 30), "no delete on stdout");
	source_stop(&src);

	out = tp_read_file(src.out);
	batch.data = out;
	batch.data_len = strlen(out);
	for (const char *p = out; *p != '\0'; p++)
		batch.n_changes += *p == '\n';
	ck_assert_int_eq(batch.n_changes, 3);
	while (tp_change_next(&batch, &cursor, &c, reason, sizeof(reason)) == TP_OK && c.size != 0)
	{
		ck_assert_str_eq(c.table, "t");
		ck_assert_str_eq(c.origin, "src");
		switch (seen++)
		{
			case 0:
				ck_assert_int_eq(c.op, TP_CHANGE_INSERT);
				ck_assert_ptr_null(c.before);
				ck_assert_str_eq(c.after, "{\"id\":1,\"v\":\"snow ☃ \U0001F600 \\\"q\\\"\",\"f\":-0,\"n\":123456789012345678901234567890.123456789012345}");
				break;
			case 1:
				ck_assert_int_eq(c.op, TP_CHANGE_UPDATE);
				ck_assert_str_eq(c.before, "{\"id\":1}");
				ck_assert(tp_contains(c.after, "\"id\":2"));
				ck_assert(tp_contains(c.after, "\"f\":\"NaN\""));
				break;
			default:
				ck_assert_int_eq(c.op, TP_CHANGE_DELETE);
				ck_assert_str_eq(c.before, "{\"id\":2}");
				ck_assert_ptr_null(c.after);
				break;
		}
	}
	ck_assert_int_eq(seen, 3);
	tp_change_cursor_done(&cursor);
	free(out);
	source_free(&src);
}
END_TEST

/* One writer process: ops random changes on public.acct, each committed. */
static void
writer(const source *src, int id, int ops)
{
	PGconn	   *conn = tp_cluster_connect(cluster, src->db);
	unsigned	seed = (unsigned) (id * 7919 + 17);

	if (conn == NULL)
		_exit(2);
	for (int i = 0; i < ops; i++)
	{
		char		sql[256];
		int			key = (int) (rand_r(&seed) % 60) + 1;
		int			what = (int) (rand_r(&seed) % 10);
		PGresult   *res;

		if (what < 5)
			snprintf(sql, sizeof(sql),
					 "INSERT INTO public.acct VALUES (%d, %d.%03d, 'w%d') ON CONFLICT (id) "
					 "DO UPDATE SET balance = acct.balance + 1, note = 'w%d'",
					 key, i, id, id, id);
		else if (what < 8)
			snprintf(sql, sizeof(sql),
					 "UPDATE public.acct SET balance = balance * 2 + 0.5, note = note || '%d' WHERE id = %d",
					 id, key);
		else
			snprintf(sql, sizeof(sql), "DELETE FROM public.acct WHERE id = %d", key);
		res = PQexec(conn, sql);
		/* serialization under contention is expected; anything else is not */
		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "writer %d: %s", id, PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			_exit(3);
		}
		PQclear(res);
	}
	PQfinish(conn);
	_exit(0);
}

START_TEST(test_concurrent_writers_replay)
{
	static const char *const tables[] = {"acct", "marker", NULL};
	source		src;
	pid_t		writers[8];
	PGconn	   *longtx;
	PGresult   *res;

	source_prepare(&src, "cap_concurrent",
				   "CREATE TABLE public.acct (id int PRIMARY KEY, balance numeric, note text);"
				   "CREATE TABLE public.marker (label text PRIMARY KEY)",
				   "file", "\"public.*\"", NULL);
	make_copies(&src, tables);
	source_start(&src);
	wait_for_trigger(&src, "public.acct");
	wait_for_trigger(&src, "public.marker");

	/* a long transaction that starts first and commits after the others */
	longtx = tp_cluster_connect(cluster, src.db);
	ck_assert_ptr_nonnull(longtx);
	res = PQexec(longtx, "BEGIN; INSERT INTO public.acct VALUES (1000, 1, 'long'), (1001, 2, 'long')");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	for (int i = 0; i < 8; i++)
	{
		writers[i] = fork();
		ck_assert_int_ge(writers[i], 0);
		if (writers[i] == 0)
			writer(&src, i + 1, 150);
	}
	/* halfway: kill teleport hard and start it again */
	usleep(700000);
	kill(src.pid, SIGKILL);
	tp_wait_exit(src.pid, 10);
	source_start(&src);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(tp_wait_exit(writers[i], 120), 0);

	/* the long transaction spans many ticks, then commits */
	res = PQexec(longtx, "UPDATE public.acct SET note = 'long-updated' WHERE id >= 1000; COMMIT");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(longtx);

	drain(&src, "concurrent-done");
	source_stop(&src);
	assert_replay_equal(&src, tables);
	ck_assert(spool_contains(&src, "long-updated"));
	source_free(&src);
}
END_TEST

START_TEST(test_keys_and_new_tables)
{
	static const char *const tables[] = {"pair", "later", "marker", NULL};
	source		src;

	source_prepare(&src, "cap_keys",
				   "CREATE TABLE public.pair (a int, b text, v numeric, PRIMARY KEY (a, b));"
				   "CREATE TABLE public.marker (label text PRIMARY KEY)",
				   "file", "\"public.*\"", NULL);
	source_start(&src);
	wait_for_trigger(&src, "public.pair");
	exec_sql(&src, "INSERT INTO public.pair VALUES (1, 'x', 1), (2, 'y', 2), (3, 'z', 3)");
	/* a set-based key change: every key moves */
	exec_sql(&src, "UPDATE public.pair SET a = a + 1");
	exec_sql(&src, "UPDATE public.pair SET b = b || '!' WHERE a = 4");
	exec_sql(&src, "DELETE FROM public.pair WHERE a = 2");
	/* a table created while running, written before teleport notices it */
	exec_sql(&src, "CREATE TABLE public.later (id int PRIMARY KEY, v text);"
			 "INSERT INTO public.later SELECT g, 'early' FROM generate_series(1, 50) g");
	wait_for_trigger(&src, "public.later");
	exec_sql(&src, "UPDATE public.later SET v = 'late' WHERE id <= 10");
	drain(&src, "keys-done");
	source_stop(&src);
	make_copies(&src, tables);
	assert_replay_equal(&src, tables);
	source_free(&src);
}
END_TEST

START_TEST(test_partitioned_and_truncate)
{
	static const char *const tables[] = {"parted", "marker", NULL};
	source		src;
	size_t		n;
	char	  **names;
	int			part_events = 0;

	source_prepare(&src, "cap_parted",
				   "CREATE TABLE public.parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
				   "CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (100);"
				   "CREATE TABLE public.parted_2 PARTITION OF public.parted FOR VALUES FROM (100) TO (200);"
				   "CREATE TABLE public.marker (label text PRIMARY KEY)",
				   "file", "\"public.*\"", NULL);
	source_start(&src);
	wait_for_trigger(&src, "public.parted");
	exec_sql(&src, "INSERT INTO public.parted SELECT g, 'v' || g FROM generate_series(90, 110) g");
	/* moves a row across partitions */
	exec_sql(&src, "UPDATE public.parted SET id = 150 WHERE id = 95");
	exec_sql(&src, "TRUNCATE public.parted");
	exec_sql(&src, "INSERT INTO public.parted VALUES (1, 'after truncate')");
	drain(&src, "parted-done");
	source_stop(&src);

	/* captured once, under the root's name */
	names = spool_files(&src, &n);
	for (size_t i = 0; i < n; i++)
	{
		char		path[4096];
		char	   *text;

		snprintf(path, sizeof(path), "%s/%s", src.spool, names[i]);
		text = tp_read_file(path);
		ck_assert_msg(!tp_contains(text, "\"table\":\"parted_1\"") &&
					  !tp_contains(text, "\"table\":\"parted_2\""),
					  "a partition's own name was captured:\n%s", text);
		for (const char *p = text; (p = strstr(p, "\"table\":\"parted\"")) != NULL; p++)
			part_events++;
		free(text);
		free(names[i]);
	}
	free(names);
	/*
	 * 21 inserts; the update that moves a row to another partition, which
	 * PostgreSQL carries out as a delete and an insert; 1 truncate; 1 insert
	 */
	ck_assert_int_eq(part_events, 25);
	make_copies(&src, tables);
	assert_replay_equal(&src, tables);
	source_free(&src);
}
END_TEST

START_TEST(test_settings_exclusions_and_keyless)
{
	source		src;
	char	   *log;

	source_prepare(&src, "cap_settings",
				   "CREATE TABLE public.vals (id int PRIMARY KEY, ts timestamptz, d date, i interval, f float8);"
				   "CREATE TABLE public.tmp_scratch (id int PRIMARY KEY);"
				   "CREATE TABLE public.nokey (v text);"
				   "CREATE TABLE public.marker (label text PRIMARY KEY)",
				   "file", "[\"public.*\", \"!public.tmp_*\"]", NULL);
	source_start(&src);
	wait_for_trigger(&src, "public.vals");
	exec_sql(&src, "INSERT INTO public.vals VALUES (1, '2026-11-26 12:00:00.123456+00', '2026-02-03', '1 day 02:03:04.5', 0.1)");
	exec_sql(&src, "SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'; "
			 "SET extra_float_digits = -10; SET TimeZone = 'Asia/Tokyo'; "
			 "INSERT INTO public.vals VALUES (2, '2026-11-26 12:00:00.123456+00', '2026-02-03', '1 day 02:03:04.5', 0.1)");
	exec_sql(&src, "INSERT INTO public.tmp_scratch VALUES (1); INSERT INTO public.nokey VALUES ('x')");
	drain(&src, "settings-done");
	source_stop(&src);

	/* the writer's settings changed nothing of what was captured */
	ck_assert(spool_contains(&src, "{\"id\":1,\"ts\":\"2026-11-26T12:00:00.123456+00:00\",\"d\":\"2026-02-03\",\"i\":\"1 day 02:03:04.5\",\"f\":0.1}"));
	ck_assert(spool_contains(&src, "{\"id\":2,\"ts\":\"2026-11-26T12:00:00.123456+00:00\",\"d\":\"2026-02-03\",\"i\":\"1 day 02:03:04.5\",\"f\":0.1}"));
	/* excluded and keyless tables are not captured; the keyless one is reported */
	ck_assert(!spool_contains(&src, "tmp_scratch"));
	ck_assert(!spool_contains(&src, "nokey"));
	log = tp_read_file(src.log);
	ck_assert_msg(tp_contains(log, "\"public.nokey\" is not replicated"), "log:\n%s", log);
	free(log);
	source_free(&src);
}
END_TEST

START_TEST(test_unprivileged_roles)
{
	static const char *const tables[] = {"orders", "marker", NULL};
	source		src;
	char		user_yaml[256];
	char	   *conninfo;
	char	   *value;
	PGconn	   *app;
	PGresult   *res;

	ck_assert(tp_cluster_create_role(cluster, "tp_capture_owner", "owner-secret"));
	ck_assert(tp_cluster_create_role(cluster, "tp_capture_app", "app-secret"));
	snprintf(user_yaml, sizeof(user_yaml),
			 "  username: \"tp_capture_owner\"\n  password: \"owner-secret\"\n");
	source_prepare(&src, "cap_roles",
				   "CREATE TABLE public.orders (id int PRIMARY KEY, total numeric);"
				   "CREATE TABLE public.marker (label text PRIMARY KEY);"
				   "ALTER TABLE public.orders OWNER TO tp_capture_owner;"
				   "ALTER TABLE public.marker OWNER TO tp_capture_owner;"
				   "GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders, public.marker TO tp_capture_app;",
				   "file", "\"public.*\"", user_yaml);
	exec_sql(&src, "GRANT CREATE ON DATABASE cap_roles TO tp_capture_owner");
	value = query_value(&src, "SELECT rolsuper::text FROM pg_roles WHERE rolname = 'tp_capture_owner'");
	ck_assert_str_eq(value, "false");
	free(value);
	source_start(&src);
	wait_for_trigger(&src, "public.orders");

	/* the application role has no right on teleport's schema, and needs none */
	value = query_value(&src, "SELECT has_schema_privilege('tp_capture_app', 'teleport', 'USAGE')::text");
	ck_assert_str_eq(value, "false");
	free(value);
	conninfo = tp_cluster_conninfo(cluster, src.db, "tp_capture_app");
	snprintf(user_yaml, sizeof(user_yaml), "%s password=app-secret", conninfo);
	app = PQconnectdb(user_yaml);
	free(conninfo);
	ck_assert_int_eq(PQstatus(app), CONNECTION_OK);
	res = PQexec(app, "INSERT INTO public.orders VALUES (1, 10.5), (2, 20); UPDATE public.orders SET total = 0 WHERE id = 2");
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "app write: %s", PQerrorMessage(app));
	PQclear(res);
	res = PQexec(app, "INSERT INTO public.marker VALUES ('roles-done')");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	PQfinish(app);
	wait_for_spooled(&src, "\"label\":\"roles-done\"", 30);
	source_stop(&src);
	make_copies(&src, tables);
	assert_replay_equal(&src, tables);
	source_free(&src);
}
END_TEST

/* A target that cannot take batches holds them, in order, until it can. */
START_TEST(test_target_down_then_back)
{
	static const char *const tables[] = {"items", "marker", NULL};
	source		src;
	char	   *blocker;
	char	   *log;

	source_prepare(&src, "cap_down",
				   "CREATE TABLE public.items (id int PRIMARY KEY, v text);"
				   "CREATE TABLE public.marker (label text PRIMARY KEY)",
				   "file", "\"public.*\"", NULL);
	/* a regular file where the spool directory should be: writes fail */
	blocker = tp_write_file(src.dir, "spool", "not a directory\n");
	ck_assert_ptr_nonnull(blocker);
	source_start(&src);
	wait_for_trigger(&src, "public.items");
	for (int i = 1; i <= 5; i++)
	{
		char		sql[128];

		snprintf(sql, sizeof(sql), "INSERT INTO public.items VALUES (%d, 'v%d')", i, i);
		exec_sql(&src, sql);
	}
	ck_assert_msg(tp_wait_for_text(src.log, "it is kept and sent again", 30),
				  "the refused batch was not reported");
	/* the target comes back: everything arrives, in order, once */
	ck_assert_int_eq(unlink(blocker), 0);
	drain(&src, "down-done");
	source_stop(&src);
	log = tp_read_file(src.log);
	ck_assert_msg(tp_contains(log, "accepted batch 1 again after"), "log:\n%s", log);
	free(log);
	make_copies(&src, tables);
	assert_replay_equal(&src, tables);
	free(blocker);
	source_free(&src);
}
END_TEST

/* The suite. */
static Suite *
capture_suite(void)
{
	Suite	   *s = suite_create("capture");
	TCase	   *tc = tcase_create("capture");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_stdout_is_a_cdc_tool);
	tcase_add_test(tc, test_concurrent_writers_replay);
	tcase_add_test(tc, test_keys_and_new_tables);
	tcase_add_test(tc, test_partitioned_and_truncate);
	tcase_add_test(tc, test_settings_exclusions_and_keyless);
	tcase_add_test(tc, test_unprivileged_roles);
	tcase_add_test(tc, test_target_down_then_back);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(capture_suite());
}
