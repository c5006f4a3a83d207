/* be_flatten_bin_word.c -- "word": Flatten, whole words (portable C, every target).
 *
 * (H, W, C) bits -> (H*W*C,) bits, plane by plane: each pixel's C bits are appended to the flat
 * row with shifts, a word at a time (the reference moves bit by bit). A sign value whose C is a
 * multiple of 32 has no padding bits, so its storage is already the flat row: one copy. u8 and
 * rank-1 values are copied. No C library calls: on Cortex-M builds memcpy / memset are byte loops.
 * A u8 value may be the caller's input, which binedge.h allows at any address: it is copied by
 * words only when both buffers are 4-byte aligned (an unaligned LDM faults on Cortex-M).
 */
#include "be_kernels.h"

be_status be_flatten_bin_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, npx = vi->h * vi->w, last_bits = vi->c - 32u * (cw - 1u);
    uint32_t p, px, j;
    (void)scratch;
    if (vi->kind != BE_KIND_BITS || vi->rank == 1u || (vi->planes == 1u && vi->c % 32u == 0u)) {
        if (vi->nbytes % 4u == 0u && ((uintptr_t)in | (uintptr_t)out) % 4u == 0u) { /* always for bits */
            be_copy_words((be_word *)out, (const be_word *)in, vi->nbytes / 4u);
        } else {
            uint32_t j;
            for (j = 0; j < vi->nbytes; j++)
                ((uint8_t *)out)[j] = ((const uint8_t *)in)[j];
        }
        return BE_OK;
    }
    be_zero_words((be_word *)out, vo->nbytes / 4u); /* bits: whole words */
    for (p = 0; p < vi->planes; p++) {
        be_word *dst = (be_word *)out + (size_t)p * vo->cw;
        uint32_t f = 0; /* next bit of the flat row */
        for (px = 0; px < npx; px++) {
            const be_word *src = (const be_word *)in + ((size_t)px * vi->planes + p) * cw;
            for (j = 0; j < cw; j++) {
                const uint32_t nbits = j + 1u < cw ? 32u : last_bits, off = f % 32u;
                const be_word v = src[j]; /* bits beyond nbits are zero (padding) */
                dst[f / 32u] |= v << off;
                if (off != 0u && off + nbits > 32u)
                    dst[f / 32u + 1u] |= v >> (32u - off);
                f += nbits;
            }
        }
    }
    return BE_OK;
}
