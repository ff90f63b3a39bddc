/* test_interp.c: the reference interpreter against values derived by hand
 * and, where noted, cross-checked independently with NumPy or PyTorch
 * (/usr/bin/python3, torch.nn.functional) and pasted in as literals.
 *
 * Every test builds a Graph by hand (graph_new / graph_add_tensor /
 * graph_add_op), runs interp_run and compares the output. Exact values are
 * compared with tolerance 0; values of transcendental functions with 1e-6.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ir.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- building graphs ---- */

typedef struct Net {
    Arena *arena;
    Ctx ctx;
    Graph *g;
} Net;

static void net_init(Net *n)
{
    n->arena = arena_new();
    ctx_init(&n->ctx, n->arena);
    n->g = graph_new(&n->ctx, "test", "test.cnn");
}

static Shape shape3(int c, int h, int w)
{
    Shape s = { 3, { c, h, w, 0 } };
    return s;
}

static Shape shape1(int n)
{
    Shape s = { 1, { n, 0, 0, 0 } };
    return s;
}

static int net_tensor(Net *n, const char *name, TensorRole role, Shape s)
{
    int id = graph_add_tensor(&n->ctx, n->g, name, role, s);
    if (role == TR_INPUT)
        n->g->input = id;
    if (role == TR_OUTPUT)
        n->g->output = id;
    return id;
}

static int net_weight(Net *n, const char *name, Shape s, const float *v)
{
    int id = graph_add_tensor(&n->ctx, n->g, name, TR_WEIGHT, s);
    float *data = arena_alloc(n->arena, (size_t)n->g->t[id].numel * sizeof(float));
    memcpy(data, v, (size_t)n->g->t[id].numel * sizeof(float));
    n->g->t[id].data = data;
    return id;
}

static Op *net_op_n(Net *n, OpKind kind, const int *in, int nin, int out)
{
    Op *op = graph_add_op(&n->ctx, n->g, kind);
    op->name = op_kind_name(kind);
    op->in = arena_alloc(n->arena, (size_t)nin * sizeof(int));
    memcpy(op->in, in, (size_t)nin * sizeof(int));
    op->nin = nin;
    op->out = out;
    n->g->t[out].producer = n->g->nops - 1;
    return op;
}

static Op *net_op(Net *n, OpKind kind, int in, int out)
{
    return net_op_n(n, kind, &in, 1, out);
}

static Window window(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb,
                     int pr)
{
    Window w = { kh, kw, sh, sw, dh, dw, pt, pl, pb, pr };
    return w;
}

/* Runs the net on in and frees it; the result is in out. */
static void net_run(Net *n, const float *in, float *out)
{
    CHECK_INT(interp_run(n->g, in, out), 0);
    arena_free(n->arena);
}

/* A one-op graph: input [ci,hi,wi] -> out [co,ho,wo] of the given kind. */
static Op *net_single(Net *n, OpKind kind, Shape in, Shape out)
{
    net_init(n);
    int x = net_tensor(n, "x", TR_INPUT, in);
    int y = net_tensor(n, "y", TR_OUTPUT, out);
    return net_op(n, kind, x, y);
}

/* ---- the lecture's worked examples ---- */

static const float lecture_image[25] = {
    1, 0, 1, 0, 1,
    1, 0, 0, 1, 1,
    0, 1, 1, 0, 0,
    1, 0, 0, 1, 0,
    0, 0, 1, 1, 0,
};
static const float lecture_kernel[9] = { 0, 1, 0, 1, 0, -1, 0, 1, 0 };

/* Conv of the lecture image with the lecture kernel, stride s, pad p. */
static void lecture_conv(int s, int p, int out_hw, float *out)
{
    Net n;
    Op *op = net_single(&n, OP_CONV, shape3(1, 5, 5), shape3(1, out_hw, out_hw));
    op->w = net_weight(&n, "conv.weight", (Shape){ 4, { 1, 1, 3, 3 } }, lecture_kernel);
    op->win = window(3, 3, s, s, 1, 1, p, p, p, p);
    op->groups = 1;
    net_run(&n, lecture_image, out);
}

static void test_lecture_conv(void)
{
    /* Cross-correlation as PyTorch computes it: each value is
     * up + left - right + down of the window's centre, e.g. valid (0,0) =
     * I(0,1) + I(1,0) - I(1,2) + I(2,1) = 0+1-0+1 = 2; numpy (sliding sum)
     * and torch.nn.functional.conv2d agree with all of them. */
    static const float valid[9] = { 2, 1, -1, -1, 1, 3, 2, 1, 1 };
    static const float stride2[4] = { 2, -1, 2, 1 };
    /* The lecture's slide for padding 1 is wrong. By the formula
     * out(y,x) = I(y-1,x) + I(y,x-1) - I(y,x+1) + I(y+1,x), zero outside:
     * e.g. out(0,0) = 0+0-0+1 = 1, out(0,1) = 0+1-1+0 = 0, out(0,3) = 0+1-1+1 = 1.
     * Checked with numpy (np.pad + sliding sum) and torch F.conv2d(padding=1). */
    static const float pad1[25] = {
        1, 0, 0, 1, 1,
        1, 2, 1, -1, 2,
        1, -1, 1, 3, 1,
        0, 2, 1, 1, 1,
        1, -1, -1, 2, 1,
    };
    float out[25];
    lecture_conv(1, 0, 3, out);
    CHECK_FLOATS(out, valid, 9, 0.0);
    lecture_conv(2, 0, 2, out);
    CHECK_FLOATS(out, stride2, 4, 0.0);
    lecture_conv(1, 1, 5, out);
    CHECK_FLOATS(out, pad1, 25, 0.0);
}

static void test_lecture_maxpool(void)
{
    static const float in[16] = { 4, 123, 1, 34, 56, 99, 222, 253,
                                  45, 122, 165, 12, 21, 187, 133, 124 };
    static const float want[4] = { 123, 253, 187, 165 };
    float out[4];
    Net n;
    Op *op = net_single(&n, OP_MAXPOOL, shape3(1, 4, 4), shape3(1, 2, 2));
    op->win = window(2, 2, 2, 2, 1, 1, 0, 0, 0, 0);
    net_run(&n, in, out);
    CHECK_FLOATS(out, want, 4, 0.0);
}

/* ---- conv2d: channels, bias, fused activation, groups, dilation ---- */

/* x[c][y][x] = c*9 + y*3 + x - 8 over [2,3,3]; 2 filters 2x2 with bias.
 * Filter 0 at (0,0): (-8 - -4) + (0.5*1 + 0.5*2) + 0.5 = -2 (by hand); all
 * values from torch F.conv2d(x, w, b). */
static void conv_bias_case(ActKind act, float *out)
{
    static const float w[16] = { 1, 0, 0, -1, 0.5f, 0.5f, 0, 0,
                                 -1, 1, 1, -1, 0, 0, 1, 0 };
    static const float b[2] = { 0.5f, -1.0f };
    float in[18];
    for (int i = 0; i < 18; i++)
        in[i] = (float)i - 8;
    Net n;
    Op *op = net_single(&n, OP_CONV, shape3(2, 3, 3), shape3(2, 2, 2));
    op->w = net_weight(&n, "c.weight", (Shape){ 4, { 2, 2, 2, 2 } }, w);
    op->b = net_weight(&n, "c.bias", shape1(2), b);
    op->win = window(2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    op->groups = 1;
    op->act.kind = act;
    net_run(&n, in, out);
}

static void test_conv_bias_act(void)
{
    static const float plain[8] = { -2, -1, 1, 2, 3, 4, 6, 7 };
    static const float relu[8] = { 0, 0, 1, 2, 3, 4, 6, 7 };   /* act after bias */
    float out[8];
    conv_bias_case(ACT_NONE, out);
    CHECK_FLOATS(out, plain, 8, 0.0);
    conv_bias_case(ACT_RELU, out);
    CHECK_FLOATS(out, relu, 8, 0.0);
}

/* x[i] = 0.5*i - 9 over [4,3,3]; values from torch F.conv2d(groups=...).
 * Group g of filter f is f / (F/groups), not f % groups: the 4-filter case
 * tells them apart. */
static void test_conv_groups(void)
{
    static const float w2[16] = { 1, -1, 2, 0, 0.5f, 0, 0, 1, -1, 0, 0, 1, 2, 1, -1, 0 };
    static const float want2[8] = { -20.25f, -18.5f, -15, -13.25f, 10, 11, 13, 14 };
    static const float w4[16] = { 1, 0, 0, 1, 0, 1, 1, 0, -1, 0, 0, 0, 0, 0, 0, 2 };
    static const float b4[4] = { 0, 1, 2, 3 };
    static const float want4[16] = { -16, -15, -13, -12, -6, -5, -3, -2,
                                     2, 1.5f, 0.5f, 0, 16, 17, 19, 20 };
    float in[36], out[16];
    for (int i = 0; i < 36; i++)
        in[i] = 0.5f * (float)i - 9;
    Net n;
    Op *op = net_single(&n, OP_CONV, shape3(4, 3, 3), shape3(2, 2, 2));
    op->w = net_weight(&n, "g.weight", (Shape){ 4, { 2, 2, 2, 2 } }, w2);
    op->win = window(2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    op->groups = 2;
    net_run(&n, in, out);
    CHECK_FLOATS(out, want2, 8, 0.0);

    /* 4 filters in 2 groups: filters 0,1 read channels 0,1; filters 2,3
     * read channels 2,3. w[i] = i%7 - 3. Filter 1 at (0,0), by hand:
     * (-2*-9 + -1*-8.5 + 0 + 1*-7) + (2*-4.5 + 3*-4 + -3*-3 + -2*-2.5) = 12.5. */
    float w42[32];
    static const float want42[16] = { 37.5f, 36, 33, 31.5f, 12.5f, 11.5f, 9.5f, 8.5f,
                                      -14.5f, -15, -16, -16.5f, -20, -20, -20, -20 };
    for (int i = 0; i < 32; i++)
        w42[i] = (float)(i % 7 - 3);
    op = net_single(&n, OP_CONV, shape3(4, 3, 3), shape3(4, 2, 2));
    op->w = net_weight(&n, "g.weight", (Shape){ 4, { 4, 2, 2, 2 } }, w42);
    op->win = window(2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    op->groups = 2;
    net_run(&n, in, out);
    CHECK_FLOATS(out, want42, 16, 0.0);

    op = net_single(&n, OP_CONV, shape3(4, 3, 3), shape3(4, 2, 2));   /* depthwise */
    op->w = net_weight(&n, "d.weight", (Shape){ 4, { 4, 1, 2, 2 } }, w4);
    op->b = net_weight(&n, "d.bias", shape1(4), b4);
    op->win = window(2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    op->groups = 4;
    net_run(&n, in, out);
    CHECK_FLOATS(out, want4, 16, 0.0);
}

/* x = 1..25 over [1,5,5]; kernel [[1,2],[3,4]], dilation 2, stride (1,2),
 * pads top 1, left 0, bottom 0, right 2: OH = (5+1-2-1)/1+1 = 4,
 * OW = (5+2-2-1)/2+1 = 3. (0,0): row -1 is padding, row 1 gives
 * 3*x[1][0] + 4*x[1][2] = 18 + 32, plus bias 0.25 = 50.25 (by hand); all
 * values from torch F.conv2d(F.pad(x, (0,2,1,0)), w, dilation=2, stride=(1,2)). */
static void test_conv_dilation_asymmetric_pad(void)
{
    static const float w[4] = { 1, 2, 3, 4 };
    static const float b[1] = { 0.25f };
    static const float want[12] = { 50.25f, 64.25f, 30.25f, 92.25f, 112.25f, 50.25f,
                                    142.25f, 162.25f, 70.25f, 192.25f, 212.25f, 90.25f };
    float in[25], out[12];
    for (int i = 0; i < 25; i++)
        in[i] = (float)(i + 1);
    Net n;
    Op *op = net_single(&n, OP_CONV, shape3(1, 5, 5), shape3(1, 4, 3));
    op->w = net_weight(&n, "c.weight", (Shape){ 4, { 1, 1, 2, 2 } }, w);
    op->b = net_weight(&n, "c.bias", shape1(1), b);
    op->win = window(2, 2, 1, 2, 2, 2, 1, 0, 0, 2);
    op->groups = 1;
    net_run(&n, in, out);
    CHECK_FLOATS(out, want, 12, 0.0);
}

/* ---- pooling ---- */

static void pool_case(OpKind kind, int count_pad, Window win, Shape in_s, Shape out_s,
                      const float *in, float *out)
{
    Net n;
    Op *op = net_single(&n, kind, in_s, out_s);
    op->win = win;
    op->count_pad = count_pad;
    net_run(&n, in, out);
}

/* x = 1..9 over [1,3,3], kernel 2, stride 1, pad 1 -> 4x4. Corner (0,0)
 * has one real tap, x[0][0] = 1: 1/1 without count_pad, 1/4 with it.
 * All values from torch F.avg_pool2d(count_include_pad=False / True). */
static void test_avgpool(void)
{
    static const float no_pad[16] = { 1, 1.5f, 2.5f, 3, 2.5f, 3, 4, 4.5f,
                                      5.5f, 6, 7, 7.5f, 7, 7.5f, 8.5f, 9 };
    static const float with_pad[16] = { 0.25f, 0.75f, 1.25f, 0.75f, 1.25f, 3, 4, 2.25f,
                                        2.75f, 6, 7, 3.75f, 1.75f, 3.75f, 4.25f, 2.25f };
    float in[9], out[16];
    for (int i = 0; i < 9; i++)
        in[i] = (float)(i + 1);
    Window w = window(2, 2, 1, 1, 1, 1, 1, 1, 1, 1);
    pool_case(OP_AVGPOOL, 0, w, shape3(1, 3, 3), shape3(1, 4, 4), in, out);
    CHECK_FLOATS(out, no_pad, 16, 0.0);
    pool_case(OP_AVGPOOL, 1, w, shape3(1, 3, 3), shape3(1, 4, 4), in, out);
    CHECK_FLOATS(out, with_pad, 16, 0.0);

    /* Asymmetric: pad right 1 only, kernel 2 stride 2 over a 1x3 row:
     * windows {1,2} -> 1.5 and {3, pad} -> 3 (or 1.5 with count_pad). */
    Window a = window(1, 2, 1, 2, 1, 1, 0, 0, 0, 1);
    pool_case(OP_AVGPOOL, 0, a, shape3(1, 1, 3), shape3(1, 1, 2), in, out);
    CHECK_NEAR(out[0], 1.5, 0.0);
    CHECK_NEAR(out[1], 3.0, 0.0);
    pool_case(OP_AVGPOOL, 1, a, shape3(1, 1, 3), shape3(1, 1, 2), in, out);
    CHECK_NEAR(out[1], 1.5, 0.0);
}

static void test_maxpool_padding_dilation(void)
{
    /* x = -1..-9 over [1,3,3], kernel 2 stride 2 pad 1: the zero padding
     * must never win, so (0,0) = -1 (its only real tap), (0,1) = max(-2,-3),
     * (1,0) = max(-4,-7), (1,1) = max(-5,-6,-8,-9). Same as torch
     * F.max_pool2d(-x, 2, 2, 1). */
    static const float want_neg[4] = { -1, -2, -4, -5 };
    float in[16], out[9];
    for (int i = 0; i < 9; i++)
        in[i] = -(float)(i + 1);
    pool_case(OP_MAXPOOL, 0, window(2, 2, 2, 2, 1, 1, 1, 1, 1, 1), shape3(1, 3, 3),
              shape3(1, 2, 2), in, out);
    CHECK_FLOATS(out, want_neg, 4, 0.0);

    /* x = 0..15 over [1,4,4] with x[0][0] = 100; kernel 2 dilation 2:
     * (0,0) = max(x00, x02, x20, x22) = 100, (0,1) = max(1,3,9,11) = 11,
     * (1,0) = 14, (1,1) = 15; torch F.max_pool2d(x, 2, 1, 0, dilation=2). */
    static const float want_dil[4] = { 100, 11, 14, 15 };
    for (int i = 0; i < 16; i++)
        in[i] = (float)i;
    in[0] = 100;
    pool_case(OP_MAXPOOL, 0, window(2, 2, 1, 1, 2, 2, 0, 0, 0, 0), shape3(1, 4, 4),
              shape3(1, 2, 2), in, out);
    CHECK_FLOATS(out, want_dil, 4, 0.0);
}

/* Kernel 1, stride 2, pad 1 over 2x2 -> 2x2 (OH = (2+2-1)/2+1): window
 * (0,0) reads (-1,-1), padding only, so max and avg give 0; (1,1) reads
 * (1,1) = x[3]. */
static void test_pool_empty_window(void)
{
    static const float in[4] = { -5, -6, -7, -8 };
    static const float want[4] = { 0, 0, 0, -8 };
    float out[4];
    Window w = window(1, 1, 2, 2, 1, 1, 1, 1, 1, 1);
    pool_case(OP_MAXPOOL, 0, w, shape3(1, 2, 2), shape3(1, 2, 2), in, out);
    CHECK_FLOATS(out, want, 4, 0.0);
    pool_case(OP_AVGPOOL, 0, w, shape3(1, 2, 2), shape3(1, 2, 2), in, out);
    CHECK_FLOATS(out, want, 4, 0.0);
}

/* ---- global_avgpool, flatten, dense, batchnorm ---- */

static void test_global_avgpool_flatten(void)
{
    static const float in[8] = { 1, 2, 3, 4, -1, 0.5f, 0, 2.5f };
    static const float want[2] = { 2.5f, 0.5f };      /* (1+2+3+4)/4, (-1+.5+0+2.5)/4 */
    float out[8];
    Net n;
    net_single(&n, OP_GLOBAL_AVGPOOL, shape3(2, 2, 2), shape3(2, 1, 1));
    net_run(&n, in, out);
    CHECK_FLOATS(out, want, 2, 0.0);

    net_single(&n, OP_FLATTEN, shape3(2, 2, 2), shape1(8));
    net_run(&n, in, out);
    CHECK_FLOATS(out, in, 8, 0.0);                    /* C,H,W order is memory order */
}

/* x = [1,2,3], w = [[1,0,-1],[.5,.5,.5]]: w x = [-2, 3]; + b [.25,-3]
 * = [-1.75, 0] (by hand). */
static void test_dense(void)
{
    static const float x[3] = { 1, 2, 3 };
    static const float w[6] = { 1, 0, -1, 0.5f, 0.5f, 0.5f };
    static const float b[2] = { 0.25f, -3 };
    static const float want_b[2] = { -1.75f, 0 }, want_nob[2] = { -2, 3 };
    float out[2];
    Net n;
    Op *op = net_single(&n, OP_DENSE, shape1(3), shape1(2));
    op->w = net_weight(&n, "fc.weight", (Shape){ 2, { 2, 3, 0, 0 } }, w);
    op->b = net_weight(&n, "fc.bias", shape1(2), b);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want_b, 2, 0.0);

    op = net_single(&n, OP_DENSE, shape1(3), shape1(2));
    op->w = net_weight(&n, "fc.weight", (Shape){ 2, { 2, 3, 0, 0 } }, w);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want_nob, 2, 0.0);
}

/* gamma [2, .5], beta [.1, -1], mean [1, 0], var [3, .25], eps 1:
 * channel 0: scale 2/sqrt(4) = 1, y = x - 1 + .1; channel 1:
 * scale .5/sqrt(1.25), y = .4472135955 x - 1 (math, evaluated in double). */
static Op *bn_case(Net *n, Shape s)
{
    static const float gamma[2] = { 2, 0.5f }, beta[2] = { 0.1f, -1 };
    static const float mean[2] = { 1, 0 }, var[2] = { 3, 0.25f };
    Op *op = net_single(n, OP_BATCHNORM, s, s);
    op->w = net_weight(n, "bn.weight", shape1(2), gamma);
    op->b = net_weight(n, "bn.bias", shape1(2), beta);
    op->mean = net_weight(n, "bn.running_mean", shape1(2), mean);
    op->var = net_weight(n, "bn.running_var", shape1(2), var);
    op->epsilon = 1.0f;
    return op;
}

static void test_batchnorm(void)
{
    static const float in3[4] = { 1, 3, -2, 4 };
    static const double want3[4] = { 0.1, 2.1, -1.8944271909999157, 0.7888543819998317 };
    static const float in1[2] = { 3, -2 };
    static const double want1[2] = { 2.1, -1.8944271909999157 };
    float out[4];
    Net n;
    bn_case(&n, shape3(2, 1, 2));
    net_run(&n, in3, out);
    CHECK_FLOATS(out, want3, 4, 1e-6);
    bn_case(&n, shape1(2));
    net_run(&n, in1, out);
    CHECK_FLOATS(out, want1, 2, 1e-6);
    bn_case(&n, shape1(2))->act.kind = ACT_RELU;      /* fused: applied last */
    net_run(&n, in1, out);
    CHECK_NEAR(out[0], 2.1, 1e-6);
    CHECK_NEAR(out[1], 0.0, 0.0);
}

/* ---- add and concat: graphs with intermediate tensors ---- */

static void test_add(void)
{
    /* add(x, relu(x), leaky_relu_0.1(x)) for x = [-1, .5, 2]:
     * [-1+0-.1, .5+.5+.5, 2+2+2] = [-1.1, 1.5, 6] (by hand). */
    static const float x[3] = { -1, 0.5f, 2 };
    static const float want[3] = { -1.1f, 1.5f, 6 };
    float out[3];
    Net n;
    net_init(&n);
    int in = net_tensor(&n, "x", TR_INPUT, shape3(1, 1, 3));
    int r = net_tensor(&n, "r", TR_ACT, shape3(1, 1, 3));
    int l = net_tensor(&n, "l", TR_ACT, shape3(1, 1, 3));
    int y = net_tensor(&n, "y", TR_OUTPUT, shape3(1, 1, 3));
    net_op(&n, OP_ACT, in, r)->act.kind = ACT_RELU;
    Op *lk = net_op(&n, OP_ACT, in, l);
    lk->act.kind = ACT_LEAKY_RELU;
    lk->act.alpha = 0.1f;
    const int ins[3] = { in, r, l };
    net_op_n(&n, OP_ADD, ins, 3, y);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want, 3, 1e-6);

    /* add(x, x) with a fused relu: [0, 1, 4]. */
    static const float want2[3] = { 0, 1, 4 };
    net_init(&n);
    in = net_tensor(&n, "x", TR_INPUT, shape1(3));
    y = net_tensor(&n, "y", TR_OUTPUT, shape1(3));
    const int twice[2] = { in, in };
    net_op_n(&n, OP_ADD, twice, 2, y)->act.kind = ACT_RELU;
    net_run(&n, x, out);
    CHECK_FLOATS(out, want2, 3, 0.0);
}

static void test_concat(void)
{
    /* x = [1,-2,3,-4] as [1,2,2]; a = relu(x); b = 1x1 conv with 2
     * filters (2 and -1): concat(a, x, b) along channels (by hand). */
    static const float x[4] = { 1, -2, 3, -4 };
    static const float w[2] = { 2, -1 };
    static const float want[16] = { 1, 0, 3, 0, 1, -2, 3, -4,
                                    2, -4, 6, -8, -1, 2, -3, 4 };
    float out[16];
    Net n;
    net_init(&n);
    int in = net_tensor(&n, "x", TR_INPUT, shape3(1, 2, 2));
    int a = net_tensor(&n, "a", TR_ACT, shape3(1, 2, 2));
    int b = net_tensor(&n, "b", TR_ACT, shape3(2, 2, 2));
    int y = net_tensor(&n, "y", TR_OUTPUT, shape3(4, 2, 2));
    net_op(&n, OP_ACT, in, a)->act.kind = ACT_RELU;
    Op *c = net_op(&n, OP_CONV, in, b);
    c->w = net_weight(&n, "b.weight", (Shape){ 4, { 2, 1, 1, 1 } }, w);
    c->win = window(1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
    c->groups = 1;
    const int ins[3] = { a, in, b };
    net_op_n(&n, OP_CONCAT, ins, 3, y);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want, 16, 0.0);

    /* Vectors: concat(x, dense(x)) with dense weights [[1,1,1,1]] -> sum -2. */
    static const float ones[4] = { 1, 1, 1, 1 };
    static const float want1[5] = { 1, -2, 3, -4, -2 };
    net_init(&n);
    in = net_tensor(&n, "x", TR_INPUT, shape1(4));
    int d = net_tensor(&n, "d", TR_ACT, shape1(1));
    y = net_tensor(&n, "y", TR_OUTPUT, shape1(5));
    net_op(&n, OP_DENSE, in, d)->w = net_weight(&n, "d.weight", (Shape){ 2, { 1, 4, 0, 0 } },
                                                ones);
    const int pair[2] = { in, d };
    net_op_n(&n, OP_CONCAT, pair, 2, y);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want1, 5, 0.0);
}

/* ---- softmax ---- */

static void test_softmax(void)
{
    /* x over [2,2,3]; expected from numpy in float64:
     * e = exp(x - x.max(axis, keepdims=True)); e / e.sum(axis, keepdims=True) */
    static const float x[12] = { 0.5f, -1, 2, 3, 0, -2, 1, 1, 1, -4, 2.5f, 0 };
    static const double want[3][12] = {
        { 0.37754066879814546, 0.11920292202211755, 0.7310585786300049, 0.9990889488055994,
          0.07585818002124356, 0.11920292202211755, 0.6224593312018546, 0.8807970779778825,
          0.26894142136999516, 0.0009110511944006454, 0.9241418199787566, 0.8807970779778825 },
        { 0.07585818002124356, 0.26894142136999516, 0.9820137900379085, 0.9241418199787566,
          0.7310585786300049, 0.017986209962091555, 0.9933071490757153, 0.18242552380635632,
          0.7310585786300049, 0.006692850924284856, 0.8175744761936437, 0.26894142136999516 },
        { 0.1752903921400367, 0.03911257327068745, 0.7855970345892759, 0.9464991225528937,
          0.04712341652466415, 0.006377460922442298, 0.3333333333333333, 0.3333333333333333,
          0.3333333333333333, 0.001387463302955296, 0.9228596071168097, 0.0757529295802351 },
    };
    float out[12];
    for (int axis = 0; axis < 3; axis++) {
        Net n;
        net_single(&n, OP_SOFTMAX, shape3(2, 2, 3), shape3(2, 2, 3))->axis = axis;
        net_run(&n, x, out);
        CHECK_FLOATS(out, want[axis], 12, 1e-6);
    }

    /* A vector, and large logits that overflow expf without the max shift:
     * softmax([1000, 1001]) = [1/(1+e), e/(1+e)]. */
    static const float big[2] = { 1000, 1001 };
    static const double want_big[2] = { 0.26894142136999516, 0.7310585786300049 };
    Net n;
    net_single(&n, OP_SOFTMAX, shape1(2), shape1(2));
    net_run(&n, big, out);
    CHECK_FLOATS(out, want_big, 2, 1e-6);
}

/* ---- activations ---- */

static float act_at(ActKind kind, float alpha, float beta, float x)
{
    Act a = { kind, alpha, beta };
    return act_apply(&a, x);
}

/* Expected values from the formulas, evaluated in double (Python's math). */
static void test_activations(void)
{
    CHECK_NEAR(act_at(ACT_NONE, 0, 0, -3.5f), -3.5, 0.0);
    CHECK_NEAR(act_at(ACT_RELU, 0, 0, -2), 0.0, 0.0);
    CHECK_NEAR(act_at(ACT_RELU, 0, 0, 3), 3.0, 0.0);
    CHECK_NEAR(act_at(ACT_LEAKY_RELU, 0.1f, 0, -2), -0.2, 1e-7);
    CHECK_NEAR(act_at(ACT_LEAKY_RELU, 0.1f, 0, 3), 3.0, 0.0);
    CHECK_NEAR(act_at(ACT_SIGMOID, 0, 0, 0), 0.5, 0.0);
    CHECK_NEAR(act_at(ACT_SIGMOID, 0, 0, 2), 0.8807970779778823, 1e-6);   /* 1/(1+e^-2) */
    CHECK_NEAR(act_at(ACT_SIGMOID, 0, 0, -1), 0.2689414213699951, 1e-6);
    CHECK_NEAR(act_at(ACT_TANH, 0, 0, 0.5f), 0.46211715726000974, 1e-6);
    CHECK_NEAR(act_at(ACT_TANH, 0, 0, -1), -0.7615941559557649, 1e-6);
    CHECK_NEAR(act_at(ACT_ELU, 1, 0, -1), -0.6321205588285577, 1e-6);     /* e^-1 - 1 */
    CHECK_NEAR(act_at(ACT_ELU, 0.5f, 0, -2), -0.43233235838169365, 1e-6); /* .5(e^-2 - 1) */
    CHECK_NEAR(act_at(ACT_ELU, 1, 0, 2), 2.0, 0.0);
    CHECK_NEAR(act_at(ACT_SELU, 0, 0, 1), 1.0507009873554805, 1e-6);
    CHECK_NEAR(act_at(ACT_SELU, 0, 0, -1), -1.1113307378125625, 1e-6);   /* l*a*(e^-1 - 1) */
    CHECK_NEAR(act_at(ACT_SOFTPLUS, 0, 0, 0), 0.6931471805599453, 1e-6);  /* ln 2 */
    CHECK_NEAR(act_at(ACT_SOFTPLUS, 0, 0, 1), 1.3132616875182228, 1e-6);  /* ln(1+e) */
    CHECK(fabs(act_at(ACT_SOFTPLUS, 0, 0, -30) / 9.357622968839737e-14 - 1) < 1e-6);
    CHECK_NEAR(act_at(ACT_SOFTPLUS, 0, 0, 21), 21.0, 0.0);                /* threshold: */
    CHECK_NEAR(act_at(ACT_SOFTPLUS, 0, 0, 100), 100.0, 0.0);              /* no expf overflow */
    CHECK_NEAR(act_at(ACT_SWISH, 0, 0, 1), 0.7310585786300049, 1e-6);     /* 1/(1+e^-1) */
    CHECK_NEAR(act_at(ACT_SWISH, 0, 0, -2), -0.2384058440442351, 1e-6);   /* -2/(1+e^2) */
    CHECK_NEAR(act_at(ACT_RBF, 1, 2, 1), 1.0, 0.0);                       /* center */
    CHECK_NEAR(act_at(ACT_RBF, 1, 2, 1.5f), 0.36787944117144233, 1e-6);   /* e^-(2*.5)^2 */
    CHECK_NEAR(act_at(ACT_RBF, 0, 1, -3), 0.00012340980408667956, 1e-6);  /* e^-9 */
}

/* OP_ACT applies its own act to every element, for each kind. */
static void test_act_op(void)
{
    static const float x[3] = { -1, 0, 2 };
    static const double want[3] = { -0.6321205588285577, 0, 2 };   /* elu, alpha 1 */
    float out[3];
    Net n;
    Op *op = net_single(&n, OP_ACT, shape1(3), shape1(3));
    op->act.kind = ACT_ELU;
    op->act.alpha = 1;
    net_run(&n, x, out);
    CHECK_FLOATS(out, want, 3, 1e-6);
}

/* ---- a whole network, and the degenerate graph ---- */

/* conv3x3(2->3)+relu, maxpool 2, flatten, dense(12->4), softmax, with
 * x[i] = ((i%7)-3)/4, w1[i] = ((i%5)-2)/8, w2[i] = ((i%3)-1)/2. Logits
 * [0.65625, 1.15625, 0.15625, 1.65625] and softmax from PyTorch (float32). */
static void test_network(void)
{
    static const float b1[3] = { 0.1f, -0.2f, 0.3f }, b2[4] = { 0, 0.5f, -0.5f, 1 };
    static const double want[4] = { 0.16740509867668152, 0.2760043442249298,
                                    0.101536326110363, 0.45505422353744507 };
    float x[72], w1[54], w2[48], out[4];
    for (int i = 0; i < 72; i++)
        x[i] = (float)(i % 7 - 3) * 0.25f;
    for (int i = 0; i < 54; i++)
        w1[i] = (float)(i % 5 - 2) * 0.125f;
    for (int i = 0; i < 48; i++)
        w2[i] = (float)(i % 3 - 1) * 0.5f;
    Net n;
    net_init(&n);
    int t0 = net_tensor(&n, "x", TR_INPUT, shape3(2, 6, 6));
    int t1 = net_tensor(&n, "c", TR_ACT, shape3(3, 4, 4));
    int t2 = net_tensor(&n, "p", TR_ACT, shape3(3, 2, 2));
    int t3 = net_tensor(&n, "f", TR_ACT, shape1(12));
    int t4 = net_tensor(&n, "d", TR_ACT, shape1(4));
    int t5 = net_tensor(&n, "y", TR_OUTPUT, shape1(4));
    Op *c = net_op(&n, OP_CONV, t0, t1);
    c->w = net_weight(&n, "c.weight", (Shape){ 4, { 3, 2, 3, 3 } }, w1);
    c->b = net_weight(&n, "c.bias", shape1(3), b1);
    c->win = window(3, 3, 1, 1, 1, 1, 0, 0, 0, 0);
    c->groups = 1;
    c->act.kind = ACT_RELU;
    net_op(&n, OP_MAXPOOL, t1, t2)->win = window(2, 2, 2, 2, 1, 1, 0, 0, 0, 0);
    net_op(&n, OP_FLATTEN, t2, t3);
    Op *d = net_op(&n, OP_DENSE, t3, t4);
    d->w = net_weight(&n, "d.weight", (Shape){ 2, { 4, 12, 0, 0 } }, w2);
    d->b = net_weight(&n, "d.bias", shape1(4), b2);
    net_op(&n, OP_SOFTMAX, t4, t5);
    net_run(&n, x, out);
    CHECK_FLOATS(out, want, 4, 1e-6);
}

/* A model whose output is its input still fills output. */
static void test_identity_graph(void)
{
    static const float x[3] = { 1, 2, 3 };
    float out[3] = { 0, 0, 0 };
    Net n;
    net_init(&n);
    n.g->output = net_tensor(&n, "x", TR_INPUT, shape1(3));
    net_run(&n, x, out);
    CHECK_FLOATS(out, x, 3, 0.0);
}

int main(void)
{
    test_lecture_conv();
    test_lecture_maxpool();
    test_conv_bias_act();
    test_conv_groups();
    test_conv_dilation_asymmetric_pad();
    test_avgpool();
    test_maxpool_padding_dilation();
    test_pool_empty_window();
    test_global_avgpool_flatten();
    test_dense();
    test_batchnorm();
    test_add();
    test_concat();
    test_softmax();
    test_activations();
    test_act_op();
    test_network();
    test_identity_graph();
    return check_status("test_interp");
}
