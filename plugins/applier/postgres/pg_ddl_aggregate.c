/*
 * pg_ddl_aggregate.c
 *     The statements of an aggregate's change on the target, computed
 *     from its description before and after (docs/schema.md) by one query
 *     on the target: dropped and renamed by its signature, created or
 *     replaced by the source's definition (CREATE OR REPLACE AGGREGATE,
 *     which the source's describe function builds from pg_aggregate).
 *
 * The definition and the signature name the source's schema (its
 * functions, types and the aggregate itself): the caller re-qualifies
 * them. Aggregates come after functions (kind aggregate ranks after
 * function and function_sql_body), so their functions exist.
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_aggregate_sql[] =
	PG_DDL_X ",\n"
	"st(ord, stmt) AS (\n"
	"	SELECT 0, pg_catalog.format('DROP AGGREGATE IF EXISTS %I.%I(%s)', x.s, x.b ->> 'name',\n"
	"		x.b ->> 'arguments')\n"
	"	FROM x WHERE x.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, pg_catalog.format('ALTER AGGREGATE %I.%I(%s) RENAME TO %I', x.s,\n"
	"		x.b ->> 'name', x.b ->> 'arguments', x.a ->> 'name')\n"
	"	FROM x WHERE x.b ->> 'name' <> x.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 20, x.a ->> 'definition'\n"
	"	FROM x WHERE x.a IS NOT NULL\n"
	"		AND (x.a ->> 'definition') IS DISTINCT FROM (x.b ->> 'definition'))\n"
	"SELECT stmt FROM st ORDER BY ord";
