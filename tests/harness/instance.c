/*
 * instance.c
 *     Real teleport processes for end-to-end tests; see instance.h.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "instance.h"
#include "pgquery.h"
#include "runcmd.h"

/* What a restart writes into the log before the process starts. */
#define START_LINE "----- test: (re)start -----"

/* The connection an instance's queries reuse, and the process it is of. */
struct tp_inst_conn
{
	PGconn	   *conn;
	pid_t		owner;
};

/* The path of cl's pid registry (static). */
static const char *
registry_path(const tp_cluster *cl)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/test-pids", cl->dir);
	return path;
}

/* See instance.h. */
void
tp_scene_register_pid(const tp_scene *sc, pid_t pid)
{
	FILE	   *f = fopen(registry_path(sc->cluster), "a");

	if (f != NULL)
	{
		fprintf(f, "%d\n", (int) pid);
		fclose(f);
	}
}

/* See instance.h. */
void
tp_kill_leftovers(const tp_cluster *cl)
{
	FILE	   *f;
	int			pid;

	if (cl == NULL)
		return;
	f = fopen(registry_path(cl), "r");
	if (f == NULL)
		return;
	while (fscanf(f, "%d", &pid) == 1)
	{
		char		path[64];
		char		cmd[8192];
		size_t		n;
		FILE	   *c;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		c = fopen(path, "r");
		if (c == NULL)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, c);
		fclose(c);
		/* its arguments are NUL-separated; a reused pid runs something else */
		for (size_t i = 0; i < n; i++)
			cmd[i] = cmd[i] == '\0' ? ' ' : cmd[i];
		cmd[n] = '\0';
		if (strstr(cmd, cl->dir) != NULL)
		{
			kill((pid_t) pid, SIGKILL);
			tp_wait_exit((pid_t) pid, 10);
		}
	}
	fclose(f);
	f = fopen(registry_path(cl), "w");
	if (f != NULL)
		fclose(f);
}

/*
 * On a failure: what in's queue holds (its targets' cursors and batches not
 * acknowledged, its newest tick) and what its database's sessions wait for;
 * nothing for a database without a queue.
 */
static void
print_queue_state(const tp_inst *in)
{
	char	   *queue = tp_inst_try_value(in,
										  "SELECT concat_ws(E'\\n', 'newest tick: ' || coalesce((SELECT"
										  " format('%%s at %%s, last event %%s', id, created_at, last_event_id)"
										  " FROM teleport.tick ORDER BY id DESC LIMIT 1), '(none)'),"
										  " (SELECT string_agg(format('target %%s: cursor tick %%s, next seq %%s,"
										  " unacknowledged %%s', t.name, t.cursor_tick, t.next_seq,"
										  " coalesce((SELECT string_agg(format('%%s (ticks %%s-%%s, %%s events%%s)',"
										  " b.seq, b.tick_from, b.tick_to, b.n_events,"
										  " CASE WHEN b.partial THEN ', partial' ELSE '' END), ', ' ORDER BY b.seq)"
										  " FROM teleport.batch b WHERE b.target = t.name AND b.acked_at IS NULL),"
										  " 'none')), E'\\n' ORDER BY t.name) FROM teleport.target t))");
	char	   *recent = tp_inst_try_value(in,
										   "SELECT concat_ws(E'\\n',"
										   " (SELECT string_agg(format('tick %%s at %%s: last event %%s, snapshot %%s',"
										   "  k.id, k.created_at, k.last_event_id, k.snapshot), E'\\n' ORDER BY k.id)"
										   "  FROM (SELECT * FROM teleport.tick ORDER BY id DESC LIMIT 3) k),"
										   " (SELECT string_agg(format('event %%s: txid %%s %%s %%s.%%s%%s', e.id, e.txid,"
										   "  e.op, e.schema_name, e.table_name,"
										   "  CASE WHEN txid_visible_in_snapshot(e.txid, txid_current_snapshot())"
										   "  THEN '' ELSE ' (not committed)' END), E'\\n' ORDER BY e.id)"
										   "  FROM (SELECT * FROM (SELECT id, txid, op, schema_name, table_name"
										   "   FROM teleport.event_0 UNION ALL SELECT id, txid, op, schema_name, table_name"
										   "   FROM teleport.event_1 UNION ALL SELECT id, txid, op, schema_name, table_name"
										   "   FROM teleport.event_2) a ORDER BY id DESC LIMIT 5) e))");
	char		title[128];

	fprintf(stderr, "----- %s queue:\n%s\n", in->name, queue ? queue : "(none)");
	if (recent != NULL && recent[0] != '\0')
		fprintf(stderr, "----- %s newest ticks and events:\n%s\n", in->name, recent);
	free(queue);
	free(recent);
	snprintf(title, sizeof(title), "%s sessions", in->name);
	tp_inst_print_sessions(in, title);
}

/* See instance.h. */
void
tp_inst_print_sessions(const tp_inst *in, const char *title)
{
	char	   *sessions = tp_inst_try_value(in,
											 "SELECT string_agg(format('%%s %%s %%s/%%s %%s: %%s', pid,"
											 " application_name, wait_event_type, wait_event, state,"
											 " left(query, 200)), E'\\n' ORDER BY pid) FROM pg_stat_activity"
											 " WHERE datname = current_database() AND pid <> pg_backend_pid()");

	fprintf(stderr, "----- %s:\n%s\n", title, sessions ? sessions : "(none)");
	free(sessions);
}

/* See instance.h. */
void
tp_scene_init(tp_scene *sc, tp_cluster *cl, const char *prefix)
{
	memset(sc, 0, sizeof(*sc));
	sc->cluster = cl;
	sc->log_tail = 6000;
	sc->dir = tp_cluster_make_dir(cl, prefix);
	ck_assert_ptr_nonnull(sc->dir);
}

/*
 * Close k's connection if this process made it (one inherited through a
 * fork is left to its maker: closing it would end the maker's session).
 */
static void
drop_kept(struct tp_inst_conn *k)
{
	if (k == NULL || k->conn == NULL)
		return;
	if (k->owner == getpid())
		PQfinish(k->conn);
	k->conn = NULL;
}

/* See instance.h. */
void
tp_scene_free(tp_scene *sc)
{
	for (int i = 0; i < sc->n_writers; i++)
	{
		if (sc->writers[i].pid > 0)
		{
			kill(sc->writers[i].pid, SIGKILL);
			tp_wait_exit(sc->writers[i].pid, 10);
		}
		free(sc->writers[i].log);
	}
	for (int i = 0; i < sc->n_logs; i++)
		free(sc->logs[i]);
	for (int i = 0; i < sc->n_insts; i++)
	{
		tp_inst_kill(&sc->insts[i]);
		drop_kept(sc->insts[i].kept);
		free(sc->insts[i].kept);
		free(sc->insts[i].config);
		free(sc->insts[i].out);
		free(sc->insts[i].log);
	}
	tp_remove_tree(sc->dir);
	free(sc->dir);
	memset(sc, 0, sizeof(*sc));
}

/* The last max bytes of the file at path, as a new string. */
static char *
file_tail(const char *path, size_t max)
{
	char	   *text = tp_read_file(path);
	size_t		len;

	if (text == NULL)
		return strdup("(no file)");
	len = strlen(text);
	if (len > max)
		memmove(text, text + len - max, max + 1);
	return text;
}

/* How much of an instance's log a failure shows: more of a debug log. */
static size_t
log_tail_bytes(const tp_scene *sc)
{
	if (getenv("TP_TEST_LOG_LEVEL") != NULL && sc->log_tail < 200000)
		return 200000;
	return sc->log_tail;
}

/* See instance.h. */
void
tp_scene_fail(const tp_scene *sc, const char *fmt,...)
{
	char	   *msg = NULL;
	va_list		ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	/* the report goes to stderr: Check's messages must stay short */
	fprintf(stderr, "%s\n", msg ? msg : fmt);
	for (int i = 0; i < sc->n_insts; i++)
	{
		const tp_inst *in = &sc->insts[i];
		char	   *tail = file_tail(in->log, log_tail_bytes(sc));

		fprintf(stderr, "\n===== %s (db %s) log tail:\n%s\n", in->name, in->db, tail);
		free(tail);
		print_queue_state(in);
		if (in->port != 0)
		{
			char	   *streams = tp_inst_try_value(in,
													"SELECT string_agg(format('%%s->%%s received %%s applied %%s"
													" held %%s %%s: %%s', source, target, last_received,"
													" last_applied, held_seq, held_state, held_reason), E'\\n')"
													" FROM teleport.inbox_stream");

			char	   *ddl = tp_inst_try_value(in,
												"SELECT string_agg(format('batch %%s: %%s', i.seq,"
												" left(l.line, 400)), E'\n' ORDER BY i.seq, l.n)"
												" FROM teleport.inbox i, regexp_split_to_table(i.data,"
												" E'\n') WITH ORDINALITY l(line, n)"
												" WHERE l.line LIKE '{\"op\":\"ddl\"%%'");

			fprintf(stderr, "----- %s inbox streams:\n%s\n", in->name,
					streams ? streams : "(none)");
			fprintf(stderr, "----- %s schema changes in its inbox:\n%s\n", in->name,
					ddl ? ddl : "(none)");
			free(streams);
			free(ddl);
		}
	}
	for (int i = 0; i < sc->n_logs; i++)
	{
		char	   *tail = file_tail(sc->logs[i], log_tail_bytes(sc));

		fprintf(stderr, "\n===== %s tail:\n%s\n", sc->logs[i], tail);
		free(tail);
	}
	for (int i = 0; i < sc->n_writers; i++)
	{
		char	   *tail = file_tail(sc->writers[i].log, 1500);

		fprintf(stderr, "----- writer %d:\n%s\n", i, tail);
		free(tail);
	}
	ck_abort_msg("%.3000s (the instances' logs are above)", msg ? msg : fmt);
	/* not reached: ck_abort_msg ends the test */
	abort();
}

/* See instance.h. */
tp_inst *
tp_scene_inst(tp_scene *sc, const char *name, tp_cluster *cl, const char *db,
			  bool receives)
{
	tp_inst    *in;
	char	   *conninfo;

	ck_assert_int_lt(sc->n_insts, TP_SCENE_MAX_INSTS);
	in = &sc->insts[sc->n_insts++];
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	snprintf(in->db, sizeof(in->db), "%s", db);
	in->cl = cl;
	in->scene = sc;
	in->kept = calloc(1, sizeof(struct tp_inst_conn));
	ck_assert_ptr_nonnull(in->kept);
	if (receives)
	{
		in->port = tp_free_port();
		ck_assert_int_gt(in->port, 0);
	}
	conninfo = tp_cluster_create_db(cl, db);
	ck_assert_ptr_nonnull(conninfo);
	free(conninfo);
	ck_assert_int_ge(asprintf(&in->out, "%s/%s.out", sc->dir, name), 0);
	ck_assert_int_ge(asprintf(&in->log, "%s/%s.log", sc->dir, name), 0);
	return in;
}

/* See instance.h. */
void
tp_appendf(char **text, const char *fmt,...)
{
	char	   *more = NULL;
	char	   *both = NULL;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&more, fmt, ap), 0);
	va_end(ap);
	ck_assert_int_ge(asprintf(&both, "%s%s", *text ? *text : "", more), 0);
	free(more);
	free(*text);
	*text = both;
}

/* See instance.h. */
void
tp_target_yaml(char **yaml, const char *name, const tp_inst *to, const char *expr,
			   const char *apply_schema)
{
	tp_appendf(yaml,
			   "  %s:\n"
			   "    target_expression: %s\n"
			   "    apply_schema: \"%s\"\n"
			   "    endpoint:\n"
			   "      hostname: \"127.0.0.1\"\n"
			   "      port: %d\n"
			   "      token: \"" TP_INST_TOKEN "\"\n",
			   name ? name : to->name, expr, apply_schema, to->port);
}

/* See instance.h. */
void
tp_inst_configure(tp_inst *in, const char *targets, const char *settings,...)
{
	char	   *text = NULL;
	char		file[64];
	va_list		ap;

	va_start(ap, settings);
	ck_assert_int_ge(vasprintf(&text, settings, ap), 0);
	va_end(ap);
	tp_appendf(&text,
			   "database:\n"
			   "  name: \"%s\"\n"
			   "  database: \"%s\"\n"
			   "  hostname: \"%s\"\n"
			   "  port: %d\n"
			   "  username: \"" TP_CLUSTER_SUPERUSER "\"\n",
			   in->name, in->db, in->cl->dir, in->cl->port);
	if (in->port != 0)
		tp_appendf(&text,
				   "server:\n"
				   "  hostname: \"127.0.0.1\"\n"
				   "  port: %d\n"
				   "  token: \"" TP_INST_TOKEN "\"\n"
				   "applier: postgres\n", in->port);
	if (targets != NULL)
		tp_appendf(&text, "targets:\n%s", targets);
	/* TP_TEST_LOG_LEVEL=debug: every instance logs more, for a flaky run */
	if (getenv("TP_TEST_LOG_LEVEL") != NULL)
		tp_appendf(&text, "log_level: \"%s\"\n", getenv("TP_TEST_LOG_LEVEL"));
	snprintf(file, sizeof(file), "%s.yml", in->name);
	free(in->config);
	in->config = tp_write_file(in->scene->dir, file, text);
	ck_assert_ptr_nonnull(in->config);
	free(text);
}

/*
 * argv (up to 32 entries, NULL-terminated) as one command line for
 * /bin/sh, each argument single-quoted (none may hold a quote); the
 * caller frees it.
 */
static char *
shell_line(char *const argv[])
{
	size_t		len = 1;
	char	   *line;

	for (int i = 0; argv[i] != NULL; i++)
	{
		ck_assert_ptr_null(strchr(argv[i], '\''));
		len += strlen(argv[i]) + 3;
	}
	line = malloc(len);
	ck_assert_ptr_nonnull(line);
	line[0] = '\0';
	for (int i = 0; argv[i] != NULL; i++)
	{
		strcat(line, i > 0 ? " '" : "'");
		strcat(line, argv[i]);
		strcat(line, "'");
	}
	return line;
}

/*
 * tp_inst_spawn and tp_inst_spawn_tty: on a terminal, the command runs
 * under script(1), which appends the terminal's output to log.
 */
static pid_t
spawn(const tp_inst *in, const char *log, bool tty, va_list ap)
{
	char	   *argv[32];
	int			n = 0;
	const char *arg;
	pid_t		pid;

	argv[n++] = getenv("TELEPORT_BIN");
	argv[n++] = "-config";
	argv[n++] = in->config;
	argv[n++] = "--plugin-dir";
	argv[n++] = getenv("TELEPORT_PLUGIN_DIR");
	ck_assert_ptr_nonnull(argv[0]);
	ck_assert_ptr_nonnull(argv[4]);
	ck_assert_ptr_nonnull(in->config);
	while ((arg = va_arg(ap, const char *)) != NULL)
	{
		ck_assert_int_lt(n, 31);
		argv[n++] = (char *) arg;
	}
	argv[n] = NULL;
	if (tty)
	{
		char	   *line = shell_line(argv);
		char	   *script_argv[] = {"/usr/bin/script", "-q", "-a", "-e", "-f", "-c", line,
		(char *) log, NULL};

		ck_assert_ptr_nonnull(log);
		pid = tp_spawn_split(script_argv, NULL, "/dev/null", "/dev/null");
		free(line);
	}
	else
		pid = tp_spawn_split(argv, NULL, in->out, log ? log : in->log);
	ck_assert_int_gt(pid, 0);
	tp_scene_register_pid(in->scene, pid);
	if (log != NULL)
	{
		tp_scene   *sc = in->scene;
		bool		known = false;

		for (int i = 0; i < sc->n_logs; i++)
			known = known || strcmp(sc->logs[i], log) == 0;
		if (!known && sc->n_logs < TP_SCENE_MAX_LOGS)
		{
			sc->logs[sc->n_logs] = strdup(log);
			ck_assert_ptr_nonnull(sc->logs[sc->n_logs]);
			sc->n_logs++;
		}
	}
	return pid;
}

/* See instance.h. */
pid_t
tp_inst_spawn(const tp_inst *in, const char *log,...)
{
	va_list		ap;
	pid_t		pid;

	va_start(ap, log);
	pid = spawn(in, log, false, ap);
	va_end(ap);
	return pid;
}

/* See instance.h. */
pid_t
tp_inst_spawn_tty(const tp_inst *in, const char *log,...)
{
	va_list		ap;
	pid_t		pid;

	va_start(ap, log);
	pid = spawn(in, log, true, ap);
	va_end(ap);
	return pid;
}

/* See instance.h. */
void
tp_inst_start(tp_inst *in)
{
	FILE	   *f = fopen(in->log, "a");

	/* a restart appends to the log: look for a new "running" line */
	if (f != NULL)
	{
		fprintf(f, START_LINE "\n");
		fclose(f);
	}
	in->pid = tp_inst_spawn(in, NULL, (char *) NULL);
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *log = tp_read_file(in->log);
		const char *last = log ? strstr(log, START_LINE) : NULL;
		bool		running;
		int			status;

		while (last != NULL && strstr(last + 1, START_LINE) != NULL)
			last = strstr(last + 1, START_LINE);
		running = last != NULL && strstr(last, " running") != NULL;
		free(log);
		if (running)
			return;
		status = tp_wait_exit(in->pid, 0);
		if (status >= 0)
		{
			in->pid = 0;
			tp_scene_fail(in->scene, "%s exited with %d at start", in->name, status);
		}
		usleep(100000);
	}
	tp_scene_fail(in->scene, "%s never said it runs", in->name);
}

/* See instance.h. */
void
tp_inst_kill(tp_inst *in)
{
	if (in->pid <= 0)
		return;
	kill(in->pid, SIGKILL);
	tp_wait_exit(in->pid, 10);
	in->pid = 0;
}

/* See instance.h. */
void
tp_inst_stop(tp_inst *in)
{
	int			status;

	if (in->pid <= 0)
		return;
	kill(in->pid, SIGTERM);
	status = tp_wait_exit(in->pid, 30);
	if (status < 0)
	{
		kill(in->pid, SIGKILL);
		tp_wait_exit(in->pid, 10);
	}
	in->pid = 0;
	/* under the sanitizers, a leak or an error report makes it exit otherwise */
	if (status != 0)
		tp_scene_fail(in->scene, "%s exited with %d on SIGTERM", in->name, status);
}

/* See instance.h. */
void
tp_inst_exec(const tp_inst *in, const char *fmt,...)
{
	char	   *sql = NULL;
	PGconn	   *conn;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	conn = tp_cluster_connect(in->cl, in->db);
	ck_assert_msg(conn != NULL, "cannot connect to %s", in->db);
	tp_sql_ok(conn, sql);
	PQfinish(conn);
	free(sql);
}

/* Drop server notices. */
static void
ignore_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/*
 * in's kept connection, connected now if it had none, a broken one (a
 * server restarted) or one of another process; NULL when the database
 * cannot be reached (said on stderr unless quiet).
 */
static PGconn *
kept_conn(const tp_inst *in, bool quiet)
{
	struct tp_inst_conn *k = in->kept;
	char	   *conninfo;

	if (k->conn != NULL && k->owner == getpid() && PQstatus(k->conn) == CONNECTION_OK)
		return k->conn;
	drop_kept(k);
	if (quiet)
	{
		/* tp_cluster_connect prints why it could not */
		conninfo = tp_cluster_conninfo(in->cl, in->db, NULL);
		k->conn = conninfo != NULL ? PQconnectdb(conninfo) : NULL;
		free(conninfo);
		if (k->conn != NULL && PQstatus(k->conn) != CONNECTION_OK)
		{
			PQfinish(k->conn);
			k->conn = NULL;
		}
	}
	else
		k->conn = tp_cluster_connect(in->cl, in->db);
	if (k->conn == NULL)
		return NULL;
	k->owner = getpid();
	PQsetNoticeProcessor(k->conn, ignore_notice, NULL);
	return k->conn;
}

/*
 * Run sql on in's kept connection; a connection the server closed since
 * (a restart) is made again and the query run once more. Returns the
 * result (PQclear it), or NULL when the database cannot be reached.
 */
static PGresult *
kept_query(const tp_inst *in, const char *sql, bool quiet)
{
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGconn	   *conn = kept_conn(in, quiet);
		PGresult   *res;

		if (conn == NULL)
			return NULL;
		res = PQexec(conn, sql);
		if (PQstatus(conn) == CONNECTION_OK)
		{
			/* nothing stays open: a failed query in a BEGIN block */
			if (PQtransactionStatus(conn) != PQTRANS_IDLE)
				PQclear(PQexec(conn, "ROLLBACK"));
			return res;
		}
		PQclear(res);
	}
	return NULL;
}

/* See instance.h. */
char *
tp_inst_value(const tp_inst *in, const char *fmt,...)
{
	char	   *sql = NULL;
	char	   *value = NULL;
	PGresult   *res;
	va_list		ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
	va_end(ap);
	res = kept_query(in, sql, false);
	ck_assert_msg(res != NULL, "cannot connect to %s", in->db);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
				  PQnfields(res) >= 1, "%s: %s%d row(s)", sql,
				  PQresultErrorMessage(res), PQntuples(res));
	if (!PQgetisnull(res, 0, 0))
	{
		value = strdup(PQgetvalue(res, 0, 0));
		ck_assert_ptr_nonnull(value);
	}
	PQclear(res);
	free(sql);
	return value;
}

/* See instance.h. */
char *
tp_inst_try_value(const tp_inst *in, const char *fmt,...)
{
	char	   *sql = NULL;
	char	   *value = NULL;
	va_list		ap;

	va_start(ap, fmt);
	if (vasprintf(&sql, fmt, ap) < 0)
		sql = NULL;
	va_end(ap);
	if (sql != NULL)
	{
		PGresult   *res = kept_query(in, sql, true);

		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
			PQnfields(res) >= 1 && !PQgetisnull(res, 0, 0))
			value = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	free(sql);
	return value;
}

/* See instance.h. */
void
tp_inst_wait_capture(const tp_inst *src, const char *schema, int n_targets)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *ok = tp_inst_try_value(src,
										   "SELECT (SELECT count(*) FROM pg_class c"
										   "    JOIN pg_namespace n ON n.oid = c.relnamespace"
										   "    WHERE n.nspname = '%s' AND c.relkind = 'r'"
										   "    AND (c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_index i"
										   "     WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))))"
										   " = (SELECT count(DISTINCT t.tgrelid) FROM pg_trigger t"
										   "    JOIN pg_class c ON c.oid = t.tgrelid"
										   "    JOIN pg_namespace n ON n.oid = c.relnamespace"
										   "    WHERE n.nspname = '%s' AND t.tgname = 'teleport_capture_truncate')"
										   " AND (SELECT count(*) FROM teleport.target) = %d",
										   schema, schema, n_targets);
		bool		done = ok != NULL && strcmp(ok, "t") == 0;

		free(ok);
		if (done)
			return;
		usleep(100000);
	}
	tp_scene_fail(src->scene, "the capture of %s was never installed in schema %s",
				  src->name, schema);
}

/* See instance.h. */
void
tp_inst_wait_marker(const tp_inst *src, const char *src_schema, const tp_inst *tgt,
					const char *tgt_schema, const char *label, int timeout_s)
{
	tp_inst_exec(src, "INSERT INTO %s.marker (label) VALUES ('%s')", src_schema, label);
	for (double end = tp_deadline(timeout_s); tp_before(end);)
	{
		char	   *n = tp_inst_try_value(tgt, "SELECT count(*) FROM %s.marker WHERE label = '%s'",
										  tgt_schema, label);
		bool		done = n != NULL && strcmp(n, "1") == 0;

		free(n);
		if (done)
			return;
		usleep(100000);
	}
	tp_scene_fail(src->scene, "marker %s from %s never reached %s.marker on %s",
				  label, src->name, tgt_schema, tgt->name);
}

/* See instance.h. */
long
tp_inst_compare(const tp_inst *a, const char *a_schema, const tp_inst *b,
				const char *b_schema, const char *table)
{
	char	   *sum_a;
	char	   *sum_b;
	char	   *diff;
	char		sel[512];
	char		copy_name[256];
	long		rows;
	static const char sum_sql[] =
		"SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' "
		"ORDER BY md5(t::text))), '-') FROM %s.%s t";

	sum_a = tp_inst_value(a, sum_sql, a_schema, table);
	sum_b = tp_inst_value(b, sum_sql, b_schema, table);
	rows = atol(sum_a);

	snprintf(copy_name, sizeof(copy_name), "tp_cmp.%s_%s", b->name, table);
	tp_inst_exec(a, "CREATE SCHEMA IF NOT EXISTS tp_cmp; DROP TABLE IF EXISTS %s;"
				 "CREATE TABLE %s (LIKE %s.%s)", copy_name, copy_name, a_schema, table);
	snprintf(sel, sizeof(sel), "SELECT * FROM %s.%s", b_schema, table);
	tp_cluster_copy_rows(b->cl, b->db, sel, a->cl, a->db, copy_name);
	diff = tp_inst_value(a,
						 "SELECT count(*) || coalesce(E'\\n' || string_agg(side || ' ' || left(r, 300), E'\\n')"
						 " FILTER (WHERE n <= 6), '') FROM ("
						 " SELECT side, r, row_number() OVER () AS n FROM ("
						 "  (SELECT 'only in %s:' AS side, t::text AS r FROM %s.%s t"
						 "   EXCEPT ALL SELECT 'only in %s:', t::text FROM %s t)"
						 "  UNION ALL"
						 "  (SELECT 'only in %s:', t::text FROM %s t"
						 "   EXCEPT ALL SELECT 'only in %s:', t::text FROM %s.%s t)) d) e",
						 a->name, a_schema, table, a->name, copy_name,
						 b->name, copy_name, b->name, a_schema, table);
	if (strcmp(sum_a, sum_b) != 0 || strcmp(diff, "0") != 0)
		tp_scene_fail(a->scene, "%s.%s on %s and %s.%s on %s differ: count/checksum %s vs %s;"
					  " rows in EXCEPT ALL: %s", a_schema, table, a->name, b_schema, table,
					  b->name, sum_a, sum_b, diff);
	free(sum_a);
	free(sum_b);
	free(diff);
	return rows;
}

/* See instance.h. */
long
tp_inst_compare_all(const tp_inst *a, const char *a_schema, const tp_inst *b,
					const char *b_schema, const char *const *tables)
{
	long		total = 0;

	for (int i = 0; tables[i] != NULL; i++)
		total += tp_inst_compare(a, a_schema, b, b_schema, tables[i]);
	return total;
}

/* The pgbench of $TP_PG_BINDIR (or the default), as a new string. */
static char *
pgbench_path(void)
{
	const char *bindir = getenv("TP_PG_BINDIR");
	char	   *path;

	if (bindir == NULL || bindir[0] == '\0')
		bindir = "/usr/lib/postgresql/15/bin";
	ck_assert_int_ge(asprintf(&path, "%s/pgbench", bindir), 0);
	return path;
}

/* See instance.h. */
void
tp_pgbench_require(void)
{
	char	   *pgbench = pgbench_path();

	if (access(pgbench, X_OK) != 0)
	{
		fprintf(stderr, "skipped: %s is not installed\n", pgbench);
		free(pgbench);
		exit(TP_EXIT_SKIP);
	}
	free(pgbench);
}

/*
 * argv[0..] for pgbench on in's cluster: the program and the connection
 * options; port is the buffer for the port. Returns the count; argv[0] is
 * to be freed.
 */
static int
pgbench_argv(char **argv, const tp_inst *in, char *port, size_t port_len)
{
	int			n = 0;

	snprintf(port, port_len, "%d", in->cl->port);
	argv[n++] = pgbench_path();
	argv[n++] = "-h";
	argv[n++] = in->cl->dir;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-U";
	argv[n++] = TP_CLUSTER_SUPERUSER;
	return n;
}

/* See instance.h. */
void
tp_pgbench_run(const tp_inst *in,...)
{
	char	   *argv[32];
	char		port[16];
	int			n = pgbench_argv(argv, in, port, sizeof(port));
	tp_cmd_result res;
	va_list		ap;
	const char *arg;

	va_start(ap, in);
	while ((arg = va_arg(ap, const char *)) != NULL)
	{
		ck_assert_int_lt(n, 30);
		argv[n++] = (char *) arg;
	}
	va_end(ap);
	argv[n++] = (char *) in->db;
	argv[n] = NULL;
	ck_assert(tp_run_cmd(argv, NULL, 120, &res));
	ck_assert_msg(res.status == 0, "pgbench failed (%d): %s%s", res.status, res.out, res.err);
	tp_cmd_result_free(&res);
	free(argv[0]);
}

/* See instance.h. */
void
tp_writer_start(tp_scene *sc, const tp_inst *in, const char *script, int clients,
				int seconds, long base, int rate)
{
	char	   *argv[32];
	char		port[16];
	char		c[16];
	char		t[16];
	char		r[16];
	char		b[64];
	int			n;
	tp_writer  *w;

	ck_assert_int_lt(sc->n_writers, TP_SCENE_MAX_WRITERS);
	w = &sc->writers[sc->n_writers];
	ck_assert_int_ge(asprintf(&w->log, "%s/writer%d.log", sc->dir, sc->n_writers), 0);
	sc->n_writers++;
	snprintf(c, sizeof(c), "%d", clients);
	snprintf(t, sizeof(t), "%d", seconds);
	snprintf(r, sizeof(r), "%d", rate);
	snprintf(b, sizeof(b), "base=%ld", base);
	n = pgbench_argv(argv, in, port, sizeof(port));
	argv[n++] = "-n";
	argv[n++] = "-c";
	argv[n++] = c;
	argv[n++] = "-j";
	argv[n++] = "1";
	argv[n++] = "-T";
	argv[n++] = t;
	if (rate > 0)
	{
		argv[n++] = "-R";
		argv[n++] = r;
	}
	if (script != NULL)
	{
		argv[n++] = "-f";
		argv[n++] = (char *) script;
		argv[n++] = "-D";
		argv[n++] = b;
	}
	else
	{
		argv[n++] = "-b";
		argv[n++] = "tpcb-like";
	}
	argv[n++] = (char *) in->db;
	argv[n] = NULL;
	w->pid = tp_spawn(argv, NULL, w->log);
	free(argv[0]);
	ck_assert_int_gt(w->pid, 0);
	tp_scene_register_pid(sc, w->pid);
}

/* See instance.h. */
void
tp_writers_wait(tp_scene *sc)
{
	for (int i = 0; i < sc->n_writers; i++)
	{
		tp_writer  *w = &sc->writers[i];
		int			status;
		char	   *log;
		bool		ok;

		if (w->pid <= 0)
			continue;
		status = tp_wait_exit(w->pid, 120);
		w->pid = status < 0 ? w->pid : 0;
		log = tp_read_file(w->log);
		ok = status == 0 && !tp_contains(log, "aborted") &&
			tp_contains(log, "number of transactions actually processed");
		free(log);
		if (!ok)
			tp_scene_fail(sc, "writer %d ended with %d", i, status);
	}
}

/* See instance.h. */
long
tp_writers_transactions(const tp_scene *sc)
{
	static const char what[] = "number of transactions actually processed: ";
	long		total = 0;

	for (int i = 0; i < sc->n_writers; i++)
	{
		char	   *log = tp_read_file(sc->writers[i].log);
		const char *p = log ? strstr(log, what) : NULL;

		if (p != NULL)
			total += atol(p + strlen(what));
		free(log);
	}
	return total;
}

/* See instance.h. */
void
tp_inst_wait_true(const tp_inst *in, const char *sql, const char *what)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *ok = tp_inst_try_value(in, "%s", sql);
		bool		done = ok != NULL && strcmp(ok, "t") == 0;

		free(ok);
		if (done)
			return;
		usleep(100000);
	}
	tp_scene_fail(in->scene, "%s", what);
}
