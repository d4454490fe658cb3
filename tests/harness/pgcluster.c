/*
 * pgcluster.c
 *     Throwaway PostgreSQL clusters for the integration tests; see
 *     pgcluster.h.
 *
 * The clean-up on a signal must be async-signal-safe, so each cluster's
 * "pg_ctl stop" and "rm -rf" command lines are built when it starts and the
 * handler only forks, execs and waits.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pgcluster.h"
#include "runcmd.h"

#define DEFAULT_PG_BINDIR "/usr/lib/postgresql/15/bin"
#define PASSWORD_GROUP "tp_password_auth"
#define MAX_CLUSTERS 16
#define MAX_ARGV 32
#define START_ATTEMPTS 3

/* A started cluster and the commands that tear it down. */
typedef struct registered
{
	tp_cluster *cluster;
	char	   *stop_argv[MAX_ARGV];	/* pg_ctl stop -m immediate */
	char	   *rm_argv[4];		/* rm -rf dir */
} registered;

/*
 * The process's started clusters, for the exit and signal handlers: state
 * that is process-wide by nature.
 */
static registered registry[MAX_CLUSTERS];
static bool handlers_installed = false;
static tp_cluster *shared_cluster = NULL;

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Print one harness error line to stderr. */
static void
cluster_error(const char *fmt,...)
{
	va_list		ap;

	fputs("pgcluster: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A new string joining a and b (abort on out of memory). */
static char *
join2(const char *a, const char *b)
{
	size_t		len = strlen(a) + strlen(b) + 1;
	char	   *s = malloc(len);

	if (s == NULL)
		abort();
	snprintf(s, len, "%s%s", a, b);
	return s;
}

/* strdup that aborts on out of memory. */
static char *
xstrdup(const char *s)
{
	char	   *copy = strdup(s);

	if (copy == NULL)
		abort();
	return copy;
}

/* The server binaries' directory: $TP_PG_BINDIR or the default. Static. */
static const char *
pg_bindir(void)
{
	const char *dir = getenv("TP_PG_BINDIR");

	return (dir != NULL && dir[0] != '\0') ? dir : DEFAULT_PG_BINDIR;
}

/* The first of the usual places where program is, or NULL. Static. */
static const char *
find_system_program(const char *const *candidates)
{
	for (size_t i = 0; candidates[i] != NULL; i++)
	{
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

/* runuser's path, or NULL. Static. */
static const char *
runuser_path(void)
{
	static const char *const candidates[] = {
		"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser",
		"/bin/runuser", NULL
	};

	return find_system_program(candidates);
}

/* See pgcluster.h. */
bool
tp_cluster_available(const char **why)
{
	static char reason[512];
	const char *programs[] = {"initdb", "pg_ctl", "postgres"};

	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
	{
		char	   *dir = join2(pg_bindir(), "/");
		char	   *path = join2(dir, programs[i]);
		bool		ok = access(path, X_OK) == 0;

		if (!ok)
			snprintf(reason, sizeof(reason),
					 "PostgreSQL server program \"%s\" not found "
					 "(set TP_PG_BINDIR or configure --with-pg-bindir)", path);
		free(dir);
		free(path);
		if (!ok)
		{
			if (why != NULL)
				*why = reason;
			return false;
		}
	}
	if (geteuid() == 0 && (getpwnam("postgres") == NULL || runuser_path() == NULL))
	{
		snprintf(reason, sizeof(reason),
				 "running as root needs a user \"postgres\" and runuser "
				 "(initdb refuses to run as root)");
		if (why != NULL)
			*why = reason;
		return false;
	}
	return true;
}

/*
 * Fill argv (room for MAX_ARGV) with the command line that runs the server
 * program prog of cluster with the arguments that follow (NULL-terminated),
 * through runuser when the cluster runs as postgres. The strings are new
 * (free_argv).
 */
static void
build_argv(const tp_cluster *cluster, char **argv, const char *prog,...)
{
	size_t		n = 0;
	va_list		ap;
	const char *arg;
	char	   *dir = join2(cluster->bindir, "/");

	if (cluster->as_postgres)
	{
		argv[n++] = xstrdup(runuser_path());
		argv[n++] = xstrdup("-u");
		argv[n++] = xstrdup("postgres");
		argv[n++] = xstrdup("--");
	}
	argv[n++] = join2(dir, prog);
	free(dir);
	va_start(ap, prog);
	while ((arg = va_arg(ap, const char *)) != NULL && n < MAX_ARGV - 1)
		argv[n++] = xstrdup(arg);
	va_end(ap);
	argv[n] = NULL;
}

/* Free the strings of a NULL-terminated argv built by build_argv. */
static void
free_argv(char **argv)
{
	for (size_t i = 0; argv[i] != NULL; i++)
	{
		free(argv[i]);
		argv[i] = NULL;
	}
}

/* Print the file at path to stderr, under a heading; nothing if absent. */
static void
print_file(const char *heading, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];

	if (f == NULL)
		return;
	fprintf(stderr, "pgcluster: %s:\n", heading);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

/*
 * Run argv with stdin from /dev/null and stdout and stderr to the file
 * cluster->dir/harness.out (not pipes: pg_ctl leaves a server running that
 * would inherit them), waiting at most timeout_s. Returns true when it
 * exited with 0; otherwise prints its output, under the heading what.
 */
static bool
run_quietly(const tp_cluster *cluster, char **argv, int timeout_s,
			const char *what)
{
	char	   *out = join2(cluster->dir, "/harness.out");
	pid_t		pid;
	int			status = 0;
	bool		ok;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		cluster_error("%s: could not fork: %s", what, strerror(errno));
		free(out);
		return false;
	}
	if (pid == 0)
	{
		int			in = open("/dev/null", O_RDONLY);
		int			fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || fd < 0)
			_exit(126);
		dup2(in, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(in);
		close(fd);
		execv(argv[0], argv);
		fprintf(stderr, "could not execute \"%s\": %s\n", argv[0],
				strerror(errno));
		_exit(127);
	}
	for (int waited_ms = 0;; waited_ms += 20)
	{
		pid_t		r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (waited_ms >= timeout_s * 1000)
		{
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(20 * 1000);
	}
	ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!ok)
	{
		char		heading[256];

		snprintf(heading, sizeof(heading), "%s failed (wait status %d)",
				 what, status);
		print_file(heading, out);
	}
	free(out);
	return ok;
}

/* Print the server log of cluster to stderr (after a failed start). */
static void
print_server_log(const tp_cluster *cluster)
{
	char		heading[1024];

	snprintf(heading, sizeof(heading), "server log %s", cluster->logfile);
	print_file(heading, cluster->logfile);
}

/*
 * Fork and exec argv and wait for it, with stdout and stderr on /dev/null.
 * Async-signal-safe: used by the signal handler.
 */
static void
run_in_handler(char *const *argv)
{
	pid_t		pid = fork();
	int			status;

	if (pid == 0)
	{
		int			fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
		{
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
	{
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
}

/*
 * Tear down every cluster this process started, by the prepared command
 * lines only. Async-signal-safe.
 */
static void
emergency_cleanup(void)
{
	pid_t		self = getpid();

	for (size_t i = 0; i < MAX_CLUSTERS; i++)
	{
		tp_cluster *c = registry[i].cluster;

		if (c == NULL || c->owner != self)
			continue;
		/* always: a server may be up whose pg_ctl start did not return */
		run_in_handler(registry[i].stop_argv);
		c->running = false;
		run_in_handler(registry[i].rm_argv);
		registry[i].cluster = NULL;
	}
}

/* On a fatal signal: tear down, then die of the same signal. */
static void
cleanup_on_signal(int sig)
{
	int			saved_errno = errno;

	emergency_cleanup();
	signal(sig, SIG_DFL);
	errno = saved_errno;
	raise(sig);
}

/* At exit: destroy the clusters this process started. */
static void
cleanup_at_exit(void)
{
	pid_t		self = getpid();

	for (size_t i = 0; i < MAX_CLUSTERS; i++)
	{
		if (registry[i].cluster != NULL && registry[i].cluster->owner == self)
		{
			if (registry[i].cluster == shared_cluster)
				shared_cluster = NULL;
			tp_cluster_destroy(registry[i].cluster);
		}
	}
}

/* Install the exit and signal handlers once per process tree. */
static void
install_handlers(void)
{
	struct sigaction sa;

	if (handlers_installed)
		return;
	handlers_installed = true;
	atexit(cleanup_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cleanup_on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(cleanup_signals[0]); i++)
		sigaction(cleanup_signals[i], &sa, NULL);
}

/*
 * Block the clean-up signals (block true) or restore the mask saved in
 * *old, so that the handler never sees the registry half-changed.
 */
static void
block_signals(bool block, sigset_t *old)
{
	sigset_t	set;

	if (!block)
	{
		sigprocmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(cleanup_signals) / sizeof(cleanup_signals[0]); i++)
		sigaddset(&set, cleanup_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* Add cluster to the registry with its teardown commands. */
static bool
register_cluster(tp_cluster *cluster)
{
	static const char *const rm_candidates[] = {"/bin/rm", "/usr/bin/rm", NULL};
	const char *rm = find_system_program(rm_candidates);
	sigset_t	old;

	if (rm == NULL)
	{
		cluster_error("rm not found in /bin or /usr/bin");
		return false;
	}
	install_handlers();
	for (size_t i = 0; i < MAX_CLUSTERS; i++)
	{
		if (registry[i].cluster != NULL)
			continue;
		block_signals(true, &old);
		build_argv(cluster, registry[i].stop_argv, "pg_ctl", "stop", "-s",
				   "-m", "immediate", "-w", "-D", cluster->datadir, (char *) NULL);
		registry[i].rm_argv[0] = xstrdup(rm);
		registry[i].rm_argv[1] = xstrdup("-rf");
		registry[i].rm_argv[2] = xstrdup(cluster->dir);
		registry[i].rm_argv[3] = NULL;
		registry[i].cluster = cluster;
		block_signals(false, &old);
		return true;
	}
	cluster_error("more than %d clusters at once", MAX_CLUSTERS);
	return false;
}

/* Remove cluster from the registry, if it is there. */
static void
unregister_cluster(const tp_cluster *cluster)
{
	sigset_t	old;

	for (int i = 0; i < MAX_CLUSTERS; i++)
	{
		if (registry[i].cluster != cluster)
			continue;
		block_signals(true, &old);
		registry[i].cluster = NULL;
		free_argv(registry[i].stop_argv);
		free_argv(registry[i].rm_argv);
		block_signals(false, &old);
		return;
	}
}

/* The registry entry of cluster, or NULL. */
static registered *
registry_entry(const tp_cluster *cluster)
{
	for (size_t i = 0; i < MAX_CLUSTERS; i++)
	{
		if (registry[i].cluster == cluster)
			return &registry[i];
	}
	return NULL;
}

/* Free a cluster's memory (nothing on disk). */
static void
free_cluster(tp_cluster *cluster)
{
	free(cluster->dir);
	free(cluster->datadir);
	free(cluster->logfile);
	free(cluster->bindir);
	free(cluster);
}

/* Start the server of an initialised cluster on cluster->port. */
static bool
start_server(tp_cluster *cluster)
{
	char		opts[1024];
	char	   *argv[MAX_ARGV];
	bool		ok;

	snprintf(opts, sizeof(opts),
			 "-k '%s' -c listen_addresses='' -p %d -c fsync=off "
			 "-c synchronous_commit=on -c full_page_writes=off "
			 "-c max_connections=50 -c password_encryption=scram-sha-256",
			 cluster->dir, cluster->port);
	build_argv(cluster, argv, "pg_ctl", "start", "-s", "-w", "-t", "60",
			   "-D", cluster->datadir, "-l", cluster->logfile, "-o", opts,
			   (char *) NULL);
	ok = run_quietly(cluster, argv, 90, "pg_ctl start");
	free_argv(argv);
	if (ok)
		cluster->running = true;
	return ok;
}

/* Stop the server with mode ("fast", "immediate"); false after printing. */
static bool
stop_server(tp_cluster *cluster, const char *mode)
{
	char	   *argv[MAX_ARGV];
	bool		ok;

	build_argv(cluster, argv, "pg_ctl", "stop", "-s", "-m", mode, "-w",
			   "-t", "60", "-D", cluster->datadir, (char *) NULL);
	ok = run_quietly(cluster, argv, 90, "pg_ctl stop");
	free_argv(argv);
	if (ok)
		cluster->running = false;
	return ok;
}

/*
 * Put our authentication rule first in pg_hba.conf: roles of the group
 * PASSWORD_GROUP use passwords; everyone else is trusted (initdb -A trust).
 */
static bool
write_hba(const tp_cluster *cluster)
{
	char	   *path = join2(cluster->datadir, "/pg_hba.conf");
	FILE	   *f = fopen(path, "r");
	char	   *old = NULL;
	size_t		len = 0;
	bool		ok = false;

	if (f != NULL)
	{
		FILE	   *mem = open_memstream(&old, &len);
		char		buf[4096];
		size_t		n;

		while (mem != NULL && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, mem);
		fclose(f);
		if (mem != NULL)
			fclose(mem);
	}
	if (old != NULL && (f = fopen(path, "w")) != NULL)
	{
		fprintf(f, "# teleport tests: roles of %s must use a password\n"
				"local all +%s scram-sha-256\n%s",
				PASSWORD_GROUP, PASSWORD_GROUP, old);
		ok = fclose(f) == 0;
	}
	if (!ok)
		cluster_error("could not rewrite \"%s\": %s", path, strerror(errno));
	free(old);
	free(path);
	return ok;
}

/* Create the data directory of cluster with initdb. */
static bool
init_cluster(tp_cluster *cluster)
{
	char	   *argv[MAX_ARGV];
	bool		ok;

	if (cluster->as_postgres)
	{
		struct passwd *pw = getpwnam("postgres");

		if (pw == NULL || chown(cluster->dir, pw->pw_uid, pw->pw_gid) != 0)
		{
			cluster_error("could not give \"%s\" to user postgres: %s",
						  cluster->dir, pw ? strerror(errno) : "no such user");
			return false;
		}
	}
	build_argv(cluster, argv, "initdb", "-D", cluster->datadir,
			   "-U", TP_CLUSTER_SUPERUSER, "-A", "trust", "-E", "UTF8",
			   "--locale=C", "--no-sync", (char *) NULL);
	ok = run_quietly(cluster, argv, 120, "initdb");
	free_argv(argv);
	return ok && write_hba(cluster);
}

/* A port number for attempt, spread by process id. */
static int
pick_port(int attempt)
{
	return 20000 + (int) ((getpid() * 7 + attempt * 1009) % 40000);
}

/* See pgcluster.h. */
tp_cluster *
tp_cluster_start(void)
{
	const char *why;
	tp_cluster *cluster;
	bool		started = false;

	if (!tp_cluster_available(&why))
	{
		cluster_error("%s", why);
		return NULL;
	}
	cluster = calloc(1, sizeof(*cluster));
	if (cluster == NULL)
		abort();
	cluster->owner = getpid();
	cluster->bindir = xstrdup(pg_bindir());
	cluster->as_postgres = geteuid() == 0;
	cluster->dir = tp_make_temp_dir("tp-pg");
	if (cluster->dir == NULL)
	{
		cluster_error("could not create a temporary directory: %s",
					  strerror(errno));
		free_cluster(cluster);
		return NULL;
	}
	/* a Unix socket path is at most 107 bytes; pg_ctl -o goes via a shell */
	if (strlen(cluster->dir) + sizeof("/.s.PGSQL.65535.lock") > 107
		|| strchr(cluster->dir, '\'') != NULL)
	{
		cluster_error("temporary directory \"%s\" is too long or has a quote "
					  "for a socket directory: set TMPDIR", cluster->dir);
		tp_remove_tree(cluster->dir);
		free_cluster(cluster);
		return NULL;
	}
	cluster->datadir = join2(cluster->dir, "/data");
	cluster->logfile = join2(cluster->dir, "/server.log");
	if (!register_cluster(cluster))
	{
		tp_remove_tree(cluster->dir);
		free_cluster(cluster);
		return NULL;
	}
	if (init_cluster(cluster))
	{
		for (int attempt = 0; attempt < START_ATTEMPTS && !started; attempt++)
		{
			cluster->port = pick_port(attempt);
			started = start_server(cluster);
		}
	}
	if (started)
	{
		char		sql[128];

		snprintf(sql, sizeof(sql), "CREATE ROLE %s NOLOGIN", PASSWORD_GROUP);
		if (tp_cluster_exec(cluster, NULL, sql))
			return cluster;
	}
	print_server_log(cluster);
	tp_cluster_destroy(cluster);
	return NULL;
}

/* See pgcluster.h. */
tp_cluster *
tp_cluster_shared(void)
{
	const char *why;

	if (shared_cluster != NULL)
		return shared_cluster;
	if (!tp_cluster_available(&why))
	{
		fprintf(stderr, "SKIP: %s\n", why);
		exit(TP_EXIT_SKIP);
	}
	shared_cluster = tp_cluster_start();
	if (shared_cluster == NULL)
	{
		cluster_error("could not start the test cluster");
		exit(1);
	}
	return shared_cluster;
}

/* See pgcluster.h. */
bool
tp_cluster_stop(tp_cluster *cluster)
{
	return stop_server(cluster, "fast");
}

/* See pgcluster.h. */
bool
tp_cluster_restart(tp_cluster *cluster)
{
	if (cluster->running)
		return true;
	if (start_server(cluster))
		return true;
	print_server_log(cluster);
	return false;
}

/* See pgcluster.h. */
void
tp_cluster_destroy(tp_cluster *cluster)
{
	registered *entry;

	if (cluster == NULL)
		return;
	entry = registry_entry(cluster);
	if (cluster->owner == getpid())
	{
		char	   *pidfile = join2(cluster->datadir, "/postmaster.pid");

		/* also when a start failed or timed out: a server may be up */
		if ((cluster->running || access(pidfile, F_OK) == 0) && entry != NULL)
			run_quietly(cluster, entry->stop_argv, 90, "pg_ctl stop");
		free(pidfile);
		cluster->running = false;
		tp_remove_tree(cluster->dir);
	}
	if (cluster == shared_cluster)
		shared_cluster = NULL;
	unregister_cluster(cluster);
	free_cluster(cluster);
}

/* See pgcluster.h. */
char *
tp_cluster_make_dir(const tp_cluster *cluster, const char *prefix)
{
	char	   *dir = join2(cluster->dir, "/");
	char	   *base = join2(dir, prefix);
	char	   *path = join2(base, ".XXXXXX");

	free(dir);
	free(base);
	if (mkdtemp(path) == NULL)
	{
		cluster_error("could not create a directory in \"%s\": %s",
					  cluster->dir, strerror(errno));
		free(path);
		return NULL;
	}
	chmod(path, 0755);
	return path;
}

/* Append "key='value'" (libpq quoting) and a space to the stream out. */
static void
put_conninfo_value(FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s='", key);
	for (const char *p = value; *p != '\0'; p++)
	{
		if (*p == '\'' || *p == '\\')
			fputc('\\', out);
		fputc(*p, out);
	}
	fputs("' ", out);
}

/* See pgcluster.h. */
char *
tp_cluster_conninfo(const tp_cluster *cluster, const char *dbname,
					const char *user)
{
	char	   *s = NULL;
	size_t		len = 0;
	FILE	   *out = open_memstream(&s, &len);

	if (out == NULL)
		abort();
	put_conninfo_value(out, "host", cluster->dir);
	fprintf(out, "port=%d ", cluster->port);
	put_conninfo_value(out, "dbname", dbname ? dbname : "postgres");
	put_conninfo_value(out, "user", user ? user : TP_CLUSTER_SUPERUSER);
	fputs("connect_timeout=10", out);
	if (fclose(out) != 0)
		abort();
	return s;
}

/* Drop server notices ("database ... does not exist, skipping"). */
static void
ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/* See pgcluster.h. */
PGconn *
tp_cluster_connect(const tp_cluster *cluster, const char *dbname)
{
	char	   *conninfo = tp_cluster_conninfo(cluster, dbname, NULL);
	PGconn	   *conn = PQconnectdb(conninfo);

	free(conninfo);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		cluster_error("could not connect to the test cluster: %s",
					  conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	return conn;
}

/* See pgcluster.h. */
bool
tp_cluster_exec(const tp_cluster *cluster, const char *dbname, const char *sql)
{
	PGconn	   *conn = tp_cluster_connect(cluster, dbname);
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return false;
	res = PQexec(conn, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK
		|| PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		cluster_error("query failed: %s\nquery: %s", PQerrorMessage(conn), sql);
	PQclear(res);
	PQfinish(conn);
	return ok;
}

/* See pgcluster.h. */
char *
tp_cluster_create_db(tp_cluster *cluster, const char *name)
{
	PGconn	   *conn = tp_cluster_connect(cluster, NULL);
	char	   *ident;
	bool		ok = false;

	if (conn == NULL)
		return NULL;
	ident = PQescapeIdentifier(conn, name, strlen(name));
	if (ident != NULL)
	{
		const char *steps[] = {"DROP DATABASE IF EXISTS ", "CREATE DATABASE "};

		ok = true;
		for (size_t i = 0; i < 2 && ok; i++)
		{
			PGresult   *res;
			char	   *sql = join2(steps[i], ident);

			res = PQexec(conn, sql);
			ok = PQresultStatus(res) == PGRES_COMMAND_OK;
			if (!ok)
				cluster_error("%s failed: %s", sql, PQerrorMessage(conn));
			PQclear(res);
			free(sql);
		}
		PQfreemem(ident);
	}
	PQfinish(conn);
	return ok ? tp_cluster_conninfo(cluster, name, NULL) : NULL;
}

/* See pgcluster.h. */
bool
tp_cluster_create_role(tp_cluster *cluster, const char *name,
					   const char *password)
{
	PGconn	   *conn = tp_cluster_connect(cluster, NULL);
	char	   *ident = NULL;
	char	   *literal = NULL;
	bool		ok = false;

	if (conn == NULL)
		return false;
	ident = PQescapeIdentifier(conn, name, strlen(name));
	literal = PQescapeLiteral(conn, password, strlen(password));
	if (ident != NULL && literal != NULL)
	{
		char	   *sql = NULL;
		size_t		len = 0;
		FILE	   *out = open_memstream(&sql, &len);
		PGresult   *res;

		if (out == NULL)
			abort();
		fprintf(out, "CREATE ROLE %s LOGIN PASSWORD %s IN ROLE %s",
				ident, literal, PASSWORD_GROUP);
		fclose(out);
		res = PQexec(conn, sql);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			cluster_error("could not create role \"%s\": %s", name,
						  PQerrorMessage(conn));
		PQclear(res);
		free(sql);
	}
	PQfreemem(ident);
	PQfreemem(literal);
	PQfinish(conn);
	return ok;
}

/* See pgcluster.h. */
void
tp_cluster_copy_rows(tp_cluster *from_cl, const char *from_db,
					 const char *select_sql, tp_cluster *to_cl,
					 const char *to_db, const char *to_table)
{
	PGconn	   *src = tp_cluster_connect(from_cl, from_db);
	PGconn	   *dst = tp_cluster_connect(to_cl, to_db);
	PGresult   *res;
	char		sql[1024];

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", select_sql);
	res = PQexec(src, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COPY_OUT, "%s: %s", sql, PQerrorMessage(src));
	PQclear(res);
	snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", to_table);
	res = PQexec(dst, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COPY_IN, "%s: %s", sql, PQerrorMessage(dst));
	PQclear(res);
	for (;;)
	{
		char	   *buf = NULL;
		int			n = PQgetCopyData(src, &buf, 0);

		if (n == -1)
			break;
		ck_assert_msg(n >= 0, "COPY out: %s", PQerrorMessage(src));
		ck_assert_int_eq(PQputCopyData(dst, buf, n), 1);
		PQfreemem(buf);
	}
	res = PQgetResult(src);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "COPY out: %s", PQerrorMessage(src));
	PQclear(res);
	ck_assert_int_eq(PQputCopyEnd(dst, NULL), 1);
	res = PQgetResult(dst);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "COPY in: %s", PQerrorMessage(dst));
	PQclear(res);
	while ((res = PQgetResult(src)) != NULL)
		PQclear(res);
	while ((res = PQgetResult(dst)) != NULL)
		PQclear(res);
	PQfinish(src);
	PQfinish(dst);
}

