/*
 * check_load_plan.c
 *     Unit tests of tp_load_copy_plan (core/load_copy.c): the order in
 *     which an initial load's jobs take its tables (referenced by a
 *     foreign key first, then the largest), what each table waits for, and
 *     the block ranges of a large table; and tp_load_copy_expected_bytes,
 *     the progress's estimate.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checkmain.h"
#include "load_copy.h"
#include "xalloc.h"

/* A copy of n tables named by names (one letter each) with these sizes. */
static void
make_copy(tp_load_copy *lc, const char *names, const int64_t *bytes)
{
	size_t		n = strlen(names);

	memset(lc, 0, sizeof(*lc));
	lc->tables = tp_xcalloc(n, sizeof(tp_load_table));
	lc->n_tables = n;
	for (size_t i = 0; i < n; i++)
	{
		char		name[2] = {names[i], '\0'};

		lc->tables[i].name = tp_xstrdup(name);
		lc->tables[i].est_bytes = bytes[i];
		lc->tables[i].blocks = bytes[i] / 8192 + 1;
	}
}

/* Add the foreign key: the table named from references the one named to. */
static void
add_fk(tp_load_copy *lc, char from, char to)
{
	lc->fks = tp_xrealloc(lc->fks, (lc->n_fks + 1) * sizeof(tp_load_fk));
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		if (lc->tables[i].name[0] == from)
			lc->fks[lc->n_fks].from = i;
		if (lc->tables[i].name[0] == to)
			lc->fks[lc->n_fks].to = i;
	}
	lc->n_fks++;
}

/* The tables in their order, each with what it waits for: "A(B) C". */
static char *
describe(const tp_load_copy *lc)
{
	char	   *s = tp_xcalloc(256, 1);

	for (size_t i = 0; i < lc->n_tables; i++)
	{
		const tp_load_table *t = &lc->tables[i];

		if (i > 0)
			strcat(s, " ");
		strcat(s, t->name);
		if (t->n_after > 0)
		{
			strcat(s, "(");
			for (size_t k = 0; k < t->n_after; k++)
				strcat(s, lc->tables[t->after[k]].name);
			strcat(s, ")");
		}
	}
	return s;
}

/* Free what make_copy and the plan made. */
static void
free_copy(tp_load_copy *lc)
{
	for (size_t i = 0; i < lc->n_tables; i++)
	{
		free(lc->tables[i].name);
		free(lc->tables[i].after);
	}
	free(lc->tables);
	free(lc->fks);
	free(lc->parts);
}

/* Without foreign keys: the largest first, no waits, one part each. */
START_TEST(test_largest_first)
{
	tp_load_copy lc;
	static const int64_t bytes[] = {100, 30000, 5000, 0};
	char	   *d;

	make_copy(&lc, "abcd", bytes);
	tp_load_copy_plan(&lc, 2, INT64_C(64) << 20);
	d = describe(&lc);
	ck_assert_str_eq(d, "b c a d");
	ck_assert_uint_eq(lc.n_parts, 4);
	for (size_t i = 0; i < lc.n_parts; i++)
	{
		ck_assert_uint_eq(lc.parts[i].table, i);
		ck_assert_int_eq(lc.parts[i].from, -1);
		ck_assert_int_eq(lc.parts[i].to, -1);
		ck_assert(!lc.parts[i].taken);
	}
	free(d);
	free_copy(&lc);
}
END_TEST

/*
 * Referenced tables first, each waiting for what it references: C
 * references B, which references A; D references A and B; E and F
 * reference each other, and G references E: those three come last and
 * wait for nothing (a cycle cannot be ordered). H is on its own.
 */
START_TEST(test_foreign_keys_first)
{
	tp_load_copy lc;
	static const int64_t bytes[] = {10, 20, 900, 800, 50, 60, 70, 5};
	char	   *d;

	make_copy(&lc, "ABCDEFGH", bytes);
	add_fk(&lc, 'C', 'B');
	add_fk(&lc, 'B', 'A');
	add_fk(&lc, 'D', 'A');
	add_fk(&lc, 'D', 'B');
	add_fk(&lc, 'E', 'F');
	add_fk(&lc, 'F', 'E');
	add_fk(&lc, 'G', 'E');
	add_fk(&lc, 'C', 'B');		/* two keys to one table */
	tp_load_copy_plan(&lc, 2, INT64_C(64) << 20);
	d = describe(&lc);
	ck_assert_str_eq(d, "A H B(A) C(BB) D(AB) G F E");
	ck_assert_ptr_null(lc.fks);
	ck_assert_uint_eq(lc.n_fks, 0);
	ck_assert_uint_eq(lc.n_parts, 8);
	free(d);
	free_copy(&lc);
}
END_TEST

/*
 * Plan tables a (200 bytes, 10 blocks) and b (200 bytes, 1 block) with
 * jobs and a split at 64 bytes; a must come in the block ranges that
 * start at from[0..k) (the last open at the end), then b whole.
 */
static void
check_split(int jobs, const int64_t *from, int k)
{
	tp_load_copy lc;
	static const int64_t bytes[] = {200, 200};

	make_copy(&lc, "ab", bytes);
	lc.tables[0].blocks = 10;
	lc.tables[1].blocks = 1;
	tp_load_copy_plan(&lc, jobs, 64);
	ck_assert_uint_eq(lc.n_parts, (size_t) k + 1);
	ck_assert_int_eq(lc.tables[0].parts_left, k);
	for (int p = 0; p < k; p++)
	{
		ck_assert_uint_eq(lc.parts[p].table, 0);
		ck_assert_int_eq(lc.parts[p].from, k == 1 ? -1 : from[p]);
		ck_assert_int_eq(lc.parts[p].to, p + 1 < k ? from[p + 1] : -1);
	}
	ck_assert_uint_eq(lc.parts[k].table, 1);
	ck_assert_int_eq(lc.parts[k].from, -1);
	ck_assert_int_eq(lc.parts[k].to, -1);
	free_copy(&lc);
}

/*
 * A table over split_bytes is split into block ranges when jobs > 1, at
 * most one per job, the last open at the end; not with one job, nor a
 * table of one block.
 */
START_TEST(test_split)
{
	static const int64_t four[] = {0, 2, 5, 7};
	static const int64_t two[] = {0, 5};
	static const int64_t one[] = {-1};

	check_split(4, four, 4);
	/* 4 parts of 64 bytes, but 2 jobs: 2 parts */
	check_split(2, two, 2);
	check_split(1, one, 1);
}
END_TEST

/*
 * The expected COPY text of a load: sizes on disk until 256 pages were
 * copied, then each table not done by its pages times the text per page
 * measured; a table done (or past its estimate) counts what it sent.
 */
START_TEST(test_expected_bytes)
{
	tp_load_copy lc;
	static const int64_t bytes[] = {8192 * 1000, 8192 * 100, 8192 * 10};

	make_copy(&lc, "abc", bytes);
	lc.tables[0].blocks = 1000;
	lc.tables[1].blocks = 100;
	lc.tables[2].blocks = 10;
	ck_assert_int_eq(tp_load_copy_expected_bytes(&lc), 8192 * 1110);

	/* too few pages measured yet: still the sizes on disk */
	lc.measured_pages = 100;
	lc.measured_bytes = 100 * 4000;
	ck_assert_int_eq(tp_load_copy_expected_bytes(&lc), 8192 * 1110);

	/* 4,000 bytes of text per page; b done with 123 bytes; c past it */
	lc.measured_pages = 400;
	lc.measured_bytes = 400 * 4000;
	lc.tables[1].done = true;
	lc.tables[1].bytes = 123;
	lc.tables[2].bytes = 50000;
	ck_assert_int_eq(tp_load_copy_expected_bytes(&lc), 1000 * 4000 + 123 + 50000);
	free_copy(&lc);
}
END_TEST

/* The suite. */
static Suite *
load_plan_suite(void)
{
	Suite	   *s = suite_create("load_plan");
	TCase	   *tc = tcase_create("plan");

	tcase_add_test(tc, test_largest_first);
	tcase_add_test(tc, test_foreign_keys_first);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_expected_bytes);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(load_plan_suite());
}
