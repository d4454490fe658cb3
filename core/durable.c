/*
 * durable.c
 *     Waiting until an asynchronous commit is durable; see durable.h.
 *
 * Waiters post the position they need (wanted) and sleep on a condition
 * variable; the thread flushes up to the highest position posted, one
 * flush serving every waiter below it, and publishes how far the WAL is
 * known to be flushed (flushed). A failure of the thread's connection
 * counts in failures, which ends the waits that were open then (their
 * callers fall back: the batch is stored, see inbox.c), and the thread
 * reconnects with backoff.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "durable.h"
#include "log.h"
#include "pgsql.h"
#include "xalloc.h"

#define COMPONENT "apply"

/* Backoff of the connection. */
#define CONNECT_BACKOFF_MIN_MS 100
#define CONNECT_BACKOFF_MAX_MS 10000

struct tp_durable
{
	char	   *conninfo;
	char	   *purpose;
	tp_pgsql	pg;				/* the thread's; conn NULL: not connected */
	tp_backoff	backoff;
	atomic_bool usable;			/* connected, and the role may flush */
	bool		refused_logged; /* the role's refusal was reported */

	pthread_t	thread;
	bool		started;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* the thread waits on it for work */
	pthread_cond_t done;		/* waiters wait on it for flushed */
	bool		stop;
	uint64_t	wanted;			/* the highest position a waiter posted */
	uint64_t	flushed;		/* the WAL is flushed at least to here */
	uint64_t	failures;		/* the thread's failures so far */
	long long	retry_at_ms;	/* no connection attempt before (monotonic) */
};

/* See durable.h. */
tp_durable *
tp_durable_new(const char *conninfo, const char *purpose)
{
	tp_durable *d = tp_xcalloc(1, sizeof(*d));
	pthread_condattr_t cattr;

	d->conninfo = tp_xstrdup(conninfo);
	d->purpose = tp_xstrdup(purpose);
	tp_backoff_init(&d->backoff, CONNECT_BACKOFF_MIN_MS, CONNECT_BACKOFF_MAX_MS);
	atomic_init(&d->usable, false);
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &cattr);
	pthread_cond_init(&d->done, &cattr);
	pthread_condattr_destroy(&cattr);
	return d;
}

/*
 * Connect when not connected and the backoff allows, and find whether the
 * role may write the flushing message. True when connected and it may
 * (usable set); false otherwise (a connection failure logged by pgsql.c, a
 * refusal once here).
 */
static bool
ensure_connected(tp_durable *d)
{
	bool		may = false;

	if (d->pg.conn != NULL && PQstatus(d->pg.conn) == CONNECTION_OK)
		return atomic_load(&d->usable);
	tp_pgsql_close(&d->pg);
	atomic_store(&d->usable, false);
	if (tp_clock_ms() < d->retry_at_ms)
		return false;
	if (!tp_pgsql_connect(&d->pg, d->conninfo, d->purpose) ||
		!tp_pgsql_exec(&d->pg, "SELECT pg_catalog.set_config('application_name',"
					   " 'teleport flush', false),"
					   " pg_catalog.set_config('synchronous_commit', 'on', false)") ||
		!tp_pgsql_query_bool(&d->pg, "SELECT pg_catalog.has_function_privilege("
							 "'pg_catalog.pg_logical_emit_message(boolean, text, text)',"
							 " 'EXECUTE')", 0, NULL, &may))
	{
		tp_pgsql_close(&d->pg);
		d->retry_at_ms = tp_clock_ms() + tp_backoff_next(&d->backoff);
		return false;
	}
	tp_backoff_reset(&d->backoff);
	if (!may)
	{
		if (!d->refused_logged)
			tp_info(COMPONENT, "%s may not call pg_logical_emit_message: batches "
					"applied on arrival are committed synchronously",
					d->purpose);
		d->refused_logged = true;
		/* keep the connection, so that this is not asked again */
		return false;
	}
	atomic_store(&d->usable, true);
	return true;
}

/*
 * Make the WAL flushed up to target, on the thread's connection, in one
 * statement (one round trip): when the flushed position is short of
 * target, it writes a message in its own transaction, whose commit
 * (synchronous_commit is on in the session) flushes the WAL up to its
 * record, which comes after target. The position now known flushed into
 * *reached. False after logging.
 */
static bool
flush_to(tp_durable *d, uint64_t target, uint64_t *reached)
{
	char		target_text[24];
	const char *params[1] = {target_text};
	int64_t		pos = 0;
	bool		isnull = false;

	if (!ensure_connected(d))
		return false;
	snprintf(target_text, sizeof(target_text), "%" PRIu64, target);
	if (!tp_pgsql_query_int64(&d->pg,
							  "SELECT CASE WHEN f.pos >= $1::bigint THEN f.pos"
							  " ELSE (SELECT $1::bigint FROM pg_catalog.pg_logical_emit_message("
							  "true, 'teleport', 'flush')) END"
							  " FROM (SELECT (pg_catalog.pg_current_wal_flush_lsn() - '0/0')::bigint"
							  " AS pos) f",
							  1, params, &pos, &isnull) || isnull)
		goto failed;
	*reached = (uint64_t) pos;
	return true;

failed:
	tp_pgsql_close(&d->pg);
	atomic_store(&d->usable, false);
	d->retry_at_ms = tp_clock_ms() + tp_backoff_next(&d->backoff);
	return false;
}

/* The thread: flush up to the highest position waited for, until stopped. */
static void *
durable_main(void *arg)
{
	tp_durable *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop)
	{
		uint64_t	target = d->wanted;
		uint64_t	reached = 0;
		bool		waited_for = target > d->flushed;
		bool		ok;

		if (!waited_for && d->pg.conn != NULL)
		{
			pthread_cond_wait(&d->wake, &d->lock);
			continue;
		}
		if (tp_clock_ms() < d->retry_at_ms)
		{
			struct timespec until = tp_clock_deadline(d->retry_at_ms - tp_clock_ms());

			(void) pthread_cond_timedwait(&d->wake, &d->lock, &until);
			continue;
		}
		pthread_mutex_unlock(&d->lock);
		if (waited_for)
			ok = flush_to(d, target, &reached);
		else
		{
			/* nothing waited for: only connect (and find whether usable) */
			(void) ensure_connected(d);
			ok = d->pg.conn != NULL;
		}
		pthread_mutex_lock(&d->lock);
		if (!ok)
		{
			/* the open waits end; a later wait posts its position again */
			d->failures++;
			d->wanted = d->flushed;
		}
		else if (reached > d->flushed)
			d->flushed = reached;
		pthread_cond_broadcast(&d->done);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* See durable.h. */
bool
tp_durable_start(tp_durable *d)
{
	int			rc = pthread_create(&d->thread, NULL, durable_main, d);

	if (rc != 0)
	{
		tp_error(COMPONENT, "could not start %s: %s", d->purpose, strerror(rc));
		return false;
	}
	d->started = true;
	return true;
}

/* See durable.h. */
bool
tp_durable_usable(tp_durable *d)
{
	return d != NULL && atomic_load(&d->usable);
}

/* See durable.h. */
bool
tp_durable_wait(tp_durable *d, uint64_t lsn, int timeout_ms)
{
	struct timespec until = tp_clock_deadline(timeout_ms);
	bool		ok;
	uint64_t	failures;

	pthread_mutex_lock(&d->lock);
	failures = d->failures;
	if (lsn > d->wanted)
	{
		d->wanted = lsn;
		pthread_cond_signal(&d->wake);
	}
	while (d->flushed < lsn && !d->stop && d->failures == failures)
	{
		if (pthread_cond_timedwait(&d->done, &d->lock, &until) == ETIMEDOUT)
			break;
	}
	ok = d->flushed >= lsn;
	pthread_mutex_unlock(&d->lock);
	return ok;
}

/* See durable.h. */
void
tp_durable_stop(tp_durable *d)
{
	if (d == NULL || !d->started)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->wake);
	pthread_cond_broadcast(&d->done);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	d->started = false;
	atomic_store(&d->usable, false);
}

/* See durable.h. */
void
tp_durable_free(tp_durable *d)
{
	if (d == NULL)
		return;
	tp_durable_stop(d);
	tp_pgsql_close(&d->pg);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->done);
	pthread_mutex_destroy(&d->lock);
	free(d->conninfo);
	free(d->purpose);
	free(d);
}
