/*
 * http.h
 *     The http transport's internal interfaces: the client (sending half,
 *     libcurl), the server (receiving half, libmicrohttpd), the bodies'
 *     content codings (gzip with zlib, zstd with libzstd) and the helpers
 *     they share. The API itself is described in docs/http-api.md.
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

/* ---- http_coding.c ---- */

/* A batch body's Content-Encoding. */
typedef enum http_coding
{
	HTTP_CODING_IDENTITY,		/* as it is */
	HTTP_CODING_GZIP,			/* RFC 1952, zlib */
	HTTP_CODING_ZSTD			/* RFC 8878, libzstd; one frame */
} http_coding;

/* The coding's name in Content-Encoding ("identity", "gzip", "zstd"). */
const char *http_coding_name(http_coding coding);

/*
 * A compressor kept from batch to batch (its codec state and output
 * buffer are reused). NULL when out of memory. Not thread-safe: one per
 * sender.
 */
typedef struct http_encoder http_encoder;

http_encoder *http_encoder_new(void);

/*
 * Compress the concatenation of a (alen bytes) and b (blen bytes) with
 * coding (gzip or zstd) at level (1-9). Returns true with *out the body
 * (*out_len bytes), owned by enc and valid until its next use; false when
 * out of memory or the codec fails.
 */
bool		http_encode(http_encoder *enc, http_coding coding, int level,
						const char *a, size_t alen, const char *b, size_t blen,
						const char **out, size_t *out_len);

void		http_encoder_free(http_encoder *enc);

/*
 * A streaming decoder of a body with a limit on the decoded size, reused
 * for one body after another (http_decoder_start before each).
 */
typedef struct http_decoder http_decoder;

typedef enum http_decode_result
{
	HTTP_DECODE_OK,				/* consumed; more may follow */
	HTTP_DECODE_TOO_BIG,		/* decoded data would exceed the limit */
	HTTP_DECODE_BAD,			/* not in its coding, or corrupt */
	HTTP_DECODE_NO_MEMORY		/* out of memory */
} http_decode_result;

/* A new decoder, or NULL (no memory). */
http_decoder *http_decoder_new(void);

/*
 * Start a body of coding, to decode into at most limit bytes; expect is
 * the size of an identity body (its Content-Length), room made for at
 * once. False when out of memory or the codec fails.
 */
bool		http_decoder_start(http_decoder *d, http_coding coding, size_t limit,
							   size_t expect);

/* Decode len more bytes of input. */
http_decode_result http_decoder_feed(http_decoder *d, const char *in, size_t len);

/*
 * After the last input: true with *out the decoded data, NUL-terminated
 * (owned by d, valid until it starts another body or is freed) when a
 * compressed stream ended exactly at the end of the input; false when it
 * is truncated or trailing bytes follow it.
 */
bool		http_decoder_finish(http_decoder *d, const char **out, size_t *out_len);

/* Why zstd refused a body (its error name), or "" when unknown. */
const char *http_decoder_reason(const http_decoder *d);

/* The bytes the decoder's output buffer holds now (kept between bodies). */
size_t		http_decoder_capacity(const http_decoder *d);

void		http_decoder_free(http_decoder *d);

#endif							/* TP_HTTP_H */
