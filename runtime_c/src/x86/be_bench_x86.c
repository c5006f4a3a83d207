/* be_bench_x86.c -- x86 tight loops for binedge.bench (shared library only, see Makefile).
 *
 * They give the numbers the kernel microbenchmark is compared against:
 *   be_bench_clock_ns(iters)     ns of iters x 16 dependent 64-bit adds (1 cycle each on every
 *                                x86 core since Pentium Pro) -> the core clock = 16 * iters / ns
 *   be_bench_vpopcnt_ns(iters)   ns of iters x 12 independent VPOPCNTQ zmm (12 dependency chains,
 *                                enough to cover the latency) -> VPOPCNTQ zmm per cycle
 *   be_bench_popcnt64_ns(iters)  ns of iters x 8 independent scalar POPCNT r64
 *   be_bench_xorpop_ns(iters)    ns of iters x 8 (VPXORQ + VPOPCNTQ + VPADDQ) zmm from registers:
 *                                the ceiling of a kernel's inner loop without loads
 * Each returns 0 on a CPU without the instructions (the caller checks be_isa_detect first).
 */
#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>
#include <stdint.h>

#include "binedge.h"

uint64_t be_bench_now_ns(void);
uint64_t be_bench_clock_ns(uint64_t iters);
uint64_t be_bench_vpopcnt_ns(uint64_t iters);
uint64_t be_bench_popcnt64_ns(uint64_t iters);
uint64_t be_bench_xorpop_ns(uint64_t iters);

uint64_t be_bench_clock_ns(uint64_t iters)
{
    uint64_t t0, acc = 0, n = iters;
    t0 = be_bench_now_ns();
    __asm__ volatile("1:\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                     "dec %1\n\tjnz 1b"
                     : "+r"(acc), "+r"(n)
                     :
                     : "cc");
    return be_bench_now_ns() - t0;
}

__attribute__((target("avx512f,avx512vpopcntdq"))) uint64_t be_bench_vpopcnt_ns(uint64_t iters)
{
    __m512i v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11;
    uint64_t t0, i, t;
    if ((be_isa_detect() & BE_ISA_AVX512_VPOPCNT) == 0u)
        return 0u;
    v0 = _mm512_set1_epi64((long long)iters);
    v1 = _mm512_add_epi64(v0, v0);
    v2 = _mm512_add_epi64(v1, v0);
    v3 = _mm512_add_epi64(v2, v0);
    v4 = _mm512_add_epi64(v3, v0);
    v5 = _mm512_add_epi64(v4, v0);
    v6 = _mm512_add_epi64(v5, v0);
    v7 = _mm512_add_epi64(v6, v0);
    v8 = _mm512_add_epi64(v7, v0);
    v9 = _mm512_add_epi64(v8, v0);
    v10 = _mm512_add_epi64(v9, v0);
    v11 = _mm512_add_epi64(v10, v0);
    t0 = be_bench_now_ns();
    for (i = 0; i < iters; i++) {
        /* the empty asm keeps every chain alive without adding instructions */
        v0 = _mm512_popcnt_epi64(v0);
        v1 = _mm512_popcnt_epi64(v1);
        v2 = _mm512_popcnt_epi64(v2);
        v3 = _mm512_popcnt_epi64(v3);
        v4 = _mm512_popcnt_epi64(v4);
        v5 = _mm512_popcnt_epi64(v5);
        v6 = _mm512_popcnt_epi64(v6);
        v7 = _mm512_popcnt_epi64(v7);
        v8 = _mm512_popcnt_epi64(v8);
        v9 = _mm512_popcnt_epi64(v9);
        v10 = _mm512_popcnt_epi64(v10);
        v11 = _mm512_popcnt_epi64(v11);
        __asm__ volatile("" : "+v"(v0), "+v"(v1), "+v"(v2), "+v"(v3), "+v"(v4), "+v"(v5));
        __asm__ volatile("" : "+v"(v6), "+v"(v7), "+v"(v8), "+v"(v9), "+v"(v10), "+v"(v11));
    }
    t = be_bench_now_ns() - t0;
    __asm__ volatile("" : : "v"(v0), "v"(v1), "v"(v2), "v"(v3), "v"(v4), "v"(v5));
    __asm__ volatile("" : : "v"(v6), "v"(v7), "v"(v8), "v"(v9), "v"(v10), "v"(v11));
    return t;
}

__attribute__((target("popcnt"))) uint64_t be_bench_popcnt64_ns(uint64_t iters)
{
    uint64_t a0 = iters, a1 = iters + 1u, a2 = iters + 2u, a3 = iters + 3u, a4 = iters + 4u, a5 = iters + 5u;
    uint64_t a6 = iters + 6u, a7 = iters + 7u, t0, i, t;
    if ((be_isa_detect() & BE_ISA_POPCNT) == 0u)
        return 0u;
    t0 = be_bench_now_ns();
    for (i = 0; i < iters; i++) {
        a0 = (uint64_t)__builtin_popcountll(a0) + i;
        a1 = (uint64_t)__builtin_popcountll(a1) + i;
        a2 = (uint64_t)__builtin_popcountll(a2) + i;
        a3 = (uint64_t)__builtin_popcountll(a3) + i;
        a4 = (uint64_t)__builtin_popcountll(a4) + i;
        a5 = (uint64_t)__builtin_popcountll(a5) + i;
        a6 = (uint64_t)__builtin_popcountll(a6) + i;
        a7 = (uint64_t)__builtin_popcountll(a7) + i;
        __asm__ volatile("" : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5), "+r"(a6), "+r"(a7));
    }
    t = be_bench_now_ns() - t0;
    __asm__ volatile("" : : "r"(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7));
    return t;
}

__attribute__((target("avx512f,avx512vpopcntdq"))) uint64_t be_bench_xorpop_ns(uint64_t iters)
{
    __m512i w = _mm512_set1_epi64(0x0123456789abcdefLL), x0, x1, x2, x3, x4, x5, x6, x7;
    __m512i a0, a1, a2, a3, a4, a5, a6, a7;
    uint64_t t0, i, t;
    if ((be_isa_detect() & BE_ISA_AVX512_VPOPCNT) == 0u)
        return 0u;
    x0 = _mm512_set1_epi64((long long)iters);
    x1 = _mm512_add_epi64(x0, w);
    x2 = _mm512_add_epi64(x1, w);
    x3 = _mm512_add_epi64(x2, w);
    x4 = _mm512_add_epi64(x3, w);
    x5 = _mm512_add_epi64(x4, w);
    x6 = _mm512_add_epi64(x5, w);
    x7 = _mm512_add_epi64(x6, w);
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm512_setzero_si512();
    t0 = be_bench_now_ns();
    for (i = 0; i < iters; i++) {
        a0 = _mm512_add_epi64(a0, _mm512_popcnt_epi64(_mm512_xor_si512(x0, w)));
        a1 = _mm512_add_epi64(a1, _mm512_popcnt_epi64(_mm512_xor_si512(x1, w)));
        a2 = _mm512_add_epi64(a2, _mm512_popcnt_epi64(_mm512_xor_si512(x2, w)));
        a3 = _mm512_add_epi64(a3, _mm512_popcnt_epi64(_mm512_xor_si512(x3, w)));
        a4 = _mm512_add_epi64(a4, _mm512_popcnt_epi64(_mm512_xor_si512(x4, w)));
        a5 = _mm512_add_epi64(a5, _mm512_popcnt_epi64(_mm512_xor_si512(x5, w)));
        a6 = _mm512_add_epi64(a6, _mm512_popcnt_epi64(_mm512_xor_si512(x6, w)));
        a7 = _mm512_add_epi64(a7, _mm512_popcnt_epi64(_mm512_xor_si512(x7, w)));
        /* keep the xor inputs opaque so the compiler cannot hoist xor + popcount */
        __asm__ volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7));
    }
    t = be_bench_now_ns() - t0;
    __asm__ volatile("" : : "v"(a0), "v"(a1), "v"(a2), "v"(a3), "v"(a4), "v"(a5), "v"(a6), "v"(a7));
    return t;
}

#else
typedef int be_bench_x86_unused; /* ISO C forbids an empty translation unit */
#endif
