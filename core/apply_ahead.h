/*
 * apply_ahead.h
 *     Schema changes applied ahead of a held unit: the seed's promise for
 *     schema diffing.
 *
 * A schema-diff source sees a change only at its next poll, so rows
 * written after, say, an ADD COLUMN and before that poll are queued before
 * the change, and the target cannot take them. When a unit fails, the
 * apply loop looks in the later batches already stored for the same stream
 * for DDL changes of the tables (and schemas) the unit writes (and in the
 * batch that failed, for those that come after rows of their table there:
 * a poll may queue a change after rows captured in its new shape); the
 * first batch that has some gets those DDL changes applied at once, in a
 * transaction of their own that also records them in teleport.inbox_ahead
 * (source, target, seq, change_seq); the unit is then tried again (and
 * when those came from the failed batch itself and the unit fails the
 * same way, the next batch with changes of its tables is tried too). When
 * that batch's turn comes, the changes recorded there are left out of it,
 * so nothing is applied twice; the records go with the batch.
 */
#ifndef TP_APPLY_AHEAD_H
#define TP_APPLY_AHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <teleport/teleport.h>

#include "pgsql.h"

/* A set of names: "schema\ttable" (or "schema\t"), each owned. */
typedef struct tp_name_set
{
	char	  **names;
	size_t		n;
} tp_name_set;

/*
 * The tables a later load empties (tp_ahead_find_load): begin_seq is the
 * batch of its "begin" step (0: none stored), tables their source names.
 */
typedef struct tp_ahead_loaded
{
	uint64_t	begin_seq;
	tp_name_set tables;
} tp_ahead_loaded;

/*
 * Apply batch inside the open transaction of the connection given to
 * tp_ahead_try; TP_OK, or the failure with its reason in reason.
 */
typedef tp_result (*tp_ahead_apply_fn) (void *arg, const tp_batch *batch,
										char *reason, size_t len);

/*
 * The unit of source -> target from batch first failed at batch end:
 * apply the DDL changes of its tables found first in a later stored batch,
 * or in batch end after rows of their table, if any (see the file's
 * header), through apply in a transaction of its own.
 * *applied says whether some were (then try the unit again), and *from
 * which batch they came from. False after
 * logging when the inbox could not be read or the changes could not be
 * applied (nothing is recorded then; the caller holds the unit as
 * before). pg must be idle.
 */
bool		tp_ahead_try(tp_pgsql *pg, const char *source, const char *target,
						 uint64_t first, uint64_t end, tp_ahead_apply_fn apply,
						 void *arg, bool *applied, uint64_t *from);

/*
 * The highest seq of source -> target with changes applied ahead, 0 when
 * none (*max). False after logging when the query failed.
 */
bool		tp_ahead_max(tp_pgsql *pg, const char *source, const char *target,
						 uint64_t *max);

/*
 * batch without the changes applied ahead of it: *out is batch itself when
 * there are none, else a copy whose data (in *data, the caller frees) lacks
 * their lines. False after logging when the query failed or a line could
 * not be read.
 */
bool		tp_ahead_filter(tp_pgsql *pg, const tp_batch *batch, tp_batch *out,
							char **data);

/*
 * Forget the records of source -> target up to batch upto, in the open
 * transaction (that applies those batches). False when the query failed.
 */
bool		tp_ahead_forget(tp_pgsql *pg, const char *source, const char *target,
							uint64_t upto);

/*
 * Rows superseded by a load. Every batch of changes numbered before a
 * load's "begin" was cut before that load took its target, so every
 * transaction in it is in the load's snapshot: the begin empties the
 * load's tables and their rows come again as the snapshot saw them. A
 * row change of such a table before the begin can be left out; a unit
 * that fails on one (its table does not exist yet on a new target, say)
 * is applied without them instead of holding the load behind it. Schema
 * changes are never left out (the load's schema part may need them).
 */

/*
 * The first load "begin" of source -> target stored after batch after,
 * and its tables (*loaded, begin_seq 0 when there is none; free it with
 * tp_ahead_loaded_free). False after logging when the inbox could not be
 * read.
 */
bool		tp_ahead_find_load(tp_pgsql *pg, const char *source, const char *target,
							   uint64_t after, tp_ahead_loaded *loaded);

/*
 * batch without the row changes of loaded's tables when it comes before
 * loaded's begin: *out is batch itself when none are left out, else a copy
 * whose data (in *data, the caller frees) lacks them; *left_out counts
 * them. False after logging when a line could not be read.
 */
bool		tp_ahead_leave_loaded(const tp_batch *batch, const tp_ahead_loaded *loaded,
								  tp_batch *out, char **data, uint64_t *left_out);

/* Free what loaded holds; it is empty afterwards. */
void		tp_ahead_loaded_free(tp_ahead_loaded *loaded);

#endif							/* TP_APPLY_AHEAD_H */
