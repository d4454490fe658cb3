/*
 * instance.h
 *     Real teleport processes for end-to-end tests: a scene (a directory
 *     in a cluster's tree) holds instances (one teleport each, on its own
 *     database, receiving over http with the postgres applier or not) and
 *     background pgbench writers. The helpers write an instance's config,
 *     start it and wait until it runs, stop or kill it, wait for capture
 *     and for a marker row, and compare tables between two instances.
 *
 * Every helper fails the current Check test when something does not go as
 * expected; a failure through the scene (tp_scene_fail) first prints the
 * tail of every instance's log, the inbox streams of the receiving ones
 * and the writers' output to stderr.
 *
 * Every process a scene starts is noted in a registry in its cluster's
 * directory: Check ends a failed CK_FORK test process with _exit(), before
 * any cleanup, so the program's unchecked teardown (in the parent) calls
 * tp_kill_leftovers() to kill what a failed test left running.
 */
#ifndef TP_INSTANCE_H
#define TP_INSTANCE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "pgcluster.h"

/* The token of every http server and endpoint of the scenes. */
#define TP_INST_TOKEN "tp-test-s3cret"

#define TP_SCENE_MAX_INSTS 6
#define TP_SCENE_MAX_WRITERS 6
#define TP_SCENE_MAX_LOGS 8

struct tp_scene;

/* A teleport instance under test. */
typedef struct tp_inst
{
	char		name[32];		/* database.name: the instance's name */
	tp_cluster *cl;
	char		db[64];
	int			port;			/* its http server; 0: it does not receive */
	char	   *config;			/* its config file (NULL until configured) */
	char	   *out;			/* stdout of its processes */
	char	   *log;			/* stderr: the log */
	pid_t		pid;			/* 0: not running */
	struct tp_scene *scene;
	struct tp_inst_conn *kept;	/* the connection queries reuse */
} tp_inst;

/* A background writer (pgbench). */
typedef struct tp_writer
{
	pid_t		pid;
	char	   *log;
} tp_writer;

/* A test's scene: its directory, instances and writers. */
typedef struct tp_scene
{
	tp_cluster *cluster;		/* the one whose tree holds dir */
	char	   *dir;
	tp_inst		insts[TP_SCENE_MAX_INSTS];
	int			n_insts;
	tp_writer	writers[TP_SCENE_MAX_WRITERS];
	int			n_writers;
	char	   *logs[TP_SCENE_MAX_LOGS];	/* of other processes (tp_inst_spawn) */
	int			n_logs;
	size_t		log_tail;		/* bytes of each log a failure shows */
} tp_scene;

/*
 * A new scene in a new directory prefix.XXXXXX inside cl's tree (so that
 * it goes with the cluster, also after a failure).
 */
void		tp_scene_init(tp_scene *sc, tp_cluster *cl, const char *prefix);

/*
 * Kill every process still running (writers and instances), free the
 * scene and remove its directory.
 */
void		tp_scene_free(tp_scene *sc);

/*
 * Fail the test with the message (printf format), after printing the
 * scene's report (log tails, also those of processes started with a log
 * of their own, inbox streams, writers) to stderr.
 */
void		tp_scene_fail(const tp_scene *sc, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));

/*
 * Note pid in the registry of sc's cluster (tp_kill_leftovers). The
 * helpers here do it for what they start.
 */
void		tp_scene_register_pid(const tp_scene *sc, pid_t pid);

/*
 * Kill (SIGKILL) every registered process that still runs with cl's
 * directory in its command line, and empty the registry. For the
 * unchecked teardown, in the parent.
 */
void		tp_kill_leftovers(const tp_cluster *cl);

/*
 * A new instance of the scene named name on database db of cl, created
 * empty; receives: it gets a free port for its http server and applies.
 * Owned by the scene.
 */
tp_inst    *tp_scene_inst(tp_scene *sc, const char *name, tp_cluster *cl,
						  const char *db, bool receives);

/*
 * Append to *yaml (a string to free, or NULL) the entry of a target named
 * name (NULL: to's name) that sends to instance to over http, tables
 * matching expr (YAML: a quoted string or a flow list) into apply_schema.
 */
void		tp_target_yaml(char **yaml, const char *name, const tp_inst *to,
						   const char *expr, const char *apply_schema);

/* Append printf-formatted text to *text (a string to free, or NULL). */
void		tp_appendf(char **text, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * Write in's config: the settings (printf format; top-level YAML such as
 * replicate_ddl and processing_intervals), its database section, a server
 * section with the postgres applier when it receives, and targets (YAML
 * entries under "targets:", or NULL). Rewrites it when called again.
 */
void		tp_inst_configure(tp_inst *in, const char *targets, const char *settings,...)
			__attribute__((format(printf, 3, 4)));

/*
 * Start $TELEPORT_BIN -config <in's config> --plugin-dir
 * $TELEPORT_PLUGIN_DIR with the NULL-terminated extra arguments that
 * follow, its stderr appended to log (NULL: in's log; another one is shown
 * too when the test fails) and stdout to in's out; registered. Returns
 * its pid. For a second process on in's config (an initial load, a
 * command); tp_inst_start runs the instance itself.
 */
pid_t		tp_inst_spawn(const tp_inst *in, const char *log,...)
			__attribute__((sentinel));

/*
 * tp_inst_spawn on a terminal: the process runs under script(1), whose
 * typescript (the terminal's output, stdout and stderr together, after
 * script's own header line) is appended to log, which must not be NULL.
 * Returns script's pid; script exits with the process's status.
 */
pid_t		tp_inst_spawn_tty(const tp_inst *in, const char *log,...)
			__attribute__((sentinel));

/*
 * Start (or restart) the instance and wait (120 s, see deadline.h) until
 * its log says it runs; the test fails, with the scene's report, when it
 * exits or does not.
 */
void		tp_inst_start(tp_inst *in);

/* Stop it with SIGTERM: it must exit 0 within 30 s. Nothing if not running. */
void		tp_inst_stop(tp_inst *in);

/* Kill it (SIGKILL), as a crash would. Nothing if not running. */
void		tp_inst_kill(tp_inst *in);

/*
 * SQL on in's database: tp_inst_exec runs statements (printf format) that
 * must succeed, on a connection of their own (whatever they leave in the
 * session ends with it); tp_inst_value returns the one value of a query
 * (printf format) as a new string, NULL for SQL NULL (tp_sql_value); both
 * fail the test on any error. tp_inst_value and tp_inst_try_value run on
 * a connection the instance keeps (a new backend costs tens of times what
 * a catalog query does, and tests poll): for queries that leave nothing in
 * the session (no SET, no session lock).
 */
void		tp_inst_exec(const tp_inst *in, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
char	   *tp_inst_value(const tp_inst *in, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * The one value of a query (printf format) on in's database as a new
 * string, or NULL: when it is SQL NULL, or the database cannot be reached
 * or the query fails (for polls and reports, which must not fail).
 */
char	   *tp_inst_try_value(const tp_inst *in, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * Print on stderr, under the heading "----- title:", what the sessions of
 * in's database run and wait for (for a failure's report).
 */
void		tp_inst_print_sessions(const tp_inst *in, const char *title);

/* Wait (120 s, see deadline.h) until sql (one boolean) is true on in; else fail with what. */
void		tp_inst_wait_true(const tp_inst *in, const char *sql, const char *what);

/*
 * Wait (120 s, see deadline.h) until src's capture is installed: every table of schema with
 * a key (what the trigger source captures) has its triggers and the queue
 * knows n_targets targets.
 */
void		tp_inst_wait_capture(const tp_inst *src, const char *schema, int n_targets);

/*
 * Insert label into src_schema.marker on src (its only column, or one
 * with a default for the others) and wait up to timeout_s (see
 * deadline.h) for it in
 * tgt_schema.marker on tgt.
 */
void		tp_inst_wait_marker(const tp_inst *src, const char *src_schema,
								const tp_inst *tgt, const char *tgt_schema,
								const char *label, int timeout_s);

/*
 * Table a_schema.table on a and b_schema.table on b hold the same rows:
 * the same count and order-independent checksum of the rows' text, and
 * (b's rows copied into a's database, schema tp_cmp) nothing in EXCEPT
 * ALL either way. Returns the row count.
 */
long		tp_inst_compare(const tp_inst *a, const char *a_schema,
							const tp_inst *b, const char *b_schema, const char *table);

/* tp_inst_compare for every table of tables (NULL-terminated); the total. */
long		tp_inst_compare_all(const tp_inst *a, const char *a_schema,
								const tp_inst *b, const char *b_schema,
								const char *const *tables);

/*
 * Exit with TP_EXIT_SKIP, saying why, when pgbench is not installed beside
 * initdb ($TP_PG_BINDIR or the default). For an unchecked fixture.
 */
void		tp_pgbench_require(void);

/*
 * Run pgbench on in's database with the NULL-terminated arguments that
 * follow (after the connection options); it must succeed.
 */
void		tp_pgbench_run(const tp_inst *in,...) __attribute__((sentinel));

/*
 * Start pgbench in the background on in's database for seconds with
 * clients, running the script file (NULL: the built-in tpcb-like) with
 * variable base set, at most rate transactions per second (0: no limit).
 */
void		tp_writer_start(tp_scene *sc, const tp_inst *in, const char *script,
							int clients, int seconds, long base, int rate);

/* Wait for every writer to end; each must have succeeded without errors. */
void		tp_writers_wait(tp_scene *sc);

/* The number of transactions the writers processed (their reports). */
long		tp_writers_transactions(const tp_scene *sc);

#endif							/* TP_INSTANCE_H */
