/* check.h: the one assertion family of the C tests, no framework. A failed
 * CHECK* prints "file:line: check failed: EXPR" (and got/want below it),
 * counts the failure and goes on, so that one run shows every failure;
 * CHECK_OR(cond, action) also runs action (return, goto, break, a message)
 * where going on would crash or mean nothing. main returns check_status().
 * The counter is the only mutable state, one per translation unit: check in
 * the file that has main. Tests may read check_failures (stop a loop).
 */
#ifndef CNNC_TEST_CHECK_H
#define CNNC_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { SKIP_STATUS = 77 };   /* ctest SKIP_RETURN_CODE: the test did not run */

static int check_failures;

static inline void check_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    check_failures++;
}

#define CHECK(cond) \
    do { if (!(cond)) check_fail(__FILE__, __LINE__, #cond); } while (0)

/* On failure, also runs action, in the caller: `CHECK_OR(f != NULL, return)`,
 * `CHECK_OR(g, goto done)`, `CHECK_OR(ok, break)`, or `CHECK_OR(rc == 0,
 * fprintf(stderr, "  %s\n", msg))`. Needs braces when it is an if's body. */
#define CHECK_OR(cond, action) \
    if (cond) {} else { check_fail(__FILE__, __LINE__, #cond); action; }

#define CHECK_INT(got, want) \
    do { long long g_ = (got), w_ = (want); \
         if (g_ != w_) { check_fail(__FILE__, __LINE__, #got " == " #want); \
                         fprintf(stderr, "  got %lld, want %lld\n", g_, w_); } } while (0)

/* Strings by content; NULL equals only NULL. */
#define CHECK_STR(got, want) \
    do { const char *g_ = (got), *w_ = (want); \
         if (g_ && w_ ? strcmp(g_, w_) != 0 : g_ != w_) { \
             check_fail(__FILE__, __LINE__, #got " == " #want); \
             fprintf(stderr, "  got  %s%s%s\n  want %s%s%s\n", g_ ? "\"" : "", \
                     g_ ? g_ : "NULL", g_ ? "\"" : "", w_ ? "\"" : "", w_ ? w_ : "NULL", \
                     w_ ? "\"" : ""); } } while (0)

/* |got - want| <= tol * max(1, |want|): absolute near 0, relative beyond. */
#define CHECK_NEAR(got, want, tol) \
    do { double g_ = (got), w_ = (want), t_ = (tol) * (fabs(w_) > 1 ? fabs(w_) : 1); \
         if (!(fabs(g_ - w_) <= t_)) { \
             check_fail(__FILE__, __LINE__, #got " ~ " #want); \
             fprintf(stderr, "  got %.9g, want %.9g\n", g_, w_); } } while (0)

/* n floats against n expected values, each as CHECK_NEAR; reports the first. */
#define CHECK_FLOATS(got, want, n, tol) \
    do { for (int i_ = 0; i_ < (int)(n); i_++) { \
             double g_ = (got)[i_], w_ = (want)[i_], t_ = (tol) * (fabs(w_) > 1 ? fabs(w_) : 1); \
             if (!(fabs(g_ - w_) <= t_)) { \
                 check_fail(__FILE__, __LINE__, #got " ~ " #want); \
                 fprintf(stderr, "  [%d]: got %.9g, want %.9g\n", i_, g_, w_); \
                 break; } } } while (0)

/* main's exit status: 0 when every check passed, else 1; says which. */
static inline int check_status(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else
        printf("%s: all checks passed\n", name);
    return check_failures != 0;
}

#endif
