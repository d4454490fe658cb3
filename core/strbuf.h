/*
 * strbuf.h
 *     A growing, NUL-terminated text buffer (memory errors abort, as with
 *     xalloc.h).
 */
#ifndef TP_STRBUF_H
#define TP_STRBUF_H

#include <stddef.h>

/* Zero-fill to start; data is NULL until something is added; free data. */
typedef struct tp_strbuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} tp_strbuf;

/* Append n bytes of s (which need not be NUL-terminated) to sb. */
void		tp_strbuf_add(tp_strbuf *sb, const char *s, size_t n);

/* Append the NUL-terminated s to sb. */
void		tp_strbuf_str(tp_strbuf *sb, const char *s);

#endif							/* TP_STRBUF_H */
