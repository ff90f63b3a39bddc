/* classify: the Fashion-MNIST network of examples/fashion.cnn, compiled by
 * cnnc into fashion.c/fashion.h at build time, as a command-line tool.
 *
 *   classify IMAGE.pgm      a 28x28 grey image, binary (P5) or text (P2) PGM
 *   classify IMAGE.f32      784 raw little-endian float32 pixels in [0, 1]
 *
 * prints the three likeliest classes with their probabilities. Pixels are
 * scaled as the network was trained (examples/fashion/train.py): pixel / 255.
 * Exit status 0 ok, 1 unreadable input, 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "fashion.h"

static const char *const class_names[FASHION_OUTPUT_SIZE] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

/* Skips blanks and '#' comments between PGM header fields. */
static int pgm_skip(FILE *f)
{
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == '#') {
            while ((c = getc(f)) != EOF && c != '\n')
                ;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return ungetc(c, f) == EOF ? -1 : 0;
        }
    }
    return -1;
}

static int pgm_int(FILE *f, int *v)
{
    return pgm_skip(f) == 0 && fscanf(f, "%d", v) == 1 ? 0 : -1;
}

/* A 28x28 PGM with maxval 255 into x, scaled to [0, 1]. */
static int read_pgm(FILE *f, float *x)
{
    char magic[3] = { 0 };
    int w, h, maxval, binary;
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '2'))
        return -1;
    binary = magic[1] == '5';
    if (pgm_int(f, &w) || pgm_int(f, &h) || pgm_int(f, &maxval) || w != 28 || h != 28 ||
        maxval != 255)
        return -1;
    if (binary && getc(f) == EOF)   /* the one blank after maxval */
        return -1;
    for (int i = 0; i < FASHION_INPUT_SIZE; i++) {
        int p = -1;
        if (binary)
            p = getc(f);
        else if (pgm_int(f, &p) != 0)
            return -1;
        if (p < 0 || p > 255)
            return -1;
        x[i] = (float)p / 255.0f;
    }
    return 0;
}

static int read_f32(FILE *f, float *x)
{
    unsigned char b[4];
    for (int i = 0; i < FASHION_INPUT_SIZE; i++) {
        unsigned long u;
        if (fread(b, 1, 4, f) != 4)
            return -1;
        u = (unsigned long)b[0] | (unsigned long)b[1] << 8 | (unsigned long)b[2] << 16 |
            (unsigned long)b[3] << 24;
        {
            unsigned int u32 = (unsigned int)u;
            memcpy(&x[i], &u32, sizeof x[i]);
        }
    }
    return getc(f) == EOF ? 0 : -1;
}

static int load(const char *path, float *x)
{
    size_t n = strlen(path);
    FILE *f = fopen(path, "rb");
    int rc;
    if (!f)
        return -1;
    rc = n > 4 && strcmp(path + n - 4, ".f32") == 0 ? read_f32(f, x) : read_pgm(f, x);
    fclose(f);
    return rc;
}

int main(int argc, char **argv)
{
    static float x[FASHION_INPUT_SIZE], y[FASHION_OUTPUT_SIZE];
    int shown[FASHION_OUTPUT_SIZE] = { 0 };
    if (argc != 2) {
        fprintf(stderr, "usage: classify IMAGE.pgm | IMAGE.f32\n");
        return 2;
    }
    if (load(argv[1], x) != 0) {
        fprintf(stderr, "%s: error: not a 28x28 PGM (maxval 255) or 784 float32 values\n", argv[1]);
        return 1;
    }
    fashion_run(x, y);
    for (int k = 0; k < 3; k++) {
        int best = -1;
        for (int i = 0; i < FASHION_OUTPUT_SIZE; i++)
            if (!shown[i] && (best < 0 || y[i] > y[best]))
                best = i;
        shown[best] = 1;
        printf("%d %-12s %.6f\n", best, class_names[best], (double)y[best]);
    }
    return 0;
}
