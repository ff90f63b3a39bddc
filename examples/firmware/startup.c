/* startup.c: reset for a Cortex-M3/M4/M7 with the linker scripts in
 * boards/. The vector table's first word is the initial stack pointer, the
 * second the reset handler; QEMU (-kernel x.elf) and a real core both start
 * from it. Reset_Handler:
 *
 *   1. enables the FPU (CPACR: CP10, CP11 full access) when the build uses
 *      it (-mfloat-abi=hard or softfp): before this, the first float
 *      instruction faults;
 *   2. copies .data from flash to RAM and zeroes .bss (.noinit is left
 *      alone: a model's arena may live there, -DCNNC_ARENA_SECTION);
 *   3. paints the unused stack with STACK_PAINT, so that after main() the
 *      deepest overwritten word gives the stack's high-water mark;
 *   4. calls main(), prints the high-water mark through semihosting and
 *      exits with main's status (QEMU ends with it).
 *
 * A fault prints its name and exits with status 3.
 */
#include <stdint.h>

#include "semihost.h"

#define STACK_PAINT 0xC5C5C5C5u
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

/* From the linker script (boards/mps2.ld). */
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
extern uint32_t _sstack[], _estack[];

int main(void);
void Reset_Handler(void) __attribute__((noreturn));

static void fault(const char *what) __attribute__((noreturn));
static void fault(const char *what)
{
    semihost_write0("startup: ");
    semihost_write0(what);
    semihost_write0(": the program faulted\n");
    semihost_exit(3);
}

static void NMI_Handler(void) { fault("NMI"); }
static void HardFault_Handler(void) { fault("HardFault"); }
static void MemManage_Handler(void) { fault("MemManage"); }
static void BusFault_Handler(void) { fault("BusFault"); }
static void UsageFault_Handler(void) { fault("UsageFault"); }
static void Other_Handler(void) { fault("unexpected exception"); }

typedef void (*Handler)(void);

/* The core's 16 system vectors; this program enables no interrupt. */
__attribute__((section(".isr_vector"), used)) static const Handler vector_table[16] = {
    (Handler)(uintptr_t)_estack, Reset_Handler, NMI_Handler, HardFault_Handler,
    MemManage_Handler, BusFault_Handler, UsageFault_Handler, 0, 0, 0, 0,
    Other_Handler /* SVC */, Other_Handler /* DebugMon */, 0,
    Other_Handler /* PendSV */, Other_Handler /* SysTick */,
};

/* Paints [_sstack, sp): everything below this function's frame. */
__attribute__((noinline)) static void stack_paint(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = _sstack; p < sp; p++)
        *p = STACK_PAINT;
}

/* Bytes of stack ever used: from the top down to the deepest word that
 * lost its paint. All of it when even the lowest word was overwritten. */
static unsigned long stack_used(void)
{
    const volatile uint32_t *p = _sstack;
    while (p < _estack && *p == STACK_PAINT)
        p++;
    return (unsigned long)((uintptr_t)_estack - (uintptr_t)p);
}

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    for (uint32_t *src = _sidata, *dst = _sdata; dst < _edata;)
        *dst++ = *src++;
    for (uint32_t *dst = _sbss; dst < _ebss;)
        *dst++ = 0;
    stack_paint();
    int status = main();
    unsigned long used = stack_used(), size = (unsigned long)((uintptr_t)_estack - (uintptr_t)_sstack);
    semihost_printf("startup: stack high-water mark %lu of %lu bytes%s\n", used, size,
                    used >= size ? " (OVERFLOW)" : "");
    semihost_exit(used >= size && status == 0 ? 4 : status);
}
