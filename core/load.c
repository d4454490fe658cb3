/*
 * load.c
 *     The initial load of one target: its tables' existing rows, read in
 *     one snapshot aligned with the target's stream, sent as batches of
 *     that stream through the target's transport.
 *
 * The steps (docs/architecture.md, "Initial load", has the reasoning):
 *
 *  1. Take the target (teleport.target.loading, under its row lock): the
 *     daemon cuts no batch for it meanwhile. A load whose process is gone
 *     is marked failed and its numbers are filled below.
 *  2. Send the target's batches numbered before the load (as the daemon
 *     does; the receiver drops what it has), so that the load's batches
 *     follow them.
 *  3. Taking an interrupted load over: fill the numbers it took after the
 *     last it delivered with empty "void" batches; the tables its chain
 *     sent whole are kept (choose_tables), and the schema part is the
 *     difference from what the chain sent (teleport.load_schema).
 *  4. List the target's tables, lock them ACCESS SHARE in a REPEATABLE READ
 *     transaction, bring the schema capture's snapshot up to date, then
 *     fix the snapshot and export it. Every transaction it sees is in the
 *     copy; from the load's first number on, the queue leaves their events
 *     out of the target's batches (the rows of the loaded tables and every
 *     schema change: teleport.load.skip, queue.c). The later ones come
 *     through the stream after the load.
 *  5. Send the load as one chain of batches (each a unit the target
 *     commits on its own, or with load_in_one_transaction all partial but
 *     the last, so that it applies the chain at one commit): the schema
 *     as that snapshot saw it (creations, from the schema capture's snapshot,
 *     each after those it depends on: teleport.schema_order),
 *     tables without their primary keys, "begin" (the target empties the
 *     tables), the rows (load_copy.c), then the primary keys, indexes,
 *     constraints, views and comments, the sequences' values, and "end".
 *  6. Give the target back to the daemon.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch_lines.h"
#include "clock.h"
#include "exit_codes.h"
#include "host.h"
#include "load.h"
#include "load_copy.h"
#include "load_send.h"
#include "log.h"
#include "queue.h"
#include "transmitter.h"
#include "xalloc.h"

#define COMPONENT "load"

/* How often progress is logged (no terminal), and drawn (terminal). */
#define LOG_EVERY_MS 10000
#define DRAW_EVERY_MS 500

/*
 * The kinds of the schema capture (plugins/source/ddl), by rank: as the
 * kinds list of its teleport.schema_capture.
 */
#define KIND_RANKS \
	"(VALUES ('schema', 10), ('extension', 12), ('enum', 20), ('composite', 30)," \
	" ('domain', 30), ('range', 30)," \
	" ('sequence', 40), ('function', 45), ('range_fn', 47), ('table', 50)," \
	" ('function_sql_body', 55), ('aggregate', 57)," \
	" ('index', 60), ('constraint', 70), ('view', 80), ('comment', 90)) k(kind, rank)"

/* Ranks from here on are sent after the rows (they need them, or slow them). */
#define AFTER_ROWS_RANK "60"

/*
 * A table's description (json, from the schema capture) without its
 * primary key: member "primary_key" null, the others as they are, in
 * their order.
 */
#define KEYLESS(desc) \
	"(SELECT pg_catalog.json_object_agg(e.key," \
	"  CASE WHEN e.key <> 'primary_key' THEN e.value END ORDER BY e.n)" \
	" FROM pg_catalog.json_each(" desc ") WITH ORDINALITY AS e(key, value, n))"

/* Schemas never loaded: the system's and teleport's. */
#define SYSTEM_SCHEMA(col) \
	"(" col " IN ('pg_catalog', 'information_schema', 'teleport')" \
	" OR " col " ~ '^pg_(toast|temp_|toast_temp_)')"

/* The state of one run. */
typedef struct load
{
	const tp_config *config;
	const tp_target_config *target;
	const char *conninfo;
	tp_pgsql	pg;				/* bookkeeping */
	tp_pgsql	snap;			/* the snapshot: locks, schema */
	tp_queue_filter filter;
	int64_t		id;
	int64_t		resumes;		/* the interrupted load it takes over, or 0 */
	uint64_t	void_from;		/* numbers an interrupted load took */
	uint64_t	void_to;
	char	   *snapshot;		/* txid_current_snapshot() */
	char	   *snapshot_name;	/* pg_export_snapshot() */
	tp_load_copy copy;
	tp_load_sender sender;
	bool		sender_ready;
	int64_t		total_bytes;
	long long	started_ms;
	long long	logged_ms;
	long long	drawn_ms;
	bool		tty;
	tp_pgsql	progress_pg;	/* progress records, under the copy's lock */
} load;

/*
 * Step 1
 */

/* Row callback: (id of a load holding the target, alive, first_seq, next_seq). */
typedef struct holder
{
	bool		found;
	int64_t		id;
	bool		alive;
	int64_t		first_seq;		/* its first not known delivered; 0: none */
	int64_t		next_seq;
	int			pid;
} holder;

static bool
holder_row(void *arg, const PGresult *res, int row)
{
	holder	   *h = arg;

	h->next_seq = strtoll(PQgetvalue(res, row, 3), NULL, 10);
	if (PQgetisnull(res, row, 0))
		return true;
	h->found = true;
	h->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	h->alive = strcmp(PQgetvalue(res, row, 1), "t") == 0;
	h->first_seq = PQgetisnull(res, row, 2) ? 0 : strtoll(PQgetvalue(res, row, 2), NULL, 10);
	h->pid = atoi(PQgetvalue(res, row, 4));
	return true;
}

/* Register the load and take the target. False after logging. */
static bool
take_target(load *ld)
{
	char		jobs[24];
	char		resumes[24];
	const char *params[3] = {ld->target->name, jobs, resumes};
	holder		h;
	char	   *id = NULL;

	memset(&h, 0, sizeof(h));
	snprintf(jobs, sizeof(jobs), "%" PRId64, ld->config->load_jobs);
	if (!tp_pgsql_exec(&ld->pg, "BEGIN") ||
		!tp_pgsql_query(&ld->pg,
						"SELECT l.id, EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a"
						"  WHERE a.pid = l.pid AND a.backend_start = l.backend_start),"
						" GREATEST(l.first_seq, l.last_seq + 1), t.next_seq, l.pid"
						" FROM teleport.target t LEFT JOIN teleport.load l ON l.id = t.loading"
						" WHERE t.name = $1 FOR UPDATE OF t",
						1, params, holder_row, &h))
		goto fail;
	if (h.next_seq == 0)
	{
		tp_error(COMPONENT, "target \"%s\" is not registered in the queue", ld->target->name);
		goto fail;
	}
	if (h.found && h.alive)
	{
		tp_error(COMPONENT, "load %" PRId64 " of target \"%s\" is running (server process %d)",
				 h.id, ld->target->name, h.pid);
		tp_log(TP_LOG_INFO, COMPONENT, "wait for it to end, or stop it and run this again to resume");
		goto fail;
	}
	if (h.found)
	{
		char		old[24];
		const char *p[1] = {old};

		snprintf(old, sizeof(old), "%" PRId64, h.id);
		tp_warning(COMPONENT, "load %" PRId64 " of target \"%s\" was interrupted; this load "
				   "takes it over", h.id, ld->target->name);
		ld->resumes = h.id;
		if (!tp_pgsql_query(&ld->pg,
							"UPDATE teleport.load SET state = 'failed',"
							" finished_at = clock_timestamp(),"
							" reason = coalesce(reason, 'interrupted')"
							" WHERE id = $1::bigint AND state <> 'done'",
							1, p, NULL, NULL))
			goto fail;
		if (h.first_seq > 0 && h.first_seq < h.next_seq)
		{
			ld->void_from = (uint64_t) h.first_seq;
			ld->void_to = (uint64_t) h.next_seq - 1;
		}
	}
	snprintf(resumes, sizeof(resumes), "%" PRId64, ld->resumes);
	if (!tp_pgsql_query_value(&ld->pg,
							  "INSERT INTO teleport.load (target, state, pid, backend_start, jobs,"
							  " resumes)"
							  " SELECT $1, 'starting', a.pid, a.backend_start, $2::integer,"
							  " NULLIF($3::bigint, 0)"
							  " FROM pg_catalog.pg_stat_activity a"
							  " WHERE a.pid = pg_catalog.pg_backend_pid() RETURNING id",
							  3, params, &id) || id == NULL)
		goto fail;
	ld->id = strtoll(id, NULL, 10);
	{
		const char *p[2] = {ld->target->name, id};

		/* a target that lagged past retention starts again from now */
		if (!tp_pgsql_query(&ld->pg,
							"UPDATE teleport.target SET loading = $2::bigint,"
							" cursor_tick = CASE WHEN needs_resync"
							"  THEN (SELECT max(k.id) FROM teleport.tick k) ELSE cursor_tick END,"
							" needs_resync = false, resync_reason = NULL"
							" WHERE name = $1",
							2, p, NULL, NULL) ||
			!tp_pgsql_exec(&ld->pg, "COMMIT"))
			goto fail;
	}
	free(id);
	tp_info(COMPONENT, "load %" PRId64 " of target \"%s\" started: no batch is cut for it "
			"until the load is sent", ld->id, ld->target->name);
	return true;

fail:
	free(id);
	(void) tp_pgsql_exec(&ld->pg, "ROLLBACK");
	return false;
}

/*
 * Step 2 and 3
 */

/* Sleep up to ms, less when a stop is requested. */
static void
nap(long long ms)
{
	while (ms > 0 && !tp_host_stop_requested())
	{
		long long	step = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long) step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Send the target's batches numbered before the load. False after logging. */
static bool
drain(load *ld, tp_plugin_ctx *ctx, const tp_transport_callbacks *cb)
{
	tp_transmitter tx;
	bool		ok = true;
	bool		logged = false;

	tp_transmitter_init(&tx, ld->target, ctx, cb);
	for (;;)
	{
		uint64_t	seq;
		bool		found;

		if (tp_host_stop_requested())
		{
			ok = false;
			break;
		}
		if (!tp_queue_next_seq(&ld->pg, ld->target->name, &seq, &found))
		{
			ok = false;
			break;
		}
		if (!found)
			break;
		if (!logged)
			tp_info(COMPONENT, "sending the batches of target \"%s\" cut before the load "
					"(from batch %" PRIu64 ")", ld->target->name, seq);
		logged = true;
		if (!tp_transmitter_run(&tx, &ld->pg, ld->config->database.name, 100, NULL))
		{
			ok = false;
			break;
		}
		if (tx.retry_at_ms > tp_clock_ms())
			nap(tx.retry_at_ms - tp_clock_ms());
	}
	tp_transmitter_free(&tx);
	return ok;
}

/* The data of a load batch of one line: {"load":{"id":..,"step":step}}. */
static size_t
step_line(char *buf, size_t len, int64_t id, const char *step)
{
	return (size_t) snprintf(buf, len, "{\"load\":{\"id\":%" PRId64 ",\"step\":\"%s\"}}\n",
							 id, step);
}

/* Fill the numbers of the interrupted load with void batches. */
static bool
fill_voids(load *ld)
{
	char		line[128];
	size_t		len = step_line(line, sizeof(line), ld->id, "void");
	uint64_t	refused = 0;

	if (ld->void_from == 0)
		return true;
	tp_info(COMPONENT, "filling batches %" PRIu64 " to %" PRIu64 " of the interrupted load",
			ld->void_from, ld->void_to);
	for (uint64_t seq = ld->void_from; seq <= ld->void_to; seq++)
	{
		bool		no;

		if (!tp_load_send_at(&ld->sender, seq, TP_BATCH_LOAD, line, len, 1, &no))
		{
			if (!no)
				return false;
			refused++;
		}
	}
	if (refused > 0)
		tp_info(COMPONENT, "the target kept %" PRIu64 " batch(es) of the interrupted load "
				"that it had received (it applies them before this load)", refused);
	return true;
}

/*
 * Step 4
 */

/* Row callback: one table of the target (see list_tables' query). */
static bool
table_row(void *arg, const PGresult *res, int row)
{
	tp_load_copy *lc = arg;
	tp_load_table *t;
	const char *members = PQgetvalue(res, row, 2);
	size_t		len = strlen(members);

	if (strcmp(PQgetvalue(res, row, 7), "t") != 0)
	{
		/* as the trigger source says it; its later changes would be lost */
		tp_warning(COMPONENT, "table \"%s.%s\" is not loaded: it has no primary key or "
				   "replica identity index, so it is not replicated (hint: add a primary "
				   "key, or set REPLICA IDENTITY USING INDEX or FULL)",
				   PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
		return true;
	}
	lc->tables = tp_xrealloc(lc->tables, (lc->n_tables + 1) * sizeof(tp_load_table));
	t = &lc->tables[lc->n_tables++];
	memset(t, 0, sizeof(*t));
	t->schema = tp_xstrdup(PQgetvalue(res, row, 0));
	t->name = tp_xstrdup(PQgetvalue(res, row, 1));
	/* {"schema" : .., ...} without its braces */
	t->members_json = tp_xmalloc(len);
	memcpy(t->members_json, members + 1, len - 2);
	t->members_json[len - 2] = '\0';
	t->select_list = tp_xstrdup(PQgetvalue(res, row, 3));
	t->est_bytes = strtoll(PQgetvalue(res, row, 4), NULL, 10);
	t->blocks = strtoll(PQgetvalue(res, row, 5), NULL, 10);
	t->oid = (unsigned int) strtoul(PQgetvalue(res, row, 6), NULL, 10);
	return true;
}

/* Free the tables of lc. */
static void
tables_free(tp_load_copy *lc)
{
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		free(lc->tables[i].schema);
		free(lc->tables[i].name);
		free(lc->tables[i].members_json);
		free(lc->tables[i].select_list);
		free(lc->tables[i].after);
	}
	free(lc->tables);
	free(lc->fks);
	free(lc->parts);
	lc->tables = NULL;
	lc->fks = NULL;
	lc->parts = NULL;
	lc->n_tables = 0;
	lc->n_fks = 0;
	lc->n_parts = 0;
}

/* A table of the load by its oid. */
typedef struct oid_index
{
	unsigned int oid;
	size_t		index;
} oid_index;

/* Order of oid_index by oid. */
static int
oid_cmp(const void *a, const void *b)
{
	unsigned int x = ((const oid_index *) a)->oid;
	unsigned int y = ((const oid_index *) b)->oid;

	return x < y ? -1 : x > y;
}

/* The state of list_fks. */
typedef struct fk_scan
{
	tp_load_copy *lc;
	oid_index  *by_oid;
} fk_scan;

/* Row callback: a foreign key (referencing, referenced table's oid). */
static bool
fk_edge_row(void *arg, const PGresult *res, int row)
{
	fk_scan    *fs = arg;
	tp_load_copy *lc = fs->lc;
	oid_index	key;
	const oid_index *from;
	const oid_index *to;

	memset(&key, 0, sizeof(key));
	key.oid = (unsigned int) strtoul(PQgetvalue(res, row, 0), NULL, 10);
	from = bsearch(&key, fs->by_oid, lc->n_tables, sizeof(oid_index), oid_cmp);
	key.oid = (unsigned int) strtoul(PQgetvalue(res, row, 1), NULL, 10);
	to = bsearch(&key, fs->by_oid, lc->n_tables, sizeof(oid_index), oid_cmp);
	if (from != NULL && to != NULL)
	{
		lc->fks = tp_xrealloc(lc->fks, (lc->n_fks + 1) * sizeof(tp_load_fk));
		lc->fks[lc->n_fks].from = from->index;
		lc->fks[lc->n_fks].to = to->index;
		lc->n_fks++;
	}
	return true;
}

/*
 * The foreign keys between the tables the load copies (lc->fks), as its
 * snapshot sees them: a target whose tables have them gets the rows of a
 * referenced table first.
 */
static bool
list_fks(load *ld)
{
	tp_load_copy *lc = &ld->copy;
	fk_scan		fs;
	bool		ok;

	fs.lc = lc;
	fs.by_oid = tp_xcalloc(lc->n_tables > 0 ? lc->n_tables : 1, sizeof(oid_index));
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		fs.by_oid[i].oid = lc->tables[i].oid;
		fs.by_oid[i].index = i;
	}
	qsort(fs.by_oid, lc->n_tables, sizeof(oid_index), oid_cmp);
	ok = tp_pgsql_query(&ld->snap,
						"SELECT DISTINCT k.conrelid, k.confrelid FROM pg_catalog.pg_constraint k"
						" WHERE k.contype = 'f' AND k.conrelid <> k.confrelid",
						0, NULL, fk_edge_row, &fs);
	free(fs.by_oid);
	return ok;
}

/*
 * The target's tables: ordinary tables (a partitioned table's rows are in
 * its partitions) of the target's filter, but an extension's; their
 * columns but generated ones, in order. A table without a key (primary
 * key, replica identity index or REPLICA IDENTITY FULL: what the trigger
 * source captures) is left out with a warning.
 */
static bool
list_tables(load *ld)
{
	const char *params[4] = {
		ld->filter.include, ld->filter.exclude, ld->filter.schema_include,
		ld->filter.schema_exclude
	};

	tables_free(&ld->copy);
	return tp_pgsql_query(&ld->pg,
						  "SELECT n.nspname, c.relname,"
						  " pg_catalog.json_build_object('schema', n.nspname, 'table', c.relname,"
						  "  'columns', pg_catalog.json_agg(a.attname ORDER BY a.attnum))::text,"
						  " pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', '"
						  "  ORDER BY a.attnum),"
						  " pg_catalog.pg_relation_size(c.oid),"
						  " pg_catalog.pg_relation_size(c.oid)"
						  "  / pg_catalog.current_setting('block_size')::bigint, c.oid,"
						  " c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
						  "  WHERE i.indrelid = c.oid AND (i.indisprimary OR i.indisreplident))"
						  " FROM pg_catalog.pg_class c"
						  " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
						  " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0"
						  "  AND NOT a.attisdropped AND a.attgenerated = ''"
						  " WHERE c.relkind = 'r' AND NOT " SYSTEM_SCHEMA("n.nspname")
						  " AND " TP_QUEUE_MATCH("n.nspname", "c.relname", "$1", "$2", "$3", "$4")
						  " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
						  "  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
						  "  AND d.objid = c.oid AND d.deptype = 'e')"
						  " GROUP BY n.nspname, c.relname, c.oid, c.relreplident ORDER BY 1, 2",
						  4, params, table_row, &ld->copy);
}

/* The LOCK statement of the tables of ld (a new string). */
static char *
lock_sql(load *ld)
{
	char	   *sql = tp_xstrdup("LOCK TABLE ONLY ");
	size_t		len = strlen(sql);

	for (size_t i = 0; i < ld->copy.n_tables; i++)
	{
		char	   *qs = PQescapeIdentifier(ld->snap.conn, ld->copy.tables[i].schema,
											strlen(ld->copy.tables[i].schema));
		char	   *qt = PQescapeIdentifier(ld->snap.conn, ld->copy.tables[i].name,
											strlen(ld->copy.tables[i].name));
		size_t		need = len + (qs ? strlen(qs) : 0) + (qt ? strlen(qt) : 0) + 8;

		sql = tp_xrealloc(sql, need);
		len += (size_t) snprintf(sql + len, need - len, "%s%s.%s", i == 0 ? "" : ", ",
								 qs ? qs : "", qt ? qt : "");
		PQfreemem(qs);
		PQfreemem(qt);
	}
	sql = tp_xrealloc(sql, len + 32);
	snprintf(sql + len, 32, " IN ACCESS SHARE MODE");
	return sql;
}

/* Bring the schema capture's snapshot up to date, when there is one. */
static bool
capture_schema(load *ld)
{
	char	   *exists = NULL;

	if (!tp_pgsql_query_value(&ld->pg,
							  "SELECT pg_catalog.to_regprocedure("
							  "'teleport.schema_capture(oid[], boolean)') IS NOT NULL",
							  0, NULL, &exists))
		return false;
	if (exists == NULL || strcmp(exists, "t") != 0)
	{
		free(exists);
		return true;
	}
	free(exists);
	for (int attempt = 0; attempt < 100 && !tp_host_stop_requested(); attempt++)
	{
		int64_t		n = 0;
		bool		isnull = true;

		if (!tp_pgsql_query_int64(&ld->pg, "SELECT teleport.schema_capture(NULL::oid[], true)",
								  0, NULL, &n, &isnull))
			return false;
		if (n >= 0)
			return true;
		/* another capture is at it: it ends soon */
		nap(100);
	}
	tp_error(COMPONENT, "could not bring the schema capture up to date: another capture held it");
	return false;
}

/* Row callback: the snapshot and its exported name. */
static bool
snapshot_row(void *arg, const PGresult *res, int row)
{
	load	   *ld = arg;

	ld->snapshot = tp_xstrdup(PQgetvalue(res, row, 0));
	ld->snapshot_name = tp_xstrdup(PQgetvalue(res, row, 1));
	return true;
}

/* Tables by name, for choose_tables: which to copy. */
typedef struct choice
{
	load	   *ld;
	bool	   *copy;			/* per table of ld->copy */
	int		   *group;			/* union-find parents: foreign keys join */
} choice;

/* The index of table schema.name in ld's list, or -1. */
static int
table_index(const load *ld, const char *schema, const char *name)
{
	for (size_t i = 0; i < ld->copy.n_tables; i++)
	{
		if (strcmp(ld->copy.tables[i].schema, schema) == 0 &&
			strcmp(ld->copy.tables[i].name, name) == 0)
			return (int) i;
	}
	return -1;
}

/* The index of the table of OID oid in ld's list, or -1. */
static int
table_by_oid(const load *ld, unsigned int oid)
{
	for (size_t i = 0; i < ld->copy.n_tables; i++)
	{
		if (ld->copy.tables[i].oid == oid)
			return (int) i;
	}
	return -1;
}

/* Row callback: (schema, table) that the chain sent whole, unchanged since. */
static bool
kept_row(void *arg, const PGresult *res, int row)
{
	choice	   *ch = arg;
	int			i = table_index(ch->ld, PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));

	if (i >= 0)
		ch->copy[i] = false;
	return true;
}

/* The root of i's group. */
static int
group_of(int *group, int i)
{
	while (group[i] != i)
	{
		group[i] = group[group[i]];
		i = group[i];
	}
	return i;
}

/* Row callback: a foreign key (referencing, referenced OID): one group. */
static bool
fk_row(void *arg, const PGresult *res, int row)
{
	choice	   *ch = arg;
	int			a = table_by_oid(ch->ld, (unsigned int) strtoul(PQgetvalue(res, row, 0), NULL, 10));
	int			b = table_by_oid(ch->ld, (unsigned int) strtoul(PQgetvalue(res, row, 1), NULL, 10));

	if (a >= 0 && b >= 0)
		ch->group[group_of(ch->group, a)] = group_of(ch->group, b);
	return true;
}

/*
 * A load that takes an interrupted one over copies again only what the
 * target does not have whole: the tables the chain so far did not send
 * whole (the last load of the chain that copied a table decides), those
 * whose description changed since it was sent (a table sent without its
 * primary key, which the chain adds after the rows, has not changed for
 * that), those not sent at all,
 * and every table joined to one of them by foreign keys (one snapshot per
 * such group keeps the keys true at the chain's commit). The other tables
 * keep their rows as sent, and the snapshot of their load filters their
 * events. Drops the others from ld's list. False after logging.
 */
static bool
choose_tables(load *ld)
{
	choice		ch;
	char		resumes[24];
	const char *params[2] = {resumes, ld->target->name};
	bool		ok;
	size_t		n = ld->copy.n_tables;

	if (ld->resumes == 0 || n == 0)
		return true;
	ch.ld = ld;
	ch.copy = tp_xcalloc(n, sizeof(bool));
	ch.group = tp_xcalloc(n, sizeof(int));
	for (size_t i = 0; i < n; i++)
	{
		ch.copy[i] = true;
		ch.group[i] = (int) i;
	}
	snprintf(resumes, sizeof(resumes), "%" PRId64, ld->resumes);
	/* sent whole by the chain and unchanged since: kept */
	ok = tp_pgsql_query(&ld->snap,
						"WITH RECURSIVE chain(id) AS ("
						"  SELECT $1::bigint"
						"  UNION ALL SELECT l.resumes FROM teleport.load l JOIN chain c ON l.id = c.id"
						"  WHERE l.resumes IS NOT NULL),"
						" last AS (SELECT DISTINCT ON (t.schema_name, t.table_name)"
						"  t.schema_name, t.table_name, t.state FROM teleport.load_table t"
						"  JOIN chain c ON c.id = t.load_id"
						"  ORDER BY t.schema_name, t.table_name, t.load_id DESC)"
						" SELECT l.schema_name, l.table_name FROM last l WHERE l.state = 'done'"
						" AND (pg_catalog.to_regclass('teleport.schema_snapshot') IS NULL"
						"  OR EXISTS (SELECT 1 FROM teleport.load_schema o"
						"   JOIN teleport.schema_snapshot s ON s.kind = o.kind AND s.oid = o.oid"
						"   WHERE o.target = $2 AND o.kind = 'table' AND o.schema_name = l.schema_name"
						"   AND o.object_name = l.table_name"
						"   AND (s.description::text = o.description::text"
						"    OR " KEYLESS("s.description") "::text = o.description::text)))",
						2, params, kept_row, &ch);
	if (ok)
		ok = tp_pgsql_query(&ld->snap,
							"SELECT conrelid, confrelid FROM pg_catalog.pg_constraint"
							" WHERE contype = 'f'", 0, NULL, fk_row, &ch);
	if (ok)
	{
		/* a group with a table to copy is copied whole */
		for (size_t i = 0; i < n; i++)
		{
			if (ch.copy[i])
				continue;
			for (size_t j = 0; j < n && !ch.copy[i]; j++)
			{
				if (ch.copy[j] && group_of(ch.group, (int) j) == group_of(ch.group, (int) i))
					ch.copy[i] = true;
			}
		}
		size_t		kept = 0;

		for (size_t i = 0; i < n; i++)
		{
			if (ch.copy[i])
				ld->copy.tables[kept++] = ld->copy.tables[i];
			else
			{
				tp_info(COMPONENT, "table %s.%s was sent whole by the interrupted load: kept",
						ld->copy.tables[i].schema, ld->copy.tables[i].name);
				free(ld->copy.tables[i].schema);
				free(ld->copy.tables[i].name);
				free(ld->copy.tables[i].members_json);
				free(ld->copy.tables[i].select_list);
			}
		}
		ld->copy.n_tables = kept;
	}
	free(ch.copy);
	free(ch.group);
	return ok;
}

/*
 * Lock the tables and fix the snapshot (tables dropped in between: list
 * again), then record it: from now on the queue filters what it saw.
 */
static bool
fix_snapshot(load *ld)
{
	for (int attempt = 0;; attempt++)
	{
		char	   *sql;
		bool		locked;

		if (!list_tables(ld))
			return false;
		sql = lock_sql(ld);
		locked = tp_pgsql_exec(&ld->snap, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") &&
			(ld->copy.n_tables == 0 || tp_pgsql_exec(&ld->snap, sql));
		free(sql);
		if (locked)
			break;
		(void) tp_pgsql_exec(&ld->snap, "ROLLBACK");
		if (attempt == 2 || PQstatus(ld->snap.conn) != CONNECTION_OK)
			return false;
		tp_info(COMPONENT, "listing the tables again (one of them changed)");
	}
	if (!capture_schema(ld) ||
		!tp_pgsql_query(&ld->snap,
						"SELECT pg_catalog.txid_current_snapshot()::text,"
						" pg_catalog.pg_export_snapshot()",
						0, NULL, snapshot_row, ld) ||
		!choose_tables(ld) ||
		!list_fks(ld))
		return false;
	{
		char		id[24];
		const char *params[3] = {id, ld->snapshot, ld->target->name};

		snprintf(id, sizeof(id), "%" PRId64, ld->id);
		if (!tp_pgsql_exec(&ld->pg, "BEGIN") ||
			!tp_pgsql_query(&ld->pg,
							"UPDATE teleport.load SET state = 'copying', snapshot = $2::txid_snapshot,"
							" skip = true, updated_at = clock_timestamp(),"
							" first_seq = (SELECT t.next_seq FROM teleport.target t WHERE t.name = $3)"
							" WHERE id = $1::bigint",
							3, params, NULL, NULL))
			goto fail;
		/* a new chain: what earlier loads sent says nothing of the target now */
		if (ld->resumes == 0 &&
			!tp_pgsql_query(&ld->pg, "DELETE FROM teleport.load_schema WHERE target = $1",
							1, params + 2, NULL, NULL))
			goto fail;
		for (size_t i = 0; i < ld->copy.n_tables; i++)
		{
			char		est[24];
			const char *p[4] = {id, ld->copy.tables[i].schema, ld->copy.tables[i].name, est};

			snprintf(est, sizeof(est), "%" PRId64, ld->copy.tables[i].est_bytes);
			ld->total_bytes += ld->copy.tables[i].est_bytes;
			if (!tp_pgsql_query(&ld->pg,
								"INSERT INTO teleport.load_table (load_id, schema_name,"
								" table_name, est_bytes) VALUES ($1::bigint, $2, $3, $4::bigint)",
								4, p, NULL, NULL))
				goto fail;
		}
		{
			char		total[24];
			const char *p[2] = {id, total};

			snprintf(total, sizeof(total), "%" PRId64, ld->total_bytes);
			if (!tp_pgsql_query(&ld->pg,
								"UPDATE teleport.load SET total_bytes = $2::bigint"
								" WHERE id = $1::bigint", 2, p, NULL, NULL) ||
				!tp_pgsql_exec(&ld->pg, "COMMIT"))
				goto fail;
		}
	}
	return true;

fail:
	(void) tp_pgsql_exec(&ld->pg, "ROLLBACK");
	return false;
}

/*
 * Step 5
 */

/* Row callback: one line of a changes batch. */
static bool
line_row(void *arg, const PGresult *res, int row)
{
	tp_lines   *lines = arg;
	const char *v = PQgetvalue(res, row, 0);
	size_t		len = (size_t) PQgetlength(res, row, 0);

	lines->data = tp_xrealloc(lines->data, lines->len + len + 2);
	memcpy(lines->data + lines->len, v, len);
	lines->len += len;
	lines->data[lines->len++] = '\n';
	lines->data[lines->len] = '\0';
	lines->count++;
	return true;
}

/*
 * The effective ranks of the objects of snap (below) that depend on others
 * (id, rank): teleport.schema_order over their kinds' ranks and the
 * dependencies the snapshot keeps (teleport.schema_snapshot.depends), so
 * that an object comes after what it depends on (a domain after the range
 * type it is over, or after a function its CHECK calls; a SQL-standard
 * body after an aggregate it calls) and the rest keep their kinds' order.
 * EFFECTIVE_RANKS_NONE: a schema capture of version 2, which kept no
 * dependencies (the kinds' ranks alone).
 */
#define EFFECTIVE_RANKS \
	"SELECT o.id, o.rank FROM teleport.schema_order((" \
	"  SELECT pg_catalog.json_agg(pg_catalog.json_build_object('id', s.id, 'oid', s.oid," \
	"   'rank', s.rank, 'deps', x.depends))" \
	"  FROM snap s JOIN teleport.schema_snapshot x ON x.kind = s.kind AND x.oid = s.oid)) o"
#define EFFECTIVE_RANKS_NONE \
	"SELECT NULL::bigint AS id, NULL::float8 AS rank WHERE false"

/*
 * The OIDs the target's tables depend on, through any chain of the
 * snapshot's dependencies (a view whose row type a column has, or that a
 * default's function reads, and what that view depends on): what a table,
 * created before the rows, needs before it. NEEDED_NONE for a capture that
 * keeps no dependencies.
 */
#define NEEDED_BY_TABLES \
	"SELECT u.o AS oid FROM snap s" \
	"  JOIN teleport.schema_snapshot x ON x.kind = s.kind AND x.oid = s.oid" \
	"  CROSS JOIN pg_catalog.unnest(x.depends) u(o) WHERE s.kind = 'table'" \
	" UNION SELECT u.o FROM need n JOIN teleport.schema_snapshot x ON x.oid = n.oid" \
	"  CROSS JOIN pg_catalog.unnest(x.depends) u(o)"
#define NEEDED_NONE \
	"SELECT NULL::oid AS oid WHERE false"

/*
 * The objects of the schema capture's snapshot that are the target's
 * (cur), what the loads of its chain sent it so far (old; none for a new
 * chain), and pre: cur as the schema part before the rows leaves the
 * target, where a table lacks its primary key unless the chain gave it
 * that key already (its rows are copied first and the key added after
 * them, which is faster than copying into the key: docs/performance.md),
 * as WITH items. rank: the kind's rank, which puts an object in the part
 * before the rows (below 60) or after them; but an object that a table
 * needs (need: NEEDED_BY_TABLES or NEEDED_NONE; a view whose row type a
 * column has) goes before them (59 for a rank from 60), and another
 * object (not a table) that depends on one after the rows (a SQL-standard
 * body that reads a view) goes after them too (60); er: the effective
 * rank that orders the objects of a part (ranks: EFFECTIVE_RANKS or
 * EFFECTIVE_RANKS_NONE; old's: its rank). $1..$4 the filter, $5 the
 * target, $6 whether the chain is new.
 */
#define SCHEMA_STAGES(ranks, needed) \
	"WITH RECURSIVE snap AS MATERIALIZED (SELECT pg_catalog.row_number() OVER () AS id," \
	"  s.kind, s.oid, k.rank, s.schema_name, s.object_name, s.description" \
	"  FROM teleport.schema_snapshot s JOIN " KIND_RANKS " ON k.kind = s.kind" \
	"  WHERE " TP_QUEUE_MATCH("s.schema_name", "s.object_name", "$1", "$2", "$3", "$4") ")," \
	" ord AS (" ranks ")," \
	" need AS (" needed ")," \
	" cur AS (SELECT s.kind, s.oid," \
	"  CASE WHEN s.oid IN (SELECT n.oid FROM need n)" \
	"   THEN LEAST(s.rank, " AFTER_ROWS_RANK " - 1)" \
	"   WHEN s.rank < " AFTER_ROWS_RANK " AND s.kind <> 'table'" \
	"   AND o.rank >= " AFTER_ROWS_RANK " THEN " AFTER_ROWS_RANK " ELSE s.rank END AS rank," \
	"  coalesce(o.rank, s.rank) AS er, s.schema_name, s.object_name, s.description" \
	"  FROM snap s LEFT JOIN ord o ON o.id = s.id)," \
	" old AS (SELECT o.kind, o.oid, o.rank, o.rank::float8 AS er, o.schema_name, o.object_name," \
	"  o.description" \
	"  FROM teleport.load_schema o WHERE o.target = $5 AND NOT $6::boolean)," \
	" pre AS (SELECT c.kind, c.oid, c.rank, c.er, c.schema_name, c.object_name," \
	"  CASE WHEN c.kind = 'table'" \
	"   AND pg_catalog.json_typeof(c.description -> 'primary_key') = 'object'" \
	"   AND NOT EXISTS (SELECT 1 FROM old o WHERE o.kind = c.kind AND o.oid = c.oid" \
	"    AND (o.description -> 'primary_key' -> 'columns')::text" \
	"     = (c.description -> 'primary_key' -> 'columns')::text)" \
	"  THEN " KEYLESS("c.description") " ELSE c.description END AS description" \
	"  FROM cur c)"

/*
 * SCHEMA_STAGES, then d: each object created, changed or dropped by a
 * schema part. $8 true: the part before the rows, from old to pre; false:
 * the part after them, from what the one before left (pre below rank 60,
 * old from there) to cur.
 */
#define SCHEMA_DIFF(ranks, needed) \
	SCHEMA_STAGES(ranks, needed) "," \
	" want AS (SELECT * FROM pre WHERE $8::boolean" \
	"  UNION ALL SELECT * FROM cur WHERE NOT $8::boolean)," \
	" base AS (SELECT * FROM old WHERE $8::boolean OR old.rank >= " AFTER_ROWS_RANK \
	"  UNION ALL SELECT * FROM pre WHERE NOT $8::boolean AND pre.rank < " AFTER_ROWS_RANK ")," \
	" d AS (SELECT coalesce(c.kind, o.kind) AS kind, coalesce(c.oid, o.oid) AS oid," \
	"  coalesce(c.rank, o.rank) AS rank, coalesce(c.er, o.er) AS er," \
	"  coalesce(c.schema_name, o.schema_name) AS schema_name," \
	"  CASE WHEN c.kind IS NOT NULL THEN c.object_name ELSE o.object_name END AS object_name," \
	"  o.description AS before, c.description AS after" \
	"  FROM want c FULL JOIN base o ON o.kind = c.kind AND o.oid = c.oid" \
	"  WHERE o.oid IS NULL OR c.oid IS NULL OR o.description::text <> c.description::text)"

/*
 * Whether the source has a schema capture (teleport.schema_snapshot), and
 * whether it keeps its objects' dependencies (teleport.schema_order: a
 * capture of version 3 or later). False after logging.
 */
static bool
has_schema_capture(load *ld, bool *exists, bool *ordered)
{
	*ordered = false;
	return tp_pgsql_query_bool(&ld->snap,
							   "SELECT pg_catalog.to_regclass('teleport.schema_snapshot') IS NOT NULL",
							   0, NULL, exists) &&
		(!*exists ||
		 tp_pgsql_query_bool(&ld->snap,
							 "SELECT pg_catalog.to_regprocedure('teleport.schema_order(json)')"
							 " IS NOT NULL",
							 0, NULL, ordered));
}

/* The ddl lines of the objects of d (SCHEMA_DIFF) a schema part sends. */
#define SCHEMA_LINES \
	" SELECT pg_catalog.replace(pg_catalog.json_build_object('op', 'ddl'," \
	" 'before', NULL, 'after', NULL, 'ddl', pg_catalog.json_build_object(" \
	"  'type', d.kind, 'oid', d.oid, 'before', d.before, 'after', d.after)," \
	" 'source', pg_catalog.json_build_object('name', $7::text," \
	"  'schema', d.schema_name, 'table', d.object_name, 'txid', 0," \
	"  'seq', 0, 'batch', 0)," \
	" 'ts_ms', pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now()) * 1000)::bigint" \
	" )::text, E'\\n', ' ')" \
	" FROM d WHERE CASE WHEN $8::boolean" \
	"  THEN d.after IS NULL OR d.rank < " AFTER_ROWS_RANK \
	"  ELSE d.after IS NOT NULL" \
	"   AND (d.rank >= " AFTER_ROWS_RANK " OR d.kind = 'table') END" \
	" ORDER BY d.after IS NOT NULL," \
	"  CASE WHEN d.after IS NULL THEN -d.er ELSE d.er END, d.oid"

/*
 * The ddl lines that take the target from what the chain sent it (for a
 * new chain: nothing, so these are creations, which leave objects the
 * target has alone) to the schema as the snapshot saw it: before_rows,
 * the drops (by falling rank) and the objects of ranks below 60, tables
 * without the primary keys the chain has not given them (SCHEMA_STAGES);
 * else those keys (table changes that add them, first) and the objects of
 * ranks from 60. Within a part by effective rank (an object after those
 * it depends on), then OID. Nothing without a schema capture.
 */
static bool
schema_lines(load *ld, bool before_rows, tp_lines *lines)
{
	bool		exists = false;
	bool		ordered = false;
	const char *params[8] = {
		ld->filter.include, ld->filter.exclude, ld->filter.schema_include,
		ld->filter.schema_exclude, ld->target->name, ld->resumes == 0 ? "t" : "f",
		ld->config->database.name, before_rows ? "t" : "f"
	};

	if (!has_schema_capture(ld, &exists, &ordered))
		return false;
	if (!exists)
		return true;
	return tp_pgsql_query(&ld->snap,
						  ordered ? SCHEMA_DIFF(EFFECTIVE_RANKS, NEEDED_BY_TABLES) SCHEMA_LINES
						  : SCHEMA_DIFF(EFFECTIVE_RANKS_NONE, NEEDED_NONE) SCHEMA_LINES,
						  8, params, line_row, lines);
}

/*
 * The target's objects of the schema as the snapshot saw it, as JSON
 * arrays: *pre as the schema part before the rows leaves them, *now as
 * the part after them does (NULL both without a schema capture), for
 * record_schema.
 */
static bool
schema_now(load *ld, char **pre, char **now)
{
	bool		exists = false;
	bool		ordered = false;
	const char *params[6] = {
		ld->filter.include, ld->filter.exclude, ld->filter.schema_include,
		ld->filter.schema_exclude, ld->target->name, ld->resumes == 0 ? "t" : "f"
	};

	*pre = NULL;
	*now = NULL;
	if (!has_schema_capture(ld, &exists, &ordered))
		return false;
	if (!exists)
		return true;
	return tp_pgsql_query_value(&ld->snap,
								ordered ? SCHEMA_STAGES(EFFECTIVE_RANKS, NEEDED_BY_TABLES)
								" SELECT coalesce(pg_catalog.json_agg(p), '[]') FROM pre p"
								: SCHEMA_STAGES(EFFECTIVE_RANKS_NONE, NEEDED_NONE)
								" SELECT coalesce(pg_catalog.json_agg(p), '[]') FROM pre p",
								6, params, pre) &&
		tp_pgsql_query_value(&ld->snap,
							 ordered ? SCHEMA_STAGES(EFFECTIVE_RANKS, NEEDED_BY_TABLES)
							 " SELECT coalesce(pg_catalog.json_agg(c), '[]') FROM cur c"
							 : SCHEMA_STAGES(EFFECTIVE_RANKS_NONE, NEEDED_NONE)
							 " SELECT coalesce(pg_catalog.json_agg(c), '[]') FROM cur c",
							 6, params, now);
}

/*
 * Record what a schema part just delivered left the target with, given
 * the objects as it left them (schema_now): before_rows, the objects of
 * ranks below 60 as in objs, and none that is not in objs; else every
 * object as in objs. Nothing without a schema capture. False after
 * logging.
 */
static bool
record_schema(load *ld, bool before_rows, const char *objs)
{
	const char *params[3] = {ld->target->name, objs, before_rows ? "t" : "f"};

	if (objs == NULL)
		return true;
	if (!tp_pgsql_exec(&ld->pg, "BEGIN") ||
		!tp_pgsql_query(&ld->pg,
						"DELETE FROM teleport.load_schema o WHERE o.target = $1"
						" AND (NOT $3::boolean OR o.rank < " AFTER_ROWS_RANK
						"  OR NOT EXISTS (SELECT 1"
						"   FROM pg_catalog.json_to_recordset($2::json) AS x(kind text, oid oid)"
						"   WHERE x.kind = o.kind AND x.oid = o.oid))",
						3, params, NULL, NULL) ||
		!tp_pgsql_query(&ld->pg,
						"INSERT INTO teleport.load_schema (target, kind, oid, rank, schema_name,"
						" object_name, description)"
						" SELECT $1, x.kind, x.oid, x.rank, x.schema_name, x.object_name, x.description"
						" FROM pg_catalog.json_to_recordset($2::json) AS x(kind text, oid oid,"
						"  rank integer, schema_name text, object_name text, description json)"
						" WHERE NOT $3::boolean OR x.rank < " AFTER_ROWS_RANK,
						3, params, NULL, NULL) ||
		!tp_pgsql_exec(&ld->pg, "COMMIT"))
	{
		(void) tp_pgsql_exec(&ld->pg, "ROLLBACK");
		return false;
	}
	return true;
}

/* The sequence_value lines of the target's sequences, as they are now. */
static bool
sequence_lines(load *ld, tp_lines *lines)
{
	const char *params[5] = {
		ld->filter.include, ld->filter.exclude, ld->filter.schema_include,
		ld->filter.schema_exclude, ld->config->database.name
	};

	return tp_pgsql_query(&ld->pg,
						  "SELECT pg_catalog.json_build_object('op', 'ddl', 'before', NULL,"
						  " 'after', NULL, 'ddl', pg_catalog.json_build_object("
						  "  'type', 'sequence_value', 'schema', n.nspname, 'sequence', c.relname,"
						  "  'value', v.value),"
						  " 'source', pg_catalog.json_build_object('name', $5::text,"
						  "  'schema', n.nspname, 'table', c.relname, 'txid', 0, 'seq', 0, 'batch', 0),"
						  " 'ts_ms', pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now()) * 1000)::bigint"
						  " )::text"
						  " FROM pg_catalog.pg_class c"
						  " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
						  " LATERAL (SELECT pg_catalog.pg_sequence_last_value(c.oid) AS value) v"
						  " WHERE c.relkind = 'S' AND v.value IS NOT NULL"
						  " AND NOT " SYSTEM_SCHEMA("n.nspname")
						  " AND " TP_QUEUE_MATCH("n.nspname", "c.relname", "$1", "$2", "$3", "$4")
						  " ORDER BY n.nspname, c.relname",
						  5, params, line_row, lines);
}

/* Send lines as a changes batch of the chain, when there are any. */
static bool
send_lines(load *ld, tp_lines *lines)
{
	bool		ok = true;

	if (lines->count > 0)
		ok = tp_load_send(&ld->sender, TP_BATCH_CHANGES, lines->data, lines->len,
						  (uint64_t) lines->count, false, false);
	free(lines->data);
	memset(lines, 0, sizeof(*lines));
	return ok;
}

/* The begin batch: every table the load empties, in one line. */
static bool
send_begin(load *ld)
{
	char		id[24];
	const char *params[1] = {id};
	tp_lines	lines;

	memset(&lines, 0, sizeof(lines));
	snprintf(id, sizeof(id), "%" PRId64, ld->id);
	if (!tp_pgsql_query(&ld->pg,
						"SELECT pg_catalog.json_build_object('load', pg_catalog.json_build_object("
						" 'id', $1::bigint, 'step', 'begin', 'tables', coalesce(("
						"  SELECT pg_catalog.json_agg(pg_catalog.json_build_object("
						"   'schema', t.schema_name, 'table', t.table_name)"
						"   ORDER BY t.schema_name, t.table_name)"
						"  FROM teleport.load_table t WHERE t.load_id = $1::bigint),"
						"  '[]'::json)))::text",
						1, params, line_row, &lines))
		return false;
	if (!tp_load_send(&ld->sender, TP_BATCH_LOAD, lines.data, lines.len,
					  (uint64_t) lines.count, false, false))
	{
		free(lines.data);
		return false;
	}
	free(lines.data);
	return true;
}

/* Bytes as "12.3 MB". */
static void
format_mb(char *buf, size_t len, int64_t bytes)
{
	snprintf(buf, len, "%.1f MB", (double) bytes / 1e6);
}

/* The copy's progress: the table's record, a log line or the terminal's. */
static void
on_progress(void *arg, const tp_load_table *t, bool finished)
{
	load	   *ld = arg;
	long long	now = tp_clock_ms();
	double		secs = (double) (now - ld->started_ms) / 1000.0;
	double		rate = secs > 0 ? (double) ld->copy.bytes / secs : 0;
	char		done[32];
	char		total[32];
	char		overall[160];
	int64_t		expected = tp_load_copy_expected_bytes(&ld->copy);
	double		left = rate > 0 && expected > ld->copy.bytes ?
		(double) (expected - ld->copy.bytes) / rate : 0;

	/*
	 * A table is done once its rows were all acknowledged (a resume keeps
	 * it): not when one was not (a stop).
	 */
	if (ld->progress_pg.conn != NULL &&
		(!finished || tp_load_send_flush(&ld->sender)))
	{
		char		id[24];
		char		rows[24];
		char		bytes[24];
		char		chunks[24];
		char		all_rows[24];
		char		all_bytes[24];
		char		last[24];
		char		all_total[24];
		const char *params[10] = {
			id, t->schema, t->name, rows, bytes, chunks, all_rows, all_bytes, last,
			all_total
		};

		/* what the sender delivered last: a resume fills only the numbers after */
		pthread_mutex_lock(&ld->sender.lock);
		snprintf(last, sizeof(last), "%" PRIu64, ld->sender.last_seq);
		pthread_mutex_unlock(&ld->sender.lock);

		snprintf(id, sizeof(id), "%" PRId64, ld->id);
		snprintf(rows, sizeof(rows), "%" PRId64, t->rows);
		snprintf(bytes, sizeof(bytes), "%" PRId64, t->bytes);
		snprintf(chunks, sizeof(chunks), "%d", t->chunks);
		snprintf(all_rows, sizeof(all_rows), "%" PRId64, ld->copy.rows);
		snprintf(all_bytes, sizeof(all_bytes), "%" PRId64, ld->copy.bytes);
		snprintf(all_total, sizeof(all_total), "%" PRId64, expected);
		(void) tp_pgsql_query(&ld->progress_pg,
							  finished ?
							  "WITH t AS (UPDATE teleport.load_table SET state = 'done',"
							  " rows = $4::bigint, bytes = $5::bigint, chunks = $6::integer,"
							  " finished_at = clock_timestamp()"
							  " WHERE load_id = $1::bigint AND schema_name = $2 AND table_name = $3)"
							  " UPDATE teleport.load SET rows = $7::bigint, bytes = $8::bigint,"
							  " last_seq = NULLIF($9::bigint, 0), total_bytes = $10::bigint,"
							  " updated_at = clock_timestamp() WHERE id = $1::bigint" :
							  "WITH t AS (UPDATE teleport.load_table SET state = 'copying',"
							  " rows = $4::bigint, bytes = $5::bigint, chunks = $6::integer,"
							  " started_at = coalesce(started_at, clock_timestamp())"
							  " WHERE load_id = $1::bigint AND schema_name = $2 AND table_name = $3)"
							  " UPDATE teleport.load SET rows = $7::bigint, bytes = $8::bigint,"
							  " last_seq = NULLIF($9::bigint, 0), total_bytes = $10::bigint,"
							  " updated_at = clock_timestamp() WHERE id = $1::bigint",
							  10, params, NULL, NULL);
	}
	format_mb(done, sizeof(done), ld->copy.bytes);
	format_mb(total, sizeof(total), expected);
	snprintf(overall, sizeof(overall), "%" PRId64 " rows, %s of about %s, %.1f MB/s, "
			 "about %.0f s left", ld->copy.rows, done, total, rate / 1e6, left);
	if (finished)
	{
		char		tb[32];

		format_mb(tb, sizeof(tb), t->bytes);
		if (ld->tty)
			fputc('\n', stderr);
		tp_info(COMPONENT, "table %s.%s copied: %" PRId64 " rows, %s in %d batches; in all %s",
				t->schema, t->name, t->rows, tb, t->chunks, overall);
	}
	if (ld->tty && (finished || now - ld->drawn_ms >= DRAW_EVERY_MS))
	{
		int			pct = expected > 0 ? (int) (100 * ld->copy.bytes / expected) : 0;

		ld->drawn_ms = now;
		if (pct > 100)
			pct = 99;
		fprintf(stderr, "\rloading %s.%s: %" PRId64 " rows  [%-25.*s] %3d%%  %s   ",
				t->schema, t->name, t->rows, pct / 4, "=========================", pct,
				overall);
		fflush(stderr);
	}
	else if (!ld->tty && now - ld->logged_ms >= LOG_EVERY_MS)
	{
		ld->logged_ms = now;
		tp_info(COMPONENT, "progress: %s; at %s.%s: %" PRId64 " rows",
				overall, t->schema, t->name, t->rows);
	}
}

/* Send the whole chain. False after logging. */
static bool
send_chain(load *ld)
{
	tp_lines	lines;
	char		line[128];
	size_t		len;
	char	   *pre = NULL;
	char	   *now = NULL;

	memset(&lines, 0, sizeof(lines));
	if (!schema_now(ld, &pre, &now) || !schema_lines(ld, true, &lines) ||
		!send_lines(ld, &lines) || !record_schema(ld, true, pre) || !send_begin(ld))
	{
		free(lines.data);
		free(pre);
		free(now);
		return false;
	}
	free(pre);
	ld->copy.conninfo = ld->conninfo;
	ld->copy.snapshot = ld->snapshot_name;
	ld->copy.load_id = ld->id;
	ld->copy.chunk_bytes = (size_t) ld->config->load_chunk_bytes;
	ld->copy.sender = &ld->sender;
	ld->copy.progress = on_progress;
	ld->copy.progress_arg = ld;
	tp_load_copy_plan(&ld->copy, (int) ld->config->load_jobs, ld->config->load_split_bytes);
	ld->started_ms = tp_clock_ms();
	ld->logged_ms = ld->started_ms;
	if (ld->copy.n_parts > 0 && !tp_load_copy_run(&ld->copy, (int) ld->config->load_jobs))
	{
		free(now);
		return false;
	}
	if (!schema_lines(ld, false, &lines) || !sequence_lines(ld, &lines) ||
		!send_lines(ld, &lines) || !record_schema(ld, false, now))
	{
		free(lines.data);
		free(now);
		return false;
	}
	free(now);
	len = step_line(line, sizeof(line), ld->id, "end");
	return tp_load_send(&ld->sender, TP_BATCH_LOAD, line, len, 1, true, false);
}

/*
 * Step 6
 */

/* Record the load as done and give the target back. */
static bool
finish(load *ld)
{
	char		id[24];
	char		last[24];
	char		rows[24];
	char		bytes[24];
	const char *params[4] = {id, last, rows, bytes};
	const char *target_params[2] = {id, ld->target->name};

	snprintf(id, sizeof(id), "%" PRId64, ld->id);
	snprintf(last, sizeof(last), "%" PRIu64, ld->sender.last_seq);
	snprintf(rows, sizeof(rows), "%" PRId64, ld->copy.rows);
	snprintf(bytes, sizeof(bytes), "%" PRId64, ld->copy.bytes);
	if (!tp_pgsql_exec(&ld->pg, "BEGIN") ||
		!tp_pgsql_query(&ld->pg,
						"UPDATE teleport.load SET state = 'done', last_seq = $2::bigint,"
						" rows = $3::bigint, bytes = $4::bigint,"
						" finished_at = clock_timestamp(), updated_at = clock_timestamp()"
						" WHERE id = $1::bigint",
						4, params, NULL, NULL) ||
		!tp_pgsql_query(&ld->pg,
						"UPDATE teleport.target SET loading = NULL"
						" WHERE name = $2 AND loading = $1::bigint",
						2, target_params, NULL, NULL) ||
		!tp_pgsql_exec(&ld->pg, "COMMIT"))
	{
		(void) tp_pgsql_exec(&ld->pg, "ROLLBACK");
		return false;
	}
	return true;
}

/* Record why the load failed, when the database can still be reached. */
static void
record_failure(load *ld, const char *reason)
{
	char		id[24];
	const char *params[2] = {id, reason};

	if (ld->id == 0 || ld->pg.conn == NULL || PQstatus(ld->pg.conn) != CONNECTION_OK)
		return;
	snprintf(id, sizeof(id), "%" PRId64, ld->id);
	(void) tp_pgsql_query(&ld->pg,
						  "UPDATE teleport.load SET state = 'failed', reason = $2,"
						  " finished_at = clock_timestamp() WHERE id = $1::bigint",
						  2, params, NULL, NULL);
}

/* See load.h. */
int
tp_load_run(const tp_config *config, const tp_target_config *target,
			const char *conninfo, tp_plugin_ctx *ctx, const tp_transport_callbacks *cb,
			tp_plugin_ctx *const *more, int n_more)
{
	load		ld;
	bool		ok;
	int			status = TP_EXIT_FAILURE;

	memset(&ld, 0, sizeof(ld));
	ld.config = config;
	ld.target = target;
	ld.conninfo = conninfo;
	ld.tty = isatty(STDERR_FILENO) == 1;
	tp_queue_filter_make(&ld.filter, &target->filter);
	ok = tp_pgsql_connect(&ld.pg, conninfo, "the initial load") &&
		tp_pgsql_pin_session(&ld.pg) &&
		tp_queue_install(&ld.pg, config) &&
		take_target(&ld);
	if (ok)
	{
		ok = tp_load_sender_init(&ld.sender, conninfo, target, config->database.name,
								 ctx, cb, ld.id);
		ld.sender.one_transaction = config->load_in_one_transaction;
		ld.sender_ready = true;
		for (int i = 0; ok && i < n_more; i++)
			ok = tp_load_sender_add_lane(&ld.sender, more[i]);
	}
	ok = ok && drain(&ld, ctx, cb) && fill_voids(&ld) &&
		tp_pgsql_connect(&ld.snap, conninfo, "the initial load's snapshot") &&
		tp_pgsql_pin_session(&ld.snap) &&
		tp_pgsql_exec(&ld.snap, "SET client_encoding TO 'UTF8'") &&
		tp_pgsql_connect(&ld.progress_pg, conninfo, "the initial load's progress") &&
		fix_snapshot(&ld);
	if (ok)
		tp_info(COMPONENT, "load %" PRId64 " of target \"%s\": %zu tables, about %.1f MB on "
				"disk, %d copy jobs, snapshot %s", ld.id, target->name, ld.copy.n_tables,
				(double) ld.total_bytes / 1e6, (int) config->load_jobs, ld.snapshot);
	ok = ok && send_chain(&ld) && finish(&ld);
	if (ok)
	{
		long long	ms = tp_clock_ms() - ld.started_ms;

		tp_info(COMPONENT, "load %" PRId64 " of target \"%s\" sent: %" PRId64 " rows, %.1f MB in "
				"batches %" PRIu64 " to %" PRIu64 " (%.1f s, %.1f MB/s); the target applies %s, "
				"then the changes made since", ld.id, target->name,
				ld.copy.rows, (double) ld.copy.bytes / 1e6, ld.sender.first_seq,
				ld.sender.last_seq, (double) ms / 1000.0,
				ms > 0 ? (double) ld.copy.bytes / 1e3 / (double) ms : 0.0,
				ld.sender.one_transaction ? "it in one transaction"
				: "the batches in order, each as it comes");
		status = TP_EXIT_OK;
	}
	else
	{
		record_failure(&ld, tp_host_stop_requested() ? "stopped" : "failed (see the log)");
		if (ld.id != 0)
			tp_error(COMPONENT, "load %" PRId64 " of target \"%s\" did not complete; run the "
					 "same command again to resume it (the target gets no batch meanwhile)",
					 ld.id, target->name);
	}
	if (ld.sender_ready)
		tp_load_sender_free(&ld.sender);
	tables_free(&ld.copy);
	tp_pgsql_close(&ld.snap);
	tp_pgsql_close(&ld.progress_pg);
	tp_pgsql_close(&ld.pg);
	tp_queue_filter_free(&ld.filter);
	free(ld.snapshot);
	free(ld.snapshot_name);
	return status;
}
