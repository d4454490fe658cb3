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
 * The largest batch after which the next one is built (and sent) while it
 * is on its way: beyond it, the two are not overlapped, so that the
 * overlap adds at most this much to the peak memory a batch being built
 * needs anyway.
 */
#define OVERLAP_MAX_BYTES ((size_t) 4 * 1024 * 1024)

/* The backoff of a refused batch: first delay, cap after TP_RETRY, TP_ERROR. */
#define BACKOFF_MIN_MS 50
#define RETRY_MAX_MS 100
#define ERROR_MAX_MS 10000
#define LOG_EVERY_MS 10000

/* See transmitter.h. */
void
tp_transmitter_init(tp_transmitter *tx, const tp_target_config *target,
					tp_plugin_ctx *ctx, const tp_transport_callbacks *cb)
{
	tx->target = target;
	tx->lanes[0] = ctx;
	tx->n_lanes = 1;
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
bool
tp_transmitter_add_lane(tp_transmitter *tx, tp_plugin_ctx *ctx)
{
	if (tx->n_lanes >= TP_TRANSMITTER_MAX_LANES)
		return false;
	tx->lanes[tx->n_lanes++] = ctx;
	return true;
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

/* A send run by a thread of its own, on one of the transport's instances. */
typedef struct send_job
{
	tp_transmitter *tx;
	tp_plugin_ctx *ctx;			/* the instance it uses (no other job does) */
	tp_queued_batch qb;			/* the batch, owned */
	pthread_t	thread;
	bool		started;		/* handed to the transport */
	bool		threaded;		/* thread runs it (else it ran inline) */
	tp_result	result;
	long long	build_us;		/* how long building it took (0: not built here) */
	long long	started_us;		/* when it was handed to the transport */
} send_job;

/* The sending thread: one call of the transport's send. */
static void *
send_main(void *arg)
{
	send_job   *job = arg;

	job->result = job->tx->cb->send(job->ctx, &job->qb.batch);
	return NULL;
}

/*
 * The jobs of one tp_transmitter_run: slots that stay where they are (a
 * sending thread writes its job's result into its slot), and their order,
 * oldest first: started ones, then at most one built and not started.
 */
typedef struct job_list
{
	send_job	slot[TP_TRANSMITTER_MAX_LANES + 1];
	int			order[TP_TRANSMITTER_MAX_LANES + 1];
	int			n;
} job_list;

/* The k-th oldest job of jobs. */
static send_job *
job_at(job_list *jobs, int k)
{
	return &jobs->slot[jobs->order[k]];
}

/* A new, zeroed job at the end of jobs (there is room: see job_list). */
static send_job *
job_add(job_list *jobs)
{
	for (int i = 0; i <= TP_TRANSMITTER_MAX_LANES; i++)
	{
		bool		used = false;

		for (int k = 0; k < jobs->n; k++)
			used = used || jobs->order[k] == i;
		if (!used)
		{
			memset(&jobs->slot[i], 0, sizeof(jobs->slot[i]));
			jobs->order[jobs->n++] = i;
			return &jobs->slot[i];
		}
	}
	return NULL;
}

/* Take the oldest job out of jobs' order (its slot is free to reuse). */
static send_job *
job_shift(job_list *jobs)
{
	send_job   *job = job_at(jobs, 0);

	jobs->n--;
	memmove(&jobs->order[0], &jobs->order[1], (size_t) jobs->n * sizeof(int));
	return job;
}

/* A transport instance that no started job of jobs uses, or NULL. */
static tp_plugin_ctx *
free_lane(const tp_transmitter *tx, job_list *jobs)
{
	for (int l = 0; l < tx->n_lanes; l++)
	{
		bool		used = false;

		for (int k = 0; k < jobs->n; k++)
			used = used || (job_at(jobs, k)->started && job_at(jobs, k)->ctx == tx->lanes[l]);
		if (!used)
			return tx->lanes[l];
	}
	return NULL;
}

/*
 * Start the jobs not started yet, in order, while instances are free:
 * each in a thread of its own, so that the caller goes on (building the
 * next batch). A batch started while one before it is on its way is
 * flagged TP_BATCH_FOLLOWS (its receiver may wait for that one); the
 * oldest is not. When no thread can be made it is sent here, now.
 */
static void
start_jobs(tp_transmitter *tx, job_list *jobs)
{
	for (int k = 0; k < jobs->n; k++)
	{
		send_job   *job = job_at(jobs, k);

		if (job->started)
			continue;
		job->ctx = free_lane(tx, jobs);
		if (job->ctx == NULL)
			return;
		job->tx = tx;
		if (k > 0)
			job->qb.batch.flags |= TP_BATCH_FOLLOWS;
		else
			job->qb.batch.flags &= ~(uint32_t) TP_BATCH_FOLLOWS;
		job->started = true;
		job->started_us = tp_clock_us();
		job->threaded = pthread_create(&job->thread, NULL, send_main, job) == 0;
		if (!job->threaded)
			send_main(job);
	}
}

/* Wait for job's send to end, if it was started; returns its result. */
static tp_result
finish_job(send_job *job)
{
	if (job->threaded)
		pthread_join(job->thread, NULL);
	job->threaded = false;
	return job->started ? job->result : TP_RETRY;
}

/* Wait for the sends of all jobs and free their batches. */
static void
drop_jobs(job_list *jobs)
{
	while (jobs->n > 0)
	{
		send_job   *job = job_shift(jobs);

		(void) finish_job(job);
		tp_queued_batch_free(&job->qb);
	}
}

/*
 * Build the batch after seq after into a new job at the end of jobs and
 * start it if an instance is free. *found false when there is none; false
 * when the queue could not be read.
 */
static bool
build_job(tp_transmitter *tx, tp_pgsql *pg, const char *source, job_list *jobs,
		  uint64_t after, bool *found)
{
	send_job   *job = job_add(jobs);
	long long	t0 = tp_clock_us();
	bool		ok = tp_queue_batch_after(pg, source, tx->target, after, &job->qb, found);

	job->build_us = tp_clock_us() - t0;
	if (!ok || !*found)
	{
		/* the job just added is the last */
		jobs->n--;
		*found = false;
		return ok;
	}
	start_jobs(tx, jobs);
	return true;
}

/* See transmitter.h. */
bool
tp_transmitter_run(tp_transmitter *tx, tp_pgsql *pg, const char *source,
				   int max_batches, bool *again)
{
	job_list	jobs;
	send_job   *first;
	int			built = 0;		/* batches built in this call */
	bool		found;
	bool		more = true;	/* the queue may hold more to send */
	bool		ok = true;

	if (again != NULL)
		*again = false;
	if (tp_clock_ms() < tx->retry_at_ms)
		return true;
	memset(&jobs, 0, sizeof(jobs));
	first = job_add(&jobs);
	if (!first_batch(tx, pg, source, &first->qb, &found))
		return false;
	if (!found)
		return true;
	built = 1;
	start_jobs(tx, &jobs);
	while (jobs.n > 0)
	{
		send_job   *last = job_at(&jobs, jobs.n - 1);
		send_job   *done;
		long long	t_answered;
		uint64_t	done_seq;
		tp_result	r;

		/*
		 * While the oldest is on its way, build the next and start it if an
		 * instance is free; a large batch is not overlapped, so that memory
		 * stays bounded (OVERLAP_MAX_BYTES). While the target refuses
		 * (failing_seq), the oldest goes alone until it is accepted: a later
		 * one would reach a target that has just come back before it, wait
		 * there for it (up to 2 s), and hold up its retry as long.
		 */
		if (more && ok && last->started && built < max_batches &&
			tx->failing_seq == 0 && last->qb.batch.data_len <= OVERLAP_MAX_BYTES)
		{
			ok = build_job(tx, pg, source, &jobs, last->qb.batch.seq, &found);
			if (found)
			{
				built++;
				continue;
			}
			more = false;
		}

		/* the oldest's answer: batches are acknowledged in seq order */
		done = job_shift(&jobs);
		r = finish_job(done);
		t_answered = tp_clock_us();
		done_seq = done->qb.batch.seq;
		if (r != TP_OK)
		{
			/* later ones are sent again after it, whatever they got */
			drop_jobs(&jobs);
			hold(tx, &done->qb.batch, r);
			done->qb.batch.flags &= ~(uint32_t) TP_BATCH_FOLLOWS;
			tx->held = done->qb;
			tx->has_held = true;
			return ok;
		}
		/* its instance is free for the next, which goes before the ack */
		start_jobs(tx, &jobs);
		if (!tp_queue_ack(pg, tx->target->name, done_seq))
		{
			/* sent but not recorded: it is sent again, receivers dedup */
			tp_queued_batch_free(&done->qb);
			drop_jobs(&jobs);
			return false;
		}
		if (tx->failing_seq != 0)
			tp_info(LOG_COMPONENT, "target \"%s\" accepted batch %llu again after %u attempts",
					tx->target->name, (unsigned long long) done_seq,
					tx->backoff.attempts + 1);
		tx->failing_seq = 0;
		tp_backoff_reset(&tx->backoff);
		tx->sent++;
		tp_debug(LOG_COMPONENT, "batch %llu (%llu changes) delivered to \"%s\" "
				 "(built in %.1f ms, answered %.1f ms after its start, acknowledged in %.1f ms)",
				 (unsigned long long) done_seq,
				 (unsigned long long) done->qb.batch.n_changes, tx->target->name,
				 (double) done->build_us / 1000, (double) (t_answered - done->started_us) / 1000,
				 (double) (tp_clock_us() - t_answered) / 1000);
		tp_queued_batch_free(&done->qb);
		/* a large batch was not overlapped: the next one is built now */
		if (jobs.n == 0 && more && ok && built < max_batches)
		{
			ok = build_job(tx, pg, source, &jobs, done_seq, &found);
			if (found)
				built++;
			else
				more = false;
		}
	}
	/* stopped at max_batches, not at the queue's end: more may wait */
	if (again != NULL)
		*again = ok && more && built >= max_batches;
	return ok;
}
