/* main.c: a bare-metal-style program around the C that cnnc generates,
 * built as firmware is (Makefile: -ffreestanding, -nostdlib but libm, -Os).
 *
 * It has no stdio, no heap and no libc: a fixed input buffer that a sensor
 * would fill, one call of model_run() (cnnc ... --name model), and the
 * index of the largest output left in fw_class and returned. On a device,
 * the SDK's reset handler calls fw_main(); on a Linux host the _start below
 * stands in for it, so `./firmware.elf; echo $?` prints the class. On the
 * QEMU boards (make BOARD=mps2-an386 run), startup.c calls main() below,
 * which prints the class through semihosting.
 */
#include "model.h"

/* What a sensor's DMA would write; here a fixed test pattern. */
static float input[MODEL_INPUT_SIZE];
static float output[MODEL_OUTPUT_SIZE];

/* The result, where a debugger or a host can read it. */
volatile int fw_class;

int fw_main(void);

/* A deterministic pattern in [0, 1]: pixel i is (37 i mod 256) / 255. */
static void sensor_read(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)((i * 37) % 256) / 255.0f;
}

int fw_main(void)
{
    int best = 0;
    sensor_read(input, MODEL_INPUT_SIZE);
    model_run(input, output);
    for (int i = 1; i < MODEL_OUTPUT_SIZE; i++)
        if (output[i] > output[best])
            best = i;
    fw_class = best;
    return best;
}

/* Host stand-ins for a reset handler: the kernel has already set up the
 * stack and zeroed .bss; exit with the class as the status. */
#if defined(__linux__) && defined(__x86_64__)
__attribute__((noreturn, force_align_arg_pointer)) void _start(void);

void _start(void)
{
    long status = fw_main();
    __asm__ volatile("syscall" : : "a"(60L), "D"(status) : "rcx", "r11", "memory");
    for (;;) {
    }
}
#elif defined(__arm__) && !defined(__linux__)
#include "semihost.h"

int main(void)
{
    semihost_printf("model_run: class %d\n", fw_main());
    return 0;
}
#elif defined(__linux__) && defined(__aarch64__)
__attribute__((noreturn)) void _start(void);

void _start(void)
{
    register long x0 __asm__("x0") = fw_main();
    register long x8 __asm__("x8") = 93;   /* exit */
    __asm__ volatile("svc 0" : : "r"(x0), "r"(x8) : "memory");
    for (;;) {
    }
}
#endif
