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
    if (be_stage_is_sign(op)) {
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

/* Transpose a 16 x 16 matrix of 32-bit words held in r[0..15] (row i = r[i]) in place:
 * afterwards r[j] holds column j. Three shuffle levels, 64 shuffles in all: 32-bit and 64-bit
 * interleaves inside 128-bit lanes, then two 128-bit lane exchanges. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void be_x86_transpose16x16(__m512i *r)
{
    __m512i t[16], u[16];
    int i, g, c;
    BE_X86_UNROLL
    for (i = 0; i < 8; i++) { /* t[2i] lane k: r[2i][4k], r[2i+1][4k], r[2i][4k+1], r[2i+1][4k+1] */
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    BE_X86_UNROLL
    for (g = 0; g < 4; g++) { /* u[4g + c] lane k: rows 4g..4g+3 of column 4k + c */
        u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    BE_X86_UNROLL
    for (c = 0; c < 4; c++) { /* 4 x 4 transpose of the 128-bit lanes of u[c], u[4+c], u[8+c], u[12+c] */
        const __m512i x0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88), x1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
        const __m512i x2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        const __m512i x3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_i32x4(x0, x2, 0x88);      /* column c */
        r[4 + c] = _mm512_shuffle_i32x4(x1, x3, 0x88);  /* column 4 + c */
        r[8 + c] = _mm512_shuffle_i32x4(x0, x2, 0xDD);  /* column 8 + c */
        r[12 + c] = _mm512_shuffle_i32x4(x1, x3, 0xDD); /* column 12 + c */
    }
}

/* Transposed sign weights of the 16 output channels [o0, o0 + 16): dst[j * stride + l] = word
 * j of the weight row (kwords words) of channel o0 + l, zero beyond the last channel. 16 x 16
 * blocks through registers (masked loads for the last words of a row); dst 64-byte aligned,
 * stride a multiple of 16. */
BE_X86_AVX512 static inline void be_x86_transpose16(const be_op *op, uint32_t o0, uint32_t kwords, be_word *dst,
                                                     uint32_t stride)
{
    const uint32_t n = op->out_ch - o0 < 16u ? op->out_ch - o0 : 16u;
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * kwords;
    uint32_t j0, l, j;
    for (j0 = 0; j0 < kwords; j0 += 16u) {
        const uint32_t m = kwords - j0 < 16u ? kwords - j0 : 16u;
        const __mmask16 k = (__mmask16)(m >= 16u ? 0xFFFFu : (1u << m) - 1u);
        __m512i r[16];
        for (l = 0; l < 16u; l++)
            r[l] = l < n ? _mm512_maskz_loadu_epi32(k, (const void *)(w + (size_t)l * kwords + j0))
                         : _mm512_setzero_si512();
        be_x86_transpose16x16(r);
        for (j = 0; j < m; j++)
            _mm512_store_si512((void *)(dst + (size_t)(j0 + j) * stride), r[j]);
    }
}

/* Sign-stage constants of channels [o0, o0 + n), n <= 16, for "bit = (diff > T2) XOR flip"
 * (be_x86_gt_threshold), computed in vector form: t clamped to [-K, K + 1] first (acc lies in
 * [-K, K], so the comparisons do not change and nothing below overflows int32), then
 * T' = (K - t) >> 1 or (-(K + t)) >> 1 (arithmetic shift = floor) and T2 = T' or ~T' = -T' - 1.
 * Returns the T2 vector and the flip and valid bits of the 16 lanes. */
BE_X86_AVX512 static inline void be_x86_gt_stage16(const be_op *op, uint32_t o0, uint32_t n, __m512i *t,
                                                    uint32_t *flip, uint32_t *valid)
{
    const __mmask16 m = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
    const __m512i k = _mm512_set1_epi32((int)op->k);
    const __m512i tv = _mm512_maskz_loadu_epi32(m, (const void *)((const int32_t *)op->stage_b + o0));
    const __m512i dv = _mm512_cvtepi8_epi32(_mm512_castsi512_si128(
        _mm512_maskz_loadu_epi8((__mmask64)m, (const void *)((const int8_t *)op->stage_a + o0))));
    const __m512i tc = _mm512_min_epi32(_mm512_max_epi32(tv, _mm512_sub_epi32(_mm512_setzero_si512(), k)),
                                        _mm512_add_epi32(k, _mm512_set1_epi32(1)));
    const __mmask16 neg = _mm512_mask_cmplt_epi32_mask(m, dv, _mm512_setzero_si512());
    const __m512i pos_t = _mm512_srai_epi32(_mm512_sub_epi32(k, tc), 1);
    const __m512i neg_t = _mm512_srai_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(k, tc)), 1);
    *t = _mm512_mask_mov_epi32(pos_t, neg, _mm512_xor_si512(neg_t, _mm512_set1_epi32(-1)));
    *flip = (uint32_t)neg;
    *valid = (uint32_t)m;
}

/* Horizontal sums of 16 vectors at once: lane i of the result = sum of the 16 int32 lanes of
 * v[i] (45 instructions instead of 16 separate reductions). */
BE_X86_AVX512 static inline __attribute__((always_inline)) __m512i be_x86_hsum16(const __m512i *v)
{
    __m512i t[8], u[4], x, y;
    int i;
    BE_X86_UNROLL
    for (i = 0; i < 8; i++) /* 128-bit lane k: partial sums of v[2i] and v[2i+1], interleaved */
        t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    BE_X86_UNROLL
    for (i = 0; i < 4; i++) /* 128-bit lane k: partial sums of v[4i..4i+3] */
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                                _mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
    x = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88), _mm512_shuffle_i32x4(u[0], u[1], 0xDD));
    y = _mm512_add_epi32(_mm512_shuffle_i32x4(u[2], u[3], 0x88), _mm512_shuffle_i32x4(u[2], u[3], 0xDD));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(x, y, 0x88), _mm512_shuffle_i32x4(x, y, 0xDD));
}

/* Row-major binary dot products (no rearrangement of weights or inputs): popcount(x XOR w) of
 * 16 (weight row, input row) pairs over n words, 512 bits per XOR + VPOPCNTD + add, the last
 * partial vector by masked loads (masked-out words are never read). R weight rows w[r] against
 * P = 16 / R input rows x[p]: 16 x 1, 8 x 2 or 4 x 4 (R a constant after inlining), so that each
 * loaded vector feeds P or R triples. Returns the 16 sums, lane p * R + r. */
#define BE_X86_RD(i, xv, wv) a[i] = _mm512_add_epi32(a[i], _mm512_popcnt_epi32(_mm512_xor_si512(xv, wv)))
BE_X86_AVX512 static inline __attribute__((always_inline)) __m512i
be_x86_rowdot16(const be_word *const *w, const be_word *const *x, uint32_t n, const int R)
{
    const int P = 16 / R;
    const uint32_t full = n / 16u, rem = n % 16u;
    const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
    __m512i a[16], xv[4], wv;
    uint32_t c;
    int r, p;
    BE_X86_UNROLL
    for (r = 0; r < 16; r++)
        a[r] = _mm512_setzero_si512();
    for (c = 0; c < full; c++) {
        const size_t o = (size_t)c * 16u;
        BE_X86_UNROLL
        for (p = 0; p < P; p++)
            xv[p] = _mm512_loadu_si512((const void *)(x[p] + o));
        BE_X86_UNROLL
        for (r = 0; r < R; r++) {
            wv = _mm512_loadu_si512((const void *)(w[r] + o));
            BE_X86_UNROLL
            for (p = 0; p < P; p++)
                BE_X86_RD(p * R + r, xv[p], wv);
        }
    }
    if (rem) {
        const size_t o = (size_t)full * 16u;
        BE_X86_UNROLL
        for (p = 0; p < P; p++)
            xv[p] = _mm512_maskz_loadu_epi32(tail, (const void *)(x[p] + o));
        BE_X86_UNROLL
        for (r = 0; r < R; r++) {
            wv = _mm512_maskz_loadu_epi32(tail, (const void *)(w[r] + o));
            BE_X86_UNROLL
            for (p = 0; p < P; p++)
                BE_X86_RD(p * R + r, xv[p], wv);
        }
    }
    return be_x86_hsum16(a);
}

#endif /* BE_X86_AVX512_H */
