/*
 * pg_requalify.h
 *     Re-qualifying SQL text written for the source's schema so that it
 *     names the target's apply_schema (pg_requalify.c).
 */
#ifndef PG_REQUALIFY_H
#define PG_REQUALIFY_H

/*
 * A copy of sql (malloc'd, the caller frees; NULL when out of memory) in
 * which every qualification by schema qsrc ("qsrc." as an identifier
 * token, not after a dot) is replaced by qdst. qsrc and qdst are quoted as
 * quote_ident() quotes them. String literals (plain, E'', dollar-quoted:
 * function bodies), quoted identifiers other than qsrc and comments are
 * left untouched.
 */
char	   *pg_requalify(const char *sql, const char *qsrc, const char *qdst);

#endif
