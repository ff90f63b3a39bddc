/* fuzz_npy.c: harness for the .npy reader (and writer).
 *
 * Input: any bytes, as the contents of a .npy file. npy_load() reads only
 * from a path, so the bytes go into an anonymous memory file (memfd) opened
 * by its /proc/self/fd path: no disk, nothing left behind. A refusal must
 * come with a one-line message. An accepted array must have as many values
 * as its shape says, and written again with npy_save() and loaded it must
 * come back identical, bit for bit.
 */
#define _GNU_SOURCE               /* memfd_create */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "readers.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* A memfd holding size bytes of data; its path in path. */
static int memfile(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
    int fd = memfd_create("fuzz.npy", 0);
    if (fd < 0)
        fuzz_fail("memfd_create failed");
    for (size_t at = 0; at < size;) {
        ssize_t k = write(fd, data + at, size - at);
        if (k <= 0)
            fuzz_fail("write to the memfd failed");
        at += (size_t)k;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

static void check_array(const NpyArray *a)
{
    long long n = 1;
    if (a->rank < 0 || a->rank > ST_MAX_RANK)
        fuzz_fail("array of rank %d", a->rank);
    for (int i = 0; i < a->rank; i++) {
        if (a->shape[i] < 0)
            fuzz_fail("negative dimension %lld", a->shape[i]);
        n *= a->shape[i];
    }
    if (n != a->numel || (n > 0 && !a->data))
        fuzz_fail("shape gives %lld elements, numel is %lld", n, a->numel);
}

static void check_roundtrip(const NpyArray *a)
{
    char path[64], err[512] = "";
    int fd = memfile(NULL, 0, path, sizeof path);
    if (npy_save(path, a->data, a->rank, a->shape, err, sizeof err) != 0)
        fuzz_fail("npy_save refused an array npy_load accepted: %s", err);
    NpyArray b;
    if (npy_load(path, &b, err, sizeof err) != 0)
        fuzz_fail("npy_load refused what npy_save wrote: %s", err);
    if (b.rank != a->rank || b.numel != a->numel ||
        memcmp(b.shape, a->shape, (size_t)a->rank * sizeof *a->shape) != 0 ||
        (a->numel && memcmp(b.data, a->data, (size_t)a->numel * sizeof *a->data) != 0))
        fuzz_fail("the array changed through npy_save/npy_load");
    npy_free(&b);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512] = "";
    int fd = memfile(data, size, path, sizeof path);
    NpyArray a;
    if (npy_load(path, &a, err, sizeof err) != 0) {
        if (!err[0] || strchr(err, '\n'))
            fuzz_fail("npy_load: the error message is empty or not one line: '%s'", err);
    } else {
        check_array(&a);
        check_roundtrip(&a);
        npy_free(&a);
    }
    close(fd);
    return 0;
}
