/*
 * sentry.h
 *     Errors reported to Sentry (the seed's sentry_endpoint), asynchronously:
 *     a bounded queue and one sender thread, so that reporting never blocks
 *     or fails replication.
 */
#ifndef TP_SENTRY_H
#define TP_SENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <teleport/abi.h>

typedef struct tp_sentry tp_sentry;

/*
 * Check a DSN of the form SCHEME://PUBLIC_KEY[:SECRET]@HOST[:PORT]/[PATH/]PROJECT
 * with SCHEME http or https, a non-empty key, host and project id, and no
 * query or fragment. Events go to SCHEME://HOST[:PORT]/[PATH/]api/PROJECT/store/.
 * On false, reason (NULL allowed; truncated to reason_len) says what is
 * wrong, without quoting the DSN's key.
 */
bool		tp_sentry_dsn_valid(const char *dsn, char *reason, size_t reason_len);

/*
 * Start the reporter for dsn (already valid); events carry release
 * ("teleport@VERSION"; NULL for that default) and server_name (the
 * instance's name; NULL for the host's name). Initializes libcurl for the
 * process on first use (never cleaned up). Returns NULL after logging when
 * the DSN is invalid or the thread cannot start; teleport then runs without
 * reporting. Owned by the caller, freed by tp_sentry_stop.
 */
tp_sentry  *tp_sentry_start(const char *dsn, const char *release,
							const char *server_name);

/*
 * Queue one event (copied); never blocks beyond a short mutex and never
 * logs, from any thread. When the queue (100 events) is full the event is
 * dropped and counted (the count is logged at stop). A tp_log_sink_fn: pass
 * it to tp_log_set_sink with the reporter as arg. Each event is sent once:
 * failures are counted and logged as rate-limited warnings, not retried.
 */
void		tp_sentry_capture(void *sentry, tp_log_level level,
							  const char *component, const char *message);

/*
 * Send what is queued, waiting up to flush_ms milliseconds, then cut short
 * the transfer in progress, stop the thread and free the reporter; returns
 * within about flush_ms. Logs a warning with how many events were not
 * reported, if any. Remove the log sink first. NULL is allowed.
 */
void		tp_sentry_stop(tp_sentry *sentry, int flush_ms);

#endif							/* TP_SENTRY_H */
