/*
 * apply_loop.h
 *     The apply loop of a receiving instance: one thread with its own
 *     database connection that applies the batches stored in the inbox,
 *     stream by stream (source, target) in seq order, each source
 *     transaction in one target transaction that also advances the stream's
 *     last_applied, so that a crash neither loses nor repeats a change.
 *
 * How it works, for whoever reads the inbox's tables (docs/queue.md, "The
 * inbox", and the README's "How apply works"):
 *
 *   - A stream is due when last_applied < last_received. Its next unit is
 *     the batches from last_applied + 1 to the first one without the
 *     partial flag (all parts of one source transaction); while the last
 *     part has not arrived the stream waits, without applying anything.
 *   - The unit runs in one transaction: BEGIN, synchronous_commit off (the
 *     progress commits with the data: a crash loses both together), the
 *     stream's apply lock (TP_APPLY_LOCK_SQL, so two processes never apply
 *     one stream at once, and --skip-batch waits for a running unit), the
 *     applier's apply() for each batch, then the unit's inbox rows are
 *     deleted and inbox_stream.last_applied advanced, COMMIT.
 *   - A failure (the applier's TP_RETRY or TP_ERROR, or an SQL error) rolls
 *     back and holds the unit: inbox_stream.held_seq (its first seq),
 *     held_state ('retrying', or 'stopped' for TP_ERROR), held_reason (the
 *     applier's last warning or error, or the server's message),
 *     held_since and held_attempts are set, the reason is logged, and the
 *     unit is tried again with backoff (100 ms doubling to 30 s; at most
 *     2 s after the last try once more batches of its stream came). Later
 *     batches of that stream wait; other streams go on. A stopped stream
 *     waits for an operator: teleport --retry-batch SOURCE sets it back to
 *     'retrying', teleport --skip-batch SOURCE:SEQ skips the unit (see
 *     cmd_batch.h).
 *   - A batch that is a unit of its own (a change batch that is not
 *     partial, a load chunk) may be applied on arrival, never stored:
 *     tp_apply_loop_apply_now, below; a load's chunks of rows on two
 *     connections, one alongside the other.
 *
 * The applier's prepare() runs on the loop's connection after each
 * (re)connection; apply() gets that connection too (the second connection
 * has an applier context of its own, prepared on it). The session pins
 * DateStyle ISO, IntervalStyle postgres, extra_float_digits, TimeZone UTC,
 * bytea_output hex, client_encoding UTF8 and search_path pg_catalog.
 */
#ifndef TP_APPLY_LOOP_H
#define TP_APPLY_LOOP_H

#include <stdbool.h>

#include <teleport/teleport.h>

#include "inbox.h"

/*
 * The per-stream apply lock, as an SQL expression over $1 (source) and $2
 * (target): a transaction-level advisory lock under classid "appl"
 * (0x6170706c), apart from the inbox's store lock so that stores and
 * applies of a stream run side by side.
 */
#define TP_APPLY_LOCK_CLASS "1634758764"
#define TP_APPLY_LOCK_KEY \
	TP_APPLY_LOCK_CLASS ", pg_catalog.hashtext($1::text || E'\\n' || $2::text)"

typedef struct tp_apply_loop tp_apply_loop;

/* What one pass did. */
typedef struct tp_apply_stats
{
	int			applied;		/* units (source transactions) committed */
	int			batches;		/* batches in them */
	int			commits;		/* target transactions that applied them */
	int			regrouped;		/* groups rolled back to go unit by unit */
	int			ahead;			/* schema changes applied ahead of a held unit */
	int			held;			/* units that failed and are held */
	int			stopped;		/* streams skipped: stopped */
	int			waiting;		/* streams waiting for a partial's rest */
	bool		more;			/* a stream has more to apply now */
} tp_apply_stats;

/*
 * A loop on the database of conninfo for instance (names it in messages),
 * with the instance's inbox (its schema is installed before the first
 * read) and the applier's context and callbacks; interval_ms is how often
 * it looks for work without a wake-up. All must outlive the loop. Owned by
 * the caller (tp_apply_loop_free).
 */
tp_apply_loop *tp_apply_loop_new(const char *conninfo, const char *instance,
								 tp_inbox *inbox, tp_plugin_ctx *ctx,
								 const tp_applier_callbacks *cb,
								 int interval_ms);

/*
 * Give the loop a second connection, on which ctx (another instance of the
 * loop's applier, started, whose prepare() runs on that connection) applies
 * an initial load's chunk of rows on arrival alongside the chunk before it,
 * which the loop's own connection applies (tp_apply_loop_apply_now). Call
 * before tp_apply_loop_start; ctx must outlive the loop's threads (shut it
 * down after tp_apply_loop_stop). Without it, one connection applies all.
 */
void		tp_apply_loop_add_lane(tp_apply_loop *loop, tp_plugin_ctx *ctx);

/* Start the thread(s). False (logged) when the loop's cannot start. */
bool		tp_apply_loop_start(tp_apply_loop *loop);

/*
 * Wake the thread: a batch was stored (a host services "stored" function,
 * with the loop as arg). Thread-safe.
 */
void		tp_apply_loop_wake(void *loop);

/*
 * Apply batch now, on the loop's thread and connection, in a transaction
 * that also records it as received and applied, when its stream has
 * nothing else to apply; wait for that (a tp_inbox_apply_now_fn, with the
 * loop as arg: see inbox.h). A load's chunk of rows that comes while the
 * chunk before it, also of rows, is being applied on arrival is applied
 * alongside it on the loop's other connection (tp_apply_loop_add_lane),
 * in a transaction that commits only after that one did, and only when it
 * committed (else nothing of it is applied, and it takes the way below).
 * Another batch that comes while one is applied on arrival waits for it
 * (up to 10 s); one whose predecessor has not arrived yet (a sender with
 * several batches in flight: a load's, or one flagged TP_BATCH_FOLLOWS)
 * waits up to 2 s for it to be applied or stored, then is EARLY. APPLIED is returned only once the commit is
 * durable: it commits asynchronously when the loop's flusher can make it
 * durable (durable.h), and this waits for the flush (up to 10 s; DECLINED
 * otherwise, and the inbox's store finds the batch received). DECLINED,
 * with nothing applied, when the thread is not running or stops, the wait ends,
 * another session applies the stream, the stream has other batches to
 * apply first, or the applier or the database failed (the inbox then
 * stores the batch). Thread-safe; batch stays the caller's.
 */
tp_inbox_now tp_apply_loop_apply_now(void *loop, const tp_batch *batch);

/*
 * One pass without the thread (tests, and the thread's own body): connect
 * when needed, then apply every due stream until it is idle, held or
 * waiting. force ignores the backoff of held streams (not the stopped
 * state). *stats (may be NULL) says what happened. False when the database
 * is unavailable (logged).
 */
bool		tp_apply_loop_pass(tp_apply_loop *loop, bool force,
							   tp_apply_stats *stats);

/*
 * Stop the threads (after the unit they are applying) and wait for them;
 * safe when they never started.
 */
void		tp_apply_loop_stop(tp_apply_loop *loop);

/* Stop if needed, close the connection and free. NULL is allowed. */
void		tp_apply_loop_free(tp_apply_loop *loop);

#endif							/* TP_APPLY_LOOP_H */
