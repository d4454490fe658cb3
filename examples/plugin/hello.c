/*
 * hello.c
 *     A third-party transport plugin, built out of tree against the installed
 *     headers: it logs each batch it is asked to send.
 *
 *     cc -shared -fPIC $(pkg-config --cflags teleport-plugin) \
 *         -o hello.so hello.c
 *     teleport --list-plugins --plugin-dir .
 */
#include <teleport/teleport.h>

static const tp_option_desc hello_options[] = {
	{"greeting", TP_OPTION_STRING, "hello", false, "what to say for each batch"},
	{NULL, 0, NULL, false, NULL}
};

/* send: log the batch and call it delivered. */
static tp_result
hello_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	ctx->host->log(ctx, TP_LOG_INFO, "%s: batch %llu of %s with %llu changes",
				   ctx->host->option(ctx, "greeting"),
				   (unsigned long long) batch->seq, batch->source,
				   (unsigned long long) batch->n_changes);
	return TP_OK;
}

/* init: fill the transport callbacks. */
static tp_result
hello_init(const tp_host_api *host, void *callbacks)
{
	tp_transport_callbacks *cb = callbacks;

	(void) host;
	cb->send = hello_send;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, "hello", "1.0.0",
				"logs each batch (an example of a third-party plugin)",
				hello_options, hello_init)
