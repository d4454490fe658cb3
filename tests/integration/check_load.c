/*
 * check_load.c
 *     The initial load end to end (`teleport -config source.yml -mode
 *     initial-load -load-target T`): a source teleport runs as a daemon
 *     with the http transport to a target teleport with the postgres
 *     applier on a second cluster (public applied into schema "copy"),
 *     and the load runs next to it. load_jobs is 2, load_chunk_bytes
 *     65536 and load_split_bytes 1 MiB, so that a table of 200,000 rows
 *     takes hundreds of batches, two jobs copy tables at once and read
 *     the halves of a large table at once (but in case "kills").
 *
 *     Cases:
 *     "writes": the target has none of the tables (replicate_ddl: true:
 *     the schema comes with the load) while pgbench writes (inserts,
 *     upserts, updates, deletes, key changes, foreign keys) from before
 *     the load (the batches cut before it wait on the target for the
 *     load's begin) to after it; afterwards the target equals the source
 *     table by table (count,
 *     order-independent checksum, EXCEPT ALL both ways), with the same
 *     indexes and constraints, and the load's records say what it did.
 *     "values": a table without rows, rows wider than a chunk (1 MB and
 *     more), and a table of many built-in types (numeric of 40+ digits,
 *     float specials, bytea, arrays with NULLs and bounds, json and jsonb
 *     null, timestamptz, interval, uuid, inet, ranges, text with tabs,
 *     newlines, backslashes and characters outside the BMP, a composite,
 *     an enum), compared by text and by typed EXCEPT both ways; sequences
 *     set; a range type with a subtype_diff function of the schema, a
 *     domain over it, an aggregate that a SQL-standard body calls and a
 *     domain whose CHECK calls another (kinds whose dependencies go
 *     against their ranks), with a table of them, created on the target
 *     in their dependencies' order.
 *     "existing": replicate_ddl: false, the target's tables exist and hold
 *     some of the rows, other values and rows the source does not have
 *     (a table the source has empty, a table with REPLICA IDENTITY FULL
 *     and duplicate rows): afterwards they equal the source; a table
 *     without any key is not loaded (it is not replicated), with a
 *     warning. load_in_one_transaction: the target's rows stay as they
 *     were until the load's last batch, and every batch went through the
 *     inbox.
 *     "kills": the target's inbox slowed down (a trigger) so that a load
 *     is still running when: the loader is killed (SIGKILL) and run again,
 *     which takes the load over, keeping the tables already sent whole
 *     (with writes going on all along); the target
 *     teleport is killed and restarted (the loader retries); the target's
 *     database restarts. Each time the target was changed by hand before,
 *     and equals the source after. Chunks were applied on the target's
 *     second connection too, alongside the ones before them.
 *     "keys": tables are created without their primary keys, which are
 *     added after the rows (an event trigger on the target logs each
 *     table's DDL with its key and rows then); a table the target has
 *     with its key (under another name) keeps it, one it has without gets
 *     it; a load interrupted after the rows but before the keys (the
 *     target refuses to store the batch of the keys), then taken over,
 *     adds them once, keeping the rows; one interrupted after the keys
 *     (the target refuses the batches after theirs), then taken over,
 *     sends no key again. Rows written after each load apply (upserts
 *     need the keys).
 *     "failures": a load of a target that nothing answers retries until
 *     SIGTERM, then exits non-zero saying to run it again; a second load
 *     of the same target is refused naming the running one; an unknown
 *     target is a usage error; the other target goes on replicating.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkmain.h"
#include "deadline.h"
#include "config.h"
#include "instance.h"
#include "load_send.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "runcmd.h"

/* The source's cluster (shared) and the target's. */
static tp_cluster *cluster;
static tp_cluster *cluster2;

/*
 * Once per case: both clusters (the target's is started once, for every
 * case; it goes at exit). Without pgbench the program is skipped.
 */
static void
start_clusters(void)
{
	cluster = tp_cluster_shared();
	tp_pgbench_require();
	if (cluster2 == NULL)
		cluster2 = tp_cluster_start();
}

/* After each case: what a failed test left running. */
static void
kill_leftovers(void)
{
	tp_kill_leftovers(cluster);
}

/*
 * The tables of the cases with writes: one of 200,000 rows (about 280
 * chunks), a parent and a child with a foreign key, a composite key, the
 * marker.
 */
static const char work_sql[] =
"CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, v text, n numeric,"
" at timestamptz NOT NULL DEFAULT now());\n"
"CREATE INDEX big_grp ON big (grp);\n"
"CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL UNIQUE);\n"
"CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id),"
" qty int NOT NULL CHECK (qty >= 0));\n"
"CREATE TABLE tags (a int, b text, note text, PRIMARY KEY (a, b));\n"
"CREATE TABLE marker (label text PRIMARY KEY, at timestamptz DEFAULT now());\n"
"INSERT INTO big SELECT g, g % 100, md5(g::text), g / 7.0,"
" '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s' FROM generate_series(1, 200000) g;\n"
"INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 1000) g;\n"
"INSERT INTO child SELECT g, 1 + g % 1000, g % 50 FROM generate_series(1, 5000) g;\n"
"INSERT INTO tags SELECT g % 300, 't' || (g / 300), NULL FROM generate_series(1, 3000) g;\n";

static const char *const work_tables[] = {"big", "parent", "child", "tags", "marker", NULL};

/*
 * The writer: every client works on the rows whose key is its client id
 * modulo 4 and on keys of its own, so that clients never wait for each
 * other (no deadlock, nothing aborted). Each transaction upserts, updates,
 * deletes and changes keys both ways in big, renames a parent, moves a
 * child to another parent and adds one, upserts and deletes tags.
 */
static const char writer_script[] =
"\\set k random(1, 50000) * 4 + :client_id\n"
"\\set m random(1, 50000) * 4 + :client_id\n"
"\\set y 1000000 + :client_id * 100000 + random(1, 2000)\n"
"\\set p random(1, 249) * 4 + :client_id\n"
"\\set c random(1, 1249) * 4 + :client_id\n"
"\\set r random(1, 1000000)\n"
"\\set q random(1, 30)\n"
"BEGIN;\n"
"INSERT INTO public.big (id, grp, v, n) VALUES (:y, :r % 100, 'w' || :r, :r / 3.0)\n"
"  ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v || '+', n = public.big.n + 1;\n"
"UPDATE public.big SET v = v || 'u', n = n + 1, grp = (grp + 1) % 100 WHERE id = :k;\n"
"DELETE FROM public.big WHERE id = :m AND :r % 3 = 0;\n"
"UPDATE public.big SET id = id + 500000000 WHERE id = :m\n"
"  AND NOT EXISTS (SELECT 1 FROM public.big WHERE id = :m + 500000000);\n"
"UPDATE public.big SET id = id - 500000000 WHERE id = :k + 500000000\n"
"  AND NOT EXISTS (SELECT 1 FROM public.big WHERE id = :k);\n"
"UPDATE public.parent SET name = name || 'x' WHERE id = :p;\n"
"UPDATE public.child SET qty = qty + 1, parent_id = 1 + (parent_id + :r) % 1000 WHERE id = :c;\n"
"INSERT INTO public.child VALUES (:y, 1 + :r % 1000, 0)\n"
"  ON CONFLICT (id) DO UPDATE SET qty = public.child.qty + 1;\n"
"INSERT INTO public.tags VALUES (1000 + :client_id, 'w' || :q, 'n' || :r)\n"
"  ON CONFLICT (a, b) DO UPDATE SET note = EXCLUDED.note;\n"
"DELETE FROM public.tags WHERE a = 1000 + :client_id AND b = 'w' || (:q + 7);\n"
"COMMIT;\n";

/* A source, a target, the writer's script, the loads started. */
typedef struct scene
{
	tp_scene	t;
	tp_inst    *src;
	tp_inst    *tgt;
	char	   *script;
	int			loads;
} scene;

/* A loader process. */
typedef struct loader
{
	pid_t		pid;
	char	   *log;
} loader;

/* What a scene has besides the defaults. */
#define SCENE_NOWHERE 1			/* a second target nothing answers */
#define SCENE_ONE_TXN 2			/* load_in_one_transaction: true */
#define SCENE_WHOLE 4			/* no table split (load_split_bytes 64 MiB) */

/* Write in's config: replicate_ddl as ddl, targets (or NULL), flags. */
static void
configure(tp_inst *in, const char *targets, bool ddl, int flags)
{
	tp_inst_configure(in, targets,
					  "replicate_ddl: %s\n"
					  "load_in_one_transaction: %s\n"
					  "max_events_per_batch: 2000\n"
					  "load_jobs: 2\n"
					  "load_chunk_bytes: 65536\n"
					  "load_split_bytes: %d\n"
					  "processing_intervals:\n"
					  "  batcher: 50\n"
					  "  transmitter: 50\n"
					  "  applier: 50\n"
					  "  vacuum: 500\n"
					  "  ddlwatcher: 200\n", ddl ? "true" : "false",
					  (flags & SCENE_ONE_TXN) ? "true" : "false",
					  (flags & SCENE_WHOLE) ? 64 << 20 : 1 << 20);
}

/*
 * A new scene: instance src on the shared cluster sending public.* to
 * instance tgt on the second cluster (apply_schema "copy"), and with
 * SCENE_NOWHERE in flags to a target "nowhere" at a port nothing listens
 * on.
 */
static void
scene_init(scene *sc, const char *prefix, bool ddl, int flags)
{
	char		db[64];
	char	   *targets = NULL;

	ck_assert_msg(cluster2 != NULL, "the second cluster did not start");
	memset(sc, 0, sizeof(*sc));
	tp_scene_init(&sc->t, cluster, prefix);
	snprintf(db, sizeof(db), "%s_src", prefix);
	sc->src = tp_scene_inst(&sc->t, "src", cluster, db, false);
	snprintf(db, sizeof(db), "%s_tgt", prefix);
	sc->tgt = tp_scene_inst(&sc->t, "tgt", cluster2, db, true);
	sc->script = tp_write_file(sc->t.dir, "writer.sql", writer_script);
	ck_assert_ptr_nonnull(sc->script);
	configure(sc->tgt, NULL, ddl, flags);
	tp_target_yaml(&targets, NULL, sc->tgt, "\"public.*\"", "copy");
	if (flags & SCENE_NOWHERE)
		tp_appendf(&targets,
				   "  nowhere:\n"
				   "    target_expression: \"public.*\"\n"
				   "    apply_schema: \"copy\"\n"
				   "    endpoint:\n"
				   "      hostname: \"127.0.0.1\"\n"
				   "      port: %d\n"
				   "      token: \"" TP_INST_TOKEN "\"\n", tp_free_port());
	configure(sc->src, targets, ddl, flags);
	free(targets);
}

/* Kill what runs, remove the scene. */
static void
scene_free(scene *sc)
{
	free(sc->script);
	tp_scene_free(&sc->t);
}

/*
 * Start the target, then the source, and wait until the source captures
 * (n_targets targets) and, with schema replication, has its schema
 * snapshot.
 */
static void
scene_start(scene *sc, int n_targets, bool ddl)
{
	tp_inst_start(sc->tgt);
	tp_inst_start(sc->src);
	tp_inst_wait_capture(sc->src, "public", n_targets);
	if (ddl)
		tp_inst_wait_true(sc->src, "SELECT EXISTS (SELECT 1 FROM teleport.schema_snapshot)",
				  "the schema capture was never installed");
}

/*
 * Start the initial load of target (its log: load<n>.log in the scene),
 * on a terminal if tty.
 */
static void
load_start(scene *sc, const char *target, loader *ld, bool tty)
{
	char		name[32];

	snprintf(name, sizeof(name), "load%d.log", ++sc->loads);
	ck_assert_int_ge(asprintf(&ld->log, "%s/%s", sc->t.dir, name), 0);
	ld->pid = (tty ? tp_inst_spawn_tty : tp_inst_spawn) (sc->src, ld->log, "-mode",
														 "initial-load", "-load-target",
														 target, (char *) NULL);
}

/*
 * For a loader that hangs: the source's sessions (the loader's among
 * them) and, where gdb is installed, the stacks of its threads, on stderr.
 */
static void
show_hung_loader(const scene *sc, pid_t pid)
{
	char		pid_text[24];
	char	   *gdb_argv[] = {"/usr/bin/gdb", "-batch", "-p", pid_text,
	"-ex", "thread apply all bt", NULL};
	tp_cmd_result res;

	tp_inst_print_sessions(sc->src, "the hung loader's source sessions");
	snprintf(pid_text, sizeof(pid_text), "%ld", (long) pid);
	if (access(gdb_argv[0], X_OK) == 0 && tp_run_cmd(gdb_argv, NULL, 60, &res))
	{
		fprintf(stderr, "----- the hung loader's threads:\n%s\n", res.out ? res.out : "");
		tp_cmd_result_free(&res);
	}
}

/*
 * Wait up to timeout_s for the loader to exit; its exit status. When it
 * does not, what it waits for is shown, it is killed and the test fails.
 */
static int
load_wait(scene *sc, loader *ld, int timeout_s)
{
	int			status = tp_wait_exit(ld->pid, timeout_s);

	if (status < 0)
	{
		show_hung_loader(sc, ld->pid);
		kill(ld->pid, SIGKILL);
		tp_wait_exit(ld->pid, 10);
		ld->pid = 0;
		tp_scene_fail(&sc->t, "the load did not end within %d s", timeout_s);
	}
	ld->pid = 0;
	return status;
}

/* Whether the loader's log contains text. */
static bool
load_says(const loader *ld, const char *text)
{
	char	   *log = tp_read_file(ld->log);
	bool		found = tp_contains(log, text);

	free(log);
	return found;
}

/* Free ld (it has ended or been waited for). */
static void
load_free(loader *ld)
{
	free(ld->log);
	ld->log = NULL;
}

/* The id of the latest load of target on the source (0: none). */
static long
last_load(const scene *sc, const char *target)
{
	char	   *v = tp_inst_value(sc->src, "SELECT coalesce(max(id), 0) FROM teleport.load"
								  " WHERE target = '%s'", target);
	long		id = atol(v);

	free(v);
	return id;
}

/*
 * Wait (60 s) until the latest load of target after load after_id has
 * sent at least rows rows (its progress records); the loader must still
 * run. Returns the load's id.
 */
static long
wait_rows(scene *sc, const loader *ld, long after_id, long rows)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *v = tp_inst_try_value(sc->src,
										  "SELECT l.id || ' ' || coalesce(sum(t.rows), 0)"
										  " FROM teleport.load l LEFT JOIN teleport.load_table t"
										  "  ON t.load_id = l.id"
										  " WHERE l.id > %ld AND l.target = 'tgt'"
										  " GROUP BY l.id ORDER BY l.id DESC LIMIT 1", after_id);
		long		id = v ? atol(v) : 0;
		long		sent = v && strchr(v, ' ') ? atol(strchr(v, ' ') + 1) : 0;

		free(v);
		if (id > 0 && sent >= rows)
		{
			if (tp_wait_exit(ld->pid, 0) >= 0)
				tp_scene_fail(&sc->t, "the load ended before the test could interrupt it");
			return id;
		}
		if (tp_wait_exit(ld->pid, 0) >= 0)
			tp_scene_fail(&sc->t, "the load ended before it sent %ld rows", rows);
		usleep(50000);
	}
	tp_scene_fail(&sc->t, "the load never sent %ld rows", rows);
}

/*
 * Slow the target's inbox down (each batch received, stored or applied
 * on arrival, waits 15 ms), or no longer, so that a load is still running
 * when a test interrupts it. Meanwhile the application name of the
 * session of each batch that commits goes to public.lane_seen (the apply
 * loop's second lane: "teleport apply 2").
 */
static void
slow_target(const scene *sc, bool slow)
{
	if (slow)
		tp_inst_exec(sc->tgt,
					 "CREATE TABLE IF NOT EXISTS public.lane_seen (app text);"
					 "CREATE FUNCTION public.tp_slow() RETURNS trigger LANGUAGE plpgsql"
					 " AS $$BEGIN PERFORM pg_sleep(0.015); INSERT INTO public.lane_seen"
					 " VALUES (current_setting('application_name')); RETURN NEW; END$$;"
					 "CREATE TRIGGER tp_slow BEFORE INSERT ON teleport.inbox_stream"
					 " FOR EACH ROW EXECUTE FUNCTION public.tp_slow()");
	else
		tp_inst_exec(sc->tgt, "DROP FUNCTION public.tp_slow() CASCADE");
}

/*
 * Record on the target every load batch its inbox stores, in table
 * public.load_seen: seq, partial, and the value of expression what then.
 */
static void
watch_inbox(const scene *sc, const char *what)
{
	tp_inst_exec(sc->tgt,
				 "CREATE TABLE public.load_seen (seq bigint, partial boolean, what text);"
				 "CREATE FUNCTION public.tp_seen() RETURNS trigger LANGUAGE plpgsql"
				 " AS $$BEGIN IF NEW.kind = 'load' THEN INSERT INTO public.load_seen"
				 " VALUES (NEW.seq, NEW.partial, (%s)::text); END IF; RETURN NEW; END$$;"
				 "CREATE TRIGGER tp_seen BEFORE INSERT ON teleport.inbox"
				 " FOR EACH ROW EXECUTE FUNCTION public.tp_seen()", what);
}

/* The load-kind batches of load id: chunks of rows, begin and end. */
static long
load_batches(const scene *sc, long id)
{
	char	   *v = tp_inst_value(sc->src, "SELECT sum(chunks) + 2 FROM teleport.load_table"
								  " WHERE load_id = %ld", id);
	long		n = atol(v);

	free(v);
	return n;
}

/*
 * The indexes and constraints of schema on in (definitions with the
 * schema's name taken out), one line each, in order.
 */
static char *
objects(const tp_inst *in, const char *schema)
{
	return tp_inst_value(in,
						 "SELECT string_agg(d, E'\\n' ORDER BY d) FROM ("
						 " SELECT replace(indexdef, '%s.', '') AS d FROM pg_indexes"
						 " WHERE schemaname = '%s'"
						 " UNION ALL SELECT c.relname || ' ' || k.conname || ' '"
						 "  || replace(pg_get_constraintdef(k.oid), '%s.', '')"
						 " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
						 " WHERE c.relnamespace = '%s'::regnamespace) x",
						 schema, schema, schema, schema);
}

/*
 * "writes": a load into a target without the tables while pgbench
 * writes; afterwards the target equals the source.
 */
START_TEST(test_load_under_writes)
{
	scene		sc;
	loader		ld = {0};
	long		id;
	char	   *v;
	char	   *so;
	char	   *to;
	int			status;

	scene_init(&sc, "lw", true, 0);
	tp_inst_exec(sc.src, "%s", work_sql);
	scene_start(&sc, 1, true);
	v = tp_inst_value(sc.tgt, "SELECT to_regclass('copy.big') IS NULL");
	ck_assert_str_eq(v, "t");
	free(v);

	/*
	 * The writes start before the load: the batches cut before it change
	 * tables the target does not have yet; they are held there until the
	 * load's begin arrives, which empties those tables, and are then
	 * applied without those rows (the load copies them).
	 */
	watch_inbox(&sc, "NULL");
	tp_writer_start(&sc.t, sc.src, sc.script, 3, 8, 0, 150);
	tp_inst_wait_true(sc.src, "SELECT EXISTS (SELECT 1 FROM teleport.batch WHERE target = 'tgt')",
			  "no batch was cut before the load");
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 150);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load exited with %d", status);
	ck_assert(load_says(&ld, "sent: "));
	tp_writers_wait(&sc.t);
	ck_assert_int_gt(tp_writers_transactions(&sc.t), 300);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "writes-done", 120);

	ck_assert_int_gt(tp_inst_compare_all(sc.src, "public", sc.tgt, "copy", work_tables),
					 200000);
	so = objects(sc.src, "public");
	to = objects(sc.tgt, "copy");
	if (strcmp(so, to) != 0)
		tp_scene_fail(&sc.t, "indexes and constraints differ:\n%s\n---\n%s", so, to);
	free(so);
	free(to);

	/*
	 * The records: done, a chain of batches, the target given back, every
	 * table copied, big in many chunks; writes committed while it ran.
	 */
	id = last_load(&sc, "tgt");
	v = tp_inst_value(sc.src,
					  "SELECT concat_ws(' ', l.state, l.first_seq < l.last_seq,"
					  " (SELECT t.loading IS NULL FROM teleport.target t WHERE t.name = l.target),"
					  " (SELECT count(*) FROM teleport.load_table t"
					  "  WHERE t.load_id = l.id AND t.state = 'done'),"
					  " (SELECT t.chunks > 100 FROM teleport.load_table t"
					  "  WHERE t.load_id = l.id AND t.table_name = 'big'),"
					  " (SELECT count(*) > 0 FROM public.big b"
					  "  WHERE b.at BETWEEN l.started_at AND l.finished_at),"
					  " l.total_bytes = l.bytes AND l.bytes > 0)"
					  " FROM teleport.load l WHERE l.id = %ld", id);
	ck_assert_str_eq(v, "done t t 5 t t t");
	free(v);
	/* not on a terminal: a line per table (with the whole's progress), no bar */
	v = tp_inst_value(sc.src, "SELECT 'table public.big copied: ' || rows || ' rows, '"
					  " FROM teleport.load_table WHERE load_id = %ld AND table_name = 'big'", id);
	ck_assert_msg(load_says(&ld, v), "the log lacks \"%s\"", v);
	free(v);
	ck_assert(load_says(&ld, " batches; in all "));
	ck_assert(!load_says(&ld, "\rloading "));

	/*
	 * Each load batch was a unit of its own, and nearly all were applied
	 * on arrival, never stored in the inbox (only while the stream had a
	 * stored batch to apply first, as the schema's).
	 */
	v = tp_inst_value(sc.tgt, "SELECT count(*) || ' ' || count(*) FILTER (WHERE partial)"
					  " FROM public.load_seen");
	if (atol(v) * 5 > load_batches(&sc, id) || strcmp(strchr(v, ' '), " 0") != 0)
		tp_scene_fail(&sc.t, "of %ld load batches the inbox stored (count, partial) %s",
					  load_batches(&sc, id), v);
	free(v);

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	load_free(&ld);
	scene_free(&sc);
}
END_TEST

/* The types of case "values" (created on the target by the load). */
static const char values_sql[] =
"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ''quoted''');\n"
"CREATE TYPE pair AS (a int, b text);\n"
"CREATE TABLE empty (id int PRIMARY KEY, v text);\n"
"CREATE TABLE wide (id int PRIMARY KEY, v text, b bytea);\n"
"INSERT INTO wide VALUES (1, repeat('x', 1048576), NULL), (2, 'small', '\\x00'),\n"
" (3, repeat(E'a\\tb\\\\c\\n', 250000), decode(repeat('ff005c0a', 150000), 'hex')), (4, NULL, NULL);\n"
"CREATE TABLE vals (id serial PRIMARY KEY, c_num numeric, c_f8 float8, c_f4 float4, c_bytea bytea,\n"
" c_ia int[], c_ta text[], c_jsonb jsonb, c_json json, c_tstz timestamptz, c_ts timestamp,\n"
" c_iv interval, c_uuid uuid, c_inet inet, c_cidr cidr, c_i4r int4range, c_tstzr tstzrange,\n"
" c_numr numrange, c_mr int4multirange, c_text text, c_comp pair, c_compa pair[], c_enum mood,\n"
" c_enuma mood[], c_bool bool, c_date date, c_vc varchar(10), c_bit varbit, c_money money);\n"
"INSERT INTO vals (c_num, c_f8, c_f4, c_bytea, c_ia, c_ta, c_jsonb, c_json, c_tstz, c_ts, c_iv,\n"
" c_uuid, c_inet, c_cidr, c_i4r, c_tstzr, c_numr, c_mr, c_text, c_comp, c_compa, c_enum, c_enuma,\n"
" c_bool, c_date, c_vc, c_bit, c_money) VALUES\n"
"('1234567890123456789012345678901234567890.123456789012345678901234567890', 'NaN', 'NaN',\n"
" '\\x00ff5c0a0d09', '[0:2]={1,NULL,3}', ARRAY['a\"b', 'c,d', '{e}', 'f\\g', NULL, 'NULL', '', ' sp '],\n"
" '{\"n\": null, \"a\": [1, null, 1.50], \"big\": 123456789012345678901234567890}',\n"
" '{\"b\" :  1, \"b\": null,   \"s\": \"\\u00e9\"}', '2000-02-29 12:00:00.000001+05:45',\n"
" '294276-12-31 23:59:59.999999', '1 year 2 mons -3 days 04:05:06.789012',\n"
" 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2001:db8::1/64', '10.0.0.0/8', '[1,5)',\n"
" '[2020-01-01 00:00:00.5+00,)', '(-1234567890123456789012345678901234567890.5,0.000000000000000000001]',\n"
" '{[1,3),[5,7),[10,)}', E'tab\\there\\nnewline\\r\\\\back\\\\\\\\slash \\\\N \\U0001F600 \\U00010348 '\n"
" || chr(233) || ' e' || chr(769), ROW(1, E'x\"y\\t,)'), ARRAY[ROW(1, 'a')::pair, NULL, ROW(NULL, NULL)::pair],\n"
" 'happy ''quoted''', '{sad,NULL,ok}', true, '4713-01-01 BC', 'ab\\c', B'1010', '12345678.91'),\n"
"('-0.00000000000000000000000000000000000000000000001', '-0', '-0', '\\x', '{}', '{}', 'null', 'null',\n"
" 'infinity', '-infinity', '-178000000 years', '00000000-0000-0000-0000-000000000000', '0.0.0.0/0',\n"
" '::/0', 'empty', '[-infinity,infinity]', 'empty', '{}', '', ROW(NULL, NULL), '{}', 'sad', '{}',\n"
" false, 'infinity', '', B'', '-92233720368547758.08'),\n"
"('Infinity', 'Infinity', '-Infinity', NULL, '{{1,2},{3,NULL}}', '{{\"}\",NULL}}', '[]', '\"s\"',\n"
" '-infinity', NULL, '-1 mons +1 day -00:00:00.000001', NULL, NULL, NULL, '(,)', NULL, '[NaN,NaN]',\n"
" NULL, '\\N', NULL, NULL, NULL, '{NULL}', NULL, NULL, NULL, NULL, NULL),\n"
"('-Infinity', '-Infinity', 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),\n"
"(0.30000000000000004, 5e-324, 1.17549435e-38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),\n"
"(1.000, 1.7976931348623157e308, 3.4028235e38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
" NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);\n"
"SELECT setval('vals_id_seq', 1000);\n"
/* kinds whose dependencies go against their ranks (docs/schema.md) */
"CREATE FUNCTION lr_diff(a float8, b float8) RETURNS float8 LANGUAGE sql IMMUTABLE\n"
" AS 'SELECT a - b';\n"
"CREATE TYPE lrange AS RANGE (subtype = float8, subtype_diff = lr_diff);\n"
"CREATE DOMAIN lrdom AS lrange CHECK (NOT isempty(VALUE));\n"
"CREATE FUNCTION l_add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';\n"
"CREATE AGGREGATE lsum(int) (sfunc = l_add, stype = int, initcond = '0');\n"
"CREATE FUNCTION ltotal(a int[]) RETURNS int LANGUAGE sql IMMUTABLE\n"
" RETURN (SELECT lsum(x) FROM unnest(a) x);\n"
"CREATE FUNCTION lpos(a int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN a > 0;\n"
"CREATE DOMAIN lposint AS int CHECK (lpos(VALUE));\n"
"CREATE TABLE rng (id int PRIMARY KEY, r lrange, d lrdom, p lposint, ra lrange[]);\n"
"INSERT INTO rng VALUES (1, '[1.5,2)', '[0,1]', 5, ARRAY['[1,2)'::lrange]),\n"
" (2, NULL, NULL, NULL, NULL), (3, 'empty', '(,3)', 1, '{}');\n"
/* a table of a view's row type, which goes before the rows with the view */
"CREATE TABLE vbase (id int PRIMARY KEY, v text);\n"
"INSERT INTO vbase VALUES (1, 'a');\n"
"CREATE VIEW vrow AS SELECT id, v FROM vbase;\n"
"CREATE TABLE vuse (id int PRIMARY KEY, r vrow);\n"
"INSERT INTO vuse VALUES (1, ROW(1, 'a')::vrow), (2, NULL);\n"
"CREATE FUNCTION vuse_id(vuse) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT ($1).id';\n"
/* and of a table whose default calls a SQL-standard body that reads that view */
"CREATE FUNCTION vcount() RETURNS bigint LANGUAGE sql STABLE RETURN (SELECT count(*) FROM vrow);\n"
"CREATE TABLE vdef (id int PRIMARY KEY, n bigint DEFAULT vcount());\n"
"INSERT INTO vdef (id) VALUES (1);\n"
"CREATE TABLE marker (label text PRIMARY KEY);\n";

/* The columns of vals that have equality (json has none). */
static const char vals_eq_cols[] =
"id, c_num, c_f8, c_f4, c_bytea, c_ia, c_ta, c_jsonb, c_tstz, c_ts, c_iv, c_uuid, c_inet, c_cidr,"
" c_i4r, c_tstzr, c_numr, c_mr, c_text, c_comp, c_compa, c_enum, c_enuma, c_bool, c_date, c_vc,"
" c_bit, c_money";

/*
 * "values": a table without rows, rows wider than a chunk, and many types
 * come through exactly; the sequence is set.
 */
START_TEST(test_load_values)
{
	scene		sc;
	loader		ld = {0};
	char	   *v;
	int			status;
	static const char *const tables[] = {"empty", "wide", "vals", "marker", "vbase", "vuse",
		"vdef", NULL};

	scene_init(&sc, "lv", true, 0);
	/* the writer's session has settings unlike the pinned ones */
	tp_inst_exec(sc.src, "SET TimeZone = 'Asia/Kathmandu'; SET DateStyle = 'SQL, DMY';"
				 " SET IntervalStyle = 'sql_standard'; SET extra_float_digits = 0; %s",
				 values_sql);
	scene_start(&sc, 1, true);
	load_start(&sc, "tgt", &ld, true);
	status = load_wait(&sc, &ld, 120);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load exited with %d", status);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "values-done", 60);
	/*
	 * On a terminal: the bar, drawn over itself (the table's rows; the
	 * whole load's rows, MB, rate, time left), and a line per table; no
	 * periodic log line.
	 */
	{
		char	   *log = tp_read_file(ld.log);
		char	   *bar = log ? strstr(log, "\rloading public.wide: ") : NULL;
		static const char *const parts[] = {" rows  [", "] ", "% ", " rows, ", " MB of about ",
			" MB/s, about ", " s left", NULL};

		if (bar == NULL)
			tp_scene_fail(&sc.t, "no bar for public.wide in the log:\n%s", log);
		bar[strcspn(bar + 1, "\r\n") + 1] = '\0';
		for (int i = 0; parts[i] != NULL; i++)
			ck_assert_msg(strstr(bar, parts[i]) != NULL, "the bar lacks \"%s\": %s",
						  parts[i], bar + 1);
		free(log);
	}
	ck_assert(load_says(&ld, "table public.wide copied: 4 rows, "));
	ck_assert(!load_says(&ld, " load: progress: "));

	ck_assert_int_eq(tp_inst_compare_all(sc.src, "public", sc.tgt, "copy", tables),
					 4 + 6 + 1 + 1 + 2 + 1);
	/* typed, over the columns with equality (tp_cmp.tgt_vals: the target's rows) */
	v = tp_inst_value(sc.src,
					  "SELECT (SELECT count(*) FROM (SELECT %s FROM public.vals"
					  "  EXCEPT SELECT %s FROM tp_cmp.tgt_vals) a)"
					  " || ' ' || (SELECT count(*) FROM (SELECT %s FROM tp_cmp.tgt_vals"
					  "  EXCEPT SELECT %s FROM public.vals) b)"
					  " || ' ' || (SELECT count(*) FROM public.vals s JOIN tp_cmp.tgt_vals c"
					  "  USING (id) WHERE s.c_json::text = c.c_json::text)",
					  vals_eq_cols, vals_eq_cols, vals_eq_cols, vals_eq_cols);
	ck_assert_str_eq(v, "0 0 3");
	free(v);
	/* the widest rows, and the sequence */
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', (SELECT sum(length(v)) FROM copy.wide),"
					  " (SELECT sum(length(b)) FROM copy.wide), (SELECT last_value FROM copy.vals_id_seq),"
					  " (SELECT count(*) FROM copy.empty))");
	ck_assert_str_eq(v, "2548581 600001 1000 0");
	free(v);
	v = tp_inst_value(sc.src, "SELECT chunks >= 4 FROM teleport.load_table"
					  " WHERE table_name = 'wide'");
	ck_assert_str_eq(v, "t");
	free(v);
	/*
	 * a range type with a function of the schema, a domain over it, an
	 * aggregate called by a SQL-standard body, a domain calling another,
	 * and a table of them: created in their dependencies' order
	 */
	{
		const char *q = "SELECT concat_ws(' ', %s.ltotal(ARRAY[1, 2, 3]),"
			" (SELECT string_agg(t::text, ';' ORDER BY t.id) FROM %s.rng t),"
			" (SELECT p.proname FROM pg_range r JOIN pg_proc p ON p.oid = r.rngsubdiff"
			"  WHERE r.rngtypid = '%s.lrange'::regtype))";
		char	   *sv = tp_inst_value(sc.src, q, "public", "public", "public");
		char	   *tv = tp_inst_value(sc.tgt, q, "copy", "copy", "copy");

		ck_assert_str_eq(sv, "6 (1,\"[1.5,2)\",\"[0,1]\",5,\"{\"\"[1,2)\"\"}\");(2,,,,);"
						 "(3,empty,\"(,3)\",1,{}) lr_diff");
		ck_assert_str_eq(tv, sv);
		free(sv);
		free(tv);
		tv = tp_inst_try_value(sc.tgt, "INSERT INTO copy.rng (id, p) VALUES (9, -1) RETURNING id");
		ck_assert_msg(tv == NULL, "the target's domain does not call its function");
	}
	/* the view, the table of its row type, and a function of that table's */
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', (SELECT string_agg(copy.vuse_id(u)::text, ','"
					  " ORDER BY u.id) FROM copy.vuse u), (SELECT count(*) FROM copy.vrow),"
					  " (SELECT format_type(atttypid, NULL) FROM pg_attribute"
					  "  WHERE attrelid = 'copy.vuse'::regclass AND attname = 'r'),"
					  " (SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef"
					  "  WHERE adrelid = 'copy.vdef'::regclass))");
	ck_assert_str_eq(v, "1,2 1 copy.vrow copy.vcount()");
	free(v);

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	load_free(&ld);
	scene_free(&sc);
}
END_TEST

/* The source's tables of case "existing", and their rows. */
static const char existing_src_sql[] =
"CREATE TABLE parent (id int PRIMARY KEY, name text);\n"
"CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent (id), v text);\n"
"CREATE TABLE nokey (a int, b text);\n"
"ALTER TABLE nokey REPLICA IDENTITY FULL;\n"
"CREATE TABLE gone (id int PRIMARY KEY);\n"
"CREATE TABLE loose (a int);\n"
"INSERT INTO loose VALUES (1);\n"
"CREATE TABLE marker (label text PRIMARY KEY);\n"
"INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) g;\n"
"INSERT INTO child (parent_id, v) SELECT 1 + g % 100, 'c' || g FROM generate_series(1, 300) g;\n"
"INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, NULL), (NULL, NULL);\n";

/*
 * The target's: the same tables, with some of the rows, others changed,
 * and rows the source does not have.
 */
static const char existing_tgt_sql[] =
"CREATE SCHEMA copy;\n"
"CREATE TABLE copy.parent (id int PRIMARY KEY, name text);\n"
"CREATE TABLE copy.child (id serial PRIMARY KEY, parent_id int REFERENCES copy.parent (id), v text);\n"
"CREATE TABLE copy.nokey (a int, b text);\n"
"CREATE TABLE copy.gone (id int PRIMARY KEY);\n"
"CREATE TABLE copy.loose (a int);\n"
"INSERT INTO copy.loose VALUES (9);\n"
"CREATE TABLE copy.marker (label text PRIMARY KEY);\n"
"INSERT INTO copy.parent SELECT g, CASE WHEN g % 2 = 0 THEN 'p' || g ELSE 'other' END"
" FROM generate_series(50, 150) g;\n"
"INSERT INTO copy.child (id, parent_id, v) SELECT g, 50 + g % 100, 'old' FROM generate_series(1, 10) g;\n"
"INSERT INTO copy.child (id, parent_id, v) SELECT g, 150, 'extra' FROM generate_series(1000, 1010) g;\n"
"INSERT INTO copy.nokey VALUES (1, 'a'), (3, 'c'), (3, 'c');\n"
"INSERT INTO copy.gone VALUES (1), (2);\n"
"INSERT INTO copy.marker VALUES ('old');\n";

/*
 * "existing": a load into tables that exist on the target (replicate_ddl:
 * false) with some rows, other values and rows the source has not.
 */
START_TEST(test_load_existing)
{
	scene		sc;
	loader		ld = {0};
	char	   *v;
	char		want[64];
	int			status;
	static const char *const tables[] = {"parent", "child", "nokey", "gone", NULL};

	scene_init(&sc, "le", false, SCENE_ONE_TXN);
	tp_inst_exec(sc.src, "%s", existing_src_sql);
	tp_inst_exec(sc.tgt, "%s", existing_tgt_sql);
	scene_start(&sc, 1, false);
	watch_inbox(&sc, "SELECT count(*) FROM copy.parent");
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 120);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load exited with %d", status);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "existing-done", 60);

	ck_assert_int_eq(tp_inst_compare_all(sc.src, "public", sc.tgt, "copy", tables), 404);
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', (SELECT string_agg(label, ',') FROM copy.marker),"
					  " (SELECT last_value FROM copy.child_id_seq))");
	ck_assert_str_eq(v, "existing-done 300");
	free(v);

	/* a table without a key is not replicated, so not loaded either */
	v = tp_inst_value(sc.tgt, "SELECT string_agg(a::text, ',') FROM copy.loose");
	ck_assert_str_eq(v, "9");
	free(v);
	ck_assert(load_says(&ld, "table \"public.loose\" is not loaded: it has no primary key"));

	/*
	 * load_in_one_transaction: every load batch was stored, partial but
	 * the last, and the target's rows stayed as they were while they
	 * arrived (applied at one commit, at the end).
	 */
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', count(*),"
					  " bool_and(partial = (seq < (SELECT max(seq) FROM public.load_seen))),"
					  " min(what), max(what)) FROM public.load_seen");
	snprintf(want, sizeof(want), "%ld t 101 101", load_batches(&sc, last_load(&sc, "tgt")));
	ck_assert_str_eq(v, want);
	free(v);

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	load_free(&ld);
	scene_free(&sc);
}
END_TEST

/* Change the target's copy by hand, so that a load has to set it right. */
static void
drift(const scene *sc)
{
	tp_inst_exec(sc->tgt, "DELETE FROM copy.big WHERE id %% 3 = 0;"
				 " UPDATE copy.big SET v = 'drift' WHERE id %% 5 = 0;"
				 " INSERT INTO copy.tags VALUES (-1, 'drift', NULL);"
				 " DELETE FROM copy.child WHERE id < 100");
}

/*
 * Load and wait for the result: the load must exit 0 and the target
 * equal the source once marker label arrives.
 */
static void
load_done(scene *sc, loader *ld, const char *label)
{
	int			status = load_wait(sc, ld, 150);

	if (status != 0)
		tp_scene_fail(&sc->t, "the load exited with %d", status);
	tp_inst_wait_marker(sc->src, "public", sc->tgt, "copy", label, 120);
	tp_inst_compare_all(sc->src, "public", sc->tgt, "copy", work_tables);
}

/*
 * "kills": a loader killed midway and run again (taking the load over),
 * the target teleport killed, the target database restarted, each during
 * a load that the target's slowed inbox keeps running.
 */
START_TEST(test_load_kills)
{
	scene		sc;
	loader		ld = {0};
	long		id;
	char	   *v;
	int			status;

	/* not split: the small tables go while big is sent, and some are whole */
	scene_init(&sc, "lk", true, SCENE_WHOLE);
	tp_inst_exec(sc.src, "%s", work_sql);
	scene_start(&sc, 1, true);
	slow_target(&sc, true);

	/* the loader killed, with writes going on, then run again */
	load_start(&sc, "tgt", &ld, false);
	id = wait_rows(&sc, &ld, 0, 40000);
	tp_writer_start(&sc.t, sc.src, sc.script, 2, 6, 0, 100);
	kill(ld.pid, SIGKILL);
	tp_wait_exit(ld.pid, 10);
	load_free(&ld);
	/* its server process goes with it; until then the load counts as running */
	tp_inst_wait_true(sc.src, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
			  " JOIN teleport.load l ON l.pid = a.pid AND l.backend_start = a.backend_start)",
			  "the killed loader's server process stayed");
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 150);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load exited with %d", status);
	if (!load_says(&ld, "was interrupted; this load takes it over") ||
		!load_says(&ld, "table public.tags was sent whole by the interrupted load: kept"))
		tp_scene_fail(&sc.t, "the second load did not say it took the load over"
					  " and kept the tables sent whole");
	tp_writers_wait(&sc.t);
	v = tp_inst_value(sc.src, "SELECT string_agg(state || ' ' || coalesce(reason, '-'), ',' ORDER BY id)"
					  " FROM teleport.load WHERE id >= %ld", id);
	ck_assert_str_eq(v, "failed interrupted,done -");
	free(v);
	load_free(&ld);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "after-loader-kill", 120);
	tp_inst_compare_all(sc.src, "public", sc.tgt, "copy", work_tables);

	/* the target teleport killed during a load, then started again */
	drift(&sc);
	id = last_load(&sc, "tgt");
	load_start(&sc, "tgt", &ld, false);
	wait_rows(&sc, &ld, id, 40000);
	tp_inst_kill(sc.tgt);
	sleep(1);
	tp_inst_start(sc.tgt);
	load_done(&sc, &ld, "after-target-kill");
	if (!load_says(&ld, "was not delivered"))
		tp_scene_fail(&sc.t, "the load never had to send a batch again");
	load_free(&ld);

	/* the target's database restarted during a load */
	drift(&sc);
	id = last_load(&sc, "tgt");
	load_start(&sc, "tgt", &ld, false);
	wait_rows(&sc, &ld, id, 40000);
	ck_assert(tp_cluster_stop(cluster2));
	sleep(1);
	ck_assert(tp_cluster_restart(cluster2));
	load_done(&sc, &ld, "after-database-restart");
	load_free(&ld);
	v = tp_inst_value(sc.tgt, "SELECT count(*) > 0 FROM public.lane_seen"
					  " WHERE app = 'teleport apply 2'");
	if (strcmp(v, "t") != 0)
		tp_scene_fail(&sc.t, "no chunk was applied on the target's second connection");
	free(v);

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	scene_free(&sc);
}
END_TEST

/* The source's tables of case "keys" and their rows. */
static const char keys_src_sql[] =
"CREATE TABLE parent (id int PRIMARY KEY, name text NOT NULL UNIQUE);\n"
"CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), v text);\n"
"CREATE INDEX child_v ON child (v);\n"
"CREATE TABLE tags (a int, b text, note text, CONSTRAINT tags_key PRIMARY KEY (b, a));\n"
"CREATE TABLE full_ident (a int, b text);\n"
"ALTER TABLE full_ident REPLICA IDENTITY FULL;\n"
"CREATE TABLE marker (label text PRIMARY KEY);\n"
"INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 500) g;\n"
"INSERT INTO child SELECT g, 1 + g % 500, 'c' || (g % 7) FROM generate_series(1, 3000) g;\n"
"INSERT INTO tags SELECT g % 100, 't' || (g / 100), NULL FROM generate_series(1, 1000) g;\n"
"INSERT INTO full_ident VALUES (1, 'a'), (1, 'a'), (2, NULL);\n"
"INSERT INTO marker VALUES ('m0');\n";

static const char *const keys_tables[] = {"parent", "child", "tags", "full_ident", "marker", NULL};

/*
 * On the target of case "keys": every DDL command on a table of schema
 * copy logged (an event trigger, enabled always) in public.ddl_log with
 * the table's primary key then and its rows then; every changes batch
 * its inbox stores counted in public.seen (its ddl lines of tables and
 * of indexes), and with a row 'keys' in public.block the batch with
 * index lines (the part after the rows, with the keys) refused, with a
 * row 'after' every batch after that one.
 */
static void
watch_keys(const scene *sc)
{
	tp_inst_exec(sc->tgt,
				 "CREATE TABLE public.ddl_log (n serial, tag text, tbl text, pk text, n_rows bigint);"
				 "CREATE FUNCTION public.tp_ddl_log() RETURNS event_trigger LANGUAGE plpgsql AS $$"
				 "DECLARE r record; c bigint;"
				 " BEGIN FOR r IN SELECT * FROM pg_event_trigger_ddl_commands()"
				 "  WHERE object_type = 'table' AND schema_name = 'copy' LOOP"
				 "  EXECUTE format('SELECT count(*) FROM %%s', r.object_identity) INTO c;"
				 "  INSERT INTO public.ddl_log (tag, tbl, pk, n_rows) VALUES (r.command_tag,"
				 "   r.object_identity, (SELECT conname FROM pg_constraint"
				 "   WHERE conrelid = r.objid AND contype = 'p'), c);"
				 " END LOOP; END $$;"
				 "CREATE EVENT TRIGGER tp_ddl_log ON ddl_command_end"
				 " EXECUTE FUNCTION public.tp_ddl_log();"
				 "ALTER EVENT TRIGGER tp_ddl_log ENABLE ALWAYS;"
				 "CREATE TABLE public.seen (seq bigint, tables int, indexes int);"
				 "CREATE TABLE public.block (what text);"
				 "CREATE FUNCTION public.tp_seen() RETURNS trigger LANGUAGE plpgsql AS $$"
				 "DECLARE t int; i int;"
				 " BEGIN IF NEW.kind = 'changes' THEN"
				 "  t := (length(NEW.data) - length(replace(NEW.data, '\"type\" : \"table\"', '')))"
				 "   / length('\"type\" : \"table\"');"
				 "  i := (length(NEW.data) - length(replace(NEW.data, '\"type\" : \"index\"', '')))"
				 "   / length('\"type\" : \"index\"');"
				 "  IF i > 0 AND EXISTS (SELECT 1 FROM public.block WHERE what = 'keys') THEN"
				 "   RAISE EXCEPTION 'test: batch %% refused', NEW.seq; END IF;"
				 "  INSERT INTO public.seen VALUES (NEW.seq, t, i);"
				 " END IF; RETURN NEW; END $$;"
				 "CREATE TRIGGER tp_seen BEFORE INSERT ON teleport.inbox"
				 " FOR EACH ROW EXECUTE FUNCTION public.tp_seen();"
				 "CREATE FUNCTION public.tp_block_after() RETURNS trigger LANGUAGE plpgsql AS $$"
				 " BEGIN IF EXISTS (SELECT 1 FROM public.block WHERE what = 'after')"
				 "  AND NEW.last_received > (SELECT max(seq) FROM public.seen WHERE indexes > 0) THEN"
				 "  RAISE EXCEPTION 'test: batch %% refused', NEW.last_received; END IF;"
				 " RETURN NEW; END $$;"
				 "CREATE TRIGGER tp_block_after BEFORE INSERT OR UPDATE ON teleport.inbox_stream"
				 " FOR EACH ROW EXECUTE FUNCTION public.tp_block_after()");
}

/*
 * From the target's ddl_log, each table of copy: its first command and
 * whether the table had its primary key then, and the rows it had when it
 * first had one ("-": never): "copy.t:TAG/key:rows", sorted, space
 * separated.
 */
static char *
ddl_story(const scene *sc)
{
	return tp_inst_value(sc->tgt,
						 "SELECT coalesce(string_agg(x, ' ' ORDER BY x), '') FROM ("
						 " SELECT tbl || ':' || (array_agg(tag || '/' || (pk IS NOT NULL) ORDER BY n))[1]"
						 "  || ':' || coalesce(((array_agg(n_rows ORDER BY n)"
						 "   FILTER (WHERE pk IS NOT NULL))[1])::text, '-') AS x"
						 " FROM public.ddl_log GROUP BY tbl) y");
}

/* The primary keys of copy on the target: table, name, index valid, columns. */
static char *
copy_keys(const scene *sc)
{
	return tp_inst_value(sc->tgt,
						 "SELECT string_agg(c.relname || ' ' || k.conname || ' ' || i.indisvalid"
						 " || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY c.relname)"
						 " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
						 " JOIN pg_index i ON i.indexrelid = k.conindid"
						 " WHERE k.contype = 'p' AND c.relnamespace = 'copy'::regnamespace");
}

/* The keys of case "keys" on the target after a load. */
#define KEYS_ALL \
	"child child_pkey true PRIMARY KEY (id), marker marker_pkey true PRIMARY KEY (label), " \
	"parent %s true PRIMARY KEY (id), tags tags_key true PRIMARY KEY (b, a)"

/* Fail unless the target's ddl_story is want. */
static void
assert_story(const scene *sc, const char *want)
{
	char	   *v = ddl_story(sc);

	if (strcmp(v, want) != 0)
		tp_scene_fail(&sc->t, "the tables' DDL (first command/key:rows at the key): %s", v);
	free(v);
}

/* Fail unless the target's keys are KEYS_ALL with parent's key named pkey. */
static void
assert_keys(const scene *sc, const char *pkey)
{
	char	   *v = copy_keys(sc);
	char		want[512];

	snprintf(want, sizeof(want), KEYS_ALL, pkey);
	ck_assert_str_eq(v, want);
	free(v);
}

/*
 * Kill the loader as a crash would, and wait until its server process
 * is gone (until then its load counts as running).
 */
static void
kill_load(scene *sc, loader *ld)
{
	kill(ld->pid, SIGKILL);
	tp_wait_exit(ld->pid, 10);
	ld->pid = 0;
	load_free(ld);
	tp_inst_wait_true(sc->src, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
			  " JOIN teleport.load l ON l.pid = a.pid AND l.backend_start = a.backend_start)",
			  "the killed loader's server process stayed");
}

/*
 * Rows written on the source after a load (an upsert, updates, deletes,
 * key changes) reach the target, which then equals the source.
 */
static void
keys_writes(scene *sc, const char *label)
{
	tp_inst_exec(sc->src, "UPDATE parent SET name = name || '+' WHERE id <= 20;"
				 " INSERT INTO tags VALUES (7, 't1', 'upsert') ON CONFLICT (b, a)"
				 "  DO UPDATE SET note = EXCLUDED.note;"
				 " INSERT INTO tags VALUES (5000, 'new', 'n') ON CONFLICT (b, a)"
				 "  DO UPDATE SET note = tags.note || '+';"
				 " DELETE FROM child WHERE id %% 10 = 0;"
				 " UPDATE child SET id = id + 100000 WHERE id %% 10 = 1;"
				 " INSERT INTO full_ident VALUES (3, 'c')");
	tp_inst_wait_marker(sc->src, "public", sc->tgt, "copy", label, 60);
	tp_inst_compare_all(sc->src, "public", sc->tgt, "copy", keys_tables);
}

/*
 * "keys": primary keys are added after the rows; tables the target has
 * with or without their key; loads interrupted before and after the keys,
 * taken over.
 */
START_TEST(test_load_keys)
{
	scene		sc;
	loader		ld = {0};
	char	   *v;
	int			status;

	/* the target's inbox stores change batches, which watch_keys sees */
	setenv("TELEPORT_TEST_STORE_CHANGES", "1", 1);
	scene_init(&sc, "lp", true, 0);
	tp_inst_exec(sc.src, "%s", keys_src_sql);
	/* parent with its key (under another name) and other rows, tags without */
	tp_inst_exec(sc.tgt, "CREATE SCHEMA copy;"
				 " CREATE TABLE copy.parent (id int CONSTRAINT parent_by_hand PRIMARY KEY,"
				 "  name text NOT NULL);"
				 " INSERT INTO copy.parent SELECT g, 'old' || g FROM generate_series(400, 600) g;"
				 " CREATE TABLE copy.tags (a int, b text, note text);"
				 " INSERT INTO copy.tags VALUES (1, 't0', 'old'), (1, 't0', 'old')");
	scene_start(&sc, 1, true);
	watch_keys(&sc);

	/*
	 * The tables the load creates have no key until they hold their rows;
	 * the one that has it keeps it, the one without gets it.
	 */
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 120);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load exited with %d", status);
	load_free(&ld);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "keys-1", 60);
	assert_story(&sc, "copy.child:CREATE TABLE/false:3000 copy.full_ident:CREATE TABLE/false:-"
				 " copy.marker:CREATE TABLE/false:1 copy.parent:ALTER TABLE/true:500"
				 " copy.tags:ALTER TABLE/true:1000");
	assert_keys(&sc, "parent_by_hand");
	keys_writes(&sc, "keys-1-writes");

	/*
	 * A load into a target without the tables, interrupted once the rows
	 * are in but before the keys: the target has every row and no key.
	 * The load that takes it over keeps the tables and adds the keys.
	 */
	tp_inst_exec(sc.tgt, "DROP SCHEMA copy CASCADE; TRUNCATE public.ddl_log, public.seen;"
				 " INSERT INTO public.block VALUES ('keys')");
	load_start(&sc, "tgt", &ld, false);
	if (!tp_wait_for_text(ld.log, "was not delivered", 60))
		tp_scene_fail(&sc.t, "the batch of the keys was never refused");
	tp_inst_wait_true(sc.tgt, "SELECT (SELECT count(*) FROM copy.child) = 2700",
			  "the rows did not arrive before the keys");
	v = tp_inst_value(sc.tgt, "SELECT count(*) FROM pg_constraint"
					  " WHERE contype = 'p' AND connamespace = 'copy'::regnamespace");
	ck_assert_str_eq(v, "0");
	free(v);
	kill_load(&sc, &ld);
	tp_inst_exec(sc.tgt, "TRUNCATE public.block, public.seen");
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 120);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load that takes over exited with %d", status);
	if (!load_says(&ld, "was interrupted; this load takes it over") ||
		!load_says(&ld, "table public.child was sent whole by the interrupted load: kept"))
		tp_scene_fail(&sc.t, "the load did not take over keeping the tables sent whole");
	load_free(&ld);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "keys-2", 60);
	/* the take-over sent the keys (one table change each) with the indexes */
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', count(*), sum(tables), sum(indexes))"
					  " FROM public.seen WHERE tables + indexes > 0");
	ck_assert_str_eq(v, "1 4 1");
	free(v);
	assert_story(&sc, "copy.child:CREATE TABLE/false:2700 copy.full_ident:CREATE TABLE/false:-"
				 " copy.marker:CREATE TABLE/false:3 copy.parent:CREATE TABLE/false:500"
				 " copy.tags:CREATE TABLE/false:1001");
	assert_keys(&sc, "parent_pkey");
	keys_writes(&sc, "keys-2-writes");

	/*
	 * A load interrupted after the keys (the target refuses every batch
	 * after theirs): the load that takes it over sends no key again.
	 */
	tp_inst_exec(sc.tgt, "DROP SCHEMA copy CASCADE; TRUNCATE public.ddl_log, public.seen;"
				 " INSERT INTO public.block VALUES ('after')");
	load_start(&sc, "tgt", &ld, false);
	if (!tp_wait_for_text(ld.log, "was not delivered", 60))
		tp_scene_fail(&sc.t, "the batch after the keys was never refused");
	tp_inst_wait_true(sc.tgt, "SELECT count(*) = 4 FROM pg_constraint"
			  " WHERE contype = 'p' AND connamespace = 'copy'::regnamespace",
			  "the keys were not added");
	kill_load(&sc, &ld);
	tp_inst_exec(sc.tgt, "TRUNCATE public.block, public.seen, public.ddl_log");
	load_start(&sc, "tgt", &ld, false);
	status = load_wait(&sc, &ld, 120);
	if (status != 0)
		tp_scene_fail(&sc.t, "the load that takes over exited with %d", status);
	ck_assert(load_says(&ld, "was interrupted; this load takes it over"));
	load_free(&ld);
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "keys-3", 60);
	v = tp_inst_value(sc.tgt, "SELECT concat_ws(' ', coalesce(sum(tables), 0),"
					  " (SELECT count(*) FROM public.ddl_log)) FROM public.seen");
	ck_assert_str_eq(v, "0 0");
	free(v);
	assert_keys(&sc, "parent_pkey");
	keys_writes(&sc, "keys-3-writes");

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	scene_free(&sc);
}
END_TEST

/*
 * "failures": a target nothing answers; a second loader; an unknown
 * target.
 */
START_TEST(test_load_failures)
{
	scene		sc;
	loader		first = {0};
	loader		second = {0};
	loader		unknown = {0};
	long		id;
	int			status;
	char		text[128];
	char	   *v;

	scene_init(&sc, "lf", false, SCENE_NOWHERE);
	tp_inst_exec(sc.src, "CREATE TABLE t (id int PRIMARY KEY, v text);"
				 " INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;"
				 " CREATE TABLE marker (label text PRIMARY KEY)");
	tp_inst_exec(sc.tgt, "CREATE SCHEMA copy; CREATE TABLE copy.t (id int PRIMARY KEY, v text);"
				 " CREATE TABLE copy.marker (label text PRIMARY KEY)");
	scene_start(&sc, 2, false);

	/* an unknown target: a usage error */
	load_start(&sc, "nosuch", &unknown, false);
	status = load_wait(&sc, &unknown, 30);
	ck_assert_int_eq(status, 2);
	ck_assert(load_says(&unknown, "-load-target \"nosuch\" is not a target of"));

	/* nothing answers: it retries */
	load_start(&sc, "nowhere", &first, false);
	if (!tp_wait_for_text(first.log, "was not delivered", 30))
		tp_scene_fail(&sc.t, "the load of target nowhere never tried to send");
	ck_assert_int_lt(tp_wait_exit(first.pid, 0), 0);
	id = last_load(&sc, "nowhere");
	ck_assert_int_gt(id, 0);

	/* a second load of it is refused, naming the first */
	load_start(&sc, "nowhere", &second, false);
	status = load_wait(&sc, &second, 30);
	snprintf(text, sizeof(text), "load %ld of target \"nowhere\" is running", id);
	if (status == 0 || !load_says(&second, text))
		tp_scene_fail(&sc.t, "a second load exited with %d without saying \"%s\"", status, text);
	ck_assert_int_lt(tp_wait_exit(first.pid, 0), 0);

	/* SIGTERM: it stops, non-zero, saying to run it again */
	kill(first.pid, SIGTERM);
	status = load_wait(&sc, &first, 30);
	ck_assert_int_eq(status, 1);
	ck_assert(load_says(&first, "did not complete; run the same command again"));
	v = tp_inst_value(sc.src, "SELECT concat_ws(' ', l.state, l.reason, t.loading = l.id)"
					  " FROM teleport.load l JOIN teleport.target t ON t.name = l.target"
					  " WHERE l.id = %ld", id);
	ck_assert_str_eq(v, "failed stopped t");
	free(v);

	/* the other target goes on */
	tp_inst_exec(sc.src, "UPDATE t SET v = v || '+' WHERE id <= 10");
	tp_inst_wait_marker(sc.src, "public", sc.tgt, "copy", "failures-done", 60);
	v = tp_inst_value(sc.tgt, "SELECT count(*) FROM copy.t WHERE v LIKE '%%+'");
	ck_assert_str_eq(v, "10");
	free(v);

	tp_inst_stop(sc.src);
	tp_inst_stop(sc.tgt);
	load_free(&unknown);
	load_free(&first);
	load_free(&second);
	scene_free(&sc);
}
END_TEST

/*
 * A sending half that takes a while and records what it saw, for
 * test_load_sender: batch seq's send sleeps fake_delay_ms[seq - 100].
 */
typedef struct fake_sends
{
	pthread_mutex_t lock;
	tp_load_sender *sender;
	int			in_flight;
	int			max_in_flight;
	int			n;
	uint64_t	started[32];	/* seqs in the order their sends began */
	int			alongside[32];	/* sends in flight when each began */
	uint64_t	n_done;
	uint64_t	done[32];		/* seqs in the order they were answered */
	uint64_t	last_seq_at[32];	/* the sender's last_seq as each ends */
	int			delay_ms[32];
} fake_sends;

static fake_sends fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static tp_result
fake_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	int			i = (int) (batch->seq - 100);

	(void) ctx;
	ck_assert(i >= 0 && i < 32);
	pthread_mutex_lock(&fake.lock);
	fake.alongside[fake.n] = fake.in_flight;
	fake.started[fake.n++] = batch->seq;
	if (++fake.in_flight > fake.max_in_flight)
		fake.max_in_flight = fake.in_flight;
	pthread_mutex_unlock(&fake.lock);
	usleep((useconds_t) fake.delay_ms[i] * 1000);
	pthread_mutex_lock(&fake.sender->lock);
	fake.last_seq_at[i] = fake.sender->last_seq;
	pthread_mutex_unlock(&fake.sender->lock);
	pthread_mutex_lock(&fake.lock);
	fake.in_flight--;
	fake.done[fake.n_done++] = batch->seq;
	pthread_mutex_unlock(&fake.lock);
	return TP_OK;
}

/*
 * "sender": the load's sender with two transport instances keeps two row
 * chunks in flight, hands them to the transport in number order, records
 * as delivered only what was acknowledged without a gap when the answers
 * come out of order (also when one chunk's answer comes after many more
 * than there are lanes: a lane that retries, the other going on), sends
 * anything else, and a chunk much shorter than one in flight, alone, and
 * numbers every batch once in the source database.
 */
START_TEST(test_load_sender)
{
	char	   *conninfo = tp_cluster_create_db(cluster, "lsend");
	tp_target_config target;
	tp_transport_callbacks cb;
	tp_plugin_ctx ctxs[2];
	tp_load_sender s;
	static char big[1000];
	static const char small[] = "x\n";
	PGconn	   *conn;

	ck_assert_ptr_nonnull(conninfo);
	conn = PQconnectdb(conninfo);
	ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
	tp_sql_ok(conn, "CREATE SCHEMA teleport;"
			  "CREATE TABLE teleport.target (name text PRIMARY KEY, next_seq bigint,"
			  " loading bigint);"
			  "INSERT INTO teleport.target VALUES ('t', 100, 5)");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\n';
	memset(&target, 0, sizeof(target));
	target.name = "t";
	target.apply_schema = "copy";
	memset(&cb, 0, sizeof(cb));
	cb.size = sizeof(cb);
	cb.send = fake_send;
	memset(ctxs, 0, sizeof(ctxs));
	fake.sender = &s;
	/* 101 answered long after 102 to 116 (most of them) */
	for (int i = 0; i < 32; i++)
		fake.delay_ms[i] = 20;
	fake.delay_ms[1] = 1500;

	ck_assert(tp_load_sender_init(&s, conninfo, &target, "src", &ctxs[0], &cb, 5));
	ck_assert(tp_load_sender_add_lane(&s, &ctxs[1]));
	/* 100: schema, alone; 101 to 116: chunks; 117: a short one; 118: end */
	ck_assert(tp_load_send(&s, TP_BATCH_CHANGES, small, 2, 1, false, false));
	ck_assert_int_eq(s.last_seq, 100);
	for (int i = 0; i < 16; i++)
		ck_assert(tp_load_send(&s, TP_BATCH_LOAD, big, sizeof(big), 1, false, true));
	ck_assert(tp_load_send(&s, TP_BATCH_LOAD, small, 2, 1, false, true));
	ck_assert(tp_load_send(&s, TP_BATCH_LOAD, small, 2, 1, true, false));
	ck_assert(tp_load_send_flush(&s));
	tp_load_sender_free(&s);

	ck_assert_int_eq(fake.n, 19);
	ck_assert_int_eq(fake.max_in_flight, 2);
	/* in number order, but for two threads entering send at once */
	for (int i = 0; i < 19; i++)
		ck_assert_msg(fake.started[i] + 1 >= 100 + (uint64_t) i &&
					  fake.started[i] <= 101 + (uint64_t) i,
					  "batch %d began as the %dth", (int) fake.started[i], i);

	/*
	 * More chunks than lanes came back before 101, in order; last_seq
	 * stayed at 100 until 101 did, then took them all in
	 */
	{
		int			k = 1;

		while (k < 17 && fake.done[k] != 101)
		{
			ck_assert_int_eq(fake.done[k], 101 + k);
			ck_assert_int_eq(fake.last_seq_at[fake.done[k] - 100], 100);
			k++;
		}
		ck_assert_msg(k - 1 > TP_LOAD_MAX_LANES, "only %d chunks came back before 101", k - 1);
		ck_assert_int_eq(fake.last_seq_at[1], 100);
	}
	/* the schema, the short chunk and the end went alone; 102-116 alongside 101 */
	ck_assert_int_eq(fake.alongside[0], 0);
	ck_assert_int_eq(fake.alongside[1], 0);
	for (int i = 2; i <= 16; i++)
		ck_assert_int_eq(fake.alongside[i], 1);
	ck_assert_int_eq(fake.alongside[17], 0);
	ck_assert_int_eq(fake.alongside[18], 0);
	ck_assert_int_eq(fake.last_seq_at[17], 116);
	ck_assert_int_eq(s.first_seq, 100);
	ck_assert_int_eq(s.last_seq, 118);
	ck_assert_int_eq(s.batches, 19);
	tp_sql_assert(conn, "SELECT next_seq FROM teleport.target", "119");
	PQfinish(conn);
	free(conninfo);
}
END_TEST

/* A test case of its own (so CK_RUN_CASE=name runs it alone). */
static void
add_case(Suite *s, const char *name, const TTest *test)
{
	TCase	   *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, start_clusters, kill_leftovers);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

/* The suite. */
static Suite *
load_suite(void)
{
	Suite	   *s = suite_create("load");

	add_case(s, "writes", test_load_under_writes);
	add_case(s, "values", test_load_values);
	add_case(s, "existing", test_load_existing);
	add_case(s, "kills", test_load_kills);
	add_case(s, "keys", test_load_keys);
	add_case(s, "failures", test_load_failures);
	add_case(s, "sender", test_load_sender);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(load_suite());
}
