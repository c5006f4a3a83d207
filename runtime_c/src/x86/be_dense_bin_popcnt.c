/* be_dense_bin_popcnt.c -- Dense, sign bits x binary weights, scalar 64-bit POPCNT.
 *
 * Every output is the dot product of the input row and one weight row (words(K) words), 64 bits
 * per POPCNT, 4 rows sharing each input load; the sign threshold packs 32 outputs per word.
 * acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_popcnt.h"

int be_dense_bin_popcnt_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

__attribute__((target("popcnt"))) be_status be_dense_bin_popcnt(const be_op *op, const void *in, void *out,
                                                                  void *scratch)
{
    const uint32_t cw = op->in.cw, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    int32_t acc[32];
    uint32_t o0;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        be_status s;
        be_x86_popcnt_block(x, wts + (size_t)o0 * rw, rw, cw, nb, op->k, acc);
        s = be_stage_put_block(op, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_bin_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
