/*
 * check_config.c
 *     Unit tests of the configuration: core/yaml_tree.c (the YAML tree and
 *     its positions), core/config.c and core/config_options.c (the seed's
 *     keys, the additions, every class of error with its file, line, column
 *     and key path) and core/conninfo.c (the libpq connection string).
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "checkmain.h"
#include "config.h"
#include "conninfo.h"
#include "log.h"
#include "yaml_tree.h"

/* The error lines logged during one call, "component: message\n" each. */
typedef struct capture
{
	char		text[32768];
	size_t		len;
	int			count;
} capture;

/* Log sink: append one error line to the capture in arg. */
static void
capture_sink(void *arg, tp_log_level level, const char *component,
			 const char *message)
{
	capture    *cap = arg;
	int			n;

	n = snprintf(cap->text + cap->len, sizeof(cap->text) - cap->len,
				 "%s: %s\n", component ? component : "", message);
	if (n > 0 && (size_t) n < sizeof(cap->text) - cap->len)
		cap->len += (size_t) n;
	cap->count++;
}

/* Load text as a config named "test.yml", capturing the errors in cap. */
static bool
load_text(const char *text, tp_config **config, capture *cap)
{
	bool		ok;

	memset(cap, 0, sizeof(*cap));
	tp_log_set_sink(capture_sink, cap);
	ok = tp_config_load_string(text, strlen(text), "test.yml", config);
	tp_log_set_sink(NULL, NULL);
	return ok;
}

/* The path of a file of tests/data ($TP_TEST_DATA); owned by the caller. */
static char *
data_path(const char *name)
{
	const char *dir = getenv("TP_TEST_DATA");
	char	   *path;

	ck_assert_msg(dir != NULL, "TP_TEST_DATA is not set");
	path = malloc(strlen(dir) + strlen(name) + 2);
	ck_assert_ptr_nonnull(path);
	sprintf(path, "%s/%s", dir, name);
	return path;
}

/* Load the file name of tests/data, capturing errors in cap. */
static bool
load_data(const char *name, tp_config **config, capture *cap)
{
	char	   *path = data_path(name);
	bool		ok;

	memset(cap, 0, sizeof(*cap));
	tp_log_set_sink(capture_sink, cap);
	ok = tp_config_load(path, config);
	tp_log_set_sink(NULL, NULL);
	free(path);
	return ok;
}

/* Assert that text fails to load with exactly one error, line expected. */
static void
assert_one_error(const char *text, const char *expected)
{
	tp_config  *config = NULL;
	capture		cap;
	char		line[1024];

	ck_assert(!load_text(text, &config, &cap));
	ck_assert_ptr_null(config);
	snprintf(line, sizeof(line), "config: %s\n", expected);
	ck_assert_msg(cap.count == 1 && strcmp(cap.text, line) == 0,
				  "expected one error \"%s\", got %d:\n%s", expected,
				  cap.count, cap.text);
}

/* Assert that cap holds the error line expected among others. */
static void
assert_has_error(const capture *cap, const char *expected)
{
	char		line[1024];

	snprintf(line, sizeof(line), "config: %s\n", expected);
	ck_assert_msg(strstr(cap->text, line) != NULL,
				  "missing error \"%s\" in:\n%s", expected, cap->text);
}

/* A config that loads, from text; fails the test otherwise. */
static tp_config *
load_ok(const char *text)
{
	tp_config  *config = NULL;
	capture		cap;

	ck_assert_msg(load_text(text, &config, &cap), "load failed:\n%s",
				  cap.text);
	ck_assert_int_eq(cap.count, 0);
	ck_assert_ptr_nonnull(config);
	return config;
}

/* The value of keyword in a conninfo, parsed by libpq; caller frees. */
static char *
conninfo_get(const char *conninfo, const char *keyword)
{
	char	   *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
	char	   *value = NULL;

	ck_assert_msg(opts != NULL, "libpq refused \"%s\": %s", conninfo,
				  errmsg ? errmsg : "");
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
			value = strdup(o->val);
	}
	PQconninfoFree(opts);
	return value;
}

/* Assert that keyword of conninfo is expected (NULL: not set). */
static void
assert_conninfo(const char *conninfo, const char *keyword,
				const char *expected)
{
	char	   *value = conninfo_get(conninfo, keyword);

	if (expected == NULL)
		ck_assert_msg(value == NULL, "%s is set to \"%s\"", keyword, value);
	else
	{
		ck_assert_msg(value != NULL, "%s is not set in %s", keyword, conninfo);
		ck_assert_str_eq(value, expected);
	}
	free(value);
}

/* A minimal valid config, then extra text appended. */
#define MINIMAL "database:\n  name: db\n"

/* ---------------------------------------------------------------- yaml */

/* Nodes and keys carry 1-based positions; plain is set for plain scalars. */
START_TEST(test_yaml_positions)
{
	const char *text = "a: 1\nb:\n  c: \"x\"\n  d:\n    - one\n    - 'two'\n";
	char		err[256];
	tp_node    *root = tp_yaml_parse(text, strlen(text), "t.yml", err,
									 sizeof(err));
	const tp_node *b;
	const tp_node *d;
	const tp_node_pair *c;

	ck_assert_msg(root != NULL, "%s", err);
	ck_assert_int_eq(root->type, TP_NODE_MAP);
	ck_assert_int_eq(root->n, 2);
	ck_assert_str_eq(root->pairs[0].key, "a");
	ck_assert_int_eq(root->pairs[0].key_line, 1);
	ck_assert_int_eq(root->pairs[0].key_column, 1);
	ck_assert_int_eq(root->pairs[0].value->line, 1);
	ck_assert_int_eq(root->pairs[0].value->column, 4);
	ck_assert(root->pairs[0].value->plain);

	b = tp_node_get(root, "b");
	ck_assert_int_eq(b->type, TP_NODE_MAP);
	ck_assert_int_eq(b->line, 3);
	ck_assert_int_eq(b->column, 3);
	c = tp_node_get_pair(b, "c");
	ck_assert_int_eq(c->key_line, 3);
	ck_assert_int_eq(c->key_column, 3);
	ck_assert_str_eq(c->value->scalar, "x");
	ck_assert(!c->value->plain);
	ck_assert_int_eq(c->value->column, 6);

	d = tp_node_path(root, "b.d");
	ck_assert_int_eq(d->type, TP_NODE_SEQ);
	ck_assert_int_eq(d->n, 2);
	ck_assert_str_eq(d->items[1]->scalar, "two");
	ck_assert_int_eq(d->items[1]->line, 6);
	ck_assert_int_eq(d->items[1]->column, 7);
	ck_assert_ptr_eq(tp_node_path(root, "b.d.1"), d->items[1]);
	ck_assert_ptr_null(tp_node_path(root, "b.d.2"));
	ck_assert_ptr_null(tp_node_path(root, "b.x"));
	ck_assert_ptr_null(tp_node_get(d, "c"));
	tp_node_free(root);
}
END_TEST

/* Keys that contain dots are still reachable by path. */
START_TEST(test_yaml_path_dotted_keys)
{
	const char *text = "t:\n  a.b:\n    p: 1\n  a:\n    q: 2\n";
	char		err[256];
	tp_node    *root = tp_yaml_parse(text, strlen(text), "t.yml", err,
									 sizeof(err));

	ck_assert_msg(root != NULL, "%s", err);
	ck_assert_str_eq(tp_node_path(root, "t.a.b.p")->scalar, "1");
	ck_assert_str_eq(tp_node_path(root, "t.a.q")->scalar, "2");
	ck_assert_ptr_null(tp_node_path(root, "t.a.b.q"));
	tp_node_free(root);
}
END_TEST

/* No document, only comments, or a bare "---" are an empty map. */
START_TEST(test_yaml_empty)
{
	const char *texts[] = {"", "# nothing here\n", "---\n", "--- ~\n"};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
	{
		char		err[256];
		tp_node    *root = tp_yaml_parse(texts[i], strlen(texts[i]), "t.yml",
										 err, sizeof(err));

		ck_assert_msg(root != NULL, "\"%s\": %s", texts[i], err);
		ck_assert_int_eq(root->type, TP_NODE_MAP);
		ck_assert_int_eq(root->n, 0);
		tp_node_free(root);
	}
}
END_TEST

/* Parse text expecting failure with exactly the message expected. */
static void
assert_yaml_error(const char *text, const char *expected)
{
	char		err[512];
	tp_node    *root = tp_yaml_parse(text, strlen(text), "t.yml", err,
									 sizeof(err));

	ck_assert_ptr_null(root);
	ck_assert_str_eq(err, expected);
}

/* libyaml's own complaint, with its line and column, 1-based. */
START_TEST(test_yaml_syntax_error)
{
	assert_yaml_error("a: 1\nb: [1, 2\nc: 3\n",
					  "t.yml:3:2: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)");
	assert_yaml_error("a: 1\n b: 2\n",
					  "t.yml:2:3: invalid YAML: mapping values are not allowed in this context");
	assert_yaml_error("a: \"x\n",
					  "t.yml:2:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 1)");
}
END_TEST

/* Invalid UTF-8 is located by its byte offset. */
START_TEST(test_yaml_bad_encoding)
{
	assert_yaml_error("a: 1\nb: \xff\n",
					  "t.yml:2:4: invalid YAML: invalid leading UTF-8 octet");
}
END_TEST

/* A repeated key names its path and both positions. */
START_TEST(test_yaml_duplicate_key)
{
	assert_yaml_error("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n",
					  "t.yml:5:3: duplicate key \"b.c\" (first defined at line 3, column 3)");
	assert_yaml_error("a: 1\na: 1\n",
					  "t.yml:2:1: duplicate key \"a\" (first defined at line 1, column 1)");
}
END_TEST

/* Anchors, aliases, custom tags, complex keys, two documents: refused. */
START_TEST(test_yaml_refusals)
{
	assert_yaml_error("a: &x 1\nb: 2\n",
					  "t.yml:1:4: anchors are not supported (\"&x\")");
	assert_yaml_error("a: 1\nb: *x\n",
					  "t.yml:2:4: aliases are not supported (\"*x\")");
	assert_yaml_error("a: !custom 1\n",
					  "t.yml:1:4: tag \"!custom\" is not supported");
	assert_yaml_error("a:\n  ? [k]\n  : 1\n",
					  "t.yml:2:5: a: keys must be scalars");
	assert_yaml_error("a: 1\n---\nb: 2\n",
					  "t.yml:2:1: only one YAML document is allowed");
}
END_TEST

/* Core-schema tags are accepted. */
START_TEST(test_yaml_core_tag)
{
	const char *text = "a: !!str 1\n";
	char		err[256];
	tp_node    *root = tp_yaml_parse(text, strlen(text), "t.yml", err,
									 sizeof(err));

	ck_assert_msg(root != NULL, "%s", err);
	ck_assert_str_eq(tp_node_get(root, "a")->scalar, "1");
	tp_node_free(root);
}
END_TEST

/* Nesting past the limit is an error, not a stack overflow. */
START_TEST(test_yaml_deep)
{
	char		text[400];
	char		err[256];
	tp_node    *root;

	memset(text, '[', 200);
	memset(text + 200, ']', 200);
	root = tp_yaml_parse(text, sizeof(text), "t.yml", err, sizeof(err));
	ck_assert_ptr_null(root);
	ck_assert_str_eq(err, "t.yml:1:66: nesting deeper than 64 levels");
}
END_TEST

/* A file that does not exist. */
START_TEST(test_yaml_missing_file)
{
	char		err[256];
	tp_node    *root = tp_yaml_parse_file("/nonexistent/teleport.yml", err,
										  sizeof(err));

	ck_assert_ptr_null(root);
	ck_assert_str_eq(err, "could not open file \"/nonexistent/teleport.yml\": No such file or directory");
}
END_TEST

/* ---------------------------------------------------------------- config */

/* The seed README's source_config.yml, unchanged, with every value. */
START_TEST(test_seed_source)
{
	tp_config  *config = NULL;
	capture		cap;
	const tp_target_config *t;
	char	   *path = data_path("source_config.yml");

	ck_assert_msg(load_data("source_config.yml", &config, &cap), "%s", cap.text);
	ck_assert_int_eq(cap.count, 0);
	ck_assert_str_eq(config->path, path);
	free(path);
	ck_assert_int_eq(config->batch_size, 10000);
	ck_assert_int_eq(config->max_events_per_batch, 10000);
	ck_assert(config->use_event_triggers);
	ck_assert_int_eq(config->intervals.batcher, 100);
	ck_assert_int_eq(config->intervals.transmitter, 100);
	ck_assert_int_eq(config->intervals.applier, 100);
	ck_assert_int_eq(config->intervals.vacuum, 500);
	ck_assert_int_eq(config->intervals.ddlwatcher, 5000);
	ck_assert_str_eq(config->database.name, "finops-db");
	ck_assert_str_eq(config->database.database, "postgres");
	ck_assert_str_eq(config->database.hostname, "postgres.mydomain.com");
	ck_assert_str_eq(config->database.username, "teleport");
	ck_assert_str_eq(config->database.password, "root");
	ck_assert_int_eq(config->database.port, 5432);
	ck_assert_ptr_null(config->database.conninfo);
	ck_assert_ptr_null(config->database.options);
	ck_assert(config->has_server);
	ck_assert_str_eq(config->server.hostname, "0.0.0.0");
	ck_assert_int_eq(config->server.port, 3000);
	ck_assert_str_eq(config->server.transport, "http");
	ck_assert_ptr_null(config->server.token);
	ck_assert_ptr_null(config->server.tls_cert);
	ck_assert_int_eq(config->server.max_body_size, 67108864);
	ck_assert_int_eq(config->n_targets, 1);
	t = tp_config_target(config, "my-target");
	ck_assert_ptr_eq(t, &config->targets[0]);
	ck_assert_str_eq(t->name, "my-target");
	ck_assert_int_eq(t->n_expressions, 1);
	ck_assert_str_eq(t->expressions[0], "public.*");
	ck_assert_str_eq(t->apply_schema, "test");
	ck_assert(t->has_endpoint);
	ck_assert_str_eq(t->endpoint.hostname, "target.mydomain.com");
	ck_assert_int_eq(t->endpoint.port, 3001);
	ck_assert(!t->endpoint.tls);
	ck_assert_ptr_null(t->endpoint.token);
	ck_assert_str_eq(t->transport, "http");
	ck_assert_ptr_null(t->options);
	ck_assert_ptr_eq(t->node, tp_node_path(config->root, "targets.my-target"));
	ck_assert_ptr_null(tp_config_target(config, "other"));
	ck_assert_ptr_null(config->sentry_endpoint);
	ck_assert_ptr_null(config->plugin_dir);
	ck_assert_str_eq(config->applier, "postgres");
	ck_assert_ptr_null(config->applier_options);
	ck_assert_ptr_null(config->source_options);
	ck_assert_ptr_null(config->log_level);
	tp_config_free(config);
}
END_TEST

/* The seed README's target_config.yml: no targets, event triggers off. */
START_TEST(test_seed_target)
{
	tp_config  *config = NULL;
	capture		cap;

	ck_assert_msg(load_data("target_config.yml", &config, &cap), "%s", cap.text);
	ck_assert_int_eq(config->batch_size, 10000);
	ck_assert_int_eq(config->max_events_per_batch, 10000);
	ck_assert_int_eq(config->max_batch_bytes, 4 << 20);
	ck_assert_int_eq(config->queue_retention, 7 * 24 * 3600);
	ck_assert(!config->use_event_triggers);
	ck_assert(config->replicate_ddl);
	ck_assert(!config->load_in_one_transaction);
	ck_assert_int_eq(config->intervals.batcher, 100);
	ck_assert_int_eq(config->intervals.transmitter, 100);
	ck_assert_int_eq(config->intervals.applier, 100);
	ck_assert_int_eq(config->intervals.vacuum, 500);
	ck_assert_int_eq(config->intervals.ddlwatcher, 5000);
	ck_assert_str_eq(config->database.name, "my-target");
	ck_assert_str_eq(config->database.database, "postgres");
	ck_assert_str_eq(config->database.hostname, "postgres-replica.mydomain.com");
	ck_assert_str_eq(config->database.username, "teleport");
	ck_assert_str_eq(config->database.password, "root");
	ck_assert_int_eq(config->database.port, 5432);
	ck_assert(config->has_server);
	ck_assert_str_eq(config->server.hostname, "target.mydomain.com");
	ck_assert_int_eq(config->server.port, 3001);
	ck_assert_int_eq(config->n_targets, 0);
	ck_assert_ptr_null(config->targets);
	tp_config_free(config);
}
END_TEST

/* Everything unset takes its default. */
START_TEST(test_defaults)
{
	tp_config  *config = load_ok(MINIMAL);

	ck_assert_int_eq(config->batch_size, 10000);
	ck_assert_int_eq(config->max_events_per_batch, 10000);
	ck_assert(!config->use_event_triggers);
	ck_assert_int_eq(config->intervals.batcher, 100);
	ck_assert_int_eq(config->intervals.transmitter, 100);
	ck_assert_int_eq(config->intervals.applier, 100);
	ck_assert_int_eq(config->intervals.vacuum, 500);
	ck_assert_int_eq(config->intervals.ddlwatcher, 5000);
	ck_assert_str_eq(config->database.name, "db");
	ck_assert_ptr_null(config->database.hostname);
	ck_assert_int_eq(config->database.port, 0);
	ck_assert(!config->has_server);
	ck_assert_ptr_null(config->server.transport);
	ck_assert_int_eq(config->server.max_body_size, 67108864);
	ck_assert_int_eq(config->load_batches_in_flight, 2);
	ck_assert_int_eq(config->load_split_bytes, INT64_C(64) << 20);
	ck_assert_int_eq(config->batches_in_flight, 2);
	ck_assert_int_eq(config->n_targets, 0);
	ck_assert_str_eq(config->applier, "postgres");
	ck_assert_ptr_null(config->log_level);
	ck_assert_str_eq(config->path, "test.yml");
	tp_config_free(config);
}
END_TEST

/* A null value is the key left unset; quoted integers are accepted. */
START_TEST(test_null_and_quoted)
{
	tp_config  *config = load_ok("sentry_endpoint:\nbatch_size: ~\n"
								 "max_events_per_batch: '77'\n"
								 "plugin_dir: null\n" MINIMAL
								 "  port: \"5432\"\n");

	ck_assert_ptr_null(config->sentry_endpoint);
	ck_assert_ptr_null(config->plugin_dir);
	ck_assert_int_eq(config->batch_size, 10000);
	ck_assert_int_eq(config->max_events_per_batch, 77);
	ck_assert_int_eq(config->database.port, 5432);
	tp_config_free(config);
}
END_TEST

/* Every addition of config_full.yml. */
START_TEST(test_full)
{
	tp_config  *config = NULL;
	capture		cap;
	const tp_target_config *t;

	ck_assert_msg(load_data("config_full.yml", &config, &cap), "%s", cap.text);
	ck_assert_int_eq(config->batch_size, 500);
	ck_assert_int_eq(config->max_events_per_batch, 2500);
	ck_assert(!config->use_event_triggers);
	ck_assert_int_eq(config->load_jobs, 3);
	ck_assert_int_eq(config->load_chunk_bytes, 1048576);
	ck_assert_int_eq(config->load_split_bytes, 8388608);
	ck_assert(config->load_in_one_transaction);
	ck_assert_int_eq(config->load_batches_in_flight, 3);
	ck_assert_int_eq(config->batches_in_flight, 4);
	ck_assert_int_eq(config->intervals.batcher, 1);
	ck_assert_int_eq(config->intervals.transmitter, 200);
	ck_assert_int_eq(config->intervals.applier, 300);
	ck_assert_int_eq(config->intervals.vacuum, 86400000);
	ck_assert_int_eq(config->intervals.ddlwatcher, 7000);
	ck_assert_str_eq(config->database.name, "full-db");
	ck_assert_str_eq(config->database.conninfo,
					 "postgresql://alice:secret@db.example.com:6543/appdb?sslmode=require");
	ck_assert_int_eq(config->database.port, 5433);
	ck_assert_ptr_null(config->database.hostname);
	ck_assert_ptr_nonnull(config->database.options);
	ck_assert_int_eq(config->database.options->n, 2);
	ck_assert_str_eq(config->server.hostname, "127.0.0.1");
	ck_assert_int_eq(config->server.port, 3443);
	ck_assert_str_eq(config->server.transport, "http");
	ck_assert_ptr_null(config->server.token);
	ck_assert_ptr_null(config->server.token_file);
	ck_assert_str_eq(config->server.token_env, "TELEPORT_TOKEN");
	ck_assert_str_eq(config->server.tls_cert, "/etc/teleport/server.crt");
	ck_assert_str_eq(config->server.tls_key, "/etc/teleport/server.key");
	ck_assert_str_eq(config->server.tls_ca, "/etc/teleport/ca.crt");
	ck_assert_int_eq(config->server.max_body_size, 1048576);
	ck_assert_str_eq(tp_node_get(config->server.options, "threads")->scalar, "4");

	ck_assert_int_eq(config->n_targets, 2);
	t = tp_config_target(config, "replica.one");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->n_expressions, 2);
	ck_assert_str_eq(t->expressions[0], "public.*");
	ck_assert_str_eq(t->expressions[1], "billing.invoices");
	ck_assert_str_eq(t->apply_schema, "replica");
	ck_assert(t->has_endpoint);
	ck_assert_str_eq(t->endpoint.hostname, "replica.example.com");
	ck_assert_int_eq(t->endpoint.port, 3001);
	ck_assert_str_eq(t->endpoint.token_file, "/etc/teleport/token");
	ck_assert_str_eq(t->endpoint.tls_ca, "/etc/teleport/ca.crt");
	ck_assert_ptr_null(t->endpoint.tls_cert);
	ck_assert(t->endpoint.tls);
	ck_assert_str_eq(t->transport, "http");

	t = tp_config_target(config, "archive_2");
	ck_assert_ptr_eq(t, &config->targets[1]);
	ck_assert_int_eq(t->n_expressions, 1);
	ck_assert_str_eq(t->expressions[0], "archive.*");
	ck_assert_str_eq(t->transport, "file");
	ck_assert(!t->has_endpoint);
	ck_assert_str_eq(tp_node_get(t->options, "dir")->scalar, "/var/spool/teleport");

	ck_assert_str_eq(config->sentry_endpoint,
					 "https://user:password@sentry.endpoint.com/8");
	ck_assert_str_eq(config->plugin_dir, "/opt/teleport/plugins");
	ck_assert_str_eq(config->applier, "custom");
	ck_assert_str_eq(tp_node_get(config->applier_options, "strict")->scalar, "true");
	ck_assert_str_eq(tp_node_path(config->source_options, "trigger.mode")->scalar,
					 "fast");
	ck_assert_str_eq(config->log_level, "debug");
	tp_config_free(config);
}
END_TEST

/* Any scalar by key path, as the file spells it. */
START_TEST(test_config_value)
{
	tp_config  *config = NULL;
	capture		cap;

	ck_assert(load_data("source_config.yml", &config, &cap));
	ck_assert_str_eq(tp_config_value(config, "database.port"), "5432");
	ck_assert_str_eq(tp_config_value(config, "targets.my-target.endpoint.port"),
					 "3001");
	ck_assert_str_eq(tp_config_value(config, "use_event_triggers"), "true");
	ck_assert_str_eq(tp_config_value(config, "database.name"), "finops-db");
	ck_assert_ptr_null(tp_config_value(config, "database"));
	ck_assert_ptr_null(tp_config_value(config, "database.nope"));
	ck_assert_ptr_null(tp_config_value(config, "sentry_endpoint"));
	tp_config_free(config);

	ck_assert(load_data("config_full.yml", &config, &cap));
	ck_assert_str_eq(tp_config_value(config, "targets.replica.one.endpoint.hostname"),
					 "replica.example.com");
	ck_assert_str_eq(tp_config_value(config, "targets.replica.one.target_expression.1"),
					 "billing.invoices");
	tp_config_free(config);
}
END_TEST

/* An unknown key at the top names itself and the known keys. */
START_TEST(test_unknown_top)
{
	assert_one_error(MINIMAL "batchsize: 5\n",
					 "test.yml:3:1: batchsize: unknown key (expected one of: batch_size, max_events_per_batch, use_event_triggers, processing_intervals, database, server, targets, sentry_endpoint, plugin_dir, applier, applier_options, source_options, log_level, max_batch_bytes, queue_retention, replicate_ddl, load_jobs, load_chunk_bytes, load_split_bytes, load_in_one_transaction, load_batches_in_flight, batches_in_flight)");
}
END_TEST

/* An unknown key deep down has its full key path. */
START_TEST(test_unknown_nested)
{
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  my-target:\n"
					 "    target_expression: \"public.*\"\n"
					 "    apply_schema: test\n"
					 "    endpoint:\n"
					 "      hostname: h\n"
					 "      port: 3001\n"
					 "      hots: x\n",
					 "test.yml:10:7: targets.my-target.endpoint.hots: unknown key (expected one of: hostname, port, token, token_file, token_env, tls_ca, tls_cert, tls_key)");
	assert_one_error(MINIMAL "  user: x\n",
					 "test.yml:3:3: database.user: unknown key (expected one of: name, database, hostname, username, password, port, conninfo, options)");
}
END_TEST

/* Integers: plain decimal (quoted allowed); anything else is refused. */
START_TEST(test_wrong_type_int)
{
	assert_one_error(MINIMAL "  port: \"5432x\"\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"5432x\"");
	assert_one_error(MINIMAL "  port: 54.3\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"54.3\"");
	assert_one_error(MINIMAL "  port: 05432\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"05432\"");
	assert_one_error(MINIMAL "  port: 0x10\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"0x10\"");
	assert_one_error(MINIMAL "  port: [5432]\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found a list");
	assert_one_error("batch_size: {a: 1}\n" MINIMAL,
					 "test.yml:1:13: batch_size: expected an integer >= 1, found a map");
	assert_one_error("batch_size: 99999999999999999999\n" MINIMAL,
					 "test.yml:1:13: batch_size: expected an integer >= 1, found \"99999999999999999999\"");
	assert_one_error("load_batches_in_flight: 9\n" MINIMAL,
					 "test.yml:1:25: load_batches_in_flight: expected an integer from 1 to 8, found \"9\"");
	assert_one_error("batches_in_flight: 0\n" MINIMAL,
					 "test.yml:1:20: batches_in_flight: expected an integer from 1 to 8, found \"0\"");
}
END_TEST

/* Strings, maps and booleans of the wrong kind. */
START_TEST(test_wrong_type_other)
{
	assert_one_error("database:\n  name: {a: 1}\n",
					 "test.yml:2:9: database.name: expected a string, found a map");
	assert_one_error("database: prod\n",
					 "test.yml:1:11: database: expected a map, found \"prod\"");
	assert_one_error("use_event_triggers: yes\n" MINIMAL,
					 "test.yml:1:21: use_event_triggers: expected true or false, found \"yes\"");
	assert_one_error("use_event_triggers: True\n" MINIMAL,
					 "test.yml:1:21: use_event_triggers: expected true or false, found \"True\"");
	assert_one_error("use_event_triggers: 1\n" MINIMAL,
					 "test.yml:1:21: use_event_triggers: expected true or false, found \"1\"");
	assert_one_error(MINIMAL "applier_options:\n  list: [1, 2]\n",
					 "test.yml:4:9: applier_options.list: expected a scalar, found a list");
	assert_one_error(MINIMAL "source_options:\n  mode: fast\n",
					 "test.yml:4:9: source_options.mode: expected a map of options, found \"fast\"");
	assert_one_error(MINIMAL "source_options:\n  trigger:\n    x: [1]\n",
					 "test.yml:5:8: source_options.trigger.x: expected a scalar, found a list");
	assert_one_error(MINIMAL "log_level: verbose\n",
					 "test.yml:3:12: log_level: expected one of error, warning, info, debug, found \"verbose\"");
	assert_one_error("- a\n- b\n",
					 "test.yml:1:1: (document): expected a map of keys, found a list");
}
END_TEST

/* Out of range values, intervals 0 and over a day in particular. */
START_TEST(test_out_of_range)
{
	assert_one_error("processing_intervals:\n  vacuum: 0\n" MINIMAL,
					 "test.yml:2:11: processing_intervals.vacuum: expected an integer from 1 to 86400000, found \"0\"");
	assert_one_error("processing_intervals:\n  batcher: 86400001\n" MINIMAL,
					 "test.yml:2:12: processing_intervals.batcher: expected an integer from 1 to 86400000, found \"86400001\"");
	assert_one_error(MINIMAL "  port: 65536\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"65536\"");
	assert_one_error(MINIMAL "  port: -1\n",
					 "test.yml:3:9: database.port: expected an integer from 1 to 65535, found \"-1\"");
	assert_one_error("batch_size: 0\n" MINIMAL,
					 "test.yml:1:13: batch_size: expected an integer >= 1, found \"0\"");
	assert_one_error(MINIMAL "server:\n  hostname: h\n  port: 3000\n  max_body_size: -5\n",
					 "test.yml:6:18: server.max_body_size: expected an integer >= 1, found \"-5\"");
}
END_TEST

/* Missing required keys: the parent's position, the missing key's path. */
START_TEST(test_missing_required)
{
	assert_one_error("batch_size: 5\n",
					 "test.yml:1:1: database: missing required key");
	assert_one_error("", "test.yml:1:1: database: missing required key");
	assert_one_error("batch_size: 5\ndatabase:\n  hostname: h\n  port: 5432\n",
					 "test.yml:3:3: database.name: missing required key");
	assert_one_error("database:\n  name:\n",
					 "test.yml:2:3: database.name: a value is required");
	assert_one_error("database:\n  name: \"\"\n",
					 "test.yml:2:9: database.name: must not be empty");
	assert_one_error(MINIMAL "server:\n  hostname: 0.0.0.0\n",
					 "test.yml:4:3: server.port: missing required key");
	assert_one_error(MINIMAL "server:\n  port: 3000\n",
					 "test.yml:4:3: server.hostname: missing required key");
}
END_TEST

/* targets.X.apply_schema and the endpoint an http target needs. */
START_TEST(test_missing_target_keys)
{
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  my-target:\n"
					 "    target_expression: \"public.*\"\n"
					 "    endpoint:\n"
					 "      hostname: h\n"
					 "      port: 3001\n",
					 "test.yml:5:5: targets.my-target.apply_schema: missing required key");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    target_expression: \"public.*\"\n"
					 "    apply_schema: s\n",
					 "test.yml:5:5: targets.t1.endpoint: missing required key");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:5:5: targets.t1.target_expression: missing required key");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    target_expression: a.*\n"
					 "    apply_schema: s\n"
					 "    endpoint:\n"
					 "      port: 3001\n",
					 "test.yml:8:7: targets.t1.endpoint.hostname: missing required key");
	assert_one_error(MINIMAL "targets:\n  t1:\n",
					 "test.yml:4:3: targets.t1: expected a map, found null");
}
END_TEST

/* A transport other than http needs no endpoint. */
START_TEST(test_target_other_transport)
{
	tp_config  *config = load_ok(MINIMAL
								 "targets:\n"
								 "  t1:\n"
								 "    target_expression: \"a.*\"\n"
								 "    apply_schema: s\n"
								 "    transport: stdout\n"
								 "    options:\n"
								 "      pretty: true\n");

	ck_assert_int_eq(config->n_targets, 1);
	ck_assert_str_eq(config->targets[0].transport, "stdout");
	ck_assert(!config->targets[0].has_endpoint);
	ck_assert_ptr_nonnull(config->targets[0].options);
	tp_config_free(config);
}
END_TEST

/* target_expression: one string, a list, and the wrong lists. */
START_TEST(test_target_expression_forms)
{
	tp_config  *config = load_ok(MINIMAL
								 "targets:\n"
								 "  t1:\n"
								 "    target_expression: [\"a.*\", b.c, 'd.e']\n"
								 "    apply_schema: s\n"
								 "    transport: stdout\n");

	ck_assert_int_eq(config->targets[0].n_expressions, 3);
	ck_assert_str_eq(config->targets[0].expressions[0], "a.*");
	ck_assert_str_eq(config->targets[0].expressions[1], "b.c");
	ck_assert_str_eq(config->targets[0].expressions[2], "d.e");
	tp_config_free(config);

	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    target_expression: []\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:5:24: targets.t1.target_expression: must list at least one expression");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    target_expression:\n"
					 "      - a.*\n"
					 "      - {b: c}\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:7:9: targets.t1.target_expression.1: expected a string, found a map");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t1:\n"
					 "    target_expression: {a: b}\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:5:24: targets.t1.target_expression: expected a string or a list of strings, found a map");
}
END_TEST

/* Target names are letters, digits, '_', '.' and '-'. */
/* target_expression patterns are checked when the file is read. */
START_TEST(test_target_expression_patterns)
{
	tp_config  *config;

	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t:\n"
					 "    target_expression: \"public\"\n"
					 "    apply_schema: test\n"
					 "    transport: file\n",
					 "test.yml:5:24: targets.t.target_expression: \"public\" is not SCHEMA.TABLE (use * as a wildcard, e.g. \"public.*\")");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t:\n"
					 "    target_expression: [\"!public.tmp_*\"]\n"
					 "    apply_schema: test\n"
					 "    transport: file\n",
					 "test.yml:5:24: targets.t.target_expression: only exclusions (\"!...\"): add a pattern that selects tables");
	config = load_ok(MINIMAL
					 "targets:\n"
					 "  t:\n"
					 "    target_expression: [\"public.*\", \"sales.order_*\", \"!public.tmp_*\"]\n"
					 "    apply_schema: test\n"
					 "    transport: file\n");
	ck_assert(tp_table_filter_match(&config->targets[0].filter, "public", "users"));
	ck_assert(tp_table_filter_match(&config->targets[0].filter, "sales", "order_lines"));
	/* "_" is literal, not LIKE's any-character */
	ck_assert(!tp_table_filter_match(&config->targets[0].filter, "sales", "orderXlines"));
	ck_assert(!tp_table_filter_match(&config->targets[0].filter, "sales", "orders"));
	ck_assert(!tp_table_filter_match(&config->targets[0].filter, "public", "tmp_x"));
	ck_assert(!tp_table_filter_match(&config->targets[0].filter, "publicx", "users"));
	tp_config_free(config);
}
END_TEST

START_TEST(test_target_name)
{
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  \"my target\":\n"
					 "    target_expression: a.*\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:4:3: targets.my target: invalid target name: use only letters, digits, '_', '.' and '-'");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  \"\":\n"
					 "    target_expression: a.*\n"
					 "    apply_schema: s\n"
					 "    transport: stdout\n",
					 "test.yml:4:3: targets.: invalid target name: use only letters, digits, '_', '.' and '-'");
}
END_TEST

/* TLS certificate and key together; one token source at most. */
START_TEST(test_server_pairs)
{
	assert_one_error(MINIMAL "server:\n  hostname: h\n  port: 1\n  tls_cert: /c.pem\n",
					 "test.yml:6:3: server.tls_key: tls_cert and tls_key must be given together");
	assert_one_error(MINIMAL
					 "targets:\n"
					 "  t:\n"
					 "    target_expression: a.*\n"
					 "    apply_schema: s\n"
					 "    endpoint:\n"
					 "      hostname: h\n"
					 "      port: 1\n"
					 "      tls_key: /k.pem\n",
					 "test.yml:10:7: targets.t.endpoint.tls_cert: tls_cert and tls_key must be given together");
	assert_one_error(MINIMAL "server:\n  hostname: h\n  port: 1\n  token: abc\n  token_env: TOK\n",
					 "test.yml:7:3: server.token_env: cannot be combined with token (line 6): token, token_file and token_env are mutually exclusive");
}
END_TEST

/* Every error of a file is reported, not only the first. */
START_TEST(test_collects_all_errors)
{
	tp_config  *config = NULL;
	capture		cap;
	char	   *path = data_path("config_errors.yml");
	char		line[1024];
	static const char *const expected[] = {
		"1:13: batch_size: expected an integer >= 1, found \"ten\"",
		"2:21: use_event_triggers: expected true or false, found \"yes\"",
		"4:12: processing_intervals.batcher: expected an integer from 1 to 86400000, found \"0\"",
		"5:3: processing_intervals.vacum: unknown key",
		"7:3: database.name: missing required key",
		"8:9: database.port: expected an integer from 1 to 65535, found \"70000\"",
		"10:3: server.port: missing required key",
		"11:3: server.tls_key: tls_cert and tls_key must be given together",
		"13:3: targets.bad name: invalid target name",
		"14:24: targets.bad name.target_expression: must list at least one expression",
		"14:5: targets.bad name.apply_schema: missing required key",
		"14:5: targets.bad name.endpoint: missing required key",
		"16:5: targets.good.apply_schema: missing required key",
		"19:13: targets.good.endpoint.port: expected an integer from 1 to 65535, found \"54.3\"",
		"20:12: log_level: expected one of error, warning, info, debug",
		"21:1: colour: unknown key",
	};

	ck_assert(!load_data("config_errors.yml", &config, &cap));
	ck_assert_ptr_null(config);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
	{
		snprintf(line, sizeof(line), "config: %s:%s", path, expected[i]);
		ck_assert_msg(strstr(cap.text, line) != NULL, "missing \"%s\" in:\n%s",
					  line, cap.text);
	}
	ck_assert_msg(cap.count == (int) (sizeof(expected) / sizeof(expected[0])),
				  "%d errors:\n%s", cap.count, cap.text);
	free(path);
}
END_TEST

/* YAML-level errors come through tp_config_load as one error line. */
START_TEST(test_load_yaml_errors)
{
	assert_one_error(MINIMAL "  name: again\n",
					 "test.yml:3:3: duplicate key \"database.name\" (first defined at line 2, column 3)");
	assert_one_error("base: &b {name: x}\ndatabase: *b\n",
					 "test.yml:1:7: anchors are not supported (\"&b\")");
	assert_one_error(MINIMAL "batch_size: [1\n",
					 "test.yml:4:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3)");
}
END_TEST

/* A file that cannot be read. */
START_TEST(test_load_missing_file)
{
	tp_config  *config = (tp_config *) 1;
	capture		cap;

	memset(&cap, 0, sizeof(cap));
	tp_log_set_sink(capture_sink, &cap);
	ck_assert(!tp_config_load("/nonexistent/source_config.yml", &config));
	tp_log_set_sink(NULL, NULL);
	ck_assert_ptr_null(config);
	ck_assert_int_eq(cap.count, 1);
	ck_assert_str_eq(cap.text, "config: could not open file \"/nonexistent/source_config.yml\": No such file or directory\n");
}
END_TEST

/* tp_config_parse_int's rules, one by one. */
START_TEST(test_parse_int)
{
	static const char *const bad[] = {
		"", "-", "+5", " 5", "5 ", "05", "-05", "1_000", "0x10", "1e3",
		"5.0", "9223372036854775808", "-9223372036854775809", "٣"
	};
	int64_t		v;

	ck_assert(tp_config_parse_int("0", &v));
	ck_assert_int_eq(v, 0);
	ck_assert(tp_config_parse_int("-42", &v));
	ck_assert_int_eq(v, -42);
	ck_assert(tp_config_parse_int("9223372036854775807", &v));
	ck_assert(v == INT64_MAX);
	ck_assert(tp_config_parse_int("-9223372036854775808", &v));
	ck_assert(v == INT64_MIN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!tp_config_parse_int(bad[i], &v), "accepted \"%s\"", bad[i]);
	ck_assert(!tp_config_parse_int(NULL, &v));
}
END_TEST

/* ---------------------------------------------------------------- options */

static const tp_option_desc test_table[] = {
	{"dir", TP_OPTION_PATH, NULL, true, "where files go"},
	{"count", TP_OPTION_INT, "5", false, "how many"},
	{"verbose", TP_OPTION_BOOL, "false", false, "say more"},
	{"label", TP_OPTION_STRING, NULL, false, "a label"},
	{NULL, 0, NULL, false, NULL}
};

/* Check targets.t.options of text against test_table; errors into cap. */
static bool
check_target_options(const char *opts, tp_config **config, capture *cap)
{
	char		text[1024];
	bool		ok;

	snprintf(text, sizeof(text), MINIMAL
			 "targets:\n"
			 "  t:\n"
			 "    target_expression: a.*\n"
			 "    apply_schema: s\n"
			 "    transport: file\n"
			 "%s", opts);
	*config = load_ok(text);
	memset(cap, 0, sizeof(*cap));
	tp_log_set_sink(capture_sink, cap);
	ok = tp_config_check_options(*config, "targets.t.options",
								 (*config)->targets[0].options, test_table);
	tp_log_set_sink(NULL, NULL);
	return ok;
}

/* Valid options pass; values and defaults come back as text. */
START_TEST(test_options_ok)
{
	tp_config  *config;
	capture		cap;
	const tp_node *opts;

	ck_assert(check_target_options("    options:\n"
								   "      dir: /var/x\n"
								   "      count: \"7\"\n"
								   "      verbose: true\n",
								   &config, &cap));
	ck_assert_int_eq(cap.count, 0);
	opts = config->targets[0].options;
	ck_assert_str_eq(tp_config_option(opts, test_table, "dir"), "/var/x");
	ck_assert_str_eq(tp_config_option(opts, test_table, "count"), "7");
	ck_assert_str_eq(tp_config_option(opts, test_table, "verbose"), "true");
	ck_assert_ptr_null(tp_config_option(opts, test_table, "label"));
	ck_assert_str_eq(tp_config_option(NULL, test_table, "count"), "5");
	ck_assert_str_eq(tp_config_option(NULL, test_table, "verbose"), "false");
	ck_assert_ptr_null(tp_config_option(NULL, test_table, "nope"));
	tp_config_free(config);
}
END_TEST

/* Unknown names, wrong types and a missing required option, all reported. */
START_TEST(test_options_errors)
{
	tp_config  *config;
	capture		cap;

	ck_assert(!check_target_options("    options:\n"
									"      count: many\n"
									"      verbose: on\n"
									"      colour: red\n"
									"      dir: ''\n",
									&config, &cap));
	ck_assert_int_eq(cap.count, 4);
	assert_has_error(&cap, "test.yml:9:14: targets.t.options.count: expected an integer");
	assert_has_error(&cap, "test.yml:10:16: targets.t.options.verbose: expected true or false");
	assert_has_error(&cap, "test.yml:11:7: targets.t.options.colour: unknown option (expected one of: dir, count, verbose, label)");
	assert_has_error(&cap, "test.yml:12:12: targets.t.options.dir: expected a path");
	tp_config_free(config);

	/* a required option left null */
	ck_assert(!check_target_options("    options:\n      dir:\n", &config, &cap));
	ck_assert_int_eq(cap.count, 1);
	assert_has_error(&cap, "test.yml:9:7: targets.t.options.dir: a value is required");
	tp_config_free(config);

	/* no options at all: the required one is missing at the target */
	ck_assert(!check_target_options("", &config, &cap));
	ck_assert_int_eq(cap.count, 1);
	assert_has_error(&cap, "test.yml:5:5: targets.t.options.dir: missing required key");
	tp_config_free(config);
}
END_TEST

/* ---------------------------------------------------------------- conninfo */

/* The seed's database keys become libpq keywords. */
START_TEST(test_conninfo_seed)
{
	tp_config  *config = NULL;
	capture		cap;
	char	   *conninfo;
	char	   *redacted;

	ck_assert(load_data("source_config.yml", &config, &cap));
	conninfo = tp_conninfo_build(config);
	ck_assert_ptr_nonnull(conninfo);
	ck_assert_str_eq(conninfo,
					 "host='postgres.mydomain.com' port='5432' dbname='postgres' "
					 "user='teleport' password='root' application_name='teleport'");
	redacted = tp_conninfo_redacted(conninfo);
	ck_assert_str_eq(redacted,
					 "host='postgres.mydomain.com' port='5432' dbname='postgres' "
					 "user='teleport' password='********' application_name='teleport'");
	free(redacted);
	free(conninfo);
	tp_config_free(config);
}
END_TEST

/* Only what is set is written: libpq's environment fills the rest. */
START_TEST(test_conninfo_minimal)
{
	tp_config  *config = load_ok(MINIMAL);
	char	   *conninfo = tp_conninfo_build(config);

	ck_assert_str_eq(conninfo, "application_name='teleport'");
	free(conninfo);
	tp_config_free(config);
}
END_TEST

/* A password with a quote and a backslash survives libpq's parse. */
START_TEST(test_conninfo_quoting)
{
	tp_config  *config = load_ok(MINIMAL
								 "  password: \"it's a \\\\ secret\"\n"
								 "  username: \"a b\"\n");
	char	   *conninfo = tp_conninfo_build(config);
	char	   *redacted;

	ck_assert_str_eq(config->database.password, "it's a \\ secret");
	ck_assert_str_eq(conninfo,
					 "user='a b' password='it\\'s a \\\\ secret' application_name='teleport'");
	assert_conninfo(conninfo, "password", "it's a \\ secret");
	assert_conninfo(conninfo, "user", "a b");
	redacted = tp_conninfo_redacted(conninfo);
	ck_assert_str_eq(redacted,
					 "user='a b' password='********' application_name='teleport'");
	free(redacted);
	free(conninfo);
	tp_config_free(config);
}
END_TEST

/* A URI is expanded; explicit keys and options win over it. */
START_TEST(test_conninfo_uri_override)
{
	tp_config  *config = NULL;
	capture		cap;
	char	   *conninfo;

	ck_assert(load_data("config_full.yml", &config, &cap));
	conninfo = tp_conninfo_build(config);
	ck_assert_ptr_nonnull(conninfo);
	ck_assert_ptr_null(strstr(conninfo, "postgresql://"));
	assert_conninfo(conninfo, "host", "db.example.com");
	assert_conninfo(conninfo, "port", "5433");
	assert_conninfo(conninfo, "user", "alice");
	assert_conninfo(conninfo, "password", "secret");
	assert_conninfo(conninfo, "dbname", "appdb");
	assert_conninfo(conninfo, "sslmode", "require");
	assert_conninfo(conninfo, "connect_timeout", "10");
	assert_conninfo(conninfo, "application_name", "teleport-full");
	free(conninfo);
	tp_config_free(config);

	config = load_ok(MINIMAL "  conninfo: \"host=a port=1 dbname=x\"\n"
					 "  hostname: b\n");
	conninfo = tp_conninfo_build(config);
	assert_conninfo(conninfo, "host", "b");
	assert_conninfo(conninfo, "port", "1");
	assert_conninfo(conninfo, "dbname", "x");
	free(conninfo);
	tp_config_free(config);
}
END_TEST

/* An unknown libpq keyword in database.options fails the load. */
START_TEST(test_conninfo_unknown_keyword)
{
	assert_one_error(MINIMAL "  options:\n    sslmode: require\n    bogus_key: 1\n",
					 "test.yml:5:5: database.options.bogus_key: unknown libpq connection keyword");
}
END_TEST

/* A database.conninfo that libpq cannot parse fails the load. */
START_TEST(test_conninfo_malformed)
{
	assert_one_error(MINIMAL "  conninfo: \"host='unterminated\"\n",
					 "test.yml:3:13: database.conninfo: invalid conninfo: unterminated quoted string in connection info string");
	assert_one_error(MINIMAL "  conninfo: \"nokeyword=1\"\n",
					 "test.yml:3:13: database.conninfo: invalid conninfo: invalid connection option \"nokeyword\"");
}
END_TEST

/* Redaction of URIs and of unquoted or absent passwords. */
START_TEST(test_conninfo_redacted)
{
	static const char *const cases[][2] = {
		{"host=h password=secret user=u", "host=h password='********' user=u"},
		{"host = h password = 'a\\' b'", "host=h password='********'"},
		{"host=h", "host=h"},
		{"", ""},
		{"postgresql://alice:secret@db:5432/app", "postgresql://alice:********@db:5432/app"},
		{"postgres://alice@db/app?x=1:2@", "postgres://alice@db/app?x=1:2@"},
		{"host='unterminated", "********"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *r = tp_conninfo_redacted(cases[i][0]);

		ck_assert_ptr_nonnull(r);
		ck_assert_str_eq(r, cases[i][1]);
		free(r);
	}
}
END_TEST

/* The suite: yaml, config, options, conninfo. */
static Suite *
config_suite(void)
{
	Suite	   *s = suite_create("config");
	TCase	   *tc = tcase_create("yaml");

	tcase_add_test(tc, test_yaml_positions);
	tcase_add_test(tc, test_yaml_path_dotted_keys);
	tcase_add_test(tc, test_yaml_empty);
	tcase_add_test(tc, test_yaml_syntax_error);
	tcase_add_test(tc, test_yaml_bad_encoding);
	tcase_add_test(tc, test_yaml_duplicate_key);
	tcase_add_test(tc, test_yaml_refusals);
	tcase_add_test(tc, test_yaml_core_tag);
	tcase_add_test(tc, test_yaml_deep);
	tcase_add_test(tc, test_yaml_missing_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_seed_source);
	tcase_add_test(tc, test_seed_target);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_null_and_quoted);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_config_value);
	tcase_add_test(tc, test_unknown_top);
	tcase_add_test(tc, test_unknown_nested);
	tcase_add_test(tc, test_wrong_type_int);
	tcase_add_test(tc, test_wrong_type_other);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_missing_target_keys);
	tcase_add_test(tc, test_target_other_transport);
	tcase_add_test(tc, test_target_expression_forms);
	tcase_add_test(tc, test_target_expression_patterns);
	tcase_add_test(tc, test_target_name);
	tcase_add_test(tc, test_server_pairs);
	tcase_add_test(tc, test_collects_all_errors);
	tcase_add_test(tc, test_load_yaml_errors);
	tcase_add_test(tc, test_load_missing_file);
	tcase_add_test(tc, test_parse_int);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_test(tc, test_options_ok);
	tcase_add_test(tc, test_options_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("conninfo");
	tcase_add_test(tc, test_conninfo_seed);
	tcase_add_test(tc, test_conninfo_minimal);
	tcase_add_test(tc, test_conninfo_quoting);
	tcase_add_test(tc, test_conninfo_uri_override);
	tcase_add_test(tc, test_conninfo_unknown_keyword);
	tcase_add_test(tc, test_conninfo_malformed);
	tcase_add_test(tc, test_conninfo_redacted);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite. */
int
main(void)
{
	return tp_check_run(config_suite());
}
