/*
 * pg_ddl_index.c
 *     The statements of an index's change on the target, computed from its
 *     description before and after (docs/schema.md) by one query on the
 *     target: created (CREATE [UNIQUE] INDEX IF NOT EXISTS name ON
 *     apply_schema.table, then the source's definition from USING on),
 *     renamed, dropped.
 *
 * The definition's names of the source's schema ("schema." in a function
 * call, a cast, an operator of an expression or a predicate) are written
 * with apply_schema instead: a textual replacement, which would also
 * change a string constant holding that text. Another change of an index
 * under the same OID is its table's doing (a column renamed, the table
 * renamed: the table's event does it on the target) and needs nothing;
 * PostgreSQL rebuilds an index under a new OID (a drop and a creation).
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* See postgres.h. */
const char	pg_ddl_index_sql[] =
	PG_DDL_X "\n"
	"SELECT pg_catalog.format('DROP INDEX IF EXISTS %I.%I', x.s, x.b ->> 'name')\n"
	"FROM x WHERE x.a IS NULL\n"
	"UNION ALL\n"
	/* a NULL "using" makes a NULL statement: pg_ddl.c refuses it */
	"SELECT pg_catalog.format('CREATE %sINDEX IF NOT EXISTS %I ON %I.%I', CASE WHEN\n"
	"		(x.a ->> 'unique')::pg_catalog.bool THEN 'UNIQUE ' END, x.a ->> 'name',\n"
	"		x.s, x.a ->> 'table') ||\n"
	"	pg_catalog.replace(x.a ->> 'using', pg_catalog.format('%I.', x.a ->> 'schema'),\n"
	"		pg_catalog.format('%I.', x.s))\n"
	"FROM x WHERE x.b IS NULL AND x.a IS NOT NULL\n"
	"UNION ALL\n"
	"SELECT pg_catalog.format('ALTER INDEX %I.%I RENAME TO %I', x.s, x.b ->> 'name',\n"
	"	x.a ->> 'name')\n"
	"FROM x WHERE x.b ->> 'name' <> x.a ->> 'name'";
