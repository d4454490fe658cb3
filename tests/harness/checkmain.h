/*
 * checkmain.h
 *     The main() of every Check test program.
 */
#ifndef TP_CHECKMAIN_H
#define TP_CHECKMAIN_H

#include <check.h>

/*
 * Run suite (taking it over) in Check's fork mode with normal output and
 * return the program's exit status: 0 when every test passed.
 */
int			tp_check_run(Suite *suite);

#endif							/* TP_CHECKMAIN_H */
