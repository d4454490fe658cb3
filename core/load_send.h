/*
 * load_send.h
 *     Numbering and sending the batches of an initial load.
 *
 * A load's batches take their numbers from the target's stream in the
 * source database (teleport.target.next_seq, while the load holds the
 * target: target.loading), so that the loading process and the daemon
 * never number batches for one target twice. They are sent in number
 * order, one at a time, through the target's transport; a batch the
 * transport refuses is sent again with backoff until it is accepted or
 * teleport is asked to stop.
 */
#ifndef TP_LOAD_SEND_H
#define TP_LOAD_SEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <teleport/teleport.h>

#include "config.h"
#include "pgsql.h"

typedef struct tp_load_sender
{
	pthread_mutex_t lock;		/* one batch at a time, in number order */
	tp_pgsql	pg;				/* numbering (its own connection) */
	const tp_target_config *target;
	const char *source;			/* the instance's name */
	tp_plugin_ctx *ctx;			/* the target's transport instance */
	const tp_transport_callbacks *cb;
	int64_t		load_id;
	bool		one_transaction;	/* every batch but the last partial */
	uint64_t	first_seq;		/* of this load; 0 before its first batch */
	uint64_t	last_seq;
	uint64_t	batches;
	uint64_t	bytes;
} tp_load_sender;

/*
 * Set up s for load load_id of target, connecting with conninfo. False
 * after logging when the connection fails; free s in either case.
 */
bool		tp_load_sender_init(tp_load_sender *s, const char *conninfo,
								const tp_target_config *target, const char *source,
								tp_plugin_ctx *ctx, const tp_transport_callbacks *cb,
								int64_t load_id);

/*
 * Number and send one batch of kind with data (lines text lines, len
 * bytes; the caller keeps it). With s->one_transaction it is flagged
 * partial unless it is the load's last (the target applies the whole
 * chain at one commit); otherwise each batch is a unit of its own. Returns false after logging when it could not be numbered (the
 * load no longer holds the target) or a stop was requested.
 */
bool		tp_load_send(tp_load_sender *s, tp_batch_kind kind, const char *data,
						 size_t len, uint64_t lines, bool last);

/*
 * Send a batch as number seq, which an earlier, interrupted load took
 * (never the load's last): see tp_load_send. *refused tells that the target refused it with an
 * error (it holds another batch under that number).
 */
bool		tp_load_send_at(tp_load_sender *s, uint64_t seq, tp_batch_kind kind,
							const char *data, size_t len, uint64_t lines,
							bool *refused);

/* Close s's connection. */
void		tp_load_sender_free(tp_load_sender *s);

#endif							/* TP_LOAD_SEND_H */
