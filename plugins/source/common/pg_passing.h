/*
 * pg_passing.h
 *     Which failures of a source plugin's query are passing (the same
 *     query is worth trying again later) rather than errors.
 */
#ifndef TP_PG_PASSING_H
#define TP_PG_PASSING_H

#include <stdbool.h>

#include <libpq-fe.h>

/*
 * Whether a failure of a query on conn, with result res (NULL when there
 * is none), is passing: the connection is lost or the server shutting
 * down; a lock timeout, serialization failure or deadlock; or an object
 * that the query's catalog scan still listed was dropped before it was
 * described ("could not open relation with OID ...", "cache lookup
 * failed ..."), which the next try no longer sees.
 */
bool		pg_failure_passing(PGconn *conn, const PGresult *res);

#endif							/* TP_PG_PASSING_H */
