/*
 * testutil.h - the few helpers every test program shares: checks that count
 * and report, numeric comparison with a stated tolerance, and a scratch
 * folder.
 */
#ifndef TB_TESTUTIL_H
#define TB_TESTUTIL_H

#include <stdio.h>

extern int tu_checks;
extern int tu_failed;

/* Record one check; on failure print where and the formatted reason. */
void tu_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHECK(cond, ...) tu_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= tol, with both numbers printed on failure. */
#define CHECK_NEAR(got, want, tol, what)                                       \
    tu_check(tu_near((got), (want), (tol)), __FILE__, __LINE__,                \
             "%s: got %.10g, want %.10g within %.3g", (what), (double)(got),   \
             (double)(want), (double)(tol))

int tu_near(double got, double want, double tol);

/* A fresh scratch folder under TMPDIR, removed by tu_finish on success. */
const char *tu_tmpdir(void);

/* Print "NAME: N passed, N failed" and return the exit status. */
int tu_finish(const char *name);

#endif
