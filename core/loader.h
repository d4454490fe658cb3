/*
 * loader.h
 *     Finding and loading plugins with libltdl, and checking each one's
 *     identity block before any of its code beyond teleport_plugin_info()
 *     runs. Libraries are never unloaded. Not thread-safe: load before any
 *     thread starts.
 */
#ifndef TP_LOADER_H
#define TP_LOADER_H

#include <stdbool.h>
#include <teleport/plugin.h>

typedef struct tp_plugin
{
	char	   *path;			/* the file it was loaded from */
	const tp_plugin_info *info; /* checked: ABI, size, kind, name */
	void	   *handle;			/* lt_dlhandle */
	void	   *callbacks;		/* the kind's callbacks once initialised */
} tp_plugin;

typedef struct tp_plugin_set
{
	tp_plugin  *plugins;		/* the accepted plugins, in scan order */
	size_t		n;
	char	   *dirs;			/* the search path that was scanned */
	size_t		n_refused;		/* files refused (each logged) */
	char	  **ambiguous;		/* names that two files claim (owned) */
	size_t		n_ambiguous;
} tp_plugin_set;

/*
 * The plugin search path: explicit (a --plugin-dir or plugin_dir value) if
 * not NULL, else $TELEPORT_PLUGIN_DIR, else the installed $(pkglibdir).
 * Several directories are separated by ':'. Static or explicit; not owned.
 */
const char *tp_loader_search_path(const char *explicit_dirs);

/*
 * Load every plugin in the directories of dirs (':'-separated): each file
 * whose name ends in .la or .so (a name with both counts once). Files that
 * are not teleport plugins, were built for another ABI, or share a name
 * with another are refused: logged with one sentence each, counted in
 * set->n_refused, and left out. Returns false when a directory cannot be
 * read or anything was refused; set holds what was accepted either way and
 * is freed with tp_loader_free.
 */
bool		tp_loader_scan(const char *dirs, tp_plugin_set *set);

/* The plugin named name, or NULL. */
tp_plugin  *tp_loader_find(const tp_plugin_set *set, const char *name);

/*
 * The plugin named name, of kind kind, asked for by the config key
 * wanted_by ("targets.t1.transport"). Logs why and returns NULL when there
 * is none or it is of another kind.
 */
tp_plugin  *tp_loader_require(const tp_plugin_set *set, const char *name,
							  tp_plugin_kind kind, const char *wanted_by);

/*
 * Call the plugin's init once, giving it a zero-filled callbacks struct of
 * its kind, and check that it set the callbacks its kind requires. Later
 * calls return the first result. Logs and returns false on failure.
 */
bool		tp_plugin_initialize(tp_plugin *plugin, const tp_host_api *host);

/* "source", "transport" or "applier". */
const char *tp_plugin_kind_name(tp_plugin_kind kind);

/* Forget the set (the libraries stay loaded). */
void		tp_loader_free(tp_plugin_set *set);

#endif							/* TP_LOADER_H */
