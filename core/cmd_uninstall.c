/*
 * cmd_uninstall.c
 *     teleport --uninstall; see cmd_uninstall.h.
 *
 * Every source plugin found is asked to uninstall, not only those the
 * config names today: an instance switched from schema diffing to event
 * triggers (or from replicate_ddl: true to false) still has the other
 * plugin's objects. The queue goes last, since capture writes into it.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <teleport/teleport.h>

#include "clock.h"
#include "cmd_uninstall.h"
#include "conninfo.h"
#include "exit_codes.h"
#include "host.h"
#include "loader.h"
#include "log.h"
#include "pgsql.h"
#include "plan.h"
#include "queue.h"

#define COMPONENT "uninstall"

/*
 * Run the uninstall of source plugin p on pg's connection, with a context
 * as the daemon would give it (its options are source_options.NAME).
 * False after logging.
 */
static bool
uninstall_plugin(const tp_config *config, const char *conninfo, tp_plugin *p,
				 tp_pgsql *pg)
{
	const tp_source_callbacks *cb;
	tp_plan_entry entry;
	tp_plugin_ctx *ctx;
	tp_result	r = TP_OK;
	char		section[256];

	if (!tp_plugin_initialize(p, tp_host_api_get()))
		return false;
	cb = p->callbacks;
	if (cb->uninstall == NULL)
		return true;
	snprintf(section, sizeof(section), "source_options.%s", p->info->name);
	memset(&entry, 0, sizeof(entry));
	entry.role = TP_ROLE_CAPTURE_ROWS;
	entry.kind = TP_PLUGIN_SOURCE;
	entry.plugin_name = p->info->name;
	entry.wanted_by = section;
	entry.section = section;
	entry.options = tp_node_get(config->source_options, p->info->name);
	entry.plugin = p;
	ctx = tp_host_ctx_new(config, conninfo, &entry);
	if (cb->startup != NULL)
		r = cb->startup(ctx);
	if (r == TP_OK)
		r = cb->uninstall(ctx, pg->conn);
	if (cb->shutdown != NULL)
		cb->shutdown(ctx);
	tp_host_ctx_free(ctx);
	if (r != TP_OK)
		tp_error(COMPONENT, "source plugin \"%s\" could not remove its objects",
				 p->info->name);
	return r == TP_OK;
}

/* See cmd_uninstall.h. */
int
tp_cmd_uninstall(const tp_config *config, const char *dirs)
{
	char	   *conninfo = tp_conninfo_build(config);
	tp_plugin_set set;
	tp_pgsql	pg;
	bool		running = false;
	bool		locked = false;
	bool		ok = true;

	if (conninfo == NULL)
		return TP_EXIT_CONFIG;
	memset(&pg, 0, sizeof(pg));
	if (!tp_pgsql_connect(&pg, conninfo, "uninstall") || !tp_pgsql_pin_session(&pg))
	{
		tp_pgsql_close(&pg);
		free(conninfo);
		return TP_EXIT_DATABASE;
	}
	/*
	 * A source that just stopped may hold its share a moment longer: its
	 * server process ends after it has disconnected. Ask for 5 s.
	 */
	for (int i = 0; i < 25; i++)
	{
		locked = tp_queue_lock_out(&pg, &running);
		if (!locked || !running)
			break;
		tp_sleep_ms(200);
	}
	if (!locked || running)
	{
		if (running)
			tp_error(COMPONENT, "a teleport source is running on database \"%s\"; "
					 "stop it, then run --uninstall again", PQdb(pg.conn));
		tp_pgsql_close(&pg);
		free(conninfo);
		return TP_EXIT_FAILURE;
	}
	(void) tp_loader_scan(dirs, &set);
	for (size_t i = 0; i < set.n; i++)
	{
		tp_plugin  *p = &set.plugins[i];

		if (p->info != NULL && p->info->kind == TP_PLUGIN_SOURCE &&
			!uninstall_plugin(config, conninfo, p, &pg))
			ok = false;
	}
	if (ok && !tp_queue_uninstall(&pg))
		ok = false;
	if (ok)
		tp_info(COMPONENT, "teleport's source objects are removed from database \"%s\"",
				PQdb(pg.conn));
	else
		tp_error(COMPONENT, "teleport is not fully uninstalled from database \"%s\"; "
				 "run --uninstall again once the problem above is mended",
				 PQdb(pg.conn));
	tp_loader_free(&set);
	tp_pgsql_close(&pg);
	free(conninfo);
	return ok ? TP_EXIT_OK : TP_EXIT_FAILURE;
}
