/*
 * transmitter.c
 *     Sending one target's batches through its transport.
 */
#include "tp_autoconf.h"

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "transmitter.h"

#define LOG_COMPONENT "transmitter"

/* See transmitter.h. */
void
tp_transmitter_init(tp_transmitter *tx, const tp_target_config *target,
					tp_plugin_ctx *ctx, const tp_transport_callbacks *cb)
{
	tx->target = target;
	tx->ctx = ctx;
	tx->cb = cb;
	tp_backoff_init(&tx->backoff, 100, 10000);
	tx->retry_at_ms = 0;
	tx->failing_seq = 0;
	tx->sent = 0;
}

/* The transport refused batch seq: log it, and wait before the next try. */
static void
hold(tp_transmitter *tx, const tp_batch *batch, tp_result r)
{
	int			wait = tp_backoff_next(&tx->backoff);

	tx->retry_at_ms = tp_clock_ms() + wait;
	if (tx->failing_seq != batch->seq || tx->backoff.attempts <= 3 ||
		tx->backoff.attempts % 10 == 0)
		tp_log(r == TP_ERROR ? TP_LOG_ERROR : TP_LOG_WARNING, LOG_COMPONENT,
			   "batch %llu for target \"%s\" was not delivered (%s, attempt %u); "
			   "it is kept and sent again in %d ms, later batches wait behind it",
			   (unsigned long long) batch->seq, tx->target->name,
			   r == TP_ERROR ? "error" : "retry", tx->backoff.attempts, wait);
	tx->failing_seq = batch->seq;
}

/* See transmitter.h. */
bool
tp_transmitter_run(tp_transmitter *tx, tp_pgsql *pg, const char *source,
				   int max_batches)
{
	if (tp_clock_ms() < tx->retry_at_ms)
		return true;
	for (int i = 0; i < max_batches; i++)
	{
		tp_queued_batch qb;
		bool		found;
		tp_result	r;

		if (!tp_queue_next_batch(pg, source, tx->target, &qb, &found))
			return false;
		if (!found)
			return true;
		r = tx->cb->send(tx->ctx, &qb.batch);
		if (r != TP_OK)
		{
			hold(tx, &qb.batch, r);
			tp_queued_batch_free(&qb);
			return true;
		}
		if (!tp_queue_ack(pg, tx->target->name, qb.batch.seq))
		{
			/* sent but not recorded: it is sent again, receivers dedup */
			tp_queued_batch_free(&qb);
			return false;
		}
		if (tx->failing_seq != 0)
			tp_info(LOG_COMPONENT, "target \"%s\" accepted batch %llu again after %u attempts",
					tx->target->name, (unsigned long long) qb.batch.seq,
					tx->backoff.attempts + 1);
		tx->failing_seq = 0;
		tp_backoff_reset(&tx->backoff);
		tx->sent++;
		tp_debug(LOG_COMPONENT, "batch %llu (%llu changes) delivered to \"%s\"",
				 (unsigned long long) qb.batch.seq,
				 (unsigned long long) qb.batch.n_changes, tx->target->name);
		tp_queued_batch_free(&qb);
	}
	return true;
}
