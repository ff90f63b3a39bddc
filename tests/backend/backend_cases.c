/* backend_cases.c: the hand-built graphs the backend tests compile. Together
 * they cover every OpKind and every ActKind (standalone and fused), strides,
 * asymmetric pads, dilation, groups, count_pad, windows with no real tap,
 * every softmax axis, add/concat of three inputs, and DAGs where arena reuse
 * matters. Shapes are chosen small, odd and unequal so that a swapped H/W or
 * a wrong stride cannot go unnoticed.
 */
#include <string.h>

#include "backend_cases.h"

static const Act NONE = { ACT_NONE, 0.0f, 0.0f };

static Act A(ActKind k)
{
    return act_of(k, k == ACT_LEAKY_RELU ? 0.1f : k == ACT_ELU ? 1.0f : 0.0f, 1.0f);
}

/* conv 1->32 k3 + relu, maxpool 2, flatten, dense, softmax: the lecture's shape. */
static void case_lenet_like(TB *b)
{
    int x = tb_input(b, shp3(1, 12, 12));
    int c = tb_conv(b, "conv1", x, 8, win(3, 3, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, A(ACT_RELU));
    tb_fuse(b, &b->g->ops[b->g->nops - 1], "relu_0");
    int p = tb_pool(b, OP_MAXPOOL, "maxpool_0", c, win(2, 2, 2, 2, 1, 1, 0, 0, 0, 0), 0, NONE);
    int f = tb_unary(b, OP_FLATTEN, "flatten_0", p, NONE);
    int d = tb_dense(b, "fc1", f, 10, 1, NONE);
    tb_output(b, tb_softmax(b, "softmax_0", d, 0, NONE));
}

/* Stride 2x1, asymmetric pads, kernel 3x2, no bias, fused leaky_relu. */
static void case_conv_stride_pad(TB *b)
{
    int x = tb_input(b, shp3(3, 11, 9));
    Act leaky = act_of(ACT_LEAKY_RELU, 0.1f, 0.0f);
    int c = tb_conv(b, "conv", x, 5, win(3, 2, 2, 1, 1, 1, 1, 0, 2, 1), 1, 0, leaky);
    int d = tb_conv(b, "int", c, 4, win(2, 3, 1, 3, 1, 1, 0, 2, 0, 0), 1, 1, NONE);
    tb_output(b, d);
}

/* Dilation 2x3 with pads, fused elu (alpha 0.7). */
static void case_conv_dilation(TB *b)
{
    int x = tb_input(b, shp3(4, 12, 10));
    Act elu = act_of(ACT_ELU, 0.7f, 0.0f);
    tb_output(b, tb_conv(b, "dil", x, 6, win(3, 3, 1, 1, 2, 3, 2, 3, 1, 2), 1, 1, elu));
}

/* groups=3 (2 channels in, 3 out per group), stride 2, pad 1, selu; then
 * depthwise 5x5 pad 2 with swish, then 1x1 with sigmoid. */
static void case_conv_groups(TB *b)
{
    int x = tb_input(b, shp3(6, 9, 8));
    int g = tb_conv(b, "grouped", x, 9, win(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 3, 1, A(ACT_SELU));
    int d = tb_conv(b, "depthwise", g, 9, win(5, 5, 1, 1, 1, 1, 2, 2, 2, 2), 9, 1, A(ACT_SWISH));
    tb_output(b, tb_conv(b, "pointwise", d, 3, win(1, 1, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1,
                         A(ACT_SIGMOID)));
}

/* A 1x1 kernel with padding (border outputs are the bias alone), then a
 * kernel as large as its input (a 1x1 output), softplus, tanh. */
static void case_conv_degenerate(TB *b)
{
    int x = tb_input(b, shp3(2, 5, 4));
    int c = tb_conv(b, "padded1x1", x, 3, win(1, 1, 1, 1, 1, 1, 1, 2, 1, 0), 1, 1, A(ACT_TANH));
    int d = tb_conv(b, "whole", c, 4, win(7, 6, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, A(ACT_SOFTPLUS));
    int f = tb_unary(b, OP_FLATTEN, "flat", d, NONE);
    tb_output(b, tb_dense(b, "head", f, 3, 0, NONE));
}

static void case_maxpool(TB *b)
{
    int x = tb_input(b, shp3(3, 10, 11));
    int p1 = tb_pool(b, OP_MAXPOOL, "p1", x, win(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 0, NONE);
    int p2 = tb_pool(b, OP_MAXPOOL, "p2", p1, win(2, 3, 1, 2, 2, 1, 0, 1, 1, 0), 0, A(ACT_ELU));
    int p3 = tb_pool(b, OP_MAXPOOL, "p3", p2, win(2, 2, 1, 1, 1, 1, 0, 0, 0, 0), 0, NONE);
    tb_output(b, p3);
}

/* Pads of 2 around a 2x2 window: corner windows see no real tap (0). */
static void case_pool_empty(TB *b)
{
    int x = tb_input(b, shp3(2, 3, 4));
    int m = tb_pool(b, OP_MAXPOOL, "pmax", x, win(2, 2, 1, 1, 1, 1, 2, 2, 2, 2), 0, NONE);
    int a = tb_pool(b, OP_AVGPOOL, "pavg", x, win(2, 2, 1, 1, 1, 1, 2, 2, 2, 2), 0, NONE);
    int in[2] = { m, a };
    tb_output(b, tb_nary(b, OP_CONCAT, "both", 2, in, NONE));
}

static void case_avgpool(TB *b)
{
    int x = tb_input(b, shp3(3, 9, 10));
    Window w = win(3, 3, 2, 2, 1, 1, 1, 0, 2, 1);
    int a = tb_pool(b, OP_AVGPOOL, "avg_excl", x, w, 0, NONE);
    int c = tb_pool(b, OP_AVGPOOL, "avg_incl", x, w, 1, NONE);
    int d = tb_pool(b, OP_AVGPOOL, "avg_nopad", x, win(2, 3, 2, 1, 1, 2, 0, 0, 0, 0), 0,
                    act_of(ACT_LEAKY_RELU, 0.25f, 0.0f));
    int f1 = tb_unary(b, OP_FLATTEN, "f1", a, NONE);
    int f2 = tb_unary(b, OP_FLATTEN, "f2", c, NONE);
    int f3 = tb_unary(b, OP_FLATTEN, "f3", d, NONE);
    int in[3] = { f1, f2, f3 };
    tb_output(b, tb_nary(b, OP_CONCAT, "all", 3, in, NONE));
}

/* global_avgpool, batchnorm (map and vector), dense without bias, rbf. */
static void case_gap_bn_dense(TB *b)
{
    int x = tb_input(b, shp3(5, 7, 6));
    int n = tb_batchnorm(b, "bn", x, 1e-5f, A(ACT_RELU));
    int g = tb_unary(b, OP_GLOBAL_AVGPOOL, "gap", n, NONE);
    int f = tb_unary(b, OP_FLATTEN, "flat", g, NONE);
    int n2 = tb_batchnorm(b, "bn_vec", f, 1e-3f, NONE);
    int d = tb_dense(b, "fc", n2, 7, 0, act_of(ACT_RBF, 0.25f, 1.5f));
    tb_output(b, d);
}

/* Three branches added (fused relu) and concatenated, plus a residual add of
 * the input itself. */
static void case_add_concat(TB *b)
{
    int x = tb_input(b, shp3(4, 6, 5));
    Window same = win(3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    int a = tb_conv(b, "a", x, 4, same, 1, 1, NONE);
    int c = tb_conv(b, "b", x, 4, same, 1, 1, NONE);
    int d = tb_conv(b, "c", x, 4, win(1, 1, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, NONE);
    int in3[3] = { a, c, d };
    int s = tb_nary(b, OP_ADD, "sum3", 3, in3, A(ACT_RELU));
    int res[2] = { x, s };
    int r = tb_nary(b, OP_ADD, "residual", 2, res, NONE);
    int cat[3] = { r, a, s };
    tb_output(b, tb_nary(b, OP_CONCAT, "cat", 3, cat, A(ACT_TANH)));
}

/* Softmax along each axis of [3, 4, 5], then of a vector, one with a fused act. */
static void case_softmax(TB *b)
{
    int x = tb_input(b, shp3(3, 4, 5));
    int s0 = tb_softmax(b, "s0", x, 0, NONE);
    int s1 = tb_softmax(b, "s1", x, 1, NONE);
    int s2 = tb_softmax(b, "s2", x, 2, A(ACT_SIGMOID));
    int in[3] = { s0, s1, s2 };
    int c = tb_nary(b, OP_CONCAT, "cat", 3, in, NONE);
    int f = tb_unary(b, OP_FLATTEN, "flat", c, NONE);
    tb_output(b, tb_softmax(b, "sv", f, 0, NONE));
}

/* Every activation as a standalone op, on inputs in [-30, 30] so softplus's
 * threshold and the saturating ends are reached. */
static void case_activations(TB *b)
{
    static const ActKind kinds[] = { ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH,
                                     ACT_ELU, ACT_SELU, ACT_SOFTPLUS, ACT_SWISH, ACT_RBF };
    static const char *const names[] = { "relu", "leaky", "sigmoid", "tanh", "elu",
                                         "selu", "softplus", "swish", "rbf" };
    int x = tb_input(b, shp1(600));
    int in[9];
    for (int k = 0; k < 9; k++) {
        Act a = act_of(kinds[k], k == 1 ? 0.2f : 1.3f, 0.75f);
        if (kinds[k] == ACT_RBF)
            a = act_of(ACT_RBF, -0.25f, 1.5f);
        in[k] = tb_unary(b, OP_ACT, names[k], x, a);
    }
    int cat = tb_nary(b, OP_CONCAT, "cat", 9, in, NONE);
    tb_output(b, tb_unary(b, OP_ACT, "last", cat, A(ACT_RELU)));
}

/* Fused activations on ops that rarely carry one: pools, flatten, gap. */
static void case_fused_everywhere(TB *b)
{
    int x = tb_input(b, shp3(2, 6, 6));
    int m = tb_pool(b, OP_MAXPOOL, "m", x, win(2, 2, 2, 2, 1, 1, 0, 0, 0, 0), 0, A(ACT_SELU));
    int a = tb_pool(b, OP_AVGPOOL, "a", m, win(2, 2, 1, 1, 1, 1, 1, 1, 0, 0), 0,
                    A(ACT_SOFTPLUS));
    int g = tb_unary(b, OP_GLOBAL_AVGPOOL, "g", a, A(ACT_SWISH));
    int f = tb_unary(b, OP_FLATTEN, "f", g, A(ACT_SIGMOID));
    tb_output(b, f);
}

/* A chain with a long skip: the arena must reuse the middle buffers while
 * keeping the skip alive. */
static void case_dag_reuse(TB *b)
{
    int x = tb_input(b, shp3(4, 8, 8));
    Window same = win(3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
    int skip = tb_conv(b, "stem", x, 8, same, 1, 1, A(ACT_RELU));
    int y = skip;
    for (int i = 0; i < 5; i++)
        y = tb_conv(b, i % 2 ? "odd" : "even", y, 8, same, 1, 1, A(ACT_RELU));
    int in[2] = { skip, y };
    int s = tb_nary(b, OP_ADD, "join", 2, in, NONE);
    int w = tb_conv(b, "wide", s, 16, same, 1, 1, NONE);
    int p = tb_pool(b, OP_MAXPOOL, "pool", w, win(2, 2, 2, 2, 1, 1, 0, 0, 0, 0), 0, NONE);
    tb_output(b, tb_unary(b, OP_GLOBAL_AVGPOOL, "gap", p, NONE));
}

/* Special inputs: -inf, +inf, NaN and -0 through pools and relu. Also
 * hostile text where comments and names are made of user data: a path
 * with comment delimiters, a trigraph and a newline, and non-identifier
 * op and tensor names. */
static void case_special_values(TB *b)
{
    b->g->path = "tests/backend/sp*/ec/*ial?\?/\n.cnn";
    int x = tb_input(b, shp3(2, 4, 4));
    int m = tb_pool(b, OP_MAXPOOL, "m*/ /*x", x, win(2, 2, 2, 2, 1, 1, 1, 1, 0, 0), 0, NONE);
    int r = tb_unary(b, OP_ACT, "r.1-2", x, A(ACT_RELU));
    int f1 = tb_unary(b, OP_FLATTEN, "f1", m, NONE);
    int f2 = tb_unary(b, OP_FLATTEN, "f2", r, NONE);
    int in[2] = { f1, f2 };
    tb_output(b, tb_nary(b, OP_CONCAT, "cat", 2, in, NONE));
}

/* Layer names that are C keywords, and two weights whose C names would
 * collide ("while.bias" and "while-bias" both give w_while_bias). */
static void case_names(TB *b)
{
    int x = tb_input(b, shp1(16));
    int d = tb_dense(b, "while", x, 12, 1, A(ACT_RELU));
    int e = tb_dense(b, "while_bias", d, 12, 1, NONE);
    b->g->t[b->g->ops[1].w].name = "while-bias";
    int in[2] = { d, e };
    tb_output(b, tb_nary(b, OP_ADD, "return", 2, in, NONE));
}

/* The lecture's network: 1.2M parameters. */
void case_fashion(TB *b)
{
    int x = tb_input(b, shp3(1, 28, 28));
    Window k3 = win(3, 3, 1, 1, 1, 1, 0, 0, 0, 0);
    int c1 = tb_conv(b, "conv1", x, 32, k3, 1, 1, NONE);
    int r = tb_unary(b, OP_ACT, "relu_0", c1, A(ACT_RELU));
    int c2 = tb_conv(b, "conv2", r, 64, k3, 1, 1, A(ACT_RELU));
    int p = tb_pool(b, OP_MAXPOOL, "maxpool_0", c2, win(2, 2, 2, 2, 1, 1, 0, 0, 0, 0), 0, NONE);
    int f = tb_unary(b, OP_FLATTEN, "flatten_0", p, NONE);
    int d1 = tb_dense(b, "fc1", f, 128, 1, A(ACT_RELU));
    int d2 = tb_dense(b, "fc2", d1, 10, 1, NONE);
    tb_output(b, tb_softmax(b, "softmax_0", d2, 0, NONE));
}

/* The optimizer's kernels (run through the passes by the opt_ modes):
 * pixels in the vector lanes with a remainder tile and asymmetric pads
 * (pad.c), a folded batchnorm, a strided and dilated conv with channels in
 * the lanes, grouped convs of 8 channels a group with partial blocks of 16,
 * a strided depthwise conv, and a 1x1 conv on a narrow map. */
static void case_kernels_conv(TB *b)
{
    int x = tb_input(b, shp3(5, 13, 37));
    int a = tb_conv(b, "pix", x, 20, win(3, 3, 1, 1, 1, 1, 1, 0, 2, 1), 1, 1, NONE);
    int n = tb_batchnorm(b, "pix_bn", a, 1e-3f, A(ACT_TANH));
    int s = tb_conv(b, "strided", n, 24, win(3, 3, 2, 2, 2, 1, 1, 1, 1, 1), 1, 0, A(ACT_RELU));
    int g = tb_conv(b, "grouped", s, 30, win(3, 3, 1, 1, 1, 1, 1, 1, 1, 1), 3, 1, A(ACT_ELU));
    int d = tb_conv(b, "dw", g, 30, win(3, 3, 2, 2, 1, 1, 1, 1, 1, 1), 30, 1, A(ACT_SWISH));
    tb_output(b, tb_conv(b, "pw", d, 40, win(1, 1, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, NONE));
}

/* Rows of 24 pixels: tiles of 24 pixels x 8 channels, called per half
 * block, the second half of the last block of 20 channels holding 4; then
 * a single output channel (one channel at a time, no channel loop). */
static void case_kernels_pixels(TB *b)
{
    int x = tb_input(b, shp3(3, 10, 24));
    int a = tb_conv(b, "pix24", x, 20, win(3, 3, 1, 1, 1, 1, 1, 1, 1, 1), 1, 1, A(ACT_RELU));
    tb_output(b, tb_conv(b, "one", a, 1, win(3, 3, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, NONE));
}

/* Dense blocks: 150 units (64 + 64 + 22 of 32), a folded batchnorm on a
 * vector, 70 units without bias (64 + 6 of 16), 120 (64 + 56 of 64: the
 * last block uses the full block's helper), 52 (one block of 64), then 10. */
static void case_kernels_dense(TB *b)
{
    int x = tb_input(b, shp1(300));
    int d1 = tb_dense(b, "d150", x, 150, 1, NONE);
    int n = tb_batchnorm(b, "d150_bn", d1, 1e-5f, A(ACT_RELU));
    int d2 = tb_dense(b, "d70", n, 70, 0, A(ACT_SIGMOID));
    int d3 = tb_dense(b, "d120", d2, 120, 1, A(ACT_RELU));
    int d4 = tb_dense(b, "d52", d3, 52, 1, NONE);
    tb_output(b, tb_dense(b, "d10", d4, 10, 1, NONE));
}

/* In place and views (inplace.c): an add over a dying input, a batchnorm
 * that cannot fold, a flatten as a view, a softmax over it. */
static void case_kernels_inplace(TB *b)
{
    int x = tb_input(b, shp3(6, 5, 7));
    int c1 = tb_conv(b, "c1", x, 8, win(3, 3, 1, 1, 1, 1, 1, 1, 1, 1), 1, 1, NONE);
    int c2 = tb_conv(b, "c2", x, 8, win(1, 1, 1, 1, 1, 1, 0, 0, 0, 0), 1, 1, NONE);
    int in[2] = { c1, c2 };
    int s = tb_nary(b, OP_ADD, "sum", 2, in, A(ACT_RELU));
    int n = tb_batchnorm(b, "bn", s, 1e-5f, NONE);
    int f = tb_unary(b, OP_FLATTEN, "flat", n, NONE);
    int sm = tb_softmax(b, "sm", f, 0, NONE);
    tb_output(b, tb_dense(b, "fc", sm, 12, 1, NONE));
}

const BackendCase backend_cases[] = {
    { "lenet_like", case_lenet_like, -1.0f, 1.0f, 0, 0 },
    { "conv_stride_pad", case_conv_stride_pad, -2.0f, 2.0f, 0, 0 },
    { "conv_dilation", case_conv_dilation, -2.0f, 2.0f, 0, 0 },
    { "conv_groups", case_conv_groups, -2.0f, 2.0f, 0, 0 },
    { "conv_degenerate", case_conv_degenerate, -2.0f, 2.0f, 0, 0 },
    { "maxpool", case_maxpool, -3.0f, 1.0f, 0, 0 },
    { "pool_empty", case_pool_empty, -3.0f, -1.0f, 0, 0 },
    { "avgpool", case_avgpool, -2.0f, 2.0f, 0, 0 },
    { "gap_bn_dense", case_gap_bn_dense, -2.0f, 2.0f, 0, 0 },
    { "add_concat", case_add_concat, -2.0f, 2.0f, 0, 0 },
    { "softmax", case_softmax, -8.0f, 8.0f, 0, 0 },
    { "activations", case_activations, -30.0f, 30.0f, 0, 0 },
    { "fused_everywhere", case_fused_everywhere, -4.0f, 4.0f, 0, 0 },
    { "dag_reuse", case_dag_reuse, -1.0f, 1.0f, 0, 0 },
    { "special_values", case_special_values, -2.0f, 2.0f, 1, 0 },
    { "names", case_names, -2.0f, 2.0f, 0, 0 },
    { "extern_weights", case_conv_groups, -2.0f, 2.0f, 0, 1 },
    { "fashion", case_fashion, 0.0f, 1.0f, 0, 0 },
    { "kernels_conv", case_kernels_conv, -2.0f, 2.0f, 0, 0 },
    { "kernels_pixels", case_kernels_pixels, -2.0f, 2.0f, 0, 0 },
    { "kernels_dense", case_kernels_dense, -2.0f, 2.0f, 0, 0 },
    { "kernels_inplace", case_kernels_inplace, -2.0f, 2.0f, 0, 0 },
    { "kernels_extern", case_kernels_conv, -2.0f, 2.0f, 0, 1 },
};
const int backend_ncases = (int)(sizeof backend_cases / sizeof backend_cases[0]);

const BackendCase *backend_case_find(const char *name)
{
    for (int i = 0; i < backend_ncases; i++)
        if (strcmp(backend_cases[i].name, name) == 0)
            return &backend_cases[i];
    return NULL;
}
