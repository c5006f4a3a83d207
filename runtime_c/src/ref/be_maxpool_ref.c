/* be_maxpool_ref.c -- MaxPool2d on packed bits or u8 / i8 codes (reference).
 *
 * Floor mode, no padding: output (OH, OW, C), OH = (H - KH) / sh + 1. Each channel's output is
 * the maximum of the integer values in its window: +-1 for sign bits (so +1 wins: bit 0),
 * the level for unsigned bit-planes, the code for u8 / i8 values (their scale is positive).
 * Values are decoded, compared and re-encoded one by one.
 */
#include "be_kernels.h"
#include "be_bitformat.h"

static int64_t decode(const be_value *v, const void *px, uint32_t c)
{
    const be_word *pixel = (const be_word *)px; /* used only for bits (word aligned) */
    uint32_t p;
    int64_t level = 0;
    if (v->kind != BE_KIND_BITS)
        return be_code_at(v, px, c);
    if (v->encoding == BE_ENC_SIGN)
        return be_bit_to_sign(be_get_bit(pixel, c));
    for (p = 0; p < v->planes; p++)
        level += (int64_t)be_get_bit(pixel + (size_t)p * v->cw, c) << p;
    return level;
}

static void encode(const be_value *v, void *px, uint32_t c, int64_t value)
{
    be_word *pixel = (be_word *)px; /* arena values are 16-byte aligned */
    uint32_t p;
    if (v->kind == BE_KIND_U8) {
        ((uint8_t *)px)[c] = (uint8_t)value;
        return;
    }
    if (v->kind == BE_KIND_I8) {
        ((int8_t *)px)[c] = (int8_t)value;
        return;
    }
    if (v->encoding == BE_ENC_SIGN) {
        if (value < 0)
            be_set_bit(pixel, c);
        return;
    }
    for (p = 0; p < v->planes; p++)
        if ((value >> p) & 1)
            be_set_bit(pixel + (size_t)p * v->cw, c);
}

be_status be_maxpool2d_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    uint32_t oy, ox, c, ky, kx, i;
    (void)scratch;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            uint8_t *po = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
            for (i = 0; vo->kind == BE_KIND_BITS && i < (uint32_t)vo->planes * vo->cw; i++)
                ((be_word *)po)[i] = 0u; /* bits pixels are whole words */
            for (c = 0; c < vo->c; c++) {
                int64_t best = 0;
                for (ky = 0; ky < op->kh; ky++) {
                    for (kx = 0; kx < op->kw; kx++) {
                        size_t iy = (size_t)oy * op->sh + ky, ix = (size_t)ox * op->sw + kx;
                        const uint8_t *pi = (const uint8_t *)in + (iy * vi->w + ix) * vi->pixel_bytes;
                        int64_t v = decode(vi, pi, c);
                        if ((ky == 0 && kx == 0) || v > best)
                            best = v;
                    }
                }
                encode(vo, po, c, best);
            }
        }
    }
    return BE_OK;
}
