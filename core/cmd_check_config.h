/*
 * cmd_check_config.h
 *     teleport --check-config -config FILE: what an instance would be and
 *     whether its database is usable, without starting it.
 */
#ifndef TP_CMD_CHECK_CONFIG_H
#define TP_CMD_CHECK_CONFIG_H

#include "config.h"

/* The oldest PostgreSQL server teleport supports, as PQserverVersion. */
#define TP_MIN_SERVER_VERSION 120000

/*
 * Check config, already loaded and validated by the caller: print to stdout
 * the instance's roles, intervals and plugin plan (plugins searched in
 * plugin_dirs, a --plugin-dir value, else the config's plugin_dir, else the
 * default path), then connect to its database and print what teleport
 * needs to know of it. Plugins that are missing or refused are reported
 * (and logged) but do not fail the check: the daemon refuses to start on
 * them. Returns TP_EXIT_OK when the database is reachable and its version
 * supported, TP_EXIT_DATABASE when not, TP_EXIT_CONFIG when no conninfo
 * can be built from the config (all logged).
 */
int			tp_cmd_check_config(const tp_config *config, const char *plugin_dirs);

#endif							/* TP_CMD_CHECK_CONFIG_H */
