/* be_i8_dsp.c -- "dsp": the int8 layers (int8 weights over u8 / i8 codes) with the DSP extension
 * (Cortex-M4, M7, M33, M55): SMLAD, two 16-bit multiply-accumulates per instruction.
 *
 * The drivers of be_arm_i8.h with the permuted int16 patch (BE_I8_S16Q): a quad of codes
 * x0..x3 is stored as the words (x0 | x2 << 16) and (x1 | x3 << 16); a weight word (w0, w1, w2,
 * w3) gives SXTB16(w) = (w0, w2) and SXTB16(w ROR 8) = (w1, w3), so a quad of MACs is one LDR,
 * two SXTB16 and two SMLAD per row; the patch words (one LDRD) are shared by 4 rows.
 * The patch itself is made 4 codes at a time the same way: one LDR of 4 input bytes (unaligned
 * loads are allowed on these cores: LDR, never LDRD / LDM, for input and weights), UXTB16 /
 * SXTB16 and its ROR 8 form, one STRD.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP

#include <arm_acle.h>

#include "arm/be_arm.h"
#if defined(BE_ARM_T2_ASM)
#define BE_I8_PUT_HIGH be_i8_put_high_dsp
#endif
#include "arm/be_arm_i8.h"

#if defined(BE_ARM_T2_ASM)
/* RequantStage when every shift of the block is >= 32 (be_i8_put), one output per step: an LDM
 * of the prepared {Bh low word, Bh high word, M, s - 32} (be_i8_rq), SMLAL (v = M * acc + Bh in
 * 64 bits, exact: the loader proved it fits int64), ASR of the high word by s - 32 (<= 30),
 * SSAT 16, the zero point added, SSAT 8: the reference's sat8(sat16(v >> s) + zp). 10
 * instructions per output with the loop (GCC's code for the C: 11 on the Cortex-M4, more with
 * the Cortex-M7's and M33's scheduling). */
static void be_i8_put_high_dsp(const be_i8_rq *q, const int32_t *acc, uint32_t n, int32_t zp, int8_t *dst)
{
    register uint32_t bl __asm__("r4"), bh __asm__("r5"), m __asm__("r6"), s __asm__("r8");
    int32_t a;
    if (n == 0u)
        return;
    __asm__ volatile("1:\n\t"
                     "ldmia %[q]!, {%[bl], %[bh], %[m], %[s]}\n\t"
                     "ldr %[a], [%[acc]], #4\n\t"
                     "smlal %[bl], %[bh], %[m], %[a]\n\t"
                     "asr %[bh], %[bh], %[s]\n\t"
                     "ssat %[bh], #16, %[bh]\n\t"
                     "add %[bh], %[bh], %[zp]\n\t"
                     "ssat %[bh], #8, %[bh]\n\t"
                     "strb %[bh], [%[dst]], #1\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b\n\t"
                     : [q] "+r"(q), [acc] "+r"(acc), [n] "+r"(n), [dst] "+r"(dst), [bl] "=&r"(bl), [bh] "=&r"(bh),
                       [m] "=&r"(m), [s] "=&r"(s), [a] "=&r"(a)
                     : [zp] "r"(zp)
                     : "cc", "memory");
}
#endif

int be_i8_dsp_supports(const be_op *op)
{
    return be_op_is_int8_layer(op);
}

/* 4 bytes at any address (one LDR: unaligned word loads are allowed on ARMv7-M / ARMv8-M) */
static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4u);
    return v;
}

/* SXTB16 / UXTB16 of the bytes 1 and 3 (the ROR #8 forms; GCC does not fold the rotation) */
static inline uint32_t sxtb16_hi(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static inline uint32_t uxtb16_hi(uint32_t v)
{
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static void copy_q(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    int16_t *p = (int16_t *)patch;
    uint32_t *q, *qend;
    for (; n > 0u && (e & 3u) != 0u; n--, e++, src++)
        p[be_i8_q(e)] = (int16_t)be_i8_code(src, 0u, is_i8);
    q = (uint32_t *)(void *)(p + e);
    qend = q + (n & ~3u) / 2u;
    e += n & ~3u;
    if (is_i8) {
        for (; q != qend; q += 2, src += 4) {
            const uint32_t v = ld32(src);
            q[0] = (uint32_t)__sxtb16(v);
            q[1] = sxtb16_hi(v);
        }
    } else {
        for (; q != qend; q += 2, src += 4) {
            const uint32_t v = ld32(src);
            q[0] = (uint32_t)__uxtb16(v);
            q[1] = uxtb16_hi(v);
        }
    }
    for (n &= 3u; n > 0u; n--, e++, src++)
        p[be_i8_q(e)] = (int16_t)be_i8_code(src, 0u, is_i8);
}

static void fill_q(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    int16_t *p = (int16_t *)patch;
    const uint32_t pair = ((uint32_t)code & 0xFFFFu) * 0x10001u;
    uint32_t *q, *qend;
    for (; n > 0u && (e & 3u) != 0u; n--, e++)
        p[be_i8_q(e)] = (int16_t)code;
    q = (uint32_t *)(void *)(p + e);
    qend = q + (n & ~3u) / 2u;
    e += n & ~3u;
    for (; q != qend; q += 2) {
        BE_OPAQUE_PTR(q); /* no memset call */
        q[0] = pair;
        q[1] = pair;
    }
    for (n &= 3u; n > 0u; n--, e++)
        p[be_i8_q(e)] = (int16_t)code;
}

/* The last 1..3 weights of a row as a word (zero above): the row may end the tensor, so no
 * byte beyond it is read. */
static inline uint32_t tail32(const int8_t *w, uint32_t t)
{
    const uint8_t *b = (const uint8_t *)w;
    uint32_t v = b[0];
    if (t > 1u)
        v |= (uint32_t)b[1] << 8;
    if (t > 2u)
        v |= (uint32_t)b[2] << 16;
    return v;
}

#define MAC_Q(a, v, x0, x1)                                                                             \
    do {                                                                                                \
        a = __smlad((int16x2_t)__sxtb16(v), (int16x2_t)(x0), a);                                        \
        a = __smlad((int16x2_t)sxtb16_hi(v), (int16x2_t)(x1), a);                                       \
    } while (0)

#if defined(BE_ARM_T2_ASM)
/* One quad of 4 rows, weights widened on the fly: rows 0 and 1 at w0 and w1 (post-increment),
 * rows 2 and 3 at w0 + rb2 and w1 + rb2. 21 instructions per 16 MACs. */
#define QUAD4                                                                                           \
    "ldrd %[x0], %[x1], [%[xp]], #8\n\t"                                                                \
    "ldr %[v], [%[w0], %[rb2]]\n\t"                                                                     \
    "sxtb16 %[t], %[v]\n\t"                                                                             \
    "smlad %[a2], %[t], %[x0], %[a2]\n\t"                                                               \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                     \
    "smlad %[a2], %[v], %[x1], %[a2]\n\t"                                                               \
    "ldr %[v], [%[w0]], #4\n\t"                                                                         \
    "sxtb16 %[t], %[v]\n\t"                                                                             \
    "smlad %[a0], %[t], %[x0], %[a0]\n\t"                                                               \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                     \
    "smlad %[a0], %[v], %[x1], %[a0]\n\t"                                                               \
    "ldr %[v], [%[w1], %[rb2]]\n\t"                                                                     \
    "sxtb16 %[t], %[v]\n\t"                                                                             \
    "smlad %[a3], %[t], %[x0], %[a3]\n\t"                                                               \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                     \
    "smlad %[a3], %[v], %[x1], %[a3]\n\t"                                                               \
    "ldr %[v], [%[w1]], #4\n\t"                                                                         \
    "sxtb16 %[t], %[v]\n\t"                                                                             \
    "smlad %[a1], %[t], %[x0], %[a1]\n\t"                                                               \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                     \
    "smlad %[a1], %[v], %[x1], %[a1]\n\t"

/* a[r] = sum over nq >= 1 quads of rows w + r * rb (r < 4) with the S16Q patch x. */
static void quads4(const int8_t *w, uint32_t rb, const uint32_t *x, uint32_t nq, int32_t *a)
{
    register const uint32_t *xp __asm__("r11") = x;
    register const uint32_t *xend __asm__("lr") = x + 2u * nq;
    register const int8_t *w0 __asm__("r12") = w;
    register const int8_t *w1 __asm__("r0") = w + rb;
    register uint32_t rb2 __asm__("r1") = 2u * rb;
    register int32_t a0 __asm__("r2") = 0, a1 __asm__("r3") = 0, a2 __asm__("r4") = 0, a3 __asm__("r5") = 0;
    register uint32_t x0 __asm__("r6"), x1 __asm__("r8"), v __asm__("r9"), t __asm__("r10");
    __asm__ volatile("tst %[nq], #1\n\t"
                     "beq 2f\n\t" QUAD4 "cmp %[xp], %[xend]\n\t"
                     "beq 3f\n"
                     "2:\n\t" QUAD4 QUAD4 "cmp %[xp], %[xend]\n\t"
                     "bne 2b\n"
                     "3:\n"
                     : [xp] "+r"(xp), [w0] "+r"(w0), [w1] "+r"(w1), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),
                       [a3] "+r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1), [v] "=&r"(v), [t] "=&r"(t)
                     : [xend] "r"(xend), [rb2] "r"(rb2), [nq] "r"(nq)
                     : "cc", "memory");
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}
#else
static void quads4(const int8_t *w, uint32_t rb, const uint32_t *x, uint32_t nq, int32_t *a)
{
    const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;
    const uint32_t *xend = x + 2u * nq;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; x != xend; x += 2, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
        const uint32_t x0 = x[0], x1 = x[1];
        uint32_t v = ld32(w0);
        MAC_Q(a0, v, x0, x1);
        v = ld32(w1);
        MAC_Q(a1, v, x0, x1);
        v = ld32(w2);
        MAC_Q(a2, v, x0, x1);
        v = ld32(w3);
        MAC_Q(a3, v, x0, x1);
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}
#endif

static void dot_q(const int8_t *w, uint32_t rb, const void *xv, uint32_t n, uint32_t rows, int32_t xbias,
                  int32_t *acc)
{
    const uint32_t *x = (const uint32_t *)xv, nq = n / 4u, t = n & 3u;
    const uint32_t *xt = x + 2u * nq;
    (void)xbias;
    if (rows == 4u) {
        int32_t a[4] = {0, 0, 0, 0};
        uint32_t r;
        if (nq > 0u)
            quads4(w, rb, x, nq, a);
        for (r = 0; r < 4u; r++) {
            if (t != 0u) {
                const uint32_t v = tail32(w + (size_t)r * rb + 4u * nq, t);
                MAC_Q(a[r], v, xt[0], xt[1]);
            }
            acc[r] += a[r];
        }
        return;
    }
    for (; rows > 0u; rows--, w += rb, acc++) {
        const uint32_t *xr = x;
        const int8_t *wr = w;
        int32_t a = 0;
        for (; xr != xt; xr += 2, wr += 4) {
            const uint32_t v = ld32(wr);
            MAC_Q(a, v, xr[0], xr[1]);
        }
        if (t != 0u) {
            const uint32_t v = tail32(wr, t);
            MAC_Q(a, v, xr[0], xr[1]);
        }
        *acc += a;
    }
}

/* ------------------------------------------------------------ Conv2d, widened weights */

/* Conv2d with groups = 1 and K <= TBL_K: the weights of up to 32 output channels are widened
 * once per chunk into a stack table (SXTB16 and its ROR 8 form of every weight word, zero past
 * K), 4 rows interleaved per quad: [r0 (x0 x2), r0 (x1 x3), r1 .., r2 .., r3 ..]. A quad of 4
 * rows is then LDRD (patch) + 2 LDM (weights) + 8 SMLAD: 11 instructions per 16 MACs. The
 * patch is rebuilt per chunk; chunks hold R = TBL_WORDS * 2 / K4 rows (a multiple of 4, <= 32). */
#define TBL_WORDS 1024u /* 4 KiB of stack */
#define TBL_K 512u      /* K4 <= 512: at least 4 rows per chunk */

static void table_rows(const be_op *op, uint32_t o0, uint32_t n, uint32_t *tbl)
{
    const uint32_t k = op->k, nq = (k + 3u) / 4u;
    const int8_t *w = (const int8_t *)op->weights;
    uint32_t g4, q, r;
    for (g4 = 0; g4 < (n + 3u) / 4u; g4++) {
        for (r = 0; r < 4u; r++) {
            const uint32_t row = 4u * g4 + r;
            const int8_t *wr = w + (size_t)(o0 + row) * k;
            uint32_t *d = tbl + (size_t)g4 * nq * 8u + 2u * r;
            for (q = 0; q < nq; q++, d += 8) {
                const uint32_t v = row >= n ? 0u : 4u * q + 4u <= k ? ld32(wr + 4u * q) : tail32(wr + 4u * q, k & 3u);
                d[0] = (uint32_t)__sxtb16(v);
                d[1] = sxtb16_hi(v);
            }
        }
    }
}

#if defined(BE_ARM_T2_ASM)
#define QUADT                                                                                           \
    "ldrd %[x0], %[x1], [%[xp]], #8\n\t"                                                                \
    "ldm %[wp]!, {%[wa], %[wb], %[wc], %[wd]}\n\t"                                                      \
    "smlad %[a0], %[wa], %[x0], %[a0]\n\t"                                                              \
    "smlad %[a0], %[wb], %[x1], %[a0]\n\t"                                                              \
    "smlad %[a1], %[wc], %[x0], %[a1]\n\t"                                                              \
    "smlad %[a1], %[wd], %[x1], %[a1]\n\t"                                                              \
    "ldm %[wp]!, {%[wa], %[wb], %[wc], %[wd]}\n\t"                                                      \
    "smlad %[a2], %[wa], %[x0], %[a2]\n\t"                                                              \
    "smlad %[a2], %[wb], %[x1], %[a2]\n\t"                                                              \
    "smlad %[a3], %[wc], %[x0], %[a3]\n\t"                                                              \
    "smlad %[a3], %[wd], %[x1], %[a3]\n\t"

/* a[r] (r < 4) = the nq >= 1 quads of the patch x with 4 table rows at wt */
static void table4(const uint32_t *wt, const uint32_t *x, uint32_t nq, int32_t *a)
{
    register uint32_t wa __asm__("r0"), wb __asm__("r1"), wc __asm__("r2"), wd __asm__("r3");
    register uint32_t x0 __asm__("r4"), x1 __asm__("r5");
    register int32_t a0 __asm__("r6") = 0, a1 __asm__("r8") = 0, a2 __asm__("r9") = 0, a3 __asm__("r10") = 0;
    register const uint32_t *xp __asm__("r11") = x;
    register const uint32_t *wp __asm__("r12") = wt;
    register const uint32_t *xend __asm__("lr") = x + 2u * nq;
    __asm__ volatile("tst %[nq], #1\n\t"
                     "beq 2f\n\t" QUADT "cmp %[xp], %[xend]\n\t"
                     "beq 3f\n"
                     "2:\n\t" QUADT QUADT "cmp %[xp], %[xend]\n\t"
                     "bne 2b\n"
                     "3:\n"
                     : [xp] "+r"(xp), [wp] "+r"(wp), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                       [x0] "=&r"(x0), [x1] "=&r"(x1), [wa] "=&r"(wa), [wb] "=&r"(wb), [wc] "=&r"(wc),
                       [wd] "=&r"(wd)
                     : [xend] "r"(xend), [nq] "r"(nq)
                     : "cc", "memory");
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}
#else
static void table4(const uint32_t *wt, const uint32_t *x, uint32_t nq, int32_t *a)
{
    const uint32_t *xend = x + 2u * nq;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; x != xend; x += 2, wt += 8) {
        const int16x2_t x0 = (int16x2_t)x[0], x1 = (int16x2_t)x[1];
        a0 = __smlad((int16x2_t)wt[1], x1, __smlad((int16x2_t)wt[0], x0, a0));
        a1 = __smlad((int16x2_t)wt[3], x1, __smlad((int16x2_t)wt[2], x0, a1));
        a2 = __smlad((int16x2_t)wt[5], x1, __smlad((int16x2_t)wt[4], x0, a2));
        a3 = __smlad((int16x2_t)wt[7], x1, __smlad((int16x2_t)wt[6], x0, a3));
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}
#endif

#if defined(BE_ARM_T2_ASM)
/* K4 = 16 or 40 (the ResNets' 1x1 downsampling convs over 16 and 40 channels) with a
 * RequantStage whose shifts are all >= 32: per channel one table row of K4 / 2 + 4 words (the
 * weight pairs in the patch's order, then the requant words of first_rq_table), as many
 * channels per chunk as the 4 KiB table holds (85 for K4 = 16, 42 for K4 = 40; the patch is
 * made once per pixel and chunk), and per output pixel one asm loop over the chunk's
 * channels: per 4 pair words (8 MACs) an LDM of the patch, an LDM of the weights and 4 SMLAD,
 * then the requant and store of be_i8_put_high_dsp, the patch pointer stepped back; the loop
 * ends after the row that carries BE_I8_ROW_LAST. 22 instructions per channel of 16 MACs, 40 per 40
 * (table4 + be_i8_put: about 35 and 57). */
#define KQ_LD4 "ldmia %[xp]!, {%[x0], %[x1], %[x2], %[x3]}\n\tldmia %[p]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"
#define KQ_Q0                                                                                          \
    KQ_LD4 "smuad %[a], %[w0], %[x0]\n\t"                                                               \
           "smlad %[a], %[w1], %[x1], %[a]\n\t"                                                         \
           "smlad %[a], %[w2], %[x2], %[a]\n\t"                                                         \
           "smlad %[a], %[w3], %[x3], %[a]\n\t"
#define KQ_Q                                                                                           \
    KQ_LD4 "smlad %[a], %[w0], %[x0], %[a]\n\t"                                                         \
           "smlad %[a], %[w1], %[x1], %[a]\n\t"                                                         \
           "smlad %[a], %[w2], %[x2], %[a]\n\t"                                                         \
           "smlad %[a], %[w3], %[x3], %[a]\n\t"
BE_I8_ROW_PIXEL(kq_pixel16, KQ_Q0 KQ_Q, "32")
BE_I8_ROW_PIXEL(kq_pixel40, KQ_Q0 KQ_Q KQ_Q KQ_Q KQ_Q, "80")

/* The rows of channels [o0, o0 + n) (K4 = 4 nq) at tbl; `ends`: the last one carries BE_I8_ROW_LAST. */
static void kq_table(const be_op *op, const be_i8_rq *q, uint32_t o0, uint32_t n, uint32_t nq, int ends,
                     uint32_t *tbl)
{
    const int8_t *w = (const int8_t *)op->weights;
    const uint32_t k = op->k, row = 2u * nq + 4u;
    uint32_t o, j;
    for (o = 0; o < n; o++) {
        const int8_t *wr = w + (size_t)(o0 + o) * k;
        uint32_t *d = tbl + (size_t)o * row;
        for (j = 0; j < nq; j++) {
            const uint32_t v = 4u * j + 4u <= k ? ld32(wr + 4u * j) : 4u * j < k ? tail32(wr + 4u * j, k & 3u) : 0u;
            d[2u * j] = (uint32_t)__sxtb16(v);
            d[2u * j + 1u] = sxtb16_hi(v);
        }
        be_i8_row_rq(q + o, op->zero_point, ends && o + 1u == n, d + 2u * nq);
    }
}

/* The fused rows for op if it takes them (then 0, out written), else 1 (nothing written). */
static int kq_conv(const be_op *op, const void *in, void *out, void *scratch, uint32_t *tbl)
{
    const be_value *vo = &op->out;
    const uint32_t nq = (op->k + 3u) / 4u, row = 2u * nq + 4u, chunk = TBL_WORDS / row;
    void (*pixel)(const uint32_t *, const void *, int8_t *) =
        nq == 4u ? kq_pixel16 : nq == 10u ? kq_pixel40 : NULL;
    be_i8_rq rq[BE_I8_BLOCK];
    uint32_t c0, o0, oy, ox;
    if (pixel == NULL || !be_i8_requant_all_high(op))
        return 1;
    for (c0 = 0; c0 < op->out_ch; c0 += chunk) {
        const uint32_t cn = op->out_ch - c0 < chunk ? op->out_ch - c0 : chunk;
        for (o0 = c0; o0 < c0 + cn; o0 += BE_I8_BLOCK) {
            const uint32_t n = c0 + cn - o0 < BE_I8_BLOCK ? c0 + cn - o0 : BE_I8_BLOCK;
            (void)be_i8_rq_prepare(op, o0, n, rq);
            kq_table(op, rq, o0, n, nq, o0 + n == c0 + cn, tbl + (size_t)(o0 - c0) * row);
        }
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
                be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, scratch, BE_I8_S16Q, copy_q, fill_q);
                pixel(tbl, scratch, (int8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes + c0);
            }
    }
    return 0;
}
#endif

static be_status conv_table(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k4 = (op->k + 3u) & ~3u, nq = k4 / 4u;
    uint32_t rows = (2u * TBL_WORDS / k4) & ~3u;
    uint32_t tbl[TBL_WORDS];
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, oy, ox, g4;
    be_status st = BE_OK;
    if (rows > BE_I8_BLOCK)
        rows = BE_I8_BLOCK;
#if defined(BE_ARM_T2_ASM)
    if (kq_conv(op, in, out, scratch, tbl) == 0)
        return BE_OK;
#endif
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch;) {
        const uint32_t blk_end = (o0 / BE_I8_BLOCK + 1u) * BE_I8_BLOCK; /* chunks stay inside a word of sign bits */
        uint32_t n = op->out_ch - o0 < rows ? op->out_ch - o0 : rows;
        int high;
        if (o0 + n > blk_end)
            n = blk_end - o0;
        high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, n, rq) : 0;
        table_rows(op, o0, n, tbl);
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, scratch, BE_I8_S16Q, copy_q, fill_q);
                for (g4 = 0; g4 < n; g4 += 4u)
                    table4(tbl + (size_t)g4 * nq * 2u, (const uint32_t *)scratch, nq, acc + g4);
                s = be_i8_put(op, rq, high, px_out, o0, n, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
        o0 += n;
    }
    return st;
}

/* ---------------------------------------------------------- depthwise, channel lanes */

/* Depthwise with channel multiplier 1: 4 channels per step, the taps' input words (one LDR of
 * 4 channels, UXTB16 / SXTB16 and the ROR 8 form) against the weights transposed per chunk
 * into int16 pairs, wt[(q * nt + t) * 2 + {0, 1}] = (w(4q, t) | w(4q + 2, t) << 16,
 * w(4q + 1, t) | w(4q + 3, t) << 16); SMLABB / SMLATT per channel: 9 instructions per 4 MACs
 * with the tap address load. Channels past the last whole quad of the chunk: plain C (a word
 * load there could pass the end of the input). */
#define DW_WT_WORDS (BE_I8_BLOCK / 4u * BE_I8_DW_TAPS * 2u) /* 4 KiB */

static void dw_weights(const be_op *op, uint32_t o0, uint32_t n, void *wt)
{
    const uint32_t nt = op->kh * op->kw;
    const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * nt;
    uint32_t *d = (uint32_t *)wt, q, t;
    for (q = 0; q < n / 4u; q++)
        for (t = 0; t < nt; t++, d += 2) {
            const int8_t *wq = w + (size_t)4u * q * nt + t;
            d[0] = ((uint32_t)(uint16_t)(int16_t)wq[0]) | ((uint32_t)(uint16_t)(int16_t)wq[2u * nt] << 16);
            d[1] = ((uint32_t)(uint16_t)(int16_t)wq[nt]) | ((uint32_t)(uint16_t)(int16_t)wq[3u * nt] << 16);
        }
}

#if defined(BE_ARM_T2_ASM)
/* One tap of a quad: the tap's address, its 4 input channels, their weights, 4 SMLAxy. */
#define DW_TAP(XT)                                                                                      \
    "ldr %[xv], [%[tp]], #4\n\t"                                                                        \
    "ldr %[xv], [%[xv], %[j]]\n\t"                                                                      \
    XT " %[x02], %[xv]\n\t"                                                                             \
    XT " %[xv], %[xv], ror #8\n\t"                                                                      \
    "ldrd %[w02], %[w13], [%[wp]], #8\n\t"                                                              \
    "smlabb %[a0], %[x02], %[w02], %[a0]\n\t"                                                           \
    "smlatt %[a2], %[x02], %[w02], %[a2]\n\t"                                                           \
    "smlabb %[a1], %[xv], %[w13], %[a1]\n\t"                                                            \
    "smlatt %[a3], %[xv], %[w13], %[a3]\n\t"

/* Taps in threes when nt % 3 == 0 (3x3, 5x3, ...), else one by one: 9 instructions per tap and
 * quad, the loop's compare and branch once per 3 taps. */
#define DW_LANES(XT)                                                                                    \
    do {                                                                                                \
        const uint8_t *const *tp = taps, *const *tend = taps + nt;                                       \
        const uint32_t *wp = w;                                                                         \
        uint32_t xv, x02, w02, w13;                                                                     \
        if (nt % 3u == 0u)                                                                              \
            __asm__ volatile("1:\n\t" DW_TAP(XT) DW_TAP(XT) DW_TAP(XT) "cmp %[tp], %[tend]\n\t"           \
                             "bne 1b\n\t"                                                               \
                             : [tp] "+r"(tp), [wp] "+r"(wp), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),   \
                               [a3] "+r"(a3), [xv] "=&r"(xv), [x02] "=&r"(x02), [w02] "=&r"(w02),       \
                               [w13] "=&r"(w13)                                                         \
                             : [tend] "r"(tend), [j] "r"(j)                                             \
                             : "cc", "memory");                                                         \
        else                                                                                            \
            __asm__ volatile("1:\n\t" DW_TAP(XT) "cmp %[tp], %[tend]\n\t"                                 \
                             "bne 1b\n\t"                                                               \
                             : [tp] "+r"(tp), [wp] "+r"(wp), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2),   \
                               [a3] "+r"(a3), [xv] "=&r"(xv), [x02] "=&r"(x02), [w02] "=&r"(w02),       \
                               [w13] "=&r"(w13)                                                         \
                             : [tend] "r"(tend), [j] "r"(j)                                             \
                             : "cc", "memory");                                                         \
        w = wp;                                                                                         \
    } while (0)
#define DW_U8 DW_LANES("uxtb16")
#define DW_I8 DW_LANES("sxtb16")
#else
#define DW_LANES(XT_LO, XT_HI)                                                                          \
    for (t = 0; t < nt; t++, w += 2) {                                                                  \
        const uint32_t xv = ld32(taps[t] + j);                                                          \
        const int16x2_t x02 = (int16x2_t)XT_LO(xv), x13 = (int16x2_t)XT_HI(xv);                         \
        a0 = __smlabb(x02, (int16x2_t)w[0], a0);                                                        \
        a2 = __smlatt(x02, (int16x2_t)w[0], a2);                                                        \
        a1 = __smlabb(x13, (int16x2_t)w[1], a1);                                                        \
        a3 = __smlatt(x13, (int16x2_t)w[1], a3);                                                        \
    }
#define DW_U8 DW_LANES(__uxtb16, uxtb16_hi)
#define DW_I8 DW_LANES(__sxtb16, sxtb16_hi)
#endif

static void dw_core(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0, uint32_t n,
                    const void *wt, int32_t *acc)
{
    const uint32_t *w = (const uint32_t *)wt;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    uint32_t j, t;
    for (j = 0; j + 4u <= n; j += 4u) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (is_i8) {
            DW_I8;
        } else {
            DW_U8;
        }
        acc[j] = a0;
        acc[j + 1u] = a1;
        acc[j + 2u] = a2;
        acc[j + 3u] = a3;
    }
    for (; j < n; j++) {
        const int8_t *wr = (const int8_t *)op->weights + (size_t)(o0 + j) * nt;
        int32_t a = 0;
        for (t = 0; t < nt; t++)
            a += wr[t] * be_i8_code(taps[t], j, is_i8);
        acc[j] = a;
    }
}

/* ---------------------------------------------------- few input channels: "first" rows */

/* Conv2d with groups = 1, a window of 3 rows of at most 4 bytes (3x3 over 1 channel: the
 * pixel layer, K = 9; also 3x1 over up to 4 channels, 3x2 over 2). The im2col patch and its
 * quads cost more than the 9 MACs per channel there; instead the input is copied once per call
 * with its padding made explicit (zero-point codes) and 4 slack bytes, and per output pixel each
 * window row is one word read (LDR; the bytes past the row's KW * C get weight 0), which gives
 * two int16 pairs: UXTB16 / SXTB16 (bytes 0, 2) and its ROR 8 form (bytes 1, 3). The weights of
 * up to 32 channels are widened once per chunk into the same 6 pairs: a channel is then SMUAD +
 * 5 SMLAD over the pixel's 6 pair words, which stay in registers (i8first on the Cortex-M4:
 * 6.09 -> 3.64 instructions per MAC, the requant stage 11 of them per output; 2.18 with dots and
 * requant fused, first_rq_*). Larger windows keep the table path below (a loop over more pairs
 * costs more than its quads). */
#define FIRST_PAIRS 6u
/* Words per channel in the chunk's table: the 6 weight pairs, then (RequantStage with every
 * shift >= 32) the prepared Bh (2 words), M and s - 32 | zp << 16 | BE_I8_ROW_LAST on the chunk's
 * last channel, so that one pointer walks everything a channel needs (first_rq_*). */
#define FIRST_ROW 10u
#if BE_I8_PAD_BYTES >= 8 /* 0: a RAM-tight build without the copy, the table path for every layer */
#define BE_I8_FIRST 1

static int first_takes(const be_op *op, be_arm_padded *g)
{
    return op->groups <= 1u && op->kh == 3u && op->kw * op->in.c <= 4u &&
           be_arm_padded_geometry(op, op->in.c, BE_I8_PAD_BYTES - 4u, g);
}

/* The padded input: g->hp rows of g->wp pixels of C bytes, padding pixels the zero point, then
 * 4 zero bytes (the last window's word reads reach at most 3 bytes past its row). */
/* The pair words of channels [o0, o0 + n): tbl[o * np + j] in the order the pixel's pairs are
 * made (per window row, per word: bytes (0, 2), then (1, 3)). */
static void first_table(const be_op *op, uint32_t o0, uint32_t n, uint32_t np, uint32_t *tbl)
{
    const uint32_t rb = op->kw * op->in.c, nw = (rb + 3u) / 4u;
    const int8_t *w = (const int8_t *)op->weights;
    uint32_t o, ky, q, h;
    for (o = 0; o < n; o++) {
        const int8_t *wr = w + (size_t)(o0 + o) * op->k;
        uint32_t *d = tbl + (size_t)o * np;
        for (ky = 0; ky < op->kh; ky++, wr += rb)
            for (q = 0; q < nw; q++)
                for (h = 0; h < 2u; h++) {
                    const uint32_t b0 = 4u * q + h, b1 = b0 + 2u;
                    const int32_t lo = b0 < rb ? wr[b0] : 0, hi = b1 < rb ? wr[b1] : 0;
                    *d++ = ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
                }
    }
}

/* 3 window rows of one word each (3x3 over 1 channel, K = 9: the pixel layer): the 6 pair words
 * made from the 3 row words in registers, GCC's loop unrolled by hand (it keeps a 6-step inner
 * loop otherwise: 5 instructions per pair) */
#define FIRST_DOTS6(NAME, EXT, EXT_HI)                                                                     \
    static __attribute__((noinline)) void NAME(const uint32_t *tbl, const uint8_t *win, uint32_t rs,     \
                                               uint32_t n, int32_t *acc)                                  \
    {                                                                                                      \
        const uint32_t v0 = ld32(win), v1 = ld32(win + rs), v2 = ld32(win + 2u * rs);                      \
        const int16x2_t x0 = (int16x2_t)EXT(v0), x1 = (int16x2_t)EXT_HI(v0), x2 = (int16x2_t)EXT(v1),      \
                        x3 = (int16x2_t)EXT_HI(v1), x4 = (int16x2_t)EXT(v2), x5 = (int16x2_t)EXT_HI(v2);   \
        int32_t *const end = acc + n;                                                                      \
        for (; acc != end; tbl += FIRST_ROW) {                                                                     \
            int32_t a = __smuad((int16x2_t)tbl[0], x0);                                                    \
            a = __smlad((int16x2_t)tbl[1], x1, a);                                                         \
            a = __smlad((int16x2_t)tbl[2], x2, a);                                                         \
            a = __smlad((int16x2_t)tbl[3], x3, a);                                                         \
            a = __smlad((int16x2_t)tbl[4], x4, a);                                                         \
            *acc++ = __smlad((int16x2_t)tbl[5], x5, a);                                                    \
        }                                                                                                  \
    }
#define UXT_LO(v) ((uint32_t)__uxtb16(v))
#define SXT_LO(v) ((uint32_t)__sxtb16(v))
FIRST_DOTS6(first_dots6_u8, UXT_LO, uxtb16_hi)
FIRST_DOTS6(first_dots6_i8, SXT_LO, sxtb16_hi)

#if defined(BE_ARM_T2_ASM)
/* One output pixel of a RequantStage chunk whose shifts are all >= 32, dots and requant fused
 * (no accumulator array, no second loop): per channel three LDMs walk its table row (two of
 * three weight pairs, then {Bh low, Bh high, M, s'}), SMUAD + 5 SMLAD over the pixel's pair
 * words in registers, then be_i8_put_high_dsp's SMLAL / ASR / SSAT 16 / zero point (s' >> 16) /
 * SSAT 8 / STRB; the loop ends after the row that carries BE_I8_ROW_LAST (ASR reads only the low
 * byte of s'). 18 instructions per channel of 9 MACs. */
#define FIRST_RQ(NAME, EXT, EXT_HI)                                                                       \
    static __attribute__((noinline)) void NAME(const uint32_t *tbl, const uint8_t *win, uint32_t rs,     \
                                               int8_t *dst)                                               \
    {                                                                                                      \
        const uint32_t v0 = ld32(win), v1 = ld32(win + rs), v2 = ld32(win + 2u * rs);                      \
        register uint32_t x0 __asm__("r0") = EXT(v0), x1 __asm__("r1") = EXT_HI(v0);                       \
        register uint32_t x2 __asm__("r2") = EXT(v1), x3 __asm__("r9") = EXT_HI(v1);                       \
        register uint32_t x4 __asm__("r10") = EXT(v2), x5 __asm__("r11") = EXT_HI(v2);                     \
        register const uint32_t *p __asm__("lr") = tbl;                                                    \
        register int8_t *d __asm__("r3") = dst;                                                            \
        register uint32_t w0 __asm__("r4"), w1 __asm__("r5"), w2 __asm__("r6"), w3 __asm__("r8");          \
        register int32_t a __asm__("r12");                                                                 \
        __asm__ volatile("1:\n\t"                                                                          \
                         "ldmia %[p]!, {%[w0], %[w1], %[w2]}\n\t"                                          \
                         "smuad %[a], %[w0], %[x0]\n\t"                                                    \
                         "smlad %[a], %[w1], %[x1], %[a]\n\t"                                              \
                         "smlad %[a], %[w2], %[x2], %[a]\n\t"                                              \
                         "ldmia %[p]!, {%[w0], %[w1], %[w2]}\n\t"                                          \
                         "smlad %[a], %[w0], %[x3], %[a]\n\t"                                              \
                         "smlad %[a], %[w1], %[x4], %[a]\n\t"                                              \
                         "smlad %[a], %[w2], %[x5], %[a]\n\t"                                              \
                         BE_I8_ROW_STAGE BE_I8_ROW_NEXT                                                    \
                         : [p] "+r"(p), [d] "+r"(d), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2),       \
                           [w3] "=&r"(w3), [a] "=&r"(a)                                                    \
                         : [x0] "r"(x0), [x1] "r"(x1), [x2] "r"(x2), [x3] "r"(x3), [x4] "r"(x4),           \
                           [x5] "r"(x5), [last] "I"(BE_I8_ROW_LAST)                                            \
                         : "cc", "memory");                                                                \
    }
FIRST_RQ(first_rq_u8, UXT_LO, uxtb16_hi)
FIRST_RQ(first_rq_i8, SXT_LO, sxtb16_hi)

/* The requant words of the chunk's table rows (see FIRST_ROW), from be_i8_rq_prepare's q. */
static void first_rq_table(const be_i8_rq *q, uint32_t n, int32_t zp, uint32_t *tbl)
{
    uint32_t o;
    for (o = 0; o < n; o++)
        be_i8_row_rq(q + o, zp, o + 1u == n, tbl + (size_t)o * FIRST_ROW + FIRST_PAIRS);
}
#endif

static be_status conv_first(const be_op *op, const void *in, void *out, const be_arm_padded *g)
{
    const be_value *vo = &op->out;
    const uint32_t c = op->in.c, rs = g->wp * c;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    uint8_t pad[BE_I8_PAD_BYTES];
    uint32_t tbl[BE_I8_BLOCK * FIRST_ROW];
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, oy, ox;
    be_status st = BE_OK;
    be_i8_pad_input(op, (const uint8_t *)in, g, pad);
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t n = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, n, rq) : 0;
        first_table(op, o0, n, FIRST_ROW, tbl);
#if defined(BE_ARM_T2_ASM)
        if (high) {
            first_rq_table(rq, n, op->zero_point, tbl);
            for (oy = 0; oy < vo->h; oy++) {
                const uint8_t *win = pad + (size_t)oy * op->sh * rs;
                int8_t *dst = (int8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes + o0;
                for (ox = 0; ox < vo->w; ox++, win += op->sw * c, dst += vo->pixel_bytes) {
                    if (is_i8)
                        first_rq_i8(tbl, win, rs, dst);
                    else
                        first_rq_u8(tbl, win, rs, dst);
                }
            }
            continue;
        }
#endif
        for (oy = 0; oy < vo->h; oy++) {
            const uint8_t *top = pad + (size_t)oy * op->sh * rs;
            for (ox = 0; ox < vo->w; ox++) {
                const uint8_t *win = top + (size_t)ox * op->sw * c;
                be_status s;
                if (is_i8)
                    first_dots6_i8(tbl, win, rs, n, acc);
                else
                    first_dots6_u8(tbl, win, rs, n, acc);
                s = be_i8_put(op, rq, high, (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes, o0, n,
                              acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

#endif /* BE_I8_FIRST */

/* ------------------------------------------------------------------------ entries */

be_status be_conv2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS) {
        if (op->out_ch == op->in_ch) {
            uint32_t wt[DW_WT_WORDS];
            return be_i8_dw(op, in, out, dw_core, dw_weights, wt);
        }
        return be_i8_dw(op, in, out, NULL, NULL, NULL);
    }
#ifdef BE_I8_FIRST
    {
        be_arm_padded g;
        if (first_takes(op, &g))
            return conv_first(op, in, out, &g);
    }
#endif
    if (op->groups <= 1u && ((op->k + 3u) & ~3u) <= TBL_K)
        return conv_table(op, in, out, scratch);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_S16Q, copy_q, fill_q, dot_q);
}

be_status be_dense_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_i8_dense(op, in, out, BE_I8_S16Q, copy_q, dot_q);
}

#else
typedef int be_i8_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
