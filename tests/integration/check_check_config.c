/*
 * check_check_config.c
 *     teleport --check-config against a real PostgreSQL: the summary of a
 *     reachable database, the plugin report, unreachable and stopped
 *     servers, invalid files, every way of giving connection settings
 *     (seed keys, database.options, database.conninfo, PG* environment,
 *     passwords and .pgpass), and core/pgsql.c itself.
 *
 * One cluster serves the whole program (an unchecked fixture); each test
 * case makes its own database, named after it, and its own temporary
 * directory for config files.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkmain.h"
#include "exit_codes.h"
#include "pgcluster.h"
#include "pgsql.h"
#include "runcmd.h"

/*
 * Started in the parent (unchecked fixtures): Check ends a failed test
 * process with _exit, so a cluster a test process started itself would
 * outlive it. Test files go in directories inside the shared cluster's
 * tree, removed with it.
 */
static tp_cluster *cluster;		/* shared by the cases */
static tp_cluster *second;		/* for test_stopped_server only */

/* Once per program, in the parent: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* In the parent: a cluster of its own for test_stopped_server. */
static void
start_second_cluster(void)
{
	start_cluster();
	second = tp_cluster_start();
	if (second == NULL)
		exit(1);
}

/* In the parent: destroy it. */
static void
destroy_second_cluster(void)
{
	tp_cluster_destroy(second);
	second = NULL;
}

/* Create database db; fails the test when it cannot. */
static void
create_db(const char *db)
{
	char	   *conninfo = tp_cluster_create_db(cluster, db);

	ck_assert_msg(conninfo != NULL, "could not create database %s", db);
	free(conninfo);
}

/* A new directory for a test's files, removed with the cluster (free). */
static char *
make_dir(void)
{
	char	   *dir = tp_cluster_make_dir(cluster, "case");

	ck_assert_ptr_nonnull(dir);
	return dir;
}

/* Write a printf-formatted file dir/name; returns its path (free). */
static char *
write_filef(const char *dir, const char *name, const char *fmt,...)
{
	va_list		ap;
	char	   *text = NULL;
	char	   *path;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&text, fmt, ap), 0);
	va_end(ap);
	path = tp_write_file(dir, name, text);
	ck_assert_ptr_nonnull(path);
	free(text);
	return path;
}

/*
 * Write a config for instance name on database db of the shared cluster, as
 * user (with password unless NULL), with the server on port, and extra
 * YAML appended (may be ""). Returns its path (free).
 */
static char *
write_config(const char *dir, const char *name, const char *db,
			 const char *user, const char *password, int port,
			 const char *extra)
{
	char		pw[256] = "";

	if (password != NULL)
		snprintf(pw, sizeof(pw), "  password: \"%s\"\n", password);
	return write_filef(dir, "teleport.yml",
					   "database:\n"
					   "  name: \"%s\"\n"
					   "  database: \"%s\"\n"
					   "  hostname: \"%s\"\n"
					   "  port: %d\n"
					   "  username: \"%s\"\n"
					   "%s"
					   "%s",
					   name, db, cluster->dir, port, user, pw, extra);
}

/* Run teleport --check-config -config path with extra environment env. */
static void
run_check(tp_cmd_result *res, const char *path, char *const env[])
{
	const char *bin = getenv("TELEPORT_BIN");
	char	   *argv[] = {(char *) (bin ? bin : "./teleport"),
		(char *) "--check-config", (char *) "-config", (char *) path, NULL};

	ck_assert_msg(tp_run_cmd(argv, env, 60, res), "could not run %s", argv[0]);
}

/* Fail with the output of res unless it exited with status. */
static void
assert_status(const tp_cmd_result *res, int status)
{
	ck_assert_msg(res->status == status,
				  "exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s",
				  res->status, status, res->out, res->err);
}

/* Fail unless text contains needle, showing text. */
#define assert_has(text, needle) \
	ck_assert_msg(tp_contains((text), (needle)), \
				  "expected \"%s\" in:\n%s", (needle), (text))
#define assert_has_not(text, needle) \
	ck_assert_msg(!tp_contains((text), (needle)), \
				  "did not expect \"%s\" in:\n%s", (needle), (text))

/*
 * Fail unless text has a line that starts with "  label" (after the
 * indentation) and contains both needle and then.
 */
static void
assert_line(const char *text, const char *label, const char *needle,
			const char *then)
{
	const char *line = text;

	while (line != NULL && *line != '\0')
	{
		const char *end = strchr(line, '\n');
		size_t		len = end ? (size_t) (end - line) : strlen(line);
		char	   *copy = strndup(line, len);
		const char *start = copy + strspn(copy, " ");
		bool		found = strncmp(start, label, strlen(label)) == 0
			&& strstr(copy, needle) != NULL
			&& strstr(strstr(copy, needle), then) != NULL;

		free(copy);
		if (found)
			return;
		line = end ? end + 1 : NULL;
	}
	ck_abort_msg("expected a line \"%s ... %s ... %s\" in:\n%s", label,
				 needle, then, text);
}

/* The server's version string (free), from the shared cluster. */
static char *
server_version(void)
{
	PGconn	   *conn = tp_cluster_connect(cluster, NULL);
	char	   *v;

	ck_assert_ptr_nonnull(conn);
	v = strdup(PQparameterStatus(conn, "server_version"));
	PQfinish(conn);
	return v;
}

/* A reachable database: exit 0 and a summary of instance and database. */
START_TEST(test_reachable)
{
	char	   *dir = make_dir();
	char	   *version = server_version();
	char		expect[256];
	char	   *path;
	tp_cmd_result res;

	create_db("cc_reachable");
	/* trust authentication ignores the password: it must not be shown */
	path = write_config(dir, "cc-reachable-instance", "cc_reachable",
						"postgres", "pw-never-shown-42", cluster->port, "");
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, "cc-reachable-instance");
	assert_has(res.out, path);
	assert_has(res.out, "none (no targets and no server section)");
	assert_has(res.out, "batcher 100 ms");
	/* not a source: there are no schema changes to capture */
	ck_assert_msg(!tp_contains(res.out, "schema changes"), "out: %s", res.out);
	assert_has(res.out, "(none)           this instance uses no plugins");
	snprintf(expect, sizeof(expect), "PostgreSQL %s\n", version);
	assert_has(res.out, expect);
	ck_assert_int_ge(atoi(version), 12);
	assert_has(res.out, "user             postgres\n");
	assert_has(res.out, "database         cc_reachable\n");
	assert_has(res.out, "superuser        yes\n");
	assert_has(res.out, "may create them (superuser)");
	assert_has(res.out, "create schema    yes");
	assert_has(res.out, "OK: the database of instance \"cc-reachable-instance\"");
	assert_has(res.out, "connect_timeout='10'");
	assert_has(res.out, "********");
	assert_has_not(res.out, "pw-never-shown-42");
	assert_has_not(res.err, "pw-never-shown-42");
	assert_has_not(res.err, " error ");
	tp_cmd_result_free(&res);
	free(path);
	free(version);
	free(dir);
}
END_TEST

/*
 * The seed's source config: roles and targets summarised; every plugin
 * found, with its file and version; from a directory that lacks them,
 * each reported as not found (and logged); the database check still
 * decides the exit status.
 */
START_TEST(test_seed_source_plugins)
{
	char	   *dir = make_dir();
	char		extra[1024];
	char	   *path;
	tp_cmd_result res;

	ck_assert_msg(getenv("TELEPORT_PLUGIN_DIR") != NULL,
				  "TELEPORT_PLUGIN_DIR is not set (run through make check)");
	create_db("cc_seed");
	snprintf(extra, sizeof(extra),
			 "batch_size: 10000\n"
			 "max_events_per_batch: 10000\n"
			 "use_event_triggers: true\n"
			 "processing_intervals:\n"
			 "  batcher: 100\n"
			 "  transmitter: 150\n"
			 "  applier: 100\n"
			 "  vacuum: 500\n"
			 "  ddlwatcher: 5000\n"
			 "server:\n"
			 "  hostname: \"0.0.0.0\"\n"
			 "  port: 3000\n"
			 "targets:\n"
			 "  my-target:\n"
			 "    target_expression: \"public.*\"\n"
			 "    endpoint:\n"
			 "      hostname: \"target.mydomain.com\"\n"
			 "      port: 3001\n"
			 "    apply_schema: \"test\"\n"
			 "  to-stdout:\n"
			 "    target_expression: \"billing.*\"\n"
			 "    apply_schema: \"billing\"\n"
			 "    transport: stdout\n");
	path = write_config(dir, "finops-db", "cc_seed", "postgres", NULL,
						cluster->port, extra);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);

	assert_has(res.out, "finops-db");
	assert_has(res.out, "source (2 targets), receiver, applier");
	assert_has(res.out, "my-target");
	assert_has(res.out, "public.*");
	assert_has(res.out, "target.mydomain.com:3001");
	assert_has(res.out, "    apply_schema   test\n");
	assert_has(res.out, "0.0.0.0:3000, transport http");
	assert_has(res.out, "transmitter 150 ms");
	assert_has(res.out, "schema changes   by event triggers (use_event_triggers)");

	/* built: where it is and its version */
	assert_line(res.out, "capture DDL", " event-trigger ", "event-trigger.so (version ");
	assert_line(res.out, "send", " http (target my-target) ", " found in ");
	assert_line(res.out, "receive", " http ", " found in ");
	assert_has_not(res.out, "teleport will not start");
	assert_line(res.out, "capture rows", " trigger ", "trigger.so (version ");
	assert_line(res.out, "apply", " postgres ", "postgres.so (version ");
	assert_line(res.out, "send", " stdout (target to-stdout) ", " found in ");
	assert_line(res.out, "send", " stdout (target to-stdout) ", "stdout.so (version ");

	assert_has(res.out, "OK: the database of instance \"finops-db\"");
	tp_cmd_result_free(&res);

	/* a directory without them: reported, one line each, and logged */
	{
		const char *plugins = getenv("TP_TEST_PLUGINS");
		char		var[4096];
		char	   *env[] = {var, NULL};

		ck_assert_msg(plugins != NULL, "TP_TEST_PLUGINS is not set (run through make check)");
		snprintf(var, sizeof(var), "TELEPORT_PLUGIN_DIR=%s/good", plugins);
		run_check(&res, path, env);
	}
	assert_status(&res, TP_EXIT_OK);
	assert_line(res.out, "capture DDL", " event-trigger ", " not found");
	assert_line(res.out, "capture rows", " trigger ", " not found");
	assert_has(res.out, "teleport will not start until every plugin is found");
	assert_has(res.err, "plugin \"event-trigger\", which is not in the plugin path");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/*
 * --plugin-dir with the test plugins: found plugins show file and version;
 * one of the wrong kind, one with invalid options and a refused file are
 * each reported (and logged), and the exit status is still the database's.
 */
START_TEST(test_plugin_problems)
{
	const char *plugins = getenv("TP_TEST_PLUGINS");
	char	   *dir = make_dir();
	char		dirs[2048];
	char		extra[1024];
	char	   *path;
	tp_cmd_result res;

	ck_assert_msg(plugins != NULL,
				  "TP_TEST_PLUGINS is not set (run through make check)");
	create_db("cc_plugins");
	snprintf(dirs, sizeof(dirs), "%s/good:%s/abimajor", plugins, plugins);
	snprintf(extra, sizeof(extra),
			 "server:\n"
			 "  hostname: \"127.0.0.1\"\n"
			 "  port: 3000\n"
			 "  transport: testgood\n"
			 "applier: testapplier\n"
			 "targets:\n"
			 "  wrong-kind:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: \"x\"\n"
			 "    transport: testapplier\n"
			 "  bad-options:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: \"x\"\n"
			 "    transport: testgood\n"
			 "    options:\n"
			 "      count: not-a-number\n");
	path = write_config(dir, "cc-plugins", "cc_plugins", "postgres", NULL,
						cluster->port, extra);
	{
		const char *bin = getenv("TELEPORT_BIN");
		char	   *argv[] = {(char *) (bin ? bin : "./teleport"),
			(char *) "--check-config", (char *) "-config", path,
			(char *) "--plugin-dir", dirs, NULL};

		ck_assert(tp_run_cmd(argv, NULL, 60, &res));
	}
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, dirs);
	assert_line(res.out, "receive", " testgood ", "(version 1.2.3)");
	assert_line(res.out, "apply", " testapplier ", "(version 0.1)");
	assert_line(res.out, "send", " testapplier (target wrong-kind) ",
				"but it is of kind applier, not transport");
	assert_line(res.out, "send", " testgood (target bad-options) ",
				"but its options are invalid (see the log)");
	assert_line(res.out, "refused", "1 plugin file", "(see the log)");
	assert_has(res.out, "teleport will not start until every plugin is "
			   "found and usable");
	assert_has(res.err, "targets.bad-options.options");
	assert_has(res.err, "was built for ABI");
	assert_has(res.out, "OK: the database of instance \"cc-plugins\"");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/* Nothing listens on the port: exit 4, the libpq message logged. */
START_TEST(test_unreachable)
{
	char	   *dir = make_dir();
	char	   *path;
	tp_cmd_result res;

	path = write_config(dir, "cc-unreachable", "cc_unreachable", "postgres",
						NULL, cluster->port + 1, "");
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_DATABASE);
	assert_has(res.err, "could not connect to database \"cc_unreachable\"");
	assert_has(res.err, "No such file or directory");
	assert_has(res.out, "connection       failed (see the log)");
	assert_has(res.out, "FAILED: the database of instance \"cc-unreachable\" "
			   "cannot be reached");
	assert_has_not(res.out, "OK:");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/*
 * A cluster of its own, stopped and restarted: unreachable (4) while down,
 * reachable (0) again after.
 */
START_TEST(test_stopped_server)
{
	tp_cluster *own = second;
	char	   *dir = make_dir();
	char	   *path;
	tp_cmd_result res;

	ck_assert_ptr_nonnull(own);
	path = write_filef(dir, "own.yml",
					   "database:\n"
					   "  name: \"cc-own\"\n"
					   "  database: \"postgres\"\n"
					   "  hostname: \"%s\"\n"
					   "  port: %d\n"
					   "  username: \"postgres\"\n",
					   own->dir, own->port);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	tp_cmd_result_free(&res);

	ck_assert(tp_cluster_stop(own));
	ck_assert(!own->running);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_DATABASE);
	assert_has(res.err, "could not connect to database \"postgres\"");
	tp_cmd_result_free(&res);

	ck_assert(tp_cluster_restart(own));
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	tp_cmd_result_free(&res);

	free(path);
	free(dir);
}
END_TEST

/* An invalid file: exit 3, the error names file, line and column. */
START_TEST(test_invalid_file)
{
	char	   *dir = make_dir();
	char	   *path;
	char		where[1024];
	tp_cmd_result res;

	path = write_filef(dir, "bad.yml",
					   "database:\n"
					   "  name: \"cc-bad\"\n"
					   "  port: not-a-number\n");
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_CONFIG);
	snprintf(where, sizeof(where), "%s:3:9: database.port", path);
	assert_has(res.err, where);
	/* no database check after an invalid file */
	assert_has_not(res.out, "Database");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/*
 * database.options wins over the seed keys (a wrong port is corrected by
 * options.port) and takes libpq keywords such as application_name; an
 * unknown keyword is a config error.
 */
START_TEST(test_database_options)
{
	char	   *dir = make_dir();
	char		extra[256];
	char	   *path;
	tp_cmd_result res;

	create_db("cc_options");
	snprintf(extra, sizeof(extra),
			 "  options:\n"
			 "    application_name: \"cc-app-name\"\n"
			 "    port: %d\n", cluster->port);
	path = write_config(dir, "cc-options", "cc_options", "postgres", NULL,
						cluster->port + 1, extra);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, "application_name='cc-app-name'");
	assert_has(res.out, "database         cc_options\n");
	tp_cmd_result_free(&res);
	free(path);

	path = write_config(dir, "cc-options", "cc_options", "postgres", NULL,
						cluster->port,
						"  options:\n    no_such_libpq_keyword: 1\n");
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_CONFIG);
	assert_has(res.err, "no_such_libpq_keyword");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/* database.conninfo, as keyword/value and as a URI, without seed keys. */
START_TEST(test_database_conninfo)
{
	char	   *dir = make_dir();
	char	   *path;
	tp_cmd_result res;

	create_db("cc_conninfo");
	path = write_filef(dir, "kv.yml",
					   "database:\n"
					   "  name: \"cc-conninfo\"\n"
					   "  conninfo: \"host=%s port=%d dbname=cc_conninfo "
					   "user=postgres\"\n",
					   cluster->dir, cluster->port);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, "database         cc_conninfo\n");
	tp_cmd_result_free(&res);
	free(path);

	path = write_filef(dir, "uri.yml",
					   "database:\n"
					   "  name: \"cc-conninfo\"\n"
					   "  conninfo: \"postgresql:///cc_conninfo?host=%s"
					   "&port=%d&user=postgres\"\n",
					   cluster->dir, cluster->port);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, "database         cc_conninfo\n");
	tp_cmd_result_free(&res);
	free(path);

	/* the seed keys win over the conninfo: a wrong port there is fixed */
	path = write_filef(dir, "both.yml",
					   "database:\n"
					   "  name: \"cc-conninfo\"\n"
					   "  conninfo: \"host=%s port=%d dbname=cc_conninfo\"\n"
					   "  port: %d\n"
					   "  username: postgres\n",
					   cluster->dir, cluster->port + 1, cluster->port);
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/*
 * No host, port or database in the file: libpq's PGHOST, PGPORT and
 * PGDATABASE apply. A wrong PGPORT shows that they are what is used.
 */
START_TEST(test_pg_environment)
{
	char	   *dir = make_dir();
	char	   *path;
	char		host[512];
	char		port[64];
	char		bad_port[64];
	tp_cmd_result res;

	create_db("cc_environment");
	path = write_filef(dir, "env.yml",
					   "database:\n"
					   "  name: \"cc-environment\"\n"
					   "  username: \"postgres\"\n");
	snprintf(host, sizeof(host), "PGHOST=%s", cluster->dir);
	snprintf(port, sizeof(port), "PGPORT=%d", cluster->port);
	snprintf(bad_port, sizeof(bad_port), "PGPORT=%d", cluster->port + 1);
	{
		char	   *env[] = {host, port, (char *) "PGDATABASE=cc_environment",
		NULL};

		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_OK);
		assert_has(res.out, "database         cc_environment\n");
		tp_cmd_result_free(&res);
	}
	{
		char	   *env[] = {host, bad_port,
		(char *) "PGDATABASE=cc_environment", NULL};

		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_DATABASE);
		assert_has(res.err, "could not connect to database \"cc_environment\"");
		tp_cmd_result_free(&res);
	}
	{
		/* the user's own connect timeout is kept */
		char	   *env[] = {host, port, (char *) "PGDATABASE=cc_environment",
		(char *) "PGCONNECT_TIMEOUT=7", NULL};

		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_OK);
		assert_has_not(res.out, "connect_timeout");
		tp_cmd_result_free(&res);
	}
	free(path);
	free(dir);
}
END_TEST

/*
 * A role that must give a password: refused without one or with a wrong
 * one (exit 4, the password never shown), accepted with database.password
 * or from a .pgpass file (PGPASSFILE); not a superuser.
 */
START_TEST(test_password_and_pgpass)
{
	char	   *dir = make_dir();
	char	   *path;
	char	   *pgpass;
	char		passfile[1024];
	tp_cmd_result res;

	create_db("cc_password");
	ck_assert(tp_cluster_create_role(cluster, "cc_pw_user", "pw-right-7"));
	pgpass = write_filef(dir, "pgpass", "*:*:*:cc_pw_user:pw-right-7\n");
	ck_assert_int_eq(chmod(pgpass, 0600), 0);
	snprintf(passfile, sizeof(passfile), "PGPASSFILE=%s", pgpass);

	{
		char	   *env[] = {(char *) "PGPASSFILE=/nonexistent/pgpass",
			(char *) "PGPASSWORD=", NULL};

		path = write_config(dir, "cc-pw", "cc_password", "cc_pw_user", NULL,
							cluster->port, "");
		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_DATABASE);
		assert_has(res.err, "no password supplied");
		tp_cmd_result_free(&res);
		free(path);

		path = write_config(dir, "cc-pw", "cc_password", "cc_pw_user",
							"pw-wrong-3", cluster->port, "");
		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_DATABASE);
		assert_has(res.err, "password authentication failed");
		assert_has_not(res.err, "pw-wrong-3");
		assert_has_not(res.out, "pw-wrong-3");
		tp_cmd_result_free(&res);
		free(path);

		path = write_config(dir, "cc-pw", "cc_password", "cc_pw_user",
							"pw-right-7", cluster->port, "");
		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_OK);
		assert_has(res.out, "user             cc_pw_user\n");
		assert_has(res.out, "superuser        no\n");
		assert_has(res.out, "may not create them (schema changes are found by "
				   "diffing the catalog)");
		assert_has_not(res.out, "pw-right-7");
		assert_has_not(res.err, "pw-right-7");
		tp_cmd_result_free(&res);
		free(path);
	}
	{
		char	   *env[] = {passfile, (char *) "PGPASSWORD=", NULL};

		path = write_config(dir, "cc-pw", "cc_password", "cc_pw_user", NULL,
							cluster->port, "");
		run_check(&res, path, env);
		assert_status(&res, TP_EXIT_OK);
		assert_has(res.out, "user             cc_pw_user\n");
		tp_cmd_result_free(&res);
		free(path);
	}
	free(pgpass);
	free(dir);
}
END_TEST

/* A role without CREATE on the database is told it needs it. */
START_TEST(test_no_create_privilege)
{
	char	   *dir = make_dir();
	char	   *path;
	tp_cmd_result res;

	create_db("cc_noprivs");
	ck_assert(tp_cluster_exec(cluster, "cc_noprivs",
							  "CREATE ROLE cc_plain LOGIN;"
							  "REVOKE CREATE ON DATABASE cc_noprivs FROM PUBLIC"));
	path = write_config(dir, "cc-noprivs", "cc_noprivs", "cc_plain", NULL,
						cluster->port, "use_event_triggers: true\n");
	run_check(&res, path, NULL);
	assert_status(&res, TP_EXIT_OK);
	assert_has(res.out, "create schema    no: teleport needs CREATE on the "
			   "database");
	assert_has(res.out, "use_event_triggers needs a superuser or rds_superuser");
	tp_cmd_result_free(&res);
	free(path);
	free(dir);
}
END_TEST

/*
 * Capture what the process writes to stderr while running fn(arg): returns
 * it (free).
 */
static char *
capture_stderr(void (*fn) (void *), void *arg)
{
	char		tmpl[1024];
	int			fd;
	int			saved = dup(STDERR_FILENO);
	FILE	   *f;
	char	   *text = NULL;
	size_t		len = 0;
	char		buf[4096];
	size_t		n;
	FILE	   *mem;

	snprintf(tmpl, sizeof(tmpl), "%s/stderr.XXXXXX", cluster->dir);
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	f = fopen(tmpl, "r");
	ck_assert_ptr_nonnull(f);
	mem = open_memstream(&text, &len);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(mem);
	fclose(f);
	unlink(tmpl);
	return text;
}

/* Row callback: add up column 0. */
static bool
sum_rows(void *arg, const PGresult *res, int row)
{
	*(long *) arg += atol(PQgetvalue(res, row, 0));
	return true;
}

/* Row callback: stop at the third row. */
static bool
stop_at_three(void *arg, const PGresult *res, int row)
{
	(*(int *) arg)++;
	return atoi(PQgetvalue(res, row, 0)) < 3;
}

/* Connect to a server that is not there with a password in the conninfo. */
static void
connect_nowhere(void *arg)
{
	tp_pgsql   *pg = arg;
	char		conninfo[1024];

	snprintf(conninfo, sizeof(conninfo),
			 "host=%s port=%d dbname=nodb user=postgres password=pw-secret-9",
			 cluster->dir, cluster->port + 1);
	ck_assert(!tp_pgsql_connect(pg, conninfo, "the unit test"));
}

/* Run a query that fails. */
static void
query_bad(void *arg)
{
	ck_assert(!tp_pgsql_query(arg, "SELECT * FROM no_such_table", 0, NULL,
							  NULL, NULL));
}

/* core/pgsql.c directly: connect, pin, parameters, rows, values, errors. */
START_TEST(test_pgsql_api)
{
	char	   *conninfo;
	tp_pgsql	pg;
	char	   *value;
	char	   *log;
	long		sum = 0;
	int			seen = 0;
	const char *params[] = {"41", NULL};

	create_db("cc_pgsql");
	conninfo = tp_cluster_conninfo(cluster, "cc_pgsql", NULL);
	ck_assert(tp_pgsql_connect(&pg, conninfo, "the unit test"));
	ck_assert_int_ge(tp_pgsql_server_version(&pg), 120000);

	/* pinned settings */
	ck_assert(tp_pgsql_query(&pg, "SET DateStyle = 'German'; "
							 "SET extra_float_digits = 0", 0, NULL, NULL, NULL)
			  == false);		/* one statement only with parameters */
	ck_assert(tp_pgsql_query(&pg, "SET DateStyle = 'German'", 0, NULL, NULL,
							 NULL));
	ck_assert(tp_pgsql_pin_session(&pg));
	ck_assert(tp_pgsql_query_value(&pg, "SHOW DateStyle", 0, NULL, &value));
	ck_assert_msg(strncmp(value, "ISO", 3) == 0, "DateStyle %s", value);
	free(value);
	ck_assert(tp_pgsql_query_value(&pg, "SHOW IntervalStyle", 0, NULL, &value));
	ck_assert_str_eq(value, "postgres");
	free(value);
	ck_assert(tp_pgsql_query_value(&pg, "SHOW extra_float_digits", 0, NULL,
								   &value));
	ck_assert_str_eq(value, "3");
	free(value);
	ck_assert(tp_pgsql_query_value(&pg, "SHOW search_path", 0, NULL, &value));
	ck_assert_str_eq(value, "pg_catalog");
	free(value);
	ck_assert(tp_pgsql_query_value(&pg, "SELECT '2024-02-29'::date::text",
								   0, NULL, &value));
	ck_assert_str_eq(value, "2024-02-29");
	free(value);

	/* parameters, NULL parameters and values */
	ck_assert(tp_pgsql_query_value(&pg, "SELECT $1::int + 1", 1, params,
								   &value));
	ck_assert_str_eq(value, "42");
	free(value);
	ck_assert(tp_pgsql_query_value(&pg, "SELECT $1::text IS NULL", 1,
								   params + 1, &value));
	ck_assert_str_eq(value, "t");
	free(value);
	value = (char *) "untouched";
	ck_assert(tp_pgsql_query_value(&pg, "SELECT NULL::text", 0, NULL, &value));
	ck_assert_ptr_null(value);

	/* rows */
	ck_assert(tp_pgsql_query(&pg, "SELECT generate_series(1, 5)", 0, NULL,
							 sum_rows, &sum));
	ck_assert_int_eq(sum, 15);
	ck_assert(!tp_pgsql_query(&pg, "SELECT generate_series(1, 5)", 0, NULL,
							  stop_at_three, &seen));
	ck_assert_int_eq(seen, 3);

	/* one value means one row of one column */
	ck_assert(!tp_pgsql_query_value(&pg, "SELECT generate_series(1, 2)", 0,
									NULL, &value));
	ck_assert_ptr_null(value);
	ck_assert(!tp_pgsql_query_value(&pg, "SELECT 1, 2", 0, NULL, &value));
	ck_assert(!tp_pgsql_query_value(&pg, "SELECT 1 WHERE false", 0, NULL,
									&value));

	/* a failing query is logged with the purpose and the server's message */
	log = capture_stderr(query_bad, &pg);
	assert_has(log, "query failed for the unit test");
	assert_has(log, "no_such_table");
	free(log);
	/* the connection is still usable */
	ck_assert(tp_pgsql_query_value(&pg, "SELECT 1", 0, NULL, &value));
	ck_assert_str_eq(value, "1");
	free(value);
	tp_pgsql_close(&pg);
	ck_assert_ptr_null(pg.conn);
	tp_pgsql_close(&pg);		/* twice is harmless */
	ck_assert(!tp_pgsql_query(&pg, "SELECT 1", 0, NULL, NULL, NULL));
	free(conninfo);

	/* a failed connection: logged once, without the password */
	log = capture_stderr(connect_nowhere, &pg);
	assert_has(log, "could not connect to database \"nodb\" for the unit test");
	assert_has_not(log, "pw-secret-9");
	ck_assert_ptr_null(pg.conn);
	free(log);
}
END_TEST

/* The cases, sharing one cluster. */
static Suite *
check_config_suite(void)
{
	Suite	   *s = suite_create("check-config");
	TCase	   *tc = tcase_create("check-config");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reachable);
	tcase_add_test(tc, test_seed_source_plugins);
	tcase_add_test(tc, test_plugin_problems);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_invalid_file);
	tcase_add_test(tc, test_database_options);
	tcase_add_test(tc, test_database_conninfo);
	tcase_add_test(tc, test_pg_environment);
	tcase_add_test(tc, test_password_and_pgpass);
	tcase_add_test(tc, test_no_create_privilege);
	tcase_add_test(tc, test_pgsql_api);
	suite_add_tcase(s, tc);

	tc = tcase_create("stopped-server");
	tcase_add_unchecked_fixture(tc, start_second_cluster,
								destroy_second_cluster);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stopped_server);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tp_check_run(check_config_suite());
}
