/* be_conv2d_i8_px_neon.c -- "lanes" for int8 Conv2d on NEON: int8 weights over u8 / i8 codes,
 * stride 1, groups 1, into a RequantStage whose every shift is >= 32, with a block of output
 * positions x 8 output channels in registers (aarch64: 8 positions, armv7: 4). Since 2026-12-06
 * (second session).
 *
 * Two shapes, those of the ResNets and examples/custom_model (docs/kernels.md "NEON: int8 convs
 * in position blocks"):
 *  - one input channel (the pixel layer, any kernel and padding: the stem's 3x3 over 28 x 28 x 1),
 *    read from a copy with the padding made explicit (the zero point's code; row pitch WP): tap
 *    (ky, kx) of the block's consecutive positions q .. q + P - 1 (q = y * WP + x; x >= OW
 *    computed and dropped) is one load of P codes, widened; acc[j] += W_t * x_t[j] per position j
 *    (SMLAL by element: 8 channels' int16 weights of tap t times one code);
 *  - 1x1 over C channels, C a multiple of 8, no padding (the downsampling convs over 16 .. 64
 *    channels): per position the C codes are contiguous, 8 at a time one load, widened;
 *    acc[j] += sum_e W_(c + e) * x_j[c + e], the 8 weight vectors loaded once per block.
 * The accumulator is over the raw codes (padding = the zero point), as the reference defines it
 * (the loader proved |acc| <= INT32_MAX). Per channel block the weights are repacked once per call
 * as int16 vectors of 8 channels per tap (zero past O, 8 x 8 transposes), so one load serves P
 * positions; a 3x3 instance unrolls the stem's 9 taps.
 * The RequantStage as be_i8_rq_one's high path (the high word of m * acc + Bh by SMULL + ADDHN,
 * shifted by s - 32, saturated to int16, the zero point added saturating, saturated to int8),
 * with the channel block's constants in registers; each position's 8 codes one 8-byte store (a
 * padding column or a position past the map into a trash row).
 * The channel-lane kernel it replaces on these shapes ("neon": per output pixel, the weights and
 * stage constants reloaded for each) ran 2.05 instructions per MAC on the stem and 0.83 .. 0.98 on
 * the 1x1 convs (aarch64-virt).
 *
 * Stack: the padded copy (at most PAD_BYTES), the packed weights (at most WPK_HALVES int16), the
 * stage constants (at most OUT_MAX channels), a trash row; no scratch.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include "arm/be_arm_neon.h"
#include "arm/be_arm_i8.h"

#if defined(__aarch64__)
#define POS 8u /* positions per block: 16 accumulator vectors + 8 weight vectors of 32 registers */
#else
#define POS 4u /* 16 quad registers: 8 accumulators, the weights, the codes */
#endif
#define PAD_BYTES 4096u  /* the padded copy of a one-channel input, with its slack */
#define PAD_SLACK 16u    /* a block's last load reads up to POS - 1 + KW - 1 codes past its start */
#define WPK_HALVES 4096u /* packed weights: ceil(O / 8) * 8 * K int16 (8 KiB) */
#define OUT_MAX 256u     /* output channels (the stage constants: 16 B each) */
#define TAPS_MAX 64u     /* taps of a one-channel layer (7 x 7 and smaller) */

#if defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 8")
#define TAP_UNROLL _Pragma("GCC unroll 9") /* the 3 x 3 instance's taps */
#else
#define UNROLL
#define TAP_UNROLL
#endif

/* The geometry of an op this kernel takes, or 0: mode 1 (one channel, via the padded copy) or 2
 * (1x1 over 8k channels, unpadded); wp the row pitch of the positions. */
static int i8px_mode(const be_op *op, uint32_t *wp_out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t c = vi->c, wp = vi->w + op->pl + op->pr, hp = vi->h + op->pt + op->pb;
    uint32_t o;
    if (!(op->type == BE_OP_CONV2D && op->weight_kind == BE_WK_INT8 &&
          (vi->kind == BE_KIND_U8 || vi->kind == BE_KIND_I8) && op->groups <= 1u && op->sh == 1u && op->sw == 1u &&
          op->stage == BE_STAGE_REQUANT && vo->kind == BE_KIND_I8 && vo->pixel_bytes == op->out_ch &&
          vi->pixel_bytes == c && op->w_row_bytes == c && op->out_ch >= 1u && op->out_ch <= OUT_MAX &&
          be_i8_requant_all_high(op)))
        return 0;
    if (op->kh == 0u || op->kw == 0u || op->kh > hp || op->kw > wp || vo->h != hp - op->kh + 1u ||
        vo->w != wp - op->kw + 1u || (uint64_t)vo->h * vo->w < 2u * POS)
        return 0;
    o = (op->out_ch + 7u) & ~7u;
    if ((uint64_t)o * op->k > WPK_HALVES || op->k != op->kh * op->kw * c)
        return 0;
    *wp_out = wp;
    if (c == 1u && op->k <= TAPS_MAX && (uint64_t)hp * wp + PAD_SLACK <= PAD_BYTES)
        return 1;
    if (c % 8u == 0u && op->kh == 1u && op->kw == 1u && op->pt + op->pb + op->pl + op->pr == 0u)
        return 2;
    return 0;
}

/* Weights as int16 vectors of 8 channels per tap: wpk[(b * K + t) * 8 + i] = w[8 b + i][t]
 * (zero for channels >= O). Whole 8 x 8 tiles (8 channels, 8 taps) by one transpose: 8 loads,
 * 8 widenings, 24 TRN, 8 stores (scalar: about 5 instructions per weight, 17 K instructions
 * per call on the 40 -> 80 conv); the last K % 8 taps and a partial block one by one. */
static inline int16x8x2_t trn16(int16x8_t a, int16x8_t b)
{
    return vtrnq_s16(a, b);
}
static inline int32x4x2_t trn32(int16x8_t a, int16x8_t b)
{
    return vtrnq_s32(vreinterpretq_s32_s16(a), vreinterpretq_s32_s16(b));
}
static inline int16x8_t lo64(int32x4_t a, int32x4_t b) /* the low halves of a and b */
{
    return vreinterpretq_s16_s32(vcombine_s32(vget_low_s32(a), vget_low_s32(b)));
}
static inline int16x8_t hi64(int32x4_t a, int32x4_t b)
{
    return vreinterpretq_s16_s32(vcombine_s32(vget_high_s32(a), vget_high_s32(b)));
}

static void pack_weights(const be_op *op, int16_t *wpk)
{
    const int8_t *w = (const int8_t *)op->weights;
    const uint32_t k = op->k, nb = (op->out_ch + 7u) / 8u, k8 = k & ~7u;
    uint32_t b, t, i;
    for (b = 0; b < nb; b++) {
        int16_t *d = wpk + (size_t)b * k * 8u;
        const int8_t *r = w + (size_t)8u * b * k;
        if (8u * b + 8u <= op->out_ch) {
            for (t = 0; t < k8; t += 8u) {
                const int16x8x2_t a01 = trn16(vmovl_s8(vld1_s8(r + t)), vmovl_s8(vld1_s8(r + k + t)));
                const int16x8x2_t a23 = trn16(vmovl_s8(vld1_s8(r + 2u * k + t)), vmovl_s8(vld1_s8(r + 3u * k + t)));
                const int16x8x2_t a45 = trn16(vmovl_s8(vld1_s8(r + 4u * k + t)), vmovl_s8(vld1_s8(r + 5u * k + t)));
                const int16x8x2_t a67 = trn16(vmovl_s8(vld1_s8(r + 6u * k + t)), vmovl_s8(vld1_s8(r + 7u * k + t)));
                const int32x4x2_t b02 = trn32(a01.val[0], a23.val[0]), b13 = trn32(a01.val[1], a23.val[1]);
                const int32x4x2_t b46 = trn32(a45.val[0], a67.val[0]), b57 = trn32(a45.val[1], a67.val[1]);
                int16_t *dt = d + 8u * t;
                vst1q_s16(dt, lo64(b02.val[0], b46.val[0]));       /* tap t: channels 0 .. 7 */
                vst1q_s16(dt + 8, lo64(b13.val[0], b57.val[0]));   /* t + 1 */
                vst1q_s16(dt + 16, lo64(b02.val[1], b46.val[1]));  /* t + 2 */
                vst1q_s16(dt + 24, lo64(b13.val[1], b57.val[1]));  /* t + 3 */
                vst1q_s16(dt + 32, hi64(b02.val[0], b46.val[0]));  /* t + 4 */
                vst1q_s16(dt + 40, hi64(b13.val[0], b57.val[0]));  /* t + 5 */
                vst1q_s16(dt + 48, hi64(b02.val[1], b46.val[1]));  /* t + 6 */
                vst1q_s16(dt + 56, hi64(b13.val[1], b57.val[1]));  /* t + 7 */
            }
        } else {
            t = 0u;
        }
        for (i = 0; i < 8u; i++) { /* the rest: taps t .. K - 1 (all of them in a partial block) */
            const uint32_t o = 8u * b + i;
            uint32_t u;
            for (u = t; u < k; u++)
                d[8u * u + i] = o < op->out_ch ? r[(size_t)i * k + u] : 0;
        }
    }
}

/* acc += W * x[e] for 8 channels (lo: channels 0..3, hi: 4..7) */
#if defined(__aarch64__)
#define MLA_LANE(lo, hi, w, x, e)                                                                              \
    do {                                                                                                       \
        (lo) = vmlal_laneq_s16((lo), vget_low_s16(w), (x), (e));                                               \
        (hi) = vmlal_high_laneq_s16((hi), (w), (x), (e));                                                      \
    } while (0)
#else
#define MLA_LANE(lo, hi, w, x, e)                                                                              \
    do {                                                                                                       \
        (lo) = vmlal_lane_s16((lo), vget_low_s16(w), (e) < 4 ? vget_low_s16(x) : vget_high_s16(x), (e) & 3);   \
        (hi) = vmlal_lane_s16((hi), vget_high_s16(w), (e) < 4 ? vget_low_s16(x) : vget_high_s16(x), (e) & 3);  \
    } while (0)
#endif

/* Per channel (and 8-aligned past O, zero): Bh = B + 2^(s-1), M, -(s - 32) (every s >= 32:
 * i8px_mode checked it) */
typedef struct rq_consts {
    int64_t bh[OUT_MAX + 8u];
    int32_t m[OUT_MAX + 8u];
    int32_t nsh[OUT_MAX + 8u];
} rq_consts;

static void prepare_rq(const be_op *op, rq_consts *q)
{
    const uint32_t n = op->out_ch, n8 = (n + 7u) & ~7u;
    uint32_t o;
    for (o = 0; o < n8; o++) {
        q->bh[o] = o < n ? be_rq_bias(op, o) : 0;
        q->m[o] = o < n ? ((const int32_t *)op->stage_a)[o] : 0;
        q->nsh[o] = o < n ? 32 - (int32_t)((const uint8_t *)op->stage_c)[o] : 0;
    }
}

int be_conv2d_i8_px_neon_supports(const be_op *op)
{
    uint32_t wp;
    return i8px_mode(op, &wp) != 0;
}

/* The codes of 8 channels of one position: the high words of M acc + Bh by SMULL + ADDHN (the
 * high half of the 64-bit sum: exact, since |M acc + Bh| < 2^63 by the loader's bound), shifted by
 * s - 32, saturated to int16, the zero point added saturating (|r| <= 32768: this cannot change
 * the int8 result), saturated to int8: be_i8_rq_one's high path. */
#if !defined(__aarch64__)
#define vmull_high_s32(a, b) vmull_s32(vget_high_s32(a), vget_high_s32(b))
#endif
static inline __attribute__((always_inline)) int8x8_t requant8(int32x4_t lo, int32x4_t hi, const int32x4_t m[2],
                                                              const int64x2_t bh[4], const int32x4_t nsh[2],
                                                              int16x8_t zp)
{
    const int32x2_t h0 = vaddhn_s64(vmull_s32(vget_low_s32(lo), vget_low_s32(m[0])), bh[0]);
    const int32x4_t a = vcombine_s32(h0, vaddhn_s64(vmull_high_s32(lo, m[0]), bh[1]));
    const int32x2_t h1 = vaddhn_s64(vmull_s32(vget_low_s32(hi), vget_low_s32(m[1])), bh[2]);
    const int32x4_t b = vcombine_s32(h1, vaddhn_s64(vmull_high_s32(hi, m[1]), bh[3]));
    const int16x8_t r = vcombine_s16(vqmovn_s32(vshlq_s32(a, nsh[0])), vqmovn_s32(vshlq_s32(b, nsh[1])));
    return vqmovn_s16(vqaddq_s16(r, zp));
}

/* Pixel j of the block at q0 (its row y0, column x0): its output channels' address, or trash */
static inline int8_t *pixel_out(const be_op *op, uint32_t wp, uint32_t npos, uint32_t q0, uint32_t y0, uint32_t x0,
                                uint32_t j, int8_t *out, int8_t *trash)
{
    uint32_t x = x0 + j, y = y0;
    while (x >= wp) {
        x -= wp;
        y++;
    }
    return x < op->out.w && q0 + j < npos ? out + ((size_t)y * op->out.w + x) * op->out_ch : trash;
}

/* One run over the positions: mode as i8px_mode, codes i8 or u8, k taps (a constant in the
 * stem's instance) */
static inline __attribute__((always_inline)) void run(const be_op *op, const uint8_t *src, int8_t *out,
                                                      const int16_t *wpk, const rq_consts *q, const uint32_t *toff,
                                                      uint32_t wp, const int mode, const int is_i8, const uint32_t k)
{
    const uint32_t nout = op->out_ch, nblk = (nout + 7u) / 8u, npos = (op->out.h - 1u) * wp + op->out.w;
    const int16x8_t zp = vdupq_n_s16((int16_t)op->zero_point);
    int8_t trash[OUT_MAX + 8u];
    uint32_t q0, b, t, j, c, y0 = 0u, x0 = 0u;
    for (q0 = 0; q0 < npos; q0 += POS, y0 += (x0 += POS) / wp, x0 %= wp) {
        int8_t *dst[POS];
        const uint8_t *px[POS]; /* 1x1: the positions' codes (one past the map reads the last pixel) */
        for (j = 0; j < POS; j++) {
            dst[j] = pixel_out(op, wp, npos, q0, y0, x0, j, out, trash);
            px[j] = src + (size_t)(q0 + j < npos ? q0 + j : npos - 1u) * k;
        }
        for (b = 0; b < nblk; b++) {
            const int16_t *w = wpk + (size_t)b * k * 8u;
            const int32x4_t m[2] = {vld1q_s32(q->m + 8u * b), vld1q_s32(q->m + 8u * b + 4u)};
            const int32x4_t nsh[2] = {vld1q_s32(q->nsh + 8u * b), vld1q_s32(q->nsh + 8u * b + 4u)};
            const int64x2_t bh[4] = {vld1q_s64(q->bh + 8u * b), vld1q_s64(q->bh + 8u * b + 2u),
                                     vld1q_s64(q->bh + 8u * b + 4u), vld1q_s64(q->bh + 8u * b + 6u)};
            int32x4_t lo[POS], hi[POS];
            UNROLL
            for (j = 0; j < POS; j++)
                lo[j] = hi[j] = vdupq_n_s32(0);
            if (mode == 1) {
                const uint8_t *base = src + q0;
                TAP_UNROLL
                for (t = 0; t < k; t++, w += 8) {
                    const int16x8_t wv = vld1q_s16(w);
#if defined(__aarch64__)
                    const int16x8_t xv = be_neon_codes8(base + toff[t], is_i8);
#else
                    const int16x8_t xv = vcombine_s16(vget_low_s16(be_neon_codes8(base + toff[t], is_i8)), vdup_n_s16(0));
#endif
                    MLA_LANE(lo[0], hi[0], wv, xv, 0);
                    MLA_LANE(lo[1], hi[1], wv, xv, 1);
                    MLA_LANE(lo[2], hi[2], wv, xv, 2);
                    MLA_LANE(lo[3], hi[3], wv, xv, 3);
#if defined(__aarch64__)
                    MLA_LANE(lo[4], hi[4], wv, xv, 4);
                    MLA_LANE(lo[5], hi[5], wv, xv, 5);
                    MLA_LANE(lo[6], hi[6], wv, xv, 6);
                    MLA_LANE(lo[7], hi[7], wv, xv, 7);
#endif
                }
            } else {
                for (c = 0; c < k; c += 8u, w += 64) {
                    const int16x8_t w0 = vld1q_s16(w), w1 = vld1q_s16(w + 8), w2 = vld1q_s16(w + 16);
                    const int16x8_t w3 = vld1q_s16(w + 24), w4 = vld1q_s16(w + 32), w5 = vld1q_s16(w + 40);
                    const int16x8_t w6 = vld1q_s16(w + 48), w7 = vld1q_s16(w + 56);
                    UNROLL
                    for (j = 0; j < POS; j++) {
                        const int16x8_t xv = be_neon_codes8(px[j] + c, is_i8);
                        MLA_LANE(lo[j], hi[j], w0, xv, 0);
                        MLA_LANE(lo[j], hi[j], w1, xv, 1);
                        MLA_LANE(lo[j], hi[j], w2, xv, 2);
                        MLA_LANE(lo[j], hi[j], w3, xv, 3);
                        MLA_LANE(lo[j], hi[j], w4, xv, 4);
                        MLA_LANE(lo[j], hi[j], w5, xv, 5);
                        MLA_LANE(lo[j], hi[j], w6, xv, 6);
                        MLA_LANE(lo[j], hi[j], w7, xv, 7);
                    }
                }
            }
            if (8u * b + 8u <= nout) {
                UNROLL
                for (j = 0; j < POS; j++)
                    vst1_s8(dst[j] + 8u * b, requant8(lo[j], hi[j], m, bh, nsh, zp));
            } else { /* the last block's channels past O are not the pixel's */
                UNROLL
                for (j = 0; j < POS; j++) {
                    int8_t tmp[8];
                    vst1_s8(tmp, requant8(lo[j], hi[j], m, bh, nsh, zp));
                    for (c = 8u * b; c < nout; c++)
                        dst[j][c] = tmp[c - 8u * b];
                }
            }
        }
    }
}

#define INSTANCE(name, mode, is_i8, k)                                                                         \
    static void name(const be_op *op, const uint8_t *src, int8_t *out, const int16_t *wpk, const rq_consts *q,  \
                     const uint32_t *toff, uint32_t wp)                                                        \
    {                                                                                                          \
        run(op, src, out, wpk, q, toff, wp, (mode), (is_i8), (k));                                             \
    }
INSTANCE(stem9_u8, 1, 0, 9u)
INSTANCE(stem9_i8, 1, 1, 9u)
INSTANCE(pixel_u8, 1, 0, op->k)
INSTANCE(pixel_i8, 1, 1, op->k)
INSTANCE(pointwise_u8, 2, 0, op->k)
INSTANCE(pointwise_i8, 2, 1, op->k)

be_status be_conv2d_i8_px_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const int is_i8 = vi->kind == BE_KIND_I8;
    int16_t wpk[WPK_HALVES];
    uint8_t pad[PAD_BYTES];
    rq_consts q;
    uint32_t toff[TAPS_MAX];
    uint32_t wp = 0u, t;
    const int mode = i8px_mode(op, &wp);
    (void)scratch;
    if (mode == 0)
        return BE_ERR_ARG; /* not reached: supports() checked it */
    prepare_rq(op, &q);
    pack_weights(op, wpk);
    if (mode == 1) { /* the padded copy of the one channel, then slack */
        const uint32_t hp = vi->h + op->pt + op->pb;
        const uint8_t z = (uint8_t)vi->zero_point;
        uint32_t y, x;
        for (y = 0; y < hp; y++) {
            const int32_t iy = (int32_t)y - (int32_t)op->pt;
            uint8_t *d = pad + (size_t)y * wp;
            if (iy < 0 || iy >= (int32_t)vi->h) {
                for (x = 0; x < wp; x++)
                    d[x] = z;
                continue;
            }
            for (x = 0; x < op->pl; x++)
                d[x] = z;
            for (x = 0; x < vi->w; x++)
                d[op->pl + x] = ((const uint8_t *)in)[(size_t)iy * vi->w + x];
            for (x = op->pl + vi->w; x < wp; x++)
                d[x] = z;
        }
        for (x = 0; x < PAD_SLACK; x++)
            pad[(size_t)hp * wp + x] = z;
        for (t = 0; t < op->k; t++)
            toff[t] = t / op->kw * wp + t % op->kw;
        if (op->k == 9u)
            (is_i8 ? stem9_i8 : stem9_u8)(op, pad, (int8_t *)out, wpk, &q, toff, wp);
        else
            (is_i8 ? pixel_i8 : pixel_u8)(op, pad, (int8_t *)out, wpk, &q, toff, wp);
    } else {
        (is_i8 ? pointwise_i8 : pointwise_u8)(op, (const uint8_t *)in, (int8_t *)out, wpk, &q, NULL, wp);
    }
    return BE_OK;
}

#else
typedef int be_conv2d_i8_px_neon_unused; /* ISO C forbids an empty translation unit */
#endif
