/*
 * table_pattern.c
 *     Compiling target_expression patterns for C and for SQL.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"
#include "table_pattern.h"
#include "xalloc.h"

/*
 * Append the POSIX ERE for one part of a pattern (schema or table) to buf:
 * '*' becomes "[^.]*" in the schema part (a schema name has no dot in a
 * pattern) and ".*" in the table part; every other character is literal.
 */
static void
append_part(char *buf, size_t *len, const char *part, size_t n, bool is_schema)
{
	for (size_t i = 0; i < n; i++)
	{
		char		c = part[i];

		if (c == '*')
		{
			const char *any = is_schema ? "[^.]*" : ".*";

			memcpy(buf + *len, any, strlen(any));
			*len += strlen(any);
			continue;
		}
		if (strchr("\\^$.|?+()[]{}", c) != NULL)
			buf[(*len)++] = '\\';
		buf[(*len)++] = c;
	}
}

/*
 * The anchored regex of one pattern (without its '!'), as a new string, or
 * NULL with reason when it is not SCHEMA.TABLE.
 */
static char *
pattern_regex(const char *pattern, char *reason, size_t reason_len)
{
	const char *dot = strchr(pattern, '.');
	size_t		n = strlen(pattern);
	char	   *re;
	size_t		len = 0;

	if (dot == NULL || dot == pattern || dot[1] == '\0')
	{
		tp_reason_fmt(reason, reason_len,
					  "\"%s\" is not SCHEMA.TABLE (use * as a wildcard, e.g. \"public.*\")",
					  pattern);
		return NULL;
	}
	/* each character may become 5, plus anchors and the dot */
	re = tp_xmalloc(n * 5 + 8);
	re[len++] = '^';
	append_part(re, &len, pattern, (size_t) (dot - pattern), true);
	re[len++] = '\\';
	re[len++] = '.';
	append_part(re, &len, dot + 1, strlen(dot + 1), false);
	re[len++] = '$';
	re[len] = '\0';
	return re;
}

/* See table_pattern.h. */
bool
tp_table_filter_compile(tp_table_filter *filter, char *const *patterns,
						size_t n, char *reason, size_t reason_len)
{
	memset(filter, 0, sizeof(*filter));
	filter->include_re = tp_xcalloc(n, sizeof(char *));
	filter->exclude_re = tp_xcalloc(n, sizeof(char *));
	filter->include_c = tp_xcalloc(n, sizeof(regex_t));
	filter->exclude_c = tp_xcalloc(n, sizeof(regex_t));
	for (size_t i = 0; i < n; i++)
	{
		bool		exclude = patterns[i][0] == '!';
		char	   *re = pattern_regex(patterns[i] + (exclude ? 1 : 0),
									   reason, reason_len);

		if (re == NULL)
		{
			tp_table_filter_free(filter);
			return false;
		}
		if (exclude)
		{
			regcomp(&filter->exclude_c[filter->n_exclude], re, REG_EXTENDED | REG_NOSUB);
			filter->exclude_re[filter->n_exclude++] = re;
		}
		else
		{
			regcomp(&filter->include_c[filter->n_include], re, REG_EXTENDED | REG_NOSUB);
			filter->include_re[filter->n_include++] = re;
		}
	}
	if (filter->n_include == 0)
	{
		tp_reason_fmt(reason, reason_len,
					  "only exclusions (\"!...\"): add a pattern that selects tables");
		tp_table_filter_free(filter);
		return false;
	}
	return true;
}

/* See table_pattern.h. */
bool
tp_table_filter_match(const tp_table_filter *filter, const char *schema,
					  const char *table)
{
	size_t		len = strlen(schema) + strlen(table) + 2;
	char	   *name = tp_xmalloc(len);
	bool		selected = false;

	snprintf(name, len, "%s.%s", schema, table);
	for (size_t i = 0; i < filter->n_include && !selected; i++)
		selected = regexec(&filter->include_c[i], name, 0, NULL, 0) == 0;
	for (size_t i = 0; i < filter->n_exclude && selected; i++)
		selected = regexec(&filter->exclude_c[i], name, 0, NULL, 0) != 0;
	free(name);
	return selected;
}

/* A PostgreSQL array literal of the n strings in items, as a new string. */
static char *
array_literal(char *const *items, size_t n)
{
	size_t		cap = 3;
	char	   *out;
	size_t		len = 0;

	for (size_t i = 0; i < n; i++)
		cap += strlen(items[i]) * 2 + 3;
	out = tp_xmalloc(cap);
	out[len++] = '{';
	for (size_t i = 0; i < n; i++)
	{
		if (i > 0)
			out[len++] = ',';
		out[len++] = '"';
		for (const char *p = items[i]; *p != '\0'; p++)
		{
			if (*p == '"' || *p == '\\')
				out[len++] = '\\';
			out[len++] = *p;
		}
		out[len++] = '"';
	}
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

/* See table_pattern.h. */
char *
tp_table_filter_sql_include(const tp_table_filter *filter)
{
	return array_literal(filter->include_re, filter->n_include);
}

/* See table_pattern.h. */
char *
tp_table_filter_sql_exclude(const tp_table_filter *filter)
{
	return array_literal(filter->exclude_re, filter->n_exclude);
}

/* See table_pattern.h. */
void
tp_table_filter_free(tp_table_filter *filter)
{
	for (size_t i = 0; i < filter->n_include; i++)
	{
		free(filter->include_re[i]);
		regfree(&filter->include_c[i]);
	}
	for (size_t i = 0; i < filter->n_exclude; i++)
	{
		free(filter->exclude_re[i]);
		regfree(&filter->exclude_c[i]);
	}
	free(filter->include_re);
	free(filter->exclude_re);
	free(filter->include_c);
	free(filter->exclude_c);
	memset(filter, 0, sizeof(*filter));
}
