/*
 * check_requalify.c
 *     Unit tests of plugins/applier/postgres/pg_requalify.c: SQL written
 *     for the source's schema re-qualified for the target's apply_schema,
 *     with literals, dollar-quoted bodies, quoted identifiers and comments
 *     left alone.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "pg_requalify.h"

/* One case: the text, the schemas (quoted), and the expected result. */
typedef struct rq_case
{
	const char *sql;
	const char *qsrc;
	const char *qdst;
	const char *want;
} rq_case;

static const rq_case cases[] = {
	/* a foreign key's referenced table, a check calling a function */
	{"FOREIGN KEY (a) REFERENCES public.parent(id)", "public", "copy",
	"FOREIGN KEY (a) REFERENCES copy.parent(id)"},
	{"CHECK ((public.f(x) > 0))", "public", "\"Odd Name\"",
	"CHECK ((\"Odd Name\".f(x) > 0))"},
	/* a literal, an E'' literal with an escaped quote, a comment */
	{"'public.x' || E'\\' public.y' || public.z -- public.c\n", "public", "copy",
	"'public.x' || E'\\' public.y' || copy.z -- public.c\n"},
	{"/* public.a /* public.b */ public.c */ public.d", "public", "copy",
	"/* public.a /* public.b */ public.c */ copy.d"},
	/* a dollar-quoted body is not rewritten; $1 is a parameter */
	{"CREATE FUNCTION public.f(integer) AS $function$ SELECT public.t $function$ x$1 public.g",
		"public", "copy",
	"CREATE FUNCTION copy.f(integer) AS $function$ SELECT public.t $function$ x$1 copy.g"},
	/* after a dot it is a table or column; a longer name is another name */
	{"t.public.x, publicx.y, xpublic.y, PUBLIC.y, \"public\".y", "public", "c",
	"t.public.x, publicx.y, xpublic.y, c.y, c.y"},
	/* a quoted source schema; the unquoted form is another schema */
	{"\"My\".t, my.t, \"My\".\"My\"", "\"My\"", "copy", "copy.t, my.t, copy.\"My\""},
	/* no dot: a column or type named like the schema */
	{"public + 1, 1.5, public", "public", "copy", "public + 1, 1.5, public"},
	/* unterminated tokens end the text */
	{"'public.x", "public", "copy", "'public.x"},
	{"$a$ public.x", "public", "copy", "$a$ public.x"},
	{"", "public", "copy", ""},
};

START_TEST(test_cases)
{
	const rq_case *c = &cases[_i];
	char	   *got = pg_requalify(c->sql, c->qsrc, c->qdst);

	ck_assert_ptr_nonnull(got);
	ck_assert_msg(strcmp(got, c->want) == 0, "%s\n got: %s\nwant: %s", c->sql, got, c->want);
	free(got);
}
END_TEST

/* A long destination name, many times: the buffer is large enough. */
START_TEST(test_growth)
{
	char		sql[4096] = "";
	char	   *got;
	const char *dst = "a_rather_long_schema_name";

	for (int i = 0; i < 400; i++)
		strcat(sql, "s.t,");
	got = pg_requalify(sql, "s", dst);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), strlen(sql) + 400 * (strlen(dst) - 1));
	ck_assert(strncmp(got, "a_rather_long_schema_name.t,a_rather", 36) == 0);
	free(got);
}
END_TEST

/* The suite. */
static Suite *
requalify_suite(void)
{
	Suite	   *s = suite_create("requalify");
	TCase	   *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_cases, 0, (int) (sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_growth);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(requalify_suite());
}
