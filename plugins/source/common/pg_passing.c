/*
 * pg_passing.c
 *     Which failures of a source plugin's query are passing; see
 *     pg_passing.h. Compiled into each source plugin.
 */
#include "tp_autoconf.h"

#include <string.h>

#include "pg_passing.h"

/* See pg_passing.h. */
bool
pg_failure_passing(PGconn *conn, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (PQstatus(conn) != CONNECTION_OK || state == NULL)
		return true;
	/* internal errors of a catalog race: an object dropped meanwhile */
	if (strcmp(state, "XX000") == 0 && msg != NULL &&
		(strncmp(msg, "could not open relation with OID", 32) == 0 ||
		 strncmp(msg, "cache lookup failed", 19) == 0))
		return true;
	return strncmp(state, "08", 2) == 0 ||	/* connection exception */
		strcmp(state, "55P03") == 0 ||	/* lock_not_available */
		strcmp(state, "40001") == 0 ||	/* serialization_failure */
		strcmp(state, "40P01") == 0 ||	/* deadlock_detected */
		strncmp(state, "57P", 3) == 0;	/* shutdown, crash, cannot connect */
}
