/*
 * pg_exec.c
 *     Sending the applier's statements. With libpq's pipeline mode (libpq
 *     14 and later) statements are queued without waiting for each one's
 *     result, and the results are read at a sync: a batch of many small
 *     groups (pgbench's four tables in turn) costs one round trip per sync,
 *     not per statement. Without it, each statement runs at once. Each
 *     statement is flushed to the server as it is queued, so that the
 *     server runs it while the applier reads on in the batch.
 *
 * A COPY cannot run in pipeline mode: pg_exec_direct syncs and leaves it
 * for the rest of the batch (statements then run at once), and the next
 * batch's pg_exec_begin enters it again.
 *
 * A sync happens before a query whose rows are needed, every
 * SYNC_EVERY statements or SYNC_BYTES sent (so that neither side's socket
 * buffer fills with unread results while the other waits), and at the end
 * of a batch. The first failure is kept, with the description of the
 * statement that failed and the server's message and detail; after it,
 * nothing more is sent (the transaction is failed anyway).
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* How many statements, or bytes, at most between two syncs. */
#define SYNC_EVERY 256
#define SYNC_BYTES ((size_t) 8 * 1024 * 1024)

/* A statement sent whose result is not read yet. */
struct pg_pending
{
	char		what[200];		/* for messages */
	int64_t		expect_rows;	/* a DELETE's rows, or 0 */
	bool		keep;			/* hand its result to the caller */
};

/* Record the first failure: what failed and the server's message. */
static void
record_failure(pg_exec *ex, const char *what, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (ex->failed)
		return;
	ex->failed = true;
	if (msg == NULL)
	{
		size_t		n;

		snprintf(ex->error, sizeof(ex->error), "%s: %s", what,
				 ex->conn ? PQerrorMessage(ex->conn) : "no connection");
		n = strlen(ex->error);
		while (n > 0 && ex->error[n - 1] == '\n')
			ex->error[--n] = '\0';
		return;
	}
	snprintf(ex->error, sizeof(ex->error), "%s: %s%s%s", what, msg,
			 detail ? " (" : "", detail ? detail : "");
	if (detail != NULL && strlen(ex->error) + 2 <= sizeof(ex->error))
		strcat(ex->error, ")");
}

/* Check a result of a command; counts a DELETE's missing rows. */
static void
check_result(pg_exec *ex, const struct pg_pending *p, const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
	{
		if (p->expect_rows > 0)
		{
			long long	n = atoll(PQcmdTuples((PGresult *) res));

			if (n < p->expect_rows)
				ex->missing += p->expect_rows - n;
		}
		return;
	}
#ifdef LIBPQ_HAS_PIPELINING
	if (st == PGRES_PIPELINE_ABORTED)
	{
		if (!ex->failed)
			record_failure(ex, p->what, NULL);
		return;
	}
#endif
	record_failure(ex, p->what, res);
}

/* See postgres.h. */
void
pg_exec_begin(pg_exec *ex, PGconn *conn)
{
	ex->conn = conn;
	ex->failed = false;
	ex->error[0] = '\0';
	ex->missing = 0;
	ex->n_pending = 0;
	ex->head = 0;
	ex->bytes_sent = 0;
	ex->pipeline = false;
#ifdef LIBPQ_HAS_PIPELINING
	ex->pipeline = PQenterPipelineMode(conn) == 1;
#endif
}

/* Queue p's record; false when memory ran out. */
static bool
push_pending(pg_exec *ex, const char *what, int64_t expect_rows, bool keep)
{
	struct pg_pending *p;

	if (ex->n_pending == ex->cap_pending)
	{
		int			cap = ex->cap_pending ? ex->cap_pending * 2 : 64;
		struct pg_pending *ring = malloc((size_t) cap * sizeof(struct pg_pending));

		if (ring == NULL)
			return false;
		for (int i = 0; i < ex->n_pending; i++)
			ring[i] = ex->pending[(ex->head + i) % ex->cap_pending];
		free(ex->pending);
		ex->pending = ring;
		ex->cap_pending = cap;
		ex->head = 0;
	}
	p = &ex->pending[(ex->head + ex->n_pending) % ex->cap_pending];
	snprintf(p->what, sizeof(p->what), "%s", what);
	p->expect_rows = expect_rows;
	p->keep = keep;
	ex->n_pending++;
	return true;
}

#ifdef LIBPQ_HAS_PIPELINING
/*
 * Read the results of everything pending, through the sync that was sent.
 * *kept (may be NULL) receives the result of the one kept statement.
 */
static void
read_pending(pg_exec *ex, PGresult **kept)
{
	while (ex->n_pending > 0)
	{
		struct pg_pending *p = &ex->pending[ex->head];
		PGresult   *res = PQgetResult(ex->conn);

		if (res == NULL)
		{
			/* the connection broke: nothing more will come */
			record_failure(ex, p->what, NULL);
			ex->n_pending = 0;
			ex->head = 0;
			return;
		}
		check_result(ex, p, res);
		if (p->keep && kept != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
			*kept = res;
		else
			PQclear(res);
		/* the end of this statement's results */
		while ((res = PQgetResult(ex->conn)) != NULL)
			PQclear(res);
		ex->head = (ex->head + 1) % ex->cap_pending;
		ex->n_pending--;
	}
	ex->head = 0;
	{
		PGresult   *res = PQgetResult(ex->conn);

		if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			record_failure(ex, "the end of a pipeline", res);
		PQclear(res);
	}
}
#endif

/* Sync: send it and read every pending result. */
static void
sync_now(pg_exec *ex, PGresult **kept)
{
#ifdef LIBPQ_HAS_PIPELINING
	if (!ex->pipeline || (ex->n_pending == 0 && kept == NULL))
		return;
	if (PQpipelineSync(ex->conn) != 1)
	{
		record_failure(ex, "sending the statements", NULL);
		/* what was queued will not come back */
		ex->n_pending = 0;
		ex->head = 0;
		return;
	}
	read_pending(ex, kept);
	ex->bytes_sent = 0;
#else
	(void) ex;
	(void) kept;
#endif
}

/*
 * Send one statement (sql, or stmt prepared first when it is not yet) in
 * pipeline mode, or run it at once without; keep its result when keep.
 */
static PGresult *
send_one(pg_exec *ex, const char *sql, pg_stmt *stmt, int n,
		 const char *const *params, const char *what, int64_t expect_rows,
		 bool keep)
{
	if (ex->failed)
		return NULL;
	if (!ex->pipeline)
	{
		PGresult   *res;
		struct pg_pending p;

		snprintf(p.what, sizeof(p.what), "%s", what);
		p.expect_rows = expect_rows;
		p.keep = keep;
		if (stmt != NULL && !stmt->prepared)
		{
			res = PQprepare(ex->conn, stmt->name, stmt->sql, n, NULL);
			check_result(ex, &p, res);
			PQclear(res);
			if (ex->failed)
				return NULL;
			stmt->prepared = true;
		}
		if (stmt != NULL)
			res = PQexecPrepared(ex->conn, stmt->name, n, params, NULL, NULL, 0);
		else
			res = PQexecParams(ex->conn, sql, n, NULL, params, NULL, NULL, 0);
		check_result(ex, &p, res);
		if (keep && !ex->failed)
			return res;
		PQclear(res);
		return NULL;
	}
#ifdef LIBPQ_HAS_PIPELINING
	if (stmt != NULL && !stmt->prepared)
	{
		if (PQsendPrepare(ex->conn, stmt->name, stmt->sql, n, NULL) != 1 ||
			!push_pending(ex, what, 0, false))
		{
			record_failure(ex, what, NULL);
			return NULL;
		}
		stmt->prepared = true;
		ex->bytes_sent += strlen(stmt->sql);
	}
	if ((stmt != NULL
		 ? PQsendQueryPrepared(ex->conn, stmt->name, n, params, NULL, NULL, 0)
		 : PQsendQueryParams(ex->conn, sql, n, NULL, params, NULL, NULL, 0)) != 1 ||
		!push_pending(ex, what, expect_rows, keep))
	{
		record_failure(ex, what, NULL);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		ex->bytes_sent += params[i] ? strlen(params[i]) : 0;
	/*
	 * on its way now (libpq keeps a pipeline's tail until a sync), so that
	 * it runs while the caller builds the next
	 */
	if (!keep && PQflush(ex->conn) != 0)
	{
		record_failure(ex, what, NULL);
		return NULL;
	}
	if (keep)
	{
		PGresult   *kept = NULL;

		sync_now(ex, &kept);
		if (ex->failed)
		{
			PQclear(kept);
			return NULL;
		}
		return kept;
	}
	if (ex->n_pending >= SYNC_EVERY || ex->bytes_sent >= SYNC_BYTES)
		sync_now(ex, NULL);
#endif
	return NULL;
}

/* See postgres.h. */
void
pg_exec_send(pg_exec *ex, const char *sql, pg_stmt *stmt, int n,
			 const char *const *params, const char *what, int64_t expect_rows)
{
	(void) send_one(ex, sql, stmt, n, params, what, expect_rows, false);
}

/* See postgres.h. */
PGresult *
pg_exec_query(pg_exec *ex, const char *sql, pg_stmt *stmt, int n,
			  const char *const *params, const char *what)
{
	PGresult   *res;

	sync_now(ex, NULL);
	if (ex->failed)
		return NULL;
	res = send_one(ex, sql, stmt, n, params, what, 0, true);
	if (res == NULL && !ex->failed)
		record_failure(ex, what, NULL);
	return res;
}

/* See postgres.h. */
bool
pg_exec_none_left(pg_exec *ex, const char *sql, const char *what)
{
	PGresult   *res = pg_exec_query(ex, sql, NULL, 0, NULL, what);
	bool		none;

	if (res == NULL)
		return false;
	none = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") == 0;
	PQclear(res);
	return none;
}

/* See postgres.h. */
bool
pg_exec_sync(pg_exec *ex)
{
	sync_now(ex, NULL);
	return !ex->failed;
}

/* See postgres.h. */
PGconn *
pg_exec_direct(pg_exec *ex)
{
	sync_now(ex, NULL);
	if (ex->failed)
		return NULL;
#ifdef LIBPQ_HAS_PIPELINING
	if (ex->pipeline && PQexitPipelineMode(ex->conn) != 1)
	{
		record_failure(ex, "leaving pipeline mode", NULL);
		return NULL;
	}
#endif
	ex->pipeline = false;
	return ex->conn;
}

/* See postgres.h. */
void
pg_exec_end(pg_exec *ex)
{
	sync_now(ex, NULL);
#ifdef LIBPQ_HAS_PIPELINING
	if (ex->pipeline)
		(void) PQexitPipelineMode(ex->conn);
#endif
	ex->pipeline = false;
	ex->conn = NULL;
}

/* See postgres.h. */
void
pg_exec_free(pg_exec *ex)
{
	free(ex->pending);
	ex->pending = NULL;
	ex->cap_pending = 0;
	ex->n_pending = 0;
}
