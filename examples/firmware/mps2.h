/* mps2.h: a 25 MHz tick count on QEMU's mps2 boards (mps2.c). */
#ifndef MPS2_H_INCLUDED
#define MPS2_H_INCLUDED

#include <stdint.h>

#define MPS2_TICK_HZ 25000000u

void mps2_timer_start(void);
uint32_t mps2_timer_ticks(void);   /* since mps2_timer_start() */

#endif
