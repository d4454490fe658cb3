/*
 * check_queue.c
 *     The queue on a real PostgreSQL: install (idempotent, concurrent,
 *     versioned, private), ticks, batches in commit order for each target
 *     with its filter and without its own changes, the exact change lines,
 *     splitting with TP_BATCH_PARTIAL, identical rebuilds, acknowledgement,
 *     rotation and TRUNCATE only once every target has passed a table,
 *     retention, and lock_timeout on TRUNCATE.
 *
 * Events are written with teleport.insert_event directly, as a source
 * plugin would. Each test has its own database in the program's cluster.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkmain.h"
#include "config.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "pgsql.h"
#include "queue.h"
#include "transmitter.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static tp_cluster *cluster;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* Two targets: t1 takes all of public, t2 public.b* but public.bx. */
static const char config_yaml[] =
"database:\n"
"  name: src\n"
"targets:\n"
"  t1:\n"
"    target_expression: \"public.*\"\n"
"    apply_schema: a\n"
"    transport: stdout\n"
"  t2:\n"
"    target_expression: [\"public.b*\", \"!public.bx\"]\n"
"    apply_schema: b\n"
"    transport: stdout\n";

/* A test's database: its conninfo, a connection and the config. */
typedef struct fixture
{
	char	   *conninfo;
	tp_pgsql	pg;
	tp_config  *config;
	const tp_target_config *t1;
	const tp_target_config *t2;
} fixture;

/* Create database db, connect, load the config; install unless asked not. */
static void
setup(fixture *fx, const char *db, bool install)
{
	memset(fx, 0, sizeof(*fx));
	fx->conninfo = tp_cluster_create_db(cluster, db);
	ck_assert_ptr_nonnull(fx->conninfo);
	ck_assert(tp_pgsql_connect(&fx->pg, fx->conninfo, "the queue test"));
	ck_assert(tp_config_load_string(config_yaml, strlen(config_yaml), "test.yml",
									&fx->config));
	fx->t1 = tp_config_target(fx->config, "t1");
	fx->t2 = tp_config_target(fx->config, "t2");
	ck_assert_ptr_nonnull(fx->t1);
	ck_assert_ptr_nonnull(fx->t2);
	if (install)
		ck_assert(tp_queue_install(&fx->pg, fx->config));
}

/* Free what setup made. */
static void
teardown(fixture *fx)
{
	tp_pgsql_close(&fx->pg);
	tp_config_free(fx->config);
	free(fx->conninfo);
}

/* Another connection to the fixture's database. */
static void
connect_more(const fixture *fx, tp_pgsql *pg)
{
	ck_assert(tp_pgsql_connect(pg, fx->conninfo, "another session"));
}

/* Write one event through insert_event (NULL arguments are SQL NULL). */
static void
event(tp_pgsql *pg, const char *op, const char *schema, const char *table,
	  const char *before, const char *after, const char *ddl)
{
	const char *params[6] = {op, schema, table, before, after, ddl};

	ck_assert(tp_pgsql_query(pg,
							 "SELECT teleport.insert_event($1, $2, $3, $4::json,"
							 " $5::json, $6::json)",
							 6, params, NULL, NULL));
}

/* An insert into public.NAME of {"id":id}. */
static void
insert_row(tp_pgsql *pg, const char *table, int id)
{
	char		after[32];

	snprintf(after, sizeof(after), "{\"id\":%d}", id);
	event(pg, "c", "public", table, NULL, after, NULL);
}

/* Make a tick now; it must be made. */
static void
force_tick(tp_pgsql *pg)
{
	bool		ticked = false;

	ck_assert(tp_queue_tick(pg, 0, 0, &ticked));
	ck_assert(ticked);
}

/* Cut target's batches; returns how many were made. */
static int
cut(tp_pgsql *pg, const tp_target_config *target, int64_t max_events,
	int64_t max_bytes)
{
	int			made = -1;

	ck_assert(tp_queue_cut_batches(pg, target, max_events, max_bytes, &made));
	return made;
}

/* Tick and cut both targets with large limits. */
static void
tick_and_cut(fixture *fx)
{
	force_tick(&fx->pg);
	cut(&fx->pg, fx->t1, 10000, 1 << 24);
	cut(&fx->pg, fx->t2, 10000, 1 << 24);
}

/* The next batch of target as its data (a new string), or NULL. */
static char *
next_data(tp_pgsql *pg, const tp_target_config *target, tp_queued_batch *qb)
{
	bool		found = false;
	char	   *data;

	ck_assert(tp_queue_next_batch(pg, "src", target, qb, &found));
	if (!found)
		return NULL;
	data = malloc(qb->batch.data_len + 1);
	memcpy(data, qb->batch.data, qb->batch.data_len);
	data[qb->batch.data_len] = '\0';
	return data;
}

/*
 * The event ids ("seq") of the lines of data, space-separated, e.g.
 * "3 5", into out.
 */
static void
seqs_of(const char *data, char *out, size_t len)
{
	const char *p = data;

	out[0] = '\0';
	while ((p = strstr(p, "\"seq\":")) != NULL)
	{
		char		num[24];
		size_t		n = strspn(p + 6, "0123456789");

		snprintf(num, sizeof(num), "%s%.*s", out[0] ? " " : "", (int) n, p + 6);
		strncat(out, num, len - strlen(out) - 1);
		p += 6;
	}
}

/* The ids of the next batch of target (acknowledging it), or "none". */
static void
take_batch(fixture *fx, const tp_target_config *target, char *out, size_t len)
{
	tp_queued_batch qb;
	char	   *data = next_data(&fx->pg, target, &qb);

	if (data == NULL)
	{
		snprintf(out, len, "none");
		return;
	}
	seqs_of(data, out, len);
	ck_assert(tp_queue_ack(&fx->pg, target->name, qb.batch.seq));
	free(data);
	tp_queued_batch_free(&qb);
}

/* ------------------------------------------------------------- install */

/* Install twice: same schema, version recorded, targets registered once. */
START_TEST(test_install_idempotent)
{
	fixture		fx;
	tp_pgsql	other;
	char	   *v;

	setup(&fx, "q_install", true);
	ck_assert(tp_queue_install(&fx.pg, fx.config));
	connect_more(&fx, &other);
	ck_assert(tp_queue_install(&other, fx.config));
	tp_pgsql_close(&other);

	v = tp_sql_value(fx.pg.conn, "SELECT component || ' ' || version FROM teleport.schema_version");
	ck_assert_str_eq(v, "queue " STR(TP_QUEUE_SCHEMA_VERSION));
	free(v);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.target"), 2);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.tick"), 1);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.target t"
							" JOIN teleport.tick k ON k.id = t.cursor_tick"), 2);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM pg_class c"
							" JOIN pg_namespace n ON n.oid = c.relnamespace"
							" WHERE n.nspname = 'teleport' AND c.relname ~ '^event_[0-2]$'"), 3);

	/* a schema newer than this teleport is refused */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 99");
	ck_assert(!tp_queue_install(&fx.pg, fx.config));
	teardown(&fx);
}
END_TEST

/*
 * Concurrent installs: two processes start while a third session holds
 * the install lock, so both must wait and retry; then both succeed and
 * the schema is there once.
 */
START_TEST(test_install_concurrent)
{
	fixture		fx;
	tp_pgsql	holder;
	pid_t		pids[2];

	setup(&fx, "q_install_conc", false);
	connect_more(&fx, &holder);
	tp_sql_ok(holder.conn, "SELECT pg_advisory_lock(1952803941, 1)");
	for (int i = 0; i < 2; i++)
	{
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
		{
			tp_pgsql	pg;
			bool		ok;

			if (!tp_pgsql_connect(&pg, fx.conninfo, "an installer"))
				_exit(2);
			ok = tp_queue_install(&pg, fx.config);
			tp_pgsql_close(&pg);
			_exit(ok ? 0 : 1);
		}
	}
	tp_nap_ms(300);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM pg_namespace"
							" WHERE nspname = 'teleport'"), 0);
	tp_sql_ok(holder.conn, "SELECT pg_advisory_unlock(1952803941, 1)");
	for (int i = 0; i < 2; i++)
	{
		int			status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.schema_version"), 1);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.target"), 2);
	tp_pgsql_close(&holder);
	teardown(&fx);
}
END_TEST

/*
 * Upgrade from version 1 (rebuilt by hand: no text_values column, the
 * six-argument insert_event): an event written then is kept and sent
 * without a "values" member; afterwards there is one insert_event, whose
 * six-argument calls still work and record json mode.
 */
START_TEST(test_upgrade_from_v1)
{
	fixture		fx;
	tp_queued_batch qb;
	char	   *data;
	char	   *v;

	setup(&fx, "q_upgrade", true);
	tp_sql_ok(fx.pg.conn, "DROP FUNCTION teleport.insert_event(text, text, text, json, json, json,"
			  " boolean, bigint)");
	for (int i = 0; i < 3; i++)
	{
		char		sql[128];

		snprintf(sql, sizeof(sql), "ALTER TABLE teleport.event_%d DROP COLUMN text_values,"
				 " DROP COLUMN stmt", i);
		tp_sql_ok(fx.pg.conn, sql);
	}
	tp_sql_ok(fx.pg.conn, "CREATE FUNCTION teleport.insert_event(op text, schema_name text,"
			" table_name text, before json, after json, ddl json) RETURNS void"
			" LANGUAGE sql AS $$INSERT INTO teleport.event_0"
			" (id, txid, op, schema_name, table_name, before, after, ddl)"
			" VALUES (nextval('teleport.event_id_seq'), txid_current(), op, schema_name,"
			" table_name, before, after, ddl)$$");
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 1");
	insert_row(&fx.pg, "old", 1);
	ck_assert(tp_queue_install(&fx.pg, fx.config));
	v = tp_sql_value(fx.pg.conn, "SELECT version || ' ' || (SELECT count(*) FROM pg_proc"
				 " WHERE proname = 'insert_event') || ' ' || (SELECT count(*) FROM pg_attribute"
				 " WHERE attname IN ('text_values', 'stmt') AND attrelid IN ('teleport.event_0'::regclass,"
				 " 'teleport.event_1'::regclass, 'teleport.event_2'::regclass))"
				 " FROM teleport.schema_version WHERE component = 'queue'");
	ck_assert_str_eq(v, STR(TP_QUEUE_SCHEMA_VERSION) " 1 6");
	free(v);
	insert_row(&fx.pg, "new", 2);
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	data = next_data(&fx.pg, fx.t1, &qb);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(qb.batch.n_changes, 2);
	ck_assert_ptr_null(strstr(data, "\"values\""));
	ck_assert_ptr_nonnull(strstr(data, "\"table\":\"old\""));
	ck_assert_ptr_nonnull(strstr(data, "\"table\":\"new\""));
	free(data);
	tp_queued_batch_free(&qb);
	teardown(&fx);
}
END_TEST

/* The queue is private: a role with no grants can neither call nor read. */
START_TEST(test_install_private)
{
	fixture		fx;
	char	   *v;

	setup(&fx, "q_private", true);
	tp_sql_ok(fx.pg.conn, "DROP ROLE IF EXISTS tp_queue_app");
	tp_sql_ok(fx.pg.conn, "CREATE ROLE tp_queue_app LOGIN");
	v = tp_sql_value(fx.pg.conn,
				 "SELECT has_function_privilege('tp_queue_app',"
				 " 'teleport.insert_event(text, text, text, json, json, json, boolean, bigint)',"
				 " 'EXECUTE')"
				 " || ' ' || has_table_privilege('tp_queue_app', 'teleport.event_0', 'SELECT')"
				 " || ' ' || has_table_privilege('tp_queue_app', 'teleport.event_0', 'INSERT')"
				 " || ' ' || has_schema_privilege('tp_queue_app', 'teleport', 'USAGE')"
				 " || ' ' || (SELECT prosecdef FROM pg_proc WHERE proname = 'insert_event')");
	ck_assert_str_eq(v, "false false false false true");
	free(v);
	tp_sql_ok(fx.pg.conn, "DROP ROLE tp_queue_app");
	teardown(&fx);
}
END_TEST

/* ---------------------------------------------------------- the lines */

/*
 * The exact change lines: values verbatim (45 digits, -0, escapes), a DDL
 * event whose JSON had a newline, an event in text mode (marked
 * "values":"text"), and every field of tp_batch.
 */
START_TEST(test_exact_lines)
{
	fixture		fx;
	tp_queued_batch qb;
	char	   *data;
	char	   *txid;
	char	   *ts;
	char		expected[2048];
	int64_t		first_tick;

	setup(&fx, "q_lines", true);
	first_tick = tp_sql_int(fx.pg.conn, "SELECT max(id) FROM teleport.tick");
	tp_sql_ok(fx.pg.conn, "BEGIN");
	tp_sql_ok(fx.pg.conn,
			"SELECT teleport.insert_event('u', 'public', 'tab',"
			" '{\"id\":1}', row_to_json(r), NULL)"
			" FROM (SELECT 1 AS id,"
			" 123456789012345678901234567890123456789012345::numeric(45) AS big,"
			" '-0'::float8 AS f, E'a\"b\\\\c\\n' AS s, NULL::text AS z) r");
	event(&fx.pg, "ddl", "public", NULL, NULL, NULL,
		  "{\"sql\":\"CREATE TABLE public.x ()\",\n\"k\":1}");
	tp_sql_ok(fx.pg.conn,
			  "SELECT teleport.insert_event('c', 'public', 'tab', NULL,"
			  " '{\"id\":\"[0:1]={1,2}\",\"j\":\"null\",\"n\":null}', NULL, true)");
	txid = tp_sql_value(fx.pg.conn, "SELECT txid_current()");
	tp_sql_ok(fx.pg.conn, "COMMIT");
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	data = next_data(&fx.pg, fx.t1, &qb);
	ck_assert_ptr_nonnull(data);
	ts = tp_sql_value(fx.pg.conn, "SELECT floor(extract(epoch FROM created_at) * 1000)::bigint"
				  " FROM teleport.tick ORDER BY id DESC LIMIT 1");
	snprintf(expected, sizeof(expected),
			 "{\"op\":\"u\",\"before\":{\"id\":1},\"after\":{\"id\":1,"
			 "\"big\":123456789012345678901234567890123456789012345,\"f\":-0,"
			 "\"s\":\"a\\\"b\\\\c\\n\",\"z\":null},"
			 "\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"tab\","
			 "\"txid\":%s,\"seq\":1,\"batch\":1},\"ts_ms\":%s}\n"
			 "{\"op\":\"ddl\",\"before\":null,\"after\":null,"
			 "\"ddl\":{\"sql\":\"CREATE TABLE public.x ()\", \"k\":1},"
			 "\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":null,"
			 "\"txid\":%s,\"seq\":2,\"batch\":1},\"ts_ms\":%s}\n"
			 "{\"op\":\"c\",\"before\":null,"
			 "\"after\":{\"id\":\"[0:1]={1,2}\",\"j\":\"null\",\"n\":null},"
			 "\"values\":\"text\","
			 "\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"tab\","
			 "\"txid\":%s,\"seq\":3,\"batch\":1},\"ts_ms\":%s}\n",
			 txid, ts, txid, ts, txid, ts);
	ck_assert_str_eq(data, expected);
	ck_assert_uint_eq(qb.batch.data_len, strlen(expected));
	ck_assert_uint_eq(qb.batch.size, sizeof(tp_batch));
	ck_assert_uint_eq(qb.batch.format, TELEPORT_BATCH_FORMAT);
	ck_assert_int_eq(qb.batch.kind, TP_BATCH_CHANGES);
	ck_assert_str_eq(qb.batch.source, "src");
	ck_assert_str_eq(qb.batch.target, "t1");
	ck_assert_str_eq(qb.batch.apply_schema, "a");
	ck_assert_uint_eq(qb.batch.seq, 1);
	ck_assert_uint_eq(qb.batch.n_changes, 3);
	ck_assert_uint_eq(qb.batch.first_tick, (uint64_t) first_tick);
	ck_assert_uint_eq(qb.batch.last_tick, (uint64_t) first_tick + 1);
	ck_assert_uint_eq(qb.batch.flags, 0);
	ck_assert_int_eq(qb.tick_time_ms, strtoll(ts, NULL, 10));
	free(data);
	free(txid);
	free(ts);
	tp_queued_batch_free(&qb);

	/* an unknown target is an error, not an empty queue */
	{
		tp_target_config ghost = *fx.t1;
		tp_queue_backlog bl;
		int			made;

		ghost.name = "ghost";
		ck_assert(!tp_queue_cut_batches(&fx.pg, &ghost, 10, 1000, &made));
		ck_assert(!tp_queue_backlog_of(&fx.pg, "ghost", &bl));
	}
	teardown(&fx);
}
END_TEST

/*
 * The lines core/batch_lines.c builds are byte for byte those of the SQL
 * concatenation it replaced (kept here as the reference): names with
 * quotes, backslashes, every kind of control character and non-ASCII
 * text, an origin, a statement number, a raw newline in stored json.
 */
START_TEST(test_lines_match_sql)
{
	fixture		fx;
	tp_queued_batch qb;
	char	   *data;
	char	   *reference;

	setup(&fx, "q_lines_sql", true);
	tp_sql_ok(fx.pg.conn, "BEGIN");
	tp_sql_ok(fx.pg.conn,
			  "SELECT pg_catalog.set_config('teleport.origin',"
			  " E'far \"o\\\\\\x01\\u00e9', true)");
	tp_sql_ok(fx.pg.conn,
			  "SELECT teleport.insert_event('u', 'public',"
			  " E'q\"b\\\\s\\x01\\x08\\x09\\x0a\\x0c\\x0d\\x1f\\u00e9\\U0001F600',"
			  " '{\"id\":1}', E'{\"id\":2,\\n\"t\":\"x\"}', NULL, false, 7)");
	tp_sql_ok(fx.pg.conn, "SELECT pg_catalog.set_config('teleport.origin', '', true)");
	tp_sql_ok(fx.pg.conn,
			  "SELECT teleport.insert_event('d', 'public', 'tab', '{\"id\":2}', NULL, NULL)");
	tp_sql_ok(fx.pg.conn, "COMMIT");
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	data = next_data(&fx.pg, fx.t1, &qb);
	ck_assert_ptr_nonnull(data);
	reference = tp_sql_value(fx.pg.conn,
		"SELECT string_agg(line, '' ORDER BY id) FROM ("
		"SELECT e.id, '{\"op\":' || to_json(e.op)::text"
		" || ',\"before\":' || coalesce(replace(e.before::text, E'\\n', ' '), 'null')"
		" || ',\"after\":' || coalesce(replace(e.after::text, E'\\n', ' '), 'null')"
		" || CASE WHEN e.text_values THEN ',\"values\":\"text\"' ELSE '' END"
		" || CASE WHEN e.ddl IS NULL THEN ''"
		"  ELSE ',\"ddl\":' || replace(e.ddl::text, E'\\n', ' ') END"
		" || ',\"source\":{\"name\":' || to_json(coalesce(e.origin, 'src'))::text"
		" || ',\"schema\":' || to_json(e.schema_name)::text"
		" || ',\"table\":' || coalesce(to_json(e.table_name)::text, 'null')"
		" || ',\"txid\":' || e.txid::text"
		" || ',\"seq\":' || e.id::text"
		" || ',\"batch\":1'"
		" || CASE WHEN e.stmt IS NULL THEN '' ELSE ',\"stmt\":' || e.stmt::text END"
		" || '},\"ts_ms\":' || (SELECT floor(extract(epoch FROM created_at) * 1000)::bigint"
		"  FROM teleport.tick ORDER BY id DESC LIMIT 1)::text || E'}\\n' AS line"
		" FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1"
		" UNION ALL SELECT * FROM teleport.event_2) e) x");
	ck_assert_ptr_nonnull(reference);
	ck_assert_str_eq(data, reference);
	ck_assert_msg(strstr(data, "\"stmt\":7") != NULL && strstr(data, "\\u0001") != NULL &&
				  strstr(data, "\\u001f") != NULL && strstr(data, "\\b") != NULL &&
				  strstr(data, "\"name\":\"src\"") != NULL, "%s", data);
	free(data);
	free(reference);
	tp_queued_batch_free(&qb);
	teardown(&fx);
}
END_TEST

/* ------------------------------------------------------------ ordering */

/*
 * A long transaction T1 writes first and commits last: the batch of the
 * tick before its commit has only T2; the next one has T1, entire.
 */
START_TEST(test_long_transaction)
{
	fixture		fx;
	tp_pgsql	t1;
	char		ids[256];

	setup(&fx, "q_long", true);
	connect_more(&fx, &t1);
	tp_sql_ok(t1.conn, "BEGIN");
	insert_row(&t1, "a", 1);	/* id 1 */
	insert_row(&fx.pg, "a", 2); /* id 2, committed */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "2");
	insert_row(&t1, "a", 3);	/* id 3 */
	tp_sql_ok(t1.conn, "COMMIT");
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 3");
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "none");
	tp_pgsql_close(&t1);
	teardown(&fx);
}
END_TEST

/*
 * A transaction across several ticks, and the ticker's rules: no tick
 * without cause; one for new events; one when a transaction with events
 * that was running at the last tick ends, also the newest one, which the
 * tick's snapshot leaves out of its xip; an empty range makes no batch but
 * moves the cursor.
 */
START_TEST(test_across_ticks)
{
	fixture		fx;
	tp_pgsql	t1;
	char		ids[256];
	bool		ticked;

	setup(&fx, "q_ticks", true);
	connect_more(&fx, &t1);

	/* nothing happened: no tick unless idle */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(!ticked);

	tp_sql_ok(t1.conn, "BEGIN");
	insert_row(&t1, "a", 1);	/* id 1 */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);			/* new events */
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 0);
	insert_row(&fx.pg, "a", 2); /* id 2 */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	insert_row(&t1, "a", 3);	/* id 3 */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 0);

	/* t1 still runs: nothing to tick for */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(!ticked);
	tp_sql_ok(t1.conn, "COMMIT");
	/* it ended: a tick is due, but not before min_gap_ms */
	ck_assert(tp_queue_tick(&fx.pg, 3600000, 3600000, &ticked));
	ck_assert(!ticked);
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "2");
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 3");

	/* an empty range: no batch, the cursor moves */
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 0);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.target"
							" WHERE name = 't1'"
							" AND cursor_tick = (SELECT max(id) FROM teleport.tick)"
							" AND next_seq = 3"), 1);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "none");

	/*
	 * The newest transaction, running alone at a tick: its event's id was
	 * counted, but the snapshot's xip leaves it out (PostgreSQL 14 and
	 * later: xmax follows the latest completed transaction); its end is a
	 * cause all the same, not the idle tick
	 */
	tp_sql_ok(t1.conn, "BEGIN");
	insert_row(&t1, "a", 4);	/* id 4 */
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);			/* new events */
	{
		/* (what this case is about: the transaction is not in xip) */
		char	   *xid = tp_sql_value(t1.conn, "SELECT txid_current()");
		char		sql[256];

		ck_assert_ptr_nonnull(xid);
		snprintf(sql, sizeof(sql), "SELECT txid_snapshot_xmax(snapshot) <= %s"
				 " FROM teleport.tick ORDER BY id DESC LIMIT 1", xid);
		tp_sql_assert(fx.pg.conn, sql, "t");
		free(xid);
	}
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 0);
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(!ticked);			/* still running */
	tp_sql_ok(t1.conn, "COMMIT");
	ck_assert(tp_queue_tick(&fx.pg, 0, 3600000, &ticked));
	ck_assert(ticked);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "4");
	tp_pgsql_close(&t1);
	teardown(&fx);
}
END_TEST

/*
 * A scripted transport for test_transmitter_in_flight: what each send got
 * (seq, flags, instance), and the answer for each seq.
 */
#define FAKE_MAX 16
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct
{
	uint64_t	seq;
	uint32_t	flags;
	tp_plugin_ctx *ctx;
}			fake_sent[FAKE_MAX];
static int	fake_n;
static tp_result fake_answer[FAKE_MAX];	/* by seq */
static int	fake_delay_ms[FAKE_MAX];	/* by seq: answers that take a while */

/* The index of seq's first send since fake_n was last reset; fails if none. */
static int
fake_sent_of(uint64_t seq)
{
	for (int i = 0; i < fake_n; i++)
	{
		if (fake_sent[i].seq == seq)
			return i;
	}
	ck_abort_msg("batch %" PRIu64 " was not sent", seq);
	return -1;
}

static tp_result
fake_send(tp_plugin_ctx *ctx, const tp_batch *batch)
{
	tp_result	r;

	pthread_mutex_lock(&fake_lock);
	if (fake_n < FAKE_MAX)
	{
		fake_sent[fake_n].seq = batch->seq;
		fake_sent[fake_n].flags = batch->flags;
		fake_sent[fake_n].ctx = ctx;
		fake_n++;
	}
	r = batch->seq < FAKE_MAX ? fake_answer[batch->seq] : TP_ERROR;
	pthread_mutex_unlock(&fake_lock);
	if (batch->seq < FAKE_MAX && fake_delay_ms[batch->seq] > 0)
		tp_nap_ms(fake_delay_ms[batch->seq]);
	return r;
}

/*
 * Set up fx on database db with n batches of one row each for t1, and a
 * transmitter tx for t1 whose transport is fake_send (cb) on two lanes
 * (lane_a and lane_b stand in for the transport's instances).
 */
static void
two_lanes(fixture *fx, const char *db, int n, tp_transmitter *tx,
		  tp_transport_callbacks *cb, int *lane_a, int *lane_b)
{
	setup(fx, db, true);
	for (int i = 1; i <= n; i++)
	{
		insert_row(&fx->pg, "a", i);
		force_tick(&fx->pg);
		ck_assert_int_eq(cut(&fx->pg, fx->t1, 100, 1 << 20), 1);
	}
	memset(cb, 0, sizeof(*cb));
	cb->size = sizeof(*cb);
	cb->send = fake_send;
	tp_transmitter_init(tx, fx->t1, (tp_plugin_ctx *) lane_a, cb);
	ck_assert(tp_transmitter_add_lane(tx, (tp_plugin_ctx *) lane_b));
}

/*
 * Two batches in flight on two instances: the second is flagged
 * TP_BATCH_FOLLOWS, the first never; answers are taken in seq order, so
 * when the first is refused the second is not acknowledged although it
 * was accepted, and both are sent again (the first, held, unflagged).
 */
START_TEST(test_transmitter_in_flight)
{
	fixture		fx;
	tp_transmitter tx;
	tp_transport_callbacks cb;
	int			lane_a,
				lane_b;			/* stand-ins for two transport instances */
	uint64_t	seq = 0;
	bool		found = false;

	two_lanes(&fx, "q_flight", 3, &tx, &cb, &lane_a, &lane_b);

	/* the later batch answers first */
	fake_n = 0;
	fake_delay_ms[1] = 100;
	fake_answer[1] = TP_RETRY;
	fake_answer[2] = TP_OK;
	fake_answer[3] = TP_OK;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 100, NULL));
	/* both on their way at once (either may reach its send first) */
	ck_assert_int_eq(fake_n, 2);
	ck_assert_uint_eq(fake_sent[fake_sent_of(1)].flags & TP_BATCH_FOLLOWS, 0);
	ck_assert_uint_eq(fake_sent[fake_sent_of(2)].flags & TP_BATCH_FOLLOWS, TP_BATCH_FOLLOWS);
	ck_assert_ptr_ne(fake_sent[0].ctx, fake_sent[1].ctx);
	/* nothing acknowledged: 2 waits behind the refused 1 */
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(found);
	ck_assert_uint_eq(seq, 1);
	ck_assert(tx.has_held);

	/*
	 * accepted now: all three, in order. The refused one went alone (the
	 * target may just have come back), so 2 went after it was answered, as
	 * the oldest, unflagged; 3 overlapped 2, flagged. 2 and 3 are sent by
	 * threads of their own, so either may reach its send first
	 */
	fake_n = 0;
	fake_answer[1] = TP_OK;
	fake_delay_ms[1] = 50;
	tx.retry_at_ms = 0;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 100, NULL));
	ck_assert_int_eq(fake_n, 3);
	ck_assert_int_eq(fake_sent_of(1), 0);
	ck_assert_int_gt(fake_sent_of(2), 0);
	ck_assert_int_gt(fake_sent_of(3), 0);
	for (uint64_t q = 1; q <= 3; q++)
		ck_assert_uint_eq(fake_sent[fake_sent_of(q)].flags & TP_BATCH_FOLLOWS,
						  q == 3 ? TP_BATCH_FOLLOWS : 0);
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(!found);
	ck_assert_uint_eq(tx.sent, 3);

	/* the first accepted at once, the second refused while it is taken */
	for (int i = 4; i <= 5; i++)
	{
		insert_row(&fx.pg, "a", i);
		force_tick(&fx.pg);
		ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	}
	fake_delay_ms[1] = 0;
	fake_delay_ms[5] = 100;
	fake_answer[4] = TP_OK;
	fake_answer[5] = TP_RETRY;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 100, NULL));
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(found);
	ck_assert_uint_eq(seq, 5);
	ck_assert(tx.has_held);
	ck_assert_uint_eq(tx.held.batch.seq, 5);
	ck_assert_uint_eq(tx.sent, 4);
	tp_transmitter_free(&tx);
	teardown(&fx);
}
END_TEST

/*
 * A run that reaches max_batches says that more may wait (its caller runs
 * again at once instead of waiting for its interval); one that reaches
 * the queue's end, or a refusal, does not.
 */
START_TEST(test_transmitter_again)
{
	fixture		fx;
	tp_transmitter tx;
	tp_transport_callbacks cb;
	int			lane_a,
				lane_b;
	uint64_t	seq = 0;
	bool		found = false;
	bool		again = false;

	two_lanes(&fx, "q_again", 4, &tx, &cb, &lane_a, &lane_b);
	memset(fake_delay_ms, 0, sizeof(fake_delay_ms));
	for (int i = 1; i <= 4; i++)
		fake_answer[i] = TP_OK;

	/* two of four: more may wait */
	fake_n = 0;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 2, &again));
	ck_assert(again);
	ck_assert_int_eq(fake_n, 2);
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(found);
	ck_assert_uint_eq(seq, 3);

	/* the third refused: held, not "again" */
	fake_n = 0;
	fake_answer[3] = TP_RETRY;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 2, &again));
	ck_assert(!again);
	ck_assert(tx.has_held);

	/* the rest, up to the queue's end within max_batches: not "again" */
	fake_answer[3] = TP_OK;
	tx.retry_at_ms = 0;
	ck_assert(tp_transmitter_run(&tx, &fx.pg, "src", 100, &again));
	ck_assert(!again);
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(!found);
	ck_assert_uint_eq(tx.sent, 4);
	tp_transmitter_free(&tx);
	teardown(&fx);
}
END_TEST

/* ------------------------------------------------------------- targets */

/*
 * Two targets, two filters: different batches, independent seqs; DDL
 * without a table goes to targets that select tables of its schema; a
 * target never receives its own changes back.
 */
START_TEST(test_targets_and_origin)
{
	fixture		fx;
	tp_pgsql	applier;
	tp_queued_batch qb;
	char		ids[256];
	char	   *data;

	setup(&fx, "q_targets", true);
	insert_row(&fx.pg, "a", 1); /* id 1: t1 */
	insert_row(&fx.pg, "b1", 2);	/* id 2: t1, t2 */
	insert_row(&fx.pg, "bx", 3);	/* id 3: t1 */
	event(&fx.pg, "c", "other", "b1", NULL, "{\"id\":4}", NULL);	/* id 4: none */
	event(&fx.pg, "ddl", "public", NULL, NULL, NULL, "{\"x\":1}");	/* 5: t1, t2 */
	event(&fx.pg, "ddl", "other", NULL, NULL, NULL, "{\"x\":2}");	/* 6: none */
	event(&fx.pg, "ddl", "public", "bx", NULL, NULL, "{\"x\":3}");	/* 7: t1 */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 2 3 5 7");
	take_batch(&fx, fx.t2, ids, sizeof(ids));
	ck_assert_str_eq(ids, "2 5");

	/* only t1 has news: t1's seq 2, none for t2 */
	insert_row(&fx.pg, "a", 8); /* id 8 */
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 100, 1 << 20), 1);
	ck_assert_int_eq(cut(&fx.pg, fx.t2, 100, 1 << 20), 0);
	data = next_data(&fx.pg, fx.t1, &qb);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(qb.batch.seq, 2);
	ck_assert_ptr_nonnull(strstr(data, "\"batch\":2}"));
	free(data);
	tp_queued_batch_free(&qb);
	ck_assert(tp_queue_ack(&fx.pg, "t1", 2));

	/* an applier for t1 writes with teleport.origin = t1 */
	connect_more(&fx, &applier);
	tp_sql_ok(applier.conn, "SET teleport.origin = 't1'");
	insert_row(&applier, "b2", 9);	/* id 9: origin t1 */
	tp_sql_ok(applier.conn, "SET teleport.origin = ''");
	insert_row(&applier, "b3", 10); /* id 10: origin here */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "10");
	data = next_data(&fx.pg, fx.t2, &qb);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(qb.batch.seq, 2);
	ck_assert_ptr_nonnull(strstr(data, "\"source\":{\"name\":\"t1\",\"schema\":\"public\","
								 "\"table\":\"b2\""));
	ck_assert_ptr_nonnull(strstr(data, "\"source\":{\"name\":\"src\",\"schema\":\"public\","
								 "\"table\":\"b3\""));
	free(data);
	tp_queued_batch_free(&qb);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.event_0"
							" WHERE origin IS NULL"), 9);
	tp_pgsql_close(&applier);
	teardown(&fx);
}
END_TEST

/*
 * The line of data whose event id is seq (a new string), or NULL.
 */
static char *
line_of(const char *data, int seq)
{
	char		key[32];
	const char *p;
	const char *start;
	const char *end;

	snprintf(key, sizeof(key), "\"seq\":%d,", seq);
	p = strstr(data, key);
	if (p == NULL)
		return NULL;
	start = p;
	while (start > data && start[-1] != '\n')
		start--;
	end = strchr(p, '\n');
	return strndup(start, (size_t) (end ? end - start : (long) strlen(start)));
}

/*
 * Assert that target's next batch, rebuilt on a new connection (the
 * fixture's, reconnected), is data byte for byte.
 */
static void
assert_rebuilt(fixture *fx, const tp_target_config *target, const char *data)
{
	tp_queued_batch qb;
	char	   *again;

	tp_pgsql_close(&fx->pg);
	connect_more(fx, &fx->pg);
	again = next_data(&fx->pg, target, &qb);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(again, data);
	free(again);
	tp_queued_batch_free(&qb);
}

/*
 * A DDL event of an object that changed name (filed under the new one, its
 * description before giving the old one) is selected by either name: as
 * it is for t1 (public.*: both), as a creation for t2 (public.b*, not
 * public.bx) when only the new name is its, as a table's drop when only
 * the old one is (not an index's); an event filed under another name than
 * its description's (an index's comment, under its table) is selected by
 * that name only and left as it is. A rebuild gives the same lines.
 */
START_TEST(test_renamed_across_filters)
{
	fixture		fx;
	tp_queued_batch qb;
	char		ids[256];
	char	   *data;
	char	   *line;

	setup(&fx, "q_renamed", true);
	/* 1: a1 -> b1, into t2's selection */
	event(&fx.pg, "ddl", "public", "b1", NULL, NULL,
		  "{\"type\":\"table\",\"oid\":1,\"before\":{\"schema\":\"public\",\"name\":\"a1\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"b1\"}}");
	/* 2: b2 -> c2, out of it */
	event(&fx.pg, "ddl", "public", "c2", NULL, NULL,
		  "{\"type\":\"table\",\"oid\":2,\"before\":{\"schema\":\"public\",\"name\":\"b2\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"c2\"}}");
	/* 3: the index of b2 -> c2: not t2's */
	event(&fx.pg, "ddl", "public", "c2", NULL, NULL,
		  "{\"type\":\"index\",\"oid\":3,\"before\":{\"schema\":\"public\",\"name\":\"i\",\"table\":\"b2\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"i\",\"table\":\"c2\"}}");
	/* 4: the index of a3 -> b3: created for t2 */
	event(&fx.pg, "ddl", "public", "b3", NULL, NULL,
		  "{\"type\":\"index\",\"oid\":4,\"before\":{\"schema\":\"public\",\"name\":\"j\",\"table\":\"a3\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"j\",\"table\":\"b3\"}}");
	/* 5: b4 -> b5, within it */
	event(&fx.pg, "ddl", "public", "b5", NULL, NULL,
		  "{\"type\":\"table\",\"oid\":5,\"before\":{\"schema\":\"public\",\"name\":\"b4\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"b5\"}}");
	/* 6: b6 -> bx, into t2's exclusion: out of its selection */
	event(&fx.pg, "ddl", "public", "bx", NULL, NULL,
		  "{\"type\":\"table\",\"oid\":6,\"before\":{\"schema\":\"public\",\"name\":\"b6\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"bx\"}}");
	/* 7: an index's comment, filed under its table b7: by that name only */
	event(&fx.pg, "ddl", "public", "b7", NULL, NULL,
		  "{\"type\":\"comment\",\"oid\":7,\"before\":{\"kind\":\"INDEX\",\"schema\":\"public\","
		  "\"name\":\"k_old\"},\"after\":{\"kind\":\"INDEX\",\"schema\":\"public\",\"name\":\"k\"}}");
	/* 8: a row, 9: a table moved from schema other into public.b9 */
	insert_row(&fx.pg, "b1", 8);
	event(&fx.pg, "ddl", "public", "b9", NULL, NULL,
		  "{\"type\":\"table\",\"oid\":9,\"before\":{\"schema\":\"other\",\"name\":\"b9\"},"
		  "\"after\":{\"schema\":\"public\",\"name\":\"b9\"}}");
	tick_and_cut(&fx);
	data = next_data(&fx.pg, fx.t1, &qb);
	ck_assert_ptr_nonnull(data);
	/* t1 selects both names (other.b9 is not t1's: a creation) */
	line = line_of(data, 2);
	ck_assert_ptr_nonnull(strstr(line, "\"ddl\":{\"type\":\"table\",\"oid\":2,\"before\":{"));
	free(line);
	line = line_of(data, 9);
	ck_assert_ptr_nonnull(strstr(line, "\"before\" : null, \"after\" : {\"schema\":\"public\""));
	free(line);
	seqs_of(data, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 2 3 4 5 6 7 8 9");
	free(data);
	tp_queued_batch_free(&qb);

	data = next_data(&fx.pg, fx.t2, &qb);
	ck_assert_ptr_nonnull(data);
	seqs_of(data, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 2 4 5 6 7 8 9");
	line = line_of(data, 1);
	ck_assert_ptr_nonnull(strstr(line, "\"before\" : null, \"after\" : {\"schema\":\"public\",\"name\":\"b1\"}"));
	free(line);
	line = line_of(data, 2);
	ck_assert_ptr_nonnull(strstr(line, "\"before\" : {\"schema\":\"public\",\"name\":\"b2\"}, \"after\" : null"));
	free(line);
	line = line_of(data, 4);
	ck_assert_ptr_nonnull(strstr(line, "\"type\" : \"index\""));
	ck_assert_ptr_nonnull(strstr(line, "\"before\" : null"));
	free(line);
	line = line_of(data, 6);
	ck_assert_ptr_nonnull(strstr(line, "\"after\" : null"));
	free(line);
	line = line_of(data, 5);
	ck_assert_ptr_nonnull(strstr(line, "\"ddl\":{\"type\":\"table\",\"oid\":5,\"before\":{"));
	free(line);
	line = line_of(data, 7);
	ck_assert_ptr_nonnull(strstr(line, "\"ddl\":{\"type\":\"comment\",\"oid\":7,\"before\":{"));
	free(line);
	tp_queued_batch_free(&qb);
	assert_rebuilt(&fx, fx.t2, data);
	free(data);
	teardown(&fx);
}
END_TEST

/* A table's move as its DDL event: from schema.name to schema2.name2. */
static void
move_table(tp_pgsql *pg, int oid, const char *schema, const char *name,
		   const char *schema2, const char *name2)
{
	char		ddl[256];

	snprintf(ddl, sizeof(ddl),
			 "{\"type\":\"table\",\"oid\":%d,\"before\":{\"schema\":\"%s\",\"name\":\"%s\"},"
			 "\"after\":{\"schema\":\"%s\",\"name\":\"%s\"}}", oid, schema, name, schema2, name2);
	event(pg, "ddl", schema2, name2, NULL, NULL, ddl);
}

/*
 * Target's next batch as its data (a new string), whose event ids must be
 * want (see seqs_of).
 */
static char *
next_data_of(fixture *fx, const tp_target_config *target, tp_queued_batch *qb,
			 const char *want)
{
	char		ids[256];
	char	   *data = next_data(&fx->pg, target, qb);

	ck_assert_ptr_nonnull(data);
	seqs_of(data, ids, sizeof(ids));
	ck_assert_str_eq(ids, want);
	return data;
}

/* Assert that the line of seq in data names schema.table. */
static void
assert_filed(const char *data, int seq, const char *schema, const char *table)
{
	char		want[128];
	char	   *line = line_of(data, seq);

	ck_assert_ptr_nonnull(line);
	snprintf(want, sizeof(want), "\"schema\":\"%s\",\"table\":\"%s\",", schema, table);
	ck_assert_msg(strstr(line, want) != NULL, "line %d: %s, not %s", seq, line, want);
	free(line);
}

/*
 * A row written before its table's move (a schema's rename holds no lock
 * on its tables) by a transaction that commits after the move, in a later
 * tick, is filed under the name the table had at that commit, following
 * every such move: out of a selection that took only the old name, as it
 * is where the new name is selected. A row of a new table under the old
 * name keeps it; a row in the move's own tick range keeps it too (it comes
 * before the move). A rebuild gives the same lines.
 */
START_TEST(test_straddling_move)
{
	fixture		fx;
	tp_pgsql	w;
	tp_queued_batch qb;
	char		ids[256];
	char	   *data;

	setup(&fx, "q_straddle", true);
	connect_more(&fx, &w);
	tp_sql_ok(w.conn, "BEGIN");
	insert_row(&w, "b1", 1);	/* id 1 */
	insert_row(&w, "b2", 2);	/* id 2 */
	move_table(&fx.pg, 1, "public", "b1", "other", "b1");	/* 3: out of both */
	move_table(&fx.pg, 2, "public", "b2", "public", "bx");	/* 4: out of t2 */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "3 4");
	take_batch(&fx, fx.t2, ids, sizeof(ids));
	ck_assert_str_eq(ids, "3 4");
	move_table(&fx.pg, 1, "other", "b1", "public", "b6");	/* 5: back in */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "5");
	take_batch(&fx, fx.t2, ids, sizeof(ids));
	ck_assert_str_eq(ids, "5");
	insert_row(&fx.pg, "b1", 6);	/* 6: a new public.b1 */
	/* 7 written before its table's move 8, both in this range: kept */
	insert_row(&w, "b7", 7);
	move_table(&fx.pg, 7, "public", "b7", "public", "b8");
	tp_sql_ok(w.conn, "COMMIT");
	tick_and_cut(&fx);

	data = next_data_of(&fx, fx.t1, &qb, "1 2 6 7 8");
	assert_filed(data, 1, "public", "b6");
	assert_filed(data, 2, "public", "bx");
	assert_filed(data, 6, "public", "b1");
	assert_filed(data, 7, "public", "b7");
	free(data);
	tp_queued_batch_free(&qb);

	data = next_data_of(&fx, fx.t2, &qb, "1 6 7 8");
	assert_filed(data, 1, "public", "b6");
	tp_queued_batch_free(&qb);
	assert_rebuilt(&fx, fx.t2, data);
	free(data);
	tp_pgsql_close(&w);
	teardown(&fx);
}
END_TEST

/* ------------------------------------------------------------ splitting */

/*
 * max_events splits a batch; a split inside a transaction flags the
 * earlier part partial; max_bytes splits too. The parts rebuild the same
 * after a restart (a new connection).
 */
START_TEST(test_split_and_rebuild)
{
	fixture		fx;
	tp_pgsql	again;
	uint32_t	flags[8];
	char	   *first[8];
	int			n = 0;

	setup(&fx, "q_split", true);
	tp_sql_ok(fx.pg.conn, "BEGIN");
	for (int i = 1; i <= 5; i++)
		insert_row(&fx.pg, "a", i); /* ids 1..5, one transaction */
	tp_sql_ok(fx.pg.conn, "COMMIT");
	tp_sql_ok(fx.pg.conn, "BEGIN");
	insert_row(&fx.pg, "a", 6); /* ids 6, 7 */
	insert_row(&fx.pg, "a", 7);
	tp_sql_ok(fx.pg.conn, "COMMIT");
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t1, 2, 1 << 20), 4);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT next_seq FROM teleport.target"
							" WHERE name = 't1'"), 5);

	/* read all four without acknowledging (ack later), then reconnect */
	for (uint64_t seq = 1; seq <= 4; seq++)
	{
		tp_queued_batch qb;

		first[n] = next_data(&fx.pg, fx.t1, &qb);
		ck_assert_ptr_nonnull(first[n]);
		ck_assert_uint_eq(qb.batch.seq, seq);
		flags[n++] = qb.batch.flags;
		/* rebuilt twice on this connection: the same bytes */
		{
			tp_queued_batch qb2;
			char	   *twice = next_data(&fx.pg, fx.t1, &qb2);

			ck_assert_str_eq(twice, first[n - 1]);
			free(twice);
			tp_queued_batch_free(&qb2);
		}
		ck_assert(tp_queue_ack(&fx.pg, "t1", seq));
		tp_queued_batch_free(&qb);
	}
	ck_assert_uint_eq(flags[0], TP_BATCH_PARTIAL);
	ck_assert_uint_eq(flags[1], TP_BATCH_PARTIAL);
	ck_assert_uint_eq(flags[2], TP_BATCH_PARTIAL);	/* 5 | 6, and 7 follows */
	ck_assert_uint_eq(flags[3], 0);

	/* undo the acks: a restart must rebuild every batch identically */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.batch SET acked_at = NULL");
	tp_pgsql_close(&fx.pg);
	connect_more(&fx, &again);

	/* the next seq, and each batch after a given one, built alike */
	{
		uint64_t	seq = 0;
		bool		found = false;

		ck_assert(tp_queue_next_seq(&again, "t1", &seq, &found));
		ck_assert(found);
		ck_assert_uint_eq(seq, 1);
		for (uint64_t after = 0; after <= 4; after++)
		{
			tp_queued_batch qb;

			ck_assert(tp_queue_batch_after(&again, "src", fx.t1, after, &qb, &found));
			ck_assert(found == (after < 4));
			if (!found)
				continue;
			ck_assert_uint_eq(qb.batch.seq, after + 1);
			ck_assert_uint_eq(qb.batch.data_len, strlen(first[after]));
			ck_assert(memcmp(qb.batch.data, first[after], qb.batch.data_len) == 0);
			ck_assert_uint_eq(qb.batch.flags, flags[after]);
			tp_queued_batch_free(&qb);
		}
	}
	for (int i = 0; i < n; i++)
	{
		tp_queued_batch qb;
		char	   *data = next_data(&again, fx.t1, &qb);

		ck_assert_ptr_nonnull(data);
		ck_assert_str_eq(data, first[i]);
		ck_assert_uint_eq(qb.batch.flags, flags[i]);
		ck_assert(tp_queue_ack(&again, "t1", qb.batch.seq));
		free(data);
		tp_queued_batch_free(&qb);
		free(first[i]);
	}

	/* max_bytes: every event alone */
	for (int i = 0; i < 3; i++)
		insert_row(&again, "a", 10 + i);
	force_tick(&again);
	ck_assert_int_eq(cut(&again, fx.t1, 100, 1), 3);
	fx.pg = again;
	teardown(&fx);
}
END_TEST

/* --------------------------------------------------------------- vacuum */

/* The state of event table nr and its row count, e.g. "retired 3". */
static char *
table_state(tp_pgsql *pg, int nr)
{
	char		sql[256];

	snprintf(sql, sizeof(sql),
			 "SELECT state || ' ' || (SELECT count(*) FROM teleport.event_%d)"
			 " FROM teleport.event_table WHERE nr = %d", nr, nr);
	return tp_sql_value(pg->conn, sql);
}

/* Assert the state of event table nr. */
#define assert_table(pg, nr, expected) \
	do { \
		char	   *s_ = table_state((pg), (nr)); \
		ck_assert_str_eq(s_, (expected)); \
		free(s_); \
	} while (0)

/*
 * Rotation: a table is switched out, and emptied only once every target
 * has passed it: here t2 lags behind t1. Acknowledged batches and unneeded
 * ticks go; a lagging target's batch still rebuilds from a switched-out
 * table.
 */
START_TEST(test_rotation)
{
	fixture		fx;
	char		ids[256];
	tp_queued_batch qb;
	char	   *before;
	char	   *after;

	setup(&fx, "q_rotation", true);
	insert_row(&fx.pg, "b1", 1);	/* ids 1, 2 in event_0 */
	insert_row(&fx.pg, "b1", 2);
	tick_and_cut(&fx);
	before = next_data(&fx.pg, fx.t2, &qb);
	ck_assert_ptr_nonnull(before);
	tp_queued_batch_free(&qb);

	/* nothing to switch when rotation is not due */
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 3600000));
	assert_table(&fx.pg, 0, "current 2");
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "retired 2");
	assert_table(&fx.pg, 1, "current 0");
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT last_value FROM teleport.current_event_table"), 1);

	/* t1 passes event_0 and acknowledges; t2 does not */
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 2");
	insert_row(&fx.pg, "b1", 3);	/* id 3 in event_1 */
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "3");
	force_tick(&fx.pg);
	cut(&fx.pg, fx.t1, 100, 1 << 20);
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "retired 2");	/* t2 still needs it */
	assert_table(&fx.pg, 1, "retired 1");
	assert_table(&fx.pg, 2, "current 0");
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "retired 2");
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.batch"
							" WHERE target = 't1'"), 0);

	/* t2's batch still rebuilds from the switched-out table */
	after = next_data(&fx.pg, fx.t2, &qb);
	ck_assert_ptr_nonnull(after);
	ck_assert_str_eq(after, before);
	free(after);

	/* t2 acknowledges both batches and catches up: event_0 is emptied */
	ck_assert(tp_queue_ack(&fx.pg, "t2", qb.batch.seq));
	tp_queued_batch_free(&qb);
	take_batch(&fx, fx.t2, ids, sizeof(ids));
	ck_assert_str_eq(ids, "3");
	force_tick(&fx.pg);
	cut(&fx.pg, fx.t1, 100, 1 << 20);
	cut(&fx.pg, fx.t2, 100, 1 << 20);
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "free 0");
	assert_table(&fx.pg, 1, "free 0");
	assert_table(&fx.pg, 2, "current 0");
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.batch"), 0);
	/* only the ticks still needed: the cursors' (both at the latest) */
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM teleport.tick"), 1);

	/* writers now go to event_2, then on to event_0 again */
	insert_row(&fx.pg, "b1", 4);
	assert_table(&fx.pg, 2, "current 1");
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "current 0");
	insert_row(&fx.pg, "b1", 5);
	assert_table(&fx.pg, 0, "current 1");
	tick_and_cut(&fx);
	take_batch(&fx, fx.t2, ids, sizeof(ids));
	ck_assert_str_eq(ids, "4 5");
	free(before);
	teardown(&fx);
}
END_TEST

/* Row callback: the first column as an integer into *(long long *) arg. */
static bool
int_row(void *arg, const PGresult *res, int row)
{
	*(long long *) arg = atoll(PQgetvalue(res, row, 0));
	return true;
}

/*
 * tp_pgsql_query_prepared: a statement is prepared once per connection
 * and run with each call's parameters; one that fails to prepare is not
 * taken as prepared; past TP_PGSQL_MAX_PREPARED names statements run
 * unprepared, with the same results; a new connection prepares again.
 * And tp_pgsql_result: the result, or NULL with the server's message.
 */
START_TEST(test_prepared)
{
	fixture		fx;
	long long	v = 0;
	const char *p[1];
	static const char *const names[TP_PGSQL_MAX_PREPARED + 1] = {
		"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"
	};
	const char *count = "SELECT count(*) FROM pg_catalog.pg_prepared_statements";

	setup(&fx, "q_prepared", false);
	p[0] = "20";
	ck_assert(tp_pgsql_query_prepared(&fx.pg, "tp_twice", "SELECT 2 * $1::int",
									  1, p, int_row, &v));
	ck_assert_int_eq(v, 40);
	p[0] = "21";
	ck_assert(tp_pgsql_query_prepared(&fx.pg, "tp_twice", "SELECT 2 * $1::int",
									  1, p, int_row, &v));
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, count), 1);

	/* a statement the server refuses: an error, and not taken as prepared */
	ck_assert(!tp_pgsql_query_prepared(&fx.pg, "tp_bad", "SELEC 1", 0, NULL, NULL, NULL));
	ck_assert_int_eq(fx.pg.n_prepared, 1);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, count), 1);
	/* an execution that fails leaves the statement prepared and usable */
	p[0] = "x";
	ck_assert(!tp_pgsql_query_prepared(&fx.pg, "tp_twice", "SELECT 2 * $1::int",
									   1, p, int_row, &v));
	p[0] = "5";
	ck_assert(tp_pgsql_query_prepared(&fx.pg, "tp_twice", "SELECT 2 * $1::int",
									  1, p, int_row, &v));
	ck_assert_int_eq(v, 10);

	/* more names than a connection keeps: the rest run unprepared */
	for (int i = 0; i < TP_PGSQL_MAX_PREPARED + 1; i++)
	{
		char		n[16];

		snprintf(n, sizeof(n), "%d", i);
		p[0] = n;
		ck_assert(tp_pgsql_query_prepared(&fx.pg, names[i], "SELECT $1::int + 1",
										  1, p, int_row, &v));
		ck_assert_int_eq(v, i + 1);
	}
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, count), TP_PGSQL_MAX_PREPARED);

	/* tp_pgsql_result: the result kept, or the server's reason */
	p[0] = "5";
	{
		char		reason[256] = "";
		PGresult   *res = tp_pgsql_result(&fx.pg, "SELECT $1::int * 3", 1, p, reason,
										  sizeof(reason));

		ck_assert_ptr_nonnull(res);
		ck_assert_str_eq(PQgetvalue(res, 0, 0), "15");
		PQclear(res);
		p[0] = "x";
		ck_assert_ptr_null(tp_pgsql_result(&fx.pg, "SELECT $1::int * 3", 1, p, reason,
										   sizeof(reason)));
		/* the server's message, without "ERROR:" (a CONTEXT line may follow) */
		ck_assert_msg(strncmp(reason, "invalid input syntax for type integer: \"x\"",
							  strlen("invalid input syntax for type integer: \"x\"")) == 0,
					  "reason: %s", reason);
	}

	/* a new connection prepares again */
	tp_pgsql_close(&fx.pg);
	ck_assert(tp_pgsql_connect(&fx.pg, fx.conninfo, "the queue test"));
	p[0] = "4";
	ck_assert(tp_pgsql_query_prepared(&fx.pg, "tp_twice", "SELECT 2 * $1::int",
									  1, p, int_row, &v));
	ck_assert_int_eq(v, 8);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, count), 1);
	teardown(&fx);
}
END_TEST

/* What test_stream saw: the rows in order, each alone in its result. */
typedef struct stream_seen
{
	long long	sum;
	int			rows;
	int			stop_at;		/* stop at this row (0: never) */
	bool		alone;			/* every result held one row */
} stream_seen;

/* Row callback of test_stream. */
static bool
stream_row(void *arg, const PGresult *res, int row)
{
	stream_seen *seen = arg;

	seen->alone = seen->alone && PQntuples(res) == 1 && row == 0;
	seen->rows++;
	seen->sum = seen->sum * 10 + atoll(PQgetvalue(res, row, 0));
	return seen->rows != seen->stop_at;
}

/*
 * tp_pgsql_stream_prepared: the rows one result at a time, in order;
 * stopped by the callback, or failing after some rows were passed, it is
 * false and the connection is usable at once; prepared or not (past
 * TP_PGSQL_MAX_PREPARED names), the same rows.
 */
START_TEST(test_stream)
{
	fixture		fx;
	const char *p[1] = {"5"};
	const char *sql = "SELECT i FROM generate_series(1, $1::int) i ORDER BY i";
	const char *failing = "SELECT 10 / (3 - i) FROM generate_series(1, $1::int) i";
	stream_seen seen = {0, 0, 0, true};
	long long	v = 0;

	setup(&fx, "q_stream", false);
	ck_assert(tp_pgsql_stream_prepared(&fx.pg, "tp_stream", sql, 1, p, stream_row, &seen));
	ck_assert_int_eq(seen.rows, 5);
	ck_assert_int_eq(seen.sum, 12345);
	ck_assert(seen.alone);

	/* the callback stops it at the second row: the rest are dropped */
	memset(&seen, 0, sizeof(seen));
	seen.alone = true;
	seen.stop_at = 2;
	ck_assert(!tp_pgsql_stream_prepared(&fx.pg, "tp_stream", sql, 1, p, stream_row, &seen));
	ck_assert_int_eq(seen.rows, 2);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT 7"), 7);

	/* a division by zero at the third row: two rows passed, then false */
	memset(&seen, 0, sizeof(seen));
	seen.alone = true;
	ck_assert(!tp_pgsql_stream_prepared(&fx.pg, "tp_stream_fail", failing, 1, p,
										stream_row, &seen));
	ck_assert_int_eq(seen.rows, 2);
	ck_assert_int_eq(seen.sum, 5 * 10 + 10);
	ck_assert(tp_pgsql_query(&fx.pg, "SELECT 8", 0, NULL, int_row, &v));
	ck_assert_int_eq(v, 8);
	ck_assert_int_eq(PQtransactionStatus(fx.pg.conn), PQTRANS_IDLE);

	/* a statement the server refuses to prepare */
	ck_assert(!tp_pgsql_stream_prepared(&fx.pg, "tp_stream_bad", "SELEC 1", 0, NULL,
										stream_row, &seen));

	/* no room for another name: run unprepared, same rows */
	for (int i = fx.pg.n_prepared; i < TP_PGSQL_MAX_PREPARED; i++)
	{
		static const char *const names[TP_PGSQL_MAX_PREPARED] = {
			"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"
		};

		ck_assert(tp_pgsql_query_prepared(&fx.pg, names[i], "SELECT 1", 0, NULL, NULL, NULL));
	}
	ck_assert_int_eq(fx.pg.n_prepared, TP_PGSQL_MAX_PREPARED);
	memset(&seen, 0, sizeof(seen));
	seen.alone = true;
	ck_assert(tp_pgsql_stream_prepared(&fx.pg, "tp_stream_other", sql, 1, p,
									   stream_row, &seen));
	ck_assert_int_eq(seen.sum, 12345);
	ck_assert(seen.alone);
	ck_assert_int_eq(tp_sql_int(fx.pg.conn,
								"SELECT count(*) FROM pg_catalog.pg_prepared_statements"),
					 TP_PGSQL_MAX_PREPARED);
	teardown(&fx);
}
END_TEST

/* Row callback: copy the first column's text into arg (64 bytes). */
static bool
text_row(void *arg, const PGresult *res, int row)
{
	snprintf(arg, 64, "%s", PQgetvalue(res, row, 0));
	return true;
}

/*
 * tp_pgsql_query_sized: a parameter given by its length is sent as it is
 * (no NUL needed: the bytes after it are not sent), checked by the server
 * as text; the others are text parameters as usual.
 */
START_TEST(test_sized)
{
	fixture		fx;
	char		buf[6] = {'a', 'b', 'c', 'X', 'Y', 'Z'};	/* no NUL */
	const char *p[2] = {buf, "-"};
	int			lengths[2] = {3, -1};
	char		out[64] = "";

	setup(&fx, "q_sized", false);
	ck_assert(tp_pgsql_query_sized(&fx.pg, "SELECT $1::text || $2::text", 2, p, lengths,
								   text_row, out));
	ck_assert_str_eq(out, "abc-");
	/* an empty value is not SQL NULL */
	p[0] = "";
	lengths[0] = 0;
	ck_assert(tp_pgsql_query_sized(&fx.pg, "SELECT ($1::text IS NOT NULL)::text || $2::text",
								   2, p, lengths, text_row, out));
	ck_assert_str_eq(out, "true-");
	/* bytes that are not UTF-8 are refused by the server */
	buf[0] = (char) 0xff;
	p[0] = buf;
	lengths[0] = 1;
	ck_assert(!tp_pgsql_query_sized(&fx.pg, "SELECT $1::text || $2::text", 2, p, lengths,
									text_row, out));
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT 9"), 9);
	teardown(&fx);
}
END_TEST

/*
 * tp_pgsql_pipeline: statements run in order, each seeing what the ones
 * before it did, every result handed back; after a failure the rest do
 * not run, their results are NULL, and the connection is usable once the
 * caller rolled back.
 */
START_TEST(test_pipeline)
{
	fixture		fx;
	PGresult   *res[5];

	setup(&fx, "q_pipeline", false);
	{
		const char *p[1] = {"21"};
		const tp_pgsql_stmt ok[5] = {
			{"BEGIN", 0, NULL},
			{"CREATE TEMP TABLE pipe_t (a int)", 0, NULL},
			{"INSERT INTO pipe_t VALUES ($1::int), ($1::int * 2)", 1, p},
			{"SELECT sum(a) FROM pipe_t", 0, NULL},
			{"COMMIT", 0, NULL},
		};

		ck_assert(tp_pgsql_pipeline(&fx.pg, ok, 5, res));
		for (int i = 0; i < 5; i++)
			ck_assert_ptr_nonnull(res[i]);
		ck_assert_str_eq(PQgetvalue(res[3], 0, 0), "63");
		for (int i = 0; i < 5; i++)
			PQclear(res[i]);
		ck_assert_int_eq(PQtransactionStatus(fx.pg.conn), PQTRANS_IDLE);
	}
	{
		const char *bad[1] = {"x"};
		const tp_pgsql_stmt failing[4] = {
			{"BEGIN", 0, NULL},
			{"INSERT INTO pipe_t VALUES (1)", 0, NULL},
			{"INSERT INTO pipe_t VALUES ($1::int)", 1, bad},
			{"INSERT INTO pipe_t VALUES (2)", 0, NULL},
		};

		ck_assert(!tp_pgsql_pipeline(&fx.pg, failing, 4, res));
		ck_assert_ptr_nonnull(res[0]);
		ck_assert_ptr_nonnull(res[1]);
		ck_assert_ptr_null(res[2]);
		ck_assert_ptr_null(res[3]);
		for (int i = 0; i < 4; i++)
			PQclear(res[i]);
		ck_assert_int_eq(PQtransactionStatus(fx.pg.conn), PQTRANS_INERROR);
		ck_assert(tp_pgsql_exec(&fx.pg, "ROLLBACK"));
	}
	/* nothing of the failed one stayed; plain queries work again */
	ck_assert_int_eq(tp_sql_int(fx.pg.conn, "SELECT count(*) FROM pipe_t"), 2);
	teardown(&fx);
}
END_TEST

/*
 * A REPEATABLE READ transaction whose snapshot predates a switch still
 * writes into the new current table (its number is read from a sequence,
 * outside snapshots), so the old table can be emptied under it.
 */
START_TEST(test_switch_under_old_snapshot)
{
	fixture		fx;
	tp_pgsql	rr;
	char		ids[256];

	setup(&fx, "q_switch_rr", true);
	connect_more(&fx, &rr);
	insert_row(&fx.pg, "a", 1);
	tp_sql_ok(rr.conn, "BEGIN ISOLATION LEVEL REPEATABLE READ");
	tp_sql_ok(rr.conn, "SELECT count(*) FROM teleport.event_table");
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 1, "current 0");
	insert_row(&rr, "a", 2);
	assert_table(&fx.pg, 0, "retired 1");
	tp_sql_ok(rr.conn, "COMMIT");
	assert_table(&fx.pg, 1, "current 1");
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert_str_eq(ids, "1 2");
	tp_pgsql_close(&rr);
	teardown(&fx);
}
END_TEST

/*
 * Retention: a target whose batch waits too long is marked as needing a
 * resync, gets no more batches, and no longer holds back the cleanup.
 */
START_TEST(test_retention)
{
	fixture		fx;
	tp_queue_backlog bl;
	tp_queued_batch qb;
	char		ids[256];
	bool		found = true;
	uint64_t	seq = 0;

	setup(&fx, "q_retention", true);
	insert_row(&fx.pg, "b1", 1);
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert(tp_queue_backlog_of(&fx.pg, "t2", &bl));
	ck_assert_int_eq(bl.batches, 1);
	ck_assert(!bl.needs_resync);
	ck_assert(tp_queue_next_seq(&fx.pg, "t2", &seq, &found));
	ck_assert(found);
	ck_assert_uint_eq(seq, 1);
	ck_assert(tp_queue_next_seq(&fx.pg, "t1", &seq, &found));
	ck_assert(!found);
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));	/* switch to event_1 */
	ck_assert(tp_queue_backlog_of(&fx.pg, "t2", &bl));
	ck_assert(!bl.needs_resync);
	assert_table(&fx.pg, 0, "retired 1");

	tp_nap_ms(1100);
	ck_assert_int_ge(tp_sql_int(fx.pg.conn, "SELECT 1"), 1);
	force_tick(&fx.pg);
	cut(&fx.pg, fx.t1, 100, 1 << 20);
	ck_assert(tp_queue_vacuum_with(&fx.pg, 1, 0));
	ck_assert(tp_queue_backlog_of(&fx.pg, "t2", &bl));
	ck_assert(bl.needs_resync);
	ck_assert_int_ge(bl.oldest_age_ms, 1000);
	ck_assert(tp_queue_backlog_of(&fx.pg, "t1", &bl));
	ck_assert(!bl.needs_resync);
	ck_assert_int_eq(bl.batches, 0);
	ck_assert_int_eq(bl.oldest_age_ms, 0);
	ck_assert(tp_queue_next_batch(&fx.pg, "src", fx.t2, &qb, &found));
	ck_assert(!found);
	/* a batch the transmitter kept for t2 is no longer its next one */
	ck_assert(tp_queue_next_seq(&fx.pg, "t2", &seq, &found));
	ck_assert(!found);
	insert_row(&fx.pg, "b1", 2);
	force_tick(&fx.pg);
	ck_assert_int_eq(cut(&fx.pg, fx.t2, 100, 1 << 20), 0);
	/* t2 no longer pins event_0 */
	assert_table(&fx.pg, 0, "free 0");
	teardown(&fx);
}
END_TEST

/*
 * TRUNCATE waits at most its lock_timeout: a session holding a lock on the
 * table makes vacuum give up quickly, and a later vacuum succeeds.
 */
START_TEST(test_truncate_lock_timeout)
{
	fixture		fx;
	tp_pgsql	reader;
	char		ids[256];
	struct timespec t0,
				t1;
	double		took;

	setup(&fx, "q_locktimeout", true);
	insert_row(&fx.pg, "a", 1);
	tick_and_cut(&fx);
	take_batch(&fx, fx.t1, ids, sizeof(ids));
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));	/* event_0 retired */
	force_tick(&fx.pg);
	cut(&fx.pg, fx.t1, 100, 1 << 20);
	cut(&fx.pg, fx.t2, 100, 1 << 20);

	connect_more(&fx, &reader);
	tp_sql_ok(reader.conn, "BEGIN");
	tp_sql_ok(reader.conn, "LOCK TABLE teleport.event_0 IN ACCESS SHARE MODE");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(took < 4.0, "vacuum waited %.1f s for the lock", took);
	assert_table(&fx.pg, 0, "retired 1");
	/* writers were not held up meanwhile */
	insert_row(&fx.pg, "a", 2);

	tp_sql_ok(reader.conn, "COMMIT");
	ck_assert(tp_queue_vacuum_with(&fx.pg, 3600, 0));
	assert_table(&fx.pg, 0, "free 0");
	tp_pgsql_close(&reader);
	teardown(&fx);
}
END_TEST

/* The suite. */
static Suite *
queue_suite(void)
{
	Suite	   *s = suite_create("queue");
	TCase	   *tc = tcase_create("queue");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_install_idempotent);
	tcase_add_test(tc, test_transmitter_in_flight);
	tcase_add_test(tc, test_transmitter_again);
	tcase_add_test(tc, test_install_concurrent);
	tcase_add_test(tc, test_install_private);
	tcase_add_test(tc, test_upgrade_from_v1);
	tcase_add_test(tc, test_exact_lines);
	tcase_add_test(tc, test_lines_match_sql);
	tcase_add_test(tc, test_long_transaction);
	tcase_add_test(tc, test_across_ticks);
	tcase_add_test(tc, test_targets_and_origin);
	tcase_add_test(tc, test_renamed_across_filters);
	tcase_add_test(tc, test_straddling_move);
	tcase_add_test(tc, test_split_and_rebuild);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_switch_under_old_snapshot);
	tcase_add_test(tc, test_retention);
	tcase_add_test(tc, test_truncate_lock_timeout);
	tcase_add_test(tc, test_prepared);
	tcase_add_test(tc, test_pipeline);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_sized);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(queue_suite());
}
