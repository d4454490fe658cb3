/*
 * check_event_trigger.c
 *     The event-trigger source (use_event_triggers: true) in process,
 *     loaded as the daemon loads it (the plan's DDL member, then the
 *     trigger source), on a throwaway cluster, asserting the queue:
 *
 *     "capture": install takes the first snapshot silently and creates
 *     both event triggers; a DDL's event is queued by the DDL itself (no
 *     poll), in its transaction (same txid), between the rows written
 *     before and after it (a column added and filled in one transaction);
 *     drops (table, column, schema with its tables) come from sql_drop; a
 *     schema rename also re-describes its tables; DDL that touches no
 *     described object (a temporary table, a trigger, a grant) emits
 *     nothing; polls with the safety diff at every poll repeat nothing;
 *     a DDL the triggers cannot see (session_replication_role = replica)
 *     is caught by the safety diff, a type changed USING an expression
 *     that keeps the type too (its rows are sent again); uninstall leaves pg_event_trigger
 *     empty and DDL working, and is idempotent.
 *
 *     "renames": a table and its key column renamed and written in one
 *     transaction: the rows after each rename carry the new names (the
 *     event trigger remakes the trigger source's capture triggers); so do
 *     the rows written after a schema's rename, in its transaction and the
 *     next, also when another transaction held the table so that the
 *     rename could not remake its trigger.
 *
 *     "concurrent": two DDL transactions at once neither wait for each
 *     other nor deadlock on the capture's lock, and are both captured; a
 *     safety diff does not wait for an open DDL transaction.
 *
 *     "fallback": teleport's role is no superuser: install succeeds with
 *     one warning and a hint, creates no event trigger, and the source
 *     compares at every poll like schema-diff; reinstalling (a reconnect)
 *     does not warn again.
 *
 *     "switch": schema-diff, then event-trigger, then schema-diff again on
 *     one database, with changes made in each mode and while no teleport
 *     runs: every change is queued exactly once, in order, and switching
 *     back to diff mode drops the event triggers.
 *
 *     "rewrite" and "rewrite_diff": changes that give rows values without
 *     row events send the table's rows again with the source's values,
 *     after the change's event: in the DDL's transaction with event
 *     triggers, in the poll's (under a lock) in diff mode; not for changes
 *     the target computes alike (test_rewrite's comment has the list).
 *     "fallback" also checks a table the role may not lock: a warning, no
 *     rows.
 *
 *     "text_mode" and "text_mode_diff": a table that gains a column that
 *     needs text mode is remade in text mode in the ALTER's transaction;
 *     in diff mode by the comparison, which sends again the rows json mode
 *     may have captured inexactly before it (those with a value in the new
 *     column).
 */
#include "tp_autoconf.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "loader.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "pgsql.h"
#include "plan.h"
#include "queue.h"
#include "runcmd.h"

static tp_cluster *cluster;

/* One source plugin of the plan, started. */
typedef struct member
{
	tp_plan_entry *entry;
	tp_plugin_ctx *ctx;
	const tp_source_callbacks *cb;
} member;

/* A source instance in process: its DDL member and its row member. */
typedef struct env
{
	char	   *db;
	char	   *conninfo;		/* teleport's */
	tp_config  *config;
	tp_plugin_set set;
	tp_plan		plan;
	member		ddl;
	member		rows;
	tp_pgsql	pg;				/* teleport's connection */
	PGconn	   *su;				/* the superuser's, for the test's SQL */
	char	   *log_path;		/* standard error goes there */
	long long	mark;			/* events up to this id were looked at */
	bool		statement_triggers; /* the trigger source's option */
} env;

/* Once: the cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* The one value of sql on conn ("" for NULL), as a new string (free). */
static char *
query_text(PGconn *conn, const char *sql)
{
	char	   *v = tp_sql_value(conn, sql);

	return v != NULL ? v : strdup("");
}

/* Assert that the one value of sql on conn ("" for NULL) is expected. */
static void
assert_query(PGconn *conn, const char *sql, const char *expected)
{
	char	   *got = query_text(conn, sql);

	ck_assert_msg(strcmp(got, expected) == 0, "%s:\n got: %s\nwant: %s", sql, got, expected);
	free(got);
}

/* The text standard error received (free). */
static char *
log_text(const env *e)
{
	char	   *text;

	fflush(stderr);
	text = tp_read_file(e->log_path);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Initialize m's plugin, make its context and start it. */
static void
member_start(env *e, member *m, tp_plan_entry *entry)
{
	tp_plan		one = {entry, 1};

	m->entry = entry;
	ck_assert_msg(tp_plan_resolve(&one, &e->set, e->config),
				  "plugin \"%s\" not found or options refused", entry->plugin_name);
	ck_assert(tp_plugin_initialize(entry->plugin, tp_host_api_get()));
	m->cb = entry->plugin->callbacks;
	ck_assert_ptr_nonnull(m->cb->install);
	ck_assert_ptr_nonnull(m->cb->poll);
	ck_assert_ptr_nonnull(m->cb->uninstall);
	m->ctx = tp_host_ctx_new(e->config, e->conninfo, entry);
	ck_assert_ptr_nonnull(m->ctx);
	if (m->cb->startup != NULL)
		ck_assert_int_eq(m->cb->startup(m->ctx), TP_OK);
}

/* Shut m down as a stopping teleport would. */
static void
member_stop(member *m)
{
	if (m->cb->shutdown != NULL)
		m->cb->shutdown(m->ctx);
	ck_assert_ptr_null(m->ctx->private_data);
	tp_host_ctx_free(m->ctx);
	m->ctx = NULL;
}

/*
 * Start a source instance on e->db (created before) as user (NULL: the
 * superuser; else with password), with use_event_triggers: event_triggers
 * and the event-trigger source's safety_diff_interval safety_ms (and the
 * trigger source's statement_triggers when e->statement_triggers): the
 * queue installed, both members started, not installed.
 */
static void
env_start(env *e, const char *user, const char *password, bool event_triggers,
		  int safety_ms)
{
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");
	char		yaml[4096];
	char	   *conninfo;

	ck_assert_msg(dir != NULL, "TELEPORT_PLUGIN_DIR is not set");
	snprintf(yaml, sizeof(yaml),
			 "replicate_ddl: true\n"
			 "use_event_triggers: %s\n"
			 "database:\n"
			 "  name: src\n"
			 "  database: \"%s\"\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"%s\"\n"
			 "%s%s%s"
			 "source_options:\n"
			 "  event-trigger:\n"
			 "    safety_diff_interval: %d\n"
			 "%s"
			 "targets:\n"
			 "  out:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: test\n"
			 "    transport: stdout\n",
			 event_triggers ? "true" : "false", e->db, cluster->dir, cluster->port,
			 user ? user : TP_CLUSTER_SUPERUSER,
			 password ? "  password: \"" : "", password ? password : "",
			 password ? "\"\n" : "", safety_ms,
			 e->statement_triggers ? "  trigger:\n    statement_triggers: true\n" : "");
	ck_assert_msg(tp_config_load_string(yaml, strlen(yaml), "test.yml", &e->config),
				  "config refused:\n%s", yaml);
	conninfo = tp_cluster_conninfo(cluster, e->db, user);
	ck_assert_ptr_nonnull(conninfo);
	ck_assert_int_ge(asprintf(&e->conninfo, "%s%s%s", conninfo,
							  password ? " password=" : "", password ? password : ""), 0);
	free(conninfo);

	memset(&e->set, 0, sizeof(e->set));
	(void) tp_loader_scan(dir, &e->set);
	tp_plan_build(e->config, &e->plan);
	ck_assert_int_ge(e->plan.n, 2);
	ck_assert_int_eq(e->plan.entries[0].role, TP_ROLE_CAPTURE_DDL);
	ck_assert_str_eq(e->plan.entries[0].plugin_name,
					 event_triggers ? "event-trigger" : "schema-diff");
	ck_assert_int_eq(e->plan.entries[1].role, TP_ROLE_CAPTURE_ROWS);
	member_start(e, &e->ddl, &e->plan.entries[0]);
	member_start(e, &e->rows, &e->plan.entries[1]);
	ck_assert(tp_pgsql_connect(&e->pg, e->conninfo, "the test"));
	ck_assert(tp_pgsql_pin_session(&e->pg));
	ck_assert_msg(tp_queue_install(&e->pg, e->config), "queue install failed");
}

/* Stop what env_start started; the database and the log stay. */
static void
env_stop(env *e)
{
	member_stop(&e->ddl);
	member_stop(&e->rows);
	tp_pgsql_close(&e->pg);
	tp_plan_free(&e->plan);
	tp_loader_free(&e->set);
	tp_config_free(e->config);
	e->config = NULL;
	free(e->conninfo);
	e->conninfo = NULL;
}

/*
 * A new database db, standard error into a file, the superuser's
 * connection; setup_sql (may be NULL) run in it.
 */
static void
env_open(env *e, const char *db, const char *setup_sql)
{
	char	   *tmp;
	int			fd;

	memset(e, 0, sizeof(*e));
	e->db = strdup(db);
	tmp = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(tmp);
	free(tmp);
	e->su = tp_cluster_connect(cluster, db);
	ck_assert_ptr_nonnull(e->su);
	if (setup_sql != NULL)
		tp_sql_ok(e->su, setup_sql);
	tmp = tp_cluster_make_dir(cluster, "evt");
	ck_assert_ptr_nonnull(tmp);
	ck_assert_int_ge(asprintf(&e->log_path, "%s/log", tmp), 0);
	free(tmp);
	fflush(stderr);
	fd = open(e->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Close what env_open opened. */
static void
env_close(env *e)
{
	PQfinish(e->su);
	free(e->db);
	free(e->log_path);
}

/* Install both members (the DDL source first, as the daemon does). */
static void
env_install(env *e)
{
	tp_result	r = e->ddl.cb->install(e->ddl.ctx, e->pg.conn);
	char	   *log;

	if (r == TP_OK)
		r = e->rows.cb->install(e->rows.ctx, e->pg.conn);
	log = r == TP_OK ? NULL : log_text(e);
	ck_assert_msg(r == TP_OK, "install returned %d; log:\n%s", r, log);
	ck_assert_int_eq(PQtransactionStatus(e->pg.conn), PQTRANS_IDLE);
}

/* Poll both members, in plan order. */
static void
env_poll(env *e)
{
	tp_result	r = e->ddl.cb->poll(e->ddl.ctx, e->pg.conn);
	char	   *log;

	if (r == TP_OK)
		r = e->rows.cb->poll(e->rows.ctx, e->pg.conn);
	log = r == TP_OK ? NULL : log_text(e);
	ck_assert_msg(r == TP_OK, "poll returned %d; log:\n%s", r, log);
	ck_assert_int_eq(PQtransactionStatus(e->pg.conn), PQTRANS_IDLE);
}

/* The queue's three tables. */
#define EVENTS \
	"(SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1" \
	" UNION ALL SELECT * FROM teleport.event_2)"

/*
 * The events queued since the last call, oldest first, one line each:
 * "ddl KIND SCHEMA.NAME create|alter|drop" or "OP TABLE AFTER-or-BEFORE"
 * (followed by " text" for text images), then "| N txids". Sequence values
 * (the trigger source's) are left out.
 */
static char *
new_events(env *e)
{
	char		sql[2048];
	char	   *text;
	char	   *max;

	snprintf(sql, sizeof(sql),
			 "SELECT coalesce(string_agg(CASE WHEN op = 'ddl' THEN format('ddl %%s %%s.%%s %%s',"
			 " ddl ->> 'type', schema_name, coalesce(table_name, ''),"
			 " CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'"
			 " WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END)"
			 " ELSE format('%%s %%s %%s%%s', op, table_name, coalesce(after, before),"
			 " CASE WHEN text_values THEN ' text' ELSE '' END) END,"
			 " E'\\n' ORDER BY id) || E'\\n| ' || count(DISTINCT txid) || ' txids', '')"
			 " FROM " EVENTS " e WHERE id > %lld"
			 " AND coalesce(ddl ->> 'type', '') <> 'sequence_value'", e->mark);
	text = query_text(e->su, sql);
	max = query_text(e->su, "SELECT coalesce(max(id), 0) FROM " EVENTS " e");
	e->mark = atoll(max);
	free(max);
	return text;
}

/*
 * Assert that expr (SQL text over an event e) of each event after e->mark
 * that where (SQL) accepts, in order and joined by commas, is expected;
 * the mark stays.
 */
static void
assert_new_values(const env *e, const char *expr, const char *where, const char *expected)
{
	char		sql[1024];

	snprintf(sql, sizeof(sql), "SELECT string_agg(%s, ',' ORDER BY id) FROM " EVENTS " e"
			 " WHERE id > %lld AND %s", expr, e->mark, where);
	assert_query(e->su, sql, expected);
}

/* Assert new_events. */
static void
assert_new_events(env *e, const char *expected)
{
	char	   *got = new_events(e);

	ck_assert_msg(strcmp(got, expected) == 0, "events:\n got:\n%s\nwant:\n%s", got, expected);
	free(got);
}

/*
 * The events queued since the last call, oldest first, one line each:
 * "ddl KIND SCHEMA.NAME create|alter|drop" or "OP TABLE ID" (the row's id
 * column), consecutive inserts into one table as "c TABLE xN" (rows sent
 * again come in the table's physical order), then "| N txids". Sequence
 * values are left out.
 */
static char *
new_ops(env *e)
{
	char		sql[4096];
	char	   *text;
	char	   *max;

	snprintf(sql, sizeof(sql),
			 "WITH ev AS (SELECT id, txid, op = 'c' AS ins, coalesce(table_name, '') AS tbl,"
			 "  CASE WHEN op = 'ddl' THEN format('ddl %%s %%s.%%s %%s',"
			 "  ddl ->> 'type', schema_name, coalesce(table_name, ''),"
			 "  CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'"
			 "  WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END)"
			 "  ELSE format('%%s %%s %%s', op, table_name, coalesce(after, before) ->> 'id') END AS line"
			 "  FROM " EVENTS " e WHERE id > %lld"
			 "  AND coalesce(ddl ->> 'type', '') <> 'sequence_value'),"
			 " g AS (SELECT *, row_number() OVER (ORDER BY id)"
			 "  - row_number() OVER (PARTITION BY ins, tbl ORDER BY id) AS run FROM ev),"
			 " r AS (SELECT min(id) AS first, CASE WHEN ins AND count(*) > 1"
			 "  THEN format('c %%s x%%s', tbl, count(*)) ELSE min(line) END AS line"
			 "  FROM g GROUP BY ins, tbl, run, CASE WHEN ins THEN 0 ELSE id END)"
			 " SELECT coalesce((SELECT string_agg(line, E'\\n' ORDER BY first) FROM r)"
			 "  || E'\\n| ' || (SELECT count(DISTINCT txid) FROM ev) || ' txids', '')",
			 e->mark);
	text = query_text(e->su, sql);
	max = query_text(e->su, "SELECT coalesce(max(id), 0) FROM " EVENTS " e");
	e->mark = atoll(max);
	free(max);
	return text;
}

/* Assert new_ops. */
static void
assert_new_ops(env *e, const char *expected)
{
	char	   *got = new_ops(e);

	ck_assert_msg(strcmp(got, expected) == 0, "events:\n got:\n%s\nwant:\n%s", got, expected);
	free(got);
}

/*
 * Assert that every row of table public.NAME has, among the insert events
 * queued since the last new_ops, exactly one whose image (row_to_json)
 * equals the row's as the source has it now: the rows were sent again
 * with the source's values. The events must be looked at (new_ops) after.
 */
static void
assert_rows_sent(env *e, const char *name)
{
	char		sql[1024];

	/* rendered as capture renders them: in UTC */
	tp_sql_ok(e->su, "SET TimeZone = 'UTC'");
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) = (SELECT count(*) FROM public.%s) AND coalesce(bool_and(n = 1), false)"
			 " FROM (SELECT count(e.id) AS n FROM public.%s w_row"
			 "  LEFT JOIN " EVENTS " e ON e.id > %lld AND e.op = 'c' AND e.table_name = '%s'"
			 "   AND e.after::text = row_to_json(w_row.*)::text"
			 "  GROUP BY w_row.id) c",
			 name, name, e->mark, name);
	assert_query(e->su, sql, "t");
}

/* "rows_follow" of the last table event ("" when it has none) */
#define LAST_ROWS_FOLLOW_SQL \
	"SELECT coalesce((SELECT ddl ->> 'rows_follow' FROM " EVENTS " e" \
	" WHERE op = 'ddl' AND ddl ->> 'type' = 'table' ORDER BY id DESC LIMIT 1), '')"

#define EVENT_TRIGGERS_SQL \
	"SELECT coalesce(string_agg(evtname || ':' || evtevent || ':' || evtenabled::text, ','" \
	" ORDER BY evtname), '') FROM pg_event_trigger"
#define BOTH_TRIGGERS \
	"teleport_schema_ddl:ddl_command_end:O,teleport_schema_drop:sql_drop:O," \
	"teleport_schema_rewrite:table_rewrite:O"

START_TEST(test_capture)
{
	env			e;
	char	   *txid;
	char		sql[512];

	env_open(&e, "evt_capture",
			 "CREATE TABLE public.a (id int PRIMARY KEY, v text);"
			 "CREATE TABLE public.b (id int PRIMARY KEY);"
			 "INSERT INTO public.a VALUES (1, 'one');");
	/* a safety diff at every poll: it must repeat nothing */
	env_start(&e, NULL, NULL, true, 1);
	env_install(&e);
	assert_query(e.su, EVENT_TRIGGERS_SQL, BOTH_TRIGGERS);
	/* the first snapshot is silent (and a's row is the target's already) */
	assert_new_events(&e, "");
	env_poll(&e);
	assert_new_events(&e, "");

	/*
	 * A column added and filled in one transaction: the DDL's event is
	 * queued by the DDL, with its txid, between the rows.
	 */
	tp_sql_ok(e.su, "BEGIN;"
			"INSERT INTO public.a VALUES (2, 'two');"
			"ALTER TABLE public.a ADD COLUMN n int NOT NULL DEFAULT 0;"
			"UPDATE public.a SET n = id * 10 WHERE id = 2;");
	txid = query_text(e.su, "SELECT txid_current()");
	tp_sql_ok(e.su, "COMMIT");
	snprintf(sql, sizeof(sql), "SELECT string_agg(DISTINCT txid::text, ',')"
			 " FROM " EVENTS " e WHERE id > %lld", e.mark);
	assert_query(e.su, sql, txid);
	free(txid);
	assert_new_events(&e,
					  "c a {\"id\":2,\"v\":\"two\"}\n"
					  "ddl table public.a alter\n"
					  "u a {\"id\":2,\"v\":\"two\",\"n\":20}\n"
					  "| 1 txids");
	/* the snapshot holds it: the safety diffs repeat nothing */
	env_poll(&e);
	env_poll(&e);
	assert_new_events(&e, "");

	/* the event carries the change: before without n, after with it */
	assert_query(e.su, "SELECT concat_ws(' ', json_array_length(ddl -> 'before' -> 'columns'),"
				 " json_array_length(ddl -> 'after' -> 'columns'),"
				 " ddl -> 'after' -> 'columns' -> 2 ->> 'name',"
				 " (ddl ->> 'oid')::oid = 'public.a'::regclass)"
				 " FROM " EVENTS " e WHERE op = 'ddl' AND table_name = 'a'",
				 "2 3 n t");

	/* a column renamed and dropped; a table dropped (sql_drop) */
	tp_sql_ok(e.su, "ALTER TABLE public.a RENAME COLUMN v TO w");
	tp_sql_ok(e.su, "ALTER TABLE public.a DROP COLUMN w");
	tp_sql_ok(e.su, "DROP TABLE public.b");
	assert_new_events(&e,
					  "ddl table public.a alter\n"
					  "ddl table public.a alter\n"
					  "ddl table public.b drop\n"
					  "| 3 txids");

	/* a schema and its table; renamed, the table is described again */
	tp_sql_ok(e.su, "CREATE SCHEMA s3; CREATE TABLE s3.c (id int)");
	tp_sql_ok(e.su, "ALTER SCHEMA s3 RENAME TO s4");
	tp_sql_ok(e.su, "DROP SCHEMA s4 CASCADE");
	assert_new_events(&e,
					  "ddl schema s3. create\n"
					  "ddl table s3.c create\n"
					  "ddl schema s4. alter\n"
					  "ddl table s4.c alter\n"
					  "ddl table s4.c drop\n"
					  "ddl schema s4. drop\n"
					  "| 3 txids");

	/* DDL on nothing described emits nothing (nor do the trigger source's) */
	tp_sql_ok(e.su, "CREATE TEMP TABLE tmp (x int); DROP TABLE tmp;"
			"CREATE TRIGGER noop BEFORE UPDATE ON public.a"
			" FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();"
			"DROP TRIGGER noop ON public.a;"
			"GRANT SELECT ON public.a TO PUBLIC");
	tp_sql_ok(e.su, "CREATE TABLE public.d (id int PRIMARY KEY)");
	env_poll(&e);				/* the trigger source's CREATE TRIGGER on d */
	assert_new_events(&e, "ddl table public.d create\n| 1 txids");

	/* what the triggers cannot see, the safety diff catches, once */
	tp_sql_ok(e.su, "SET session_replication_role = replica;"
			"ALTER TABLE public.d ADD COLUMN hidden int;"
			"RESET session_replication_role");
	assert_new_events(&e, "");
	env_poll(&e);
	env_poll(&e);
	assert_new_events(&e, "ddl table public.d alter\n| 1 txids");
	/*
	 * and a type changed USING an expression that keeps the type, which
	 * changes no description: the table's rows are sent again, once
	 */
	tp_sql_ok(e.su, "SET session_replication_role = replica;"
			"ALTER TABLE public.a ALTER COLUMN n TYPE int USING n + 5;"
			"RESET session_replication_role");
	assert_new_events(&e, "");
	env_poll(&e);
	env_poll(&e);
	assert_new_events(&e, "c a {\"id\":1,\"n\":5}\n"
					  "c a {\"id\":2,\"n\":25}\n"
					  "| 1 txids");
	/* seen by the triggers, the safety diff does not send them again */
	tp_sql_ok(e.su, "ALTER TABLE public.a ALTER COLUMN n TYPE int USING n - 5");
	assert_new_events(&e, "c a {\"id\":1,\"n\":0}\n"
					  "c a {\"id\":2,\"n\":20}\n"
					  "| 1 txids");
	env_poll(&e);
	assert_new_events(&e, "");

	/* uninstall: no event trigger left, DDL still works, idempotent */
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, EVENT_TRIGGERS_SQL, "");
	assert_query(e.su, "SELECT concat_ws(' ',"
				 " to_regprocedure('teleport.schema_event_trigger()') IS NULL,"
				 " to_regclass('teleport.schema_snapshot') IS NULL)", "t t");
	tp_sql_ok(e.su, "ALTER TABLE public.d ADD COLUMN later int; DROP TABLE public.d");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	/* and a new install starts from a new first snapshot */
	env_install(&e);
	assert_query(e.su, EVENT_TRIGGERS_SQL, BOTH_TRIGGERS);
	assert_new_events(&e, "");
	tp_sql_ok(e.su, "ALTER TABLE public.a ADD COLUMN again int");
	assert_new_events(&e, "ddl table public.a alter\n| 1 txids");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);

	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * A table and its key column renamed, and written in the same
 * transaction: the event trigger remakes the trigger source's capture
 * triggers, so the rows after the rename carry the new names.
 */
START_TEST(test_renames)
{
	env			e;

	env_open(&e, "evt_renames", "CREATE TABLE public.a (id int PRIMARY KEY, v text);");
	env_start(&e, NULL, NULL, true, 0);
	env_install(&e);
	tp_sql_ok(e.su, "BEGIN;"
			"INSERT INTO public.a VALUES (1, 'x');"
			"ALTER TABLE public.a RENAME TO b;"
			"INSERT INTO public.b VALUES (2, 'y');"
			"COMMIT");
	assert_new_events(&e, "c a {\"id\":1,\"v\":\"x\"}\n"
					  "ddl table public.b alter\n"
					  "c b {\"id\":2,\"v\":\"y\"}\n"
					  "| 1 txids");
	tp_sql_ok(e.su, "BEGIN;"
			"UPDATE public.b SET v = 'w' WHERE id = 1;"
			"ALTER TABLE public.b RENAME COLUMN id TO ident;"
			"UPDATE public.b SET v = 'z' WHERE ident = 1;"
			"DELETE FROM public.b WHERE ident = 2;"
			"COMMIT");
	assert_new_events(&e, "u b {\"id\":1,\"v\":\"w\"}\n"
					  "ddl table public.b alter\n"
					  "u b {\"ident\":1,\"v\":\"z\"}\n"
					  "d b {\"ident\":2}\n"
					  "| 1 txids");
	assert_query(e.su, "SELECT string_agg(left(before::text, 9), ',' ORDER BY id)"
				 " FROM " EVENTS " e WHERE op IN ('u', 'd')",
				 "{\"id\":1},{\"ident\":,{\"ident\":");
	assert_query(e.su, "SELECT schema_name || '.' || table_name || ' ' || key_columns::text"
				 " FROM teleport.trigger_table", "public.b {ident}");

	/*
	 * The schema renamed (there and back): its tables' triggers are
	 * remade in the DDL's transaction, so the rows written after it, in
	 * that transaction and the next, are recorded under its new name
	 */
	tp_sql_ok(e.su, "BEGIN;"
			"INSERT INTO public.b VALUES (3, 'a');"
			"ALTER SCHEMA public RENAME TO pub2;"
			"INSERT INTO pub2.b VALUES (4, 'b');"
			"COMMIT");
	tp_sql_ok(e.su, "INSERT INTO pub2.b VALUES (5, 'c')");
	tp_sql_ok(e.su, "ALTER SCHEMA pub2 RENAME TO public; INSERT INTO public.b VALUES (6, 'd')");
	assert_new_values(&e, "schema_name || '.' || table_name || ':' || (after ->> 'ident')",
					  "op = 'c'", "public.b:3,pub2.b:4,pub2.b:5,public.b:6");
	assert_new_events(&e, "c b {\"ident\":3,\"v\":\"a\"}\n"
					  "ddl schema pub2. alter\n"
					  "ddl table pub2.b alter\n"
					  "c b {\"ident\":4,\"v\":\"b\"}\n"
					  "c b {\"ident\":5,\"v\":\"c\"}\n"
					  "ddl schema public. alter\n"
					  "ddl table public.b alter\n"
					  "c b {\"ident\":6,\"v\":\"d\"}\n"
					  "| 3 txids");
	assert_query(e.su, "SELECT schema_name || '.' || table_name || ' ' || key_columns::text"
				 " FROM teleport.trigger_table", "public.b {ident}");
	/* the trigger source's poll finds nothing left to do */
	env_poll(&e);
	assert_new_events(&e, "");

	/*
	 * The schema renamed while another transaction holds its table: the
	 * event trigger gives up on the table's lock after 1 s and leaves its
	 * capture trigger as it was, naming the old schema; the rows written
	 * after the rename are recorded under the new one all the same (the
	 * trigger compares the schema it names with the table's), and the
	 * trigger source's next poll remakes the trigger.
	 */
	{
		PGconn	   *holder = tp_cluster_connect(cluster, e.db);

		tp_sql_ok(holder, "BEGIN; LOCK TABLE public.b IN ROW EXCLUSIVE MODE");
		tp_sql_ok(e.su, "ALTER SCHEMA public RENAME TO pub3");
		tp_sql_ok(holder, "COMMIT");
		PQfinish(holder);
		assert_query(e.su, "SELECT schema_name FROM teleport.trigger_table", "public");
		tp_sql_ok(e.su, "INSERT INTO pub3.b VALUES (7, 'e');"
				"UPDATE pub3.b SET v = 'f' WHERE ident = 7;"
				"DELETE FROM pub3.b WHERE ident = 7");
		assert_new_values(&e, "op || ' ' || schema_name || '.' || table_name", "op <> 'ddl'",
						  "c pub3.b,u pub3.b,d pub3.b");
		assert_new_events(&e, "ddl schema pub3. alter\n"
						  "ddl table pub3.b alter\n"
						  "c b {\"ident\":7,\"v\":\"e\"}\n"
						  "u b {\"ident\":7,\"v\":\"f\"}\n"
						  "d b {\"ident\":7}\n"
						  "| 2 txids");
		/* pub3.* is not selected: the poll drops its triggers */
		env_poll(&e);
		assert_query(e.su, "SELECT count(*) FROM teleport.trigger_table", "0");
		assert_query(e.su, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'pub3.b'::regclass"
					 " AND tgname LIKE 'teleport%'", "0");
		assert_new_events(&e, "");
	}
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * A captured table renamed in diff mode: the comparison that queues the
 * rename remakes its capture trigger in the same transaction, so a row
 * written after it, before the trigger source's next poll, is recorded
 * under the new name (the target, which renamed or dropped the table,
 * has nothing under the old one), and rows written before it under the
 * old one; that poll then finds nothing to do. Without the remake the
 * row after the comparison is recorded under the old name.
 */
START_TEST(test_renames_diff)
{
	env			e;

	env_open(&e, "evt_renames_diff", "CREATE TABLE public.a (id int PRIMARY KEY, v text);");
	env_start(&e, NULL, NULL, false, 0);
	env_install(&e);
	tp_sql_ok(e.su, "INSERT INTO public.a VALUES (1, 'x');"
			"ALTER TABLE public.a RENAME TO b;"
			"INSERT INTO public.b VALUES (2, 'y')");
	/* the DDL source's poll alone: the comparison */
	ck_assert_int_eq(e.ddl.cb->poll(e.ddl.ctx, e.pg.conn), TP_OK);
	tp_sql_ok(e.su, "INSERT INTO public.b VALUES (3, 'z')");
	assert_new_events(&e, "c a {\"id\":1,\"v\":\"x\"}\n"
					  "c a {\"id\":2,\"v\":\"y\"}\n"
					  "ddl table public.b alter\n"
					  "c b {\"id\":3,\"v\":\"z\"}\n"
					  "| 3 txids");
	assert_query(e.su, "SELECT schema_name || '.' || table_name || ' ' || key_columns::text"
				 " FROM teleport.trigger_table", "public.b {id}");
	/* the rename's event says the table was captured */
	assert_query(e.su, "SELECT string_agg(coalesce(ddl ->> 'captured', '-'), ',' ORDER BY id)"
				 " FROM " EVENTS " e WHERE op = 'ddl' AND ddl ->> 'type' = 'table'", "true");
	env_poll(&e);
	assert_new_events(&e, "");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * Two DDL transactions at once: the event triggers take the capture's lock
 * shared, so the second neither waits for the first nor deadlocks with it
 * (each holds a table the other wants next under an exclusive lock), and
 * a full comparison does not wait for them: it is tried again later.
 */
START_TEST(test_concurrent)
{
	env			e;
	PGconn	   *t1;
	char		sql[512];

	env_open(&e, "evt_concurrent",
			 "CREATE TABLE public.a (id int PRIMARY KEY);"
			 "CREATE TABLE public.b (id int PRIMARY KEY);");
	env_start(&e, NULL, NULL, true, 1);
	env_install(&e);
	t1 = tp_cluster_connect(cluster, "evt_concurrent");
	ck_assert_ptr_nonnull(t1);
	tp_sql_ok(t1, "BEGIN; ALTER TABLE public.a ADD COLUMN x int");

	/* the safety diff does not wait for the open transaction */
	ck_assert_int_eq(e.ddl.cb->poll(e.ddl.ctx, e.pg.conn), TP_RETRY);
	ck_assert_int_eq(PQtransactionStatus(e.pg.conn), PQTRANS_IDLE);

	/* another DDL transaction goes through meanwhile */
	tp_sql_ok(e.su, "SET statement_timeout = '10s';"
			"ALTER TABLE public.b ADD COLUMN y int;"
			"RESET statement_timeout");
	tp_sql_ok(t1, "ALTER TABLE public.b ADD COLUMN z int; COMMIT");
	assert_new_events(&e, "ddl table public.a alter\n"
					  "ddl table public.b alter\n"
					  "ddl table public.b alter\n"
					  "| 2 txids");
	/* the first one's change of b is from the second one's */
	snprintf(sql, sizeof(sql),
			 "SELECT string_agg(concat_ws(' ', json_array_length(ddl -> 'before' -> 'columns'),"
			 " json_array_length(ddl -> 'after' -> 'columns')), ',' ORDER BY id)"
			 " FROM " EVENTS " e WHERE table_name = 'b'");
	assert_query(e.su, sql, "1 2,2 3");
	env_poll(&e);
	assert_new_events(&e, "");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	PQfinish(t1);
	env_stop(&e);
	env_close(&e);
}
END_TEST

START_TEST(test_fallback)
{
	env			e;
	char	   *log;

	ck_assert(tp_cluster_create_role(cluster, "tp_evt_user", "evt-pw"));
	env_open(&e, "evt_fallback",
			 "GRANT CREATE ON DATABASE evt_fallback TO tp_evt_user;"
			 "CREATE TABLE public.a (id int PRIMARY KEY, v text);"
			 "ALTER TABLE public.a OWNER TO tp_evt_user;"
			 "CREATE TABLE public.ro (id int PRIMARY KEY);"
			 "INSERT INTO public.ro VALUES (1);"
			 "GRANT SELECT, TRIGGER ON public.ro TO tp_evt_user;");
	env_start(&e, "tp_evt_user", "evt-pw", true, 60000);
	assert_query(e.pg.conn, "SELECT rolsuper::text FROM pg_roles"
				 " WHERE rolname = current_user", "false");
	env_install(&e);
	assert_query(e.su, EVENT_TRIGGERS_SQL, "");
	assert_query(e.su, "SELECT to_regprocedure('teleport.schema_event_trigger()') IS NULL", "t");
	log = log_text(&e);
	ck_assert_msg(tp_count(log, "could not create the event triggers") == 1, "log:\n%s", log);
	ck_assert_msg(strstr(log, "permission denied") != NULL, "log:\n%s", log);
	ck_assert_msg(strstr(log, "hint: creating event triggers needs a superuser") != NULL,
				  "log:\n%s", log);
	free(log);
	assert_new_events(&e, "");

	/* diffing at every poll, as schema-diff does */
	tp_sql_ok(e.su, "ALTER TABLE public.a ADD COLUMN n int");
	assert_new_events(&e, "");
	env_poll(&e);
	assert_new_events(&e, "ddl table public.a alter\n| 1 txids");
	env_poll(&e);
	assert_new_events(&e, "");

	/*
	 * Rows rewritten by a change: sent again for the table the role owns;
	 * not for one it may only read and trigger (it may not lock it in
	 * SHARE mode): a warning says so
	 */
	tp_sql_ok(e.su, "INSERT INTO public.a VALUES (1, 'x');"
			"ALTER TABLE public.a ADD COLUMN at timestamptz DEFAULT clock_timestamp();"
			"ALTER TABLE public.ro ADD COLUMN at timestamptz DEFAULT clock_timestamp();");
	env_poll(&e);
	{
		char	   *ops = new_ops(&e);

		ck_assert_msg(strcmp(ops, "c a 1\nddl table public.a alter\nddl table public.ro alter\n"
							 "c a 1\n| 3 txids") == 0, "events:\n%s", ops);
		free(ops);
	}
	log = log_text(&e);
	ck_assert_msg(strstr(log, "the rows of table public.ro are not sent again") != NULL &&
				  strstr(log, "may not lock the table in SHARE mode") != NULL,
				  "log:\n%s", log);
	free(log);
	assert_query(e.su, "SELECT count(*) FROM teleport.schema_resend", "0");

	/* a reinstall (a reconnect) warns no more; a restart would, once */
	env_install(&e);
	env_poll(&e);
	log = log_text(&e);
	ck_assert_msg(tp_count(log, "could not create the event triggers") == 1, "log:\n%s", log);
	free(log);

	/* uninstall as the same role: nothing of the event triggers to drop */
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, "SELECT to_regclass('teleport.schema_snapshot') IS NULL", "t");
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * The capture triggers of table (a regclass literal), sorted,
 * comma-separated. A partitioned table's row trigger, and its clones, are
 * named with its OID: shown as teleport_capture_root when that is the OID
 * of the table's root, else teleport_capture_root_other (text mode alike).
 */
#define CAPTURE_TRIGGERS_SQL(table) \
	"SELECT coalesce(string_agg(n, ',' ORDER BY n), '') FROM (SELECT" \
	" regexp_replace(regexp_replace(tgname, '_root_' || coalesce(pg_partition_root(tgrelid)::oid::text," \
	" '') || '$', '_root'), '_root_[0-9]+$', '_root_other') AS n FROM pg_trigger" \
	" WHERE tgrelid = '" table "'::regclass AND tgname LIKE 'teleport\\_capture%') t"
#define ROW_TRIGGERS \
	"teleport_capture,teleport_capture_stmt_a,teleport_capture_stmt_b,teleport_capture_truncate"
#define STATEMENT_TRIGGERS \
	"teleport_capture_delete,teleport_capture_insert,teleport_capture_stmt_a," \
	"teleport_capture_stmt_b,teleport_capture_truncate,teleport_capture_update"
#define TEXT_TRIGGERS \
	"teleport_capture_stmt_a,teleport_capture_stmt_b,teleport_capture_text,teleport_capture_truncate"
/* a partitioned table's: its row trigger's name is not its partitions' own */
#define ROOT_TRIGGERS \
	"teleport_capture_root,teleport_capture_stmt_a,teleport_capture_stmt_b,teleport_capture_truncate"
#define ROOT_TEXT_TRIGGERS \
	"teleport_capture_stmt_a,teleport_capture_stmt_b,teleport_capture_text_root," \
	"teleport_capture_truncate"

/*
 * Tick, cut target "out"'s batches, and return the data of its oldest
 * unacknowledged batch (a new string), acknowledged; NULL when there is
 * none.
 */
static char *
next_batch_data(env *e)
{
	const tp_target_config *target = tp_config_target(e->config, "out");
	tp_queued_batch qb;
	bool		ticked = false;
	bool		found = false;
	int			made = 0;
	char	   *data;

	ck_assert_ptr_nonnull(target);
	ck_assert(tp_queue_tick(&e->pg, 0, 0, &ticked));
	ck_assert(ticked);
	ck_assert(tp_queue_cut_batches(&e->pg, target, 10000, 1 << 24, &made));
	ck_assert(tp_queue_next_batch(&e->pg, "src", target, &qb, &found));
	if (!found)
		return NULL;
	data = strndup(qb.batch.data, qb.batch.data_len);
	ck_assert_ptr_nonnull(data);
	ck_assert(tp_queue_ack(&e->pg, "out", qb.batch.seq));
	tp_queued_batch_free(&qb);
	return data;
}

/* Assert that data has a line holding each of the needles (NULL-ended). */
static void
assert_lines(const char *data, const char *const *needles)
{
	for (const char *const *n = needles; *n != NULL; n++)
	{
		const char *line = data;
		bool		seen = false;

		while (!seen && line != NULL && *line != '\0')
		{
			const char *end = strchr(line, '\n');
			size_t		len = end != NULL ? (size_t) (end - line) : strlen(line);
			char	   *copy = strndup(line, len);

			seen = strstr(copy, *n) != NULL;
			free(copy);
			line = end != NULL ? end + 1 : NULL;
		}
		ck_assert_msg(seen, "no line has %s; batch:\n%s", *n, data);
	}
}

/*
 * Tables that gain a column of a text-mode type and are written in the
 * same transaction (event-trigger mode): the event trigger remakes their
 * capture triggers in text mode at once, so the rows after the DDL carry
 * exact values: a JSON null as "null", not as SQL NULL, and an array's
 * bounds, on change lines marked "values":"text". A column added (to a
 * table with statement triggers), a column's type changed (ALTER COLUMN
 * TYPE int[]), a column added to an inheritance parent (its child, a
 * captured table of its own, too) and to a partitioned table (its rows
 * written straight into a partition). A table that loses its last such
 * column stays in text mode until the trigger source's next poll, which
 * takes it back to its statement triggers. A table joining an inheritance
 * tree loses its statement triggers at once. A table whose set is stale
 * but that the DDL holds less strongly than DROP TRIGGER needs is left to
 * the poll (the DDL never waits for a lock). A table created and written
 * in one transaction is captured as before: its rows are copied, as text
 * images, when the trigger source's poll installs its triggers. Without
 * the trigger source's objects the event trigger remakes nothing, and the
 * DDL goes through.
 */
START_TEST(test_text_mode)
{
	env			e;
	char	   *data;

	env_open(&e, "evt_text",
			 "CREATE TABLE public.a (id int PRIMARY KEY, v text);"
			 "CREATE TABLE public.b (id int PRIMARY KEY, k int);"
			 "CREATE TABLE public.p (id int PRIMARY KEY);"
			 "CREATE TABLE public.ch (PRIMARY KEY (id)) INHERITS (public.p);"
			 "CREATE TABLE public.lone (id int PRIMARY KEY);"
			 "CREATE TABLE public.r (id int PRIMARY KEY) PARTITION BY RANGE (id);"
			 "CREATE TABLE public.r1 PARTITION OF public.r FOR VALUES FROM (0) TO (100);"
			 "CREATE TABLE public.s (id int PRIMARY KEY, f int);"
			 "CREATE TABLE public.ref (id int PRIMARY KEY);"
			 "CREATE TABLE public.q (id int PRIMARY KEY, d int) PARTITION BY RANGE (id);"
			 "CREATE TABLE public.q1 PARTITION OF public.q FOR VALUES FROM (0) TO (100);");
	e.statement_triggers = true;
	env_start(&e, NULL, NULL, true, 0);
	env_install(&e);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.a"), STATEMENT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.b"), STATEMENT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.p"), ROW_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.ch"), ROW_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.lone"), STATEMENT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.r"), ROOT_TRIGGERS);
	free(next_batch_data(&e));	/* the events so far, if any: not looked at */

	tp_sql_ok(e.su, "BEGIN;"
			"INSERT INTO public.a VALUES (1, 'x');"
			"ALTER TABLE public.a ADD COLUMN j jsonb;"
			"INSERT INTO public.a VALUES (2, 'y', 'null'), (3, NULL, NULL);"
			"UPDATE public.a SET j = 'null' WHERE id = 1;"
			"ALTER TABLE public.a ADD COLUMN n int[];"
			"INSERT INTO public.a VALUES (4, 'z', '{\"k\": null}', '[0:1]={1,2}');"
			"INSERT INTO public.b VALUES (1, 7);"
			"ALTER TABLE public.b ALTER COLUMN k TYPE int[] USING ARRAY[k];"
			"INSERT INTO public.b VALUES (2, '[0:1]={1,2}');"
			"ALTER TABLE public.p ADD COLUMN j jsonb;"
			"INSERT INTO public.ch VALUES (1, 'null');"
			"ALTER TABLE public.r ADD COLUMN j jsonb;"
			"INSERT INTO public.r1 VALUES (1, 'null');"
			"COMMIT");
	assert_new_events(&e,
					  "c a {\"id\":1,\"v\":\"x\"}\n"
					  "ddl table public.a alter\n"
					  "c a {\"id\" : \"2\", \"v\" : \"y\", \"j\" : \"null\"} text\n"
					  "c a {\"id\" : \"3\", \"v\" : null, \"j\" : null} text\n"
					  "u a {\"id\" : \"1\", \"v\" : \"x\", \"j\" : \"null\"} text\n"
					  "ddl table public.a alter\n"
					  "c a {\"id\" : \"4\", \"v\" : \"z\", \"j\" : \"{\\\"k\\\": null}\","
					  " \"n\" : \"[0:1]={1,2}\"} text\n"
					  "c b {\"id\":1,\"k\":7}\n"
					  "ddl table public.b alter\n"
					  "c b {\"id\" : \"1\", \"k\" : \"{7}\"} text\n"
					  "c b {\"id\" : \"2\", \"k\" : \"[0:1]={1,2}\"} text\n"
					  "ddl table public.p alter\n"
					  "ddl table public.ch alter\n"
					  "c ch {\"id\" : \"1\", \"j\" : \"null\"} text\n"
					  "ddl table public.r alter\n"
					  "c r {\"id\" : \"1\", \"j\" : \"null\"} text\n"
					  "| 1 txids");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.a"), TEXT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.b"), TEXT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.p"), TEXT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.ch"), TEXT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.r"), ROOT_TEXT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.r1"), "teleport_capture_text_root");

	/* the change lines as a target gets them */
	data = next_batch_data(&e);
	ck_assert_msg(data != NULL, "no batch to send");
	{
		const char *const lines[] = {
			"\"after\":{\"id\" : \"2\", \"v\" : \"y\", \"j\" : \"null\"},\"values\":\"text\",",
			"\"after\":{\"id\" : \"1\", \"v\" : \"x\", \"j\" : \"null\"},\"values\":\"text\",",
			"\"n\" : \"[0:1]={1,2}\"},\"values\":\"text\",",
			"\"after\":{\"id\" : \"2\", \"k\" : \"[0:1]={1,2}\"},\"values\":\"text\",",
			"\"after\":{\"id\" : \"1\", \"j\" : \"null\"},\"values\":\"text\",",
			NULL
		};

		assert_lines(data, lines);
	}
	free(data);

	/* the trigger source's poll finds nothing left to do */
	env_poll(&e);
	assert_new_events(&e, "");

	/*
	 * The last such column dropped: text mode until the poll (exact, if
	 * dearer), then the table's statement triggers again.
	 */
	tp_sql_ok(e.su, "BEGIN;"
			"ALTER TABLE public.a DROP COLUMN j, DROP COLUMN n;"
			"INSERT INTO public.a VALUES (5, 'w');"
			"COMMIT");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.a"), TEXT_TRIGGERS);
	env_poll(&e);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.a"), STATEMENT_TRIGGERS);
	tp_sql_ok(e.su, "INSERT INTO public.a VALUES (6, 'v')");
	assert_new_events(&e, "ddl table public.a alter\n"
					  "c a {\"id\" : \"5\", \"v\" : \"w\"} text\n"
					  "c a {\"id\":6,\"v\":\"v\"}\n"
					  "| 2 txids");

	/* joining an inheritance tree: no statement triggers from the DDL on */
	tp_sql_ok(e.su, "CREATE TABLE public.base (id int)");
	tp_sql_ok(e.su, "BEGIN;"
			"ALTER TABLE public.lone INHERIT public.base;"
			"INSERT INTO public.base VALUES (9);"
			"INSERT INTO public.lone VALUES (1);"
			"COMMIT");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.lone"), ROW_TRIGGERS);

	/*
	 * Tables whose triggers a DDL the event triggers did not see left in
	 * json mode, then altered while another session reads them, under a
	 * lock weaker than DROP TRIGGER's (a foreign key added), or with ONLY
	 * on a partitioned table (its partition not locked): the DDL neither
	 * waits nor remakes the triggers; the trigger source's poll does.
	 */
	{
		PGconn	   *reader = tp_cluster_connect(cluster, "evt_text");

		ck_assert_ptr_nonnull(reader);
		tp_sql_ok(e.su, "SET session_replication_role = replica;"
				"ALTER TABLE public.s ADD COLUMN j jsonb;"
				"ALTER TABLE public.q ADD COLUMN j jsonb;"
				"RESET session_replication_role");
		tp_sql_ok(reader, "BEGIN; SELECT count(*) FROM public.s; SELECT count(*) FROM public.q1");
		tp_sql_ok(e.su, "SET lock_timeout = '5s';"
				"ALTER TABLE public.s ADD FOREIGN KEY (f) REFERENCES public.ref;"
				"ALTER TABLE ONLY public.q ALTER COLUMN d SET DEFAULT 1;"
				"RESET lock_timeout");
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.s"), STATEMENT_TRIGGERS);
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.q"), ROOT_TRIGGERS);
		tp_sql_ok(reader, "COMMIT");
		PQfinish(reader);
		env_poll(&e);
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.s"), TEXT_TRIGGERS);
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.q"), ROOT_TEXT_TRIGGERS);
		assert_new_events(&e, "ddl table public.base create\n"
						  "c lone {\"id\":1}\n"
						  "ddl table public.s alter\n"
						  "ddl constraint public.s create\n"
						  "ddl table public.q alter\n"
						  "| 3 txids");
	}

	/*
	 * A table created and written in one transaction: no capture trigger
	 * until the poll, which copies its rows, as text images.
	 */
	tp_sql_ok(e.su, "BEGIN;"
			"CREATE TABLE public.fresh (id int PRIMARY KEY, v text);"
			"INSERT INTO public.fresh VALUES (1, 'x');"
			"ALTER TABLE public.fresh ADD COLUMN j jsonb, ADD COLUMN n int[];"
			"INSERT INTO public.fresh VALUES (2, 'y', 'null', '[0:1]={1,2}');"
			"COMMIT");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.fresh"), "");
	env_poll(&e);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.fresh"), TEXT_TRIGGERS);
	assert_new_events(&e, "ddl table public.fresh create\n"
					  "ddl table public.fresh alter\n"
					  "c fresh {\"id\" : \"1\", \"v\" : \"x\", \"j\" : null, \"n\" : null} text\n"
					  "c fresh {\"id\" : \"2\", \"v\" : \"y\", \"j\" : \"null\","
					  " \"n\" : \"[0:1]={1,2}\"} text\n"
					  "| 2 txids");

	/*
	 * Without the trigger source's functions the event trigger remakes
	 * nothing, and the DDL goes through (it still describes it).
	 */
	tp_sql_ok(e.su, "DROP FUNCTION teleport.trigger_wanted(oid, boolean)");
	tp_sql_ok(e.su, "ALTER TABLE public.lone ADD COLUMN x xml");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.lone"), ROW_TRIGGERS);
	ck_assert_int_eq(e.rows.cb->uninstall(e.rows.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, "SELECT to_regclass('teleport.trigger_table') IS NULL", "t");
	tp_sql_ok(e.su, "ALTER TABLE public.lone ADD COLUMN y jsonb");
	assert_new_events(&e, "ddl table public.lone alter\n"
					  "ddl table public.lone alter\n"
					  "| 2 txids");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * The same in diff mode (no event triggers): a table that gains a jsonb
 * column keeps its json-mode trigger until the next comparison, so a JSON
 * null written in between (in the ALTER's transaction, and after it) is
 * captured as SQL NULL; the comparison (the schema-diff source's poll,
 * before the trigger source's) remakes the trigger in text mode in its
 * own transaction and sends again, as text images after the change's
 * event, the rows with a value in the new column (not one whose value is
 * NULL, captured exactly), without "rows_follow"; the rows after it are
 * exact, and the trigger source's poll finds the table current. The poll
 * after the column is dropped takes it back to json mode; a column
 * retyped to int[] (written in json mode in the ALTER's transaction) is
 * remade in text mode by the comparison too, and every row follows.
 */
START_TEST(test_text_mode_diff)
{
	env			e;
	char	   *log;
	size_t		seen;

	env_open(&e, "evt_text_diff", "CREATE TABLE public.z (id int PRIMARY KEY, v text);");
	env_start(&e, NULL, NULL, false, 0);
	env_install(&e);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.z"), ROW_TRIGGERS);
	tp_sql_ok(e.su, "BEGIN;"
			"ALTER TABLE public.z ADD COLUMN j jsonb;"
			"INSERT INTO public.z VALUES (1, 'x', 'null');"
			"COMMIT");
	tp_sql_ok(e.su, "INSERT INTO public.z VALUES (3, 'w', NULL)");
	tp_sql_ok(e.su, "CREATE TABLE public.a (id int PRIMARY KEY);"
			"INSERT INTO public.a SELECT generate_series(1, 3)");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.z"), ROW_TRIGGERS);
	log = log_text(&e);
	seen = strlen(log);
	free(log);
	ck_assert_int_eq(e.ddl.cb->poll(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.z"), TEXT_TRIGGERS);
	ck_assert_int_eq(e.rows.cb->poll(e.rows.ctx, e.pg.conn), TP_OK);
	tp_sql_ok(e.su, "INSERT INTO public.z VALUES (2, 'y', 'null')");
	assert_new_events(&e, "c z {\"id\":1,\"v\":\"x\",\"j\":null}\n"
					  "c z {\"id\":3,\"v\":\"w\",\"j\":null}\n"
					  "ddl table public.z alter\n"
					  "ddl table public.a create\n"
					  "c z {\"id\" : \"1\", \"v\" : \"x\", \"j\" : \"null\"} text\n"
					  "c a {\"id\":1}\n"
					  "c a {\"id\":2}\n"
					  "c a {\"id\":3}\n"
					  "c z {\"id\" : \"2\", \"v\" : \"y\", \"j\" : \"null\"} text\n"
					  "| 6 txids");
	assert_query(e.su, "SELECT coalesce((SELECT ddl ->> 'rows_follow' FROM " EVENTS " e"
				 " WHERE op = 'ddl' AND table_name = 'z' ORDER BY id DESC LIMIT 1), '')", "");
	/* the trigger source's poll found z current, and installed a */
	log = log_text(&e);
	ck_assert_uint_ge(strlen(log), seen);
	ck_assert_msg(strstr(log + seen, "sent 1 rows of table \"public.z\" again as text images")
				  && !strstr(log + seen, "capturing table \"public.z\"")
				  && strstr(log + seen, "capturing table \"public.a\""),
				  "poll's log:\n%s", log + seen);
	free(log);

	tp_sql_ok(e.su, "ALTER TABLE public.z DROP COLUMN j");
	env_poll(&e);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.z"), ROW_TRIGGERS);
	free(new_events(&e));
	tp_sql_ok(e.su, "BEGIN;"
			"ALTER TABLE public.z ALTER COLUMN v TYPE int[] USING ARRAY[length(v)];"
			"UPDATE public.z SET v = '[0:0]={5}' WHERE id = 1;"
			"COMMIT");
	ck_assert_int_eq(e.ddl.cb->poll(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.z"), TEXT_TRIGGERS);
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "true");
	assert_new_ops(&e, "u z 1\n"
				   "ddl table public.z alter\n"
				   "c z x3\n"
				   "| 3 txids");
	assert_query(e.su, "SELECT after ->> 'v' FROM " EVENTS " e"
				 " WHERE op = 'c' AND table_name = 'z' AND text_values AND after ->> 'id' = '1'"
				 " ORDER BY id DESC LIMIT 1", "[0:0]={5}");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * Schema changes that rewrite a table's rows without row events, with
 * event triggers: the statement's table_rewrite and ddl_command_end
 * triggers send the captured table's rows again, as inserts (upserts on
 * the target) with the source's values, after the change's event in its
 * transaction and before the rows the transaction writes after it: a
 * column added with a volatile default (clock_timestamp()), or with a
 * stable one that rewrites nothing (now(): every row gets the value of
 * the DDL's moment, the target would compute its own); a column's type
 * changed USING an expression, also to the same type (no schema event,
 * only the rewrite tells); a partitioned table (its partitions are
 * rewritten, the rows go under the root's name) and an inheritance
 * parent (its own rows only: the child is a table of its own). Nothing
 * is sent again for a deterministic default, a type change that keeps
 * every value (varchar widened), a table not captured (no key), or a
 * change rolled back to a savepoint. A REPEATABLE READ transaction reads
 * with an older snapshot: its table is queued and sent by the next poll.
 */
START_TEST(test_rewrite)
{
	env			e;

	env_open(&e, "evt_rewrite",
			 "CREATE TABLE public.r (id int PRIMARY KEY, n int, s varchar(10));"
			 "INSERT INTO public.r SELECT g, g, 's' || g FROM generate_series(1, 3) g;"
			 "CREATE TABLE public.nokey (id int);"
			 "INSERT INTO public.nokey VALUES (1);");
	env_start(&e, NULL, NULL, true, 0);
	env_install(&e);
	assert_new_ops(&e, "");

	/* a volatile default, between writes of the same transaction */
	tp_sql_ok(e.su, "BEGIN;"
			"UPDATE public.r SET n = 10 WHERE id = 1;"
			"ALTER TABLE public.r ADD COLUMN at timestamptz DEFAULT clock_timestamp();");
	assert_rows_sent(&e, "r");
	tp_sql_ok(e.su, "UPDATE public.r SET n = 20 WHERE id = 2; COMMIT");
	assert_new_ops(&e, "u r 1\n"
				   "ddl table public.r alter\n"
				   "c r x3\n"
				   "u r 2\n"
				   "| 1 txids");

	/* deterministic defaults: the target computes the same */
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN k bigint NOT NULL DEFAULT 0,"
			" ADD COLUMN t text DEFAULT 'x' || 'y', ADD COLUMN f boolean DEFAULT true");
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");

	/* a stable default: no rewrite, but the DDL's moment on every row */
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN d timestamptz DEFAULT now()");
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "true");

	/*
	 * a column of a domain whose default is not deterministic, which fills
	 * it in: a stable one (no rewrite) and a volatile one; a default of the
	 * column's own over such a domain replaces it: nothing
	 */
	tp_sql_ok(e.su, "CREATE DOMAIN public.dnow AS timestamptz DEFAULT now();"
			"CREATE DOMAIN public.dclock AS timestamptz DEFAULT clock_timestamp()");
	(void) new_ops(&e);
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN dn public.dnow");
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "true");
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN dc public.dclock");
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 1 txids");
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN dk public.dclock"
			" DEFAULT '2020-01-01 00:00:00+00'");
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "");

	/* the same type USING an expression: only the rewrite tells */
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n TYPE int USING n * 100");
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "c r x3\n| 1 txids");

	/* another type USING an expression; a widened varchar keeps its values */
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n TYPE bigint USING n + 1");
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "true");
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN s TYPE varchar(20)");
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "");

	/* a table without a key is not captured: nothing to send, nor follows */
	tp_sql_ok(e.su, "ALTER TABLE public.nokey ADD COLUMN at timestamptz DEFAULT clock_timestamp()");
	assert_new_ops(&e, "ddl table public.nokey alter\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "");

	/* rolled back to a savepoint: nothing of it, nor later */
	tp_sql_ok(e.su, "BEGIN; SAVEPOINT a;"
			"ALTER TABLE public.r ALTER COLUMN n TYPE bigint USING n * 2;"
			"ROLLBACK TO SAVEPOINT a;"
			"ALTER TABLE public.r RENAME COLUMN t TO u;"
			"COMMIT");
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");

	/* REPEATABLE READ without a rewrite: queued, sent by the poll */
	tp_sql_ok(e.su, "BEGIN ISOLATION LEVEL REPEATABLE READ;"
			"ALTER TABLE public.r ADD COLUMN d2 timestamptz DEFAULT now();"
			"COMMIT");
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");
	assert_query(e.su, "SELECT string_agg(relid::regclass::text, ',') FROM teleport.schema_resend",
				 "r");
	env_poll(&e);
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "c r x3\n| 1 txids");
	assert_query(e.su, "SELECT count(*) FROM teleport.schema_resend", "0");

	/* a partitioned table and an inheritance parent */
	tp_sql_ok(e.su, "CREATE TABLE public.p (id int PRIMARY KEY, v int) PARTITION BY RANGE (id);"
			"CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (10);"
			"CREATE TABLE public.p2 PARTITION OF public.p FOR VALUES FROM (10) TO (20);"
			"INSERT INTO public.p VALUES (1, 1), (11, 11);"
			"CREATE TABLE public.ip (id int PRIMARY KEY, v int);"
			"CREATE TABLE public.ic (PRIMARY KEY (id)) INHERITS (public.ip);"
			"INSERT INTO public.ip VALUES (1, 1);"
			"INSERT INTO public.ic VALUES (2, 2);");
	env_poll(&e);
	(void) new_ops(&e);
	tp_sql_ok(e.su, "ALTER TABLE public.p ADD COLUMN x float8 DEFAULT random()");
	assert_rows_sent(&e, "p");
	assert_new_ops(&e, "ddl table public.p alter\nc p x2\n| 1 txids");
	tp_sql_ok(e.su, "ALTER TABLE public.ip ADD COLUMN x float8 DEFAULT random()");
	assert_query(e.su, "SELECT count(*) FILTER (WHERE op = 'c' AND table_name = 'ip')"
				 " || ' ' || count(*) FILTER (WHERE op = 'c' AND table_name = 'ic')"
				 " FROM " EVENTS " e WHERE id > (SELECT max(id) FROM " EVENTS " x"
				 "  WHERE op = 'ddl' AND table_name = 'ip')", "1 1");
	assert_query(e.su, "SELECT count(*) FROM " EVENTS " e WHERE op = 'c' AND table_name = 'ip'"
				 " AND (after ->> 'x')::float8 = (SELECT x FROM ONLY public.ip)", "1");
	(void) new_ops(&e);

	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, EVENT_TRIGGERS_SQL, "");
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * The same in diff mode: the poll that finds the change queues the table
 * and sends its rows in a transaction of its own (another txid), after
 * the change's event: a volatile default and a type change USING an
 * expression; not a deterministic default. A type changed USING an
 * expression that keeps the type changes no description: the table's
 * storage marks tell (its storage and a column's catalog row both
 * changed); not storage rewritten alone (VACUUM FULL, CLUSTER, SET
 * LOGGED, TRUNCATE), nor a column changed without a rewrite.
 */
START_TEST(test_rewrite_diff)
{
	env			e;

	env_open(&e, "evt_rewrite_diff",
			 "CREATE TABLE public.r (id int PRIMARY KEY, n int);"
			 "INSERT INTO public.r SELECT g, g FROM generate_series(1, 3) g;");
	env_start(&e, NULL, NULL, false, 0);
	env_install(&e);
	assert_new_ops(&e, "");

	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN at timestamptz DEFAULT clock_timestamp()");
	tp_sql_ok(e.su, "UPDATE public.r SET n = 20 WHERE id = 2");
	assert_new_ops(&e, "u r 2\n| 1 txids");
	env_poll(&e);
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 2 txids");
	env_poll(&e);
	assert_new_ops(&e, "");

	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN k int NOT NULL DEFAULT 7");
	env_poll(&e);
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");

	/*
	 * a column of a domain with a stable default, which fills it in (no
	 * rewrite: only the domain's default tells); not one with a default of
	 * its own over a domain with a volatile one
	 */
	tp_sql_ok(e.su, "CREATE DOMAIN public.dnow AS timestamptz DEFAULT now();"
			"CREATE DOMAIN public.dclock AS timestamptz DEFAULT clock_timestamp()");
	env_poll(&e);
	(void) new_ops(&e);
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN dn public.dnow");
	env_poll(&e);
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 2 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "true");
	tp_sql_ok(e.su, "ALTER TABLE public.r ADD COLUMN dk public.dclock"
			" DEFAULT '2020-01-01 00:00:00+00'");
	env_poll(&e);
	assert_new_ops(&e, "ddl table public.r alter\n| 1 txids");
	assert_query(e.su, LAST_ROWS_FOLLOW_SQL, "");

	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n TYPE bigint USING n * 3");
	env_poll(&e);
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "ddl table public.r alter\nc r x3\n| 2 txids");

	/*
	 * The same type: no description changes, but the column's catalog row
	 * and the table's storage both do (schema_storage)
	 */
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n TYPE bigint USING n + 1");
	env_poll(&e);
	assert_rows_sent(&e, "r");
	assert_new_ops(&e, "c r x3\n| 1 txids");
	env_poll(&e);
	assert_new_ops(&e, "");

	/*
	 * Not for a storage rewritten without a column changed (VACUUM FULL,
	 * CLUSTER, SET LOGGED), nor a column changed without a rewrite (SET
	 * STATISTICS, SET STORAGE, a type change that keeps the values), each
	 * compared alone (one of each in one poll is a false alarm: the rows
	 * are sent again); nor a TRUNCATE (captured as such)
	 */
	tp_sql_ok(e.su, "VACUUM FULL public.r");
	env_poll(&e);
	tp_sql_ok(e.su, "CLUSTER public.r USING r_pkey");
	env_poll(&e);
	tp_sql_ok(e.su, "ALTER TABLE public.r SET UNLOGGED; ALTER TABLE public.r SET LOGGED");
	env_poll(&e);
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n SET STATISTICS 200,"
			" ALTER COLUMN n SET STORAGE PLAIN");
	env_poll(&e);
	assert_new_ops(&e, "");
	tp_sql_ok(e.su, "ALTER TABLE public.r ALTER COLUMN n TYPE bigint");
	env_poll(&e);
	assert_new_ops(&e, "");
	tp_sql_ok(e.su, "CREATE TABLE public.r2 (id int PRIMARY KEY, n int);"
			"INSERT INTO public.r2 VALUES (1, 1)");
	env_poll(&e);
	assert_new_ops(&e, "ddl table public.r2 create\nc r2 1\n| 2 txids");
	tp_sql_ok(e.su, "TRUNCATE public.r2");
	env_poll(&e);
	assert_new_ops(&e, "t r2 \n| 1 txids");

	/*
	 * No marks yet (a teleport that did not keep them): the next poll
	 * takes them though the catalogs did not change, so the first rewrite
	 * after it is seen
	 */
	tp_sql_ok(e.su, "DELETE FROM teleport.schema_storage");
	env_poll(&e);
	assert_query(e.su, "SELECT count(*) FROM teleport.schema_storage", "2");
	tp_sql_ok(e.su, "INSERT INTO public.r2 VALUES (2, 2);"
			"ALTER TABLE public.r2 ALTER COLUMN n TYPE int USING n * 7");
	env_poll(&e);
	assert_rows_sent(&e, "r2");
	assert_new_ops(&e, "c r2 x2\n| 2 txids");

	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	assert_query(e.su, "SELECT to_regclass('teleport.schema_resend') IS NULL", "t");
	env_stop(&e);
	env_close(&e);
}
END_TEST

/*
 * A table captured on its own attached as a partition (issue #6), in
 * diff mode (_i 0) and with event triggers (_i 1): the ATTACH works (the
 * partitioned table's row trigger, cloned onto it, has another name than
 * its own), its own triggers go in the transaction that queues its drop,
 * its rows are sent again under the partitioned table's name after the
 * change's events (in the ATTACH's transaction with event triggers, else
 * by the poll in a transaction of its own), and rows written later are
 * captured once, under that name; diff mode captures rows written before
 * the poll under both names. Detached, the partitioned table's change
 * (whose description before lists the partition with its constraint: the
 * target deletes its rows by it) and the table's creation are queued, and
 * the trigger source captures it again with its rows.
 */
START_TEST(test_partitions)
{
	env			e;
	bool		evt = _i == 1;

	env_open(&e, evt ? "evt_parts" : "evt_parts_diff",
			 "CREATE TABLE public.pr (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
			 "CREATE TABLE public.pr1 PARTITION OF public.pr FOR VALUES FROM (0) TO (100);"
			 "CREATE TABLE public.pa (id int PRIMARY KEY, v text);"
			 "INSERT INTO public.pr VALUES (1, 'a');"
			 "INSERT INTO public.pa VALUES (101, 'a'), (102, 'b'), (103, 'c');"
			 "CREATE TABLE public.pq (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
			 "CREATE TABLE public.pq1 PARTITION OF public.pq FOR VALUES FROM (200) TO (250);"
			 "CREATE TABLE public.pq2 PARTITION OF public.pq FOR VALUES FROM (250) TO (300)"
			 " PARTITION BY RANGE (id);"
			 "CREATE TABLE public.pq2a PARTITION OF public.pq2 FOR VALUES FROM (250) TO (300);"
			 "INSERT INTO public.pq VALUES (201, 'a'), (260, 'b');");
	env_start(&e, NULL, NULL, evt, 0);
	env_install(&e);
	assert_new_ops(&e, "");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pr"), ROOT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pr1"), "teleport_capture_root");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pa"), ROW_TRIGGERS);

	tp_sql_ok(e.su, "BEGIN;"
			"UPDATE public.pa SET v = 'x' WHERE id = 101;"
			"ALTER TABLE public.pr ATTACH PARTITION public.pa FOR VALUES FROM (100) TO (200);"
			"UPDATE public.pr SET v = 'y' WHERE id = 102;"
			"COMMIT");
	if (evt)
	{
		assert_new_ops(&e, "u pa 101\n"
					   "ddl table public.pa drop\n"
					   "ddl table public.pr alter\n"
					   "c pr x3\n"
					   "u pr 102\n"
					   "| 1 txids");
	}
	else
	{
		assert_new_ops(&e, "u pa 101\nu pa 102\nu pr 102\n| 1 txids");
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pa"),
					 "teleport_capture,teleport_capture_root,teleport_capture_stmt_a,"
					 "teleport_capture_stmt_b,teleport_capture_truncate");
		env_poll(&e);
		assert_new_ops(&e, "ddl table public.pa drop\n"
					   "ddl table public.pr alter\n"
					   "c pr x3\n"
					   "| 2 txids");
	}
	/* the rows sent again are pa's, under pr's name: as they were then */
	assert_query(e.su, "SELECT string_agg(after::text, ' ' ORDER BY (after ->> 'id')::int) FROM " EVENTS
				 " e WHERE op = 'c' AND table_name = 'pr'",
				 evt ? "{\"id\":101,\"v\":\"x\"} {\"id\":102,\"v\":\"b\"} {\"id\":103,\"v\":\"c\"}"
				 : "{\"id\":101,\"v\":\"x\"} {\"id\":102,\"v\":\"y\"} {\"id\":103,\"v\":\"c\"}");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pa"), "teleport_capture_root");
	assert_query(e.su, "SELECT count(*) FROM teleport.trigger_table WHERE table_name = 'pa'", "0");
	assert_query(e.su, "SELECT count(*) FROM teleport.schema_resend", "0");
	tp_sql_ok(e.su, "UPDATE public.pa SET v = 'z' WHERE id = 103");
	env_poll(&e);
	assert_new_ops(&e, "u pr 103\n| 1 txids");

	/* detached: the partition, with its constraint, leaves pr's description */
	tp_sql_ok(e.su, "ALTER TABLE public.pr DETACH PARTITION public.pa");
	if (evt)
	{
		assert_new_ops(&e, "ddl table public.pr alter\nddl table public.pa create\n| 1 txids");
		env_poll(&e);
		assert_new_ops(&e, "c pa x3\n| 1 txids");
	}
	else
	{
		env_poll(&e);
		assert_new_ops(&e, "ddl table public.pr alter\nddl table public.pa create\n"
					   "c pa x3\n| 2 txids");
	}
	assert_query(e.su, "SELECT string_agg(p ->> 'constraint', ';') FROM " EVENTS " e,"
				 " json_array_elements(e.ddl -> 'before' -> 'partitions') p"
				 " WHERE e.op = 'ddl' AND e.table_name = 'pr'"
				 " AND NOT EXISTS (SELECT 1 FROM json_array_elements(e.ddl -> 'after' -> 'partitions') q"
				 "  WHERE (q ->> 'oid') = (p ->> 'oid'))",
				 "((id IS NOT NULL) AND (id >= 100) AND (id < 200))");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pa"), ROW_TRIGGERS);
	tp_sql_ok(e.su, "UPDATE public.pa SET v = 'w' WHERE id = 103");
	assert_new_ops(&e, "u pa 103\n| 1 txids");

	/*
	 * A partitioned table captured as a root of its own attached: its row
	 * trigger and pr's clone differ by their OID, its own go (also its
	 * clones on its partitions), its leaves' rows are sent again under
	 * pr's name, and its copy is dropped
	 */
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq"), ROOT_TRIGGERS);
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq2a"), "teleport_capture_root");
	tp_sql_ok(e.su, "BEGIN;"
			"UPDATE public.pq SET v = 'x' WHERE id = 201;"
			"ALTER TABLE public.pr ATTACH PARTITION public.pq FOR VALUES FROM (200) TO (300);"
			"UPDATE public.pr SET v = 'y' WHERE id = 260;"
			"COMMIT");
	if (evt)
	{
		assert_new_ops(&e, "u pq 201\n"
					   "ddl table public.pq drop\n"
					   "ddl table public.pr alter\n"
					   "c pr x2\n"
					   "u pr 260\n"
					   "| 1 txids");
	}
	else
	{
		/*
		 * pr is older: its clone's name sorts first, and fires first; the
		 * rows sent again are pq's two leaves', each in a transaction
		 */
		assert_new_ops(&e, "u pq 201\nu pr 260\nu pq 260\n| 1 txids");
		assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq2a"),
					 "teleport_capture_root,teleport_capture_root_other");
		env_poll(&e);
		assert_new_ops(&e, "ddl table public.pq drop\n"
					   "ddl table public.pr alter\n"
					   "c pr x2\n"
					   "| 3 txids");
	}
	assert_query(e.su, "SELECT string_agg(after::text, ' ' ORDER BY (after ->> 'id')::int) FROM " EVENTS
				 " e WHERE op = 'c' AND table_name = 'pr' AND (after ->> 'id')::int >= 200",
				 evt ? "{\"id\":201,\"v\":\"x\"} {\"id\":260,\"v\":\"b\"}"
				 : "{\"id\":201,\"v\":\"x\"} {\"id\":260,\"v\":\"y\"}");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq"), "teleport_capture_root");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq1"), "teleport_capture_root");
	assert_query(e.su, CAPTURE_TRIGGERS_SQL("public.pq2a"), "teleport_capture_root");
	assert_query(e.su, "SELECT count(*) FROM teleport.trigger_table WHERE table_name LIKE 'pq%'", "0");
	tp_sql_ok(e.su, "UPDATE public.pq SET v = 'z' WHERE id = 201;"
			  "UPDATE public.pq2a SET v = 'z' WHERE id = 260");
	env_poll(&e);
	assert_new_ops(&e, "u pr 201\nu pr 260\n| 1 txids");

	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/* Start the instance in the mode, install, and poll once. */
static void
switch_to(env *e, bool event_triggers)
{
	env_start(e, NULL, NULL, event_triggers, 0);
	env_install(e);
	env_poll(e);
	assert_query(e->su, EVENT_TRIGGERS_SQL, event_triggers ? BOTH_TRIGGERS : "");
}

START_TEST(test_switch)
{
	env			e;

	env_open(&e, "evt_switch", "CREATE TABLE public.a (id int PRIMARY KEY);");

	/* diff mode */
	switch_to(&e, false);
	tp_sql_ok(e.su, "ALTER TABLE public.a ADD COLUMN c1 int");
	env_poll(&e);
	assert_new_events(&e, "ddl table public.a alter\n| 1 txids");
	tp_sql_ok(e.su, "ALTER TABLE public.a ADD COLUMN c2 int");	/* not polled */
	env_stop(&e);

	/* stopped: a change no teleport sees */
	tp_sql_ok(e.su, "CREATE TABLE public.t3 (id int PRIMARY KEY)");

	/* event-trigger mode: both are sent once, at install */
	switch_to(&e, true);
	assert_new_events(&e, "ddl table public.a alter\n"
					  "ddl table public.t3 create\n"
					  "| 1 txids");
	tp_sql_ok(e.su, "ALTER TABLE public.a ADD COLUMN c4 int");
	env_poll(&e);
	assert_new_events(&e, "ddl table public.a alter\n| 1 txids");
	env_stop(&e);

	/* stopped, the event triggers still capture */
	tp_sql_ok(e.su, "ALTER TABLE public.t3 ADD COLUMN c5 int");
	assert_new_events(&e, "ddl table public.t3 alter\n| 1 txids");

	/* back to diff mode: the triggers go, nothing is repeated */
	switch_to(&e, false);
	assert_new_events(&e, "");
	tp_sql_ok(e.su, "ALTER TABLE public.t3 ADD COLUMN c6 int");
	assert_new_events(&e, "");
	env_poll(&e);
	assert_new_events(&e, "ddl table public.t3 alter\n| 1 txids");

	/* the columns as the events left them: one of each, in order */
	assert_query(e.su, "SELECT string_agg(a.value ->> 'name', ',' ORDER BY e.id, a.ordinality)"
				 " FROM " EVENTS " e, json_array_elements(e.ddl -> 'after' -> 'columns')"
				 " WITH ORDINALITY a WHERE e.op = 'ddl' AND e.table_name = 'a'"
				 " AND e.id = (SELECT max(id) FROM " EVENTS " x WHERE x.table_name = 'a')",
				 "id,c1,c2,c4");
	ck_assert_int_eq(e.ddl.cb->uninstall(e.ddl.ctx, e.pg.conn), TP_OK);
	env_stop(&e);
	env_close(&e);
}
END_TEST

/* The suite. */
static Suite *
event_trigger_suite(void)
{
	Suite	   *s = suite_create("event_trigger");
	TCase	   *tc = tcase_create("event_trigger");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_capture);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_renames);
	tcase_add_test(tc, test_renames_diff);
	tcase_add_test(tc, test_fallback);
	tcase_add_test(tc, test_switch);
	tcase_add_test(tc, test_text_mode);
	tcase_add_test(tc, test_text_mode_diff);
	tcase_add_test(tc, test_rewrite);
	tcase_add_test(tc, test_rewrite_diff);
	tcase_add_loop_test(tc, test_partitions, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(event_trigger_suite());
}
