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
#include "xalloc.h"

#define COMPONENT "load"

/* The backoff of a refused batch: first delay, cap after TP_RETRY, TP_ERROR. */
#define BACKOFF_MIN_MS 100
#define RETRY_MAX_MS 1000
#define ERROR_MAX_MS 10000

static void *lane_main(void *arg);

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
	pthread_cond_init(&s->changed, NULL);
	atomic_init(&s->quit, false);
	s->target = target;
	s->source = source;
	s->cb = cb;
	s->load_id = load_id;
	snprintf(purpose, sizeof(purpose), "numbering the batches of the load of target \"%s\"",
			 target->name);
	if (!tp_pgsql_connect(&s->pg, conninfo, purpose) || !tp_pgsql_pin_session(&s->pg))
	{
		tp_pgsql_close(&s->pg);
		return false;
	}
	return tp_load_sender_add_lane(s, ctx);
}

/* See load_send.h. */
bool
tp_load_sender_add_lane(tp_load_sender *s, tp_plugin_ctx *ctx)
{
	tp_load_lane *lane;

	if (s->n_lanes >= TP_LOAD_MAX_LANES)
	{
		tp_error(COMPONENT, "a load sends on at most %d transport instances", TP_LOAD_MAX_LANES);
		return false;
	}
	lane = &s->lanes[s->n_lanes];
	lane->s = s;
	lane->ctx = ctx;
	if (pthread_create(&lane->thread, NULL, lane_main, lane) != 0)
	{
		tp_error(COMPONENT, "could not start a sending thread of the load of target \"%s\"",
				 s->target->name);
		return false;
	}
	lane->started = true;
	pthread_mutex_lock(&s->lock);
	s->n_lanes++;
	pthread_mutex_unlock(&s->lock);
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
 * Send batch on ctx until the transport accepts it. After TP_ERROR, when
 * give_up_on_error, stop at once with *refused set. False when a stop
 * was requested, s is freed (or on such a refusal).
 */
static bool
deliver(tp_load_sender *s, tp_plugin_ctx *ctx, const tp_batch *batch, bool give_up_on_error,
		bool *refused)
{
	tp_backoff	backoff;

	*refused = false;
	tp_backoff_init(&backoff, BACKOFF_MIN_MS, ERROR_MAX_MS);
	for (;;)
	{
		tp_result	r;
		int			wait;

		if (tp_host_stop_requested() || atomic_load(&s->quit))
			return false;
		r = s->cb->send(ctx, batch);
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

/*
 * Record seq as acknowledged (under s->lock): last_seq moves on over every
 * batch acknowledged without a gap; one acknowledged before an earlier
 * one waits in s->acked. While one lane retries its batch, the others go
 * on with later ones, so any number may wait there.
 */
static void
acknowledged(tp_load_sender *s, uint64_t seq, size_t len)
{
	bool		again = true;

	s->batches++;
	s->bytes += len;
	if (seq != (s->last_seq == 0 ? s->first_seq : s->last_seq + 1))
	{
		if (s->n_acked == s->cap_acked)
		{
			s->cap_acked = s->cap_acked ? 2 * s->cap_acked : 16;
			s->acked = tp_xrealloc(s->acked, s->cap_acked * sizeof(uint64_t));
		}
		s->acked[s->n_acked++] = seq;
		return;
	}
	s->last_seq = seq;
	while (again)
	{
		again = false;
		for (size_t i = 0; i < s->n_acked; i++)
		{
			if (s->acked[i] == s->last_seq + 1)
			{
				s->last_seq++;
				s->acked[i] = s->acked[--s->n_acked];
				again = true;
				break;
			}
		}
	}
}

/*
 * A lane's thread: send each batch handed to it, once every busy lane with
 * an earlier number has handed its own to the transport (so batches start
 * in number order), and record the answer.
 */
static void *
lane_main(void *arg)
{
	tp_load_lane *lane = arg;
	tp_load_sender *s = lane->s;

	pthread_mutex_lock(&s->lock);
	for (;;)
	{
		bool		first;
		bool		ok;
		bool		refused;
		tp_batch	batch;

		while (!lane->busy && !atomic_load(&s->quit))
			pthread_cond_wait(&s->changed, &s->lock);
		if (!lane->busy)
			break;
		do
		{
			first = true;
			for (int i = 0; i < s->n_lanes; i++)
			{
				const tp_load_lane *o = &s->lanes[i];

				if (o != lane && o->busy && !o->sending && o->seq < lane->seq)
					first = false;
			}
			if (!first && !atomic_load(&s->quit))
				pthread_cond_wait(&s->changed, &s->lock);
		} while (!first && !atomic_load(&s->quit));
		lane->sending = true;
		pthread_cond_broadcast(&s->changed);
		make_batch(s, &batch, lane->seq, lane->kind, lane->data, lane->len, lane->lines,
				   lane->partial);
		pthread_mutex_unlock(&s->lock);
		ok = deliver(s, lane->ctx, &batch, false, &refused);
		pthread_mutex_lock(&s->lock);
		if (ok)
			acknowledged(s, lane->seq, lane->len);
		else
			s->failed = true;
		lane->busy = false;
		lane->sending = false;
		s->in_flight--;
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* The largest batch in flight (under s->lock). */
static size_t
largest_in_flight(const tp_load_sender *s)
{
	size_t		len = 0;

	for (int i = 0; i < s->n_lanes; i++)
	{
		if (s->lanes[i].busy && s->lanes[i].len > len)
			len = s->lanes[i].len;
	}
	return len;
}

/* See load_send.h. */
bool
tp_load_send(tp_load_sender *s, tp_batch_kind kind, const char *data, size_t len,
			 uint64_t lines, bool last, bool rows)
{
	char		id[24];
	const char *params[2] = {s->target->name, id};
	int64_t		seq = 0;
	bool		isnull = true;
	bool		pipelined;
	bool		ok;
	uint64_t	ticket;
	tp_load_lane *lane = NULL;

	snprintf(id, sizeof(id), "%" PRId64, s->load_id);
	pthread_mutex_lock(&s->lock);
	pipelined = rows && !s->one_transaction && s->n_lanes > 1;
	/* callers in turn: a batch that waits to go alone is not overtaken */
	ticket = s->tickets++;
	while (s->serving != ticket)
		pthread_cond_wait(&s->changed, &s->lock);

	/*
	 * A free lane; alone unless a row chunk at least half as long as those
	 * in flight (a much shorter one, sent at once, would likely arrive
	 * before them and wait on the target)
	 */
	for (;;)
	{
		if (s->failed || tp_host_stop_requested())
		{
			s->serving++;
			pthread_cond_broadcast(&s->changed);
			pthread_mutex_unlock(&s->lock);
			return false;
		}
		if (s->in_flight == 0 ||
			(pipelined && s->in_flight < s->n_lanes && len >= largest_in_flight(s) / 2))
			break;
		pthread_cond_wait(&s->changed, &s->lock);
	}
	for (int i = 0; i < s->n_lanes && lane == NULL; i++)
	{
		if (!s->lanes[i].busy)
			lane = &s->lanes[i];
	}
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
	if (ok && lane == NULL)
	{
		tp_error(COMPONENT, "no free sending thread for batch %" PRId64, seq);
		ok = false;
	}
	if (ok)
	{
		if (s->first_seq == 0)
			s->first_seq = (uint64_t) seq;
		if (lane->cap < len)
		{
			lane->cap = len;
			lane->data = tp_xrealloc(lane->data, len);
		}
		if (len > 0)
			memcpy(lane->data, data, len);
		lane->len = len;
		lane->seq = (uint64_t) seq;
		lane->kind = kind;
		lane->lines = lines;
		lane->partial = s->one_transaction && !last;
		lane->busy = true;
		lane->sending = false;
		s->in_flight++;
		s->numbered = (uint64_t) seq;
	}
	s->serving++;
	pthread_cond_broadcast(&s->changed);
	if (ok && !pipelined)
	{
		while (s->in_flight > 0)
			pthread_cond_wait(&s->changed, &s->lock);
		ok = !s->failed;
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* See load_send.h. */
bool
tp_load_send_flush(tp_load_sender *s)
{
	bool		ok;
	uint64_t	upto;

	pthread_mutex_lock(&s->lock);
	upto = s->numbered;
	while (!s->failed && s->last_seq < upto)
		pthread_cond_wait(&s->changed, &s->lock);
	ok = !s->failed;
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

	*refused = false;
	pthread_mutex_lock(&s->lock);
	while (s->in_flight > 0)
		pthread_cond_wait(&s->changed, &s->lock);
	make_batch(s, &batch, seq, kind, data, len, lines, s->one_transaction);
	ok = !s->failed && deliver(s, s->lanes[0].ctx, &batch, true, refused);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* See load_send.h. */
void
tp_load_sender_free(tp_load_sender *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->quit, true);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < TP_LOAD_MAX_LANES; i++)
	{
		if (s->lanes[i].started)
			pthread_join(s->lanes[i].thread, NULL);
		free(s->lanes[i].data);
	}
	free(s->acked);
	tp_pgsql_close(&s->pg);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
}
