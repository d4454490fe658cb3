/*
 * pgsql.h
 *     The one place where teleport talks to PostgreSQL: connect, run a
 *     query with text parameters, close.
 *
 * Every function logs its own errors, once, with the purpose the caller
 * gave ("the configuration check", "the applier"); callers only return.
 * Passwords are never logged: a conninfo is only shown redacted.
 */
#ifndef TP_PGSQL_H
#define TP_PGSQL_H

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>

/* How many statements one connection keeps prepared (tp_pgsql_query_prepared). */
#define TP_PGSQL_MAX_PREPARED 8

/*
 * libpq keeps a connection's buffers at the size of the largest message
 * sent or received on it, for as long as it is open: a caller that keeps
 * a connection for a long time closes it after a message of this size or
 * more, so that one large batch does not stay in its memory.
 */
#define TP_PGSQL_LARGE_MESSAGE ((size_t) 4 * 1024 * 1024)

/* A connection and what it is for. */
typedef struct tp_pgsql
{
	PGconn	   *conn;
	char	   *purpose;		/* for messages, e.g. "the applier" */
	const char *prepared[TP_PGSQL_MAX_PREPARED];	/* names prepared on conn */
	int			n_prepared;
} tp_pgsql;

/*
 * Called once per result row; return false to stop (the query then counts
 * as failed, and the callback should have logged why).
 */
typedef bool (*tp_pgsql_row_fn) (void *arg, const PGresult *res, int row);

/*
 * Connect to conninfo (libpq keyword/value or URI; libpq's environment and
 * .pgpass apply). On success fills *pg (tp_pgsql_close) and returns true;
 * otherwise logs `could not connect to database "DB" for PURPOSE: MESSAGE`
 * and returns false with *pg closed.
 */
bool		tp_pgsql_connect(tp_pgsql *pg, const char *conninfo,
							 const char *purpose);

/*
 * Run sql with n_params text parameters ($1 ...; a NULL element is SQL
 * NULL), calling row_fn for each result row when it is not NULL. Returns
 * false after logging when the query fails or row_fn returns false.
 */
bool		tp_pgsql_query(tp_pgsql *pg, const char *sql, int n_params,
						   const char *const *params, tp_pgsql_row_fn row_fn,
						   void *arg);

/*
 * tp_pgsql_query where lengths[i] >= 0 gives the size of params[i], which
 * then needs no NUL and is sent as it is in binary format: for a text
 * parameter (one the statement casts to text) that is its bytes, checked
 * by the server as text in the client encoding. So a large value is sent
 * without a NUL-terminated copy. lengths[i] < 0: a text parameter as in
 * tp_pgsql_query. At most 32 parameters.
 */
bool		tp_pgsql_query_sized(tp_pgsql *pg, const char *sql, int n_params,
								 const char *const *params, const int *lengths,
								 tp_pgsql_row_fn row_fn, void *arg);

/*
 * tp_pgsql_query for a statement run often: prepared on the connection
 * under name (a string constant the caller keeps; one name, one sql) at
 * its first use, then executed by name, so that the server plans it once
 * (its generic plan, once the server prefers it) rather than at every
 * call. Past TP_PGSQL_MAX_PREPARED names on one connection, a statement
 * is run unprepared. False after logging, as tp_pgsql_query.
 */
bool		tp_pgsql_query_prepared(tp_pgsql *pg, const char *name, const char *sql,
									int n_params, const char *const *params,
									tp_pgsql_row_fn row_fn, void *arg);

/*
 * tp_pgsql_query_prepared for a result that may be large: the rows come
 * one at a time (libpq's single-row mode), each in a result of its own
 * that row_fn sees as row 0 and that is freed after the call, so that at
 * most one row is held in memory rather than the whole result. When
 * row_fn stops, the rest of the rows are read and dropped (the connection
 * stays usable); rows before a failure have been passed already. False
 * after logging, as tp_pgsql_query.
 */
bool		tp_pgsql_stream_prepared(tp_pgsql *pg, const char *name, const char *sql,
									 int n_params, const char *const *params,
									 tp_pgsql_row_fn row_fn, void *arg);

/* One statement of tp_pgsql_pipeline: its text and its text parameters. */
typedef struct tp_pgsql_stmt
{
	const char *sql;
	int			n_params;
	const char *const *params;
} tp_pgsql_stmt;

/*
 * Run the n statements of stmts in order in one round trip (libpq's
 * pipeline mode, one sync after the last; one after the other where libpq
 * has no pipeline mode). Each is a statement of its own, with its own
 * snapshot under READ COMMITTED, so a read after a lock sees what the
 * lock waited for; outside a transaction block each would be a transaction
 * of its own, so callers open one with "BEGIN" as the first. results[i]
 * (n entries) receives the result of statement i, or NULL when it failed
 * or did not run (nothing runs after a failure); the caller clears every
 * result that is not NULL (PQclear), whatever was returned. True when
 * every statement succeeded; otherwise the first failure is logged as
 * tp_pgsql_query logs it and false is returned (a connection left unusable
 * is closed).
 */
bool		tp_pgsql_pipeline(tp_pgsql *pg, const tp_pgsql_stmt *stmts, int n,
							  PGresult **results);

/*
 * Run sql as tp_pgsql_query does and return its result, for a caller that
 * keeps it (PQclear it), or NULL when the query failed: then, with reason
 * not NULL, the server's message goes there (tp_pgsql_error_text) and is
 * not logged, for a caller that reports it in its own words (a batch held
 * with that reason, an error that is expected); with reason NULL it is
 * logged as tp_pgsql_query logs it.
 */
PGresult   *tp_pgsql_result(tp_pgsql *pg, const char *sql, int n_params,
							const char *const *params, char *reason, size_t len);

/*
 * The last error on pg's connection into buf (len bytes): the server's
 * message without its "ERROR:" prefix and trailing newline, or "the
 * database failed" when libpq has none.
 */
void		tp_pgsql_error_text(const tp_pgsql *pg, char *buf, size_t len);

/*
 * Run sql, which must return exactly one row of one column, into *value: a
 * new string (free), or NULL for SQL NULL. Returns false after logging
 * otherwise.
 */
bool		tp_pgsql_query_value(tp_pgsql *pg, const char *sql, int n_params,
								 const char *const *params, char **value);

/* tp_pgsql_query_value with parameters as in tp_pgsql_query_sized. */
bool		tp_pgsql_query_value_sized(tp_pgsql *pg, const char *sql, int n_params,
									   const char *const *params, const int *lengths,
									   char **value);

/*
 * Pin the session settings that values depend on: DateStyle=ISO,
 * IntervalStyle=postgres, extra_float_digits=3, search_path=pg_catalog;
 * and jit off: teleport's statements are short, and the cost estimates of
 * the queue's cut (a union over the event tables) passed the JIT
 * thresholds, which spent about 3 s compiling each cut under load.
 * Returns false after logging.
 */
bool		tp_pgsql_pin_session(tp_pgsql *pg);

/* Run sql without parameters or rows; false after logging. */
bool		tp_pgsql_exec(tp_pgsql *pg, const char *sql);

/*
 * The value of sql (one row, one boolean column) in *yes: true only for
 * SQL true. False after logging.
 */
bool		tp_pgsql_query_bool(tp_pgsql *pg, const char *sql, int n_params,
								const char *const *params, bool *yes);

/*
 * The value of sql (one row, one column) as an int64 in *value; *isnull
 * when it is SQL NULL (then *value is 0). False after logging.
 */
bool		tp_pgsql_query_int64(tp_pgsql *pg, const char *sql, int n_params,
								 const char *const *params, int64_t *value,
								 bool *isnull);

/*
 * Bring component's schema (its version recorded in teleport.schema_version;
 * none yet: version 0) up to version to, in the open transaction: steps[v]
 * is a NULL-terminated list of statements that bring version v to v + 1
 * (the first creates teleport.schema_version when it is missing). Records
 * the new version and logs it. Refuses a schema newer than to. what names
 * the schema in messages ("the queue's schema"). False after logging.
 */
bool		tp_pgsql_upgrade(tp_pgsql *pg, const char *component,
							 const char *const *const *steps, int to,
							 const char *what);

/*
 * Called with each row that COPY ... TO STDOUT sends (its text with the
 * newline, len bytes, not NUL-terminated; valid during the call only);
 * return false to stop (the callback logs why).
 */
typedef bool (*tp_pgsql_copy_fn) (void *arg, const char *row, size_t len);

/*
 * Run sql, a COPY ... TO STDOUT, and pass each row to fn. False after
 * logging when the COPY fails or fn stops it (then the connection is left
 * usable: the rest of the COPY is read and dropped).
 */
bool		tp_pgsql_copy_out(tp_pgsql *pg, const char *sql, tp_pgsql_copy_fn fn,
							  void *arg);

/* The server's version number (150004), or 0 when not connected. */
int			tp_pgsql_server_version(const tp_pgsql *pg);

/* Close the connection and free pg's contents; pg may be closed already. */
void		tp_pgsql_close(tp_pgsql *pg);

#endif							/* TP_PGSQL_H */
