/*
 * queue.h
 *     teleport's queue on a source database: its schema, the ticker, the
 *     batches cut for each target, and their cleanup.
 *
 * Everything lives in the schema "teleport" of the source database, owned
 * by teleport's role; no superuser is needed. What source plugins rely on
 * (the SQL contract, documented in docs/queue.md):
 *
 *   teleport.insert_event(op text, schema_name text, table_name text,
 *                         before json, after json, ddl json)
 *     appends one event to the queue, with the writing transaction's
 *     64-bit txid and the next event id (a sequence with CACHE 1); op is
 *     'c', 'u', 'd', 't' or 'ddl'. The event's origin is the session's
 *     teleport.origin setting when set (an applier forwarding a change),
 *     else NULL (written here). SECURITY DEFINER: callers need no rights
 *     on the queue.
 *
 * Ordering follows PgQ and Slony-I: a single ticker records
 * txid_current_snapshot() as ticks; the batch between ticks S1 and S2 holds
 * the events of transactions visible in S2 and not in S1, in event id
 * order. Each target has its own cursor (the last tick it was cut to) and
 * its own filter. Events live in a few rotating tables; a table that every
 * target has passed is emptied with TRUNCATE, not DELETE.
 *
 * All functions log their errors (through pgsql.c) and return false.
 */
#ifndef TP_QUEUE_H
#define TP_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <teleport/batch.h>

#include "config.h"
#include "pgsql.h"

/* The version of the schema this teleport installs. */
#define TP_QUEUE_SCHEMA_VERSION 4

/*
 * Create or upgrade teleport's schema on the source, idempotently (several
 * instances starting at once are serialised by an advisory lock), and
 * register each target of config (its cursor starts at the current tick, so
 * only changes from now on are sent; the initial load covers the rest).
 * Takes its locks with lock_timeout and retries. Once installed, pg's
 * session holds a share of the lock that --uninstall takes.
 */
bool		tp_queue_install(tp_pgsql *pg, const tp_config *config);

/*
 * Keep sources from starting on pg's database for the life of pg's
 * session, unless one runs already: *running tells. A source holds its
 * share of the same advisory lock from tp_queue_install on.
 */
bool		tp_queue_lock_out(tp_pgsql *pg, bool *running);

/*
 * Drop the queue's objects (events, ticks, targets, batches: what was not
 * yet delivered is lost, and a warning says how many batches), and schema
 * teleport with them when nothing else of teleport's is left in it. Run
 * after the source plugins' uninstall, under tp_queue_lock_out. False
 * after logging; nothing is dropped then.
 */
bool		tp_queue_uninstall(tp_pgsql *pg);

/*
 * Record a tick when one is due: there is none yet, or events were added
 * since the last tick, or a transaction that was in progress at the last
 * tick and had written events has ended and min_gap_ms have passed (0: at
 * once), or idle_ms have passed (so that lag stays measurable). Only one
 * ticker runs at a time across processes (another one at work: true with
 * *ticked false). *ticked says whether a tick was made.
 */
bool		tp_queue_tick(tp_pgsql *pg, int min_gap_ms, int idle_ms, bool *ticked);

/*
 * Cut target's batches from its cursor to the latest tick: the events of
 * the transactions that committed in between, selected by the target's
 * filter and not originating at the target itself, in event order, at most
 * max_events and about max_bytes of row images per batch (a bigger source
 * transaction is split into parts flagged TP_BATCH_PARTIAL). Each batch is
 * stored with its seq, tick range and event id range, so that its data can
 * be rebuilt identically. An empty range advances the cursor and makes no
 * batch. *made counts the batches made.
 */
bool		tp_queue_cut_batches(tp_pgsql *pg, const tp_target_config *target,
								 int64_t max_events, int64_t max_bytes,
								 int *made);

/*
 * A batch ready to send: the oldest unacknowledged batch of a target, with
 * its data built from the queue. Everything it points to is owned by it.
 */
typedef struct tp_queued_batch
{
	tp_batch	batch;			/* ready for a transport's send */
	char	   *buf;			/* owns the strings and data of batch */
	int64_t		tick_time_ms;	/* when the closing tick was taken */
} tp_queued_batch;

/*
 * Fill *out with the oldest unacknowledged batch of target (source is this
 * instance's name; apply_schema the target's). *found is false when there
 * is none. Free with tp_queued_batch_free.
 */
bool		tp_queue_next_batch(tp_pgsql *pg, const char *source,
								const tp_target_config *target,
								tp_queued_batch *out, bool *found);

/*
 * The same for the first unacknowledged batch of target after seq after
 * (0: the oldest), so that the next batch can be built while one is being
 * sent.
 */
bool		tp_queue_batch_after(tp_pgsql *pg, const char *source,
								 const tp_target_config *target, uint64_t after,
								 tp_queued_batch *out, bool *found);
void		tp_queued_batch_free(tp_queued_batch *qb);

/*
 * The seq of target's oldest unacknowledged batch that may be sent (the
 * one tp_queue_next_batch would build), without building it; *found is
 * false when there is none.
 */
bool		tp_queue_next_seq(tp_pgsql *pg, const char *target, uint64_t *seq,
							  bool *found);

/*
 * Mark batch seq of target acknowledged, and any earlier one still
 * unacknowledged: batches are applied in seq order (idempotent).
 */
bool		tp_queue_ack(tp_pgsql *pg, const char *target, uint64_t seq);

/*
 * Queue maintenance, at the vacuum interval: forget acknowledged batches and
 * ticks no target needs, rotate the event tables and TRUNCATE the one every
 * target has passed (with lock_timeout; a busy table is tried again next
 * time). A target whose oldest unacknowledged batch is older than
 * retention_s is marked as needing a resync and logged, so that it no
 * longer pins the queue.
 */
bool		tp_queue_vacuum(tp_pgsql *pg, int64_t retention_s);

/*
 * How long an event table stays current before vacuum switches writers to
 * the next one (when it holds events and the next one is empty): the
 * events of a table are removed at the earliest one rotation after they
 * were written, once every target has passed them.
 */
#define TP_QUEUE_ROTATE_MS 60000

/* tp_queue_vacuum with another rotation period (tests use 0). */
bool		tp_queue_vacuum_with(tp_pgsql *pg, int64_t retention_s,
								 int64_t rotate_ms);

/*
 * A target's table filter as SQL parameters (text[] literals): the
 * patterns of schema.table to include and exclude, and the schema parts
 * that select events naming no table (schema changes of a schema).
 */
typedef struct tp_queue_filter
{
	char	   *include;
	char	   *exclude;
	char	   *schema_include;
	char	   *schema_exclude;
} tp_queue_filter;

/* Fill *fp from filter (free with tp_queue_filter_free). */
void		tp_queue_filter_make(tp_queue_filter *fp, const tp_table_filter *filter);

/* Free what tp_queue_filter_make made. */
void		tp_queue_filter_free(tp_queue_filter *fp);

/*
 * The SQL condition that the object named by columns schema and table
 * (table NULL: the schema itself) is among a target's, given the
 * parameters that hold the tp_queue_filter arrays ("$3" ...).
 */
#define TP_QUEUE_MATCH(schema, table, inc, exc, sinc, sexc) \
	"CASE WHEN " table " IS NOT NULL THEN" \
	" (" schema " || '.' || " table ") ~ ANY (" inc "::text[])" \
	" AND NOT (" schema " || '.' || " table ") ~ ANY (" exc "::text[])" \
	" ELSE " schema " ~ ANY (" sinc "::text[])" \
	" AND NOT " schema " ~ ANY (" sexc "::text[]) END"

/* Backlog of a target: unacknowledged batches and the age of the oldest. */
typedef struct tp_queue_backlog
{
	int64_t		batches;
	int64_t		oldest_age_ms;	/* 0 when none */
	bool		needs_resync;
	int64_t		loading;		/* the initial load holding it; 0: none */
} tp_queue_backlog;

bool		tp_queue_backlog_of(tp_pgsql *pg, const char *target,
								tp_queue_backlog *out);

#endif							/* TP_QUEUE_H */
