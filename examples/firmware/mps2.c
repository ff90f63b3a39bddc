/* mps2.c: a time base on QEMU's mps2 boards: timer 1 of the CMSDK APB dual
 * timer (0x40002000), free running, counting down at the 25 MHz PCLK.
 * Under `qemu-system-arm -icount shift=0` QEMU's virtual clock advances
 * 1 ns per instruction, so one tick is 40 instructions. Real silicon would
 * use the DWT cycle counter instead, which QEMU does not model. */
#include <stdint.h>

#include "mps2.h"

#define DUALTIMER1_LOAD (*(volatile uint32_t *)0x40002000u)
#define DUALTIMER1_VALUE (*(volatile uint32_t *)0x40002004u)
#define DUALTIMER1_CONTROL (*(volatile uint32_t *)0x40002008u)

void mps2_timer_start(void)
{
    DUALTIMER1_CONTROL = 0;
    DUALTIMER1_LOAD = 0xFFFFFFFFu;
    DUALTIMER1_CONTROL = 0x82u;   /* enable, 32-bit, free running, no interrupt */
}

uint32_t mps2_timer_ticks(void)
{
    return 0xFFFFFFFFu - DUALTIMER1_VALUE;
}
