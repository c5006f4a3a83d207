/* be_dense_bin_avx2.c -- Dense, sign bits x binary weights, AVX2.
 *
 * Each output is the dot product of the input row with one weight row: 256 bits per step,
 * popcount by nibble lookup (vpshufb) into byte accumulators that are summed into 64-bit lanes
 * (vpsadbw) every 31 steps; 4 rows share every input load; the last partial vector uses
 * vpmaskmovd (masked-out words are never read). acc = K - 2 * popcount(x XOR w).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"

int be_dense_bin_avx2_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op);
}

#define LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define MLOAD(p) _mm256_maskload_epi32((const int *)(const void *)(p), tail)
#define STEP(i, xv, wv) b##i = _mm256_add_epi8(b##i, be_x86_popcnt8(_mm256_xor_si256(xv, wv)))
#define FLUSH(i)                                                        \
    do {                                                                \
        s##i = _mm256_add_epi64(s##i, _mm256_sad_epu8(b##i, _mm256_setzero_si256())); \
        b##i = _mm256_setzero_si256();                                  \
    } while (0)

BE_X86_AVX2 be_status be_dense_bin_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t cw = op->in.cw, rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const uint32_t full = cw / 8u, rem = cw % 8u;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    int32_t acc[32];
    uint32_t o0, o, c, steps;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        be_status s;
        for (o = 0; o + 4u <= nb; o += 4u) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw, *w1 = w0 + rw, *w2 = w1 + rw, *w3 = w2 + rw;
            __m256i b0 = _mm256_setzero_si256(), b1 = b0, b2 = b0, b3 = b0, s0 = b0, s1 = b0, s2 = b0, s3 = b0;
            for (c = 0, steps = 0; c < full; c++) {
                const __m256i xv = LOAD(x + 8u * c);
                STEP(0, xv, LOAD(w0 + 8u * c));
                STEP(1, xv, LOAD(w1 + 8u * c));
                STEP(2, xv, LOAD(w2 + 8u * c));
                STEP(3, xv, LOAD(w3 + 8u * c));
                if (++steps == BE_X86_AVX2_BYTE_STEPS) {
                    FLUSH(0); FLUSH(1); FLUSH(2); FLUSH(3);
                    steps = 0;
                }
            }
            if (rem) {
                const __m256i xv = MLOAD(x + 8u * full);
                STEP(0, xv, MLOAD(w0 + 8u * full));
                STEP(1, xv, MLOAD(w1 + 8u * full));
                STEP(2, xv, MLOAD(w2 + 8u * full));
                STEP(3, xv, MLOAD(w3 + 8u * full));
            }
            FLUSH(0); FLUSH(1); FLUSH(2); FLUSH(3);
            acc[o] = (int32_t)op->k - 2 * (int32_t)be_x86_hsum64(s0);
            acc[o + 1u] = (int32_t)op->k - 2 * (int32_t)be_x86_hsum64(s1);
            acc[o + 2u] = (int32_t)op->k - 2 * (int32_t)be_x86_hsum64(s2);
            acc[o + 3u] = (int32_t)op->k - 2 * (int32_t)be_x86_hsum64(s3);
        }
        for (; o < nb; o++) {
            const be_word *w0 = wts + (size_t)(o0 + o) * rw;
            __m256i b0 = _mm256_setzero_si256(), s0 = b0;
            for (c = 0, steps = 0; c < full; c++) {
                STEP(0, LOAD(x + 8u * c), LOAD(w0 + 8u * c));
                if (++steps == BE_X86_AVX2_BYTE_STEPS) {
                    FLUSH(0);
                    steps = 0;
                }
            }
            if (rem)
                STEP(0, MLOAD(x + 8u * full), MLOAD(w0 + 8u * full));
            FLUSH(0);
            acc[o] = (int32_t)op->k - 2 * (int32_t)be_x86_hsum64(s0);
        }
        s = be_stage_put_block(op, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_bin_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
