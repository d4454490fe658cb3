/*
 * httpsink.c
 *     A local HTTP server for tests that records every request and answers
 *     each the same way, built on libmicrohttpd (one thread per connection,
 *     so that a request held at the gate does not hold the others).
 *
 * Memory exhaustion aborts (xalloc.h): a test cannot go on without the
 * requests it expects.
 */
#include "tp_autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "httpsink.h"
#include "xalloc.h"

/* The sink: its server, its answer and what it received. */
struct tp_httpsink
{
	struct MHD_Daemon *daemon;
	unsigned short port;
	pthread_mutex_t lock;		/* protects everything below */
	pthread_cond_t changed;		/* a request arrived, or the gate opened */
	unsigned int status;		/* HTTP status of every answer */
	tp_httpsink_header *resp_headers;	/* extra headers of every answer */
	int			nresp_headers;
	char	   *resp_body;		/* body of every answer */
	tp_httpsink_request **reqs; /* received, in order */
	int			nreqs;
	int			reqs_cap;
	bool		gate_closed;	/* hold answers until tp_httpsink_open_gate */
};

/* A request being received: its body so far. Owned by the connection. */
typedef struct upload
{
	char	   *data;
	size_t		len;
} upload;

/* The absolute CLOCK_MONOTONIC time timeout_ms milliseconds from now. */
static struct timespec
deadline_after(int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L)
	{
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/*
 * Wait on sink->changed (its lock held) until deadline; returns false once
 * the deadline has passed.
 */
static bool
wait_until(tp_httpsink *sink, const struct timespec *deadline)
{
	int			rc = pthread_cond_timedwait(&sink->changed, &sink->lock, deadline);

	return rc != ETIMEDOUT;
}

/* MHD header iterator: append one request header to the request cls. */
static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
			   const char *value)
{
	tp_httpsink_request *req = cls;
	tp_httpsink_header *h;

	(void) kind;
	req->headers = tp_xrealloc(req->headers,
							   sizeof(*req->headers) * (size_t) (req->nheaders + 1));
	h = &req->headers[req->nheaders++];
	h->name = tp_xstrdup(key);
	h->value = tp_xstrdup(value != NULL ? value : "");
	return MHD_YES;
}

/* A new request record for the completed request on conn (the caller owns it). */
static tp_httpsink_request *
request_new(struct MHD_Connection *conn, const char *url, const char *method,
			const upload *up)
{
	tp_httpsink_request *req = tp_xcalloc(1, sizeof(*req));

	req->method = tp_xstrdup(method);
	req->url = tp_xstrdup(url);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, req);
	req->body_len = up->len;
	req->body = tp_xmalloc(up->len + 1);
	if (up->len > 0)
		memcpy(req->body, up->data, up->len);
	req->body[up->len] = '\0';
	return req;
}

/* Free req and everything it holds. */
static void
request_free(tp_httpsink_request *req)
{
	for (int i = 0; i < req->nheaders; i++)
	{
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->method);
	free(req->url);
	free(req->body);
	free(req);
}

/*
 * MHD access handler: gather the body, record the request, wait for the
 * gate, then answer with the sink's status, headers and body.
 */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
		   const char *method, const char *version, const char *upload_data,
		   size_t *upload_size, void **con_cls)
{
	tp_httpsink *sink = cls;
	upload	   *up = *con_cls;
	tp_httpsink_request *req;
	struct MHD_Response *resp;
	unsigned int status;
	enum MHD_Result ret;

	(void) version;
	if (up == NULL)
	{
		*con_cls = tp_xcalloc(1, sizeof(upload));
		return MHD_YES;
	}
	if (*upload_size > 0)
	{
		up->data = tp_xrealloc(up->data, up->len + *upload_size);
		memcpy(up->data + up->len, upload_data, *upload_size);
		up->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}

	req = request_new(conn, url, method, up);
	pthread_mutex_lock(&sink->lock);
	if (sink->nreqs == sink->reqs_cap)
	{
		sink->reqs_cap = sink->reqs_cap > 0 ? sink->reqs_cap * 2 : 64;
		sink->reqs = tp_xrealloc(sink->reqs,
								 sizeof(*sink->reqs) * (size_t) sink->reqs_cap);
	}
	sink->reqs[sink->nreqs++] = req;
	pthread_cond_broadcast(&sink->changed);
	while (sink->gate_closed)
		pthread_cond_wait(&sink->changed, &sink->lock);

	resp = MHD_create_response_from_buffer(strlen(sink->resp_body),
										   sink->resp_body,
										   MHD_RESPMEM_MUST_COPY);
	for (int i = 0; resp != NULL && i < sink->nresp_headers; i++)
		MHD_add_response_header(resp, sink->resp_headers[i].name,
								sink->resp_headers[i].value);
	status = sink->status;
	pthread_mutex_unlock(&sink->lock);
	if (resp == NULL)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* MHD completion callback: free the request's upload. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	upload	   *up = *con_cls;

	(void) cls;
	(void) conn;
	(void) toe;
	if (up != NULL)
	{
		free(up->data);
		free(up);
		*con_cls = NULL;
	}
}

/*
 * Start a sink on 127.0.0.1, on a port the kernel picks. Returns it (the
 * caller frees it with tp_httpsink_stop), or NULL after printing why.
 */
tp_httpsink *
tp_httpsink_start(unsigned int status)
{
	tp_httpsink *sink = tp_xcalloc(1, sizeof(*sink));
	pthread_condattr_t attr;
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;

	sink->status = status;
	sink->resp_body = tp_xstrdup("{}");
	pthread_mutex_init(&sink->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&sink->changed, &attr);
	pthread_condattr_destroy(&attr);

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = 0;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
									MHD_USE_THREAD_PER_CONNECTION,
									0, NULL, NULL, on_request, sink,
									MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
									MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
									MHD_OPTION_END);
	if (sink->daemon == NULL)
	{
		fprintf(stderr, "httpsink: could not start the HTTP server on 127.0.0.1\n");
		tp_httpsink_stop(sink);
		return NULL;
	}
	info = MHD_get_daemon_info(sink->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
	{
		fprintf(stderr, "httpsink: could not learn the HTTP server's port\n");
		tp_httpsink_stop(sink);
		return NULL;
	}
	sink->port = info->port;
	return sink;
}

/* The port sink listens on. */
unsigned short
tp_httpsink_port(const tp_httpsink *sink)
{
	return sink->port;
}

/* Add the header name: value (copied) to every answer from now on. */
void
tp_httpsink_add_response_header(tp_httpsink *sink, const char *name,
								const char *value)
{
	tp_httpsink_header *h;

	pthread_mutex_lock(&sink->lock);
	sink->resp_headers = tp_xrealloc(sink->resp_headers,
									 sizeof(*sink->resp_headers) *
									 (size_t) (sink->nresp_headers + 1));
	h = &sink->resp_headers[sink->nresp_headers++];
	h->name = tp_xstrdup(name);
	h->value = tp_xstrdup(value);
	pthread_mutex_unlock(&sink->lock);
}

/* Answer with body (copied) from now on. */
void
tp_httpsink_set_response_body(tp_httpsink *sink, const char *body)
{
	char	   *copy = tp_xstrdup(body);

	pthread_mutex_lock(&sink->lock);
	free(sink->resp_body);
	sink->resp_body = copy;
	pthread_mutex_unlock(&sink->lock);
}

/* Hold answers until tp_httpsink_open_gate. */
void
tp_httpsink_close_gate(tp_httpsink *sink)
{
	pthread_mutex_lock(&sink->lock);
	sink->gate_closed = true;
	pthread_mutex_unlock(&sink->lock);
}

/* Let held answers go, and answer at once from now on. */
void
tp_httpsink_open_gate(tp_httpsink *sink)
{
	pthread_mutex_lock(&sink->lock);
	sink->gate_closed = false;
	pthread_cond_broadcast(&sink->changed);
	pthread_mutex_unlock(&sink->lock);
}

/* Wait up to timeout_ms for n requests; returns how many there are. */
int
tp_httpsink_wait(tp_httpsink *sink, int n, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	int			got;

	pthread_mutex_lock(&sink->lock);
	while (sink->nreqs < n && wait_until(sink, &deadline))
		;
	got = sink->nreqs;
	pthread_mutex_unlock(&sink->lock);
	return got;
}

/* How many requests sink has received. */
int
tp_httpsink_count(tp_httpsink *sink)
{
	int			n;

	pthread_mutex_lock(&sink->lock);
	n = sink->nreqs;
	pthread_mutex_unlock(&sink->lock);
	return n;
}

/* Request i, or NULL; owned by sink. */
const tp_httpsink_request *
tp_httpsink_request_at(tp_httpsink *sink, int i)
{
	const tp_httpsink_request *req = NULL;

	pthread_mutex_lock(&sink->lock);
	if (i >= 0 && i < sink->nreqs)
		req = sink->reqs[i];
	pthread_mutex_unlock(&sink->lock);
	return req;
}

/* The first request match accepts, waiting up to timeout_ms; or NULL. */
const tp_httpsink_request *
tp_httpsink_wait_match(tp_httpsink *sink,
					   bool (*match) (const tp_httpsink_request *req, void *arg),
					   void *arg, int timeout_ms)
{
	struct timespec deadline = deadline_after(timeout_ms);
	int			seen = 0;

	for (;;)
	{
		int			n = tp_httpsink_count(sink);

		/* requests never change once recorded: match them unlocked */
		for (; seen < n; seen++)
		{
			const tp_httpsink_request *req = tp_httpsink_request_at(sink, seen);

			if (match(req, arg))
				return req;
		}
		pthread_mutex_lock(&sink->lock);
		while (sink->nreqs == seen)
		{
			if (!wait_until(sink, &deadline))
			{
				pthread_mutex_unlock(&sink->lock);
				return NULL;
			}
		}
		pthread_mutex_unlock(&sink->lock);
	}
}

/* Header name of req (case-insensitive), or NULL; owned by the sink. */
const char *
tp_httpsink_header_value(const tp_httpsink_request *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
	{
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

/* Answer held requests, stop the server and free sink. */
void
tp_httpsink_stop(tp_httpsink *sink)
{
	if (sink == NULL)
		return;
	if (sink->daemon != NULL)
	{
		tp_httpsink_open_gate(sink);
		MHD_stop_daemon(sink->daemon);
	}
	for (int i = 0; i < sink->nreqs; i++)
		request_free(sink->reqs[i]);
	free(sink->reqs);
	for (int i = 0; i < sink->nresp_headers; i++)
	{
		free(sink->resp_headers[i].name);
		free(sink->resp_headers[i].value);
	}
	free(sink->resp_headers);
	free(sink->resp_body);
	pthread_cond_destroy(&sink->changed);
	pthread_mutex_destroy(&sink->lock);
	free(sink);
}
