/* be_i8_mve.c -- "mve": the int8 layers (int8 weights over u8 / i8 codes) with Helium (MVE,
 * Cortex-M55).
 *
 * The drivers of be_arm_i8.h with an int8 patch (BE_I8_S8): i8 codes as they are, u8 codes as
 * x - 128 (XOR 0x80; the padding as zero point - 128). A row of 16 MACs is one VLDRB of the
 * weights and one VMLADAVA.S8 (16 products summed into a scalar), the patch vector (one
 * VLDRB) shared by 4 rows; the last partial vector is predicated (VCTP: lanes past the row are
 * neither loaded nor counted). Over u8 codes each row also sums its weights (VADDVA.S8) and
 * adds 128 * sum_k w_k: sum_k w_k x_k = sum_k w_k (x_k - 128) + 128 sum_k w_k, exact in int32
 * (every partial sum within the loader's bound).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "arm/be_arm_i8.h"

int be_i8_mve_supports(const be_op *op)
{
    /* a window of 3 rows of at most 4 bytes (3x3 over one channel: the pixel layer) is the DSP
     * kernel's register path, faster than the 16-lane dot here (i8first on cortex-m55: dsp 3.71
     * vs mve 6.28 instructions per MAC, docs/kernels.md) */
    if (op->type == BE_OP_CONV2D && op->groups <= 1u && op->kh == 3u && op->kw * op->in.c <= 4u)
        return 0;
    return be_op_is_int8_layer(op);
}

static void copy_s8(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    uint8_t *d = (uint8_t *)patch + e;
    const uint8x16_t flip = vdupq_n_u8(is_i8 ? 0u : 0x80u);
    for (; n >= 16u; n -= 16u, d += 16, src += 16)
        vst1q_u8(d, veorq_u8(vld1q_u8(src), flip));
    if (n > 0u) {
        const mve_pred16_t p = vctp8q(n);
        vst1q_p_u8(d, veorq_u8(vld1q_z_u8(src, p), flip), p);
    }
}

static void fill_s8(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    uint8_t *d = (uint8_t *)patch + e;
    const uint8x16_t v = vdupq_n_u8((uint8_t)code);
    for (; n >= 16u; n -= 16u, d += 16)
        vst1q_u8(d, v);
    if (n > 0u)
        vst1q_p_u8(d, v, vctp8q(n));
}

#define ROW(a, wr)  a = vmladavaq_s8(a, xv, vld1q_s8(wr))
#define ROWS(a, s, wr)                                                                                  \
    do {                                                                                                \
        const int8x16_t wv_ = vld1q_s8(wr);                                                            \
        a = vmladavaq_s8(a, xv, wv_);                                                                   \
        s = vaddvaq_s8(s, wv_);                                                                         \
    } while (0)

static void dot_s8(const int8_t *w, uint32_t rb, const void *xp, uint32_t n, uint32_t rows, int32_t xbias,
                   int32_t *acc)
{
    const int8_t *x = (const int8_t *)xp;
    const uint32_t nf = n & ~15u, t = n & 15u;
    const mve_pred16_t p = vctp8q(t);
    for (; rows > 0u;) {
        const uint32_t nr = rows >= 4u ? 4u : rows >= 2u ? 2u : 1u;
        const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        uint32_t j;
        if (nr == 4u && xbias == 0) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROW(a0, w0 + j);
                ROW(a1, w1 + j);
                ROW(a2, w2 + j);
                ROW(a3, w3 + j);
            }
        } else if (nr == 4u) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
                ROWS(a1, s1, w1 + j);
                ROWS(a2, s2, w2 + j);
                ROWS(a3, s3, w3 + j);
            }
        } else if (nr == 2u) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
                ROWS(a1, s1, w1 + j);
            }
        } else {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
            }
        }
        if (t != 0u) { /* predicated: no byte past a row (or the tensor) is read */
            const int8x16_t xv = vld1q_z_s8(x + nf, p);
            int8x16_t wv = vld1q_z_s8(w0 + nf, p);
            a0 = vmladavaq_s8(a0, xv, wv);
            s0 = vaddvaq_s8(s0, wv);
            if (nr > 1u) {
                wv = vld1q_z_s8(w1 + nf, p);
                a1 = vmladavaq_s8(a1, xv, wv);
                s1 = vaddvaq_s8(s1, wv);
            }
            if (nr > 2u) {
                wv = vld1q_z_s8(w2 + nf, p);
                a2 = vmladavaq_s8(a2, xv, wv);
                s2 = vaddvaq_s8(s2, wv);
                wv = vld1q_z_s8(w3 + nf, p);
                a3 = vmladavaq_s8(a3, xv, wv);
                s3 = vaddvaq_s8(s3, wv);
            }
        }
        acc[0] += a0 + xbias * s0;
        if (nr > 1u)
            acc[1] += a1 + xbias * s1;
        if (nr > 2u) {
            acc[2] += a2 + xbias * s2;
            acc[3] += a3 + xbias * s3;
        }
        rows -= nr;
        acc += nr;
        w += (size_t)nr * rb;
    }
}

/* ------------------------------------------------------------------ Conv2d, groups = 1 */

/* a[r] += the dot products of rows w + r * k (r < rows <= 4) with the patch x (K = k int8),
 * one VLDRB of the patch per 4 rows; the last partial vector predicated. */
__attribute__((noinline)) static void rows_s8(const int8_t *w, uint32_t k, const int8_t *x, uint32_t rows, int32_t *a)
{
    const uint32_t nf = k / 16u, t = k & 15u;
    const int8_t *w0 = w, *w1 = rows > 1u ? w + k : w, *w2 = rows > 2u ? w + 2u * k : w;
    const int8_t *w3 = rows > 3u ? w + 3u * k : w;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t i;
    for (i = 0; i < nf; i++) {
        const int8x16_t xv = vld1q_s8(x);
        a0 = vmladavaq_s8(a0, xv, vld1q_s8(w0));
        a1 = vmladavaq_s8(a1, xv, vld1q_s8(w1));
        a2 = vmladavaq_s8(a2, xv, vld1q_s8(w2));
        a3 = vmladavaq_s8(a3, xv, vld1q_s8(w3));
        x += 16;
        w0 += 16;
        w1 += 16;
        w2 += 16;
        w3 += 16;
    }
    if (t != 0u) {
        const mve_pred16_t p = vctp8q(t);
        const int8x16_t xv = vld1q_z_s8(x, p);
        a0 = vmladavaq_s8(a0, xv, vld1q_z_s8(w0, p));
        a1 = vmladavaq_s8(a1, xv, vld1q_z_s8(w1, p));
        a2 = vmladavaq_s8(a2, xv, vld1q_z_s8(w2, p));
        a3 = vmladavaq_s8(a3, xv, vld1q_z_s8(w3, p));
    }
    a[0] += a0;
    if (rows > 1u)
        a[1] += a1;
    if (rows > 2u)
        a[2] += a2;
    if (rows > 3u)
        a[3] += a3;
}

/* K <= 16: the patch is one predicated vector, loaded once for all n rows: per row a
 * predicated VLDRB and one VMLADAVA. */
__attribute__((noinline)) static void rows_small(const int8_t *w, uint32_t k, const int8_t *x, uint32_t n,
                                                 int32_t *a)
{
    const mve_pred16_t p = vctp8q(k);
    const int8x16_t xv = vld1q_z_s8(x, p);
    uint32_t o;
    for (o = 0; o < n; o++, w += k)
        a[o] = vmladavaq_s8(a[o], xv, vld1q_z_s8(w, p));
}

/* sum_k w_k of row w (K = k) */
static int32_t row_sum(const int8_t *w, uint32_t k)
{
    int32_t s = 0;
    for (; k >= 16u; k -= 16u, w += 16)
        s = vaddvaq_s8(s, vld1q_s8(w));
    if (k > 0u)
        s = vaddvaq_s8(s, vld1q_z_s8(w, vctp8q(k)));
    return s;
}

/* Chunks of 32 output channels; over u8 codes the chunk's weight sums once (the patch holds
 * x - 128: acc = dot + 128 * sum_k w_k); per pixel the patch, 4 rows per pass over it. */
static be_status conv_s8(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->k;
    const int is_u8 = op->in.kind == BE_KIND_U8;
    const int8_t *wts = (const int8_t *)op->weights;
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK], base[BE_I8_BLOCK];
    uint32_t o0, oy, ox, o;
    be_status st = BE_OK;
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        for (o = 0; o < nb; o++) /* |128 * sum w| <= 255 * sum |w| <= INT32_MAX (loader) */
            base[o] = is_u8 ? 128 * row_sum(wts + (size_t)(o0 + o) * k, k) : 0;
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, scratch, BE_I8_S8, copy_s8, fill_s8);
                for (o = 0; o < nb; o++)
                    acc[o] = base[o];
                if (k <= 16u)
                    rows_small(wts + (size_t)o0 * k, k, (const int8_t *)scratch, nb, acc);
                else
                    for (o = 0; o < nb; o += 4u)
                        rows_s8(wts + (size_t)(o0 + o) * k, k, (const int8_t *)scratch, nb - o < 4u ? nb - o : 4u,
                                acc + o);
                s = be_i8_put(op, rq, high, px_out, o0, nb, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

/* ---------------------------------------------------------- depthwise, channel lanes */

/* Depthwise with channel multiplier 1: 8 channels per vector of int16 lanes. Per tap one
 * VLDRB (8 input channels widened) at the tap's address, one VLDRH of the 8 weights
 * (transposed per chunk: wt[(j8 * nt + t) * 8 + l] = w(8 j8 + l, t)), VMULLB / VMULLT (the even
 * and odd lanes' products, 32 bits) and two VADD; the last vector of the chunk predicated
 * (VCTP: no byte past the chunk's channels is read). */
#define DW_WT (BE_I8_BLOCK * BE_I8_DW_TAPS) /* int16: 4 KiB */

static void dw_weights(const be_op *op, uint32_t o0, uint32_t n, void *wt)
{
    const uint32_t nt = op->kh * op->kw;
    const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * nt;
    int16_t *d = (int16_t *)wt;
    uint32_t j8, t, l;
    for (j8 = 0; j8 < (n + 7u) / 8u; j8++)
        for (t = 0; t < nt; t++, d += 8)
            for (l = 0; l < 8u; l++)
                d[l] = 8u * j8 + l < n ? w[(size_t)(8u * j8 + l) * nt + t] : 0;
}

static void dw_core(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0, uint32_t n,
                    const void *wt, int32_t *acc)
{
    const int16_t *w = (const int16_t *)wt;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    uint32_t j, t;
    (void)o0;
    for (j = 0; j < n; j += 8u) {
        const mve_pred16_t p = vctp16q(n - j);
        int32x4_t ae = vdupq_n_s32(0), ao = ae;
        int32x4x2_t r;
        if (is_i8) {
            for (t = 0; t < nt; t++, w += 8) {
                const int16x8_t xv = vldrbq_z_s16((const int8_t *)taps[t] + j, p), wv = vld1q_s16(w);
                ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
                ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
            }
        } else {
            for (t = 0; t < nt; t++, w += 8) {
                const int16x8_t xv = vreinterpretq_s16_u16(vldrbq_z_u16(taps[t] + j, p)), wv = vld1q_s16(w);
                ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
                ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
            }
        }
        r.val[0] = ae;
        r.val[1] = ao;
        if (n - j >= 8u) {
            vst2q_s32(acc + j, r);
        } else { /* the last partial vector: lanes past n are not stored */
            int32_t tmp[8];
            vst2q_s32(tmp, r);
            for (t = 0; t < n - j; t++)
                acc[j + t] = tmp[t];
        }
    }
}

/* ------------------------------------------------------------------------ entries */

be_status be_conv2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS) {
        if (op->out_ch == op->in_ch) {
            int16_t wt[DW_WT];
            return be_i8_dw(op, in, out, dw_core, dw_weights, wt);
        }
        return be_i8_dw(op, in, out, NULL, NULL, NULL);
    }
    if (op->groups <= 1u)
        return conv_s8(op, in, out, scratch);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_S8, copy_s8, fill_s8, dot_s8);
}

be_status be_dense_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_i8_dense(op, in, out, BE_I8_S8, copy_s8, dot_s8);
}

#else
typedef int be_i8_mve_unused; /* ISO C forbids an empty translation unit */
#endif
