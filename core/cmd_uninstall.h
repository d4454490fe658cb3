/*
 * cmd_uninstall.h
 *     teleport -config FILE --uninstall: remove what a source installed in
 *     its database.
 */
#ifndef TP_CMD_UNINSTALL_H
#define TP_CMD_UNINSTALL_H

#include "config.h"

/*
 * On the database of config, with no source running there (refused
 * otherwise): run the uninstall of each source plugin found in dirs
 * (trigger, schema-diff, event-trigger, and any other: each removes only
 * its own objects, and a plugin that installed nothing has nothing to do),
 * then drop the queue (tp_queue_uninstall). A receiving instance's inbox
 * stays. Returns TP_EXIT_OK; TP_EXIT_FAILURE (logged) when a source runs,
 * or a plugin or the queue could not be removed (what was removed stays
 * removed; running the command again finishes the job); TP_EXIT_DATABASE
 * when the database cannot be reached; TP_EXIT_CONFIG for a config without
 * a conninfo.
 */
int			tp_cmd_uninstall(const tp_config *config, const char *dirs);

#endif							/* TP_CMD_UNINSTALL_H */
