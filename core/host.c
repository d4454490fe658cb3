/*
 * host.c
 *     The host services table handed to plugins, and plugin contexts.
 */
#include "tp_autoconf.h"

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "batch_wire.h"
#include "host.h"
#include "log.h"
#include "xalloc.h"

/* What the host keeps with a context; ctx is first so the two convert. */
typedef struct host_ctx
{
	tp_plugin_ctx ctx;
	const tp_config *config;
	const char *conninfo;
	const tp_node *options;
	const tp_option_desc *table;
	char	   *component;		/* the log component: plugin[target] */
	const tp_host_services *services;	/* or NULL */
	uint16_t	abi_minor;		/* the ABI minor the plugin was built for */
} host_ctx;

/* Set by tp_host_request_stop, possibly from a signal handler. */
static atomic_bool stop_requested;

/* The calling thread's capture of plugin messages (tp_host_capture_begin). */
static _Thread_local char *capture_buf;
static _Thread_local size_t capture_len;

/* The host_ctx around a plugin's ctx. */
static const host_ctx *
host_of(const tp_plugin_ctx *ctx)
{
	return (const host_ctx *) ctx;
}

/* host->log: one line tagged with the plugin instance's name. */
static void
host_log(const tp_plugin_ctx *ctx, tp_log_level level, const char *fmt,...)
{
	va_list		ap;

	if (level < TP_LOG_ERROR || level > TP_LOG_DEBUG)
		level = TP_LOG_ERROR;
	if (capture_buf != NULL && level <= TP_LOG_WARNING)
	{
		va_start(ap, fmt);
		vsnprintf(capture_buf, capture_len, fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	tp_logv(level, ctx != NULL ? host_of(ctx)->component : "plugin", fmt, ap);
	va_end(ap);
}

/* See host.h. */
void
tp_host_capture_begin(char *buf, size_t len)
{
	capture_buf = len > 0 ? buf : NULL;
	capture_len = len;
	if (capture_buf != NULL)
		capture_buf[0] = '\0';
}

/* See host.h. */
void
tp_host_capture_end(void)
{
	capture_buf = NULL;
	capture_len = 0;
}

/* host->option: a declared option's checked value or default. */
static const char *
host_option(const tp_plugin_ctx *ctx, const char *name)
{
	const host_ctx *h = host_of(ctx);

	return tp_config_option(h->options, h->table, name);
}

/* host->config_value: any scalar of the instance's config. */
static const char *
host_config_value(const tp_plugin_ctx *ctx, const char *path)
{
	return tp_config_value(host_of(ctx)->config, path);
}

/* host->conninfo: the instance database's conninfo. */
static const char *
host_conninfo(const tp_plugin_ctx *ctx)
{
	return host_of(ctx)->conninfo;
}

/*
 * The bytes of tp_change that a plugin built for ABI minor `minor` has:
 * fields appended later are neither written nor announced by size.
 */
static size_t
change_size_for(uint16_t minor)
{
	if (minor >= 1)
		return sizeof(tp_change);
	return offsetof(tp_change, text_values);
}

/*
 * host->change_next: decode one change; a malformed line is logged here.
 * Only the part of *change that the plugin's ABI minor knows is written
 * (ABI 1.0's without a context), and its size says so.
 */
static tp_result
host_change_next(const tp_plugin_ctx *ctx, const tp_batch *batch,
				 tp_change_cursor *cursor, tp_change *change)
{
	char		reason[256];
	tp_change	full;
	tp_result	r = tp_change_next(batch, cursor, &full, reason, sizeof(reason));
	size_t		n = change_size_for(ctx != NULL ? host_of(ctx)->abi_minor : 0);

	memcpy(change, &full, n);
	if (full.size != 0)
		change->size = (uint32_t) n;

	if (r != TP_OK)
		host_log(ctx, TP_LOG_ERROR,
				 "malformed change in batch %llu from \"%s\": %s",
				 (unsigned long long) batch->seq,
				 batch->source ? batch->source : "?", reason);
	return r;
}

/* host->batch_header. */
static char *
host_batch_header(const tp_plugin_ctx *ctx, const tp_batch *batch)
{
	(void) ctx;
	return tp_batch_header(batch);
}

/* host->batch_parse. */
static tp_result
host_batch_parse(const tp_plugin_ctx *ctx, const char *buf, size_t len,
				 tp_batch **batch, char *reason, size_t reason_len)
{
	(void) ctx;
	return tp_batch_parse(buf, len, batch, reason, reason_len);
}

/* host->batch_parse_borrowed. */
static tp_result
host_batch_parse_borrowed(const tp_plugin_ctx *ctx, const char *buf, size_t len,
						  tp_batch **batch, char *reason, size_t reason_len)
{
	(void) ctx;
	return tp_batch_parse_borrowed(buf, len, batch, reason, reason_len);
}

/*
 * A crash injected for the delivery tests: when the environment variable
 * name holds the batch's seq, the process ends at once, as a power cut
 * would, without answering the sender. Unset in production, it costs a
 * getenv per batch.
 */
static void
crash_point(const tp_batch *batch, const char *name)
{
	const char *seq = getenv(name);

	if (seq != NULL && strtoull(seq, NULL, 10) == batch->seq)
	{
		tp_log(TP_LOG_WARNING, "host", "%s=%s: exiting without an answer", name, seq);
		_exit(75);
	}
}

/* host->deliver: the receiving side's hand-off to the durable inbox. */
static tp_result
host_deliver(const tp_plugin_ctx *ctx, const tp_batch *batch,
			 tp_delivery *outcome)
{
	const tp_host_services *svc = host_of(ctx)->services;
	tp_result	r;

	if (svc == NULL || svc->inbox == NULL)
	{
		outcome->status = TP_DELIVERY_UNAVAILABLE;
		snprintf(outcome->reason, sizeof(outcome->reason),
				 "instance \"%s\" has no inbox: it has no server section",
				 ctx->instance);
		host_log(ctx, TP_LOG_ERROR, "refused a batch: %s", outcome->reason);
		return TP_RETRY;
	}
	crash_point(batch, "TELEPORT_TEST_EXIT_BEFORE_STORE");
	r = tp_inbox_store(svc->inbox, batch, outcome);
	if (outcome->status == TP_DELIVERY_STORED)
	{
		crash_point(batch, "TELEPORT_TEST_EXIT_AFTER_STORE");
		if (svc->stored != NULL)
			svc->stored(svc->stored_arg);
	}
	return r;
}

/* host->status_json: the instance's status, from the daemon. */
static char *
host_status_json(const tp_plugin_ctx *ctx)
{
	const tp_host_services *svc = host_of(ctx)->services;

	if (svc == NULL || svc->status_json == NULL)
		return NULL;
	return svc->status_json(svc->status_arg);
}

/* host->stopping. */
static bool
host_stopping(const tp_plugin_ctx *ctx)
{
	(void) ctx;
	return tp_host_stop_requested();
}

/* host->table_selected: does any target of the instance select the table? */
static bool
host_table_selected(const tp_plugin_ctx *ctx, const char *schema,
					const char *table)
{
	const tp_config *config = host_of(ctx)->config;

	for (size_t i = 0; i < config->n_targets; i++)
	{
		if (config->targets[i].n_expressions > 0 &&
			tp_table_filter_match(&config->targets[i].filter, schema, table))
			return true;
	}
	return false;
}

/* host->free. */
static void
host_free(void *ptr)
{
	free(ptr);
}

static const tp_host_api host_api = {
	.size = sizeof(tp_host_api),
	.abi_major = TELEPORT_ABI_MAJOR,
	.abi_minor = TELEPORT_ABI_MINOR,
	.teleport_version = PACKAGE_VERSION,
	.log = host_log,
	.option = host_option,
	.config_value = host_config_value,
	.conninfo = host_conninfo,
	.change_next = host_change_next,
	.change_cursor_done = tp_change_cursor_done,
	.batch_header = host_batch_header,
	.batch_parse = host_batch_parse,
	.batch_free = tp_batch_free,
	.deliver = host_deliver,
	.stopping = host_stopping,
	.free = host_free,
	.table_selected = host_table_selected,
	.status_json = host_status_json,
	.batch_parse_borrowed = host_batch_parse_borrowed,
};

/* See host.h. */
const tp_host_api *
tp_host_api_get(void)
{
	return &host_api;
}

/* See host.h. */
tp_plugin_ctx *
tp_host_ctx_new(const tp_config *config, const char *conninfo,
				const tp_plan_entry *entry)
{
	host_ctx   *h = tp_xcalloc(1, sizeof(host_ctx));
	const char *name = entry->plugin->info->name;
	size_t		len;

	h->config = config;
	h->conninfo = conninfo;
	h->options = entry->options;
	h->table = entry->plugin->info->options;
	h->abi_minor = entry->plugin->info->abi_minor;
	len = strlen(name) + (entry->target ? strlen(entry->target) : 0) + 3;
	h->component = tp_xmalloc(len);
	if (entry->target != NULL)
		snprintf(h->component, len, "%s[%s]", name, entry->target);
	else
		snprintf(h->component, len, "%s", name);

	h->ctx.size = sizeof(tp_plugin_ctx);
	h->ctx.host = &host_api;
	h->ctx.instance = config->database.name;
	h->ctx.plugin = name;
	h->ctx.section = entry->section;
	h->ctx.target = entry->target;
	h->ctx.receiving = entry->role == TP_ROLE_RECEIVE;
	return &h->ctx;
}

/* See host.h. */
void
tp_host_ctx_set_services(tp_plugin_ctx *ctx, const tp_host_services *services)
{
	((host_ctx *) ctx)->services = services;
}

/* See host.h. */
void
tp_host_ctx_free(tp_plugin_ctx *ctx)
{
	host_ctx   *h = (host_ctx *) ctx;

	if (h == NULL)
		return;
	free(h->component);
	free(h);
}

/* See host.h. */
void
tp_host_request_stop(void)
{
	atomic_store(&stop_requested, true);
}

/* See host.h. */
bool
tp_host_stop_requested(void)
{
	return atomic_load(&stop_requested);
}
