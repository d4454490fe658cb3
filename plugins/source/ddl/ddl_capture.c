/*
 * ddl_capture.c
 *     Running the shared DDL SQL (ddl_sql.c) on the host's connection:
 *     each step in its own transaction, failures logged once and turned
 *     into TP_RETRY (passing, pg_passing.h: a lost connection, a lock
 *     timeout, a serialization failure, an object dropped while the
 *     catalogs were described) or TP_ERROR.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddl.h"
#include "pg_passing.h"

/* Whether res is a success (a command, or rows). */
static bool
result_ok(const PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);

	return res != NULL &&
		(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK);
}

/*
 * Log "could not DOING: MESSAGE" (a warning when passing, else an error),
 * roll back, clear res; TP_RETRY or TP_ERROR.
 */
static tp_result
failure(tp_plugin_ctx *ctx, PGconn *conn, PGresult *res, const char *doing)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	bool		passing = pg_failure_passing(conn, res);
	char		buf[1024];
	size_t		n;

	snprintf(buf, sizeof(buf), "%s", msg != NULL ? msg : PQerrorMessage(conn));
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	ctx->host->log(ctx, passing ? TP_LOG_WARNING : TP_LOG_ERROR,
				   "could not %s: %s%s", doing, buf[0] ? buf : "unknown error",
				   passing ? "; will retry" : "");
	PQclear(res);
	if (PQstatus(conn) == CONNECTION_OK &&
		PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	return passing ? TP_RETRY : TP_ERROR;
}

/* Run sql (several statements, no parameters); TP_OK or the failure. */
static tp_result
run(tp_plugin_ctx *ctx, PGconn *conn, const char *sql, const char *doing)
{
	PGresult   *res = PQexec(conn, sql);

	if (!result_ok(res))
		return failure(ctx, conn, res, doing);
	PQclear(res);
	return TP_OK;
}

/* See ddl.h. */
tp_result
ddl_setup(tp_plugin_ctx *ctx, PGconn *conn, bool *first_taken)
{
	const char *doing = "create the schema capture's objects in schema teleport";
	PGresult   *res;
	tp_result	r;

	/* no "already exists, skipping" notices at every start */
	if ((r = run(ctx, conn, "BEGIN; SET LOCAL lock_timeout = '5s';"
				 " SET LOCAL client_min_messages = warning", doing)) != TP_OK ||
		(r = run(ctx, conn, ddl_sql_setup, doing)) != TP_OK)
		return r;
	res = PQexec(conn, ddl_sql_first_taken);
	if (!result_ok(res) || PQntuples(res) != 1)
		return failure(ctx, conn, res, doing);
	*first_taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return run(ctx, conn, "COMMIT", doing);
}

/* See ddl.h. */
tp_result
ddl_capture(tp_plugin_ctx *ctx, PGconn *conn, const char *oids, bool emit,
			long *n_events)
{
	const char *doing = emit ? "compare the schema with its snapshot"
		: "take the first snapshot of the schema";
	const char *params[2] = {oids, emit ? "true" : "false"};
	PGresult   *res;
	const char *state;
	tp_result	r;

	*n_events = 0;

	/*
	 * A full comparison waits for no lock: describing a table locks it
	 * (pg_get_expr), and a DDL transaction that holds a table while it
	 * waits for the capture's lock (the event triggers) or for a table
	 * described earlier would otherwise deadlock with it. Well below
	 * deadlock_timeout, it gives up first and tries again at the next poll.
	 */
	if ((r = run(ctx, conn, oids == NULL ? "BEGIN; SET LOCAL lock_timeout = '50ms'"
				 : "BEGIN; SET LOCAL lock_timeout = '5s'", doing)) != TP_OK)
		return r;
	res = PQexecParams(conn, ddl_sql_capture, 2, NULL, params, NULL, NULL, 0);
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (oids == NULL && state != NULL &&
		(strcmp(state, "55P03") == 0 || strcmp(state, "40001") == 0))
	{
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		*n_events = -1;
	}
	else if (!result_ok(res) || PQntuples(res) != 1)
		return failure(ctx, conn, res, doing);
	else
	{
		*n_events = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if ((r = run(ctx, conn, "COMMIT", doing)) != TP_OK)
			return r;
	}
	if (*n_events < 0)
	{
		/*
		 * a DDL transaction is open (the capture's lock, or a table's), or
		 * one committed while the catalogs were described
		 */
		ctx->host->log(ctx, emit ? TP_LOG_DEBUG : TP_LOG_INFO,
					   "could not %s now: a DDL transaction is in progress or committed meanwhile; will retry",
					   doing);
		*n_events = 0;
		return TP_RETRY;
	}
	return TP_OK;
}

/*
 * One table of ddl_resend (row i of pending): in a transaction of its
 * own; a lock not granted in time is counted and leaves it queued.
 */
static tp_result
resend_one(tp_plugin_ctx *ctx, PGconn *conn, const PGresult *pending, int i)
{
	const char *doing = "send a table's rows again after a schema change";
	const char *relid = PQgetvalue(pending, i, 0);
	const char *schema = PQgetisnull(pending, i, 1) ? "?" : PQgetvalue(pending, i, 1);
	const char *table = PQgetisnull(pending, i, 2) ? "?" : PQgetvalue(pending, i, 2);
	const char *state;
	PGresult   *res;
	long long	sent;
	tp_result	r;

	/*
	 * READ COMMITTED whatever the database's default: the copy must read
	 * with a snapshot taken after the lock is granted.
	 */
	if ((r = run(ctx, conn, "BEGIN ISOLATION LEVEL READ COMMITTED;"
				 " SET LOCAL lock_timeout = '2s'", doing)) != TP_OK)
		return r;
	res = PQexecParams(conn, ddl_sql_resend, 1, NULL, &relid, NULL, NULL, 0);
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state != NULL && strcmp(state, "55P03") == 0)
	{
		long		attempts = 0;

		/* writers held the table: the next poll tries again */
		PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		res = PQexecParams(conn, ddl_sql_resend_missed, 1, NULL, &relid, NULL, NULL, 0);
		if (!result_ok(res))
			return failure(ctx, conn, res, doing);
		if (PQntuples(res) == 1)
			attempts = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		ctx->host->log(ctx, attempts > 0 && attempts % 100 == 0 ? TP_LOG_WARNING : TP_LOG_DEBUG,
					   "could not lock table \"%s.%s\" to send its rows again after a "
					   "schema change (%ld attempts): writers held it; will retry",
					   schema, table, attempts);
		return TP_OK;
	}
	if (!result_ok(res) || PQntuples(res) != 1)
		return failure(ctx, conn, res, doing);
	sent = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (sent < 0)
	{
		/* a change not compared yet: the next comparison sends it first */
		PQclear(PQexec(conn, "ROLLBACK"));
		ctx->host->log(ctx, TP_LOG_DEBUG, "table \"%s.%s\" changed again before its rows "
					   "were sent again; will retry after the next comparison", schema, table);
		return TP_OK;
	}
	if ((r = run(ctx, conn, "COMMIT", doing)) != TP_OK)
		return r;
	if (sent > 0 && strcmp(PQgetvalue(pending, i, 4), "t") == 0)
		ctx->host->log(ctx, TP_LOG_INFO, "sent the %lld rows of table \"%s.%s\" again "
					   "after a schema change that may have rewritten them", sent,
					   schema, table);
	else if (sent > 0)
		ctx->host->log(ctx, TP_LOG_INFO, "sent %lld rows of table \"%s.%s\" again as text "
					   "images: values json mode may have lost, written before its capture "
					   "trigger turned text mode", sent, schema, table);
	return TP_OK;
}

/* See ddl.h. */
tp_result
ddl_resend(tp_plugin_ctx *ctx, PGconn *conn)
{
	PGresult   *pending = PQexec(conn, ddl_sql_resend_pending);
	tp_result	r = TP_OK;

	if (!result_ok(pending))
		return failure(ctx, conn, pending, "list the tables whose rows are to be sent again");
	for (int i = 0; i < PQntuples(pending) && r == TP_OK; i++)
	{
		if (ctx->host->stopping(ctx))
			r = TP_RETRY;
		else
			r = resend_one(ctx, conn, pending, i);
	}
	PQclear(pending);
	return r;
}

/* See ddl.h. */
tp_result
ddl_uninstall(tp_plugin_ctx *ctx, PGconn *conn)
{
	const char *doing = "drop the schema capture's objects in schema teleport";
	tp_result	r;

	/* both DDL sources uninstall: no "does not exist, skipping" the second time */
	if ((r = run(ctx, conn, "BEGIN; SET LOCAL lock_timeout = '5s';"
				 " SET LOCAL client_min_messages = warning", doing)) != TP_OK ||
		(r = run(ctx, conn, ddl_sql_uninstall, doing)) != TP_OK)
		return r;
	return run(ctx, conn, "COMMIT", doing);
}

/* See ddl.h. */
tp_result
ddl_exec(tp_plugin_ctx *ctx, PGconn *conn, const char *sql, const char *doing)
{
	return run(ctx, conn, sql, doing);
}

/* See ddl.h. */
tp_result
ddl_fail(tp_plugin_ctx *ctx, PGconn *conn, PGresult *res, const char *doing)
{
	return failure(ctx, conn, res, doing);
}
