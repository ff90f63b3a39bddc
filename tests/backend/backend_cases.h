/* backend_cases.h: the table of hand-built graphs (backend_cases.c). */
#ifndef BACKEND_CASES_H
#define BACKEND_CASES_H

#include "backend_test.h"

typedef struct BackendCase {
    const char *name;            /* also the emitted prefix */
    void (*build)(TB *b);        /* builds the graph, sets input and output */
    float lo, hi;                /* input range */
    int specials;                /* sprinkle -inf, +inf, NaN, -0 into the input */
    int weights_extern;          /* emit extern weights; the test defines them */
} BackendCase;

extern const BackendCase backend_cases[];
extern const int backend_ncases;
const BackendCase *backend_case_find(const char *name);
void case_fashion(TB *b);

#endif
