/* binedge cortex-m0 startup: vector table for qemu-system-arm -M microbit.
 * nRF51822 (BBC micro:bit), ARMv6-M, Thumb-1 only, no FPU.
 * The reset handler (copy .data, zero .bss, paint the stack, enable the FPU /
 * MVE via CPACR where present, call main, exit through semihosting
 * SYS_EXIT_EXTENDED) and the fault handler are in targets/common/board.c.
 * The table sits at the start of FLASH (0x00000000), where the core fetches
 * its reset vector (VTOR reset value on this board).
 */
#include "cortexm.h"

BE_VECTORS const struct be_vector_table be_vectors = {
    __stack_top,
    {
        Reset_Handler,      /* 1  Reset */
        be_fault_entry,     /* 2  NMI */
        be_fault_entry,     /* 3  HardFault (the only fault exception on ARMv6-M) */
        0, 0, 0, 0,         /* 4-7 reserved */
        0, 0, 0,            /* 8-10 reserved */
        be_fault_entry,     /* 11 SVCall */
        0, 0,               /* 12-13 reserved */
        be_fault_entry,     /* 14 PendSV */
        be_systick_handler, /* 15 SysTick */
    },
};
