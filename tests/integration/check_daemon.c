/*
 * check_daemon.c
 *     An instance's life cycle against a real PostgreSQL: plugins started,
 *     the database connection made (and retried with backoff while the
 *     server is down), plugins stopped in reverse order on SIGTERM, exit 0;
 *     errors reported to Sentry (a local HTTP sink) when sentry_endpoint is
 *     set. The test plugins note each callback in a marker file.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "checkmain.h"
#include "exit_codes.h"
#include "httpsink.h"
#include "pgcluster.h"
#include "runcmd.h"

static tp_cluster *cluster;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* A running instance under test. */
typedef struct instance
{
	char	   *dir;
	char	   *config;
	char	   *marker;
	char	   *log;
	pid_t		pid;
} instance;

/* Create database db; fails the test when it cannot. */
static void
create_db(const char *db)
{
	char	   *conninfo = tp_cluster_create_db(cluster, db);

	ck_assert_msg(conninfo != NULL, "could not create database %s", db);
	free(conninfo);
}

/*
 * Write the config of a receiving instance on database db of the cluster's
 * socket directory at port, with the top-level settings extra (NULL: none)
 * appended, and start it. No proxy is used, so that HTTP goes to 127.0.0.1.
 */
static void
instance_start(instance *inst, const char *db, int port, const char *extra)
{
	char		text[4096];
	char		plugins[4096];
	char	   *argv[8];
	char	   *env[] = {"no_proxy=*", "NO_PROXY=*", NULL};

	inst->dir = tp_make_temp_dir("tp-daemon");
	ck_assert_ptr_nonnull(inst->dir);
	inst->marker = malloc(strlen(inst->dir) + 16);
	inst->log = malloc(strlen(inst->dir) + 16);
	sprintf(inst->marker, "%s/marker", inst->dir);
	sprintf(inst->log, "%s/log", inst->dir);
	snprintf(text, sizeof(text),
			 "processing_intervals:\n"
			 "  applier: 50\n"
			 "database:\n"
			 "  name: \"edge\"\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"%s\"\n"
			 "server:\n"
			 "  hostname: \"127.0.0.1\"\n"
			 "  port: 3001\n"
			 "  transport: testgood\n"
			 "  options:\n"
			 "    marker: \"%s\"\n"
			 "    count: 7\n"
			 "applier: testapplier\n"
			 "applier_options:\n"
			 "  marker: \"%s\"\n"
			 "%s",
			 db, cluster->dir, port, TP_CLUSTER_SUPERUSER,
			 inst->marker, inst->marker, extra != NULL ? extra : "");
	inst->config = tp_write_file(inst->dir, "edge.yml", text);
	ck_assert_ptr_nonnull(inst->config);
	snprintf(plugins, sizeof(plugins), "%s/good", getenv("TP_TEST_PLUGINS"));
	argv[0] = getenv("TELEPORT_BIN");
	argv[1] = "-config";
	argv[2] = inst->config;
	argv[3] = "--plugin-dir";
	argv[4] = plugins;
	argv[5] = NULL;
	inst->pid = tp_spawn(argv, env, inst->log);
	ck_assert_int_gt(inst->pid, 0);
}

/* Stop it with SIGTERM and check that it exits 0 within 20 s. */
static void
instance_stop(instance *inst)
{
	int			status;
	char	   *log;

	kill(inst->pid, SIGTERM);
	status = tp_wait_exit(inst->pid, 20);
	if (status < 0)
		kill(inst->pid, SIGKILL);
	log = tp_read_file(inst->log);
	ck_assert_msg(status == TP_EXIT_OK, "exit status %d, log:\n%s", status, log);
	ck_assert_msg(tp_contains(log, "stop requested; shutting down"), "log:\n%s", log);
	free(log);
}

/* Free what inst holds and remove its directory. */
static void
instance_free(instance *inst)
{
	tp_remove_tree(inst->dir);
	free(inst->dir);
	free(inst->config);
	free(inst->marker);
	free(inst->log);
}

/* The position of needle in the marker file, failing when absent. */
static long
position(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	ck_assert_msg(p != NULL, "\"%s\" missing from marker:\n%s", needle, text);
	return (long) (p - text);
}

START_TEST(test_life_cycle)
{
	instance	inst;
	char	   *marker;

	create_db("life_cycle");
	instance_start(&inst, "life_cycle", cluster->port, NULL);
	ck_assert_msg(tp_wait_for_text(inst.marker, "prepare testapplier", 30),
				  "the applier was never prepared");
	ck_assert(tp_wait_for_text(inst.marker, "receive_start testgood", 10));
	instance_stop(&inst);

	marker = tp_read_file(inst.marker);
	/* options reach the plugin, with the config's value over the default */
	ck_assert(tp_contains(marker, "startup testgood receiving count=7"));
	ck_assert(tp_contains(marker, "startup testapplier instance=edge"));
	ck_assert(position(marker, "startup testgood") < position(marker, "startup testapplier"));
	ck_assert(position(marker, "startup testapplier") < position(marker, "prepare testapplier"));
	/* stopped in reverse order, the receiver stopped before its shutdown */
	ck_assert(position(marker, "shutdown testapplier") < position(marker, "receive_stop testgood"));
	ck_assert(position(marker, "receive_stop testgood") < position(marker, "shutdown testgood"));
	free(marker);
	instance_free(&inst);
}
END_TEST

START_TEST(test_database_down_at_start)
{
	instance	inst;
	char	   *log;
	char	   *marker;

	create_db("down_at_start");
	ck_assert(tp_cluster_stop(cluster));
	instance_start(&inst, "down_at_start", cluster->port, NULL);
	ck_assert_msg(tp_wait_for_text(inst.log, "retrying the connection in", 20),
				  "no retry was logged");
	ck_assert(tp_wait_for_text(inst.log, "(attempt 2)", 20));
	log = tp_read_file(inst.log);
	ck_assert_msg(tp_contains(log, "could not connect to database"), "log:\n%s", log);
	free(log);
	/* the receiver listens already: it needs no connection of the instance's */
	ck_assert_msg(tp_wait_for_text(inst.marker, "receive_start testgood", 10),
				  "the receiver did not start while the database was down");
	marker = tp_read_file(inst.marker);
	ck_assert(!tp_contains(marker, "prepare"));
	free(marker);

	ck_assert(tp_cluster_restart(cluster));
	ck_assert_msg(tp_wait_for_text(inst.marker, "prepare testapplier", 45),
				  "the instance did not connect after the server came back");
	ck_assert(tp_wait_for_text(inst.log, "connected to database \"edge\"", 5));
	instance_stop(&inst);
	/* and it was started once, not again when the database came */
	marker = tp_read_file(inst.marker);
	ck_assert_ptr_nonnull(strstr(marker, "receive_start testgood"));
	ck_assert_ptr_null(strstr(strstr(marker, "receive_start testgood") + 1,
							  "receive_start testgood"));
	free(marker);
	instance_free(&inst);
}
END_TEST

/*
 * Whether req is a Sentry event of the instance "edge" for its failure to
 * connect: posted to project 8's store with the DSN's public key, level
 * error.
 */
static bool
is_connect_error_event(const tp_httpsink_request *req, void *arg)
{
	const char *auth = tp_httpsink_header_value(req, "X-Sentry-Auth");
	json_t	   *event;
	const char *level;
	const char *server_name;
	const char *message;
	bool		match;

	(void) arg;
	if (strcmp(req->method, "POST") != 0 ||
		strcmp(req->url, "/api/8/store/") != 0 ||
		!tp_contains(auth, "sentry_key=publickey"))
		return false;
	event = json_loads(req->body, 0, NULL);
	level = json_string_value(json_object_get(event, "level"));
	server_name = json_string_value(json_object_get(event, "server_name"));
	message = json_string_value(json_object_get(event, "message"));
	match = level != NULL && strcmp(level, "error") == 0 &&
		server_name != NULL && strcmp(server_name, "edge") == 0 &&
		tp_contains(message, "could not connect to database");
	json_decref(event);
	return match;
}

/*
 * With sentry_endpoint set, the error of a failed database connection
 * reaches the Sentry server, and the instance still stops cleanly.
 */
START_TEST(test_errors_reach_sentry)
{
	instance	inst;
	tp_httpsink *sink = tp_httpsink_start(200);
	char		extra[256];
	char	   *log;

	ck_assert_ptr_nonnull(sink);
	snprintf(extra, sizeof(extra),
			 "sentry_endpoint: \"http://publickey@127.0.0.1:%u/8\"\n",
			 tp_httpsink_port(sink));
	/* nothing listens on the next port: every connection attempt fails */
	instance_start(&inst, "sentry", cluster->port + 1, extra);
	if (tp_httpsink_wait_match(sink, is_connect_error_event, NULL, 20000) == NULL)
	{
		log = tp_read_file(inst.log);
		kill(inst.pid, SIGKILL);
		tp_wait_exit(inst.pid, 10);
		instance_free(&inst);
		ck_abort_msg("no connection error reached Sentry (%d requests), log:\n%s",
					 tp_httpsink_count(sink), log);
	}
	log = tp_read_file(inst.log);
	ck_assert_msg(tp_contains(log, "could not connect to database"), "log:\n%s", log);
	free(log);
	instance_stop(&inst);
	instance_free(&inst);
	tp_httpsink_stop(sink);
}
END_TEST

/* The suite. */
static Suite *
daemon_suite(void)
{
	Suite	   *s = suite_create("daemon");
	TCase	   *tc = tcase_create("daemon");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_life_cycle);
	tcase_add_test(tc, test_database_down_at_start);
	tcase_add_test(tc, test_errors_reach_sentry);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(daemon_suite());
}
