/* cnnc.h: the public embedding API of libcnnc.
 *
 * Every name here starts with cnnc_. The library never prints and never
 * exits: diagnostics reach the embedder through a callback.
 */
#ifndef CNNC_H
#define CNNC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CNNC_VERSION "0.1.0"

typedef enum { CNNC_ERROR, CNNC_WARNING, CNNC_NOTE } cnnc_severity;

/* One diagnostic. `text` is the complete rendering, as the CLI prints it:
 * "file:line:col: error: message\n<source line>\n<caret line>\n". */
typedef struct cnnc_diag {
    cnnc_severity severity;
    const char *file;     /* path as given; NULL for errors with no file */
    int line, col;        /* 1-based; 0 when the error has no location */
    const char *message;  /* the message alone */
    const char *text;     /* the full rendering, ends in '\n' */
} cnnc_diag;

typedef void (*cnnc_diag_fn)(void *user, const cnnc_diag *diag);

#ifdef __cplusplus
}
#endif

#endif
