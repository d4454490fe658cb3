/*
 * config_options.c
 *     Check a plugin's options map against the plugin's option table, and
 *     read an option with the table's default.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "yaml_tree.h"

/* The entry of table called name, or NULL. */
static const tp_option_desc *
find_option(const tp_option_desc *table, const char *name)
{
	for (const tp_option_desc *d = table; d != NULL && d->name != NULL; d++)
	{
		if (strcmp(d->name, name) == 0)
			return d;
	}
	return NULL;
}

/* The name of an option type, for messages. */
static const char *
type_name(tp_option_type type)
{
	switch (type)
	{
		case TP_OPTION_STRING:
			return "a string";
		case TP_OPTION_INT:
			return "an integer";
		case TP_OPTION_BOOL:
			return "true or false";
		case TP_OPTION_PATH:
			return "a path";
	}
	return "a value";
}

/* Whether the scalar text is a valid value of type. */
static bool
value_fits(tp_option_type type, const char *text)
{
	int64_t		ignored;

	switch (type)
	{
		case TP_OPTION_STRING:
			return true;
		case TP_OPTION_INT:
			return tp_config_parse_int(text, &ignored);
		case TP_OPTION_BOOL:
			return strcmp(text, "true") == 0 || strcmp(text, "false") == 0;
		case TP_OPTION_PATH:
			return text[0] != '\0';
	}
	return false;
}

/*
 * The line and column where an options map that is absent would go: the
 * node holding section's last component, else the document's start.
 */
static void
section_position(const tp_config *config, const char *section,
				 int *line, int *column)
{
	const char *dot = strrchr(section, '.');
	const tp_node *node = NULL;

	*line = 1;
	*column = 1;
	if (config == NULL || config->root == NULL)
		return;
	if (dot != NULL)
	{
		char		parent[512];

		snprintf(parent, sizeof(parent), "%.*s", (int) (dot - section), section);
		node = tp_node_path(config->root, parent);
	}
	else
		node = config->root;
	if (node != NULL)
	{
		*line = node->line;
		*column = node->column;
	}
}

/* Append the table's option names to buf, comma separated. */
static void
list_names(const tp_option_desc *table, char *buf, size_t size)
{
	size_t		used = 0;

	buf[0] = '\0';
	for (const tp_option_desc *d = table; d != NULL && d->name != NULL &&
		 used < size; d++)
		used += (size_t) snprintf(buf + used, size - used, "%s%s",
								  d == table ? "" : ", ", d->name);
}

/* See config.h. */
bool
tp_config_check_options(const tp_config *config, const char *section,
						const tp_node *options, const tp_option_desc *table)
{
	int			errors = 0;
	char		path[768];
	int			line;
	int			column;

	if (options != NULL && options->type != TP_NODE_MAP &&
		!tp_config_is_null(options))
	{
		tp_config_error(config, options->line, options->column, section,
						"expected a map of options");
		return false;
	}
	if (options != NULL && options->type != TP_NODE_MAP)
		options = NULL;

	for (size_t i = 0; options != NULL && i < options->n; i++)
	{
		const tp_node_pair *pair = &options->pairs[i];
		const tp_option_desc *desc = find_option(table, pair->key);

		snprintf(path, sizeof(path), "%s.%s", section, pair->key);
		if (desc == NULL)
		{
			char		names[512];

			list_names(table, names, sizeof(names));
			if (names[0] == '\0')
				tp_config_error(config, pair->key_line, pair->key_column, path,
								"unknown option (this plugin takes none)");
			else
				tp_config_error(config, pair->key_line, pair->key_column, path,
								"unknown option (expected one of: %s)", names);
			errors++;
			continue;
		}
		if (tp_config_is_null(pair->value))
			continue;			/* unset: checked with the required ones */
		if (pair->value->type != TP_NODE_SCALAR ||
			!value_fits(desc->type, pair->value->scalar))
		{
			tp_config_error(config, pair->value->line, pair->value->column,
							path, "expected %s", type_name(desc->type));
			errors++;
		}
	}

	for (const tp_option_desc *d = table; d != NULL && d->name != NULL; d++)
	{
		const tp_node_pair *pair = tp_node_get_pair(options, d->name);

		if (!d->required || (pair != NULL && !tp_config_is_null(pair->value)))
			continue;
		snprintf(path, sizeof(path), "%s.%s", section, d->name);
		if (pair != NULL)
			tp_config_error(config, pair->key_line, pair->key_column, path,
							"a value is required");
		else
		{
			if (options != NULL)
			{
				line = options->line;
				column = options->column;
			}
			else
				section_position(config, section, &line, &column);
			tp_config_error(config, line, column, path, "missing required key");
		}
		errors++;
	}
	return errors == 0;
}

/* See config.h. */
const char *
tp_config_option(const tp_node *options, const tp_option_desc *table,
				 const char *name)
{
	const tp_node *value = tp_node_get(options, name);
	const tp_option_desc *desc;

	if (value != NULL && value->type == TP_NODE_SCALAR &&
		!tp_config_is_null(value))
		return value->scalar;
	desc = find_option(table, name);
	return desc ? desc->default_value : NULL;
}
