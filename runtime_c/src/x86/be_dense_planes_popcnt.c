/* be_dense_planes_popcnt.c -- Dense, unsigned bit-plane input (qrelu levels, P <= 8 planes) x
 * binary weights, scalar 64-bit POPCNT.
 *
 * acc_o = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w_o)) (weight bit 1 = -1), exactly
 * the reference: the popcount(b_p) part once per call, then per 32-row block the AND counts of
 * every plane, 4 rows sharing each input load (be_x86_planes_block).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_popcnt.h"

int be_dense_planes_popcnt_supports(const be_op *op)
{
    return be_op_is_planes_binary(op);
}

__attribute__((target("popcnt"))) be_status be_dense_planes_popcnt(const be_op *op, const void *in, void *out,
                                                                     void *scratch)
{
    const uint32_t cw = op->in.cw, planes = op->in.planes, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    const uint32_t ones = be_x86_planes_ones(x, cw, cw, planes);
    int32_t acc[32];
    uint32_t o0;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        be_status s;
        be_x86_planes_block(x, cw, wts + (size_t)o0 * rw, rw, cw, planes, nb, ones, acc);
        s = be_stage_put_block(op, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_planes_popcnt_unused; /* ISO C forbids an empty translation unit */
#endif
