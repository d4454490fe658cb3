/*
 * http_server.c
 *     The http transport's receiving half: a libmicrohttpd server on
 *     server.hostname:server.port that takes batches (POST /v1/batches),
 *     hands each to host->deliver, which stores it durably, and answers
 *     only then. GET /v1/health and GET /v1/status report on the instance.
 *     The API is documented in docs/http-api.md.
 *
 * Threads: one per connection (libmicrohttpd's thread-per-connection mode;
 * option "threads" caps the connections served at once). A request is
 * handled start to end on its connection's thread, and deliver may block it
 * while the batch is committed or applied, or while it waits for the batch
 * before it, which a sender with several batches in flight sends on another
 * connection: a thread shared by connections (a pool) would hold that one
 * up behind this one.
 *
 * Limits: a request is refused before its body is read when it is not
 * authenticated, is not a batch, or announces a Content-Length above
 * server.max_body_size (a body without Content-Length is refused with 411);
 * a gzip'd or zstd'd body is decoded as it arrives and refused as soon as
 * the decoded size passes the same limit.
 *
 * Content codings: a body may come as it is, gzip'd or zstd'd; every answer
 * says so in Accept-Encoding ("zstd, gzip", RFC 7694), from which a client
 * learns that it may send zstd (an older server says nothing, and gets
 * gzip). Bodies are decoded into decoders taken from a small pool and put
 * back when the request is done: their buffers and codec states, already
 * allocated and touched, serve the next bodies without fresh page faults.
 * A host of ABI 1.2 parses the batch in the decoder's buffer
 * (batch_parse_borrowed), without a copy of its data.
 * The pool keeps at most POOL_MAX decoders, none with a buffer above
 * POOL_MAX_BYTES (the memory it holds while idle).
 *
 * Client certificates (server.tls_ca): libmicrohttpd asks the client for a
 * certificate but does not check it, and its API has no call to check it
 * (MHD_CONNECTION_INFO_GNUTLS_CLIENT_CERT is not implemented). The check is
 * made here, per request, with GnuTLS's gnutls_certificate_verify_peers2 on
 * the connection's session (the GnuTLS that libmicrohttpd itself uses).
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <teleport/teleport.h>

#include "http.h"

/* Status codes whose MHD_HTTP_ names differ between libmicrohttpd versions. */
#define HTTP_TOO_LARGE 413
#define HTTP_UNPROCESSABLE 422

/* Seconds a sender is asked to wait when the store is unavailable. */
#define RETRY_AFTER_SECONDS "1"

/* The Content-Encodings of a batch accepted, as every answer says. */
#define ACCEPTED_ENCODINGS "zstd, gzip"

/* Decoders kept for reuse, and the largest output buffer one may keep. */
#define POOL_MAX 4
#define POOL_MAX_BYTES ((size_t) 16 * 1024 * 1024)

struct http_server
{
	tp_plugin_ctx *ctx;
	char	   *hostname;
	unsigned int port;
	char	   *token;			/* required bearer token, or NULL */
	int64_t		max_body;		/* server.max_body_size */
	unsigned int threads;
	unsigned int idle_timeout;	/* seconds */
	char	   *tls_cert;		/* PEM contents, or NULL */
	char	   *tls_key;
	char	   *tls_ca;			/* PEM of the CA that signs clients, or NULL */
	struct MHD_Daemon *daemon;	/* while running */

	pthread_mutex_t pool_lock;
	http_decoder *pool[POOL_MAX];	/* idle decoders, pool_n of them */
	int			pool_n;
};

/* What the server routes a request to. */
typedef enum route
{
	ROUTE_NONE,
	ROUTE_BATCHES,
	ROUTE_HEALTH,
	ROUTE_STATUS
} route;

/* A POST /v1/batches being received. */
typedef struct request
{
	http_server *server;
	http_coding coding;			/* its Content-Encoding */
	http_decoder *dec;			/* the body, decoded as it comes */
	unsigned int fail_status;	/* refused while its body was read, or 0 */
	char		fail_reason[256];
} request;

/* The peer's numeric address, for log lines. */
static void
peer_address(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	snprintf(buf, len, "?");
	if (ci == NULL || ci->client_addr == NULL)
		return;
	(void) getnameinfo(ci->client_addr,
					   ci->client_addr->sa_family == AF_INET6 ?
					   sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
					   buf, (socklen_t) len, NULL, 0, NI_NUMERICHOST);
}

/*
 * Queue a JSON answer (copied). extra_name/extra_value, when not NULL, add
 * one more header.
 */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned int status, const char *json,
		const char *extra_name, const char *extra_value)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(json), (void *) json,
										MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING, ACCEPTED_ENCODINGS);
	if (extra_name != NULL)
		MHD_add_response_header(r, extra_name, extra_value);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Queue {"error":message} with status (and one optional extra header). */
static enum MHD_Result
respond_error(struct MHD_Connection *conn, unsigned int status,
			  const char *message, const char *extra_name,
			  const char *extra_value)
{
	char		json[600] = "{\"error\":\"";

	http_json_escape(json, sizeof(json) - 3, message);
	strcat(json, "\"}");
	return respond(conn, status, json, extra_name, extra_value);
}

/*
 * Whether a and b are equal, in time that depends only on the length of b
 * (the secret).
 */
static bool
equal_ct(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = (unsigned char) (alen != blen);

	for (size_t i = 0; i < blen; i++)
		diff |= (unsigned char) ((i < alen ? a[i] : 0) ^ b[i]);
	return diff == 0;
}

/* Whether the request carries "Authorization: Bearer <our token>". */
static bool
authorized(const http_server *s, struct MHD_Connection *conn)
{
	const char *auth;

	if (s->token == NULL)
		return true;
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									   MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return equal_ct(auth, strlen(auth), s->token, strlen(s->token));
}

/*
 * With server.tls_ca: whether the client presented a certificate that the
 * CA signed (and that is valid now).
 */
static bool
client_cert_ok(const http_server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	unsigned int status = 0;

	if (s->tls_ca == NULL)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return false;
	if (gnutls_certificate_verify_peers2((gnutls_session_t) ci->tls_session, &status) != 0)
		return false;			/* no certificate, or it cannot be read */
	return status == 0;
}

/*
 * Check who asks (client certificate, then token): NULL when they may, or
 * the status to refuse them with (*status) and why.
 */
static const char *
check_access(const http_server *s, struct MHD_Connection *conn,
			 unsigned int *status)
{
	char		peer[64];

	if (!client_cert_ok(s, conn))
	{
		peer_address(conn, peer, sizeof(peer));
		s->ctx->host->log(s->ctx, TP_LOG_WARNING,
						  "refused a request from %s: no valid client certificate",
						  peer);
		*status = MHD_HTTP_FORBIDDEN;
		return "a client certificate signed by the server's CA (server.tls_ca) is required";
	}
	if (!authorized(s, conn))
	{
		peer_address(conn, peer, sizeof(peer));
		s->ctx->host->log(s->ctx, TP_LOG_WARNING,
						  "refused a request from %s: missing or wrong bearer token",
						  peer);
		*status = MHD_HTTP_UNAUTHORIZED;
		return "missing or wrong bearer token";
	}
	return NULL;
}

/* Whether the header value names media type (parameters ignored). */
static bool
is_media_type(const char *value, const char *type)
{
	size_t		len = strlen(type);

	if (value == NULL)
		return false;
	while (*value == ' ')
		value++;
	if (strncasecmp(value, type, len) != 0)
		return false;
	value += len;
	while (*value == ' ')
		value++;
	return *value == '\0' || *value == ';';
}

/* A decoder from the pool, or a new one; NULL when out of memory. */
static http_decoder *
pool_take(http_server *s)
{
	http_decoder *d = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->pool_n > 0)
		d = s->pool[--s->pool_n];
	pthread_mutex_unlock(&s->pool_lock);
	return d != NULL ? d : http_decoder_new();
}

/* Give a decoder back to the pool, or free it (NULL is fine). */
static void
pool_put(http_server *s, http_decoder *d)
{
	if (d == NULL)
		return;
	if (http_decoder_capacity(d) <= POOL_MAX_BYTES)
	{
		pthread_mutex_lock(&s->pool_lock);
		if (s->pool_n < POOL_MAX)
		{
			s->pool[s->pool_n++] = d;
			d = NULL;
		}
		pthread_mutex_unlock(&s->pool_lock);
	}
	http_decoder_free(d);
}

/*
 * First look at a POST /v1/batches: access, headers and announced size.
 * Returns a new request to read the body into, or NULL with an answer
 * queued (*ret).
 */
static request *
start_batch(http_server *s, struct MHD_Connection *conn, enum MHD_Result *ret)
{
	const char *type;
	const char *encoding;
	const char *length;
	const char *why;
	unsigned int status;
	unsigned long long announced;
	char	   *end;
	http_coding coding = HTTP_CODING_IDENTITY;
	request    *req;

	why = check_access(s, conn, &status);
	if (why != NULL)
	{
		*ret = respond_error(conn, status, why,
							 status == MHD_HTTP_UNAUTHORIZED ?
							 MHD_HTTP_HEADER_WWW_AUTHENTICATE : NULL,
							 "Bearer realm=\"teleport\"");
		return NULL;
	}
	type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									   MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!is_media_type(type, HTTP_BATCH_MEDIA_TYPE))
	{
		*ret = respond_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
							 "Content-Type must be " HTTP_BATCH_MEDIA_TYPE,
							 NULL, NULL);
		return NULL;
	}
	encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
										   MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (encoding != NULL && is_media_type(encoding, "gzip"))
		coding = HTTP_CODING_GZIP;
	else if (encoding != NULL && is_media_type(encoding, "zstd"))
		coding = HTTP_CODING_ZSTD;
	else if (encoding != NULL && !is_media_type(encoding, "identity"))
	{
		*ret = respond_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
							 "Content-Encoding must be zstd, gzip or identity",
							 NULL, NULL);
		return NULL;
	}
	length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
										 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length == NULL)
	{
		*ret = respond_error(conn, MHD_HTTP_LENGTH_REQUIRED,
							 "a batch must be sent with a Content-Length",
							 NULL, NULL);
		return NULL;
	}
	errno = 0;
	announced = strtoull(length, &end, 10);
	if (errno != 0 || end == length || *end != '\0' ||
		announced > (unsigned long long) s->max_body)
	{
		char		msg[256];

		snprintf(msg, sizeof(msg),
				 "the body of %s bytes exceeds the server's max_body_size of %" PRId64 " bytes",
				 length, s->max_body);
		s->ctx->host->log(s->ctx, TP_LOG_WARNING, "refused a batch: %s", msg);
		*ret = respond_error(conn, HTTP_TOO_LARGE, msg, NULL, NULL);
		return NULL;
	}
	req = calloc(1, sizeof(request));
	if (req != NULL)
	{
		req->server = s;
		req->coding = coding;
		req->dec = pool_take(s);
	}
	if (req == NULL || req->dec == NULL ||
		!http_decoder_start(req->dec, coding, (size_t) s->max_body,
							(size_t) announced))
	{
		if (req != NULL)
		{
			http_decoder_free(req->dec);
			free(req);
		}
		s->ctx->host->log(s->ctx, TP_LOG_ERROR, "out of memory");
		*ret = respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
							 "the server is out of memory",
							 MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_SECONDS);
		return NULL;
	}
	return req;
}

/* Take the next piece of a batch's body. */
static void
take_body(http_server *s, request *req, const char *data, size_t len)
{
	if (req->fail_status != 0)
		return;					/* refused already; drain the rest */
	switch (http_decoder_feed(req->dec, data, len))
	{
		case HTTP_DECODE_OK:
			return;
		case HTTP_DECODE_TOO_BIG:
			req->fail_status = HTTP_TOO_LARGE;
			snprintf(req->fail_reason, sizeof(req->fail_reason),
					 req->coding == HTTP_CODING_IDENTITY ?
					 "the body exceeds the server's max_body_size of %" PRId64 " bytes" :
					 "the inflated body exceeds the server's max_body_size of %" PRId64 " bytes",
					 s->max_body);
			return;
		case HTTP_DECODE_NO_MEMORY:
			req->fail_status = MHD_HTTP_SERVICE_UNAVAILABLE;
			snprintf(req->fail_reason, sizeof(req->fail_reason),
					 "the server is out of memory");
			return;
		case HTTP_DECODE_BAD:
			req->fail_status = MHD_HTTP_BAD_REQUEST;
			if (req->coding == HTTP_CODING_ZSTD && http_decoder_reason(req->dec)[0] != '\0')
				snprintf(req->fail_reason, sizeof(req->fail_reason),
						 "the body is not valid zstd data: %s",
						 http_decoder_reason(req->dec));
			else
				snprintf(req->fail_reason, sizeof(req->fail_reason),
						 "the body is not valid %s data%s",
						 http_coding_name(req->coding),
						 req->coding == HTTP_CODING_ZSTD ? " (one frame, nothing after it)" : "");
			return;
	}
}

/* The whole body is in: parse it, deliver it, answer. */
static enum MHD_Result
finish_batch(http_server *s, struct MHD_Connection *conn, request *req)
{
	tp_plugin_ctx *ctx = s->ctx;
	const char *wire = NULL;
	size_t		wire_len = 0;
	char		reason[256];
	char		peer[64];
	char		json[700];
	tp_batch   *batch = NULL;
	tp_delivery out;
	tp_result	r;

	if (req->fail_status == 0 &&
		!http_decoder_finish(req->dec, &wire, &wire_len))
	{
		req->fail_status = MHD_HTTP_BAD_REQUEST;
		snprintf(req->fail_reason, sizeof(req->fail_reason),
				 "the %s data is truncated or followed by other bytes",
				 http_coding_name(req->coding));
	}
	if (req->fail_status != 0)
	{
		peer_address(conn, peer, sizeof(peer));
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "refused a batch from %s: %s", peer, req->fail_reason);
		return respond_error(conn, req->fail_status, req->fail_reason,
							 req->fail_status == MHD_HTTP_SERVICE_UNAVAILABLE ?
							 MHD_HTTP_HEADER_RETRY_AFTER : NULL,
							 RETRY_AFTER_SECONDS);
	}
	/* a host of ABI 1.2 parses it in place: the decoder's buffer, NUL-ended */
	if ((TP_HAS_FIELD(ctx->host, tp_host_api, batch_parse_borrowed) &&
		 ctx->host->batch_parse_borrowed != NULL ?
		 ctx->host->batch_parse_borrowed(ctx, wire, wire_len, &batch, reason,
										 sizeof(reason)) :
		 ctx->host->batch_parse(ctx, wire, wire_len, &batch, reason,
								sizeof(reason))) != TP_OK)
	{
		peer_address(conn, peer, sizeof(peer));
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "refused a malformed batch from %s: %s", peer, reason);
		return respond_error(conn, MHD_HTTP_BAD_REQUEST, reason, NULL, NULL);
	}
	/* the decoder (whose buffer the batch may point into) goes back to the
	 * pool when the request is completed, after the batch is freed */

	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	r = ctx->host->deliver(ctx, batch, &out);
	out.reason[sizeof(out.reason) - 1] = '\0';
	if (out.status == 0)		/* a deliver that did not say: go by r */
		out.status = r == TP_OK ? TP_DELIVERY_STORED :
			r == TP_RETRY ? TP_DELIVERY_UNAVAILABLE : TP_DELIVERY_INVALID;
	snprintf(json, sizeof(json), "{\"status\":\"%s\",\"seq\":%" PRIu64 ",\"expected_seq\":%" PRIu64 "}",
			 out.status == TP_DELIVERY_STORED ? "stored" : "duplicate",
			 batch->seq, out.expected_seq);
	if (out.status == TP_DELIVERY_STORED || out.status == TP_DELIVERY_DUPLICATE)
	{
		ctx->host->log(ctx, TP_LOG_DEBUG, "%s batch %" PRIu64 " from \"%s\"",
					   out.status == TP_DELIVERY_STORED ? "stored" : "already had",
					   batch->seq, batch->source);
		ctx->host->batch_free(batch);
		return respond(conn, MHD_HTTP_OK, json, NULL, NULL);
	}
	if (out.reason[0] == '\0')
		snprintf(out.reason, sizeof(out.reason), "refused");
	peer_address(conn, peer, sizeof(peer));
	ctx->host->log(ctx, out.status == TP_DELIVERY_UNAVAILABLE ?
				   TP_LOG_WARNING : TP_LOG_ERROR,
				   "refused batch %" PRIu64 " of \"%s\" from %s: %s",
				   batch->seq, batch->source, peer, out.reason);
	ctx->host->batch_free(batch);

	snprintf(json, sizeof(json), "{\"error\":\"");
	http_json_escape(json, sizeof(json) - 80, out.reason);
	switch (out.status)
	{
		case TP_DELIVERY_GAP:
		case TP_DELIVERY_CONFLICT:
			snprintf(json + strlen(json), sizeof(json) - strlen(json),
					 "\",\"status\":\"%s\",\"expected_seq\":%" PRIu64 "}",
					 out.status == TP_DELIVERY_GAP ? "gap" : "conflict",
					 out.expected_seq);
			return respond(conn, MHD_HTTP_CONFLICT, json, NULL, NULL);
		case TP_DELIVERY_UNAVAILABLE:
			strcat(json, "\",\"status\":\"unavailable\"}");
			return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, json,
						   MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_SECONDS);
		default:
			strcat(json, "\",\"status\":\"invalid\"}");
			return respond(conn, HTTP_UNPROCESSABLE, json, NULL, NULL);
	}
}

/* GET /v1/status: the instance's status from the host. */
static enum MHD_Result
answer_status(http_server *s, struct MHD_Connection *conn)
{
	const tp_host_api *host = s->ctx->host;
	char	   *json = NULL;
	enum MHD_Result ret;

	/* a host older than the status service has none to offer */
	if (TP_HAS_FIELD(host, tp_host_api, status_json) && host->status_json != NULL)
		json = host->status_json(s->ctx);
	if (json == NULL)
		return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
							 "the instance's status is unavailable now",
							 MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER_SECONDS);
	ret = respond(conn, MHD_HTTP_OK, json, NULL, NULL);
	s->ctx->host->free(json);
	return ret;
}

/* The route of url, the path (without query string) libmicrohttpd gives. */
static route
route_of(const char *url)
{
	if (strcmp(url, HTTP_PATH_BATCHES) == 0)
		return ROUTE_BATCHES;
	if (strcmp(url, HTTP_PATH_HEALTH) == 0)
		return ROUTE_HEALTH;
	if (strcmp(url, HTTP_PATH_STATUS) == 0)
		return ROUTE_STATUS;
	return ROUTE_NONE;
}

/* libmicrohttpd's access handler: called per request, then per body piece. */
static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version,
			   const char *upload_data, size_t *upload_data_size,
			   void **con_cls)
{
	http_server *s = cls;
	request    *req = *con_cls;
	enum MHD_Result ret = MHD_NO;
	unsigned int status;
	const char *why;

	(void) version;
	if (req != NULL)
	{
		if (*upload_data_size > 0)
		{
			take_body(s, req, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		return finish_batch(s, conn, req);
	}

	/* the first call: the headers are in, the body (if any) is not */
	switch (route_of(url))
	{
		case ROUTE_BATCHES:
			if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
				return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
									 "use POST on " HTTP_PATH_BATCHES,
									 MHD_HTTP_HEADER_ALLOW, "POST");
			req = start_batch(s, conn, &ret);
			if (req == NULL)
				return ret;
			*con_cls = req;
			return MHD_YES;
		case ROUTE_HEALTH:
			if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
				return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
									 "use GET on " HTTP_PATH_HEALTH,
									 MHD_HTTP_HEADER_ALLOW, "GET");
			return respond(conn, MHD_HTTP_OK, "{\"status\":\"ok\"}", NULL, NULL);
		case ROUTE_STATUS:
			if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
				return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
									 "use GET on " HTTP_PATH_STATUS,
									 MHD_HTTP_HEADER_ALLOW, "GET");
			why = check_access(s, conn, &status);
			if (why != NULL)
				return respond_error(conn, status, why,
									 status == MHD_HTTP_UNAUTHORIZED ?
									 MHD_HTTP_HEADER_WWW_AUTHENTICATE : NULL,
									 "Bearer realm=\"teleport\"");
			return answer_status(s, conn);
		case ROUTE_NONE:
			break;
	}
	return respond_error(conn, MHD_HTTP_NOT_FOUND, "no such resource", NULL, NULL);
}

/* libmicrohttpd's completion callback: free the request's state. */
static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode code)
{
	request    *req = *con_cls;

	(void) cls;
	(void) conn;
	(void) code;
	if (req == NULL)
		return;
	pool_put(req->server, req->dec);
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd's error log, into teleport's. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	http_server *s = cls;
	char		line[512];
	size_t		len;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	s->ctx->host->log(s->ctx, TP_LOG_WARNING, "libmicrohttpd: %s", line);
}

/* Read a PEM file of the server section into *out; false after logging. */
static bool
read_pem(tp_plugin_ctx *ctx, const char *key, char **out)
{
	const char *path = http_config(ctx, "server", key);

	*out = NULL;
	if (path == NULL)
		return true;
	*out = http_read_file(ctx, path, NULL);
	return *out != NULL;
}

/* See http.h. */
http_server *
http_server_new(tp_plugin_ctx *ctx)
{
	http_server *s = calloc(1, sizeof(http_server));
	const char *host = http_config(ctx, "server", "hostname");
	const char *port = http_config(ctx, "server", "port");
	const char *max_body = http_config(ctx, "server", "max_body_size");
	int64_t		threads;
	int64_t		idle;
	char	   *end;
	long long	v;

	if (s == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return NULL;
	}
	s->ctx = ctx;
	pthread_mutex_init(&s->pool_lock, NULL);
	if (host == NULL || port == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "the http transport needs server.hostname and server.port");
		goto fail;
	}
	errno = 0;
	v = strtoll(port, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "server.port must be an integer from 1 to 65535, not \"%s\"",
					   port);
		goto fail;
	}
	s->port = (unsigned int) v;
	s->max_body = HTTP_DEFAULT_MAX_BODY;
	if (max_body != NULL)
	{
		errno = 0;
		v = strtoll(max_body, &end, 10);
		if (errno != 0 || *end != '\0' || v < 1)
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "server.max_body_size must be a positive integer, not \"%s\"",
						   max_body);
			goto fail;
		}
		s->max_body = v;
	}
	if (!http_option_int(ctx, "threads", 1, 256, &threads) ||
		!http_option_int(ctx, "idle_timeout_s", 1, 86400, &idle))
		goto fail;
	s->threads = (unsigned int) threads;
	s->idle_timeout = (unsigned int) idle;
	if ((s->hostname = strdup(host)) == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		goto fail;
	}
	if (!http_read_token(ctx, "server", &s->token) ||
		!read_pem(ctx, "tls_cert", &s->tls_cert) ||
		!read_pem(ctx, "tls_key", &s->tls_key) ||
		!read_pem(ctx, "tls_ca", &s->tls_ca))
		goto fail;
	if ((s->tls_cert == NULL) != (s->tls_key == NULL))
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "server.tls_cert and server.tls_key must be given together");
		goto fail;
	}
	if (s->tls_ca != NULL && s->tls_cert == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "server.tls_ca needs server.tls_cert and server.tls_key: client certificates are checked only over TLS");
		goto fail;
	}
	return s;

fail:
	http_server_free(s);
	return NULL;
}

/* See http.h. */
tp_result
http_server_start(tp_plugin_ctx *ctx, http_server *s)
{
	struct addrinfo hints;
	struct addrinfo *ai = NULL;
	char		service[16];
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	int			rc;

	if (s->daemon != NULL)
		return TP_OK;
	if (s->tls_cert != NULL)
	{
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "server.tls_cert is set but this libmicrohttpd was built without TLS");
			return TP_ERROR;
		}
		flags |= MHD_USE_TLS;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", s->port);
	rc = getaddrinfo(s->hostname, service, &hints, &ai);
	if (rc != 0 || ai == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "could not resolve server.hostname \"%s\": %s",
					   s->hostname, gai_strerror(rc));
		if (ai != NULL)
			freeaddrinfo(ai);
		return TP_ERROR;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	s->daemon = MHD_start_daemon(flags, (uint16_t) s->port, NULL, NULL,
								 handle_request, s,
								 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
								 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
								 MHD_OPTION_CONNECTION_LIMIT, s->threads,
								 MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout,
								 MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
								 s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
								 s->tls_cert,
								 MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
								 s->tls_ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END,
								 s->tls_ca,
								 MHD_OPTION_END);
	freeaddrinfo(ai);
	if (s->daemon == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "could not listen on %s port %u (server.hostname, server.port): the address may be in use, or the TLS files invalid",
					   s->hostname, s->port);
		return TP_ERROR;
	}
	ctx->host->log(ctx, TP_LOG_INFO,
				   "listening on %s://%s:%u, at most %u connections at once%s%s",
				   s->tls_cert ? "https" : "http", s->hostname, s->port,
				   s->threads, s->token ? ", bearer token required" : "",
				   s->tls_ca ? ", client certificates required" : "");
	return TP_OK;
}

/* See http.h. */
void
http_server_stop(http_server *s)
{
	if (s == NULL || s->daemon == NULL)
		return;
	MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
	s->ctx->host->log(s->ctx, TP_LOG_INFO, "stopped listening on %s port %u",
					  s->hostname, s->port);
}

/* Overwrite and free a secret string. */
static void
free_secret(char *secret)
{
	if (secret == NULL)
		return;
	memset(secret, 0, strlen(secret));
	free(secret);
}

/* See http.h. */
void
http_server_free(http_server *s)
{
	if (s == NULL)
		return;
	http_server_stop(s);
	free(s->hostname);
	free_secret(s->token);
	free(s->tls_cert);
	free_secret(s->tls_key);
	free(s->tls_ca);
	for (int i = 0; i < s->pool_n; i++)
		http_decoder_free(s->pool[i]);
	pthread_mutex_destroy(&s->pool_lock);
	free(s);
}
