/*
 * apply_ahead.c
 *     Schema changes applied ahead of a held unit; see apply_ahead.h.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_ahead.h"
#include "batch_wire.h"
#include "log.h"
#include "xalloc.h"

#define COMPONENT "apply"

/* The longest reason kept for a failure. */
#define REASON_LEN 1024

/* A set of names ("schema\ttable", or "schema\t" for a schema). */
typedef tp_name_set name_set;

/* Whether set holds name. */
static bool
set_has(const name_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
	{
		if (strcmp(set->names[i], name) == 0)
			return true;
	}
	return false;
}

/* Add "schema\ttable" (table NULL: "schema\t") to set, once. */
static void
set_add(name_set *set, const char *schema, const char *table)
{
	size_t		len = strlen(schema) + (table ? strlen(table) : 0) + 2;
	char	   *name = tp_xmalloc(len);

	snprintf(name, len, "%s\t%s", schema, table ? table : "");
	if (set_has(set, name))
	{
		free(name);
		return;
	}
	set->names = tp_xrealloc(set->names, (set->n + 1) * sizeof(char *));
	set->names[set->n++] = name;
}

/* Free what set holds. */
static void
set_free(name_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->names[i]);
	free(set->names);
	memset(set, 0, sizeof(*set));
}

/*
 * Row r of res as a batch of source -> target: columns seq, n_changes,
 * apply_schema, data, first_tick, last_tick. Its strings stay res's.
 */
static tp_batch
batch_of(const PGresult *res, int r, const char *source, const char *target)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = source;
	b.target = target;
	b.seq = strtoull(PQgetvalue(res, r, 0), NULL, 10);
	b.n_changes = strtoull(PQgetvalue(res, r, 1), NULL, 10);
	b.apply_schema = PQgetvalue(res, r, 2);
	b.data = PQgetvalue(res, r, 3);
	b.data_len = (size_t) PQgetlength(res, r, 3);
	b.first_tick = strtoull(PQgetvalue(res, r, 4), NULL, 10);
	b.last_tick = strtoull(PQgetvalue(res, r, 5), NULL, 10);
	return b;
}

/* The columns batch_of reads, from teleport.inbox. */
#define BATCH_COLUMNS "seq, n_changes, apply_schema, data, first_tick, last_tick"

/* Called for each change of a batch; false stops the walk. */
typedef bool (*change_fn) (void *arg, const tp_change *c);

/*
 * Call fn for each change of b, in order. False after logging when a line
 * cannot be read (or fn stopped the walk).
 */
static bool
each_change(const tp_batch *b, change_fn fn, void *arg)
{
	tp_change_cursor cursor;
	tp_change	c;
	char		reason[256];
	bool		ok = true;

	memset(&cursor, 0, sizeof(cursor));
	cursor.size = sizeof(cursor);
	for (;;)
	{
		if (tp_change_next(b, &cursor, &c, reason, sizeof(reason)) != TP_OK)
		{
			tp_warning(COMPONENT, "batch %" PRIu64 " from \"%s\": %s", b->seq,
					   b->source, reason);
			ok = false;
			break;
		}
		if (c.size == 0 || !(ok = fn(arg, &c)))
			break;
	}
	tp_change_cursor_done(&cursor);
	return ok;
}

/* change_fn: add the table (and schema) of a row change to set arg. */
static bool
add_table(void *arg, const tp_change *c)
{
	if (c->op != TP_CHANGE_DDL && c->table != NULL)
	{
		set_add(arg, c->schema, c->table);
		set_add(arg, c->schema, NULL);
	}
	return true;
}

/* The change seqs of batch seq of source -> target applied ahead (*ids). */
static bool
ahead_ids(tp_pgsql *pg, const char *source, const char *target, uint64_t seq,
		  int64_t **ids, size_t *n)
{
	char		seq_text[24];
	const char *params[3] = {source, target, seq_text};
	char		reason[512];
	PGresult   *res;

	*ids = NULL;
	*n = 0;
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, seq);
	res = tp_pgsql_result(pg,
						  "SELECT change_seq FROM teleport.inbox_ahead"
						  " WHERE source = $1 AND target = $2 AND seq = $3::bigint",
						  3, params, reason, sizeof(reason));
	if (res == NULL)
	{
		tp_warning(COMPONENT, "could not read teleport.inbox_ahead: %s", reason);
		return false;
	}
	*n = (size_t) PQntuples(res);
	if (*n > 0)
	{
		*ids = tp_xmalloc(*n * sizeof(int64_t));
		for (size_t i = 0; i < *n; i++)
			(*ids)[i] = strtoll(PQgetvalue(res, (int) i, 0), NULL, 10);
	}
	PQclear(res);
	return true;
}

/* Whether ids[0, n) holds id. */
static bool
ids_have(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
	{
		if (ids[i] == id)
			return true;
	}
	return false;
}

/* Append text[0, len) to the growing buffer *buf (*len, *cap). */
static void
buf_add(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
	if (*len + n + 1 > *cap)
	{
		*cap = (*len + n + 1) * 2;
		*buf = tp_xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, text, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* What ddl_lines gathers. */
typedef struct gathered
{
	const name_set *set;		/* the names whose DDL is wanted ... */
	const int64_t *ids;			/* ... but for these change seqs */
	size_t		n_ids;
	bool		ddl;			/* gather DDL lines (else: all but ids) */
	name_set   *seen;			/* ddl: only those of a table written
								 * earlier in the batch (NULL: any) */
	const name_set *loaded;		/* not ddl: also leave out their rows */
	uint64_t	left_out;		/* rows of loaded left out */
	char	   *lines;			/* the lines, each with its '\n' */
	size_t		len;
	size_t		cap;
	uint64_t	n;
	int64_t    *seqs;			/* their change seqs */
} gathered;

/*
 * change_fn: gather c's line into g (arg) when wanted: a DDL change of a
 * name of g->set not in g->ids (g->ddl), or any change but a DDL change in
 * g->ids and a row change of a table of g->loaded (not g->ddl).
 */
static bool
gather(void *arg, const tp_change *c)
{
	gathered   *g = arg;
	bool		listed = c->op == TP_CHANGE_DDL && ids_have(g->ids, g->n_ids, c->seq);

	if (g->ddl)
	{
		char		key[1024];

		if (c->op != TP_CHANGE_DDL && g->seen != NULL && c->table != NULL)
		{
			set_add(g->seen, c->schema, c->table);
			set_add(g->seen, c->schema, NULL);
		}
		if (c->op != TP_CHANGE_DDL || listed)
			return true;
		snprintf(key, sizeof(key), "%s\t%s", c->schema, c->table ? c->table : "");
		if (!set_has(g->set, key) || (g->seen != NULL && !set_has(g->seen, key)))
			return true;
	}
	else if (listed)
		return true;
	else if (g->loaded != NULL && c->op != TP_CHANGE_DDL && c->table != NULL)
	{
		char		key[1024];

		snprintf(key, sizeof(key), "%s\t%s", c->schema, c->table);
		if (set_has(g->loaded, key))
		{
			g->left_out++;
			return true;
		}
	}
	buf_add(&g->lines, &g->len, &g->cap, c->line, c->line_len);
	buf_add(&g->lines, &g->len, &g->cap, "\n", 1);
	g->seqs = tp_xrealloc(g->seqs, (size_t) (g->n + 1) * sizeof(int64_t));
	g->seqs[g->n++] = c->seq;
	return true;
}

/*
 * Apply lines (n of them, change seqs seqs) of batch b through apply in a
 * transaction that records them in teleport.inbox_ahead. False after
 * logging (rolled back).
 */
static bool
apply_lines(tp_pgsql *pg, const tp_batch *b, const char *lines, uint64_t n,
			const int64_t *seqs, tp_ahead_apply_fn apply, void *arg)
{
	tp_batch	part = *b;
	char		reason[REASON_LEN] = "";
	char		seq_text[24];
	char	   *array = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	const char *params[4];
	tp_result	r;

	part.data = lines;
	part.data_len = strlen(lines);
	part.n_changes = n;
	part.flags = 0;
	buf_add(&array, &len, &cap, "{", 1);
	for (uint64_t i = 0; i < n; i++)
	{
		char		id[24];

		snprintf(id, sizeof(id), "%s%" PRId64, i > 0 ? "," : "", seqs[i]);
		buf_add(&array, &len, &cap, id, strlen(id));
	}
	buf_add(&array, &len, &cap, "}", 1);
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, b->seq);
	params[0] = b->source;
	params[1] = b->target;
	params[2] = seq_text;
	params[3] = array;
	if (!tp_pgsql_exec(pg, "BEGIN"))
	{
		free(array);
		return false;
	}
	r = apply(arg, &part, reason, sizeof(reason));
	if (r != TP_OK)
	{
		(void) tp_pgsql_exec(pg, "ROLLBACK");
		tp_warning(COMPONENT, "stream \"%s\" -> \"%s\": the schema changes of batch %"
				   PRIu64 " could not be applied ahead: %s", b->source, b->target,
				   b->seq, reason);
		free(array);
		return false;
	}
	if (!tp_pgsql_query(pg, "INSERT INTO teleport.inbox_ahead (source, target, seq, change_seq)"
						" SELECT $1, $2, $3::bigint, pg_catalog.unnest($4::bigint[])",
						4, params, NULL, NULL) ||
		!tp_pgsql_exec(pg, "COMMIT"))
	{
		if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
			(void) tp_pgsql_exec(pg, "ROLLBACK");
		free(array);
		return false;
	}
	free(array);
	return true;
}

/* See apply_ahead.h. */
bool
tp_ahead_try(tp_pgsql *pg, const char *source, const char *target,
			 uint64_t first, uint64_t end, tp_ahead_apply_fn apply, void *arg,
			 bool *applied, uint64_t *from)
{
	char		first_text[24];
	char		end_text[24];
	const char *params[4] = {source, target, first_text, end_text};
	name_set	touched = {NULL, 0};
	char		reason[512];
	PGresult   *res;
	bool		ok = true;

	*applied = false;
	*from = 0;
	snprintf(first_text, sizeof(first_text), "%" PRIu64, first);
	snprintf(end_text, sizeof(end_text), "%" PRIu64, end);

	/* what the held unit writes (its load batches are no change lines) */
	res = tp_pgsql_result(pg, "SELECT " BATCH_COLUMNS " FROM teleport.inbox"
						  " WHERE source = $1 AND target = $2 AND kind = 'changes'"
						  " AND seq BETWEEN $3::bigint AND $4::bigint ORDER BY seq",
						  4, params, reason, sizeof(reason));
	if (res == NULL)
	{
		tp_warning(COMPONENT, "could not read the inbox: %s", reason);
		return false;
	}
	for (int r = 0; r < PQntuples(res) && ok; r++)
	{
		tp_batch	b = batch_of(res, r, source, target);

		ok = each_change(&b, add_table, &touched);
	}
	PQclear(res);
	if (!ok || touched.n == 0)
	{
		set_free(&touched);
		return ok;
	}

	/*
	 * The first batch with schema changes of those, not applied yet: a
	 * later one, or the failed batch itself when a change of a table comes
	 * after rows of that table there (a schema-diff source's poll queued
	 * it after rows its trigger already captured in the new shape).
	 */
	res = tp_pgsql_result(pg, "SELECT " BATCH_COLUMNS " FROM teleport.inbox"
						  " WHERE source = $1 AND target = $2 AND seq >= $3::bigint"
						  " AND kind = 'changes'"
						  " AND pg_catalog.strpos(data, '\"op\":\"ddl\"') > 0 ORDER BY seq",
						  3, (const char *const[]) {source, target, end_text},
						  reason, sizeof(reason));
	if (res == NULL)
	{
		tp_warning(COMPONENT, "could not read the inbox: %s", reason);
		set_free(&touched);
		return false;
	}
	for (int r = 0; r < PQntuples(res) && ok && !*applied; r++)
	{
		tp_batch	b = batch_of(res, r, source, target);
		int64_t    *ids = NULL;
		size_t		n_ids = 0;
		gathered	g;
		name_set	seen = {NULL, 0};

		memset(&g, 0, sizeof(g));
		g.set = &touched;
		g.ddl = true;
		g.seen = b.seq == end ? &seen : NULL;
		ok = ahead_ids(pg, source, target, b.seq, &ids, &n_ids);
		g.ids = ids;
		g.n_ids = n_ids;
		ok = ok && each_change(&b, gather, &g);
		if (ok && g.n > 0)
		{
			ok = apply_lines(pg, &b, g.lines, g.n, g.seqs, apply, arg);
			if (ok)
			{
				*applied = true;
				*from = b.seq;
				tp_info(COMPONENT, "stream \"%s\" -> \"%s\": applied %" PRIu64
						" schema change(s) of batch %" PRIu64 " ahead of batch %"
						PRIu64 ", which they may let through", source, target, g.n,
						b.seq, first);
			}
		}
		free(ids);
		free(g.seqs);
		free(g.lines);
		set_free(&seen);
	}
	PQclear(res);
	set_free(&touched);
	return ok;
}

/* See apply_ahead.h. */
bool
tp_ahead_max(tp_pgsql *pg, const char *source, const char *target, uint64_t *max)
{
	const char *params[2] = {source, target};
	int64_t		value = 0;
	bool		isnull = true;

	if (!tp_pgsql_query_int64(pg, "SELECT pg_catalog.max(seq) FROM teleport.inbox_ahead"
							  " WHERE source = $1 AND target = $2", 2, params,
							  &value, &isnull))
		return false;
	*max = isnull ? 0 : (uint64_t) value;
	return true;
}

/* See apply_ahead.h. */
bool
tp_ahead_filter(tp_pgsql *pg, const tp_batch *batch, tp_batch *out, char **data)
{
	int64_t    *ids = NULL;
	size_t		n_ids = 0;
	gathered	g;
	bool		ok;

	*out = *batch;
	*data = NULL;
	if (!ahead_ids(pg, batch->source, batch->target, batch->seq, &ids, &n_ids))
		return false;
	if (n_ids == 0)
		return true;
	memset(&g, 0, sizeof(g));
	g.ids = ids;
	g.n_ids = n_ids;
	buf_add(&g.lines, &g.len, &g.cap, "", 0);
	ok = each_change(batch, gather, &g);
	free(ids);
	free(g.seqs);
	if (!ok)
	{
		free(g.lines);
		return false;
	}
	*data = g.lines;
	out->data = g.lines;
	out->data_len = g.len;
	out->n_changes = g.n;
	return true;
}

/* See apply_ahead.h. */
bool
tp_ahead_forget(tp_pgsql *pg, const char *source, const char *target, uint64_t upto)
{
	char		upto_text[24];
	const char *params[3] = {source, target, upto_text};

	snprintf(upto_text, sizeof(upto_text), "%" PRIu64, upto);
	return tp_pgsql_query(pg, "DELETE FROM teleport.inbox_ahead WHERE source = $1"
						  " AND target = $2 AND seq <= $3::bigint", 3, params, NULL, NULL);
}

/* See apply_ahead.h. */
bool
tp_ahead_find_load(tp_pgsql *pg, const char *source, const char *target,
				   uint64_t after, tp_ahead_loaded *loaded)
{
	char		after_text[24];
	const char *params[3] = {source, target, after_text};
	char		reason[512];
	PGresult   *res;
	int			n;

	memset(loaded, 0, sizeof(*loaded));
	snprintf(after_text, sizeof(after_text), "%" PRIu64, after);

	/*
	 * The step is the header's second member (load.c writes id, then
	 * step): the prefix finds the begin without reading every chunk.
	 */
	res = tp_pgsql_result(pg,
					   "WITH b AS (SELECT seq, data FROM teleport.inbox"
					   " WHERE source = $1 AND target = $2 AND seq > $3::bigint"
					   " AND kind = 'load'"
					   " AND substr(data, 1, 256) ~ '\"step\"\\s*:\\s*\"begin\"'"
					   " ORDER BY seq LIMIT 1)"
					   " SELECT b.seq, t.value ->> 'schema', t.value ->> 'table' FROM b,"
					   " pg_catalog.json_array_elements(pg_catalog.split_part(b.data, E'\\n', 1)"
					   "  ::json -> 'load' -> 'tables') t"
					   " WHERE pg_catalog.json_typeof(t.value -> 'schema') = 'string'"
					   " AND pg_catalog.json_typeof(t.value -> 'table') = 'string'",
					   3, params, reason, sizeof(reason));
	if (res == NULL)
	{
		tp_warning(COMPONENT, "could not look for a load in the inbox of \"%s\" -> \"%s\": %s",
				   source, target, reason);
		return false;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		loaded->begin_seq = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		set_add(&loaded->tables, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return true;
}

/* See apply_ahead.h. */
bool
tp_ahead_leave_loaded(const tp_batch *batch, const tp_ahead_loaded *loaded,
					  tp_batch *out, char **data, uint64_t *left_out)
{
	gathered	g;

	*out = *batch;
	*data = NULL;
	*left_out = 0;
	if (loaded->begin_seq <= batch->seq || loaded->tables.n == 0 ||
		batch->kind != TP_BATCH_CHANGES)
		return true;
	memset(&g, 0, sizeof(g));
	g.loaded = &loaded->tables;
	buf_add(&g.lines, &g.len, &g.cap, "", 0);
	if (!each_change(batch, gather, &g))
	{
		free(g.lines);
		free(g.seqs);
		return false;
	}
	free(g.seqs);
	*left_out = g.left_out;
	if (g.left_out == 0)
	{
		free(g.lines);
		return true;
	}
	*data = g.lines;
	out->data = g.lines;
	out->data_len = g.len;
	out->n_changes = g.n;
	return true;
}

/* See apply_ahead.h. */
void
tp_ahead_loaded_free(tp_ahead_loaded *loaded)
{
	set_free(&loaded->tables);
	memset(loaded, 0, sizeof(*loaded));
}
