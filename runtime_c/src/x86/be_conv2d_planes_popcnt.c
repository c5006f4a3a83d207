/* be_conv2d_planes_popcnt.c -- Conv2d, unsigned bit-plane input (qrelu levels, P <= 8 planes) x
 * binary weights, scalar 64-bit POPCNT.
 *
 * Per output pixel the receptive field is copied into the arena's scratch as P patches of
 * KH*KW*words(C) words (be_x86_im2col_planes; padding = zero words = level 0, which adds 0 like
 * the reference's padding pixel), so every output channel is P dot products against one
 * contiguous weight row: acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)), the first
 * term once per pixel. No stack buffers and no limit on the shape.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_popcnt.h"

int be_conv2d_planes_popcnt_supports(const be_op *op)
{
    return be_op_is_planes_binary(op);
}

__attribute__((target("popcnt"))) be_status be_conv2d_planes_popcnt(const be_op *op, const void *in, void *out,
                                                                      void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t kwords = op->kh * op->kw * op->in.cw, planes = op->in.planes;
    const uint32_t npx = vo->h * vo->w, nout = op->out_ch;
    const be_word *wts = (const be_word *)op->weights;
    be_word *patch = (be_word *)scratch; /* P * KH * KW * cw words = the model's patch_bytes */
    int32_t acc[32];
    uint32_t p, o0;
    be_status st = BE_OK;
    for (p = 0; p < npx; p++) {
        uint8_t *px_out = (uint8_t *)out + (size_t)p * vo->pixel_bytes;
        uint32_t ones;
        be_stage_clear(op, px_out);
        be_x86_im2col_planes(op, (const be_word *)in, p, patch);
        ones = be_x86_planes_ones(patch, kwords, kwords, planes);
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            be_x86_planes_block(patch, kwords, wts + (size_t)o0 * kwords, kwords, kwords, planes, nb, ones, acc);
            s = be_stage_put_block(op, px_out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_conv2d_planes_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
