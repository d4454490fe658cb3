/*
 * check_apply.c
 *     The apply loop (core/apply_loop.c) and the postgres applier
 *     (plugins/applier/postgres) against real captured changes: the real
 *     teleport binary runs as the source "src" on a throwaway database,
 *     captures public.* with the trigger plugin and writes its batches
 *     through the file transport into a spool. The test imports the spooled
 *     batches into the inbox of the receiving instance "tgt" (the same
 *     database: its tables are in schema copy, apply_schema of the target)
 *     and runs apply passes in process, or (last case) runs a real target
 *     teleport that does both. Source and copy are then compared in SQL,
 *     each row as text, EXCEPT ALL both ways.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "apply_loop.h"
#include "batch_wire.h"
#include "clock.h"
#include "checkmain.h"
#include "config.h"
#include "deadline.h"
#include "durable.h"
#include "host.h"
#include "inbox.h"
#include "loader.h"
#include "log.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "plan.h"
#include "runcmd.h"

static tp_cluster *cluster;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* A case's world: the source process, the spool, the receiving side. */
typedef struct world
{
	char	   *db;
	char	   *conninfo;
	char	   *dir;
	char		spool[1024];
	char		src_log[1024];
	char		src_out[1024];
	char		test_log[1024];	/* this process's stderr */
	char	   *src_config;
	char	   *tgt_config;
	pid_t		pid;
	PGconn	   *conn;			/* the test's own */
	/* the receiving instance, in process */
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
	tp_plan_entry *entry;		/* the applier's */
	tp_plugin_ctx *ctx;
	tp_plugin_ctx *ctx2;		/* its instance on the loop's second lane */
	const tp_applier_callbacks *cb;
	tp_inbox   *inbox;
	tp_apply_loop *loop;
	int			marker;
} world;

/* Run sql on the world's database; fails the test on error. */
static void
sql_ok(world *w, const char *sql)
{
	tp_sql_ok(w->conn, sql);
}

/* One value of a query, as a new string ("" for NULL). */
static char *
sql_value(world *w, const char *sql)
{
	char	   *value = tp_sql_value(w->conn, sql);

	return value != NULL ? value : strdup("");
}

/* Assert that query's one value is expected. */
static void
assert_value(world *w, const char *sql, const char *expected)
{
	tp_sql_assert(w->conn, sql, expected);
}

/* Wait until every table of schema public has its capture trigger. */
static void
wait_for_triggers(world *w)
{
	if (!tp_sql_wait(w->conn, "SELECT count(*) FROM pg_class c"
					 " JOIN pg_namespace n ON n.oid = c.relnamespace"
					 " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
					 " AND NOT c.relispartition AND NOT EXISTS (SELECT FROM pg_trigger t"
					 "  WHERE t.tgrelid = c.oid AND t.tgname LIKE 'teleport_capture%')",
					 "0", 30))
	{
		char	   *log = tp_read_file(w->src_log);

		ck_abort_msg("the source did not capture every table after 30 s; log:\n%s", log);
	}
}

/*
 * Open the world on database db: source_sql makes the public tables (a
 * marker table is added), target_sql the copy tables; the source cuts
 * batches of at most max_events; applier_yaml adds applier_options lines.
 */
static void
world_open(world *w, const char *db, const char *source_sql,
		   const char *target_sql, int max_events, const char *applier_yaml)
{
	char		yaml[4096];
	char	   *argv[] = {getenv("TELEPORT_BIN"), "-config", NULL, NULL};
	const char *plugins = getenv("TELEPORT_PLUGIN_DIR");
	tp_plan_entry *entry = NULL;
	int			fd;

	memset(w, 0, sizeof(*w));
	ck_assert_msg(plugins != NULL, "TELEPORT_PLUGIN_DIR is not set");
	w->db = strdup(db);
	w->conninfo = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(w->conninfo);
	w->conn = tp_cluster_connect(cluster, db);
	ck_assert_ptr_nonnull(w->conn);
	w->dir = tp_cluster_make_dir(cluster, "apply");
	ck_assert_ptr_nonnull(w->dir);
	snprintf(w->spool, sizeof(w->spool), "%s/spool", w->dir);
	snprintf(w->src_log, sizeof(w->src_log), "%s/src.log", w->dir);
	snprintf(w->src_out, sizeof(w->src_out), "%s/src.out", w->dir);
	snprintf(w->test_log, sizeof(w->test_log), "%s/test.log", w->dir);

	/* this process's log (the apply loop's) goes to a file we can read */
	fflush(stderr);
	fd = open(w->test_log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	tp_log_set_level(TP_LOG_INFO);

	sql_ok(w, "CREATE TABLE public.tp_marker (id int PRIMARY KEY);"
		   "CREATE SCHEMA copy; CREATE TABLE copy.tp_marker (id int PRIMARY KEY)");
	if (source_sql != NULL)
		sql_ok(w, source_sql);
	if (target_sql != NULL)
		sql_ok(w, target_sql);

	snprintf(yaml, sizeof(yaml),
			 "max_events_per_batch: %d\n"
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
			 "  username: \"%s\"\n"
			 "targets:\n"
			 "  t1:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: \"copy\"\n"
			 "    transport: file\n"
			 "    options:\n"
			 "      directory: \"%s\"\n",
			 max_events, db, cluster->dir, cluster->port, TP_CLUSTER_SUPERUSER,
			 w->spool);
	w->src_config = tp_write_file(w->dir, "src.yml", yaml);
	ck_assert_ptr_nonnull(w->src_config);
	snprintf(yaml, sizeof(yaml),
			 "processing_intervals:\n"
			 "  applier: 50\n"
			 "database:\n"
			 "  name: \"tgt\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"%s\"\n"
			 "server:\n"
			 "  hostname: \"127.0.0.1\"\n"
			 "  port: 3001\n"
			 "  transport: file\n"
			 "  options:\n"
			 "    directory: \"%s\"\n"
			 "applier: postgres\n"
			 "%s",
			 db, cluster->dir, cluster->port, TP_CLUSTER_SUPERUSER, w->spool,
			 applier_yaml ? applier_yaml : "");
	w->tgt_config = tp_write_file(w->dir, "tgt.yml", yaml);
	ck_assert_ptr_nonnull(w->tgt_config);

	/* the receiving side as the daemon makes it */
	ck_assert(tp_config_load(w->tgt_config, &w->config));
	(void) tp_loader_scan(plugins, &w->set);
	tp_plan_build(w->config, &w->plan);
	for (size_t i = 0; i < w->plan.n; i++)
	{
		if (w->plan.entries[i].role == TP_ROLE_APPLY)
			entry = &w->plan.entries[i];
	}
	ck_assert_ptr_nonnull(entry);
	{
		tp_plan		one = {entry, 1};

		ck_assert(tp_plan_resolve(&one, &w->set, w->config));
	}
	ck_assert_str_eq(entry->plugin->info->name, "postgres");
	ck_assert(tp_plugin_initialize(entry->plugin, tp_host_api_get()));
	w->entry = entry;
	w->cb = entry->plugin->callbacks;
	w->ctx = tp_host_ctx_new(w->config, w->conninfo, entry);
	ck_assert_int_eq(w->cb->startup(w->ctx), TP_OK);
	w->inbox = tp_inbox_new(w->conninfo, "tgt");
	w->loop = tp_apply_loop_new(w->conninfo, "tgt", w->inbox, w->ctx, w->cb, 50);

	/* and the source */
	argv[2] = w->src_config;
	w->pid = tp_spawn_split(argv, NULL, w->src_out, w->src_log);
	ck_assert_int_gt(w->pid, 0);
	wait_for_triggers(w);
}

/* Stop the source (it must exit 0) and free the world. */
static void
world_close(world *w)
{
	if (w->pid > 0)
	{
		int			status;

		kill(w->pid, SIGTERM);
		status = tp_wait_exit(w->pid, 20);
		if (status < 0)
			kill(w->pid, SIGKILL);
		ck_assert_msg(status == 0, "the source exited with %d", status);
	}
	tp_apply_loop_free(w->loop);
	tp_inbox_free(w->inbox);
	if (w->ctx != NULL && w->ctx->private_data != NULL)
		w->cb->shutdown(w->ctx);
	tp_host_ctx_free(w->ctx);
	if (w->ctx2 != NULL && w->ctx2->private_data != NULL)
		w->cb->shutdown(w->ctx2);
	tp_host_ctx_free(w->ctx2);
	tp_plan_free(&w->plan);
	tp_loader_free(&w->set);
	tp_config_free(w->config);
	PQfinish(w->conn);
	tp_remove_tree(w->dir);
	free(w->dir);
	free(w->db);
	free(w->conninfo);
	free(w->src_config);
	free(w->tgt_config);
}

/* Compare names for qsort. */
static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Store the spool's batch files into the inbox, in name (seq) order, at
 * most max (< 0: all), removing each stored one. Returns how many.
 */
static int
import(world *w, int max)
{
	DIR		   *d = opendir(w->spool);
	struct dirent *de;
	char	  **names = NULL;
	size_t		n = 0;
	int			stored = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 6, ".batch") != 0)
			continue;
		{
			char	  **more = realloc(names, (n + 1) * sizeof(char *));

			ck_assert_ptr_nonnull(more);
			names = more;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(char *), compare_names);
	for (size_t i = 0; i < n; i++)
	{
		char		path[2048];
		char	   *text;
		tp_batch   *b = NULL;
		char		reason[256];
		tp_delivery out;

		if (max >= 0 && stored >= max)
		{
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", w->spool, names[i]);
		text = tp_read_file(path);
		ck_assert_ptr_nonnull(text);
		ck_assert_msg(tp_batch_parse(text, strlen(text), &b, reason, sizeof(reason)) == TP_OK,
					  "%s: %s", names[i], reason);
		memset(&out, 0, sizeof(out));
		out.size = sizeof(out);
		ck_assert_int_eq(tp_inbox_store(w->inbox, b, &out), TP_OK);
		tp_batch_free(b);
		free(text);
		ck_assert_int_eq(unlink(path), 0);
		free(names[i]);
		stored++;
	}
	free(names);
	return stored;
}

/* One forced apply pass; it must reach the database. */
static tp_apply_stats
pass(world *w)
{
	tp_apply_stats stats;

	ck_assert(tp_apply_loop_pass(w->loop, true, &stats));
	return stats;
}

/* Whether copy.tp_marker has id. */
static bool
has_marker(world *w, int id)
{
	char		sql[128];
	char	   *v;
	bool		yes;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM copy.tp_marker WHERE id = %d", id);
	v = sql_value(w, sql);
	yes = strcmp(v, "1") == 0;
	free(v);
	return yes;
}

/* Print the test's apply log and the source instance's log to stdout. */
static void
print_logs(const world *w)
{
	char	   *log = tp_read_file(w->test_log);
	char	   *slog = tp_read_file(w->src_log);

	printf("apply log:\n%s\nsource log:\n%s\n", log ? log : "", slog ? slog : "");
	fflush(stdout);
	free(log);
	free(slog);
}

/*
 * Import and apply until copy.tp_marker has id (written on the source);
 * fails, the logs printed, when it does not come in time.
 */
static void
apply_until_marker(world *w, int id)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		import(w, -1);
		pass(w);
		if (has_marker(w, id))
			return;
		usleep(50000);
	}
	print_logs(w);
	ck_abort_msg("marker %d never applied (logs above)", id);
}

/*
 * Write a new marker on the source and import and apply until it is on
 * the target: everything written before it is applied then.
 */
static void
converge(world *w)
{
	char		sql[128];

	w->marker++;
	snprintf(sql, sizeof(sql), "INSERT INTO public.tp_marker VALUES (%d)", w->marker);
	sql_ok(w, sql);
	apply_until_marker(w, w->marker);
}

/*
 * Import and apply until the stream holds a batch; returns its reason.
 * Waits as long as converge does (the source's batch may come late on a
 * loaded machine); the logs are printed when none is held.
 */
static char *
wait_held(world *w)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *held;

		import(w, -1);
		pass(w);
		held = sql_value(w, "SELECT coalesce((SELECT held_reason FROM teleport.inbox_stream"
						 " WHERE source = 'src' AND held_seq IS NOT NULL), '')");
		if (held[0] != '\0')
			return held;
		free(held);
		usleep(50000);
	}
	print_logs(w);
	ck_abort_msg("no batch was held (logs above)");
	return NULL;
}

/*
 * Tables source and copy (qualified names) hold the same rows (each row as
 * text).
 */
static void
assert_equal(world *w, const char *source, const char *copy)
{
	char		sql[1024];
	char	   *v;
	const char *table = source;

	snprintf(sql, sizeof(sql),
			 "SELECT (SELECT count(*) FROM %s) || '/' ||"
			 " (SELECT count(*) FROM %s) || '/' ||"
			 " (SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL"
			 "  SELECT x::text FROM %s x) a) || '/' ||"
			 " (SELECT count(*) FROM (SELECT x::text FROM %s x EXCEPT ALL"
			 "  SELECT x::text FROM %s x) b)",
			 source, copy, source, copy, copy, source);
	v = sql_value(w, sql);
	{
		const char *p = strchr(v, '/');
		size_t		n = p ? (size_t) (p - v) : 0;
		char		expected[128];
		char	   *rows = NULL;

		snprintf(expected, sizeof(expected), "%.*s/%.*s/0/0", (int) n, v, (int) n, v);
		if (strcmp(v, expected) != 0)
		{
			/* the rows that differ, to tell what went wrong */
			snprintf(sql, sizeof(sql),
					 "SELECT string_agg(s || x, ' ') FROM ("
					 "(SELECT 'source:' AS s, x::text FROM %s x EXCEPT ALL"
					 " SELECT 'source:', x::text FROM %s x) UNION ALL"
					 " (SELECT 'copy:', x::text FROM %s x EXCEPT ALL"
					 " SELECT 'copy:', x::text FROM %s x)) z",
					 source, copy, copy, source);
			rows = sql_value(w, sql);
		}
		ck_assert_msg(strcmp(v, expected) == 0,
					  "table %s differs (source rows/copy rows/only in source/only in copy): %s: %s",
					  table, v, rows);
		free(rows);
	}
	free(v);
}

/* public.table and copy.table hold the same rows. */
static void
assert_same(world *w, const char *table)
{
	char		source[256];
	char		copy[256];

	snprintf(source, sizeof(source), "public.%s", table);
	snprintf(copy, sizeof(copy), "copy.%s", table);
	assert_equal(w, source, copy);
}

/* The held state of src's stream: "state seq attempts". */
static char *
held_state(world *w)
{
	return sql_value(w, "SELECT coalesce(held_state, '-') || ' ' ||"
					 " coalesce(held_seq::text, '-') || ' ' || held_attempts"
					 " FROM teleport.inbox_stream WHERE source = 'src'");
}

/*
 * Every operation, composite keys, a key repeated in one batch (insert,
 * delete, insert again), values no JSON library would keep, truncate;
 * source and copy identical afterwards.
 */
START_TEST(test_operations)
{
	world		w;

	world_open(&w, "apply_ops",
			   "CREATE TABLE public.items (id int PRIMARY KEY, name text, qty numeric,"
			   " f float8, tags text[], doc jsonb, at timestamptz);"
			   "CREATE TABLE public.pairs (a int, b text, v text, PRIMARY KEY (a, b));"
			   "CREATE TABLE public.gone (id int PRIMARY KEY, v text);",
			   "CREATE TABLE copy.items (id int PRIMARY KEY, name text, qty numeric,"
			   " f float8, tags text[], doc jsonb, at timestamptz);"
			   "CREATE TABLE copy.pairs (a int, b text, v text, PRIMARY KEY (a, b));"
			   "CREATE TABLE copy.gone (id int PRIMARY KEY, v text);",
			   300, NULL);
	sql_ok(&w, "INSERT INTO public.items SELECT g, 'item ' || g,"
		   " 12345678901234567890123456789012345678901234.5678 * g, -0.0 + g / 7.0,"
		   " ARRAY['a', NULL, 'c ' || g], jsonb_build_object('g', g),"
		   " '2026-01-01 00:00:00+05:30'::timestamptz + g * interval '1 s'"
		   " FROM generate_series(1, 1000) g");
	sql_ok(&w, "INSERT INTO public.pairs SELECT g % 10, 'k' || (g / 10), 'v' || g"
		   " FROM generate_series(1, 500) g");
	sql_ok(&w, "INSERT INTO public.gone SELECT g, 'x' FROM generate_series(1, 50) g");
	converge(&w);
	assert_same(&w, "items");
	assert_same(&w, "pairs");

	/* updates, deletes, a key that comes and goes in one transaction */
	sql_ok(&w, "UPDATE public.items SET name = name || ' (updated)', f = 'NaN'"
		   " WHERE id % 3 = 0");
	sql_ok(&w, "UPDATE public.items SET f = '-0', qty = NULL, tags = '{{1,2},{3,NULL}}'"
		   " WHERE id % 5 = 0");
	sql_ok(&w, "DELETE FROM public.items WHERE id % 7 = 0");
	sql_ok(&w, "BEGIN; INSERT INTO public.items (id, name) VALUES (5000, 'first');"
		   " DELETE FROM public.items WHERE id = 5000;"
		   " INSERT INTO public.items (id, name) VALUES (5000, 'second');"
		   " UPDATE public.items SET name = 'third' WHERE id = 5000;"
		   " UPDATE public.items SET name = 'fourth' WHERE id = 5000; COMMIT");
	/* composite keys: a part of the key changes, rows move */
	sql_ok(&w, "UPDATE public.pairs SET b = b || '-moved' WHERE a = 3");
	sql_ok(&w, "UPDATE public.pairs SET v = 'changed' WHERE a = 4");
	sql_ok(&w, "DELETE FROM public.pairs WHERE a = 5");
	sql_ok(&w, "TRUNCATE public.gone");
	sql_ok(&w, "INSERT INTO public.gone VALUES (1, 'after truncate')");
	converge(&w);
	assert_same(&w, "items");
	assert_same(&w, "pairs");
	assert_same(&w, "gone");
	assert_value(&w, "SELECT name FROM copy.items WHERE id = 5000", "fourth");
	/* -0 kept its sign (row text would show 0 for both otherwise) */
	assert_value(&w, "SELECT count(*) FROM public.items WHERE f::text = '-0'", "172");
	assert_value(&w, "SELECT count(*) FROM copy.items WHERE f::text = '-0'", "172");
	/* applied rows are removed from the inbox, progress recorded */
	assert_value(&w, "SELECT count(*) FROM teleport.inbox", "0");
	assert_value(&w, "SELECT (last_applied = last_received AND held_seq IS NULL)::text"
				 " FROM teleport.inbox_stream WHERE source = 'src'", "true");
	world_close(&w);
}
END_TEST

/*
 * Policies for changes that find no row: a DELETE of a row the target no
 * longer has (a cascade removed it) is nothing to do; an UPDATE of such a
 * row inserts the new row.
 */
START_TEST(test_missing_rows)
{
	world		w;

	world_open(&w, "apply_missing",
			   "CREATE TABLE public.m (id int PRIMARY KEY, v text);",
			   "CREATE TABLE copy.m (id int PRIMARY KEY, v text);", 300, NULL);
	sql_ok(&w, "INSERT INTO public.m SELECT g, 'v' FROM generate_series(1, 10) g");
	converge(&w);
	sql_ok(&w, "DELETE FROM copy.m WHERE id IN (1, 2, 3, 4)");
	sql_ok(&w, "DELETE FROM public.m WHERE id IN (1, 2)");
	sql_ok(&w, "UPDATE public.m SET v = 'new' WHERE id IN (3, 4, 5)");
	sql_ok(&w, "UPDATE public.m SET id = 40 WHERE id = 4");
	converge(&w);
	assert_same(&w, "m");
	assert_value(&w, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM copy.m",
				 "3=new,5=new,6=v,7=v,8=v,9=v,10=v,40=new");
	world_close(&w);
}
END_TEST

/*
 * Key changes: `UPDATE t SET id = id + 1` over many rows (the source's key
 * is deferrable, so it may shift; the statement's 2000 events span several
 * partial batches of 300), the reverse, a swap, and one row moved twice in
 * one transaction, onto a target whose key is not deferrable.
 */
START_TEST(test_key_shift)
{
	world		w;

	world_open(&w, "apply_shift",
			   "CREATE TABLE public.shift (id int PRIMARY KEY DEFERRABLE, v text);"
			   "CREATE TABLE public.twice (id int PRIMARY KEY, v text);",
			   "CREATE TABLE copy.shift (id int PRIMARY KEY, v text);"
			   "CREATE TABLE copy.twice (id int PRIMARY KEY, v text);", 300, NULL);
	sql_ok(&w, "INSERT INTO public.shift SELECT g, 'row ' || g FROM generate_series(1, 2000) g");
	sql_ok(&w, "INSERT INTO public.twice SELECT g, 'row ' || g FROM generate_series(1, 10) g");
	converge(&w);
	sql_ok(&w, "UPDATE public.shift SET id = id + 1");
	sql_ok(&w, "UPDATE public.shift SET id = id + 1 WHERE id > 1000");
	converge(&w);
	assert_same(&w, "shift");
	sql_ok(&w, "UPDATE public.shift SET id = id - 1");
	sql_ok(&w, "UPDATE public.shift SET id = CASE id WHEN 10 THEN 11 WHEN 11 THEN 10 END"
		   " WHERE id IN (10, 11)");
	/* one row moved twice: 5 -> 100 -> 101, and 6 -> 7's old place */
	sql_ok(&w, "BEGIN; UPDATE public.twice SET id = 100 WHERE id = 5;"
		   " UPDATE public.twice SET id = 101, v = 'moved twice' WHERE id = 100;"
		   " UPDATE public.twice SET id = 50 WHERE id = 7;"
		   " UPDATE public.twice SET id = 7, v = 'took 7' WHERE id = 6; COMMIT");
	converge(&w);
	assert_same(&w, "shift");
	assert_same(&w, "twice");
	assert_value(&w, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM copy.twice",
				 "1=row 1,2=row 2,3=row 3,4=row 4,7=took 7,8=row 8,9=row 9,10=row 10,"
				 "50=row 7,101=moved twice");
	world_close(&w);
}
END_TEST

/*
 * The churn: p_txns transactions of one to four random statements on
 * table p_table (deferrable key): set-based shifts of a key range up or
 * down, single moves, swaps, deletes, inserts, updates with and without a
 * key change. A statement that breaks the key at its end is rolled back
 * alone. setseed makes a run repeatable.
 */
#define CHURN_SQL \
	"CREATE PROCEDURE public.churn(p_table text, p_seed float8, p_txns int)" \
	" LANGUAGE plpgsql AS $$\n" \
	"DECLARE a int; b int; k int; op int;\n" \
	"BEGIN\n" \
	"  PERFORM setseed(p_seed);\n" \
	"  FOR i IN 1..p_txns LOOP\n" \
	"    FOR j IN 1..(1 + floor(random() * 4))::int LOOP\n" \
	"      op := floor(random() * 8)::int;\n" \
	"      a := 1 + floor(random() * 80)::int;\n" \
	"      b := a + floor(random() * 20)::int;\n" \
	"      k := (CASE WHEN random() < 0.5 THEN 1 ELSE -1 END) * (1 + floor(random() * 3))::int;\n" \
	"      BEGIN\n" \
	"        IF op <= 1 THEN\n" \
	"          EXECUTE format('UPDATE public.%I SET id = id + $1 WHERE id BETWEEN $2 AND $3', p_table) USING k, a, b;\n" \
	"        ELSIF op = 2 THEN\n" \
	"          EXECUTE format('UPDATE public.%I SET id = $2 + 100 WHERE id = $1', p_table) USING a, b;\n" \
	"        ELSIF op = 3 THEN\n" \
	"          EXECUTE format('UPDATE public.%I SET id = CASE WHEN id = $1 THEN $2 ELSE $1 END,' \n" \
	"                         ' v = v || ''s'' WHERE id IN ($1, $2)', p_table) USING a, b;\n" \
	"        ELSIF op = 4 THEN\n" \
	"          EXECUTE format('DELETE FROM public.%I WHERE id = $1', p_table) USING a;\n" \
	"        ELSIF op = 5 THEN\n" \
	"          EXECUTE format('INSERT INTO public.%I SELECT $1, ''i'' || $2' \n" \
	"                         ' WHERE NOT EXISTS (SELECT FROM public.%I WHERE id = $1)', p_table, p_table) USING a, i;\n" \
	"        ELSIF op = 6 THEN\n" \
	"          EXECUTE format('UPDATE public.%I SET v = v || ''.'' WHERE id BETWEEN $1 AND $2', p_table) USING a, b;\n" \
	"        ELSE\n" \
	"          EXECUTE format('UPDATE public.%I SET id = id + $2, v = v || ''+'' WHERE id = $1', p_table) USING a, k;\n" \
	"        END IF;\n" \
	"      EXCEPTION WHEN unique_violation THEN NULL;\n" \
	"      END;\n" \
	"    END LOOP;\n" \
	"    COMMIT;\n" \
	"  END LOOP;\n" \
	"END $$;"

/*
 * Random key changes (the churn above, several seeds), cut into small
 * partial batches so that groups carry over parts, onto a target whose
 * key is not deferrable (mv) and one whose key is (mvd): source and copy
 * identical after each run.
 */
START_TEST(test_key_churn)
{
	world		w;
	char		sql[256];

	world_open(&w, "apply_churn",
			   "CREATE TABLE public.mv (id int PRIMARY KEY DEFERRABLE, v text NOT NULL);"
			   "CREATE TABLE public.mvd (id int PRIMARY KEY DEFERRABLE, v text NOT NULL);"
			   CHURN_SQL,
			   "CREATE TABLE copy.mv (id int PRIMARY KEY, v text NOT NULL);"
			   "CREATE TABLE copy.mvd (id int PRIMARY KEY DEFERRABLE, v text NOT NULL);",
			   40, NULL);
	sql_ok(&w, "INSERT INTO public.mv SELECT g, 'r' || g FROM generate_series(1, 100) g;"
		   "INSERT INTO public.mvd SELECT g, 'r' || g FROM generate_series(1, 100) g");
	converge(&w);
	for (int run = 1; run <= 4; run++)
	{
		snprintf(sql, sizeof(sql), "CALL public.churn('mv', %f, 150)", run / 10.0);
		sql_ok(&w, sql);
		snprintf(sql, sizeof(sql), "CALL public.churn('mvd', %f, 150)", -run / 10.0);
		sql_ok(&w, sql);
		converge(&w);
		assert_same(&w, "mv");
		assert_same(&w, "mvd");
	}
	world_close(&w);
}
END_TEST

/*
 * Generated columns are computed by the target, GENERATED ALWAYS identity
 * values are written as the source had them, and sequences are set
 * forward (never back).
 */
START_TEST(test_generated_identity_sequences)
{
	world		w;
	char	   *src_seq;
	bool		done = false;

	world_open(&w, "apply_gen",
			   "CREATE TABLE public.gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
			   " a int, b int GENERATED ALWAYS AS (a * 2) STORED, note text);"
			   "CREATE TABLE public.ser (id bigserial PRIMARY KEY, v text);",
			   "CREATE TABLE copy.gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
			   " a int, b int GENERATED ALWAYS AS (a * 2) STORED, note text);"
			   "CREATE TABLE copy.ser (id bigserial PRIMARY KEY, v text);", 300, NULL);
	sql_ok(&w, "INSERT INTO public.gen (a, note) SELECT g, 'n' FROM generate_series(1, 300) g");
	sql_ok(&w, "UPDATE public.gen SET a = a + 1000, note = 'u' WHERE id % 2 = 0");
	sql_ok(&w, "DELETE FROM public.gen WHERE id % 10 = 0");
	sql_ok(&w, "INSERT INTO public.ser (v) SELECT 'v' FROM generate_series(1, 77) g");
	converge(&w);
	assert_same(&w, "gen");
	assert_same(&w, "ser");

	/* the sequences follow (polled by the source, a little later) */
	src_seq = sql_value(&w, "SELECT last_value FROM public.ser_id_seq");
	ck_assert_str_eq(src_seq, "77");
	for (double end = tp_deadline(60); !done && tp_before(end);)
	{
		char	   *v;

		import(&w, -1);
		pass(&w);
		v = sql_value(&w, "SELECT (SELECT last_value FROM copy.ser_id_seq) || '/' ||"
					  " (SELECT last_value FROM copy.gen_id_seq)");
		done = strcmp(v, "77/300") == 0;
		free(v);
		if (!done)
			usleep(50000);
	}
	free(src_seq);
	ck_assert_msg(done, "the target's sequences were not set forward");
	/* never backwards: the target's own use wins when it is ahead */
	sql_ok(&w, "SELECT setval('copy.ser_id_seq', 500)");
	sql_ok(&w, "INSERT INTO public.ser (v) VALUES ('one more')");
	converge(&w);
	for (int i = 0; i < 20; i++)
	{
		import(&w, -1);
		pass(&w);
		usleep(50000);
	}
	assert_value(&w, "SELECT last_value FROM copy.ser_id_seq", "500");
	world_close(&w);
}
END_TEST

/*
 * A column the target lacks holds the batch (retried with backoff, logged
 * with the reason, later batches waiting) until it is added; so does a
 * missing table until it is created. Nothing is dropped.
 */
START_TEST(test_held_until_schema_fixed)
{
	world		w;
	char	   *reason;
	char	   *state;
	char	   *log;
	char	   *status;

	world_open(&w, "apply_held",
			   "CREATE TABLE public.wide (id int PRIMARY KEY, a text, b text);"
			   "CREATE TABLE public.later (id int PRIMARY KEY, v text);"
			   "CREATE TABLE public.other (id int PRIMARY KEY);",
			   "CREATE TABLE copy.wide (id int PRIMARY KEY, a text);"
			   "CREATE TABLE copy.other (id int PRIMARY KEY);", 300, NULL);
	sql_ok(&w, "INSERT INTO public.wide VALUES (1, 'a', 'b')");
	sql_ok(&w, "INSERT INTO public.other VALUES (1)");
	reason = wait_held(&w);
	ck_assert_msg(tp_contains(reason, "table \"copy\".\"wide\" has no column \"b\""),
				  "reason: %s", reason);
	free(reason);
	/* tried again: attempts grow, the later batch waits */
	for (int i = 0; i < 3; i++)
	{
		import(&w, -1);
		pass(&w);
	}
	state = held_state(&w);
	ck_assert_msg(strncmp(state, "retrying ", 9) == 0, "state %s", state);
	ck_assert_msg(strcmp(state + strlen(state) - 2, " 1") != 0, "not retried: %s", state);
	free(state);
	assert_value(&w, "SELECT count(*) FROM copy.other", "0");
	assert_value(&w, "SELECT count(*) FROM copy.wide", "0");
	log = tp_read_file(w.test_log);
	ck_assert_msg(tp_contains(log, "is held (attempt") &&
				  tp_contains(log, "has no column \"b\""), "log:\n%s", log);
	free(log);
	/* the status shows it */
	status = tp_inbox_status_json(w.inbox);
	ck_assert_ptr_nonnull(status);
	ck_assert_msg(tp_contains(status, "\"state\":\"retrying\"") &&
				  tp_contains(status, "no column"), "%s", status);
	free(status);

	sql_ok(&w, "ALTER TABLE copy.wide ADD COLUMN b text");
	converge(&w);
	assert_same(&w, "wide");
	assert_same(&w, "other");
	assert_value(&w, "SELECT coalesce(held_state, 'none') FROM teleport.inbox_stream", "none");

	/* a missing table */
	sql_ok(&w, "INSERT INTO public.later VALUES (1, 'x'), (2, 'y')");
	reason = wait_held(&w);
	ck_assert_msg(tp_contains(reason, "table \"copy\".\"later\" does not exist"),
				  "reason: %s", reason);
	free(reason);
	sql_ok(&w, "CREATE TABLE copy.later (id int PRIMARY KEY, v text)");
	converge(&w);
	assert_same(&w, "later");
	world_close(&w);
}
END_TEST

/*
 * Offer the inbox a batch of kind (of source, target t1) of n lines: lines
 * holds them, each ending in a newline; partial sets TP_BATCH_PARTIAL.
 * Returns the inbox's answer.
 */
static tp_delivery_status
offer_flags(world *w, tp_batch_kind kind, const char *source, uint64_t seq,
			const char *lines, int n, uint32_t flags)
{
	tp_batch	b;
	tp_delivery out;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = kind;
	b.flags = flags;
	b.source = source;
	b.target = "t1";
	b.seq = seq;
	b.n_changes = (uint64_t) n;
	b.first_tick = seq;
	b.last_tick = seq + 1;
	b.apply_schema = "copy";
	b.data = lines;
	b.data_len = strlen(lines);
	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	(void) tp_inbox_store(w->inbox, &b, &out);
	/* as the host's deliver: a batch that waits for this one looks again */
	if (out.status == TP_DELIVERY_STORED)
		tp_apply_loop_wake(w->loop);
	return out.status;
}

/* offer_flags of a batch flagged TP_BATCH_PARTIAL when partial. */
static tp_delivery_status
offer_batch(world *w, tp_batch_kind kind, const char *source, uint64_t seq,
			const char *lines, int n, bool partial)
{
	return offer_flags(w, kind, source, seq, lines, n, partial ? TP_BATCH_PARTIAL : 0);
}

/* A batch (see offer_batch) that the inbox must take. */
static void
store_batch(world *w, tp_batch_kind kind, const char *source, uint64_t seq,
			const char *lines, int n, bool partial)
{
	ck_assert_int_eq(offer_batch(w, kind, source, seq, lines, n, partial),
					 TP_DELIVERY_STORED);
}

/* A batch of changes (of source, target t1) of n lines into the inbox. */
static void
store_lines(world *w, const char *source, uint64_t seq, const char *lines, int n)
{
	store_batch(w, TP_BATCH_CHANGES, source, seq, lines, n, false);
}

/* A batch (of source, target t1) with one line of text into the inbox. */
static void
store_line(world *w, const char *source, uint64_t seq, const char *line)
{
	char		data[2048];

	snprintf(data, sizeof(data), "%s\n", line);
	store_lines(w, source, seq, data, 1);
}

/* The source member of source "ahead": table (NULL: none), change seq. */
#define AHEAD_SOURCE(table, seq) "\"source\":{\"name\":\"ahead\",\"schema\":\"public\"," \
	"\"table\":" table ",\"txid\":5,\"seq\":" seq ",\"batch\":1},\"ts_ms\":1}\n"

/* A column of a table description (docs/schema.md). */
#define AHEAD_COLUMN(attnum, name, type, not_null) \
	"{\"attnum\":" attnum ",\"name\":\"" name "\",\"type\":\"" type "\",\"not_null\":" \
	not_null ",\"default\":null,\"identity\":null,\"generated\":null,\"sequence\":null}"

/* A table description with columns (a JSON array's members) and key on 1. */
#define AHEAD_TABLE(name, columns) \
	"{\"schema\":\"public\",\"name\":\"" name "\",\"columns\":[" columns "]," \
	"\"primary_key\":{\"name\":\"" name "_pkey\",\"columns\":[1]}}"

/*
 * The DDL line (change seq) of table (OID oid, columns id integer) given a
 * second column attname of type.
 */
#define AHEAD_ADD_COLUMN(table, oid, attname, type, seq) \
	"{\"op\":\"ddl\",\"before\":null,\"after\":null,\"ddl\":{\"type\":\"table\"," \
	"\"oid\":" oid ",\"before\":" AHEAD_TABLE(table, AHEAD_COLUMN("1", "id", "integer", "true")) \
	",\"after\":" AHEAD_TABLE(table, AHEAD_COLUMN("1", "id", "integer", "true") "," \
								AHEAD_COLUMN("2", attname, type, "false")) "}," \
	AHEAD_SOURCE("\"" table "\"", seq)

/*
 * The seed's promise for schema diffing: rows that need a column whose
 * ADD COLUMN is queued after them (the schema-diff source saw it late)
 * hold their batch; the change is found in a later stored batch, applied
 * ahead, and the rows go in; when the later batch's turn comes the change
 * is not applied again. A schema change of a table the held batch does
 * not write stays in its place.
 */
START_TEST(test_ddl_applied_ahead)
{
	world		w;
	tp_apply_stats stats;
	char	   *log;

	world_open(&w, "apply_ahead", NULL,
			   "CREATE TABLE copy.wide (id int PRIMARY KEY);"
			   "CREATE TABLE copy.other (id int PRIMARY KEY);", 300, NULL);
	/* 1: a row with the column n the target lacks */
	store_lines(&w, "ahead", 1, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,\"n\":5},"
				AHEAD_SOURCE("\"wide\"", "10"), 1);
	/* 2: another table, fine as it is */
	store_lines(&w, "ahead", 2, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1},"
				AHEAD_SOURCE("\"other\"", "20"), 1);
	/* 3: a schema change of that other table */
	store_lines(&w, "ahead", 3, AHEAD_ADD_COLUMN("other", "2", "m", "text", "30"), 1);
	/* 4: the ADD COLUMN of wide.n, and a row after it */
	store_lines(&w, "ahead", 4, AHEAD_ADD_COLUMN("wide", "1", "n", "integer", "40")
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2,\"n\":6},"
				AHEAD_SOURCE("\"wide\"", "41"), 2);

	stats = pass(&w);
	ck_assert_int_eq(stats.ahead, 1);
	ck_assert_int_eq(stats.held, 0);
	assert_value(&w, "SELECT last_applied || ' ' || coalesce(held_seq::text, '-')"
				 " FROM teleport.inbox_stream WHERE source = 'ahead'", "4 -");
	assert_value(&w, "SELECT string_agg(id || '=' || n, ',' ORDER BY id) FROM copy.wide",
				 "1=5,2=6");
	/* other got its column in its turn, wide's change was not applied twice */
	assert_value(&w, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
				 " WHERE attrelid = 'copy.other'::regclass AND attnum > 0", "id,m");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox_ahead", "0");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'ahead'", "0");
	log = tp_read_file(w.test_log);
	ck_assert_msg(tp_contains(log, "applied 1 schema change(s) of batch 4 ahead of batch 1"),
				  "log:\n%s", log);
	free(log);

	/* a failure no later schema change mends is held as before, once */
	store_lines(&w, "ahead", 5, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":3,\"x\":1},"
				AHEAD_SOURCE("\"wide\"", "50"), 1);
	stats = pass(&w);
	ck_assert_int_eq(stats.ahead, 0);
	ck_assert_int_eq(stats.held, 1);
	assert_value(&w, "SELECT held_seq FROM teleport.inbox_stream WHERE source = 'ahead'", "5");
	world_close(&w);
}
END_TEST

/*
 * A poll may queue a change after rows its trigger captured in the new
 * shape, in the same batch: the batch fails on the first such row, and
 * the change, found after rows of its table in that batch, is applied
 * ahead; a change of a table that comes before that table's rows in the
 * failed batch is not (it was applied in its place, and is not what the
 * batch waits for).
 */
START_TEST(test_ddl_ahead_same_batch)
{
	world		w;
	tp_apply_stats stats;
	char	   *log;

	world_open(&w, "apply_ahead_same", NULL,
			   "CREATE TABLE copy.wide (id int PRIMARY KEY);"
			   "CREATE TABLE copy.other (id int PRIMARY KEY);", 300, NULL);
	store_lines(&w, "ahead", 1, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1},"
				AHEAD_SOURCE("\"other\"", "10")
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,\"n\":5},"
				AHEAD_SOURCE("\"wide\"", "11")
				AHEAD_ADD_COLUMN("wide", "1", "n", "integer", "12")
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2,\"n\":6},"
				AHEAD_SOURCE("\"wide\"", "13"), 4);
	stats = pass(&w);
	ck_assert_int_eq(stats.ahead, 1);
	ck_assert_int_eq(stats.held, 0);
	assert_value(&w, "SELECT last_applied || ' ' || coalesce(held_seq::text, '-')"
				 " FROM teleport.inbox_stream WHERE source = 'ahead'", "1 -");
	assert_value(&w, "SELECT string_agg(id || '=' || n, ',' ORDER BY id) FROM copy.wide",
				 "1=5,2=6");
	assert_value(&w, "SELECT count(*) FROM copy.other", "1");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox_ahead", "0");
	log = tp_read_file(w.test_log);
	ck_assert_msg(tp_contains(log, "applied 1 schema change(s) of batch 1 ahead of batch 1"),
				  "log:\n%s", log);
	free(log);

	/* a change of other before other's rows: in its place, not ahead */
	store_lines(&w, "ahead", 2, AHEAD_ADD_COLUMN("other", "2", "m", "text", "20")
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2,\"m\":\"a\"},"
				AHEAD_SOURCE("\"other\"", "21")
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":3,\"x\":1},"
				AHEAD_SOURCE("\"wide\"", "22"), 3);
	stats = pass(&w);
	ck_assert_int_eq(stats.ahead, 0);
	ck_assert_int_eq(stats.held, 1);
	assert_value(&w, "SELECT held_seq FROM teleport.inbox_stream WHERE source = 'ahead'", "2");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox_ahead", "0");
	assert_value(&w, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
				 " WHERE attrelid = 'copy.other'::regclass AND attnum > 0", "id");
	world_close(&w);
}
END_TEST

/*
 * A change of the failing unit's table applied ahead may not be the one
 * it waits for: a poll queued a change of the table after its rows (a
 * column o), and the column the rows need (n) comes in a later batch. The
 * unit fails again for the same reason, and the later change is applied
 * ahead too, then the unit goes in; it is not held for good.
 */
START_TEST(test_ddl_ahead_twice)
{
	world		w;
	tp_apply_stats stats;

	world_open(&w, "apply_ahead_twice", NULL,
			   "CREATE TABLE copy.wide (id int PRIMARY KEY);", 300, NULL);
	store_lines(&w, "ahead", 1, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,\"n\":5},"
				AHEAD_SOURCE("\"wide\"", "10")
				AHEAD_ADD_COLUMN("wide", "1", "o", "text", "11"), 2);
	store_lines(&w, "ahead", 2,
				"{\"op\":\"ddl\",\"before\":null,\"after\":null,\"ddl\":{\"type\":\"table\","
				"\"oid\":1,\"before\":"
				AHEAD_TABLE("wide", AHEAD_COLUMN("1", "id", "integer", "true") ","
							AHEAD_COLUMN("2", "o", "text", "false"))
				",\"after\":"
				AHEAD_TABLE("wide", AHEAD_COLUMN("1", "id", "integer", "true") ","
							AHEAD_COLUMN("2", "o", "text", "false") ","
							AHEAD_COLUMN("3", "n", "integer", "false")) "},"
				AHEAD_SOURCE("\"wide\"", "20"), 1);
	stats = pass(&w);
	ck_assert_int_eq(stats.ahead, 2);
	ck_assert_int_eq(stats.held, 0);
	assert_value(&w, "SELECT last_applied || ' ' || coalesce(held_seq::text, '-')"
				 " FROM teleport.inbox_stream WHERE source = 'ahead'", "2 -");
	assert_value(&w, "SELECT string_agg(id || '=' || n || coalesce(o, '-'), ',') FROM copy.wide",
				 "1=5-");
	assert_value(&w, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
				 " WHERE attrelid = 'copy.wide'::regclass AND attnum > 0", "id,o,n");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox_ahead", "0");
	world_close(&w);
}
END_TEST

/*
 * A table's storage parameters from its description: set, changed and
 * reset; one that is not "name=value" of a parameter's name (what no
 * source's catalog holds) is refused with the reason, the batch held and
 * nothing of it applied.
 */
START_TEST(test_ddl_storage_parameters)
{
	world		w;
	tp_apply_stats stats;
	char	   *reason;

#define STORE_TABLE(options) \
	"{\"schema\":\"public\",\"name\":\"st\",\"columns\":[" \
	AHEAD_COLUMN("1", "id", "integer", "true") "," AHEAD_COLUMN("2", "body", "text", "false") "]," \
	"\"primary_key\":{\"name\":\"st_pkey\",\"columns\":[1]}" options "}"
#define STORE_DDL(before, after, seq) \
	"{\"op\":\"ddl\",\"before\":null,\"after\":null,\"ddl\":{\"type\":\"table\"," \
	"\"oid\":1,\"before\":" before ",\"after\":" after "}," AHEAD_SOURCE("\"st\"", seq)

/* the table as created, as changed, and as a bad change would leave it */
#define STORE_CREATED STORE_TABLE(",\"options\":[\"fillfactor=70\",\"toast.autovacuum_enabled=false\"]")
#define STORE_CHANGED STORE_TABLE(",\"options\":[\"autovacuum_enabled=off\",\"fillfactor=80\"]")
#define STORE_BAD STORE_TABLE(",\"options\":[\"fillfactor=90\",\"fillfactor) WITH (x=1\"]")

	world_open(&w, "apply_storage", NULL, NULL, 300, NULL);
	store_lines(&w, "ahead", 1, STORE_DDL("null", STORE_CREATED, "10"), 1);
	store_lines(&w, "ahead", 2, STORE_DDL(STORE_CREATED, STORE_CHANGED, "20"), 1);
	stats = pass(&w);
	ck_assert_int_eq(stats.held, 0);
	assert_value(&w, "SELECT (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(c.reloptions) o)"
				 " || ' / ' || coalesce(array_to_string(tc.reloptions, ','), '-')"
				 " FROM pg_class c JOIN pg_class tc ON tc.oid = c.reltoastrelid"
				 " WHERE c.oid = 'copy.st'::regclass",
				 "autovacuum_enabled=off,fillfactor=80 / -");

	/* a name that is none: held, the table as it was */
	store_lines(&w, "ahead", 3, STORE_DDL(STORE_CHANGED, STORE_BAD, "30"), 1);
	stats = pass(&w);
	ck_assert_int_eq(stats.held, 1);
	reason = sql_value(&w, "SELECT held_reason FROM teleport.inbox_stream WHERE source = 'ahead'");
	ck_assert_msg(tp_contains(reason, "storage parameter 'fillfactor) WITH (x=1' of table"
							  " copy.st is not a parameter's name and value"), "%s", reason);
	free(reason);
	assert_value(&w, "SELECT string_agg(o, ',' ORDER BY o) FROM pg_class, unnest(reloptions) o"
				 " WHERE oid = 'copy.st'::regclass", "autovacuum_enabled=off,fillfactor=80");
#undef STORE_BAD
#undef STORE_CHANGED
#undef STORE_CREATED
#undef STORE_DDL
#undef STORE_TABLE
	world_close(&w);
}
END_TEST

/*
 * A change line of source "mv" as seq: op on public.table with before and
 * after (JSON text or "null"), of source transaction txid and, when stmt
 * is not 0, its statement stmt, from origin; ddl: a "ddl" member or NULL.
 * Appended to buf (of len).
 */
static void
mv_line(char *buf, size_t len, const char *op, const char *table, const char *before,
		const char *after, const char *ddl, int txid, int stmt, const char *origin,
		int seq)
{
	char		stmt_text[32] = "";
	size_t		used = strlen(buf);

	if (stmt != 0)
		snprintf(stmt_text, sizeof(stmt_text), ",\"stmt\":%d", stmt);
	snprintf(buf + used, len - used, "{\"op\":\"%s\",\"before\":%s,\"after\":%s%s%s,"
			 "\"source\":{\"name\":\"%s\",\"schema\":\"public\",\"table\":\"%s\","
			 "\"txid\":%d,\"seq\":%d,\"batch\":1%s},\"ts_ms\":1}\n",
			 op, before, after, ddl ? ",\"ddl\":" : "", ddl ? ddl : "", origin, table,
			 txid, seq, stmt_text);
}

/*
 * Move k -> k + 1 of public.sh by statement 1 of txid 7, which also sets
 * v = 10 * id: the new row of 1 -> 2 equals the row 2 -> 3 moves away.
 */
static void
mv_move(char *buf, size_t len, int k, int seq)
{
	char		before[64];
	char		after[64];

	snprintf(before, sizeof(before), "{\"id\":%d,\"v\":%d}", k, 10 * k);
	snprintf(after, sizeof(after), "{\"id\":%d,\"v\":%d}", k + 1, 10 * (k + 1));
	mv_line(buf, len, "u", "sh", before, after, NULL, 7, 1, "mv", seq);
}

/*
 * The rows of a set-based key shift (one statement) come interleaved with
 * the changes of concurrent transactions (the batch is in event id
 * order): a sequence set forward, a row of a table whose order matters
 * (a foreign key checked at once), from another origin, a TRUNCATE and a
 * schema change. None of them cuts the statement's moves in two, which
 * would lose a row; each still applies.
 */
START_TEST(test_moves_interleaved)
{
	world		w;
	char		lines[8192] = "";

	world_open(&w, "apply_interleave", NULL,
			   "CREATE TABLE copy.sh (id int PRIMARY KEY, v int);"
			   "INSERT INTO copy.sh SELECT g, 10 * g FROM generate_series(1, 4) g;"
			   "CREATE SEQUENCE copy.sq;"
			   "CREATE TABLE copy.p (id int PRIMARY KEY);"
			   "CREATE TABLE copy.c (id int PRIMARY KEY, p int REFERENCES copy.p);"
			   "CREATE TABLE copy.tr (id int);"
			   "INSERT INTO copy.tr VALUES (1);"
			   "CREATE TABLE copy.other (id int PRIMARY KEY);", 300, NULL);
	/* 1 -> 2 first: cut after it, the move 2 -> 3 would delete it */
	mv_move(lines, sizeof(lines), 1, 1);
	mv_line(lines, sizeof(lines), "ddl", "sq", "null", "null",
			"{\"type\":\"sequence_value\",\"schema\":\"public\",\"sequence\":\"sq\","
			"\"value\":50}", 8, 0, "mv", 2);
	mv_move(lines, sizeof(lines), 2, 3);
	mv_line(lines, sizeof(lines), "c", "p", "null", "{\"id\":1}", NULL, 9, 0, "elsewhere", 4);
	mv_line(lines, sizeof(lines), "c", "c", "null", "{\"id\":1,\"p\":1}", NULL, 9, 0,
			"elsewhere", 5);
	mv_move(lines, sizeof(lines), 3, 6);
	mv_line(lines, sizeof(lines), "t", "tr", "null", "null", NULL, 10, 0, "mv", 7);
	mv_line(lines, sizeof(lines), "ddl", "other", "null", "null",
			"{\"type\":\"table\",\"oid\":2,"
			"\"before\":" AHEAD_TABLE("other", AHEAD_COLUMN("1", "id", "integer", "true"))
			",\"after\":" AHEAD_TABLE("other", AHEAD_COLUMN("1", "id", "integer", "true")
									  "," AHEAD_COLUMN("2", "m", "text", "false")) "}",
			11, 0, "mv", 8);
	mv_move(lines, sizeof(lines), 4, 9);
	store_lines(&w, "mv", 1, lines, 9);
	pass(&w);
	assert_value(&w, "SELECT last_applied || ' ' || coalesce(held_seq::text, '-')"
				 " FROM teleport.inbox_stream WHERE source = 'mv'", "1 -");
	assert_value(&w, "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM copy.sh",
				 "2=20,3=30,4=40,5=50");
	assert_value(&w, "SELECT last_value FROM copy.sq", "50");
	assert_value(&w, "SELECT (SELECT count(*) FROM copy.c) || ' ' ||"
				 " (SELECT count(*) FROM copy.tr)", "1 0");
	assert_value(&w, "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute"
				 " WHERE attrelid = 'copy.other'::regclass AND attnum > 0", "id,m");
	world_close(&w);
}
END_TEST

/* An insert line into copy.tp_marker from origin, as seq. */
static void
marker_line(char *buf, size_t len, const char *origin, int id, int seq)
{
	snprintf(buf, len, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":%d},"
			 "\"source\":{\"name\":\"%s\",\"schema\":\"public\",\"table\":\"tp_marker\","
			 "\"txid\":9,\"seq\":%d,\"batch\":1},\"ts_ms\":1}", id, origin, seq);
}

/*
 * A change of source "grp" as batch seq's one line: op on public.table
 * (applied to copy.table) with the after row (JSON text).
 */
static void
grp_line(char *buf, size_t len, const char *op, const char *table,
		 const char *after, int seq)
{
	snprintf(buf, len, "{\"op\":\"%s\",\"before\":null,\"after\":%s,"
			 "\"source\":{\"name\":\"grp\",\"schema\":\"public\",\"table\":\"%s\","
			 "\"txid\":%d,\"seq\":%d,\"batch\":%d},\"ts_ms\":1}",
			 op, after, table, 1000 + seq, seq, seq);
}

/* Store batch seq of "grp": a marker row id into copy.tp_marker. */
static void
grp_marker(world *w, int seq, int id)
{
	char		line[512];
	char		after[64];

	snprintf(after, sizeof(after), "{\"id\":%d}", id);
	grp_line(line, sizeof(line), "c", "tp_marker", after, seq);
	store_line(w, "grp", seq, line);
}

/* Assert the stream of "grp": "last_applied held_seq" ("-": none). */
static void
assert_grp(world *w, const char *expected)
{
	assert_value(w, "SELECT last_applied || ' ' || coalesce(held_seq::text, '-')"
				 " FROM teleport.inbox_stream WHERE source = 'grp'", expected);
}

/*
 * While behind, a stream's stored units are applied together in one
 * transaction. A unit that fails in the middle of a group rolls the group
 * back; the units before it are applied one by one and the failing one is
 * held, exactly; once it applies, grouping resumes. A failure that shows
 * only at the group's commit (a deferred foreign key) is found the same
 * way.
 */
START_TEST(test_group_fallback)
{
	world		w;
	tp_apply_stats stats;
	char		line[512];
	char	   *reason;

	world_open(&w, "apply_group", NULL,
			   "CREATE TABLE copy.parent (id int PRIMARY KEY);"
			   "CREATE TABLE copy.child (id int PRIMARY KEY, pid int NOT NULL"
			   " REFERENCES copy.parent DEFERRABLE INITIALLY DEFERRED);", 300, NULL);
	for (int seq = 1; seq <= 5; seq++)
		grp_marker(&w, seq, 100 + seq);
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 5);
	ck_assert_int_eq(stats.batches, 5);
	ck_assert_int_eq(stats.commits, 1);
	assert_grp(&w, "5 -");
	assert_value(&w, "SELECT count(*) FROM copy.tp_marker WHERE id > 100", "5");

	/* 6 to 10, where 8 writes a table the target lacks */
	for (int seq = 6; seq <= 10; seq++)
	{
		if (seq == 8)
		{
			grp_line(line, sizeof(line), "c", "nosuch", "{\"id\":1}", seq);
			store_line(&w, "grp", seq, line);
		}
		else
			grp_marker(&w, seq, 100 + seq);
	}
	stats = pass(&w);
	ck_assert_int_eq(stats.regrouped, 1);
	ck_assert_int_eq(stats.applied, 2);
	ck_assert_int_eq(stats.commits, 2);
	ck_assert_int_eq(stats.held, 1);
	assert_grp(&w, "7 8");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.tp_marker"
				 " WHERE id > 100", "101,102,103,104,105,106,107");
	reason = sql_value(&w, "SELECT held_reason FROM teleport.inbox_stream WHERE source = 'grp'");
	ck_assert_msg(tp_contains(reason, "\"copy\".\"nosuch\" does not exist"), "%s", reason);
	free(reason);
	/* fixed: 8 alone (up to the failing unit), then 9 and 10 together */
	sql_ok(&w, "CREATE TABLE copy.nosuch (id int PRIMARY KEY)");
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 3);
	ck_assert_int_eq(stats.commits, 2);
	assert_grp(&w, "10 -");
	assert_value(&w, "SELECT count(*) FROM copy.tp_marker WHERE id > 100", "9");

	/* 11 to 14: 13 breaks a deferred foreign key, which shows at commit */
	grp_line(line, sizeof(line), "c", "parent", "{\"id\":1}", 11);
	store_line(&w, "grp", 11, line);
	grp_line(line, sizeof(line), "c", "child", "{\"id\":1,\"pid\":1}", 12);
	store_line(&w, "grp", 12, line);
	grp_line(line, sizeof(line), "c", "child", "{\"id\":2,\"pid\":999}", 13);
	store_line(&w, "grp", 13, line);
	grp_marker(&w, 14, 114);
	stats = pass(&w);
	ck_assert_int_eq(stats.regrouped, 1);
	ck_assert_int_eq(stats.applied, 2);
	ck_assert_int_eq(stats.held, 1);
	assert_grp(&w, "12 13");
	assert_value(&w, "SELECT count(*) FROM copy.child", "1");
	reason = sql_value(&w, "SELECT held_reason FROM teleport.inbox_stream WHERE source = 'grp'");
	ck_assert_msg(tp_contains(reason, "foreign key"), "%s", reason);
	free(reason);
	sql_ok(&w, "INSERT INTO copy.parent VALUES (999)");
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 2);
	assert_grp(&w, "14 -");
	assert_value(&w, "SELECT count(*) FROM copy.child", "2");
	assert_value(&w, "SELECT count(*) FROM copy.tp_marker WHERE id = 114", "1");
	world_close(&w);
}
END_TEST

/*
 * A target teleport that dies in the middle of a group's transaction
 * (TELEPORT_TEST_EXIT_IN_GROUP) has applied none of it; restarted, it
 * applies every unit once.
 */
START_TEST(test_group_crash)
{
	world		w;
	char	   *argv[] = {getenv("TELEPORT_BIN"), "-config", NULL, NULL};
	char	   *env[] = {"TELEPORT_TEST_EXIT_IN_GROUP=4", NULL};
	char		tlog[1100];
	char	   *log;
	pid_t		target;
	int			status;
	bool		done = false;

	world_open(&w, "apply_group_crash", NULL, NULL, 300, NULL);
	for (int seq = 1; seq <= 6; seq++)
		grp_marker(&w, seq, 200 + seq);
	snprintf(tlog, sizeof(tlog), "%s/tgt.log", w.dir);
	argv[2] = w.tgt_config;
	target = tp_spawn(argv, env, tlog);
	ck_assert_int_gt(target, 0);
	status = tp_wait_exit(target, 60);
	if (status < 0)
		kill(target, SIGKILL);
	log = tp_read_file(tlog);
	ck_assert_msg(status == 75 && tp_contains(log, "TELEPORT_TEST_EXIT_IN_GROUP=4"),
				  "status %d; log:\n%s", status, log);
	free(log);
	assert_grp(&w, "0 -");
	assert_value(&w, "SELECT count(*) FROM copy.tp_marker WHERE id > 200", "0");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'grp'", "6");

	target = tp_spawn(argv, NULL, tlog);
	ck_assert_int_gt(target, 0);
	for (double end = tp_deadline(120); !done && tp_before(end);)
	{
		char	   *v = sql_value(&w, "SELECT last_applied FROM teleport.inbox_stream"
								  " WHERE source = 'grp'");

		done = strcmp(v, "6") == 0;
		free(v);
		if (!done)
			usleep(50000);
	}
	kill(target, SIGTERM);
	status = tp_wait_exit(target, 20);
	if (status < 0)
		kill(target, SIGKILL);
	log = tp_read_file(tlog);
	ck_assert_msg(done && status == 0, "status %d; log:\n%s", status, log);
	free(log);
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.tp_marker"
				 " WHERE id > 200", "201,202,203,204,205,206");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'grp'", "0");
	world_close(&w);
}
END_TEST

/*
 * A batch that can never apply stops its stream (other streams go on);
 * --retry-batch tries it again, --skip-batch skips it into
 * teleport.inbox_skipped and the stream goes on; wrong uses are refused.
 */
START_TEST(test_stop_retry_skip)
{
	world		w;
	tp_cmd_result res;
	char		line[512];
	char		arg[64];

	world_open(&w, "apply_cmds", NULL, NULL, 300, NULL);
	store_line(&w, "rogue", 1, "{\"op\":\"zz\",\"source\":{}}");
	marker_line(line, sizeof(line), "rogue", 900, 1);
	store_line(&w, "rogue", 2, line);
	sql_ok(&w, "INSERT INTO public.tp_marker VALUES (1000)");
	/* src's stream goes on; rogue's is stopped at batch 1 */
	apply_until_marker(&w, 1000);
	assert_value(&w, "SELECT held_state || ' ' || held_seq || ' ' || last_applied"
				 " FROM teleport.inbox_stream WHERE source = 'rogue'", "stopped 1 0");
	{
		char	   *log = tp_read_file(w.test_log);

		ck_assert_msg(tp_contains(log, "stream \"rogue\" -> \"t1\" is stopped") &&
					  tp_contains(log, "--skip-batch rogue:1"), "log:\n%s", log);
		free(log);
	}
	/* a stopped stream is not retried on its own */
	pass(&w);
	assert_value(&w, "SELECT held_attempts FROM teleport.inbox_stream"
				 " WHERE source = 'rogue'", "1");

	/* retry: tried again, stopped again */
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--retry-batch", "rogue", (char *) NULL));
	ck_assert_msg(res.status == 0, "status %d: %s%s", res.status, res.out, res.err);
	ck_assert_msg(tp_contains(res.out, "batch 1 will be tried again"), "%s", res.out);
	tp_cmd_result_free(&res);
	assert_value(&w, "SELECT held_state FROM teleport.inbox_stream WHERE source = 'rogue'",
				 "retrying");
	pass(&w);
	assert_value(&w, "SELECT held_state || ' ' || held_attempts FROM teleport.inbox_stream"
				 " WHERE source = 'rogue'", "stopped 1");

	/* refusals */
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--skip-batch", "rogue:2", (char *) NULL));
	ck_assert_int_eq(res.status, 1);
	ck_assert_msg(tp_contains(res.err, "batch 2 of source \"rogue\" is not held"), "%s", res.err);
	ck_assert_msg(tp_contains(res.err, "holds batch 1"), "%s", res.err);
	tp_cmd_result_free(&res);
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--retry-batch", "nobody", (char *) NULL));
	ck_assert_int_eq(res.status, 1);
	ck_assert_msg(tp_contains(res.err, "no batch was ever received from source \"nobody\""),
				  "%s", res.err);
	tp_cmd_result_free(&res);
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--retry-batch", "src", (char *) NULL));
	ck_assert_int_eq(res.status, 1);
	ck_assert_msg(tp_contains(res.err, "no stream from source \"src\" is stopped"), "%s", res.err);
	tp_cmd_result_free(&res);
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--skip-batch", "rogue", (char *) NULL));
	ck_assert_int_eq(res.status, 2);
	tp_cmd_result_free(&res);
	ck_assert(tp_run_teleport(&res, "--skip-batch", "rogue:1", (char *) NULL));
	ck_assert_int_eq(res.status, 2);
	tp_cmd_result_free(&res);

	/* skip: recorded, and the stream goes on */
	snprintf(arg, sizeof(arg), "rogue:%d", 1);
	ck_assert(tp_run_teleport(&res, "-config", w.tgt_config, "--skip-batch", arg, (char *) NULL));
	ck_assert_msg(res.status == 0, "status %d: %s%s", res.status, res.out, res.err);
	ck_assert_msg(tp_contains(res.out, "skipped batch 1"), "%s", res.out);
	ck_assert_msg(tp_contains(res.err, "SKIPPED batch 1"), "%s", res.err);
	tp_cmd_result_free(&res);
	assert_value(&w, "SELECT seq || ' ' || (reason LIKE '%malformed%') || ' ' ||"
				 " (data LIKE '%\"zz\"%') FROM teleport.inbox_skipped", "1 true true");
	assert_value(&w, "SELECT last_applied || ' ' || coalesce(held_state, 'none')"
				 " FROM teleport.inbox_stream WHERE source = 'rogue'", "1 none");
	pass(&w);
	ck_assert(has_marker(&w, 900));
	assert_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'rogue'",
				 "2");
	world_close(&w);
}
END_TEST

/* A reader that counts copy.big until told to stop. */
typedef struct reader
{
	const char *conninfo;
	atomic_bool stop;
	int			seen_other;		/* counts neither 0 nor 1000 */
	int			reads;
} reader;

/* The reader's thread. */
static void *
reader_main(void *arg)
{
	reader	   *rd = arg;
	PGconn	   *conn = PQconnectdb(rd->conninfo);

	while (!atomic_load(&rd->stop) && PQstatus(conn) == CONNECTION_OK)
	{
		PGresult   *res = PQexec(conn, "SELECT count(*) FROM copy.big");

		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			const char *v = PQgetvalue(res, 0, 0);

			if (strcmp(v, "0") != 0 && strcmp(v, "1000") != 0)
				rd->seen_other++;
			rd->reads++;
		}
		PQclear(res);
	}
	PQfinish(conn);
	return NULL;
}

/*
 * A source transaction of 1000 rows cut into batches of 100 (partial) is
 * applied in one target transaction: nothing while a part is missing, all
 * at once when it has come; a concurrent reader sees 0 or 1000 rows.
 */
START_TEST(test_partial_atomic)
{
	world		w;
	tp_apply_stats stats;
	reader		rd;
	pthread_t	thread;
	int			files = 0;
	char	   *n;

	world_open(&w, "apply_partial",
			   "CREATE TABLE public.big (id int PRIMARY KEY, v text);",
			   "CREATE TABLE copy.big (id int PRIMARY KEY, v text);", 100, NULL);
	sql_ok(&w, "INSERT INTO public.big SELECT g, repeat('x', 50) FROM generate_series(1, 1000) g");
	/* wait for its ten parts in the spool */
	for (double end = tp_deadline(60); files < 10 && tp_before(end);)
	{
		DIR		   *d = opendir(w.spool);
		struct dirent *de;

		files = 0;
		while (d != NULL && (de = readdir(d)) != NULL)
			files += de->d_name[0] != '.' && strstr(de->d_name, ".batch") != NULL;
		if (d != NULL)
			closedir(d);
		usleep(50000);
	}
	ck_assert_int_ge(files, 10);
	ck_assert_int_eq(import(&w, 5), 5);
	assert_value(&w, "SELECT count(*) FILTER (WHERE partial) FROM teleport.inbox", "5");
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 0);
	ck_assert_int_ge(stats.waiting, 1);
	assert_value(&w, "SELECT count(*) FROM copy.big", "0");
	assert_value(&w, "SELECT last_applied FROM teleport.inbox_stream", "0");

	memset(&rd, 0, sizeof(rd));
	rd.conninfo = w.conninfo;
	atomic_init(&rd.stop, false);
	ck_assert_int_eq(pthread_create(&thread, NULL, reader_main, &rd), 0);
	usleep(100000);
	import(&w, -1);
	stats = pass(&w);
	usleep(100000);
	atomic_store(&rd.stop, true);
	pthread_join(thread, NULL);
	ck_assert_int_ge(stats.applied, 1);
	ck_assert_int_ge(stats.batches, 10);
	ck_assert_int_gt(rd.reads, 5);
	ck_assert_int_eq(rd.seen_other, 0);
	assert_value(&w, "SELECT count(*) FROM copy.big", "1000");
	n = sql_value(&w, "SELECT last_applied FROM teleport.inbox_stream");
	ck_assert_int_ge(atoi(n), 10);
	free(n);
	converge(&w);
	assert_same(&w, "big");
	world_close(&w);
}
END_TEST

/*
 * The origin is forwarded: the target's own triggers (and a capture on a
 * target that is itself a source) see teleport.origin set to the change's
 * origin, also for a change that a chain forwarded.
 */
START_TEST(test_origin_forwarded)
{
	world		w;
	char		line[512];

	world_open(&w, "apply_origin",
			   "CREATE TABLE public.o (id int PRIMARY KEY);",
			   "CREATE TABLE copy.o (id int PRIMARY KEY);"
			   "CREATE TABLE copy.origin_log (tbl text, id int, origin text);"
			   "CREATE FUNCTION copy.log_origin() RETURNS trigger LANGUAGE plpgsql AS $$"
			   " BEGIN INSERT INTO copy.origin_log VALUES (TG_TABLE_NAME, NEW.id,"
			   "  current_setting('teleport.origin', true)); RETURN NULL; END $$;"
			   "CREATE TRIGGER log_origin AFTER INSERT ON copy.o"
			   " FOR EACH ROW EXECUTE FUNCTION copy.log_origin();"
			   "CREATE TRIGGER log_origin AFTER INSERT ON copy.tp_marker"
			   " FOR EACH ROW EXECUTE FUNCTION copy.log_origin();", 300, NULL);
	sql_ok(&w, "INSERT INTO public.o SELECT generate_series(1, 5)");
	converge(&w);
	assert_same(&w, "o");
	assert_value(&w, "SELECT string_agg(DISTINCT coalesce(origin, 'NULL'), ',')"
				 " FROM copy.origin_log WHERE tbl = 'o'", "src");
	/* a chain: "mid" forwards what "far-away" wrote, mixed with its own */
	marker_line(line, sizeof(line), "far-away", 700, 1);
	store_line(&w, "mid", 1, line);
	marker_line(line, sizeof(line), "mid", 701, 2);
	store_line(&w, "mid", 2, line);
	pass(&w);
	assert_value(&w, "SELECT string_agg(id || '=' || origin, ',' ORDER BY id)"
				 " FROM copy.origin_log WHERE id >= 700", "700=far-away,701=mid");
	world_close(&w);
}
END_TEST

/*
 * Foreign keys: a child written before its parent in one source
 * transaction applies on a target whose key is DEFERRABLE (the applier
 * defers all constraints); with a NOT DEFERRABLE key the batch is held
 * with the reason until the constraint is made deferrable.
 */
START_TEST(test_foreign_keys)
{
	world		w;
	char	   *reason;

	world_open(&w, "apply_fk",
			   "CREATE TABLE public.parent (id int PRIMARY KEY);"
			   "CREATE TABLE public.child (id int PRIMARY KEY, parent_id int"
			   " REFERENCES public.parent DEFERRABLE INITIALLY DEFERRED);"
			   "CREATE TABLE public.p2 (id int PRIMARY KEY);"
			   "CREATE TABLE public.c2 (id int PRIMARY KEY, p2_id int"
			   " REFERENCES public.p2 DEFERRABLE INITIALLY DEFERRED);"
			   "CREATE TABLE public.p3 (id int PRIMARY KEY);"
			   "CREATE TABLE public.c3 (id int PRIMARY KEY, p3_id int REFERENCES public.p3);",
			   "CREATE TABLE copy.parent (id int PRIMARY KEY);"
			   "CREATE TABLE copy.child (id int PRIMARY KEY, parent_id int"
			   " REFERENCES copy.parent DEFERRABLE INITIALLY IMMEDIATE);"
			   "CREATE TABLE copy.p2 (id int PRIMARY KEY);"
			   "CREATE TABLE copy.c2 (id int PRIMARY KEY, p2_id int"
			   " CONSTRAINT c2_fk REFERENCES copy.p2);"
			   "CREATE TABLE copy.p3 (id int PRIMARY KEY);"
			   "CREATE TABLE copy.c3 (id int PRIMARY KEY, p3_id int REFERENCES copy.p3);",
			   300, NULL);
	sql_ok(&w, "BEGIN; INSERT INTO public.child VALUES (1, 1), (2, 1);"
		   " INSERT INTO public.parent VALUES (1); COMMIT");
	converge(&w);
	assert_same(&w, "parent");
	assert_same(&w, "child");

	/*
	 * Tables tied by a NOT DEFERRABLE key keep the source's order across
	 * tables (other tables' changes may be grouped out of it).
	 */
	sql_ok(&w, "INSERT INTO public.p3 SELECT generate_series(1, 20);"
		   "INSERT INTO public.c3 SELECT g, g FROM generate_series(1, 20) g");
	for (int i = 1; i <= 10; i++)
	{
		char		sql[512];

		snprintf(sql, sizeof(sql),
				 "BEGIN; DELETE FROM public.c3 WHERE id = %d; DELETE FROM public.p3 WHERE id = %d;"
				 " INSERT INTO public.p3 VALUES (%d); INSERT INTO public.c3 VALUES (%d, %d);"
				 " INSERT INTO public.parent VALUES (%d); COMMIT", i, i, 100 + i, 100 + i,
				 100 + i, 100 + i);
		sql_ok(&w, sql);
	}
	converge(&w);
	assert_same(&w, "p3");
	assert_same(&w, "c3");
	assert_same(&w, "parent");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox_stream WHERE held_seq IS NOT NULL", "0");

	sql_ok(&w, "BEGIN; INSERT INTO public.c2 VALUES (1, 1);"
		   " INSERT INTO public.p2 VALUES (1); COMMIT");
	reason = wait_held(&w);
	ck_assert_msg(tp_contains(reason, "foreign key constraint \"c2_fk\""), "reason: %s", reason);
	free(reason);
	sql_ok(&w, "ALTER TABLE copy.c2 ALTER CONSTRAINT c2_fk DEFERRABLE");
	converge(&w);
	assert_same(&w, "p2");
	assert_same(&w, "c2");
	world_close(&w);
}
END_TEST

/*
 * A few keys updated over and over in one transaction (a pgbench teller):
 * in an upsert group the last row of a key replaces the earlier ones, so
 * the copy ends the same; a table whose ordinary triggers fire for the
 * applier still gets every change (its trigger sees each one).
 */
START_TEST(test_repeated_keys)
{
	world		w;

	world_open(&w, "apply_repeat",
			   "CREATE TABLE public.teller (id int PRIMARY KEY, balance bigint, n int);"
			   "CREATE TABLE public.audited (id int PRIMARY KEY, v int);"
			   "INSERT INTO public.teller SELECT g, 0, 0 FROM generate_series(1, 5) g;"
			   "INSERT INTO public.audited VALUES (1, 0);",
			   "CREATE TABLE copy.teller (id int PRIMARY KEY, balance bigint, n int);"
			   "CREATE TABLE copy.audited (id int PRIMARY KEY, v int);"
			   "INSERT INTO copy.teller SELECT g, 0, 0 FROM generate_series(1, 5) g;"
			   "INSERT INTO copy.audited VALUES (1, 0);"
			   "CREATE TABLE copy.seen (v int);"
			   "CREATE FUNCTION copy.see() RETURNS trigger LANGUAGE plpgsql AS $$"
			   " BEGIN INSERT INTO copy.seen VALUES (NEW.v); RETURN NULL; END $$;"
			   "CREATE TRIGGER see AFTER INSERT OR UPDATE ON copy.audited"
			   " FOR EACH ROW EXECUTE FUNCTION copy.see();", 300, NULL);
	sql_ok(&w, "DO $$BEGIN FOR i IN 1..200 LOOP"
		   " UPDATE public.teller SET balance = balance + i, n = n + 1 WHERE id = 1 + i % 5;"
		   " END LOOP; END$$;"
		   "DO $$BEGIN FOR i IN 1..4 LOOP UPDATE public.audited SET v = i; END LOOP; END$$;");
	converge(&w);
	assert_same(&w, "teller");
	assert_same(&w, "audited");
	assert_value(&w, "SELECT string_agg(v::text, ',' ORDER BY v) FROM copy.seen", "1,2,3,4");
	world_close(&w);
}
END_TEST

/*
 * session_replication_role: replica (permitted: the tests connect as a
 * superuser) turns the target's foreign key checks and ordinary triggers
 * off for applied changes.
 */
START_TEST(test_replica_role)
{
	world		w;

	world_open(&w, "apply_replica",
			   "CREATE TABLE public.p (id int PRIMARY KEY);"
			   "CREATE TABLE public.c (id int PRIMARY KEY, p_id int"
			   " REFERENCES public.p DEFERRABLE INITIALLY DEFERRED);",
			   "CREATE TABLE copy.p (id int PRIMARY KEY);"
			   "CREATE TABLE copy.c (id int PRIMARY KEY, p_id int REFERENCES copy.p);"
			   "CREATE TABLE copy.fired (n int);"
			   "CREATE FUNCTION copy.fire() RETURNS trigger LANGUAGE plpgsql AS $$"
			   " BEGIN INSERT INTO copy.fired VALUES (1); RETURN NULL; END $$;"
			   "CREATE TRIGGER fire AFTER INSERT ON copy.p"
			   " FOR EACH ROW EXECUTE FUNCTION copy.fire();", 300,
			   "applier_options:\n  session_replication_role: replica\n");
	sql_ok(&w, "BEGIN; INSERT INTO public.c VALUES (1, 1); INSERT INTO public.p VALUES (1);"
		   " COMMIT");
	converge(&w);
	assert_same(&w, "p");
	assert_same(&w, "c");
	assert_value(&w, "SELECT count(*) FROM copy.fired", "0");
	world_close(&w);
}
END_TEST

/*
 * Initial loads (TP_BATCH_LOAD batches, teleport/batch.h), stored by hand:
 * a load's chain is partial batches but its last, as the source sends it.
 */

/*
 * Offer a load batch of source as seq: its first line header (without
 * newline), then rows (COPY text lines, each ending in a newline; NULL:
 * none). Returns the inbox's answer.
 */
static tp_delivery_status
offer_load(world *w, const char *source, uint64_t seq, const char *header,
		   const char *rows, bool partial)
{
	size_t		len = strlen(header) + 2 + (rows ? strlen(rows) : 0);
	char	   *data = malloc(len);
	int			n = 1;
	tp_delivery_status status;

	ck_assert_ptr_nonnull(data);
	snprintf(data, len, "%s\n%s", header, rows ? rows : "");
	for (const char *p = rows; p != NULL && *p != '\0'; p++)
		n += *p == '\n';
	status = offer_batch(w, TP_BATCH_LOAD, source, seq, data, n, partial);
	free(data);
	return status;
}

/* A load batch (see offer_load) that the inbox must take. */
static void
store_load(world *w, const char *source, uint64_t seq, const char *header,
		   const char *rows, bool partial)
{
	ck_assert_int_eq(offer_load(w, source, seq, header, rows, partial), TP_DELIVERY_STORED);
}

/* The header of load 7's rows of public.table (columns: a JSON array). */
static void
rows_header(char *buf, size_t len, const char *table, const char *columns, int chunk)
{
	snprintf(buf, len, "{\"load\":{\"id\":7,\"step\":\"rows\",\"schema\":\"public\","
			 "\"table\":\"%s\",\"columns\":%s,\"chunk\":%d}}", table, columns, chunk);
}

/* The header of load 7's begin of tables (a JSON array). */
static void
begin_header(char *buf, size_t len, const char *tables)
{
	snprintf(buf, len, "{\"load\":{\"id\":7,\"step\":\"begin\",\"tables\":%s}}", tables);
}

#define LOAD_END "{\"load\":{\"id\":7,\"step\":\"end\"}}"

/* The rows of query as `COPY (query) TO STDOUT` prints them (a new string). */
static char *
copy_out(world *w, const char *query)
{
	char		sql[4096];
	PGresult   *res;
	char	   *out = NULL;
	size_t		len = 0;
	size_t		cap = 0;

	snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", query);
	res = PQexec(w->conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COPY_OUT, "%s: %s", sql,
				  PQerrorMessage(w->conn));
	PQclear(res);
	for (;;)
	{
		char	   *row;
		int			n = PQgetCopyData(w->conn, &row, 0);

		if (n == -1)
			break;
		ck_assert_msg(n > 0, "COPY TO STDOUT: %s", PQerrorMessage(w->conn));
		if (len + (size_t) n + 1 > cap)
		{
			char	   *grown;

			cap = (len + (size_t) n + 1) * 2;
			grown = realloc(out, cap);
			ck_assert_ptr_nonnull(grown);
			out = grown;
		}
		memcpy(out + len, row, (size_t) n);
		len += (size_t) n;
		out[len] = '\0';
		PQfreemem(row);
	}
	res = PQgetResult(w->conn);
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	while ((res = PQgetResult(w->conn)) != NULL)
		PQclear(res);
	return out != NULL ? out : strdup("");
}

/* The stream of source: "held_state held_seq last_applied" (- for none). */
static char *
load_stream(world *w, const char *source)
{
	char		sql[512];

	snprintf(sql, sizeof(sql), "SELECT coalesce(held_state, '-') || ' ' ||"
			 " coalesce(held_seq::text, '-') || ' ' || last_applied"
			 " FROM teleport.inbox_stream WHERE source = '%s'", source);
	return sql_value(w, sql);
}

/* Assert that source's stream is as expected (see load_stream). */
static void
assert_stream(world *w, const char *source, const char *expected)
{
	char	   *v = load_stream(w, source);

	ck_assert_msg(strcmp(v, expected) == 0, "stream %s: %s, not %s", source, v, expected);
	free(v);
}

/* The reason source's stream is held for (a new string, "" when none). */
static char *
held_reason_of(world *w, const char *source)
{
	char		sql[512];

	snprintf(sql, sizeof(sql), "SELECT coalesce(held_reason, '') FROM"
			 " teleport.inbox_stream WHERE source = '%s'", source);
	return sql_value(w, sql);
}

/* Assert that source's stream is held (state) with a reason holding text. */
static void
assert_held(world *w, const char *source, const char *state, const char *text)
{
	char	   *reason = held_reason_of(w, source);
	char		expected[64];

	snprintf(expected, sizeof(expected), "%s 1 0", state);
	assert_stream(w, source, expected);
	ck_assert_msg(tp_contains(reason, text), "stream %s: reason \"%s\" lacks \"%s\"",
				  source, reason, text);
	free(reason);
}

/*
 * A load's chain, with batches of changes around it as a load sends them,
 * into tables that hold rows the load does not have: nothing is applied
 * until the chain's last batch is in; then, in one pass, the tables hold
 * exactly the loaded rows (the columns a load does not carry take their
 * defaults), the changes before the load (an open group carried from a
 * partial batch) and after it (on a loaded row) are applied, and the
 * target's triggers see the load's rows as coming from its source.
 */
START_TEST(test_load_chain)
{
	world		w;
	tp_apply_stats stats;
	char		header[1024];
	char	   *log;

	world_open(&w, "apply_load", NULL,
			   "CREATE TABLE copy.la (id int PRIMARY KEY, \"v w\" text, n int DEFAULT 5);"
			   "CREATE TABLE copy.lb (id int PRIMARY KEY, note text);"
			   "CREATE TABLE copy.lc (id int PRIMARY KEY);"
			   "CREATE TABLE copy.seen (tbl text, origin text);"
			   "CREATE FUNCTION copy.seen() RETURNS trigger LANGUAGE plpgsql AS"
			   " $$BEGIN INSERT INTO copy.seen VALUES (TG_TABLE_NAME,"
			   " current_setting('teleport.origin', true)); RETURN NULL; END$$;"
			   "CREATE TRIGGER seen AFTER INSERT ON copy.lb FOR EACH ROW"
			   " EXECUTE FUNCTION copy.seen();"
			   "INSERT INTO copy.la VALUES (1, 'old', 1), (100, 'not loaded', 2);"
			   "INSERT INTO copy.lb VALUES (1, 'old')", 300, NULL);
	sql_ok(&w, "DELETE FROM copy.seen");
	/*
	 * 1: changes of another table and of a loaded one (their groups stay
	 * open: partial); the load's TRUNCATE must come after them
	 */
	store_batch(&w, TP_BATCH_CHANGES, "ld", 1,
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1},\"source\":{\"name\":\"ld\","
				"\"schema\":\"public\",\"table\":\"lc\",\"txid\":5,\"seq\":1,\"batch\":1},"
				"\"ts_ms\":1}\n"
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":50,\"v w\":\"pre\",\"n\":9},"
				"\"source\":{\"name\":\"ld\",\"schema\":\"public\",\"table\":\"la\","
				"\"txid\":5,\"seq\":2,\"batch\":1},\"ts_ms\":1}\n"
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2},\"source\":{\"name\":\"ld\","
				"\"schema\":\"public\",\"table\":\"lc\",\"txid\":5,\"seq\":3,\"batch\":1},"
				"\"ts_ms\":1}\n", 3, true);
	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"la\"},"
				 "{\"schema\":\"public\",\"table\":\"lb\"}]");
	store_load(&w, "ld", 2, header, NULL, true);
	rows_header(header, sizeof(header), "la", "[\"id\",\"v w\"]", 1);
	store_load(&w, "ld", 3, header, "1\tone\n2\t\\N\n3\ttab\\there\n", true);
	rows_header(header, sizeof(header), "la", "[\"id\",\"v w\"]", 2);
	store_load(&w, "ld", 4, header, "4\tfour\n5\tback\\\\slash\\nline\n", true);
	rows_header(header, sizeof(header), "lb", "[\"id\",\"note\"]", 3);
	store_load(&w, "ld", 5, header, "10\tten\n11\t\\N\n", true);
	/* 6: a change of a loaded row, after the rows */
	store_batch(&w, TP_BATCH_CHANGES, "ld", 6,
				"{\"op\":\"u\",\"before\":{\"id\":2},\"after\":{\"id\":2,\"v w\":\"two\","
				"\"n\":6},\"source\":{\"name\":\"ld\",\"schema\":\"public\",\"table\":\"la\","
				"\"txid\":5,\"seq\":4,\"batch\":6},\"ts_ms\":1}\n", 1, true);

	/* not all in yet: nothing applied */
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 0);
	ck_assert_int_ge(stats.waiting, 1);
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.la", "1,100");
	assert_value(&w, "SELECT count(*) FROM copy.lc", "0");

	store_load(&w, "ld", 7, LOAD_END, NULL, false);
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 1);
	ck_assert_int_eq(stats.batches, 7);
	ck_assert_int_eq(stats.held, 0);
	assert_stream(&w, "ld", "- - 7");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'ld'", "0");
	assert_value(&w, "SELECT count(*) FROM copy.la", "5");
	assert_value(&w, "SELECT count(*) FROM ((TABLE copy.la EXCEPT ALL VALUES"
				 " (1, 'one', 5), (2, 'two', 6), (3, E'tab\\there', 5), (4, 'four', 5),"
				 " (5, E'back\\\\slash\\nline', 5)) UNION ALL"
				 " (VALUES (1, 'one', 5), (2, 'two', 6), (3, E'tab\\there', 5),"
				 " (4, 'four', 5), (5, E'back\\\\slash\\nline', 5) EXCEPT ALL"
				 " TABLE copy.la)) d", "0");
	assert_value(&w, "SELECT string_agg(id || ':' || coalesce(note, 'NULL'), ','"
				 " ORDER BY id) FROM copy.lb", "10:ten,11:NULL");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.lc", "1,2");
	assert_value(&w, "SELECT string_agg(tbl || ':' || origin, ',') FROM copy.seen",
				 "lb:ld,lb:ld");
	log = tp_read_file(w.test_log);
	ck_assert_msg(!tp_contains(log, "] warning ") && !tp_contains(log, "] error "),
				  "log:\n%s", log);
	free(log);
	world_close(&w);
}
END_TEST

/* The columns of ld.types, for the SELECT list and the load's header. */
static const char *const type_columns[] = {
	"id", "n", "f", "r", "b", "ia", "ta", "jb", "js", "ts", "tsn", "d", "iv",
	"t", "c", "m", "u", "ip", "bo", "rg", "x", "col w", NULL
};

/*
 * Values of many built-in types survive a load exactly: its rows are what
 * a real `COPY (SELECT ...) TO STDOUT` on a source table printed, in two
 * chunks of more than the applier's 64 kB pieces, and the copy equals the
 * source (each row as text, EXCEPT ALL both ways).
 */
START_TEST(test_load_types)
{
	world		w;
	tp_apply_stats stats;
	char		header[2048];
	char		list[1024] = "";
	char		columns[1024] = "[";
	char		query[2048];
	char	   *rows;

	world_open(&w, "apply_load_types", NULL,
			   "CREATE SCHEMA ld;"
			   "CREATE TYPE ld.mood AS ENUM ('sad', 'happy');"
			   "CREATE TYPE ld.pair AS (a int, b text);"
			   "CREATE TABLE ld.types (id int PRIMARY KEY, n numeric, f float8, r real,"
			   " b bytea, ia int[], ta text[], jb jsonb, js json, ts timestamptz,"
			   " tsn timestamp, d date, iv interval, t text, c ld.pair, m ld.mood,"
			   " u uuid, ip inet, bo boolean, rg int8range, x xml, \"col w\" text);"
			   "CREATE TABLE copy.types (LIKE ld.types INCLUDING ALL)", 300, NULL);
	sql_ok(&w, "INSERT INTO ld.types VALUES"
		   " (1, 1234567890123456789012345678901234567890.1234567890123, 'NaN', 1.5,"
		   "  '\\x00ff5c0a09', '{1,NULL,3}', ARRAY[E'a\\tb', NULL, E'c\\\\d', 'e\"f', '',"
		   "  'NULL'], '{\"k\": [1, 2.50, \"x\\ty\"], \"u\": \"\\u00e9\\ud83d\\ude00\"}',"
		   "  '{\"k\" : 1.0,  \"k\": 2}', '2024-02-29 12:34:56.789+05:30',"
		   "  '2024-02-29 12:34:56.789', '2024-02-29', '1 year 2 mons 3 days 04:05:06.7',"
		   "  E'tab\\there\\nnew line\\\\back\\\\\\\\slash \\r cr \\U0001F600 end',"
		   "  ROW(1, E'x\\ty\"z\\\\'), 'happy', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
		   "  '192.168.0.1/24', true, '[1,10)', '<a>x &amp; y</a>', E'\\\\.'),"
		   " (2, -0.000000000000000000000000000000000000000000012345, '-0', '-Infinity',"
		   "  '\\x', '{}', '{NULL}', 'null', 'null', '-infinity', 'infinity', '-infinity',"
		   "  '-178000000 years', '', ROW(NULL, NULL), 'sad', NULL, '::1', false, 'empty',"
		   "  '<b/>', E'\\\\N'),"
		   " (3, 'NaN', 'Infinity', 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
		   "  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
	sql_ok(&w, "INSERT INTO ld.types (id, n, f, t, ia, jb, c)"
		   " SELECT g, g * 1.1, g / 7.0::float8,"
		   " repeat(E'x\\ty\\\\z\\n', g % 40) || chr(128512 + g % 50),"
		   " ARRAY[g, NULL], jsonb_build_object('g', g, 's', repeat('\"', g % 5)),"
		   " ROW(g, repeat(',', g % 3))::ld.pair"
		   " FROM generate_series(4, 3000) g");
	for (int i = 0; type_columns[i] != NULL; i++)
	{
		char		quoted[64];

		snprintf(quoted, sizeof(quoted), "%s\"%s\"", i > 0 ? ", " : "", type_columns[i]);
		strcat(list, quoted);
		snprintf(quoted, sizeof(quoted), "%s\"%s\"", i > 0 ? "," : "", type_columns[i]);
		strcat(columns, quoted);
	}
	strcat(columns, "]");
	/* the existing rows of the target go */
	sql_ok(&w, "INSERT INTO copy.types (id, t) VALUES (1, 'old'), (5000, 'old')");

	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"types\"}]");
	store_load(&w, "ty", 1, header, NULL, true);
	snprintf(query, sizeof(query), "SELECT %s FROM ld.types WHERE id <= 1500 ORDER BY id", list);
	rows = copy_out(&w, query);
	ck_assert_uint_gt(strlen(rows), 3 * 64 * 1024);
	rows_header(header, sizeof(header), "types", columns, 1);
	store_load(&w, "ty", 2, header, rows, true);
	free(rows);
	snprintf(query, sizeof(query), "SELECT %s FROM ld.types WHERE id > 1500", list);
	rows = copy_out(&w, query);
	rows_header(header, sizeof(header), "types", columns, 2);
	store_load(&w, "ty", 3, header, rows, true);
	free(rows);
	store_load(&w, "ty", 4, LOAD_END, NULL, false);

	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 1);
	assert_stream(&w, "ty", "- - 4");
	assert_equal(&w, "ld.types", "copy.types");
	assert_value(&w, "SELECT count(*) FROM copy.types", "3000");
	/* the tricky values one by one too */
	assert_value(&w, "SELECT n || ' ' || f || ' ' || r || ' ' || (\"col w\" = E'\\\\N')"
				 " || ' ' || (t = '') FROM copy.types WHERE id = 2",
				 "-0.000000000000000000000000000000000000000000012345 -0 -Infinity true true");
	assert_value(&w, "SELECT \"col w\" = E'\\\\.' FROM copy.types WHERE id = 1", "t");
	assert_value(&w, "SELECT count(*) FROM copy.types c JOIN ld.types s USING (id)"
				 " WHERE c.t IS NOT DISTINCT FROM s.t AND c.b IS NOT DISTINCT FROM s.b"
				 " AND c.jb IS NOT DISTINCT FROM s.jb AND c.js::text IS NOT DISTINCT FROM"
				 " s.js::text AND c.x::text IS NOT DISTINCT FROM s.x::text"
				 " AND c.ts IS NOT DISTINCT FROM s.ts AND c.iv IS NOT DISTINCT FROM s.iv"
				 " AND c.ta IS NOT DISTINCT FROM s.ta AND c.c IS NOT DISTINCT FROM s.c"
				 " AND c.n IS NOT DISTINCT FROM s.n AND c.f IS NOT DISTINCT FROM s.f",
				 "3000");
	world_close(&w);
}
END_TEST

/*
 * Identity and generated columns: a GENERATED ALWAYS identity column is
 * written from the rows (COPY FROM does), a generated column computed; a
 * load that names the generated column is held with the server's reason.
 */
START_TEST(test_load_generated)
{
	world		w;
	char		header[1024];

	world_open(&w, "apply_load_gen", NULL,
			   "CREATE TABLE copy.gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
			   " a int, b int GENERATED ALWAYS AS (a * 2) STORED, \"nöte 😀\" text);"
			   "INSERT INTO copy.gen (a, \"nöte 😀\") VALUES (1, 'old')", 300, NULL);
	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"gen\"}]");
	store_load(&w, "gn", 1, header, NULL, true);
	rows_header(header, sizeof(header), "gen", "[\"id\",\"a\",\"n\\u00f6te \\ud83d\\ude00\"]", 1);
	store_load(&w, "gn", 2, header, "5\t10\tx\n9\t\\N\ty\n", true);
	store_load(&w, "gn", 3, LOAD_END, NULL, false);
	pass(&w);
	assert_stream(&w, "gn", "- - 3");
	assert_value(&w, "SELECT string_agg(concat_ws(':', id, a, b, \"nöte 😀\"), ',' ORDER BY id)"
				 " FROM copy.gen", "5:10:20:x,9:y");

	/* the generated column named: held with the server's message */
	rows_header(header, sizeof(header), "gen", "[\"id\",\"a\",\"b\",\"nöte 😀\"]", 1);
	store_load(&w, "gx", 1, header, "6\t1\t2\tz\n", false);
	pass(&w);
	assert_held(&w, "gx", "retrying", "column \"b\" is a generated column");
	assert_value(&w, "SELECT count(*) FROM copy.gen", "2");
	world_close(&w);
}
END_TEST

/*
 * What fails: a table or a column the target lacks holds the chain with a
 * reason that names it, until it is created; rows that COPY refuses hold
 * it with the server's message; a malformed load batch stops its stream.
 * Nothing of a failing chain is applied, the TRUNCATE of its begin
 * included.
 */
START_TEST(test_load_failures)
{
	world		w;
	char		header[1024];
	tp_apply_stats stats;
	char	   *log;

	world_open(&w, "apply_load_fail", NULL,
			   "CREATE TABLE copy.fa (id int PRIMARY KEY, v text);"
			   "CREATE TABLE copy.fb (id int PRIMARY KEY);"
			   "INSERT INTO copy.fa VALUES (1, 'old'), (2, 'old')", 300, NULL);

	/* fr: the second chunk has a row of one column where COPY wants two */
	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"fa\"}]");
	store_load(&w, "fr", 1, header, NULL, true);
	rows_header(header, sizeof(header), "fa", "[\"id\",\"v\"]", 1);
	store_load(&w, "fr", 2, header, "4\tok\n", true);
	rows_header(header, sizeof(header), "fa", "[\"id\",\"v\"]", 2);
	store_load(&w, "fr", 3, header, "5\tok\n6\n", true);
	store_load(&w, "fr", 4, LOAD_END, NULL, false);

	/* fm: a table of the load that the target lacks */
	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"fa\"},"
				 "{\"schema\":\"public\",\"table\":\"fnew\"}]");
	store_load(&w, "fm", 1, header, NULL, true);
	rows_header(header, sizeof(header), "fa", "[\"id\",\"v\"]", 1);
	store_load(&w, "fm", 2, header, "3\tnew\n", true);
	rows_header(header, sizeof(header), "fnew", "[\"id\"]", 2);
	store_load(&w, "fm", 3, header, "7\n", true);
	store_load(&w, "fm", 4, LOAD_END, NULL, false);

	/* fc: a column the target lacks */
	rows_header(header, sizeof(header), "fb", "[\"id\",\"w\"]", 1);
	store_load(&w, "fc", 1, header, "1\tx\n", false);

	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 0);
	ck_assert_int_eq(stats.held, 3);
	assert_held(&w, "fr", "retrying", "missing data for column \"v\"");
	assert_held(&w, "fr", "retrying", "COPY into \"copy\".\"fa\" (load 7, chunk 2 of public.fa,"
				" batch 3)");
	assert_held(&w, "fm", "retrying", "table \"copy\".\"fnew\" does not exist on the target");
	assert_held(&w, "fc", "retrying", "table \"copy\".\"fb\" has no column \"w\"");
	assert_value(&w, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM copy.fa",
				 "1:old,2:old");
	log = tp_read_file(w.test_log);
	ck_assert_msg(!tp_contains(log, "\"op\" is missing"), "log:\n%s", log);
	ck_assert_msg(tp_contains(log, "missing data for column \"v\"") &&
				  tp_contains(log, "\"copy\".\"fnew\" does not exist"), "log:\n%s", log);
	free(log);

	/* created: the chain applies; fr's stays held, and retried */
	sql_ok(&w, "CREATE TABLE copy.fnew (id int PRIMARY KEY);"
		   "ALTER TABLE copy.fb ADD COLUMN w text");
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 2);
	ck_assert_int_eq(stats.held, 1);
	assert_stream(&w, "fm", "- - 4");
	assert_stream(&w, "fc", "- - 1");
	assert_value(&w, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM copy.fa", "3:new");
	assert_value(&w, "SELECT string_agg(id::text, ',') FROM copy.fnew", "7");
	assert_value(&w, "SELECT string_agg(id || ':' || w, ',') FROM copy.fb", "1:x");
	assert_held(&w, "fr", "retrying", "missing data for column \"v\"");

	/* malformed: each stops its stream, with what is wrong */
	store_load(&w, "bj", 1, "{\"load\":{\"id\":1,\"step\":\"end\"}", NULL, false);
	store_load(&w, "bo", 1, "{\"unload\":{\"id\":1,\"step\":\"end\"}}", NULL, false);
	store_load(&w, "bs", 1, "{\"load\":{\"id\":1,\"step\":\"middle\"}}", NULL, false);
	store_load(&w, "bd", 1, "{\"load\":{\"id\":1,\"step\":\"end\",\"id\":2}}", NULL, false);
	store_load(&w, "bm", 1, "{\"load\":{\"id\":1,\"step\":\"rows\",\"schema\":\"public\","
			   "\"table\":\"fa\",\"chunk\":1}}", "9\tz\n", false);
	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"fa\"}]");
	store_load(&w, "bl", 1, header, "9\tz\n", false);
	/* bc: a chain whose begin ran before its malformed second batch */
	store_load(&w, "bc", 1, header, NULL, true);
	store_load(&w, "bc", 2, "{\"load\":{\"id\":\"7\",\"step\":\"end\"}}", NULL, false);
	stats = pass(&w);
	ck_assert_int_eq(stats.applied, 0);
	assert_held(&w, "bj", "stopped", "load batch 1 from \"bj\" is malformed: its first "
				"line is not valid JSON");
	assert_held(&w, "bo", "stopped", "is not an object {\"load\":{...}}");
	assert_held(&w, "bs", "stopped", "its \"step\" is none of begin, rows, end and void");
	assert_held(&w, "bd", "stopped", "its first line has an object with a member twice");
	assert_held(&w, "bm", "stopped", "\"columns\" is missing or not an array");
	assert_held(&w, "bl", "stopped", "only a \"rows\" batch has lines after the first");
	assert_held(&w, "bc", "stopped", "load batch 2 from \"bc\" is malformed: \"id\" is "
				"missing or not an integer");
	assert_value(&w, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM copy.fa", "3:new");
	world_close(&w);
}
END_TEST

/* Wait (20 s) for the one value of sql to be expected, or fail. */
static void
wait_value(world *w, const char *sql, const char *expected)
{
	if (!tp_sql_wait(w->conn, sql, expected, 20))
	{
		char	   *v = sql_value(w, sql);

		ck_abort_msg("%s: %s, not %s", sql, v, expected);
	}
}

/*
 * A batch cut before a load, that cannot apply (here a change names a
 * column the target's table lacks), does not hold the load behind it:
 * once the load's begin is stored, the row changes of the tables it
 * empties are left out of the batches before it (the load copies them
 * again), the rest of the batch applies, then the load.
 */
START_TEST(test_load_supersedes)
{
	world		w;
	tp_apply_stats stats;
	char		header[1024];
	char	   *log;

	world_open(&w, "apply_load_sup", NULL,
			   "CREATE TABLE copy.lz (id int PRIMARY KEY);"
			   "CREATE TABLE copy.lk (id int PRIMARY KEY);"
			   "INSERT INTO copy.lz VALUES (1)", 300, NULL);
	store_lines(&w, "sl", 1,
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2,\"gone\":5},"
				"\"source\":{\"name\":\"sl\",\"schema\":\"public\",\"table\":\"lz\","
				"\"txid\":5,\"seq\":1,\"batch\":1},\"ts_ms\":1}\n"
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":3},\"source\":{\"name\":\"sl\","
				"\"schema\":\"public\",\"table\":\"lk\",\"txid\":5,\"seq\":2,\"batch\":1},"
				"\"ts_ms\":1}\n", 2);
	stats = pass(&w);
	ck_assert_int_eq(stats.held, 1);
	assert_held(&w, "sl", "retrying", "\"gone\"");

	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"lz\"}]");
	store_load(&w, "sl", 2, header, NULL, false);
	rows_header(header, sizeof(header), "lz", "[\"id\"]", 1);
	store_load(&w, "sl", 3, header, "7\n8\n", false);
	store_load(&w, "sl", 4, LOAD_END, NULL, false);
	stats = pass(&w);
	ck_assert_int_eq(stats.held, 0);
	assert_stream(&w, "sl", "- - 4");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.lz", "7,8");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.lk", "3");
	log = tp_read_file(w.test_log);
	ck_assert_msg(tp_contains(log, "batch 1: 1 row change(s) left out, of tables that the "
							  "load at batch 2 empties"), "log:\n%s", log);
	free(log);
	world_close(&w);
}
END_TEST

/*
 * A held stream waits for its backoff, but batches stored since its last
 * try bring the next try forward to 2 s after it: a unit held seven times
 * (its backoff 3.2 to 6.4 s) is tried again 2 s after the load that lets
 * it through was stored, not when its backoff ends.
 */
START_TEST(test_held_retried_on_news)
{
	world		w;
	tp_apply_stats stats;
	char		header[1024];

	world_open(&w, "apply_news", NULL,
			   "CREATE TABLE copy.nz (id int PRIMARY KEY)", 300, NULL);
	store_lines(&w, "nw", 1,
				"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":2,\"gone\":5},"
				"\"source\":{\"name\":\"nw\",\"schema\":\"public\",\"table\":\"nz\","
				"\"txid\":5,\"seq\":1,\"batch\":1},\"ts_ms\":1}\n", 1);
	for (int i = 0; i < 7; i++)
	{
		stats = pass(&w);
		ck_assert_int_eq(stats.held, 1);
	}
	ck_assert(tp_apply_loop_pass(w.loop, false, &stats));
	ck_assert_int_eq(stats.held, 0);	/* its backoff */

	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"nz\"}]");
	store_load(&w, "nw", 2, header, NULL, false);
	rows_header(header, sizeof(header), "nz", "[\"id\"]", 1);
	store_load(&w, "nw", 3, header, "7\n", false);
	store_load(&w, "nw", 4, LOAD_END, NULL, false);
	ck_assert(tp_apply_loop_pass(w.loop, false, &stats));
	ck_assert_int_eq(stats.applied, 0);	/* tried less than 2 s ago */
	usleep(2200000);
	ck_assert(tp_apply_loop_pass(w.loop, false, &stats));
	ck_assert_int_eq(stats.held, 0);
	assert_stream(&w, "nw", "- - 4");
	assert_value(&w, "SELECT string_agg(id::text, ',') FROM copy.nz", "7");
	world_close(&w);
}
END_TEST

/*
 * w's apply loop started, with a second lane as the daemon gives it, and
 * offered the batches that can be applied on arrival; the seq of every
 * batch the inbox stores goes to copy.stored.
 */
static void
start_applying_on_arrival(world *w)
{
	ck_assert(tp_inbox_ready(w->inbox));
	sql_ok(w, "CREATE TABLE copy.stored (seq bigint);"
		   "CREATE FUNCTION copy.stored() RETURNS trigger LANGUAGE plpgsql AS"
		   " $$BEGIN INSERT INTO copy.stored VALUES (NEW.seq); RETURN NEW; END$$;"
		   "CREATE TRIGGER stored BEFORE INSERT ON teleport.inbox FOR EACH ROW"
		   " EXECUTE FUNCTION copy.stored()");
	w->ctx2 = tp_host_ctx_new(w->config, w->conninfo, w->entry);
	ck_assert_int_eq(w->cb->startup(w->ctx2), TP_OK);
	tp_apply_loop_add_lane(w->loop, w->ctx2);
	ck_assert(tp_apply_loop_start(w->loop));
	tp_inbox_set_apply_now(w->inbox, tp_apply_loop_apply_now, w->loop);
}

/*
 * With the loop's thread running and the inbox handing it load batches
 * (as the daemon sets it up), a load batch that is a unit of its own is
 * applied on arrival, never stored, when its stream has nothing else to
 * apply; a second delivery of it is a duplicate. One that fails on
 * arrival (its table is missing) is stored, and held with its reason as
 * any batch, and the batches after it are stored behind it; a partial
 * one is stored; when the table appears they apply in order.
 */
START_TEST(test_load_on_arrival)
{
	world		w;
	char		header[1024];
	char	   *reason;
	static const char na_cols[] = "[\"id\",\"v\"]";

	world_open(&w, "apply_load_now", NULL,
			   "CREATE TABLE copy.na (id int PRIMARY KEY, v text);"
			   "INSERT INTO copy.na VALUES (1, 'old'), (9, 'old')", 300, NULL);
	start_applying_on_arrival(&w);

	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"na\"}]");
	ck_assert_int_eq(offer_load(&w, "on", 1, header, NULL, false), TP_DELIVERY_STORED);
	rows_header(header, sizeof(header), "na", na_cols, 1);
	ck_assert_int_eq(offer_load(&w, "on", 2, header, "1\tone\n2\t\\N\n", false),
					 TP_DELIVERY_STORED);
	/* applied by the time the inbox answered, and never stored */
	assert_value(&w, "SELECT string_agg(id || ':' || coalesce(v, 'NULL'), ',' ORDER BY id)"
				 " FROM copy.na", "1:one,2:NULL");
	assert_stream(&w, "on", "- - 2");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'on'", "0");
	ck_assert_int_eq(offer_load(&w, "on", 2, header, "1\tone\n2\t\\N\n", false),
					 TP_DELIVERY_DUPLICATE);
	/* one ahead of the next: early (answered to be sent again), not a gap */
	ck_assert_int_eq(offer_load(&w, "on", 4, header, "3\tthree\n", false),
					 TP_DELIVERY_UNAVAILABLE);
	ck_assert_int_eq(offer_load(&w, "on", 40, header, "3\tthree\n", false), TP_DELIVERY_GAP);

	/* a table the target lacks: stored, held; what follows waits behind it */
	rows_header(header, sizeof(header), "nb", "[\"id\"]", 2);
	ck_assert_int_eq(offer_load(&w, "on", 3, header, "5\n", false), TP_DELIVERY_STORED);
	wait_value(&w, "SELECT held_state || ' ' || held_seq FROM teleport.inbox_stream"
			   " WHERE source = 'on'", "retrying 3");
	rows_header(header, sizeof(header), "na", na_cols, 3);
	ck_assert_int_eq(offer_load(&w, "on", 4, header, "3\tthree\n", false), TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_load(&w, "on", 5, LOAD_END, NULL, true), TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_load(&w, "on", 6, LOAD_END, NULL, false), TP_DELIVERY_STORED);
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM teleport.inbox"
				 " WHERE source = 'on'", "3,4,5,6");
	assert_value(&w, "SELECT count(*) FROM copy.na", "2");
	reason = held_reason_of(&w, "on");
	ck_assert_msg(tp_contains(reason, "table \"copy\".\"nb\" does not exist"),
				  "reason: %s", reason);
	free(reason);

	/* fixed: the stored ones apply in order; then on arrival again */
	sql_ok(&w, "CREATE TABLE copy.nb (id int PRIMARY KEY)");
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'on'", "6");
	rows_header(header, sizeof(header), "na", na_cols, 4);
	ck_assert_int_eq(offer_load(&w, "on", 7, header, "4\tfour\n", false), TP_DELIVERY_STORED);
	assert_stream(&w, "on", "- - 7");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'on'", "0");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.na", "1,2,3,4");
	assert_value(&w, "SELECT string_agg(id::text, ',') FROM copy.nb", "5");
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM copy.stored", "3,4,5,6");

	/* the loop stopped: stored, not applied */
	tp_apply_loop_stop(w.loop);
	rows_header(header, sizeof(header), "na", na_cols, 5);
	ck_assert_int_eq(offer_load(&w, "on", 8, header, "8\teight\n", false), TP_DELIVERY_STORED);
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'on'", "1");
	assert_value(&w, "SELECT count(*) FROM copy.na WHERE id = 8", "0");
	world_close(&w);
}
END_TEST

/*
 * A batch offered from a thread of its own: a load batch of source "fl"
 * (test_load_in_flight), or when lines is set a change batch of source
 * "ch" flagged flags (test_changes_in_flight).
 */
typedef struct offer
{
	world	   *w;
	uint64_t	seq;
	char		header[1024];
	const char *rows;
	const char *lines;
	uint32_t	flags;
	tp_delivery_status status;
	pthread_t	thread;
} offer;

static void *
offer_main(void *arg)
{
	offer	   *o = arg;

	if (o->lines != NULL)
		o->status = offer_flags(o->w, TP_BATCH_CHANGES, "ch", o->seq, o->lines, 1, o->flags);
	else
		o->status = offer_load(o->w, "fl", o->seq, o->header, o->rows, false);
	return NULL;
}

/* Offer o's batch on a thread; offer_join waits for its answer. */
static void
offer_start(offer *o)
{
	ck_assert_int_eq(pthread_create(&o->thread, NULL, offer_main, o), 0);
}

static tp_delivery_status
offer_join(offer *o)
{
	ck_assert_int_eq(pthread_join(o->thread, NULL), 0);
	return o->status;
}

/*
 * offer_join, and when the answer was "send again" (it came while the
 * batch before it was still being stored) offer it once more, as its
 * sender does: it must then be taken.
 */
static void
offer_join_taken(offer *o)
{
	if (offer_join(o) == TP_DELIVERY_UNAVAILABLE)
		offer_main(o);
	ck_assert_int_eq(o->status, TP_DELIVERY_STORED);
}

/*
 * The backends of the loop's lanes in a COPY (application names "teleport
 * apply" and "teleport apply 2").
 */
#define LANE_COPIES(names) \
	"SELECT count(*) FROM pg_stat_activity WHERE state = 'active'" \
	" AND query LIKE 'COPY %' AND application_name IN (" names ")"

/* What the second lane's backend waits for. */
#define LANE2_WAITS \
	"SELECT coalesce(wait_event_type || ' ' || wait_event, '-')" \
	" FROM pg_stat_activity WHERE application_name = 'teleport apply 2'"

/*
 * Offer chunk seq of table fl (rows) through o and, once the loop's first
 * lane is in its COPY, chunk seq + 1 (rows2) through o2.
 */
static void
offer_pair(offer *o, offer *o2, const char *cols, uint64_t seq,
		   const char *rows, const char *rows2)
{
	o->seq = seq;
	o->rows = rows;
	rows_header(o->header, sizeof(o->header), "fl", cols, (int) seq - 1);
	offer_start(o);
	wait_value(o->w, LANE_COPIES("'teleport apply'"), "1");
	o2->seq = seq + 1;
	o2->rows = rows2;
	rows_header(o2->header, sizeof(o2->header), "fl", cols, (int) seq);
	offer_start(o2);
}

/*
 * A sender with two load batches in flight: a batch that arrives before
 * its predecessor waits for it, then both are applied on arrival, in
 * order; one that arrives while its predecessor is applied on arrival is
 * applied on arrival too (neither is stored): alongside it, on the loop's
 * second connection (two backends in COPY at once), then waiting for its
 * transaction (an advisory lock) before it commits; when that one fails
 * (a constraint violated) or its backend is terminated, the one alongside
 * is rolled back, stored and applied after it, never before. One whose
 * predecessor never comes is answered UNAVAILABLE (sent again later),
 * nothing of it stored or applied.
 */
START_TEST(test_load_in_flight)
{
	world		w;
	char		header[1024];
	offer		o;
	offer		o2;
	long long	t0;
	static const char cols[] = "[\"id\"]";

	world_open(&w, "apply_load_flight", NULL,
			   "CREATE TABLE copy.fl (id int PRIMARY KEY, n serial);"
			   "CREATE FUNCTION copy.slow() RETURNS trigger LANGUAGE plpgsql AS"
			   " $$BEGIN PERFORM pg_sleep(CASE NEW.id WHEN 10 THEN 1 WHEN 30 THEN 2.5"
			   " WHEN 31 THEN 0.8 WHEN 40 THEN 1 WHEN 50 THEN 30 ELSE 0 END);"
			   " RETURN NEW; END$$;"
			   "CREATE TRIGGER slow BEFORE INSERT ON copy.fl FOR EACH ROW"
			   " EXECUTE FUNCTION copy.slow()", 300, NULL);
	start_applying_on_arrival(&w);

	begin_header(header, sizeof(header), "[{\"schema\":\"public\",\"table\":\"fl\"}]");
	ck_assert_int_eq(offer_load(&w, "fl", 1, header, NULL, false), TP_DELIVERY_STORED);

	/* 3 before 2: it waits for 2, then both apply in order */
	memset(&o, 0, sizeof(o));
	o.w = &w;
	o.seq = 3;
	o.rows = "3\n4\n";
	rows_header(o.header, sizeof(o.header), "fl", cols, 2);
	offer_start(&o);
	usleep(300 * 1000);
	assert_value(&w, "SELECT count(*) FROM copy.fl", "0");
	rows_header(header, sizeof(header), "fl", cols, 1);
	ck_assert_int_eq(offer_load(&w, "fl", 2, header, "1\n2\n", false), TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	assert_stream(&w, "fl", "- - 3");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl", "1,2,3,4");

	/* 5 slow to apply; 6 comes meanwhile, waits, and is applied on arrival */
	o.seq = 4;
	o.rows = "10\n";
	rows_header(o.header, sizeof(o.header), "fl", cols, 3);
	offer_start(&o);
	usleep(200 * 1000);
	rows_header(header, sizeof(header), "fl", cols, 4);
	ck_assert_int_eq(offer_load(&w, "fl", 5, header, "11\n", false), TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	assert_stream(&w, "fl", "- - 5");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl", "1,2,3,4,10,11");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'fl'", "0");

	/* 7 without 6: unavailable after a wait, nothing stored nor applied */
	t0 = tp_clock_ms();
	rows_header(header, sizeof(header), "fl", cols, 6);
	ck_assert_int_eq(offer_load(&w, "fl", 7, header, "21\n", false), TP_DELIVERY_UNAVAILABLE);
	ck_assert_int_ge(tp_clock_ms() - t0, 1500);
	assert_stream(&w, "fl", "- - 5");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'fl'", "0");
	/* far beyond the next: a gap at once, as ever */
	ck_assert_int_eq(offer_load(&w, "fl", 60, header, "21\n", false), TP_DELIVERY_GAP);
	/* sent again in order, both apply on arrival */
	rows_header(header, sizeof(header), "fl", cols, 5);
	ck_assert_int_eq(offer_load(&w, "fl", 6, header, "20\n", false), TP_DELIVERY_STORED);
	rows_header(header, sizeof(header), "fl", cols, 6);
	ck_assert_int_eq(offer_load(&w, "fl", 7, header, "21\n", false), TP_DELIVERY_STORED);
	assert_stream(&w, "fl", "- - 7");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl",
				 "1,2,3,4,10,11,20,21");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");

	/*
	 * 8 slow (2.5 s in its COPY); 9 comes meanwhile and is applied
	 * alongside on the second lane: both backends in COPY at once, then
	 * 9's waits for 8's end (its NOW_SEQ_LOCK), uncommitted, before it
	 * commits; both applied on arrival, in order
	 */
	memset(&o2, 0, sizeof(o2));
	o2.w = &w;
	offer_pair(&o, &o2, cols, 8, "30\n", "31\n");
	wait_value(&w, LANE_COPIES("'teleport apply', 'teleport apply 2'"), "2");
	wait_value(&w, LANE2_WAITS, "Lock advisory");
	assert_value(&w, "SELECT count(*) FROM copy.fl WHERE id >= 30", "0");
	assert_stream(&w, "fl", "- - 7");
	ck_assert_int_eq(offer_join(&o2), TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	assert_stream(&w, "fl", "- - 9");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl WHERE id >= 20",
				 "20,21,30,31");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");

	/*
	 * 10 fails after a while (a CHECK refuses its second row) while 11 was
	 * applied alongside and waits for it: 11 is rolled back, not committed
	 * past 10; both are stored, 10 held, 11 behind it; fixed, in order
	 */
	sql_ok(&w, "ALTER TABLE copy.fl ADD CONSTRAINT no41 CHECK (id <> 41)");
	offer_pair(&o, &o2, cols, 10, "40\n41\n", "42\n");
	wait_value(&w, LANE2_WAITS, "Lock advisory");
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	offer_join_taken(&o2);
	wait_value(&w, "SELECT held_state || ' ' || held_seq FROM teleport.inbox_stream"
			   " WHERE source = 'fl'", "retrying 10");
	assert_value(&w, "SELECT count(*) FROM copy.fl WHERE id >= 40", "0");
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM teleport.inbox"
				 " WHERE source = 'fl'", "10,11");
	sql_ok(&w, "ALTER TABLE copy.fl DROP CONSTRAINT no41");
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'fl'", "11");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl WHERE id >= 30",
				 "30,31,40,41,42");

	/*
	 * 12's backend terminated while 13 waits alongside: nothing lost,
	 * nothing applied twice or out of order
	 */
	offer_pair(&o, &o2, cols, 12, "50\n", "51\n");
	wait_value(&w, LANE2_WAITS, "Lock advisory");
	/* (12 applied again does not sleep; the running COPY does, until ended) */
	sql_ok(&w, "CREATE OR REPLACE FUNCTION copy.slow() RETURNS trigger LANGUAGE plpgsql"
		   " AS $$BEGIN RETURN NEW; END$$");
	assert_value(&w, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
				 " FROM pg_stat_activity WHERE application_name = 'teleport apply'"
				 " AND query LIKE 'COPY %'", "1");
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	offer_join_taken(&o2);
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'fl'", "13");
	assert_stream(&w, "fl", "- - 13");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY n) FROM copy.fl WHERE id >= 30",
				 "30,31,40,41,42,50,51");
	/* 12 was stored; 13 too, or applied on arrival once 12 was applied */
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM copy.stored"
				 " WHERE seq <= 12", "10,11,12");
	world_close(&w);
}
END_TEST

/* An insert of (id, v) into public.ca by source "ch", as a change line. */
#define CH_INSERT(id, v) "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":" id \
	",\"v\":\"" v "\"},\"source\":{\"name\":\"ch\",\"schema\":\"public\"," \
	"\"table\":\"ca\",\"txid\":5,\"seq\":" id ",\"batch\":1},\"ts_ms\":1}\n"

/*
 * Change batches that are units of their own are applied on arrival when
 * their stream keeps up, never stored; a part of a larger transaction, a
 * batch that arrives while the stream is behind, and one that fails are
 * stored and applied (or held) in turn, in order; then on arrival again.
 */
START_TEST(test_changes_on_arrival)
{
	world		w;

	world_open(&w, "apply_changes_now", NULL,
			   "CREATE TABLE copy.ca (id int PRIMARY KEY, v text);", 300, NULL);
	start_applying_on_arrival(&w);

	/* applied by the time the inbox answered */
	store_lines(&w, "ch", 1, CH_INSERT("1", "a"), 1);
	assert_value(&w, "SELECT string_agg(id || v, ',' ORDER BY id) FROM copy.ca", "1a");
	assert_stream(&w, "ch", "- - 1");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");
	ck_assert_int_eq(offer_batch(&w, TP_BATCH_CHANGES, "ch", 1, CH_INSERT("1", "a"), 1, false),
					 TP_DELIVERY_DUPLICATE);

	/* a transaction in two parts: both stored, applied together */
	store_batch(&w, TP_BATCH_CHANGES, "ch", 2, CH_INSERT("2", "b"), 1, true);
	store_lines(&w, "ch", 3, CH_INSERT("3", "c"), 1);
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'ch'", "3");
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM copy.stored", "2,3");

	/* a batch that fails: stored and held; the next one waits behind it */
	store_lines(&w, "ch", 4, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":4,\"w\":1},"
				"\"source\":{\"name\":\"ch\",\"schema\":\"public\",\"table\":\"ca\","
				"\"txid\":6,\"seq\":4,\"batch\":1},\"ts_ms\":1}\n", 1);
	wait_value(&w, "SELECT held_state || ' ' || held_seq FROM teleport.inbox_stream"
			   " WHERE source = 'ch'", "retrying 4");
	store_lines(&w, "ch", 5, CH_INSERT("5", "e"), 1);
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM copy.stored",
				 "2,3,4,5");
	assert_value(&w, "SELECT count(*) FROM copy.ca WHERE id = 5", "0");

	/* mended: the stored ones apply in order, then on arrival again */
	sql_ok(&w, "ALTER TABLE copy.ca ADD COLUMN w int");
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'ch'", "5");
	store_lines(&w, "ch", 6, CH_INSERT("6", "f"), 1);
	assert_stream(&w, "ch", "- - 6");
	assert_value(&w, "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM copy.stored",
				 "2,3,4,5");
	assert_value(&w, "SELECT string_agg(id::text, ',' ORDER BY id) FROM copy.ca", "1,2,3,4,5,6");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'ch'", "0");
	world_close(&w);
}
END_TEST

/* An insert of row id into copy.du, as a change line. */
static void
du_line(char *buf, size_t len, int id)
{
	snprintf(buf, len, "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":%d,\"v\":\"x\"},"
			 "\"source\":{\"name\":\"du\",\"schema\":\"public\",\"table\":\"du\","
			 "\"txid\":5,\"seq\":%d,\"batch\":1},\"ts_ms\":1}\n", id, id);
}

/*
 * Whether the server's WAL flush position compares to lsn (text) by op
 * (">", ">="), per w's connection.
 */
static bool
flushed(world *w, const char *op, const char *lsn)
{
	char		sql[160];
	char	   *v;
	bool		yes;

	snprintf(sql, sizeof(sql), "SELECT pg_current_wal_flush_lsn() %s '%s'::pg_lsn", op, lsn);
	v = tp_sql_value(w->conn, sql);
	ck_assert_ptr_nonnull(v);
	yes = strcmp(v, "t") == 0;
	free(v);
	return yes;
}

/*
 * A batch applied on arrival is committed asynchronously (its WAL flush
 * off the apply connection's path), but it is answered only once the WAL
 * is flushed past its commit: with the WAL writer slowed to 10 s, the
 * flush position has passed each batch's commit by the time the inbox
 * answered, one batch after the other. A batch sent again, found received
 * (no row: applied on arrival), is answered only after the same flush.
 */
START_TEST(test_changes_durable)
{
	world		w;
	char	   *before;
	char		line7[512];

	world_open(&w, "apply_durable", NULL,
			   "CREATE TABLE copy.du (id int PRIMARY KEY, v text);", 300, NULL);
	start_applying_on_arrival(&w);
	/* the flusher connected and found it may flush */
	wait_value(&w, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
			   " AND application_name = 'teleport flush' AND state = 'idle'", "1");
	usleep(100000);
	sql_ok(&w, "ALTER SYSTEM SET wal_writer_delay = '10s'");
	assert_value(&w, "SELECT pg_reload_conf()", "t");
	usleep(300000);

	for (int i = 1; i <= 5; i++)
	{
		char		lines[512];

		before = tp_sql_value(w.conn, "SELECT pg_current_wal_insert_lsn()");
		ck_assert_ptr_nonnull(before);
		du_line(lines, sizeof(lines), i);
		store_lines(&w, "du", (uint64_t) i, lines, 1);
		ck_assert_msg(flushed(&w, ">", before),
					  "batch %d was answered before its commit was flushed", i);
		free(before);
	}
	assert_value(&w, "SELECT count(*) FROM copy.du", "5");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");

	/* received, applied and not flushed yet, as a crash of the answer leaves it */
	sql_ok(&w, "SET synchronous_commit = off");
	sql_ok(&w, "UPDATE teleport.inbox_stream SET last_received = 7, last_applied = 7"
		   " WHERE source = 'du'");
	sql_ok(&w, "RESET synchronous_commit");
	before = tp_sql_value(w.conn, "SELECT pg_current_wal_insert_lsn()");
	ck_assert_ptr_nonnull(before);
	ck_assert_msg(!flushed(&w, ">=", before), "no precondition: nothing to flush");
	du_line(line7, sizeof(line7), 7);
	ck_assert_int_eq(offer_batch(&w, TP_BATCH_CHANGES, "du", 7, line7, 1, false),
					 TP_DELIVERY_DUPLICATE);
	if (!flushed(&w, ">=", before))
	{
		char	   *now = tp_sql_value(w.conn, "SELECT pg_current_wal_flush_lsn() || ' '"
									   " || pg_current_wal_insert_lsn() || ' ' ||"
									   " (SELECT last_received FROM teleport.inbox_stream"
									   "  WHERE source = 'du')");

		ck_abort_msg("a batch found received was answered before the flush (%s, before %s)",
					 now, before);
	}
	free(before);

	sql_ok(&w, "ALTER SYSTEM RESET wal_writer_delay");
	assert_value(&w, "SELECT pg_reload_conf()", "t");
	world_close(&w);
}
END_TEST

/*
 * The flusher on its own: as a role that may write the message it is
 * usable and makes a position durable; as one that may not (EXECUTE
 * revoked in this database), it says so once, is not usable, and a wait
 * ends false at once rather than after its timeout. Its connection killed,
 * a wait fails or succeeds after the reconnection, never hangs.
 */
START_TEST(test_durable_flusher)
{
	PGconn	   *conn;
	char	   *conninfo = tp_cluster_create_db(cluster, "apply_flusher");
	char	   *limited;
	char	   *lsn;
	tp_durable *d;
	long long	t0;
	bool		ok = false;

	ck_assert_ptr_nonnull(conninfo);
	conn = tp_cluster_connect(cluster, "apply_flusher");
	ck_assert_ptr_nonnull(conn);

	d = tp_durable_new(conninfo, "the flusher of a test");
	ck_assert(!tp_durable_usable(d));
	ck_assert(tp_durable_start(d));
	for (double end = tp_deadline(30); !tp_durable_usable(d) && tp_before(end);)
		usleep(20000);
	ck_assert(tp_durable_usable(d));
	tp_sql_ok(conn, "CREATE TABLE t (a int); SET synchronous_commit = off;"
			  "INSERT INTO t VALUES (1); RESET synchronous_commit");
	lsn = tp_sql_value(conn, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
	ck_assert_ptr_nonnull(lsn);
	ck_assert(tp_durable_wait(d, strtoull(lsn, NULL, 10), 5000));
	free(lsn);
	tp_sql_assert(conn, "SELECT (pg_current_wal_flush_lsn() - '0/0')::bigint >= "
				  "(pg_current_wal_insert_lsn() - '0/0')::bigint - 4096", "t");

	/* its backend killed: the next wait reconnects or fails, in time */
	tp_sql_assert(conn, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
				  " WHERE application_name = 'teleport flush'"
				  " AND datname = 'apply_flusher'", "1");
	for (double end = tp_deadline(60); !ok && tp_before(end);)
	{
		lsn = tp_sql_value(conn, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint + 1");
		ck_assert_ptr_nonnull(lsn);
		ok = tp_durable_wait(d, strtoull(lsn, NULL, 10) - 1, 5000);
		free(lsn);
		if (!ok)
			usleep(50000);
	}
	ck_assert_msg(ok, "the flusher did not come back after its backend was killed");
	tp_durable_free(d);

	/* a role that may not call pg_logical_emit_message */
	ck_assert(tp_cluster_create_role(cluster, "flush_limited", "secret"));
	tp_sql_ok(conn, "REVOKE EXECUTE ON FUNCTION"
			  " pg_logical_emit_message(boolean, text, text) FROM PUBLIC");
	lsn = tp_cluster_conninfo(cluster, "apply_flusher", "flush_limited");
	ck_assert_ptr_nonnull(lsn);
	ck_assert_int_gt(asprintf(&limited, "%s password=secret", lsn), 0);
	free(lsn);
	d = tp_durable_new(limited, "the flusher of a limited role");
	ck_assert(tp_durable_start(d));
	ck_assert(tp_sql_wait(conn, "SELECT count(*) FROM pg_stat_activity"
						  " WHERE usename = 'flush_limited' AND state = 'idle'", "1", 20));
	usleep(100000);
	ck_assert(!tp_durable_usable(d));
	t0 = tp_clock_ms();
	ck_assert(!tp_durable_wait(d, UINT64_MAX / 2, 5000));
	ck_assert_int_lt(tp_clock_ms() - t0, 2000);
	tp_durable_free(d);
	free(limited);
	tp_sql_ok(conn, "GRANT EXECUTE ON FUNCTION"
			  " pg_logical_emit_message(boolean, text, text) TO PUBLIC");
	PQfinish(conn);
	free(conninfo);
}
END_TEST

/*
 * A transmitter with two change batches in flight flags the second
 * TP_BATCH_FOLLOWS: one that arrives before its predecessor waits for it,
 * then both apply on arrival in order; one whose predecessor never comes
 * is answered UNAVAILABLE (sent again). Without the flag, or too far
 * beyond the next, it is a gap at once, as ever; a part of a larger
 * transaction (stored, not applied on arrival) is sent again too.
 */
START_TEST(test_changes_in_flight)
{
	world		w;
	offer		o;
	long long	t0;

	world_open(&w, "apply_changes_flight", NULL,
			   "CREATE TABLE copy.ca (id int PRIMARY KEY, v text, n serial);", 300, NULL);
	start_applying_on_arrival(&w);
	store_lines(&w, "ch", 1, CH_INSERT("1", "a"), 1);

	/* 3 before 2: it waits for 2, then both apply in order */
	memset(&o, 0, sizeof(o));
	o.w = &w;
	o.seq = 3;
	o.lines = CH_INSERT("3", "c");
	o.flags = TP_BATCH_FOLLOWS;
	offer_start(&o);
	usleep(300 * 1000);
	assert_value(&w, "SELECT count(*) FROM copy.ca", "1");
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 2, CH_INSERT("2", "b"), 1, 0),
					 TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	assert_stream(&w, "ch", "- - 3");
	assert_value(&w, "SELECT string_agg(id || v, ',' ORDER BY n) FROM copy.ca", "1a,2b,3c");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");

	/* 5 without 4: unavailable after a wait, nothing stored nor applied */
	t0 = tp_clock_ms();
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 5, CH_INSERT("5", "e"), 1,
								 TP_BATCH_FOLLOWS), TP_DELIVERY_UNAVAILABLE);
	ck_assert_int_ge(tp_clock_ms() - t0, 1500);
	/* a part (stored, not applied on arrival): sent again too, after a wait */
	t0 = tp_clock_ms();
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 5, CH_INSERT("5", "e"), 1,
								 TP_BATCH_FOLLOWS | TP_BATCH_PARTIAL),
					 TP_DELIVERY_UNAVAILABLE);
	ck_assert_int_ge(tp_clock_ms() - t0, 1500);
	/* unflagged, or far beyond the next: a gap at once */
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 5, CH_INSERT("5", "e"), 1, 0),
					 TP_DELIVERY_GAP);
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 60, CH_INSERT("5", "e"), 1,
								 TP_BATCH_FOLLOWS), TP_DELIVERY_GAP);
	assert_stream(&w, "ch", "- - 3");
	assert_value(&w, "SELECT count(*) FROM teleport.inbox WHERE source = 'ch'", "0");

	/* sent again in order: both apply on arrival */
	store_lines(&w, "ch", 4, CH_INSERT("4", "d"), 1);
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 5, CH_INSERT("5", "e"), 1,
								 TP_BATCH_FOLLOWS), TP_DELIVERY_STORED);
	assert_stream(&w, "ch", "- - 5");
	assert_value(&w, "SELECT string_agg(id || v, ',' ORDER BY n) FROM copy.ca",
				 "1a,2b,3c,4d,5e");
	assert_value(&w, "SELECT count(*) FROM copy.stored", "0");

	/*
	 * a part that comes before its predecessor waits for it in the store,
	 * then is stored (not "send again": with two in flight that held the
	 * sender 2 s); its transaction's last part then applies both
	 */
	memset(&o, 0, sizeof(o));
	o.w = &w;
	o.seq = 7;
	o.lines = CH_INSERT("7", "g");
	o.flags = TP_BATCH_FOLLOWS | TP_BATCH_PARTIAL;
	offer_start(&o);
	usleep(300 * 1000);
	t0 = tp_clock_ms();
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 6, CH_INSERT("6", "f"), 1, 0),
					 TP_DELIVERY_STORED);
	ck_assert_int_eq(offer_join(&o), TP_DELIVERY_STORED);
	ck_assert_int_lt(tp_clock_ms() - t0, 1000);
	ck_assert_int_eq(offer_flags(&w, TP_BATCH_CHANGES, "ch", 8, CH_INSERT("8", "h"), 1, 0),
					 TP_DELIVERY_STORED);
	wait_value(&w, "SELECT last_applied FROM teleport.inbox_stream WHERE source = 'ch'", "8");
	assert_value(&w, "SELECT string_agg(id || v, ',' ORDER BY n) FROM copy.ca",
				 "1a,2b,3c,4d,5e,6f,7g,8h");
	world_close(&w);
}
END_TEST

/*
 * End to end with both processes: the target teleport imports the spool
 * (file transport), its apply thread applies; a mixed workload arrives
 * identical; both stop cleanly.
 */
START_TEST(test_daemon_end_to_end)
{
	world		w;
	char	   *argv[] = {getenv("TELEPORT_BIN"), "-config", NULL, NULL};
	char		tlog[1100];
	pid_t		target;
	int			status;
	bool		done = false;

	world_open(&w, "apply_daemon",
			   "CREATE TABLE public.acc (id int PRIMARY KEY, balance numeric NOT NULL);"
			   "CREATE TABLE public.hist (id bigserial PRIMARY KEY, acc int, delta numeric);",
			   "CREATE TABLE copy.acc (id int PRIMARY KEY, balance numeric NOT NULL);"
			   "CREATE TABLE copy.hist (id bigserial PRIMARY KEY, acc int, delta numeric);",
			   200, NULL);
	snprintf(tlog, sizeof(tlog), "%s/tgt.log", w.dir);
	argv[2] = w.tgt_config;
	target = tp_spawn(argv, NULL, tlog);
	ck_assert_int_gt(target, 0);
	sql_ok(&w, "INSERT INTO public.acc SELECT g, 0 FROM generate_series(1, 100) g");
	for (int i = 0; i < 50; i++)
	{
		char		sql[512];

		snprintf(sql, sizeof(sql),
				 "BEGIN; UPDATE public.acc SET balance = balance + %d WHERE id = %d;"
				 " INSERT INTO public.hist (acc, delta) VALUES (%d, %d);"
				 " UPDATE public.acc SET balance = balance - 1 WHERE id = %d;"
				 " DELETE FROM public.hist WHERE id = %d; COMMIT",
				 i, 1 + i % 100, 1 + i % 100, i, 1 + (i * 7) % 100, i / 2);
		sql_ok(&w, sql);
	}
	sql_ok(&w, "INSERT INTO public.tp_marker VALUES (77)");
	for (double end = tp_deadline(120); !done && tp_before(end);)
	{
		done = has_marker(&w, 77);
		if (!done)
			usleep(50000);
	}
	{
		char	   *log = tp_read_file(tlog);

		ck_assert_msg(done, "nothing applied by the target teleport; log:\n%s", log);
		free(log);
	}
	assert_same(&w, "acc");
	assert_same(&w, "hist");
	kill(target, SIGTERM);
	status = tp_wait_exit(target, 20);
	if (status < 0)
		kill(target, SIGKILL);
	ck_assert_int_eq(status, 0);
	world_close(&w);
}
END_TEST

/* The suite. */
static Suite *
apply_suite(void)
{
	Suite	   *s = suite_create("apply");
	TCase	   *tc = tcase_create("apply");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_operations);
	tcase_add_test(tc, test_missing_rows);
	tcase_add_test(tc, test_key_shift);
	tcase_add_test(tc, test_key_churn);
	tcase_add_test(tc, test_generated_identity_sequences);
	tcase_add_test(tc, test_held_until_schema_fixed);
	tcase_add_test(tc, test_stop_retry_skip);
	tcase_add_test(tc, test_ddl_applied_ahead);
	tcase_add_test(tc, test_ddl_ahead_same_batch);
	tcase_add_test(tc, test_ddl_ahead_twice);
	tcase_add_test(tc, test_ddl_storage_parameters);
	tcase_add_test(tc, test_partial_atomic);
	tcase_add_test(tc, test_group_fallback);
	tcase_add_test(tc, test_group_crash);
	tcase_add_test(tc, test_origin_forwarded);
	tcase_add_test(tc, test_foreign_keys);
	tcase_add_test(tc, test_replica_role);
	tcase_add_test(tc, test_repeated_keys);
	tcase_add_test(tc, test_moves_interleaved);
	tcase_add_test(tc, test_load_chain);
	tcase_add_test(tc, test_load_types);
	tcase_add_test(tc, test_load_generated);
	tcase_add_test(tc, test_load_failures);
	tcase_add_test(tc, test_load_on_arrival);
	tcase_add_test(tc, test_changes_on_arrival);
	tcase_add_test(tc, test_load_in_flight);
	tcase_add_test(tc, test_changes_in_flight);
	tcase_add_test(tc, test_changes_durable);
	tcase_add_test(tc, test_durable_flusher);
	tcase_add_test(tc, test_load_supersedes);
	tcase_add_test(tc, test_held_retried_on_news);
	tcase_add_test(tc, test_daemon_end_to_end);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(apply_suite());
}
