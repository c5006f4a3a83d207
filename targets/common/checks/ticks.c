/* binedge target check for the tick counter (the bare-metal targets under qemu-system-*).
 * Times a loop of exactly 2 instructions per iteration (subs + bne) for N
 * and 2N iterations; the difference is 2N instructions. Under
 * `-icount shift=S` QEMU advances virtual time 2^S ns per instruction, so the
 * difference must be 2N * 2^S ns * board_tick_hz() ticks, and the same on
 * every run. Prints "ticks: <t(N)> <t(2N)> <hz>". */
#include <stdint.h>
#include <stdio.h>

#include "board.h"

#define N 100000u

/* GCC hands Thumb-1 inline asm to the assembler in divided syntax, where the
   flag-setting subtract is spelt "sub"; everywhere else "subs". */
#if defined(__thumb__) && !defined(__thumb2__)
#define SUBS "sub"
#else
#define SUBS "subs"
#endif

static void spin(uint32_t n)
{
#if defined(__aarch64__)
    __asm__ __volatile__("1:\n\tsubs %w0, %w0, #1\n\tb.ne 1b" : "+r"(n) : : "cc");
#else
    __asm__ __volatile__("1:\n\t" SUBS " %0, #1\n\tbne 1b" : "+l"(n) : : "cc");
#endif
}

static uint64_t timed(uint32_t n)
{
    uint64_t t0, t1;
    t0 = board_ticks();
    BOARD_BARRIER();
    spin(n);
    BOARD_BARRIER();
    t1 = board_ticks();
    return t1 - t0;
}

int main(void)
{
    uint64_t a = timed(N), b = timed(2u * N);
    printf("ticks: %lu %lu %lu\n", (unsigned long)a, (unsigned long)b, (unsigned long)board_tick_hz());
    return 0;
}
