/*
 * file.h
 *     What the parts of the file transport share: an instance's state and
 *     the file system helpers. Internal to the plugin (file.c, file_send.c,
 *     file_receive.c); nothing of it is exported.
 *
 * The spool directory holds one file per batch, named
 * "<source>.<target>.<seq as 20 digits>.batch", so that names sort in seq
 * order. Names that start with '.' are work in progress (temporary files)
 * and never read. A receiver keeps two subdirectories of it: "rejected"
 * for files that can never be imported and, with keep_delivered, "done"
 * for imported ones.
 */
#ifndef TP_FILE_TRANSPORT_H
#define TP_FILE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <teleport/teleport.h>

#define FILE_TMP_PREFIX ".tmp-"
#define FILE_SUFFIX ".batch"
#define FILE_SEQ_DIGITS 20
#define FILE_REJECTED_DIR "rejected"
#define FILE_DONE_DIR "done"

/* One instance's settings, and what its receiving half remembers. */
typedef struct file_state
{
	char	   *directory;		/* the spool directory (malloc'd) */
	bool		create_directory;	/* mkdir -p it when missing */
	bool		keep_delivered; /* receiving: move imported files to done/ */
	int64_t		max_files_per_poll; /* receiving: files read per poll */

	/* receiving: names of the files found waiting (GAP) by the last poll */
	char	  **waiting;
	size_t		n_waiting;
	bool		missing_logged; /* "directory missing" said since it was there */
	bool		unavailable_logged; /* "store unavailable" said since a store */
} file_state;

/* Sending half (file_send.c). */
tp_result	file_send(tp_plugin_ctx *ctx, const tp_batch *batch);
void		file_remove_stale_temps(tp_plugin_ctx *ctx, const file_state *state);

/* Receiving half (file_receive.c). */
tp_result	file_receive_start(tp_plugin_ctx *ctx);
tp_result	file_receive_poll(tp_plugin_ctx *ctx);
void		file_receive_stop(tp_plugin_ctx *ctx);
void		file_forget_waiting(file_state *state);

/* Helpers (file.c). */
bool		file_make_dirs(const char *path);
bool		file_write_all(int fd, const char *buf, size_t len);
bool		file_read_all(int fd, char *buf, size_t len);
bool		file_sync_directory(const char *path);
char	   *file_path_join(const char *dir, const char *name);

#endif							/* TP_FILE_TRANSPORT_H */
