/* be_i8_mac.c -- "mac": the int8 layers (int8 weights over u8 / i8 codes) in plain C, for the
 * cores without the DSP extension (Cortex-M0, M3) and every other ARM build.
 *
 * The drivers of be_arm_i8.h with the patch as the code bytes themselves (BE_I8_RAW: im2col is
 * a byte copy, padding the zero point's byte); the dot core loads a code (LDRB for u8, LDRSB
 * for i8) shared by the rows of the call and per row a weight (LDRSB) and a multiply-accumulate.
 *   Thumb-2 (M3; M4 and up run "dsp"): inline assembly, 4 rows per code load, post-increment
 *   loads, 2 elements per step: 21 instructions per 8 MACs. Other builds: the same in C.
 *   ARMv6-M (M0): Thumb-1 inline assembly, 3 rows per code load, every load indexed by one
 *   register (Thumb-1 has no immediate offset for LDRSB), the accumulators and the loop end in
 *   high registers (ADD / CMP from a high register is one instruction): 11 instructions per 3
 *   MACs, 2 elements per step (r7, the Thumb frame pointer, is not used).
 * Depthwise convolutions (up to 64 taps) run the lane driver with its plain-C core: no patch,
 * per tap address two channels.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_I8

#include "arm/be_arm_i8.h"

int be_i8_mac_supports(const be_op *op)
{
    return be_op_is_int8_layer(op);
}

/* One row: sum_j w[j] * x[j] (X: uint8_t or int8_t codes). */
#define DOT1(X)                                                                                         \
    static int32_t dot1_##X(const int8_t *w, const X *x, uint32_t n)                                    \
    {                                                                                                   \
        int32_t a = 0;                                                                                  \
        uint32_t j;                                                                                     \
        for (j = 0; j < n; j++)                                                                         \
            a += w[j] * x[j];                                                                           \
        return a;                                                                                       \
    }
DOT1(uint8_t)
DOT1(int8_t)

#if defined(BE_ARM_HAVE_THUMB1) && defined(BE_ARM_T1_ASM)
/* One element of 3 rows: the code (LDR_X: ldrb / ldrsb) at x[j], then per row LDRSB, MULS, ADD
 * into a high register; j += 1. */
#define T1_ELEM(LDR_X)                                                                                  \
    LDR_X " %[x], [%[xp], %[j]]\n\t"                                                                    \
    "ldrsb %[t], [%[w0], %[j]]\n\t"                                                                     \
    "muls %[t], %[x]\n\t"                                                                               \
    "add %[a0], %[t]\n\t"                                                                               \
    "ldrsb %[t], [%[w1], %[j]]\n\t"                                                                     \
    "muls %[t], %[x]\n\t"                                                                               \
    "add %[a1], %[t]\n\t"                                                                               \
    "ldrsb %[t], [%[w2], %[j]]\n\t"                                                                     \
    "muls %[t], %[x]\n\t"                                                                               \
    "add %[a2], %[t]\n\t"                                                                               \
    "adds %[j], #1\n\t"

/* a[r] = sum_{j < n} w[r * rb + j] * x[j] for r < 3, n >= 2 even elements */
#define T1_ROWS3(NAME, LDR_X)                                                                           \
    static void NAME(const int8_t *w, uint32_t rb, const void *x, uint32_t n, int32_t *a)               \
    {                                                                                                   \
        register const void *xp __asm__("r0") = x;                                                      \
        register const int8_t *w0 __asm__("r1") = w;                                                    \
        register const int8_t *w1 __asm__("r2") = w + rb;                                               \
        register const int8_t *w2 __asm__("r3") = w + 2u * rb;                                          \
        register uint32_t j __asm__("r4") = 0u;                                                         \
        register int32_t xv __asm__("r5"), t __asm__("r6");                                             \
        register int32_t a0 __asm__("r8") = 0, a1 __asm__("r9") = 0, a2 __asm__("r10") = 0;             \
        register uint32_t end __asm__("r11") = n;                                                       \
        __asm__ volatile(".syntax unified\n"                                                            \
                         "1:\n\t" T1_ELEM(LDR_X) T1_ELEM(LDR_X) "cmp %[j], %[end]\n\t"                  \
                         "bne 1b\n\t"                                                                   \
                         : [j] "+l"(j), [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [x] "=&l"(xv),     \
                           [t] "=&l"(t)                                                                 \
                         : [xp] "l"(xp), [w0] "l"(w0), [w1] "l"(w1), [w2] "l"(w2), [end] "h"(end)       \
                         : "cc", "memory");                                                             \
        a[0] = a0;                                                                                      \
        a[1] = a1;                                                                                      \
        a[2] = a2;                                                                                      \
    }
T1_ROWS3(rows3_u8, "ldrb")
T1_ROWS3(rows3_i8, "ldrsb")

#define DOT_RAW(X, ROWS3)                                                                               \
    static void dot_##X(const int8_t *w, uint32_t rb, const void *xv, uint32_t n, uint32_t rows,        \
                        int32_t xbias, int32_t *acc)                                                    \
    {                                                                                                   \
        const X *x = (const X *)xv;                                                                     \
        const uint32_t n2 = n & ~1u;                                                                    \
        (void)xbias;                                                                                    \
        for (; rows >= 3u && n2 > 0u; rows -= 3u, w += 3u * rb, acc += 3) {                             \
            int32_t a[3];                                                                               \
            ROWS3(w, rb, x, n2, a);                                                                     \
            if (n2 < n) {                                                                               \
                a[0] += w[n2] * x[n2];                                                                  \
                a[1] += w[rb + n2] * x[n2];                                                             \
                a[2] += w[2u * rb + n2] * x[n2];                                                        \
            }                                                                                           \
            acc[0] += a[0];                                                                             \
            acc[1] += a[1];                                                                             \
            acc[2] += a[2];                                                                             \
        }                                                                                               \
        for (; rows > 0u; rows--, w += rb, acc++)                                                       \
            *acc += dot1_##X(w, x, n);                                                                  \
    }
DOT_RAW(uint8_t, rows3_u8)
DOT_RAW(int8_t, rows3_i8)
#elif defined(BE_ARM_T2_ASM)
/* One element of 4 rows: the code (LDR_X: ldrb / ldrsb, post-increment), per row LDRSB
 * (post-increment) and MLA. */
#define T2_ELEM(LDR_X)                                                                                  \
    LDR_X " %[x], [%[xp]], #1\n\t"                                                                      \
    "ldrsb %[t], [%[w0]], #1\n\t"                                                                      \
    "mla %[a0], %[t], %[x], %[a0]\n\t"                                                                 \
    "ldrsb %[t], [%[w1]], #1\n\t"                                                                      \
    "mla %[a1], %[t], %[x], %[a1]\n\t"                                                                 \
    "ldrsb %[t], [%[w2]], #1\n\t"                                                                      \
    "mla %[a2], %[t], %[x], %[a2]\n\t"                                                                 \
    "ldrsb %[t], [%[w3]], #1\n\t"                                                                      \
    "mla %[a3], %[t], %[x], %[a3]\n\t"

/* a[r] = sum_{j < n} w[r * rb + j] * x[j] for r < 4, n >= 2 even elements: 10 instructions per
 * element and 4 rows, the loop's compare and branch once per 2 elements. */
#define T2_ROWS4(NAME, LDR_X)                                                                           \
    static void NAME(const int8_t *w, uint32_t rb, const void *x, uint32_t n, int32_t *a)               \
    {                                                                                                   \
        const uint8_t *xp = (const uint8_t *)x, *end = xp + n;                                          \
        const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;                               \
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, xv, t;                                                  \
        __asm__ volatile("1:\n\t" T2_ELEM(LDR_X) T2_ELEM(LDR_X) "cmp %[xp], %[end]\n\t"                 \
                         "bne 1b\n\t"                                                                   \
                         : [xp] "+r"(xp), [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3),      \
                           [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "=&r"(xv),      \
                           [t] "=&r"(t)                                                                 \
                         : [end] "r"(end)                                                               \
                         : "cc", "memory");                                                             \
        a[0] = a0;                                                                                      \
        a[1] = a1;                                                                                      \
        a[2] = a2;                                                                                      \
        a[3] = a3;                                                                                      \
    }
T2_ROWS4(rows4_u8, "ldrb")
T2_ROWS4(rows4_i8, "ldrsb")

#define DOT_RAW(X, ROWS4)                                                                               \
    static void dot_##X(const int8_t *w, uint32_t rb, const void *xv, uint32_t n, uint32_t rows,        \
                        int32_t xbias, int32_t *acc)                                                    \
    {                                                                                                   \
        const X *x = (const X *)xv;                                                                     \
        const uint32_t n2 = n & ~1u;                                                                    \
        uint32_t r;                                                                                     \
        (void)xbias;                                                                                    \
        for (; rows >= 4u && n2 > 0u; rows -= 4u, w += 4u * rb, acc += 4) {                             \
            int32_t a[4];                                                                               \
            ROWS4(w, rb, x, n2, a);                                                                     \
            for (r = 0; r < 4u; r++)                                                                    \
                acc[r] += a[r] + (n2 < n ? w[r * rb + n2] * x[n2] : 0);                                 \
        }                                                                                               \
        for (; rows > 0u; rows--, w += rb, acc++)                                                       \
            *acc += dot1_##X(w, x, n);                                                                  \
    }
DOT_RAW(uint8_t, rows4_u8)
DOT_RAW(int8_t, rows4_i8)
#else
/* 4 rows per code load (2 rows, then 1, for the rest), 2 elements per step. */
#define DOT_RAW(X)                                                                                      \
    static void dot_##X(const int8_t *w, uint32_t rb, const void *xv, uint32_t n, uint32_t rows,        \
                        int32_t xbias, int32_t *acc)                                                    \
    {                                                                                                   \
        const X *x = (const X *)xv;                                                                     \
        uint32_t j;                                                                                     \
        (void)xbias;                                                                                    \
        for (; rows >= 4u; rows -= 4u, w += 4u * rb, acc += 4) {                                        \
            const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;                           \
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                                     \
            for (j = 0; j + 2u <= n; j += 2u) {                                                         \
                const int32_t x0 = x[j], x1 = x[j + 1u];                                                \
                a0 += w0[j] * x0 + w0[j + 1u] * x1;                                                     \
                a1 += w1[j] * x0 + w1[j + 1u] * x1;                                                     \
                a2 += w2[j] * x0 + w2[j + 1u] * x1;                                                     \
                a3 += w3[j] * x0 + w3[j + 1u] * x1;                                                     \
            }                                                                                           \
            if (j < n) {                                                                                \
                const int32_t x0 = x[j];                                                                \
                a0 += w0[j] * x0;                                                                       \
                a1 += w1[j] * x0;                                                                       \
                a2 += w2[j] * x0;                                                                       \
                a3 += w3[j] * x0;                                                                       \
            }                                                                                           \
            acc[0] += a0;                                                                               \
            acc[1] += a1;                                                                               \
            acc[2] += a2;                                                                               \
            acc[3] += a3;                                                                               \
        }                                                                                               \
        for (; rows > 0u; rows--, w += rb, acc++)                                                       \
            *acc += dot1_##X(w, x, n);                                                                  \
    }
DOT_RAW(uint8_t)
DOT_RAW(int8_t)
#endif

be_status be_conv2d_i8_mac(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS)
        return be_i8_dw(op, in, out, NULL, NULL, NULL);
    if (op->in.kind == BE_KIND_I8)
        return be_i8_conv2d(op, in, out, scratch, BE_I8_RAW, be_i8_copy_raw, be_i8_fill_raw, dot_int8_t);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_RAW, be_i8_copy_raw, be_i8_fill_raw, dot_uint8_t);
}

be_status be_dense_i8_mac(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    if (op->in.kind == BE_KIND_I8)
        return be_i8_dense(op, in, out, BE_I8_RAW, be_i8_copy_raw, dot_int8_t);
    return be_i8_dense(op, in, out, BE_I8_RAW, be_i8_copy_raw, dot_uint8_t);
}

#else
typedef int be_i8_mac_unused; /* ISO C forbids an empty translation unit */
#endif
