/*
 * pg_ddl_range.c
 *     The statements of a range type's change on the target, computed
 *     from its description before and after (docs/schema.md) by one query
 *     on the target: created with its multirange type (unless a type of
 *     that name exists in apply_schema already), renamed, its multirange
 *     renamed, dropped (with its multirange).
 *
 * Its subtype of the source's schemas (user_type) is apply_schema's, as
 * for a table's columns (pg_ddl.c); so are its canonical and subtype_diff
 * functions unless they are pg_catalog's (a function of a source's schema
 * is created before such a range: kind range_fn ranks after functions).
 * Nothing else of a range type can change on the source.
 */
#include "tp_autoconf.h"

#include "postgres.h"

/*
 * A function {schema, name} of the description (or a JSON null): pg_catalog's
 * or apply_schema's, or NULL.
 */
#define RANGE_FUNCTION(j) \
	"CASE WHEN " j " ->> 'name' IS NULL THEN NULL\n" \
	"			WHEN " j " ->> 'schema' = 'pg_catalog'\n" \
	"			THEN pg_catalog.format('pg_catalog.%I', " j " ->> 'name')\n" \
	"			ELSE pg_catalog.format('%I.%I', t.s, " j " ->> 'name') END"

/* See postgres.h. */
const char	pg_ddl_range_sql[] =
	PG_DDL_PROLOGUE "\n"
	"	FROM x),\n"
	"st(ord, stmt) AS (\n"
	"	SELECT 0, pg_catalog.format('DROP TYPE IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, pg_catalog.format('CREATE TYPE %s AS RANGE (%s)', t.qa, pg_catalog.concat_ws(', ',\n"
	"		'SUBTYPE = ' || CASE WHEN t.a -> 'user_type' ->> 'name' IS NOT NULL\n"
	"			THEN pg_catalog.format('%I.%I', t.s, t.a -> 'user_type' ->> 'name') ||\n"
	"				CASE WHEN (t.a -> 'user_type' ->> 'array')::pg_catalog.bool THEN '[]' ELSE '' END\n"
	"			ELSE t.a ->> 'subtype' END,\n"
	"		'MULTIRANGE_TYPE_NAME = ' || pg_catalog.format('%I.%I', t.s, t.a ->> 'multirange'),\n"
	"		'COLLATION = ' || (t.a ->> 'collation'),\n"
	"		'SUBTYPE_OPCLASS = ' || (t.a ->> 'opclass'),\n"
	"		'CANONICAL = ' || " RANGE_FUNCTION("(t.a -> 'canonical')") ",\n"
	"		'SUBTYPE_DIFF = ' || " RANGE_FUNCTION("(t.a -> 'subtype_diff')") "))\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type ty\n"
	"						JOIN pg_catalog.pg_namespace n ON n.oid = ty.typnamespace\n"
	"						WHERE n.nspname = t.s AND ty.typname = t.a ->> 'name')\n"
	"	UNION ALL\n"
	"	SELECT 20, pg_catalog.format('ALTER TYPE %s RENAME TO %I', t.qb, t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 30, pg_catalog.format('ALTER TYPE %I.%I RENAME TO %I', t.s, t.b ->> 'multirange',\n"
	"		t.a ->> 'multirange')\n"
	"	FROM t WHERE t.b ->> 'multirange' <> t.a ->> 'multirange')\n"
	"SELECT stmt FROM st ORDER BY ord";
