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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "pgcluster.h"
#include "runcmd.h"

/* The shared cluster, and a second one for a target that is stopped. */
static tp_cluster *cluster;
static tp_cluster *cluster2;

/*
 * Where test processes note the pids they spawn (in the shared cluster's
 * directory), so that the parent kills what a failed test left running:
 * Check ends a failed test process with _exit(), before its cleanup.
 */
static char pid_registry[4096];

/* Note pid in the registry. */
static void
register_pid(pid_t pid)
{
	FILE	   *f = fopen(pid_registry, "a");

	if (f != NULL)
	{
		fprintf(f, "%d\n", (int) pid);
		fclose(f);
	}
}

/*
 * Kill (SIGKILL) every registered process that still runs with the shared
 * cluster's directory in its command line (a teleport's config, pgbench's
 * -h), then empty the registry. Runs in the parent, after each case.
 */
static void
kill_leftovers(void)
{
	FILE	   *f = fopen(pid_registry, "r");
	int			pid;

	if (f == NULL)
		return;
	while (fscanf(f, "%d", &pid) == 1)
	{
		char		path[64];
		char		cmd[8192];
		size_t		n = 0;
		FILE	   *c;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		c = fopen(path, "r");
		if (pid <= 0 || c == NULL)
		{
			if (c != NULL)
				fclose(c);
			continue;
		}
		n = fread(cmd, 1, sizeof(cmd) - 1, c);
		fclose(c);
		/* its arguments are NUL-separated */
		for (size_t i = 0; i < n; i++)
			cmd[i] = cmd[i] == '\0' ? ' ' : cmd[i];
		cmd[n] = '\0';
		if (strstr(cmd, cluster->dir) != NULL)
		{
			kill((pid_t) pid, SIGKILL);
			tp_wait_exit((pid_t) pid, 10);
		}
	}
	fclose(f);
	f = fopen(pid_registry, "w");
	if (f != NULL)
		fclose(f);
}

static char *pgbench_path(void);

/*
 * Once per case: the shared cluster and the registry in its directory.
 * Without pgbench (beside initdb) the program is skipped.
 */
static void
start_cluster(void)
{
	char	   *pgbench;

	cluster = tp_cluster_shared();
	snprintf(pid_registry, sizeof(pid_registry), "%s/test-pids", cluster->dir);
	pgbench = pgbench_path();
	if (access(pgbench, X_OK) != 0)
	{
		fprintf(stderr, "skipped: %s is not installed\n", pgbench);
		free(pgbench);
		exit(TP_EXIT_SKIP);
	}
	free(pgbench);
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

/* The token of every http server and endpoint here. */
#define TOKEN "repl-s3cret"

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

/* A teleport instance under test. */
typedef struct inst
{
	char		name[32];		/* database.name: the instance's name */
	tp_cluster *cl;
	char		db[64];
	int			port;			/* its http server; 0: it does not receive */
	char	   *config;
	char	   *out;
	char	   *log;
	pid_t		pid;
} inst;

#define MAX_INSTS 4
#define MAX_WRITERS 6

/* A background writer (pgbench). */
typedef struct writer
{
	pid_t		pid;
	char	   *log;
} writer;

/* A test's scene: a temp dir, the instances, the writers. */
typedef struct scene
{
	char	   *dir;
	inst		insts[MAX_INSTS];
	int			n_insts;
	writer		writers[MAX_WRITERS];
	int			n_writers;
	char	   *mix_path;		/* the scripts, written into dir */
	char	   *edge_path;
} scene;

/* A free port on the loopback, or the test fails. */
static int
free_port(void)
{
	int			port = tp_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

/* Run sql (printf format) in cl's database db; fails the test on error. */
static void
exec_sqlf(tp_cluster *cl, const char *db, const char *fmt,...)
{
	char	   *sql = NULL;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	ck_assert_msg(tp_cluster_exec(cl, db, sql), "SQL failed in %s: %s", db, sql);
	free(sql);
}

/*
 * The one value of query sql in cl's database db, as a new string; NULL
 * when the database cannot be reached or the query fails and may_fail.
 */
static char *
query_value_opt(tp_cluster *cl, const char *db, const char *sql, bool may_fail)
{
	PGconn	   *conn = tp_cluster_connect(cl, db);
	PGresult   *res;
	char	   *value = NULL;

	if (conn == NULL && may_fail)
		return NULL;
	ck_assert_ptr_nonnull(conn);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		value = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
	else
		ck_assert_msg(may_fail, "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return value;
}

/* The one value of query sql (printf format) in cl's db, as a new string. */
static char *
query_valuef(tp_cluster *cl, const char *db, const char *fmt,...)
{
	char	   *sql = NULL;
	char	   *value;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	value = query_value_opt(cl, db, sql, false);
	free(sql);
	return value;
}

/* The last max bytes of the file at path, as a new string. */
static char *
file_tail(const char *path, size_t max)
{
	char	   *text = tp_read_file(path);
	size_t		len;

	if (text == NULL)
		return strdup("(no file)");
	len = strlen(text);
	if (len > max)
		memmove(text, text + len - max, max + 1);
	return text;
}

/*
 * What went on, for a failure message: each instance's log tail and the
 * inbox streams of the receiving ones. A new string (free).
 */
static char *
scene_report(const scene *sc)
{
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < sc->n_insts; i++)
	{
		const inst *in = &sc->insts[i];
		char	   *tail = file_tail(in->log, 6000);

		fprintf(f, "\n===== %s (db %s) log tail:\n%s\n", in->name, in->db, tail);
		free(tail);
		if (in->port != 0)
		{
			char	   *streams = query_value_opt(in->cl, in->db,
												  "SELECT string_agg(format('%s->%s received %s applied %s held %s %s: %s',"
												  " source, target, last_received, last_applied, held_seq, held_state,"
												  " held_reason), E'\\n') FROM teleport.inbox_stream", true);

			fprintf(f, "----- %s inbox streams:\n%s\n", in->name,
					streams ? streams : "(none)");
			free(streams);
		}
	}
	for (int i = 0; i < sc->n_writers; i++)
	{
		char	   *tail = file_tail(sc->writers[i].log, 1500);

		fprintf(f, "----- writer %d:\n%s\n", i, tail);
		free(tail);
	}
	fclose(f);
	return buf;
}

/* Fail the test with msg and the scene's report. */
static void
scene_fail(const scene *sc, const char *msg)
{
	char	   *report = scene_report(sc);

	/* the report goes to stderr: Check's messages must stay short */
	fprintf(stderr, "%s\n%s\n", msg, report);
	free(report);
	ck_abort_msg("%.3000s (the instances' logs are above)", msg);
}

/* A new scene with the writers' scripts in its directory. */
static void
scene_init(scene *sc)
{
	memset(sc, 0, sizeof(*sc));
	/* inside the cluster's tree: it goes with it, also after a failure */
	sc->dir = tp_cluster_make_dir(cluster, "repl");
	ck_assert_ptr_nonnull(sc->dir);
	sc->mix_path = tp_write_file(sc->dir, "mix.sql", mix_script);
	sc->edge_path = tp_write_file(sc->dir, "edge.sql", edge_script);
	ck_assert_ptr_nonnull(sc->mix_path);
	ck_assert_ptr_nonnull(sc->edge_path);
}

/*
 * A new instance name on database db of cl (created empty); receives: it
 * has an http server and applies.
 */
static inst *
scene_inst(scene *sc, const char *name, tp_cluster *cl, const char *db,
		   bool receives)
{
	inst	   *in;
	char	   *conninfo;

	ck_assert_int_lt(sc->n_insts, MAX_INSTS);
	in = &sc->insts[sc->n_insts++];
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->db, sizeof(in->db), "%s", db);
	in->cl = cl;
	in->port = receives ? free_port() : 0;
	conninfo = tp_cluster_create_db(cl, db);
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	ck_assert_int_ge(asprintf(&in->out, "%s/%s.out", sc->dir, name), 0);
	ck_assert_int_ge(asprintf(&in->log, "%s/%s.log", sc->dir, name), 0);
	return in;
}

/*
 * Append to buf (size len) the YAML of a target named after instance to,
 * sending tables matching expr (YAML: a quoted string or a flow list) into
 * apply_schema.
 */
static void
add_target(char *buf, size_t len, const inst *to, const char *expr,
		   const char *apply_schema)
{
	size_t		used = strlen(buf);

	snprintf(buf + used, len - used,
			 "  %s:\n"
			 "    target_expression: %s\n"
			 "    apply_schema: \"%s\"\n"
			 "    endpoint:\n"
			 "      hostname: \"127.0.0.1\"\n"
			 "      port: %d\n"
			 "      token: \"%s\"\n",
			 to->name, expr, apply_schema, to->port, TOKEN);
}

/*
 * Write in's config: its database, a server section with the postgres
 * applier when it receives, and targets (YAML entries, or NULL);
 * vacuum_ms is the vacuum interval.
 */
static void
inst_configure(scene *sc, inst *in, const char *targets, int vacuum_ms)
{
	char		text[8192];
	char		file[64];

	snprintf(text, sizeof(text),
			 "replicate_ddl: false\n"
			 "max_events_per_batch: 2000\n"
			 "processing_intervals:\n"
			 "  batcher: 50\n"
			 "  transmitter: 50\n"
			 "  applier: 50\n"
			 "  vacuum: %d\n"
			 "  ddlwatcher: 1000\n"
			 "database:\n"
			 "  name: \"%s\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"postgres\"\n",
			 vacuum_ms, in->name, in->db, in->cl->dir, in->cl->port);
	if (in->port != 0)
	{
		size_t		used = strlen(text);

		snprintf(text + used, sizeof(text) - used,
				 "server:\n"
				 "  hostname: \"127.0.0.1\"\n"
				 "  port: %d\n"
				 "  token: \"%s\"\n"
				 "applier: postgres\n", in->port, TOKEN);
	}
	if (targets != NULL)
	{
		size_t		used = strlen(text);

		snprintf(text + used, sizeof(text) - used, "targets:\n%s", targets);
	}
	snprintf(file, sizeof(file), "%s.yml", in->name);
	free(in->config);
	in->config = tp_write_file(sc->dir, file, text);
	ck_assert_ptr_nonnull(in->config);
}

/* Start (or restart) the instance; it must say it runs. */
static void
inst_start(const scene *sc, inst *in)
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
	/* a restart appends to the log: look for a new "running" line */
	if (in->log != NULL)
	{
		FILE	   *f = fopen(in->log, "a");

		if (f != NULL)
		{
			fprintf(f, "----- test: (re)start -----\n");
			fclose(f);
		}
	}
	in->pid = tp_spawn_split(argv, NULL, in->out, in->log);
	ck_assert_int_gt(in->pid, 0);
	register_pid(in->pid);
	for (int i = 0; i < 300; i++)
	{
		char	   *log = tp_read_file(in->log);
		const char *last = log ? strstr(log, "----- test: (re)start -----") : NULL;
		bool		running;
		int			status;

		while (last != NULL && strstr(last + 1, "----- test: (re)start -----") != NULL)
			last = strstr(last + 1, "----- test: (re)start -----");
		running = last != NULL && strstr(last, " running") != NULL;
		free(log);
		if (running)
			return;
		status = tp_wait_exit(in->pid, 0);
		if (status >= 0)
		{
			char		msg[128];

			in->pid = 0;
			snprintf(msg, sizeof(msg), "%s exited with %d at start", in->name, status);
			scene_fail(sc, msg);
		}
		usleep(100000);
	}
	scene_fail(sc, "an instance never said it runs");
}

/* Kill the instance hard, as a crash would. */
static void
inst_kill(inst *in)
{
	if (in->pid <= 0)
		return;
	kill(in->pid, SIGKILL);
	tp_wait_exit(in->pid, 10);
	in->pid = 0;
}

/* Stop it with SIGTERM: it must exit 0. */
static void
inst_stop(const scene *sc, inst *in)
{
	int			status;

	if (in->pid <= 0)
		return;
	kill(in->pid, SIGTERM);
	status = tp_wait_exit(in->pid, 30);
	if (status < 0)
		kill(in->pid, SIGKILL);
	in->pid = 0;
	if (status != 0)
	{
		char		msg[128];

		snprintf(msg, sizeof(msg), "%s exited with %d on SIGTERM", in->name, status);
		scene_fail(sc, msg);
	}
}

/* Kill every process and remove the scene's files. */
static void
scene_free(scene *sc)
{
	for (int i = 0; i < sc->n_writers; i++)
	{
		if (sc->writers[i].pid > 0)
		{
			kill(sc->writers[i].pid, SIGKILL);
			tp_wait_exit(sc->writers[i].pid, 10);
		}
		free(sc->writers[i].log);
	}
	for (int i = 0; i < sc->n_insts; i++)
	{
		inst_kill(&sc->insts[i]);
		free(sc->insts[i].config);
		free(sc->insts[i].out);
		free(sc->insts[i].log);
	}
	free(sc->mix_path);
	free(sc->edge_path);
	tp_remove_tree(sc->dir);
	free(sc->dir);
}

/* The pgbench binary of $TP_PG_BINDIR (or the default), as a new string. */
static char *
pgbench_path(void)
{
	const char *bindir = getenv("TP_PG_BINDIR");
	char	   *path;

	if (bindir == NULL || bindir[0] == '\0')
		bindir = "/usr/lib/postgresql/15/bin";
	ck_assert_int_ge(asprintf(&path, "%s/pgbench", bindir), 0);
	return path;
}

/*
 * Run pgbench on in's database with the NULL-terminated arguments that
 * follow (after the connection options); it must succeed.
 */
static void
pgbench_run(const inst *in,...)
{
	char	   *argv[32];
	char		port[16];
	int			n = 0;
	tp_cmd_result res;
	va_list		ap;
	const char *arg;

	snprintf(port, sizeof(port), "%d", in->cl->port);
	argv[n++] = pgbench_path();
	argv[n++] = "-h";
	argv[n++] = in->cl->dir;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-U";
	argv[n++] = TP_CLUSTER_SUPERUSER;
	va_start(ap, in);
	while ((arg = va_arg(ap, const char *)) != NULL && n < 30)
		argv[n++] = (char *) arg;
	va_end(ap);
	argv[n++] = (char *) in->db;
	argv[n] = NULL;
	ck_assert(tp_run_cmd(argv, NULL, 120, &res));
	ck_assert_msg(res.status == 0, "pgbench failed (%d): %s%s", res.status, res.out, res.err);
	tp_cmd_result_free(&res);
	free(argv[0]);
}

/*
 * Start pgbench in the background on in's database for seconds with
 * clients, running script (NULL: the built-in tpcb-like) with variable
 * base, at most rate transactions per second (0: unthrottled).
 */
static void
writer_start(scene *sc, const inst *in, const char *script, int clients,
			 int seconds, long base, int rate)
{
	char	   *argv[32];
	char		port[16];
	char		c[16];
	char		t[16];
	char		r[16];
	char		b[64];
	int			n = 0;
	writer	   *w;

	ck_assert_int_lt(sc->n_writers, MAX_WRITERS);
	w = &sc->writers[sc->n_writers];
	ck_assert_int_ge(asprintf(&w->log, "%s/writer%d.log", sc->dir, sc->n_writers), 0);
	sc->n_writers++;
	snprintf(port, sizeof(port), "%d", in->cl->port);
	snprintf(c, sizeof(c), "%d", clients);
	snprintf(t, sizeof(t), "%d", seconds);
	snprintf(r, sizeof(r), "%d", rate);
	snprintf(b, sizeof(b), "base=%ld", base);
	argv[n++] = pgbench_path();
	argv[n++] = "-n";
	argv[n++] = "-h";
	argv[n++] = in->cl->dir;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-U";
	argv[n++] = TP_CLUSTER_SUPERUSER;
	argv[n++] = "-c";
	argv[n++] = c;
	argv[n++] = "-j";
	argv[n++] = "1";
	argv[n++] = "-T";
	argv[n++] = t;
	if (rate > 0)
	{
		argv[n++] = "-R";
		argv[n++] = r;
	}
	if (script != NULL)
	{
		argv[n++] = "-f";
		argv[n++] = (char *) script;
		argv[n++] = "-D";
		argv[n++] = b;
	}
	else
	{
		argv[n++] = "-b";
		argv[n++] = "tpcb-like";
	}
	argv[n++] = (char *) in->db;
	argv[n] = NULL;
	w->pid = tp_spawn(argv, NULL, w->log);
	free(argv[0]);
	ck_assert_int_gt(w->pid, 0);
	register_pid(w->pid);
}

/* Wait for every writer to end; each must have succeeded without errors. */
static void
writers_wait(scene *sc)
{
	for (int i = 0; i < sc->n_writers; i++)
	{
		writer	   *w = &sc->writers[i];
		int			status;
		char	   *log;

		if (w->pid <= 0)
			continue;
		status = tp_wait_exit(w->pid, 120);
		w->pid = status < 0 ? w->pid : 0;
		log = tp_read_file(w->log);
		if (status != 0 || tp_contains(log, "aborted") ||
			!tp_contains(log, "number of transactions actually processed"))
		{
			char		msg[256];

			snprintf(msg, sizeof(msg), "writer %d ended with %d", i, status);
			free(log);
			scene_fail(sc, msg);
		}
		free(log);
	}
}

/*
 * The number of transactions the writers processed (from their reports),
 * so that a test can check the workload was real.
 */
static long
writers_transactions(const scene *sc)
{
	long		total = 0;

	for (int i = 0; i < sc->n_writers; i++)
	{
		char	   *log = tp_read_file(sc->writers[i].log);
		const char *p = log ? strstr(log, "number of transactions actually processed: ") : NULL;

		if (p != NULL)
			total += atol(p + strlen("number of transactions actually processed: "));
		free(log);
	}
	return total;
}

/*
 * Wait until src's capture is ready: every table of schema has its
 * triggers and the queue knows n_targets targets.
 */
static void
wait_capture(const scene *sc, const inst *src, const char *schema, int n_targets)
{
	for (int i = 0; i < 300; i++)
	{
		char	   *ok = query_valuef(src->cl, src->db,
									  "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = '%s')"
									  " = (SELECT count(DISTINCT t.tgrelid) FROM pg_trigger t"
									  "    JOIN pg_class c ON c.oid = t.tgrelid"
									  "    JOIN pg_namespace n ON n.oid = c.relnamespace"
									  "    WHERE n.nspname = '%s' AND t.tgname = 'teleport_capture_truncate')"
									  " AND to_regclass('teleport.target') IS NOT NULL",
									  schema, schema);
		bool		done = strcmp(ok, "t") == 0;

		free(ok);
		if (done)
		{
			ok = query_valuef(src->cl, src->db,
							  "SELECT count(*) = %d FROM teleport.target", n_targets);
			done = strcmp(ok, "t") == 0;
			free(ok);
			if (done)
				return;
		}
		usleep(100000);
	}
	scene_fail(sc, "capture was never installed");
}

/*
 * Write marker label on src (its public.marker) and wait until tgt has it
 * in schema.marker (up to timeout_s).
 */
static void
wait_marker(const scene *sc, const inst *src, const char *src_schema,
			const inst *tgt, const char *schema, const char *label, int timeout_s)
{
	char		sql[512];

	exec_sqlf(src->cl, src->db, "INSERT INTO %s.marker (label) VALUES ('%s')",
			  src_schema, label);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.marker WHERE label = '%s'",
			 schema, label);
	for (int i = 0; i < timeout_s * 10; i++)
	{
		char	   *n = query_value_opt(tgt->cl, tgt->db, sql, true);
		bool		done = n != NULL && strcmp(n, "1") == 0;

		free(n);
		if (done)
			return;
		usleep(100000);
	}
	{
		char		msg[256];

		snprintf(msg, sizeof(msg), "marker %s from %s never reached %s.marker on %s",
				 label, src->name, schema, tgt->name);
		scene_fail(sc, msg);
	}
}

/*
 * Create tables ddl (unqualified names) in schema of in's database
 * (created when missing).
 */
static void
create_tables(const inst *in, const char *schema, const char *ddl)
{
	exec_sqlf(in->cl, in->db, "CREATE SCHEMA IF NOT EXISTS %s; SET search_path = %s; %s",
			  schema, schema, ddl);
}

/*
 * pgbench's tables with scale 1 on src (public), the history table with a
 * primary key, and the same tables with the same rows in schema of each
 * target (NULL-terminated).
 */
static void
pgbench_setup(const inst *src, const inst *const *targets, const char *const *schemas)
{
	static const char *const tables[] = {
		"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history", NULL
	};

	pgbench_run(src, "-i", "-q", "-s", "1", (char *) NULL);
	exec_sqlf(src->cl, src->db,
			  "ALTER TABLE public.pgbench_history ADD COLUMN hid bigserial PRIMARY KEY");
	for (int t = 0; targets[t] != NULL; t++)
	{
		/* the tables only (d: drop, t: create, p: primary keys) */
		pgbench_run(targets[t], "-i", "-q", "-I", "dtp", "-s", "1", (char *) NULL);
		exec_sqlf(targets[t]->cl, targets[t]->db,
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

/*
 * Table a_schema.table on a and b_schema.table on b hold the same rows:
 * the same count and order-independent checksum of the rows' text, and
 * (b's rows copied into a's database) nothing in EXCEPT ALL either way.
 * Returns the row count.
 */
static long
compare_table(const scene *sc, const inst *a, const char *a_schema,
			  const inst *b, const char *b_schema, const char *table)
{
	char	   *sum_a;
	char	   *sum_b;
	char	   *diff;
	char		sel[512];
	char		copy_name[256];
	long		rows;
	static const char sum_sql[] =
		"SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' "
		"ORDER BY md5(t::text))), '-') FROM %s.%s t";

	sum_a = query_valuef(a->cl, a->db, sum_sql, a_schema, table);
	sum_b = query_valuef(b->cl, b->db, sum_sql, b_schema, table);
	rows = atol(sum_a);

	snprintf(copy_name, sizeof(copy_name), "tp_cmp.%s_%s", b->name, table);
	exec_sqlf(a->cl, a->db,
			  "CREATE SCHEMA IF NOT EXISTS tp_cmp; DROP TABLE IF EXISTS %s;"
			  "CREATE TABLE %s (LIKE %s.%s)", copy_name, copy_name, a_schema, table);
	snprintf(sel, sizeof(sel), "SELECT * FROM %s.%s", b_schema, table);
	tp_cluster_copy_rows(b->cl, b->db, sel, a->cl, a->db, copy_name);
	diff = query_valuef(a->cl, a->db,
						"SELECT count(*) || coalesce(E'\\n' || string_agg(side || ' ' || left(r, 300), E'\\n')"
						" FILTER (WHERE n <= 6), '') FROM ("
						" SELECT side, r, row_number() OVER () AS n FROM ("
						"  (SELECT 'only in %s:' AS side, t::text AS r FROM %s.%s t"
						"   EXCEPT ALL SELECT 'only in %s:', t::text FROM %s t)"
						"  UNION ALL"
						"  (SELECT 'only in %s:', t::text FROM %s t"
						"   EXCEPT ALL SELECT 'only in %s:', t::text FROM %s.%s t)) d) e",
						a->name, a_schema, table, a->name, copy_name,
						b->name, copy_name, b->name, a_schema, table);
	if (strcmp(sum_a, sum_b) != 0 || strcmp(diff, "0") != 0)
	{
		char	   *msg = NULL;

		ck_assert_int_ge(asprintf(&msg, "%s.%s on %s and %s.%s on %s differ: "
								  "count/checksum %s vs %s; rows in EXCEPT ALL: %s",
								  a_schema, table, a->name, b_schema, table, b->name,
								  sum_a, sum_b, diff), 0);
		scene_fail(sc, msg);
	}
	free(sum_a);
	free(sum_b);
	free(diff);
	return rows;
}

/*
 * Compare every table of tables (NULL-terminated) between a and b.
 * Returns the total row count.
 */
static long
compare_all(const scene *sc, const inst *a, const char *a_schema,
			const inst *b, const char *b_schema, const char *const *tables)
{
	long		total = 0;

	for (int i = 0; tables[i] != NULL; i++)
		total += compare_table(sc, a, a_schema, b, b_schema, tables[i]);
	return total;
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
full_scene(scene *sc, const char *prefix, tp_cluster *tgt_cl, inst **src_out,
		   inst **tgt_out)
{
	char		db[64];
	char		targets[2048] = "";
	inst	   *src;
	inst	   *tgt;
	const inst *tgts[2];
	static const char *const schemas[] = {"rep", NULL};

	scene_init(sc);
	snprintf(db, sizeof(db), "%s_src", prefix);
	src = scene_inst(sc, "src", cluster, db, false);
	snprintf(db, sizeof(db), "%s_tgt", prefix);
	tgt = scene_inst(sc, "tgt", tgt_cl, db, true);
	tgts[0] = tgt;
	tgts[1] = NULL;
	pgbench_setup(src, tgts, schemas);
	create_tables(src, "public", TABLES_DDL EDGE_DDL
				  "INSERT INTO shift SELECT g, g FROM generate_series(1, 50) g;");
	create_tables(tgt, "rep", TABLES_DDL EDGE_DDL);
	tp_cluster_copy_rows(src->cl, src->db, "SELECT * FROM public.shift", tgt->cl, tgt->db, "rep.shift");

	inst_configure(sc, tgt, NULL, 500);
	add_target(targets, sizeof(targets), tgt, "\"public.*\"", "rep");
	inst_configure(sc, src, targets, 500);
	*src_out = src;
	*tgt_out = tgt;
}

/*
 * Wait (up to 20 s) until the target's sequence rep.name is no lower than
 * the source's public.name: sequences are polled and sent on their own.
 */
static void
wait_sequence(const scene *sc, const inst *src, const inst *tgt, const char *name)
{
	char	   *want = query_valuef(src->cl, src->db, "SELECT last_value FROM public.%s", name);

	for (int i = 0; i < 200; i++)
	{
		char	   *ok = query_valuef(tgt->cl, tgt->db,
									  "SELECT last_value >= %s FROM rep.%s", want, name);
		bool		done = strcmp(ok, "t") == 0;

		free(ok);
		if (done)
		{
			free(want);
			return;
		}
		usleep(100000);
	}
	{
		char		msg[256];

		snprintf(msg, sizeof(msg), "the target's sequence rep.%s stays behind the source's %s",
				 name, want);
		scene_fail(sc, msg);
	}
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
	inst	   *src;
	inst	   *tgt;
	long		rows;
	char	   *ok;

	full_scene(&sc, "mx", cluster, &src, &tgt);
	inst_start(&sc, tgt);
	inst_start(&sc, src);
	wait_capture(&sc, src, "public", 1);

	writer_start(&sc, src, NULL, 4, 10, 0, 0);
	writer_start(&sc, src, sc.mix_path, 2, 10, 1000000, 150);
	writer_start(&sc, src, sc.edge_path, 1, 10, 0, 40);
	writers_wait(&sc);
	ck_assert_int_gt(writers_transactions(&sc), 2000);
	wait_marker(&sc, src, "public", tgt, "rep", "mixed-done", 90);

	rows = compare_all(&sc, src, "public", tgt, "rep", all_tables);
	ck_assert_int_gt(rows, 100000);
	/* the workload did reach every kind of row */
	ok = query_valuef(src->cl, src->db,
					  "SELECT (SELECT count(*) FROM public.mix WHERE f = 'NaN') > 0"
					  " AND (SELECT count(*) FROM public.mix WHERE id % 10000 > 5000) > 0"
					  " AND (SELECT count(*) FROM public.comp WHERE a < 0) > 0"
					  " AND (SELECT sum(v) FROM public.shift) > 1275"
					  " AND (SELECT count(*) FROM public.trunc WHERE v = 'after truncate') = 1"
					  " AND (SELECT count(*) FROM public.pgbench_history) > 1000");
	ck_assert_msg(strcmp(ok, "t") == 0, "the workload missed a kind of change");
	free(ok);

	/* sequences were set forward: the target's are no lower */
	wait_sequence(&sc, src, tgt, "pgbench_history_hid_seq");
	wait_sequence(&sc, src, tgt, "trunc_id_seq");

	inst_stop(&sc, src);
	inst_stop(&sc, tgt);
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
	inst	   *src;
	inst	   *tgt;

	ck_assert_msg(cluster2 != NULL, "the second cluster did not start");
	full_scene(&sc, "cr", cluster2, &src, &tgt);
	inst_start(&sc, tgt);
	inst_start(&sc, src);
	wait_capture(&sc, src, "public", 1);

	writer_start(&sc, src, NULL, 4, 12, 0, 300);
	writer_start(&sc, src, sc.mix_path, 2, 12, 1000000, 100);
	writer_start(&sc, src, sc.edge_path, 1, 12, 0, 30);

	sleep(2);
	inst_kill(tgt);
	usleep(500000);
	inst_start(&sc, tgt);

	sleep(1);
	cluster_crash(cluster2);
	sleep(1);
	ck_assert(tp_cluster_restart(cluster2));

	sleep(1);
	inst_kill(src);
	usleep(500000);
	inst_start(&sc, src);

	/* and the target database is shut down cleanly once more */
	sleep(1);
	ck_assert(tp_cluster_stop(cluster2));
	sleep(1);
	ck_assert(tp_cluster_restart(cluster2));

	writers_wait(&sc);
	ck_assert_int_gt(writers_transactions(&sc), 1500);
	wait_marker(&sc, src, "public", tgt, "rep", "crash-done", 120);
	ck_assert_int_gt(compare_all(&sc, src, "public", tgt, "rep", all_tables), 100000);

	inst_stop(&sc, src);
	inst_stop(&sc, tgt);
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
	inst	   *src;
	inst	   *t1;
	inst	   *t2;
	char		targets[4096] = "";
	char	   *n;
	static const char *const t2_tables[] = {"comp", "marker", NULL};

	scene_init(&sc);
	src = scene_inst(&sc, "src", cluster, "tt_src", false);
	t1 = scene_inst(&sc, "t1", cluster, "tt_t1", true);
	t2 = scene_inst(&sc, "t2", cluster, "tt_t2", true);
	create_tables(src, "public", TABLES_DDL);
	create_tables(t1, "t1", TABLES_DDL);
	/* t2 also has a mix table, which must not be written */
	create_tables(t2, "t2", TABLES_DDL);
	inst_configure(&sc, t1, NULL, 500);
	inst_configure(&sc, t2, NULL, 500);
	add_target(targets, sizeof(targets), t1, "\"public.*\"", "t1");
	add_target(targets, sizeof(targets), t2, "[\"public.comp\", \"public.mark*\"]", "t2");
	inst_configure(&sc, src, targets, 500);
	inst_start(&sc, t1);
	inst_start(&sc, t2);
	inst_start(&sc, src);
	wait_capture(&sc, src, "public", 2);

	writer_start(&sc, src, sc.mix_path, 3, 4, 1000000, 150);
	writers_wait(&sc);
	wait_marker(&sc, src, "public", t1, "t1", "two-done", 60);
	wait_marker(&sc, src, "public", t2, "t2", "two-done-2", 60);

	ck_assert_int_gt(compare_all(&sc, src, "public", t1, "t1", mix_tables), 200);
	ck_assert_int_gt(compare_all(&sc, src, "public", t2, "t2", t2_tables), 50);
	n = query_valuef(t2->cl, t2->db, "SELECT count(*) FROM t2.mix");
	ck_assert_msg(strcmp(n, "0") == 0, "t2.mix got %s rows outside its target_expression", n);
	free(n);

	inst_stop(&sc, src);
	inst_stop(&sc, t1);
	inst_stop(&sc, t2);
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
queue_origins(const inst *in)
{
	return query_valuef(in->cl, in->db,
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
	inst	   *a;
	inst	   *b;
	inst	   *c;
	char		targets[4096] = "";
	char	   *spool;
	char	   *origins;
	long		spooled;

	scene_init(&sc);
	a = scene_inst(&sc, "A", cluster, "ch_a", false);
	b = scene_inst(&sc, "B", cluster, "ch_b", true);
	c = scene_inst(&sc, "C", cluster, "ch_c", true);
	create_tables(a, "public", TABLES_DDL);
	create_tables(b, "b", TABLES_DDL);
	create_tables(c, "c", TABLES_DDL);
	ck_assert_int_ge(asprintf(&spool, "%s/spool", sc.dir), 0);

	inst_configure(&sc, c, NULL, 500);
	add_target(targets, sizeof(targets), c, "\"b.*\"", "c");
	{
		size_t		used = strlen(targets);

		snprintf(targets + used, sizeof(targets) - used,
				 "  spool:\n"
				 "    target_expression: \"b.*\"\n"
				 "    apply_schema: \"c\"\n"
				 "    transport: file\n"
				 "    options:\n"
				 "      directory: \"%s\"\n", spool);
	}
	inst_configure(&sc, b, targets, 500);
	targets[0] = '\0';
	add_target(targets, sizeof(targets), b, "\"public.*\"", "b");
	inst_configure(&sc, a, targets, 500);

	inst_start(&sc, c);
	inst_start(&sc, b);
	inst_start(&sc, a);
	wait_capture(&sc, a, "public", 1);
	wait_capture(&sc, b, "b", 2);

	writer_start(&sc, a, sc.mix_path, 2, 4, 1000000, 150);
	writers_wait(&sc);
	wait_marker(&sc, a, "public", c, "c", "chain-done", 90);

	ck_assert_int_gt(compare_all(&sc, a, "public", b, "b", mix_tables), 200);
	ck_assert_int_gt(compare_all(&sc, a, "public", c, "c", mix_tables), 200);

	/* B's queue: every event was applied from A, none is B's own */
	origins = queue_origins(b);
	ck_assert_msg(atol(origins) > 0 && tp_contains(origins, " 0 A") &&
				  !tp_contains(origins, " B") && !tp_contains(origins, " C"),
				  "B's queue events (total, own, origins): %s", origins);
	free(origins);
	/* what B forwards names A as the origin (the spool got it all) */
	for (int i = 0; i < 100; i++)
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
		ck_assert_msg(i < 99, "the marker never reached B's spool target");
		usleep(100000);
	}
	spooled = spool_origins(spool, "B", "A");
	ck_assert_int_gt(spooled, 200);

	inst_stop(&sc, a);
	inst_stop(&sc, b);
	inst_stop(&sc, c);
	free(spool);
	scene_free(&sc);
}
END_TEST

/*
 * The progress counters of in: its targets' next seqs and its inbox
 * streams' received and applied seqs, as a new string.
 */
static char *
progress(const inst *in)
{
	return query_valuef(in->cl, in->db,
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
	inst	   *x;
	inst	   *y;
	char		targets[2048] = "";
	char	   *before_x;
	char	   *before_y;
	char	   *after_x;
	char	   *after_y;
	inst	   *pair[2];

	scene_init(&sc);
	x = scene_inst(&sc, "X", cluster, "bi_x", true);
	y = scene_inst(&sc, "Y", cluster, "bi_y", true);
	create_tables(x, "public", TABLES_DDL);
	create_tables(y, "public", TABLES_DDL);
	/* vacuum seldom: sent batches and events stay to be counted */
	add_target(targets, sizeof(targets), y, "\"public.*\"", "public");
	inst_configure(&sc, x, targets, 600000);
	targets[0] = '\0';
	add_target(targets, sizeof(targets), x, "\"public.*\"", "public");
	inst_configure(&sc, y, targets, 600000);
	inst_start(&sc, x);
	inst_start(&sc, y);
	wait_capture(&sc, x, "public", 1);
	wait_capture(&sc, y, "public", 1);

	writer_start(&sc, x, sc.mix_path, 2, 4, 1000000, 100);
	writer_start(&sc, y, sc.mix_path, 2, 4, 2000000, 100);
	writers_wait(&sc);
	wait_marker(&sc, x, "public", y, "public", "from-x", 60);
	wait_marker(&sc, y, "public", x, "public", "from-y", 60);
	ck_assert_int_gt(compare_all(&sc, x, "public", y, "public", mix_tables), 400);

	pair[0] = x;
	pair[1] = y;
	for (int i = 0; i < 2; i++)
	{
		inst	   *me = pair[i];
		inst	   *peer = pair[1 - i];
		char	   *origins = queue_origins(me);
		char	   *sent;
		char	   *expect;
		long		total = atol(origins);
		long		own = atol(strchr(origins, ' ') + 1);

		/* the queue has own changes and the peer's, named after it */
		snprintf(targets, sizeof(targets), "%ld %ld %s", total, own, peer->name);
		ck_assert_msg(own > 0 && total > own && strcmp(origins, targets) == 0,
					  "%s's queue events (total, own, origins): %s", me->name, origins);
		free(origins);
		/* the batches to the peer carry exactly the own changes */
		sent = query_valuef(me->cl, me->db,
							"SELECT coalesce(sum(n_events), 0) FROM teleport.batch WHERE target = '%s'",
							peer->name);
		ck_assert_msg(atol(sent) == own, "%s sent %s changes to %s but made %ld itself",
					  me->name, sent, peer->name, own);
		free(sent);
		/* and the peer received all of them */
		sent = query_valuef(me->cl, me->db,
							"SELECT next_seq - 1 FROM teleport.target WHERE name = '%s'", peer->name);
		expect = query_valuef(peer->cl, peer->db,
							  "SELECT last_received || ' ' || last_applied FROM teleport.inbox_stream"
							  " WHERE source = '%s'", me->name);
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

	inst_stop(&sc, x);
	inst_stop(&sc, y);
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
