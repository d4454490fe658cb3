/*
 * pgcluster.h
 *     Throwaway PostgreSQL clusters for the integration tests.
 *
 * A cluster lives in a new temporary directory: the data directory, the
 * server log and the Unix socket are all inside it, and the server listens
 * on no TCP address, so clusters of concurrent test programs never collide.
 * It is created with initdb from $TP_PG_BINDIR (default
 * /usr/lib/postgresql/15/bin), trust authentication for local connections
 * and a superuser named "postgres" (whoever runs the tests). Run as root,
 * the tree is handed to the system user postgres and initdb and pg_ctl run
 * through runuser, because initdb refuses to run as root.
 *
 * Roles in the group tp_password_auth must authenticate with a password
 * (scram-sha-256); tp_cluster_create_role makes such roles, for tests of
 * passwords and .pgpass.
 *
 * Every started cluster is registered: at exit of the process that started
 * it, and on SIGINT, SIGTERM, SIGHUP or SIGQUIT, it is stopped
 * (immediate mode) and its directory removed, so a failing test leaves
 * nothing behind. Forked children (Check's CK_FORK test processes) never
 * stop a cluster their parent started.
 *
 * Use with Check: start the program's one cluster in an unchecked fixture
 * (it runs once, in the parent) with tp_cluster_shared(), and give each test
 * case its own database with tp_cluster_create_db(). Start any other
 * cluster in an unchecked fixture too: Check ends a failed CK_FORK test
 * process with _exit(), so a cluster started inside a test would be left
 * running when the test fails.
 */
#ifndef TP_PGCLUSTER_H
#define TP_PGCLUSTER_H

#include <stdbool.h>
#include <sys/types.h>
#include <libpq-fe.h>

/* The exit status by which a test program tells automake it was skipped. */
#define TP_EXIT_SKIP 77

/* The superuser of every cluster. */
#define TP_CLUSTER_SUPERUSER "postgres"

typedef struct tp_cluster
{
	char	   *dir;			/* the temporary directory; the socket's too */
	char	   *datadir;		/* dir/data */
	char	   *logfile;		/* dir/server.log */
	char	   *bindir;			/* where initdb and pg_ctl are */
	int			port;			/* the socket's port number */
	bool		running;
	bool		as_postgres;	/* server programs run as user postgres */
	pid_t		owner;			/* the process that started it */
} tp_cluster;

/*
 * Whether initdb can be found in $TP_PG_BINDIR (or the default); when not,
 * *why (static) says what is missing.
 */
bool		tp_cluster_available(const char **why);

/*
 * Create and start a new cluster. Returns it (free with tp_cluster_destroy),
 * or NULL after printing why to stderr (with the server's log, if any).
 */
tp_cluster *tp_cluster_start(void);

/*
 * The test program's one cluster, started on first use and destroyed at
 * exit. When PostgreSQL is not installed, prints why and exits with
 * TP_EXIT_SKIP; when it is but the cluster cannot start, exits with 1. Call
 * it from an unchecked fixture. Owned by the harness.
 */
tp_cluster *tp_cluster_shared(void);

/*
 * Stop the server (fast mode) but keep the cluster, so that it is
 * unreachable until tp_cluster_restart. Both return false after printing
 * why.
 */
bool		tp_cluster_stop(tp_cluster *cluster);
bool		tp_cluster_restart(tp_cluster *cluster);

/*
 * Stop the server (immediate mode) if it runs, remove the directory and
 * free the cluster. Only the process that started it does anything beyond
 * freeing. NULL is allowed.
 */
void		tp_cluster_destroy(tp_cluster *cluster);

/*
 * A libpq keyword/value conninfo for database dbname (NULL: "postgres") as
 * user (NULL: the superuser). Returns a new string (free).
 */
char	   *tp_cluster_conninfo(const tp_cluster *cluster, const char *dbname,
								const char *user);

/*
 * Create the database name (dropping any of that name first) and return its
 * conninfo as the superuser (free), or NULL after printing why.
 */
char	   *tp_cluster_create_db(tp_cluster *cluster, const char *name);

/*
 * Create the login role name with password, which must authenticate with
 * it; it may connect to every database. Returns false after printing why.
 */
bool		tp_cluster_create_role(tp_cluster *cluster, const char *name,
								   const char *password);

/*
 * A new directory for a test's files inside the cluster's tree (so that it
 * goes with the cluster, also on a signal), named prefix.XXXXXX. Returns
 * its path (free), or NULL after printing why.
 */
char	   *tp_cluster_make_dir(const tp_cluster *cluster, const char *prefix);

/*
 * Connect to dbname (NULL: "postgres") as the superuser. Returns the
 * connection (PQfinish), or NULL after printing why.
 */
PGconn	   *tp_cluster_connect(const tp_cluster *cluster, const char *dbname);

/*
 * Run sql (one or more statements) in dbname as the superuser. Returns
 * false after printing why.
 */
bool		tp_cluster_exec(const tp_cluster *cluster, const char *dbname,
							const char *sql);

/*
 * Copy the rows of query select_sql in from_cl's database from_db into
 * table to_table of to_cl's database to_db, with COPY between the two
 * connections (to compare tables of two databases in one of them). Fails
 * the test on any error.
 */
void		tp_cluster_copy_rows(tp_cluster *from_cl, const char *from_db,
								 const char *select_sql, tp_cluster *to_cl,
								 const char *to_db, const char *to_table);

#endif							/* TP_PGCLUSTER_H */
