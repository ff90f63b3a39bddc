/* main.c: the cnnc command line. The only file that prints to the
 * terminal or exits. Exit status: 0 ok, 1 error in the user's input,
 * 2 usage error.
 *
 *   cnnc MODEL.cnn -o OUT.c [--name PREFIX] [-O0]    compile to OUT.c + OUT.h
 *   cnnc run MODEL.cnn --interp --input X.npy [--output Y.npy]
 *   cnnc --help | --version
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "readers.h"

enum { EXIT_USER = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: cnnc MODEL.cnn -o OUT.c [--name PREFIX] [-O0]\n"
    "       cnnc run MODEL.cnn --interp --input X.npy [--output Y.npy]\n"
    "       cnnc --help | --version\n"
    "\n"
    "Compile a .cnn model to standalone C99: OUT.c and OUT.h, with\n"
    "<PREFIX>_run(input, output). PREFIX defaults to the model's name.\n"
    "\n"
    "options:\n"
    "  -o OUT.c        output file; the header is written beside it as OUT.h\n"
    "  --name PREFIX   prefix of the generated names (a C identifier)\n"
    "  -O0, --no-opt   skip optimizations (fusion), for debugging\n"
    "  --dump-ast      print the parsed model and stop\n"
    "  --dump-ir       print the optimized IR and stop\n"
    "\n"
    "run: evaluate a model now on an input array\n"
    "  --interp        use the reference interpreter\n"
    "  --input X.npy   float32 array shaped as the input (or flat)\n"
    "  --output Y.npy  write the result as a float32 array\n"
    "\n"
    "examples:\n"
    "  cnnc examples/fashion.cnn -o fashion.c\n"
    "  cnnc run examples/fashion.cnn --interp --input image.npy\n";

typedef struct Options {
    int run;
    int interp;
    int no_opt;
    int dump_ast, dump_ir;
    const char *model, *out, *name, *input, *output;
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

static int is_identifier(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* Flags that take a value: returns the value and advances *i. */
static const char *flag_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int parse_args(int argc, char **argv, Options *o)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "run") == 0) {
        o->run = 1;
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "-o") == 0) slot = &o->out;
        else if (strcmp(a, "--name") == 0) slot = &o->name;
        else if (strcmp(a, "--input") == 0) slot = &o->input;
        else if (strcmp(a, "--output") == 0) slot = &o->output;
        else if (strcmp(a, "-O0") == 0 || strcmp(a, "--no-opt") == 0) o->no_opt = 1;
        else if (strcmp(a, "--interp") == 0) o->interp = 1;
        else if (strcmp(a, "--dump-ast") == 0) o->dump_ast = 1;
        else if (strcmp(a, "--dump-ir") == 0) o->dump_ir = 1;
        else if (a[0] == '-' && a[1]) return usage_error("unknown option '%s'", a);
        else if (o->model) return usage_error("more than one model given ('%s')", a);
        else o->model = a;
        if (slot && !(*slot = flag_value(argc, argv, &i)))
            return usage_error("option '%s' needs a value", a);
    }
    if (!o->model)
        return usage_error("%s", "no model given");
    if (o->name && !is_identifier(o->name))
        return usage_error("--name '%s' is not a C identifier", o->name);
    return 0;
}

/* ---- writing output files: all or nothing ---- */

static int write_file(const char *path, const Buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = b->len ? fwrite(b->data, 1, b->len, f) : 0;
    int bad = n != b->len;
    bad |= fclose(f) != 0;
    if (bad)
        remove(path);
    return bad ? -1 : 0;
}

/* "dir/model.c" -> "dir/model.h"; without a .c suffix, ".h" is appended. */
static char *header_path(const char *out)
{
    size_t n = strlen(out);
    char *h = malloc(n + 3);
    if (!h)
        return NULL;
    memcpy(h, out, n + 1);
    if (n > 2 && strcmp(out + n - 2, ".c") == 0)
        h[n - 1] = 'h';
    else
        strcat(h, ".h");
    return h;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Writes both files under temporary names, then renames them into place,
 * so a failure never leaves a partial or mismatched pair behind. */
static int write_outputs(const char *out, const Buf *c, const Buf *h)
{
    char *hpath = header_path(out);
    size_t n = strlen(out) + 16;
    char *ctmp = malloc(n), *htmp = malloc(n + 2);
    int rc = -1;
    if (hpath && ctmp && htmp) {
        snprintf(ctmp, n, "%s.tmp%ld", out, (long)getpid());
        snprintf(htmp, n + 2, "%s.tmp%ld", hpath, (long)getpid());
        if (write_file(ctmp, c) == 0 && write_file(htmp, h) == 0 &&
            rename(htmp, hpath) == 0 && rename(ctmp, out) == 0)
            rc = 0;
        else
            fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", out, strerror(errno));
        remove(ctmp);
        remove(htmp);
    }
    free(hpath);
    free(ctmp);
    free(htmp);
    return rc;
}

static int compile_to_c(const Options *o, Compilation *c)
{
    char *hpath = header_path(o->out);
    if (!hpath)
        return EXIT_USER;
    EmitOptions eo = { o->name ? o->name : c->graph->name, base_name(hpath), 0 };
    Buf cb, hb;
    buf_init(&cb);
    buf_init(&hb);
    emit_c(&c->ctx, c->graph, &eo, &cb, &hb);
    int rc = write_outputs(o->out, &cb, &hb) == 0 ? 0 : EXIT_USER;
    buf_free(&cb);
    buf_free(&hb);
    free(hpath);
    return rc;
}

/* ---- run ---- */

static int input_matches(const NpyArray *a, const Tensor *t)
{
    if (a->numel != t->numel)
        return 0;
    if (a->rank == 1)
        return 1;
    if (a->rank != t->shape.rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != t->shape.dim[i])
            return 0;
    return 1;
}

static void print_values(const float *y, long long n)
{
    if (n > 20) {
        printf("output: %lld values (use --output to save them)\n", n);
        return;
    }
    for (long long i = 0; i < n; i++)
        printf("%s%.9g", i ? " " : "", (double)y[i]);
    printf("\n");
}

static int run_model(const Options *o, Compilation *c)
{
    const Graph *g = c->graph;
    const Tensor *ti = &g->t[g->input], *to = &g->t[g->output];
    if (!o->interp) {
        fprintf(stderr, "cnnc: error: the JIT is not built yet; use 'cnnc run --interp'\n");
        return EXIT_USER;
    }
    if (!o->input)
        return usage_error("%s", "run needs --input X.npy");
    NpyArray in;
    char err[512];
    if (npy_load(o->input, &in, err, sizeof err) != 0) {
        fprintf(stderr, "%s: error: %s\n", o->input, err);
        return EXIT_USER;
    }
    if (!input_matches(&in, ti)) {
        Arena *a = c->arena;
        fprintf(stderr, "%s: error: array has %lld elements; the model's input '%s' is %s (%lld elements)\n",
                o->input, in.numel, ti->name, shape_str(a, &ti->shape), ti->numel);
        npy_free(&in);
        return EXIT_USER;
    }
    float *out = calloc((size_t)to->numel, sizeof *out);
    int rc = out && interp_run(g, in.data, out) == 0 ? 0 : EXIT_USER;
    if (rc == 0) {
        long long shape[MAX_RANK];
        for (int i = 0; i < to->shape.rank; i++)
            shape[i] = to->shape.dim[i];
        if (o->output && npy_save(o->output, out, to->shape.rank, shape, err, sizeof err) != 0) {
            fprintf(stderr, "%s: error: %s\n", o->output, err);
            rc = EXIT_USER;
        } else if (!o->output) {
            print_values(out, to->numel);
        }
    }
    free(out);
    npy_free(&in);
    return rc;
}

static void dump_graph(const Graph *g)
{
    for (int i = 0; i < g->nops; i++) {
        const Op *op = &g->ops[i];
        printf("op%d %s %s", i, op_kind_name(op->kind), op->name);
        if (op->act.kind != ACT_NONE)
            printf(" +%s", act_kind_name(op->act.kind));
        printf(" ->t%d %s\n", op->out, g->t[op->out].name);
    }
}

static int run_compiler(const Options *o)
{
    Compilation c;
    compilation_init(&c, print_diag, NULL);
    PassOptions po = { o->no_opt || (o->run && o->interp) };
    int failed = compilation_run_file(&c, o->model, &po) != 0;
    if (c.ctx.suppressed)
        fprintf(stderr, "cnnc: %d more errors not shown\n", c.ctx.suppressed);
    int rc = EXIT_USER;
    if (o->dump_ast && c.model)
        ast_dump(c.model, stdout), rc = failed ? EXIT_USER : 0;
    else if (failed)
        rc = EXIT_USER;
    else if (o->dump_ir)
        dump_graph(c.graph), rc = 0;
    else if (o->run)
        rc = run_model(o, &c);
    else
        rc = compile_to_c(o, &c);
    compilation_free(&c);
    return rc;
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
    }
    Options o = { 0 };
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (!o.run && !o.out && !o.dump_ast && !o.dump_ir)
        return usage_error("%s", "no output file given (use -o OUT.c)");
    return run_compiler(&o);
}
