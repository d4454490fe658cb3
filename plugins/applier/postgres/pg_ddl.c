/*
 * pg_ddl.c
 *     Schema change events applied to the target: the statements are
 *     computed from the object's description before and after the change
 *     (docs/schema.md) by a query on the target itself, which quotes every
 *     identifier with format('%I'), and sent in the batch's transaction.
 *
 * Every object goes into the target's apply_schema, as row changes do:
 *
 *   schema  created: CREATE SCHEMA IF NOT EXISTS apply_schema (what the
 *           seed did); renamed or dropped: nothing, since every source
 *           schema maps onto apply_schema, which may hold other things
 *   enum    created, values added (ahead of the batch's transaction when
 *           possible: pg_ddl_enum.c) and renamed, renamed, dropped
 *   composite  created, renamed, attributes added, dropped, renamed and
 *           retyped, dropped (pg_ddl_composite.c)
 *   sequence   (standalone) created, renamed, parameters changed, dropped
 *           (pg_ddl_sequence.c)
 *   index   created, renamed, dropped (pg_ddl_index.c)
 *   table   created (columns, defaults, NOT NULL, identity, generated
 *           columns, the sequences of serial columns, the primary key),
 *           dropped, renamed; columns added, dropped, renamed (same
 *           attnum, new name), retyped (USING col::newtype), defaults,
 *           NOT NULL and identity changed; primary key changed
 *
 * CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS and DROP ... IF
 * EXISTS make a table or column created on the target by hand (as before
 * schema replication, or to mend a held batch) no obstacle; every
 * other statement fails when the target does not match the description
 * before the change, and the failure holds the batch like a row failure.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/*
 * The statements of a table's change, in order. $1 apply_schema, $2 the
 * ddl object ({"type":"table","oid":..,"before":..,"after":..}). Columns
 * are matched by attnum, so a rename is a rename.
 */
static const char table_ddl_sql[] =
	"WITH x AS (\n"
	"	SELECT $1::pg_catalog.text AS s,\n"
	"		CASE WHEN pg_catalog.json_typeof($2::pg_catalog.json -> 'before') = 'object'\n"
	"			THEN $2::pg_catalog.json -> 'before' END AS b,\n"
	"		CASE WHEN pg_catalog.json_typeof($2::pg_catalog.json -> 'after') = 'object'\n"
	"			THEN $2::pg_catalog.json -> 'after' END AS a),\n"
	"t AS (\n"
	"	SELECT s, b, a,\n"
	"		CASE WHEN b IS NOT NULL THEN pg_catalog.format('%I.%I', s, b ->> 'name') END AS qb,\n"
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format('%I.%I', s, a ->> 'name') END AS qa,\n"
	"		CASE WHEN pg_catalog.json_typeof(b -> 'primary_key') = 'object'\n"
	"			THEN b -> 'primary_key' END AS pkb,\n"
	"		CASE WHEN pg_catalog.json_typeof(a -> 'primary_key') = 'object'\n"
	"			THEN a -> 'primary_key' END AS pka\n"
	"	FROM x),\n"
	"cb AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.b -> 'columns', '[]')) AS c),\n"
	"ca AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c, m.dflt, y.ty,\n"
	"		pg_catalog.format('%I %s', c ->> 'name', y.ty) ||\n"
	"		CASE WHEN c ->> 'generated' IS NOT NULL\n"
	"				THEN pg_catalog.format(' GENERATED ALWAYS AS (%s) STORED', c ->> 'generated')\n"
	"			WHEN c ->> 'identity' IS NOT NULL\n"
	"				THEN pg_catalog.format(' GENERATED %s AS IDENTITY', pg_catalog.upper(c ->> 'identity'))\n"
	"			WHEN m.dflt IS NOT NULL THEN ' DEFAULT ' || m.dflt\n"
	"			ELSE '' END ||\n"
	"		CASE WHEN (c ->> 'not_null')::pg_catalog.bool THEN ' NOT NULL' ELSE '' END AS def\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.a -> 'columns', '[]')) AS c\n"
	/* a type of the source's schemas is apply_schema's (docs/schema.md) */
	"	CROSS JOIN LATERAL (SELECT CASE WHEN c -> 'user_type' ->> 'name' IS NOT NULL\n"
	"		THEN pg_catalog.format('%I.%I', t.s, c -> 'user_type' ->> 'name') ||\n"
	"			CASE WHEN (c -> 'user_type' ->> 'array')::pg_catalog.bool THEN '[]' ELSE '' END\n"
	"		ELSE c ->> 'type' END AS ty) AS y\n"
	"	CROSS JOIN LATERAL (SELECT CASE\n"
	"		WHEN c ->> 'sequence' IS NOT NULL AND c ->> 'default' LIKE 'nextval(%'\n"
	"		THEN pg_catalog.format('nextval(%L::regclass)',\n"
	"							   pg_catalog.format('%I.%I', t.s, c ->> 'sequence'))\n"
	/* nextval of another sequence: apply_schema's of that name */
	"		WHEN c ->> 'default' ~ '^nextval\\(''[^'']+''::regclass\\)$'\n"
	"		THEN pg_catalog.format('nextval(%L::regclass)', pg_catalog.format('%I.%I', t.s,\n"
	"			(SELECT p[pg_catalog.array_upper(p, 1)] FROM pg_catalog.parse_ident(\n"
	"				pg_catalog.substring(c ->> 'default', '^nextval\\(''([^'']+)''')) AS p)))\n"
	"		WHEN c -> 'user_type' ->> 'name' IS NOT NULL\n"
	"		THEN pg_catalog.replace(c ->> 'default',\n"
	"			pg_catalog.format('%I.%I', c -> 'user_type' ->> 'schema', c -> 'user_type' ->> 'name'),\n"
	"			pg_catalog.format('%I.%I', t.s, c -> 'user_type' ->> 'name'))\n"
	"		ELSE c ->> 'default' END AS dflt) AS m),\n"
	"cols AS (\n"
	"	SELECT coalesce(cb.attnum, ca.attnum) AS attnum, cb.c AS bc, ca.c AS ac,\n"
	"		ca.def, ca.dflt, ca.ty,\n"
	"		CASE WHEN cb.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	"				AND ca.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	/* the type's rename is the type's event, applied before */
	"			THEN (cb.c -> 'user_type' ->> 'oid') <> (ca.c -> 'user_type' ->> 'oid')\n"
	"				OR (cb.c -> 'user_type' ->> 'array') <> (ca.c -> 'user_type' ->> 'array')\n"
	"			ELSE (cb.c ->> 'type') IS DISTINCT FROM (ca.c ->> 'type') END AS retyped\n"
	"	FROM cb FULL JOIN ca ON ca.attnum = cb.attnum),\n"
	"pkcols AS (\n"
	"	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(ca.c ->> 'name'), ', '\n"
	"								 ORDER BY u.ord) AS list\n"
	"	FROM t, pg_catalog.json_array_elements_text(t.pka -> 'columns')\n"
	"		WITH ORDINALITY AS u(attnum, ord)\n"
	"	JOIN ca ON ca.attnum = u.attnum::pg_catalog.int4),\n"
	"st(ord, sub, stmt) AS (\n"
	/* a drop */
	"	SELECT 0, 0, pg_catalog.format('DROP TABLE IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	/* the sequences of new serial columns */
	"	UNION ALL\n"
	"	SELECT 10, c.attnum, pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %I.%I',\n"
	"		t.s, c.ac ->> 'sequence')\n"
	"	FROM t, cols c WHERE c.ac ->> 'sequence' IS NOT NULL\n"
	"		AND (c.ac ->> 'sequence') IS DISTINCT FROM (c.bc ->> 'sequence')\n"
	/* a creation */
	"	UNION ALL\n"
	"	SELECT 20, 0, pg_catalog.format('CREATE TABLE IF NOT EXISTS %s (%s)', t.qa,\n"
	"		pg_catalog.concat_ws(', ',\n"
	"			(SELECT pg_catalog.string_agg(ca.def, ', ' ORDER BY ca.attnum) FROM ca),\n"
	"			(SELECT pg_catalog.format('CONSTRAINT %I PRIMARY KEY (%s)',\n"
	"				t.pka ->> 'name', p.list) FROM pkcols p WHERE t.pka IS NOT NULL)))\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	/* a change: the table's name first, then what refers to it by it */
	"	UNION ALL\n"
	"	SELECT 30, 0, pg_catalog.format('ALTER TABLE %s RENAME TO %I', t.qb, t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 40, 0, pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I',\n"
	"		t.qa, t.pkb ->> 'name')\n"
	"	FROM t WHERE t.a IS NOT NULL AND t.pkb IS NOT NULL\n"
	"		AND (t.pka IS NULL OR (t.pka -> 'columns')::pg_catalog.text\n"
	"			 <> (t.pkb -> 'columns')::pg_catalog.text)\n"
	"	UNION ALL\n"
	"	SELECT 41, 0, pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',\n"
	"		t.qa, t.pkb ->> 'name', t.pka ->> 'name')\n"
	"	FROM t WHERE t.pkb IS NOT NULL AND t.pka IS NOT NULL\n"
	"		AND (t.pka -> 'columns')::pg_catalog.text = (t.pkb -> 'columns')::pg_catalog.text\n"
	"		AND t.pka ->> 'name' <> t.pkb ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 50, c.attnum, pg_catalog.format('ALTER TABLE %s DROP COLUMN IF EXISTS %I',\n"
	"		t.qa, c.bc ->> 'name')\n"
	"	FROM t, cols c WHERE t.a IS NOT NULL AND c.bc IS NOT NULL AND c.ac IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 60, c.attnum, pg_catalog.format('ALTER TABLE %s RENAME COLUMN %I TO %I',\n"
	"		t.qa, c.bc ->> 'name', c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.bc ->> 'name' <> c.ac ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 70, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT',\n"
	"		t.qa, c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.bc ->> 'default' IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND (c.retyped OR (c.bc ->> 'default') IS DISTINCT FROM (c.ac ->> 'default'))\n"
	"	UNION ALL\n"
	"	SELECT 71, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY IF EXISTS',\n"
	"		t.qa, c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.bc ->> 'identity' IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND c.ac ->> 'identity' IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 72, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP EXPRESSION IF EXISTS',\n"
	"		t.qa, c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.bc ->> 'generated' IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND c.ac ->> 'generated' IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 80, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s',\n"
	"		t.qa, c.ac ->> 'name', c.ty, c.ac ->> 'name', c.ty)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL AND c.retyped\n"
	"	UNION ALL\n"
	"	SELECT 85, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s NOT NULL',\n"
	"		t.qa, c.ac ->> 'name',\n"
	"		CASE WHEN (c.ac ->> 'not_null')::pg_catalog.bool THEN 'SET' ELSE 'DROP' END)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND (c.bc ->> 'not_null') <> (c.ac ->> 'not_null')\n"
	"	UNION ALL\n"
	"	SELECT 90, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s',\n"
	"		t.qa, c.ac ->> 'name', c.dflt)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.dflt IS NOT NULL\n"
	"		AND c.ac ->> 'generated' IS NULL\n"
	"		AND (c.retyped OR (c.bc ->> 'default') IS DISTINCT FROM (c.ac ->> 'default'))\n"
	"	UNION ALL\n"
	"	SELECT 91, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s GENERATED %s%s',\n"
	"		t.qa, c.ac ->> 'name',\n"
	"		CASE WHEN c.bc ->> 'identity' IS NULL THEN 'ADD' ELSE 'SET' END,\n"
	"		pg_catalog.upper(c.ac ->> 'identity'),\n"
	"		CASE WHEN c.bc ->> 'identity' IS NULL THEN ' AS IDENTITY' ELSE '' END)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac ->> 'identity' IS NOT NULL\n"
	"		AND (c.bc ->> 'identity') IS DISTINCT FROM (c.ac ->> 'identity')\n"
	"	UNION ALL\n"
	"	SELECT 100, c.attnum, pg_catalog.format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s', t.qa, c.def)\n"
	"	FROM t, cols c WHERE t.b IS NOT NULL AND c.bc IS NULL AND c.ac IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 110, c.attnum, pg_catalog.format('ALTER SEQUENCE %I.%I OWNED BY %s.%I',\n"
	"		t.s, c.ac ->> 'sequence', t.qa, c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.ac ->> 'sequence' IS NOT NULL\n"
	"		AND (c.ac ->> 'sequence') IS DISTINCT FROM (c.bc ->> 'sequence')\n"
	"	UNION ALL\n"
	"	SELECT 120, 0, pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%s)',\n"
	"		t.qa, t.pka ->> 'name', p.list)\n"
	"	FROM t, pkcols p WHERE t.b IS NOT NULL AND t.pka IS NOT NULL\n"
	"		AND (t.pkb IS NULL OR (t.pka -> 'columns')::pg_catalog.text\n"
	"			 <> (t.pkb -> 'columns')::pg_catalog.text))\n"
	"SELECT stmt FROM st ORDER BY ord, sub";

/* See postgres.h. */
bool
pg_ddl_kind_known(const char *type)
{
	return strcmp(type, "schema") == 0 || strcmp(type, "table") == 0 ||
		strcmp(type, "enum") == 0 || strcmp(type, "composite") == 0 ||
		strcmp(type, "sequence") == 0 || strcmp(type, "index") == 0;
}

/*
 * Send the statements of rows of res (a statement, and optionally whether
 * to run it ahead of the batch's transaction: pg_ahead.c; when that fails
 * it is sent in the transaction too), described by what. A NULL statement
 * (a description without what it needs) fails ex.
 */
static void
send_statements(pg_applier *a, pg_exec *ex, const PGresult *res, const char *what)
{
	for (int i = 0; i < PQntuples(res) && !ex->failed; i++)
	{
		char		desc[1024];

		if (PQgetisnull(res, i, 0))
		{
			/* a description lacking what the statement needs */
			ex->failed = true;
			snprintf(ex->error, sizeof(ex->error), "%s: the description lacks what "
					 "its statement needs", what);
			return;
		}
		if (PQnfields(res) > 1 && strcmp(PQgetvalue(res, i, 1), "t") == 0)
		{
			char		error[512];

			if (pg_ahead_run(a, ex->conn, PQgetvalue(res, i, 0), error, sizeof(error)))
				continue;
		}
		snprintf(desc, sizeof(desc), "%s: %s", what, PQgetvalue(res, i, 0));
		pg_exec_send(ex, PQgetvalue(res, i, 0), NULL, 0, NULL, desc, 0);
	}
}

/* See postgres.h. */
tp_result
pg_ddl_apply(pg_applier *a, pg_exec *ex, const tp_batch *batch,
			 const tp_change *c, const char *type, const pj_object *ddl,
			 char *reason, size_t reason_len)
{
	char		what[512];
	const pj_member *before = pj_find(ddl, "before");

	snprintf(what, sizeof(what), "schema change of %s %s.%s (change %" PRId64
			 " of batch %" PRIu64 ")", type, c->schema, c->table ? c->table : "",
			 c->seq, batch->seq);
	if (strcmp(type, "schema") == 0)
	{
		/* only a creation does something: see the file's header */
		if (before != NULL && before->value_len == 4 &&
			memcmp(before->value, "null", 4) == 0)
		{
			PGresult   *res;
			const char *params[1] = {batch->apply_schema};

			res = pg_exec_query(ex, "SELECT pg_catalog.format('CREATE SCHEMA IF NOT EXISTS %I', $1::pg_catalog.text)",
								NULL, 1, params, what);
			if (res == NULL)
			{
				snprintf(reason, reason_len, "%s", ex->error);
				return TP_RETRY;
			}
			send_statements(a, ex, res, what);
			PQclear(res);
		}
	}
	else
	{
		const char *params[2] = {batch->apply_schema, c->ddl};
		const char *sql = strcmp(type, "enum") == 0 ? pg_ddl_enum_sql :
			strcmp(type, "composite") == 0 ? pg_ddl_composite_sql :
			strcmp(type, "sequence") == 0 ? pg_ddl_sequence_sql :
			strcmp(type, "index") == 0 ? pg_ddl_index_sql : table_ddl_sql;
		PGresult   *res = pg_exec_query(ex, sql, NULL, 2, params, what);

		if (res == NULL)
		{
			snprintf(reason, reason_len, "%s", ex->error);
			return TP_RETRY;
		}
		send_statements(a, ex, res, what);
		PQclear(res);
	}
	if (ex->failed)
	{
		snprintf(reason, reason_len, "%s", ex->error);
		return TP_RETRY;
	}
	/* the tables' columns, keys and statements may have changed */
	pg_tables_reset(&a->tables);
	pg_exec_send(ex, "DEALLOCATE ALL", NULL, 0, NULL, "forgetting prepared statements", 0);
	return TP_OK;
}
