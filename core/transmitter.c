/*
 * transmitter.c
 *     Sending one target's batches through its transport.
 *
 * A batch the transport refuses is kept in memory for its retry, so that
 * a retry costs one cheap query (is it still the batch to send?) and the
 * transport's attempt, not a rebuild from the queue. That is what lets a
 * refused batch be retried often: after TP_RETRY (a target that is down
 * or busy) at most every RETRY_MAX_MS, so that a target that comes back
 * gets its batches within a fraction of a second; after TP_ERROR (a target
 * that refuses the batch itself, which needs an operator) every
 * ERROR_MAX_MS. The refusals of one batch are logged at its first attempts,
 * then at most every LOG_EVERY_MS.
 */
#include "tp_autoconf.h"

#include <pthread.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "transmitter.h"

#define LOG_COMPONENT "transmitter"

/*
 * The largest batch kept in memory while the next one is built: beyond
 * it, the two are not overlapped, so that the overlap adds at most this
 * much to the peak memory a batch being built needs anyway.
 */
#define OVERLAP_MAX_BYTES ((size_t) 4 * 1024 * 1024)

/* The backoff of a refused batch: first delay, cap after TP_RETRY, TP_ERROR. */
#define BACKOFF_MIN_MS 100
#define RETRY_MAX_MS 250
#define ERROR_MAX_MS 10000
#define LOG_EVERY_MS 10000

/* See transmitter.h. */
void
tp_transmitter_init(tp_transmitter *tx, const tp_target_config *target,
					tp_plugin_ctx *ctx, const tp_transport_callbacks *cb)
{
	tx->target = target;
	tx->ctx = ctx;
	tx->cb = cb;
	tp_backoff_init(&tx->backoff, BACKOFF_MIN_MS, ERROR_MAX_MS);
	tx->retry_at_ms = 0;
	tx->logged_ms = 0;
	tx->failing_seq = 0;
	tx->sent = 0;
	memset(&tx->held, 0, sizeof(tx->held));
	tx->has_held = false;
}

/* See transmitter.h. */
void
tp_transmitter_free(tp_transmitter *tx)
{
	if (tx->has_held)
		tp_queued_batch_free(&tx->held);
	tx->has_held = false;
}

/* The transport refused batch seq: log it, and wait before the next try. */
static void
hold(tp_transmitter *tx, const tp_batch *batch, tp_result r)
{
	int			wait;
	long long	now;

	tx->backoff.max_ms = r == TP_ERROR ? ERROR_MAX_MS : RETRY_MAX_MS;
	if (tx->backoff.current_ms > tx->backoff.max_ms)
		tx->backoff.current_ms = tx->backoff.max_ms;
	wait = tp_backoff_next(&tx->backoff);
	now = tp_clock_ms();
	tx->retry_at_ms = now + wait;
	if (tx->failing_seq != batch->seq || tx->backoff.attempts <= 3 ||
		now - tx->logged_ms >= LOG_EVERY_MS)
	{
		tx->logged_ms = now;
		tp_log(r == TP_ERROR ? TP_LOG_ERROR : TP_LOG_WARNING, LOG_COMPONENT,
			   "batch %llu for target \"%s\" was not delivered (%s, attempt %u); "
			   "it is kept and sent again in %d ms, later batches wait behind it",
			   (unsigned long long) batch->seq, tx->target->name,
			   r == TP_ERROR ? "error" : "retry", tx->backoff.attempts, wait);
	}
	tx->failing_seq = batch->seq;
}

/*
 * The batch to send first: the refused one kept in memory when it is still
 * the target's next (the queue may have moved on: a resync), else the
 * oldest unacknowledged one built from the queue. False when the queue
 * could not be read.
 */
static bool
first_batch(tp_transmitter *tx, tp_pgsql *pg, const char *source,
			tp_queued_batch *qb, bool *found)
{
	*found = false;
	if (tx->has_held)
	{
		uint64_t	seq;

		if (!tp_queue_next_seq(pg, tx->target->name, &seq, found))
			return false;
		tx->has_held = false;
		if (*found && seq == tx->held.batch.seq)
			*qb = tx->held;
		else
		{
			tp_queued_batch_free(&tx->held);
			*found = false;
		}
		memset(&tx->held, 0, sizeof(tx->held));
		if (*found)
			return true;
	}
	return tp_queue_next_batch(pg, source, tx->target, qb, found);
}

/* A send run by a thread of its own while the next batch is built. */
typedef struct send_job
{
	tp_transmitter *tx;
	const tp_batch *batch;
	tp_result	result;
} send_job;

/* The sending thread: one call of the transport's send. */
static void *
send_main(void *arg)
{
	send_job   *job = arg;

	job->result = job->tx->cb->send(job->tx->ctx, job->batch);
	return NULL;
}

/*
 * Send qb through the transport and return its result. When build_next,
 * the batch after qb is built from the queue meanwhile (the send runs in a
 * thread of its own, the build on pg in this one): *next and *next_found
 * as tp_queue_batch_after fills them, *next_ok false when that failed.
 * The transport is only ever used by one thread at a time.
 */
static tp_result
send_and_build(tp_transmitter *tx, tp_pgsql *pg, const char *source,
			   const tp_queued_batch *qb, bool build_next,
			   tp_queued_batch *next, bool *next_found, bool *next_ok)
{
	send_job	job = {tx, &qb->batch, TP_RETRY};
	pthread_t	thread;

	*next_found = false;
	*next_ok = true;
	memset(next, 0, sizeof(*next));
	if (!build_next || pthread_create(&thread, NULL, send_main, &job) != 0)
		return tx->cb->send(tx->ctx, &qb->batch);
	*next_ok = tp_queue_batch_after(pg, source, tx->target, qb->batch.seq, next,
									next_found);
	pthread_join(thread, NULL);
	return job.result;
}

/* See transmitter.h. */
bool
tp_transmitter_run(tp_transmitter *tx, tp_pgsql *pg, const char *source,
				   int max_batches)
{
	tp_queued_batch qb;
	bool		found;

	if (tp_clock_ms() < tx->retry_at_ms)
		return true;
	if (!first_batch(tx, pg, source, &qb, &found))
		return false;
	for (int i = 0; found; i++)
	{
		tp_queued_batch next;
		bool		next_found;
		bool		next_ok;
		bool		overlap;
		tp_result	r;

		overlap = i + 1 < max_batches && qb.batch.data_len <= OVERLAP_MAX_BYTES;
		r = send_and_build(tx, pg, source, &qb, overlap, &next, &next_found, &next_ok);
		if (r != TP_OK)
		{
			/* keep it for the retry; the next one is built again then */
			if (next_found)
				tp_queued_batch_free(&next);
			hold(tx, &qb.batch, r);
			tx->held = qb;
			tx->has_held = true;
			return next_ok;
		}
		if (!tp_queue_ack(pg, tx->target->name, qb.batch.seq))
		{
			/* sent but not recorded: it is sent again, receivers dedup */
			tp_queued_batch_free(&qb);
			if (next_found)
				tp_queued_batch_free(&next);
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
		if (!next_ok)
			return false;
		if (overlap)
		{
			qb = next;
			found = next_found;
		}
		else if (i + 1 >= max_batches)
			found = false;
		/* a large batch was not overlapped: the next one is built now */
		else if (!tp_queue_next_batch(pg, source, tx->target, &qb, &found))
			return false;
	}
	return true;
}
