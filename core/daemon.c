/*
 * daemon.c
 *     Running an instance: load and check its plugins, start them, keep its
 *     database connection (reconnecting with backoff), drive the plugins'
 *     periodic work at the configured intervals, and stop them cleanly on
 *     SIGINT or SIGTERM.
 *
 * The batcher, transmitter and applier loops that move batches are built on
 * this life cycle by the capture, transport and applier work; this file
 * owns the order: plugins are loaded and initialised before any thread
 * starts, started before the database is used, and shut down in reverse.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <teleport/teleport.h>

#include "apply_loop.h"
#include "backoff.h"
#include "clock.h"
#include "conninfo.h"
#include "daemon.h"
#include "exit_codes.h"
#include "host.h"
#include "load.h"
#include "load_send.h"
#include "loader.h"
#include "log.h"
#include "pgsql.h"
#include "plan.h"
#include "queue.h"
#include "sentry.h"
#include "status.h"
#include "target_worker.h"
#include "xalloc.h"

#define LOG_COMPONENT "daemon"

/* One plugin instance of the plan, and when its periodic work is due. */
typedef struct member
{
	tp_plan_entry *entry;
	tp_plugin_ctx *ctx;
	bool		started;		/* startup succeeded: shutdown is owed */
	bool		ready;			/* install/prepare/receive_start done */
	int			interval_ms;	/* of its periodic work */
	long long	due_ms;			/* next periodic work */
} member;

typedef struct instance
{
	const tp_config *config;
	char	   *conninfo;
	tp_plugin_set set;
	tp_plan		plan;
	member	   *members;
	tp_pgsql	db;
	bool		db_up;
	tp_backoff	db_backoff;
	long long	db_retry_ms;	/* next connection attempt */

	/* the source role: the queue and one transmitter per target */
	bool		queue_ready;	/* installed on the current connection */
	tp_target_worker *workers;	/* one sending thread per target */
	size_t		n_workers;
	member	   *lanes;			/* the senders' extra transport instances */
	size_t		n_lanes;
	long long	tick_due_ms;
	long long	vacuum_due_ms;
	long long	status_due_ms;	/* the backlog measurement */
	long long	report_due_ms;	/* the backlog report in the log */

	/* the receiving role: the apply loop's thread */
	tp_apply_loop *apply;
	member		apply_lane;		/* the applier's instance on its second lane */

	/* what plugins reach through the host: inbox and status */
	tp_inbox   *inbox;
	tp_status  *status;
	tp_host_services services;
} instance;

static bool start_workers(instance *inst);

/* How often a source measures its targets' backlog, and logs it. */
#define BACKLOG_MEASURE_MS 1000
#define BACKLOG_REPORT_MS 60000

/* SIGINT, SIGTERM: ask everything to stop. */
static void
on_stop_signal(int signo)
{
	(void) signo;
	tp_host_request_stop();
}

/* Route SIGINT and SIGTERM to a clean stop; ignore SIGPIPE (peers close). */
static void
install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* The interval of an entry's periodic work, from processing_intervals. */
static int
interval_of(const tp_config *config, tp_role role)
{
	switch (role)
	{
		case TP_ROLE_CAPTURE_ROWS:
			/* looking for new tables: their rows are copied when found */
		case TP_ROLE_CAPTURE_DDL:
			return config->intervals.ddlwatcher;
		case TP_ROLE_SEND:
			return config->intervals.transmitter;
		case TP_ROLE_RECEIVE:
		case TP_ROLE_APPLY:
			return config->intervals.applier;
	}
	return config->intervals.batcher;
}

/*
 * Load, resolve and initialise the plugins of the plan. Returns an exit
 * status; problems were logged.
 */
static int
load_plugins(instance *inst, const char *plugin_dirs)
{
	bool		ok;

	ok = tp_loader_scan(plugin_dirs, &inst->set);
	tp_plan_build(inst->config, &inst->plan);
	if (!tp_plan_resolve(&inst->plan, &inst->set, inst->config))
		ok = false;
	if (!ok)
	{
		tp_error(LOG_COMPONENT, "cannot start: fix the plugin problems above (teleport --list-plugins shows what the plugin path holds)");
		return TP_EXIT_PLUGIN;
	}
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		if (!tp_plugin_initialize(inst->plan.entries[i].plugin, tp_host_api_get()))
			return TP_EXIT_PLUGIN;
	}
	return TP_EXIT_OK;
}

/* Call the startup callback of m's plugin, if it has one. */
static tp_result
member_startup(member *m)
{
	void	   *cb = m->entry->plugin->callbacks;
	tp_result	(*startup) (tp_plugin_ctx *) = NULL;

	switch (m->entry->kind)
	{
		case TP_PLUGIN_SOURCE:
			startup = ((tp_source_callbacks *) cb)->startup;
			break;
		case TP_PLUGIN_TRANSPORT:
			startup = ((tp_transport_callbacks *) cb)->startup;
			break;
		case TP_PLUGIN_APPLIER:
			startup = ((tp_applier_callbacks *) cb)->startup;
			break;
	}
	return startup != NULL ? startup(m->ctx) : TP_OK;
}

/*
 * Make m ready to work once the database is up: a source installs what it
 * needs, an applier prepares the target, a receiving transport starts
 * listening.
 */
static tp_result
member_ready(member *m, PGconn *conn)
{
	void	   *cb = m->entry->plugin->callbacks;

	switch (m->entry->role)
	{
		case TP_ROLE_CAPTURE_ROWS:
		case TP_ROLE_CAPTURE_DDL:
			return ((tp_source_callbacks *) cb)->install(m->ctx, conn);
		case TP_ROLE_APPLY:
			/* the apply loop prepares its own connection (apply_loop.c) */
			return TP_OK;
		case TP_ROLE_RECEIVE:
			{
				tp_transport_callbacks *t = cb;

				return t->receive_start != NULL ? t->receive_start(m->ctx) : TP_OK;
			}
		case TP_ROLE_SEND:
			return TP_OK;
	}
	return TP_OK;
}

/* m's periodic work, when its plugin has any. */
static tp_result
member_poll(member *m, PGconn *conn)
{
	void	   *cb = m->entry->plugin->callbacks;

	switch (m->entry->role)
	{
		case TP_ROLE_CAPTURE_ROWS:
		case TP_ROLE_CAPTURE_DDL:
			{
				tp_source_callbacks *s = cb;

				return s->poll != NULL ? s->poll(m->ctx, conn) : TP_OK;
			}
		case TP_ROLE_RECEIVE:
			{
				tp_transport_callbacks *t = cb;

				return t->receive_poll != NULL ? t->receive_poll(m->ctx) : TP_OK;
			}
		case TP_ROLE_SEND:
		case TP_ROLE_APPLY:
			return TP_OK;
	}
	return TP_OK;
}

/* Stop m: a receiver stops accepting, then the plugin releases its state. */
static void
member_stop(member *m)
{
	void	   *cb = m->entry->plugin->callbacks;
	void		(*shutdown) (tp_plugin_ctx *) = NULL;

	if (!m->started)
		return;
	switch (m->entry->kind)
	{
		case TP_PLUGIN_SOURCE:
			shutdown = ((tp_source_callbacks *) cb)->shutdown;
			break;
		case TP_PLUGIN_TRANSPORT:
			{
				tp_transport_callbacks *t = cb;

				if (m->entry->role == TP_ROLE_RECEIVE && m->ready &&
					t->receive_stop != NULL)
					t->receive_stop(m->ctx);
				shutdown = t->shutdown;
				break;
			}
		case TP_PLUGIN_APPLIER:
			shutdown = ((tp_applier_callbacks *) cb)->shutdown;
			break;
	}
	if (shutdown != NULL)
		shutdown(m->ctx);
	m->started = false;
}

/*
 * Start up to n more instances of the sending transport of member m into
 * more[0, n) (zeroed by the caller), so that several batches may be in
 * flight at once. Only the http transport's instances are independent
 * clients of a server that takes concurrent requests; other transports
 * get one batch at a time (none is started). Returns how many started; an
 * instance that does not start is logged and ends the list.
 */
static int
start_more(instance *inst, const member *m, int n, member *more)
{
	if (strcmp(m->entry->plugin_name, "http") != 0)
		return 0;
	for (int i = 0; i < n; i++)
	{
		more[i].entry = m->entry;
		more[i].ctx = tp_host_ctx_new(inst->config, inst->conninfo, m->entry);
		tp_host_ctx_set_services(more[i].ctx, &inst->services);
		if (member_startup(&more[i]) != TP_OK)
		{
			tp_warning(LOG_COMPONENT, "another instance of transport \"%s\" of target "
					   "\"%s\" did not start: batches are sent one at a time",
					   m->entry->plugin_name, m->entry->target);
			tp_host_ctx_free(more[i].ctx);
			more[i].ctx = NULL;
			more[i].entry = NULL;
			return i;
		}
		more[i].started = true;
	}
	return n;
}

/* Stop and free the instances start_more started. */
static void
stop_more(member *more, int n)
{
	for (int i = 0; i < n; i++)
	{
		member_stop(&more[i]);
		tp_host_ctx_free(more[i].ctx);
		more[i].ctx = NULL;
	}
}

/*
 * Try to (re)connect when the connection is down and the backoff allows.
 * A failure is logged by pgsql.c with the reason; here only when the next
 * attempt is.
 */
static void
keep_connected(instance *inst)
{
	if (inst->db_up)
	{
		if (PQstatus(inst->db.conn) == CONNECTION_OK)
			return;
		tp_warning(LOG_COMPONENT, "lost the connection to database \"%s\"",
				   inst->config->database.name);
		tp_pgsql_close(&inst->db);
		inst->db_up = false;
		inst->queue_ready = false;
		for (size_t i = 0; i < inst->plan.n; i++)
		{
			if (inst->members[i].entry->role != TP_ROLE_RECEIVE)
				inst->members[i].ready = false;
		}
	}
	if (tp_clock_ms() < inst->db_retry_ms)
		return;
	if (tp_pgsql_connect(&inst->db, inst->conninfo, "the instance") &&
		tp_pgsql_pin_session(&inst->db))
	{
		inst->db_up = true;
		tp_backoff_reset(&inst->db_backoff);
		tp_info(LOG_COMPONENT, "connected to database \"%s\"", inst->config->database.name);
		return;
	}
	tp_pgsql_close(&inst->db);
	int			wait = tp_backoff_next(&inst->db_backoff);

	inst->db_retry_ms = tp_clock_ms() + wait;
	tp_info(LOG_COMPONENT, "retrying the connection in %d ms (attempt %u)",
			wait, inst->db_backoff.attempts);
}

/*
 * One pass over the members: make ready what is not, run periodic work that
 * is due. Returns false on a failure that retrying cannot mend (logged).
 *
 * The row capture member looks for new tables (and copies their rows) at
 * the DDL member's interval, and must do so in the same pass, after it, so
 * that a new table's creation is queued before its rows (docs/schema.md):
 * when it falls due while the DDL member (earlier in the plan) is ready but
 * not due, it is postponed to the DDL member's due time, and from then on
 * both run in the same passes.
 */
static bool
run_members(instance *inst)
{
	long long	now = tp_clock_ms();
	long long	ddl_due_ms = 0;	/* a ready DDL member not due this pass */

	for (size_t i = 0; i < inst->plan.n && inst->db_up; i++)
	{
		member	   *m = &inst->members[i];
		tp_result	r;

		/* sources write into the queue: not before it is installed */
		if (m->entry->kind == TP_PLUGIN_SOURCE && !inst->queue_ready)
			continue;
		if (m->entry->role == TP_ROLE_CAPTURE_DDL && m->ready && now < m->due_ms)
			ddl_due_ms = m->due_ms;
		if (m->entry->role == TP_ROLE_CAPTURE_ROWS && m->ready &&
			now >= m->due_ms && ddl_due_ms > now)
		{
			m->due_ms = ddl_due_ms;
			continue;
		}
		if (!m->ready)
		{
			if (now < m->due_ms)
				continue;
			r = member_ready(m, inst->db.conn);
			if (r == TP_OK)
				m->ready = true;
		}
		else if (now >= m->due_ms)
		{
			r = member_poll(m, inst->db.conn);
			m->due_ms = now + m->interval_ms;
		}
		else
			continue;
		if (r == TP_ERROR)
		{
			tp_error(LOG_COMPONENT, "%s plugin \"%s\" (%s) failed; stopping",
					 tp_role_name(m->entry->role), m->entry->plugin_name,
					 m->entry->wanted_by);
			return false;
		}
		if (r == TP_RETRY)
			m->due_ms = now + m->interval_ms;
		/* a callback may have found the connection dead */
		if (PQstatus(inst->db.conn) != CONNECTION_OK)
			keep_connected(inst);
	}
	return true;
}

/*
 * Measure each target's backlog for the status endpoint, and when log is
 * true, log each target that has batches waiting: how many, and the lag
 * (the age of the tick that closed the oldest), so that a target that is
 * down or slow is visible in the log too.
 */
static void
measure_backlog(instance *inst, bool log)
{
	for (size_t i = 0; i < inst->config->n_targets; i++)
	{
		const tp_target_config *t = &inst->config->targets[i];
		tp_queue_backlog b;

		if (!tp_queue_backlog_of(&inst->db, t->name, &b))
			return;
		tp_status_set_backlog(inst->status, i, &b);
		if (!log)
			continue;
		if (b.needs_resync)
			tp_error(LOG_COMPONENT, "target \"%s\" needs a resync: it lagged beyond queue_retention (%lld s); run an initial load for it",
					 t->name, (long long) inst->config->queue_retention);
		else if (b.loading != 0)
			tp_info(LOG_COMPONENT, "target \"%s\" is held by initial load %lld: its "
					"batches are cut once the load is sent (teleport.load shows its progress)",
					t->name, (long long) b.loading);
		else if (b.batches > 0)
			tp_info(LOG_COMPONENT, "target \"%s\": %lld batches waiting, lag %lld.%03lld s",
					t->name, (long long) b.batches,
					(long long) (b.oldest_age_ms / 1000),
					(long long) (b.oldest_age_ms % 1000));
	}
}

/* Wake the sending thread of target. */
static void
wake_worker(instance *inst, const tp_target_config *target)
{
	for (size_t i = 0; i < inst->n_workers; i++)
	{
		if (inst->workers[i].tx.target == target)
			tp_target_worker_wake(&inst->workers[i]);
	}
}

/*
 * A source's own work once its queue is installed: tick and cut batches at
 * the batcher interval, send at the transmitter interval, maintain the
 * queue at the vacuum interval. Failures are logged where they happen; a
 * lost connection is noticed by keep_connected.
 */
static void
run_source(instance *inst)
{
	const tp_config *config = inst->config;
	long long	now = tp_clock_ms();

	if (config->n_targets == 0 || !inst->db_up)
		return;
	if (!inst->queue_ready)
	{
		/* before any source plugin installs: they write into it */
		if (!tp_queue_install(&inst->db, config))
			return;
		inst->queue_ready = true;
		if (inst->workers == NULL && !start_workers(inst))
			tp_host_request_stop();
	}
	if (now >= inst->tick_due_ms)
	{
		bool		ticked = false;

		inst->tick_due_ms = now + config->intervals.batcher;
		if (tp_queue_tick(&inst->db, 1000, 60000, &ticked))
		{
			for (size_t i = 0; i < config->n_targets; i++)
			{
				int			made = 0;

				if (!tp_queue_cut_batches(&inst->db, &config->targets[i],
										  config->max_events_per_batch,
										  config->max_batch_bytes, &made))
					break;
				if (made > 0)
					wake_worker(inst, &config->targets[i]);
			}
		}
	}
	if (now >= inst->vacuum_due_ms)
	{
		inst->vacuum_due_ms = now + config->intervals.vacuum;
		tp_queue_vacuum(&inst->db, config->queue_retention);
	}
	if (now >= inst->status_due_ms)
	{
		bool		log = now >= inst->report_due_ms;

		inst->status_due_ms = now + BACKLOG_MEASURE_MS;
		if (log)
			inst->report_due_ms = now + BACKLOG_REPORT_MS;
		measure_backlog(inst, log);
	}
}

/*
 * Check that every target's transport has a sending half. Returns false
 * after logging otherwise.
 */
static bool
check_senders(const instance *inst)
{
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		const tp_plan_entry *e = &inst->plan.entries[i];
		const tp_transport_callbacks *cb = e->plugin->callbacks;

		if (e->role == TP_ROLE_SEND && cb->send == NULL)
		{
			tp_error(LOG_COMPONENT, "%s names transport \"%s\", which cannot send (it has only a receiving half)",
					 e->wanted_by, e->plugin_name);
			return false;
		}
	}
	return true;
}

/*
 * One sending thread per target, through the target's transport instance,
 * once the queue they read is installed. Returns false after logging when
 * a thread cannot start.
 */
static bool
start_workers(instance *inst)
{
	int			per = (int) inst->config->batches_in_flight - 1;

	inst->workers = tp_xcalloc(inst->config->n_targets, sizeof(tp_target_worker));
	inst->lanes = tp_xcalloc(inst->config->n_targets * (size_t) (per > 0 ? per : 1),
							 sizeof(member));
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		member	   *m = &inst->members[i];
		tp_plugin_ctx *ctxs[TP_TRANSMITTER_MAX_LANES];
		member	   *more = &inst->lanes[inst->n_lanes];
		int			n;

		if (m->entry->role != TP_ROLE_SEND)
			continue;
		/* the extra instances of the target's transport, for batches in flight */
		n = start_more(inst, m, per, more);
		inst->n_lanes += (size_t) n;
		ctxs[0] = m->ctx;
		for (int j = 0; j < n; j++)
			ctxs[j + 1] = more[j].ctx;
		if (!tp_target_worker_start(&inst->workers[inst->n_workers],
									tp_config_target(inst->config, m->entry->target),
									ctxs, n + 1, m->entry->plugin->callbacks,
									inst->conninfo, inst->config->database.name,
									inst->config->intervals.transmitter))
			return false;
		inst->n_workers++;
	}
	return true;
}

/*
 * Give the apply loop a second lane (tp_apply_loop_add_lane) with another
 * instance of applier member m, so that an initial load's chunks are
 * applied two at a time. Only the postgres applier's: it writes through
 * the connection it is given, in the host's transaction, so a chunk
 * applied alongside the one before and rolled back leaves nothing behind
 * (an applier that writes elsewhere sees each batch once, in order). An
 * instance that does not start is logged; the loop then has one lane.
 */
static void
start_apply_lane(instance *inst, const member *m)
{
	member	   *lane = &inst->apply_lane;

	if (strcmp(m->entry->plugin_name, "postgres") != 0)
		return;
	lane->entry = m->entry;
	lane->ctx = tp_host_ctx_new(inst->config, inst->conninfo, m->entry);
	tp_host_ctx_set_services(lane->ctx, &inst->services);
	if (member_startup(lane) != TP_OK)
	{
		tp_warning(LOG_COMPONENT, "a second instance of applier \"%s\" did not "
				   "start: one connection applies every batch", m->entry->plugin_name);
		tp_host_ctx_free(lane->ctx);
		memset(lane, 0, sizeof(*lane));
		return;
	}
	lane->started = true;
	tp_apply_loop_add_lane(inst->apply, lane->ctx);
}

/*
 * A receiving instance's apply loop, on the applier member's context, once
 * every plugin has started; stores wake it. Returns false after logging
 * when its thread cannot start.
 */
static bool
start_apply(instance *inst)
{
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		member	   *m = &inst->members[i];

		if (m->entry->role != TP_ROLE_APPLY || inst->inbox == NULL)
			continue;
		inst->apply = tp_apply_loop_new(inst->conninfo, inst->config->database.name,
										inst->inbox, m->ctx, m->entry->plugin->callbacks,
										inst->config->intervals.applier);
		start_apply_lane(inst, m);
		inst->services.stored = tp_apply_loop_wake;
		inst->services.stored_arg = inst->apply;
		if (!tp_apply_loop_start(inst->apply))
			return false;
		tp_inbox_set_apply_now(inst->inbox, tp_apply_loop_apply_now, inst->apply);
		return true;
	}
	return true;
}

/*
 * Start the receiving transports listening now, before the instance's own
 * connection is made: they hand batches to the inbox and the apply loop,
 * which have connections of their own (a batch that comes while the
 * database is down is answered "unavailable", as when it goes down
 * later), so a sender that waits for this instance gets its first answer
 * one connection sooner. One that cannot start yet is tried again by
 * run_members. Returns false after logging when one failed for good.
 */
static bool
start_receivers(instance *inst)
{
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		member	   *m = &inst->members[i];
		tp_result	r;

		if (m->entry->role != TP_ROLE_RECEIVE || !m->started || m->ready)
			continue;
		r = member_ready(m, NULL);
		if (r == TP_OK)
			m->ready = true;
		else if (r == TP_ERROR)
		{
			tp_error(LOG_COMPONENT, "%s plugin \"%s\" (%s) failed; stopping",
					 tp_role_name(m->entry->role), m->entry->plugin_name,
					 m->entry->wanted_by);
			return false;
		}
		else
			m->due_ms = tp_clock_ms() + m->interval_ms;
	}
	return true;
}

/* Stop every sending thread (before the transports shut down). */
static void
stop_workers(instance *inst)
{
	for (size_t i = 0; i < inst->n_workers; i++)
		tp_target_worker_stop(&inst->workers[i]);
	inst->n_workers = 0;
	stop_more(inst->lanes, (int) inst->n_lanes);
	inst->n_lanes = 0;
}

/* Sleep up to ms milliseconds; a stop signal cuts it short. */
static void
nap(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t) (ms / 1000);
	ts.tv_nsec = (long) (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* The instance's main loop, until a stop is requested or a fatal error. */
static int
main_loop(instance *inst)
{
	int			tick = inst->config->intervals.batcher;

	for (size_t i = 0; i < inst->plan.n; i++)
	{
		if (inst->members[i].interval_ms < tick)
			tick = inst->members[i].interval_ms;
	}
	while (!tp_host_stop_requested())
	{
		keep_connected(inst);
		run_source(inst);
		if (!run_members(inst))
			return TP_EXIT_FAILURE;
		nap(inst->db_up ? tick : (inst->db_retry_ms - tp_clock_ms() < tick
								  ? inst->db_retry_ms - tp_clock_ms() : tick));
	}
	tp_info(LOG_COMPONENT, "stop requested; shutting down");
	return TP_EXIT_OK;
}

/* Free what the instance holds; plugins must have been stopped. */
static void
instance_free(instance *inst)
{
	if (inst->members != NULL)
	{
		for (size_t i = 0; i < inst->plan.n; i++)
			tp_host_ctx_free(inst->members[i].ctx);
		free(inst->members);
	}
	free(inst->workers);
	free(inst->lanes);
	tp_apply_loop_free(inst->apply);
	tp_host_ctx_free(inst->apply_lane.ctx);
	tp_status_free(inst->status);
	tp_inbox_free(inst->inbox);
	tp_pgsql_close(&inst->db);
	tp_plan_free(&inst->plan);
	tp_loader_free(&inst->set);
	free(inst->conninfo);
}

/*
 * -mode initial-load: start the load target's sending transport only, and
 * run the load through it. Returns an exit status.
 */
static int
run_load(instance *inst, const tp_target_config *target)
{
	member	   *m = NULL;
	member		more[TP_LOAD_MAX_LANES - 1];
	tp_plugin_ctx *ctxs[TP_LOAD_MAX_LANES - 1];
	int			n_more = 0;
	int			status;

	inst->members = tp_xcalloc(inst->plan.n, sizeof(member));
	for (size_t i = 0; i < inst->plan.n; i++)
	{
		if (inst->plan.entries[i].role == TP_ROLE_SEND &&
			strcmp(inst->plan.entries[i].target, target->name) == 0)
			m = &inst->members[i];
	}
	if (m == NULL || !check_senders(inst))
	{
		if (m == NULL)
			tp_error(LOG_COMPONENT, "target \"%s\" has no sending transport", target->name);
		return TP_EXIT_PLUGIN;
	}
	m->entry = &inst->plan.entries[m - inst->members];
	m->ctx = tp_host_ctx_new(inst->config, inst->conninfo, m->entry);
	if (member_startup(m) != TP_OK)
	{
		tp_error(LOG_COMPONENT, "transport \"%s\" of target \"%s\" did not start",
				 m->entry->plugin_name, target->name);
		return TP_EXIT_FAILURE;
	}
	m->started = true;
	memset(more, 0, sizeof(more));

	n_more = start_more(inst, m, (int) inst->config->load_batches_in_flight - 1, more);
	for (int i = 0; i < n_more; i++)
		ctxs[i] = more[i].ctx;
	status = tp_load_run(inst->config, target, inst->conninfo, m->ctx,
						 m->entry->plugin->callbacks, ctxs, n_more);
	stop_more(more, n_more);
	member_stop(m);
	return status;
}

/* See daemon.h. */
int
tp_daemon_run(const tp_config *config, const tp_cli *cli, const char *plugin_dirs)
{
	instance	inst;
	tp_sentry  *sentry = NULL;
	int			status;

	memset(&inst, 0, sizeof(inst));
	inst.config = config;
	if (cli->mode == TP_MODE_INITIAL_LOAD &&
		tp_config_target(config, cli->load_target) == NULL)
	{
		tp_error(LOG_COMPONENT, "-load-target \"%s\" is not a target of %s",
				 cli->load_target, config->path);
		return TP_EXIT_USAGE;
	}
	inst.conninfo = tp_conninfo_build(config);
	if (inst.conninfo == NULL)
		return TP_EXIT_CONFIG;

	status = load_plugins(&inst, plugin_dirs);
	if (status == TP_EXIT_OK && cli->mode == TP_MODE_INITIAL_LOAD)
	{
		install_signal_handlers();
		status = run_load(&inst, tp_config_target(config, cli->load_target));
		instance_free(&inst);
		return status;
	}
	if (status != TP_EXIT_OK)
	{
		instance_free(&inst);
		return status;
	}

	/* the first thread of the process: only now that plugins are loaded */
	if (config->sentry_endpoint != NULL)
	{
		sentry = tp_sentry_start(config->sentry_endpoint,
								 "teleport@" PACKAGE_VERSION, config->database.name);
		if (sentry != NULL)
			tp_log_set_sink(tp_sentry_capture, sentry);
	}
	install_signal_handlers();
	tp_backoff_init(&inst.db_backoff, 100, 30000);
	if (config->has_server)
		inst.inbox = tp_inbox_new(inst.conninfo, config->database.name);
	inst.status = tp_status_new(config, inst.inbox);
	inst.services.inbox = inst.inbox;
	inst.services.status_json = tp_status_json;
	inst.services.status_arg = inst.status;
	inst.members = tp_xcalloc(inst.plan.n, sizeof(member));
	for (size_t i = 0; i < inst.plan.n && status == TP_EXIT_OK; i++)
	{
		member	   *m = &inst.members[i];

		m->entry = &inst.plan.entries[i];
		m->ctx = tp_host_ctx_new(config, inst.conninfo, m->entry);
		tp_host_ctx_set_services(m->ctx, &inst.services);
		m->interval_ms = interval_of(config, m->entry->role);
		if (member_startup(m) != TP_OK)
		{
			tp_error(LOG_COMPONENT, "%s plugin \"%s\" (%s) did not start",
					 tp_role_name(m->entry->role), m->entry->plugin_name,
					 m->entry->wanted_by);
			status = TP_EXIT_FAILURE;
		}
		else
			m->started = true;
	}
	if (status == TP_EXIT_OK && !check_senders(&inst))
		status = TP_EXIT_PLUGIN;
	if (status == TP_EXIT_OK && !start_apply(&inst))
		status = TP_EXIT_FAILURE;
	if (status == TP_EXIT_OK && !start_receivers(&inst))
		status = TP_EXIT_FAILURE;
	if (status == TP_EXIT_OK)
	{
		tp_info(LOG_COMPONENT, "instance \"%s\" running (teleport %s, %zu plugin instances)",
				config->database.name, PACKAGE_VERSION, inst.plan.n);
		status = main_loop(&inst);
	}
	stop_workers(&inst);
	/* before the applier and the receivers shut down */
	tp_apply_loop_stop(inst.apply);
	if (inst.apply_lane.entry != NULL)
		member_stop(&inst.apply_lane);
	for (size_t i = inst.plan.n; i-- > 0;)
	{
		if (inst.members[i].entry != NULL)
			member_stop(&inst.members[i]);
	}
	instance_free(&inst);
	if (sentry != NULL)
	{
		tp_log_set_sink(NULL, NULL);
		tp_sentry_stop(sentry, 2000);
	}
	return status;
}
