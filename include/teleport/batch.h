/*
 * teleport/batch.h
 *     The batch and change-event model that plugins see.
 *
 * A batch is the unit that travels from a source instance to a target
 * instance and is applied there in one transaction. It is identified by
 * (source, target, seq); seq starts at 1 and has no gaps for one pair.
 *
 * Its changes travel as "data": UTF-8 text, one JSON object per line, each
 * line ending in '\n', in source commit order. A change line looks like
 *
 *   {"id":42,"txid":7311,"op":"UPDATE","schema":"public","table":"t",
 *    "key":{"id":"1"},"row":{"id":"2","note":null}}
 *
 * Row images ("key", "row") are JSON objects that map a column name to the
 * column's text representation as PostgreSQL printed it (a JSON string), or
 * to null. Values are never JSON numbers: a JSON library must not be able to
 * round them. A DDL event has op "DDL" and a "ddl" member (an object that the
 * DDL source plugins define). A TRUNCATE has neither key nor row.
 *
 * On the wire (transports) a batch is its header line, a JSON object that
 * carries the fields of tp_batch below, followed by data; the host's
 * batch_header and batch_parse services produce and read that form, so
 * every transport speaks the same one.
 */
#ifndef TELEPORT_BATCH_H
#define TELEPORT_BATCH_H

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
} tp_batch;

typedef enum tp_change_op
{
	TP_CHANGE_INSERT = 1,
	TP_CHANGE_UPDATE = 2,
	TP_CHANGE_DELETE = 3,
	TP_CHANGE_TRUNCATE = 4,
	TP_CHANGE_DDL = 5
} tp_change_op;

/*
 * One change, as the host's change_next service decodes it from a batch's
 * data. The strings are owned by the cursor and stay valid until the next
 * call on the same cursor or change_cursor_done.
 */
typedef struct tp_change
{
	uint32_t	size;
	tp_change_op op;
	int64_t		id;				/* event id: commit order within a txid */
	int64_t		txid;			/* source transaction (64-bit, with epoch) */
	const char *schema;
	const char *table;
	const char *key;			/* JSON object text, or NULL */
	const char *row;			/* JSON object text, or NULL */
	const char *ddl;			/* JSON object text for TP_CHANGE_DDL, or NULL */
	const char *line;			/* the whole line, without its '\n' */
	size_t		line_len;
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
