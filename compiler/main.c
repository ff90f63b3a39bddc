/* main.c: the cnnc command line (docs/cli.md), a thin client of cnnc.h.
 * The only file that prints to the terminal or exits. Exit status: 0 ok,
 * 1 error in the user's input (or a failed --check), 2 usage error.
 *
 *   cnnc MODEL.cnn -o OUT.c [--name PREFIX] [-O0]    compile to OUT.c + OUT.h
 *            [--emit-test T.c] [--ram-budget B] [--flash-budget B] [--weights F]
 *   cnnc MODEL.cnn --summary | --emit ir|dot [-o F] | --print-after PASS
 *   cnnc MODEL.onnx -o OUT.c ...                     the same from ONNX (docs/onnx.md)
 *   cnnc import MODEL.onnx -o OUT.cnn                 write the imported .cnn + weights
 *   cnnc run MODEL.cnn --input X.npy|X.f32|random [--seed N] [--output Y.npy]
 *            [--top K] [--interp | --check] [--bench N]
 *   cnnc --help | --version
 *
 * `run` JIT-compiles the model with libtcc (or interprets it), reads the
 * input (.npy through readers.h, raw .f32, or seeded random values), prints
 * the output and the time per inference.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime, getpid */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"      /* is_c_identifier: --name is checked before loading */
#include "cnnc.h"
#include "readers.h"

enum { EXIT_USER = 1, EXIT_USAGE = 2, MAX_PRINTED = 20 };

#define CHECK_TOLERANCE 1e-5   /* max |jit - interp| / max |interp| */

static const char usage_text[] =
    "usage: cnnc MODEL.cnn|MODEL.onnx -o OUT.c [--name PREFIX] [-O0] [--target NAME]\n"
    "       cnnc import MODEL.onnx -o OUT.cnn\n"
    "       cnnc MODEL.cnn -o OUT.c [--emit-test TEST.c] [--ram-budget BYTES]\n"
    "                [--flash-budget BYTES] [--weights bytes|hex|file]\n"
    "       cnnc MODEL.cnn -o OUT.c --quantize int8 --calibrate CAL.npy\n"
    "       cnnc MODEL.cnn --summary | --emit ir|dot [-o FILE] | --print-after PASS\n"
    "       cnnc run MODEL.cnn --input X.npy|X.f32|random [--seed N] [--output Y.npy]\n"
    "                [--top K] [--interp | --check] [--bench N]\n"
    "       cnnc --help | --version | --print-targets\n"
    "\n"
    "Compile a .cnn model to standalone C99: OUT.c and OUT.h, with\n"
    "<PREFIX>_run(input, output). PREFIX defaults to the model's name\n"
    "(for an ONNX file: its base name). 'import' writes the .cnn text and\n"
    "the .safetensors weights that an ONNX file becomes (docs/onnx.md).\n"
    "\n"
    "options:\n"
    "  -o OUT.c        output file; the header is written beside it as OUT.h\n"
    "  --name PREFIX   prefix of the generated names (a C identifier)\n"
    "  -O0, --no-opt   skip optimizations (fusion), for debugging\n"
    "  --target NAME   the machine the C is for: auto (default: portable C plus\n"
    "                  SIMD variants picked at run time), generic, x86-64-v3,\n"
    "                  x86-64-v4, aarch64, cortex-m; --print-targets lists them\n"
    "  --dump-ast      print the parsed model and stop\n"
    "  --dump-ir       print the optimized IR and stop\n"
    "  --emit KIND     c (default), ir (the IR as text) or dot (Graphviz); ir and\n"
    "                  dot go to -o FILE, or to stdout without -o\n"
    "  --summary       print a table of the layers: output shapes with their\n"
    "                  formula, parameters, MACs, bytes; totals; RAM and flash\n"
    "  --print-after PASS  print the IR after PASS (lower, dce, fuse, ..., plan)\n"
    "  --emit-test TEST.c  also write a self-test program for OUT.c: inputs and\n"
    "                  the interpreter's outputs; -DCNNC_TRACE checks every layer\n"
    "  --ram-budget BYTES    fail if arena + input + output exceed BYTES\n"
    "  --flash-budget BYTES  fail if the weights exceed BYTES (K, M suffixes: KiB, MiB)\n"
    "  --weights FORM  how OUT.c stores the weights: bytes (default; little-endian,\n"
    "                  fastest to compile), hex (integers, any byte order), or file:\n"
    "                  not in the C but in OUT.weights, passed to the run functions\n"
    "  --quantize int8 post-training int8 quantization (also for run): int8 weights\n"
    "                  and activations, scales from --calibrate (docs/quantization.md)\n"
    "  --calibrate CAL.npy  N float32 input samples, [N, ...input shape] or [N, size]\n"
    "\n"
    "run: compile the model in memory with libtcc and run it now\n"
    "  --input X.npy   float32 array shaped as the input (or flat)\n"
    "  --input X.f32   raw little-endian float32 values, exactly the input's count\n"
    "  --input random  uniform values in [-1, 1) from --seed N (default 0)\n"
    "  --output Y.npy  write the result as a float32 array\n"
    "  --top K         print the K largest outputs with their indices\n"
    "  --interp        use the reference interpreter instead of the JIT\n"
    "  --check         run both, print the max abs and rel error, exit 1 over 1e-5\n"
    "  --bench N       time N runs after a warm-up: median and min\n"
    "\n"
    "examples:\n"
    "  cnnc examples/fashion.cnn -o fashion.c\n"
    "  cnnc examples/fashion.cnn --summary\n"
    "  cnnc examples/fashion.cnn --emit dot | dot -Tsvg > fashion.svg\n"
    "  cnnc examples/fashion.cnn -o fashion.c --emit-test fashion_test.c --ram-budget 256K\n"
    "  cnnc run examples/fashion.cnn --input random --top 3\n"
    "  cnnc run examples/fashion.cnn --input image.npy --check\n"
    "\n"
    "exit status: 0 ok, 1 an error in the model, its weights or an input file\n"
    "(or a failed --check, or a budget exceeded), 2 a usage error.\n";

typedef struct Options {
    int run;
    int import;                  /* cnnc import MODEL.onnx -o OUT.cnn */
    int interp, check;
    int no_opt;
    int dump_ast, dump_ir;
    int summary;
    const char *emit;            /* --emit: "c", "ir", "dot"; NULL: c */
    const char *print_after, *emit_test;
    cnnc_weights_form weights;   /* --weights: bytes (0) or hex */
    unsigned long long ram_budget, flash_budget;   /* 0: none */
    const char *compile_only;    /* first compile-only option seen */
    long top, bench;
    unsigned long long seed;
    const char *model, *out, *name, *input, *output;
    const char *target;          /* --target, NULL: auto */
    const char *quantize, *calibrate;   /* --quantize int8, --calibrate CAL.npy */
    const char *run_only;        /* first run-only option seen, for the usage error */
    char *stdin_text;            /* the model when it is "-": read once, NUL-terminated */
    const char *weights_file;    /* the loaded model's weights file, or NULL */
} Options;

static void print_diag(void *user, const cnnc_diag *d)
{
    (void)user;
    fputs(d->text, stderr);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(run 'cnnc --help' for usage)\n");
    return EXIT_USAGE;
}

/* A user-input error about a file as a whole: "path: error: message". */
static int file_error(const char *path, const char *msg)
{
    fprintf(stderr, "%s: error: %s\n", path, msg);
    return EXIT_USER;
}

/* ---- the command line ---- */

/* Flags that take a value: returns the value and advances *i. */
static const char *flag_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

/* A decimal integer in [lo, hi]; 0 ok, -1 otherwise. */
static int parse_count(const char *s, long lo, long hi, long *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (!*s || *end || errno || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

/* The options with a numeric value: --top, --bench, --seed. */
static int parse_number(const char *flag, const char *val, Options *o)
{
    long v;
    if (strcmp(flag, "--seed") == 0) {
        if (parse_count(val, 0, LONG_MAX, &v) != 0)
            return usage_error("--seed needs a non-negative integer, not '%s'", val);
        o->seed = (unsigned long long)v;
    } else if (parse_count(val, 1, 1000000000L, &v) != 0) {
        return usage_error(strcmp(flag, "--top") == 0 ? "--top needs a positive integer, not '%s'"
                                                       : "--bench needs a positive integer, not '%s'",
                           val);
    } else if (strcmp(flag, "--top") == 0) {
        o->top = v;
    } else {
        o->bench = v;
    }
    return 0;
}

static int is_run_only(const char *a)
{
    static const char *const flags[] = { "--input", "--output", "--interp", "--check",
                                         "--top", "--bench", "--seed" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(a, flags[i]) == 0)
            return 1;
    return 0;
}

/* BYTES, or with a K (KiB) or M (MiB) suffix; at least 1. 0 ok, -1 not. */
static int parse_bytes(const char *s, unsigned long long *v)
{
    char *end;
    unsigned long long unit = 1;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end == 'K' || *end == 'k')
        unit = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        unit = 1024 * 1024, end++;
    if (*end || errno || x == 0 || x > ULLONG_MAX / unit)
        return -1;
    *v = x * unit;
    return 0;
}

static int unknown_pass(const char *name)
{
    fprintf(stderr, "cnnc: unknown pass '%s' for --print-after; the passes are:", name);
    for (int i = 0; cnnc_pass_name(i); i++)
        fprintf(stderr, " %s", cnnc_pass_name(i));
    fprintf(stderr, "\n(run 'cnnc --help' for usage)\n");
    return EXIT_USAGE;
}

static int is_pass(const char *name)
{
    for (int i = 0; cnnc_pass_name(i); i++)
        if (strcmp(name, cnnc_pass_name(i)) == 0)
            return 1;
    return 0;
}

/* The value of one of the compile form's valued options. */
static int set_compile_value(Options *o, const char *flag, const char *v)
{
    if (strcmp(flag, "--emit") == 0) {
        if (strcmp(v, "c") != 0 && strcmp(v, "ir") != 0 && strcmp(v, "dot") != 0)
            return usage_error("--emit takes c, ir or dot, not '%s'", v);
        o->emit = v;
    } else if (strcmp(flag, "--print-after") == 0) {
        if (!is_pass(v))
            return unknown_pass(v);
        o->print_after = v;
    } else if (strcmp(flag, "--emit-test") == 0) {
        o->emit_test = v;
    } else if (strcmp(flag, "--weights") == 0) {
        if (strcmp(v, "bytes") != 0 && strcmp(v, "hex") != 0 && strcmp(v, "file") != 0)
            return usage_error("--weights takes bytes, hex or file, not '%s'", v);
        o->weights = strcmp(v, "hex") == 0    ? CNNC_WEIGHTS_HEX
                     : strcmp(v, "file") == 0 ? CNNC_WEIGHTS_FILE
                                              : CNNC_WEIGHTS_BYTES;
    } else if (parse_bytes(v, strcmp(flag, "--ram-budget") == 0 ? &o->ram_budget
                                                                 : &o->flash_budget) != 0) {
        return usage_error(strcmp(flag, "--ram-budget") == 0
                               ? "--ram-budget needs a size in bytes (65536, 64K, 2M), not '%s'"
                               : "--flash-budget needs a size in bytes (65536, 64K, 2M), not '%s'",
                           v);
    }
    return 0;
}

/* --summary and the valued compile options: 1 (and *rc) when a is one. */
static int parse_compile_arg(int argc, char **argv, int *i, Options *o, int *rc)
{
    static const char *const valued[] = { "--emit", "--print-after", "--emit-test",
                                          "--ram-budget", "--flash-budget", "--weights" };
    const char *a = argv[*i];
    int known = strcmp(a, "--summary") == 0;
    *rc = 0;
    for (size_t k = 0; !known && k < sizeof valued / sizeof valued[0]; k++)
        known = strcmp(a, valued[k]) == 0;
    if (!known)
        return 0;
    if (!o->compile_only)
        o->compile_only = a;
    if (strcmp(a, "--summary") == 0) {
        o->summary = 1;
        return 1;
    }
    const char *v = flag_value(argc, argv, i);
    *rc = v ? set_compile_value(o, a, v) : usage_error("option '%s' needs a value", a);
    return 1;
}

/* Every option, for "did you mean" and the --opt=value form. */
static const char *const all_options[] = {
    "-o", "--name", "-O0", "--no-opt", "--dump-ast", "--dump-ir", "--emit", "--summary",
    "--print-after", "--emit-test", "--ram-budget", "--flash-budget", "--weights", "--input",
    "--output", "--top", "--bench", "--seed", "--interp", "--check", "--help", "--version",
    "--target", "--print-targets", "--quantize", "--calibrate",
};
enum { NUM_OPTIONS = sizeof all_options / sizeof all_options[0] };

/* The usage error for a name that is none of cands: "unknown WHAT 'NAME';
 * did you mean 'NEAR'?" when one is near, else "unknown WHAT 'NAME'" and
 * the hint, if any. */
static int unknown_name(const char *what, const char *name, const char *const *cands,
                        size_t n, const char *hint)
{
    const char *near = cnnc_suggest(name, cands, n);
    if (near)
        fprintf(stderr, "cnnc: unknown %s '%s'; did you mean '%s'?\n", what, name, near);
    else
        fprintf(stderr, "cnnc: unknown %s '%s'%s\n", what, name, hint);
    fprintf(stderr, "(run 'cnnc --help' for usage)\n");
    return EXIT_USAGE;
}

static int unknown_option(const char *a)
{
    return unknown_name("option", a, all_options, NUM_OPTIONS, "");
}

static int parse_arg(int argc, char **argv, int *i, Options *o);

/* "--opt=value": the option as the table spells it, with its value as
 * the next argument. An option that takes no value is a usage error. */
static int parse_assigned(const char *a, const char *eq, Options *o)
{
    const char *name = NULL;
    for (size_t k = 0; k < NUM_OPTIONS && !name; k++)
        if (strlen(all_options[k]) == (size_t)(eq - a) &&
            strncmp(all_options[k], a, (size_t)(eq - a)) == 0)
            name = all_options[k];
    if (!name) {
        char flag[64];
        snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
        return unknown_option(flag);
    }
    char *pair[2] = { (char *)name, (char *)(eq + 1) };
    int j = 0, rc = parse_arg(2, pair, &j, o);
    if (rc == 0 && j != 1)
        return usage_error("option '%s' takes no value", name);
    return rc;
}

/* One argument at argv[*i]; 0 ok, else the exit status. */
static int parse_arg(int argc, char **argv, int *i, Options *o)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    int rc;
    if (eq)
        return parse_assigned(a, eq, o);
    if (parse_compile_arg(argc, argv, i, o, &rc))
        return rc;
    if (is_run_only(a) && !o->run_only)
        o->run_only = a;
    if (strcmp(a, "-o") == 0) slot = &o->out;
    else if (strcmp(a, "--name") == 0) slot = &o->name;
    else if (strcmp(a, "--input") == 0) slot = &o->input;
    else if (strcmp(a, "--output") == 0) slot = &o->output;
    else if (strcmp(a, "--target") == 0) slot = &o->target;
    else if (strcmp(a, "--quantize") == 0) slot = &o->quantize;
    else if (strcmp(a, "--calibrate") == 0) slot = &o->calibrate;
    else if (strcmp(a, "-O0") == 0 || strcmp(a, "--no-opt") == 0) o->no_opt = 1;
    else if (strcmp(a, "--interp") == 0) o->interp = 1;
    else if (strcmp(a, "--check") == 0) o->check = 1;
    else if (strcmp(a, "--dump-ast") == 0) o->dump_ast = 1;
    else if (strcmp(a, "--dump-ir") == 0) o->dump_ir = 1;
    else if (strcmp(a, "--top") == 0 || strcmp(a, "--bench") == 0 || strcmp(a, "--seed") == 0) {
        const char *v = flag_value(argc, argv, i);
        return v ? parse_number(a, v, o) : usage_error("option '%s' needs a value", a);
    }
    else if (a[0] == '-' && a[1]) return unknown_option(a);
    else if (o->model) return usage_error("more than one model given ('%s')", a);
    else o->model = a;
    if (slot && !(*slot = flag_value(argc, argv, i)))
        return usage_error("option '%s' needs a value", a);
    return 0;
}

/* --target NAME: one of cnnc_target_name's, or a usage error. */
static int check_target(const char *name)
{
    const char *names[16];
    size_t n = 0;
    while (n < 16 && (names[n] = cnnc_target_name((int)n, NULL)) != NULL)
        n++;
    for (size_t k = 0; k < n; k++)
        if (strcmp(name, names[k]) == 0)
            return 0;
    return unknown_name("target", name, names, n, " (cnnc --print-targets lists them)");
}

static int check_run_options(const Options *o)
{
    if (o->target && check_target(o->target) != 0)
        return EXIT_USAGE;
    if (o->import && (o->target || o->run_only || o->name || o->dump_ast || o->dump_ir || !o->out ||
                      o->quantize || o->calibrate))
        return usage_error("%s", "'cnnc import' takes MODEL.onnx -o OUT.cnn [-O0] and no other option");
    if (!o->run && o->run_only)
        return usage_error("option '%s' is only for 'cnnc run'", o->run_only);
    if (!o->run)
        return 0;
    if (o->out)
        return usage_error("%s", "'cnnc run' writes no C; use --output Y.npy for the result");
    if (o->interp && o->check)
        return usage_error("%s", "--interp and --check exclude each other");
    if (!o->input && !o->dump_ast && !o->dump_ir)
        return usage_error("%s", "run needs --input X.npy, X.f32 or random");
    return 0;
}

/* --emit ir or dot: text instead of C. */
static int emits_text(const Options *o)
{
    return o->emit && strcmp(o->emit, "c") != 0;
}

/* --quantize int8 --calibrate CAL.npy: both or neither. */
static int check_quantize_options(const Options *o)
{
    if (o->quantize && strcmp(o->quantize, "int8") != 0)
        return usage_error("--quantize takes int8, not '%s'", o->quantize);
    if (o->quantize && !o->calibrate)
        return usage_error("%s", "--quantize int8 needs --calibrate CAL.npy (input samples)");
    if (o->calibrate && !o->quantize)
        return usage_error("%s", "--calibrate needs --quantize int8");
    if (o->quantize && o->weights != CNNC_WEIGHTS_BYTES)
        return usage_error("%s", "--quantize int8 stores weights as bytes only: not with --weights "
                                 "hex or file");
    return 0;
}

static int check_compile_options(const Options *o)
{
    int rc = check_quantize_options(o);
    if (rc)
        return rc;
    if ((o->run || o->import) && o->compile_only)
        return usage_error("option '%s' is only for compiling", o->compile_only);
    if (o->import && strcmp(o->out, "-") == 0)
        return usage_error("%s", "'cnnc import' writes OUT.cnn and its weights beside it; "
                                 "-o - is not possible");
    if (o->emit_test && o->out && strcmp(o->out, "-") == 0)
        return usage_error("%s", "--emit-test needs -o OUT.c naming a file: the test includes OUT.h");
    if (o->output && strcmp(o->output, "-") == 0)
        return usage_error("%s", "--output needs a file name: stdout carries the printed results");
    if (o->emit_test && (emits_text(o) || !o->out))
        return usage_error("%s", "--emit-test needs -o OUT.c: the test checks the C written there");
    if (o->weights == CNNC_WEIGHTS_FILE && o->emit_test)
        return usage_error("%s", "--emit-test runs OUT.c alone: not with --weights file");
    if (o->weights == CNNC_WEIGHTS_FILE && (!o->out || strcmp(o->out, "-") == 0))
        return usage_error("%s", "--weights file needs -o OUT.c naming a file: OUT.weights goes "
                                 "beside it");
    return 0;
}

/* Whether anything but C needs no -o: the dumps and the views. */
static int prints_only(const Options *o)
{
    return o->dump_ast || o->dump_ir || o->summary || o->print_after || emits_text(o);
}

/* A first argument that is no file but nearly a command: `cnnc rnu m.cnn`. */
static int check_command(const char *a)
{
    static const char *const commands[] = { "run", "import" };
    struct stat st;
    const char *near = cnnc_suggest(a, commands, 2);
    if (!near || a[0] == '-' || strchr(a, '.') || strchr(a, '/') || stat(a, &st) == 0)
        return 0;
    return unknown_name("command", a, commands, 2, "");
}

static int parse_args(int argc, char **argv, Options *o)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "run") == 0) {
        o->run = 1;
        first = 2;
    } else if (argc > 1 && strcmp(argv[1], "import") == 0) {
        o->import = 1;
        first = 2;
    }
    if (first == 1 && argc > 1) {
        int rc = check_command(argv[1]);
        if (rc)
            return rc;
    }
    for (int i = first; i < argc; i++) {
        int rc = parse_arg(argc, argv, &i, o);
        if (rc)
            return rc;
    }
    if (!o->model)
        return usage_error("%s", "no model given");
    if (o->name && !is_c_identifier(o->name))
        return usage_error("--name '%s' is not a C identifier", o->name);
    int rc = check_run_options(o);
    return rc ? rc : check_compile_options(o);
}

/* ---- writing output files: all or nothing, never onto an input ---- */

/* "dir/model.c" -> "dir/model" + ext; without a .c suffix, ext is
 * appended: "model.h", "model.weights". */
static char *beside_path(const char *out, const char *ext)
{
    size_t n = strlen(out);
    char *h = malloc(n + strlen(ext) + 1);
    if (!h)
        return NULL;
    memcpy(h, out, n + 1);
    if (n > 2 && strcmp(out + n - 2, ".c") == 0)
        h[n - 2] = '\0';
    strcat(h, ext);
    return h;
}

static char *header_path(const char *out)
{
    return beside_path(out, ".h");
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

typedef struct Text {
    const char *data;
    size_t len;
} Text;

/* One output file: its texts, written in order, and where they go. */
typedef struct Output {
    const char *path;
    Text text[3];
    OutFile f;
} Output;

static const char *shown_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* 0, or EXIT_USER after "OUT: error: output file is the input 'IN'": the
 * same regular file, however it is named (symlinks, hard links, stdout). */
static int check_not_input(const Options *o, const char *out)
{
    FileId of, in;
    if ((strcmp(out, "-") == 0 ? file_id_fd(1, &of) : file_id(out, &of)) != 0)
        return 0;
    const char *inputs[3] = { o->model, o->run && o->input && strcmp(o->input, "random") != 0
                                            ? o->input : NULL, o->weights_file };
    for (int i = 0; i < 3; i++) {
        if (!inputs[i])
            continue;
        int have = strcmp(inputs[i], "-") == 0 ? file_id_fd(0, &in) : file_id(inputs[i], &in);
        if (have == 0 && file_id_same(&in, &of)) {
            fprintf(stderr, "%s: error: output file is the input '%s'; nothing written\n", out,
                    shown_name(inputs[i]));
            return EXIT_USER;
        }
    }
    return 0;
}

static void discard_all(Output *out, int n)
{
    for (int i = 0; i < n; i++)
        out_discard(&out[i].f);
}

/* Opens out[n] (a temporary beside a regular file); 0 or the exit status. */
static int open_output(const Options *o, Output *out, int n)
{
    char err[512];
    Output *x = &out[n];
    int rc = check_not_input(o, x->path);
    if (rc == 0 && out_open(&x->f, x->path, err, sizeof err) != 0)
        rc = file_error(x->path, err);
    for (int i = 0; rc == 0 && i < n; i++)
        if (x->f.target && out[i].f.target && strcmp(x->f.target, out[i].f.target) == 0) {
            fprintf(stderr, "%s: error: output file is also the output '%s'; nothing written\n",
                    x->path, out[i].path);
            rc = EXIT_USER;
        }
    if (rc)
        discard_all(out, n + (x->f.fp != NULL));
    return rc;
}

/* Writes every opened output, then renames them into place (the first
 * last); any failure discards what is not yet in place. */
static int write_and_commit(Output *out, int n)
{
    char err[512];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (out_write(&out[i].f, out[i].text[k].data, out[i].text[k].len) != 0) {
                fprintf(stderr, "%s: error: write error: %s\n", out[i].path, strerror(errno));
                discard_all(out, n);
                return EXIT_USER;
            }
    for (int i = n - 1; i >= 0; i--)
        if (out_commit(&out[i].f, err, sizeof err) != 0) {
            discard_all(out, i);
            return file_error(out[i].path, err);
        }
    return 0;
}

/* A single stream (a device, a FIFO, stdout) gets the header, then the C
 * without its #include of the header: one text that compiles as it is. */
static void stream_texts(Output *x, const Text *c, const Text *h, const char *hname)
{
    char inc[600];
    snprintf(inc, sizeof inc, "#include \"%s\"\n", hname);
    const char *at = strstr(c->data, inc);
    x->text[0] = *h;
    x->text[1] = (Text){ c->data, at ? (size_t)(at - c->data) : c->len };
    if (at)
        x->text[2] = (Text){ at + strlen(inc), c->len - (size_t)(at - c->data) - strlen(inc) };
}

/* OUT.c and OUT.h (or one stream), the self-test and the weights file:
 * all or nothing. */
static int write_all(const Options *o, const char *hpath, const Text *c, const Text *h,
                     const Text *t, const char *wpath, const Text *w)
{
    Output out[4];
    int n = 0, rc;
    memset(out, 0, sizeof out);
    out[n].path = o->out;
    if ((rc = open_output(o, out, n)) != 0)
        return rc;
    if (out[n++].f.in_place) {
        stream_texts(&out[0], c, h, base_name(hpath));
    } else {
        out[0].text[0] = *c;
        out[n].path = hpath;
        out[n].text[0] = *h;
        if ((rc = open_output(o, out, n++)) != 0)
            return rc;
    }
    if (o->emit_test) {
        out[n].path = o->emit_test;
        out[n].text[0] = *t;
        if ((rc = open_output(o, out, n++)) != 0)
            return rc;
    }
    if (wpath) {
        if (out[0].f.in_place) {
            discard_all(out, n);
            return file_error(o->out, "--weights file needs a regular file here: OUT.weights "
                                      "goes beside it");
        }
        out[n].path = wpath;
        out[n].text[0] = *w;
        if ((rc = open_output(o, out, n++)) != 0)
            return rc;
    }
    return write_and_commit(out, n);
}

static int emit_test_text(const Options *o, cnnc_model *m, const cnnc_emit_options *eo,
                          char **text, size_t *len)
{
    cnnc_test_options to = { 0, 0, base_name(o->out), base_name(o->emit_test) };
    return cnnc_emit_test(m, eo, &to, text, len);
}

static int compile_to_c(const Options *o, cnnc_model *m)
{
    int file = o->weights == CNNC_WEIGHTS_FILE;
    char *hpath = header_path(o->out), *wpath = file ? beside_path(o->out, ".weights") : NULL;
    if (!hpath || (file && !wpath))
        return EXIT_USER;
    cnnc_emit_options eo = { o->name, base_name(hpath), o->emit_test != NULL, o->weights };
    char *c = NULL, *h = NULL, *t = NULL, *w = NULL;
    size_t clen = 0, hlen = 0, tlen = 0, wlen = 0;
    int rc = EXIT_USER;
    if (cnnc_emit_c(m, &eo, &c, &clen, &h, &hlen) == 0 &&
        (!o->emit_test || emit_test_text(o, m, &eo, &t, &tlen) == 0) &&
        (!file || cnnc_emit_weights(m, &w, &wlen) == 0)) {
        Text ct = { c, clen }, ht = { h, hlen }, tt = { t, tlen }, wt = { w, wlen };
        rc = write_all(o, hpath, &ct, &ht, &tt, wpath, &wt);
    }
    cnnc_free(c);
    cnnc_free(h);
    cnnc_free(t);
    cnnc_free(w);
    free(hpath);
    free(wpath);
    return rc;
}

/* --summary, --emit ir|dot, --print-after: to path, or stdout for NULL. */
static int print_view(const Options *o, cnnc_model *m, cnnc_view_kind kind, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc = EXIT_USER;
    if (cnnc_model_view(m, kind, &text, &len) == 0) {
        Output out[1];
        memset(out, 0, sizeof out);
        out[0].path = path ? path : "-";
        out[0].text[0] = (Text){ text, len };
        rc = open_output(o, out, 0);
        rc = rc ? rc : write_and_commit(out, 1);
    }
    cnnc_free(text);
    return rc;
}

/* The compile form: the views asked for, the budgets, then the files. */
static int compile_outputs(const Options *o, cnnc_model *m)
{
    if (o->print_after && print_view(o, m, CNNC_VIEW_AFTER_PASS, NULL) != 0)
        return EXIT_USER;
    if (o->summary && print_view(o, m, CNNC_VIEW_SUMMARY, NULL) != 0)
        return EXIT_USER;
    if (cnnc_model_check_budget(m, o->ram_budget, o->flash_budget) != 0)
        return EXIT_USER;
    if (emits_text(o))
        return print_view(o, m, strcmp(o->emit, "ir") == 0 ? CNNC_VIEW_IR : CNNC_VIEW_DOT, o->out);
    return o->out ? compile_to_c(o, m) : 0;
}

/* ---- run: the input ---- */

/* "[1, 28, 28]" into buf. */
static const char *dims_str(char *buf, size_t n, int rank, const long long *dims)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", dims[i]);
    if (len < n)
        snprintf(buf + len, n - len, "]");
    return buf;
}

static const char *info_str(char *buf, size_t n, const cnnc_tensor_info *t)
{
    long long dims[CNNC_MAX_RANK];
    for (int i = 0; i < t->rank; i++)
        dims[i] = t->dims[i];
    return dims_str(buf, n, t->rank, dims);
}

/* The input shape, rank 1 with the same element count, or the input shape
 * with dimensions of size 1 added or left out anywhere ([1, 1, 28, 28] or
 * [28, 28] for [1, 28, 28]): the same elements in the same order. */
static int npy_matches(const NpyArray *a, const cnnc_tensor_info *t)
{
    if (a->numel != (long long)t->size)
        return 0;
    if (a->rank == 1)
        return 1;
    int i = 0, k = 0;
    for (;;) {
        while (i < a->rank && a->shape[i] == 1)
            i++;
        while (k < t->rank && t->dims[k] == 1)
            k++;
        if (i == a->rank || k == t->rank)
            return i == a->rank && k == t->rank;
        if (a->shape[i++] != t->dims[k++])
            return 0;
    }
}

static int load_npy(const char *path, const cnnc_tensor_info *t, float **x)
{
    NpyArray a;
    char err[512], have[160], want[160];
    if (npy_load(path, &a, err, sizeof err) != 0)
        return file_error(path, err);
    if (!npy_matches(&a, t)) {
        fprintf(stderr, "%s: error: array shape %s does not match the input '%s' %s (or flat [%zu])\n",
                path, dims_str(have, sizeof have, a.rank, a.shape), t->name,
                info_str(want, sizeof want, t), t->size);
        npy_free(&a);
        return EXIT_USER;
    }
    *x = a.data;          /* npy_free would only free data */
    return 0;
}

/* Reads up to n bytes into dst and counts the bytes of the whole file. */
static int read_counting(FILE *f, unsigned char *dst, size_t n, unsigned long long *total)
{
    char scratch[4096];
    size_t got = n ? fread(dst, 1, n, f) : 0, more;
    *total = got;
    while ((more = fread(scratch, 1, sizeof scratch, f)) > 0)
        *total += more;
    return ferror(f) ? -1 : 0;
}

/* Raw little-endian float32 values, exactly the input's element count. */
static int load_f32(const char *path, const cnnc_tensor_info *t, float **x)
{
    FILE *f = fopen(path, "rb");
    char msg[512], want[160];
    if (!f) {
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        return file_error(path, msg);
    }
    unsigned char *b = malloc(t->size * 4 + 1);
    unsigned long long total = 0;
    int rc = b ? read_counting(f, b, t->size * 4, &total) : -1;
    fclose(f);
    if (rc != 0 || total != (unsigned long long)t->size * 4) {
        if (rc != 0)
            snprintf(msg, sizeof msg, "read error");
        else
            snprintf(msg, sizeof msg, "file has %llu bytes; the input '%s' %s needs %zu float32 values (%zu bytes)",
                     total, t->name, info_str(want, sizeof want, t), t->size, t->size * 4);
        free(b);
        return file_error(path, msg);
    }
    for (size_t i = 0; i < t->size; i++) {
        const unsigned char *p = b + 4 * i;
        unsigned long u = (unsigned long)p[0] | (unsigned long)p[1] << 8 |
                          (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24;
        unsigned int u32 = (unsigned int)u;
        memcpy(b + 4 * i, &u32, 4);
    }
    *x = (float *)(void *)b;
    return 0;
}

/* SplitMix64: a fixed, documented generator (docs/cli.md), so tests can
 * reproduce `--input random --seed N` bit for bit. */
static unsigned long long splitmix64(unsigned long long *state)
{
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1): the top 24 bits as k, then k * 2^-23 - 1, exact. */
static float *random_input(size_t n, unsigned long long seed)
{
    float *x = malloc(n ? n * sizeof *x : 1);
    unsigned long long s = seed;
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)(splitmix64(&s) >> 40) * (1.0f / 8388608.0f) - 1.0f;
    return x;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int load_input(const Options *o, const cnnc_tensor_info *t, float **x)
{
    if (strcmp(o->input, "random") == 0) {
        *x = random_input(t->size, o->seed);
        return *x ? 0 : file_error("random", "out of memory");
    }
    if (has_suffix(o->input, ".f32"))
        return load_f32(o->input, t, x);
    return load_npy(o->input, t, x);
}

/* ---- run: engines and timing ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The JIT (jit != NULL) or the interpreter on one model. */
typedef struct Engine {
    const char *name;
    cnnc_model *m;
    cnnc_jit *jit;
    double compile_ms;
    double first_ms, median_ms, min_ms;
    float *y;
} Engine;

static int engine_run(Engine *e, const float *x)
{
    return e->jit ? cnnc_jit_run(e->jit, x, e->y) : cnnc_model_interp(e->m, x, e->y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One run (also the warm-up), then --bench N timed runs. */
static int engine_time(Engine *e, const float *x, long bench)
{
    double t0 = now_ms();
    if (engine_run(e, x) != 0)
        return -1;
    e->first_ms = now_ms() - t0;
    if (bench <= 0)
        return 0;
    double *t = malloc((size_t)bench * sizeof *t);
    if (!t)
        return -1;
    for (long i = 0; i < bench; i++) {
        t0 = now_ms();
        engine_run(e, x);
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)bench, sizeof *t, cmp_double);
    e->median_ms = bench % 2 ? t[bench / 2] : (t[bench / 2 - 1] + t[bench / 2]) / 2;
    e->min_ms = t[0];
    free(t);
    return 0;
}

/* On stderr, like every report that is not a result: stdout stays
 * comparable between runs. */
static void print_time(const Engine *e, long bench)
{
    fflush(stdout);
    if (bench > 0)
        fprintf(stderr, "%s: median %.4g ms, min %.4g ms per inference over %ld runs", e->name,
                e->median_ms, e->min_ms, bench);
    else
        fprintf(stderr, "%s: %.4g ms per inference", e->name, e->first_ms);
    if (e->jit)
        fprintf(stderr, " (compile %.4g ms)", e->compile_ms);
    fprintf(stderr, "\n");
}

static cnnc_model *load_model(const Options *o, int no_opt, cnnc_diag_fn fn)
{
    cnnc_options opt = { fn, NULL, no_opt, NULL, o->print_after, 0, o->target, o->quantize,
                         o->calibrate };
    if (o->stdin_text)
        return cnnc_model_from_string("<stdin>", o->stdin_text, NULL, &opt);
    return cnnc_model_from_file(o->model, &opt);
}

/* Prepares e on m: output buffer, and the JIT unless interp. */
static int engine_init(Engine *e, cnnc_model *m, int interp)
{
    memset(e, 0, sizeof *e);
    e->name = interp ? "interp" : "jit";
    e->m = m;
    e->y = malloc(cnnc_model_output_size(m) * sizeof *e->y + 1);
    if (!e->y)
        return -1;
    if (interp)
        return 0;
    double t0 = now_ms();
    e->jit = cnnc_jit_new(m);
    e->compile_ms = now_ms() - t0;
    return e->jit ? 0 : -1;
}

static void engine_free(Engine *e)
{
    cnnc_jit_free(e->jit);
    free(e->y);
}

/* ---- run: the report ---- */

typedef struct Ranked {
    float v;
    size_t i;
} Ranked;

/* Largest first, NaN last, ties by index. */
static int cmp_ranked(const void *a, const void *b)
{
    const Ranked *x = a, *y = b;
    int xn = isnan(x->v), yn = isnan(y->v);
    if (xn != yn)
        return xn - yn;
    if (!xn && x->v != y->v)
        return x->v < y->v ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

static void print_top(const float *y, size_t n, size_t k)
{
    Ranked *r = malloc(n * sizeof *r + 1);
    if (!r)
        return;
    for (size_t i = 0; i < n; i++)
        r[i] = (Ranked){ y[i], i };
    qsort(r, n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < k && i < n; i++)
        printf("  %zu %.9g\n", r[i].i, (double)r[i].v);
    free(r);
}

static void print_output(const Options *o, const cnnc_tensor_info *t, const float *y)
{
    char dims[160];
    info_str(dims, sizeof dims, t);
    if (o->top > 0) {
        size_t k = (size_t)o->top < t->size ? (size_t)o->top : t->size;
        printf("%s %s, top %zu:\n", t->name, dims, k);
        print_top(y, t->size, k);
    } else if (t->size > MAX_PRINTED) {
        printf("%s %s: %zu values (--top K prints the largest, --output Y.npy saves them)\n",
               t->name, dims, t->size);
    } else {
        printf("%s %s =", t->name, dims);
        for (size_t i = 0; i < t->size; i++)
            printf(" %.9g", (double)y[i]);
        printf("\n");
    }
}

/* max |y - ref| and that over max(1e-6, max |ref|); NaN against a number
 * (or unequal infinities) is an infinite error. */
static int print_check(const float *y, const float *ref, size_t n)
{
    double abs_err = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double a = y[i], r = ref[i], d = fabs(a - r);
        if ((isnan(a) && isnan(r)) || a == r)
            d = 0;
        else if (isnan(d))
            d = INFINITY;
        abs_err = d > abs_err ? d : abs_err;
        scale = isfinite(r) && fabs(r) > scale ? fabs(r) : scale;
    }
    double rel = abs_err / scale;
    int ok = rel <= CHECK_TOLERANCE;
    printf("check: max abs error %.3g, max rel error %.3g (tolerance %g): %s\n", abs_err, rel,
           CHECK_TOLERANCE, ok ? "ok" : "FAILED");
    return ok ? 0 : EXIT_USER;
}

static int save_output(const char *path, const cnnc_tensor_info *t, const float *y)
{
    long long shape[CNNC_MAX_RANK];
    char err[512];
    for (int i = 0; i < t->rank; i++)
        shape[i] = t->dims[i];
    if (npy_save(path, y, t->rank, shape, err, sizeof err) != 0)
        return file_error(path, err);
    return 0;
}

/* ---- run: the command ---- */

/* Runs e (and the interpreter on ref for --check), prints everything. */
static int run_engines(const Options *o, Engine *e, Engine *ref, const float *x)
{
    cnnc_tensor_info out;
    cnnc_model_output(e->m, &out);
    if (engine_time(e, x, o->bench) != 0 || (ref && engine_time(ref, x, o->bench) != 0)) {
        fprintf(stderr, "cnnc: error: out of memory\n");
        return EXIT_USER;
    }
    if (o->output && (check_not_input(o, o->output) != 0 || save_output(o->output, &out, e->y) != 0))
        return EXIT_USER;
    print_output(o, &out, e->y);
    print_time(e, o->bench);
    if (!ref)
        return 0;
    print_time(ref, o->bench);
    return print_check(e->y, ref->y, out.size);
}

/* The interpreter's model for --check: unoptimized, like --interp, so the
 * oracle does not share the fusion pass with the code under test. */
static int run_model(const Options *o, cnnc_model *m)
{
    cnnc_tensor_info in;
    cnnc_model_input(m, &in);
    float *x = NULL;
    int rc = load_input(o, &in, &x);
    if (rc)
        return rc;
    Engine e = { 0 }, ref = { 0 };
    cnnc_model *mref = o->check ? load_model(o, 1, NULL) : NULL;
    rc = EXIT_USER;
    if (engine_init(&e, m, o->interp) == 0 && (!mref || engine_init(&ref, mref, 1) == 0))
        rc = run_engines(o, &e, mref ? &ref : NULL, x);
    engine_free(&e);
    engine_free(&ref);
    cnnc_model_free(mref);
    free(x);
    return rc;
}

/* cnnc import: the library writes both files, or nothing. */
static int run_import(const Options *o)
{
    cnnc_options opt = { .diag_fn = print_diag, .no_opt = o->no_opt };
    return cnnc_import_onnx(o->model, o->out, &opt) == 0 ? 0 : EXIT_USER;
}

/* The model "-": standard input, read once (--check loads it twice). Past
 * the library's size limit the text is cut; the library then says so. */
static int read_stdin_model(Options *o)
{
    enum { CAP = 17 << 20 };
    if (o->import)
        return usage_error("%s", "'cnnc import' reads an ONNX file, not standard input");
    char *text = malloc(CAP + 1);
    size_t n = text ? fread(text, 1, CAP, stdin) : 0;
    if (!text || ferror(stdin)) {
        free(text);
        return file_error("<stdin>", "read error");
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        free(text);
        return file_error("<stdin>", "the model text contains a NUL byte");
    }
    o->stdin_text = text;
    return 0;
}

static int run_compiler(const Options *o)
{
    if (o->import)
        return run_import(o);
    cnnc_model *m = load_model(o, o->no_opt || (o->run && o->interp), print_diag);
    if (!m) {
        fprintf(stderr, "cnnc: error: out of memory\n");
        return EXIT_USER;
    }
    int failed = cnnc_model_errors(m) != 0;
    int rc = EXIT_USER;
    Options with = *o;                  /* outputs must not land on the weights either */
    with.weights_file = cnnc_model_weights_file(m);
    if (o->dump_ast && cnnc_model_dump(m, CNNC_DUMP_AST, stdout) == 0)
        rc = failed ? EXIT_USER : 0;
    else if (failed)
        rc = EXIT_USER;
    else if (o->dump_ir)
        rc = cnnc_model_dump(m, CNNC_DUMP_IR, stdout) == 0 ? 0 : EXIT_USER;
    else if (o->run)
        rc = run_model(&with, m);
    else
        rc = compile_outputs(&with, m);
    cnnc_model_free(m);
    return rc;
}

static int print_targets(void)
{
    const char *summary;
    for (int i = 0; cnnc_target_name(i, &summary); i++)
        printf("%-10s %s\n", cnnc_target_name(i, NULL), summary);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("cnnc %s\n", CNNC_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--print-targets") == 0)
            return print_targets();
    }
    Options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (!o.run && !o.out && !prints_only(&o))
        return usage_error("%s", "no output file given (use -o OUT.c)");
    if (strcmp(o.model, "-") == 0 && (rc = read_stdin_model(&o)) != 0)
        return rc;
    rc = run_compiler(&o);
    free(o.stdin_text);
    return rc;
}
