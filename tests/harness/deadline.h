/*
 * deadline.h
 *     How long a test waits for something that happens in another process:
 *     by the clock, not by a count of rounds (a round's own work takes
 *     longer on a loaded machine), and longer when TP_TEST_PATIENCE asks.
 */
#ifndef TP_DEADLINE_H
#define TP_DEADLINE_H

#include <stdbool.h>

/*
 * The monotonic time, in seconds, at which a wait of seconds from now
 * ends. The seconds are multiplied by TP_TEST_PATIENCE when it is set to a
 * positive number (for a slow or instrumented run); an unset or invalid
 * value counts as 1.
 */
double		tp_deadline(double seconds);

/* Whether deadline (from tp_deadline) is still ahead. */
bool		tp_before(double deadline);

#endif							/* TP_DEADLINE_H */
