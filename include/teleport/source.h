/*
 * teleport/source.h
 *     Callbacks of a source plugin: one that captures changes on a source
 *     database into teleport's queue (the trigger source for rows, the
 *     event-trigger and schema-diff sources for DDL).
 *
 * The host owns the database connection it passes; a callback must leave it
 * idle (no open transaction) and must not close it.
 */
#ifndef TELEPORT_SOURCE_H
#define TELEPORT_SOURCE_H

#include <teleport/plugin.h>

typedef struct tp_source_callbacks
{
	uint32_t	size;

	/* Make the instance ready (read options, allocate private_data). */
	tp_result	(*startup) (tp_plugin_ctx *ctx);

	/*
	 * Create or upgrade what the source needs in the database (functions,
	 * triggers, event triggers), idempotently. Required.
	 */
	tp_result	(*install) (tp_plugin_ctx *ctx, struct pg_conn *conn);

	/*
	 * Periodic work, at the interval the host chose for this plugin (ddlwatcher
	 * for DDL sources): pick up new tables, diff the catalog. May be NULL.
	 */
	tp_result	(*poll) (tp_plugin_ctx *ctx, struct pg_conn *conn);

	/* Remove what install created (teleport --uninstall). May be NULL. */
	tp_result	(*uninstall) (tp_plugin_ctx *ctx, struct pg_conn *conn);

	/* Release private_data. May be NULL. */
	void		(*shutdown) (tp_plugin_ctx *ctx);
} tp_source_callbacks;

#endif							/* TELEPORT_SOURCE_H */
