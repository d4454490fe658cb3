/*
 * conninfo.c
 *     Build the libpq conninfo of an instance's database from its config,
 *     and hide the password of a conninfo for logs.
 *
 * Layers, later ones winning: database.conninfo (a keyword/value string or
 * a URI, expanded by PQconninfoParse), the seed's database keys, then
 * database.options, whose keys must be libpq keywords (PQconndefaults).
 * Every value is written single-quoted with ' and \ escaped, which libpq
 * reads back unchanged whatever the value holds.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "config.h"
#include "conninfo.h"
#include "strbuf.h"
#include "log.h"
#include "xalloc.h"
#include "yaml_tree.h"

/* The keyword/value pairs being collected, in first-set order. */
typedef struct kv_list
{
	char	  **keys;
	char	  **values;
	size_t		n;
} kv_list;

/* Set key to value (both copied), replacing an earlier value. */
static void
kv_set(kv_list *list, const char *key, const char *value)
{
	for (size_t i = 0; i < list->n; i++)
	{
		if (strcmp(list->keys[i], key) == 0)
		{
			free(list->values[i]);
			list->values[i] = tp_xstrdup(value);
			return;
		}
	}
	list->keys = tp_xrealloc(list->keys, (list->n + 1) * sizeof(char *));
	list->values = tp_xrealloc(list->values, (list->n + 1) * sizeof(char *));
	list->keys[list->n] = tp_xstrdup(key);
	list->values[list->n] = tp_xstrdup(value);
	list->n++;
}

/* Whether key is set in list. */
static bool
kv_has(const kv_list *list, const char *key)
{
	for (size_t i = 0; i < list->n; i++)
	{
		if (strcmp(list->keys[i], key) == 0)
			return true;
	}
	return false;
}

/* Free what list holds (not list itself). */
static void
kv_free(kv_list *list)
{
	for (size_t i = 0; i < list->n; i++)
	{
		free(list->keys[i]);
		free(list->values[i]);
	}
	free(list->keys);
	free(list->values);
}

/* Append value single-quoted, with ' and \ backslash-escaped. */
static void
buf_append_quoted(tp_strbuf *buf, const char *value)
{
	tp_strbuf_add(buf, "'", 1);
	for (const char *p = value; *p != '\0'; p++)
	{
		if (*p == '\'' || *p == '\\')
			tp_strbuf_add(buf, "\\", 1);
		tp_strbuf_add(buf, p, 1);
	}
	tp_strbuf_add(buf, "'", 1);
}

/*
 * Add the keywords of database.conninfo to list. False after logging when
 * libpq cannot parse it.
 */
static bool
add_conninfo(const tp_config *config, kv_list *list)
{
	char	   *errmsg = NULL;
	PQconninfoOption *opts;

	opts = PQconninfoParse(config->database.conninfo, &errmsg);
	if (opts == NULL)
	{
		size_t		len = errmsg ? strlen(errmsg) : 0;
		const tp_node *node;

		while (len > 0 && (errmsg[len - 1] == '\n' || errmsg[len - 1] == ' '))
			errmsg[--len] = '\0';
		node = tp_node_path(config->root, "database.conninfo");
		tp_config_error(config, node ? node->line : 1, node ? node->column : 1,
						"database.conninfo", "invalid conninfo: %s",
						errmsg ? errmsg : "out of memory");
		PQfreemem(errmsg);
		return false;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (o->val != NULL)
			kv_set(list, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	return true;
}

/* Whether keyword is one libpq knows, per defaults (NULL: accept all). */
static bool
known_keyword(const PQconninfoOption *defaults, const char *keyword)
{
	if (defaults == NULL)
		return true;
	for (const PQconninfoOption *o = defaults; o->keyword != NULL; o++)
	{
		if (strcmp(o->keyword, keyword) == 0)
			return true;
	}
	return false;
}

/*
 * Add database.options to list, each key checked against libpq's keywords.
 * False after logging every unknown one.
 */
static bool
add_options(const tp_config *config, kv_list *list)
{
	const tp_node *options = config->database.options;
	PQconninfoOption *defaults;
	bool		ok = true;

	if (options == NULL || options->type != TP_NODE_MAP)
		return true;
	defaults = PQconndefaults();
	if (defaults == NULL)
	{
		tp_error("config", "out of memory reading libpq's defaults");
		return false;
	}
	for (size_t i = 0; i < options->n; i++)
	{
		const tp_node_pair *pair = &options->pairs[i];

		if (!known_keyword(defaults, pair->key))
		{
			char		path[512];

			snprintf(path, sizeof(path), "database.options.%s", pair->key);
			tp_config_error(config, pair->key_line, pair->key_column, path,
							"unknown libpq connection keyword");
			ok = false;
			continue;
		}
		if (pair->value->type != TP_NODE_SCALAR ||
			tp_config_is_null(pair->value))
			continue;
		kv_set(list, pair->key, pair->value->scalar);
	}
	PQconninfoFree(defaults);
	return ok;
}

/* See conninfo.h. */
char *
tp_conninfo_build(const tp_config *config)
{
	const tp_database_config *db = &config->database;
	kv_list		list = {0};
	tp_strbuf	buf = {0};
	bool		ok = true;

	if (db->conninfo != NULL && !add_conninfo(config, &list))
		ok = false;
	if (db->hostname != NULL)
		kv_set(&list, "host", db->hostname);
	if (db->port > 0)
	{
		char		port[16];

		snprintf(port, sizeof(port), "%d", db->port);
		kv_set(&list, "port", port);
	}
	if (db->database != NULL)
		kv_set(&list, "dbname", db->database);
	if (db->username != NULL)
		kv_set(&list, "user", db->username);
	if (db->password != NULL)
		kv_set(&list, "password", db->password);
	if (!add_options(config, &list))
		ok = false;
	if (!kv_has(&list, "application_name"))
		kv_set(&list, "application_name", "teleport");

	for (size_t i = 0; ok && i < list.n; i++)
	{
		if (i > 0)
			tp_strbuf_add(&buf, " ", 1);
		tp_strbuf_add(&buf, list.keys[i], strlen(list.keys[i]));
		tp_strbuf_add(&buf, "=", 1);
		buf_append_quoted(&buf, list.values[i]);
	}
	kv_free(&list);
	if (!ok)
	{
		free(buf.data);
		return NULL;
	}
	return buf.data;
}

/* Hide the password of a URI's user info, as in scheme://user:*@host. */
static char *
redact_uri(const char *uri)
{
	const char *start = strstr(uri, "://") + 3;
	size_t		auth_len = strcspn(start, "/?");
	const char *at = NULL;
	const char *colon;
	tp_strbuf	buf = {0};

	for (const char *p = start; p < start + auth_len; p++)
	{
		if (*p == '@')
			at = p;
	}
	colon = at ? memchr(start, ':', (size_t) (at - start)) : NULL;
	if (colon == NULL)
		tp_strbuf_add(&buf, uri, strlen(uri));
	else
	{
		tp_strbuf_add(&buf, uri, (size_t) (colon + 1 - uri));
		tp_strbuf_add(&buf, "********", 8);
		tp_strbuf_add(&buf, at, strlen(at));
	}
	return buf.data;
}

/* See conninfo.h. Malformed input gives "********" whole. */
char *
tp_conninfo_redacted(const char *conninfo)
{
	const char *p = conninfo;
	tp_strbuf	buf = {0};

	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
		strncmp(conninfo, "postgres://", 11) == 0)
		return redact_uri(conninfo);

	/* keyword = value pairs, parsed as libpq's conninfo_parse does */
	while (*p != '\0')
	{
		const char *kw;
		size_t		kwlen;
		const char *val;
		bool		is_password;

		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
			*p == '\v')
		{
			tp_strbuf_add(&buf, p++, 1);
			continue;
		}
		kw = p;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		kwlen = (size_t) (p - kw);
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p != '=')
			goto malformed;
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		val = p;
		if (*p == '\'')
		{
			for (p++; *p != '\0' && *p != '\''; p++)
			{
				if (*p == '\\' && p[1] != '\0')
					p++;
			}
			if (*p != '\'')
				goto malformed;
			p++;
		}
		else
		{
			for (; *p != '\0' && *p != ' ' && *p != '\t' && *p != '\n'; p++)
			{
				if (*p == '\\' && p[1] != '\0')
					p++;
			}
		}
		is_password = kwlen == 8 && strncmp(kw, "password", 8) == 0;
		tp_strbuf_add(&buf, kw, kwlen);
		tp_strbuf_add(&buf, "=", 1);
		if (is_password)
			tp_strbuf_add(&buf, "'********'", 10);
		else
			tp_strbuf_add(&buf, val, (size_t) (p - val));
	}
	if (buf.data == NULL)
		tp_strbuf_add(&buf, "", 0);
	return buf.data;

malformed:
	free(buf.data);
	return tp_xstrdup("********");
}
