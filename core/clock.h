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

/* Microseconds on the monotonic clock, for timing stages in debug logs. */
static inline long long
tp_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The monotonic time ms from now, as pthread_cond_timedwait takes it for a
 * condition variable whose clock is CLOCK_MONOTONIC.
 */
static inline struct timespec
tp_clock_deadline(long long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t) (ms / 1000);
	t.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L)
	{
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
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
