/*
 * conninfo.h
 *     The libpq connection string of an instance's database.
 */
#ifndef TP_CONNINFO_H
#define TP_CONNINFO_H

#include "config.h"

/*
 * A keyword/value conninfo built from database.conninfo (expanded, if it is
 * a URI), then database.{hostname,port,database,username,password} and
 * database.options, later ones winning; keys not set are left out so that
 * libpq's environment (PGHOST ...) and .pgpass apply. application_name
 * defaults to "teleport". Returns a new string owned by the caller (free),
 * or NULL after logging (an unknown libpq keyword in database.options, a
 * malformed database.conninfo).
 */
char	   *tp_conninfo_build(const tp_config *config);

/* The same conninfo with the password replaced by "********", for logs. */
char	   *tp_conninfo_redacted(const char *conninfo);

#endif							/* TP_CONNINFO_H */
