/*
 * loader.c
 *     Finding plugins, checking their identity blocks and initialising them,
 *     with libltdl.
 *
 * The only code of a library that runs before its identity block has been
 * checked is teleport_plugin_info() itself (and the library's constructors,
 * which no loader can prevent). A library that is refused is closed again;
 * an accepted one is never unloaded, as in PostgreSQL.
 */
#include "tp_autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/teleport.h>

#include "loader.h"
#include "log.h"
#include "xalloc.h"

#define LOG_COMPONENT "loader"

/* The size of tp_plugin_info as ABI 1.0 defined it: the least we accept. */
#define INFO_SIZE_1_0 (offsetof(tp_plugin_info, init) + sizeof(void (*) (void)))

/* See loader.h. */
const char *
tp_loader_search_path(const char *explicit_dirs)
{
	const char *env;

	if (explicit_dirs != NULL && explicit_dirs[0] != '\0')
		return explicit_dirs;
	env = getenv("TELEPORT_PLUGIN_DIR");
	if (env != NULL && env[0] != '\0')
		return env;
	return PKGLIBDIR;
}

/* See loader.h. */
const char *
tp_plugin_kind_name(tp_plugin_kind kind)
{
	switch (kind)
	{
		case TP_PLUGIN_SOURCE:
			return "source";
		case TP_PLUGIN_TRANSPORT:
			return "transport";
		case TP_PLUGIN_APPLIER:
			return "applier";
	}
	return "unknown";
}

/* qsort comparator for C strings. */
static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The stems (file names without .la or .so) of dir's candidate files,
 * sorted and without repeats, in a new array of new strings (caller frees
 * each and the array). NULL after logging when dir cannot be read.
 */
static char **
list_stems(const char *dir, size_t *n_stems)
{
	DIR		   *d = opendir(dir);
	struct dirent *de;
	char	  **stems = NULL;
	size_t		n = 0;
	size_t		cap = 0;

	*n_stems = 0;
	if (d == NULL)
	{
		tp_error(LOG_COMPONENT, "could not open plugin directory \"%s\": %s",
				 dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 4)
			continue;
		if (strcmp(de->d_name + len - 3, ".la") != 0 &&
			strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 16;
			stems = tp_xrealloc(stems, cap * sizeof(char *));
		}
		stems[n] = tp_xstrdup(de->d_name);
		stems[n][len - 3] = '\0';
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(stems, n, sizeof(char *), compare_names);
	/* drop repeats: foo.la and foo.so are one library */
	size_t		kept = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (kept > 0 && strcmp(stems[kept - 1], stems[i]) == 0)
			free(stems[i]);
		else
			stems[kept++] = stems[i];
	}
	*n_stems = kept;
	if (stems == NULL)
		stems = tp_xcalloc(1, sizeof(char *));
	return stems;
}

/*
 * Check an identity block against this teleport's ABI. Logs the one
 * sentence that explains a refusal and returns false.
 */
static bool
check_info(const tp_plugin_info *info, const char *file)
{
	if (info == NULL)
	{
		tp_error(LOG_COMPONENT, "%s is not a usable teleport plugin: teleport_plugin_info() returned NULL",
				 file);
		return false;
	}
	if (info->size < offsetof(tp_plugin_info, kind))
	{
		tp_error(LOG_COMPONENT, "%s is not a usable teleport plugin: its identity block is %u bytes, too small to hold an ABI version",
				 file, (unsigned) info->size);
		return false;
	}
	if (info->abi_major != TELEPORT_ABI_MAJOR)
	{
		tp_error(LOG_COMPONENT, "plugin %s was built for ABI %u.%u, this teleport speaks ABI %d.%d: rebuild it against this teleport's headers",
				 file, (unsigned) info->abi_major, (unsigned) info->abi_minor,
				 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
		return false;
	}
	if (info->abi_minor > TELEPORT_ABI_MINOR)
	{
		tp_error(LOG_COMPONENT, "plugin %s was built for ABI %u.%u, newer than this teleport's ABI %d.%d: upgrade teleport or rebuild the plugin",
				 file, (unsigned) info->abi_major, (unsigned) info->abi_minor,
				 TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
		return false;
	}
	if (info->size < INFO_SIZE_1_0)
	{
		tp_error(LOG_COMPONENT, "%s is not a usable teleport plugin: its identity block is %u bytes, ABI %d.0 needs at least %zu",
				 file, (unsigned) info->size, TELEPORT_ABI_MAJOR, (size_t) INFO_SIZE_1_0);
		return false;
	}
	if (info->kind != TP_PLUGIN_SOURCE && info->kind != TP_PLUGIN_TRANSPORT &&
		info->kind != TP_PLUGIN_APPLIER)
	{
		tp_error(LOG_COMPONENT, "%s declares an unknown plugin kind %d",
				 file, (int) info->kind);
		return false;
	}
	if (info->name == NULL || info->name[0] == '\0' ||
		strspn(info->name, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(info->name))
	{
		tp_error(LOG_COMPONENT, "%s declares an invalid plugin name: names are lower-case letters, digits, '-' and '_'",
				 file);
		return false;
	}
	if (info->version == NULL || info->init == NULL)
	{
		tp_error(LOG_COMPONENT, "plugin \"%s\" (%s) declares no %s",
				 info->name, file, info->version == NULL ? "version" : "init function");
		return false;
	}
	return true;
}

/* Remember that name is claimed twice (once). */
static void
mark_ambiguous(tp_plugin_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_ambiguous; i++)
	{
		if (strcmp(set->ambiguous[i], name) == 0)
			return;
	}
	set->ambiguous = tp_xrealloc(set->ambiguous, (set->n_ambiguous + 1) * sizeof(char *));
	set->ambiguous[set->n_ambiguous] = tp_xstrdup(name);
	set->n_ambiguous++;
}

/*
 * Open dir/stem and add it to set if it is an acceptable plugin; otherwise
 * log why, count it as refused and close it.
 */
static void
load_one(tp_plugin_set *set, const char *dir, const char *stem, lt_dladvise advise)
{
	size_t		len = strlen(dir) + strlen(stem) + 2;
	char	   *base = tp_xmalloc(len);
	lt_dlhandle handle;
	const lt_dlinfo *dlinfo;
	char	   *file;
	tp_plugin_entry_fn entry;
	const tp_plugin_info *info;

	snprintf(base, len, "%s/%s", dir, stem);
	handle = lt_dlopenadvise(base, advise);
	if (handle == NULL)
	{
		tp_error(LOG_COMPONENT, "could not load library \"%s\": %s", base, lt_dlerror());
		set->n_refused++;
		free(base);
		return;
	}
	dlinfo = lt_dlgetinfo(handle);
	file = tp_xstrdup(dlinfo != NULL && dlinfo->filename != NULL ? dlinfo->filename : base);
	free(base);

	/* ISO C cannot convert void * to a function pointer; POSIX can. */
	void	   *sym = lt_dlsym(handle, TELEPORT_PLUGIN_ENTRY_SYMBOL);

	if (sym == NULL)
	{
		tp_error(LOG_COMPONENT, "%s is not a teleport plugin: it does not export %s()",
				 file, TELEPORT_PLUGIN_ENTRY_SYMBOL);
		goto refuse;
	}
	memcpy(&entry, &sym, sizeof(entry));
	info = entry();
	if (!check_info(info, file))
		goto refuse;

	for (size_t i = 0; i < set->n; i++)
	{
		if (strcmp(set->plugins[i].info->name, info->name) == 0)
		{
			tp_error(LOG_COMPONENT, "two plugins are named \"%s\": %s and %s; remove one of them from the plugin path",
					 info->name, set->plugins[i].path, file);
			mark_ambiguous(set, info->name);
			goto refuse;
		}
	}

	set->plugins = tp_xrealloc(set->plugins, (set->n + 1) * sizeof(tp_plugin));
	set->plugins[set->n].path = file;
	set->plugins[set->n].info = info;
	set->plugins[set->n].handle = handle;
	set->plugins[set->n].callbacks = NULL;
	set->n++;
	tp_debug(LOG_COMPONENT, "loaded %s plugin \"%s\" %s from %s",
			 tp_plugin_kind_name(info->kind), info->name, info->version, file);
	return;

refuse:
	set->n_refused++;
	free(file);
	lt_dlclose(handle);
}

/* See loader.h. */
bool
tp_loader_scan(const char *dirs, tp_plugin_set *set)
{
	bool		ok = true;
	char	   *copy;
	char	   *save = NULL;
	lt_dladvise advise;

	memset(set, 0, sizeof(*set));
	set->dirs = tp_xstrdup(dirs);
	copy = tp_xstrdup(dirs);
	if (lt_dlinit() != 0)
	{
		tp_error(LOG_COMPONENT, "could not initialise libltdl: %s", lt_dlerror());
		free(copy);
		return false;
	}
	/* each plugin in its own namespace: they all export the same symbol */
	if (lt_dladvise_init(&advise) != 0 || lt_dladvise_ext(&advise) != 0 ||
		lt_dladvise_local(&advise) != 0)
	{
		tp_error(LOG_COMPONENT, "could not set up libltdl: %s", lt_dlerror());
		free(copy);
		return false;
	}
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
		 dir = strtok_r(NULL, ":", &save))
	{
		size_t		n_stems;
		char	  **stems = list_stems(dir, &n_stems);

		if (stems == NULL)
		{
			ok = false;
			continue;
		}
		for (size_t i = 0; i < n_stems; i++)
		{
			load_one(set, dir, stems[i], advise);
			free(stems[i]);
		}
		free(stems);
	}
	lt_dladvise_destroy(&advise);
	free(copy);
	/* a name two files claim is usable from neither */
	for (size_t i = 0; i < set->n_ambiguous; i++)
	{
		for (size_t j = 0; j < set->n; j++)
		{
			if (strcmp(set->plugins[j].info->name, set->ambiguous[i]) == 0)
			{
				free(set->plugins[j].path);
				memmove(&set->plugins[j], &set->plugins[j + 1],
						(set->n - j - 1) * sizeof(tp_plugin));
				set->n--;
				set->n_refused++;
				break;
			}
		}
	}
	return ok && set->n_refused == 0;
}

/* See loader.h. */
tp_plugin *
tp_loader_find(const tp_plugin_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
	{
		if (strcmp(set->plugins[i].info->name, name) == 0)
			return &set->plugins[i];
	}
	return NULL;
}

/* See loader.h. */
tp_plugin *
tp_loader_require(const tp_plugin_set *set, const char *name,
				  tp_plugin_kind kind, const char *wanted_by)
{
	tp_plugin  *plugin = tp_loader_find(set, name);

	if (plugin == NULL)
	{
		for (size_t i = 0; i < set->n_ambiguous; i++)
		{
			if (strcmp(set->ambiguous[i], name) == 0)
			{
				tp_error(LOG_COMPONENT, "%s names plugin \"%s\", which two files in %s provide: remove one of them",
						 wanted_by, name, set->dirs);
				return NULL;
			}
		}
		tp_error(LOG_COMPONENT, "%s names %s plugin \"%s\", which is not in the plugin path %s",
				 wanted_by, tp_plugin_kind_name(kind), name, set->dirs);
		return NULL;
	}
	if (plugin->info->kind != kind)
	{
		tp_error(LOG_COMPONENT, "%s names plugin \"%s\" whose kind is %s, but it needs a plugin of kind %s (%s)",
				 wanted_by, name, tp_plugin_kind_name(plugin->info->kind),
				 tp_plugin_kind_name(kind), plugin->path);
		return NULL;
	}
	return plugin;
}

/* A new zero-filled callbacks struct for kind, its size set (caller frees). */
static void *
new_callbacks(tp_plugin_kind kind)
{
	switch (kind)
	{
		case TP_PLUGIN_SOURCE:
			{
				tp_source_callbacks *cb = tp_xcalloc(1, sizeof(*cb));

				cb->size = sizeof(*cb);
				return cb;
			}
		case TP_PLUGIN_TRANSPORT:
			{
				tp_transport_callbacks *cb = tp_xcalloc(1, sizeof(*cb));

				cb->size = sizeof(*cb);
				return cb;
			}
		case TP_PLUGIN_APPLIER:
			{
				tp_applier_callbacks *cb = tp_xcalloc(1, sizeof(*cb));

				cb->size = sizeof(*cb);
				return cb;
			}
	}
	return NULL;
}

/* The required callback the plugin left NULL, or NULL when all are there. */
static const char *
missing_callback(tp_plugin_kind kind, const void *callbacks)
{
	switch (kind)
	{
		case TP_PLUGIN_SOURCE:
			{
				const tp_source_callbacks *cb = callbacks;

				return cb->install == NULL ? "install" : NULL;
			}
		case TP_PLUGIN_TRANSPORT:
			{
				const tp_transport_callbacks *cb = callbacks;

				return cb->send == NULL && cb->receive_start == NULL &&
					cb->receive_poll == NULL ? "send or receive_start" : NULL;
			}
		case TP_PLUGIN_APPLIER:
			{
				const tp_applier_callbacks *cb = callbacks;

				return cb->apply == NULL ? "apply" : NULL;
			}
	}
	return "a known kind";
}

/* See loader.h. */
bool
tp_plugin_initialize(tp_plugin *plugin, const tp_host_api *host)
{
	void	   *cb;
	const char *missing;

	if (plugin->callbacks != NULL)
		return true;
	cb = new_callbacks(plugin->info->kind);
	if (cb == NULL)
		abort();
	if (plugin->info->init(host, cb) != TP_OK)
	{
		tp_error(LOG_COMPONENT, "plugin \"%s\" (%s) failed to initialise",
				 plugin->info->name, plugin->path);
		free(cb);
		return false;
	}
	missing = missing_callback(plugin->info->kind, cb);
	if (missing != NULL)
	{
		tp_error(LOG_COMPONENT, "%s plugin \"%s\" (%s) did not set its %s callback",
				 tp_plugin_kind_name(plugin->info->kind), plugin->info->name,
				 plugin->path, missing);
		free(cb);
		return false;
	}
	plugin->callbacks = cb;
	return true;
}

/* See loader.h. */
void
tp_loader_free(tp_plugin_set *set)
{
	for (size_t i = 0; i < set->n; i++)
	{
		free(set->plugins[i].path);
		free(set->plugins[i].callbacks);
	}
	for (size_t i = 0; i < set->n_ambiguous; i++)
		free(set->ambiguous[i]);
	free(set->ambiguous);
	free(set->plugins);
	free(set->dirs);
	memset(set, 0, sizeof(*set));
}
