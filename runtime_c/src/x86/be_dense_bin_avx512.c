/* be_dense_bin_avx512.c -- Dense, sign bits x binary weights, AVX-512 VPOPCNTDQ.
 *
 * Each output is the dot product of the input row with one weight row: 512 bits per
 * XOR + VPOPCNTQ + add, 4 rows sharing every input load, masked loads for the last partial
 * vector (K not a multiple of 512; masked-out words are never read), one horizontal sum per
 * row. acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

int be_dense_bin_avx512_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

#define DIFF(i, xv, wp) s##i = _mm512_add_epi64(s##i, _mm512_popcnt_epi64(_mm512_xor_si512(xv, wp)))

BE_X86_AVX512 be_status be_dense_bin_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t cw = op->in.cw, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const uint32_t full = cw / 16u, rem = cw % 16u;
    const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    int32_t acc[32];
    uint32_t o0, o, c;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        be_status s;
        for (o = 0; o + 4u <= nb; o += 4u) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw, *w1 = w0 + rw, *w2 = w1 + rw, *w3 = w2 + rw;
            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
            for (c = 0; c < full; c++) {
                const __m512i xv = _mm512_loadu_si512((const void *)(x + 16u * c));
                DIFF(0, xv, _mm512_loadu_si512((const void *)(w0 + 16u * c)));
                DIFF(1, xv, _mm512_loadu_si512((const void *)(w1 + 16u * c)));
                DIFF(2, xv, _mm512_loadu_si512((const void *)(w2 + 16u * c)));
                DIFF(3, xv, _mm512_loadu_si512((const void *)(w3 + 16u * c)));
            }
            if (rem) {
                const __m512i xv = _mm512_maskz_loadu_epi32(tail, (const void *)(x + 16u * full));
                DIFF(0, xv, _mm512_maskz_loadu_epi32(tail, (const void *)(w0 + 16u * full)));
                DIFF(1, xv, _mm512_maskz_loadu_epi32(tail, (const void *)(w1 + 16u * full)));
                DIFF(2, xv, _mm512_maskz_loadu_epi32(tail, (const void *)(w2 + 16u * full)));
                DIFF(3, xv, _mm512_maskz_loadu_epi32(tail, (const void *)(w3 + 16u * full)));
            }
            acc[o] = (int32_t)op->k - 2 * (int32_t)_mm512_reduce_add_epi64(s0);
            acc[o + 1u] = (int32_t)op->k - 2 * (int32_t)_mm512_reduce_add_epi64(s1);
            acc[o + 2u] = (int32_t)op->k - 2 * (int32_t)_mm512_reduce_add_epi64(s2);
            acc[o + 3u] = (int32_t)op->k - 2 * (int32_t)_mm512_reduce_add_epi64(s3);
        }
        for (; o < nb; o++) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw;
            __m512i s0 = _mm512_setzero_si512();
            for (c = 0; c < full; c++)
                DIFF(0, _mm512_loadu_si512((const void *)(x + 16u * c)),
                     _mm512_loadu_si512((const void *)(w0 + 16u * c)));
            if (rem)
                DIFF(0, _mm512_maskz_loadu_epi32(tail, (const void *)(x + 16u * full)),
                     _mm512_maskz_loadu_epi32(tail, (const void *)(w0 + 16u * full)));
            acc[o] = (int32_t)op->k - 2 * (int32_t)_mm512_reduce_add_epi64(s0);
        }
        s = be_x86_put(op, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_bin_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
