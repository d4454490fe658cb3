/*
 * strbuf.c
 *     A growing text buffer; see strbuf.h.
 */
#include "tp_autoconf.h"

#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

/* See strbuf.h. */
void
tp_strbuf_add(tp_strbuf *sb, const char *s, size_t n)
{
	if (sb->len + n + 1 > sb->cap)
	{
		size_t		cap = sb->cap ? sb->cap : 128;

		while (cap < sb->len + n + 1)
			cap *= 2;
		sb->data = tp_xrealloc(sb->data, cap);
		sb->cap = cap;
	}
	if (n > 0)
		memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

/* See strbuf.h. */
void
tp_strbuf_str(tp_strbuf *sb, const char *s)
{
	tp_strbuf_add(sb, s, strlen(s));
}
