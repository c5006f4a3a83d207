/*
 * be_x86_avx512.h -- internal: AVX-512 helpers of the x86 variants (included by src/x86 only).
 *
 * Every function here carries the target attribute of BE_ISA_AVX512_VPOPCNT (AVX-512 F + BW +
 * VPOPCNTDQ) and may only be inlined into functions with the same attribute.
 */
#ifndef BE_X86_AVX512_H
#define BE_X86_AVX512_H

#include <immintrin.h>

#include "be_x86.h"

#define BE_X86_AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq")))

/* Sign-stage constants of output channels [o0, o0 + n), n <= 16: thresholds, lanes whose
 * direction is -1, valid lanes; the bits are then (direction * acc < t) on the valid lanes.
 * (Unused by other stages.) */
BE_X86_AVX512 static inline void be_x86_stage16(const be_op *op, uint32_t o0, uint32_t n, __m512i *t,
                                                 __mmask16 *neg, __mmask16 *valid)
{
    int32_t tt[16];
    uint32_t l, m = 0u;
    memset(tt, 0, sizeof tt);
    if (be_x86_sign_stage(op)) {
        for (l = 0; l < n; l++) {
            tt[l] = ((const int32_t *)op->stage_b)[o0 + l];
            if (((const int8_t *)op->stage_a)[o0 + l] < 0)
                m |= 1u << l;
        }
    }
    *t = _mm512_loadu_si512((const void *)tt);
    *neg = (__mmask16)m;
    *valid = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
}

/* be_x86_transpose_words for 16 lanes with one gather per word: dst[j * stride + l] = word j
 * of the weight row of channel o0 + l (zero beyond the last channel). */
BE_X86_AVX512 static inline void be_x86_transpose16(const be_op *op, uint32_t o0, uint32_t kwords, be_word *dst,
                                                     uint32_t stride)
{
    const uint32_t n = op->out_ch - o0 < 16u ? op->out_ch - o0 : 16u;
    const __mmask16 valid = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * kwords;
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)kwords));
    uint32_t j;
    for (j = 0; j < kwords; j++)
        _mm512_store_si512((void *)(dst + (size_t)j * stride),
                           _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), valid, idx, (const void *)(w + j), 4));
}

/* Sign stage on the popcount (see be_x86_diff_threshold) of channels [o0, o0 + n), n <= 16:
 * thresholds T', lanes whose direction is -1, valid lanes. */
BE_X86_AVX512 static inline void be_x86_diff_stage16(const be_op *op, uint32_t o0, uint32_t n, __m512i *t,
                                                      __mmask16 *neg, __mmask16 *valid)
{
    int32_t tt[16];
    uint32_t l, m = 0u;
    memset(tt, 0, sizeof tt);
    for (l = 0; l < n; l++) {
        tt[l] = be_x86_diff_threshold(op, o0 + l);
        if (((const int8_t *)op->stage_a)[o0 + l] < 0)
            m |= 1u << l;
    }
    *t = _mm512_loadu_si512((const void *)tt);
    *neg = (__mmask16)m;
    *valid = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
}

#endif /* BE_X86_AVX512_H */
