/*
 * binedge board layer (board.h) for the Cortex-A targets on QEMU's `virt` board, run bare
 * metal: aarch64-virt (AArch64, EL1) and armv7-virt (AArch32, PL1 SVC mode).
 *
 * The target's startup.c holds the exception vector table and Reset_Handler (assembly: stack
 * pointer, FP/Advanced SIMD access, VBAR), which calls be_virt_reset() here: copy .data, zero
 * .bss, map the memory (identity, MMU on: normal cacheable memory above 0x40000000, nothing
 * below, so a stray pointer or jump there faults at once), paint the stack, set picolibc's
 * thread pointer, run main and exit through semihosting SYS_EXIT_EXTENDED.
 *
 * Why the MMU: with it off every data access is Device memory, where an unaligned load
 * (picolibc's memcpy, the NEON kernels' byte loads, inputs at odd addresses) is an alignment
 * fault on silicon. This is a QEMU board: the caches are not invalidated before they are
 * enabled, as real silicon would need.
 *
 * Ticks: the generic timer's virtual count (CNTVCT). Under `-icount shift=N,align=off,sleep=off`
 * QEMU's virtual clock advances 2^N ns per executed instruction, so the count (CNTFRQ =
 * 62.5 MHz on this QEMU) is proportional to executed instructions, not cycles.
 *
 * The runner (binedge/targets.py) defines BE_TARGET_NAME and BE_BOARD_TICK_HZ from the
 * target's target.json.
 */
#include "board.h"

#include <stdio.h>
#include <string.h>

#if !defined(__aarch64__) && !(defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'A')
#error "board_virt.c is the board layer of the Cortex-A virt targets (AArch64 or ARMv7-A)"
#endif

#ifndef BE_TARGET_NAME
#define BE_TARGET_NAME "unknown"
#endif
#ifndef BE_BOARD_TICK_HZ
#define BE_BOARD_TICK_HZ 62500000u
#endif

#define BE_STACK_PAINT 0xA5A5A5A5u

const char *board_name(void) { return BE_TARGET_NAME; }

/* Linker-script symbols (targets/common/virt.ld). */
extern uint32_t __data_start[], __data_end[], __data_source[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];
extern char __tls_base[];

extern int main(void);
#ifdef __PICOLIBC__
extern void _set_tls(void *tls);
#endif

void be_virt_reset(void) __attribute__((noreturn, used));
void be_fault_report(uintptr_t vector, uintptr_t syndrome, uintptr_t pc, uintptr_t addr)
    __attribute__((noreturn, used));
void _exit(int code) __attribute__((noreturn));

/* ---- semihosting --------------------------------------------------------- */
#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT 0x18
#define SH_SYS_EXIT_EXTENDED 0x20
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uintptr_t be_semihost(uintptr_t op, const void *arg)
{
#if defined(__aarch64__)
    register uintptr_t r0 __asm__("x0") = op;
    register const void *r1 __asm__("x1") = arg;
    __asm__ __volatile__("hlt #0xf000" : "+r"(r0) : "r"(r1) : "memory");
#else
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
#if defined(__thumb__)
    __asm__ __volatile__("svc 0xab" : "+r"(r0) : "r"(r1) : "memory");
#else
    __asm__ __volatile__("svc 0x123456" : "+r"(r0) : "r"(r1) : "memory");
#endif
#endif
    return r0;
}

static void be_sh_write0(const char *s) { be_semihost(SH_SYS_WRITE0, s); }

#include "semihost_stdio.h"

/* SYS_EXIT_EXTENDED carries main's full return code (the parameter block holds two fields of
 * the register width: 64-bit on AArch64). */
void _exit(int code)
{
    uintptr_t block[2];
    be_out_flush();
    block[0] = SH_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uintptr_t)(unsigned)code;
    be_semihost(SH_SYS_EXIT_EXTENDED, block);
#if defined(__aarch64__)
    be_semihost(SH_SYS_EXIT, block); /* AArch64 SYS_EXIT also takes the block */
#else
    be_semihost(SH_SYS_EXIT, (const void *)(uintptr_t)(code == 0 ? SH_ADP_STOPPED_APPLICATION_EXIT : 0x20024u));
#endif
    for (;;) {
    }
}

/* ---- ticks: the generic timer's virtual count ------------------------------ */
uint64_t board_ticks(void)
{
    uint64_t v;
#if defined(__aarch64__)
    __asm__ __volatile__("isb\n\tmrs %0, cntvct_el0" : "=r"(v)::"memory");
#else
    uint32_t lo, hi;
    __asm__ __volatile__("isb\n\tmrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi)::"memory");
    v = ((uint64_t)hi << 32) | lo;
#endif
    return v;
}

uint32_t board_tick_hz(void)
{
    uint32_t hz;
#if defined(__aarch64__)
    uint64_t f;
    __asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(f));
    hz = (uint32_t)f;
#else
    __asm__ __volatile__("mrc p15, 0, %0, c14, c0, 0" : "=r"(hz));
#endif
    return hz ? hz : BE_BOARD_TICK_HZ;
}

/* ---- stack high-water mark --------------------------------------------------- */
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

/* ---- memory map: identity, MMU on --------------------------------------------- */
#define BE_RAM_BASE 0x40000000u /* virt: RAM from 1 GiB up; below it flash and devices */

#if defined(__aarch64__)
/* 4 KiB granule, 32-bit input addresses (T0SZ = 32): the walk starts at level 1, four 1 GiB
 * blocks. Block 0 (flash, GIC, UART, ...) stays invalid; 1-3: normal write-back memory. */
static uint64_t be_l1_table[4] __attribute__((aligned(4096)));

static void be_mmu_on(void)
{
    const uint64_t mair = 0x00ull | (0xFFull << 8); /* attr0 Device-nGnRnE, attr1 Normal WB RW-alloc */
    const uint64_t tcr = 32u                        /* T0SZ: 4 GiB */
                         | (3ull << 12)             /* SH0 inner shareable; IRGN0/ORGN0 0: walks non-cacheable */
                         | (1ull << 23);            /* EPD1: no TTBR1 walks */
    uint64_t sctlr;
    unsigned i;
    for (i = 1; i < 4; i++)
        be_l1_table[i] = ((uint64_t)i << 30) | (1ull << 10) /* AF */ | (3ull << 8) /* inner shareable */ |
                         (1ull << 2) /* AttrIndx 1 */ | 1ull /* block */;
    __asm__ __volatile__("dsb sy\n\t"
                         "msr mair_el1, %0\n\t"
                         "msr tcr_el1, %1\n\t"
                         "msr ttbr0_el1, %2\n\t"
                         "isb\n\t"
                         "tlbi vmalle1\n\t"
                         "dsb sy\n\t"
                         "isb" ::"r"(mair),
                         "r"(tcr), "r"((uint64_t)(uintptr_t)be_l1_table)
                         : "memory");
    __asm__ __volatile__("mrs %0, sctlr_el1" : "=r"(sctlr));
    sctlr |= (1u << 0) | (1u << 2) | (1u << 12); /* M, C, I */
    sctlr &= ~(uint64_t)(1u << 1);               /* A: unaligned accesses allowed */
    __asm__ __volatile__("msr sctlr_el1, %0\n\tisb" ::"r"(sctlr) : "memory");
}
#else
/* Short descriptors, 4096 sections of 1 MiB: below 1 GiB invalid, above normal write-back
 * (TEX=001 C=1 B=1), full access, domain 0 (client). */
static uint32_t be_l1_table[4096] __attribute__((aligned(16384)));

static void be_mmu_on(void)
{
    uint32_t sctlr;
    unsigned i;
    for (i = BE_RAM_BASE >> 20; i < 4096; i++)
        be_l1_table[i] = (i << 20) | (1u << 16) /* S */ | (1u << 12) /* TEX=001 */ | (3u << 10) /* AP=11 */ |
                         (1u << 3) | (1u << 2) /* C, B */ | 2u /* section */;
    __asm__ __volatile__("dsb\n\t"
                         "mcr p15, 0, %0, c2, c0, 2\n\t" /* TTBCR = 0: TTBR0 only */
                         "mcr p15, 0, %1, c2, c0, 0\n\t" /* TTBR0 (walks non-cacheable) */
                         "mcr p15, 0, %2, c3, c0, 0\n\t" /* DACR: domain 0 client */
                         "mcr p15, 0, %0, c8, c7, 0\n\t" /* TLBIALL */
                         "dsb\n\t"
                         "isb" ::"r"(0u),
                         "r"((uint32_t)(uintptr_t)be_l1_table), "r"(1u)
                         : "memory");
    __asm__ __volatile__("mrc p15, 0, %0, c1, c0, 0" : "=r"(sctlr));
    sctlr |= (1u << 0) | (1u << 2) | (1u << 12); /* M, C, I */
    sctlr &= ~(1u << 1);                          /* A: unaligned accesses allowed */
    __asm__ __volatile__("mcr p15, 0, %0, c1, c0, 0\n\tisb" ::"r"(sctlr) : "memory");
}
#endif

/* ---- reset (called by the target's Reset_Handler with the stack set, FP/SIMD on) ---- */
void be_virt_reset(void)
{
    volatile uint32_t *dst;
    const uint32_t *src;
    uintptr_t sp;

    /* Volatile word pointers: no library call, no vector or unaligned access before the
       MMU makes RAM normal memory. */
    for (src = __data_source, dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    be_mmu_on();

    __asm__ __volatile__("mov %0, sp" : "=r"(sp));
    for (dst = __stack_limit; (uintptr_t)dst < sp - 64u;) *dst++ = BE_STACK_PAINT;

#ifdef __PICOLIBC__
    _set_tls(__tls_base);
#endif
    _exit(main());
}

/* ---- faults ---------------------------------------------------------------------- */
static void be_put_hex(char *out, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    int i, n = (v >> 32) ? 16 : 8;
    out[0] = '0';
    out[1] = 'x';
    for (i = 0; i < n; i++) out[2 + i] = hex[(v >> (4 * (n - 1 - i))) & 0xFu];
    out[2 + n] = '\0';
}

static void be_report_reg(const char *name, uint64_t v)
{
    char buf[20];
    be_put_hex(buf, v);
    be_sh_write0(" ");
    be_sh_write0(name);
    be_sh_write0("=");
    be_sh_write0(buf);
}

/* The fault stack (the entry code in startup.c switches to its top): the faulting stack
   may be the problem. */
uint64_t be_fault_stack[256] __attribute__((aligned(16), used));

#if defined(__aarch64__)
/* vector: the index of the VBAR_EL1 entry (0-15), syndrome ESR_EL1, pc ELR_EL1, addr FAR_EL1. */
static const char *const be_vector_names[4] = {"synchronous exception", "IRQ", "FIQ", "SError"};
#define BE_FAULT_NAME(v) be_vector_names[(v) & 3u]
#define BE_SYNDROME "esr"
#define BE_ADDR "far"
#else
/* vector: 1 undefined instruction, 3 prefetch abort, 4 data abort, other: unexpected;
   syndrome IFSR / DFSR, addr IFAR / DFAR. */
static const char *const be_vector_names[8] = {"reset", "undefined instruction", "SVC", "prefetch abort",
                                               "data abort", "unused vector", "IRQ", "FIQ"};
#define BE_FAULT_NAME(v) be_vector_names[(v) & 7u]
#define BE_SYNDROME "fsr"
#define BE_ADDR "far"
#endif

void be_fault_report(uintptr_t vector, uintptr_t syndrome, uintptr_t pc, uintptr_t addr)
{
    be_out_flush();
    be_sh_write0("\nbinedge: FAULT on " BE_TARGET_NAME ": ");
    be_sh_write0(BE_FAULT_NAME(vector));
    be_report_reg("vector", vector);
    be_report_reg("pc", pc);
    be_report_reg(BE_SYNDROME, syndrome);
    be_report_reg(BE_ADDR, addr);
    be_sh_write0("\n");
    _exit(BE_TARGET_EXIT_FAULT);
}
