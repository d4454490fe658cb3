/*
 * file.c
 *     The file transport: a spool directory. The sending half
 *     (file_send.c) writes each batch, in its full wire form (header line
 *     and change lines), to a file of its own; something else carries the
 *     files to the target (a shared disk, rsync, removable media for an
 *     air-gapped target), whose receiving half (file_receive.c) imports
 *     them into the inbox. This file holds the options, the instance's life
 *     cycle and the file system helpers both halves use.
 *
 * Built exactly as a third party's plugin: it includes only the public
 * headers and reaches teleport only through ctx->host.
 *
 * The directory is created (with its missing parents, mode 0700) when it
 * does not exist, unless create_directory is false, for a spool on a
 * removable disk: there a missing directory means the disk is not mounted
 * and both halves wait (TP_RETRY) rather than fill the disk below the
 * mount point.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "file.h"

static const tp_option_desc file_options[] = {
	{"directory", TP_OPTION_PATH, NULL, true,
	"The spool directory that each batch is written to (sending) or imported from (receiving), one file per batch."},
	{"create_directory", TP_OPTION_BOOL, "true", false,
	"Create the spool directory (mode 0700) when it is missing; false to wait for it instead."},
	{"keep_delivered", TP_OPTION_BOOL, "false", false,
	"Receiving: move each imported file to the \"done\" subdirectory instead of removing it."},
	{"max_files_per_poll", TP_OPTION_INT, "100", false,
	"Receiving: the most files imported in one pass over the directory."},
	{NULL, 0, NULL, false, NULL}
};

/* Parse an option of type TP_OPTION_BOOL; false (logged) if it is neither. */
static bool
parse_bool(tp_plugin_ctx *ctx, const char *name, const char *text,
		   bool *value)
{
	if (text == NULL || strcmp(text, "false") == 0)
		*value = false;
	else if (strcmp(text, "true") == 0)
		*value = true;
	else
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"%s\" of %s must be true or false, not \"%s\"",
					   name, ctx->section ? ctx->section : "the transport", text);
		return false;
	}
	return true;
}

/*
 * Parse a positive integer option (TP_OPTION_INT); false (logged) when it
 * is not one. NULL (unset, no default) leaves *value alone.
 */
static bool
parse_positive(tp_plugin_ctx *ctx, const char *name, const char *text,
			   int64_t *value)
{
	char	   *end;
	long long	v;

	if (text == NULL)
		return true;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v <= 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "option \"%s\" of %s must be a positive integer, not \"%s\"",
					   name, ctx->section ? ctx->section : "the transport", text);
		return false;
	}
	*value = v;
	return true;
}

/* Free a file_state and everything it owns. NULL is allowed. */
static void
free_state(file_state *state)
{
	if (state == NULL)
		return;
	file_forget_waiting(state);
	free(state->directory);
	free(state);
}

/* Read the options into a new file_state (private_data). */
static tp_result
file_startup(tp_plugin_ctx *ctx)
{
	const char *directory = ctx->host->option(ctx, "directory");
	file_state *state;

	if (directory == NULL || directory[0] == '\0')
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "option \"directory\" of %s is not set",
					   ctx->section ? ctx->section : "the transport");
		return TP_ERROR;
	}
	state = calloc(1, sizeof(file_state));
	if (state == NULL || (state->directory = strdup(directory)) == NULL)
	{
		free(state);
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return TP_ERROR;
	}
	state->max_files_per_poll = 100;
	if (!parse_bool(ctx, "create_directory",
					ctx->host->option(ctx, "create_directory"),
					&state->create_directory) ||
		!parse_bool(ctx, "keep_delivered",
					ctx->host->option(ctx, "keep_delivered"),
					&state->keep_delivered) ||
		!parse_positive(ctx, "max_files_per_poll",
						ctx->host->option(ctx, "max_files_per_poll"),
						&state->max_files_per_poll))
	{
		free_state(state);
		return TP_ERROR;
	}
	ctx->private_data = state;
	if (!ctx->receiving)
		file_remove_stale_temps(ctx, state);
	return TP_OK;
}

/* Free private_data. */
static void
file_shutdown(tp_plugin_ctx *ctx)
{
	free_state(ctx->private_data);
	ctx->private_data = NULL;
}

/* See file.h: mkdir -p path with mode 0700. False with errno set. */
bool
file_make_dirs(const char *path)
{
	char		buf[PATH_MAX];
	size_t		len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
	{
		errno = ENAMETOOLONG;
		return false;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++)
	{
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return false;
	return true;
}

/* See file.h: write all of buf to fd, retrying short writes. */
bool
file_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = write(fd, buf, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += n;
		len -= (size_t) n;
	}
	return true;
}

/*
 * See file.h: read exactly len bytes from fd into buf. False with errno
 * set on error, EIO on a short file.
 */
bool
file_read_all(int fd, char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		n = read(fd, buf, len);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
		{
			errno = EIO;
			return false;
		}
		buf += n;
		len -= (size_t) n;
	}
	return true;
}

/* See file.h: fsync the directory path, so that renames in it are durable. */
bool
file_sync_directory(const char *path)
{
	int			fd = open(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return false;
	if (fsync(fd) != 0)
	{
		int			save_errno = errno;

		close(fd);
		errno = save_errno;
		return false;
	}
	close(fd);
	return true;
}

/* See file.h: "dir/name", a new string (free), or NULL when out of memory. */
char *
file_path_join(const char *dir, const char *name)
{
	size_t		len = strlen(dir) + strlen(name) + 2;
	char	   *path = malloc(len);

	if (path != NULL)
		snprintf(path, len, "%s/%s", dir, name);
	return path;
}

/* Fill the transport callbacks: both halves. */
static tp_result
file_init(const tp_host_api *host, void *callbacks)
{
	tp_transport_callbacks *cb = callbacks;

	(void) host;
	cb->startup = file_startup;
	cb->send = file_send;
	cb->receive_start = file_receive_start;
	cb->receive_poll = file_receive_poll;
	cb->receive_stop = file_receive_stop;
	cb->shutdown = file_shutdown;
	return TP_OK;
}

TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, "file", "1.0.0",
				"writes each batch to a file of its own in a spool directory, and imports such files",
				file_options, file_init)
