/*
 * be_x86_i8.h -- internal: what the x86 int8-layer variants share (src/x86/be_*_i8_*.c).
 *
 * int8 weights over u8 / i8 codes with a zero point (be_op_is_int8_layer): the accumulator is
 * over the raw codes, padding positions holding the zero point, every partial sum within the
 * loader's bound max|x| * sum |w| <= INT32_MAX. Here:
 *   - padded int16 input rows of one group of channels (the zero point around and outside the
 *     input), so that every receptive field row is one contiguous run of KW * C/g elements;
 *   - int16-pair weights transposed for 16 output channels of a group (VPMADDWD: exact 32-bit
 *     sums of two products, |x * w| <= 255 * 128);
 *   - the RequantStage on 8 lanes: VPMULDQ (32 x 32 -> 64 bits) on the even and odd lanes,
 *     the 64-bit bias B + 2^(s-1), a per-lane arithmetic shift made of VPSRLVQ between two
 *     XORs with the sign (floor((v) / 2^s) = ~(~v >> s) for negative v), clamp, zero point.
 * Stack: these buffers are bounded (BE_X86_I8_*); an op beyond them is not supported by the
 * variant (dispatch falls through to ref).
 */
#ifndef BE_X86_I8_H
#define BE_X86_I8_H

#include <immintrin.h>

#include "be_x86.h"

#define BE_X86_I8_AVX2 __attribute__((target("avx2")))

#define BE_X86_I8_ROW_ELEMS 8190u /* int16 elements of padded rows kept at once (16 KiB, 2 of slack) */
#define BE_X86_I8_PAIRS 1024u     /* int16 pairs of one weight row (KH * ceil(KW * C/g / 2)) */
#define BE_X86_I8_LANES 16u       /* output channels per weight vector pair */

/* Elements of one padded input row of a group: (W + PL + PR) * C/g. */
static inline uint32_t be_x86_i8_row_len(const be_op *op)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u;
    return (op->in.w + op->pl + op->pr) * (op->in.c / groups);
}

/* Output rows per band whose padded input rows fit `capacity` elements; 0 if not one. */
static inline uint32_t be_x86_i8_band_rows(const be_op *op, uint32_t capacity)
{
    const uint32_t fit = capacity / be_x86_i8_row_len(op);
    uint32_t r;
    if (fit < op->kh)
        return 0u;
    r = (fit - op->kh) / op->sh + 1u;
    return r < op->out.h ? r : op->out.h;
}

/* n int16 codes at dst from the bytes at src (u8 or i8); 16 at a time */
BE_X86_I8_AVX2 static inline void be_x86_i8_widen(int16_t *dst, const uint8_t *src, uint32_t n, int is_i8)
{
    uint32_t j = 0u;
    if (is_i8) {
        for (; j + 16u <= n; j += 16u)
            _mm256_storeu_si256((__m256i *)(void *)(dst + j),
                                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + j))));
        for (; j < n; j++)
            dst[j] = (int16_t)(int8_t)src[j];
    } else {
        for (; j + 16u <= n; j += 16u)
            _mm256_storeu_si256((__m256i *)(void *)(dst + j),
                                _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + j))));
        for (; j < n; j++)
            dst[j] = (int16_t)src[j];
    }
}

BE_X86_I8_AVX2 static inline void be_x86_i8_set(int16_t *dst, uint32_t n, int16_t v)
{
    const __m256i vv = _mm256_set1_epi16(v);
    uint32_t j = 0u;
    for (; j + 16u <= n; j += 16u)
        _mm256_storeu_si256((__m256i *)(void *)(dst + j), vv);
    for (; j < n; j++)
        dst[j] = v;
}

/* The padded int16 rows of output rows [oy0, oy0 + n) for group g: buf row r holds input row
 * oy0*SH - PT + r (channels [g*cg, g*cg + cg) of every pixel) with PL zero-point pixels before
 * and PR after, or zero points outside the input; then 2 zero elements (a pair may reach one
 * element past a row segment: its weight half is zero). */
BE_X86_I8_AVX2 static inline void be_x86_i8_band(const be_op *op, const uint8_t *in, uint32_t g, uint32_t oy0,
                                                 uint32_t n, int16_t *buf)
{
    const be_value *vi = &op->in;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, c = vi->c, cg = c / groups;
    const uint32_t rl = be_x86_i8_row_len(op), pl = op->pl * cg, body = vi->w * cg;
    const uint32_t rows = (n - 1u) * op->sh + op->kh;
    const int16_t zp = (int16_t)vi->zero_point;
    const int is_i8 = vi->kind == BE_KIND_I8;
    uint32_t r, x;
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            be_x86_i8_set(buf, rl, zp);
            continue;
        }
        be_x86_i8_set(buf, pl, zp);
        if (cg == c) {
            be_x86_i8_widen(buf + pl, in + (size_t)iy * body, body, is_i8);
        } else {
            const uint8_t *src = in + (size_t)iy * vi->w * c + (size_t)g * cg;
            for (x = 0; x < vi->w; x++, src += c)
                be_x86_i8_widen(buf + pl + x * cg, src, cg, is_i8);
        }
        be_x86_i8_set(buf + pl + body, rl - pl - body, zp);
    }
    buf[0] = buf[1] = 0;
}

/* Transpose the 8 x 8 matrix of 32-bit elements in r[0..7] (row i = r[i]) in place. */
BE_X86_I8_AVX2 static inline void be_x86_i8_transpose8(__m256i *r)
{
    __m256i t[8], u[8];
    int i;
    for (i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 2; i++) {
        u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (i = 0; i < 4; i++) {
        r[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
        r[4 + i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
    }
}

/* int16-pair weights of the output channels [o0, o0 + valid) (valid <= 16, all in one group,
 * zero past them), per kernel row: with S = KW * cg elements per row segment and
 * S2 = ceil(S / 2), dst[(ky * S2 + q) * 16 + l] = w(o0 + l, ky, 2q) | w(o0 + l, ky, 2q + 1) << 16,
 * zero past the segment. Weights (O, KH, KW, cg) int8. 16 elements of 16 rows at a time: widened
 * (VPMOVSXBW: 8 pairs per row), two 8 x 8 transposes of 32-bit pairs. dst 32-byte aligned. */
BE_X86_I8_AVX2 static inline void be_x86_i8_pairs(const be_op *op, uint32_t o0, uint32_t valid, uint32_t *dst)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups;
    const uint32_t seg = op->kw * cg, s2 = (seg + 1u) / 2u;
    uint32_t ky, e0, l, q;
    for (ky = 0; ky < op->kh; ky++)
        for (e0 = 0; e0 < seg; e0 += 16u) {
            const uint32_t n = seg - e0 < 16u ? seg - e0 : 16u, np = (n + 1u) / 2u;
            __m256i r[16];
            for (l = 0; l < 16u; l++) {
                const int8_t *w = (const int8_t *)op->weights + (size_t)(o0 + l) * op->k + (size_t)ky * seg + e0;
                if (l >= valid) {
                    r[l] = _mm256_setzero_si256();
                } else if (n == 16u) {
                    r[l] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
                } else { /* the segment's last elements: nothing past them is read */
                    int8_t t[16];
                    memset(t, 0, sizeof t);
                    memcpy(t, w, n);
                    r[l] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)t));
                }
            }
            be_x86_i8_transpose8(r);
            be_x86_i8_transpose8(r + 8);
            for (q = 0; q < np; q++) {
                uint32_t *d = dst + ((size_t)ky * s2 + e0 / 2u + q) * BE_X86_I8_LANES;
                _mm256_store_si256((__m256i *)(void *)d, r[q]);
                _mm256_store_si256((__m256i *)(void *)(d + 8), r[8 + q]);
            }
        }
}

/* ---------------------------------------------------------------- RequantStage, 8 lanes */

typedef struct be_x86_rq8 {
    __m256i m;      /* multipliers (32-bit lanes) */
    __m256i be, bo; /* B + 2^(s-1) of the even / odd lanes (64-bit) */
    __m256i se, so; /* shifts of the even / odd lanes (64-bit) */
} be_x86_rq8;

/* Constants of channels [o0, o0 + n), n <= 8 (lanes past n: 0, so their result is zp). */
BE_X86_I8_AVX2 static inline void be_x86_rq8_prepare(const be_op *op, uint32_t o0, uint32_t n, be_x86_rq8 *q)
{
    int32_t m[8];
    int64_t b[2][4], s[2][4];
    uint32_t l;
    memset(m, 0, sizeof m);
    memset(b, 0, sizeof b);
    memset(s, 0, sizeof s);
    for (l = 0; l < n; l++) {
        m[l] = ((const int32_t *)op->stage_a)[o0 + l];
        b[l & 1u][l / 2u] = be_rq_bias(op, o0 + l);
        s[l & 1u][l / 2u] = ((const uint8_t *)op->stage_c)[o0 + l];
    }
    q->m = _mm256_loadu_si256((const __m256i *)(const void *)m);
    q->be = _mm256_loadu_si256((const __m256i *)(const void *)b[0]);
    q->bo = _mm256_loadu_si256((const __m256i *)(const void *)b[1]);
    q->se = _mm256_loadu_si256((const __m256i *)(const void *)s[0]);
    q->so = _mm256_loadu_si256((const __m256i *)(const void *)s[1]);
}

/* floor(v / 2^s) per 64-bit lane, then clamped to [lo, hi] */
BE_X86_I8_AVX2 static inline __m256i be_x86_rq_shift_clamp(__m256i v, __m256i s, __m256i lo, __m256i hi)
{
    const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    __m256i r = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), s), sign);
    r = _mm256_blendv_epi8(r, hi, _mm256_cmpgt_epi64(r, hi));
    return _mm256_blendv_epi8(r, lo, _mm256_cmpgt_epi64(lo, r));
}

/* The 8 output codes (int32 lanes, in [-128, 127]) of 8 accumulators; lo / hi: -128 - zp and
 * 127 - zp as 64-bit lanes, zp as 32-bit lanes. */
BE_X86_I8_AVX2 static inline __m256i be_x86_rq8_apply(const be_x86_rq8 *q, __m256i acc, __m256i lo, __m256i hi,
                                                       __m256i zp)
{
    __m256i e = _mm256_add_epi64(_mm256_mul_epi32(acc, q->m), q->be);
    __m256i o = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(q->m, 32)), q->bo);
    e = be_x86_rq_shift_clamp(e, q->se, lo, hi);
    o = be_x86_rq_shift_clamp(o, q->so, lo, hi);
    return _mm256_add_epi32(_mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA), zp);
}

/* 16 codes (two vectors of 8 int32 lanes in [-128, 127]) to bytes; n <= 16 stored at dst. */
BE_X86_I8_AVX2 static inline void be_x86_store_codes16(__m256i a, __m256i b, int8_t *dst, uint32_t n)
{
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8); /* a0..7, b0..7 as int16 */
    const __m128i c = _mm_packs_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    if (n >= 16u) {
        _mm_storeu_si128((__m128i *)(void *)dst, c);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)(void *)tmp, c);
        memcpy(dst, tmp, n);
    }
}

#endif /* BE_X86_I8_H */
