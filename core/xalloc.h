/*
 * xalloc.h
 *     Allocation that aborts when memory is exhausted: the core cannot do
 *     anything useful after that, and checking every small string would
 *     hide the real error paths.
 */
#ifndef TP_XALLOC_H
#define TP_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* malloc, or abort. */
static inline void *
tp_xmalloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
	{
		fputs("teleport: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* calloc, or abort. */
static inline void *
tp_xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
	{
		fputs("teleport: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* realloc, or abort. */
static inline void *
tp_xrealloc(void *ptr, size_t size)
{
	void	   *p = realloc(ptr, size ? size : 1);

	if (p == NULL)
	{
		fputs("teleport: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* strdup of s (NULL gives NULL), or abort. */
static inline char *
tp_xstrdup(const char *s)
{
	size_t		len;
	char	   *p;

	if (s == NULL)
		return NULL;
	len = strlen(s) + 1;
	p = tp_xmalloc(len);
	memcpy(p, s, len);
	return p;
}

#endif							/* TP_XALLOC_H */
