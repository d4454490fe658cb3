/*
 * check_cli.c
 *     Unit tests of command-line parsing: the seed's spellings, the
 *     double-dash forms, and every usage error.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "cli.h"
#include "runcmd.h"

/* What a rejected parse printed. */
static char errbuf[8192];

/*
 * Parse the NULL-terminated arguments (after "teleport") into *cli. Returns
 * the parser's result; errbuf holds what it printed.
 */
static bool
parse(tp_cli *cli, const char *first,...)
{
	char	   *argv[32];
	int			argc = 0;
	va_list		ap;
	FILE	   *err = fmemopen(errbuf, sizeof(errbuf), "w");
	bool		ok;

	ck_assert_ptr_nonnull(err);
	memset(errbuf, 0, sizeof(errbuf));
	argv[argc++] = "teleport";
	va_start(ap, first);
	for (const char *a = first; a != NULL && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *) a;
	va_end(ap);
	argv[argc] = NULL;
	ok = tp_cli_parse(argc, argv, cli, err);
	fclose(err);
	return ok;
}

START_TEST(test_seed_spelling)
{
	tp_cli		cli;

	ck_assert(parse(&cli, "-config", "source_config.yml", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_RUN);
	ck_assert_str_eq(cli.config_path, "source_config.yml");
	ck_assert_int_eq(cli.mode, TP_MODE_REPLICATION);
	ck_assert_ptr_null(cli.load_target);
	tp_cli_free(&cli);

	ck_assert(parse(&cli, "-config", "source_config.yml", "-mode", "initial-load",
					"-load-target", "my-target", (char *) NULL));
	ck_assert_int_eq(cli.mode, TP_MODE_INITIAL_LOAD);
	ck_assert_str_eq(cli.load_target, "my-target");
	tp_cli_free(&cli);
}
END_TEST

START_TEST(test_double_dash_forms)
{
	tp_cli		cli;

	ck_assert(parse(&cli, "--config=a.yml", "--mode", "replication",
					"--log-level", "debug", "--plugin-dir", "/p1",
					"--plugin-dir=/p2", (char *) NULL));
	ck_assert_str_eq(cli.config_path, "a.yml");
	ck_assert_int_eq(cli.mode, TP_MODE_REPLICATION);
	ck_assert(cli.log_level_set);
	ck_assert_int_eq(cli.log_level, TP_LOG_DEBUG);
	ck_assert_str_eq(cli.plugin_dir, "/p1:/p2");
	tp_cli_free(&cli);

	ck_assert(parse(&cli, "--check-config", "-config", "t.yml", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_CHECK_CONFIG);
	tp_cli_free(&cli);
}
END_TEST

START_TEST(test_commands_without_config)
{
	tp_cli		cli;

	ck_assert(parse(&cli, "--list-plugins", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_LIST_PLUGINS);
	ck_assert_ptr_null(cli.config_path);
	tp_cli_free(&cli);
	ck_assert(parse(&cli, "-list-plugins", "-plugin-dir", "/x", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_LIST_PLUGINS);
	ck_assert_str_eq(cli.plugin_dir, "/x");
	tp_cli_free(&cli);
	ck_assert(parse(&cli, "--version", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_VERSION);
	ck_assert(parse(&cli, "-help", (char *) NULL));
	ck_assert_int_eq(cli.command, TP_CMD_HELP);
}
END_TEST

/* One usage error: parsing fails, and the message and usage are printed. */
#define ASSERT_USAGE_ERROR(expect, ...) \
	do { \
		tp_cli cli_; \
		ck_assert(!parse(&cli_, __VA_ARGS__, (char *) NULL)); \
		ck_assert_msg(tp_contains(errbuf, (expect)), "printed: %s", errbuf); \
		ck_assert_msg(tp_contains(errbuf, "Usage:"), "no usage in: %s", errbuf); \
		ck_assert_ptr_null(cli_.plugin_dir); \
	} while (0)

START_TEST(test_usage_errors)
{
	ASSERT_USAGE_ERROR("-config FILE is required", "-mode", "replication");
	ASSERT_USAGE_ERROR("-config FILE is required", "--check-config");
	ASSERT_USAGE_ERROR("invalid -mode \"fast\"", "-config", "a.yml", "-mode", "fast");
	ASSERT_USAGE_ERROR("-mode initial-load needs -load-target NAME",
					   "-config", "a.yml", "-mode", "initial-load");
	ASSERT_USAGE_ERROR("-load-target is only for -mode initial-load",
					   "-config", "a.yml", "-load-target", "t");
	ASSERT_USAGE_ERROR("unknown option \"--frobnicate\"", "--frobnicate");
	ASSERT_USAGE_ERROR("option -config needs an argument", "-config");
	ASSERT_USAGE_ERROR("unexpected argument \"extra\"", "-config", "a.yml", "extra");
	ASSERT_USAGE_ERROR("invalid --log-level \"loud\"", "-config", "a.yml",
					   "--log-level", "loud");
	ASSERT_USAGE_ERROR("cannot be combined", "--version", "--list-plugins");
	ASSERT_USAGE_ERROR("-mode and -load-target are only for running an instance",
					   "--check-config", "-config", "a.yml", "-mode", "replication");
	ASSERT_USAGE_ERROR("--plugin-dir needs a directory", "--list-plugins",
					   "--plugin-dir", "/a", "--plugin-dir", "");
}
END_TEST

/* The suite. */
static Suite *
cli_suite(void)
{
	Suite	   *s = suite_create("cli");
	TCase	   *tc = tcase_create("cli");

	tcase_add_test(tc, test_seed_spelling);
	tcase_add_test(tc, test_double_dash_forms);
	tcase_add_test(tc, test_commands_without_config);
	tcase_add_test(tc, test_usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(cli_suite());
}
