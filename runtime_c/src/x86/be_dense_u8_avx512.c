/* be_dense_u8_avx512.c -- Dense on uint8 pixels (first layer), binary or int8 weights, AVX-512 BW.
 *
 * Binary weights: sum_k px_k * w_k = sum(px) - 2 * sum of the pixels whose weight bit is 1; the
 * 64 weight bits of a chunk are used directly as a byte mask (vmovdqu8 with zero-masking) and
 * the selected pixels are summed with vpsadbw. int8 weights: pixels and weights widened to
 * int16 and multiplied-added (vpmaddwd) into 32-bit lanes. 4 rows share every pixel load; the
 * last partial chunk uses masked loads (masked-out bytes are never read). Exact: every partial
 * sum is bounded by the loader's accumulator bound.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

int be_dense_u8_avx512_supports(const be_op *op)
{
    return be_x86_is_u8(op);
}

/* 64 weight bits starting at word 2c of a row of cw words (only words that exist are read). */
static inline __mmask64 bits64(const be_word *row, uint32_t c, uint32_t cw)
{
    uint64_t v = row[2u * c];
    if (2u * c + 1u < cw)
        v |= (uint64_t)row[2u * c + 1u] << 32;
    return (__mmask64)v;
}

#define NEG(i) n##i = _mm512_add_epi64(n##i, _mm512_sad_epu8(_mm512_maskz_mov_epi8(bits64(w##i, c, cw), xv), z))
#define MAC(i) n##i = _mm512_add_epi32(n##i, _mm512_madd_epi16(xv, _mm512_cvtepi8_epi16(LD8(w8##i + 32u * c))))

BE_X86_AVX512 be_status be_dense_u8_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, nout = op->out_ch, rb = op->w_row_bytes;
    const uint8_t *px = (const uint8_t *)in, *wb = (const uint8_t *)op->weights;
    const __m512i z = _mm512_setzero_si512();
    int32_t acc[32];
    uint32_t o0, o, c;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    if (op->weight_kind == BE_WK_BINARY) {
        const uint32_t cw = be_words_for(k), full = k / 64u, rem = k % 64u, chunks = full + (rem != 0u);
        const __mmask64 tail = (__mmask64)(rem ? (((uint64_t)1u << rem) - 1u) : 0u);
        __m512i sv = z;
        int32_t total;
        /* pixels of chunk c (zero beyond K) */
#define PX64(c) ((c) < full ? _mm512_loadu_si512((const void *)(px + 64u * (c))) \
                            : _mm512_maskz_loadu_epi8(tail, (const void *)(px + 64u * (c))))
        for (c = 0; c < chunks; c++)
            sv = _mm512_add_epi64(sv, _mm512_sad_epu8(PX64(c), z));
        total = (int32_t)_mm512_reduce_add_epi64(sv);
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
                __m512i n0 = z, n1 = z, n2 = z, n3 = z;
                int32_t r[4];
                uint32_t i;
                for (c = 0; c < chunks; c++) {
                    const __m512i xv = PX64(c);
                    NEG(0); NEG(1); NEG(2); NEG(3);
                }
                r[0] = total - 2 * (int32_t)_mm512_reduce_add_epi64(n0);
                r[1] = total - 2 * (int32_t)_mm512_reduce_add_epi64(n1);
                r[2] = total - 2 * (int32_t)_mm512_reduce_add_epi64(n2);
                r[3] = total - 2 * (int32_t)_mm512_reduce_add_epi64(n3);
                for (i = 0; i < 4u && o + i < nb; i++)
                    acc[o + i] = r[i];
            }
#undef PX64
            s = be_stage_put_block(op, out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    } else {
        const uint32_t full = k / 32u, rem = k % 32u, chunks = full + (rem != 0u);
        const __mmask64 tail = (__mmask64)(rem ? (((uint64_t)1u << rem) - 1u) : 0u);
#define LD8(p) ((c) < full ? _mm256_loadu_si256((const __m256i *)(const void *)(p)) \
                           : _mm512_castsi512_si256(_mm512_maskz_loadu_epi8(tail, (const void *)(p))))
        for (o0 = 0; o0 < nout; o0 += 32u) {
            const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
            be_status s;
            for (o = 0; o < nb; o += 4u) {
                const uint32_t last = nb - 1u;
                const int8_t *w80 = (const int8_t *)(wb + (size_t)(o0 + o) * rb);
                const int8_t *w81 = (const int8_t *)(wb + (size_t)(o0 + (o + 1u < last ? o + 1u : last)) * rb);
                const int8_t *w82 = (const int8_t *)(wb + (size_t)(o0 + (o + 2u < last ? o + 2u : last)) * rb);
                const int8_t *w83 = (const int8_t *)(wb + (size_t)(o0 + (o + 3u < last ? o + 3u : last)) * rb);
                __m512i n0 = z, n1 = z, n2 = z, n3 = z;
                int32_t r[4];
                uint32_t i;
                for (c = 0; c < chunks; c++) {
                    const __m512i xv = _mm512_cvtepu8_epi16(LD8(px + 32u * c));
                    MAC(0); MAC(1); MAC(2); MAC(3);
                }
                r[0] = _mm512_reduce_add_epi32(n0);
                r[1] = _mm512_reduce_add_epi32(n1);
                r[2] = _mm512_reduce_add_epi32(n2);
                r[3] = _mm512_reduce_add_epi32(n3);
                for (i = 0; i < 4u && o + i < nb; i++)
                    acc[o + i] = r[i];
            }
#undef LD8
            s = be_stage_put_block(op, out, o0, nb, acc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_dense_u8_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
