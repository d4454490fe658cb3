/*
 * check_uninstall.c
 *     teleport --uninstall against a real PostgreSQL: refused while a
 *     source runs on the database; once it is stopped, the capture
 *     triggers, the event triggers (the source uses them), the DDL and
 *     trigger sources' objects and the queue are gone, the user's tables
 *     and rows untouched, DDL still works, and a second run finds nothing
 *     to do. On a database that also receives, the inbox stays.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "checkmain.h"
#include "exit_codes.h"
#include "pgcluster.h"
#include "pgquery.h"
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
	char	   *config;
	char	   *log;
	PGconn	   *conn;			/* the test's own */
	pid_t		pid;
} source;

/*
 * Make database db with two tables and rows, and write the config of a
 * source capturing public.* for one target (file transport); receiving
 * adds a server section and the postgres applier.
 */
static void
source_init(source *s, const char *db, bool receiving)
{
	char		text[4096];
	char	   *conninfo;

	memset(s, 0, sizeof(*s));
	conninfo = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(conninfo);
	s->conn = PQconnectdb(conninfo);
	free(conninfo);
	ck_assert_int_eq(PQstatus(s->conn), CONNECTION_OK);
	tp_sql_ok(s->conn,
			  "CREATE TABLE public.a (id int PRIMARY KEY, v text);"
			  "CREATE TABLE public.b (id bigserial PRIMARY KEY, n numeric);"
			  "INSERT INTO public.a SELECT g, 'row ' || g FROM generate_series(1, 20) g;"
			  "INSERT INTO public.b (n) SELECT g / 7.0 FROM generate_series(1, 5) g");
	s->dir = tp_cluster_make_dir(cluster, "uninstall");
	ck_assert_ptr_nonnull(s->dir);
	snprintf(text, sizeof(text),
			 "replicate_ddl: %s\n"
			 "use_event_triggers: %s\n"
			 "processing_intervals:\n"
			 "  batcher: 50\n"
			 "  transmitter: 50\n"
			 "  applier: 50\n"
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
			 "      directory: \"%s/out\"\n"
			 "%s%s%s",
			 receiving ? "false" : "true", receiving ? "false" : "true",
			 db, cluster->dir, cluster->port, TP_CLUSTER_SUPERUSER, s->dir,
			 receiving ? "server:\n  hostname: \"127.0.0.1\"\n  port: 3001\n"
			 "  transport: file\n  options:\n    directory: \"" : "",
			 receiving ? s->dir : "",
			 receiving ? "/in\"\napplier: postgres\n" : "");
	s->config = tp_write_file(s->dir, "src.yml", text);
	ck_assert_ptr_nonnull(s->config);
	s->log = malloc(strlen(s->dir) + 16);
	sprintf(s->log, "%s/src.log", s->dir);
}

/* Start the source and wait until both tables have capture triggers. */
static void
source_start(source *s)
{
	char	   *argv[] = {getenv("TELEPORT_BIN"), "-config", s->config, NULL};

	s->pid = tp_spawn(argv, NULL, s->log);
	ck_assert_int_gt(s->pid, 0);
	if (!tp_sql_wait(s->conn, "SELECT count(DISTINCT tgrelid) FROM pg_trigger"
					 " WHERE tgname LIKE 'teleport_capture%'", "2", 30))
	{
		char	   *log = tp_read_file(s->log);

		ck_abort_msg("the source did not capture both tables; log:\n%s", log);
	}
}

/* Stop the source with SIGTERM; it must exit 0. */
static void
source_stop(source *s)
{
	int			status;

	kill(s->pid, SIGTERM);
	status = tp_wait_exit(s->pid, 20);
	if (status < 0)
		kill(s->pid, SIGKILL);
	ck_assert_msg(status == TP_EXIT_OK, "the source exited with %d", status);
	s->pid = 0;
}

/* Free s (the source is stopped). */
static void
source_free(source *s)
{
	if (s->pid > 0)
	{
		kill(s->pid, SIGKILL);
		(void) tp_wait_exit(s->pid, 20);
	}
	PQfinish(s->conn);
	tp_remove_tree(s->dir);
	free(s->dir);
	free(s->config);
	free(s->log);
}

/* Run teleport -config s->config --uninstall into res. */
static void
uninstall(source *s, tp_cmd_result *res)
{
	ck_assert(tp_run_teleport(res, "-config", s->config, "--uninstall", (char *) NULL));
}

/*
 * Refused while the source runs (nothing removed); after it stops,
 * everything of teleport's is gone and the rows stay; a second run has
 * nothing to do.
 */
START_TEST(test_uninstall_source)
{
	source		s;
	tp_cmd_result res;

	source_init(&s, "uninst_src", false);
	source_start(&s);

	uninstall(&s, &res);
	ck_assert_msg(res.status == TP_EXIT_FAILURE && tp_contains(res.err, "is running"),
				  "status %d, stderr:\n%s", res.status, res.err);
	tp_cmd_result_free(&res);
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'teleport%'",
				 "8");
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_event_trigger", "3");
	tp_sql_assert(s.conn, "SELECT to_regclass('teleport.batch') IS NOT NULL", "t");

	source_stop(&s);
	uninstall(&s, &res);
	ck_assert_msg(res.status == TP_EXIT_OK, "status %d, stderr:\n%s", res.status, res.err);
	ck_assert_msg(tp_contains(res.err, "the trigger source is uninstalled") &&
				  tp_contains(res.err, "the queue is uninstalled"), "stderr:\n%s", res.err);
	tp_cmd_result_free(&res);
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'teleport%'",
				 "0");
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'teleport'", "0");
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_event_trigger", "0");
	tp_sql_ok(s.conn, "ALTER TABLE public.a ADD COLUMN later int;"
			  "ALTER TABLE public.a DROP COLUMN later");
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'capture%'"
				 " OR proname = 'insert_event'", "0");
	tp_sql_assert(s.conn, "SELECT count(*) || '/' || sum(length(v)) FROM public.a", "20/111");
	tp_sql_assert(s.conn, "SELECT string_agg(n::text, ',' ORDER BY id) FROM public.b",
				 "0.14285714285714285714,0.28571428571428571429,"
				 "0.42857142857142857143,0.57142857142857142857,"
				 "0.71428571428571428571");
	/* the tables take writes without teleport */
	tp_sql_assert(s.conn, "WITH i AS (INSERT INTO public.a VALUES (21, 'x') RETURNING id)"
				 " SELECT id FROM i", "21");

	/* nothing left to do */
	uninstall(&s, &res);
	ck_assert_msg(res.status == TP_EXIT_OK && tp_contains(res.err, "not installed"),
				  "status %d, stderr:\n%s", res.status, res.err);
	tp_cmd_result_free(&res);

	/* and a source started again installs from scratch */
	source_start(&s);
	tp_sql_assert(s.conn, "SELECT count(*) FROM teleport.schema_version"
				 " WHERE component IN ('queue', 'trigger')", "2");
	source_stop(&s);
	source_free(&s);
}
END_TEST

/* A database that also receives keeps its inbox (and schema teleport). */
START_TEST(test_uninstall_keeps_inbox)
{
	source		s;
	tp_cmd_result res;

	source_init(&s, "uninst_both", true);
	source_start(&s);
	ck_assert(tp_sql_wait(s.conn, "SELECT to_regclass('teleport.inbox') IS NOT NULL",
						  "t", 10));
	source_stop(&s);
	uninstall(&s, &res);
	ck_assert_msg(res.status == TP_EXIT_OK, "status %d, stderr:\n%s", res.status, res.err);
	tp_cmd_result_free(&res);
	tp_sql_assert(s.conn, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'teleport%'",
				 "0");
	tp_sql_assert(s.conn, "SELECT (to_regclass('teleport.batch') IS NULL)::text || '/' ||"
				 " (to_regclass('teleport.inbox') IS NOT NULL)::text", "true/true");
	tp_sql_assert(s.conn, "SELECT string_agg(component, ',') FROM teleport.schema_version",
				 "inbox");
	source_free(&s);
}
END_TEST

/* The suite. */
static Suite *
uninstall_suite(void)
{
	Suite	   *s = suite_create("uninstall");
	TCase	   *tc = tcase_create("uninstall");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_uninstall_source);
	tcase_add_test(tc, test_uninstall_keeps_inbox);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(uninstall_suite());
}
