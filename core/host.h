/*
 * host.h
 *     The host services table that plugins receive, and their contexts.
 */
#ifndef TP_HOST_H
#define TP_HOST_H

#include <teleport/plugin.h>

#include "config.h"
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

/* Ask every loop and plugin to stop (async-signal-safe). */
void		tp_host_request_stop(void);

/* True once tp_host_request_stop was called. */
bool		tp_host_stop_requested(void);

#endif							/* TP_HOST_H */
