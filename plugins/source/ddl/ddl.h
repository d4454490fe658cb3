/*
 * ddl.h
 *     The machinery both DDL sources share (schema-diff now, event-trigger
 *     later): compiled into each of them from plugins/source/ddl/.
 *       ddl_sql.c      the objects in schema teleport: the snapshot of the
 *                      objects' descriptions, one description function per
 *                      kind, and teleport.schema_capture, which compares
 *                      and emits one 'ddl' event per changed object
 *       ddl_capture.c  running that SQL from C
 *
 * The design and the event's shape are in docs/schema.md. Nothing here is
 * part of teleport's ABI; the plugins reach teleport only through
 * ctx->host.
 */
#ifndef TP_DDL_H
#define TP_DDL_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <teleport/teleport.h>

/* The version of the objects in schema teleport (component "schema"). */
#define DDL_SCHEMA_VERSION 2

/* ddl_sql.c: the SQL text; see there. */
extern const char ddl_sql_setup[];
extern const char ddl_sql_first_taken[];
extern const char ddl_sql_capture[];
extern const char ddl_sql_uninstall[];

/*
 * Create or upgrade the shared objects in one transaction (idempotent;
 * serialised by an advisory lock). *first_taken says whether the first
 * snapshot was taken already. TP_OK, TP_RETRY (a passing failure, logged
 * as a warning) or TP_ERROR (logged).
 */
tp_result	ddl_setup(tp_plugin_ctx *ctx, PGconn *conn, bool *first_taken);

/*
 * In one transaction: describe the objects (oids: a PostgreSQL oid[]
 * literal, or NULL for every object), compare them with the snapshot,
 * emit one 'ddl' event per created, changed or dropped object when emit
 * (else only record them: the first snapshot), and update the snapshot.
 * *n_events gets the number of objects created, changed or dropped (the
 * events emitted, or with !emit the objects recorded). Results as
 * ddl_setup.
 */
tp_result	ddl_capture(tp_plugin_ctx *ctx, PGconn *conn, const char *oids,
						bool emit, long *n_events);

/* Drop the shared objects and their version record. Results as ddl_setup. */
tp_result	ddl_uninstall(tp_plugin_ctx *ctx, PGconn *conn);

#endif							/* TP_DDL_H */
