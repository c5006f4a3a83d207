/* be_dense_rows_mve.c -- "mve": binary Dense rows counted in Helium lanes (Cortex-M55): over 2
 * unsigned bit-planes (qrelu2 levels x = x0 + 2 x1, plane 1 at x + cw) with rows of any length,
 * and over sign bits with rows of 1..3 words (K <= 96, the classifier heads and small hidden
 * layers).
 *
 * What it replaces: on 2 bit-planes the shared popcount driver counts popcount(x_p XOR w) per
 * plane and then the row's own popcount, three passes over every weight row, and "short" counts
 * the K <= 64 heads in scalar SWAR; on sign bits "short" (scalar) takes K <= 64 and the paired
 * rows of be_bin_mve.c sum each row horizontally, which on a row of one vector or less costs as
 * much as its counting. Here one pass with w bit 1 = -1:
 *     2 planes: acc = sum_i w_i x_i = C - 2 (popcount(x0 AND w) + 2 popcount(x1 AND w)),
 *               C = popcount(x0) + 2 popcount(x1)   (once per call; be_dense_ref.c's formula);
 *     sign:     acc = K - 2 popcount(x XOR w).
 * The counting is the SWAR of be_bin_mve.c in byte lanes (2-bit fields, then nibbles <= 4 with
 * one VMLA by -3); on 2 planes both AND words and one VMLA by 2, v = n0 + 2 n1 (<= 12 per nibble).
 *   - The last nw % 4 words of a row (all of a row of 1..3 words) are counted with the rows in the
 *     lanes, four rows at a time: word j of the four rows gathered (VLDRW with the offsets
 *     {0, nw, 2 nw, 3 nw}; rows of one word lie back to back: a plain load; whole groups of rows
 *     of two words are deinterleaved by VLD20 / VLD21) against the input word broadcast, the
 *     nibbles folded to bytes (lo + hi = v - 15 (v >> 4)), the bytes of a lane summed by one
 *     multiply ((lane * 0x01010101) >> 24, <= 252), acc = C - 2 count stored for four rows at
 *     once; the last group of a block under a VCTP predicate (zeroing loads).
 *   - C on 2 planes is counted in lanes too: four input words at a time, their popcounts weighted
 *     1 or 2 by plane and summed by one VMLADAVA.
 *   - The nw / 4 whole vectors of a longer row are summed per row: VADDVA.U8 of v and of v >> 4
 *     (S(v) = sum(lo) + 16 sum(hi)), count = S(v) - 15 S(v >> 4).
 *   - The stage, per block of 32 rows: sign thresholds and the qrelu2 layers' three levels on two
 *     planes in lanes, four rows at a time (direction * acc against T by a saturated subtraction,
 *     whose sign is exact; the lanes' bits gathered by one VMLADAV with {1, 2, 4, 8}; the three
 *     thresholds of four rows by three gathers), scores (multiplier * acc + offset) in lanes, the
 *     accumulators counted straight into the output; other threshold stages are not taken.
 * One out-of-line copy per row shape (1, 2, 3 words; longer rows by nw % 4) and input encoding.
 * docs/kernels.md ("Cortex-M55: Dense rows in Helium lanes") has the measurements. No
 * __builtin_popcount (libgcc).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "arm/be_arm.h"

#define SIGN_MAX_WORDS 3u /* longer sign rows: the paired rows of be_bin_mve.c (measured ahead) */

/* The stages done in lanes: sign thresholds, the qrelu2 layers' three levels on two planes,
 * scores, accumulators (other threshold stages are left to the kernels after this one). */
static int levels3_stage(const be_op *op)
{
    return op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && op->levels == 3u &&
           op->out.planes == 2u;
}

int be_mve_dense_rows_stage(const be_op *op)
{
    return be_stage_is_sign(op) || levels3_stage(op) || op->stage == BE_STAGE_SCORE || op->stage == BE_STAGE_ACC;
}

int be_dense_planes_mve_supports(const be_op *op)
{
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_UNSIGNED && op->in.planes == 2u && op->in.cw >= 1u &&
           op->w_row_bytes == op->in.cw * 4u && be_mve_dense_rows_stage(op);
}

/* Sign rows of 1..3 words with more than SIGN_MIN_ROWS outputs: on the heads with fewer, the
 * scalar "short" (one fused pass per row) is ahead (64 -> 10 scores: 0.483 against 0.514
 * instructions per MAC; 64 -> 64 sign: 0.476 against 0.274 here, docs/kernels.md). */
#define SIGN_MIN_ROWS 16u
int be_dense_bin_rows_mve_supports(const be_op *op)
{
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_SIGN && op->in.cw >= 1u && op->in.cw <= SIGN_MAX_WORDS &&
           op->out_ch > SIGN_MIN_ROWS && op->w_row_bytes == op->in.cw * 4u && be_mve_dense_rows_stage(op);
}

/* Popcount per nibble (<= 4) of t by SWAR: 2-bit fields f = t - ((t >> 1) AND 0x55), then
 * f - 3 ((f >> 2) AND 0x33). */
static inline __attribute__((always_inline)) uint8x16_t nibbles(uint8x16_t t, uint8x16_t m1, uint8x16_t m2)
{
    t = vsubq_u8(t, vandq_u8(vshrq_n_u8(t, 1), m1));
    return vmlaq_n_u8(t, vandq_u8(vshrq_n_u8(t, 2), m2), 0xFDu);
}

/* The nibble counts of one vector of weights w against the input vectors a (and b): sign bits
 * n(a XOR w) (<= 4), 2 planes n(a AND w) + 2 n(b AND w) (<= 12). */
static inline __attribute__((always_inline)) uint8x16_t count_nibbles(uint8x16_t w, uint8x16_t a, uint8x16_t b,
                                                                     const int SIGN, uint8x16_t m1, uint8x16_t m2)
{
    if (SIGN)
        return nibbles(veorq_u8(w, a), m1, m2);
    return vmlaq_n_u8(nibbles(vandq_u8(w, a), m1, m2), nibbles(vandq_u8(w, b), m1, m2), 2u);
}

/* Nibble counts v (<= 12) folded to bytes (<= 24): lo + hi = v - 15 (v >> 4). */
static inline __attribute__((always_inline)) uint8x16_t fold_bytes(uint8x16_t v)
{
    return vmlaq_n_u8(v, vshrq_n_u8(v, 4), 0xF1u);
}

/* The counts of one word of four rows (one per lane) folded to bytes (<= 24). a, b: the input
 * word of each plane (b unused on sign bits). */
static inline __attribute__((always_inline)) uint8x16_t lane_bytes(uint32x4_t w, be_word a, be_word b, const int SIGN,
                                                                  uint8x16_t m1, uint8x16_t m2)
{
    return fold_bytes(count_nibbles(vreinterpretq_u8_u32(w), vreinterpretq_u8_u32(vdupq_n_u32(a)),
                                    SIGN ? vdupq_n_u8(0u) : vreinterpretq_u8_u32(vdupq_n_u32(b)), SIGN, m1, m2));
}

/* The byte sum of each 32-bit lane (bytes <= 63: the sum, <= 252, in the top byte of
 * lane * 0x01010101). */
static inline __attribute__((always_inline)) int32x4_t lane_sums(uint8x16_t bytes)
{
    return vreinterpretq_s32_u32(vshrq_n_u32(vmulq_n_u32(vreinterpretq_u32_u8(bytes), 0x01010101u), 24));
}

/* The count of the nv whole vectors of the row at w (2 planes: x1 = x0 + nw): VADDVA.U8 of the
 * nibbles v and of v >> 4, S(v) - 15 S(v >> 4). */
static inline __attribute__((always_inline)) int32_t row_vectors(const be_word *w, const be_word *x0,
                                                                  const be_word *x1, uint32_t nv, uint8x16_t m1,
                                                                  uint8x16_t m2)
{
    uint32_t s = 0u, h = 0u, j;
    for (j = 0; j < nv; j++, w += 4, x0 += 4, x1 += 4) {
        const uint8x16_t v = count_nibbles(vreinterpretq_u8_u32(vldrwq_u32(w)), vreinterpretq_u8_u32(vldrwq_u32(x0)),
                                           vreinterpretq_u8_u32(vldrwq_u32(x1)), 0, m1, m2);
        s = vaddvaq_u8(s, v);
        h = vaddvaq_u8(h, vshrq_n_u8(v, 4));
    }
    return (int32_t)(s - 15u * h);
}

/* Loads of a group of four rows: plain for a whole group, zeroing under p for the last,
 * partial one (inactive lanes read nothing and hold 0). */
#define LD_U(full, ptr, p) ((full) ? vldrwq_u32(ptr) : vldrwq_z_u32(ptr, p))
#define LD_UG(full, ptr, offs, p)                                                                  \
    ((full) ? vldrwq_gather_shifted_offset_u32(ptr, offs) : vldrwq_gather_shifted_offset_z_u32(ptr, offs, p))
#define LD_S(full, ptr, p) ((full) ? vldrwq_s32(ptr) : vldrwq_z_s32(ptr, p))
#define LD_SG(full, ptr, offs, p)                                                                  \
    ((full) ? vldrwq_gather_shifted_offset_s32(ptr, offs) : vldrwq_gather_shifted_offset_z_s32(ptr, offs, p))
#define LD_D(full, ptr, p) ((full) ? vldrbq_s32(ptr) : vldrbq_z_s32(ptr, p))

/* The counts of the last TAIL (1..3) words of rows [g, g + 4) in lanes (wt: the rows' first such
 * word): word j of the four rows gathered (row_offs = {0, nw, 2 nw, 3 nw} words; rows of one word
 * lie back to back: a plain load; whole groups of rows of NW = 2 words: VLD2), xt: the input's
 * matching words (plane 1 at xt + nw). */
static inline __attribute__((always_inline)) int32x4_t tail_counts(const be_word *wt, const be_word *xt, uint32_t nw,
                                                                   const uint32_t NW, const uint32_t TAIL,
                                                                   const int SIGN, const int full,
                                                                   mve_pred16_t p, uint32x4_t row_offs, uint8x16_t m1,
                                                                   uint8x16_t m2)
{
    uint8x16_t bytes;
    int32x4_t cnt;
    if (NW == 2u && full) { /* four rows of two words back to back: VLD20 / VLD21 deinterleave them */
        const uint32x4x2_t r = vld2q_u32(wt);
        bytes = vaddq_u8(lane_bytes(r.val[0], xt[0], SIGN ? 0u : xt[2], SIGN, m1, m2),
                         lane_bytes(r.val[1], xt[1], SIGN ? 0u : xt[3], SIGN, m1, m2));
        return lane_sums(bytes);
    }
    bytes = lane_bytes(nw == 1u ? LD_U(full, wt, p) : LD_UG(full, wt, row_offs, p), xt[0], SIGN ? 0u : xt[nw], SIGN,
                       m1, m2);
    if (TAIL >= 2u) /* bytes <= 48, lane sums <= 192 */
        bytes = vaddq_u8(bytes, lane_bytes(LD_UG(full, wt + 1, row_offs, p), xt[1], SIGN ? 0u : xt[nw + 1], SIGN,
                                           m1, m2));
    if (TAIL == 3u && SIGN) /* sign bytes <= 8 per word */
        bytes = vaddq_u8(bytes, lane_bytes(LD_UG(full, wt + 2, row_offs, p), xt[2], 0u, 1, m1, m2));
    cnt = lane_sums(bytes);
    if (TAIL == 3u && !SIGN)
        cnt = vaddq_s32(cnt, lane_sums(lane_bytes(LD_UG(full, wt + 2, row_offs, p), xt[2], xt[nw + 2], 0, m1, m2)));
    return cnt;
}

/* acc[0 .. n) = C - 2 count of the n <= 32 rows at w. Rows of NW = 1..3 words: all in lanes,
 * four rows at a time (NW a constant); NW = 0: rows of nw >= 4 words (2 planes), their whole
 * vectors horizontally (row_vectors), the last TAIL words in lanes. */
static inline __attribute__((always_inline)) void block_acc(const be_word *w, const be_word *x, uint32_t nw,
                                                            uint32_t n, int32_t c, int32_t *acc, const uint32_t NW,
                                                            const uint32_t TAIL, const int SIGN)
{
    const uint8x16_t m1 = vdupq_n_u8(0x55u), m2 = vdupq_n_u8(0x33u);
    const uint32_t nv = NW != 0u ? 0u : nw / 4u, rw = NW != 0u ? NW : nw;
    const uint32x4_t row_offs = vmulq_n_u32(vidupq_n_u32(0u, 1), rw);
    const be_word *xt = x + 4u * nv;
    uint32_t i, g;
    for (i = 0; nv != 0u && i < n; i++)
        acc[i] = row_vectors(w + (size_t)i * rw, x, x + rw, nv, m1, m2);
    if (TAIL == 0u) {
        for (i = 0; i < n; i++)
            acc[i] = c - 2 * acc[i];
        return;
    }
    for (g = 0; g + 4u <= n; g += 4u) {
        const int32x4_t cnt =
            tail_counts(w + (size_t)g * rw + 4u * nv, xt, rw, NW, TAIL, SIGN, 1, 0xFFFFu, row_offs, m1, m2);
        vstrwq_s32(acc + g, vaddq_n_s32(vmulq_n_s32(nv != 0u ? vaddq_s32(vldrwq_s32(acc + g), cnt) : cnt, -2), c));
    }
    if (g < n) {
        const mve_pred16_t p = vctp32q(n - g);
        const int32x4_t cnt = tail_counts(w + (size_t)g * rw + 4u * nv, xt, rw, NW, TAIL, SIGN, 0, p, row_offs, m1, m2);
        vstrwq_p_s32(acc + g,
                     vaddq_n_s32(vmulq_n_s32(nv != 0u ? vaddq_s32(vldrwq_z_s32(acc + g, p), cnt) : cnt, -2), c), p);
    }
}

/* One out-of-line copy per row shape: NW = 1..3 (short rows), or NW = 0 with TAIL = nw % 4; S:
 * sign bits (1) or 2 planes (0). */
#define BLOCK_ACC(NW, TAIL, S)                                                                     \
    static __attribute__((noinline)) void block_acc_##NW##_##TAIL##_##S(const be_word *w, const be_word *x,    \
                                                                       uint32_t nw, uint32_t n, int32_t c,     \
                                                                       int32_t *acc)                           \
    {                                                                                              \
        block_acc(w, x, nw, n, c, acc, NW, TAIL, S);                                               \
    }
BLOCK_ACC(1, 1, 0)
BLOCK_ACC(2, 2, 0)
BLOCK_ACC(3, 3, 0)
BLOCK_ACC(0, 0, 0)
BLOCK_ACC(0, 1, 0)
BLOCK_ACC(0, 2, 0)
BLOCK_ACC(0, 3, 0)
BLOCK_ACC(1, 1, 1)
BLOCK_ACC(2, 2, 1)
BLOCK_ACC(3, 3, 1)

static const be_mve_rows_fn planes_short[4] = {NULL, block_acc_1_1_0, block_acc_2_2_0, block_acc_3_3_0};
static const be_mve_rows_fn planes_long[4] = {block_acc_0_0_0, block_acc_0_1_0, block_acc_0_2_0, block_acc_0_3_0};
static const be_mve_rows_fn sign_short[4] = {NULL, block_acc_1_1_1, block_acc_2_2_1, block_acc_3_3_1};

/* m = -1 where x < t, else 0: the sign of x - t, saturated (exact for any int32 t). */
static inline __attribute__((always_inline)) int32x4_t below(int32x4_t x, int32x4_t t)
{
    return vshrq_n_s32(vqsubq_s32(x, t), 31);
}

/* {1, 2, 4, 8}: lane l's bit, for VMLADAV to gather four lanes' 0 / 1 into a nibble */
static inline __attribute__((always_inline)) uint32x4_t lane_bits(void)
{
    return vshlq_u32(vdupq_n_u32(1u), vreinterpretq_s32_u32(vidupq_n_u32(0u, 1)));
}

/* The sign stage of four rows at output o: bit 1 where direction * acc < T (level 0 -> -1);
 * inactive lanes (d = T = 0) give 0 < 0, no bit. Returns the four bits. */
static inline __attribute__((always_inline)) uint32_t sign4(const be_op *op, const int32_t *acc, uint32_t o,
                                                            const int full, mve_pred16_t p, uint32x4_t bits)
{
    /* direction +-1 (loader); |acc| <= INT32_MAX (loader) */
    const int32x4_t x = vmulq_s32(LD_D(full, (const int8_t *)op->stage_a + o, p), LD_S(full, acc, p));
    const int32x4_t m = below(x, LD_S(full, (const int32_t *)op->stage_b + o, p));
    return (uint32_t)-vmladavq_s32(m, vreinterpretq_s32_u32(bits));
}

static __attribute__((noinline)) uint32_t sign_block(const be_op *op, const int32_t *acc, uint32_t o0, uint32_t n)
{
    const uint32x4_t bits = lane_bits();
    uint32_t word = 0u, g;
    for (g = 0; g + 4u <= n; g += 4u)
        word |= sign4(op, acc + g, o0 + g, 1, 0xFFFFu, bits) << g;
    if (g < n)
        word |= sign4(op, acc + g, o0 + g, 0, vctp32q(n - g), bits) << g;
    return word;
}

/* Three levels on two planes of four rows at output o: level = #{k : direction * acc >= T_k}
 * = 3 + m0 + m1 + m2 (the thresholds three per row, gathered), its bits 0 and 1 gathered into
 * nibbles *b0, *b1. Inactive lanes (level 3) are masked off by the caller. */
static inline __attribute__((always_inline)) void levels4(const be_op *op, const int32_t *acc, uint32_t o,
                                                         const int full, mve_pred16_t p, uint32x4_t bits,
                                                         uint32x4_t offs3, uint32_t *b0, uint32_t *b1)
{
    const int32x4_t x = vmulq_s32(LD_D(full, (const int8_t *)op->stage_a + o, p), LD_S(full, acc, p));
    const int32_t *tk = (const int32_t *)op->stage_b + 3u * o;
    const int32x4_t m = vaddq_s32(vaddq_s32(below(x, LD_SG(full, tk, offs3, p)), below(x, LD_SG(full, tk + 1, offs3, p))),
                                  below(x, LD_SG(full, tk + 2, offs3, p)));
    const uint32x4_t level = vreinterpretq_u32_s32(vaddq_n_s32(m, 3));
    *b0 = vmladavq_u32(vandq_u32(level, vdupq_n_u32(1u)), bits);
    *b1 = vmladavq_u32(vshrq_n_u32(level, 1), bits);
}

static __attribute__((noinline)) void levels_block(const be_op *op, const int32_t *acc, uint32_t o0, uint32_t n,
                                                   be_word *out)
{
    const uint32x4_t bits = lane_bits(), offs3 = vmulq_n_u32(vidupq_n_u32(0u, 1), 3u);
    uint32_t w0 = 0u, w1 = 0u, b0, b1, g;
    for (g = 0; g + 4u <= n; g += 4u) {
        levels4(op, acc + g, o0 + g, 1, 0xFFFFu, bits, offs3, &b0, &b1);
        w0 |= b0 << g;
        w1 |= b1 << g;
    }
    if (g < n) {
        const uint32_t keep = (1u << (n - g)) - 1u; /* no bits past the last row */
        levels4(op, acc + g, o0 + g, 0, vctp32q(n - g), bits, offs3, &b0, &b1);
        w0 |= (b0 & keep) << g;
        w1 |= (b1 & keep) << g;
    }
    out[o0 / 32u] |= w0;
    out[op->out.cw + o0 / 32u] |= w1;
}

/* Scores of rows [o0, o0 + n): multiplier * acc + offset modulo 2^32 (be_arm_put_score: the
 * loader proved that no score leaves int32), four rows at a time. */
static __attribute__((noinline)) void scores_block(const be_op *op, const int32_t *acc, uint32_t o0, uint32_t n,
                                                   int32_t *y)
{
    const int32_t *mult = (const int32_t *)op->stage_a + o0, *offset = (const int32_t *)op->stage_b + o0;
    uint32_t g;
    for (g = 0; g + 4u <= n; g += 4u)
        vstrwq_s32(y + o0 + g, vaddq_s32(vmulq_s32(vldrwq_s32(mult + g), vldrwq_s32(acc + g)), vldrwq_s32(offset + g)));
    if (g < n) {
        const mve_pred16_t p = vctp32q(n - g);
        vstrwq_p_s32(y + o0 + g,
                     vaddq_s32(vmulq_s32(vldrwq_z_s32(mult + g, p), vldrwq_z_s32(acc + g, p)),
                               vldrwq_z_s32(offset + g, p)),
                     p);
    }
}

/* The layer: per block of 32 rows the accumulators (f), then the stage (be_arm.h). */
be_status be_mve_dense_rows(const be_op *op, const be_word *x, void *out, be_mve_rows_fn f, int32_t c)
{
    const uint32_t nout = op->out_ch, nw = op->in.cw; /* rows of nw words back to back: supports */
    const be_word *w = (const be_word *)op->weights;
    const int sign = be_stage_is_sign(op);
    int32_t acc[32];
    uint32_t o, n;
    if (op->stage == BE_STAGE_THRESHOLD)
        be_stage_clear(op, out);
    for (o = 0; o < nout; o += n, w += (size_t)n * nw) {
        n = nout - o < 32u ? nout - o : 32u;
        if (op->stage == BE_STAGE_ACC) { /* the accumulators are the output */
            f(w, x, nw, n, c, (int32_t *)out + o);
            continue;
        }
        f(w, x, nw, n, c, acc);
        if (op->stage == BE_STAGE_SCORE) {
            scores_block(op, acc, o, n, (int32_t *)out);
        } else if (sign) {
            ((be_word *)out)[o / 32u] |= sign_block(op, acc, o, n);
        } else { /* three levels on two planes: be_mve_dense_rows_stage */
            levels_block(op, acc, o, n, (be_word *)out);
        }
    }
    return BE_OK; /* no stage here can fail: scores cannot wrap (the loader) */
}

/* C = popcount(x0) + 2 popcount(x1) over the 2 nw input words (plane 1 at x + nw), four words
 * at a time: their popcounts in lanes, weighted 1 or 2 by plane and summed by one VMLADAVA. */
static int32_t plane_weight_sum(const be_word *x, uint32_t nw)
{
    const uint8x16_t m1 = vdupq_n_u8(0x55u), m2 = vdupq_n_u8(0x33u);
    const uint32_t words = 2u * nw;
    uint32_t c = 0u, j;
    for (j = 0; j < words; j += 4u) {
        const mve_pred16_t p = vctp32q(words - j);
        const uint8x16_t v = nibbles(vreinterpretq_u8_u32(vldrwq_z_u32(x + j, p)), m1, m2);
        /* word index i: weight 2 - ((i - nw) >> 31), 1 on plane 0, 2 on plane 1 */
        const uint32x4_t weight =
            vsubq_u32(vdupq_n_u32(2u), vshrq_n_u32(vsubq_n_u32(vidupq_n_u32(j, 1), nw), 31));
        c = vmladavaq_u32(c, vreinterpretq_u32_s32(lane_sums(fold_bytes(v))), weight);
    }
    return (int32_t)c;
}

be_status be_dense_planes_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t nw = op->in.cw;
    const be_word *x = (const be_word *)in;
    (void)scratch;
    return be_mve_dense_rows(op, x, out, nw <= 3u ? planes_short[nw] : planes_long[nw % 4u], plane_weight_sum(x, nw));
}

be_status be_dense_bin_rows_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t nw = op->in.cw;
    (void)scratch;
    return be_mve_dense_rows(op, (const be_word *)in, out, sign_short[nw], (int32_t)op->k);
}

#else
typedef int be_dense_rows_mve_unused; /* ISO C forbids an empty translation unit */
#endif
