/* int8_run.c: a quantized model (cnnc --quantize int8 --name model) on
 * fixed inputs, for bench/mcu_int8.py and tests/firmware/int8_kernels.py.
 *
 * BUILD/int8_inputs.h (written by them) defines INT8_RUN_VECTORS and
 * int8_run_inputs[INT8_RUN_VECTORS][MODEL_INPUT_SIZE] (floats). For each
 * vector the program prints
 *
 *   out N: 3f800000 bd4ccccd ...       (model_run's floats as bit patterns)
 *
 * eight to a line, then the time of one model_run_int8() on vector 0
 * quantized as the header says (the int8 ops only):
 *
 *   int8_run: model_run_int8 1234 ticks
 *
 * in the board's 25 MHz timer ticks (mps2.c): 40 instructions each under
 * QEMU -icount shift=0. */
#include "int8_inputs.h"
#include "model.h"
#include "mps2.h"
#include "semihost.h"

static float output[MODEL_OUTPUT_SIZE];
static int8_t qin[MODEL_INPUT_SIZE];
#if MODEL_INT8_OUTPUT
static int8_t qout[MODEL_OUTPUT_SIZE];
#else
static float qout[MODEL_OUTPUT_SIZE];
#endif

static void put_hex(char *dst, uint32_t u)
{
    static const char hex[] = "0123456789abcdef";
    for (int k = 0; k < 8; k++)
        dst[k] = hex[(u >> (28 - 4 * k)) & 15u];
}

static void print_output(int v)
{
    char line[8 * 9 + 1];
    semihost_printf("out %d:", v);
    for (int i = 0; i < MODEL_OUTPUT_SIZE; i += 8) {
        int n = 0;
        for (int j = i; j < i + 8 && j < MODEL_OUTPUT_SIZE; j++) {
            union { float f; uint32_t u; } bits;
            bits.f = output[j];
            line[n++] = ' ';
            put_hex(line + n, bits.u);
            n += 8;
        }
        line[n++] = '\n';
        semihost_write(line, (size_t)n);
    }
}

/* The model's quantize op (docs/quantization.md). */
static void quantize_input(const float *x)
{
    for (int i = 0; i < MODEL_INPUT_SIZE; i++) {
        float v = x[i] / MODEL_INPUT_SCALE;
        int q;
        v = v < 0.0f ? v - 0.5f : v + 0.5f;
        if (!(v > -256.0f))
            v = -256.0f;
        if (v > 256.0f)
            v = 256.0f;
        q = (int)v + MODEL_INPUT_ZERO_POINT;
        qin[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
}

int main(void)
{
    for (int v = 0; v < INT8_RUN_VECTORS; v++) {
        model_run(int8_run_inputs[v], output);
        print_output(v);
    }
    quantize_input(int8_run_inputs[0]);
    mps2_timer_start();
    uint32_t t0 = mps2_timer_ticks();
    model_run_int8(qin, qout);
    uint32_t t1 = mps2_timer_ticks();
    semihost_printf("int8_run: model_run_int8 %lu ticks\n", (unsigned long)(t1 - t0));
    return 0;
}
