/*
 * load_send.h
 *     Numbering and sending the batches of an initial load.
 *
 * A load's batches take their numbers from the target's stream in the
 * source database (teleport.target.next_seq, while the load holds the
 * target: target.loading), so that the loading process and the daemon
 * never number batches for one target twice. They are sent in number
 * order through the target's transport; a batch the transport refuses is
 * sent again with backoff until it is accepted or teleport is asked to
 * stop.
 *
 * Row chunks may be pipelined: with more than one transport instance
 * (tp_load_sender_add_lane), up to that many row chunks are in flight at
 * once, each on its own instance and thread, so that the next is read,
 * compressed and received while the target applies the one before. They
 * are numbered and start sending in number order; a chunk smaller than
 * one in flight, and every other batch (schema, begin, end, partial),
 * waits until nothing is in flight and goes alone. last_seq is the last
 * of the batches that were all acknowledged: a resume sends again (as
 * void batches) everything after it, and the target keeps those it has.
 */
#ifndef TP_LOAD_SEND_H
#define TP_LOAD_SEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <teleport/teleport.h>

#include "config.h"
#include "pgsql.h"

#define TP_LOAD_MAX_LANES 8

/* One transport instance of a sender, with the thread that sends on it. */
typedef struct tp_load_lane
{
	struct tp_load_sender *s;
	tp_plugin_ctx *ctx;
	pthread_t	thread;			/* lanes after the first */
	bool		started;		/* thread running */
	bool		busy;			/* holds a batch to send or being sent */
	bool		sending;		/* ... handed to the transport */
	bool		partial;
	uint64_t	seq;
	tp_batch_kind kind;
	uint64_t	lines;
	char	   *data;			/* a copy of the batch's data */
	size_t		len;
	size_t		cap;
} tp_load_lane;

typedef struct tp_load_sender
{
	pthread_mutex_t lock;		/* numbering, lanes and the figures below */
	pthread_cond_t changed;		/* a lane took, started or finished a batch */
	tp_pgsql	pg;				/* numbering (its own connection) */
	const tp_target_config *target;
	const char *source;			/* the instance's name */
	const tp_transport_callbacks *cb;
	int64_t		load_id;
	bool		one_transaction;	/* every batch but the last partial */
	tp_load_lane lanes[TP_LOAD_MAX_LANES];	/* [0]: the caller's own */
	int			n_lanes;
	int			in_flight;		/* lanes busy */
	uint64_t	tickets;		/* callers of tp_load_send, in turn ... */
	uint64_t	serving;		/* ... this one's */
	uint64_t	numbered;		/* the last seq numbered */
	bool		failed;			/* a lane gave up (a stop was requested) */
	atomic_bool quit;			/* lanes' threads end */
	uint64_t   *acked;			/* acknowledged after a gap (a lane that
								 * retries may leave one while the others
								 * go on: any number of them) */
	size_t		n_acked;
	size_t		cap_acked;
	uint64_t	first_seq;		/* of this load; 0 before its first batch */
	uint64_t	last_seq;		/* every batch up to it acknowledged */
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
 * Have s send row chunks on ctx too (another instance of the target's
 * transport, started; the caller stops it after tp_load_sender_free), on a
 * thread of its own. False after logging when the thread did not start.
 */
bool		tp_load_sender_add_lane(tp_load_sender *s, tp_plugin_ctx *ctx);

/*
 * Number and send one batch of kind with data (lines text lines, len
 * bytes; the caller keeps it). With s->one_transaction it is flagged
 * partial unless it is the load's last (the target applies the whole
 * chain at one commit); otherwise each batch is a unit of its own. A row
 * chunk (rows: true) may be handed to a lane and still be in flight on
 * return (a copy of data); anything else is sent after every batch in
 * flight was acknowledged, and acknowledged on return. Returns false
 * after logging when it could not be numbered (the load no longer holds
 * the target) or a stop was requested.
 */
bool		tp_load_send(tp_load_sender *s, tp_batch_kind kind, const char *data,
						 size_t len, uint64_t lines, bool last, bool rows);

/*
 * Wait until every batch numbered so far was acknowledged. False when one
 * was not (a stop was requested).
 */
bool		tp_load_send_flush(tp_load_sender *s);

/*
 * Send a batch as number seq, which an earlier, interrupted load took
 * (never the load's last): see tp_load_send. *refused tells that the target refused it with an
 * error (it holds another batch under that number).
 */
bool		tp_load_send_at(tp_load_sender *s, uint64_t seq, tp_batch_kind kind,
							const char *data, size_t len, uint64_t lines,
							bool *refused);

/* Stop the lanes' threads and close s's connection. */
void		tp_load_sender_free(tp_load_sender *s);

#endif							/* TP_LOAD_SEND_H */
