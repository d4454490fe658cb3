/*
 * apply_loop.c
 *     The apply loop of a receiving instance; see apply_loop.h.
 *
 * One pass reads the streams that have batches to apply, then works
 * through each one unit (the batches of a source transaction) at a time
 * until the stream is idle, held or waiting for the rest of a partial
 * transaction, or has had its time slice (so that one busy stream does not
 * starve the others; the thread then runs the next pass at once). Held
 * streams keep their backoff in memory; their state is in inbox_stream,
 * where the status endpoint and the operator commands see it.
 *
 * While a stream is behind, consecutive units already stored are applied
 * in one target transaction (a group: at most GROUP_MAX_BATCHES batches,
 * GROUP_MAX_BYTES of data and GROUP_MAX_MS of applying), so that the
 * commit and the inbox's bookkeeping are paid once per group. Each unit
 * stays whole and in order; last_applied moves to the group's end in the
 * same transaction. When a unit after the group's first one fails, the
 * group is rolled back and the stream applies one unit per transaction up
 * to the failing unit (solo_until), so that the unit held and reported is
 * exactly the failing one and the ones before it are applied. A stream
 * that is caught up has one unit at a time to apply: nothing waits to form
 * a group.
 *
 * Batches applied on arrival (tp_apply_loop_apply_now) run on one of two
 * lanes: lane 0 is the loop's thread and connection, lane 1 a second
 * thread with a connection and an applier context of its own
 * (tp_apply_loop_add_lane). A caller claims a free lane for its batch
 * (now_lane), the lane's thread applies it and answers. Lane 0 applies a
 * batch as the head of its stream (apply_now: the stream's last batch must
 * be the one before, committed); either lane applies a load's chunk of
 * rows alongside the chunk before it while the other lane still applies
 * that one (follow): it commits only after that one's transaction ended,
 * and only when that one committed. Each lane has one batch at a time, so
 * at most two transactions of a stream are open, and memory holds no
 * batch beyond the callers' own.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply_ahead.h"
#include "apply_loop.h"
#include "backoff.h"
#include "clock.h"
#include "durable.h"
#include "host.h"
#include "log.h"
#include "pgsql.h"
#include "xalloc.h"

#define COMPONENT "apply"

/* Backoff of a held unit, and of the connection. */
#define HOLD_BACKOFF_MIN_MS 100
#define HOLD_BACKOFF_MAX_MS 30000
#define CONNECT_BACKOFF_MIN_MS 100
#define CONNECT_BACKOFF_MAX_MS 10000

/* A held stream's next try at most this long after new batches came. */
#define NEWS_RETRY_MS 2000

/* How long one stream may apply in a pass before the next stream's turn. */
#define STREAM_SLICE_MS 1000

/* How long a batch applied on arrival waits for its stream's store lock. */
#define NOW_LOCK_TIMEOUT "5s"

/*
 * How long a chunk applied alongside the one before it (follow) waits,
 * once its rows are in, for the transaction of that one to end.
 */
#define FOLLOW_LOCK_TIMEOUT "10s"

/*
 * The lock of a load's chunk of rows being applied on arrival, as an SQL
 * expression over $1 (source), $2 (target) and seq (a parameter): a
 * transaction-level advisory lock under classid "next" (0x6e657874) that
 * the transaction applying the chunk takes before it may be followed, so
 * that the one applying the next chunk alongside can wait for its end.
 */
#define NOW_SEQ_LOCK(seq) \
	"1852143732, pg_catalog.hashtext($1::text || E'\\n' || $2::text" \
	" || E'\\n' || " seq "::text)"

/*
 * Where a stream stands for batch $3 applied on arrival ($1 source, $2
 * target, $4 TP_INBOX_EARLY_WINDOW), under its apply and store locks: 1
 * when its last batch received is $3 - 1 and everything received is
 * applied and nothing held; 2 when the last received is a little before
 * that (the one before $3 is on its way); else 0.
 */
#define NOW_STATE_SQL \
	"SELECT CASE" \
	" WHEN r = $3::bigint - 1 AND ok THEN 1" \
	" WHEN r < $3::bigint - 1" \
	"  AND r >= $3::bigint - 1 - $4::bigint THEN 2 ELSE 0 END" \
	" FROM (SELECT coalesce(max(s.last_received), 0) AS r," \
	"  coalesce(bool_and(s.last_applied = s.last_received" \
	"  AND s.held_seq IS NULL), true) AS ok" \
	"  FROM teleport.inbox_stream s" \
	"  WHERE s.source = $1 AND s.target = $2) x"

/*
 * The locks of a batch applied on arrival ($1 source, $2 target, $3 seq):
 * the stream's apply lock if it is free, and then (only then) its store
 * lock and the locks of more (a FROM list of aliased calls, starting
 * with a comma, or empty). One row: whether the apply lock was taken.
 */
#define NOW_LOCKS_SQL(more) \
	"SELECT CASE WHEN pg_catalog.pg_try_advisory_xact_lock(" TP_APPLY_LOCK_KEY ")" \
	" THEN (SELECT true FROM pg_catalog.pg_advisory_xact_lock(" \
	TP_INBOX_STORE_LOCK_KEY ") store" more ") ELSE false END"

/* Record batch $3 of stream ($1, $2) as received and applied. */
#define NOW_RECORD_SQL \
	"INSERT INTO teleport.inbox_stream AS s (source, target," \
	" last_received, last_applied, applied_at)" \
	" VALUES ($1, $2, $3::bigint, $3::bigint, clock_timestamp())" \
	" ON CONFLICT (source, target) DO UPDATE" \
	" SET last_received = EXCLUDED.last_received," \
	" last_applied = EXCLUDED.last_applied," \
	" received_at = clock_timestamp(), applied_at = clock_timestamp()"

/*
 * How long a batch to apply on arrival waits for the one being applied on
 * arrival before it (then it is stored); one shortly before it that has
 * not arrived yet (a sender keeps several in flight) is waited for
 * TP_INBOX_EARLY_WAIT_MS (then it is answered as early, to be sent
 * again). A batch is EARLY when the stream's last received batch is at
 * most TP_INBOX_EARLY_WINDOW before its predecessor.
 */
#define NOW_BUSY_WAIT_MS 10000

/*
 * How long a batch applied on arrival with an asynchronous commit waits
 * for the commit to be durable before it is answered (then it is handed to
 * the inbox's store, which finds it received and flushes; see inbox.c).
 */
#define NOW_DURABLE_WAIT_MS 10000

/* The longest reason kept for a held unit. */
#define REASON_LEN 1024

/* The bounds of a group of units applied in one transaction. */
#define GROUP_MAX_BATCHES 64
#define GROUP_MAX_BYTES ((size_t) 64 * 1024 * 1024)
#define GROUP_MAX_MS 500

/* What the loop remembers of a stream between passes. */
typedef struct stream_state
{
	char	   *source;
	char	   *target;
	tp_backoff	backoff;		/* of its held unit */
	long long	retry_at_ms;	/* not before (monotonic); 0: now */
	long long	tried_at_ms;	/* its last pass (monotonic) ... */
	uint64_t	tried_received; /* ... and last_received then */
	bool		news;			/* more stored since: try at NEWS_RETRY_MS */
	uint64_t	held_seq;		/* the unit held, 0: none */
	uint64_t	solo_until;		/* one unit per transaction up to this seq */
	bool		stopped_logged; /* the stopped state was reported */
	bool		waiting_logged; /* the wait for a partial's rest was */
	bool		ahead_known;	/* ahead_max was read (apply_ahead.h) */
	uint64_t	ahead_max;		/* the last batch with changes applied ahead */
	uint64_t	ahead_first;	/* the unit they were applied ahead of ... */
	char	   *ahead_reason;	/* ... and its failure then (owned) ... */
	uint64_t	ahead_from;		/* ... and the batch they came from */
	tp_ahead_loaded loaded;		/* rows left out before a load (owned) */
	bool		failed_in_apply;	/* the last failure was the applier's */
} stream_state;

/*
 * A batch applied on arrival on one of the loop's two lanes (0: the
 * loop's thread and connection; 1: the second ones), under the loop's
 * lock. A caller claims a free lane (batch set), asks its thread and waits
 * for done; the thread answers and the caller frees the lane.
 */
typedef struct now_lane
{
	const tp_batch *batch;		/* the caller's batch; NULL: the lane is free */
	bool		follows;		/* apply it alongside the one before (follow) */
	bool		asked;			/* for the lane's thread to apply */
	bool		underway;		/* its transaction holds its NOW_SEQ_LOCK */
	bool		done;			/* the thread answered ... */
	tp_inbox_now result;		/* ... this */
	uint64_t	lsn;			/* ... after an asynchronous commit; 0: none */
} now_lane;

/* The second lane: its thread, connection and applier context. */
typedef struct second_lane
{
	tp_plugin_ctx *ctx;			/* the applier's second instance; NULL: none */
	tp_pgsql	pg;				/* pg.conn NULL: not connected */
	tp_backoff	connect_backoff;
	long long	connect_at_ms;	/* next connection attempt */
	char	   *purpose;		/* for messages */
	pthread_t	thread;
	bool		started;
	pthread_cond_t wake;		/* a batch was handed to it, or stop */
} second_lane;

struct tp_apply_loop
{
	char	   *conninfo;
	char	   *instance;
	char	   *purpose;		/* for messages: the apply loop of "x" */
	tp_inbox   *inbox;
	tp_plugin_ctx *ctx;
	const tp_applier_callbacks *cb;
	int			interval_ms;

	tp_pgsql	pg;				/* pg.conn NULL: not connected */
	tp_backoff	connect_backoff;
	long long	connect_at_ms;	/* next connection attempt */

	stream_state *streams;
	size_t		n_streams;

	pthread_t	thread;
	bool		started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool		pending;		/* a batch was stored */
	atomic_bool stop;

	/* batches to apply on arrival (tp_apply_loop_apply_now), under lock */
	now_lane	now[2];
	pthread_cond_t now_cond;	/* a lane was answered, freed or is under way */
	second_lane second;

	/* makes asynchronous commits of batches applied on arrival durable */
	tp_durable *durable;		/* NULL: the thread never started */
};

/* The outcome of one unit. */
typedef enum unit_result
{
	UNIT_APPLIED,				/* committed */
	UNIT_REGROUP,				/* a group failed: rolled back, go on unit by unit */
	UNIT_AHEAD,					/* schema changes applied ahead: try again */
	UNIT_IDLE,					/* nothing to apply */
	UNIT_WAITING,				/* the rest of a partial has not arrived */
	UNIT_BUSY,					/* another process applies the stream */
	UNIT_STOPPED,				/* the stream is stopped */
	UNIT_HELD,					/* failed, recorded, backoff set */
	UNIT_LOST					/* the connection broke */
} unit_result;

/* A due stream as read at the start of a pass. */
typedef struct due_stream
{
	char	   *source;
	char	   *target;
	bool		stopped;
	uint64_t	last_received;
} due_stream;

/*
 * Connection
 */

/* Close the connection; the next pass reconnects. */
static void
disconnect(tp_apply_loop *loop)
{
	tp_pgsql_close(&loop->pg);
}

/*
 * Whether pg, a connection of the loop on which ctx applies, is usable:
 * reconnect when it is closed or found broken and the backoff (*backoff,
 * *connect_at_ms) allows, pin the session (application_name app_name),
 * install the inbox's schema, and let the applier prepare it. False
 * (logged, as purpose) otherwise.
 */
static bool
connect_session(tp_apply_loop *loop, tp_pgsql *pg, tp_plugin_ctx *ctx,
				tp_backoff *backoff, long long *connect_at_ms,
				const char *purpose, const char *app_name)
{
	static const char pin[] =
		"SELECT pg_catalog.set_config('datestyle', 'ISO, YMD', false),"
		" pg_catalog.set_config('timezone', 'UTC', false),"
		" pg_catalog.set_config('bytea_output', 'hex', false),"
		" pg_catalog.set_config('client_encoding', 'UTF8', false),"
		" pg_catalog.set_config('application_name', $1, false)";
	const char *params[1] = {app_name};
	tp_result	r;

	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
		return true;
	if (pg->conn != NULL)
	{
		tp_warning(COMPONENT, "%s lost its connection; reconnecting", purpose);
		tp_pgsql_close(pg);
	}
	if (tp_clock_ms() < *connect_at_ms)
		return false;
	if (!tp_pgsql_connect(pg, loop->conninfo, purpose) ||
		!tp_pgsql_pin_session(pg) || !tp_pgsql_query(pg, pin, 1, params, NULL, NULL) ||
		(loop->inbox != NULL && !tp_inbox_ready_on(loop->inbox, pg)))
		goto fail;
	r = loop->cb->prepare != NULL ? loop->cb->prepare(ctx, pg->conn) : TP_OK;
	if (r != TP_OK)
	{
		tp_log(r == TP_ERROR ? TP_LOG_ERROR : TP_LOG_WARNING, COMPONENT,
			   "the applier could not prepare the database of \"%s\"; trying again later",
			   loop->instance);
		goto fail;
	}
	if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE && !tp_pgsql_exec(pg, "ROLLBACK"))
		goto fail;
	tp_backoff_reset(backoff);
	*connect_at_ms = 0;
	tp_debug(COMPONENT, "%s is connected", purpose);
	return true;

fail:
	tp_pgsql_close(pg);
	*connect_at_ms = tp_clock_ms() + tp_backoff_next(backoff);
	return false;
}

/* Whether the loop's own connection is usable (connect_session). */
static bool
ensure_connected(tp_apply_loop *loop)
{
	return connect_session(loop, &loop->pg, loop->ctx, &loop->connect_backoff,
						   &loop->connect_at_ms, loop->purpose, "teleport apply");
}

/*
 * Streams
 */

/* The remembered state of (source, target), made when new. */
static stream_state *
stream_of(tp_apply_loop *loop, const char *source, const char *target)
{
	stream_state *st;

	for (size_t i = 0; i < loop->n_streams; i++)
	{
		st = &loop->streams[i];
		if (strcmp(st->source, source) == 0 && strcmp(st->target, target) == 0)
			return st;
	}
	loop->streams = tp_xrealloc(loop->streams,
								(loop->n_streams + 1) * sizeof(stream_state));
	st = &loop->streams[loop->n_streams++];
	memset(st, 0, sizeof(*st));
	st->source = tp_xstrdup(source);
	st->target = tp_xstrdup(target);
	tp_backoff_init(&st->backoff, HOLD_BACKOFF_MIN_MS, HOLD_BACKOFF_MAX_MS);
	return st;
}

/* Row callback: collect one due stream. */
static bool
due_row(void *arg, const PGresult *res, int row)
{
	struct
	{
		due_stream *items;
		size_t		n;
	}		   *due = arg;
	due_stream *d;

	due->items = tp_xrealloc(due->items, (due->n + 1) * sizeof(due_stream));
	d = &due->items[due->n++];
	d->source = tp_xstrdup(PQgetvalue(res, row, 0));
	d->target = tp_xstrdup(PQgetvalue(res, row, 1));
	d->stopped = strcmp(PQgetvalue(res, row, 2), "t") == 0;
	d->last_received = strtoull(PQgetvalue(res, row, 3), NULL, 10);
	return true;
}

/*
 * Units
 */

/*
 * Record the failure of the unit starting at seq of st (state "retrying"
 * or "stopped") after the rollback, log it and set the backoff. Returns
 * UNIT_HELD, or UNIT_LOST when the connection broke.
 */
static unit_result
hold_unit(tp_apply_loop *loop, stream_state *st, uint64_t seq, bool stop,
		  const char *reason)
{
	char		seq_text[24];
	char	   *attempts_text = NULL;
	const char *params[5];
	long		attempts = 0;
	int			wait;

	if (loop->pg.conn == NULL || PQstatus(loop->pg.conn) != CONNECTION_OK)
	{
		tp_warning(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " failed: %s",
				   st->source, st->target, seq, reason);
		disconnect(loop);
		return UNIT_LOST;
	}
	if (PQtransactionStatus(loop->pg.conn) != PQTRANS_IDLE)
		(void) tp_pgsql_exec(&loop->pg, "ROLLBACK");
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, seq);
	params[0] = st->source;
	params[1] = st->target;
	params[2] = seq_text;
	params[3] = stop ? "stopped" : "retrying";
	params[4] = reason;
	if (tp_pgsql_query_value(&loop->pg,
							 "UPDATE teleport.inbox_stream SET"
							 " held_since = CASE WHEN held_seq IS DISTINCT FROM $3::bigint"
							 "  THEN clock_timestamp() ELSE coalesce(held_since, clock_timestamp()) END,"
							 " held_attempts = CASE WHEN held_seq IS DISTINCT FROM $3::bigint"
							 "  THEN 1 ELSE held_attempts + 1 END,"
							 " held_seq = $3::bigint, held_state = $4, held_reason = $5"
							 " WHERE source = $1 AND target = $2 RETURNING held_attempts",
							 5, params, &attempts_text) && attempts_text != NULL)
		attempts = strtol(attempts_text, NULL, 10);
	free(attempts_text);
	if (st->held_seq != seq)
	{
		st->held_seq = seq;
		tp_backoff_reset(&st->backoff);
	}
	if (stop)
	{
		st->retry_at_ms = 0;
		st->stopped_logged = true;
		tp_error(COMPONENT, "stream \"%s\" -> \"%s\" is stopped: batch %" PRIu64
				 " can never be applied as it is: %s; fix the cause, then run "
				 "\"teleport -config FILE --retry-batch %s\", or skip it with "
				 "\"teleport -config FILE --skip-batch %s:%" PRIu64 "\"",
				 st->source, st->target, seq, reason, st->source, st->source, seq);
		return UNIT_HELD;
	}
	wait = tp_backoff_next(&st->backoff);
	st->retry_at_ms = tp_clock_ms() + wait;
	tp_warning(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " is held "
			   "(attempt %ld; later batches wait): %s; retrying in %d ms",
			   st->source, st->target, seq, attempts, reason, wait);
	return UNIT_HELD;
}

/* A batch of the inbox, with the result that holds its strings. */
typedef struct inbox_batch
{
	tp_batch	batch;
	PGresult   *res;
} inbox_batch;

/* The outcome of fetch_batch. */
typedef enum fetch_result
{
	FETCH_OK,
	FETCH_MISSING,				/* no such row: it can never be applied */
	FETCH_FAILED				/* the query failed */
} fetch_result;

/*
 * Read batch seq of st into *ib (PQclear ib->res after use). Otherwise a
 * reason.
 */
static fetch_result
fetch_batch(tp_apply_loop *loop, stream_state *st, uint64_t seq,
			inbox_batch *ib, char *reason, size_t len)
{
	char		seq_text[24];
	const char *params[3];
	PGresult   *res;

	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, seq);
	params[0] = st->source;
	params[1] = st->target;
	params[2] = seq_text;
	memset(ib, 0, sizeof(*ib));
	res = tp_pgsql_result(&loop->pg,
						  "SELECT kind, n_changes, first_tick, last_tick, apply_schema,"
						  " partial, data FROM teleport.inbox"
						  " WHERE source = $1 AND target = $2 AND seq = $3::bigint",
						  3, params, reason, len);
	if (res == NULL)
		return FETCH_FAILED;
	if (PQntuples(res) != 1)
	{
		snprintf(reason, len, "batch %" PRIu64 " is missing from the inbox "
				 "(teleport.inbox): it was removed before it was applied", seq);
		PQclear(res);
		return FETCH_MISSING;
	}
	ib->res = res;
	ib->batch.size = sizeof(tp_batch);
	ib->batch.format = TELEPORT_BATCH_FORMAT;
	ib->batch.kind = strcmp(PQgetvalue(res, 0, 0), "load") == 0
		? TP_BATCH_LOAD : TP_BATCH_CHANGES;
	ib->batch.source = st->source;
	ib->batch.target = st->target;
	ib->batch.seq = seq;
	ib->batch.n_changes = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	ib->batch.first_tick = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	ib->batch.last_tick = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
	ib->batch.apply_schema = PQgetvalue(res, 0, 4);
	ib->batch.flags = strcmp(PQgetvalue(res, 0, 5), "t") == 0 ? TP_BATCH_PARTIAL : 0;
	ib->batch.data = PQgetvalue(res, 0, 6);
	ib->batch.data_len = (size_t) PQgetlength(res, 0, 6);
	return FETCH_OK;
}

/*
 * Hand batch to the applier instance ctx inside the transaction open on
 * pg. TP_OK, or the failure with its reason (the applier's last warning
 * or error).
 */
static tp_result
call_apply_on(tp_apply_loop *loop, tp_pgsql *pg, tp_plugin_ctx *ctx,
			  const tp_batch *batch, char *reason, size_t len)
{
	tp_result	r;

	tp_host_capture_begin(reason, len);
	r = loop->cb->apply(ctx, pg->conn, batch);
	tp_host_capture_end();
	if (r == TP_OK)
	{
		PGTransactionStatusType ts = PQtransactionStatus(pg->conn);

		if (ts == PQTRANS_INERROR)
		{
			snprintf(reason, len, "the applier returned success but the "
					 "transaction had failed");
			return TP_RETRY;
		}
		if (ts != PQTRANS_INTRANS)
		{
			snprintf(reason, len, "the applier ended the transaction it "
					 "was given, or lost the connection");
			return PQstatus(pg->conn) == CONNECTION_OK ? TP_ERROR : TP_RETRY;
		}
		return TP_OK;
	}
	if (reason[0] == '\0')
		snprintf(reason, len, "the applier returned %s without saying why",
				 r == TP_ERROR ? "TP_ERROR" : "TP_RETRY");
	return r;
}

/* call_apply_on the loop's own connection and applier instance. */
static tp_result
call_apply(tp_apply_loop *loop, const tp_batch *batch, char *reason, size_t len)
{
	return call_apply_on(loop, &loop->pg, loop->ctx, batch, reason, len);
}

/*
 * Apply batches from to to of st in the open transaction, adding their
 * data's sizes to *bytes. On a failure: false, with *bad the batch that
 * failed, *stop whether it can never be applied as it is (missing from
 * the inbox, or TP_ERROR), and the reason.
 */
static bool
apply_batches(tp_apply_loop *loop, stream_state *st, uint64_t from, uint64_t to,
			  size_t *bytes, uint64_t *bad, bool *stop, char *reason, size_t len)
{
	st->failed_in_apply = false;
	for (uint64_t seq = from; seq <= to; seq++)
	{
		inbox_batch ib;
		fetch_result fr;
		tp_result	r;

		reason[0] = '\0';
		*bad = seq;
		fr = fetch_batch(loop, st, seq, &ib, reason, len);
		if (fr != FETCH_OK)
		{
			*stop = fr == FETCH_MISSING;
			return false;
		}
		*bytes += ib.batch.data_len;
		if (seq <= st->ahead_max || seq < st->loaded.begin_seq)
		{
			/*
			 * without the schema changes applied ahead of an earlier batch,
			 * and the rows of the tables a later load empties
			 */
			tp_batch	rest;
			tp_batch	rows;
			char	   *data = NULL;
			char	   *data2 = NULL;
			uint64_t	left_out = 0;

			if (!tp_ahead_filter(&loop->pg, &ib.batch, &rest, &data) ||
				!tp_ahead_leave_loaded(&rest, &st->loaded, &rows, &data2, &left_out))
			{
				free(data);
				PQclear(ib.res);
				snprintf(reason, len, "the changes of batch %" PRIu64 " applied "
						 "ahead or loaded later could not be left out of it", seq);
				*stop = false;
				return false;
			}
			if (left_out > 0)
				tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 ": %" PRIu64
						" row change(s) left out, of tables that the load at batch %"
						PRIu64 " empties and copies again", st->source, st->target, seq,
						left_out, st->loaded.begin_seq);
			r = call_apply(loop, &rows, reason, len);
			free(data2);
			free(data);
		}
		else
			r = call_apply(loop, &ib.batch, reason, len);
		PQclear(ib.res);
		if (r != TP_OK)
		{
			st->failed_in_apply = true;
			*stop = r == TP_ERROR;
			return false;
		}
	}
	return true;
}

/*
 * The last batch of st's unit after seq after, when that unit is wholly
 * stored (*found). False when the query failed.
 */
static bool
next_unit_end(tp_apply_loop *loop, stream_state *st, uint64_t after,
			  uint64_t *end, bool *found)
{
	char		after_text[24];
	const char *params[3] = {st->source, st->target, after_text};
	int64_t		value = 0;
	bool		isnull = true;

	snprintf(after_text, sizeof(after_text), "%" PRIu64, after);
	*found = false;
	/* a batch is stored with its stream's progress: no row is missing */
	if (!tp_pgsql_query_int64(&loop->pg,
							  "SELECT min(seq) FROM teleport.inbox WHERE source = $1"
							  " AND target = $2 AND seq > $3::bigint AND NOT partial",
							  3, params, &value, &isnull))
		return false;
	*found = !isnull;
	*end = isnull ? 0 : (uint64_t) value;
	return true;
}

/*
 * A crash injected for the tests: when TELEPORT_TEST_EXIT_IN_GROUP holds
 * seq, the last batch of a unit just applied as part of a group (not its
 * first unit), the process ends at once, before the group's commit.
 */
static void
group_crash_point(uint64_t seq)
{
	const char *at = getenv("TELEPORT_TEST_EXIT_IN_GROUP");

	if (at != NULL && strtoull(at, NULL, 10) == seq)
	{
		tp_warning(COMPONENT, "TELEPORT_TEST_EXIT_IN_GROUP=%s: exiting before the "
				   "group's commit", at);
		_exit(75);
	}
}

/* tp_ahead_apply_fn of the loop: call_apply. */
static tp_result
ahead_apply(void *arg, const tp_batch *batch, char *reason, size_t len)
{
	return call_apply(arg, batch, reason, len);
}

/*
 * The unit of st from first failed in the applier (at batch bad) with
 * reason: apply ahead the schema changes it may wait for (apply_ahead.h),
 * unless the last time that was done for this unit the failure stayed the
 * same after changes of a later batch (nothing more to gain: applying
 * still later changes ahead would reorder what the unit does not wait
 * for). After changes that came after the rows in the failed batch itself
 * (one poll queued them, but not what the rows need), the next batch with
 * changes of the unit's tables is tried too. True when some were applied:
 * try again.
 */
static bool
try_ahead(tp_apply_loop *loop, stream_state *st, uint64_t first, uint64_t bad,
		  const char *reason)
{
	bool		applied = false;
	uint64_t	from = 0;

	if (st->ahead_first == first && st->ahead_reason != NULL &&
		strcmp(st->ahead_reason, reason) == 0 && st->ahead_from != bad)
		return false;
	if (PQtransactionStatus(loop->pg.conn) != PQTRANS_IDLE &&
		!tp_pgsql_exec(&loop->pg, "ROLLBACK"))
		return false;
	if (!tp_ahead_try(&loop->pg, st->source, st->target, first, bad,
					  ahead_apply, loop, &applied, &from) || !applied)
		return false;
	st->ahead_known = false;
	st->ahead_from = from;
	st->ahead_first = first;
	free(st->ahead_reason);
	st->ahead_reason = tp_xstrdup(reason);
	return true;
}

/*
 * The unit of st from first to end failed in the applier: when a load
 * stored later empties tables (apply_ahead.h, "Rows superseded by a
 * load"), leave their row changes out of the batches before it from now
 * on. True when that is new: try again. Done once per load begin.
 */
static bool
try_loaded(tp_apply_loop *loop, stream_state *st, uint64_t end)
{
	tp_ahead_loaded found;

	if (st->loaded.begin_seq > end)
		return false;
	if (PQtransactionStatus(loop->pg.conn) != PQTRANS_IDLE &&
		!tp_pgsql_exec(&loop->pg, "ROLLBACK"))
		return false;
	if (!tp_ahead_find_load(&loop->pg, st->source, st->target, end, &found))
		return false;
	if (found.begin_seq == 0 || found.tables.n == 0)
	{
		tp_ahead_loaded_free(&found);
		return false;
	}
	tp_ahead_loaded_free(&st->loaded);
	st->loaded = found;
	tp_info(COMPONENT, "stream \"%s\" -> \"%s\": a load stored at batch %" PRIu64
			" empties %zu table(s) and copies them again; the row changes of those "
			"tables before it are left out", st->source, st->target,
			found.begin_seq, found.tables.n);
	return true;
}

/*
 * Apply the next unit of st: the batches of one source transaction, in one
 * transaction that also advances last_applied and removes their rows;
 * while more whole units are stored, and the group's bounds allow, the
 * next units too (see the file's header). *n_units and *n_batches count
 * what a commit applied.
 */
static unit_result
apply_unit(tp_apply_loop *loop, stream_state *st, int *n_units, int *n_batches)
{
	const char *params[4];
	char		first_text[24];
	char		end_text[24];
	char		reason[REASON_LEN];
	PGresult   *res;
	uint64_t	last_applied;
	uint64_t	last_received;
	uint64_t	first;
	uint64_t	end;
	uint64_t	bad = 0;
	size_t		bytes = 0;
	long long	started;
	int			units = 1;
	bool		end_null;
	bool		stopped;
	bool		stop = false;
	char	   *done = NULL;
	tp_pgsql   *pg = &loop->pg;

	*n_units = 0;
	*n_batches = 0;
	params[0] = st->source;
	params[1] = st->target;
	if (!tp_pgsql_exec(pg, "BEGIN"))
		goto sql_failed_early;
	res = tp_pgsql_result(pg,
						  "SELECT pg_catalog.pg_try_advisory_xact_lock(" TP_APPLY_LOCK_KEY "),"
						  " pg_catalog.set_config('synchronous_commit', 'off', true)",
						  2, params, reason, sizeof(reason));
	if (res == NULL)
		goto sql_failed_early;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		PQclear(res);
		(void) tp_pgsql_exec(pg, "ROLLBACK");
		tp_debug(COMPONENT, "stream \"%s\" -> \"%s\" is being applied by another session",
				 st->source, st->target);
		return UNIT_BUSY;
	}
	PQclear(res);

	/* read after the lock: the committed progress */
	res = tp_pgsql_result(pg,
						  "SELECT s.last_applied, s.last_received,"
						  " (SELECT min(i.seq) FROM teleport.inbox i"
						  "  WHERE i.source = s.source AND i.target = s.target"
						  "  AND i.seq > s.last_applied AND NOT i.partial),"
						  " coalesce(s.held_state = 'stopped', false)"
						  " FROM teleport.inbox_stream s WHERE s.source = $1 AND s.target = $2",
						  2, params, reason, sizeof(reason));
	if (res == NULL)
		goto sql_failed_early;
	if (PQntuples(res) != 1)
	{
		PQclear(res);
		(void) tp_pgsql_exec(pg, "ROLLBACK");
		return UNIT_IDLE;
	}
	last_applied = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	last_received = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	end_null = PQgetisnull(res, 0, 2);
	end = end_null ? 0 : strtoull(PQgetvalue(res, 0, 2), NULL, 10);
	stopped = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	if (stopped || last_applied >= last_received || end_null || end > last_received)
	{
		if (!tp_pgsql_exec(pg, "ROLLBACK"))
			goto sql_failed_early;
		if (stopped)
			return UNIT_STOPPED;
		if (last_applied >= last_received)
			return UNIT_IDLE;
		if (!st->waiting_logged)
			tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64
					 " is part of a source transaction whose last part has not "
					 "arrived; waiting for it", st->source, st->target,
					 last_applied + 1);
		st->waiting_logged = true;
		return UNIT_WAITING;
	}
	st->waiting_logged = false;
	first = last_applied + 1;
	started = tp_clock_ms();
	if (!st->ahead_known)
	{
		if (!tp_ahead_max(pg, st->source, st->target, &st->ahead_max))
			goto sql_failed_early;
		st->ahead_known = true;
	}

	if (!apply_batches(loop, st, first, end, &bytes, &bad, &stop, reason, sizeof(reason)))
	{
		char		full[REASON_LEN + 64];

		if (bad != first)
			snprintf(full, sizeof(full), "in batch %" PRIu64 ": %s", bad, reason);
		else
			snprintf(full, sizeof(full), "%s", reason);
		if (!stop && st->failed_in_apply &&
			(try_ahead(loop, st, first, bad, full) || try_loaded(loop, st, end)))
			return UNIT_AHEAD;
		return hold_unit(loop, st, first, stop, full);
	}

	/* behind: the next whole units in the same transaction */
	while (first > st->solo_until && end - first + 1 < GROUP_MAX_BATCHES &&
		   bytes < GROUP_MAX_BYTES && tp_clock_ms() - started < GROUP_MAX_MS &&
		   !atomic_load(&loop->stop))
	{
		uint64_t	next_end = 0;
		bool		found = false;
		bool		ok;

		ok = next_unit_end(loop, st, end, &next_end, &found);
		if (ok && !found)
			break;
		if (ok)
			ok = apply_batches(loop, st, end + 1, next_end, &bytes, &bad, &stop,
							   reason, sizeof(reason));
		if (!ok)
		{
			/* the failing unit alone: the ones before it one by one */
			st->solo_until = next_end > end ? next_end : end;
			if (PQstatus(pg->conn) != CONNECTION_OK)
			{
				tp_warning(COMPONENT, "%s lost its connection", loop->purpose);
				disconnect(loop);
				return UNIT_LOST;
			}
			(void) tp_pgsql_exec(pg, "ROLLBACK");
			tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batches %" PRIu64 " to %"
					PRIu64 " failed together; applying them one source transaction "
					"at a time", st->source, st->target, first, st->solo_until);
			return UNIT_REGROUP;
		}
		end = next_end;
		units++;
		group_crash_point(end);
	}

	snprintf(first_text, sizeof(first_text), "%" PRIu64, first);
	snprintf(end_text, sizeof(end_text), "%" PRIu64, end);
	params[2] = first_text;
	params[3] = end_text;
	/* the stream row last: a store of the stream waits for its lock */
	if ((st->ahead_max >= first &&
		 !tp_ahead_forget(pg, st->source, st->target, end)) ||
		!tp_pgsql_query(pg, "DELETE FROM teleport.inbox WHERE source = $1"
						" AND target = $2 AND seq BETWEEN $3::bigint AND $4::bigint",
						4, params, NULL, NULL) ||
		!tp_pgsql_query_value(pg, "UPDATE teleport.inbox_stream SET last_applied = $4::bigint,"
							  " applied_at = clock_timestamp(), held_seq = NULL,"
							  " held_state = NULL, held_reason = NULL, held_since = NULL,"
							  " held_attempts = 0 WHERE source = $1 AND target = $2"
							  " AND last_applied = $3::bigint - 1 RETURNING true",
							  4, params, &done) ||
		!tp_pgsql_exec(pg, "COMMIT"))
	{
		free(done);
		tp_pgsql_error_text(pg, reason, sizeof(reason));
		if (units > 1 && PQstatus(pg->conn) == CONNECTION_OK)
		{
			/* e.g. a deferred constraint: find the unit that breaks it */
			if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
				(void) tp_pgsql_exec(pg, "ROLLBACK");
			st->solo_until = end;
			tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batches %" PRIu64 " to %"
					PRIu64 " could not be committed together (%s); applying them "
					"one source transaction at a time", st->source, st->target,
					first, end, reason);
			return UNIT_REGROUP;
		}
		return hold_unit(loop, st, first, false, reason);
	}
	free(done);
	if (st->ahead_max != 0 && st->ahead_max <= end)
		st->ahead_max = 0;
	if (st->loaded.begin_seq != 0 && st->loaded.begin_seq <= end)
		tp_ahead_loaded_free(&st->loaded);
	if (st->ahead_first != 0 && st->ahead_first <= end)
	{
		st->ahead_first = 0;
		st->ahead_from = 0;
		free(st->ahead_reason);
		st->ahead_reason = NULL;
	}
	if (st->held_seq != 0)
		tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64
				" applied; it was held before", st->source, st->target, first);
	st->held_seq = 0;
	st->retry_at_ms = 0;
	st->stopped_logged = false;
	tp_backoff_reset(&st->backoff);
	*n_units = units;
	*n_batches = (int) (end - first + 1);
	tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": applied batches %" PRIu64
			 " to %" PRIu64 " (%d source transaction(s))", st->source, st->target,
			 first, end, units);
	return UNIT_APPLIED;

sql_failed_early:
	tp_pgsql_error_text(pg, reason, sizeof(reason));
	if (PQstatus(pg->conn) != CONNECTION_OK)
	{
		tp_warning(COMPONENT, "%s lost its connection: %s", loop->purpose, reason);
		disconnect(loop);
		return UNIT_LOST;
	}
	/* before the unit is known: back off without recording a held batch */
	(void) tp_pgsql_exec(pg, "ROLLBACK");
	st->retry_at_ms = tp_clock_ms() + tp_backoff_next(&st->backoff);
	tp_warning(COMPONENT, "stream \"%s\" -> \"%s\": could not read the inbox: %s",
			   st->source, st->target, reason);
	return UNIT_HELD;
}

/*
 * Batches applied on arrival
 */

/*
 * Whether batch is a load's chunk of rows that is a unit of its own: the
 * batches that may be applied alongside each other (follow). A load batch
 * of more than one line is a "rows" step (the applier refuses any other
 * with more lines, before it writes anything; teleport/batch.h).
 */
static bool
is_rows_chunk(const tp_batch *batch)
{
	return batch->kind == TP_BATCH_LOAD && (batch->flags & TP_BATCH_PARTIAL) == 0 &&
		batch->n_changes >= 2;
}

/*
 * Mark the batch of lane as under way (its transaction holds its
 * NOW_SEQ_LOCK): the next chunk may now be applied alongside it.
 */
static void
set_underway(tp_apply_loop *loop, int lane)
{
	pthread_mutex_lock(&loop->lock);
	loop->now[lane].underway = true;
	pthread_cond_broadcast(&loop->now_cond);
	pthread_mutex_unlock(&loop->lock);
}

/*
 * After a failure on pg: close it when its connection broke (the next use
 * reconnects), else roll back what is open.
 */
static void
settle_session(tp_pgsql *pg)
{
	if (PQstatus(pg->conn) != CONNECTION_OK)
		tp_pgsql_close(pg);
	else if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void) tp_pgsql_exec(pg, "ROLLBACK");
}

/*
 * Record the batch of params (source, target, seq) as received and
 * applied in pg's open transaction, commit, and when the commit was
 * asynchronous (async) set *lsn to the WAL position it must be flushed
 * past. 1: committed; 0: committed, not known durable (pg is closed: the
 * store finds the batch received); -1: failed, logged by pgsql.c (the
 * caller settles the session).
 */
static int
record_commit(tp_pgsql *pg, const char *const *params, bool async, uint64_t *lsn)
{
	/* one round trip: the record, the commit, the position after it */
	const tp_pgsql_stmt stmts[3] = {
		{NOW_RECORD_SQL, 3, params},
		{"COMMIT", 0, NULL},
		{TP_DURABLE_INSERT_LSN_SQL, 0, NULL},
	};
	PGresult   *res[3];
	int			done;

	(void) tp_pgsql_pipeline(pg, stmts, async ? 3 : 2, res);
	if (res[0] == NULL || res[1] == NULL)
		done = -1;
	else if (async && (res[2] == NULL || PQntuples(res[2]) != 1 ||
					   PQgetisnull(res[2], 0, 0)))
	{
		/* committed, position unknown */
		tp_pgsql_close(pg);
		done = 0;
	}
	else
	{
		*lsn = async ? strtoull(PQgetvalue(res[2], 0, 0), NULL, 10) : 0;
		done = 1;
	}
	for (int i = 0; i < (async ? 3 : 2); i++)
		PQclear(res[i]);
	return done;
}

/*
 * Apply batch, which the inbox has not stored, in a transaction of its own
 * that also records it as received and applied: only when its stream has
 * nothing else to apply (last_received = last_applied = seq - 1, nothing
 * held) and no other session applies the stream. Under the stream's store
 * lock too, so a store of the same batch (a sender's retry) waits and then
 * finds it received. The sender forgets the batch when it is answered, so
 * it must be durable by then: committed with synchronous_commit on, or,
 * when loop->durable can wait for the flush elsewhere (durable.h), off,
 * with the WAL position after the commit in *lsn for the caller to wait
 * for (the next batch need not wait for the flush). A chunk of rows also
 * takes its NOW_SEQ_LOCK before the check, and is then marked under way
 * (lane 0), so that the next chunk may follow it. APPLIED when it
 * committed; EARLY
 * (nothing applied) when the stream's last received batch is a little
 * before seq - 1 (its predecessor is on its way); DECLINED otherwise.
 */
static tp_inbox_now
apply_now(tp_apply_loop *loop, const tp_batch *batch, uint64_t *lsn)
{
	char		seq_text[24];
	char		window_text[24];
	char		reason[REASON_LEN];
	const char *params[4];
	const char *commit_mode[1];
	bool		yes = false;
	int64_t		state = 0;
	bool		isnull = false;
	tp_pgsql   *pg = &loop->pg;
	bool		async = tp_durable_usable(loop->durable);
	bool		rows = is_rows_chunk(batch);
	int			committed;
	long long	t0 = tp_clock_us();
	long long	t_checked;
	long long	t_applied;

	*lsn = 0;
	commit_mode[0] = async ? "off" : "on";
	if (!ensure_connected(loop))
		return TP_INBOX_NOW_DECLINED;
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, batch->seq);
	params[0] = batch->source;
	params[1] = batch->target;
	params[2] = seq_text;
	snprintf(window_text, sizeof(window_text), "%d", TP_INBOX_EARLY_WINDOW);
	params[3] = window_text;

	/*
	 * Declined when another session applies the stream, or others wait. In
	 * one round trip: the stream's locks (the store's only when the apply
	 * lock was free), then its state, read by a statement of its own so
	 * that it sees what the lock waited for.
	 */
	{
		const tp_pgsql_stmt stmts[4] = {
			{"BEGIN", 0, NULL},
			{"SELECT pg_catalog.set_config('synchronous_commit', $1, true),"
				" pg_catalog.set_config('lock_timeout', '" NOW_LOCK_TIMEOUT "', true)",
			1, commit_mode},
			{rows ? NOW_LOCKS_SQL(", pg_catalog.pg_advisory_xact_lock(" NOW_SEQ_LOCK("$3") ") chunk")
				: NOW_LOCKS_SQL(""), rows ? 3 : 2, params},
			{NOW_STATE_SQL, 4, params},
		};
		PGresult   *res[4];
		bool		ok = tp_pgsql_pipeline(pg, stmts, 4, res);

		if (ok)
		{
			yes = strcmp(PQgetvalue(res[2], 0, 0), "t") == 0;
			isnull = PQgetisnull(res[3], 0, 0);
			state = isnull ? 0 : strtoll(PQgetvalue(res[3], 0, 0), NULL, 10);
		}
		for (int i = 0; i < 4; i++)
			PQclear(res[i]);
		if (!ok)
			goto failed;
	}
	if (!yes || state != 1)
	{
		(void) tp_pgsql_exec(pg, "ROLLBACK");
		return yes && state == 2 ? TP_INBOX_NOW_EARLY : TP_INBOX_NOW_DECLINED;
	}
	if (rows)
		set_underway(loop, 0);
	t_checked = tp_clock_us();
	reason[0] = '\0';
	if (call_apply(loop, batch, reason, sizeof(reason)) != TP_OK)
	{
		tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " could not be "
				"applied on arrival (%s); it is stored and applied in turn",
				batch->source, batch->target, batch->seq, reason);
		settle_session(pg);
		return TP_INBOX_NOW_DECLINED;
	}
	t_applied = tp_clock_us();
	committed = record_commit(pg, params, async, lsn);
	if (committed < 0)
		goto failed;
	if (committed == 0)
		return TP_INBOX_NOW_DECLINED;
	tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": applied batch %" PRIu64
			 " on arrival (%zu bytes; checks %.1f ms, apply %.1f ms, commit %.1f ms)",
			 batch->source, batch->target, batch->seq, batch->data_len,
			 (double) (t_checked - t0) / 1000, (double) (t_applied - t_checked) / 1000,
			 (double) (tp_clock_us() - t_applied) / 1000);
	return TP_INBOX_NOW_APPLIED;

failed:
	/* logged by pgsql.c; a COMMIT whose answer was lost is found by the store */
	settle_session(pg);
	return TP_INBOX_NOW_DECLINED;
}

/*
 * The connection of lane (0: the loop's own; 1: the second), made usable
 * (connect_session); NULL when it is not.
 */
static tp_pgsql *
lane_session(tp_apply_loop *loop, int lane)
{
	if (lane == 0)
		return ensure_connected(loop) ? &loop->pg : NULL;
	return connect_session(loop, &loop->second.pg, loop->second.ctx,
						   &loop->second.connect_backoff, &loop->second.connect_at_ms,
						   loop->second.purpose, "teleport apply 2")
		? &loop->second.pg : NULL;
}

/*
 * Apply batch, a load's chunk of rows, on lane's connection alongside the
 * chunk before it, which the other lane is applying on arrival, its
 * transaction holding that chunk's NOW_SEQ_LOCK. In a transaction that
 * takes batch's own NOW_SEQ_LOCK (then it is under way: the next chunk may
 * follow it in turn), applies it, then waits for the lock of the one
 * before, that is for the end of its transaction, and only then takes the
 * stream's apply and store locks and checks, as apply_now does, that the
 * stream's last batch received and applied is the one before, committed:
 * so batch commits after it, never past it; when that one rolled back,
 * the check fails and batch is rolled back too. Then it is recorded and
 * committed as apply_now does (*lsn). APPLIED when it committed; DECLINED,
 * with nothing of it applied (or, when a COMMIT's answer was lost,
 * maybe all of it, which the stream's record tells), when anything failed
 * or did not fit: the caller then applies it as the head of its stream.
 */
static tp_inbox_now
follow(tp_apply_loop *loop, int lane, const tp_batch *batch, uint64_t *lsn)
{
	char		seq_text[24];
	char		prev_text[24];
	char		window_text[24];
	char		reason[REASON_LEN];
	const char *params[4];
	const char *wait_params[3];
	tp_pgsql   *pg = lane_session(loop, lane);
	tp_plugin_ctx *ctx = lane == 0 ? loop->ctx : loop->second.ctx;
	bool		async = tp_durable_usable(loop->durable);
	PGresult   *res;
	int64_t		state = 0;
	bool		isnull = false;
	bool		locked;
	int			committed;

	*lsn = 0;
	if (pg == NULL)
		return TP_INBOX_NOW_DECLINED;
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, batch->seq);
	snprintf(prev_text, sizeof(prev_text), "%" PRIu64, batch->seq - 1);
	snprintf(window_text, sizeof(window_text), "%d", TP_INBOX_EARLY_WINDOW);
	params[0] = batch->source;
	params[1] = batch->target;
	params[2] = seq_text;
	params[3] = async ? "off" : "on";
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_query(pg, "SELECT pg_catalog.set_config('synchronous_commit', $4, true),"
						" pg_catalog.set_config('lock_timeout', '" NOW_LOCK_TIMEOUT "', true),"
						" pg_catalog.pg_advisory_xact_lock(" NOW_SEQ_LOCK("$3") ")",
						4, params, NULL, NULL))
		goto failed;
	set_underway(loop, lane);
	reason[0] = '\0';
	if (call_apply_on(loop, pg, ctx, batch, reason, sizeof(reason)) != TP_OK)
	{
		tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " could not be "
				"applied alongside the batch before it (%s); it is applied after it",
				batch->source, batch->target, batch->seq, reason);
		goto failed;
	}

	/*
	 * The end of the one before (an error here is no news for the log:
	 * that one failed and deadlocked with this one, or is slow), then the
	 * stream's locks and its state, as for the head of a stream.
	 */
	wait_params[0] = batch->source;
	wait_params[1] = batch->target;
	wait_params[2] = prev_text;
	res = tp_pgsql_result(pg,
						  "SELECT pg_catalog.set_config('lock_timeout', '"
						  FOLLOW_LOCK_TIMEOUT "', true),"
						  " pg_catalog.pg_advisory_xact_lock(" NOW_SEQ_LOCK("$3") "),"
						  " pg_catalog.pg_try_advisory_xact_lock(" TP_APPLY_LOCK_KEY "),"
						  " pg_catalog.set_config('lock_timeout', '" NOW_LOCK_TIMEOUT "', true)",
						  3, wait_params, reason, sizeof(reason));
	if (res == NULL)
	{
		tp_info(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " applied "
				"alongside the batch before it could not wait for it (%s); it is "
				"applied after it", batch->source, batch->target, batch->seq, reason);
		goto failed;
	}
	locked = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	params[3] = window_text;
	if (!locked ||
		!tp_pgsql_query(pg, "SELECT pg_catalog.pg_advisory_xact_lock("
						TP_INBOX_STORE_LOCK_KEY ")", 2, params, NULL, NULL) ||
		!tp_pgsql_query_int64(pg, NOW_STATE_SQL, 4, params, &state, &isnull))
		goto failed;
	if (state != 1)
	{
		tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " was applied "
				 "alongside the batch before it, which was not committed: rolled back",
				 batch->source, batch->target, batch->seq);
		goto failed;
	}
	committed = record_commit(pg, params, async, lsn);
	if (committed < 0)
		goto failed;
	if (committed == 0)
		return TP_INBOX_NOW_DECLINED;
	tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": applied batch %" PRIu64
			 " on arrival alongside the batch before it, on lane %d (%zu bytes)",
			 batch->source, batch->target, batch->seq, lane, batch->data_len);
	return TP_INBOX_NOW_APPLIED;

failed:
	/* a COMMIT whose answer was lost: the head's check finds it received */
	settle_session(pg);
	return TP_INBOX_NOW_DECLINED;
}

/* Answer lane's caller (under the loop's lock). */
static void
answer_lane(tp_apply_loop *loop, int lane, tp_inbox_now result, uint64_t lsn)
{
	now_lane   *nl = &loop->now[lane];

	nl->asked = false;
	nl->done = true;
	nl->result = result;
	nl->lsn = lsn;
	pthread_cond_broadcast(&loop->now_cond);
}

/* Answer the batch a caller of tp_apply_loop_apply_now asked lane 0 for. */
static void
serve_now(tp_apply_loop *loop)
{
	const tp_batch *batch = NULL;
	bool		follows = false;
	tp_inbox_now result = TP_INBOX_NOW_DECLINED;
	uint64_t	lsn = 0;

	pthread_mutex_lock(&loop->lock);
	if (loop->now[0].asked)
	{
		batch = loop->now[0].batch;
		follows = loop->now[0].follows;
	}
	pthread_mutex_unlock(&loop->lock);
	if (batch == NULL)
		return;
	if (!atomic_load(&loop->stop))
		result = follows ? follow(loop, 0, batch, &lsn) : apply_now(loop, batch, &lsn);
	pthread_mutex_lock(&loop->lock);
	answer_lane(loop, 0, result, lsn);
	pthread_mutex_unlock(&loop->lock);
}

/* The second lane's thread: apply what is handed to it, until a stop. */
static void *
second_main(void *arg)
{
	tp_apply_loop *loop = arg;
	now_lane   *nl = &loop->now[1];

	pthread_mutex_lock(&loop->lock);
	for (;;)
	{
		const tp_batch *batch;
		tp_inbox_now result = TP_INBOX_NOW_DECLINED;
		uint64_t	lsn = 0;

		while (!nl->asked && !atomic_load(&loop->stop))
			pthread_cond_wait(&loop->second.wake, &loop->lock);
		if (!nl->asked)
			break;
		batch = nl->batch;
		pthread_mutex_unlock(&loop->lock);
		if (!atomic_load(&loop->stop))
			result = follow(loop, 1, batch, &lsn);
		pthread_mutex_lock(&loop->lock);
		answer_lane(loop, 1, result, lsn);
	}
	pthread_mutex_unlock(&loop->lock);
	tp_pgsql_close(&loop->second.pg);
	return NULL;
}

/*
 * Apply st's units until it is idle, held or waiting, or its slice is
 * over (*more). Returns false when the connection broke.
 */
static bool
apply_stream(tp_apply_loop *loop, stream_state *st, tp_apply_stats *stats)
{
	long long	until = tp_clock_ms() + STREAM_SLICE_MS;

	for (;;)
	{
		int			units = 0;
		int			n = 0;

		switch (apply_unit(loop, st, &units, &n))
		{
			case UNIT_APPLIED:
				stats->applied += units;
				stats->batches += n;
				stats->commits++;
				break;
			case UNIT_REGROUP:
				stats->regrouped++;
				break;
			case UNIT_AHEAD:
				stats->ahead++;
				break;
			case UNIT_IDLE:
			case UNIT_BUSY:
				return true;
			case UNIT_STOPPED:
				stats->stopped++;
				return true;
			case UNIT_WAITING:
				stats->waiting++;
				return true;
			case UNIT_HELD:
				stats->held++;
				return loop->pg.conn != NULL;
			case UNIT_LOST:
				return false;
		}
		if (atomic_load(&loop->stop))
			return true;
		serve_now(loop);
		if (loop->pg.conn == NULL)
			return false;		/* lost while applying a batch on arrival */
		if (tp_clock_ms() >= until)
		{
			stats->more = true;
			return true;
		}
	}
}

/* See apply_loop.h. */
bool
tp_apply_loop_pass(tp_apply_loop *loop, bool force, tp_apply_stats *stats)
{
	tp_apply_stats local;
	struct
	{
		due_stream *items;
		size_t		n;
	}			due = {NULL, 0};
	bool		ok = true;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!ensure_connected(loop))
		return false;
	if (!tp_pgsql_query(&loop->pg,
						"SELECT source, target, coalesce(held_state = 'stopped', false),"
						" last_received"
						" FROM teleport.inbox_stream WHERE last_applied < last_received"
						" ORDER BY source, target", 0, NULL, due_row, &due))
	{
		if (PQstatus(loop->pg.conn) != CONNECTION_OK)
			disconnect(loop);
		ok = false;
	}
	for (size_t i = 0; i < due.n && ok; i++)
	{
		stream_state *st = stream_of(loop, due.items[i].source, due.items[i].target);

		if (atomic_load(&loop->stop))
			break;
		if (due.items[i].stopped)
		{
			/* an operator's --retry-batch makes it due at once */
			st->retry_at_ms = 0;
			stats->stopped++;
			continue;
		}
		/*
		 * A held stream waits for its backoff, but batches stored since
		 * its last try may let it through (schema changes to apply ahead,
		 * a load that supersedes its rows): then it is tried again after
		 * NEWS_RETRY_MS at most.
		 */
		st->news = due.items[i].last_received > st->tried_received;
		if (!force && st->retry_at_ms > tp_clock_ms() &&
			(!st->news || tp_clock_ms() - st->tried_at_ms < NEWS_RETRY_MS))
			continue;
		st->news = false;
		st->tried_at_ms = tp_clock_ms();
		st->tried_received = due.items[i].last_received;
		ok = apply_stream(loop, st, stats);
	}
	for (size_t i = 0; i < due.n; i++)
	{
		free(due.items[i].source);
		free(due.items[i].target);
	}
	free(due.items);
	return ok;
}

/*
 * The thread
 */

/* The earliest retry of a held stream, or until (monotonic ms). */
static long long
next_retry(const tp_apply_loop *loop, long long until)
{
	for (size_t i = 0; i < loop->n_streams; i++)
	{
		const stream_state *st = &loop->streams[i];
		long long	at = st->retry_at_ms;

		if (at > 0 && st->news && st->tried_at_ms + NEWS_RETRY_MS < at)
			at = st->tried_at_ms + NEWS_RETRY_MS;
		if (at > 0 && at < until)
			until = at;
	}
	return until;
}

/*
 * Wait up to ms milliseconds for a wake-up or a stop. Returns false when
 * the loop must stop.
 */
static bool
wait_for_work(tp_apply_loop *loop, long long ms)
{
	struct timespec until = tp_clock_deadline(ms < 0 ? 0 : ms);
	bool		go_on;

	pthread_mutex_lock(&loop->lock);
	while (!loop->pending && !loop->now[0].asked && !atomic_load(&loop->stop))
	{
		if (pthread_cond_timedwait(&loop->wake, &loop->lock, &until) == ETIMEDOUT)
			break;
	}
	loop->pending = false;
	go_on = !atomic_load(&loop->stop);
	pthread_mutex_unlock(&loop->lock);
	return go_on;
}

/* The thread: a pass, then wait for a wake-up, the interval or a retry. */
static void *
loop_main(void *arg)
{
	tp_apply_loop *loop = arg;

	while (!atomic_load(&loop->stop))
	{
		tp_apply_stats stats;
		long long	now;
		long long	until;

		serve_now(loop);
		if (!tp_apply_loop_pass(loop, false, &stats))
		{
			now = tp_clock_ms();
			until = loop->connect_at_ms > now ? loop->connect_at_ms
				: now + loop->interval_ms;
		}
		else if (stats.more)
			continue;
		else
		{
			now = tp_clock_ms();
			until = next_retry(loop, now + loop->interval_ms);
		}
		if (!wait_for_work(loop, until - tp_clock_ms()))
			break;
	}
	serve_now(loop);			/* declines: stop is set */
	disconnect(loop);
	return NULL;
}

/*
 * API
 */

/* See apply_loop.h. */
tp_apply_loop *
tp_apply_loop_new(const char *conninfo, const char *instance, tp_inbox *inbox,
				  tp_plugin_ctx *ctx, const tp_applier_callbacks *cb,
				  int interval_ms)
{
	tp_apply_loop *loop = tp_xcalloc(1, sizeof(tp_apply_loop));
	pthread_condattr_t cattr;
	size_t		len;
	char	   *name;

	loop->conninfo = tp_xstrdup(conninfo ? conninfo : "");
	loop->instance = tp_xstrdup(instance ? instance : "(unnamed)");
	len = strlen(loop->instance) + 32;
	loop->purpose = tp_xmalloc(len);
	snprintf(loop->purpose, len, "the apply loop of \"%s\"", loop->instance);
	loop->inbox = inbox;
	loop->ctx = ctx;
	loop->cb = cb;
	len += 16;
	name = tp_xmalloc(len);
	snprintf(name, len, "the WAL flusher of \"%s\"", loop->instance);
	loop->durable = tp_durable_new(loop->conninfo, name);
	free(name);
	loop->interval_ms = interval_ms > 0 ? interval_ms : 100;
	tp_backoff_init(&loop->connect_backoff, CONNECT_BACKOFF_MIN_MS,
					CONNECT_BACKOFF_MAX_MS);
	atomic_init(&loop->stop, false);
	pthread_mutex_init(&loop->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&loop->wake, &cattr);
	pthread_cond_init(&loop->now_cond, &cattr);
	pthread_cond_init(&loop->second.wake, &cattr);
	pthread_condattr_destroy(&cattr);
	return loop;
}

/* See apply_loop.h. */
void
tp_apply_loop_add_lane(tp_apply_loop *loop, tp_plugin_ctx *ctx)
{
	size_t		len = strlen(loop->instance) + 48;

	loop->second.ctx = ctx;
	tp_backoff_init(&loop->second.connect_backoff, CONNECT_BACKOFF_MIN_MS,
					CONNECT_BACKOFF_MAX_MS);
	free(loop->second.purpose);
	loop->second.purpose = tp_xmalloc(len);
	snprintf(loop->second.purpose, len, "the second apply connection of \"%s\"",
			 loop->instance);
}

/* See apply_loop.h. */
bool
tp_apply_loop_start(tp_apply_loop *loop)
{
	sigset_t	block;
	sigset_t	old;
	int			rc;

	/* signals are for the main thread, which turns them into a stop */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&loop->thread, NULL, loop_main, loop);
	/* without it, batches applied on arrival commit synchronously */
	if (rc == 0 && !tp_durable_start(loop->durable))
	{
		tp_durable_free(loop->durable);
		loop->durable = NULL;
	}
	/* without it, one connection applies every batch */
	if (rc == 0 && loop->second.ctx != NULL)
	{
		int			rc2 = pthread_create(&loop->second.thread, NULL, second_main, loop);

		if (rc2 != 0)
			tp_warning(COMPONENT, "could not start %s: %s; one connection applies "
					   "every batch", loop->second.purpose, strerror(rc2));
		pthread_mutex_lock(&loop->lock);
		loop->second.started = rc2 == 0;
		pthread_mutex_unlock(&loop->lock);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		tp_error(COMPONENT, "could not start %s: %s", loop->purpose, strerror(rc));
		return false;
	}
	loop->started = true;
	return true;
}

/* See apply_loop.h. */
void
tp_apply_loop_wake(void *arg)
{
	tp_apply_loop *loop = arg;

	pthread_mutex_lock(&loop->lock);
	loop->pending = true;
	pthread_cond_signal(&loop->wake);
	/* a batch waiting for its predecessor looks again */
	pthread_cond_broadcast(&loop->now_cond);
	pthread_mutex_unlock(&loop->lock);
}

/*
 * The lane on which batch may be applied alongside the batch before it
 * (follow): one whose other lane applies that batch on arrival, a chunk
 * of rows too, under way; -1 when there is none. Under the loop's lock.
 */
static int
follow_lane(const tp_apply_loop *loop, const tp_batch *batch)
{
	if (!loop->second.started || !is_rows_chunk(batch))
		return -1;
	for (int lane = 0; lane < 2; lane++)
	{
		const now_lane *before = &loop->now[lane];

		if (before->batch != NULL && before->underway && !before->done &&
			before->batch->seq + 1 == batch->seq && is_rows_chunk(before->batch) &&
			strcmp(before->batch->source, batch->source) == 0 &&
			strcmp(before->batch->target, batch->target) == 0 &&
			loop->now[1 - lane].batch == NULL)
			return 1 - lane;
	}
	return -1;
}

/*
 * Have lane, which is free, apply batch (alongside the one before it when
 * follows) and wait for the answer, its commit's position in *lsn; then
 * free the lane. Called and returns with the loop's lock held.
 */
static tp_inbox_now
run_lane(tp_apply_loop *loop, int lane, const tp_batch *batch, bool follows,
		 uint64_t *lsn)
{
	now_lane   *nl = &loop->now[lane];
	tp_inbox_now result;

	nl->batch = batch;
	nl->follows = follows;
	nl->underway = false;
	nl->done = false;
	nl->asked = true;
	pthread_cond_signal(lane == 0 ? &loop->wake : &loop->second.wake);
	while (!nl->done)
		pthread_cond_wait(&loop->now_cond, &loop->lock);
	result = nl->result;
	*lsn = nl->lsn;
	nl->batch = NULL;
	nl->underway = false;
	nl->done = false;
	pthread_cond_broadcast(&loop->now_cond);
	return result;
}

/* See apply_loop.h. */
tp_inbox_now
tp_apply_loop_apply_now(void *arg, const tp_batch *batch)
{
	tp_apply_loop *loop = arg;
	tp_inbox_now result = TP_INBOX_NOW_DECLINED;
	uint64_t	lsn = 0;
	struct timespec busy_until = tp_clock_deadline(NOW_BUSY_WAIT_MS);
	struct timespec early_until = busy_until;
	bool		early = false;
	bool		followed = false;
	long long	t_in = tp_clock_us();
	long long	t_lane = t_in;
	long long	t_done = t_in;

	pthread_mutex_lock(&loop->lock);
	while (loop->started && !atomic_load(&loop->stop))
	{
		int			lane = followed ? -1 : follow_lane(loop, batch);

		if (lane >= 0)
		{
			/* the chunk before it is being applied: alongside it, once */
			followed = true;
			result = run_lane(loop, lane, batch, true, &lsn);
			if (result == TP_INBOX_NOW_APPLIED)
				break;
			/* nothing of it applied: as the head of its stream, in turn */
			result = TP_INBOX_NOW_DECLINED;
			lsn = 0;
			continue;
		}
		if (loop->now[0].batch != NULL)
		{
			/* the batch before it, likely: wait for its turn */
			if (pthread_cond_timedwait(&loop->now_cond, &loop->lock,
									   early ? &early_until : &busy_until) == ETIMEDOUT)
				break;
			continue;
		}
		t_lane = tp_clock_us();
		result = run_lane(loop, 0, batch, false, &lsn);
		t_done = tp_clock_us();
		/*
		 * a load's sender keeps several batches in flight, a transmitter
		 * flags those it sends so; another change batch past its stream's
		 * next is for the store to answer (a gap)
		 */
		if (result == TP_INBOX_NOW_EARLY && batch->kind != TP_BATCH_LOAD &&
			(batch->flags & TP_BATCH_FOLLOWS) == 0)
			result = TP_INBOX_NOW_DECLINED;
		if (result != TP_INBOX_NOW_EARLY)
			break;
		/* its predecessor is on its way: wait for an apply or a store */
		if (!early)
			early_until = tp_clock_deadline(TP_INBOX_EARLY_WAIT_MS);
		early = true;
		if (pthread_cond_timedwait(&loop->now_cond, &loop->lock, &early_until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&loop->lock);
	/* committed asynchronously: answered once durable, else stored */
	if (result == TP_INBOX_NOW_APPLIED && lsn != 0 &&
		!tp_durable_wait(loop->durable, lsn, NOW_DURABLE_WAIT_MS))
	{
		tp_warning(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " was "
				   "applied on arrival, but its commit could not be made durable; "
				   "it is handed to the inbox", batch->source, batch->target,
				   batch->seq);
		result = TP_INBOX_NOW_DECLINED;
	}
	if (result == TP_INBOX_NOW_APPLIED && !followed)
		tp_debug(COMPONENT, "stream \"%s\" -> \"%s\": batch %" PRIu64 " waited %.1f ms "
				 "for its turn, %.1f ms on the lane, %.1f ms for its commit to be durable",
				 batch->source, batch->target, batch->seq, (double) (t_lane - t_in) / 1000,
				 (double) (t_done - t_lane) / 1000, (double) (tp_clock_us() - t_done) / 1000);
	return result;
}

/* See apply_loop.h. */
void
tp_apply_loop_stop(tp_apply_loop *loop)
{
	if (loop == NULL || !loop->started)
		return;
	pthread_mutex_lock(&loop->lock);
	atomic_store(&loop->stop, true);
	pthread_cond_signal(&loop->wake);
	pthread_cond_signal(&loop->second.wake);
	/* callers waiting for their turn or their predecessor give up */
	pthread_cond_broadcast(&loop->now_cond);
	pthread_mutex_unlock(&loop->lock);
	pthread_join(loop->thread, NULL);
	if (loop->second.started)
		pthread_join(loop->second.thread, NULL);
	/* callers waiting for a commit to be durable give up too */
	tp_durable_stop(loop->durable);
	pthread_mutex_lock(&loop->lock);
	loop->started = false;
	loop->second.started = false;
	pthread_mutex_unlock(&loop->lock);
}

/* See apply_loop.h. */
void
tp_apply_loop_free(tp_apply_loop *loop)
{
	if (loop == NULL)
		return;
	tp_apply_loop_stop(loop);
	tp_durable_free(loop->durable);
	disconnect(loop);
	tp_pgsql_close(&loop->second.pg);
	free(loop->second.purpose);
	for (size_t i = 0; i < loop->n_streams; i++)
	{
		free(loop->streams[i].source);
		free(loop->streams[i].target);
		free(loop->streams[i].ahead_reason);
		tp_ahead_loaded_free(&loop->streams[i].loaded);
	}
	free(loop->streams);
	pthread_cond_destroy(&loop->wake);
	pthread_cond_destroy(&loop->now_cond);
	pthread_cond_destroy(&loop->second.wake);
	pthread_mutex_destroy(&loop->lock);
	free(loop->conninfo);
	free(loop->instance);
	free(loop->purpose);
	free(loop);
}
