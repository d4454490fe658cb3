/*
 * pg_ddl_sequence.c
 *     The statements of a standalone sequence's change on the target,
 *     computed from its description before and after (docs/schema.md) by
 *     one query on the target: created (CREATE SEQUENCE IF NOT EXISTS),
 *     renamed, its parameters set (ALTER SEQUENCE with every parameter
 *     when one changed, with a RESTART into the new range when the
 *     target's value lies outside it), dropped (unless a column's default
 *     uses it on the target). Its value is not set here: values travel as
 *     'sequence_value' events (pg_apply.c).
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_sequence_sql[] =
	PG_DDL_PROLOGUE ",\n"
	/* the parameters, from the numbers' text (digits and a sign only) */
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format(\n"
	"			'AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',\n"
	"			a ->> 'type', (a ->> 'increment')::pg_catalog.int8, (a ->> 'min')::pg_catalog.int8,\n"
	"			(a ->> 'max')::pg_catalog.int8, (a ->> 'start')::pg_catalog.int8,\n"
	"			(a ->> 'cache')::pg_catalog.int8,\n"
	"			CASE WHEN (a ->> 'cycle')::pg_catalog.bool THEN 'CYCLE' ELSE 'NO CYCLE' END)\n"
	"		END AS params\n"
	"	FROM x),\n"
	"st(ord, stmt) AS (\n"
	"	SELECT 0, pg_catalog.format('DROP SEQUENCE IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	/*
	 * not one a column's default uses: the sequence became a column's
	 * (OWNED BY: its table's change, which comes before this drop, made it
	 * that column's, with its value); a DROP SEQUENCE ... CASCADE's table
	 * change dropped the default first
	 */
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"			WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass\n"
	"				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"				AND d.refobjid = pg_catalog.to_regclass(t.qb))\n"
	"	UNION ALL\n"
	"	SELECT 10, pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %s %s', t.qa, t.params)\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 20, pg_catalog.format('ALTER SEQUENCE %s RENAME TO %I', t.qb, t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 30, pg_catalog.format('ALTER SEQUENCE %s %s', t.qa, t.params) ||\n"
	"		" PG_DDL_RESTART("pg_catalog.to_regclass(t.qb)", "t.a", "(t.a ->> 'type')") "\n"
	"	FROM t WHERE t.b IS NOT NULL AND t.a IS NOT NULL\n"
	"		AND ARRAY[t.b ->> 'type', t.b ->> 'increment', t.b ->> 'min', t.b ->> 'max',\n"
	"				  t.b ->> 'start', t.b ->> 'cache', t.b ->> 'cycle']\n"
	"			IS DISTINCT FROM\n"
	"			ARRAY[t.a ->> 'type', t.a ->> 'increment', t.a ->> 'min', t.a ->> 'max',\n"
	"				  t.a ->> 'start', t.a ->> 'cache', t.a ->> 'cycle'])\n"
	"SELECT stmt FROM st ORDER BY ord";
