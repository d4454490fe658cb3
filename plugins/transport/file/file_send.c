/*
 * file_send.c
 *     The sending half of the file transport: each batch, in its full wire
 *     form (header line and change lines), to a file of its own in the
 *     spool directory.
 *
 * A batch's file is "<source>.<target>.<seq as 20 digits>.batch", so that
 * names sort in seq order. It is written atomically: to ".tmp-<name>.XXXXXX"
 * in the same directory, fsync'd, renamed to its name, and the directory
 * fsync'd; only then is the batch sent. Files are created with mode 0600.
 * A reader must ignore names that start with '.'.
 *
 * Sending the same batch again (after a crash, before the host recorded it
 * as sent) finds the file already there: identical content is TP_OK,
 * different content is TP_ERROR, since two different batches claim the
 * same seq. Every failure to write is TP_RETRY: the disk may come back.
 */
#include "tp_autoconf.h"

#include <dirent.h>
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

/*
 * Remove our own leftover temporary files: those of this (source, target)
 * pair, which only this instance writes. Errors are ignored (the directory
 * may not exist yet).
 */
void
file_remove_stale_temps(tp_plugin_ctx *ctx, const file_state *state)
{
	char		prefix[PATH_MAX];
	DIR		   *dir;
	struct dirent *de;
	int			dfd;

	if (ctx->instance == NULL || ctx->target == NULL)
		return;
	snprintf(prefix, sizeof(prefix), FILE_TMP_PREFIX "%s.%s.", ctx->instance,
			 ctx->target);
	dir = opendir(state->directory);
	if (dir == NULL)
		return;
	dfd = dirfd(dir);
	while ((de = readdir(dir)) != NULL)
	{
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			ctx->host->log(ctx, TP_LOG_INFO,
						   "removed leftover temporary file \"%s/%s\"",
						   state->directory, de->d_name);
	}
	closedir(dir);
}

/*
 * Compare the existing file at path with header + data. Returns 1 when
 * identical, 0 when different, -1 (errno set) when it cannot be read.
 */
static int
same_content(const char *path, const char *header, size_t header_len,
			 const char *data, size_t data_len)
{
	int			fd = open(path, O_RDONLY);
	struct stat st;
	char	   *buf;
	int			result;
	int			save_errno;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0)
	{
		save_errno = errno;
		close(fd);
		errno = save_errno;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != header_len + data_len)
	{
		close(fd);
		return 0;
	}
	buf = malloc(header_len + data_len + 1);
	if (buf == NULL)
	{
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	if (!file_read_all(fd, buf, header_len + data_len))
	{
		save_errno = errno;
		free(buf);
		close(fd);
		errno = save_errno;
		return -1;
	}
	result = memcmp(buf, header, header_len) == 0 &&
		(data_len == 0 || memcmp(buf + header_len, data, data_len) == 0);
	free(buf);
	close(fd);
	return result;
}

/*
 * A name part (source or target) that is safe in a file name: not empty,
 * no '/', not starting with '.'.
 */
static bool
safe_name(const char *name)
{
	return name != NULL && name[0] != '\0' && name[0] != '.' &&
		strchr(name, '/') == NULL;
}

/*
 * Write header + data to a new temporary file in state->directory, fsync
 * and close it. Returns the temporary file's path (malloc'd) or NULL after
 * logging.
 */
static char *
write_temp(tp_plugin_ctx *ctx, const file_state *state, const char *name,
		   const char *header, const tp_batch *batch)
{
	size_t		len = strlen(state->directory) + strlen(name) +
		sizeof(FILE_TMP_PREFIX) + 16;
	char	   *tmp = malloc(len);
	int			fd;

	if (tmp == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return NULL;
	}
	snprintf(tmp, len, "%s/" FILE_TMP_PREFIX "%s.XXXXXX", state->directory, name);
	fd = mkstemp(tmp);
	if (fd < 0 && errno == ENOENT && state->create_directory)
	{
		if (!file_make_dirs(state->directory))
		{
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not create directory \"%s\": %s",
						   state->directory, strerror(errno));
			free(tmp);
			return NULL;
		}
		ctx->host->log(ctx, TP_LOG_INFO, "created directory \"%s\"",
					   state->directory);
		snprintf(tmp, len, "%s/" FILE_TMP_PREFIX "%s.XXXXXX", state->directory, name);
		fd = mkstemp(tmp);
	}
	if (fd < 0)
	{
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not create a file in directory \"%s\": %s",
					   state->directory, strerror(errno));
		free(tmp);
		return NULL;
	}
	if (!file_write_all(fd, header, strlen(header)) ||
		!file_write_all(fd, batch->data, batch->data_len) ||
		fsync(fd) != 0)
	{
		int			save_errno = errno;

		close(fd);
		unlink(tmp);
		ctx->host->log(ctx, TP_LOG_WARNING, "could not write file \"%s\": %s",
					   tmp, strerror(save_errno));
		free(tmp);
		return NULL;
	}
	if (close(fd) != 0)
	{
		ctx->host->log(ctx, TP_LOG_WARNING, "could not close file \"%s\": %s",
					   tmp, strerror(errno));
		unlink(tmp);
		free(tmp);
		return NULL;
	}
	return tmp;
}

/*
 * Write batch to its file in the spool directory, atomically and durably.
 * TP_OK once it is there (or was, with the same content); TP_RETRY (logged)
 * when the directory cannot be written; TP_ERROR (logged) when a file with
 * other content holds the same batch, or the batch cannot be named.
 */
tp_result
file_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	const file_state *state = ctx->private_data;
	char		name[NAME_MAX + 1];
	char	   *path = NULL;
	char	   *tmp = NULL;
	char	   *header = NULL;
	size_t		path_len;
	int			n;
	int			same;
	tp_result	result = TP_RETRY;

	if (!safe_name(batch->source) || !safe_name(batch->target))
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "cannot name the file of batch %llu: source \"%s\" or target \"%s\" is empty, starts with '.' or contains '/'",
					   (unsigned long long) batch->seq,
					   batch->source ? batch->source : "",
					   batch->target ? batch->target : "");
		return TP_ERROR;
	}
	n = snprintf(name, sizeof(name), "%s.%s.%020llu.batch", batch->source,
				 batch->target, (unsigned long long) batch->seq);
	if (n < 0 || (size_t) n >= sizeof(name) - sizeof(FILE_TMP_PREFIX) - 7)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "cannot name the file of batch %llu: source \"%s\" and target \"%s\" make too long a file name",
					   (unsigned long long) batch->seq, batch->source,
					   batch->target);
		return TP_ERROR;
	}
	header = ctx->host->batch_header(ctx, batch);
	if (header == NULL)
		return TP_ERROR;		/* logged by the host */

	path_len = strlen(state->directory) + strlen(name) + 2;
	path = malloc(path_len);
	if (path == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		goto done;
	}
	snprintf(path, path_len, "%s/%s", state->directory, name);

	/* sent before? */
	same = same_content(path, header, strlen(header), batch->data,
						batch->data_len);
	if (same == 1)
	{
		/* make sure its rename is durable, as a first send would have */
		if (!file_sync_directory(state->directory))
		{
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not fsync directory \"%s\": %s",
						   state->directory, strerror(errno));
			goto done;
		}
		ctx->host->log(ctx, TP_LOG_DEBUG,
					   "batch %llu is already in \"%s\"",
					   (unsigned long long) batch->seq, path);
		result = TP_OK;
		goto done;
	}
	if (same == 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "file \"%s\" already holds a different batch %llu from \"%s\" to \"%s\"; move it away once it is understood",
					   path, (unsigned long long) batch->seq, batch->source,
					   batch->target);
		result = TP_ERROR;
		goto done;
	}
	if (errno != ENOENT && errno != ENOTDIR)
	{
		ctx->host->log(ctx, TP_LOG_WARNING, "could not read file \"%s\": %s",
					   path, strerror(errno));
		goto done;
	}

	tmp = write_temp(ctx, state, name, header, batch);
	if (tmp == NULL)
		goto done;				/* logged */
	if (rename(tmp, path) != 0)
	{
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not rename file \"%s\" to \"%s\": %s",
					   tmp, path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	if (!file_sync_directory(state->directory))
	{
		/* the file is complete: a retry finds it and fsyncs again */
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not fsync directory \"%s\": %s",
					   state->directory, strerror(errno));
		goto done;
	}
	ctx->host->log(ctx, TP_LOG_DEBUG, "wrote batch %llu (%llu changes) to \"%s\"",
				   (unsigned long long) batch->seq,
				   (unsigned long long) batch->n_changes, path);
	result = TP_OK;

done:
	free(tmp);
	free(path);
	ctx->host->free(header);
	return result;
}
