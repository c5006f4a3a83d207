/* be_conv2d_planes_px_avx2.c -- Conv2d, unsigned bit-plane input with at most 32 channels, stride
 * 1, binary weights, threshold output stage: AVX2 with 8 output positions in the lanes
 * (be_planes_px.h: which ops, the packed images and weights; the method is that of
 * be_conv2d_planes_px_avx512.c).
 *
 * acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)) (weight bit 1 = -1), exactly the
 * reference. Without these layers AVX2 CPUs ran the qrelu VGG's small layers on `popcnt` (scalar
 * 64-bit POPCNT over im2col patches). AVX2 has no vector popcount: per vector of 8 positions and
 * output channel, each group vector (G kernel columns of one plane) is ANDed with the broadcast
 * packed weight word and counted per byte (two VPSHUFB nibble lookups); the byte counts of a
 * plane's groups are added (at most 31 groups: <= 248) and folded into 32-bit lanes
 * (VPMADDUBSW, VPMADDWD) once per plane. popcount(b_p) likewise, once per vector. The threshold
 * stage runs on the 8 positions at once: level = L - #{k : direction * acc < T_k} by VPCMPGTD,
 * each output plane's bit tested and ORed into the output words of 32 channels.
 *
 * Stack: the plane images (at most IMG_WORDS words, 64 KiB), the packed weights (at most
 * WPK_WORDS, 16 KiB) and the group vectors (at most XV_MAX ymm, 2 KiB); no scratch.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"
#include "be_planes_px.h"

#define LANES 8u
#define IMG_WORDS 16384u
#define XV_MAX 64u
#define WPK_WORDS 4096u
#define SIGN_OUT_MAX 512u /* output channels of sign inputs (the sign stage's per-call constants) */
#define TAPS_MAX 31u /* groups per plane whose byte counts one byte holds (31 * 8 <= 255) */

/* Sign inputs as in the AVX-512 row: at most 16 channels on at least 64 output pixels. */
int be_conv2d_planes_px_avx2_supports(const be_op *op)
{
    be_px_geom g;
    return be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 1) &&
           (!be_px_sign_input(op) ||
            (op->in.c <= 16u && (uint64_t)op->out.h * op->out.w >= 64u && op->out_ch <= SIGN_OUT_MAX));
}

/* sum over the groups t of popcount(x[t] XOR w_t) in 32-bit lanes (sign inputs: x[t] holds only
 * its real columns; at most 31 groups: <= 248 per byte) */
/* The group vectors of sign bits for the 8 positions from q0, each with only its real columns */
BE_X86_AVX2 static inline __attribute__((always_inline)) void load_sign_groups(__m256i *xv, const be_word *img,
                                                                              const uint32_t *tofs,
                                                                              const be_word *vmask, uint32_t q0,
                                                                              const uint32_t taps)
{
    uint32_t t;
    BE_X86_UNROLL
    for (t = 0; t < taps; t++)
        xv[t] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(img + tofs[t] + q0)),
                                 _mm256_set1_epi32((int)vmask[t]));
}

BE_X86_AVX2 static inline __attribute__((always_inline)) __m256i count_xor(const __m256i *xv, const be_word *wo,
                                                                          const uint32_t taps)
{
    __m256i a = _mm256_setzero_si256();
    uint32_t t;
    BE_X86_UNROLL
    for (t = 0; t < taps; t++)
        a = _mm256_add_epi8(a, be_x86_popcnt8(_mm256_xor_si256(xv[t], _mm256_set1_epi32((int)wo[t]))));
    return be_x86_bytes_to_dwords(a);
}

/* sum over the planes p of 2^p * sum over the groups t of popcount(x[p][t] AND m_t) in 32-bit
 * lanes, m_t = wo[t] (taps (groups) and planes are constants after inlining) */
BE_X86_AVX2 static inline __attribute__((always_inline)) __m256i count_and(const __m256i *xv, const be_word *wo,
                                                                          const uint32_t taps, const uint32_t planes)
{
    __m256i s = _mm256_setzero_si256();
    uint32_t p, t;
    if (planes == 2u && taps <= 10u) { /* a0 + 2 a1 <= 3 * 8 * 10 in bytes: one fold for both */
        __m256i a = _mm256_setzero_si256();
        BE_X86_UNROLL
        for (t = 0; t < taps; t++) {
            const __m256i w = _mm256_set1_epi32((int)wo[t]);
            const __m256i c1 = be_x86_popcnt8(_mm256_and_si256(xv[taps + t], w));
            a = _mm256_add_epi8(_mm256_add_epi8(a, be_x86_popcnt8(_mm256_and_si256(xv[t], w))), _mm256_add_epi8(c1, c1));
        }
        return be_x86_bytes_to_dwords(a);
    }
    for (p = 0; p < planes; p++) {
        __m256i a = _mm256_setzero_si256();
        BE_X86_UNROLL
        for (t = 0; t < taps; t++)
            a = _mm256_add_epi8(a, be_x86_popcnt8(_mm256_and_si256(xv[p * taps + t], _mm256_set1_epi32((int)wo[t]))));
        s = _mm256_add_epi32(s, _mm256_slli_epi32(be_x86_bytes_to_dwords(a), (int)p));
    }
    return s;
}

BE_X86_AVX2 static inline __attribute__((always_inline)) void
px_run(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
       be_word *out, const uint32_t taps, const uint32_t planes, const int sign, const uint32_t levels,
       const uint32_t oplanes, const int sign_in)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    __m256i xv[XV_MAX];
    be_word res[BE_PX_OUT_PLANES * LANES];
    uint32_t tofs[XV_MAX];
    const __m256i kc = _mm256_set1_epi32((int)(op->kh * op->kw * op->in.c));
    uint32_t q0, t, p, gi, o, k, qp, y0 = 0u, x0 = 0u;
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        __m256i ones = _mm256_setzero_si256();
        if (sign_in) /* sign bits: acc = KH * KW * C - 2 * popcount(x XOR w) */
            load_sign_groups(xv, img, tofs, vmask, q0, taps);
        for (p = 0; p < (sign_in ? 0u : planes); p++) {
            __m256i a = _mm256_setzero_si256();
            BE_X86_UNROLL
            for (t = 0; t < taps; t++) {
                xv[p * taps + t] = _mm256_loadu_si256((const __m256i *)(const void *)(img + tofs[p * taps + t] + q0));
                a = _mm256_add_epi8(a, be_x86_popcnt8(_mm256_and_si256(xv[p * taps + t],
                                                                       _mm256_set1_epi32((int)vmask[t]))));
            }
            ones = _mm256_add_epi32(ones, _mm256_slli_epi32(be_x86_bytes_to_dwords(a), (int)p));
        }
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u;
            __m256i ov[BE_PX_OUT_PLANES];
            for (qp = 0; qp < BE_PX_OUT_PLANES; qp++)
                ov[qp] = _mm256_setzero_si256();
            for (o = 0; o < n; o++) {
                const uint32_t c = o0 + o;
                const __m256i bit = _mm256_set1_epi32((int)(1u << o));
                const __m256i acc =
                    sign_in ? _mm256_sub_epi32(kc, _mm256_slli_epi32(count_xor(xv, wk + (size_t)c * taps, taps), 1))
                            : _mm256_sub_epi32(ones, _mm256_slli_epi32(count_and(xv, wk + (size_t)c * taps, taps, planes), 1));
                /* |acc| <= INT32_MAX (the loader's bound), so the negation does not overflow */
                const __m256i x = dir[c] < 0 ? _mm256_sub_epi32(_mm256_setzero_si256(), acc) : acc;
                const int32_t *tc = thr + (size_t)c * levels;
                if (sign) { /* x < T: level 0 -> -1 -> bit 1 */
                    ov[0] = _mm256_or_si256(ov[0], _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(tc[0]), x), bit));
                } else {
                    /* level = L + sum over k of (T_k > x ? -1 : 0) */
                    __m256i level = _mm256_set1_epi32((int)levels);
                    BE_X86_UNROLL
                    for (k = 0; k < levels; k++)
                        level = _mm256_add_epi32(level, _mm256_cmpgt_epi32(_mm256_set1_epi32(tc[k]), x));
                    BE_X86_UNROLL
                    for (qp = 0; qp < oplanes; qp++) {
                        const __m256i b = _mm256_set1_epi32((int)(1u << qp));
                        ov[qp] = _mm256_or_si256(
                            ov[qp], _mm256_and_si256(_mm256_cmpeq_epi32(_mm256_and_si256(level, b), b), bit));
                    }
                }
            }
            for (qp = 0; qp < oplanes; qp++)
                _mm256_storeu_si256((__m256i *)(void *)(res + qp * LANES), ov[qp]);
            be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
        }
    }
}

/* lanes lo .. hi - 1 (0 <= lo <= hi <= 8) set */
BE_X86_AVX2 static inline __m256i lanes_between(uint32_t lo, uint32_t hi)
{
    static const int32_t first[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_andnot_si256(_mm256_loadu_si256((const __m256i *)(const void *)(first + 8u - lo)),
                               _mm256_loadu_si256((const __m256i *)(const void *)(first + 8u - hi)));
}

/* Output words ov of group gi for the valid lanes of the vector at q0 ((y0, x0) its row and
 * column): with one word per output pixel, each run of valid lanes by one masked store (valid
 * positions are consecutive output pixels); otherwise lane by lane (be_px_store). */
BE_X86_AVX2 static inline void store_runs(const be_op *op, const be_px_geom *g, __m256i ov, uint32_t q0, uint32_t y0,
                                          uint32_t x0, uint32_t gi, be_word *out)
{
    const uint32_t ow = op->out.w;
    uint32_t m = be_px_valid_lanes(op, g, LANES, q0, x0);
    size_t di = (size_t)y0 * ow + (x0 < ow ? x0 : ow); /* output pixel of the first valid lane */
    if (op->out.pixel_bytes == 4u) {
        while (m != 0u) {
            const uint32_t s = (uint32_t)__builtin_ctz(m), len = (uint32_t)__builtin_ctz(~(m >> s));
            if (di < s) /* the store would start before the output: this run lane by lane */
                break;
            _mm256_maskstore_epi32((int *)(void *)(out + di - s), lanes_between(s, s + len), ov);
            di += len;
            m &= ~(((1u << len) - 1u) << s);
        }
        if (m == 0u)
            return;
    }
    {
        be_word res[LANES];
        _mm256_storeu_si256((__m256i *)(void *)res, ov);
        be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
    }
}

/* Sign bits into a sign stage in the popcount domain (be_px_sign_setup), as the AVX-512 row:
 * per channel one VPCMPGTD of D = popcount(x XOR w) (byte counts, folded once) against A. */
BE_X86_AVX2 static inline __attribute__((always_inline)) void
px_sign_run(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
            be_word *out, const uint32_t taps)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    int32_t dthr[SIGN_OUT_MAX];
    uint16_t ord[SIGN_OUT_MAX];
    uint8_t npl[SIGN_OUT_MAX / 32u];
    __m256i xv[XV_MAX];
    uint32_t tofs[XV_MAX];
    uint32_t q0, gi, k, y0 = 0u, x0 = 0u;
    be_px_sign_setup(op, dthr, ord, npl);
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        load_sign_groups(xv, img, tofs, vmask, q0, taps);
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u, np = npl[gi];
            __m256i ov = _mm256_setzero_si256();
            for (k = 0; k < np; k++) {
                const uint32_t c = ord[o0 + k];
                const __m256i m = _mm256_cmpgt_epi32(count_xor(xv, wk + (size_t)c * taps, taps), _mm256_set1_epi32(dthr[c]));
                ov = _mm256_or_si256(ov, _mm256_and_si256(m, _mm256_set1_epi32((int)(1u << (c - o0)))));
            }
            for (; k < n; k++) {
                const uint32_t c = ord[o0 + k];
                const __m256i m = _mm256_cmpgt_epi32(count_xor(xv, wk + (size_t)c * taps, taps), _mm256_set1_epi32(dthr[c]));
                ov = _mm256_or_si256(ov, _mm256_andnot_si256(m, _mm256_set1_epi32((int)(1u << (c - o0)))));
            }
            store_runs(op, g, ov, q0, y0, x0, gi, out);
        }
    }
}

/* be_px_copy_images + be_px_pack_rows for one plane in one pass over the input rows (as in the
 * AVX-512 row: nothing stored is read back soon) */
BE_X86_AVX2 static void image_1plane(const be_op *op, const be_px_geom *g, const be_word *in, be_word *img)
{
    const int32_t w = (int32_t)op->in.w, pl = (int32_t)op->pl, lanes = (int32_t)LANES;
    const __m256i cmask = _mm256_set1_epi32((int)be_last_word_mask(op->in.c));
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    uint32_t y, x, j;
    memset(img, 0, (size_t)op->pt * g->wp * sizeof(be_word));
    memset(img + (size_t)(op->pt + op->in.h) * g->wp, 0, ((size_t)op->pb * g->wp + BE_PX_SLACK) * sizeof(be_word));
    for (y = 0; y < op->in.h; y++) {
        const be_word *s = in + (size_t)y * op->in.w;
        be_word *d = img + (size_t)(y + op->pt) * g->wp;
        for (x = 0; x < g->wp; x += LANES) {
            __m256i v = _mm256_setzero_si256();
            for (j = 0; j < g->gw; j++) {
                const int32_t o = (int32_t)(x + j) - pl; /* input column of lane 0 */
                const int32_t lo = o < 0 ? -o : 0, hi = w - o < lanes ? w - o : lanes;
                __m256i p;
                if (hi <= lo)
                    continue;
                if (o >= 0)
                    p = _mm256_maskload_epi32((const int *)(const void *)(s + o), lanes_between(0u, (uint32_t)hi));
                else /* lanes lo .. hi - 1 hold s[0 .. hi - lo - 1] */
                    p = _mm256_and_si256(
                        _mm256_permutevar8x32_epi32(
                            _mm256_maskload_epi32((const int *)(const void *)s, lanes_between(0u, (uint32_t)(hi - lo))),
                            _mm256_sub_epi32(iota, _mm256_set1_epi32(lo))),
                        lanes_between((uint32_t)lo, (uint32_t)hi));
                v = _mm256_or_si256(v, _mm256_sllv_epi32(_mm256_and_si256(p, cmask), _mm256_set1_epi32((int)(j * op->in.c))));
            }
            _mm256_maskstore_epi32((int *)(void *)(d + x), lanes_between(0u, g->wp - x < LANES ? g->wp - x : LANES), v);
        }
    }
}

/* Instances as in the AVX-512 variant: the qrelu2 VGG's 3x3 layers (3, 6 or 9 groups, 2 planes,
 * 3 thresholds on 2 planes), anything else with every count read at run time. */
#define PX_QRELU2(T)                                                                                     \
    BE_X86_AVX2 static void px_g##T##_p2_l3(const be_op *op, const be_px_geom *g, const be_word *img,     \
                                            const be_word *wk, const be_word *vmask, be_word *out)       \
    {                                                                                                    \
        px_run(op, g, img, wk, vmask, out, T##u, 2u, 0, 3u, 2u, 0);                                      \
    }
PX_QRELU2(3)
PX_QRELU2(6)
PX_QRELU2(9)

/* 3x3 kernels over sign bits into a sign stage: 3 groups (C <= 10), 6 (11 .. 16) */
#define PX_SIGN(T)                                                                                       \
    BE_X86_AVX2 static void px_g##T##_sign(const be_op *op, const be_px_geom *g, const be_word *img,      \
                                           const be_word *wk, const be_word *vmask, be_word *out)        \
    {                                                                                                    \
        px_sign_run(op, g, img, wk, vmask, out, T##u);                                                   \
    }
PX_SIGN(3)
PX_SIGN(6)

BE_X86_AVX2 static void px_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                               const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, g->taps, g->planes, op->encoding == BE_ENC_SIGN, op->levels, op->out.planes,
           be_px_sign_input(op));
}

BE_X86_AVX2 static void px_sign_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                                    const be_word *vmask, be_word *out)
{
    px_sign_run(op, g, img, wk, vmask, out, g->taps);
}

static const be_px_run_fn instances[7] = {px_any,     px_g3_p2_l3, px_g6_p2_l3, px_g9_p2_l3,
                                          px_g3_sign, px_g6_sign,  px_sign_any};

/* words x .. x + n - 1 of a row: word |= word (x + j) << (j * C), j < G (be_px_pack_rows) */
BE_X86_AVX2 static inline void pack8(be_word *row, uint32_t x, uint32_t n, uint32_t gw, uint32_t c)
{
    static const int32_t first[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(row + x));
    uint32_t j;
    for (j = 1u; j < gw; j++)
        v = _mm256_or_si256(v, _mm256_sllv_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(row + x + j)),
                                                 _mm256_set1_epi32((int)(j * c))));
    _mm256_maskstore_epi32((int *)(void *)(row + x),
                           _mm256_loadu_si256((const __m256i *)(const void *)(first + 8u - n)), v);
}

BE_X86_AVX2 be_status be_conv2d_planes_px_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    be_word img[IMG_WORDS], wpk[WPK_WORDS], vmask[XV_MAX];
    const be_word *wk;
    be_px_geom g;
    (void)scratch;
    if (!be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 1))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    if (g.planes == 1u) {
        image_1plane(op, &g, (const be_word *)in, img);
    } else {
        be_px_copy_images(op, &g, (const be_word *)in, img);
        be_px_pack_rows(op, &g, img, LANES, pack8);
    }
    wk = be_px_weights(op, &g, wpk, vmask);
    be_px_pick_sign(op, &g, instances)(op, &g, img, wk, vmask, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_conv2d_planes_px_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
