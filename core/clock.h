/*
 * clock.h
 *     Monotonic time in milliseconds, for deadlines and intervals.
 */
#ifndef TP_CLOCK_H
#define TP_CLOCK_H

#include <time.h>

/* Milliseconds on the monotonic clock (never goes back, not wall time). */
static inline long long
tp_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds (a signal may cut it short). */
static inline void
tp_sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

#endif							/* TP_CLOCK_H */
