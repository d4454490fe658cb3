/*
 * batch_wire.c
 *     A batch's wire form and the decoding of its change lines.
 *
 * The wire form is one header line, a compact JSON object ending in '\n',
 * followed by exactly "data_bytes" bytes of change lines:
 *
 *   {"teleport_batch":1,"kind":"changes","source":"s","target":"t",
 *    "seq":1,"changes":2,"first_tick":10,"last_tick":12,
 *    "apply_schema":"public","data_bytes":180,"partial":false}\n
 *   {"op":"c",...}\n{"op":"u",...}\n
 *
 * Parsing is strict: every member of the header is required but "follows"
 * (TP_BATCH_FOLLOWS, written only when set, by a sender with batches in
 * flight), none other is allowed (a change of the header is a new
 * TELEPORT_BATCH_FORMAT), and the
 * data must be "changes" non-empty lines, each ending in '\n', with no NUL
 * byte anywhere. Change lines are fully decoded only by tp_change_next; the
 * parse checks that each looks like an object ("{" ... "}").
 *
 * The header holds only strings and int64 counts, so jansson reads and
 * writes it. Change lines (the envelope of teleport/batch.h) carry column
 * values as PostgreSQL's json renders them, numbers of any length included,
 * which jansson would round or refuse: they are decoded with json_span, a
 * strict scanner that locates values without converting them, and before,
 * after and ddl are handed on as their exact bytes.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch_wire.h"
#include "json_span.h"
#include "log.h"
#include "xalloc.h"

/* A string buffer kept from call to call. */
typedef struct text_buf
{
	char	   *s;				/* NUL-terminated, or NULL */
	size_t		cap;			/* bytes allocated */
} text_buf;

/*
 * What a cursor keeps between calls: the buffers the current change's
 * strings point to, kept from line to line (a batch's lines are decoded
 * one after the other, mostly of similar sizes), so that decoding a line
 * allocates nothing once they are large enough.
 */
typedef struct change_state
{
	text_buf	origin;			/* source.name, decoded */
	text_buf	schema;			/* source.schema, decoded */
	text_buf	table;			/* source.table, decoded */
	text_buf	before;			/* the exact bytes of "before" */
	text_buf	after;			/* the exact bytes of "after" */
	text_buf	ddl;			/* the exact bytes of "ddl" */
} change_state;

/* The header members, in the order tp_batch_header writes them. */
static const char *const header_members[] = {
	"teleport_batch", "kind", "source", "target", "seq", "changes",
	"first_tick", "last_tick", "apply_schema", "data_bytes", "partial", "follows", NULL
};

/* Write a one-sentence reason into reason (if any); always returns TP_ERROR. */
static tp_result
fail(char *reason, size_t reason_len, const char *fmt,...)
TP_PRINTF(3, 4);

static tp_result
fail(char *reason, size_t reason_len, const char *fmt,...)
{
	if (reason != NULL && reason_len > 0)
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(reason, reason_len, fmt, ap);
		va_end(ap);
	}
	return TP_ERROR;
}

/* The wire name of kind, or NULL when kind is not one we know. */
static const char *
kind_name(tp_batch_kind kind)
{
	switch (kind)
	{
		case TP_BATCH_CHANGES:
			return "changes";
		case TP_BATCH_LOAD:
			return "load";
	}
	return NULL;
}

/*
 * The number of '\n' bytes in s (len bytes), 8 at a time: in w ^ "\n\n..."
 * a newline is a zero byte, found without carries between bytes (and
 * without a popcount instruction, which x86-64's baseline lacks).
 */
static uint64_t
count_newlines(const char *s, size_t len)
{
	const uint64_t ones = (uint64_t) 0x0101010101010101;
	const uint64_t lows = ones * 0x7F;
	size_t		i = 0;
	uint64_t	n = 0;

	for (; len - i >= 8; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		w ^= ones * '\n';
		/* one high bit per newline; moved to bit 0 of its byte, summed */
		n += (((~(((w & lows) + lows) | w) & ~lows) >> 7) * ones) >> 56;
	}
	for (; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/*
 * Count the lines of data (len bytes), checking that it is a sequence of
 * lines each ending in '\n', without NUL bytes, and that each line is a
 * JSON object (one that starts with '{' and ends with '}'); of a load
 * batch (kind), only the first line: the rows that follow are COPY text,
 * where a line may be empty. Returns true and sets *n_lines, or false with
 * a reason.
 */
static bool
count_lines(tp_batch_kind kind, const char *data, size_t len, uint64_t *n_lines,
			char *reason, size_t reason_len)
{
	size_t		offset = 0;
	uint64_t	n = 0;

	if (len > 0 && memchr(data, '\0', len) != NULL)
	{
		fail(reason, reason_len, "the batch's data contains a NUL byte");
		return false;
	}
	while (offset < len)
	{
		const char *line = data + offset;
		const char *nl = memchr(line, '\n', len - offset);
		size_t		line_len;

		n++;
		if (nl == NULL)
		{
			fail(reason, reason_len,
				 "line %" PRIu64 " of the batch's data does not end in a newline",
				 n);
			return false;
		}
		line_len = (size_t) (nl - line);
		if (kind == TP_BATCH_LOAD && n > 1)
		{
			/* rows: only counted, all at once; the last must end in '\n' */
			n += count_newlines(line, len - offset) - 1;
			if (data[len - 1] != '\n')
			{
				fail(reason, reason_len,
					 "line %" PRIu64 " of the batch's data does not end in a newline",
					 n + 1);
				return false;
			}
			break;
		}
		if (line_len == 0)
		{
			fail(reason, reason_len,
				 "line %" PRIu64 " of the batch's data is empty", n);
			return false;
		}
		if (line[0] != '{' || line[line_len - 1] != '}')
		{
			fail(reason, reason_len,
				 "line %" PRIu64 " of the batch's data is not a JSON object", n);
			return false;
		}
		offset += line_len + 1;
	}
	*n_lines = n;
	return true;
}

/*
 * The header line of batch's wire form; see batch_wire.h. The result is
 * malloc'd and owned by the caller.
 */
char *
tp_batch_header(const tp_batch *batch)
{
	json_t	   *obj;
	char	   *text;
	char	   *line;
	size_t		len;
	const char *kind;
	uint64_t	n_lines;
	char		reason[256];

	if (batch == NULL || !TP_HAS_FIELD(batch, tp_batch, data_len))
	{
		tp_error("batch", "cannot write the header of a batch: %s",
				 batch == NULL ? "no batch" : "its struct is too small");
		return NULL;
	}
	kind = kind_name(batch->kind);
	if (kind == NULL || batch->source == NULL || batch->target == NULL ||
		batch->apply_schema == NULL || batch->source[0] == '\0' ||
		batch->target[0] == '\0' || batch->apply_schema[0] == '\0')
	{
		tp_error("batch", "cannot write the header of batch %" PRIu64 ": its kind, source, target or apply_schema is missing",
				 batch->seq);
		return NULL;
	}
	if (batch->seq == 0 || batch->seq > INT64_MAX ||
		batch->n_changes > INT64_MAX || batch->first_tick > INT64_MAX ||
		batch->last_tick > INT64_MAX || batch->first_tick > batch->last_tick ||
		(uint64_t) batch->data_len > INT64_MAX)
	{
		tp_error("batch", "cannot write the header of batch %" PRIu64 " of \"%s\" to \"%s\": seq, a count or the tick range is out of range",
				 batch->seq, batch->source, batch->target);
		return NULL;
	}
	if (batch->data == NULL && batch->data_len > 0)
	{
		tp_error("batch", "cannot write the header of batch %" PRIu64 " of \"%s\" to \"%s\": it has no data",
				 batch->seq, batch->source, batch->target);
		return NULL;
	}
	if (!count_lines(batch->kind, batch->data, batch->data_len, &n_lines,
					 reason, sizeof(reason)))
	{
		tp_error("batch", "cannot write the header of batch %" PRIu64 " of \"%s\" to \"%s\": %s",
				 batch->seq, batch->source, batch->target, reason);
		return NULL;
	}
	if (n_lines != batch->n_changes)
	{
		snprintf(reason, sizeof(reason),
				 "it has %" PRIu64 " lines of data but counts %" PRIu64 " changes",
				 n_lines, batch->n_changes);
		tp_error("batch", "cannot write the header of batch %" PRIu64 " of \"%s\" to \"%s\": %s",
				 batch->seq, batch->source, batch->target, reason);
		return NULL;
	}

	obj = json_object();
	if (obj == NULL ||
		json_object_set_new(obj, "teleport_batch",
							json_integer(TELEPORT_BATCH_FORMAT)) != 0 ||
		json_object_set_new(obj, "kind", json_string(kind)) != 0 ||
		json_object_set_new(obj, "source", json_string(batch->source)) != 0 ||
		json_object_set_new(obj, "target", json_string(batch->target)) != 0 ||
		json_object_set_new(obj, "seq",
							json_integer((json_int_t) batch->seq)) != 0 ||
		json_object_set_new(obj, "changes",
							json_integer((json_int_t) batch->n_changes)) != 0 ||
		json_object_set_new(obj, "first_tick",
							json_integer((json_int_t) batch->first_tick)) != 0 ||
		json_object_set_new(obj, "last_tick",
							json_integer((json_int_t) batch->last_tick)) != 0 ||
		json_object_set_new(obj, "apply_schema",
							json_string(batch->apply_schema)) != 0 ||
		json_object_set_new(obj, "data_bytes",
							json_integer((json_int_t) batch->data_len)) != 0 ||
		json_object_set_new(obj, "partial",
							json_boolean(TP_HAS_FIELD(batch, tp_batch, flags) &&
										 (batch->flags & TP_BATCH_PARTIAL) != 0)) != 0 ||
		(TP_HAS_FIELD(batch, tp_batch, flags) && (batch->flags & TP_BATCH_FOLLOWS) != 0 &&
		 json_object_set_new(obj, "follows", json_true()) != 0))
	{
		/* json_string returns NULL for text that is not UTF-8 */
		json_decref(obj);
		tp_error("batch", "cannot write the header of batch %" PRIu64 ": its source, target or apply_schema is not valid UTF-8, or memory ran out",
				 batch->seq);
		return NULL;
	}
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
	{
		tp_error("batch", "out of memory");
		return NULL;
	}
	len = strlen(text);
	line = malloc(len + 2);
	if (line == NULL)
	{
		free(text);
		tp_error("batch", "out of memory");
		return NULL;
	}
	memcpy(line, text, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	free(text);
	return line;
}

/*
 * Read header member name of obj as a non-negative JSON integer into *value.
 * False with a reason when it is missing, not an integer or negative.
 */
static bool
header_uint(json_t *obj, const char *name, uint64_t *value,
			char *reason, size_t reason_len)
{
	json_t	   *member = json_object_get(obj, name);
	json_int_t	v;

	if (member == NULL)
	{
		fail(reason, reason_len, "the batch header has no \"%s\" member", name);
		return false;
	}
	if (!json_is_integer(member))
	{
		fail(reason, reason_len,
			 "the batch header's \"%s\" member is not an integer", name);
		return false;
	}
	v = json_integer_value(member);
	if (v < 0)
	{
		fail(reason, reason_len,
			 "the batch header's \"%s\" member is negative", name);
		return false;
	}
	/* jansson refuses integers beyond json_int_t (int64) while parsing */
	*value = (uint64_t) v;
	return true;
}

/*
 * Read header member name of obj as a non-empty JSON string. Returns it
 * (owned by obj) or NULL with a reason.
 */
static const char *
header_string(json_t *obj, const char *name, char *reason, size_t reason_len)
{
	json_t	   *member = json_object_get(obj, name);

	if (member == NULL)
	{
		fail(reason, reason_len, "the batch header has no \"%s\" member", name);
		return NULL;
	}
	if (!json_is_string(member))
	{
		fail(reason, reason_len,
			 "the batch header's \"%s\" member is not a string", name);
		return NULL;
	}
	if (json_string_length(member) == 0)
	{
		fail(reason, reason_len,
			 "the batch header's \"%s\" member is empty", name);
		return NULL;
	}
	return json_string_value(member);
}

/*
 * Check the header object's members and fill *b from it (strings still
 * pointing into obj). False with a reason.
 */
static bool
read_header(json_t *obj, tp_batch *b, uint64_t *data_bytes,
			char *reason, size_t reason_len)
{
	const char *key;
	json_t	   *value;
	json_t	   *version;
	const char *kind;

	if (!json_is_object(obj))
	{
		fail(reason, reason_len, "the batch header is not a JSON object");
		return false;
	}
	version = json_object_get(obj, "teleport_batch");
	if (version == NULL)
	{
		fail(reason, reason_len,
			 "the batch header has no \"teleport_batch\" member");
		return false;
	}
	if (!json_is_integer(version))
	{
		fail(reason, reason_len,
			 "the batch header's \"teleport_batch\" member is not an integer");
		return false;
	}
	if (json_integer_value(version) != TELEPORT_BATCH_FORMAT)
	{
		fail(reason, reason_len,
			 "the batch format version %" JSON_INTEGER_FORMAT " is not known here (this teleport reads version %d)",
			 json_integer_value(version), TELEPORT_BATCH_FORMAT);
		return false;
	}
	json_object_foreach(obj, key, value)
	{
		bool		known = false;

		for (int i = 0; header_members[i] != NULL; i++)
		{
			if (strcmp(key, header_members[i]) == 0)
				known = true;
		}
		if (!known)
		{
			fail(reason, reason_len,
				 "the batch header has an unknown member \"%s\"", key);
			return false;
		}
	}

	kind = header_string(obj, "kind", reason, reason_len);
	if (kind == NULL)
		return false;
	if (strcmp(kind, "changes") == 0)
		b->kind = TP_BATCH_CHANGES;
	else if (strcmp(kind, "load") == 0)
		b->kind = TP_BATCH_LOAD;
	else
	{
		fail(reason, reason_len,
			 "the batch header's kind \"%s\" is neither \"changes\" nor \"load\"",
			 kind);
		return false;
	}
	b->source = header_string(obj, "source", reason, reason_len);
	if (b->source == NULL)
		return false;
	b->target = header_string(obj, "target", reason, reason_len);
	if (b->target == NULL)
		return false;
	b->apply_schema = header_string(obj, "apply_schema", reason, reason_len);
	if (b->apply_schema == NULL)
		return false;
	if (!header_uint(obj, "seq", &b->seq, reason, reason_len) ||
		!header_uint(obj, "changes", &b->n_changes, reason, reason_len) ||
		!header_uint(obj, "first_tick", &b->first_tick, reason, reason_len) ||
		!header_uint(obj, "last_tick", &b->last_tick, reason, reason_len) ||
		!header_uint(obj, "data_bytes", data_bytes, reason, reason_len))
		return false;
	if (b->seq == 0)
	{
		fail(reason, reason_len, "the batch header's \"seq\" member is 0");
		return false;
	}
	if (b->first_tick > b->last_tick)
	{
		fail(reason, reason_len,
			 "the batch header's first_tick %" PRIu64 " is after its last_tick %" PRIu64,
			 b->first_tick, b->last_tick);
		return false;
	}
	value = json_object_get(obj, "partial");
	if (value == NULL || !json_is_boolean(value))
	{
		fail(reason, reason_len,
			 "the batch header's \"partial\" member is %s",
			 value == NULL ? "missing" : "not a boolean");
		return false;
	}
	b->flags = json_is_true(value) ? TP_BATCH_PARTIAL : 0;
	/* optional: only a sender with batches in flight writes it */
	value = json_object_get(obj, "follows");
	if (value != NULL && !json_is_boolean(value))
	{
		fail(reason, reason_len, "the batch header's \"follows\" member is not a boolean");
		return false;
	}
	if (value != NULL && json_is_true(value))
		b->flags |= TP_BATCH_FOLLOWS;
	return true;
}

/*
 * Parse a wire form; see batch_wire.h. On TP_OK *batch is one malloc'd
 * block holding the struct, its strings and (unless borrow) a copy of the
 * data (plus a terminating NUL not counted in data_len); with borrow the
 * data stays in buf, which ends in a NUL.
 */
static tp_result
parse_wire(const char *buf, size_t len, bool borrow, tp_batch **batch,
		   char *reason, size_t reason_len)
{
	const char *nl;
	size_t		header_len;
	size_t		data_len;
	json_t	   *obj;
	json_error_t err;
	tp_batch	b;
	uint64_t	data_bytes;
	uint64_t	n_lines;
	size_t		source_len,
				target_len,
				schema_len;
	char	   *block;
	char	   *p;
	tp_batch   *result;

	*batch = NULL;
	if (buf == NULL || len == 0)
		return fail(reason, reason_len, "the batch is empty");
	nl = memchr(buf, '\n', len);
	if (nl == NULL)
		return fail(reason, reason_len,
					"the batch is truncated: its header line does not end in a newline");
	header_len = (size_t) (nl - buf);
	if (memchr(buf, '\0', header_len) != NULL)
		return fail(reason, reason_len, "the batch header contains a NUL byte");

	obj = json_loadb(buf, header_len, JSON_REJECT_DUPLICATES, &err);
	if (obj == NULL)
		return fail(reason, reason_len,
					"the batch header is not valid JSON: %s", err.text);

	memset(&b, 0, sizeof(b));
	b.size = sizeof(tp_batch);
	b.format = TELEPORT_BATCH_FORMAT;
	if (!read_header(obj, &b, &data_bytes, reason, reason_len))
	{
		json_decref(obj);
		return TP_ERROR;
	}

	data_len = len - header_len - 1;
	if ((uint64_t) data_len < data_bytes)
	{
		json_decref(obj);
		return fail(reason, reason_len,
					"the batch is truncated: its header announces %" PRIu64 " bytes of data but %zu follow",
					data_bytes, data_len);
	}
	if ((uint64_t) data_len > data_bytes)
	{
		json_decref(obj);
		return fail(reason, reason_len,
					"the batch has %zu bytes after the %" PRIu64 " bytes of data its header announces",
					data_len - (size_t) data_bytes, data_bytes);
	}
	if (!count_lines(b.kind, nl + 1, data_len, &n_lines, reason, reason_len))
	{
		json_decref(obj);
		return TP_ERROR;
	}
	if (n_lines != b.n_changes)
	{
		json_decref(obj);
		return fail(reason, reason_len,
					"the batch header announces %" PRIu64 " changes but its data has %" PRIu64 " lines",
					b.n_changes, n_lines);
	}

	/* one block: the struct, then source, target, apply_schema, data */
	source_len = strlen(b.source);
	target_len = strlen(b.target);
	schema_len = strlen(b.apply_schema);
	block = malloc(sizeof(tp_batch) + source_len + target_len + schema_len +
				   (borrow ? 0 : data_len) + 4);
	if (block == NULL)
	{
		json_decref(obj);
		return fail(reason, reason_len, "the receiver ran out of memory");
	}
	result = (tp_batch *) block;
	*result = b;
	p = block + sizeof(tp_batch);
	memcpy(p, b.source, source_len + 1);
	result->source = p;
	p += source_len + 1;
	memcpy(p, b.target, target_len + 1);
	result->target = p;
	p += target_len + 1;
	memcpy(p, b.apply_schema, schema_len + 1);
	result->apply_schema = p;
	p += schema_len + 1;
	if (borrow)
		result->data = nl + 1;	/* buf[len], after it, is a NUL */
	else
	{
		if (data_len > 0)
			memcpy(p, nl + 1, data_len);
		p[data_len] = '\0';
		result->data = p;
	}
	result->data_len = data_len;
	json_decref(obj);

	*batch = result;
	return TP_OK;
}

/* See batch_wire.h. */
tp_result
tp_batch_parse(const char *buf, size_t len, tp_batch **batch,
			   char *reason, size_t reason_len)
{
	return parse_wire(buf, len, false, batch, reason, reason_len);
}

/* See batch_wire.h. */
tp_result
tp_batch_parse_borrowed(const char *buf, size_t len, tp_batch **batch,
						char *reason, size_t reason_len)
{
	if (buf != NULL && buf[len] != '\0')
	{
		*batch = NULL;
		return fail(reason, reason_len, "the batch's buffer does not end in a NUL");
	}
	return parse_wire(buf, len, true, batch, reason, reason_len);
}

/* Free a batch made by tp_batch_parse (NULL is fine). */
void
tp_batch_free(tp_batch *batch)
{
	free(batch);
}

/* Make b at least size bytes (its content is not kept); returns b->s. */
static char *
text_buf_reserve(text_buf *b, size_t size)
{
	if (b->cap < size)
	{
		free(b->s);
		b->cap = size < 64 ? 64 : size;
		b->s = tp_xmalloc(b->cap);
	}
	return b->s;
}

/* Free what state's buffers hold; keep state itself. */
static void
change_state_free(change_state *state)
{
	free(state->origin.s);
	free(state->schema.s);
	free(state->table.s);
	free(state->before.s);
	free(state->after.s);
	free(state->ddl.s);
	memset(state, 0, sizeof(*state));
}

/* The ops: wire name, value, and how a reason names one. */
static const struct
{
	const char *name;
	tp_change_op op;
	const char *phrase;
}			change_ops[] = {
	{"c", TP_CHANGE_INSERT, "an insert (\"c\")"},
	{"u", TP_CHANGE_UPDATE, "an update (\"u\")"},
	{"d", TP_CHANGE_DELETE, "a delete (\"d\")"},
	{"t", TP_CHANGE_TRUNCATE, "a truncate (\"t\")"},
	{"ddl", TP_CHANGE_DDL, "a ddl event"},
};

/* The members of a change line that are read, and those of its source. */
enum
{
	M_OP, M_SOURCE, M_TS_MS, M_BEFORE, M_AFTER, M_DDL, M_VALUES, N_LINE_MEMBERS
};
static const char *const line_members[N_LINE_MEMBERS] = {
	"op", "source", "ts_ms", "before", "after", "ddl", "values"
};
enum
{
	S_NAME, S_SCHEMA, S_TABLE, S_TXID, S_SEQ, S_BATCH, S_STMT, N_SOURCE_MEMBERS
};
static const char *const source_members[N_SOURCE_MEMBERS] = {
	"name", "schema", "table", "txid", "seq", "batch", "stmt"
};

/*
 * Decode v, string member name of the source object (its path in reasons
 * is "source.<name>"), into buf, with *out pointing to it. A member that
 * is absent (type 0) or null leaves *out NULL and is fine only when
 * optional. False with a reason (prefixed by where) when it is not a
 * non-empty string without NUL.
 */
static bool
source_string(const char *line, tp_json_span v, const char *name,
			  bool optional, text_buf *buf, const char **out, const char *where,
			  char *reason, size_t reason_len)
{
	size_t		len;

	*out = NULL;
	if (optional && (v.type == 0 || v.type == TP_JSON_NULL))
		return true;
	if (v.type != TP_JSON_STRING)
	{
		fail(reason, reason_len, "%s: \"source.%s\" is missing or not a string",
			 where, name);
		return false;
	}
	len = tp_json_string_decode(line, v, text_buf_reserve(buf, v.len));
	*out = buf->s;
	if (len == 0 || strlen(*out) != len)
	{
		fail(reason, reason_len, "%s: \"source.%s\" is %s", where, name,
			 len == 0 ? "empty" : "a string with a NUL character");
		return false;
	}
	return true;
}

/*
 * Read v, member label of the line (a path like "source.txid" for
 * reasons), as an int64 integer into *value; non-negative unless
 * allow_negative. False with a reason (prefixed by where) otherwise.
 */
static bool
read_integer(const char *line, tp_json_span v, const char *label,
			 bool allow_negative, int64_t *value, const char *where,
			 char *reason, size_t reason_len)
{
	switch (tp_json_int64(line, v, value))
	{
		case TP_JSON_INT_OK:
			break;
		case TP_JSON_INT_RANGE:
			fail(reason, reason_len, "%s: \"%s\" is out of the 64-bit range",
				 where, label);
			return false;
		case TP_JSON_INT_NOT_INTEGER:
		default:
			fail(reason, reason_len, "%s: \"%s\" is missing or not an integer",
				 where, label);
			return false;
	}
	if (!allow_negative && *value < 0)
	{
		fail(reason, reason_len, "%s: \"%s\" is negative", where, label);
		return false;
	}
	return true;
}

/*
 * Copy v, member name of the line ("before", "after" or "ddl"), into buf,
 * NUL-terminated, its exact bytes, with *text pointing to it. Absent (type
 * 0) or null leaves *text NULL; anything but an object, or an object with
 * a duplicate member name, is false with a reason (prefixed by where).
 */
static bool
object_member(const char *line, tp_json_span v, const char *name,
			  text_buf *buf, const char **text, const char *where,
			  char *reason, size_t reason_len)
{
	char		why[128];

	*text = NULL;
	if (v.type == 0 || v.type == TP_JSON_NULL)
		return true;
	if (v.type != TP_JSON_OBJECT)
	{
		fail(reason, reason_len, "%s: \"%s\" is not a JSON object or null",
			 where, name);
		return false;
	}
	if (!tp_json_unique_keys(line, v, why, sizeof(why)))
	{
		fail(reason, reason_len, "%s: \"%s\" has a %s", where, name, why);
		return false;
	}
	memcpy(text_buf_reserve(buf, v.len + 1), line + v.start, v.len);
	buf->s[v.len] = '\0';
	*text = buf->s;
	return true;
}

/*
 * Decode one line (without its '\n') into change, keeping what change
 * points to in state. The line is checked completely as JSON first; its
 * values are located, never converted (see json_span.h). False with a
 * reason.
 */
static bool
decode_line(const char *line, size_t line_len, uint64_t line_no,
			change_state *state, tp_change *change,
			char *reason, size_t reason_len)
{
	char		where[64];
	char		why[160];
	tp_json_span top;
	tp_json_span m[N_LINE_MEMBERS];
	tp_json_span src[N_SOURCE_MEMBERS];
	const char *phrase = NULL;
	tp_change_op op = (tp_change_op) 0;
	bool		before_allowed,
				after_allowed;

	snprintf(where, sizeof(where), "line %" PRIu64 " of the batch's data",
			 line_no);
	if (memchr(line, '\0', line_len) != NULL)
	{
		fail(reason, reason_len, "%s contains a NUL byte", where);
		return false;
	}
	if (!tp_json_check(line, line_len, &top, why, sizeof(why)))
	{
		fail(reason, reason_len, "%s is not valid JSON: %s", where, why);
		return false;
	}
	if (top.type != TP_JSON_OBJECT)
	{
		fail(reason, reason_len, "%s is not a JSON object", where);
		return false;
	}
	if (!tp_json_find_unique(line, top, line_members, m, N_LINE_MEMBERS,
							 why, sizeof(why)))
	{
		fail(reason, reason_len, "%s has a %s", where, why);
		return false;
	}

	/* op */
	if (m[M_OP].type != TP_JSON_STRING)
	{
		fail(reason, reason_len, "%s: \"op\" is missing or not a string", where);
		return false;
	}
	for (size_t i = 0; i < sizeof(change_ops) / sizeof(change_ops[0]); i++)
	{
		if (tp_json_string_eq(line, m[M_OP], change_ops[i].name))
		{
			op = change_ops[i].op;
			phrase = change_ops[i].phrase;
		}
	}
	if (op == 0)
	{
		char	   *name = tp_json_string(line, m[M_OP], NULL);

		fail(reason, reason_len, "%s: unknown op \"%.32s\"", where, name);
		free(name);
		return false;
	}
	change->op = op;

	/* source */
	if (m[M_SOURCE].type != TP_JSON_OBJECT)
	{
		fail(reason, reason_len, "%s: \"source\" is missing or not a JSON object",
			 where);
		return false;
	}
	if (!tp_json_find_unique(line, m[M_SOURCE], source_members, src,
							 N_SOURCE_MEMBERS, why, sizeof(why)))
	{
		fail(reason, reason_len, "%s: \"source\" has a %s", where, why);
		return false;
	}
	if (!source_string(line, src[S_NAME], "name", false, &state->origin,
					   &change->origin, where, reason, reason_len) ||
		!source_string(line, src[S_SCHEMA], "schema", false, &state->schema,
					   &change->schema, where, reason, reason_len) ||
		!source_string(line, src[S_TABLE], "table", op == TP_CHANGE_DDL,
					   &state->table, &change->table, where, reason, reason_len) ||
		!read_integer(line, src[S_TXID], "source.txid", false,
					  &change->txid, where, reason, reason_len) ||
		!read_integer(line, src[S_SEQ], "source.seq", false,
					  &change->seq, where, reason, reason_len) ||
		!read_integer(line, src[S_BATCH], "source.batch", false,
					  &change->batch, where, reason, reason_len))
		return false;
	/* optional: absent or null is 0, not known */
	if (src[S_STMT].type != 0 && src[S_STMT].type != TP_JSON_NULL &&
		!read_integer(line, src[S_STMT], "source.stmt", false,
					  &change->stmt, where, reason, reason_len))
		return false;
	if (!read_integer(line, m[M_TS_MS], "ts_ms", true, &change->ts_ms,
					  where, reason, reason_len))
		return false;

	/* before, after, ddl: which each op has */
	if (!object_member(line, m[M_BEFORE], "before", &state->before,
					   &change->before, where, reason, reason_len) ||
		!object_member(line, m[M_AFTER], "after", &state->after,
					   &change->after, where, reason, reason_len) ||
		!object_member(line, m[M_DDL], "ddl", &state->ddl, &change->ddl,
					   where, reason, reason_len))
		return false;
	before_allowed = op == TP_CHANGE_UPDATE || op == TP_CHANGE_DELETE;
	after_allowed = op == TP_CHANGE_INSERT || op == TP_CHANGE_UPDATE;
	if (before_allowed && change->before == NULL)
	{
		fail(reason, reason_len, "%s: %s has no \"before\"", where, phrase);
		return false;
	}
	if (after_allowed && change->after == NULL)
	{
		fail(reason, reason_len, "%s: %s has no \"after\"", where, phrase);
		return false;
	}
	if ((!before_allowed && change->before != NULL) ||
		(!after_allowed && change->after != NULL))
	{
		fail(reason, reason_len, "%s: %s must have a null or absent \"%s\"",
			 where, phrase,
			 change->before != NULL && !before_allowed ? "before" : "after");
		return false;
	}
	if (op == TP_CHANGE_DDL && change->ddl == NULL)
	{
		fail(reason, reason_len, "%s: a ddl event has no \"ddl\" object", where);
		return false;
	}
	if (op != TP_CHANGE_DDL && change->ddl != NULL)
	{
		fail(reason, reason_len, "%s: only a ddl event has a \"ddl\" member",
			 where);
		return false;
	}

	/* values: absent (json mode) or "text", and only with row images */
	if (m[M_VALUES].type != 0)
	{
		if (m[M_VALUES].type != TP_JSON_STRING ||
			!tp_json_string_eq(line, m[M_VALUES], "text"))
		{
			fail(reason, reason_len, "%s: \"values\" is not \"text\" (the only "
				 "mode a change line may name; without it values are json)", where);
			return false;
		}
		if (!before_allowed && !after_allowed)
		{
			fail(reason, reason_len, "%s: %s must not have a \"values\" member",
				 where, phrase);
			return false;
		}
		change->text_values = true;
	}

	change->line = line;
	change->line_len = line_len;
	return true;
}

/*
 * Decode the next change line; see batch_wire.h. What change points to is
 * owned by the cursor (its state) and by batch->data, valid until the next
 * call or tp_change_cursor_done. Nothing is logged.
 */
tp_result
tp_change_next(const tp_batch *batch, tp_change_cursor *cursor,
			   tp_change *change, char *reason, size_t reason_len)
{
	change_state *state;
	const char *line;
	const char *nl;
	size_t		line_len;

	memset(change, 0, sizeof(*change));
	if (cursor == NULL || cursor->size == 0)
		return fail(reason, reason_len,
					"the change cursor was not initialised (its size is 0)");
	if (batch == NULL || (batch->data == NULL && batch->data_len > 0))
		return fail(reason, reason_len, "there is no batch to read");

	state = cursor->state;
	if (state == NULL)
	{
		state = calloc(1, sizeof(change_state));
		if (state == NULL)
			return fail(reason, reason_len, "out of memory");
		cursor->state = state;
	}

	if (cursor->offset >= batch->data_len)
	{
		if (cursor->offset > batch->data_len)
			return fail(reason, reason_len,
						"the change cursor is beyond the batch's data");
		if (cursor->index != batch->n_changes)
			return fail(reason, reason_len,
						"the batch counts %" PRIu64 " changes but its data has %" PRIu64 " lines",
						batch->n_changes, cursor->index);
		return TP_OK;			/* the end: change->size stays 0 */
	}

	line = batch->data + cursor->offset;
	nl = memchr(line, '\n', batch->data_len - cursor->offset);
	if (nl == NULL)
		return fail(reason, reason_len,
					"line %" PRIu64 " of the batch's data does not end in a newline",
					cursor->index + 1);
	line_len = (size_t) (nl - line);
	if (line_len == 0)
		return fail(reason, reason_len,
					"line %" PRIu64 " of the batch's data is empty",
					cursor->index + 1);
	if (!decode_line(line, line_len, cursor->index + 1, state, change,
					 reason, reason_len))
	{
		memset(change, 0, sizeof(*change));
		return TP_ERROR;
	}
	change->size = sizeof(tp_change);
	cursor->offset += line_len + 1;
	cursor->index++;
	return TP_OK;
}

/* Free what the cursor holds (calling it again is harmless). */
void
tp_change_cursor_done(tp_change_cursor *cursor)
{
	if (cursor == NULL || cursor->state == NULL)
		return;
	change_state_free(cursor->state);
	free(cursor->state);
	cursor->state = NULL;
}
