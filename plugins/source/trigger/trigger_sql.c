/*
 * trigger_sql.c
 *     The SQL of the trigger source: the objects it keeps in schema
 *     teleport, and the queries its C code runs.
 *
 * Objects (all in schema teleport, owned by teleport's role):
 *
 *   capture()            row trigger, AFTER INSERT OR UPDATE OR DELETE
 *                        (AFTER UPDATE only, when the table has statement
 *                        triggers)
 *   capture_insert()     statement trigger, AFTER INSERT, transition table
 *                        new_rows (option statement_triggers)
 *   capture_delete()     statement trigger, AFTER DELETE, transition table
 *                        old_rows (option statement_triggers)
 *   capture_text()       row trigger, AFTER INSERT OR UPDATE OR DELETE, of
 *                        the tables in text mode (below)
 *   capture_truncate()   statement trigger, AFTER TRUNCATE
 *   capture_stmt()       statement triggers, BEFORE and AFTER UPDATE: the
 *                        statement counter (below)
 *       All SECURITY DEFINER with a pinned search_path, so that the roles
 *       that write the tables need no rights on schema teleport, and with
 *       the settings that change how values are rendered pinned in their
 *       SET clauses, so that a writer's session cannot change what is
 *       captured. TG_ARGV: [0] schema and [1] table to record (a partitioned
 *       table's trigger is cloned onto its partitions with its arguments, so
 *       rows of a partition are recorded under the root's name), [2..] the
 *       key columns. The schema is checked against the table's own: where
 *       they differ (a partition in another schema than its root, or a
 *       schema renamed since the trigger was made, whose tables the
 *       renaming transaction could not lock to remake their triggers) it
 *       is looked up (capture_schema(relid): the root's schema now), so
 *       that rows written after a schema's rename name the new schema. Events go through teleport.insert_event (the queue's).
 *       Row images are json, not jsonb: jsonb would lose -0 and digits.
 *       The statement triggers record exactly the text the row trigger
 *       records, one event per row in the order the statement processed
 *       the rows.
 *
 *   Text mode. row_to_json cannot carry every value exactly: an array
 *   whose lower bound is not 1 becomes a plain JSON array, a json or jsonb
 *   value that is the JSON literal null looks like SQL NULL, and the
 *   applier's json_populate_recordset refuses a json value holding
 *   "\u0000"; xml loses its declaration. So a table with a column of
 *   json, jsonb, xml, an array or a composite type (through domains, which
 *   composites may hold too) is captured by capture_text(): each value is
 *   its text form (value::text, in the pinned settings) as a JSON string,
 *   SQL NULL is null, and the event is marked text_values. Each image is
 *   built by one EXECUTE from the current catalog (pg_attribute of
 *   TG_RELID), so that a column added, dropped or renamed since the
 *   trigger was made can never make a write fail; old keys are taken from
 *   the old row's text image as capture() takes them. Such a table never
 *   gets statement triggers. Its rows copied at install are text images
 *   too. trigger_text_mode(relid) decides, at each poll: a table that
 *   gains or loses such a column gets the other trigger at the next poll
 *   (going back to json mode, the old choice stays correct meanwhile: text
 *   mode always is). With event triggers, a table that gains one gets
 *   capture_text() in the ALTER TABLE's own transaction
 *   (teleport.schema_event_trigger() calls trigger_install_table;
 *   plugins/source/ddl/ddl_event_triggers.c), so json mode never captures
 *   such a column there. In diff mode the comparison that finds the
 *   column remakes the trigger in its own transaction, and the rows where
 *   the new columns (trigger_text_columns) are not NULL, which json mode
 *   may have captured inexactly since the ALTER TABLE, are sent again as
 *   text images (trigger_copy_rows with p_columns; teleport.schema_capture
 *   and schema_resend_rows, plugins/source/ddl/ddl_sql.c).
 *
 *   Statements. The events of `UPDATE t SET id = id + 1` on a deferrable
 *   key (1->2, 2->3) look like one row moved twice by two statements, and
 *   mean something else: every old key of one statement names a row as it
 *   was before the statement. So each UPDATE event records the number of
 *   its statement in its transaction (source.stmt), and the applier keeps
 *   a statement's moves together. capture_stmt(), BEFORE UPDATE FOR EACH
 *   STATEMENT, counts the statements in the transaction-local setting
 *   teleport.stmt_D (D: pg_trigger_depth(), so that a statement that a
 *   user's trigger runs in the middle of another's rows has a counter of
 *   its own); AFTER UPDATE FOR EACH STATEMENT, it marks the number closed
 *   (negated). The row triggers, at the same depth, read it. A closed or
 *   absent number is recorded as not known, and the applier then falls
 *   back to asking the target: a statement on a partition named directly
 *   (the statement triggers are the partitioned table's), and the rows a
 *   foreign key's ON UPDATE CASCADE changes (their triggers run after the
 *   parent statement's end).
 *
 *   Trigger names: teleport_capture (row, all three operations) and
 *   teleport_capture_truncate; or, with statement triggers,
 *   teleport_capture_update (row), teleport_capture_insert,
 *   teleport_capture_delete and teleport_capture_truncate; or, in text
 *   mode, teleport_capture_text (row, capture_text()) and
 *   teleport_capture_truncate; and always teleport_capture_stmt_b and
 *   teleport_capture_stmt_a. A partitioned table's row trigger is
 *   teleport_capture_root_OID (teleport_capture_text_root_OID in text
 *   mode), OID its own: it is cloned onto its partitions under its name,
 *   so a table captured on its own (teleport_capture), or a partitioned
 *   table captured as a root of its own (another OID), can be attached as
 *   a partition without the clone clashing with its own trigger, which
 *   the DDL sources then drop (teleport.schema_capture,
 *   plugins/source/ddl/ddl_sql.c). The name says the function, so the
 *   poll compares names only. trigger_wanted(relid, statement) says which set a
 *   table gets: text mode when trigger_text_mode, else statement triggers
 *   only on an ordinary table outside any inheritance tree. A partitioned
 *   table keeps the row trigger: its statement triggers would not fire for
 *   statements that name a partition, and statement triggers are not cloned
 *   onto partitions created later, so rows written straight into a new
 *   partition would be lost until the next poll. An inheritance parent's
 *   statement trigger would record its children's rows under its own name
 *   (its transition tables hold them), and a child's would miss the
 *   statements that name the parent.
 *
 *   trigger_table        the tables given capture triggers, their key, and
 *                        whether their rows were copied when installed
 *   trigger_sequence     the last_value sent for each sequence of a
 *                        captured table, or standalone in its schema
 *   trigger_state        one row: when the first install completed
 *   trigger_table_keys(relid)    a table's key: primary key, else replica
 *                        identity index, all columns for REPLICA IDENTITY
 *                        FULL; NULL when it has none
 *   trigger_text_mode(relid)     whether the table is captured in text mode
 *   trigger_text_columns(relid)  the attnums of the columns that call for it
 *   trigger_text_image(relid)    the SQL expression of a row's text image,
 *                        over the row (x.r), from pg_attribute (for the
 *                        rows copied at install)
 *   trigger_wanted(relid, statement)  the names of the capture triggers
 *                        the table should have, sorted
 *   trigger_install_table(...)   (re)create one table's triggers, and copy
 *                        its rows as 'c' events when asked to
 *   trigger_copy_rows(relid, schema, table, columns)  copy a table's
 *                        rows (or those where one of columns is not NULL)
 *                        as 'c' events, as its trigger would record them
 *                        (also for the DDL sources: rows rewritten by a
 *                        schema change, or captured in json mode before
 *                        the table turned text mode, are sent again)
 *   trigger_remove_table(relid)  drop one table's triggers, forget it
 *   trigger_poll_sequences()     send changed sequence values
 *   trigger_standalone_sequences()  the standalone sequences of the
 *                        schemas of captured tables (their values are sent)
 *
 * Every statement qualifies what it names: the host's session has
 * search_path = pg_catalog.
 */
#include "tp_autoconf.h"

#include "trigger.h"

/*
 * The settings pinned in the SET clause of every function that renders row
 * images (the capture functions, and the copy of a new table's rows).
 */
#define PINNED_SETTINGS \
	"SET search_path = pg_catalog, pg_temp\n" \
	"SET DateStyle = 'ISO, YMD'\n" \
	"SET IntervalStyle = 'postgres'\n" \
	"SET extra_float_digits = 1\n" \
	"SET TimeZone = 'UTC'\n" \
	"SET bytea_output = 'hex'\n" \
	"SET lc_monetary = 'C'\n"

/*
 * The capture functions' declaration of sch, the schema their rows are
 * recorded under (see the file's header): TG_ARGV[0], unless the table's
 * own schema differs; one comparison per row otherwise.
 */
#define CAPTURE_SCHEMA \
	"	sch text := CASE WHEN TG_TABLE_SCHEMA = TG_ARGV[0] THEN TG_ARGV[0]\n" \
	"		ELSE teleport.capture_schema(TG_RELID) END;\n"

/*
 * Whether the name (an SQL text expression) is one a capture trigger may
 * have: the fixed names below, and a partitioned table's row trigger,
 * named with its OID (teleport_capture_root_16384,
 * teleport_capture_text_root_16384). teleport_capture_root and
 * teleport_capture_text_root are the names an older teleport gave it, so
 * that a poll renames it.
 */
#define IS_CAPTURE_TRIGGER(name) \
	"(" name " = ANY (ARRAY['teleport_capture', 'teleport_capture_update'," \
	" 'teleport_capture_insert', 'teleport_capture_delete'," \
	" 'teleport_capture_text', 'teleport_capture_truncate'," \
	" 'teleport_capture_stmt_a', 'teleport_capture_stmt_b'," \
	" 'teleport_capture_root', 'teleport_capture_text_root']::pg_catalog.text[])" \
	" OR " name " OPERATOR(pg_catalog.~) '^teleport_capture_(text_)?root_[0-9]+$')"

/*
 * The number of the statement whose row trigger runs (see capture_stmt()
 * in the file's header), into stmt: NULL when not known.
 */
#define READ_STMT \
	"	stmt := nullif(current_setting('teleport.stmt_' || pg_trigger_depth(), true),\n" \
	"				   '')::bigint;\n" \
	"	IF stmt <= 0 THEN\n" \
	"		stmt := NULL;\n" \
	"	END IF;\n"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * Create or upgrade the plugin's objects, idempotently; run in one
 * transaction. Serialised with other instances by an advisory lock.
 * Refuses objects recorded by a newer teleport.
 */
const char	trigger_sql_setup[] =
	"SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('teleport.trigger'));\n"
	"DO $do$\n"
	"DECLARE\n"
	"	v integer;\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regclass('teleport.schema_version') IS NULL THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	"	EXECUTE 'SELECT pg_catalog.max(version::text::integer) FROM teleport.schema_version'\n"
	"		' WHERE component = ''trigger''' INTO v;\n"
	"	IF v > " STR(TRIGGER_SCHEMA_VERSION) " THEN\n"
	"		RAISE EXCEPTION 'the trigger source''s objects in schema teleport are version %, newer than this teleport''s "
	STR(TRIGGER_SCHEMA_VERSION) "', v\n"
	"			USING ERRCODE = 'object_not_in_prerequisite_state',\n"
	"			HINT = 'Run the teleport that installed them, or a newer one.';\n"
	"	END IF;\n"
	"END\n"
	"$do$;\n"
	"CREATE TABLE IF NOT EXISTS teleport.trigger_table (\n"
	"	relid oid PRIMARY KEY,\n"
	"	schema_name text NOT NULL,\n"
	"	table_name text NOT NULL,\n"
	"	key_columns text[] NOT NULL,\n"
	"	rows_copied boolean NOT NULL,\n"
	"	installed_at timestamptz NOT NULL DEFAULT pg_catalog.now()\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS teleport.trigger_sequence (\n"
	"	seqrelid oid PRIMARY KEY,\n"
	"	schema_name text NOT NULL,\n"
	"	sequence_name text NOT NULL,\n"
	"	last_value bigint NOT NULL,\n"
	"	polled_at timestamptz NOT NULL DEFAULT pg_catalog.now()\n"
	");\n"
	"CREATE TABLE IF NOT EXISTS teleport.trigger_state (\n"
	"	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),\n"
	"	initial_install_done_at timestamptz\n"
	");\n"
	"INSERT INTO teleport.trigger_state (singleton) VALUES (true)\n"
	"	ON CONFLICT DO NOTHING;\n"

	/*
	 * The columns (attnums, ascending) whose values json mode cannot carry
	 * exactly: of a type that is, through domains, json, jsonb, xml, an
	 * array or a composite (see the file's header). Empty when none.
	 * trigger_text_mode below states the same rule for the whole table,
	 * stopping at the first such column (it runs for every table at every
	 * poll; calling this one from it doubled its cost): keep them alike.
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_text_columns(p_relid oid)\n"
	"RETURNS int2[]\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"WITH RECURSIVE ty(attnum, oid) AS (\n"
	"	SELECT a.attnum, a.atttypid FROM pg_attribute a\n"
	"	WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped\n"
	"	UNION\n"
	"	SELECT ty.attnum, y.typbasetype FROM ty JOIN pg_type y ON y.oid = ty.oid\n"
	"	WHERE y.typtype = 'd'\n"
	")\n"
	"SELECT coalesce(array_agg(DISTINCT ty.attnum ORDER BY ty.attnum), '{}')\n"
	"FROM ty JOIN pg_type y ON y.oid = ty.oid\n"
	"WHERE y.oid IN ('json'::regtype, 'jsonb'::regtype, 'xml'::regtype)\n"
	"	OR y.typcategory = 'A' OR y.typtype = 'c'\n"
	"$body$;\n"

	/* Text mode: a table with such a column (trigger_text_columns). */
	"CREATE OR REPLACE FUNCTION teleport.trigger_text_mode(p_relid oid)\n"
	"RETURNS boolean\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"WITH RECURSIVE ty(oid) AS (\n"
	"	SELECT a.atttypid FROM pg_attribute a\n"
	"	WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped\n"
	"	UNION\n"
	"	SELECT y.typbasetype FROM ty JOIN pg_type y ON y.oid = ty.oid\n"
	"	WHERE y.typtype = 'd'\n"
	")\n"
	"SELECT EXISTS (SELECT 1 FROM ty JOIN pg_type y ON y.oid = ty.oid\n"
	"	WHERE y.oid IN ('json'::regtype, 'jsonb'::regtype, 'xml'::regtype)\n"
	"		OR y.typcategory = 'A' OR y.typtype = 'c')\n"
	"$body$;\n"

	/*
	 * The expression of a row's text image, over the whole row (x.r):
	 * json_object of the column names and their values' text, in attnum
	 * order (json_object, not json_build_object, which takes at most 100
	 * arguments). Used for the rows copied at install.
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_text_image(p_relid oid)\n"
	"RETURNS text\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT 'pg_catalog.json_object(ARRAY['\n"
	"	|| coalesce(string_agg(quote_literal(a.attname::text), ',' ORDER BY a.attnum), '')\n"
	"	|| ']::pg_catalog.text[], ARRAY['\n"
	"	|| coalesce(string_agg('(x.r).' || quote_ident(a.attname::text) || '::pg_catalog.text',\n"
	"				  ',' ORDER BY a.attnum), '')\n"
	"	|| ']::pg_catalog.text[])'\n"
	"FROM pg_attribute a\n"
	"WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped\n"
	"$body$;\n"

	/*
	 * The schema a captured table's rows are recorded under: its root's
	 * (the table itself when it is no partition). No SET clause, which
	 * would cost each row that calls it; the callers pin search_path.
	 */
	"CREATE OR REPLACE FUNCTION teleport.capture_schema(p_relid oid) RETURNS text\n"
	"LANGUAGE sql STABLE\n"
	"AS $body$\n"
	"SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_class c\n"
	"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace\n"
	"WHERE c.oid OPERATOR(pg_catalog.=)\n"
	"	coalesce(pg_catalog.pg_partition_root(p_relid)::pg_catalog.oid, p_relid)\n"
	"$body$;\n"

	/* the row trigger */
	"CREATE OR REPLACE FUNCTION teleport.capture() RETURNS trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	CAPTURE_SCHEMA
	"	old_row json;\n"
	"	old_key json;\n"
	"	stmt bigint;\n"
	"BEGIN\n"
	"	IF TG_OP = 'INSERT' THEN\n"
	"		PERFORM teleport.insert_event('c', sch, TG_ARGV[1], NULL,\n"
	"									  row_to_json(NEW), NULL);\n"
	"		RETURN NULL;\n"
	"	END IF;\n"
	/*
	 * The old key, rendered as row_to_json renders the row ({"a":1,"b":2},
	 * in key order), from the old row's json: `->` on json returns a
	 * value's text as it is. A key column missing from the row (renamed
	 * since the trigger was made, until the next poll remakes it) is null.
	 * Measured against json_each + json_object_agg over the old row: the
	 * trigger costs 15-20% less per UPDATE of a pgbench_accounts-like table.
	 * The SET clauses below cost about 10 us per row (PostgreSQL 15), the
	 * price of captured values that no session setting can change.
	 */
	"	old_row := row_to_json(OLD);\n"
	"	IF TG_NARGS = 3 THEN\n"
	"		old_key := ('{' || to_json(TG_ARGV[2])::text || ':' ||\n"
	"					coalesce(old_row -> TG_ARGV[2], 'null')::text || '}')::json;\n"
	"	ELSIF TG_NARGS > 3 THEN\n"
	"		old_key := ('{' || (SELECT string_agg(to_json(k.name)::text || ':' ||\n"
	"						coalesce(old_row -> k.name, 'null')::text, ',' ORDER BY k.i)\n"
	"					FROM unnest(TG_ARGV[2:]) WITH ORDINALITY AS k(name, i)) || '}')::json;\n"
	"	ELSE\n"
	"		old_key := old_row;\n"
	"	END IF;\n"
	"	IF TG_OP = 'UPDATE' THEN\n"
	READ_STMT
	"		PERFORM teleport.insert_event('u', sch, TG_ARGV[1], old_key,\n"
	"									  row_to_json(NEW), NULL, false, stmt);\n"
	"	ELSE\n"
	"		PERFORM teleport.insert_event('d', sch, TG_ARGV[1], old_key,\n"
	"									  NULL, NULL);\n"
	"	END IF;\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	/*
	 * The row trigger of a table in text mode: capture() over text images
	 * (see the file's header), each built by one EXECUTE whose SQL names
	 * the columns pg_attribute lists now (the row's own columns: ALTER
	 * TABLE cannot run while the row is written). An UPDATE runs the same
	 * SQL twice, for the old and the new row: cheaper than one statement
	 * rendering both (measured: 71 against 89 us per row).
	 */
	"CREATE OR REPLACE FUNCTION teleport.capture_text() RETURNS trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	CAPTURE_SCHEMA
	"	names text[];\n"
	"	image text;\n"
	"	old_row json;\n"
	"	new_row json;\n"
	"	old_key json;\n"
	"	stmt bigint;\n"
	"BEGIN\n"
	"	SELECT ARRAY(SELECT a.attname::text FROM pg_attribute a\n"
	"				 WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped\n"
	"				 ORDER BY a.attnum),\n"
	"		'SELECT json_object($2, ARRAY[' || array_to_string(ARRAY(\n"
	"			SELECT '($1).' || quote_ident(a.attname::text) || '::text' FROM pg_attribute a\n"
	"			WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped\n"
	"			ORDER BY a.attnum), ',') || ']::text[])'\n"
	"	INTO names, image;\n"
	"	IF TG_OP = 'INSERT' THEN\n"
	"		EXECUTE image INTO new_row USING NEW, names;\n"
	"		PERFORM teleport.insert_event('c', sch, TG_ARGV[1], NULL,\n"
	"									  new_row, NULL, true);\n"
	"		RETURN NULL;\n"
	"	END IF;\n"
	"	EXECUTE image INTO old_row USING OLD, names;\n"
	"	IF TG_NARGS = 3 THEN\n"
	"		old_key := ('{' || to_json(TG_ARGV[2])::text || ':' ||\n"
	"					coalesce(old_row -> TG_ARGV[2], 'null')::text || '}')::json;\n"
	"	ELSIF TG_NARGS > 3 THEN\n"
	"		old_key := ('{' || (SELECT string_agg(to_json(k.name)::text || ':' ||\n"
	"						coalesce(old_row -> k.name, 'null')::text, ',' ORDER BY k.i)\n"
	"					FROM unnest(TG_ARGV[2:]) WITH ORDINALITY AS k(name, i)) || '}')::json;\n"
	"	ELSE\n"
	"		old_key := old_row;\n"
	"	END IF;\n"
	"	IF TG_OP = 'UPDATE' THEN\n"
	"		EXECUTE image INTO new_row USING NEW, names;\n"
	READ_STMT
	"		PERFORM teleport.insert_event('u', sch, TG_ARGV[1], old_key,\n"
	"									  new_row, NULL, true, stmt);\n"
	"	ELSE\n"
	"		PERFORM teleport.insert_event('d', sch, TG_ARGV[1], old_key,\n"
	"									  NULL, NULL, true);\n"
	"	END IF;\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	/*
	 * The statement counter of UPDATEs (see the file's header). No SET
	 * clause: a function with one would undo its set_config at its exit.
	 * Not SECURITY DEFINER: it touches nothing but the session's setting.
	 */
	"CREATE OR REPLACE FUNCTION teleport.capture_stmt() RETURNS trigger\n"
	"LANGUAGE plpgsql\n"
	"AS $body$\n"
	"DECLARE\n"
	"	name text := 'teleport.stmt_' OPERATOR(pg_catalog.||) pg_catalog.pg_trigger_depth();\n"
	"	n bigint := pg_catalog.abs(coalesce(nullif(\n"
	"		pg_catalog.current_setting(name, true), '')::pg_catalog.int8, 0));\n"
	"BEGIN\n"
	"	IF TG_WHEN = 'BEFORE' THEN\n"
	"		PERFORM pg_catalog.set_config(name, (n OPERATOR(pg_catalog.+) 1)::pg_catalog.text, true);\n"
	"	ELSE\n"
	"		PERFORM pg_catalog.set_config(name, (OPERATOR(pg_catalog.-) n)::pg_catalog.text, true);\n"
	"	END IF;\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	/* the statement trigger */
	"CREATE OR REPLACE FUNCTION teleport.capture_truncate() RETURNS trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	CAPTURE_SCHEMA
	"BEGIN\n"
	"	PERFORM teleport.insert_event('t', sch, TG_ARGV[1], NULL, NULL, NULL);\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	/*
	 * The statement triggers: one insert_event per row of the transition
	 * table, in the order the statement processed the rows (a scan of a
	 * transition table returns them in that order), with the same text as
	 * capture() records. With a single-column key, the old key is built as
	 * capture() builds it; otherwise each row's key is built from the key
	 * names, quoted once per statement. Whole rows are written alias.* so
	 * that a column named like the alias cannot take its place.
	 */
	"CREATE OR REPLACE FUNCTION teleport.capture_insert() RETURNS trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	CAPTURE_SCHEMA
	"BEGIN\n"
	"	PERFORM teleport.insert_event('c', sch, TG_ARGV[1], NULL,\n"
	"								  row_to_json(n.*), NULL)\n"
	"	FROM new_rows n;\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	"CREATE OR REPLACE FUNCTION teleport.capture_delete() RETURNS trigger\n"
	"LANGUAGE plpgsql SECURITY DEFINER\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	CAPTURE_SCHEMA
	"	names text[];\n"
	"BEGIN\n"
	"	IF TG_NARGS = 3 THEN\n"
	"		PERFORM teleport.insert_event('d', sch, TG_ARGV[1],\n"
	"			('{' || to_json(TG_ARGV[2])::text || ':' ||\n"
	"			 coalesce(row_to_json(o.*) -> TG_ARGV[2], 'null')::text || '}')::json,\n"
	"			NULL, NULL)\n"
	"		FROM old_rows o;\n"
	"	ELSIF TG_NARGS > 3 THEN\n"
	"		names := TG_ARGV[2:];\n"
	"		PERFORM teleport.insert_event('d', sch, TG_ARGV[1],\n"
	"			('{' || (SELECT string_agg(to_json(k.name)::text || ':' ||\n"
	"						coalesce(r.j -> k.name, 'null')::text, ',' ORDER BY k.i)\n"
	"					FROM unnest(names) WITH ORDINALITY AS k(name, i)) || '}')::json,\n"
	"			NULL, NULL)\n"
	"		FROM (SELECT row_to_json(o.*) AS j FROM old_rows o) r;\n"
	"	ELSE\n"
	"		PERFORM teleport.insert_event('d', sch, TG_ARGV[1],\n"
	"			row_to_json(o.*), NULL, NULL)\n"
	"		FROM old_rows o;\n"
	"	END IF;\n"
	"	RETURN NULL;\n"
	"END\n"
	"$body$;\n"

	/* a table's key columns */
	"CREATE OR REPLACE FUNCTION teleport.trigger_table_keys(p_relid oid)\n"
	"RETURNS text[]\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT CASE WHEN c.relreplident = 'f' THEN\n"
	"		(SELECT array_agg(a.attname::text ORDER BY a.attnum)\n"
	"		 FROM pg_attribute a\n"
	"		 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)\n"
	"	ELSE coalesce(\n"
	"		(SELECT array_agg(a.attname::text ORDER BY k.ord)\n"
	"		 FROM pg_index i\n"
	"		 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)\n"
	"		 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum\n"
	"		 WHERE i.indrelid = c.oid AND i.indisprimary),\n"
	"		(SELECT array_agg(a.attname::text ORDER BY k.ord)\n"
	"		 FROM pg_index i\n"
	"		 CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)\n"
	"		 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum\n"
	"		 WHERE i.indrelid = c.oid AND i.indisreplident))\n"
	"	END\n"
	"FROM pg_class c WHERE c.oid = p_relid\n"
	"$body$;\n"

	/* which capture triggers a table should have; see the file's header */
	"CREATE OR REPLACE FUNCTION teleport.trigger_wanted(p_relid oid,\n"
	"	p_statement boolean)\n"
	"RETURNS text[]\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT CASE WHEN teleport.trigger_text_mode(c.oid) AND c.relkind = 'p'\n"
	"	THEN ARRAY['teleport_capture_stmt_a', 'teleport_capture_stmt_b',\n"
	"			   'teleport_capture_text_root_' || c.oid, 'teleport_capture_truncate']\n"
	"	WHEN teleport.trigger_text_mode(c.oid)\n"
	"	THEN ARRAY['teleport_capture_stmt_a', 'teleport_capture_stmt_b',\n"
	"			   'teleport_capture_text', 'teleport_capture_truncate']\n"
	"	WHEN c.relkind = 'p'\n"
	"	THEN ARRAY['teleport_capture_root_' || c.oid, 'teleport_capture_stmt_a',\n"
	"			   'teleport_capture_stmt_b', 'teleport_capture_truncate']\n"
	"	WHEN p_statement AND c.relkind = 'r' AND NOT c.relispartition\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)\n"
	"		AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid)\n"
	"	THEN ARRAY['teleport_capture_delete', 'teleport_capture_insert',\n"
	"			   'teleport_capture_stmt_a', 'teleport_capture_stmt_b',\n"
	"			   'teleport_capture_truncate', 'teleport_capture_update']\n"
	"	ELSE ARRAY['teleport_capture', 'teleport_capture_stmt_a',\n"
	"			   'teleport_capture_stmt_b', 'teleport_capture_truncate']\n"
	"	END\n"
	"FROM pg_class c WHERE c.oid = p_relid\n"
	"$body$;\n"

	/*
	 * The install function of schema version 1 had no p_statement; drop it
	 * rather than keep an overload that makes the old triggers. Likewise
	 * the copy of rows before it had p_columns.
	 */
	"DO $do$\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regprocedure('teleport.trigger_install_table(oid, text, text, text[], boolean)')\n"
	"		IS NOT NULL THEN\n"
	"		DROP FUNCTION teleport.trigger_install_table(oid, text, text, text[], boolean);\n"
	"	END IF;\n"
	"	IF pg_catalog.to_regprocedure('teleport.trigger_copy_rows(oid, text, text)') IS NOT NULL THEN\n"
	"		DROP FUNCTION teleport.trigger_copy_rows(oid, text, text);\n"
	"	END IF;\n"
	"END\n"
	"$do$;\n"

	/*
	 * Copy a table's rows into the queue as 'c' events filed under p_schema
	 * and p_table, as its capture trigger would record them: text images
	 * when the table is in text mode (trigger_text_mode: decided from the
	 * catalog now, so exact whatever trigger the table has), else
	 * row_to_json; in the pinned settings. A partitioned table's rows are
	 * its partitions'; an inheritance parent's are its own only (ONLY: its
	 * children are captured as tables of their own). The caller makes the
	 * copy consistent with the stream (a lock that keeps writers out, or
	 * holding the table already). p_columns (attnums), when not NULL,
	 * restricts the copy to the rows where one of those columns is not
	 * NULL (the value itself: a composite of NULLs counts as not NULL).
	 * Returns the rows copied. Used by trigger_install_table and by the
	 * DDL sources, which send a table's rows again after a change that
	 * rewrote them without row events, or, with p_columns, the rows that
	 * json mode may have captured inexactly before a column that needs
	 * text mode was added (teleport.schema_resend_rows,
	 * plugins/source/ddl/ddl_sql.c).
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_copy_rows(p_relid oid, p_schema text,\n"
	"	p_table text, p_columns int2[])\n"
	"RETURNS bigint\n"
	"LANGUAGE plpgsql\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	"	copied bigint := 0;\n"
	"	source text;\n"
	"	filter text := '';\n"
	"BEGIN\n"
	"	SELECT CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END || p_relid::regclass::text\n"
	"	INTO source FROM pg_class c WHERE c.oid = p_relid;\n"
	"	IF source IS NULL THEN\n"
	"		RETURN 0;\n"
	"	END IF;\n"
	"	IF p_columns IS NOT NULL THEN\n"
	"		SELECT ' WHERE pg_catalog.num_nonnulls(' || coalesce(string_agg('t.'\n"
	"				|| quote_ident(a.attname::text), ', ' ORDER BY a.attnum), 'NULL') || ') > 0'\n"
	"		INTO filter FROM pg_attribute a\n"
	"		WHERE a.attrelid = p_relid AND a.attnum = ANY (p_columns) AND NOT a.attisdropped;\n"
	"	END IF;\n"
	"	IF teleport.trigger_text_mode(p_relid) THEN\n"
	"		EXECUTE format('SELECT teleport.insert_event(''c'', $1, $2, NULL, %s,"
	" NULL, true) FROM (SELECT ROW(t.*)::%s AS r FROM %s AS t%s) x',"
	" teleport.trigger_text_image(p_relid), p_relid::regclass, source, filter)\n"
	"			USING p_schema, p_table;\n"
	"	ELSE\n"
	"		EXECUTE format('SELECT teleport.insert_event(''c'', $1, $2, NULL,"
	" row_to_json(t.*), NULL) FROM %s AS t%s', source, filter)\n"
	"			USING p_schema, p_table;\n"
	"	END IF;\n"
	"	GET DIAGNOSTICS copied = ROW_COUNT;\n"
	"	RETURN copied;\n"
	"END\n"
	"$body$;\n"

	/*
	 * (Re)create one table's triggers. The caller holds lock_timeout. Once
	 * CREATE TRIGGER holds the table's lock, the names and key the triggers
	 * record are checked again; a change in between is a serialization
	 * failure, tried again at the next poll. Makes the text-mode row
	 * trigger for a table in text mode, else the statement triggers when
	 * p_statement and the table can have them, else the row trigger (as
	 * trigger_wanted says); drops any other capture trigger of the table.
	 * Copies the rows (in the pinned settings; text images in text mode)
	 * when p_copy. Returns the rows copied, or -1 when the table is gone.
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_install_table(p_relid oid,\n"
	"	p_schema text, p_table text, p_keys text[], p_copy boolean,\n"
	"	p_statement boolean)\n"
	"RETURNS bigint\n"
	"LANGUAGE plpgsql\n"
	PINNED_SETTINGS
	"AS $body$\n"
	"DECLARE\n"
	"	args text;\n"
	"	copied bigint := 0;\n"
	"	cur_schema text;\n"
	"	cur_table text;\n"
	"	rel text;\n"
	"	row_name text;\n"
	"	t name;\n"
	"	text_name text;\n"
	"	wanted text[];\n"
	"BEGIN\n"
	/*
	 * A lock on the table first (ACCESS SHARE: SELECT is the privilege it
	 * needs; it keeps the table from being dropped or renamed): a table
	 * dropped after the caller listed it renders as its bare OID, and one
	 * dropped or renamed between its name and the lock is found by the
	 * checks after it (the name then names p_relid, which stays as it is).
	 */
	"	rel := p_relid::regclass::text;\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_relid) OR rel ~ '^[0-9]+$' THEN\n"
	"		RETURN -1;\n"
	"	END IF;\n"
	"	EXECUTE format('LOCK TABLE ONLY %s IN ACCESS SHARE MODE', rel);\n"
	"	IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = p_relid) THEN\n"
	"		RETURN -1;\n"
	"	END IF;\n"
	"	IF p_relid::regclass::text IS DISTINCT FROM rel THEN\n"
	"		RAISE EXCEPTION 'table %.% was renamed while its capture trigger was installed',\n"
	"			quote_ident(p_schema), quote_ident(p_table)\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	"	SELECT string_agg(quote_literal(a.v), ', ' ORDER BY a.i) INTO args\n"
	"	FROM unnest(ARRAY[p_schema, p_table] || p_keys) WITH ORDINALITY AS a(v, i);\n"
	"	FOR t IN SELECT tgname FROM pg_trigger\n"
	"			 WHERE tgrelid = p_relid AND " IS_CAPTURE_TRIGGER("tgname::text") "\n"
	"	LOOP\n"
	"		EXECUTE format('DROP TRIGGER %I ON %s', t, p_relid::regclass);\n"
	"	END LOOP;\n"
	"	wanted := teleport.trigger_wanted(p_relid, p_statement);\n"
	"	text_name := (SELECT w FROM unnest(wanted) w\n"
	"				  WHERE w = 'teleport_capture_text' OR w ~ '^teleport_capture_text_root_');\n"
	"	row_name := (SELECT w FROM unnest(wanted) w\n"
	"				 WHERE w = 'teleport_capture' OR w ~ '^teleport_capture_root_');\n"
	"	IF text_name IS NOT NULL THEN\n"
	"		EXECUTE format('CREATE TRIGGER %I"
	" AFTER INSERT OR UPDATE OR DELETE ON %s"
	" FOR EACH ROW EXECUTE FUNCTION teleport.capture_text(%s)',"
	" text_name, p_relid::regclass, args);\n"
	"	ELSIF row_name IS NOT NULL THEN\n"
	"		EXECUTE format('CREATE TRIGGER %I"
	" AFTER INSERT OR UPDATE OR DELETE ON %s"
	" FOR EACH ROW EXECUTE FUNCTION teleport.capture(%s)',"
	" row_name, p_relid::regclass, args);\n"
	"	ELSE\n"
	"		EXECUTE format('CREATE TRIGGER teleport_capture_update"
	" AFTER UPDATE ON %s"
	" FOR EACH ROW EXECUTE FUNCTION teleport.capture(%s)', p_relid::regclass, args);\n"
	"		EXECUTE format('CREATE TRIGGER teleport_capture_insert"
	" AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows"
	" FOR EACH STATEMENT EXECUTE FUNCTION teleport.capture_insert(%s)',"
	" p_relid::regclass, args);\n"
	"		EXECUTE format('CREATE TRIGGER teleport_capture_delete"
	" AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows"
	" FOR EACH STATEMENT EXECUTE FUNCTION teleport.capture_delete(%s)',"
	" p_relid::regclass, args);\n"
	"	END IF;\n"
	"	EXECUTE format('CREATE TRIGGER teleport_capture_truncate"
	" AFTER TRUNCATE ON %s"
	" FOR EACH STATEMENT EXECUTE FUNCTION teleport.capture_truncate(%s)',"
	" p_relid::regclass, args);\n"
	"	EXECUTE format('CREATE TRIGGER teleport_capture_stmt_b"
	" BEFORE UPDATE ON %s"
	" FOR EACH STATEMENT EXECUTE FUNCTION teleport.capture_stmt()', p_relid::regclass);\n"
	"	EXECUTE format('CREATE TRIGGER teleport_capture_stmt_a"
	" AFTER UPDATE ON %s"
	" FOR EACH STATEMENT EXECUTE FUNCTION teleport.capture_stmt()', p_relid::regclass);\n"
	"	SELECT n.nspname, c.relname INTO cur_schema, cur_table\n"
	"	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"	WHERE c.oid = p_relid;\n"
	"	IF cur_schema IS DISTINCT FROM p_schema OR cur_table IS DISTINCT FROM p_table\n"
	"		OR teleport.trigger_table_keys(p_relid) IS DISTINCT FROM p_keys THEN\n"
	"		RAISE EXCEPTION 'table %.% changed while its capture trigger was installed',\n"
	"			quote_ident(p_schema), quote_ident(p_table)\n"
	"			USING ERRCODE = 'serialization_failure';\n"
	"	END IF;\n"
	"	IF p_copy THEN\n"
	"		copied := teleport.trigger_copy_rows(p_relid, p_schema, p_table, NULL);\n"
	"	END IF;\n"
	"	INSERT INTO teleport.trigger_table AS t\n"
	"		(relid, schema_name, table_name, key_columns, rows_copied, installed_at)\n"
	"	VALUES (p_relid, p_schema, p_table, p_keys, p_copy, now())\n"
	"	ON CONFLICT (relid) DO UPDATE\n"
	"		SET schema_name = EXCLUDED.schema_name, table_name = EXCLUDED.table_name,\n"
	"			key_columns = EXCLUDED.key_columns,\n"
	"			rows_copied = t.rows_copied OR EXCLUDED.rows_copied,\n"
	"			installed_at = EXCLUDED.installed_at;\n"
	"	RETURN copied;\n"
	"END\n"
	"$body$;\n"

	/*
	 * Drop one table's triggers (not those a partition inherits from its
	 * root: those go with the root's) and forget it.
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_remove_table(p_relid oid)\n"
	"RETURNS void\n"
	"LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	t name;\n"
	"BEGIN\n"
	"	FOR t IN SELECT tgname FROM pg_trigger\n"
	"			 WHERE tgrelid = p_relid AND " IS_CAPTURE_TRIGGER("tgname::text") "\n"
	"	LOOP\n"
	"		BEGIN\n"
	"			EXECUTE format('DROP TRIGGER %I ON %s', t, p_relid::regclass);\n"
	"		EXCEPTION WHEN dependent_objects_still_exist THEN\n"
	"			NULL;\n"
	"		END;\n"
	"	END LOOP;\n"
	"	DELETE FROM teleport.trigger_table WHERE relid = p_relid;\n"
	"END\n"
	"$body$;\n"

	/*
	 * The standalone sequences (owned by no column, not an extension's) of
	 * the schemas of captured tables: their values are sent too, filed
	 * under their schema (the schema-diff source replicates them as
	 * objects).
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_standalone_sequences()\n"
	"RETURNS TABLE (seqrelid oid, seq_schema text, seq_name text)\n"
	"LANGUAGE sql STABLE\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"SELECT c.oid, n.nspname::text, c.relname::text\n"
	"FROM pg_class c\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind = 'S' AND c.relpersistence <> 't'\n"
	"	AND EXISTS (SELECT 1 FROM teleport.trigger_table t WHERE t.schema_name = n.nspname)\n"
	"	AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass\n"
	"					AND x.objid = c.oid AND x.deptype IN ('a', 'i', 'e'))\n"
	"$body$;\n"

	/*
	 * Sequences owned by (or the identity of) a column of a captured table,
	 * and standalone sequences of their schemas:
	 * one 'ddl' event each whose last_value changed since it was last sent.
	 * A sequence never used, or unreadable by the role, has no last_value
	 * and is skipped. Returns the events sent.
	 */
	"CREATE OR REPLACE FUNCTION teleport.trigger_poll_sequences()\n"
	"RETURNS integer\n"
	"LANGUAGE plpgsql\n"
	"SET search_path = pg_catalog, pg_temp\n"
	"AS $body$\n"
	"DECLARE\n"
	"	s record;\n"
	"	n integer := 0;\n"
	"BEGIN\n"
	"	DELETE FROM teleport.trigger_sequence ts\n"
	"	WHERE NOT EXISTS (\n"
	"		SELECT 1 FROM teleport.trigger_table t\n"
	"		JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass\n"
	"			AND d.refobjid = t.relid AND d.refobjsubid > 0\n"
	"			AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')\n"
	"		WHERE d.objid = ts.seqrelid)\n"
	"		AND NOT EXISTS (\n"
	"			SELECT 1 FROM teleport.trigger_standalone_sequences() x\n"
	"			WHERE x.seqrelid = ts.seqrelid);\n"
	"	FOR s IN\n"
	"		SELECT q.seqrelid, q.seq_schema, q.seq_name, q.table_schema, q.last_value\n"
	"		FROM (\n"
	"			(SELECT DISTINCT ON (c.oid) c.oid AS seqrelid,\n"
	"				n.nspname::text AS seq_schema, c.relname::text AS seq_name,\n"
	"				t.schema_name AS table_schema,\n"
	"				CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')\n"
	"					THEN pg_sequence_last_value(c.oid) END AS last_value\n"
	"			FROM teleport.trigger_table t\n"
	"			JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass\n"
	"				AND d.refobjid = t.relid AND d.refobjsubid > 0\n"
	"				AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')\n"
	"			JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'\n"
	"			JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"			ORDER BY c.oid, t.schema_name)\n"
	"			UNION ALL\n"
	"			SELECT x.seqrelid, x.seq_schema, x.seq_name, x.seq_schema,\n"
	"				CASE WHEN has_sequence_privilege(x.seqrelid, 'SELECT,USAGE')\n"
	"					THEN pg_sequence_last_value(x.seqrelid) END\n"
	"			FROM teleport.trigger_standalone_sequences() x\n"
	"		) q\n"
	"		LEFT JOIN teleport.trigger_sequence ts ON ts.seqrelid = q.seqrelid\n"
	"		WHERE q.last_value IS NOT NULL\n"
	"			AND (ts.seqrelid IS NULL OR ts.last_value <> q.last_value\n"
	"				 OR ts.schema_name <> q.seq_schema\n"
	"				 OR ts.sequence_name <> q.seq_name)\n"
	"		ORDER BY q.seq_schema, q.seq_name\n"
	"	LOOP\n"
	"		PERFORM teleport.insert_event('ddl', s.table_schema, NULL, NULL, NULL,\n"
	"			json_build_object('type', 'sequence_value', 'schema', s.seq_schema,\n"
	"							  'sequence', s.seq_name, 'value', s.last_value));\n"
	"		INSERT INTO teleport.trigger_sequence AS ts\n"
	"			(seqrelid, schema_name, sequence_name, last_value, polled_at)\n"
	"		VALUES (s.seqrelid, s.seq_schema, s.seq_name, s.last_value, now())\n"
	"		ON CONFLICT (seqrelid) DO UPDATE\n"
	"			SET schema_name = EXCLUDED.schema_name,\n"
	"				sequence_name = EXCLUDED.sequence_name,\n"
	"				last_value = EXCLUDED.last_value, polled_at = EXCLUDED.polled_at;\n"
	"		n := n + 1;\n"
	"	END LOOP;\n"
	"	RETURN n;\n"
	"END\n"
	"$body$;\n"

	/* the helpers are teleport's own */
	"REVOKE ALL ON FUNCTION teleport.trigger_table_keys(oid) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_text_mode(oid) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_text_image(oid) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_wanted(oid, boolean) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_text_columns(oid) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_copy_rows(oid, text, text, int2[]) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_install_table(oid, text, text, text[], boolean, boolean) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_remove_table(oid) FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_standalone_sequences() FROM PUBLIC;\n"
	"REVOKE ALL ON FUNCTION teleport.trigger_poll_sequences() FROM PUBLIC;\n";

/*
 * Record the plugin's schema version in the queue's teleport.schema_version,
 * when the queue has one.
 */
const char	trigger_sql_record_version[] =
	"DO $do$\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regclass('teleport.schema_version') IS NULL THEN\n"
	"		RETURN;\n"
	"	END IF;\n"
	"	UPDATE teleport.schema_version SET version = " STR(TRIGGER_SCHEMA_VERSION)
	"	WHERE component = 'trigger';\n"
	"	IF NOT FOUND THEN\n"
	"		INSERT INTO teleport.schema_version (component, version)\n"
	"		VALUES ('trigger', " STR(TRIGGER_SCHEMA_VERSION) ");\n"
	"	END IF;\n"
	"END\n"
	"$do$";

/* One row, one column: whether the first install completed. */
const char	trigger_sql_initial_done[] =
	"SELECT initial_install_done_at IS NOT NULL FROM teleport.trigger_state";

/* Record that the first install completed. */
const char	trigger_sql_mark_initial_done[] =
	"UPDATE teleport.trigger_state SET initial_install_done_at = pg_catalog.now()"
	" WHERE initial_install_done_at IS NULL";

/*
 * Every table that could be captured (ordinary or partitioned, not a
 * partition, not temporary, outside the system schemas and teleport's), with
 * its key (NULL when none), whether it is in trigger_table, and whether its
 * triggers are in place, are the set trigger_wanted asks for given $1 (the
 * option statement_triggers), and record its current names and key, and
 * whether the schema is known to have it (KNOWN, an SQL expression of c);
 * then every table in trigger_table that is no longer such a table (gone, or
 * now a partition). Columns: relid, schema, table, keys (text[] literal),
 * installed, current, candidate, known.
 */
#define DISCOVER_SQL(KNOWN) \
	"SELECT c.oid, n.nspname, c.relname, k.keys,\n" \
	"	t.relid IS NOT NULL AS installed,\n" \
	"	(t.relid IS NOT NULL AND t.schema_name = n.nspname\n" \
	"	 AND t.table_name = c.relname AND t.key_columns = k.keys\n" \
	"	 AND (SELECT pg_catalog.array_agg(g.tgname::pg_catalog.text ORDER BY g.tgname)\n" \
	"		  FROM pg_catalog.pg_trigger g\n" \
	"		  WHERE g.tgrelid = c.oid AND " IS_CAPTURE_TRIGGER("g.tgname::pg_catalog.text") ")\n" \
	"		 = teleport.trigger_wanted(c.oid, $1::pg_catalog.bool))\n" \
	"		AS current,\n" \
	"	true AS candidate,\n" \
	"	" KNOWN " AS known\n" \
	"FROM pg_catalog.pg_class c\n" \
	"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n" \
	"CROSS JOIN LATERAL (SELECT teleport.trigger_table_keys(c.oid) AS keys) k\n" \
	"LEFT JOIN teleport.trigger_table t ON t.relid = c.oid\n" \
	"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition\n" \
	"	AND c.relpersistence <> 't'\n" \
	"	AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'teleport', 'pg_toast')\n" \
	"	AND n.nspname OPERATOR(pg_catalog.!~) '^pg_(toast_)?temp_'\n" \
	"UNION ALL\n" \
	"SELECT t.relid, t.schema_name, t.table_name, NULL, true, false, false, true\n" \
	"FROM teleport.trigger_table t\n" \
	"WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c\n" \
	"				  WHERE c.oid = t.relid AND c.relkind IN ('r', 'p')\n" \
	"				  AND NOT c.relispartition)\n" \
	"ORDER BY 2, 3"

/* Every table known, when no DDL source keeps a schema snapshot. */
const char	trigger_sql_discover[] = DISCOVER_SQL("true");

/*
 * A table is known when the DDL sources' snapshot (schema_snapshot,
 * plugins/source/ddl/ddl_sql.c) has it, that is once its creation is
 * queued, or when it is an extension's, which that snapshot leaves out
 * (the extension's creation makes it).
 */
const char	trigger_sql_discover_known[] = DISCOVER_SQL(
	"(EXISTS (SELECT 1 FROM teleport.schema_snapshot s\n"
	"		 WHERE s.kind = 'table' AND s.oid = c.oid)\n"
	"	 OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend e\n"
	"		 WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"		 AND e.objid = c.oid AND e.deptype = 'e'))");

/* One value: whether the DDL sources' schema snapshot is there. */
const char	trigger_sql_has_snapshot[] =
	"SELECT pg_catalog.to_regclass('teleport.schema_snapshot') IS NOT NULL";

/*
 * $1 relid, $2 schema, $3 table, $4 keys (text[]), $5 copy the rows, $6
 * statement triggers where the table can have them.
 */
const char	trigger_sql_install_table[] =
	"SELECT teleport.trigger_install_table($1::pg_catalog.oid, $2, $3,"
	" $4::pg_catalog.text[], $5::pg_catalog.bool, $6::pg_catalog.bool)";

/* $1 relid. */
const char	trigger_sql_remove_table[] =
	"SELECT teleport.trigger_remove_table($1::pg_catalog.oid)";

/* One value: the events sent. */
const char	trigger_sql_poll_sequences[] =
	"SELECT teleport.trigger_poll_sequences()";

/*
 * The tables to remove the triggers from at uninstall. Columns: relid,
 * schema, table.
 */
const char	trigger_sql_uninstall_tables[] =
	"SELECT relid, schema_name, table_name FROM teleport.trigger_table"
	" ORDER BY 2, 3";

/* One value: whether the plugin's objects are there (trigger_table is). */
const char	trigger_sql_installed[] =
	"SELECT pg_catalog.to_regclass('teleport.trigger_table') IS NOT NULL";

/*
 * Drop the functions (CASCADE: with any capture trigger trigger_table did
 * not know of) and tables, and the version record.
 */
const char	trigger_sql_uninstall[] =
	"SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('teleport.trigger'));\n"
	"DROP FUNCTION IF EXISTS teleport.capture() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_truncate() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_stmt() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_insert() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_delete() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_text() CASCADE;\n"
	"DROP FUNCTION IF EXISTS teleport.capture_schema(oid);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_install_table(oid, text, text, text[], boolean, boolean);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_copy_rows(oid, text, text, int2[]);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_copy_rows(oid, text, text);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_wanted(oid, boolean);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_remove_table(oid);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_poll_sequences();\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_standalone_sequences();\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_table_keys(oid);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_text_mode(oid);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_text_columns(oid);\n"
	"DROP FUNCTION IF EXISTS teleport.trigger_text_image(oid);\n"
	"DROP TABLE IF EXISTS teleport.trigger_table;\n"
	"DROP TABLE IF EXISTS teleport.trigger_sequence;\n"
	"DROP TABLE IF EXISTS teleport.trigger_state;\n"
	"DO $do$\n"
	"BEGIN\n"
	"	IF pg_catalog.to_regclass('teleport.schema_version') IS NOT NULL THEN\n"
	"		DELETE FROM teleport.schema_version WHERE component = 'trigger';\n"
	"	END IF;\n"
	"END\n"
	"$do$";
