/*
 * queue.c
 *     teleport's queue on a source database; see queue.h, and docs/queue.md
 *     for the SQL contract and the reasoning behind each rule.
 *
 * In short: events go into one of three tables (teleport.event_0..2); the
 * one in use is the value of the sequence teleport.current_event_table,
 * read without regard to snapshots so that no transaction can write into a
 * table that was switched out long ago. A single ticker records
 * txid_current_snapshot() in teleport.tick. Cutting a target's batches
 * selects, through the txid index, the events of the transactions that
 * became visible between the target's cursor tick and the latest tick, and
 * stores each batch as a range of event ids within that selection, so its
 * data can be rebuilt identically. Vacuum forgets acknowledged batches and
 * unneeded ticks, switches the current table, and TRUNCATEs a switched-out
 * table once no target can need it.
 *
 * Every query goes through pgsql.c, which logs its failures; this file
 * logs what it decides.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "batch_lines.h"
#include "clock.h"
#include "log.h"
#include "queue.h"
#include "strbuf.h"
#include "xalloc.h"

#define COMPONENT "queue"

/* Advisory lock keys, as (classid, objid): classid is "tele" in ASCII. */
#define LOCK_CLASS "1952803941"
#define LOCK_INSTALL "1"
#define LOCK_TICK "2"
#define LOCK_VACUUM "3"
/* held shared by every running source, exclusively by --uninstall */
#define LOCK_RUNNING "4"

/* lock_timeout of schema changes, and of TRUNCATE in vacuum */
#define INSTALL_LOCK_TIMEOUT "5s"
#define TRUNCATE_LOCK_TIMEOUT "1s"

/* Waiting for another instance that installs: attempts and backoff. */
#define INSTALL_ATTEMPTS 40
#define INSTALL_BACKOFF_MIN_MS 20
#define INSTALL_BACKOFF_MAX_MS 1000

/* Rows fetched at a time when cutting batches. */
#define CUT_FETCH "FETCH FORWARD 10000 FROM tp_cut"

/* Statements run for every batch sent, prepared once per connection. */
#define BATCH_AFTER "tp_batch_after"
#define BATCH_DATA "tp_batch_data"
#define BATCH_ACK "tp_batch_ack"

/* What each change line adds to its row images, for max_bytes. */
#define LINE_OVERHEAD_BYTES 128

/* The number of event tables. */
#define N_EVENT_TABLES 3

/*
 * The schema, by version: steps[v - 1] takes an installed version v - 1 to
 * v (version 0: nothing installed). Install runs the steps above the
 * recorded version, in one transaction, and records the new version. A
 * later release appends a step and bumps TP_QUEUE_SCHEMA_VERSION; a step
 * that alters existing event tables must take their locks with the
 * transaction's lock_timeout, which install sets.
 */
static const char *const schema_v1[] = {
	"CREATE SCHEMA IF NOT EXISTS teleport",
	"REVOKE ALL ON SCHEMA teleport FROM PUBLIC",
	"CREATE TABLE IF NOT EXISTS teleport.schema_version ("
	" component text PRIMARY KEY,"
	" version integer NOT NULL,"
	" installed_at timestamptz NOT NULL DEFAULT clock_timestamp())",
	"CREATE SEQUENCE IF NOT EXISTS teleport.event_id_seq CACHE 1",
	/* the table in use; read without snapshot by insert_event */
	"CREATE SEQUENCE IF NOT EXISTS teleport.current_event_table"
	" MINVALUE 0 MAXVALUE 2 START WITH 0 CACHE 1 NO CYCLE",
	"CREATE TABLE IF NOT EXISTS teleport.event_0 ("
	" id bigint NOT NULL,"
	" txid bigint NOT NULL,"
	/* no CHECK on op: rebuilt for every row, it cost 14% of capture */
	" op text NOT NULL,"
	" schema_name text NOT NULL,"
	" table_name text,"
	" before json,"
	" after json,"
	" ddl json,"
	" origin text)",
	"CREATE TABLE IF NOT EXISTS teleport.event_1"
	" (LIKE teleport.event_0 INCLUDING CONSTRAINTS)",
	"CREATE TABLE IF NOT EXISTS teleport.event_2"
	" (LIKE teleport.event_0 INCLUDING CONSTRAINTS)",
	"CREATE INDEX IF NOT EXISTS event_0_txid ON teleport.event_0 (txid, id)",
	"CREATE INDEX IF NOT EXISTS event_1_txid ON teleport.event_1 (txid, id)",
	"CREATE INDEX IF NOT EXISTS event_2_txid ON teleport.event_2 (txid, id)",
	"CREATE INDEX IF NOT EXISTS event_0_id ON teleport.event_0 (id)",
	"CREATE INDEX IF NOT EXISTS event_1_id ON teleport.event_1 (id)",
	"CREATE INDEX IF NOT EXISTS event_2_id ON teleport.event_2 (id)",
	"CREATE TABLE IF NOT EXISTS teleport.event_table ("
	" nr integer PRIMARY KEY CHECK (nr BETWEEN 0 AND 2),"
	" state text NOT NULL CHECK (state IN ('current', 'retired', 'free')),"
	" switched_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" switch_xmax bigint)",
	"INSERT INTO teleport.event_table (nr, state)"
	" VALUES (0, 'current'), (1, 'free'), (2, 'free')"
	" ON CONFLICT (nr) DO NOTHING",
	"CREATE TABLE IF NOT EXISTS teleport.tick ("
	" id bigserial PRIMARY KEY,"
	" snapshot txid_snapshot NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" last_event_id bigint NOT NULL)",
	"CREATE TABLE IF NOT EXISTS teleport.target ("
	" name text PRIMARY KEY,"
	" cursor_tick bigint NOT NULL,"
	" next_seq bigint NOT NULL DEFAULT 1,"
	" needs_resync boolean NOT NULL DEFAULT false,"
	" resync_reason text,"
	" registered_at timestamptz NOT NULL DEFAULT clock_timestamp())",
	"CREATE TABLE IF NOT EXISTS teleport.batch ("
	" target text NOT NULL,"
	" seq bigint NOT NULL,"
	" tick_from bigint NOT NULL,"
	" tick_to bigint NOT NULL,"
	" first_event_id bigint NOT NULL,"
	" last_event_id bigint NOT NULL,"
	" n_events bigint NOT NULL,"
	" bytes bigint NOT NULL,"
	" partial boolean NOT NULL,"
	" include_re text[] NOT NULL,"
	" exclude_re text[] NOT NULL,"
	" schema_include_re text[] NOT NULL,"
	" schema_exclude_re text[] NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" acked_at timestamptz,"
	" PRIMARY KEY (target, seq))",
	"CREATE INDEX IF NOT EXISTS batch_unacked ON teleport.batch (target, seq)"
	" WHERE acked_at IS NULL",
	/*
	 * txid_current() first, then the current table: a writer that still
	 * reads a table number from before a switch got its txid before the
	 * switch, so it is below the xmax recorded after the switch.
	 */
	"CREATE OR REPLACE FUNCTION teleport.insert_event(op text,"
	" schema_name text, table_name text, before json, after json, ddl json)"
	" RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
	" SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  v_txid bigint := txid_current();\n"
	"  v_table bigint;\n"
	"  v_origin text := nullif(current_setting('teleport.origin', true), '');\n"
	"BEGIN\n"
	/* a function call, not a scan: a cheap read (NULL before the first switch) */
	"  v_table := coalesce(pg_sequence_last_value("
	"'teleport.current_event_table'::regclass), 0);\n"
	"  IF v_table = 0 THEN\n"
	"    INSERT INTO teleport.event_0 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin);\n"
	"  ELSIF v_table = 1 THEN\n"
	"    INSERT INTO teleport.event_1 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin);\n"
	"  ELSE\n"
	"    INSERT INTO teleport.event_2 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin);\n"
	"  END IF;\n"
	"END\n"
	"$f$",
	/* TRUNCATE under the caller's lock_timeout; false when it expired */
	"CREATE OR REPLACE FUNCTION teleport.truncate_event_table(nr integer)"
	" RETURNS boolean LANGUAGE plpgsql"
	" SET search_path = pg_catalog, pg_temp AS $f$\n"
	"BEGIN\n"
	"  IF nr = 0 THEN\n"
	"    TRUNCATE teleport.event_0;\n"
	"  ELSIF nr = 1 THEN\n"
	"    TRUNCATE teleport.event_1;\n"
	"  ELSIF nr = 2 THEN\n"
	"    TRUNCATE teleport.event_2;\n"
	"  ELSE\n"
	"    RAISE EXCEPTION 'no event table %', nr;\n"
	"  END IF;\n"
	"  RETURN true;\n"
	"EXCEPTION WHEN lock_not_available THEN\n"
	"  RETURN false;\n"
	"END\n"
	"$f$",
	"REVOKE ALL ON ALL TABLES IN SCHEMA teleport FROM PUBLIC",
	"REVOKE ALL ON ALL SEQUENCES IN SCHEMA teleport FROM PUBLIC",
	"REVOKE ALL ON FUNCTION teleport.insert_event(text, text, text, json,"
	" json, json) FROM PUBLIC",
	"REVOKE ALL ON FUNCTION teleport.truncate_event_table(integer) FROM PUBLIC",
	NULL
};

/*
 * Version 2: each event records whether its row images are in text mode
 * (every value its PostgreSQL text form as a JSON string; see
 * teleport/batch.h) and, for an UPDATE, the number of its statement in its
 * transaction (source.stmt); insert_event takes them as a seventh and an
 * eighth argument, false and NULL by default, so that callers of version 1
 * keep working. The columns have no default: adding them rewrites
 * nothing, and NULL reads as false and as not known.
 */
static const char *const schema_v2[] = {
	"ALTER TABLE teleport.event_0 ADD COLUMN IF NOT EXISTS text_values boolean",
	"ALTER TABLE teleport.event_1 ADD COLUMN IF NOT EXISTS text_values boolean",
	"ALTER TABLE teleport.event_2 ADD COLUMN IF NOT EXISTS text_values boolean",
	"ALTER TABLE teleport.event_0 ADD COLUMN IF NOT EXISTS stmt bigint",
	"ALTER TABLE teleport.event_1 ADD COLUMN IF NOT EXISTS stmt bigint",
	"ALTER TABLE teleport.event_2 ADD COLUMN IF NOT EXISTS stmt bigint",
	"DROP FUNCTION IF EXISTS teleport.insert_event(text, text, text, json, json, json)",
	"CREATE OR REPLACE FUNCTION teleport.insert_event(op text,"
	" schema_name text, table_name text, before json, after json, ddl json,"
	" text_values boolean DEFAULT false, stmt bigint DEFAULT NULL)"
	" RETURNS void LANGUAGE plpgsql SECURITY DEFINER"
	" SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  v_txid bigint := txid_current();\n"
	"  v_table bigint;\n"
	"  v_origin text := nullif(current_setting('teleport.origin', true), '');\n"
	"BEGIN\n"
	"  v_table := coalesce(pg_sequence_last_value("
	"'teleport.current_event_table'::regclass), 0);\n"
	"  IF v_table = 0 THEN\n"
	"    INSERT INTO teleport.event_0 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin, text_values, stmt)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin, insert_event.text_values,"
	" insert_event.stmt);\n"
	"  ELSIF v_table = 1 THEN\n"
	"    INSERT INTO teleport.event_1 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin, text_values, stmt)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin, insert_event.text_values,"
	" insert_event.stmt);\n"
	"  ELSE\n"
	"    INSERT INTO teleport.event_2 (id, txid, op, schema_name, table_name,"
	" before, after, ddl, origin, text_values, stmt)\n"
	"    VALUES (nextval('teleport.event_id_seq'), v_txid, insert_event.op,"
	" insert_event.schema_name, insert_event.table_name, insert_event.before,"
	" insert_event.after, insert_event.ddl, v_origin, insert_event.text_values,"
	" insert_event.stmt);\n"
	"  END IF;\n"
	"END\n"
	"$f$",
	"REVOKE ALL ON FUNCTION teleport.insert_event(text, text, text, json,"
	" json, json, boolean, bigint) FROM PUBLIC",
	NULL
};

/*
 * Version 3: initial loads (core/load.c). A target with a load running
 * (target.loading) gets no batches cut meanwhile; the events of the
 * transactions a load's snapshot sees are left out of the batches numbered
 * from its first_seq on (its tables' rows and every schema change), until
 * vacuum finds the target's cursor past the snapshot (skip false).
 */
static const char *const schema_v3[] = {
	"ALTER TABLE teleport.target ADD COLUMN IF NOT EXISTS loading bigint",
	"CREATE TABLE IF NOT EXISTS teleport.load ("
	" id bigserial PRIMARY KEY,"
	" target text NOT NULL,"
	" state text NOT NULL CHECK (state IN ('starting', 'copying', 'done', 'failed')),"
	" pid integer NOT NULL,"
	" backend_start timestamptz NOT NULL,"
	" snapshot txid_snapshot,"
	" first_seq bigint,"
	" last_seq bigint,"
	" jobs integer NOT NULL,"
	" skip boolean NOT NULL DEFAULT false,"
	" rows bigint NOT NULL DEFAULT 0,"
	" bytes bigint NOT NULL DEFAULT 0,"
	" total_bytes bigint,"
	" started_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" finished_at timestamptz,"
	" reason text,"
	" resumes bigint)",
	"CREATE INDEX IF NOT EXISTS load_skip ON teleport.load (target) WHERE skip",
	"CREATE TABLE IF NOT EXISTS teleport.load_table ("
	" load_id bigint NOT NULL REFERENCES teleport.load ON DELETE CASCADE,"
	" schema_name text NOT NULL,"
	" table_name text NOT NULL,"
	" state text NOT NULL DEFAULT 'waiting'"
	"  CHECK (state IN ('waiting', 'copying', 'done')),"
	" est_bytes bigint NOT NULL DEFAULT 0,"
	" rows bigint NOT NULL DEFAULT 0,"
	" bytes bigint NOT NULL DEFAULT 0,"
	" chunks integer NOT NULL DEFAULT 0,"
	" started_at timestamptz,"
	" finished_at timestamptz,"
	" PRIMARY KEY (load_id, schema_name, table_name))",
	/* the schema a target has been sent by the loads of its current chain */
	"CREATE TABLE IF NOT EXISTS teleport.load_schema ("
	" target text NOT NULL,"
	" kind text NOT NULL,"
	" oid oid NOT NULL,"
	" rank integer NOT NULL,"
	" schema_name text NOT NULL,"
	" object_name text,"
	" description json NOT NULL,"
	" PRIMARY KEY (target, kind, oid))",
	NULL
};

/*
 * Version 4: a row event written before its table's move (a rename, or a
 * schema's rename, which holds no table lock) by a transaction that
 * commits after the move's own, in a later tick, belongs to the table
 * under its new name (see append_selection). moved_tables(S) lists, once
 * per query, the table moves that S sees and that were written after the
 * first event of a transaction running at S (the only ones such an event
 * can precede), in id order, found through the partial indexes of the
 * DDL events, which are few; filed_name follows them from an event.
 */
static const char *const schema_v4[] = {
	"CREATE INDEX IF NOT EXISTS event_0_ddl ON teleport.event_0 (id) WHERE op = 'ddl'",
	"CREATE INDEX IF NOT EXISTS event_1_ddl ON teleport.event_1 (id) WHERE op = 'ddl'",
	"CREATE INDEX IF NOT EXISTS event_2_ddl ON teleport.event_2 (id) WHERE op = 'ddl'",
	/* [{"id", "bs", "bt" (the name before), "as", "at" (after)}...], or NULL */
	"CREATE OR REPLACE FUNCTION teleport.moved_tables(seen txid_snapshot)"
	" RETURNS jsonb LANGUAGE sql STABLE"
	" SET search_path = pg_catalog, pg_temp AS $f$\n"
	"SELECT jsonb_agg(jsonb_build_object('id', d.id,"
	"    'bs', d.ddl->'before'->>'schema', 'bt', d.ddl->'before'->>'name',"
	"    'as', d.schema_name, 'at', d.table_name) ORDER BY d.id)\n"
	"FROM (SELECT e.id, e.txid, e.schema_name, e.table_name, e.ddl FROM teleport.event_0 e WHERE e.op = 'ddl'\n"
	"  UNION ALL SELECT e.id, e.txid, e.schema_name, e.table_name, e.ddl FROM teleport.event_1 e WHERE e.op = 'ddl'\n"
	"  UNION ALL SELECT e.id, e.txid, e.schema_name, e.table_name, e.ddl FROM teleport.event_2 e WHERE e.op = 'ddl') d\n"
	"WHERE d.id > (SELECT min(f.id) FROM txid_snapshot_xip(seen) AS x(txid)\n"
	"    CROSS JOIN LATERAL (\n"
	"      (SELECT e.id FROM teleport.event_0 e WHERE e.txid = x.txid ORDER BY e.id LIMIT 1)\n"
	"      UNION ALL (SELECT e.id FROM teleport.event_1 e WHERE e.txid = x.txid ORDER BY e.id LIMIT 1)\n"
	"      UNION ALL (SELECT e.id FROM teleport.event_2 e WHERE e.txid = x.txid ORDER BY e.id LIMIT 1)) f)\n"
	"  AND d.ddl->>'type' = 'table'\n"
	"  AND json_typeof(d.ddl->'before') = 'object'\n"
	"  AND json_typeof(d.ddl->'after') = 'object'\n"
	"  AND (d.ddl->'after'->>'schema', d.ddl->'after'->>'name') = (d.schema_name, d.table_name)\n"
	"  AND (d.ddl->'before'->>'schema', d.ddl->'before'->>'name')\n"
	"      IS DISTINCT FROM (d.schema_name, d.table_name)\n"
	"  AND txid_visible_in_snapshot(d.txid, seen)\n"
	"$f$",
	/* the name an event after_id filed under schema_name.table_name moved to */
	"CREATE OR REPLACE FUNCTION teleport.filed_name(INOUT schema_name text,"
	" INOUT table_name text, after_id bigint, moves jsonb)"
	" LANGUAGE plpgsql IMMUTABLE"
	" SET search_path = pg_catalog, pg_temp AS $f$\n"
	"DECLARE\n"
	"  m jsonb;\n"
	"BEGIN\n"
	"  FOR m IN SELECT jsonb_array_elements(moves) LOOP\n"
	"    IF (m->>'id')::bigint > after_id AND m->>'bs' = schema_name"
	" AND m->>'bt' = table_name THEN\n"
	"      schema_name := m->>'as';\n"
	"      table_name := m->>'at';\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"END\n"
	"$f$",
	"REVOKE ALL ON FUNCTION teleport.moved_tables(txid_snapshot) FROM PUBLIC",
	"REVOKE ALL ON FUNCTION teleport.filed_name(text, text, bigint, jsonb) FROM PUBLIC",
	NULL
};

static const char *const *const schema_steps[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
};

_Static_assert(sizeof(schema_steps) / sizeof(schema_steps[0]) ==
			   TP_QUEUE_SCHEMA_VERSION,
			   "one schema step per version");

/*
 * Small helpers over pgsql.c
 */

/* End a failed transaction, if one is open; errors are logged only. */
static void
rollback(tp_pgsql *pg)
{
	if (pg->conn != NULL && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void) tp_pgsql_exec(pg, "ROLLBACK");
}

/* A growing string. */
/*
 * The PostgreSQL text-array literal of the n strings of items, each quoted
 * with '"' and '\' escaped. A new string (free).
 */
static char *
array_literal(const char *const *items, size_t n)
{
	tp_strbuf	sb = {NULL, 0, 0};

	tp_strbuf_str(&sb, "{");
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			tp_strbuf_str(&sb, ",");
		tp_strbuf_str(&sb, "\"");
		for (const char *p = items[i]; *p != '\0'; p++)
		{
			if (*p == '"' || *p == '\\')
				tp_strbuf_add(&sb, "\\", 1);
			tp_strbuf_add(&sb, p, 1);
		}
		tp_strbuf_str(&sb, "\"");
	}
	tp_strbuf_str(&sb, "}");
	return sb.data;
}

/*
 * Install
 */

/* Row callback: warn about a registered target missing from the config. */
static bool
warn_unconfigured(void *arg, const PGresult *res, int row)
{
	(void) arg;
	tp_warning(COMPONENT, "target \"%s\" is registered in the queue but not configured: "
			   "it holds back the queue's cleanup until it lags past queue_retention "
			   "and is marked as needing a resync",
			   PQgetvalue(res, row, 0));
	return true;
}

/*
 * Register each target of config that the queue does not know, with its
 * cursor at the latest tick (made when there is none), in the open
 * transaction.
 */
static bool
register_targets(tp_pgsql *pg, const tp_config *config)
{
	bool		has_tick;
	const char **names;
	char	   *array;
	bool		ok;

	if (!tp_pgsql_query_bool(pg, "SELECT EXISTS (SELECT 1 FROM teleport.tick)", 0, NULL,
							 &has_tick))
		return false;
	if (!has_tick)
	{
		/* the ticker's lock keeps ticks in snapshot order */
		if (!tp_pgsql_exec(pg, "SELECT pg_advisory_xact_lock(" LOCK_CLASS ", " LOCK_TICK ")") ||
			!tp_pgsql_exec(pg, "INSERT INTO teleport.tick (snapshot, last_event_id)"
				 " SELECT txid_current_snapshot(), 0"
				 " WHERE NOT EXISTS (SELECT 1 FROM teleport.tick)"))
			return false;
	}
	names = tp_xcalloc(config->n_targets, sizeof(char *));
	for (size_t i = 0; i < config->n_targets; i++)
		names[i] = config->targets[i].name;
	array = array_literal(names, config->n_targets);
	free(names);
	{
		const char *params[1] = {array};

		ok = tp_pgsql_query(pg,
							"INSERT INTO teleport.target (name, cursor_tick)"
							" SELECT n, (SELECT max(id) FROM teleport.tick)"
							" FROM unnest($1::text[]) n"
							" ON CONFLICT (name) DO NOTHING",
							1, params, NULL, NULL) &&
			tp_pgsql_query(pg,
						   "SELECT name FROM teleport.target"
						   " WHERE name <> ALL ($1::text[]) AND NOT needs_resync"
						   " ORDER BY name",
						   1, params, warn_unconfigured, NULL);
	}
	free(array);
	return ok;
}

/*
 * One attempt at install, in a transaction. *busy is set when another
 * instance holds the install lock (nothing was done; try again).
 */
static bool
install_once(tp_pgsql *pg, const tp_config *config, bool *busy)
{
	bool		locked;

	*busy = false;
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_exec(pg, "SET LOCAL lock_timeout = '" INSTALL_LOCK_TIMEOUT "'") ||
		!tp_pgsql_exec(pg, "SET LOCAL client_min_messages = warning") ||
		!tp_pgsql_query_bool(pg, "SELECT pg_try_advisory_xact_lock(" LOCK_CLASS ", "
							 LOCK_INSTALL ")", 0, NULL, &locked))
		goto fail;
	if (!locked)
	{
		*busy = true;
		rollback(pg);
		return false;
	}
	if (!tp_pgsql_upgrade(pg, "queue", schema_steps, TP_QUEUE_SCHEMA_VERSION,
						  "the queue's schema"))
		goto fail;
	if (!register_targets(pg, config) || !tp_pgsql_exec(pg, "COMMIT"))
		goto fail;
	return true;

fail:
	rollback(pg);
	return false;
}

/* See queue.h. */
bool
tp_queue_install(tp_pgsql *pg, const tp_config *config)
{
	tp_backoff	backoff;

	tp_backoff_init(&backoff, INSTALL_BACKOFF_MIN_MS, INSTALL_BACKOFF_MAX_MS);
	for (int attempt = 0; attempt < INSTALL_ATTEMPTS; attempt++)
	{
		bool		busy;

		if (install_once(pg, config, &busy))
			return tp_pgsql_exec(pg, "SELECT pg_catalog.pg_advisory_lock_shared("
								 LOCK_CLASS ", " LOCK_RUNNING ")");
		if (!busy)
			return false;
		tp_sleep_ms(tp_backoff_next(&backoff));
	}
	tp_error(COMPONENT, "could not install the queue's schema: another instance "
			 "holds its install lock; trying again later");
	return false;
}

/* See queue.h. */
bool
tp_queue_lock_out(tp_pgsql *pg, bool *running)
{
	return tp_pgsql_query_bool(pg, "SELECT NOT pg_catalog.pg_try_advisory_lock("
							   LOCK_CLASS ", " LOCK_RUNNING ")", 0, NULL, running);
}

/*
 * The statements that drop the queue's objects, run in one transaction.
 * The functions go by name whatever their arguments (an older version's
 * overloads too).
 */
static const char *const queue_uninstall_sql[] = {
	"DROP TABLE IF EXISTS teleport.event_0, teleport.event_1, teleport.event_2,"
	" teleport.event_table, teleport.tick, teleport.target, teleport.batch,"
	" teleport.load_table, teleport.load, teleport.load_schema",
	"DROP SEQUENCE IF EXISTS teleport.event_id_seq, teleport.current_event_table",
	"DO $do$\n"
	"DECLARE\n"
	"	f regprocedure;\n"
	"BEGIN\n"
	"	FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p\n"
	"			 WHERE p.pronamespace = 'teleport'::regnamespace\n"
	"			 AND p.proname IN ('insert_event', 'truncate_event_table', 'filed_name',\n"
	"				'moved_tables')\n"
	"	LOOP\n"
	"		EXECUTE pg_catalog.format('DROP FUNCTION %s', f);\n"
	"	END LOOP;\n"
	"END\n"
	"$do$",
	"DELETE FROM teleport.schema_version WHERE component = 'queue'",
	/* the schema goes too when nothing else of teleport's is left in it */
	"DO $do$\n"
	"BEGIN\n"
	"	IF NOT EXISTS (SELECT FROM teleport.schema_version) THEN\n"
	"		DROP TABLE teleport.schema_version;\n"
	"		DROP SCHEMA teleport;\n"
	"	END IF;\n"
	"EXCEPTION WHEN dependent_objects_still_exist THEN\n"
	"	NULL;\n"
	"END\n"
	"$do$",
	NULL
};

/* See queue.h. */
bool
tp_queue_uninstall(tp_pgsql *pg)
{
	char	   *regclass = NULL;
	int64_t		unacked = 0;
	bool		isnull;

	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_exec(pg, "SET LOCAL client_min_messages = warning") ||
		!tp_pgsql_query_value(pg, "SELECT pg_catalog.to_regclass('teleport.batch')"
							  "::pg_catalog.text", 0, NULL, &regclass))
		goto fail;
	if (regclass == NULL)
	{
		tp_info(COMPONENT, "the queue is not installed");
		return tp_pgsql_exec(pg, "COMMIT");
	}
	free(regclass);
	if (!tp_pgsql_query_int64(pg, "SELECT pg_catalog.count(*) FROM teleport.batch"
							  " WHERE acked_at IS NULL", 0, NULL, &unacked, &isnull))
		goto fail;
	if (unacked > 0)
		tp_warning(COMPONENT, "%" PRId64 " batch(es) not yet acknowledged by their "
				   "targets are dropped with the queue", unacked);
	for (int i = 0; queue_uninstall_sql[i] != NULL; i++)
	{
		if (!tp_pgsql_exec(pg, queue_uninstall_sql[i]))
			goto fail;
	}
	if (!tp_pgsql_exec(pg, "COMMIT"))
		goto fail;
	tp_info(COMPONENT, "the queue is uninstalled");
	return true;

fail:
	rollback(pg);
	return false;
}

/*
 * Ticks
 */

/* See queue.h. */
bool
tp_queue_tick(tp_pgsql *pg, int min_gap_ms, int idle_ms, bool *ticked)
{
	char		gap[24];
	char		idle[24];
	char	   *reason = NULL;
	char	   *last_id = NULL;
	bool		locked;

	*ticked = false;
	snprintf(gap, sizeof(gap), "%d", min_gap_ms);
	snprintf(idle, sizeof(idle), "%d", idle_ms);
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_query_bool(pg, "SELECT pg_try_advisory_xact_lock(" LOCK_CLASS ", "
							 LOCK_TICK ")", 0, NULL, &locked))
		goto fail;
	if (!locked)
	{
		rollback(pg);
		return true;			/* another ticker is at work */
	}

	/*
	 * The sequence is read before the snapshot is taken (next statement):
	 * an event id allocated later is above last_event_id, so the next call
	 * sees it. A transaction whose events were counted so but that had not
	 * ended at the last tick is a cause once it has ended ('ended'): one of
	 * the snapshot's xip, or one at or above its xmax (PostgreSQL 14 and
	 * later leave the newest running transactions out of xip: xmax follows
	 * the latest completed one), found through the events' txid index; its
	 * events would otherwise wait for the next event or the idle tick.
	 */
	if (!tp_pgsql_query_value(pg,
							  "SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
							  " FROM teleport.event_id_seq", 0, NULL, &last_id))
		goto fail;
	if (!tp_pgsql_query_value(pg,
							  "WITH last AS (SELECT id, snapshot, created_at, last_event_id"
							  "  FROM teleport.tick ORDER BY id DESC LIMIT 1)"
							  " SELECT CASE"
							  " WHEN NOT EXISTS (SELECT 1 FROM last) THEN 'first'"
							  " WHEN (SELECT last_event_id FROM last) < $3::bigint THEN 'events'"
							  " WHEN (SELECT created_at FROM last) <="
							  "  clock_timestamp() - $2::bigint * interval '1 millisecond'"
							  "  THEN 'idle'"
							  " WHEN (SELECT created_at FROM last) <="
							  "  clock_timestamp() - $1::bigint * interval '1 millisecond'"
							  "  AND EXISTS (SELECT 1 FROM last,"
							  "   txid_snapshot_xip(last.snapshot) x"
							  "   WHERE txid_visible_in_snapshot(x, txid_current_snapshot())"
							  "   AND (EXISTS (SELECT 1 FROM teleport.event_0 e WHERE e.txid = x)"
							  "    OR EXISTS (SELECT 1 FROM teleport.event_1 e WHERE e.txid = x)"
							  "    OR EXISTS (SELECT 1 FROM teleport.event_2 e WHERE e.txid = x)))"
							  "  THEN 'ended'"
							  " WHEN (SELECT created_at FROM last) <="
							  "  clock_timestamp() - $1::bigint * interval '1 millisecond'"
							  "  AND EXISTS (SELECT 1 FROM last, LATERAL ("
							  "   SELECT e.txid FROM teleport.event_0 e"
							  "    WHERE e.txid >= txid_snapshot_xmax(last.snapshot)"
							  "   UNION ALL SELECT e.txid FROM teleport.event_1 e"
							  "    WHERE e.txid >= txid_snapshot_xmax(last.snapshot)"
							  "   UNION ALL SELECT e.txid FROM teleport.event_2 e"
							  "    WHERE e.txid >= txid_snapshot_xmax(last.snapshot)) f"
							  "   WHERE txid_visible_in_snapshot(f.txid, txid_current_snapshot()))"
							  "  THEN 'ended' END",
							  3, (const char *const[]) {gap, idle, last_id}, &reason))
		goto fail;
	if (reason != NULL)
	{
		const char *ins[1] = {last_id};

		if (!tp_pgsql_query(pg,
							"INSERT INTO teleport.tick (snapshot, last_event_id)"
							" VALUES (txid_current_snapshot(), $1::bigint)",
							1, ins, NULL, NULL))
			goto fail;
	}
	if (!tp_pgsql_exec(pg, "COMMIT"))
		goto fail;
	if (reason != NULL)
	{
		tp_debug(COMPONENT, "ticked (%s)", reason);
		*ticked = true;
	}
	free(reason);
	free(last_id);
	return true;

fail:
	free(reason);
	free(last_id);
	rollback(pg);
	return false;
}

/*
 * Selecting a target's events
 */

/*
 * The filter of a target as the four array parameters of the event
 * selection: table regexes (include, exclude) for events naming a table,
 * and schema regexes for DDL events that name none. A DDL event without a
 * table is selected when its schema matches the schema part of an include
 * pattern, unless an exclusion pattern covers the whole schema ("!s.*").
 */
typedef tp_queue_filter filter_params;

/*
 * The schema part of the anchored regex re ("^S\.T$"), anchored: "^S$",
 * as a new string. The schema part holds no unescaped-dot escape "\.",
 * since a pattern's schema ends at its first dot; so the first "\." that
 * does not close an escaped backslash is the separator. *whole_schema says
 * whether the table part matches every table (".*").
 */
static char *
schema_regex(const char *re, bool *whole_schema)
{
	const char *p = re;
	char	   *out;

	*whole_schema = false;
	while (*p != '\0')
	{
		if (p[0] == '\\' && p[1] == '.')
			break;
		if (p[0] == '\\' && p[1] != '\0')
			p += 2;
		else
			p++;
	}
	out = tp_xmalloc((size_t) (p - re) + 2);
	memcpy(out, re, (size_t) (p - re));
	out[p - re] = '$';
	out[p - re + 1] = '\0';
	if (*p != '\0')
		*whole_schema = strcmp(p + 2, ".*$") == 0;
	return out;
}

/* See queue.h. */
void
tp_queue_filter_make(tp_queue_filter *fp, const tp_table_filter *filter)
{
	char	  **sinc = tp_xcalloc(filter->n_include, sizeof(char *));
	char	  **sexc = tp_xcalloc(filter->n_exclude, sizeof(char *));
	size_t		n_sexc = 0;

	fp->include = array_literal((const char *const *) filter->include_re,
								filter->n_include);
	fp->exclude = array_literal((const char *const *) filter->exclude_re,
								filter->n_exclude);
	for (size_t i = 0; i < filter->n_include; i++)
	{
		bool		whole;

		sinc[i] = schema_regex(filter->include_re[i], &whole);
	}
	for (size_t i = 0; i < filter->n_exclude; i++)
	{
		bool		whole;
		char	   *s = schema_regex(filter->exclude_re[i], &whole);

		if (whole)
			sexc[n_sexc++] = s;
		else
			free(s);
	}
	fp->schema_include = array_literal((const char *const *) sinc,
									   filter->n_include);
	fp->schema_exclude = array_literal((const char *const *) sexc, n_sexc);
	for (size_t i = 0; i < filter->n_include; i++)
		free(sinc[i]);
	for (size_t i = 0; i < n_sexc; i++)
		free(sexc[i]);
	free(sinc);
	free(sexc);
}

/* See queue.h. */
void
tp_queue_filter_free(tp_queue_filter *fp)
{
	free(fp->include);
	free(fp->exclude);
	free(fp->schema_include);
	free(fp->schema_exclude);
}

/* The table moves an event running at S1 may precede (an InitPlan). */
#define MOVES "(SELECT teleport.moved_tables($1::txid_snapshot))"

/*
 * Whether row event c may straddle a move of its table: its transaction
 * was running at S1 (not visible there, txid below its xmax), so it may
 * have written before a move that S1 sees and commit after it, and its
 * table's name is one that such a move left (the list tested for NULL
 * first: the containment's arguments would be built for every row).
 */
#define STRADDLES \
	"c.op <> 'ddl' AND c.txid < txid_snapshot_xmax($1::txid_snapshot)" \
	" AND " MOVES " IS NOT NULL" \
	" AND " MOVES " @> jsonb_build_array(jsonb_build_object('bs', c.schema_name," \
	" 'bt', c.table_name))"

/*
 * Append to sb the selection of a target's events between two ticks, as a
 * FROM item "e" with the event tables' columns. Its parameters: $1 and $2
 * the snapshots of the ticks (S1, S2), $3..$6 the filter arrays, $7 the
 * target's name. Candidates come through the txid index only: txids in
 * [xmax(S1), xmax(S2)) and those running at S1 but not at S2; never a scan
 * from xmin(S1), which would go back to the oldest open transaction.
 *
 * A DDL event that moves an object from one name to another (a table
 * renamed or moved to another schema, and with it its indexes,
 * constraints and comments) is filed under the new name; its description
 * before gives the old one ("schema" and "table", else "name"; only when
 * its description after gives the name it is filed under, so an object
 * filed otherwise is selected by that name alone). A target that selects
 * both gets it as it is (a rename); one that selects only the new name
 * gets it as a creation ("before" null: the object enters its selection);
 * one that selects only the old name gets a table's as a drop ("after"
 * null: the table leaves it, and its dependents with it). The change
 * depends only on the event and the filter, so a batch is rebuilt alike.
 * Column "resend" is the OID of a table entering the selection that the
 * trigger source captured already ("captured" in its event: another
 * target selects its old name), whose rows the target needs; else NULL.
 *
 * A row event is filed under the name its table had when its transaction
 * committed: one written before its table's move (a schema's rename holds
 * no lock on the schema's tables) by a transaction that commits after the
 * move, in a later tick, follows the move (teleport.filed_name), since the
 * target applies it after the move. In the move's own tick range it keeps
 * its name: ordered by id, it comes before the move there.
 */
static void
append_selection(tp_strbuf *sb, const char *seq_param, const char *id_range)
{
	char		part[1536];

	tp_strbuf_str(sb, "(SELECT c.id, c.txid, c.op, f.schema_name, f.table_name,"
		   " c.before, c.after,"
		   " CASE WHEN c.op <> 'ddl' OR r.sel_old = r.sel_new THEN c.ddl"
		   " ELSE (SELECT json_object_agg(j.key, CASE WHEN j.key = CASE WHEN r.sel_new"
		   "  THEN 'before' ELSE 'after' END THEN 'null'::json ELSE j.value END)"
		   "  FROM json_each(c.ddl) j) END AS ddl,"
		   " c.origin, c.text_values, c.stmt,"
		   " CASE WHEN c.op = 'ddl' AND r.sel_new AND NOT r.sel_old AND c.ddl->>'type' = 'table'"
		   "  AND c.ddl->>'captured' = 'true' THEN c.ddl->>'oid' END AS resend"
		   " FROM (");
	for (int i = 0; i < N_EVENT_TABLES; i++)
	{
		if (id_range != NULL)
			snprintf(part, sizeof(part),
					 "%sSELECT * FROM teleport.event_%d WHERE id BETWEEN %s",
					 i == 0 ? "" : " UNION ALL ", i, id_range);
		else
			snprintf(part, sizeof(part),
					 "%sSELECT * FROM teleport.event_%d"
					 " WHERE txid >= txid_snapshot_xmax($1::txid_snapshot)"
					 " AND txid < txid_snapshot_xmax($2::txid_snapshot)"
					 " UNION ALL SELECT * FROM teleport.event_%d"
					 " WHERE txid = ANY (ARRAY(SELECT txid_snapshot_xip($1::txid_snapshot)"
					 " EXCEPT SELECT txid_snapshot_xip($2::txid_snapshot)))",
					 i == 0 ? "" : " UNION ALL ", i, i);
		tp_strbuf_str(sb, part);
	}
	tp_strbuf_str(sb,
		   ") c"
		   " CROSS JOIN LATERAL (SELECT CASE WHEN " STRADDLES
		   "  THEN (teleport.filed_name(c.schema_name, c.table_name, c.id, " MOVES
		   "   )).schema_name ELSE c.schema_name END AS schema_name,"
		   " CASE WHEN " STRADDLES
		   "  THEN (teleport.filed_name(c.schema_name, c.table_name, c.id, " MOVES
		   "   )).table_name ELSE c.table_name END AS table_name) f"
		   " CROSS JOIN LATERAL (SELECT "
		   TP_QUEUE_MATCH("f.schema_name", "f.table_name", "$3", "$4", "$5", "$6")
		   " AS sel_new, CASE WHEN c.op = 'ddl' AND c.table_name IS NOT NULL"
		   "  AND json_typeof(c.ddl->'before') = 'object'"
		   "  AND json_typeof(c.ddl->'after') = 'object'"
		   "  AND (c.ddl->'after'->>'schema', coalesce(c.ddl->'after'->>'table',"
		   "   c.ddl->'after'->>'name')) = (c.schema_name, c.table_name)"
		   "  THEN c.ddl->'before'->>'schema' END AS bs,"
		   " coalesce(c.ddl->'before'->>'table', c.ddl->'before'->>'name') AS bt) n"
		   " CROSS JOIN LATERAL (SELECT n.sel_new,"
		   " CASE WHEN n.bs IS NOT NULL AND n.bt IS NOT NULL"
		   "  AND (n.bs, n.bt) IS DISTINCT FROM (c.schema_name, c.table_name) THEN "
		   TP_QUEUE_MATCH("n.bs", "n.bt", "$3", "$4", "$5", "$6")
		   " ELSE n.sel_new END AS sel_old) r"
		   " WHERE txid_visible_in_snapshot(c.txid, $2::txid_snapshot)"
		   " AND NOT txid_visible_in_snapshot(c.txid, $1::txid_snapshot)"
		   " AND c.origin IS DISTINCT FROM $7::text"
		   " AND (r.sel_new OR (c.op = 'ddl' AND r.sel_old AND c.ddl->>'type' = 'table'))");
	/*
	 * what a load's snapshot saw: the rows of its tables, and every schema
	 * change (the load sent the schema as the snapshot saw it); the EXISTS
	 * runs only for txids below the newest such snapshot's xmax
	 */
	snprintf(part, sizeof(part),
			 " AND NOT (c.txid < (SELECT coalesce(max(txid_snapshot_xmax(l.snapshot)), 0)"
			 "  FROM teleport.load l WHERE l.target = $7 AND l.skip)"
			 "  AND EXISTS (SELECT 1 FROM teleport.load l WHERE l.target = $7 AND l.skip"
			 "   AND l.first_seq <= %s::bigint"
			 "   AND txid_visible_in_snapshot(c.txid, l.snapshot)"
			 "   AND (c.op = 'ddl' OR EXISTS (SELECT 1 FROM teleport.load_table lt"
			 "    WHERE lt.load_id = l.id AND lt.schema_name = f.schema_name"
			 "    AND lt.table_name = f.table_name))))) e", seq_param);
	tp_strbuf_str(sb, part);
}

/*
 * Cutting batches
 */

/* A batch being cut: a run of events of the selection. */
typedef struct chunk
{
	int64_t		first_id;
	int64_t		last_id;
	int64_t		n_events;
	int64_t		bytes;
	int64_t		max_txid_last;	/* the last event id of its transactions */
} chunk;

/* The state of one cut. */
typedef struct cut_state
{
	int64_t		max_events;
	int64_t		max_bytes;
	chunk		open;			/* the chunk being filled; n_events 0: none */
	chunk	   *done;			/* closed chunks not yet stored */
	size_t		n_done;
	size_t		cap_done;
	int64_t		rows;			/* rows of the last FETCH */
	char	  **resend;			/* OIDs of tables whose rows to send again */
	size_t		n_resend;
} cut_state;

/* Close the open chunk into the done list. */
static void
close_chunk(cut_state *cs)
{
	if (cs->open.n_events == 0)
		return;
	if (cs->n_done == cs->cap_done)
	{
		cs->cap_done = cs->cap_done ? cs->cap_done * 2 : 16;
		cs->done = tp_xrealloc(cs->done, cs->cap_done * sizeof(chunk));
	}
	cs->done[cs->n_done++] = cs->open;
	memset(&cs->open, 0, sizeof(cs->open));
}

/*
 * Row callback of the FETCH: (id, txid, bytes, last id of the txid, the
 * OID of a table whose rows to send again or NULL).
 */
static bool
cut_row(void *arg, const PGresult *res, int row)
{
	cut_state  *cs = arg;
	int64_t		id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	int64_t		bytes = strtoll(PQgetvalue(res, row, 2), NULL, 10);
	int64_t		txid_last = strtoll(PQgetvalue(res, row, 3), NULL, 10);

	cs->rows++;
	if (!PQgetisnull(res, row, 4))
	{
		cs->resend = tp_xrealloc(cs->resend, (cs->n_resend + 1) * sizeof(char *));
		cs->resend[cs->n_resend++] = tp_xstrdup(PQgetvalue(res, row, 4));
	}
	if (cs->open.n_events > 0 &&
		(cs->open.n_events >= cs->max_events ||
		 cs->open.bytes + bytes > cs->max_bytes))
		close_chunk(cs);
	if (cs->open.n_events == 0)
		cs->open.first_id = id;
	cs->open.last_id = id;
	cs->open.n_events++;
	cs->open.bytes += bytes;
	if (txid_last > cs->open.max_txid_last)
		cs->open.max_txid_last = txid_last;
	return true;
}

/* The target's cut, as read at its start. */
typedef struct cut_range
{
	char	   *cursor;			/* tick ids, as text */
	char	   *latest;
	char	   *s1;				/* their snapshots */
	char	   *s2;
	int64_t		next_seq;
	bool		needs_resync;
} cut_range;

/* Row callback: read the cut's range. */
static bool
cut_range_row(void *arg, const PGresult *res, int row)
{
	cut_range  *cr = arg;

	cr->cursor = tp_xstrdup(PQgetvalue(res, row, 0));
	cr->latest = tp_xstrdup(PQgetvalue(res, row, 1));
	cr->s1 = PQgetisnull(res, row, 2) ? NULL : tp_xstrdup(PQgetvalue(res, row, 2));
	cr->s2 = tp_xstrdup(PQgetvalue(res, row, 3));
	cr->next_seq = strtoll(PQgetvalue(res, row, 4), NULL, 10);
	cr->needs_resync = strcmp(PQgetvalue(res, row, 5), "t") == 0;
	return true;
}

/* Free the strings of cr. */
static void
cut_range_free(cut_range *cr)
{
	free(cr->cursor);
	free(cr->latest);
	free(cr->s1);
	free(cr->s2);
}

/*
 * Store the closed chunks of cs as batches seq, seq + 1 ... of target;
 * *seq is advanced past them.
 */
static bool
store_chunks(tp_pgsql *pg, cut_state *cs, const char *target,
			 const cut_range *cr, const filter_params *fp, int64_t *seq)
{
	for (size_t i = 0; i < cs->n_done; i++)
	{
		const chunk *c = &cs->done[i];
		char		s_seq[24],
					s_first[24],
					s_last[24],
					s_n[24],
					s_bytes[24];
		const char *params[14] = {
			target, s_seq, cr->cursor, cr->latest, s_first, s_last, s_n,
			s_bytes, c->max_txid_last > c->last_id ? "t" : "f",
			fp->include, fp->exclude, fp->schema_include, fp->schema_exclude,
			NULL
		};

		snprintf(s_seq, sizeof(s_seq), "%" PRId64, *seq);
		snprintf(s_first, sizeof(s_first), "%" PRId64, c->first_id);
		snprintf(s_last, sizeof(s_last), "%" PRId64, c->last_id);
		snprintf(s_n, sizeof(s_n), "%" PRId64, c->n_events);
		snprintf(s_bytes, sizeof(s_bytes), "%" PRId64, c->bytes);
		if (!tp_pgsql_query(pg,
							"INSERT INTO teleport.batch (target, seq, tick_from, tick_to,"
							" first_event_id, last_event_id, n_events, bytes, partial,"
							" include_re, exclude_re, schema_include_re, schema_exclude_re)"
							" VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint,"
							" $6::bigint, $7::bigint, $8::bigint, $9::boolean, $10::text[],"
							" $11::text[], $12::text[], $13::text[])",
							13, params, NULL, NULL))
			return false;
		(*seq)++;
	}
	cs->n_done = 0;
	return true;
}

/*
 * In the cut's transaction, queue the tables of cs->resend for the DDL
 * source (teleport.schema_resend, when it is installed), whose next poll
 * sends their rows again, under a lock, after the events cut here: a
 * table that entered the target's selection by a rename or a move while
 * captured for another target, whose rows this target lacks. The other
 * targets that select it get them too, as upserts of the rows they have.
 * Every row: a table queued for some of its rows only (a value in
 * schema_resend.columns: those json mode may have captured inexactly,
 * plugins/source/ddl/ddl_sql.c) is made to send them all. That column
 * is absent from the objects of an older teleport's DDL source.
 */
static bool
request_resend(tp_pgsql *pg, const cut_state *cs)
{
	char	   *exists = NULL;
	bool		ok = true;

	if (cs->n_resend == 0)
		return true;
	if (!tp_pgsql_query_value(pg,
							  "SELECT CASE WHEN to_regclass('teleport.schema_resend') IS NULL THEN 'n'"
							  " WHEN EXISTS (SELECT 1 FROM pg_attribute a"
							  "  WHERE a.attrelid = to_regclass('teleport.schema_resend')"
							  "  AND a.attname = 'columns' AND NOT a.attisdropped) THEN 'c'"
							  " ELSE 't' END",
							  0, NULL, &exists))
		return false;
	for (size_t i = 0; ok && exists != NULL && strcmp(exists, "n") != 0 &&
		 i < cs->n_resend; i++)
	{
		const char *params[1] = {cs->resend[i]};

		ok = tp_pgsql_query(pg,
							strcmp(exists, "c") == 0
							? "INSERT INTO teleport.schema_resend AS s (relid) VALUES ($1::oid)"
							" ON CONFLICT (relid) DO UPDATE SET columns = NULL"
							" WHERE s.columns IS NOT NULL"
							: "INSERT INTO teleport.schema_resend (relid) VALUES ($1::oid)"
							" ON CONFLICT (relid) DO NOTHING",
							1, params, NULL, NULL);
	}
	free(exists);
	return ok;
}

/* See queue.h. */
bool
tp_queue_cut_batches(tp_pgsql *pg, const tp_target_config *target,
					 int64_t max_events, int64_t max_bytes, int *made)
{
	const char *name_param[1] = {target->name};
	cut_range	cr;
	cut_state	cs;
	filter_params fp;
	tp_strbuf	sql = {NULL, 0, 0};
	int64_t		seq;
	bool		ok = false;

	*made = 0;
	memset(&cr, 0, sizeof(cr));
	memset(&cs, 0, sizeof(cs));
	cs.max_events = max_events > 0 ? max_events : 1;
	cs.max_bytes = max_bytes > 0 ? max_bytes : 1;
	tp_queue_filter_make(&fp, &target->filter);

	/* most calls find no new tick: answer those without a transaction */
	{
		char	   *state = NULL;

		if (!tp_pgsql_query_value(pg,
								  "SELECT CASE WHEN t.name IS NULL THEN 'unknown'"
								  " WHEN t.needs_resync OR t.loading IS NOT NULL"
								  "  OR t.cursor_tick >="
								  "  (SELECT max(id) FROM teleport.tick) THEN 'idle'"
								  " ELSE 'work' END"
								  " FROM (SELECT 1) x LEFT JOIN teleport.target t"
								  " ON t.name = $1",
								  1, name_param, &state))
			goto done;
		if (state != NULL && strcmp(state, "idle") == 0)
			ok = true;
		else if (state != NULL && strcmp(state, "unknown") == 0)
			tp_error(COMPONENT, "target \"%s\" is not registered in the queue",
					 target->name);
		if (state == NULL || strcmp(state, "work") != 0)
		{
			free(state);
			goto done;
		}
		free(state);
	}

	if (!tp_pgsql_exec(pg, "BEGIN"))
		goto done;
	if (!tp_pgsql_query(pg,
						"SELECT t.cursor_tick, l.id, c.snapshot, l.snapshot,"
						" t.next_seq, t.needs_resync OR t.loading IS NOT NULL"
						" FROM teleport.target t"
						" LEFT JOIN teleport.tick c ON c.id = t.cursor_tick,"
						" LATERAL (SELECT id, snapshot FROM teleport.tick"
						"  ORDER BY id DESC LIMIT 1) l"
						" WHERE t.name = $1"
						" FOR UPDATE OF t",
						1, name_param, cut_range_row, &cr))
		goto done;
	if (cr.cursor == NULL)
	{
		tp_error(COMPONENT, "target \"%s\" is not registered in the queue",
				 target->name);
		goto done;
	}
	if (cr.needs_resync)
	{
		/*
		 * its changes are no longer kept (a new initial load is needed), or
		 * a load is running: its batches are numbered meanwhile
		 */
		ok = tp_pgsql_exec(pg, "COMMIT");
		goto done;
	}
	if (cr.s1 == NULL)
	{
		tp_error(COMPONENT, "the cursor tick %s of target \"%s\" is missing from the queue",
				 cr.cursor, target->name);
		goto done;
	}
	seq = cr.next_seq;
	if (strcmp(cr.cursor, cr.latest) == 0)
	{
		/* no new tick: nothing to write (no dead row in teleport.target) */
		ok = tp_pgsql_exec(pg, "COMMIT");
		goto done;
	}
	{
		char		s_next[24];
		const char *params[8] = {
			cr.s1, cr.s2, fp.include, fp.exclude, fp.schema_include,
			fp.schema_exclude, target->name, s_next
		};
		char		bytes_sql[256];

		snprintf(s_next, sizeof(s_next), "%" PRId64, cr.next_seq);
		tp_strbuf_str(&sql, "DECLARE tp_cut NO SCROLL CURSOR FOR"
			   " SELECT id, txid, bytes, max(id) OVER (PARTITION BY txid), resend"
			   " FROM (SELECT e.id, e.txid, e.resend, ");
		snprintf(bytes_sql, sizeof(bytes_sql),
				 "coalesce(octet_length(e.before::text), 0)"
				 " + coalesce(octet_length(e.after::text), 0)"
				 " + coalesce(octet_length(e.ddl::text), 0)"
				 " + octet_length(e.schema_name)"
				 " + coalesce(octet_length(e.table_name), 0) + %d AS bytes FROM ",
				 LINE_OVERHEAD_BYTES);
		tp_strbuf_str(&sql, bytes_sql);
		append_selection(&sql, "$8", NULL);
		tp_strbuf_str(&sql, ") s ORDER BY id");
		if (!tp_pgsql_query(pg, sql.data, 8, params, NULL, NULL))
			goto done;
		for (;;)
		{
			cs.rows = 0;
			if (!tp_pgsql_query(pg, CUT_FETCH, 0, NULL, cut_row, &cs))
				goto done;
			if (cs.rows == 0)
				break;
			if (!store_chunks(pg, &cs, target->name, &cr, &fp, &seq))
				goto done;
		}
		close_chunk(&cs);
		if (!store_chunks(pg, &cs, target->name, &cr, &fp, &seq) ||
			!tp_pgsql_exec(pg, "CLOSE tp_cut") ||
			!request_resend(pg, &cs))
			goto done;
	}
	{
		char		s_seq[24];
		const char *params[3] = {target->name, cr.latest, s_seq};

		snprintf(s_seq, sizeof(s_seq), "%" PRId64, seq);
		if (!tp_pgsql_query(pg,
							"UPDATE teleport.target SET cursor_tick = $2::bigint,"
							" next_seq = $3::bigint WHERE name = $1",
							3, params, NULL, NULL) ||
			!tp_pgsql_exec(pg, "COMMIT"))
			goto done;
	}
	*made = (int) (seq - cr.next_seq);
	if (*made > 0)
		tp_debug(COMPONENT, "cut %d batches for target \"%s\" up to tick %s",
				 *made, target->name, cr.latest);
	ok = true;

done:
	if (!ok)
	{
		rollback(pg);
		*made = 0;
	}
	free(sql.data);
	free(cs.done);
	for (size_t i = 0; i < cs.n_resend; i++)
		free(cs.resend[i]);
	free(cs.resend);
	cut_range_free(&cr);
	tp_queue_filter_free(&fp);
	return ok;
}

/*
 * Sending
 */

/* A stored batch, as next_batch reads it. */
typedef struct stored_batch
{
	bool		found;
	char	   *seq;
	char	   *tick_from;
	char	   *tick_to;
	char	   *s1;
	char	   *s2;
	char	   *first_id;
	char	   *last_id;
	char	   *include;
	char	   *exclude;
	char	   *schema_include;
	char	   *schema_exclude;
	char	   *ts_ms;
	int64_t		n_events;
	int64_t		bytes;			/* the cut's estimate of its lines' bytes */
	bool		partial;
	bool		ticks_missing;
} stored_batch;

/* Row callback: read the oldest unacknowledged batch. */
static bool
stored_batch_row(void *arg, const PGresult *res, int row)
{
	stored_batch *sb = arg;
	char	  **fields[] = {
		&sb->seq, &sb->tick_from, &sb->tick_to, &sb->s1, &sb->s2,
		&sb->first_id, &sb->last_id, &sb->include, &sb->exclude,
		&sb->schema_include, &sb->schema_exclude, &sb->ts_ms
	};

	sb->found = true;
	for (int i = 0; i < (int) (sizeof(fields) / sizeof(fields[0])); i++)
	{
		if (PQgetisnull(res, row, i))
			sb->ticks_missing = true;
		else
			*fields[i] = tp_xstrdup(PQgetvalue(res, row, i));
	}
	sb->n_events = strtoll(PQgetvalue(res, row, 12), NULL, 10);
	sb->partial = strcmp(PQgetvalue(res, row, 13), "t") == 0;
	sb->bytes = strtoll(PQgetvalue(res, row, 14), NULL, 10);
	return true;
}

/* Free the strings of sb. */
static void
stored_batch_free(stored_batch *sb)
{
	free(sb->seq);
	free(sb->tick_from);
	free(sb->tick_to);
	free(sb->s1);
	free(sb->s2);
	free(sb->first_id);
	free(sb->last_id);
	free(sb->include);
	free(sb->exclude);
	free(sb->schema_include);
	free(sb->schema_exclude);
	free(sb->ts_ms);
}

/*
 * The rebuilt data of a batch, and what its lines need. The lines'
 * buffer starts with the strings of the queued batch (source, target and
 * apply_schema, each NUL-terminated: header_len bytes), so that it
 * becomes the queued batch's buffer as it is (tp_queued_batch).
 */
typedef struct batch_data
{
	tp_lines	lines;
	size_t		header_len;
	const char *source;			/* the instance's name: origin by default */
	const char *batch;			/* the batch's seq */
	const char *ts_ms;			/* its tick time */
} batch_data;

/* Row callback: the event's line. */
static bool
batch_data_row(void *arg, const PGresult *res, int row)
{
	batch_data *bd = arg;

	tp_lines_add(&bd->lines, res, row, bd->source, bd->batch, bd->ts_ms);
	return true;
}

/*
 * The events of a batch, in id order: the selection of its tick range
 * restricted to its event id range ($8 and $9 after the selection's
 * parameters), with the columns core/batch_lines.c makes each line of
 * (the envelope of teleport/batch.h). Building the lines there rather
 * than by concatenation in SQL took the rebuild of a batch of 2,000
 * events from 13-25 ms to a few. The events are read by their id range
 * (the batch's own, with the events of transactions of other batches
 * in between, which the selection's visibility tests leave out), not by
 * the txid sets of the cut: a range of two parameters keeps an index
 * scan in the generic plan of the prepared statement (BATCH_DATA), whose
 * planning took more than half of each rebuild (2 of 3.5 ms a batch).
 */
static char *
batch_data_sql(void)
{
	tp_strbuf	sql = {NULL, 0, 0};

	tp_strbuf_str(&sql, "SELECT " TP_LINES_COLUMNS " FROM ");
	append_selection(&sql, "$10", "$8::bigint AND $9::bigint");
	tp_strbuf_str(&sql, " ORDER BY e.id");
	return sql.data;
}

/*
 * Start bd's buffer with the strings of the queued batch (see
 * batch_data).
 */
static void
batch_data_header(batch_data *bd, const char *source, const tp_target_config *target)
{
	const char *apply = target->apply_schema ? target->apply_schema : "";

	tp_lines_append(&bd->lines, source, strlen(source) + 1);
	tp_lines_append(&bd->lines, target->name, strlen(target->name) + 1);
	tp_lines_append(&bd->lines, apply, strlen(apply) + 1);
	bd->header_len = bd->lines.len;
}

/*
 * Give bd's buffer to qb (bd keeps none): point batch's strings and data
 * into it.
 */
static void
fill_queued_batch(tp_queued_batch *qb, const tp_target_config *target, batch_data *bd)
{
	char	   *p = bd->lines.data;

	qb->buf = p;
	qb->batch.source = p;
	p += strlen(p) + 1;
	qb->batch.target = p;
	p += strlen(p) + 1;
	qb->batch.apply_schema = target->apply_schema ? p : NULL;
	qb->batch.data = bd->lines.data + bd->header_len;
	qb->batch.data_len = bd->lines.len - bd->header_len;
	memset(&bd->lines, 0, sizeof(bd->lines));
}

/* See queue.h. */
bool
tp_queue_next_batch(tp_pgsql *pg, const char *source,
					const tp_target_config *target, tp_queued_batch *out,
					bool *found)
{
	return tp_queue_batch_after(pg, source, target, 0, out, found);
}

/* See queue.h. */
bool
tp_queue_batch_after(tp_pgsql *pg, const char *source,
					 const tp_target_config *target, uint64_t after,
					 tp_queued_batch *out, bool *found)
{
	char		after_text[24];
	const char *name_param[2] = {target->name, after_text};
	stored_batch sb;
	batch_data	bd;
	char	   *sql = NULL;
	bool		ok = false;

	snprintf(after_text, sizeof(after_text), "%" PRIu64, after);
	memset(&bd, 0, sizeof(bd));
	memset(out, 0, sizeof(*out));
	memset(&sb, 0, sizeof(sb));
	*found = false;
	if (!tp_pgsql_query_prepared(pg, BATCH_AFTER,
						"SELECT b.seq, b.tick_from, b.tick_to, t1.snapshot, t2.snapshot,"
						" b.first_event_id, b.last_event_id, b.include_re, b.exclude_re,"
						" b.schema_include_re, b.schema_exclude_re,"
						" floor(extract(epoch FROM t2.created_at) * 1000)::bigint,"
						" b.n_events, b.partial, b.bytes"
						" FROM teleport.batch b"
						" JOIN teleport.target g ON g.name = b.target"
						" LEFT JOIN teleport.tick t1 ON t1.id = b.tick_from"
						" LEFT JOIN teleport.tick t2 ON t2.id = b.tick_to"
						" WHERE b.target = $1 AND b.acked_at IS NULL"
						" AND b.seq > $2::bigint AND NOT g.needs_resync"
						" ORDER BY b.seq LIMIT 1",
						2, name_param, stored_batch_row, &sb))
		goto done;
	if (!sb.found)
	{
		ok = true;
		goto done;
	}
	if (sb.ticks_missing)
	{
		tp_error(COMPONENT, "batch %s of target \"%s\" cannot be rebuilt: its ticks are "
				 "missing from the queue", sb.seq ? sb.seq : "?", target->name);
		goto done;
	}
	sql = batch_data_sql();
	{
		const char *params[10] = {
			sb.s1, sb.s2, sb.include, sb.exclude, sb.schema_include,
			sb.schema_exclude, target->name, sb.first_id, sb.last_id, sb.seq
		};

		bd.source = source;
		bd.batch = sb.seq;
		bd.ts_ms = sb.ts_ms;
		batch_data_header(&bd, source, target);
		tp_lines_reserve(&bd.lines, sb.bytes > 0 ? (size_t) sb.bytes + (size_t) sb.bytes / 8 : 0);
		if (!tp_pgsql_stream_prepared(pg, BATCH_DATA, sql, 10, params,
									  batch_data_row, &bd))
			goto done;
	}
	if (bd.lines.count != sb.n_events)
	{
		tp_error(COMPONENT, "batch %s of target \"%s\" cannot be rebuilt: it had %" PRId64
				 " events, the queue now holds %" PRId64 " of them",
				 sb.seq, target->name, sb.n_events, bd.lines.count);
		goto done;
	}
	out->batch.size = sizeof(tp_batch);
	out->batch.format = TELEPORT_BATCH_FORMAT;
	out->batch.kind = TP_BATCH_CHANGES;
	out->batch.seq = strtoull(sb.seq, NULL, 10);
	out->batch.n_changes = (uint64_t) bd.lines.count;
	out->batch.first_tick = strtoull(sb.tick_from, NULL, 10);
	out->batch.last_tick = strtoull(sb.tick_to, NULL, 10);
	out->batch.flags = sb.partial ? TP_BATCH_PARTIAL : 0;
	out->tick_time_ms = strtoll(sb.ts_ms, NULL, 10);
	fill_queued_batch(out, target, &bd);
	*found = true;
	ok = true;

done:
	free(sql);
	free(bd.lines.data);
	stored_batch_free(&sb);
	return ok;
}

/* See queue.h. */
void
tp_queued_batch_free(tp_queued_batch *qb)
{
	if (qb == NULL)
		return;
	free(qb->buf);
	memset(qb, 0, sizeof(*qb));
}

/* See queue.h. */
bool
tp_queue_next_seq(tp_pgsql *pg, const char *target, uint64_t *seq, bool *found)
{
	const char *params[1] = {target};
	int64_t		value = 0;
	bool		isnull = true;

	*seq = 0;
	*found = false;
	if (!tp_pgsql_query_int64(pg,
							  "SELECT (SELECT b.seq FROM teleport.batch b"
							  " JOIN teleport.target g ON g.name = b.target"
							  " WHERE b.target = $1 AND b.acked_at IS NULL"
							  " AND NOT g.needs_resync ORDER BY b.seq LIMIT 1)",
							  1, params, &value, &isnull))
		return false;
	*found = !isnull;
	*seq = isnull ? 0 : (uint64_t) value;
	return true;
}

/* See queue.h. */
bool
tp_queue_ack(tp_pgsql *pg, const char *target, uint64_t seq)
{
	char		s_seq[24];
	const char *params[2] = {target, s_seq};

	snprintf(s_seq, sizeof(s_seq), "%" PRIu64, seq);
	return tp_pgsql_query_prepared(pg, BATCH_ACK,
						  "UPDATE teleport.batch SET acked_at = clock_timestamp()"
						  " WHERE target = $1 AND seq <= $2::bigint AND acked_at IS NULL",
						  2, params, NULL, NULL);
}

/* Row callback of backlog_of: (batches, oldest age ms, needs_resync, loading). */
static bool
backlog_row(void *arg, const PGresult *res, int row)
{
	tp_queue_backlog *out = arg;

	out->batches = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	out->oldest_age_ms = strtoll(PQgetvalue(res, row, 1), NULL, 10);
	if (out->oldest_age_ms < 0)
		out->oldest_age_ms = 0;
	out->needs_resync = strcmp(PQgetvalue(res, row, 2), "t") == 0;
	out->loading = PQgetisnull(res, row, 3) ? 0 : strtoll(PQgetvalue(res, row, 3), NULL, 10);
	return true;
}

/* See queue.h. */
bool
tp_queue_backlog_of(tp_pgsql *pg, const char *target, tp_queue_backlog *out)
{
	const char *params[1] = {target};
	bool		known;

	memset(out, 0, sizeof(*out));
	if (!tp_pgsql_query_bool(pg, "SELECT EXISTS (SELECT 1 FROM teleport.target WHERE name = $1)",
							 1, params, &known))
		return false;
	if (!known)
	{
		tp_error(COMPONENT, "target \"%s\" is not registered in the queue", target);
		return false;
	}
	/* the age is the lag: from the tick that closed the oldest batch */
	return tp_pgsql_query(pg,
						  "SELECT count(b.seq), coalesce(floor(extract(epoch FROM"
						  "  clock_timestamp() - min(coalesce(k.created_at, b.created_at)))"
						  "  * 1000)::bigint, 0), g.needs_resync, g.loading"
						  " FROM teleport.target g"
						  " LEFT JOIN teleport.batch b ON b.target = g.name"
						  "  AND b.acked_at IS NULL"
						  " LEFT JOIN teleport.tick k ON k.id = b.tick_to"
						  " WHERE g.name = $1 GROUP BY g.name, g.needs_resync, g.loading",
						  1, params, backlog_row, out);
}

/*
 * Vacuum
 */

/* Row callback: log a target that lagged past retention. */
static bool
log_resync(void *arg, const PGresult *res, int row)
{
	const int64_t *retention_s = arg;

	tp_error(COMPONENT, "target \"%s\" has lagged for %s s, past queue_retention (%" PRId64
			 " s): it is marked as needing a resync and the queue no longer keeps its "
			 "changes; start a new initial load of this target",
			 PQgetvalue(res, row, 0), PQgetvalue(res, row, 1), *retention_s);
	return true;
}

/*
 * Mark the targets that lag past retention_s as needing a resync: their
 * oldest unacknowledged batch is older than that, or their cursor has been
 * behind the latest tick for that long (nothing cuts them: a target removed
 * from the configuration, or one whose cut keeps failing).
 */
static bool
mark_lagging(tp_pgsql *pg, int64_t retention_s)
{
	char		s_ret[24];
	const char *params[1] = {s_ret};

	snprintf(s_ret, sizeof(s_ret), "%" PRId64, retention_s);
	return tp_pgsql_query(pg,
						  "WITH lag AS (SELECT g.name, least("
						  "  (SELECT min(b.created_at) FROM teleport.batch b"
						  "   WHERE b.target = g.name AND b.acked_at IS NULL),"
						  "  (SELECT min(k.created_at) FROM teleport.tick k"
						  "   WHERE k.id > g.cursor_tick)) AS since"
						  "  FROM teleport.target g WHERE NOT g.needs_resync)"
						  " UPDATE teleport.target g SET needs_resync = true,"
						  " resync_reason = 'lagged past queue_retention'"
						  " FROM lag WHERE g.name = lag.name"
						  " AND lag.since < clock_timestamp() - $1::bigint * interval '1 second'"
						  " RETURNING g.name,"
						  " floor(extract(epoch FROM clock_timestamp() - lag.since))::bigint",
						  1, params, log_resync, &retention_s);
}

/* A list of event table numbers. */
typedef struct table_list
{
	int			nr[N_EVENT_TABLES];
	int			n;
} table_list;

/* Row callback: collect a table number. */
static bool
table_row(void *arg, const PGresult *res, int row)
{
	table_list *tl = arg;

	if (tl->n < N_EVENT_TABLES)
		tl->nr[tl->n++] = atoi(PQgetvalue(res, row, 0));
	return true;
}

/*
 * Bring teleport.event_table in line with the sequence that writers read
 * (a switch interrupted between its setval and its commit), and record the
 * switch xmax of newly retired tables: a snapshot taken now, after the
 * switch, has an xmax above the txid of every transaction that could still
 * read the old table number. *cur is the current table.
 */
static bool
reconcile_tables(tp_pgsql *pg, int *cur)
{
	int64_t		value;
	bool		isnull;
	char		s_cur[8];
	const char *params[1] = {s_cur};

	if (!tp_pgsql_query_int64(pg, "SELECT last_value FROM teleport.current_event_table",
					 0, NULL, &value, &isnull))
		return false;
	*cur = (int) value;
	snprintf(s_cur, sizeof(s_cur), "%d", *cur);
	return tp_pgsql_query(pg,
						  "UPDATE teleport.event_table SET state = 'retired',"
						  " switch_xmax = NULL, switched_at = clock_timestamp()"
						  " WHERE state = 'current' AND nr <> $1::integer",
						  1, params, NULL, NULL) &&
		tp_pgsql_query(pg,
					   "UPDATE teleport.event_table SET state = 'current',"
					   " switch_xmax = NULL, switched_at = clock_timestamp()"
					   " WHERE state <> 'current' AND nr = $1::integer",
					   1, params, NULL, NULL) &&
		tp_pgsql_exec(pg, "UPDATE teleport.event_table"
			" SET switch_xmax = txid_snapshot_xmax(txid_current_snapshot())"
			" WHERE state = 'retired' AND switch_xmax IS NULL");
}

/*
 * TRUNCATE event table nr and mark it free, waiting for its lock at most
 * TRUNCATE_LOCK_TIMEOUT; a table in use is left for the next vacuum.
 */
static bool
truncate_table(tp_pgsql *pg, int nr)
{
	char		s_nr[8];
	const char *params[1] = {s_nr};
	bool		done;

	snprintf(s_nr, sizeof(s_nr), "%d", nr);
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_exec(pg, "SET LOCAL lock_timeout = '" TRUNCATE_LOCK_TIMEOUT "'") ||
		!tp_pgsql_query_bool(pg, "SELECT teleport.truncate_event_table($1::integer)",
							 1, params, &done))
		goto fail;
	if (done &&
		!tp_pgsql_query(pg,
						"UPDATE teleport.event_table SET state = 'free',"
						" switch_xmax = NULL WHERE nr = $1::integer",
						1, params, NULL, NULL))
		goto fail;
	if (!tp_pgsql_exec(pg, "COMMIT"))
		goto fail;
	if (done)
		tp_debug(COMPONENT, "emptied teleport.event_%d", nr);
	else
		tp_debug(COMPONENT, "teleport.event_%d is in use; emptying it later", nr);
	return true;

fail:
	rollback(pg);
	return false;
}

/*
 * Switch writers from the current table cur to the next one when cur holds
 * events, has been current for rotate_ms and the next one is free. The
 * sequence is set last: writers see it at once, even before the commit;
 * reconcile_tables repairs an interrupted switch.
 */
static bool
maybe_switch(tp_pgsql *pg, int cur, int64_t rotate_ms)
{
	int			next = (cur + 1) % N_EVENT_TABLES;
	char		sql[512];
	char		s_cur[8],
				s_next[8],
				s_rot[24];
	const char *params[3] = {s_cur, s_next, s_rot};
	bool		due;

	snprintf(s_cur, sizeof(s_cur), "%d", cur);
	snprintf(s_next, sizeof(s_next), "%d", next);
	snprintf(s_rot, sizeof(s_rot), "%" PRId64, rotate_ms);
	snprintf(sql, sizeof(sql),
			 "SELECT EXISTS (SELECT 1 FROM teleport.event_table c, teleport.event_table n"
			 " WHERE c.nr = $1::integer AND n.nr = $2::integer AND n.state = 'free'"
			 " AND c.switched_at <= clock_timestamp() - $3::bigint * interval '1 millisecond')"
			 " AND EXISTS (SELECT 1 FROM teleport.event_%d)", cur);
	if (!tp_pgsql_query_bool(pg, sql, 3, params, &due))
		return false;
	if (!due)
		return true;
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_query(pg,
						"UPDATE teleport.event_table SET state = 'retired',"
						" switch_xmax = NULL, switched_at = clock_timestamp()"
						" WHERE nr = $1::integer",
						1, params, NULL, NULL) ||
		!tp_pgsql_query(pg,
						"UPDATE teleport.event_table SET state = 'current',"
						" switch_xmax = NULL, switched_at = clock_timestamp()"
						" WHERE nr = $1::integer",
						1, params + 1, NULL, NULL) ||
		!tp_pgsql_query(pg, "SELECT setval('teleport.current_event_table', $1::bigint)",
						1, params + 1, NULL, NULL) ||
		!tp_pgsql_exec(pg, "COMMIT"))
	{
		rollback(pg);
		return false;
	}
	tp_debug(COMPONENT, "switched events from teleport.event_%d to teleport.event_%d",
			 cur, next);
	/* the switch xmax, from a snapshot taken after the switch */
	return reconcile_tables(pg, &cur);
}

/* The body of vacuum, under its advisory lock. */
static bool
vacuum_locked(tp_pgsql *pg, int64_t retention_s, int64_t rotate_ms)
{
	int64_t		needed;
	bool		isnull;
	char		s_needed[24];
	char		s_cur[8];
	const char *params[2] = {s_needed, s_cur};
	table_list	tl = {{0}, 0};
	int			cur;

	if (!mark_lagging(pg, retention_s) ||
		!tp_pgsql_exec(pg, "DELETE FROM teleport.batch WHERE acked_at IS NOT NULL"))
		return false;

	/*
	 * A load's snapshot stops filtering once its target's cursor is past
	 * every transaction it saw, and no batch left to rebuild needs it.
	 */
	if (!tp_pgsql_exec(pg,
					   "UPDATE teleport.load l SET skip = false"
					   " FROM teleport.target g JOIN teleport.tick k ON k.id = g.cursor_tick"
					   " WHERE l.skip AND g.name = l.target AND g.loading IS NULL"
					   " AND txid_snapshot_xmin(k.snapshot) >= txid_snapshot_xmax(l.snapshot)"
					   " AND NOT EXISTS (SELECT 1 FROM teleport.batch b"
					   "  WHERE b.target = g.name AND b.acked_at IS NULL)"))
		return false;

	/*
	 * The oldest tick a target still needs: the start of its oldest
	 * unacknowledged batch (to rebuild it), else its cursor; the latest
	 * tick counts too, for targets registered from now on.
	 */
	if (!tp_pgsql_query_int64(pg,
					 "SELECT min(n) FROM ("
					 " SELECT coalesce((SELECT min(b.tick_from) FROM teleport.batch b"
					 "  WHERE b.target = g.name AND b.acked_at IS NULL), g.cursor_tick) AS n"
					 " FROM teleport.target g WHERE NOT g.needs_resync"
					 " UNION ALL SELECT max(id) FROM teleport.tick) x",
					 0, NULL, &needed, &isnull))
		return false;
	if (isnull)
		return true;			/* no tick yet */
	snprintf(s_needed, sizeof(s_needed), "%" PRId64, needed);
	if (!tp_pgsql_query(pg, "DELETE FROM teleport.tick WHERE id < $1::bigint",
						1, params, NULL, NULL))
		return false;

	/*
	 * A retired table may be emptied when every transaction that could
	 * write into it (txid below its switch xmax) had ended at the needed
	 * tick: all their events are then in acknowledged batches, or in none.
	 */
	if (!reconcile_tables(pg, &cur))
		return false;
	snprintf(s_cur, sizeof(s_cur), "%d", cur);
	if (!tp_pgsql_query(pg,
						"SELECT e.nr FROM teleport.event_table e, teleport.tick k"
						" WHERE k.id = $1::bigint AND e.state = 'retired'"
						" AND e.nr <> $2::integer AND e.switch_xmax IS NOT NULL"
						" AND txid_snapshot_xmin(k.snapshot) >= e.switch_xmax"
						" ORDER BY e.switched_at",
						2, params, table_row, &tl))
		return false;
	for (int i = 0; i < tl.n; i++)
	{
		if (!truncate_table(pg, tl.nr[i]))
			return false;
	}
	return maybe_switch(pg, cur, rotate_ms);
}

/* See queue.h. */
bool
tp_queue_vacuum_with(tp_pgsql *pg, int64_t retention_s, int64_t rotate_ms)
{
	bool		locked;
	bool		ok;

	if (!tp_pgsql_query_bool(pg, "SELECT pg_try_advisory_lock(" LOCK_CLASS ", " LOCK_VACUUM ")",
							 0, NULL, &locked))
		return false;
	if (!locked)
		return true;			/* another instance is at it */
	ok = vacuum_locked(pg, retention_s, rotate_ms);
	rollback(pg);
	if (!tp_pgsql_exec(pg, "SELECT pg_advisory_unlock(" LOCK_CLASS ", " LOCK_VACUUM ")"))
		ok = false;
	return ok;
}

/* See queue.h. */
bool
tp_queue_vacuum(tp_pgsql *pg, int64_t retention_s)
{
	return tp_queue_vacuum_with(pg, retention_s, TP_QUEUE_ROTATE_MS);
}
