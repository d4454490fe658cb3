/*
 * status.h
 *     An instance's status for its status endpoint: each target's backlog
 *     (refreshed by the main loop) and the inbox (read when asked).
 */
#ifndef TP_STATUS_H
#define TP_STATUS_H

#include <stdbool.h>

#include "config.h"
#include "inbox.h"
#include "queue.h"

typedef struct tp_status tp_status;

/* A status for config's instance, with its inbox or NULL (not owned). */
tp_status  *tp_status_new(const tp_config *config, tp_inbox *inbox);

/* Record target i's backlog as just measured. Thread-safe. */
void		tp_status_set_backlog(tp_status *status, size_t i,
								  const tp_queue_backlog *backlog);

/*
 * The status as a JSON object text (a new string, free): instance,
 * version, targets (name, transport, batches, lag_ms, needs_resync,
 * measured_ms_ago) and inbox (or null). Thread-safe; a host services
 * status_json function, with the status as arg.
 */
char	   *tp_status_json(void *status);

void		tp_status_free(tp_status *status);

#endif							/* TP_STATUS_H */
