/*
 * plan.c
 *     Which plugins an instance uses, in which role.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"
#include "xalloc.h"

/* A new string printed from fmt; aborts when memory is exhausted. */
static char *
format_string(const char *fmt, const char *arg)
{
	int			len = snprintf(NULL, 0, fmt, arg);
	char	   *s = tp_xmalloc((size_t) len + 1);

	snprintf(s, (size_t) len + 1, fmt, arg);
	return s;
}

/* Append one entry; the strings given are taken over by the plan. */
static void
add_entry(tp_plan *plan, tp_role role, tp_plugin_kind kind, const char *plugin,
		  char *wanted_by, char *section, const tp_node *options,
		  const char *target)
{
	tp_plan_entry *e;

	plan->entries = tp_xrealloc(plan->entries, (plan->n + 1) * sizeof(tp_plan_entry));
	e = &plan->entries[plan->n++];
	memset(e, 0, sizeof(*e));
	e->role = role;
	e->kind = kind;
	e->plugin_name = plugin;
	e->wanted_by = wanted_by;
	e->section = section;
	e->options = options;
	e->target = target;
}

/* Add a source plugin, whose options are source_options.NAME. */
static void
add_source(tp_plan *plan, const tp_config *config, tp_role role,
		   const char *plugin, const char *wanted_by)
{
	add_entry(plan, role, TP_PLUGIN_SOURCE, plugin, tp_xstrdup(wanted_by),
			  format_string("source_options.%s", plugin),
			  tp_node_get(config->source_options, plugin), NULL);
}

/* See plan.h. */
void
tp_plan_build(const tp_config *config, tp_plan *plan)
{
	memset(plan, 0, sizeof(*plan));

	if (config->n_targets > 0)
	{
		/*
		 * The DDL source first: members are made ready and polled in plan
		 * order, so a new table's creation is queued (committed) before
		 * the trigger source installs its trigger and copies its rows.
		 */
		if (config->replicate_ddl)
			add_source(plan, config, TP_ROLE_CAPTURE_DDL,
					   config->use_event_triggers ? "event-trigger" : "schema-diff",
					   "use_event_triggers");
		add_source(plan, config, TP_ROLE_CAPTURE_ROWS, "trigger", "targets");
	}
	for (size_t i = 0; i < config->n_targets; i++)
	{
		const tp_target_config *t = &config->targets[i];

		add_entry(plan, TP_ROLE_SEND, TP_PLUGIN_TRANSPORT, t->transport,
				  format_string("targets.%s.transport", t->name),
				  format_string("targets.%s.options", t->name),
				  t->options, t->name);
	}
	if (config->has_server)
	{
		add_entry(plan, TP_ROLE_RECEIVE, TP_PLUGIN_TRANSPORT,
				  config->server.transport, tp_xstrdup("server.transport"),
				  tp_xstrdup("server.options"), config->server.options, NULL);
		add_entry(plan, TP_ROLE_APPLY, TP_PLUGIN_APPLIER, config->applier,
				  tp_xstrdup("applier"), tp_xstrdup("applier_options"),
				  config->applier_options, NULL);
	}
}

/* See plan.h. */
bool
tp_plan_resolve(tp_plan *plan, const tp_plugin_set *set, const tp_config *config)
{
	bool		ok = true;

	for (size_t i = 0; i < plan->n; i++)
	{
		tp_plan_entry *e = &plan->entries[i];

		e->plugin = tp_loader_require(set, e->plugin_name, e->kind, e->wanted_by);
		if (e->plugin == NULL)
		{
			ok = false;
			continue;
		}
		if (!tp_config_check_options(config, e->section, e->options,
									 e->plugin->info->options))
			ok = false;
	}
	return ok;
}

/* See plan.h. */
const char *
tp_role_name(tp_role role)
{
	switch (role)
	{
		case TP_ROLE_CAPTURE_ROWS:
			return "capture rows";
		case TP_ROLE_CAPTURE_DDL:
			return "capture DDL";
		case TP_ROLE_SEND:
			return "send";
		case TP_ROLE_RECEIVE:
			return "receive";
		case TP_ROLE_APPLY:
			return "apply";
	}
	return "unknown";
}

/* See plan.h. */
void
tp_plan_free(tp_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
	{
		free(plan->entries[i].wanted_by);
		free(plan->entries[i].section);
	}
	free(plan->entries);
	memset(plan, 0, sizeof(*plan));
}
