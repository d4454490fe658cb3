/*
 * check_file_receive.c
 *     The file transport end to end against a real inbox: a sending
 *     instance writes batch files into a spool directory and a receiving
 *     instance imports them into the inbox (core/inbox.c) on a throwaway
 *     cluster, both loaded and configured as the daemon does. After each
 *     case teleport.inbox holds exactly the batches the sender wrote, once
 *     each, whatever order the files arrived in, whatever was corrupt or
 *     repeated, and whether the database was up.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <teleport/teleport.h>

#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "inbox.h"
#include "loader.h"
#include "log.h"
#include "pgcluster.h"
#include "plan.h"
#include "runcmd.h"

static tp_cluster *cluster;		/* shared by the cases */
static tp_cluster *own;			/* test_database_down only: stopped */

/* Once per program, in the parent: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* In the parent: a cluster of its own for test_database_down. */
static void
start_own_cluster(void)
{
	own = tp_cluster_start();
	if (own == NULL)
		exit(1);
}

/* In the parent: destroy it. */
static void
destroy_own_cluster(void)
{
	tp_cluster_destroy(own);
	own = NULL;
}

/* The change lines of batch seq (a new string, free): n_changes lines. */
static char *
batch_data(const char *source, uint64_t seq, int n_changes)
{
	size_t		cap = 512 * (size_t) n_changes + 1;
	char	   *data = malloc(cap);
	size_t		len = 0;

	ck_assert_ptr_nonnull(data);
	data[0] = '\0';
	for (int i = 0; i < n_changes; i++)
		len += (size_t) snprintf(data + len, cap - len,
								 "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":%d,"
								 "\"n\":1234567890123456789012345678901234567890%llu,"
								 "\"z\":-0,\"s\":\"\U0001F600 %s\"},"
								 "\"source\":{\"name\":\"%s\",\"schema\":\"public\","
								 "\"table\":\"t\",\"txid\":%llu,\"seq\":%d,\"batch\":%llu},"
								 "\"ts_ms\":1795000000000}\n",
								 i, (unsigned long long) seq, source, source,
								 (unsigned long long) (100 + seq), i + 1,
								 (unsigned long long) seq);
	return data;
}

/* A batch from source to "edge" over data (not copied). */
static tp_batch
make_batch(const char *source, uint64_t seq, const char *data,
		   uint64_t n_changes)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = source;
	b.target = "edge";
	b.seq = seq;
	b.n_changes = n_changes;
	b.first_tick = seq;
	b.last_tick = seq + 1;
	b.apply_schema = "public";
	b.data = data;
	b.data_len = strlen(data);
	return b;
}

/* A transport instance set up as the daemon sets one up. */
typedef struct tx_env
{
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
	tp_plugin_ctx *ctx;
	const tp_transport_callbacks *cb;
} tx_env;

/*
 * Load the config text, the built plugins and the plan, find the file
 * transport of role, resolve it, make its ctx and start it up.
 */
static void
env_open(tx_env *env, const char *yaml, tp_role role)
{
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");
	tp_plan_entry *entry = NULL;

	ck_assert_msg(dir != NULL, "TELEPORT_PLUGIN_DIR is not set");
	memset(env, 0, sizeof(*env));
	ck_assert_msg(tp_config_load_string(yaml, strlen(yaml), "test.yml",
										&env->config), "config refused");
	(void) tp_loader_scan(dir, &env->set);
	tp_plan_build(env->config, &env->plan);
	for (size_t i = 0; i < env->plan.n; i++)
	{
		if (env->plan.entries[i].role == role)
			entry = &env->plan.entries[i];
	}
	ck_assert_ptr_nonnull(entry);
	{
		tp_plan		one = {entry, 1};

		ck_assert(tp_plan_resolve(&one, &env->set, env->config));
	}
	ck_assert_str_eq(entry->plugin->info->name, "file");
	ck_assert(tp_plugin_initialize(entry->plugin, tp_host_api_get()));
	env->cb = entry->plugin->callbacks;
	env->ctx = tp_host_ctx_new(env->config, "dbname=unused", entry);
	ck_assert_int_eq(env->cb->startup(env->ctx), TP_OK);
}

/* Shut the instance down and free env. */
static void
env_close(tx_env *env)
{
	if (env->ctx != NULL && env->ctx->private_data != NULL)
		env->cb->shutdown(env->ctx);
	tp_host_ctx_free(env->ctx);
	tp_plan_free(&env->plan);
	tp_loader_free(&env->set);
	tp_config_free(env->config);
}

/* One case's world: a spool, a sender, a receiver, its inbox. */
typedef struct world
{
	char	   *dir;			/* temporary, with the spool inside */
	char		spool[1024];
	char		log[1024];		/* stderr of the test process */
	char	   *db;				/* the inbox's database */
	tp_cluster *cluster;
	tp_inbox   *inbox;
	tp_host_services svc;
	tx_env		sender;
	tx_env		receiver;
} world;

/*
 * Make the world of a case: database db on c, a spool directory, the
 * sending instance "src" (target "edge" over the file transport) and the
 * receiving instance "edge" (server options extra, indented four spaces)
 * with an inbox; stderr goes to w->log.
 */
static void
world_open(world *w, tp_cluster *c, const char *db, const char *extra)
{
	char		yaml[4096];
	char	   *conninfo;
	int			fd;

	memset(w, 0, sizeof(*w));
	w->cluster = c;
	w->dir = tp_cluster_make_dir(c, "file-receive");
	ck_assert_ptr_nonnull(w->dir);
	snprintf(w->spool, sizeof(w->spool), "%s/spool", w->dir);
	snprintf(w->log, sizeof(w->log), "%s/stderr", w->dir);
	fflush(stderr);
	fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	tp_log_set_level(TP_LOG_INFO);

	conninfo = tp_cluster_create_db(c, db);
	ck_assert_ptr_nonnull(conninfo);
	w->db = strdup(db);
	w->inbox = tp_inbox_new(conninfo, "edge");
	ck_assert_ptr_nonnull(w->inbox);
	free(conninfo);
	w->svc.inbox = w->inbox;

	snprintf(yaml, sizeof(yaml),
			 "database:\n"
			 "  name: src\n"
			 "  database: postgres\n"
			 "targets:\n"
			 "  edge:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: public\n"
			 "    transport: file\n"
			 "    options:\n"
			 "      directory: \"%s\"\n", w->spool);
	env_open(&w->sender, yaml, TP_ROLE_SEND);

	snprintf(yaml, sizeof(yaml),
			 "database:\n"
			 "  name: edge\n"
			 "  database: \"%s\"\n"
			 "server:\n"
			 "  hostname: 127.0.0.1\n"
			 "  port: 3001\n"
			 "  transport: file\n"
			 "  options:\n"
			 "    directory: \"%s\"\n"
			 "%s", db, w->spool, extra ? extra : "");
	env_open(&w->receiver, yaml, TP_ROLE_RECEIVE);
	ck_assert(w->receiver.ctx->receiving);
	tp_host_ctx_set_services(w->receiver.ctx, &w->svc);
	ck_assert_int_eq(w->receiver.cb->receive_start(w->receiver.ctx), TP_OK);
}

/* Stop and free the world (the directory goes with the cluster). */
static void
world_close(world *w)
{
	w->receiver.cb->receive_stop(w->receiver.ctx);
	env_close(&w->receiver);
	env_close(&w->sender);
	tp_inbox_free(w->inbox);
	tp_remove_tree(w->dir);
	free(w->dir);
	free(w->db);
}

/* Send batch seq of source (n_changes lines) through the sending half. */
static void
send_batch(world *w, const char *source, uint64_t seq, int n_changes)
{
	char	   *data = batch_data(source, seq, n_changes);
	tp_batch	b = make_batch(source, seq, data, (uint64_t) n_changes);

	ck_assert_int_eq(w->sender.cb->send(w->sender.ctx, &b), TP_OK);
	free(data);
}

/* Poll the receiver once; returns its result. */
static tp_result
poll_once(world *w)
{
	return w->receiver.cb->receive_poll(w->receiver.ctx);
}

/* The path of batch seq of source in the spool, written into buf. */
static const char *
batch_path(world *w, const char *source, uint64_t seq, char *buf,
		   size_t len)
{
	snprintf(buf, len, "%s/%s.edge.%020llu.batch", w->spool, source,
			 (unsigned long long) seq);
	return buf;
}

/* Whether batch seq of source has a file in the spool. */
static bool
has_file(world *w, const char *source, uint64_t seq)
{
	char		path[2048];
	struct stat st;

	return stat(batch_path(w, source, seq, path, sizeof(path)), &st) == 0;
}

/* The number of names in dir that end in ".batch" (-1: no dir). */
static int
count_batches(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	int			n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (len > 6 && strcmp(de->d_name + len - 6, ".batch") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Check that the inbox holds exactly seqs 1..n of source, each with the
 * data, counts and ticks the sender wrote.
 */
static void
assert_inbox(world *w, const char *source, uint64_t n)
{
	PGconn	   *conn = tp_cluster_connect(w->cluster, w->db);
	const char *params[1] = {source};
	PGresult   *res;

	ck_assert_ptr_nonnull(conn);
	res = PQexecParams(conn,
					   "SELECT seq, data, n_changes, first_tick, last_tick, kind,"
					   " apply_schema, target FROM teleport.inbox WHERE source = $1"
					   " ORDER BY seq",
					   1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s",
				  PQerrorMessage(conn));
	ck_assert_int_eq(PQntuples(res), (int) n);
	for (uint64_t i = 0; i < n; i++)
	{
		uint64_t	seq = i + 1;
		int			n_changes = (int) (seq % 3) + 1;
		char	   *data = batch_data(source, seq, n_changes);

		ck_assert_uint_eq(strtoull(PQgetvalue(res, (int) i, 0), NULL, 10), seq);
		ck_assert_str_eq(PQgetvalue(res, (int) i, 1), data);
		ck_assert_int_eq(atoi(PQgetvalue(res, (int) i, 2)), n_changes);
		ck_assert_uint_eq(strtoull(PQgetvalue(res, (int) i, 3), NULL, 10), seq);
		ck_assert_uint_eq(strtoull(PQgetvalue(res, (int) i, 4), NULL, 10), seq + 1);
		ck_assert_str_eq(PQgetvalue(res, (int) i, 5), "changes");
		ck_assert_str_eq(PQgetvalue(res, (int) i, 6), "public");
		ck_assert_str_eq(PQgetvalue(res, (int) i, 7), "edge");
		free(data);
	}
	PQclear(res);
	PQfinish(conn);
}

/* Send batch seq of source with the test's usual size. */
static void
send_std(world *w, const char *source, uint64_t seq)
{
	send_batch(w, source, seq, (int) (seq % 3) + 1);
}

/* The number of times needle occurs in the stderr log. */
static int
log_count(world *w, const char *needle)
{
	char	   *text;
	int			n;

	fflush(stderr);
	text = tp_read_file(w->log);
	ck_assert_ptr_nonnull(text);
	n = tp_count(text, needle);
	free(text);
	return n;
}

/* Set the modification time of path a minute back. */
static void
backdate(const char *path)
{
	struct timespec times[2];

	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec -= 60;
	times[1] = times[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

/*
 * Batches 1..5 in order, read at most two per poll: the inbox holds them
 * exactly, the files are gone, a writer's temporary file is left alone.
 */
START_TEST(test_import_in_order)
{
	world		w;
	char	   *tmp;

	world_open(&w, cluster, "in_order", "    max_files_per_poll: 2\n");
	for (uint64_t seq = 1; seq <= 5; seq++)
		send_std(&w, "src", seq);
	/* a sender that crashed mid-write left this */
	tmp = tp_write_file(w.spool, ".tmp-src.edge.00000000000000000006.batch.XyZ123",
						"{\"teleport_batch\":1,");
	ck_assert_ptr_nonnull(tmp);
	ck_assert_int_eq(count_batches(w.spool), 5);

	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 2);
	ck_assert(!has_file(&w, "src", 1) && !has_file(&w, "src", 2));
	ck_assert(has_file(&w, "src", 3));
	ck_assert_int_eq(poll_once(&w), TP_OK);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 5);
	ck_assert_int_eq(count_batches(w.spool), 0);
	ck_assert_int_eq(access(tmp, F_OK), 0);

	/* nothing new: nothing changes */
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 5);
	ck_assert_int_eq(log_count(&w, "rejected"), 0);
	free(tmp);
	world_close(&w);
}
END_TEST

/* keep_delivered: imported files are moved to done/, not removed. */
START_TEST(test_keep_delivered)
{
	world		w;
	char		done[2048];

	world_open(&w, cluster, "keep", "    keep_delivered: true\n");
	send_std(&w, "src", 1);
	send_std(&w, "src", 2);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 2);
	ck_assert_int_eq(count_batches(w.spool), 0);
	snprintf(done, sizeof(done), "%s/done", w.spool);
	ck_assert_int_eq(count_batches(done), 2);
	world_close(&w);
}
END_TEST

/*
 * Air-gapped shipping out of order: 3 arrives before 1 and 2, waits (said
 * once, not at every poll) and is imported after them; another source's
 * stream is not held up meanwhile.
 */
START_TEST(test_out_of_order)
{
	world		w;

	world_open(&w, cluster, "out_of_order", NULL);
	send_std(&w, "src", 3);
	send_std(&w, "other", 1);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 0);
	assert_inbox(&w, "other", 1);
	ck_assert(has_file(&w, "src", 3));
	ck_assert_int_eq(log_count(&w, "src.edge.00000000000000000003.batch\" waits"), 1);

	send_std(&w, "src", 1);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 1);
	ck_assert(has_file(&w, "src", 3));

	send_std(&w, "src", 2);
	send_std(&w, "other", 2);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 3);
	assert_inbox(&w, "other", 2);
	ck_assert_int_eq(count_batches(w.spool), 0);
	world_close(&w);
}
END_TEST

/*
 * A batch file sent again after its import is a duplicate: removed, not
 * stored twice. A different batch under an imported seq is a conflict:
 * rejected, the stored one untouched.
 */
START_TEST(test_duplicate_and_conflict)
{
	world		w;
	char		path[4096];
	char		rejected[2048];
	char	   *data;
	tp_batch	b;

	world_open(&w, cluster, "duplicate", NULL);
	send_std(&w, "src", 1);
	send_std(&w, "src", 2);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 2);

	send_std(&w, "src", 2);
	ck_assert(has_file(&w, "src", 2));
	ck_assert_int_eq(poll_once(&w), TP_OK);
	ck_assert(!has_file(&w, "src", 2));
	assert_inbox(&w, "src", 2);

	data = batch_data("src", 2, 7);
	b = make_batch("src", 2, data, 7);
	ck_assert_int_eq(w.sender.cb->send(w.sender.ctx, &b), TP_OK);
	free(data);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	ck_assert(!has_file(&w, "src", 2));
	snprintf(rejected, sizeof(rejected), "%s/rejected", w.spool);
	ck_assert_int_eq(count_batches(rejected), 1);
	snprintf(path, sizeof(path), "%s/src.edge.00000000000000000002.batch", rejected);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(log_count(&w, "another batch with that seq is stored"), 1);
	assert_inbox(&w, "src", 2);
	world_close(&w);
}
END_TEST

/*
 * A truncated file and one whose name disagrees with its header are
 * rejected (logged with the file's name and the reason), nothing of them
 * stored; the others are imported; the stream resumes once the batch is
 * sent again.
 */
START_TEST(test_corrupt_files)
{
	world		w;
	char		path[2048];
	char		rejected[2048];
	char	   *text;
	char	   *copy;
	size_t		len;

	world_open(&w, cluster, "corrupt", NULL);
	for (uint64_t seq = 1; seq <= 3; seq++)
		send_std(&w, "src", seq);
	send_std(&w, "other", 1);

	/* 2 cut in half */
	batch_path(&w, "src", 2, path, sizeof(path));
	text = tp_read_file(path);
	ck_assert_ptr_nonnull(text);
	len = strlen(text);
	ck_assert_int_eq(truncate(path, (off_t) (len / 2)), 0);
	backdate(path);
	/* other's batch 1 also under the name of its batch 2 */
	batch_path(&w, "other", 1, path, sizeof(path));
	free(text);
	text = tp_read_file(path);
	copy = tp_write_file(w.spool, "other.edge.00000000000000000002.batch", text);
	ck_assert_ptr_nonnull(copy);

	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 1);
	assert_inbox(&w, "other", 1);
	ck_assert(!has_file(&w, "src", 2));
	ck_assert(has_file(&w, "src", 3));	/* waits for 2 */
	snprintf(rejected, sizeof(rejected), "%s/rejected", w.spool);
	ck_assert_int_eq(count_batches(rejected), 2);
	ck_assert_int_eq(log_count(&w, "rejected file \""), 2);
	ck_assert_int_eq(log_count(&w, "src.edge.00000000000000000002.batch\": the batch is truncated"), 1);
	ck_assert_int_eq(log_count(&w, "other.edge.00000000000000000002.batch\": its header is that of batch 1"), 1);

	/* polls again: nothing new, nothing logged again */
	ck_assert_int_eq(poll_once(&w), TP_OK);
	ck_assert_int_eq(log_count(&w, "rejected file \""), 2);

	send_std(&w, "src", 2);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 3);
	assert_inbox(&w, "other", 1);
	ck_assert_int_eq(count_batches(w.spool), 0);
	free(copy);
	free(text);
	world_close(&w);
}
END_TEST

/* Shutting down: a poll imports nothing more, and leaves every file. */
START_TEST(test_stopping)
{
	world		w;

	world_open(&w, cluster, "stopping", NULL);
	send_std(&w, "src", 1);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 1);
	send_std(&w, "src", 2);
	send_std(&w, "src", 3);
	tp_host_request_stop();
	ck_assert(w.receiver.ctx->host->stopping(w.receiver.ctx));
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 1);
	ck_assert_int_eq(count_batches(w.spool), 2);
	world_close(&w);
}
END_TEST

/*
 * The database goes down: the poll answers TP_RETRY and every file stays;
 * once it is back the same inbox reconnects and imports them.
 */
START_TEST(test_database_down)
{
	world		w;

	ck_assert_ptr_nonnull(own);
	world_open(&w, own, "down", NULL);
	send_std(&w, "src", 1);
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 1);

	ck_assert(tp_cluster_stop(own));
	send_std(&w, "src", 2);
	send_std(&w, "src", 3);
	ck_assert_int_eq(poll_once(&w), TP_RETRY);
	ck_assert_int_eq(poll_once(&w), TP_RETRY);
	ck_assert(has_file(&w, "src", 2) && has_file(&w, "src", 3));
	ck_assert_int_eq(log_count(&w, "until the inbox is available"), 1);

	ck_assert(tp_cluster_restart(own));
	ck_assert_int_eq(poll_once(&w), TP_OK);
	assert_inbox(&w, "src", 3);
	ck_assert_int_eq(count_batches(w.spool), 0);
	world_close(&w);
}
END_TEST

/* The suite: the shared cluster, and one of its own to stop. */
static Suite *
file_receive_suite(void)
{
	Suite	   *s = suite_create("file_receive");
	TCase	   *tc = tcase_create("import");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_import_in_order);
	tcase_add_test(tc, test_keep_delivered);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_duplicate_and_conflict);
	tcase_add_test(tc, test_corrupt_files);
	tcase_add_test(tc, test_stopping);
	suite_add_tcase(s, tc);

	tc = tcase_create("database_down");
	tcase_add_unchecked_fixture(tc, start_own_cluster, destroy_own_cluster);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_database_down);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(file_receive_suite());
}
