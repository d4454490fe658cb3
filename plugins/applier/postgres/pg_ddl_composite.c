/*
 * pg_ddl_composite.c
 *     The statements of a composite type's change on the target, computed
 *     from its description before and after (docs/schema.md) by one query
 *     on the target: created (unless a type of that name exists in
 *     apply_schema already), renamed, attributes dropped, renamed, retyped
 *     and added, dropped.
 *
 * Attributes are matched by attnum, so a rename is a rename. An
 * attribute's type of the source's schemas (user_type) is apply_schema's,
 * as for a table's columns (pg_ddl.c); its change is one only when the
 * type's OID changed, not its name (the type's own event renames it).
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_composite_sql[] =
	PG_DDL_PROLOGUE "\n"
	"	FROM x),\n"
	"ab AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.b -> 'attributes', '[]')) AS c),\n"
	"aa AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c,\n"
	"		CASE WHEN c -> 'user_type' ->> 'name' IS NOT NULL\n"
	"			THEN pg_catalog.format('%I.%I', t.s, c -> 'user_type' ->> 'name') ||\n"
	"				CASE WHEN (c -> 'user_type' ->> 'array')::pg_catalog.bool THEN '[]' ELSE '' END\n"
	"			ELSE c ->> 'type' END AS ty\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.a -> 'attributes', '[]')) AS c),\n"
	"cols AS (\n"
	"	SELECT coalesce(ab.attnum, aa.attnum) AS attnum, ab.c AS bc, aa.c AS ac, aa.ty,\n"
	"		CASE WHEN ab.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	"				AND aa.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	"			THEN (ab.c -> 'user_type' ->> 'oid') <> (aa.c -> 'user_type' ->> 'oid')\n"
	"				OR (ab.c -> 'user_type' ->> 'array') <> (aa.c -> 'user_type' ->> 'array')\n"
	"			ELSE (ab.c ->> 'type') IS DISTINCT FROM (aa.c ->> 'type') END AS retyped\n"
	"	FROM ab FULL JOIN aa ON aa.attnum = ab.attnum),\n"
	"st(ord, sub, stmt) AS (\n"
	"	SELECT 0, 0, pg_catalog.format('DROP TYPE IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, 0, pg_catalog.format('CREATE TYPE %s AS (%s)', t.qa,\n"
	"		(SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', aa.c ->> 'name', aa.ty),\n"
	"			', ' ORDER BY aa.attnum) FROM aa))\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type ty\n"
	"						JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace\n"
	"						WHERE n.nspname = t.s AND ty.typname = t.a ->> 'name')\n"
	"	UNION ALL\n"
	"	SELECT 20, 0, pg_catalog.format('ALTER TYPE %s RENAME TO %I', t.qb, t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 30, c.attnum, pg_catalog.format('ALTER TYPE %s DROP ATTRIBUTE IF EXISTS %I',\n"
	"		t.qa, c.bc ->> 'name')\n"
	"	FROM t, cols c WHERE t.a IS NOT NULL AND c.bc IS NOT NULL AND c.ac IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 40, c.attnum, pg_catalog.format('ALTER TYPE %s RENAME ATTRIBUTE %I TO %I',\n"
	"		t.qa, c.bc ->> 'name', c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.bc ->> 'name' <> c.ac ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 50, c.attnum, pg_catalog.format('ALTER TYPE %s ALTER ATTRIBUTE %I TYPE %s',\n"
	"		t.qa, c.ac ->> 'name', c.ty)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL AND c.retyped\n"
	"	UNION ALL\n"
	"	SELECT 60, c.attnum, pg_catalog.format('ALTER TYPE %s ADD ATTRIBUTE %I %s',\n"
	"		t.qa, c.ac ->> 'name', c.ty)\n"
	"	FROM t, cols c WHERE t.b IS NOT NULL AND c.bc IS NULL AND c.ac IS NOT NULL)\n"
	"SELECT stmt FROM st ORDER BY ord, sub";
