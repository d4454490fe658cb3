/*
 * check_http.c
 *     The http transport on real sockets on loopback: its sending half
 *     against its receiving half (loaded from the build tree through the
 *     core's loader, configured from YAML, storing into the durable inbox
 *     of a throwaway cluster), raw requests with libcurl for what a
 *     well-behaved sender never sends, and the test HTTP sink for what
 *     the sender puts on the wire.
 *
 * Covered: batches stored in order; a repeated batch acknowledged and not
 * stored twice; a gap refused; wrong or missing token (401, nothing
 * stored); garbage, truncated, unknown-version, wrongly typed bodies;
 * an oversized body refused before it is read; gzip and zstd bombs; gzip
 * and zstd bodies accepted (gzip as an older sender sends it), corrupt,
 * truncated or trailed zstd refused with a reason and nothing stored, and
 * every answer saying "Accept-Encoding: zstd, gzip"; the sender's
 * compression above its threshold: gzip to a server that does not say it
 * accepts zstd (an older one), zstd once it does, back to gzip when a zstd
 * body is refused with 415, gzip only with compression: gzip; the server
 * down, then up;
 * a server that never answers; TLS with a verified CA, a wrong CA, client
 * certificates; /v1/health and /v1/status; wrong method and path.
 */
#include "tp_autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "httpsink.h"
#include "inbox.h"
#include "loader.h"
#include "log.h"
#include "pgcluster.h"
#include "plan.h"
#include "runcmd.h"

#define TOKEN "s3cret-Token_42"

static tp_cluster *cluster;

/* Two valid change lines. */
static const char data_a[] =
	"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,"
	"\"n\":1234567890123456789012345678901234567890},"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":10,\"seq\":1,\"batch\":1},\"ts_ms\":1795000000000}\n"
	"{\"op\":\"d\",\"before\":{\"id\":1},\"after\":null,"
	"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
	"\"txid\":11,\"seq\":2,\"batch\":1},\"ts_ms\":1795000000000}\n";

/* Once per program: the shared cluster; and libcurl for raw requests. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A free port on the loopback, or the test fails. */
static int
free_port(void)
{
	int			port = tp_free_port();

	ck_assert_int_gt(port, 0);
	return port;
}

/* What a test's instance looks like; "@PORT@" in the texts is the server's port. */
typedef struct env_params
{
	int			endpoint_port;	/* 0: the server's port */
	const char *server_extra;	/* more "  key: value\n" lines of server: */
	const char *endpoint_extra; /* more "      key: value\n" of out's endpoint */
	const char *options_extra;	/* more "      key: value\n" of out's options */
	const char *targets_extra;	/* more targets ("  name:\n    ...") */
	int			timeout_ms;		/* 0: 10000 */
} env_params;

/* text (NULL: "") with each "@PORT@" replaced by port; a new string. */
static char *
subst_port(const char *text, int port)
{
	char		num[16];
	char	   *out = malloc(strlen(text ? text : "") * 2 + 1);
	char	   *o = out;

	snprintf(num, sizeof(num), "%d", port);
	for (const char *t = text ? text : ""; *t;)
	{
		if (strncmp(t, "@PORT@", 6) == 0)
		{
			strcpy(o, num);
			o += strlen(num);
			t += 6;
		}
		else
			*o++ = *t++;
	}
	*o = '\0';
	return out;
}

#define MAX_SENDERS 6

/* One instance with a server section and targets, as the daemon sets it up. */
typedef struct http_env
{
	char	   *db;				/* the test's database name */
	char	   *conninfo;
	char	   *yaml;
	int			port;			/* the server's */
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
	const tp_transport_callbacks *cb;
	tp_plugin_ctx *recv;
	tp_plugin_ctx *send[MAX_SENDERS];
	const char *send_target[MAX_SENDERS];
	int			n_send;
	tp_inbox   *inbox;
	tp_host_services svc;
	bool		recv_started;
} http_env;

/* The status service: a fixed JSON object (a new string). */
static char *
fake_status(void *arg)
{
	(void) arg;
	return strdup("{\"instance\":\"src\",\"ok\":true}");
}

/*
 * Build the instance on a new database named db: the config, the plugins,
 * a context for the receiving half (with an inbox) and one per target.
 * Nothing is started.
 */
static void
env_open(http_env *env, const char *db, const env_params *p)
{
	char	   *yaml = malloc(16384);
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");

	ck_assert_msg(dir != NULL, "TELEPORT_PLUGIN_DIR is not set");
	memset(env, 0, sizeof(*env));
	env->db = strdup(db);
	env->conninfo = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(env->conninfo);
	env->port = free_port();
	{
		char	   *server_extra = subst_port(p->server_extra, env->port);
		char	   *endpoint_extra = subst_port(p->endpoint_extra, env->port);
		char	   *options_extra = subst_port(p->options_extra, env->port);
		char	   *targets_extra = subst_port(p->targets_extra, env->port);

		snprintf(yaml, 16384,
				 "database:\n"
				 "  name: src\n"
				 "  database: postgres\n"
				 "server:\n"
				 "  hostname: 127.0.0.1\n"
				 "  port: %d\n"
				 "%s"
				 "targets:\n"
				 "  out:\n"
				 "    target_expression: \"public.*\"\n"
				 "    apply_schema: test\n"
				 "    endpoint:\n"
				 "      hostname: 127.0.0.1\n"
				 "      port: %d\n"
				 "%s"
				 "    options:\n"
				 "      connect_timeout_ms: 2000\n"
				 "      timeout_ms: %d\n"
				 "%s"
				 "%s",
				 env->port, server_extra,
				 p->endpoint_port ? p->endpoint_port : env->port,
				 endpoint_extra, p->timeout_ms ? p->timeout_ms : 10000,
				 options_extra, targets_extra);
		free(server_extra);
		free(endpoint_extra);
		free(options_extra);
		free(targets_extra);
	}
	env->yaml = yaml;
	ck_assert_msg(tp_config_load_string(yaml, strlen(yaml), "test.yml",
										&env->config), "config refused:\n%s", yaml);
	(void) tp_loader_scan(dir, &env->set);
	tp_plan_build(env->config, &env->plan);
	for (size_t i = 0; i < env->plan.n; i++)
	{
		tp_plan_entry *e = &env->plan.entries[i];
		tp_plan		one = {e, 1};
		tp_plugin_ctx *ctx;

		if (e->role != TP_ROLE_SEND && e->role != TP_ROLE_RECEIVE)
			continue;
		ck_assert_str_eq(e->plugin_name, "http");
		ck_assert_msg(tp_plan_resolve(&one, &env->set, env->config),
					  "plugin http not found in %s or its options refused", dir);
		ck_assert(tp_plugin_initialize(e->plugin, tp_host_api_get()));
		env->cb = e->plugin->callbacks;
		ctx = tp_host_ctx_new(env->config, env->conninfo, e);
		ck_assert_ptr_nonnull(ctx);
		if (e->role == TP_ROLE_RECEIVE)
			env->recv = ctx;
		else
		{
			ck_assert_int_lt(env->n_send, MAX_SENDERS);
			env->send_target[env->n_send] = e->target;
			env->send[env->n_send++] = ctx;
		}
	}
	ck_assert_ptr_nonnull(env->recv);
	ck_assert_int_ge(env->n_send, 1);
	ck_assert_ptr_nonnull(env->cb->send);
	ck_assert_ptr_nonnull(env->cb->receive_start);
	ck_assert_ptr_nonnull(env->cb->receive_stop);
	env->inbox = tp_inbox_new(env->conninfo, "src");
	ck_assert_ptr_nonnull(env->inbox);
	env->svc.inbox = env->inbox;
	env->svc.status_json = fake_status;
	tp_host_ctx_set_services(env->recv, &env->svc);
}

/* Start the senders (startup only); each must succeed. */
static void
env_start_senders(http_env *env)
{
	for (int i = 0; i < env->n_send; i++)
		ck_assert_int_eq(env->cb->startup(env->send[i]), TP_OK);
}

/* Start the receiving half: startup and receive_start. */
static void
env_start_server(http_env *env)
{
	if (env->recv->private_data == NULL)
		ck_assert_int_eq(env->cb->startup(env->recv), TP_OK);
	ck_assert_int_eq(env->cb->receive_start(env->recv), TP_OK);
	env->recv_started = true;
}

/* Build and start everything. */
static void
env_start(http_env *env, const char *db, const env_params *p)
{
	env_open(env, db, p);
	env_start_server(env);
	env_start_senders(env);
}

/* The sending context of target name. */
static tp_plugin_ctx *
sender(http_env *env, const char *name)
{
	for (int i = 0; i < env->n_send; i++)
		if (strcmp(env->send_target[i], name) == 0)
			return env->send[i];
	ck_abort_msg("no sender for target %s", name);
	return NULL;
}

/* Stop and free everything of env. */
static void
env_close(http_env *env)
{
	if (env->recv_started)
		env->cb->receive_stop(env->recv);
	if (env->recv->private_data != NULL)
		env->cb->shutdown(env->recv);
	tp_host_ctx_free(env->recv);
	for (int i = 0; i < env->n_send; i++)
	{
		if (env->send[i]->private_data != NULL)
			env->cb->shutdown(env->send[i]);
		tp_host_ctx_free(env->send[i]);
	}
	tp_inbox_free(env->inbox);
	tp_plan_free(&env->plan);
	tp_loader_free(&env->set);
	tp_config_free(env->config);
	free(env->yaml);
	free(env->conninfo);
	free(env->db);
}

/* text repeated n times, in a new string (free). */
static char *
repeated(const char *text, int n)
{
	size_t		len = strlen(text);
	char	   *out = malloc(len * (size_t) n + 1);

	ck_assert_ptr_nonnull(out);
	for (int i = 0; i < n; i++)
		memcpy(out + (size_t) i * len, text, len);
	out[len * (size_t) n] = '\0';
	return out;
}

/* A batch from src to target over data (static). */
static tp_batch
make_batch(const char *target, uint64_t seq, const char *data, uint64_t n)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = "src";
	b.target = target;
	b.seq = seq;
	b.n_changes = n;
	b.first_tick = seq;
	b.last_tick = seq + 1;
	b.apply_schema = "test";
	b.data = data;
	b.data_len = strlen(data);
	return b;
}

/* The wire form of batch (free); its length in *len. */
static char *
wire_of(const tp_batch *b, size_t *len)
{
	char	   *header = tp_batch_header(b);
	size_t		hlen;
	char	   *buf;

	ck_assert_ptr_nonnull(header);
	hlen = strlen(header);
	buf = malloc(hlen + b->data_len + 1);
	memcpy(buf, header, hlen);
	memcpy(buf + hlen, b->data, b->data_len);
	buf[hlen + b->data_len] = '\0';
	*len = hlen + b->data_len;
	free(header);
	return buf;
}

/*
 * The inbox's rows as "target/seq,..." in order, or "" when the inbox
 * does not exist yet (free).
 */
static char *
inbox_rows(http_env *env)
{
	PGconn	   *conn = PQconnectdb(env->conninfo);
	PGresult   *res;
	char	   *rows;

	ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn,
				 "SELECT coalesce(string_agg(target || '/' || seq, ','"
				 " ORDER BY target, seq), '') FROM teleport.inbox");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rows = strdup("");
	else
		rows = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(conn);
	return rows;
}

/* Assert the inbox holds exactly expected ("out/1,out/2"). */
#define ck_assert_inbox(env, expected) \
	do { \
		char *rows_ = inbox_rows(env); \
		ck_assert_str_eq(rows_, (expected)); \
		free(rows_); \
	} while (0)

/* A raw answer. */
typedef struct raw_answer
{
	long		status;			/* 0: no answer (see curl) */
	CURLcode	curl;
	char		body[8192];
	size_t		body_len;
	char		headers[8192];
	size_t		headers_len;
	curl_off_t	uploaded;		/* body bytes curl sent */
} raw_answer;

/* libcurl write callback into a raw_answer's body. */
static size_t
raw_body(char *data, size_t size, size_t n, void *arg)
{
	raw_answer *a = arg;
	size_t		len = size * n;
	size_t		keep = sizeof(a->body) - 1 - a->body_len;

	if (keep > len)
		keep = len;
	memcpy(a->body + a->body_len, data, keep);
	a->body_len += keep;
	a->body[a->body_len] = '\0';
	return len;
}

/* libcurl header callback into a raw_answer's headers. */
static size_t
raw_header(char *data, size_t size, size_t n, void *arg)
{
	raw_answer *a = arg;
	size_t		len = size * n;
	size_t		keep = sizeof(a->headers) - 1 - a->headers_len;

	if (keep > len)
		keep = len;
	memcpy(a->headers + a->headers_len, data, keep);
	a->headers_len += keep;
	a->headers[a->headers_len] = '\0';
	return len;
}

/*
 * Send method url with the NULL-terminated extra headers and body (NULL:
 * none); over https when cainfo is set. Fills *a.
 */
static void
raw_request(raw_answer *a, const char *method, const char *url,
			const char *const *headers, const char *body, size_t len,
			const char *cainfo)
{
	CURL	   *c = curl_easy_init();
	struct curl_slist *list = NULL;

	memset(a, 0, sizeof(*a));
	ck_assert_ptr_nonnull(c);
	for (int i = 0; headers != NULL && headers[i] != NULL; i++)
		list = curl_slist_append(list, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, raw_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	if (cainfo != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
	if (body != NULL)
	{
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
	}
	if (strcmp(method, body != NULL ? "POST" : "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	a->curl = curl_easy_perform(c);
	if (a->curl == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &a->uploaded);
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
}

/* http://127.0.0.1:PORT/path into buf. */
static const char *
url_of(char *buf, size_t len, int port, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", port, path);
	return buf;
}

/* Assert a's body is a JSON object whose member key is the string value. */
static void
assert_json_str(const raw_answer *a, const char *key, const char *value)
{
	json_error_t err;
	json_t	   *root = json_loads(a->body, 0, &err);
	json_t	   *member;

	ck_assert_msg(root != NULL, "answer is not JSON: %s", a->body);
	member = json_object_get(root, key);
	ck_assert_msg(json_is_string(member), "no string %s in %s", key, a->body);
	if (value != NULL)
		ck_assert_str_eq(json_string_value(member), value);
	json_decref(root);
}

/* Assert a's body is a JSON object whose member key is the integer value. */
static void
assert_json_int(const raw_answer *a, const char *key, long long value)
{
	json_t	   *root = json_loads(a->body, 0, NULL);

	ck_assert_msg(root != NULL, "answer is not JSON: %s", a->body);
	ck_assert_msg(json_is_integer(json_object_get(root, key)),
				  "no integer %s in %s", key, a->body);
	ck_assert_int_eq(json_integer_value(json_object_get(root, key)), value);
	json_decref(root);
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Batches 1..3 stored in order; a repeat acknowledged once; a gap refused. */
START_TEST(test_in_order_duplicate_gap)
{
	http_env	env;
	env_params	p = {0};
	tp_plugin_ctx *out;
	tp_batch	b[6];
	raw_answer	a;
	char		url[128];
	char	   *wire;
	size_t		len;
	const char *const typed[] = {
		"Content-Type: application/x-teleport-batch", NULL
	};

	env_start(&env, "http_order", &p);
	out = sender(&env, "out");
	for (int i = 1; i <= 5; i++)
		b[i] = make_batch("out", (uint64_t) i, data_a, 2);

	ck_assert_inbox(&env, "");
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(env.cb->send(out, &b[i]), TP_OK);
	ck_assert_inbox(&env, "out/1,out/2,out/3");

	/* batch 2 again: acknowledged, not stored twice */
	ck_assert_int_eq(env.cb->send(out, &b[2]), TP_OK);
	ck_assert_inbox(&env, "out/1,out/2,out/3");
	wire = wire_of(&b[2], &len);
	raw_request(&a, "POST", url_of(url, sizeof(url), env.port, "/v1/batches"),
				typed, wire, len, NULL);
	free(wire);
	ck_assert_int_eq(a.status, 200);
	assert_json_str(&a, "status", "duplicate");
	assert_json_int(&a, "seq", 2);
	assert_json_int(&a, "expected_seq", 4);

	/* batch 5 before 4: a gap, refused, nothing stored */
	ck_assert_int_eq(env.cb->send(out, &b[5]), TP_ERROR);
	ck_assert_inbox(&env, "out/1,out/2,out/3");
	wire = wire_of(&b[5], &len);
	raw_request(&a, "POST", url, typed, wire, len, NULL);
	free(wire);
	ck_assert_int_eq(a.status, 409);
	assert_json_str(&a, "status", "gap");
	assert_json_str(&a, "error", NULL);
	assert_json_int(&a, "expected_seq", 4);

	/* then in order again */
	ck_assert_int_eq(env.cb->send(out, &b[4]), TP_OK);
	ck_assert_int_eq(env.cb->send(out, &b[5]), TP_OK);
	ck_assert_inbox(&env, "out/1,out/2,out/3,out/4,out/5");

	/* a batch 3 with other content: a conflict */
	b[3] = make_batch("out", 3, strchr(data_a, '\n') + 1, 1);
	wire = wire_of(&b[3], &len);
	raw_request(&a, "POST", url, typed, wire, len, NULL);
	free(wire);
	ck_assert_int_eq(a.status, 409);
	assert_json_str(&a, "status", "conflict");
	ck_assert_int_eq(env.cb->send(out, &b[3]), TP_ERROR);
	ck_assert_inbox(&env, "out/1,out/2,out/3,out/4,out/5");

	env_close(&env);
}
END_TEST


/* POST batch's wire form to port's /v1/batches with headers. */
static void
post_batch(raw_answer *a, int port, const tp_batch *b,
		   const char *const *headers)
{
	char		url[128];
	size_t		len;
	char	   *wire = wire_of(b, &len);

	raw_request(a, "POST", url_of(url, sizeof(url), port, "/v1/batches"),
				headers, wire, len, NULL);
	free(wire);
}

/* Tokens: inline on the server, from a file on the client; wrong: 401. */
START_TEST(test_token)
{
	http_env	env;
	env_params	p = {0};
	char	   *dir = tp_make_temp_dir("tp-http-token");
	char	   *token_file;
	char		endpoint_extra[512];
	tp_batch	b1 = make_batch("out", 1, data_a, 2);
	tp_batch	w1 = make_batch("wrong", 1, data_a, 2);
	tp_batch	n1 = make_batch("none", 1, data_a, 2);
	raw_answer	a;
	char		url[128];
	const char *const wrong_headers[] = {
		"Content-Type: application/x-teleport-batch",
		"Authorization: Bearer s3cret-Token_41", NULL
	};
	const char *const no_token[] = {
		"Content-Type: application/x-teleport-batch", NULL
	};
	const char *const status_headers[] = {
		"Authorization: Bearer " TOKEN, NULL
	};

	ck_assert_ptr_nonnull(dir);
	/* the file's trailing newline is not part of the token */
	token_file = tp_write_file(dir, "token", TOKEN "\n");
	ck_assert_ptr_nonnull(token_file);
	snprintf(endpoint_extra, sizeof(endpoint_extra),
			 "      token_file: %s\n", token_file);
	p.endpoint_extra = endpoint_extra;
	p.server_extra = "  token: " TOKEN "\n";
	p.targets_extra =
		"  wrong:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: test\n"
		"    endpoint:\n"
		"      hostname: 127.0.0.1\n"
		"      port: @PORT@\n"
		"      token_env: TP_TEST_WRONG_TOKEN\n"
		"  none:\n"
		"    target_expression: \"public.*\"\n"
		"    apply_schema: test\n"
		"    endpoint:\n"
		"      hostname: 127.0.0.1\n"
		"      port: @PORT@\n";
	setenv("TP_TEST_WRONG_TOKEN", "not-the-token", 1);
	env_start(&env, "http_token", &p);

	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_OK);
	ck_assert_inbox(&env, "out/1");
	ck_assert_int_eq(env.cb->send(sender(&env, "wrong"), &w1), TP_ERROR);
	ck_assert_int_eq(env.cb->send(sender(&env, "none"), &n1), TP_ERROR);

	post_batch(&a, env.port, &w1, wrong_headers);
	ck_assert_int_eq(a.status, 401);
	assert_json_str(&a, "error", NULL);
	ck_assert_msg(tp_contains(a.headers, "WWW-Authenticate: Bearer"),
				  "no WWW-Authenticate in %s", a.headers);
	post_batch(&a, env.port, &n1, no_token);
	ck_assert_int_eq(a.status, 401);
	ck_assert_inbox(&env, "out/1");

	/* status needs the token; health does not */
	raw_request(&a, "GET", url_of(url, sizeof(url), env.port, "/v1/status"),
				NULL, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 401);
	raw_request(&a, "GET", url, status_headers, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 200);
	assert_json_str(&a, "instance", "src");
	raw_request(&a, "GET", url_of(url, sizeof(url), env.port, "/v1/health"),
				NULL, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 200);
	assert_json_str(&a, "status", "ok");

	env_close(&env);
	unsetenv("TP_TEST_WRONG_TOKEN");
	free(token_file);
	tp_remove_tree(dir);
	free(dir);
}
END_TEST

/* gzip src (len bytes) into a new buffer (free); its size in *out_len. */
static char *
gzip_buf(const char *src, size_t len, size_t *out_len)
{
	z_stream	zs;
	size_t		cap;
	char	   *out;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, 9, Z_DEFLATED, 31, 8,
								  Z_DEFAULT_STRATEGY), Z_OK);
	cap = deflateBound(&zs, len) + 64;
	out = malloc(cap);
	zs.next_in = (Bytef *) src;
	zs.avail_in = (uInt) len;
	zs.next_out = (Bytef *) out;
	zs.avail_out = (uInt) cap;
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/*
 * zstd src (len bytes), with a checksum, into a new buffer (free); its size
 * in *out_len.
 */
static char *
zstd_buf(const char *src, size_t len, size_t *out_len)
{
	size_t		cap = ZSTD_compressBound(len);
	char	   *out = malloc(cap);
	ZSTD_CCtx  *cc = ZSTD_createCCtx();

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(cc);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	*out_len = ZSTD_compress2(cc, out, cap, src, len);
	ck_assert_msg(!ZSTD_isError(*out_len), "%s", ZSTD_getErrorName(*out_len));
	ZSTD_freeCCtx(cc);
	return out;
}

/* unzstd src into a new NUL-terminated buffer (free), or NULL. */
static char *
unzstd_buf(const char *src, size_t len, size_t *out_len)
{
	size_t		cap = 1 << 20;
	char	   *out = malloc(cap);

	*out_len = ZSTD_decompress(out, cap - 1, src, len);
	if (ZSTD_isError(*out_len))
	{
		free(out);
		return NULL;
	}
	out[*out_len] = '\0';
	return out;
}

/* gunzip src into a new NUL-terminated buffer (free), or NULL. */
static char *
gunzip_buf(const char *src, size_t len, size_t *out_len)
{
	z_stream	zs;
	size_t		cap = 1 << 20;
	char	   *out = malloc(cap);
	int			rc;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = (Bytef *) src;
	zs.avail_in = (uInt) len;
	zs.next_out = (Bytef *) out;
	zs.avail_out = (uInt) cap - 1;
	rc = inflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	inflateEnd(&zs);
	if (rc != Z_STREAM_END)
	{
		free(out);
		return NULL;
	}
	out[*out_len] = '\0';
	return out;
}

/*
 * req's body is batch b's wire form, smaller, compressed with encoding
 * ("gzip" or "zstd") as its Content-Encoding says.
 */
static void
assert_encoded_body(const tp_httpsink_request *req, const char *encoding,
					const tp_batch *b)
{
	size_t		len;
	size_t		inflated_len;
	char	   *wire = wire_of(b, &len);
	char	   *inflated;

	ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), encoding);
	ck_assert_uint_lt(req->body_len, len);
	inflated = strcmp(encoding, "zstd") == 0
		? unzstd_buf(req->body, req->body_len, &inflated_len)
		: gunzip_buf(req->body, req->body_len, &inflated_len);
	ck_assert_ptr_nonnull(inflated);
	ck_assert_uint_eq(inflated_len, len);
	ck_assert_int_eq(memcmp(inflated, wire, len), 0);
	free(inflated);
	free(wire);
}

/* Malformed requests: 400, 404, 405, 411, 415; nothing stored. */
START_TEST(test_bad_requests)
{
	http_env	env;
	env_params	p = {0};
	tp_batch	b1 = make_batch("out", 1, data_a, 2);
	raw_answer	a;
	char		url[128];
	char	   *wire;
	char	   *v;
	char	   *gz;
	size_t		len;
	size_t		gz_len;
	const char *const typed[] = {
		"Content-Type: application/x-teleport-batch", NULL
	};
	const char *const text_plain[] = {"Content-Type: text/plain", NULL};
	const char *const brotli[] = {
		"Content-Type: application/x-teleport-batch",
		"Content-Encoding: br", NULL
	};
	const char *const gzipped[] = {
		"Content-Type: application/x-teleport-batch; charset=utf-8",
		"Content-Encoding: gzip", NULL
	};
	const char *const chunked[] = {
		"Content-Type: application/x-teleport-batch",
		"Transfer-Encoding: chunked", NULL
	};
	const char *const zstded[] = {
		"Content-Type: application/x-teleport-batch",
		"Content-Encoding: zstd", NULL
	};

	env_start(&env, "http_bad", &p);
	url_of(url, sizeof(url), env.port, "/v1/batches");

	raw_request(&a, "POST", url, typed, "hello, world\n", 13, NULL);
	ck_assert_int_eq(a.status, 400);
	assert_json_str(&a, "error", NULL);

	/* truncated: the last line cut short */
	wire = wire_of(&b1, &len);
	raw_request(&a, "POST", url, typed, wire, len - 10, NULL);
	ck_assert_int_eq(a.status, 400);
	assert_json_str(&a, "error", NULL);

	/* a format version this teleport does not know */
	v = strstr(wire, "\"teleport_batch\":1");
	ck_assert_ptr_nonnull(v);
	v[strlen("\"teleport_batch\":")] = '7';
	raw_request(&a, "POST", url, typed, wire, len, NULL);
	ck_assert_int_eq(a.status, 400);
	ck_assert_msg(tp_contains(a.body, "version") || tp_contains(a.body, "format"),
				  "answer does not name the version: %s", a.body);
	v[strlen("\"teleport_batch\":")] = '1';

	raw_request(&a, "POST", url, text_plain, wire, len, NULL);
	ck_assert_int_eq(a.status, 415);
	assert_json_str(&a, "error", NULL);
	raw_request(&a, "POST", url, brotli, wire, len, NULL);
	ck_assert_int_eq(a.status, 415);
	/* every answer, a refusal too, says which codings are accepted */
	ck_assert_msg(tp_contains(a.headers, "Accept-Encoding: zstd, gzip"), "%s", a.headers);
	ck_assert_msg(tp_contains(a.body, "zstd, gzip or identity"), "%s", a.body);
	raw_request(&a, "POST", url, gzipped, "not gzip at all", 15, NULL);
	ck_assert_int_eq(a.status, 400);
	raw_request(&a, "POST", url, chunked, wire, len, NULL);
	ck_assert_int_eq(a.status, 411);

	raw_request(&a, "GET", url, NULL, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 405);
	ck_assert_msg(tp_contains(a.headers, "Allow: POST"), "%s", a.headers);
	assert_json_str(&a, "error", NULL);
	raw_request(&a, "POST", url_of(url, sizeof(url), env.port, "/v1/health"),
				typed, wire, len, NULL);
	ck_assert_int_eq(a.status, 405);
	raw_request(&a, "DELETE", url_of(url, sizeof(url), env.port, "/v1/status"),
				NULL, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 405);
	raw_request(&a, "GET", url_of(url, sizeof(url), env.port, "/v2/batches"),
				NULL, NULL, 0, NULL);
	ck_assert_int_eq(a.status, 404);
	assert_json_str(&a, "error", NULL);
	ck_assert_inbox(&env, "");

	/* the same batch gzip'd is fine */
	gz = gzip_buf(wire, len, &gz_len);
	raw_request(&a, "POST", url_of(url, sizeof(url), env.port, "/v1/batches"),
				gzipped, gz, gz_len, NULL);
	ck_assert_int_eq(a.status, 200);
	assert_json_str(&a, "status", "stored");
	ck_assert_inbox(&env, "out/1");
	/* gzip followed by other bytes is not */
	b1 = make_batch("out", 2, data_a, 2);
	free(gz);
	free(wire);
	wire = wire_of(&b1, &len);
	gz = gzip_buf(wire, len, &gz_len);
	{
		char	   *junk = malloc(gz_len + 4);

		memcpy(junk, gz, gz_len);
		memcpy(junk + gz_len, "junk", 4);
		raw_request(&a, "POST", url, gzipped, junk, gz_len + 4, NULL);
		free(junk);
	}
	ck_assert_int_eq(a.status, 400);
	ck_assert_inbox(&env, "out/1");

	/* zstd: corrupt, truncated, trailed: 400 with the reason, nothing stored */
	free(gz);
	gz = zstd_buf(wire, len, &gz_len);
	ck_assert_uint_gt(gz_len, 16);
	{
		char	   *bad = malloc(gz_len + 4);

		memcpy(bad, gz, gz_len);
		bad[gz_len / 2] ^= 0x55;
		bad[gz_len / 2 + 1] ^= 0x55;
		raw_request(&a, "POST", url, zstded, bad, gz_len, NULL);
		ck_assert_int_eq(a.status, 400);
		ck_assert_msg(tp_contains(a.body, "not valid zstd data"), "%s", a.body);
		raw_request(&a, "POST", url, zstded, "not zstd at all", 15, NULL);
		ck_assert_int_eq(a.status, 400);
		ck_assert_msg(tp_contains(a.body, "not valid zstd data"), "%s", a.body);
		raw_request(&a, "POST", url, zstded, gz, gz_len - 3, NULL);
		ck_assert_int_eq(a.status, 400);
		ck_assert_msg(tp_contains(a.body, "zstd data is truncated"), "%s", a.body);
		memcpy(bad, gz, gz_len);
		memcpy(bad + gz_len, "junk", 4);
		raw_request(&a, "POST", url, zstded, bad, gz_len + 4, NULL);
		ck_assert_int_eq(a.status, 400);
		ck_assert_msg(tp_contains(a.body, "zstd"), "%s", a.body);
		free(bad);
	}
	ck_assert_inbox(&env, "out/1");
	/* the same batch zstd'd whole is stored */
	raw_request(&a, "POST", url, zstded, gz, gz_len, NULL);
	ck_assert_int_eq(a.status, 200);
	assert_json_str(&a, "status", "stored");
	ck_assert_msg(tp_contains(a.headers, "Accept-Encoding: zstd, gzip"), "%s", a.headers);
	ck_assert_inbox(&env, "out/1,out/2");
	/* and gzip still, as an older sender sends it, after zstd */
	free(gz);
	free(wire);
	b1 = make_batch("out", 3, data_a, 2);
	wire = wire_of(&b1, &len);
	gz = gzip_buf(wire, len, &gz_len);
	raw_request(&a, "POST", url, gzipped, gz, gz_len, NULL);
	ck_assert_int_eq(a.status, 200);
	ck_assert_inbox(&env, "out/1,out/2,out/3");

	free(gz);
	free(wire);
	env_close(&env);
}
END_TEST

/* max_body_size: refused before the body is read; gzip bombs too. */
START_TEST(test_limits)
{
	http_env	env;
	env_params	p = {0};
	raw_answer	a;
	char		url[128];
	size_t		big_len = 1 << 20;
	char	   *big = malloc(big_len);
	char	   *bomb;
	size_t		bomb_len;
	char	   *lines;
	tp_batch	b;
	const char *const expect[] = {
		"Content-Type: application/x-teleport-batch",
		"Expect: 100-continue", NULL
	};
	const char *const gzipped[] = {
		"Content-Type: application/x-teleport-batch",
		"Content-Encoding: gzip", NULL
	};

	p.server_extra = "  max_body_size: 4096\n";
	p.options_extra = "      compress_min_bytes: 0\n";
	env_start(&env, "http_limits", &p);
	url_of(url, sizeof(url), env.port, "/v1/batches");

	/* 1 MiB announced: 413 at once, the body never sent */
	memset(big, 'x', big_len);
	raw_request(&a, "POST", url, expect, big, big_len, NULL);
	ck_assert_int_eq(a.status, 413);
	assert_json_str(&a, "error", NULL);
	ck_assert_msg(a.uploaded < (curl_off_t) big_len,
				  "the whole body was sent (%lld bytes)", (long long) a.uploaded);

	/* a gzip bomb: 1 KiB on the wire, 1 MiB inflated */
	memset(big, 0, big_len);
	bomb = gzip_buf(big, big_len, &bomb_len);
	ck_assert_uint_lt(bomb_len, 4096);
	raw_request(&a, "POST", url, gzipped, bomb, bomb_len, NULL);
	ck_assert_int_eq(a.status, 413);
	ck_assert_msg(tp_contains(a.body, "inflated"), "%s", a.body);
	free(bomb);
	{
		const char *const zstded[] = {
			"Content-Type: application/x-teleport-batch",
			"Content-Encoding: zstd", NULL
		};

		/* a zstd bomb likewise */
		bomb = zstd_buf(big, big_len, &bomb_len);
		ck_assert_uint_lt(bomb_len, 4096);
		raw_request(&a, "POST", url, zstded, bomb, bomb_len, NULL);
		ck_assert_int_eq(a.status, 413);
		ck_assert_msg(tp_contains(a.body, "inflated"), "%s", a.body);
	}

	/* the sender: a batch over the limit is an error, a small one is fine */
	lines = repeated(data_a, 40);
	b = make_batch("out", 1, lines, 80);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b), TP_ERROR);
	ck_assert_inbox(&env, "");
	b = make_batch("out", 1, data_a, 2);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b), TP_OK);
	ck_assert_inbox(&env, "out/1");

	free(lines);
	free(bomb);
	free(big);
	env_close(&env);
}
END_TEST

/* What the sender puts on the wire, and how it reads answers (the sink). */
START_TEST(test_sender_wire)
{
	http_env	env;
	env_params	p = {0};
	tp_httpsink *ok = tp_httpsink_start(200);
	tp_httpsink *busy = tp_httpsink_start(503);
	tp_httpsink *gap = tp_httpsink_start(409);
	tp_httpsink *bad = tp_httpsink_start(400);
	tp_httpsink *zok = tp_httpsink_start(200);
	tp_httpsink *zold = tp_httpsink_start(415);
	char		targets[4096];
	const tp_httpsink_request *req;
	char	   *lines;
	tp_batch	small = make_batch("out", 1, data_a, 2);
	tp_batch	large;
	char	   *wire;
	size_t		len;

	ck_assert(ok && busy && gap && bad && zok && zold);
	/* zok: a server that accepts zstd; zold: one that refuses it */
	tp_httpsink_add_response_header(zok, "Accept-Encoding", "gzip;q=0.5, ZSTD");
	tp_httpsink_add_response_header(zold, "Accept-Encoding", "zstd;q=0, gzip");
	tp_httpsink_set_response_body(gap,
								  "{\"error\":\"batch 7 is beyond the next expected batch 3\","
								  "\"status\":\"gap\",\"expected_seq\":3}");
	tp_httpsink_set_response_body(bad, "{\"error\":\"nope\"}");
	snprintf(targets, sizeof(targets),
			 "  busy:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: %u\n"
			 "  gap:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: %u\n"
			 "  bad:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: %u\n"
			 "  zok:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: %u\n"
			 "    options:\n      compress_min_bytes: 1000\n"
			 "  zold:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: %u\n"
			 "    options:\n      compress_min_bytes: 1000\n",
			 tp_httpsink_port(busy), tp_httpsink_port(gap),
			 tp_httpsink_port(bad), tp_httpsink_port(zok),
			 tp_httpsink_port(zold));
	p.endpoint_port = tp_httpsink_port(ok);
	p.endpoint_extra = "      token: " TOKEN "\n";
	p.options_extra = "      compress_min_bytes: 1000\n";
	p.targets_extra = targets;
	env_open(&env, "http_wire", &p);
	env_start_senders(&env);

	/* below the threshold: plain */
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &small), TP_OK);
	req = tp_httpsink_request_at(ok, 0);
	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(req->method, "POST");
	ck_assert_str_eq(req->url, "/v1/batches");
	ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Type"),
					 "application/x-teleport-batch");
	ck_assert_str_eq(tp_httpsink_header_value(req, "Authorization"),
					 "Bearer " TOKEN);
	ck_assert_ptr_null(tp_httpsink_header_value(req, "Content-Encoding"));
	wire = wire_of(&small, &len);
	ck_assert_uint_eq(req->body_len, len);
	ck_assert_int_eq(memcmp(req->body, wire, len), 0);
	free(wire);

	/* above it: gzip, as ok does not say that it accepts zstd (older) */
	lines = repeated(data_a, 20);
	large = make_batch("out", 2, lines, 40);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &large), TP_OK);
	req = tp_httpsink_request_at(ok, 1);
	ck_assert_ptr_nonnull(req);
	ck_assert_uint_ge(req->body_len, 2);
	ck_assert_int_eq((unsigned char) req->body[0], 0x1f);
	ck_assert_int_eq((unsigned char) req->body[1], 0x8b);
	assert_encoded_body(req, "gzip", &large);
	/* and so it stays */
	large.seq = 3;
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &large), TP_OK);
	req = tp_httpsink_request_at(ok, 2);
	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), "gzip");

	/* zok: the first gzip, then zstd, as its answer lists zstd */
	large.target = "zok";
	large.seq = 2;
	ck_assert_int_eq(env.cb->send(sender(&env, "zok"), &large), TP_OK);
	large.seq = 3;
	ck_assert_int_eq(env.cb->send(sender(&env, "zok"), &large), TP_OK);
	req = tp_httpsink_request_at(zok, 0);
	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), "gzip");
	req = tp_httpsink_request_at(zok, 1);
	ck_assert_ptr_nonnull(req);
	assert_encoded_body(req, "zstd", &large);
	/* below the threshold still plain */
	small.target = "zok";
	small.seq = 4;
	ck_assert_int_eq(env.cb->send(sender(&env, "zok"), &small), TP_OK);
	req = tp_httpsink_request_at(zok, 2);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_null(tp_httpsink_header_value(req, "Content-Encoding"));

	/* zold: zstd;q=0 is no zstd: gzip (refused with 415: an error) */
	large.target = "zold";
	ck_assert_int_eq(env.cb->send(sender(&env, "zold"), &large), TP_ERROR);
	ck_assert_int_eq(env.cb->send(sender(&env, "zold"), &large), TP_ERROR);
	req = tp_httpsink_request_at(zold, 1);
	ck_assert_ptr_nonnull(req);
	ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), "gzip");

	/* 503: retry; 409 gap: error; 400: error */
	small.target = "busy";
	ck_assert_int_eq(env.cb->send(sender(&env, "busy"), &small), TP_RETRY);
	small.target = "gap";
	small.seq = 7;
	ck_assert_int_eq(env.cb->send(sender(&env, "gap"), &small), TP_ERROR);
	small.target = "bad";
	ck_assert_int_eq(env.cb->send(sender(&env, "bad"), &small), TP_ERROR);
	ck_assert_int_eq(tp_httpsink_count(busy), 1);
	ck_assert_int_eq(tp_httpsink_count(gap), 1);
	ck_assert_int_eq(tp_httpsink_count(bad), 1);

	/* busy named no Retry-After: nothing is posted to it for 1 s */
	small.target = "busy";
	small.seq = 1;
	ck_assert_int_eq(env.cb->send(sender(&env, "busy"), &small), TP_RETRY);
	ck_assert_int_eq(tp_httpsink_count(busy), 1);
	/* then it is asked again, and asks for 2 s (Retry-After) */
	tp_httpsink_add_response_header(busy, "Retry-After", "2");
	tp_nap_ms(1100);
	ck_assert_int_eq(env.cb->send(sender(&env, "busy"), &small), TP_RETRY);
	ck_assert_int_eq(tp_httpsink_count(busy), 2);
	tp_nap_ms(1100);
	ck_assert_int_eq(env.cb->send(sender(&env, "busy"), &small), TP_RETRY);
	ck_assert_int_eq(tp_httpsink_count(busy), 2);
	tp_nap_ms(1000);
	ck_assert_int_eq(env.cb->send(sender(&env, "busy"), &small), TP_RETRY);
	ck_assert_int_eq(tp_httpsink_count(busy), 3);

	free(lines);
	env_close(&env);
	tp_httpsink_stop(ok);
	tp_httpsink_stop(busy);
	tp_httpsink_stop(gap);
	tp_httpsink_stop(bad);
	tp_httpsink_stop(zok);
	tp_httpsink_stop(zold);
}
END_TEST

/*
 * A zstd body refused with 415 (a server replaced by an older one after it
 * said it accepts zstd): the batch is to be sent again (TP_RETRY), and goes
 * gzip'd from then on. With compression: gzip, never zstd.
 */
START_TEST(test_sender_zstd_fallback)
{
	for (int gzip_only = 0; gzip_only < 2; gzip_only++)
	{
		http_env	env;
		env_params	p = {0};
		tp_httpsink *sink = tp_httpsink_start(415);
		char	   *lines;
		tp_batch	large;
		const tp_httpsink_request *req;

		ck_assert_ptr_nonnull(sink);
		tp_httpsink_add_response_header(sink, "Accept-Encoding", "zstd, gzip");
		p.endpoint_port = tp_httpsink_port(sink);
		p.options_extra = gzip_only ?
			"      compress_min_bytes: 1000\n      compression: gzip\n" :
			"      compress_min_bytes: 1000\n";
		env_open(&env, gzip_only ? "http_zfall_gz" : "http_zfall", &p);
		env_start_senders(&env);
		lines = repeated(data_a, 20);
		large = make_batch("out", 1, lines, 40);
		/* gzip refused with 415: an error, but the answer lists zstd */
		ck_assert_int_eq(env.cb->send(sender(&env, "out"), &large), TP_ERROR);
		/* zstd (or gzip again), refused: retry, then gzip */
		ck_assert_int_eq(env.cb->send(sender(&env, "out"), &large),
						 gzip_only ? TP_ERROR : TP_RETRY);
		ck_assert_int_eq(env.cb->send(sender(&env, "out"), &large), TP_ERROR);
		ck_assert_int_eq(tp_httpsink_count(sink), 3);
		req = tp_httpsink_request_at(sink, 0);
		ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), "gzip");
		req = tp_httpsink_request_at(sink, 1);
		ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"),
						 gzip_only ? "gzip" : "zstd");
		req = tp_httpsink_request_at(sink, 2);
		ck_assert_str_eq(tp_httpsink_header_value(req, "Content-Encoding"), "gzip");
		free(lines);
		env_close(&env);
		tp_httpsink_stop(sink);
	}
}
END_TEST

/* The server down: TP_RETRY at once; up: stored; stopped again, restarted. */
/* How many lines of the file at path contain needle. */
static int
count_in_file(const char *path, const char *needle)
{
	FILE	   *f = fopen(path, "r");
	char		line[8192];
	int			n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
	{
		if (strstr(line, needle) != NULL)
			n++;
	}
	fclose(f);
	return n;
}

START_TEST(test_down_then_up)
{
	http_env	env;
	env_params	p = {0};
	tp_batch	b1 = make_batch("out", 1, data_a, 2);
	tp_batch	b2 = make_batch("out", 2, data_a, 2);
	long long	t0;

	char		log_path[] = "/tmp/tp-http-down-XXXXXX";
	int			log_fd = mkstemp(log_path);
	int			saved_stderr = dup(STDERR_FILENO);

	/* the warnings go to a file of the test's */
	ck_assert_int_ge(log_fd, 0);
	ck_assert_int_ge(saved_stderr, 0);
	fflush(stderr);
	ck_assert_int_eq(dup2(log_fd, STDERR_FILENO), STDERR_FILENO);
	tp_log_set_level(TP_LOG_INFO);

	env_open(&env, "http_down", &p);
	env_start_senders(&env);
	t0 = now_ms();
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_RETRY);
	ck_assert_int_lt(now_ms() - t0, 1500);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_RETRY);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_RETRY);
	/* the same failure again is not a warning again (a dead target is tried often) */
	fflush(stderr);
	ck_assert_int_eq(count_in_file(log_path, "could not send batch 1"), 1);

	env_start_server(&env);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_OK);
	ck_assert_inbox(&env, "out/1");

	/* receive_stop: the port is closed; the kept connection is gone too */
	env.cb->receive_stop(env.recv);
	env.recv_started = false;
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b2), TP_RETRY);
	ck_assert_inbox(&env, "out/1");
	/* after a success, a failure is news again */
	fflush(stderr);
	ck_assert_int_eq(count_in_file(log_path, "could not send batch 2"), 1);
	env_start_server(&env);
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b2), TP_OK);
	ck_assert_inbox(&env, "out/1,out/2");
	env_close(&env);
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(log_fd);
	unlink(log_path);
}
END_TEST

/* A server that accepts the connection but never answers: timeout_ms. */
START_TEST(test_no_answer)
{
	http_env	env;
	env_params	p = {0};
	tp_batch	b1 = make_batch("out", 1, data_a, 2);
	struct sockaddr_in sa;
	socklen_t	sa_len = sizeof(sa);
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	long long	t0;
	long long	took;

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);	/* the kernel accepts; we never do */
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &sa_len), 0);
	p.endpoint_port = ntohs(sa.sin_port);
	p.timeout_ms = 700;
	env_open(&env, "http_noanswer", &p);
	env_start_senders(&env);
	t0 = now_ms();
	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_RETRY);
	took = now_ms() - t0;
	ck_assert_msg(took >= 600 && took < 5000, "took %lld ms", took);
	env_close(&env);
	close(fd);
}
END_TEST

/* Run sh -c script; fail the test with its output unless it succeeds. */
static void
run_sh(const char *script)
{
	char	   *argv[] = {"/bin/sh", "-c", (char *) script, NULL};
	tp_cmd_result res;

	ck_assert(tp_run_cmd(argv, NULL, 60, &res));
	ck_assert_msg(res.status == 0, "%s failed (%d): %s%s", script, res.status,
				  res.out, res.err);
	tp_cmd_result_free(&res);
}

/* HTTPS: a verified server, a wrong CA, client certificates. */
START_TEST(test_tls)
{
	http_env	env;
	env_params	p = {0};
	char	   *dir;
	char		script[4096];
	char		server_extra[1024];
	char		endpoint_extra[1024];
	char		targets[4096];
	char		url[256];
	char		ca[512];
	tp_batch	b1 = make_batch("out", 1, data_a, 2);
	tp_batch	w1 = make_batch("wrongca", 1, data_a, 2);
	tp_batch	n1 = make_batch("nocert", 1, data_a, 2);
	tp_batch	r1 = make_batch("rogue", 1, data_a, 2);
	raw_answer	a;

	if (access("/usr/bin/openssl", X_OK) != 0 && system("command -v openssl >/dev/null 2>&1") != 0)
	{
		fprintf(stderr, "test_tls: SKIPPED: no openssl command to make certificates\n");
		return;
	}
	dir = tp_make_temp_dir("tp-http-tls");
	ck_assert_ptr_nonnull(dir);
	snprintf(script, sizeof(script),
			 "set -e; cd '%s'; "
			 "EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
			 "openssl req -x509 $EC -keyout ca.key -out ca.crt -days 2 -subj /CN=tp-test-ca 2>/dev/null; "
			 "openssl req -x509 $EC -keyout other.key -out other.crt -days 2 -subj /CN=tp-other-ca 2>/dev/null; "
			 "openssl req $EC -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null; "
			 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext; "
			 "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext 2>/dev/null; "
			 "openssl req $EC -keyout client.key -out client.csr -subj /CN=tp-client 2>/dev/null; "
			 "printf 'extendedKeyUsage=clientAuth\\n' > client.ext; "
			 "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext 2>/dev/null; "
			 "openssl x509 -req -in client.csr -CA other.crt -CAkey other.key -CAcreateserial -out rogue.crt -days 2 -extfile client.ext 2>/dev/null",
			 dir);
	run_sh(script);
	snprintf(server_extra, sizeof(server_extra),
			 "  tls_cert: %s/server.crt\n  tls_key: %s/server.key\n  tls_ca: %s/ca.crt\n",
			 dir, dir, dir);
	snprintf(endpoint_extra, sizeof(endpoint_extra),
			 "      tls_ca: %s/ca.crt\n      tls_cert: %s/client.crt\n      tls_key: %s/client.key\n",
			 dir, dir, dir);
	snprintf(targets, sizeof(targets),
			 "  wrongca:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: @PORT@\n"
			 "      tls_ca: %s/other.crt\n      tls_cert: %s/client.crt\n      tls_key: %s/client.key\n"
			 "  nocert:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: @PORT@\n"
			 "      tls_ca: %s/ca.crt\n"
			 "  rogue:\n    target_expression: \"public.*\"\n    apply_schema: test\n"
			 "    endpoint:\n      hostname: 127.0.0.1\n      port: @PORT@\n"
			 "      tls_ca: %s/ca.crt\n      tls_cert: %s/rogue.crt\n      tls_key: %s/client.key\n",
			 dir, dir, dir, dir, dir, dir, dir);
	p.server_extra = server_extra;
	p.endpoint_extra = endpoint_extra;
	p.targets_extra = targets;
	env_start(&env, "http_tls", &p);

	ck_assert_int_eq(env.cb->send(sender(&env, "out"), &b1), TP_OK);
	ck_assert_inbox(&env, "out/1");
	/* a server the CA did not sign: refused by the sender */
	ck_assert_int_eq(env.cb->send(sender(&env, "wrongca"), &w1), TP_ERROR);
	/* a sender without a client certificate: refused by the server */
	ck_assert_int_eq(env.cb->send(sender(&env, "nocert"), &n1), TP_ERROR);
	/* nor with one that another CA signed */
	ck_assert_int_eq(env.cb->send(sender(&env, "rogue"), &r1), TP_ERROR);
	ck_assert_inbox(&env, "out/1");

	/* health over https, verified; plain http on the https port fails */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/health", env.port);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	raw_request(&a, "GET", url, NULL, NULL, 0, ca);
	ck_assert_int_eq(a.status, 200);
	raw_request(&a, "GET", url_of(url, sizeof(url), env.port, "/v1/health"),
				NULL, NULL, 0, NULL);
	ck_assert_int_ne(a.status, 200);

	env_close(&env);
	tp_remove_tree(dir);
	free(dir);
}
END_TEST

/* The suite. */
static Suite *
http_suite(void)
{
	Suite	   *s = suite_create("http");
	TCase	   *tc = tcase_create("http");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_in_order_duplicate_gap);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_sender_wire);
	tcase_add_test(tc, test_sender_zstd_fallback);
	tcase_add_test(tc, test_down_then_up);
	tcase_add_test(tc, test_no_answer);
	tcase_add_test(tc, test_tls);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int
main(void)
{
	return tp_check_run(http_suite());
}
