/*
 * load_copy.c
 *     The copy jobs of an initial load; see load_copy.h.
 *
 * Every job opens a REPEATABLE READ transaction on the snapshot the load
 * exported, so that all of them read the database as of one moment, and
 * takes parts in turn. A part is read with one COPY (SELECT columns FROM
 * ONLY table [WHERE ctid in a block range]) TO STDOUT in text format (a
 * large table is split into at most one block range per job, each read
 * by a sequential scan: see job_main);
 * rows accumulate in the job's buffer behind the chunk's header line and
 * are sent as a load batch when it holds chunk_bytes. A row is never
 * split, and a chunk holds rows of one table. Memory: one buffer of about
 * chunk_bytes per job (plus the row at hand).
 *
 * A table that references another by a foreign key waits until all of
 * that one is sent: the target applies the chunks in the order they are
 * sent, and a table of its own may check every row as it is copied in.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "load_copy.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

#define COMPONENT "load"

/* One job's state. */
typedef struct job
{
	tp_load_copy *lc;
	int			nr;
	pthread_t	thread;
	bool		started;
	tp_pgsql	pg;
	tp_strbuf	buf;			/* header line, then rows */
	size_t		header_len;
	uint64_t	lines;			/* in buf, the header's included */
	int64_t		rows;			/* rows in buf */
	const tp_load_table *t;		/* the table of the part at hand */
	size_t		table;
	int64_t		part_bytes;		/* COPY text of the part at hand, sent */
} job;

/* Pages copied before their text size per page stands for the others'. */
#define MEASURED_PAGES_MIN 256

/*
 * The number of parts of table t: block ranges when it is over
 * split_bytes, at most one per job. Each part is read by a sequential
 * scan that filters on its block range (see job_main), so every part
 * costs a visit of every page: more parts than jobs would only repeat
 * those visits.
 */
static int64_t
parts_of(const tp_load_table *t, int jobs, int64_t split_bytes)
{
	int64_t		k = 1;

	if (jobs > 1 && split_bytes > 0 && t->est_bytes > split_bytes && t->blocks > 1)
		k = (t->est_bytes + split_bytes - 1) / split_bytes;
	if (k > jobs)
		k = jobs;
	if (k > t->blocks)
		k = t->blocks > 0 ? t->blocks : 1;
	return k;
}

/*
 * The level of each table of lc (as listed) in the graph of its foreign
 * keys: 0 when it references no other table, else one more than the
 * highest of those it references. Tables on a cycle, or referencing one,
 * get none (-1). A new array.
 */
static int *
fk_levels(const tp_load_copy *lc)
{
	size_t		n = lc->n_tables;
	int		   *level = tp_xcalloc(n > 0 ? n : 1, sizeof(int));
	size_t	   *refs = tp_xcalloc(n > 0 ? n : 1, sizeof(size_t));	/* not yet leveled */
	size_t	   *queue = tp_xcalloc(n > 0 ? n : 1, sizeof(size_t));
	size_t		head = 0;
	size_t		tail = 0;

	/* Kahn's algorithm, from the tables that reference nothing */
	for (size_t e = 0; e < lc->n_fks; e++)
		refs[lc->fks[e].from]++;
	for (size_t i = 0; i < n; i++)
	{
		level[i] = -1;
		if (refs[i] == 0)
		{
			level[i] = 0;
			queue[tail++] = i;
		}
	}
	while (head < tail)
	{
		size_t		to = queue[head++];

		for (size_t e = 0; e < lc->n_fks; e++)
		{
			size_t		from = lc->fks[e].from;

			if (lc->fks[e].to != to)
				continue;
			if (level[from] < level[to] + 1)
				level[from] = level[to] + 1;
			if (--refs[from] == 0)
				queue[tail++] = from;
		}
	}
	for (size_t i = 0; i < n; i++)
	{
		if (refs[i] > 0)
			level[i] = -1;
	}
	free(refs);
	free(queue);
	return level;
}

/* See load_copy.h. */
void
tp_load_copy_plan(tp_load_copy *lc, int jobs, int64_t split_bytes)
{
	size_t		n = lc->n_tables;
	int		   *level = fk_levels(lc);
	size_t	   *order = tp_xcalloc(n > 0 ? n : 1, sizeof(size_t));
	size_t	   *index_of = tp_xcalloc(n > 0 ? n : 1, sizeof(size_t));
	tp_load_table *sorted = tp_xcalloc(n > 0 ? n : 1, sizeof(tp_load_table));
	size_t		parts = 0;

	/*
	 * Referenced tables first (a table on a cycle after every other one),
	 * then the largest first, so that the last parts to end are small
	 * ones.
	 */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 0; i < n; i++)
	{
		for (size_t j = i + 1; j < n; j++)
		{
			size_t		a = order[i];
			size_t		b = order[j];
			unsigned	la = (unsigned) level[a];	/* -1: the highest */
			unsigned	lb = (unsigned) level[b];

			if (lb < la || (lb == la && lc->tables[b].est_bytes > lc->tables[a].est_bytes))
			{
				order[i] = b;
				order[j] = a;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
	{
		sorted[i] = lc->tables[order[i]];
		index_of[order[i]] = i;
	}

	/* a table waits for those it references, but on a cycle */
	for (size_t e = 0; e < lc->n_fks; e++)
	{
		tp_load_table *t = &sorted[index_of[lc->fks[e].from]];

		if (level[lc->fks[e].from] < 0 || level[lc->fks[e].to] < 0)
			continue;
		t->after = tp_xrealloc(t->after, (t->n_after + 1) * sizeof(size_t));
		t->after[t->n_after++] = index_of[lc->fks[e].to];
	}
	free(lc->tables);
	lc->tables = sorted;
	free(lc->fks);
	lc->fks = NULL;
	lc->n_fks = 0;
	free(level);
	free(order);
	free(index_of);

	for (size_t i = 0; i < n; i++)
		parts += (size_t) parts_of(&lc->tables[i], jobs, split_bytes);
	lc->parts = tp_xcalloc(parts > 0 ? parts : 1, sizeof(tp_load_part));
	lc->n_parts = 0;
	for (size_t i = 0; i < n; i++)
	{
		tp_load_table *t = &lc->tables[i];
		int64_t		k = parts_of(t, jobs, split_bytes);

		t->parts_left = (int) k;
		for (int64_t p = 0; p < k; p++)
		{
			tp_load_part *part = &lc->parts[lc->n_parts++];

			part->table = i;
			part->from = k == 1 ? -1 : t->blocks * p / k;
			/* the last part runs to the end: pages added since hold no row it sees */
			part->to = p + 1 == k ? -1 : t->blocks * (p + 1) / k;
		}
	}
}

/* Start a chunk of the table at hand in j's buffer: its header line. */
static void
chunk_start(job *j)
{
	tp_load_copy *lc = j->lc;
	int64_t		nr;
	char		head[128];

	pthread_mutex_lock(&lc->lock);
	nr = ++lc->next_chunk;
	pthread_mutex_unlock(&lc->lock);
	j->buf.len = 0;
	snprintf(head, sizeof(head), "{\"load\":{\"id\":%" PRId64 ",\"step\":\"rows\",",
			 lc->load_id);
	tp_strbuf_add(&j->buf, head, strlen(head));
	tp_strbuf_add(&j->buf, j->t->members_json, strlen(j->t->members_json));
	snprintf(head, sizeof(head), ",\"chunk\":%" PRId64 "}}\n", nr);
	tp_strbuf_add(&j->buf, head, strlen(head));
	j->header_len = j->buf.len;
	j->lines = 1;
	j->rows = 0;
}

/* Send j's chunk when it holds rows; count them as t's. */
static bool
chunk_send(job *j)
{
	tp_load_copy *lc = j->lc;
	tp_load_table *t = &lc->tables[j->table];
	size_t		bytes = j->buf.len - j->header_len;

	if (j->rows == 0)
		return true;
	if (!tp_load_send(lc->sender, TP_BATCH_LOAD, j->buf.data, j->buf.len, j->lines, false,
					  true))
		return false;
	pthread_mutex_lock(&lc->lock);
	t->rows += j->rows;
	t->bytes += (int64_t) bytes;
	t->chunks++;
	lc->rows += j->rows;
	lc->bytes += (int64_t) bytes;
	j->part_bytes += (int64_t) bytes;
	if (lc->progress != NULL)
		lc->progress(lc->progress_arg, t, false);
	pthread_mutex_unlock(&lc->lock);
	chunk_start(j);
	return true;
}

/* COPY row callback: into the chunk; a full chunk is sent first. */
static bool
copy_row(void *arg, const char *row, size_t len)
{
	job		   *j = arg;

	if (j->rows > 0 && j->buf.len + len > j->lc->chunk_bytes)
	{
		if (!chunk_send(j))
			return false;
	}
	if (j->lc->failed || tp_host_stop_requested())
		return false;
	tp_strbuf_add(&j->buf, row, len);
	j->lines++;
	j->rows++;
	return true;
}

/* Copy one part in j's transaction. */
static bool
copy_part(job *j, const tp_load_part *part)
{
	tp_load_copy *lc = j->lc;
	char	   *qs = PQescapeIdentifier(j->pg.conn, lc->tables[part->table].schema,
										strlen(lc->tables[part->table].schema));
	char	   *qt = PQescapeIdentifier(j->pg.conn, lc->tables[part->table].name,
										strlen(lc->tables[part->table].name));
	char	   *sql;
	char		range[160] = "";
	size_t		len;
	bool		ok;

	if (qs == NULL || qt == NULL)
	{
		tp_error(COMPONENT, "out of memory");
		PQfreemem(qs);
		PQfreemem(qt);
		return false;
	}
	if (part->from >= 0 && part->to >= 0)
		snprintf(range, sizeof(range), " WHERE ctid >= '(%" PRId64 ",0)'::tid"
				 " AND ctid < '(%" PRId64 ",0)'::tid", part->from, part->to);
	else if (part->from >= 0)
		snprintf(range, sizeof(range), " WHERE ctid >= '(%" PRId64 ",0)'::tid", part->from);
	len = strlen(lc->tables[part->table].select_list) + strlen(qs) + strlen(qt) +
		strlen(range) + 64;
	sql = tp_xmalloc(len);
	snprintf(sql, len, "COPY (SELECT %s FROM ONLY %s.%s%s) TO STDOUT",
			 lc->tables[part->table].select_list, qs, qt, range);
	PQfreemem(qs);
	PQfreemem(qt);
	j->t = &lc->tables[part->table];
	j->table = part->table;
	pthread_mutex_lock(&lc->lock);
	if (!lc->tables[part->table].started)
	{
		lc->tables[part->table].started = true;
		if (lc->progress != NULL)
			lc->progress(lc->progress_arg, &lc->tables[part->table], false);
	}
	pthread_mutex_unlock(&lc->lock);
	j->part_bytes = 0;
	chunk_start(j);
	ok = tp_pgsql_copy_out(&j->pg, sql, copy_row, j) && chunk_send(j);
	free(sql);
	if (ok)
	{
		tp_load_table *t = &lc->tables[part->table];
		int64_t		from = part->from > 0 ? part->from : 0;
		int64_t		to = part->to >= 0 && part->to < t->blocks ? part->to : t->blocks;

		pthread_mutex_lock(&lc->lock);
		if (to > from)
		{
			lc->measured_pages += to - from;
			lc->measured_bytes += j->part_bytes;
		}
		if (--t->parts_left == 0)
		{
			t->done = true;
			if (lc->progress != NULL)
				lc->progress(lc->progress_arg, t, true);
			pthread_cond_broadcast(&lc->changed);
		}
		pthread_mutex_unlock(&lc->lock);
	}
	return ok;
}

/* Whether every table that table i waits for is sent (under the lock). */
static bool
ready(const tp_load_copy *lc, size_t i)
{
	const tp_load_table *t = &lc->tables[i];

	for (size_t k = 0; k < t->n_after; k++)
	{
		if (!lc->tables[t->after[k]].done)
			return false;
	}
	return true;
}

/*
 * The next part to copy, in order among those whose table may be sent
 * now; waits while the parts left wait for tables still being sent. NULL
 * when none is left, the copy failed or a stop was requested.
 */
static tp_load_part *
take_part(tp_load_copy *lc)
{
	tp_load_part *part = NULL;

	pthread_mutex_lock(&lc->lock);
	while (part == NULL && !lc->failed && !tp_host_stop_requested() &&
		   lc->next_part < lc->n_parts)
	{
		for (size_t i = lc->next_part; i < lc->n_parts && part == NULL; i++)
		{
			if (!lc->parts[i].taken && ready(lc, lc->parts[i].table))
				part = &lc->parts[i];
		}
		if (part == NULL)
		{
			struct timespec until;

			/* woken when a table is sent; a stop is noticed within 100 ms */
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 100000000L;
			if (until.tv_nsec >= 1000000000L)
			{
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&lc->changed, &lc->lock, &until);
		}
	}
	if (part != NULL)
	{
		part->taken = true;
		lc->parts_taken++;
		while (lc->next_part < lc->n_parts && lc->parts[lc->next_part].taken)
			lc->next_part++;
	}
	pthread_mutex_unlock(&lc->lock);
	return part;
}

/* A job's thread: join the snapshot, copy parts until none is left. */
static void *
job_main(void *arg)
{
	job		   *j = arg;
	tp_load_copy *lc = j->lc;
	char		purpose[64];
	char		set_snapshot[128];
	const tp_load_part *part;
	bool		ok;

	snprintf(purpose, sizeof(purpose), "copy job %d of the initial load", j->nr);
	snprintf(set_snapshot, sizeof(set_snapshot), "SET TRANSACTION SNAPSHOT '%s'",
			 lc->snapshot);
	/*
	 * A part's block range is read by a sequential scan that skips the
	 * rows outside it, not by a TID range scan: a sequential scan of a
	 * large table reads through a small ring of buffers and joins a
	 * concurrent scan of the same table (synchronize_seqscans), where a
	 * TID range scan takes its pages into shared_buffers, evicting others
	 * page by page. Two jobs reading the halves of pgbench_accounts (640
	 * MB, shared_buffers 256 MB) took 9 s of the server's CPU by TID
	 * range and 3.6 s by sequential scans, against 3.1 to 3.5 s for one
	 * scan of the whole table (docs/performance.md, "Initial load").
	 */
	ok = tp_pgsql_connect(&j->pg, lc->conninfo, purpose) &&
		tp_pgsql_pin_session(&j->pg) &&
		tp_pgsql_exec(&j->pg, "SET client_encoding TO 'UTF8'") &&
		tp_pgsql_exec(&j->pg, "SET enable_tidscan TO off") &&
		tp_pgsql_exec(&j->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") &&
		tp_pgsql_exec(&j->pg, set_snapshot);
	while (ok && (part = take_part(lc)) != NULL)
		ok = copy_part(j, part);
	if (!ok)
	{
		pthread_mutex_lock(&lc->lock);
		lc->failed = true;
		pthread_cond_broadcast(&lc->changed);
		pthread_mutex_unlock(&lc->lock);
	}
	tp_pgsql_close(&j->pg);
	free(j->buf.data);
	memset(&j->buf, 0, sizeof(j->buf));
	return NULL;
}

/* See load_copy.h. */
bool
tp_load_copy_run(tp_load_copy *lc, int jobs)
{
	job		   *js;
	int			n = jobs > 0 ? jobs : 1;

	if ((size_t) n > lc->n_parts)
		n = lc->n_parts > 0 ? (int) lc->n_parts : 1;
	js = tp_xcalloc((size_t) n, sizeof(job));
	pthread_mutex_init(&lc->lock, NULL);
	pthread_cond_init(&lc->changed, NULL);
	lc->failed = false;
	lc->next_part = 0;
	lc->parts_taken = 0;
	for (int i = 0; i < n; i++)
	{
		int			rc;

		js[i].lc = lc;
		js[i].nr = i + 1;
		rc = pthread_create(&js[i].thread, NULL, job_main, &js[i]);
		if (rc != 0)
		{
			tp_error(COMPONENT, "could not start copy job %d: %s", i + 1, strerror(rc));
			pthread_mutex_lock(&lc->lock);
			lc->failed = true;
			pthread_cond_broadcast(&lc->changed);
			pthread_mutex_unlock(&lc->lock);
			break;
		}
		js[i].started = true;
	}
	for (int i = 0; i < n; i++)
	{
		if (js[i].started)
			pthread_join(js[i].thread, NULL);
	}
	free(js);
	pthread_cond_destroy(&lc->changed);
	pthread_mutex_destroy(&lc->lock);
	return !lc->failed && lc->parts_taken == lc->n_parts;
}

/* See load_copy.h. */
int64_t
tp_load_copy_expected_bytes(const tp_load_copy *lc)
{
	int64_t		total = 0;
	bool		measured = lc->measured_pages >= MEASURED_PAGES_MIN;

	for (size_t i = 0; i < lc->n_tables; i++)
	{
		const tp_load_table *t = &lc->tables[i];
		int64_t		expected = measured
			? (int64_t) ((double) t->blocks * (double) lc->measured_bytes /
						 (double) lc->measured_pages)
			: t->est_bytes;

		total += t->done || t->bytes > expected ? t->bytes : expected;
	}
	return total;
}
