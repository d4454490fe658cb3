/*
 * runcmd.c
 *     Running a program from a test and capturing what it prints.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "deadline.h"
#include "runcmd.h"

extern char **environ;

typedef struct capture
{
	int			fd;
	char	   *buf;
	size_t		len;
	size_t		cap;
} capture;

/* Read what is available on c->fd; false at end of file. */
static bool
capture_read(capture *c)
{
	char		chunk[8192];
	ssize_t		n = read(c->fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (c->len + (size_t) n + 1 > c->cap)
	{
		size_t		cap = c->cap ? c->cap * 2 : 16384;

		while (cap < c->len + (size_t) n + 1)
			cap *= 2;
		c->buf = realloc(c->buf, cap);
		if (c->buf == NULL)
			abort();
		c->cap = cap;
	}
	memcpy(c->buf + c->len, chunk, (size_t) n);
	c->len += (size_t) n;
	c->buf[c->len] = '\0';
	return true;
}

/* The child's side of tp_run_cmd: wire the pipes, set env, exec. */
static void
run_child(char *const argv[], char *const env[], int out_fd, int err_fd)
{
	int			devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		putenv(env[i]);
	execv(argv[0], argv);
	fprintf(stderr, "could not execute \"%s\": %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* See runcmd.h. */
bool
tp_run_cmd(char *const argv[], char *const env[], int timeout_s,
		   tp_cmd_result *res)
{
	int			out_pipe[2];
	int			err_pipe[2];
	capture		caps[2] = {{0}, {0}};
	pid_t		pid;
	int			wstatus = 0;
	long long	deadline = tp_clock_ms() + (long long) timeout_s * 1000;
	bool		killed = false;

	memset(res, 0, sizeof(*res));
	/* close-on-exec: a daemon the command starts must not hold our pipes */
	if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
		return false;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
	{
		close(out_pipe[0]);
		close(err_pipe[0]);
		run_child(argv, env, out_pipe[1], err_pipe[1]);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	caps[0].fd = out_pipe[0];
	caps[1].fd = err_pipe[0];

	while (caps[0].fd >= 0 || caps[1].fd >= 0)
	{
		struct pollfd pfd[2];
		long long	left = deadline - tp_clock_ms();

		if (left <= 0 && !killed)
		{
			kill(pid, SIGKILL);
			killed = true;
		}
		for (int i = 0; i < 2; i++)
		{
			pfd[i].fd = caps[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 2, left > 0 ? (int) (left > 1000 ? 1000 : left) : 1000) < 0
			&& errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
		{
			if (caps[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			{
				if (!capture_read(&caps[i]))
				{
					close(caps[i].fd);
					caps[i].fd = -1;
				}
			}
		}
	}
	for (int i = 0; i < 2; i++)
	{
		if (caps[i].fd >= 0)
			close(caps[i].fd);
	}
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(wstatus))
		res->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		res->status = 128 + WTERMSIG(wstatus);
	res->out = caps[0].buf ? caps[0].buf : strdup("");
	res->err = caps[1].buf ? caps[1].buf : strdup("");
	return true;
}

/* See runcmd.h. */
bool
tp_run_teleport(tp_cmd_result *res,...)
{
	const char *bin = getenv("TELEPORT_BIN");
	char	   *argv[64];
	size_t		n = 0;
	va_list		ap;
	const char *arg;

	if (bin == NULL)
		bin = "./teleport";
	argv[n++] = (char *) bin;
	va_start(ap, res);
	while ((arg = va_arg(ap, const char *)) != NULL && n < 63)
		argv[n++] = (char *) arg;
	va_end(ap);
	argv[n] = NULL;
	return tp_run_cmd(argv, NULL, 60, res);
}

/* See runcmd.h. */
void
tp_cmd_result_free(tp_cmd_result *res)
{
	free(res->out);
	free(res->err);
	res->out = NULL;
	res->err = NULL;
}

/* See runcmd.h. */
pid_t
tp_spawn_split(char *const argv[], char *const env[], const char *out_path,
			   const char *err_path)
{
	int			out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int			err = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t		pid = -1;

	if (out >= 0 && err >= 0)
	{
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			run_child(argv, env, out, err);
	}
	if (out >= 0)
		close(out);
	if (err >= 0)
		close(err);
	return pid;
}

/* See runcmd.h. */
pid_t
tp_spawn(char *const argv[], char *const env[], const char *log_path)
{
	return tp_spawn_split(argv, env, log_path, log_path);
}

/* See runcmd.h. */
int
tp_wait_exit(pid_t pid, int timeout_s)
{
	long long	deadline = tp_clock_ms() + (long long) timeout_s * 1000;
	int			wstatus;

	for (;;)
	{
		pid_t		r = waitpid(pid, &wstatus, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (tp_clock_ms() >= deadline)
			return -1;
		usleep(20000);
	}
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	return 128 + WTERMSIG(wstatus);
}

/* See runcmd.h. */
char *
tp_read_file(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *buf = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	size_t		n;

	if (f == NULL)
		return NULL;
	do
	{
		if (cap - len < 4097)
		{
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* See runcmd.h. */
bool
tp_wait_for_text(const char *path, const char *needle, int timeout_s)
{
	double		deadline = tp_deadline(timeout_s);

	for (;;)
	{
		char	   *text = tp_read_file(path);
		bool		found = tp_contains(text, needle);

		free(text);
		if (found)
			return true;
		if (!tp_before(deadline))
			return false;
		usleep(50000);
	}
}

/* See runcmd.h. */
char *
tp_make_temp_dir(const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char	   *path;
	size_t		len;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	len = strlen(tmp) + strlen(prefix) + 16;
	path = malloc(len);
	if (path == NULL)
		return NULL;
	snprintf(path, len, "%s/%s.XXXXXX", tmp, prefix);
	if (mkdtemp(path) == NULL)
	{
		free(path);
		return NULL;
	}
	chmod(path, 0755);
	return path;
}

/* See runcmd.h. */
char *
tp_write_file(const char *dir, const char *name, const char *text)
{
	size_t		len = strlen(dir) + strlen(name) + 2;
	char	   *path = malloc(len);
	FILE	   *f;

	if (path == NULL)
		return NULL;
	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		free(path);
		return NULL;
	}
	fputs(text, f);
	if (fclose(f) != 0)
	{
		free(path);
		return NULL;
	}
	return path;
}

/* nftw callback: remove one entry. */
static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

/* See runcmd.h. */
void
tp_remove_tree(const char *path)
{
	if (path != NULL)
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* See runcmd.h. */
bool
tp_contains(const char *haystack, const char *needle)
{
	return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* See runcmd.h. */
int
tp_count(const char *haystack, const char *needle)
{
	int			n = 0;

	if (haystack == NULL)
		return 0;
	for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* See runcmd.h. */
int
tp_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t	len = sizeof(sa);
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int			port = -1;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
		getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}
