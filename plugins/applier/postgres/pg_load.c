/*
 * pg_load.c
 *     Batches of an initial load (tp_batch.kind TP_BATCH_LOAD; the format
 *     is in teleport/batch.h). Each is one step of a load, said by its
 *     first line: "begin" empties the load's tables on the target (one
 *     TRUNCATE of all of them), "rows" copies one chunk of a table's rows
 *     with COPY FROM STDIN, "end" and "void" do nothing. Each step stands
 *     alone: the host applies a load batch by batch, each in a transaction
 *     of its own (most on arrival), or, with the source's
 *     load_in_one_transaction, the whole chain in one transaction.
 *
 * COPY cannot run in libpq's pipeline mode: pg_apply.c sends the groups
 * still open first, then pg_exec_direct syncs and leaves pipeline mode for
 * the rest of the batch (the next batch enters it again). The rows are
 * streamed from the batch's data in pieces of COPY_PIECE bytes, never
 * copied whole (libpq would otherwise grow its output buffer to a
 * piece's size).
 *
 * The first line is checked strictly (jansson: JSON grammar, UTF-8, no
 * member twice; then the members that its step needs) and so is the batch's line count, before anything
 * is sent: a malformed load batch is TP_ERROR, for an operator. What the
 * target lacks (a table, a column) is TP_RETRY with a reason that names
 * it, and so is anything the server refuses (its message): the batch is
 * held, and nothing of its transaction is applied. Members other than
 * the ones a step reads are ignored.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "postgres.h"

/* The bytes of rows handed to PQputCopyData at once. */
#define COPY_PIECE ((size_t) 64 * 1024)

/* The first line of a load batch, decoded. */
typedef struct load_header
{
	int64_t		id;
	char	   *step;			/* "begin", "rows", "end" or "void" */
	int			n;				/* begin: tables; rows: columns */
	char	  **schemas;		/* begin: each table's source schema */
	char	  **names;			/* begin: the tables; rows: the columns */
	char	   *schema;			/* rows: the table's source schema */
	char	   *table;			/* rows: the table */
	int64_t		chunk;			/* rows: its number */
} load_header;

/* Write a reason; always returns result. */
static tp_result
reason_of(char *reason, size_t len, tp_result result, const char *fmt,...) TP_PRINTF(4, 5);

static tp_result
reason_of(char *reason, size_t len, tp_result result, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
	return result;
}

/*
 * Reading the first line, with jansson: strict JSON (RFC 8259, UTF-8, no
 * member twice), then the members a step needs.
 */

/* Member name of obj as a non-empty string (a copy: free), or NULL. */
static char *
string_of(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	return s != NULL && s[0] != '\0' && strlen(s) == json_string_length(v)
		? strdup(s) : NULL;
}

/* Member name of obj as an integer, 0 or more, into *out. */
static bool
integer_of(const json_t *obj, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(obj, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (int64_t) json_integer_value(v);
	return true;
}

/* Free what h holds. */
static void
header_free(load_header *h)
{
	for (int i = 0; i < h->n; i++)
	{
		if (h->schemas != NULL)
			free(h->schemas[i]);
		free(h->names[i]);
	}
	free(h->schemas);
	free(h->names);
	free(h->step);
	free(h->schema);
	free(h->table);
	memset(h, 0, sizeof(*h));
}

/*
 * Read "tables" ("begin": objects of "schema" and "table") or "columns"
 * ("rows": strings) of load into h. NULL, or what is wrong.
 */
static const char *
read_names(load_header *h, const json_t *load, bool tables)
{
	const json_t *items = json_object_get(load, tables ? "tables" : "columns");
	size_t		n;

	if (!json_is_array(items))
		return tables ? "\"tables\" is missing or not an array"
			: "\"columns\" is missing or not an array";
	n = json_array_size(items);
	h->names = calloc(n + 1, sizeof(char *));
	h->schemas = tables ? calloc(n + 1, sizeof(char *)) : NULL;
	if (h->names == NULL || (tables && h->schemas == NULL))
		return "out of memory";
	for (size_t i = 0; i < n; i++)
	{
		const json_t *item = json_array_get(items, i);

		h->n = (int) i + 1;
		if (!tables)
		{
			if ((h->names[i] = json_is_string(item) && json_string_value(item)[0] != '\0' &&
				 strlen(json_string_value(item)) == json_string_length(item)
				 ? strdup(json_string_value(item)) : NULL) == NULL)
				return "an element of \"columns\" is not a non-empty string";
			continue;
		}
		if (!json_is_object(item) ||
			(h->schemas[i] = string_of(item, "schema")) == NULL ||
			(h->names[i] = string_of(item, "table")) == NULL)
			return "an element of \"tables\" is not an object of a \"schema\" and "
				"a \"table\" string";
	}
	return NULL;
}

/*
 * Read the first line (line, len bytes, without its newline) into h. NULL,
 * or what is wrong with it.
 */
static const char *
read_header(load_header *h, const char *line, size_t len)
{
	json_error_t error;
	json_t	   *outer;
	const json_t *load;
	const char *problem = NULL;

	memset(h, 0, sizeof(*h));
	outer = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
	if (outer == NULL)
		return json_error_code(&error) == json_error_duplicate_key
			? "its first line has an object with a member twice"
			: "its first line is not valid JSON";
	load = json_object_get(outer, "load");
	if (!json_is_object(outer) || !json_is_object(load))
		problem = "its first line is not an object {\"load\":{...}}";
	else if (!integer_of(load, "id", &h->id))
		problem = "\"id\" is missing or not an integer";
	else if ((h->step = string_of(load, "step")) == NULL)
		problem = "\"step\" is missing or not a string";
	else if (strcmp(h->step, "begin") == 0)
		problem = read_names(h, load, true);
	else if (strcmp(h->step, "rows") == 0)
	{
		if ((h->schema = string_of(load, "schema")) == NULL)
			problem = "\"schema\" is missing or not a string";
		else if ((h->table = string_of(load, "table")) == NULL)
			problem = "\"table\" is missing or not a string";
		else if (!integer_of(load, "chunk", &h->chunk))
			problem = "\"chunk\" is missing or not an integer";
		else
			problem = read_names(h, load, false);
	}
	else if (strcmp(h->step, "end") != 0 && strcmp(h->step, "void") != 0)
		problem = "its \"step\" is none of begin, rows, end and void";
	json_decref(outer);
	return problem;
}

/*
 * Steps
 */

/*
 * begin: one TRUNCATE of every table of the load, each of which must exist
 * in apply_schema (sent in the pipeline; a failure is found at its sync).
 */
static tp_result
load_begin(pg_applier *a, pg_exec *ex, const tp_batch *batch,
		   const load_header *h, char *reason, size_t len)
{
	pg_buf		sql = {NULL, 0, 0};
	/* cppcheck-suppress variableScope */
	char		what[256];

	for (int i = 0; i < h->n; i++)
	{
		pg_table   *t = pg_tables_get(&a->tables, ex, batch->apply_schema,
									  h->names[i], reason, len);

		if (t == NULL)
		{
			pg_buf_free(&sql);
			return TP_RETRY;
		}
		if (!t->exists)
		{
			pg_buf_free(&sql);
			return reason_of(reason, len, TP_RETRY, "table %s does not exist on the "
							 "target (load %" PRId64 " of %s.%s, batch %" PRIu64 "): "
							 "create it; the batch is held until then", t->qualified,
							 h->id, h->schemas[i], h->names[i], batch->seq);
		}
		if (!pg_buf_str(&sql, i == 0 ? "TRUNCATE " : ", ") ||
			!pg_buf_str(&sql, t->qualified))
		{
			pg_buf_free(&sql);
			return reason_of(reason, len, TP_RETRY, "out of memory");
		}
	}
	if (h->n > 0)
	{
		snprintf(what, sizeof(what), "the truncate that begins load %" PRId64
				 " (batch %" PRIu64 ")", h->id, batch->seq);
		pg_exec_send(ex, sql.data, NULL, 0, NULL, what, 0);
	}
	pg_buf_free(&sql);
	return TP_OK;
}

/*
 * The server's failure of res (or the connection's) after prefix, with its
 * detail and context (COPY's names the row), into reason.
 */
static tp_result
server_failure(PGconn *conn, const PGresult *res, const char *prefix,
			   char *reason, size_t len)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
	size_t		n;

	if (msg == NULL)
		msg = PQerrorMessage(conn);
	snprintf(reason, len, "%s: %s%s%s%s%s%s%s", prefix, msg,
			 detail ? " (" : "", detail ? detail : "", detail ? ")" : "",
			 context ? " [" : "", context ? context : "", context ? "]" : "");
	n = strlen(reason);
	while (n > 0 && reason[n - 1] == '\n')
		reason[--n] = '\0';
	return TP_RETRY;
}

/*
 * Stream rows (len bytes of COPY text lines) into the COPY that conn is in,
 * end it, and read its result, which must say it wrote n_rows rows. The
 * failure into reason (prefix first).
 */
static tp_result
copy_rows(PGconn *conn, const char *rows, size_t rows_len, uint64_t n_rows,
		  const char *prefix, char *reason, size_t len)
{
	PGresult   *res;
	tp_result	result = TP_OK;
	size_t		off = 0;
	bool		sent = true;
	int			guard = 0;

	while (off < rows_len)
	{
		size_t		piece = rows_len - off < COPY_PIECE ? rows_len - off : COPY_PIECE;

		/* -1: the server refused a row already (its error follows) */
		if (PQputCopyData(conn, rows + off, (int) piece) != 1)
		{
			sent = false;
			break;
		}
		off += piece;
	}
	(void) PQputCopyEnd(conn, sent ? NULL : "the applier stopped sending rows");
	res = PQgetResult(conn);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		result = server_failure(conn, res, prefix, reason, len);
	else if (strtoull(PQcmdTuples(res), NULL, 10) != n_rows)
		result = reason_of(reason, len, TP_ERROR, "%s: COPY wrote %s row(s), but the "
						   "batch holds %" PRIu64 " (a line \\. ends COPY's data)",
						   prefix, PQcmdTuples(res), n_rows);
	/* the end of its results (a COPY state again only after a failure) */
	while (res != NULL && guard++ < 8)
	{
		if (PQresultStatus(res) == PGRES_COPY_IN)
			(void) PQputCopyEnd(conn, "the applier stopped sending rows");
		PQclear(res);
		res = PQgetResult(conn);
	}
	PQclear(res);
	return result;
}

/*
 * rows: COPY the rows of the batch (from offset rows, n_rows lines) into
 * the table in apply_schema, the columns named.
 */
static tp_result
load_rows(pg_applier *a, pg_exec *ex, const tp_batch *batch,
		  const load_header *h, size_t rows, uint64_t n_rows, char *reason,
		  size_t len)
{
	pg_table   *t = pg_tables_get(&a->tables, ex, batch->apply_schema, h->table,
								  reason, len);
	pg_buf		sql = {NULL, 0, 0};
	char		prefix[512];
	PGconn	   *conn;
	PGresult   *res;
	/* cppcheck-suppress variableScope */
	tp_result	result;
	bool		ok;

	if (t == NULL)
		return TP_RETRY;
	if (!t->exists)
		return reason_of(reason, len, TP_RETRY, "table %s does not exist on the target "
						 "(load %" PRId64 ", chunk %" PRId64 " of %s.%s, batch %" PRIu64
						 "): create it; the batch is held until then", t->qualified,
						 h->id, h->chunk, h->schema, h->table, batch->seq);
	ok = pg_buf_str(&sql, "COPY ") && pg_buf_str(&sql, t->qualified);
	for (int i = 0; i < h->n && ok; i++)
	{
		int			col = pg_table_column(t, h->names[i]);

		if (col < 0)
		{
			pg_buf_free(&sql);
			return reason_of(reason, len, TP_RETRY, "table %s has no column \"%s\", "
							 "which load %" PRId64 " (chunk %" PRId64 " of %s.%s) of "
							 "batch %" PRIu64 " carries: add the column on the target "
							 "(the batch is held until then, nothing is dropped)",
							 t->qualified, h->names[i], h->id, h->chunk, h->schema,
							 h->table, batch->seq);
		}
		ok = pg_buf_str(&sql, i == 0 ? " (" : ", ") &&
			pg_buf_str(&sql, t->cols[col].quoted);
	}
	if (h->n == 0)
	{
		/* rows of no column fit only a table of no column to write */
		for (int i = 0; i < t->n_cols && n_rows > 0; i++)
		{
			if (!t->cols[i].generated)
			{
				pg_buf_free(&sql);
				return reason_of(reason, len, TP_RETRY, "load %" PRId64 " (chunk %"
								 PRId64 " of %s.%s, batch %" PRIu64 ") carries rows "
								 "of no column, but table %s has columns to write",
								 h->id, h->chunk, h->schema, h->table, batch->seq,
								 t->qualified);
			}
		}
	}
	else
		ok = ok && pg_buf_str(&sql, ")");
	ok = ok && pg_buf_str(&sql, " FROM STDIN WITH (FORMAT text, ENCODING 'UTF8')");
	if (!ok)
	{
		pg_buf_free(&sql);
		return reason_of(reason, len, TP_RETRY, "out of memory");
	}
	if (n_rows == 0)
	{
		pg_buf_free(&sql);
		return TP_OK;
	}
	snprintf(prefix, sizeof(prefix), "COPY into %s (load %" PRId64 ", chunk %" PRId64
			 " of %s.%s, batch %" PRIu64 ")", t->qualified, h->id, h->chunk,
			 h->schema, h->table, batch->seq);

	/* what was sent before is done; COPY runs outside pipeline mode */
	conn = pg_exec_direct(ex);
	if (conn == NULL)
	{
		pg_buf_free(&sql);
		return reason_of(reason, len, TP_RETRY, "%s", ex->error);
	}
	res = PQexec(conn, sql.data);
	pg_buf_free(&sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		result = server_failure(conn, res, prefix, reason, len);
		PQclear(res);
		return result;
	}
	PQclear(res);
	return copy_rows(conn, batch->data + rows, batch->data_len - rows, n_rows,
					 prefix, reason, len);
}

/* See postgres.h. */
tp_result
pg_load_apply(pg_applier *a, pg_exec *ex, const tp_batch *batch,
			  char *reason, size_t len)
{
	const char *nl = batch->data_len > 0 ? memchr(batch->data, '\n', batch->data_len) : NULL;
	const char *problem;
	load_header h;
	uint64_t	lines = 0;
	tp_result	result = TP_OK;

	if (nl == NULL)
		return reason_of(reason, len, TP_ERROR, "load batch %" PRIu64 " from \"%s\" "
						 "is malformed: it has no complete first line", batch->seq,
						 batch->source);
	if (batch->data[batch->data_len - 1] != '\n')
		return reason_of(reason, len, TP_ERROR, "load batch %" PRIu64 " from \"%s\" "
						 "is malformed: its last line does not end in a newline",
						 batch->seq, batch->source);
	for (const char *p = batch->data, *end = batch->data + batch->data_len; p < end; p++)
	{
		p = memchr(p, '\n', (size_t) (end - p));
		lines++;
	}
	if (lines != batch->n_changes)
		return reason_of(reason, len, TP_ERROR, "load batch %" PRIu64 " from \"%s\" "
						 "is malformed: it has %" PRIu64 " line(s), but says %" PRIu64,
						 batch->seq, batch->source, lines, batch->n_changes);
	problem = read_header(&h, batch->data, (size_t) (nl - batch->data));
	if (problem == NULL && strcmp(h.step, "rows") != 0 && lines != 1)
		problem = "only a \"rows\" batch has lines after the first";
	if (problem != NULL)
	{
		result = reason_of(reason, len, TP_ERROR, "load batch %" PRIu64 " from \"%s\" "
						   "is malformed: %s", batch->seq, batch->source, problem);
		header_free(&h);
		return result;
	}
	if (strcmp(h.step, "begin") == 0)
		result = load_begin(a, ex, batch, &h, reason, len);
	else if (strcmp(h.step, "rows") == 0)
		result = load_rows(a, ex, batch, &h, (size_t) (nl - batch->data) + 1,
						   lines - 1, reason, len);
	/* end closes a load, void fills a seq that a dead load left unused */
	header_free(&h);
	return result;
}
