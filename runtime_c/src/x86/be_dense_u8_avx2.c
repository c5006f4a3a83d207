/* be_dense_u8_avx2.c -- Dense on uint8 pixels (first layer), binary or int8 weights, AVX2.
 *
 * Binary weights: sum_k px_k * w_k = sum(px) - 2 * sum of the pixels whose weight bit is 1; each
 * 32-bit weight word is expanded to a 32-byte mask (broadcast, vpshufb, and, compare), the
 * selected pixels are summed with vpsadbw. int8 weights: widened to int16 and multiplied-added
 * (vpmaddwd) into 32-bit lanes. 4 rows share every pixel load; the last partial chunk of pixels
 * is copied into a zero-padded buffer (nothing is read beyond the input). Exact.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"

int be_dense_u8_avx2_supports(const be_op *op)
{
    return be_x86_is_u8(op);
}

/* 32 weight bits -> 32 bytes, 0xFF where the bit is 1. */
BE_X86_AVX2 static inline __m256i expand_bits(be_word w)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                                          3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

#define LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define NEG(i) n##i = _mm256_add_epi64(n##i, _mm256_sad_epu8(_mm256_and_si256(expand_bits(w##i[c]), xv), z))
#define MAC(i) n##i = _mm256_add_epi32(n##i, _mm256_madd_epi16(xv, _mm256_cvtepi8_epi16(_mm_loadu_si128( \
                                                                    (const __m128i *)(const void *)(w8##i + 16u * c)))))

BE_X86_AVX2 static inline int32_t hsum32(__m256i v)
{
    int32_t a[8];
    _mm256_storeu_si256((__m256i *)(void *)a, v);
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

BE_X86_AVX2 be_status be_dense_u8_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, nout = op->out_ch, rb = op->w_row_bytes;
    const uint8_t *px = (const uint8_t *)in, *wb = (const uint8_t *)op->weights;
    const __m256i z = _mm256_setzero_si256();
    int32_t acc[32];
    uint32_t o0, o, c, i;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    if (op->weight_kind == BE_WK_BINARY) {
        const uint32_t full = k / 32u, rem = k % 32u, chunks = full + (rem != 0u);
        __attribute__((aligned(32))) uint8_t last_px[32];
        __m256i sv = z;
        int32_t total;
        memset(last_px, 0, sizeof last_px);
        if (rem)
            memcpy(last_px, px + 32u * full, rem);
#define PX32(c) LOAD((c) < full ? px + 32u * (c) : last_px)
        for (c = 0; c < chunks; c++)
            sv = _mm256_add_epi64(sv, _mm256_sad_epu8(PX32(c), z));
        total = (int32_t)be_x86_hsum64(sv);
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            for (o = 0; o < nb; o += 4u) {
                /* rows beyond the block repeat its last row (computed, not stored) */
                const uint32_t last = nb - 1u;
                const be_word *w0 = (const be_word *)(wb + (size_t)(o0 + o) * rb);
                const be_word *w1 = (const be_word *)(wb + (size_t)(o0 + (o + 1u < last ? o + 1u : last)) * rb);
                const be_word *w2 = (const be_word *)(wb + (size_t)(o0 + (o + 2u < last ? o + 2u : last)) * rb);
                const be_word *w3 = (const be_word *)(wb + (size_t)(o0 + (o + 3u < last ? o + 3u : last)) * rb);
                __m256i n0 = z, n1 = z, n2 = z, n3 = z;
                int32_t r[4];
                for (c = 0; c < chunks; c++) {
                    const __m256i xv = PX32(c);
                    NEG(0); NEG(1); NEG(2); NEG(3);
                }
                r[0] = total - 2 * (int32_t)be_x86_hsum64(n0);
                r[1] = total - 2 * (int32_t)be_x86_hsum64(n1);
                r[2] = total - 2 * (int32_t)be_x86_hsum64(n2);
                r[3] = total - 2 * (int32_t)be_x86_hsum64(n3);
                for (i = 0; i < 4u && o + i < nb; i++)
                    acc[o + i] = r[i];
            }
#undef PX32
            s = be_stage_put_block(op, out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    } else {
        const uint32_t full = k / 16u;
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            for (o = 0; o < nb; o += 4u) {
                const uint32_t last = nb - 1u;
                const int8_t *w80 = (const int8_t *)(wb + (size_t)(o0 + o) * rb);
                const int8_t *w81 = (const int8_t *)(wb + (size_t)(o0 + (o + 1u < last ? o + 1u : last)) * rb);
                const int8_t *w82 = (const int8_t *)(wb + (size_t)(o0 + (o + 2u < last ? o + 2u : last)) * rb);
                const int8_t *w83 = (const int8_t *)(wb + (size_t)(o0 + (o + 3u < last ? o + 3u : last)) * rb);
                const int8_t *wr[4];
                __m256i n0 = z, n1 = z, n2 = z, n3 = z;
                int32_t r[4];
                uint32_t j;
                for (c = 0; c < full; c++) {
                    const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(px + 16u * c)));
                    MAC(0); MAC(1); MAC(2); MAC(3);
                }
                r[0] = hsum32(n0);
                r[1] = hsum32(n1);
                r[2] = hsum32(n2);
                r[3] = hsum32(n3);
                wr[0] = w80; wr[1] = w81; wr[2] = w82; wr[3] = w83;
                for (i = 0; i < 4u; i++)
                    for (j = 16u * full; j < k; j++)
                        r[i] += (int32_t)px[j] * (int32_t)wr[i][j];
                for (i = 0; i < 4u && o + i < nb; i++)
                    acc[o + i] = r[i];
            }
            s = be_stage_put_block(op, out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_dense_u8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
