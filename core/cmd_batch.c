/*
 * cmd_batch.c
 *     teleport --retry-batch and --skip-batch; see cmd_batch.h.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_loop.h"
#include "cmd_batch.h"
#include "conninfo.h"
#include "exit_codes.h"
#include "inbox.h"
#include "log.h"
#include "pgsql.h"
#include "xalloc.h"

#define COMPONENT "batch"

/*
 * Connect to the instance's database for purpose, with the inbox's schema
 * installed or upgraded (it holds the held state). Returns an exit status;
 * on TP_EXIT_OK *pg is open (tp_pgsql_close).
 */
static int
open_database(const tp_config *config, const char *purpose, tp_pgsql *pg)
{
	char	   *conninfo = tp_conninfo_build(config);
	tp_inbox   *inbox;
	bool		ok;

	memset(pg, 0, sizeof(*pg));
	if (conninfo == NULL)
		return TP_EXIT_CONFIG;
	inbox = tp_inbox_new(conninfo, config->database.name);
	ok = tp_inbox_ready(inbox);
	tp_inbox_free(inbox);
	if (ok)
		ok = tp_pgsql_connect(pg, conninfo, purpose) && tp_pgsql_pin_session(pg);
	free(conninfo);
	if (!ok)
	{
		tp_pgsql_close(pg);
		return TP_EXIT_DATABASE;
	}
	return TP_EXIT_OK;
}

/* Row callback: print one stream's state as an explanation, to stderr. */
static bool
explain_row(void *arg, const PGresult *res, int row)
{
	const char *source = arg;
	const char *target = PQgetvalue(res, row, 0);

	if (PQgetisnull(res, row, 2))
		tp_error(COMPONENT, "stream \"%s\" -> \"%s\" holds no batch (last applied %s, "
				 "last received %s)", source, target, PQgetvalue(res, row, 4),
				 PQgetvalue(res, row, 5));
	else
		tp_error(COMPONENT, "stream \"%s\" -> \"%s\" holds batch %s (%s, %s attempts): %s",
				 source, target, PQgetvalue(res, row, 2), PQgetvalue(res, row, 1),
				 PQgetvalue(res, row, 3), PQgetvalue(res, row, 6));
	return true;
}

/*
 * Log the state of every stream of source, after a refusal; or that there
 * is none.
 */
static void
explain_streams(tp_pgsql *pg, const char *source)
{
	char	   *count = NULL;
	const char *params[1] = {source};

	if (!tp_pgsql_query_value(pg, "SELECT count(*) FROM teleport.inbox_stream"
							  " WHERE source = $1", 1, params, &count))
		return;
	if (count != NULL && strcmp(count, "0") == 0)
		tp_error(COMPONENT, "no batch was ever received from source \"%s\" in database \"%s\"",
				 source, PQdb(pg->conn));
	else
		(void) tp_pgsql_query(pg, "SELECT target, coalesce(held_state, 'retrying'),"
							  " held_seq, held_attempts, last_applied, last_received,"
							  " coalesce(held_reason, '')"
							  " FROM teleport.inbox_stream WHERE source = $1 ORDER BY target",
							  1, params, explain_row, (void *) source);
	free(count);
}

/* What --retry-batch prints to, and how many streams it set back. */
typedef struct retry_state
{
	FILE	   *out;
	int			n;
} retry_state;

/* Row callback of --retry-batch: print one stream set back to retrying. */
static bool
retried_row(void *arg, const PGresult *res, int row)
{
	retry_state *rs = arg;

	rs->n++;
	fprintf(rs->out, "stream \"%s\" -> \"%s\": batch %s will be tried again "
			"(it was stopped because: %s)\n",
			PQgetvalue(res, row, 0), PQgetvalue(res, row, 1),
			PQgetvalue(res, row, 2), PQgetvalue(res, row, 3));
	return true;
}

/* See cmd_batch.h. */
int
tp_cmd_retry_batch(const tp_config *config, const char *source, FILE *out)
{
	tp_pgsql	pg;
	const char *params[1] = {source};
	retry_state rs = {out, 0};
	int			status;

	status = open_database(config, "--retry-batch", &pg);
	if (status != TP_EXIT_OK)
		return status;
	if (!tp_pgsql_query(&pg,
						"UPDATE teleport.inbox_stream"
						" SET held_state = 'retrying', held_attempts = 0"
						" WHERE source = $1 AND held_state = 'stopped'"
						" RETURNING source, target, held_seq, coalesce(held_reason, '')",
						1, params, retried_row, &rs))
		status = TP_EXIT_FAILURE;
	else if (rs.n == 0)
	{
		tp_error(COMPONENT, "no stream from source \"%s\" is stopped: nothing to retry "
				 "(a held batch that is not stopped is retried on its own)", source);
		explain_streams(&pg, source);
		status = TP_EXIT_FAILURE;
	}
	else
		tp_info(COMPONENT, "%d stopped stream(s) of source \"%s\" set to be tried again",
				rs.n, source);
	tp_pgsql_close(&pg);
	return status;
}

/*
 * Split "SOURCE:SEQ" at its last ':' into a new *source (free) and *seq.
 * False (logged) when it is not of that form.
 */
static bool
parse_source_seq(const char *arg, char **source, uint64_t *seq)
{
	const char *colon = strrchr(arg, ':');
	char	   *end;
	unsigned long long v;

	if (colon == NULL || colon == arg || colon[1] < '0' || colon[1] > '9')
	{
		tp_error(COMPONENT, "--skip-batch needs SOURCE:SEQ, for example \"finops-db:42\", not \"%s\"",
				 arg);
		return false;
	}
	errno = 0;
	v = strtoull(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > INT64_MAX)
	{
		tp_error(COMPONENT, "--skip-batch: \"%s\" is not a batch number (1 to %" PRId64 ")",
				 colon + 1, INT64_MAX);
		return false;
	}
	*seq = v;
	*source = tp_xmalloc((size_t) (colon - arg) + 1);
	memcpy(*source, arg, (size_t) (colon - arg));
	(*source)[colon - arg] = '\0';
	return true;
}

/* What --skip-batch found under the lock. */
typedef struct skip_state
{
	int			rows;
	uint64_t	last_applied;
	bool		held;			/* held_seq is the batch asked for */
	bool		end_known;		/* the unit's last part has arrived */
	uint64_t	end;
	char	   *reason;
} skip_state;

/* Row callback: the stream under the lock. */
static bool
skip_row(void *arg, const PGresult *res, int row)
{
	skip_state *ss = arg;

	ss->rows++;
	ss->last_applied = strtoull(PQgetvalue(res, row, 0), NULL, 10);
	ss->held = strcmp(PQgetvalue(res, row, 1), "t") == 0;
	ss->end_known = !PQgetisnull(res, row, 2);
	ss->end = ss->end_known ? strtoull(PQgetvalue(res, row, 2), NULL, 10) : 0;
	free(ss->reason);
	ss->reason = tp_xstrdup(PQgetvalue(res, row, 3));
	return true;
}

/* Row callback: collect the one target of the stream holding the batch. */
static bool
target_row(void *arg, const PGresult *res, int row)
{
	char	  **targets = arg;

	if (row == 0)
		targets[0] = tp_xstrdup(PQgetvalue(res, row, 0));
	else if (row == 1)
		targets[1] = tp_xstrdup(PQgetvalue(res, row, 0));
	return true;
}

/*
 * The skip itself, on pg, in one transaction; see cmd_batch.h. Returns an
 * exit status; any open transaction is rolled back by the caller.
 */
static int
skip_on(tp_pgsql *pg, const char *source, uint64_t seq, FILE *out)
{
	char		seq_text[24];
	char		end_text[24];
	char	   *targets[2] = {NULL, NULL};
	const char *params[5];
	skip_state	ss;
	char	   *moved = NULL;
	char	   *done = NULL;
	int			status = TP_EXIT_FAILURE;

	memset(&ss, 0, sizeof(ss));
	snprintf(seq_text, sizeof(seq_text), "%" PRIu64, seq);
	params[0] = source;
	params[1] = seq_text;
	if (!tp_pgsql_query(pg, "BEGIN", 0, NULL, NULL, NULL) ||
		!tp_pgsql_query(pg, "SET LOCAL lock_timeout = '60s'", 0, NULL, NULL, NULL) ||
		!tp_pgsql_query(pg, "SELECT target FROM teleport.inbox_stream"
						" WHERE source = $1 AND held_seq = $2::bigint ORDER BY target",
						2, params, target_row, targets))
		goto done;
	if (targets[0] == NULL)
	{
		tp_error(COMPONENT, "batch %" PRIu64 " of source \"%s\" is not held: only the "
				 "batch a stream holds can be skipped", seq, source);
		(void) tp_pgsql_query(pg, "ROLLBACK", 0, NULL, NULL, NULL);
		explain_streams(pg, source);
		goto done;
	}
	if (targets[1] != NULL)
	{
		tp_error(COMPONENT, "batch %" PRIu64 " is held by several streams of source "
				 "\"%s\" (targets \"%s\" and \"%s\"): skip it by hand in SQL "
				 "(see the README, \"How apply works\")",
				 seq, source, targets[0], targets[1]);
		goto done;
	}

	/* wait for a unit being applied, then look again */
	params[1] = targets[0];
	params[2] = seq_text;
	if (!tp_pgsql_query(pg, "SELECT pg_catalog.pg_advisory_xact_lock(" TP_APPLY_LOCK_KEY ")",
						2, params, NULL, NULL) ||
		!tp_pgsql_query(pg, "SELECT s.last_applied, coalesce(s.held_seq = $3::bigint, false),"
						" (SELECT min(i.seq) FROM teleport.inbox i"
						"  WHERE i.source = s.source AND i.target = s.target"
						"  AND i.seq >= $3::bigint AND NOT i.partial),"
						" coalesce(s.held_reason, '')"
						" FROM teleport.inbox_stream s"
						" WHERE s.source = $1 AND s.target = $2 FOR UPDATE",
						3, params, skip_row, &ss))
		goto done;
	if (ss.rows != 1 || !ss.held || ss.last_applied + 1 != seq)
	{
		tp_error(COMPONENT, "batch %" PRIu64 " of stream \"%s\" -> \"%s\" is no longer "
				 "held (it was applied or skipped meanwhile): nothing skipped",
				 seq, source, targets[0]);
		goto done;
	}
	if (!ss.end_known)
	{
		tp_error(COMPONENT, "batch %" PRIu64 " of stream \"%s\" -> \"%s\" is part of a "
				 "source transaction whose last part has not arrived: wait for it, "
				 "then skip again (all its parts are skipped together)",
				 seq, source, targets[0]);
		goto done;
	}
	snprintf(end_text, sizeof(end_text), "%" PRIu64, ss.end);
	params[3] = end_text;
	params[4] = ss.reason;
	if (!tp_pgsql_query_value(pg,
							  "WITH moved AS (INSERT INTO teleport.inbox_skipped"
							  " (source, target, seq, kind, apply_schema, partial, n_changes,"
							  "  data, reason, received_at)"
							  " SELECT source, target, seq, kind, apply_schema, partial,"
							  "  n_changes, data, $5, received_at FROM teleport.inbox"
							  " WHERE source = $1 AND target = $2"
							  " AND seq BETWEEN $3::bigint AND $4::bigint"
							  " ON CONFLICT (source, target, seq) DO UPDATE"
							  " SET reason = EXCLUDED.reason, data = EXCLUDED.data,"
							  "  skipped_at = clock_timestamp(), skipped_by = current_user"
							  " RETURNING seq)"
							  " SELECT count(*) FROM moved", 5, params, &moved) ||
		!tp_pgsql_query(pg, "DELETE FROM teleport.inbox WHERE source = $1 AND target = $2"
						" AND seq BETWEEN $3::bigint AND $4::bigint", 4, params, NULL, NULL) ||
		!tp_pgsql_query_value(pg, "UPDATE teleport.inbox_stream SET last_applied = $4::bigint,"
							  " applied_at = clock_timestamp(), held_seq = NULL,"
							  " held_state = NULL, held_reason = NULL, held_since = NULL,"
							  " held_attempts = 0 WHERE source = $1 AND target = $2"
							  " AND last_applied = $3::bigint - 1"
							  " RETURNING true", 4, params, &done) ||
		!tp_pgsql_query(pg, "COMMIT", 0, NULL, NULL, NULL))
		goto done;
	tp_warning(COMPONENT, "SKIPPED batch%s %" PRIu64 "%s%s of stream \"%s\" -> \"%s\" by "
			   "operator request: %s change(s) will never be applied (kept in "
			   "teleport.inbox_skipped); it was held because: %s",
			   ss.end > seq ? "es" : "", seq, ss.end > seq ? " to " : "",
			   ss.end > seq ? end_text : "", source, targets[0],
			   moved ? moved : "?", ss.reason);
	fprintf(out, "stream \"%s\" -> \"%s\": skipped batch %" PRIu64 "%s%s; "
			"kept in teleport.inbox_skipped\n", source, targets[0], seq,
			ss.end > seq ? " to " : "", ss.end > seq ? end_text : "");
	status = TP_EXIT_OK;

done:
	free(targets[0]);
	free(targets[1]);
	free(ss.reason);
	free(moved);
	free(done);
	return status;
}

/* See cmd_batch.h. */
int
tp_cmd_skip_batch(const tp_config *config, const char *arg, FILE *out)
{
	tp_pgsql	pg;
	char	   *source = NULL;
	uint64_t	seq = 0;
	int			status;

	if (!parse_source_seq(arg, &source, &seq))
		return TP_EXIT_USAGE;
	status = open_database(config, "--skip-batch", &pg);
	if (status == TP_EXIT_OK)
	{
		status = skip_on(&pg, source, seq, out);
		if (pg.conn != NULL && PQtransactionStatus(pg.conn) != PQTRANS_IDLE)
			(void) tp_pgsql_query(&pg, "ROLLBACK", 0, NULL, NULL, NULL);
	}
	tp_pgsql_close(&pg);
	free(source);
	return status;
}
