/* be_u8_mla.c -- "mla": Conv2d on uint8 pixels x binary weights (the first layer of a CNN),
 * for every ARM core: two output channels per 32-bit multiply-accumulate.
 *
 * Packing: for channels a and b the weights of tap k become one word, the integer
 * w_a,k + 65536 * w_b,k (w = +-1) modulo 2^32. Then P = sum_k x_k * packed_k = A + 65536 * B
 * modulo 2^32 with A = acc_a, B = acc_b; for K <= 128, |A|, |B| <= 255 * K <= 32640, so A is the
 * low half sign-extended and B = (P - A) / 65536: exact. One MLA = two MACs.
 *
 * The packed weights ("pairs", 4 words per tap for 8 channels) are made once per call for a
 * pass of channels (on the stack, at most PAIR_WORDS words) and reused at every output pixel.
 * Per output pixel and 8 channels the tap loop: LDRB, LDM of 4 packed words, 4 MLA (Thumb-1:
 * MULS + ADD, accumulators in high registers), 7 instructions per tap when unrolled.
 *   The input is first copied with its padding made explicit (padded_input: at most PAD_BYTES
 *   on the stack; used in place without padding), so every window is an interior one.
 *   Thumb-2, sign stage and qrelu2 levels (below): one assembly call per output row runs every
 *   pixel and every group of 8 channels and writes one output byte per group and plane (its
 *   state between groups and pixels in a small struct on the stack: all 14 registers are
 *   taken); kernel rows of 3 or 9 bytes (3x3 x 1 or 3 channels) read straight from the padded
 *   input, 3-row kernels unrolled; one-group layers store whole words (row_one).
 *   Otherwise: each window copied to the scratch (from the padded input without checks, or by
 *   im2col when the copy does not fit), and the tap loop per group (unrolled x3 when 3 | K).
 *
 * Sign threshold stage, K <= 64 (3x3x1, 3x3x3, 5x5x1): the direction is folded into the
 * weights (acc' = direction * acc, the stage bit is acc' < t) and the test is done on the packed
 * word without decoding it: with t clamped to [-16384, 16384] (|acc'| <= 16320, so no result
 * changes), E = Tpack - P, Tpack = (t_a - 1 + 32768) + 65536 * (t_b - 1), has low half
 * t_a - 1 - A + 32768 in [63, 65471] (no borrow) and high half t_b - 1 - B: bit 15 of E is
 * (A < t_a) and bit 31 is (B >= t_b). Four words give the 8 bits with 12 instructions. Other
 * stages (and K > 64) decode A and B and use be_stage_put.
 * Takes Conv2d with K = KH * KW * C <= 128 (and 4 K <= PAIR_WORDS); on the cores with room on
 * the stack (not the Cortex-M0) also 128 < K <= 256 with kernel rows of KW * C <= 128 bytes
 * (conv_big: one group per pass, the sums decoded every 128 taps, e.g. a 7x7x3 RGB stem).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include <string.h>

#include "arm/be_arm_u8.h"

#define KMAX 128u
#define GROUPS_MAX 16u /* groups of 8 channels per pass (tpack: 4 words each) */
#define KFAST 64u /* the packed sign-threshold test */
#ifdef BE_ARM_HAVE_THUMB1
#define PAIR_WORDS 256u /* 1 KiB of stack (Cortex-M0: 4 KiB in all): K <= 64 */
#else
#define PAIR_WORDS 512u /* 2 KiB */
#define KBIG 256u       /* conv_big: one group, its pairs (4 KiB) on the stack of that path only */
#endif

int be_conv2d_u8_mla_supports(const be_op *op)
{
    const uint32_t k = op->kh * op->kw * op->in_ch;
    if (op->type != BE_OP_CONV2D || !be_arm_u8_supports(op))
        return 0;
#ifdef KBIG
    if (k > KMAX)
        return k <= KBIG && op->kw * op->in_ch <= KMAX;
#endif
    return k <= KMAX && 4u * k <= PAIR_WORDS;
}

/* pairs[(g * K + k) * 4 + q] = packed weights of channels o0 + 8g + 2q (low) and + 1 (high):
 * +-1 (times the direction when folding), 0 for channels >= out_ch. No division (Cortex-M0). */
static void make_pairs(const be_op *op, uint32_t o0, uint32_t groups, uint32_t k, int fold, uint32_t *pairs)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c), taps = op->kh * op->kw;
    const int8_t *dir = (const int8_t *)op->stage_a;
    uint32_t g, l, t, j;
    memset(pairs, 0, (size_t)groups * k * 16u);
    for (g = 0; g < groups; g++)
        for (l = 0; l < 8u; l++) {
            const uint32_t o = o0 + 8u * g + l;
            uint32_t *dst = pairs + (size_t)g * k * 4u + l / 2u, i = 0;
            const be_word *row = (const be_word *)op->weights + (size_t)o * taps * cw;
            const int32_t f = fold && o < op->out_ch ? dir[o] : 1;
            if (o >= op->out_ch)
                continue;
            for (t = 0; t < taps; t++, row += cw)
                for (j = 0; j < c; j++, i++) {
                    const int32_t v = be_bit_to_sign(be_get_bit(row, j)) * f;
                    dst[4u * i] += (uint32_t)v << (16u * (l % 2u));
                }
        }
    (void)k;
}

static uint32_t clamp_t(int32_t t)
{
    return (uint32_t)(t < -16384 ? -16384 : t > 16384 ? 16384 : t);
}

/* The packed tests of channels o0 + 8g + 2q and + 1 against their threshold `level` (of
 * op->levels per channel; the sign stage has one) at tpack[(g * nlev + level) * 4 + q]: a group's
 * nlev thresholds one block of 4 words after the other. Channels past out_ch get the threshold
 * pad_t (with their zero weights: 0 keeps their sign bits 0, 16384 puts their levels at 0). */
static void make_tpack(const be_op *op, uint32_t o0, uint32_t groups, uint32_t level, uint32_t nlev, int32_t pad_t,
                       uint32_t *tpack)
{
    const int32_t *t = (const int32_t *)op->stage_b;
    const uint32_t l = op->levels;
    uint32_t i;
    for (i = 0; i < 4u * groups; i++) {
        const uint32_t a = o0 + 2u * i, b = a + 1u;
        const uint32_t ta = clamp_t(a < op->out_ch ? t[a * l + level] : pad_t);
        const uint32_t tb = clamp_t(b < op->out_ch ? t[b * l + level] : pad_t);
        tpack[((i / 4u) * nlev + level) * 4u + i % 4u] = (ta - 1u + 32768u) + ((tb - 1u) << 16);
    }
}

#if defined(BE_ARM_T1_ASM)
/* One tap on Thumb-1 (taps, taps33): the pixel byte times the 4 packed weight words of the tap,
 * MULS into the weight registers, ADD to the accumulators in high registers. */
#define MLA_TAP_T1(n)                                                                          \
    "ldrb %[v], [%[x], #" #n "]\n\t"                                                           \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                            \
    "muls %[w0], %[v], %[w0]\n\t"                                                              \
    "add %[a0], %[w0]\n\t"                                                                     \
    "muls %[w1], %[v], %[w1]\n\t"                                                              \
    "add %[a1], %[w1]\n\t"                                                                     \
    "muls %[w2], %[v], %[w2]\n\t"                                                              \
    "add %[a2], %[w2]\n\t"                                                                     \
    "muls %[w3], %[v], %[w3]\n\t"                                                              \
    "add %[a3], %[w3]\n\t"
#endif

/* p[q] = sum_k x[k] * w[4k + q] modulo 2^32, q < 4 (k >= 1; by3: 3 divides k). Nothing may run
 * between setting the register variables and the asm (a call would clobber them). */
static void taps(const uint8_t *x, const uint32_t *w, uint32_t k, int by3, uint32_t *p)
{
#if defined(BE_ARM_T2_ASM)
    register const uint8_t *xp __asm__("r0") = x;
    register const uint32_t *wp __asm__("r1") = w;
    register uint32_t w0 __asm__("r2"), w1 __asm__("r3"), w2 __asm__("r4"), w3 __asm__("r5"), v __asm__("r6");
    register uint32_t a0 __asm__("r8") = 0u, a1 __asm__("r9") = 0u, a2 __asm__("r10") = 0u, a3 __asm__("r11") = 0u;
    register const uint8_t *end __asm__("r12") = x + k;
#define MLA_TAP(n)                                                                             \
    "ldrb %[v], [%[x], #" #n "]\n\t"                                                           \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                            \
    "mla %[a0], %[v], %[w0], %[a0]\n\t"                                                        \
    "mla %[a1], %[v], %[w1], %[a1]\n\t"                                                        \
    "mla %[a2], %[v], %[w2], %[a2]\n\t"                                                        \
    "mla %[a3], %[v], %[w3], %[a3]\n\t"
#define MLA_OPERANDS                                                                           \
    : [x] "+r"(xp), [w] "+r"(wp), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), \
      [v] "=&r"(v), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3)                 \
    : [end] "r"(end)                                                                           \
    : "cc", "memory"
    if (by3)
        __asm__ volatile("1:\n\t" MLA_TAP(0) MLA_TAP(1) MLA_TAP(2)
                         "add %[x], %[x], #3\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t" MLA_OPERANDS);
    else
        __asm__ volatile("1:\n\t" MLA_TAP(0)
                         "add %[x], %[x], #1\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t" MLA_OPERANDS);
#undef MLA_TAP
#undef MLA_OPERANDS
    p[0] = a0;
    p[1] = a1;
    p[2] = a2;
    p[3] = a3;
#elif defined(BE_ARM_T1_ASM)
    /* r0-r6 data, accumulators in r8-r11 (ADD to a high register is one instruction) */
    register const uint8_t *xp __asm__("r0") = x;
    register const uint32_t *wp __asm__("r1") = w;
    register uint32_t w0 __asm__("r2"), w1 __asm__("r3"), w2 __asm__("r4"), w3 __asm__("r5"), v __asm__("r6");
    register uint32_t a0 __asm__("r8") = 0u, a1 __asm__("r9") = 0u, a2 __asm__("r10") = 0u, a3 __asm__("r11") = 0u;
    register const uint8_t *end __asm__("r12") = x + k;
#define MLA_TAP(n) MLA_TAP_T1(n)
#define MLA_OPERANDS                                                                           \
    : [x] "+l"(xp), [w] "+l"(wp), [w0] "=&l"(w0), [w1] "=&l"(w1), [w2] "=&l"(w2), [w3] "=&l"(w3), \
      [v] "=&l"(v), [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [a3] "+h"(a3)                 \
    : [end] "h"(end)                                                                           \
    : "cc", "memory"
    if (by3)
        __asm__ volatile(".syntax unified\n"
                         "1:\n\t" MLA_TAP(0) MLA_TAP(1) MLA_TAP(2)
                         "adds %[x], %[x], #3\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t" MLA_OPERANDS);
    else
        __asm__ volatile(".syntax unified\n"
                         "1:\n\t" MLA_TAP(0)
                         "adds %[x], %[x], #1\n\t"
                         "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t" MLA_OPERANDS);
#undef MLA_TAP
#undef MLA_OPERANDS
    p[0] = a0;
    p[1] = a1;
    p[2] = a2;
    p[3] = a3;
#else
    uint32_t a0 = 0u, a1 = 0u, a2 = 0u, a3 = 0u;
    const uint8_t *end = x + k;
    (void)by3;
    do {
        const uint32_t v = *x++;
        a0 += v * w[0];
        a1 += v * w[1];
        a2 += v * w[2];
        a3 += v * w[3];
        w += 4;
    } while (x != end);
    p[0] = a0;
    p[1] = a1;
    p[2] = a2;
    p[3] = a3;
#endif
}

#if !defined(BE_ARM_T2_ASM)
/* taps() over a 3x3 window of one channel read in place: rows x, x + stride, x + 2 stride of 3
 * bytes (the padded input: no patch copy per pixel). */
static void taps33(const uint8_t *x, uint32_t stride, const uint32_t *w, uint32_t *p)
{
#if defined(BE_ARM_T1_ASM)
    register const uint8_t *xp __asm__("r0") = x;
    register const uint32_t *wp __asm__("r1") = w;
    register uint32_t w0 __asm__("r2"), w1 __asm__("r3"), w2 __asm__("r4"), w3 __asm__("r5"), v __asm__("r6");
    register uint32_t a0 __asm__("r8") = 0u, a1 __asm__("r9") = 0u, a2 __asm__("r10") = 0u, a3 __asm__("r11") = 0u;
    register uint32_t st __asm__("r12") = stride;
#define MLA_TAP(n) MLA_TAP_T1(n)
#define MLA_ROW MLA_TAP(0) MLA_TAP(1) MLA_TAP(2)
    __asm__ volatile(".syntax unified\n\t" MLA_ROW "add %[x], %[st]\n\t" MLA_ROW "add %[x], %[st]\n\t" MLA_ROW
                     : [x] "+l"(xp), [w] "+l"(wp), [w0] "=&l"(w0), [w1] "=&l"(w1), [w2] "=&l"(w2), [w3] "=&l"(w3),
                       [v] "=&l"(v), [a0] "+h"(a0), [a1] "+h"(a1), [a2] "+h"(a2), [a3] "+h"(a3)
                     : [st] "h"(st)
                     : "cc", "memory");
#undef MLA_ROW
#undef MLA_TAP
    p[0] = a0;
    p[1] = a1;
    p[2] = a2;
    p[3] = a3;
#else
    uint32_t a0 = 0u, a1 = 0u, a2 = 0u, a3 = 0u, r, i;
    for (r = 0; r < 3u; r++, x += stride)
        for (i = 0; i < 3u; i++, w += 4) {
            const uint32_t v = x[i];
            a0 += v * w[0];
            a1 += v * w[1];
            a2 += v * w[2];
            a3 += v * w[3];
        }
    p[0] = a0;
    p[1] = a1;
    p[2] = a2;
    p[3] = a3;
#endif
}

/* The group sums of a window: the patch (stride 0) or a 3x3 one-channel window in place. */
static inline void taps_at(const uint8_t *x, uint32_t stride, const uint32_t *w, uint32_t k, int by3, uint32_t *p)
{
    if (stride != 0u)
        taps33(x, stride, w, p);
    else
        taps(x, w, k, by3, p);
}
#define BE_MLA_TAPS(x, stride, w, k, by3, p) taps_at(x, stride, w, k, by3, p)
#else
#define BE_MLA_TAPS(x, stride, w, k, by3, p) ((void)(stride), taps(x, w, k, by3, p))
#endif

/* The 8 stage bits of one group from its packed sums (see the top of the file). */
/* The packed test's raw gathered word: only bits 9 + 2q (channel 2q below its threshold) and
 * 25 + 2q (channel 2q + 1 at or above its own) set. */
static inline uint32_t test_raw(const uint32_t *p, const uint32_t *tp)
{
    const uint32_t e0 = (tp[0] - p[0]) & 0x80008000u, e1 = (tp[1] - p[1]) & 0x80008000u;
    const uint32_t e2 = (tp[2] - p[2]) & 0x80008000u, e3 = (tp[3] - p[3]) & 0x80008000u;
    return e3 | (e2 >> 2) | (e1 >> 4) | (e0 >> 6);
}

/* The 8 bits of a raw gathered word (g | g >> 15 puts channel 2q + 1 next to 2q at bits 9 .. 16),
 * XOR 0xAA: bit i = channel i below its threshold. */
static inline uint32_t raw_bits(uint32_t g)
{
    return ((g | g >> 15) >> 9) & 0xFFu;
}

static inline uint32_t sign_bits(const uint32_t *p, const uint32_t *tp)
{
    return raw_bits(test_raw(p, tp)) ^ 0xAAu;
}

/* Unsigned levels (qrelu: L = 1 or 3 thresholds, Q = 1 or 2 output planes), K <= 64: with the
 * direction folded into the weights the level is #{k : acc' >= t_k} (the reference's count), so
 * each threshold is one packed test (sign_bits: bit i = channel i below t_k) and the level is
 * L - (the number of tests below) = (below count) XOR L for L = 2^Q - 1: bit-sliced, with b_k the
 * tests' bits, plane 0 = NOT (b_0 ^ b_1 ^ b_2) and plane 1 = NOT majority(b_0, b_1, b_2); on the
 * raw words r_k = b_k ^ 0xAA (majority commutes with complementing all three): plane 0 =
 * (r_0 ^ r_1 ^ r_2) ^ 0x55, plane 1 = majority(r) ^ 0x55, one extraction each. */
static inline void level_bits(const uint32_t *p, const uint32_t *tp, uint32_t levels, uint32_t stride,
                              uint32_t *plane0, uint32_t *plane1)
{
    const uint32_t r0 = test_raw(p, tp);
    if (levels == 1u) {
        *plane0 = raw_bits(r0) ^ 0x55u;
        *plane1 = 0u;
    } else {
        const uint32_t r1 = test_raw(p, tp + stride), r2 = test_raw(p, tp + 2u * stride);
        *plane0 = raw_bits(r0 ^ r1 ^ r2) ^ 0x55u;
        *plane1 = raw_bits((r0 & r1) | (r2 & (r0 ^ r1))) ^ 0x55u;
    }
}

/* The unsigned levels of groups [g0, g0 + ng) of one output pixel (cleared) from its patch:
 * the packed tests per threshold (level_bits), plane bits ORed into the pixel's words. */
static void pixel_levels(const be_op *op, const uint8_t *patch, uint32_t stride, const uint32_t *pairs,
                         const uint32_t *tpack, uint32_t k, int by3, uint32_t g0, uint32_t ng, void *px_out)
{
    be_word *words = (be_word *)px_out;
    const uint32_t nout = op->out_ch;
    uint32_t g;
    for (g = 0; g < ng; g++) {
        const uint32_t o0 = 8u * (g0 + g);
        uint32_t p[4], q0, q1;
        BE_MLA_TAPS(patch, stride, pairs + (size_t)g * k * 4u, k, by3, p);
        level_bits(p, tpack + 4u * op->levels * g, op->levels, 4u, &q0, &q1);
        if (nout - o0 < 8u) { /* channels beyond out_ch: no bits */
            q0 &= (1u << (nout - o0)) - 1u;
            q1 &= (1u << (nout - o0)) - 1u;
        }
        words[o0 / 32u] |= q0 << (o0 % 32u);
        if (op->levels == 3u)
            words[op->out.cw + o0 / 32u] |= q1 << (o0 % 32u);
    }
}

#if defined(BE_ARM_T2_ASM)
/* What the Thumb-2 pixel loop reads between groups (all 14 registers are taken by the tap
 * loop; the address of this is pushed on the stack while the loop runs). */
struct mla_args {
    const uint8_t *x0;  /* +0: first pixel of the first kernel row */
    const uint8_t *end; /* +4: x0 + KH * stride */
    uint32_t stride;    /* +8: bytes from one kernel row to the next */
    const uint32_t *tp; /* +12: packed thresholds of the next group */
    uint8_t *out;       /* +16: output byte of the next group (8 channels) */
    uint32_t groups;    /* +20: groups left (>= 1) */
    /* row_fast only: the next pixel of the run */
    uint32_t pixels;     /* +24: output pixels left in the run (>= 1) */
    uint32_t step;       /* +28: bytes from one pixel's window to the next (SW * C) */
    uint32_t out_skip;   /* +32: output bytes from after a pixel's last group to the next pixel's first */
    const uint32_t *tp0; /* +36: packed thresholds of the first group */
    uint32_t groups0;    /* +40: groups per pixel */
    const uint32_t *w0;  /* +44: pairs of the first group */
    uint32_t plane_bytes; /* +48: row_levels: bytes from output plane 0 to plane 1 */
};

/* One output pixel, fast sign path, Thumb-2: for every group of 8 channels the taps (kernel
 * rows of `run` = 3 or 9 bytes: one row per iteration, x += stride, straight from the input or
 * from an im2col row; run 1: one tap per iteration over an im2col row, stride 1), the packed
 * test, and one output byte. w = the pairs of the first group (the groups are contiguous). */
#define MLA_TAP(n)                                                                             \
    "ldrb %[v], [%[x], #" #n "]\n\t"                                                           \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                            \
    "mla %[a0], %[v], %[w0], %[a0]\n\t"                                                        \
    "mla %[a1], %[v], %[w1], %[a1]\n\t"                                                        \
    "mla %[a2], %[v], %[w2], %[a2]\n\t"                                                        \
    "mla %[a3], %[v], %[w3], %[a3]\n\t"
/* One threshold's packed test of the four sums into %[dst] as the raw gathered word (bit
 * 9 + 2q: channel 2q below its threshold; bit 25 + 2q: channel 2q + 1 at or above its own),
 * the thresholds read from lr (advanced by 16). */
#define MLA_TEST(dst)                                                                          \
    "ldmia lr!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                              \
    "sub %[w0], %[w0], %[a0]\n\t"                                                              \
    "sub %[w1], %[w1], %[a1]\n\t"                                                              \
    "sub %[w2], %[w2], %[a2]\n\t"                                                              \
    "sub %[w3], %[w3], %[a3]\n\t"                                                              \
    "and %[w0], %[w0], #0x80008000\n\t"                                                        \
    "and %[w1], %[w1], #0x80008000\n\t"                                                        \
    "and %[w2], %[w2], #0x80008000\n\t"                                                        \
    "and %[w3], %[w3], #0x80008000\n\t"                                                        \
    "orr %[w3], %[w3], %[w2], lsr #2\n\t"                                                      \
    "orr %[w3], %[w3], %[w1], lsr #4\n\t"                                                      \
    "orr " dst ", %[w3], %[w0], lsr #6\n\t"
#define MLA_GROUP_START                                                                        \
    "push {%[v]}\n"                                                                            \
    "2:\n\t"                                                                                   \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr %[x], [%[v]]\n\t"                                                                     \
    "ldr %[end], [%[v], #4]\n\t"                                                               \
    "ldr lr, [%[v], #8]\n\t"                                                                   \
    "mov %[a0], #0\n\t"                                                                        \
    "mov %[a1], #0\n\t"                                                                        \
    "mov %[a2], #0\n\t"                                                                        \
    "mov %[a3], #0\n"                                                                          \
    "1:\n\t"
#define MLA_ROW_LOOP                                                                           \
    "add %[x], %[x], lr\n\t"                                                                   \
    "cmp %[x], %[end]\n\t"                                                                     \
    "bne 1b\n\t"
#define MLA_GROUP_END_KEEP MLA_ROW_LOOP MLA_SIGN_END
#define MLA_SIGN_END                                                                           \
    "ldr %[v], [sp]\n\t" /* E_q = tp_q - a_q; bit 15 = (A < t_a), bit 31 = (B >= t_b) */       \
    "ldr lr, [%[v], #12]\n\t"                                                                  \
    MLA_TEST("%[w3]") /* a_q at 9 + 2q, b_q at 25 + 2q */                                      \
    "str lr, [%[v], #12]\n\t"                                                                  \
    "orr %[w3], %[w3], %[w3], lsr #15\n\t" /* b_q next to a_q: bits 9 .. 16 */                 \
    "ubfx %[x], %[w3], #9, #8\n\t"                                                             \
    "eor %[x], %[x], #0xAA\n\t"                                                                \
    "ldr lr, [%[v], #16]\n\t"                                                                  \
    "strb %[x], [lr], #1\n\t"                                                                  \
    "str lr, [%[v], #16]\n\t"                                                                  \
    "ldr lr, [%[v], #20]\n\t"                                                                  \
    "subs lr, lr, #1\n\t"                                                                      \
    "str lr, [%[v], #20]\n\t"                                                                  \
    "bne 2b\n\t"
#define MLA_GROUP_END MLA_GROUP_END_KEEP "add sp, sp, #4\n\t"
#define MLA_OPERANDS                                                                           \
    : [x] "=&r"(xp), [w] "+r"(wp), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2), [w3] "=&r"(w3), \
      [v] "+r"(v), [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [end] "=&r"(end) \
    :                                                                                          \
    : "lr", "cc", "memory"

/* The registers the assembly blocks name (pinned: the tap loops need all 14), w = the pairs of
 * the first group, args = the mla_args. */
#define MLA_REGISTERS(W, ARGS)                                                                 \
    register const uint8_t *xp __asm__("r0");                                                  \
    register const uint32_t *wp __asm__("r1") = (W);                                           \
    register uint32_t w0 __asm__("r2"), w1 __asm__("r3"), w2 __asm__("r4"), w3 __asm__("r5");  \
    register uint32_t v __asm__("r6") = (uint32_t)(uintptr_t)(ARGS);                           \
    register uint32_t a0 __asm__("r8"), a1 __asm__("r9"), a2 __asm__("r10"), a3 __asm__("r11"); \
    register const uint8_t *end __asm__("r12")

static void pixel_fast(struct mla_args *args, const uint32_t *w, uint32_t run)
{
    MLA_REGISTERS(w, args);
    if (run == 3u)
        __asm__ volatile(MLA_GROUP_START MLA_TAP(0) MLA_TAP(1) MLA_TAP(2) MLA_GROUP_END MLA_OPERANDS);
    else if (run == 9u)
        __asm__ volatile(MLA_GROUP_START MLA_TAP(0) MLA_TAP(1) MLA_TAP(2) MLA_TAP(3) MLA_TAP(4) MLA_TAP(5)
                         MLA_TAP(6) MLA_TAP(7) MLA_TAP(8) MLA_GROUP_END MLA_OPERANDS);
    else
        __asm__ volatile(MLA_GROUP_START MLA_TAP(0) MLA_GROUP_END MLA_OPERANDS);
}

/* After a pixel's groups: the next pixel of the run (window and output moved on, the groups'
 * state reset) while --pixels; the accumulators and weight registers are free here. */
#define MLA_PIXEL_END                                                                          \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr lr, [%[v], #24]\n\t"                                                                  \
    "subs lr, lr, #1\n\t"                                                                      \
    "str lr, [%[v], #24]\n\t"                                                                  \
    "beq 3f\n\t"                                                                               \
    "ldrd %[w0], %[w1], [%[v]]\n\t"                                                            \
    "ldr %[w2], [%[v], #28]\n\t"                                                               \
    "add %[w0], %[w0], %[w2]\n\t"                                                              \
    "add %[w1], %[w1], %[w2]\n\t"                                                              \
    "strd %[w0], %[w1], [%[v]]\n\t"                                                            \
    "ldr %[w0], [%[v], #16]\n\t"                                                               \
    "ldr %[w1], [%[v], #32]\n\t"                                                               \
    "add %[w0], %[w0], %[w1]\n\t"                                                              \
    "str %[w0], [%[v], #16]\n\t"                                                               \
    "ldrd %[w0], %[w1], [%[v], #36]\n\t"                                                       \
    "str %[w0], [%[v], #12]\n\t"                                                               \
    "str %[w1], [%[v], #20]\n\t"                                                               \
    "ldr %[w], [%[v], #44]\n\t"                                                                \
    "b 2b\n"                                                                                    \
    "3:\n\t"

/* A 3-row kernel unrolled (3x3 x 1 and 3x3 x 3: rows of 3 or 9 bytes): the first tap's MULs
 * start the sums (no zeroing), the rows are two ADDs apart (no loop). */
#define MLA_START3                                                                             \
    "push {%[v]}\n"                                                                             \
    "2:\n\t"                                                                                   \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr %[x], [%[v]]\n\t"                                                                     \
    "ldr lr, [%[v], #8]\n\t"
#define MLA_TAPF(n)                                                                            \
    "ldrb %[v], [%[x], #" #n "]\n\t"                                                           \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                            \
    "mul %[a0], %[v], %[w0]\n\t"                                                               \
    "mul %[a1], %[v], %[w1]\n\t"                                                               \
    "mul %[a2], %[v], %[w2]\n\t"                                                               \
    "mul %[a3], %[v], %[w3]\n\t"
#define MLA_NEXT_ROW "add %[x], %[x], lr\n\t"
#define MLA_ROW3 MLA_TAP(0) MLA_TAP(1) MLA_TAP(2)
#define MLA_ROW9 MLA_TAP(0) MLA_TAP(1) MLA_TAP(2) MLA_TAP(3) MLA_TAP(4) MLA_TAP(5) MLA_TAP(6) MLA_TAP(7) MLA_TAP(8)
#define MLA_3X3                                                                                \
    MLA_START3 MLA_TAPF(0) MLA_TAP(1) MLA_TAP(2) MLA_NEXT_ROW MLA_ROW3 MLA_NEXT_ROW MLA_ROW3
#define MLA_3X9                                                                                \
    MLA_START3 MLA_TAPF(0) MLA_TAP(1) MLA_TAP(2) MLA_TAP(3) MLA_TAP(4) MLA_TAP(5) MLA_TAP(6) MLA_TAP(7) \
    MLA_TAP(8) MLA_NEXT_ROW MLA_ROW9 MLA_NEXT_ROW MLA_ROW9

/* The byte of the 8 channels from a raw gathered word r (only bits 9 + 2q and 25 + 2q set):
 * r | r >> 15 puts channel 2q + 1 next to 2q (bits 9 .. 16), one UBFX takes them; XOR m. */
#define MLA_EXTRACT(r, m)                                                                      \
    "orr " r ", " r ", " r ", lsr #15\n\t"                                                     \
    "ubfx " r ", " r ", #9, #8\n\t"                                                            \
    "eor " r ", " r ", #" m "\n\t"

/* The three packed tests of a group (thresholds from lr, advanced by 48) and its two plane
 * bytes: plane 0 in w0, plane 1 in w1 (see MLA_LEVELS_END). */
#define MLA_LEVELS_PLANES                                                                      \
    MLA_TEST("%[x]") MLA_TEST("%[end]") MLA_TEST("%[w3]")                                      \
    "eor %[w0], %[x], %[end]\n\t"                                                              \
    "and %[w1], %[x], %[end]\n\t"                                                              \
    "and %[w2], %[w3], %[w0]\n\t"                                                              \
    "orr %[w1], %[w1], %[w2]\n\t"                                                              \
    "eor %[w0], %[w0], %[w3]\n\t"                                                              \
    MLA_EXTRACT("%[w0]", "0x55") MLA_EXTRACT("%[w1]", "0x55")

/* Unsigned levels L = 3 in 2 planes (qrelu2) after a group's taps: three packed tests (the
 * group's thresholds 0, 1, 2 one block of 4 words after the other), then on the raw gathered
 * words r_k (the tests' bits XOR 0xAA, see sign_bits) plane 0 = (r0 ^ r1 ^ r2) ^ 0x55 and
 * plane 1 = majority(r0, r1, r2) ^ 0x55 (level_bits, complemented once: majority commutes with
 * complementing all three), one byte into each plane. */
#define MLA_LEVELS_END                                                                         \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr lr, [%[v], #12]\n\t"                                                                  \
    MLA_LEVELS_PLANES                                                                          \
    "str lr, [%[v], #12]\n\t"                                                                  \
    "ldr lr, [%[v], #16]\n\t"                                                                  \
    "ldr %[w2], [%[v], #48]\n\t"                                                               \
    "strb %[w1], [lr, %[w2]]\n\t"                                                              \
    "strb %[w0], [lr], #1\n\t"                                                                 \
    "str lr, [%[v], #16]\n\t"                                                                  \
    "ldr lr, [%[v], #20]\n\t"                                                                  \
    "subs lr, lr, #1\n\t"                                                                      \
    "str lr, [%[v], #20]\n\t"                                                                  \
    "bne 2b\n\t"

/* A run of args->pixels output pixels of one output row, every one straight from the input
 * (kernel rows of run = 3 or 9 bytes; the caller fills every field of args), each group ending
 * in END: the sign bits (row_fast), or the two planes of qrelu2 levels (row_levels). */
#define MLA_ROW_VARIANTS(END)                                                                  \
    if (kh == 3u && run == 3u)                                                                 \
        __asm__ volatile(MLA_3X3 END MLA_PIXEL_END "add sp, sp, #4\n\t" MLA_OPERANDS);          \
    else if (kh == 3u)                                                                         \
        __asm__ volatile(MLA_3X9 END MLA_PIXEL_END "add sp, sp, #4\n\t" MLA_OPERANDS);          \
    else if (run == 3u)                                                                        \
        __asm__ volatile(MLA_GROUP_START MLA_ROW3 MLA_ROW_LOOP END MLA_PIXEL_END                \
                         "add sp, sp, #4\n\t" MLA_OPERANDS);                                    \
    else                                                                                       \
        __asm__ volatile(MLA_GROUP_START MLA_ROW9 MLA_ROW_LOOP END MLA_PIXEL_END                \
                         "add sp, sp, #4\n\t" MLA_OPERANDS)

static void row_levels(struct mla_args *args, const uint32_t *w, uint32_t run, uint32_t kh)
{
    MLA_REGISTERS(w, args);
    MLA_ROW_VARIANTS(MLA_LEVELS_END);
}

static void row_fast(struct mla_args *args, const uint32_t *w, uint32_t run, uint32_t kh)
{
    MLA_REGISTERS(w, args);
    MLA_ROW_VARIANTS(MLA_SIGN_END);
}

/* One group of 8 channels per pixel (out_ch <= 8: one output word per plane), 3-row kernels:
 * the thresholds are always the first group's, the whole word is stored (its other bytes 0: no
 * clearing), no group loop; the pixel end moves the window by step and the output by out_skip
 * (= the pixel's bytes). */
#define MLA_SIGN_END1                                                                          \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr lr, [%[v], #36]\n\t"                                                                  \
    MLA_TEST("%[w3]")                                                                          \
    "orr %[w3], %[w3], %[w3], lsr #15\n\t"                                                     \
    "ubfx %[x], %[w3], #9, #8\n\t"                                                             \
    "eor %[x], %[x], #0xAA\n\t"                                                                \
    "ldr lr, [%[v], #16]\n\t"                                                                  \
    "str %[x], [lr]\n\t"
#define MLA_LEVELS_END1                                                                        \
    "ldr %[v], [sp]\n\t"                                                                       \
    "ldr lr, [%[v], #36]\n\t"                                                                  \
    MLA_LEVELS_PLANES                                                                          \
    "ldr lr, [%[v], #16]\n\t"                                                                  \
    "str %[w0], [lr]\n\t"                                                                      \
    "str %[w1], [lr, #4]\n\t"
#define MLA_PIXEL_END1                                                                         \
    "ldr lr, [%[v], #24]\n\t"                                                                  \
    "subs lr, lr, #1\n\t"                                                                      \
    "str lr, [%[v], #24]\n\t"                                                                  \
    "beq 3f\n\t"                                                                               \
    "ldrd %[w0], %[w1], [%[v], #28]\n\t"                                                       \
    "ldr %[w2], [%[v]]\n\t"                                                                    \
    "add %[w2], %[w2], %[w0]\n\t"                                                              \
    "str %[w2], [%[v]]\n\t"                                                                    \
    "ldr %[w2], [%[v], #16]\n\t"                                                               \
    "add %[w2], %[w2], %[w1]\n\t"                                                              \
    "str %[w2], [%[v], #16]\n\t"                                                               \
    "ldr %[w], [%[v], #44]\n\t"                                                                \
    "b 2b\n"                                                                                    \
    "3:\n\t"

/* row_fast / row_levels for one group of 8 channels and a 3-row kernel (run 3 or 9) */
static void row_one(struct mla_args *args, const uint32_t *w, uint32_t run, int levels)
{
    MLA_REGISTERS(w, args);
    if (levels && run == 3u)
        __asm__ volatile(MLA_3X3 MLA_LEVELS_END1 MLA_PIXEL_END1 "add sp, sp, #4\n\t" MLA_OPERANDS);
    else if (levels)
        __asm__ volatile(MLA_3X9 MLA_LEVELS_END1 MLA_PIXEL_END1 "add sp, sp, #4\n\t" MLA_OPERANDS);
    else if (run == 3u)
        __asm__ volatile(MLA_3X3 MLA_SIGN_END1 MLA_PIXEL_END1 "add sp, sp, #4\n\t" MLA_OPERANDS);
    else
        __asm__ volatile(MLA_3X9 MLA_SIGN_END1 MLA_PIXEL_END1 "add sp, sp, #4\n\t" MLA_OPERANDS);
}

#undef MLA_PIXEL_END
#undef MLA_ROW_VARIANTS
#undef MLA_START3
#undef MLA_TAPF
#undef MLA_NEXT_ROW
#undef MLA_ROW3
#undef MLA_ROW9
#undef MLA_3X3
#undef MLA_3X9
#undef MLA_TEST
#undef MLA_EXTRACT
#undef MLA_LEVELS_END
#undef MLA_LEVELS_PLANES
#undef MLA_REGISTERS
#undef MLA_SIGN_END1
#undef MLA_LEVELS_END1
#undef MLA_PIXEL_END1
#undef MLA_ROW_LOOP
#undef MLA_SIGN_END
#undef MLA_TAP
#undef MLA_GROUP_START
#undef MLA_GROUP_END
#undef MLA_GROUP_END_KEEP
#undef MLA_OPERANDS
#endif

/* A and B of a packed sum */
/* The output stage of channels [o0, o0 + n) (o0 % 8 == 0, n <= 8) of one output pixel: with
 * `sign`, acc holds direction * dot and a bit is 1 (-1) below the threshold; otherwise acc is
 * the accumulator itself, through be_stage_put_block. */
static be_status put_group(const be_op *op, void *px_out, uint32_t o0, uint32_t n, const int32_t *acc, int sign)
{
    if (sign) {
        const int32_t *t = (const int32_t *)op->stage_b + o0;
        uint32_t bits = 0u, i;
        for (i = 0; i < n; i++)
            bits |= (uint32_t)(acc[i] < t[i]) << i;
        ((be_word *)px_out)[o0 / 32u] |= bits << (o0 % 32u);
        return BE_OK;
    }
    return be_stage_put_block(op, px_out, o0, n, acc);
}

static inline void decode(uint32_t p, int32_t *a, int32_t *b)
{
    const int32_t lo = (int32_t)(p & 0xFFFFu) - (int32_t)((p & 0x8000u) << 1); /* sign-extend */
    const uint32_t hi = p - (uint32_t)lo;                                          /* 65536 * B */
    *a = lo;
    *b = (hi & 0x80000000u) ? -(int32_t)((0u - hi) >> 16) : (int32_t)(hi >> 16);
}

/* The fast sign path of one output pixel on the other cores: 32 channels at a time in a word. */
#if !defined(BE_ARM_T2_ASM)
static void pixel_words(const uint8_t *patch, uint32_t stride, const uint32_t *pairs, const uint32_t *tpack,
                        uint32_t k, int by3, uint32_t g0, uint32_t ng, uint8_t *px_out)
{
    uint32_t g, word = 0u;
    for (g = 0; g < ng; g++) {
        uint32_t p[4];
        const uint32_t o0 = 8u * (g0 + g);
        BE_MLA_TAPS(patch, stride, pairs + (size_t)g * k * 4u, k, by3, p);
        word |= sign_bits(p, tpack + 4u * g) << (o0 % 32u);
        if (o0 % 32u == 24u || g + 1u == ng) {
            ((be_word *)px_out)[o0 / 32u] |= word;
            word = 0u;
        }
    }
}
#endif

#ifdef KBIG
/* 128 < K <= KBIG (kernel rows of run = KW * C <= 128 bytes): one group of 8 channels per pass,
 * its pairs made once per pass. Per output pixel each kernel row runs straight from the input,
 * clipped to the pixels inside it: padding pixels are 0 and add nothing, so nothing is copied.
 * The packed sums of up to 128 / run rows are added modulo 2^32 (exact: at most 128 taps)
 * before they are decoded into int32 accumulators. */
static __attribute__((noinline)) be_status conv_big(const be_op *op, const uint8_t *in, void *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t c = vi->c, run = op->kw * c, k = op->kh * run, nout = op->out_ch, per = KMAX / run;
    const int sign = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u;
    uint32_t pairs[4u * KBIG];
    uint32_t o0, oy, ox, ky, i;
    be_status st = BE_OK;
    for (o0 = 0; o0 < nout; o0 += 8u) {
        const uint32_t n = nout - o0 < 8u ? nout - o0 : 8u;
        make_pairs(op, o0, 1u, k, sign, pairs);
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
                const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
                /* the kernel columns [kx0, kx1) that fall inside the image */
                const uint32_t kx0 = x0 < 0 ? (uint32_t)-x0 : 0u;
                const int32_t right = (int32_t)vi->w - x0;
                const uint32_t kx1 = right < (int32_t)op->kw ? (right > 0 ? (uint32_t)right : 0u) : op->kw;
                const uint32_t len = kx1 > kx0 ? (kx1 - kx0) * c : 0u;
                uint32_t psum[4] = {0u, 0u, 0u, 0u}, rows = 0u;
                int32_t acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                if (o0 == 0u)
                    be_stage_clear(op, px_out);
                for (ky = 0; ky < op->kh && len != 0u; ky++) {
                    const int32_t iy = y0 + (int32_t)ky;
                    uint32_t p[4];
                    if (iy < 0 || iy >= (int32_t)vi->h)
                        continue;
                    taps(in + ((size_t)iy * vi->w + (size_t)(x0 + (int32_t)kx0)) * c, pairs + 4u * (ky * run + kx0 * c),
                         len, len % 3u == 0u, p);
                    for (i = 0; i < 4u; i++)
                        psum[i] += p[i];
                    if (++rows == per) {
                        for (i = 0; i < 4u; i++) {
                            int32_t a, b;
                            decode(psum[i], &a, &b);
                            acc[2u * i] += a;
                            acc[2u * i + 1u] += b;
                            psum[i] = 0u;
                        }
                        rows = 0u;
                    }
                }
                for (i = 0; i < 4u; i++) { /* the rows since the last decode (0 adds nothing) */
                    int32_t a, b;
                    decode(psum[i], &a, &b);
                    acc[2u * i] += a;
                    acc[2u * i + 1u] += b;
                }
                {
                    const be_status s = put_group(op, px_out, o0, n, acc, sign);
                    if (s != BE_OK)
                        st = s;
                }
            }
    }
    return st;
}
#endif

/* The padded input's stack bytes: 28 x 28 x 1 -> 30 x 30, 16 x 16 x 3 -> 18 x 18. A RAM-tight
 * build may set BE_U8_PAD_BYTES (0: padded layers copy each window with im2col instead). */
#ifndef BE_U8_PAD_BYTES
#define BE_U8_PAD_BYTES 1024u
#endif
#define PAD_BYTES BE_U8_PAD_BYTES
#if BE_U8_PAD_BYTES >= 65536
#error "BE_U8_PAD_BYTES must be below 65536 (be_arm_padded_geometry's bound)"
#endif

/* The input as the fast sign path's windows see it, every output pixel an interior one: the
 * input itself when the layer has no padding, else a copy in pad (hp = (OH - 1) SH + KH rows of
 * wp = (OW - 1) SW + KW pixels, padding pixels 0 as the reference's im2col). *src / *stride:
 * the first row and the bytes from one row to the next. Returns 0 (nothing written) when the
 * copy does not fit PAD_BYTES. Byte loops: the input may sit at any address. */
static int padded_input(const be_op *op, const uint8_t *in, uint8_t *pad, const uint8_t **src, uint32_t *stride)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c;
    be_arm_padded g;
    uint32_t py, i;
    if ((op->pt | op->pb | op->pl | op->pr) == 0u) {
        *src = in;
        *stride = vi->w * c;
        return 1;
    }
    if (!be_arm_padded_geometry(op, c, PAD_BYTES, &g))
        return 0;
    *src = pad;
    *stride = g.wp * c;
    for (py = 0; py < g.hp; py++) {
        const int32_t iy = (int32_t)py - (int32_t)op->pt;
        const uint8_t *row = in + (size_t)(iy < 0 ? 0 : iy) * vi->w * c;
        const uint32_t a = iy < 0 || iy >= (int32_t)vi->h ? g.wp * c : g.lead * c;
        const uint32_t b = a == g.wp * c ? a : a + g.n * c;
        for (i = 0; i < a; i++) { /* (not memset / memcpy: byte loops behind a call in picolibc) */
            *pad++ = 0u;
            BE_OPAQUE_PTR(pad);
        }
        for (; i < b; i++, row++) {
            *pad++ = *row;
            BE_OPAQUE_PTR(pad);
        }
        for (; i < g.wp * c; i++) {
            *pad++ = 0u;
            BE_OPAQUE_PTR(pad);
        }
    }
    return 1;
}

be_status be_conv2d_u8_mla(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t k = op->kh * op->kw * op->in_ch, nout = op->out_ch, all = (nout + 7u) / 8u;
    const int sign = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u;
    const int fast = sign && k <= KFAST, by3 = k % 3u == 0u;
    /* unsigned levels L = 1 / 3 in Q = 1 / 2 planes, K <= 64: packed tests per threshold */
    const int lvl = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && k <= KFAST &&
                    ((op->levels == 1u && vo->planes == 1u) || (op->levels == 3u && vo->planes == 2u));
    uint8_t *patch = (uint8_t *)scratch; /* K bytes <= the model's patch_bytes */
    uint32_t pairs[PAIR_WORDS], tpack[4u * GROUPS_MAX]; /* levels: L blocks of 4 words per group */
    uint32_t per = PAIR_WORDS / (4u * k), g0, ng, oy, ox, g, i;
    be_status st = BE_OK;
#if defined(BE_ARM_T2_ASM)
    const uint32_t run = op->kw * op->in_ch;           /* bytes of one kernel row */
    const int rows = run == 3u || run == 9u;            /* the row loop: straight from the input */
    const uint32_t tail = vo->pixel_bytes - all;        /* output bytes no group writes */
#endif
    uint8_t pad[PAD_BYTES > 0u ? PAD_BYTES : 1u];
    const uint8_t *src = NULL;
    uint32_t src_stride = 0u;
#if defined(BE_ARM_T2_ASM)
    /* the sign stage, and qrelu2's L = 3 levels in 2 planes, in assembly over whole rows */
    const int lv2 = lvl && op->levels == 3u;
    const int whole = (fast || lv2) && rows && padded_input(op, (const uint8_t *)in, pad, &src, &src_stride);
#else
    const int whole = (fast || lvl) && padded_input(op, (const uint8_t *)in, pad, &src, &src_stride);
#endif
#ifdef KBIG
    if (k > KMAX)
        return conv_big(op, (const uint8_t *)in, out);
#endif
    if (per > GROUPS_MAX)
        per = GROUPS_MAX;
    if (lvl && per > GROUPS_MAX / op->levels) /* the levels' packed thresholds share tpack */
        per = GROUPS_MAX / op->levels;
    if (per >= 4u)
        per -= per % 4u; /* passes of whole 32-channel words */
    for (g0 = 0; g0 < all; g0 += ng) {
        ng = all - g0 < per ? all - g0 : per;
        make_pairs(op, 8u * g0, ng, k, sign || lvl, pairs);
        if (fast)
            make_tpack(op, 8u * g0, ng, 0u, 1u, 0, tpack);
        for (i = 0; lvl && i < op->levels; i++) /* group g's threshold i at tpack + 4 (L g + i) */
            make_tpack(op, 8u * g0, ng, i, op->levels, 16384, tpack);
#if defined(BE_ARM_T2_ASM)
        if (whole) { /* every output pixel straight from src: one run per output row */
            struct mla_args args;
            /* one group of a 3-row kernel: whole words stored, nothing to clear */
            const int one = all == 1u && op->kh == 3u;
            if (!one && g0 == 0u && (tail != 0u || lv2)) /* the bytes no group writes are 0 */
                be_zero_words((be_word *)out, vo->h * vo->w * (vo->pixel_bytes / 4u));
            args.stride = src_stride;
            args.plane_bytes = vo->cw * 4u;
            args.step = op->sw * vi->c;
            args.out_skip = one ? vo->pixel_bytes : vo->pixel_bytes - ng;
            args.tp0 = tpack;
            args.groups0 = ng;
            args.w0 = pairs;
            for (oy = 0; oy < vo->h; oy++) {
                args.x0 = src + (size_t)(oy * op->sh) * src_stride;
                args.end = args.x0 + op->kh * src_stride;
                args.tp = tpack;
                args.out = (uint8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes + g0;
                args.groups = ng;
                args.pixels = vo->w;
                if (one)
                    row_one(&args, pairs, run, lv2);
                else
                    (lv2 ? row_levels : row_fast)(&args, pairs, run, op->kh);
            }
            continue;
        }
#else
        if (whole) { /* every window straight from src: copied to the patch without checks */
            const uint32_t step = op->sw * vi->c, run = op->kw * vi->c;
            const int in_place = op->kh == 3u && run == 3u;
            uint8_t *px_out = (uint8_t *)out;
            if (g0 == 0u)
                be_zero_words((be_word *)out, vo->h * vo->w * (vo->pixel_bytes / 4u));
            for (oy = 0; oy < vo->h; oy++) {
                const uint8_t *x = src + (size_t)(oy * op->sh) * src_stride;
                for (ox = 0; ox < vo->w; ox++, x += step, px_out += vo->pixel_bytes) {
                    const uint8_t *r = x;
                    uint8_t *d = patch;
                    if (in_place) { /* 3x3 over one channel: the window read where it is */
                        if (fast)
                            pixel_words(x, src_stride, pairs, tpack, k, by3, g0, ng, px_out);
                        else
                            pixel_levels(op, x, src_stride, pairs, tpack, k, by3, g0, ng, px_out);
                        continue;
                    }
                    for (g = 0; g < op->kh; g++, r += src_stride) /* (no memcpy: a byte-loop call) */
                        for (i = 0; i < run; i++) {
                            *d++ = r[i];
                            BE_OPAQUE_PTR(d);
                        }
                    if (fast)
                        pixel_words(patch, 0u, pairs, tpack, k, by3, g0, ng, px_out);
                    else
                        pixel_levels(op, patch, 0u, pairs, tpack, k, by3, g0, ng, px_out);
                }
            }
            continue;
        }
#endif
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                if (fast) {
#if defined(BE_ARM_T2_ASM)
                    /* each group writes its output byte; the bytes after the last group are 0 */
                    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
                    const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
                    struct mla_args args;
                    if (rows && y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h && x0 >= 0 &&
                        x0 + (int32_t)op->kw <= (int32_t)vi->w) { /* inside: no copy */
                        args.x0 = (const uint8_t *)in + ((size_t)y0 * vi->w + (size_t)x0) * vi->c;
                        args.stride = vi->w * vi->c;
                        args.end = args.x0 + op->kh * args.stride;
                    } else {
                        be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                        args.x0 = patch;
                        args.stride = rows ? run : 1u;
                        args.end = patch + k;
                    }
                    args.tp = tpack;
                    args.out = px_out + g0;
                    args.groups = ng;
                    if (g0 == 0u && tail != 0u) /* the bytes after the last group are 0 */
                        be_zero_words((be_word *)px_out, vo->pixel_bytes / 4u);
                    pixel_fast(&args, pairs, rows ? run : 1u);
#else
                    if (g0 == 0u)
                        be_stage_clear(op, px_out);
                    be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                    pixel_words(patch, 0u, pairs, tpack, k, by3, g0, ng, px_out);
#endif
                    continue;
                }
                if (g0 == 0u)
                    be_stage_clear(op, px_out);
                be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                if (lvl) {
                    pixel_levels(op, patch, 0u, pairs, tpack, k, by3, g0, ng, px_out);
                    continue;
                }
                for (g = 0; g < ng; g++) {
                    const uint32_t o0 = 8u * (g0 + g), n = nout - o0 < 8u ? nout - o0 : 8u;
                    uint32_t p[4];
                    int32_t acc[8];
                    taps(patch, pairs + (size_t)g * k * 4u, k, by3, p);
                    for (i = 0; i < 4u; i++)
                        decode(p[i], &acc[2u * i], &acc[2u * i + 1u]);
                    {
                        const be_status s = put_group(op, px_out, o0, n, acc, sign);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    (void)vi;
    return st;
}

#else
typedef int be_u8_mla_unused; /* ISO C forbids an empty translation unit */
#endif
