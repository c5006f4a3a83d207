/*
 * binedge target board layer (see board.h).
 *
 * Two implementations in one file:
 *  - Cortex-M (bare metal under qemu-system-arm or on a real board): the
 *    reset handler, fault handler, SysTick tick counter, stack painting,
 *    semihosting console and exit. The target's startup.c holds only the
 *    vector table, which points at the handlers defined here.
 *  - hosted (Linux user mode, native): clock_gettime ticks, no stack data.
 *
 * The runner (binedge/targets.py) defines BE_TARGET_NAME and BE_BOARD_TICK_HZ
 * from the target's target.json.
 */
#if !(defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#endif
#include "board.h"

#ifndef BE_TARGET_NAME
#define BE_TARGET_NAME "unknown"
#endif

const char *board_name(void) { return BE_TARGET_NAME; }

#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
/* ======================================================================= */
/* Cortex-M                                                                */
/* ======================================================================= */
#include <stdio.h>
#include <string.h>

#ifndef BE_BOARD_TICK_HZ
#define BE_BOARD_TICK_HZ 25000000u
#endif

#define BE_STACK_PAINT 0xA5A5A5A5u

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_SHCSR REG32(0xE000ED24u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define ICSR_PENDSTSET (1u << 26)

/* ARMv7-M / ARMv8-M Mainline have the configurable fault status registers;
 * ARMv6-M (Cortex-M0) has only HardFault. */
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || \
    defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define BE_HAVE_CFSR 1
#else
#define BE_HAVE_CFSR 0
#endif

/* Linker-script symbols (targets/common/cortex-m.ld). */
extern uint32_t __data_start[], __data_end[], __data_source[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
extern char __tls_base[];

extern int main(void);
#ifdef __PICOLIBC__
extern void _set_tls(void *tls);
#endif

void Reset_Handler(void);
void be_fault_entry(void);
void be_systick_handler(void);
void _exit(int code) __attribute__((noreturn));

/* ---- semihosting ------------------------------------------------------ */
#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT 0x18
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int be_semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ __volatile__("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void be_sh_write0(const char *s) { be_semihost(SH_SYS_WRITE0, s); }

#include "semihost_stdio.h"

/* Exit through semihosting with the full exit code (SYS_EXIT_EXTENDED;
 * plain SYS_EXIT only tells success from failure). */
void _exit(int code)
{
    uint32_t block[2];
    be_out_flush();
    block[0] = SH_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    be_semihost(SH_SYS_EXIT_EXTENDED, block);
    /* Debugger without the extension: fall back to SYS_EXIT (0/1 only). */
    be_semihost(SH_SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? SH_ADP_STOPPED_APPLICATION_EXIT : 0x20024u));
    for (;;) {
    }
}

/* ---- ticks ------------------------------------------------------------- */
static volatile uint32_t be_systick_wraps;

void be_systick_handler(void) { be_systick_wraps++; }

static void be_systick_start(void)
{
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* ENABLE | TICKINT | CLKSOURCE=processor clock */
}

uint64_t board_ticks(void)
{
    uint32_t hi, hi2, v;
    do {
        hi = be_systick_wraps;
        v = SYST_CVR;
        if (SCB_ICSR & ICSR_PENDSTSET) {
            /* wrapped, handler not run yet: count the wrap here */
            v = SYST_CVR;
            hi += 1u;
            hi2 = be_systick_wraps + 1u;
        } else {
            hi2 = be_systick_wraps;
        }
    } while (hi != hi2);
    return ((uint64_t)hi << 24) + (0x00FFFFFFu - (v & 0x00FFFFFFu));
}

uint32_t board_tick_hz(void) { return BE_BOARD_TICK_HZ; }

/* ---- stack high-water mark --------------------------------------------- */
uint32_t be_target_stack_used(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == BE_STACK_PAINT) p++;
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

uint32_t be_target_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_limit);
}

/* ---- reset ------------------------------------------------------------- */
void Reset_Handler(void)
{
    volatile uint32_t *dst;
    const uint32_t *src;
    uint32_t sp;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CP10/CP11 full access: FPU (and MVE, which shares them). Without this
       the first VFP/MVE instruction is a UsageFault (NOCP). */
    SCB_CPACR |= (0xFu << 20);
    __asm__ __volatile__("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__) || defined(__ARM_ARCH_8M_BASE__)
    /* ARMv8-M stack limit: an overflow becomes a fault, not silent corruption. */
    __asm__ __volatile__("msr msplim, %0" ::"r"(__stack_limit));
#endif
    /* .data (+ TLS template) from flash, zero .bss (+ .tbss). Volatile
       pointers keep gcc from turning these loops into library calls. */
    for (src = __data_source, dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;) *dst++ = 0;

    /* Paint the unused stack (everything 32 bytes below the current SP). */
    __asm__ __volatile__("mov %0, sp" : "=r"(sp));
    for (dst = __stack_limit; (uintptr_t)dst < sp - 32u;) *dst++ = BE_STACK_PAINT;

#ifdef __PICOLIBC__
    _set_tls(__tls_base);
#endif
    be_systick_start();
    _exit(main());
}

/* ---- faults -------------------------------------------------------------- */
static void be_put_hex(char *out, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    int i;
    out[0] = '0';
    out[1] = 'x';
    for (i = 0; i < 8; i++) out[2 + i] = hex[(v >> (28 - 4 * i)) & 0xFu];
    out[10] = '\0';
}

static void be_report_reg(const char *name, uint32_t v)
{
    char buf[12];
    be_put_hex(buf, v);
    be_sh_write0(" ");
    be_sh_write0(name);
    be_sh_write0("=");
    be_sh_write0(buf);
}

/* Called by be_fault_entry on a fresh stack. frame = the stacked
   r0-r3, r12, lr, pc, xpsr of the faulting context. */
void be_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr)
    __attribute__((noreturn, used));
void be_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr)
{
    be_out_flush();
    be_sh_write0("\nbinedge: FAULT on " BE_TARGET_NAME ":");
    be_sh_write0(ipsr == 3 ? " HardFault" : " exception");
    be_report_reg("ipsr", ipsr);
    if ((uintptr_t)frame >= (uintptr_t)__data_start && (uintptr_t)frame + 32u <= (uintptr_t)__stack_top) {
        be_report_reg("pc", frame[6]);
        be_report_reg("lr", frame[5]);
        be_report_reg("xpsr", frame[7]);
    } else {
        be_report_reg("sp(bad)", (uint32_t)(uintptr_t)frame);
    }
    be_report_reg("exc_return", exc_return);
#if BE_HAVE_CFSR
    be_report_reg("cfsr", SCB_CFSR);
    be_report_reg("hfsr", SCB_HFSR);
    be_report_reg("bfar", SCB_BFAR);
    be_report_reg("mmfar", SCB_MMFAR);
#endif
    be_sh_write0("\n");
    _exit(BE_TARGET_EXIT_FAULT);
}

/* The fault reporter runs on its own small stack: the faulting frame sits
   on the main stack and must not be overwritten, and the fault may be a
   stack overflow. */
uint32_t be_fault_stack[64] __attribute__((aligned(8), used));

/* Entry for HardFault and every other unexpected exception: find the
   stacked frame (MSP or PSP per EXC_RETURN bit 2), switch SP to
   be_fault_stack and report. Thumb-1 only, so it assembles for Cortex-M0. */
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__) || defined(__ARM_ARCH_8M_BASE__)
/* be_fault_stack lies below the main stack limit: lift MSPLIM first. */
#define BE_CLEAR_MSPLIM "movs r3, #0\n\tmsr msplim, r3\n\t"
#else
#define BE_CLEAR_MSPLIM ""
#endif

__attribute__((naked)) void be_fault_entry(void)
{
    __asm__ __volatile__(
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "mrs r2, ipsr\n\t"
        BE_CLEAR_MSPLIM
        "ldr r3, =be_fault_stack + 256\n\t"
        "mov sp, r3\n\t"
        "ldr r3, =be_fault_report\n\t"
        "bx r3\n\t"
        ".ltorg\n");
}

#else
/* ======================================================================= */
/* hosted (Linux user mode under QEMU, native)                             */
/* ======================================================================= */
#include <time.h>

uint64_t board_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t board_tick_hz(void) { return 1000000000u; }
uint32_t be_target_stack_used(void) { return 0; }
uint32_t be_target_stack_size(void) { return 0; }
#endif
