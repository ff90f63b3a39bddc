/* profile.c: times every model_run() call of a program linked with
 * -Wl,--wrap=model_run (the firmware Makefile's PROFILE=1) and prints
 *
 *   profile: model_run 1234 ticks
 *
 * with the board's 25 MHz timer (mps2.c): under QEMU -icount shift=0 that
 * is 40 instructions per tick. */
#include "mps2.h"
#include "semihost.h"

void __real_model_run(const float *input, float *output);
void __wrap_model_run(const float *input, float *output);

void __wrap_model_run(const float *input, float *output)
{
    static int started;
    if (!started) {
        mps2_timer_start();
        started = 1;
    }
    uint32_t t0 = mps2_timer_ticks();
    __real_model_run(input, output);
    uint32_t t1 = mps2_timer_ticks();
    semihost_printf("profile: model_run %lu ticks\n", (unsigned long)(t1 - t0));
}
