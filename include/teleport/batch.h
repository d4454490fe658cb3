/*
 * teleport/batch.h
 *     The batch and change-event model that plugins see.
 *
 * A batch is the unit that travels from a source instance to a target
 * instance and is applied there in one transaction. It is identified by
 * (source, target, seq); seq starts at 1 and has no gaps for one pair.
 *
 * Its changes travel as "data": UTF-8 text, one JSON object per line, each
 * line ending in '\n', in source commit order. Each line is a change event
 * in an envelope modelled on Debezium's:
 *
 *   {"op":"u","before":{"id":1},"after":{"id":2,"note":null,"f":-0},
 *    "source":{"name":"finops-db","schema":"public","table":"t",
 *              "txid":7311,"seq":42,"batch":3},
 *    "ts_ms":1795000000000}
 *
 * op is "c" (insert), "u" (update), "d" (delete), "t" (truncate) or "ddl".
 * before is the old key (u, d), after the new row (c, u); otherwise null.
 * A "ddl" event carries a "ddl" object that the DDL source plugins define.
 * source.name is the change's origin: the instance where it was first
 * written, kept when a chain forwards it; txid is the source transaction
 * (64-bit, with epoch), seq the event's position in the source's queue
 * (commit order within a transaction), batch the batch's seq; an UPDATE
 * may carry source.stmt (see tp_change.stmt). ts_ms is the time of the
 * tick that closed the batch (there is no commit time).
 *
 * Column values in before and after are exactly as PostgreSQL's json type
 * renders them (numbers as numbers, with every digit and sign, -0 included;
 * NaN and Infinity as strings). Never pass them through a JSON library's
 * number type: jansson, for one, would round a numeric(40) or refuse it.
 * The host's change_next keeps them as text.
 *
 * A line may carry "values":"text" (after "after"): then every value in
 * before and after is the column's PostgreSQL text form (its output
 * function's, as `value::text` gives it) as a JSON string, and SQL NULL is
 * JSON null:
 *
 *   {"op":"c","before":null,"after":{"id":"1","a":"[0:1]={1,2}",
 *    "j":"null","x":null},"values":"text","source":{...},"ts_ms":...}
 *
 * A source captures a table this way when one of its columns is of a type
 * that the json rendering cannot carry exactly (json, jsonb, xml, arrays,
 * composites, and domains over them). Without the member (the usual case)
 * values are rendered as above; any other value of "values" is refused.
 * It is tp_change.text_values (ABI 1.1).
 *
 * A load batch (kind TP_BATCH_LOAD, "load" on the wire) is one step of an
 * initial load rather than change events. Its data is lines too, each
 * ending in '\n' (n_changes counts them); the first is an object
 * {"load":{...}} whose "step" says what the batch does:
 *
 *   {"load":{"id":7,"step":"begin","tables":[{"schema":"public","table":"a"},
 *            {"schema":"public","table":"b"}]}}
 *       empties the load's tables (one TRUNCATE of all of them); no more lines
 *   {"load":{"id":7,"step":"rows","schema":"public","table":"a",
 *            "columns":["id","v w"],"chunk":3}}
 *       then the rows, in COPY's text format exactly as `COPY (...) TO
 *       STDOUT` prints them in UTF-8 (a line per row, tab-separated, \N
 *       for NULL, backslash escapes), copied into those columns (never a
 *       generated one; GENERATED ALWAYS identity columns are written)
 *   {"load":{"id":7,"step":"end"}} and {"load":{"id":7,"step":"void"}}
 *       nothing to apply: end closes a load, void fills a seq that a load
 *       that died left unused
 *
 * A table is the one of that name in apply_schema (the source "schema"
 * maps onto apply_schema as for changes). A load's batches are partial
 * but the last, so that all of it, with the ordinary batches of schema
 * changes around it in the same chain, is applied in one transaction.
 * Members of "load" that a step does not read are ignored.
 *
 * On the wire (transports) a batch is its header line, a JSON object that
 * carries the fields of tp_batch below, followed by data; the host's
 * batch_header and batch_parse services produce and read that form, so
 * every transport speaks the same one.
 */
#ifndef TELEPORT_BATCH_H
#define TELEPORT_BATCH_H

#include <stdbool.h>

#include <teleport/abi.h>

/* Version of the wire form; a receiver refuses a version it does not know. */
#define TELEPORT_BATCH_FORMAT 1

typedef enum tp_batch_kind
{
	TP_BATCH_CHANGES = 1,		/* captured changes between two ticks */
	TP_BATCH_LOAD = 2			/* a chunk of an initial load */
} tp_batch_kind;

typedef struct tp_batch
{
	uint32_t	size;			/* sizeof(tp_batch) as its writer built it */
	uint32_t	format;			/* TELEPORT_BATCH_FORMAT */
	tp_batch_kind kind;
	const char *source;			/* the source instance (its database.name) */
	const char *target;			/* the target's name in the source config */
	uint64_t	seq;			/* 1, 2, 3 ... for one (source, target) */
	uint64_t	n_changes;		/* number of lines in data */
	uint64_t	first_tick;		/* the tick range the batch covers: */
	uint64_t	last_tick;		/* (first_tick, last_tick] */
	const char *apply_schema;	/* the schema the target applies into */
	const char *data;			/* change lines; not NUL-terminated */
	size_t		data_len;
	uint32_t	flags;			/* TP_BATCH_* below */
} tp_batch;

/*
 * More parts of the same source transaction follow in the next batches of
 * this (source, target): apply them all in one target transaction. A source
 * transaction larger than one batch is split into such parts.
 */
#define TP_BATCH_PARTIAL 0x1

/*
 * Sent while the batch before it may still be on its way (a sender with
 * several batches in flight): a receiver that has not got that one yet may
 * wait for it a little, rather than refuse this one as a gap. Never set on
 * the oldest batch a sender has not had acknowledged, so a real gap is
 * still reported at once. "follows" on the wire (absent: not set).
 */
#define TP_BATCH_FOLLOWS 0x2

typedef enum tp_change_op
{
	TP_CHANGE_INSERT = 1,		/* "c" */
	TP_CHANGE_UPDATE = 2,		/* "u" */
	TP_CHANGE_DELETE = 3,		/* "d" */
	TP_CHANGE_TRUNCATE = 4,		/* "t" */
	TP_CHANGE_DDL = 5			/* "ddl" */
} tp_change_op;

/*
 * One change, as the host's change_next service decodes it from a batch's
 * data. The host fills as much of it as the plugin's ABI minor knows of,
 * and sets size to that. The strings are owned by the cursor and stay valid until the next
 * call on the same cursor or change_cursor_done. before, after and ddl are
 * JSON text exactly as they stand in the line (values unconverted).
 */
typedef struct tp_change
{
	uint32_t	size;
	tp_change_op op;
	const char *origin;			/* source.name */
	const char *schema;			/* source.schema */
	const char *table;			/* source.table; NULL for some DDL */
	int64_t		txid;			/* source.txid */
	int64_t		seq;			/* source.seq: the event's queue position */
	int64_t		batch;			/* source.batch */
	int64_t		ts_ms;			/* tick time, ms since the epoch */
	const char *before;			/* JSON object text, or NULL */
	const char *after;			/* JSON object text, or NULL */
	const char *ddl;			/* JSON object text for TP_CHANGE_DDL, or NULL */
	const char *line;			/* the whole line, without its '\n' */
	size_t		line_len;
	/* ABI 1.1 (read these under TP_HAS_FIELD) */

	/* "values":"text" (see above) */
	bool		text_values;

	/*
	 * source.stmt: the statement of its source transaction that made the
	 * change, numbered from 1 in the order the statements ran; 0 when not
	 * known (a line without it). An UPDATE's old key ("before") names the
	 * row as it was before its statement: within one statement, a key
	 * that an earlier change of the same statement moved a row to still
	 * names the row that held it before the statement (a set-based
	 * `UPDATE t SET id = id + 1` on a deferrable key).
	 */
	int64_t		stmt;
} tp_change;

/* Where change_next is within a batch. Zero-fill it, then set size. */
typedef struct tp_change_cursor
{
	uint32_t	size;
	size_t		offset;			/* byte offset of the next line in data */
	uint64_t	index;			/* number of changes returned so far */
	void	   *state;			/* the host's; freed by change_cursor_done */
} tp_change_cursor;

#endif							/* TELEPORT_BATCH_H */
