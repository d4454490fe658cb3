/*
 * config.c
 *     Read an instance's YAML configuration and validate every key.
 *
 * The seed's keys (batch_size, processing_intervals, database, server,
 * targets, sentry_endpoint ...) keep their meaning; the additions are
 * optional. Validation goes on after an error so that one run reports every
 * mistake of the file, each as "FILE:LINE:COLUMN: KEY.PATH: message".
 *
 * Rules common to all keys: a null value (nothing, "~" or "null") counts as
 * the key not being set; an integer is a plain decimal scalar (quoted is
 * accepted too, see tp_config_parse_int); a boolean is true or false.
 * Loading also builds the conninfo once (conninfo.c), so that an unknown
 * libpq keyword or a malformed database.conninfo is a config error too.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conninfo.h"
#include "log.h"
#include "sentry.h"
#include "xalloc.h"
#include "yaml_tree.h"

/* Longest key path we print; longer ones are truncated. */
#define CFG_PATH_LEN 512

#define CFG_MAX_INTERVAL_MS 86400000
#define CFG_DEFAULT_MAX_BODY (64 * 1024 * 1024)

/* One validation run: the config being filled and how many errors so far. */
typedef struct cfg_ctx
{
	tp_config  *config;
	int			errors;
} cfg_ctx;

/* The result of reading one optional key. */
typedef enum cfg_get
{
	CFG_UNSET = 0,				/* absent or null */
	CFG_SET = 1,				/* present and valid */
	CFG_INVALID = 2				/* present and wrong (error logged) */
} cfg_get;

static const char *const top_keys[] = {
	"batch_size", "max_events_per_batch", "use_event_triggers",
	"processing_intervals", "database", "server", "targets",
	"sentry_endpoint", "plugin_dir", "applier", "applier_options",
	"source_options", "log_level", "max_batch_bytes", "queue_retention",
	"replicate_ddl", "load_jobs", "load_chunk_bytes", "load_split_bytes",
	"load_in_one_transaction", "load_batches_in_flight", "batches_in_flight",
	NULL
};
static const char *const interval_keys[] = {
	"batcher", "transmitter", "applier", "vacuum", "ddlwatcher", NULL
};
static const char *const database_keys[] = {
	"name", "database", "hostname", "username", "password", "port",
	"conninfo", "options", NULL
};
static const char *const server_keys[] = {
	"hostname", "port", "transport", "options", "token", "token_file",
	"token_env", "tls_cert", "tls_key", "tls_ca", "max_body_size", NULL
};
static const char *const target_keys[] = {
	"target_expression", "apply_schema", "endpoint", "transport", "options",
	NULL
};
static const char *const endpoint_keys[] = {
	"hostname", "port", "token", "token_file", "token_env", "tls_ca",
	"tls_cert", "tls_key", NULL
};
static const char *const log_levels[] = {
	"error", "warning", "info", "debug", NULL
};

/* See config.h. */
void
tp_config_error(const tp_config *config, int line, int column,
				const char *path, const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tp_error("config", "%s:%d:%d: %s: %s",
			 config && config->path ? config->path : "(config)",
			 line, column, path, msg);
}

/* Log an error of this run and count it. */
static void TP_PRINTF(5, 6)
report(cfg_ctx *cx, int line, int column, const char *path,
	   const char *fmt,...)
{
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tp_config_error(cx->config, line, column, path, "%s", msg);
	cx->errors++;
}

/* See config.h. */
bool
tp_config_parse_int(const char *text, int64_t *value)
{
	const char *p = text;
	bool		negative = false;
	uint64_t	acc = 0;
	uint64_t	limit;

	if (text == NULL)
		return false;
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	if (*p < '0' || *p > '9')
		return false;
	if (*p == '0' && p[1] != '\0')
		return false;			/* leading zero: octal in YAML 1.1 */
	limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; *p != '\0'; p++)
	{
		unsigned	digit;

		if (*p < '0' || *p > '9')
			return false;
		digit = (unsigned) (*p - '0');
		if (acc > (limit - digit) / 10)
			return false;
		acc = acc * 10 + digit;
	}
	if (negative)
		*value = acc == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) acc;
	else
		*value = (int64_t) acc;
	return true;
}

/* See config.h. */
bool
tp_config_is_null(const tp_node *node)
{
	if (node == NULL || node->type != TP_NODE_SCALAR || !node->plain)
		return false;
	return node->scalar[0] == '\0' || strcmp(node->scalar, "~") == 0 ||
		strcmp(node->scalar, "null") == 0 || strcmp(node->scalar, "Null") == 0 ||
		strcmp(node->scalar, "NULL") == 0;
}

/* Write parent.key (or key, at the top) into buf, truncated to fit. */
static void
join_path(char *buf, size_t size, const char *parent, const char *key)
{
	size_t		used = 0;
	const char *parts[3] = {parent, ".", key};

	for (int i = 0; i < 3; i++)
	{
		size_t		len;

		if (i < 2 && (parent == NULL || parent[0] == '\0'))
			continue;
		len = strlen(parts[i]);
		if (len > size - 1 - used)
			len = size - 1 - used;
		memcpy(buf + used, parts[i], len);
		used += len;
	}
	buf[used] = '\0';
}

/* What node is, for "expected X, found Y" messages; writes into buf. */
static const char *
describe(const tp_node *node, char *buf, size_t size)
{
	if (node->type == TP_NODE_MAP)
		return "a map";
	if (node->type == TP_NODE_SEQ)
		return "a list";
	if (tp_config_is_null(node))
		return "null";
	if (strlen(node->scalar) > 40)
		snprintf(buf, size, "\"%.40s...\"", node->scalar);
	else
		snprintf(buf, size, "\"%s\"", node->scalar);
	return buf;
}

/* Report "expected WHAT, found X" about node, at line and column. */
static void
report_found(cfg_ctx *cx, int line, int column, const char *path,
			 const char *what, const tp_node *node)
{
	char		desc[64];

	report(cx, line, column, path, "expected %s, found %s", what,
		   describe(node, desc, sizeof(desc)));
}

/* Whether key is one of the NULL-terminated list known. */
static bool
key_known(const char *key, const char *const known[])
{
	for (int i = 0; known[i] != NULL; i++)
	{
		if (strcmp(key, known[i]) == 0)
			return true;
	}
	return false;
}

/* Report every key of map that is not in known, listing the known ones. */
static void
check_keys(cfg_ctx *cx, const tp_node *map, const char *path,
		   const char *const known[])
{
	char		list[512];
	size_t		used = 0;

	list[0] = '\0';
	for (int i = 0; known[i] != NULL && used < sizeof(list); i++)
		used += (size_t) snprintf(list + used, sizeof(list) - used, "%s%s",
								  i > 0 ? ", " : "", known[i]);

	for (size_t i = 0; i < map->n; i++)
	{
		char		kpath[CFG_PATH_LEN];

		if (key_known(map->pairs[i].key, known))
			continue;
		join_path(kpath, sizeof(kpath), path, map->pairs[i].key);
		report(cx, map->pairs[i].key_line, map->pairs[i].key_column, kpath,
			   "unknown key (expected one of: %s)", list);
	}
}

/*
 * The pair of key in map when it has a non-null value; otherwise NULL, after
 * reporting a missing key when required (at the map, or at a null value).
 */
static const tp_node_pair *
get_pair(cfg_ctx *cx, const tp_node *map, const char *path, const char *key,
		 bool required)
{
	const tp_node_pair *pair = tp_node_get_pair(map, key);

	if (pair != NULL && !tp_config_is_null(pair->value))
		return pair;
	if (required)
	{
		char		kpath[CFG_PATH_LEN];

		join_path(kpath, sizeof(kpath), path, key);
		if (pair == NULL)
			report(cx, map->line, map->column, kpath, "missing required key");
		else
			report(cx, pair->key_line, pair->key_column, kpath,
				   "a value is required");
	}
	return NULL;
}

/* Read a string key into *out (a copy owned by the config). */
static cfg_get
get_string(cfg_ctx *cx, const tp_node *map, const char *path, const char *key,
		   bool required, bool nonempty, char **out)
{
	const tp_node_pair *pair = get_pair(cx, map, path, key, required);
	char		kpath[CFG_PATH_LEN];

	if (pair == NULL)
		return CFG_UNSET;
	join_path(kpath, sizeof(kpath), path, key);
	if (pair->value->type != TP_NODE_SCALAR)
	{
		report_found(cx, pair->value->line, pair->value->column, kpath,
					 "a string", pair->value);
		return CFG_INVALID;
	}
	if (nonempty && pair->value->scalar[0] == '\0')
	{
		report(cx, pair->value->line, pair->value->column, kpath,
			   "must not be empty");
		return CFG_INVALID;
	}
	free(*out);
	*out = tp_xstrdup(pair->value->scalar);
	return CFG_SET;
}

/* Read an integer key within [min, max] into *out. */
static cfg_get
get_int(cfg_ctx *cx, const tp_node *map, const char *path, const char *key,
		bool required, int64_t min, int64_t max, int64_t *out)
{
	const tp_node_pair *pair = get_pair(cx, map, path, key, required);
	char		kpath[CFG_PATH_LEN];
	char		range[96];
	int64_t		value;

	if (pair == NULL)
		return CFG_UNSET;
	join_path(kpath, sizeof(kpath), path, key);
	if (max == INT64_MAX)
		snprintf(range, sizeof(range), "an integer >= %lld", (long long) min);
	else
		snprintf(range, sizeof(range), "an integer from %lld to %lld",
				 (long long) min, (long long) max);
	if (pair->value->type != TP_NODE_SCALAR ||
		!tp_config_parse_int(pair->value->scalar, &value) ||
		value < min || value > max)
	{
		report_found(cx, pair->value->line, pair->value->column, kpath,
					 range, pair->value);
		return CFG_INVALID;
	}
	*out = value;
	return CFG_SET;
}

/* Read an int-sized key within [min, max] into *out. */
static cfg_get
get_small_int(cfg_ctx *cx, const tp_node *map, const char *path,
			  const char *key, bool required, int min, int max, int *out)
{
	int64_t		value = *out;
	cfg_get		res = get_int(cx, map, path, key, required, min, max, &value);

	if (res == CFG_SET)
		*out = (int) value;
	return res;
}

/* Read a boolean key (true or false, nothing else) into *out. */
static cfg_get
get_bool(cfg_ctx *cx, const tp_node *map, const char *path, const char *key,
		 bool *out)
{
	const tp_node_pair *pair = get_pair(cx, map, path, key, false);
	char		kpath[CFG_PATH_LEN];

	if (pair == NULL)
		return CFG_UNSET;
	join_path(kpath, sizeof(kpath), path, key);
	if (pair->value->type == TP_NODE_SCALAR &&
		strcmp(pair->value->scalar, "true") == 0)
		*out = true;
	else if (pair->value->type == TP_NODE_SCALAR &&
			 strcmp(pair->value->scalar, "false") == 0)
		*out = false;
	else
	{
		report_found(cx, pair->value->line, pair->value->column, kpath,
					 "true or false", pair->value);
		return CFG_INVALID;
	}
	return CFG_SET;
}

/* The map under key, or NULL when unset or not a map (reported). */
static const tp_node *
get_map(cfg_ctx *cx, const tp_node *map, const char *path, const char *key,
		bool required)
{
	const tp_node_pair *pair = get_pair(cx, map, path, key, required);

	if (pair == NULL)
		return NULL;
	if (pair->value->type != TP_NODE_MAP)
	{
		char		kpath[CFG_PATH_LEN];

		join_path(kpath, sizeof(kpath), path, key);
		report_found(cx, pair->value->line, pair->value->column, kpath,
					 "a map", pair->value);
		return NULL;
	}
	return pair->value;
}

/* A plugin options map: any names, scalar values; NULL when unset. */
static const tp_node *
get_options(cfg_ctx *cx, const tp_node *map, const char *path,
			const char *key)
{
	const tp_node *options = get_map(cx, map, path, key, false);
	char		opath[CFG_PATH_LEN];
	char		kpath[CFG_PATH_LEN];

	if (options == NULL)
		return NULL;
	join_path(opath, sizeof(opath), path, key);
	for (size_t i = 0; i < options->n; i++)
	{
		const tp_node *value = options->pairs[i].value;

		if (value->type == TP_NODE_SCALAR)
			continue;
		join_path(kpath, sizeof(kpath), opath, options->pairs[i].key);
		report_found(cx, value->line, value->column, kpath,
					 "a scalar", value);
	}
	return options;
}

/*
 * source_options: PLUGIN -> that plugin's options map. Returns the outer map
 * or NULL when unset or not a map.
 */
static const tp_node *
get_source_options(cfg_ctx *cx, const tp_node *root)
{
	const tp_node *map = get_map(cx, root, "", "source_options", false);

	for (size_t i = 0; map != NULL && i < map->n; i++)
	{
		const tp_node_pair *pair = &map->pairs[i];
		char		kpath[CFG_PATH_LEN];

		if (tp_config_is_null(pair->value))
			continue;
		join_path(kpath, sizeof(kpath), "source_options", pair->key);
		if (pair->value->type != TP_NODE_MAP)
			report_found(cx, pair->value->line, pair->value->column, kpath,
						 "a map of options", pair->value);
		else
			get_options(cx, map, "source_options", pair->key);
	}
	return map;
}

/* Refuse more than one of token, token_file and token_env in map. */
static void
check_one_token(cfg_ctx *cx, const tp_node *map, const char *path)
{
	static const char *const names[] = {"token", "token_file", "token_env"};
	const tp_node_pair *first = NULL;

	for (size_t i = 0; i < map->n; i++)
	{
		const tp_node_pair *pair = &map->pairs[i];
		char		kpath[CFG_PATH_LEN];

		if (tp_config_is_null(pair->value) ||
			(strcmp(pair->key, names[0]) != 0 &&
			 strcmp(pair->key, names[1]) != 0 &&
			 strcmp(pair->key, names[2]) != 0))
			continue;
		if (first == NULL)
		{
			first = pair;
			continue;
		}
		join_path(kpath, sizeof(kpath), path, pair->key);
		report(cx, pair->key_line, pair->key_column, kpath,
			   "cannot be combined with %s (line %d): token, token_file and token_env are mutually exclusive",
			   first->key, first->key_line);
	}
}

/* Refuse tls_cert without tls_key and the other way round. */
static void
check_cert_key(cfg_ctx *cx, const tp_node *map, const char *path,
			   const char *cert, const char *key)
{
	const tp_node_pair *pair;
	char		kpath[CFG_PATH_LEN];

	if ((cert == NULL) == (key == NULL))
		return;
	pair = tp_node_get_pair(map, cert ? "tls_cert" : "tls_key");
	join_path(kpath, sizeof(kpath), path, cert ? "tls_key" : "tls_cert");
	report(cx, pair->key_line, pair->key_column, kpath,
		   "tls_cert and tls_key must be given together");
}

/* processing_intervals: each a number of milliseconds. */
static void
read_intervals(cfg_ctx *cx, const tp_node *root)
{
	const char *path = "processing_intervals";
	const tp_node *map = get_map(cx, root, "", path, false);
	tp_intervals_config *iv = &cx->config->intervals;

	if (map == NULL)
		return;
	check_keys(cx, map, path, interval_keys);
	get_small_int(cx, map, path, "batcher", false, 1, CFG_MAX_INTERVAL_MS,
				  &iv->batcher);
	get_small_int(cx, map, path, "transmitter", false, 1, CFG_MAX_INTERVAL_MS,
				  &iv->transmitter);
	get_small_int(cx, map, path, "applier", false, 1, CFG_MAX_INTERVAL_MS,
				  &iv->applier);
	get_small_int(cx, map, path, "vacuum", false, 1, CFG_MAX_INTERVAL_MS,
				  &iv->vacuum);
	get_small_int(cx, map, path, "ddlwatcher", false, 1, CFG_MAX_INTERVAL_MS,
				  &iv->ddlwatcher);
}

/* database: the instance's name and its libpq settings. */
static void
read_database(cfg_ctx *cx, const tp_node *root)
{
	const char *path = "database";
	const tp_node *map = get_map(cx, root, "", path, true);
	tp_database_config *db = &cx->config->database;

	if (map == NULL)
		return;
	check_keys(cx, map, path, database_keys);
	get_string(cx, map, path, "name", true, true, &db->name);
	get_string(cx, map, path, "database", false, false, &db->database);
	get_string(cx, map, path, "hostname", false, false, &db->hostname);
	get_string(cx, map, path, "username", false, false, &db->username);
	get_string(cx, map, path, "password", false, false, &db->password);
	get_small_int(cx, map, path, "port", false, 1, 65535, &db->port);
	get_string(cx, map, path, "conninfo", false, false, &db->conninfo);
	db->options = get_options(cx, map, path, "options");
}

/* server: where this instance listens for batches. */
static void
read_server(cfg_ctx *cx, const tp_node *root)
{
	const char *path = "server";
	const tp_node *map = get_map(cx, root, "", path, false);
	tp_server_config *srv = &cx->config->server;

	if (map == NULL)
		return;
	cx->config->has_server = true;
	check_keys(cx, map, path, server_keys);
	get_string(cx, map, path, "hostname", true, false, &srv->hostname);
	get_small_int(cx, map, path, "port", true, 1, 65535, &srv->port);
	get_string(cx, map, path, "transport", false, true, &srv->transport);
	srv->options = get_options(cx, map, path, "options");
	get_string(cx, map, path, "token", false, false, &srv->token);
	get_string(cx, map, path, "token_file", false, true, &srv->token_file);
	get_string(cx, map, path, "token_env", false, true, &srv->token_env);
	get_string(cx, map, path, "tls_cert", false, true, &srv->tls_cert);
	get_string(cx, map, path, "tls_key", false, true, &srv->tls_key);
	get_string(cx, map, path, "tls_ca", false, true, &srv->tls_ca);
	get_int(cx, map, path, "max_body_size", false, 1, INT64_MAX,
			&srv->max_body_size);
	check_one_token(cx, map, path);
	check_cert_key(cx, map, path, srv->tls_cert, srv->tls_key);
}

/* targets.NAME.endpoint: the receiving instance. */
static void
read_endpoint(cfg_ctx *cx, const tp_node *map, const char *path,
			  tp_endpoint_config *ep)
{
	check_keys(cx, map, path, endpoint_keys);
	get_string(cx, map, path, "hostname", true, true, &ep->hostname);
	get_small_int(cx, map, path, "port", true, 1, 65535, &ep->port);
	get_string(cx, map, path, "token", false, false, &ep->token);
	get_string(cx, map, path, "token_file", false, true, &ep->token_file);
	get_string(cx, map, path, "token_env", false, true, &ep->token_env);
	get_string(cx, map, path, "tls_ca", false, true, &ep->tls_ca);
	get_string(cx, map, path, "tls_cert", false, true, &ep->tls_cert);
	get_string(cx, map, path, "tls_key", false, true, &ep->tls_key);
	ep->tls = ep->tls_ca != NULL || ep->tls_cert != NULL || ep->tls_key != NULL;
	check_one_token(cx, map, path);
	check_cert_key(cx, map, path, ep->tls_cert, ep->tls_key);
}

/* Append a copy of text to the target's expressions. */
static void
add_expression(tp_target_config *t, const char *text)
{
	t->expressions = tp_xrealloc(t->expressions,
								 (t->n_expressions + 1) * sizeof(char *));
	t->expressions[t->n_expressions++] = tp_xstrdup(text);
}

/* targets.NAME.target_expression: one pattern, or a non-empty list. */
static void
read_expressions(cfg_ctx *cx, const tp_node *map, const char *path,
				 tp_target_config *t)
{
	const tp_node_pair *pair = get_pair(cx, map, path, "target_expression",
										true);
	char		kpath[CFG_PATH_LEN];
	char		ipath[CFG_PATH_LEN];
	char		index[24];
	const tp_node *value;

	if (pair == NULL)
		return;
	value = pair->value;
	join_path(kpath, sizeof(kpath), path, "target_expression");
	if (value->type == TP_NODE_MAP)
	{
		report(cx, value->line, value->column, kpath,
			   "expected a string or a list of strings, found a map");
		return;
	}
	if (value->type == TP_NODE_SCALAR)
	{
		if (value->scalar[0] == '\0')
			report(cx, value->line, value->column, kpath, "must not be empty");
		else
			add_expression(t, value->scalar);
		return;
	}
	if (value->n == 0)
	{
		report(cx, value->line, value->column, kpath,
			   "must list at least one expression");
		return;
	}
	for (size_t i = 0; i < value->n; i++)
	{
		const tp_node *item = value->items[i];

		snprintf(index, sizeof(index), "%zu", i);
		join_path(ipath, sizeof(ipath), kpath, index);
		if (item->type != TP_NODE_SCALAR || tp_config_is_null(item))
			report_found(cx, item->line, item->column, ipath,
						 "a string", item);
		else if (item->scalar[0] == '\0')
			report(cx, item->line, item->column, ipath, "must not be empty");
		else
			add_expression(t, item->scalar);
	}
}

/* Whether name is a valid target name: [A-Za-z0-9_.-]+. */
static bool
valid_target_name(const char *name)
{
	if (name[0] == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	}
	return true;
}

/* One entry of targets: pair is NAME -> its map. */
static void
read_target(cfg_ctx *cx, const tp_node_pair *pair, tp_target_config *t)
{
	char		path[CFG_PATH_LEN];
	const tp_node *map = pair->value;
	const tp_node *endpoint;

	join_path(path, sizeof(path), "targets", pair->key);
	t->name = tp_xstrdup(pair->key);
	t->node = map;
	if (!valid_target_name(pair->key))
		report(cx, pair->key_line, pair->key_column, path,
			   "invalid target name: use only letters, digits, '_', '.' and '-'");
	if (map->type != TP_NODE_MAP)
	{
		/* a null value has no position of its own worth showing */
		bool		null = tp_config_is_null(map);

		report_found(cx, null ? pair->key_line : map->line,
					 null ? pair->key_column : map->column, path, "a map", map);
		return;
	}
	check_keys(cx, map, path, target_keys);
	read_expressions(cx, map, path, t);
	if (t->n_expressions > 0)
	{
		char		reason[256];
		const tp_node_pair *expr = tp_node_get_pair(map, "target_expression");
		char		kpath[CFG_PATH_LEN];

		join_path(kpath, sizeof(kpath), path, "target_expression");
		if (!tp_table_filter_compile(&t->filter, t->expressions,
									 t->n_expressions, reason, sizeof(reason)))
			report(cx, expr->value->line, expr->value->column, kpath, "%s",
				   reason);
	}
	get_string(cx, map, path, "apply_schema", true, true, &t->apply_schema);
	get_string(cx, map, path, "transport", false, true, &t->transport);
	if (t->transport == NULL)
		t->transport = tp_xstrdup("http");
	t->options = get_options(cx, map, path, "options");
	endpoint = get_map(cx, map, path, "endpoint",
					   t->transport != NULL &&
					   strcmp(t->transport, "http") == 0);
	if (endpoint != NULL)
	{
		char		epath[CFG_PATH_LEN];

		join_path(epath, sizeof(epath), path, "endpoint");
		t->has_endpoint = true;
		read_endpoint(cx, endpoint, epath, &t->endpoint);
	}
}

/* targets: NAME -> target, in file order. */
static void
read_targets(cfg_ctx *cx, const tp_node *root)
{
	const tp_node *map = get_map(cx, root, "", "targets", false);
	tp_config  *config = cx->config;

	if (map == NULL || map->n == 0)
		return;
	config->targets = tp_xcalloc(map->n, sizeof(tp_target_config));
	config->n_targets = map->n;
	for (size_t i = 0; i < map->n; i++)
		read_target(cx, &map->pairs[i], &config->targets[i]);
}

/* The top-level scalars and option maps. */
static void
read_top(cfg_ctx *cx, const tp_node *root)
{
	tp_config  *config = cx->config;

	check_keys(cx, root, "", top_keys);
	get_int(cx, root, "", "batch_size", false, 1, INT64_MAX,
			&config->batch_size);
	get_int(cx, root, "", "max_events_per_batch", false, 1, INT64_MAX,
			&config->max_events_per_batch);
	get_int(cx, root, "", "max_batch_bytes", false, 1024, INT64_C(1) << 40,
			&config->max_batch_bytes);
	get_int(cx, root, "", "queue_retention", false, 60, INT64_MAX,
			&config->queue_retention);
	get_int(cx, root, "", "load_jobs", false, 1, 64, &config->load_jobs);
	get_int(cx, root, "", "load_chunk_bytes", false, 65536, INT64_C(256) << 20,
			&config->load_chunk_bytes);
	get_int(cx, root, "", "load_split_bytes", false, 65536, INT64_C(1) << 50,
			&config->load_split_bytes);
	get_int(cx, root, "", "load_batches_in_flight", false, 1, 8,
			&config->load_batches_in_flight);
	get_int(cx, root, "", "batches_in_flight", false, 1, 8,
			&config->batches_in_flight);
	get_bool(cx, root, "", "use_event_triggers", &config->use_event_triggers);
	get_bool(cx, root, "", "replicate_ddl", &config->replicate_ddl);
	get_bool(cx, root, "", "load_in_one_transaction",
			 &config->load_in_one_transaction);
	if (get_string(cx, root, "", "sentry_endpoint", false, false,
				   &config->sentry_endpoint) == CFG_SET)
	{
		char		reason[256];

		if (!tp_sentry_dsn_valid(config->sentry_endpoint, reason, sizeof(reason)))
		{
			const tp_node *dsn = tp_node_get(root, "sentry_endpoint");

			report(cx, dsn->line, dsn->column, "sentry_endpoint",
				   "invalid Sentry DSN: %s", reason);
		}
	}
	get_string(cx, root, "", "plugin_dir", false, true, &config->plugin_dir);
	get_string(cx, root, "", "applier", false, true, &config->applier);
	config->applier_options = get_options(cx, root, "", "applier_options");
	config->source_options = get_source_options(cx, root);
	if (get_string(cx, root, "", "log_level", false, false,
				   &config->log_level) == CFG_SET &&
		!key_known(config->log_level, log_levels))
	{
		const tp_node_pair *level = tp_node_get_pair(root, "log_level");

		report(cx, level->value->line, level->value->column, "log_level",
			   "expected one of error, warning, info, debug, found \"%s\"",
			   config->log_level);
	}
}

/* A config holding every default, owned by the caller. */
static tp_config *
config_new(const char *name)
{
	tp_config  *config = tp_xcalloc(1, sizeof(tp_config));

	if (config == NULL)
		return NULL;
	config->path = tp_xstrdup(name);
	config->batch_size = 10000;
	config->max_events_per_batch = 10000;
	config->max_batch_bytes = INT64_C(4) << 20;
	config->queue_retention = 7 * 24 * 3600;
	config->load_jobs = 2;
	config->load_chunk_bytes = INT64_C(4) << 20;
	config->load_split_bytes = INT64_C(64) << 20;
	config->load_batches_in_flight = 2;
	config->batches_in_flight = 2;
	config->use_event_triggers = false;
	config->replicate_ddl = true;
	config->intervals.batcher = 100;
	config->intervals.transmitter = 100;
	config->intervals.applier = 100;
	config->intervals.vacuum = 500;
	config->intervals.ddlwatcher = 5000;
	config->server.max_body_size = CFG_DEFAULT_MAX_BODY;
	return config;
}

/*
 * Validate the parsed document root (ownership passes to the config) and
 * return the config, or NULL after logging every error.
 */
static tp_config *
config_from_tree(tp_node *root, const char *name)
{
	cfg_ctx		cx;
	char	   *conninfo;

	cx.errors = 0;
	cx.config = config_new(name);
	cx.config->root = root;
	if (root->type != TP_NODE_MAP)
	{
		report_found(&cx, root->line, root->column, "(document)",
					 "a map of keys", root);
		tp_config_free(cx.config);
		return NULL;
	}
	read_top(&cx, root);
	read_intervals(&cx, root);
	read_database(&cx, root);
	read_server(&cx, root);
	read_targets(&cx, root);

	if (cx.config->applier == NULL)
		cx.config->applier = tp_xstrdup("postgres");
	if (cx.config->has_server && cx.config->server.transport == NULL)
		cx.config->server.transport = tp_xstrdup("http");

	/* libpq keywords in database.options and database.conninfo */
	conninfo = tp_conninfo_build(cx.config);
	if (conninfo == NULL)
		cx.errors++;
	free(conninfo);

	if (cx.errors > 0)
	{
		tp_config_free(cx.config);
		return NULL;
	}
	return cx.config;
}

/* See config.h. */
bool
tp_config_load(const char *path, tp_config **config)
{
	char		err[1024];
	tp_node    *root;

	*config = NULL;
	root = tp_yaml_parse_file(path, err, sizeof(err));
	if (root == NULL)
	{
		tp_error("config", "%s", err);
		return false;
	}
	*config = config_from_tree(root, path);
	return *config != NULL;
}

/* See config.h. */
bool
tp_config_load_string(const char *text, size_t len, const char *name,
					  tp_config **config)
{
	char		err[1024];
	tp_node    *root;

	*config = NULL;
	root = tp_yaml_parse(text, len, name, err, sizeof(err));
	if (root == NULL)
	{
		tp_error("config", "%s", err);
		return false;
	}
	*config = config_from_tree(root, name);
	return *config != NULL;
}

/* Free the strings of an endpoint (not the struct). */
static void
endpoint_free(tp_endpoint_config *ep)
{
	free(ep->hostname);
	free(ep->token);
	free(ep->token_file);
	free(ep->token_env);
	free(ep->tls_ca);
	free(ep->tls_cert);
	free(ep->tls_key);
}

/* Free config and everything it owns; NULL is allowed. */
void
tp_config_free(tp_config *config)
{
	if (config == NULL)
		return;
	for (size_t i = 0; i < config->n_targets; i++)
	{
		tp_target_config *t = &config->targets[i];

		free(t->name);
		for (size_t j = 0; j < t->n_expressions; j++)
			free(t->expressions[j]);
		free(t->expressions);
		tp_table_filter_free(&t->filter);
		free(t->apply_schema);
		free(t->transport);
		endpoint_free(&t->endpoint);
	}
	free(config->targets);
	free(config->database.name);
	free(config->database.database);
	free(config->database.hostname);
	free(config->database.username);
	free(config->database.password);
	free(config->database.conninfo);
	free(config->server.hostname);
	free(config->server.transport);
	free(config->server.token);
	free(config->server.token_file);
	free(config->server.token_env);
	free(config->server.tls_cert);
	free(config->server.tls_key);
	free(config->server.tls_ca);
	free(config->sentry_endpoint);
	free(config->plugin_dir);
	free(config->applier);
	free(config->log_level);
	tp_node_free(config->root);
	free(config->path);
	free(config);
}

/* The target called name, or NULL; owned by config. */
const tp_target_config *
tp_config_target(const tp_config *config, const char *name)
{
	if (config == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < config->n_targets; i++)
	{
		if (config->targets[i].name != NULL &&
			strcmp(config->targets[i].name, name) == 0)
			return &config->targets[i];
	}
	return NULL;
}

/* The text of the scalar at path in the file, or NULL; owned by config. */
const char *
tp_config_value(const tp_config *config, const char *path)
{
	const tp_node *node;

	if (config == NULL)
		return NULL;
	node = tp_node_path(config->root, path);
	if (node == NULL || node->type != TP_NODE_SCALAR)
		return NULL;
	return node->scalar;
}
