/*
 * binedge target board layer: the few things a test or benchmark program
 * needs from the machine it runs on. Every target (Cortex-M under QEMU,
 * Linux user mode, native) links targets/common/board.c, so a program that
 * includes this header builds unchanged everywhere.
 *
 * Cortex-M: board.c also holds the reset handler, the fault handler and the
 * semihosting exit; stdout is line-buffered onto the semihosting console.
 */
#ifndef BINEDGE_BOARD_H
#define BINEDGE_BOARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit code of a program that took a HardFault (or any unexpected
 * exception) on a Cortex-M target. */
#define BE_TARGET_EXIT_FAULT 250

/* Name of the target the program was built for ("cortex-m4", "x86_64", ...). */
const char *board_name(void);

/* Stack high-water mark in bytes: the deepest the stack has grown since
 * reset. Cortex-M: the stack is painted with 0xA5A5A5A5 at reset and this
 * scans for the first overwritten word. Hosted targets: returns 0 (not
 * measured; the OS owns the stack). */
uint32_t be_target_stack_used(void);

/* Size of the stack region in bytes (Cortex-M: __stack_size from link.ld;
 * hosted: 0). */
uint32_t be_target_stack_size(void);

/* A monotonic 64-bit tick counter.
 *  - Cortex-M under QEMU: SysTick (24-bit, processor clock) extended to 64
 *    bits by its wrap interrupt. Under `-icount shift=N,align=off,sleep=off`
 *    virtual time advances exactly 2^N ns per executed instruction, so the
 *    count is proportional to the number of instructions executed (NOT to
 *    cycles) and identical from run to run. Without -icount it follows
 *    host wall-clock time and is noisy. DWT->CYCCNT is not modelled by
 *    QEMU; on real boards use DWT->CYCCNT for cycles.
 *  - Hosted targets: CLOCK_MONOTONIC nanoseconds. */
uint64_t board_ticks(void);

/* Nominal rate of board_ticks() in Hz (Cortex-M: the SysTick clock QEMU
 * models for the board; hosted: 1e9). Under -icount shift=N, instructions
 * = ticks / (board_tick_hz() * 2^N * 1e-9). */
uint32_t board_tick_hz(void);

/* Compiler barrier: put one on each side of a timed region so the compiler
 * does not move work across the board_ticks() reads. */
#define BOARD_BARRIER() __asm__ __volatile__("" ::: "memory")

#ifdef __cplusplus
}
#endif

#endif /* BINEDGE_BOARD_H */
