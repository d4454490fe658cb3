/*
 * check_loader.c
 *     Unit tests of the plugin loader against real shared objects built in
 *     tests/plugins: one well-formed plugin per kind, and one for each
 *     refusal.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "checkmain.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "runcmd.h"

/* Error lines seen by the log sink during one test. */
static char logged[8192];

/* Log sink: keep the error lines. */
static void
keep_error(void *arg, tp_log_level level, const char *component,
		   const char *message)
{
	(void) arg;
	(void) level;
	(void) component;
	strncat(logged, message, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

/* Before each test: an empty log buffer, and the sink installed. */
static void
setup(void)
{
	logged[0] = '\0';
	tp_log_set_sink(keep_error, NULL);
	tp_log_set_level(TP_LOG_ERROR);
}

/* The test plugins' directory named sub, in a static buffer. */
static const char *
plugins(const char *sub)
{
	static char path[4096];
	const char *base = getenv("TP_TEST_PLUGINS");

	ck_assert_msg(base != NULL, "TP_TEST_PLUGINS is not set");
	snprintf(path, sizeof(path), "%s/%s", base, sub);
	return path;
}

START_TEST(test_scan_good)
{
	tp_plugin_set set;
	tp_plugin  *p;

	ck_assert(tp_loader_scan(plugins("good"), &set));
	ck_assert_uint_eq(set.n, 2);
	ck_assert_uint_eq(set.n_refused, 0);
	p = tp_loader_find(&set, "testgood");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->info->kind, TP_PLUGIN_TRANSPORT);
	ck_assert_str_eq(p->info->version, "1.2.3");
	ck_assert_uint_eq(p->info->abi_major, TELEPORT_ABI_MAJOR);
	ck_assert(tp_contains(p->path, "testgood.so"));
	p = tp_loader_find(&set, "testapplier");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->info->kind, TP_PLUGIN_APPLIER);
	ck_assert_ptr_null(tp_loader_find(&set, "nosuch"));
	ck_assert_str_eq(logged, "");
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_refuse_no_entry)
{
	tp_plugin_set set;

	ck_assert(!tp_loader_scan(plugins("noentry"), &set));
	ck_assert_uint_eq(set.n, 0);
	ck_assert_uint_eq(set.n_refused, 1);
	ck_assert_msg(tp_contains(logged, "testnoentry.so is not a teleport plugin: it does not export teleport_plugin_info()"),
				  "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_refuse_abi_major)
{
	tp_plugin_set set;
	char		expect[128];

	ck_assert(!tp_loader_scan(plugins("abimajor"), &set));
	ck_assert_uint_eq(set.n, 0);
	ck_assert_uint_eq(set.n_refused, 1);
	snprintf(expect, sizeof(expect), "was built for ABI %d.0, this teleport speaks ABI %d.%d",
			 TELEPORT_ABI_MAJOR + 1, TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
	ck_assert_msg(tp_contains(logged, expect), "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_refuse_abi_newer_minor)
{
	tp_plugin_set set;

	ck_assert(!tp_loader_scan(plugins("abiminor"), &set));
	ck_assert_uint_eq(set.n, 0);
	ck_assert_msg(tp_contains(logged, "newer than this teleport's ABI"), "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_refuse_small_info)
{
	tp_plugin_set set;

	ck_assert(!tp_loader_scan(plugins("smallinfo"), &set));
	ck_assert_uint_eq(set.n, 0);
	ck_assert_msg(tp_contains(logged, "is not a usable teleport plugin: its identity block is"),
				  "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_refuse_duplicate_name)
{
	tp_plugin_set set;
	char		dirs[8192];

	snprintf(dirs, sizeof(dirs), "%s:", plugins("good"));
	strcat(dirs, plugins("dup"));
	ck_assert(!tp_loader_scan(dirs, &set));
	ck_assert_msg(tp_contains(logged, "two plugins are named \"testgood\""), "logged: %s", logged);
	/* neither file may be used for the name; the other plugin stays */
	ck_assert_ptr_null(tp_loader_find(&set, "testgood"));
	ck_assert_ptr_nonnull(tp_loader_find(&set, "testapplier"));
	logged[0] = '\0';
	ck_assert_ptr_null(tp_loader_require(&set, "testgood", TP_PLUGIN_TRANSPORT,
										 "targets.t.transport"));
	ck_assert_msg(tp_contains(logged, "targets.t.transport names plugin \"testgood\", which two files"),
				  "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_require_kind_and_presence)
{
	tp_plugin_set set;

	ck_assert(tp_loader_scan(plugins("good"), &set));
	ck_assert_ptr_nonnull(tp_loader_require(&set, "testapplier", TP_PLUGIN_APPLIER, "applier"));
	ck_assert_ptr_null(tp_loader_require(&set, "testgood", TP_PLUGIN_APPLIER, "applier"));
	ck_assert_msg(tp_contains(logged, "applier names plugin \"testgood\" whose kind is transport, but it needs a plugin of kind applier"),
				  "logged: %s", logged);
	logged[0] = '\0';
	ck_assert_ptr_null(tp_loader_require(&set, "http", TP_PLUGIN_TRANSPORT, "targets.t1.transport"));
	ck_assert_msg(tp_contains(logged, "targets.t1.transport names transport plugin \"http\", which is not in the plugin path"),
				  "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_initialize)
{
	tp_plugin_set set;
	tp_plugin  *p;
	const tp_transport_callbacks *cb;

	ck_assert(tp_loader_scan(plugins("good"), &set));
	p = tp_loader_find(&set, "testgood");
	ck_assert(tp_plugin_initialize(p, tp_host_api_get()));
	cb = p->callbacks;
	ck_assert_ptr_nonnull(cb);
	ck_assert_uint_eq(cb->size, sizeof(tp_transport_callbacks));
	ck_assert_ptr_nonnull(cb->send);
	ck_assert_ptr_nonnull(cb->receive_start);
	ck_assert_ptr_null(cb->receive_poll);	/* left NULL: optional */
	/* a second call keeps the first result */
	ck_assert(tp_plugin_initialize(p, tp_host_api_get()));
	ck_assert_ptr_eq(p->callbacks, cb);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_initialize_failures)
{
	tp_plugin_set set;

	ck_assert(tp_loader_scan(plugins("initfail"), &set));
	ck_assert(!tp_plugin_initialize(tp_loader_find(&set, "testinitfail"), tp_host_api_get()));
	ck_assert_msg(tp_contains(logged, "plugin \"testinitfail\""), "logged: %s", logged);
	ck_assert_msg(tp_contains(logged, "failed to initialise"), "logged: %s", logged);
	tp_loader_free(&set);

	logged[0] = '\0';
	ck_assert(tp_loader_scan(plugins("noapply"), &set));
	ck_assert(!tp_plugin_initialize(tp_loader_find(&set, "testnoapply"), tp_host_api_get()));
	ck_assert_msg(tp_contains(logged, "applier plugin \"testnoapply\""), "logged: %s", logged);
	ck_assert_msg(tp_contains(logged, "did not set its apply callback"), "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

START_TEST(test_missing_directory)
{
	tp_plugin_set set;

	ck_assert(!tp_loader_scan("/nonexistent/teleport-plugins", &set));
	ck_assert_uint_eq(set.n, 0);
	ck_assert_msg(tp_contains(logged, "could not open plugin directory \"/nonexistent/teleport-plugins\""),
				  "logged: %s", logged);
	tp_loader_free(&set);
}
END_TEST

/* A packager's tree: the .so alone, with its .la removed. */
START_TEST(test_so_without_la)
{
	tp_plugin_set set;
	char	   *dir = tp_make_temp_dir("tp-loader");
	char		src[4096];
	char		dst[4096];
	tp_cmd_result res;

	ck_assert_ptr_nonnull(dir);
	snprintf(src, sizeof(src), "%s/.libs/testgood.so", plugins("good"));
	snprintf(dst, sizeof(dst), "%s/testgood.so", dir);
	{
		char	   *argv[] = {"/bin/cp", src, dst, NULL};

		ck_assert(tp_run_cmd(argv, NULL, 10, &res));
		ck_assert_int_eq(res.status, 0);
		tp_cmd_result_free(&res);
	}
	ck_assert(tp_loader_scan(dir, &set));
	ck_assert_uint_eq(set.n, 1);
	ck_assert_str_eq(set.plugins[0].info->name, "testgood");
	ck_assert_str_eq(set.plugins[0].path, dst);
	tp_loader_free(&set);
	tp_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_search_path)
{
	setenv("TELEPORT_PLUGIN_DIR", "/from/env", 1);
	ck_assert_str_eq(tp_loader_search_path("/explicit"), "/explicit");
	ck_assert_str_eq(tp_loader_search_path(NULL), "/from/env");
	unsetenv("TELEPORT_PLUGIN_DIR");
	ck_assert_str_eq(tp_loader_search_path(NULL), PKGLIBDIR);
	ck_assert_str_eq(tp_loader_search_path(""), PKGLIBDIR);
}
END_TEST

/* The suite. */
static Suite *
loader_suite(void)
{
	Suite	   *s = suite_create("loader");
	TCase	   *tc = tcase_create("loader");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_scan_good);
	tcase_add_test(tc, test_refuse_no_entry);
	tcase_add_test(tc, test_refuse_abi_major);
	tcase_add_test(tc, test_refuse_abi_newer_minor);
	tcase_add_test(tc, test_refuse_small_info);
	tcase_add_test(tc, test_refuse_duplicate_name);
	tcase_add_test(tc, test_require_kind_and_presence);
	tcase_add_test(tc, test_initialize);
	tcase_add_test(tc, test_initialize_failures);
	tcase_add_test(tc, test_missing_directory);
	tcase_add_test(tc, test_so_without_la);
	tcase_add_test(tc, test_search_path);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(loader_suite());
}
