/*
 * event_trigger.c
 *     The event-trigger source (use_event_triggers: true): captures each
 *     schema change in the transaction of the DDL that makes it, through
 *     event triggers on ddl_command_end and sql_drop that hand the OIDs
 *     the statement touched to teleport.schema_capture. Its 'ddl' events
 *     so carry the DDL's transaction id and sit between the rows written
 *     before and after it, exactly. The comparison, the snapshot and the
 *     events are those of the schema-diff source (plugins/source/ddl);
 *     docs/schema.md has the design.
 *
 *   install    create or upgrade the shared objects, then the event
 *              triggers; the first time, take the first snapshot without
 *              emitting (the schema that exists is the starting point);
 *              later, emit what changed while teleport was not running
 *              and the triggers could not see (they were dropped, or a
 *              DDL ran under session_replication_role = replica)
 *   poll       check that the triggers are in place (one catalog read);
 *              every safety_diff_interval ms, compare the whole catalog
 *              with the snapshot, which emits only what the triggers did
 *              not (the snapshot already holds what they captured); send
 *              again the rows of tables queued for it (ddl_resend: a
 *              comparison's finds, or a DDL transaction that was not READ
 *              COMMITTED; the triggers send the others' in the DDL's
 *              transaction)
 *   uninstall  drop the event triggers, their functions and the shared
 *              objects
 *
 * Creating event triggers needs a superuser (rds_superuser on Amazon
 * RDS). Without that right, or when the triggers are dropped or disabled
 * later, the source says so once and compares the catalog at every poll,
 * as the schema-diff source does, rather than failing.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <time.h>

#include "../ddl/ddl.h"

/* The instance's state (private_data). */
typedef struct evt_state
{
	long long	safety_ms;		/* safety diff period; 0: never */
	long long	next_diff_ms;	/* when the next safety diff is due */
	bool		in_place;		/* the event triggers fire */
	bool		warned;			/* the fallback was reported */
} evt_state;

/* A monotonic clock in milliseconds. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read the options into a new evt_state (private_data). */
static tp_result
evt_startup(tp_plugin_ctx *ctx)
{
	const char *text = ctx->host->option(ctx, "safety_diff_interval");
	evt_state  *state = calloc(1, sizeof(evt_state));

	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	state->safety_ms = text != NULL ? strtoll(text, NULL, 10) : 60000;
	if (state->safety_ms < 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "safety_diff_interval must be 0 or more "
					   "milliseconds, not %lld", state->safety_ms);
		free(state);
		return TP_ERROR;
	}
	ctx->private_data = state;
	return TP_OK;
}

/*
 * Record whether the triggers fire; on a change to "not", say once, as a
 * warning, that the source diffs at every poll instead (denied: the
 * server's refusal, when that is the reason).
 */
static void
set_in_place(tp_plugin_ctx *ctx, evt_state *state, bool in_place,
			 const char *denied)
{
	if (!in_place && !state->warned)
	{
		if (denied != NULL && denied[0] != '\0')
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not create the event triggers (%s): falling back to comparing "
						   "the catalog with its snapshot at every ddlwatcher interval "
						   "(hint: creating event triggers needs a superuser, or rds_superuser on "
						   "Amazon RDS; connect as one, or set use_event_triggers: false)",
						   denied);
		else
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "the event triggers of the schema capture are missing or disabled: "
						   "falling back to comparing the catalog with its snapshot at every "
						   "ddlwatcher interval (hint: restart teleport as a superuser to "
						   "recreate them, or enable them with ALTER EVENT TRIGGER)");
		state->warned = true;
	}
	else if (in_place && !state->in_place && state->warned)
	{
		ctx->host->log(ctx, TP_LOG_INFO, "the event triggers of the schema capture "
					   "are in place again");
		state->warned = false;
	}
	state->in_place = in_place;
}

/* Objects, triggers, then the first snapshot or the catch-up. */
static tp_result
evt_install(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	evt_state  *state = ctx->private_data;
	char		denied[512];
	bool		first_taken = false;
	bool		in_place = false;
	long		n = 0;
	tp_result	r;

	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "the event-trigger source was not started");
		return TP_ERROR;
	}
	if ((r = ddl_setup(ctx, conn, &first_taken)) != TP_OK ||
		(r = ddl_event_triggers_install(ctx, conn, denied, sizeof(denied))) != TP_OK ||
		(r = ddl_event_triggers_check(ctx, conn, &in_place)) != TP_OK)
		return r;
	set_in_place(ctx, state, in_place, denied);

	/*
	 * After the triggers: a DDL transaction committed before this
	 * comparison is in it; one open now holds the capture's lock (shared)
	 * and makes it try again later (TP_RETRY); one after it is the
	 * triggers' (before the first snapshot they do nothing).
	 */
	r = ddl_capture(ctx, conn, NULL, first_taken, &n);
	if (r == TP_OK && !first_taken)
		ctx->host->log(ctx, TP_LOG_INFO, "took the first snapshot of the schema "
					   "(%ld objects are the starting point)", n);
	else if (r == TP_OK && n > 0)
		ctx->host->log(ctx, TP_LOG_INFO, "queued %ld schema change(s) the event "
					   "triggers did not capture", n);
	state->next_diff_ms = now_ms() + state->safety_ms;
	return r == TP_OK ? ddl_resend(ctx, conn) : r;
}

/* Check the triggers; diff when they are not there or a safety diff is due. */
static tp_result
evt_poll(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	evt_state  *state = ctx->private_data;
	bool		in_place = false;
	long		n = 0;
	tp_result	r;

	if (state == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "the event-trigger source was not started");
		return TP_ERROR;
	}
	if ((r = ddl_event_triggers_check(ctx, conn, &in_place)) != TP_OK)
		return r;
	set_in_place(ctx, state, in_place, NULL);
	if (in_place && (state->safety_ms == 0 || now_ms() < state->next_diff_ms))
		return ddl_resend(ctx, conn);
	r = ddl_capture(ctx, conn, NULL, true, &n);
	if (r != TP_OK)
		return r;
	state->next_diff_ms = now_ms() + state->safety_ms;
	if (n > 0)
		ctx->host->log(ctx, in_place ? TP_LOG_INFO : TP_LOG_DEBUG,
					   "queued %ld schema change(s)%s", n,
					   in_place ? " the event triggers did not capture" : "");
	return ddl_resend(ctx, conn);
}

/* The triggers and their functions, then the shared objects. */
static tp_result
evt_uninstall(tp_plugin_ctx *ctx, struct pg_conn *conn)
{
	char		denied[512];
	tp_result	r = ddl_event_triggers_drop(ctx, conn, denied, sizeof(denied));

	if (r == TP_OK && denied[0] != '\0')
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "could not drop the event triggers of the "
					   "schema capture: %s (hint: run the uninstall as a superuser)", denied);
		return TP_ERROR;
	}
	if (r == TP_OK)
		r = ddl_uninstall(ctx, conn);
	if (r == TP_OK)
		ctx->host->log(ctx, TP_LOG_INFO, "the event-trigger source is uninstalled");
	return r;
}

/* Free private_data. */
static void
evt_shutdown(tp_plugin_ctx *ctx)
{
	free(ctx->private_data);
	ctx->private_data = NULL;
}

/* Fill the source callbacks. */
static tp_result
evt_init(const tp_host_api *host, void *callbacks)
{
	tp_source_callbacks *cb = callbacks;

	(void) host;
	cb->startup = evt_startup;
	cb->install = evt_install;
	cb->poll = evt_poll;
	cb->uninstall = evt_uninstall;
	cb->shutdown = evt_shutdown;
	return TP_OK;
}

static const tp_option_desc evt_options[] = {
	{"safety_diff_interval", TP_OPTION_INT, "60000", false,
	"milliseconds between comparisons of the whole catalog with the snapshot, which catch what the event triggers cannot see (0: never)"},
	{NULL, 0, NULL, false, NULL}
};

TELEPORT_PLUGIN(TP_PLUGIN_SOURCE, "event-trigger", "1.0.0",
				"captures schema changes by event triggers, in the transaction of the DDL",
				evt_options, evt_init)
