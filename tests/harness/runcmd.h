/*
 * runcmd.h
 *     Running a program from a test and capturing what it prints.
 */
#ifndef TP_RUNCMD_H
#define TP_RUNCMD_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct tp_cmd_result
{
	int			status;			/* exit code, or 128 + signal number */
	char	   *out;			/* all of stdout, NUL-terminated */
	char	   *err;			/* all of stderr, NUL-terminated */
} tp_cmd_result;

/*
 * Run argv (argv[0] a path, NULL-terminated) with stdin from /dev/null and,
 * when env is not NULL, these extra NAME=VALUE settings (NULL-terminated).
 * Kill it after timeout_s seconds (status then 128 + SIGKILL). Returns
 * false only when it could not be started. Free with tp_cmd_result_free.
 */
bool		tp_run_cmd(char *const argv[], char *const env[], int timeout_s,
					   tp_cmd_result *res);

/*
 * Run $TELEPORT_BIN with the NULL-terminated arguments that follow res,
 * with a 60 s timeout.
 */
bool		tp_run_teleport(tp_cmd_result *res,...);

void		tp_cmd_result_free(tp_cmd_result *res);

/*
 * Start argv in the background with stdin from /dev/null and stdout and
 * stderr appended to log_path. Returns its pid, or -1.
 */
pid_t		tp_spawn(char *const argv[], char *const env[], const char *log_path);

/* The same with stdout appended to out_path and stderr to err_path. */
pid_t		tp_spawn_split(char *const argv[], char *const env[],
						   const char *out_path, const char *err_path);

/*
 * Wait up to timeout_s seconds for pid to exit; returns its status as in
 * tp_cmd_result, or -1 on time-out (the process is then left running).
 */
int			tp_wait_exit(pid_t pid, int timeout_s);

/*
 * Wait up to timeout_s seconds (times TP_TEST_PATIENCE, see deadline.h)
 * until the file at path contains needle.
 * Returns whether it did.
 */
bool		tp_wait_for_text(const char *path, const char *needle, int timeout_s);

/* The whole file at path as a new string, or NULL. */
char	   *tp_read_file(const char *path);

/*
 * A new directory under $TMPDIR (or /tmp), mode 0755 so that a postgres
 * user can use it too. Returns its path (free), or NULL.
 */
char	   *tp_make_temp_dir(const char *prefix);

/* Write text to dir/name; returns the new path (free), or NULL. */
char	   *tp_write_file(const char *dir, const char *name, const char *text);

/* Remove path and everything below it. */
void		tp_remove_tree(const char *path);

/*
 * A TCP port on 127.0.0.1 that nothing listens on now (the kernel's
 * choice for port 0), or -1.
 */
int			tp_free_port(void);

/* Whether haystack contains needle (NULL haystack: false). */
bool		tp_contains(const char *haystack, const char *needle);

/* How many times needle occurs in haystack, overlaps counted (NULL: 0). */
int			tp_count(const char *haystack, const char *needle);

#endif							/* TP_RUNCMD_H */
