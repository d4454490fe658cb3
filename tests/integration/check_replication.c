/*
 * check_replication.c
 *     Replication end to end: real teleport processes capture on source
 *     databases, send over the http transport and apply with the postgres
 *     applier into the targets' apply_schema, while pgbench and custom
 *     scripts write concurrently (insert, upsert, update, key changes,
 *     composite keys, delete, truncate, a set-based key shift; numeric,
 *     float specials, Unicode text, arrays, json, jsonb). At the end each
 *     table is compared between source and target: row count and an
 *     order-independent checksum, then (the target's rows copied next to
 *     the source's) EXCEPT ALL both ways over the rows' text.
 *
 *     Cases: a mixed workload; the same with the target teleport, the
 *     target database (a second cluster) and the source teleport killed
 *     mid-run; two targets with different target_expression and
 *     apply_schema; a chain A -> B -> C in which B forwards what it applied
 *     with the changes' origin kept; two databases replicating to each
 *     other without any change coming back.
 *
 *     DDL is not replicated here (replicate_ddl: false): the tests create
 *     the targets' tables themselves before teleport starts.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "deadline.h"
#include "instance.h"
#include "pgcluster.h"
#include "runcmd.h"

/* The shared cluster, and a second one for a target that is stopped. */
static tp_cluster *cluster;
static tp_cluster *cluster2;

/*
 * Once per case: the shared cluster. Without pgbench (beside initdb) the
 * program is skipped.
 */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
	tp_pgbench_require();
}

/* After each case: what a failed test left running. */
static void
kill_leftovers(void)
{
	tp_kill_leftovers(cluster);
}

/* Once for the crash case: a second cluster too (NULL when it fails). */
static void
start_cluster2(void)
{
	start_cluster();
	cluster2 = tp_cluster_start();
}

/* After the crash case: what was left running, then the second cluster. */
static void
stop_cluster2(void)
{
	kill_leftovers();
	tp_cluster_destroy(cluster2);
	cluster2 = NULL;
}

/* The tables every scene's sources have (besides pgbench's). */
#define TABLES_DDL \
	"CREATE TABLE mix (id bigint PRIMARY KEY, n numeric, f float8, t text," \
	" a int[], j jsonb, js json);" \
	"CREATE TABLE comp (a bigint, b text, v numeric, note text," \
	" PRIMARY KEY (a, b));" \
	"CREATE TABLE marker (label text PRIMARY KEY, at timestamptz DEFAULT now());"

/* Tables of the edge script: truncates and a set-based key shift. */
#define EDGE_DDL \
	"CREATE TABLE trunc (id bigserial PRIMARY KEY, v text);" \
	"CREATE TABLE shift (id int PRIMARY KEY DEFERRABLE INITIALLY IMMEDIATE," \
	" v int NOT NULL);"

/*
 * The custom writer: every client works in its own key range (base +
 * client_id * 10000), so concurrent clients never conflict and pgbench
 * never aborts one. Each transaction upserts, updates, changes a key both
 * ways, updates a range, and works on a composite key, with exact-value
 * edge cases in every column.
 */
static const char mix_script[] =
"\\set c :base + :client_id * 10000\n"
"\\set x :c + random(1, 300)\n"
"\\set y :c + random(1, 300)\n"
"\\set z :c + random(1, 300)\n"
"\\set d :c + random(1, 300)\n"
"\\set r random(1, 1000000000)\n"
"\\set k random(1, 40)\n"
"\\set q random(1, 40)\n"
"BEGIN;\n"
"INSERT INTO public.mix (id, n, f, t, a, j, js) VALUES (:x,\n"
"  (:r::numeric / 7)::numeric(60, 45),\n"
"  (ARRAY['NaN', 'Infinity', '-Infinity', '-0', '1e-310', '0.1',\n"
"         (:r::float8 / 3)::text]::float8[])[1 + :r % 7],\n"
"  'it''s \"q\" \\ ' || chr(128512 + :r % 80) || E'\\n\\t' || :r,\n"
"  ARRAY[[:r % 100000, NULL], [-1, 2147483647]],\n"
"  jsonb_build_object('r', :r, 'f', :r::float8 / 3, 'u', chr(66000 + :r % 100),\n"
"                     'n', NULL, 'a', jsonb_build_array(1, 'x', true, 1.50)),\n"
"  ('{\"b\" :  1, \"b\": ' || :r || ', \"s\": \"\\u00e9\"}')::json)\n"
"  ON CONFLICT (id) DO UPDATE SET n = -EXCLUDED.n, f = EXCLUDED.f, t = EXCLUDED.t,\n"
"  a = EXCLUDED.a, j = EXCLUDED.j, js = EXCLUDED.js;\n"
"UPDATE public.mix SET t = t || '+', a = a || ARRAY[[:r % 1000, NULL]],\n"
"  j = j || jsonb_build_object('u', :r) WHERE id = :y;\n"
"UPDATE public.mix SET id = id + 5000 WHERE id = :y\n"
"  AND NOT EXISTS (SELECT 1 FROM public.mix WHERE id = :y + 5000);\n"
"UPDATE public.mix SET id = id - 5000, n = n + 1 WHERE id = :z + 5000\n"
"  AND NOT EXISTS (SELECT 1 FROM public.mix WHERE id = :z);\n"
"UPDATE public.mix SET f = -f WHERE id BETWEEN :c AND :c + 30;\n"
"DELETE FROM public.mix WHERE id IN (:d, :d + 5000) AND :r % 3 = 0;\n"
"INSERT INTO public.comp (a, b, v, note) VALUES (:c, 'k' || :k, :r, NULL)\n"
"  ON CONFLICT (a, b) DO UPDATE SET v = public.comp.v + 1, note = 'again';\n"
"UPDATE public.comp SET b = 'm' || :q WHERE a = :c AND b = 'k' || :q\n"
"  AND NOT EXISTS (SELECT 1 FROM public.comp WHERE a = :c AND b = 'm' || :q);\n"
"UPDATE public.comp SET a = -a, note = 'moved' WHERE a = :c AND b = 'm' || :k\n"
"  AND NOT EXISTS (SELECT 1 FROM public.comp WHERE a = -:c AND b = 'm' || :k);\n"
"DELETE FROM public.comp WHERE a = -:c AND b = 'm' || :q AND :r % 2 = 0;\n"
"COMMIT;\n";

/*
 * The edge writer (one client): inserts, TRUNCATE inside a transaction
 * followed by inserts, and a set-based UPDATE that shifts every key of a
 * table with a deferrable primary key by one.
 */
static const char edge_script[] =
"\\set r random(1, 20)\n"
"BEGIN;\n"
"INSERT INTO public.trunc (v) SELECT 'v' || g || '-' || :r FROM generate_series(1, 3) g;\n"
"\\if :r = 1\n"
"TRUNCATE public.trunc;\n"
"INSERT INTO public.trunc (v) VALUES ('after truncate');\n"
"\\endif\n"
"COMMIT;\n"
"\\if :r % 2 = 0\n"
"UPDATE public.shift SET id = id + 1, v = v + 1;\n"
"\\else\n"
"UPDATE public.shift SET id = id - 1;\n"
"\\endif\n";

/* A test's scene, with the writers' scripts in its directory. */
typedef struct scene
{
	tp_scene	t;
	char	   *mix_path;
	char	   *edge_path;
} scene;

/* A new scene in the shared cluster's tree, with the scripts. */
static void
scene_init(scene *sc)
{
	tp_scene_init(&sc->t, cluster, "repl");
	sc->mix_path = tp_write_file(sc->t.dir, "mix.sql", mix_script);
	sc->edge_path = tp_write_file(sc->t.dir, "edge.sql", edge_script);
	ck_assert_ptr_nonnull(sc->mix_path);
	ck_assert_ptr_nonnull(sc->edge_path);
}

/* Kill every process and remove the scene's files. */
static void
scene_free(scene *sc)
{
	free(sc->mix_path);
	free(sc->edge_path);
	tp_scene_free(&sc->t);
}

/*
 * Write in's config (see tp_inst_configure) with targets (YAML entries, or
 * NULL); vacuum_ms is the vacuum interval.
 */
static void
configure(tp_inst *in, const char *targets, int vacuum_ms)
{
	tp_inst_configure(in, targets,
					  "replicate_ddl: false\n"
					  "max_events_per_batch: 2000\n"
					  "processing_intervals:\n"
					  "  batcher: 50\n"
					  "  transmitter: 50\n"
					  "  applier: 50\n"
					  "  vacuum: %d\n"
					  "  ddlwatcher: 1000\n", vacuum_ms);
}

/*
 * Create tables ddl (unqualified names) in schema of in's database
 * (created when missing).
 */
static void
create_tables(const tp_inst *in, const char *schema, const char *ddl)
{
	tp_inst_exec(in, "CREATE SCHEMA IF NOT EXISTS %s; SET search_path = %s; %s",
				 schema, schema, ddl);
}

/*
 * pgbench's tables with scale 1 on src (public), the history table with a
 * primary key, and the same tables with the same rows in schema of each
 * target (NULL-terminated).
 */
static void
pgbench_setup(const tp_inst *src, const tp_inst *const *targets, const char *const *schemas)
{
	static const char *const tables[] = {
		"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history", NULL
	};

	tp_pgbench_run(src, "-i", "-q", "-s", "1", (char *) NULL);
	tp_inst_exec(src, "ALTER TABLE public.pgbench_history ADD COLUMN hid bigserial PRIMARY KEY");
	for (int t = 0; targets[t] != NULL; t++)
	{
		/* the tables only (d: drop, t: create, p: primary keys) */
		tp_pgbench_run(targets[t], "-i", "-q", "-I", "dtp", "-s", "1", (char *) NULL);
		tp_inst_exec(targets[t],
					 "CREATE SCHEMA IF NOT EXISTS %s;"
					 "ALTER TABLE public.pgbench_history ADD COLUMN hid bigserial PRIMARY KEY;"
					 "ALTER TABLE public.pgbench_accounts SET SCHEMA %s;"
					 "ALTER TABLE public.pgbench_branches SET SCHEMA %s;"
					 "ALTER TABLE public.pgbench_tellers SET SCHEMA %s;"
					 "ALTER TABLE public.pgbench_history SET SCHEMA %s",
					 schemas[t], schemas[t], schemas[t], schemas[t], schemas[t]);
		for (int i = 0; tables[i] != NULL; i++)
		{
			char		sel[256];
			char		to[256];

			snprintf(sel, sizeof(sel), "SELECT * FROM public.%s", tables[i]);
			snprintf(to, sizeof(to), "%s.%s", schemas[t], tables[i]);
			tp_cluster_copy_rows(src->cl, src->db, sel, targets[t]->cl, targets[t]->db, to);
		}
	}
}

/* Stop cl's server in immediate mode, as a crash would. */
static void
cluster_crash(tp_cluster *cl)
{
	char		pg_ctl[4096];
	char	   *argv[16];
	int			n = 0;
	tp_cmd_result res;

	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", cl->bindir);
	if (cl->as_postgres)
	{
		argv[n++] = "/sbin/runuser";
		if (access(argv[0], X_OK) != 0)
			argv[0] = "/usr/sbin/runuser";
		argv[n++] = "-u";
		argv[n++] = "postgres";
		argv[n++] = "--";
	}
	argv[n++] = pg_ctl;
	argv[n++] = "stop";
	argv[n++] = "-s";
	argv[n++] = "-m";
	argv[n++] = "immediate";
	argv[n++] = "-w";
	argv[n++] = "-D";
	argv[n++] = cl->datadir;
	argv[n] = NULL;
	ck_assert(tp_run_cmd(argv, NULL, 60, &res));
	ck_assert_msg(res.status == 0, "pg_ctl stop -m immediate: %s%s", res.out, res.err);
	tp_cmd_result_free(&res);
	cl->running = false;
}

static const char *const mix_tables[] = {"mix", "comp", "marker", NULL};
static const char *const all_tables[] = {
	"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history",
	"mix", "comp", "trunc", "shift", "marker", NULL
};

/*
 * A source and a target (on tgt_cl) with the full workload: pgbench's
 * tables, the custom and edge tables in public on the source and in
 * apply_schema "rep" on the target, the edge table shift with 50 rows.
 */
static void
full_scene(scene *sc, const char *prefix, tp_cluster *tgt_cl, tp_inst **src_out,
		   tp_inst **tgt_out)
{
	char		db[64];
	char	   *targets = NULL;
	tp_inst	   *src;
	tp_inst	   *tgt;
	const tp_inst *tgts[2];
	static const char *const schemas[] = {"rep", NULL};

	scene_init(sc);
	snprintf(db, sizeof(db), "%s_src", prefix);
	src = tp_scene_inst(&sc->t, "src", cluster, db, false);
	snprintf(db, sizeof(db), "%s_tgt", prefix);
	tgt = tp_scene_inst(&sc->t, "tgt", tgt_cl, db, true);
	tgts[0] = tgt;
	tgts[1] = NULL;
	pgbench_setup(src, tgts, schemas);
	create_tables(src, "public", TABLES_DDL EDGE_DDL
				  "INSERT INTO shift SELECT g, g FROM generate_series(1, 50) g;");
	create_tables(tgt, "rep", TABLES_DDL EDGE_DDL);
	tp_cluster_copy_rows(src->cl, src->db, "SELECT * FROM public.shift", tgt->cl, tgt->db, "rep.shift");

	configure(tgt, NULL, 500);
	tp_target_yaml(&targets, NULL, tgt, "\"public.*\"", "rep");
	configure(src, targets, 500);
	free(targets);
	*src_out = src;
	*tgt_out = tgt;
}

/*
 * Wait (up to 20 s) until the target's sequence rep.name is no lower than
 * the source's public.name: sequences are polled and sent on their own.
 */
static void
wait_sequence(const tp_inst *src, const tp_inst *tgt, const char *name)
{
	char	   *want = tp_inst_value(src, "SELECT last_value FROM public.%s", name);

	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *ok = tp_inst_value(tgt, "SELECT last_value >= %s FROM rep.%s", want, name);
		bool		done = strcmp(ok, "t") == 0;

		free(ok);
		if (done)
		{
			free(want);
			return;
		}
		usleep(100000);
	}
	tp_scene_fail(src->scene, "the target's sequence rep.%s stays behind the source's %s",
				  name, want);
}

/*
 * 1. A mixed workload: pgbench tpcb-like with 4 clients (unthrottled), the
 * custom writer with 2 and the edge writer, all at once for 10 s; then
 * the target equals the source table by table, and its sequences are no
 * lower.
 */
START_TEST(test_mixed_workload)
{
	scene		sc;
	tp_inst	   *src;
	tp_inst	   *tgt;
	long		rows;
	char	   *ok;

	full_scene(&sc, "mx", cluster, &src, &tgt);
	tp_inst_start(tgt);
	tp_inst_start(src);
	tp_inst_wait_capture(src, "public", 1);

	tp_writer_start(&sc.t, src, NULL, 4, 10, 0, 0);
	tp_writer_start(&sc.t, src, sc.mix_path, 2, 10, 1000000, 150);
	tp_writer_start(&sc.t, src, sc.edge_path, 1, 10, 0, 40);
	tp_writers_wait(&sc.t);
	/* that the workload ran: 10 s of it is 2000 to 6000 here, fewer on a
	 * machine that other jobs load */
	ck_assert_int_gt(tp_writers_transactions(&sc.t), 1000);
	tp_inst_wait_marker(src, "public", tgt, "rep", "mixed-done", 90);

	rows = tp_inst_compare_all(src, "public", tgt, "rep", all_tables);
	ck_assert_int_gt(rows, 100000);
	/* the workload did reach every kind of row */
	ok = tp_inst_value(src,
					   "SELECT (SELECT count(*) FROM public.mix WHERE f = 'NaN') > 0"
					   " AND (SELECT count(*) FROM public.mix WHERE id %% 10000 > 5000) > 0"
					   " AND (SELECT count(*) FROM public.comp WHERE a < 0) > 0"
					   " AND (SELECT sum(v) FROM public.shift) > 1275"
					   " AND (SELECT count(*) FROM public.trunc WHERE v = 'after truncate') = 1"
					   " AND (SELECT count(*) FROM public.pgbench_history) > 1000");
	ck_assert_msg(strcmp(ok, "t") == 0, "the workload missed a kind of change");
	free(ok);

	/* sequences were set forward: the target's are no lower */
	wait_sequence(src, tgt, "pgbench_history_hid_seq");
	wait_sequence(src, tgt, "trunc_id_seq");

	tp_inst_stop(src);
	tp_inst_stop(tgt);
	scene_free(&sc);
}
END_TEST

/*
 * 2. The same, with the target teleport killed and restarted, the target
 * database crashed (immediate stop) and restarted, the source teleport
 * killed and restarted, and the target database stopped (fast) and
 * restarted, all while the writers run.
 */
START_TEST(test_crashes_mid_run)
{
	scene		sc;
	tp_inst	   *src;
	tp_inst	   *tgt;

	ck_assert_msg(cluster2 != NULL, "the second cluster did not start");
	full_scene(&sc, "cr", cluster2, &src, &tgt);
	tp_inst_start(tgt);
	tp_inst_start(src);
	tp_inst_wait_capture(src, "public", 1);

	tp_writer_start(&sc.t, src, NULL, 4, 12, 0, 300);
	tp_writer_start(&sc.t, src, sc.mix_path, 2, 12, 1000000, 100);
	tp_writer_start(&sc.t, src, sc.edge_path, 1, 12, 0, 30);

	sleep(2);
	tp_inst_kill(tgt);
	usleep(500000);
	tp_inst_start(tgt);

	sleep(1);
	cluster_crash(cluster2);
	sleep(1);
	ck_assert(tp_cluster_restart(cluster2));

	sleep(1);
	tp_inst_kill(src);
	usleep(500000);
	tp_inst_start(src);

	/* and the target database is shut down cleanly once more */
	sleep(1);
	ck_assert(tp_cluster_stop(cluster2));
	sleep(1);
	ck_assert(tp_cluster_restart(cluster2));

	tp_writers_wait(&sc.t);
	ck_assert_int_gt(tp_writers_transactions(&sc.t), 1500);
	tp_inst_wait_marker(src, "public", tgt, "rep", "crash-done", 120);
	ck_assert_int_gt(tp_inst_compare_all(src, "public", tgt, "rep", all_tables), 100000);

	tp_inst_stop(src);
	tp_inst_stop(tgt);
	scene_free(&sc);
}
END_TEST

/*
 * 3. One source, two targets: one takes every table into "t1", the other
 * only comp and marker into "t2"; its copy of mix stays empty.
 */
START_TEST(test_two_targets)
{
	scene		sc;
	tp_inst	   *src;
	tp_inst	   *t1;
	tp_inst	   *t2;
	char	   *targets = NULL;
	char	   *n;
	static const char *const t2_tables[] = {"comp", "marker", NULL};

	scene_init(&sc);
	src = tp_scene_inst(&sc.t, "src", cluster, "tt_src", false);
	t1 = tp_scene_inst(&sc.t, "t1", cluster, "tt_t1", true);
	t2 = tp_scene_inst(&sc.t, "t2", cluster, "tt_t2", true);
	create_tables(src, "public", TABLES_DDL);
	create_tables(t1, "t1", TABLES_DDL);
	/* t2 also has a mix table, which must not be written */
	create_tables(t2, "t2", TABLES_DDL);
	configure(t1, NULL, 500);
	configure(t2, NULL, 500);
	tp_target_yaml(&targets, NULL, t1, "\"public.*\"", "t1");
	tp_target_yaml(&targets, NULL, t2, "[\"public.comp\", \"public.mark*\"]", "t2");
	configure(src, targets, 500);
	free(targets);
	tp_inst_start(t1);
	tp_inst_start(t2);
	tp_inst_start(src);
	tp_inst_wait_capture(src, "public", 2);

	tp_writer_start(&sc.t, src, sc.mix_path, 3, 4, 1000000, 150);
	tp_writers_wait(&sc.t);
	tp_inst_wait_marker(src, "public", t1, "t1", "two-done", 60);
	tp_inst_wait_marker(src, "public", t2, "t2", "two-done-2", 60);

	ck_assert_int_gt(tp_inst_compare_all(src, "public", t1, "t1", mix_tables), 200);
	ck_assert_int_gt(tp_inst_compare_all(src, "public", t2, "t2", t2_tables), 50);
	n = tp_inst_value(t2, "SELECT count(*) FROM t2.mix");
	ck_assert_msg(strcmp(n, "0") == 0, "t2.mix got %s rows outside its target_expression", n);
	free(n);

	tp_inst_stop(src);
	tp_inst_stop(t1);
	tp_inst_stop(t2);
	scene_free(&sc);
}
END_TEST

/* The spooled batch files of dir, sorted by name (seq order); *n set. */
static char **
spool_files(const char *dir, size_t *n)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **names = NULL;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		char	  **more;

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 6, ".batch") != 0)
			continue;
		more = realloc(names, (*n + 1) * sizeof(char *));
		ck_assert_ptr_nonnull(more);
		names = more;
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

/*
 * Every change of the batches spooled in dir comes from instance source
 * and names origin as its origin. Returns the number of changes.
 */
static long
spool_origins(const char *dir, const char *source, const char *origin)
{
	size_t		n;
	char	  **names = spool_files(dir, &n);
	long		changes = 0;

	for (size_t i = 0; i < n; i++)
	{
		char		path[4096];
		char	   *text;
		tp_batch   *batch;
		char		reason[256];
		tp_change_cursor cursor = {.size = sizeof(cursor)};

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		text = tp_read_file(path);
		ck_assert_ptr_nonnull(text);
		ck_assert_msg(tp_batch_parse(text, strlen(text), &batch, reason, sizeof(reason)) == TP_OK,
					  "%s: %s", names[i], reason);
		ck_assert_str_eq(batch->source, source);
		for (;;)
		{
			tp_change	c;

			memset(&c, 0, sizeof(c));
			ck_assert_msg(tp_change_next(batch, &cursor, &c, reason, sizeof(reason)) == TP_OK,
						  "%s: %s", names[i], reason);
			if (c.size == 0)
				break;
			ck_assert_msg(strcmp(c.origin, origin) == 0,
						  "%s: a change of %s.%s has origin \"%s\", not \"%s\"",
						  names[i], c.schema, c.table, c.origin, origin);
			changes++;
		}
		tp_change_cursor_done(&cursor);
		tp_batch_free(batch);
		free(text);
		free(names[i]);
	}
	free(names);
	return changes;
}

/*
 * The events in the queue of in's database: "total own other:name ..."
 * counts by origin (own: origin NULL), as a new string.
 */
static char *
queue_origins(const tp_inst *in)
{
	return tp_inst_value(in,
						 "SELECT count(*) || ' ' || count(*) FILTER (WHERE origin IS NULL)"
						 " || coalesce(' ' || string_agg(DISTINCT origin, ' '), '')"
						 " FROM (SELECT origin FROM teleport.event_0 WHERE op <> 'ddl'"
						 " UNION ALL SELECT origin FROM teleport.event_1 WHERE op <> 'ddl'"
						 " UNION ALL SELECT origin FROM teleport.event_2 WHERE op <> 'ddl') e");
}

/*
 * 4. A chain A -> B -> C: B applies A's tables into "b" and is a source
 * of C for b.*, which C applies into "c"; C ends equal to A. B's capture
 * records A as the origin of what it applied, and what B sends (seen in
 * a file-transport spool target beside C) names A as every change's
 * origin and B as the batches' source.
 */
START_TEST(test_chain)
{
	scene		sc;
	tp_inst	   *a;
	tp_inst	   *b;
	tp_inst	   *c;
	char	   *targets = NULL;
	char	   *spool;
	char	   *origins;
	long		spooled;

	scene_init(&sc);
	a = tp_scene_inst(&sc.t, "A", cluster, "ch_a", false);
	b = tp_scene_inst(&sc.t, "B", cluster, "ch_b", true);
	c = tp_scene_inst(&sc.t, "C", cluster, "ch_c", true);
	create_tables(a, "public", TABLES_DDL);
	create_tables(b, "b", TABLES_DDL);
	create_tables(c, "c", TABLES_DDL);
	ck_assert_int_ge(asprintf(&spool, "%s/spool", sc.t.dir), 0);

	configure(c, NULL, 500);
	tp_target_yaml(&targets, NULL, c, "\"b.*\"", "c");
	tp_appendf(&targets,
			   "  spool:\n"
			   "    target_expression: \"b.*\"\n"
			   "    apply_schema: \"c\"\n"
			   "    transport: file\n"
			   "    options:\n"
			   "      directory: \"%s\"\n", spool);
	/* vacuum seldom: B's events stay to be counted once forwarded */
	configure(b, targets, 600000);
	free(targets);
	targets = NULL;
	tp_target_yaml(&targets, NULL, b, "\"public.*\"", "b");
	configure(a, targets, 500);
	free(targets);

	tp_inst_start(c);
	tp_inst_start(b);
	tp_inst_start(a);
	tp_inst_wait_capture(a, "public", 1);
	tp_inst_wait_capture(b, "b", 2);

	tp_writer_start(&sc.t, a, sc.mix_path, 2, 4, 1000000, 150);
	tp_writers_wait(&sc.t);
	tp_inst_wait_marker(a, "public", c, "c", "chain-done", 90);

	ck_assert_int_gt(tp_inst_compare_all(a, "public", b, "b", mix_tables), 200);
	ck_assert_int_gt(tp_inst_compare_all(a, "public", c, "c", mix_tables), 200);

	/* B's queue: every event was applied from A, none is B's own */
	origins = queue_origins(b);
	ck_assert_msg(atol(origins) > 0 && tp_contains(origins, " 0 A") &&
				  !tp_contains(origins, " B") && !tp_contains(origins, " C"),
				  "B's queue events (total, own, origins): %s", origins);
	free(origins);
	/* what B forwards names A as the origin (the spool got it all) */
	for (double end = tp_deadline(60);;)
	{
		char		cmd[4352];
		char	   *argv[] = {"/bin/sh", "-c", cmd, NULL};
		tp_cmd_result res;
		bool		found;

		snprintf(cmd, sizeof(cmd), "cat '%s'/*.batch 2>/dev/null | grep -c chain-done", spool);
		ck_assert(tp_run_cmd(argv, NULL, 10, &res));
		found = atoi(res.out) > 0;
		tp_cmd_result_free(&res);
		if (found)
			break;
		ck_assert_msg(tp_before(end), "the marker never reached B's spool target");
		usleep(100000);
	}
	spooled = spool_origins(spool, "B", "A");
	ck_assert_int_gt(spooled, 200);

	tp_inst_stop(a);
	tp_inst_stop(b);
	tp_inst_stop(c);
	free(spool);
	scene_free(&sc);
}
END_TEST

/*
 * The progress counters of in: its targets' next seqs and its inbox
 * streams' received and applied seqs, as a new string.
 */
static char *
progress(const tp_inst *in)
{
	return tp_inst_value(in,
						 "SELECT coalesce((SELECT string_agg(name || ':' || next_seq, ',' ORDER BY name)"
						 " FROM teleport.target), '-') || ' | ' ||"
						 " coalesce((SELECT string_agg(source || ':' || last_received || ':' || last_applied,"
						 " ',' ORDER BY source) FROM teleport.inbox_stream), '-')");
}

/*
 * 5. X and Y replicate to each other on the same tables (X writes keys
 * from 1000000, Y from 2000000): both end with the union, and no change
 * comes back: each queue holds the peer's changes with the peer as their
 * origin, the batches sent carry exactly the own changes, and after
 * quiescence no batch is made or received any more.
 */
START_TEST(test_bidirectional)
{
	scene		sc;
	tp_inst	   *x;
	tp_inst	   *y;
	char	   *targets = NULL;
	char		expected[256];
	char	   *before_x;
	char	   *before_y;
	char	   *after_x;
	char	   *after_y;
	tp_inst	   *pair[2];

	scene_init(&sc);
	x = tp_scene_inst(&sc.t, "X", cluster, "bi_x", true);
	y = tp_scene_inst(&sc.t, "Y", cluster, "bi_y", true);
	create_tables(x, "public", TABLES_DDL);
	create_tables(y, "public", TABLES_DDL);
	/* vacuum seldom: sent batches and events stay to be counted */
	tp_target_yaml(&targets, NULL, y, "\"public.*\"", "public");
	configure(x, targets, 600000);
	free(targets);
	targets = NULL;
	tp_target_yaml(&targets, NULL, x, "\"public.*\"", "public");
	configure(y, targets, 600000);
	free(targets);
	tp_inst_start(x);
	tp_inst_start(y);
	tp_inst_wait_capture(x, "public", 1);
	tp_inst_wait_capture(y, "public", 1);

	tp_writer_start(&sc.t, x, sc.mix_path, 2, 4, 1000000, 100);
	tp_writer_start(&sc.t, y, sc.mix_path, 2, 4, 2000000, 100);
	tp_writers_wait(&sc.t);
	tp_inst_wait_marker(x, "public", y, "public", "from-x", 60);
	tp_inst_wait_marker(y, "public", x, "public", "from-y", 60);
	/* rows from both sides (at most 100 transactions/s of each for 4 s) */
	ck_assert_int_gt(tp_inst_compare_all(x, "public", y, "public", mix_tables), 200);

	pair[0] = x;
	pair[1] = y;
	for (int i = 0; i < 2; i++)
	{
		tp_inst	   *me = pair[i];
		tp_inst	   *peer = pair[1 - i];
		char	   *origins = queue_origins(me);
		char	   *sent;
		char	   *expect;
		long		total = atol(origins);
		long		own = atol(strchr(origins, ' ') + 1);

		/* the queue has own changes and the peer's, named after it */
		snprintf(expected, sizeof(expected), "%ld %ld %s", total, own, peer->name);
		ck_assert_msg(own > 0 && total > own && strcmp(origins, expected) == 0,
					  "%s's queue events (total, own, origins): %s", me->name, origins);
		free(origins);
		/* the batches to the peer carry exactly the own changes */
		sent = tp_inst_value(me, "SELECT coalesce(sum(n_events), 0) FROM teleport.batch"
							 " WHERE target = '%s'", peer->name);
		ck_assert_msg(atol(sent) == own, "%s sent %s changes to %s but made %ld itself",
					  me->name, sent, peer->name, own);
		free(sent);
		/* and the peer received all of them */
		sent = tp_inst_value(me, "SELECT next_seq - 1 FROM teleport.target WHERE name = '%s'",
							 peer->name);
		expect = tp_inst_value(peer, "SELECT last_received || ' ' || last_applied"
							   " FROM teleport.inbox_stream WHERE source = '%s'", me->name);
		ck_assert_msg(strncmp(expect, sent, strlen(sent)) == 0 &&
					  expect[strlen(sent)] == ' ' &&
					  strcmp(expect + strlen(sent) + 1, sent) == 0,
					  "%s made batches up to %s; %s received/applied %s",
					  me->name, sent, peer->name, expect);
		free(sent);
		free(expect);
	}

	/* quiescence: nothing more is cut, sent, received or applied */
	before_x = progress(x);
	before_y = progress(y);
	sleep(2);
	after_x = progress(x);
	after_y = progress(y);
	ck_assert_msg(strcmp(before_x, after_x) == 0 && strcmp(before_y, after_y) == 0,
				  "still moving after quiescence: X %s -> %s, Y %s -> %s",
				  before_x, after_x, before_y, after_y);
	free(before_x);
	free(before_y);
	free(after_x);
	free(after_y);

	tp_inst_stop(x);
	tp_inst_stop(y);
	scene_free(&sc);
}
END_TEST

/* A test case of its own (so CK_RUN_CASE=name runs it alone). */
static void
add_case(Suite *s, const char *name, const TTest *test, void (*setup) (void),
		 void (*teardown) (void))
{
	TCase	   *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

/* The suite. */
static Suite *
replication_suite(void)
{
	Suite	   *s = suite_create("replication");

	add_case(s, "mixed", test_mixed_workload, start_cluster, kill_leftovers);
	add_case(s, "crashes", test_crashes_mid_run, start_cluster2, stop_cluster2);
	add_case(s, "two_targets", test_two_targets, start_cluster, kill_leftovers);
	add_case(s, "chain", test_chain, start_cluster, kill_leftovers);
	add_case(s, "bidirectional", test_bidirectional, start_cluster, kill_leftovers);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(replication_suite());
}
