/*
 * testapplier.c
 *     A well-formed applier plugin for the loader and daemon tests; notes its
 *     life cycle in the file named by its "marker" option. It applies
 *     nothing and holds every batch (TP_RETRY), so that the apply loop
 *     leaves the inbox as the transports filled it (check_delivery reads
 *     it).
 */
#include <stdio.h>

#include <teleport/teleport.h>

static const tp_option_desc testapplier_options[] = {
	{"marker", TP_OPTION_PATH, NULL, false, "file to which events are appended"},
	{NULL, 0, NULL, false, NULL}
};

/* Append event to the marker file, if there is one. */
static void
mark(tp_plugin_ctx *ctx, const char *event)
{
	const char *path = ctx->host->option(ctx, "marker");
	FILE	   *f;

	if (path == NULL)
		return;
	f = fopen(path, "a");
	if (f == NULL)
		return;
	fprintf(f, "%s %s instance=%s\n", event, ctx->plugin, ctx->instance);
	fclose(f);
}

/* startup: note it. */
static tp_result
testapplier_startup(tp_plugin_ctx *ctx)
{
	mark(ctx, "startup");
	return TP_OK;
}

/* prepare: note that a live connection was handed over. */
static tp_result
/* cppcheck-suppress constParameter ; the signature is the ABI's */
testapplier_prepare(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	mark(ctx, conn != NULL ? "prepare" : "prepare-without-connection");
	return TP_OK;
}

/* apply: nothing; the batch is held and stays in the inbox. */
static tp_result
testapplier_apply(tp_plugin_ctx *ctx, struct pg_conn *conn, const tp_batch *batch)
{
	(void) conn;
	mark(ctx, "apply");
	ctx->host->log(ctx, TP_LOG_WARNING, "testapplier holds batch %llu: it applies nothing",
				   (unsigned long long) batch->seq);
	return TP_RETRY;
}

/* shutdown: note it. */
static void
testapplier_shutdown(tp_plugin_ctx *ctx)
{
	mark(ctx, "shutdown");
}

/* init: fill the applier callbacks. */
static tp_result
testapplier_init(const tp_host_api *host, void *callbacks)
{
	tp_applier_callbacks *cb = callbacks;

	(void) host;
	cb->startup = testapplier_startup;
	cb->prepare = testapplier_prepare;
	cb->apply = testapplier_apply;
	cb->shutdown = testapplier_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_APPLIER, "testapplier", "0.1",
				"an applier that applies nothing", testapplier_options,
				testapplier_init)
