/*
 * batch_wire.h
 *     A batch's wire form (header line + change lines) and the decoding of
 *     its change lines; the core of the host's batch services.
 */
#ifndef TP_BATCH_WIRE_H
#define TP_BATCH_WIRE_H

#include <teleport/batch.h>

/*
 * The header line of batch's wire form, ending in '\n': a JSON object with
 * "teleport_batch" (TELEPORT_BATCH_FORMAT), "kind" ("changes" or "load"),
 * "source", "target", "seq", "changes", "first_tick", "last_tick",
 * "apply_schema" and "data_bytes". Returns a new string owned by the caller
 * (free), or NULL after logging when batch is not valid (no source, target
 * or apply_schema, seq 0, counts beyond int64).
 */
char	   *tp_batch_header(const tp_batch *batch);

/*
 * Parse a wire form: a header line then exactly data_bytes of change lines
 * ("changes" lines, each a JSON object ending in '\n'). Anything else
 * (truncated, trailing bytes, unknown format version, a missing or
 * mistyped field, a line count that disagrees) is TP_ERROR with a one
 * sentence reason; nothing is logged. On TP_OK *batch is new and owns a
 * copy of everything it points to (tp_batch_free).
 */
tp_result	tp_batch_parse(const char *buf, size_t len, tp_batch **batch,
						   char *reason, size_t reason_len);

/*
 * tp_batch_parse without the copy of the data: *batch owns its struct and
 * strings, and its data points into buf, which must end in a NUL (buf[len]
 * == '\0') and stay unchanged until the batch is freed (tp_batch_free).
 */
tp_result	tp_batch_parse_borrowed(const char *buf, size_t len, tp_batch **batch,
									char *reason, size_t reason_len);

void		tp_batch_free(tp_batch *batch);

/*
 * Decode the next change line of batch: the envelope of teleport/batch.h,
 * checked completely as JSON (RFC 8259, strict UTF-8, nesting limited,
 * duplicate member names refused in the line, its "source", "before",
 * "after" and "ddl") without converting any value. Required: "op" (c, u,
 * d, t or ddl), "source" with string "name" and "schema" and non-negative
 * integers "txid", "seq" and "batch", integer "ts_ms", and string
 * "source.table" except for ddl; "before" (an object) for u and d, "after"
 * for c and u, each null or absent otherwise; a "ddl" object exactly for
 * ddl. Unknown members of the line or of "source" are ignored. before,
 * after and ddl are returned as their exact bytes, so a numeric(40) or -0
 * survives. TP_OK with change filled, TP_OK with change->size == 0 at the
 * end, TP_ERROR with a one-sentence reason for a malformed line or a line
 * count that disagrees with batch->n_changes.
 */
tp_result	tp_change_next(const tp_batch *batch, tp_change_cursor *cursor,
						   tp_change *change, char *reason, size_t reason_len);

/* Release what the cursor holds. */
void		tp_change_cursor_done(tp_change_cursor *cursor);

#endif							/* TP_BATCH_WIRE_H */
