/* profile.c: times every model_run() call of a program linked with
 * -Wl,--wrap=model_run (the firmware Makefile's PROFILE=1), measures the
 * stack that call used, and prints
 *
 *   profile: model_run 1234 ticks, stack 312 bytes
 *
 * Ticks are the board's 25 MHz timer (mps2.c): under QEMU -icount shift=0
 * that is 40 instructions per tick. The stack: startup.c painted the free
 * stack at reset; before the call, the words below this function's stack
 * pointer are painted again, all but the deepest word used so far (so that
 * startup's high-water mark of the whole program stays right); after it,
 * the deepest word that lost its paint, measured from that stack pointer,
 * is what model_run and everything it called (libm included) used: the
 * figure to compare with the header's MODEL_STACK_BYTES. */
#include <stdint.h>

#include "mps2.h"
#include "semihost.h"

#define STACK_PAINT 0xC5C5C5C5u     /* startup.c's */

extern uint32_t _sstack[];

void __real_model_run(const float *input, float *output);
void __wrap_model_run(const float *input, float *output);

/* The first painted-over word at or above from, below end (end if none). */
static const volatile uint32_t *first_used(const volatile uint32_t *from, const uint32_t *end)
{
    while (from < end && *from == STACK_PAINT)
        from++;
    return from;
}

void __wrap_model_run(const float *input, float *output)
{
    static int started;
    uint32_t *sp;
    if (!started) {
        mps2_timer_start();
        started = 1;
    }
    /* Nothing is called between reading sp and calling model_run but
     * first_used, whose small frame sits just below sp, above anything
     * model_run's deeper frames reach. */
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    const volatile uint32_t *deepest = first_used(_sstack, sp);
    for (volatile uint32_t *q = (uint32_t *)(uintptr_t)deepest + 1; q < sp; q++)
        *q = STACK_PAINT;
    uint32_t t0 = mps2_timer_ticks();
    __real_model_run(input, output);
    uint32_t t1 = mps2_timer_ticks();
    const volatile uint32_t *low = first_used(_sstack, sp);
    if (low == deepest && deepest < sp)   /* no deeper than before: look above */
        low = first_used(deepest + 1, sp);
    semihost_printf("profile: model_run %lu ticks, stack %lu bytes\n", (unsigned long)(t1 - t0),
                    (unsigned long)((uintptr_t)sp - (uintptr_t)low));
}
