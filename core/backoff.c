/*
 * backoff.c
 *     Exponential backoff with jitter.
 */
#include "tp_autoconf.h"

#include <time.h>
#include <unistd.h>

#include "backoff.h"

/* See backoff.h. */
void
tp_backoff_init(tp_backoff *b, int min_ms, int max_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->current_ms = 0;
	b->attempts = 0;
	b->seed = ((uint64_t) ts.tv_nsec << 16) ^ (uint64_t) getpid() ^ (uint64_t) (uintptr_t) b;
	if (b->seed == 0)
		b->seed = 0x9E3779B97F4A7C15ULL;
}

/* xorshift64: the next pseudo-random number of b's generator. */
static uint64_t
next_random(tp_backoff *b)
{
	b->seed ^= b->seed << 13;
	b->seed ^= b->seed >> 7;
	b->seed ^= b->seed << 17;
	return b->seed;
}

/* See backoff.h. */
int
tp_backoff_next(tp_backoff *b)
{
	int			delay = b->current_ms > 0 ? b->current_ms : b->min_ms;
	int			half = delay / 2;
	int			wait = half + (int) (next_random(b) % (uint64_t) (delay - half + 1));

	b->attempts++;
	b->current_ms = delay > b->max_ms / 2 ? b->max_ms : delay * 2;
	return wait;
}

/* See backoff.h. */
void
tp_backoff_reset(tp_backoff *b)
{
	b->current_ms = 0;
	b->attempts = 0;
}
