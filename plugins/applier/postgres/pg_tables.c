/*
 * pg_tables.c
 *     The target tables as the catalog describes them (columns, generated
 *     and identity columns, the key), cached per (schema, table), and the
 *     SQL of their set-based statements, each prepared once per shape (the
 *     set of columns the rows carry).
 *
 * The key is the primary key, else the replica identity index. A key that
 * is not deferrable is the ON CONFLICT arbiter of the upsert; a deferrable
 * one cannot be (PostgreSQL refuses it), and rows are then replaced by a
 * DELETE of their keys followed by an INSERT.
 *
 * The statements take the rows as one json array parameter, turned into
 * rows of the table's type by json_populate_recordset (json, not jsonb: no
 * value is converted before the column's own input function reads it):
 *
 *   u: INSERT INTO t AS t (cols) [OVERRIDING SYSTEM VALUE]
 *        SELECT r.cols FROM json_populate_recordset(NULL::t, $1) r
 *        ON CONFLICT (key) DO UPDATE SET col = EXCLUDED.col ...
 *   i: the same without ON CONFLICT
 *   d: DELETE FROM t AS t USING json_populate_recordset(NULL::t, $1) k
 *        WHERE t.c = k.c AND ...      (IS NOT DISTINCT FROM when nullable)
 *   e: SELECT k.ordinality FROM json_populate_recordset(NULL::t, $1)
 *        WITH ORDINALITY k WHERE EXISTS (SELECT FROM t WHERE ...)
 *
 * Rows in text mode (each value its text form as a JSON string) are read
 * the same way, but for json and jsonb columns (and domains over them):
 * json_populate_recordset would take a JSON string for them as a JSON
 * string value, not as the text of one. So text-mode rows are read with
 * json_to_recordset, each column declared with its type and typmod (so
 * that its input function checks the typmod, as json_populate_recordset
 * does), json columns as text and then cast to their type:
 *
 *   (SELECT x.c1 AS "a", CAST(x.c2 AS jsonb) AS "j" [, x.n AS ordinality]
 *    FROM ROWS FROM (json_to_recordset($1) AS ("a" integer, "j" text))
 *    WITH ORDINALITY AS x(c1, c2, n)) r
 *
 * Generated columns are never written; GENERATED ALWAYS identity columns
 * are written with OVERRIDING SYSTEM VALUE (and, outside the key, left out
 * of the upsert's SET, which PostgreSQL refuses for them).
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* The catalog query: one row per column, in attnum order. */
static const char catalog_sql[] =
	"SELECT a.attname::text, a.attgenerated <> '', a.attidentity = 'a',"
	" a.attnotnull,"
	" coalesce((SELECT o.ord FROM pg_catalog.unnest(k.indkey::pg_catalog.int2[])"
	"  WITH ORDINALITY o(attnum, ord) WHERE o.attnum = a.attnum), 0),"
	" coalesce(k.indimmediate, true),"
	" EXISTS (SELECT FROM pg_catalog.pg_constraint f WHERE f.contype = 'f'"
	"  AND NOT f.condeferrable AND (f.conrelid = c.oid OR f.confrelid = c.oid)),"
	" EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid"
	"  AND NOT g.tgisinternal AND g.tgenabled IN ('O', 'A')"
	"  AND g.tgname !~ '^teleport_capture'),"
	" EXISTS (SELECT FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid"
	"  AND g.tgenabled IN ('R', 'A') AND g.tgname !~ '^teleport_capture'),"
	" pg_catalog.format_type(a.atttypid, a.atttypmod),"
	" (WITH RECURSIVE d(oid) AS (SELECT a.atttypid UNION"
	"  SELECT y.typbasetype FROM d JOIN pg_catalog.pg_type y ON y.oid = d.oid"
	"  WHERE y.typtype = 'd')"
	"  SELECT EXISTS (SELECT FROM d WHERE d.oid IN ('pg_catalog.json'::pg_catalog.regtype,"
	"  'pg_catalog.jsonb'::pg_catalog.regtype)))"
	" FROM pg_catalog.pg_class c"
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
	" JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
	"  AND NOT a.attisdropped"
	" LEFT JOIN LATERAL (SELECT i.indkey, i.indimmediate FROM pg_catalog.pg_index i"
	"  WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident)"
	"  ORDER BY i.indisprimary DESC LIMIT 1) k ON true"
	" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')"
	" ORDER BY a.attnum";

/* See postgres.h. */
bool
pg_buf_add(pg_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;
		char	   *data;

		while (cap < b->len + len + 1)
			cap *= 2;
		data = realloc(b->data, cap);
		if (data == NULL)
			return false;
		b->data = data;
		b->cap = cap;
	}
	if (len > 0)
		memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

/* See postgres.h. */
bool
pg_buf_str(pg_buf *b, const char *s)
{
	return pg_buf_add(b, s, strlen(s));
}

/* See postgres.h. */
void
pg_buf_free(pg_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* name as an SQL identifier, always quoted: a new string (free), or NULL. */
static char *
quote_ident(const char *name)
{
	size_t		n = strlen(name);
	char	   *q = malloc(2 * n + 3);
	char	   *p = q;

	if (q == NULL)
		return NULL;
	*p++ = '"';
	for (; *name != '\0'; name++)
	{
		if (*name == '"')
			*p++ = '"';
		*p++ = *name;
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

/* FNV-1a of schema and table: the bucket. */
static unsigned
bucket_of(const char *schema, const char *table)
{
	uint32_t	h = 2166136261u;

	for (const char *p = schema; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = table; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	return h % PG_TABLE_BUCKETS;
}

/* Free a table and everything it holds. */
static void
table_free(pg_table *t)
{
	for (int i = 0; i < t->n_cols; i++)
	{
		free(t->cols[i].name);
		free(t->cols[i].quoted);
		free(t->cols[i].type);
	}
	for (int i = 0; i < t->n_stmts; i++)
	{
		free(t->stmts[i].shape);
		free(t->stmts[i].sql);
	}
	free(t->cols);
	free(t->stmts);
	free(t->schema);
	free(t->table);
	free(t->qualified);
	free(t);
}

/* Fill t from the catalog query's result. False when memory ran out. */
static bool
table_fill(pg_table *t, const PGresult *res)
{
	int			rows = PQntuples(res);

	t->exists = rows > 0;
	if (rows == 0)
		return true;
	t->cols = calloc((size_t) rows, sizeof(pg_column));
	if (t->cols == NULL)
		return false;
	for (int i = 0; i < rows; i++)
	{
		pg_column  *c = &t->cols[i];

		t->n_cols++;
		c->name = strdup(PQgetvalue(res, i, 0));
		c->quoted = c->name ? quote_ident(c->name) : NULL;
		c->type = strdup(PQgetvalue(res, i, 9));
		if (c->quoted == NULL || c->type == NULL)
			return false;
		c->json = strcmp(PQgetvalue(res, i, 10), "t") == 0;
		c->generated = strcmp(PQgetvalue(res, i, 1), "t") == 0;
		c->identity_always = strcmp(PQgetvalue(res, i, 2), "t") == 0;
		c->notnull = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		c->key_pos = atoi(PQgetvalue(res, i, 4));
		if (c->key_pos > 0)
			t->n_key++;
		t->key_immediate = strcmp(PQgetvalue(res, i, 5), "t") == 0;
		t->strict_fk = strcmp(PQgetvalue(res, i, 6), "t") == 0;
		t->triggers_origin = strcmp(PQgetvalue(res, i, 7), "t") == 0;
		t->triggers_replica = strcmp(PQgetvalue(res, i, 8), "t") == 0;
	}
	return true;
}

/* See postgres.h. */
pg_table *
pg_tables_get(pg_tables *tables, pg_exec *ex, const char *schema,
			  const char *table, char *reason, size_t reason_len)
{
	unsigned	b = bucket_of(schema, table);
	pg_table   *t;
	PGresult   *res;
	const char *params[2] = {schema, table};
	char		what[128];
	char	   *qs;
	char	   *qt;

	for (pg_table **at = &tables->buckets[b]; (t = *at) != NULL; at = &t->next)
	{
		if (strcmp(t->schema, schema) != 0 || strcmp(t->table, table) != 0)
			continue;
		if (!t->stale || t->pins > 0)
			return t;
		/* reset while groups held it: read it again */
		*at = t->next;
		table_free(t);
		break;
	}
	snprintf(what, sizeof(what), "reading the catalog for table \"%s\".\"%s\"",
			 schema, table);
	res = pg_exec_query(ex, catalog_sql, NULL, 2, params, what);
	if (res == NULL)
	{
		snprintf(reason, reason_len, "%s", ex->error);
		return NULL;
	}
	t = calloc(1, sizeof(pg_table));
	qs = quote_ident(schema);
	qt = quote_ident(table);
	if (t != NULL && qs != NULL && qt != NULL)
	{
		t->schema = strdup(schema);
		t->table = strdup(table);
		t->qualified = malloc(strlen(qs) + strlen(qt) + 2);
		if (t->qualified != NULL)
			sprintf(t->qualified, "%s.%s", qs, qt);
	}
	free(qs);
	free(qt);
	if (t == NULL || t->schema == NULL || t->table == NULL ||
		t->qualified == NULL || !table_fill(t, res))
	{
		PQclear(res);
		if (t != NULL)
			table_free(t);
		snprintf(reason, reason_len, "out of memory");
		return NULL;
	}
	PQclear(res);
	t->id = ++tables->next_id;
	t->next = tables->buckets[b];
	tables->buckets[b] = t;
	return t;
}

/* See postgres.h. */
int
pg_table_column(const pg_table *t, const char *name)
{
	for (int i = 0; i < t->n_cols; i++)
	{
		if (strcmp(t->cols[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* The match of column c of t against alias k (a WHERE term). */
static bool
add_match(pg_buf *sql, const pg_column *c, bool first)
{
	return pg_buf_str(sql, first ? "" : " AND ") &&
		pg_buf_str(sql, "t.") && pg_buf_str(sql, c->quoted) &&
		pg_buf_str(sql, c->notnull ? " = k." : " IS NOT DISTINCT FROM k.") &&
		pg_buf_str(sql, c->quoted);
}

/*
 * Append the rows of $1 (of shape) as a relation named alias: the whole
 * row type of t read by json_populate_recordset, or in text mode the
 * shape's columns read by json_to_recordset (see the file's header);
 * with an ordinality column when asked.
 */
static bool
add_rows(pg_buf *sql, const pg_table *t, const char *shape, const char *alias,
		 bool ordinality)
{
	char		name[32];
	bool		first = true;
	bool		ok;

	if (shape[t->n_cols] != PG_SHAPE_TEXT)
		return pg_buf_str(sql, "pg_catalog.json_populate_recordset(NULL::") &&
			pg_buf_str(sql, t->qualified) &&
			pg_buf_str(sql, ordinality ? ", $1::pg_catalog.json) WITH ORDINALITY "
					   : ", $1::pg_catalog.json) ") &&
			pg_buf_str(sql, alias);
	ok = pg_buf_str(sql, "(SELECT ");
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1')
			continue;
		snprintf(name, sizeof(name), "x.c%d", i + 1);
		ok = pg_buf_str(sql, first ? "" : ", ");
		if (t->cols[i].json)
			ok = ok && pg_buf_str(sql, "CAST(") && pg_buf_str(sql, name) &&
				pg_buf_str(sql, " AS ") && pg_buf_str(sql, t->cols[i].type) &&
				pg_buf_str(sql, ")");
		else
			ok = ok && pg_buf_str(sql, name);
		ok = ok && pg_buf_str(sql, " AS ") && pg_buf_str(sql, t->cols[i].quoted);
		first = false;
	}
	if (ordinality)
		ok = ok && pg_buf_str(sql, first ? "x.n AS ordinality" : ", x.n AS ordinality");
	ok = ok && pg_buf_str(sql, " FROM ROWS FROM (pg_catalog.json_to_recordset("
						  "$1::pg_catalog.json) AS (");
	first = true;
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1')
			continue;
		ok = pg_buf_str(sql, first ? "" : ", ") && pg_buf_str(sql, t->cols[i].quoted) &&
			pg_buf_str(sql, " ") &&
			pg_buf_str(sql, t->cols[i].json ? "pg_catalog.text" : t->cols[i].type);
		first = false;
	}
	ok = ok && pg_buf_str(sql, ")) WITH ORDINALITY AS x(");
	first = true;
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1')
			continue;
		snprintf(name, sizeof(name), "c%d", i + 1);
		ok = pg_buf_str(sql, first ? "" : ", ") && pg_buf_str(sql, name);
		first = false;
	}
	return ok && pg_buf_str(sql, first ? "n)) " : ", n)) ") && pg_buf_str(sql, alias);
}

/* The SQL of an insert or upsert of rows of shape; NULL with a reason. */
static char *
insert_sql(const pg_table *t, bool upsert, const char *shape, char *reason,
		   size_t reason_len)
{
	pg_buf		sql = {NULL, 0, 0};
	bool		overriding = false;
	bool		first = true;
	bool		ok;

	for (int i = 0; i < t->n_cols; i++)
	{
		if (upsert && t->cols[i].key_pos > 0 && shape[i] != '1')
		{
			snprintf(reason, reason_len, "the rows for table %s lack its key column "
					 "\"%s\"", t->qualified, t->cols[i].name);
			return NULL;
		}
		if (shape[i] == '1' && t->cols[i].identity_always)
			overriding = true;
	}
	ok = pg_buf_str(&sql, "INSERT INTO ") && pg_buf_str(&sql, t->qualified) &&
		pg_buf_str(&sql, " AS t (");
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1' || t->cols[i].generated)
			continue;
		ok = pg_buf_str(&sql, first ? "" : ", ") && pg_buf_str(&sql, t->cols[i].quoted);
		first = false;
	}
	ok = ok && pg_buf_str(&sql, overriding ? ") OVERRIDING SYSTEM VALUE SELECT " : ") SELECT ");
	first = true;
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1' || t->cols[i].generated)
			continue;
		ok = pg_buf_str(&sql, first ? "r." : ", r.") && pg_buf_str(&sql, t->cols[i].quoted);
		first = false;
	}
	ok = ok && pg_buf_str(&sql, " FROM ") && add_rows(&sql, t, shape, "r", false);
	if (upsert && ok)
	{
		bool		any = false;

		ok = pg_buf_str(&sql, " ON CONFLICT (");
		for (int k = 1; k <= t->n_key && ok; k++)
		{
			for (int i = 0; i < t->n_cols; i++)
			{
				if (t->cols[i].key_pos == k)
					ok = pg_buf_str(&sql, k > 1 ? ", " : "") &&
						pg_buf_str(&sql, t->cols[i].quoted);
			}
		}
		ok = ok && pg_buf_str(&sql, ") DO ");
		for (int i = 0; i < t->n_cols && ok; i++)
		{
			const pg_column *c = &t->cols[i];

			if (shape[i] != '1' || c->generated || c->key_pos > 0 || c->identity_always)
				continue;
			ok = pg_buf_str(&sql, any ? ", " : "UPDATE SET ") &&
				pg_buf_str(&sql, c->quoted) && pg_buf_str(&sql, " = EXCLUDED.") &&
				pg_buf_str(&sql, c->quoted);
			any = true;
		}
		if (!any)
			ok = ok && pg_buf_str(&sql, "NOTHING");
	}
	if (!ok)
	{
		pg_buf_free(&sql);
		snprintf(reason, reason_len, "out of memory");
		return NULL;
	}
	return sql.data;
}

/* The SQL of a delete (d) or existence check (e) by the columns of shape. */
static char *
match_sql(const pg_table *t, char kind, const char *shape, char *reason,
		  size_t reason_len)
{
	pg_buf		sql = {NULL, 0, 0};
	bool		first = true;
	bool		ok;

	if (kind == PG_STMT_DELETE)
		ok = pg_buf_str(&sql, "DELETE FROM ") && pg_buf_str(&sql, t->qualified) &&
			pg_buf_str(&sql, " AS t USING ") && add_rows(&sql, t, shape, "k", false) &&
			pg_buf_str(&sql, " WHERE ");
	else
		ok = pg_buf_str(&sql, "SELECT k.ordinality FROM ") &&
			add_rows(&sql, t, shape, "k", true) &&
			pg_buf_str(&sql, " WHERE EXISTS (SELECT FROM ") &&
			pg_buf_str(&sql, t->qualified) && pg_buf_str(&sql, " AS t WHERE ");
	for (int i = 0; i < t->n_cols && ok; i++)
	{
		if (shape[i] != '1')
			continue;
		ok = add_match(&sql, &t->cols[i], first);
		first = false;
	}
	if (kind == PG_STMT_EXISTS)
		ok = ok && pg_buf_str(&sql, ") ORDER BY 1");
	if (!ok || first)
	{
		pg_buf_free(&sql);
		if (first)
			snprintf(reason, reason_len, "the changes of table %s name no column "
					 "that locates their row", t->qualified);
		else
			snprintf(reason, reason_len, "out of memory");
		return NULL;
	}
	return sql.data;
}

/* See postgres.h. */
pg_stmt *
pg_table_stmt(pg_table *t, char kind, const char *shape, char *reason,
			  size_t reason_len)
{
	pg_stmt    *s;
	pg_stmt    *stmts;
	char	   *sql;

	for (int i = 0; i < t->n_stmts; i++)
	{
		s = &t->stmts[i];
		if (s->kind == kind && strcmp(s->shape, shape) == 0)
			return s;
	}
	if (kind == PG_STMT_UPSERT || kind == PG_STMT_INSERT)
		sql = insert_sql(t, kind == PG_STMT_UPSERT, shape, reason, reason_len);
	else
		sql = match_sql(t, kind, shape, reason, reason_len);
	if (sql == NULL)
		return NULL;
	stmts = realloc(t->stmts, (size_t) (t->n_stmts + 1) * sizeof(pg_stmt));
	if (stmts == NULL)
	{
		free(sql);
		snprintf(reason, reason_len, "out of memory");
		return NULL;
	}
	t->stmts = stmts;
	s = &t->stmts[t->n_stmts];
	memset(s, 0, sizeof(*s));
	s->shape = strdup(shape);
	if (s->shape == NULL)
	{
		free(sql);
		snprintf(reason, reason_len, "out of memory");
		return NULL;
	}
	t->n_stmts++;
	s->kind = kind;
	s->sql = sql;
	snprintf(s->name, sizeof(s->name), "teleport_%d_%d", t->id, t->n_stmts);
	return s;
}

/* See postgres.h. */
void
pg_tables_reset(pg_tables *tables)
{
	for (int b = 0; b < PG_TABLE_BUCKETS; b++)
	{
		pg_table   *t = tables->buckets[b];
		pg_table  **keep = &tables->buckets[b];

		while (t != NULL)
		{
			pg_table   *next = t->next;

			if (t->pins > 0)
			{
				/* its statements are deallocated: made anew when needed */
				for (int i = 0; i < t->n_stmts; i++)
				{
					free(t->stmts[i].shape);
					free(t->stmts[i].sql);
				}
				t->n_stmts = 0;
				t->stale = true;
				*keep = t;
				keep = &t->next;
			}
			else
				table_free(t);
			t = next;
		}
		*keep = NULL;
	}
}
