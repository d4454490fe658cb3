/*
 * http.c
 *     The http transport: teleport's default way to move batches from a
 *     source instance to a target instance. The sending half POSTs each
 *     batch to the target's server (http_client.c, libcurl); the receiving
 *     half is that server (http_server.c, libmicrohttpd), which stores each
 *     batch through host->deliver before it acknowledges it. The API is
 *     documented in docs/http-api.md.
 *
 * Built exactly as a third party's plugin: it includes only the public
 * headers and reaches teleport only through ctx->host. This file holds the
 * callbacks, the option table and the helpers both halves share.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/teleport.h>

#include "http.h"

static const tp_option_desc http_options[] = {
	{"connect_timeout_ms", TP_OPTION_INT, "5000", false,
	"Sending half: give up connecting to the target's server after this many milliseconds (then retry later)."},
	{"timeout_ms", TP_OPTION_INT, "60000", false,
	"Sending half: give up on a batch whose answer has not come after this many milliseconds (then retry later)."},
	{"compress_min_bytes", TP_OPTION_INT, "65536", false,
	"Sending half: compress batches of at least this many bytes; 0 never compresses."},
	{"compress_level", TP_OPTION_INT, "1", false,
	"Sending half: the compression level, from 1 (fastest) to 9 (smallest)."},
	{"compression", TP_OPTION_STRING, "zstd", false,
	"Sending half: zstd (zstd when the target's server accepts it, else gzip) or gzip (always gzip)."},
	{"threads", TP_OPTION_INT, "64", false,
	"Receiving half: the most connections served at once, each on a thread of its own."},
	{"idle_timeout_s", TP_OPTION_INT, "120", false,
	"Receiving half: close a connection idle for this many seconds."},
	{NULL, 0, NULL, false, NULL}
};

/* See http.h. */
bool
http_option_int(tp_plugin_ctx *ctx, const char *name, int64_t min,
				int64_t max, int64_t *value)
{
	const char *text = ctx->host->option(ctx, name);
	char	   *end;
	long long	v;

	if (text == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "option \"%s\" has no value", name);
		return false;
	}
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"%s\" of %s must be an integer from %lld to %lld, not \"%s\"",
					   name, ctx->section ? ctx->section : "the transport",
					   (long long) min, (long long) max, text);
		return false;
	}
	*value = v;
	return true;
}

/* See http.h. */
const char *
http_config(tp_plugin_ctx *ctx, const char *prefix, const char *key)
{
	char		path[512];
	const char *value;
	int			n = snprintf(path, sizeof(path), "%s.%s", prefix, key);

	if (n < 0 || (size_t) n >= sizeof(path))
		return NULL;
	value = ctx->host->config_value(ctx, path);
	if (value == NULL || value[0] == '\0')
		return NULL;
	return value;
}

/* See http.h. */
char *
http_read_file(tp_plugin_ctx *ctx, const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf = NULL;
	size_t		used = 0;
	size_t		size = 0;

	if (f == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "could not open file \"%s\": %s",
					   path, strerror(errno));
		return NULL;
	}
	for (;;)
	{
		size_t		n;

		if (size - used < 4096)
		{
			size_t		new_size = size == 0 ? 8192 : size * 2;
			char	   *p = realloc(buf, new_size);

			if (p == NULL)
			{
				ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
			size = new_size;
		}
		n = fread(buf + used, 1, size - used - 1, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "could not read file \"%s\": %s",
					   path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

/*
 * Whether token is usable in an Authorization header: not empty, printable
 * ASCII without spaces.
 */
static bool
token_ok(const char *token)
{
	if (token[0] == '\0')
		return false;
	for (const char *p = token; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

/* See http.h. */
bool
http_read_token(tp_plugin_ctx *ctx, const char *prefix, char **token)
{
	const char *inline_token = http_config(ctx, prefix, "token");
	const char *file = http_config(ctx, prefix, "token_file");
	const char *env = http_config(ctx, prefix, "token_env");
	char	   *value = NULL;
	const char *where;

	*token = NULL;
	if (inline_token != NULL)
	{
		value = strdup(inline_token);
		where = "token";
	}
	else if (file != NULL)
	{
		char	   *nl;

		value = http_read_file(ctx, file, NULL);
		if (value == NULL)
			return false;
		/* the first line, without its line end */
		nl = strpbrk(value, "\r\n");
		if (nl != NULL)
			*nl = '\0';
		where = "token_file";
	}
	else if (env != NULL)
	{
		const char *v = getenv(env);

		if (v == NULL)
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "%s.token_env names environment variable \"%s\", which is not set",
						   prefix, env);
			return false;
		}
		value = strdup(v);
		where = "token_env";
	}
	else
		return true;

	if (value == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return false;
	}
	if (!token_ok(value))
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "the bearer token of %s.%s is empty or contains spaces or control characters",
					   prefix, where);
		free(value);
		return false;
	}
	*token = value;
	return true;
}

/* See http.h. */
void
http_json_escape(char *buf, size_t buf_len, const char *text)
{
	size_t		used = strlen(buf);

	for (const unsigned char *p = (const unsigned char *) text; *p; p++)
	{
		char		esc[8];
		size_t		n;

		if (*p == '"' || *p == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) *p;
			n = 2;
		}
		else if (*p < 0x20)
		{
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			n = 6;
		}
		else
		{
			esc[0] = (char) *p;
			n = 1;
		}
		if (used + n + 1 > buf_len)
			break;
		memcpy(buf + used, esc, n);
		used += n;
	}
	buf[used] = '\0';
}

/* Make the instance's half ready: read its config into private_data. */
static tp_result
http_startup(tp_plugin_ctx *ctx)
{
	http_state *state = calloc(1, sizeof(http_state));

	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	if (ctx->receiving)
	{
		state->server = http_server_new(ctx);
		if (state->server == NULL)
		{
			free(state);
			return TP_ERROR;
		}
	}
	else
	{
		state->client = http_client_new(ctx);
		if (state->client == NULL)
		{
			free(state);
			return TP_ERROR;
		}
	}
	ctx->private_data = state;
	return TP_OK;
}

/* Sending half: POST batch to the target's server. */
static tp_result
http_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	http_state *state = ctx->private_data;

	if (state == NULL || state->client == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "send called on an instance that is not a sending half");
		return TP_ERROR;
	}
	return http_client_send(ctx, state->client, batch);
}

/* Receiving half: start the server. */
static tp_result
http_receive_start(tp_plugin_ctx *ctx)
{
	http_state *state = ctx->private_data;

	if (state == NULL || state->server == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "receive_start called on an instance that is not a receiving half");
		return TP_ERROR;
	}
	return http_server_start(ctx, state->server);
}

/* Receiving half: stop the server; no deliver call after it returns. */
static void
http_receive_stop(tp_plugin_ctx *ctx)
{
	http_state *state = ctx->private_data;

	if (state != NULL && state->server != NULL)
		http_server_stop(state->server);
}

/* Release private_data (stopping the server first if it still runs). */
static void
http_shutdown(tp_plugin_ctx *ctx)
{
	http_state *state = ctx->private_data;

	if (state == NULL)
		return;
	if (state->server != NULL)
	{
		http_server_stop(state->server);
		http_server_free(state->server);
	}
	if (state->client != NULL)
		http_client_free(state->client);
	free(state);
	ctx->private_data = NULL;
}

/* Fill the transport callbacks. */
static tp_result
http_init(const tp_host_api *host, void *callbacks)
{
	tp_transport_callbacks *cb = callbacks;

	(void) host;
	cb->startup = http_startup;
	cb->send = http_send;
	cb->receive_start = http_receive_start;
	cb->receive_poll = NULL;
	cb->receive_stop = http_receive_stop;
	cb->shutdown = http_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, "http", "1.0.0",
				"sends batches over HTTP(S) to the target's teleport server, which stores them before it acknowledges",
				http_options, http_init)
