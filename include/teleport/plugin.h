/*
 * teleport/plugin.h
 *     How a plugin declares itself, and what the host hands it.
 *
 * A plugin is a shared object that exports exactly one function,
 * teleport_plugin_info(), best written with the TELEPORT_PLUGIN macro. The
 * host calls it before anything else, checks the ABI version, size and kind
 * in the block it returns, and only then calls init(), which fills the
 * kind's callbacks struct (source.h, transport.h, applier.h).
 *
 * One library may be instantiated several times (a transport used by two
 * targets); each instance gets its own tp_plugin_ctx and keeps its state in
 * ctx->private_data. Everything a plugin needs from teleport it reaches
 * through ctx->host: plugins link against nothing from the daemon.
 */
#ifndef TELEPORT_PLUGIN_H
#define TELEPORT_PLUGIN_H

#include <stdbool.h>
#include <teleport/abi.h>
#include <teleport/batch.h>

typedef struct tp_host_api tp_host_api;

/* What became of a batch handed to host->deliver. */
typedef enum tp_delivery_status
{
	TP_DELIVERY_STORED = 1,		/* new, committed */
	TP_DELIVERY_DUPLICATE = 2,	/* stored before, identical */
	TP_DELIVERY_GAP = 3,		/* seq beyond the next expected */
	TP_DELIVERY_CONFLICT = 4,	/* seq stored before with other content */
	TP_DELIVERY_INVALID = 5,	/* unacceptable batch */
	TP_DELIVERY_UNAVAILABLE = 6 /* the store cannot be reached now */
} tp_delivery_status;

typedef struct tp_delivery
{
	uint32_t	size;
	tp_delivery_status status;
	uint64_t	expected_seq;	/* the next seq the store expects */
	char		reason[256];	/* one sentence, for the peer */
} tp_delivery;

/* The type of a plugin option, checked by the host when it reads config. */
typedef enum tp_option_type
{
	TP_OPTION_STRING = 1,
	TP_OPTION_INT = 2,			/* a decimal integer (int64 range) */
	TP_OPTION_BOOL = 3,			/* true or false */
	TP_OPTION_PATH = 4			/* a file or directory name */
} tp_option_type;

/*
 * One entry of a plugin's option table (fluent-bit's config map). The table
 * ends with an entry whose name is NULL. The host rejects, with file, line
 * and key, an option the table does not name or of the wrong type, and a
 * missing required one.
 */
typedef struct tp_option_desc
{
	const char *name;
	tp_option_type type;
	const char *default_value;	/* as text; NULL for none */
	bool		required;
	const char *description;	/* one sentence, shown by --list-plugins -v */
} tp_option_desc;

/* An instance of a plugin, made by the host and zero-filled. */
typedef struct tp_plugin_ctx
{
	uint32_t	size;
	const tp_host_api *host;	/* the host's services */
	const char *instance;		/* this instance's name (database.name) */
	const char *plugin;			/* the plugin's name */
	const char *section;		/* config key path of the options, e.g.
								 * "targets.my-target" */
	const char *target;			/* the target this instance serves, or NULL */
	bool		receiving;		/* transport: the receiving half */
	void	   *private_data;	/* the plugin's own */
} tp_plugin_ctx;

/* The block that identifies a plugin; see TELEPORT_PLUGIN. */
typedef struct tp_plugin_info
{
	uint32_t	size;			/* sizeof(tp_plugin_info) */
	uint16_t	abi_major;		/* TELEPORT_ABI_MAJOR when built */
	uint16_t	abi_minor;		/* TELEPORT_ABI_MINOR when built */
	tp_plugin_kind kind;
	const char *name;			/* unique among loaded plugins */
	const char *version;		/* the plugin's own version */
	const char *description;	/* one line */
	const tp_option_desc *options;	/* may be NULL */

	/*
	 * Fill the kind's callbacks struct. callbacks points to a zero-filled
	 * tp_source_callbacks, tp_transport_callbacks or tp_applier_callbacks
	 * whose size field the host has set. Return TP_OK, or TP_ERROR after
	 * logging why. Called once per library, before any thread starts.
	 */
	tp_result	(*init) (const tp_host_api *host, void *callbacks);
} tp_plugin_info;

typedef const tp_plugin_info *(*tp_plugin_entry_fn) (void);

/*
 * The host's services (Redis's module API): a table of functions that only
 * grows at its end. A service added in minor N is there when
 * host->abi_minor >= N (or TP_HAS_FIELD(host, tp_host_api, fn)).
 */
struct tp_host_api
{
	uint32_t	size;
	uint16_t	abi_major;
	uint16_t	abi_minor;
	const char *teleport_version;

	/* Log one line, tagged with the plugin's name, to teleport's log. */
	void		(*log) (const tp_plugin_ctx *ctx, tp_log_level level,
						const char *fmt,...) TP_PRINTF(3, 4);

	/*
	 * The value of one of the plugin's declared options, as text, after the
	 * host has checked its type and applied its default; NULL when unset
	 * and without default. Owned by the host, valid until shutdown.
	 */
	const char *(*option) (const tp_plugin_ctx *ctx, const char *name);

	/*
	 * Any scalar of the instance's config by key path
	 * ("targets.my-target.endpoint.port"), as text, or NULL when absent.
	 * Owned by the host, valid until shutdown.
	 */
	const char *(*config_value) (const tp_plugin_ctx *ctx, const char *path);

	/*
	 * libpq keyword/value conninfo for this instance's database; may be
	 * passed to PQconnectdb. Owned by the host.
	 */
	const char *(*conninfo) (const tp_plugin_ctx *ctx);

	/*
	 * Decode the next change of batch into *change. Returns TP_OK with a
	 * change, TP_OK with change->size == 0 at the end of the data, or
	 * TP_ERROR (logged) for a malformed line.
	 */
	tp_result	(*change_next) (const tp_plugin_ctx *ctx, const tp_batch *batch,
								tp_change_cursor *cursor, tp_change *change);
	void		(*change_cursor_done) (tp_change_cursor *cursor);

	/*
	 * The header line (with its '\n') of batch's wire form; the caller sends
	 * it followed by batch->data, and frees it with host->free. NULL after
	 * logging on failure.
	 */
	char	   *(*batch_header) (const tp_plugin_ctx *ctx, const tp_batch *batch);

	/*
	 * Parse a batch's wire form. On TP_OK *batch is a new batch owned by the
	 * caller (free with batch_free) whose strings and data point into a copy
	 * owned by it. On TP_ERROR, reason says why, in one sentence, for the
	 * peer; nothing is logged.
	 */
	tp_result	(*batch_parse) (const tp_plugin_ctx *ctx, const char *buf,
								size_t len, tp_batch **batch, char *reason,
								size_t reason_len);
	void		(*batch_free) (tp_batch *batch);

	/*
	 * Receiving half of a transport: hand a received batch to the core,
	 * which stores it durably (committed) before it returns. The outcome
	 * (zero-filled, size set by the caller) says what to answer the peer:
	 * STORED or DUPLICATE: acknowledge; GAP: refuse, the sender must resend
	 * from expected_seq; CONFLICT or INVALID: refuse, reason says why;
	 * UNAVAILABLE: ask the sender to retry later. Returns TP_OK for STORED
	 * and DUPLICATE, TP_RETRY for UNAVAILABLE, TP_ERROR otherwise. Nothing
	 * of a refused batch is stored. Thread-safe.
	 */
	tp_result	(*deliver) (const tp_plugin_ctx *ctx, const tp_batch *batch,
							tp_delivery *outcome);

	/* True once the instance is shutting down; long loops should return. */
	bool		(*stopping) (const tp_plugin_ctx *ctx);

	/* Free memory the host returned to the plugin. */
	void		(*free) (void *ptr);

	/*
	 * Source plugins: whether schema.table is selected by the
	 * target_expression of at least one of this instance's targets.
	 */
	bool		(*table_selected) (const tp_plugin_ctx *ctx, const char *schema,
								   const char *table);

	/*
	 * The instance's state as a JSON object text, for a status endpoint:
	 * its name and version, each target's backlog (batches waiting, lag,
	 * needs_resync) on a source, the inbox on a receiver. A new string
	 * (free with host->free); NULL after logging when it cannot be had now.
	 * Thread-safe.
	 */
	char	   *(*status_json) (const tp_plugin_ctx *ctx);

	/*
	 * ABI 1.2: batch_parse without copying the data: *batch (free with
	 * batch_free) owns its struct and strings, and its data points into
	 * buf, which must end in a NUL (buf[len] == '\0') and be kept
	 * unchanged until the batch is freed. For a receiver that holds the
	 * body in a buffer of its own anyway.
	 */
	tp_result	(*batch_parse_borrowed) (const tp_plugin_ctx *ctx, const char *buf,
										 size_t len, tp_batch **batch,
										 char *reason, size_t reason_len);
};

/*
 * Declare the plugin: defines the exported entry function returning a static
 * info block. Use it once, at file scope:
 *
 *   TELEPORT_PLUGIN(TP_PLUGIN_TRANSPORT, "stdout", "1.0.0",
 *                   "writes change events to standard output",
 *                   stdout_options, stdout_init)
 */
#define TELEPORT_PLUGIN(kind_, name_, version_, description_, options_, init_) \
	TP_EXPORT const tp_plugin_info *teleport_plugin_info(void);			\
	TP_EXPORT const tp_plugin_info *teleport_plugin_info(void)			\
	{																	\
		static const tp_plugin_info info = {							\
			sizeof(tp_plugin_info), TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR, \
			(kind_), (name_), (version_), (description_), (options_), (init_) \
		};																\
		return &info;													\
	}

#endif							/* TELEPORT_PLUGIN_H */
