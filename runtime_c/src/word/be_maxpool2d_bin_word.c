/* be_maxpool2d_bin_word.c -- "word": MaxPool2d on sign bits, whole words (portable C, every target).
 *
 * The maximum of +-1 values is +1 (bit 0) as soon as one input is +1, so each output word is the
 * AND of the window's words: 32 channels per operation instead of the reference's decode /
 * compare / encode per bit. Padding bits are zero in every input, so they stay zero. Unsigned
 * bit-planes are left to the reference (the maximum of levels is not a bitwise operation).
 * No C library calls: on Cortex-M builds memcpy is a byte loop.
 */
#include "be_kernels.h"

int be_maxpool2d_bin_word_supports(const be_op *op)
{
    return op->in.kind == BE_KIND_BITS && op->in.encoding == BE_ENC_SIGN;
}

be_status be_maxpool2d_bin_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw;
    uint32_t oy, ox, ky, kx, j;
    (void)scratch;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            be_word *po = (be_word *)out + ((size_t)oy * vo->w + ox) * cw;
            const be_word *pi = (const be_word *)in + ((size_t)oy * op->sh * vi->w + (size_t)ox * op->sw) * cw;
            for (j = 0; j < cw; j++) {
                be_word v = 0xFFFFFFFFu; /* the window is never empty */
                for (ky = 0; ky < op->kh; ky++)
                    for (kx = 0; kx < op->kw; kx++)
                        v &= pi[((size_t)ky * vi->w + kx) * cw + j];
                po[j] = v;
            }
        }
    }
    return BE_OK;
}
