/* be_dense_bin_popcnt.c -- Dense, sign bits x binary weights, scalar 64-bit POPCNT.
 *
 * Every output is the dot product of the input row and one weight row (words(K) words), 64 bits
 * per POPCNT, 4 rows sharing each input load; the sign threshold packs 32 outputs per word.
 * acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86.h"

int be_dense_bin_popcnt_supports(const be_op *op)
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

__attribute__((target("popcnt"))) be_status be_dense_bin_popcnt(const be_op *op, const void *in, void *out,
                                                                  void *scratch)
{
    const uint32_t cw = op->in.cw, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    int32_t acc[32];
    uint32_t o0, o, j;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        be_status s;
        for (o = 0; o + 4u <= nb; o += 4u) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw, *w1 = w0 + rw, *w2 = w1 + rw, *w3 = w2 + rw;
            uint32_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
            for (j = 0; j + 2u <= cw; j += 2u) {
                d0 += pc64(x + j, w0 + j);
                d1 += pc64(x + j, w1 + j);
                d2 += pc64(x + j, w2 + j);
                d3 += pc64(x + j, w3 + j);
            }
            if (j < cw) {
                d0 += pc32(x[j], w0[j]);
                d1 += pc32(x[j], w1[j]);
                d2 += pc32(x[j], w2[j]);
                d3 += pc32(x[j], w3[j]);
            }
            acc[o] = (int32_t)op->k - 2 * (int32_t)d0;
            acc[o + 1u] = (int32_t)op->k - 2 * (int32_t)d1;
            acc[o + 2u] = (int32_t)op->k - 2 * (int32_t)d2;
            acc[o + 3u] = (int32_t)op->k - 2 * (int32_t)d3;
        }
        for (; o < nb; o++) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw;
            uint32_t d0 = 0;
            for (j = 0; j + 2u <= cw; j += 2u)
                d0 += pc64(x + j, w0 + j);
            if (j < cw)
                d0 += pc32(x[j], w0[j]);
            acc[o] = (int32_t)op->k - 2 * (int32_t)d0;
        }
        s = be_x86_put(op, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_bin_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
