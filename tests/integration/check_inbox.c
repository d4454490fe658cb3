/*
 * check_inbox.c
 *     The durable inbox on a real PostgreSQL: batches stored in order and
 *     exactly once, duplicates (also after their row was removed),
 *     conflicts, gaps, new streams, fan-in, eight threads delivering the
 *     same batches at once, invalid batches, a stopped server and the
 *     reconnect after its restart, the status JSON, a byte-exact round
 *     trip, the schema shared with the queue, and host->deliver.
 *
 * Each test has its own database in the program's cluster; the reconnect
 * test has a second cluster of its own, which it stops and restarts.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <teleport/teleport.h>

#include "checkmain.h"
#include "config.h"
#include "host.h"
#include "inbox.h"
#include "pgcluster.h"
#include "pgquery.h"
#include "runcmd.h"
#include "pgsql.h"
#include "plan.h"
#include "queue.h"

static tp_cluster *cluster;
static tp_cluster *second;

/* Once per program: the shared cluster. */
static void
start_cluster(void)
{
	cluster = tp_cluster_shared();
}

/* Once for the reconnect case: a cluster it may stop. */
static void
start_second(void)
{
	const char *why = NULL;

	if (!tp_cluster_available(&why))
		exit(TP_EXIT_SKIP);
	second = tp_cluster_start();
	if (second == NULL)
		exit(1);
}

/* After the reconnect case. */
static void
stop_second(void)
{
	tp_cluster_destroy(second);
	second = NULL;
}

/* A test's database: its conninfo, an inbox on it, and a connection. */
typedef struct fixture
{
	char	   *conninfo;
	tp_inbox   *inbox;
	tp_pgsql	pg;
} fixture;

/* Create database db in c and an inbox on it. */
static void
setup_on(fixture *fx, tp_cluster *c, const char *db)
{
	memset(fx, 0, sizeof(*fx));
	fx->conninfo = tp_cluster_create_db(c, db);
	ck_assert_ptr_nonnull(fx->conninfo);
	ck_assert(tp_pgsql_connect(&fx->pg, fx->conninfo, "the inbox test"));
	fx->inbox = tp_inbox_new(fx->conninfo, "receiver");
	ck_assert_ptr_nonnull(fx->inbox);
}

/* Create database db in the shared cluster and an inbox on it. */
static void
setup(fixture *fx, const char *db)
{
	setup_on(fx, cluster, db);
}

/* Free what setup made. */
static void
teardown(fixture *fx)
{
	tp_inbox_free(fx->inbox);
	tp_pgsql_close(&fx->pg);
	free(fx->conninfo);
}

/* One change line of batch seq, with a tag to make contents differ. */
static void
line_of(char *buf, size_t len, uint64_t seq, const char *tag)
{
	snprintf(buf, len,
			 "{\"op\":\"c\",\"before\":null,\"after\":{\"id\":%" PRIu64
			 ",\"tag\":\"%s\"},\"source\":{\"name\":\"src\",\"schema\":\"public\","
			 "\"table\":\"t\",\"txid\":%" PRIu64 ",\"seq\":%" PRIu64
			 ",\"batch\":%" PRIu64 "},\"ts_ms\":1795000000000}\n",
			 seq, tag, 700 + seq, seq, seq);
}

/* A batch of source to target over data (kept by the caller). */
static tp_batch
make_batch(const char *source, const char *target, uint64_t seq,
		   const char *data, uint64_t n_changes)
{
	tp_batch	b;

	memset(&b, 0, sizeof(b));
	b.size = sizeof(b);
	b.format = TELEPORT_BATCH_FORMAT;
	b.kind = TP_BATCH_CHANGES;
	b.source = source;
	b.target = target;
	b.seq = seq;
	b.n_changes = n_changes;
	b.first_tick = seq;
	b.last_tick = seq + 1;
	b.apply_schema = "public";
	b.data = data;
	b.data_len = strlen(data);
	return b;
}

/* Store batch seq of source -> target (one line, tagged); returns result. */
static tp_result
store(tp_inbox *inbox, const char *source, const char *target, uint64_t seq,
	  const char *tag, tp_delivery *out)
{
	char		data[512];
	tp_batch	b;

	line_of(data, sizeof(data), seq, tag);
	b = make_batch(source, target, seq, data, 1);
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	return tp_inbox_store(inbox, &b, out);
}

/* Store; it must be STORED, with the next seq expected. */
static void
store_ok(tp_inbox *inbox, const char *source, const char *target, uint64_t seq)
{
	tp_delivery out;
	tp_result	r = store(inbox, source, target, seq, "a", &out);
	char		reason[64];

	ck_assert_msg(r == TP_OK && out.status == TP_DELIVERY_STORED,
				  "batch %" PRIu64 " %s->%s: result %d status %d (%s)", seq,
				  source, target, (int) r, (int) out.status, out.reason);
	ck_assert_uint_eq(out.expected_seq, seq + 1);
	snprintf(reason, sizeof(reason), "batch %" PRIu64 " stored", seq);
	ck_assert_str_eq(out.reason, reason);
}

/* The number of inbox rows. */
static int64_t
n_rows(tp_pgsql *pg)
{
	return tp_sql_int(pg->conn, "SELECT count(*) FROM teleport.inbox");
}

/* --------------------------------------------------------------- tests */

/* Batches 1, 2, 3 in order: each stored, the stream advanced. */
START_TEST(test_store_in_order)
{
	fixture		fx;
	char		expected[512];
	char	   *data;

	setup(&fx, "in_order");
	for (uint64_t seq = 1; seq <= 3; seq++)
		store_ok(fx.inbox, "src", "tgt", seq);
	ck_assert_int_eq(n_rows(&fx.pg), 3);
	tp_sql_assert(fx.pg.conn, "SELECT string_agg(seq::text, ',' ORDER BY seq)"
				 " FROM teleport.inbox WHERE source = 'src' AND target = 'tgt'",
				 "1,2,3");
	tp_sql_assert(fx.pg.conn, "SELECT last_received || '/' || last_applied"
				 " FROM teleport.inbox_stream WHERE source = 'src' AND target = 'tgt'",
				 "3/0");
	tp_sql_assert(fx.pg.conn, "SELECT version FROM teleport.schema_version"
				 " WHERE component = 'inbox'", "4");
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.inbox WHERE applied_at IS NULL"
				 " AND kind = 'changes' AND NOT partial AND n_changes = 1"
				 " AND apply_schema = 'public' AND first_tick = seq"
				 " AND last_tick = seq + 1", "3");
	line_of(expected, sizeof(expected), 2, "a");
	data = tp_sql_value(fx.pg.conn, "SELECT data FROM teleport.inbox WHERE seq = 2");
	ck_assert_str_eq(data, expected);
	free(data);
	/* the synchronous commit was local to the store's transaction */
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM pg_stat_activity"
				 " WHERE datname = current_database() AND state = 'idle in transaction'",
				 "0");
	teardown(&fx);
}
END_TEST

/* A batch stored before is a duplicate: acknowledged, not stored twice. */
START_TEST(test_duplicate)
{
	fixture		fx;
	tp_delivery out;

	setup(&fx, "duplicate");
	for (uint64_t seq = 1; seq <= 3; seq++)
		store_ok(fx.inbox, "src", "tgt", seq);
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 2, "a", &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	ck_assert_uint_eq(out.expected_seq, 4);
	ck_assert_str_eq(out.reason, "batch 2 was stored before");
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 3, "a", &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	ck_assert_int_eq(n_rows(&fx.pg), 3);
	tp_sql_assert(fx.pg.conn, "SELECT last_received FROM teleport.inbox_stream", "3");

	/*
	 * Applied and removed: still a duplicate (even with other content,
	 * which can no longer be compared), never stored again.
	 */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.inbox_stream SET last_applied = 1");
	tp_sql_ok(fx.pg.conn, "DELETE FROM teleport.inbox WHERE seq = 1");
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 1, "other", &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	ck_assert_uint_eq(out.expected_seq, 4);
	ck_assert_int_eq(n_rows(&fx.pg), 2);
	store_ok(fx.inbox, "src", "tgt", 4);
	teardown(&fx);
}
END_TEST

/* The same seq with other content (data or header) is a conflict. */
START_TEST(test_conflict)
{
	fixture		fx;
	tp_delivery out;
	char		data[512];
	tp_batch	b;

	setup(&fx, "conflict");
	store_ok(fx.inbox, "src", "tgt", 1);
	store_ok(fx.inbox, "src", "tgt", 2);
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 2, "b", &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_CONFLICT);
	ck_assert_uint_eq(out.expected_seq, 3);
	ck_assert_str_eq(out.reason, "batch 2 was stored before with different content");

	/* same data, another header field */
	line_of(data, sizeof(data), 1, "a");
	b = make_batch("src", "tgt", 1, data, 1);
	b.flags = TP_BATCH_PARTIAL;
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_CONFLICT);
	b.flags = 0;
	b.last_tick = 99;
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_CONFLICT);
	b.last_tick = 2;
	b.apply_schema = "other";
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_CONFLICT);
	/* and the original is still a duplicate */
	b.apply_schema = "public";
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);

	/* nothing changed */
	ck_assert_int_eq(n_rows(&fx.pg), 2);
	line_of(data, sizeof(data), 2, "a");
	{
		const char *params[1] = {data};
		char	   *same = NULL;

		ck_assert(tp_pgsql_query_value(&fx.pg, "SELECT data = $1 FROM teleport.inbox"
									   " WHERE seq = 2", 1, params, &same));
		ck_assert_str_eq(same, "t");
		free(same);
	}
	teardown(&fx);
}
END_TEST

/* A seq beyond the next is refused with the next one; nothing stored. */
START_TEST(test_gap)
{
	fixture		fx;
	tp_delivery out;

	setup(&fx, "gap");
	for (uint64_t seq = 1; seq <= 3; seq++)
		store_ok(fx.inbox, "src", "tgt", seq);
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 5, "a", &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_GAP);
	ck_assert_uint_eq(out.expected_seq, 4);
	ck_assert_str_eq(out.reason, "batch 5 is beyond the next expected batch 4");
	ck_assert_int_eq(n_rows(&fx.pg), 3);
	tp_sql_assert(fx.pg.conn, "SELECT last_received FROM teleport.inbox_stream", "3");
	store_ok(fx.inbox, "src", "tgt", 4);
	store_ok(fx.inbox, "src", "tgt", 5);
	teardown(&fx);
}
END_TEST

/* A new stream must start at 1. */
START_TEST(test_new_stream_gap)
{
	fixture		fx;
	tp_delivery out;

	setup(&fx, "new_stream");
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 2, "a", &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_GAP);
	ck_assert_uint_eq(out.expected_seq, 1);
	ck_assert_int_eq(n_rows(&fx.pg), 0);
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.inbox_stream", "0");
	store_ok(fx.inbox, "src", "tgt", 1);
	store_ok(fx.inbox, "src", "tgt", 2);
	teardown(&fx);
}
END_TEST

/* Two sources and two targets into one inbox: four independent streams. */
START_TEST(test_fan_in)
{
	fixture		fx;
	tp_delivery out;

	setup(&fx, "fan_in");
	store_ok(fx.inbox, "a", "x", 1);
	store_ok(fx.inbox, "b", "x", 1);
	store_ok(fx.inbox, "a", "y", 1);
	store_ok(fx.inbox, "a", "x", 2);
	store_ok(fx.inbox, "b", "y", 1);
	store_ok(fx.inbox, "b", "x", 2);
	store_ok(fx.inbox, "a", "x", 3);
	store_ok(fx.inbox, "b", "y", 2);
	/* one stream's gap or duplicate says nothing about the others */
	ck_assert_int_eq(store(fx.inbox, "a", "y", 3, "a", &out), TP_ERROR);
	ck_assert_uint_eq(out.expected_seq, 2);
	ck_assert_int_eq(store(fx.inbox, "b", "x", 2, "a", &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	ck_assert_uint_eq(out.expected_seq, 3);
	/* names that would collide if merely concatenated */
	store_ok(fx.inbox, "ab", "x", 1);
	ck_assert_int_eq(store(fx.inbox, "a", "bx", 2, "a", &out), TP_ERROR);
	ck_assert_uint_eq(out.expected_seq, 1);
	tp_sql_assert(fx.pg.conn, "SELECT string_agg(source || '>' || target || '=' || last_received,"
				 " ' ' ORDER BY source, target) FROM teleport.inbox_stream",
				 "a>x=3 a>y=1 ab>x=1 b>x=2 b>y=2");
	ck_assert_int_eq(n_rows(&fx.pg), 9);
	teardown(&fx);
}
END_TEST

#define N_THREADS 8
#define N_BATCHES 40

/* What the threads of test_concurrent share. */
typedef struct race
{
	tp_inbox   *inbox;
	pthread_barrier_t start;
	atomic_int	stored[N_BATCHES + 1];
	atomic_int	duplicate[N_BATCHES + 1];
	atomic_int	other;
} race;

/* One thread: deliver 1..N_BATCHES in order, each until acknowledged. */
static void *
racer(void *arg)
{
	race	   *r = arg;

	pthread_barrier_wait(&r->start);
	for (uint64_t seq = 1; seq <= N_BATCHES; seq++)
	{
		tp_delivery out;

		(void) store(r->inbox, "src", "tgt", seq, "a", &out);
		if (out.status == TP_DELIVERY_STORED)
			atomic_fetch_add(&r->stored[seq], 1);
		else if (out.status == TP_DELIVERY_DUPLICATE)
			atomic_fetch_add(&r->duplicate[seq], 1);
		else
			atomic_fetch_add(&r->other, 1);
	}
	return NULL;
}

/* Eight threads deliver the same batches at once: each stored once. */
START_TEST(test_concurrent)
{
	fixture		fx;
	race		r;
	pthread_t	threads[N_THREADS];

	setup(&fx, "concurrent");
	memset(&r, 0, sizeof(r));
	r.inbox = fx.inbox;
	ck_assert_int_eq(pthread_barrier_init(&r.start, NULL, N_THREADS), 0);
	for (int i = 0; i < N_THREADS; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, racer, &r), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&r.start);

	ck_assert_int_eq(atomic_load(&r.other), 0);
	for (int seq = 1; seq <= N_BATCHES; seq++)
	{
		ck_assert_msg(atomic_load(&r.stored[seq]) == 1, "batch %d stored %d times",
					  seq, atomic_load(&r.stored[seq]));
		ck_assert_int_eq(atomic_load(&r.duplicate[seq]), N_THREADS - 1);
	}
	ck_assert_int_eq(n_rows(&fx.pg), N_BATCHES);
	tp_sql_assert(fx.pg.conn, "SELECT last_received FROM teleport.inbox_stream", "40");
	/* committed in seq order */
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM (SELECT received_at < lag(received_at)"
				 " OVER (ORDER BY seq) AS back FROM teleport.inbox) x WHERE back",
				 "0");
	tp_sql_assert(fx.pg.conn, "SELECT count(DISTINCT data) FROM teleport.inbox", "40");
	teardown(&fx);
}
END_TEST

/* Threads of test_install_race: each its own inbox, its own stream. */
static void *
installer(void *arg)
{
	const char *conninfo = arg;
	tp_inbox   *inbox = tp_inbox_new(conninfo, "racer");
	tp_delivery out;
	char		name[32];
	intptr_t	ok;

	snprintf(name, sizeof(name), "s%lu", (unsigned long) pthread_self());
	ok = store(inbox, name, "tgt", 1, "a", &out) == TP_OK &&
		out.status == TP_DELIVERY_STORED;
	tp_inbox_free(inbox);
	return (void *) ok;
}

/* Four inboxes on a fresh database at once: one installs, all store. */
START_TEST(test_install_race)
{
	fixture		fx;
	pthread_t	threads[4];

	setup(&fx, "install_race");
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, installer, fx.conninfo), 0);
	for (int i = 0; i < 4; i++)
	{
		void	   *ok = NULL;

		pthread_join(threads[i], &ok);
		ck_assert_msg(ok != NULL, "thread %d could not store", i);
	}
	ck_assert_int_eq(n_rows(&fx.pg), 4);
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.schema_version", "1");
	teardown(&fx);
}
END_TEST

/* Store b; it must be INVALID with reason containing what. */
static void
assert_invalid(tp_inbox *inbox, const tp_batch *b, const char *what)
{
	tp_delivery out;

	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	ck_assert_int_eq(tp_inbox_store(inbox, b, &out), TP_ERROR);
	ck_assert_msg(out.status == TP_DELIVERY_INVALID, "status %d (%s) for %s",
				  (int) out.status, out.reason, what);
	ck_assert_msg(strstr(out.reason, what) != NULL, "reason \"%s\" lacks \"%s\"",
				  out.reason, what);
	ck_assert_uint_eq(out.expected_seq, 0);
}

/* A line whose "tag" value is raw (possibly invalid) bytes. */
static void
raw_line(char *buf, size_t len, const char *raw)
{
	snprintf(buf, len, "{\"op\":\"c\",\"after\":{\"id\":1,\"tag\":\"%s\"},"
			 "\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
			 "\"txid\":1,\"seq\":1,\"batch\":1},\"ts_ms\":1}\n", raw);
}

/* Unacceptable batches are refused and nothing of them is stored. */
START_TEST(test_invalid)
{
	static const char *const bad_utf8[] = {
		"\xC3\x28",				/* bad continuation */
		"\xC0\xAF",				/* overlong '/' */
		"\xE0\x80\xAF",			/* overlong, 3 bytes */
		"\xED\xA0\x80",			/* surrogate U+D800 */
		"\xF4\x90\x80\x80",		/* above U+10FFFF */
		"\xF5\x80\x80\x80",
		"\xFF",
		"\x80",					/* lone continuation */
		"\xE2\x82",				/* truncated (then '"') */
		NULL
	};
	fixture		fx;
	char		data[512];
	char		good[512];
	tp_batch	b;

	setup(&fx, "invalid");
	line_of(good, sizeof(good), 1, "a");
	for (int i = 0; bad_utf8[i] != NULL; i++)
	{
		raw_line(data, sizeof(data), bad_utf8[i]);
		b = make_batch("src", "tgt", 1, data, 1);
		assert_invalid(fx.inbox, &b, "not valid UTF-8");
	}
	/* truncated at the very end of the data */
	{
		static const char tail[] = "{\"a\":\"\xF0\x9F\x98\n";

		b = make_batch("src", "tgt", 1, tail, 1);
		assert_invalid(fx.inbox, &b, "not valid UTF-8");
	}
	/* a NUL byte inside the data */
	b = make_batch("src", "tgt", 1, good, 1);
	{
		char		withnul[512];

		memcpy(withnul, good, strlen(good) + 1);
		withnul[10] = '\0';
		b.data = withnul;
		b.data_len = strlen(good);
		assert_invalid(fx.inbox, &b, "NUL byte");
	}
	b = make_batch("src", "tgt", 1, good, 1);
	b.kind = 7;
	assert_invalid(fx.inbox, &b, "kind");
	b = make_batch("", "tgt", 1, good, 1);
	assert_invalid(fx.inbox, &b, "no source");
	b = make_batch("src", NULL, 1, good, 1);
	assert_invalid(fx.inbox, &b, "no target");
	b = make_batch("src", "tgt", 1, good, 1);
	b.apply_schema = "";
	assert_invalid(fx.inbox, &b, "no apply_schema");
	b = make_batch("s\xC3", "tgt", 1, good, 1);
	assert_invalid(fx.inbox, &b, "source is not valid UTF-8");
	b = make_batch("src", "tgt", 0, good, 1);
	assert_invalid(fx.inbox, &b, "seq 0");
	b = make_batch("src", "tgt", (uint64_t) INT64_MAX + 1, good, 1);
	assert_invalid(fx.inbox, &b, "seq");
	b = make_batch("src", "tgt", 1, good, 2);
	assert_invalid(fx.inbox, &b, "1 lines of data but says 2 changes");
	b = make_batch("src", "tgt", 1, good, 1);
	b.data_len--;				/* no final newline */
	assert_invalid(fx.inbox, &b, "newline");
	b = make_batch("src", "tgt", 1, good, 1);
	b.format = 99;
	assert_invalid(fx.inbox, &b, "format");
	b = make_batch("src", "tgt", 1, good, 1);
	b.size = 8;
	assert_invalid(fx.inbox, &b, "incomplete");
	assert_invalid(fx.inbox, NULL, "incomplete");

	/* nothing was even sent: the schema is not there yet */
	tp_sql_assert(fx.pg.conn, "SELECT to_regclass('teleport.inbox')::text", NULL);
	/* the stream is untouched: 1 is still the next */
	store_ok(fx.inbox, "src", "tgt", 1);
	ck_assert_int_eq(n_rows(&fx.pg), 1);
	teardown(&fx);
}
END_TEST

/*
 * Long data is checked 8 bytes at a time where it is ASCII: a bad byte or a
 * NUL at any offset of a long batch (every alignment, after ASCII and
 * after UTF-8) is found and reported at its offset, and good data around
 * multi-byte characters is counted line by line.
 */
START_TEST(test_invalid_long)
{
	static const char *const bad[] = {"\xC3\x28", "\xED\xA0\x80", "\xFF", "\x80", ""};
	fixture		fx;
	char		data[600];
	char		why[64];
	tp_batch	b;
	tp_delivery out;

	setup(&fx, "invalid_long");
	for (int with_utf8 = 0; with_utf8 < 2; with_utf8++)
	{
		for (int i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++)
		{
			for (size_t at = 8; at < 40; at++)
			{
				size_t		blen = strlen(bad[i]) + (bad[i][0] == '\0');

				/* {"a":" + fill up to at, the bad bytes, fill, "}\n */
				memset(data, 'x', sizeof(data));
				memcpy(data, "{\"a\":\"", 6);
				if (with_utf8)
					memcpy(data + 6, "\xC3\xA9", 2);
				memcpy(data + at, bad[i], blen);
				memcpy(data + 500, "\"}\n", 4);
				b = make_batch("src", "tgt", 1, data, 1);
				b.data_len = 503;
				snprintf(why, sizeof(why), "at offset %zu", at);
				assert_invalid(fx.inbox, &b, why);
				assert_invalid(fx.inbox, &b, bad[i][0] == '\0' ? "NUL byte" : "not valid UTF-8");
			}
		}
	}
	/* good: 3 lines with UTF-8 in the middle of ASCII runs */
	snprintf(data, sizeof(data), "%s%s%s",
			 "{\"a\":\"0123456789abcdef\xC3\xA9 0123456789abcdef\xF0\x9F\x98\x80\"}\n",
			 "{\"b\":\"\xE2\x82\xAC\xE2\x82\xAC 0123456789abcdef0123456789\"}\n",
			 "{\"c\":\"0123456789abcdef0123456789abcdef0123456789abcdef\"}\n");
	b = make_batch("src", "tgt", 1, data, 3);
	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_STORED);
	b = make_batch("src", "tgt", 2, data, 4);
	assert_invalid(fx.inbox, &b, "3 lines of data but says 4 changes");
	teardown(&fx);
}
END_TEST

/*
 * A batch of TP_PGSQL_LARGE_MESSAGE bytes or more: stored byte for byte
 * from its length (the bytes after it in memory are not sent), and the
 * inbox's connection that stored it is closed afterwards (libpq would keep
 * a buffer of its size); the next store opens another and works.
 */
START_TEST(test_large)
{
	fixture		fx;
	char		line[512];
	size_t		line_len;
	size_t		n_lines;
	char	   *data;
	char		sql[256];
	tp_batch	b;
	tp_delivery out;
	const char *others = "SELECT count(*) FROM pg_stat_activity"
		" WHERE datname = current_database() AND pid <> pg_backend_pid()"
		" AND backend_type = 'client backend'";

	setup(&fx, "large");
	store_ok(fx.inbox, "src", "tgt", 1);
	/* the store's connection stays open after a small batch */
	ck_assert(tp_sql_wait(fx.pg.conn, others, "1", 5));

	line_of(line, sizeof(line), 2, "large");
	line_len = strlen(line);
	n_lines = TP_PGSQL_LARGE_MESSAGE / line_len + 1;
	data = malloc(n_lines * line_len + 16);
	ck_assert_ptr_nonnull(data);
	for (size_t i = 0; i < n_lines; i++)
		memcpy(data + i * line_len, line, line_len);
	/* past its end: bytes that must not be sent */
	memset(data + n_lines * line_len, 'Z', 16);
	b = make_batch("src", "tgt", 2, data, n_lines);
	b.data_len = n_lines * line_len;
	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_STORED);
	snprintf(sql, sizeof(sql), "SELECT octet_length(data) = %zu AND data NOT LIKE '%%Z%%'"
			 " AND data LIKE '%%\"tag\":\"large\"}%%' FROM teleport.inbox WHERE seq = 2",
			 n_lines * line_len);
	tp_sql_assert(fx.pg.conn, sql, "t");
	/* the same bytes again: a duplicate, compared by their hash */
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	/* the connection that stored a large batch is gone */
	ck_assert(tp_sql_wait(fx.pg.conn, others, "0", 5));
	free(data);
	store_ok(fx.inbox, "src", "tgt", 3);
	ck_assert(tp_sql_wait(fx.pg.conn, others, "1", 5));
	teardown(&fx);
}
END_TEST

/* A stopped server: UNAVAILABLE; after its restart the same inbox works. */
START_TEST(test_unavailable_reconnect)
{
	fixture		fx;
	tp_delivery out;
	char	   *status;

	setup_on(&fx, second, "reconnect");
	store_ok(fx.inbox, "src", "tgt", 1);
	tp_pgsql_close(&fx.pg);
	ck_assert(tp_cluster_stop(second));

	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 2, "a", &out), TP_RETRY);
	ck_assert_int_eq(out.status, TP_DELIVERY_UNAVAILABLE);
	ck_assert_uint_eq(out.expected_seq, 0);
	ck_assert_str_eq(out.reason, "the receiving database is unavailable");
	ck_assert_int_eq(store(fx.inbox, "src", "tgt", 2, "a", &out), TP_RETRY);
	ck_assert_ptr_null(tp_inbox_status_json(fx.inbox));

	ck_assert(tp_cluster_restart(second));
	store_ok(fx.inbox, "src", "tgt", 2);
	store_ok(fx.inbox, "src", "tgt", 3);
	status = tp_inbox_status_json(fx.inbox);
	ck_assert_ptr_nonnull(status);
	ck_assert_ptr_nonnull(strstr(status, "\"last_received\":3"));
	free(status);

	/* a connection lost under a live pool: the restart closes them all */
	ck_assert(tp_cluster_stop(second));
	ck_assert(tp_cluster_restart(second));
	store_ok(fx.inbox, "src", "tgt", 4);

	/* a port nobody listens on */
	{
		char	   *bad = tp_cluster_conninfo(second, "reconnect", NULL);
		char	   *p = strstr(bad, "port=");
		char	   *conninfo;
		tp_inbox   *nowhere;

		ck_assert_ptr_nonnull(p);
		conninfo = malloc(strlen(bad) + 32);
		snprintf(conninfo, strlen(bad) + 32, "%.*sport=1 %s", (int) (p - bad),
				 bad, strchr(p, ' ') ? strchr(p, ' ') + 1 : "");
		nowhere = tp_inbox_new(conninfo, "nowhere");
		ck_assert_int_eq(store(nowhere, "src", "tgt", 1, "a", &out), TP_RETRY);
		ck_assert_int_eq(out.status, TP_DELIVERY_UNAVAILABLE);
		tp_inbox_free(nowhere);
		free(conninfo);
		free(bad);
	}

	ck_assert(tp_pgsql_connect(&fx.pg, fx.conninfo, "the inbox test"));
	tp_sql_assert(fx.pg.conn, "SELECT string_agg(seq::text, ',' ORDER BY seq)"
				 " FROM teleport.inbox", "1,2,3,4");
	teardown(&fx);
}
END_TEST

/* The member name of a stream object as an integer; it must be one. */
static json_int_t
member_int(json_t *obj, const char *name)
{
	json_t	   *v = json_object_get(obj, name);

	ck_assert_msg(json_is_integer(v), "member %s is not an integer", name);
	return json_integer_value(v);
}

/* The status JSON: streams sorted, counts, age of the oldest waiting. */
START_TEST(test_status_json)
{
	fixture		fx;
	char	   *text;
	json_t	   *root;
	json_t	   *streams;
	json_t	   *s;
	json_error_t err;

	setup(&fx, "status");
	text = tp_inbox_status_json(fx.inbox);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "{\"streams\":[]}");
	free(text);

	for (uint64_t seq = 1; seq <= 3; seq++)
		store_ok(fx.inbox, "b", "x", seq);
	store_ok(fx.inbox, "a", "x", 1);
	store_ok(fx.inbox, "a", "x", 2);
	/* b->x: 1 applied; 2 waits since 5 s */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.inbox_stream SET last_applied = 1"
			" WHERE source = 'b'");
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.inbox SET received_at = clock_timestamp()"
			" - interval '5 s' WHERE source = 'b' AND seq = 2");
	/* a->x: all applied */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.inbox_stream SET last_applied = 2"
			" WHERE source = 'a'");

	text = tp_inbox_status_json(fx.inbox);
	ck_assert_ptr_nonnull(text);
	root = json_loads(text, 0, &err);
	ck_assert_msg(root != NULL, "not JSON: %s", text);
	streams = json_object_get(root, "streams");
	ck_assert(json_is_array(streams));
	ck_assert_uint_eq(json_array_size(streams), 2);

	s = json_array_get(streams, 0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "source")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(s, "target")), "x");
	ck_assert_int_eq(member_int(s, "last_received"), 2);
	ck_assert_int_eq(member_int(s, "last_applied"), 2);
	ck_assert_int_eq(member_int(s, "waiting"), 0);
	ck_assert_int_eq(member_int(s, "oldest_waiting_age_ms"), 0);

	s = json_array_get(streams, 1);
	ck_assert_str_eq(json_string_value(json_object_get(s, "source")), "b");
	ck_assert_int_eq(member_int(s, "last_received"), 3);
	ck_assert_int_eq(member_int(s, "last_applied"), 1);
	ck_assert_int_eq(member_int(s, "waiting"), 2);
	ck_assert_int_ge(member_int(s, "oldest_waiting_age_ms"), 5000);
	ck_assert_int_lt(member_int(s, "oldest_waiting_age_ms"), 60000);
	ck_assert_uint_eq(json_object_size(s), 7);
	json_decref(root);
	free(text);
	teardown(&fx);
}
END_TEST

/*
 * An inbox of schema version 1 (before the apply loop's held state) is
 * upgraded in place: its streams and batches stay, the held columns and
 * teleport.inbox_skipped appear, the data is no longer compressed
 * (version 3), and the status shows nothing held.
 */
START_TEST(test_upgrade_from_v1)
{
	fixture		fx;
	char	   *text;

	setup(&fx, "upgrade_v1");
	store_ok(fx.inbox, "src", "tgt", 1);
	/* back to what version 1 made */
	tp_sql_ok(fx.pg.conn, "ALTER TABLE teleport.inbox_stream DROP COLUMN held_seq,"
			" DROP COLUMN held_state, DROP COLUMN held_reason,"
			" DROP COLUMN held_since, DROP COLUMN held_attempts");
	tp_sql_ok(fx.pg.conn, "DROP TABLE teleport.inbox_skipped");
	tp_sql_ok(fx.pg.conn, "ALTER TABLE teleport.inbox ALTER COLUMN data SET STORAGE EXTENDED");
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 1"
			" WHERE component = 'inbox'");
	tp_inbox_free(fx.inbox);

	/* upgraded on the caller's connection (the apply loop's way), once */
	fx.inbox = tp_inbox_new(fx.conninfo, "receiver");
	ck_assert(tp_inbox_ready_on(fx.inbox, &fx.pg));
	ck_assert_int_eq(PQtransactionStatus(fx.pg.conn), PQTRANS_IDLE);
	tp_sql_assert(fx.pg.conn, "SELECT version FROM teleport.schema_version"
				 " WHERE component = 'inbox'", "4");
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 98"
			" WHERE component = 'inbox'");
	ck_assert(tp_inbox_ready_on(fx.inbox, &fx.pg));
	ck_assert(tp_inbox_ready(fx.inbox));
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 4"
			" WHERE component = 'inbox'");
	/* version 3: the data is stored uncompressed */
	tp_sql_assert(fx.pg.conn, "SELECT attstorage FROM pg_catalog.pg_attribute"
				 " WHERE attrelid = 'teleport.inbox'::regclass AND attname = 'data'", "e");
	tp_sql_assert(fx.pg.conn, "SELECT last_received || '/' || held_attempts || '/'"
				 " || (held_seq IS NULL) FROM teleport.inbox_stream", "1/0/true");
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.inbox_skipped", "0");
	/* version 4: the record of schema changes applied ahead */
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.inbox_ahead", "0");
	store_ok(fx.inbox, "src", "tgt", 2);
	text = tp_inbox_status_json(fx.inbox);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(tp_contains(text, "\"held\":null"), "%s", text);
	free(text);

	/* a held batch shows in the status */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.inbox_stream SET held_seq = 1,"
			" held_state = 'stopped', held_reason = 'no table', held_attempts = 3,"
			" held_since = clock_timestamp() - interval '2 s'");
	text = tp_inbox_status_json(fx.inbox);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(tp_contains(text, "\"held\":{") &&
				  tp_contains(text, "\"seq\":1,") &&
				  tp_contains(text, "\"state\":\"stopped\"") &&
				  tp_contains(text, "\"reason\":\"no table\"") &&
				  tp_contains(text, "\"attempts\":3") &&
				  tp_contains(text, "\"since_ms_ago\":"), "%s", text);
	free(text);

	/* an inbox of a newer teleport is refused, and left as it is */
	tp_sql_ok(fx.pg.conn, "UPDATE teleport.schema_version SET version = 99"
			" WHERE component = 'inbox'");
	tp_inbox_free(fx.inbox);
	fx.inbox = tp_inbox_new(fx.conninfo, "receiver");
	ck_assert(!tp_inbox_ready_on(fx.inbox, &fx.pg));
	ck_assert(!tp_inbox_ready(fx.inbox));
	tp_sql_assert(fx.pg.conn, "SELECT version FROM teleport.schema_version"
				 " WHERE component = 'inbox'", "99");
	teardown(&fx);
}
END_TEST

/* Data that no JSON library would keep: stored byte for byte. */
START_TEST(test_round_trip)
{
	static const char data[] =
		"{\"op\":\"c\",\"before\":null,\"after\":{\"id\":1,"
		"\"n\":123456789012345678901234567890123456789012345,\"z\":-0,"
		"\"f\":1.0E+400,\"e\":\"\U0001F600 caf\u00e9 \\u0000 \\\"q\\\" \\\\ \t tab\","
		"\"k\":\"'; DROP TABLE x; --\"},"
		"\"source\":{\"name\":\"src\",\"schema\":\"public\",\"table\":\"t\","
		"\"txid\":10,\"seq\":1,\"batch\":1},\"ts_ms\":1795000000000}\n"
		"{\"op\":\"t\",\"before\":null,\"after\":null,"
		"\"source\":{\"name\":\"\u65e5\u672c\",\"schema\":\"public\",\"table\":\"t\","
		"\"txid\":11,\"seq\":2,\"batch\":1},\"ts_ms\":1795000000000}\n";
	fixture		fx;
	tp_batch	b;
	tp_delivery out;
	char	   *stored;

	setup(&fx, "round_trip");
	b = make_batch("src \U0001F680", "t\u00e9", 1, data, 2);
	b.kind = TP_BATCH_LOAD;
	b.flags = TP_BATCH_PARTIAL;
	b.first_tick = 0;
	b.last_tick = INT64_MAX;
	b.apply_schema = "sch\u00e9ma";
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_STORED);

	stored = tp_sql_value(fx.pg.conn, "SELECT data FROM teleport.inbox");
	ck_assert_uint_eq(strlen(stored), strlen(data));
	ck_assert_int_eq(memcmp(stored, data, strlen(data)), 0);
	free(stored);
	{
		char		len[16];

		snprintf(len, sizeof(len), "%zu", strlen(data));
		tp_sql_assert(fx.pg.conn, "SELECT octet_length(data) FROM teleport.inbox", len);
	}
	tp_sql_assert(fx.pg.conn, "SELECT source || '|' || target || '|' || kind || '|' || partial"
				 " || '|' || n_changes || '|' || first_tick || '|' || last_tick"
				 " || '|' || apply_schema FROM teleport.inbox",
				 "src \U0001F680|t\u00e9|load|true|2|0|9223372036854775807|sch\u00e9ma");
	tp_sql_assert(fx.pg.conn, "SELECT data_sha256 = sha256(convert_to(data, 'UTF8'))"
				 " FROM teleport.inbox", "t");
	/* its duplicate is recognised with the same bytes */
	ck_assert_int_eq(tp_inbox_store(fx.inbox, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	teardown(&fx);
}
END_TEST

/* The queue's config for test_shared_schema. */
static const char queue_yaml[] =
	"database:\n"
	"  name: both\n"
	"targets:\n"
	"  t1:\n"
	"    target_expression: \"public.*\"\n"
	"    apply_schema: a\n"
	"    transport: stdout\n";

#define TP_STR_(x) #x
#define TP_XSTR(x) TP_STR_(x)

/* A database that is source and receiver: queue and inbox side by side. */
START_TEST(test_shared_schema)
{
	fixture		fx;
	tp_config  *config = NULL;

	setup(&fx, "shared");
	ck_assert(tp_config_load_string(queue_yaml, strlen(queue_yaml), "test.yml",
									&config));
	ck_assert(tp_queue_install(&fx.pg, config));
	store_ok(fx.inbox, "src", "both", 1);
	ck_assert(tp_queue_install(&fx.pg, config));
	tp_sql_assert(fx.pg.conn, "SELECT string_agg(component || '=' || version, ','"
				 " ORDER BY component) FROM teleport.schema_version",
				 "inbox=4,queue=" TP_XSTR(TP_QUEUE_SCHEMA_VERSION));
	tp_sql_assert(fx.pg.conn, "SELECT count(*) FROM teleport.target", "1");
	tp_sql_assert(fx.pg.conn, "SELECT has_table_privilege('public', 'teleport.inbox', 'SELECT')",
				 "f");
	tp_pgsql_close(&fx.pg);
	tp_inbox_free(fx.inbox);
	free(fx.conninfo);

	/* the other way round, on a new database */
	setup(&fx, "shared2");
	store_ok(fx.inbox, "src", "both", 1);
	ck_assert(tp_queue_install(&fx.pg, config));
	tp_sql_assert(fx.pg.conn, "SELECT string_agg(component || '=' || version, ','"
				 " ORDER BY component) FROM teleport.schema_version",
				 "inbox=4,queue=" TP_XSTR(TP_QUEUE_SCHEMA_VERSION));
	/* a later inbox on the same database installs nothing */
	tp_inbox_free(fx.inbox);
	fx.inbox = tp_inbox_new(fx.conninfo, "again");
	store_ok(fx.inbox, "src", "both", 2);
	tp_config_free(config);
	teardown(&fx);
}
END_TEST

/* A receiving instance's config: a server section; stdout receives. */
static const char receiver_yaml[] =
	"database:\n"
	"  name: receiver\n"
	"server:\n"
	"  hostname: localhost\n"
	"  port: 3001\n"
	"  transport: stdout\n";

/* host->deliver hands batches to the inbox set in the services. */
START_TEST(test_host_deliver)
{
	static const tp_plugin_info info = {
		sizeof(tp_plugin_info), TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR,
		TP_PLUGIN_TRANSPORT, "stdout", "1.0.0", "a stand-in", NULL, NULL
	};
	tp_plugin	plugin = {NULL, &info, NULL, NULL};
	fixture		fx;
	tp_config  *config = NULL;
	tp_plan		plan;
	tp_plan_entry *entry = NULL;
	tp_plugin_ctx *ctx;
	tp_host_services services = {0};
	const tp_host_api *api = tp_host_api_get();
	char		data[512];
	tp_batch	b;
	tp_delivery out;

	setup(&fx, "host");
	ck_assert(tp_config_load_string(receiver_yaml, strlen(receiver_yaml),
									"test.yml", &config));
	tp_plan_build(config, &plan);
	for (size_t i = 0; i < plan.n; i++)
	{
		if (plan.entries[i].role == TP_ROLE_RECEIVE)
			entry = &plan.entries[i];
	}
	ck_assert_ptr_nonnull(entry);
	entry->plugin = &plugin;
	ctx = tp_host_ctx_new(config, fx.conninfo, entry);
	ck_assert(ctx->receiving);

	line_of(data, sizeof(data), 1, "a");
	b = make_batch("src", "receiver", 1, data, 1);

	/* no services yet: retry later, nothing stored */
	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	ck_assert_int_eq(api->deliver(ctx, &b, &out), TP_RETRY);
	ck_assert_int_eq(out.status, TP_DELIVERY_UNAVAILABLE);

	services.inbox = fx.inbox;
	tp_host_ctx_set_services(ctx, &services);
	memset(&out, 0, sizeof(out));
	out.size = sizeof(out);
	ck_assert_int_eq(api->deliver(ctx, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_STORED);
	ck_assert_uint_eq(out.expected_seq, 2);
	ck_assert_int_eq(api->deliver(ctx, &b, &out), TP_OK);
	ck_assert_int_eq(out.status, TP_DELIVERY_DUPLICATE);
	b.seq = 3;
	ck_assert_int_eq(api->deliver(ctx, &b, &out), TP_ERROR);
	ck_assert_int_eq(out.status, TP_DELIVERY_GAP);
	ck_assert_uint_eq(out.expected_seq, 2);
	ck_assert_int_eq(n_rows(&fx.pg), 1);

	tp_host_ctx_free(ctx);
	tp_plan_free(&plan);
	tp_config_free(config);
	teardown(&fx);
}
END_TEST

/* The suite. */
static Suite *
inbox_suite(void)
{
	Suite	   *s = suite_create("inbox");
	TCase	   *tc = tcase_create("inbox");
	TCase	   *tc_down = tcase_create("reconnect");

	tcase_add_unchecked_fixture(tc, start_cluster, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_store_in_order);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_conflict);
	tcase_add_test(tc, test_large);
	tcase_add_test(tc, test_gap);
	tcase_add_test(tc, test_new_stream_gap);
	tcase_add_test(tc, test_fan_in);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_install_race);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_invalid_long);
	tcase_add_test(tc, test_status_json);
	tcase_add_test(tc, test_upgrade_from_v1);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_shared_schema);
	tcase_add_test(tc, test_host_deliver);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tc_down, start_second, stop_second);
	tcase_set_timeout(tc_down, 90);
	tcase_add_test(tc_down, test_unavailable_reconnect);
	suite_add_tcase(s, tc_down);
	return s;
}

/* Run the suite. */
int
main(void)
{
	return tp_check_run(inbox_suite());
}
