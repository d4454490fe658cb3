/*
 * cmd_check_config.c
 *     teleport --check-config: print what an instance would be (roles,
 *     intervals, plugins) and check its database; see cmd_check_config.h.
 *
 * The summary is for humans, on stdout, as aligned "label  value" lines in
 * three sections (instance, plugins, database) and a last line with the
 * verdict. Problems are also logged on stderr where they are found.
 */
#include "tp_autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "cmd_check_config.h"
#include "conninfo.h"
#include "exit_codes.h"
#include "loader.h"
#include "log.h"
#include "pgsql.h"
#include "plan.h"

#define COMPONENT "check-config"
#define PURPOSE "the configuration check"
#define LABEL_WIDTH 16
#define DEFAULT_CONNECT_TIMEOUT "10"

/* What the database check learns; strings owned (facts_free). */
typedef struct db_facts
{
	char	   *version;		/* server_version, e.g. "15.4" */
	char	   *user;
	char	   *database;
	bool		superuser;
	bool		rds_superuser;	/* member of rds_superuser */
	bool		can_create;		/* CREATE on the database */
	bool		seen;			/* the query returned its row */
} db_facts;

/* Print "  LABEL  VALUE" with the value column aligned. */
static void
put_line(const char *label, const char *fmt,...)
{
	va_list		ap;

	printf("  %-*s ", LABEL_WIDTH, label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* "yes" or "no". Static. */
static const char *
yes_no(bool b)
{
	return b ? "yes" : "no";
}

/* Print the instance section: name, file, roles, targets, intervals. */
static void
print_instance(const tp_config *config)
{
	const tp_intervals_config *iv = &config->intervals;
	bool		source = config->n_targets > 0;

	printf("Instance\n");
	put_line("name", "%s", config->database.name ? config->database.name : "");
	put_line("file", "%s", config->path ? config->path : "");
	if (source && config->has_server)
		put_line("roles", "source (%zu target%s), receiver, applier",
				 config->n_targets, config->n_targets == 1 ? "" : "s");
	else if (source)
		put_line("roles", "source (%zu target%s)", config->n_targets,
				 config->n_targets == 1 ? "" : "s");
	else if (config->has_server)
		put_line("roles", "receiver, applier");
	else
		put_line("roles", "none (no targets and no server section)");

	for (size_t i = 0; i < config->n_targets; i++)
	{
		const tp_target_config *t = &config->targets[i];

		put_line("target", "%s", t->name);
		printf("    %-*s ", LABEL_WIDTH - 2, "expression");
		for (size_t j = 0; j < t->n_expressions; j++)
			printf("%s%s", j > 0 ? ", " : "", t->expressions[j]);
		putchar('\n');
		printf("    %-*s %s\n", LABEL_WIDTH - 2, "apply_schema",
			   t->apply_schema ? t->apply_schema : "(not set)");
		printf("    %-*s %s\n", LABEL_WIDTH - 2, "transport",
			   t->transport ? t->transport : "http");
		if (t->has_endpoint)
			printf("    %-*s %s:%d%s\n", LABEL_WIDTH - 2, "endpoint",
				   t->endpoint.hostname ? t->endpoint.hostname : "",
				   t->endpoint.port, t->endpoint.tls ? " (TLS)" : "");
		else
			printf("    %-*s (none)\n", LABEL_WIDTH - 2, "endpoint");
	}
	if (config->has_server)
	{
		put_line("receiver", "%s:%d, transport %s%s",
				 config->server.hostname ? config->server.hostname : "",
				 config->server.port,
				 config->server.transport ? config->server.transport : "http",
				 (config->server.tls_cert && config->server.tls_key) ?
				 ", TLS" : "");
		put_line("applier", "%s", config->applier ? config->applier : "postgres");
	}
	put_line("intervals", "batcher %d ms, transmitter %d ms, applier %d ms,",
			 iv->batcher, iv->transmitter, iv->applier);
	put_line("", "vacuum %d ms, ddlwatcher %d ms", iv->vacuum, iv->ddlwatcher);
	if (config->n_targets == 0)
		return;					/* not a source: no schema changes to find */
	if (!config->replicate_ddl)
		put_line("schema changes", "not replicated (replicate_ddl: false)");
	else if (config->use_event_triggers)
		put_line("schema changes", "by event triggers (use_event_triggers)");
	else
		put_line("schema changes", "by catalog diff every %d ms", iv->ddlwatcher);
}

/* The plan entry's plugin column: "http (target t1)" into buf. */
static void
entry_label(const tp_plan_entry *e, char *buf, size_t len)
{
	if (e->role == TP_ROLE_SEND && e->target != NULL)
		snprintf(buf, len, "%s (target %s)", e->plugin_name, e->target);
	else
		snprintf(buf, len, "%s", e->plugin_name);
}

/* A plugin's version, or "unknown". Static or the plugin's. */
static const char *
plugin_version(const tp_plugin *p)
{
	return p->info->version ? p->info->version : "unknown";
}

/*
 * Print the plugin section: for each entry of the plan, where its plugin
 * was found or why it cannot be used (each problem also logged once).
 * Returns how many are not usable.
 */
static size_t
print_plugins(const tp_config *config, const char *plugin_dirs)
{
	const char *dirs = tp_loader_search_path(plugin_dirs ? plugin_dirs :
											 config->plugin_dir);
	tp_plan		plan;
	tp_plugin_set set;
	size_t		width = 0;
	size_t		unusable = 0;
	char		label[256];

	printf("\nPlugins (search path %s)\n", dirs);
	fflush(stdout);
	memset(&set, 0, sizeof(set));
	memset(&plan, 0, sizeof(plan));
	tp_plan_build(config, &plan);
	if (plan.n == 0)
	{
		put_line("(none)", "this instance uses no plugins");
		tp_plan_free(&plan);
		return 0;
	}
	tp_loader_scan(dirs, &set);
	fflush(stderr);

	for (size_t i = 0; i < plan.n; i++)
	{
		entry_label(&plan.entries[i], label, sizeof(label));
		if (strlen(label) > width)
			width = strlen(label);
	}
	/* tp_plan_resolve's work, entry by entry, to tell what each lacks */
	for (size_t i = 0; i < plan.n; i++)
	{
		tp_plan_entry *e = &plan.entries[i];
		const tp_plugin *p;
		bool		options_ok = true;

		e->plugin = tp_loader_require(&set, e->plugin_name, e->kind,
									  e->wanted_by);
		if (e->plugin != NULL)
			options_ok = tp_config_check_options(config, e->section,
												 e->options,
												 e->plugin->info->options);
		fflush(stderr);
		p = e->plugin ? e->plugin : tp_loader_find(&set, e->plugin_name);
		entry_label(e, label, sizeof(label));
		if (e->plugin != NULL && options_ok)
			put_line(tp_role_name(e->role), "%-*s  found in %s (version %s)",
					 (int) width, label, p->path, plugin_version(p));
		else if (e->plugin != NULL)
			put_line(tp_role_name(e->role), "%-*s  found in %s (version %s), "
					 "but its options are invalid (see the log)", (int) width,
					 label, p->path, plugin_version(p));
		else if (p != NULL && p->info->kind != e->kind)
			put_line(tp_role_name(e->role), "%-*s  found in %s, but it is of "
					 "kind %s, not %s", (int) width, label, p->path,
					 tp_plugin_kind_name(p->info->kind),
					 tp_plugin_kind_name(e->kind));
		else if (p != NULL)
			put_line(tp_role_name(e->role), "%-*s  found in %s (version %s), "
					 "but not usable (see the log)", (int) width, label,
					 p->path, plugin_version(p));
		else
			put_line(tp_role_name(e->role), "%-*s  not found", (int) width,
					 label);
		if (e->plugin == NULL || !options_ok)
			unusable++;
	}
	if (set.n_refused > 0)
		put_line("refused", "%zu plugin file%s (see the log)", set.n_refused,
				 set.n_refused == 1 ? "" : "s");
	if (unusable > 0)
		put_line("note", "teleport will not start until every plugin is "
				 "found and usable");

	tp_plan_free(&plan);
	tp_loader_free(&set);
	return unusable;
}

/*
 * conninfo with connect_timeout=10 added, unless the user set a timeout
 * (in the conninfo or PGCONNECT_TIMEOUT). Returns a new string (free), or
 * NULL when out of memory.
 */
static char *
with_connect_timeout(const char *conninfo)
{
	PQconninfoOption *opts;
	bool		has_timeout = getenv("PGCONNECT_TIMEOUT") != NULL;
	size_t		len;
	char	   *result;

	opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL)
			has_timeout = true;
	}
	PQconninfoFree(opts);
	/* a URI cannot take " key=value"; tp_conninfo_build expands URIs */
	if (has_timeout || strncmp(conninfo, "postgres", 8) == 0)
		return strdup(conninfo);
	len = strlen(conninfo) + sizeof(" connect_timeout=''" DEFAULT_CONNECT_TIMEOUT);
	result = malloc(len);
	if (result != NULL)
		snprintf(result, len, "%s%sconnect_timeout='" DEFAULT_CONNECT_TIMEOUT "'",
				 conninfo, conninfo[0] ? " " : "");
	return result;
}

/* Keep a text value of the facts row (NULL stays NULL); false when OOM. */
static bool
keep_text(char **dst, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return true;
	*dst = strdup(PQgetvalue(res, row, col));
	return *dst != NULL;
}

/* Whether the boolean column is true. */
static bool
is_true(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* Row callback: fill the db_facts. */
static bool
collect_facts(void *arg, const PGresult *res, int row)
{
	db_facts   *f = arg;

	if (f->seen)
		return true;
	f->seen = true;
	if (!keep_text(&f->version, res, row, 0) || !keep_text(&f->user, res, row, 1)
		|| !keep_text(&f->database, res, row, 2))
	{
		tp_error(COMPONENT, "out of memory");
		return false;
	}
	f->superuser = is_true(res, row, 3);
	f->rds_superuser = is_true(res, row, 4);
	f->can_create = is_true(res, row, 5);
	return true;
}

/* Free the strings of f. */
static void
facts_free(db_facts *f)
{
	free(f->version);
	free(f->user);
	free(f->database);
}

/*
 * Print the database section: connect with conninfo and show the server
 * version, the role and its privileges. Returns the exit code.
 */
static int
check_database(const tp_config *config, const char *conninfo)
{
	static const char facts_sql[] =
		"SELECT pg_catalog.current_setting('server_version'), "
		"current_user, pg_catalog.current_database(), "
		"coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r "
		"          WHERE r.rolname = current_user), false), "
		"EXISTS (SELECT 1 FROM pg_catalog.pg_roles g "
		"        WHERE g.rolname = 'rds_superuser' "
		"          AND pg_catalog.pg_has_role(g.oid, 'MEMBER')), "
		"pg_catalog.has_database_privilege(pg_catalog.current_database(), "
		"                                  'CREATE')";
	tp_pgsql	pg;
	db_facts	facts;
	char	   *redacted = tp_conninfo_redacted(conninfo);
	int			version;

	printf("\nDatabase\n");
	put_line("conninfo", "%s", redacted ? redacted : "(not shown)");
	free(redacted);
	fflush(stdout);

	if (!tp_pgsql_connect(&pg, conninfo, PURPOSE))
	{
		put_line("connection", "failed (see the log)");
		printf("\nFAILED: the database of instance \"%s\" cannot be reached\n",
			   config->database.name ? config->database.name : "");
		return TP_EXIT_DATABASE;
	}

	version = tp_pgsql_server_version(&pg);
	if (version < TP_MIN_SERVER_VERSION)
	{
		const char *text = PQparameterStatus(pg.conn, "server_version");

		put_line("server", "PostgreSQL %s: not supported", text ? text : "?");
		tp_error(COMPONENT, "PostgreSQL 12 or later is required, the server "
				 "of database \"%s\" runs version %s", PQdb(pg.conn),
				 text ? text : "?");
		printf("\nFAILED: the database server is too old (PostgreSQL 12 or "
			   "later is required)\n");
		tp_pgsql_close(&pg);
		return TP_EXIT_DATABASE;
	}

	memset(&facts, 0, sizeof(facts));
	if (!tp_pgsql_query(&pg, facts_sql, 0, NULL, collect_facts, &facts)
		|| !facts.seen)
	{
		put_line("server", "could not be queried (see the log)");
		printf("\nFAILED: the database could not be queried\n");
		facts_free(&facts);
		tp_pgsql_close(&pg);
		return TP_EXIT_DATABASE;
	}

	put_line("server", "PostgreSQL %s", facts.version ? facts.version : "?");
	put_line("user", "%s", facts.user ? facts.user : "?");
	put_line("database", "%s", facts.database ? facts.database : "?");
	put_line("superuser", "%s", yes_no(facts.superuser));
	if (facts.superuser)
		put_line("event triggers", "may create them (superuser)");
	else if (facts.rds_superuser)
		put_line("event triggers", "may create them (member of rds_superuser)");
	else
		put_line("event triggers", "may not create them%s",
				 config->use_event_triggers ?
				 ": use_event_triggers needs a superuser or rds_superuser" :
				 " (schema changes are found by diffing the catalog)");
	put_line("create schema", "%s%s", yes_no(facts.can_create),
			 facts.can_create ? " (CREATE on the database)" :
			 ": teleport needs CREATE on the database for its schema");
	printf("\nOK: the database of instance \"%s\" is reachable and "
		   "supported\n", config->database.name ? config->database.name : "");
	facts_free(&facts);
	tp_pgsql_close(&pg);
	return TP_EXIT_OK;
}

/* See cmd_check_config.h. */
int
tp_cmd_check_config(const tp_config *config, const char *plugin_dirs)
{
	char	   *built;
	char	   *conninfo;
	int			rc;

	printf("teleport configuration check\n\n");
	print_instance(config);
	print_plugins(config, plugin_dirs);

	built = tp_conninfo_build(config);
	if (built == NULL)
	{
		printf("\nFAILED: no connection string can be built from the "
			   "database section\n");
		fflush(stdout);
		return TP_EXIT_CONFIG;
	}
	conninfo = with_connect_timeout(built);
	free(built);
	if (conninfo == NULL)
	{
		tp_error(COMPONENT, "out of memory");
		return TP_EXIT_FAILURE;
	}
	rc = check_database(config, conninfo);
	free(conninfo);
	fflush(stdout);
	return rc;
}
