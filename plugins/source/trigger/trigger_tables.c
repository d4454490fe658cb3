/*
 * trigger_tables.c
 *     Which tables the trigger source captures, and putting its triggers on
 *     them (and taking them off).
 *
 * A table is captured when it is an ordinary or partitioned table that is
 * not a partition (a partition's rows reach the queue through its root's
 * cloned trigger, under the root's name), a target selects it
 * (host->table_selected), and it has a key. One without a key is reported
 * once per process, by name and reason.
 *
 * With the option statement_triggers, INSERT and DELETE are captured by
 * statement triggers with transition tables where the table allows it
 * (teleport.trigger_wanted, in trigger_sql.c); UPDATE stays a row trigger.
 * A table whose installed triggers are not the set the option asks for is
 * reinstalled like one whose key changed, so switching the option and
 * restarting replaces the triggers.
 *
 * Each table is changed in a transaction of its own, with lock_timeout, so
 * that a long transaction holding a table never makes teleport queue a lock
 * that stalls every writer behind it: a busy table is logged and tried again
 * at the next poll. The tables already captured whose triggers are stale
 * (their mode, names or key changed) are handled before the others, so that
 * copying a new table's rows never delays the remaking of a table that now
 * needs text mode. A table installed after the first install completed has
 * its existing rows copied into the queue in the transaction that creates
 * its trigger, so none of them is lost between CREATE TABLE and the trigger;
 * the tables present at the first install are left to the initial load.
 * When a DDL source replicates the schema, such a table is taken up only
 * once that source's snapshot has it, that is once its creation is queued:
 * a table created and filled in a transaction that commits between the
 * schema-diff source's poll and this one waits for the next poll, instead
 * of having its rows queued ahead of its creation.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trigger.h"

/* One row of trigger_sql_discover, pointing into its result. */
typedef struct table_row
{
	const char *relid;
	const char *schema;
	const char *table;
	const char *keys;			/* text[] literal, NULL when none */
	bool		installed;		/* in trigger_table */
	bool		current;		/* triggers in place, as recorded */
	bool		candidate;		/* still a table we could capture */
	bool		known;			/* its creation is queued (or needs none) */
} table_row;

/* Read row i of res into *row. */
static void
read_row(const PGresult *res, int i, table_row *row)
{
	row->relid = PQgetvalue(res, i, 0);
	row->schema = PQgetvalue(res, i, 1);
	row->table = PQgetvalue(res, i, 2);
	row->keys = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
	row->installed = strcmp(PQgetvalue(res, i, 4), "t") == 0;
	row->current = strcmp(PQgetvalue(res, i, 5), "t") == 0;
	row->candidate = strcmp(PQgetvalue(res, i, 6), "t") == 0;
	row->known = strcmp(PQgetvalue(res, i, 7), "t") == 0;
}

/*
 * Run one per-table step (sql with params) in its own transaction under
 * lock_timeout. A lock timeout is logged as a warning naming the table and
 * TP_RETRY; a privilege failure is logged once per table, counted in
 * state->n_refused, and TP_ERROR. On
 * success *value (when not NULL) is the first column's text (malloc'd, or
 * NULL).
 */
static tp_result
table_step(tp_plugin_ctx *ctx, PGconn *conn, const table_row *row,
		   const char *sql, int n, const char *const *params,
		   const char *doing, char **value)
{
	trigger_state *state = ctx->private_data;
	char		what[512];
	PGresult   *res;
	tp_result	r;

	snprintf(what, sizeof(what), "%s on table \"%s.%s\"", doing, row->schema,
			 row->table);
	r = trigger_begin(ctx, conn, what);
	if (r != TP_OK)
		return r;
	res = trigger_run(conn, sql, n, params);
	if (!trigger_result_ok(res))
	{
		const char *sqlstate = trigger_sqlstate(res);

		if (strcmp(sqlstate, "42501") == 0)
		{
			state->n_refused++;
			if (trigger_already_reported(state, "privilege", row->schema,
										 row->table))
			{
				/* reported already: stay quiet, but still refuse */
				PQclear(res);
				trigger_rollback(conn);
				return TP_ERROR;
			}
		}
		return trigger_failure(ctx, conn, res, what);
	}
	if (value != NULL)
	{
		*value = NULL;
		if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
			*value = strdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	r = trigger_commit(ctx, conn, what);
	if (r != TP_OK && value != NULL)
	{
		free(*value);
		*value = NULL;
	}
	if (r == TP_OK)
		trigger_forget_reported(state, "privilege", row->schema, row->table);
	return r;
}

/* Install (or reinstall) the triggers of row's table. */
static tp_result
install_table(tp_plugin_ctx *ctx, PGconn *conn, const table_row *row,
			  bool copy)
{
	trigger_state *state = ctx->private_data;
	const char *params[6];
	char	   *copied = NULL;
	tp_result	r;

	params[0] = row->relid;
	params[1] = row->schema;
	params[2] = row->table;
	params[3] = row->keys;
	params[4] = copy ? "true" : "false";
	params[5] = state->statement_triggers ? "true" : "false";
	r = table_step(ctx, conn, row, trigger_sql_install_table, 6, params,
				   row->installed ? "reinstall the capture trigger"
				   : "install the capture trigger", &copied);
	if (r != TP_OK)
		return r;
	if (copied != NULL && strcmp(copied, "-1") == 0)
		ctx->host->log(ctx, TP_LOG_DEBUG,
					   "table \"%s.%s\" was dropped before its trigger was installed",
					   row->schema, row->table);
	else if (copy)
		ctx->host->log(ctx, TP_LOG_INFO,
					   "capturing table \"%s.%s\" (key %s); copied its %s existing rows",
					   row->schema, row->table, row->keys,
					   copied ? copied : "0");
	else
		ctx->host->log(ctx, TP_LOG_INFO, "capturing table \"%s.%s\" (key %s)",
					   row->schema, row->table, row->keys);
	free(copied);
	return TP_OK;
}

/* Remove the triggers of row's table (why: for the log) and forget it. */
static tp_result
remove_table(tp_plugin_ctx *ctx, PGconn *conn, const table_row *row,
			 const char *why)
{
	const char *params[1];
	tp_result	r;

	params[0] = row->relid;
	r = table_step(ctx, conn, row, trigger_sql_remove_table, 1, params,
				   "remove the capture trigger", NULL);
	if (r == TP_OK && row->candidate)
		ctx->host->log(ctx, TP_LOG_INFO,
					   "no longer capturing table \"%s.%s\": %s",
					   row->schema, row->table, why);
	else if (r == TP_OK)
		ctx->host->log(ctx, TP_LOG_DEBUG,
					   "forgot table \"%s.%s\": it was dropped or became a partition",
					   row->schema, row->table);
	return r;
}

/*
 * Decide and do what row's table needs. copy_new: copy the rows of a table
 * installed for the first time.
 */
static tp_result
sync_table(tp_plugin_ctx *ctx, PGconn *conn, trigger_state *state,
		   const table_row *row, bool copy_new)
{
	if (!row->candidate)
		return remove_table(ctx, conn, row, "gone");
	if (!ctx->host->table_selected(ctx, row->schema, row->table))
		return row->installed ?
			remove_table(ctx, conn, row, "no target selects it") : TP_OK;
	if (row->keys == NULL)
	{
		if (!trigger_already_reported(state, "nokey", row->schema, row->table))
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "table \"%s.%s\" is not replicated: it has no primary key or replica identity index "
						   "(hint: add a primary key, or set REPLICA IDENTITY USING INDEX or FULL)",
						   row->schema, row->table);
		return row->installed ?
			remove_table(ctx, conn, row, "it has no key any more") : TP_OK;
	}
	trigger_forget_reported(state, "nokey", row->schema, row->table);
	if (row->current)
		return TP_OK;
	if (copy_new && !row->installed && !row->known)
	{
		/* its rows would reach the queue before its creation */
		ctx->host->log(ctx, TP_LOG_DEBUG,
					   "table \"%s.%s\" is captured once the schema source has queued its creation",
					   row->schema, row->table);
		return TP_OK;
	}
	return install_table(ctx, conn, row, copy_new && !row->installed);
}

/*
 * Whether row's table is one already captured whose triggers are no longer
 * the ones it should have (its mode, names or key changed): such tables
 * are handled first, so that a table that now needs text mode is remade
 * without waiting for the copy of a new table's rows.
 */
static bool
stale_installed(const table_row *row)
{
	return row->installed && row->candidate && !row->current;
}

/*
 * Set *sql to the discovery query to run: one that tells which tables a DDL
 * source's snapshot has when one queues the tables' creation
 * (state->follow_schema) and has made its snapshot, else one that knows
 * every table. A failure is logged and returned.
 */
static tp_result
discover_sql(tp_plugin_ctx *ctx, PGconn *conn, const trigger_state *state,
			 const char **sql)
{
	PGresult   *res;

	*sql = trigger_sql_discover;
	if (!state->follow_schema || !state->initial_done)
		return TP_OK;
	res = trigger_run(conn, trigger_sql_has_snapshot, 0, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, "look for the schema snapshot");
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		*sql = trigger_sql_discover_known;
	PQclear(res);
	return TP_OK;
}

/* See trigger.h. */
tp_result
trigger_sync_tables(tp_plugin_ctx *ctx, PGconn *conn, trigger_state *state,
					bool refusal_is_error)
{
	const char *params[1];
	const char *sql;
	PGresult   *res;
	tp_result	result;
	bool		stop = false;
	int			n;

	result = discover_sql(ctx, conn, state, &sql);
	if (result != TP_OK)
		return result;
	params[0] = state->statement_triggers ? "true" : "false";
	res = trigger_run(conn, sql, 1, params);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, "list the tables to capture");
	n = PQntuples(res);
	/* pass 0: the stale tables already captured; pass 1: the others */
	for (int pass = 0; pass < 2 && !stop; pass++)
	{
		for (int i = 0; i < n && !stop; i++)
		{
			table_row	row;
			tp_result	r;

			read_row(res, i, &row);
			if (stale_installed(&row) != (pass == 0))
				continue;
			if (ctx->host->stopping(ctx))
			{
				result = trigger_worse(result, TP_RETRY);
				stop = true;
				continue;
			}
			state->n_refused = 0;
			r = sync_table(ctx, conn, state, &row, state->initial_done);
			if (r == TP_ERROR && state->n_refused > 0 && !refusal_is_error)
				r = TP_OK;		/* reported; the other tables go on */
			result = trigger_worse(result, r);
			/* a lost connection: the rest would fail the same way */
			stop = r == TP_RETRY && PQstatus(conn) != CONNECTION_OK;
		}
	}
	PQclear(res);
	return result;
}

/* See trigger.h. */
tp_result
trigger_remove_all(tp_plugin_ctx *ctx, PGconn *conn)
{
	PGresult   *res;
	tp_result	result = TP_OK;
	int			n;

	res = trigger_run(conn, trigger_sql_uninstall_tables, 0, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, "list the captured tables");
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		table_row	row;

		memset(&row, 0, sizeof(row));
		row.relid = PQgetvalue(res, i, 0);
		row.schema = PQgetvalue(res, i, 1);
		row.table = PQgetvalue(res, i, 2);
		row.installed = true;
		row.candidate = true;
		result = trigger_worse(result,
							   remove_table(ctx, conn, &row, "uninstalled"));
	}
	PQclear(res);
	return result;
}
