/*
 * target_worker.c
 *     A target's sending thread.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "target_worker.h"

#define LOG_COMPONENT "transmitter"

/*
 * Wait up to ms milliseconds for a wake-up or a stop. Returns false when
 * the worker must stop.
 */
static bool
wait_for_work(tp_target_worker *w, long long ms)
{
	struct timespec until = tp_clock_deadline(ms);
	bool		go_on;

	pthread_mutex_lock(&w->lock);
	while (!w->pending && !w->stop)
	{
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT)
			break;
	}
	w->pending = false;
	go_on = !w->stop;
	pthread_mutex_unlock(&w->lock);
	return go_on;
}

/* The thread: connect (with backoff), send, wait, until stopped. */
static void *
worker_main(void *arg)
{
	tp_target_worker *w = arg;
	tp_pgsql	pg = {0};
	bool		up = false;
	tp_backoff	backoff;
	char		purpose[256];

	snprintf(purpose, sizeof(purpose), "sending to target \"%s\"", w->tx.target->name);
	tp_backoff_init(&backoff, 100, 30000);
	for (;;)
	{
		long long	wait = w->interval_ms;
		bool		again = false;

		if (!up)
		{
			/*
			 * Acknowledgements commit asynchronously: one lost in a crash
			 * only makes its batch be sent again, which the receiver
			 * answers as a duplicate (docs/architecture.md)
			 */
			up = tp_pgsql_connect(&pg, w->conninfo, purpose) && tp_pgsql_pin_session(&pg) &&
				tp_pgsql_exec(&pg, "SELECT pg_catalog.set_config('synchronous_commit', 'off', false)");
			if (up)
				tp_backoff_reset(&backoff);
			else
			{
				tp_pgsql_close(&pg);
				wait = tp_backoff_next(&backoff);
			}
		}
		if (up && !tp_transmitter_run(&w->tx, &pg, w->source, 100, &again) &&
			PQstatus(pg.conn) != CONNECTION_OK)
		{
			tp_warning(LOG_COMPONENT, "lost the connection %s; reconnecting", purpose);
			tp_pgsql_close(&pg);
			up = false;
			wait = tp_backoff_next(&backoff);
		}
		/* a held batch is due again at retry_at_ms, not before */
		if (up && w->tx.retry_at_ms > tp_clock_ms())
			wait = w->tx.retry_at_ms - tp_clock_ms();
		/* a backlog: the next run at once (a stop is still seen) */
		else if (again)
			wait = 0;
		if (!wait_for_work(w, wait))
			break;
	}
	tp_transmitter_free(&w->tx);
	tp_pgsql_close(&pg);
	return NULL;
}

/* See target_worker.h. */
bool
tp_target_worker_start(tp_target_worker *w, const tp_target_config *target,
					   tp_plugin_ctx *const *ctxs, int n_ctxs,
					   const tp_transport_callbacks *cb,
					   const char *conninfo, const char *source, int interval_ms)
{
	pthread_condattr_t cattr;
	sigset_t	block;
	sigset_t	old;
	int			rc;

	memset(w, 0, sizeof(*w));
	tp_transmitter_init(&w->tx, target, ctxs[0], cb);
	for (int i = 1; i < n_ctxs; i++)
		(void) tp_transmitter_add_lane(&w->tx, ctxs[i]);
	w->conninfo = conninfo;
	w->source = source;
	w->interval_ms = interval_ms;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &cattr);
	pthread_condattr_destroy(&cattr);

	/* signals are for the main thread, which turns them into a stop */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		tp_error(LOG_COMPONENT, "could not start the thread of target \"%s\": %s",
				 target->name, strerror(rc));
		return false;
	}
	w->started = true;
	return true;
}

/* See target_worker.h. */
void
tp_target_worker_wake(tp_target_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->pending = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* See target_worker.h. */
void
tp_target_worker_stop(tp_target_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	w->started = false;
}
