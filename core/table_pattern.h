/*
 * table_pattern.h
 *     A target's target_expression: which tables it replicates.
 *
 * A pattern is "SCHEMA.TABLE" where either part may use '*' for any run of
 * characters (the seed's "public.*", "public.prefix*"); every other
 * character is literal. A pattern starting with '!' excludes what it
 * matches. A table is selected when it matches at least one inclusion and
 * no exclusion. The same patterns are compiled for C (regex.h) and for SQL
 * (PostgreSQL's ~ operator), so the database and the daemon always agree.
 */
#ifndef TP_TABLE_PATTERN_H
#define TP_TABLE_PATTERN_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct tp_table_filter
{
	char	  **include_re;		/* anchored regexes over "schema.table" */
	size_t		n_include;
	char	  **exclude_re;
	size_t		n_exclude;
	regex_t    *include_c;		/* compiled */
	regex_t    *exclude_c;
} tp_table_filter;

/*
 * Compile patterns (n of them) into *filter (tp_table_filter_free). Returns
 * false with reason when a pattern is not SCHEMA.TABLE (no '.', empty
 * part) or selects nothing (only exclusions).
 */
bool		tp_table_filter_compile(tp_table_filter *filter,
									char *const *patterns, size_t n,
									char *reason, size_t reason_len);

/* Whether schema.table is selected. */
bool		tp_table_filter_match(const tp_table_filter *filter,
								  const char *schema, const char *table);

/*
 * The regexes as PostgreSQL text-array literals ("{...}"), for a query
 * that filters with
 *   (s || '.' || t) ~ ANY ($1::text[]) AND NOT (s || '.' || t) ~ ANY ($2::text[])
 * New strings (free).
 */
char	   *tp_table_filter_sql_include(const tp_table_filter *filter);
char	   *tp_table_filter_sql_exclude(const tp_table_filter *filter);

void		tp_table_filter_free(tp_table_filter *filter);

#endif							/* TP_TABLE_PATTERN_H */
