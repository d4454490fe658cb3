/*
 * cmd_list_plugins.c
 *     teleport --list-plugins: what the plugin path holds.
 */
#include "tp_autoconf.h"

#include <string.h>

#include "cmd_list_plugins.h"
#include "exit_codes.h"
#include "loader.h"

/* See cmd_list_plugins.h. */
int
tp_cmd_list_plugins(const char *dirs, FILE *out)
{
	tp_plugin_set set;
	bool		ok = tp_loader_scan(dirs, &set);
	int			name_width = 4;

	for (size_t i = 0; i < set.n; i++)
	{
		int			len = (int) strlen(set.plugins[i].info->name);

		if (len > name_width)
			name_width = len;
	}
	fprintf(out, "plugin path: %s\n", set.dirs);
	fprintf(out, "%-*s  %-9s  %-10s  %-5s  %s\n", name_width, "NAME", "KIND",
			"VERSION", "ABI", "FILE");
	for (size_t i = 0; i < set.n; i++)
	{
		const tp_plugin_info *info = set.plugins[i].info;

		fprintf(out, "%-*s  %-9s  %-10s  %u.%-3u  %s\n", name_width, info->name,
				tp_plugin_kind_name(info->kind), info->version,
				(unsigned) info->abi_major, (unsigned) info->abi_minor,
				set.plugins[i].path);
	}
	if (set.n == 0)
		fprintf(out, "(no plugins)\n");
	if (set.n_refused > 0)
		fprintf(out, "%zu file(s) refused: see the log above\n", set.n_refused);
	tp_loader_free(&set);
	return ok ? TP_EXIT_OK : TP_EXIT_PLUGIN;
}
