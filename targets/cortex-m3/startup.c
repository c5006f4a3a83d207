/* binedge cortex-m3 startup: vector table for qemu-system-arm -M mps2-an385.
 * MPS2 AN385, ARMv7-M, Thumb-2, no FPU.
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
        be_fault_entry,     /* 3  HardFault */
        be_fault_entry,     /* 4  MemManage */
        be_fault_entry,     /* 5  BusFault */
        be_fault_entry,     /* 6  UsageFault */
        0, 0, 0, 0,         /* 7-10 reserved */
        be_fault_entry,     /* 11 SVCall */
        be_fault_entry,     /* 12 DebugMonitor */
        0,                  /* 13 reserved */
        be_fault_entry,     /* 14 PendSV */
        be_systick_handler, /* 15 SysTick */
    },
};
