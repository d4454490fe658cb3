/*
 * deadline.c
 *     How long a test waits for something that happens in another process.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <time.h>

#include "deadline.h"

/* The monotonic clock in seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* See deadline.h. */
double
tp_deadline(double seconds)
{
	const char *p = getenv("TP_TEST_PATIENCE");
	double		factor = 1.0;

	if (p != NULL && *p != '\0')
	{
		char	   *end;
		double		v = strtod(p, &end);

		if (*end == '\0' && v > 0)
			factor = v;
	}
	return now_s() + seconds * factor;
}

/* See deadline.h. */
bool
tp_before(double deadline)
{
	return now_s() < deadline;
}
