/*
 * pg_apply.c
 *     One batch's changes applied as set-based statements.
 *
 * Changes of one table that fall in the same class and carry the same
 * columns form a group, applied by one or two statements that take all
 * its rows as one json array:
 *
 *   upsert    INSERT, and an UPDATE whose key does not change: the new row
 *             is upserted on the target's key (an UPDATE that finds no row
 *             therefore inserts it);
 *   delete    DELETE, located by the old key ("before");
 *   move      an UPDATE that changes the key: the old keys are deleted,
 *             then the new rows upserted;
 *   truncate  consecutive TRUNCATEs, in one TRUNCATE statement.
 *
 * Rows in text mode ("values":"text": each value its text form) and rows
 * as json renders them are read differently, so the mode is part of a
 * group's shape (PG_SHAPE_*) and the two never share a statement.
 *
 * A group never holds one key twice (the same row twice in one statement
 * is an error for an upsert, and would apply only one change for an
 * update). In an upsert group, a later row of a key the group holds
 * replaces the earlier one (both are whole rows: the later is the state
 * to reach), so that the rows of a few keys updated over and over (a
 * pgbench teller) do not cut the group; unless ordinary triggers of the
 * table fire for the applier, which then see every change. Otherwise a
 * repeated key starts a new group. A group holds changes of one origin
 * (teleport.origin is set with set_config(..., true) before a group of
 * another origin is sent, so that a target that is itself a source
 * records the original origin) and, but for key changes, is cut when its
 * rows exceed max_group_bytes.
 *
 * Each table has at most one open group (MAX_OPEN at most), so changes of
 * other tables in between do not cut it: only each table's own order
 * matters, since constraints are deferred. A table whose order against
 * other tables matters (a NOT DEFERRABLE foreign key to or from it, or
 * ordinary triggers) is "strict": before its changes every other open
 * group is sent, and before any other table's changes its group is. The
 * groups still open at the end of a partial batch stay open for the next
 * part (the same target transaction).
 *
 * Moves need care: the events of `UPDATE t SET id = id + 1` (1->2, 2->3,
 * ...) on a deferrable key look like a row moved twice (1->2, then 2->3)
 * by two statements. The first means "the row that had key 2 before the
 * statement", the second "the row just moved to 2". Deleting all old keys
 * before inserting all new rows is right for the first, wrong for the
 * second; and cutting a statement's moves into two groups is wrong for the
 * first (the first group's new row at 2 would take the place of the row
 * that the second group then moves away from 2, and the second group
 * would delete it). So a move group holds the moves of one statement
 * (source.stmt, with the txid): all its old keys name rows as they were
 * before the statement, and none of its keys repeats. An update of that
 * statement that keeps its key joins the group as a move onto its own key
 * rather than cutting it. Changes captured without source.stmt (0) fall
 * back to asking the target: when a move's old key is the new key of an
 * earlier move of its group (a link) and the row with that key existed
 * before the group (a set-based shift), the group stands; if not (the row
 * was just moved there), the group is cut before that move. An EXISTS
 * query per group with links tells which; it cannot tell a shift cut by
 * another key of the group apart, hence source.stmt.
 *
 * A batch is in event id order: a statement's moves come interleaved with
 * the changes of concurrent transactions. What those force out (a schema
 * change, a TRUNCATE, an order-sensitive table, too many open groups)
 * leaves the move group of another transaction's statement open
 * (in_flight), so that it is never cut.
 *
 * A batch of an initial load (TP_BATCH_LOAD) is applied by pg_load.c,
 * after every open group is sent: its COPY needs the connection out of
 * pipeline mode.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* The reason buffer of a failure. */
#define REASON_LEN 1024

typedef enum gclass
{
	G_NONE = 0,
	G_UPSERT,
	G_DELETE,
	G_MOVE,
	G_TRUNCATE
} gclass;

/* One change of a group: where its texts and keys are. */
typedef struct item
{
	size_t		before_off;		/* in group.befores; len 0: none */
	size_t		before_len;
	size_t		after_off;		/* in group.afters */
	size_t		after_len;
	size_t		oldkey_off;		/* in group.keys; len 0: none */
	size_t		oldkey_len;
	size_t		newkey_off;
	size_t		newkey_len;
	uint32_t	oldhash;
	uint32_t	newhash;
	int64_t		seq;			/* the change's source.seq */
	bool		link;			/* its old key is an earlier new key */
	bool		superseded;		/* a later upsert of its key replaced it */
} item;

/* A set of the old or new keys of a group's items (open addressing). */
typedef struct keyset
{
	int		   *slot;			/* item index + 1; 0: empty */
	size_t		cap;			/* a power of two, or 0 */
	size_t		n;
} keyset;

typedef struct group
{
	gclass		cls;
	pg_table   *t;
	char	   *shape_before;	/* of t's columns (PG_SHAPE_*) */
	char	   *shape_after;
	item	   *items;
	int			n;
	int			cap;
	pg_buf		befores;		/* "[b1,b2" ... (closed when sent) */
	pg_buf		afters;
	pg_buf		keys;
	keyset		oldset;
	keyset		newset;
	int			n_links;
	int			n_superseded;	/* items replaced by later ones */
	bool		collapse;		/* an upsert of a key it holds replaces it */
	int64_t		txid;			/* a move group: its changes' source.txid */
	int64_t		stmt;			/* ... and source.stmt (0: not known) */
	pg_buf		truncs;			/* "t1, t2" */
	pg_buf		origin;			/* the source.origin of its changes */
} group;

/* The most groups open at once (one per table, and one of truncates). */
#define MAX_OPEN 32

/*
 * A group (but a move) is sent once its rows reach this many bytes, while
 * the rest of the batch is read: the server applies it meanwhile (the two
 * run on different CPUs), rather than waiting for the whole batch to be
 * read first. Larger statements gain little more per row.
 */
#define EARLY_SEND_BYTES ((size_t) 32 * 1024)

/*
 * The groups open in the current transaction, and what carries over from
 * a partial batch to its next part.
 */
struct pg_open
{
	group		pool[MAX_OPEN]; /* cls G_NONE: free (buffers kept) */
	int			order[MAX_OPEN];	/* open groups by age: pool indexes */
	int			n;
	char	   *origin;			/* teleport.origin set in the transaction */
	bool		carried;		/* a partial batch left them open */
	char	   *source;			/* ... that batch's stream and seq */
	char	   *target;
	uint64_t	seq;
};

/* The state of one call of pg_apply_batch. */
typedef struct run
{
	tp_plugin_ctx *ctx;
	pg_applier *a;
	const tp_batch *batch;
	pg_exec    *ex;
	struct pg_open *o;			/* the open groups (r->a->open) */
	pj_object	before;
	pj_object	after;
	int		   *member_b;		/* per column: its member in before, or -1 */
	int		   *member_a;
	char	   *shape_b;
	char	   *shape_a;
	int			cols_cap;
	pg_buf		oldkey;			/* scratch */
	pg_buf		newkey;
	pg_buf		live;			/* an upsert group's rows but replaced ones */
	int64_t		ddl_skipped;
	tp_result	failure;		/* TP_OK while none */
	bool		logged;			/* the host logged the failure already */
	char		reason[REASON_LEN];
} run;

/* Record a failure of the run (the first one). Always false. */
static bool
fail(run *r, tp_result result, const char *fmt,...) TP_PRINTF(3, 4);

static bool
fail(run *r, tp_result result, const char *fmt,...)
{
	va_list		ap;

	if (r->failure != TP_OK)
		return false;
	r->failure = result;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return false;
}

/* Out of memory: a failure worth retrying. Always false. */
static bool
no_memory(run *r)
{
	return fail(r, TP_RETRY, "out of memory");
}

/* The name of a change's operation, for messages. */
static const char *
op_name(tp_change_op op)
{
	switch (op)
	{
		case TP_CHANGE_INSERT:
			return "insert";
		case TP_CHANGE_UPDATE:
			return "update";
		case TP_CHANGE_DELETE:
			return "delete";
		case TP_CHANGE_TRUNCATE:
			return "truncate";
		case TP_CHANGE_DDL:
			return "ddl";
	}
	return "change";
}

/*
 * Key sets
 */

/* FNV-1a of len bytes. */
static uint32_t
hash_bytes(const char *s, size_t len)
{
	uint32_t	h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char) s[i]) * 16777619u;
	return h;
}

/* The key of item i of g: old or new. */
static void
item_key(const group *g, int i, bool old, const char **key, size_t *len,
		 uint32_t *hash)
{
	const item *it = &g->items[i];

	*key = g->keys.data + (old ? it->oldkey_off : it->newkey_off);
	*len = old ? it->oldkey_len : it->newkey_len;
	*hash = old ? it->oldhash : it->newhash;
}

/*
 * The slot of ks (of g's old or new keys) that holds key, or NULL when it
 * does not.
 */
static int *
keyset_find(const group *g, const keyset *ks, bool old, const char *key,
			size_t len, uint32_t hash)
{
	if (ks->cap == 0)
		return NULL;
	for (size_t i = hash & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1))
	{
		const char *k;
		size_t		klen;
		uint32_t	khash;

		if (ks->slot[i] == 0)
			return NULL;
		item_key(g, ks->slot[i] - 1, old, &k, &klen, &khash);
		if (khash == hash && klen == len && memcmp(k, key, len) == 0)
			return &ks->slot[i];
	}
}

/* Whether ks (of g's old or new keys) holds key. */
static bool
keyset_has(const group *g, const keyset *ks, bool old, const char *key,
		   size_t len, uint32_t hash)
{
	return keyset_find(g, ks, old, key, len, hash) != NULL;
}

/* Put item index into ks; false when memory ran out. */
static bool
keyset_add(const group *g, keyset *ks, bool old, int index)
{
	const char *k;
	size_t		len;
	uint32_t	hash;

	if ((ks->n + 1) * 2 > ks->cap)
	{
		size_t		cap = ks->cap ? ks->cap * 2 : 64;
		int		   *slot = calloc(cap, sizeof(int));

		if (slot == NULL)
			return false;
		for (size_t i = 0; i < ks->cap; i++)
		{
			if (ks->slot[i] == 0)
				continue;
			item_key(g, ks->slot[i] - 1, old, &k, &len, &hash);
			for (size_t j = hash & (cap - 1);; j = (j + 1) & (cap - 1))
			{
				if (slot[j] == 0)
				{
					slot[j] = ks->slot[i];
					break;
				}
			}
		}
		free(ks->slot);
		ks->slot = slot;
		ks->cap = cap;
	}
	item_key(g, index, old, &k, &len, &hash);
	for (size_t j = hash & (ks->cap - 1);; j = (j + 1) & (ks->cap - 1))
	{
		if (ks->slot[j] == 0)
		{
			ks->slot[j] = index + 1;
			ks->n++;
			return true;
		}
	}
}

/*
 * Groups
 */

/* Empty g, keeping its buffers for the next group. */
static void
group_clear(group *g)
{
	g->cls = G_NONE;
	if (g->t != NULL)
		g->t->pins--;
	g->t = NULL;
	g->n = 0;
	g->n_links = 0;
	g->n_superseded = 0;
	g->collapse = false;
	g->txid = 0;
	g->stmt = 0;
	g->befores.len = 0;
	g->afters.len = 0;
	g->keys.len = 0;
	g->truncs.len = 0;
	g->origin.len = 0;
	if (g->oldset.cap > 0)
		memset(g->oldset.slot, 0, g->oldset.cap * sizeof(int));
	if (g->newset.cap > 0)
		memset(g->newset.slot, 0, g->newset.cap * sizeof(int));
	g->oldset.n = 0;
	g->newset.n = 0;
}

/* Free what g holds. */
static void
group_free(group *g)
{
	free(g->shape_before);
	free(g->shape_after);
	free(g->items);
	pg_buf_free(&g->befores);
	pg_buf_free(&g->afters);
	pg_buf_free(&g->keys);
	pg_buf_free(&g->truncs);
	pg_buf_free(&g->origin);
	free(g->oldset.slot);
	if (g->t != NULL)
		g->t->pins--;
	free(g->newset.slot);
	memset(g, 0, sizeof(*g));
}

/*
 * Start g as a group of cls on t with the shapes (copied), for changes of
 * origin.
 */
static bool
group_start(group *g, gclass cls, pg_table *t, const char *shape_b,
			const char *shape_a, const char *origin)
{
	size_t		n = (size_t) t->n_cols + 2;
	char	   *sb = realloc(g->shape_before, n);
	char	   *sa;

	if (sb == NULL)
		return false;
	g->shape_before = sb;
	g->origin.len = 0;
	if (!pg_buf_str(&g->origin, origin))
		return false;
	sa = realloc(g->shape_after, n);
	if (sa == NULL)
		return false;
	g->shape_after = sa;
	memcpy(g->shape_before, shape_b, n);
	memcpy(g->shape_after, shape_a, n);
	g->cls = cls;
	g->t = t;
	t->pins++;
	return true;
}

/* Append text to a json array being built ("[a,b"); *off is where it went. */
static bool
array_add(pg_buf *b, const char *text, size_t len, size_t *off)
{
	if (!pg_buf_add(b, b->len == 0 ? "[" : ",", 1))
		return false;
	*off = b->len;
	return pg_buf_add(b, text, len);
}

/*
 * Add a change to g (which fits: class, table, shapes, no repeated key):
 * its before and after texts (NULL: none) and keys (len 0: none). Marks a
 * move whose old key is the new key of an earlier move as a link.
 */
static bool
group_add(group *g, const char *before, size_t before_len, const char *after,
		  size_t after_len, const char *oldkey, size_t oldkey_len,
		  const char *newkey, size_t newkey_len, int64_t seq)
{
	int		   *same = NULL;

	/* an upsert of a key the group holds replaces the earlier one */
	if (g->collapse && newkey_len > 0)
		same = keyset_find(g, &g->newset, false, newkey, newkey_len,
						   hash_bytes(newkey, newkey_len));
	item	   *it;

	if (g->n == g->cap)
	{
		int			cap = g->cap ? g->cap * 2 : 64;
		item	   *items = realloc(g->items, (size_t) cap * sizeof(item));

		if (items == NULL)
			return false;
		g->items = items;
		g->cap = cap;
	}
	it = &g->items[g->n];
	memset(it, 0, sizeof(*it));
	it->seq = seq;
	if (before != NULL && !array_add(&g->befores, before, before_len, &it->before_off))
		return false;
	it->before_len = before ? before_len : 0;
	if (after != NULL && !array_add(&g->afters, after, after_len, &it->after_off))
		return false;
	it->after_len = after ? after_len : 0;
	if (oldkey_len > 0)
	{
		it->oldkey_off = g->keys.len;
		it->oldkey_len = oldkey_len;
		it->oldhash = hash_bytes(oldkey, oldkey_len);
		if (!pg_buf_add(&g->keys, oldkey, oldkey_len))
			return false;
	}
	if (newkey_len > 0)
	{
		it->newkey_off = g->keys.len;
		it->newkey_len = newkey_len;
		it->newhash = hash_bytes(newkey, newkey_len);
		if (!pg_buf_add(&g->keys, newkey, newkey_len))
			return false;
	}
	if (g->cls == G_MOVE && oldkey_len > 0 &&
		keyset_has(g, &g->newset, false, oldkey, oldkey_len, it->oldhash))
	{
		it->link = true;
		g->n_links++;
	}
	g->n++;
	if (same != NULL)
	{
		g->items[*same - 1].superseded = true;
		g->n_superseded++;
		*same = g->n;
		return true;
	}
	if (oldkey_len > 0 && !keyset_add(g, &g->oldset, true, g->n - 1))
		return false;
	if (newkey_len > 0 && !keyset_add(g, &g->newset, false, g->n - 1))
		return false;
	return true;
}

/*
 * Sending a group
 */

/* Describe g's changes (first to last seq) for messages. */
static void
describe(const run *r, const group *g, const char *verb, char *buf, size_t len)
{
	snprintf(buf, len, "%s of %d row(s) of %s (changes %" PRId64 " to %" PRId64
			 " of batch %" PRIu64 ")", verb, g->n, g->t->qualified,
			 g->n > 0 ? g->items[0].seq : 0, g->n > 0 ? g->items[g->n - 1].seq : 0,
			 r->batch->seq);
}

/* Close a json array built by array_add ("[a,b" -> "[a,b]"). */
static bool
array_close(pg_buf *b)
{
	return pg_buf_add(b, b->len == 0 ? "[]" : "]", b->len == 0 ? 2 : 1);
}

/* Send the statements that upsert the rows of afters (of shape) into t. */
static bool
send_upsert(run *r, pg_table *t, const char *shape, const char *afters,
			const char *what)
{
	char		reason[REASON_LEN];
	const char *params[1] = {afters};
	pg_stmt    *s;

	if (t->n_key > 0 && !t->key_immediate)
	{
		/* a deferrable key is no arbiter: delete the keys, then insert */
		char	   *keyshape = malloc((size_t) t->n_cols + 2);

		if (keyshape == NULL)
			return no_memory(r);
		for (int i = 0; i < t->n_cols; i++)
			keyshape[i] = t->cols[i].key_pos > 0 ? '1' : '0';
		keyshape[t->n_cols] = shape[t->n_cols];
		keyshape[t->n_cols + 1] = '\0';
		s = pg_table_stmt(t, PG_STMT_DELETE, keyshape, reason, sizeof(reason));
		free(keyshape);
		if (s == NULL)
			return fail(r, TP_RETRY, "%s: %s", what, reason);
		pg_exec_send(r->ex, NULL, s, 1, params, what, 0);
	}
	s = pg_table_stmt(t, t->n_key > 0 && t->key_immediate ? PG_STMT_UPSERT : PG_STMT_INSERT,
					  shape, reason, sizeof(reason));
	if (s == NULL)
		return fail(r, TP_RETRY, "%s: %s", what, reason);
	pg_exec_send(r->ex, NULL, s, 1, params, what, 0);
	return true;
}

/* Send the DELETE of the keys of befores (of shape) from t. */
static bool
send_delete(run *r, pg_table *t, const char *shape, const char *befores,
			int n, const char *what)
{
	char		reason[REASON_LEN];
	const char *params[1] = {befores};
	pg_stmt    *s = pg_table_stmt(t, PG_STMT_DELETE, shape, reason, sizeof(reason));

	if (s == NULL)
		return fail(r, TP_RETRY, "%s: %s", what, reason);
	pg_exec_send(r->ex, NULL, s, 1, params, what, n);
	return true;
}

/*
 * For a move group with links: the index of the first link whose old key
 * did not exist on the target before the group (the row was moved there
 * by the group itself), or g->n when every one existed; -1 on failure.
 */
static int
first_unfounded_link(run *r, group *g)
{
	pg_buf		keys = {NULL, 0, 0};
	char		reason[REASON_LEN];
	char		what[512];
	const char *params[1];
	PGresult   *res;
	pg_stmt    *s;
	bool	   *exists;
	int			n = 0;
	int			found = g->n;

	for (int i = 0; i < g->n; i++)
	{
		size_t		off;
		const item *it = &g->items[i];

		if (it->link &&
			!array_add(&keys, g->befores.data + it->before_off, it->before_len, &off))
		{
			pg_buf_free(&keys);
			no_memory(r);
			return -1;
		}
		n += it->link;
	}
	describe(r, g, "looking up the old keys of a key change", what, sizeof(what));
	s = pg_table_stmt(g->t, PG_STMT_EXISTS, g->shape_before, reason, sizeof(reason));
	if (s == NULL || !array_close(&keys))
	{
		pg_buf_free(&keys);
		fail(r, TP_RETRY, "%s: %s", what, s == NULL ? reason : "out of memory");
		return -1;
	}
	params[0] = keys.data;
	res = pg_exec_query(r->ex, NULL, s, 1, params, what);
	pg_buf_free(&keys);
	if (res == NULL)
		return -1;
	exists = calloc((size_t) n + 1, sizeof(bool));
	if (exists == NULL)
	{
		PQclear(res);
		no_memory(r);
		return -1;
	}
	for (int row = 0; row < PQntuples(res); row++)
	{
		long		k = strtol(PQgetvalue(res, row, 0), NULL, 10);

		if (k >= 1 && k <= n)
			exists[k] = true;
	}
	PQclear(res);
	for (int i = 0, k = 0; i < g->n; i++)
	{
		if (!g->items[i].link)
			continue;
		if (!exists[++k])
		{
			found = i;
			break;
		}
	}
	free(exists);
	return found;
}

/* Send a move group: delete the old keys, then upsert the new rows. */
static bool
send_move(run *r, group *g)
{
	char		what[512];

	if (!array_close(&g->befores) || !array_close(&g->afters))
		return no_memory(r);
	describe(r, g, "key-changing update", what, sizeof(what));
	return send_delete(r, g->t, g->shape_before, g->befores.data, g->n, what) &&
		send_upsert(r, g->t, g->shape_after, g->afters.data, what);
}

/*
 * Cut g before item j: the items from j on go to tail (a new group of the
 * same kind, links recomputed), g keeps the ones before.
 */
static bool
split_group(group *g, int j, group *tail)
{
	memset(tail, 0, sizeof(*tail));
	if (!group_start(tail, g->cls, g->t, g->shape_before, g->shape_after,
					 g->origin.data))
		return false;
	tail->txid = g->txid;
	tail->stmt = g->stmt;
	for (int i = j; i < g->n; i++)
	{
		const item *it = &g->items[i];

		if (!group_add(tail, g->befores.data + it->before_off, it->before_len,
					   g->afters.data + it->after_off, it->after_len,
					   g->keys.data + it->oldkey_off, it->oldkey_len,
					   g->keys.data + it->newkey_off, it->newkey_len, it->seq))
			return false;
	}
	/* drop the tail's texts from g's arrays (with their separators) */
	g->befores.len = g->items[j].before_off - 1;
	g->afters.len = g->items[j].after_off - 1;
	g->befores.data[g->befores.len] = '\0';
	g->afters.data[g->afters.len] = '\0';
	g->n = j;
	return true;
}

/*
 * The after texts of g's items that no later item replaced, as a json
 * array being built ("[a,b") in live (emptied first).
 */
static bool
live_afters(const group *g, pg_buf *live)
{
	size_t		off;

	live->len = 0;
	for (int i = 0; i < g->n; i++)
	{
		const item *it = &g->items[i];

		if (!it->superseded &&
			!array_add(live, g->afters.data + it->after_off, it->after_len, &off))
			return false;
	}
	return true;
}

/*
 * Set teleport.origin in the target transaction to origin, unless it is
 * set so already (the statements that follow are of changes of origin).
 */
static bool
use_origin(run *r, const char *origin)
{
	const char *params[1] = {origin};
	char	   *copy;

	if (r->o->origin != NULL && strcmp(r->o->origin, origin) == 0)
		return true;
	copy = strdup(origin);
	if (copy == NULL)
		return no_memory(r);
	free(r->o->origin);
	r->o->origin = copy;
	pg_exec_send(r->ex, "SELECT pg_catalog.set_config('teleport.origin', $1, true)",
				 NULL, 1, params, "setting teleport.origin", 0);
	return true;
}

/* Send the group g (open or not), and empty it. */
static bool
send_group(run *r, group *g)
{
	char		what[512];
	bool		ok = true;

	if (g->cls != G_NONE && !use_origin(r, g->origin.data))
		return false;
	switch (g->cls)
	{
		case G_NONE:
			return true;
		case G_UPSERT:
			describe(r, g, "insert or update", what, sizeof(what));
			if (g->n_superseded > 0)
				ok = live_afters(g, &r->live) && array_close(&r->live) ?
					send_upsert(r, g->t, g->shape_after, r->live.data, what) :
					no_memory(r);
			else
				ok = array_close(&g->afters) ? send_upsert(r, g->t, g->shape_after,
														   g->afters.data, what)
					: no_memory(r);
			break;
		case G_DELETE:
			describe(r, g, "delete", what, sizeof(what));
			ok = array_close(&g->befores) ? send_delete(r, g->t, g->shape_before,
														g->befores.data, g->n, what)
				: no_memory(r);
			break;
		case G_MOVE:
			/* a statement's links name rows as they were before it */
			while (ok && g->n_links > 0 && g->stmt == 0)
			{
				int			j = first_unfounded_link(r, g);
				group		tail;

				if (j < 0)
					return false;
				if (j >= g->n)
					break;
				/* the row at item j's old key is the one moved there before */
				if (!split_group(g, j, &tail))
				{
					group_free(&tail);
					return no_memory(r);
				}
				ok = send_move(r, g);
				group_free(g);
				*g = tail;
			}
			ok = ok && send_move(r, g);
			break;
		case G_TRUNCATE:
			{
				pg_buf		sql = {NULL, 0, 0};

				snprintf(what, sizeof(what), "truncate of %s (batch %" PRIu64 ")",
						 g->truncs.data, r->batch->seq);
				if (!pg_buf_str(&sql, "TRUNCATE ") || !pg_buf_str(&sql, g->truncs.data))
					ok = no_memory(r);
				else
					pg_exec_send(r->ex, sql.data, NULL, 0, NULL, what, 0);
				pg_buf_free(&sql);
				break;
			}
	}
	group_clear(g);
	return ok && !r->ex->failed;
}

/* Send the open group in slot, and close it. */
static bool
flush_slot(run *r, int slot)
{
	struct pg_open *o = r->o;

	for (int i = 0; i < o->n; i++)
	{
		if (o->order[i] == slot)
		{
			memmove(&o->order[i], &o->order[i + 1], (size_t) (o->n - i - 1) * sizeof(int));
			o->n--;
			break;
		}
	}
	return send_group(r, &o->pool[slot]);
}

/* Send every open group, oldest first. */
static bool
flush_all(run *r)
{
	while (r->o->n > 0)
	{
		if (!flush_slot(r, r->o->order[0]))
			return false;
	}
	return true;
}

/*
 * Whether g is the move group of a statement that may still be going on
 * when change c comes: c is of another source transaction. Its rows are
 * interleaved (by event id) with those of concurrent transactions; cut
 * in two, a set-based shift would lose rows (see the file's header). Its
 * rows are locked on the source until it commits, so no change of
 * another transaction that it could matter to comes before its end.
 */
static bool
in_flight(const group *g, const tp_change *c)
{
	return g->cls == G_MOVE && g->stmt != 0 && g->txid != c->txid;
}

/*
 * Before change c, which must not overtake any open group: send every
 * open group, oldest first, but the moves of statements still going on.
 */
static bool
flush_others(run *r, const tp_change *c)
{
	for (int i = 0; i < r->o->n;)
	{
		int			slot = r->o->order[i];

		if (in_flight(&r->o->pool[slot], c))
		{
			i++;
			continue;
		}
		if (!flush_slot(r, slot))
			return false;
	}
	return true;
}

/*
 * Whether the changes of t may be grouped with later changes of t across
 * changes of other tables: only the order of each table's own changes
 * matters then. Not for a table with a foreign key checked at once (to or
 * from it) or ordinary triggers that fire for the applier (they might
 * see the other tables); teleport's own capture triggers do not count.
 */
static bool
reorderable(const run *r, const pg_table *t)
{
	if (r->a->replica_role)
		return !t->triggers_replica;
	return !t->strict_fk && !t->triggers_origin;
}

/*
 * Whether ordinary triggers of t fire for the applier's writes (then each
 * change is written as it came, so that they see each one).
 */
static bool
fires_triggers(const run *r, const pg_table *t)
{
	return r->a->replica_role ? t->triggers_replica : t->triggers_origin;
}

/* Whether the open group g must not be overtaken by other tables' changes. */
static bool
strict_group(const run *r, const group *g)
{
	return g->cls == G_TRUNCATE || !reorderable(r, g->t);
}

/*
 * Before change c of table t: send the open groups it must not overtake
 * (every other group when t is order-sensitive; the order-sensitive
 * groups otherwise), and all of them when they hold too much; but never
 * the moves of a statement still going on (in_flight).
 */
static bool
flush_before(run *r, const tp_change *c, const pg_table *t, bool t_strict)
{
	struct pg_open *o = r->o;
	size_t		bytes = 0;

	for (int i = 0; i < o->n; i++)
	{
		const group *g = &o->pool[o->order[i]];

		bytes += g->befores.len + g->afters.len;
	}
	if (bytes >= (size_t) 8 * r->a->max_group_bytes)
		return flush_others(r, c);
	for (int i = 0; i < o->n;)
	{
		int			slot = o->order[i];
		const group *g = &o->pool[slot];

		if ((g->cls == G_TRUNCATE || g->t != t) && (t_strict || strict_group(r, g)) &&
			!in_flight(g, c))
		{
			if (!flush_slot(r, slot))
				return false;
			continue;
		}
		i++;
	}
	return true;
}

/* The open group of t's rows, or -1. */
static int
slot_of(const run *r, const pg_table *t)
{
	for (int i = 0; i < r->o->n; i++)
	{
		const group *g = &r->o->pool[r->o->order[i]];

		if (g->cls != G_TRUNCATE && g->t == t)
			return r->o->order[i];
	}
	return -1;
}

/*
 * A free slot for change c, opened (sending the groups flush_others sends
 * when none is free, and then every group if need be).
 */
static int
open_slot(run *r, const tp_change *c)
{
	struct pg_open *o = r->o;

	if (o->n == MAX_OPEN && !flush_others(r, c))
		return -1;
	if (o->n == MAX_OPEN && !flush_all(r))
		return -1;
	for (int i = 0; i < MAX_OPEN; i++)
	{
		bool		used = false;

		for (int k = 0; k < o->n; k++)
			used = used || o->order[k] == i;
		if (!used)
		{
			o->order[o->n++] = i;
			return i;
		}
	}
	return -1;
}

/* Close every open group without sending it (a failure, a new session). */
static void
drop_open(struct pg_open *o)
{
	for (int i = 0; i < MAX_OPEN; i++)
		group_clear(&o->pool[i]);
	o->n = 0;
	free(o->origin);
	o->origin = NULL;
	o->carried = false;
	free(o->source);
	free(o->target);
	o->source = NULL;
	o->target = NULL;
}

/*
 * Changes
 */

/* Make room for n columns in the run's per-column arrays. */
static bool
columns_room(run *r, int n)
{
	int		   *mb;
	int		   *ma;
	char	   *sb;
	char	   *sa;

	if (n < r->cols_cap)
		return true;
	mb = realloc(r->member_b, (size_t) (n + 1) * sizeof(int));
	if (mb != NULL)
		r->member_b = mb;
	ma = realloc(r->member_a, (size_t) (n + 1) * sizeof(int));
	if (ma != NULL)
		r->member_a = ma;
	sb = realloc(r->shape_b, (size_t) n + 2);
	if (sb != NULL)
		r->shape_b = sb;
	sa = realloc(r->shape_a, (size_t) n + 2);
	if (sa != NULL)
		r->shape_a = sa;
	if (mb == NULL || ma == NULL || sb == NULL || sa == NULL)
		return false;
	r->cols_cap = n + 1;
	return true;
}

/* Set shape to no column of t present, in the mode of change c. */
static void
shape_reset(char *shape, const pg_table *t, const tp_change *c)
{
	memset(shape, '0', (size_t) t->n_cols);
	shape[t->n_cols] = TP_HAS_FIELD(c, tp_change, text_values) && c->text_values ?
		PG_SHAPE_TEXT : PG_SHAPE_JSON;
	shape[t->n_cols + 1] = '\0';
}

/*
 * Parse the row text of change c (before or after) into obj and map its
 * members to t's columns: shape (see PG_SHAPE_*), member (index per
 * column). An unknown column is a failure (held, not dropped).
 */
static bool
map_row(run *r, const tp_change *c, pg_table *t, const char *text,
		const char *which, pj_object *obj, char *shape, int *member)
{
	shape_reset(shape, t, c);
	for (int i = 0; i < t->n_cols; i++)
		member[i] = -1;
	if (!pj_parse_object(obj, text, strlen(text)))
		return fail(r, TP_ERROR, "change %" PRId64 " (%s of %s) of batch %" PRIu64
					" has a malformed \"%s\" object", c->seq, op_name(c->op),
					t->qualified, r->batch->seq, which);
	for (int m = 0; m < obj->n; m++)
	{
		const char *name = obj->members[m].name;
		int			col = -1;

		/* members come in column order, as row_to_json writes them */
		if (m < t->n_cols && strcmp(t->cols[m].name, name) == 0)
			col = m;
		else
			col = pg_table_column(t, name);
		if (col < 0)
			return fail(r, TP_RETRY, "table %s has no column \"%s\", which change %"
						PRId64 " (%s) of batch %" PRIu64 " carries: add the column on "
						"the target (the batch is held until then, nothing is dropped)",
						t->qualified, name, c->seq, op_name(c->op), r->batch->seq);
		shape[col] = '1';
		member[col] = m;
	}
	return true;
}

/*
 * The key of a row (obj, member) in t's key order into key: the values'
 * exact texts, each followed by 0x1f. False when t has no key or the row
 * lacks one of its columns.
 */
static bool
key_of(const pg_table *t, const pj_object *obj, const int *member, pg_buf *key)
{
	key->len = 0;
	if (t->n_key == 0)
		return false;
	for (int k = 1; k <= t->n_key; k++)
	{
		int			col = -1;

		for (int i = 0; i < t->n_cols; i++)
		{
			if (t->cols[i].key_pos == k)
				col = i;
		}
		if (col < 0 || member[col] < 0)
			return false;
		if (!pg_buf_add(key, obj->members[member[col]].value,
						obj->members[member[col]].value_len) ||
			!pg_buf_add(key, "\x1f", 1))
			return false;
	}
	return true;
}

/* The target table of change c, existing; else a failure. */
static pg_table *
table_of(run *r, const tp_change *c)
{
	char		reason[REASON_LEN];
	pg_table   *t;

	if (c->table == NULL)
	{
		fail(r, TP_ERROR, "change %" PRId64 " (%s) of batch %" PRIu64 " names no table",
			 c->seq, op_name(c->op), r->batch->seq);
		return NULL;
	}
	t = pg_tables_get(&r->a->tables, r->ex, r->batch->apply_schema, c->table,
					  reason, sizeof(reason));
	if (t == NULL)
	{
		fail(r, TP_RETRY, "%s", reason);
		return NULL;
	}
	if (!t->exists)
	{
		fail(r, TP_RETRY, "table %s does not exist on the target (change %" PRId64
			 ", %s of %s.%s, batch %" PRIu64 "): create it; the batch is held until then",
			 t->qualified, c->seq, op_name(c->op), c->schema, c->table, r->batch->seq);
		return NULL;
	}
	if (!columns_room(r, t->n_cols))
	{
		no_memory(r);
		return NULL;
	}
	return t;
}

/* A TRUNCATE: joins the truncate group. */
static bool
add_truncate(run *r, const tp_change *c)
{
	pg_table   *t = table_of(r, c);
	group	   *g;

	if (t == NULL)
		return false;
	/* truncates join only the last group, of truncates of the same origin */
	g = r->o->n > 0 ? &r->o->pool[r->o->order[r->o->n - 1]] : NULL;
	if (g == NULL || g->cls != G_TRUNCATE || strcmp(g->origin.data, c->origin) != 0)
	{
		int			slot;

		if (!flush_others(r, c) || (slot = open_slot(r, c)) < 0)
			return false;
		g = &r->o->pool[slot];
		g->cls = G_TRUNCATE;
		g->t = t;
		t->pins++;
		g->origin.len = 0;
		if (!pg_buf_str(&g->origin, c->origin))
			return no_memory(r);
	}
	if (g->truncs.len > 0 && !pg_buf_str(&g->truncs, ", "))
		return no_memory(r);
	return pg_buf_str(&g->truncs, t->qualified) ? true : no_memory(r);
}

/* An INSERT, UPDATE or DELETE: into the current group, or a new one. */
static bool
add_row_change(run *r, const tp_change *c)
{
	pg_table   *t = table_of(r, c);
	int64_t		stmt = TP_HAS_FIELD(c, tp_change, stmt) ? c->stmt : 0;
	group	   *g = NULL;
	int			slot;
	gclass		cls;
	bool		has_old = false;
	bool		has_new = false;

	if (t == NULL)
		return false;
	shape_reset(r->shape_a, t, c);
	shape_reset(r->shape_b, t, c);
	if (c->after != NULL &&
		!map_row(r, c, t, c->after, "after", &r->after, r->shape_a, r->member_a))
		return false;
	if (c->before != NULL &&
		!map_row(r, c, t, c->before, "before", &r->before, r->shape_b, r->member_b))
		return false;
	if ((c->op != TP_CHANGE_DELETE && c->after == NULL) ||
		(c->op != TP_CHANGE_INSERT && c->before == NULL))
		return fail(r, TP_ERROR, "change %" PRId64 " (%s of %s) of batch %" PRIu64
					" lacks its row", c->seq, op_name(c->op), t->qualified, r->batch->seq);

	if (c->after != NULL)
		has_new = key_of(t, &r->after, r->member_a, &r->newkey);
	if (c->before != NULL)
	{
		has_old = key_of(t, &r->before, r->member_b, &r->oldkey);
		if (!has_old)
		{
			/* the target's key is not in before: the whole old key is */
			r->oldkey.len = 0;
			if (!pg_buf_add(&r->oldkey, "\x1e", 1) ||
				!pg_buf_str(&r->oldkey, c->before))
				return no_memory(r);
		}
	}
	if (c->op == TP_CHANGE_INSERT)
		cls = G_UPSERT;
	else if (c->op == TP_CHANGE_DELETE)
		cls = G_DELETE;
	else if (has_old && has_new && r->oldkey.len == r->newkey.len &&
			 memcmp(r->oldkey.data, r->newkey.data, r->oldkey.len) == 0)
		cls = G_UPSERT;
	else
		cls = G_MOVE;

	/* does it fit the table's open group? */
	if (!flush_before(r, c, t, !reorderable(r, t)))
		return false;
	slot = slot_of(r, t);
	if (slot >= 0)
	{
		g = &r->o->pool[slot];

		/*
		 * An update that keeps its key, amid the key changes of its
		 * statement, joins them as a move onto its own key, so that the
		 * statement's moves are not cut in two (see the file's header).
		 */
		if (cls == G_UPSERT && c->op == TP_CHANGE_UPDATE && stmt != 0 &&
			has_old && has_new && g->cls == G_MOVE && g->stmt == stmt &&
			g->txid == c->txid)
			cls = G_MOVE;

		bool		fits = g->cls == cls && g->t == t &&
			strcmp(g->origin.data, c->origin) == 0 &&
			(cls != G_MOVE || (g->stmt == stmt && (stmt == 0 || g->txid == c->txid))) &&
			(cls == G_DELETE || strcmp(g->shape_after, r->shape_a) == 0) &&
			(cls == G_UPSERT || strcmp(g->shape_before, r->shape_b) == 0) &&
			(cls == G_MOVE || g->befores.len + g->afters.len < r->a->max_group_bytes);

		if (fits && cls != G_UPSERT &&
			keyset_has(g, &g->oldset, true, r->oldkey.data, r->oldkey.len,
					   hash_bytes(r->oldkey.data, r->oldkey.len)))
			fits = false;
		if (fits && cls != G_DELETE && !g->collapse && has_new &&
			keyset_has(g, &g->newset, false, r->newkey.data, r->newkey.len,
					   hash_bytes(r->newkey.data, r->newkey.len)))
			fits = false;
		if (!fits)
		{
			if (!flush_slot(r, slot))
				return false;
			slot = -1;
		}
	}
	if (slot < 0)
	{
		if ((slot = open_slot(r, c)) < 0)
			return false;
		g = &r->o->pool[slot];
		if (!group_start(g, cls, t, r->shape_b, r->shape_a, c->origin))
			return no_memory(r);
		g->txid = c->txid;
		g->stmt = cls == G_MOVE ? stmt : 0;
		g->collapse = cls == G_UPSERT && !fires_triggers(r, t);
	}
	if (!group_add(g, cls == G_UPSERT ? NULL : c->before,
				   cls == G_UPSERT || c->before == NULL ? 0 : strlen(c->before),
				   cls == G_DELETE ? NULL : c->after,
				   cls == G_DELETE || c->after == NULL ? 0 : strlen(c->after),
				   r->oldkey.data, cls == G_UPSERT ? 0 : r->oldkey.len,
				   r->newkey.data, cls != G_DELETE && has_new ? r->newkey.len : 0,
				   c->seq))
		return no_memory(r);
	/* sent now, to run while the rest is read: only its table's order matters */
	if (cls != G_MOVE && g->befores.len + g->afters.len >= EARLY_SEND_BYTES)
		return flush_slot(r, slot);
	return true;
}

/*
 * A DDL event: a schema or table change goes to pg_ddl.c, after the open
 * groups; a sequence's value is set forward in apply_schema (setval to the
 * greater of its value and the source's; nothing when it does not exist
 * there); anything else is counted as not applied.
 */
static bool
add_ddl(run *r, const tp_change *c)
{
	const pj_member *type;
	const pj_member *seq;
	const pj_member *value;
	char	   *type_text = NULL;
	char	   *seq_name = NULL;
	char	   *value_text = NULL;
	bool		ok = true;

	if (c->ddl == NULL || !pj_parse_object(&r->after, c->ddl, strlen(c->ddl)))
		return fail(r, TP_ERROR, "change %" PRId64 " (ddl) of batch %" PRIu64
					" has no well-formed \"ddl\" object", c->seq, r->batch->seq);
	type = pj_find(&r->after, "type");
	if (type != NULL)
		type_text = pj_string(type->value, type->value_len);
	if (type_text != NULL && pg_ddl_kind_known(type_text))
	{
		char		reason[REASON_LEN];
		tp_result	res;

		if (!flush_others(r, c) || !use_origin(r, c->origin))
		{
			free(type_text);
			return false;
		}
		res = pg_ddl_apply(r->a, r->ex, r->batch, c, type_text, &r->after,
						   reason, sizeof(reason));
		free(type_text);
		return res == TP_OK ? !r->ex->failed : fail(r, res, "%s", reason);
	}
	if (type_text == NULL || strcmp(type_text, "sequence_value") != 0)
	{
		r->ddl_skipped++;
		r->ctx->host->log(r->ctx, TP_LOG_DEBUG, "change %" PRId64 " of batch %" PRIu64
						  " (ddl \"%s\") is not applied", c->seq, r->batch->seq,
						  type_text ? type_text : "?");
		free(type_text);
		return true;
	}
	free(type_text);
	seq = pj_find(&r->after, "sequence");
	value = pj_find(&r->after, "value");
	if (seq != NULL)
		seq_name = pj_string(seq->value, seq->value_len);
	if (value != NULL && value->value_len > 0 && value->value_len < 32 &&
		(value->value[0] == '-' || (value->value[0] >= '0' && value->value[0] <= '9')))
		value_text = strndup(value->value, value->value_len);
	if (seq_name == NULL || value_text == NULL)
		ok = fail(r, TP_ERROR, "change %" PRId64 " (sequence_value) of batch %" PRIu64
				  " lacks a sequence name or an integer value", c->seq, r->batch->seq);
	else
	{
		/* not transactional, and never set back: no group need go first */
		const char *params[3] = {r->batch->apply_schema, seq_name, value_text};
		char		what[256];

		snprintf(what, sizeof(what), "setting sequence \"%s\".\"%s\" forward to %s "
				 "(change %" PRId64 " of batch %" PRIu64 ")", r->batch->apply_schema,
				 seq_name, value_text, c->seq, r->batch->seq);
		pg_exec_send(r->ex,
					 "SELECT pg_catalog.setval(c.oid, pg_catalog.int8larger("
					 "coalesce(pg_catalog.pg_sequence_last_value(c.oid), $3::bigint),"
					 " $3::bigint)) FROM pg_catalog.pg_class c"
					 " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
					 " WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'S'",
					 NULL, 3, params, what, 0);
	}
	free(seq_name);
	free(value_text);
	return ok;
}

/* See postgres.h. */
void
pg_apply_forget(pg_applier *a)
{
	if (a->open != NULL)
		drop_open(a->open);
}

/* See postgres.h. */
void
pg_apply_free(pg_applier *a)
{
	if (a->open == NULL)
		return;
	drop_open(a->open);
	for (int i = 0; i < MAX_OPEN; i++)
		group_free(&a->open->pool[i]);
	free(a->open);
	a->open = NULL;
}

/*
 * Keep the groups left open by the previous part of batch's source
 * transaction, if that is what it is; drop them otherwise (a retry starts
 * from the transaction's first part, in a new transaction).
 */
static void
adopt_open(run *r)
{
	struct pg_open *o = r->o;

	if (o->carried && o->seq + 1 == r->batch->seq &&
		strcmp(o->source, r->batch->source) == 0 &&
		strcmp(o->target, r->batch->target) == 0)
	{
		o->carried = false;
		return;
	}
	drop_open(o);
}

/*
 * Leave the open groups (and the origin set) for the next part of a
 * partial batch. False when memory ran out (the caller then sends them).
 */
static bool
carry_open(run *r)
{
	struct pg_open *o = r->o;
	char	   *source = strdup(r->batch->source);
	char	   *target = strdup(r->batch->target);

	if (source == NULL || target == NULL)
	{
		free(source);
		free(target);
		return false;
	}
	free(o->source);
	free(o->target);
	o->source = source;
	o->target = target;
	o->seq = r->batch->seq;
	o->carried = true;
	return true;
}

/* Free what a run holds. */
static void
run_free(run *r)
{
	pj_object_free(&r->before);
	pj_object_free(&r->after);
	free(r->member_b);
	free(r->member_a);
	free(r->shape_b);
	free(r->shape_a);
	pg_buf_free(&r->oldkey);
	pg_buf_free(&r->newkey);
	pg_buf_free(&r->live);
}

/* Add the changes of r's batch to the open groups, sending what must go. */
static void
apply_changes(run *r)
{
	const tp_host_api *host = r->ctx->host;
	tp_change_cursor cursor;
	tp_change	c;

	memset(&cursor, 0, sizeof(cursor));
	cursor.size = sizeof(cursor);
	for (;;)
	{
		bool		ok = true;

		if (host->change_next(r->ctx, r->batch, &cursor, &c) != TP_OK)
		{
			/* logged by the host, with the line and its problem */
			fail(r, TP_ERROR, "batch %" PRIu64 " from \"%s\" holds a malformed change "
				 "(line %" PRIu64 ")", r->batch->seq, r->batch->source, cursor.index + 1);
			r->logged = true;
			break;
		}
		if (c.size == 0)
			break;
		switch (c.op)
		{
			case TP_CHANGE_INSERT:
			case TP_CHANGE_UPDATE:
			case TP_CHANGE_DELETE:
				ok = add_row_change(r, &c);
				break;
			case TP_CHANGE_TRUNCATE:
				ok = add_truncate(r, &c);
				break;
			case TP_CHANGE_DDL:
				ok = add_ddl(r, &c);
				break;
		}
		if (!ok || r->ex->failed)
			break;
	}
	host->change_cursor_done(&cursor);
}

/*
 * A batch of an initial load (pg_load.c): every open group goes first
 * (the load's COPY leaves pipeline mode), and its rows are written as
 * coming from the batch's source.
 */
static void
apply_load(run *r)
{
	char		reason[REASON_LEN];
	tp_result	res;

	if (!flush_all(r) || !use_origin(r, r->batch->source))
		return;
	res = pg_load_apply(r->a, r->ex, r->batch, reason, sizeof(reason));
	if (res != TP_OK)
		fail(r, res, "%s", reason);
}

/* See postgres.h. */
tp_result
pg_apply_batch(tp_plugin_ctx *ctx, pg_applier *a, PGconn *conn,
			   const tp_batch *batch)
{
	const tp_host_api *host = ctx->host;
	run			r;

	memset(&r, 0, sizeof(r));
	r.ctx = ctx;
	r.a = a;
	r.batch = batch;
	r.ex = &a->exec;
	r.failure = TP_OK;
	if (a->open == NULL && (a->open = calloc(1, sizeof(struct pg_open))) == NULL)
	{
		host->log(ctx, TP_LOG_WARNING, "out of memory");
		return TP_RETRY;
	}
	r.o = a->open;
	adopt_open(&r);
	pg_exec_begin(r.ex, conn);
	a->set_aside_table = -1;
	if (a->tables.dirty)
	{
		/* after a failure: statements may be half made; start afresh */
		pg_tables_reset(&a->tables);
		pg_exec_send(r.ex, "DEALLOCATE ALL", NULL, 0, NULL, "forgetting prepared statements", 0);
		a->tables.dirty = false;
	}
	pg_exec_send(r.ex, "SET CONSTRAINTS ALL DEFERRED", NULL, 0, NULL,
				 "deferring constraints", 0);
	if (batch->kind == TP_BATCH_LOAD)
		apply_load(&r);
	else
		apply_changes(&r);
	if (r.failure == TP_OK && !r.ex->failed &&
		(!(batch->flags & TP_BATCH_PARTIAL) || !carry_open(&r)))
		(void) flush_all(&r);
	if (r.failure == TP_OK && batch->kind != TP_BATCH_LOAD)
	{
		pg_not_null_restore(a, r.ex);
		pg_set_aside_restore(a, r.ex);
	}
	if (!pg_exec_sync(r.ex) && r.failure == TP_OK)
		fail(&r, TP_RETRY, "%s", r.ex->error);
	pg_exec_end(r.ex);
	if (r.failure != TP_OK)
	{
		/* the catalog or the statements may be what changed: reload */
		drop_open(r.o);
		a->tables.dirty = true;
		if (!r.logged)
			host->log(ctx, r.failure == TP_ERROR ? TP_LOG_ERROR : TP_LOG_WARNING,
					  "%s", r.reason);
		run_free(&r);
		return r.failure;
	}
	if (r.ex->missing > 0)
	{
		a->deletes_missing += r.ex->missing;
		host->log(ctx, TP_LOG_DEBUG, "batch %" PRIu64 ": %" PRId64 " delete(s) or key "
				  "change(s) found no row on the target (%" PRId64 " since start)",
				  batch->seq, r.ex->missing, a->deletes_missing);
	}
	if (r.ddl_skipped > 0)
	{
		a->ddl_skipped += r.ddl_skipped;
		host->log(ctx, TP_LOG_INFO, "batch %" PRIu64 " from \"%s\": %" PRId64
				  " schema change event(s) of kinds this applier does not know "
				  "yet not applied (see docs/schema.md)",
				  batch->seq, batch->source, r.ddl_skipped);
	}
	run_free(&r);
	return TP_OK;
}
