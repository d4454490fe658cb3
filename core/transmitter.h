/*
 * transmitter.h
 *     Sending one target's batches, oldest first, through its transport,
 *     marking each acknowledged only after the transport said TP_OK.
 */
#ifndef TP_TRANSMITTER_H
#define TP_TRANSMITTER_H

#include <stdbool.h>
#include <stdint.h>

#include <teleport/teleport.h>

#include "backoff.h"
#include "config.h"
#include "pgsql.h"
#include "queue.h"

/* The most transport instances one target's batches are sent on at once. */
#define TP_TRANSMITTER_MAX_LANES 8

typedef struct tp_transmitter
{
	const tp_target_config *target;
	tp_plugin_ctx *lanes[TP_TRANSMITTER_MAX_LANES];	/* the target's transport
													 * instances */
	int			n_lanes;
	const tp_transport_callbacks *cb;
	tp_backoff	backoff;		/* after TP_RETRY or TP_ERROR */
	long long	retry_at_ms;	/* no attempt before (monotonic ms) */
	long long	logged_ms;		/* a refusal was last logged (monotonic) */
	uint64_t	failing_seq;	/* the batch that failed last, or 0 */
	uint64_t	sent;			/* batches acknowledged by this process */
	tp_queued_batch held;		/* the refused batch, kept for its retry */
	bool		has_held;
} tp_transmitter;

/* Set up the transmitter of target, sending through ctx with cb. */
void		tp_transmitter_init(tp_transmitter *tx, const tp_target_config *target,
								tp_plugin_ctx *ctx,
								const tp_transport_callbacks *cb);

/*
 * Add another instance of the target's transport (started, used by no one
 * else): with n instances, up to n batches are on their way at once, each
 * but the oldest flagged TP_BATCH_FOLLOWS. False when there are
 * TP_TRANSMITTER_MAX_LANES already.
 */
bool		tp_transmitter_add_lane(tp_transmitter *tx, tp_plugin_ctx *ctx);

/*
 * Send up to max_batches of the target's ready batches, in seq order, each
 * acknowledged in the queue once the transport accepted it and every batch
 * before it (the next is built while one is on its way). A batch
 * the transport refuses (TP_RETRY or TP_ERROR) is kept in memory and tried
 * again after a backoff (up to 100 ms after TP_RETRY, 10 s after TP_ERROR);
 * nothing overtakes it. *again (when not NULL) is set when the run ended
 * at max_batches with every batch accepted, so that more may be waiting:
 * the caller runs again at once. Returns false only when the queue could
 * not be read or written (logged), so that the caller reconnects.
 */
bool		tp_transmitter_run(tp_transmitter *tx, tp_pgsql *pg,
							   const char *source, int max_batches, bool *again);

/* Free what tx keeps (a refused batch). */
void		tp_transmitter_free(tp_transmitter *tx);

#endif							/* TP_TRANSMITTER_H */
