/*
 * pgsql.c
 *     Connections and queries; see pgsql.h.
 *
 * Queries are sent with PQexecParams in text mode (or prepared once and
 * run with PQexecPrepared), one at a time, and their failures logged here
 * with the server's message and the caller's purpose (or, for
 * tp_pgsql_result with a reason buffer, handed to the caller unlogged).
 * Server notices go to teleport's log instead of libpq's default stderr
 * printing.
 */
#include "tp_autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "log.h"
#include "pgsql.h"

#define COMPONENT "pgsql"

/* Log a server notice or warning at the matching level. */
static void
log_notice(void *arg, const PGresult *res)
{
	const char *purpose = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	tp_log_level level = TP_LOG_DEBUG;

	if (severity != NULL && strcmp(severity, "WARNING") == 0)
		level = TP_LOG_WARNING;
	else if (severity != NULL && strcmp(severity, "NOTICE") == 0)
		level = TP_LOG_INFO;
	tp_log(level, COMPONENT, "%s: server %s: %s", purpose,
		   severity ? severity : "notice", message ? message : "");
}

/* The database name libpq used or would use for conn; static or conn's. */
static const char *
database_name(PGconn *conn)
{
	const char *db = conn ? PQdb(conn) : NULL;

	return (db != NULL && db[0] != '\0') ? db : "(default)";
}

/* See pgsql.h. */
bool
tp_pgsql_connect(tp_pgsql *pg, const char *conninfo, const char *purpose)
{
	char	   *redacted;

	memset(pg, 0, sizeof(*pg));
	pg->purpose = strdup(purpose);
	if (pg->purpose == NULL)
	{
		tp_error(COMPONENT, "out of memory");
		return false;
	}
	redacted = tp_conninfo_redacted(conninfo);
	tp_debug(COMPONENT, "connecting for %s: %s", purpose,
			 redacted ? redacted : "(conninfo not shown)");
	free(redacted);

	pg->conn = PQconnectdb(conninfo);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
	{
		tp_error(COMPONENT, "could not connect to database \"%s\" for %s: %s",
				 database_name(pg->conn), purpose,
				 pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		tp_pgsql_close(pg);
		return false;
	}
	PQsetNoticeReceiver(pg->conn, log_notice, pg->purpose);
	return true;
}

/*
 * Log a failed query: the server's message, and the query itself at debug
 * level (it may be long).
 */
static void
log_query_error(const tp_pgsql *pg, const PGresult *res, const char *sql)
{
	const char *message = res ? PQresultErrorMessage(res) : "";

	if (message == NULL || message[0] == '\0')
		message = PQerrorMessage(pg->conn);
	tp_error(COMPONENT, "query failed for %s: %s", pg->purpose, message);
	tp_debug(COMPONENT, "the query was: %s", sql);
}

/*
 * Check res, the result of sql, and pass its rows to row_fn (when not
 * NULL); clears res. False after logging when the query failed or row_fn
 * stopped.
 */
static bool
take_result(tp_pgsql *pg, PGresult *res, const char *sql,
			tp_pgsql_row_fn row_fn, void *arg)
{
	ExecStatusType status = PQresultStatus(res);
	bool		ok = true;

	if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
	{
		log_query_error(pg, res, sql);
		PQclear(res);
		return false;
	}
	if (row_fn != NULL)
	{
		int			rows = PQntuples(res);

		for (int i = 0; i < rows && ok; i++)
			ok = row_fn(arg, res, i);
	}
	PQclear(res);
	return ok;
}

/* Whether pg is open; logs otherwise. */
static bool
is_open(const tp_pgsql *pg)
{
	if (pg->conn != NULL)
		return true;
	tp_error(COMPONENT, "query for %s on a closed connection",
			 pg->purpose ? pg->purpose : "(unknown)");
	return false;
}

/* See pgsql.h. */
bool
tp_pgsql_query(tp_pgsql *pg, const char *sql, int n_params,
			   const char *const *params, tp_pgsql_row_fn row_fn, void *arg)
{
	return tp_pgsql_query_sized(pg, sql, n_params, params, NULL, row_fn, arg);
}

/* The most parameters of tp_pgsql_query_sized. */
#define MAX_SIZED_PARAMS 32

/* See pgsql.h. */
bool
tp_pgsql_query_sized(tp_pgsql *pg, const char *sql, int n_params,
					 const char *const *params, const int *lengths,
					 tp_pgsql_row_fn row_fn, void *arg)
{
	int			formats[MAX_SIZED_PARAMS];

	if (!is_open(pg))
		return false;
	if (lengths == NULL)
		return take_result(pg, PQexecParams(pg->conn, sql, n_params, NULL, params,
											NULL, NULL, 0),
						   sql, row_fn, arg);
	if (n_params > MAX_SIZED_PARAMS)
	{
		tp_error(COMPONENT, "query for %s has %d parameters, more than %d",
				 pg->purpose, n_params, MAX_SIZED_PARAMS);
		return false;
	}
	for (int i = 0; i < n_params; i++)
		formats[i] = lengths[i] >= 0 ? 1 : 0;
	return take_result(pg, PQexecParams(pg->conn, sql, n_params, NULL, params,
										lengths, formats, 0),
					   sql, row_fn, arg);
}

/* Whether res is the result of a statement that succeeded. */
static bool
result_ok(const PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);

	return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

#ifdef LIBPQ_HAS_PIPELINING
/*
 * tp_pgsql_pipeline in pipeline mode, which pg's connection is in. Leaves
 * it (a connection that cannot leave it is closed).
 */
static bool
run_pipelined(tp_pgsql *pg, const tp_pgsql_stmt *stmts, int n, PGresult **results)
{
	PGconn	   *conn = pg->conn;
	bool		ok = true;
	bool		logged = false;
	int			sent = 0;
	PGresult   *res;

	while (sent < n && PQsendQueryParams(conn, stmts[sent].sql, stmts[sent].n_params,
										 NULL, stmts[sent].params, NULL, NULL, 0) == 1)
		sent++;
	if (sent < n)
	{
		ok = false;
		logged = true;
		log_query_error(pg, NULL, stmts[sent].sql);
	}
	if (PQpipelineSync(conn) != 1)
	{
		if (!logged)
			log_query_error(pg, NULL, stmts[0].sql);
		tp_pgsql_close(pg);
		return false;
	}
	/* each statement's result, then NULL; then the sync */
	for (int i = 0; i < sent; i++)
	{
		res = PQgetResult(conn);
		if (res == NULL)
		{
			ok = false;
			break;
		}
		if (ok && result_ok(res))
			results[i] = res;
		else
		{
			if (ok && !logged && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
			{
				log_query_error(pg, res, stmts[i].sql);
				logged = true;
			}
			ok = false;
			PQclear(res);
		}
		while ((res = PQgetResult(conn)) != NULL)
			PQclear(res);
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		bool		sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;

		PQclear(res);
		if (sync)
			break;
	}
	if (PQexitPipelineMode(conn) != 1)
	{
		if (!logged)
			log_query_error(pg, NULL, stmts[0].sql);
		ok = false;
		tp_pgsql_close(pg);
	}
	else if (!ok && !logged)
		log_query_error(pg, NULL, stmts[0].sql);
	return ok;
}
#endif

/* See pgsql.h. */
bool
tp_pgsql_pipeline(tp_pgsql *pg, const tp_pgsql_stmt *stmts, int n, PGresult **results)
{
	for (int i = 0; i < n; i++)
		results[i] = NULL;
	if (!is_open(pg))
		return false;
#ifdef LIBPQ_HAS_PIPELINING
	if (PQenterPipelineMode(pg->conn) == 1)
		return run_pipelined(pg, stmts, n, results);
#endif
	for (int i = 0; i < n; i++)
	{
		results[i] = tp_pgsql_result(pg, stmts[i].sql, stmts[i].n_params,
									 stmts[i].params, NULL, 0);
		if (results[i] == NULL)
			return false;
	}
	return true;
}

/* See pgsql.h. */
void
tp_pgsql_error_text(const tp_pgsql *pg, char *buf, size_t len)
{
	const char *msg = pg->conn ? PQerrorMessage(pg->conn) : "";
	size_t		n;

	snprintf(buf, len, "%s", (msg && msg[0]) ? msg : "the database failed");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (strncmp(buf, "ERROR:  ", 8) == 0)
		memmove(buf, buf + 8, strlen(buf + 8) + 1);
}

/* See pgsql.h. */
PGresult *
tp_pgsql_result(tp_pgsql *pg, const char *sql, int n_params,
				const char *const *params, char *reason, size_t len)
{
	PGresult   *res;
	ExecStatusType status;

	if (!is_open(pg))
	{
		if (reason != NULL)
			snprintf(reason, len, "the connection is closed");
		return NULL;
	}
	res = PQexecParams(pg->conn, sql, n_params, NULL, params, NULL, NULL, 0);
	status = PQresultStatus(res);
	if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
		return res;
	if (reason != NULL)
		tp_pgsql_error_text(pg, reason, len);
	else
		log_query_error(pg, res, sql);
	PQclear(res);
	return NULL;
}

/*
 * Prepare sql under name on pg's open connection unless it is already;
 * *prepared false when pg has no room for another name (the caller runs
 * sql unprepared). False after logging when the preparation failed.
 */
static bool
ensure_prepared(tp_pgsql *pg, const char *name, const char *sql, int n_params,
				bool *prepared)
{
	*prepared = false;
	for (int i = 0; i < pg->n_prepared && !*prepared; i++)
		*prepared = strcmp(pg->prepared[i], name) == 0;
	if (*prepared || pg->n_prepared == TP_PGSQL_MAX_PREPARED)
		return true;
	if (!take_result(pg, PQprepare(pg->conn, name, sql, n_params, NULL),
					 sql, NULL, NULL))
		return false;
	pg->prepared[pg->n_prepared++] = name;
	*prepared = true;
	return true;
}

/* See pgsql.h. */
bool
tp_pgsql_query_prepared(tp_pgsql *pg, const char *name, const char *sql,
						int n_params, const char *const *params,
						tp_pgsql_row_fn row_fn, void *arg)
{
	bool		prepared;

	if (!is_open(pg) || !ensure_prepared(pg, name, sql, n_params, &prepared))
		return false;
	if (!prepared)
		return tp_pgsql_query(pg, sql, n_params, params, row_fn, arg);
	return take_result(pg, PQexecPrepared(pg->conn, name, n_params, params,
										  NULL, NULL, 0),
					   sql, row_fn, arg);
}

/* See pgsql.h. */
bool
tp_pgsql_stream_prepared(tp_pgsql *pg, const char *name, const char *sql,
						 int n_params, const char *const *params,
						 tp_pgsql_row_fn row_fn, void *arg)
{
	bool		prepared;
	bool		ok = true;
	bool		logged = false;
	int			sent;
	PGresult   *res;

	if (!is_open(pg) || !ensure_prepared(pg, name, sql, n_params, &prepared))
		return false;
	sent = prepared
		? PQsendQueryPrepared(pg->conn, name, n_params, params, NULL, NULL, 0)
		: PQsendQueryParams(pg->conn, sql, n_params, NULL, params, NULL, NULL, 0);
	if (sent != 1)
	{
		log_query_error(pg, NULL, sql);
		return false;
	}
	if (PQsetSingleRowMode(pg->conn) != 1)
	{
		/* cannot happen right after a send; the rows then come at once */
		tp_warning(COMPONENT, "%s: single-row mode refused, reading the whole result",
				   pg->purpose);
	}
	/* every result up to NULL is read, also after a failure or a stop */
	while ((res = PQgetResult(pg->conn)) != NULL)
	{
		ExecStatusType status = PQresultStatus(res);

		if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK)
		{
			for (int i = 0; ok && i < PQntuples(res); i++)
				ok = row_fn(arg, res, i);
			/* row_fn logged why it stopped */
			logged = logged || !ok;
		}
		else if (status != PGRES_COMMAND_OK)
		{
			if (!logged)
				log_query_error(pg, res, sql);
			logged = true;
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/* See pgsql.h. */
bool
tp_pgsql_copy_out(tp_pgsql *pg, const char *sql, tp_pgsql_copy_fn fn, void *arg)
{
	PGresult   *res;
	bool		ok = true;
	int			len;
	char	   *row = NULL;

	if (!is_open(pg))
		return false;
	res = PQexec(pg->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		log_query_error(pg, res, sql);
		PQclear(res);
		return false;
	}
	PQclear(res);
	while ((len = PQgetCopyData(pg->conn, &row, 0)) > 0)
	{
		/* after a stop, the rest is read and dropped */
		if (ok)
			ok = fn(arg, row, (size_t) len);
		PQfreemem(row);
		row = NULL;
	}
	if (len == -2)
	{
		tp_error(COMPONENT, "COPY failed for %s: %s", pg->purpose,
				 PQerrorMessage(pg->conn));
		ok = false;
	}
	while ((res = PQgetResult(pg->conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK && len != -2)
		{
			log_query_error(pg, res, sql);
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/* Row callback of tp_pgsql_query_value: keep the one value. */
typedef struct single_value
{
	const char *purpose;
	int			rows;
	char	   *value;
} single_value;

/* Collect the single value; refuse more than one row or column. */
static bool
collect_value(void *arg, const PGresult *res, int row)
{
	single_value *sv = arg;

	sv->rows++;
	if (PQnfields(res) != 1 || row > 0)
	{
		if (PQnfields(res) != 1)
			tp_error(COMPONENT, "query for %s returned %d columns, expected "
					 "one value", sv->purpose, PQnfields(res));
		else
			tp_error(COMPONENT, "query for %s returned more than one row, "
					 "expected one value", sv->purpose);
		return false;
	}
	if (!PQgetisnull(res, row, 0))
	{
		sv->value = strdup(PQgetvalue(res, row, 0));
		if (sv->value == NULL)
		{
			tp_error(COMPONENT, "out of memory");
			return false;
		}
	}
	return true;
}

/* See pgsql.h. */
bool
tp_pgsql_query_value(tp_pgsql *pg, const char *sql, int n_params,
					 const char *const *params, char **value)
{
	return tp_pgsql_query_value_sized(pg, sql, n_params, params, NULL, value);
}

/* See pgsql.h. */
bool
tp_pgsql_query_value_sized(tp_pgsql *pg, const char *sql, int n_params,
						   const char *const *params, const int *lengths,
						   char **value)
{
	single_value sv = {pg->purpose, 0, NULL};

	*value = NULL;
	if (!tp_pgsql_query_sized(pg, sql, n_params, params, lengths, collect_value, &sv))
	{
		free(sv.value);
		return false;
	}
	if (sv.rows != 1)
	{
		tp_error(COMPONENT, "query for %s returned %d rows, expected one value",
				 pg->purpose, sv.rows);
		tp_debug(COMPONENT, "the query was: %s", sql);
		return false;
	}
	*value = sv.value;
	return true;
}

/* See pgsql.h. */
bool
tp_pgsql_pin_session(tp_pgsql *pg)
{
	static const char sql[] =
		"SELECT pg_catalog.set_config('datestyle', 'ISO', false), "
		"pg_catalog.set_config('intervalstyle', 'postgres', false), "
		"pg_catalog.set_config('extra_float_digits', '3', false), "
		"pg_catalog.set_config('lc_monetary', 'C', false), "
		"pg_catalog.set_config('search_path', 'pg_catalog', false), "
		"pg_catalog.set_config('jit', 'off', false)";

	return tp_pgsql_query(pg, sql, 0, NULL, NULL, NULL);
}

/* See pgsql.h. */
int
tp_pgsql_server_version(const tp_pgsql *pg)
{
	return pg->conn ? PQserverVersion(pg->conn) : 0;
}

/* See pgsql.h. */
void
tp_pgsql_close(tp_pgsql *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	free(pg->purpose);
	pg->purpose = NULL;
	pg->n_prepared = 0;
}

/* See pgsql.h. */
bool
tp_pgsql_exec(tp_pgsql *pg, const char *sql)
{
	return tp_pgsql_query(pg, sql, 0, NULL, NULL, NULL);
}

/* See pgsql.h. */
bool
tp_pgsql_query_bool(tp_pgsql *pg, const char *sql, int n_params,
					const char *const *params, bool *yes)
{
	char	   *text = NULL;

	if (!tp_pgsql_query_value(pg, sql, n_params, params, &text))
		return false;
	*yes = text != NULL && strcmp(text, "t") == 0;
	free(text);
	return true;
}

/* See pgsql.h. */
bool
tp_pgsql_query_int64(tp_pgsql *pg, const char *sql, int n_params,
					 const char *const *params, int64_t *value, bool *isnull)
{
	char	   *text = NULL;

	if (!tp_pgsql_query_value(pg, sql, n_params, params, &text))
		return false;
	*isnull = text == NULL;
	*value = text ? strtoll(text, NULL, 10) : 0;
	free(text);
	return true;
}

/*
 * Run the steps of a versioned schema above version from up to version to,
 * in the open transaction: steps[v] is a NULL-terminated list of statements
 * that bring version v to v + 1. False after logging.
 */
static bool
migrate(tp_pgsql *pg, const char *const *const *steps, int from, int to,
		const char *what)
{
	for (int v = from < 0 ? 0 : from; v < to; v++)
	{
		for (int i = 0; steps[v][i] != NULL; i++)
		{
			if (!tp_pgsql_exec(pg, steps[v][i]))
			{
				tp_error(COMPONENT, "could not install version %d of %s", v + 1, what);
				return false;
			}
		}
	}
	return true;
}

/* See pgsql.h. */
bool
tp_pgsql_upgrade(tp_pgsql *pg, const char *component,
				 const char *const *const *steps, int to, const char *what)
{
	const char *params[2];
	char	   *regclass = NULL;
	int64_t		version = 0;
	bool		isnull = true;
	char		v[16];

	if (!tp_pgsql_query_value(pg, "SELECT pg_catalog.to_regclass("
							  "'teleport.schema_version')::pg_catalog.text",
							  0, NULL, &regclass))
		return false;
	params[0] = component;
	if (regclass != NULL &&
		!tp_pgsql_query_int64(pg, "SELECT pg_catalog.max(version)"
							  " FROM teleport.schema_version WHERE component = $1",
							  1, params, &version, &isnull))
	{
		free(regclass);
		return false;
	}
	free(regclass);
	if (isnull)
		version = 0;
	if (version > to)
	{
		tp_error(COMPONENT, "%s is at version %" PRId64 ", newer than this "
				 "teleport's version %d: upgrade teleport", what, version, to);
		return false;
	}
	if (version == to)
		return true;
	if (!migrate(pg, steps, (int) version, to, what))
		return false;
	snprintf(v, sizeof(v), "%d", to);
	params[1] = v;
	if (!tp_pgsql_query(pg,
						"INSERT INTO teleport.schema_version (component, version)"
						" VALUES ($1, $2::pg_catalog.int4)"
						" ON CONFLICT (component) DO UPDATE"
						" SET version = EXCLUDED.version,"
						" installed_at = EXCLUDED.installed_at",
						2, params, NULL, NULL))
		return false;
	tp_info(COMPONENT, "installed version %d of %s (was %" PRId64 ")", to, what,
			version);
	return true;
}
