/*
 * pg_set_aside.c
 *     Foreign keys put back once the source's rows have filled the table
 *     they reference (see pg_set_aside.h): a type change of a key column
 *     whose cast fails on the values of a table that a foreign key of the
 *     target references empties it for the rows that follow the change,
 *     with those keys set aside; the rows come in the same batch (event
 *     triggers) or a later one (diff mode). Each batch's end tries every
 *     key set aside, in a subtransaction: one that a row still violates
 *     (foreign_key_violation: the rows have not all come) waits for the
 *     next batch, with a warning once it has waited an hour (REMIND),
 *     then hourly, naming the row (a row of the target's own that the
 *     source lacks keeps it aside until mended by hand); any other
 *     failure is a warning (the server's, which the host logs), not the
 *     batch's, and the key stays set aside. A key whose table or columns
 *     are gone went with them and is forgotten; one whose name a key of
 *     the table has again (made by hand) too.
 */
#include "tp_autoconf.h"

#include <string.h>

#include "pg_set_aside.h"
#include "postgres.h"

/* How long a key waits for its rows before a warning, and between two. */
#define REMIND "'1 hour'::pg_catalog.interval"

/* Put back each key set aside that no row violates any more. */
static const char restore_sql[] =
	"DO $restore$\n"
	"DECLARE\n"
	"	r record;\n"
	"	detail pg_catalog.text;\n"
	"BEGIN\n"
	"	FOR r IN SELECT f.rel, f.name, f.set_at, f.warned_at, " SET_ASIDE_ALIVE("f") " AS alive,\n"
	"		" SET_ASIDE_ADD("f", "f.validated") " AS stmt\n"
	"		FROM " SET_ASIDE_TABLE " f ORDER BY f.set_at, f.rel, f.name\n"
	"	LOOP\n"
	"		IF r.alive THEN\n"
	"			BEGIN\n"
	"				EXECUTE r.stmt;\n"
	"			EXCEPTION WHEN foreign_key_violation THEN\n"
	"				IF coalesce(r.warned_at, r.set_at) < pg_catalog.now() - " REMIND " THEN\n"
	"					GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;\n"
	"					RAISE WARNING 'foreign key % of % set aside since % for the source''s rows "
	"to come back, and a row still violates it: % (%); a row of the target''s own that the "
	"source lacks keeps it aside until deleted or mended on the target',\n"
	"						r.name, r.rel::pg_catalog.regclass, r.set_at, SQLERRM, detail;\n"
	"					UPDATE " SET_ASIDE_TABLE " SET warned_at = pg_catalog.now()\n"
	"						WHERE rel = r.rel AND name = r.name;\n"
	"				END IF;\n"
	"				CONTINUE;\n"
	"			WHEN duplicate_object THEN\n"
	"				NULL;\n"
	"			WHEN OTHERS THEN\n"
	"				RAISE WARNING 'could not put foreign key % of % back: %',\n"
	"					r.name, r.rel::pg_catalog.regclass, SQLERRM;\n"
	"				CONTINUE;\n"
	"			END;\n"
	"		END IF;\n"
	/* put back, gone with its table or columns, or made again by hand */
	"		DELETE FROM " SET_ASIDE_TABLE " WHERE rel = r.rel AND name = r.name;\n"
	"	END LOOP;\n"
	"END\n"
	"$restore$";

/* One value: how many keys are still set aside. */
static const char left_sql[] = "SELECT pg_catalog.count(*) FROM " SET_ASIDE_TABLE;

/* See postgres.h. */
bool
pg_set_aside_exists(pg_applier *a, pg_exec *ex)
{
	PGresult   *res;

	if (a->set_aside_table >= 0 || ex->failed)
		return a->set_aside_table > 0;
	res = pg_exec_query(ex, "SELECT pg_catalog.to_regclass('" SET_ASIDE_TABLE "') IS NOT NULL",
						NULL, 0, NULL, "looking for foreign keys set aside");
	if (res == NULL)
		return false;
	a->set_aside_table = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
	PQclear(res);
	return a->set_aside_table > 0;
}

/* See postgres.h. */
void
pg_set_aside_restore(pg_applier *a, pg_exec *ex)
{
	if (!a->set_aside_pending || ex->failed)
		return;
	if (!pg_set_aside_exists(a, ex))
	{
		a->set_aside_pending = ex->failed;
		return;
	}
	pg_exec_send(ex, restore_sql, NULL, 0, NULL, "putting back foreign keys set aside", 0);
	if (pg_exec_none_left(ex, left_sql, "counting the foreign keys set aside"))
		a->set_aside_pending = false;
}
