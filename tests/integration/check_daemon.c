/*
 * check_daemon.c
 *     An instance's life cycle against a real PostgreSQL: plugins started,
 *     the database connection made (and retried with backoff while the
 *     server is down), plugins stopped in reverse order on SIGTERM, exit 0.
 *     The test plugins note each callback in a marker file.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "checkmain.h"
#include "exit_codes.h"
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

/* Write the config of a receiving instance on database db and start it. */
static void
instance_start(instance *inst, const char *db)
{
	char		text[4096];
	char		plugins[4096];
	char	   *argv[8];

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
			 "  marker: \"%s\"\n",
			 db, cluster->dir, cluster->port, TP_CLUSTER_SUPERUSER,
			 inst->marker, inst->marker);
	inst->config = tp_write_file(inst->dir, "edge.yml", text);
	ck_assert_ptr_nonnull(inst->config);
	snprintf(plugins, sizeof(plugins), "%s/good", getenv("TP_TEST_PLUGINS"));
	argv[0] = getenv("TELEPORT_BIN");
	argv[1] = "-config";
	argv[2] = inst->config;
	argv[3] = "--plugin-dir";
	argv[4] = plugins;
	argv[5] = NULL;
	inst->pid = tp_spawn(argv, NULL, inst->log);
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
	instance_start(&inst, "life_cycle");
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
	instance_start(&inst, "down_at_start");
	ck_assert_msg(tp_wait_for_text(inst.log, "retrying the connection in", 20),
				  "no retry was logged");
	ck_assert(tp_wait_for_text(inst.log, "(attempt 2)", 20));
	log = tp_read_file(inst.log);
	ck_assert_msg(tp_contains(log, "could not connect to database"), "log:\n%s", log);
	free(log);
	marker = tp_read_file(inst.marker);
	ck_assert(!tp_contains(marker, "prepare"));
	free(marker);

	ck_assert(tp_cluster_restart(cluster));
	ck_assert_msg(tp_wait_for_text(inst.marker, "prepare testapplier", 45),
				  "the instance did not connect after the server came back");
	ck_assert(tp_wait_for_text(inst.log, "connected to database \"edge\"", 5));
	instance_stop(&inst);
	instance_free(&inst);
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
