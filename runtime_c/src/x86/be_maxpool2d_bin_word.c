/* be_maxpool2d_bin_word.c -- MaxPool2d on sign bits, whole words (portable C).
 *
 * The maximum of +-1 values is +1 (bit 0) as soon as one input is +1, so each output word is
 * the AND of the window's words: 32 channels per operation instead of the reference's
 * decode / compare / encode per bit. Padding bits are zero in every input, so they stay zero.
 * Unsigned bit-planes are left to the reference. Plain C: built for x86 only for now (it
 * needs no ISA; enabling it on other targets is a one-line change in be_kernels.c).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86.h"

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
            memcpy(po, pi, (size_t)cw * 4u);
            for (ky = 0; ky < op->kh; ky++) {
                for (kx = 0; kx < op->kw; kx++) {
                    const be_word *q = pi + ((size_t)ky * vi->w + kx) * cw;
                    for (j = 0; j < cw; j++)
                        po[j] &= q[j];
                }
            }
        }
    }
    return BE_OK;
}

#else
typedef int be_maxpool2d_bin_word_unused; /* ISO C forbids an empty translation unit */
#endif
