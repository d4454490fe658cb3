/*
 * check_transports.c
 *     Unit tests of the built-in stdout and file transports, loaded from the
 *     build tree through the core's loader, configured from YAML and run
 *     with the real host services, as the daemon will.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "plan.h"
#include "runcmd.h"

/* Three change lines, with a value no double could hold. */
static const char data_a[] =
	"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,"
	"\"n\":1234567890123456789012345678901234567890,\"z\":-0},"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":10,\"seq\":1,\"batch\":1},\"ts_ms\":1795000000000}\n"
	"{\"op\":\"u\",\"before\":{\"id\":1},\"after\":{\"id\":1,"
	"\"note\":\"\U0001F600\"},"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":10,\"seq\":2,\"batch\":1},\"ts_ms\":1795000000000}\n"
	"{\"op\":\"d\",\"before\":{\"id\":1},\"after\":null,"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":11,\"seq\":3,\"batch\":1},\"ts_ms\":1795000000000}\n";

/* One other change line. */
static const char data_b[] =
	"{\"op\":\"t\",\"before\":null,\"after\":null,"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":12,\"seq\":4,\"batch\":2},\"ts_ms\":1795000001000}\n";

/* $TELEPORT_PLUGIN_DIR, the built plugins; the test fails without it. */
static const char *
plugin_dir(void)
{
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");

	ck_assert_msg(dir != NULL, "TELEPORT_PLUGIN_DIR is not set");
	return dir;
}

/* A plugin instance set up as the daemon sets one up. */
typedef struct tx_env
{
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
	tp_plan_entry *entry;
	tp_plugin_ctx *ctx;
	const tp_transport_callbacks *cb;
} tx_env;

/*
 * Load the config text, the plugins of $TELEPORT_PLUGIN_DIR and the plan;
 * find the transport of role (the sending half of target "out", or the
 * receiving half), check its options and initialise it. The caller then
 * calls env->cb->startup.
 */
static void
env_open_role(tx_env *env, const char *yaml, tp_role role)
{
	const char *dir = plugin_dir();

	memset(env, 0, sizeof(*env));
	ck_assert_msg(tp_config_load_string(yaml, strlen(yaml), "test.yml",
										&env->config), "config refused");
	/* the directory may hold other plugins; only ours matter here */
	(void) tp_loader_scan(dir, &env->set);
	tp_plan_build(env->config, &env->plan);
	for (size_t i = 0; i < env->plan.n; i++)
	{
		tp_plan_entry *e = &env->plan.entries[i];

		if (e->role == role &&
			(role != TP_ROLE_SEND || strcmp(e->target, "out") == 0))
			env->entry = e;
	}
	ck_assert_ptr_nonnull(env->entry);
	/* resolve this entry alone: the sources need not be built for this */
	{
		tp_plan	one = {env->entry, 1};

		ck_assert_msg(tp_plan_resolve(&one, &env->set, env->config),
					  "plugin \"%s\" not found in %s or its options refused",
					  env->entry->plugin_name, dir);
	}
	ck_assert_ptr_nonnull(env->entry->plugin);
	ck_assert_int_eq(env->entry->plugin->info->kind, TP_PLUGIN_TRANSPORT);
	ck_assert(tp_plugin_initialize(env->entry->plugin, tp_host_api_get()));
	env->cb = env->entry->plugin->callbacks;
	ck_assert_ptr_nonnull(env->cb);
	ck_assert_ptr_nonnull(env->cb->send);
	if (strcmp(env->entry->plugin->info->name, "stdout") == 0)
		ck_assert_ptr_null(env->cb->receive_start);
	else
	{
		ck_assert_ptr_nonnull(env->cb->receive_start);
		ck_assert_ptr_nonnull(env->cb->receive_poll);
		ck_assert_ptr_nonnull(env->cb->receive_stop);
	}
	env->ctx = tp_host_ctx_new(env->config, "dbname=src", env->entry);
	ck_assert_ptr_nonnull(env->ctx);
	ck_assert(env->ctx->receiving == (role == TP_ROLE_RECEIVE));
}

/* env_open_role for the sending half of target "out". */
static void
env_open(tx_env *env, const char *yaml)
{
	env_open_role(env, yaml, TP_ROLE_SEND);
}

/* Shut the instance down (if started) and free everything of env. */
static void
env_close(tx_env *env)
{
	if (env->ctx != NULL && env->ctx->private_data != NULL &&
		env->cb->shutdown != NULL)
		env->cb->shutdown(env->ctx);
	tp_host_ctx_free(env->ctx);
	tp_plan_free(&env->plan);
	tp_loader_free(&env->set);
	tp_config_free(env->config);
}

/* A batch of src to out over data (a string literal). */
static tp_batch
make_batch(uint64_t seq, const char *data, uint64_t n_changes)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = "src";
	b.target = "out";
	b.seq = seq;
	b.n_changes = n_changes;
	b.first_tick = seq;
	b.last_tick = seq + 1;
	b.apply_schema = "test";
	b.data = data;
	b.data_len = strlen(data);
	return b;
}

/* All of the file at path, NUL-terminated (free); its length in *len. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		size;

	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	buf = malloc((size_t) size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t) size, f), (size_t) size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t) size;
	return buf;
}

/* Point standard output at a new file in dir; returns its path (free). */
static char *
stdout_to_file(const char *dir)
{
	char	   *path = malloc(strlen(dir) + 16);
	int			fd;

	ck_assert_ptr_nonnull(path);
	sprintf(path, "%s/stdout", dir);
	fflush(stdout);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	return path;
}

/* stdout targets: the default, and with header: true. */
static const char stdout_yaml[] =
	"database:\n"
	"  name: src\n"
	"  database: postgres\n"
	"targets:\n"
	"  out:\n"
	"    target_expression: \"public.*\"\n"
	"    apply_schema: test\n"
	"    transport: stdout\n";

static const char stdout_header_yaml[] =
	"database:\n"
	"  name: src\n"
	"  database: postgres\n"
	"targets:\n"
	"  out:\n"
	"    target_expression: \"public.*\"\n"
	"    apply_schema: test\n"
	"    transport: stdout\n"
	"    options:\n"
	"      header: true\n";

START_TEST(test_stdout_lines)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-stdout");
	char	   *out;
	char	   *text;
	size_t		len;
	tp_batch	a = make_batch(1, data_a, 3);
	tp_batch	b = make_batch(2, data_b, 1);

	ck_assert_ptr_nonnull(dir);
	env_open(&env, stdout_yaml);
	ck_assert_str_eq(env.entry->plugin->info->name, "stdout");
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	out = stdout_to_file(dir);

	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);
	/* flushed before send returned: the lines are in the file already */
	text = slurp(out, &len);
	ck_assert_str_eq(text, data_a);
	free(text);

	ck_assert_int_eq(env.cb->send(env.ctx, &b), TP_OK);
	text = slurp(out, &len);
	ck_assert_uint_eq(len, strlen(data_a) + strlen(data_b));
	ck_assert_int_eq(strncmp(text, data_a, strlen(data_a)), 0);
	ck_assert_str_eq(text + strlen(data_a), data_b);
	free(text);

	env_close(&env);
	tp_remove_tree(dir);
	free(out);
	free(dir);
}
END_TEST

START_TEST(test_stdout_header)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-stdout");
	char	   *out;
	char	   *text;
	size_t		len;
	tp_batch	a = make_batch(5, data_a, 3);
	tp_batch   *parsed = NULL;
	char		reason[256];

	ck_assert_ptr_nonnull(dir);
	env_open(&env, stdout_header_yaml);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	out = stdout_to_file(dir);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);

	/* the output is the batch's whole wire form */
	text = slurp(out, &len);
	ck_assert_int_eq(tp_batch_parse(text, len, &parsed, reason,
									sizeof(reason)), TP_OK);
	ck_assert_uint_eq(parsed->seq, 5);
	ck_assert_str_eq(parsed->source, "src");
	ck_assert_str_eq(parsed->target, "out");
	ck_assert_uint_eq(parsed->n_changes, 3);
	ck_assert_str_eq(parsed->data, data_a);
	ck_assert_ptr_nonnull(strstr(text, "{\"teleport_batch\":1,"));
	tp_batch_free(parsed);
	free(text);

	env_close(&env);
	tp_remove_tree(dir);
	free(out);
	free(dir);
}
END_TEST

START_TEST(test_stdout_broken_pipe)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-stdout");
	char	   *out;
	char	   *text;
	size_t		len;
	int			fds[2];
	tp_batch	a = make_batch(1, data_a, 3);

	ck_assert_ptr_nonnull(dir);
	/* as the daemon does: a closed reader is EPIPE, not a signal */
	signal(SIGPIPE, SIG_IGN);
	env_open(&env, stdout_yaml);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);

	ck_assert_int_eq(pipe(fds), 0);
	fflush(stdout);
	ck_assert_int_eq(dup2(fds[1], STDOUT_FILENO), STDOUT_FILENO);
	close(fds[1]);
	close(fds[0]);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_RETRY);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_RETRY);

	/* the reader is back: the same batch goes through in full */
	out = stdout_to_file(dir);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);
	text = slurp(out, &len);
	ck_assert_uint_ge(len, strlen(data_a));
	ck_assert_str_eq(text + len - strlen(data_a), data_a);
	free(text);

	env_close(&env);
	tp_remove_tree(dir);
	free(out);
	free(dir);
}
END_TEST

START_TEST(test_stdout_options_checked)
{
	static const char yaml[] =
		"database:\n"
		"  name: src\n"
		"targets:\n"
		"  out:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: test\n"
		"    transport: stdout\n"
		"    options:\n"
		"      header: maybe\n"
		"      colour: blue\n";
	tp_config  *config = NULL;
	tp_plugin_set set;
	tp_plugin  *plugin;
	const tp_option_desc *opt;

	ck_assert(tp_config_load_string(yaml, strlen(yaml), "test.yml", &config));
	(void) tp_loader_scan(plugin_dir(), &set);
	plugin = tp_loader_require(&set, "stdout", TP_PLUGIN_TRANSPORT,
							   "targets.out.transport");
	ck_assert_ptr_nonnull(plugin);
	ck_assert(!tp_config_check_options(config, "targets.out.options",
									   config->targets[0].options,
									   plugin->info->options));
	/* every option is described */
	for (opt = plugin->info->options; opt->name != NULL; opt++)
		ck_assert(opt->description != NULL && opt->description[0] != '\0');
	tp_loader_free(&set);
	tp_config_free(config);
}
END_TEST

/* The file target, with directory DIR/spool (filled in by file_yaml). */
static char *
file_yaml(const char *directory, const char *extra)
{
	static const char fmt[] =
		"database:\n"
		"  name: src\n"
		"  database: postgres\n"
		"targets:\n"
		"  out:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: test\n"
		"    transport: file\n"
		"    options:\n"
		"      directory: \"%s\"\n"
		"%s";
	size_t		len = sizeof(fmt) + strlen(directory) + strlen(extra);
	char	   *yaml = malloc(len);

	ck_assert_ptr_nonnull(yaml);
	snprintf(yaml, len, fmt, directory, extra);
	return yaml;
}

/* The number of entries of dir, not counting "." and "..". */
static int
count_entries(const char *dir)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	int			n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
	{
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Whether path exists. */
static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

START_TEST(test_file_write_and_resend)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-file");
	char		spool[1024];
	char		path[4096];
	char	   *yaml;
	char	   *text;
	size_t		len;
	tp_batch	a = make_batch(7, data_a, 3);
	tp_batch	other = make_batch(7, data_b, 1);
	tp_batch   *parsed = NULL;
	char		reason[256];
	struct stat st;

	ck_assert_ptr_nonnull(dir);
	/* a missing directory, two levels deep, is created */
	snprintf(spool, sizeof(spool), "%s/spool/in", dir);
	yaml = file_yaml(spool, "");
	env_open(&env, yaml);
	ck_assert_str_eq(env.entry->plugin->info->name, "file");
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);

	ck_assert_int_eq(stat(spool, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/src.out.00000000000000000007.batch", spool);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(count_entries(spool), 1);	/* no temporary file left */

	/* the file is the wire form, and parses back to the batch */
	text = slurp(path, &len);
	ck_assert_int_eq(tp_batch_parse(text, len, &parsed, reason,
									sizeof(reason)), TP_OK);
	ck_assert_uint_eq(parsed->seq, 7);
	ck_assert_int_eq(parsed->kind, TP_BATCH_CHANGES);
	ck_assert_str_eq(parsed->source, "src");
	ck_assert_str_eq(parsed->target, "out");
	ck_assert_str_eq(parsed->apply_schema, "test");
	ck_assert_uint_eq(parsed->n_changes, 3);
	ck_assert_uint_eq(parsed->first_tick, 7);
	ck_assert_uint_eq(parsed->last_tick, 8);
	ck_assert_uint_eq(parsed->data_len, strlen(data_a));
	ck_assert_str_eq(parsed->data, data_a);
	tp_batch_free(parsed);

	/* sent again after a crash: the same content is fine */
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);
	ck_assert_int_eq(count_entries(spool), 1);

	/* another batch with the same seq is an error, and changes nothing */
	ck_assert_int_eq(env.cb->send(env.ctx, &other), TP_ERROR);
	{
		size_t		len2;
		char	   *text2 = slurp(path, &len2);

		ck_assert_uint_eq(len2, len);
		ck_assert_int_eq(memcmp(text, text2, len), 0);
		free(text2);
	}
	ck_assert_int_eq(count_entries(spool), 1);
	free(text);

	/* the next seqs: names sort in seq order */
	other.seq = 10;
	ck_assert_int_eq(env.cb->send(env.ctx, &other), TP_OK);
	snprintf(path, sizeof(path), "%s/src.out.00000000000000000010.batch", spool);
	ck_assert(exists(path));
	ck_assert_int_eq(count_entries(spool), 2);

	env_close(&env);
	tp_remove_tree(dir);
	free(yaml);
	free(dir);
}
END_TEST

START_TEST(test_file_unwritable)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-file");
	char	   *regular;
	char		spool[1024];
	char	   *yaml;
	tp_batch	a = make_batch(1, data_a, 3);

	ck_assert_ptr_nonnull(dir);
	/* a directory below a regular file can never be made */
	regular = tp_write_file(dir, "regular", "not a directory\n");
	ck_assert_ptr_nonnull(regular);
	snprintf(spool, sizeof(spool), "%s/spool", regular);
	yaml = file_yaml(spool, "");
	env_open(&env, yaml);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_RETRY);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_RETRY);
	ck_assert_int_eq(count_entries(dir), 1);

	/* the disk is back */
	ck_assert_int_eq(unlink(regular), 0);
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);
	ck_assert_int_eq(count_entries(spool), 1);

	env_close(&env);
	tp_remove_tree(dir);
	free(regular);
	free(yaml);
	free(dir);
}
END_TEST

START_TEST(test_file_no_create)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-file");
	char		spool[1024];
	char		stale[4096];
	char		foreign[4096];
	char	   *yaml;
	char	   *file;
	tp_batch	a = make_batch(3, data_a, 3);

	ck_assert_ptr_nonnull(dir);
	snprintf(spool, sizeof(spool), "%s/mnt", dir);
	yaml = file_yaml(spool, "      create_directory: false\n");
	env_open(&env, yaml);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	/* not mounted yet: wait, do not create */
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_RETRY);
	ck_assert(!exists(spool));
	env_close(&env);

	/* mounted, with a crashed write of ours and a file of another pair */
	ck_assert_int_eq(mkdir(spool, 0700), 0);
	file = tp_write_file(spool, ".tmp-src.out.00000000000000000003.batch.AbCdEf",
						 "partial");
	snprintf(stale, sizeof(stale), "%s", file);
	free(file);
	file = tp_write_file(spool, ".tmp-src.other.00000000000000000003.batch.AbCdEf",
						 "partial");
	snprintf(foreign, sizeof(foreign), "%s", file);
	free(file);

	env_open(&env, yaml);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert(!exists(stale));
	ck_assert(exists(foreign));
	ck_assert_int_eq(env.cb->send(env.ctx, &a), TP_OK);
	ck_assert_int_eq(count_entries(spool), 2);
	env_close(&env);

	tp_remove_tree(dir);
	free(yaml);
	free(dir);
}
END_TEST

START_TEST(test_file_directory_required)
{
	static const char yaml[] =
		"database:\n"
		"  name: src\n"
		"targets:\n"
		"  out:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: test\n"
		"    transport: file\n";
	tp_config  *config = NULL;
	tp_plugin_set set;
	tp_plugin  *plugin;

	ck_assert(tp_config_load_string(yaml, strlen(yaml), "test.yml", &config));
	(void) tp_loader_scan(plugin_dir(), &set);
	plugin = tp_loader_require(&set, "file", TP_PLUGIN_TRANSPORT,
							   "targets.out.transport");
	ck_assert_ptr_nonnull(plugin);
	ck_assert(!tp_config_check_options(config, "targets.out.options",
									   config->targets[0].options,
									   plugin->info->options));
	tp_loader_free(&set);
	tp_config_free(config);
}
END_TEST

/* A receiving instance "edge" importing from directory, options extra. */
static char *
file_server_yaml(const char *directory, const char *extra)
{
	static const char fmt[] =
		"database:\n"
		"  name: edge\n"
		"  database: postgres\n"
		"server:\n"
		"  hostname: 127.0.0.1\n"
		"  port: 3001\n"
		"  transport: file\n"
		"  options:\n"
		"    directory: \"%s\"\n"
		"%s";
	size_t		len = sizeof(fmt) + strlen(directory) + strlen(extra);
	char	   *yaml = malloc(len);

	ck_assert_ptr_nonnull(yaml);
	snprintf(yaml, len, fmt, directory, extra);
	return yaml;
}

/* Set the modification time of path seconds from now (back if negative). */
static void
set_mtime(const char *path, int seconds)
{
	struct timespec times[2];

	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[0].tv_sec += seconds;
	times[1] = times[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* Error lines of the log, gathered by the log sink. */
typedef struct error_lines
{
	char		text[16384];
	size_t		len;
} error_lines;

/* Log sink: append the line to the error_lines arg (truncating). */
static void
gather_errors(void *arg, tp_log_level level, const char *component,
			  const char *message)
{
	error_lines *e = arg;
	int			n;

	(void) level;
	if (e->len >= sizeof(e->text) - 1)
		return;
	n = snprintf(e->text + e->len, sizeof(e->text) - e->len, "%s: %s\n",
				 component, message);
	if (n > 0)
		e->len += (size_t) n < sizeof(e->text) - e->len ?
			(size_t) n : sizeof(e->text) - e->len - 1;
}

START_TEST(test_file_receive_options)
{
	static const char no_options[] =
		"database:\n"
		"  name: edge\n"
		"server:\n"
		"  hostname: 127.0.0.1\n"
		"  port: 3001\n"
		"  transport: file\n";
	tp_config  *config = NULL;
	tp_plugin_set set;
	tp_plugin  *plugin;
	char	   *yaml;
	tx_env		env;

	/* receiving needs a directory too */
	ck_assert(tp_config_load_string(no_options, strlen(no_options), "test.yml",
									&config));
	(void) tp_loader_scan(plugin_dir(), &set);
	plugin = tp_loader_require(&set, "file", TP_PLUGIN_TRANSPORT,
							   "server.transport");
	ck_assert_ptr_nonnull(plugin);
	ck_assert(config->has_server);
	ck_assert(!tp_config_check_options(config, "server.options",
									   config->server.options,
									   plugin->info->options));
	tp_config_free(config);

	/* a boolean that is not one is refused by the host */
	yaml = file_server_yaml("/nonexistent/spool", "    keep_delivered: maybe\n");
	ck_assert(tp_config_load_string(yaml, strlen(yaml), "test.yml", &config));
	ck_assert(!tp_config_check_options(config, "server.options",
									   config->server.options,
									   plugin->info->options));
	tp_config_free(config);
	free(yaml);
	tp_loader_free(&set);

	/* and a count that is not positive by the plugin */
	yaml = file_server_yaml("/nonexistent/spool", "    max_files_per_poll: 0\n");
	env_open_role(&env, yaml, TP_ROLE_RECEIVE);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_ERROR);
	ck_assert_ptr_null(env.ctx->private_data);
	env_close(&env);
	free(yaml);
}
END_TEST

START_TEST(test_file_receive_start)
{
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-file");
	char		spool[1024];
	char	   *yaml;
	struct stat st;

	ck_assert_ptr_nonnull(dir);
	/* missing: created, like the sending half does */
	snprintf(spool, sizeof(spool), "%s/in/spool", dir);
	yaml = file_server_yaml(spool, "");
	env_open_role(&env, yaml, TP_ROLE_RECEIVE);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert(!exists(spool));
	ck_assert_int_eq(env.cb->receive_start(env.ctx), TP_OK);
	ck_assert_int_eq(stat(spool, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* nothing there: nothing to do */
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_OK);
	ck_assert_int_eq(count_entries(spool), 0);
	env.cb->receive_stop(env.ctx);
	env_close(&env);
	free(yaml);

	/* not mounted: wait for it, do not create it */
	snprintf(spool, sizeof(spool), "%s/mnt", dir);
	yaml = file_server_yaml(spool, "    create_directory: false\n");
	env_open_role(&env, yaml, TP_ROLE_RECEIVE);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert_int_eq(env.cb->receive_start(env.ctx), TP_RETRY);
	ck_assert_int_eq(env.cb->receive_start(env.ctx), TP_RETRY);
	ck_assert(!exists(spool));
	ck_assert_int_eq(mkdir(spool, 0700), 0);
	ck_assert_int_eq(env.cb->receive_start(env.ctx), TP_OK);
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_OK);
	/* unmounted again while running */
	ck_assert_int_eq(rmdir(spool), 0);
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);
	ck_assert(!exists(spool));
	env.cb->receive_stop(env.ctx);
	env_close(&env);
	free(yaml);

	tp_remove_tree(dir);
	free(dir);
}
END_TEST

/*
 * Without an inbox (no services: deliver answers UNAVAILABLE) good files
 * stay; what can never be imported is rejected all the same, and what is
 * no batch file is left alone.
 */
START_TEST(test_file_receive_rejects)
{
	tx_env		send_env;
	tx_env		env;
	char	   *dir = tp_make_temp_dir("tp-file");
	char		spool[1024];
	char		rejected[2048];
	char		path[4096];
	char	   *send_yaml;
	char	   *yaml;
	char	   *file;
	char	   *wire;
	size_t		wire_len;
	tp_batch	a = make_batch(1, data_a, 3);
	tp_batch	b = make_batch(2, data_b, 1);
	error_lines *errors = calloc(1, sizeof(error_lines));

	ck_assert_ptr_nonnull(dir);
	ck_assert_ptr_nonnull(errors);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(rejected, sizeof(rejected), "%s/rejected", spool);
	send_yaml = file_yaml(spool, "");
	env_open(&send_env, send_yaml);
	ck_assert_int_eq(send_env.cb->startup(send_env.ctx), TP_OK);
	ck_assert_int_eq(send_env.cb->send(send_env.ctx, &a), TP_OK);
	ck_assert_int_eq(send_env.cb->send(send_env.ctx, &b), TP_OK);
	snprintf(path, sizeof(path), "%s/src.out.00000000000000000001.batch", spool);
	wire = slurp(path, &wire_len);

	/* a writer's temporary file, and a file that is no batch's */
	free(tp_write_file(spool, ".tmp-src.out.00000000000000000003.batch.AbCdEf",
					   "partial"));
	free(tp_write_file(spool, "notes.txt", "not a batch\n"));
	/* garbage, settled */
	file = tp_write_file(spool, "a.b.00000000000000000001.batch", "garbage\n");
	set_mtime(file, -60);
	free(file);
	/* a valid batch under another batch's name */
	file = tp_write_file(spool, "a.c.00000000000000000002.batch", wire);
	free(file);
	/* a name that is no batch file's */
	file = tp_write_file(spool, "junk.batch", wire);
	free(file);
	/* a truncated batch written just now: perhaps still being copied */
	wire[wire_len / 2] = '\0';
	file = tp_write_file(spool, "b.x.00000000000000000001.batch", wire);

	yaml = file_server_yaml(spool, "");
	env_open_role(&env, yaml, TP_ROLE_RECEIVE);
	ck_assert_int_eq(env.cb->startup(env.ctx), TP_OK);
	ck_assert_int_eq(env.cb->receive_start(env.ctx), TP_OK);
	tp_log_set_sink(gather_errors, errors);
	/* the inbox is unavailable: retry later */
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);

	ck_assert_int_eq(count_entries(rejected), 3);
	snprintf(path, sizeof(path), "%s/a.b.00000000000000000001.batch", rejected);
	ck_assert(exists(path));
	snprintf(path, sizeof(path), "%s/a.c.00000000000000000002.batch", rejected);
	ck_assert(exists(path));
	snprintf(path, sizeof(path), "%s/junk.batch", rejected);
	ck_assert(exists(path));
	/* each logged with its name and why */
	ck_assert_msg(tp_contains(errors->text,
							  "/a.b.00000000000000000001.batch\": the batch header"),
				  "log:\n%s", errors->text);
	ck_assert_msg(tp_contains(errors->text,
							  "whose file name is \"src.out.00000000000000000001.batch\""),
				  "log:\n%s", errors->text);
	ck_assert_msg(tp_contains(errors->text, "is not \"<source>.<target>.<seq as 20 digits>.batch\""),
				  "log:\n%s", errors->text);
	ck_assert_msg(tp_contains(errors->text, "nothing of it was imported"),
				  "log:\n%s", errors->text);

	/* left: the good files, the fresh one, and what is not ours */
	ck_assert(exists(file));
	snprintf(path, sizeof(path), "%s/src.out.00000000000000000001.batch", spool);
	ck_assert(exists(path));
	snprintf(path, sizeof(path), "%s/src.out.00000000000000000002.batch", spool);
	ck_assert(exists(path));
	snprintf(path, sizeof(path), "%s/.tmp-src.out.00000000000000000003.batch.AbCdEf",
			 spool);
	ck_assert(exists(path));
	snprintf(path, sizeof(path), "%s/notes.txt", spool);
	ck_assert(exists(path));
	ck_assert_int_eq(count_entries(spool), 6);

	/*
	 * The fresh one stays malformed: left while its time is within a few
	 * seconds of the clock's, also ahead of it (file times can run ahead
	 * of time(2) by a tick, or of a clock a little behind the writer's);
	 * rejected once it settled, or when its time is far ahead.
	 */
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);
	ck_assert(exists(file));
	set_mtime(file, 2);
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);
	ck_assert(exists(file));
	set_mtime(file, 60);
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);
	ck_assert(!exists(file));
	ck_assert_int_eq(count_entries(rejected), 4);

	/* the same bad name again does not overwrite the first one */
	free(file);
	file = tp_write_file(spool, "junk.batch", "other garbage\n");
	ck_assert_int_eq(env.cb->receive_poll(env.ctx), TP_RETRY);
	ck_assert(!exists(file));
	snprintf(path, sizeof(path), "%s/junk.batch.1", rejected);
	ck_assert(exists(path));
	ck_assert_int_eq(count_entries(rejected), 5);
	ck_assert_int_eq(count_entries(spool), 5);
	tp_log_set_sink(NULL, NULL);

	env.cb->receive_stop(env.ctx);
	env_close(&env);
	env_close(&send_env);
	tp_remove_tree(dir);
	free(errors);
	free(file);
	free(wire);
	free(yaml);
	free(send_yaml);
	free(dir);
}
END_TEST

/*
 * Check with nm that the plugin library stem exports only its entry and
 * needs no symbol of the core.
 */
static void
check_exports(const char *stem)
{
	char		cmd[4096];
	char	   *const argv[] = {"/bin/sh", "-c", cmd, NULL};
	tp_cmd_result res;
	const char *dir = plugin_dir();

	snprintf(cmd, sizeof(cmd),
			 "command -v nm >/dev/null || exit 77; "
			 "nm -D --defined-only '%s/.libs/%s.so' | awk '{print $NF}'; "
			 "echo ---; nm -D --undefined-only '%s/.libs/%s.so' | awk '{print $NF}'",
			 dir, stem, dir, stem);
	ck_assert(tp_run_cmd(argv, NULL, 30, &res));
	if (res.status == 77)
	{
		tp_cmd_result_free(&res);
		return;					/* no nm here: nothing to check */
	}
	ck_assert_msg(res.status == 0, "nm failed: %s", res.err);
	ck_assert_msg(strncmp(res.out, "teleport_plugin_info\n---\n", 25) == 0,
				  "%s.so exports more than its entry:\n%s", stem, res.out);
	ck_assert_msg(!tp_contains(res.out, "\ntp_"),
				  "%s.so needs core symbols:\n%s", stem, res.out);
	tp_cmd_result_free(&res);
}

START_TEST(test_exports)
{
	check_exports("stdout");
	check_exports("file");
}
END_TEST

/* Quieter logs: the tests cause warnings on purpose. */
static void
setup(void)
{
	tp_log_set_level(TP_LOG_ERROR);
}

/* The suite: stdout, file, and what both export. */
static Suite *
transports_suite(void)
{
	Suite	   *s = suite_create("transports");
	TCase	   *tc = tcase_create("stdout");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_stdout_lines);
	tcase_add_test(tc, test_stdout_header);
	tcase_add_test(tc, test_stdout_broken_pipe);
	tcase_add_test(tc, test_stdout_options_checked);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_file_write_and_resend);
	tcase_add_test(tc, test_file_unwritable);
	tcase_add_test(tc, test_file_no_create);
	tcase_add_test(tc, test_file_directory_required);
	tcase_add_test(tc, test_file_receive_options);
	tcase_add_test(tc, test_file_receive_start);
	tcase_add_test(tc, test_file_receive_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("exports");
	tcase_add_test(tc, test_exports);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; exit status 0 when every test passed. */
int
main(void)
{
	return tp_check_run(transports_suite());
}
