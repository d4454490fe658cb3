/*
 * cmd_list_plugins.h
 *     teleport --list-plugins
 */
#ifndef TP_CMD_LIST_PLUGINS_H
#define TP_CMD_LIST_PLUGINS_H

#include <stdio.h>

/*
 * Load every plugin in dirs (':'-separated) and print name, kind, version,
 * ABI and file of each to out. Refused files are logged. Returns an exit
 * status: TP_EXIT_OK, or TP_EXIT_PLUGIN when anything was refused or a
 * directory could not be read.
 */
int			tp_cmd_list_plugins(const char *dirs, FILE *out);

#endif							/* TP_CMD_LIST_PLUGINS_H */
