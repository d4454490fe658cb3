/*
 * host.h
 *     The host services table that plugins receive, and their contexts.
 */
#ifndef TP_HOST_H
#define TP_HOST_H

#include <teleport/plugin.h>

#include "config.h"
#include "inbox.h"
#include "plan.h"

/* The table handed to every plugin; static, valid for the process. */
const tp_host_api *tp_host_api_get(void);

/*
 * A new context for the plan entry's plugin, on an instance with config and
 * conninfo (both must outlive it). Owned by the caller (tp_host_ctx_free).
 */
tp_plugin_ctx *tp_host_ctx_new(const tp_config *config, const char *conninfo,
							   const tp_plan_entry *entry);
void		tp_host_ctx_free(tp_plugin_ctx *ctx);

/* What an instance offers its plugins beyond the config. */
typedef struct tp_host_services
{
	tp_inbox   *inbox;			/* a receiving instance's inbox, or NULL */
	/* the instance's status as JSON (new string); thread-safe */
	char	   *(*status_json) (void *arg);
	void	   *status_arg;
	/* called after deliver stored a new batch (the apply loop's wake-up) */
	void		(*stored) (void *arg);
	void	   *stored_arg;
} tp_host_services;

/*
 * Give ctx the instance's services (they must outlive it). Without them
 * deliver answers UNAVAILABLE and status_json NULL.
 */
void		tp_host_ctx_set_services(tp_plugin_ctx *ctx,
									 const tp_host_services *services);

/*
 * Until tp_host_capture_end, the text of the last warning or error that a
 * plugin logs (host->log) from the calling thread is also copied into buf
 * (len bytes, NUL-terminated, "" when none): the apply loop records an
 * applier's reason for a failure this way. buf stays the caller's.
 */
void		tp_host_capture_begin(char *buf, size_t len);
void		tp_host_capture_end(void);

/* Ask every loop and plugin to stop (async-signal-safe). */
void		tp_host_request_stop(void);

/* True once tp_host_request_stop was called. */
bool		tp_host_stop_requested(void);

#endif							/* TP_HOST_H */
