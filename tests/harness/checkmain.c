/*
 * checkmain.c
 *     The main() of every Check test program.
 */
#include "tp_autoconf.h"

#include <stdlib.h>

#include "checkmain.h"

/* See checkmain.h. */
int
tp_check_run(Suite *suite)
{
	SRunner    *sr = srunner_create(suite);
	int			failed;

	/* each test in its own process, unless CK_FORK=no asks (a debugger) */
	if (getenv("CK_FORK") == NULL)
		srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
