/*
 * log.h
 *     teleport's log: one line per event on stderr, with time, level and
 *     component, and an optional sink (Sentry) for errors.
 */
#ifndef TP_LOG_H
#define TP_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <teleport/abi.h>

/*
 * Receives each error-level line after it is written, under the log's lock:
 * it must neither block nor log.
 */
typedef void (*tp_log_sink_fn) (void *arg, tp_log_level level,
								const char *component, const char *message);

/* Lines less severe than level are dropped. Default: TP_LOG_INFO. */
void		tp_log_set_level(tp_log_level level);
tp_log_level tp_log_get_level(void);

/* Parse "error", "warning", "info" or "debug"; false for anything else. */
bool		tp_log_parse_level(const char *name, tp_log_level *level);

/* The lower-case name of level. */
const char *tp_log_level_name(tp_log_level level);

/* Set (or, with fn NULL, remove) the sink that sees error lines. */
void		tp_log_set_sink(tp_log_sink_fn fn, void *arg);

/* Write one line: "2026-11-26 11:40:00.123 UTC [pid] LEVEL component: text". */
void		tp_log(tp_log_level level, const char *component,
				   const char *fmt,...) TP_PRINTF(3, 4);
void		tp_logv(tp_log_level level, const char *component,
					const char *fmt, va_list ap) TP_PRINTF(3, 0);

#define tp_error(component, ...) tp_log(TP_LOG_ERROR, (component), __VA_ARGS__)
#define tp_warning(component, ...) tp_log(TP_LOG_WARNING, (component), __VA_ARGS__)
#define tp_info(component, ...) tp_log(TP_LOG_INFO, (component), __VA_ARGS__)
#define tp_debug(component, ...) tp_log(TP_LOG_DEBUG, (component), __VA_ARGS__)

#endif							/* TP_LOG_H */
