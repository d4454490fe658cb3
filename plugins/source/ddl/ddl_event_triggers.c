/*
 * ddl_event_triggers.c
 *     The event triggers of the event-trigger source, and their SQL:
 *     created by that source's install, checked by its poll, dropped by
 *     its uninstall and by the schema-diff source's install (a switch back
 *     to diff mode). Shared so that both DDL sources know them.
 *
 * Objects (in schema teleport, owned by teleport's role, which must be a
 * superuser, or rds_superuser on Amazon RDS, to create event triggers):
 *
 *   event trigger teleport_schema_rewrite (table_rewrite), running
 *   schema_rewrite_trigger()
 *       notes the tables a statement rewrites with new values (a volatile
 *       default filled in, a column converted), for schema_capture at the
 *       statement's end, which sends their rows again in the DDL's
 *       transaction, after its event (plugins/source/ddl/ddl_sql.c)
 *
 *   event triggers teleport_schema_ddl (ddl_command_end) and
 *   teleport_schema_drop (sql_drop), both running
 *   schema_event_trigger()
 *       SECURITY DEFINER (the user's DDL runs it with teleport's rights,
 *       search_path pinned), in plpgsql so that its plans are cached for
 *       the session: collects the objects the statement created, altered
 *       or dropped (pg_event_trigger_ddl_commands,
 *       pg_event_trigger_dropped_objects) and, for an ALTER (which may be
 *       a rename), those that depend on them directly (pg_depend: a
 *       schema's tables when it is renamed, the tables whose foreign keys
 *       name a renamed table); maps each to its OID and to the OID of what
 *       it is a part of (an index's, a constraint's, a default's or an
 *       owned sequence's table, a default's or a domain constraint's
 *       dropped with what it used by the names it had, a composite type's
 *       relation and type, a
 *       rule's view; a table's indexes and constraints, now and as the
 *       snapshot knows them, since an ALTER TABLE may rebuild its indexes
 *       under new OIDs; a multirange type's range type), and calls schema_capture(oids, true) with them, in
 *       the user's transaction: the 'ddl' events get the DDL's transaction
 *       id and come before the rows that transaction writes after the DDL.
 *       Only those objects are described, never the whole catalog; deeper
 *       dependencies (a column typed by a type of a renamed schema) are
 *       left to the source's safety diff. It then remakes, in the same
 *       transaction, the trigger source's capture triggers of the tables
 *       the statement made stale: renamed, or needing text mode (a column
 *       of json, jsonb, xml, an array or a composite added; see the
 *       function; a renamed schema's tables are locked for it). Objects
 *       in schema teleport, temporary objects and
 *       triggers (the trigger source's own DDL) are skipped before
 *       anything is locked, so a temporary table costs no lock. It does
 *       nothing before the first snapshot (install takes it after creating
 *       the triggers, under the same lock), nothing when schema_capture is
 *       gone (an uninstall in progress), and remakes no trigger when the
 *       trigger source's functions are missing (not installed, or being
 *       uninstalled): it never makes a user's DDL fail for want of
 *       teleport's objects.
 *
 * The function carries a version in its comment: install changes nothing
 * when the version and the three triggers are there, so a restart is no DDL.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "ddl.h"

/* The version of the event-trigger objects, in the function's comment. */
#define EVT_VERSION_TEXT "teleport event-trigger source, version 8"

/*
 * Whether the name (an SQL text expression) is one a capture trigger of
 * the trigger source may have (its IS_CAPTURE_TRIGGER, in
 * plugins/source/trigger/trigger_sql.c): a partitioned table's row
 * trigger is named with its OID.
 */
#define IS_CAPTURE_TRIGGER(name) \
	"(" name " = ANY (ARRAY['teleport_capture', 'teleport_capture_update'," \
	" 'teleport_capture_insert', 'teleport_capture_delete'," \
	" 'teleport_capture_text', 'teleport_capture_truncate'," \
	" 'teleport_capture_stmt_a', 'teleport_capture_stmt_b'," \
	" 'teleport_capture_root', 'teleport_capture_text_root']::text[])" \
	" OR " name " ~ '^teleport_capture_(text_)?root_[0-9]+$')"

#define EVT_DDL "teleport_schema_ddl"
#define EVT_DROP "teleport_schema_drop"
#define EVT_REWRITE "teleport_schema_rewrite"

/* The objects, created or replaced in one transaction under the lock. */
static const char evt_sql_create[] =
	"CREATE OR REPLACE FUNCTION teleport.schema_event_trigger()\n"
	"RETURNS event_trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	v_stale record;\n"
	"	v_relid oid;\n"
	"	v_timeout text;\n"
	"	v_classids oid[];\n"
	"	v_objids oid[];\n"
	"	v_oids oid[];\n"
	"BEGIN\n"
	"	IF to_regprocedure('teleport.schema_capture(oid[], boolean)') IS NULL\n"
	"		OR to_regclass('teleport.schema_state') IS NULL THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	"	IF TG_EVENT = 'sql_drop' THEN\n"
	"		WITH d AS (\n"
	"			SELECT d.classid, d.objid, d.object_type, d.address_names\n"
	"			FROM pg_event_trigger_dropped_objects() d\n"
	"			WHERE NOT d.is_temporary AND d.classid <> 'pg_trigger'::regclass\n"
	"				AND d.schema_name IS DISTINCT FROM 'teleport'\n"
	"				AND NOT (d.classid = 'pg_namespace'::regclass AND d.object_name = 'teleport'))\n"
	"		SELECT array_agg(o.classid), array_agg(o.objid) INTO v_classids, v_objids\n"
	"		FROM (SELECT d.classid, d.objid FROM d\n"
	/*
	 * a column's default dropped with what it used (DROP SEQUENCE ...
	 * CASCADE): its pg_attrdef row is gone, its table is named
	 */
	"			UNION ALL\n"
	"			SELECT 'pg_class'::regclass, c.oid FROM d\n"
	"			JOIN pg_namespace n ON n.nspname = d.address_names[1]\n"
	"			JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = d.address_names[2]\n"
	"			WHERE d.classid = 'pg_attrdef'::regclass AND d.object_type = 'default value'\n"
	"				AND cardinality(d.address_names) = 3\n"
	/*
	 * a domain's constraint dropped with a function it called (DROP
	 * FUNCTION ... CASCADE): its domain, by its qualified name
	 */
	"			UNION ALL\n"
	"			SELECT 'pg_type'::regclass, to_regtype(d.address_names[1])::oid FROM d\n"
	"			WHERE d.classid = 'pg_constraint'::regclass AND d.object_type = 'domain constraint'\n"
	"				AND cardinality(d.address_names) = 1\n"
	"				AND to_regtype(d.address_names[1]) IS NOT NULL) o;\n"
	"	ELSE\n"
	"		WITH c AS (\n"
	"			SELECT d.classid, d.objid, d.command_tag LIKE 'ALTER %' AS alter\n"
	"			FROM pg_event_trigger_ddl_commands() d\n"
	"			WHERE d.objid IS NOT NULL AND d.classid <> 'pg_trigger'::regclass\n"
	"				AND d.schema_name IS DISTINCT FROM 'teleport'\n"
	"				AND d.schema_name IS DISTINCT FROM 'pg_temp'),\n"
	"		o AS (\n"
	"			SELECT c.classid, c.objid FROM c\n"
	"			UNION\n"
	/* an ALTER may be a rename: what depends on the object directly */
	"			SELECT p.classid, p.objid FROM c\n"
	"			JOIN pg_depend p ON p.refclassid = c.classid AND p.refobjid = c.objid\n"
	"			WHERE c.alter AND p.classid <> 'pg_trigger'::regclass\n"
	/*
	 * and the partitions of an altered partitioned table as the snapshot
	 * knows them: a partition detached is a table of its own again
	 */
	"			UNION\n"
	"			SELECT 'pg_class'::regclass, (e.p ->> 'oid')::oid FROM c\n"
	"			JOIN teleport.schema_snapshot s ON s.kind = 'table' AND s.oid = c.objid\n"
	"			CROSS JOIN LATERAL json_array_elements(CASE WHEN json_typeof(\n"
	"				s.description -> 'partitions') = 'array' THEN s.description -> 'partitions'\n"
	"				ELSE '[]' END) e(p)\n"
	"			WHERE c.alter AND c.classid = 'pg_class'::regclass)\n"
	"		SELECT array_agg(o.classid), array_agg(o.objid) INTO v_classids, v_objids FROM o;\n"
	"	END IF;\n"
	"	IF v_objids IS NULL THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	/* each object, and the one it is a part of */
	"	WITH o(classid, objid) AS (SELECT * FROM unnest(v_classids, v_objids))\n"
	"	SELECT array_agg(DISTINCT m.oid) INTO v_oids FROM (\n"
	"		SELECT o.objid FROM o\n"
	"		UNION ALL\n"
	"		SELECT i.indrelid FROM o JOIN pg_index i ON i.indexrelid = o.objid\n"
	"		WHERE o.classid = 'pg_class'::regclass\n"
	"		UNION ALL\n"
	"		SELECT p.refobjid FROM o JOIN pg_depend p ON p.classid = o.classid AND p.objid = o.objid\n"
	"		WHERE o.classid = 'pg_class'::regclass AND p.refclassid = 'pg_class'::regclass\n"
	"			AND p.refobjsubid > 0 AND p.deptype IN ('a', 'i')\n"
	"		UNION ALL\n"
	"		SELECT c.reltype FROM o JOIN pg_class c ON c.oid = o.objid\n"
	"		WHERE o.classid = 'pg_class'::regclass AND c.relkind = 'c'\n"
	"		UNION ALL\n"
	"		SELECT t.typrelid FROM o JOIN pg_type t ON t.oid = o.objid\n"
	"		WHERE o.classid = 'pg_type'::regclass AND t.typrelid <> 0\n"	/* a multirange's range, whose description names it */
	"		UNION ALL\n"
	"		SELECT r.rngtypid FROM o JOIN pg_range r ON r.rngmultitypid = o.objid\n"
	"		WHERE o.classid = 'pg_type'::regclass\n"
	"		UNION ALL\n"
	"		SELECT CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END\n"
	"		FROM o JOIN pg_constraint k ON k.oid = o.objid\n"
	"		WHERE o.classid = 'pg_constraint'::regclass\n"
	"		UNION ALL\n"
	"		SELECT a.adrelid FROM o JOIN pg_attrdef a ON a.oid = o.objid\n"
	"		WHERE o.classid = 'pg_attrdef'::regclass\n"
	"		UNION ALL\n"
	"		SELECT r.ev_class FROM o JOIN pg_rewrite r ON r.oid = o.objid\n"
	"		WHERE o.classid = 'pg_rewrite'::regclass\n"
	/*
	 * a partition's partitioned tables, whose descriptions list it: now
	 * (one created or altered), and as the snapshot knows them (one
	 * dropped; only descriptions that list partitions are parsed)
	 */
	"		UNION ALL\n"
	"		SELECT a.relid FROM o CROSS JOIN LATERAL pg_partition_ancestors(o.objid) a\n"
	"		WHERE o.classid = 'pg_class'::regclass AND a.relid <> o.objid\n"
	"		UNION ALL\n"
	"		SELECT s.oid FROM teleport.schema_snapshot s\n"
	"		WHERE TG_EVENT = 'sql_drop' AND s.kind = 'table'\n"
	"			AND s.description::text LIKE '%\"partitions\" : [{%'\n"
	"			AND EXISTS (SELECT 1 FROM o, json_array_elements(s.description -> 'partitions') e\n"
	"				WHERE o.classid = 'pg_class'::regclass AND (e ->> 'oid')::oid = o.objid)\n"
	/*
	 * a table's parts, now and as the snapshot knows them: an ALTER TABLE
	 * may rebuild its indexes under new OIDs (a column's type changed)
	 */
	"		UNION ALL\n"
	"		SELECT i.indexrelid FROM o JOIN pg_index i ON i.indrelid = o.objid\n"
	"		WHERE o.classid = 'pg_class'::regclass\n"
	"		UNION ALL\n"
	"		SELECT k.oid FROM o JOIN pg_constraint k ON k.conrelid = o.objid\n"
	"		WHERE o.classid = 'pg_class'::regclass\n"
	"		UNION ALL\n"
	"		SELECT x.oid FROM o\n"
	"		JOIN teleport.schema_snapshot t ON t.kind = 'table' AND t.oid = o.objid\n"
	"		JOIN teleport.schema_snapshot x ON x.kind <> 'table'\n"
	"			AND x.schema_name = t.schema_name AND x.description ->> 'table' = t.object_name\n"
	"		WHERE o.classid = 'pg_class'::regclass) m(oid);\n"
	/* the lock schema_capture takes: orders this with install's first snapshot */
	"	PERFORM pg_advisory_xact_lock_shared(hashtext('teleport.schema_capture'));\n"
	"	IF EXISTS (SELECT 1 FROM teleport.schema_state WHERE first_snapshot_at IS NOT NULL) THEN\n"
	"		PERFORM teleport.schema_capture(v_oids, true);\n"
	"	END IF;\n"
	/*
	 * The trigger source's capture triggers carry a table's names and key
	 * as arguments, and their function is the table's capture mode. Remake
	 * those this statement made stale, so that the rows written after it
	 * in this transaction carry the new names and exact values: a table or
	 * key column renamed; or a set of triggers other than the one
	 * teleport.trigger_wanted asks for (a column of json, jsonb, xml, an
	 * array or a composite added or retyped: text mode; a table that
	 * joined an inheritance tree: no statement triggers). Whether the
	 * table has statement triggers stands for the trigger source's option
	 * statement_triggers. A table in text mode is left in it, even with no
	 * such column left: text mode is exact for every type (json mode only
	 * saves CPU), and the option cannot be read from a text-mode table's
	 * triggers; the trigger source's next poll takes it back to json mode.
	 * Only on tables this transaction already holds as strongly as DROP
	 * TRIGGER needs (ACCESS EXCLUSIVE: a rename does, and an ALTER TABLE
	 * that adds or retypes a column), and for a new set also their
	 * partitions (the triggers are cloned there; that ALTER TABLE holds
	 * them too), so that it never waits for a lock here; except for a
	 * schema renamed (ALTER SCHEMA holds no table): its captured tables are
	 * locked here (with their partitions), each waiting at most 1 s
	 * (lock_timeout; a deadlock gives up too), which also orders the
	 * transactions that wrote them under the old name before this one. A
	 * table not locked so, and a set made stale by DDL the event triggers
	 * did not see, is the trigger source's next poll (or the safety diff's,
	 * a full schema_capture, which remakes a table renamed or turned text
	 * mode as in diff mode).
	 */
	"	IF TG_EVENT = 'ddl_command_end'\n"
	"		AND to_regclass('teleport.trigger_table') IS NOT NULL\n"
	"		AND to_regprocedure('teleport.trigger_install_table(oid, text, text, text[],"
	" boolean, boolean)') IS NOT NULL\n"
	"		AND to_regprocedure('teleport.trigger_wanted(oid, boolean)') IS NOT NULL THEN\n"
	"		IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() d\n"
	"				   WHERE d.classid = 'pg_namespace'::regclass AND d.command_tag = 'ALTER SCHEMA') THEN\n"
	"			v_timeout := current_setting('lock_timeout');\n"
	"			FOR v_relid IN\n"
	"				SELECT t.relid FROM teleport.trigger_table t\n"
	"				JOIN pg_class c ON c.oid = t.relid\n"
	"				JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"				WHERE t.relid = ANY (v_oids) AND t.schema_name IS DISTINCT FROM n.nspname::text\n"
	"				ORDER BY t.relid\n"
	"			LOOP\n"
	"				BEGIN\n"
	"					PERFORM set_config('lock_timeout', '1s', true);\n"
	"					EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', v_relid::regclass);\n"
	"					PERFORM set_config('lock_timeout', v_timeout, true);\n"
	"				EXCEPTION WHEN lock_not_available OR deadlock_detected THEN\n"
	"					NULL;\n"
	"				END;\n"
	"			END LOOP;\n"
	"		END IF;\n"
	"		FOR v_stale IN\n"
	"			WITH held AS MATERIALIZED (\n"
	"				SELECT l.relation, l.mode FROM pg_locks l\n"
	"				WHERE l.locktype = 'relation' AND l.pid = pg_backend_pid() AND l.granted\n"
	"					AND l.database = (SELECT d.oid FROM pg_database d\n"
	"									  WHERE d.datname = current_database()))\n"
	"			SELECT t.relid, n.nspname::text AS schema_name, c.relname::text AS table_name,\n"
	"				k.keys, g.statement\n"
	"			FROM teleport.trigger_table t\n"
	"			JOIN pg_class c ON c.oid = t.relid\n"
	"			JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"			CROSS JOIN LATERAL (SELECT teleport.trigger_table_keys(t.relid) AS keys) k\n"
	"			CROSS JOIN LATERAL (\n"
	"				SELECT array_agg(x.tgname::text ORDER BY x.tgname) AS names,\n"
	"					coalesce(bool_or(x.tgname = 'teleport_capture_insert'), false) AS statement,\n"
	"					coalesce(bool_or(x.tgname::text ~ '^teleport_capture_text(_root(_[0-9]+)?)?$'),\n"
	"						false) AS text\n"
	"				FROM pg_trigger x\n"
	"				WHERE x.tgrelid = t.relid\n"
	"					AND " IS_CAPTURE_TRIGGER("x.tgname::text") ") g\n"
	"			WHERE t.relid = ANY (v_oids) AND k.keys IS NOT NULL\n"
	"				AND EXISTS (SELECT 1 FROM held h WHERE h.relation = t.relid\n"
	"					AND h.mode = 'AccessExclusiveLock')\n"
	"				AND ((t.schema_name, t.table_name, t.key_columns)\n"
	"						IS DISTINCT FROM (n.nspname::text, c.relname::text, k.keys)\n"
	"					OR (NOT g.text AND c.relkind IN ('r', 'p') AND NOT c.relispartition\n"
	"						AND g.names IS DISTINCT FROM teleport.trigger_wanted(t.relid, g.statement)\n"
	"						AND NOT EXISTS (SELECT 1 FROM pg_partition_tree(t.relid) p\n"
	"							WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.relation = p.relid\n"
	"								AND h.mode = 'AccessExclusiveLock'))))\n"
	"		LOOP\n"
	"			PERFORM teleport.trigger_install_table(v_stale.relid, v_stale.schema_name,\n"
	"				v_stale.table_name, v_stale.keys, false, v_stale.statement);\n"
	"		END LOOP;\n"
	"	END IF;\n"
	"END\n"
	"$body$;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_event_trigger() FROM PUBLIC;\n"

	/*
	 * The tables a statement rewrites with values it computes (a default
	 * filled in, a column converted; not a change of persistence or access
	 * method, which keeps the values), for schema_capture at the
	 * statement's ddl_command_end, which sends their rows again
	 * (teleport.schema_resend_rows). Kept in the session setting
	 * teleport.rewritten as "TXID: OID OID ...": set at session level,
	 * since a transaction-local setting made inside a function with a SET
	 * clause is undone when it returns; rolled back with the transaction
	 * or savepoint that made it; a value of another transaction is
	 * stale. Not SECURITY DEFINER: it touches nothing of teleport's.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_rewrite_trigger()\n"
	"RETURNS event_trigger\n"
	"LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	v_tag text := txid_current()::text || ':';\n"
	"	v_cur text := current_setting('teleport.rewritten', true);\n"
	"BEGIN\n"
	"	IF pg_event_trigger_table_rewrite_reason() & 6 <> 0 THEN\n"
	"		IF v_cur IS NULL OR NOT starts_with(v_cur, v_tag) THEN\n"
	"			v_cur := v_tag;\n"
	"		END IF;\n"
	"		PERFORM set_config('teleport.rewritten',\n"
	"			v_cur || ' ' || pg_event_trigger_table_rewrite_oid()::text, false);\n"
	"	END IF;\n"
	"END\n"
	"$body$;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_rewrite_trigger() FROM PUBLIC;\n"
	"COMMENT ON FUNCTION teleport.schema_event_trigger() IS '" EVT_VERSION_TEXT "';\n"
	"DO $do$\n"
	"BEGIN\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '" EVT_DDL "') THEN\n"
	"		CREATE EVENT TRIGGER " EVT_DDL " ON ddl_command_end\n"
	"			EXECUTE FUNCTION teleport.schema_event_trigger();\n"
	"	END IF;\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '" EVT_DROP "') THEN\n"
	"		CREATE EVENT TRIGGER " EVT_DROP " ON sql_drop\n"
	"			EXECUTE FUNCTION teleport.schema_event_trigger();\n"
	"	END IF;\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = '" EVT_REWRITE "') THEN\n"
	"		CREATE EVENT TRIGGER " EVT_REWRITE " ON table_rewrite\n"
	"			EXECUTE FUNCTION teleport.schema_rewrite_trigger();\n"
	"	END IF;\n"
	"END\n"
	"$do$";

/* One value: whether the objects are there at this version. */
static const char evt_sql_current[] =
	"SELECT pg_catalog.obj_description(pg_catalog.to_regprocedure("
	"'teleport.schema_event_trigger()'), 'pg_proc') IS NOT DISTINCT FROM '" EVT_VERSION_TEXT "'"
	" AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_event_trigger"
	"  WHERE evtname IN ('" EVT_DDL "', '" EVT_DROP "', '" EVT_REWRITE "')) = 3";

/* One value: whether the three triggers exist, fire, and run teleport's functions. */
static const char evt_sql_in_place[] =
	"SELECT pg_catalog.count(*) = 3 FROM pg_catalog.pg_event_trigger"
	" WHERE evtenabled IN ('O', 'A')"
	" AND ((evtname IN ('" EVT_DDL "', '" EVT_DROP "')"
	"   AND evtfoid = pg_catalog.to_regprocedure('teleport.schema_event_trigger()'))"
	"  OR (evtname = '" EVT_REWRITE "'"
	"   AND evtfoid = pg_catalog.to_regprocedure('teleport.schema_rewrite_trigger()')))";

/* The triggers first: a trigger without its function would break all DDL. */
static const char evt_sql_drop[] =
	"DROP EVENT TRIGGER IF EXISTS " EVT_DDL ";\n"
	"DROP EVENT TRIGGER IF EXISTS " EVT_DROP ";\n"
	"DROP EVENT TRIGGER IF EXISTS " EVT_REWRITE ";\n"
	"DROP FUNCTION IF EXISTS teleport.schema_event_trigger();\n"
	"DROP FUNCTION IF EXISTS teleport.schema_rewrite_trigger()";

static const char evt_sql_begin[] =
	"BEGIN; SET LOCAL lock_timeout = '5s'; SET LOCAL client_min_messages = warning;"
	" SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('teleport.schema'))";

/*
 * Run sql in the open transaction. On insufficient_privilege, roll back,
 * copy the server's message into denied and return TP_OK; other failures
 * as ddl_fail.
 */
static tp_result
exec_or_denied(tp_plugin_ctx *ctx, PGconn *conn, const char *sql,
			   const char *doing, char *denied, size_t denied_len)
{
	PGresult   *res = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(res);
	const char *state;

	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
	{
		PQclear(res);
		return TP_OK;
	}
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL || strcmp(state, "42501") != 0)
		return ddl_fail(ctx, conn, res, doing);
	snprintf(denied, denied_len, "%s",
			 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
			 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "permission denied");
	PQclear(res);
	PQclear(PQexec(conn, "ROLLBACK"));
	return TP_OK;
}

/*
 * The one boolean value of sql into *value, in the open transaction or
 * outside one. Results as ddl_fail.
 */
static tp_result
query_bool(tp_plugin_ctx *ctx, PGconn *conn, const char *sql,
		   const char *doing, bool *value)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return ddl_fail(ctx, conn, res, doing);
	*value = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return TP_OK;
}

/* See ddl.h. */
tp_result
ddl_event_triggers_install(tp_plugin_ctx *ctx, PGconn *conn, char *denied,
						   size_t denied_len)
{
	const char *doing = "create the event triggers of the schema capture";
	bool		current = false;
	tp_result	r;

	denied[0] = '\0';
	if ((r = ddl_exec(ctx, conn, evt_sql_begin, doing)) != TP_OK ||
		(r = query_bool(ctx, conn, evt_sql_current, doing, &current)) != TP_OK)
		return r;
	if (!current)
	{
		r = exec_or_denied(ctx, conn, evt_sql_create, doing, denied, denied_len);
		if (r != TP_OK || denied[0] != '\0')
			return r;
	}
	return ddl_exec(ctx, conn, "COMMIT", doing);
}

/* See ddl.h. */
tp_result
ddl_event_triggers_check(tp_plugin_ctx *ctx, PGconn *conn, bool *in_place)
{
	*in_place = false;
	return query_bool(ctx, conn, evt_sql_in_place,
					  "check the event triggers of the schema capture", in_place);
}

/* See ddl.h. */
tp_result
ddl_event_triggers_drop(tp_plugin_ctx *ctx, PGconn *conn, char *denied,
						size_t denied_len)
{
	const char *doing = "drop the event triggers of the schema capture";
	tp_result	r;

	denied[0] = '\0';
	if ((r = ddl_exec(ctx, conn, evt_sql_begin, doing)) != TP_OK)
		return r;
	r = exec_or_denied(ctx, conn, evt_sql_drop, doing, denied, denied_len);
	if (r != TP_OK || denied[0] != '\0')
		return r;
	return ddl_exec(ctx, conn, "COMMIT", doing);
}
