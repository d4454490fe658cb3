/*
 * check_schema.c
 *     Schema replication in diff mode, end to end: a source teleport with
 *     the schema-diff source (replicate_ddl: true) on one throwaway
 *     cluster, a receiving teleport with the postgres applier on another,
 *     over http. The source's tables live in schema public and are applied
 *     into schema "copy" on the target.
 *
 *     Case "source": the schema-diff plugin loaded in process through the
 *     core's loader and plan, on top of the real queue: install takes the
 *     first snapshot silently, a poll with no change emits nothing, the
 *     changes of one poll come out one event per object in a dependency-safe
 *     order with their before and after descriptions (a column rename keeps
 *     its attnum), uninstall removes the objects and a new install starts
 *     from a new first snapshot; types, sequences and indexes go out by
 *     rank; objects whose dependencies go against their ranks (a range
 *     type with a function of the schema under a domain, an aggregate a
 *     SQL-standard body calls) after what they depend on, and are dropped
 *     before it, also when the snapshot was upgraded from version 2
 *     (without dependencies).
 *
 *     Case "diff": one scene, step after step, each checked by comparing
 *     the target with the source: the columns of every table (name, type,
 *     NOT NULL, default or generation expression with the schema name
 *     taken out, identity, generated; in column order)
 *     and its primary key from the catalog, and every table's rows (count
 *     and an md5 over their text in order). Steps: the first snapshot
 *     emits nothing and polls with no change emit nothing; a table
 *     created and written in the same transaction, then later; a new
 *     schema (for a second target, whose apply_schema it creates); a column
 *     added with a default and NOT NULL, then written; a column dropped
 *     while rows are written; a column renamed with writes before and
 *     after; a table renamed; defaults and NOT NULL changed; identity and
 *     generated columns; a primary key moved to another column; int ->
 *     bigint and text -> int USING; rows rewritten by a change, sent
 *     again with the source's values (step_rewrites: volatile defaults, a
 *     type changed USING a volatile expression, new columns filled by
 *     their domains' defaults, a type change whose cast fails on the
 *     target's values, with in diff mode the batches held by a failure of
 *     another kind and by a keyless table's such change, CREATE TABLE AS
 *     and SELECT INTO; compared row by row too); a table dropped. Then, comparing
 *     also the types, standalone sequences and indexes of the schema
 *     (objects_signature), the steps of each kind: enums (step_enums,
 *     step_enum_columns: a value added and used in one target
 *     transaction), composite types (step_composites), standalone
 *     sequences with their values (step_sequences), the sequences of
 *     serial and identity columns (step_owned_sequences), sequences
 *     dropped with CASCADE, narrowed past their values or typed unlike
 *     their identity column (step_sequence_ranges), indexes
 *     (step_indexes), domains (domain_steps, step_domain_functions:
 *     domains calling functions made with them); then constraints (and
 *     exclusion constraints: exclusion_steps), functions, views,
 *     extensions and comments; then, comparing also range types,
 *     aggregates and column collations (kinds_signature): range types and
 *     collations (range_collation_steps), aggregates and comments on
 *     primary keys and serial and identity sequences
 *     (aggregate_comment_steps), objects made and dropped in one
 *     transaction whose dependencies go against their kinds' ranks
 *     (dependency_order_steps).
 *
 *     Case "diff" runs three times: with the schema-diff source, with the
 *     event-trigger source (use_event_triggers: true, loop index 1), which
 *     also adds, fills and renames a column in one transaction, and
 *     switching (index 2): the source restarts in the other mode three
 *     times, with schema and row changes made while it is stopped.
 *
 *     In diff mode the moment of a change is only known at the next poll:
 *     in case "diff", rows written after a change that the target cannot
 *     take before it (a renamed column or table) are written once the
 *     change was captured; case "ahead" writes them before the poll, so
 *     that their batch is held until the change, applied ahead of it, lets
 *     it through (docs/schema.md). Case "ahead" also runs
 *     test_rewrite_writers: rows rewritten by changes while writers write
 *     the table, sent again under a lock that orders the writers' changes
 *     around them; test_ddl_churn; and test_new_tables_between_polls:
 *     tables created and filled at moments spread over 50 ms polls reach
 *     the target without a batch held.
 *
 *     Case "selection" (both modes): tables renamed or moved (SET SCHEMA)
 *     into, out of and within a target's selection (public.keep_*), next
 *     to a target that selects all of public (test_selection).
 *
 *     Case "cascade" (both modes): DROP TYPE, DROP DOMAIN, DROP FUNCTION,
 *     DROP SEQUENCE and DROP EXTENSION with CASCADE taking columns,
 *     attributes, defaults and constraints, and columns retyped before
 *     their type's drop in one transaction, with rows before and after
 *     (test_cascade).
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <teleport/teleport.h>

#include "checkmain.h"
#include "config.h"
#include "deadline.h"
#include "host.h"
#include "instance.h"
#include "loader.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "pgsql.h"
#include "plan.h"
#include "queue.h"
#include "runcmd.h"

/* The source's cluster and the target's. */
static tp_cluster *src_cl;
static tp_cluster *tgt_cl;

#define SRC_DB "schema_src"
#define TGT_DB "schema_tgt"
#define APPLY_SCHEMA "copy"

/* A starting point of several scenes: the same table on both sides. */
#define BASE_SRC "CREATE TABLE public.base (id int PRIMARY KEY, v text);"
#define BASE_TGT "CREATE SCHEMA " APPLY_SCHEMA ";" \
	"CREATE TABLE " APPLY_SCHEMA ".base (id int PRIMARY KEY, v text);"

/* Once: both clusters (in the parent). */
static void
start_clusters(void)
{
	src_cl = tp_cluster_shared();
	tgt_cl = tp_cluster_start();
}

/* After the case: what was left running, then the second cluster. */
static void
stop_clusters(void)
{
	tp_kill_leftovers(src_cl);
	tp_cluster_destroy(tgt_cl);
	tgt_cl = NULL;
}

/* The scene: the two instances. */
typedef struct scene
{
	tp_scene	t;
	tp_inst    *src;
	tp_inst    *tgt;
	bool		event_triggers; /* use_event_triggers on the source */
	int			ddlwatcher_ms;	/* the source's poll interval; 0: 200 */
	int			vacuum_ms;		/* the vacuum interval; 0: the default */
} scene;

/*
 * Start a scene in sc (zeroed first): its directory named prefix, a
 * source instance on src_db of src_cl and a receiving target on tgt_db of
 * tgt_cl, not configured yet (the caller sets the scene's fields, then
 * configures them).
 */
static void
scene_open(scene *sc, const char *prefix, const char *src_db, const char *tgt_db)
{
	ck_assert_ptr_nonnull(tgt_cl);
	memset(sc, 0, sizeof(*sc));
	tp_scene_init(&sc->t, src_cl, prefix);
	sc->t.log_tail = 60000;
	sc->src = tp_scene_inst(&sc->t, "src", src_cl, src_db, false);
	sc->tgt = tp_scene_inst(&sc->t, "tgt", tgt_cl, tgt_db, true);
}

/*
 * Write the config of the source (sending what expr selects to tgt, into
 * APPLY_SCHEMA, and what expr2 selects to a second target on the same
 * instance, name2, into schema2) or of the receiving target.
 */
static void
configure_targets(scene *sc, bool source, const char *expr, const char *name2,
				  const char *expr2, const char *schema2)
{
	char	   *targets = NULL;

	if (source)
	{
		tp_target_yaml(&targets, NULL, sc->tgt, expr, APPLY_SCHEMA);
		tp_target_yaml(&targets, name2, sc->tgt, expr2, schema2);
	}
	tp_inst_configure(source ? sc->src : sc->tgt, targets,
					  "replicate_ddl: true\n"
					  "use_event_triggers: %s\n"
					  "processing_intervals:\n"
					  "  batcher: 50\n"
					  "  transmitter: 50\n"
					  "  applier: 50\n"
					  "  ddlwatcher: %d\n"
					  "  vacuum: %d\n",
					  sc->event_triggers ? "true" : "false",
					  sc->ddlwatcher_ms > 0 ? sc->ddlwatcher_ms : 200,
					  sc->vacuum_ms > 0 ? sc->vacuum_ms : 500);
	free(targets);
}

/*
 * The config of the source (public.* to tgt, extra.* to a second target,
 * tgt2, into schema fresh) or of the receiving target.
 */
static void
configure(scene *sc, bool source)
{
	configure_targets(sc, source, "\"public.*\"", "tgt2", "\"extra.*\"", "fresh");
}

/*
 * Open a scene as scene_open does, with event triggers or not and the
 * source polling every ddlwatcher_ms (0: the default), and configure both
 * instances (configure).
 */
static void
scene_open_configured(scene *sc, const char *prefix, const char *src_db,
					  const char *tgt_db, bool event_triggers, int ddlwatcher_ms)
{
	scene_open(sc, prefix, src_db, tgt_db);
	sc->event_triggers = event_triggers;
	sc->ddlwatcher_ms = ddlwatcher_ms;
	configure(sc, true);
	configure(sc, false);
}

/*
 * The columns and primary keys of the tables of schema on in, as
 * text: per table in name order its columns in column order (name, type
 * and default without "strip." qualifications, NOT NULL, identity), its
 * primary key's definition and its storage parameters (its own and its
 * TOAST table's, sorted). "(failed)" when the query failed: pg_get_expr
 * of a default whose function a concurrent DROP ... CASCADE just removed
 * fails with "cache lookup failed" (the callers poll again).
 */
static char *
schema_signature(const tp_inst *in, const char *schema, const char *strip)
{
	char	   *v = tp_inst_try_value(in,
						 "SELECT coalesce(string_agg(sig, E'\\n' ORDER BY relname), '') FROM ("
						 " SELECT c.relname, c.relname || ': ' || ("
						 "  SELECT string_agg(format('%%s %%s%%s%%s%%s%%s', a.attname,"
						 "   replace(format_type(a.atttypid, a.atttypmod), '%s.', ''),"
						 "   CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,"
						 "   coalesce(' default ' || replace(pg_get_expr(d.adbin, d.adrelid), '%s.', ''), ''),"
						 "   CASE a.attidentity WHEN '' THEN '' ELSE ' identity ' || a.attidentity::text END,"
						 "   CASE a.attgenerated WHEN '' THEN '' ELSE ' generated' END),"
						 "   ', ' ORDER BY a.attnum)"
						 "  FROM pg_attribute a LEFT JOIN pg_attrdef d"
						 "   ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
						 "  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)"
						 "  || coalesce((SELECT ' | ' || pg_get_constraintdef(k.oid) FROM pg_constraint k"
						 "   WHERE k.conrelid = c.oid AND k.contype = 'p'), '')"
						 "  || coalesce(' with ' || (SELECT string_agg(o, ',' ORDER BY o)"
						 "   FROM unnest(c.reloptions) o), '')"
						 "  || coalesce(' toast ' || (SELECT string_agg(o, ',' ORDER BY o)"
						 "   FROM pg_class tc, unnest(tc.reloptions) o WHERE tc.oid = c.reltoastrelid), '')"
						 "  AS sig"
						 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
						 " WHERE n.nspname = '%s' AND c.relkind = 'r') s",
						 strip, strip, schema);

	return v != NULL ? v : strdup("(failed)");
}

/*
 * The objects of schema on in other than tables and columns, as
 * text with "strip." qualifications removed, one line each: unique,
 * check, foreign-key and exclusion constraints (table, name, definition,
 * NOT VALID);
 * functions and procedures (pg_get_functiondef without its search_path,
 * which the target maps to its schema, and that search_path with the
 * schema name replaced by "S"); views and materialized views (kind,
 * name, options, pg_get_viewdef, and an md5 of their rows); extensions
 * (name, version) installed in the schema; comments on relations, their
 * columns (by name) and functions. "(failed)"
 * when the query failed (an object dropped while it ran).
 */
static char *
object_signature(const tp_inst *in, const char *schema, const char *strip)
{
	char	   *sql = NULL;
	char	   *v;

	ck_assert_int_ge(asprintf(&sql,
						"SELECT coalesce(string_agg(sig, E'\\n' ORDER BY sig), '') FROM ("
						" SELECT format('constraint %%s.%%s %%s', c.relname, k.conname,"
						"  replace(pg_get_constraintdef(k.oid), '%s.', '')) AS sig"
						" FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
						" JOIN pg_namespace n ON n.oid = c.relnamespace"
						" WHERE n.nspname = '%s' AND k.contype IN ('u', 'c', 'f', 'x')"
						" UNION ALL"
						" SELECT format('function %%s %%s', replace(regexp_replace(pg_get_functiondef(p.oid),"
						"  E'\\n SET search_path TO [^\\n]*', ''), '%s.', ''),"
						"  (SELECT replace(c, '%s', 'S') FROM unnest(p.proconfig) c"
						"   WHERE c LIKE 'search_path=%%' AND c <> 'search_path=%s'))"
						" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
						" WHERE n.nspname = '%s' AND p.prokind IN ('f', 'p') AND NOT EXISTS ("
						"  SELECT 1 FROM pg_depend e WHERE e.objid = p.oid AND e.deptype = 'e')"
						" UNION ALL"
						" SELECT format('view %%s %%s %%s %%s %%s', c.relkind, c.relname, c.reloptions,"
						"  replace(pg_get_viewdef(c.oid), '%s.', ''),"
						"  md5(query_to_xml(format('SELECT r.* FROM %%I.%%I r ORDER BY r::text',"
						"   n.nspname, c.relname), false, false, '')::text))"
						" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
						" WHERE n.nspname = '%s' AND c.relkind IN ('v', 'm')"
						" UNION ALL"
						" SELECT format('extension %%s %%s', x.extname, x.extversion)"
						" FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
						" WHERE n.nspname = '%s'"
						" UNION ALL"
						" SELECT format('comment %%s.%%s %%s', c.relname, coalesce(a.attname, '-'), d.description)"
						" FROM pg_description d JOIN pg_class c ON c.oid = d.objoid"
						" JOIN pg_namespace n ON n.oid = c.relnamespace"
						" LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid"
						" WHERE d.classoid = 'pg_class'::regclass AND n.nspname = '%s'"
						" UNION ALL"
						" SELECT format('comment %%s() %%s', p.proname, d.description)"
						" FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid"
						" JOIN pg_namespace n ON n.oid = p.pronamespace"
						" WHERE d.classoid = 'pg_proc'::regclass AND n.nspname = '%s'"
						") s", strip, schema, strip, strip, strip, schema, strip, schema, schema,
						schema, schema), 0);
	/* the applier may drop an object meanwhile: a mismatch, not a failure */
	v = tp_inst_try_value(in, "%s", sql);
	free(sql);
	return v != NULL ? v : strdup("(failed)");
}

/* The rows of every table of schema on in: count and md5 of each. */
static char *
data_signature(const tp_inst *in, const char *schema)
{
	char	   *tables = tp_inst_value(in,
									   "SELECT coalesce(string_agg(relname, ' ' ORDER BY relname), '')"
									   " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
									   " WHERE n.nspname = '%s' AND c.relkind = 'r'", schema);
	char	   *buf = NULL;
	size_t		len = 0;
	FILE	   *f = open_memstream(&buf, &len);
	char	   *save = NULL;

	ck_assert_ptr_nonnull(f);
	for (char *t = strtok_r(tables, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
	{
		char	   *sql = NULL;
		char	   *v;

		ck_assert_int_ge(asprintf(&sql, "SELECT count(*) || ' ' || coalesce(md5(string_agg("
								  "r::text, ',' ORDER BY r::text)), '-') FROM \"%s\".\"%s\" r",
								  schema, t), 0);
		/* the applier may rename or drop it meanwhile: a mismatch, not a failure */
		v = tp_inst_try_value(in, "%s", sql);
		fprintf(f, "%s: %s\n", t, v ? v : "(gone)");
		free(v);
		free(sql);
	}
	fclose(f);
	free(tables);
	return buf;
}

/* Append more (which is freed) to *sig on a new line. */
static void
append_signature(char **sig, char *more)
{
	char	   *both = NULL;

	ck_assert_int_ge(asprintf(&both, "%s\n%s", *sig, more), 0);
	free(*sig);
	free(more);
	*sig = both;
}

/*
 * Wait until the target's schema "copy" equals the source's public, in
 * columns and rows, within 60 s; else fail with both signatures.
 */
static void
wait_equal(const scene *sc, const char *step)
{
	char	   *ss = NULL;
	char	   *ts = NULL;
	char	   *sd = NULL;
	char	   *td = NULL;

	for (double end = tp_deadline(120); tp_before(end);)
	{
		free(ss);
		free(ts);
		free(sd);
		free(td);
		ss = schema_signature(sc->src, "public", "public");
		ts = schema_signature(sc->tgt, APPLY_SCHEMA, APPLY_SCHEMA);
		append_signature(&ss, object_signature(sc->src, "public", "public"));
		append_signature(&ts, object_signature(sc->tgt, APPLY_SCHEMA, APPLY_SCHEMA));
		sd = data_signature(sc->src, "public");
		td = data_signature(sc->tgt, APPLY_SCHEMA);
		if (strcmp(ss, ts) == 0 && strcmp(sd, td) == 0 && strstr(ss, "(failed)") == NULL)
			break;
		usleep(100000);
	}
	if (strcmp(ss, ts) != 0 || strcmp(sd, td) != 0 || strstr(ss, "(failed)") != NULL)
	{
		fprintf(stderr, "after %s:\n-- source schema:\n%s\n-- target schema:\n%s\n"
				"-- source rows:\n%s-- target rows:\n%s", step, ss, ts, sd, td);
		tp_scene_fail(&sc->t, "the target does not match the source");
	}
	free(ss);
	free(ts);
	free(sd);
	free(td);
}

/*
 * Wait (60 s at most) until the target holds a batch whose reason contains
 * what; else fail with the reasons seen.
 */
static void
wait_held(const scene *sc, const char *what)
{
	char	   *reason = NULL;

	for (double end = tp_deadline(120); tp_before(end);)
	{
		free(reason);
		reason = tp_inst_value(sc->tgt, "SELECT coalesce(string_agg(held_reason, ' | '), '')"
							   " FROM teleport.inbox_stream WHERE held_reason IS NOT NULL");
		if (strstr(reason, what) != NULL)
		{
			free(reason);
			return;
		}
		usleep(100000);
	}
	tp_scene_fail(&sc->t, "no batch held on \"%s\"; held: %s", what, reason);
}

/*
 * Wait until the schema-diff source has captured the catalog as it is now
 * (its snapshot equals the descriptions) and, when table is given, the
 * trigger source captures that table under its current name and key.
 */
static void
wait_captured(const scene *sc, const char *table)
{
	for (double end = tp_deadline(120);;)
	{
		bool		last = !tp_before(end);
		char	   *sql = NULL;
		char	   *v;
		bool		done;

		/* the objects appear once the source installed them */
		ck_assert_int_ge(asprintf(&sql,
								  "SELECT NOT EXISTS ("
									 " SELECT 1 FROM (SELECT 'schema' AS kind, obj_oid, description::text AS d"
									 "   FROM teleport.schema_describe_schema(NULL)"
									 "  UNION ALL SELECT 'table', obj_oid, description::text"
									 "   FROM teleport.schema_describe_table(NULL)"
									 "  UNION ALL SELECT 'enum', obj_oid, description::text"
									 "   FROM teleport.schema_describe_enum(NULL)"
									 "  UNION ALL SELECT 'composite', obj_oid, description::text"
									 "   FROM teleport.schema_describe_composite(NULL)"
									 "  UNION ALL SELECT 'domain', obj_oid, description::text"
									 "   FROM teleport.schema_describe_domain(NULL)"
									 "  UNION ALL SELECT CASE WHEN coalesce(description -> 'subtype_diff' ->> 'schema',"
									 "   'pg_catalog') = 'pg_catalog' AND coalesce(description -> 'canonical' ->> 'schema',"
									 "   'pg_catalog') = 'pg_catalog' THEN 'range' ELSE 'range_fn' END,"
									 "   obj_oid, description::text FROM teleport.schema_describe_range(NULL)"
									 "  UNION ALL SELECT 'aggregate', obj_oid, description::text"
									 "   FROM teleport.schema_describe_aggregate(NULL)"
									 "  UNION ALL SELECT 'sequence', obj_oid, description::text"
									 "   FROM teleport.schema_describe_sequence(NULL)"
									 "  UNION ALL SELECT 'index', obj_oid, description::text"
									 "   FROM teleport.schema_describe_index(NULL)"
									 "  UNION ALL SELECT 'constraint', obj_oid, description::text"
									 "   FROM teleport.schema_describe_constraint(NULL)"
									 "  UNION ALL SELECT CASE WHEN (description ->> 'sql_body')::boolean"
									 "   THEN 'function_sql_body' ELSE 'function' END, obj_oid, description::text"
									 "   FROM teleport.schema_describe_function(NULL)"
									 "  UNION ALL SELECT 'view', obj_oid, description::text"
									 "   FROM teleport.schema_describe_view(NULL)"
									 "  UNION ALL SELECT 'extension', obj_oid, description::text"
									 "   FROM teleport.schema_describe_extension(NULL)"
									 "  UNION ALL SELECT 'comment', obj_oid, description::text"
									 "   FROM teleport.schema_describe_comment(NULL)) c"
									 " FULL JOIN (SELECT kind, oid, description::text AS d"
									 "   FROM teleport.schema_snapshot) s"
									 "  ON s.kind = c.kind AND s.oid = c.obj_oid"
									 " WHERE c.d IS DISTINCT FROM s.d)"
									 " AND (%s OR EXISTS (SELECT 1 FROM teleport.trigger_table t"
									 "  JOIN pg_class c ON c.oid = t.relid"
									 "  WHERE c.relname = '%s' AND t.table_name = c.relname"
									 "  AND t.key_columns = teleport.trigger_table_keys(c.oid)))",
								  table ? "false" : "true", table ? table : ""), 0);
		v = tp_inst_try_value(sc->src, "%s", sql);
		done = v != NULL && strcmp(v, "t") == 0;
		free(v);
		if (done)
		{
			free(sql);
			return;
		}
		if (last)
		{
			/* what differs: the kinds and OIDs */
			char	   *what = NULL;

			ck_assert_int_ge(asprintf(&what, "SELECT string_agg(concat_ws(' ', coalesce(c.kind, s.kind),"
									  " coalesce(c.obj_oid, s.oid), c.d, s.d), E'\\n') FROM%s",
									  strstr(sql, " (SELECT 'schema'") ), 0);
			*strstr(what, " AND (") = '\0';
			strcpy(strstr(what, " WHERE c.d IS DISTINCT FROM s.d)"), " WHERE c.d IS DISTINCT FROM s.d");
			v = tp_inst_try_value(sc->src, "%s", what);
			fprintf(stderr, "not captured (the description, then the snapshot's):\n%s\n",
					v ? v : "(the query failed)");
			free(v);
			free(what);
			free(sql);
			tp_scene_fail(&sc->t, "the source never captured the schema change");
		}
		free(sql);
		usleep(100000);
	}
}

/*
 * Run src_sql (unless NULL) on the source and tgt_sql on the target, start
 * both instances (configured), and wait until the source captured table
 * (see wait_captured).
 */
static void
scene_start(const scene *sc, const char *src_sql, const char *tgt_sql,
			const char *table)
{
	if (src_sql != NULL)
		tp_inst_exec(sc->src, "%s", src_sql);
	tp_inst_exec(sc->tgt, "%s", tgt_sql);
	tp_inst_start(sc->tgt);
	tp_inst_start(sc->src);
	wait_captured(sc, table);
}

/* The number of schema and table events in the source's queue. */
static long
ddl_events(const scene *sc)
{
	char	   *v = tp_inst_value(sc->src,
								  "SELECT count(*) FROM (SELECT op, ddl FROM teleport.event_0"
								  " UNION ALL SELECT op, ddl FROM teleport.event_1"
								  " UNION ALL SELECT op, ddl FROM teleport.event_2) e"
								  " WHERE op = 'ddl' AND ddl ->> 'type' IN ('schema', 'table')");
	long		n = atol(v);

	free(v);
	return n;
}

/*
 * The types, sequences and indexes of schema on in, as text, one
 * line per object in order: an enum's labels in their order, a composite
 * type's attributes (name and type without "schema." qualifications), a
 * domain's base type, collation (when not its base type's), NOT NULL,
 * default and constraints (name and definition, the same), a standalone
 * sequence's parameters, an index's definition (the same).
 * "(failed)" when the query failed.
 */
static char *
objects_signature(const tp_inst *in, const char *schema)
{
	char	   *sql = NULL;
	char	   *v;

	/* pg_get_indexdef fails on an index dropped meanwhile: a mismatch */
	ck_assert_int_ge(asprintf(&sql,
						"SELECT coalesce(string_agg(sig, E'\\n' ORDER BY sig), '') FROM ("
						" SELECT 'enum ' || t.typname || ': ' || coalesce((SELECT string_agg("
						"   e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e"
						"   WHERE e.enumtypid = t.oid), '') AS sig"
						" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
						" WHERE n.nspname = '%s' AND t.typtype = 'e'"
						" UNION ALL"
						" SELECT 'composite ' || t.typname || ': ' || coalesce((SELECT string_agg("
						"   a.attname || ' ' || replace(format_type(a.atttypid, a.atttypmod), '%s.', ''),"
						"   ', ' ORDER BY a.attnum) FROM pg_attribute a"
						"   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '')"
						" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
						" JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'"
						" WHERE n.nspname = '%s'"
						" UNION ALL"
						" SELECT 'domain ' || t.typname || ': ' || concat_ws(' ',"
						"   replace(format_type(t.typbasetype, t.typtypmod), '%s.', ''),"
						"   (SELECT 'collate ' || co.collname FROM pg_collation co"
						"    WHERE co.oid = t.typcollation AND t.typcollation <> bt.typcollation),"
						"   CASE WHEN t.typnotnull THEN 'not null' END,"
						"   'default ' || replace(pg_get_expr(t.typdefaultbin, 0), '%s.', ''),"
						"   (SELECT string_agg(k.conname || ' ' || replace(pg_get_constraintdef(k.oid),"
						"    '%s.', ''), ', ' ORDER BY k.conname) FROM pg_constraint k"
						"    WHERE k.contypid = t.oid))"
						" FROM pg_type t JOIN pg_type bt ON bt.oid = t.typbasetype"
						" JOIN pg_namespace n ON n.oid = t.typnamespace"
						" WHERE n.nspname = '%s' AND t.typtype = 'd'"
						" UNION ALL"
						" SELECT 'sequence ' || c.relname || ': ' || concat_ws(' ',"
						"   format_type(q.seqtypid, NULL), q.seqincrement, q.seqmin, q.seqmax,"
						"   q.seqstart, q.seqcache, q.seqcycle)"
						" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
						" JOIN pg_sequence q ON q.seqrelid = c.oid"
						" WHERE n.nspname = '%s' AND NOT EXISTS (SELECT 1 FROM pg_depend x"
						"   WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid"
						"   AND x.deptype IN ('a', 'i'))"
						" UNION ALL"
						" SELECT 'index ' || ic.relname || ': '"
						"   || replace(pg_get_indexdef(ic.oid), '%s.', '')"
						" FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
						" JOIN pg_class tc ON tc.oid = i.indrelid"
						" JOIN pg_namespace n ON n.oid = tc.relnamespace"
						" WHERE n.nspname = '%s' AND tc.relkind = 'r'"
						") s",
						schema, schema, schema, schema, schema, schema, schema, schema,
						schema, schema), 0);
	v = tp_inst_try_value(in, "%s", sql);
	free(sql);
	return v != NULL ? v : strdup("(failed)");
}

/* A text describing some objects of schema in a database (a new string). */
typedef char *(*signature_fn) (const tp_inst *in, const char *schema);

/*
 * Wait (60 s at most) until fn gives the same text for the target's
 * APPLY_SCHEMA as for the source's public; else fail with both, naming
 * what after step. Returns the source's text (a new string).
 */
static char *
wait_same_signature(const scene *sc, signature_fn fn, const char *what,
					const char *step)
{
	char	   *so = NULL;
	char	   *to = NULL;

	for (double end = tp_deadline(120); tp_before(end);)
	{
		free(so);
		free(to);
		so = fn(sc->src, "public");
		to = fn(sc->tgt, APPLY_SCHEMA);
		if (strcmp(so, to) == 0)
			break;
		usleep(100000);
	}
	if (strcmp(so, to) != 0)
	{
		fprintf(stderr, "after %s:\n-- source %s:\n%s\n-- target %s:\n%s\n",
				step, what, so, what, to);
		tp_scene_fail(&sc->t, "the target's %s do not match the source's", what);
	}
	free(to);
	return so;
}

/*
 * wait_equal, after waiting (60 s at most) until the target's types,
 * sequences and indexes equal the source's; else fail with both.
 */
static void
wait_objects_equal(const scene *sc, const char *step)
{
	free(wait_same_signature(sc, objects_signature, "objects", step));
	wait_equal(sc, step);
}

/*
 * Enums: created; values added before the first, in the middle and at the
 * end (several in one transaction); a value renamed; the type renamed;
 * dropped.
 */
static void
step_enums(const scene *sc)
{
	tp_inst_exec(sc->src, "CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "create enum");
	tp_inst_exec(sc->src,
				 "ALTER TYPE public.mood ADD VALUE 'meh' BEFORE 'ok';"
				 "ALTER TYPE public.mood ADD VALUE 'joy' AFTER 'happy';"
				 "ALTER TYPE public.mood ADD VALUE 'awful' BEFORE 'sad';"
				 "ALTER TYPE public.mood ADD VALUE 'dire' BEFORE 'awful';");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "enum values added");
	tp_inst_exec(sc->src,
				 "ALTER TYPE public.mood RENAME VALUE 'meh' TO 'so-so';"
				 "ALTER TYPE public.mood ADD VALUE 'meh' AFTER 'so-so';"
				 "ALTER TYPE public.mood RENAME TO feeling;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "enum value and type renamed");
	tp_inst_exec(sc->src, "DROP TYPE public.feeling;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "enum dropped");
}

/*
 * Columns of enum types of the source's schema (and arrays of them) are of
 * apply_schema's types on the target, defaults included; a value added
 * and used in the same target transaction (the source stopped while the
 * value is added, captured and used, so that its batch holds both); the
 * type renamed, a value renamed; a text column turned into the enum; the
 * enum replaced by a new one of its name in one transaction.
 */
static void
step_enum_columns(scene *sc)
{
	char	   *v;

	tp_inst_exec(sc->src,
				 "CREATE TYPE public.color AS ENUM ('red', 'green');"
				 "CREATE TABLE public.paint (id int PRIMARY KEY,"
				 " c public.color NOT NULL DEFAULT 'red', cs public.color[], note text);");
	wait_captured(sc, "paint");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.paint (id, cs, note) VALUES (1, '{red,green}', 'red');"
				 "INSERT INTO public.paint VALUES (2, 'green', NULL, 'green');");
	wait_objects_equal(sc, "table with enum columns");

	tp_inst_stop(sc->src);
	tp_inst_exec(sc->src, "ALTER TYPE public.color ADD VALUE 'blue' BEFORE 'green';");
	/* diff mode captures it now, by hand; event triggers did in its transaction */
	v = tp_inst_value(sc->src, "%s", sc->event_triggers
					  ? "SELECT teleport.schema_capture(NULL, true) = 0"
					  : "SELECT teleport.schema_capture(NULL, true) > 0");
	ck_assert_str_eq(v, "t");
	free(v);
	tp_inst_exec(sc->src,
				 "INSERT INTO public.paint VALUES (3, 'blue', '{blue,red}', 'blue');"
				 "UPDATE public.paint SET c = 'blue' WHERE id = 1;");
	tp_inst_start(sc->src);
	wait_objects_equal(sc, "enum value added and used in one batch");

	tp_inst_exec(sc->src,
				 "ALTER TYPE public.color RENAME TO hue;"
				 "ALTER TYPE public.hue RENAME VALUE 'green' TO 'verde';");
	wait_captured(sc, "paint");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.paint VALUES (4, 'verde', '{verde}', 'verde');");
	wait_objects_equal(sc, "enum type and value renamed");

	tp_inst_exec(sc->src,
				 "UPDATE public.paint SET note = 'verde' WHERE note = 'green';"
				 "ALTER TABLE public.paint ALTER COLUMN note TYPE public.hue USING note::public.hue;");
	wait_captured(sc, "paint");
	tp_inst_exec(sc->src, "INSERT INTO public.paint VALUES (5, 'red', '{}', 'blue');");
	wait_objects_equal(sc, "text column to enum");

	/*
	 * Replaced under its name as migration tools replace an enum, in one
	 * transaction (so in one poll in diff mode): the old type renamed, the
	 * new one made, the columns (an array too) and a composite type's
	 * attribute retyped, the old type dropped. The target drops its old
	 * type only once nothing uses it, under a name out of the new one's
	 * way, and keeps no such name.
	 */
	tp_inst_exec(sc->src, "CREATE TYPE public.swatch AS (h public.hue, n int);");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "ALTER TYPE public.hue RENAME TO hue_old;"
				 "CREATE TYPE public.hue AS ENUM ('red', 'verde', 'blue', 'white');"
				 "ALTER TABLE public.paint ALTER COLUMN c DROP DEFAULT,"
				 " ALTER COLUMN c TYPE public.hue USING c::text::public.hue,"
				 " ALTER COLUMN c SET DEFAULT 'white',"
				 " ALTER COLUMN cs TYPE public.hue[] USING cs::text[]::public.hue[],"
				 " ALTER COLUMN note TYPE public.hue USING note::text::public.hue;"
				 "ALTER TYPE public.swatch ALTER ATTRIBUTE h TYPE public.hue;"
				 "DROP TYPE public.hue_old;"
				 "COMMIT;");
	wait_captured(sc, "paint");
	tp_inst_exec(sc->src, "INSERT INTO public.paint (id, cs) VALUES (6, '{white,red}');");
	wait_objects_equal(sc, "enum replaced under its name");
	v = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_type WHERE typname ~ '^_?teleport_dropped_'");
	ck_assert_str_eq(v, "0");
	free(v);
	tp_inst_exec(sc->src, "DROP TYPE public.swatch;");
	tp_inst_exec(sc->src, "DROP TABLE public.paint; DROP TYPE public.hue;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "enum and its table dropped");
}

/*
 * Composite types: created (one with an enum attribute), used by a table
 * (a column and an array) with rows; attributes added and renamed, then
 * written; an attribute dropped; an attribute retyped; types renamed; a
 * composite of a composite; all dropped at once.
 */
static void
step_composites(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE TYPE public.tone AS ENUM ('soft', 'loud');"
				 "CREATE TYPE public.addr AS (street text, num int, tone public.tone);"
				 "CREATE TYPE public.spare AS (a int, b text);"
				 "CREATE TABLE public.people (id int PRIMARY KEY, home public.addr,"
				 " past public.addr[]);");
	wait_captured(sc, "people");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.people VALUES (1, ROW('Main St', 1, 'soft'),"
				 " ARRAY[ROW('Old St', 7, 'loud')::public.addr]),"
				 " (2, ROW('Side \"St\", 2', NULL, NULL), NULL);");
	wait_objects_equal(sc, "composite types and a table using them");

	tp_inst_exec(sc->src,
				 "ALTER TYPE public.addr ADD ATTRIBUTE zip varchar(10);"
				 "ALTER TYPE public.addr RENAME ATTRIBUTE num TO number;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "INSERT INTO public.people VALUES (3, ROW('Third', 3, 'loud', '12345'), NULL);"
				 "UPDATE public.people SET home.zip = '999' WHERE id = 1;");
	wait_objects_equal(sc, "attributes added and renamed");

	tp_inst_exec(sc->src, "ALTER TYPE public.addr DROP ATTRIBUTE tone;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "UPDATE public.people SET home.number = 10 WHERE id = 2;");
	wait_objects_equal(sc, "attribute dropped");

	tp_inst_exec(sc->src,
				 "ALTER TYPE public.spare ALTER ATTRIBUTE a TYPE bigint;"
				 "ALTER TYPE public.spare RENAME TO spare2;"
				 "ALTER TYPE public.addr RENAME TO address;");
	wait_captured(sc, "people");
	tp_inst_exec(sc->src, "INSERT INTO public.people VALUES (4, ROW('Fourth', 4, NULL), NULL);");
	wait_objects_equal(sc, "attribute retyped, types renamed");

	tp_inst_exec(sc->src,
				 "CREATE TYPE public.inner_t AS (x int);"
				 "CREATE TYPE public.outer_t AS (i public.inner_t, j public.inner_t[]);");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "composite type of a composite type");

	/* in one poll: the newer type, which uses the older, goes first */
	tp_inst_exec(sc->src,
				 "DROP TABLE public.people;"
				 "DROP TYPE public.address, public.spare2, public.tone, public.outer_t,"
				 " public.inner_t;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "composite types dropped");
}

/*
 * Wait (60 s at most) until src_sql on the source and tgt_sql on the
 * target give the same value; else fail with both.
 */
static void
wait_same_value(const scene *sc, const char *src_sql, const char *tgt_sql,
				const char *what)
{
	char	   *sv = NULL;
	char	   *tv = NULL;
	bool		same = false;

	for (double end = tp_deadline(120); !same && tp_before(end);)
	{
		free(sv);
		free(tv);
		sv = tp_inst_try_value(sc->src, "%s", src_sql);
		tv = tp_inst_try_value(sc->tgt, "%s", tgt_sql);
		same = sv != NULL && tv != NULL && strcmp(sv, tv) == 0;
		if (!same)
			usleep(100000);
	}
	if (!same)
	{
		fprintf(stderr, "%s: source %s, target %s\n", what, sv ? sv : "(none)",
				tv ? tv : "(none)");
		tp_scene_fail(&sc->t, "the target's value does not match the source's");
	}
	free(sv);
	free(tv);
}

/*
 * Standalone sequences: created with parameters, used by a table's
 * default (nextval) with rows, and by nextval alone; their values follow;
 * parameters changed, renamed; the default moved to the renamed one (its
 * value follows); dropped.
 */
static void
step_sequences(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE SEQUENCE public.s1 INCREMENT 5 START 100 CACHE 1;"
				 "CREATE SEQUENCE public.s2 AS int MINVALUE 1 MAXVALUE 1000 CYCLE;"
				 "CREATE TABLE public.orders (id bigint PRIMARY KEY"
				 " DEFAULT nextval('public.s1'), note text);");
	wait_captured(sc, "orders");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.orders (note) SELECT 'o' || g FROM generate_series(1, 10) g;"
				 "SELECT nextval('public.s2');");
	wait_objects_equal(sc, "sequences created and used");
	wait_same_value(sc, "SELECT last_value FROM public.s1",
					"SELECT last_value FROM " APPLY_SCHEMA ".s1", "value of s1");
	wait_same_value(sc, "SELECT last_value FROM public.s2",
					"SELECT last_value FROM " APPLY_SCHEMA ".s2", "value of s2");

	tp_inst_exec(sc->src,
				 "ALTER SEQUENCE public.s1 INCREMENT 10 MAXVALUE 1000000;"
				 "ALTER SEQUENCE public.s2 NO CYCLE CACHE 5 START 7;"
				 "ALTER SEQUENCE public.s2 RENAME TO s3;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.orders (note) VALUES ('after alter');");
	wait_objects_equal(sc, "sequences altered and renamed");

	tp_inst_exec(sc->src,
				 "ALTER TABLE public.orders ALTER COLUMN id SET DEFAULT nextval('public.s3');");
	wait_captured(sc, "orders");
	tp_inst_exec(sc->src, "INSERT INTO public.orders (note) VALUES ('from s3');");
	wait_objects_equal(sc, "default moved to another sequence");
	wait_same_value(sc, "SELECT last_value FROM public.s3",
					"SELECT last_value FROM " APPLY_SCHEMA ".s3", "value of s3");

	tp_inst_exec(sc->src, "DROP TABLE public.orders; DROP SEQUENCE public.s1, public.s3;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "sequences dropped");
}

/*
 * The sequences the columns of schema's tables named ow_* own (serial
 * and identity), as text, one line per column: table.column and the
 * sequence's parameters (pg_sequence). "(failed)" when the query failed.
 */
static char *
owned_sequences_signature(const tp_inst *in, const char *schema)
{
	char	   *v = tp_inst_try_value(in,
									  "SELECT coalesce(string_agg(t.relname || '.' || a.attname || ': '"
									  " || concat_ws(' ', format_type(q.seqtypid, NULL), q.seqincrement,"
									  " q.seqmin, q.seqmax, q.seqstart, q.seqcache, q.seqcycle),"
									  " E'\\n' ORDER BY t.relname, a.attnum), '')"
									  " FROM pg_depend d JOIN pg_sequence q ON q.seqrelid = d.objid"
									  " JOIN pg_class t ON t.oid = d.refobjid"
									  " JOIN pg_namespace n ON n.oid = t.relnamespace"
									  " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
									  " WHERE d.classid = 'pg_class'::regclass"
									  " AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
									  " AND n.nspname = '%s' AND t.relname LIKE 'ow\\_%%'", schema);

	return v != NULL ? v : strdup("(failed)");
}

/*
 * wait_equal, after waiting (60 s at most) until the parameters of the
 * target's owned sequences equal the source's, and checking that the
 * source's are want; else fail with both.
 */
static void
wait_owned_sequences_equal(const scene *sc, const char *want, const char *step)
{
	char	   *so = wait_same_signature(sc, owned_sequences_signature,
										 "owned sequences", step);

	if (strcmp(so, want) != 0)
	{
		fprintf(stderr, "after %s:\n-- owned sequences:\n%s\n-- expected:\n%s\n",
				step, so, want);
		tp_scene_fail(&sc->t, "the source's owned sequences are not the expected ones");
	}
	free(so);
	wait_equal(sc, step);
}

/*
 * The sequences of serial and identity columns: created with parameters
 * (ALTER SEQUENCE in the table's transaction, identity options), with
 * rows; parameters changed later (ALTER SEQUENCE, ALTER COLUMN SET) and
 * set back to the defaults; a standalone sequence with parameters made a
 * column's (OWNED BY) keeps them; a poll without a change sends nothing.
 */
static void
step_owned_sequences(const scene *sc)
{
	long		n;

	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TABLE public.ow_a (id serial PRIMARY KEY, b bigserial,"
				 " g int GENERATED BY DEFAULT AS IDENTITY (INCREMENT 2 START 50 MAXVALUE 5000), v text);"
				 "ALTER SEQUENCE public.ow_a_id_seq INCREMENT 3 MAXVALUE 100000 CACHE 4 CYCLE;"
				 "COMMIT;");
	wait_captured(sc, "ow_a");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_a (v) SELECT 'a' || g FROM generate_series(1, 5) g;");
	wait_owned_sequences_equal(sc,
							   "ow_a.id: integer 3 1 100000 1 4 t\n"
							   "ow_a.b: bigint 1 1 9223372036854775807 1 1 f\n"
							   "ow_a.g: integer 2 1 5000 50 1 f",
							   "owned sequences created with parameters");

	tp_inst_exec(sc->src,
				 "ALTER SEQUENCE public.ow_a_id_seq INCREMENT 7 NO CYCLE;"
				 "ALTER SEQUENCE public.ow_a_b_seq AS integer MAXVALUE 9000000 CACHE 3;"
				 "ALTER TABLE public.ow_a ALTER COLUMN g SET INCREMENT BY 9 SET CYCLE;");
	wait_captured(sc, "ow_a");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_a (v) VALUES ('after alter');");
	wait_owned_sequences_equal(sc,
							   "ow_a.id: integer 7 1 100000 1 4 f\n"
							   "ow_a.b: integer 1 1 9000000 1 3 f\n"
							   "ow_a.g: integer 9 1 5000 50 1 t",
							   "owned sequences altered");

	tp_inst_exec(sc->src,
				 "ALTER SEQUENCE public.ow_a_id_seq INCREMENT 1 NO MAXVALUE CACHE 1;"
				 "ALTER SEQUENCE public.ow_a_b_seq AS bigint NO MAXVALUE CACHE 1;"
				 "ALTER TABLE public.ow_a ALTER COLUMN g SET INCREMENT BY 1 SET NO MAXVALUE"
				 " SET START 1 SET NO CYCLE;");
	wait_captured(sc, "ow_a");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_a (v) VALUES ('defaults');");
	wait_owned_sequences_equal(sc,
							   "ow_a.id: integer 1 1 2147483647 1 1 f\n"
							   "ow_a.b: bigint 1 1 9223372036854775807 1 1 f\n"
							   "ow_a.g: integer 1 1 2147483647 1 1 f",
							   "owned sequences back to the defaults");

	tp_inst_exec(sc->src,
				 "CREATE SEQUENCE public.ow_s AS integer INCREMENT 4 START 20 MAXVALUE 9999;"
				 "CREATE TABLE public.ow_b (id int PRIMARY KEY DEFAULT nextval('public.ow_s'), v text);");
	wait_captured(sc, "ow_b");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_b (v) VALUES ('standalone');");
	wait_equal(sc, "standalone sequence of ow_b");
	tp_inst_exec(sc->src, "ALTER SEQUENCE public.ow_s OWNED BY public.ow_b.id;");
	wait_captured(sc, "ow_b");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_b (v) VALUES ('owned');");
	wait_owned_sequences_equal(sc,
							   "ow_a.id: integer 1 1 2147483647 1 1 f\n"
							   "ow_a.b: bigint 1 1 9223372036854775807 1 1 f\n"
							   "ow_a.g: integer 1 1 2147483647 1 1 f\n"
							   "ow_b.id: integer 4 1 9999 20 1 f",
							   "a standalone sequence made a column's");
	wait_same_value(sc, "SELECT last_value FROM public.ow_s",
					"SELECT last_value FROM " APPLY_SCHEMA ".ow_s", "value of ow_s");

	/* nothing changed: no event */
	n = ddl_events(sc);
	usleep(1500000);
	ck_assert_int_le(ddl_events(sc), n);

	tp_inst_exec(sc->src, "DROP TABLE public.ow_a, public.ow_b;");
	wait_captured(sc, NULL);
	wait_owned_sequences_equal(sc, "", "owned sequences dropped");
}

/*
 * Indexes: unique, partial (with an enum of the schema in its predicate),
 * expression (descending), multi-column, INCLUDE, other methods, created
 * with the table and later, with rows; renamed; dropped; a column renamed
 * and retyped under them; the table renamed and dropped with them.
 */
static void
step_indexes(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE TYPE public.state AS ENUM ('new', 'done');"
				 "CREATE TABLE public.items (id int PRIMARY KEY, sku text, qty int,"
				 " price numeric, tags text[], st public.state);"
				 "CREATE UNIQUE INDEX items_sku ON public.items (sku);"
				 "CREATE INDEX items_partial ON public.items (qty) WHERE qty > 0 AND st = 'new';"
				 "CREATE INDEX items_expr ON public.items (lower(sku), (qty * 2) DESC);"
				 "CREATE INDEX items_incl ON public.items (qty, price) INCLUDE (sku);");
	wait_captured(sc, "items");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.items SELECT g, 's' || g, g %% 5, g * 1.5,"
				 " ARRAY['t' || g %% 3], CASE WHEN g %% 2 = 0 THEN 'new' ELSE 'done' END::public.state"
				 " FROM generate_series(1, 30) g;");
	wait_objects_equal(sc, "indexes created with their table");

	tp_inst_exec(sc->src,
				 "CREATE INDEX items_gin ON public.items USING gin (tags);"
				 "CREATE INDEX items_hash ON public.items USING hash (sku);"
				 "CREATE UNIQUE INDEX \"Items Odd\" ON public.items (id, qty) WHERE id %% 2 = 1;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "UPDATE public.items SET tags = tags || 'x'::text WHERE id < 5;");
	wait_objects_equal(sc, "indexes created later");

	tp_inst_exec(sc->src,
				 "ALTER INDEX public.items_partial RENAME TO items_positive;"
				 "DROP INDEX public.items_hash;"
				 "ALTER TABLE public.items RENAME COLUMN qty TO quantity;"
				 "ALTER TABLE public.items ALTER COLUMN price TYPE numeric(12,2);");
	wait_captured(sc, "items");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.items (id, sku, quantity, price) VALUES (100, 'new', 3, 9.99);");
	wait_objects_equal(sc, "indexes renamed, dropped, column renamed and retyped");

	tp_inst_exec(sc->src, "ALTER TABLE public.items RENAME TO goods;");
	wait_captured(sc, "goods");
	tp_inst_exec(sc->src, "DELETE FROM public.goods WHERE id > 25;");
	wait_objects_equal(sc, "table of indexes renamed");

	tp_inst_exec(sc->src, "DROP TABLE public.goods; DROP TYPE public.state;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "table of indexes dropped");
}

/*
 * Storage parameters: a table created with some (its own and its TOAST
 * table's), then changed, added and reset; rows written between, so that
 * the target's table keeps taking them.
 */
static void
step_storage(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.stored (id int PRIMARY KEY, body text)"
				 " WITH (fillfactor = 70, autovacuum_enabled = off,"
				 " toast.autovacuum_enabled = false);"
				 "INSERT INTO public.stored SELECT g, repeat('b', g) FROM generate_series(1, 10) g;");
	wait_captured(sc, "stored");
	wait_equal(sc, "a table created with storage parameters");

	tp_inst_exec(sc->src,
				 "ALTER TABLE public.stored SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.05);"
				 "ALTER TABLE public.stored RESET (autovacuum_enabled, toast.autovacuum_enabled);"
				 "UPDATE public.stored SET body = body || 'x' WHERE id < 4;");
	wait_captured(sc, "stored");
	wait_equal(sc, "storage parameters changed, added and reset");

	tp_inst_exec(sc->src, "ALTER TABLE public.stored RESET (fillfactor, autovacuum_vacuum_scale_factor);"
				 "DELETE FROM public.stored WHERE id > 8;");
	wait_captured(sc, "stored");
	wait_equal(sc, "every storage parameter reset");
	tp_inst_exec(sc->src, "DROP TABLE public.stored;");
	wait_captured(sc, NULL);
	wait_equal(sc, "the table of storage parameters dropped");
}

/*
 * Domains: created in one poll with the types they use and those that use
 * them (a domain over an enum, over a domain, over an array, over jsonb
 * and over a composite type whose attribute is a domain; an array of a
 * domain), used by a table with rows (an array's bounds and a JSON null,
 * which only text mode keeps), commented; the target's domains refuse
 * what the source's do; constraints added NOT VALID, dropped (one alone in
 * its transaction), renamed and validated, defaults and NOT NULL set and
 * dropped, a domain renamed; a
 * column retyped to a domain and one added; all dropped in one poll.
 */
static void
domain_steps(const scene *sc)
{
	char	   *v;

	tp_inst_exec(sc->src,
				 "CREATE TYPE public.dlevel AS ENUM ('lo', 'hi');"
				 "CREATE DOMAIN public.posint AS int DEFAULT 1 NOT NULL"
				 " CONSTRAINT posint_positive CHECK (VALUE > 0);"
				 "CREATE DOMAIN public.small AS public.posint CHECK (VALUE < 1000);"
				 "CREATE DOMAIN public.dlev AS public.dlevel DEFAULT 'lo';"
				 "CREATE DOMAIN public.code AS varchar(10) COLLATE \"C\" CHECK (VALUE ~ '^[a-z]');"
				 "CREATE DOMAIN public.ints AS int[];"
				 "CREATE DOMAIN public.doc AS jsonb;"
				 "CREATE TYPE public.pt AS (x public.posint, y int);"
				 "CREATE DOMAIN public.ptd AS public.pt CHECK (VALUE IS NULL OR (VALUE).y IS NOT NULL);"
				 "CREATE TABLE public.dt (id int PRIMARY KEY, n public.posint, s public.small,"
				 " lev public.dlev, c public.code, a public.ints, j public.doc, p public.ptd,"
				 " ns public.posint[], k int);"
				 "COMMENT ON DOMAIN public.posint IS 'a positive int';");
	wait_captured(sc, "dt");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.dt (id, s, c, a, j, p, ns, k) VALUES"
				 " (1, 5, 'abc', '[0:1]={1,2}', '{\"k\": [1, null]}', ROW(1, 2), '{3,4}', 10),"
				 " (2, 999, 'z9', '{}', 'null', ROW(7, 0), NULL, 20);"
				 "INSERT INTO public.dt (id, n, lev, k) VALUES (3, 42, 'hi', 30);");
	wait_objects_equal(sc, "domains created with their table");
	v = tp_inst_value(sc->tgt, "SELECT obj_description('" APPLY_SCHEMA ".posint'::regtype, 'pg_type')");
	ck_assert_str_eq(v, "a positive int");
	free(v);
	ck_assert_msg(tp_cluster_exec(tgt_cl, TGT_DB,
								  "BEGIN; INSERT INTO " APPLY_SCHEMA ".dt (id, n) VALUES (100, 5);"
								  " ROLLBACK"),
				  "the target refuses a row its domains allow");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, n) VALUES (100, -1)"),
				  "the target's domain has no check");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, n) VALUES (100, NULL)"),
				  "the target's domain is not NOT NULL");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, s) VALUES (100, 5000)"),
				  "the target's domain over a domain has no check");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, p) VALUES (100, ROW(1, NULL))"),
				  "the target's domain over a composite type has no check");

	tp_inst_exec(sc->src,
				 "ALTER DOMAIN public.code ADD CONSTRAINT code_short CHECK (length(VALUE) < 5) NOT VALID;"
				 "ALTER DOMAIN public.code DROP CONSTRAINT code_check;"
				 "ALTER DOMAIN public.posint RENAME CONSTRAINT posint_positive TO posint_gt0;"
				 "ALTER DOMAIN public.posint SET DEFAULT 2;"
				 "ALTER DOMAIN public.dlev SET DEFAULT 'hi';"
				 "UPDATE public.dt SET c = 'q' WHERE c IS NULL;"
				 "ALTER DOMAIN public.code SET NOT NULL;"
				 "ALTER DOMAIN public.small RENAME TO tiny;");
	wait_captured(sc, "dt");
	tp_inst_exec(sc->src, "INSERT INTO public.dt (id, c, k) VALUES (4, '1new', 40);");
	wait_objects_equal(sc, "domains altered and renamed");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, c) VALUES (100, 'toolong')"),
				  "the target's domain has no NOT VALID constraint");

	/* alone in its transaction (ddl_command_end names the domain, sql_drop the constraint) */
	tp_inst_exec(sc->src, "ALTER DOMAIN public.tiny DROP CONSTRAINT small_check;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "ALTER DOMAIN public.code VALIDATE CONSTRAINT code_short;"
				 "ALTER DOMAIN public.code DROP NOT NULL;"
				 "ALTER DOMAIN public.dlev DROP DEFAULT;"
				 "ALTER DOMAIN public.posint DROP NOT NULL;"
				 "ALTER TABLE public.dt ALTER COLUMN k TYPE public.posint;"
				 "ALTER TABLE public.dt ADD COLUMN e public.tiny DEFAULT 7;");
	wait_captured(sc, "dt");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.dt (id, n, e, k, s) VALUES (5, NULL, 8, 50, 5000);"
				 "UPDATE public.dt SET k = k + 1, a = '[2:2]={9}' WHERE id = 2;");
	wait_objects_equal(sc, "constraint validated, column retyped to a domain and added");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".dt (id, k) VALUES (100, 0)"),
				  "the target's column retyped to a domain has no check");

	/* in one poll: the table, then the newer types before the older they use */
	tp_inst_exec(sc->src,
				 "DROP TABLE public.dt;"
				 "DROP DOMAIN public.ptd; DROP TYPE public.pt;"
				 "DROP DOMAIN public.tiny, public.posint, public.dlev, public.code, public.ints,"
				 " public.doc;"
				 "DROP TYPE public.dlevel;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "domains dropped");
	v = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_type t"
					  " JOIN pg_namespace n ON n.oid = t.typnamespace"
					  " WHERE n.nspname = '" APPLY_SCHEMA "' AND t.typtype IN ('d', 'e')");
	ck_assert_str_eq(v, "0");
	free(v);
}

/*
 * Sequences whose change meets the target's state: a standalone sequence
 * used by a column's default dropped with CASCADE (the default goes with
 * it, on the target too); the ranges of a standalone, a serial and an
 * identity sequence narrowed past their values (MINVALUE ... RESTART: the
 * target's values lie outside the new ranges, and are set into them);
 * an identity's sequence of another type than its column (ALTER SEQUENCE
 * ... AS), created so and changed so.
 */
static void
step_sequence_ranges(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE SEQUENCE public.dc_s START 10;"
				 "CREATE TABLE public.dc_t (id int PRIMARY KEY,"
				 " n bigint DEFAULT nextval('public.dc_s'), v text);");
	wait_captured(sc, "dc_t");
	tp_inst_exec(sc->src, "INSERT INTO public.dc_t (id, v) SELECT g, 'd' || g FROM generate_series(1, 5) g;");
	wait_objects_equal(sc, "a standalone sequence of a default");
	tp_inst_exec(sc->src, "DROP SEQUENCE public.dc_s CASCADE;");
	wait_captured(sc, "dc_t");
	tp_inst_exec(sc->src, "INSERT INTO public.dc_t (id, v) VALUES (6, 'after cascade');");
	wait_objects_equal(sc, "a standalone sequence dropped with CASCADE");

	tp_inst_exec(sc->src,
				 "CREATE SEQUENCE public.rg_s;"
				 "CREATE TABLE public.ow_rg (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
				 " s serial, v text);");
	wait_captured(sc, "ow_rg");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.ow_rg (v) SELECT 'r' || g FROM generate_series(1, 3) g;"
				 "SELECT nextval('public.rg_s') FROM generate_series(1, 3);");
	wait_owned_sequences_equal(sc,
							   "ow_rg.id: integer 1 1 2147483647 1 1 f\n"
							   "ow_rg.s: integer 1 1 2147483647 1 1 f",
							   "sequences before their ranges narrow");
	wait_same_value(sc, "SELECT last_value FROM public.rg_s",
					"SELECT last_value FROM " APPLY_SCHEMA ".rg_s", "value of rg_s");
	tp_inst_exec(sc->src,
				 "ALTER SEQUENCE public.rg_s MINVALUE 100 START 100 RESTART 100;"
				 "ALTER SEQUENCE public.ow_rg_s_seq MINVALUE 200 START 200 RESTART 200;"
				 "ALTER TABLE public.ow_rg ALTER COLUMN id SET MINVALUE 300 SET START 300 RESTART 300;");
	wait_captured(sc, "ow_rg");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_rg (v) VALUES ('narrowed');");
	wait_owned_sequences_equal(sc,
							   "ow_rg.id: integer 1 300 2147483647 300 1 f\n"
							   "ow_rg.s: integer 1 200 2147483647 200 1 f",
							   "ranges narrowed past the values");
	free(wait_same_signature(sc, objects_signature, "objects", "ranges narrowed past the values"));
	tp_inst_exec(sc->src, "SELECT nextval('public.rg_s');");
	wait_same_value(sc, "SELECT last_value FROM public.rg_s",
					"SELECT last_value FROM " APPLY_SCHEMA ".rg_s", "value of rg_s narrowed");

	/* an identity's sequence of another type than its column */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TABLE public.ow_it (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
				 " v text);"
				 "ALTER SEQUENCE public.ow_it_id_seq AS smallint START 5 RESTART 5 MINVALUE 5;"
				 "COMMIT;");
	wait_captured(sc, "ow_it");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_it (v) VALUES ('a'), ('b');");
	wait_owned_sequences_equal(sc,
							   "ow_it.id: smallint 1 5 32767 5 1 f\n"
							   "ow_rg.id: integer 1 300 2147483647 300 1 f\n"
							   "ow_rg.s: integer 1 200 2147483647 200 1 f",
							   "an identity's sequence created of another type");
	tp_inst_exec(sc->src, "ALTER SEQUENCE public.ow_rg_id_seq AS smallint;");
	wait_captured(sc, "ow_rg");
	tp_inst_exec(sc->src, "INSERT INTO public.ow_rg (v) VALUES ('smallint');");
	wait_owned_sequences_equal(sc,
							   "ow_it.id: smallint 1 5 32767 5 1 f\n"
							   "ow_rg.id: smallint 1 300 32767 300 1 f\n"
							   "ow_rg.s: integer 1 200 2147483647 200 1 f",
							   "an identity's sequence changed to another type");

	tp_inst_exec(sc->src, "DROP TABLE public.dc_t, public.ow_rg, public.ow_it;"
				 " DROP SEQUENCE public.rg_s;");
	wait_captured(sc, NULL);
	wait_owned_sequences_equal(sc, "", "sequences of ranges dropped");
	free(wait_same_signature(sc, objects_signature, "objects", "sequences of ranges dropped"));
}

/*
 * Domains and functions created in one poll (one transaction): a domain
 * whose CHECK constraint and default call functions of the schema, a
 * function that takes that domain, a table of it; an older composite type
 * given an attribute of a domain created in the same poll. The target's
 * domain refuses what the source's does. A domain and a function that
 * depend on each other (the function takes the domain, the domain's CHECK
 * calls the function) made in one poll, and dropped in one. The function
 * the domain's CHECK calls dropped with CASCADE (taking the constraint);
 * all dropped in one poll.
 */
static void
step_domain_functions(const scene *sc)
{
	tp_inst_exec(sc->src, "CREATE TYPE public.df_pair AS (a int);");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE FUNCTION public.df_even(int) RETURNS boolean LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT $1 %% 2 = 0';"
				 "CREATE FUNCTION public.df_start() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 42';"
				 "CREATE DOMAIN public.df_evenint AS int DEFAULT public.df_start()"
				 " CONSTRAINT df_evenint_even CHECK (public.df_even(VALUE));"
				 "CREATE FUNCTION public.df_half(public.df_evenint) RETURNS int LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT $1 / 2';"
				 "CREATE DOMAIN public.df_pos AS int CHECK (VALUE > 0);"
				 "ALTER TYPE public.df_pair ADD ATTRIBUTE b public.df_pos;"
				 "CREATE TABLE public.df_t (id int PRIMARY KEY, e public.df_evenint,"
				 " h int DEFAULT public.df_half(8), p public.df_pair);"
				 "COMMIT;");
	wait_captured(sc, "df_t");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.df_t (id, p) VALUES (1, ROW(1, 2));"
				 "INSERT INTO public.df_t (id, e) VALUES (2, 4);");
	wait_objects_equal(sc, "domains calling functions created with them");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".df_t (id, e) VALUES (100, 3)"),
				  "the target's domain does not call its function");

	/*
	 * A cycle made in one poll: a function that takes an array of a domain,
	 * and a CHECK of that domain, added afterwards, that calls it (on a
	 * NULL array: a value of the domain itself would be checked by that
	 * same CHECK, without end); then both dropped in one poll (DROP DOMAIN
	 * ... CASCADE takes the function and the column).
	 */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE DOMAIN public.df_cyc AS int;"
				 "CREATE FUNCTION public.df_cyc_set(public.df_cyc[]) RETURNS boolean"
				 " LANGUAGE sql IMMUTABLE AS 'SELECT $1 IS NOT NULL';"
				 "ALTER DOMAIN public.df_cyc ADD CONSTRAINT df_cyc_nonneg"
				 " CHECK (VALUE >= 0 OR public.df_cyc_set(NULL::public.df_cyc[]));"
				 "CREATE TABLE public.df_c (id int PRIMARY KEY, c public.df_cyc);"
				 "COMMIT;");
	wait_captured(sc, "df_c");
	tp_inst_exec(sc->src, "INSERT INTO public.df_c VALUES (1, 5), (2, NULL);");
	wait_objects_equal(sc, "a domain and a function that depend on each other, made in one poll");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".df_c VALUES (100, -1)"),
				  "the target's domain does not refuse a negative value");
	tp_inst_exec(sc->src, "DROP DOMAIN public.df_cyc CASCADE;");
	wait_captured(sc, "df_c");
	tp_inst_exec(sc->src, "INSERT INTO public.df_c VALUES (3);");
	wait_objects_equal(sc, "a domain and a function that depend on each other, dropped in one poll");

	/* the function dropped with CASCADE: the domain's constraint goes first */
	tp_inst_exec(sc->src, "DROP FUNCTION public.df_even(int) CASCADE;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.df_t (id, e) VALUES (3, 5);");
	wait_objects_equal(sc, "a function dropped with the domain constraint calling it");

	tp_inst_exec(sc->src,
				 "DROP TABLE public.df_t, public.df_c;"
				 " DROP FUNCTION public.df_half(public.df_evenint);"
				 "DROP TYPE public.df_pair; DROP DOMAIN public.df_evenint, public.df_pos;"
				 "DROP FUNCTION public.df_start();");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "domains calling functions dropped");
}

/*
 * Restart the source in the other mode (use_event_triggers toggled),
 * running ddl (SQL, may be NULL) while it is stopped; wait until the new
 * mode's install is done (three event triggers, or none). Stopped in diff
 * mode, nothing sees a schema change until the restart, so rows written
 * after it would come before it: ddl writes no such rows then.
 */
static void
switch_source_mode(scene *sc, const char *ddl)
{
	tp_inst_stop(sc->src);
	if (ddl != NULL)
		tp_inst_exec(sc->src, "%s", ddl);
	sc->event_triggers = !sc->event_triggers;
	configure(sc, true);
	tp_inst_start(sc->src);
	for (int i = 0;; i++)
	{
		char	   *n = tp_inst_value(sc->src, "SELECT count(*) FROM pg_event_trigger");
		bool		done = strcmp(n, sc->event_triggers ? "3" : "0") == 0;

		free(n);
		if (done)
			break;
		if (i == 300)
			tp_scene_fail(&sc->t, "the source never switched modes");
		usleep(100000);
	}
}

/*
 * Changes that give rows values without row events (issue #6): the
 * source sends the table's rows again after the change, so the target
 * holds the source's values, not those of its own evaluation of the
 * change. In one ALTER TABLE: columns added with volatile defaults
 * (clock_timestamp(), random()) and a type changed USING a volatile
 * expression, with writes after it; then a type changed USING an
 * expression that keeps the type (no description changes: the
 * table_rewrite trigger sees it, a comparison the table's storage marks,
 * docs/schema.md). Columns of domains whose defaults are not
 * deterministic (volatile, stable, a sequence's), filled in by them, and
 * one with a constant default of its own over such a domain. A type
 * changed USING an expression where the target's cast fails on its
 * values (text -> int USING length()): the target empties the table and
 * the rows that follow fill it. With hold, first a failure of another
 * kind holds that batch though the rows follow (a view of the target's
 * own over the column), then the same change of a table without a key,
 * whose rows do not follow, holds it, saying why; both are mended on the
 * target by hand, and the batch applies. The same change of a table that
 * a foreign key references, which the target cannot empty: its column is
 * set to NULL (without NOT NULL meanwhile) until the rows that follow
 * replace them; a key column's has the foreign key set aside until the
 * rows are back (a rename of the key meanwhile renames it set aside, a
 * drop forgets it).
 * A key column converted USING an expression to other values that the
 * target's own cast gives: the table is refilled, not upserted over its
 * own values. Tables created with
 * volatile rows by CREATE TABLE AS and SELECT INTO (their rows are
 * copied when the trigger source installs their trigger). Each table is
 * compared row by row (EXCEPT ALL both ways) as well.
 */
static void
step_rewrites(const scene *sc, bool hold)
{
	static const char *const tables[] = {"rw", "ctas", "sinto", NULL};

	tp_inst_exec(sc->src, "CREATE TABLE public.rw (id int PRIMARY KEY, n int, s text);");
	wait_captured(sc, "rw");
	tp_inst_exec(sc->src, "INSERT INTO public.rw SELECT g, g, 's' || g FROM generate_series(1, 30) g;");
	wait_equal(sc, "create rw");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.rw ADD COLUMN at timestamptz NOT NULL DEFAULT clock_timestamp(),"
				 " ADD COLUMN r float8 DEFAULT random(),"
				 " ALTER COLUMN n TYPE bigint USING n * 1000 + (random() * 999)::int;");
	wait_captured(sc, "rw");
	tp_inst_exec(sc->src,
				 "UPDATE public.rw SET s = 'after', r = -1 WHERE id <= 3;"
				 "INSERT INTO public.rw (id, n, s) VALUES (100, 1, 'new');");
	wait_equal(sc, "columns with volatile values");
	tp_inst_exec(sc->src, "ALTER TABLE public.rw ALTER COLUMN s TYPE text"
				 " USING s || '-' || md5(random()::text);"
				 "UPDATE public.rw SET n = -n WHERE id <= 5;");
	wait_equal(sc, "a type changed USING an expression that keeps it");

	/* the sequence in an earlier poll: a domain ranks before it */
	tp_inst_exec(sc->src, "CREATE SEQUENCE public.rw_seq START 500;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "CREATE DOMAIN public.rw_clock AS timestamptz DEFAULT clock_timestamp();"
				 "CREATE DOMAIN public.rw_now AS timestamptz DEFAULT now();"
				 "CREATE DOMAIN public.rw_next AS bigint DEFAULT nextval('public.rw_seq');");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.rw ADD COLUMN dc public.rw_clock, ADD COLUMN dn public.rw_now,"
				 " ADD COLUMN dq public.rw_next,"
				 " ADD COLUMN dk public.rw_clock DEFAULT '2020-01-01 00:00:00+00';");
	wait_equal(sc, "columns filled by their domains' defaults");
	tp_inst_exec(sc->src, "ALTER TABLE public.rw DROP COLUMN dc, DROP COLUMN dn, DROP COLUMN dq,"
				 " DROP COLUMN dk;");
	wait_captured(sc, "rw");
	tp_inst_exec(sc->src, "DROP DOMAIN public.rw_clock, public.rw_now, public.rw_next;"
				 "DROP SEQUENCE public.rw_seq;");

	if (hold)
	{
		/* its row on the target as an initial load would have brought it */
		tp_inst_exec(sc->src, "CREATE TABLE public.rw_nokey (s text);");
		wait_equal(sc, "a table without a key");
		tp_inst_exec(sc->src, "INSERT INTO public.rw_nokey VALUES ('abc');");
		ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
								  "CREATE VIEW " APPLY_SCHEMA ".rw_mine AS SELECT id, s FROM "
								  APPLY_SCHEMA ".rw;"
								  "INSERT INTO " APPLY_SCHEMA ".rw_nokey VALUES ('abc');"));
		tp_inst_exec(sc->src, "ALTER TABLE public.rw ALTER COLUMN s TYPE int USING length(s);"
					 "ALTER TABLE public.rw_nokey ALTER COLUMN s TYPE int USING length(s);");
		wait_held(sc, "cannot alter type of a column used by a view or rule");
		ck_assert(tp_cluster_exec(tgt_cl, TGT_DB, "DROP VIEW " APPLY_SCHEMA ".rw_mine"));
		wait_held(sc, "the source does not send the table's rows again");
		ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
								  "ALTER TABLE " APPLY_SCHEMA ".rw_nokey ALTER COLUMN s TYPE int"
								  " USING length(s)"));
	}
	else
		tp_inst_exec(sc->src, "ALTER TABLE public.rw ALTER COLUMN s TYPE int USING length(s);");
	tp_inst_exec(sc->src, "UPDATE public.rw SET s = -s WHERE id <= 2;");
	wait_equal(sc, "a type change whose cast fails on the target's values");

	/*
	 * A key column converted USING an expression: the target's own cast
	 * succeeds with other values, and the rows that follow, upserted on
	 * the key, would add to them; the table is emptied for them instead
	 */
	tp_inst_exec(sc->src, "ALTER TABLE public.rw ALTER COLUMN id TYPE bigint USING id * 10;"
				 "UPDATE public.rw SET n = n + 1 WHERE id = 10;");
	wait_equal(sc, "a key column converted to other values");
	if (hold)
	{
		ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "rw_nokey"), 1);
		tp_inst_exec(sc->src, "DROP TABLE public.rw_nokey;");
	}

	/*
	 * The same where the target cannot empty the table (a foreign key
	 * references it): the column is set to NULL in its rows (a NOT NULL
	 * one loses its NOT NULL meanwhile, marked), the rows that follow
	 * replace them, and the NOT NULL comes back. A key column cannot be
	 * set to NULL: the foreign key is set aside while the table is
	 * emptied and refilled (its options come back with it: the schemas'
	 * comparison checks its definition). Here a child of the target's own
	 * (and its parent, which the source lacks) keeps it set aside past
	 * the refill; the source renames the key meanwhile, which renames it
	 * set aside (keeping its time: set aside two hours ago, the batch's end
	 * warns, naming the row), then remakes it (no longer deferrable: set
	 * aside as remade); once that child goes, the next batch puts the key
	 * back, validated, under its new name and definition.
	 */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.rw_parent (code text PRIMARY KEY, id int NOT NULL UNIQUE,"
				 " label text NOT NULL, note text);"
				 "CREATE TABLE public.rw_child (id int PRIMARY KEY,"
				 " parent int NOT NULL REFERENCES public.rw_parent (id)"
				 "  ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED);");
	wait_captured(sc, "rw_child");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.rw_parent SELECT 'c' || g, g, 'l' || g, 'n' || g"
				 " FROM generate_series(1, 10) g;"
				 "INSERT INTO public.rw_child SELECT g, 1 + g %% 10 FROM generate_series(1, 20) g;");
	wait_equal(sc, "a table that a foreign key references");
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
							  "INSERT INTO " APPLY_SCHEMA ".rw_parent VALUES ('c999', 999, 'l', 'n');"
							  "INSERT INTO " APPLY_SCHEMA ".rw_child VALUES (999, 999);"));
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_parent ALTER COLUMN code TYPE int"
				 " USING substr(code, 2)::int;"
				 "INSERT INTO public.rw_parent VALUES (11, 11, 'l11', 'n11');"
				 "INSERT INTO public.rw_child VALUES (30, 11);");
	tp_inst_wait_true(sc->tgt, "SELECT (SELECT count(*) FROM " APPLY_SCHEMA ".rw_parent) = 11"
					  " AND (SELECT count(*) FROM " APPLY_SCHEMA ".rw_child) = 22"
					  " AND (SELECT array_agg(name) FROM teleport.set_aside_foreign_key)"
					  "  = '{rw_child_parent_fkey}'"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conrelid = '" APPLY_SCHEMA ".rw_child'::regclass AND contype = 'f')",
					  "a key column's conversion did not set the foreign key aside and "
					  "refill the table");
	/* as if set aside two hours ago: the next batch's end warns, naming the row */
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB, "UPDATE teleport.set_aside_foreign_key"
							  " SET set_at = set_at - interval '2 hours'"));
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_child RENAME CONSTRAINT rw_child_parent_fkey"
				 " TO rw_child_parent_fk;"
				 "INSERT INTO public.rw_child VALUES (31, 2);");
	tp_inst_wait_true(sc->tgt, "SELECT (SELECT count(*) FROM " APPLY_SCHEMA ".rw_child) = 23"
					  " AND (SELECT array_agg(name) FROM teleport.set_aside_foreign_key"
					  "  WHERE set_at < now() - interval '1 hour' AND warned_at IS NOT NULL)"
					  "  = '{rw_child_parent_fk}'"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conrelid = '" APPLY_SCHEMA ".rw_child'::regclass AND contype = 'f')",
					  "the rename of a foreign key set aside did not rename it set aside, "
					  "keeping its time, with a warning");
	{
		char	   *log = tp_read_file(sc->tgt->log);

		ck_assert_msg(log != NULL && strstr(log, "foreign key rw_child_parent_fk of "
											APPLY_SCHEMA ".rw_child set aside since") != NULL &&
					  strstr(log, "(parent)=(999)") != NULL,
					  "no warning for a foreign key kept aside by a row");
		free(log);
	}
	/* remade (its key changes) while set aside: set aside again as it is now */
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_child ALTER CONSTRAINT rw_child_parent_fk"
				 " NOT DEFERRABLE;");
	tp_inst_wait_true(sc->tgt, "SELECT (SELECT array_agg(name || options)"
					  "  FROM teleport.set_aside_foreign_key WHERE set_at < now() - interval '1 hour')"
					  "  = '{\"rw_child_parent_fk ON DELETE CASCADE\"}'"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conrelid = '" APPLY_SCHEMA ".rw_child'::regclass AND contype = 'f')",
					  "a foreign key set aside and remade on the source was not set aside "
					  "as remade");
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
							  "DELETE FROM " APPLY_SCHEMA ".rw_child WHERE id = 999"));
	tp_inst_exec(sc->src, "INSERT INTO public.rw_child VALUES (32, 3);");
	wait_equal(sc, "a key column's type change under a foreign key");
	tp_inst_wait_true(sc->tgt, "SELECT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conrelid = '" APPLY_SCHEMA ".rw_child'::regclass AND contype = 'f'"
					  "  AND conname = 'rw_child_parent_fk' AND convalidated)"
					  " AND NOT EXISTS (SELECT 1 FROM teleport.set_aside_foreign_key)",
					  "the foreign key set aside did not come back");

	/* set aside again, and dropped on the source meanwhile: forgotten */
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
							  "INSERT INTO " APPLY_SCHEMA ".rw_parent VALUES (999, 999, 'l', 'n');"
							  "INSERT INTO " APPLY_SCHEMA ".rw_child VALUES (999, 999);"));
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_parent ALTER COLUMN code TYPE bigint"
				 " USING code * 10;");
	tp_inst_wait_true(sc->tgt, "SELECT (SELECT array_agg(name) FROM teleport.set_aside_foreign_key)"
					  "  = '{rw_child_parent_fk}'"
					  " AND NOT EXISTS (SELECT 1 FROM " APPLY_SCHEMA ".rw_parent WHERE id = 999)",
					  "a key column's conversion did not set the foreign key aside");
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_child DROP CONSTRAINT rw_child_parent_fk;");
	tp_inst_wait_true(sc->tgt, "SELECT NOT EXISTS (SELECT 1 FROM teleport.set_aside_foreign_key)"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conrelid = '" APPLY_SCHEMA ".rw_child'::regclass AND contype = 'f')",
					  "a foreign key set aside and dropped on the source was not forgotten");
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
							  "DELETE FROM " APPLY_SCHEMA ".rw_child WHERE id = 999"));
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_child ADD CONSTRAINT rw_child_parent_fk"
				 " FOREIGN KEY (parent) REFERENCES public.rw_parent (id);");
	wait_equal(sc, "a foreign key set aside, dropped and made again");
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_parent ALTER COLUMN label TYPE int"
				 " USING length(label), ALTER COLUMN note TYPE int USING length(note),"
				 " ALTER COLUMN note SET NOT NULL;"
				 "UPDATE public.rw_parent SET label = -label WHERE id <= 2;"
				 "INSERT INTO public.rw_child VALUES (21, 3);");
	wait_equal(sc, "a type change whose cast fails on a table that a foreign key references");
	tp_inst_wait_true(sc->tgt, "SELECT (SELECT bool_and(attnotnull) FROM pg_attribute"
					  " WHERE attrelid = '" APPLY_SCHEMA ".rw_parent'::regclass"
					  " AND attname IN ('label', 'note'))"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conname LIKE 'teleport\\_not\\_null\\_%')",
					  "the target's columns did not get their NOT NULL back");

	/*
	 * A marker still waiting (made here as the conversion leaves it, on
	 * note, attnum 4) when the source drops the NOT NULL goes with it,
	 * before the rows that follow: a NULL written next would fail its check
	 */
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB,
							  "ALTER TABLE " APPLY_SCHEMA ".rw_parent ALTER COLUMN note DROP NOT NULL,"
							  " ADD CONSTRAINT teleport_not_null_4 CHECK (note IS NOT NULL) NOT VALID"));
	tp_inst_exec(sc->src, "ALTER TABLE public.rw_parent ALTER COLUMN note DROP NOT NULL;"
				 "UPDATE public.rw_parent SET note = NULL WHERE id = 1;");
	wait_equal(sc, "a NOT NULL dropped while its marker waits");
	tp_inst_wait_true(sc->tgt, "SELECT NOT (SELECT attnotnull FROM pg_attribute"
					  " WHERE attrelid = '" APPLY_SCHEMA ".rw_parent'::regclass AND attname = 'note')"
					  " AND NOT EXISTS (SELECT 1 FROM pg_constraint"
					  "  WHERE conname LIKE 'teleport\\_not\\_null\\_%')",
					  "the marker stayed after the source dropped the NOT NULL");
	tp_inst_exec(sc->src, "DROP TABLE public.rw_child, public.rw_parent;");

	tp_inst_exec(sc->src,
				 "CREATE TABLE public.ctas AS SELECT g AS id, clock_timestamp() AS at, random() AS r"
				 " FROM generate_series(1, 25) g;"
				 "ALTER TABLE public.ctas ADD PRIMARY KEY (id);");
	tp_inst_exec(sc->src,
				 "SELECT g AS id, md5(random()::text) AS m INTO public.sinto"
				 " FROM generate_series(1, 25) g;"
				 "ALTER TABLE public.sinto ADD PRIMARY KEY (id);");
	wait_captured(sc, "ctas");
	wait_captured(sc, "sinto");
	tp_inst_exec(sc->src, "UPDATE public.ctas SET r = 2 WHERE id = 1;");
	wait_equal(sc, "CREATE TABLE AS and SELECT INTO");
	ck_assert_int_eq(tp_inst_compare_all(sc->src, "public", sc->tgt, APPLY_SCHEMA, tables),
					 31 + 25 + 25);
}

/*
 * The rows of table (qualified) on in: count and md5 of their text; NULL
 * when the table is missing.
 */
static char *
rows_of(const tp_inst *in, const char *table)
{
	return tp_inst_try_value(in, "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text,"
							 " ',' ORDER BY r::text)), '') FROM %s r", table);
}

/*
 * Wait until the target's fresh.T has the rows of the source's extra.T
 * (partitioned tables are left out of wait_equal's signatures, whose
 * partitions the target does not have), within 60 s.
 */
static void
wait_rows(const scene *sc, const char *table, const char *step)
{
	char		src_table[128];
	char		tgt_table[128];
	char	   *sv = NULL;
	char	   *tv = NULL;
	bool		same = false;

	snprintf(src_table, sizeof(src_table), "extra.%s", table);
	snprintf(tgt_table, sizeof(tgt_table), "fresh.%s", table);
	for (double end = tp_deadline(120); !same && tp_before(end);)
	{
		free(sv);
		free(tv);
		sv = rows_of(sc->src, src_table);
		tv = rows_of(sc->tgt, tgt_table);
		same = sv != NULL && tv != NULL && strcmp(sv, tv) == 0;
		if (!same)
			usleep(100000);
	}
	if (!same)
	{
		char	   *sr = tp_inst_try_value(sc->src, "SELECT string_agg(r::text, ' ' ORDER BY r::text)"
										   " FROM %s r", src_table);
		char	   *tr = tp_inst_try_value(sc->tgt, "SELECT string_agg(r::text, ' ' ORDER BY r::text)"
										   " FROM %s r", tgt_table);

		fprintf(stderr, "after %s: %s\n-- source: %s\n%s\n-- target: %s\n%s\n", step, table,
				sv ? sv : "(missing)", sr ? sr : "", tv ? tv : "(missing)", tr ? tr : "");
		free(sr);
		free(tr);
		tp_scene_fail(&sc->t, "the target's rows do not match the source's");
	}
	free(sv);
	free(tv);
}

/* Wait until the target has no table fresh.T any more, within 60 s. */
static void
wait_dropped(const scene *sc, const char *table, const char *step)
{
	for (double end = tp_deadline(120); tp_before(end);)
	{
		char	   *v = tp_inst_value(sc->tgt, "SELECT to_regclass('fresh.%s') IS NULL", table);
		bool		done = strcmp(v, "t") == 0;

		free(v);
		if (done)
			return;
		usleep(100000);
	}
	fprintf(stderr, "after %s: fresh.%s is still there\n", step, table);
	tp_scene_fail(&sc->t, "a table that became a partition was not dropped on the target");
}

/*
 * The capture triggers of extra's tables pa, pn and pc that are their own
 * (not cloned from a partitioned table), and the trigger source's record of
 * them: none once they are partitions.
 */
#define OWN_CAPTURE_SQL \
	"SELECT (SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid" \
	"  JOIN pg_namespace n ON n.oid = c.relnamespace" \
	"  WHERE n.nspname = 'extra' AND c.relname IN ('pa', 'pn', 'pc')" \
	"  AND g.tgparentid = 0 AND g.tgname LIKE 'teleport%%')" \
	" + (SELECT count(*) FROM teleport.trigger_table" \
	"  WHERE schema_name = 'extra' AND table_name IN ('pa', 'pn', 'pc'))"

/* The row events of the queue filed under extra.T whose v is V. */
#define ROW_EVENTS_SQL \
	"SELECT count(*) FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1" \
	" UNION ALL SELECT * FROM teleport.event_2) e" \
	" WHERE op IN ('c', 'u') AND schema_name = 'extra' AND table_name = '%s'" \
	" AND after ->> 'v' = '%s'"

/*
 * Partitions (issue #6): a partitioned table is an ordinary table on the
 * target, its partitions' rows under its name. Tables attached as
 * partitions: one captured on its own (its own capture trigger would
 * clash with the one cloned from the partitioned table), one without a
 * key (never captured) and one created, filled and attached in one
 * transaction; written right after (in diff mode still captured under
 * their own name until the comparison drops their triggers), their rows
 * reach the target's table, their own copies are dropped there, and rows
 * written later are captured once, under the partitioned table's name.
 * Detached (also CONCURRENTLY) their rows leave the target's table (by
 * the partition's constraint) and come back as a table of their own; a
 * partition detached and dropped at once, and one dropped, take their
 * rows with them; a partition created later and written; a partitioned
 * table captured as a root of its own attached (its row trigger and the
 * clone of the other's are named with their roots' OIDs), written, and
 * detached again. In schema extra
 * (the target's "fresh"), since wait_equal's signatures would list the
 * source's partitions.
 */
static void
step_partitions(const scene *sc)
{
	char	   *v;

	tp_inst_exec(sc->src,
				 "CREATE TABLE extra.pr (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
				 "CREATE TABLE extra.pr_1 PARTITION OF extra.pr FOR VALUES FROM (0) TO (100);"
				 "CREATE TABLE extra.pa (id int PRIMARY KEY, v text);"
				 "CREATE TABLE extra.pn (id int NOT NULL, v text);");
	wait_captured(sc, "pr");
	wait_captured(sc, "pa");
	tp_inst_exec(sc->src,
				 "INSERT INTO extra.pr SELECT g, 'p' || g FROM generate_series(1, 40) g;"
				 "INSERT INTO extra.pa SELECT g, 'a' || g FROM generate_series(100, 130) g;"
				 "INSERT INTO extra.pn SELECT g, 'n' || g FROM generate_series(200, 220) g;");
	wait_rows(sc, "pr", "a partitioned table");
	wait_rows(sc, "pa", "a table to attach");

	tp_inst_exec(sc->src, "ALTER TABLE extra.pr ATTACH PARTITION extra.pa FOR VALUES FROM (100) TO (200);");
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr ATTACH PARTITION extra.pn FOR VALUES FROM (200) TO (300);");
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TABLE extra.pc (id int PRIMARY KEY, v text);"
				 "INSERT INTO extra.pc SELECT g, 'c' || g FROM generate_series(300, 310) g;"
				 "ALTER TABLE extra.pr ATTACH PARTITION extra.pc FOR VALUES FROM (300) TO (400);"
				 "COMMIT;");
	tp_inst_exec(sc->src,
				 "INSERT INTO extra.pr VALUES (150, 'new'), (250, 'new');"
				 "UPDATE extra.pr SET v = v || '!' WHERE id IN (5, 101, 201, 301);"
				 "DELETE FROM extra.pa WHERE id = 102;"
				 "UPDATE extra.pn SET v = 'direct' WHERE id = 202;");
	wait_captured(sc, NULL);
	wait_rows(sc, "pr", "tables attached as partitions");
	wait_dropped(sc, "pa", "attached");
	wait_dropped(sc, "pn", "attached");
	wait_dropped(sc, "pc", "attached");
	v = tp_inst_value(sc->src, OWN_CAPTURE_SQL);
	ck_assert_msg(strcmp(v, "0") == 0, "own capture triggers or records left on partitions: %s", v);
	free(v);
	tp_inst_exec(sc->src, "UPDATE extra.pr SET v = 'once' WHERE id = 103;"
				 "UPDATE extra.pa SET v = 'once' WHERE id = 104;");
	wait_rows(sc, "pr", "rows of partitions written");
	v = tp_inst_value(sc->src, ROW_EVENTS_SQL, "pr", "once");
	ck_assert_str_eq(v, "2");
	free(v);
	v = tp_inst_value(sc->src, ROW_EVENTS_SQL, "pa", "once");
	ck_assert_str_eq(v, "0");
	free(v);

	/* detached: its rows leave the target's table and come back as a table */
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr DETACH PARTITION extra.pa;");
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr DETACH PARTITION extra.pn CONCURRENTLY;");
	wait_captured(sc, "pa");
	tp_inst_exec(sc->src,
				 "INSERT INTO extra.pa VALUES (199, 'detached');"
				 "UPDATE extra.pa SET v = 'after detach' WHERE id = 105;"
				 "INSERT INTO extra.pr VALUES (66, 'sixty-six');");
	wait_rows(sc, "pr", "partitions detached");
	wait_rows(sc, "pa", "a partition detached");
	/* it keeps the key its partition index gave it */
	wait_captured(sc, "pn");
	wait_rows(sc, "pn", "a partition detached concurrently");

	/* detached and dropped at once; a partition dropped; one created */
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr DETACH PARTITION extra.pc; DROP TABLE extra.pc;");
	tp_inst_exec(sc->src, "DROP TABLE extra.pr_1;");
	tp_inst_exec(sc->src, "CREATE TABLE extra.pr_2 PARTITION OF extra.pr FOR VALUES FROM (400) TO (500);"
				 "INSERT INTO extra.pr SELECT g, 'q' || g FROM generate_series(400, 410) g;");
	wait_captured(sc, NULL);
	wait_rows(sc, "pr", "partitions dropped and created");
	v = tp_inst_value(sc->tgt, "SELECT count(*) FROM fresh.pr");
	ck_assert_str_eq(v, "11");
	free(v);

	/*
	 * a partitioned table captured as a root of its own (one partition
	 * hash-partitioned) attached, written at once; later written once,
	 * under pr's name; detached, a root of its own again
	 */
	tp_inst_exec(sc->src,
				 "CREATE TABLE extra.pt (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);"
				 "CREATE TABLE extra.pt_1 PARTITION OF extra.pt FOR VALUES FROM (500) TO (550);"
				 "CREATE TABLE extra.pt_2 PARTITION OF extra.pt FOR VALUES FROM (550) TO (600)"
				 " PARTITION BY HASH (id);"
				 "CREATE TABLE extra.pt_2a PARTITION OF extra.pt_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
				 "CREATE TABLE extra.pt_2b PARTITION OF extra.pt_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);");
	wait_captured(sc, "pt");
	tp_inst_exec(sc->src, "INSERT INTO extra.pt SELECT g, 't' || g FROM generate_series(500, 599) g;");
	wait_rows(sc, "pt", "a partitioned table to attach");
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr ATTACH PARTITION extra.pt FOR VALUES FROM (500) TO (600);");
	tp_inst_exec(sc->src,
				 "UPDATE extra.pr SET v = v || '!' WHERE id IN (501, 560, 561);"
				 "UPDATE extra.pt SET v = v || '?' WHERE id IN (502, 562);"
				 "DELETE FROM extra.pt_2b WHERE id IN (SELECT min(id) FROM extra.pt_2b);");
	wait_captured(sc, NULL);
	wait_rows(sc, "pr", "a partitioned table attached");
	wait_dropped(sc, "pt", "attached");
	v = tp_inst_value(sc->src, "SELECT (SELECT count(*) FROM pg_trigger g"
					  "  JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
					  "  WHERE n.nspname = 'extra' AND c.relname LIKE 'pt%%' AND g.tgname LIKE 'teleport%%'"
					  "  AND g.tgname <> 'teleport_capture_root_' || 'extra.pr'::regclass::oid)"
					  " + (SELECT count(*) FROM teleport.trigger_table WHERE table_name LIKE 'pt%%')");
	ck_assert_msg(strcmp(v, "0") == 0, "own capture triggers or records left on pt: %s", v);
	free(v);
	tp_inst_exec(sc->src, "UPDATE extra.pt SET v = 'nested' WHERE id IN (503, 563, 564);");
	wait_rows(sc, "pr", "rows of an attached partitioned table written");
	v = tp_inst_value(sc->src, ROW_EVENTS_SQL, "pr", "nested");
	ck_assert_str_eq(v, "3");
	free(v);
	v = tp_inst_value(sc->src, ROW_EVENTS_SQL, "pt", "nested");
	ck_assert_str_eq(v, "0");
	free(v);
	tp_inst_exec(sc->src, "ALTER TABLE extra.pr DETACH PARTITION extra.pt;");
	wait_captured(sc, "pt");
	tp_inst_exec(sc->src, "UPDATE extra.pt SET v = 'detached' WHERE id = 504;");
	wait_rows(sc, "pr", "a partitioned table detached");
	wait_rows(sc, "pt", "a partitioned table detached");

	tp_inst_exec(sc->src, "DROP TABLE extra.pr, extra.pa, extra.pn, extra.pt;");
	wait_dropped(sc, "pr", "dropped");
	wait_dropped(sc, "pa", "dropped");
	wait_dropped(sc, "pn", "dropped");
	wait_dropped(sc, "pt", "dropped");
}

/*
 * The rows of the source's extra.T that the target's fresh.T lacks, and
 * those it has more, compared with EXCEPT on the target (the source's rows
 * sent as a text[] literal of their text): "0 0" when they are equal.
 */
static char *
rows_except(const scene *sc, const char *table)
{
	char	   *lit = tp_inst_value(sc->src, "SELECT quote_literal(coalesce(array_agg(r::text),"
									" '{}')::text) FROM extra.%s r", table);
	char	   *v = tp_inst_value(sc->tgt,
								  "SELECT (SELECT count(*) FROM (SELECT unnest(%s::text[])"
								  "  EXCEPT SELECT r::text FROM fresh.%s r) x)"
								  " || ' ' || (SELECT count(*) FROM (SELECT r::text FROM fresh.%s r"
								  "  EXCEPT SELECT unnest(%s::text[])) y)", lit, table, table, lit);

	free(lit);
	return v;
}

/*
 * Hash partitions (issue #6): their constraint calls
 * satisfies_hash_partition with the source's parent's OID; the target
 * computes it with a temporary table of the same key. A key of two
 * columns (one text with a collation) and a hash-partitioned partition
 * under it: a partition detached, one detached CONCURRENTLY, a
 * sub-partition dropped (two hashes in its constraint), a partition
 * dropped; the target's table keeps exactly the source's rows (EXCEPT
 * both ways), the detached ones come back as tables. A key of an
 * expression (lower(k), no primary key: REPLICA IDENTITY FULL), a
 * partition dropped. A key of an enum
 * (hashed by its OID, which the target's type does not share): the
 * dropped partition's rows stay on the target, with a warning.
 */
static void
step_hash_partitions(const scene *sc)
{
	char	   *v;
	char	   *log;

	tp_inst_exec(sc->src,
				 "CREATE TABLE extra.ph (id int, k text COLLATE \"C\", v text, PRIMARY KEY (id, k))"
				 " PARTITION BY HASH (id, k);"
				 "CREATE TABLE extra.ph_0 PARTITION OF extra.ph FOR VALUES WITH (MODULUS 4, REMAINDER 0);"
				 "CREATE TABLE extra.ph_1 PARTITION OF extra.ph FOR VALUES WITH (MODULUS 4, REMAINDER 1);"
				 "CREATE TABLE extra.ph_2 PARTITION OF extra.ph FOR VALUES WITH (MODULUS 4, REMAINDER 2)"
				 " PARTITION BY HASH (k);"
				 "CREATE TABLE extra.ph_2a PARTITION OF extra.ph_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
				 "CREATE TABLE extra.ph_2b PARTITION OF extra.ph_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);"
				 "CREATE TABLE extra.ph_3 PARTITION OF extra.ph FOR VALUES WITH (MODULUS 4, REMAINDER 3);"
				 "CREATE TABLE extra.px (id int NOT NULL, k text) PARTITION BY HASH (lower(k));"
				 "ALTER TABLE extra.px REPLICA IDENTITY FULL;"
				 "CREATE TABLE extra.px_0 PARTITION OF extra.px FOR VALUES WITH (MODULUS 3, REMAINDER 0);"
				 "CREATE TABLE extra.px_1 PARTITION OF extra.px FOR VALUES WITH (MODULUS 3, REMAINDER 1);"
				 "CREATE TABLE extra.px_2 PARTITION OF extra.px FOR VALUES WITH (MODULUS 3, REMAINDER 2);"
				 "CREATE TYPE extra.hue AS ENUM ('red', 'green', 'blue');"
				 "CREATE TABLE extra.pe (id int, c extra.hue, PRIMARY KEY (id, c)) PARTITION BY HASH (c);"
				 "CREATE TABLE extra.pe_0 PARTITION OF extra.pe FOR VALUES WITH (MODULUS 2, REMAINDER 0);"
				 "CREATE TABLE extra.pe_1 PARTITION OF extra.pe FOR VALUES WITH (MODULUS 2, REMAINDER 1);");
	wait_captured(sc, "ph");
	wait_captured(sc, "pe");
	wait_captured(sc, "px");
	tp_inst_exec(sc->src,
				 "INSERT INTO extra.ph SELECT g, 'k' || g %% 37, 'h' || g FROM generate_series(1, 300) g;"
				 "INSERT INTO extra.px SELECT g, 'X' || g FROM generate_series(1, 90) g;"
				 "INSERT INTO extra.pe SELECT g, (ARRAY['red', 'green', 'blue'])[g %% 3 + 1]::extra.hue"
				 " FROM generate_series(1, 30) g;");
	wait_rows(sc, "ph", "a hash-partitioned table");
	wait_rows(sc, "pe", "a table hash-partitioned by an enum");
	wait_rows(sc, "px", "a table hash-partitioned by an expression");
	v = tp_inst_value(sc->src, "SELECT (SELECT count(*) > 0 FROM extra.ph_0) AND (SELECT count(*) > 0"
					  " FROM extra.ph_1) AND (SELECT count(*) > 0 FROM extra.ph_2b)"
					  " AND (SELECT count(*) > 0 FROM extra.ph_3)");
	ck_assert_str_eq(v, "t");
	free(v);

	tp_inst_exec(sc->src, "ALTER TABLE extra.ph DETACH PARTITION extra.ph_0;");
	tp_inst_exec(sc->src, "ALTER TABLE extra.ph DETACH PARTITION extra.ph_1 CONCURRENTLY;");
	tp_inst_exec(sc->src, "DROP TABLE extra.ph_2b;");
	tp_inst_exec(sc->src, "DROP TABLE extra.px_1;");
	wait_captured(sc, "ph_0");
	wait_captured(sc, "ph_1");
	wait_rows(sc, "ph", "hash partitions detached and dropped");
	wait_rows(sc, "ph_0", "a hash partition detached");
	wait_rows(sc, "ph_1", "a hash partition detached concurrently");
	v = rows_except(sc, "ph");
	ck_assert_str_eq(v, "0 0");
	free(v);
	wait_rows(sc, "px", "a partition of an expression's hash dropped");
	v = rows_except(sc, "px");
	ck_assert_str_eq(v, "0 0");
	free(v);
	tp_inst_exec(sc->src, "DROP TABLE extra.ph_3;"
				 "INSERT INTO extra.ph_2a SELECT g, 'k' || g, 'late' FROM generate_series(1000, 1300) g"
				 " WHERE satisfies_hash_partition('extra.ph'::regclass, 4, 2, g, 'k' || g)"
				 " AND satisfies_hash_partition('extra.ph_2'::regclass, 2, 0, 'k' || g);");
	wait_captured(sc, NULL);
	wait_rows(sc, "ph", "a hash partition dropped");
	v = rows_except(sc, "ph");
	ck_assert_str_eq(v, "0 0");
	free(v);

	/* an enum's hash is its OID's: refused, the rows stay, with a warning */
	{
		/* the partition with rows: where the labels go depends on their OIDs */
		char	   *part = tp_inst_value(sc->src, "SELECT CASE WHEN EXISTS (SELECT 1 FROM extra.pe_0)"
										 " THEN 'pe_0' ELSE 'pe_1' END");

		v = tp_inst_value(sc->src, "SELECT count(*) FROM extra.%s", part);
		ck_assert_str_ne(v, "0");
		tp_inst_exec(sc->src, "DROP TABLE extra.%s;", part);
		free(part);
	}
	wait_captured(sc, NULL);
	for (double end = tp_deadline(120);;)
	{
		bool		done;

		log = tp_read_file(sc->tgt->log);
		done = log != NULL && tp_count(log, "its hash partition key cannot be computed on the target") > 0;
		free(log);
		if (done)
			break;
		if (!tp_before(end))
			tp_scene_fail(&sc->t, "no warning for the rows of an enum-keyed hash partition dropped");
		usleep(100000);
	}
	{
		char	   *n = tp_inst_value(sc->tgt, "SELECT count(*) FROM fresh.pe");
		char	   *m = tp_inst_value(sc->src, "SELECT count(*) + %s FROM extra.pe", v);

		ck_assert_msg(strcmp(n, m) == 0, "the target has %s rows of pe, not %s", n, m);
		free(n);
		free(m);
	}
	free(v);

	tp_inst_exec(sc->src, "DROP TABLE extra.ph, extra.ph_0, extra.ph_1, extra.pe, extra.px;"
				 "DROP TYPE extra.hue;");
	wait_dropped(sc, "ph", "dropped");
	wait_dropped(sc, "px", "dropped");
	wait_dropped(sc, "pe", "dropped");
}

/*
 * Unique, check and foreign-key constraints: created with their tables in
 * one poll (after both tables), a row the source's foreign key rejects
 * never reaches the target (which rejects it too), a cascade, a rename of
 * a constraint and of a column it uses (the target's constraint stays the
 * same object), NOT VALID then VALIDATE, drops (and a referenced table
 * dropped with CASCADE).
 */
static void
constraint_steps(const scene *sc)
{
	char	   *oid_before;
	char	   *oid_after;

	tp_inst_exec(sc->src,
				 "CREATE TABLE public.parent (id int PRIMARY KEY, code text);"
				 "CREATE TABLE public.child (id int PRIMARY KEY, parent_id int, qty int,"
				 " CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES public.parent (id)"
				 "  ON DELETE CASCADE DEFERRABLE,"
				 " CONSTRAINT child_qty_check CHECK (qty > 0));"
				 "ALTER TABLE public.parent ADD CONSTRAINT parent_code_key UNIQUE (code);");
	wait_captured(sc, "child");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.parent SELECT g, 'c' || g FROM generate_series(1, 10) g;"
				 "INSERT INTO public.child SELECT g, g %% 10 + 1, g FROM generate_series(1, 30) g;");
	wait_equal(sc, "constraints created");
	ck_assert_msg(!tp_cluster_exec(src_cl, SRC_DB,
								   "INSERT INTO public.child VALUES (100, 999, 1)"),
				  "the source took a row its foreign key forbids");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".child VALUES (100, 999, 1)"),
				  "the target has no foreign key");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".child VALUES (100, 1, -1)"),
				  "the target has no check constraint");
	tp_inst_exec(sc->src, "DELETE FROM public.parent WHERE id <= 2;"
				 "INSERT INTO public.child VALUES (101, 5, 7);");
	wait_equal(sc, "foreign key cascade");

	oid_before = tp_inst_value(sc->tgt, "SELECT oid FROM pg_constraint"
							   " WHERE conname = 'child_qty_check'");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.child RENAME CONSTRAINT child_parent_fk TO child_parent_ref;"
				 "ALTER TABLE public.child RENAME COLUMN qty TO quantity;");
	wait_captured(sc, "child");
	tp_inst_exec(sc->src, "INSERT INTO public.child VALUES (102, 6, 3);");
	wait_equal(sc, "constraint and column renamed");
	oid_after = tp_inst_value(sc->tgt, "SELECT oid FROM pg_constraint"
							  " WHERE conname = 'child_qty_check'");
	ck_assert_str_eq(oid_before, oid_after);
	free(oid_before);
	free(oid_after);

	tp_inst_exec(sc->src, "UPDATE public.child SET quantity = 5000 WHERE id = 30;"
				 "ALTER TABLE public.child ADD CONSTRAINT child_qty_small"
				 " CHECK (quantity < 1000) NOT VALID;");
	wait_equal(sc, "constraint NOT VALID");
	tp_inst_exec(sc->src, "UPDATE public.child SET quantity = 500 WHERE id = 30;");
	wait_equal(sc, "row fixed before VALIDATE");
	tp_inst_exec(sc->src, "ALTER TABLE public.child VALIDATE CONSTRAINT child_qty_small;");
	wait_equal(sc, "constraint validated");

	/* rows the target takes only without the constraint: once it is captured */
	tp_inst_exec(sc->src, "ALTER TABLE public.parent DROP CONSTRAINT parent_code_key;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.parent VALUES (11, 'c3');");
	wait_equal(sc, "unique constraint dropped");
	tp_inst_exec(sc->src, "DROP TABLE public.parent CASCADE;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.child VALUES (103, 999, 1);");
	wait_equal(sc, "referenced table dropped with CASCADE");
	tp_inst_exec(sc->src, "DROP TABLE public.child;");
	wait_equal(sc, "constrained table dropped");
}

/*
 * Exclusion constraints (gist over a range, no extension needed): created
 * with their table, with a predicate; the target refuses what the source
 * refuses; the constraint and the column it uses renamed (the target's
 * constraint stays the same object); dropped, another added later (with
 * an expression), the table dropped.
 */
static void
exclusion_steps(const scene *sc)
{
	char	   *oid_before;
	char	   *oid_after;

	tp_inst_exec(sc->src,
				 "CREATE TABLE public.booking (id int PRIMARY KEY, room int NOT NULL, during int4range,"
				 " CONSTRAINT booking_no_overlap EXCLUDE USING gist (during WITH &&) WHERE (room > 0));");
	wait_captured(sc, "booking");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.booking VALUES (1, 1, '[1,5)'), (2, 1, '[5,9)'), (3, 0, '[1,5)');");
	wait_objects_equal(sc, "exclusion constraint created");
	ck_assert_msg(!tp_cluster_exec(src_cl, SRC_DB,
								   "INSERT INTO public.booking VALUES (100, 2, '[3,4)')"),
				  "the source took a row its exclusion constraint forbids");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".booking VALUES (100, 2, '[3,4)')"),
				  "the target has no exclusion constraint");

	oid_before = tp_inst_value(sc->tgt, "SELECT oid FROM pg_constraint"
							   " WHERE conname = 'booking_no_overlap'");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.booking RENAME CONSTRAINT booking_no_overlap TO booking_excl;"
				 "ALTER TABLE public.booking RENAME COLUMN during TO span;");
	wait_captured(sc, "booking");
	tp_inst_exec(sc->src, "INSERT INTO public.booking VALUES (4, 2, '[9,12)');");
	wait_objects_equal(sc, "exclusion constraint and its column renamed");
	oid_after = tp_inst_value(sc->tgt, "SELECT oid FROM pg_constraint"
							  " WHERE conname = 'booking_excl'");
	ck_assert_str_eq(oid_before, oid_after);
	free(oid_before);
	free(oid_after);

	/* rows the target takes only without the constraint: once it is captured */
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.booking DROP CONSTRAINT booking_excl;"
				 "ALTER TABLE public.booking ADD CONSTRAINT booking_span_excl"
				 " EXCLUDE USING gist (span WITH &&, int4range(room, room, '[]') WITH &&);");
	wait_captured(sc, "booking");
	tp_inst_exec(sc->src, "INSERT INTO public.booking VALUES (5, 3, '[1,20)');");
	wait_objects_equal(sc, "exclusion constraint dropped and another added");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".booking VALUES (100, 3, '[2,3)')"),
				  "the target has no new exclusion constraint");
	tp_inst_exec(sc->src, "DROP TABLE public.booking;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "table with an exclusion constraint dropped");
}

/*
 * Functions and procedures: created in the poll of the table whose
 * default and checks call them (functions come first), bodies that rely on
 * the caller's search_path (plpgsql and SQL) or set their own, working in
 * the target's schema when the applier's inserts run the checks; a
 * procedure called on the target; replaced (body, volatility, security,
 * an argument's default); a SQL-standard body; renamed (the default that
 * calls it follows); dropped.
 */
static void
function_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.allowed (prefix text PRIMARY KEY);"
				 "CREATE FUNCTION public.positive(v int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE"
				 " AS $$ BEGIN RETURN v > 0; END $$;"
				 "CREATE FUNCTION public.code_ok(c text) RETURNS boolean LANGUAGE sql STABLE"
				 " AS $$ SELECT c LIKE 'k%%' OR EXISTS (SELECT 1 FROM allowed a WHERE a.prefix = c) $$;"
				 "CREATE FUNCTION public.make_code(n int DEFAULT 7) RETURNS text LANGUAGE plpgsql VOLATILE"
				 " AS $$ BEGIN RETURN 'k' || n || '-' || (SELECT count(*) FROM allowed); END $$;"
				 "CREATE TABLE public.fx (id int PRIMARY KEY, code text DEFAULT public.make_code(),"
				 " n int CONSTRAINT fx_n_check CHECK (public.positive(n)),"
				 " CONSTRAINT fx_code_check CHECK (public.code_ok(code)));"
				 "CREATE PROCEDURE public.add_fx(p int) LANGUAGE plpgsql SET search_path = public, pg_temp"
				 " AS $$ BEGIN INSERT INTO fx (id, n) VALUES (p, p); END $$;");
	wait_captured(sc, "allowed");
	wait_captured(sc, "fx");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.allowed VALUES ('x'), ('y');"
				 "INSERT INTO public.fx (id, n) SELECT g, g FROM generate_series(1, 10) g;"
				 "INSERT INTO public.fx VALUES (11, 'x', 3);"
				 "CALL public.add_fx(12);");
	wait_equal(sc, "functions created");
	ck_assert_msg(tp_cluster_exec(tgt_cl, TGT_DB,
								  "BEGIN; CALL " APPLY_SCHEMA ".add_fx(1000);"
								  "SELECT 1 / count(*) FROM " APPLY_SCHEMA ".fx WHERE id = 1000;"
								  " ROLLBACK"),
				  "the procedure does not work in the target's schema");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".fx VALUES (1001, 'z', 1)"),
				  "the target's check does not call its function");

	/* replaced: body, volatility, security, an argument's default */
	tp_inst_exec(sc->src,
				 "CREATE OR REPLACE FUNCTION public.positive(v int) RETURNS boolean LANGUAGE plpgsql"
				 " STABLE SECURITY DEFINER AS $$ BEGIN RETURN v >= 0; END $$;"
				 "CREATE OR REPLACE FUNCTION public.make_code(n int DEFAULT 8) RETURNS text LANGUAGE plpgsql"
				 " VOLATILE AS $$ BEGIN RETURN 'k' || n || '+' || (SELECT count(*) FROM allowed); END $$;"
				 "ALTER FUNCTION public.code_ok(text) SET search_path = public;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.fx (id, n) VALUES (13, 0), (14, 5);");
	wait_equal(sc, "functions replaced");

	/*
	 * SQL-standard bodies (PostgreSQL 14+), parsed at creation: after the
	 * table they read, created in the same poll
	 */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.fx2 (id int PRIMARY KEY);"
				 "CREATE FUNCTION public.fx2_count() RETURNS bigint LANGUAGE sql STABLE"
				 " RETURN (SELECT count(*) FROM public.fx2);"
				 "CREATE FUNCTION public.fx_count() RETURNS bigint LANGUAGE sql STABLE"
				 " BEGIN ATOMIC SELECT count(*) FROM public.fx; END;");
	wait_equal(sc, "SQL-standard body");
	{
		char	   *sv = tp_inst_value(sc->src, "SELECT public.fx_count()");
		char	   *tv = tp_inst_value(sc->tgt, "SELECT " APPLY_SCHEMA ".fx_count()");

		ck_assert_str_eq(sv, tv);
		free(sv);
		free(tv);
	}

	/* renamed: the default that calls it names it anew */
	tp_inst_exec(sc->src, "ALTER FUNCTION public.make_code(int) RENAME TO new_code;");
	wait_captured(sc, "fx");
	tp_inst_exec(sc->src, "INSERT INTO public.fx (id, n) VALUES (15, 1);");
	wait_equal(sc, "function renamed");

	/* dropped, with what uses them */
	tp_inst_exec(sc->src,
				 "DROP PROCEDURE public.add_fx(int);"
				 "DROP FUNCTION public.fx_count();"
				 "DROP TABLE public.fx;"
				 "DROP TABLE public.fx2 CASCADE;"
				 "DROP FUNCTION public.positive(int), public.code_ok(text), public.new_code(int);"
				 "DROP TABLE public.allowed;");
	wait_equal(sc, "functions dropped");
	{
		char	   *n = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_proc p"
									  " JOIN pg_namespace n ON n.oid = p.pronamespace"
									  " WHERE n.nspname = '" APPLY_SCHEMA "'");

		ck_assert_str_eq(n, "0");
		free(n);
	}
}

/*
 * Views and materialized views: created in the poll of their table and of
 * a function they call, selecting the same rows on both sides (a
 * materialized view made from the rows the target had at that point);
 * replaced with a new column, a column renamed, a view renamed, options
 * changed, dropped (one with the table it reads, CASCADE).
 */
static void
view_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.vt (id int PRIMARY KEY, grp text, amount int);"
				 "CREATE FUNCTION public.doubled(int) RETURNS int LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT $1 * 2';"
				 "CREATE VIEW public.v_tot AS SELECT grp, sum(public.doubled(amount)) AS total"
				 " FROM public.vt GROUP BY grp;"
				 "CREATE VIEW public.v_big WITH (security_barrier) AS"
				 " SELECT id, amount FROM public.vt WHERE amount > 10;");
	wait_captured(sc, "vt");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.vt SELECT g, 'g' || g %% 3, g FROM generate_series(1, 20) g;"
				 "INSERT INTO public.vt VALUES (21, 'g0', 100);"
				 "UPDATE public.vt SET amount = amount + 1 WHERE id %% 4 = 0;");
	wait_equal(sc, "views created");
	/*
	 * made on the target from the rows it has then: the rows before it in
	 * the queue (a table's rows copied when its capture starts come after
	 * the DDL of the same poll, hence a later step)
	 */
	tp_inst_exec(sc->src, "CREATE MATERIALIZED VIEW public.mv AS"
				 " SELECT count(*) AS n, sum(amount) AS s FROM public.vt;");
	wait_equal(sc, "materialized view created");

	tp_inst_exec(sc->src,
				 "CREATE OR REPLACE VIEW public.v_tot AS SELECT grp, sum(public.doubled(amount)) AS total,"
				 " count(*) AS n FROM public.vt GROUP BY grp;"
				 "ALTER VIEW public.v_tot RENAME COLUMN total TO doubled_total;"
				 "ALTER VIEW public.v_big RENAME TO v_large;"
				 "ALTER VIEW public.v_large SET (check_option = local);"
				 "ALTER MATERIALIZED VIEW public.mv RENAME COLUMN s TO total;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "DELETE FROM public.vt WHERE id = 3;");
	wait_equal(sc, "views replaced and renamed");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".v_large VALUES (500, 1)"),
				  "the target's view has no check option");

	tp_inst_exec(sc->src, "DROP VIEW public.v_large;"
				 "DROP TABLE public.vt CASCADE;"
				 "DROP FUNCTION public.doubled(int);");
	wait_equal(sc, "views dropped");
	{
		char	   *n = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_class c"
									  " JOIN pg_namespace n ON n.oid = c.relnamespace"
									  " WHERE n.nspname = '" APPLY_SCHEMA "' AND c.relkind IN ('v', 'm')");

		ck_assert_str_eq(n, "0");
		free(n);
	}
}

/*
 * The number of function events in the source's queue after event id %s
 * (a rotation may have emptied the tables of older ones meanwhile).
 */
#define FUNCTION_EVENTS_SQL \
	"SELECT count(*) FROM (SELECT * FROM teleport.event_0 UNION ALL" \
	" SELECT * FROM teleport.event_1 UNION ALL SELECT * FROM teleport.event_2) e" \
	" WHERE op = 'ddl' AND ddl ->> 'type' LIKE 'function%%' AND id > %s"

/*
 * Extensions: created at a version in the replicated schema (into the
 * target's apply_schema) with a table using its type in the same poll,
 * the objects it owns not sent on their own (no function event), updated
 * to a newer version, dropped after the table.
 */
static void
extension_steps(const scene *sc)
{
	char	   *mark = tp_inst_value(sc->src, "SELECT last_value FROM teleport.event_id_seq");
	char	   *n;

	tp_inst_exec(sc->src,
				 "CREATE EXTENSION citext SCHEMA public VERSION '1.5';"
				 "CREATE TABLE public.ci (id int PRIMARY KEY, name public.citext UNIQUE);");
	wait_captured(sc, "ci");
	tp_inst_exec(sc->src, "INSERT INTO public.ci VALUES (1, 'Alpha'), (2, 'beta');");
	wait_equal(sc, "extension created");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".ci VALUES (3, 'ALPHA')"),
				  "the target's column is not case-insensitive");
	n = tp_inst_value(sc->src, FUNCTION_EVENTS_SQL, mark);
	ck_assert_str_eq(n, "0");
	free(n);
	free(mark);

	tp_inst_exec(sc->src, "ALTER EXTENSION citext UPDATE TO '1.6';");
	wait_equal(sc, "extension updated");
	tp_inst_exec(sc->src, "DROP TABLE public.ci; DROP EXTENSION citext;");
	wait_equal(sc, "extension dropped");
	n = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_extension WHERE extname = 'citext'");
	ck_assert_str_eq(n, "0");
	free(n);
}

/*
 * The comments of the indexes, constraints and sequences of schema S (a
 * string literal) as one text: kind, name and comment, sorted.
 */
#define PART_COMMENTS_SQL(S) \
	"SELECT coalesce(string_agg(x, ',' ORDER BY x), '') FROM (" \
	" SELECT c.relkind::text || ':' || c.relname || '=' || d.description FROM pg_description d" \
	" JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass" \
	" WHERE c.relnamespace = '" S "'::regnamespace AND c.relkind IN ('i', 'S')" \
	" UNION ALL SELECT 'k:' || k.conname || '=' || d.description FROM pg_description d" \
	" JOIN pg_constraint k ON k.oid = d.objoid AND d.classoid = 'pg_constraint'::regclass" \
	" JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = '" S "'::regnamespace) q(x)"

/*
 * Wait until the target's comments of indexes, constraints and sequences
 * (PART_COMMENTS_SQL) are the source's, then check them against expected
 * (unless NULL).
 */
static void
wait_part_comments(const scene *sc, const char *what, const char *expected)
{
	char	   *v;

	wait_same_value(sc, PART_COMMENTS_SQL("public"), PART_COMMENTS_SQL(APPLY_SCHEMA), what);
	if (expected == NULL)
		return;
	v = tp_inst_value(sc->tgt, "%s", PART_COMMENTS_SQL(APPLY_SCHEMA));
	ck_assert_msg(strcmp(v, expected) == 0, "%s: %s, not %s", what, v, expected);
	free(v);
}

/*
 * Comments: on a table, its columns, a view and a function, set with
 * their objects in one poll and later; changed, removed, a commented
 * column renamed and another dropped, a commented view dropped. Then on
 * an index, constraints and a standalone sequence: set, an index and a
 * constraint renamed, changed and removed, and dropped with their table.
 */
static void
comment_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "COMMENT ON TABLE public.base IS 'the first table';"
				 "COMMENT ON COLUMN public.base.v IS 'a value';"
				 "CREATE TABLE public.cm (id int PRIMARY KEY, a text, b text);"
				 "COMMENT ON TABLE public.cm IS 'it''s commented';"
				 "COMMENT ON COLUMN public.cm.a IS 'column a';"
				 "COMMENT ON COLUMN public.cm.b IS 'column b';"
				 "CREATE VIEW public.cmv AS SELECT id, a FROM public.cm;"
				 "COMMENT ON VIEW public.cmv IS 'a view';"
				 "CREATE FUNCTION public.cmf(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x';"
				 "COMMENT ON FUNCTION public.cmf(int) IS 'identity';");
	wait_captured(sc, "cm");
	tp_inst_exec(sc->src, "INSERT INTO public.cm VALUES (1, 'x', 'y');");
	wait_equal(sc, "comments set");
	{
		char	   *v = tp_inst_value(sc->tgt, "SELECT concat_ws('|', obj_description('" APPLY_SCHEMA ".cm'::regclass),"
									  " col_description('" APPLY_SCHEMA ".cm'::regclass, 2),"
									  " obj_description('" APPLY_SCHEMA ".cmv'::regclass),"
									  " obj_description('" APPLY_SCHEMA ".cmf(int)'::regprocedure))");

		ck_assert_str_eq(v, "it's commented|column a|a view|identity");
		free(v);
	}
	tp_inst_exec(sc->src,
				 "CREATE SEQUENCE public.cms;"
				 "COMMENT ON SEQUENCE public.cms IS 'a sequence';"
				 "CREATE INDEX cm_a ON public.cm (a);"
				 "COMMENT ON INDEX public.cm_a IS 'an index';"
				 "ALTER TABLE public.cm ADD CONSTRAINT cm_b_check CHECK (b <> ''),"
				 " ADD CONSTRAINT cm_a_key UNIQUE (a);"
				 "COMMENT ON CONSTRAINT cm_b_check ON public.cm IS 'a check';"
				 "COMMENT ON CONSTRAINT cm_a_key ON public.cm IS 'it''s unique';");
	wait_part_comments(sc, "comments on an index, constraints and a sequence",
					   "S:cms=a sequence,i:cm_a=an index,k:cm_a_key=it's unique,"
					   "k:cm_b_check=a check");
	tp_inst_exec(sc->src,
				 "ALTER INDEX public.cm_a RENAME TO cm_a2;"
				 "ALTER TABLE public.cm RENAME CONSTRAINT cm_b_check TO cm_b_ok;"
				 "COMMENT ON CONSTRAINT cm_b_ok ON public.cm IS 'b is never empty';"
				 "COMMENT ON CONSTRAINT cm_a_key ON public.cm IS NULL;"
				 "COMMENT ON SEQUENCE public.cms IS NULL;");
	wait_part_comments(sc, "comments on an index, constraints and a sequence changed",
					   "i:cm_a2=an index,k:cm_b_ok=b is never empty");

	tp_inst_exec(sc->src,
				 "COMMENT ON TABLE public.base IS 'the first table, again';"
				 "COMMENT ON COLUMN public.base.v IS NULL;"
				 "ALTER TABLE public.cm RENAME COLUMN a TO a2;"
				 "ALTER TABLE public.cm DROP COLUMN b;"
				 "COMMENT ON FUNCTION public.cmf(int) IS NULL;");
	wait_captured(sc, "cm");
	tp_inst_exec(sc->src, "INSERT INTO public.cm VALUES (2, 'z');");
	wait_equal(sc, "comments changed");

	tp_inst_exec(sc->src, "DROP VIEW public.cmv; DROP TABLE public.cm;"
				 "DROP FUNCTION public.cmf(int); COMMENT ON TABLE public.base IS NULL;"
				 "DROP SEQUENCE public.cms;");
	wait_equal(sc, "commented objects dropped");
	wait_part_comments(sc, "comments of dropped objects", NULL);
}

/*
 * The range types, aggregates and column collations of schema on in, as
 * text, one line each: a range type's subtype, multirange's name,
 * collation, operator class and subtype_diff function ("S." when it is of
 * the type's schema); an aggregate's arguments, transition and final
 * functions (the same), state type, initial value and parallel safety; a
 * column's collation when not its type's. "(failed)" when the query
 * failed.
 */
static char *
kinds_signature(const tp_inst *in, const char *schema)
{
	char	   *sql = NULL;
	char	   *v;

	ck_assert_int_ge(asprintf(&sql,
						"SELECT coalesce(string_agg(sig, E'\\n' ORDER BY sig), '') FROM ("
						" SELECT format('range %%s: %%s multirange %%s collation %%s opclass %%s diff %%s',"
						"  t.typname, replace(format_type(r.rngsubtype, NULL), '%s.', ''), mt.typname,"
						"  coalesce(co.collname, '-'), oc.opcname, coalesce((SELECT CASE"
						"   WHEN f.pronamespace = t.typnamespace THEN 'S.' ELSE fn.nspname || '.' END"
						"   || f.proname FROM pg_proc f JOIN pg_namespace fn ON fn.oid = f.pronamespace"
						"   WHERE f.oid = r.rngsubdiff), '-')) AS sig"
						" FROM pg_range r JOIN pg_type t ON t.oid = r.rngtypid"
						" JOIN pg_type mt ON mt.oid = r.rngmultitypid"
						" JOIN pg_opclass oc ON oc.oid = r.rngsubopc"
						" LEFT JOIN pg_collation co ON co.oid = r.rngcollation"
						" WHERE t.typnamespace = '%s'::regnamespace"
						" UNION ALL"
						" SELECT format('aggregate %%s(%%s): %%s %%s %%s %%s %%s', p.proname,"
						"  replace(pg_get_function_identity_arguments(p.oid), '%s.', ''),"
						"  (SELECT CASE WHEN f.pronamespace = p.pronamespace THEN 'S.' ELSE '' END"
						"   || f.proname FROM pg_proc f WHERE f.oid = g.aggtransfn),"
						"  coalesce((SELECT CASE WHEN f.pronamespace = p.pronamespace THEN 'S.' ELSE '' END"
						"   || f.proname FROM pg_proc f WHERE f.oid = g.aggfinalfn), '-'),"
						"  replace(format_type(g.aggtranstype, NULL), '%s.', ''),"
						"  coalesce(g.agginitval, '-'), p.proparallel)"
						" FROM pg_proc p JOIN pg_aggregate g ON g.aggfnoid = p.oid"
						" WHERE p.pronamespace = '%s'::regnamespace"
						" UNION ALL"
						" SELECT format('collation %%s.%%s %%s', c.relname, a.attname, co.collname)"
						" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
						" JOIN pg_collation co ON co.oid = a.attcollation"
						" JOIN pg_type ty ON ty.oid = a.atttypid"
						" WHERE c.relnamespace = '%s'::regnamespace AND c.relkind = 'r' AND a.attnum > 0"
						"  AND NOT a.attisdropped AND a.attcollation <> ty.typcollation"
						") s", schema, schema, schema, schema, schema, schema), 0);
	v = tp_inst_try_value(in, "%s", sql);
	free(sql);
	return v != NULL ? v : strdup("(failed)");
}

/*
 * wait_equal, after waiting (60 s at most) until the target's range
 * types, aggregates and column collations (kinds_signature) equal the
 * source's, then checking the source's against expected (unless NULL).
 */
static void
wait_kinds_equal(const scene *sc, const char *step, const char *expected)
{
	char	   *so = wait_same_signature(sc, kinds_signature, "range types, aggregates and collations",
										 step);

	if (expected != NULL)
		ck_assert_msg(strcmp(so, expected) == 0, "%s: %s, not %s", step, so, expected);
	free(so);
	wait_equal(sc, step);
}

/* The comment of table S.pkc's primary key, whatever its name. */
#define PK_COMMENT_SQL(S) \
	"SELECT coalesce(obj_description(k.oid, 'pg_constraint'), '-') FROM pg_constraint k" \
	" WHERE k.conrelid = '" S ".pkc'::regclass AND k.contype = 'p'"

/*
 * Range types: one with a subtype_diff function of the schema (created
 * in the same poll, before it), one of text with a collation and a named
 * multirange, one with pg_catalog's function, one of an enum of the
 * schema, one with an operator class that is not the default; a table with columns of
 * them, of a multirange and of an array of one, with a default, and
 * rows; the types and a multirange renamed, then written; all dropped.
 * Column collations: created, changed by ALTER COLUMN ... TYPE ...
 * COLLATE (also back to the type's), a column added with one.
 */
static void
range_collation_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE FUNCTION public.f8diff(a float8, b float8) RETURNS float8"
				 " LANGUAGE sql IMMUTABLE AS 'SELECT a - b';"
				 "CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = public.f8diff);"
				 "CREATE TYPE public.textrange AS RANGE (subtype = text, collation = \"C\","
				 " multirange_type_name = public.textranges);"
				 "CREATE TYPE public.fr8 AS RANGE (subtype = float8, subtype_diff = float8mi);"
				 "CREATE TYPE public.lvl AS ENUM ('lo', 'mid', 'hi');"
				 "CREATE TYPE public.lvlrange AS RANGE (subtype = public.lvl);"
				 "CREATE TYPE public.patrange AS RANGE (subtype = text, subtype_opclass = text_pattern_ops);"
				 "CREATE TABLE public.rg (id int PRIMARY KEY, r public.floatrange,"
				 " m public.floatmultirange, ra public.floatrange[], t public.textrange,"
				 " f public.fr8 DEFAULT '[1,2)', l public.lvlrange, p public.patrange);");
	wait_captured(sc, "rg");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.rg VALUES (1, '[1.5,2.25)', '{[1,2), [3,4.5]}',"
				 " ARRAY['[1,2)'::public.floatrange, 'empty'], '[B,a)', DEFAULT, '[lo,hi)', '[a,b)'),"
				 " (2, '(,0]', '{}', NULL, '[a,b]', '[-1,1]', '[mid,mid]', '(,z]'),"
				 " (3, NULL, NULL, '{}', NULL, NULL, NULL, NULL);");
	wait_kinds_equal(sc, "range types created",
					 "range floatrange: double precision multirange floatmultirange collation - opclass float8_ops diff S.f8diff\n"
					 "range fr8: double precision multirange fr8_multirange collation - opclass float8_ops diff pg_catalog.float8mi\n"
					 "range lvlrange: lvl multirange lvlmultirange collation - opclass enum_ops diff -\n"
					 "range patrange: text multirange patmultirange collation default opclass text_pattern_ops diff -\n"
					 "range textrange: text multirange textranges collation C opclass text_ops diff -");
	{
		/* the target's values: its ranges compute as the source's */
		const char *q = "SELECT string_agg(concat_ws(' ', id, r @> 2.0::float8, upper(m), t @> 'b'::text),"
			" ',' ORDER BY id) FROM %s.rg";
		char	   *sv = tp_inst_value(sc->src, q, "public");
		char	   *tv = tp_inst_value(sc->tgt, q, APPLY_SCHEMA);

		ck_assert_str_eq(sv, tv);
		free(sv);
		free(tv);
	}

	/* renamed, the multirange on its own, then written */
	tp_inst_exec(sc->src,
				 "ALTER TYPE public.floatrange RENAME TO frange;"
				 "ALTER TYPE public.floatmultirange RENAME TO franges;"
				 "ALTER TYPE public.textrange RENAME TO trange;");
	wait_captured(sc, "rg");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.rg VALUES (4, '[7,8]', '{[9,10)}', ARRAY['(1,2]'::public.frange],"
				 " '[x,y]', DEFAULT, '[lo,mid]', '[m,n)');"
				 "UPDATE public.rg SET m = m + '{[20,21)}' WHERE id = 1;");
	wait_kinds_equal(sc, "range types renamed",
					 "range fr8: double precision multirange fr8_multirange collation - opclass float8_ops diff pg_catalog.float8mi\n"
					 "range frange: double precision multirange franges collation - opclass float8_ops diff S.f8diff\n"
					 "range lvlrange: lvl multirange lvlmultirange collation - opclass enum_ops diff -\n"
					 "range patrange: text multirange patmultirange collation default opclass text_pattern_ops diff -\n"
					 "range trange: text multirange textranges collation C opclass text_ops diff -");

	/*
	 * replaced under its name in one transaction, its multirange too: the
	 * old pair renamed, the new one made, the column of its multirange
	 * retyped to the new multirange (the only column that ties the old
	 * type to the new: the columns of the range and of an array of it go
	 * to another range), the old pair dropped
	 */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "ALTER TYPE public.frange RENAME TO frange_old;"
				 "ALTER TYPE public.franges RENAME TO franges_old;"
				 "CREATE TYPE public.frange AS RANGE (subtype = float8,"
				 " multirange_type_name = public.franges);"
				 "ALTER TABLE public.rg ALTER COLUMN r TYPE public.fr8 USING r::text::public.fr8,"
				 " ALTER COLUMN m TYPE public.franges USING m::text::public.franges,"
				 " ALTER COLUMN ra TYPE public.fr8[] USING ra::text::public.fr8[];"
				 "DROP TYPE public.frange_old;"
				 "COMMIT;");
	wait_captured(sc, "rg");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.rg VALUES (5, '[5,6]', '{[5,6)}', ARRAY['(5,6]'::public.fr8],"
				 " NULL, DEFAULT, NULL, NULL);");
	wait_kinds_equal(sc, "range type replaced under its name",
					 "range fr8: double precision multirange fr8_multirange collation - opclass float8_ops diff pg_catalog.float8mi\n"
					 "range frange: double precision multirange franges collation - opclass float8_ops diff -\n"
					 "range lvlrange: lvl multirange lvlmultirange collation - opclass enum_ops diff -\n"
					 "range patrange: text multirange patmultirange collation default opclass text_pattern_ops diff -\n"
					 "range trange: text multirange textranges collation C opclass text_ops diff -");

	/* dropped, with the function */
	tp_inst_exec(sc->src,
				 "DROP TABLE public.rg;"
				 "DROP TYPE public.frange, public.trange, public.fr8, public.lvlrange, public.patrange;"
				 "DROP TYPE public.lvl;"
				 "DROP FUNCTION public.f8diff(float8, float8);");
	wait_kinds_equal(sc, "range types dropped", "");
	{
		char	   *n = tp_inst_value(sc->tgt, "SELECT count(*) FROM pg_type t"
									  " WHERE t.typnamespace = '" APPLY_SCHEMA "'::regnamespace"
									  " AND t.typtype IN ('r', 'm')");

		ck_assert_str_eq(n, "0");
		free(n);
	}

	/* column collations */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.coll (id int PRIMARY KEY, a text COLLATE \"C\", b text,"
				 " c varchar(10) COLLATE \"POSIX\", d text[] COLLATE \"C\");");
	wait_captured(sc, "coll");
	tp_inst_exec(sc->src, "INSERT INTO public.coll VALUES (1, 'a', 'B', 'c', '{x,Y}'), (2, 'B', 'a', 'C', NULL);");
	wait_kinds_equal(sc, "columns with collations",
					 "collation coll.a C\ncollation coll.c POSIX\ncollation coll.d C");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.coll ALTER COLUMN a TYPE text COLLATE \"default\","
				 " ALTER COLUMN b TYPE text COLLATE \"C\", ALTER COLUMN c TYPE varchar(20),"
				 " ADD COLUMN e text COLLATE \"POSIX\" DEFAULT 'e';");
	wait_captured(sc, "coll");
	tp_inst_exec(sc->src, "INSERT INTO public.coll VALUES (3, 'z', 'Z', 'long enough', '{}', 'E');");
	wait_kinds_equal(sc, "collations changed",
					 "collation coll.b C\ncollation coll.d C\ncollation coll.e POSIX");
	tp_inst_exec(sc->src, "DROP TABLE public.coll;");
	wait_kinds_equal(sc, "collations dropped", "");
}

/*
 * Aggregates: with transition and final functions of the schema (created
 * in the same poll, before them), of no argument, used by a view
 * (compared by its rows); replaced with another initial value, renamed,
 * commented, dropped. Comments on a primary key and on a serial and an
 * identity column's sequences: set, changed when the target's key has
 * another name, removed, a commented sequence's column renamed, dropped
 * with the table. A comment on a schema is not replicated.
 */
static void
aggregate_comment_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE FUNCTION public.add_int(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT a + b';"
				 "CREATE FUNCTION public.times_ten(a int) RETURNS int LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT a * 10';"
				 "CREATE AGGREGATE public.mysum(int) (sfunc = public.add_int, stype = int, initcond = '0');"
				 "CREATE AGGREGATE public.mysum10(int) (sfunc = public.add_int, stype = int,"
				 " initcond = '0', finalfunc = public.times_ten, parallel = safe);"
				 "CREATE AGGREGATE public.mycount(*) (sfunc = int8inc, stype = int8, initcond = '0');"
				 "CREATE TABLE public.ag (id int PRIMARY KEY, n int);"
				 "CREATE VIEW public.ag_v AS SELECT public.mysum(n) AS s, public.mysum10(n) AS s10,"
				 " public.mycount(*) AS c FROM public.ag;");
	wait_captured(sc, "ag");
	tp_inst_exec(sc->src, "INSERT INTO public.ag SELECT g, g FROM generate_series(1, 10) g;");
	wait_kinds_equal(sc, "aggregates created",
					 "aggregate mycount(): int8inc - bigint 0 u\n"
					 "aggregate mysum(integer): S.add_int - integer 0 u\n"
					 "aggregate mysum10(integer): S.add_int S.times_ten integer 0 s");
	{
		char	   *v = tp_inst_value(sc->tgt, "SELECT concat_ws(' ', s, s10, c) FROM " APPLY_SCHEMA ".ag_v");

		ck_assert_str_eq(v, "55 550 10");
		free(v);
	}
	tp_inst_exec(sc->src,
				 "CREATE OR REPLACE AGGREGATE public.mysum(int) (sfunc = public.add_int, stype = int,"
				 " initcond = '100');"
				 "ALTER AGGREGATE public.mysum10(int) RENAME TO mysum_ten;"
				 "COMMENT ON AGGREGATE public.mycount(*) IS 'counts rows';");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "INSERT INTO public.ag VALUES (11, 11);");
	wait_kinds_equal(sc, "aggregates replaced and renamed",
					 "aggregate mycount(): int8inc - bigint 0 u\n"
					 "aggregate mysum(integer): S.add_int - integer 100 u\n"
					 "aggregate mysum_ten(integer): S.add_int S.times_ten integer 0 s");
	{
		char	   *v = tp_inst_value(sc->tgt, "SELECT concat_ws(' ', s, s10, c,"
									  " obj_description('" APPLY_SCHEMA ".mycount()'::regprocedure))"
									  " FROM " APPLY_SCHEMA ".ag_v");

		ck_assert_str_eq(v, "166 660 11 counts rows");
		free(v);
	}
	tp_inst_exec(sc->src,
				 "DROP VIEW public.ag_v; DROP TABLE public.ag;"
				 "DROP AGGREGATE public.mysum(int), public.mysum_ten(int), public.mycount(*);"
				 "DROP FUNCTION public.add_int(int, int), public.times_ten(int);");
	wait_kinds_equal(sc, "aggregates dropped", "");

	/* comments on a primary key and on a serial and an identity column's sequences */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.pkc (id serial CONSTRAINT pkc_pk PRIMARY KEY,"
				 " n int GENERATED BY DEFAULT AS IDENTITY);"
				 "COMMENT ON CONSTRAINT pkc_pk ON public.pkc IS 'the key';"
				 "COMMENT ON SEQUENCE public.pkc_id_seq IS 'ids';"
				 "COMMENT ON SEQUENCE public.pkc_n_seq IS 'ns';"
				 "COMMENT ON SCHEMA public IS 'not replicated';");
	wait_captured(sc, "pkc");
	tp_inst_exec(sc->src, "INSERT INTO public.pkc DEFAULT VALUES;");
	wait_equal(sc, "comments on a primary key and sequences");
	wait_part_comments(sc, "comments on a primary key and sequences",
					   "S:pkc_id_seq=ids,S:pkc_n_seq=ns,k:pkc_pk=the key");
	{
		char	   *v = tp_inst_value(sc->tgt, "SELECT coalesce(obj_description('" APPLY_SCHEMA
									  "'::regnamespace, 'pg_namespace'), '-')");

		ck_assert_str_eq(v, "-");
		free(v);
	}

	/* the target's key has another name: its comment follows all the same */
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB, "ALTER TABLE " APPLY_SCHEMA ".pkc"
							  " RENAME CONSTRAINT pkc_pk TO pkc_other"));
	tp_inst_exec(sc->src, "COMMENT ON CONSTRAINT pkc_pk ON public.pkc IS 'the key, again';");
	wait_same_value(sc, PK_COMMENT_SQL("public"), PK_COMMENT_SQL(APPLY_SCHEMA),
					"a primary key of another name on the target");
	ck_assert(tp_cluster_exec(tgt_cl, TGT_DB, "ALTER TABLE " APPLY_SCHEMA ".pkc"
							  " RENAME CONSTRAINT pkc_other TO pkc_pk"));

	/* removed, a commented sequence's column renamed and commented anew */
	tp_inst_exec(sc->src,
				 "COMMENT ON CONSTRAINT pkc_pk ON public.pkc IS NULL;"
				 "COMMENT ON SEQUENCE public.pkc_id_seq IS NULL;"
				 "ALTER TABLE public.pkc RENAME COLUMN n TO n2;"
				 "COMMENT ON SEQUENCE public.pkc_n_seq IS 'n2''s';");
	wait_captured(sc, "pkc");
	tp_inst_exec(sc->src, "INSERT INTO public.pkc DEFAULT VALUES;");
	wait_equal(sc, "comments on a primary key and sequences changed");
	wait_part_comments(sc, "comments on a primary key and sequences changed", "S:pkc_n_seq=n2's");

	tp_inst_exec(sc->src, "DROP TABLE public.pkc; COMMENT ON SCHEMA public IS 'standard public schema';");
	wait_equal(sc, "commented key and sequences dropped");
	wait_part_comments(sc, "comments of a dropped key and sequences", NULL);
}

/*
 * Assert that query q, a format with three %s for the schema, gives want
 * on the source (schema public) and the same on the target (APPLY_SCHEMA).
 */
static void
assert_same_value(const scene *sc, const char *q, const char *want)
{
	char	   *sv = tp_inst_value(sc->src, q, "public", "public", "public");
	char	   *tv = tp_inst_value(sc->tgt, q, APPLY_SCHEMA, APPLY_SCHEMA, APPLY_SCHEMA);

	ck_assert_str_eq(sv, want);
	ck_assert_str_eq(tv, sv);
	free(sv);
	free(tv);
}

/*
 * Objects created in one poll (diff mode: one transaction between two
 * polls) whose dependencies go against their kinds' ranks, which the
 * capture orders by their dependencies: a range type with a subtype_diff
 * function of the schema (kind range_fn) under a domain, in a composite
 * type and taken by a function; a SQL-standard body that calls an
 * aggregate; a domain whose CHECK and default call SQL-standard bodies
 * (its event that adds them comes after them); a domain whose default
 * takes a sequence's nextval; a table of them all, with rows. Then the
 * drops mirrored, each with CASCADE taking what depends on it (with
 * event triggers one statement each: their objects in one capture), in
 * one transaction: the target, which drops without CASCADE, drops the
 * dependents first.
 */
static void
dependency_order_steps(const scene *sc)
{
	tp_inst_exec(sc->src,
				 "CREATE FUNCTION public.do_diff(a float8, b float8) RETURNS float8"
				 " LANGUAGE sql IMMUTABLE AS 'SELECT a - b';"
				 "CREATE TYPE public.do_range AS RANGE (subtype = float8, subtype_diff = public.do_diff);"
				 "CREATE DOMAIN public.do_rdom AS public.do_range CHECK (NOT isempty(VALUE));"
				 "CREATE TYPE public.do_comp AS (r public.do_range, n int);"
				 "CREATE FUNCTION public.do_width(public.do_range) RETURNS float8 LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT upper($1) - lower($1)';"
				 "CREATE FUNCTION public.do_add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT a + b';"
				 "CREATE AGGREGATE public.do_sum(int) (sfunc = public.do_add, stype = int, initcond = '0');"
				 "CREATE FUNCTION public.do_total(a int[]) RETURNS int LANGUAGE sql IMMUTABLE"
				 " RETURN (SELECT public.do_sum(x) FROM unnest(a) x);"
				 "CREATE FUNCTION public.do_pos(a int) RETURNS boolean LANGUAGE sql IMMUTABLE"
				 " RETURN a > 0;"
				 "CREATE FUNCTION public.do_one() RETURNS int LANGUAGE sql IMMUTABLE RETURN 1;"
				 "CREATE DOMAIN public.do_posint AS int DEFAULT public.do_one()"
				 " CONSTRAINT do_posint_pos CHECK (public.do_pos(VALUE));"
				 "CREATE SEQUENCE public.do_seq;"
				 "CREATE DOMAIN public.do_seqint AS bigint DEFAULT nextval('public.do_seq');"
				 "CREATE TABLE public.do_t (id int PRIMARY KEY, r public.do_rdom, c public.do_comp,"
				 " p public.do_posint, s public.do_seqint);");
	wait_captured(sc, "do_t");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.do_t (id, r, c) VALUES (1, '[1.5,2)', ROW('[1,3)', 7)),"
				 " (2, '(,0]', NULL);");
	wait_kinds_equal(sc, "objects made in one poll against their ranks",
					 "aggregate do_sum(integer): S.do_add - integer 0 u\n"
					 "range do_range: double precision multirange do_multirange collation - opclass float8_ops diff S.do_diff");
	wait_objects_equal(sc, "objects made in one poll against their ranks");
	/* the target's objects call each other as the source's */
	assert_same_value(sc, "SELECT concat_ws(' ', %s.do_total(ARRAY[1, 2, 3]),"
					  " %s.do_width('[1,4)'), (SELECT string_agg(concat_ws('/', id, p, s),"
					  " ',' ORDER BY id) FROM %s.do_t))", "6 3 1/1/1,2/1/2");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, TGT_DB,
								   "INSERT INTO " APPLY_SCHEMA ".do_t (id, p) VALUES (100, -1)"),
				  "the target's domain does not call its function");

	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "DROP TABLE public.do_t;"
				 "DROP TYPE public.do_comp;"
				 "DROP TYPE public.do_range CASCADE;"
				 "DROP AGGREGATE public.do_sum(int) CASCADE;"
				 "DROP FUNCTION public.do_pos(int) CASCADE;"
				 "DROP SEQUENCE public.do_seq CASCADE;"
				 "COMMIT;");
	wait_captured(sc, NULL);
	wait_kinds_equal(sc, "objects dropped with what depends on them", "");
	wait_objects_equal(sc, "objects dropped with what depends on them");
	assert_same_value(sc, "SELECT string_agg(x, ',' ORDER BY x) FROM ("
					  " SELECT p.proname::text AS x FROM pg_proc p"
					  "  WHERE p.pronamespace = '%s'::regnamespace AND p.proname LIKE 'do\\_%%'"
					  " UNION ALL SELECT t.typname FROM pg_type t"
					  "  WHERE t.typnamespace = '%s'::regnamespace AND t.typname LIKE 'do\\_%%'"
					  " UNION ALL SELECT k.conname FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid"
					  "  WHERE t.typnamespace = '%s'::regnamespace AND t.typname LIKE 'do\\_%%') s",
					  "do_add,do_diff,do_one,do_posint");
	tp_inst_exec(sc->src,
				 "DROP DOMAIN public.do_posint;"
				 "DROP FUNCTION public.do_one(), public.do_add(int, int), public.do_diff(float8, float8);");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "the rest dropped");
}

START_TEST(test_diff_mode)
{
	scene		the_scene;
	scene	   *sc = &the_scene;

	scene_open_configured(sc, "schema", SRC_DB, TGT_DB, _i == 1, 0);

	/* the starting point: the same table on both sides */
	scene_start(sc, BASE_SRC, BASE_TGT, "base");

	/* the first snapshot emits nothing, nor do polls without a change */
	usleep(1500000);
	ck_assert_int_eq(ddl_events(sc), 0);
	{
		/* the mode's own objects: three event triggers, or none */
		char	   *n = tp_inst_value(sc->src, "SELECT count(*) FROM pg_event_trigger");

		ck_assert_str_eq(n, sc->event_triggers ? "3" : "0");
		free(n);
	}
	tp_inst_exec(sc->src, "INSERT INTO public.base SELECT g, 'b' || g FROM generate_series(1, 20) g;");
	wait_equal(sc, "rows into an existing table");

	/* a table created and written in one transaction, and later */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TABLE public.t1 (id serial PRIMARY KEY, name text NOT NULL DEFAULT 'x',"
				 " amount numeric(10,2), at timestamptz DEFAULT now());"
				 "INSERT INTO public.t1 (name, amount) SELECT 'n' || g, g / 3.0 FROM generate_series(1, 50) g;"
				 "COMMIT;");
	wait_captured(sc, "t1");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t1 (name, amount) SELECT 'm' || g, g FROM generate_series(1, 30) g;"
				 "UPDATE public.t1 SET amount = amount + 1 WHERE id %% 7 = 0;");
	wait_equal(sc, "create table and insert");
	usleep(1500000);
	ck_assert_int_eq(ddl_events(sc), 1);

	/*
	 * A new schema: target tgt2 (the same receiver, apply_schema "fresh",
	 * which it lacks) selects "extra.*"; the schema's creation creates
	 * "fresh" there, then its table follows.
	 */
	tp_inst_exec(sc->src, "CREATE SCHEMA extra;"
				 "CREATE TABLE extra.e (id int PRIMARY KEY, v text);");
	wait_captured(sc, "e");
	tp_inst_exec(sc->src, "INSERT INTO extra.e VALUES (1, 'x'), (2, 'y');");
	for (double end = tp_deadline(120);;)
	{
		char	   *v = tp_inst_try_value(sc->tgt, "SELECT string_agg(id || v, ',' ORDER BY id) FROM fresh.e");
		bool		done = v != NULL && strcmp(v, "1x,2y") == 0;

		free(v);
		if (done)
			break;
		if (!tp_before(end))
			tp_scene_fail(&sc->t, "schema extra never reached the target as schema fresh");
		usleep(100000);
	}
	step_partitions(sc);
	step_hash_partitions(sc);

	/* a column added with a default and NOT NULL, then written */
	tp_inst_exec(sc->src, "ALTER TABLE public.t1 ADD COLUMN flag boolean NOT NULL DEFAULT true;");
	wait_captured(sc, "t1");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t1 (name, amount, flag) VALUES ('f', 1, false);"
				 "UPDATE public.t1 SET flag = false WHERE id %% 5 = 0;");
	wait_equal(sc, "add column");
	if (_i == 2)
		switch_source_mode(sc, "ALTER TABLE public.base ADD COLUMN s1 int;");

	/* a column dropped while rows are written, before and after */
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t1 (name, amount) VALUES ('before drop', 2);"
				 "ALTER TABLE public.t1 DROP COLUMN amount;"
				 "INSERT INTO public.t1 (name) VALUES ('after drop');"
				 "UPDATE public.t1 SET name = name || '+' WHERE id %% 3 = 0;");
	wait_equal(sc, "drop column");
	if (_i == 2)
		switch_source_mode(sc, "ALTER TABLE public.base RENAME COLUMN s1 TO s2;"
						   "UPDATE public.base SET s2 = -s2 WHERE id < 5;");

	/* a column renamed, with writes before and after */
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t1 (name) VALUES ('before rename');"
				 "ALTER TABLE public.t1 RENAME COLUMN name TO label;");
	wait_captured(sc, "t1");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t1 (label) VALUES ('after rename');"
				 "UPDATE public.t1 SET label = label || '!' WHERE id %% 4 = 0;");
	wait_equal(sc, "rename column");
	if (_i == 2)
		switch_source_mode(sc, "ALTER TABLE public.base DROP COLUMN s2;"
						   "INSERT INTO public.base VALUES (100, 'after switches');");

	/* a table renamed */
	tp_inst_exec(sc->src, "ALTER TABLE public.t1 RENAME TO t2;");
	wait_captured(sc, "t2");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t2 (label) VALUES ('renamed');"
				 "DELETE FROM public.t2 WHERE id %% 6 = 0;");
	wait_equal(sc, "rename table");

	/* defaults and NOT NULL changed */
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.t2 ALTER COLUMN label SET DEFAULT 'y',"
				 " ALTER COLUMN label DROP NOT NULL, ALTER COLUMN flag DROP DEFAULT,"
				 " ALTER COLUMN at SET NOT NULL;");
	wait_captured(sc, "t2");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.t2 (label, flag) VALUES (NULL, true);"
				 "INSERT INTO public.t2 (flag) VALUES (false);");
	wait_equal(sc, "default and NOT NULL changes");

	/* identity and generated columns; the primary key moved */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.ident (id bigint GENERATED BY DEFAULT AS IDENTITY"
				 " CONSTRAINT ident_pkey PRIMARY KEY, code text NOT NULL,"
				 " len int GENERATED ALWAYS AS (length(code)) STORED);");
	wait_captured(sc, "ident");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.ident (code) SELECT 'c' || g FROM generate_series(1, 25) g;");
	wait_equal(sc, "identity and generated columns");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.ident DROP CONSTRAINT ident_pkey,"
				 " ADD CONSTRAINT ident_code_pkey PRIMARY KEY (code);");
	wait_captured(sc, "ident");
	tp_inst_exec(sc->src,
				 "UPDATE public.ident SET id = id + 100 WHERE id %% 2 = 0;"
				 "INSERT INTO public.ident (code) VALUES ('new');");
	wait_equal(sc, "primary key moved");

	/* int -> bigint, text -> int USING */
	tp_inst_exec(sc->src,
				 "CREATE TABLE public.conv (id int PRIMARY KEY, n int, s text);");
	wait_captured(sc, "conv");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.conv SELECT g, g * 1000, (g * 7)::text FROM generate_series(1, 40) g;");
	wait_equal(sc, "create conv");
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.conv ALTER COLUMN n TYPE bigint,"
				 " ALTER COLUMN s TYPE int USING s::int;");
	wait_captured(sc, "conv");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.conv VALUES (100, 5000000000, 12);"
				 "UPDATE public.conv SET s = s + 1 WHERE id < 10;");
	wait_equal(sc, "type change");

	step_rewrites(sc, _i == 0);

	if (sc->event_triggers)
	{
		/* exact order: a column added, filled and renamed in one transaction */
		tp_inst_exec(sc->src, "CREATE TABLE public.ord (id int PRIMARY KEY, v text);");
		wait_captured(sc, "ord");
		tp_inst_exec(sc->src,
					 "BEGIN;"
					 "INSERT INTO public.ord SELECT g, 'v' || g FROM generate_series(1, 10) g;"
					 "ALTER TABLE public.ord ADD COLUMN n int NOT NULL DEFAULT 0;"
					 "UPDATE public.ord SET n = id * 2;"
					 "ALTER TABLE public.ord RENAME COLUMN v TO w;"
					 "INSERT INTO public.ord VALUES (11, 'eleven', 22);"
					 "COMMIT;");
		wait_equal(sc, "a column added, filled and renamed in one transaction");
	}

	/* a table dropped */
	tp_inst_exec(sc->src, "DROP TABLE public.conv;");
	wait_equal(sc, "drop table");

	step_enums(sc);
	step_enum_columns(sc);
	step_composites(sc);
	step_sequences(sc);
	step_owned_sequences(sc);
	step_sequence_ranges(sc);
	step_indexes(sc);
	step_storage(sc);
	domain_steps(sc);
	step_domain_functions(sc);
	constraint_steps(sc);
	exclusion_steps(sc);
	function_steps(sc);
	view_steps(sc);
	extension_steps(sc);
	comment_steps(sc);
	range_collation_steps(sc);
	aggregate_comment_steps(sc);
	dependency_order_steps(sc);

	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/* The queue's schema and table events, oldest first: one line each. */
#define DDL_EVENTS_SQL \
	"SELECT coalesce(string_agg(format('%s:%s.%s:%s', ddl ->> 'type', schema_name," \
	" coalesce(table_name, ''), CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'" \
	" WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END), ',' ORDER BY id), '')" \
	" FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1" \
	" UNION ALL SELECT * FROM teleport.event_2) e" \
	" WHERE op = 'ddl' AND ddl ->> 'type' IN ('schema', 'table')"

/* The events of the types, sequences and indexes, and of table k_t. */
#define KINDS_EVENTS_SQL \
	"SELECT coalesce(string_agg(format('%s:%s.%s:%s', ddl ->> 'type', schema_name," \
	" coalesce(table_name, ''), CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'" \
	" WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END), ',' ORDER BY id), '')" \
	" FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1" \
	" UNION ALL SELECT * FROM teleport.event_2) e" \
	" WHERE op = 'ddl' AND (ddl ->> 'type' IN ('enum', 'composite', 'domain', 'sequence', 'index')" \
	" OR (ddl ->> 'type' = 'table' AND table_name = 'k_t'))"

/* The events of the objects named o_*. */
#define ORDER_EVENTS_SQL \
	"SELECT coalesce(string_agg(format('%s:%s:%s', ddl ->> 'type', table_name," \
	" CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'" \
	" WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END), ',' ORDER BY id), '')" \
	" FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1" \
	" UNION ALL SELECT * FROM teleport.event_2) e" \
	" WHERE op = 'ddl' AND table_name LIKE 'o\\_%'"

/*
 * A DDL that commits while a full comparison describes (blocked on the
 * view's table, after its snapshot was taken) is not half seen: the
 * comparison is given up with a serialization failure, none of its events
 * is queued, and the next one sends the change. su: the test's connection
 * to database db of the source; pg: the plugin's.
 */
static void
check_commit_while_described(tp_plugin_ctx *ctx, const tp_source_callbacks *cb,
							 PGconn *pg, PGconn *su, const char *db)
{
	PGconn	   *ddl = tp_cluster_connect(src_cl, db);
	PGconn	   *cmp = tp_cluster_connect(src_cl, db);
	PGresult   *res;
	char		sql[256];
	const char *events_sql =
		"SELECT count(*) FROM (SELECT * FROM teleport.event_0 UNION ALL"
		" SELECT * FROM teleport.event_1 UNION ALL SELECT * FROM teleport.event_2) e"
		" WHERE op = 'ddl'";
	long long	before;

	ck_assert_ptr_nonnull(ddl);
	ck_assert_ptr_nonnull(cmp);
	tp_sql_ok(su, "CREATE TABLE public.hs (a int); CREATE VIEW public.hs_v AS SELECT a FROM public.hs");
	ck_assert_int_eq(cb->poll(ctx, pg), TP_OK);
	before = tp_sql_int(su, events_sql);

	/* a committed change, so that the comparison is not skipped */
	tp_sql_ok(su, "COMMENT ON TABLE public.hs IS 'hs'");
	tp_sql_ok(ddl, "BEGIN; ALTER TABLE public.hs RENAME COLUMN a TO b");
	ck_assert(PQsendQuery(cmp, "SELECT teleport.schema_capture(NULL, true)"));
	snprintf(sql, sizeof(sql), "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %d",
			 PQbackendPID(cmp));
	ck_assert(tp_sql_wait(su, sql, "Lock", 10));
	tp_sql_ok(ddl, "COMMIT");
	res = PQgetResult(cmp);
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	ck_assert_str_eq(PQresultErrorField(res, PG_DIAG_SQLSTATE), "40001");
	PQclear(res);
	while ((res = PQgetResult(cmp)) != NULL)
		PQclear(res);
	ck_assert_int_eq(tp_sql_int(su, events_sql), before);

	/* the plugin's own poll meets the same as "try again", then sends it */
	ck_assert_int_eq(cb->poll(ctx, pg), TP_OK);
	tp_sql_assert(su, "SELECT string_agg(format('%s:%s:%s', ddl ->> 'type', table_name,"
				  " ddl -> 'after' -> 'columns' -> 0 ->> 'name'), ',' ORDER BY id)"
				  " FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1"
				  " UNION ALL SELECT * FROM teleport.event_2) e"
				  " WHERE op = 'ddl' AND ddl ->> 'type' = 'table' AND table_name = 'hs'"
				  " AND json_typeof(ddl -> 'before') <> 'null'",
				  "table:hs:b");
	PQfinish(cmp);
	PQfinish(ddl);
}

START_TEST(test_source)
{
	const char *dir = getenv("TELEPORT_PLUGIN_DIR");
	char		yaml[2048];
	char	   *conninfo;
	tp_config  *config = NULL;
	tp_plugin_set set;
	tp_plan		plan;
	tp_plan_entry *entry = NULL;
	const tp_source_callbacks *cb;
	tp_plugin_ctx *ctx;
	tp_pgsql	pg;
	PGconn	   *su;

	ck_assert_ptr_nonnull(dir);
	conninfo = tp_cluster_create_db(src_cl, "schema_plugin");
	ck_assert_ptr_nonnull(conninfo);
	su = tp_cluster_connect(src_cl, "schema_plugin");
	ck_assert_ptr_nonnull(su);
	tp_sql_ok(su, "CREATE TABLE public.a (id int PRIMARY KEY, v text);"
			  "CREATE SCHEMA s2; CREATE TABLE s2.b (x int);");
	snprintf(yaml, sizeof(yaml),
			 "replicate_ddl: true\n"
			 "database:\n"
			 "  name: src\n"
			 "  database: schema_plugin\n"
			 "  hostname: \"%s\"\n"
			 "  port: %d\n"
			 "  username: \"%s\"\n"
			 "targets:\n"
			 "  out:\n"
			 "    target_expression: \"public.*\"\n"
			 "    apply_schema: test\n"
			 "    transport: stdout\n",
			 src_cl->dir, src_cl->port, TP_CLUSTER_SUPERUSER);
	ck_assert(tp_config_load_string(yaml, strlen(yaml), "test.yml", &config));

	/* loaded as the daemon loads it: the plan's DDL source */
	memset(&set, 0, sizeof(set));
	(void) tp_loader_scan(dir, &set);
	tp_plan_build(config, &plan);
	ck_assert_int_ge(plan.n, 2);
	/* first, so that a new table is queued before the trigger copies rows */
	ck_assert_int_eq(plan.entries[0].role, TP_ROLE_CAPTURE_DDL);
	entry = &plan.entries[0];
	ck_assert_str_eq(entry->plugin_name, "schema-diff");
	{
		tp_plan		one = {entry, 1};

		ck_assert(tp_plan_resolve(&one, &set, config));
	}
	ck_assert(tp_plugin_initialize(entry->plugin, tp_host_api_get()));
	cb = entry->plugin->callbacks;
	ck_assert_ptr_nonnull(cb->install);
	ck_assert_ptr_nonnull(cb->poll);
	ck_assert_ptr_nonnull(cb->uninstall);
	ctx = tp_host_ctx_new(config, conninfo, entry);
	ck_assert_ptr_nonnull(ctx);
	ck_assert(tp_pgsql_connect(&pg, conninfo, "the test"));
	ck_assert(tp_pgsql_pin_session(&pg));
	ck_assert(tp_queue_install(&pg, config));

	/* the first snapshot: everything there is recorded, nothing emitted */
	ck_assert_int_eq(cb->install(ctx, pg.conn), TP_OK);
	ck_assert_int_eq(PQtransactionStatus(pg.conn), PQTRANS_IDLE);
	tp_sql_assert(su, DDL_EVENTS_SQL, "");
	tp_sql_assert(su, "SELECT string_agg(kind || ':' || schema_name || '.' ||"
				  " coalesce(object_name, ''), ',' ORDER BY kind, schema_name, object_name)"
				  " FROM teleport.schema_snapshot",
				  "schema:public.,schema:s2.,table:public.a,table:s2.b");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, DDL_EVENTS_SQL, "");
	/* the catalogs' fingerprint, which lets idle polls skip the comparison */
	tp_sql_assert(su, "SELECT fingerprint = teleport.schema_fingerprint()"
				  " FROM teleport.schema_state", "t");

	/*
	 * Changes of one poll: drops first (a table before its schema), then
	 * creations and changes (a schema before its table), by OID.
	 */
	tp_sql_ok(su, "CREATE SCHEMA s3; CREATE TABLE s3.c (id int);"
			  "ALTER TABLE public.a RENAME COLUMN v TO w;"
			  "DROP TABLE s2.b; DROP SCHEMA s2;");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	ck_assert_int_eq(PQtransactionStatus(pg.conn), PQTRANS_IDLE);
	tp_sql_assert(su, DDL_EVENTS_SQL,
				  "table:s2.b:drop,schema:s2.:drop,schema:s3.:create,"
				  "table:public.a:alter,table:s3.c:create");
	/* a rename: the same attnum, another name; the oid is the table's */
	tp_sql_assert(su, "SELECT concat_ws(' ', ddl -> 'before' -> 'columns' -> 1 ->> 'attnum',"
				  " ddl -> 'before' -> 'columns' -> 1 ->> 'name',"
				  " ddl -> 'after' -> 'columns' -> 1 ->> 'attnum',"
				  " ddl -> 'after' -> 'columns' -> 1 ->> 'name',"
				  " ddl -> 'after' -> 'columns' -> 1 ->> 'type',"
				  " ddl -> 'after' -> 'primary_key' ->> 'columns',"
				  " (ddl ->> 'oid')::oid = 'public.a'::regclass)"
				  " FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1"
				  " UNION ALL SELECT * FROM teleport.event_2) e WHERE table_name = 'a'",
				  "2 v 2 w text [1] t");

	/* nothing changed since: nothing more */
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, DDL_EVENTS_SQL,
				  "table:s2.b:drop,schema:s2.:drop,schema:s3.:create,"
				  "table:public.a:alter,table:s3.c:create");

	/* uninstall removes the objects; a new install starts afresh */
	ck_assert_int_eq(cb->uninstall(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, "SELECT concat_ws(' ', to_regclass('teleport.schema_snapshot') IS NULL,"
				  " to_regprocedure('teleport.schema_capture(oid[], boolean)') IS NULL,"
				  " (SELECT count(*) FROM teleport.schema_version WHERE component = 'schema'))",
				  "t t 0");
	tp_sql_assert(su, "SELECT concat_ws(' ',"
				  " to_regprocedure('teleport.schema_describe_enum(oid[])') IS NULL,"
				  " to_regprocedure('teleport.schema_describe_composite(oid[])') IS NULL,"
				  " to_regprocedure('teleport.schema_describe_sequence(oid[])') IS NULL,"
				  " to_regprocedure('teleport.schema_describe_index(oid[])') IS NULL)",
				  "t t t t");
	tp_sql_ok(su, "CREATE TABLE public.later (id int)");
	ck_assert_int_eq(cb->install(ctx, pg.conn), TP_OK);
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, "SELECT count(*) FROM teleport.schema_snapshot WHERE object_name = 'later'", "1");
	tp_sql_assert(su, "SELECT count(*) FROM (SELECT * FROM teleport.event_0 UNION ALL"
				  " SELECT * FROM teleport.event_1 UNION ALL SELECT * FROM teleport.event_2) e"
				  " WHERE table_name = 'later'", "0");
	/* a restart (install again) sends what changed meanwhile */
	tp_sql_ok(su, "ALTER TABLE public.later ADD COLUMN n int");
	ck_assert_int_eq(cb->install(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, "SELECT count(*) FROM (SELECT * FROM teleport.event_0 UNION ALL"
				  " SELECT * FROM teleport.event_1 UNION ALL SELECT * FROM teleport.event_2) e"
				  " WHERE table_name = 'later' AND ddl -> 'after' -> 'columns' -> 1 ->> 'name' = 'n'", "1");

	/*
	 * Types, sequences and indexes: created in one poll, they go out by
	 * rank (a type before the table that uses it, an index after its
	 * table, which it is filed under; composite types and domains by OID,
	 * so that each comes after the one it uses); dropped, in reverse (a
	 * standalone sequence's drop after the tables' changes: last).
	 */
	tp_sql_ok(su, "CREATE TYPE public.k_e AS ENUM ('a');"
			  "CREATE DOMAIN public.k_d AS public.k_e;"
			  "CREATE TYPE public.k_c AS (e public.k_e, d public.k_d);"
			  "CREATE DOMAIN public.k_dc AS public.k_c;"
			  "CREATE SEQUENCE public.k_s;"
			  "CREATE TABLE public.k_t (id int PRIMARY KEY DEFAULT nextval('public.k_s'),"
			  " c public.k_c, dc public.k_dc, da public.k_d[]);"
			  "CREATE INDEX k_i ON public.k_t (id) WHERE id > 0;");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, KINDS_EVENTS_SQL,
				  "enum:public.k_e:create,domain:public.k_d:create,composite:public.k_c:create,"
				  "domain:public.k_dc:create,"
				  "sequence:public.k_s:create,table:public.k_t:create,index:public.k_t:create");
	/* the column's type is described apart, for the target's own copy */
	tp_sql_assert(su, "SELECT concat_ws(' ', u ->> 'schema', u ->> 'name', u ->> 'array')"
				  " FROM teleport.schema_snapshot s,"
				  " json_array_elements(s.description -> 'columns') c,"
				  " LATERAL (SELECT c -> 'user_type' AS u) x"
				  " WHERE s.kind = 'table' AND s.object_name = 'k_t' AND c ->> 'name' = 'c'",
				  "public k_c false");
	tp_sql_assert(su, "SELECT string_agg(concat_ws(' ', c ->> 'name', u ->> 'name', u ->> 'array'),"
				  " ', ' ORDER BY c ->> 'name')"
				  " FROM teleport.schema_snapshot s,"
				  " json_array_elements(s.description -> 'columns') c,"
				  " LATERAL (SELECT c -> 'user_type' AS u) x"
				  " WHERE s.kind = 'table' AND s.object_name = 'k_t' AND c ->> 'name' LIKE 'd%'",
				  "da k_d true, dc k_dc false");
	tp_sql_ok(su, "DROP TABLE public.k_t; DROP DOMAIN public.k_dc; DROP TYPE public.k_c;"
			  " DROP DOMAIN public.k_d; DROP TYPE public.k_e; DROP SEQUENCE public.k_s;");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, KINDS_EVENTS_SQL,
				  "enum:public.k_e:create,domain:public.k_d:create,composite:public.k_c:create,"
				  "domain:public.k_dc:create,"
				  "sequence:public.k_s:create,table:public.k_t:create,index:public.k_t:create,"
				  "index:public.k_t:drop,table:public.k_t:drop,"
				  "domain:public.k_dc:drop,composite:public.k_c:drop,domain:public.k_d:drop,"
				  "enum:public.k_e:drop,sequence:public.k_s:drop");

	/*
	 * Objects whose dependencies go against their kinds' ranks, in one
	 * poll: each after what it depends on (a domain, 30, and a function,
	 * 45, over a range type with a function of the schema, range_fn 47; a
	 * SQL-standard body, 55, after the aggregate it calls, 57), the rest
	 * by rank. Then the snapshot of a version 2 (no dependencies kept):
	 * the setup that upgrades fills them, and the drops of one poll go
	 * before what they depended on.
	 */
	tp_sql_ok(su, "CREATE FUNCTION public.o_diff(a float8, b float8) RETURNS float8"
			  " LANGUAGE sql IMMUTABLE AS 'SELECT a - b';"
			  "CREATE TYPE public.o_r AS RANGE (subtype = float8, subtype_diff = public.o_diff);"
			  "CREATE DOMAIN public.o_d AS public.o_r;"
			  "CREATE FUNCTION public.o_w(public.o_r) RETURNS float8 LANGUAGE sql IMMUTABLE"
			  " AS 'SELECT upper($1) - lower($1)';"
			  "CREATE FUNCTION public.o_add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE"
			  " AS 'SELECT a + b';"
			  "CREATE AGGREGATE public.o_sum(int) (sfunc = public.o_add, stype = int);"
			  "CREATE FUNCTION public.o_total(a int[]) RETURNS int LANGUAGE sql IMMUTABLE"
			  " RETURN (SELECT public.o_sum(x) FROM unnest(a) x);");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, ORDER_EVENTS_SQL,
				  "function:o_diff:create,function:o_add:create,range_fn:o_r:create,"
				  "domain:o_d:create,function:o_w:create,aggregate:o_sum:create,"
				  "function_sql_body:o_total:create");
	tp_sql_assert(su, "SELECT string_agg(s.object_name || ':' || (SELECT string_agg(x.object_name,"
				  " ' ' ORDER BY x.object_name) FROM teleport.schema_snapshot x"
				  " WHERE x.oid = ANY (s.depends) AND x.kind <> 'comment'), ',' ORDER BY s.object_name)"
				  " FROM teleport.schema_snapshot s WHERE s.object_name IN ('o_r', 'o_d', 'o_total')",
				  "o_d:o_r,o_r:o_diff,o_total:o_sum");
	tp_sql_ok(su, "UPDATE teleport.schema_snapshot SET depends = NULL;"
			  "UPDATE teleport.schema_version SET version = 2 WHERE component = 'schema'");
	ck_assert_int_eq(cb->install(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, "SELECT concat_ws(' ', (SELECT count(*) FROM teleport.schema_snapshot"
				  " WHERE depends IS NULL), (SELECT version FROM teleport.schema_version"
				  " WHERE component = 'schema'))", "0 3");
	tp_sql_ok(su, "DROP TYPE public.o_r CASCADE; DROP AGGREGATE public.o_sum(int) CASCADE;"
			  "DROP FUNCTION public.o_diff(float8, float8), public.o_add(int, int);");
	ck_assert_int_eq(cb->poll(ctx, pg.conn), TP_OK);
	tp_sql_assert(su, ORDER_EVENTS_SQL,
				  "function:o_diff:create,function:o_add:create,range_fn:o_r:create,"
				  "domain:o_d:create,function:o_w:create,aggregate:o_sum:create,"
				  "function_sql_body:o_total:create,"
				  "function_sql_body:o_total:drop,aggregate:o_sum:drop,"
				  "function:o_w:drop,domain:o_d:drop,range_fn:o_r:drop,"
				  "function:o_add:drop,function:o_diff:drop");
	check_commit_while_described(ctx, cb, pg.conn, su, "schema_plugin");

	tp_host_ctx_free(ctx);
	tp_pgsql_close(&pg);
	tp_plan_free(&plan);
	tp_loader_free(&set);
	tp_config_free(config);
	PQfinish(su);
	free(conninfo);
}
END_TEST

/*
 * Case "ahead": in diff mode (a poll every 3 s here), rows written right
 * after a column rename and a column added, before the poll that
 * captures them, reach the target before the schema changes; their batch
 * is held, the changes are applied ahead of it when their batch arrives,
 * then the held batch applies: the target ends equal to the source.
 */
START_TEST(test_ahead)
{
	scene		the_scene;
	scene	   *sc = &the_scene;
	char	   *log;

	scene_open_configured(sc, "ahead", "ahead_src", "ahead_tgt", false, 3000);
	tp_inst_exec(sc->src, "CREATE TABLE public.ah (id int PRIMARY KEY, a text, n int);"
				 "INSERT INTO public.ah SELECT g, 'a' || g, g FROM generate_series(1, 10) g;");
	tp_inst_exec(sc->tgt, "CREATE SCHEMA " APPLY_SCHEMA ";"
				 "CREATE TABLE " APPLY_SCHEMA ".ah (id int PRIMARY KEY, a text, n int);"
				 "INSERT INTO " APPLY_SCHEMA ".ah SELECT g, 'a' || g, g"
				 " FROM generate_series(1, 10) g;");
	tp_inst_start(sc->tgt);
	tp_inst_start(sc->src);
	wait_captured(sc, "ah");
	tp_inst_exec(sc->src, "UPDATE public.ah SET n = n + 1 WHERE id = 1");
	wait_equal(sc, "the start");

	/* written at once after the changes, long before the next poll */
	tp_inst_exec(sc->src, "ALTER TABLE public.ah RENAME COLUMN a TO b;"
				 "ALTER TABLE public.ah ADD COLUMN c int NOT NULL DEFAULT 5;");
	tp_inst_exec(sc->src, "INSERT INTO public.ah (id, b, n, c) VALUES (100, 'new', 1, 7);"
				 "UPDATE public.ah SET b = b || '!', c = c + id WHERE id <= 5;"
				 "DELETE FROM public.ah WHERE id = 10;");
	wait_equal(sc, "rows written before the poll that captured their columns");

	log = tp_read_file(sc->tgt->log);
	if (!tp_contains(log, "ahead of batch"))
		tp_scene_fail(&sc->t, "the target applied no schema change ahead of a held batch");
	free(log);

	/*
	 * columns that need text mode added, and values only text mode carries
	 * written in the ALTER's transaction and right after it, while the
	 * trigger is still in json mode: the comparison remakes it and the
	 * rows with such values are sent again as text images
	 */
	tp_inst_exec(sc->src, "ALTER TABLE public.ah ADD COLUMN j jsonb, ADD COLUMN ia int[];"
				 "INSERT INTO public.ah (id, b, n, c, j, ia) VALUES (101, 'x', 1, 1, 'null', '[0:1]={1,2}');"
				 "UPDATE public.ah SET j = 'null', ia = '[2:2]={7}' WHERE id = 2;");
	tp_inst_exec(sc->src, "INSERT INTO public.ah (id, b, n, c, j, ia)"
				 " VALUES (102, 'y', 2, 2, '{\"a\": null}', '[-1:0]={3,4}');"
				 "UPDATE public.ah SET j = '[null]', ia = '{5}' WHERE id = 3;"
				 "UPDATE public.ah SET j = 'null' WHERE id = 4;");
	wait_equal(sc, "values only text mode carries, written before the poll");
	ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "ah"), 12);
	log = tp_read_file(sc->src->log);
	if (!tp_contains(log, "rows of table \"public.ah\" again as text images"))
		tp_scene_fail(&sc->t, "the rows written in json mode were not sent again");
	if (tp_contains(log, "sent 12 rows of table \"public.ah\"") ||
		tp_contains(log, "rows of table \"public.ah\" again after"))
		tp_scene_fail(&sc->t, "every row was sent again, not only those json mode may have lost");
	free(log);
	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * A writer of test_rewrite_writers (a child process): on db of cl, for
 * seconds, transactions that update a row of public.cw, sleep 5 ms
 * holding it, and insert a row; exits 0, or 1 on an error (printed). Each
 * row is updated once (writer 0 the odd ids, writer 1 the even ones, in
 * order), so that a row whose update were ordered wrongly around the
 * rows sent again would stay wrong on the target.
 */
static void
rewrite_writer(const tp_cluster *cl, const char *db, int writer, int seconds)
{
	char	   *conninfo = tp_cluster_conninfo(cl, db, NULL);
	PGconn	   *conn = PQconnectdb(conninfo);
	time_t		end = time(NULL) + seconds;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "writer %d: %s", writer, PQerrorMessage(conn));
		_exit(1);
	}
	for (int i = 0; time(NULL) < end; i++)
	{
		char		sql[512];
		PGresult   *res;

		snprintf(sql, sizeof(sql),
				 "BEGIN;"
				 "UPDATE public.cw SET n = n + 1 WHERE id = %d;"
				 "SELECT pg_sleep(0.005);"
				 "INSERT INTO public.cw (id, n, s) VALUES (%d, %d, 'w');"
				 "COMMIT",
				 1 + writer + 2 * i, 10000 + writer * 100000 + i, i);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "writer %d: %s", writer, PQerrorMessage(conn));
			_exit(1);
		}
		PQclear(res);
	}
	PQfinish(conn);
	free(conninfo);
	_exit(0);
}

/*
 * A child process of test_ddl_churn: on db of cl, for seconds, tables
 * (with a default, a check, an index, a view) and functions created and
 * dropped, each statement in its own transaction, so that the diff
 * source's polls describe objects that are dropped while it runs; exits
 * 0, or 1 on an error (printed).
 */
static void
churn_writer(const tp_cluster *cl, const char *db, int seconds)
{
	char	   *conninfo = tp_cluster_conninfo(cl, db, NULL);
	PGconn	   *conn = PQconnectdb(conninfo);
	time_t		end = time(NULL) + seconds;
	static const char *const steps[] = {
		"CREATE TABLE public.churn (id int PRIMARY KEY, v text DEFAULT 'x' || 1,"
		" n int CHECK (n > 0))",
		"CREATE INDEX churn_v ON public.churn (v)",
		"CREATE VIEW public.churn_view AS SELECT id, v FROM public.churn",
		"CREATE FUNCTION public.churn_f(int) RETURNS int LANGUAGE sql AS 'SELECT $1'",
		"DROP FUNCTION public.churn_f(int)",
		"DROP TABLE public.churn CASCADE",
	};

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "churn: %s", PQerrorMessage(conn));
		_exit(1);
	}
	while (time(NULL) < end)
	{
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		{
			PGresult   *res = PQexec(conn, steps[i]);

			if (PQresultStatus(res) != PGRES_COMMAND_OK)
			{
				fprintf(stderr, "churn: %s: %s", steps[i], PQerrorMessage(conn));
				_exit(1);
			}
			PQclear(res);
		}
	}
	PQfinish(conn);
	free(conninfo);
	_exit(0);
}

/*
 * Case "churn": in diff mode, polling every 50 ms while objects are
 * created and dropped all along: a poll whose description meets an object
 * dropped meanwhile ("could not open relation with OID", "cache lookup
 * failed") tries again at the next one; the source keeps running, and the
 * target ends equal to the source.
 */
START_TEST(test_ddl_churn)
{
	scene		the_scene;
	scene	   *sc = &the_scene;
	pid_t		churn;
	int			status = -1;
	char	   *log;

	scene_open_configured(sc, "churn", "churn_src", "churn_tgt", false, 50);
	scene_start(sc, BASE_SRC, BASE_TGT, "base");

	fflush(NULL);
	churn = fork();
	ck_assert_int_ge(churn, 0);
	if (churn == 0)
		churn_writer(src_cl, "churn_src", 6);
	tp_scene_register_pid(&sc->t, churn);
	ck_assert_int_eq(waitpid(churn, &status, 0), churn);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the churn failed");

	tp_inst_exec(sc->src, "INSERT INTO public.base SELECT g, 'after' FROM generate_series(1, 10) g;");
	wait_equal(sc, "objects created and dropped while the source polls");
	ck_assert_msg(tp_wait_exit(sc->src->pid, 0) < 0, "the source instance exited");
	log = tp_read_file(sc->src->log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "failed; stopping") == NULL, "a plugin of the source stopped");
	free(log);
	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * Case "new tables": in diff mode with polls every 50 ms, tables created
 * and filled in one transaction each, at moments spread over the polls, so
 * that some commit after the schema-diff source's poll and before the
 * trigger source's: the trigger source takes a table up only once its
 * creation is queued, so every creation reaches the target ahead of the
 * table's rows, no batch is ever held, and the target ends equal.
 */
START_TEST(test_new_tables_between_polls)
{
	scene		the_scene;
	scene	   *sc = &the_scene;
	char	   *log;

	scene_open_configured(sc, "newtables", "nt_src", "nt_tgt", false, 50);
	scene_start(sc, BASE_SRC, BASE_TGT, "base");

	for (int i = 0; i < 30; i++)
	{
		tp_inst_exec(sc->src,
					 "BEGIN;"
					 "CREATE TABLE public.nt_%d (id int PRIMARY KEY, v text);"
					 "INSERT INTO public.nt_%d SELECT g, md5(g::text) FROM generate_series(1, 200) g;"
					 "COMMIT;", i, i);
		/* 0 to 49 ms, spread */
		usleep((useconds_t) ((i * 7919) % 50) * 1000);
	}
	wait_equal(sc, "tables created and filled between polls");
	log = tp_read_file(sc->tgt->log);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, " is held") == NULL,
				  "a batch was held on the target (its log: %s)", sc->tgt->log);
	free(log);
	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * Case "writers": in diff mode, rows rewritten by a change while two
 * writers update and insert rows of the table all along: the poll that
 * finds the change sends the rows again under a lock that orders every
 * writer's changes before or after the copy (teleport.schema_resend_rows),
 * so the target ends equal to the source, row by row.
 */
START_TEST(test_rewrite_writers)
{
	scene		the_scene;
	scene	   *sc = &the_scene;
	pid_t		writers[2];

	scene_open_configured(sc, "writers", "writers_src", "writers_tgt", false, 0);
	tp_inst_exec(sc->src, "CREATE TABLE public.cw (id int PRIMARY KEY, n int, s text);"
				 "INSERT INTO public.cw SELECT g, g, 's' || g FROM generate_series(1, 5000) g;");
	tp_inst_exec(sc->tgt, "CREATE SCHEMA " APPLY_SCHEMA ";"
				 "CREATE TABLE " APPLY_SCHEMA ".cw (id int PRIMARY KEY, n int, s text);"
				 "INSERT INTO " APPLY_SCHEMA ".cw SELECT g, g, 's' || g"
				 " FROM generate_series(1, 5000) g;");
	tp_inst_start(sc->tgt);
	tp_inst_start(sc->src);
	wait_captured(sc, "cw");

	for (int w = 0; w < 2; w++)
	{
		fflush(NULL);
		writers[w] = fork();
		ck_assert_int_ge(writers[w], 0);
		if (writers[w] == 0)
			rewrite_writer(src_cl, "writers_src", w, 4);
		tp_scene_register_pid(&sc->t, writers[w]);
	}
	usleep(500000);
	tp_inst_exec(sc->src, "ALTER TABLE public.cw ADD COLUMN at timestamptz DEFAULT clock_timestamp();");
	usleep(1000000);
	tp_inst_exec(sc->src, "ALTER TABLE public.cw ALTER COLUMN s TYPE varchar(100)"
				 " USING s || '-' || (random() * 1000)::int;");
	for (int w = 0; w < 2; w++)
	{
		int			status = -1;

		ck_assert_int_eq(waitpid(writers[w], &status, 0), writers[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
	}
	wait_equal(sc, "rows rewritten while writers write");
	ck_assert_int_gt(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "cw"), 5000);
	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * Case "selection": the config of the source of test_selection (target
 * tgt selects "public.keep_*" only, into APPLY_SCHEMA; target "whole", on
 * the same receiver, all of public, into schema whole) or of its target.
 */
static void
configure_selection(scene *sc, bool source)
{
	configure_targets(sc, source, "\"public.keep_*\"", "whole", "\"public.*\"", "whole");
}

/*
 * The tables of schema on in (only those named keep_... when keep_only),
 * as text: per table in name order, its columns, its indexes' definitions
 * (schema qualifications removed) and its rows (count and md5). "(failed)"
 * when the query failed (a table renamed or dropped meanwhile).
 */
static char *
selection_signature(const tp_inst *in, const char *schema, bool keep_only)
{
	char	   *tables = tp_inst_value(in,
									   "SELECT coalesce(string_agg(relname, ' ' ORDER BY relname), '')"
									   " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
									   " WHERE n.nspname = '%s' AND c.relkind = 'r'%s", schema,
									   keep_only ? " AND c.relname LIKE 'keep\\_%'" : "");
	char	   *sig = NULL;
	char	   *save = NULL;

	tp_appendf(&sig, "tables: %s\n", tables);
	for (char *t = strtok_r(tables, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
	{
		char	   *v = tp_inst_try_value(in,
										  "SELECT (SELECT string_agg(a.attname || ' '"
										  "  || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)"
										  "  FROM pg_attribute a WHERE a.attrelid = '%s.%s'::regclass"
										  "  AND a.attnum > 0 AND NOT a.attisdropped)"
										  " || ' | ' || coalesce((SELECT string_agg(replace("
										  "  pg_get_indexdef(i.indexrelid), '%s.', ''), ', ' ORDER BY 1)"
										  "  FROM pg_index i WHERE i.indrelid = '%s.%s'::regclass), '')"
										  " || ' | ' || (SELECT count(*) || ' ' || coalesce(md5(string_agg("
										  "  r::text, ',' ORDER BY r::text)), '-') FROM %s.%s r)",
										  schema, t, schema, schema, t, schema, t);

		tp_appendf(&sig, "%s: %s\n", t, v ? v : "(failed)");
		free(v);
	}
	free(tables);
	return sig;
}

/*
 * Wait (60 s at most) until the target's APPLY_SCHEMA holds exactly the
 * source's tables public.keep_*, and its schema whole exactly those of
 * public, with their columns, indexes and rows; else fail with both.
 */
static void
wait_selection_equal(const scene *sc, const char *step)
{
	char	   *so = NULL;
	char	   *to = NULL;

	for (double end = tp_deadline(120); tp_before(end);)
	{
		free(so);
		free(to);
		so = selection_signature(sc->src, "public", true);
		to = selection_signature(sc->tgt, APPLY_SCHEMA, false);
		tp_appendf(&so, "-- whole:\n");
		tp_appendf(&to, "-- whole:\n");
		append_signature(&so, selection_signature(sc->src, "public", false));
		append_signature(&to, selection_signature(sc->tgt, "whole", false));
		if (strcmp(so, to) == 0 && strstr(so, "(failed)") == NULL)
			break;
		usleep(100000);
	}
	if (strcmp(so, to) != 0 || strstr(so, "(failed)") != NULL)
	{
		fprintf(stderr, "after %s:\n-- source public.keep_*:\n%s-- target:\n%s",
				step, so, to);
		tp_scene_fail(&sc->t, "the target's selection does not match the source's");
	}
	free(so);
	free(to);
}

/*
 * The number of 'c' events (inserts, and rows copied) in the queue filed
 * under table.
 */
static long
copied_rows(const scene *sc, const char *table)
{
	char	   *v = tp_inst_value(sc->src,
								  "SELECT count(*) FROM (SELECT op, table_name FROM teleport.event_0"
								  " UNION ALL SELECT op, table_name FROM teleport.event_1"
								  " UNION ALL SELECT op, table_name FROM teleport.event_2) e"
								  " WHERE op = 'c' AND table_name = '%s'", table);
	long		n = atol(v);

	free(v);
	return n;
}

/*
 * Case "selection", in diff mode (loop index 0) and with event triggers
 * (1): target tgt selects public.keep_* only, target whole all of public.
 * A selected table renamed out of the selection (keep_a -> other_a) or
 * moved to another schema (SET SCHEMA) is dropped on tgt, and its later
 * rows are not sent there; a table renamed into it (other_b -> keep_b,
 * with rows and an index) or moved into public is created there with its
 * index and its existing rows, then gets its changes: other_b is
 * captured already for whole (its rows are sent again, on tgt's
 * request), side.keep_y is not (the trigger source copies its rows as a
 * new table's); a rename within the selection (keep_r -> keep_c) stays a
 * rename (no row copied again); one table renamed out and another back
 * in, in one transaction; with event triggers, public renamed while a
 * transaction holds one of its tables (rows before and after the rename,
 * committed after it), and back. Rows are written right before and after
 * each change; after each step tgt's tables equal the source's
 * public.keep_*, and whole's all of public (columns, indexes, rows).
 */
START_TEST(test_selection)
{
	scene		the_scene;
	scene	   *sc = &the_scene;
	long		copied;

	scene_open(sc, "selection", "sel_src", "sel_tgt");
	sc->event_triggers = _i == 1;
	configure_selection(sc, true);
	configure_selection(sc, false);
	scene_start(sc, NULL, "CREATE SCHEMA " APPLY_SCHEMA "; CREATE SCHEMA whole;", NULL);

	/* selected tables, one not selected, one in another schema; rows */
	tp_inst_exec(sc->src,
				 "CREATE SCHEMA side;"
				 "CREATE TABLE public.keep_a (id int PRIMARY KEY, v text);"
				 "CREATE TABLE public.keep_r (id int PRIMARY KEY, v text);"
				 "CREATE TABLE public.keep_x (id int PRIMARY KEY, v text);"
				 "CREATE TABLE public.other_b (id int PRIMARY KEY, v text);"
				 "CREATE INDEX other_b_v ON public.other_b (v);"
				 "CREATE TABLE side.keep_y (id int PRIMARY KEY, v text);");
	wait_captured(sc, "keep_x");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.keep_a SELECT g, 'a' || g FROM generate_series(1, 20) g;"
				 "INSERT INTO public.keep_r SELECT g, 'r' || g FROM generate_series(1, 20) g;"
				 "INSERT INTO public.keep_x SELECT g, 'x' || g FROM generate_series(1, 20) g;"
				 "INSERT INTO public.other_b SELECT g, 'b' || g FROM generate_series(1, 30) g;"
				 "INSERT INTO side.keep_y SELECT g, 'y' || g FROM generate_series(1, 25) g;");
	wait_selection_equal(sc, "the start");

	/* renamed out of the selection: dropped on the target */
	tp_inst_exec(sc->src,
				 "INSERT INTO public.keep_a VALUES (100, 'before');"
				 "ALTER TABLE public.keep_a RENAME TO other_a;"
				 "INSERT INTO public.other_a VALUES (101, 'after');");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src, "UPDATE public.other_a SET v = v || '!';");
	wait_selection_equal(sc, "a table renamed out of the selection");

	/* renamed into the selection: created with its rows, then written */
	tp_inst_exec(sc->src,
				 "INSERT INTO public.other_b VALUES (100, 'before');"
				 "ALTER TABLE public.other_b RENAME TO keep_b;"
				 "INSERT INTO public.keep_b VALUES (101, 'after');");
	wait_captured(sc, "keep_b");
	tp_inst_exec(sc->src,
				 "UPDATE public.keep_b SET v = v || '+' WHERE id %% 3 = 0;"
				 "DELETE FROM public.keep_b WHERE id %% 5 = 0;"
				 "INSERT INTO public.keep_b VALUES (102, 'later');");
	wait_selection_equal(sc, "a table renamed into the selection");
	ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "keep_b"), 26);

	/* renamed within the selection: a rename, no rows copied again */
	copied = copied_rows(sc, "keep_c");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.keep_r VALUES (100, 'before');"
				 "ALTER TABLE public.keep_r RENAME TO keep_c;"
				 "INSERT INTO public.keep_c VALUES (101, 'after');");
	wait_captured(sc, "keep_c");
	tp_inst_exec(sc->src, "UPDATE public.keep_c SET v = v || '~' WHERE id < 5;");
	wait_selection_equal(sc, "a table renamed within the selection");
	/* inserts are 'c' events too: the one after the rename, once filed under keep_c */
	ck_assert_int_eq(copied, 0);
	ck_assert_int_le(copied_rows(sc, "keep_c"), 1);

	/* moved to another schema: out of the selection, and into it */
	tp_inst_exec(sc->src,
				 "INSERT INTO public.keep_x VALUES (100, 'before');"
				 "ALTER TABLE public.keep_x SET SCHEMA side;"
				 "INSERT INTO side.keep_x VALUES (101, 'after');");
	wait_captured(sc, NULL);
	wait_selection_equal(sc, "a table moved out of the selection");
	tp_inst_exec(sc->src,
				 "INSERT INTO side.keep_y VALUES (100, 'before');"
				 "ALTER TABLE side.keep_y SET SCHEMA public;"
				 "INSERT INTO public.keep_y VALUES (101, 'after');");
	wait_captured(sc, "keep_y");
	tp_inst_exec(sc->src, "UPDATE public.keep_y SET v = v || '#' WHERE id %% 2 = 0;");
	wait_selection_equal(sc, "a table moved into the selection");
	ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "keep_y"), 27);

	/* what left the selection is not sent: written again, the target is still equal */
	tp_inst_exec(sc->src, "INSERT INTO public.other_a VALUES (102, 'gone');"
				 "INSERT INTO side.keep_x VALUES (102, 'gone');"
				 "INSERT INTO public.keep_c VALUES (102, 'last');");
	wait_selection_equal(sc, "writes after the moves");

	/* out and back in, in one transaction with rows between */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "INSERT INTO public.keep_c VALUES (200, 'x');"
				 "ALTER TABLE public.keep_c RENAME TO other_c;"
				 "INSERT INTO public.other_c VALUES (201, 'y');"
				 "ALTER TABLE public.other_a RENAME TO keep_a;"
				 "INSERT INTO public.keep_a VALUES (200, 'back');"
				 "COMMIT;");
	wait_captured(sc, "keep_a");
	tp_inst_exec(sc->src, "UPDATE public.keep_a SET v = v || '*' WHERE id > 100;");
	wait_selection_equal(sc, "one table out and another back in, in one transaction");
	ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "keep_a"), 24);

	/*
	 * With event triggers: a transaction writes a table before its
	 * schema's rename out of both selections and holds it past the 1 s
	 * the rename waits for its lock; it commits once the targets dropped
	 * the tables, so its rows come after the rename: filed under the new
	 * name, they are sent to neither (they held the batch once, and the
	 * rows of a new public.keep_z with it). The schema renamed back
	 * brings its tables in again, with their rows.
	 */
	if (sc->event_triggers)
	{
		PGconn	   *holder = tp_cluster_connect(sc->src->cl, sc->src->db);

		tp_sql_ok(holder, "BEGIN; INSERT INTO public.keep_a VALUES (300, 'straddler')");
		tp_inst_exec(sc->src, "ALTER SCHEMA public RENAME TO gone");
		wait_selection_equal(sc, "the schema renamed out of the selections");
		tp_sql_ok(holder, "INSERT INTO gone.keep_a VALUES (301, 'after'); COMMIT");
		PQfinish(holder);
		tp_inst_exec(sc->src, "CREATE SCHEMA public;"
					 "CREATE TABLE public.keep_z (id int PRIMARY KEY, v text);");
		wait_captured(sc, "keep_z");
		tp_inst_exec(sc->src, "INSERT INTO public.keep_z VALUES (1, 'z');");
		wait_selection_equal(sc, "a new public after the straddling rows");
		tp_inst_exec(sc->src, "DROP SCHEMA public CASCADE;"
					 "ALTER SCHEMA gone RENAME TO public;");
		wait_captured(sc, "keep_a");
		tp_inst_exec(sc->src, "UPDATE public.keep_a SET v = v || '^' WHERE id >= 300");
		wait_selection_equal(sc, "the schema renamed back");
		ck_assert_int_eq(tp_inst_compare(sc->src, "public", sc->tgt, APPLY_SCHEMA, "keep_a"), 26);
	}

	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * The schema events the source queued after event id mark, in order:
 * "kind:name:op" (op create, drop or alter), comments and sequence values
 * left out.
 */
static char *
ddl_events_after(const scene *sc, const char *mark)
{
	return tp_inst_value(sc->src,
						 "SELECT coalesce(string_agg(format('%%s:%%s:%%s', ddl ->> 'type', table_name,"
						 " CASE WHEN json_typeof(ddl -> 'before') = 'null' THEN 'create'"
						 " WHEN json_typeof(ddl -> 'after') = 'null' THEN 'drop' ELSE 'alter' END),"
						 " ',' ORDER BY id), '')"
						 " FROM (SELECT * FROM teleport.event_0 UNION ALL SELECT * FROM teleport.event_1"
						 " UNION ALL SELECT * FROM teleport.event_2) e"
						 " WHERE op = 'ddl' AND id > %s AND ddl ->> 'type' NOT IN ('comment', 'sequence_value')",
						 mark);
}

/* The greatest event id of the source's queue, as text. */
static char *
last_event_id(const scene *sc)
{
	return tp_inst_value(sc->src,
						 "SELECT coalesce(max(id), 0) FROM (SELECT id FROM teleport.event_0"
						 " UNION ALL SELECT id FROM teleport.event_1"
						 " UNION ALL SELECT id FROM teleport.event_2) e");
}

/*
 * Run drop (SQL) on the source after writing before (SQL), wait until it
 * is captured, write after (SQL), and wait until the target equals the
 * source (columns, attributes, types, functions, rows); then check that
 * the source queued the drop's events as want says (see
 * ddl_events_after): the changes of the tables and composite types that
 * lost a column, an attribute or a default to it before the drops.
 */
static void
cascade_step(const scene *sc, const char *before, const char *drop,
			 const char *after, const char *want)
{
	char	   *mark = last_event_id(sc);
	char	   *got;

	tp_inst_exec(sc->src, "%s%s", before, drop);
	wait_captured(sc, "cc_t");
	tp_inst_exec(sc->src, "%s", after);
	wait_objects_equal(sc, drop);
	got = ddl_events_after(sc, mark);
	if (strcmp(got, want) != 0)
		tp_scene_fail(&sc->t, "after %s the events were %s, not %s", drop, got, want);
	free(got);
	free(mark);
}

/*
 * Case "cascade" (diff mode, then event triggers): a DROP ... CASCADE
 * that takes columns, composite type attributes, defaults and
 * constraints with it replicates: the target ends with the source's
 * schema and rows, written before and after each drop, and holds no
 * batch. DROP TYPE of an enum (columns of it and of an array of it, a
 * domain over it and its column, an attribute, a column of another
 * table's primary key), DROP DOMAIN (a column,
 * an attribute), DROP TYPE of a composite type (a column), DROP FUNCTION
 * (a column's default, a generated column; a table's CHECK and a
 * domain's), DROP SEQUENCE of a domain's default (the domain, its
 * column); then several in one transaction, with a column added under a
 * dropped one's name; a column and an attribute retyped away from a type
 * dropped (without CASCADE) in the same transaction; DROP EXTENSION (a
 * column and an attribute of its type). The first objects are made in
 * one transaction,
 * among them a domain whose default takes the nextval of a sequence made
 * with it (diff mode: one poll).
 */
START_TEST(test_cascade)
{
	scene		the_scene;
	scene	   *sc = &the_scene;

	scene_open(sc, "cascade", "cascade_src", "cascade_tgt");
	sc->event_triggers = _i == 1;
	/* the queue keeps its events: the test reads them after they are applied */
	sc->vacuum_ms = 3600000;
	configure(sc, true);
	configure(sc, false);
	scene_start(sc, NULL, "CREATE SCHEMA " APPLY_SCHEMA ";", NULL);

	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TYPE public.cc_e AS ENUM ('a', 'b', 'c');"
				 "CREATE DOMAIN public.cc_de AS public.cc_e;"
				 "CREATE DOMAIN public.cc_d AS int CHECK (VALUE > 0);"
				 "CREATE TYPE public.cc_c AS (x int, y public.cc_e, z public.cc_d);"
				 "CREATE TYPE public.cc_c2 AS (n int, t text);"
				 "CREATE FUNCTION public.cc_f() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 7';"
				 "CREATE FUNCTION public.cc_g(int) RETURNS boolean LANGUAGE sql IMMUTABLE"
				 " AS 'SELECT $1 <> 13';"
				 "CREATE DOMAIN public.cc_gd AS int CONSTRAINT cc_gd_g CHECK (public.cc_g(VALUE));"
				 "CREATE SEQUENCE public.cc_s;"
				 "CREATE DOMAIN public.cc_sd AS bigint DEFAULT nextval('public.cc_s');"
				 "CREATE TABLE public.cc_t (id int PRIMARY KEY, v text, a public.cc_e DEFAULT 'b',"
				 " arr public.cc_e[], de public.cc_de, b public.cc_d, c public.cc_c,"
				 " c2 public.cc_c2, f1 int DEFAULT public.cc_f(),"
				 " gen int GENERATED ALWAYS AS (public.cc_f() + id) STORED,"
				 " k int CONSTRAINT cc_t_k CHECK (public.cc_g(k)), gd public.cc_gd, s public.cc_sd);"
				 "CREATE TABLE public.cc_k (id int, e public.cc_e, v text, PRIMARY KEY (id, e));"
				 "COMMIT;");
	wait_captured(sc, "cc_t");
	tp_inst_exec(sc->src,
				 "INSERT INTO public.cc_t (id, v, a, arr, de, b, c, c2, k, gd) VALUES"
				 " (1, 'one', 'a', '{a,c}', 'c', 5, ROW(1, 'b', 2), ROW(3, 'x'), 4, 6),"
				 " (2, 'two', DEFAULT, '{}', NULL, 1, ROW(NULL, NULL, NULL), NULL, NULL, NULL);"
				 "INSERT INTO public.cc_k VALUES (1, 'a', 'x'), (1, 'b', 'y');");
	wait_objects_equal(sc, "objects made in one transaction");
	ck_assert_msg(!tp_cluster_exec(tgt_cl, "cascade_tgt",
								   "INSERT INTO " APPLY_SCHEMA ".cc_t (id, k) VALUES (100, 13)"),
				  "the target's CHECK does not call its function");

	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v, a, de) VALUES (3, 'before e', 'c', 'a');",
				 "DROP TYPE public.cc_e CASCADE;",
				 "INSERT INTO public.cc_t (id, v, c) VALUES (4, 'after e', ROW(4, 3));",
				 "table:cc_k:alter,table:cc_t:alter,composite:cc_c:alter,domain:cc_de:drop,enum:cc_e:drop");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v, b, c) VALUES (5, 'before d', 9, ROW(5, 8));",
				 "DROP DOMAIN public.cc_d CASCADE;",
				 "INSERT INTO public.cc_t (id, v, c) VALUES (6, 'after d', ROW(6));",
				 "table:cc_t:alter,domain:cc_d:alter,composite:cc_c:alter,domain:cc_d:drop");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v, c2) VALUES (7, 'before c2', ROW(7, 'y'));",
				 "DROP TYPE public.cc_c2 CASCADE;",
				 "INSERT INTO public.cc_t (id, v) VALUES (8, 'after c2');",
				 "table:cc_t:alter,composite:cc_c2:drop");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v) VALUES (9, 'before f');",
				 "DROP FUNCTION public.cc_f() CASCADE;",
				 "INSERT INTO public.cc_t (id, v) VALUES (10, 'after f');",
				 "table:cc_t:alter,function:cc_f:drop");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v, k, gd) VALUES (11, 'before g', 1, 2);",
				 "DROP FUNCTION public.cc_g(int) CASCADE;",
				 "INSERT INTO public.cc_t (id, v, k, gd) VALUES (12, 'after g', 13, 13);",
				 "constraint:cc_t:drop,domain:cc_gd:alter,function:cc_g:drop");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v) VALUES (13, 'before s');",
				 "DROP SEQUENCE public.cc_s CASCADE;",
				 "INSERT INTO public.cc_t (id, v) VALUES (14, 'after s');",
				 "table:cc_t:alter,domain:cc_sd:alter,domain:cc_sd:drop,sequence:cc_s:drop");

	/* several in one transaction; a column added under a dropped one's name */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TYPE public.cc_e2 AS ENUM ('x', 'y');"
				 "CREATE TYPE public.cc_c3 AS (e public.cc_e2, m int);"
				 "CREATE FUNCTION public.cc_h() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 3';"
				 "ALTER TABLE public.cc_t ADD COLUMN e public.cc_e2, ADD COLUMN c3 public.cc_c3,"
				 " ADD COLUMN w int DEFAULT public.cc_h();"
				 "COMMIT;");
	wait_captured(sc, "cc_t");
	tp_inst_exec(sc->src, "UPDATE public.cc_t SET e = 'y', c3 = ROW('x', id) WHERE id %% 2 = 0;");
	wait_objects_equal(sc, "more types, a function");
	cascade_step(sc,
				 "UPDATE public.cc_t SET w = 1 WHERE id = 1;",
				 "BEGIN; DROP TYPE public.cc_e2 CASCADE; DROP FUNCTION public.cc_h() CASCADE;"
				 " ALTER TABLE public.cc_t ADD COLUMN e text DEFAULT 'new'; COMMIT;",
				 "INSERT INTO public.cc_t (id, v, e) VALUES (15, 'after all', 'z');",
				 sc->event_triggers
				 ? "table:cc_t:alter,composite:cc_c3:alter,enum:cc_e2:drop,"
				 "table:cc_t:alter,function:cc_h:drop,table:cc_t:alter"
				 : "table:cc_t:alter,function:cc_h:drop,composite:cc_c3:alter,enum:cc_e2:drop,"
				 "table:cc_t:alter");

	/* retyped away from a type, which is then dropped (no CASCADE), in one transaction */
	tp_inst_exec(sc->src,
				 "BEGIN;"
				 "CREATE TYPE public.cc_e3 AS ENUM ('p', 'q');"
				 "CREATE TYPE public.cc_c4 AS (a public.cc_e3, n int);"
				 "ALTER TABLE public.cc_t ADD COLUMN r public.cc_e3 DEFAULT 'p';"
				 "COMMIT;");
	wait_captured(sc, "cc_t");
	tp_inst_exec(sc->src, "UPDATE public.cc_t SET r = 'q' WHERE id %% 3 = 0;");
	wait_objects_equal(sc, "an enum column");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v) VALUES (16, 'before retype');",
				 "BEGIN; ALTER TABLE public.cc_t ALTER COLUMN r TYPE text, ALTER COLUMN r SET DEFAULT 'q';"
				 " ALTER TYPE public.cc_c4 ALTER ATTRIBUTE a TYPE text; DROP TYPE public.cc_e3; COMMIT;",
				 "INSERT INTO public.cc_t (id, v, r) VALUES (17, 'after retype', 'text');",
				 sc->event_triggers ? "table:cc_t:alter,composite:cc_c4:alter,enum:cc_e3:drop"
				 : "table:cc_t:alter,composite:cc_c4:alter,enum:cc_e3:drop,table:cc_t:alter");

	/* an extension whose type a column and an attribute have */
	tp_inst_exec(sc->src, "CREATE EXTENSION citext SCHEMA public;");
	wait_captured(sc, NULL);
	tp_inst_exec(sc->src,
				 "ALTER TABLE public.cc_t ADD COLUMN ci public.citext;"
				 "ALTER TYPE public.cc_c4 ADD ATTRIBUTE ci public.citext;");
	wait_captured(sc, "cc_t");
	tp_inst_exec(sc->src, "UPDATE public.cc_t SET ci = 'Ci' || id WHERE id < 5;");
	wait_objects_equal(sc, "a column of an extension's type");
	/*
	 * the dependencies as an older teleport kept them (the extension's
	 * type, not the extension): the next start sets them right
	 */
	tp_inst_stop(sc->src);
	tp_inst_exec(sc->src,
				 "UPDATE teleport.schema_snapshot SET depends = array_replace(depends,"
				 " (SELECT oid FROM pg_extension WHERE extname = 'citext'), 'public.citext'::regtype::oid)"
				 " WHERE object_name IN ('cc_t', 'cc_c4');");
	{
		char	   *n = tp_inst_value(sc->src, "SELECT count(*) FROM teleport.schema_snapshot"
									  " WHERE 'public.citext'::regtype::oid = ANY (depends)");

		ck_assert_str_eq(n, "2");
		free(n);
	}
	tp_inst_start(sc->src);
	tp_inst_wait_true(sc->src, "SELECT NOT EXISTS (SELECT 1 FROM teleport.schema_snapshot"
					  " WHERE 'public.citext'::regtype::oid = ANY (depends))",
					  "the start never set the dependencies on the extension's type right");
	cascade_step(sc,
				 "INSERT INTO public.cc_t (id, v, ci) VALUES (18, 'before citext', 'X');",
				 "DROP EXTENSION citext CASCADE;",
				 "INSERT INTO public.cc_t (id, v) VALUES (19, 'after citext');",
				 "table:cc_t:alter,composite:cc_c4:alter,extension:citext:drop");

	tp_inst_exec(sc->src,
				 "DROP TABLE public.cc_t, public.cc_k; DROP TYPE public.cc_c, public.cc_c3, public.cc_c4;"
				 " DROP DOMAIN public.cc_gd;");
	wait_captured(sc, NULL);
	wait_objects_equal(sc, "the rest dropped");
	{
		char	   *held = tp_inst_value(sc->tgt, "SELECT count(*) FROM teleport.inbox_stream"
										 " WHERE held_reason IS NOT NULL");

		ck_assert_str_eq(held, "0");
		free(held);
	}
	tp_inst_stop(sc->src);
	tp_inst_stop(sc->tgt);
	tp_scene_free(&sc->t);
}
END_TEST

/*
 * The suite. The diff scene's three modes (schema diffing, event triggers,
 * switching between them) take minutes each: Makefile.am builds this file
 * once more for each, with TP_SCHEMA_DIFF_MODE set, so that make -j runs
 * them side by side; without it the program runs the other cases.
 */
static Suite *
schema_suite(void)
{
	Suite	   *s = suite_create("schema");
	TCase	   *tc;

#ifdef TP_SCHEMA_DIFF_MODE
	tc = tcase_create("diff");
	tcase_add_unchecked_fixture(tc, start_clusters, stop_clusters);
	/* each loop's scene takes 3 to 6 minutes on a loaded 2-core machine */
	tcase_set_timeout(tc, 420);
	tcase_add_loop_test(tc, test_diff_mode, TP_SCHEMA_DIFF_MODE, TP_SCHEMA_DIFF_MODE + 1);
	suite_add_tcase(s, tc);
	/* the other program's tests, compiled here too */
	(void) test_source;
	(void) test_ahead;
	(void) test_rewrite_writers;
	(void) test_ddl_churn;
	(void) test_new_tables_between_polls;
	(void) test_selection;
	(void) test_cascade;
#else
	tc = tcase_create("source");
	tcase_add_unchecked_fixture(tc, start_clusters, stop_clusters);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_source);
	suite_add_tcase(s, tc);

	tc = tcase_create("ahead");
	tcase_add_unchecked_fixture(tc, start_clusters, stop_clusters);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_ahead);
	tcase_add_test(tc, test_rewrite_writers);
	tcase_add_test(tc, test_ddl_churn);
	tcase_add_test(tc, test_new_tables_between_polls);
	suite_add_tcase(s, tc);

	tc = tcase_create("selection");
	tcase_add_unchecked_fixture(tc, start_clusters, stop_clusters);
	tcase_set_timeout(tc, 180);
	tcase_add_loop_test(tc, test_selection, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("cascade");
	tcase_add_unchecked_fixture(tc, start_clusters, stop_clusters);
	/* about 15 s per loop; a failing wait takes two minutes */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_cascade, 0, 2);
	suite_add_tcase(s, tc);
	(void) test_diff_mode;		/* the diff programs' test */
#endif
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(schema_suite());
}
