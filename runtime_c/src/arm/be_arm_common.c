/* be_arm_common.c -- the driver shared by the ARM binary kernels (see be_arm.h). */
#if defined(__arm__) || defined(__aarch64__)


#include "arm/be_arm.h"
#include "arm/be_arm_i8.h" /* be_rq_bin: a conv's RequantStage, prepared once per call */
#include "arm/be_arm_u8.h"

int be_arm_bin_supports(const be_op *op)
{
    return (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) && op->weight_kind == BE_WK_BINARY &&
           op->in.kind == BE_KIND_BITS &&
           (op->in.encoding == BE_ENC_SIGN || (op->in.encoding == BE_ENC_UNSIGNED && op->in.planes <= 8u));
}

/* A sign threshold moved into the popcount domain, for layers whose stage runs many times per
 * call (Conv2d: once per output pixel). With acc = K - 2d (d = popcount(x XOR w)), the output
 * bit is 1 (level 0, value -1) when direction * acc < t, which is u = s * d + c >= 0 with
 *     direction +1:  s =  2, c = t - K - 1        (2d > K - t)
 *     direction -1:  s = -2, c = K + t - 1        (2d < K + t)
 * t is first clamped to [-K - 1, K + 1] (beyond that a threshold acts as -+infinity, |acc| <= K),
 * so |u| <= 4K + 2 never overflows for K < 2^28 (prepare_thresholds checks). */
typedef struct {
    int32_t s, c;
} popc_threshold;

#define BE_ARM_THRESHOLD_TABLE 64u /* channels; 512 B of stack */

/* Fill p[0, out_ch) when the layer can use the table (sign threshold stage, out_ch within the
 * table, K < 2^28); returns whether it did. */
static int prepare_thresholds(const be_op *op, popc_threshold *p)
{
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b;
    const int32_t k = (int32_t)op->k;
    uint32_t o;
    if (!be_stage_is_sign(op) || op->out_ch > BE_ARM_THRESHOLD_TABLE || op->k >= (1u << 28))
        return 0;
    for (o = 0; o < op->out_ch; o++) {
        const int32_t tc = t[o] < -k - 1 ? -k - 1 : t[o] > k + 1 ? k + 1 : t[o];
        p[o].s = dir[o] > 0 ? 2 : -2;
        p[o].c = dir[o] > 0 ? tc - k - 1 : k + tc - 1;
    }
    return 1;
}

static be_status put_values(const be_op *op, const be_rq_bin *q, void *px_out, uint32_t o0, uint32_t n,
                            const uint32_t *d);

/* Output stage of channels [o0, o0 + n) of one output pixel; o0 % 32 == 0, n <= 32. With a
 * table p (sign thresholds), the word of bits is written whole; otherwise the pixel must have
 * been cleared (be_stage_clear) for threshold stages, which go through the direct compare or
 * be_stage_put_block; the others through put_values (q: a prepared RequantStage or NULL). */
static be_status put(const be_op *op, const popc_threshold *p, const be_rq_bin *q, void *px_out, uint32_t o0,
                     uint32_t n, const uint32_t *d)
{
    uint32_t i;
    if (p != NULL) {
        uint32_t zeros = 0u; /* bit i: channel i's u < 0, i.e. its output bit is 0 */
        p += o0;
        i = n;
        if (i & 1u) {
            i--;
            zeros = (uint32_t)(p[i].s * (int32_t)d[i] + p[i].c) >> 31;
        }
        if (i & 2u) {
            i -= 2u;
            zeros = (zeros << 1) | ((uint32_t)(p[i + 1u].s * (int32_t)d[i + 1u] + p[i + 1u].c) >> 31);
            zeros = (zeros << 1) | ((uint32_t)(p[i].s * (int32_t)d[i] + p[i].c) >> 31);
        }
        while (i > 0u) { /* four channels per step, from the top: bit i ends up at position i */
            const popc_threshold *q = p + i - 4u;
            const uint32_t *e = d + i - 4u;
            zeros = (zeros << 1) | ((uint32_t)(q[3].s * (int32_t)e[3] + q[3].c) >> 31);
            zeros = (zeros << 1) | ((uint32_t)(q[2].s * (int32_t)e[2] + q[2].c) >> 31);
            zeros = (zeros << 1) | ((uint32_t)(q[1].s * (int32_t)e[1] + q[1].c) >> 31);
            zeros = (zeros << 1) | ((uint32_t)(q[0].s * (int32_t)e[0] + q[0].c) >> 31);
            i -= 4u;
        }
        ((be_word *)px_out)[o0 / 32u] = ~zeros & (n == 32u ? 0xFFFFFFFFu : (1u << n) - 1u);
        return BE_OK;
    }
    if (be_stage_is_sign(op)) {
        const int8_t *dir = (const int8_t *)op->stage_a + o0;
        const int32_t *t = (const int32_t *)op->stage_b + o0;
        const int32_t k = (int32_t)op->k;
        uint32_t bits = 0u, bit = 1u;
        for (i = 0; i < n; i++, bit <<= 1) {
            /* direction * acc (direction is +-1; |acc| <= K <= INT32_MAX, loader) */
            if ((k - 2 * (int32_t)d[i]) * (int32_t)dir[i] < t[i])
                bits |= bit; /* level 0 -> -1 -> bit 1 */
        }
        ((be_word *)px_out)[o0 / 32u] = bits;
        return BE_OK;
    }
    if (op->stage == BE_STAGE_THRESHOLD) { /* unsigned levels: counted inline by be_stage_put_block */
        int32_t acc[32];
        for (i = 0; i < n; i++)
            acc[i] = (int32_t)op->k - 2 * (int32_t)d[i];
        return be_stage_put_block(op, px_out, o0, n, acc); /* o0 % 32 == 0, n <= 32 */
    }
    return put_values(op, q, px_out, o0, n, d);
}

/* The stages put() does not pack: the accumulators themselves (a residual block's conv), scores
 * and requantization (out of line, so that put() stays small enough to inline into rows()); q: a
 * conv's RequantStage prepared for every channel (conv2d_requant), or NULL. */
static __attribute__((noinline)) be_status put_values(const be_op *op, const be_rq_bin *q, void *px_out, uint32_t o0,
                                                      uint32_t n, const uint32_t *d)
{
    uint32_t i;
    if (q != NULL) { /* about 9 instructions per output on the cortex-m4 (be_rq_apply: about 30) */
        int8_t *y = (int8_t *)px_out + o0;
        const int32_t k = (int32_t)op->k;
        for (i = 0; i < n; i++)
            y[i] = be_rq_bin_one(q + o0 + i, k - 2 * (int32_t)d[i]);
        return BE_OK;
    }
    if (op->stage == BE_STAGE_ACC) {
        int32_t *y = (int32_t *)px_out + o0;
        const int32_t k = (int32_t)op->k;
        for (i = 0; i < n; i++)
            y[i] = k - 2 * (int32_t)d[i];
        return BE_OK;
    }
    if (op->stage == BE_STAGE_SCORE) { /* multiplier * acc + offset modulo 2^32: exact, the loader
                                        * proved no score leaves int32 (be_kernels.h) */
        const uint32_t *mult = (const uint32_t *)op->stage_a + o0, *offset = (const uint32_t *)op->stage_b + o0;
        uint32_t *y = (uint32_t *)px_out + o0;
        for (i = 0; i < n; i++)
            y[i] = mult[i] * (op->k - 2u * d[i]) + offset[i];
        return BE_OK;
    }
    { /* requantization (be_stage_put_block: inline) and any other stage */
        int32_t acc[32];
        const int32_t k = (int32_t)op->k;
        for (i = 0; i < n; i++)
            acc[i] = k - 2 * (int32_t)d[i];
        return be_stage_put_block(op, px_out, o0, n, acc);
    }
}

/* Channels [o_first, o_end) of one output pixel (o_first % 32 == 0) from the input row x of nw
 * words and their weight rows at w (row o_first first, nw words each). */
static be_status rows(const be_op *op, const popc_threshold *p, const be_rq_bin *q, const be_word *x, uint32_t nw,
                      void *px_out, be_arm_popc_fn popc, const be_word *w, uint32_t o_first, uint32_t o_end)
{
    uint32_t d[32], o0;
    be_status st = BE_OK;
    if (!be_stage_is_sign(op) && o_first == 0u) /* sign thresholds write whole words */
        be_stage_clear(op, px_out);
    for (o0 = o_first; o0 < o_end; o0 += 32u) {
        const uint32_t n = o_end - o0 < 32u ? o_end - o0 : 32u;
        be_status s;
        popc(x, w + (size_t)(o0 - o_first) * nw, nw, nw, n, d);
        s = put(op, p, q, px_out, o0, n, d);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

/* ---- Compacted rows for channel counts that are not multiples of 32 ----------------------------
 * When the K = KH * KW * C bits of a receptive field take fewer words back to back than as stored
 * (word/be_compact_bits.c), the driver counts those instead: the weights compacted once per call
 * into a stack buffer (be_split_rows: the split layout, every tap's full words and then the bits
 * of the taps' last words; all channels, or blocks of 32 when they do not all fit) and each
 * output pixel's receptive field into the same layout in the scratch (be_split_patch; never
 * larger than the stored patch; bit-plane inputs: one row per plane). */

/* 2 KiB of stack (Cortex-M0: 512 B). 3 KiB, which would take the 80-channel 3x3 convs in blocks
 * of 32 rows (23 words instead of 27), measured slower: cortex-m4 conv80acc 0.335 -> 0.340,
 * cortex-m55 0.131 -> 0.155 instructions per binary MAC. */
#define BE_ARM_COMPACT_WORDS BE_ARM_U8_ROWBUF_WORDS

/* Rows per block of compacted weights, or 0 when the stored layout is kept (C % 32 == 0, no
 * word saved, or not even 32 rows fit the buffer). */
static uint32_t compact_block(const be_op *op)
{
    const uint32_t nwc = be_words_for(op->kh * op->kw * op->in.c), nws = op->kh * op->kw * op->in.cw;
    if (op->in.c % 32u == 0u || nwc >= nws || op->in.cw > BE_COMPACT_MAX_CW)
        return 0u;
    if (op->out_ch * nwc <= BE_ARM_COMPACT_WORDS)
        return op->out_ch;
    return 32u * nwc <= BE_ARM_COMPACT_WORDS ? BE_ARM_COMPACT_WORDS / nwc / 32u * 32u : 0u;
}

/* ---- Unsigned bit-plane inputs (levels 0 .. 2^P - 1, e.g. qrelu) ----------------------------
 * A level is x = sum_p 2^p b_p and a weight is +1 (bit 0) or -1 (bit 1), so per plane
 * sum_k b_k w_k = popcount(b) - 2 popcount(b AND w) = popcount(b XOR w) - popcount(w), and
 *     acc = sum_p 2^p popcount(b_p XOR w) - (2^P - 1) popcount(w):
 * P calls of the variant's XOR-popcount core plus the weight rows' own popcounts, which are
 * the core run against a row of zeros. Padding bits are zero in b and in w; a padding pixel
 * (level 0) is zero words, so it adds popcount(w) - popcount(w) = 0. The loader bounds
 * (2^P - 1) K, so no partial sum overflows int32. */

#define BE_ARM_ZERO_ROW 64u        /* words; rows up to 2048 bits take their popcounts from the core */
#define BE_ARM_WEIGHT_COUNTS 128u /* channels; a Conv2d's weight popcounts, 512 B of stack */

static const be_word zero_row[BE_ARM_ZERO_ROW]; /* const: in flash on a microcontroller */

/* pw[i] = popcount(w_i) for the n <= 32 rows of nw words at w. */
static void weight_counts(const be_word *w, uint32_t nw, uint32_t n, uint32_t *pw, be_arm_popc_fn popc)
{
    uint32_t i, j;
    if (nw <= BE_ARM_ZERO_ROW) {
        popc(zero_row, w, nw, nw, n, pw);
        return;
    }
    for (i = 0; i < n; i++, w += nw) {
        uint32_t c = 0u;
        for (j = 0; j < nw; j++)
            c += be_arm_popcount32(w[j]);
        pw[i] = c;
    }
}

/* Channels [o_first, o_end) (o_first % 32 == 0) of one output pixel from P planes of nw words,
 * plane p at x + p * plane_step, weight rows at w (row o_first first); counts = the weight
 * popcounts of all out_ch rows (a Conv2d's table) or NULL (computed per block). */
static be_status plane_rows(const be_op *op, const uint32_t *counts, const be_word *x, uint32_t plane_step,
                            uint32_t nw, void *px_out, be_arm_popc_fn popc, const be_word *w, uint32_t o_first,
                            uint32_t o_end)
{
    const uint32_t planes = op->in.planes, top = (1u << planes) - 1u;
    uint32_t d[32], pw[32], o0, p, i;
    int32_t acc[32];
    be_status st = BE_OK;
    if (o_first == 0u)
        be_stage_clear(op, px_out);
    for (o0 = o_first; o0 < o_end; o0 += 32u) {
        const uint32_t n = o_end - o0 < 32u ? o_end - o0 : 32u;
        const be_word *wb = w + (size_t)(o0 - o_first) * nw;
        const uint32_t *c = counts != NULL ? counts + o0 : pw;
        be_status s;
        if (counts == NULL)
            weight_counts(wb, nw, n, pw, popc);
        for (i = 0; i < n; i++)
            acc[i] = -(int32_t)(top * c[i]);
        for (p = 0; p < planes; p++) {
            popc(x + (size_t)p * plane_step, wb, nw, nw, n, d);
            for (i = 0; i < n; i++)
                acc[i] += (int32_t)(d[i] << p);
        }
        s = be_stage_put_block(op, px_out, o0, n, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

/* Conv2d with compacted rows (compact_block(op) = block != 0): sign bits (p: the threshold table
 * or NULL; rq: the prepared RequantStage or NULL) or bit-planes (counts: their weight popcounts
 * or NULL). */
static be_status conv2d_compact(const be_op *op, const popc_threshold *p, const be_rq_bin *rq, const uint32_t *counts,
                                const void *in, void *out, void *scratch, be_arm_popc_fn popc, uint32_t block)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t nw = be_words_for(op->kh * op->kw * vi->c), px_words = vi->planes * vi->cw;
    const int bit_planes = vi->encoding == BE_ENC_UNSIGNED;
    be_word *patch = (be_word *)scratch; /* P * nw words <= the stored patches */
    be_word w[BE_ARM_COMPACT_WORDS];
    uint32_t o0, oy, ox, q;
    be_status st = BE_OK;
    for (o0 = 0; o0 < op->out_ch; o0 += block) {
        const uint32_t end = op->out_ch - o0 < block ? op->out_ch : o0 + block;
        be_split_rows(op, o0, end - o0, w);
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
                void *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                if (bit_planes) {
                    for (q = 0; q < vi->planes; q++)
                        be_split_patch(op, (const be_word *)in, oy, ox, patch + (size_t)q * nw, nw, px_words, q);
                    s = plane_rows(op, counts, patch, nw, nw, px_out, popc, w, o0, end);
                } else {
                    be_split_patch(op, (const be_word *)in, oy, ox, patch, nw, px_words, 0u);
                    s = rows(op, p, rq, patch, nw, px_out, popc, w, o0, end);
                }
                if (s != BE_OK)
                    st = s;
            }
    }
    return st;
}

/* Conv2d on bit-planes: the scratch holds P patches (KH * KW * cw words each; the model's
 * patch_bytes is KH * KW * pixel_bytes = exactly that). */
static be_status conv2d_planes(const be_op *op, const void *in, void *out, void *scratch, be_arm_popc_fn popc)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, planes = vi->planes, px_words = planes * cw, nw = op->kh * op->kw * cw;
    be_word *patch = (be_word *)scratch;
    uint32_t table[BE_ARM_WEIGHT_COUNTS];
    const uint32_t *counts = NULL;
    uint32_t oy, ox, ky, kx, p, o0;
    be_status st = BE_OK;
    if (op->out_ch <= BE_ARM_WEIGHT_COUNTS) {
        for (o0 = 0; o0 < op->out_ch; o0 += 32u)
            weight_counts((const be_word *)op->weights + (size_t)o0 * nw, nw,
                          op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u, table + o0, popc);
        counts = table;
    }
    if (compact_block(op) != 0u)
        return conv2d_compact(op, NULL, NULL, counts, in, out, scratch, popc, compact_block(op));
    for (oy = 0; oy < vo->h; oy++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
        for (ox = 0; ox < vo->w; ox++) {
            const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
            be_status s;
            for (ky = 0; ky < op->kh; ky++) {
                const int32_t iy = y0 + (int32_t)ky;
                for (kx = 0; kx < op->kw; kx++) {
                    const int32_t ix = x0 + (int32_t)kx;
                    be_word *dst = patch + (ky * op->kw + kx) * cw;
                    const int inside = iy >= 0 && iy < (int32_t)vi->h && ix >= 0 && ix < (int32_t)vi->w;
                    const be_word *src =
                        inside ? (const be_word *)in + ((size_t)iy * vi->w + (size_t)ix) * px_words : NULL;
                    for (p = 0; p < planes; p++, dst += nw) {
                        if (src != NULL)
                            be_copy_words(dst, src + (size_t)p * cw, cw);
                        else
                            be_zero_words(dst, cw); /* padding: level 0 */
                    }
                }
            }
            s = plane_rows(op, counts, patch, nw, nw, (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes,
                           popc, (const be_word *)op->weights, 0u, op->out_ch);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

be_status be_arm_dense_bin(const be_op *op, const void *in, void *out, be_arm_popc_fn popc)
{
    if (op->in.encoding == BE_ENC_UNSIGNED)
        return plane_rows(op, NULL, (const be_word *)in, op->in.cw, op->in.cw, out, popc, (const be_word *)op->weights,
                          0u, op->out_ch);
    return rows(op, NULL, NULL, (const be_word *)in, op->in.cw, out, popc, (const be_word *)op->weights, 0u,
                op->out_ch); /* each row once: no table */
}

/* Conv2d over sign bits; p: the threshold table or NULL, q: the prepared RequantStage or NULL. */
static be_status conv2d_sign(const be_op *op, const popc_threshold *p, const be_rq_bin *q, const void *in, void *out,
                             void *scratch, be_arm_popc_fn popc)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, run = op->kw * cw, block = compact_block(op);
    be_word *patch = (be_word *)scratch; /* KH * KW * cw words <= the model's patch_bytes */
    uint32_t oy, ox, ky, kx;
    be_status st = BE_OK;
    if (block != 0u)
        return conv2d_compact(op, p, q, NULL, in, out, scratch, popc, block);
    for (oy = 0; oy < vo->h; oy++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
        for (ox = 0; ox < vo->w; ox++) {
            const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
            const int inside_x = x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w;
            be_word *dst = patch;
            be_status s;
            for (ky = 0; ky < op->kh; ky++, dst += run) {
                const int32_t iy = y0 + (int32_t)ky;
                if (iy < 0 || iy >= (int32_t)vi->h) {
                    be_zero_words(dst, run);
                } else if (inside_x) { /* KW neighbouring pixels: one contiguous run */
                    be_copy_words(dst, (const be_word *)in + ((size_t)iy * vi->w + (size_t)x0) * cw, run);
                } else {
                    for (kx = 0; kx < op->kw; kx++) {
                        const int32_t ix = x0 + (int32_t)kx;
                        if (ix >= 0 && ix < (int32_t)vi->w)
                            be_copy_words(dst + kx * cw, (const be_word *)in + ((size_t)iy * vi->w + (size_t)ix) * cw, cw);
                        else
                            be_zero_words(dst + kx * cw, cw);
                    }
                }
            }
            s = rows(op, p, q, patch, op->kh * run, (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes,
                     popc, (const be_word *)op->weights, 0u, op->out_ch);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

/* A RequantStage's constants for every channel, prepared once per call (be_rq_bin: |acc| <= K
 * over sign bits), on the stack only for such a layer (24 B per channel). */
#if defined(BE_ARM_HAVE_THUMB1)
#define BE_ARM_RQ_TABLE 16u /* the Cortex-M0's stack */
#else
#define BE_ARM_RQ_TABLE 64u
#endif

static __attribute__((noinline)) be_status conv2d_requant(const be_op *op, const void *in, void *out, void *scratch,
                                                          be_arm_popc_fn popc)
{
    be_rq_bin q[BE_ARM_RQ_TABLE];
    return conv2d_sign(op, NULL, be_rq_bin_prepare(op, 0u, op->out_ch, q) ? q : NULL, in, out, scratch, popc);
}

static __attribute__((noinline)) be_status conv2d_other(const be_op *op, const void *in, void *out, void *scratch,
                                                        be_arm_popc_fn popc)
{
    popc_threshold table[BE_ARM_THRESHOLD_TABLE];
    return conv2d_sign(op, prepare_thresholds(op, table) ? table : NULL, NULL, in, out, scratch, popc);
}

be_status be_arm_conv2d_bin(const be_op *op, const void *in, void *out, void *scratch, be_arm_popc_fn popc)
{
    if (op->in.encoding == BE_ENC_UNSIGNED)
        return conv2d_planes(op, in, out, scratch, popc);
    if (op->stage == BE_STAGE_REQUANT && op->out_ch <= BE_ARM_RQ_TABLE)
        return conv2d_requant(op, in, out, scratch, popc);
    return conv2d_other(op, in, out, scratch, popc);
}

#else
typedef int be_arm_common_unused; /* ISO C forbids an empty translation unit */
#endif
