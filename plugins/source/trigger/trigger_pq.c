/*
 * trigger_pq.c
 *     Running the trigger source's SQL on the host's connection with libpq,
 *     and turning failures into a logged line and a tp_result: passing ones
 *     (a lost connection, a busy table) are TP_RETRY, the rest TP_ERROR
 *     with a hint where the fix is known (privileges, a missing queue).
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trigger.h"
#include "pg_passing.h"

/* See trigger.h. */
PGresult *
trigger_run(PGconn *conn, const char *sql, int n, const char *const *params)
{
	if (n < 0)
		return PQexec(conn, sql);
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

/* See trigger.h. */
bool
trigger_result_ok(const PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);

	return res != NULL &&
		(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
}

/* See trigger.h. */
const char *
trigger_sqlstate(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL ? state : "";
}

/* See trigger.h. */
bool
trigger_failure_passing(PGconn *conn, const PGresult *res)
{
	/* and a table dropped meanwhile, which the next poll no longer sees */
	return pg_failure_passing(conn, res) ||
		strcmp(trigger_sqlstate(res), "42P01") == 0;	/* undefined_table */
}

/* The hint for a failure with SQLSTATE state, or NULL. Static. */
static const char *
failure_hint(const char *state)
{
	if (strcmp(state, "42501") == 0)
		return "teleport's role needs CREATE on the database (for schema "
			"teleport), and ownership of, or TRIGGER and SELECT on, every "
			"replicated table";
	if (strcmp(state, "3F000") == 0)
		return "the queue (schema teleport) is installed before the trigger "
			"source; start teleport as a source so that it installs it";
	if (strcmp(state, "42883") == 0)
		return "teleport.insert_event is missing: the queue in schema "
			"teleport is not installed or is too old";
	return NULL;
}

/*
 * The server's primary message of res, else libpq's message for conn,
 * without its trailing newline, into buf.
 */
static void
failure_message(PGconn *conn, const PGresult *res, char *buf, size_t len)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t		n;

	if (msg == NULL)
		msg = PQerrorMessage(conn);
	if (msg == NULL || msg[0] == '\0')
		msg = "unknown error";
	snprintf(buf, len, "%s", msg);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
}

/* See trigger.h. */
tp_result
trigger_failure(tp_plugin_ctx *ctx, PGconn *conn, PGresult *res,
				const char *doing)
{
	char		message[1024];
	const char *hint;
	bool		passing = trigger_failure_passing(conn, res);

	failure_message(conn, res, message, sizeof(message));
	hint = failure_hint(trigger_sqlstate(res));
	if (passing)
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not %s: %s; will retry", doing, message);
	else if (hint != NULL)
		ctx->host->log(ctx, TP_LOG_ERROR, "could not %s: %s (hint: %s)",
					   doing, message, hint);
	else
		ctx->host->log(ctx, TP_LOG_ERROR, "could not %s: %s", doing, message);
	PQclear(res);
	trigger_rollback(conn);
	return passing ? TP_RETRY : TP_ERROR;
}

/* Run one command that returns no rows; TP_OK or the reported failure. */
static tp_result
run_command(tp_plugin_ctx *ctx, PGconn *conn, const char *sql,
			const char *doing)
{
	PGresult   *res = trigger_run(conn, sql, -1, NULL);

	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, doing);
	PQclear(res);
	return TP_OK;
}

/* See trigger.h. */
tp_result
trigger_begin_within(tp_plugin_ctx *ctx, PGconn *conn, int max_wait_ms,
					 const char *doing)
{
	const trigger_state *state = ctx->private_data;
	int			ms = state ? state->lock_timeout_ms : 2000;
	char		sql[64];
	tp_result	r;

	r = run_command(ctx, conn, "BEGIN", doing);
	if (r != TP_OK)
		return r;
	if (max_wait_ms > 0 && max_wait_ms < ms)
		ms = max_wait_ms;
	snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = %d", ms);
	return run_command(ctx, conn, sql, doing);
}

/* See trigger.h. */
tp_result
trigger_begin(tp_plugin_ctx *ctx, PGconn *conn, const char *doing)
{
	return trigger_begin_within(ctx, conn, 0, doing);
}

/* See trigger.h. */
tp_result
trigger_commit(tp_plugin_ctx *ctx, PGconn *conn, const char *doing)
{
	return run_command(ctx, conn, "COMMIT", doing);
}

/* See trigger.h. */
void
trigger_rollback(PGconn *conn)
{
	if (PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* See trigger.h. */
tp_result
trigger_worse(tp_result a, tp_result b)
{
	return a > b ? a : b;
}
