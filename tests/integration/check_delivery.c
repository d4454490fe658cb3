/*
 * check_delivery.c
 *     Delivery end to end over the http transport, with real processes: a
 *     source teleport captures and sends, a target teleport receives into
 *     its durable inbox. Processes are killed on purpose (SIGKILL) at
 *     awkward moments; afterwards the target's inbox must hold exactly the
 *     sequence the source produced: seqs 1..n, none twice, and replaying it
 *     gives the source's tables.
 *
 *     The target runs the test applier (it applies nothing), so that what is
 *     checked here is the hand-off alone.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "deadline.h"
#include "clock.h"
#include "pgcluster.h"
#include "runcmd.h"

static tp_cluster *cluster;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* A teleport process under test, with its config and logs. */
typedef struct proc
{
	char	   *config;
	char	   *out;
	char	   *log;
	pid_t		pid;
} proc;

/* A test's scene: a temp dir, the databases, the processes. */
typedef struct scene
{
	char	   *dir;
	int			port;			/* the target's HTTP port */
	proc		target;
	proc		sources[2];
} scene;

/* A free port on the loopback, or the test fails. */
static int
free_port(void)
{
	int			port = tp_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

/* Run sql in database db; fails the test on error. */
static void
exec_sql(const char *db, const char *sql)
{
	ck_assert_msg(tp_cluster_exec(cluster, db, sql), "SQL failed in %s: %s", db, sql);
}

/* One value of a query in db, as a new string. */
static char *
query_value(const char *db, const char *sql)
{
	PGconn	   *conn = tp_cluster_connect(cluster, db);
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

/* Write text as dir/name.yml and set up p's file names. */
static void
proc_prepare(proc *p, const char *dir, const char *name, const char *text)
{
	char		file[256];

	snprintf(file, sizeof(file), "%s.yml", name);
	p->config = tp_write_file(dir, file, text);
	ck_assert_ptr_nonnull(p->config);
	p->out = malloc(strlen(dir) + strlen(name) + 8);
	p->log = malloc(strlen(dir) + strlen(name) + 8);
	sprintf(p->out, "%s/%s.out", dir, name);
	sprintf(p->log, "%s/%s.log", dir, name);
	p->pid = 0;
}

/* Start (or restart) the process with extra environment settings env. */
static void
proc_start_env(proc *p, char *const env[])
{
	char		dirs[4096];
	char	   *argv[6];

	snprintf(dirs, sizeof(dirs), "%s:%s/good", getenv("TELEPORT_PLUGIN_DIR"),
			 getenv("TP_TEST_PLUGINS"));
	argv[0] = getenv("TELEPORT_BIN");
	argv[1] = "-config";
	argv[2] = p->config;
	argv[3] = "--plugin-dir";
	argv[4] = dirs;
	argv[5] = NULL;
	p->pid = tp_spawn_split(argv, env, p->out, p->log);
	ck_assert_int_gt(p->pid, 0);
}

/* Start (or restart) the process. */
static void
proc_start(proc *p)
{
	proc_start_env(p, NULL);
}

/* Kill the process hard, as a crash would. */
static void
proc_kill(proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	tp_wait_exit(p->pid, 10);
	p->pid = 0;
}

/* Stop it with SIGTERM: it must exit 0. */
static void
proc_stop(proc *p)
{
	int			status;

	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	status = tp_wait_exit(p->pid, 30);
	if (status < 0)
		kill(p->pid, SIGKILL);
	p->pid = 0;
	if (status != 0)
	{
		char	   *log = tp_read_file(p->log);

		ck_abort_msg("%s exited with %d; log:\n%s", p->config, status, log);
	}
}

/* Free what p holds (killing it if it still runs). */
static void
proc_free(proc *p)
{
	proc_kill(p);
	free(p->config);
	free(p->out);
	free(p->log);
}

/*
 * The scene: a target instance on database tgt_db with an http server, and
 * n_sources source instances (names src1, src2) on databases src_dbs,
 * each with a table public.items and public.marker, sending to it.
 */
static void
scene_prepare(scene *sc, const char *tgt_db, const char *const *src_dbs,
			  int n_sources, const char *extra_target_yaml)
{
	char		text[4096];
	char	   *conninfo;

	memset(sc, 0, sizeof(*sc));
	sc->dir = tp_make_temp_dir("tp-delivery");
	ck_assert_ptr_nonnull(sc->dir);
	sc->port = free_port();
	conninfo = tp_cluster_create_db(cluster, tgt_db);
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	snprintf(text, sizeof(text),
			 "processing_intervals:\n"
			 "  applier: 50\n"
			 "database:\n"
			 "  name: \"tgt\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"postgres\"\n"
			 "server:\n"
			 "  hostname: \"127.0.0.1\"\n"
			 "  port: %d\n"
			 "  token: \"s3cret-token\"\n"
			 "applier: testapplier\n",
			 tgt_db, cluster->dir, cluster->port, sc->port);
	proc_prepare(&sc->target, sc->dir, "target", text);

	for (int i = 0; i < n_sources; i++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "src%d", i + 1);
		conninfo = tp_cluster_create_db(cluster, src_dbs[i]);
		ck_assert_ptr_nonnull(conninfo);
		free(conninfo);
		exec_sql(src_dbs[i], "CREATE TABLE public.items (id int PRIMARY KEY, v text, n numeric);"
				 "CREATE TABLE public.marker (label text PRIMARY KEY)");
		snprintf(text, sizeof(text),
				 "replicate_ddl: false\n"
				 "max_events_per_batch: 50\n"
				 "processing_intervals:\n"
				 "  batcher: 50\n"
				 "  transmitter: 50\n"
				 "  ddlwatcher: 200\n"
				 "database:\n"
				 "  name: \"%s\"\n"
				 "  database: \"%s\"\n"
				 "  hostname: \"%s\"\n"
				 "  port: %d\n"
				 "  username: \"postgres\"\n"
				 "targets:\n"
				 "  tgt:\n"
				 "    target_expression: \"public.*\"\n"
				 "    apply_schema: \"copy\"\n"
				 "    endpoint:\n"
				 "      hostname: \"127.0.0.1\"\n"
				 "      port: %d\n"
				 "      token: \"s3cret-token\"\n"
				 "%s",
				 name, src_dbs[i], cluster->dir, cluster->port, sc->port,
				 extra_target_yaml ? extra_target_yaml : "");
		proc_prepare(&sc->sources[i], sc->dir, name, text);
	}
}

/* Free the scene and remove its files. */
static void
scene_free(scene *sc)
{
	proc_free(&sc->target);
	for (int i = 0; i < 2; i++)
	{
		if (sc->sources[i].config != NULL)
			proc_free(&sc->sources[i]);
	}
	tp_remove_tree(sc->dir);
	free(sc->dir);
}

/* Wait until the capture trigger of db's public.items exists. */
static void
wait_for_capture(const char *db, const proc *p)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *n = query_value(db, "SELECT count(*) FROM pg_trigger WHERE tgname = 'teleport_capture'");
		bool		done = strcmp(n, "2") == 0;

		free(n);
		if (done)
			return;
		usleep(100000);
	}
	{
		char	   *log = tp_read_file(p->log);

		ck_abort_msg("capture never installed in %s; log:\n%s", db, log);
	}
}

/* Write n single-row transactions on db, numbered from first. */
static void
write_rows(const char *db, int first, int n)
{
	PGconn	   *conn = tp_cluster_connect(cluster, db);

	ck_assert_ptr_nonnull(conn);
	for (int i = first; i < first + n; i++)
	{
		char		sql[256];
		PGresult   *res;

		snprintf(sql, sizeof(sql),
				 "INSERT INTO public.items VALUES (%d, 'v%d', %d.12345678901234567890123);"
				 "UPDATE public.items SET v = v || '+' WHERE id = %d",
				 i, i, i, i / 2 > 0 ? i / 2 : 1);
		res = PQexec(conn, sql);
		ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(conn));
		PQclear(res);
	}
	PQfinish(conn);
}

/*
 * Write a marker on db and wait until the target's inbox holds it from
 * source (up to timeout_s).
 */
static void
drain(const scene *sc, const char *tgt_db, const char *db, const char *source,
	  const char *label, int timeout_s)
{
	char		sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO public.marker VALUES ('%s')", label);
	exec_sql(db, sql);
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM teleport.inbox WHERE source = '%s' "
			 "AND data LIKE '%%\"label\":\"%s\"%%'", source, label);
	for (double end = tp_deadline(timeout_s); tp_before(end);)
	{
		char	   *n;
		bool		done;

		/* the inbox schema exists once the first batch arrived */
		n = query_value(tgt_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'teleport' AND tablename = 'inbox'");
		done = strcmp(n, "1") == 0;
		free(n);
		if (done)
		{
			n = query_value(tgt_db, sql);
			done = strcmp(n, "1") == 0;
			free(n);
			if (done)
				return;
		}
		usleep(100000);
	}
	{
		char	   *slog = tp_read_file(sc->sources[0].log);
		char	   *tlog = tp_read_file(sc->target.log);

		ck_abort_msg("marker %s of %s never reached the inbox\nsource log:\n%s\ntarget log:\n%s",
					 label, source, slog, tlog);
	}
}

/*
 * The inbox of tgt_db holds exactly the batches source made on src_db:
 * seqs 1..n once each, n being the source's last batch, and replaying
 * the inbox's data into copy tables gives the source's tables.
 */
static void
assert_inbox_exact(const char *tgt_db, const char *src_db, const char *source)
{
	char		sql[1024];
	char	   *made;
	char	   *got;
	PGconn	   *conn;
	PGresult   *res;
	PGconn	   *src;

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) || '/' || coalesce(min(seq), 0) || '/' || coalesce(max(seq), 0) "
			 "|| '/' || count(DISTINCT seq) FROM teleport.inbox WHERE source = '%s'", source);
	got = query_value(tgt_db, sql);
	/* acknowledged batches are forgotten; the numbering stays */
	made = query_value(src_db, "SELECT (next_seq - 1) || '/1/' || (next_seq - 1) || '/' || (next_seq - 1) "
					   "FROM teleport.target WHERE name = 'tgt'");
	ck_assert_msg(strcmp(got, made) == 0, "inbox of %s has count/min/max/distinct %s, the source made %s",
				  source, got, made);
	free(got);
	free(made);

	/* replay the inbox into copies on the source's database and compare */
	conn = tp_cluster_connect(cluster, tgt_db);
	src = tp_cluster_connect(cluster, src_db);
	ck_assert_ptr_nonnull(conn);
	ck_assert_ptr_nonnull(src);
	res = PQexec(src, "DROP SCHEMA IF EXISTS copy CASCADE; CREATE SCHEMA copy;"
				 "CREATE TABLE copy.items (LIKE public.items INCLUDING ALL);"
				 "CREATE TABLE copy.marker (LIKE public.marker INCLUDING ALL)");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	snprintf(sql, sizeof(sql),
			 "SELECT data, n_changes, seq FROM teleport.inbox WHERE source = '%s' ORDER BY seq", source);
	res = PQexec(conn, sql);
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	for (int r = 0; r < PQntuples(res); r++)
	{
		tp_batch	batch = {.size = sizeof(tp_batch), .format = TELEPORT_BATCH_FORMAT};
		tp_change_cursor cursor = {.size = sizeof(cursor)};
		tp_change	c;
		char		reason[256];

		batch.data = PQgetvalue(res, r, 0);
		batch.data_len = (size_t) PQgetlength(res, r, 0);
		batch.n_changes = strtoull(PQgetvalue(res, r, 1), NULL, 10);
		batch.seq = strtoull(PQgetvalue(res, r, 2), NULL, 10);
		for (;;)
		{
			const char *params[1];
			char		stmt[512];
			PGresult   *ar;

			ck_assert_msg(tp_change_next(&batch, &cursor, &c, reason, sizeof(reason)) == TP_OK,
						  "%s", reason);
			if (c.size == 0)
				break;
			ck_assert_str_eq(c.origin, source);
			if (c.before != NULL)
			{
				snprintf(stmt, sizeof(stmt),
						 "DELETE FROM copy.%s t USING json_populate_record(NULL::copy.%s, $1::json) k "
						 "WHERE (SELECT bool_and(to_jsonb(t) -> key = to_jsonb(k) -> key) "
						 "FROM json_object_keys($1::json) key)", c.table, c.table);
				params[0] = c.before;
				ar = PQexecParams(src, stmt, 1, NULL, params, NULL, NULL, 0);
				ck_assert_msg(PQresultStatus(ar) == PGRES_COMMAND_OK, "%s", PQerrorMessage(src));
				PQclear(ar);
			}
			if (c.after != NULL)
			{
				snprintf(stmt, sizeof(stmt),
						 "INSERT INTO copy.%s SELECT * FROM json_populate_record(NULL::copy.%s, $1::json)",
						 c.table, c.table);
				params[0] = c.after;
				ar = PQexecParams(src, stmt, 1, NULL, params, NULL, NULL, 0);
				ck_assert_msg(PQresultStatus(ar) == PGRES_COMMAND_OK, "%s", PQerrorMessage(src));
				PQclear(ar);
			}
		}
		tp_change_cursor_done(&cursor);
	}
	PQclear(res);
	PQfinish(conn);
	PQfinish(src);
	got = query_value(src_db, "SELECT count(*) FROM ((TABLE public.items EXCEPT ALL TABLE copy.items) "
					  "UNION ALL (TABLE copy.items EXCEPT ALL TABLE public.items)) d");
	ck_assert_msg(strcmp(got, "0") == 0, "%s rows differ after replaying the inbox of %s", got, source);
	free(got);
}

START_TEST(test_in_order_with_crashes)
{
	static const char *const dbs[] = {"dl_src", NULL};
	scene		sc;

	scene_prepare(&sc, "dl_tgt", dbs, 1, NULL);
	proc_start(&sc.target);
	proc_start(&sc.sources[0]);
	wait_for_capture("dl_src", &sc.sources[0]);
	write_rows("dl_src", 1, 100);
	drain(&sc, "dl_tgt", "dl_src", "src1", "first", 60);

	/* the target dies while batches flow, before or after its commits */
	write_rows("dl_src", 101, 100);
	proc_kill(&sc.target);
	write_rows("dl_src", 201, 50);
	proc_start(&sc.target);
	drain(&sc, "dl_tgt", "dl_src", "src1", "after-target-crash", 60);

	/* the source dies mid-send and comes back */
	write_rows("dl_src", 251, 100);
	usleep(150000);
	proc_kill(&sc.sources[0]);
	write_rows("dl_src", 351, 20);
	proc_start(&sc.sources[0]);
	drain(&sc, "dl_tgt", "dl_src", "src1", "after-source-crash", 60);

	/* the network is cut for a while: connection refused */
	proc_stop(&sc.target);
	write_rows("dl_src", 371, 30);
	sleep(2);
	proc_start(&sc.target);
	drain(&sc, "dl_tgt", "dl_src", "src1", "after-outage", 90);

	proc_stop(&sc.sources[0]);
	proc_stop(&sc.target);
	assert_inbox_exact("dl_tgt", "dl_src", "src1");
	scene_free(&sc);
}
END_TEST

/*
 * The target commits a batch and dies before it answers, then another dies
 * before it stores: the source resends both, the first is recognised as a
 * repeat, and the inbox holds each once.
 */
START_TEST(test_crash_around_the_commit)
{
	static const char *const dbs[] = {"cc_src", NULL};
	scene		sc;
	char	   *after[] = {"TELEPORT_TEST_EXIT_AFTER_STORE=2", NULL};
	char	   *before[] = {"TELEPORT_TEST_EXIT_BEFORE_STORE=4", NULL};
	char	   *log;

	scene_prepare(&sc, "cc_tgt", dbs, 1, NULL);
	proc_start_env(&sc.target, after);
	proc_start(&sc.sources[0]);
	wait_for_capture("cc_src", &sc.sources[0]);
	/* one transaction per batch: each commit is its own tick range */
	for (int i = 1; i <= 6; i++)
	{
		write_rows("cc_src", i, 1);
		usleep(300000);
		if (i == 2)
		{
			/* batch 2 is stored, then the target exits without an answer */
			ck_assert_int_eq(tp_wait_exit(sc.target.pid, 30), 75);
			sc.target.pid = 0;
			proc_start_env(&sc.target, before);
		}
		if (i == 4)
		{
			ck_assert_int_eq(tp_wait_exit(sc.target.pid, 30), 75);
			sc.target.pid = 0;
			proc_start(&sc.target);
		}
	}
	drain(&sc, "cc_tgt", "cc_src", "src1", "crash-done", 60);
	proc_stop(&sc.sources[0]);
	proc_stop(&sc.target);
	log = tp_read_file(sc.target.log);
	ck_assert_msg(tp_contains(log, "TELEPORT_TEST_EXIT_AFTER_STORE=2: exiting without an answer") &&
				  tp_contains(log, "TELEPORT_TEST_EXIT_BEFORE_STORE=4: exiting without an answer"),
				  "log:\n%s", log);
	free(log);
	assert_inbox_exact("cc_tgt", "cc_src", "src1");
	scene_free(&sc);
}
END_TEST

START_TEST(test_two_sources_one_target)
{
	static const char *const dbs[] = {"fan_src1", "fan_src2", NULL};
	scene		sc;

	scene_prepare(&sc, "fan_tgt", dbs, 2, NULL);
	proc_start(&sc.target);
	proc_start(&sc.sources[0]);
	proc_start(&sc.sources[1]);
	wait_for_capture("fan_src1", &sc.sources[0]);
	wait_for_capture("fan_src2", &sc.sources[1]);
	write_rows("fan_src1", 1, 60);
	write_rows("fan_src2", 1, 80);
	drain(&sc, "fan_tgt", "fan_src1", "src1", "fan1", 60);
	drain(&sc, "fan_tgt", "fan_src2", "src2", "fan2", 60);
	proc_stop(&sc.sources[0]);
	proc_stop(&sc.sources[1]);
	proc_stop(&sc.target);
	assert_inbox_exact("fan_tgt", "fan_src1", "src1");
	assert_inbox_exact("fan_tgt", "fan_src2", "src2");
	scene_free(&sc);
}
END_TEST

START_TEST(test_one_target_down_others_go_on)
{
	static const char *const dbs[] = {"two_src", NULL};
	scene		sc;
	char	   *spool;
	char		extra[1024];
	char	   *log;

	/* a second target through the file transport; the http one stays down */
	scene_prepare(&sc, "two_tgt", dbs, 1, NULL);
	spool = malloc(strlen(sc.dir) + 8);
	sprintf(spool, "%s/spool", sc.dir);
	snprintf(extra, sizeof(extra),
			 "  spooled:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: \"copy\"\n"
			 "    transport: file\n"
			 "    options:\n"
			 "      directory: \"%s\"\n", spool);
	{
		/* append the second target to the source's config */
		char	   *text = tp_read_file(sc.sources[0].config);
		char	   *full = malloc(strlen(text) + strlen(extra) + 1);
		char	   *path;

		strcpy(full, text);
		strcat(full, extra);
		path = tp_write_file(sc.dir, "src1.yml", full);
		free(path);
		free(full);
		free(text);
	}
	proc_start(&sc.sources[0]);
	wait_for_capture("two_src", &sc.sources[0]);
	write_rows("two_src", 1, 40);
	exec_sql("two_src", "INSERT INTO public.marker VALUES ('spooled-done')");
	/* the file target gets everything although the http target is down */
	for (double end = tp_deadline(120);;)
	{
		char		cmd[4352];
		char	   *argv[] = {"/bin/sh", "-c", cmd, NULL};
		tp_cmd_result res;
		bool		found;

		snprintf(cmd, sizeof(cmd), "cat '%s'/*.batch 2>/dev/null | grep -c spooled-done", spool);
		ck_assert(tp_run_cmd(argv, NULL, 10, &res));
		found = atoi(res.out) > 0;
		tp_cmd_result_free(&res);
		if (found)
			break;
		ck_assert_msg(tp_before(end), "the file target was held up by the http target being down");
		usleep(100000);
	}
	log = tp_read_file(sc.sources[0].log);
	ck_assert_msg(tp_contains(log, "it is kept and sent again"), "log:\n%s", log);
	free(log);

	/*
	 * The http target comes up after the source's backoff reached its cap:
	 * the kept batch reaches it within about a second of its listening
	 * (the cap after TP_RETRY), not after the 10 s of the cap for errors.
	 */
	sleep(5);
	proc_start(&sc.target);
	{
		long long	listening = 0;
		long long	accepted = 0;

		for (int i = 0; i < 600 && accepted == 0; i++)
		{
			char	   *tlog = tp_read_file(sc.target.log);
			char	   *slog = tp_read_file(sc.sources[0].log);

			if (listening == 0 && tlog != NULL && tp_contains(tlog, "listening on"))
				listening = tp_clock_ms();
			if (listening != 0 && slog != NULL &&
				tp_contains(slog, "target \"tgt\" accepted batch"))
				accepted = tp_clock_ms();
			free(tlog);
			free(slog);
			usleep(50000);
		}
		ck_assert_msg(listening != 0 && accepted != 0,
					  "the http target never got the kept batch");
		ck_assert_msg(accepted - listening < 4000, "the kept batch reached the target "
					  "%lld ms after it listened", accepted - listening);
	}
	drain(&sc, "two_tgt", "two_src", "src1", "http-done", 90);
	proc_stop(&sc.sources[0]);
	proc_stop(&sc.target);
	free(spool);
	scene_free(&sc);
}
END_TEST

/* libcurl write callback: append to a growing string. */
static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	char	  **buf = arg;
	size_t		old = *buf ? strlen(*buf) : 0;
	char	   *more = realloc(*buf, old + size * n + 1);

	ck_assert_ptr_nonnull(more);
	memcpy(more + old, data, size * n);
	more[old + size * n] = '\0';
	*buf = more;
	return size * n;
}

/* GET url with the bearer token; the body as a new string, *code the status. */
static char *
http_get(const char *url, const char *token, long *code)
{
	CURL	   *curl = curl_easy_init();
	struct curl_slist *headers = NULL;
	char	   *body = NULL;

	ck_assert_ptr_nonnull(curl);
	if (token != NULL)
	{
		char		auth[256];

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return body;
}

/*
 * The status endpoints: a source that is also a receiver shows its
 * targets' backlog (growing while a target is down); the target shows its
 * inbox streams once batches arrived; both require the token.
 */
START_TEST(test_status_endpoints)
{
	static const char *const dbs[] = {"st_src", NULL};
	scene		sc;
	int			src_port = free_port();
	char		url[256];
	char	   *body = NULL;
	long		code = 0;

	scene_prepare(&sc, "st_tgt", dbs, 1, NULL);
	{
		/* the source also has a server section, hence a status endpoint */
		char	   *text = tp_read_file(sc.sources[0].config);
		char	   *full;
		char	   *path;
		char		extra[512];

		snprintf(extra, sizeof(extra),
				 "server:\n  hostname: \"127.0.0.1\"\n  port: %d\n  token: \"src-token\"\n"
				 "applier: testapplier\n", src_port);
		full = malloc(strlen(text) + strlen(extra) + 1);
		strcpy(full, text);
		strcat(full, extra);
		path = tp_write_file(sc.dir, "src1.yml", full);
		free(path);
		free(full);
		free(text);
	}
	proc_start(&sc.sources[0]);
	wait_for_capture("st_src", &sc.sources[0]);
	write_rows("st_src", 1, 30);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/status", src_port);
	for (double end = tp_deadline(60); tp_before(end);)
	{
		free(body);
		body = http_get(url, "src-token", &code);
		if (code == 200 && tp_contains(body, "\"name\":\"tgt\"") &&
			tp_contains(body, "\"batches\":") && !tp_contains(body, "\"batches\":0"))
			break;
		usleep(100000);
	}
	ck_assert_msg(code == 200 && tp_contains(body, "\"instance\":\"src1\"") &&
				  !tp_contains(body, "\"batches\":0"),
				  "source status while its target is down: %ld %s", code, body);
	ck_assert(tp_contains(body, "\"lag_ms\":"));
	free(body);
	body = http_get(url, "wrong-token", &code);
	ck_assert_int_eq(code, 401);
	free(body);

	/* the target comes up, catches up; its status shows the stream */
	proc_start(&sc.target);
	drain(&sc, "st_tgt", "st_src", "src1", "status-done", 60);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/status", sc.port);
	body = http_get(url, "s3cret-token", &code);
	ck_assert_msg(code == 200 && tp_contains(body, "\"source\":\"src1\"") &&
				  tp_contains(body, "\"last_received\":"),
				  "target status: %ld %s", code, body);
	free(body);
	proc_stop(&sc.sources[0]);
	proc_stop(&sc.target);
	scene_free(&sc);
}
END_TEST

/* The suite. */
static Suite *
delivery_suite(void)
{
	Suite	   *s = suite_create("delivery");
	TCase	   *tc = tcase_create("delivery");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 400);
	tcase_add_test(tc, test_in_order_with_crashes);
	tcase_add_test(tc, test_crash_around_the_commit);
	tcase_add_test(tc, test_two_sources_one_target);
	tcase_add_test(tc, test_one_target_down_others_go_on);
	tcase_add_test(tc, test_status_endpoints);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(delivery_suite());
}
