/*
 * sentry.c
 *     Errors reported to Sentry (the seed's sentry_endpoint).
 *
 * tp_sentry_capture, the log sink, only copies the event into a bounded
 * queue under a mutex; it never does I/O and drops (and counts) what does
 * not fit. One sender thread pops the events one at a time and POSTs each,
 * as JSON, to the project's store endpoint through libcurl: one easy handle
 * reused (so the connection is kept alive), driven by a multi handle so that
 * tp_sentry_stop can interrupt a transfer at once with curl_multi_wakeup
 * instead of waiting for CURLOPT_TIMEOUT. An event is tried once: a failure
 * is counted, never retried, and a 429 answer makes the thread drop events
 * for the time the server asked (Retry-After).
 *
 * The sender thread never logs at error level: error lines go to the sink,
 * that is back to this queue, and a failing endpoint would feed itself. It
 * logs its failures as warnings, rate-limited to the first one and then one
 * a minute.
 *
 * libcurl: curl_global_init is called once per process, from the first
 * tp_sentry_start (pthread_once), and curl_global_cleanup never, since other
 * parts of the process (plugins) may use libcurl too and the process's exit
 * reclaims it all. curl_global_init is not thread-safe with respect to other
 * libcurl users in libcurl before 7.84: start the reporter before starting
 * threads that use libcurl.
 */
#include "tp_autoconf.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sentry.h"

/* Events waiting to be sent; more are dropped. */
#define SENTRY_QUEUE_LEN 100
/* Whole-transfer limit of one POST, connection included. */
#define SENTRY_TIMEOUT_MS 5000L
/* Failures are logged at most once per this many seconds. */
#define SENTRY_WARN_INTERVAL_S 60
/* Pause after a 429 answer that carries no Retry-After. */
#define SENTRY_DEFAULT_RETRY_AFTER_S 60
/* What is kept of a response body, for the warning. */
#define SENTRY_RESPONSE_KEEP 200

/* One captured log line, in one allocation; strings point inside it. */
typedef struct sentry_event
{
	tp_log_level level;
	struct timespec when;		/* CLOCK_REALTIME at capture */
	char	   *component;		/* NULL when the line had none */
	char	   *message;
} sentry_event;

/* The parts of a DSN that the reporter needs; all malloc'd. */
typedef struct sentry_dsn
{
	char	   *public_key;
	char	   *secret;			/* NULL when the DSN has none */
	char	   *store_url;		/* SCHEME://HOST[:PORT]/[PATH/]api/ID/store/ */
} sentry_dsn;

struct tp_sentry
{
	/* set at start, then read-only */
	char	   *store_url;
	char	   *release;
	char	   *server_name;
	struct curl_slist *headers;
	CURL	   *curl;
	CURLM	   *multi;
	int			urandom_fd;		/* -1 when /dev/urandom could not be opened */
	pthread_t	thread;

	/* protected by lock */
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* sender: an event was queued or stopping */
	pthread_cond_t idle;		/* stop: the queue drained */
	sentry_event *queue[SENTRY_QUEUE_LEN];
	int			head;
	int			count;
	bool		busy;			/* the sender holds an event */
	bool		stopping;
	unsigned long dropped;		/* never sent: queue full, paused, stopped */
	unsigned long failed;		/* sent, not accepted */
	unsigned long sent;			/* accepted by the server */

	/* set by stop, read by the sender during a transfer */
	atomic_bool abort_transfer;

	/* sender thread only */
	char		errbuf[CURL_ERROR_SIZE];
	char		response[SENTRY_RESPONSE_KEEP + 1];
	size_t		response_len;
	bool		warned;
	time_t		last_warn;		/* CLOCK_MONOTONIC seconds */
	unsigned long suppressed;
	time_t		paused_until;	/* CLOCK_MONOTONIC seconds, after a 429 */
	uint64_t	fallback_random;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

/* pthread_once body: initialize libcurl for the whole process. */
static void
sentry_curl_global_init(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Write a formatted reason into reason (if any); returns false for chaining. */
static bool TP_PRINTF(3, 4)
dsn_fail(char *reason, size_t reason_len, const char *fmt,...)
{
	if (reason != NULL && reason_len > 0)
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(reason, reason_len, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* A malloc'd copy of the len bytes at s, NUL-terminated; NULL when out of memory. */
static char *
dup_range(const char *s, size_t len)
{
	char	   *copy = malloc(len + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/* Free what out holds (not out itself). */
static void
dsn_free(sentry_dsn *out)
{
	free(out->public_key);
	free(out->secret);
	free(out->store_url);
	memset(out, 0, sizeof(*out));
}

/*
 * Parse dsn; see sentry.h for the form. On success fill out (when not
 * NULL; the caller frees it with dsn_free) and return true; otherwise write
 * the reason and return false, out left empty.
 */
static bool
dsn_parse(const char *dsn, sentry_dsn *out, char *reason, size_t reason_len)
{
	const char *sep;
	const char *scheme;
	size_t		scheme_len;
	const char *authority;
	const char *slash;
	const char *at;
	const char *key;
	size_t		key_len;
	const char *secret = NULL;
	size_t		secret_len = 0;
	const char *hostport;
	size_t		hostport_len;
	const char *host_end;
	const char *path;
	const char *project;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (dsn == NULL || *dsn == '\0')
		return dsn_fail(reason, reason_len, "the DSN is empty");
	for (const char *p = dsn; *p != '\0'; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c <= 0x20 || c == 0x7f)
			return dsn_fail(reason, reason_len,
							"the DSN contains a space or a control character");
		if (c == '?' || c == '#')
			return dsn_fail(reason, reason_len,
							"the DSN must not have a query or a fragment");
	}

	/* SCHEME:// */
	sep = strstr(dsn, "://");
	if (sep == NULL)
		return dsn_fail(reason, reason_len,
						"missing scheme, expected http:// or https://");
	scheme = dsn;
	scheme_len = (size_t) (sep - dsn);
	if (!((scheme_len == 4 && strncasecmp(scheme, "http", 4) == 0) ||
		  (scheme_len == 5 && strncasecmp(scheme, "https", 5) == 0)))
		return dsn_fail(reason, reason_len,
						"unsupported scheme \"%.*s\", expected http or https",
						(int) (scheme_len > 20 ? 20 : scheme_len), scheme);

	/* PUBLIC_KEY[:SECRET]@HOST[:PORT], up to the first slash */
	authority = sep + 3;
	slash = strchr(authority, '/');
	if (slash == NULL)
		slash = authority + strlen(authority);
	at = NULL;
	for (const char *p = authority; p < slash; p++)
	{
		if (*p == '@')
			at = p;
	}
	if (at == NULL)
		return dsn_fail(reason, reason_len,
						"missing public key, expected KEY@HOST after the scheme");
	key = authority;
	key_len = (size_t) (at - authority);
	{
		const char *colon = memchr(key, ':', key_len);

		if (colon != NULL)
		{
			secret = colon + 1;
			secret_len = (size_t) (at - secret);
			key_len = (size_t) (colon - key);
		}
	}
	if (key_len == 0)
		return dsn_fail(reason, reason_len, "the public key is empty");

	hostport = at + 1;
	hostport_len = (size_t) (slash - hostport);
	if (hostport_len == 0)
		return dsn_fail(reason, reason_len, "missing host");
	if (hostport[0] == '[')
	{
		const char *close = memchr(hostport, ']', hostport_len);

		if (close == NULL || close == hostport + 1)
			return dsn_fail(reason, reason_len, "invalid IPv6 host");
		host_end = close + 1;
	}
	else
	{
		host_end = memchr(hostport, ':', hostport_len);
		if (host_end == NULL)
			host_end = slash;
		if (host_end == hostport)
			return dsn_fail(reason, reason_len, "missing host");
		for (const char *p = hostport; p < host_end; p++)
		{
			if (*p == '[' || *p == ']' || *p == '@')
				return dsn_fail(reason, reason_len, "invalid host");
		}
	}
	if (host_end < slash)
	{
		const char *digits = host_end + 1;
		long		port = 0;

		if (*host_end != ':' || digits == slash || slash - digits > 5)
			return dsn_fail(reason, reason_len, "invalid port");
		for (const char *p = digits; p < slash; p++)
		{
			if (*p < '0' || *p > '9')
				return dsn_fail(reason, reason_len, "invalid port");
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return dsn_fail(reason, reason_len, "invalid port");
	}

	/* /[PATH/]PROJECT_ID */
	if (*slash != '/')
		return dsn_fail(reason, reason_len, "missing project id");
	path = slash + 1;
	project = strrchr(path, '/');
	project = project == NULL ? path : project + 1;
	if (*project == '\0')
		return dsn_fail(reason, reason_len, "missing project id");
	for (const char *p = path; p < project; p++)
	{
		if (*p == '/' && (p == path || p[-1] == '/'))
			return dsn_fail(reason, reason_len, "empty segment in the path");
	}

	if (out != NULL)
	{
		size_t		url_len;
		int			n;

		out->public_key = dup_range(key, key_len);
		if (secret != NULL && secret_len > 0)
			out->secret = dup_range(secret, secret_len);
		url_len = strlen(dsn) + sizeof("api//store/");
		out->store_url = malloc(url_len);
		if (out->public_key == NULL || out->store_url == NULL ||
			(secret != NULL && secret_len > 0 && out->secret == NULL))
		{
			dsn_free(out);
			return dsn_fail(reason, reason_len, "out of memory");
		}
		/* the scheme in lower case, the rest as written, key removed */
		n = snprintf(out->store_url, url_len, "%s://%.*s/%.*sapi/%s/store/",
					 scheme_len == 5 ? "https" : "http",
					 (int) hostport_len, hostport,
					 (int) (project - path), path, project);
		if (n < 0 || (size_t) n >= url_len)
		{
			dsn_free(out);
			return dsn_fail(reason, reason_len, "internal error building the URL");
		}
	}
	return true;
}

/* See sentry.h. */
bool
tp_sentry_dsn_valid(const char *dsn, char *reason, size_t reason_len)
{
	return dsn_parse(dsn, NULL, reason, reason_len);
}

/* Seconds of CLOCK_MONOTONIC. */
static time_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Log one sender failure as a warning (never an error: see the file's
 * header), at most once per SENTRY_WARN_INTERVAL_S; the lines skipped in
 * between are counted in the next one. Sender thread only.
 */
static void TP_PRINTF(2, 3)
sentry_warn(tp_sentry *s, const char *fmt,...)
{
	char		text[512];
	time_t		now = monotonic_seconds();

	if (s->warned && now - s->last_warn < SENTRY_WARN_INTERVAL_S)
	{
		s->suppressed++;
		return;
	}
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
	}
	if (s->suppressed > 0)
		tp_warning("sentry", "%s (%lu similar failures not logged)",
				   text, s->suppressed);
	else
		tp_warning("sentry", "%s", text);
	s->warned = true;
	s->last_warn = now;
	s->suppressed = 0;
}

/* Fill buf with len random bytes: /dev/urandom, else a xorshift fallback. */
static void
sentry_random(tp_sentry *s, unsigned char *buf, size_t len)
{
	size_t		got = 0;

	while (s->urandom_fd >= 0 && got < len)
	{
		ssize_t		n = read(s->urandom_fd, buf + got, len - got);

		if (n > 0)
			got += (size_t) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	for (; got < len; got++)
	{
		uint64_t	x = s->fallback_random;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		s->fallback_random = x;
		buf[got] = (unsigned char) (x >> 24);
	}
}

/* Write a random UUID (version 4) as 32 lower-case hex digits into id[33]. */
static void
sentry_event_id(tp_sentry *s, char id[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[16];

	sentry_random(s, bytes, sizeof(bytes));
	bytes[6] = (unsigned char) ((bytes[6] & 0x0f) | 0x40);
	bytes[8] = (unsigned char) ((bytes[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++)
	{
		id[2 * i] = hex[bytes[i] >> 4];
		id[2 * i + 1] = hex[bytes[i] & 0x0f];
	}
	id[32] = '\0';
}

/*
 * A JSON string for text, which need not be valid UTF-8 (log lines may quote
 * anything): when jansson refuses it, bytes above 0x7f become '?'. New
 * reference, or NULL when out of memory.
 */
static json_t *
json_text(const char *text)
{
	json_t	   *str = json_string(text);
	char	   *ascii;

	if (str != NULL)
		return str;
	ascii = strdup(text);
	if (ascii == NULL)
		return NULL;
	for (char *p = ascii; *p != '\0'; p++)
	{
		if ((unsigned char) *p > 0x7f)
			*p = '?';
	}
	str = json_string(ascii);
	free(ascii);
	return str;
}

/* Sentry's name for level. */
static const char *
sentry_level_name(tp_log_level level)
{
	switch (level)
	{
		case TP_LOG_ERROR:
			return "error";
		case TP_LOG_WARNING:
			return "warning";
		case TP_LOG_INFO:
			return "info";
		case TP_LOG_DEBUG:
			return "debug";
	}
	return "error";
}

/* The event's JSON body (free() it), or NULL when out of memory. */
static char *
sentry_event_body(tp_sentry *s, const sentry_event *ev)
{
	char		id[33];
	char		stamp[64];
	struct tm	tm;
	const char *component = ev->component != NULL ? ev->component : "teleport";
	json_t	   *event;
	json_t	   *tags;
	json_t	   *sdk;
	char	   *body = NULL;
	int			rc = 0;

	sentry_event_id(s, id);
	gmtime_r(&ev->when.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof(stamp) - strlen(stamp), ".%03dZ",
			 (int) (ev->when.tv_nsec / 1000000));

	event = json_object();
	tags = json_object();
	sdk = json_object();
	if (event == NULL || tags == NULL || sdk == NULL)
	{
		json_decref(event);
		json_decref(tags);
		json_decref(sdk);
		return NULL;
	}
	rc |= json_object_set_new(tags, "component", json_text(component));
	rc |= json_object_set_new(sdk, "name", json_string("teleport"));
	rc |= json_object_set_new(sdk, "version", json_string(PACKAGE_VERSION));
	rc |= json_object_set_new(event, "event_id", json_string(id));
	rc |= json_object_set_new(event, "timestamp", json_string(stamp));
	rc |= json_object_set_new(event, "level",
							  json_string(sentry_level_name(ev->level)));
	rc |= json_object_set_new(event, "logger", json_text(component));
	rc |= json_object_set_new(event, "message", json_text(ev->message));
	rc |= json_object_set_new(event, "platform", json_string("c"));
	rc |= json_object_set_new(event, "release", json_text(s->release));
	rc |= json_object_set_new(event, "server_name", json_text(s->server_name));
	rc |= json_object_set_new(event, "tags", tags);
	rc |= json_object_set_new(event, "sdk", sdk);
	if (rc == 0)
		body = json_dumps(event, JSON_COMPACT);
	json_decref(event);
	return body;
}

/* libcurl write callback: keep the start of the response, for the warning. */
static size_t
sentry_response_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	tp_sentry  *s = arg;
	size_t		len = size * nmemb;
	size_t		room = SENTRY_RESPONSE_KEEP - s->response_len;
	size_t		take = len < room ? len : room;

	memcpy(s->response + s->response_len, data, take);
	s->response_len += take;
	s->response[s->response_len] = '\0';
	return len;
}

/*
 * POST body once. Returns the transfer's result; *aborted tells whether
 * tp_sentry_stop cut it short. Sender thread only.
 */
static CURLcode
sentry_post(tp_sentry *s, const char *body, bool *aborted)
{
	CURLcode	result = CURLE_FAILED_INIT;
	CURLMcode	mc;
	bool		done = false;

	*aborted = false;
	s->errbuf[0] = '\0';
	s->response_len = 0;
	s->response[0] = '\0';
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t) strlen(body));
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body);
	mc = curl_multi_add_handle(s->multi, s->curl);
	if (mc != CURLM_OK)
	{
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", curl_multi_strerror(mc));
		return CURLE_FAILED_INIT;
	}
	while (!done)
	{
		int			running = 0;
		int			left;
		CURLMsg    *msg;

		mc = curl_multi_perform(s->multi, &running);
		if (mc != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->curl)
			{
				result = msg->data.result;
				done = true;
			}
		}
		if (done || running == 0)
			break;
		if (atomic_load(&s->abort_transfer))
		{
			*aborted = true;
			break;
		}
		/* returns early on socket activity, curl's timers or a wakeup */
		mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			break;
	}
	if (!done && mc != CURLM_OK && s->errbuf[0] == '\0')
		snprintf(s->errbuf, sizeof(s->errbuf), "%s", curl_multi_strerror(mc));
	curl_multi_remove_handle(s->multi, s->curl);
	return done ? result : CURLE_FAILED_INIT;
}

/*
 * Send one event: build, POST, judge the answer, log a failure. Returns
 * true when the server accepted it; *dropped tells that it was not even
 * tried (paused after a 429, out of memory, stop). Sender thread only.
 */
static bool
sentry_send(tp_sentry *s, const sentry_event *ev, bool *dropped)
{
	char	   *body;
	CURLcode	result;
	bool		aborted;
	long		status = 0;

	*dropped = false;
	if (s->paused_until != 0 && monotonic_seconds() < s->paused_until)
	{
		*dropped = true;
		return false;
	}
	s->paused_until = 0;

	body = sentry_event_body(s, ev);
	if (body == NULL)
	{
		*dropped = true;
		sentry_warn(s, "could not build a Sentry event: out of memory");
		return false;
	}
	result = sentry_post(s, body, &aborted);
	free(body);
	if (aborted)
	{
		*dropped = true;
		return false;
	}
	if (result != CURLE_OK)
	{
		sentry_warn(s, "could not send event to Sentry at \"%s\": %s",
					s->store_url,
					s->errbuf[0] != '\0' ? s->errbuf : curl_easy_strerror(result));
		return false;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return true;
	if (status == 429)
	{
		curl_off_t	retry_after = 0;

		if (curl_easy_getinfo(s->curl, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK ||
			retry_after <= 0)
			retry_after = SENTRY_DEFAULT_RETRY_AFTER_S;
		if (retry_after > 3600)
			retry_after = 3600;
		s->paused_until = monotonic_seconds() + (time_t) retry_after;
		sentry_warn(s, "Sentry at \"%s\" is rate limiting: events dropped for %ld s",
					s->store_url, (long) retry_after);
		return false;
	}
	sentry_warn(s, "Sentry at \"%s\" refused an event: HTTP status %ld%s%s",
				s->store_url, status, s->response_len > 0 ? ": " : "",
				s->response);
	return false;
}

/* The sender thread: pop and send events until stop says so. */
static void *
sentry_thread(void *arg)
{
	tp_sentry  *s = arg;

	for (;;)
	{
		sentry_event *ev;
		bool		ok;
		bool		dropped;

		pthread_mutex_lock(&s->lock);
		while (s->count == 0 && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->stopping)
		{
			pthread_mutex_unlock(&s->lock);
			break;
		}
		ev = s->queue[s->head];
		s->queue[s->head] = NULL;
		s->head = (s->head + 1) % SENTRY_QUEUE_LEN;
		s->count--;
		s->busy = true;
		pthread_mutex_unlock(&s->lock);

		ok = sentry_send(s, ev, &dropped);
		free(ev);

		pthread_mutex_lock(&s->lock);
		s->busy = false;
		if (ok)
			s->sent++;
		else if (dropped)
			s->dropped++;
		else
			s->failed++;
		if (s->count == 0)
			pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* Free s and what it holds; the thread must not be running. */
static void
sentry_free(tp_sentry *s)
{
	for (int i = 0; i < SENTRY_QUEUE_LEN; i++)
		free(s->queue[i]);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	if (s->urandom_fd >= 0)
		close(s->urandom_fd);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s->store_url);
	free(s->release);
	free(s->server_name);
	free(s);
}

/* Append one header line to *list; false when out of memory. */
static bool
sentry_add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *next = curl_slist_append(*list, line);

	if (next == NULL)
		return false;
	*list = next;
	return true;
}

/*
 * Set up the reporter's easy and multi handles and headers from dsn.
 * Returns false (nothing logged) when libcurl refuses.
 */
static bool
sentry_setup_curl(tp_sentry *s, const sentry_dsn *dsn)
{
	char		auth[1024];
	int			n;
	bool		ok = true;

	n = snprintf(auth, sizeof(auth),
				 "X-Sentry-Auth: Sentry sentry_version=7, "
				 "sentry_client=teleport/%s, sentry_key=%s%s%s",
				 PACKAGE_VERSION, dsn->public_key,
				 dsn->secret != NULL ? ", sentry_secret=" : "",
				 dsn->secret != NULL ? dsn->secret : "");
	if (n < 0 || (size_t) n >= sizeof(auth))
		return false;
	if (!sentry_add_header(&s->headers, "Content-Type: application/json") ||
		!sentry_add_header(&s->headers, auth) ||
		!sentry_add_header(&s->headers, "Expect:"))
		return false;

	s->curl = curl_easy_init();
	s->multi = curl_multi_init();
	if (s->curl == NULL || s->multi == NULL)
		return false;
	ok &= curl_easy_setopt(s->curl, CURLOPT_URL, s->store_url) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_POST, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_USERAGENT,
						   "teleport/" PACKAGE_VERSION) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, SENTRY_TIMEOUT_MS) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, sentry_response_cb) == CURLE_OK;
	ok &= curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	ok &= curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
	ok &= curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS,
						   (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	return ok;
}

/* See sentry.h. */
tp_sentry *
tp_sentry_start(const char *dsn, const char *release, const char *server_name)
{
	tp_sentry  *s;
	sentry_dsn	parsed;
	char		reason[256];
	char		hostname[256];
	pthread_condattr_t cattr;
	sigset_t	all;
	sigset_t	old;
	int			rc;

	if (!dsn_parse(dsn, &parsed, reason, sizeof(reason)))
	{
		/* the DSN itself is not logged: it holds the key */
		tp_error("sentry", "invalid Sentry DSN: %s", reason);
		return NULL;
	}
	pthread_once(&curl_once, sentry_curl_global_init);
	if (curl_init_result != CURLE_OK)
	{
		tp_error("sentry", "could not initialize libcurl: %s",
				 curl_easy_strerror(curl_init_result));
		dsn_free(&parsed);
		return NULL;
	}

	s = calloc(1, sizeof(*s));
	if (s == NULL)
	{
		tp_error("sentry", "out of memory");
		dsn_free(&parsed);
		return NULL;
	}
	s->urandom_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, &cattr);
	pthread_condattr_destroy(&cattr);
	atomic_init(&s->abort_transfer, false);

	if (server_name == NULL)
	{
		if (gethostname(hostname, sizeof(hostname)) != 0)
			snprintf(hostname, sizeof(hostname), "unknown");
		hostname[sizeof(hostname) - 1] = '\0';
		server_name = hostname;
	}
	s->store_url = parsed.store_url;
	parsed.store_url = NULL;
	s->release = strdup(release != NULL ? release : "teleport@" PACKAGE_VERSION);
	s->server_name = strdup(server_name);
	if (s->release == NULL || s->server_name == NULL)
	{
		tp_error("sentry", "out of memory");
		dsn_free(&parsed);
		sentry_free(s);
		return NULL;
	}
	s->urandom_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	{
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		s->fallback_random = ((uint64_t) now.tv_sec << 32) ^
			(uint64_t) now.tv_nsec ^ ((uint64_t) getpid() << 16) ^
			(uint64_t) (uintptr_t) s;
		if (s->fallback_random == 0)
			s->fallback_random = 0x9e3779b97f4a7c15ULL;
	}

	if (!sentry_setup_curl(s, &parsed))
	{
		tp_error("sentry", "could not set up libcurl for Sentry");
		dsn_free(&parsed);
		sentry_free(s);
		return NULL;
	}
	dsn_free(&parsed);

	/* the thread takes no signals: they belong to the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, sentry_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		tp_error("sentry", "could not start the Sentry thread: %s", strerror(rc));
		sentry_free(s);
		return NULL;
	}
	return s;
}

/* See sentry.h. */
void
tp_sentry_capture(void *sentry, tp_log_level level, const char *component,
				  const char *message)
{
	tp_sentry  *s = sentry;
	sentry_event *ev;
	size_t		comp_len;
	size_t		msg_len;

	if (s == NULL)
		return;
	if (message == NULL)
		message = "";
	comp_len = component != NULL ? strlen(component) + 1 : 0;
	msg_len = strlen(message) + 1;

	/* allocated before the lock, so that the lock only guards the queue */
	ev = malloc(sizeof(*ev) + comp_len + msg_len);
	if (ev != NULL)
	{
		char	   *p = (char *) (ev + 1);

		ev->level = level;
		clock_gettime(CLOCK_REALTIME, &ev->when);
		ev->component = NULL;
		if (component != NULL)
		{
			memcpy(p, component, comp_len);
			ev->component = p;
			p += comp_len;
		}
		memcpy(p, message, msg_len);
		ev->message = p;
	}

	pthread_mutex_lock(&s->lock);
	if (ev == NULL || s->stopping || s->count == SENTRY_QUEUE_LEN)
	{
		s->dropped++;
		pthread_mutex_unlock(&s->lock);
		free(ev);
		return;
	}
	s->queue[(s->head + s->count) % SENTRY_QUEUE_LEN] = ev;
	s->count++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* See sentry.h. */
void
tp_sentry_stop(tp_sentry *sentry, int flush_ms)
{
	tp_sentry  *s = sentry;
	struct timespec deadline;
	unsigned long dropped;
	unsigned long failed;
	unsigned long sent;

	if (s == NULL)
		return;
	if (flush_ms < 0)
		flush_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += flush_ms / 1000;
	deadline.tv_nsec += (long) (flush_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	/* flush: wait for the queue to drain and the last send to finish */
	pthread_mutex_lock(&s->lock);
	while (s->count > 0 || s->busy)
	{
		if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT)
			break;
	}
	s->stopping = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);

	/* cut short a transfer still running, then wait for the thread */
	atomic_store(&s->abort_transfer, true);
	curl_multi_wakeup(s->multi);
	pthread_join(s->thread, NULL);

	dropped = s->dropped + (unsigned long) s->count;
	failed = s->failed;
	sent = s->sent;
	if (dropped > 0 || failed > 0)
		tp_warning("sentry",
				   "%lu of %lu events were not reported to Sentry "
				   "(%lu dropped, %lu failed)",
				   dropped + failed, dropped + failed + sent, dropped, failed);
	sentry_free(s);
}
