/* fuzz_safetensors.c: harness for the safetensors reader (and writer).
 *
 * Input: any bytes, read as a .safetensors file with st_parse(). A refusal
 * must come with a one-line message. An accepted file must describe tensors
 * that lie inside it, sized as their shape and dtype say, findable by name;
 * its F32 tensors must read back as their bytes, and written again with
 * st_save() and loaded with st_load() they must come back identical.
 */
#define _GNU_SOURCE               /* memfd_create */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "readers.h"

/* Floats written back, at most; tensors looked up by name (st_find is a
 * linear search: all of a 100,000-tensor replay would take minutes). */
enum { FUZZ_ST_MAX_ROUNDTRIP = 1 << 20, FUZZ_ST_MAX_FIND = 256 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_message(const char *what, const char *err)
{
    if (!err[0] || strchr(err, '\n'))
        fuzz_fail("%s: the error message is empty or not one line: '%s'", what, err);
}

static int dtype_bytes(const char *dt)
{
    static const char *const one[] = { "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" };
    static const char *const two[] = { "F16", "BF16", "I16", "U16" };
    static const char *const four[] = { "F32", "I32", "U32" };
    static const char *const eight[] = { "F64", "I64", "U64" };
    for (size_t i = 0; i < sizeof one / sizeof *one; i++)
        if (!strcmp(dt, one[i]))
            return 1;
    for (size_t i = 0; i < sizeof two / sizeof *two; i++)
        if (!strcmp(dt, two[i]))
            return 2;
    for (size_t i = 0; i < sizeof four / sizeof *four; i++)
        if (!strcmp(dt, four[i]))
            return 4;
    for (size_t i = 0; i < sizeof eight / sizeof *eight; i++)
        if (!strcmp(dt, eight[i]))
            return 8;
    return 0;
}

static void check_tensor(const StFile *f, const StTensor *t)
{
    long long numel = 1;
    if (!t->name || !t->name[0] || t->rank < 0 || t->rank > ST_MAX_RANK)
        fuzz_fail("tensor with an empty name or rank %d", t->rank);
    for (int d = 0; d < t->rank; d++)
        numel *= t->shape[d];
    int size = dtype_bytes(t->dtype);
    if (size == 0 || numel != t->numel || (size_t)numel * (size_t)size != t->nbytes)
        fuzz_fail("tensor '%s': dtype %s, numel %lld, %zu bytes do not agree", t->name,
                  t->dtype, t->numel, t->nbytes);
    if (t->nbytes && (t->data < f->buf || t->data + t->nbytes > f->buf + f->size))
        fuzz_fail("tensor '%s' lies outside the file", t->name);
    if (t - f->tensors < FUZZ_ST_MAX_FIND && st_find(f, t->name) != t)
        fuzz_fail("st_find('%s') does not find it", t->name);
}

/* st_read_f32 gives the little-endian bytes as floats (the host is LE). */
static void check_f32_read(const StTensor *t)
{
    float *v = malloc((size_t)t->numel * sizeof *v + 1);
    if (!v)
        fuzz_fail("out of memory");
    st_read_f32(t, v);
    if (t->numel && memcmp(v, t->data, t->nbytes) != 0)
        fuzz_fail("tensor '%s': st_read_f32 differs from the file's bytes", t->name);
    free(v);
}

/* ---- the round trip through st_save and st_load ---- */

typedef struct F32Set {
    int n;
    const char **names;
    int *ranks;
    const long long **shapes;
    const float **data;
    float **owned;
} F32Set;

static void set_free(F32Set *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->owned[i]);
    free(s->names);
    free(s->ranks);
    free(s->shapes);
    free(s->data);
    free(s->owned);
}

/* The F32 tensors of f, read into floats; -1 when too many floats. */
static int set_collect(const StFile *f, F32Set *s)
{
    size_t cap = (size_t)f->ntensors + 1;
    long long total = 0;
    memset(s, 0, sizeof *s);
    s->names = calloc(cap, sizeof *s->names);
    s->ranks = calloc(cap, sizeof *s->ranks);
    s->shapes = calloc(cap, sizeof *s->shapes);
    s->data = calloc(cap, sizeof *s->data);
    s->owned = calloc(cap, sizeof *s->owned);
    if (!s->names || !s->ranks || !s->shapes || !s->data || !s->owned)
        fuzz_fail("out of memory");
    for (int i = 0; i < f->ntensors; i++) {
        const StTensor *t = &f->tensors[i];
        if (strcmp(t->dtype, "F32") != 0)
            continue;
        if ((total += t->numel) > FUZZ_ST_MAX_ROUNDTRIP)
            return -1;
        float *v = malloc((size_t)t->numel * sizeof *v + 1);
        if (!v)
            fuzz_fail("out of memory");
        st_read_f32(t, v);
        s->names[s->n] = t->name;
        s->ranks[s->n] = t->rank;
        s->shapes[s->n] = t->shape;
        s->data[s->n] = v;
        s->owned[s->n++] = v;
    }
    return 0;
}

static void check_reloaded(const F32Set *s, const StFile *g)
{
    if (g->ntensors != s->n)
        fuzz_fail("saved %d tensors, loaded %d", s->n, g->ntensors);
    for (int i = 0; i < s->n && i < FUZZ_ST_MAX_FIND; i++) {
        const StTensor *t = st_find(g, s->names[i]);
        if (!t || t->rank != s->ranks[i] || strcmp(t->dtype, "F32") != 0)
            fuzz_fail("tensor '%s' did not survive st_save/st_load", s->names[i]);
        if (memcmp(t->shape, s->shapes[i], (size_t)t->rank * sizeof *t->shape) != 0 ||
            (t->nbytes && memcmp(t->data, s->data[i], t->nbytes) != 0))
            fuzz_fail("tensor '%s' changed through st_save/st_load", s->names[i]);
    }
}

static void check_roundtrip(const StFile *f)
{
    F32Set s;
    if (set_collect(f, &s) == 0) {
        int fd = memfd_create("fuzz.safetensors", 0);
        if (fd < 0)
            fuzz_fail("memfd_create failed");
        char path[64], err[512];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (st_save(path, s.n, s.names, s.ranks, s.shapes, s.data, err, sizeof err) != 0)
            fuzz_fail("st_save refused tensors st_parse accepted: %s", err);
        StFile g;
        if (st_load(path, &g, err, sizeof err) != 0)
            fuzz_fail("st_load refused what st_save wrote: %s", err);
        check_reloaded(&s, &g);
        st_free(&g);
        close(fd);
    }
    set_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    StFile f;
    char err[512] = "";
    if (st_parse(data, size, &f, err, sizeof err) != 0) {
        check_message("st_parse", err);
        return 0;
    }
    for (int i = 0; i < f.ntensors; i++) {
        check_tensor(&f, &f.tensors[i]);
        if (strcmp(f.tensors[i].dtype, "F32") == 0)
            check_f32_read(&f.tensors[i]);
    }
    check_roundtrip(&f);
    st_free(&f);
    return 0;
}
