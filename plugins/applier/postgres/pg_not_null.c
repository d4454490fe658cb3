/*
 * pg_not_null.c
 *     NOT NULL given back to a column once the source's rows have filled
 *     it: a type change whose cast fails on the values of a table the
 *     target cannot empty sets the column to NULL in its rows, drops its
 *     NOT NULL and marks it (NOT_NULL_MARKER, guard_retype in pg_ddl.c);
 *     the rows that follow the change replace every row, in the same
 *     batch (event triggers) or a later one (diff mode). Each batch's end
 *     tries the marked columns: SET NOT NULL scans the table and stops at
 *     the first NULL, in a subtransaction, so a column not filled yet
 *     costs a partial scan and waits for the next batch. Any other
 *     failure is a warning (the server's, which the host logs), not the
 *     batch's: the batch's changes do not depend on it.
 */
#include "tp_autoconf.h"

#include "postgres.h"

/* Set NOT NULL where no NULL is left, and drop those columns' markers. */
static const char restore_sql[] =
	"DO $restore$\n"
	"DECLARE\n"
	"	r record;\n"
	"BEGIN\n"
	"	FOR r IN SELECT k.conrelid::pg_catalog.regclass AS rel, k.conname, a.attname\n"
	"		FROM pg_catalog.pg_constraint k\n"
	"		JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]\n"
	"		WHERE k.contype = 'c' AND k.conname ~ " NOT_NULL_MARKER_PATTERN "\n"
	"		ORDER BY k.conrelid, k.conname\n"
	"	LOOP\n"
	"		BEGIN\n"
	"			EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL',\n"
	"				r.rel, r.attname);\n"
	"			EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', r.rel, r.conname);\n"
	"		EXCEPTION WHEN not_null_violation THEN\n"
	"			NULL;\n"
	"		WHEN OTHERS THEN\n"
	"			RAISE WARNING 'could not give column % of % its NOT NULL back: %',\n"
	"				r.attname, r.rel, SQLERRM;\n"
	"		END;\n"
	"	END LOOP;\n"
	"END\n"
	"$restore$";

/* One value: how many markers are left. */
static const char left_sql[] =
	"SELECT pg_catalog.count(*) FROM pg_catalog.pg_constraint"
	" WHERE contype = 'c' AND conname ~ " NOT_NULL_MARKER_PATTERN;

/* See postgres.h. */
void
pg_not_null_restore(pg_applier *a, pg_exec *ex)
{
	if (!a->not_null_pending || ex->failed)
		return;
	pg_exec_send(ex, restore_sql, NULL, 0, NULL, "setting NOT NULL on columns the source's rows filled", 0);
	if (pg_exec_none_left(ex, left_sql, "counting the columns that wait for NOT NULL"))
		a->not_null_pending = false;
}
