/*
 * batch_lines.c
 *     The change lines of a batch built from event rows; see
 *     batch_lines.h.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <string.h>

#include "batch_lines.h"
#include "xalloc.h"

/* Make room for n more bytes (and a NUL) in lines. */
static void
reserve(tp_lines *lines, size_t n)
{
	if (lines->len + n + 1 > lines->cap)
	{
		size_t		cap = lines->cap ? lines->cap : 4096;

		while (lines->len + n + 1 > cap)
			cap *= 2;
		lines->data = tp_xrealloc(lines->data, cap);
		lines->cap = cap;
	}
}

/* Append s[0, n) to lines. */
static void
add(tp_lines *lines, const char *s, size_t n)
{
	reserve(lines, n);
	memcpy(lines->data + lines->len, s, n);
	lines->len += n;
	lines->data[lines->len] = '\0';
}

/* Append the NUL-terminated s to lines. */
static void
add_str(tp_lines *lines, const char *s)
{
	add(lines, s, strlen(s));
}

/* Append json text s[0, n) with each raw newline turned into a space. */
static void
add_json(tp_lines *lines, const char *s, size_t n)
{
	reserve(lines, n);
	for (size_t i = 0; i < n; i++)
		lines->data[lines->len + i] = s[i] == '\n' ? ' ' : s[i];
	lines->len += n;
	lines->data[lines->len] = '\0';
}

/* See batch_lines.h. */
void
tp_lines_json_string(tp_lines *lines, const char *s)
{
	add(lines, "\"", 1);
	for (const char *p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		switch (c)
		{
			case '\b':
				add(lines, "\\b", 2);
				break;
			case '\f':
				add(lines, "\\f", 2);
				break;
			case '\n':
				add(lines, "\\n", 2);
				break;
			case '\r':
				add(lines, "\\r", 2);
				break;
			case '\t':
				add(lines, "\\t", 2);
				break;
			case '"':
				add(lines, "\\\"", 2);
				break;
			case '\\':
				add(lines, "\\\\", 2);
				break;
			default:
				if (c < ' ')
				{
					char		esc[8];

					snprintf(esc, sizeof(esc), "\\u%04x", (unsigned int) c);
					add(lines, esc, 6);
				}
				else
					add(lines, p, 1);
				break;
		}
	}
	add(lines, "\"", 1);
}

/*
 * Append column col of row as embedded json (raw newlines as spaces), or
 * null.
 */
static void
add_json_column(tp_lines *lines, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		add(lines, "null", 4);
	else
		add_json(lines, PQgetvalue(res, row, col), (size_t) PQgetlength(res, row, col));
}

/* See batch_lines.h. */
void
tp_lines_add(tp_lines *lines, const PGresult *res, int row, const char *source,
			 const char *batch, const char *ts_ms)
{
	add_str(lines, "{\"op\":");
	tp_lines_json_string(lines, PQgetvalue(res, row, 1));
	add_str(lines, ",\"before\":");
	add_json_column(lines, res, row, 2);
	add_str(lines, ",\"after\":");
	add_json_column(lines, res, row, 3);
	if (!PQgetisnull(res, row, 5) && strcmp(PQgetvalue(res, row, 5), "t") == 0)
		add_str(lines, ",\"values\":\"text\"");
	if (!PQgetisnull(res, row, 4))
	{
		add_str(lines, ",\"ddl\":");
		add_json_column(lines, res, row, 4);
	}
	add_str(lines, ",\"source\":{\"name\":");
	tp_lines_json_string(lines, PQgetisnull(res, row, 6) ? source : PQgetvalue(res, row, 6));
	add_str(lines, ",\"schema\":");
	tp_lines_json_string(lines, PQgetvalue(res, row, 7));
	add_str(lines, ",\"table\":");
	if (PQgetisnull(res, row, 8))
		add(lines, "null", 4);
	else
		tp_lines_json_string(lines, PQgetvalue(res, row, 8));
	add_str(lines, ",\"txid\":");
	add_str(lines, PQgetvalue(res, row, 9));
	add_str(lines, ",\"seq\":");
	add_str(lines, PQgetvalue(res, row, 0));
	add_str(lines, ",\"batch\":");
	add_str(lines, batch);
	if (!PQgetisnull(res, row, 10))
	{
		add_str(lines, ",\"stmt\":");
		add_str(lines, PQgetvalue(res, row, 10));
	}
	add_str(lines, "},\"ts_ms\":");
	add_str(lines, ts_ms);
	add(lines, "}\n", 2);
	lines->count++;
}
