/*
 * durable.h
 *     Waiting until an asynchronous commit is durable, off the committing
 *     connection's path.
 *
 * The apply loop commits a batch applied on arrival with
 * synchronous_commit off, so that the flush of its WAL does not hold up
 * the next batch on the apply connection, and answers the batch's sender
 * only once the server's WAL is flushed past that commit: a crash before
 * then may lose the batch on the target, but its sender, unanswered,
 * still has it and sends it again. (PostgreSQL's own logical replication
 * does the same: its apply worker commits asynchronously and reports the
 * flushed position to the publisher.)
 *
 * A thread with a connection of its own does the waiting: it reads how far
 * the WAL is flushed and, when not far enough, flushes it with a
 * transaction of its own that writes a transactional logical message
 * (pg_logical_emit_message: WAL, no table; any wal_level) and commits with
 * synchronous_commit on, which flushes all WAL before it. A role that may
 * not call pg_logical_emit_message gets no such thread: tp_durable_usable
 * says false, and the loop commits synchronously as before.
 */
#ifndef TP_DURABLE_H
#define TP_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * SQL that, run in a transaction that then commits with synchronous_commit
 * on, makes every commit before it durable when some WAL is not flushed yet
 * (and the role may write the message; otherwise it does nothing). One row.
 */
#define TP_DURABLE_FLUSH_SQL \
	"SELECT CASE WHEN pg_catalog.pg_current_wal_flush_lsn()" \
	" < pg_catalog.pg_current_wal_insert_lsn()" \
	" AND pg_catalog.has_function_privilege(" \
	"'pg_catalog.pg_logical_emit_message(boolean, text, text)', 'EXECUTE')" \
	" THEN pg_catalog.pg_logical_emit_message(true, 'teleport', 'flush') END"

/* SQL of the server's WAL insert position, as a bigint (bytes). */
#define TP_DURABLE_INSERT_LSN_SQL \
	"SELECT (pg_catalog.pg_current_wal_insert_lsn() - '0/0')::bigint"

typedef struct tp_durable tp_durable;

/*
 * A waiter on the database of conninfo; purpose names it in messages ("the
 * WAL flusher of x"). Not started. Owned by the caller (tp_durable_free).
 */
tp_durable *tp_durable_new(const char *conninfo, const char *purpose);

/* Start the thread. False (logged) when it cannot start. */
bool		tp_durable_start(tp_durable *d);

/*
 * Whether commits may be made asynchronous: the thread runs, is connected
 * and its role may flush. Thread-safe.
 */
bool		tp_durable_usable(tp_durable *d);

/*
 * Wait until the server's WAL is flushed at least to lsn (a position read
 * after the commit), making the thread flush it. True when it is; false
 * when timeout_ms passed, the thread stopped or cannot reach the database
 * (logged by the thread): the caller must then not take the commit as
 * durable. Thread-safe.
 */
bool		tp_durable_wait(tp_durable *d, uint64_t lsn, int timeout_ms);

/*
 * Stop the thread and wait for it; open and later waits return false.
 * Safe when it never started, and twice. NULL is allowed.
 */
void		tp_durable_stop(tp_durable *d);

/* Stop the thread if needed, close its connection and free. NULL is allowed. */
void		tp_durable_free(tp_durable *d);

#endif							/* TP_DURABLE_H */
