/* be_dense_bin_avx512.c -- Dense, sign bits x binary weights, AVX-512 VPOPCNTDQ.
 *
 * Each output is the dot product of the input row with one weight row, read in place:
 * 512 bits per XOR + VPOPCNTD + add, 16 rows at a time sharing every input load (masked loads
 * for the last partial vector: masked-out words are never read), and the 16 horizontal sums
 * reduced together (be_x86_rowdot16), so the sign threshold of 16 outputs is one compare.
 * Rows past the last output repeat it (their results are dropped).
 * acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

int be_dense_bin_avx512_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

BE_X86_AVX512 be_status be_dense_bin_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t cw = op->in.cw, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const int sign = be_stage_is_sign(op);
    const be_word *x[1], *wts = (const be_word *)op->weights, *w[16];
    const __m512i kv = _mm512_set1_epi32((int)op->k);
    uint32_t o0, r;
    be_status st = BE_OK;
    (void)scratch;
    x[0] = (const be_word *)in;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 16u) {
        const uint32_t n = nout - o0 < 16u ? nout - o0 : 16u;
        __m512i sums;
        for (r = 0; r < 16u; r++) {
            const be_word *p = wts + (size_t)(r < n ? o0 + r : nout - 1u) * rw;
            __asm__("" : "+r"(p)); /* keep the row pointers scalar (GCC would build them in a zmm) */
            w[r] = p;
        }
        sums = be_x86_rowdot16(w, x, cw, 16);
        if (sign) {
            __m512i t;
            uint32_t flip, valid;
            be_x86_gt_stage16(op, o0, n, &t, &flip, &valid);
            ((be_word *)out)[o0 / 32u] |= ((((uint32_t)_mm512_cmpgt_epi32_mask(sums, t)) ^ flip) & valid)
                                          << (o0 % 32u);
        } else {
            int32_t acc[16];
            be_status s;
            _mm512_storeu_si512((void *)acc, _mm512_sub_epi32(kv, _mm512_slli_epi32(sums, 1)));
            s = be_stage_put_block(op, out, o0, n, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_dense_bin_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
