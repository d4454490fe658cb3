/*
 * daemon.h
 *     Running an instance: its plugins' life cycle and the loops that drive
 *     them.
 */
#ifndef TP_DAEMON_H
#define TP_DAEMON_H

#include "cli.h"
#include "config.h"

/*
 * Run the instance of config until SIGINT or SIGTERM (or a fatal error).
 * Loads and checks every plugin of its plan before any thread starts.
 * Returns an exit status (exit_codes.h).
 */
int			tp_daemon_run(const tp_config *config, const tp_cli *cli,
						  const char *plugin_dirs);

#endif							/* TP_DAEMON_H */
