/*
 * trigger_sequences.c
 *     Sequences fire no triggers, so the trigger source polls them: each
 *     sequence owned by a column of a captured table (OWNED BY, serial or
 *     identity), and each standalone sequence (owned by no column) of a
 *     schema of a captured table, whose last_value changed since the last
 *     poll is sent as one
 *     'ddl' event {"type":"sequence_value","schema":…,"sequence":…,"value":…}
 *     under its table's schema, so that the target's sequences end no lower
 *     than the source's. The values sent are kept in
 *     teleport.trigger_sequence, updated in the transaction that queues
 *     the events, so that each change is sent once.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "trigger.h"

/* How long the poll waits for a sequence's lock (below deadlock_timeout). */
#define SEQUENCE_LOCK_TIMEOUT_MS 500

/* See trigger.h. */
tp_result
trigger_poll_sequences(tp_plugin_ctx *ctx, PGconn *conn)
{
	const char *doing = "poll the sequences of the captured tables";
	PGresult   *res;
	tp_result	r;

	/*
	 * pg_sequence_last_value locks each sequence ROW EXCLUSIVE until the
	 * end of the transaction, so a user's transaction that alters several
	 * sequences (SHARE ROW EXCLUSIVE each) can deadlock with this poll.
	 * Waiting less than deadlock_timeout (1 s by default), the poll gives up
	 * first and the values go at the next one; never the user's transaction.
	 */
	r = trigger_begin_within(ctx, conn, SEQUENCE_LOCK_TIMEOUT_MS, doing);
	if (r != TP_OK)
		return r;
	res = trigger_run(conn, trigger_sql_poll_sequences, 0, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, doing);
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		ctx->host->log(ctx, TP_LOG_DEBUG, "queued %s sequence values",
					   PQgetvalue(res, 0, 0));
	PQclear(res);
	return trigger_commit(ctx, conn, doing);
}
