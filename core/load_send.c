/*
 * load_send.c
 *     Numbering and sending the batches of an initial load; see
 *     load_send.h.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "host.h"
#include "load_send.h"
#include "log.h"

#define COMPONENT "load"

/* The backoff of a refused batch: first delay, cap after TP_RETRY, TP_ERROR. */
#define BACKOFF_MIN_MS 100
#define RETRY_MAX_MS 1000
#define ERROR_MAX_MS 10000

/* See load_send.h. */
bool
tp_load_sender_init(tp_load_sender *s, const char *conninfo,
					const tp_target_config *target, const char *source,
					tp_plugin_ctx *ctx, const tp_transport_callbacks *cb,
					int64_t load_id)
{
	char		purpose[256];

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	snprintf(purpose, sizeof(purpose), "numbering the batches of the load of target \"%s\"",
			 target->name);
	if (!tp_pgsql_connect(&s->pg, conninfo, purpose) || !tp_pgsql_pin_session(&s->pg))
	{
		tp_pgsql_close(&s->pg);
		return false;
	}
	s->target = target;
	s->source = source;
	s->ctx = ctx;
	s->cb = cb;
	s->load_id = load_id;
	return true;
}

/* Sleep ms milliseconds, or less when a stop is requested. */
static void
nap(int ms)
{
	while (ms > 0 && !tp_host_stop_requested())
	{
		int			step = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long) step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/*
 * Send batch until the transport accepts it. After TP_ERROR, when
 * give_up_on_error, stop at once with *refused set. False when a stop
 * was requested (or on such a refusal).
 */
static bool
deliver(tp_load_sender *s, const tp_batch *batch, bool give_up_on_error, bool *refused)
{
	tp_backoff	backoff;

	*refused = false;
	tp_backoff_init(&backoff, BACKOFF_MIN_MS, ERROR_MAX_MS);
	for (;;)
	{
		tp_result	r;
		int			wait;

		if (tp_host_stop_requested())
			return false;
		r = s->cb->send(s->ctx, batch);
		if (r == TP_OK)
		{
			if (backoff.attempts > 0)
				tp_info(COMPONENT, "target \"%s\" accepted batch %" PRIu64 " after %u attempts",
						s->target->name, batch->seq, backoff.attempts + 1);
			return true;
		}
		if (r == TP_ERROR && give_up_on_error)
		{
			*refused = true;
			return false;
		}
		backoff.max_ms = r == TP_ERROR ? ERROR_MAX_MS : RETRY_MAX_MS;
		wait = tp_backoff_next(&backoff);
		if (backoff.attempts <= 3 || backoff.attempts % 10 == 0)
			tp_log(r == TP_ERROR ? TP_LOG_ERROR : TP_LOG_WARNING, COMPONENT,
				   "batch %" PRIu64 " of the load of target \"%s\" was not delivered "
				   "(%s, attempt %u); it is sent again in %d ms",
				   batch->seq, s->target->name, r == TP_ERROR ? "error" : "retry",
				   backoff.attempts, wait);
		nap(wait);
	}
}

/* Fill batch: kind, seq, data of s's target. */
static void
make_batch(const tp_load_sender *s, tp_batch *batch, uint64_t seq, tp_batch_kind kind,
		   const char *data, size_t len, uint64_t lines, bool partial)
{
	memset(batch, 0, sizeof(*batch));
	batch->size = sizeof(*batch);
	batch->format = TELEPORT_BATCH_FORMAT;
	batch->kind = kind;
	batch->source = s->source;
	batch->target = s->target->name;
	batch->seq = seq;
	batch->n_changes = lines;
	batch->apply_schema = s->target->apply_schema;
	batch->data = data;
	batch->data_len = len;
	batch->flags = partial ? TP_BATCH_PARTIAL : 0;
}

/* See load_send.h. */
bool
tp_load_send(tp_load_sender *s, tp_batch_kind kind, const char *data, size_t len,
			 uint64_t lines, bool last)
{
	char		id[24];
	const char *params[2] = {s->target->name, id};
	int64_t		seq = 0;
	bool		isnull = true;
	bool		refused;
	bool		ok;
	tp_batch	batch;

	snprintf(id, sizeof(id), "%" PRId64, s->load_id);
	pthread_mutex_lock(&s->lock);
	ok = tp_pgsql_query_int64(&s->pg,
							  "UPDATE teleport.target SET next_seq = next_seq + 1"
							  " WHERE name = $1 AND loading = $2::bigint"
							  " RETURNING next_seq - 1",
							  2, params, &seq, &isnull);
	if (ok && isnull)
	{
		tp_error(COMPONENT, "load %" PRId64 " no longer holds target \"%s\": another load "
				 "took it over", s->load_id, s->target->name);
		ok = false;
	}
	if (ok)
	{
		make_batch(s, &batch, (uint64_t) seq, kind, data, len, lines,
				   s->one_transaction && !last);
		ok = deliver(s, &batch, false, &refused);
	}
	if (ok)
	{
		if (s->first_seq == 0)
			s->first_seq = (uint64_t) seq;
		s->last_seq = (uint64_t) seq;
		s->batches++;
		s->bytes += len;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* See load_send.h. */
bool
tp_load_send_at(tp_load_sender *s, uint64_t seq, tp_batch_kind kind, const char *data,
				size_t len, uint64_t lines, bool *refused)
{
	tp_batch	batch;
	bool		ok;

	pthread_mutex_lock(&s->lock);
	make_batch(s, &batch, seq, kind, data, len, lines, s->one_transaction);
	ok = deliver(s, &batch, true, refused);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* See load_send.h. */
void
tp_load_sender_free(tp_load_sender *s)
{
	tp_pgsql_close(&s->pg);
	pthread_mutex_destroy(&s->lock);
}
