/*
 * postgres.h
 *     Internals of the postgres applier plugin, shared by its files:
 *       postgres.c        the plugin: options, callbacks, state
 *       pg_apply.c        a batch's changes grouped into set-based statements
 *       pg_ddl.c          schema change events turned into DDL
 *       pg_load.c         initial-load batches: TRUNCATE and COPY
 *       pg_exec.c         sending statements (libpq pipeline mode) and
 *                         reading their results
 *       pg_tables.c       the target tables' catalog cache and their SQL
 *       pg_json.c         a small scanner for the change's JSON objects
 *
 * Nothing here is part of teleport's ABI; the plugin reaches teleport only
 * through ctx->host and links only libpq.
 */
#ifndef TP_PG_APPLIER_H
#define TP_PG_APPLIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <teleport/teleport.h>

/*
 * pg_json.c: JSON text as PostgreSQL's json type renders it, already
 * checked by the host's change_next. Values are never converted: they are
 * located as spans of the text.
 */

/* One member of an object: its decoded name and its value's exact text. */
typedef struct pj_member
{
	const char *name;			/* decoded, NUL-terminated (in pj_object) */
	size_t		name_len;
	const char *value;			/* points into the object's text */
	size_t		value_len;
} pj_member;

/* The members of one object; reusable (pj_object_free). */
typedef struct pj_object
{
	pj_member  *members;
	int			n;
	int			cap;
	char	   *names;			/* decoded names, NUL-separated */
	size_t		names_cap;
} pj_object;

/*
 * Split the object text (len bytes) into its members, in order. False for
 * text that is not an object (the host checked it: only a bug gets here).
 */
bool		pj_parse_object(pj_object *obj, const char *text, size_t len);

/* The member named name, or NULL. */
const pj_member *pj_find(const pj_object *obj, const char *name);

/*
 * Decode the JSON string value (with its quotes) into a new string
 * (free); NULL when it is not a string or holds a NUL character.
 */
char	   *pj_string(const char *value, size_t len);

void		pj_object_free(pj_object *obj);

struct pg_exec;

/*
 * pg_tables.c: a target table as the catalog describes it, cached by
 * (schema, table) until pg_tables_reset (after any failure).
 */

typedef struct pg_column
{
	char	   *name;
	char	   *quoted;			/* quote_ident'ed */
	char	   *type;			/* format_type(atttypid, atttypmod) */
	bool		json;			/* json or jsonb, through domains */
	bool		generated;		/* attgenerated: never written */
	bool		identity_always;	/* GENERATED ALWAYS AS IDENTITY */
	bool		notnull;
	int			key_pos;		/* 1-based position in the key, 0: not */
} pg_column;

/*
 * A shape: '0'/'1' per column of the table (present in the rows), then
 * how the rows carry their values, then NUL: rows of different shapes
 * never share a statement.
 */
#define PG_SHAPE_JSON 'j'		/* as PostgreSQL's json renders them */
#define PG_SHAPE_TEXT 't'		/* text mode: each value's text as a JSON
								 * string ("values":"text") */

/*
 * The opening of the queries that compute DDL from an event (pg_ddl*.c),
 * whose parameters are $1 apply_schema and $2 the ddl object: a CTE x(s,
 * b, a) of the schema and the descriptions before and after (NULL when
 * not an object). PG_DDL_PROLOGUE goes on with a CTE t(s, b, a, qb, qa,
 * ...) whose qb and qa are the object's qualified names before and after
 * (its "name" in s); the query continues t's select list or closes it.
 */
#define PG_DDL_X \
	"WITH x AS (\n" \
	"	SELECT $1::pg_catalog.text AS s,\n" \
	"		CASE WHEN pg_catalog.json_typeof($2::pg_catalog.json -> 'before') = 'object'\n" \
	"			THEN $2::pg_catalog.json -> 'before' END AS b,\n" \
	"		CASE WHEN pg_catalog.json_typeof($2::pg_catalog.json -> 'after') = 'object'\n" \
	"			THEN $2::pg_catalog.json -> 'after' END AS a)"
#define PG_DDL_PROLOGUE \
	PG_DDL_X ",\n" \
	"t AS (\n" \
	"	SELECT s, b, a,\n" \
	"		CASE WHEN b IS NOT NULL THEN pg_catalog.format('%I.%I', s, b ->> 'name') END AS qb,\n" \
	"		CASE WHEN a IS NOT NULL THEN pg_catalog.format('%I.%I', s, a ->> 'name') END AS qa"

/*
 * An SQL text expression: " RESTART WITH n" when the value of the target's
 * sequence "rel" (an SQL expression of type regclass, NULL when it has
 * none) lies outside the range of the parameters "p" (a json expression
 * with "min" and "max" as text, NULL for the defaults of an ascending
 * sequence of SQL type name "seqtype"), n being the bound it passed; ""
 * otherwise. An ALTER SEQUENCE that narrows the range past the value fails
 * ("RESTART value ... cannot be less than MINVALUE"): the source's did it
 * with a RESTART, or past a value the target is behind, and the source's
 * value comes on its own afterwards ('sequence_value' events). The value
 * is read with query_to_xml, which runs a query built at run time, since
 * nothing is installed on the target.
 */
#define PG_DDL_RESTART(rel, p, seqtype) \
	"(SELECT CASE WHEN v.lv < v.lo THEN ' RESTART WITH ' || v.lo\n" \
	"	WHEN v.lv > v.hi THEN ' RESTART WITH ' || v.hi ELSE '' END\n" \
	"	FROM (SELECT (SELECT pg_catalog.substring(pg_catalog.query_to_xml(\n" \
	"			pg_catalog.format('SELECT last_value FROM %s', r.rel), false, false, '')::pg_catalog.text,\n" \
	"			'<last_value>(-?[0-9]+)</last_value>')::pg_catalog.int8\n" \
	"		FROM (SELECT (" rel ")::pg_catalog.regclass AS rel) r WHERE r.rel IS NOT NULL) AS lv,\n" \
	"		coalesce((" p " ->> 'min')::pg_catalog.int8, 1) AS lo,\n" \
	"		coalesce((" p " ->> 'max')::pg_catalog.int8, CASE " seqtype "\n" \
	"			WHEN 'smallint' THEN 32767 WHEN 'integer' THEN 2147483647\n" \
	"			ELSE 9223372036854775807 END) AS hi) v)"

/* A prepared statement of a table: kind + shape -> name. */
typedef struct pg_stmt
{
	char		kind;			/* PG_STMT_* */
	char	   *shape;			/* see PG_SHAPE_* */
	char		name[32];
	char	   *sql;			/* kept until it is prepared */
	bool		prepared;		/* Parse was sent */
} pg_stmt;

#define PG_STMT_UPSERT 'u'		/* INSERT ... ON CONFLICT (key) DO UPDATE */
#define PG_STMT_INSERT 'i'		/* plain INSERT (no usable key) */
#define PG_STMT_DELETE 'd'		/* DELETE by the columns of the shape */
#define PG_STMT_EXISTS 'e'		/* which rows of the shape exist */

typedef struct pg_table
{
	char	   *schema;			/* the target schema (apply_schema) */
	char	   *table;
	char	   *qualified;		/* "schema"."table", quoted */
	bool		exists;
	pg_column  *cols;
	int			n_cols;
	int			n_key;			/* key columns (primary key, else replica
								 * identity index); 0: none */
	bool		key_immediate;	/* the key can be an ON CONFLICT arbiter */
	bool		strict_fk;		/* a NOT DEFERRABLE foreign key to or from it */
	bool		triggers_origin;	/* ordinary triggers fire (role origin) */
	bool		triggers_replica;	/* triggers fire under role replica */
	int			id;				/* names its prepared statements */
	pg_stmt    *stmts;
	int			n_stmts;
	int			pins;			/* open groups that hold it */
	bool		stale;			/* reset while pinned: reload when unpinned */
	struct pg_table *next;		/* hash chain */
} pg_table;

#define PG_TABLE_BUCKETS 256

typedef struct pg_tables
{
	pg_table   *buckets[PG_TABLE_BUCKETS];
	int			next_id;
	bool		dirty;			/* statements may exist: DEALLOCATE ALL */
} pg_tables;

/*
 * The cached table schema.table, loaded from the catalog on first use.
 * NULL (with a reason in reason) when the catalog query failed; a table
 * that does not exist is returned with exists false (and cached, until
 * the next reset).
 */
pg_table   *pg_tables_get(pg_tables *tables, struct pg_exec *ex,
						  const char *schema, const char *table, char *reason,
						  size_t reason_len);

/* The index of column name in t, or -1. */
int			pg_table_column(const pg_table *t, const char *name);

/*
 * The prepared statement of t for kind and shape (see PG_SHAPE_*), made
 * (with its SQL) when new; NULL with a reason when the shape cannot make
 * one (an upsert of rows without the whole key).
 */
pg_stmt    *pg_table_stmt(pg_table *t, char kind, const char *shape,
						  char *reason, size_t reason_len);

/*
 * Forget every table (the next use reloads it) and its statements; a
 * table that open groups still hold (pins) keeps its description for
 * them, and is reloaded on the first use after they let it go.
 */
void		pg_tables_reset(pg_tables *tables);

/*
 * pg_exec.c: statements sent in pipeline mode (when libpq has it) and
 * their results read at pg_exec_sync; without pipeline mode each is run at
 * once. The first failure is kept with the description of the statement.
 */

typedef struct pg_pending pg_pending;

typedef struct pg_exec
{
	PGconn	   *conn;
	bool		pipeline;		/* in pipeline mode */
	pg_pending *pending;		/* sent, results not read: a ring */
	int			n_pending;
	int			cap_pending;
	int			head;
	size_t		bytes_sent;		/* since the last sync */
	bool		failed;
	char		error[1024];	/* the first failure: what and why */
	int64_t		missing;		/* rows a DELETE expected but did not find */
} pg_exec;

/* Start on conn (pipeline mode when available). */
void		pg_exec_begin(pg_exec *ex, PGconn *conn);

/*
 * Send a statement: text with n text parameters, or a prepared statement
 * (stmt, prepared first when it is not yet), with what: a description for
 * messages ("update of public.t, change 42"). expect_rows > 0: a DELETE
 * that should find that many rows (fewer are counted in missing). After a
 * failure nothing more is sent.
 */
void		pg_exec_send(pg_exec *ex, const char *sql, pg_stmt *stmt, int n,
						 const char *const *params, const char *what,
						 int64_t expect_rows);

/*
 * A query whose rows the caller needs (sql, or stmt): everything pending
 * is read first, then it runs. Its result (PQclear), or NULL after a
 * failure (ex->error says what and why).
 */
PGresult   *pg_exec_query(pg_exec *ex, const char *sql, pg_stmt *stmt, int n,
						  const char *const *params, const char *what);

/*
 * A query of one count (sql, no parameters), described by what: true when
 * it is 0; false when it is not, or after a failure (ex->error says what
 * and why).
 */
bool		pg_exec_none_left(pg_exec *ex, const char *sql, const char *what);

/* Read every pending result. False when a statement failed. */
bool		pg_exec_sync(pg_exec *ex);

/*
 * Sync and leave pipeline mode, so that the caller may run a command of
 * its own on the connection (a COPY); what is sent afterwards runs at once
 * until pg_exec_end. The connection, or NULL when a statement failed
 * (ex->error says what and why).
 */
PGconn	   *pg_exec_direct(pg_exec *ex);

/* Leave pipeline mode (after a final sync). */
void		pg_exec_end(pg_exec *ex);

void		pg_exec_free(pg_exec *ex);

/*
 * postgres.c: the state of one applier instance (ctx->private_data).
 */
typedef struct pg_applier
{
	pg_tables	tables;
	pg_exec		exec;
	bool		replica_role;	/* option session_replication_role */
	size_t		max_group_bytes;	/* of JSON rows in one statement */
	int64_t		deletes_missing;	/* since start: DELETEs that found no row */
	int64_t		ddl_skipped;	/* since start: DDL events not applied */
	struct pg_open *open;		/* groups not sent yet (pg_apply.c) */
	PGconn	   *ahead;			/* second session, or NULL (pg_ahead.c) */
	bool		not_null_pending;	/* a NOT NULL marker may exist (pg_not_null.c) */
	bool		set_aside_pending;	/* a foreign key may be set aside (pg_set_aside.c) */
	int			set_aside_table;	/* in this batch, SET_ASIDE_TABLE exists: 1,
									 * does not: 0, not looked for: -1 */
} pg_applier;

/*
 * The marker of a column whose NOT NULL waits for the source's rows that
 * follow a type change (guard_retype, pg_ddl.c): a CHECK (col IS NOT NULL)
 * NOT VALID named after the source's attnum (an SQL expression), which
 * keeps NULLs out of new rows meanwhile and which pg_not_null_restore
 * turns back into NOT NULL once the column holds no NULL.
 */
#define NOT_NULL_MARKER(attnum) \
	"('teleport_not_null_' OPERATOR(pg_catalog.||) (" attnum ")::pg_catalog.text)"

/* A regular expression (an SQL string constant) that matches the markers' names. */
#define NOT_NULL_MARKER_PATTERN "'^teleport_not_null_[0-9]+$'"

/*
 * pg_not_null.c: at the end of a batch (through ex, in its transaction),
 * when a marker may exist, set NOT NULL on each marked column that holds
 * no NULL any more and drop its marker; columns still holding a NULL keep
 * theirs for a later batch. Forgets the need once no marker is left.
 */
void		pg_not_null_restore(pg_applier *a, pg_exec *ex);

/*
 * pg_set_aside.c: whether the table of the foreign keys set aside
 * (pg_set_aside.h) exists on the target, looked for (through ex) once per
 * batch, since a batch rolled back takes its creation with it. False also
 * after a failure (ex says why).
 */
bool		pg_set_aside_exists(pg_applier *a, pg_exec *ex);

/*
 * pg_set_aside.c: at the end of a batch (through ex, in its transaction),
 * when a foreign key may be set aside, put back each that no row
 * violates any more; the others wait for a later batch. Forgets the need
 * once none is left.
 */
void		pg_set_aside_restore(pg_applier *a, pg_exec *ex);

/*
 * pg_apply.c: apply one batch inside the host's transaction. The groups
 * still open at the end of a partial batch stay open (a->open) for the
 * next part, so that a statement's key changes split across parts are
 * still applied together.
 */
tp_result	pg_apply_batch(tp_plugin_ctx *ctx, pg_applier *a, PGconn *conn,
						   const tp_batch *batch);

/*
 * pg_load.c: one batch of an initial load (TP_BATCH_LOAD, teleport/batch.h)
 * into batch->apply_schema, inside the host's transaction, after the
 * caller sent every open group. TP_OK; TP_ERROR for a malformed batch;
 * TP_RETRY when the target lacks a table or column the batch needs, or
 * the server refused it; each with the reason (not logged). A statement
 * sent through ex may still fail at its sync. ex is out of pipeline mode
 * afterwards when a COPY ran (pg_exec_direct).
 */
tp_result	pg_load_apply(pg_applier *a, pg_exec *ex, const tp_batch *batch,
						  char *reason, size_t reason_len);

/* Drop the groups open from a partial batch (a new session). */
void		pg_apply_forget(pg_applier *a);

/* Free what pg_apply_batch keeps between calls (shutdown). */
void		pg_apply_free(pg_applier *a);

/*
 * pg_ddl.c: schema change events (docs/schema.md).
 */

/* Whether pg_ddl_apply applies ddl events of this "type". */
bool		pg_ddl_kind_known(const char *type);

/*
 * Send the DDL of change c (its ddl object parsed in ddl, its "type" in
 * type) into batch->apply_schema, then forget the cached tables and the
 * prepared statements (their columns may have changed). The caller has
 * sent every open group first. TP_OK, or TP_RETRY with the reason (the
 * batch is held); a statement that fails later is found at the sync.
 */
tp_result	pg_ddl_apply(pg_applier *a, pg_exec *ex, const tp_batch *batch,
						 const tp_change *c, const char *type,
						 const pj_object *ddl, char *reason, size_t reason_len);

/*
 * pg_ahead.c: run sql (one statement) on a second session to the target,
 * committed at once, ahead of the batch's transaction (opened on first
 * use like conn). False with the error when it failed or could not wait
 * for a lock: the caller then sends it in the batch's transaction.
 */
bool		pg_ahead_run(pg_applier *a, PGconn *conn, const char *sql,
						 char *error, size_t error_len);

/* Close the second session, if open. */
void		pg_ahead_free(pg_applier *a);

/*
 * pg_ddl_enum.c: the statements of an enum's change, $1 apply_schema, $2
 * the ddl object; rows (statement, ahead): ahead ones should run ahead of
 * the batch's transaction (pg_ahead_run).
 */
extern const char pg_ddl_enum_sql[];

/*
 * pg_ddl_composite.c: the statements of a composite type's change, $1
 * apply_schema, $2 the ddl object.
 */
extern const char pg_ddl_composite_sql[];

/*
 * pg_ddl_domain.c: the statements of a domain's change, $1 apply_schema,
 * $2 the ddl object.
 */
extern const char pg_ddl_domain_sql[];

/*
 * pg_ddl_sequence.c: the statements of a standalone sequence's change, $1
 * apply_schema, $2 the ddl object.
 */
extern const char pg_ddl_sequence_sql[];

/*
 * pg_ddl_index.c: the statements of an index's change, $1 apply_schema,
 * $2 the ddl object.
 */
extern const char pg_ddl_index_sql[];

/*
 * pg_ddl_range.c: the statements of a range type's change, $1
 * apply_schema, $2 the ddl object.
 */
extern const char pg_ddl_range_sql[];

/*
 * pg_ddl_aggregate.c: the statements of an aggregate's change, $1
 * apply_schema, $2 the ddl object.
 */
extern const char pg_ddl_aggregate_sql[];

/* Append s (len bytes) to a growing buffer; false when memory ran out. */
typedef struct pg_buf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} pg_buf;

bool		pg_buf_add(pg_buf *b, const char *s, size_t len);
bool		pg_buf_str(pg_buf *b, const char *s);
void		pg_buf_free(pg_buf *b);

#endif							/* TP_PG_APPLIER_H */
