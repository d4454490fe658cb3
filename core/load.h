/*
 * load.h
 *     The initial load of one target (`-mode initial-load -load-target`).
 */
#ifndef TP_LOAD_H
#define TP_LOAD_H

#include <teleport/teleport.h>

#include "config.h"

/*
 * Load target of config with the existing data of its tables, through
 * its transport (ctx, cb: a started sending instance), while the daemon
 * may run; row chunks go on the n_more started instances more too, up to
 * 1 + n_more at once (load_send.h). Returns an exit status
 * (exit_codes.h); problems were logged. An interrupted load is resumed by
 * running it again.
 */
int			tp_load_run(const tp_config *config, const tp_target_config *target,
						const char *conninfo, tp_plugin_ctx *ctx,
						const tp_transport_callbacks *cb, tp_plugin_ctx *const *more,
						int n_more);

#endif							/* TP_LOAD_H */
