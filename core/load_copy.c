/*
 * load_copy.c
 *     The copy jobs of an initial load; see load_copy.h.
 *
 * Every job opens a REPEATABLE READ transaction on the snapshot the load
 * exported, so that all of them read the database as of one moment, and
 * takes parts in turn. A part is read with one COPY (SELECT columns FROM
 * ONLY table [WHERE ctid in a block range]) TO STDOUT in text format;
 * rows accumulate in the job's buffer behind the chunk's header line and
 * are sent as a load batch when it holds chunk_bytes. A row is never
 * split, and a chunk holds rows of one table. Memory: one buffer of about
 * chunk_bytes per job (plus the row at hand).
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} job;

/* See load_copy.h. */
void
tp_load_copy_plan(tp_load_copy *lc, int jobs, int64_t split_bytes)
{
	size_t		n = 0;

	/* largest first, so that the last parts to end are small ones */
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		for (size_t j = i + 1; j < lc->n_tables; j++)
		{
			if (lc->tables[j].est_bytes > lc->tables[i].est_bytes)
			{
				tp_load_table tmp = lc->tables[i];

				lc->tables[i] = lc->tables[j];
				lc->tables[j] = tmp;
			}
		}
	}
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		const tp_load_table *t = &lc->tables[i];
		int64_t		k = 1;

		if (jobs > 1 && split_bytes > 0 && t->est_bytes > split_bytes && t->blocks > 1)
			k = (t->est_bytes + split_bytes - 1) / split_bytes;
		if (k > t->blocks)
			k = t->blocks > 0 ? t->blocks : 1;
		n += (size_t) k;
	}
	lc->parts = tp_xcalloc(n > 0 ? n : 1, sizeof(tp_load_part));
	lc->n_parts = 0;
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		tp_load_table *t = &lc->tables[i];
		int64_t		k = 1;

		if (jobs > 1 && split_bytes > 0 && t->est_bytes > split_bytes && t->blocks > 1)
			k = (t->est_bytes + split_bytes - 1) / split_bytes;
		if (k > t->blocks)
			k = t->blocks > 0 ? t->blocks : 1;
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
	if (!tp_load_send(lc->sender, TP_BATCH_LOAD, j->buf.data, j->buf.len, j->lines, true))
		return false;
	pthread_mutex_lock(&lc->lock);
	t->rows += j->rows;
	t->bytes += (int64_t) bytes;
	t->chunks++;
	lc->rows += j->rows;
	lc->bytes += (int64_t) bytes;
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
	chunk_start(j);
	ok = tp_pgsql_copy_out(&j->pg, sql, copy_row, j) && chunk_send(j);
	free(sql);
	if (ok)
	{
		tp_load_table *t = &lc->tables[part->table];

		pthread_mutex_lock(&lc->lock);
		if (--t->parts_left == 0)
		{
			t->done = true;
			if (lc->progress != NULL)
				lc->progress(lc->progress_arg, t, true);
		}
		pthread_mutex_unlock(&lc->lock);
	}
	return ok;
}

/* The next part to copy, or NULL when none is left or the copy failed. */
static const tp_load_part *
take_part(tp_load_copy *lc)
{
	const tp_load_part *part = NULL;

	pthread_mutex_lock(&lc->lock);
	if (!lc->failed && lc->next_part < lc->n_parts)
		part = &lc->parts[lc->next_part++];
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
	ok = tp_pgsql_connect(&j->pg, lc->conninfo, purpose) &&
		tp_pgsql_pin_session(&j->pg) &&
		tp_pgsql_exec(&j->pg, "SET client_encoding TO 'UTF8'") &&
		tp_pgsql_exec(&j->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") &&
		tp_pgsql_exec(&j->pg, set_snapshot);
	while (ok && (part = take_part(lc)) != NULL)
		ok = copy_part(j, part);
	if (!ok)
	{
		pthread_mutex_lock(&lc->lock);
		lc->failed = true;
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
	lc->failed = false;
	lc->next_part = 0;
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
	pthread_mutex_destroy(&lc->lock);
	return !lc->failed && lc->next_part == lc->n_parts;
}
