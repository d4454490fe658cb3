/*
 * schema_diff.c
 *     The schema-diff source: captures schema changes without event
 *     triggers (so without superuser) by comparing the catalog with a
 *     snapshot at every ddlwatcher interval, and emitting one 'ddl' event
 *     per object created, changed or dropped into the queue, where the
 *     batches order it with the row changes by commit. The SQL is shared
 *     with the event-trigger source (plugins/source/ddl); docs/schema.md
 *     has the design.
 *
 *   install    create or upgrade the shared objects in schema teleport;
 *              drop the event triggers the event-trigger source left (a
 *              switch back to diff mode: the snapshot is shared, so
 *              nothing is lost or repeated); the first time, take the
 *              first snapshot without emitting
 *              anything (the schema that exists is the starting point);
 *              later (a restart), emit what changed while teleport was
 *              not running
 *   poll       compare and emit; nothing when nothing changed. Then send
 *              again the rows of the tables a change may have rewritten
 *              without row events (a volatile default, a type changed
 *              USING an expression), each under a lock that orders them
 *              with concurrent writers (ddl_resend)
 *   uninstall  drop the shared objects
 */
#include "tp_autoconf.h"

#include <stdlib.h>

#include "../ddl/ddl.h"

/* Set up the objects, then take the first snapshot or catch up. */
static tp_result
schema_diff_install(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	bool		first_taken = false;
	char		denied[512];
	long		n = 0;
	tp_result	r;

	r = ddl_setup(ctx, conn, &first_taken);
	if (r == TP_OK)
		r = ddl_event_triggers_drop(ctx, conn, denied, sizeof(denied));
	if (r != TP_OK)
		return r;
	if (denied[0] != '\0')
		ctx->host->log(ctx, TP_LOG_WARNING, "could not drop the event triggers the "
					   "event-trigger source left: %s; they go on capturing schema changes "
					   "(hint: a superuser can drop them with teleport --uninstall)", denied);
	r = ddl_capture(ctx, conn, NULL, first_taken, &n);
	if (r == TP_OK && !first_taken)
		ctx->host->log(ctx, TP_LOG_INFO, "took the first snapshot of the schema "
					   "(%ld objects are the starting point)", n);
	else if (r == TP_OK && n > 0)
		ctx->host->log(ctx, TP_LOG_INFO, "queued %ld schema change(s) made while "
					   "teleport was not running", n);
	return r == TP_OK ? ddl_resend(ctx, conn) : r;
}

/* Compare the catalog with the snapshot; see the file's header. */
static tp_result
schema_diff_poll(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	long		n = 0;
	tp_result	r = ddl_capture(ctx, conn, NULL, true, &n);

	if (r == TP_OK && n > 0)
		ctx->host->log(ctx, TP_LOG_DEBUG, "queued %ld schema change(s)", n);
	return r == TP_OK ? ddl_resend(ctx, conn) : r;
}

/* Drop the shared objects. */
static tp_result
schema_diff_uninstall(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	tp_result	r = ddl_uninstall(ctx, conn);

	if (r == TP_OK)
		ctx->host->log(ctx, TP_LOG_INFO, "the schema-diff source is uninstalled");
	return r;
}

/* Fill the source callbacks. */
static tp_result
schema_diff_init(const tp_host_api *host, void *callbacks)
{
	tp_source_callbacks *cb = callbacks;

	(void) host;
	cb->install = schema_diff_install;
	cb->poll = schema_diff_poll;
	cb->uninstall = schema_diff_uninstall;
	return TP_OK;
}

static const tp_option_desc schema_diff_options[] = {
	{NULL, 0, NULL, false, NULL}
};

TELEPORT_PLUGIN(TP_PLUGIN_SOURCE, "schema-diff", "1.0.0",
				"captures schema changes by comparing the catalog with a snapshot at every ddlwatcher interval",
				schema_diff_options, schema_diff_init)
