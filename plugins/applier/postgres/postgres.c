/*
 * postgres.c
 *     The postgres applier: applies batches to the receiving instance's own
 *     PostgreSQL database, inside the transaction the host's apply loop
 *     opened (core/apply_loop.c), which also records the batch as applied.
 *     How changes become statements is in pg_apply.c; the README's "How
 *     apply works" says what the target sees.
 *
 * Built exactly as a third party's plugin: it includes only the public
 * headers, links only libpq and reaches teleport only through ctx->host.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

static const tp_option_desc postgres_options[] = {
	{"session_replication_role", TP_OPTION_STRING, "origin", false,
	"origin (default), or replica: the applier's session then skips the target's ordinary triggers and foreign key checks (needs a superuser, or on PostgreSQL 15+ GRANT SET ON PARAMETER session_replication_role)."},
	{"max_group_bytes", TP_OPTION_INT, "1048576", false,
	"The most bytes of rows that one set-based statement carries."},
	{NULL, 0, NULL, false, NULL}
};

/* Read the options into a new pg_applier (private_data). */
static tp_result
postgres_startup(tp_plugin_ctx *ctx)
{
	const char *role = ctx->host->option(ctx, "session_replication_role");
	const char *max = ctx->host->option(ctx, "max_group_bytes");
	pg_applier *a;
	long long	v;
	char	   *end;

	if (role != NULL && strcmp(role, "origin") != 0 && strcmp(role, "replica") != 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "option \"session_replication_role\" of "
					   "applier_options must be origin or replica, not \"%s\"", role);
		return TP_ERROR;
	}
	errno = 0;
	v = max != NULL ? strtoll(max, &end, 10) : 1048576;
	if (max != NULL && (errno != 0 || *end != '\0' || v < 1024))
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "option \"max_group_bytes\" of "
					   "applier_options must be an integer of at least 1024, not \"%s\"",
					   max);
		return TP_ERROR;
	}
	a = calloc(1, sizeof(pg_applier));
	if (a == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	a->replica_role = role != NULL && strcmp(role, "replica") == 0;
	a->max_group_bytes = (size_t) v;
	ctx->private_data = a;
	return TP_OK;
}

/* Run one statement without parameters; its result status, cleared. */
static bool
exec_ok(PGconn *conn, const char *sql, char *error, size_t len)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
	{
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		snprintf(error, len, "%s", msg ? msg : PQerrorMessage(conn));
	}
	PQclear(res);
	return ok;
}

/*
 * A new session: pin the settings values are read with (the same as
 * capture's), forget the prepared statements of any earlier session, and
 * set session_replication_role when asked and permitted.
 */
static tp_result
postgres_prepare(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	pg_applier *a = ctx->private_data;
	char		error[512];

	pg_apply_forget(a);
	pg_tables_reset(&a->tables);
	a->tables.dirty = false;
	/* a marker may be left from before: the first batch looks */
	a->not_null_pending = true;
	a->set_aside_pending = true;
	if (!exec_ok(conn,
				 "SELECT pg_catalog.set_config('datestyle', 'ISO, YMD', false),"
				 " pg_catalog.set_config('intervalstyle', 'postgres', false),"
				 " pg_catalog.set_config('extra_float_digits', '3', false),"
				 " pg_catalog.set_config('timezone', 'UTC', false),"
				 " pg_catalog.set_config('bytea_output', 'hex', false),"
				 " pg_catalog.set_config('lc_monetary', 'C', false),"
				 " pg_catalog.set_config('search_path', 'pg_catalog', false)",
				 error, sizeof(error)) ||
		!exec_ok(conn, "DEALLOCATE ALL", error, sizeof(error)))
	{
		ctx->host->log(ctx, TP_LOG_WARNING, "could not prepare the session: %s", error);
		return TP_RETRY;
	}
	if (a->replica_role)
	{
		if (exec_ok(conn, "SET session_replication_role = replica", error, sizeof(error)))
			ctx->host->log(ctx, TP_LOG_INFO, "session_replication_role is replica: "
						   "the target's ordinary triggers and foreign key checks do "
						   "not fire for applied changes");
		else
			ctx->host->log(ctx, TP_LOG_WARNING, "could not set session_replication_role "
						   "to replica (%s): it needs a superuser, or GRANT SET ON "
						   "PARAMETER session_replication_role (PostgreSQL 15+); "
						   "triggers and foreign key checks stay active", error);
	}
	return TP_OK;
}

/* Apply one batch in the host's transaction. */
static tp_result
postgres_apply(tp_plugin_ctx *ctx, struct pg_conn *conn, const tp_batch *batch)
{
	return pg_apply_batch(ctx, ctx->private_data, conn, batch);
}

/* Release the state. */
static void
postgres_shutdown(tp_plugin_ctx *ctx)
{
	pg_applier *a = ctx->private_data;

	if (a == NULL)
		return;
	pg_apply_free(a);
	pg_ahead_free(a);
	pg_tables_reset(&a->tables);
	pg_exec_free(&a->exec);
	free(a);
	ctx->private_data = NULL;
}

/* init: fill the applier callbacks. */
static tp_result
postgres_init(const tp_host_api *host, void *callbacks)
{
	tp_applier_callbacks *cb = callbacks;

	(void) host;
	cb->startup = postgres_startup;
	cb->prepare = postgres_prepare;
	cb->apply = postgres_apply;
	cb->shutdown = postgres_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_APPLIER, "postgres", "1.0.0",
				"applies batches to the receiving instance's PostgreSQL database, set-based",
				postgres_options, postgres_init)
