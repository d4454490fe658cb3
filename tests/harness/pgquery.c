/*
 * pgquery.c
 *     SQL helpers for tests; see pgquery.h.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "pgquery.h"

/* See pgquery.h. */
void
tp_sql_ok(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK,
				  "SQL failed: %s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

/* See pgquery.h. */
void
tp_sql_fails(PGconn *conn, const char *sql, const char *sqlstate)
{
	PGresult   *res = PQexec(conn, sql);
	const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	ck_assert_msg(PQresultStatus(res) == PGRES_FATAL_ERROR,
				  "%s succeeded, expected SQLSTATE %s", sql, sqlstate);
	ck_assert_msg(got != NULL && strcmp(got, sqlstate) == 0,
				  "%s failed with %s, expected %s: %s", sql, got ? got : "none",
				  sqlstate, PQerrorMessage(conn));
	PQclear(res);
}

/* See pgquery.h. */
char *
tp_sql_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
				  PQnfields(res) >= 1, "%s: %s%d row(s)", sql, PQerrorMessage(conn),
				  PQntuples(res));
	if (!PQgetisnull(res, 0, 0))
	{
		v = strdup(PQgetvalue(res, 0, 0));
		ck_assert_ptr_nonnull(v);
	}
	PQclear(res);
	return v;
}

/* See pgquery.h. */
long long
tp_sql_int(PGconn *conn, const char *sql)
{
	char	   *v = tp_sql_value(conn, sql);
	long long	n;

	ck_assert_msg(v != NULL, "NULL from: %s", sql);
	n = strtoll(v, NULL, 10);
	free(v);
	return n;
}

/* See pgquery.h. */
void
tp_sql_assert(PGconn *conn, const char *sql, const char *expected)
{
	char	   *v = tp_sql_value(conn, sql);

	if (expected == NULL)
		ck_assert_msg(v == NULL, "%s: expected NULL, got \"%s\"", sql, v);
	else
		ck_assert_msg(v != NULL && strcmp(v, expected) == 0,
					  "%s:\n got: %s\nwant: %s", sql, v ? v : "NULL", expected);
	free(v);
}

/* See pgquery.h. */
bool
tp_sql_wait(PGconn *conn, const char *sql, const char *expected, int timeout_s)
{
	for (double end = tp_deadline(timeout_s); tp_before(end);)
	{
		char	   *v = tp_sql_value(conn, sql);
		bool		done = v != NULL && strcmp(v, expected) == 0;

		free(v);
		if (done)
			return true;
		usleep(100000);
	}
	return false;
}
