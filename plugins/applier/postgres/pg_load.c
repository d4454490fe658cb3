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
 * The first line is checked strictly (JSON grammar, UTF-8, the members
 * that its step needs) and so is the batch's line count, before anything
 * is sent: a malformed load batch is TP_ERROR, for an operator. What the
 * target lacks (a table, a column) is TP_RETRY with a reason that names
 * it, and so is anything the server refuses (its message): the batch is
 * held, and nothing of its transaction is applied. Members other than
 * the ones a step reads are ignored.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* The bytes of rows handed to PQputCopyData at once. */
#define COPY_PIECE ((size_t) 64 * 1024)

/* The deepest nesting of the first line's JSON. */
#define JSON_DEPTH 32

/* A span of text. */
typedef struct span
{
	const char *p;
	size_t		len;
} span;

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
 * A strict JSON checker (RFC 8259) for the first line: the host's
 * change_next does not read load batches, and pg_json.c's scanner
 * expects text already checked.
 */

/* Skip JSON whitespace. */
static const char *
jv_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Whether c is a hexadecimal digit. */
static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * The end of the UTF-8 sequence (of a character beyond ASCII) at p, or
 * NULL when it is not well formed (overlong forms and surrogates too).
 */
static const char *
utf8_char(const char *p, const char *end)
{
	const unsigned char *s = (const unsigned char *) p;
	size_t		room = (size_t) (end - p);
	unsigned long cp;
	size_t		n;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return NULL;
	cp = s[0] & (0x7F >> n);
	if (room < n)
		return NULL;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return NULL;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		(cp >= 0xD800 && cp <= 0xDFFF))
		return NULL;
	return p + n;
}

/* Past the string whose opening quote is at p; NULL when malformed. */
static const char *
jv_string(const char *p, const char *end)
{
	for (p++; p < end;)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c >= 0x80)
		{
			if ((p = utf8_char(p, end)) == NULL)
				return NULL;
			continue;
		}
		if (c == '\\')
		{
			if (end - p < 2)
				return NULL;
			if (p[1] == 'u')
			{
				if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) ||
					!is_hex(p[4]) || !is_hex(p[5]))
					return NULL;
				p += 6;
				continue;
			}
			if (strchr("\"\\/bfnrt", p[1]) == NULL || p[1] == '\0')
				return NULL;
			p += 2;
			continue;
		}
		p++;
	}
	return NULL;
}

/* Past the digits at p (at least one); NULL when there is none. */
static const char *
jv_digits(const char *p, const char *end)
{
	const char *start = p;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p > start ? p : NULL;
}

/* Past the number at p; NULL when malformed. */
static const char *
jv_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if (p >= end || *p < '1' || *p > '9' || (p = jv_digits(p, end)) == NULL)
		return NULL;
	if (p < end && *p == '.' && (p = jv_digits(p + 1, end)) == NULL)
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		p = jv_digits(p, end);
	}
	return p;
}

/* Past the literal word at p; NULL when it is not there. */
static const char *
jv_word(const char *p, const char *end, const char *word)
{
	size_t		n = strlen(word);

	return (size_t) (end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* Past the value at p (after whitespace); NULL when malformed. */
static const char *
jv_value(const char *p, const char *end, int depth)
{
	p = jv_ws(p, end);
	if (p >= end || depth > JSON_DEPTH)
		return NULL;
	switch (*p)
	{
		case '{':
			p = jv_ws(p + 1, end);
			if (p < end && *p == '}')
				return p + 1;
			for (;;)
			{
				if (p >= end || *p != '"' || (p = jv_string(p, end)) == NULL)
					return NULL;
				p = jv_ws(p, end);
				if (p >= end || *p != ':' ||
					(p = jv_value(p + 1, end, depth + 1)) == NULL)
					return NULL;
				p = jv_ws(p, end);
				if (p < end && *p == ',')
				{
					p = jv_ws(p + 1, end);
					continue;
				}
				return p < end && *p == '}' ? p + 1 : NULL;
			}
		case '[':
			p = jv_ws(p + 1, end);
			if (p < end && *p == ']')
				return p + 1;
			for (;;)
			{
				if ((p = jv_value(p, end, depth + 1)) == NULL)
					return NULL;
				p = jv_ws(p, end);
				if (p < end && *p == ',')
				{
					p++;
					continue;
				}
				return p < end && *p == ']' ? p + 1 : NULL;
			}
		case '"':
			return jv_string(p, end);
		case 't':
			return jv_word(p, end, "true");
		case 'f':
			return jv_word(p, end, "false");
		case 'n':
			return jv_word(p, end, "null");
		default:
			return jv_number(p, end);
	}
}

/*
 * The elements of the checked array value v: a new array (free) of *n
 * spans; NULL with *n -1 when v is not an array, or 0 when memory ran
 * out (an empty array gives a non-NULL result).
 */
static span *
array_items(span v, int *n)
{
	const char *p = v.p;
	const char *end = v.p + v.len;
	span	   *items = malloc(sizeof(span));
	int			cap = 1;

	*n = 0;
	if (items == NULL)
		return NULL;
	if (v.len == 0 || *p != '[')
	{
		free(items);
		*n = -1;
		return NULL;
	}
	p = jv_ws(p + 1, end);
	if (p < end && *p == ']')
		return items;
	for (;;)
	{
		const char *next = jv_value(p, end, 0);

		if (*n == cap)
		{
			span	   *more = realloc(items, (size_t) cap * 2 * sizeof(span));

			if (more == NULL)
			{
				free(items);
				*n = 0;
				return NULL;
			}
			items = more;
			cap *= 2;
		}
		p = jv_ws(p, end);
		items[*n].p = p;
		items[*n].len = (size_t) (next - p);
		(*n)++;
		p = jv_ws(next, end);
		if (*p == ']')
			return items;
		p++;					/* the comma */
	}
}

/*
 * Reading the first line
 */

/* The member name of obj as a span; len 0 when missing. */
static span
member(const pj_object *obj, const char *name)
{
	const pj_member *m = pj_find(obj, name);
	span		s = {NULL, 0};

	if (m != NULL)
	{
		s.p = m->value;
		s.len = m->value_len;
	}
	return s;
}

/* The non-empty string value v, decoded (free); NULL when it is not one. */
static char *
string_of(span v)
{
	char	   *s = v.len > 0 ? pj_string(v.p, v.len) : NULL;

	if (s != NULL && s[0] == '\0')
	{
		free(s);
		return NULL;
	}
	return s;
}

/* The integer value v (0 or more) into *out; false when it is not one. */
static bool
integer_of(span v, int64_t *out)
{
	char		text[24];
	char	   *end;
	long long	n;

	if (v.len == 0 || v.len >= sizeof(text) || v.p[0] < '0' || v.p[0] > '9')
		return false;
	memcpy(text, v.p, v.len);
	text[v.len] = '\0';
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64_t) n;
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

/* Whether obj holds two members of one name. */
static bool
has_duplicates(const pj_object *obj)
{
	for (int i = 0; i < obj->n; i++)
	{
		for (int j = i + 1; j < obj->n; j++)
		{
			if (strcmp(obj->members[i].name, obj->members[j].name) == 0)
				return true;
		}
	}
	return false;
}

/*
 * Read "tables" ("begin": objects of "schema" and "table") or "columns"
 * ("rows": strings) of load into h. NULL, or what is wrong.
 */
static const char *
read_names(load_header *h, const pj_object *load, bool tables)
{
	pj_object	elem;
	span	   *items;
	int			n;
	const char *problem = NULL;

	items = array_items(member(load, tables ? "tables" : "columns"), &n);
	if (items == NULL)
		return n < 0 ? (tables ? "\"tables\" is missing or not an array"
						: "\"columns\" is missing or not an array") : "out of memory";
	h->names = calloc((size_t) n + 1, sizeof(char *));
	h->schemas = tables ? calloc((size_t) n + 1, sizeof(char *)) : NULL;
	if (h->names == NULL || (tables && h->schemas == NULL))
	{
		free(items);
		return "out of memory";
	}
	memset(&elem, 0, sizeof(elem));
	for (int i = 0; i < n && problem == NULL; i++)
	{
		h->n = i + 1;
		if (!tables)
		{
			if ((h->names[i] = string_of(items[i])) == NULL)
				problem = "an element of \"columns\" is not a non-empty string";
			continue;
		}
		if (items[i].p[0] != '{' || !pj_parse_object(&elem, items[i].p, items[i].len) ||
			has_duplicates(&elem) ||
			(h->schemas[i] = string_of(member(&elem, "schema"))) == NULL ||
			(h->names[i] = string_of(member(&elem, "table"))) == NULL)
			problem = "an element of \"tables\" is not an object of a \"schema\" and "
				"a \"table\" string";
	}
	pj_object_free(&elem);
	free(items);
	return problem;
}

/*
 * Read the first line (line, len bytes, without its newline) into h. NULL,
 * or what is wrong with it.
 */
static const char *
read_header(load_header *h, const char *line, size_t len)
{
	pj_object	outer;
	pj_object	load;
	span		v;
	const char *problem = NULL;
	const char *end;

	memset(h, 0, sizeof(*h));
	end = jv_value(line, line + len, 0);
	if (end == NULL || jv_ws(end, line + len) != line + len)
		return "its first line is not valid JSON";
	memset(&outer, 0, sizeof(outer));
	memset(&load, 0, sizeof(load));
	if (!pj_parse_object(&outer, line, len) || has_duplicates(&outer) ||
		(v = member(&outer, "load")).len == 0 || v.p[0] != '{' ||
		!pj_parse_object(&load, v.p, v.len))
		problem = "its first line is not an object {\"load\":{...}}";
	else if (has_duplicates(&load))
		problem = "its \"load\" object has a member twice";
	else if (!integer_of(member(&load, "id"), &h->id))
		problem = "\"id\" is missing or not an integer";
	else if ((h->step = string_of(member(&load, "step"))) == NULL)
		problem = "\"step\" is missing or not a string";
	else if (strcmp(h->step, "begin") == 0)
		problem = read_names(h, &load, true);
	else if (strcmp(h->step, "rows") == 0)
	{
		if ((h->schema = string_of(member(&load, "schema"))) == NULL)
			problem = "\"schema\" is missing or not a string";
		else if ((h->table = string_of(member(&load, "table"))) == NULL)
			problem = "\"table\" is missing or not a string";
		else if (!integer_of(member(&load, "chunk"), &h->chunk))
			problem = "\"chunk\" is missing or not an integer";
		else
			problem = read_names(h, &load, false);
	}
	else if (strcmp(h->step, "end") != 0 && strcmp(h->step, "void") != 0)
		problem = "its \"step\" is none of begin, rows, end and void";
	pj_object_free(&outer);
	pj_object_free(&load);
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
