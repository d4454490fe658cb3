/*
 * load_copy.h
 *     The copy jobs of an initial load: each reads tables, or block ranges
 *     of a large table, with COPY ... TO STDOUT in the load's snapshot and
 *     sends the rows as load batches of about chunk_bytes; a table that
 *     references another by a foreign key is sent after all of it.
 */
#ifndef TP_LOAD_COPY_H
#define TP_LOAD_COPY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "load_send.h"

/* A table to copy, and its progress (under the copy's lock). */
typedef struct tp_load_table
{
	char	   *schema;
	char	   *name;
	unsigned int oid;			/* its pg_class OID on the source */
	char	   *members_json;	/* "schema":..,"table":..,"columns":[..] (JSON
								 * members: its chunks' header names the
								 * columns copied, in order) */
	char	   *select_list;	/* "a", "b": the same, quoted for SQL */
	int64_t		est_bytes;		/* its size on disk at the snapshot */
	int64_t		blocks;			/* its pages at the snapshot */
	size_t	   *after;			/* tables to send before it (indexes; set
								 * by tp_load_copy_plan) */
	size_t		n_after;
	int			parts_left;		/* parts not yet copied */
	int64_t		rows;
	int64_t		bytes;			/* COPY text sent */
	int			chunks;
	bool		started;
	bool		done;
} tp_load_table;

/* A part of a table: its pages [from, to); to < 0: to the end. */
typedef struct tp_load_part
{
	size_t		table;
	int64_t		from;
	int64_t		to;
	bool		taken;			/* by a job (under the copy's lock) */
} tp_load_part;

/*
 * What a table's progress change is reported to (under the copy's lock):
 * arg, the table, whether it just finished.
 */
typedef void (*tp_load_progress_fn) (void *arg, const tp_load_table *t, bool finished);

/* A foreign key between two tables of the copy: from references to. */
typedef struct tp_load_fk
{
	size_t		from;
	size_t		to;
} tp_load_fk;

typedef struct tp_load_copy
{
	const char *conninfo;
	const char *snapshot;		/* pg_export_snapshot()'s name */
	int64_t		load_id;
	tp_load_table *tables;
	size_t		n_tables;
	tp_load_fk *fks;			/* between tables (indexes, as listed) */
	size_t		n_fks;
	tp_load_part *parts;		/* in the order jobs take them */
	size_t		n_parts;
	size_t		chunk_bytes;
	tp_load_sender *sender;
	tp_load_progress_fn progress;
	void	   *progress_arg;

	/* shared by the jobs */
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* a table was sent whole, or a job failed */
	size_t		next_part;		/* the parts before it are taken */
	size_t		parts_taken;
	int64_t		next_chunk;		/* numbers the chunks of the load */
	int64_t		rows;			/* of every table */
	int64_t		bytes;
	int64_t		measured_pages;	/* of the parts copied ... */
	int64_t		measured_bytes; /* ... and their COPY text */
	bool		failed;			/* a job failed: the others stop */
} tp_load_copy;

/*
 * Order the tables of lc and split them into parts (a table over
 * split_bytes into block ranges of about that size, when jobs > 1): the
 * tables that others reference by a foreign key (lc->fks) before these,
 * as far as the references do not form a cycle, then the largest first.
 * Each table's "after" lists the tables whose rows must all be sent
 * before any of its own (so that a target that checks its foreign keys
 * row by row never meets a row before the one it references); the order
 * of tables changes, lc->fks is consumed.
 */
void		tp_load_copy_plan(tp_load_copy *lc, int jobs, int64_t split_bytes);

/*
 * Run jobs threads (at least one) that copy every part, a table's once
 * the tables of its "after" are sent; returns when all ended. False after
 * logging when any part could not be copied or sent, or a stop was
 * requested.
 */
bool		tp_load_copy_run(tp_load_copy *lc, int jobs);

/*
 * The COPY text the load will have sent in all, as best known now: what
 * the tables copied sent, and for the others their pages times the text
 * per page of the parts copied so far (their size on disk until enough
 * is copied). Call under lc->lock (the progress function is).
 */
int64_t		tp_load_copy_expected_bytes(const tp_load_copy *lc);

#endif							/* TP_LOAD_COPY_H */
