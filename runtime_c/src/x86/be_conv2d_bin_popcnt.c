/* be_conv2d_bin_popcnt.c -- Conv2d, sign bits x binary weights, scalar 64-bit POPCNT.
 *
 * One receptive field at a time is copied (im2col) into the arena's scratch in weight-row
 * order (padding = zero words = +1), then every output channel is a dot product of two
 * contiguous rows of KH*KW*words(C) words, 64 bits per POPCNT, 4 channels sharing each load.
 * No stack buffers and no limit on the shape. acc = K - 2 * popcount(x XOR w).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_popcnt.h"

int be_conv2d_bin_popcnt_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

__attribute__((target("popcnt"))) be_status be_conv2d_bin_popcnt(const be_op *op, const void *in, void *out,
                                                                   void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t kwords = op->kh * op->kw * op->in.cw, npx = vo->h * vo->w, nout = op->out_ch;
    const be_word *wts = (const be_word *)op->weights;
    be_word *patch = (be_word *)scratch; /* KH * KW * pixel_bytes = the model's patch_bytes */
    int32_t acc[32];
    uint32_t p, o0;
    be_status st = BE_OK;
    memset(out, 0, vo->nbytes);
    for (p = 0; p < npx; p++) {
        uint8_t *px_out = (uint8_t *)out + (size_t)p * vo->pixel_bytes;
        be_x86_im2col_bits(op, (const be_word *)in, p, 1u, patch);
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            be_x86_popcnt_block(patch, wts + (size_t)o0 * kwords, kwords, kwords, nb, op->k, acc);
            s = be_stage_put_block(op, px_out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_conv2d_bin_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
