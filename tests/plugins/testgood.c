/*
 * testgood.c
 *     A well-formed transport plugin for the loader and daemon tests. It
 *     appends what happens to it to the file named by its "marker" option,
 *     so that a test can see the host drive its life cycle.
 */
#include <stdio.h>
#include <stdlib.h>

#include <teleport/teleport.h>

#ifndef TESTGOOD_NAME
#define TESTGOOD_NAME "testgood"
#endif

static const tp_option_desc testgood_options[] = {
	{"marker", TP_OPTION_PATH, NULL, false, "file to which events are appended"},
	{"count", TP_OPTION_INT, "3", false, "an integer option, for the option tests"},
	{"verbose", TP_OPTION_BOOL, "false", false, "a boolean option"},
	{NULL, 0, NULL, false, NULL}
};

/* Append "event plugin[target]" to the marker file, if there is one. */
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
	fprintf(f, "%s %s %s count=%s\n", event, ctx->plugin,
			ctx->target ? ctx->target : (ctx->receiving ? "receiving" : "-"),
			ctx->host->option(ctx, "count"));
	fclose(f);
}

/* startup: note it. */
static tp_result
testgood_startup(tp_plugin_ctx *ctx)
{
	mark(ctx, "startup");
	ctx->host->log(ctx, TP_LOG_INFO, "started");
	return TP_OK;
}

/* send: note the batch's seq. */
static tp_result
testgood_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	char		event[64];

	snprintf(event, sizeof(event), "send-%llu", (unsigned long long) batch->seq);
	mark(ctx, event);
	return TP_OK;
}

/* receive_start: note it. */
static tp_result
testgood_receive_start(tp_plugin_ctx *ctx)
{
	mark(ctx, "receive_start");
	return TP_OK;
}

/* receive_stop: note it. */
static void
testgood_receive_stop(tp_plugin_ctx *ctx)
{
	mark(ctx, "receive_stop");
}

/* shutdown: note it. */
static void
testgood_shutdown(tp_plugin_ctx *ctx)
{
	mark(ctx, "shutdown");
}

/* init: fill the transport callbacks. */
static tp_result
testgood_init(const tp_host_api *host, void *callbacks)
{
	tp_transport_callbacks *cb = callbacks;

	(void) host;
	cb->startup = testgood_startup;
	cb->send = testgood_send;
	cb->receive_start = testgood_receive_start;
	cb->receive_stop = testgood_receive_stop;
	cb->shutdown = testgood_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, TESTGOOD_NAME, "1.2.3",
				"a transport that only notes what it is asked to do",
				testgood_options, testgood_init)
