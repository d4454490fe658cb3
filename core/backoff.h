/*
 * backoff.h
 *     Exponential backoff with jitter, for retrying a dead database or peer.
 */
#ifndef TP_BACKOFF_H
#define TP_BACKOFF_H

#include <stdint.h>

typedef struct tp_backoff
{
	int			min_ms;			/* the first delay */
	int			max_ms;			/* the cap */
	int			current_ms;		/* the next delay before jitter; 0: min */
	uint64_t	seed;			/* jitter's generator state */
	unsigned	attempts;		/* failures since the last reset */
} tp_backoff;

/* Start with delays from min_ms, doubling, capped at max_ms. */
void		tp_backoff_init(tp_backoff *b, int min_ms, int max_ms);

/*
 * Count a failure and return how long to wait before the next attempt: the
 * current delay with "equal jitter" (between half and all of it), then the
 * delay doubles up to the cap.
 */
int			tp_backoff_next(tp_backoff *b);

/* A success: the next failure starts again from min_ms. */
void		tp_backoff_reset(tp_backoff *b);

#endif							/* TP_BACKOFF_H */
