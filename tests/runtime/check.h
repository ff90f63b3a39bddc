/* check.h: the runtime tests' assertions, no framework (chibicc's ASSERT
 * spirit). A failed check prints file:line and what differed, and the test
 * goes on so that one run shows every failure; main returns check_status().
 * The failure counter is the tests' only mutable state.
 */
#ifndef CNNC_TEST_CHECK_H
#define CNNC_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

static inline void check_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    check_failures++;
}

#define CHECK(cond) \
    do { if (!(cond)) check_fail(__FILE__, __LINE__, #cond); } while (0)

#define CHECK_INT(got, want) \
    do { long long g_ = (got), w_ = (want); \
         if (g_ != w_) { fprintf(stderr, "  got %lld, want %lld\n", g_, w_); \
                         check_fail(__FILE__, __LINE__, #got " == " #want); } } while (0)

#define CHECK_STR(got, want) \
    do { const char *g_ = (got), *w_ = (want); \
         if (strcmp(g_, w_) != 0) { fprintf(stderr, "  got  \"%s\"\n  want \"%s\"\n", g_, w_); \
                                    check_fail(__FILE__, __LINE__, #got " == " #want); } } while (0)

/* |got - want| <= tol * max(1, |want|): absolute near 0, relative beyond. */
#define CHECK_NEAR(got, want, tol) \
    do { double g_ = (got), w_ = (want), t_ = (tol) * (fabs(w_) > 1 ? fabs(w_) : 1); \
         if (!(fabs(g_ - w_) <= t_)) { \
             fprintf(stderr, "  got %.9g, want %.9g\n", g_, w_); \
             check_fail(__FILE__, __LINE__, #got " ~ " #want); } } while (0)

/* n floats against n expected values, each as CHECK_NEAR. */
#define CHECK_FLOATS(got, want, n, tol) \
    do { for (int i_ = 0; i_ < (int)(n); i_++) { \
             double g_ = (got)[i_], w_ = (want)[i_], t_ = (tol) * (fabs(w_) > 1 ? fabs(w_) : 1); \
             if (!(fabs(g_ - w_) <= t_)) { \
                 fprintf(stderr, "  [%d]: got %.9g, want %.9g\n", i_, g_, w_); \
                 check_fail(__FILE__, __LINE__, #got " ~ " #want); break; } } } while (0)

static inline int check_status(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else
        printf("%s: all checks passed\n", name);
    return check_failures != 0;
}

#endif
