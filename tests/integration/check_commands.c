/*
 * check_commands.c
 *     The teleport binary end to end, without a database: --version, --help,
 *     usage errors, --list-plugins over the test plugins, the refusals of the
 *     loader as a user sees them, invalid configs, and the log's format.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/abi.h>

#include "checkmain.h"
#include "exit_codes.h"
#include "runcmd.h"

/* The test plugins' directory named sub, as a new string. */
static char *
plugins(const char *sub)
{
	const char *base = getenv("TP_TEST_PLUGINS");
	char	   *path = malloc(4096);

	ck_assert_msg(base != NULL, "TP_TEST_PLUGINS is not set");
	snprintf(path, 4096, "%s/%s", base, sub);
	return path;
}

/* A config file in a new temp dir; *dir receives the dir (free both). */
static char *
config_file(const char *text, char **dir)
{
	*dir = tp_make_temp_dir("tp-commands");
	ck_assert_ptr_nonnull(*dir);
	return tp_write_file(*dir, "teleport.yml", text);
}

START_TEST(test_version_and_help)
{
	tp_cmd_result res;
	char		expect[64];

	ck_assert(tp_run_teleport(&res, "--version", (char *) NULL));
	ck_assert_int_eq(res.status, TP_EXIT_OK);
	snprintf(expect, sizeof(expect), "teleport %s (plugin ABI %d.%d)", PACKAGE_VERSION,
			 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	ck_assert_msg(tp_contains(res.out, expect), "out: %s", res.out);
	tp_cmd_result_free(&res);

	ck_assert(tp_run_teleport(&res, "--help", (char *) NULL));
	ck_assert_int_eq(res.status, TP_EXIT_OK);
	ck_assert(tp_contains(res.out, "teleport -config FILE [-mode replication|initial-load]"));
	tp_cmd_result_free(&res);
}
END_TEST

START_TEST(test_usage_error_exit_status)
{
	tp_cmd_result res;

	ck_assert(tp_run_teleport(&res, "-mode", "initial-load", (char *) NULL));
	ck_assert_int_eq(res.status, TP_EXIT_USAGE);
	ck_assert(tp_contains(res.err, "-config FILE is required"));
	ck_assert(tp_contains(res.err, "Usage:"));
	ck_assert_str_eq(res.out, "");
	tp_cmd_result_free(&res);
}
END_TEST

START_TEST(test_list_plugins)
{
	char		expect[128];
	tp_cmd_result res;
	char	   *dir = plugins("good");

	ck_assert(tp_run_teleport(&res, "--list-plugins", "--plugin-dir", dir, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_OK, "status %d, err: %s", res.status, res.err);
	snprintf(expect, sizeof(expect), "testgood     transport  1.2.3       %d.%d",
			 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	ck_assert_msg(tp_contains(res.out, expect), "out: %s", res.out);
	snprintf(expect, sizeof(expect), "testapplier  applier    0.1         %d.%d",
			 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	ck_assert_msg(tp_contains(res.out, expect), "out: %s", res.out);
	ck_assert(tp_contains(res.out, "/testgood.so"));
	tp_cmd_result_free(&res);
	free(dir);
}
END_TEST

START_TEST(test_list_builtin_plugins)
{
	tp_cmd_result res;

	/* the default path: $TELEPORT_PLUGIN_DIR, the build tree's plugins */
	ck_assert(tp_run_teleport(&res, "--list-plugins", (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_OK, "status %d, err: %s", res.status, res.err);
	ck_assert_msg(tp_contains(res.out, "stdout") && tp_contains(res.out, "file "),
				  "out: %s", res.out);
	tp_cmd_result_free(&res);
}
END_TEST

/* --list-plugins over dir refuses with exit 5 and says expect on stderr. */
static void
assert_refused(const char *sub, const char *expect)
{
	tp_cmd_result res;
	char	   *dir = plugins(sub);

	ck_assert(tp_run_teleport(&res, "--list-plugins", "--plugin-dir", dir, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_PLUGIN, "%s: status %d", sub, res.status);
	ck_assert_msg(tp_contains(res.err, expect), "%s: err: %s", sub, res.err);
	ck_assert(tp_contains(res.out, "1 file(s) refused"));
	tp_cmd_result_free(&res);
	free(dir);
}

START_TEST(test_list_refusals)
{
	char		expect[128];

	assert_refused("noentry", "is not a teleport plugin: it does not export teleport_plugin_info()");
	snprintf(expect, sizeof(expect), "was built for ABI %d.0, this teleport speaks ABI %d.%d",
			 TELEPORT_ABI_MAJOR + 1, TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	assert_refused("abimajor", expect);
	snprintf(expect, sizeof(expect), "newer than this teleport's ABI %d.%d",
			 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	assert_refused("abiminor", expect);
}
END_TEST

START_TEST(test_run_refuses_duplicate)
{
	tp_cmd_result res;
	char	   *good = plugins("good");
	char	   *dup = plugins("dup");
	char		dirs[8192];

	snprintf(dirs, sizeof(dirs), "%s:%s", good, dup);
	ck_assert(tp_run_teleport(&res, "--list-plugins", "--plugin-dir", dirs, (char *) NULL));
	ck_assert_int_eq(res.status, TP_EXIT_PLUGIN);
	ck_assert_msg(tp_contains(res.err, "two plugins are named \"testgood\""), "err: %s", res.err);
	tp_cmd_result_free(&res);
	free(good);
	free(dup);
}
END_TEST

START_TEST(test_run_missing_and_wrong_kind)
{
	tp_cmd_result res;
	char	   *dir;
	char	   *good = plugins("good");
	char	   *path = config_file(
		"database:\n"
		"  name: \"edge\"\n"
		"  database: \"postgres\"\n"
		"server:\n"
		"  hostname: \"127.0.0.1\"\n"
		"  port: 3001\n"
		"  transport: testapplier\n"
		"applier: testgood\n"
		"targets:\n"
		"  t1:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: \"test\"\n"
		"    transport: testgood\n", &dir);

	ck_assert(tp_run_teleport(&res, "-config", path, "--plugin-dir", good, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_PLUGIN, "status %d, err: %s", res.status, res.err);
	ck_assert_msg(tp_contains(res.err, "targets names source plugin \"trigger\", which is not in the plugin path"),
				  "err: %s", res.err);
	ck_assert(tp_contains(res.err, "use_event_triggers names source plugin \"schema-diff\""));
	ck_assert(tp_contains(res.err, "server.transport names plugin \"testapplier\" whose kind is applier, but it needs a plugin of kind transport"));
	ck_assert(tp_contains(res.err, "applier names plugin \"testgood\" whose kind is transport, but it needs a plugin of kind applier"));
	ck_assert(tp_contains(res.err, "cannot start"));
	tp_cmd_result_free(&res);
	tp_remove_tree(dir);
	free(dir);
	free(path);
	free(good);
}
END_TEST

START_TEST(test_plugin_options_checked)
{
	tp_cmd_result res;
	char	   *dir;
	char	   *good = plugins("good");
	char	   *path = config_file(
		"database:\n"
		"  name: \"edge\"\n"
		"server:\n"
		"  hostname: \"127.0.0.1\"\n"
		"  port: 3001\n"
		"  transport: testgood\n"
		"  options:\n"
		"    count: many\n"
		"    colour: blue\n"
		"applier: testapplier\n", &dir);

	ck_assert(tp_run_teleport(&res, "-config", path, "--plugin-dir", good, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_PLUGIN, "status %d, err: %s", res.status, res.err);
	ck_assert_msg(tp_contains(res.err, "teleport.yml:8:12: server.options.count"), "err: %s", res.err);
	ck_assert_msg(tp_contains(res.err, "teleport.yml:9:5: server.options.colour"), "err: %s", res.err);
	tp_cmd_result_free(&res);
	tp_remove_tree(dir);
	free(dir);
	free(path);
	free(good);
}
END_TEST

START_TEST(test_invalid_config_and_log_format)
{
	tp_cmd_result res;
	char	   *dir;
	char	   *path = config_file(
		"database:\n"
		"  name: \"edge\"\n"
		"  port: \"fifty\"\n", &dir);
	regex_t		re;

	ck_assert(tp_run_teleport(&res, "-config", path, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_CONFIG, "status %d, err: %s", res.status, res.err);
	ck_assert_msg(tp_contains(res.err, "teleport.yml:3:9: database.port"), "err: %s", res.err);
	/* one line per event: time, level, component */
	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} UTC \\[[0-9]+\\] error config: ",
							 REG_EXTENDED | REG_NEWLINE), 0);
	ck_assert_msg(regexec(&re, res.err, 0, NULL, 0) == 0, "err: %s", res.err);
	regfree(&re);
	tp_cmd_result_free(&res);

	ck_assert(tp_run_teleport(&res, "-config", "/nonexistent/teleport.yml", (char *) NULL));
	ck_assert_int_eq(res.status, TP_EXIT_CONFIG);
	ck_assert_msg(tp_contains(res.err, "/nonexistent/teleport.yml"), "err: %s", res.err);
	tp_cmd_result_free(&res);
	tp_remove_tree(dir);
	free(dir);
	free(path);
}
END_TEST

START_TEST(test_load_target_must_exist)
{
	tp_cmd_result res;
	char	   *dir;
	char	   *good = plugins("good");
	char	   *path = config_file(
		"database:\n"
		"  name: \"edge\"\n"
		"targets:\n"
		"  t1:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: \"test\"\n"
		"    transport: testgood\n", &dir);

	ck_assert(tp_run_teleport(&res, "-config", path, "-mode", "initial-load",
							  "-load-target", "nosuch", "--plugin-dir", good, (char *) NULL));
	ck_assert_msg(res.status == TP_EXIT_USAGE, "status %d, err: %s", res.status, res.err);
	ck_assert_msg(tp_contains(res.err, "-load-target \"nosuch\" is not a target of"), "err: %s", res.err);
	tp_cmd_result_free(&res);
	tp_remove_tree(dir);
	free(dir);
	free(path);
	free(good);
}
END_TEST

/* The suite. */
static Suite *
commands_suite(void)
{
	Suite	   *s = suite_create("commands");
	TCase	   *tc = tcase_create("commands");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_version_and_help);
	tcase_add_test(tc, test_usage_error_exit_status);
	tcase_add_test(tc, test_list_plugins);
	tcase_add_test(tc, test_list_builtin_plugins);
	tcase_add_test(tc, test_list_refusals);
	tcase_add_test(tc, test_run_refuses_duplicate);
	tcase_add_test(tc, test_run_missing_and_wrong_kind);
	tcase_add_test(tc, test_plugin_options_checked);
	tcase_add_test(tc, test_invalid_config_and_log_format);
	tcase_add_test(tc, test_load_target_must_exist);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(commands_suite());
}
