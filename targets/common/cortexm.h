/*
 * binedge Cortex-M startup glue shared by targets/<mcu>/startup.c.
 * The handlers live in targets/common/board.c; a target's startup.c only
 * lays out its vector table with them.
 */
#ifndef BINEDGE_CORTEXM_H
#define BINEDGE_CORTEXM_H

#include <stdint.h>

typedef void (*be_handler_t)(void);

/* Word 0 is the initial main stack pointer, then 15 system exceptions
 * (Reset .. SysTick). No device interrupt is ever enabled by the board
 * layer, so the tables stop after SysTick. */
struct be_vector_table {
    uint32_t *initial_sp;
    be_handler_t system[15];
};

extern uint32_t __stack_top[]; /* cortex-m.ld */

void Reset_Handler(void);      /* copy .data, zero .bss, paint stack, FPU, main, exit */
void be_fault_entry(void);     /* report over semihosting, exit BE_TARGET_EXIT_FAULT */
void be_systick_handler(void); /* 64-bit extension of the 24-bit SysTick count */

#define BE_VECTORS __attribute__((section(".vectors"), used))

#endif /* BINEDGE_CORTEXM_H */
