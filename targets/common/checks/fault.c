/* binedge target check: a program that faults must fail fast, not hang.
 * It calls address 0x100 with the Thumb bit clear: on Cortex-M that is an
 * INVSTATE UsageFault (HardFault on ARMv6-M), reported by the board's fault
 * handler, exit status BE_TARGET_EXIT_FAULT; on Linux/native it is SIGSEGV. */
#include <stdint.h>
#include <stdio.h>

#include "board.h"

typedef int (*fn_t)(void);

static volatile uintptr_t bad_address = 0x100u;

int main(void)
{
    fn_t f = (fn_t)bad_address;
    printf("fault: calling %#lx\n", (unsigned long)bad_address);
    return f() + 1;
}
