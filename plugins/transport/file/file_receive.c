/*
 * file_receive.c
 *     The receiving half of the file transport: imports the batch files of
 *     the spool directory into the inbox (host->deliver), in name order,
 *     which is (source, target, seq) order, and removes each file only after
 *     the inbox committed its batch.
 *
 * Each poll (the core calls receive_poll at the applier interval) lists
 * the directory's "*.batch" files, skipping names that start with '.'
 * (temporary files of a writer, ours or rsync's) and what is not a regular
 * file, and reads at most max_files_per_poll of them. For each file:
 *
 * - it is parsed with host->batch_parse, and its name must be the one its
 *   header gives (source, target and seq). A file that is not a batch, or
 *   whose name disagrees, is moved to the "rejected" subdirectory (logged,
 *   with the reason) so that it is not tried again; nothing of it is
 *   stored. A malformed file whose time is within FILE_SETTLE_SECONDS of
 *   now (either side) is left for a later poll first: a carrier that does
 *   not write atomically (cp) may still be writing it.
 * - it is delivered. STORED or DUPLICATE (the inbox has it, committed):
 *   the file is removed, or moved to the "done" subdirectory with
 *   keep_delivered, and the directory fsync'd. A crash between the commit
 *   and the removal leaves the file, which the next poll delivers again as
 *   a DUPLICATE: the inbox stores each batch exactly once.
 * - GAP: an earlier batch of its (source, target) has not arrived (media
 *   may be carried out of order): the file stays, and the rest of that
 *   stream waits for a later poll. CONFLICT or INVALID: moved to
 *   "rejected", logged as an error. UNAVAILABLE (the database is down):
 *   everything stays and the poll returns TP_RETRY.
 *
 * One receiver per directory: two instances importing from the same
 * directory would race for its files.
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
#include <time.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "file.h"

/* How long a malformed file must have been left alone to be rejected. */
#define FILE_SETTLE_SECONDS 5

/* One "*.batch" file of the directory. */
typedef struct spool_file
{
	char	   *name;			/* malloc'd */
	size_t		stream_len;		/* length of "<source>.<target>" in name */
} spool_file;

/* What became of one file. */
typedef enum import_result
{
	IMPORT_DONE,				/* delivered and removed (or kept in done/) */
	IMPORT_REJECTED,			/* moved to rejected/ */
	IMPORT_WAIT,				/* left: its stream waits (GAP, unreadable...) */
	IMPORT_GONE,				/* vanished meanwhile */
	IMPORT_UNAVAILABLE			/* the inbox is down: stop the poll */
} import_result;

/* What one poll has done so far. */
typedef struct poll_state
{
	char	  **noted;			/* names of files left waiting (logged) */
	size_t		n_noted;
	bool		removed;		/* a file was removed or moved out */
	bool		moved_done;		/* a file was moved to done/ */
	bool		failed;			/* something to retry: return TP_RETRY */
} poll_state;

/*
 * The length of "<source>.<target>" when name is a batch file's name,
 * "<source>.<target>.<20 digits>.batch" with source and target non-empty
 * and source not starting with '.'; 0 when it is not.
 */
static size_t
stream_length(const char *name)
{
	size_t		len = strlen(name);
	size_t		tail = 1 + FILE_SEQ_DIGITS + strlen(FILE_SUFFIX);
	size_t		stream_len;
	const char *dot;

	if (name[0] == '.' || len <= tail + 2 ||
		strcmp(name + len - strlen(FILE_SUFFIX), FILE_SUFFIX) != 0)
		return 0;
	stream_len = len - tail;
	if (name[stream_len] != '.')
		return 0;
	for (size_t i = stream_len + 1; i < stream_len + 1 + FILE_SEQ_DIGITS; i++)
	{
		if (name[i] < '0' || name[i] > '9')
			return 0;
	}
	/* a '.' that leaves both source and target non-empty */
	dot = memchr(name + 1, '.', stream_len - 1);
	if (dot == NULL || dot == name + stream_len - 1)
		return 0;
	return stream_len;
}

/* Whether name is one of list[0..n). */
static bool
in_list(char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
	{
		if (strcmp(list[i], name) == 0)
			return true;
	}
	return false;
}

/* Free list[0..n) and list. */
static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* See file.h: forget the files the last poll left waiting. */
void
file_forget_waiting(file_state *state)
{
	free_list(state->waiting, state->n_waiting);
	state->waiting = NULL;
	state->n_waiting = 0;
}

/*
 * Note that the poll left file name waiting; says whether the previous
 * poll had already noted it (so that it is logged once, not every poll).
 * Out of memory only costs a repeated log line.
 */
static bool
note_waiting(const file_state *state, poll_state *ps, const char *name)
{
	char	  **grown = realloc(ps->noted, (ps->n_noted + 1) * sizeof(char *));

	if (grown != NULL)
	{
		ps->noted = grown;
		if ((grown[ps->n_noted] = strdup(name)) != NULL)
			ps->n_noted++;
	}
	return in_list(state->waiting, state->n_waiting, name);
}

/*
 * Whether the spool directory is there, creating it when missing and
 * create_directory is set. Logs a missing or unusable directory once (at
 * warning), then at debug until it is there again.
 */
static bool
check_directory(tp_plugin_ctx *ctx, file_state *state)
{
	struct stat st;
	tp_log_level level = state->missing_logged ? TP_LOG_DEBUG : TP_LOG_WARNING;

	if (stat(state->directory, &st) == 0)
	{
		if (S_ISDIR(st.st_mode))
		{
			if (state->missing_logged)
				ctx->host->log(ctx, TP_LOG_INFO, "directory \"%s\" is there again",
							   state->directory);
			state->missing_logged = false;
			return true;
		}
		ctx->host->log(ctx, level, "\"%s\" is not a directory; waiting for it",
					   state->directory);
	}
	else if (errno == ENOENT && state->create_directory)
	{
		if (file_make_dirs(state->directory))
		{
			ctx->host->log(ctx, TP_LOG_INFO, "created directory \"%s\"",
						   state->directory);
			state->missing_logged = false;
			return true;
		}
		ctx->host->log(ctx, level, "could not create directory \"%s\": %s",
					   state->directory, strerror(errno));
	}
	else if (errno == ENOENT)
		ctx->host->log(ctx, level,
					   "directory \"%s\" does not exist (not mounted?); waiting for it",
					   state->directory);
	else
		ctx->host->log(ctx, level, "could not access directory \"%s\": %s",
					   state->directory, strerror(errno));
	state->missing_logged = true;
	return false;
}

/* qsort comparator of spool_file by name. */
static int
compare_files(const void *a, const void *b)
{
	return strcmp(((const spool_file *) a)->name,
				  ((const spool_file *) b)->name);
}

/* Free files[0..n) and files. */
static void
free_files(spool_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].name);
	free(files);
}

/*
 * The regular files of the directory whose names end in ".batch" and do
 * not start with '.', sorted by name, into *files (free_files) and *n.
 * Names that end in ".batch" but are no batch file's name have stream_len
 * 0. False (logged) when the directory cannot be read.
 */
static bool
list_files(tp_plugin_ctx *ctx, const file_state *state, spool_file **files,
		   size_t *n)
{
	DIR		   *dir = opendir(state->directory);
	struct dirent *de;
	spool_file *list = NULL;
	size_t		count = 0;
	size_t		cap = 0;
	size_t		suffix_len = strlen(FILE_SUFFIX);

	*files = NULL;
	*n = 0;
	if (dir == NULL)
	{
		ctx->host->log(ctx, TP_LOG_WARNING, "could not open directory \"%s\": %s",
					   state->directory, strerror(errno));
		return false;
	}
	while ((errno = 0, de = readdir(dir)) != NULL)
	{
		size_t		len = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' || len <= suffix_len ||
			strcmp(de->d_name + len - suffix_len, FILE_SUFFIX) != 0)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, 0) != 0 ||
			!S_ISREG(st.st_mode))
			continue;
		if (count == cap)
		{
			size_t		new_cap = cap == 0 ? 64 : cap * 2;
			spool_file *grown = realloc(list, new_cap * sizeof(spool_file));

			if (grown == NULL)
				goto oom;
			list = grown;
			cap = new_cap;
		}
		list[count].name = strdup(de->d_name);
		if (list[count].name == NULL)
			goto oom;
		list[count].stream_len = stream_length(de->d_name);
		count++;
	}
	if (errno != 0)
	{
		ctx->host->log(ctx, TP_LOG_WARNING, "could not read directory \"%s\": %s",
					   state->directory, strerror(errno));
		closedir(dir);
		free_files(list, count);
		return false;
	}
	closedir(dir);
	if (count > 0)
		qsort(list, count, sizeof(spool_file), compare_files);
	*files = list;
	*n = count;
	return true;

oom:
	ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
	closedir(dir);
	free_files(list, count);
	return false;
}

/*
 * The subdirectory sub of the spool directory, created (mode 0700) when
 * missing. A new string (free), or NULL after logging.
 */
static char *
subdirectory(tp_plugin_ctx *ctx, const file_state *state, const char *sub)
{
	char	   *path = file_path_join(state->directory, sub);

	if (path == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		return NULL;
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "could not create directory \"%s\": %s",
					   path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

/*
 * Move file name out of the way into the "rejected" subdirectory (under
 * its name, or NAME.1, NAME.2 ... when that is taken by an earlier one),
 * durably, and log it as an error with reason. Returns IMPORT_REJECTED, or
 * IMPORT_WAIT (logged) when it could not be moved: it stays, and is tried
 * again.
 */
static import_result
reject(tp_plugin_ctx *ctx, const file_state *state, poll_state *ps,
	   const char *name, const char *reason)
{
	char	   *dir = subdirectory(ctx, state, FILE_REJECTED_DIR);
	char	   *from = file_path_join(state->directory, name);
	char		to[PATH_MAX];
	struct stat st;
	int			n = 0;

	if (dir == NULL || from == NULL)
	{
		if (from == NULL)
			ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		goto fail;
	}
	for (;;)
	{
		int			len = n == 0 ?
			snprintf(to, sizeof(to), "%s/%s", dir, name) :
			snprintf(to, sizeof(to), "%s/%s.%d", dir, name, n);

		if (len < 0 || (size_t) len >= sizeof(to))
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "file \"%s\" is not a valid batch (%s), and \"%s\" makes too long a name to move it to",
						   from, reason, dir);
			goto fail;
		}
		if (lstat(to, &st) != 0 && errno == ENOENT)
			break;
		if (++n > 1000)
		{
			ctx->host->log(ctx, TP_LOG_ERROR,
						   "file \"%s\" is not a valid batch (%s), and \"%s\" holds too many files of that name",
						   from, reason, dir);
			goto fail;
		}
	}
	if (rename(from, to) != 0)
	{
		ctx->host->log(ctx, TP_LOG_ERROR,
					   "file \"%s\" is not a valid batch (%s), and it could not be moved to \"%s\": %s",
					   from, reason, to, strerror(errno));
		goto fail;
	}
	if (!file_sync_directory(dir) || !file_sync_directory(state->directory))
		ctx->host->log(ctx, TP_LOG_WARNING, "could not fsync directory \"%s\": %s",
					   state->directory, strerror(errno));
	ctx->host->log(ctx, TP_LOG_ERROR,
				   "rejected file \"%s\": %s; moved it to \"%s\", nothing of it was imported",
				   from, reason, to);
	ps->removed = true;
	free(from);
	free(dir);
	return IMPORT_REJECTED;

fail:
	ps->failed = true;
	free(from);
	free(dir);
	return IMPORT_WAIT;
}

/*
 * The inbox has the batch of file name: remove the file, or move it to
 * done/ with keep_delivered. A failure is logged: the file stays, and the
 * next poll delivers it again (a DUPLICATE) and tries again.
 */
static void
finish_delivered(tp_plugin_ctx *ctx, const file_state *state,
				 poll_state *ps, const char *name)
{
	char	   *from = file_path_join(state->directory, name);
	char	   *dir = NULL;
	char	   *to = NULL;

	if (from == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		ps->failed = true;
		return;
	}
	if (!state->keep_delivered)
	{
		if (unlink(from) != 0 && errno != ENOENT)
		{
			ctx->host->log(ctx, TP_LOG_WARNING, "could not remove file \"%s\": %s",
						   from, strerror(errno));
			ps->failed = true;
		}
		else
			ps->removed = true;
		free(from);
		return;
	}
	dir = subdirectory(ctx, state, FILE_DONE_DIR);
	if (dir != NULL && (to = file_path_join(dir, name)) == NULL)
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
	if (to == NULL)
		ps->failed = true;
	else if (rename(from, to) != 0)
	{
		ctx->host->log(ctx, TP_LOG_WARNING,
					   "could not move file \"%s\" to \"%s\": %s",
					   from, to, strerror(errno));
		ps->failed = true;
	}
	else
	{
		ps->removed = true;
		ps->moved_done = true;
	}
	free(to);
	free(dir);
	free(from);
}

/*
 * Read all of the file name of the directory into a new buffer (free)
 * and its length into *len. NULL with errno set when it cannot be read;
 * *mtime is its modification time.
 */
static char *
read_file(const file_state *state, const char *name, size_t *len,
		  time_t *mtime)
{
	char	   *path = file_path_join(state->directory, name);
	int			fd;
	struct stat st;
	char	   *buf = NULL;
	int			save_errno;

	if (path == NULL)
	{
		errno = ENOMEM;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	save_errno = errno;
	free(path);
	if (fd < 0)
	{
		errno = save_errno;
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode))
	{
		errno = EINVAL;
		goto fail;
	}
	buf = malloc((size_t) st.st_size + 1);
	if (buf == NULL)
	{
		errno = ENOMEM;
		goto fail;
	}
	if (!file_read_all(fd, buf, (size_t) st.st_size))
		goto fail;
	close(fd);
	buf[st.st_size] = '\0';
	*len = (size_t) st.st_size;
	*mtime = st.st_mtime;
	return buf;

fail:
	save_errno = errno;
	free(buf);
	close(fd);
	errno = save_errno;
	return NULL;
}

/*
 * Import the file f: read, check, deliver, then remove or reject it. See
 * the header comment; everything is logged here.
 */
static import_result
import_file(tp_plugin_ctx *ctx, file_state *state, poll_state *ps,
			const spool_file *f)
{
	char		reason[512];
	char		parse_reason[256];
	char		expected[NAME_MAX + 1];
	char	   *buf;
	size_t		len = 0;
	time_t		mtime = 0;
	tp_batch   *batch = NULL;
	tp_delivery outcome;
	tp_result	r;
	import_result result;

	if (f->stream_len == 0)
		return reject(ctx, state, ps, f->name,
					  "its name is not \"<source>.<target>.<seq as 20 digits>.batch\"");

	buf = read_file(state, f->name, &len, &mtime);
	if (buf == NULL)
	{
		if (errno == ENOENT)
			return IMPORT_GONE;
		if (!note_waiting(state, ps, f->name))
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not read file \"%s/%s\": %s; trying again later",
						   state->directory, f->name, strerror(errno));
		ps->failed = true;
		return IMPORT_WAIT;
	}
	r = ctx->host->batch_parse(ctx, buf, len, &batch, parse_reason,
							   sizeof(parse_reason));
	free(buf);
	if (r != TP_OK)
	{
		time_t		now = time(NULL);

		/*
		 * Perhaps still being written by a carrier that does not rename.
		 * Its time may be a little ahead of time(2): file times come from
		 * a finer clock, and the writer's clock may run ahead; far ahead,
		 * it is no sign of a write under way.
		 */
		if (mtime > now - FILE_SETTLE_SECONDS && mtime < now + FILE_SETTLE_SECONDS)
		{
			if (!note_waiting(state, ps, f->name))
				ctx->host->log(ctx, TP_LOG_INFO,
							   "file \"%s/%s\" is not a valid batch yet (%s); it is rejected unless it changes within %d s",
							   state->directory, f->name, parse_reason,
							   FILE_SETTLE_SECONDS);
			return IMPORT_WAIT;
		}
		return reject(ctx, state, ps, f->name, parse_reason);
	}

	/* the name must be the one the header gives */
	snprintf(expected, sizeof(expected), "%s.%s.%0*llu" FILE_SUFFIX,
			 batch->source, batch->target, FILE_SEQ_DIGITS,
			 (unsigned long long) batch->seq);
	if (strcmp(expected, f->name) != 0)
	{
		snprintf(reason, sizeof(reason),
				 "its header is that of batch %llu from \"%s\" to \"%s\", whose file name is \"%s\"",
				 (unsigned long long) batch->seq, batch->source, batch->target,
				 expected);
		ctx->host->batch_free(batch);
		return reject(ctx, state, ps, f->name, reason);
	}

	memset(&outcome, 0, sizeof(outcome));
	outcome.size = sizeof(outcome);
	r = ctx->host->deliver(ctx, batch, &outcome);
	if (r == TP_OK && (outcome.status == TP_DELIVERY_STORED ||
					   outcome.status == TP_DELIVERY_DUPLICATE))
	{
		/* committed: only now may the file go */
		ctx->host->log(ctx, TP_LOG_DEBUG, "imported batch %llu from \"%s\" to \"%s\" (%s)",
					   (unsigned long long) batch->seq, batch->source,
					   batch->target,
					   outcome.status == TP_DELIVERY_STORED ? "stored" : "a duplicate");
		state->unavailable_logged = false;
		finish_delivered(ctx, state, ps, f->name);
		result = IMPORT_DONE;
	}
	else if (r == TP_RETRY || outcome.status == TP_DELIVERY_UNAVAILABLE ||
			 r == TP_OK)
	{
		/* TP_OK with another outcome is not an acknowledgement: keep it */
		if (!state->unavailable_logged)
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "could not import file \"%s/%s\": %s; it stays, with the files after it, until the inbox is available",
						   state->directory, f->name,
						   outcome.reason[0] ? outcome.reason : "the inbox is unavailable");
		state->unavailable_logged = true;
		ps->failed = true;
		result = IMPORT_UNAVAILABLE;
	}
	else if (outcome.status == TP_DELIVERY_GAP)
	{
		if (!note_waiting(state, ps, f->name))
			ctx->host->log(ctx, TP_LOG_INFO,
						   "file \"%s/%s\" waits: batch %llu from \"%s\" to \"%s\" comes after batch %llu, which has not arrived",
						   state->directory, f->name,
						   (unsigned long long) batch->seq, batch->source,
						   batch->target,
						   (unsigned long long) outcome.expected_seq);
		result = IMPORT_WAIT;
	}
	else if (outcome.status == TP_DELIVERY_CONFLICT ||
			 outcome.status == TP_DELIVERY_INVALID)
	{
		snprintf(reason, sizeof(reason), "the inbox refused batch %llu (%s): %s",
				 (unsigned long long) batch->seq,
				 outcome.status == TP_DELIVERY_CONFLICT ?
				 "another batch with that seq is stored" : "invalid",
				 outcome.reason[0] ? outcome.reason : "no reason given");
		result = reject(ctx, state, ps, f->name, reason);
	}
	else
	{
		/* an outcome we do not know: keep the file, say so */
		if (!note_waiting(state, ps, f->name))
			ctx->host->log(ctx, TP_LOG_WARNING,
						   "file \"%s/%s\" was not imported (outcome %d: %s); trying again later",
						   state->directory, f->name, (int) outcome.status,
						   outcome.reason);
		ps->failed = true;
		result = IMPORT_WAIT;
	}
	ctx->host->batch_free(batch);
	return result;
}

/* Whether the stream of file f is one of the blocked files' streams. */
static bool
stream_blocked(const spool_file *f, const spool_file *const *blocked,
			   size_t n_blocked)
{
	for (size_t i = 0; i < n_blocked; i++)
	{
		if (blocked[i]->stream_len == f->stream_len &&
			memcmp(blocked[i]->name, f->name, f->stream_len) == 0)
			return true;
	}
	return false;
}

/* Check the directory: TP_OK when it is there (or was created). */
tp_result
file_receive_start(tp_plugin_ctx *ctx)
{
	file_state *state = ctx->private_data;

	if (!check_directory(ctx, state))
		return TP_RETRY;		/* logged */
	ctx->host->log(ctx, TP_LOG_INFO, "importing batch files from \"%s\"",
				   state->directory);
	return TP_OK;
}

/*
 * Import what the directory holds, at most max_files_per_poll files. TP_OK
 * when every file read was imported, rejected or is waiting for an earlier
 * one; TP_RETRY (logged) when the directory or the inbox is unavailable or
 * a file could not be read or moved.
 */
tp_result
file_receive_poll(tp_plugin_ctx *ctx)
{
	file_state *state = ctx->private_data;
	spool_file *files;
	size_t		n_files;
	const spool_file **blocked = NULL;
	size_t		n_blocked = 0;
	int64_t		n_read = 0;
	poll_state	ps;
	tp_result	result = TP_OK;

	memset(&ps, 0, sizeof(ps));
	if (!check_directory(ctx, state))
		return TP_RETRY;
	if (!list_files(ctx, state, &files, &n_files))
		return TP_RETRY;
	if (n_files > 0 && (blocked = malloc(n_files * sizeof(*blocked))) == NULL)
	{
		ctx->host->log(ctx, TP_LOG_ERROR, "out of memory");
		free_files(files, n_files);
		return TP_RETRY;
	}
	for (size_t i = 0; i < n_files; i++)
	{
		import_result r;

		if (ctx->host->stopping(ctx))
			break;
		if (files[i].stream_len > 0 &&
			stream_blocked(&files[i], blocked, n_blocked))
			continue;
		if (n_read >= state->max_files_per_poll)
		{
			ctx->host->log(ctx, TP_LOG_DEBUG,
						   "read %lld files of \"%s\"; the rest waits for the next poll",
						   (long long) n_read, state->directory);
			break;
		}
		n_read++;
		r = import_file(ctx, state, &ps, &files[i]);
		if (r == IMPORT_UNAVAILABLE)
			break;
		if (r == IMPORT_WAIT && files[i].stream_len > 0)
			blocked[n_blocked++] = &files[i];
	}

	/* make the removals durable (a lost one is only a duplicate later) */
	if (ps.moved_done)
	{
		char	   *done = file_path_join(state->directory, FILE_DONE_DIR);

		if (done == NULL || !file_sync_directory(done))
			ctx->host->log(ctx, TP_LOG_WARNING, "could not fsync directory \"%s/%s\": %s",
						   state->directory, FILE_DONE_DIR, strerror(errno));
		free(done);
	}
	if (ps.removed && !file_sync_directory(state->directory))
		ctx->host->log(ctx, TP_LOG_WARNING, "could not fsync directory \"%s\": %s",
					   state->directory, strerror(errno));

	/* what this poll left waiting is what the next one need not log again */
	file_forget_waiting(state);
	state->waiting = ps.noted;
	state->n_waiting = ps.n_noted;

	if (ps.failed)
		result = TP_RETRY;
	free(blocked);
	free_files(files, n_files);
	return result;
}

/* Nothing runs between polls: nothing to stop. */
void
file_receive_stop(tp_plugin_ctx *ctx)
{
	(void) ctx;
}
