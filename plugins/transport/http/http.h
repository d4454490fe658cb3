/*
 * http.h
 *     The http transport's internal interfaces: the client (sending half,
 *     libcurl), the server (receiving half, libmicrohttpd), gzip (zlib) and
 *     the helpers they share. The API itself is described in
 *     docs/http-api.md.
 *
 * Nothing here is exported from the plugin: only teleport_plugin_info is.
 */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <teleport/teleport.h>

/* The media type of a batch's wire form (header line + change lines). */
#define HTTP_BATCH_MEDIA_TYPE "application/x-teleport-batch"

/* The API's paths. */
#define HTTP_PATH_BATCHES "/v1/batches"
#define HTTP_PATH_HEALTH "/v1/health"
#define HTTP_PATH_STATUS "/v1/status"

/* Default of server.max_body_size when the config does not set it. */
#define HTTP_DEFAULT_MAX_BODY ((int64_t) 64 * 1024 * 1024)

typedef struct http_client http_client;
typedef struct http_server http_server;

/* private_data of an instance: one half or the other. */
typedef struct http_state
{
	http_client *client;		/* sending half (ctx->target set) */
	http_server *server;		/* receiving half (ctx->receiving) */
} http_state;

/* ---- http.c: shared helpers ---- */

/*
 * Read the integer option name into *value, checking [min, max]. False
 * after logging when it is out of range.
 */
bool		http_option_int(tp_plugin_ctx *ctx, const char *name, int64_t min,
							int64_t max, int64_t *value);

/*
 * The bearer token configured under key path prefix ("server" or
 * "targets.NAME.endpoint"): its "token", the first line of the file
 * "token_file" (trailing newline and carriage return trimmed) or the
 * environment variable named by "token_env". Returns true with *token a
 * new string (free), or NULL when none is configured; false after logging
 * when the file or variable cannot be read, is empty or holds a control
 * character. The token itself is never logged.
 */
bool		http_read_token(tp_plugin_ctx *ctx, const char *prefix, char **token);

/*
 * All of the file at path as a new NUL-terminated string (free), its length
 * in *len when len is not NULL; NULL after logging.
 */
char	   *http_read_file(tp_plugin_ctx *ctx, const char *path, size_t *len);

/*
 * The config scalar at key path prefix.key (owned by the host), or NULL
 * when it is absent or empty.
 */
const char *http_config(tp_plugin_ctx *ctx, const char *prefix,
						const char *key);

/*
 * Append text to buf (size buf_len, NUL-terminated) as the body of a JSON
 * string, escaping what JSON requires; truncates, never overflows.
 */
void		http_json_escape(char *buf, size_t buf_len, const char *text);

/* ---- http_client.c: the sending half ---- */

/* A client for ctx's target endpoint, or NULL after logging. */
http_client *http_client_new(tp_plugin_ctx *ctx);

/*
 * POST batch to the endpoint and map the answer to a tp_result (see
 * docs/http-api.md, "Retry semantics"). Logs every failure.
 */
tp_result	http_client_send(tp_plugin_ctx *ctx, http_client *client,
							 const tp_batch *batch);

void		http_client_free(http_client *client);

/* ---- http_server.c: the receiving half ---- */

/* A server configured from ctx's server section, or NULL after logging. */
http_server *http_server_new(tp_plugin_ctx *ctx);

/* Start listening (threads of its own). TP_ERROR after logging. */
tp_result	http_server_start(tp_plugin_ctx *ctx, http_server *server);

/* Stop listening; returns once no request is being handled. */
void		http_server_stop(http_server *server);

void		http_server_free(http_server *server);

/* ---- http_gzip.c ---- */

/*
 * gzip the concatenation of a (alen bytes) and b (blen bytes) at level
 * (1-9). Returns true with *out a new buffer (free) of *out_len bytes;
 * false when out of memory or zlib fails.
 */
bool		http_gzip(const char *a, size_t alen, const char *b, size_t blen,
					  int level, char **out, size_t *out_len);

/* Streaming gunzip with a limit on the inflated size. */
typedef struct http_gunzip http_gunzip;

typedef enum http_gunzip_result
{
	HTTP_GUNZIP_OK,				/* consumed; more may follow */
	HTTP_GUNZIP_TOO_BIG,		/* inflated data would exceed the limit */
	HTTP_GUNZIP_BAD				/* not gzip, or corrupt */
} http_gunzip_result;

/* A new inflater for at most limit bytes of output, or NULL (no memory). */
http_gunzip *http_gunzip_new(size_t limit);

/* Inflate len more bytes of input. */
http_gunzip_result http_gunzip_feed(http_gunzip *gz, const char *in, size_t len);

/*
 * After the last input: true with *out the inflated data (owned by gz, valid
 * until http_gunzip_free) when the gzip stream ended exactly at the end of
 * the input; false when it is truncated or trailing bytes follow it.
 */
bool		http_gunzip_finish(http_gunzip *gz, const char **out, size_t *out_len);

void		http_gunzip_free(http_gunzip *gz);

#endif							/* TP_HTTP_H */
