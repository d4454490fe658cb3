/*
 * transport_driver.c
 *     The driver of bench/transport: runs the receiving half of a transport
 *     (the real plugin, loaded through the core's loader, storing into the
 *     durable inbox), times its sending half over N batches, times the
 *     inbox alone on the same batches, and writes the batches' wire form
 *     for a client that is not teleport (curl). Not installed; built on
 *     demand with "make bench/transport_driver".
 *
 * Usage:
 *   transport_driver serve CONFIG CONNINFO
 *       start the receiving half of CONFIG's server section, storing into
 *       CONNINFO's inbox; print "ready" on stdout; run until SIGTERM/SIGINT
 *   transport_driver send CONFIG TARGET STREAM FIRST COUNT CHANGES
 *       send COUNT batches (seq FIRST ...) of stream STREAM, CHANGES change
 *       lines each, through the sending half of CONFIG's target TARGET
 *   transport_driver store CONNINFO STREAM FIRST COUNT CHANGES
 *       store the same batches into CONNINFO's inbox directly (no transport)
 *   transport_driver wire STREAM FIRST COUNT CHANGES DIR
 *       write the same batches' wire form to DIR/SEQ (six digits)
 *
 * send and store print one line: "batches=N bytes=B seconds=S", B being
 * the wire bytes before any compression. Plugins are found in
 * $TELEPORT_PLUGIN_DIR. A batch of stream S is (source "bench", target S):
 * every client writes its own stream, so none of them sends duplicates.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "config.h"
#include "host.h"
#include "inbox.h"
#include "loader.h"
#include "log.h"
#include "plan.h"

#define BENCH_SOURCE "bench"

/* A run's batches: built before the clock starts. */
typedef struct bench_batches
{
	tp_batch   *batch;
	char	  **data;
	size_t		n;
	size_t		wire_bytes;		/* header lines and data, uncompressed */
} bench_batches;

/* Seconds on the monotonic clock. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Parse a positive decimal argument; exits on anything else. */
static uint64_t
parse_count(const char *text, const char *what)
{
	char	   *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v == 0)
	{
		fprintf(stderr, "transport_driver: invalid %s \"%s\"\n", what, text);
		exit(2);
	}
	return (uint64_t) v;
}

/*
 * The change lines of batch seq of a stream: changes updates of a payments
 * table, each line about 240 bytes, as the trigger source writes them. A
 * new string (free); its length in *len.
 */
static char *
make_data(uint64_t seq, uint64_t changes, size_t *len)
{
	size_t		cap = changes * 320 + 1;
	char	   *data = malloc(cap);
	size_t		off = 0;

	if (data == NULL)
	{
		fprintf(stderr, "transport_driver: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < changes; i++)
	{
		uint64_t	id = seq * 100000 + i;
		int			n;

		n = snprintf(data + off, cap - off,
					 "{\"op\":\"u\",\"before\":{\"id\":%" PRIu64 "},"
					 "\"after\":{\"id\":%" PRIu64 ",\"account\":\"ACC-%08" PRIu64 "\","
					 "\"amount\":%" PRIu64 ".%02u,\"currency\":\"BRL\"},"
					 "\"source\":{\"name\":\"" BENCH_SOURCE "\",\"schema\":\"public\","
					 "\"table\":\"payments\",\"txid\":%" PRIu64 ",\"seq\":%" PRIu64 ","
					 "\"batch\":%" PRIu64 "},\"ts_ms\":1795000000000}\n",
					 id, id, id % 100000000, (id * 7919) % 1000000,
					 (unsigned) (id % 100), 7000 + seq, id, seq);
		off += (size_t) n;
	}
	data[off] = '\0';
	*len = off;
	return data;
}

/* Build count batches of stream from seq first on; bench_batches_free. */
static void
bench_batches_build(bench_batches *bb, const char *stream, uint64_t first,
					uint64_t count, uint64_t changes)
{
	memset(bb, 0, sizeof(*bb));
	bb->batch = calloc(count, sizeof(tp_batch));
	bb->data = calloc(count, sizeof(char *));
	if (bb->batch == NULL || bb->data == NULL)
	{
		fprintf(stderr, "transport_driver: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < count; i++)
	{
		tp_batch   *b = &bb->batch[i];
		char	   *header;

		b->size = sizeof(*b);
		b->format = TELEPORT_BATCH_FORMAT;
		b->kind = TP_BATCH_CHANGES;
		b->source = BENCH_SOURCE;
		b->target = stream;
		b->seq = first + i;
		b->n_changes = changes;
		b->first_tick = b->seq;
		b->last_tick = b->seq + 1;
		b->apply_schema = "public";
		bb->data[i] = make_data(b->seq, changes, &b->data_len);
		b->data = bb->data[i];
		header = tp_batch_header(b);
		if (header == NULL)
			exit(1);
		bb->wire_bytes += strlen(header) + b->data_len;
		free(header);
		bb->n++;
	}
}

/* Free what bench_batches_build allocated. */
static void
bench_batches_free(bench_batches *bb)
{
	for (size_t i = 0; i < bb->n; i++)
		free(bb->data[i]);
	free(bb->data);
	free(bb->batch);
}

/* An instance's config and plugins, as the daemon sets them up. */
typedef struct bench_instance
{
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
} bench_instance;

/*
 * Load config_path and the plugins, and resolve the plan entry of role
 * (and, for TP_ROLE_SEND, of target). Returns the initialized entry, or
 * NULL after a message.
 */
static tp_plan_entry *
instance_open(bench_instance *inst, const char *config_path, tp_role role,
			  const char *target)
{
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");

	memset(inst, 0, sizeof(*inst));
	if (dir == NULL)
	{
		fprintf(stderr, "transport_driver: TELEPORT_PLUGIN_DIR is not set\n");
		return NULL;
	}
	if (!tp_config_load(config_path, &inst->config))
		return NULL;
	(void) tp_loader_scan(dir, &inst->set);
	tp_plan_build(inst->config, &inst->plan);
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		tp_plan_entry *e = &inst->plan.entries[i];
		tp_plan		one = {e, 1};

		if (e->role != role ||
			(role == TP_ROLE_SEND && strcmp(e->target, target) != 0))
			continue;
		if (!tp_plan_resolve(&one, &inst->set, inst->config) ||
			!tp_plugin_initialize(e->plugin, tp_host_api_get()))
			return NULL;
		return e;
	}
	fprintf(stderr, "transport_driver: %s has no %s entry%s%s\n", config_path,
			tp_role_name(role), target ? " for target " : "", target ? target : "");
	return NULL;
}

/* Free what instance_open loaded. */
static void
instance_close(bench_instance *inst)
{
	tp_plan_free(&inst->plan);
	tp_loader_free(&inst->set);
	tp_config_free(inst->config);
}

/* Run the receiving half until SIGTERM or SIGINT. Exit status. */
static int
cmd_serve(const char *config_path, const char *conninfo)
{
	bench_instance inst;
	tp_plan_entry *e;
	const tp_transport_callbacks *cb;
	tp_plugin_ctx *ctx;
	tp_host_services svc;
	sigset_t	sigs;
	int			sig;
	int			status = 1;

	/* blocked before the server's threads exist, so they inherit it */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	e = instance_open(&inst, config_path, TP_ROLE_RECEIVE, NULL);
	if (e == NULL)
	{
		instance_close(&inst);
		return 1;
	}
	cb = e->plugin->callbacks;
	ctx = tp_host_ctx_new(inst.config, conninfo, e);
	memset(&svc, 0, sizeof(svc));
	svc.inbox = tp_inbox_new(conninfo, tp_config_value(inst.config, "database.name"));
	if (ctx == NULL || svc.inbox == NULL)
		goto done;
	tp_host_ctx_set_services(ctx, &svc);
	if (cb->startup(ctx) != TP_OK)
		goto done;
	if (cb->receive_start(ctx) != TP_OK)
	{
		if (cb->shutdown)
			cb->shutdown(ctx);
		goto done;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&sigs, &sig);
	cb->receive_stop(ctx);
	if (cb->shutdown)
		cb->shutdown(ctx);
	status = 0;
done:
	if (ctx != NULL)
		tp_host_ctx_free(ctx);
	tp_inbox_free(svc.inbox);
	instance_close(&inst);
	return status;
}

/* Send the batches through CONFIG's target; print the timing. Exit status. */
static int
cmd_send(const char *config_path, const char *target, const char *stream,
		 uint64_t first, uint64_t count, uint64_t changes)
{
	bench_instance inst;
	tp_plan_entry *e;
	const tp_transport_callbacks *cb;
	tp_plugin_ctx *ctx = NULL;
	bench_batches bb;
	double		t0;
	double		t1;
	int			status = 1;

	bench_batches_build(&bb, stream, first, count, changes);
	e = instance_open(&inst, config_path, TP_ROLE_SEND, target);
	if (e == NULL)
		goto done;
	cb = e->plugin->callbacks;
	ctx = tp_host_ctx_new(inst.config, "", e);
	if (ctx == NULL || cb->startup(ctx) != TP_OK)
		goto done;
	t0 = now_s();
	for (size_t i = 0; i < bb.n; i++)
	{
		tp_result	r = cb->send(ctx, &bb.batch[i]);

		if (r != TP_OK)
		{
			fprintf(stderr, "transport_driver: batch %" PRIu64 " of %s not acknowledged (%d)\n",
					bb.batch[i].seq, stream, (int) r);
			if (cb->shutdown)
				cb->shutdown(ctx);
			goto done;
		}
	}
	t1 = now_s();
	if (cb->shutdown)
		cb->shutdown(ctx);
	printf("batches=%zu bytes=%zu seconds=%.6f\n", bb.n, bb.wire_bytes, t1 - t0);
	status = 0;
done:
	if (ctx != NULL)
		tp_host_ctx_free(ctx);
	instance_close(&inst);
	bench_batches_free(&bb);
	return status;
}

/* Store the batches into the inbox directly; print the timing. Exit status. */
static int
cmd_store(const char *conninfo, const char *stream, uint64_t first,
		  uint64_t count, uint64_t changes)
{
	tp_inbox   *inbox = tp_inbox_new(conninfo, "bench-target");
	bench_batches bb;
	double		t0;
	double		t1;
	int			status = 0;

	if (inbox == NULL)
		return 1;
	bench_batches_build(&bb, stream, first, count, changes);
	/* connect (and check the schema) before the clock starts */
	free(tp_inbox_status_json(inbox));
	t0 = now_s();
	for (size_t i = 0; i < bb.n; i++)
	{
		tp_delivery out;

		memset(&out, 0, sizeof(out));
		out.size = sizeof(out);
		if (tp_inbox_store(inbox, &bb.batch[i], &out) != TP_OK ||
			out.status != TP_DELIVERY_STORED)
		{
			fprintf(stderr, "transport_driver: batch %" PRIu64 " of %s not stored: %s\n",
					bb.batch[i].seq, stream, out.reason);
			status = 1;
			break;
		}
	}
	t1 = now_s();
	if (status == 0)
		printf("batches=%zu bytes=%zu seconds=%.6f\n", bb.n, bb.wire_bytes, t1 - t0);
	bench_batches_free(&bb);
	tp_inbox_free(inbox);
	return status;
}

/* Write the batches' wire form to dir/SEQ; print the bytes. Exit status. */
static int
cmd_wire(const char *stream, uint64_t first, uint64_t count, uint64_t changes,
		 const char *dir)
{
	bench_batches bb;
	int			status = 0;

	bench_batches_build(&bb, stream, first, count, changes);
	for (size_t i = 0; i < bb.n && status == 0; i++)
	{
		char		path[4096];
		char	   *header = tp_batch_header(&bb.batch[i]);
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/%06" PRIu64, dir, bb.batch[i].seq);
		f = fopen(path, "wb");
		if (f == NULL || header == NULL ||
			fwrite(header, 1, strlen(header), f) != strlen(header) ||
			fwrite(bb.batch[i].data, 1, bb.batch[i].data_len, f) != bb.batch[i].data_len)
		{
			fprintf(stderr, "transport_driver: could not write file \"%s\": %s\n",
					path, strerror(errno));
			status = 1;
		}
		if (f != NULL && fclose(f) != 0 && status == 0)
		{
			fprintf(stderr, "transport_driver: could not write file \"%s\": %s\n",
					path, strerror(errno));
			status = 1;
		}
		free(header);
	}
	if (status == 0)
		printf("batches=%zu bytes=%zu\n", bb.n, bb.wire_bytes);
	bench_batches_free(&bb);
	return status;
}

/* Print the usage and return the exit status of a usage error. */
static int
usage(void)
{
	fprintf(stderr,
			"usage: transport_driver serve CONFIG CONNINFO\n"
			"       transport_driver send CONFIG TARGET STREAM FIRST COUNT CHANGES\n"
			"       transport_driver store CONNINFO STREAM FIRST COUNT CHANGES\n"
			"       transport_driver wire STREAM FIRST COUNT CHANGES DIR\n");
	return 2;
}

/* Dispatch on the subcommand. */
int
main(int argc, char **argv)
{
	const char *level = getenv("BENCH_LOG_LEVEL");
	tp_log_level lv = TP_LOG_WARNING;

	if (level != NULL && !tp_log_parse_level(level, &lv))
		return usage();
	tp_log_set_level(lv);
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argv[2], argv[3]);
	if (argc == 8 && strcmp(argv[1], "send") == 0)
		return cmd_send(argv[2], argv[3], argv[4],
						parse_count(argv[5], "first seq"),
						parse_count(argv[6], "count"),
						parse_count(argv[7], "changes"));
	if (argc == 7 && strcmp(argv[1], "store") == 0)
		return cmd_store(argv[2], argv[3],
						 parse_count(argv[4], "first seq"),
						 parse_count(argv[5], "count"),
						 parse_count(argv[6], "changes"));
	if (argc == 7 && strcmp(argv[1], "wire") == 0)
		return cmd_wire(argv[2], parse_count(argv[3], "first seq"),
						parse_count(argv[4], "count"),
						parse_count(argv[5], "changes"), argv[6]);
	return usage();
}
