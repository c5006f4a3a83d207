/* be_compact_bits.c -- compacted receptive fields for binary layers with C % 32 != 0 (every
 * target; the ARM popcount driver, the ARM first-layer kernels and the x86 POPCNT conv use it).
 *
 * Stored, every tap of a C-channel pixel takes words(C) words (bit-planes: one group per plane),
 * so a 3x3 conv on 8 channels counts 288 bits for 72 logical ones. Compacted, the K = KH * KW * C
 * bits of a receptive field follow each other in words(K) words: the weights once per call
 * (be_compact_rows), each output pixel's field into the scratch (be_compact_patch, never larger
 * than the stored patch). Padding pixels are zero bits in both layouts and the row's bits after K
 * are zero in x and w, so popcount(x XOR w), popcount(x AND w) and acc are unchanged.
 */
#include "be_bitformat.h"
#include "be_kernels.h"

void be_compact_rows(const be_op *op, uint32_t o0, uint32_t n, be_word *dst)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c), taps = op->kh * op->kw;
    const uint32_t rw = be_words_for(taps * c);
    const be_word *src = (const be_word *)op->weights + (size_t)o0 * taps * cw;
    uint32_t i, t, j;
    be_zero_words(dst, n * rw);
    for (i = 0; i < n; i++, dst += rw) {
        uint32_t pos = 0u; /* bit position of the tap in the compacted row */
        for (t = 0; t < taps; t++, src += cw) {
            for (j = 0; j < cw; j++, pos += 32u) {
                const uint32_t bits = src[j], sh = pos % 32u; /* padding bits of the tap are 0 */
                dst[pos / 32u] |= bits << sh;
                if (sh != 0u && pos / 32u + 1u < rw)
                    dst[pos / 32u + 1u] |= bits >> (32u - sh);
            }
            pos -= cw * 32u - c;
        }
    }
}

static const be_word zero_pixel[BE_COMPACT_MAX_CW]; /* const: in flash on a microcontroller */

/* A bit stream: `cur` holds the `fill` (< 32) bits not yet written and each tap's C bits follow
 * the previous tap's (a pixel's full words, then the `last` bits of its last word; padding bits
 * are zero, padding pixels read zero_pixel). `(v >> 1) >> (31 - f)` is v >> (32 - f) for f in
 * 0 .. 31 without a shift by 32. */
void be_compact_patch(const be_op *op, const be_word *in, uint32_t oy, uint32_t ox, be_word *dst, uint32_t nw,
                      uint32_t px_words, uint32_t plane)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, last = vi->c - 32u * (cw - 1u), kw = op->kw;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    be_word *out = dst;
    uint32_t cur = 0u, fill = 0u, ky, kx, j;
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        const be_word *row = iy >= 0 && iy < (int32_t)vi->h ? in + (size_t)iy * vi->w * px_words + plane * cw : NULL;
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = x0 + (int32_t)kx;
            const be_word *src =
                row != NULL && ix >= 0 && ix < (int32_t)vi->w ? row + (size_t)ix * px_words : zero_pixel;
            uint32_t v;
            for (j = 0; j + 1u < cw; j++) { /* full words: fill unchanged */
                v = src[j];
                *out++ = cur | v << fill;
                cur = (v >> 1) >> (31u - fill);
            }
            v = src[cw - 1u];
            cur |= v << fill;
            if (fill + last < 32u) {
                fill += last;
            } else {
                *out++ = cur;
                cur = (v >> 1) >> (31u - fill);
                fill = fill + last - 32u;
            }
        }
    }
    if (fill != 0u)
        *out++ = cur;
    be_zero_words(out, nw - (uint32_t)(out - dst)); /* none when K fills the row */
}
