/* Classifies Fashion-MNIST images with the C that cnnc generated from
 * examples/fashion.cnn (fashion.h: fashion_run), and prints the accuracy, the
 * time per image, the arena size and the size of the embedded weights.
 *
 * Consumes the idx files of Debian's dataset-fashion-mnist as shipped
 * (gzip'd; zlib's gzread reads plain idx files too), so nothing is unpacked.
 * Pixels are normalized exactly as examples/fashion/train.py trained them:
 * (float)pixel / 255.0f, one correctly rounded float division.
 * --dump FILE writes each image's FASHION_OUTPUT_SIZE probabilities as raw
 * native floats, for tests/fashion to compare with PyTorch.
 */
#include "fashion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define IDX_MAX_DIMS 3
#define IDX_MAX_COUNT 1000000UL

typedef struct Idx {
    unsigned long dim[IDX_MAX_DIMS];
    int ndim;
    unsigned char *data;  /* dim[0] * ... * dim[ndim-1] bytes */
} Idx;

typedef struct Options {
    const char *images, *labels, *dump, *weights, *save_npy;
    unsigned long first, count;  /* count 0: to the end */
} Options;

static const char *const class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
           (unsigned long)p[2] << 8 | (unsigned long)p[3];
}

static int gz_read_exact(gzFile f, void *buf, unsigned long n)
{
    return gzread(f, buf, (unsigned)n) == (int)n;
}

/* The header: magic 0x000008NN (unsigned bytes, NN dims), then NN big-endian
 * sizes. Returns the element count, or 0 for a malformed header. */
static unsigned long idx_read_header(gzFile f, Idx *idx, int ndim)
{
    unsigned char b[4 + 4 * IDX_MAX_DIMS];
    unsigned long total = 1;
    if (!gz_read_exact(f, b, 4 + 4 * (unsigned long)ndim) || be32(b) != 0x800UL + (unsigned)ndim)
        return 0;
    idx->ndim = ndim;
    for (int i = 0; i < ndim; ++i) {
        idx->dim[i] = be32(b + 4 + 4 * i);
        if (idx->dim[i] == 0 || idx->dim[i] > IDX_MAX_COUNT || total > IDX_MAX_COUNT * 784 / idx->dim[i])
            return 0;
        total *= idx->dim[i];
    }
    return total;
}

/* Reads a whole idx file of ndim dimensions; returns 0 on success, else
 * prints why and returns -1. */
static int idx_load(const char *path, int ndim, Idx *idx)
{
    gzFile f = gzopen(path, "rb");
    unsigned long n;
    if (!f) {
        fprintf(stderr, "fashion_demo: cannot open %s\n", path);
        return -1;
    }
    n = idx_read_header(f, idx, ndim);
    idx->data = n ? malloc(n) : NULL;
    if (!idx->data || !gz_read_exact(f, idx->data, n) || gzgetc(f) != -1) {
        fprintf(stderr, "fashion_demo: %s: not a %d-dimensional idx file of unsigned bytes "
                        "(or truncated, or too long)\n", path, ndim);
        free(idx->data);
        idx->data = NULL;
        gzclose(f);
        return -1;
    }
    gzclose(f);
    return 0;
}

/* Bytes of tensor data in a safetensors file: its size minus the 8-byte
 * length and the JSON header. cnnc embeds exactly these (all F32). */
static long weights_bytes(const char *path)
{
    unsigned char b[8];
    unsigned long long hlen = 0;
    long size;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    if (fread(b, 1, 8, f) != 8 || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 8) {
        fclose(f);
        return -1;
    }
    fclose(f);
    for (int i = 7; i >= 0; --i)
        hlen = hlen << 8 | b[i];
    return hlen > (unsigned long long)size - 8 ? -1 : size - 8 - (long)hlen;
}

static double now_us(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int argmax(const float *p, int n)
{
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (p[i] > p[best])
            best = i;
    return best;
}

static void normalize(const unsigned char *pixels, float *x)
{
    for (int i = 0; i < FASHION_INPUT_SIZE; ++i)
        x[i] = (float)pixels[i] / 255.0f;  /* as train.py: float32 x / 255 */
}

/* Classifies images [first, first+count); counts hits per class in
 * hits[c] / seen[c]; returns the microseconds spent inside fashion_run. */
static double classify(const Idx *images, const Idx *labels, const Options *o,
                       FILE *dump, unsigned long hits[10], unsigned long seen[10])
{
    static float x[FASHION_INPUT_SIZE], y[FASHION_OUTPUT_SIZE];
    double spent = 0;
    for (unsigned long i = o->first; i < o->first + o->count; ++i) {
        double t0;
        int label = labels->data[i];
        normalize(images->data + i * FASHION_INPUT_SIZE, x);
        t0 = now_us();
        fashion_run(x, y);
        spent += now_us() - t0;
        seen[label]++;
        hits[label] += argmax(y, FASHION_OUTPUT_SIZE) == label;
        if (dump)
            fwrite(y, sizeof y, 1, dump);
    }
    return spent;
}

static void print_report(const Options *o, double spent, const unsigned long hits[10],
                         const unsigned long seen[10])
{
    unsigned long total = 0;
    long wb = o->weights ? weights_bytes(o->weights) : -1;
    printf("Fashion-MNIST: images %lu..%lu of %s\n", o->first, o->first + o->count - 1, o->images);
    for (int c = 0; c < 10; ++c) {
        total += hits[c];
        if (seen[c])
            printf("  %-12s %5.1f%%  (%lu/%lu)\n", class_names[c], 100.0 * hits[c] / seen[c],
                   hits[c], seen[c]);
    }
    printf("accuracy:  %.2f%%  (%lu of %lu correct)\n", 100.0 * total / o->count, total, o->count);
    printf("time:      %.1f us per image  (fashion_run only, %.2f s in all)\n",
           spent / o->count, spent / 1e6);
    printf("arena:     %lu bytes  (FASHION_ARENA_BYTES)\n", (unsigned long)FASHION_ARENA_BYTES);
#ifdef FASHION_QUANTIZED
    printf("weights:   %ld bytes  (int8 weights; int32 biases, multipliers and shifts; "
           "static const in the binary)\n", (long)FASHION_INT8_WEIGHT_BYTES);
    if (wb > 0)
        printf("float:     %ld bytes of float32 weights: int8 takes %.2f%% of them\n", wb,
               100.0 * (double)FASHION_INT8_WEIGHT_BYTES / (double)wb);
#else
    if (wb >= 0)
        printf("weights:   %ld bytes  (%ld float32 parameters, static const in the binary)\n",
               wb, wb / 4);
#endif
}

static int close_dump(FILE *dump, const char *path)
{
    int err = ferror(dump);
    if (fclose(dump) != 0 || err) {
        fprintf(stderr, "fashion_demo: error writing %s\n", path);
        return -1;
    }
    return 0;
}

/* --save-npy: images [first, first+count) normalized as classify() feeds
 * them, as a float32 .npy of shape [count, 1, 28, 28] in the host's byte
 * order: the calibration data of cnnc
 * --quantize int8 (examples/CMakeLists.txt, make demo-int8). */
static int save_npy(const Idx *images, const Options *o)
{
    static float x[FASHION_INPUT_SIZE];
    const unsigned one = 1;
    char header[128];
    int n = snprintf(header, sizeof header, "{'descr': '%cf4', 'fortran_order': False, "
                     "'shape': (%lu, 1, 28, 28), }", *(const char *)&one ? '<' : '>', o->count);
    FILE *f = fopen(o->save_npy, "wb");
    if (!f || n < 0 || n > 117) {
        fprintf(stderr, "fashion_demo: cannot write %s\n", o->save_npy);
        if (f)
            fclose(f);
        return -1;
    }
    while (n % 64 != 53)        /* magic, version, length: 10 bytes; '\n' ends it */
        header[n++] = ' ';
    header[n++] = '\n';
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(n & 0xff, f);
    fputc(n >> 8, f);
    fwrite(header, 1, (size_t)n, f);
    for (unsigned long i = o->first; i < o->first + o->count; ++i) {
        normalize(images->data + i * FASHION_INPUT_SIZE, x);
        fwrite(x, sizeof x, 1, f);
    }
    return close_dump(f, o->save_npy);
}

static int usage(void)
{
    fprintf(stderr, "usage: fashion_demo IMAGES.idx[.gz] LABELS.idx[.gz] [--first N] [--count N]\n"
                    "                    [--weights FILE.safetensors] [--dump PROBS.f32]\n"
                    "                    [--save-npy IMAGES.npy]\n");
    return 2;
}

/* Returns 0, or -1 for an unknown option or a missing value. */
static int parse_args(int argc, char **argv, Options *o)
{
    int pos = 0;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--first") == 0 && has_value)
            o->first = strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--count") == 0 && has_value)
            o->count = strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--dump") == 0 && has_value)
            o->dump = argv[++i];
        else if (strcmp(a, "--weights") == 0 && has_value)
            o->weights = argv[++i];
        else if (strcmp(a, "--save-npy") == 0 && has_value)
            o->save_npy = argv[++i];
        else if (a[0] != '-' && pos < 2)
            *(pos++ == 0 ? &o->images : &o->labels) = a;
        else
            return -1;
    }
    return pos == 2 ? 0 : -1;
}

/* Both files loaded and consistent, and [first, first+count) within them. */
static int check_data(const Idx *images, const Idx *labels, Options *o)
{
    unsigned long n = labels->dim[0];
    if (images->dim[0] != n || images->dim[1] * images->dim[2] != FASHION_INPUT_SIZE) {
        fprintf(stderr, "fashion_demo: %lu images of %lux%lu and %lu labels; expected 28x28 images, "
                        "one label each\n", images->dim[0], images->dim[1], images->dim[2], n);
        return -1;
    }
    for (unsigned long i = 0; i < n; ++i)
        if (labels->data[i] >= 10) {
            fprintf(stderr, "fashion_demo: label %lu is %d, not 0..9\n", i, labels->data[i]);
            return -1;
        }
    if (o->count == 0 && o->first < n)
        o->count = n - o->first;
    if (o->first >= n || o->count > n - o->first) {
        fprintf(stderr, "fashion_demo: --first %lu --count %lu: not within the %lu images\n",
                o->first, o->count, n);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    Options o;
    Idx images = {0}, labels = {0};
    unsigned long hits[10] = {0}, seen[10] = {0};
    FILE *dump = NULL;
    int rc = 1;
    if (parse_args(argc, argv, &o) != 0)
        return usage();
    if (idx_load(o.images, 3, &images) == 0 && idx_load(o.labels, 1, &labels) == 0 &&
        check_data(&images, &labels, &o) == 0) {
        if (o.save_npy)
            rc = save_npy(&images, &o) != 0;
        else if (o.dump && !(dump = fopen(o.dump, "wb")))
            fprintf(stderr, "fashion_demo: cannot write %s\n", o.dump);
        else {
            double spent = classify(&images, &labels, &o, dump, hits, seen);
            print_report(&o, spent, hits, seen);
            rc = dump && close_dump(dump, o.dump) != 0;
        }
    }
    free(images.data);
    free(labels.data);
    return rc;
}
