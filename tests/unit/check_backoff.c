/*
 * check_backoff.c
 *     Unit tests of exponential backoff with jitter.
 */
#include "tp_autoconf.h"

#include <check.h>
#include <stdbool.h>

#include "backoff.h"
#include "checkmain.h"

START_TEST(test_grows_with_jitter_and_caps)
{
	tp_backoff	b;
	int			expected = 100;

	tp_backoff_init(&b, 100, 1000);
	for (int i = 0; i < 10; i++)
	{
		int			wait = tp_backoff_next(&b);

		/* equal jitter: between half and all of the current delay */
		ck_assert_int_ge(wait, expected / 2);
		ck_assert_int_le(wait, expected);
		expected = expected * 2 > 1000 ? 1000 : expected * 2;
	}
	ck_assert_uint_eq(b.attempts, 10);
	ck_assert_int_eq(b.current_ms, 1000);
}
END_TEST

START_TEST(test_reset)
{
	tp_backoff	b;

	tp_backoff_init(&b, 50, 400);
	for (int i = 0; i < 5; i++)
		tp_backoff_next(&b);
	tp_backoff_reset(&b);
	ck_assert_uint_eq(b.attempts, 0);
	ck_assert_int_le(tp_backoff_next(&b), 50);
}
END_TEST

START_TEST(test_jitter_varies)
{
	tp_backoff	b;
	int			first;
	bool		varied = false;

	tp_backoff_init(&b, 1000, 1000);
	first = tp_backoff_next(&b);
	for (int i = 0; i < 50 && !varied; i++)
		varied = tp_backoff_next(&b) != first;
	ck_assert_msg(varied, "fifty delays were all %d ms", first);
}
END_TEST

START_TEST(test_bad_bounds)
{
	tp_backoff	b;

	tp_backoff_init(&b, 0, -5);
	ck_assert_int_ge(b.min_ms, 1);
	ck_assert_int_ge(b.max_ms, b.min_ms);
	ck_assert_int_le(tp_backoff_next(&b), b.max_ms);
}
END_TEST

/* The suite. */
static Suite *
backoff_suite(void)
{
	Suite	   *s = suite_create("backoff");
	TCase	   *tc = tcase_create("backoff");

	tcase_add_test(tc, test_grows_with_jitter_and_caps);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_jitter_varies);
	tcase_add_test(tc, test_bad_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int			main(void);

/* Run the suite. */
int
main(void)
{
	return tp_check_run(backoff_suite());
}
