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
 *   domain  created (base type, collation, default, NOT NULL, CHECK
 *           constraints), renamed, constraints added, dropped, renamed and
 *           validated, default and NOT NULL changed, dropped
 *           (pg_ddl_domain.c)
 *   sequence   (standalone) created, renamed, parameters changed, dropped
 *           (pg_ddl_sequence.c)
 *   index   created, renamed, dropped (pg_ddl_index.c)
 *   range   (range_fn: one with a function of the source's schemas)
 *           created with its multirange, renamed, its multirange renamed,
 *           dropped (pg_ddl_range.c)
 *   aggregate  created, replaced, renamed, dropped by its signature
 *           (pg_ddl_aggregate.c)
 *   table   created (columns, defaults, NOT NULL, identity, generated
 *           columns, the sequences of serial columns, the parameters of
 *           serial and identity sequences, the primary key), dropped,
 *           renamed; columns added, dropped, renamed (same attnum, new
 *           name), retyped (USING col::newtype; when the cast fails on
 *           the target's values and the source's rows follow, the table
 *           is emptied for them: guard_retype), defaults, NOT NULL,
 *           identity and sequence parameters changed (an identity's
 *           sequence by its name on the target, of its own type, a
 *           RESTART into a narrowed range); primary key changed (added
 *           unless the target's table has a primary key of those columns);
 *           storage parameters (its own and its TOAST table's) set and
 *           reset; a partitioned table (an ordinary one here) deletes the rows of
 *           a partition that left it, by the partition's constraint (a
 *           hash partition's computed with a temporary hash-partitioned
 *           table of the same key)
 *   constraint  unique, check, foreign-key and exclusion: added, dropped,
 *           renamed, validated; dropped and added again when what it
 *           constrains changed
 *   function  (and procedure) created, replaced, renamed, dropped by its
 *           signature; its search_path mapped to apply_schema (see
 *           function_ddl_sql)
 *   view    (and materialized view) created, replaced, renamed, its
 *           columns renamed, dropped
 *   extension  created in apply_schema (with the source's version),
 *           updated, dropped
 *   comment  the comments of a table, view, function, type, index,
 *           constraint, standalone sequence and of their columns, set or
 *           removed
 *
 * Every statement but a schema's is re-qualified from the source's schema
 * to apply_schema (pg_requalify.c): definitions and expressions come
 * qualified with it.
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

#include "pg_requalify.h"
#include "pg_set_aside.h"
#include "postgres.h"

/*
 * A storage parameter of a table's description: "name=value", the name a
 * parameter's (toast.name for its TOAST table's), as an SQL regular
 * expression. Nothing else reaches a statement: the name is written as it
 * is, the value as a literal.
 */
#define OPTION_PATTERN "'^[a-z_][a-z0-9_]*(\\.[a-z_][a-z0-9_]*)?='"

/*
 * The body of a CTE of the storage parameters (k, v) of side ("b" or "a",
 * the description before or after) of t; those not of OPTION_PATTERN are
 * left out here and refused by the statements (obad).
 */
#define OPTIONS_OF(side) \
	"	SELECT pg_catalog.split_part(o, '=', 1) AS k,\n" \
	"		pg_catalog.substr(o, pg_catalog.strpos(o, '=') + 1) AS v\n" \
	"	FROM t, pg_catalog.json_array_elements_text(coalesce(t." side " -> 'options', '[]')) AS o\n" \
	"	WHERE o ~ " OPTION_PATTERN

/*
 * SQL: whether the table as it was (t.qb) has the NOT NULL marker of
 * column c (guard_retype's conversion left its NOT NULL to it)
 */
#define HAS_NOT_NULL_MARKER \
	"EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k" \
	" WHERE k.conrelid = pg_catalog.to_regclass(t.qb)" \
	" AND k.conname = " NOT_NULL_MARKER("c.attnum") ")"

/*
 * The statements of a table's change, in order. $1 apply_schema, $2 the
 * ddl object ({"type":"table","oid":..,"before":..,"after":..}). Columns
 * are matched by attnum, so a rename is a rename.
 */
static const char table_ddl_sql[] =
	PG_DDL_PROLOGUE ",\n"
	"		CASE WHEN pg_catalog.json_typeof(b -> 'primary_key') = 'object'\n"
	"			THEN b -> 'primary_key' END AS pkb,\n"
	"		CASE WHEN pg_catalog.json_typeof(a -> 'primary_key') = 'object'\n"
	"			THEN a -> 'primary_key' END AS pka\n"
	"	FROM x),\n"
	"cb AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.b -> 'columns', '[]')) AS c),\n"
	"ca AS (\n"
	"	SELECT (c ->> 'attnum')::pg_catalog.int4 AS attnum, c, m.dflt, y.ty, q.opts,\n"
	/* a collation that is not the type's, as the source names it */
	"		coalesce(' COLLATE ' || (c ->> 'collation'), '') AS coll,\n"
	"		pg_catalog.format('%I %s', c ->> 'name', y.ty) ||\n"
	"		coalesce(' COLLATE ' || (c ->> 'collation'), '') ||\n"
	"		CASE WHEN c ->> 'generated' IS NOT NULL\n"
	"				THEN pg_catalog.format(' GENERATED ALWAYS AS (%s) STORED', c ->> 'generated')\n"
	"			WHEN c ->> 'identity' IS NOT NULL\n"
	"				THEN pg_catalog.format(' GENERATED %s AS IDENTITY', pg_catalog.upper(c ->> 'identity')) ||\n"
	/*
	 * its parameters, unless its sequence is of another type than the
	 * column's (an identity's options cannot say AS: the type is set later)
	 */
	"					CASE WHEN c -> 'sequence_parameters' IS NOT NULL\n"
	"						AND (c -> 'sequence_parameters' ->> 'type') = CASE\n"
	"							WHEN c ->> 'type' IN ('smallint', 'integer') THEN c ->> 'type'\n"
	"							ELSE 'bigint' END\n"
	"						THEN ' (' || q.opts || ')' ELSE '' END\n"
	"			WHEN m.dflt IS NOT NULL THEN ' DEFAULT ' || m.dflt\n"
	"			ELSE '' END ||\n"
	"		CASE WHEN (c ->> 'not_null')::pg_catalog.bool THEN ' NOT NULL' ELSE '' END AS def\n"
	"	FROM t, pg_catalog.json_array_elements(coalesce(t.a -> 'columns', '[]')) AS c\n"
	/* a type of the source's schemas is apply_schema's (docs/schema.md) */
	"	CROSS JOIN LATERAL (SELECT CASE WHEN c -> 'user_type' ->> 'name' IS NOT NULL\n"
	"		THEN pg_catalog.format('%I.%I', t.s, c -> 'user_type' ->> 'name') ||\n"
	"			CASE WHEN (c -> 'user_type' ->> 'array')::pg_catalog.bool THEN '[]' ELSE '' END\n"
	"		ELSE c ->> 'type' END AS ty) AS y\n"
	/*
	 * the options of the sequence the column owns (serial or identity),
	 * from the numbers' text (digits and a sign only); without parameters
	 * in the description, the defaults
	 */
	"	CROSS JOIN LATERAL (SELECT CASE WHEN p IS NULL\n"
	"		THEN 'INCREMENT BY 1 NO MINVALUE NO MAXVALUE START WITH 1 CACHE 1 NO CYCLE'\n"
	"		ELSE pg_catalog.format(\n"
	"		'INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',\n"
	"		(p ->> 'increment')::pg_catalog.int8, (p ->> 'min')::pg_catalog.int8,\n"
	"		(p ->> 'max')::pg_catalog.int8, (p ->> 'start')::pg_catalog.int8,\n"
	"		(p ->> 'cache')::pg_catalog.int8,\n"
	"		CASE WHEN (p ->> 'cycle')::pg_catalog.bool THEN 'CYCLE' ELSE 'NO CYCLE' END)\n"
	"		END AS opts\n"
	"		FROM (SELECT c -> 'sequence_parameters' AS p) AS sp) AS q\n"
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
	"		ca.def, ca.dflt, ca.ty, ca.opts, ca.coll,\n"
	/* the owned sequence's type: by default the column's (an integer type) */
	"		coalesce(ca.c -> 'sequence_parameters' ->> 'type',\n"
	"			CASE WHEN ca.c ->> 'type' IN ('smallint', 'integer') THEN ca.c ->> 'type'\n"
	"				ELSE 'bigint' END) AS seqtype,\n"
	"		(cb.c -> 'sequence_parameters')::pg_catalog.text\n"
	"			IS DISTINCT FROM (ca.c -> 'sequence_parameters')::pg_catalog.text AS reparam,\n"
	/* the sequence the target's column owns now (serial or identity) */
	"		(SELECT d.objid FROM t, pg_catalog.pg_depend d\n"
	"			JOIN pg_catalog.pg_class sq ON sq.oid = d.objid AND sq.relkind = 'S'\n"
	"			JOIN pg_catalog.pg_attribute at ON at.attrelid = d.refobjid\n"
	"				AND at.attnum = d.refobjsubid\n"
	"			WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"				AND d.refobjid = pg_catalog.to_regclass(t.qb) AND d.deptype IN ('a', 'i')\n"
	"				AND at.attname = cb.c ->> 'name'\n"
	"			ORDER BY d.objid LIMIT 1) AS seqrel,\n"
	"		CASE WHEN cb.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	"				AND ca.c -> 'user_type' ->> 'oid' IS NOT NULL\n"
	/* the type's rename is the type's event, applied before */
	"			THEN (cb.c -> 'user_type' ->> 'oid') <> (ca.c -> 'user_type' ->> 'oid')\n"
	"				OR (cb.c -> 'user_type' ->> 'array') <> (ca.c -> 'user_type' ->> 'array')\n"
	"			ELSE (cb.c ->> 'type') IS DISTINCT FROM (ca.c ->> 'type') END\n"
	/* a collation changed is a type change (ALTER ... TYPE ... COLLATE) */
	"			OR (cb.c ->> 'collation') IS DISTINCT FROM (ca.c ->> 'collation') AS retyped\n"
	"	FROM cb FULL JOIN ca ON ca.attnum = cb.attnum),\n"
	"pkcols AS (\n"
	"	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(ca.c ->> 'name'), ', '\n"
	"								 ORDER BY u.ord) AS list\n"
	"	FROM t, pg_catalog.json_array_elements_text(t.pka -> 'columns')\n"
	"		WITH ORDINALITY AS u(attnum, ord)\n"
	"	JOIN ca ON ca.attnum = u.attnum::pg_catalog.int4),\n"
	/* the storage parameters before and after (see OPTIONS_OF) */
	"ob AS (\n" OPTIONS_OF("b") "),\n"
	"oa AS (\n" OPTIONS_OF("a") "),\n"
	/* one after that is not "name=value": refused (st, 1) */
	"obad AS (\n"
	"	SELECT o FROM t, pg_catalog.json_array_elements_text(coalesce(t.a -> 'options', '[]')) AS o\n"
	"	WHERE o !~ " OPTION_PATTERN "),\n"
"oset AS (\n"
	"	SELECT pg_catalog.string_agg(pg_catalog.format('%s = %L', oa.k, oa.v), ', '\n"
	"								 ORDER BY oa.k) AS list\n"
	"	FROM oa WHERE NOT EXISTS (SELECT 1 FROM ob WHERE ob.k = oa.k AND ob.v = oa.v)),\n"
	"oreset AS (\n"
	"	SELECT pg_catalog.string_agg(ob.k, ', ' ORDER BY ob.k) AS list\n"
	"	FROM ob WHERE NOT EXISTS (SELECT 1 FROM oa WHERE oa.k = ob.k)),\n"
	/* the partitions that left a partitioned table (both describe them) */
	"gone AS (\n"
	"	SELECT p FROM t, pg_catalog.json_array_elements(CASE\n"
	"		WHEN pg_catalog.json_typeof(t.b -> 'partitions') = 'array'\n"
	"			AND pg_catalog.json_typeof(t.a -> 'partitions') = 'array'\n"
	"		THEN t.b -> 'partitions' END) AS p\n"
	"	WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.json_array_elements(t.a -> 'partitions') AS q\n"
	"					  WHERE (q ->> 'oid') = (p ->> 'oid'))),\n"
	/*
	 * those whose rows are deleted (a sub-partition whose parent left too
	 * is covered by its parent's), with the OIDs of the hash-partitioned
	 * tables their constraint names, and whether the description before
	 * gives each a hash key the target can compute
	 */
	"del AS (\n"
	"	SELECT g.p, g.p ->> 'constraint' AS con, h.oids,\n"
	"		NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(h.oids) AS u(oid)\n"
	"			WHERE pg_catalog.json_typeof(t.b -> 'hash_keys' -> u.oid) IS DISTINCT FROM 'array') AS ok\n"
	"	FROM t, gone g\n"
	"	CROSS JOIN LATERAL (SELECT ARRAY(SELECT m[1] FROM pg_catalog.regexp_matches(g.p ->> 'constraint',\n"
	"		'satisfies_hash_partition\\(''([0-9]+)''::oid, ', 'g') AS m) AS oids) AS h\n"
	"	WHERE g.p ->> 'constraint' IS NOT NULL\n"
	"		AND NOT EXISTS (SELECT 1 FROM gone f WHERE (f.p ->> 'oid') = (g.p ->> 'parent'))),\n"
	/*
	 * a temporary hash-partitioned table of the same key for each of those
	 * tables (the hash of a value depends only on its operator class's
	 * function and a fixed seed): satisfies_hash_partition over it
	 * computes the source's
	 */
	"probe AS (\n"
	"	SELECT u.oid, pg_catalog.format('teleport_hash_%s', u.oid) AS name,\n"
	"		t.b -> 'hash_keys' -> u.oid AS keys\n"
	"	FROM t, (SELECT DISTINCT x.oid FROM del d, pg_catalog.unnest(d.oids) AS x(oid)\n"
	"			 WHERE d.ok) AS u),\n"
	"st(ord, sub, stmt) AS (\n"
	/* a drop */
	"	SELECT 0, 0, pg_catalog.format('DROP TABLE IF EXISTS %s', t.qb)\n"
	"	FROM t WHERE t.a IS NULL\n"
	/* a storage parameter that is none: the change fails, with why */
	"	UNION ALL\n"
	"	SELECT 1, 0, pg_catalog.format('DO %L', pg_catalog.format('BEGIN RAISE EXCEPTION %L, %L; END',\n"
	"		'%', pg_catalog.format('storage parameter %s of table %s is not a parameter''s name and value',\n"
	"			pg_catalog.quote_literal(obad.o), t.qa)))\n"
	"	FROM t, obad\n"
	/* the sequences of new serial columns */
	"	UNION ALL\n"
	"	SELECT 10, c.attnum, pg_catalog.format('CREATE SEQUENCE IF NOT EXISTS %I.%I AS %s %s',\n"
	"		t.s, c.ac ->> 'sequence', c.seqtype, c.opts)\n"
	"	FROM t, cols c WHERE c.ac ->> 'sequence' IS NOT NULL\n"
	"		AND (c.ac ->> 'sequence') IS DISTINCT FROM (c.bc ->> 'sequence')\n"
	/* a creation */
	"	UNION ALL\n"
	"	SELECT 20, 0, pg_catalog.format('CREATE TABLE IF NOT EXISTS %s (%s)%s', t.qa,\n"
	"		pg_catalog.concat_ws(', ',\n"
	"			(SELECT pg_catalog.string_agg(ca.def, ', ' ORDER BY ca.attnum) FROM ca),\n"
	"			(SELECT pg_catalog.format('CONSTRAINT %I PRIMARY KEY (%s)',\n"
	"				t.pka ->> 'name', p.list) FROM pkcols p WHERE t.pka IS NOT NULL)),\n"
	"		coalesce((SELECT ' WITH (' || oset.list || ')' FROM oset), ''))\n"
	"	FROM t WHERE t.b IS NULL AND t.a IS NOT NULL\n"
	/*
	 * the rows of a partition that left the table (detached, dropped) left
	 * it too: deleted by the partition's constraint, under the names before
	 * the change, a hash partition's parent's OID replaced by its probe's;
	 * when the target cannot compute a hash, they stay, with a warning
	 */
	"	UNION ALL\n"
	"	SELECT 24, 0, pg_catalog.format('CREATE TEMPORARY TABLE %I (%s) PARTITION BY HASH (%s)',\n"
	"		p.name,\n"
	"		(SELECT pg_catalog.string_agg(pg_catalog.format('k%s %s', k.i, k.key ->> 'type'), ', '\n"
	"										ORDER BY k.i)\n"
	"		 FROM pg_catalog.json_array_elements(p.keys) WITH ORDINALITY AS k(key, i)),\n"
	"		(SELECT pg_catalog.string_agg(pg_catalog.format('k%s pg_catalog.%I', k.i,\n"
	"				k.key ->> 'opclass'), ', ' ORDER BY k.i)\n"
	"		 FROM pg_catalog.json_array_elements(p.keys) WITH ORDINALITY AS k(key, i)))\n"
	"	FROM probe p\n"
	"	UNION ALL\n"
	"	SELECT 25, 0, pg_catalog.format('DELETE FROM %s WHERE %s', t.qb,\n"
	"		pg_catalog.regexp_replace(d.con, 'satisfies_hash_partition\\(''([0-9]+)''::oid, ',\n"
	"			'satisfies_hash_partition(''pg_temp.teleport_hash_\\1''::pg_catalog.regclass::pg_catalog.oid, ',\n"
	"			'g'))\n"
	"	FROM t, del d WHERE d.ok\n"
	"	UNION ALL\n"
	"	SELECT 25, 1, pg_catalog.format('DO %L', pg_catalog.format('BEGIN RAISE WARNING %L, %L; END',\n"
	"		'%', pg_catalog.format('the rows of hash partition %s (its source OID) that left table %s '\n"
	"			'are not deleted: its hash partition key cannot be computed on the target',\n"
	"			d.p ->> 'oid', t.qb)))\n"
	"	FROM t, del d WHERE NOT d.ok\n"
	"	UNION ALL\n"
	"	SELECT 26, 0, pg_catalog.format('DROP TABLE pg_temp.%I', p.name)\n"
	"	FROM probe p\n"
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
	"	SELECT 80, c.attnum, pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I TYPE %s%s USING %I::%s',\n"
	"		t.qa, c.ac ->> 'name', c.ty, c.coll, c.ac ->> 'name', c.ty)\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL AND c.retyped\n"
	"	UNION ALL\n"
	/*
	 * NOT NULL set or dropped; set on a column retyped in the same event
	 * only unless its conversion left it to a marker (guard_retype), which
	 * sets it once the rows that follow have filled the column
	 */
	"	SELECT 85, c.attnum, CASE WHEN c.retyped AND (c.ac ->> 'not_null')::pg_catalog.bool\n"
	"		THEN pg_catalog.format('DO %L', pg_catalog.format('BEGIN IF NOT EXISTS (SELECT 1 '\n"
	"			'FROM pg_catalog.pg_constraint WHERE conrelid = %L::pg_catalog.regclass '\n"
	"			'AND conname = %L) THEN EXECUTE %L; END IF; END', t.qa, " NOT_NULL_MARKER("c.attnum") ",\n"
	"			pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', t.qa, c.ac ->> 'name')))\n"
	"		ELSE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s NOT NULL',\n"
	"		t.qa, c.ac ->> 'name',\n"
	"		CASE WHEN (c.ac ->> 'not_null')::pg_catalog.bool THEN 'SET' ELSE 'DROP' END) END\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND (c.bc ->> 'not_null') <> (c.ac ->> 'not_null')\n"
	"	UNION ALL\n"
	/* a column no longer NOT NULL on the source loses its marker */
	"	SELECT 86, c.attnum, pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', t.qa,\n"
	"		" NOT_NULL_MARKER("c.attnum") ")\n"
	"	FROM t, cols c WHERE c.bc IS NOT NULL AND c.ac IS NOT NULL\n"
	"		AND NOT (c.ac ->> 'not_null')::pg_catalog.bool\n"
	"		AND " HAS_NOT_NULL_MARKER "\n"
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
	/*
	 * an identity's parameters changed: ALTER SEQUENCE of its sequence on
	 * the target (which may have another type than the column's), with a
	 * RESTART into the new range when its value lies outside
	 */
	"	SELECT 92, c.attnum, CASE WHEN c.seqrel IS NOT NULL\n"
	"		THEN pg_catalog.format('ALTER SEQUENCE %s AS %s %s', c.seqrel::pg_catalog.regclass,\n"
	"			c.seqtype, c.opts) ||\n"
	"			" PG_DDL_RESTART("c.seqrel", "(c.ac -> 'sequence_parameters')", "c.seqtype") "\n"
	"		ELSE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I %s',\n"
	"		t.qa, c.ac ->> 'name',\n"
	"		pg_catalog.regexp_replace(c.opts, '(INCREMENT|NO MINVALUE|MINVALUE|NO MAXVALUE|MAXVALUE|START|CACHE|NO CYCLE|CYCLE)( |$)',\n"
	"			'SET \\1\\2', 'g')) END\n"
	"	FROM t, cols c WHERE c.bc ->> 'identity' IS NOT NULL AND c.ac ->> 'identity' IS NOT NULL\n"
	"		AND c.reparam\n"
	"	UNION ALL\n"
	"	SELECT 100, c.attnum, pg_catalog.format('ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s', t.qa, c.def)\n"
	"	FROM t, cols c WHERE t.b IS NOT NULL AND c.bc IS NULL AND c.ac IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 110, c.attnum, pg_catalog.format('ALTER SEQUENCE %I.%I OWNED BY %s.%I',\n"
	"		t.s, c.ac ->> 'sequence', t.qa, c.ac ->> 'name')\n"
	"	FROM t, cols c WHERE c.ac ->> 'sequence' IS NOT NULL\n"
	"		AND (c.ac ->> 'sequence') IS DISTINCT FROM (c.bc ->> 'sequence')\n"
	/*
	 * a serial column's parameters changed, or the sequence it now owns
	 * (one the target had already, standalone or made by hand, is kept)
	 */
	"	UNION ALL\n"
	"	SELECT 111, c.attnum, pg_catalog.format('ALTER SEQUENCE %I.%I AS %s %s',\n"
	"		t.s, c.ac ->> 'sequence', c.seqtype, c.opts) ||\n"
	"		" PG_DDL_RESTART("coalesce(pg_catalog.to_regclass(pg_catalog.format('%I.%I', t.s, c.ac ->> 'sequence')), c.seqrel)",
						 "(c.ac -> 'sequence_parameters')", "c.seqtype") "\n"
	"	FROM t, cols c WHERE t.b IS NOT NULL AND c.ac ->> 'sequence' IS NOT NULL\n"
	"		AND (c.reparam OR (c.ac ->> 'sequence') IS DISTINCT FROM (c.bc ->> 'sequence'))\n"
	/*
	 * a new identity (its table's, an added column's, or added to a
	 * column) with parameters: its sequence, which the target names, gets
	 * them with its type (the identity's options cannot say AS), with a
	 * RESTART into their range when its value lies outside (a new one's is
	 * 1); nothing when the target's column has no identity (made by hand)
	 */
	"	UNION ALL\n"
	"	SELECT 112, c.attnum, pg_catalog.format('DO %L', pg_catalog.format(\n"
	"		'DECLARE r pg_catalog.regclass := pg_catalog.pg_get_serial_sequence(%L, %L);'\n"
	"		' v pg_catalog.int8;'\n"
	"		' BEGIN IF r IS NULL THEN RETURN; END IF;'\n"
	"		' EXECUTE pg_catalog.format(''SELECT last_value FROM %%s'', r) INTO v;'\n"
	"		' EXECUTE pg_catalog.format(%L, r) || CASE WHEN v < %s THEN %L'\n"
	"		' WHEN v > %s THEN %L ELSE '''' END; END',\n"
	"		t.qa, c.ac ->> 'name',\n"
	"		pg_catalog.format('ALTER SEQUENCE %%s AS %s %s', c.seqtype, c.opts),\n"
	"		(c.ac -> 'sequence_parameters' ->> 'min')::pg_catalog.int8,\n"
	"		' RESTART WITH ' || (c.ac -> 'sequence_parameters' ->> 'min')::pg_catalog.int8,\n"
	"		(c.ac -> 'sequence_parameters' ->> 'max')::pg_catalog.int8,\n"
	"		' RESTART WITH ' || (c.ac -> 'sequence_parameters' ->> 'max')::pg_catalog.int8))\n"
	"	FROM t, cols c WHERE c.ac ->> 'identity' IS NOT NULL AND c.bc ->> 'identity' IS NULL\n"
	"		AND c.ac -> 'sequence_parameters' IS NOT NULL\n"
	/* storage parameters set, changed or reset */
	"	UNION ALL\n"
	"	SELECT 115, 0, pg_catalog.format('ALTER TABLE %s SET (%s)', t.qa, oset.list)\n"
	"	FROM t, oset WHERE t.b IS NOT NULL AND t.a IS NOT NULL AND oset.list IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 116, 0, pg_catalog.format('ALTER TABLE %s RESET (%s)', t.qa, oreset.list)\n"
	"	FROM t, oreset WHERE t.b IS NOT NULL AND t.a IS NOT NULL AND oreset.list IS NOT NULL\n"
	"	UNION ALL\n"
	"	SELECT 120, 0, pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (%s)',\n"
	"		t.qa, t.pka ->> 'name', p.list)\n"
	"	FROM t, pkcols p WHERE t.b IS NOT NULL AND t.pka IS NOT NULL\n"
	"		AND (t.pkb IS NULL OR (t.pka -> 'columns')::pg_catalog.text\n"
	"			 <> (t.pkb -> 'columns')::pg_catalog.text)\n"
	/* the target's table has that key already (made by hand, or sent again) */
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k\n"
	"			WHERE k.conrelid = pg_catalog.to_regclass(t.qa) AND k.contype = 'p'\n"
	"				AND (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(at.attname), ', '\n"
	"										ORDER BY u.ord)\n"
	"					FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)\n"
	"					JOIN pg_catalog.pg_attribute at ON at.attrelid = k.conrelid\n"
	"						AND at.attnum = u.attnum) = p.list))\n"
	/*
	 * a type change is guarded (send_statements): how to convert the
	 * column when its cast fails on the target's values (USING NULL: over
	 * no rows it cannot fail; over the rows of a table that cannot be
	 * emptied, only on a NOT NULL column), how to empty the table first,
	 * and whether the source sends its rows again after the change
	 */
	"SELECT st.stmt, false AS ahead,\n"
	"	CASE WHEN st.ord = 80 THEN (SELECT pg_catalog.format(\n"
	"		'ALTER TABLE %s ALTER COLUMN %I TYPE %s%s USING NULL::%s',\n"
	"		t.qa, c.ac ->> 'name', c.ty, c.coll, c.ty)\n"
	"		FROM t, cols c WHERE c.attnum = st.sub) END AS fallback,\n"
	"	CASE WHEN st.ord = 80 THEN (SELECT pg_catalog.format('TRUNCATE %s', t.qa) FROM t)\n"
	"		END AS empty,\n"
	"	coalesce(($2::pg_catalog.json ->> 'rows_follow')::pg_catalog.bool, false) AS follow,\n"
	/*
	 * the conversion over the rows of a table that cannot be emptied:
	 * the column NULL in each (its NOT NULL dropped), and when the source's
	 * is NOT NULL, its marker (a former one replaced)
	 */
	"	CASE WHEN st.ord = 80 THEN (SELECT pg_catalog.format(\n"
	"		'ALTER TABLE %s %sALTER COLUMN %I DROP NOT NULL, ALTER COLUMN %I TYPE %s%s USING NULL::%s%s',\n"
	"		t.qa, CASE WHEN " HAS_NOT_NULL_MARKER "\n"
	"			THEN pg_catalog.format('DROP CONSTRAINT %I, ', " NOT_NULL_MARKER("c.attnum") ")\n"
	"			ELSE '' END,\n"
	"		c.ac ->> 'name', c.ac ->> 'name', c.ty, c.coll, c.ty,\n"
	"		CASE WHEN (c.ac ->> 'not_null')::pg_catalog.bool\n"
	"			THEN pg_catalog.format(', ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID',\n"
	"				" NOT_NULL_MARKER("c.attnum") ", c.ac ->> 'name')\n"
	"			ELSE '' END)\n"
	"		FROM t, cols c WHERE c.attnum = st.sub) END AS keep,\n"
	/*
	 * when the column cannot be set to NULL either (a key column): the
	 * foreign keys that reference the table, set aside (pg_set_aside.h)
	 */
	"	CASE WHEN st.ord = 80 THEN (SELECT pg_catalog.format(" SET_ASIDE_DO ",\n"
	"		t.qa, NULL, NULL, NULL, NULL) FROM t) END AS set_aside,\n"
	/* whether the column is in a unique key of the target's table (as it is before) */
	"	st.ord = 80 AND EXISTS (SELECT 1 FROM t, cols c, pg_catalog.pg_index i\n"
	"		JOIN pg_catalog.pg_attribute at ON at.attrelid = i.indrelid\n"
	"			AND at.attnum OPERATOR(pg_catalog.=) ANY (i.indkey)\n"
	"		WHERE c.attnum = st.sub AND i.indisunique\n"
	"			AND i.indrelid = coalesce(pg_catalog.to_regclass(t.qb), pg_catalog.to_regclass(t.qa))\n"
	"			AND at.attname = c.bc ->> 'name') AS key\n"
	"FROM st ORDER BY st.ord, st.sub";

/*
 * The statements of a unique, check, foreign-key or exclusion constraint's
 * change. $1 apply_schema, $2 the ddl object. A creation is skipped when
 * the table already has a constraint of that name (made by hand, or sent
 * again); a changed key (columns, referenced table, actions, expression,
 * an exclusion's operators) drops and adds it again; otherwise a rename
 * is a rename, and a constraint made NOT VALID and then validated is
 * validated. The definitions name the source's schema: the caller
 * re-qualifies them. SET_ASIDE is the select of CTE t: t0's columns, and
 * whether the constraint is a foreign key set aside (sa: pg_set_aside.h)
 * with the statement putting it back NOT VALID and forgetting it
 * (sa_back), and since when (sa_since); the change of a key set aside is
 * made to it put back that way, not validated, and it is set aside again
 * afterwards (unless dropped), recorded as validated as the source's is,
 * since the same time.
 */
#define CONSTRAINT_DDL_SQL(SET_ASIDE) \
	PG_DDL_X ",\n" \
	"t0 AS (\n" \
	"	SELECT s, b, a,\n" \
	"		CASE WHEN b IS NOT NULL THEN pg_catalog.format('%I.%I', s, b ->> 'table') END AS qb,\n" \
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format('%I.%I', s, a ->> 'table') END AS qa,\n" \
	"		b IS NOT NULL AND a IS NOT NULL AND (b ->> 'key') <> (a ->> 'key') AS remade\n" \
	"	FROM x),\n" \
	"t AS (\n" SET_ASIDE "),\n" \
	"st(ord, stmt) AS (\n" \
	"	SELECT -10, t.sa_back FROM t WHERE t.sa\n" \
	"	UNION ALL\n" \
	"	SELECT 0, pg_catalog.format('ALTER TABLE IF EXISTS %s DROP CONSTRAINT IF EXISTS %I',\n" \
	"		t.qb, t.b ->> 'name')\n" \
	"	FROM t WHERE t.a IS NULL\n" \
	"	UNION ALL\n" \
	"	SELECT 10, pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I',\n" \
	"		t.qa, t.b ->> 'name')\n" \
	"	FROM t WHERE t.remade\n" \
	"	UNION ALL\n" \
	"	SELECT 20, pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s%s', t.qa,\n" \
	"		t.a ->> 'name', t.a ->> 'definition',\n" \
	"		CASE WHEN (t.a ->> 'validated')::pg_catalog.bool AND NOT t.sa THEN ''\n" \
	"			ELSE ' NOT VALID' END)\n" \
	"	FROM t WHERE t.a IS NOT NULL AND (t.b IS NULL OR t.remade)\n" \
	"		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k\n" \
	"			WHERE k.conrelid = pg_catalog.to_regclass(t.qa) AND k.conname = t.a ->> 'name'\n" \
	"				AND NOT t.remade)\n" \
	"	UNION ALL\n" \
	"	SELECT 30, pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',\n" \
	"		t.qa, t.b ->> 'name', t.a ->> 'name')\n" \
	"	FROM t WHERE t.b IS NOT NULL AND t.a IS NOT NULL AND NOT t.remade\n" \
	"		AND t.b ->> 'name' <> t.a ->> 'name'\n" \
	"	UNION ALL\n" \
	"	SELECT 40, pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I',\n" \
	"		t.qa, t.a ->> 'name')\n" \
	"	FROM t WHERE t.b IS NOT NULL AND t.a IS NOT NULL AND NOT t.remade AND NOT t.sa\n" \
	"		AND (t.a ->> 'validated')::pg_catalog.bool\n" \
	"		AND NOT (t.b ->> 'validated')::pg_catalog.bool\n" \
	"	UNION ALL\n" \
	"	SELECT 50, pg_catalog.format(" SET_ASIDE_DO ",\n" \
	"		NULL, t.qa, t.a ->> 'name', t.a ->> 'validated', t.sa_since)\n" \
	"	FROM t WHERE t.sa AND t.a IS NOT NULL)\n" \
	"SELECT stmt FROM st ORDER BY ord"

/* The constraint statements when no key is set aside on the target. */
static const char constraint_ddl_sql[] =
	CONSTRAINT_DDL_SQL("	SELECT t0.*, false AS sa, NULL::pg_catalog.text AS sa_back,\n"
					   "		NULL::pg_catalog.timestamptz AS sa_since FROM t0\n");

/* The same when the table of the keys set aside exists. */
static const char constraint_set_aside_ddl_sql[] =
	CONSTRAINT_DDL_SQL(
		"	SELECT t0.*, f.rel IS NOT NULL AS sa, f.set_at AS sa_since,\n"
		"		pg_catalog.format('DO %L', pg_catalog.format('BEGIN %s DELETE FROM "
		SET_ASIDE_TABLE " WHERE rel = %s AND name = %L; END',\n"
		"			CASE WHEN " SET_ASIDE_ALIVE("f") "\n"
		"				THEN pg_catalog.format('EXECUTE %L;', " SET_ASIDE_ADD("f", "false") ")\n"
		"				ELSE '' END, f.rel, f.name)) AS sa_back\n"
		"	FROM t0 LEFT JOIN " SET_ASIDE_TABLE " f\n"
		"		ON f.rel = pg_catalog.to_regclass(coalesce(t0.qa, t0.qb))::pg_catalog.oid\n"
		"			AND f.name = t0.b ->> 'name'\n");

/*
 * The statements of a function's or procedure's change. $1 apply_schema,
 * $2 the ddl object. A drop or rename names it by its signature; a
 * creation or a change of its definition is the source's CREATE OR
 * REPLACE, with check_function_bodies off (a SQL function may read a table
 * that comes later in the batch), then its search_path: a source's
 * setting with the source schema mapped to apply_schema, or, for a body
 * that is not SQL-standard and has none (it relies on its caller's
 * search_path, where the source's own schema is), apply_schema. The
 * definitions name the source's schema: the caller re-qualifies them.
 */
static const char function_ddl_sql[] =
	PG_DDL_X ",\n"
	"t AS (\n"
	"	SELECT s, b, a,\n"
	"		CASE WHEN coalesce(a, b) ->> 'kind' = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kw,\n"
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format('%I.%I(%s)', s, a ->> 'name',\n"
	"			a ->> 'arguments') END AS sig,\n"
	"		CASE WHEN a ->> 'search_path' IS NOT NULL THEN (\n"
	"			SELECT pg_catalog.string_agg(CASE WHEN e IN (a ->> 'schema',\n"
	"					pg_catalog.quote_ident(a ->> 'schema'))\n"
	"				THEN pg_catalog.quote_ident(s) ELSE e END, ', ' ORDER BY o)\n"
	"			FROM pg_catalog.regexp_split_to_table(a ->> 'search_path', '\\s*,\\s*')\n"
	"				WITH ORDINALITY AS p(e, o))\n"
	"			WHEN NOT (a ->> 'sql_body')::pg_catalog.bool\n"
	"				AND a ->> 'language' NOT IN ('c', 'internal')\n"
	"			THEN pg_catalog.quote_ident(s) END AS path\n"
	"	FROM x),\n"
	"st(ord, stmt) AS (\n"
	"	SELECT 0, pg_catalog.format('DROP %s IF EXISTS %I.%I(%s)', t.kw, t.s,\n"
	"		t.b ->> 'name', t.b ->> 'arguments')\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, pg_catalog.format('ALTER %s %I.%I(%s) RENAME TO %I', t.kw, t.s,\n"
	"		t.b ->> 'name', t.b ->> 'arguments', t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 20, 'SET LOCAL check_function_bodies = off'\n"
	"	FROM t WHERE t.a IS NOT NULL\n"
	"		AND (t.a ->> 'definition') IS DISTINCT FROM (t.b ->> 'definition')\n"
	"	UNION ALL\n"
	"	SELECT 30, t.a ->> 'definition'\n"
	"	FROM t WHERE t.a IS NOT NULL\n"
	"		AND (t.a ->> 'definition') IS DISTINCT FROM (t.b ->> 'definition')\n"
	"	UNION ALL\n"
	"	SELECT 40, pg_catalog.format('ALTER %s %s SET search_path = %s', t.kw, t.sig, t.path)\n"
	"	FROM t WHERE t.a IS NOT NULL AND t.path IS NOT NULL\n"
	"		AND (t.a ->> 'definition') IS DISTINCT FROM (t.b ->> 'definition'))\n"
	"SELECT stmt FROM st ORDER BY ord";

/*
 * The statements of a view's change. $1 apply_schema, $2 the ddl object.
 * A view: renamed, its columns renamed (by position), then CREATE OR
 * REPLACE VIEW when its query or options changed. A materialized view:
 * created WITH DATA (from the target's rows, which the batches have
 * brought to where the source's were), renamed, its columns renamed; a
 * change of its query (which the source cannot make without a new OID)
 * remakes it. The query names the source's schema: the caller re-qualifies
 * it.
 */
static const char view_ddl_sql[] =
	PG_DDL_X ",\n"
	"t AS (\n"
	"	SELECT s, b, a,\n"
	"		CASE WHEN (coalesce(a, b) ->> 'materialized')::pg_catalog.bool\n"
	"			THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END AS kw,\n"
	"		(coalesce(a, b) ->> 'materialized')::pg_catalog.bool AS mat,\n"
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format('%I.%I', s, a ->> 'name') END AS qa,\n"
	"		CASE WHEN coalesce(a ->> 'options', '') <> ''\n"
	"			THEN pg_catalog.format(' WITH (%s)', a ->> 'options') ELSE '' END AS opts,\n"
	"		b IS NOT NULL AND a IS NOT NULL AND ((b ->> 'definition') <> (a ->> 'definition')\n"
	"			OR (b ->> 'options') IS DISTINCT FROM (a ->> 'options')) AS changed\n"
	"	FROM x),\n"
	"cols AS (\n"
	"	SELECT o, cb, ca\n"
	"	FROM t, pg_catalog.json_array_elements_text(t.b -> 'columns') WITH ORDINALITY AS u(cb, o)\n"
	"	JOIN pg_catalog.json_array_elements_text(t.a -> 'columns') WITH ORDINALITY AS v(ca, o2)\n"
	"		ON v.o2 = u.o\n"
	"	WHERE cb <> ca),\n"
	"st(ord, sub, stmt) AS (\n"
	"	SELECT 0, 0, pg_catalog.format('DROP %s IF EXISTS %I.%I', t.kw, t.s, t.b ->> 'name')\n"
	"	FROM t WHERE t.a IS NULL\n"
	"	UNION ALL\n"
	"	SELECT 10, 0, pg_catalog.format('ALTER %s %I.%I RENAME TO %I', t.kw, t.s,\n"
	"		t.b ->> 'name', t.a ->> 'name')\n"
	"	FROM t WHERE t.b ->> 'name' <> t.a ->> 'name'\n"
	"	UNION ALL\n"
	"	SELECT 20, c.o::pg_catalog.int4, pg_catalog.format('ALTER %s %s RENAME COLUMN %I TO %I',\n"
	"		t.kw, t.qa, c.cb, c.ca)\n"
	"	FROM t, cols c\n"
	"	UNION ALL\n"
	"	SELECT 30, 0, pg_catalog.format('CREATE OR REPLACE VIEW %s%s AS %s', t.qa, t.opts,\n"
	"		t.a ->> 'definition')\n"
	"	FROM t WHERE NOT t.mat AND t.a IS NOT NULL AND (t.b IS NULL OR t.changed)\n"
	"	UNION ALL\n"
	"	SELECT 40, 0, pg_catalog.format('DROP MATERIALIZED VIEW IF EXISTS %s', t.qa)\n"
	"	FROM t WHERE t.mat AND t.changed\n"
	"	UNION ALL\n"
	"	SELECT 50, 0, pg_catalog.format('CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s AS %s',\n"
	"		t.qa, t.opts, t.a ->> 'definition')\n"
	"	FROM t WHERE t.mat AND t.a IS NOT NULL AND (t.b IS NULL OR t.changed))\n"
	"SELECT stmt FROM st ORDER BY ord, sub";

/*
 * The statements of an extension's change. $1 apply_schema, $2 the ddl
 * object. Created in apply_schema at the source's version (nothing when
 * the target has it already, in whatever schema), updated to the
 * source's new version, dropped; its moves between schemas do nothing
 * (every source schema maps onto apply_schema).
 */
static const char extension_ddl_sql[] =
	PG_DDL_X "\n"
	"SELECT pg_catalog.format('DROP EXTENSION IF EXISTS %I', b ->> 'name')\n"
	"FROM x WHERE a IS NULL\n"
	"UNION ALL\n"
	"SELECT pg_catalog.format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I VERSION %L',\n"
	"	a ->> 'name', s, a ->> 'version')\n"
	"FROM x WHERE b IS NULL AND a IS NOT NULL\n"
	"UNION ALL\n"
	"SELECT pg_catalog.format('ALTER EXTENSION %I UPDATE TO %L', a ->> 'name', a ->> 'version')\n"
	"FROM x WHERE b ->> 'version' <> a ->> 'version'";

/*
 * The statements of a change of an object's comments. $1 apply_schema,
 * $2 the ddl object. COMMENT ON the object (by its name after the change,
 * a constraint's ON its table, a primary key by the name the target's
 * table gives its primary key, a serial or identity column's sequence as
 * the one that column owns on the target: NULL, which fails, when there
 * is none),
 * before it for a drop, which comes before the object's own drop or
 * rename) when its comment changed, and on each column whose comment
 * changed and that the target's table has (a column dropped in the same
 * change is gone). The names of function arguments' types name the
 * source's schema: the caller re-qualifies them.
 */
static const char comment_ddl_sql[] =
	PG_DDL_X ",\n"
	"t AS (\n"
	"	SELECT s, b, a, coalesce(a, b) ->> 'kind' AS kw,\n"
	"		pg_catalog.format('%I.%I', s, coalesce(a, b) ->> 'name') AS qn,\n"
	"		CASE WHEN (coalesce(a, b) ->> 'primary_key')::pg_catalog.bool\n"
	"			THEN (SELECT pg_catalog.format('%I ON %I.%I', k.conname, s, coalesce(a, b) ->> 'table')\n"
	"				FROM pg_catalog.pg_constraint k\n"
	"				WHERE k.conrelid = pg_catalog.to_regclass(pg_catalog.format('%I.%I', s,\n"
	"					coalesce(a, b) ->> 'table')) AND k.contype = 'p')\n"
	"			WHEN coalesce(a, b) ->> 'column' IS NOT NULL\n"
	"			THEN (SELECT pg_catalog.pg_get_serial_sequence(at.attrelid::pg_catalog.regclass::pg_catalog.text,\n"
	"					at.attname)\n"
	"				FROM pg_catalog.pg_attribute at\n"
	"				WHERE at.attrelid = pg_catalog.to_regclass(pg_catalog.format('%I.%I', s,\n"
	"					coalesce(a, b) ->> 'table'))\n"
	"					AND at.attname = coalesce(a, b) ->> 'column' AND NOT at.attisdropped)\n"
	"			WHEN coalesce(a, b) ->> 'kind' = 'CONSTRAINT'\n"
	"			THEN pg_catalog.format('%I ON %I.%I', coalesce(a, b) ->> 'name', s,\n"
	"				coalesce(a, b) ->> 'table')\n"
	"			ELSE pg_catalog.format('%I.%I', s, coalesce(a, b) ->> 'name') ||\n"
	"				coalesce('(' || (coalesce(a, b) ->> 'arguments') || ')', '') END AS target\n"
	"	FROM x),\n"
	"cols AS (\n"
	"	SELECT k.attnum, t.b -> 'columns' -> k.attnum AS bc, t.a -> 'columns' -> k.attnum AS ac\n"
	"	FROM t, (SELECT pg_catalog.json_object_keys(t.b -> 'columns') FROM t\n"
	"		WHERE pg_catalog.json_typeof(t.b -> 'columns') = 'object'\n"
	"		UNION SELECT pg_catalog.json_object_keys(t.a -> 'columns') FROM t\n"
	"		WHERE pg_catalog.json_typeof(t.a -> 'columns') = 'object') AS k(attnum))\n"
	"SELECT pg_catalog.format('COMMENT ON %s %s IS %s', t.kw, t.target,\n"
	"	coalesce(pg_catalog.quote_literal(t.a ->> 'comment'), 'NULL'))\n"
	"FROM t WHERE (t.a ->> 'comment') IS DISTINCT FROM (t.b ->> 'comment')\n"
	/* a comment removed from a key or a sequence the target lacks: nothing */
	"	AND (t.target IS NOT NULL OR t.a ->> 'comment' IS NOT NULL)\n"
	"UNION ALL\n"
	"SELECT pg_catalog.format('COMMENT ON COLUMN %s.%I IS %s', t.qn,\n"
	"	coalesce(c.ac, c.bc) ->> 'name', coalesce(pg_catalog.quote_literal(c.ac ->> 'comment'), 'NULL'))\n"
	"FROM t, cols c\n"
	"WHERE (c.ac ->> 'comment') IS DISTINCT FROM (c.bc ->> 'comment')\n"
	"	AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute at\n"
	"		WHERE at.attrelid = pg_catalog.to_regclass(t.qn)\n"
	"			AND at.attname = coalesce(c.ac, c.bc) ->> 'name' AND NOT at.attisdropped)";

/*
 * The statements' query of a kind other than schema (its parameters are
 * $1 apply_schema and $2 the ddl object), or NULL for an unknown kind.
 */
static const char *
kind_sql(const char *type)
{
	if (strcmp(type, "table") == 0)
		return table_ddl_sql;
	if (strcmp(type, "enum") == 0)
		return pg_ddl_enum_sql;
	if (strcmp(type, "composite") == 0)
		return pg_ddl_composite_sql;
	if (strcmp(type, "domain") == 0)
		return pg_ddl_domain_sql;
	if (strcmp(type, "sequence") == 0)
		return pg_ddl_sequence_sql;
	if (strcmp(type, "index") == 0)
		return pg_ddl_index_sql;
	if (strcmp(type, "range") == 0 || strcmp(type, "range_fn") == 0)
		return pg_ddl_range_sql;
	if (strcmp(type, "aggregate") == 0)
		return pg_ddl_aggregate_sql;
	if (strcmp(type, "constraint") == 0)
		return constraint_ddl_sql;
	if (strcmp(type, "function") == 0 || strcmp(type, "function_sql_body") == 0)
		return function_ddl_sql;
	if (strcmp(type, "view") == 0)
		return view_ddl_sql;
	if (strcmp(type, "extension") == 0)
		return extension_ddl_sql;
	if (strcmp(type, "comment") == 0)
		return comment_ddl_sql;
	return NULL;
}

/* See postgres.h. */
bool
pg_ddl_kind_known(const char *type)
{
	return strcmp(type, "schema") == 0 || kind_sql(type) != NULL;
}

/*
 * s as an SQL escape string constant, E'...' (malloc'd, the caller frees;
 * NULL when out of memory): the same text whatever
 * standard_conforming_strings says.
 */
static char *
escape_literal(const char *s)
{
	size_t		n = 4;
	char	   *out;
	char	   *o;

	for (const char *p = s; *p; p++)
		n += (*p == '\'' || *p == '\\') ? 2 : 1;
	out = malloc(n);
	if (out == NULL)
		return NULL;
	o = out;
	*o++ = 'E';
	*o++ = '\'';
	for (const char *p = s; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			*o++ = *p;
		*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

/*
 * The body of the DO block that guards a column's type change (see
 * guard_retype): %1$s the change, %2$s the statement emptying its table,
 * %3$s the conversion that cannot fail on values, %4$s the conversion
 * over the rows of a table that cannot be emptied, %5$s the statement
 * setting aside the foreign keys that reference the table, each a string
 * constant, and %6$s whether the column is in a unique key of the target's
 * table (true or false). The conversion of such a column is not tried:
 * the rows that follow are upserted on the table's key (and must not
 * clash with a unique key's old values), so the source's own USING
 * expression, which the target does not know, must give the values; the
 * table is emptied as when the cast fails (a notice, not a warning, when
 * nothing else failed: a key widened is routine). The failures of the
 * cast on values: a data exception (class 22: 'abc' into an integer), an
 * integrity violation (class 23: the converted values break a constraint
 * or a unique index) or no such cast on the target (cannot_coerce: the
 * source converted with its own USING expression). Any other failure propagates as it is. A table that cannot
 * be emptied (a foreign key of the target references it: TRUNCATE
 * refuses) keeps its rows, and the conversion sets the column to NULL in
 * each, which the rows that follow replace; a NOT NULL column loses its
 * NOT NULL until then (its marker: pg_not_null.c). A column that cannot
 * (a key column) has the keys that reference its table set aside until
 * the rows are back (pg_set_aside.c), and the table emptied after all;
 * when that fails too, the batch is held, the reason saying all four
 * failures.
 */
static const char retype_follow_body[] =
	"DECLARE\n"
	"	tp_cast_error pg_catalog.text;\n"
	"	tp_empty_error pg_catalog.text;\n"
	"	tp_keep_error pg_catalog.text;\n"
	"BEGIN\n"
	"	IF %6$s THEN\n"
	"		RAISE EXCEPTION USING ERRCODE = 'data_exception', MESSAGE = 'a column of a unique "
	"key, whose values must be the source''s for the rows that follow to match them';\n"
	"	END IF;\n"
	"	EXECUTE %1$s;\n"
	"EXCEPTION WHEN data_exception OR integrity_constraint_violation OR cannot_coerce THEN\n"
	"	tp_cast_error := SQLERRM;\n"
	"	BEGIN\n"
	"		EXECUTE %2$s;\n"
	"	EXCEPTION WHEN OTHERS THEN\n"
	"		tp_empty_error := SQLERRM;\n"
	"	END;\n"
	"	BEGIN\n"
	"		IF tp_empty_error IS NULL THEN\n"
	"			EXECUTE %3$s;\n"
	"		ELSE\n"
	"			EXECUTE %4$s;\n"
	"		END IF;\n"
	"	EXCEPTION WHEN OTHERS THEN\n"
	"		IF tp_empty_error IS NULL THEN\n"
	"			RAISE EXCEPTION 'the target cannot convert the column itself (%%), and the table, emptied "
	"for the source''s rows that follow the change, cannot be converted: %%',\n"
	"				tp_cast_error, SQLERRM USING ERRCODE = SQLSTATE;\n"
	"		END IF;\n"
	"		tp_keep_error := SQLERRM;\n"
	"	END;\n"
	"	IF tp_keep_error IS NOT NULL THEN\n"
	"		BEGIN\n"
	"			EXECUTE %5$s;\n"
	"			EXECUTE %2$s;\n"
	"			EXECUTE %3$s;\n"
	"		EXCEPTION WHEN OTHERS THEN\n"
	"			RAISE EXCEPTION 'the target cannot convert the column itself (%%), the table cannot be "
	"emptied for the source''s rows that follow the change (%%), the column cannot be set "
	"to NULL in its rows for them to replace (%%), and with the foreign keys that reference "
	"the table set aside it still cannot be emptied and converted: %%',\n"
	"				tp_cast_error, tp_empty_error, tp_keep_error, SQLERRM USING ERRCODE = SQLSTATE;\n"
	"		END;\n"
	"		RAISE WARNING '%%: the target cannot convert the column itself (%%), the table cannot be emptied "
	"(%%) and the column cannot be set to NULL (%%): the foreign keys that reference the "
	"table were set aside and the table emptied, for the source''s rows that follow the "
	"change to fill it; the keys come back once they have', %1$s, tp_cast_error, "
	"tp_empty_error, tp_keep_error;\n"
	"	ELSIF tp_empty_error IS NULL AND %6$s THEN\n"
	"		RAISE NOTICE '%%: a column of a unique key: the table was emptied, the source''s "
	"rows that follow the change fill it', %1$s;\n"
	"	ELSIF tp_empty_error IS NULL THEN\n"
	"		RAISE WARNING '%%: the target cannot convert the column itself (%%): the table was emptied, "
	"the source''s rows that follow the change fill it', %1$s, tp_cast_error;\n"
	"	ELSE\n"
	"		RAISE WARNING '%%: the target cannot convert the column itself (%%) and the table cannot be "
	"emptied (%%): the column was set to NULL in its rows (its NOT NULL waits for them), "
	"which the source''s rows that follow the change replace', %1$s, tp_cast_error, "
	"tp_empty_error;\n"
	"	END IF;\n"
	"END";

/* The same when no rows follow: the failure holds the batch, saying why. */
static const char retype_hold_body[] =
	"BEGIN\n"
	"	EXECUTE %1$s;\n"
	"EXCEPTION WHEN data_exception OR integrity_constraint_violation OR cannot_coerce THEN\n"
	"	RAISE EXCEPTION '%%', SQLERRM USING ERRCODE = SQLSTATE,\n"
	"		DETAIL = 'the target''s conversion fails, and the source does not "
	"send the table''s rows again after this change (it does not capture the table: no "
	"primary key, or no target selects it; or teleport''s role may not lock it), so they "
	"cannot replace the target''s: convert the column on the target by hand (ALTER TABLE "
	"... TYPE ... USING), then the batch applies';\n"
	"END";

/*
 * A column's type change, stmt (USING col::newtype), guarded against its
 * cast failing on the target's values, which the source's own USING
 * expression did not meet: when the source sends the table's rows again
 * after the change (follow: "rows_follow" in its event), which replace
 * every row the target has, the table is emptied (empty) and the column
 * converted by fallback (USING NULL, over no rows), with a warning, so
 * that the batch applies and the rows that follow fill the table; no row
 * is lost, since they are all of the source's. A table that cannot be
 * emptied (a foreign key of the target references it) is converted over
 * its rows (keep), its column NULL, without NOT NULL but marked, until
 * the rows that follow replace them (pg_not_null.c gives NOT NULL back);
 * where keep fails too (a key column), the foreign keys that reference
 * the table are set aside (set_aside) until the rows are back
 * (pg_set_aside.c), and the table emptied and converted after all. A
 * column of a unique key (key) is not converted by the target's cast
 * when the rows follow: the table is emptied as if the cast failed.
 * Otherwise the failure holds the batch, its detail saying why. Every
 * other failure (of another kind, or of all three ways) holds the batch
 * too. The statements are re-qualified already. Returns the DO statement
 * (malloc'd), or NULL when out of memory.
 */
static char *
guard_retype(const char *stmt, const char *empty, const char *fallback,
			 const char *keep, const char *set_aside, bool follow, bool key)
{
	char	   *l_stmt = escape_literal(stmt);
	char	   *l_empty = escape_literal(empty);
	char	   *l_fallback = escape_literal(fallback);
	char	   *l_keep = escape_literal(keep);
	char	   *l_set_aside = escape_literal(set_aside);
	char	   *body = NULL;
	char	   *l_body = NULL;
	char	   *out = NULL;
	int			n;

	if (l_stmt == NULL || l_empty == NULL || l_fallback == NULL || l_keep == NULL ||
		l_set_aside == NULL)
		goto done;
	n = snprintf(NULL, 0, follow ? retype_follow_body : retype_hold_body,
				 l_stmt, l_empty, l_fallback, l_keep, l_set_aside, key ? "true" : "false");
	if (n < 0 || (body = malloc((size_t) n + 1)) == NULL)
		goto done;
	snprintf(body, (size_t) n + 1, follow ? retype_follow_body : retype_hold_body,
			 l_stmt, l_empty, l_fallback, l_keep, l_set_aside, key ? "true" : "false");
	if ((l_body = escape_literal(body)) == NULL ||
		(out = malloc(strlen(l_body) + 4)) == NULL)
		goto done;
	strcpy(out, "DO ");
	strcat(out, l_body);
done:
	free(l_stmt);
	free(l_empty);
	free(l_fallback);
	free(l_keep);
	free(l_set_aside);
	free(body);
	free(l_body);
	return out;
}

/*
 * The statement of column col of row i of res re-qualified from schema
 * qsrc to qdst (when qsrc is given), malloc'd; NULL when out of memory.
 */
static char *
requalified(const PGresult *res, int i, int col, const char *qsrc, const char *qdst)
{
	return qsrc != NULL && qdst != NULL ? pg_requalify(PQgetvalue(res, i, col), qsrc, qdst)
		: strdup(PQgetvalue(res, i, col));
}

/*
 * Send the statements of rows of res (a statement, and optionally whether
 * to run it ahead of the batch's transaction: pg_ahead.c; when that fails
 * it is sent in the transaction too; and optionally, for a column's type
 * change, the statements and flag of guard_retype: the conversion that
 * cannot fail on values, or NULL, the statement emptying the table,
 * whether the source's rows follow, the conversion over the rows of a
 * table that cannot be emptied, and the statement setting aside the
 * foreign keys that reference it), described by what; when qsrc is
 * given, each re-qualified from schema qsrc to qdst (quoted identifiers)
 * first. A NULL statement (a description without what it needs) fails
 * ex.
 */
static void
send_statements(pg_applier *a, pg_exec *ex, const PGresult *res, const char *what,
				const char *qsrc, const char *qdst)
{
	for (int i = 0; i < PQntuples(res) && !ex->failed; i++)
	{
		char		desc[1024];
		char	   *stmt;
		char	   *guarded = NULL;

		if (PQgetisnull(res, i, 0))
		{
			/* a description lacking what the statement needs */
			ex->failed = true;
			snprintf(ex->error, sizeof(ex->error), "%s: the description lacks what "
					 "its statement needs", what);
			return;
		}
		stmt = requalified(res, i, 0, qsrc, qdst);
		if (stmt != NULL && PQnfields(res) > 7 && !PQgetisnull(res, i, 2) &&
			!PQgetisnull(res, i, 3) && !PQgetisnull(res, i, 5) && !PQgetisnull(res, i, 6))
		{
			char	   *fallback = requalified(res, i, 2, qsrc, qdst);
			char	   *empty = requalified(res, i, 3, qsrc, qdst);
			char	   *keep = requalified(res, i, 5, qsrc, qdst);
			char	   *set_aside = requalified(res, i, 6, qsrc, qdst);
			bool		follow = strcmp(PQgetvalue(res, i, 4), "t") == 0;
			bool		key = strcmp(PQgetvalue(res, i, 7), "t") == 0;

			if (fallback != NULL && empty != NULL && keep != NULL && set_aside != NULL)
				guarded = guard_retype(stmt, empty, fallback, keep, set_aside, follow, key);
			/* the conversion may leave a NOT NULL marker, or set keys aside */
			a->not_null_pending = a->not_null_pending || follow;
			a->set_aside_pending = a->set_aside_pending || follow;
			if (follow && a->set_aside_table == 0)
				a->set_aside_table = -1;
			free(fallback);
			free(empty);
			free(keep);
			free(set_aside);
			if (guarded == NULL)
			{
				free(stmt);
				stmt = NULL;
			}
		}
		if (stmt == NULL)
		{
			ex->failed = true;
			snprintf(ex->error, sizeof(ex->error), "%s: out of memory", what);
			return;
		}
		if (PQnfields(res) > 1 && strcmp(PQgetvalue(res, i, 1), "t") == 0)
		{
			char		error[512];

			if (pg_ahead_run(a, ex->conn, stmt, error, sizeof(error)))
			{
				free(stmt);
				continue;
			}
		}
		snprintf(desc, sizeof(desc), "%s: %s", what, stmt);
		pg_exec_send(ex, guarded != NULL ? guarded : stmt, NULL, 0, NULL, desc, 0);
		free(stmt);
		free(guarded);
	}
}

/*
 * The source's schema and apply_schema quoted as identifiers, into qsrc
 * and qdst (free both), or NULL for both when they are the same schema.
 * False after a failure (ex->error says why).
 */
static bool
quoted_schemas(pg_exec *ex, const char *src, const char *dst, const char *what,
			   char **qsrc, char **qdst)
{
	const char *params[2] = {src, dst};
	PGresult   *res;

	*qsrc = *qdst = NULL;
	if (strcmp(src, dst) == 0)
		return true;
	res = pg_exec_query(ex, "SELECT pg_catalog.quote_ident($1::pg_catalog.text),"
						" pg_catalog.quote_ident($2::pg_catalog.text)", NULL, 2, params, what);
	if (res == NULL)
		return false;
	*qsrc = strdup(PQgetvalue(res, 0, 0));
	*qdst = strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (*qsrc == NULL || *qdst == NULL)
	{
		free(*qsrc);
		free(*qdst);
		*qsrc = *qdst = NULL;
		ex->failed = true;
		snprintf(ex->error, sizeof(ex->error), "%s: out of memory", what);
		return false;
	}
	return true;
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
			send_statements(a, ex, res, what, NULL, NULL);
			PQclear(res);
		}
	}
	else
	{
		const char *params[2] = {batch->apply_schema, c->ddl};
		char	   *qsrc;
		char	   *qdst;
		PGresult   *res;

		if (!quoted_schemas(ex, c->schema, batch->apply_schema, what, &qsrc, &qdst))
		{
			snprintf(reason, reason_len, "%s", ex->error);
			return TP_RETRY;
		}
		res = pg_exec_query(ex, strcmp(type, "constraint") == 0 && pg_set_aside_exists(a, ex)
							? constraint_set_aside_ddl_sql : kind_sql(type),
							NULL, 2, params, what);
		if (res == NULL)
		{
			free(qsrc);
			free(qdst);
			snprintf(reason, reason_len, "%s", ex->error);
			return TP_RETRY;
		}
		send_statements(a, ex, res, what, qsrc, qdst);
		PQclear(res);
		free(qsrc);
		free(qdst);
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
