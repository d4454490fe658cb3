/*
 * inbox.c
 *     The durable inbox of a receiving instance; see inbox.h, and the
 *     section "The inbox" of docs/queue.md for the tables and the rules.
 *
 * In short: a batch is stored in one transaction (synchronous_commit on)
 * that holds a transaction-level advisory lock on its stream (source,
 * target), reads the stream's last received seq, and either inserts the
 * batch and advances the stream (seq is the next one), or stores nothing
 * and answers DUPLICATE or CONFLICT (seq was received before: its row, if
 * still there, is compared by hash), or GAP (seq is beyond the next one).
 *
 * Connections: a small pool (POOL_SIZE), opened on demand and reopened at
 * the next call after a failure, so that stores of different streams run
 * in parallel; stores of one stream wait for each other on the advisory
 * lock in the database. The schema is installed once per tp_inbox, on the
 * first connection, under the same install lock as the queue's (the two
 * share the schema "teleport" and its schema_version table).
 *
 * Batches are checked here before anything is sent (kind, names, data
 * strictly UTF-8 as PostgreSQL checks it, line count), so PostgreSQL never
 * rejects a batch's text: any query failure is the database's, and is
 * answered UNAVAILABLE (retry later). Queries go through pgsql.c, which
 * logs their failures once.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "backoff.h"
#include "durable.h"
#include "inbox.h"
#include "clock.h"
#include "log.h"
#include "pgsql.h"
#include "xalloc.h"

#define COMPONENT "inbox"

/* The version of the inbox's schema this teleport installs. */
#define INBOX_SCHEMA_VERSION 4

/*
 * Advisory lock keys, as (classid, objid). The install lock is the queue's
 * ("tele", 1): both create the schema teleport and its schema_version.
 * Streams are locked under classid "inbx" with the hash of their names, so
 * they never meet the queue's own locks.
 */
#define LOCK_CLASS "1952803941"
#define LOCK_INSTALL "1"

/* lock_timeout of the install, and of a store (a wedged session) */
#define INSTALL_LOCK_TIMEOUT "5s"
#define STORE_LOCK_TIMEOUT "30s"

/* Waiting for another instance that installs: attempts and backoff. */
#define INSTALL_ATTEMPTS 20
#define INSTALL_BACKOFF_MIN_MS 20
#define INSTALL_BACKOFF_MAX_MS 500

/* connect_timeout (s) added to a conninfo that sets none */
#define CONNECT_TIMEOUT "5"

/* Connections at most. */
#define POOL_SIZE 4

/* Limits of what a batch may carry. */
#define MAX_NAME_BYTES 1024
#define MAX_DATA_BYTES ((size_t) 512 * 1024 * 1024)

/*
 * The schema, by version, as in queue.c: steps[v - 1] takes an installed
 * version v - 1 to v. Only the inbox's own objects are made here, besides
 * the schema and schema_version, which the queue makes identically.
 */
static const char *const schema_v1[] = {
	"CREATE SCHEMA IF NOT EXISTS teleport",
	"REVOKE ALL ON SCHEMA teleport FROM PUBLIC",
	"CREATE TABLE IF NOT EXISTS teleport.schema_version ("
	" component text PRIMARY KEY,"
	" version integer NOT NULL,"
	" installed_at timestamptz NOT NULL DEFAULT clock_timestamp())",
	"CREATE TABLE IF NOT EXISTS teleport.inbox_stream ("
	" source text NOT NULL,"
	" target text NOT NULL,"
	" last_received bigint NOT NULL,"
	" last_applied bigint NOT NULL DEFAULT 0,"
	" created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" received_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" applied_at timestamptz,"
	" PRIMARY KEY (source, target),"
	" CHECK (last_applied BETWEEN 0 AND last_received))",
	"CREATE TABLE IF NOT EXISTS teleport.inbox ("
	" source text NOT NULL,"
	" target text NOT NULL,"
	" seq bigint NOT NULL CHECK (seq > 0),"
	" kind text NOT NULL CHECK (kind IN ('changes', 'load')),"
	" n_changes bigint NOT NULL CHECK (n_changes >= 0),"
	" first_tick bigint NOT NULL,"
	" last_tick bigint NOT NULL,"
	" apply_schema text NOT NULL,"
	" partial boolean NOT NULL,"
	" data text NOT NULL,"
	" data_sha256 bytea NOT NULL,"
	" received_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" applied_at timestamptz,"
	" PRIMARY KEY (source, target, seq))",
	"REVOKE ALL ON TABLE teleport.schema_version, teleport.inbox_stream,"
	" teleport.inbox FROM PUBLIC",
	NULL
};

/*
 * Version 2: the apply loop's held batch on each stream (core/apply_loop.c)
 * and the batches an operator skipped (teleport --skip-batch).
 */
static const char *const schema_v2[] = {
	"ALTER TABLE teleport.inbox_stream"
	" ADD COLUMN IF NOT EXISTS held_seq bigint,"
	" ADD COLUMN IF NOT EXISTS held_state text"
	"  CHECK (held_state IN ('retrying', 'stopped')),"
	" ADD COLUMN IF NOT EXISTS held_reason text,"
	" ADD COLUMN IF NOT EXISTS held_since timestamptz,"
	" ADD COLUMN IF NOT EXISTS held_attempts integer NOT NULL DEFAULT 0",
	"CREATE TABLE IF NOT EXISTS teleport.inbox_skipped ("
	" source text NOT NULL,"
	" target text NOT NULL,"
	" seq bigint NOT NULL,"
	" kind text NOT NULL,"
	" apply_schema text NOT NULL,"
	" partial boolean NOT NULL,"
	" n_changes bigint NOT NULL,"
	" data text NOT NULL,"
	" reason text,"
	" received_at timestamptz,"
	" skipped_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" skipped_by text NOT NULL DEFAULT current_user,"
	" PRIMARY KEY (source, target, seq))",
	"REVOKE ALL ON TABLE teleport.inbox_skipped FROM PUBLIC",
	NULL
};

/*
 * Version 3: a batch's data is stored uncompressed (out of line, as
 * TOAST, but without pglz): compressing a batch cost the store about 10 ms
 * per MB and reading it back again, on the path of every batch, for rows
 * that live only until they are applied.
 */
static const char *const schema_v3[] = {
	"ALTER TABLE teleport.inbox ALTER COLUMN data SET STORAGE EXTERNAL",
	NULL
};

/*
 * Version 4: the schema changes of a stored batch applied ahead of an
 * earlier held batch (core/apply_ahead.c), left out when their batch's
 * turn comes.
 */
static const char *const schema_v4[] = {
	"CREATE TABLE IF NOT EXISTS teleport.inbox_ahead ("
	" source text NOT NULL,"
	" target text NOT NULL,"
	" seq bigint NOT NULL,"
	" change_seq bigint NOT NULL,"
	" applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	" PRIMARY KEY (source, target, seq, change_seq))",
	"REVOKE ALL ON TABLE teleport.inbox_ahead FROM PUBLIC",
	NULL
};

static const char *const *const schema_steps[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4,
};

_Static_assert(sizeof(schema_steps) / sizeof(schema_steps[0]) ==
			   INBOX_SCHEMA_VERSION,
			   "one schema step per version");

/* One connection of the pool. */
typedef struct inbox_slot
{
	tp_pgsql	pg;				/* pg.conn NULL: not connected */
	bool		busy;			/* taken by a call */
} inbox_slot;

struct tp_inbox
{
	char	   *conninfo;		/* with connect_timeout */
	char	   *purpose;		/* for messages: the inbox of "instance" */
	pthread_mutex_t lock;		/* guards busy flags and advances */
	pthread_cond_t freed;		/* a slot was given back */
	pthread_cond_t advanced;	/* a batch was stored or applied on arrival */
	uint64_t	advances;		/* how many times so far */
	pthread_mutex_t install_lock;	/* guards installed; held to install */
	bool		installed;
	inbox_slot	slots[POOL_SIZE];
	tp_inbox_apply_now_fn apply_now;	/* NULL: store every batch */
	void	   *apply_now_arg;
	bool		store_changes;	/* TELEPORT_TEST_STORE_CHANGES was set */
};

/*
 * Small helpers over pgsql.c
 */

/*
 * After a failure: close pg when its connection broke (the next call
 * reconnects), else end any open transaction (closing when that fails).
 */
static void
settle(tp_pgsql *pg)
{
	if (pg->conn == NULL)
		return;
	if (PQstatus(pg->conn) != CONNECTION_OK)
	{
		tp_pgsql_close(pg);
		return;
	}
	if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE && !tp_pgsql_exec(pg, "ROLLBACK"))
		tp_pgsql_close(pg);
}

/*
 * Checking batches
 */

/* 0x01 in every byte of a 64-bit word, and 0x80 in every byte. */
#define ONES ((uint64_t) 0x0101010101010101)
#define HIGHS ((uint64_t) 0x8080808080808080)

/*
 * The high bits of the bytes of w equal to zero, when no byte of w has its
 * high bit set: b + 0x7F carries into the high bit for every b of 1 to 0x7F
 * and never into the next byte.
 */
static inline uint64_t
ascii_zero_bytes(uint64_t w)
{
	return ~(w + ONES * 0x7F) & HIGHS;
}

/*
 * Whether s (len bytes) is UTF-8 as PostgreSQL accepts it for text: no NUL,
 * no overlong form, no surrogate, nothing above U+10FFFF. On failure *bad
 * is the offset of the first byte of the offending sequence. *newlines
 * counts the '\n' bytes.
 *
 * Runs of ASCII (rows of COPY text are mostly that) are checked 8 bytes at
 * a time: a word without a high bit and without a zero byte is valid, and
 * its newlines are counted in one step; a word with a NUL is left to the
 * byte loop, which reports its offset.
 */
static bool
utf8_valid(const char *s, size_t len, size_t *bad, uint64_t *newlines)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;
	uint64_t	nl = 0;

	while (i < len)
	{
		unsigned char c;
		int			n;
		unsigned char lo = 0x80,
					hi = 0xBF;

		while (len - i >= 8)
		{
			uint64_t	w;

			memcpy(&w, p + i, 8);
			if ((w & HIGHS) != 0 || ascii_zero_bytes(w) != 0)
				break;
			/* one high bit per newline; moved to bit 0 of its byte, summed */
			nl += ((ascii_zero_bytes(w ^ (ONES * '\n')) >> 7) * ONES) >> 56;
			i += 8;
		}
		if (i == len)
			break;
		c = p[i];
		if (c >= 0x01 && c < 0x80)
		{
			if (c == '\n')
				nl++;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;		/* overlong */
			else if (c == 0xED)
				hi = 0x9F;		/* surrogates */
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 3;
			if (c == 0xF0)
				lo = 0x90;		/* overlong */
			else if (c == 0xF4)
				hi = 0x8F;		/* above U+10FFFF */
		}
		else
		{
			*bad = i;			/* NUL, continuation, C0, C1, F5..FF */
			return false;
		}
		if (len - i <= (size_t) n || p[i + 1] < lo || p[i + 1] > hi)
		{
			*bad = i;
			return false;
		}
		for (int k = 2; k <= n; k++)
		{
			if (p[i + k] < 0x80 || p[i + k] > 0xBF)
			{
				*bad = i;
				return false;
			}
		}
		i += (size_t) n + 1;
	}
	*newlines = nl;
	return true;
}

/* Whether name is a usable stream or schema name; else a reason. */
static bool
name_valid(const char *what, const char *name, char *reason, size_t len)
{
	size_t		bad;
	uint64_t	nl;
	size_t		n;

	if (name == NULL || name[0] == '\0')
	{
		snprintf(reason, len, "the batch has no %s", what);
		return false;
	}
	n = strlen(name);
	if (n > MAX_NAME_BYTES)
	{
		snprintf(reason, len, "the batch's %s is longer than %d bytes",
				 what, MAX_NAME_BYTES);
		return false;
	}
	if (!utf8_valid(name, n, &bad, &nl))
	{
		snprintf(reason, len, "the batch's %s is not valid UTF-8", what);
		return false;
	}
	return true;
}

/*
 * Whether batch may be stored: a known kind and format, names, seq and
 * counts in bigint's range, data that is UTF-8 without NUL, made of
 * n_changes lines each ending in '\n'. Else false with a reason for the
 * peer.
 */
static bool
batch_valid(const tp_batch *batch, char *reason, size_t len)
{
	size_t		bad;
	uint64_t	lines = 0;

	if (batch == NULL ||
		batch->size < offsetof(tp_batch, flags) + sizeof(batch->flags))
	{
		snprintf(reason, len, "the batch is incomplete");
		return false;
	}
	if (batch->format != TELEPORT_BATCH_FORMAT)
	{
		snprintf(reason, len, "the batch's format %" PRIu32 " is not %d",
				 batch->format, TELEPORT_BATCH_FORMAT);
		return false;
	}
	if (batch->kind != TP_BATCH_CHANGES && batch->kind != TP_BATCH_LOAD)
	{
		snprintf(reason, len, "the batch's kind %d is neither changes nor load",
				 (int) batch->kind);
		return false;
	}
	if (!name_valid("source", batch->source, reason, len) ||
		!name_valid("target", batch->target, reason, len) ||
		!name_valid("apply_schema", batch->apply_schema, reason, len))
		return false;
	if (batch->seq == 0 || batch->seq > INT64_MAX)
	{
		snprintf(reason, len, "the batch's seq %" PRIu64 " is not between 1 and %" PRId64,
				 batch->seq, INT64_MAX);
		return false;
	}
	if (batch->n_changes > INT64_MAX || batch->first_tick > INT64_MAX ||
		batch->last_tick > INT64_MAX)
	{
		snprintf(reason, len, "the batch's change count or ticks are beyond %" PRId64,
				 INT64_MAX);
		return false;
	}
	if (batch->data_len > 0 && batch->data == NULL)
	{
		snprintf(reason, len, "the batch has no data");
		return false;
	}
	if (batch->data_len > MAX_DATA_BYTES)
	{
		snprintf(reason, len, "the batch's data is larger than %zu bytes",
				 MAX_DATA_BYTES);
		return false;
	}
	if (batch->data_len > 0 && !utf8_valid(batch->data, batch->data_len, &bad, &lines))
	{
		if (batch->data[bad] == '\0')
			snprintf(reason, len, "the batch's data contains a NUL byte at offset %zu",
					 bad);
		else
			snprintf(reason, len, "the batch's data is not valid UTF-8 at offset %zu",
					 bad);
		return false;
	}
	if (batch->data_len > 0 && batch->data[batch->data_len - 1] != '\n')
	{
		snprintf(reason, len, "the batch's data does not end in a newline");
		return false;
	}
	if (lines != batch->n_changes)
	{
		snprintf(reason, len, "the batch has %" PRIu64 " lines of data but says %" PRIu64 " changes",
				 lines, batch->n_changes);
		return false;
	}
	return true;
}

/*
 * Connections and install
 */

/* Append the libpq value v to s, quoted ('...' with ' and \ escaped). */
static void
append_quoted(char **s, size_t *len, size_t *cap, const char *v)
{
	size_t		need = *len + 2 * strlen(v) + 4;

	if (need > *cap)
	{
		*cap = need * 2;
		*s = tp_xrealloc(*s, *cap);
	}
	(*s)[(*len)++] = '\'';
	for (; *v != '\0'; v++)
	{
		if (*v == '\'' || *v == '\\')
			(*s)[(*len)++] = '\\';
		(*s)[(*len)++] = *v;
	}
	(*s)[(*len)++] = '\'';
	(*s)[*len] = '\0';
}

/*
 * conninfo (keyword/value or URI) as keyword/value with connect_timeout
 * set when it sets none. A new string (free); conninfo itself when libpq
 * cannot parse it (connecting then fails and says why).
 */
static char *
conninfo_with_timeout(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char	   *s = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	bool		has_timeout = false;

	if (opts == NULL)
		return tp_xstrdup(conninfo);
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		size_t		klen;

		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0)
			has_timeout = true;
		klen = strlen(o->keyword);
		if (len + klen + 3 > cap)
		{
			cap = (len + klen + 3) * 2;
			s = tp_xrealloc(s, cap);
		}
		if (len > 0)
			s[len++] = ' ';
		memcpy(s + len, o->keyword, klen);
		len += klen;
		s[len++] = '=';
		s[len] = '\0';
		append_quoted(&s, &len, &cap, o->val);
	}
	PQconninfoFree(opts);
	if (!has_timeout)
	{
		static const char add[] = "connect_timeout=" CONNECT_TIMEOUT;

		s = tp_xrealloc(s, len + sizeof(add) + 1);
		if (len > 0)
			s[len++] = ' ';
		memcpy(s + len, add, sizeof(add));
	}
	return s;
}

/*
 * One attempt at install, in a transaction. *busy is set when another
 * instance holds the install lock (nothing was done; try again).
 */
static bool
install_once(tp_pgsql *pg, bool *busy)
{
	char	   *locked = NULL;
	char	   *encoding = NULL;
	*busy = false;
	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_exec(pg, "SET LOCAL lock_timeout = '" INSTALL_LOCK_TIMEOUT "'") ||
		!tp_pgsql_exec(pg, "SET LOCAL client_min_messages = warning") ||
		!tp_pgsql_query_value(pg, "SELECT pg_try_advisory_xact_lock(" LOCK_CLASS
							  ", " LOCK_INSTALL ")", 0, NULL, &locked))
		goto fail;
	if (locked == NULL || strcmp(locked, "t") != 0)
	{
		*busy = true;
		goto fail;
	}

	/* batches are UTF-8 text, stored byte for byte */
	if (!tp_pgsql_query_value(pg, "SELECT pg_catalog.getdatabaseencoding()",
							  0, NULL, &encoding))
		goto fail;
	if (encoding == NULL ||
		(strcmp(encoding, "UTF8") != 0 && strcmp(encoding, "SQL_ASCII") != 0))
	{
		tp_error(COMPONENT, "the inbox needs a database with encoding UTF8, but "
				 "database \"%s\" has encoding %s", PQdb(pg->conn),
				 encoding ? encoding : "(unknown)");
		goto fail;
	}

	if (!tp_pgsql_upgrade(pg, "inbox", schema_steps, INBOX_SCHEMA_VERSION,
						  "the inbox's schema") ||
		!tp_pgsql_exec(pg, "COMMIT"))
		goto fail;
	free(locked);
	free(encoding);
	return true;

fail:
	free(locked);
	free(encoding);
	settle(pg);
	return false;
}

/* Install the schema on pg, waiting a little for another installer. */
static bool
install(tp_pgsql *pg)
{
	tp_backoff	backoff;

	tp_backoff_init(&backoff, INSTALL_BACKOFF_MIN_MS, INSTALL_BACKOFF_MAX_MS);
	for (int attempt = 0; attempt < INSTALL_ATTEMPTS; attempt++)
	{
		bool		busy;

		if (install_once(pg, &busy))
			return true;
		if (!busy || pg->conn == NULL)
			return false;
		tp_sleep_ms(tp_backoff_next(&backoff));
	}
	tp_error(COMPONENT, "could not install the inbox's schema: another instance "
			 "holds its install lock; trying again later");
	return false;
}

/*
 * Make slot's connection usable: reconnect when it is closed or found
 * broken (a restarted server closed it), pin the session, and install the
 * schema once per inbox. False after logging.
 */
static bool
slot_ready(tp_inbox *inbox, inbox_slot *slot)
{
	bool		ok = true;

	/*
	 * A server that went away has sent its goodbye and closed the socket:
	 * notice it quietly. The first read may only get the message, the
	 * second then meets the end of the stream.
	 */
	if (slot->pg.conn != NULL &&
		(PQconsumeInput(slot->pg.conn) == 0 ||
		 PQconsumeInput(slot->pg.conn) == 0 ||
		 PQstatus(slot->pg.conn) != CONNECTION_OK))
	{
		tp_debug(COMPONENT, "reconnecting %s: the connection was lost",
				 inbox->purpose);
		tp_pgsql_close(&slot->pg);
	}
	if (slot->pg.conn == NULL)
	{
		if (!tp_pgsql_connect(&slot->pg, inbox->conninfo, inbox->purpose))
			return false;
		if (!tp_pgsql_pin_session(&slot->pg) ||
			!tp_pgsql_exec(&slot->pg, "SELECT pg_catalog.set_config('client_encoding', 'UTF8', false)"))
		{
			tp_pgsql_close(&slot->pg);
			return false;
		}
	}
	pthread_mutex_lock(&inbox->install_lock);
	if (!inbox->installed)
	{
		ok = install(&slot->pg);
		inbox->installed = ok;
	}
	pthread_mutex_unlock(&inbox->install_lock);
	if (!ok)
		settle(&slot->pg);
	return ok;
}

/* Take a free slot, waiting for one; connected ones first. */
static inbox_slot *
slot_acquire(tp_inbox *inbox)
{
	inbox_slot *slot = NULL;

	pthread_mutex_lock(&inbox->lock);
	for (;;)
	{
		for (int i = 0; i < POOL_SIZE; i++)
		{
			inbox_slot *s = &inbox->slots[i];

			if (s->busy)
				continue;
			if (slot == NULL || (slot->pg.conn == NULL && s->pg.conn != NULL))
				slot = s;
		}
		if (slot != NULL)
			break;
		pthread_cond_wait(&inbox->freed, &inbox->lock);
	}
	slot->busy = true;
	pthread_mutex_unlock(&inbox->lock);
	return slot;
}

/* Give slot back. */
static void
slot_release(tp_inbox *inbox, inbox_slot *slot)
{
	pthread_mutex_lock(&inbox->lock);
	slot->busy = false;
	pthread_cond_signal(&inbox->freed);
	pthread_mutex_unlock(&inbox->lock);
}

/*
 * API
 */

/* See inbox.h. */
tp_inbox *
tp_inbox_new(const char *conninfo, const char *instance)
{
	tp_inbox   *inbox = tp_xcalloc(1, sizeof(tp_inbox));
	const char *name = instance ? instance : "(unnamed)";
	size_t		len = strlen(name) + 32;

	inbox->conninfo = conninfo_with_timeout(conninfo ? conninfo : "");
	inbox->purpose = tp_xmalloc(len);
	snprintf(inbox->purpose, len, "the inbox of \"%s\"", name);
	pthread_mutex_init(&inbox->lock, NULL);
	pthread_cond_init(&inbox->freed, NULL);
	{
		pthread_condattr_t cattr;

		pthread_condattr_init(&cattr);
		pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
		pthread_cond_init(&inbox->advanced, &cattr);
		pthread_condattr_destroy(&cattr);
	}
	pthread_mutex_init(&inbox->install_lock, NULL);
	/* a test hook, read once: store every change batch (architecture.md) */
	inbox->store_changes = getenv("TELEPORT_TEST_STORE_CHANGES") != NULL;
	return inbox;
}

/* Fill outcome and return the tp_result that goes with its status. */
static tp_result
answer(tp_delivery *outcome, tp_delivery_status status, uint64_t expected,
	   const char *fmt,...) TP_PRINTF(4, 5);

static tp_result
answer(tp_delivery *outcome, tp_delivery_status status, uint64_t expected,
	   const char *fmt,...)
{
	va_list		ap;

	outcome->status = status;
	outcome->expected_seq = expected;
	va_start(ap, fmt);
	vsnprintf(outcome->reason, sizeof(outcome->reason), fmt, ap);
	va_end(ap);
	switch (status)
	{
		case TP_DELIVERY_STORED:
		case TP_DELIVERY_DUPLICATE:
			return TP_OK;
		case TP_DELIVERY_UNAVAILABLE:
			return TP_RETRY;
		default:
			return TP_ERROR;
	}
}

/*
 * The answer to batch, which came before the batch it follows while its
 * sender has that one on its way: UNAVAILABLE, to be sent again.
 */
static tp_result
answer_early(tp_delivery *outcome, const tp_batch *batch)
{
	tp_debug(COMPONENT, "batch %" PRIu64 " from \"%s\" to \"%s\" came before "
			 "the batch it follows: it is to be sent again",
			 batch->seq, batch->source, batch->target);
	return answer(outcome, TP_DELIVERY_UNAVAILABLE, 0,
				  "batch %" PRIu64 " came before the batch it follows; "
				  "send it again", batch->seq);
}

/*
 * The parameters of a batch, in the order of the store's queries: text,
 * but the data ($10), sent by its length (tp_pgsql_query_sized) rather
 * than copied to end it with a NUL.
 */
typedef struct batch_params
{
	char		seq[24];
	char		n_changes[24];
	char		first_tick[24];
	char		last_tick[24];
	const char *values[10];
	int			lengths[10];
} batch_params;

/* Fill bp from batch (already checked); bp points into batch. */
static void
params_of(batch_params *bp, const tp_batch *batch)
{
	snprintf(bp->seq, sizeof(bp->seq), "%" PRIu64, batch->seq);
	snprintf(bp->n_changes, sizeof(bp->n_changes), "%" PRIu64, batch->n_changes);
	snprintf(bp->first_tick, sizeof(bp->first_tick), "%" PRIu64, batch->first_tick);
	snprintf(bp->last_tick, sizeof(bp->last_tick), "%" PRIu64, batch->last_tick);
	bp->values[0] = batch->source;
	bp->values[1] = batch->target;
	bp->values[2] = bp->seq;
	bp->values[3] = batch->kind == TP_BATCH_LOAD ? "load" : "changes";
	bp->values[4] = bp->n_changes;
	bp->values[5] = bp->first_tick;
	bp->values[6] = bp->last_tick;
	bp->values[7] = batch->apply_schema;
	bp->values[8] = (batch->flags & TP_BATCH_PARTIAL) ? "true" : "false";
	/* a NULL value would be SQL NULL */
	bp->values[9] = batch->data_len > 0 ? batch->data : "";
	for (int i = 0; i < 9; i++)
		bp->lengths[i] = -1;
	bp->lengths[9] = (int) batch->data_len;
}

/*
 * The store's transaction on a ready connection; see tp_inbox_store. On a
 * query failure returns UNAVAILABLE with the connection settled.
 */
static tp_result
store_on(tp_pgsql *pg, const tp_batch *batch, const batch_params *bp,
		 tp_delivery *outcome, bool *early)
{
	int64_t		last;
	bool		isnull;
	uint64_t	expected;
	char	   *same = NULL;

	if (!tp_pgsql_exec(pg, "BEGIN") ||
		!tp_pgsql_query(pg,
						"SELECT pg_catalog.set_config('synchronous_commit', 'on', true),"
						" pg_catalog.set_config('lock_timeout', '" STORE_LOCK_TIMEOUT "', true),"
						" pg_catalog.pg_advisory_xact_lock(" TP_INBOX_STORE_LOCK_KEY ")",
						2, bp->values, NULL, NULL) ||
		!tp_pgsql_query_int64(pg,
					 "SELECT (SELECT last_received FROM teleport.inbox_stream"
					 " WHERE source = $1 AND target = $2)",
					 2, bp->values, &last, &isnull))
		goto fail;
	expected = (isnull ? 0 : (uint64_t) last) + 1;

	if (batch->seq == expected)
	{
		if (!tp_pgsql_query_sized(pg,
							"WITH ins AS ("
							" INSERT INTO teleport.inbox (source, target, seq, kind,"
							"  n_changes, first_tick, last_tick, apply_schema, partial,"
							"  data, data_sha256)"
							" VALUES ($1, $2, $3::bigint, $4, $5::bigint, $6::bigint,"
							"  $7::bigint, $8, $9::boolean, $10::text,"
							"  pg_catalog.sha256(pg_catalog.convert_to($10::text, 'UTF8')))"
							" RETURNING source, target, seq)"
							" INSERT INTO teleport.inbox_stream AS s"
							" (source, target, last_received)"
							" SELECT source, target, seq FROM ins"
							" ON CONFLICT (source, target) DO UPDATE"
							" SET last_received = EXCLUDED.last_received,"
							" received_at = clock_timestamp()",
							10, bp->values, bp->lengths, NULL, NULL) ||
			!tp_pgsql_exec(pg, "COMMIT"))
			goto fail;
		tp_debug(COMPONENT, "stored batch %" PRIu64 " from \"%s\" to \"%s\" (%zu bytes)",
				 batch->seq, batch->source, batch->target, batch->data_len);
		return answer(outcome, TP_DELIVERY_STORED, batch->seq + 1,
					  "batch %" PRIu64 " stored", batch->seq);
	}
	if (batch->seq > expected)
	{
		if (!tp_pgsql_exec(pg, "ROLLBACK"))
			goto fail;
		tp_debug(COMPONENT, "refused batch %" PRIu64 " from \"%s\" to \"%s\": "
				 "expected batch %" PRIu64, batch->seq, batch->source,
				 batch->target, expected);
		/* its sender has the ones before it on their way: not a gap yet */
		if ((batch->flags & TP_BATCH_FOLLOWS) != 0 &&
			batch->seq - expected <= TP_INBOX_EARLY_WINDOW)
		{
			*early = true;
			return answer_early(outcome, batch);
		}
		return answer(outcome, TP_DELIVERY_GAP, expected,
					  "batch %" PRIu64 " is beyond the next expected batch %" PRIu64,
					  batch->seq, expected);
	}

	/* received before: compare with its row, if it was not removed */
	if (!tp_pgsql_query_value_sized(pg,
							  "SELECT (SELECT i.kind = $4 AND i.n_changes = $5::bigint"
							  " AND i.first_tick = $6::bigint AND i.last_tick = $7::bigint"
							  " AND i.apply_schema = $8 AND i.partial = $9::boolean"
							  " AND i.data_sha256 = pg_catalog.sha256("
							  "  pg_catalog.convert_to($10::text, 'UTF8'))"
							  " FROM teleport.inbox i"
							  " WHERE i.source = $1 AND i.target = $2 AND i.seq = $3::bigint)",
							  10, bp->values, bp->lengths, &same))
		goto fail;
	/*
	 * A batch applied on arrival has no row, and its commit may have been
	 * asynchronous (durable.h): the answer says it is safe, so make sure
	 * (this transaction commits with synchronous_commit on)
	 */
	if (same == NULL
		? !tp_pgsql_exec(pg, TP_DURABLE_FLUSH_SQL) || !tp_pgsql_exec(pg, "COMMIT")
		: !tp_pgsql_exec(pg, "ROLLBACK"))
		goto fail;
	if (same != NULL && strcmp(same, "t") != 0)
	{
		free(same);
		tp_warning(COMPONENT, "refused batch %" PRIu64 " from \"%s\" to \"%s\": "
				   "it was stored before with different content",
				   batch->seq, batch->source, batch->target);
		return answer(outcome, TP_DELIVERY_CONFLICT, expected,
					  "batch %" PRIu64 " was stored before with different content",
					  batch->seq);
	}
	free(same);
	tp_debug(COMPONENT, "batch %" PRIu64 " from \"%s\" to \"%s\" was stored before",
			 batch->seq, batch->source, batch->target);
	return answer(outcome, TP_DELIVERY_DUPLICATE, expected,
				  "batch %" PRIu64 " was stored before", batch->seq);

fail:
	free(same);
	settle(pg);
	return answer(outcome, TP_DELIVERY_UNAVAILABLE, 0,
				  "the receiving database could not store the batch now");
}

/* See inbox.h. */
void
tp_inbox_set_apply_now(tp_inbox *inbox, tp_inbox_apply_now_fn fn, void *arg)
{
	pthread_mutex_lock(&inbox->lock);
	inbox->apply_now = fn;
	inbox->apply_now_arg = arg;
	pthread_mutex_unlock(&inbox->lock);
}

/*
 * One store of batch (bp its parameters) on a slot of the pool: see
 * tp_inbox_store. *early when it was answered as come early.
 */
static tp_result
store_once(tp_inbox *inbox, const tp_batch *batch, const batch_params *bp,
		   tp_delivery *outcome, bool *early)
{
	inbox_slot *slot = slot_acquire(inbox);
	tp_result	r;

	/*
	 * A connection that broke since its last use (a restarted server) is
	 * not the database's current state: try once more on a new one. Storing
	 * is idempotent, so this is safe even when a COMMIT was lost.
	 */
	for (int attempt = 0;; attempt++)
	{
		bool		reused = slot->pg.conn != NULL;

		if (!slot_ready(inbox, slot))
		{
			r = answer(outcome, TP_DELIVERY_UNAVAILABLE, 0,
					   "the receiving database is unavailable");
			break;
		}
		r = store_on(&slot->pg, batch, bp, outcome, early);
		if (r != TP_RETRY || !reused || slot->pg.conn != NULL || attempt > 0)
			break;
		tp_debug(COMPONENT, "%s lost its connection: trying once more",
				 inbox->purpose);
	}
	if (batch->data_len >= TP_PGSQL_LARGE_MESSAGE)
		tp_pgsql_close(&slot->pg);
	slot_release(inbox, slot);
	return r;
}

/* A batch was stored or applied on arrival: wake the batches that wait. */
static void
note_advance(tp_inbox *inbox)
{
	pthread_mutex_lock(&inbox->lock);
	inbox->advances++;
	pthread_cond_broadcast(&inbox->advanced);
	pthread_mutex_unlock(&inbox->lock);
}

/*
 * A batch came early (its sender has the one before it on its way, maybe
 * on another connection): wait until another batch was stored or applied
 * on arrival since seen (then true: store it again), or until *until_ms
 * (monotonic; set TP_INBOX_EARLY_WAIT_MS from now when 0) has passed
 * (then false: it is answered "send again").
 */
static bool
wait_advance(tp_inbox *inbox, uint64_t seen, long long *until_ms)
{
	long long	now = tp_clock_ms();
	bool		advanced;

	if (*until_ms == 0)
		*until_ms = now + TP_INBOX_EARLY_WAIT_MS;
	if (now >= *until_ms)
		return false;
	pthread_mutex_lock(&inbox->lock);
	{
		struct timespec until = tp_clock_deadline(*until_ms - now);

		while (inbox->advances == seen)
		{
			if (pthread_cond_timedwait(&inbox->advanced, &inbox->lock, &until) == ETIMEDOUT)
				break;
		}
	}
	advanced = inbox->advances != seen;
	pthread_mutex_unlock(&inbox->lock);
	return advanced;
}

/* See inbox.h. */
tp_result
tp_inbox_store(tp_inbox *inbox, const tp_batch *batch, tp_delivery *outcome)
{
	char		reason[sizeof(outcome->reason)];
	batch_params bp;
	tp_result	r;
	tp_inbox_apply_now_fn apply_now;
	void	   *apply_now_arg;
	long long	early_until = 0;

	if (!batch_valid(batch, reason, sizeof(reason)))
	{
		tp_debug(COMPONENT, "refused an invalid batch: %s", reason);
		return answer(outcome, TP_DELIVERY_INVALID, 0, "%s", reason);
	}
	pthread_mutex_lock(&inbox->lock);
	apply_now = inbox->apply_now;
	apply_now_arg = inbox->apply_now_arg;
	pthread_mutex_unlock(&inbox->lock);
	if (apply_now != NULL && (batch->flags & TP_BATCH_PARTIAL) == 0 &&
		(batch->kind == TP_BATCH_LOAD ||
		 (batch->kind == TP_BATCH_CHANGES && !inbox->store_changes)))
	{
		switch (apply_now(apply_now_arg, batch))
		{
			case TP_INBOX_NOW_APPLIED:
				note_advance(inbox);
				return answer(outcome, TP_DELIVERY_STORED, batch->seq + 1,
							  "batch %" PRIu64 " applied", batch->seq);
			case TP_INBOX_NOW_EARLY:
				return answer_early(outcome, batch);
			case TP_INBOX_NOW_DECLINED:
				break;
		}
	}
	memset(&bp, 0, sizeof(bp));
	params_of(&bp, batch);
	for (;;)
	{
		bool		early = false;
		uint64_t	seen;

		pthread_mutex_lock(&inbox->lock);
		seen = inbox->advances;
		pthread_mutex_unlock(&inbox->lock);
		r = store_once(inbox, batch, &bp, outcome, &early);
		if (!early || !wait_advance(inbox, seen, &early_until))
			break;
	}
	if (outcome->status == TP_DELIVERY_STORED)
		note_advance(inbox);
	return r;
}

/*
 * The held batch of a stream row of tp_inbox_status_json (columns 6 to 10:
 * held_seq, held_state, held_reason, held_attempts, ms since held_since):
 * a new JSON object, or JSON null when nothing is held.
 */
static json_t *
held_json(const PGresult *res, int row)
{
	json_t	   *reason;

	if (PQgetisnull(res, row, 6))
		return json_null();
	reason = json_string(PQgetvalue(res, row, 8));
	if (reason == NULL)
		reason = json_string("(the reason is not valid UTF-8)");
	return json_pack("{s:I, s:s, s:o, s:I, s:I}",
					 "seq", (json_int_t) strtoll(PQgetvalue(res, row, 6), NULL, 10),
					 "state", PQgetisnull(res, row, 7) ? "retrying" : PQgetvalue(res, row, 7),
					 "reason", reason,
					 "attempts", (json_int_t) strtoll(PQgetvalue(res, row, 9), NULL, 10),
					 "since_ms_ago", (json_int_t) strtoll(PQgetvalue(res, row, 10), NULL, 10));
}

/* Row callback of tp_inbox_status_json: one stream into the array. */
static bool
stream_row(void *arg, const PGresult *res, int row)
{
	json_t	   *streams = arg;
	json_t	   *s = json_object();

	if (s == NULL ||
		json_object_set_new(s, "source", json_string(PQgetvalue(res, row, 0))) != 0 ||
		json_object_set_new(s, "target", json_string(PQgetvalue(res, row, 1))) != 0 ||
		json_object_set_new(s, "last_received",
							json_integer(strtoll(PQgetvalue(res, row, 2), NULL, 10))) != 0 ||
		json_object_set_new(s, "last_applied",
							json_integer(strtoll(PQgetvalue(res, row, 3), NULL, 10))) != 0 ||
		json_object_set_new(s, "waiting",
							json_integer(strtoll(PQgetvalue(res, row, 4), NULL, 10))) != 0 ||
		json_object_set_new(s, "oldest_waiting_age_ms",
							json_integer(strtoll(PQgetvalue(res, row, 5), NULL, 10))) != 0 ||
		json_object_set_new(s, "held", held_json(res, row)) != 0 ||
		json_array_append_new(streams, s) != 0)
	{
		tp_error(COMPONENT, "could not build the inbox's status: a name is not "
				 "valid UTF-8, or memory ran out");
		return false;
	}
	return true;
}

/* See inbox.h. */
char *
tp_inbox_status_json(tp_inbox *inbox)
{
	inbox_slot *slot = slot_acquire(inbox);
	json_t	   *streams = json_array();
	json_t	   *root = NULL;
	char	   *text = NULL;

	if (slot_ready(inbox, slot) &&
		tp_pgsql_query(&slot->pg,
					   "SELECT s.source, s.target, s.last_received, s.last_applied,"
					   " s.last_received - s.last_applied,"
					   " coalesce((SELECT floor(extract(epoch FROM"
					   "   clock_timestamp() - i.received_at) * 1000)::bigint"
					   "  FROM teleport.inbox i WHERE i.source = s.source"
					   "  AND i.target = s.target AND i.seq = s.last_applied + 1"
					   "  AND s.last_received > s.last_applied), 0),"
					   " s.held_seq, s.held_state, coalesce(s.held_reason, ''),"
					   " s.held_attempts,"
					   " coalesce(floor(extract(epoch FROM"
					   "  clock_timestamp() - s.held_since) * 1000)::bigint, 0)"
					   " FROM teleport.inbox_stream s ORDER BY s.source, s.target",
					   0, NULL, stream_row, streams))
	{
		root = json_pack("{s:O}", "streams", streams);
		if (root != NULL)
			text = json_dumps(root, JSON_COMPACT);
		if (text == NULL)
			tp_error(COMPONENT, "could not build the inbox's status: out of memory");
	}
	else
		settle(&slot->pg);
	slot_release(inbox, slot);
	json_decref(root);
	json_decref(streams);
	return text;
}

/* See inbox.h. */
bool
tp_inbox_ready(tp_inbox *inbox)
{
	inbox_slot *slot = slot_acquire(inbox);
	bool		ok = slot_ready(inbox, slot);

	slot_release(inbox, slot);
	return ok;
}

/* See inbox.h. */
bool
tp_inbox_ready_on(tp_inbox *inbox, tp_pgsql *pg)
{
	bool		ok = true;

	pthread_mutex_lock(&inbox->install_lock);
	if (!inbox->installed)
	{
		ok = install(pg);
		inbox->installed = ok;
	}
	pthread_mutex_unlock(&inbox->install_lock);
	return ok;
}

/* See inbox.h. */
void
tp_inbox_free(tp_inbox *inbox)
{
	if (inbox == NULL)
		return;
	for (int i = 0; i < POOL_SIZE; i++)
		tp_pgsql_close(&inbox->slots[i].pg);
	pthread_mutex_destroy(&inbox->lock);
	pthread_cond_destroy(&inbox->freed);
	pthread_cond_destroy(&inbox->advanced);
	pthread_mutex_destroy(&inbox->install_lock);
	free(inbox->conninfo);
	free(inbox->purpose);
	free(inbox);
}
