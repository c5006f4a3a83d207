/* binedge cortex-m55 startup: vector table for qemu-system-arm -M mps3-an547.
 * MPS3 AN547 (SSE-300), ARMv8.1-M Mainline, boots Secure; DSP, Helium MVE (int + fp), FPv5-DP.
 * The reset handler (copy .data, zero .bss, paint the stack, enable the FPU /
 * MVE via CPACR where present, call main, exit through semihosting
 * SYS_EXIT_EXTENDED) and the fault handler are in targets/common/board.c.
 * The table sits at the start of FLASH (0x00000000), where the core fetches
 * its reset vector (VTOR_S reset value on this board).
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
        be_fault_entry,     /* 7  SecureFault (ARMv8-M Security Extension) */
        0, 0, 0,            /* 8-10 reserved */
        be_fault_entry,     /* 11 SVCall */
        be_fault_entry,     /* 12 DebugMonitor */
        0,                  /* 13 reserved */
        be_fault_entry,     /* 14 PendSV */
        be_systick_handler, /* 15 SysTick */
    },
};
