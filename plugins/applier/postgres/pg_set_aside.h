/*
 * pg_set_aside.h
 *     Foreign keys of the target set aside while a table they reference is
 *     emptied for the source's rows that follow a type change (a key
 *     column whose cast fails on the target's values: guard_retype in
 *     pg_ddl.c), and put back once those rows are in (pg_set_aside.c).
 *
 * A key set aside is dropped, and recorded in SET_ASIDE_TABLE on the
 * target by OIDs and attnums (a rename of either table or of a column
 * meanwhile is no obstacle), with its options (MATCH, ON UPDATE, ON
 * DELETE, DEFERRABLE) and whether it was validated. A schema change of
 * such a key (pg_ddl.c's constraint statements) first puts it back NOT
 * VALID, applies the change, and sets it aside again.
 */
#ifndef PG_SET_ASIDE_H
#define PG_SET_ASIDE_H

/* The table of the keys set aside (in schema teleport, with the inbox). */
#define SET_ASIDE_TABLE "teleport.set_aside_foreign_key"

/*
 * The options of foreign key k (a pg_constraint row) as its definition
 * writes them after the referenced columns, inside SET_ASIDE_DO's SQL
 * string constant (quotes doubled). PostgreSQL 15's column list of ON
 * DELETE SET NULL / SET DEFAULT is taken from pg_get_constraintdef, since
 * the catalog column (confdelsetcols) does not exist before.
 */
#define SET_ASIDE_OPTIONS \
	"CASE k.confmatchtype WHEN ''f'' THEN '' MATCH FULL'' WHEN ''p'' THEN '' MATCH PARTIAL''" \
	" ELSE '''' END" \
	" || CASE k.confupdtype WHEN ''r'' THEN '' ON UPDATE RESTRICT''" \
	"  WHEN ''c'' THEN '' ON UPDATE CASCADE'' WHEN ''n'' THEN '' ON UPDATE SET NULL''" \
	"  WHEN ''d'' THEN '' ON UPDATE SET DEFAULT'' ELSE '''' END" \
	" || CASE k.confdeltype WHEN ''r'' THEN '' ON DELETE RESTRICT''" \
	"  WHEN ''c'' THEN '' ON DELETE CASCADE'' WHEN ''n'' THEN '' ON DELETE SET NULL''" \
	"  WHEN ''d'' THEN '' ON DELETE SET DEFAULT'' ELSE '''' END" \
	" || coalesce((pg_catalog.regexp_match(pg_catalog.pg_get_constraintdef(k.oid)," \
	"  '' ON DELETE SET (?:NULL|DEFAULT)( \\([^)]*\\))''))[1], '''')" \
	" || CASE WHEN k.condeferrable THEN '' DEFERRABLE''" \
	"  || CASE WHEN k.condeferred THEN '' INITIALLY DEFERRED'' ELSE '''' END ELSE '''' END"

/*
 * An SQL format() template (a string constant) of the DO block that sets
 * foreign keys aside, creating SET_ASIDE_TABLE when missing: %1$L a table
 * (a name) whose referencing keys (other tables') go, or NULL; %2$L and
 * %3$L a table and the name of its own key that goes, or NULL; %4$L what
 * to record as whether a key was validated, or NULL for what it is;
 * %5$L since when it is set aside (a timestamptz: a key put back for a
 * change of its own and set aside again keeps its time), or NULL for
 * now. A key of a partitioned table goes as its parent (conparentid 0),
 * its partitions' with it. warned_at: when the restore last warned that
 * a row still keeps the key aside (pg_set_aside.c).
 */
#define SET_ASIDE_DO \
	"'DO $sa$ DECLARE r record; BEGIN" \
	" CREATE SCHEMA IF NOT EXISTS teleport;" \
	" CREATE TABLE IF NOT EXISTS " SET_ASIDE_TABLE " (rel pg_catalog.oid NOT NULL," \
	"  name pg_catalog.name NOT NULL, refrel pg_catalog.oid NOT NULL," \
	"  cols pg_catalog.int2[] NOT NULL, refcols pg_catalog.int2[] NOT NULL," \
	"  options pg_catalog.text NOT NULL, validated pg_catalog.bool NOT NULL," \
	"  set_at pg_catalog.timestamptz NOT NULL, warned_at pg_catalog.timestamptz," \
	"  PRIMARY KEY (rel, name));" \
	" FOR r IN SELECT k.conrelid, k.conname, k.confrelid, k.conkey, k.confkey," \
	"  " SET_ASIDE_OPTIONS " AS options," \
	"  coalesce(%4$L::pg_catalog.bool, k.convalidated) AS validated" \
	"  FROM pg_catalog.pg_constraint k WHERE k.contype = ''f'' AND k.conparentid = 0" \
	"  AND ((k.confrelid = %1$L::pg_catalog.regclass AND k.conrelid <> k.confrelid)" \
	"   OR (k.conrelid = %2$L::pg_catalog.regclass AND k.conname = %3$L))" \
	"  ORDER BY k.conrelid, k.conname" \
	" LOOP" \
	"  INSERT INTO " SET_ASIDE_TABLE \
	"   (rel, name, refrel, cols, refcols, options, validated, set_at)" \
	"   VALUES (r.conrelid, r.conname, r.confrelid, r.conkey, r.confkey, r.options, r.validated," \
	"    coalesce(%5$L::pg_catalog.timestamptz, pg_catalog.now()));" \
	"  EXECUTE pg_catalog.format(''ALTER TABLE %%s DROP CONSTRAINT %%I''," \
	"   r.conrelid::pg_catalog.regclass, r.conname);" \
	"  RAISE WARNING ''foreign key %% of %% set aside until the rows of %% are back''," \
	"   r.conname, r.conrelid::pg_catalog.regclass, r.confrelid::pg_catalog.regclass;" \
	" END LOOP; END $sa$'"

/*
 * An SQL text expression: the columns numbered nums (an int2[]
 * expression) of table rel (an oid expression), quoted, in order, comma
 * separated; fewer than nums when some are gone.
 */
#define SET_ASIDE_COLS(rel, nums) \
	"(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(at.attname), ', ' ORDER BY u.o)" \
	" FROM pg_catalog.unnest(" nums ") WITH ORDINALITY AS u(n, o)" \
	" JOIN pg_catalog.pg_attribute at ON at.attrelid = " rel \
	"  AND at.attnum = u.n AND NOT at.attisdropped)"

/* How many of the columns nums of table rel are there still. */
#define SET_ASIDE_COUNT(rel, nums) \
	"(SELECT pg_catalog.count(*) FROM pg_catalog.unnest(" nums ") AS u(n)" \
	" JOIN pg_catalog.pg_attribute at ON at.attrelid = " rel \
	"  AND at.attnum = u.n AND NOT at.attisdropped)"

/*
 * An SQL boolean expression: whether both tables and every column of the
 * key set aside f (a row of SET_ASIDE_TABLE) are still there; when not,
 * the key went with them (dropping a table or column drops its keys).
 */
#define SET_ASIDE_ALIVE(f) \
	"(EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = " f ".rel)" \
	" AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = " f ".refrel)" \
	" AND " SET_ASIDE_COUNT(f ".rel", f ".cols") " = pg_catalog.cardinality(" f ".cols)" \
	" AND " SET_ASIDE_COUNT(f ".refrel", f ".refcols") " = pg_catalog.cardinality(" f ".refcols))"

/*
 * An SQL text expression: the statement that puts the key set aside f
 * back, NOT VALID unless valid (an SQL boolean expression) holds.
 */
#define SET_ASIDE_ADD(f, valid) \
	"pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %s (%s)%s%s'," \
	" " f ".rel::pg_catalog.regclass, " f ".name, " SET_ASIDE_COLS(f ".rel", f ".cols") "," \
	" " f ".refrel::pg_catalog.regclass, " SET_ASIDE_COLS(f ".refrel", f ".refcols") "," \
	" " f ".options, CASE WHEN " valid " THEN '' ELSE ' NOT VALID' END)"

#endif							/* PG_SET_ASIDE_H */
