/*
 * ddl.h
 *     The machinery both DDL sources share (schema-diff, event-trigger):
 *     compiled into each of them from plugins/source/ddl/.
 *       ddl_sql.c      the objects in schema teleport: the snapshot of the
 *                      objects' descriptions, one description function per
 *                      kind, and teleport.schema_capture, which compares
 *                      and emits one 'ddl' event per changed object
 *       ddl_capture.c  running that SQL from C
 *       ddl_event_triggers.c  the event triggers of the event-trigger
 *                      source: creating, checking and dropping them (the
 *                      schema-diff source drops them too, when the mode
 *                      is switched back)
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
#define DDL_SCHEMA_VERSION 3

/* ddl_sql.c: the SQL text; see there. */
extern const char ddl_sql_setup[];
extern const char ddl_sql_first_taken[];
extern const char ddl_sql_capture[];
extern const char ddl_sql_resend_pending[];
extern const char ddl_sql_resend[];
extern const char ddl_sql_resend_missed[];
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
 * ddl_setup; also TP_RETRY, without waiting (logged at debug level, or
 * info for the first snapshot), when a full comparison (oids NULL) finds
 * a DDL transaction in progress: one the event triggers captured (it
 * holds the capture's lock), or one holding a table (a full comparison
 * waits at most 50 ms for a lock, so that it never deadlocks with DDL).
 */
tp_result	ddl_capture(tp_plugin_ctx *ctx, PGconn *conn, const char *oids,
						bool emit, long *n_events);

/*
 * Send again the rows of the tables a comparison queued in
 * teleport.schema_resend (a change that may have rewritten them without
 * row events), each in a READ COMMITTED transaction of its own that locks
 * the table in SHARE mode, waiting at most 2 s for writers (see
 * teleport.schema_resend_rows in ddl_sql.c for why the order is right). A
 * table whose lock is not granted in time, or whose description changed
 * since the comparison, stays queued for the next poll (a warning every
 * 100 attempts that miss the lock). Logs each table sent at info level.
 * Results as ddl_setup; TP_OK also when tables stay queued.
 */
tp_result	ddl_resend(tp_plugin_ctx *ctx, PGconn *conn);

/* Drop the shared objects and their version record. Results as ddl_setup. */
tp_result	ddl_uninstall(tp_plugin_ctx *ctx, PGconn *conn);

/*
 * ddl_capture.c, for the other files of this directory: run sql (several
 * statements, no parameters) on conn, or report the failure res (may be
 * NULL; cleared) of doing it: logged once ("could not DOING: ..."), the
 * transaction rolled back. Results as ddl_setup.
 */
tp_result	ddl_exec(tp_plugin_ctx *ctx, PGconn *conn, const char *sql,
					 const char *doing);
tp_result	ddl_fail(tp_plugin_ctx *ctx, PGconn *conn, PGresult *res,
					 const char *doing);

/*
 * ddl_event_triggers.c: create, idempotently, the event triggers (on
 * ddl_command_end, sql_drop and table_rewrite) that capture each DDL
 * statement's objects in its own transaction, and their functions. When
 * the role may not
 * create event triggers (not a superuser), nothing is created, nothing is
 * logged, and the server's message is copied into denied (else denied is
 * ""); the result is TP_OK. Other failures as ddl_setup.
 */
tp_result	ddl_event_triggers_install(tp_plugin_ctx *ctx, PGconn *conn,
									   char *denied, size_t denied_len);

/*
 * *in_place: whether the three event triggers exist, enabled, with their
 * functions. Results as ddl_setup.
 */
tp_result	ddl_event_triggers_check(tp_plugin_ctx *ctx, PGconn *conn,
									 bool *in_place);

/*
 * Drop the event triggers and their functions (idempotent). When the role
 * may not (they were made by a superuser), nothing is dropped, nothing is
 * logged, and the server's message is copied into denied; the result is
 * TP_OK. Other failures as ddl_setup.
 */
tp_result	ddl_event_triggers_drop(tp_plugin_ctx *ctx, PGconn *conn,
									char *denied, size_t denied_len);

#endif							/* TP_DDL_H */
