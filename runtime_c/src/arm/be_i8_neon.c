/* be_i8_neon.c -- "neon": the int8 layers (int8 weights over u8 / i8 codes) with Advanced SIMD,
 * for aarch64 and 32-bit ARM builds with NEON (Cortex-A).
 *
 * The drivers of be_arm_i8.h with the S8 patch (i8 codes as they are, u8 codes as x - 128, so
 * that every product is int8 x int8):
 *   dot: per 16 elements of a row one weight load, SMULL + SMULL2 (int16 products, |p| <= 2^14)
 *        and two pairwise accumulations (SADALP) into 32-bit lanes; up to 4 rows per patch load.
 *        Over u8 codes the row's weight sum is accumulated alongside (SADDLP + SADALP) and the
 *        core adds 128 * sum_k w_k. The last n % 16 elements: an 8-element step, then scalar.
 *        No two products share an int16 lane, so no weight value (-128 included) can overflow.
 *   RequantStage with every shift >= 32 (BE_I8_PUT_HIGH): four channels in lanes. The high
 *        word of v = m * acc + Bh is high(m * acc + Bh_lo) + Bh_hi (SMLAL onto the zero-extended
 *        low word, SHRN #32, ADD), exact because v fits in 64 bits; then SSHL by -(s - 32),
 *        SQXTN to int16, SQADD of the zero point (saturating there first cannot change the int8
 *        result: |r| <= 32768, |zp| <= 128) and SQXTN to int8.
 *   Conv2d with K = KH * KW * C <= 32 (groups 1: the pixel layer, 1x1 convs over <= 32 channels):
 *        channel lanes (conv_lanes).
 *   Depthwise with channel multiplier 1: 8 channels per tap load, int16 weights prepared per
 *        chunk (dw_core); other multipliers: the generic lane driver's plain-C core.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include "arm/be_arm_neon.h"

#define BE_I8_PUT_HIGH be_i8_put_high_neon
#include "arm/be_arm_i8.h"

int be_i8_neon_supports(const be_op *op)
{
    return be_op_is_int8_layer(op);
}

static inline int32_t hsum_s32(int32x4_t v)
{
#ifdef __aarch64__
    return vaddvq_s32(v);
#else
    const int32x2_t s = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(s, s), 0);
#endif
}

/* ------------------------------------------------------------------------ output stage */

/* Four channels' codes (as int16 lanes, saturated) of a block whose shifts are all >= 32. */
static inline int16x4_t rq_high4(const be_i8_rq *q, int32x4_t acc, int16x4_t zp)
{
    /* be_i8_rq is {int64 bh, int32 m, uint32 s - 32}: 4 words; VLD4 gives each its own vector */
    const int32x4x4_t c = vld4q_s32((const int32_t *)(const void *)q);
    const int64x2_t lo0 = vreinterpretq_s64_u64(vmovl_u32(vget_low_u32(vreinterpretq_u32_s32(c.val[0]))));
    const int64x2_t lo1 = vreinterpretq_s64_u64(vmovl_u32(vget_high_u32(vreinterpretq_u32_s32(c.val[0]))));
    const int64x2_t v0 = vmlal_s32(lo0, vget_low_s32(acc), vget_low_s32(c.val[2]));
    const int64x2_t v1 = vmlal_s32(lo1, vget_high_s32(acc), vget_high_s32(c.val[2]));
    const int32x4_t hi = vaddq_s32(vcombine_s32(vshrn_n_s64(v0, 32), vshrn_n_s64(v1, 32)), c.val[1]);
    const int32x4_t r = vshlq_s32(hi, vnegq_s32(c.val[3]));
    return vqadd_s16(vqmovn_s32(r), zp);
}

static void be_i8_put_high_neon(const be_i8_rq *q, const int32_t *acc, uint32_t n, int32_t zp, int8_t *dst)
{
    const int16x4_t z = vdup_n_s16((int16_t)zp);
    int8_t tmp[8];
    uint32_t i, j;
    for (i = 0; i + 8u <= n; i += 8u) {
        const int16x4_t a = rq_high4(q + i, vld1q_s32(acc + i), z);
        const int16x4_t b = rq_high4(q + i + 4u, vld1q_s32(acc + i + 4u), z);
        vst1_s8(dst + i, vqmovn_s16(vcombine_s16(a, b)));
    }
    if (i < n) { /* q and acc hold BE_I8_BLOCK entries: whole vectors may be read */
        const int16x4_t a = rq_high4(q + i, vld1q_s32(acc + i), z);
        const int16x4_t b = rq_high4(q + i + 4u, vld1q_s32(acc + i + 4u), z);
        vst1_s8(tmp, vqmovn_s16(vcombine_s16(a, b)));
        for (j = 0; i < n; i++, j++)
            dst[i] = tmp[j];
    }
}

/* ---------------------------------------------------------------------------- patches */

/* The be_i8_copy_fn / be_i8_fill_fn of the S8 layout. */
static void copy_s8(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    uint8_t *d = (uint8_t *)patch + e;
    const uint8_t flip = is_i8 ? 0u : 0x80u;
    const uint8x16_t f = vdupq_n_u8(flip);
    for (; n >= 16u; n -= 16u, d += 16, src += 16)
        vst1q_u8(d, veorq_u8(vld1q_u8(src), f));
    for (; n > 0u; n--)
        *d++ = (uint8_t)(*src++ ^ flip);
}

static void fill_s8(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    uint8_t *d = (uint8_t *)patch + e;
    const uint8x16_t v = vdupq_n_u8((uint8_t)code);
    for (; n >= 16u; n -= 16u, d += 16)
        vst1q_u8(d, v);
    for (; n > 0u; n--)
        *d++ = (uint8_t)code;
}

/* ------------------------------------------------------------------------------- dot */

/* Row accumulation of 16 elements: a += products of w and x in pairs; s += pairs of w (WSUM). */
#define ROW16(a, s, wp, WSUM)                                                                            \
    do {                                                                                                 \
        const int8x16_t w_ = vld1q_s8(wp);                                                               \
        a = vpadalq_s16(a, vmull_s8(vget_low_s8(w_), vget_low_s8(xv)));                                   \
        a = vpadalq_s16(a, vmull_s8(vget_high_s8(w_), vget_high_s8(xv)));                                 \
        if (WSUM)                                                                                        \
            s = vpadalq_s16(s, vpaddlq_s8(w_));                                                          \
    } while (0)

#define ROW8(a, s, wp, WSUM)                                                                             \
    do {                                                                                                 \
        const int8x8_t w_ = vld1_s8(wp);                                                                  \
        a = vpadalq_s16(a, vmull_s8(w_, xh));                                                             \
        if (WSUM)                                                                                        \
            s = vpadalq_s16(s, vmovl_s8(w_));                                                            \
    } while (0)

/* acc[r] += sum_j w[r * rb + j] * (x_j + xbias) for r < 4 (x: the S8 patch). */
#define DOT4(NAME, WSUM)                                                                                 \
    static void NAME(const int8_t *w, uint32_t rb, const int8_t *x, uint32_t n, int32_t xbias, int32_t *acc) \
    {                                                                                                    \
        const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;                                \
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, s0 = a0, s1 = a0, s2 = a0, s3 = a0;    \
        int32_t t0, t1, t2, t3, u0, u1, u2, u3;                                                          \
        uint32_t j = 0u;                                                                                 \
        for (; j + 16u <= n; j += 16u) {                                                                 \
            const int8x16_t xv = vld1q_s8(x + j);                                                        \
            ROW16(a0, s0, w0 + j, WSUM);                                                                 \
            ROW16(a1, s1, w1 + j, WSUM);                                                                 \
            ROW16(a2, s2, w2 + j, WSUM);                                                                 \
            ROW16(a3, s3, w3 + j, WSUM);                                                                 \
        }                                                                                                \
        if (j + 8u <= n) {                                                                               \
            const int8x8_t xh = vld1_s8(x + j);                                                          \
            ROW8(a0, s0, w0 + j, WSUM);                                                                  \
            ROW8(a1, s1, w1 + j, WSUM);                                                                  \
            ROW8(a2, s2, w2 + j, WSUM);                                                                  \
            ROW8(a3, s3, w3 + j, WSUM);                                                                  \
            j += 8u;                                                                                     \
        }                                                                                                \
        t0 = hsum_s32(a0);                                                                               \
        t1 = hsum_s32(a1);                                                                               \
        t2 = hsum_s32(a2);                                                                               \
        t3 = hsum_s32(a3);                                                                               \
        u0 = WSUM ? hsum_s32(s0) : 0;                                                                    \
        u1 = WSUM ? hsum_s32(s1) : 0;                                                                    \
        u2 = WSUM ? hsum_s32(s2) : 0;                                                                    \
        u3 = WSUM ? hsum_s32(s3) : 0;                                                                    \
        for (; j < n; j++) {                                                                             \
            const int32_t xj = x[j];                                                                     \
            t0 += w0[j] * xj;                                                                            \
            t1 += w1[j] * xj;                                                                            \
            t2 += w2[j] * xj;                                                                            \
            t3 += w3[j] * xj;                                                                            \
            if (WSUM) {                                                                                  \
                u0 += w0[j];                                                                             \
                u1 += w1[j];                                                                             \
                u2 += w2[j];                                                                             \
                u3 += w3[j];                                                                             \
            }                                                                                            \
        }                                                                                                \
        acc[0] += t0 + xbias * u0;                                                                       \
        acc[1] += t1 + xbias * u1;                                                                       \
        acc[2] += t2 + xbias * u2;                                                                       \
        acc[3] += t3 + xbias * u3;                                                                       \
    }
DOT4(dot4_i8, 0)
DOT4(dot4_u8, 1)

/* One row: sum_j w_j * (x_j + xbias). */
static int32_t dot1(const int8_t *w, const int8_t *x, uint32_t n, int32_t xbias)
{
    int32x4_t a = vdupq_n_s32(0), s = a;
    int32_t t, u;
    uint32_t j = 0u;
    for (; j + 16u <= n; j += 16u) {
        const int8x16_t xv = vld1q_s8(x + j);
        ROW16(a, s, w + j, 1);
    }
    t = hsum_s32(a);
    u = hsum_s32(s);
    for (; j < n; j++) {
        t += w[j] * x[j];
        u += w[j];
    }
    return t + xbias * u;
}

/* The be_i8_dot_fn: rows in fours, then one at a time. */
static void dot_s8(const int8_t *w, uint32_t rb, const void *xp, uint32_t n, uint32_t rows, int32_t xbias,
                   int32_t *acc)
{
    const int8_t *x = (const int8_t *)xp;
    for (; rows >= 4u; rows -= 4u, w += 4u * rb, acc += 4) {
        if (xbias != 0)
            dot4_u8(w, rb, x, n, xbias, acc);
        else
            dot4_i8(w, rb, x, n, 0, acc);
    }
    for (; rows > 0u; rows--, w += rb, acc++)
        *acc += dot1(w, x, n, xbias);
}

/* ------------------------------------------------- Conv2d with few taps: channel lanes */

/* Conv2d (groups 1) with K = KH * KW * C <= BE_I8_LANES_K (the pixel layer, 3x3 over one
 * channel, K = 9; the 1x1 convs of a ResNet over 16 or 32 channels): a dot over K elements would
 * pay its per-row reductions and call for few products, so the output channels go in the lanes
 * instead. Per 32-channel chunk the weights are transposed once into int16 (wt[j * 32 + o] =
 * w(o0 + o, j), zero beyond K and beyond the chunk's channels: at most 2 KiB of stack); per
 * output pixel the K codes are widened into x (8 at a time) and every 8 of them are multiplied
 * into 8 channels' accumulators by lane (SMLAL / SMLAL2 by element: 3 instructions per 8 MACs
 * with the weight load), the last K % 8 one by one. The products are exact in 32 bits (|code| <= 255,
 * |w| <= 128). */
#define BE_I8_LANES_K 32u

#ifdef __aarch64__
#define LANE_MLA(L)                                                                                      \
    do {                                                                                                 \
        const int16x8_t w_ = vld1q_s16(wr + (L) * BE_I8_BLOCK);                                          \
        lo = vmlal_laneq_s16(lo, vget_low_s16(w_), xv, L);                                               \
        hi = vmlal_high_laneq_s16(hi, w_, xv, L);                                                        \
    } while (0)
#define LANE_MLA8                                                                                        \
    LANE_MLA(0); LANE_MLA(1); LANE_MLA(2); LANE_MLA(3); LANE_MLA(4); LANE_MLA(5); LANE_MLA(6); LANE_MLA(7)
#else
#define LANE_MLA(H, L, XH)                                                                               \
    do {                                                                                                 \
        const int16x8_t w_ = vld1q_s16(wr + (H + L) * BE_I8_BLOCK);                                      \
        lo = vmlal_lane_s16(lo, vget_low_s16(w_), XH, L);                                                \
        hi = vmlal_lane_s16(hi, vget_high_s16(w_), XH, L);                                               \
    } while (0)
#define LANE_MLA8                                                                                        \
    do {                                                                                                 \
        const int16x4_t xl = vget_low_s16(xv), xh = vget_high_s16(xv);                                   \
        LANE_MLA(0, 0, xl); LANE_MLA(0, 1, xl); LANE_MLA(0, 2, xl); LANE_MLA(0, 3, xl);                  \
        LANE_MLA(4, 0, xh); LANE_MLA(4, 1, xh); LANE_MLA(4, 2, xh); LANE_MLA(4, 3, xh);                  \
    } while (0)
#endif

/* The weights of channels [o0, o0 + nb) as int16 lanes: wt[j * BE_I8_BLOCK + o] = w[o0 + o][j] for
 * j < k8 and o < n8 (the rows rounded up to 8 channels; zero past K and past the block). */
static inline void lane_weights(const be_op *op, uint32_t o0, uint32_t nb, uint32_t k8, int16_t *wt)
{
    const int8_t *wts = (const int8_t *)op->weights;
    const uint32_t k = op->k, n8 = (nb + 7u) & ~7u;
    uint32_t j, o;
    for (j = 0; j < k; j++) {
        for (o = 0; o < nb; o++)
            wt[j * BE_I8_BLOCK + o] = (int16_t)wts[(size_t)(o0 + o) * k + j];
        for (; o < n8; o++)
            wt[j * BE_I8_BLOCK + o] = 0;
    }
    for (; j < k8; j++)
        for (o = 0; o < n8; o++)
            wt[j * BE_I8_BLOCK + o] = 0;
}

static be_status conv_lanes(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->k, k8 = (k + 7u) & ~7u, kf = k & ~7u;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    int16_t wt[BE_I8_LANES_K * BE_I8_BLOCK];
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    int16_t x[BE_I8_LANES_K];
    const uint8_t *patch = (const uint8_t *)scratch;
    uint32_t o0, oy, ox, o, j;
    be_status st = BE_OK;
#if BE_I8_PAD_BYTES >= 16
    /* windows of at most 8 codes per row (the pixel layer: 3 x 1) from the input copied with its
     * padding made explicit: per window row one 8-byte load, widened and stored at the row's
     * place in x (each row's store overwrites the previous one's overhang; x past K meets zero
     * weights, and the last K % 8 codes are read one by one), in place of an im2col per pixel.
     * The copy's cap leaves 8 bytes of slack for the last row's load. */
    uint8_t pad[BE_I8_PAD_BYTES];
    be_arm_padded g = {0u, 0u, 0u, 0u};
    const uint32_t run = op->kw * op->in.c;
    const int padded = op->groups <= 1u && run <= 8u && op->kh * run + 8u <= BE_I8_LANES_K &&
                       be_arm_padded_geometry(op, op->in.c, BE_I8_PAD_BYTES - 12u, &g);
    if (padded)
        be_i8_pad_input(op, (const uint8_t *)in, &g, pad);
#endif
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const uint32_t n8 = (nb + 7u) & ~7u;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        lane_weights(op, o0, nb, k8, wt);
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
#if BE_I8_PAD_BYTES >= 16
                if (padded) {
                    const uint8_t *r = pad + ((size_t)oy * op->sh * g.wp + (size_t)ox * op->sw) * op->in.c;
                    for (j = 0; j < op->kh; j++, r += g.wp * op->in.c)
                        vst1q_s16(x + j * run, be_neon_codes8(r, is_i8));
                } else
#endif
                {
                    be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, scratch, BE_I8_RAW, be_i8_copy_raw,
                                 be_i8_fill_raw);
                    /* widened 8 at a time; the bytes beyond K (the scratch holds align16(2K) >= K8
                     * of them) meet zero weights */
                    for (j = 0; j < k8; j += 8u)
                        vst1q_s16(x + j, be_neon_codes8(patch + j, is_i8));
                }
                for (o = 0; o < n8; o += 8u) {
                    int32x4_t lo = vdupq_n_s32(0), hi = lo;
                    const int16_t *wr = wt + o;
                    for (j = 0; j < kf; j += 8u, wr += 8u * BE_I8_BLOCK) {
                        const int16x8_t xv = vld1q_s16(x + j);
                        LANE_MLA8;
                    }
                    for (; j < k; j++, wr += BE_I8_BLOCK) { /* the last K % 8 codes */
                        const int16x8_t w = vld1q_s16(wr);
                        lo = vmlal_n_s16(lo, vget_low_s16(w), x[j]);
                        hi = vmlal_n_s16(hi, vget_high_s16(w), x[j]);
                    }
                    vst1q_s32(acc + o, lo);
                    vst1q_s32(acc + o + 4u, hi);
                }
                s = be_i8_put(op, rq, high, px_out, o0, nb, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

/* 1x1 convolutions over C = K channels (C a multiple of 8, at most PX_K: the ResNets' 1x1
 * downsampling convs over 16 and 40 channels), no padding, a RequantStage whose shifts are all
 * >= 32: the channel lanes of conv_lanes without its per-pixel im2col (the pixel's C codes are
 * contiguous: C / 8 loads widened straight into registers, never past the pixel) and without
 * the accumulator array (each 8 channels' two lane vectors requantized from the registers, one
 * 8-byte store). */
#define PX_K 48u

static int conv_1x1(const be_op *op, const void *in, void *out)
{
    const be_value *vo = &op->out, *vi = &op->in;
    const uint32_t k = op->k, nv = k / 8u;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const int16x4_t z = vdup_n_s16((int16_t)op->zero_point);
    int16_t wt[PX_K * BE_I8_BLOCK];
    be_i8_rq rq[BE_I8_BLOCK];
    int16x8_t x[PX_K / 8u];
    int8_t tmp[8];
    uint32_t o0, oy, ox, o, j, v;
    if (op->kh != 1u || op->kw != 1u || op->groups > 1u || k != vi->c || k % 8u != 0u || k > PX_K ||
        op->pt != 0u || op->pb != 0u || op->pl != 0u || op->pr != 0u || !be_i8_requant_all_high(op))
        return 1;
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        (void)be_i8_rq_prepare(op, o0, nb, rq);
        lane_weights(op, o0, nb, k, wt); /* k % 8 == 0 */
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
                const uint8_t *px = (const uint8_t *)in + ((size_t)oy * op->sh * vi->w + (size_t)ox * op->sw) * k;
                int8_t *dst = (int8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes + o0;
                for (v = 0; v < nv; v++)
                    x[v] = be_neon_codes8(px + 8u * v, is_i8);
                for (o = 0; o < nb; o += 8u) {
                    int32x4_t lo = vdupq_n_s32(0), hi = lo;
                    const int16_t *wr = wt + o;
                    int8x8_t r;
                    for (v = 0; v < nv; v++, wr += 8u * BE_I8_BLOCK) {
                        const int16x8_t xv = x[v];
                        LANE_MLA8;
                    }
                    r = vqmovn_s16(vcombine_s16(rq_high4(rq + o, lo, z), rq_high4(rq + o + 4u, hi, z)));
                    if (nb - o >= 8u)
                        vst1_s8(dst + o, r);
                    else {
                        vst1_s8(tmp, r);
                        for (j = 0; j < nb - o; j++)
                            dst[o + j] = tmp[j];
                    }
                }
            }
    }
    return 0;
}

/* -------------------------------------------------------------------------- depthwise */

/* Channel multiplier 1: the chunk's weights as int16, 8 channels per tap in a row
 * (wt[(j / 8) * nt * 8 + t * 8 + j % 8] = w(o0 + j, t), zero beyond the chunk: 4 KiB). */
static void dw_weights(const be_op *op, uint32_t o0, uint32_t n, void *wt)
{
    const uint32_t nt = op->kh * op->kw;
    const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * nt;
    int16_t *d = (int16_t *)wt;
    uint32_t j8, t, l;
    for (j8 = 0; j8 < (n + 7u) / 8u; j8++)
        for (t = 0; t < nt; t++, d += 8)
            for (l = 0; l < 8u; l++)
                d[l] = (int16_t)(8u * j8 + l < n ? w[(size_t)(8u * j8 + l) * nt + t] : 0);
}

/* The lane core (be_i8_dw_fn): 8 channels per tap load while 8 remain in the chunk (two
 * accumulators, SMLAL / SMLAL2 against the tap's 8 weights), the last n % 8 channels in C. A
 * chunk reads input channels c0 .. c0 + n - 1 only (never past the pixel), padding taps read
 * zbuf (BE_I8_BLOCK + 4 zero-point bytes). */
static void dw_core(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0, uint32_t n,
                    const void *wt, int32_t *acc)
{
    const int is_i8 = op->in.kind == BE_KIND_I8;
    const int16_t *w = (const int16_t *)wt;
    uint32_t j, t;
    for (j = 0; j + 8u <= n; j += 8u, w += 8u * nt) {
        int32x4_t lo = vdupq_n_s32(0), hi = lo;
        for (t = 0; t < nt; t++) {
            const int16x8_t x = be_neon_codes8(taps[t] + j, is_i8), wv = vld1q_s16(w + 8u * t);
            lo = vmlal_s16(lo, vget_low_s16(x), vget_low_s16(wv));
            hi = vmlal_s16(hi, vget_high_s16(x), vget_high_s16(wv));
        }
        vst1q_s32(acc + j, lo);
        vst1q_s32(acc + j + 4u, hi);
    }
    for (; j < n; j++) {
        int32_t a = 0;
        for (t = 0; t < nt; t++)
            a += w[8u * t + j % 8u] * be_i8_code(taps[t], j, is_i8);
        acc[j] = a;
    }
    (void)o0;
}

#define DW_WT (BE_I8_BLOCK * BE_I8_DW_TAPS) /* int16: 4 KiB */

__attribute__((noinline)) static be_status dw_lanes(const be_op *op, const void *in, void *out)
{
    int16_t wt[DW_WT];
    return be_i8_dw(op, in, out, dw_core, dw_weights, wt);
}

be_status be_conv2d_i8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS)
        return op->out_ch == op->in_ch ? dw_lanes(op, in, out) : be_i8_dw(op, in, out, NULL, NULL, NULL);
    if (conv_1x1(op, in, out) == 0)
        return BE_OK;
    if (op->groups <= 1u && op->k <= BE_I8_LANES_K)
        return conv_lanes(op, in, out, scratch);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_S8, copy_s8, fill_s8, dot_s8);
}

be_status be_dense_i8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_i8_dense(op, in, out, BE_I8_S8, copy_s8, dot_s8);
}

#else
typedef int be_i8_neon_unused; /* ISO C forbids an empty translation unit */
#endif
