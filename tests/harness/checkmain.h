/*
 * checkmain.h
 *     The main() of every Check test program, and what they share.
 */
#ifndef TP_CHECKMAIN_H
#define TP_CHECKMAIN_H

#include <check.h>

/*
 * Run suite (taking it over) in Check's fork mode, with the output that
 * CK_VERBOSITY asks (normal by default), and return the program's exit
 * status: 0 when every test passed, and at least one ran.
 */
int			tp_check_run(Suite *suite);

/* Sleep ms milliseconds. */
void		tp_nap_ms(int ms);

#endif							/* TP_CHECKMAIN_H */
