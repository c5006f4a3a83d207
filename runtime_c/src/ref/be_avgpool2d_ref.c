/* be_avgpool2d_ref.c -- AvgPool2d (reference), global average pooling included.
 *
 * Floor mode, no padding: output (OH, OW, C), OH = (H - KH) / sh + 1; for every output code
 *     y = requant(M * sum over the KH x KW window of (x - zp_in), shift, zp_out)
 * (docs/graph.md). The sum is exact in int64 (|sum| <= 65535^2 * 255 < 2^40) and the loader
 * proved |M| * KH * KW * max|x - zp_in| + 2^(shift - 1) <= 2^63 - 1.
 */
#include "be_kernels.h"

be_status be_avgpool2d_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    uint32_t oy, ox, c, ky, kx;
    (void)scratch;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            int8_t *po = (int8_t *)out + ((size_t)oy * vo->w + ox) * vo->c;
            for (c = 0; c < vo->c; c++) {
                int64_t sum = 0;
                for (ky = 0; ky < op->kh; ky++)
                    for (kx = 0; kx < op->kw; kx++) {
                        size_t iy = (size_t)oy * op->sh + ky, ix = (size_t)ox * op->sw + kx;
                        sum += be_code_at(vi, in, (iy * vi->w + ix) * vi->c + c) - vi->zero_point;
                    }
                po[c] = be_requant((int64_t)op->mult_a * sum, (uint32_t)op->shift, op->zero_point);
            }
        }
    }
    return BE_OK;
}
