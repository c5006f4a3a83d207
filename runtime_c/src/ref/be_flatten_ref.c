/* be_flatten_ref.c -- Flatten (reference).
 *
 * (H, W, C) -> (H*W*C,) in HWC order (C fastest): element f = (y*W + x)*C + c. u8 values are
 * copied; bits are re-packed bit by bit into P planes of words(H*W*C) words (a rank-3 bits
 * value keeps a padded row per pixel, the flat value has one row per plane). A rank-1 value is
 * copied unchanged.
 */
#include "be_kernels.h"
#include "be_bitformat.h"

be_status be_flatten_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    uint32_t i, y, x, c, p;
    (void)scratch;
    if (vi->kind != BE_KIND_BITS || vi->rank == 1) {
        const uint8_t *src = (const uint8_t *)in;
        uint8_t *dst = (uint8_t *)out;
        for (i = 0; i < vi->nbytes; i++)
            dst[i] = src[i];
        return BE_OK;
    }
    {
        be_word *dst = (be_word *)out;
        for (i = 0; i < vo->nbytes / 4u; i++)
            dst[i] = 0u;
        for (y = 0; y < vi->h; y++) {
            for (x = 0; x < vi->w; x++) {
                const be_word *pixel = (const be_word *)((const uint8_t *)in +
                                                         ((size_t)y * vi->w + x) * vi->pixel_bytes);
                for (p = 0; p < vi->planes; p++) {
                    for (c = 0; c < vi->c; c++) {
                        uint32_t f = (y * vi->w + x) * vi->c + c;
                        if (be_get_bit(pixel + (size_t)p * vi->cw, c))
                            be_set_bit(dst + (size_t)p * vo->cw, f);
                    }
                }
            }
        }
    }
    return BE_OK;
}
