/* be_u8_mve.c -- "mve": the first layer (uint8 pixels x binary weights) with Helium (MVE,
 * Cortex-M55).
 *
 * Dense: s_o = sum of the pixels whose weight bit is 1 (acc_o = total - 2 s_o). MVE's predicate
 * register P0 has one bit per byte lane, and a packed weight row is exactly such a mask: 16
 * weight bits (one halfword) select 16 pixels. Per row and 16 pixels: LDRH the mask, VMSR P0,
 * and a predicated VADDVA.U8 (add the selected bytes to a scalar); four rows share each
 * VLDRB of 16 pixels. The last partial vector of pixels is copied into a zero-padded buffer
 * (nothing is read beyond the input; the weight padding bits are 0 anyway).
 *
 * Conv2d (K = KH * KW * C <= 128): vectors over output channels, 8 int16 lanes: the weights
 * become +-1 int16 vectors once per call (one per tap and 8 channels, on the stack), then per
 * output pixel and tap one VMLA (vector += vector * scalar pixel) per 8 channels; exact in int16
 * since |acc| <= 255 * K <= 32640. Interior pixels are read straight from the input, kernel row
 * by kernel row; border pixels go through im2col (the scratch). Sign threshold stage: the
 * direction is folded into the weights, the test acc' < t is one VCMP against the clamped
 * thresholds (|acc'| <= 32640, so clamping t to int16 changes no result), and the 8 bits come
 * out of one predicated VADDV of the lane weights 1, 2, ..., 128; one output byte per 8
 * channels. Other stages: the lanes to be_stage_put.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>
#include <string.h>

#include "arm/be_arm_u8.h"

#define KMAX 128u
#define WV_VECTORS 256u /* int16x8 weight vectors on the stack (4 KiB): groups * K <= 256 */
#define GROUPS_MAX 32u  /* groups of 8 channels per pass */

int be_u8_mve_supports(const be_op *op)
{
    const uint32_t k = op->kh * op->kw * op->in_ch;
    if (!be_arm_u8_supports(op))
        return 0;
    if (op->type == BE_OP_DENSE)
        return 1;
    /* unsigned levels (L = 1 / 3) with K <= 64: "mla"'s packed tests per threshold are faster
     * (u8conv1q2 on cortex-m55: mla 5.46 vs mve 12.9 per MAC, docs/kernels.md) */
    if (op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && k <= 64u &&
        ((op->levels == 1u && op->out.planes == 1u) || (op->levels == 3u && op->out.planes == 2u)))
        return 0;
    /* the sign stage on at most 16 output channels, K <= 64: "mla"'s row loop is faster (the
     * small VGGs' 28x28x1 -> 8 on cortex-m55: mla 1.467 vs mve 3.947; -> 16: 1.447 vs 2.357;
     * -> 32: mve 0.706 vs 1.323, docs/kernels.md) */
    if (op->out_ch <= 16u && k <= 64u && op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN &&
        op->levels == 1u)
        return 0;
    return k <= KMAX;
}

/* ---------------------------------------------------------------------------------- Dense */

/* s[i] = selected-pixel sums of rows i < n (n <= 4, the other rows repeat row 0): nf full
 * vectors of 16 pixels at px, then the zero-padded last one if last != NULL. */
static void rows_dense(const uint8_t *px, uint32_t nf, const uint8_t *last, const be_word *w, uint32_t rw,
                       uint32_t n, uint32_t *s)
{
    const uint16_t *h0 = (const uint16_t *)(const void *)w;
    const uint16_t *h1 = n > 1u ? h0 + 2u * rw : h0, *h2 = n > 2u ? h0 + 4u * rw : h0, *h3 = n > 3u ? h0 + 6u * rw : h0;
    const uint8_t *end = px + 16u * nf;
    uint32_t s0 = 0u, s1 = 0u, s2 = 0u, s3 = 0u;
    for (; px != end; px += 16) {
        const uint8x16_t x = vld1q_u8(px);
        s0 = vaddvaq_p_u8(s0, x, (mve_pred16_t)*h0++);
        s1 = vaddvaq_p_u8(s1, x, (mve_pred16_t)*h1++);
        s2 = vaddvaq_p_u8(s2, x, (mve_pred16_t)*h2++);
        s3 = vaddvaq_p_u8(s3, x, (mve_pred16_t)*h3++);
    }
    if (last != NULL) {
        const uint8x16_t x = vld1q_u8(last);
        s0 = vaddvaq_p_u8(s0, x, (mve_pred16_t)*h0);
        s1 = vaddvaq_p_u8(s1, x, (mve_pred16_t)*h1);
        s2 = vaddvaq_p_u8(s2, x, (mve_pred16_t)*h2);
        s3 = vaddvaq_p_u8(s3, x, (mve_pred16_t)*h3);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
}

be_status be_dense_u8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, rw = be_words_for(k), nv = (k + 15u) / 16u;
    const uint8_t *px = (const uint8_t *)in;
    uint8_t tail[16];
    const uint8_t *last = NULL;
    uint32_t total = 0u, o0, o, i, j;
    be_status st = BE_OK;
    (void)scratch;
    if (k % 16u != 0u) { /* the last partial vector, zero-padded */
        memset(tail, 0, sizeof tail);
        memcpy(tail, px + 16u * (nv - 1u), k % 16u);
        last = tail;
    }
    for (j = 0; j < k / 16u; j++)
        total = vaddvaq_u8(total, vld1q_u8(px + 16u * j));
    if (last != NULL)
        total = vaddvaq_u8(total, vld1q_u8(last));
    be_stage_clear(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t nb = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        uint32_t s[32 + 3];
        int32_t acc[32];
        be_status r;
        for (o = 0; o < nb; o += 4u)
            rows_dense(px, k / 16u, last, (const be_word *)op->weights + (size_t)(o0 + o) * rw, rw, nb - o, s + o);
        for (i = 0; i < nb; i++)
            acc[i] = be_arm_u8_acc(total, s[i]);
        r = be_stage_put_block(op, out, o0, nb, acc);
        if (r != BE_OK)
            st = r;
    }
    return st;
}

/* --------------------------------------------------------------------------------- Conv2d */

/* +-1 (times the direction when folding) of weight (channel o, element k), 0 for o >= out_ch */
static int16_t weight(const be_op *op, uint32_t o, uint32_t k, int fold)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c), tap = k / c, j = k % c;
    const be_word *row = (const be_word *)op->weights + ((size_t)o * op->kh * op->kw + tap) * cw;
    int32_t v;
    if (o >= op->out_ch)
        return 0;
    v = be_bit_to_sign(be_get_bit(row, j));
    return (int16_t)(fold ? v * ((const int8_t *)op->stage_a)[o] : v);
}

/* acc[g] = sum over the receptive field of x * wv[g][tap] for g < ng (1..4): the field is
 * `rows` runs of `run` bytes, `stride` apart; wv[g] = wv + g * K. */
static void field(const uint8_t *x, uint32_t rows, uint32_t run, uint32_t stride, const int16x8_t *wv, uint32_t k,
                  uint32_t ng, int16x8_t *acc)
{
    int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
    uint32_t r, j;
    if (ng == 4u) {
        for (r = 0; r < rows; r++, x += stride)
            for (j = 0; j < run; j++, wv++) {
                const int16_t v = (int16_t)x[j];
                a0 = vmlaq_n_s16(a0, wv[0], v);
                a1 = vmlaq_n_s16(a1, wv[k], v);
                a2 = vmlaq_n_s16(a2, wv[2u * k], v);
                a3 = vmlaq_n_s16(a3, wv[3u * k], v);
            }
        acc[3] = a3;
        acc[2] = a2;
    } else {
        for (r = 0; r < rows; r++, x += stride)
            for (j = 0; j < run; j++, wv++) {
                const int16_t v = (int16_t)x[j];
                a0 = vmlaq_n_s16(a0, wv[0], v);
                if (ng > 1u)
                    a1 = vmlaq_n_s16(a1, wv[k], v);
                if (ng > 2u)
                    a2 = vmlaq_n_s16(a2, wv[2u * k], v);
            }
        acc[2] = a2;
    }
    acc[1] = a1;
    acc[0] = a0;
}

/* One tap of the 32-channel fast path: the 4 weight vectors of the tap are consecutive. */
#define TAP4(v)                                                                                \
    do {                                                                                       \
        const int16_t v_ = (v);                                                                \
        a0 = vmlaq_n_s16(a0, w[0], v_);                                                        \
        a1 = vmlaq_n_s16(a1, w[1], v_);                                                        \
        a2 = vmlaq_n_s16(a2, w[2], v_);                                                        \
        a3 = vmlaq_n_s16(a3, w[3], v_);                                                        \
        w += 4;                                                                                \
    } while (0)

/* The sign stage, 32 channels of every output pixel: wv = 4 weight vectors per tap (channel
 * groups 0-3 of the word, direction folded in), tv = the 32 clamped thresholds; writes output
 * word `wi` of every pixel. Kernel rows of 3 bytes (3x3 x 1 channel) are unrolled. */
static void conv_sign32(const be_op *op, const uint8_t *in, uint8_t *patch, const int16x8_t *wv, const int16_t *tv,
                        uint32_t wi, void *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t k = op->kh * op->kw * op->in_ch, run = op->kw * op->in_ch, stride_in = vi->w * vi->c;
    const uint32_t step = vo->pixel_bytes / 4u;
    const uint16x8_t lanebit = vshlq_u16(vdupq_n_u16(1), vreinterpretq_s16_u16(vidupq_n_u16(0, 1)));
    uint32_t oy, ox, r, j;
    for (oy = 0; oy < vo->h; oy++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
        const int rows_in = y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h;
        be_word *po = (be_word *)((uint8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes) + wi;
        for (ox = 0; ox < vo->w; ox++, po += step) {
            const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
            const int16x8_t *w = wv;
            int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0;
            uint32_t b0, b1, b2, b3;
            if (rows_in && x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w) { /* inside: no copy */
                const uint8_t *x = in + ((size_t)y0 * vi->w + (size_t)x0) * vi->c;
                if (run == 3u) { /* GCC's code for this spilled vectors: assembly, 30 per row */
                    uint32_t n = op->kh, v0, v1, v2;
                    int16x8_t t;
                    __asm__ volatile("1:\n\t"
                                     "ldrb %[v0], [%[x]]\n\t"
                                     "ldrb %[v1], [%[x], #1]\n\t"
                                     "ldrb %[v2], [%[x], #2]\n\t"
                                     "add %[x], %[x], %[stride]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a0], %q[t], %[v0]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a1], %q[t], %[v0]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a2], %q[t], %[v0]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a3], %q[t], %[v0]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a0], %q[t], %[v1]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a1], %q[t], %[v1]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a2], %q[t], %[v1]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a3], %q[t], %[v1]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a0], %q[t], %[v2]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a1], %q[t], %[v2]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a2], %q[t], %[v2]\n\t"
                                     "vldrh.16 %q[t], [%[w]], #16\n\t"
                                     "vmla.s16 %q[a3], %q[t], %[v2]\n\t"
                                     "subs %[n], %[n], #1\n\t"
                                     "bne 1b\n\t"
                                     : [x] "+r"(x), [w] "+r"(w), [n] "+r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1),
                                       [v2] "=&r"(v2), [t] "=&w"(t), [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2),
                                       [a3] "+w"(a3)
                                     : [stride] "r"(stride_in)
                                     : "cc", "memory");
                } else {
                    for (r = 0; r < op->kh; r++, x += stride_in)
                        for (j = 0; j < run; j++)
                            TAP4(x[j]);
                }
            } else {
                be_arm_u8_im2col(op, in, oy, ox, patch);
                for (j = 0; j < k; j++)
                    TAP4(patch[j]);
            }
            b0 = vaddvq_p_u16(lanebit, vcmpltq_s16(a0, vld1q_s16(tv)));
            b1 = vaddvq_p_u16(lanebit, vcmpltq_s16(a1, vld1q_s16(tv + 8)));
            b2 = vaddvq_p_u16(lanebit, vcmpltq_s16(a2, vld1q_s16(tv + 16)));
            b3 = vaddvq_p_u16(lanebit, vcmpltq_s16(a3, vld1q_s16(tv + 24)));
            *po = b0 | b1 << 8 | b2 << 16 | b3 << 24;
        }
    }
}
#undef TAP4

be_status be_conv2d_u8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t k = op->kh * op->kw * op->in_ch, run = op->kw * op->in_ch, nout = op->out_ch;
    const uint32_t all = (nout + 7u) / 8u, fit = WV_VECTORS / k < GROUPS_MAX ? WV_VECTORS / k : GROUPS_MAX;
    const uint32_t per = fit < all ? (fit >= 4u ? fit - fit % 4u : fit) : all;
    const int sign = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u;
    const uint16x8_t lanebit = vshlq_u16(vdupq_n_u16(1), vreinterpretq_s16_u16(vidupq_n_u16(0, 1)));
    uint8_t *patch = (uint8_t *)scratch; /* K bytes <= the model's patch_bytes */
    int16x8_t wv[WV_VECTORS];
    int16_t tv[8u * GROUPS_MAX]; /* clamped thresholds */
    uint32_t g0, ng, g, oy, ox, i, l;
    be_status st = BE_OK;
    if (op->stage == BE_STAGE_THRESHOLD && !(sign && all % 4u == 0u && per % 4u == 0u))
        memset(out, 0, vo->nbytes); /* not every word is written whole: clear, then set bits */
    for (g0 = 0; g0 < all; g0 += ng) {
        ng = all - g0 < per ? all - g0 : per;
        for (g = 0; g < ng; g++) /* [g][tap], or [g / 4][tap][g % 4] for the 32-channel path */
            for (i = 0; i < k; i++) {
                int16_t lane[8];
                for (l = 0; l < 8u; l++)
                    lane[l] = weight(op, 8u * (g0 + g) + l, i, sign);
                wv[sign && ng % 4u == 0u ? (g / 4u * k + i) * 4u + g % 4u : g * k + i] = vld1q_s16(lane);
            }
        if (sign)
            for (i = 0; i < 8u * ng; i++) {
                const uint32_t o = 8u * g0 + i;
                const int32_t t = o < nout ? ((const int32_t *)op->stage_b)[o] : 0;
                tv[i] = (int16_t)(t < -32768 ? -32768 : t > 32767 ? 32767 : t);
            }
        if (sign && ng % 4u == 0u) { /* whole output words */
            for (g = 0; g < ng; g += 4u)
                conv_sign32(op, (const uint8_t *)in, patch, wv + (size_t)g * k, tv + 8u * g, (g0 + g) / 4u, out);
            continue;
        }
        for (oy = 0; oy < vo->h; oy++) {
            const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
            for (ox = 0; ox < vo->w; ox++) {
                const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                const uint8_t *x;
                uint32_t rows, len, stride;
                if (y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h && x0 >= 0 &&
                    x0 + (int32_t)op->kw <= (int32_t)vi->w) { /* inside: no copy */
                    x = (const uint8_t *)in + ((size_t)y0 * vi->w + (size_t)x0) * vi->c;
                    rows = op->kh;
                    len = run;
                    stride = vi->w * vi->c;
                } else {
                    be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                    x = patch;
                    rows = 1u;
                    len = k;
                    stride = k;
                }
                for (g = 0; g < ng; g += 4u) {
                    const uint32_t n4 = ng - g < 4u ? ng - g : 4u;
                    int16x8_t acc[4];
                    field(x, rows, len, stride, wv + (size_t)g * k, k, n4, acc);
                    for (i = 0; i < n4; i++) {
                        const uint32_t o0 = 8u * (g0 + g + i);
                        if (sign) { /* acc = direction * dot: bit 1 (-1) when below the threshold */
                            const mve_pred16_t p = vcmpltq_s16(acc[i], vld1q_s16(tv + 8u * (g + i)));
                            px_out[o0 / 8u] = (uint8_t)vaddvq_p_u16(lanebit, p);
                        } else {
                            int16_t a[8];
                            const uint32_t n = nout - o0 < 8u ? nout - o0 : 8u;
                            vst1q_s16(a, acc[i]);
                            for (l = 0; l < n; l++) {
                                be_status s = be_stage_put(op, o0 + l, a[l], px_out);
                                if (s != BE_OK)
                                    st = s;
                            }
                        }
                    }
                }
            }
        }
    }
    return st;
}

#else
typedef int be_u8_mve_unused; /* ISO C forbids an empty translation unit */
#endif
