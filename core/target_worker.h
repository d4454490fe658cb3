/*
 * target_worker.h
 *     One thread per target that sends its batches, with its own database
 *     connection, so that a target that is down, slow or refusing never
 *     delays the others.
 */
#ifndef TP_TARGET_WORKER_H
#define TP_TARGET_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "transmitter.h"

typedef struct tp_target_worker
{
	tp_transmitter tx;
	const char *conninfo;		/* the source database */
	const char *source;			/* this instance's name */
	int			interval_ms;	/* transmitter interval */
	pthread_t	thread;
	bool		started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool		pending;		/* new batches were cut */
	bool		stop;
} tp_target_worker;

/*
 * Set up the worker of target (its transmitter sends through cb on the
 * transport instances ctxs[0, n_ctxs), up to that many batches in flight
 * at once) and start its thread; all strings and instances must outlive
 * it. Returns false after logging when the thread cannot start.
 */
bool		tp_target_worker_start(tp_target_worker *w,
								   const tp_target_config *target,
								   tp_plugin_ctx *const *ctxs, int n_ctxs,
								   const tp_transport_callbacks *cb,
								   const char *conninfo, const char *source,
								   int interval_ms);

/* Tell the worker that new batches are ready (it sends without waiting). */
void		tp_target_worker_wake(tp_target_worker *w);

/* Stop the thread and wait for it; safe on a worker that never started. */
void		tp_target_worker_stop(tp_target_worker *w);

#endif							/* TP_TARGET_WORKER_H */
