/* be_dense_bin_short.c -- "short": binary Dense with short rows (K <= 128 bits, at most 4 words),
 * the classifier heads and small hidden layers, on every ARM core.
 *
 * In such a layer the popcount itself is a couple of dozen instructions per output, so what the
 * general driver adds around it (a call into the variant's counting core per block of 32 rows,
 * a row-end sequence built for long rows, one be_stage_put call per score) costs as much as
 * the counting. Here each output is one pass, everything in registers, one instance per row
 * length (1..4 words) so the input words are loaded once per layer and stay in registers:
 *   - d = popcount(x XOR w) by SWAR: 2-bit fields, then nibbles (<= 4 per word), the nibbles of
 *     up to three words added (<= 12), folded to byte lanes (<= 32 each for 4 words), and the
 *     four lanes summed by one multiply, (lanes * 0x01010101) >> 24 (the sum is <= 128);
 *   - acc = K - 2d, exactly the reference's accumulator;
 *   - the output stage in the same loop: sign thresholds (bit 1 where direction * acc < T, the
 *     word built in a register and stored once per 32 outputs), scores (multiplier * acc +
 *     offset: one 32-bit MLA, exact because the loader proved no score leaves int32), accumulators;
 *     the other stages (unsigned levels, requantization) stay with the general driver.
 * A second entry (be_dense_planes_short) takes Dense over 2 unsigned bit-planes (qrelu2 levels)
 * with K <= 64 the same way (planes_layer). No __builtin_popcount (libgcc).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include "arm/be_arm.h"
#include "arm/be_arm_swar.h"

#ifdef BE_ARM_HAVE_DSP
#include <arm_acle.h>
#endif

#define BE_SHORT_MAX_WORDS 4u /* from 5 words on, the dsp variant's carry-save loop is faster (M4) */
#ifdef BE_ARM_HAVE_MVE
#define BE_SHORT_TAKES_WORDS 2u /* Helium's 128-bit counting wins from 3 words on (docs/kernels.md) */
#else
#define BE_SHORT_TAKES_WORDS BE_SHORT_MAX_WORDS
#endif

int be_dense_bin_short_supports(const be_op *op)
{
    /* the unsigned-level and requant stages are left to the general driver (its inline stage) */
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_SIGN && op->in.cw >= 1u && op->in.cw <= BE_SHORT_TAKES_WORDS &&
           op->w_row_bytes == op->in.cw * 4u &&
           (be_stage_is_sign(op) || op->stage == BE_STAGE_SCORE || op->stage == BE_STAGE_ACC);
}

/* Whether the NEON kernel counts this Dense in its short rows (never without NEON). */
static int neon_short_takes(const be_op *op)
{
#ifdef BE_ARM_HAVE_NEON
    return be_dense_bin_neon_short_takes(op);
#else
    (void)op;
    return 0;
#endif
}

/* On NEON builds "short" also comes first for the small heads it beats "neon" on (docs/kernels.md,
 * 64 -> 10: armv7-virt 0.512 vs 0.803 instructions per MAC; NEON wins from 64 outputs and at
 * 128 inputs): at most 2 words of sign bits and 16 outputs, where the per-call cost of the NEON
 * driver is most of the layer. Not where "neon" counts them in its short rows (sign and score
 * heads, be_dense_bin_neon_short_takes; 64 -> 10 scores: aarch64-virt 0.234 vs 0.563, armv7-virt
 * 0.319 vs 0.463). */
int be_dense_bin_short_head_supports(const be_op *op)
{
    return be_dense_bin_short_supports(op) && op->in.cw <= 2u && op->out_ch <= 16u &&
           !neon_short_takes(op);
}

/* On NEON builds the 2-plane heads too: there "neon" takes bit-planes through the shared driver
 * (weight popcounts, one pass per plane), slower on the qrelu2 VGG's heads (armv7-virt 64 -> 64
 * 1.622 vs 1.171, 64 -> 10 scores 2.202 vs 0.930 per logical MAC); measured up to 64 outputs, so
 * taken up to 64. Not where "neon" counts them in its short rows (scores, sign thresholds, three
 * levels on two planes; 64 -> 64 sign: aarch64-virt 0.236 vs 1.046, armv7-virt 0.254 vs 0.940). */
int be_dense_planes_short_head_supports(const be_op *op)
{
    return be_dense_planes_short_supports(op) && op->out_ch <= 64u && !neon_short_takes(op);
}

int be_dense_planes_short_supports(const be_op *op)
{
    /* 2-bit unsigned levels (the qrelu2 heads), K <= 64: any threshold stage (through the shared
     * inline stage), scores, accumulators */
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_UNSIGNED && op->in.planes == 2u && op->in.cw >= 1u && op->in.cw <= 2u &&
           op->w_row_bytes == op->in.cw * 4u &&
           (op->stage == BE_STAGE_THRESHOLD || op->stage == BE_STAGE_SCORE || op->stage == BE_STAGE_ACC);
}

static inline __attribute__((always_inline)) void load_row(const be_word **p, uint32_t nw, be_word *w)
{
    const be_word *q = *p;
    if (nw >= 2u)
        BE_LD2(q, w[0], w[1]);
    else
        BE_LD1(q, w[0]);
    if (nw == 3u)
        BE_LD1(q, w[2]);
    if (nw == 4u)
        BE_LD2(q, w[2], w[3]);
    *p = q;
}

/* acc = K - 2 popcount(x XOR w) of the row at *p (advanced past it) of nw (1..4, a constant after
 * inlining) words, x in registers. The nibble sums (<= 12 for up to three words) are summed
 * across the word: with the DSP extension by two USAD8 (the low nibbles as bytes, the high ones
 * in place, i.e. 16 times their sum, which the final subtraction shifts back: one instruction
 * fewer than folding), else folded to byte lanes and summed by a multiply,
 * (lanes * 0x01010101) >> 24. */
static inline __attribute__((always_inline)) int32_t row_acc(const be_word **p, uint32_t nw, be_word x0, be_word x1,
                                                              be_word x2, be_word x3, int32_t k)
{
    be_word w[4];
    uint32_t v, lanes;
    load_row(p, nw, w);
    v = be_swar_nibbles(x0 ^ w[0]);
    if (nw >= 2u)
        v += be_swar_nibbles(x1 ^ w[1]);
    if (nw >= 3u)
        v += be_swar_nibbles(x2 ^ w[2]);
#ifdef BE_ARM_HAVE_DSP
    if (nw <= 3u)
        return k - 2 * (int32_t)__usad8(v & 0x0F0F0F0Fu, 0u) - (int32_t)(__usad8(v & 0xF0F0F0F0u, 0u) >> 3);
    lanes = be_swar_bytes(v) + be_swar_bytes(be_swar_nibbles(x3 ^ w[3])); /* byte lanes <= 32 */
    return k - 2 * (int32_t)__usad8(lanes, 0u);
#else
    lanes = be_swar_bytes(v);
    if (nw == 4u)
        lanes += be_swar_bytes(be_swar_nibbles(x3 ^ w[3]));
    return k - 2 * (int32_t)((lanes * 0x01010101u) >> 24); /* byte lanes <= 32: their sum in the top byte */
#endif
}

/* The whole layer for rows of NW words: outputs in blocks of 32 (one sign word each). */
static inline __attribute__((always_inline)) be_status short_layer(const be_op *op, const be_word *x, void *out,
                                                                   uint32_t nw)
{
    const uint32_t nout = op->out_ch; /* rows of nw words back to back: supports */
    const int32_t k = (int32_t)op->k;
    const be_word *w = (const be_word *)op->weights;
    const be_word x0 = x[0], x1 = nw >= 2u ? x[1] : 0u, x2 = nw >= 3u ? x[2] : 0u, x3 = nw >= 4u ? x[3] : 0u;
    uint32_t o, i;
    if (op->stage == BE_STAGE_SCORE) { /* first: the heads, the layers with fewest rows */
        const int32_t *mult = (const int32_t *)op->stage_a, *offset = (const int32_t *)op->stage_b;
        int32_t *y = (int32_t *)out, *const y_end = y + nout;
        for (; y != y_end; y++) /* (two rows per loop test measured slower: GCC spills) */
            be_arm_put_score(y, *mult++, row_acc(&w, nw, x0, x1, x2, x3, k), *offset++);
    } else if (be_stage_is_sign(op)) {
        const int8_t *dir = (const int8_t *)op->stage_a;
        const int32_t *t = (const int32_t *)op->stage_b;
        be_word *dst = (be_word *)out;
        for (o = nout; o > 0u; o -= i) {
            uint32_t word = 0u, bit;
            i = o < 32u ? o : 32u;
            bit = 1u << (32u - i); /* the loop ends when the bit leaves the word: then word >> (32 - i) */
            do { /* direction * acc < T -> level 0 -> -1 -> bit 1 (direction is +-1: loader) */
                const int32_t acc = row_acc(&w, nw, x0, x1, x2, x3, k) * *dir++;
                if (acc < *t++)
                    word |= bit;
                bit <<= 1;
            } while (bit != 0u);
            *dst++ = word >> (32u - i);
        }
    } else { /* BE_STAGE_ACC: supports */
        int32_t *y = (int32_t *)out, *const y_end = y + nout;
        for (; y != y_end; y++)
            *y = row_acc(&w, nw, x0, x1, x2, x3, k);
    }
    return BE_OK; /* no stage here can fail: scores cannot wrap (the loader) */
}

/* Rows of nw (1 or 2) words over 2 unsigned bit-planes x0, x1 (levels x = x0 + 2 x1, plane 1
 * at x + cw): with w bit 1 = -1,
 *     acc = sum_i w_i x_i = C - 2 (popcount(x0 AND w) + 2 popcount(x1 AND w)),
 *     C = popcount(x0) + 2 popcount(x1)   (once per layer; be_dense_ref.c's formula),
 * the two planes' nibbles added as n0 + 2 n1 (<= 12), folded to byte lanes (<= 48 for 2 words)
 * and summed once. Scores and accumulators inline; thresholds (sign or levels) per 32 rows
 * through be_stage_put_block. */
static inline __attribute__((always_inline)) be_status planes_layer(const be_op *op, const be_word *x, void *out,
                                                                    uint32_t nw)
{
    const uint32_t nout = op->out_ch, cw = op->in.cw;
    const be_word *w = (const be_word *)op->weights;
    const be_word a0 = x[0], a1 = nw >= 2u ? x[1] : 0u, b0 = x[cw], b1 = nw >= 2u ? x[cw + 1u] : 0u;
    const int32_t c = (int32_t)(be_arm_popcount32(a0) + be_arm_popcount32(a1) +
                                2u * (be_arm_popcount32(b0) + be_arm_popcount32(b1)));
    int32_t acc[32];
    uint32_t o, i, n;
    be_status st = BE_OK;
    if (op->stage == BE_STAGE_THRESHOLD)
        be_stage_clear(op, out);
    for (o = 0; o < nout; o += n) {
        n = nout - o < 32u ? nout - o : 32u;
        for (i = 0; i < n; i++) {
            be_word r[4];
            uint32_t lanes;
            load_row(&w, nw, r);
            lanes = be_swar_bytes(be_swar_nibbles(a0 & r[0]) + (be_swar_nibbles(b0 & r[0]) << 1));
            if (nw == 2u)
                lanes += be_swar_bytes(be_swar_nibbles(a1 & r[1]) + (be_swar_nibbles(b1 & r[1]) << 1));
#ifdef BE_ARM_HAVE_DSP
            acc[i] = c - 2 * (int32_t)__usad8(lanes, 0u);
#else
            acc[i] = c - 2 * (int32_t)((lanes * 0x01010101u) >> 24); /* lanes <= 48: sum <= 192 */
#endif
        }
        {
            const be_status s = be_arm_dense_put_block(op, out, o, n, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

be_status be_dense_planes_short(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return op->in.cw == 1u ? planes_layer(op, (const be_word *)in, out, 1u) /* cw <= 2: supports */
                           : planes_layer(op, (const be_word *)in, out, 2u);
}

/* one out-of-line instance per row length, tail-called below */
#define BE_SHORT_LAYER(NW)                                                                                 \
    static __attribute__((noinline)) be_status layer_##NW(const be_op *op, const be_word *x, void *out)    \
    {                                                                                                      \
        return short_layer(op, x, out, NW##u);                                                            \
    }
BE_SHORT_LAYER(1)
BE_SHORT_LAYER(2)
BE_SHORT_LAYER(3)
BE_SHORT_LAYER(4)

be_status be_dense_bin_short(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t cw = op->in.cw; /* 1 <= cw <= 4: supports */
    (void)scratch;
    if (cw == 2u) /* the heads of the small VGGs first */
        return layer_2(op, (const be_word *)in, out);
    if (cw == 4u)
        return layer_4(op, (const be_word *)in, out);
    return cw == 1u ? layer_1(op, (const be_word *)in, out) : layer_3(op, (const be_word *)in, out);
}

#else
typedef int be_dense_bin_short_unused; /* ISO C forbids an empty translation unit */
#endif
