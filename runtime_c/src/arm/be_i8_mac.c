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

#if defined(BE_ARM_T2_ASM) && !defined(BE_ARM_HAVE_THUMB1)
/* ------------------------------------------- Thumb-2 without DSP: fused rows of small K
 *
 * Conv2d (groups 1) with K = 9 (the pixel layer: 3x3 over one channel), 16 or 40 (the ResNets'
 * 1x1 downsampling convs) and a RequantStage whose shifts are all >= 32. The byte dot above
 * pays a code load and a weight load per MAC, and per call of 4 rows its set-up and the
 * accumulator array; here the weights of a chunk of channels are widened once to int32 table
 * rows (K weights, then the requant words {Bh low, Bh high, M, s - 32 | zp << 16 | BE_I8_ROW_LAST on
 * the chunk's last channel}), the pixel's patch is K int32 codes on the stack, and one asm loop
 * per pixel runs the chunk's channels: per 4 MACs an LDM of 4 codes, an LDM of 4 weights and 4
 * MLA (MUL for the first), then SMLAL / ASR / SSAT 16 / the zero point (ASR #16 of the last
 * word: ASR by a register reads its low byte only) / SSAT 8 / STRB, the patch pointer stepped
 * back, and the loop ends after the row whose last word has bit 8 set. Per channel 25
 * instructions for K = 9, 34 for K = 16, 70 for K = 40 (the byte dot: about 2.6 per MAC plus
 * the stage and the per-call set-up). The pixel layer reads its windows from the padded copy
 * (be_i8_pad_input). Cortex-M3: i8first 9.10 -> 3.34 instructions per MAC; the distilled
 * ResNet's 1x1 convs 6.0 -> 2.83 (K = 16) and 3.96 -> 2.38 (K = 40, chunks of 23 channels, the
 * patch made per chunk). */
#define MROW_WORDS 1024u /* the chunk's table: 4 KiB of stack */
#define MROW_KMAX 40u

static void mrow_copy(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    int32_t *d = (int32_t *)patch + e;
    uint32_t j;
    for (j = 0; j < n; j++)
        d[j] = is_i8 ? (int32_t)(int8_t)src[j] : (int32_t)src[j];
}

static void mrow_fill(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    int32_t *d = (int32_t *)patch + e;
    uint32_t j;
    for (j = 0; j < n; j++) {
        BE_OPAQUE_PTR(d);
        d[j] = code;
    }
}

#define MROW_LD4 "ldmia %[xp]!, {%[x0], %[x1], %[x2], %[x3]}\n\tldmia %[p]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
#define MROW_Q0                                                                                         \
    MROW_LD4 "mul %[a], %[w0], %[x0]\n\t"                                                                \
             "mla %[a], %[w1], %[x1], %[a]\n\t"                                                          \
             "mla %[a], %[w2], %[x2], %[a]\n\t"                                                          \
             "mla %[a], %[w3], %[x3], %[a]\n\t"
#define MROW_Q                                                                                          \
    MROW_LD4 "mla %[a], %[w0], %[x0], %[a]\n\t"                                                          \
             "mla %[a], %[w1], %[x1], %[a]\n\t"                                                          \
             "mla %[a], %[w2], %[x2], %[a]\n\t"                                                          \
             "mla %[a], %[w3], %[x3], %[a]\n\t"
#define MROW_ONE                                                                                        \
    "ldr %[x0], [%[xp]], #4\n\t"                                                                          \
    "ldr %[w0], [%[p]], #4\n\t"                                                                           \
    "mla %[a], %[w0], %[x0], %[a]\n\t"
BE_I8_ROW_PIXEL(mrow_k9, MROW_Q0 MROW_Q MROW_ONE, "36")
BE_I8_ROW_PIXEL(mrow_k16, MROW_Q0 MROW_Q MROW_Q MROW_Q, "64")
BE_I8_ROW_PIXEL(mrow_k40, MROW_Q0 MROW_Q MROW_Q MROW_Q MROW_Q MROW_Q MROW_Q MROW_Q MROW_Q MROW_Q, "160")

#if BE_I8_PAD_BYTES >= 8
/* The pixel layer's 3x3 window from the padded copy (be_i8_pad_input): 9 codes widened in
 * place of an im2col call per pixel. */
static inline void mrow_window9(int32_t *x, const uint8_t *r, uint32_t wp, int is_i8)
{
    uint32_t ky;
    for (ky = 0; ky < 3u; ky++, r += wp, x += 3) {
        if (is_i8) {
            x[0] = (int8_t)r[0];
            x[1] = (int8_t)r[1];
            x[2] = (int8_t)r[2];
        } else {
            x[0] = r[0];
            x[1] = r[1];
            x[2] = r[2];
        }
    }
}
#endif

/* The fused rows for op if it takes them (0, *st = BE_OK), else 1 (nothing written). */
static int mrow_conv(const be_op *op, const void *in, void *out, be_status *st)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->k, row = k + 4u;
    void (*pixel)(const uint32_t *, const void *, int8_t *) =
        k == 9u ? mrow_k9 : k == 16u ? mrow_k16 : k == 40u ? mrow_k40 : NULL;
    uint32_t tbl[MROW_WORDS];
    int32_t patch[MROW_KMAX];
    be_i8_rq rq[BE_I8_BLOCK];
    uint32_t o0, oy, ox, o, j, chunk = MROW_WORDS / row;
#if BE_I8_PAD_BYTES >= 8
    uint8_t pad[BE_I8_PAD_BYTES];
    be_arm_padded g = {0u, 0u, 0u, 0u};
    int padded = 0;
#endif
    if (pixel == NULL || op->groups > 1u || !be_i8_requant_all_high(op))
        return 1;
    if (chunk > BE_I8_BLOCK)
        chunk = BE_I8_BLOCK;
#if BE_I8_PAD_BYTES >= 8
    padded = k == 9u && op->kh == 3u && op->in.c == 1u && be_arm_padded_geometry(op, 1u, BE_I8_PAD_BYTES - 4u, &g);
    if (padded)
        be_i8_pad_input(op, (const uint8_t *)in, &g, pad);
#endif
    for (o0 = 0; o0 < op->out_ch; o0 += chunk) {
        const uint32_t n = op->out_ch - o0 < chunk ? op->out_ch - o0 : chunk;
        const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * k;
        (void)be_i8_rq_prepare(op, o0, n, rq);
        for (o = 0; o < n; o++) {
            uint32_t *r = tbl + (size_t)o * row;
            for (j = 0; j < k; j++)
                r[j] = (uint32_t)(int32_t)w[(size_t)o * k + j];
            be_i8_row_rq(rq + o, op->zero_point, o + 1u == n, r + k);
        }
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
#if BE_I8_PAD_BYTES >= 8
                if (padded)
                    mrow_window9(patch, pad + ((size_t)oy * op->sh * g.wp + (size_t)ox * op->sw), g.wp,
                                 op->in.kind == BE_KIND_I8);
                else
#endif
                    be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, patch, BE_I8_RAW, mrow_copy, mrow_fill);
                pixel(tbl, patch, (int8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes + o0);
            }
    }
    *st = BE_OK;
    return 0;
}
#endif

be_status be_conv2d_i8_mac(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS)
        return be_i8_dw(op, in, out, NULL, NULL, NULL);
#if defined(BE_ARM_T2_ASM) && !defined(BE_ARM_HAVE_THUMB1)
    {
        be_status st;
        if (mrow_conv(op, in, out, &st) == 0)
            return st;
    }
#endif
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
