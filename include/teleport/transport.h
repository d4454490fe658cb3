/*
 * teleport/transport.h
 *     Callbacks of a transport plugin: one that moves batches from a source
 *     instance to a target instance.
 *
 * A transport has two halves; a plugin may implement either or both. The
 * sending half runs on the source, one instance per target that names the
 * transport (ctx->target, options under "targets.NAME.options"). The
 * receiving half runs on the target (ctx->receiving, options under
 * "server.options") and hands each batch to the host's deliver service,
 * acknowledging the peer only when deliver returned TP_OK.
 */
#ifndef TELEPORT_TRANSPORT_H
#define TELEPORT_TRANSPORT_H

#include <teleport/plugin.h>

typedef struct tp_transport_callbacks
{
	uint32_t	size;

	/* Make the instance ready (read options, allocate private_data). */
	tp_result	(*startup) (tp_plugin_ctx *ctx);

	/*
	 * Sending half: deliver one batch to the target. TP_OK only once the
	 * target acknowledged it (or, for one-way transports such as stdout and
	 * file, once it is durably written); then the host marks it sent. The
	 * host sends an instance's batches one at a time, in seq order, and
	 * sends the same batch again after TP_RETRY. Over the built-in http
	 * transport the host sends on several instances of one target at once
	 * (batches in flight, change batches flagged TP_BATCH_FOLLOWS and an
	 * initial load's chunks; docs/architecture.md); other transports get a
	 * target's batches one at a time. NULL when there is no sending half.
	 */
	tp_result	(*send) (tp_plugin_ctx *ctx, const tp_batch *batch);

	/*
	 * Receiving half: start accepting batches (a server in its own threads).
	 * NULL when there is no receiving half.
	 */
	tp_result	(*receive_start) (tp_plugin_ctx *ctx);

	/*
	 * Receiving half: periodic work for transports that look for batches
	 * rather than being handed them (a spool directory). May be NULL.
	 */
	tp_result	(*receive_poll) (tp_plugin_ctx *ctx);

	/* Receiving half: stop accepting; no deliver call after it returns. */
	void		(*receive_stop) (tp_plugin_ctx *ctx);

	/* Release private_data. May be NULL. */
	void		(*shutdown) (tp_plugin_ctx *ctx);
} tp_transport_callbacks;

#endif							/* TELEPORT_TRANSPORT_H */
