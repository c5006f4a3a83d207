/* be_u8_neon.c -- "neon": the first layer's Conv2d (uint8 pixels, binary weights) on NEON
 * (aarch64, or 32-bit ARM with NEON), with 8 output positions in int16 lanes.
 *
 * acc_o = sum_k x_k * w_o,k (weight bit 1 = -1, a padding pixel holds the zero point), exactly the
 * reference. The plain-C "mla" ran these layers on the NEON targets at about 2.5 instructions per
 * MAC (a quarter of the small VGGs' inference on aarch64-virt). Here, as in the x86 position-lane
 * kernels (be_planes_px.h), the input goes once per call into zero-point-padded byte planes, one
 * per input channel, with row pitch WP = W + PL + PR, so that tap (ky, kx, c) of the consecutive
 * positions q = y * WP + x .. q + 7 is one 8-byte load at q + c * plane + ky * WP + kx (positions
 * x >= OW are computed and dropped). Per vector of 8 positions the K widened tap vectors are made
 * once; per block of 8 output channels the weights of tap k are one int16 vector (+1 / -1, the
 * direction folded in), and each channel's accumulator takes one multiply-accumulate by lane per
 * tap. |acc| <= 255 * K <= 32640 for K <= 128: exact in int16. The threshold stage runs on the 8
 * positions: a sign stage is one compare per channel (thresholds clamped to int16, which keeps
 * every result), unsigned levels count their compares; each channel's bit is ORed into 16-bit
 * lanes (channels 0 .. 15 and 16 .. 31), widened to the output words at the store.
 *
 * Takes: Conv2d, groups 1, stride 1, K = KH * KW * C <= 128, at most 32 output channels, a sign
 * threshold stage or (aarch64 only) at most 15 unsigned levels on at most 8 output planes, padded
 * planes within IMG_BYTES.
 * Stack: the planes (IMG_BYTES), the weight vectors (K * 4 blocks * 16 B <= 8 KiB) and the tap
 * vectors (<= 2 KiB); no scratch.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>
#include <string.h>

#include "arm/be_arm_u8.h"

#define LANES 8u
#define K_MAX 128u
#define IMG_BYTES 8192u
#define SLACK 16u /* bytes after the planes: a vector load past the last position */

/* Fully unroll the next loop (constant trip counts in the instances: the tap vectors then stay in
 * registers) */
#if defined(__GNUC__)
#define U8N_UNROLL _Pragma("GCC unroll 16")
#else
#define U8N_UNROLL
#endif

int be_conv2d_u8_neon_supports(const be_op *op)
{
    const uint32_t wp = op->in.w + op->pl + op->pr, hp = op->in.h + op->pt + op->pb;
#if defined(__aarch64__)
    const int levels = be_stage_is_levels(op) && op->levels <= 15u && op->out.planes >= 1u && op->out.planes <= 8u;
#else /* 16 NEON registers: the 8 accumulators and the taps spill, and "mla"'s packed level tests win */
    const int levels = 0;
#endif
    return be_arm_u8_supports(op) && op->type == BE_OP_CONV2D && op->groups <= 1u && op->sh == 1u && op->sw == 1u &&
           (be_stage_is_sign(op) || levels) && op->out.kind == BE_KIND_BITS && op->out_ch >= 1u && op->out_ch <= 32u &&
           op->in.c >= 1u && op->kh >= 1u && op->kw >= 1u && (uint64_t)op->kh * op->kw * op->in.c <= K_MAX &&
           op->out.h == hp - op->kh + 1u && op->out.w == wp - op->kw + 1u && op->kh <= hp && op->kw <= wp &&
           (uint64_t)wp * hp * op->in.c + SLACK <= IMG_BYTES;
}

/* Unsigned levels: acc = direction * sum_k x_k * w_k against the channel's clamped thresholds t
 * (level = #{k : acc >= t[k]}), bit j of the 8 positions into dst[0 .. planes). */
static inline __attribute__((always_inline)) void levels8(int16x8_t acc, const int16_t *t, uint32_t j,
                                                          uint16x8_t *dst, const uint32_t levels,
                                                          const uint32_t planes)
{
    const uint16x8_t bit = vdupq_n_u16((uint16_t)(1u << j));
    int16x8_t level = vdupq_n_s16(0);
    uint32_t k, qp;
    U8N_UNROLL
    for (k = 0; k < levels; k++) /* a true compare is -1 */
        level = vsubq_s16(level, vreinterpretq_s16_u16(vcgeq_s16(acc, vdupq_n_s16(t[k]))));
    U8N_UNROLL
    for (qp = 0; qp < planes; qp++)
        dst[qp] = vorrq_u16(dst[qp], vandq_u16(vtstq_s16(level, vdupq_n_s16((int16_t)(1u << qp))), bit));
}

/* One call's work for K taps and the stage (levels 0: sign; constants in the instances, below). */
static inline __attribute__((always_inline)) void run(const be_op *op, const uint8_t *img, const uint32_t *tofs,
                                                      const int16_t *wv, const int16_t *thr16, be_word *out,
                                                      const uint32_t kk, const uint32_t levels,
                                                      const uint32_t planes)
{
    const uint32_t wp = op->in.w + op->pl + op->pr, ow = op->out.w, oh = op->out.h;
    const uint32_t npos = (oh - 1u) * wp + ow, nout = op->out_ch, nblk = (nout + 7u) / 8u;
    const uint32_t pxw = op->out.pixel_bytes / 4u;
    int16x8_t xv[K_MAX];
    uint32_t q0, k, b, j, qp, i, y0 = 0u, x0 = 0u;
    for (q0 = 0; q0 < npos; q0 += LANES) {
        uint16x8_t lo[8], hi[8];
        for (qp = 0; qp < planes; qp++) {
            lo[qp] = vdupq_n_u16(0);
            hi[qp] = vdupq_n_u16(0);
        }
        U8N_UNROLL
        for (k = 0; k < kk; k++)
            xv[k] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(img + tofs[k] + q0)));
        for (b = 0; b < nblk; b++) {
            const int16_t *wb = wv + (size_t)b * kk * 8u;
            int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            U8N_UNROLL
            for (k = 0; k < kk; k++) { /* the weights of tap k for channels 8 b .. 8 b + 7 */
                const int16x8_t w = vld1q_s16(wb + k * 8u);
                const int16x4_t wl = vget_low_s16(w), wh = vget_high_s16(w);
                a0 = vmlaq_lane_s16(a0, xv[k], wl, 0);
                a1 = vmlaq_lane_s16(a1, xv[k], wl, 1);
                a2 = vmlaq_lane_s16(a2, xv[k], wl, 2);
                a3 = vmlaq_lane_s16(a3, xv[k], wl, 3);
                a4 = vmlaq_lane_s16(a4, xv[k], wh, 0);
                a5 = vmlaq_lane_s16(a5, xv[k], wh, 1);
                a6 = vmlaq_lane_s16(a6, xv[k], wh, 2);
                a7 = vmlaq_lane_s16(a7, xv[k], wh, 3);
            }
            if (levels == 0u) { /* sign: the block's 8 thresholds in one vector (zero past O), its bits
                                 * 0 .. 7, then shifted into lo / hi */
                const int16x8_t tv = vld1q_s16(thr16 + b * 8u);
                uint16x8_t *dst = b < 2u ? lo : hi;
                uint16x8_t blk = vandq_u16(vcltq_s16(a0, vdupq_lane_s16(vget_low_s16(tv), 0)), vdupq_n_u16(1u));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a1, vdupq_lane_s16(vget_low_s16(tv), 1)), vdupq_n_u16(2u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a2, vdupq_lane_s16(vget_low_s16(tv), 2)), vdupq_n_u16(4u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a3, vdupq_lane_s16(vget_low_s16(tv), 3)), vdupq_n_u16(8u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a4, vdupq_lane_s16(vget_high_s16(tv), 0)), vdupq_n_u16(16u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a5, vdupq_lane_s16(vget_high_s16(tv), 1)), vdupq_n_u16(32u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a6, vdupq_lane_s16(vget_high_s16(tv), 2)), vdupq_n_u16(64u)));
                    blk = vorrq_u16(blk, vandq_u16(vcltq_s16(a7, vdupq_lane_s16(vget_high_s16(tv), 3)), vdupq_n_u16(128u)));
                { /* channels past O: no bits */
                    const uint16x8_t v = vandq_u16(blk, vdupq_n_u16((uint16_t)(nout - b * 8u >= 8u ? 0xFFu : (1u << (nout - b * 8u)) - 1u)));
                    dst[0] = vorrq_u16(dst[0], b % 2u ? vshlq_n_u16(v, 8) : v);
                }
            } else { /* unsigned levels, channel by channel */
                const int16x8_t acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
                uint16x8_t *dst = b < 2u ? lo : hi;
                const uint32_t sh = (b % 2u) * 8u;
                for (j = 0; j < 8u && b * 8u + j < nout; j++)
                    levels8(acc[j], thr16 + (b * 8u + j) * levels, sh + j, dst, levels, planes);
            }
        }
        if (pxw == 1u && x0 + LANES <= ow) { /* 8 pixels of one row, one word each */
            be_word *d = out + (size_t)y0 * ow + x0;
            vst1q_u32(d, vorrq_u32(vmovl_u16(vget_low_u16(lo[0])), vshll_n_u16(vget_low_u16(hi[0]), 16)));
            vst1q_u32(d + 4, vorrq_u32(vmovl_u16(vget_high_u16(lo[0])), vshll_n_u16(vget_high_u16(hi[0]), 16)));
            x0 += LANES;
            if (x0 >= wp) {
                x0 -= wp;
                y0++;
            }
        } else { /* the valid positions' output words (plane qp of a pixel at word qp) */
            uint32_t words[8][LANES];
            uint32_t y = y0, x = x0;
            for (qp = 0; qp < planes; qp++) {
                const uint32x4_t l0 = vmovl_u16(vget_low_u16(lo[qp])), l1 = vmovl_u16(vget_high_u16(lo[qp]));
                const uint32x4_t h0 = vshll_n_u16(vget_low_u16(hi[qp]), 16), h1 = vshll_n_u16(vget_high_u16(hi[qp]), 16);
                vst1q_u32(words[qp], vorrq_u32(l0, h0));
                vst1q_u32(words[qp] + 4, vorrq_u32(l1, h1));
            }
            for (i = 0; i < LANES && q0 + i < npos; i++) {
                if (x < ow) {
                    be_word *d = out + ((size_t)y * ow + x) * pxw;
                    for (qp = 0; qp < planes; qp++)
                        d[qp] = words[qp][i];
                }
                if (++x == wp) {
                    x = 0u;
                    y++;
                }
            }
            y0 = y;
            x0 = x;
        }
    }
}

/* The 3x3 kernel on one channel (the small VGGs' first layers) into a sign stage or 3 levels on 2
 * planes (qrelu2); anything else with K and the stage read at run time. */
static void run_k9_sign(const be_op *op, const uint8_t *img, const uint32_t *tofs, const int16_t *wv,
                        const int16_t *thr16, be_word *out)
{
    run(op, img, tofs, wv, thr16, out, 9u, 0u, 1u);
}

static void run_k9_l3(const be_op *op, const uint8_t *img, const uint32_t *tofs, const int16_t *wv,
                      const int16_t *thr16, be_word *out)
{
    run(op, img, tofs, wv, thr16, out, 9u, 3u, 2u);
}

static void run_any(const be_op *op, const uint8_t *img, const uint32_t *tofs, const int16_t *wv, const int16_t *thr16,
                    be_word *out)
{
    run(op, img, tofs, wv, thr16, out, op->kh * op->kw * op->in.c, be_stage_is_sign(op) ? 0u : op->levels,
        op->out.planes);
}

be_status be_conv2d_u8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t c = op->in.c, wp = op->in.w + op->pl + op->pr, hp = op->in.h + op->pt + op->pb;
    const uint32_t kk = op->kh * op->kw * c, nout = op->out_ch, nblk = (nout + 7u) / 8u;
    const uint32_t plane = wp * hp, row_words = be_words_for(c);
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const uint32_t nthr = be_stage_is_sign(op) ? 1u : op->levels;
    uint8_t img[IMG_BYTES];
    int16_t wv[K_MAX * 32u], thr16[32u * 15u];
    uint32_t tofs[K_MAX];
    uint32_t y, x, ch, ky, kx, o, k;
    (void)scratch;
    if (!be_conv2d_u8_neon_supports(op))
        return BE_ERR_ARG; /* not reached: dispatch checked it */
    /* planes padded with the zero point (the code of real 0, as the reference pads) */
    memset(img, (int)(uint8_t)op->in.zero_point, (size_t)plane * c + SLACK);
    for (y = 0; y < op->in.h; y++) {
        const uint8_t *src = (const uint8_t *)in + (size_t)y * op->in.w * c;
        uint8_t *dst = img + (y + op->pt) * wp + op->pl;
        if (c == 1u) { /* one channel: the row as it is */
            for (x = 0; x + 16u <= op->in.w; x += 16u)
                vst1q_u8(dst + x, vld1q_u8(src + x));
            for (; x < op->in.w; x++)
                dst[x] = src[x];
        } else {
            for (x = 0; x < op->in.w; x++)
                for (ch = 0; ch < c; ch++)
                    dst[(size_t)ch * plane + x] = src[x * c + ch];
        }
    }
    /* tap k = (ky, kx, ch) in the weights' order */
    for (ky = 0, k = 0; ky < op->kh; ky++)
        for (kx = 0; kx < op->kw; kx++)
            for (ch = 0; ch < c; ch++, k++)
                tofs[k] = ch * plane + ky * wp + kx;
    /* wv[(b * K + k) * 8 + j]: +1 / -1 of channel 8 b + j at tap k times its direction (0 past O) */
    memset(wv, 0, (size_t)nblk * kk * 8u * sizeof wv[0]);
    memset(thr16, 0, sizeof thr16); /* channels past O read zero thresholds; their bits are dropped */
    for (o = 0; o < nout; o++) {
        const be_word *wrow = (const be_word *)op->weights + (size_t)o * op->kh * op->kw * row_words;
        for (ky = 0, k = 0; ky < op->kh; ky++)
            for (kx = 0; kx < op->kw; kx++)
                for (ch = 0; ch < c; ch++, k++) {
                    const be_word wword = wrow[(ky * op->kw + kx) * row_words + ch / 32u];
                    const int16_t s = (int16_t)(((wword >> (ch % 32u)) & 1u) ? -1 : 1);
                    wv[((size_t)(o / 8u) * kk + k) * 8u + o % 8u] = (int16_t)(dir[o] < 0 ? -s : s);
                }
        for (k = 0; k < nthr; k++) {
            const int32_t t = thr[(size_t)o * nthr + k];
            thr16[o * nthr + k] = (int16_t)(t > 32767 ? 32767 : t < -32768 ? -32768 : t);
        }
    }
    if (kk == 9u && be_stage_is_sign(op))
        run_k9_sign(op, img, tofs, wv, thr16, (be_word *)out);
    else if (kk == 9u && nthr == 3u && op->out.planes == 2u)
        run_k9_l3(op, img, tofs, wv, thr16, (be_word *)out);
    else
        run_any(op, img, tofs, wv, thr16, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_u8_neon_unused; /* ISO C forbids an empty translation unit */
#endif
