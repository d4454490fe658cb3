/*
 * inbox.h
 *     The durable inbox of a receiving instance: batches from sources are
 *     stored in the instance's own database (schema teleport) and committed
 *     before they are acknowledged, exactly once per (source, target, seq).
 *
 * Several transports and threads may deliver at once: the inbox serialises
 * them per (source, target) in the database (an advisory lock), so stores
 * of different streams run in parallel on a small pool of its own
 * connections, opened on demand and reopened at the next call after a
 * failure. The tables and rules are in docs/queue.md, "The inbox".
 */
#ifndef TP_INBOX_H
#define TP_INBOX_H

#include <stdbool.h>
#include <stdint.h>

#include <teleport/plugin.h>

#include "pgsql.h"

typedef struct tp_inbox tp_inbox;

/*
 * The store lock of a stream, as an SQL expression over $1 (source) and
 * $2 (target): a transaction-level advisory lock under classid "inbx"
 * (0x696e6278) that every change of a stream's last_received holds.
 */
#define TP_INBOX_STORE_LOCK_CLASS "1768842872"
#define TP_INBOX_STORE_LOCK_KEY \
	TP_INBOX_STORE_LOCK_CLASS ", pg_catalog.hashtext($1::text || E'\\n' || $2::text)"

/* What a tp_inbox_apply_now_fn did with a batch. */
typedef enum tp_inbox_now
{
	TP_INBOX_NOW_DECLINED,		/* not applied: store it */
	TP_INBOX_NOW_APPLIED,		/* applied and recorded: answer STORED */
	TP_INBOX_NOW_EARLY			/* not applied: a batch shortly before it
								 * has not arrived yet (sent at once, in
								 * flight); answer UNAVAILABLE, so the
								 * sender sends it again */
} tp_inbox_now;

/*
 * How far beyond its stream's next expected batch a batch may come while
 * the ones before it are on their way (a sender with several in flight)
 * and be answered "send again" (EARLY) rather than refused as a gap.
 */
#define TP_INBOX_EARLY_WINDOW 16

/*
 * How long such a batch waits for its predecessor to be stored or applied
 * (in the inbox's store, or on arrival) before it is answered "send again".
 */
#define TP_INBOX_EARLY_WAIT_MS 2000

/*
 * Apply batch at once instead of storing it: in one transaction that
 * applies it and records it as received and applied, under the stream's
 * store lock, when nothing else of its stream waits to be applied.
 * APPLIED when that committed; DECLINED or EARLY when it declined or
 * failed (nothing of it is applied: on DECLINED the inbox stores it, and
 * the apply loop applies it, or holds it with the reason, as any batch).
 * Called with any thread's batch; the function serialises what it needs.
 */
typedef tp_inbox_now (*tp_inbox_apply_now_fn) (void *arg, const tp_batch *batch);

/*
 * An inbox on the database of conninfo (not connected yet; the first call
 * connects, with connect_timeout 5 s unless conninfo sets one, and creates
 * or upgrades the schema). instance names it in messages. Owned by the
 * caller (tp_inbox_free).
 */
tp_inbox   *tp_inbox_new(const char *conninfo, const char *instance);

/*
 * Have fn (with arg) apply the batches that are a unit of their own (not
 * partial: whole source transactions, the initial load's chunks) on
 * arrival: they are then written once, into their tables, not into the
 * inbox first. Call before any store; fn and arg must outlive the inbox.
 */
void		tp_inbox_set_apply_now(tp_inbox *inbox, tp_inbox_apply_now_fn fn,
								   void *arg);

/*
 * Store batch durably (one transaction, committed with synchronous_commit
 * on) and fill *outcome (see tp_delivery in <teleport/plugin.h>): STORED
 * when seq is the stream's next (1 for a new stream); DUPLICATE when seq
 * was received before and its row, if still kept, has the same content;
 * CONFLICT when that row differs; GAP when seq is beyond the next; INVALID
 * when the batch itself is unacceptable (kind, format, empty names, data
 * not UTF-8 or with a NUL byte, a line count that disagrees with
 * n_changes); STORED too when the function of tp_inbox_set_apply_now
 * applied it, UNAVAILABLE when it found the batch early (see
 * tp_inbox_now); UNAVAILABLE when the database cannot be reached or failed
 * (logged). Nothing of a batch that is not STORED is stored. reason is
 * one sentence for the peer; expected_seq is the stream's next seq, or 0
 * when unknown (INVALID, UNAVAILABLE). Returns the tp_result that
 * host->deliver returns. Thread-safe.
 */
tp_result	tp_inbox_store(tp_inbox *inbox, const tp_batch *batch,
						   tp_delivery *outcome);

/*
 * Connect (if needed) and install or upgrade the inbox's schema now, as
 * the first store would. The apply loop calls it before it reads the
 * inbox's tables. False (logged) when the database is unavailable.
 * Thread-safe.
 */
bool		tp_inbox_ready(tp_inbox *inbox);

/*
 * Install or upgrade the inbox's schema now, as tp_inbox_ready does, but
 * on pg, the caller's connection (idle, no transaction open): a caller
 * with a connection of its own (the apply loop) need not wait for one of
 * the inbox's to be made. Done once per inbox; true at once afterwards.
 * False (logged) when it could not be installed. Thread-safe.
 */
bool		tp_inbox_ready_on(tp_inbox *inbox, tp_pgsql *pg);

/*
 * The inbox's state as a JSON object text:
 *   {"streams":[{"source":S,"target":T,"last_received":N,
 *                "last_applied":N,"waiting":N,"oldest_waiting_age_ms":N,
 *                "held":null|{"seq":N,"state":"retrying"|"stopped",
 *                             "reason":R,"attempts":N,"since_ms_ago":N}}]}
 * sorted by source and target, for a status endpoint; "held" is the batch
 * the apply loop holds (core/apply_loop.h). A new string (free), or NULL
 * (logged) when the database is unavailable. Thread-safe.
 */
char	   *tp_inbox_status_json(tp_inbox *inbox);

/* Close and free; no call may be running on inbox. NULL is allowed. */
void		tp_inbox_free(tp_inbox *inbox);

#endif							/* TP_INBOX_H */
