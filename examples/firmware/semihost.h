/* semihost.h: output and exit through Arm semihosting (`bkpt 0xab`), the
 * debugger's console: QEMU with -semihosting-config enable=on,target=native
 * prints it on stdout and ends with the program's status. On a board with
 * no debugger attached a semihosting call stops the core: replace these
 * with the board's UART. Needs nothing from the C library.
 */
#ifndef SEMIHOST_H_INCLUDED
#define SEMIHOST_H_INCLUDED

#include <stddef.h>

void semihost_write0(const char *s);            /* SYS_WRITE0: a C string */
void semihost_write(const char *s, size_t n);   /* SYS_WRITE to stdout (":tt") */
void semihost_exit(int status) __attribute__((noreturn));   /* SYS_EXIT_EXTENDED */

/* printf's %d %i %u %x %ld %lu %lx %s %c %% (no width, no floats), written
 * through one SYS_WRITE per line: what --emit-test's program needs
 * (-DCNNC_TEST_PRINTF=semihost_printf). */
int semihost_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
