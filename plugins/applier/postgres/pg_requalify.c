/*
 * pg_requalify.c
 *     Re-qualifying SQL text that the source wrote for its own schema
 *     (pg_get_constraintdef, pg_get_functiondef, pg_get_viewdef, default
 *     expressions: PostgreSQL's deparser qualifies every name that is not
 *     visible in the search_path, pg_catalog on the source) so that it
 *     names the target's apply_schema instead.
 *
 *     A small lexer of PostgreSQL's tokens: only an identifier token equal
 *     to the source schema (as quote_ident() writes it), directly followed
 *     by a dot and not itself after a dot, is replaced. String literals
 *     (with '' and, in E'' strings, backslash escapes), dollar-quoted
 *     strings (so the bodies of plpgsql and other non-SQL-standard
 *     functions are never rewritten), quoted identifiers and comments are
 *     copied as they are. Names of other schemas are left as they are.
 */
#include "tp_autoconf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pg_requalify.h"

/* Whether c can start an unquoted identifier. */
static bool
ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

/* Whether c can continue an unquoted identifier. */
static bool
ident_cont(unsigned char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* The end (index after) of the quoted token (' or ") starting at i. */
static size_t
skip_quoted(const char *s, size_t i, char q, bool backslash)
{
	i++;
	while (s[i] != '\0')
	{
		if (backslash && s[i] == '\\' && s[i + 1] != '\0')
			i += 2;
		else if (s[i] == q && s[i + 1] == q)
			i += 2;
		else if (s[i] == q)
			return i + 1;
		else
			i++;
	}
	return i;
}

/*
 * The end of the dollar-quoted string starting at i, or i when s[i] does
 * not start one ($1 is a parameter, a$b an identifier).
 */
static size_t
skip_dollar(const char *s, size_t i)
{
	size_t		j = i + 1;

	if (i > 0 && ident_cont((unsigned char) s[i - 1]))
		return i;
	if (s[j] >= '0' && s[j] <= '9')
		return i;
	while (s[j] != '\0' && s[j] != '$' && ident_cont((unsigned char) s[j]))
		j++;
	if (s[j] != '$')
		return i;
	{
		size_t		taglen = j - i + 1;
		char	   *tag = strndup(s + i, taglen);
		const char *end;

		if (tag == NULL)
			return i;
		end = strstr(s + j + 1, tag);
		free(tag);
		return end != NULL ? (size_t) (end - s) + taglen : strlen(s);
	}
}

/* The end of the comment starting at i (-- or nested slash-star). */
static size_t
skip_comment(const char *s, size_t i)
{
	int			depth = 0;

	if (s[i] == '-')
	{
		while (s[i] != '\0' && s[i] != '\n')
			i++;
		return i;
	}
	while (s[i] != '\0')
	{
		if (s[i] == '/' && s[i + 1] == '*')
		{
			depth++;
			i += 2;
		}
		else if (s[i] == '*' && s[i + 1] == '/')
		{
			i += 2;
			if (--depth == 0)
				return i;
		}
		else
			i++;
	}
	return i;
}

/* Whether the identifier token s[start, end) names schema qsrc. */
static bool
is_schema(const char *s, size_t start, size_t end, const char *qsrc)
{
	size_t		len = end - start;

	/* "public" is public */
	if (s[start] == '"' && qsrc[0] != '"' && len == strlen(qsrc) + 2)
		return memcmp(s + start + 1, qsrc, len - 2) == 0;
	if (len != strlen(qsrc))
		return false;
	if (s[start] == '"')
		return memcmp(s + start, qsrc, len) == 0;
	for (size_t k = 0; k < len; k++)
	{
		char		c = s[start + k];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (c != qsrc[k])
			return false;
	}
	return true;
}

/* See pg_requalify.h. */
char *
pg_requalify(const char *sql, const char *qsrc, const char *qdst)
{
	size_t		n = strlen(sql);
	size_t		dlen = strlen(qdst);
	size_t		cap = n + 1;
	size_t		out_len = 0;
	char	   *out;
	size_t		i = 0;

	/* at most one replacement per len(qsrc)+1 characters */
	if (dlen > strlen(qsrc))
		cap += (n / (strlen(qsrc) + 1) + 1) * (dlen - strlen(qsrc));
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	while (i < n)
	{
		unsigned char c = (unsigned char) sql[i];
		size_t		end = i + 1;
		bool		ident = false;

		if (c == '\'')
			end = skip_quoted(sql, i, '\'', false);
		else if (c == '"')
		{
			end = skip_quoted(sql, i, '"', false);
			ident = true;
		}
		else if (c == '$')
		{
			end = skip_dollar(sql, i);
			if (end == i)
				end = i + 1;
		}
		else if ((c == '-' && sql[i + 1] == '-') || (c == '/' && sql[i + 1] == '*'))
			end = skip_comment(sql, i);
		else if (c >= '0' && c <= '9')
		{
			while (end < n && (ident_cont((unsigned char) sql[end]) || sql[end] == '.'))
				end++;
		}
		else if (ident_start(c))
		{
			while (end < n && ident_cont((unsigned char) sql[end]))
				end++;
			/* E'...': backslash escapes */
			if (end == i + 1 && (c == 'e' || c == 'E') && sql[end] == '\'')
				end = skip_quoted(sql, end, '\'', true);
			else
				ident = true;
		}
		if (ident && sql[end] == '.' && (i == 0 || sql[i - 1] != '.') &&
			is_schema(sql, i, end, qsrc))
		{
			memcpy(out + out_len, qdst, dlen);
			out_len += dlen;
		}
		else
		{
			memcpy(out + out_len, sql + i, end - i);
			out_len += end - i;
		}
		i = end;
	}
	out[out_len] = '\0';
	return out;
}
