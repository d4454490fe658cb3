/*
 * teleport/applier.h
 *     Callbacks of an applier plugin: one that applies batches to a target.
 *
 * Exactly once: the host calls apply inside a transaction it opened on the
 * target database's connection, records the batch as applied in that same
 * transaction and commits. An applier that writes to the database through
 * conn therefore needs no bookkeeping of its own. An applier that writes
 * elsewhere must make apply idempotent for a given (source, seq).
 */
#ifndef TELEPORT_APPLIER_H
#define TELEPORT_APPLIER_H

#include <teleport/plugin.h>

typedef struct tp_applier_callbacks
{
	uint32_t	size;

	/* Make the instance ready (read options, allocate private_data). */
	tp_result	(*startup) (tp_plugin_ctx *ctx);

	/*
	 * Prepare the target database (idempotently) before the first batch: a
	 * session's settings, helper functions. May be NULL.
	 */
	tp_result	(*prepare) (tp_plugin_ctx *ctx, struct pg_conn *conn);

	/*
	 * Apply one batch within the host's open transaction on conn. TP_RETRY
	 * (a missing table, say) holds the batch and every later one of the same
	 * source until a retry succeeds; TP_ERROR stops that source's stream
	 * until an operator acts. Required.
	 */
	tp_result	(*apply) (tp_plugin_ctx *ctx, struct pg_conn *conn,
						  const tp_batch *batch);

	/* Release private_data. May be NULL. */
	void		(*shutdown) (tp_plugin_ctx *ctx);
} tp_applier_callbacks;

#endif							/* TELEPORT_APPLIER_H */
