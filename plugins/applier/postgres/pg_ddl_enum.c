/*
 * pg_ddl_enum.c
 *     The statements of an enum's change on the target, computed from its
 *     description before and after (docs/schema.md) by one query on the
 *     target: created (unless a type of that name exists in apply_schema
 *     already), values added at their place, values renamed, renamed,
 *     dropped.
 *
 * Values are matched by their source pg_enum OID, so a renamed value is a
 * rename. Values are renamed first, then added (a value may take the name
 * another one had), then the type is renamed. An added value goes BEFORE
 * the value that follows it when no value precedes it that existed
 * already (leading values, added last first), else AFTER the value that
 * precedes it (added in order), so the target's order is the source's.
 *
 * A value added in a transaction is unusable until it commits (PostgreSQL
 * 15: "unsafe use of new value"), so rows of the same batch carrying it
 * would fail at every retry. Additions are therefore marked "ahead" and
 * pg_ddl.c runs them first on a second session, committed at once
 * (pg_ahead.c; ADD VALUE IF NOT EXISTS makes a retry harmless), unless a
 * value of the type is renamed by the same change: the committed type
 * does not have the new names yet, and the additions follow the renames
 * in the batch's transaction (as when the second session fails, e.g. the
 * type was created in the same batch).
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_enum_sql[] =
	PG_DDL_PROLOGUE "\n"
	"	FROM x),\n"
	"vb AS (\n"
	"	SELECT v ->> 'oid' AS oid, v ->> 'label' AS label\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.b -> 'values', '[]')) AS v),\n"
	"va AS (\n"
	"	SELECT v ->> 'oid' AS oid, v ->> 'label' AS label, u.ord\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.a -> 'values', '[]'))\n"
	"		WITH ORDINALITY AS u(v, ord)),\n"
	"vv AS (\n"
	"	SELECT va.ord, va.label AS alabel, vb.label AS blabel, vb.oid IS NOT NULL AS old,\n"
	"		va.label AS cur\n"
	"	FROM va LEFT JOIN vb ON vb.oid = va.oid),\n"
	"fo AS (SELECT pg_catalog.min(ord) AS first_old FROM vv WHERE old),\n"
	"adds AS (\n"
	"	SELECT v.alabel,\n"
	"		CASE WHEN v.ord < fo.first_old\n"
	"			THEN pg_catalog.format(' BEFORE %L', (SELECT n.cur FROM vv n WHERE n.ord = v.ord + 1))\n"
	"			WHEN v.ord > 1\n"
	"			THEN pg_catalog.format(' AFTER %L', (SELECT p.cur FROM vv p WHERE p.ord = v.ord - 1))\n"
	"			ELSE '' END AS pos,\n"
	"		CASE WHEN v.ord < fo.first_old THEN -v.ord ELSE v.ord END AS sub\n"
	"	FROM vv v, fo WHERE NOT v.old),\n"
	"st(ord, sub, stmt, ahead) AS (\n"
	"	SELECT 0, 0::pg_catalog.int8, pg_catalog.format('DROP TYPE IF EXISTS %s', t.qb), false\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, 0, pg_catalog.format('CREATE TYPE %s AS ENUM (%s)', t.qa,\n"
	"		(SELECT pg_catalog.string_agg(pg_catalog.quote_literal(va.label), ', ' ORDER BY va.ord)\n"
	"		 FROM va)), false\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type ty\n"
	"						JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace\n"
	"						WHERE n.nspname = t.s AND ty.typname = t.a ->> 'name')\n"
	"	UNION ALL\n"
	"	SELECT 20, d.sub, pg_catalog.format('ALTER TYPE %s ADD VALUE IF NOT EXISTS %L%s',\n"
	"		t.qb, d.alabel, d.pos),\n"
	"		NOT EXISTS (SELECT 1 FROM vv WHERE vv.old AND vv.blabel <> vv.alabel)\n"
	"	FROM t, adds d WHERE t.b IS NOT NULL AND t.a IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 15, v.ord, pg_catalog.format('ALTER TYPE %s RENAME VALUE %L TO %L',\n"
	"		t.qb, v.blabel, v.alabel), false\n"
	"	FROM t, vv v WHERE t.b IS NOT NULL AND v.old AND v.blabel <> v.alabel\n"
	"	UNION ALL\n"
	"	SELECT 40, 0, pg_catalog.format('ALTER TYPE %s RENAME TO %I', t.qb, t.a ->> 'name'), false\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name')\n"
	"SELECT stmt, ahead FROM st ORDER BY ord, sub";
