/* test_backend.c: the emitted C against the reference interpreter.
 *
 *   test_backend run  MODE CC [CASE]   MODE: gcc, clang, tcc, asan, and
 *                                      opt_gcc, opt_native, opt_clang,
 *                                      opt_tcc, opt_asan
 *   test_backend warn MODE CC [CASE]   MODE: gcc, clang, tcc, opt_gcc,
 *                                      opt_clang, opt_tcc
 *
 * An opt_ mode first runs the optimizer's passes (fold_bn, fuse, pack,
 * pad, inplace) on a copy of the graph and emits that, so the fast kernels
 * are what gets compiled; the reference stays interp_run on the graph as
 * built. opt_native is gcc -O3 -march=native, with contraction into FMA.
 *
 * run: for each case of backend_cases.c, plan and emit the graph, compile it
 * with CC and a generated harness main, run it on a seeded input and compare
 * with interp_run (max-rel error <= 1e-5; bit-identical is expected and
 * reported). warn: compile every emitted file with the warning set of MODE
 * and -Werror. Files go to ./backend_<run|warn>_<MODE>/ (kept for reading).
 * A CC that is not installed makes the test skip (status 77) with a message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend_cases.h"

typedef struct Mode {
    const char *name;
    const char *model_flags;   /* for the emitted .c */
    const char *main_flags;    /* for the harness and the link */
} Mode;

#define SAN "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

static const Mode run_modes[] = {
    { "gcc", "-std=c99 -O2 -ffp-contract=off", "-std=c99 -O2" },
    { "clang", "-std=c99 -O2 -ffp-contract=off", "-std=c99 -O2" },
    { "tcc", "-Wall -Werror", "" },
    { "asan", "-std=c99 -O1 -g -ffp-contract=off " SAN, "-std=c99 -g " SAN },
    { "opt_gcc", "-std=c99 -O2 -ffp-contract=off", "-std=c99 -O2" },
    { "opt_native", "-O3 -march=native", "-O2" },
    { "opt_clang", "-std=c99 -O2 -ffp-contract=off", "-std=c99 -O2" },
    { "opt_tcc", "-Wall -Werror", "" },
    { "opt_asan", "-std=c99 -O1 -g -ffp-contract=off " SAN, "-std=c99 -g " SAN },
};

/* The warning sets the emitted C must pass. clang's -Weverything needs no
 * exceptions: the emitter declares nothing after a statement in a block. */
static const Mode warn_modes[] = {
    { "gcc", "-std=c99 -Wall -Wextra -pedantic -Werror -Wconversion -Wshadow", "" },
    { "gcc", "-std=c99 -O2 -Wall -Wextra -pedantic -Werror -Wconversion -Wshadow", "" },
    { "clang", "-std=c99 -Weverything -Werror", "" },
    { "tcc", "-Wall -Werror", "" },
};

static const char harness_text[] =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"@.h\"\n\n"
    "static int io(const char *path, float *p, size_t n, int wr)\n{\n"
    "    FILE *f = fopen(path, wr ? \"wb\" : \"rb\");\n"
    "    if (!f) return -1;\n"
    "    size_t k = wr ? fwrite(p, sizeof *p, n, f) : fread(p, sizeof *p, n, f);\n"
    "    return (fclose(f) != 0 || k != n) ? -1 : 0;\n}\n\n"
    "int main(int argc, char **argv)\n{\n"
    "    static const int in_shape[] = @@_INPUT_SHAPE, out_shape[] = @@_OUTPUT_SHAPE;\n"
    "    const size_t nin = @@_INPUT_SIZE, nout = @@_OUTPUT_SIZE, na = @@_ARENA_BYTES;\n"
    "    long pin = 1, pout = 1;\n"
    "    for (int i = 0; i < @@_INPUT_RANK; i++) pin *= in_shape[i];\n"
    "    for (int i = 0; i < @@_OUTPUT_RANK; i++) pout *= out_shape[i];\n"
    "    if (argc != 3 || pin != (long)nin || pout != (long)nout) return 2;\n"
    "    float *in = malloc(nin * sizeof *in), *copy = malloc(nin * sizeof *in);\n"
    "    float *out = malloc(nout * sizeof *out), *out2 = malloc(nout * sizeof *out);\n"
    "    void *arena = malloc(na ? na : 1);\n"
    "    if (!in || !copy || !out || !out2 || !arena) return 2;\n"
    "    /* NaN everywhere: a value read before it is written shows up. */\n"
    "    memset(arena, 0xff, na);\n"
    "    memset(out, 0xff, nout * sizeof *out);\n"
    "    memset(out2, 0xff, nout * sizeof *out);\n"
    "    if (io(argv[1], in, nin, 0)) return 2;\n"
    "    memcpy(copy, in, nin * sizeof *in);\n"
    "    @_run_ws(in, out, arena);\n"
    "    if (memcmp(in, copy, nin * sizeof *in)) { fputs(\"input modified\\n\", stderr); return 3; }\n"
    "    @_run(in, out2);\n"
    "    if (memcmp(out, out2, nout * sizeof *out)) { fputs(\"run != run_ws\\n\", stderr); return 3; }\n"
    "    @_run(in, out2);\n"
    "    if (memcmp(out, out2, nout * sizeof *out)) { fputs(\"second run differs\\n\", stderr); return 3; }\n"
    "    if (io(argv[2], out, nout, 1)) return 2;\n"
    "    free(in); free(copy); free(out); free(out2); free(arena);\n"
    "    return 0;\n}\n";

/* The harness with "@" replaced by the prefix and "@@" by its upper case. */
static void harness_write(Buf *b, const char *prefix)
{
    char up[128];
    size_t n = strlen(prefix);
    for (size_t i = 0; i <= n && i < sizeof up; i++)
        up[i] = (char)(prefix[i] >= 'a' && prefix[i] <= 'z' ? prefix[i] - 32 : prefix[i]);
    for (const char *s = harness_text; *s; s++) {
        if (s[0] == '@' && s[1] == '@')
            buf_puts(b, up), s++;
        else if (s[0] == '@')
            buf_puts(b, prefix);
        else
            buf_putc(b, *s);
    }
}

/* Defines the weights an extern-weights file declares, as hex floats. */
static void extern_weights_write(Buf *b, const Graph *g, const char *prefix)
{
    for (int t = 0; t < g->nt; t++) {
        if (g->t[t].role != TR_WEIGHT)
            continue;
        buf_printf(b, "extern const float %s_w%d[%lld];\nconst float %s_w%d[%lld] = {", prefix,
                   t, g->t[t].numel, prefix, t, g->t[t].numel);
        for (long long i = 0; i < g->t[t].numel; i++)
            buf_printf(b, "%s%af,", i % 6 ? " " : "\n   ", (double)g->t[t].data[i]);
        buf_puts(b, "\n};\n");
    }
}

static void input_make(const BackendCase *bc, float *x, long long n)
{
    static const float specials[4] = { -INFINITY, INFINITY, NAN, -0.0f };
    fill_uniform(x, n, 20240601u, bc->lo, bc->hi);
    if (bc->specials)
        for (long long i = 0; i < n; i += 5)
            x[i] = specials[(i / 5) % 4];
}

static int file_rw(const char *path, float *p, size_t n, int wr)
{
    FILE *f = fopen(path, wr ? "wb" : "rb");
    if (!f)
        return -1;
    size_t k = wr ? fwrite(p, sizeof *p, n, f) : fread(p, sizeof *p, n, f);
    return fclose(f) != 0 || k != n ? -1 : 0;
}

static int write_buf(const char *dir, const char *prefix, const char *suffix, const Buf *b)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s%s", dir, prefix, suffix);
    return write_file(path, b->data, b->len);
}

/* Writes the harness (and extern weights), compiles and links the model. */
static int build_exe(const Mode *m, const char *cc, const char *dir, const BackendCase *bc,
                     const Graph *g)
{
    Buf b, cmd;
    buf_init(&b);
    buf_init(&cmd);
    harness_write(&b, bc->name);
    int bad = write_buf(dir, bc->name, "_main.c", &b);
    b.len = 0;
    if (bc->weights_extern) {
        extern_weights_write(&b, g, bc->name);
        bad |= write_buf(dir, bc->name, "_weights.c", &b);
    }
    buf_printf(&cmd, "%s %s -c %s/%s.c -o %s/%s.o && %s %s -I%s %s/%s_main.c %s/%s.o", cc,
               m->model_flags, dir, bc->name, dir, bc->name, cc, m->main_flags, dir, dir,
               bc->name, dir, bc->name);
    if (bc->weights_extern)
        buf_printf(&cmd, " %s/%s_weights.c", dir, bc->name);
    buf_printf(&cmd, " -o %s/%s.exe -lm", dir, bc->name);
    if (!bad && run_cmd(cmd.data) != 0) {
        fprintf(stderr, "FAIL %s: build failed: %s\n", bc->name, cmd.data);
        bad = 1;
    }
    buf_free(&b);
    buf_free(&cmd);
    return bad ? 1 : 0;
}

/* Runs the built model and interp_run on one input; compares. */
static void run_compare(const char *dir, const BackendCase *bc, const Graph *g)
{
    const long long nin = g->t[g->input].numel, nout = g->t[g->output].numel;
    float *x = malloc((size_t)nin * sizeof *x), *ref = malloc((size_t)nout * sizeof *ref);
    float *got = malloc((size_t)nout * sizeof *got);
    char cmd[2048], in[512], out[512];
    snprintf(in, sizeof in, "%s/%s.in", dir, bc->name);
    snprintf(out, sizeof out, "%s/%s.out", dir, bc->name);
    snprintf(cmd, sizeof cmd, "./%s/%s.exe %s %s", dir, bc->name, in, out);
    CHECK_OR(x && ref && got, goto done);
    input_make(bc, x, nin);
    CHECK_OR(file_rw(in, x, (size_t)nin, 1) == 0, goto done);
    CHECK_OR(interp_run(g, x, ref) == 0, goto done);
    CHECK_OR(run_cmd(cmd) == 0 && file_rw(out, got, (size_t)nout, 0) == 0,
             { fprintf(stderr, "  %s: %s failed\n", bc->name, cmd); goto done; });
    long long ndiff;
    double err = rel_error(ref, got, nout, &ndiff);
    printf("%s %-18s %6lld outputs, max-rel %.3g, %lld not bit-identical\n",
           err <= 1e-5 ? "ok  " : "FAIL", bc->name, nout, err, ndiff);
    CHECK_OR(err <= 1e-5, fprintf(stderr, "  %s: max-rel error %.3g\n", bc->name, err));
done:
    free(x);
    free(ref);
    free(got);
}

static int is_opt(const char *mode)
{
    return strncmp(mode, "opt_", 4) == 0;
}

/* Builds the case's graph into b (the same every time: seeded); the passes
 * run in plan_and_emit. */
static void case_build(TB *b, const BackendCase *bc)
{
    tb_init(b, bc->name, 1000u + (unsigned)(bc - backend_cases));
    bc->build(b);
}

static void case_run(const Mode *m, const char *cc, const char *dir, const BackendCase *bc)
{
    TB b, ref;
    case_build(&b, bc);
    case_build(&ref, bc);
    CHECK_OR(plan_and_emit(b.g, &b.ctx, dir, bc->name, bc->weights_extern, is_opt(m->name)) == 0,
             goto done);
    CHECK_OR(build_exe(m, cc, dir, bc, b.g) == 0, goto done);
    run_compare(dir, bc, ref.g);
done:
    tb_free(&b);
    tb_free(&ref);
}

/* Compiles the emitted file with every warning set of this tool. */
static void case_warn(const char *mode, const char *cc, const char *dir, const BackendCase *bc)
{
    TB b;
    const char *tool = is_opt(mode) ? mode + 4 : mode;
    case_build(&b, bc);
    CHECK_OR(plan_and_emit(b.g, &b.ctx, dir, bc->name, bc->weights_extern, is_opt(mode)) == 0,
             goto done);
    for (size_t i = 0; i < sizeof warn_modes / sizeof warn_modes[0]; i++) {
        if (strcmp(warn_modes[i].name, tool) != 0)
            continue;
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s %s -c %s/%s.c -o %s/%s.o", cc, warn_modes[i].model_flags,
                 dir, bc->name, dir, bc->name);
        int rc = run_cmd(cmd);
        printf("%s %-18s %s\n", rc ? "FAIL" : "ok  ", bc->name, warn_modes[i].model_flags);
        CHECK_OR(rc == 0, fprintf(stderr, "  %s\n", cmd));
    }
done:
    tb_free(&b);
}

static int tool_exists(const char *cc)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", cc);
    return cc[0] && run_cmd(cmd) == 0;
}

static const Mode *mode_find(const char *name)
{
    for (size_t i = 0; i < sizeof run_modes / sizeof run_modes[0]; i++)
        if (strcmp(run_modes[i].name, name) == 0)
            return &run_modes[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "run") && strcmp(argv[1], "warn"))) {
        fprintf(stderr, "usage: test_backend run|warn MODE CC [CASE]\n");
        return 2;
    }
    const int warn = strcmp(argv[1], "warn") == 0;
    const Mode *m = mode_find(argv[2]);
    const char *cc = argv[3];
    if (!m) {
        fprintf(stderr, "unknown mode '%s'\n", argv[2]);
        return 2;
    }
    if (!tool_exists(cc)) {
        printf("SKIP: compiler '%s' for mode %s is not installed\n", cc, argv[2]);
        return SKIP_STATUS;
    }
    char dir[256];
    snprintf(dir, sizeof dir, "backend_%s_%s", argv[1], argv[2]);
    mkdir(dir, 0777);
    int failed = 0, ran = 0;
    for (int i = 0; i < backend_ncases; i++) {
        const BackendCase *bc = &backend_cases[i];
        if (argc > 4 && strcmp(argv[4], bc->name) != 0)
            continue;
        const int failed_before = check_failures;
        ran++;
        if (warn)
            case_warn(argv[2], cc, dir, bc);
        else
            case_run(m, cc, dir, bc);
        if (check_failures != failed_before) {
            fprintf(stderr, "FAIL %s\n", bc->name);
            failed++;
        }
    }
    printf("%d of %d cases failed (files in %s/)\n", failed, ran, dir);
    CHECK_OR(ran > 0, fprintf(stderr, "  no case named '%s'\n", argv[4]));
    return check_status("test_backend");
}
