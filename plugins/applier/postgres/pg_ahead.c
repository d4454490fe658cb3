/*
 * pg_ahead.c
 *     Statements run ahead of the batch's transaction, on a second session
 *     to the target, each committed at once: for what PostgreSQL does not
 *     let a transaction use before it commits. An enum value added by
 *     ALTER TYPE ... ADD VALUE cannot be used in its own transaction (an
 *     "unsafe use of new value" error, still in PostgreSQL 15), so rows of
 *     the same batch that carry it would fail, and fail again at every
 *     retry. Adding it ahead (ADD VALUE IF NOT EXISTS, so a retry repeats
 *     it harmlessly) makes it usable in the batch.
 *
 * The session is opened on first use with the parameters of the applier's
 * own connection (PQconninfo) and kept in the pg_applier. It waits at most
 * lock_timeout for a lock: the batch's transaction may hold the object's
 * (it changed it earlier in the batch), and then the caller falls back to
 * the batch's transaction.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>

#include "postgres.h"

/* Open a->ahead like conn; false (error filled) when it cannot. */
static bool
ahead_connect(pg_applier *a, PGconn *conn, char *error, size_t error_len)
{
	PQconninfoOption *opts = PQconninfo(conn);
	const char **keys;
	const char **values;
	int			n = 0;
	PGresult   *res;

	if (opts == NULL)
	{
		snprintf(error, error_len, "out of memory");
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		n++;
	keys = calloc((size_t) n + 1, sizeof(char *));
	values = calloc((size_t) n + 1, sizeof(char *));
	if (keys == NULL || values == NULL)
	{
		free(keys);
		free(values);
		PQconninfoFree(opts);
		snprintf(error, error_len, "out of memory");
		return false;
	}
	n = 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->val[0] != '\0')
		{
			keys[n] = o->keyword;
			values[n] = o->val;
			n++;
		}
	a->ahead = PQconnectdbParams(keys, values, 0);
	free(keys);
	free(values);
	PQconninfoFree(opts);
	if (a->ahead == NULL || PQstatus(a->ahead) != CONNECTION_OK)
	{
		snprintf(error, error_len, "could not open a second session: %s",
				 a->ahead ? PQerrorMessage(a->ahead) : "out of memory");
		pg_ahead_free(a);
		return false;
	}
	res = PQexec(a->ahead, "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false),"
				 " pg_catalog.set_config('lock_timeout', '2s', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		snprintf(error, error_len, "could not prepare a second session: %s",
				 PQerrorMessage(a->ahead));
		PQclear(res);
		pg_ahead_free(a);
		return false;
	}
	PQclear(res);
	return true;
}

/* See postgres.h. */
bool
pg_ahead_run(pg_applier *a, PGconn *conn, const char *sql, char *error,
			 size_t error_len)
{
	PGresult   *res;
	bool		ok;

	if (a->ahead == NULL && !ahead_connect(a, conn, error, error_len))
		return false;
	res = PQexec(a->ahead, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(error, error_len, "%s", PQerrorMessage(a->ahead));
	PQclear(res);
	if (PQstatus(a->ahead) != CONNECTION_OK)
		pg_ahead_free(a);
	return ok;
}

/* See postgres.h. */
void
pg_ahead_free(pg_applier *a)
{
	if (a->ahead != NULL)
		PQfinish(a->ahead);
	a->ahead = NULL;
}
