/* be_maxpool2d_planes_word.c -- "word": MaxPool2d on unsigned bit-planes (qrelu levels), whole
 * words (portable C, every target).
 *
 * A level is x = sum_p 2^p b_p; the larger of two levels is decided by their highest differing
 * plane. Bit-sliced over 32 channels at once: walking the planes from the top, gt_a / gt_b mark
 * the channels already decided for a / for b (und = neither yet):
 *     gt_a |= und & a_p & ~b_p,   gt_b |= und & b_p & ~a_p,
 * then max_p = (a_p & ~gt_b) | (b_p & gt_b) (equal levels keep a). About 7 operations per plane
 * and window pixel for 32 channels, against the reference's decode / compare / encode per
 * channel. Padding bits are zero in every input plane, so they stay zero. No C library calls.
 *
 * Two planes (qrelu2 levels, the common case) have a straight path: with d = a1 XOR b1, the
 * larger level's high bit is a1 | b1 and its low bit is a0 | b0 where the high bits agree, else
 * the low bit of the one whose high bit is set, (a1 & a0) | (b1 & b0): 9 operations per window
 * pixel for 32 channels, no plane loop.
 */
#include "be_kernels.h"

int be_maxpool2d_planes_word_supports(const be_op *op)
{
    return op->in.kind == BE_KIND_BITS && op->in.encoding == BE_ENC_UNSIGNED && op->in.planes <= 8u;
}

/* MaxPool2d on 2 planes: plane 0 (low bits) and plane 1 of each pixel are words j and cw + j. */
static void maxpool_planes2(const be_op *op, const be_word *in, be_word *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, px_words = 2u * cw;
    uint32_t oy, ox, ky, kx, j;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            be_word *po = out + ((size_t)oy * vo->w + ox) * px_words;
            const be_word *pi = in + ((size_t)oy * op->sh * vi->w + (size_t)ox * op->sw) * px_words;
            for (j = 0; j < cw; j++) {
                be_word m0 = pi[j], m1 = pi[cw + j];
                for (ky = 0; ky < op->kh; ky++) {
                    for (kx = ky == 0u ? 1u : 0u; kx < op->kw; kx++) {
                        const be_word *b = pi + ((size_t)ky * vi->w + kx) * px_words + j;
                        const be_word b0 = b[0], b1 = b[cw], d = m1 ^ b1;
                        m0 = (~d & (m0 | b0)) | (d & ((m1 & m0) | (b1 & b0)));
                        m1 |= b1;
                    }
                }
                po[j] = m0;
                po[cw + j] = m1;
            }
        }
    }
}

be_status be_maxpool2d_planes_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, planes = vi->planes, px_words = planes * cw;
    uint32_t oy, ox, ky, kx, j, p;
    (void)scratch;
    if (planes == 2u) {
        maxpool_planes2(op, (const be_word *)in, (be_word *)out);
        return BE_OK;
    }
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            be_word *po = (be_word *)out + ((size_t)oy * vo->w + ox) * px_words;
            const be_word *pi = (const be_word *)in + ((size_t)oy * op->sh * vi->w + (size_t)ox * op->sw) * px_words;
            for (j = 0; j < cw; j++) {
                be_word m[8]; /* the running maximum, plane p in m[p] */
                for (p = 0; p < planes; p++)
                    m[p] = pi[(size_t)p * cw + j];
                for (ky = 0; ky < op->kh; ky++) {
                    for (kx = ky == 0u ? 1u : 0u; kx < op->kw; kx++) {
                        const be_word *b = pi + ((size_t)ky * vi->w + kx) * px_words + j;
                        be_word gt_m = 0u, gt_b = 0u;
                        for (p = planes; p-- > 0u;) {
                            const be_word x = m[p], y = b[(size_t)p * cw], und = ~(gt_m | gt_b);
                            gt_m |= und & x & ~y;
                            gt_b |= und & y & ~x;
                        }
                        for (p = 0; p < planes; p++)
                            m[p] = (m[p] & ~gt_b) | (b[(size_t)p * cw] & gt_b);
                    }
                }
                for (p = 0; p < planes; p++)
                    po[(size_t)p * cw + j] = m[p];
            }
        }
    }
    return BE_OK;
}
