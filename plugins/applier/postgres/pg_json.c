/*
 * pg_json.c
 *     A small scanner for the JSON objects of a change (before, after, ddl):
 *     it splits an object into members, decoding their names and locating
 *     their values as exact spans of the text, so that no value is ever
 *     converted (a numeric(40), -0 and every float digit survive). The host
 *     has checked the text as strict JSON; the scanner still stays within
 *     its bounds on any input.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* Skip JSON whitespace from p; returns the first other position. */
static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Skip a string starting at its opening quote; NULL when unterminated. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Skip one value (any kind) from p; NULL when malformed. */
static const char *
skip_value(const char *p, const char *end)
{
	int			depth = 0;

	p = skip_ws(p, end);
	if (p >= end)
		return NULL;
	if (*p != '{' && *p != '[')
	{
		if (*p == '"')
			return skip_string(p, end);
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
			   *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p;
	}
	while (p < end)
	{
		if (*p == '"')
		{
			p = skip_string(p, end);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
		{
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return NULL;
}

/* The value of hex digit c, or -1. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at p as a code unit, or -1. */
static long
hex4(const char *p, const char *end)
{
	long		v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		int			h = hex_value(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Append code point cp as UTF-8 at out; returns the bytes written. */
static size_t
put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decode the string whose text (without quotes) is s..end into out (room
 * for end - s + 1 bytes: decoding never lengthens). Returns the length, or
 * -1 when malformed or when it holds U+0000.
 */
static long
decode_into(const char *s, const char *end, char *out)
{
	size_t		n = 0;

	while (s < end)
	{
		if (*s != '\\')
		{
			out[n++] = *s++;
			continue;
		}
		if (end - s < 2)
			return -1;
		switch (s[1])
		{
			case '"':
			case '\\':
			case '/':
				out[n++] = s[1];
				s += 2;
				continue;
			case 'b':
				out[n++] = '\b';
				s += 2;
				continue;
			case 'f':
				out[n++] = '\f';
				s += 2;
				continue;
			case 'n':
				out[n++] = '\n';
				s += 2;
				continue;
			case 'r':
				out[n++] = '\r';
				s += 2;
				continue;
			case 't':
				out[n++] = '\t';
				s += 2;
				continue;
			case 'u':
				break;
			default:
				return -1;
		}
		{
			long		u = hex4(s + 2, end);
			unsigned long cp;

			if (u < 0)
				return -1;
			s += 6;
			cp = (unsigned long) u;
			if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				long		lo;

				if (end - s < 6 || s[0] != '\\' || s[1] != 'u' ||
					(lo = hex4(s + 2, end)) < 0xDC00 || lo > 0xDFFF)
					return -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long) lo - 0xDC00);
				s += 6;
			}
			else if (cp >= 0xDC00 && cp <= 0xDFFF)
				return -1;
			if (cp == 0)
				return -1;
			/* \uXXXX is 6 bytes, its UTF-8 at most 3 (4 for a pair of 12) */
			n += put_utf8(out + n, cp);
		}
	}
	out[n] = '\0';
	return (long) n;
}

/* See postgres.h. */
char *
pj_string(const char *value, size_t len)
{
	char	   *out;

	if (len < 2 || value[0] != '"' || value[len - 1] != '"')
		return NULL;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	if (decode_into(value + 1, value + len - 1, out) < 0)
	{
		free(out);
		return NULL;
	}
	return out;
}

/* See postgres.h. */
bool
pj_parse_object(pj_object *obj, const char *text, size_t len)
{
	const char *p = text;
	const char *end = text + len;
	size_t		names_len = 0;

	obj->n = 0;
	/* the decoded names never need more room than the text itself */
	if (obj->names_cap < len + 1)
	{
		char	   *names = realloc(obj->names, len + 1);

		if (names == NULL)
			return false;
		obj->names = names;
		obj->names_cap = len + 1;
	}
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return false;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return true;
	while (p < end)
	{
		const char *name_end;
		const char *value;
		long		n;
		pj_member  *m;

		if (*p != '"' || (name_end = skip_string(p, end)) == NULL)
			return false;
		n = decode_into(p + 1, name_end - 1, obj->names + names_len);
		if (n < 0)
			return false;
		if (obj->n == obj->cap)
		{
			int			cap = obj->cap ? obj->cap * 2 : 32;
			pj_member  *members = realloc(obj->members, (size_t) cap * sizeof(pj_member));

			if (members == NULL)
				return false;
			obj->members = members;
			obj->cap = cap;
		}
		m = &obj->members[obj->n++];
		/* names are fixed up below: the buffer does not move any more */
		m->name = NULL;
		m->name_len = (size_t) n;
		names_len += (size_t) n + 1;
		p = skip_ws(name_end, end);
		if (p >= end || *p != ':')
			return false;
		value = skip_ws(p + 1, end);
		p = skip_value(value, end);
		if (p == NULL)
			return false;
		m->value = value;
		m->value_len = (size_t) (p - value);
		p = skip_ws(p, end);
		if (p < end && *p == ',')
		{
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		return false;
	}
	if (p >= end)
		return false;
	names_len = 0;
	for (int i = 0; i < obj->n; i++)
	{
		obj->members[i].name = obj->names + names_len;
		names_len += obj->members[i].name_len + 1;
	}
	return true;
}

/* See postgres.h. */
const pj_member *
pj_find(const pj_object *obj, const char *name)
{
	for (int i = 0; i < obj->n; i++)
	{
		if (strcmp(obj->members[i].name, name) == 0)
			return &obj->members[i];
	}
	return NULL;
}

/* See postgres.h. */
void
pj_object_free(pj_object *obj)
{
	free(obj->members);
	free(obj->names);
	memset(obj, 0, sizeof(*obj));
}
