/*
 * batch_lines.h
 *     The change lines of a batch (the envelope of teleport/batch.h), built
 *     in C from the event rows of the source's queue.
 *
 * Each line is exactly what the former SQL concatenation gave (so a batch
 * rebuilt after an upgrade is byte-identical): strings escaped as
 * PostgreSQL's to_json(text) escapes them, the stored json of before,
 * after and ddl embedded verbatim but for raw newlines, which can only be
 * whitespace between JSON tokens and become spaces.
 */
#ifndef TP_BATCH_LINES_H
#define TP_BATCH_LINES_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/*
 * The columns an event row must have, in order, for tp_lines_add (an SQL
 * select list over the queue's event alias "e").
 */
#define TP_LINES_COLUMNS \
	"e.id, e.op, e.before::pg_catalog.text, e.after::pg_catalog.text," \
	" e.ddl::pg_catalog.text, e.text_values, e.origin, e.schema_name," \
	" e.table_name, e.txid, e.stmt"

/* Lines being built; zero-fill, then tp_lines_add; free data. */
typedef struct tp_lines
{
	char	   *data;			/* NUL-terminated (or NULL when empty) */
	size_t		len;
	size_t		cap;
	int64_t		count;			/* lines */
} tp_lines;

/*
 * Append the line of row of res (TP_LINES_COLUMNS) to lines: origin
 * defaults to source (the instance's name), batch is the batch's seq and
 * ts_ms its tick time (both as decimal text).
 */
void		tp_lines_add(tp_lines *lines, const PGresult *res, int row,
						 const char *source, const char *batch,
						 const char *ts_ms);

/*
 * Make room in lines for n more bytes (the expected size of the lines to
 * come), so that adding them seldom grows its buffer. Room never touched
 * costs address space, not memory.
 */
void		tp_lines_reserve(tp_lines *lines, size_t n);

/*
 * Append s[0, n) to lines as it is (not a line: count stays), e.g. a
 * header ahead of the lines in the same buffer.
 */
void		tp_lines_append(tp_lines *lines, const char *s, size_t n);

/*
 * Append s as a JSON string to lines, escaped exactly as PostgreSQL's
 * to_json(text) does (\" \\ \b \f \n \r \t, other control characters as
 * \u00xx, the rest byte for byte).
 */
void		tp_lines_json_string(tp_lines *lines, const char *s);

#endif							/* TP_BATCH_LINES_H */
