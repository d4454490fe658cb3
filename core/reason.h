/*
 * reason.h
 *     Filling a caller's reason buffer: the one-sentence explanation that
 *     functions which do not log (parsers, validators) hand back.
 */
#ifndef TP_REASON_H
#define TP_REASON_H

#include <stddef.h>
#include <teleport/abi.h>

/* Format into reason (len bytes, truncated); nothing when reason is NULL. */
void		tp_reason_fmt(char *reason, size_t len, const char *fmt,...) TP_PRINTF(3, 4);

#endif							/* TP_REASON_H */
