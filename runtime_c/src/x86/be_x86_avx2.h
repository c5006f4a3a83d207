/*
 * be_x86_avx2.h -- internal: AVX2 helpers of the x86 variants (included by src/x86 only).
 *
 * Every function here carries target("avx2") and may only be inlined into AVX2 functions.
 * Popcount: the nibble lookup table (vpshufb): a byte's count is lut[lo nibble] + lut[hi
 * nibble]; byte counts are summed in byte lanes (at most 8 per step, so up to 31 steps fit a
 * byte) and then widened.
 */
#ifndef BE_X86_AVX2_H
#define BE_X86_AVX2_H

#include <immintrin.h>

#include "be_x86.h"

#define BE_X86_AVX2 __attribute__((target("avx2")))
#define BE_X86_AVX2_BYTE_STEPS 31u /* popcount steps a byte accumulator holds (31 * 8 <= 255) */

/* Popcount of every byte of v. */
BE_X86_AVX2 static inline __m256i be_x86_popcnt8(__m256i v)
{
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                         2, 2, 3, 2, 3, 3, 4);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/* Byte counts -> sums per 32-bit lane. */
BE_X86_AVX2 static inline __m256i be_x86_bytes_to_dwords(__m256i b)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(b, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
}

/* Sum of the four 64-bit lanes. */
BE_X86_AVX2 static inline uint64_t be_x86_hsum64(__m256i v)
{
    uint64_t a[4];
    _mm256_storeu_si256((__m256i *)(void *)a, v);
    return a[0] + a[1] + a[2] + a[3];
}

/* Unsigned threshold stages (qrelu levels) that be_x86_put8 applies in vector form: at most
 * BE_X86_LEVELS8_MAX thresholds. */
#define BE_X86_LEVELS8_MAX 15u
static inline int be_x86_levels8_stage(const be_op *op)
{
    return be_stage_is_levels(op) && op->levels <= BE_X86_LEVELS8_MAX;
}

/* Threshold-stage constants of output channels [o0, o0 + n), n <= 8: the sign stage's thresholds,
 * the directions (+-1; 0 in lanes beyond n; any threshold stage), valid-lane mask, and for a
 * be_x86_levels8_stage tl[k * 8 + l] = T_k of channel o0 + l (0 beyond n; BE_X86_LEVELS8_MAX * 8
 * entries). */
BE_X86_AVX2 static inline void be_x86_stage8(const be_op *op, uint32_t o0, uint32_t n, __m256i *t, __m256i *d,
                                              uint32_t *valid, int32_t *tl)
{
    int32_t tt[8], dd[8];
    uint32_t l, k;
    memset(tt, 0, sizeof tt);
    memset(dd, 0, sizeof dd);
    if (op->stage == BE_STAGE_THRESHOLD) /* directions: the sign and the unsigned stages */
        for (l = 0; l < n; l++) {
            tt[l] = be_stage_is_sign(op) ? ((const int32_t *)op->stage_b)[o0 + l] : 0;
            dd[l] = ((const int8_t *)op->stage_a)[o0 + l] < 0 ? -1 : 1;
        }
    if (be_x86_levels8_stage(op))
        for (k = 0; k < op->levels; k++)
            for (l = 0; l < 8u; l++)
                tl[k * 8u + l] = l < n ? ((const int32_t *)op->stage_b)[(size_t)(o0 + l) * op->levels + k] : 0;
    *t = _mm256_loadu_si256((const __m256i *)(const void *)tt);
    *d = _mm256_loadu_si256((const __m256i *)(const void *)dd);
    *valid = n >= 8u ? 0xFFu : (1u << n) - 1u;
}

/* Sign stage on the popcount (see be_x86_diff_threshold) of channels [o0, o0 + n), n <= 8:
 * thresholds T', directions (+-1; 0 beyond n), valid-lane mask. */
BE_X86_AVX2 static inline void be_x86_diff_stage8(const be_op *op, uint32_t o0, uint32_t n, __m256i *t, __m256i *d,
                                                   uint32_t *valid)
{
    int32_t tt[8], dd[8];
    uint32_t l;
    memset(tt, 0, sizeof tt);
    memset(dd, 0, sizeof dd);
    for (l = 0; l < n; l++) {
        tt[l] = be_x86_diff_threshold(op, o0 + l);
        dd[l] = ((const int8_t *)op->stage_a)[o0 + l] < 0 ? -1 : 1;
    }
    *t = _mm256_loadu_si256((const __m256i *)(const void *)tt);
    *d = _mm256_loadu_si256((const __m256i *)(const void *)dd);
    *valid = n >= 8u ? 0xFFu : (1u << n) - 1u;
}

/* Output stage of channels [o0, o0 + n) of one output pixel (cleared before) from the 8
 * accumulators in acc (lane l = channel o0 + l), with be_x86_stage8's constants. o0 must be a
 * multiple of 8. A sign stage: bit = direction * acc < t. A be_x86_levels8_stage: level =
 * L - #{k : direction * acc < T_k} per lane, bit q of it into plane q. Other stages per channel. */
BE_X86_AVX2 static inline be_status be_x86_put8(const be_op *op, void *px_out, uint32_t o0, uint32_t n, __m256i acc,
                                                 __m256i t, __m256i d, const int32_t *tl, uint32_t valid)
{
    if (be_stage_is_sign(op)) {
        __m256i x = _mm256_sign_epi32(acc, d); /* direction * acc */
        uint32_t bits = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(t, x))) & valid;
        ((be_word *)px_out)[o0 / 32u] |= bits << (o0 % 32u);
        return BE_OK;
    } else if (be_x86_levels8_stage(op)) {
        const __m256i x = _mm256_sign_epi32(acc, d); /* |acc| <= INT32_MAX: no overflow */
        __m256i level = _mm256_set1_epi32((int)op->levels);
        uint32_t k, q;
        for (k = 0; k < op->levels; k++)
            level = _mm256_add_epi32(level,
                                     _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(tl + 8u * k)), x));
        for (q = 0; q < op->out.planes; q++) {
            const __m256i b = _mm256_set1_epi32((int)(1u << q));
            const uint32_t bits =
                (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(level, b), b))) &
                valid;
            ((be_word *)px_out)[(size_t)q * op->out.cw + o0 / 32u] |= bits << (o0 % 32u);
        }
        return BE_OK;
    } else {
        int32_t a[8];
        _mm256_storeu_si256((__m256i *)(void *)a, acc);
        return be_stage_put_block(op, px_out, o0, n, a);
    }
}

#endif /* BE_X86_AVX2_H */
