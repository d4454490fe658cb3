/*
 * trigger.c
 *     The trigger source: captures every committed INSERT, UPDATE, DELETE
 *     and TRUNCATE of the selected tables into teleport's queue with
 *     ordinary PL/pgSQL triggers, and polls their sequences. It needs no
 *     superuser, no REPLICATION and no C code in the server: its role owns
 *     (or has TRIGGER and SELECT on) the tables and may create schema
 *     teleport; the roles that write the tables need no rights on teleport.
 *
 * Built as a third party's plugin: it includes only the public headers and
 * libpq, and reaches teleport only through ctx->host. It relies on the
 * queue's SQL contract, teleport.insert_event (core/queue.h), installed by
 * the host before install() runs.
 *
 *   install    create or upgrade its objects in schema teleport (see
 *              trigger_sql.c), then put the capture triggers on the tables
 *              (trigger_tables.c); TP_RETRY while a table is busy
 *   poll       pick up new, changed and dropped tables the same way, and
 *              queue changed sequence values (trigger_sequences.c)
 *   uninstall  drop its triggers, functions and tables
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trigger.h"

static const tp_option_desc trigger_options[] = {
	{"lock_timeout", TP_OPTION_INT, "2000", false,
	"Milliseconds that creating or dropping a capture trigger waits for a table's lock before it gives up until the next poll."},
	{"statement_triggers", TP_OPTION_BOOL, "false", false,
	"Capture INSERT and DELETE with statement triggers and transition tables (one trigger call per statement) on ordinary tables outside inheritance; UPDATE, and partitioned tables, stay with row triggers."},
	{NULL, 0, NULL, false, NULL}
};

/* The key of a report in state->reported (malloc'd), or NULL. */
static char *
report_key(const char *what, const char *schema, const char *table)
{
	size_t		len = strlen(what) + strlen(schema) + strlen(table) + 3;
	char	   *key = malloc(len);

	if (key != NULL)
		snprintf(key, len, "%s\x1f%s\x1f%s", what, schema, table);
	return key;
}

/* See trigger.h. */
bool
trigger_already_reported(trigger_state *state, const char *what,
						 const char *schema, const char *table)
{
	char	   *key = report_key(what, schema, table);
	char	  **grown;

	if (key == NULL)
		return false;			/* report again rather than never */
	for (size_t i = 0; i < state->n_reported; i++)
	{
		if (strcmp(state->reported[i], key) == 0)
		{
			free(key);
			return true;
		}
	}
	grown = realloc(state->reported,
					(state->n_reported + 1) * sizeof(char *));
	if (grown == NULL)
	{
		free(key);
		return false;
	}
	state->reported = grown;
	state->reported[state->n_reported++] = key;
	return false;
}

/* See trigger.h. */
void
trigger_forget_reported(trigger_state *state, const char *what,
						const char *schema, const char *table)
{
	char	   *key = report_key(what, schema, table);

	if (key == NULL)
		return;
	for (size_t i = 0; i < state->n_reported; i++)
	{
		if (strcmp(state->reported[i], key) == 0)
		{
			free(state->reported[i]);
			state->reported[i] = state->reported[--state->n_reported];
			break;
		}
	}
	free(key);
}

/* Read the options into a new trigger_state (private_data). */
static tp_result
trigger_startup(tp_plugin_ctx *ctx)
{
	const char *text = ctx->host->option(ctx, "lock_timeout");
	const char *statement = ctx->host->option(ctx, "statement_triggers");
	const char *replicate_ddl;
	trigger_state *state;
	char	   *end;
	long		ms;

	errno = 0;
	ms = strtol(text != NULL ? text : "2000", &end, 10);
	if (errno != 0 || *end != '\0' || ms < 1 || ms > 3600000)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"lock_timeout\" of %s must be between 1 and 3600000 milliseconds, not \"%s\"",
					   ctx->section ? ctx->section : "the trigger source",
					   text ? text : "");
		return TP_ERROR;
	}
	if (statement != NULL && strcmp(statement, "true") != 0 &&
		strcmp(statement, "false") != 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"statement_triggers\" of %s must be true or false, not \"%s\"",
					   ctx->section ? ctx->section : "the trigger source",
					   statement);
		return TP_ERROR;
	}
	state = calloc(1, sizeof(trigger_state));
	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	state->lock_timeout_ms = (int) ms;
	state->statement_triggers = statement != NULL &&
		strcmp(statement, "true") == 0;
	/* the core plans a DDL source unless replicate_ddl is false */
	replicate_ddl = ctx->host->config_value(ctx, "replicate_ddl");
	state->follow_schema = replicate_ddl == NULL ||
		strcmp(replicate_ddl, "false") != 0;
	ctx->private_data = state;
	return TP_OK;
}

/* The instance's state; logs and returns NULL when startup did not run. */
static trigger_state *
state_of(tp_plugin_ctx *ctx)
{
	if (ctx->private_data == NULL)
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "the trigger source was not started");
	return ctx->private_data;
}

/*
 * Create or upgrade the plugin's objects in one transaction, record its
 * version, and read whether the first install completed.
 */
static tp_result
setup_schema(tp_plugin_ctx *ctx, PGconn *conn, trigger_state *state)
{
	const char *doing = "create the trigger source's objects in schema teleport";
	PGresult   *res;
	tp_result	r;

	r = trigger_begin(ctx, conn, doing);
	if (r != TP_OK)
		return r;
	res = trigger_run(conn, trigger_sql_setup, -1, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, doing);
	PQclear(res);
	res = trigger_run(conn, trigger_sql_record_version, -1, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, doing);
	PQclear(res);
	res = trigger_run(conn, trigger_sql_initial_done, 0, NULL);
	if (!trigger_result_ok(res) || PQntuples(res) != 1)
		return trigger_failure(ctx, conn, res, doing);
	state->initial_done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return trigger_commit(ctx, conn, doing);
}

/*
 * After a pass over the tables that left nothing to retry, record that the
 * first install completed: from now on new tables have their rows copied.
 */
static tp_result
finish_pass(tp_plugin_ctx *ctx, PGconn *conn, trigger_state *state,
			tp_result result)
{
	PGresult   *res;

	if (result != TP_OK || state->initial_done)
		return result;
	res = trigger_run(conn, trigger_sql_mark_initial_done, 0, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, "record the first install");
	PQclear(res);
	state->initial_done = true;
	return TP_OK;
}

/* Install the objects, then the triggers; see the file's header. */
static tp_result
trigger_install(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	trigger_state *state = state_of(ctx);
	tp_result	r;

	if (state == NULL)
		return TP_ERROR;
	r = setup_schema(ctx, conn, state);
	if (r != TP_OK)
		return r;
	r = trigger_sync_tables(ctx, conn, state, true);
	return finish_pass(ctx, conn, state, r);
}

/* Follow the tables, then the sequences; see the file's header. */
static tp_result
trigger_poll(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	trigger_state *state = state_of(ctx);
	tp_result	r;

	if (state == NULL)
		return TP_ERROR;
	r = trigger_sync_tables(ctx, conn, state, false);
	r = finish_pass(ctx, conn, state, r);
	if (PQstatus(conn) != CONNECTION_OK)
		return TP_RETRY;
	return trigger_worse(r, trigger_poll_sequences(ctx, conn));
}

/* Drop the triggers, then the functions and tables. */
static tp_result
trigger_uninstall(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	const char *doing = "drop the trigger source's objects in schema teleport";
	PGresult   *res;
	bool		installed;
	tp_result	r;

	if (state_of(ctx) == NULL)
		return TP_ERROR;
	res = trigger_run(conn, trigger_sql_installed, 0, NULL);
	if (!trigger_result_ok(res) || PQntuples(res) != 1)
		return trigger_failure(ctx, conn, res, doing);
	installed = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!installed)
	{
		ctx->host->log(ctx, TP_LOG_INFO, "the trigger source is not installed");
		return TP_OK;
	}
	r = trigger_remove_all(ctx, conn);
	if (r != TP_OK)
		return r;
	r = trigger_begin(ctx, conn, doing);
	if (r != TP_OK)
		return r;
	res = trigger_run(conn, trigger_sql_uninstall, -1, NULL);
	if (!trigger_result_ok(res))
		return trigger_failure(ctx, conn, res, doing);
	PQclear(res);
	r = trigger_commit(ctx, conn, doing);
	if (r == TP_OK)
		ctx->host->log(ctx, TP_LOG_INFO, "the trigger source is uninstalled");
	return r;
}

/* Free private_data. */
static void
trigger_shutdown(tp_plugin_ctx *ctx)
{
	trigger_state *state = ctx->private_data;

	if (state == NULL)
		return;
	for (size_t i = 0; i < state->n_reported; i++)
		free(state->reported[i]);
	free(state->reported);
	free(state);
	ctx->private_data = NULL;
}

/* Fill the source callbacks. */
static tp_result
trigger_init(const tp_host_api *host, void *callbacks)
{
	tp_source_callbacks *cb = callbacks;

	(void) host;
	cb->startup = trigger_startup;
	cb->install = trigger_install;
	cb->poll = trigger_poll;
	cb->uninstall = trigger_uninstall;
	cb->shutdown = trigger_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_SOURCE, "trigger", "1.0.0",
				"captures row changes and sequence values of the selected tables with PL/pgSQL triggers",
				trigger_options, trigger_init)
