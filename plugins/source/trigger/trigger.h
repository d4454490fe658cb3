/*
 * trigger.h
 *     Internals of the trigger source plugin, shared by its files:
 *       trigger.c           the plugin: options, callbacks, state
 *       trigger_sql.c       the SQL it runs (schema objects, queries)
 *       trigger_pq.c        running that SQL with libpq, classifying errors
 *       trigger_tables.c    which tables get a capture trigger, and installing it
 *       trigger_sequences.c polling the sequences of captured tables
 *
 * Nothing here is part of teleport's ABI; the plugin reaches teleport only
 * through ctx->host.
 */
#ifndef TP_TRIGGER_H
#define TP_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>
#include <teleport/teleport.h>

/* The version of the objects this plugin keeps in schema teleport. */
#define TRIGGER_SCHEMA_VERSION 2

/* The state of one instance (ctx->private_data). */
typedef struct trigger_state
{
	int			lock_timeout_ms;	/* for CREATE/DROP TRIGGER */
	bool		statement_triggers; /* INSERT and DELETE by statement */
	bool		initial_done;	/* the first install completed once */
	bool		follow_schema;	/* a DDL source queues new tables' creation */
	char	  **reported;		/* "why:schema.table" already reported */
	size_t		n_reported;
	int			n_refused;		/* privilege refusals in the last step */
} trigger_state;

/* trigger_sql.c: the SQL text; see there. */
extern const char trigger_sql_setup[];
extern const char trigger_sql_record_version[];
extern const char trigger_sql_initial_done[];
extern const char trigger_sql_mark_initial_done[];
extern const char trigger_sql_discover[];
extern const char trigger_sql_discover_known[];
extern const char trigger_sql_has_snapshot[];
extern const char trigger_sql_install_table[];
extern const char trigger_sql_remove_table[];
extern const char trigger_sql_poll_sequences[];
extern const char trigger_sql_installed[];
extern const char trigger_sql_uninstall_tables[];
extern const char trigger_sql_uninstall[];

/* trigger_pq.c */

/*
 * Run sql with n text parameters (n < 0: sql may hold several statements
 * and has no parameters). Returns the result, which the caller clears;
 * NULL only when libpq is out of memory.
 */
PGresult   *trigger_run(PGconn *conn, const char *sql, int n,
						const char *const *params);

/* Whether res is a success (a command, or rows). */
bool		trigger_result_ok(const PGresult *res);

/* res's SQLSTATE, or "" when it has none (a broken connection). */
const char *trigger_sqlstate(const PGresult *res);

/*
 * Whether a failure with res (may be NULL) on conn is passing: what
 * pg_failure_passing says (pg_passing.h), and a table dropped meanwhile.
 */
bool		trigger_failure_passing(PGconn *conn, const PGresult *res);

/*
 * Report a failed step: log "could not DOING: MESSAGE" (a warning that it
 * will be retried when the failure is passing, an error with a hint
 * otherwise), roll back any open transaction, clear res. Returns TP_RETRY
 * or TP_ERROR accordingly.
 */
tp_result	trigger_failure(tp_plugin_ctx *ctx, PGconn *conn, PGresult *res,
							const char *doing);

/*
 * BEGIN and SET LOCAL lock_timeout to the instance's. TP_OK, or the
 * failure reported as by trigger_failure.
 */
tp_result	trigger_begin(tp_plugin_ctx *ctx, PGconn *conn, const char *doing);

/*
 * The same, waiting for locks at most max_wait_ms (when it is shorter than
 * the option; 0: the option).
 */
tp_result	trigger_begin_within(tp_plugin_ctx *ctx, PGconn *conn, int max_wait_ms,
								 const char *doing);

/* COMMIT; TP_OK, or the failure reported as by trigger_failure. */
tp_result	trigger_commit(tp_plugin_ctx *ctx, PGconn *conn, const char *doing);

/* Roll back the open transaction, if any (errors ignored). */
void		trigger_rollback(PGconn *conn);

/* The worse of two results (TP_ERROR > TP_RETRY > TP_OK). */
tp_result	trigger_worse(tp_result a, tp_result b);

/* trigger.c */

/*
 * Whether what (a short reason tag) was already reported for
 * schema.table; if not, remember it and return false, so that the caller
 * reports it once per process.
 */
bool		trigger_already_reported(trigger_state *state, const char *what,
									 const char *schema, const char *table);

/* Forget that what was reported for schema.table (it was mended). */
void		trigger_forget_reported(trigger_state *state, const char *what,
									const char *schema, const char *table);

/* trigger_tables.c */

/*
 * Bring the capture triggers in line with the database and the targets'
 * selection: install them on selected tables with a key, reinstall them
 * where the names, the key or the kind of triggers (state->statement_triggers,
 * teleport.trigger_wanted) changed, remove them from tables no longer
 * selected, keyless or gone; the tables already captured whose triggers
 * are stale first. Each table is handled in its own transaction
 * under lock_timeout. A table installed after the first install has its
 * existing rows copied into the queue as 'c' events in that transaction,
 * and, with state->follow_schema, only once the DDL source's snapshot has
 * it (its creation is queued). TP_RETRY when a table was busy (the rest were handled); TP_ERROR when
 * the catalog could not be read, or, if refusal_is_error, when a table
 * refused the role's privileges (reported once per table either way).
 */
tp_result	trigger_sync_tables(tp_plugin_ctx *ctx, PGconn *conn,
								trigger_state *state, bool refusal_is_error);

/* Drop every trigger the plugin made; TP_RETRY when a table was busy. */
tp_result	trigger_remove_all(tp_plugin_ctx *ctx, PGconn *conn);

/* trigger_sequences.c */

/*
 * Emit one 'ddl' event per sequence owned by a column of a captured table
 * whose last_value changed since the last poll, and remember the values,
 * in one transaction.
 */
tp_result	trigger_poll_sequences(tp_plugin_ctx *ctx, PGconn *conn);

#endif							/* TP_TRIGGER_H */
