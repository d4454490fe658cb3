/*
 * stdout.c
 *     The stdout transport: the sending half writes each batch's change
 *     lines to standard output, one JSON object per line, for a pipe into
 *     another program (jq, a log shipper, a message queue client).
 *
 * Built exactly as a third party's plugin: it includes only the public
 * headers and reaches teleport only through ctx->host.
 *
 * A batch counts as sent once its lines were written and stdout flushed;
 * a write error (the reader went away: EPIPE) is TP_RETRY, so a batch may
 * be written more than once if a write failed halfway through (at least
 * once, like any one-way transport).
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/teleport.h>

/* One instance's settings. */
typedef struct stdout_state
{
	bool		header;			/* also write each batch's header line */
} stdout_state;

static const tp_option_desc stdout_options[] = {
	{"header", TP_OPTION_BOOL, "false", false,
	"Also write each batch's header line (a JSON object) before its changes."},
	{NULL, 0, NULL, false, NULL}
};

/* Read the options into a new stdout_state (private_data). */
static tp_result
stdout_startup(tp_plugin_ctx *ctx)
{
	const char *header = ctx->host->option(ctx, "header");
	stdout_state *state;

	state = calloc(1, sizeof(stdout_state));
	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	if (header == NULL || strcmp(header, "false") == 0)
		state->header = false;
	else if (strcmp(header, "true") == 0)
		state->header = true;
	else
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"header\" of %s must be true or false, not \"%s\"",
					   ctx->section ? ctx->section : "the transport", header);
		free(state);
		return TP_ERROR;
	}
	ctx->private_data = state;
	return TP_OK;
}

/*
 * Write len bytes of buf to stdout. False with errno set when the stream
 * failed.
 */
static bool
write_out(const char *buf, size_t len)
{
	if (len == 0)
		return true;
	if (fwrite(buf, 1, len, stdout) != len)
	{
		if (errno == 0)
			errno = EIO;
		return false;
	}
	return true;
}

/*
 * Write batch's change lines (after its header line if asked for) and
 * flush. TP_OK once flushed; TP_RETRY (logged) on a write error.
 */
static tp_result
stdout_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	const stdout_state *state = ctx->private_data;
	char	   *header = NULL;
	bool		ok;

	if (state->header)
	{
		header = ctx->host->batch_header(ctx, batch);
		if (header == NULL)
			return TP_ERROR;	/* logged by the host */
	}

	errno = 0;
	ok = (header == NULL || write_out(header, strlen(header))) &&
		write_out(batch->data, batch->data_len) &&
		fflush(stdout) == 0;
	if (header != NULL)
		ctx->host->free(header);
	if (!ok)
	{
		int			save_errno = errno;

		/* let the next attempt write again; it writes the batch in full */
		clearerr(stdout);
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not write batch %llu to standard output: %s",
					   (unsigned long long) batch->seq,
					   strerror(save_errno ? save_errno : EIO));
		return TP_RETRY;
	}
	ctx->host->log(ctx, TP_LOG_DEBUG,
				   "wrote batch %llu (%llu changes) to standard output",
				   (unsigned long long) batch->seq,
				   (unsigned long long) batch->n_changes);
	return TP_OK;
}

/* Free private_data. */
static void
stdout_shutdown(tp_plugin_ctx *ctx)
{
	free(ctx->private_data);
	ctx->private_data = NULL;
}

/* Fill the transport callbacks: a sending half only. */
static tp_result
stdout_init(const tp_host_api *host, void *callbacks)
{
	tp_transport_callbacks *cb = callbacks;

	cb->startup = stdout_startup;
	cb->send = stdout_send;
	cb->shutdown = stdout_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, "stdout", "1.0.0",
				"writes change events to standard output, one JSON object per line",
				stdout_options, stdout_init)
