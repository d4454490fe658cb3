/*
 * reason.c
 *     Filling a caller's reason buffer.
 */
#include "tp_autoconf.h"

#include <stdarg.h>
#include <stdio.h>

#include "reason.h"

/* See reason.h. */
void
tp_reason_fmt(char *reason, size_t len, const char *fmt,...)
{
	va_list		ap;

	if (reason == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, len, fmt, ap);
	va_end(ap);
}
