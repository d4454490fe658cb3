/*
 * httpsink.h
 *     A local HTTP server for tests (an "HTTP sink"): it listens on
 *     127.0.0.1 on a port the kernel picks, records every request (method,
 *     URL, all request headers, body) and answers each with the same status,
 *     headers and body. A gate can hold the answers back, to simulate a
 *     server that is slow to answer.
 *
 * The sink runs its own threads (libmicrohttpd's, one per connection), so it
 * may be started inside a Check test process; its users need not include
 * microhttpd.h. Requests are kept in arrival order and stay valid, unchanged,
 * until tp_httpsink_stop.
 */
#ifndef TP_HTTPSINK_H
#define TP_HTTPSINK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tp_httpsink tp_httpsink;

/* One request header, as the client sent it. */
typedef struct tp_httpsink_header
{
	char	   *name;
	char	   *value;
} tp_httpsink_header;

/* One request the sink received. Owned by the sink. */
typedef struct tp_httpsink_request
{
	char	   *method;			/* "POST", ... */
	char	   *url;			/* the path, without the query string */
	tp_httpsink_header *headers;	/* every request header, in order */
	int			nheaders;
	char	   *body;			/* NUL-terminated ("" when none) */
	size_t		body_len;		/* without the terminating NUL */
} tp_httpsink_request;

/*
 * Start a sink answering every request with status and an empty JSON
 * object. Returns it (free with tp_httpsink_stop), or NULL after printing
 * why to stderr.
 */
tp_httpsink *tp_httpsink_start(unsigned int status);

/* The TCP port the sink listens on (on 127.0.0.1). */
unsigned short tp_httpsink_port(const tp_httpsink *sink);

/*
 * Answers from now on carry the header name: value too (e.g. Retry-After)
 * and the body body (copied). Both copy their arguments.
 */
void		tp_httpsink_add_response_header(tp_httpsink *sink, const char *name,
											const char *value);
void		tp_httpsink_set_response_body(tp_httpsink *sink, const char *body);

/*
 * Close the gate: requests that arrive from now on are recorded at once but
 * not answered until tp_httpsink_open_gate (or tp_httpsink_stop).
 */
void		tp_httpsink_close_gate(tp_httpsink *sink);
void		tp_httpsink_open_gate(tp_httpsink *sink);

/*
 * Wait up to timeout_ms milliseconds until the sink has received at least n
 * requests; returns how many it has then.
 */
int			tp_httpsink_wait(tp_httpsink *sink, int n, int timeout_ms);

/* How many requests the sink has received so far. */
int			tp_httpsink_count(tp_httpsink *sink);

/*
 * Request i (0 is the first received), or NULL when there is no such
 * request yet. Owned by the sink, valid until tp_httpsink_stop.
 */
const tp_httpsink_request *tp_httpsink_request_at(tp_httpsink *sink, int i);

/*
 * Wait up to timeout_ms milliseconds for a request for which match returns
 * true (called with arg on each request, in order, from the caller's
 * thread). Returns the first such request (owned by the sink), or NULL.
 */
const tp_httpsink_request *tp_httpsink_wait_match(tp_httpsink *sink,
												  bool (*match) (const tp_httpsink_request *req, void *arg),
												  void *arg, int timeout_ms);

/*
 * The value of the request header name (case-insensitive; the first when
 * sent more than once), or NULL when req has none. Owned by the sink.
 */
const char *tp_httpsink_header_value(const tp_httpsink_request *req,
									 const char *name);

/*
 * Stop the sink: answer any held requests, stop listening, free every
 * request. NULL is allowed.
 */
void		tp_httpsink_stop(tp_httpsink *sink);

#endif							/* TP_HTTPSINK_H */
