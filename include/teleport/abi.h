/*
 * teleport/abi.h
 *     The version of teleport's plugin ABI and the few types every other
 *     public header needs.
 *
 * Rules of this ABI (see "Writing a plugin" in README.md):
 *  - TELEPORT_ABI_MAJOR changes when anything already published changes
 *    meaning, size or position. A plugin built for another major is refused.
 *  - TELEPORT_ABI_MINOR grows when something is appended: a field at the end
 *    of a struct, a function at the end of the host services table, a
 *    callback at the end of a callbacks struct. A plugin built for an older
 *    minor keeps working; a plugin built for a newer minor is refused, since
 *    it may call host services this teleport lacks.
 *  - Every struct that crosses the ABI starts with a uint32_t size holding
 *    sizeof() as its writer compiled it. The host zero-fills what it hands
 *    out; readers look at a trailing field only when size covers it (see
 *    TP_HAS_FIELD).
 *
 * Minor versions of major 1:
 *  1.0  the first
 *  1.1  tp_change.text_values (a change line's "values":"text")
 *  1.2  host->batch_parse_borrowed (a batch parsed without a copy of its
 *       data)
 */
#ifndef TELEPORT_ABI_H
#define TELEPORT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define TELEPORT_ABI_MAJOR 1
#define TELEPORT_ABI_MINOR 2

/* The one symbol a plugin exports; see TELEPORT_PLUGIN in plugin.h. */
#define TELEPORT_PLUGIN_ENTRY_SYMBOL "teleport_plugin_info"

/* True when a size-prefixed struct *p, as its writer built it, has field f. */
#define TP_HAS_FIELD(p, type, f) \
	((p)->size >= offsetof(type, f) + sizeof(((type *) 0)->f))

#if defined(__GNUC__)
#define TP_PRINTF(fmt, first) __attribute__((format(printf, fmt, first)))
#define TP_EXPORT __attribute__((visibility("default")))
#else
#define TP_PRINTF(fmt, first)
#define TP_EXPORT
#endif

/* The three kinds of plugin. Values are part of the ABI. */
typedef enum tp_plugin_kind
{
	TP_PLUGIN_SOURCE = 1,		/* captures changes into the queue */
	TP_PLUGIN_TRANSPORT = 2,	/* moves batches between instances */
	TP_PLUGIN_APPLIER = 3		/* applies batches to a target */
} tp_plugin_kind;

/*
 * The outcome of a plugin callback (fluent-bit's flush result): TP_OK, done;
 * TP_RETRY, a passing failure, the host tries again later with backoff;
 * TP_ERROR, a failure that retrying will not mend. The callback has logged
 * the reason through the host's log service before it returns.
 */
typedef enum tp_result
{
	TP_OK = 0,
	TP_RETRY = 1,
	TP_ERROR = 2
} tp_result;

/* Log levels, most severe first. Values are part of the ABI. */
typedef enum tp_log_level
{
	TP_LOG_ERROR = 1,
	TP_LOG_WARNING = 2,
	TP_LOG_INFO = 3,
	TP_LOG_DEBUG = 4
} tp_log_level;

/* libpq's connection; plugins that use it include <libpq-fe.h> themselves. */
struct pg_conn;

#endif							/* TELEPORT_ABI_H */
