/*
 * http_client.c
 *     The http transport's sending half: POST each batch to the target's
 *     server with libcurl and map the answer to TP_OK, TP_RETRY or TP_ERROR.
 *
 * One easy handle per instance (one per target), kept for the instance's
 * life so that the connection (and its TLS session) is reused between
 * batches. send never sleeps: the core's transmitter backs off (with
 * jitter) after TP_RETRY and TP_ERROR and sends the same batch again.
 *
 * A transient failure (no connection, HTTP 5xx) is logged as a warning
 * the first time and at most every REPEAT_LOG_MS while it repeats (debug
 * in between): the transmitter retries a target that is down several times
 * a second, and logs the retries itself.
 *
 * A server that answered, but busy (HTTP 408, 429, 5xx), is not sent the
 * batch again before the time its Retry-After asked (at most
 * MAX_RETRY_AFTER_MS), or BUSY_PAUSE_MS when it named none: send returns
 * TP_RETRY at once meanwhile, so that the transmitter's quick retries (for
 * a server that is down) do not post the whole body several times a second
 * to one that is up and said when to come back.
 *
 * The bearer token travels only in the Authorization header; it is never
 * logged, and libcurl's verbose output stays off.
 *
 * Compression (a body of compress_min_bytes or more): with option
 * compression "zstd" (the default) a body goes zstd'd once the server's
 * last answer listed zstd in its Accept-Encoding (RFC 7694; a teleport
 * server says "zstd, gzip" in every answer), else gzip'd: the first body
 * to a server goes gzip'd, and a server older than zstd never sees it.
 * When a zstd'd body is refused with 415 (a server replaced by an older
 * one) the client goes back to gzip and the batch is sent again. With
 * compression "gzip" every compressed body is gzip'd. The compressor and
 * its output buffer are kept from batch to batch.
 */
#include "tp_autoconf.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <teleport/teleport.h>

#include "http.h"

/* The most of an answer's body that is kept (the rest is dropped). */
#define MAX_ANSWER 65536

/* How often a transient failure that repeats is logged as a warning. */
#define REPEAT_LOG_MS 30000

/* The pause after a busy answer without Retry-After, and the most one asks. */
#define BUSY_PAUSE_MS 1000
#define MAX_RETRY_AFTER_MS 60000

struct http_client
{
	CURL	   *curl;
	char	   *url;			/* http(s)://host:port/v1/batches */
	struct curl_slist *headers[3];	/* for a body of each http_coding */
	int64_t		compress_min;	/* compress bodies of this size and more; 0 never */
	int			compress_level;
	bool		zstd_wanted;	/* option compression is zstd */
	bool		peer_zstd;		/* the server's last answer accepts zstd */
	bool		answer_zstd;	/* the answer being read accepts zstd */
	http_encoder *encoder;
	char		errbuf[CURL_ERROR_SIZE];

	/* the body being sent: up to two segments, read in turn */
	const char *seg[2];
	size_t		seg_len[2];
	size_t		seg_pos;		/* offset into the concatenation */

	/* the answer */
	char		answer[MAX_ANSWER + 1];
	size_t		answer_len;

	uint64_t	batches;		/* batches acknowledged */
	uint64_t	compressed;		/* of them, sent compressed */

	/* the last transient failure: a CURLcode, or -(HTTP status); 0 none */
	long		failure;
	long long	failure_logged_ms;	/* when it was logged as a warning */
	long long	busy_until_ms;	/* a busy server's pause ends; 0 none */
};

/* CLOCK_MONOTONIC in milliseconds. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The level to log a transient failure of kind (a CURLcode, or -(HTTP
 * status)) at: WARNING unless the same kind was logged as a warning less
 * than REPEAT_LOG_MS ago, DEBUG then.
 */
static tp_log_level
transient_level(http_client *c, long kind)
{
	long long	now = now_ms();

	if (kind == c->failure && now - c->failure_logged_ms < REPEAT_LOG_MS)
		return TP_LOG_DEBUG;
	c->failure = kind;
	c->failure_logged_ms = now;
	return TP_LOG_WARNING;
}

/* libcurl's read callback: the next bytes of the body's two segments. */
static size_t
read_body(char *buf, size_t size, size_t nitems, void *arg)
{
	http_client *c = arg;
	size_t		want = size * nitems;
	size_t		done = 0;

	while (done < want)
	{
		size_t		pos = c->seg_pos;
		int			i = pos < c->seg_len[0] ? 0 : 1;
		size_t		off = i == 0 ? pos : pos - c->seg_len[0];
		size_t		left;
		size_t		n;

		if (i == 1 && off >= c->seg_len[1])
			break;
		left = c->seg_len[i] - off;
		n = want - done < left ? want - done : left;
		memcpy(buf + done, c->seg[i] + off, n);
		done += n;
		c->seg_pos += n;
	}
	return done;
}

/* libcurl's seek callback, for a body that must be sent again. */
static int
seek_body(void *arg, curl_off_t offset, int origin)
{
	http_client *c = arg;

	if (origin != SEEK_SET || offset < 0 ||
		(size_t) offset > c->seg_len[0] + c->seg_len[1])
		return CURL_SEEKFUNC_CANTSEEK;
	c->seg_pos = (size_t) offset;
	return CURL_SEEKFUNC_OK;
}

/* libcurl's write callback: keep the first MAX_ANSWER bytes of the answer. */
static size_t
write_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	http_client *c = arg;
	size_t		n = size * nmemb;
	size_t		keep = MAX_ANSWER - c->answer_len;

	if (keep > n)
		keep = n;
	memcpy(c->answer + c->answer_len, data, keep);
	c->answer_len += keep;
	c->answer[c->answer_len] = '\0';
	return n;
}

/*
 * libcurl's header callback: note whether the answer's Accept-Encoding
 * lists zstd (a token of the comma-separated list, any case, with or
 * without a ;q= weight other than 0).
 */
static size_t
read_header(char *data, size_t size, size_t nitems, void *arg)
{
	http_client *c = arg;
	size_t		n = size * nitems;
	static const char name[] = "accept-encoding:";
	char		line[256];
	char	   *save = NULL;

	if (n < sizeof(name) - 1 || n >= sizeof(line) ||
		strncasecmp(data, name, sizeof(name) - 1) != 0)
		return n;
	memcpy(line, data + sizeof(name) - 1, n - (sizeof(name) - 1));
	line[n - (sizeof(name) - 1)] = '\0';
	for (char *tok = strtok_r(line, ",", &save); tok != NULL;
		 tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;
		char	   *q;
		char	   *params;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		q = strchr(tok, ';');
		params = q != NULL ? q + 1 : NULL;
		end = q != NULL ? q : tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t' ||
							 end[-1] == '\r' || end[-1] == '\n'))
			end--;
		*end = '\0';			/* the coding's name alone; params lie past it */
		if (strcasecmp(tok, "zstd") != 0)
			continue;
		if (params != NULL)
		{
			q = strstr(params, "q=");
			if (q != NULL && strtod(q + 2, NULL) <= 0)
				continue;
		}
		c->answer_zstd = true;
	}
	return n;
}

/*
 * Append "name: value" to *list; false when out of memory. The value is
 * not logged (it may be the token).
 */
static bool
add_header(struct curl_slist **list, const char *name, const char *value)
{
	size_t		len = strlen(name) + strlen(value) + 3;
	char	   *line = malloc(len);
	struct curl_slist *l;

	if (line == NULL)
		return false;
	snprintf(line, len, "%s: %s", name, value);
	l = curl_slist_append(*list, line);
	/* wipe it: it may hold the token */
	memset(line, 0, len);
	free(line);
	if (l == NULL)
		return false;
	*list = l;
	return true;
}

/*
 * Build the header lists, one for a body of each http_coding. False when
 * out of memory.
 */
static bool
build_headers(http_client *c, const char *token)
{
	for (int i = 0; i < 3; i++)
	{
		struct curl_slist **lists = c->headers;

		if (!add_header(&lists[i], "Content-Type", HTTP_BATCH_MEDIA_TYPE) ||
			!add_header(&lists[i], "Accept", "application/json"))
			return false;
		if (i != HTTP_CODING_IDENTITY &&
			!add_header(&lists[i], "Content-Encoding", http_coding_name((http_coding) i)))
			return false;
		if (token != NULL)
		{
			size_t		len = strlen(token) + 8;
			char	   *bearer = malloc(len);
			bool		ok;

			if (bearer == NULL)
				return false;
			snprintf(bearer, len, "Bearer %s", token);
			ok = add_header(&c->headers[i], "Authorization", bearer);
			memset(bearer, 0, len);
			free(bearer);
			if (!ok)
				return false;
		}
	}
	return true;
}

/* The URL of the endpoint's batches resource (free), or NULL. */
static char *
make_url(const char *host, const char *port, bool tls)
{
	bool		v6 = strchr(host, ':') != NULL && host[0] != '[';
	size_t		len = strlen(host) + strlen(port) + sizeof(HTTP_PATH_BATCHES) + 16;
	char	   *url = malloc(len);

	if (url == NULL)
		return NULL;
	snprintf(url, len, "%s://%s%s%s:%s%s", tls ? "https" : "http",
			 v6 ? "[" : "", host, v6 ? "]" : "", port, HTTP_PATH_BATCHES);
	return url;
}

/* Set one curl option, logging a failure; false when it failed. */
#define SETOPT(c, opt, val) \
	(curl_easy_setopt((c), (opt), (val)) == CURLE_OK || \
	 (ctx->host->log(ctx, TP_LOG_ERROR, "could not set libcurl option %s", #opt), false))

/* See http.h. */
http_client *
http_client_new(tp_plugin_ctx *ctx)
{
	char		prefix[300];
	const char *host;
	const char *port;
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	bool		tls;
	char	   *token = NULL;
	int64_t		connect_timeout;
	int64_t		timeout;
	int64_t		level;
	const char *compression;
	http_client *c;
	char		agent[64];

	if (ctx->target == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "the sending half has no target");
		return NULL;
	}
	snprintf(prefix, sizeof(prefix), "targets.%s.endpoint", ctx->target);
	host = http_config(ctx, prefix, "hostname");
	port = http_config(ctx, prefix, "port");
	if (host == NULL || port == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "target \"%s\" uses the http transport but has no %s.hostname and %s.port",
					   ctx->target, prefix, prefix);
		return NULL;
	}
	tls_ca = http_config(ctx, prefix, "tls_ca");
	tls_cert = http_config(ctx, prefix, "tls_cert");
	tls_key = http_config(ctx, prefix, "tls_key");
	tls = tls_ca != NULL || tls_cert != NULL || tls_key != NULL;

	if (!http_option_int(ctx, "connect_timeout_ms", 1, 3600000, &connect_timeout) ||
		!http_option_int(ctx, "timeout_ms", 1, 86400000, &timeout) ||
		!http_option_int(ctx, "compress_level", 1, 9, &level))
		return NULL;
	c = calloc(1, sizeof(http_client));
	if (c == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return NULL;
	}
	c->compress_level = (int) level;
	compression = ctx->host->option(ctx, "compression");
	if (compression == NULL || strcmp(compression, "zstd") == 0)
		c->zstd_wanted = true;
	else if (strcmp(compression, "gzip") != 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option compression must be zstd or gzip, not \"%s\"",
					   compression);
		free(c);
		return NULL;
	}
	if (!http_option_int(ctx, "compress_min_bytes", 0, INT64_MAX, &c->compress_min) ||
		!http_read_token(ctx, prefix, &token))
	{
		free(c);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "could not initialise libcurl");
		free(token);
		free(c);
		return NULL;
	}
	c->url = make_url(host, port, tls);
	c->curl = curl_easy_init();
	c->encoder = http_encoder_new();
	if (c->url == NULL || c->curl == NULL || c->encoder == NULL ||
		!build_headers(c, token))
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		goto fail;
	}
	if (token != NULL)
	{
		memset(token, 0, strlen(token));
		free(token);
		token = NULL;
	}
	snprintf(agent, sizeof(agent), "teleport/%s", ctx->host->teleport_version);
	if (!SETOPT(c->curl, CURLOPT_URL, c->url) ||
		!SETOPT(c->curl, CURLOPT_NOSIGNAL, 1L) ||
		!SETOPT(c->curl, CURLOPT_POST, 1L) ||
		!SETOPT(c->curl, CURLOPT_READFUNCTION, read_body) ||
		!SETOPT(c->curl, CURLOPT_READDATA, c) ||
		!SETOPT(c->curl, CURLOPT_SEEKFUNCTION, seek_body) ||
		!SETOPT(c->curl, CURLOPT_SEEKDATA, c) ||
		!SETOPT(c->curl, CURLOPT_WRITEFUNCTION, write_answer) ||
		!SETOPT(c->curl, CURLOPT_WRITEDATA, c) ||
		!SETOPT(c->curl, CURLOPT_HEADERFUNCTION, read_header) ||
		!SETOPT(c->curl, CURLOPT_HEADERDATA, c) ||
		!SETOPT(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) ||
		!SETOPT(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long) connect_timeout) ||
		!SETOPT(c->curl, CURLOPT_TIMEOUT_MS, (long) timeout) ||
		!SETOPT(c->curl, CURLOPT_TCP_KEEPALIVE, 1L) ||
		!SETOPT(c->curl, CURLOPT_FOLLOWLOCATION, 0L) ||
		!SETOPT(c->curl, CURLOPT_USERAGENT, agent) ||
#if LIBCURL_VERSION_NUM >= 0x075500
		!SETOPT(c->curl, CURLOPT_PROTOCOLS_STR, tls ? "https" : "http"))
#else
		!SETOPT(c->curl, CURLOPT_PROTOCOLS,
				tls ? (long) CURLPROTO_HTTPS : (long) CURLPROTO_HTTP))
#endif
		goto fail;
	if (tls)
	{
		if (!SETOPT(c->curl, CURLOPT_SSL_VERIFYPEER, 1L) ||
			!SETOPT(c->curl, CURLOPT_SSL_VERIFYHOST, 2L) ||
			(tls_ca != NULL && !SETOPT(c->curl, CURLOPT_CAINFO, tls_ca)) ||
			(tls_cert != NULL && !SETOPT(c->curl, CURLOPT_SSLCERT, tls_cert)) ||
			(tls_key != NULL && !SETOPT(c->curl, CURLOPT_SSLKEY, tls_key)))
			goto fail;
	}
	ctx->host->log(ctx, TP_LOG_DEBUG, "sending to %s", c->url);
	return c;

fail:
	if (token != NULL)
	{
		memset(token, 0, strlen(token));
		free(token);
	}
	http_client_free(c);
	return NULL;
}

/*
 * Scan the flat JSON object text for member key. A string value is copied
 * (unescaped, non-ASCII escapes as '?') into out; a number or literal is
 * copied as it stands. Returns false when there is no such member or text
 * is not a flat object. Only for our server's small answers.
 */
static bool
json_member(const char *text, const char *key, char *out, size_t out_len)
{
	const char *p = text;
	char		name[64];

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p++ != '{')
		return false;
	for (;;)
	{
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ',')
			p++;
		if (*p != '"')
			return false;
		/* the member's name, then its value, both with the same reader */
		for (int part = 0; part < 2; part++)
		{
			char	   *dst;
			size_t		used;

			if (part == 1)
			{
				while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
					p++;
				if (*p++ != ':')
					return false;
				while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
					p++;
			}
			dst = part == 0 ? name : out;
			used = 0;
			if (*p == '"')
			{
				p++;
				while (*p != '"')
				{
					char		ch = *p;

					if (ch == '\0')
						return false;
					if (ch == '\\')
					{
						p++;
						switch (*p)
						{
							case 'n':
								ch = '\n';
								break;
							case 't':
								ch = '\t';
								break;
							case 'r':
								ch = '\r';
								break;
							case 'b':
							case 'f':
								ch = ' ';
								break;
							case 'u':
								ch = '?';
								for (int k = 0; k < 4 && p[1] != '\0'; k++)
									p++;
								break;
							case '\0':
								return false;
							default:
								ch = *p;
						}
					}
					if (used + 1 < (part == 0 ? sizeof(name) : out_len))
						dst[used++] = ch;
					p++;
				}
				p++;
			}
			else
			{
				if (part == 0)
					return false;
				if (*p == '{' || *p == '[')
					return false;	/* not flat */
				while (*p != '\0' && *p != ',' && *p != '}' &&
					   *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
				{
					if (used + 1 < out_len)
						dst[used++] = *p;
					p++;
				}
			}
			dst[used] = '\0';
		}
		if (strcmp(name, key) == 0)
			return true;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '}' || *p == '\0')
			return false;
	}
}

/* The answer's "error" member, or a description of the answer. */
static const char *
answer_error(http_client *c, char *buf, size_t buf_len)
{
	if (json_member(c->answer, "error", buf, buf_len))
		return buf;
	if (c->answer_len == 0)
		snprintf(buf, buf_len, "(no body)");
	else
		snprintf(buf, buf_len, "(not teleport's JSON: %.80s)", c->answer);
	/* the answer may hold anything: keep the log line on one line */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return buf;
}

/* An unsigned member of the answer, or false. */
static bool
answer_uint(http_client *c, const char *key, uint64_t *value)
{
	char		buf[32];
	char	   *end;
	unsigned long long v;

	if (!json_member(c->answer, key, buf, sizeof(buf)) ||
		buf[0] < '0' || buf[0] > '9')
		return false;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*value = v;
	return true;
}

/* Map a libcurl failure (no HTTP answer) to a result, logging it. */
static tp_result
transfer_failed(tp_plugin_ctx *ctx, http_client *c, const tp_batch *batch,
				CURLcode rc)
{
	const char *detail = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc);

	switch (rc)
	{
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
		case CURLE_OUT_OF_MEMORY:
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "could not send batch %" PRIu64 " to %s: %s",
						   batch->seq, c->url, detail);
			return TP_ERROR;
		default:
			/* refused, unreachable, timed out, reset: it may mend */
			ctx->host->log(ctx, transient_level(c, (long) rc),
						   "could not send batch %" PRIu64 " to %s: %s",
						   batch->seq, c->url, detail);
			return TP_RETRY;
	}
}

/*
 * How long to leave a server that answered busy alone: its Retry-After (in
 * seconds or as a date; libcurl reads both), at most MAX_RETRY_AFTER_MS,
 * or BUSY_PAUSE_MS when it named none.
 */
static long long
busy_pause_ms(http_client *c)
{
#if LIBCURL_VERSION_NUM >= 0x074200
	curl_off_t	after = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK &&
		after > 0)
		return after >= MAX_RETRY_AFTER_MS / 1000 ? MAX_RETRY_AFTER_MS :
			(long long) after * 1000;
#else
	(void) c;
#endif
	return BUSY_PAUSE_MS;
}

/* Map an HTTP answer to a result, logging anything but success. */
static tp_result
answer_result(tp_plugin_ctx *ctx, http_client *c, const tp_batch *batch,
			  long status)
{
	char		err[512];
	char		what[32];
	uint64_t	expected;
	uint64_t	acked;

	if (status == 200)
	{
		if (answer_uint(c, "seq", &acked) && acked != batch->seq)
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "%s acknowledged batch %" PRIu64 " when sent batch %" PRIu64 ": is something between us rewriting requests?",
						   c->url, acked, batch->seq);
			return TP_ERROR;
		}
		return TP_OK;
	}
	if (status == 409 && json_member(c->answer, "status", what, sizeof(what)) &&
		strcmp(what, "gap") == 0 && answer_uint(c, "expected_seq", &expected))
	{
		if (expected < batch->seq)
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "target \"%s\" refused batch %" PRIu64 ": it expects batch %" PRIu64 " next, so it lost batches %" PRIu64 "-%" PRIu64 " that it had acknowledged (was its database restored from a backup?); they must be sent again: %s",
						   ctx->target, batch->seq, expected, expected,
						   batch->seq - 1, answer_error(c, err, sizeof(err)));
		else
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "target \"%s\" refused batch %" PRIu64 " as a gap but expects batch %" PRIu64 ": %s",
						   ctx->target, batch->seq, expected,
						   answer_error(c, err, sizeof(err)));
		return TP_ERROR;
	}
	if (status == 429 || status == 408 || (status >= 500 && status <= 599))
	{
		long long	pause = busy_pause_ms(c);

		c->busy_until_ms = now_ms() + pause;
		ctx->host->log(ctx, transient_level(c, -status),
					   "%s answered batch %" PRIu64 " with HTTP %ld, will retry in %lld ms: %s",
					   c->url, batch->seq, status, pause,
					   answer_error(c, err, sizeof(err)));
		return TP_RETRY;
	}
	ctx->host->log(ctx, TP_LOG_ERROR,
				   "%s refused batch %" PRIu64 " with HTTP %ld: %s",
				   c->url, batch->seq, status, answer_error(c, err, sizeof(err)));
	return TP_ERROR;
}

/* See http.h. */
tp_result
http_client_send(tp_plugin_ctx *ctx, http_client *c, const tp_batch *batch)
{
	char	   *header;
	const char *body = NULL;
	size_t		body_len = 0;
	size_t		header_len;
	size_t		total;
	http_coding coding = HTTP_CODING_IDENTITY;
	CURLcode	rc;
	long		status = 0;
	tp_result	result;

	/* a busy server's pause: the batch waits, nothing is posted */
	if (c->busy_until_ms != 0 && now_ms() < c->busy_until_ms)
		return TP_RETRY;
	c->busy_until_ms = 0;
	header = ctx->host->batch_header(ctx, batch);
	if (header == NULL)
		return TP_ERROR;
	header_len = strlen(header);
	total = header_len + batch->data_len;
	if (c->compress_min > 0 && (uint64_t) total >= (uint64_t) c->compress_min)
	{
		coding = c->zstd_wanted && c->peer_zstd ? HTTP_CODING_ZSTD : HTTP_CODING_GZIP;
		if (!http_encode(c->encoder, coding, c->compress_level, header, header_len,
						 batch->data, batch->data_len, &body, &body_len))
		{
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not compress batch %" PRIu64 " with %s; sending it uncompressed",
						   batch->seq, http_coding_name(coding));
			coding = HTTP_CODING_IDENTITY;
		}
	}
	if (coding != HTTP_CODING_IDENTITY)
	{
		c->seg[0] = body;
		c->seg_len[0] = body_len;
		c->seg[1] = NULL;
		c->seg_len[1] = 0;
	}
	else
	{
		c->seg[0] = header;
		c->seg_len[0] = header_len;
		c->seg[1] = batch->data;
		c->seg_len[1] = batch->data_len;
	}
	c->seg_pos = 0;
	c->answer_len = 0;
	c->answer[0] = '\0';
	c->answer_zstd = false;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers[coding]);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t) (c->seg_len[0] + c->seg_len[1]));

	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK)
		result = transfer_failed(ctx, c, batch, rc);
	else
	{
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		/* what this server accepts, as its latest answer says */
		if (c->zstd_wanted && c->answer_zstd != c->peer_zstd)
			ctx->host->log(ctx, TP_LOG_DEBUG, "%s %s zstd bodies", c->url,
						   c->answer_zstd ? "accepts" : "does not accept");
		c->peer_zstd = c->answer_zstd;
		if (status == 415 && coding == HTTP_CODING_ZSTD)
		{
			c->peer_zstd = false;
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "%s refused batch %" PRIu64 " sent zstd-compressed; sending gzip from now on",
						   c->url, batch->seq);
			result = TP_RETRY;
		}
		else
			result = answer_result(ctx, c, batch, status);
	}
	if (result == TP_OK)
	{
		c->failure = 0;
		c->batches++;
		if (coding != HTTP_CODING_IDENTITY)
		{
			c->compressed++;
			ctx->host->log(ctx, TP_LOG_DEBUG,
						   "batch %" PRIu64 " stored by target: %zu bytes sent %s-compressed as %zu (%" PRIu64 " of %" PRIu64 " batches compressed)",
						   batch->seq, total, http_coding_name(coding), body_len,
						   c->compressed, c->batches);
		}
		else
			ctx->host->log(ctx, TP_LOG_DEBUG,
						   "batch %" PRIu64 " stored by target: %zu bytes sent",
						   batch->seq, total);
	}
	c->seg[0] = c->seg[1] = NULL;
	ctx->host->free(header);
	return result;
}

/* See http.h. */
void
http_client_free(http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	for (int i = 0; i < 3; i++)
		curl_slist_free_all(c->headers[i]);
	http_encoder_free(c->encoder);
	free(c->url);
	free(c);
	curl_global_cleanup();
}
