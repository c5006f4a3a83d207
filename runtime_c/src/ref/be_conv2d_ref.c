/* be_conv2d_ref.c -- Conv2d (reference).
 *
 * Input (H, W, C), weights (O, KH, KW, C / g) (binary: packed rows of words(C) words), output
 * (OH, OW, O) with OH = (H + pt + pb - KH) / sh + 1, OW likewise. For output pixel (oy, ox)
 * the input pixel of kernel tap (ky, kx) is (oy*sh - pt + ky, ox*sw - pl + kx); outside the
 * input it is the zero code (the zero point of u8 / i8 codes, +1 for sign bits, level 0).
 * With g groups (int8 weights over codes), output channel o reads the C / g input channels of
 * its group o / (O / g).
 */
#include "be_kernels.h"

be_status be_conv2d_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    uint32_t oy, ox, o, ky, kx;
    be_status st = BE_OK;
    (void)scratch;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
            be_stage_clear(op, px_out);
            for (o = 0; o < op->out_ch; o++) {
                const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups;
                const size_t first_byte = (size_t)(o / (op->out_ch / groups)) * cg; /* codes only when grouped */
                int32_t acc = 0;
                for (ky = 0; ky < op->kh; ky++) {
                    for (kx = 0; kx < op->kw; kx++) {
                        int64_t iy = (int64_t)oy * op->sh - (int64_t)op->pt + ky;
                        int64_t ix = (int64_t)ox * op->sw - (int64_t)op->pl + kx;
                        const void *x = NULL;
                        const void *w = (const uint8_t *)op->weights +
                                        (((size_t)o * op->kh + ky) * op->kw + kx) * op->w_row_bytes;
                        if (iy >= 0 && iy < (int64_t)vi->h && ix >= 0 && ix < (int64_t)vi->w)
                            x = (const uint8_t *)in + ((size_t)iy * vi->w + (size_t)ix) * vi->pixel_bytes +
                                first_byte;
                        acc += be_ref_dot(vi, x, w, op->weight_kind, cg);
                    }
                }
                {
                    be_status s = be_stage_put(op, o, acc, px_out);
                    if (s != BE_OK)
                        st = s;
                }
            }
        }
    }
    return st;
}
