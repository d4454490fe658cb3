/*
 * checkmain.c
 *     The main() of every Check test program, and what they share.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "checkmain.h"

/* See checkmain.h. */
int
tp_check_run(Suite *suite)
{
	SRunner    *sr = srunner_create(suite);
	int			failed;
	int			run;

	/* each test in its own process, unless CK_FORK=no asks (a debugger) */
	if (getenv("CK_FORK") == NULL)
		srunner_set_fork_status(sr, CK_FORK);
	/* CK_VERBOSITY=verbose names each test as it ends */
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	run = srunner_ntests_run(sr);
	srunner_free(sr);
	/* a CK_RUN_CASE or CK_RUN_SUITE that matches nothing is not a pass */
	if (run == 0)
	{
		fprintf(stderr, "no test ran: CK_RUN_SUITE, CK_RUN_CASE, CK_INCLUDE_TAGS or CK_EXCLUDE_TAGS matched none\n");
		return EXIT_FAILURE;
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* See checkmain.h. */
void
tp_nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}
