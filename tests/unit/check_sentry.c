/*
 * check_sentry.c
 *     Unit tests of the Sentry reporter (core/sentry.c): DSN validation, and
 *     events sent to a local HTTP receiver (tests/harness/httpsink.h), to a
 *     port where nothing listens and to one that never answers.
 */
#include "tp_autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "checkmain.h"
#include "httpsink.h"
#include "log.h"
#include "sentry.h"

/* Milliseconds of CLOCK_MONOTONIC. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A local Sentry answering status (free with tp_httpsink_stop). */
static tp_httpsink *
receiver_start(unsigned int status)
{
	tp_httpsink *r = tp_httpsink_start(status);

	ck_assert_msg(r != NULL, "could not start the HTTP receiver");
	tp_httpsink_set_response_body(r, "{\"id\":\"0\"}");
	return r;
}

/* Request i of r, which must exist. Owned by r. */
static const tp_httpsink_request *
request(tp_httpsink *r, int i)
{
	const tp_httpsink_request *req = tp_httpsink_request_at(r, i);

	ck_assert_msg(req != NULL, "no request %d (%d received)", i,
				  tp_httpsink_count(r));
	return req;
}

/* Header name of request i of r, failing when absent. Owned by r. */
static const char *
request_header(tp_httpsink *r, int i, const char *name)
{
	const char *value = tp_httpsink_header_value(request(r, i), name);

	ck_assert_msg(value != NULL, "request %d has no %s header", i, name);
	return value;
}

/* Request i's body parsed as a JSON object (json_decref it). */
static json_t *
request_json(tp_httpsink *r, int i)
{
	const tp_httpsink_request *req = request(r, i);
	json_error_t err;
	json_t	   *event;

	event = json_loads(req->body, 0, &err);
	ck_assert_msg(event != NULL, "body is not JSON (%s): %s", err.text,
				  req->body);
	ck_assert(json_is_object(event));
	return event;
}

/* The string member key of obj; fails the test when it is not a string. */
static const char *
json_str(json_t *obj, const char *key)
{
	json_t	   *v = json_object_get(obj, key);

	ck_assert_msg(json_is_string(v), "member \"%s\" is not a string", key);
	return json_string_value(v);
}

/* Whether id is 32 lower-case hex digits. */
static bool
is_event_id(const char *id)
{
	if (strlen(id) != 32)
		return false;
	for (const char *p = id; *p != '\0'; p++)
	{
		if (!isdigit((unsigned char) *p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	}
	return true;
}

/* A DSN for the receiver's port: "http://KEY@127.0.0.1:PORT/TAIL". */
static void
local_dsn(char *buf, size_t len, const char *userinfo, unsigned short port,
		  const char *tail)
{
	snprintf(buf, len, "http://%s@127.0.0.1:%u/%s", userinfo, port, tail);
}

/*
 * A socket bound to a loopback port; listening (the kernel completes the
 * handshake but nobody ever reads or answers) or not (connections refused).
 * Keeping it open keeps the port from being reused. Returns the fd.
 */
static int
loopback_socket(bool listening, unsigned short *port)
{
	struct sockaddr_in addr;
	socklen_t	len = sizeof(addr);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
	*port = ntohs(addr.sin_port);
	return fd;
}

/* stderr redirected to a temporary file, to check what was logged. */
typedef struct stderr_capture
{
	FILE	   *file;
	int			saved_fd;
} stderr_capture;

/* Send stderr to a new temporary file. */
static void
stderr_begin(stderr_capture *cap)
{
	fflush(stderr);
	cap->file = tmpfile();
	ck_assert_ptr_nonnull(cap->file);
	cap->saved_fd = dup(STDERR_FILENO);
	ck_assert_int_ge(cap->saved_fd, 0);
	ck_assert_int_ge(dup2(fileno(cap->file), STDERR_FILENO), 0);
}

/* Restore stderr; returns what was written meanwhile (free it). */
static char *
stderr_end(stderr_capture *cap)
{
	long		size;
	char	   *text;

	fflush(stderr);
	dup2(cap->saved_fd, STDERR_FILENO);
	close(cap->saved_fd);
	ck_assert_int_eq(fseek(cap->file, 0, SEEK_END), 0);
	size = ftell(cap->file);
	ck_assert_int_ge(size, 0);
	rewind(cap->file);
	text = calloc(1, (size_t) size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t) size, cap->file), (size_t) size);
	fclose(cap->file);
	return text;
}

/* How many times needle occurs in haystack. */
static int
count_of(const char *haystack, const char *needle)
{
	int			n = 0;

	for (const char *p = strstr(haystack, needle); p != NULL;
		 p = strstr(p + strlen(needle), needle))
		n++;
	return n;
}

/* Every test runs without proxies and with the default log level. */
static void
setup(void)
{
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	setenv("no_proxy", "*", 1);
	tp_log_set_level(TP_LOG_INFO);
	tp_log_set_sink(NULL, NULL);
}

/* The seed's DSN and its variants are accepted. */
START_TEST(test_dsn_valid)
{
	static const char *const valid[] = {
		"https://user:password@sentry.endpoint.com/8",	/* the seed's */
		"https://public@sentry.endpoint.com/8",
		"http://public:secret@127.0.0.1:9000/8",
		"https://public@sentry.example.com/some/path/42",
		"https://public@[::1]:9000/8",
		"HTTPS://public@sentry.example.com/8",
	};
	char		reason[256];

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
	{
		reason[0] = '\0';
		ck_assert_msg(tp_sentry_dsn_valid(valid[i], reason, sizeof(reason)),
					  "\"%s\" refused: %s", valid[i], reason);
	}
	/* reason is optional */
	ck_assert(tp_sentry_dsn_valid(valid[0], NULL, 0));
}
END_TEST

/* Malformed DSNs are refused, each with a reason that names the fault. */
START_TEST(test_dsn_invalid)
{
	static const struct
	{
		const char *dsn;
		const char *reason;
	}			cases[] = {
		{"https://sentry.endpoint.com/8", "public key"},
		{"https://@sentry.endpoint.com/8", "public key"},
		{"https://:password@sentry.endpoint.com/8", "public key"},
		{"https://user:password@sentry.endpoint.com/", "project id"},
		{"https://user:password@sentry.endpoint.com", "project id"},
		{"https://user@sentry.endpoint.com/8/", "project id"},
		{"ftp://user:password@sentry.endpoint.com/8", "scheme \"ftp\""},
		{"garbage", "scheme"},
		{"sentry.endpoint.com/8", "scheme"},
		{"", "empty"},
		{"https://user@/8", "host"},
		{"https://user@:9000/8", "host"},
		{"https://user@host:0/8", "port"},
		{"https://user@host:99999/8", "port"},
		{"https://user@host:abc/8", "port"},
		{"https://user@host:/8", "port"},
		{"https://user@host/8?x=1", "query"},
		{"https://user@ho st/8", "space"},
		{"https://user@host//8", "segment"},
	};
	char		reason[256];
	char		tiny[8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		reason[0] = '\0';
		ck_assert_msg(!tp_sentry_dsn_valid(cases[i].dsn, reason, sizeof(reason)),
					  "\"%s\" accepted", cases[i].dsn);
		ck_assert_msg(strstr(reason, cases[i].reason) != NULL,
					  "\"%s\": reason \"%s\" does not mention \"%s\"",
					  cases[i].dsn, reason, cases[i].reason);
	}
	ck_assert(!tp_sentry_dsn_valid(NULL, reason, sizeof(reason)));
	ck_assert(strstr(reason, "empty") != NULL);
	ck_assert(!tp_sentry_dsn_valid("garbage", NULL, 0));
	/* a short buffer gets a truncated, terminated reason */
	memset(tiny, 'x', sizeof(tiny));
	ck_assert(!tp_sentry_dsn_valid("garbage", tiny, sizeof(tiny)));
	ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
}
END_TEST

/* An invalid DSN is refused by start too, without logging the secret. */
START_TEST(test_start_invalid_dsn)
{
	stderr_capture cap;
	tp_sentry  *s;
	char	   *err;

	stderr_begin(&cap);
	s = tp_sentry_start("ftp://user:hushhush@sentry.endpoint.com/8", NULL, NULL);
	err = stderr_end(&cap);
	ck_assert_ptr_null(s);
	ck_assert(strstr(err, "invalid Sentry DSN") != NULL);
	ck_assert(strstr(err, "hushhush") == NULL);
	free(err);
}
END_TEST

/* Events reach the store endpoint with the auth header and the JSON fields. */
START_TEST(test_event_delivered)
{
	tp_httpsink *r;
	char		dsn[128];
	char		auth[256];
	tp_sentry  *s;
	json_t	   *ev;
	json_t	   *ev2;
	struct tm	tm;
	int			millis;
	char		zone;
	time_t		stamp;

	r = receiver_start(200);
	local_dsn(dsn, sizeof(dsn), "pubkey:seckey", tp_httpsink_port(r), "8");
	s = tp_sentry_start(dsn, "teleport@9.9.9", "test-host");
	ck_assert_ptr_nonnull(s);
	tp_sentry_capture(s, TP_LOG_ERROR, "config", "could not open file \"x\"");
	tp_sentry_capture(s, TP_LOG_WARNING, "applier", "second");
	/* stop flushes: both are at the server when it returns */
	tp_sentry_stop(s, 3000);
	ck_assert_int_eq(tp_httpsink_count(r), 2);

	ck_assert_str_eq(request(r, 0)->method, "POST");
	ck_assert_str_eq(request(r, 0)->url, "/api/8/store/");
	ck_assert_ptr_nonnull(tp_httpsink_header_value(request(r, 0), "Content-Type"));
	ck_assert_str_eq(request_header(r, 0, "Content-Type"), "application/json");
	ck_assert_ptr_nonnull(tp_httpsink_header_value(request(r, 0), "X-Sentry-Auth"));
	snprintf(auth, sizeof(auth),
			 "Sentry sentry_version=7, sentry_client=teleport/%s, "
			 "sentry_key=pubkey, sentry_secret=seckey", PACKAGE_VERSION);
	ck_assert_str_eq(request_header(r, 0, "X-Sentry-Auth"), auth);

	ev = request_json(r, 0);
	ck_assert_str_eq(json_str(ev, "level"), "error");
	ck_assert_str_eq(json_str(ev, "logger"), "config");
	ck_assert_str_eq(json_str(ev, "message"), "could not open file \"x\"");
	ck_assert_str_eq(json_str(ev, "platform"), "c");
	ck_assert_str_eq(json_str(ev, "release"), "teleport@9.9.9");
	ck_assert_str_eq(json_str(ev, "server_name"), "test-host");
	ck_assert_str_eq(json_str(json_object_get(ev, "tags"), "component"), "config");
	ck_assert_msg(is_event_id(json_str(ev, "event_id")), "bad event_id %s",
				  json_str(ev, "event_id"));
	/* ISO 8601 UTC, close to now */
	memset(&tm, 0, sizeof(tm));
	ck_assert_msg(sscanf(json_str(ev, "timestamp"), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c",
						 &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
						 &tm.tm_min, &tm.tm_sec, &millis, &zone) == 8 &&
				  zone == 'Z' && strlen(json_str(ev, "timestamp")) == 24,
				  "bad timestamp %s", json_str(ev, "timestamp"));
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	stamp = timegm(&tm);
	ck_assert_int_lt(llabs((long long) (time(NULL) - stamp)), 60);

	/* the second: in order, its own level and id */
	ev2 = request_json(r, 1);
	ck_assert_str_eq(json_str(ev2, "level"), "warning");
	ck_assert_str_eq(json_str(ev2, "logger"), "applier");
	ck_assert_str_eq(json_str(ev2, "message"), "second");
	ck_assert(is_event_id(json_str(ev2, "event_id")));
	ck_assert_str_ne(json_str(ev, "event_id"), json_str(ev2, "event_id"));
	json_decref(ev);
	json_decref(ev2);
	tp_httpsink_stop(r);
}
END_TEST

/* A DSN with a path and no secret: the path is kept, no sentry_secret. */
START_TEST(test_path_without_secret)
{
	tp_httpsink *r;
	char		dsn[128];
	char		auth[256];
	tp_sentry  *s;
	json_t	   *ev;

	r = receiver_start(200);
	local_dsn(dsn, sizeof(dsn), "onlykey", tp_httpsink_port(r), "sub/path/42");
	s = tp_sentry_start(dsn, NULL, NULL);
	ck_assert_ptr_nonnull(s);
	tp_sentry_capture(s, TP_LOG_ERROR, NULL, "bad \xff byte");
	tp_sentry_stop(s, 3000);
	ck_assert_int_eq(tp_httpsink_count(r), 1);
	ck_assert_str_eq(request(r, 0)->url, "/sub/path/api/42/store/");
	snprintf(auth, sizeof(auth),
			 "Sentry sentry_version=7, sentry_client=teleport/%s, "
			 "sentry_key=onlykey", PACKAGE_VERSION);
	ck_assert_str_eq(request_header(r, 0, "X-Sentry-Auth"), auth);
	ev = request_json(r, 0);
	/* defaults: release from the version, logger when no component */
	ck_assert_str_eq(json_str(ev, "release"), "teleport@" PACKAGE_VERSION);
	ck_assert_str_eq(json_str(ev, "logger"), "teleport");
	ck_assert(strlen(json_str(ev, "server_name")) > 0);
	/* invalid UTF-8 still makes a valid event */
	ck_assert_str_eq(json_str(ev, "message"), "bad ? byte");
	json_decref(ev);
	tp_httpsink_stop(r);
}
END_TEST

/* As the log's sink: errors are reported, warnings and infos are not. */
START_TEST(test_log_sink)
{
	tp_httpsink *r;
	char		dsn[128];
	tp_sentry  *s;
	json_t	   *ev;
	stderr_capture cap;
	char	   *err;

	r = receiver_start(200);
	local_dsn(dsn, sizeof(dsn), "pub", tp_httpsink_port(r), "8");
	s = tp_sentry_start(dsn, "teleport@1", "host-a");
	ck_assert_ptr_nonnull(s);
	stderr_begin(&cap);
	tp_log_set_sink(tp_sentry_capture, s);
	tp_warning("applier", "only a warning");
	tp_info("applier", "only an info");
	tp_error("applier", "could not apply batch %d", 7);
	ck_assert_int_eq(tp_httpsink_wait(r, 1, 3000), 1);
	tp_log_set_sink(NULL, NULL);
	tp_sentry_stop(s, 3000);
	err = stderr_end(&cap);
	ck_assert(strstr(err, "could not apply batch 7") != NULL);
	ck_assert(strstr(err, "only a warning") != NULL);

	ck_assert_int_eq(tp_httpsink_count(r), 1);
	ev = request_json(r, 0);
	ck_assert_str_eq(json_str(ev, "level"), "error");
	ck_assert_str_eq(json_str(ev, "logger"), "applier");
	ck_assert_str_eq(json_str(ev, "message"), "could not apply batch 7");
	json_decref(ev);
	free(err);
	tp_httpsink_stop(r);
}
END_TEST

/* Many threads capturing at once: every event arrives once. */
typedef struct capture_args
{
	tp_sentry  *s;
	int			n;
} capture_args;

/* Thread body: capture a->n errors. */
static void *
capture_thread(void *arg)
{
	capture_args *a = arg;

	for (int i = 0; i < a->n; i++)
		tp_error("worker", "event %d", i);
	return NULL;
}

/* Four threads log 20 errors each through the sink. */
START_TEST(test_concurrent_capture)
{
	tp_httpsink *r;
	char		dsn[128];
	capture_args args;
	pthread_t	threads[4];
	stderr_capture cap;
	char	   *err;

	r = receiver_start(200);
	local_dsn(dsn, sizeof(dsn), "pub", tp_httpsink_port(r), "8");
	args.s = tp_sentry_start(dsn, NULL, "h");
	args.n = 20;
	ck_assert_ptr_nonnull(args.s);
	stderr_begin(&cap);
	tp_log_set_sink(tp_sentry_capture, args.s);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, capture_thread, &args), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	tp_log_set_sink(NULL, NULL);
	tp_sentry_stop(args.s, 4000);
	err = stderr_end(&cap);
	ck_assert_int_eq(count_of(err, "error worker: event 19"), 4);
	ck_assert(strstr(err, "sentry") == NULL);
	free(err);
	/* 80 fit in the queue (100) even if the sender had sent none */
	ck_assert_int_eq(tp_httpsink_count(r), 80);
	for (int i = 0; i < 80; i++)
		ck_assert_str_eq(request(r, i)->url, "/api/8/store/");
	tp_httpsink_stop(r);
}
END_TEST

/*
 * Nothing listens: capturing never waits, failures are logged once, and
 * stop returns within its flush time.
 */
START_TEST(test_dead_endpoint)
{
	unsigned short port;
	int			fd = loopback_socket(false, &port);
	char		dsn[128];
	tp_sentry  *s;
	long long	start;
	long long	elapsed;
	stderr_capture cap;
	char	   *err;

	local_dsn(dsn, sizeof(dsn), "pub:sec", port, "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	start = now_ms();
	for (int i = 0; i < 1000; i++)
		tp_sentry_capture(s, TP_LOG_ERROR, "test", "an error");
	elapsed = now_ms() - start;
	ck_assert_msg(elapsed < 1000, "1000 captures took %lld ms", elapsed);

	start = now_ms();
	tp_sentry_stop(s, 200);
	elapsed = now_ms() - start;
	err = stderr_end(&cap);
	ck_assert_msg(elapsed < 200 + 800, "stop took %lld ms", elapsed);
	/* rate-limited: one line for all the failures */
	ck_assert_int_eq(count_of(err, "could not send event to Sentry"), 1);
	ck_assert(strstr(err, "1000 of 1000 events were not reported") != NULL);
	free(err);
	close(fd);
}
END_TEST

/*
 * The sender's own failures are not errors: with the reporter as the log's
 * sink, a failing endpoint does not feed events back into the queue.
 */
START_TEST(test_failures_not_fed_back)
{
	unsigned short port;
	int			fd = loopback_socket(false, &port);
	char		dsn[128];
	tp_sentry  *s;
	stderr_capture cap;
	char	   *err;

	local_dsn(dsn, sizeof(dsn), "pub", port, "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	tp_log_set_sink(tp_sentry_capture, s);
	for (int i = 0; i < 10; i++)
	{
		tp_error("test", "error %d", i);
		usleep(20 * 1000);
	}
	usleep(200 * 1000);
	tp_log_set_sink(NULL, NULL);
	tp_sentry_stop(s, 1000);
	err = stderr_end(&cap);
	ck_assert_int_eq(count_of(err, "error sentry:"), 0);
	ck_assert_int_eq(count_of(err, "warning sentry: could not send event"), 1);
	ck_assert(strstr(err, "10 of 10 events were not reported to Sentry "
					 "(0 dropped, 10 failed)") != NULL);
	free(err);
	close(fd);
}
END_TEST

/*
 * The endpoint accepts connections but never answers: stop waits for its
 * flush time, then cuts the transfer short instead of waiting for the 5 s
 * timeout.
 */
START_TEST(test_hung_endpoint)
{
	unsigned short port;
	int			fd = loopback_socket(true, &port);
	char		dsn[128];
	tp_sentry  *s;
	long long	start;
	long long	elapsed;
	stderr_capture cap;
	char	   *err;

	local_dsn(dsn, sizeof(dsn), "pub", port, "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 3; i++)
		tp_sentry_capture(s, TP_LOG_ERROR, "test", "an error");
	start = now_ms();
	tp_sentry_stop(s, 300);
	elapsed = now_ms() - start;
	err = stderr_end(&cap);
	ck_assert_msg(elapsed >= 290, "stop did not wait to flush: %lld ms", elapsed);
	ck_assert_msg(elapsed < 300 + 700, "stop took %lld ms", elapsed);
	ck_assert(strstr(err, "3 of 3 events were not reported to Sentry "
					 "(3 dropped, 0 failed)") != NULL);
	free(err);
	close(fd);
}
END_TEST

/*
 * The queue is bounded: while the server holds the first event, 100 more
 * are queued and the rest dropped; the queued ones are sent afterwards.
 */
START_TEST(test_queue_bounded)
{
	tp_httpsink *r;
	char		dsn[128];
	tp_sentry  *s;
	stderr_capture cap;
	char	   *err;

	r = receiver_start(200);
	tp_httpsink_close_gate(r);
	local_dsn(dsn, sizeof(dsn), "pub", tp_httpsink_port(r), "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	tp_sentry_capture(s, TP_LOG_ERROR, "test", "first");
	ck_assert_int_eq(tp_httpsink_wait(r, 1, 3000), 1);
	for (int i = 0; i < 150; i++)
		tp_sentry_capture(s, TP_LOG_ERROR, "test", "more");
	tp_httpsink_open_gate(r);
	tp_sentry_stop(s, 4000);
	err = stderr_end(&cap);
	ck_assert_int_eq(tp_httpsink_count(r), 101);
	ck_assert(strstr(err, "50 of 151 events were not reported to Sentry "
					 "(50 dropped, 0 failed)") != NULL);
	free(err);
	tp_httpsink_stop(r);
}
END_TEST

/* A failing server: each event is tried once, failures logged once. */
START_TEST(test_server_error_not_retried)
{
	tp_httpsink *r;
	char		dsn[128];
	tp_sentry  *s;
	stderr_capture cap;
	char	   *err;

	r = receiver_start(500);
	local_dsn(dsn, sizeof(dsn), "pub", tp_httpsink_port(r), "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 5; i++)
		tp_sentry_capture(s, TP_LOG_ERROR, "test", "an error");
	tp_sentry_stop(s, 3000);
	err = stderr_end(&cap);
	/* no retry: still 5 a while later */
	ck_assert_int_eq(tp_httpsink_count(r), 5);
	usleep(200 * 1000);
	ck_assert_int_eq(tp_httpsink_count(r), 5);
	ck_assert_int_eq(count_of(err, "refused an event: HTTP status 500"), 1);
	ck_assert(strstr(err, "5 of 5 events were not reported to Sentry "
					 "(0 dropped, 5 failed)") != NULL);
	free(err);
	tp_httpsink_stop(r);
}
END_TEST

/* A 429 with Retry-After: the events that follow are dropped, not sent. */
START_TEST(test_rate_limited)
{
	tp_httpsink *r;
	char		dsn[128];
	tp_sentry  *s;
	stderr_capture cap;
	char	   *err;

	r = receiver_start(429);
	tp_httpsink_add_response_header(r, "Retry-After", "60");
	local_dsn(dsn, sizeof(dsn), "pub", tp_httpsink_port(r), "8");
	stderr_begin(&cap);
	s = tp_sentry_start(dsn, NULL, "h");
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < 4; i++)
		tp_sentry_capture(s, TP_LOG_ERROR, "test", "an error");
	tp_sentry_stop(s, 3000);
	err = stderr_end(&cap);
	ck_assert_int_eq(tp_httpsink_count(r), 1);
	ck_assert(strstr(err, "rate limiting: events dropped for 60 s") != NULL);
	ck_assert(strstr(err, "4 of 4 events were not reported to Sentry "
					 "(3 dropped, 1 failed)") != NULL);
	free(err);
	tp_httpsink_stop(r);
}
END_TEST

/* NULL reporters are ignored; a reporter with nothing to send stops quietly. */
START_TEST(test_null_and_idle)
{
	stderr_capture cap;
	char	   *err;
	tp_sentry  *s;
	long long	start;

	tp_sentry_capture(NULL, TP_LOG_ERROR, "x", "y");
	tp_sentry_stop(NULL, 100);
	stderr_begin(&cap);
	s = tp_sentry_start("http://pub@127.0.0.1:9/8", NULL, NULL);
	ck_assert_ptr_nonnull(s);
	start = now_ms();
	tp_sentry_stop(s, 2000);
	ck_assert_int_lt(now_ms() - start, 500);
	err = stderr_end(&cap);
	ck_assert_str_eq(err, "");
	free(err);
}
END_TEST

/* The suite. */
static Suite *
sentry_suite(void)
{
	Suite	   *s = suite_create("sentry");
	TCase	   *tc = tcase_create("sentry");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_dsn_valid);
	tcase_add_test(tc, test_dsn_invalid);
	tcase_add_test(tc, test_start_invalid_dsn);
	tcase_add_test(tc, test_event_delivered);
	tcase_add_test(tc, test_path_without_secret);
	tcase_add_test(tc, test_log_sink);
	tcase_add_test(tc, test_concurrent_capture);
	tcase_add_test(tc, test_dead_endpoint);
	tcase_add_test(tc, test_failures_not_fed_back);
	tcase_add_test(tc, test_hung_endpoint);
	tcase_add_test(tc, test_queue_bounded);
	tcase_add_test(tc, test_server_error_not_retried);
	tcase_add_test(tc, test_rate_limited);
	tcase_add_test(tc, test_null_and_idle);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(sentry_suite());
}
