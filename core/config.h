/*
 * config.h
 *     An instance's configuration: the seed's YAML file, validated.
 *
 * The seed's keys keep their meaning; additions are optional with defaults
 * (README, "Configuration reference"). Every error names the file, the line
 * and column, and the key path ("targets.my-target.endpoint.port").
 */
#ifndef TP_CONFIG_H
#define TP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <teleport/plugin.h>

#include "table_pattern.h"
#include "yaml_tree.h"

/* Where a target's batches go: the seed's endpoint, plus HTTP extras. */
typedef struct tp_endpoint_config
{
	char	   *hostname;
	int			port;
	char	   *token;			/* bearer token, or NULL */
	char	   *token_file;		/* file holding it, or NULL */
	char	   *token_env;		/* environment variable holding it, or NULL */
	bool		tls;			/* https; on when any tls_* key is set */
	char	   *tls_ca;			/* CA bundle to verify the server */
	char	   *tls_cert;		/* client certificate */
	char	   *tls_key;		/* client key */
} tp_endpoint_config;

typedef struct tp_target_config
{
	char	   *name;			/* its key under targets: */
	char	  **expressions;	/* target_expression: one pattern or a list */
	size_t		n_expressions;
	tp_table_filter filter;		/* the expressions, compiled */
	char	   *apply_schema;
	bool		has_endpoint;
	tp_endpoint_config endpoint;
	char	   *transport;		/* plugin name; default "http" */
	const tp_node *options;		/* targets.NAME.options, or NULL */
	const tp_node *node;		/* the target's map, for messages */
} tp_target_config;

typedef struct tp_database_config
{
	char	   *name;			/* the instance's name (required) */
	char	   *database;		/* libpq dbname */
	char	   *hostname;		/* libpq host */
	char	   *username;		/* libpq user */
	char	   *password;		/* libpq password */
	int			port;			/* libpq port; 0 when not set */
	char	   *conninfo;		/* a libpq conninfo string or URI */
	const tp_node *options;		/* more libpq keywords, or NULL */
} tp_database_config;

typedef struct tp_server_config
{
	char	   *hostname;
	int			port;
	char	   *transport;		/* receiving plugin; default "http" */
	const tp_node *options;		/* server.options, or NULL */
	char	   *token;			/* required bearer token, or NULL */
	char	   *token_file;
	char	   *token_env;
	char	   *tls_cert;		/* TLS on when cert and key are set */
	char	   *tls_key;
	char	   *tls_ca;			/* verify client certificates */
	int64_t		max_body_size;	/* bytes; default 64 MiB */
} tp_server_config;

typedef struct tp_intervals_config
{
	int			batcher;		/* milliseconds, > 0; defaults: seed's */
	int			transmitter;
	int			applier;
	int			vacuum;
	int			ddlwatcher;
} tp_intervals_config;

typedef struct tp_config
{
	char	   *path;			/* the file it was read from */
	tp_node    *root;			/* the parsed document */
	int64_t		batch_size;		/* default 10000 */
	int64_t		max_events_per_batch;	/* default 10000 */
	int64_t		max_batch_bytes;	/* row images per batch; default 16 MiB */
	int64_t		load_jobs;		/* initial load: copy jobs; default 2 */
	int64_t		load_chunk_bytes;	/* initial load: rows per batch; 4 MiB */
	int64_t		load_split_bytes;	/* initial load: a table over this is
									 * split among the jobs; 64 MiB */
	int64_t		load_batches_in_flight; /* initial load: row batches sent
										 * before the previous is answered
										 * (http transport); default 2 */
	int64_t		batches_in_flight;	/* change batches sent before the
									 * previous is answered (http
									 * transport); default 2 */
	int64_t		queue_retention;	/* seconds a target may lag before it is
									 * marked for resync; default 7 days */
	bool		use_event_triggers; /* default false */
	bool		replicate_ddl;	/* capture schema changes; default true */
	bool		load_in_one_transaction;	/* initial load: the target applies
											 * it at one commit; default false */
	tp_intervals_config intervals;
	tp_database_config database;
	bool		has_server;		/* a server: section is present */
	tp_server_config server;
	tp_target_config *targets;
	size_t		n_targets;
	char	   *sentry_endpoint;	/* DSN, or NULL */
	char	   *plugin_dir;		/* or NULL for the default */
	char	   *applier;		/* applier plugin; default "postgres" */
	const tp_node *applier_options;
	const tp_node *source_options;	/* PLUGIN -> that plugin's options */
	char	   *log_level;		/* or NULL */
} tp_config;

/*
 * Read and validate the file at path. On success *config is a new config
 * owned by the caller (tp_config_free). On failure every error found has
 * been logged, one line each, as "FILE:LINE:COLUMN: KEY.PATH: message",
 * and false is returned.
 */
bool		tp_config_load(const char *path, tp_config **config);

/* The same from a string; name stands for the file in messages. */
bool		tp_config_load_string(const char *text, size_t len, const char *name,
								  tp_config **config);

void		tp_config_free(tp_config *config);

/* The target named name, or NULL. */
const tp_target_config *tp_config_target(const tp_config *config,
										 const char *name);

/*
 * Any scalar by key path ("database.port"), as the file spells it, or NULL
 * when the path does not lead to a scalar. Owned by config.
 */
const char *tp_config_value(const tp_config *config, const char *path);

/*
 * Check a plugin's options map (a node of config, or NULL) against the
 * plugin's table: unknown names, wrong types and missing required options
 * are logged as above, with section ("targets.t1.options") as the key path.
 */
bool		tp_config_check_options(const tp_config *config, const char *section,
									const tp_node *options,
									const tp_option_desc *table);

/*
 * The value of option name from options (or NULL) as text, else the table's
 * default, else NULL. Owned by config or table.
 */
const char *tp_config_option(const tp_node *options, const tp_option_desc *table,
							 const char *name);

/*
 * Helpers shared by the config's readers (config.c, config_options.c,
 * conninfo.c) and anyone who checks a value of the file later.
 */

/*
 * Log one error about the file of config at line and column, as
 * "FILE:LINE:COLUMN: PATH: message", with component "config".
 */
void		tp_config_error(const tp_config *config, int line, int column,
							const char *path, const char *fmt,...) TP_PRINTF(5, 6);

/*
 * Parse an integer the way the config does: an optional '-', then decimal
 * digits with no leading zero (so "0" but not "007"), no spaces, no '+',
 * no '_', no exponent, within int64. False for anything else.
 */
bool		tp_config_parse_int(const char *text, int64_t *value);

/* True when node is YAML's null: a plain "", "~" or "null". */
bool		tp_config_is_null(const tp_node *node);

#endif							/* TP_CONFIG_H */
