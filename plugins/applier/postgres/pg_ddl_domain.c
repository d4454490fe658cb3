/*
 * pg_ddl_domain.c
 *     The statements of a domain's change on the target, computed from its
 *     description before and after (docs/schema.md) by one query on the
 *     target: created with its base type, collation, default and NOT NULL
 *     (unless a type of that name exists in apply_schema already), its
 *     CHECK constraints added (NOT VALID as on the source), dropped,
 *     renamed and validated, its default set or dropped, NOT NULL set or
 *     dropped, renamed, dropped.
 *
 * The base type of the source's schemas (user_type) is apply_schema's, as
 * for a table's columns (pg_ddl.c). Constraints are matched by their
 * source pg_constraint OID, so a renamed constraint is a rename. In
 * order: the domain's rename (the other statements name it by its new
 * name), constraints dropped (a renamed or added one may take a dropped
 * one's name), renamed, the default, NOT NULL, constraints added, then
 * validated. A constraint is added unless the target's domain has one of
 * that name that this change does not drop or rename away (a domain made
 * by hand, or sent again). The base type and collation do not change
 * under one OID (ALTER DOMAIN cannot change them). The definitions and
 * the default name the source's schema: the caller re-qualifies them; a
 * default nextval('schema.seq'::regclass), whose name is a literal, names
 * apply_schema's seq here, as a column's does (pg_ddl.c).
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_domain_sql[] =
	PG_DDL_PROLOGUE ",\n"
	"		CASE WHEN a -> 'user_type' ->> 'name' IS NOT NULL\n"
	"			THEN pg_catalog.format('%I.%I', s, a -> 'user_type' ->> 'name') ||\n"
	"				CASE WHEN (a -> 'user_type' ->> 'array')::pg_catalog.bool THEN '[]' ELSE '' END\n"
	"			ELSE a ->> 'type' END AS ty,\n"
	/* nextval of a sequence: apply_schema's of that name, as a column's */
	"		CASE WHEN a ->> 'default' ~ '^nextval\\(''[^'']+''::regclass\\)$'\n"
	"			THEN pg_catalog.format('nextval(%L::regclass)', pg_catalog.format('%I.%I', s,\n"
	"				(SELECT p[pg_catalog.array_upper(p, 1)] FROM pg_catalog.parse_ident(\n"
	"					pg_catalog.substring(a ->> 'default', '^nextval\\(''([^'']+)''')) AS p)))\n"
	"			ELSE a ->> 'default' END AS dflt\n"
	"	FROM x),\n"
	"kb AS (\n"
	"	SELECT k ->> 'oid' AS oid, k\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.b -> 'constraints', '[]')) AS k),\n"
	"ka AS (\n"
	"	SELECT k ->> 'oid' AS oid, k, u.ord\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.a -> 'constraints', '[]'))\n"
	"		WITH ORDINALITY AS u(k, ord)),\n"
	"ks AS (\n"
	"	SELECT coalesce(ka.ord, 0) AS ord, kb.k AS bk, ka.k AS ak\n"
	"	FROM kb FULL JOIN ka ON ka.oid = kb.oid),\n"
	/* the constraints the target's domain has now, but those this change takes away */
	"kt AS (\n"
	"	SELECT k.conname::pg_catalog.text AS name\n"
	"	FROM t, pg_catalog.pg_constraint k\n"
	"	WHERE k.contypid = pg_catalog.to_regtype(coalesce(t.qb, t.qa))\n"
	"		AND k.conname::pg_catalog.text NOT IN (SELECT ks.bk ->> 'name' FROM ks\n"
	"			WHERE ks.bk IS NOT NULL AND (ks.ak IS NULL OR ks.ak ->> 'name' <> ks.bk ->> 'name'))),\n"
	"st(ord, sub, stmt) AS (\n"
	"	SELECT 0, 0::pg_catalog.int8, pg_catalog.format('DROP DOMAIN IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, 0, pg_catalog.format('CREATE DOMAIN %s AS %s%s%s%s', t.qa, t.ty,\n"
	"		coalesce(' COLLATE ' || (t.a ->> 'collation'), ''),\n"
	"		coalesce(' DEFAULT ' || t.dflt, ''),\n"
	"		CASE WHEN (t.a ->> 'not_null')::pg_catalog.bool THEN ' NOT NULL' ELSE '' END)\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type ty\n"
	"						JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace\n"
	"						WHERE n.nspname = t.s AND ty.typname = t.a ->> 'name')\n"
	"	UNION ALL\n"
	"	SELECT 20, 0, pg_catalog.format('ALTER DOMAIN %s RENAME TO %I', t.qb, t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 30, 0, pg_catalog.format('ALTER DOMAIN %s DROP CONSTRAINT IF EXISTS %I',\n"
	"		t.qa, k.bk ->> 'name')\n"
	"	FROM t, ks k WHERE t.a IS NOT NULL AND k.bk IS NOT NULL AND k.ak IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 40, k.ord, pg_catalog.format('ALTER DOMAIN %s RENAME CONSTRAINT %I TO %I',\n"
	"		t.qa, k.bk ->> 'name', k.ak ->> 'name')\n"
	"	FROM t, ks k WHERE k.bk ->> 'name' <> k.ak ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 50, 0, CASE WHEN t.a ->> 'default' IS NULL\n"
	"		THEN pg_catalog.format('ALTER DOMAIN %s DROP DEFAULT', t.qa)\n"
	"		ELSE pg_catalog.format('ALTER DOMAIN %s SET DEFAULT %s', t.qa, t.dflt) END\n"
	"	FROM t WHERE t.b IS NOT NULL AND t.a IS NOT NULL\n"
	"		AND (t.b ->> 'default') IS DISTINCT FROM (t.a ->> 'default')\n"
	"	UNION ALL\n"
	"	SELECT 60, 0, pg_catalog.format('ALTER DOMAIN %s %s NOT NULL', t.qa,\n"
	"		CASE WHEN (t.a ->> 'not_null')::pg_catalog.bool THEN 'SET' ELSE 'DROP' END)\n"
	"	FROM t WHERE t.b IS NOT NULL AND t.a IS NOT NULL\n"
	"		AND (t.b ->> 'not_null') <> (t.a ->> 'not_null')\n"
	"	UNION ALL\n"
	"	SELECT 70, k.ord, pg_catalog.format('ALTER DOMAIN %s ADD CONSTRAINT %I %s%s', t.qa,\n"
	"		k.ak ->> 'name', k.ak ->> 'definition',\n"
	"		CASE WHEN (k.ak ->> 'validated')::pg_catalog.bool THEN '' ELSE ' NOT VALID' END)\n"
	"	FROM t, ks k WHERE k.ak IS NOT NULL AND k.bk IS NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM kt WHERE kt.name = k.ak ->> 'name')\n"
	"	UNION ALL\n"
	"	SELECT 80, k.ord, pg_catalog.format('ALTER DOMAIN %s VALIDATE CONSTRAINT %I',\n"
	"		t.qa, k.ak ->> 'name')\n"
	"	FROM t, ks k WHERE k.bk IS NOT NULL AND k.ak IS NOT NULL\n"
	"		AND (k.ak ->> 'validated')::pg_catalog.bool\n"
	"		AND NOT (k.bk ->> 'validated')::pg_catalog.bool)\n"
	"SELECT stmt FROM st ORDER BY ord, sub";
