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

/* See batch_lines.h. */
void
tp_lines_append(tp_lines *lines, const char *s, size_t n)
{
	add(lines, s, n);
}

/* See batch_lines.h. */
void
tp_lines_reserve(tp_lines *lines, size_t n)
{
	reserve(lines, n);
}

/* Append the NUL-terminated s to lines. */
static void
add_str(tp_lines *lines, const char *s)
{
	add(lines, s, strlen(s));
}

/*
 * Append json text s[0, n) with each raw newline turned into a space
 * (json's whitespace may hold them; jsonb's text never does, so the text
 * is mostly copied whole).
 */
static void
add_json(tp_lines *lines, const char *s, size_t n)
{
	char	   *out;
	char	   *end;
	char	   *nl;

	reserve(lines, n);
	out = lines->data + lines->len;
	end = out + n;
	memcpy(out, s, n);
	for (nl = memchr(out, '\n', n); nl != NULL; nl = memchr(nl, '\n', (size_t) (end - nl)))
		*nl++ = ' ';
	lines->len += n;
	lines->data[lines->len] = '\0';
}

/*
 * The JSON escape of byte c, one that needs it (a control character, '"'
 * or '\\'), as to_json(text) writes it; in buf (of size bytes) or static.
 */
static const char *
json_escape(unsigned char c, char *buf, size_t size)
{
	switch (c)
	{
		case '\b':
			return "\\b";
		case '\f':
			return "\\f";
		case '\n':
			return "\\n";
		case '\r':
			return "\\r";
		case '\t':
			return "\\t";
		case '"':
			return "\\\"";
		case '\\':
			return "\\\\";
		default:
			snprintf(buf, size, "\\u%04x", (unsigned int) c);
			return buf;
	}
}

/* See batch_lines.h. */
void
tp_lines_json_string(tp_lines *lines, const char *s)
{
	const char *run = s;		/* the bytes since the last escape */
	const char *p;

	add(lines, "\"", 1);
	for (p = s; *p; p++)
	{
		unsigned char c = (unsigned char) *p;
		char		buf[8];
		const char *esc;

		if (c >= ' ' && c != '"' && c != '\\')
			continue;
		esc = json_escape(c, buf, sizeof(buf));
		add(lines, run, (size_t) (p - run));
		add_str(lines, esc);
		run = p + 1;
	}
	add(lines, run, (size_t) (p - run));
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
