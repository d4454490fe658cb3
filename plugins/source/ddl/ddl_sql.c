/*
 * ddl_sql.c
 *     The SQL the DDL sources share: the objects they keep in schema
 *     teleport and the statements their C code runs.
 *
 * Objects (all in schema teleport, owned by teleport's role):
 *
 *   schema_snapshot(kind, oid, schema_name, object_name, description,
 *                   taken_at, depends)
 *       the last description sent (or taken at the first snapshot) of
 *       each object, keyed by kind and OID, so that a rename is a change
 *       of one object, not a drop and a create; depends: the described
 *       objects it depended on then (schema_depends), which order its
 *       drop
 *   schema_state         one row: when the first snapshot was taken, and
 *                        the catalogs' fingerprint at the last full
 *                        comparison
 *   schema_fingerprint() a cheap fingerprint of the catalogs the describe
 *                        functions read: a poll whose fingerprint has not
 *                        changed skips the comparison
 *   schema_describe_<kind>(p_oids oid[])
 *       one function per kind of object: for every object of that kind
 *       (p_oids NULL) or those whose OID is in p_oids, its OID, the schema
 *       and name the event is filed under (the target's filter selects on
 *       them) and its description, a json object built from the catalog.
 *       Kinds now: schema, extension, enum, composite, domain, range
 *       (range_fn: a range type with a function of a described schema),
 *       sequence, function (and procedure), table, function_sql_body
 *       (functions with a SQL-standard body), aggregate, index,
 *       constraint (unique, check,
 *       foreign key, exclusion), view (and materialized view), comment
 *       (the comments of one object and its columns). Objects an
 *       extension owns are of no kind.
 *   schema_depends(p_kinds text[], p_oids oid[])
 *                        the described objects each object depends on,
 *                        from pg_depend, by index
 *   schema_order(p_nodes json)
 *                        the effective rank of each of a set of objects:
 *                        its kind's rank, raised above those of the set
 *                        it depends on (also the initial load's order)
 *   schema_resend        the tables whose rows are to be sent again
 *                        (below), by the DDL source's next poll: all of
 *                        them, or those where one of some columns is not
 *                        NULL
 *   schema_storage       each described table's storage marks
 *                        (schema_table_storage(p_oids): hashes of its
 *                        relfilenodes and of its columns' pg_attribute row
 *                        versions), as the last comparison saw them: both
 *                        changed means a column's change rewrote the table
 *   schema_rows_changed(relid, before, after, types),
 *   schema_default_deterministic(relid, attnum)
 *                        whether a table's change may have given its rows
 *                        values the target would not compute alike
 *   schema_resend_rows(relid, pending)
 *                        send a captured table's rows again as 'c' events
 *                        (upserts), ordered after the change
 *   schema_capture(p_oids oid[], p_emit boolean)
 *       describe, compare with the snapshot (restricted to p_oids), emit
 *       one 'ddl' event per object created, changed or dropped when
 *       p_emit, update the snapshot; returns the number of such objects
 *       (the events emitted, or the objects recorded), or -1 when a full
 *       comparison found another capture in progress (try again). The
 *       comparison is generic: description texts, keyed by kind and OID.
 *       A table whose rows the change may have rewritten without row
 *       events (a column added with a volatile default, a type changed
 *       USING an expression, also to the same type: its storage marks)
 *       has its rows sent again after the events:
 *       in the DDL's transaction (event triggers), or queued in
 *       schema_resend for a transaction of the next poll that locks the
 *       table (a comparison; see schema_resend_rows for why either order
 *       is right); its event then says "rows_follow": true. A comparison
 *       that finds a captured table with a new column that needs the
 *       trigger source's text mode (json, jsonb, xml, an array, a
 *       composite) remakes its trigger in text mode in its transaction
 *       and queues the rows where such a column is not NULL: captured in
 *       json mode since the ALTER TABLE, they are sent again as text
 *       images (no "rows_follow": they are not the whole table).
 *
 * Adding a kind: a describe function, a row in the kinds list of
 * schema_capture (its rank orders events: containers before what they
 * contain) and in core/load.c's KIND_RANKS, a line in its union, and the
 * catalog rows of its objects in schema_depends; then the applier learns
 * the kind.
 * A describe function reads its catalog as
 *   FROM (SELECT * FROM pg_X WHERE p_oids IS NULL
 *         UNION ALL SELECT * FROM pg_X WHERE oid = ANY (p_oids)) x
 * rather than WHERE (p_oids IS NULL OR x.oid = ANY (p_oids)): a SQL
 * function's plan is generic, and only the first form reads the few rows
 * of p_oids by index (the event-trigger source describes a statement's
 * objects at every DDL; the other form scans the whole catalog each time).
 *
 * Every statement qualifies what it names: the host's session has
 * search_path = pg_catalog, and the functions pin it too.
 */
#include "tp_autoconf.h"

#include "ddl.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Schemas that are never described: the system's and teleport's. */
#define SYSTEM_SCHEMA(col) \
	"(" col " IN ('pg_catalog', 'information_schema', 'teleport', 'pg_toast')" \
	" OR " col " ~ '^pg_(toast_)?temp_')"

/*
 * The type "typid" (an SQL expression of type oid) when teleport describes
 * it: an enum, composite type, domain or range type, or the multirange of
 * a range type (the target creates it with its range, under the same
 * name), or an array of one, of a described schema, not an extension's
 * (a multirange is an extension's when its range is). Its element type's
 * schema and name, and whether it is an array, so that the target names
 * its own copy in apply_schema rather than the source's schema, and its
 * OID, so that the type's rename is not a column's type change: column
 * "tu.j", a json object {"oid", "schema", "name", "array"}, NULL for
 * other types. A domain over an array is no array: its category is its
 * base type's, but its typelem is 0. For LEFT JOIN LATERAL ... ON true.
 */
#define USER_TYPE_OF(typid) \
	"(SELECT json_build_object('oid', ue.oid, 'schema', un.nspname, 'name', ue.typname,\n" \
	"		'array', ue.oid <> ut.oid) AS j\n" \
	"	FROM pg_type ut\n" \
	"	JOIN pg_type ue ON ue.oid = CASE WHEN ut.typcategory = 'A' AND ut.typelem <> 0\n" \
	"		THEN ut.typelem ELSE ut.oid END\n" \
	"	JOIN pg_namespace un ON un.oid = ue.typnamespace\n" \
	"	WHERE ut.oid = " typid " AND ue.typtype IN ('e', 'c', 'd', 'r', 'm')\n" \
	"		AND NOT " SYSTEM_SCHEMA("un.nspname") "\n" \
	"		AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass\n" \
	"						AND x.objid = coalesce((SELECT ur.rngtypid FROM pg_range ur\n" \
	"							WHERE ur.rngmultitypid = ue.oid), ue.oid)\n" \
	"						AND x.deptype = 'e')) tu"

/* The type of attribute "a" (a pg_attribute): see USER_TYPE_OF. */
#define USER_TYPE_OF_A USER_TYPE_OF("a.atttypid")

/*
 * Whether u (json or jsonb: a column's or an attribute's "user_type") is
 * the type of row x of schema_capture's diff, described by d (x.before or
 * x.after): by its OID, or for a range type by its multirange, which a
 * range's description names ("multirange") and a column of it names with
 * the multirange's own OID.
 */
#define USER_TYPE_IS(u, x, d) \
	"((" u " ->> 'oid') = " x ".oid::text OR (" x ".kind IN ('range', 'range_fn')" \
	" AND (" u " ->> 'schema') = (" d " ->> 'schema')" \
	" AND (" u " ->> 'name') = (" d " ->> 'multirange')))"

/*
 * Whether a column or an attribute, b (jsonb: its description before) and
 * a (json: after), of a table or composite type whose removals go first
 * (schema_capture, "rmv") was of a type dropped in the same events (or
 * its multirange) and is now of one that is not created in them: its
 * type change goes first with the removals, before that drop.
 */
#define RMV_RETYPED(b, a) \
	"(EXISTS (SELECT 1 FROM diff x WHERE x.after IS NULL AND " \
	USER_TYPE_IS("(" b " -> 'user_type')", "x", "x.before") ")" \
	" AND (" a " -> 'user_type' ->> 'oid') IS DISTINCT FROM (" b " -> 'user_type' ->> 'oid')" \
	" AND NOT EXISTS (SELECT 1 FROM diff x WHERE x.before IS NULL AND " \
	USER_TYPE_IS("(" a " -> 'user_type')", "x", "x.after") "))"

/*
 * The parameters of the sequence attribute "a" of relation "c" owns (a
 * serial column's, pg_depend 'a', or an identity's, 'i'), as a
 * standalone sequence's description gives them, or NULL when they are
 * the defaults (those of CREATE SEQUENCE AS the column's type), so that
 * most tables' descriptions do not grow. For LEFT JOIN LATERAL ... ON
 * true.
 */
#define OWNED_SEQUENCE_PARAMETERS_OF_A \
	"(SELECT CASE WHEN q.seqtypid = a.atttypid AND q.seqincrement = 1 AND q.seqmin = 1\n" \
	"		AND q.seqmax = CASE q.seqtypid WHEN 'int2'::regtype THEN 32767\n" \
	"			WHEN 'int4'::regtype THEN 2147483647 ELSE 9223372036854775807 END\n" \
	"		AND q.seqstart = 1 AND q.seqcache = 1 AND NOT q.seqcycle THEN NULL\n" \
	"	ELSE json_build_object('type', format_type(q.seqtypid, NULL),\n" \
	"		'increment', q.seqincrement::text, 'min', q.seqmin::text, 'max', q.seqmax::text,\n" \
	"		'start', q.seqstart::text, 'cache', q.seqcache::text, 'cycle', q.seqcycle) END AS j\n" \
	"	FROM pg_depend sd\n" \
	"	JOIN pg_sequence q ON q.seqrelid = sd.objid\n" \
	"	WHERE sd.classid = 'pg_class'::regclass AND sd.refclassid = 'pg_class'::regclass\n" \
	"		AND sd.refobjid = c.oid AND sd.refobjsubid = a.attnum\n" \
	"		AND (sd.deptype = 'a' AND a.attidentity = '' OR sd.deptype = 'i' AND a.attidentity <> '')\n" \
	"	ORDER BY sd.objid LIMIT 1) sp"

/*
 * Create or upgrade the objects, idempotently; run in one transaction.
 * Refuses objects recorded by a newer teleport.
 */
const char	ddl_sql_setup[] =
	"SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('teleport.schema'));\n"
	"DO $do$\n"
	"DECLARE\n"
	"	v integer;\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regclass('teleport.schema_version') IS NULL THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	"	EXECUTE 'SELECT pg_catalog.max(version::text::integer) FROM teleport.schema_version'\n"
	"		' WHERE component = ''schema''' INTO v;\n"
	"	IF v > " STR(DDL_SCHEMA_VERSION) " THEN\n"
	"		RAISE EXCEPTION 'the schema capture''s objects in schema teleport are version %, newer than this teleport''s "
	STR(DDL_SCHEMA_VERSION) "', v\n"
	"			USING ERRCODE = 'object_not_in_prerequisite_state',\n"
	"			HINT = 'Run the teleport that installed them, or a newer one.';\n"
	"	END IF;\n"
	"	UPDATE teleport.schema_version SET version = " STR(DDL_SCHEMA_VERSION) "\n"
	"	WHERE component = 'schema';\n"
	"	IF NOT FOUND THEN\n"
	"		INSERT INTO teleport.schema_version (component, version)\n"
	"		VALUES ('schema', " STR(DDL_SCHEMA_VERSION) ");\n"
	"	END IF;\n"
	"END\n"
	"$do$;\n"
	"CREATE TABLE IF NOT EXISTS teleport.schema_snapshot (\n"
	"	kind text NOT NULL,\n"
	"	oid oid NOT NULL,\n"
	"	schema_name text NOT NULL,\n"
	"	object_name text,\n"
	"	description json NOT NULL,\n"
	"	taken_at timestamptz NOT NULL DEFAULT pg_catalog.now(),\n"
	"	PRIMARY KEY (kind, oid)\n"
	");\n"
	"CREATE INDEX IF NOT EXISTS schema_snapshot_oid ON teleport.schema_snapshot (oid);\n"
	/*
	 * the described objects it depended on (schema_depends), for the
	 * order of its drop; NULL in a row of version 2 until the setup that
	 * upgrades fills it (at its end). Only when missing: ALTER TABLE takes
	 * its ACCESS EXCLUSIVE lock even when the column exists, and would
	 * deadlock with a DDL transaction whose event triggers read the
	 * snapshot and then write it.
	 */
	"DO $do$\n"
	"BEGIN\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute\n"
	"				   WHERE attrelid = 'teleport.schema_snapshot'::pg_catalog.regclass\n"
	"					   AND attname = 'depends' AND NOT attisdropped) THEN\n"
	"		ALTER TABLE teleport.schema_snapshot ADD COLUMN depends oid[];\n"
	"	END IF;\n"
	"END\n"
	"$do$;\n"
	"CREATE TABLE IF NOT EXISTS teleport.schema_state (\n"
	"	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),\n"
	"	first_snapshot_at timestamptz,\n"
	"	fingerprint text\n"
	");\n"
	"INSERT INTO teleport.schema_state (singleton) VALUES (true)\n"
	"	ON CONFLICT DO NOTHING;\n"
	"CREATE TABLE IF NOT EXISTS teleport.schema_resend (\n"
	"	relid oid PRIMARY KEY,\n"
	"	queued_at timestamptz NOT NULL DEFAULT pg_catalog.now(),\n"
	"	attempts integer NOT NULL DEFAULT 0\n"
	");\n"
	/* the rows to send: those where one of columns is not NULL; NULL: all */
	"ALTER TABLE teleport.schema_resend ADD COLUMN IF NOT EXISTS columns int2[];\n"
	"CREATE TABLE IF NOT EXISTS teleport.schema_storage (\n"
	"	relid oid PRIMARY KEY,\n"
	"	storage numeric NOT NULL,\n"
	"	columns numeric NOT NULL\n"
	");\n"

	/*
	 * v, the text a deparsing function (pg_get_constraintdef...) gave for
	 * an object that the describing statement's snapshot lists. Those
	 * functions read the latest catalogs, and give NULL for an object
	 * dropped since: in a full comparison (schema_capture sets
	 * teleport.comparing) that is a serialization failure, and the
	 * comparison is tried again at the next poll, instead of an event
	 * without its definition, which no target could apply. Elsewhere
	 * (the event triggers run in the user's DDL transaction) NULL stays.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_deparsed(v text)\n"
	"RETURNS text\n"
	"LANGUAGE plpgsql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"BEGIN\n"
	"	IF v IS NULL AND current_setting('teleport.comparing', true) = 'on' THEN\n"
	"		RAISE EXCEPTION 'an object was dropped while the catalogs were described'\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	"	RETURN v;\n"
	"END\n"
	"$body$;\n"

	/* a schema: its name */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_schema(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT n.oid, n.nspname::text, NULL::text, json_build_object('name', n.nspname)\n"
	"FROM pg_namespace n\n"
	"WHERE (p_oids IS NULL OR n.oid = ANY (p_oids))\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"$body$;\n"

	/*
	 * A table (ordinary or partitioned, not a partition, not temporary):
	 * its schema and name, its columns by attnum (name, type with its
	 * typmod as format_type writes it, and for a type teleport describes
	 * its OID, schema and name apart, see USER_TYPE_OF_A; its collation
	 * when not its type's, as a key only then; NOT NULL,
	 * default expression, identity, generation expression, the name
	 * of a sequence the column owns, for serial columns, and, only when
	 * not the defaults, the parameters of the sequence it owns, serial or
	 * identity: see OWNED_SEQUENCE_PARAMETERS_OF_A), and its
	 * primary key (constraint
	 * name and attnums, so that renaming a key column does not change
	 * it). A partitioned table also lists its partitions, every level
	 * (OID, parent's OID, whether a leaf, and the partition constraint
	 * that pg_get_partition_constraintdef writes, its ancestors' included):
	 * a partition attached has its rows sent under the table's name, and
	 * the target deletes the rows of one that left it by its constraint
	 * (see "Partitions" in docs/schema.md). A hash partition's constraint
	 * calls satisfies_hash_partition with its parent's OID, which the
	 * target computes with a partitioned table of its own of the same
	 * hash key: so a tree with a hash-partitioned table also lists, by
	 * that table's OID, its key's types and hash operator classes (the
	 * operator class's input type, or a column's through a domain for a
	 * polymorphic one), or null when the target could not hash alike (a
	 * type, operator class or nondeterministic collation not
	 * pg_catalog's, an expression of a polymorphic operator class, an
	 * OID-valued reg* type). Left out of other trees' descriptions.
	 * A table with storage parameters (its own reloptions and its TOAST
	 * table's, "toast." before their names) lists them, sorted, as
	 * "name=value" strings; one without has no such key (so a snapshot
	 * taken before the key existed still matches it).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_table(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT c.oid, c.nspname::text, c.relname::text,\n"
	/* its storage parameters, a key only when it has some */
	"	CASE WHEN x.opts IS NULL THEN d.j\n"
	"	ELSE (left(d.j::text, -1) || ', \"options\" : ' || to_json(x.opts)::text || '}')::json END\n"
	/* the tables first (OFFSET 0: no description of another relation) */
	"FROM (SELECT c.oid, c.relname, c.relkind, n.nspname, c.reloptions, c.reltoastrelid\n"
	"	FROM (SELECT * FROM pg_class WHERE p_oids IS NULL\n"
	"		UNION ALL SELECT * FROM pg_class WHERE oid = ANY (p_oids)) c\n"
	"	JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"	WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition\n"
	"		AND c.relpersistence <> 't'\n"
	"		AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass\n"
	"			AND e.objid = c.oid AND e.deptype = 'e')\n"
	"	OFFSET 0) c\n"
	"CROSS JOIN LATERAL (SELECT coalesce((\n"
	"			SELECT json_agg((left(json_build_object(\n"
	"				'attnum', a.attnum,\n"
	"				'name', a.attname,\n"
	"				'type', format_type(a.atttypid, a.atttypmod),\n"
	"				'user_type', tu.j,\n"
	"				'not_null', a.attnotnull,\n"
	"				'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,\n"
	"				'identity', CASE a.attidentity WHEN 'a' THEN 'always'\n"
	"					WHEN 'd' THEN 'by default' END,\n"
	"				'generated', CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END,\n"
	"				'sequence', (SELECT s.relname FROM pg_depend dp\n"
	"					JOIN pg_class s ON s.oid = dp.objid AND s.relkind = 'S'\n"
	"					WHERE dp.classid = 'pg_class'::regclass AND dp.refclassid = 'pg_class'::regclass\n"
	"						AND dp.refobjid = c.oid AND dp.refobjsubid = a.attnum\n"
	"						AND dp.deptype = 'a' AND a.attidentity = ''\n"
	"					ORDER BY s.oid LIMIT 1))::text, -1)\n"
	/* the owned sequence's parameters, a key only when not the defaults */
	"				|| CASE WHEN sp.j IS NOT NULL\n"
	"					THEN ', \"sequence_parameters\" : ' || sp.j::text ELSE '' END\n"
	/* the column's collation, a key only when not its type's */
	"				|| CASE WHEN co.coll IS NOT NULL\n"
	"					THEN ', \"collation\" : ' || to_json(co.coll)::text ELSE '' END\n"
	"				|| '}')::json ORDER BY a.attnum)\n"
	"			FROM pg_attribute a\n"
	"			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum\n"
	"			LEFT JOIN LATERAL " USER_TYPE_OF_A " ON true\n"
	"			LEFT JOIN LATERAL " OWNED_SEQUENCE_PARAMETERS_OF_A " ON true\n"
	"			LEFT JOIN LATERAL (SELECT format('%I.%I', cn.nspname, cl.collname) AS coll\n"
	"				FROM pg_type ct\n"
	"				JOIN pg_collation cl ON cl.oid = a.attcollation\n"
	"				JOIN pg_namespace cn ON cn.oid = cl.collnamespace\n"
	"				WHERE ct.oid = a.atttypid AND a.attcollation <> ct.typcollation) co ON true\n"
	"			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),\n"
	"			'[]'::json) AS cols,\n"
	"		(SELECT json_build_object('name', k.conname,\n"
	"				'columns', (SELECT json_agg(u.attnum ORDER BY u.ord)\n"
	"							FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)))\n"
	"			FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS pk,\n"
	"	CASE WHEN c.relkind = 'p' THEN coalesce((\n"
	"		SELECT json_agg(json_build_object('oid', p.relid::oid, 'parent', p.parentrelid::oid,\n"
	"			'leaf', p.isleaf, 'constraint', pg_get_partition_constraintdef(p.relid))\n"
	"			ORDER BY p.relid::oid)\n"
	"		FROM pg_partition_tree(c.oid) p WHERE p.relid <> c.oid), '[]'::json) END AS parts,\n"
	"	CASE WHEN c.relkind = 'p' THEN (\n"
	"		SELECT json_object_agg(pt.partrelid::text, hk.keys ORDER BY pt.partrelid)\n"
	"		FROM pg_partition_tree(c.oid) p\n"
	"		JOIN pg_partitioned_table pt ON pt.partrelid = p.relid AND pt.partstrat = 'h'\n"
	"		CROSS JOIN LATERAL (\n"
	"			SELECT CASE WHEN bool_and(coalesce(oc.opcnamespace = 'pg_catalog'::regnamespace\n"
	"					AND ty.typnamespace = 'pg_catalog'::regnamespace\n"
	"					AND ty.typtype NOT IN ('d', 'p') AND ty.typname !~ '^_?reg'\n"
	"					AND (pt.partcollation[k.i] = 0 OR co.collisdeterministic), false))\n"
	"				THEN json_agg(json_build_object('type', format_type(ty.oid, NULL),\n"
	"					'opclass', oc.opcname) ORDER BY k.i) END AS keys\n"
	"			FROM generate_series(0, pt.partnatts - 1) k(i)\n"
	"			JOIN pg_opclass oc ON oc.oid = pt.partclass[k.i]\n"
	"			JOIN pg_type oy ON oy.oid = oc.opcintype\n"
	"			LEFT JOIN pg_attribute a ON a.attrelid = pt.partrelid\n"
	"				AND a.attnum = pt.partattrs[k.i] AND pt.partattrs[k.i] <> 0\n"
	"			LEFT JOIN pg_type ay ON ay.oid = a.atttypid\n"
	"			LEFT JOIN pg_type ty ON ty.oid = CASE WHEN oy.typtype <> 'p' THEN oy.oid\n"
	"				WHEN ay.typtype = 'd' THEN ay.typbasetype ELSE ay.oid END\n"
	"			LEFT JOIN pg_collation co ON co.oid = pt.partcollation[k.i]) hk)\n"
	"	END AS hash_keys,\n"
	/* "name=value" of the table's reloptions and "toast.name=value" */
	"	(SELECT array_agg(z.o ORDER BY z.o) FROM (SELECT unnest(c.reloptions) AS o\n"
	"		UNION ALL SELECT 'toast.' || unnest(tc.reloptions) FROM pg_class tc\n"
	"		WHERE tc.oid = c.reltoastrelid) z) AS opts) x\n"
	"CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind = 'p' AND x.hash_keys IS NOT NULL\n"
	"	THEN json_build_object('schema', c.nspname, 'name', c.relname,\n"
	"		'columns', x.cols, 'primary_key', x.pk, 'partitions', x.parts,\n"
	"		'hash_keys', x.hash_keys)\n"
	"	WHEN c.relkind = 'p' THEN json_build_object('schema', c.nspname, 'name', c.relname,\n"
	"		'columns', x.cols, 'primary_key', x.pk, 'partitions', x.parts)\n"
	"	ELSE json_build_object('schema', c.nspname, 'name', c.relname,\n"
	"		'columns', x.cols, 'primary_key', x.pk) END AS j) d\n"
	"$body$;\n"

	/*
	 * A unique, check, foreign-key or exclusion constraint of a described
	 * table (primary keys are part of the table's description): filed
	 * under its table's schema and name; its definition as
	 * pg_get_constraintdef writes it (names outside pg_catalog
	 * schema-qualified) without NOT VALID, whether it is validated, and a
	 * key that does not depend on names (type, columns by attnum,
	 * referenced table by OID and its columns, actions, deferrability, the
	 * check's stored expression, an exclusion's operators), so that a
	 * rename of a column or of a table changes the definition but not the
	 * key, and the target does not remake the constraint.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_constraint(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT k.oid, n.nspname::text, c.relname::text,\n"
	"	json_build_object('schema', n.nspname, 'table', c.relname, 'name', k.conname,\n"
	"		'definition', regexp_replace(teleport.schema_deparsed(pg_get_constraintdef(k.oid)), ' NOT VALID$', ''),\n"
	"		'validated', k.convalidated,\n"
	"		'key', concat_ws(' ', k.contype, k.conkey::text, k.confrelid::text,\n"
	"			k.confkey::text, k.confupdtype, k.confdeltype, k.confmatchtype,\n"
	"			k.condeferrable, k.condeferred, k.connoinherit, md5(k.conbin::text),\n"
	"			k.conexclop::text))\n"
	"FROM pg_constraint k\n"
	"JOIN pg_class c ON c.oid = k.conrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE (p_oids IS NULL OR k.oid = ANY (p_oids))\n"
	"	AND k.contype IN ('u', 'c', 'f', 'x')\n"
	"	AND c.relkind IN ('r', 'p') AND NOT c.relispartition\n"
	"	AND c.relpersistence <> 't'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass\n"
	"		AND e.objid = c.oid AND e.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * A function or procedure (not an aggregate nor a window function, not
	 * an extension's, nor a range type's constructors, which depend on it
	 * internally: the type makes them): filed under its schema and name;
	 * its kind ('f' or 'p'), name, identity arguments (to drop or rename it by signature),
	 * pg_get_functiondef's definition (names outside pg_catalog
	 * schema-qualified, the body as written), its search_path setting if it
	 * has one, and whether its body is SQL-standard (BEGIN ATOMIC or
	 * RETURN: parsed at creation, its names bound then, PostgreSQL 14+).
	 * Kind 'function' comes before tables (a default or a check may call
	 * it); a function with a SQL-standard body depends on the tables it
	 * reads, so it is of kind 'function_sql_body', after tables (and
	 * dropped before them).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_function(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT p.oid, n.nspname::text, p.proname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', p.proname, 'kind', p.prokind,\n"
	"		'arguments', teleport.schema_deparsed(pg_get_function_identity_arguments(p.oid)),\n"
	"		'definition', teleport.schema_deparsed(pg_get_functiondef(p.oid)),\n"
	"		'language', l.lanname,\n"
	"		'search_path', (SELECT substr(c, 13) FROM unnest(p.proconfig) c\n"
	"			WHERE c LIKE 'search\\_path=%' LIMIT 1),\n"
	"		'sql_body', (to_jsonb(p) ->> 'prosqlbody') IS NOT NULL)\n"
	"FROM pg_proc p\n"
	"JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	"JOIN pg_language l ON l.oid = p.prolang\n"
	"WHERE (p_oids IS NULL OR p.oid = ANY (p_oids))\n"
	"	AND p.prokind IN ('f', 'p')\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass\n"
	"		AND e.objid = p.oid AND e.deptype IN ('e', 'i'))\n"
	"$body$;\n"

	/*
	 * A view or materialized view (not an extension's): filed under its
	 * schema and name; whether it is materialized, its query as
	 * pg_get_viewdef writes it (names outside pg_catalog schema-qualified,
	 * without the final semicolon), its options (check_option,
	 * security_barrier...) and its columns' names in order (a column
	 * renamed keeps its position).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_view(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT c.oid, n.nspname::text, c.relname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', c.relname,\n"
	"		'materialized', c.relkind = 'm',\n"
	"		'definition', rtrim(teleport.schema_deparsed(pg_get_viewdef(c.oid)), '; \n'),\n"
	"		'options', array_to_string(c.reloptions, ', '),\n"
	"		'columns', (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a\n"
	"			WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))\n"
	"FROM pg_class c\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE (p_oids IS NULL OR c.oid = ANY (p_oids))\n"
	"	AND c.relkind IN ('v', 'm')\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass\n"
	"		AND e.objid = c.oid AND e.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * An extension installed in a described schema (not in pg_catalog):
	 * filed under that schema and its name; its name, schema and version.
	 * The objects it owns (pg_depend deptype 'e') are described by no
	 * kind: creating or updating the extension on the target makes them.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_extension(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT x.oid, n.nspname::text, x.extname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', x.extname, 'version', x.extversion)\n"
	"FROM pg_extension x\n"
	"JOIN pg_namespace n ON n.oid = x.extnamespace\n"
	"WHERE (p_oids IS NULL OR x.oid = ANY (p_oids))\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"$body$;\n"

	/*
	 * The comments of an object that has any: a table, view, materialized
	 * view (and their columns), function, procedure, aggregate, type (enum,
	 * domain, range, stand-alone composite), index of a described table
	 * (not a constraint's), constraint of a described table (a primary
	 * key: flagged primary_key, since the target's may have another name),
	 * standalone sequence, or a serial or identity column's sequence
	 * (filed under its table, with the column's name: the target comments
	 * the sequence its column owns there); not an extension's. A kind
	 * of its own, keyed by the object's OID, so that the object's own
	 * description (and its statements on the target) does not change with
	 * a comment: filed under the object's schema and name (an index's and
	 * a constraint's under their table's, as their own kinds); the
	 * object's kind (the keyword of COMMENT ON), schema, name, identity
	 * arguments (functions), a constraint's table, its comment and its
	 * columns' comments ({attnum: {name, comment}}).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_comment(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT o.oid, n.nspname::text, coalesce(o.file_as, o.name)::text,\n"
	"	CASE WHEN o.part = '' THEN json_build_object('kind', o.kind, 'schema', n.nspname,\n"
	"		'name', o.name, 'table', o.tbl, 'primary_key', true,\n"
	"		'comment', (SELECT d.description FROM pg_description d WHERE d.classoid = o.cat\n"
	"			AND d.objoid = o.oid AND d.objsubid = 0))\n"
	"	WHEN o.part IS NOT NULL THEN json_build_object('kind', o.kind, 'schema', n.nspname,\n"
	"		'name', o.name, 'table', o.tbl, 'column', o.part,\n"
	"		'comment', (SELECT d.description FROM pg_description d WHERE d.classoid = o.cat\n"
	"			AND d.objoid = o.oid AND d.objsubid = 0))\n"
	"	WHEN o.tbl IS NOT NULL THEN json_build_object('kind', o.kind, 'schema', n.nspname,\n"
	"		'name', o.name, 'table', o.tbl,\n"
	"		'comment', (SELECT d.description FROM pg_description d WHERE d.classoid = o.cat\n"
	"			AND d.objoid = o.oid AND d.objsubid = 0))\n"
	"	ELSE json_build_object('kind', o.kind, 'schema', n.nspname, 'name', o.name,\n"
	"		'arguments', o.args,\n"
	"		'comment', (SELECT d.description FROM pg_description d WHERE d.classoid = o.cat\n"
	"			AND d.objoid = o.oid AND d.objsubid = 0),\n"
	"		'columns', (SELECT json_object_agg(a.attnum, json_build_object('name', a.attname,\n"
	"				'comment', d.description) ORDER BY a.attnum)\n"
	"			FROM pg_description d JOIN pg_attribute a ON a.attrelid = d.objoid\n"
	"				AND a.attnum = d.objsubid AND NOT a.attisdropped\n"
	"			WHERE d.classoid = o.cat AND d.objoid = o.oid AND d.objsubid > 0)) END\n"
	"FROM (\n"
	"	SELECT c.oid, 'pg_class'::regclass AS cat, c.relnamespace AS nsp, c.relname AS name,\n"
	"		CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'\n"
	"			WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, NULL::text AS args,\n"
	"		NULL::name AS file_as, NULL::name AS tbl, NULL::name AS part\n"
	"	FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND NOT c.relispartition\n"
	"		AND c.relpersistence <> 't'\n"
	"		AND (c.relkind <> 'S' OR NOT EXISTS (SELECT 1 FROM pg_depend x\n"
	"			WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid\n"
	"				AND x.deptype IN ('a', 'i')))\n"
	/* a serial or identity column's sequence: its table's, by column */
	"	UNION ALL\n"
	"	SELECT s.oid, 'pg_class'::regclass, tc.relnamespace, s.relname, 'SEQUENCE', NULL,\n"
	"		tc.relname, tc.relname, a.attname\n"
	"	FROM pg_class s\n"
	"	JOIN pg_depend x ON x.classid = 'pg_class'::regclass AND x.objid = s.oid\n"
	"		AND x.refclassid = 'pg_class'::regclass AND x.refobjsubid > 0\n"
	"		AND x.deptype IN ('a', 'i')\n"
	"	JOIN pg_class tc ON tc.oid = x.refobjid\n"
	"	JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = x.refobjsubid\n"
	"	WHERE s.relkind = 'S' AND tc.relkind IN ('r', 'p') AND NOT tc.relispartition\n"
	"		AND tc.relpersistence <> 't'\n"
	"	UNION ALL\n"
	"	SELECT p.oid, 'pg_proc'::regclass, p.pronamespace, p.proname,\n"
	"		CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,\n"
	"		CASE WHEN p.prokind = 'a' AND p.pronargs = 0 THEN '*'\n"
	"			ELSE pg_get_function_identity_arguments(p.oid) END, NULL, NULL, NULL\n"
	"	FROM pg_proc p WHERE p.prokind IN ('f', 'p', 'a')\n"
	"	UNION ALL\n"
	"	SELECT t.oid, 'pg_type'::regclass, t.typnamespace, t.typname, 'TYPE', NULL, NULL, NULL, NULL\n"
	"	FROM pg_type t WHERE t.typtype IN ('e', 'd', 'r')\n"
	"		OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class r\n"
	"			WHERE r.oid = t.typrelid AND r.relkind = 'c'))\n"
	"	UNION ALL\n"
	"	SELECT ic.oid, 'pg_class'::regclass, ic.relnamespace, ic.relname, 'INDEX', NULL,\n"
	"		tc.relname, NULL, NULL\n"
	"	FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid\n"
	"	JOIN pg_class tc ON tc.oid = i.indrelid\n"
	"	WHERE tc.relkind IN ('r', 'p') AND NOT tc.relispartition AND tc.relpersistence <> 't'\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ic.oid\n"
	"						AND k.conrelid = tc.oid)\n"
	"	UNION ALL\n"
	"	SELECT k.oid, 'pg_constraint'::regclass, c.relnamespace, k.conname, 'CONSTRAINT', NULL,\n"
	"		c.relname, c.relname, CASE WHEN k.contype = 'p' THEN ''::name END\n"
	"	FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid\n"
	"	WHERE k.contype IN ('p', 'u', 'c', 'f', 'x') AND c.relkind IN ('r', 'p')\n"
	"		AND NOT c.relispartition AND c.relpersistence <> 't') o\n"
	"JOIN pg_namespace n ON n.oid = o.nsp\n"
	"WHERE (p_oids IS NULL OR o.oid = ANY (p_oids))\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND EXISTS (SELECT 1 FROM pg_description d WHERE d.classoid = o.cat AND d.objoid = o.oid)\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = o.cat\n"
	"		AND e.objid = o.oid AND e.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * An enum (not an extension's): its schema and name and its values in
	 * their order (enumsortorder), each with its pg_enum OID, so that a
	 * renamed value is a rename and an added one knows its neighbours.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_enum(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT t.oid, n.nspname::text, t.typname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', t.typname,\n"
	"		'values', coalesce((\n"
	"			SELECT json_agg(json_build_object('oid', e.oid, 'label', e.enumlabel)\n"
	"							ORDER BY e.enumsortorder)\n"
	"			FROM pg_enum e WHERE e.enumtypid = t.oid), '[]'::json))\n"
	"FROM pg_type t\n"
	"JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	"WHERE (p_oids IS NULL OR t.oid = ANY (p_oids))\n"
	"	AND t.typtype = 'e'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass\n"
	"					AND x.objid = t.oid AND x.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * A composite type (CREATE TYPE ... AS, not a table's row type, not an
	 * extension's): its schema and name and its attributes by attnum
	 * (name, type as for a table's columns, with user_type), so that a
	 * renamed attribute is a rename.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_composite(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT t.oid, n.nspname::text, t.typname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', t.typname,\n"
	"		'attributes', coalesce((\n"
	"			SELECT json_agg(json_build_object(\n"
	"				'attnum', a.attnum,\n"
	"				'name', a.attname,\n"
	"				'type', format_type(a.atttypid, a.atttypmod),\n"
	"				'user_type', tu.j)\n"
	"				ORDER BY a.attnum)\n"
	"			FROM pg_attribute a\n"
	"			LEFT JOIN LATERAL " USER_TYPE_OF_A " ON true\n"
	"			WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),\n"
	"			'[]'::json))\n"
	"FROM pg_type t\n"
	"JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'\n"
	"JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	"WHERE (p_oids IS NULL OR t.oid = ANY (p_oids))\n"
	"	AND t.typtype = 'c'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass\n"
	"					AND x.objid = t.oid AND x.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * A domain (not an extension's): its schema and name, its base type
	 * (with its typmod as format_type writes it, and for a type teleport
	 * describes its OID, schema and name apart, see USER_TYPE_OF), its
	 * collation when it is not its base type's, NOT NULL, its default
	 * expression, and its CHECK constraints by OID (name, definition as
	 * pg_get_constraintdef writes it without NOT VALID, whether
	 * validated), so that a renamed constraint is a rename.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_domain(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT t.oid, n.nspname::text, t.typname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', t.typname,\n"
	"		'type', format_type(t.typbasetype, t.typtypmod),\n"
	"		'user_type', tu.j,\n"
	"		'collation', (SELECT format('%I.%I', cn.nspname, co.collname)\n"
	"			FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace\n"
	"			WHERE co.oid = t.typcollation AND t.typcollation <> bt.typcollation),\n"
	"		'not_null', t.typnotnull,\n"
	"		'default', pg_get_expr(t.typdefaultbin, 0),\n"
	"		'constraints', coalesce((\n"
	"			SELECT json_agg(json_build_object('oid', k.oid, 'name', k.conname,\n"
	"				'definition', regexp_replace(teleport.schema_deparsed(pg_get_constraintdef(k.oid)), ' NOT VALID$', ''),\n"
	"				'validated', k.convalidated) ORDER BY k.oid)\n"
	"			FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c'), '[]'::json))\n"
	"FROM (SELECT * FROM pg_type WHERE p_oids IS NULL\n"
	"	UNION ALL SELECT * FROM pg_type WHERE oid = ANY (p_oids)) t\n"
	"JOIN pg_type bt ON bt.oid = t.typbasetype\n"
	"JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	"LEFT JOIN LATERAL " USER_TYPE_OF("t.typbasetype") " ON true\n"
	"WHERE t.typtype = 'd'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass\n"
	"					AND x.objid = t.oid AND x.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * A range type (not an extension's): its schema and name, its subtype
	 * (as format_type writes it, and for a type teleport describes its
	 * OID, schema and name apart, see USER_TYPE_OF), the name of its
	 * multirange type (renamed on its own), its collation when not its
	 * subtype's, its subtype's operator class when not the default, and
	 * its canonical and subtype_diff functions ({schema, name}, or null).
	 * A range whose function is not pg_catalog's is of kind 'range_fn',
	 * after functions (see schema_capture), others of kind 'range', with
	 * the other types (a domain, a composite type or a function may use it).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_range(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT t.oid, n.nspname::text, t.typname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', t.typname,\n"
	"		'subtype', format_type(r.rngsubtype, NULL),\n"
	"		'user_type', tu.j,\n"
	"		'multirange', mt.typname,\n"
	"		'collation', (SELECT format('%I.%I', cn.nspname, co.collname)\n"
	"			FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace\n"
	"			WHERE co.oid = r.rngcollation AND r.rngcollation <> st.typcollation),\n"
	"		'opclass', (SELECT format('%I.%I', ocn.nspname, oc.opcname)\n"
	"			FROM pg_opclass oc JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace\n"
	"			WHERE oc.oid = r.rngsubopc AND NOT oc.opcdefault),\n"
	"		'canonical', (SELECT json_build_object('schema', fn.nspname, 'name', f.proname)\n"
	"			FROM pg_proc f JOIN pg_namespace fn ON fn.oid = f.pronamespace\n"
	"			WHERE f.oid = r.rngcanonical::oid),\n"
	"		'subtype_diff', (SELECT json_build_object('schema', fn.nspname, 'name', f.proname)\n"
	"			FROM pg_proc f JOIN pg_namespace fn ON fn.oid = f.pronamespace\n"
	"			WHERE f.oid = r.rngsubdiff::oid))\n"
	"FROM (SELECT * FROM pg_type WHERE p_oids IS NULL\n"
	"	UNION ALL SELECT * FROM pg_type WHERE oid = ANY (p_oids)) t\n"
	"JOIN pg_range r ON r.rngtypid = t.oid\n"
	"JOIN pg_type st ON st.oid = r.rngsubtype\n"
	"JOIN pg_type mt ON mt.oid = r.rngmultitypid\n"
	"JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	"LEFT JOIN LATERAL " USER_TYPE_OF("r.rngsubtype") " ON true\n"
	"WHERE t.typtype = 'r'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass\n"
	"					AND x.objid = t.oid AND x.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * An aggregate (not an extension's): filed under its schema and name;
	 * its name, identity arguments ('*' for none: to drop or rename it by
	 * signature) and its definition, a CREATE OR REPLACE AGGREGATE built
	 * from pg_aggregate (pg_get_functiondef does not write aggregates),
	 * naming every function, type and operator qualified (its own schema's
	 * too, as pg_get_functiondef does: the target re-qualifies them).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_aggregate(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT p.oid, n.nspname::text, p.proname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', p.proname,\n"
	"		'arguments', CASE WHEN p.pronargs = 0 THEN '*'\n"
	"			ELSE pg_get_function_identity_arguments(p.oid) END,\n"
	"		'definition', format('CREATE OR REPLACE AGGREGATE %I.%I(%s) (%s)', n.nspname, p.proname,\n"
	"			CASE WHEN p.pronargs = 0 THEN '*' ELSE pg_get_function_arguments(p.oid) END,\n"
	"			concat_ws(', ',\n"
	"				'SFUNC = ' || fx.f[1], 'STYPE = ' || format_type(g.aggtranstype, NULL),\n"
	"				'SSPACE = ' || nullif(g.aggtransspace, 0),\n"
	"				'FINALFUNC = ' || fx.f[2],\n"
	"				CASE WHEN g.aggfinalextra THEN 'FINALFUNC_EXTRA' END,\n"
	"				CASE WHEN g.aggfinalfn::oid <> 0 THEN 'FINALFUNC_MODIFY = ' || CASE g.aggfinalmodify\n"
	"					WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,\n"
	"				'COMBINEFUNC = ' || fx.f[3], 'SERIALFUNC = ' || fx.f[4],\n"
	"				'DESERIALFUNC = ' || fx.f[5], 'INITCOND = ' || quote_literal(g.agginitval),\n"
	"				'MSFUNC = ' || fx.f[6], 'MINVFUNC = ' || fx.f[7],\n"
	"				CASE WHEN g.aggmtranstype <> 0\n"
	"					THEN 'MSTYPE = ' || format_type(g.aggmtranstype, NULL) END,\n"
	"				'MSSPACE = ' || nullif(g.aggmtransspace, 0),\n"
	"				'MFINALFUNC = ' || fx.f[8],\n"
	"				CASE WHEN g.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,\n"
	"				CASE WHEN g.aggmfinalfn::oid <> 0 THEN 'MFINALFUNC_MODIFY = ' || CASE g.aggmfinalmodify\n"
	"					WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE' ELSE 'READ_WRITE' END END,\n"
	"				'MINITCOND = ' || quote_literal(g.aggminitval),\n"
	"				(SELECT format('SORTOP = OPERATOR(%I.%s)', opn.nspname, o.oprname)\n"
	"					FROM pg_operator o JOIN pg_namespace opn ON opn.oid = o.oprnamespace\n"
	"					WHERE o.oid = g.aggsortop),\n"
	"				'PARALLEL = ' || CASE p.proparallel WHEN 's' THEN 'SAFE'\n"
	"					WHEN 'r' THEN 'RESTRICTED' ELSE 'UNSAFE' END,\n"
	"				CASE WHEN g.aggkind = 'h' THEN 'HYPOTHETICAL' END)))\n"
	"FROM pg_proc p\n"
	"JOIN pg_aggregate g ON g.aggfnoid = p.oid\n"
	"JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	"CROSS JOIN LATERAL (SELECT ARRAY(\n"
	"	SELECT (SELECT format('%I.%I', fn.nspname, f.proname)\n"
	"		FROM pg_proc f JOIN pg_namespace fn ON fn.oid = f.pronamespace WHERE f.oid = u.fid)\n"
	"	FROM unnest(ARRAY[g.aggtransfn::oid, g.aggfinalfn::oid, g.aggcombinefn::oid,\n"
	"		g.aggserialfn::oid, g.aggdeserialfn::oid, g.aggmtransfn::oid, g.aggminvtransfn::oid,\n"
	"		g.aggmfinalfn::oid]) WITH ORDINALITY AS u(fid, o) ORDER BY u.o) AS f) fx\n"
	"WHERE (p_oids IS NULL OR p.oid = ANY (p_oids))\n"
	"	AND p.prokind = 'a'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass\n"
	"		AND e.objid = p.oid AND e.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * A standalone sequence (not owned by a column: a serial column's or
	 * an identity's sequence is its table's, described with it; not an
	 * extension's): its schema and name and its parameters. Its value
	 * is not part of it (values travel as 'sequence_value' events).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_sequence(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT c.oid, n.nspname::text, c.relname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', c.relname,\n"
	"		'type', format_type(q.seqtypid, NULL), 'increment', q.seqincrement::text,\n"
	"		'min', q.seqmin::text, 'max', q.seqmax::text, 'start', q.seqstart::text,\n"
	"		'cache', q.seqcache::text, 'cycle', q.seqcycle)\n"
	"FROM pg_class c\n"
	"JOIN pg_sequence q ON q.seqrelid = c.oid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE (p_oids IS NULL OR c.oid = ANY (p_oids))\n"
	"	AND c.relkind = 'S' AND c.relpersistence <> 't'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass\n"
	"					AND x.objid = c.oid AND x.deptype IN ('a', 'i', 'e'))\n"
	"$body$;\n"

	/*
	 * An index of a described table (not one that implements a
	 * constraint: a primary key's is its table's), filed under its
	 * table's name so that a target that selects the table gets it: its
	 * schema, name, table, whether unique, and the rest of
	 * pg_get_indexdef after "ON schema.table" (" USING method (keys)
	 * INCLUDE (...) WITH (...) WHERE ..."), which the target completes
	 * with its own names. NULL "using" when that text is not as expected.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_describe_index(p_oids oid[])\n"
	"RETURNS TABLE (obj_oid oid, obj_schema text, obj_name text, description json)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT ic.oid, n.nspname::text, tc.relname::text,\n"
	"	json_build_object('schema', n.nspname, 'name', ic.relname, 'table', tc.relname,\n"
	"		'unique', i.indisunique,\n"
	"		'using', CASE WHEN starts_with(r.rest, ' USING ') THEN r.rest END)\n"
	"FROM pg_index i\n"
	"JOIN pg_class ic ON ic.oid = i.indexrelid\n"
	"JOIN pg_class tc ON tc.oid = i.indrelid\n"
	"JOIN pg_namespace n ON n.oid = tc.relnamespace\n"
	"CROSS JOIN LATERAL (SELECT teleport.schema_deparsed(pg_get_indexdef(ic.oid)) AS def,\n"
	"	format('CREATE %sINDEX %s ON ', CASE WHEN i.indisunique THEN 'UNIQUE ' END,\n"
	"		quote_ident(ic.relname)) AS head,\n"
	"	format('%s.%s', quote_ident(n.nspname), quote_ident(tc.relname)) AS qt) AS d\n"
	"CROSS JOIN LATERAL (SELECT CASE\n"
	"	WHEN starts_with(d.def, d.head || 'ONLY ' || d.qt)\n"
	"	THEN substr(d.def, length(d.head || 'ONLY ' || d.qt) + 1)\n"
	"	WHEN starts_with(d.def, d.head || d.qt)\n"
	"	THEN substr(d.def, length(d.head || d.qt) + 1) END AS rest) AS r\n"
	"WHERE (p_oids IS NULL OR ic.oid = ANY (p_oids))\n"
	"	AND tc.relkind IN ('r', 'p') AND NOT tc.relispartition\n"
	"	AND tc.relpersistence <> 't'\n"
	"	AND NOT " SYSTEM_SCHEMA("n.nspname") "\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ic.oid\n"
	"					AND k.conrelid = tc.oid)\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass\n"
	"					AND x.objid = ic.oid AND x.deptype = 'e')\n"
	"$body$;\n"

	/*
	 * The described objects each object (p_kinds[i], p_oids[i]) depends
	 * on (depends), by OID (never its own), from pg_depend (normal and auto dependencies
	 * on objects past the system's OIDs, read by index for the catalog
	 * rows that make up the object: a table's pg_class row and its
	 * columns' defaults, a domain's pg_type row and its constraints, a
	 * composite type's pg_type and pg_class rows, a view's rule...), each
	 * referenced row resolved to the object described with it: an array
	 * or a multirange to its element or range type, a table's (or view's)
	 * row type to the table, a composite type's pg_class row to its type,
	 * a column's default to its table, a domain's constraint to its
	 * domain, a type or function an extension made to that extension, a
	 * primary key (or its index) to its table, another constraint's index
	 * to its constraint, a serial or identity sequence to its table, a
	 * partition to its root, a rule to its view.
	 * Internal dependencies (an array on its element, a table's row type
	 * on its table, a range's constructors) are left out: they are one
	 * object. '{}' for a kind without dependencies of its own (comment)
	 * or an object gone. One call for a comparison's objects (a function
	 * called per object is planned per call in some contexts, and costs
	 * milliseconds each). Kept with each object's snapshot row
	 * (schema_snapshot.depends), so that its drop can be ordered once
	 * pg_depend forgot it; schema_order orders by it.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_depends(p_kinds text[], p_oids oid[])\n"
	"RETURNS TABLE (kind text, oid oid, depends oid[])\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	/* its subplans' estimates would have it compiled by JIT at every call: seconds */
	"SET jit = off\n"
	"AS $body$\n"
	"SELECT q.kind, q.oid, coalesce((\n"
	"SELECT array_agg(DISTINCT m.oid ORDER BY m.oid)\n"
	"FROM (\n"
	"	SELECT 'pg_type'::regclass AS cl, q.oid AS id\n"
	"	WHERE q.kind IN ('enum', 'composite', 'domain', 'range', 'range_fn')\n"
	"	UNION ALL SELECT 'pg_class'::regclass, t.typrelid FROM pg_type t\n"
	"	WHERE q.kind = 'composite' AND t.oid = q.oid\n"
	"	UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k\n"
	"	WHERE q.kind = 'domain' AND k.contypid = q.oid\n"
	"	UNION ALL SELECT 'pg_class'::regclass, q.oid\n"
	"	WHERE q.kind IN ('table', 'sequence', 'index', 'view')\n"
	"	UNION ALL SELECT 'pg_attrdef'::regclass, a.oid FROM pg_attrdef a\n"
	"	WHERE q.kind = 'table' AND a.adrelid = q.oid\n"
	"	UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r\n"
	"	WHERE q.kind = 'view' AND r.ev_class = q.oid\n"
	"	UNION ALL SELECT 'pg_proc'::regclass, q.oid\n"
	"	WHERE q.kind IN ('function', 'function_sql_body', 'aggregate')\n"
	"	UNION ALL SELECT 'pg_constraint'::regclass, q.oid WHERE q.kind = 'constraint'\n"
	"	UNION ALL SELECT 'pg_extension'::regclass, q.oid WHERE q.kind = 'extension') o\n"
	/* by index, row by row (OFFSET 0: never a hash join over all of pg_depend) */
	"CROSS JOIN LATERAL (SELECT x.refclassid, x.refobjid FROM pg_depend x\n"
	"	WHERE x.classid = o.cl AND x.objid = o.id\n"
	"		AND x.deptype IN ('n', 'a') AND x.refobjid >= 16384 OFFSET 0) d\n"
	"CROSS JOIN LATERAL (SELECT CASE d.refclassid\n"
	"	WHEN 'pg_type'::regclass THEN (\n"
	"		SELECT coalesce((SELECT x.refobjid FROM pg_depend x\n"
	"				WHERE x.classid = 'pg_type'::regclass AND x.objid = coalesce(r.rngtypid, e.oid)\n"
	"					AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e' LIMIT 1),\n"
	"			r.rngtypid, CASE WHEN c.relkind <> 'c' THEN c.oid END, e.oid)\n"
	"		FROM pg_type t\n"
	"		JOIN pg_type e ON e.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0\n"
	"			THEN t.typelem ELSE t.oid END\n"
	"		LEFT JOIN pg_range r ON e.typtype = 'm' AND r.rngmultitypid = e.oid\n"
	"		LEFT JOIN pg_class c ON c.oid = e.typrelid\n"
	"		WHERE t.oid = d.refobjid)\n"
	"	WHEN 'pg_class'::regclass THEN (\n"
	"		SELECT CASE WHEN c.relkind = 'c' THEN c.reltype\n"
	"			WHEN c.relkind IN ('i', 'I') THEN coalesce((\n"
	"				SELECT CASE WHEN k.contype = 'p' THEN k.conrelid ELSE k.oid END\n"
	"				FROM pg_index i JOIN pg_constraint k ON k.conrelid = i.indrelid\n"
	"					AND k.conindid = i.indexrelid\n"
	"				WHERE i.indexrelid = c.oid LIMIT 1), c.oid)\n"
	"			WHEN c.relkind = 'S' THEN coalesce((\n"
	"				SELECT x.refobjid FROM pg_depend x WHERE x.classid = 'pg_class'::regclass\n"
	"					AND x.objid = c.oid AND x.refclassid = 'pg_class'::regclass\n"
	"					AND x.refobjsubid > 0 AND x.deptype IN ('a', 'i') LIMIT 1), c.oid)\n"
	"			WHEN c.relispartition THEN pg_partition_root(c.oid)\n"
	"			ELSE c.oid END\n"
	"		FROM pg_class c WHERE c.oid = d.refobjid)\n"
	"	WHEN 'pg_constraint'::regclass THEN (\n"
	"		SELECT CASE WHEN k.contypid <> 0 THEN k.contypid\n"
	"			WHEN k.contype = 'p' THEN k.conrelid ELSE k.oid END\n"
	"		FROM pg_constraint k WHERE k.oid = d.refobjid)\n"
	"	WHEN 'pg_attrdef'::regclass THEN (\n"
	"		SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = d.refobjid)\n"
	"	WHEN 'pg_rewrite'::regclass THEN (\n"
	"		SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.refobjid)\n"
	"	WHEN 'pg_proc'::regclass THEN coalesce((SELECT x.refobjid FROM pg_depend x\n"
	"		WHERE x.classid = 'pg_proc'::regclass AND x.objid = d.refobjid\n"
	"			AND x.refclassid = 'pg_extension'::regclass AND x.deptype = 'e' LIMIT 1), d.refobjid)\n"
	"	ELSE d.refobjid END AS oid) m\n"
	"WHERE m.oid IS NOT NULL AND m.oid <> q.oid), '{}')\n"
	"FROM unnest(p_kinds, p_oids) AS q(kind, oid)\n"
	"$body$;\n"

	/*
	 * The order of a set of objects to create (or to drop): p_nodes, a
	 * json array of {"id", "oid", "rank", "ph", "deps"}: the caller's id,
	 * the object's OID, its kind's rank, a group (ph; objects depend only
	 * on those of their group; 0 when absent) and the OIDs it depends on
	 * (schema_depends; null: none known). Returns each id with its
	 * effective rank: the greatest of its own rank and, for each object
	 * of its group it depends on, that object's effective rank plus
	 * 0.001, so that an object comes after what it depends on (creations
	 * by ascending effective rank, drops by descending) and one whose
	 * dependencies go with the ranks keeps its rank (the order is the
	 * ranks' wherever they serve). Objects of one OID (a domain's
	 * events, an object's comment) depend on those of lower rank; an
	 * object that depends on such an OID depends on its node of lowest
	 * rank only, the one that makes (or drops) it: a function that takes
	 * a domain needs the domain, not its "mid" event that adds a CHECK
	 * calling that function afterwards (nor, dropped, its removals' event
	 * that takes the CHECK away first), which would make a cycle. Computed
	 * by passes over the edges until none raises a rank, at most 100 (a
	 * cycle: its objects' ranks grow no further). Nothing for NULL.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_order(p_nodes json)\n"
	"RETURNS TABLE (id bigint, rank float8)\n"
	"LANGUAGE plpgsql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	/* its joins are of thousands of rows that the planner guesses at 100 */
	"SET enable_nestloop = off\n"
	"SET jit = off\n"
	"AS $body$\n"
	"DECLARE\n"
	"	v_ids bigint[];\n"
	"	v_oids oid[];\n"
	"	v_phs integer[];\n"
	"	v_rank float8[];\n"
	"	v_deps text[];\n"
	"	v_dn integer[];\n"
	"	v_do oid[];\n"
	"	v_a integer[];\n"
	"	v_b integer[];\n"
	"	v_r float8;\n"
	"	v_more boolean;\n"
	"	v_pass integer := 0;\n"
	"BEGIN\n"
	"	IF p_nodes IS NULL OR json_typeof(p_nodes) <> 'array' THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	"	SELECT array_agg((x.e ->> 'id')::bigint ORDER BY x.n),\n"
	"		array_agg((x.e ->> 'oid')::oid ORDER BY x.n),\n"
	"		array_agg(coalesce((x.e ->> 'ph')::integer, 0) ORDER BY x.n),\n"
	"		array_agg((x.e ->> 'rank')::float8 ORDER BY x.n),\n"
	"		array_agg(CASE WHEN json_typeof(x.e -> 'deps') = 'array' THEN x.e ->> 'deps' END\n"
	"			ORDER BY x.n)\n"
	"	INTO v_ids, v_oids, v_phs, v_rank, v_deps\n"
	"	FROM json_array_elements(p_nodes) WITH ORDINALITY AS x(e, n);\n"
	"	SELECT array_agg(d.n::integer), array_agg(u.o::oid) INTO v_dn, v_do\n"
	"	FROM unnest(v_deps) WITH ORDINALITY AS d(j, n)\n"
	"	CROSS JOIN LATERAL json_array_elements_text(d.j::json) u(o);\n"
	/* the edges: a depends on b */
	"	WITH nd AS MATERIALIZED (\n"
	"		SELECT u.n::integer AS n, u.oid, u.ph, u.rank\n"
	"		FROM unnest(v_oids, v_phs, v_rank) WITH ORDINALITY AS u(oid, ph, rank, n)),\n"
	"	ed AS (\n"
	"		SELECT d.n AS a, y.n AS b\n"
	"		FROM unnest(v_dn, v_do) AS d(n, ref)\n"
	"		JOIN nd x ON x.n = d.n\n"
	"		JOIN nd y ON y.oid = d.ref AND y.ph = x.ph AND y.oid <> x.oid\n"
	"			AND NOT EXISTS (SELECT 1 FROM nd z WHERE z.oid = y.oid AND z.ph = y.ph\n"
	"							AND z.rank < y.rank)\n"
	"		UNION\n"
	"		SELECT x.n, y.n FROM nd x\n"
	"		JOIN nd y ON y.oid = x.oid AND y.ph = x.ph AND y.rank < x.rank)\n"
	"	SELECT array_agg(ed.a), array_agg(ed.b) INTO v_a, v_b FROM ed;\n"
	"	IF v_a IS NOT NULL THEN\n"
	"		LOOP\n"
	"			v_more := false;\n"
	"			FOR i IN 1 .. cardinality(v_a) LOOP\n"
	"				v_r := v_rank[v_b[i]] + 0.001;\n"
	"				IF v_r > v_rank[v_a[i]] THEN\n"
	"					v_rank[v_a[i]] := v_r;\n"
	"					v_more := true;\n"
	"				END IF;\n"
	"			END LOOP;\n"
	"			v_pass := v_pass + 1;\n"
	"			EXIT WHEN NOT v_more OR v_pass >= 100;\n"
	"		END LOOP;\n"
	"	END IF;\n"
	"	RETURN QUERY SELECT v_ids[g.i], v_rank[g.i] FROM generate_subscripts(v_ids, 1) AS g(i);\n"
	"END\n"
	"$body$;\n"

	/*
	 * The catalogs' fingerprint: the count and a sum of 64-bit hashes of
	 * (row, xmin) of every row of every catalog a describe function reads.
	 * Any change of such a row (an UPDATE makes a new row version, with the
	 * changing transaction's xmin), an insert or a delete changes it; when
	 * it has not changed since the last full comparison, nothing described
	 * can have changed and that comparison is skipped (about 6 times
	 * cheaper with 2000 tables). A false alarm (a catalog row frozen by
	 * VACUUM shows xmin 2) only costs one full comparison. A new kind must
	 * add the catalogs it reads.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_fingerprint()\n"
	"RETURNS text\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT count(*) || ':' || coalesce(sum(hashtextextended(x, 0)), 0)\n"
	"FROM (\n"
	"	SELECT 'n' || oid::text || ':' || xmin::text AS x FROM pg_namespace\n"
	"	UNION ALL SELECT 'c' || oid::text || ':' || xmin::text FROM pg_class\n"
	"	UNION ALL SELECT 'a' || attrelid::text || '.' || attnum::text || ':' || xmin::text\n"
	"		FROM pg_attribute WHERE attnum > 0\n"
	"	UNION ALL SELECT 'd' || oid::text || ':' || xmin::text FROM pg_attrdef\n"
	"	UNION ALL SELECT 'k' || oid::text || ':' || xmin::text FROM pg_constraint\n"
	"	UNION ALL SELECT 't' || oid::text || ':' || xmin::text FROM pg_type\n"
	"	UNION ALL SELECT 'f' || oid::text || ':' || xmin::text FROM pg_proc\n"
	"		WHERE oid >= 16384\n"
	"	UNION ALL SELECT 'x' || oid::text || ':' || xmin::text FROM pg_extension\n"
	"	UNION ALL SELECT 'm' || classoid::text || '.' || objoid::text || '.' || objsubid::text\n"
	"		|| ':' || xmin::text FROM pg_description WHERE objoid >= 16384\n"
	"	UNION ALL SELECT 'r' || oid::text || ':' || xmin::text FROM pg_rewrite\n"
	"		WHERE oid >= 16384\n"
	"	UNION ALL SELECT 'p' || objid::text || '.' || refobjid::text || '.'\n"
	"		|| refobjsubid::text || ':' || xmin::text\n"
	"		FROM pg_depend WHERE deptype = 'a' AND refobjsubid > 0\n"
	"	UNION ALL SELECT 'g' || aggfnoid::oid::text || ':' || xmin::text FROM pg_aggregate\n"
	"		WHERE aggfnoid::oid >= 16384\n"
	"	UNION ALL SELECT 'e' || oid::text || ':' || xmin::text FROM pg_enum\n"	"	UNION ALL SELECT 'q' || seqrelid::text || ':' || xmin::text FROM pg_sequence\n"	"	UNION ALL SELECT 'i' || indexrelid::text || ':' || xmin::text FROM pg_index\n"
	"	) q\n"
	"$body$;\n"

	/*
	 * The storage marks of the described tables (those of the snapshot;
	 * p_oids NULL: all, else those in p_oids): "storage", a hash of the
	 * table's relfilenode (a partitioned table's: of its partitions',
	 * every level), which a rewrite changes; and "columns", a hash of the
	 * (attnum, xmin) of its columns' pg_attribute rows, which an ALTER
	 * COLUMN ... TYPE changes (it updates the column's row) even when the
	 * type stays. Both changed since the last comparison: the table was
	 * rewritten by a change of a column, which may be a type changed
	 * USING an expression that keeps the type (no description changes);
	 * VACUUM FULL, CLUSTER and TRUNCATE change the storage only, SET
	 * STATISTICS or SET STORAGE a column only.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_table_storage(p_oids oid[])\n"
	"RETURNS TABLE (relid oid, storage numeric, columns numeric)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT c.oid,\n"
	"	CASE WHEN c.relkind = 'p' THEN coalesce((SELECT sum(hashtextextended(\n"
	"			p.relid::oid::text || ':' || pc.relfilenode::text, 0))\n"
	"		FROM pg_partition_tree(c.oid) p JOIN pg_class pc ON pc.oid = p.relid), 0)\n"
	"	ELSE c.relfilenode::bigint END,\n"
	"	coalesce((SELECT sum(hashtextextended(a.attnum::text || ':' || a.xmin::text, 0))\n"
	"		FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0\n"
	"			AND NOT a.attisdropped), 0)\n"
	"FROM (SELECT s.oid FROM teleport.schema_snapshot s WHERE p_oids IS NULL AND s.kind = 'table'\n"
	"	UNION ALL SELECT s.oid FROM teleport.schema_snapshot s\n"
	"	WHERE s.kind = 'table' AND s.oid = ANY (p_oids)) s\n"
	"JOIN pg_class c ON c.oid = s.oid\n"
	"$body$;\n"

	/*
	 * Whether the value column p_attnum of p_relid gives every existing
	 * row when it is added is the same on the target as on the source:
	 * the value of its default, or when it has none of its type's (a
	 * domain's default: ADD COLUMN fills it in as the column's), which the
	 * target evaluates itself. True when that expression is of constants
	 * and immutable functions and operators only (read from its stored
	 * tree, pg_attrdef.adbin or pg_type.typdefaultbin: every node a CONST,
	 * FUNCEXPR, OPEXPR, RELABELTYPE or COERCETODOMAIN, a column's own
	 * default over a domain, every function it calls immutable), and when
	 * there is none (NULL on both sides). Anything else (now(), random(),
	 * nextval, a cast through a stable function, a node not in that list)
	 * is not deterministic. A domain's default counts only when the column
	 * has no default of its own, which replaces it.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_default_deterministic(p_relid oid,\n"
	"	p_attnum int2)\n"
	"RETURNS boolean\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT coalesce((\n"
	"	SELECT NOT EXISTS (SELECT 1 FROM regexp_matches(e.bin, '[{]([A-Z_]+)', 'g') m(t)\n"
	"			WHERE m.t[1] NOT IN ('CONST', 'FUNCEXPR', 'OPEXPR', 'RELABELTYPE', 'COERCETODOMAIN'))\n"
	"		AND NOT EXISTS (SELECT 1\n"
	"			FROM regexp_matches(e.bin, ':(funcid|opfuncid) ([0-9]+)', 'g') f(x)\n"
	"			WHERE NOT EXISTS (SELECT 1 FROM pg_proc p\n"
	"				WHERE p.oid = f.x[2]::oid AND p.provolatile = 'i'))\n"
	"	FROM (SELECT coalesce((SELECT d.adbin::text FROM pg_attrdef d\n"
	"							WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum),\n"
	"						(SELECT ty.typdefaultbin::text FROM pg_type ty\n"
	"							WHERE ty.oid = a.atttypid AND ty.typtype = 'd')) AS bin\n"
	"		FROM pg_attribute a WHERE a.attrelid = p_relid AND a.attnum = p_attnum) e\n"
	"	WHERE e.bin IS NOT NULL), true)\n"
	"$body$;\n"

	/*
	 * Whether a table's change from p_before to p_after (its descriptions)
	 * may have given its existing rows values that the target, applying
	 * the change itself, would not compute alike: a column added whose
	 * default, or its domain's when it has none, is not deterministic
	 * (schema_default_deterministic: a volatile or stable default such as
	 * clock_timestamp() or now(), a serial's nextval) or that is an
	 * identity column (numbered in the order of a scan); and, when p_types,
	 * a column whose type changed (ALTER ... TYPE ... USING: the target
	 * converts with a cast). A generated column is the target's to
	 * compute; a column added without a default (nor a domain's) is NULL on
	 * both sides. A type's rename is not a type change (user_type keeps its
	 * OID).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_rows_changed(p_relid oid, p_before json,\n"
	"	p_after json, p_types boolean)\n"
	"RETURNS boolean\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT EXISTS (\n"
	"	SELECT 1 FROM json_array_elements(p_after -> 'columns') a(c)\n"
	"	LEFT JOIN json_array_elements(p_before -> 'columns') b(c)\n"
	"		ON (b.c ->> 'attnum') = (a.c ->> 'attnum')\n"
	"	WHERE CASE WHEN b.c IS NULL THEN\n"
	"			a.c ->> 'generated' IS NULL\n"
	"			AND (a.c ->> 'identity' IS NOT NULL\n"
	"				OR NOT teleport.schema_default_deterministic(p_relid,\n"
	"					(a.c ->> 'attnum')::int2))\n"
	"		ELSE p_types\n"
	"			AND ((a.c -> 'user_type' ->> 'oid') IS DISTINCT FROM (b.c -> 'user_type' ->> 'oid')\n"
	"				OR (a.c -> 'user_type' ->> 'array') IS DISTINCT FROM (b.c -> 'user_type' ->> 'array')\n"
	"				OR (a.c -> 'user_type' ->> 'oid' IS NULL AND (a.c ->> 'type') <> (b.c ->> 'type')))\n"
	"		END)\n"
	"$body$;\n"

	/*
	 * Send the rows of captured table p_relid again, as 'c' events (upserts
	 * on the target; the trigger source's teleport.trigger_copy_rows,
	 * which records them as the capture trigger would), filed under its
	 * current names. A partition (one attached or created) sends its
	 * rows (its partitions' when it has some) under its root's names,
	 * when the root is captured; the lock below is the partition's, the
	 * description compared its root's. Tables the trigger source does not
	 * capture (not in trigger_table: no target selects them, or they have
	 * no key), or without the trigger source, are skipped. Returns the
	 * rows sent, or -1: not now. A pending row's columns (attnums), when
	 * not NULL, restrict the copy to the rows where one of them is not
	 * NULL (the rows json mode may have captured inexactly before those
	 * columns turned the table to text mode; schema_capture).
	 *
	 * In the DDL's own transaction (the event triggers, !p_pending), which
	 * holds the table (ACCESS EXCLUSIVE since its ALTER TABLE), the rows
	 * are read as the DDL left them, after its event and before any row
	 * the transaction writes later: the order is exact.
	 *
	 * p_pending (a row of schema_resend, queued by a comparison: diff mode,
	 * or a safety diff) runs in a READ COMMITTED transaction of its own,
	 * after the comparison that queued the change's event committed. Why
	 * the order is right: LOCK TABLE ... IN SHARE MODE waits for every
	 * writer of the table (ROW EXCLUSIVE) to end and keeps new ones out
	 * until this transaction commits. The copy is a statement after the
	 * lock, so its snapshot (READ COMMITTED: one per statement) sees every
	 * change committed before: those changes' events have lower ids and
	 * their transactions committed before this one, so the batches put
	 * them before the copy (an earlier batch, or the same one in id
	 * order), and the copy, which holds their effect, overwrites them on
	 * the target. Any later change waits for this commit: its events come
	 * after the copy. The change's own event committed earlier still, so
	 * the target applies the DDL (evaluating it its own way), then the
	 * rows written since, then the source's rows. A table whose
	 * description differs from the snapshot (a change not compared yet,
	 * which the target must get first) is left for later (-1); the lock
	 * keeps it from changing between that check and the copy. A role that
	 * may not take the lock (LOCK TABLE in SHARE mode needs UPDATE, DELETE
	 * or TRUNCATE on the table, or owning it) gets a warning and the rows
	 * are not sent. The pending row is removed when done.
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_resend_rows(p_relid oid, p_pending boolean)\n"
	"RETURNS bigint\n"
	"LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	v_schema text;\n"
	"	v_table text;\n"
	"	v_copied bigint := 0;\n"
	"	v_root oid;\n"
	"	v_columns int2[];\n"
	"BEGIN\n"
	"	SELECT CASE WHEN c.relispartition THEN pg_partition_root(c.oid) ELSE c.oid END\n"
	"	INTO v_root FROM pg_class c WHERE c.oid = p_relid;\n"
	"	IF to_regclass('teleport.trigger_table') IS NOT NULL\n"
	"		AND to_regprocedure('teleport.trigger_copy_rows(oid, text, text, int2[])') IS NOT NULL THEN\n"
	"		SELECT n.nspname::text, c.relname::text INTO v_schema, v_table\n"
	"		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"		WHERE c.oid = v_root\n"
	"			AND EXISTS (SELECT 1 FROM teleport.trigger_table t WHERE t.relid = c.oid);\n"
	"	END IF;\n"
	"	IF v_table IS NOT NULL AND p_pending THEN\n"
	"		IF NOT has_table_privilege(p_relid, 'UPDATE, DELETE, TRUNCATE') THEN\n"
	"			RAISE WARNING 'the rows of table %.% are not sent again after a schema change "
	"that may have rewritten them: teleport''s role may not lock the table in SHARE mode',\n"
	"				quote_ident(v_schema), quote_ident(v_table)\n"
	"				USING HINT = 'Grant the role UPDATE on the table, or bring the table "
	"back with an initial load.';\n"
	"			v_table := NULL;\n"
	"		ELSE\n"
	"			EXECUTE format('LOCK TABLE %s IN SHARE MODE', p_relid::regclass);\n"
	"			IF (SELECT t.description::text FROM teleport.schema_describe_table(ARRAY[v_root]) t)\n"
	"				IS DISTINCT FROM (SELECT s.description::text FROM teleport.schema_snapshot s\n"
	"								  WHERE s.kind = 'table' AND s.oid = v_root) THEN\n"
	"				RETURN -1;\n"
	"			END IF;\n"
	"		END IF;\n"
	"	END IF;\n"
	"	IF v_table IS NOT NULL THEN\n"
	"		IF p_pending THEN\n"
	"			SELECT r.columns INTO v_columns FROM teleport.schema_resend r\n"
	"			WHERE r.relid = p_relid;\n"
	"		END IF;\n"
	"		EXECUTE 'SELECT teleport.trigger_copy_rows($1, $2, $3, $4)' INTO v_copied\n"
	"			USING p_relid, v_schema, v_table, v_columns;\n"
	"	END IF;\n"
	"	IF p_pending THEN\n"
	"		DELETE FROM teleport.schema_resend WHERE relid = p_relid;\n"
	"	END IF;\n"
	"	RETURN v_copied;\n"
	"END\n"
	"$body$;\n"

	/*
	 * The comparison. Events go out in an order the target can apply:
	 * drops first, in reverse rank (a table before its schema), then
	 * creations and changes by rank (a schema before its tables). The
	 * rank is each event's effective rank (schema_order): its kind's, but
	 * after the objects of the same comparison it depends on (created
	 * after them, dropped before them), where the kinds' ranks go against
	 * a dependency: a domain, composite type or function over a range type
	 * with a function of the user's (range_fn, 47, after functions), a
	 * SQL-standard body calling an aggregate (55 and 57), a domain whose
	 * CHECK or default calls a SQL-standard body (its "mid" event at 46,
	 * below) or takes a sequence's nextval (30 and 40); objects whose
	 * dependencies go with the ranks keep them. A creation's dependencies
	 * are pg_depend's now (schema_depends, for the objects of the
	 * comparison only); a drop's those its snapshot row kept. Within a
	 * rank by OID, about creation order (drops in reverse: a composite
	 * type before an older one it uses; composite types and domains share
	 * a rank, so that a domain over a composite type comes after it and a
	 * composite type with an attribute of a domain after that domain). An
	 * advisory lock makes each change emitted once: a full comparison
	 * (p_oids NULL: a poll, an install) takes it exclusively, and without
	 * waiting (it returns -1 when it is taken: try again later); a
	 * restricted one (the event triggers, in the user's DDL transaction,
	 * until it commits) takes it shared, so that concurrent DDL
	 * transactions neither wait for each other nor deadlock on it (two of
	 * them on one object are ordered by that object's own lock).
	 */
	"CREATE OR REPLACE FUNCTION teleport.schema_capture(p_oids oid[], p_emit boolean)\n"
	"RETURNS integer\n"
	"LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	d record;\n"
	"	n integer := 0;\n"
	"	fp text;\n"
	"	v_changed oid[] := '{}';\n"
	"	v_rewritten oid[] := '{}';\n"
	"	v_parts oid[] := '{}';\n"
	"	v_moved oid[];\n"
	"	v_tag text;\n"
	"	v_captured boolean;\n"
	"	v_follow boolean;\n"
	"	v_text int2[];\n"
	"	r oid;\n"
	"BEGIN\n"
	"	IF p_oids IS NOT NULL THEN\n"
	"		PERFORM pg_advisory_xact_lock_shared(hashtext('teleport.schema_capture'));\n"
	"	ELSIF NOT pg_try_advisory_xact_lock(hashtext('teleport.schema_capture')) THEN\n"
	"		RETURN -1;\n"
	"	END IF;\n"
	/*
	 * a full comparison when the catalogs changed since the last one, or
	 * when no table has storage marks yet (a teleport that did not keep
	 * them: they are taken now, not at the next change, which they must
	 * see)
	 */
	"	IF p_oids IS NULL THEN\n"
	"		PERFORM set_config('teleport.comparing', 'on', true);\n"
	"		fp := teleport.schema_fingerprint();\n"
	"		IF p_emit AND EXISTS (SELECT 1 FROM teleport.schema_state\n"
	"							  WHERE fingerprint = fp)\n"
	"			AND (EXISTS (SELECT 1 FROM teleport.schema_storage)\n"
	"				OR NOT EXISTS (SELECT 1 FROM teleport.schema_snapshot WHERE kind = 'table')) THEN\n"
	"			RETURN 0;\n"
	"		END IF;\n"
	"	END IF;\n"
	/*
	 * the tables this statement rewrote (event triggers: the table_rewrite
	 * trigger noted them), taken before the events, whose "rows_follow"
	 * they decide
	 */
	"	IF p_oids IS NOT NULL THEN\n"
	"		v_tag := coalesce(current_setting('teleport.rewritten', true), '');\n"
	"	END IF;\n"
	"	IF v_tag <> '' THEN\n"
	"		IF starts_with(v_tag, txid_current()::text || ':') THEN\n"
	"			SELECT coalesce(array_agg(DISTINCT coalesce(pg_partition_root(x.o::oid), x.o::oid)), '{}')\n"
	"			INTO v_rewritten\n"
	"			FROM unnest(string_to_array(btrim(split_part(v_tag, ':', 2)), ' ')) x(o)\n"
	"			WHERE x.o <> '' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = x.o::oid);\n"
	"			PERFORM set_config('teleport.rewritten', '', false);\n"
	"		END IF;\n"
	"	END IF;\n"
	"	FOR d IN\n"
	"		WITH kinds(kind, rank) AS (VALUES\n"
	"			('schema', 10),\n"
	"			('extension', 12),\n"
	"			('enum', 20),\n"
	"			('composite', 30),\n"
	"			('domain', 30),\n"
	"			('sequence', 40),\n"
	"			('range', 30),\n"
	"			('function', 45),\n"
	"			('range_fn', 47),\n"
	"			('table', 50),\n"
	"			('function_sql_body', 55),\n"
	"			('aggregate', 57),\n"
	"			('index', 60),\n"
	"			('constraint', 70),\n"
	"			('view', 80),\n"
	"			('comment', 90)),\n"
	"		cur AS (\n"
	"			SELECT 'schema' AS kind, s.* FROM teleport.schema_describe_schema(p_oids) s\n"
	"			UNION ALL\n"
	"			SELECT 'table', t.* FROM teleport.schema_describe_table(p_oids) t\n"
	"			UNION ALL\n"
	"			SELECT 'enum', e.* FROM teleport.schema_describe_enum(p_oids) e\n"
	"			UNION ALL\n"
	"			SELECT 'composite', ct.* FROM teleport.schema_describe_composite(p_oids) ct\n"
	"			UNION ALL\n"
	"			SELECT 'domain', dm.* FROM teleport.schema_describe_domain(p_oids) dm\n"
	"			UNION ALL\n"
	"			SELECT CASE WHEN coalesce(rg.description -> 'subtype_diff' ->> 'schema', 'pg_catalog')\n"
	"					= 'pg_catalog' AND coalesce(rg.description -> 'canonical' ->> 'schema',\n"
	"					'pg_catalog') = 'pg_catalog' THEN 'range' ELSE 'range_fn' END,\n"
	"				rg.* FROM teleport.schema_describe_range(p_oids) rg\n"
	"			UNION ALL\n"
	"			SELECT 'aggregate', ag.* FROM teleport.schema_describe_aggregate(p_oids) ag\n"
	"			UNION ALL\n"
	"			SELECT 'sequence', sq.* FROM teleport.schema_describe_sequence(p_oids) sq\n"
	"			UNION ALL\n"
	"			SELECT 'index', ix.* FROM teleport.schema_describe_index(p_oids) ix\n"
	"			UNION ALL\n"
	"			SELECT 'constraint', k.* FROM teleport.schema_describe_constraint(p_oids) k\n"
	"			UNION ALL\n"
	"			SELECT CASE WHEN (f.description ->> 'sql_body')::boolean THEN 'function_sql_body'\n"
	"				ELSE 'function' END, f.* FROM teleport.schema_describe_function(p_oids) f\n"
	"			UNION ALL\n"
	"			SELECT 'view', v.* FROM teleport.schema_describe_view(p_oids) v\n"
	"			UNION ALL\n"
	"			SELECT 'extension', e.* FROM teleport.schema_describe_extension(p_oids) e\n"
	"			UNION ALL\n"
	"			SELECT 'comment', m.* FROM teleport.schema_describe_comment(p_oids) m),\n"
	"		old AS (\n"
	"			SELECT * FROM teleport.schema_snapshot s WHERE p_oids IS NULL\n"
	"			UNION ALL\n"
	"			SELECT * FROM teleport.schema_snapshot s WHERE s.oid = ANY (p_oids)),\n"
	"		diff0 AS (\n"
	"			SELECT coalesce(c.kind, o.kind) AS kind, coalesce(c.obj_oid, o.oid) AS oid,\n"
	"				coalesce(c.obj_schema, o.schema_name) AS schema_name,\n"
	"				CASE WHEN c.kind IS NOT NULL THEN c.obj_name ELSE o.object_name END AS object_name,\n"
	"				o.description AS before, c.description AS after, k.rank,\n"
	"				o.depends AS deps_before\n"
	"			FROM cur c\n"
	"			FULL JOIN old o ON o.kind = c.kind AND o.oid = c.obj_oid\n"
	"			JOIN kinds k ON k.kind = coalesce(c.kind, o.kind)\n"
	"			WHERE o.oid IS NULL OR c.obj_oid IS NULL\n"
	"				OR o.description::text <> c.description::text),\n"
	/* the dependencies of the objects created or changed, as they are now */
	"		diff AS (\n"
	"			SELECT df.*, dd.depends AS deps\n"
	"			FROM diff0 df\n"
	"			LEFT JOIN teleport.schema_depends(\n"
	"				ARRAY(SELECT x.kind FROM diff0 x WHERE x.after IS NOT NULL ORDER BY x.kind, x.oid),\n"
	"				ARRAY(SELECT x.oid FROM diff0 x WHERE x.after IS NOT NULL ORDER BY x.kind, x.oid)) dd\n"
	"				ON dd.kind = df.kind AND dd.oid = df.oid),\n"
	/*
	 * A domain's CHECK constraints and default may call functions of the
	 * user's, and a function may take a domain: neither order of the two
	 * ranks serves both when they change in the same events. So a domain
	 * whose constraints or default are dropped or changed first has them
	 * taken away in an event of its own before the functions' drops
	 * ("rmv": the description before, without the constraints the one
	 * after lacks and without a default the one after changes), and one
	 * created or changed with a constraint or default that calls a
	 * function of the user's (pg_depend on a pg_proc row past the
	 * system's OIDs) gets those only in an event of its own after the
	 * functions ("mid": the description after, without such constraints
	 * that are new and without such a new default). Its main event goes
	 * from the one to the other, at its rank; when they are the same it
	 * is not emitted (emit false), but its description is the snapshot's.
	 *
	 * Likewise a table or composite type that depended on an object
	 * dropped in the same events (a DROP TYPE, DROP DOMAIN, DROP FUNCTION
	 * ... CASCADE took a column, an attribute or a default of it, or they
	 * were dropped first in the same poll): its removals come first, in
	 * an event of its own placed before the drops of what they depended
	 * on ("rmv": the description before, without the columns or
	 * attributes the one after lacks, without a default the one after
	 * changes, without a primary key on a column it lost, and with the
	 * type after of a column or attribute that was of a dropped type and
	 * is now of one that exists before the events: RMV_RETYPED), since
	 * the target's drop, without CASCADE, would find them still using it;
	 * the rest of the change keeps its place (a column added may be of a
	 * type created later in the events).
	 */
	"		rmv_part AS (\n"
	"			SELECT df.kind, df.oid, (df.before::jsonb || jsonb_build_object(\n"
	"				'columns', coalesce((SELECT jsonb_agg(b.c\n"
	"						|| CASE WHEN (b.c ->> 'default') IS DISTINCT FROM (a.c ->> 'default')\n"
	"							THEN '{\"default\": null}'::jsonb ELSE '{}'::jsonb END\n"
	"						|| CASE WHEN " RMV_RETYPED("b.c", "a.c") "\n"
	"							THEN jsonb_build_object('type', a.c -> 'type', 'user_type', a.c -> 'user_type',\n"
	"								'collation', a.c -> 'collation')\n"
	"							ELSE '{}'::jsonb END ORDER BY b.ord)\n"
	"					FROM jsonb_array_elements(df.before::jsonb -> 'columns') WITH ORDINALITY AS b(c, ord)\n"
	"					JOIN json_array_elements(df.after -> 'columns') a(c)\n"
	"						ON (a.c ->> 'attnum') = (b.c ->> 'attnum')), '[]'::jsonb),\n"
	"				'primary_key', CASE WHEN EXISTS (\n"
	"						SELECT 1 FROM json_array_elements_text(\n"
	"							CASE WHEN json_typeof(df.before -> 'primary_key') = 'object'\n"
	"							THEN df.before -> 'primary_key' -> 'columns' END) k(n)\n"
	"						WHERE NOT EXISTS (SELECT 1 FROM json_array_elements(df.after -> 'columns') a(c)\n"
	"							WHERE (a.c ->> 'attnum') = k.n))\n"
	"					THEN 'null'::jsonb ELSE df.before::jsonb -> 'primary_key' END))::json AS r\n"
	"			FROM diff df\n"
	"			WHERE p_emit AND df.kind = 'table' AND df.before IS NOT NULL AND df.after IS NOT NULL\n"
	"				AND EXISTS (SELECT 1 FROM diff x WHERE x.after IS NULL\n"
	"					AND x.oid = ANY (df.deps_before))\n"
	"			UNION ALL\n"
	"			SELECT df.kind, df.oid, (df.before::jsonb || jsonb_build_object(\n"
	"				'attributes', coalesce((SELECT jsonb_agg(b.c\n"
	"						|| CASE WHEN " RMV_RETYPED("b.c", "a.c") "\n"
	"							THEN jsonb_build_object('type', a.c -> 'type', 'user_type', a.c -> 'user_type')\n"
	"							ELSE '{}'::jsonb END ORDER BY b.ord)\n"
	"					FROM jsonb_array_elements(df.before::jsonb -> 'attributes') WITH ORDINALITY AS b(c, ord)\n"
	"					JOIN json_array_elements(df.after -> 'attributes') a(c)\n"
	"						ON (a.c ->> 'attnum') = (b.c ->> 'attnum')), '[]'::jsonb)))::json AS r\n"
	"			FROM diff df\n"
	"			WHERE p_emit AND df.kind = 'composite' AND df.before IS NOT NULL AND df.after IS NOT NULL\n"
	"				AND EXISTS (SELECT 1 FROM diff x WHERE x.after IS NULL\n"
	"					AND x.oid = ANY (df.deps_before))),\n"
	"		rmv AS (\n"
	"			SELECT x.kind, x.oid, x.r FROM (\n"
	"				SELECT df.kind, df.oid, (df.before::jsonb || jsonb_build_object(\n"
	"					'constraints', coalesce((SELECT jsonb_agg(e.k ORDER BY e.ord)\n"
	"						FROM jsonb_array_elements(df.before::jsonb -> 'constraints')\n"
	"							WITH ORDINALITY AS e(k, ord)\n"
	"						WHERE EXISTS (SELECT 1 FROM json_array_elements(df.after -> 'constraints') a(k)\n"
	"								WHERE (a.k ->> 'oid') = (e.k ->> 'oid'))), '[]'::jsonb),\n"
	"					'default', CASE WHEN (df.after ->> 'default') IS DISTINCT FROM (df.before ->> 'default')\n"
	"						THEN 'null'::jsonb ELSE df.before::jsonb -> 'default' END))::json AS r\n"
	"				FROM diff df WHERE p_emit AND df.kind = 'domain' AND df.before IS NOT NULL\n"
	"				UNION ALL\n"
	"				SELECT p.kind, p.oid, p.r FROM rmv_part p) x\n"
	"			JOIN diff df ON df.kind = x.kind AND df.oid = x.oid\n"
	"			WHERE x.r::jsonb <> df.before::jsonb),\n"
	"		mid AS (\n"
	"			SELECT x.oid, x.m FROM (\n"
	"				SELECT df.oid, (df.after::jsonb || jsonb_build_object(\n"
	"					'constraints', coalesce((SELECT jsonb_agg(e.k ORDER BY e.ord)\n"
	"						FROM jsonb_array_elements(df.after::jsonb -> 'constraints')\n"
	"							WITH ORDINALITY AS e(k, ord)\n"
	"						WHERE NOT EXISTS (SELECT 1 FROM pg_depend p\n"
	"							WHERE p.classid = 'pg_constraint'::regclass\n"
	"								AND p.objid = (e.k ->> 'oid')::oid\n"
	"								AND p.refclassid = 'pg_proc'::regclass AND p.refobjid >= 16384)\n"
	"							OR EXISTS (SELECT 1 FROM json_array_elements(df.before -> 'constraints') b(k)\n"
	"								WHERE (b.k ->> 'oid') = (e.k ->> 'oid'))), '[]'::jsonb),\n"
	"					'default', CASE WHEN (df.after ->> 'default') IS DISTINCT FROM (df.before ->> 'default')\n"
	"						AND EXISTS (SELECT 1 FROM pg_depend p WHERE p.classid = 'pg_type'::regclass\n"
	"							AND p.objid = df.oid AND p.refclassid = 'pg_proc'::regclass\n"
	"							AND p.refobjid >= 16384)\n"
	"						THEN 'null'::jsonb ELSE df.after::jsonb -> 'default' END))::json AS m\n"
	"				FROM diff df WHERE p_emit AND df.kind = 'domain' AND df.after IS NOT NULL) x\n"
	"			JOIN diff df ON df.kind = 'domain' AND df.oid = x.oid\n"
	"			WHERE x.m::jsonb <> df.after::jsonb),\n"
	/*
	 * A type (enum, composite, domain, range) dropped in the same events
	 * as a column or attribute of it (or of its multirange) is retyped to
	 * a type created in them (in diff mode, a poll that sees ALTER TYPE e
	 * RENAME TO e_old; CREATE TYPE e ...; ALTER TABLE t ALTER c TYPE e
	 * USING ...; DROP TYPE e_old, as migration tools replace an enum;
	 * USER_TYPE_IS matches a range's multirange by name): the removals
	 * cannot retype the column before the new type exists, and the new
	 * type may take the old one's name on the target, which still has
	 * the old type under it. So the old type is renamed out of the way
	 * among the drops ("late": its description before, after its
	 * removals, renamed teleport_dropped_OID, and its multirange too),
	 * and dropped under that name after every other change (rank 95), when
	 * the columns no longer use it.
	 */
	"		late AS (\n"
	"			SELECT x.kind, x.oid, coalesce(r.r, x.before) AS b,\n"
	"				(coalesce(r.r, x.before)::jsonb\n"
	"					|| jsonb_build_object('name', 'teleport_dropped_' || x.oid)\n"
	"					|| CASE WHEN x.kind IN ('range', 'range_fn') THEN jsonb_build_object('multirange',\n"
	"						'teleport_dropped_' || x.oid || '_multirange') ELSE '{}'::jsonb END)::json AS a\n"
	"			FROM diff x LEFT JOIN rmv r ON r.kind = x.kind AND r.oid = x.oid\n"
	"			WHERE p_emit AND x.after IS NULL\n"
	"				AND x.kind IN ('enum', 'composite', 'domain', 'range', 'range_fn')\n"
	"				AND EXISTS (SELECT 1 FROM diff t\n"
	"					CROSS JOIN LATERAL json_array_elements(coalesce(t.before -> 'columns',\n"
	"						t.before -> 'attributes')) b(c)\n"
	"					JOIN json_array_elements(coalesce(t.after -> 'columns', t.after -> 'attributes')) a(c)\n"
	"						ON (a.c ->> 'attnum') = (b.c ->> 'attnum')\n"
	"					WHERE t.kind IN ('table', 'composite') AND t.before IS NOT NULL\n"
	"						AND t.after IS NOT NULL\n"
	"						AND " USER_TYPE_IS("(b.c -> 'user_type')", "x", "x.before") "\n"
	"						AND EXISTS (SELECT 1 FROM diff y WHERE y.before IS NULL\n"
	"							AND " USER_TYPE_IS("(a.c -> 'user_type')", "y", "y.after") "))),\n"
	/*
	 * ph: 0 drops (and a domain's removals), 1 the rest; base: the rank;
	 * deps: the objects it depends on, for schema_order (a drop's and a
	 * removal's as the snapshot kept them; the others' as they are now,
	 * but a domain's main event before its "mid" one without the
	 * functions, which its held-back constraints and default call); store:
	 * the object's dependencies for its snapshot row
	 */
	"		ev AS (\n"
	"			SELECT df.kind, df.oid, df.before ->> 'schema' AS schema_name,\n"
	"				df.before ->> 'name' AS object_name, df.before,\n"
	"				r.r AS after, 0 AS ph, CASE WHEN df.kind = 'domain' THEN 46 ELSE df.rank END AS base,\n"
	"				true AS emit, df.deps_before AS deps, df.deps AS store\n"
	"			FROM diff df JOIN rmv r ON r.kind = df.kind AND r.oid = df.oid\n"
	"			UNION ALL\n"
	"			SELECT y.kind, y.oid, y.schema_name, y.object_name, y.before, y.after, y.ph, y.base,\n"
	"				y.before IS NULL OR y.after IS NULL OR y.before::jsonb <> y.after::jsonb,\n"
	"				y.deps, y.store FROM (\n"
	"				SELECT df.kind, df.oid, df.schema_name, df.object_name,\n"
	"					coalesce(l.a, r.r, df.before) AS before, coalesce(m.m, df.after) AS after,\n"
	/*
	 * a standalone sequence's drop after the tables' changes: a DROP
	 * SEQUENCE ... CASCADE takes a column's default (its table's change),
	 * which the target drops first, and a sequence made a column's
	 * (OWNED BY: it leaves the kind) is its table's by then on the
	 * target, which keeps it
	 */
	"					CASE WHEN df.after IS NOT NULL OR df.kind = 'sequence' OR l.oid IS NOT NULL\n"
	"						THEN 1 ELSE 0 END AS ph,\n"
	"					CASE WHEN df.after IS NULL AND df.kind = 'sequence' THEN 51\n"
	"						WHEN l.oid IS NOT NULL THEN 95\n"
	"						ELSE df.rank END AS base,\n"
	"					CASE WHEN df.after IS NULL AND df.kind = 'sequence' THEN NULL\n"
	"						WHEN df.after IS NULL THEN df.deps_before\n"
	"						WHEN m.oid IS NOT NULL THEN ARRAY(SELECT u.o FROM unnest(df.deps) u(o)\n"
	"							WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.oid = u.o))\n"
	"						ELSE df.deps END AS deps,\n"
	"					df.deps AS store\n"
	"				FROM diff df\n"
	"				LEFT JOIN rmv r ON r.kind = df.kind AND r.oid = df.oid\n"
	"				LEFT JOIN mid m ON df.kind = 'domain' AND m.oid = df.oid\n"
	"				LEFT JOIN late l ON l.kind = df.kind AND l.oid = df.oid) y\n"
	"			UNION ALL\n"
	/* a late drop's rename out of the way, among the drops */
	"			SELECT df.kind, df.oid, df.schema_name, df.object_name, l.b, l.a, 0, df.rank, true,\n"
	"				df.deps_before, df.deps_before\n"
	"			FROM diff df JOIN late l ON l.kind = df.kind AND l.oid = df.oid\n"
	"			UNION ALL\n"
	"			SELECT df.kind, df.oid, df.schema_name, df.object_name, m.m, df.after, 1, 46, true,\n"
	"				df.deps, df.deps\n"
	"			FROM diff df JOIN mid m ON df.kind = 'domain' AND m.oid = df.oid),\n"
	"		nodes AS MATERIALIZED (SELECT row_number() OVER () AS id, e.* FROM ev e),\n"
	/* the effective ranks (not needed for a first snapshot, which emits nothing) */
	"		ord AS (\n"
	"			SELECT o.* FROM teleport.schema_order((\n"
	"				SELECT json_agg(json_build_object('id', n.id, 'oid', n.oid, 'rank', n.base,\n"
	"					'ph', n.ph, 'deps', n.deps))\n"
	"				FROM nodes n WHERE p_emit)) o)\n"
	"		SELECT e.kind, e.oid, e.schema_name, e.object_name, e.before, e.after, e.emit, e.store\n"
	"		FROM nodes e LEFT JOIN ord o ON o.id = e.id\n"
	/*
	 * by effective rank (schema_order; drops in reverse); within one by
	 * OID (drops in reverse); a composite type or domain that uses a
	 * type made later (an older composite type given an attribute of a
	 * new domain) by the newest type it uses, after that type (its drop
	 * before it)
	 */
	"		ORDER BY e.ph, CASE WHEN e.ph = 0 THEN -1 ELSE 1 END * coalesce(o.rank, e.base),\n"
	"			CASE WHEN e.ph = 0 THEN -1 ELSE 1 END * CASE\n"
	"				WHEN e.kind = 'composite' THEN greatest(e.oid::bigint, (\n"
	"					SELECT max((a.c -> 'user_type' ->> 'oid')::bigint)\n"
	"					FROM json_array_elements(coalesce(e.after, e.before) -> 'attributes') a(c)))\n"
	"				WHEN e.kind = 'domain' THEN greatest(e.oid::bigint,\n"
	"					(coalesce(e.after, e.before) -> 'user_type' ->> 'oid')::bigint)\n"
	"				ELSE e.oid::bigint END,\n"
	"			CASE WHEN e.ph = 0 THEN e.oid::bigint ELSE -(e.oid::bigint) END\n"
	"	LOOP\n"
	/*
	 * A table that became a partition leaves the described tables (its
	 * drop: the target drops its copy) and is captured through its root's
	 * cloned trigger from now on: its own capture triggers go, before its
	 * drop's event, so that no row is recorded under its name after that
	 * event (nor twice). Their lock orders every writer that recorded a
	 * row under its name before the event (with event triggers the ATTACH
	 * holds the table already; a comparison waits for its lock_timeout at
	 * most, and tries again at the next poll).
	 */
	"		IF p_emit AND d.kind = 'table' AND d.before IS NOT NULL AND d.after IS NULL\n"
	"			AND to_regclass('teleport.trigger_table') IS NOT NULL\n"
	"			AND to_regprocedure('teleport.trigger_remove_table(oid)') IS NOT NULL\n"
	"			AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = d.oid AND c.relispartition) THEN\n"
	"			EXECUTE 'SELECT teleport.trigger_remove_table(t.relid)"
	" FROM teleport.trigger_table t WHERE t.relid = $1' USING d.oid;\n"
	"		END IF;\n"
	/*
	 * A table renamed or moved to another schema that the trigger source
	 * captures already: "captured" in its event says so, for a target that
	 * selects only its new name, which needs its rows (the trigger source
	 * copies those of a table it starts capturing, not of this one): the
	 * queue asks for them when it cuts that target's batch (core/queue.c,
	 * request_resend).
	 */
	"		v_captured := false;\n"
	"		IF p_emit AND d.emit AND d.kind = 'table' AND d.before IS NOT NULL\n"
	"			AND d.after IS NOT NULL\n"
	"			AND (d.before ->> 'schema', d.before ->> 'name')\n"
	"				IS DISTINCT FROM (d.after ->> 'schema', d.after ->> 'name')\n"
	"			AND to_regclass('teleport.trigger_table') IS NOT NULL THEN\n"
	"			EXECUTE 'SELECT EXISTS (SELECT 1 FROM teleport.trigger_table t WHERE t.relid = $1)'\n"
	"				INTO v_captured USING d.oid;\n"
	"		END IF;\n"
	/*
	 * A table whose rows this change may have rewritten
	 * (schema_rows_changed, or the statement rewrote it): when they are
	 * sent again after its event (below: the trigger source captures the
	 * table, and either the DDL's transaction sends them or the pending
	 * copy may lock the table, as schema_resend_rows needs), "rows_follow"
	 * in its event says so: a target whose conversion of a column fails on
	 * its own values may then empty the table instead of holding the
	 * batch (pg_ddl.c), since the source's rows replace them all.
	 */
	"		v_follow := false;\n"
	"		IF p_emit AND d.kind = 'table' AND d.before IS NOT NULL AND d.after IS NOT NULL THEN\n"
	"			IF teleport.schema_rows_changed(d.oid, d.before, d.after, p_oids IS NULL) THEN\n"
	"				v_changed := v_changed || d.oid;\n"
	"				v_follow := true;\n"
	"			END IF;\n"
	"			v_follow := (v_follow OR d.oid = ANY (v_rewritten))\n"
	"				AND to_regclass('teleport.trigger_table') IS NOT NULL\n"
	"				AND ((p_oids IS NOT NULL AND (d.oid = ANY (v_rewritten)\n"
	"						OR current_setting('transaction_isolation') = 'read committed'))\n"
	"					OR has_table_privilege(d.oid, 'UPDATE, DELETE, TRUNCATE'));\n"
	"			IF v_follow THEN\n"
	"				EXECUTE 'SELECT EXISTS (SELECT 1 FROM teleport.trigger_table t WHERE t.relid = $1)'\n"
	"					INTO v_follow USING d.oid;\n"
	"			END IF;\n"
	"		END IF;\n"
	"		IF p_emit AND d.emit AND (v_captured OR v_follow) THEN\n"
	"			PERFORM teleport.insert_event('ddl', d.schema_name, d.object_name, NULL, NULL,\n"
	"				json_build_object('type', d.kind, 'oid', d.oid,\n"
	"								  'before', d.before, 'after', d.after,\n"
	"								  'captured', v_captured, 'rows_follow', v_follow));\n"
	"		ELSIF p_emit AND d.emit THEN\n"
	"			PERFORM teleport.insert_event('ddl', d.schema_name, d.object_name, NULL, NULL,\n"
	"				json_build_object('type', d.kind, 'oid', d.oid,\n"
	"								  'before', d.before, 'after', d.after));\n"
	"		END IF;\n"
	/*
	 * A captured table that a full comparison (diff mode, a safety diff)
	 * finds with columns that need text mode (json, jsonb, xml, an array
	 * or a composite; the trigger source's trigger_text_columns): v_text,
	 * their attnums, NULL when it has none.
	 */
	"		v_text := NULL;\n"
	"		IF p_emit AND d.emit AND p_oids IS NULL AND d.kind = 'table'\n"
	"			AND d.before IS NOT NULL AND d.after IS NOT NULL\n"
	"			AND to_regclass('teleport.trigger_table') IS NOT NULL\n"
	"			AND to_regprocedure('teleport.trigger_text_columns(oid)') IS NOT NULL THEN\n"
	"			EXECUTE 'SELECT teleport.trigger_text_columns(t.relid) FROM teleport.trigger_table t"
	" WHERE t.relid = $1' INTO v_text USING d.oid;\n"
	"			IF cardinality(v_text) = 0 THEN\n"
	"				v_text := NULL;\n"
	"			END IF;\n"
	"		END IF;\n"
	/*
	 * A full comparison remakes the capture trigger of such a table in
	 * the transaction of its event, as the event triggers do in the
	 * DDL's: a table renamed (v_captured), under its new names, so that
	 * the rows written before the event are filed under the old names,
	 * those after it under the new ones, and no row names a table the
	 * target no longer has (renamed there, or dropped when it left a
	 * target's selection); a table with columns that need text mode whose
	 * trigger is still in json mode (it gained such a column, or one was
	 * retyped to such a type), in text mode, so that no row after this
	 * comparison is captured in json mode (those before it are sent
	 * again, below). DROP TRIGGER waits at most the comparison's
	 * lock_timeout for the table; then the comparison is tried again at
	 * the next poll.
	 */
	"		IF (v_captured OR v_text IS NOT NULL) AND p_oids IS NULL\n"
	"			AND to_regprocedure('teleport.trigger_install_table(oid, text, text, text[],"
	" boolean, boolean)') IS NOT NULL\n"
	"			AND to_regprocedure('teleport.trigger_table_keys(oid)') IS NOT NULL THEN\n"
	"			EXECUTE 'SELECT teleport.trigger_install_table(t.relid, $2, $3, k.keys, false,"
	" EXISTS (SELECT 1 FROM pg_trigger x WHERE x.tgrelid = t.relid"
	" AND x.tgname = ''teleport_capture_insert''))"
	" FROM teleport.trigger_table t"
	" CROSS JOIN LATERAL (SELECT teleport.trigger_table_keys(t.relid) AS keys) k"
	" WHERE t.relid = $1 AND k.keys IS NOT NULL"
	" AND ((t.schema_name, t.table_name) IS DISTINCT FROM ($2, $3)"
	" OR ($4 AND NOT EXISTS (SELECT 1 FROM pg_trigger x WHERE x.tgrelid = t.relid"
	" AND x.tgname::text ~ ''^teleport_capture_text(_root(_[0-9]+)?)?$'')))'\n"
	"				USING d.oid, d.after ->> 'schema', d.after ->> 'name', v_text IS NOT NULL;\n"
	"		END IF;\n"
	/*
	 * Such a table that had none of those columns before (none of their
	 * attnums in the description before: it gained them) was captured in
	 * json mode from the ALTER TABLE until its trigger was remade (above,
	 * or by the trigger source's poll): a JSON null written meanwhile as
	 * SQL NULL, an array without its bounds. Its rows where one of those
	 * columns is not NULL are sent again (a NULL was captured exactly),
	 * as text images, by the DDL source's poll after this commit, under
	 * the lock that orders them after every row captured in json mode
	 * (schema_resend_rows). A column retyped to such a type sends every
	 * row (schema_rows_changed). These rows alone do not replace the
	 * table's: no "rows_follow".
	 */
	"		IF v_text IS NOT NULL AND NOT EXISTS (\n"
	"			SELECT 1 FROM json_array_elements(d.before -> 'columns') b(c)\n"
	"			WHERE (b.c ->> 'attnum')::int2 = ANY (v_text)) THEN\n"
	"			INSERT INTO teleport.schema_resend AS s (relid, columns) VALUES (d.oid, v_text)\n"
	"			ON CONFLICT (relid) DO UPDATE\n"
	"				SET columns = ARRAY(SELECT DISTINCT u.a FROM unnest(s.columns || EXCLUDED.columns) u(a)\n"
	"									ORDER BY u.a)\n"
	"				WHERE s.columns IS NOT NULL;\n"
	"		END IF;\n"
	"		IF d.emit THEN\n"
	"			n := n + 1;\n"
	"		END IF;\n"
	"		IF d.after IS NULL THEN\n"
	"			DELETE FROM teleport.schema_snapshot WHERE kind = d.kind AND oid = d.oid;\n"
	"		ELSE\n"
	"			INSERT INTO teleport.schema_snapshot AS s\n"
	"				(kind, oid, schema_name, object_name, description, depends, taken_at)\n"
	"			VALUES (d.kind, d.oid, d.schema_name, d.object_name, d.after, d.store, now())\n"
	"			ON CONFLICT (kind, oid) DO UPDATE\n"
	"				SET schema_name = EXCLUDED.schema_name,\n"
	"					object_name = EXCLUDED.object_name,\n"
	"					description = EXCLUDED.description, depends = EXCLUDED.depends,\n"
	"					taken_at = EXCLUDED.taken_at;\n"
	"		END IF;\n"
	/*
	 * A partitioned table's partitions: the leaves attached (or created)
	 * since its last description have their rows sent under its name; when
	 * one left it (the target deletes its rows by its constraint), a
	 * comparison also sends the rows of the table's default partitions
	 * again, which may have taken rows in that range since. Not when the
	 * description before had no partitions (a teleport that did not list
	 * them).
	 */
	"		IF p_emit AND d.kind = 'table' AND d.after IS NOT NULL\n"
	"			AND json_typeof(d.before -> 'partitions') = 'array' THEN\n"
	"			v_parts := v_parts || ARRAY(\n"
	"				SELECT (a.p ->> 'oid')::oid FROM json_array_elements(d.after -> 'partitions') a(p)\n"
	"				WHERE (a.p ->> 'leaf')::boolean\n"
	"					AND NOT EXISTS (SELECT 1 FROM json_array_elements(d.before -> 'partitions') b(p)\n"
	"									WHERE (b.p ->> 'oid') = (a.p ->> 'oid')));\n"
	"			IF p_oids IS NULL AND EXISTS (\n"
	"				SELECT 1 FROM json_array_elements(d.before -> 'partitions') b(p)\n"
	"				WHERE NOT EXISTS (SELECT 1 FROM json_array_elements(d.after -> 'partitions') a(p)\n"
	"								  WHERE (a.p ->> 'oid') = (b.p ->> 'oid'))) THEN\n"
	"				v_parts := v_parts || ARRAY(\n"
	"					SELECT c.oid FROM json_array_elements(d.after -> 'partitions') a(p)\n"
	"					JOIN pg_class c ON c.oid = (a.p ->> 'oid')::oid\n"
	"					WHERE (a.p ->> 'leaf')::boolean\n"
	"						AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT');\n"
	"			END IF;\n"
	"		END IF;\n"
	"	END LOOP;\n"
	/*
	 * The describe functions read the catalogs in the statement's
	 * snapshot, but those that deparse (pg_get_viewdef, pg_get_expr...)
	 * read the latest catalogs: a DDL that committed while a full
	 * comparison described may be half seen (a view's column renamed, its
	 * table's not yet), and its events would go out wrong. When the
	 * catalogs changed since fp was taken, the comparison is given up
	 * (its events and snapshot rolled back) and tried again.
	 */
	"	IF p_oids IS NULL AND n > 0\n"
	"		AND teleport.schema_fingerprint() IS DISTINCT FROM fp THEN\n"
	"		RAISE EXCEPTION 'the catalogs changed while they were compared'\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	/*
	 * The described tables' storage marks (schema_table_storage), kept in
	 * schema_storage: a comparison (p_oids NULL) finds the tables rewritten
	 * with a column changed since the last one (a type changed USING an
	 * expression that keeps the type changes no description; in diff mode
	 * and, with event triggers, a DDL they did not see) and sends their
	 * rows again; the event triggers only record the marks of the tables
	 * of their statement (whose rewrite the table_rewrite trigger noted),
	 * so that a later comparison does not find it again. Rows are written
	 * (and locked) only for marks that changed, so that concurrent DDL on
	 * one table does not wait here; those of tables no longer described go.
	 */
	"	WITH cur AS MATERIALIZED (SELECT * FROM teleport.schema_table_storage(p_oids)),\n"
	"	up AS (\n"
	"		INSERT INTO teleport.schema_storage AS s (relid, storage, columns)\n"
	"		SELECT c.* FROM cur c LEFT JOIN teleport.schema_storage o ON o.relid = c.relid\n"
	"		WHERE o.relid IS NULL OR (o.storage, o.columns) IS DISTINCT FROM (c.storage, c.columns)\n"
	"		ON CONFLICT (relid) DO UPDATE SET storage = EXCLUDED.storage, columns = EXCLUDED.columns\n"
	"		WHERE (s.storage, s.columns) IS DISTINCT FROM (EXCLUDED.storage, EXCLUDED.columns))\n"
	"	SELECT coalesce(array_agg(c.relid ORDER BY c.relid), '{}') INTO v_moved\n"
	"	FROM cur c JOIN teleport.schema_storage s ON s.relid = c.relid\n"
	"	WHERE s.storage <> c.storage AND s.columns <> c.columns;\n"
	"	IF p_oids IS NULL THEN\n"
	"		DELETE FROM teleport.schema_storage s WHERE NOT EXISTS (\n"
	"			SELECT 1 FROM teleport.schema_snapshot x WHERE x.kind = 'table' AND x.oid = s.relid);\n"
	"		IF p_emit THEN\n"
	"			v_changed := v_changed || v_moved;\n"
	"		END IF;\n"
	"	ELSE\n"
	"		DELETE FROM teleport.schema_storage s WHERE s.relid = ANY (p_oids) AND NOT EXISTS (\n"
	"			SELECT 1 FROM teleport.schema_snapshot x WHERE x.kind = 'table' AND x.oid = s.relid);\n"
	"	END IF;\n"
	/*
	 * Rows changed without row events (schema_rows_changed; with event
	 * triggers also every table the statement rewrote, as
	 * schema_rewrite_trigger recorded, which catches an ALTER ... TYPE ...
	 * USING that keeps the type): their rows are sent again, after the
	 * events above (schema_resend_rows). In the DDL's transaction, at
	 * once; but a transaction that is not READ COMMITTED reads with a
	 * snapshot older than the DDL, which may miss rows others changed
	 * since, unless the statement rewrote the table (the rewritten rows
	 * are its own): such a table, and those of a comparison, are queued
	 * in schema_resend for the DDL source's next poll.
	 */
	"	IF p_emit AND to_regclass('teleport.trigger_table') IS NOT NULL THEN\n"
	"		FOR r IN SELECT DISTINCT u.relid FROM unnest(v_changed || v_rewritten) u(relid)\n"
	"				 WHERE EXISTS (SELECT 1 FROM teleport.trigger_table t WHERE t.relid = u.relid)\n"
	"				 ORDER BY u.relid\n"
	"		LOOP\n"
	"			IF p_oids IS NOT NULL AND (r = ANY (v_rewritten)\n"
	"				OR current_setting('transaction_isolation') = 'read committed') THEN\n"
	"				PERFORM teleport.schema_resend_rows(r, false);\n"
	"			ELSE\n"
	"				INSERT INTO teleport.schema_resend AS s (relid) VALUES (r)\n"
	"				ON CONFLICT (relid) DO UPDATE SET columns = NULL WHERE s.columns IS NOT NULL;\n"
	"			END IF;\n"
	"		END LOOP;\n"
	/*
	 * the rows of partitions attached, under their root's name (with
	 * event triggers the ATTACH holds the partition; a CREATE ... PARTITION
	 * OF made it)
	 */
	"		FOR r IN SELECT DISTINCT u.relid FROM unnest(v_parts) u(relid)\n"
	"				 WHERE EXISTS (SELECT 1 FROM teleport.trigger_table t\n"
	"							   WHERE t.relid = pg_partition_root(u.relid))\n"
	"				 ORDER BY u.relid\n"
	"		LOOP\n"
	"			IF p_oids IS NOT NULL\n"
	"				AND current_setting('transaction_isolation') = 'read committed' THEN\n"
	"				PERFORM teleport.schema_resend_rows(r, false);\n"
	"			ELSE\n"
	"				INSERT INTO teleport.schema_resend AS s (relid) VALUES (r)\n"
	"				ON CONFLICT (relid) DO UPDATE SET columns = NULL WHERE s.columns IS NOT NULL;\n"
	"			END IF;\n"
	"		END LOOP;\n"
	"	END IF;\n"
	"	IF NOT p_emit THEN\n"
	"		UPDATE teleport.schema_state SET first_snapshot_at = now()\n"
	"		WHERE first_snapshot_at IS NULL;\n"
	"	END IF;\n"
	/*
	 * taken before describing: a change committed in between is described
	 * now and makes the next fingerprint differ, which costs one more
	 * comparison and emits nothing twice
	 */
	"	IF p_oids IS NULL THEN\n"
	"		UPDATE teleport.schema_state SET fingerprint = fp;\n"
	"	END IF;\n"
	"	RETURN n;\n"
	"END\n"
	"$body$;\n"

	"REVOKE ALL ON FUNCTION teleport.schema_describe_schema(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_table(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_enum(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_composite(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_domain(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_range(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_aggregate(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_sequence(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_index(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_constraint(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_function(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_view(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_extension(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_describe_comment(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_fingerprint() FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_deparsed(text) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_table_storage(oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_capture(oid[], boolean) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_default_deterministic(oid, int2) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_rows_changed(oid, json, json, boolean) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_resend_rows(oid, boolean) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_depends(text[], oid[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.schema_order(json) FROM PUBLIC;\n"
	/*
	 * the rows of a version 2 snapshot: their objects' dependencies as
	 * they are now (an object dropped since has none: its drop goes by
	 * its rank)
	 */
	"UPDATE teleport.schema_snapshot s SET depends = x.depends\n"
	"FROM teleport.schema_depends(\n"
	"	ARRAY(SELECT o.kind FROM teleport.schema_snapshot o WHERE o.depends IS NULL\n"
	"		ORDER BY o.kind, o.oid),\n"
	"	ARRAY(SELECT o.oid FROM teleport.schema_snapshot o WHERE o.depends IS NULL\n"
	"		ORDER BY o.kind, o.oid)) x\n"
	"WHERE s.depends IS NULL AND s.kind = x.kind AND s.oid = x.oid;\n"
	/*
	 * dependencies an older teleport kept as a type or function that an
	 * extension made (or an array of such a type): as that extension, as
	 * schema_depends gives them now, so that a DROP EXTENSION ... CASCADE
	 * sends the removals of the columns it takes before its drop; rows
	 * already so are left alone
	 */
	"UPDATE teleport.schema_snapshot s SET depends = m.depends\n"
	"FROM (SELECT o.kind, o.oid, ARRAY(\n"
	"		SELECT coalesce((SELECT x.refobjid FROM pg_catalog.pg_depend x\n"
	"				WHERE x.classid IN ('pg_catalog.pg_type'::pg_catalog.regclass,\n"
	"					'pg_catalog.pg_proc'::pg_catalog.regclass)\n"
	"					AND x.objid = coalesce((SELECT nullif(t.typelem, 0) FROM pg_catalog.pg_type t\n"
	"						WHERE t.oid = u.d AND t.typcategory = 'A'), u.d)\n"
	"					AND x.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass\n"
	"					AND x.deptype = 'e' LIMIT 1), u.d)\n"
	"		FROM unnest(o.depends) WITH ORDINALITY AS u(d, i) ORDER BY u.i) AS depends\n"
	"	FROM teleport.schema_snapshot o WHERE o.depends IS NOT NULL) m\n"
	"WHERE s.kind = m.kind AND s.oid = m.oid AND s.depends <> m.depends;\n";

/* One row, one column: whether the first snapshot was taken. */
const char	ddl_sql_first_taken[] =
	"SELECT first_snapshot_at IS NOT NULL FROM teleport.schema_state";

/*
 * The tables whose rows a comparison queued to be sent again, oldest
 * first. Columns: relid, schema and name (NULL when gone), attempts,
 * whether every row is sent (else those json mode may have lost).
 */
const char	ddl_sql_resend_pending[] =
	"SELECT r.relid, n.nspname, c.relname, r.attempts, r.columns IS NULL"
	" FROM teleport.schema_resend r"
	" LEFT JOIN pg_catalog.pg_class c ON c.oid = r.relid"
	" LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" ORDER BY r.queued_at, r.relid";

/* $1 relid. One value: the rows sent, or -1 (not now). */
const char	ddl_sql_resend[] =
	"SELECT teleport.schema_resend_rows($1::pg_catalog.oid, true)";

/* $1 relid: an attempt that could not take the lock. One value: attempts. */
const char	ddl_sql_resend_missed[] =
	"UPDATE teleport.schema_resend SET attempts = attempts + 1"
	" WHERE relid = $1::pg_catalog.oid RETURNING attempts";

/* $1 the OIDs (oid[] literal, or NULL: all), $2 emit. One value: events. */
const char	ddl_sql_capture[] =
	"SELECT teleport.schema_capture($1::pg_catalog.oid[], $2::pg_catalog.bool)";

/* Drop the functions and tables, and the version record. */
const char	ddl_sql_uninstall[] =
	"SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('teleport.schema'));\n"
	"DROP FUNCTION IF EXISTS teleport.schema_capture(oid[], boolean);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_resend_rows(oid, boolean);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_rows_changed(oid, json, json, boolean);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_default_deterministic(oid, int2);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_schema(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_table(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_enum(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_composite(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_domain(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_range(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_aggregate(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_sequence(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_index(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_constraint(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_function(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_view(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_extension(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_describe_comment(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_fingerprint();\n"
	"DROP FUNCTION IF EXISTS teleport.schema_deparsed(text);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_table_storage(oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_depends(text[], oid[]);\n"
	"DROP FUNCTION IF EXISTS teleport.schema_order(json);\n"
	"DROP TABLE IF EXISTS teleport.schema_snapshot;\n"
	"DROP TABLE IF EXISTS teleport.schema_state;\n"
	"DROP TABLE IF EXISTS teleport.schema_resend;\n"
	"DROP TABLE IF EXISTS teleport.schema_storage;\n"
	"DO $do$\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regclass('teleport.schema_version') IS NOT NULL THEN\n"
	"		DELETE FROM teleport.schema_version WHERE component = 'schema';\n"
	"	END IF;\n"
	"END\n"
	"$do$";
