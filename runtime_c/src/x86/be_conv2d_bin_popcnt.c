/* be_conv2d_bin_popcnt.c -- Conv2d, sign bits x binary weights, scalar 64-bit POPCNT.
 *
 * One receptive field at a time is copied (im2col) into the arena's scratch in weight-row
 * order (padding = zero words = +1), then every output channel is a dot product of two
 * contiguous rows of KH*KW*words(C) words, 64 bits per POPCNT, 4 channels sharing each load.
 * No stack buffers and no limit on the shape. acc = K - 2 * popcount(x XOR w).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86.h"

int be_conv2d_bin_popcnt_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

__attribute__((target("popcnt"))) static inline uint32_t pc64(const be_word *a, const be_word *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8u);
    memcpy(&y, b, 8u);
    return (uint32_t)__builtin_popcountll(x ^ y);
}

__attribute__((target("popcnt"))) static inline uint32_t pc32(be_word a, be_word b)
{
    return (uint32_t)__builtin_popcount(a ^ b);
}

__attribute__((target("popcnt"))) be_status be_conv2d_bin_popcnt(const be_op *op, const void *in, void *out,
                                                                   void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t kwords = op->kh * op->kw * op->in.cw, npx = vo->h * vo->w, nout = op->out_ch;
    const be_word *wts = (const be_word *)op->weights;
    be_word *patch = (be_word *)scratch; /* KH * KW * pixel_bytes = the model's patch_bytes */
    int32_t acc[32];
    uint32_t p, o0, o, j;
    be_status st = BE_OK;
    memset(out, 0, vo->nbytes);
    for (p = 0; p < npx; p++) {
        uint8_t *px_out = (uint8_t *)out + (size_t)p * vo->pixel_bytes;
        be_x86_im2col_bits(op, (const be_word *)in, p, 1u, patch);
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            for (o = 0; o + 4u <= nb; o += 4u) {
                const be_word *w0 = wts + (size_t)(o0 + o) * kwords, *w1 = w0 + kwords, *w2 = w1 + kwords,
                              *w3 = w2 + kwords;
                uint32_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
                for (j = 0; j + 2u <= kwords; j += 2u) {
                    d0 += pc64(patch + j, w0 + j);
                    d1 += pc64(patch + j, w1 + j);
                    d2 += pc64(patch + j, w2 + j);
                    d3 += pc64(patch + j, w3 + j);
                }
                if (j < kwords) {
                    d0 += pc32(patch[j], w0[j]);
                    d1 += pc32(patch[j], w1[j]);
                    d2 += pc32(patch[j], w2[j]);
                    d3 += pc32(patch[j], w3[j]);
                }
                acc[o] = (int32_t)op->k - 2 * (int32_t)d0;
                acc[o + 1u] = (int32_t)op->k - 2 * (int32_t)d1;
                acc[o + 2u] = (int32_t)op->k - 2 * (int32_t)d2;
                acc[o + 3u] = (int32_t)op->k - 2 * (int32_t)d3;
            }
            for (; o < nb; o++) {
                const be_word *w0 = wts + (size_t)(o0 + o) * kwords;
                uint32_t d0 = 0;
                for (j = 0; j + 2u <= kwords; j += 2u)
                    d0 += pc64(patch + j, w0 + j);
                if (j < kwords)
                    d0 += pc32(patch[j], w0[j]);
                acc[o] = (int32_t)op->k - 2 * (int32_t)d0;
            }
            s = be_x86_put(op, px_out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_conv2d_bin_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
