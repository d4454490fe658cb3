/*
 * status.c
 *     An instance's status as JSON.
 */
#include "tp_autoconf.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "status.h"
#include "xalloc.h"

/* One target's last measured backlog. */
typedef struct target_status
{
	tp_queue_backlog backlog;
	long long	measured_ms;	/* monotonic; 0 before the first */
} target_status;

struct tp_status
{
	const tp_config *config;
	tp_inbox   *inbox;
	pthread_mutex_t lock;
	target_status *targets;
};

/* See status.h. */
tp_status *
tp_status_new(const tp_config *config, tp_inbox *inbox)
{
	tp_status  *status = tp_xcalloc(1, sizeof(tp_status));

	status->config = config;
	status->inbox = inbox;
	pthread_mutex_init(&status->lock, NULL);
	status->targets = tp_xcalloc(config->n_targets, sizeof(target_status));
	return status;
}

/* See status.h. */
void
tp_status_set_backlog(tp_status *status, size_t i, const tp_queue_backlog *backlog)
{
	pthread_mutex_lock(&status->lock);
	status->targets[i].backlog = *backlog;
	status->targets[i].measured_ms = tp_clock_ms();
	pthread_mutex_unlock(&status->lock);
}

/* The targets part of the status, as a new JSON array. */
static json_t *
targets_json(tp_status *status)
{
	json_t	   *targets = json_array();
	long long	now = tp_clock_ms();

	pthread_mutex_lock(&status->lock);
	for (size_t i = 0; i < status->config->n_targets; i++)
	{
		const tp_target_config *t = &status->config->targets[i];
		const target_status *ts = &status->targets[i];
		json_t	   *o = json_pack("{s:s, s:s}", "name", t->name,
								  "transport", t->transport);

		if (ts->measured_ms > 0)
		{
			json_object_set_new(o, "batches", json_integer(ts->backlog.batches));
			json_object_set_new(o, "lag_ms", json_integer(ts->backlog.oldest_age_ms));
			json_object_set_new(o, "needs_resync", json_boolean(ts->backlog.needs_resync));
			json_object_set_new(o, "loading", ts->backlog.loading != 0 ?
								json_integer(ts->backlog.loading) : json_null());
			json_object_set_new(o, "measured_ms_ago", json_integer(now - ts->measured_ms));
		}
		json_array_append_new(targets, o);
	}
	pthread_mutex_unlock(&status->lock);
	return targets;
}

/* See status.h. */
char *
tp_status_json(void *arg)
{
	tp_status  *status = arg;
	json_t	   *root = json_pack("{s:s, s:s}", "instance",
								 status->config->database.name,
								 "version", PACKAGE_VERSION);
	json_t	   *inbox = json_null();
	char	   *text;

	json_object_set_new(root, "targets", targets_json(status));
	if (status->inbox != NULL)
	{
		char	   *inbox_text = tp_inbox_status_json(status->inbox);

		/* the inbox's JSON holds names and int64 counters only */
		if (inbox_text != NULL)
		{
			json_t	   *parsed = json_loads(inbox_text, 0, NULL);

			if (parsed != NULL)
			{
				json_decref(inbox);
				inbox = parsed;
			}
			free(inbox_text);
		}
		else
		{
			json_decref(inbox);
			inbox = json_pack("{s:s}", "error", "the inbox's database is unavailable");
		}
	}
	json_object_set_new(root, "inbox", inbox);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

/* See status.h. */
void
tp_status_free(tp_status *status)
{
	if (status == NULL)
		return;
	pthread_mutex_destroy(&status->lock);
	free(status->targets);
	free(status);
}
