/* be_u8_lut.c -- "lut": Dense on uint8 pixels x binary weights (the first layer of an MLP),
 * plain C for every ARM core, with subset-sum lookup tables.
 *
 * s_o = sum of the pixels whose weight bit is 1 (acc_o = total - 2 s_o, be_arm_u8.h). For 8
 * consecutive pixels x_0..x_7 a table T[m] = sum_{j: bit j of m} x_j (256 uint16 entries, each
 * <= 2040) turns the 8 weight bits of one row into ONE load: byte b of a weight word indexes the
 * table of pixels 8b..8b+7. The tables depend only on the input, so they are built once per
 * chunk of pixels and shared by every output row:
 *
 *   for each block of up to BLOCK rows:              (s of the block on the stack)
 *     for each chunk of TABLES bytes of the row (TABLES * 8 pixels):
 *       build TABLES tables                          (8 ADD + 1 STM per 16 entries)
 *       for each row of the block: s += T0[byte 0] + T1[byte 1] + ...
 *
 * Per row and 32 pixels (Thumb-2 assembly): one weight word, 4 byte extractions, 4 LDRH, 4 adds,
 * the load / store of s and the loop: 18 instructions / 32 MACs; Thumb-1: 15 per 16 pixels. A
 * table costs ~136 instructions, shared by the block's rows. Stack: TABLES * 512 bytes +
 * 4 * BLOCK (Cortex-M0: 2 tables, 128 rows: 1.8 KiB in all; others 4 tables, 256 rows: 3.3 KiB).
 * The input is read byte by byte (any alignment, nothing beyond its K bytes). Exact: uint32 sums
 * of uint16 entries. docs/kernels.md has the measurements.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include <string.h>

#include "arm/be_arm_u8.h"

#ifdef BE_ARM_HAVE_THUMB1
#define TABLES 2u  /* tables per chunk: 16 pixels, 1 KiB */
#define BLOCK 128u /* rows per block */
#else
#define TABLES 4u  /* 32 pixels, 2 KiB */
#define BLOCK 256u
#endif

int be_dense_u8_lut_supports(const be_op *op)
{
    return op->type == BE_OP_DENSE && be_arm_u8_supports(op);
}

/* T[m] = sum_{j: bit j of m} x[j] for m < 256, built as 128 words P[i] = T[2i] | T[2i+1] << 16
 * (T[2i+1] = T[2i] + x[0]): P[hi * 8 + lo] = A[lo] + B[hi], A over x0..x3, B over x4..x7.
 * Block hi is block hi - 1 plus B[hi] - B[hi - 1] = e[tz(hi)] (tz: trailing zeros; e0 = x4,
 * e1 = x5 - x4, e2 = x6 - x5 - x4, e3 = x7 - x6 - x5 - x4, all times 0x10001, modulo 2^32: the
 * halves never carry, the true sums are <= 2040): 8 ADDs and one STM per block of 8 words. */
#if defined(BE_ARM_T2_ASM)
#define E_SEQ(b0, b1, b2, b3) /* blocks 1..15: e[tz(hi)] */                                    \
    B8(b0) B8(b1) B8(b0) B8(b2) B8(b0) B8(b1) B8(b0) B8(b3) B8(b0) B8(b1) B8(b0) B8(b2) B8(b0) B8(b1) B8(b0)
#define B8(e)                                                                                  \
    "add r0, r0, " e "\n\tadd r1, r1, " e "\n\tadd r2, r2, " e "\n\tadd r3, r3, " e "\n\t"     \
    "add r4, r4, " e "\n\tadd r5, r5, " e "\n\tadd r6, r6, " e "\n\tadd r8, r8, " e "\n\t"     \
    "stmia lr!, {r0-r6, r8}\n\t"
#elif defined(BE_ARM_T1_ASM)
#define E_SEQ(b0, b1, b2, b3)                                                                  \
    B4(b0) B4(b1) B4(b0) B4(b2) B4(b0) B4(b1) B4(b0) B4(b3) B4(b0) B4(b1) B4(b0) B4(b2) B4(b0) B4(b1) B4(b0)
#define B4(e)                                                                                  \
    "adds r4, #16\n\tadd r0, " e "\n\tadd r1, " e "\n\tadd r2, " e "\n\tadd r3, " e "\n\t"     \
    "stmia r4!, {r0-r3}\n\t"
#endif

static void build(uint32_t *p, const uint8_t *x)
{
    const uint32_t x0 = x[0], x1 = x[1] * 0x10001u, x2 = x[2] * 0x10001u, x3 = x[3] * 0x10001u;
    const uint32_t x4 = x[4] * 0x10001u, x5 = x[5] * 0x10001u, x6 = x[6] * 0x10001u, x7 = x[7] * 0x10001u;
    const uint32_t a0 = x0 << 16, a1 = a0 + x1, a2 = a0 + x2, a3 = a1 + x2;
    const uint32_t e1 = x5 - x4, e2 = x6 - x5 - x4, e3 = x7 - x6 - x5 - x4;
#if defined(BE_ARM_T2_ASM)
    register uint32_t r0 __asm__("r0") = a0, r1 __asm__("r1") = a1, r2 __asm__("r2") = a2, r3 __asm__("r3") = a3;
    register uint32_t r4 __asm__("r4") = a0 + x3, r5 __asm__("r5") = a1 + x3, r6 __asm__("r6") = a2 + x3;
    register uint32_t r8 __asm__("r8") = a3 + x3;
    register uint32_t r9 __asm__("r9") = x4, r10 __asm__("r10") = e1, r11 __asm__("r11") = e2, r12 __asm__("r12") = e3;
    register uint32_t *lr __asm__("lr") = p;
    __asm__ volatile("stmia lr!, {r0-r6, r8}\n\t" E_SEQ("r9", "r10", "r11", "r12")
                     : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r8), "+r"(lr)
                     : "r"(r9), "r"(r10), "r"(r11), "r"(r12)
                     : "memory");
#elif defined(BE_ARM_T1_ASM)
    /* two passes of 4 words per block (8 low registers only); the deltas in high registers */
    const uint32_t lo4[4] = {a0, a1, a2, a3};
    uint32_t pass;
    for (pass = 0; pass < 2u; pass++) {
        register uint32_t r0 __asm__("r0") = lo4[0] + (pass ? x3 : 0u), r1 __asm__("r1") = lo4[1] + (pass ? x3 : 0u);
        register uint32_t r2 __asm__("r2") = lo4[2] + (pass ? x3 : 0u), r3 __asm__("r3") = lo4[3] + (pass ? x3 : 0u);
        register uint32_t *r4 __asm__("r4") = p + 4u * pass;
        register uint32_t r8 __asm__("r8") = x4, r9 __asm__("r9") = e1, r10 __asm__("r10") = e2, r11 __asm__("r11") = e3;
        __asm__ volatile(".syntax unified\n\t"
                         "stmia r4!, {r0-r3}\n\t" E_SEQ("r8", "r9", "r10", "r11")
                         : "+l"(r0), "+l"(r1), "+l"(r2), "+l"(r3), "+l"(r4)
                         : "h"(r8), "h"(r9), "h"(r10), "h"(r11)
                         : "cc", "memory");
    }
#else
    const uint32_t b[4] = {x4, e1, e2, e3};
    uint32_t a[8], hi, i;
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
    for (i = 0; i < 4u; i++)
        a[4u + i] = a[i] + x3;
    for (hi = 0; hi < 16u; hi++, p += 8) {
        if (hi != 0u) {
            const uint32_t d = b[hi & 1u ? 0 : hi & 2u ? 1 : hi & 4u ? 2 : 3];
            for (i = 0; i < 8u; i++)
                a[i] += d;
        }
        for (i = 0; i < 8u; i++)
            p[i] = a[i];
    }
#endif
}
#undef E_SEQ
#undef B8
#undef B4

#if TABLES == 4u
/* s[o] += T0[byte 0] + T1[byte 1] + T2[byte 2] + T3[byte 3] of word w[o * rw], o < n (n >= 1);
 * tab = the four tables of 256 uint16, back to back. */
static void rows4(const uint32_t *tab, const be_word *w, uint32_t rw, uint32_t *s, uint32_t n)
{
#ifdef BE_ARM_T2_ASM
    /* Thumb-2: 18 instructions per row (GCC's C: 27, it rebuilt the table addresses from sp) */
    const uint32_t *t0 = tab, *t1 = tab + 128, *t2 = tab + 256, *t3 = tab + 384, *end = s + n;
    const uint32_t step = rw * 4u;
    uint32_t v, a, b;
    __asm__ volatile("1:\n\t"
                     "ldr %[v], [%[w]]\n\t"
                     "add %[w], %[w], %[step]\n\t"
                     "uxtb %[a], %[v]\n\t"
                     "ldrh %[a], [%[t0], %[a], lsl #1]\n\t"
                     "uxtb %[b], %[v], ror #8\n\t"
                     "ldrh %[b], [%[t1], %[b], lsl #1]\n\t"
                     "add %[a], %[a], %[b]\n\t"
                     "uxtb %[b], %[v], ror #16\n\t"
                     "ldrh %[b], [%[t2], %[b], lsl #1]\n\t"
                     "add %[a], %[a], %[b]\n\t"
                     "lsr %[b], %[v], #24\n\t"
                     "ldrh %[b], [%[t3], %[b], lsl #1]\n\t"
                     "add %[a], %[a], %[b]\n\t"
                     "ldr %[b], [%[s]]\n\t"
                     "add %[b], %[b], %[a]\n\t"
                     "str %[b], [%[s]], #4\n\t"
                     "cmp %[s], %[end]\n\t"
                     "bne 1b\n\t"
                     : [w] "+&r"(w), [s] "+&r"(s), [v] "=&r"(v), [a] "=&r"(a), [b] "=&r"(b)
                     : [t0] "r"(t0), [t1] "r"(t1), [t2] "r"(t2), [t3] "r"(t3), [end] "r"(end), [step] "r"(step)
                     : "cc", "memory");
#else
    const be_arm_u16a *t0 = (const be_arm_u16a *)tab, *t1 = t0 + 256, *t2 = t0 + 512, *t3 = t0 + 768;
    uint32_t o;
    for (o = 0; o < n; o++, w += rw) {
        const uint32_t v = *w;
        s[o] += (uint32_t)t0[v & 0xFFu] + t1[(v >> 8) & 0xFFu] + t2[(v >> 16) & 0xFFu] + t3[v >> 24];
    }
#endif
}
#else
/* s[o] += T0[byte 0] + T1[byte 1] of the halfword h[o * 2 rw], o < n (n >= 1); tab = the two
 * tables of 256 uint16, back to back. */
static void rows2(const uint32_t *tab, const uint16_t *h, uint32_t rw, uint32_t *s, uint32_t n)
{
#ifdef BE_ARM_T1_ASM
    /* Thumb-1 on r0-r6 (pinned), the loop end and the row step in high registers: 15 per row */
    register const uint16_t *hp __asm__("r0") = h;
    register uint32_t *sp_ __asm__("r1") = s;
    register const uint32_t *t0 __asm__("r2") = tab;
    register const uint32_t *t1 __asm__("r3") = tab + 128;
    register uint32_t v __asm__("r4"), a __asm__("r5"), b __asm__("r6");
    register uint32_t *end __asm__("r8") = s + n;
    register uint32_t step __asm__("r9") = rw * 4u;
    __asm__ volatile(".syntax unified\n"
                     "1:\n\t"
                     "ldrh %[v], [%[h]]\n\t"
                     "add %[h], %[step]\n\t"
                     "lsls %[a], %[v], #24\n\t"
                     "lsrs %[a], %[a], #23\n\t"
                     "ldrh %[a], [%[t0], %[a]]\n\t"
                     "lsrs %[b], %[v], #8\n\t"
                     "lsls %[b], %[b], #1\n\t"
                     "ldrh %[b], [%[t1], %[b]]\n\t"
                     "adds %[a], %[a], %[b]\n\t"
                     "ldr %[b], [%[s]]\n\t"
                     "adds %[b], %[b], %[a]\n\t"
                     "stmia %[s]!, {%[b]}\n\t"
                     "cmp %[s], %[end]\n\t"
                     "bne 1b\n\t"
                     : [h] "+&l"(hp), [s] "+&l"(sp_), [v] "=&l"(v), [a] "=&l"(a), [b] "=&l"(b)
                     : [t0] "l"(t0), [t1] "l"(t1), [end] "h"(end), [step] "h"(step)
                     : "cc", "memory");
#else
    const be_arm_u16a *t0 = (const be_arm_u16a *)tab, *t1 = t0 + 256;
    uint32_t o;
    for (o = 0; o < n; o++, h += 2u * rw) {
        const uint32_t v = *h;
        s[o] += (uint32_t)t0[v & 0xFFu] + t1[v >> 8];
    }
#endif
}
#endif

be_status be_dense_u8_lut(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, rw = be_words_for(k), nout = op->out_ch;
    const uint8_t *px = (const uint8_t *)in;
    const uint32_t total = be_arm_u8_sum(px, k);
    uint32_t tab[TABLES * 128u]; /* TABLES tables of 256 uint16 */
    uint32_t s[BLOCK];
    int32_t acc[32];
    uint32_t o0, o, c, i;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += BLOCK) {
        const uint32_t nb = nout - o0 < BLOCK ? nout - o0 : BLOCK;
        const be_word *wb = (const be_word *)op->weights + (size_t)o0 * rw;
        memset(s, 0, (size_t)nb * 4u);
        for (c = 0; c < (k + 8u * TABLES - 1u) / (8u * TABLES); c++) { /* chunks of 8 * TABLES pixels */
            const uint32_t first = 8u * TABLES * c;
            for (i = 0; i < TABLES; i++) {
                const uint32_t at = first + 8u * i;
                uint8_t x8[8];
                if (at + 8u <= k) {
                    build(tab + 128u * i, px + at);
                } else { /* the last pixels: zeros after K */
                    memset(x8, 0, sizeof x8);
                    if (at < k)
                        memcpy(x8, px + at, k - at);
                    build(tab + 128u * i, x8);
                }
            }
#if TABLES == 4u
            rows4(tab, wb + c, rw, s, nb);
#else
            rows2(tab, (const uint16_t *)(const void *)(wb + c / 2u) + c % 2u, rw, s, nb);
#endif
        }
        for (o = 0; o < nb; o += 32u) { /* the output stage, 32 channels at a time */
            const uint32_t n = nb - o < 32u ? nb - o : 32u;
            be_status r;
            for (i = 0; i < n; i++)
                acc[i] = be_arm_u8_acc(total, s[o + i]);
            r = be_stage_put_block(op, out, o0 + o, n, acc);
            if (r != BE_OK)
                st = r;
        }
    }
    return st;
}

#else
typedef int be_u8_lut_unused; /* ISO C forbids an empty translation unit */
#endif
