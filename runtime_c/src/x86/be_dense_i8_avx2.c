/* be_dense_i8_avx2.c -- Dense with int8 weights over u8 / i8 codes (any zero point: a Dense has
 * no padding, so the zero point never enters; every output stage), AVX2.
 *
 * The input is widened to int16 once per chunk of CHUNK elements (a stack buffer, zero past the
 * input); 4 weight rows share every 16-element input vector: per row VPMOVSXBW (16 weights to
 * int16) and VPMADDWD into 32-bit lanes, one horizontal sum per row and chunk. The last partial
 * 16 weights of a row are copied first (nothing is read past a row: it may end the tensor).
 * RequantStage 8 outputs at a time (be_x86_rq8_apply); other stages through be_stage_put_block.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_i8.h"

#define CHUNK 4096u /* input elements widened at a time (8 KiB) */

int be_dense_i8_avx2_supports(const be_op *op)
{
    return be_op_is_int8_layer(op) && op->type == BE_OP_DENSE;
}

/* 16 weights at w to int16; `n` < 16: only n bytes are read, the rest 0 */
BE_X86_I8_AVX2 static inline __m256i wload(const int8_t *w, uint32_t n)
{
    if (n >= 16u)
        return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
    else {
        int8_t t[16];
        memset(t, 0, sizeof t);
        memcpy(t, w, n);
        return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)t));
    }
}

/* the 4 horizontal sums of a, b, c, d (32-bit lanes) */
BE_X86_I8_AVX2 static inline __m128i hsum4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

BE_X86_I8_AVX2 be_status be_dense_i8_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, nout = op->out_ch;
    const uint8_t *px = (const uint8_t *)in;
    const int8_t *wb = (const int8_t *)op->weights;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    __attribute__((aligned(32))) int16_t xb[CHUNK];
    __attribute__((aligned(32))) int32_t acc[32];
    uint32_t o0, o, c0, j, i;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        memset(acc, 0, sizeof acc);
        for (c0 = 0; c0 < k; c0 += CHUNK) {
            const uint32_t n = k - c0 < CHUNK ? k - c0 : CHUNK, n16 = (n + 15u) & ~15u;
            for (j = 0; j < n; j++)
                xb[j] = is_i8 ? (int16_t)(int8_t)px[c0 + j] : (int16_t)px[c0 + j];
            for (; j < n16; j++)
                xb[j] = 0;
            for (o = 0; o < nb; o += 4u) {
                /* rows past the block repeat its last row (computed, not stored) */
                const uint32_t last = nb - 1u;
                const int8_t *w0 = wb + (size_t)(o0 + o) * k + c0;
                const int8_t *w1 = wb + (size_t)(o0 + (o + 1u < last ? o + 1u : last)) * k + c0;
                const int8_t *w2 = wb + (size_t)(o0 + (o + 2u < last ? o + 2u : last)) * k + c0;
                const int8_t *w3 = wb + (size_t)(o0 + (o + 3u < last ? o + 3u : last)) * k + c0;
                __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
                int32_t r[4];
                for (j = 0; j + 16u <= n; j += 16u) {
                    const __m256i xv = _mm256_load_si256((const __m256i *)(const void *)(xb + j));
                    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, wload(w0 + j, 16u)));
                    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, wload(w1 + j, 16u)));
                    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, wload(w2 + j, 16u)));
                    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, wload(w3 + j, 16u)));
                }
                if (j < n) {
                    const __m256i xv = _mm256_load_si256((const __m256i *)(const void *)(xb + j));
                    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, wload(w0 + j, n - j)));
                    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, wload(w1 + j, n - j)));
                    a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, wload(w2 + j, n - j)));
                    a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, wload(w3 + j, n - j)));
                }
                _mm_storeu_si128((__m128i *)(void *)r, hsum4(a0, a1, a2, a3));
                for (i = 0; i < 4u && o + i < nb; i++)
                    acc[o + i] += r[i];
            }
        }
        if (op->stage == BE_STAGE_REQUANT) {
            const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
            const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point);
            const __m256i zp = _mm256_set1_epi32(op->zero_point);
            for (o = 0; o < nb; o += 16u) {
                be_x86_rq8 rq[2];
                const uint32_t nl = nb - o < 16u ? nb - o : 16u;
                be_x86_rq8_prepare(op, o0 + o, nl < 8u ? nl : 8u, &rq[0]);
                be_x86_rq8_prepare(op, o0 + o + 8u, nl > 8u ? nl - 8u : 0u, &rq[1]);
                be_x86_store_codes16(
                    be_x86_rq8_apply(&rq[0], _mm256_load_si256((const __m256i *)(const void *)(acc + o)), lo, hi, zp),
                    be_x86_rq8_apply(&rq[1], _mm256_load_si256((const __m256i *)(const void *)(acc + o + 8u)), lo, hi,
                                     zp),
                    (int8_t *)out + o0 + o, nl);
            }
        } else {
            const be_status s = be_stage_put_block(op, out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_dense_i8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
