/*
 * plan.h
 *     Which plugins an instance uses, in which role, derived from its config:
 *     the trigger source always on a source (an instance with targets), the
 *     event-trigger or schema-diff source by use_event_triggers (unless
 *     replicate_ddl is false), each
 *     target's transport, and, on an instance with a server section, the
 *     receiving transport and the applier.
 */
#ifndef TP_PLAN_H
#define TP_PLAN_H

#include <stdbool.h>

#include "config.h"
#include "loader.h"

typedef enum tp_role
{
	TP_ROLE_CAPTURE_ROWS = 1,	/* source: row changes */
	TP_ROLE_CAPTURE_DDL,		/* source: schema changes */
	TP_ROLE_SEND,				/* transport, sending half, one per target */
	TP_ROLE_RECEIVE,			/* transport, receiving half */
	TP_ROLE_APPLY				/* applier */
} tp_role;

typedef struct tp_plan_entry
{
	tp_role		role;
	tp_plugin_kind kind;
	const char *plugin_name;	/* owned by the config, or static */
	char	   *wanted_by;		/* the config key that chose it (owned) */
	char	   *section;		/* key path of its options (owned) */
	const tp_node *options;		/* its options map, or NULL */
	const char *target;			/* TP_ROLE_SEND: the target's name */
	tp_plugin  *plugin;			/* set by tp_plan_resolve */
} tp_plan_entry;

typedef struct tp_plan
{
	tp_plan_entry *entries;
	size_t		n;
} tp_plan;

/* Build the plan of config into *plan (tp_plan_free). */
void		tp_plan_build(const tp_config *config, tp_plan *plan);

/*
 * Find each entry's plugin in set and check its kind and its options
 * against the plugin's option table. Logs every problem; returns false if
 * there was one. Entries that resolved have ->plugin set.
 */
bool		tp_plan_resolve(tp_plan *plan, const tp_plugin_set *set,
							const tp_config *config);

/* "capture rows", "capture DDL", "send", "receive" or "apply". */
const char *tp_role_name(tp_role role);

void		tp_plan_free(tp_plan *plan);

#endif							/* TP_PLAN_H */
