/*
 * pgquery.h
 *     SQL helpers for tests: run a statement or read one value on a libpq
 *     connection, failing the current Check test (with the statement and
 *     the server's message) when it does not go as expected.
 */
#ifndef TP_PGQUERY_H
#define TP_PGQUERY_H

#include <stdbool.h>

#include <libpq-fe.h>

/* Run sql (one or more statements); it must succeed. */
void		tp_sql_ok(PGconn *conn, const char *sql);

/* Run sql; it must fail with SQLSTATE sqlstate. */
void		tp_sql_fails(PGconn *conn, const char *sql, const char *sqlstate);

/*
 * The one value of sql (one row; its first column) as a new string for
 * the caller to free, or NULL for SQL NULL.
 */
char	   *tp_sql_value(PGconn *conn, const char *sql);

/* The one value of sql as an integer; it must not be NULL. */
long long	tp_sql_int(PGconn *conn, const char *sql);

/* Assert that the one value of sql is expected (NULL: SQL NULL). */
void		tp_sql_assert(PGconn *conn, const char *sql, const char *expected);

/*
 * Wait up to timeout_s seconds (see deadline.h) for the one value of sql
 * to be expected,
 * polling every 100 ms. True when it was; false (the caller fails, with
 * what it knows) when the time ran out.
 */
bool		tp_sql_wait(PGconn *conn, const char *sql, const char *expected,
						int timeout_s);

#endif							/* TP_PGQUERY_H */
