/* be_conv2d_planes_px_avx512.c -- Conv2d, unsigned bit-plane input with at most 32 channels, stride
 * 1, binary weights, threshold output stage: AVX-512 VPOPCNTDQ with 16 output positions in the
 * lanes (be_planes_px.h: which ops, the packed images and weights).
 *
 * acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)) (weight bit 1 = -1), exactly the
 * reference. The channel-lane kernel (be_conv2d_planes_avx512.c) puts 16 output channels in a
 * zmm; with 8 or 16 channels of qrelu levels (the small layers of a qrelu VGG) most of those
 * lanes and most of each 32-bit word are empty, and per pixel it lists taps and runs short
 * loops. Here, per vector of 16 positions, the KH * ceil(KW / G) * P group vectors (G kernel
 * columns per word: with 8 channels a 3x3 kernel is 3 groups per plane) are loaded once and
 * popcount(b_p) is counted under each group's mask; per output channel each group is ANDed with
 * the broadcast packed weight word, counted (VPOPCNTD) and added. Padding reads zero words:
 * level 0, nothing to count, as in the reference. The threshold stage runs on the 16 positions at
 * once (level = #{k : direction * acc >= T_k} by compares, its bits ORed into the output words
 * of 32 channels per plane by masked ORs); then the valid positions are stored.
 *
 * Stack: the plane images (at most IMG_WORDS words, 64 KiB), the packed weights (at most
 * WPK_WORDS, 16 KiB) and the group vectors (at most XV_MAX zmm, 8 KiB); no scratch. Other ops
 * (more channels, strides, other stages, larger images) go to the next variant.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"
#include "be_planes_px.h"

#define LANES 16u
#define IMG_WORDS 16384u
#define XV_MAX 128u
#define WPK_WORDS 4096u

int be_conv2d_planes_px_avx512_supports(const be_op *op)
{
    be_px_geom g;
    return be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, XV_MAX);
}

/* sum over the planes p of 2^p * sum over the groups t of popcount(x[p][t] AND w_t), w_t = wo[t]
 * (taps (groups) and planes are constants after inlining: the loops unroll, x stays in registers) */
BE_X86_AVX512 static inline __attribute__((always_inline)) __m512i count_and(const __m512i *xv, const be_word *wo,
                                                                            const uint32_t taps, const uint32_t planes)
{
    __m512i s = _mm512_setzero_si512();
    uint32_t p, t;
    for (p = 0; p < planes; p++) {
        __m512i a = _mm512_setzero_si512();
        BE_X86_UNROLL
        for (t = 0; t < taps; t++)
            a = _mm512_add_epi32(a, _mm512_popcnt_epi32(_mm512_and_si512(
                                        xv[p * taps + t], _mm512_set1_epi32((int)wo[t]))));
        s = _mm512_add_epi32(s, _mm512_slli_epi32(a, p));
    }
    return s;
}

/* One call's work for taps (groups) / planes / stage (constants in the specialised instances,
 * below). wk[o * taps + t]: the (packed) weights; vmask[t]: the bits of group t's real columns. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
px_run(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
       be_word *out, const uint32_t taps, const uint32_t planes, const int sign, const uint32_t levels,
       const uint32_t oplanes)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const __m512i one = _mm512_set1_epi32(1);
    __m512i xv[XV_MAX];
    __attribute__((aligned(64))) be_word res[BE_PX_OUT_PLANES * LANES];
    uint32_t tofs[XV_MAX];
    uint32_t q0, t, p, gi, o, k, qp, y0 = 0u, x0 = 0u;
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        __m512i ones = _mm512_setzero_si512();
        for (p = 0; p < planes; p++) {
            __m512i a = _mm512_setzero_si512();
            BE_X86_UNROLL
            for (t = 0; t < taps; t++) {
                xv[p * taps + t] = _mm512_loadu_si512((const void *)(img + tofs[p * taps + t] + q0));
                /* single columns (G = 1) hold only their C bits: no mask needed */
                a = _mm512_add_epi32(a, _mm512_popcnt_epi32(g->gw == 1u ? xv[p * taps + t]
                                                                        : _mm512_and_si512(xv[p * taps + t],
                                                                                           _mm512_set1_epi32((int)vmask[t]))));
            }
            ones = _mm512_add_epi32(ones, _mm512_slli_epi32(a, p));
        }
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u;
            __m512i ov[BE_PX_OUT_PLANES];
            BE_X86_UNROLL
            for (qp = 0; qp < BE_PX_OUT_PLANES; qp++) /* all: GCC cannot tell the rest is unread */
                ov[qp] = _mm512_setzero_si512();
            for (o = 0; o < n; o++) {
                const uint32_t c = o0 + o;
                const __m512i bit = _mm512_set1_epi32((int)(1u << o));
                const __m512i acc =
                    _mm512_sub_epi32(ones, _mm512_slli_epi32(count_and(xv, wk + (size_t)c * taps, taps, planes), 1));
                /* |acc| <= INT32_MAX (the loader's bound), so the negation does not overflow */
                const __m512i x = dir[c] < 0 ? _mm512_sub_epi32(_mm512_setzero_si512(), acc) : acc;
                const int32_t *tc = thr + (size_t)c * levels;
                if (sign) { /* level 0 -> -1 -> bit 1 */
                    const __mmask16 m = _mm512_cmplt_epi32_mask(x, _mm512_set1_epi32(tc[0]));
                    ov[0] = _mm512_mask_or_epi32(ov[0], m, ov[0], bit);
                } else {
                    __m512i level = _mm512_setzero_si512();
                    BE_X86_UNROLL
                    for (k = 0; k < levels; k++)
                        level = _mm512_mask_add_epi32(level, _mm512_cmpge_epi32_mask(x, _mm512_set1_epi32(tc[k])), level, one);
                    BE_X86_UNROLL
                    for (qp = 0; qp < oplanes; qp++) {
                        const __mmask16 m = _mm512_test_epi32_mask(level, _mm512_set1_epi32((int)(1u << qp)));
                        ov[qp] = _mm512_mask_or_epi32(ov[qp], m, ov[qp], bit);
                    }
                }
            }
            BE_X86_UNROLL
            for (qp = 0; qp < oplanes; qp++)
                _mm512_store_si512((void *)(res + qp * LANES), ov[qp]);
            be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
        }
    }
}

/* Instances: 3x3 kernels on 2 planes into 3 thresholds on 2 planes (the qrelu2 VGG's layers) for
 * 8 channels (3 groups of 3 columns), 16 (6 groups: 2 + 1 columns per row) and 32 (9 single
 * taps); anything else with every count read at run time. */
#define PX_QRELU2(T)                                                                                     \
    BE_X86_AVX512 static void px_g##T##_p2_l3(const be_op *op, const be_px_geom *g, const be_word *img,   \
                                              const be_word *wk, const be_word *vmask, be_word *out)     \
    {                                                                                                    \
        px_run(op, g, img, wk, vmask, out, T##u, 2u, 0, 3u, 2u);                                         \
    }
PX_QRELU2(3)
PX_QRELU2(6)
PX_QRELU2(9)

BE_X86_AVX512 static void px_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                                 const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, g->taps, g->planes, op->encoding == BE_ENC_SIGN, op->levels, op->out.planes);
}

static const be_px_run_fn instances[4] = {px_any, px_g3_p2_l3, px_g6_p2_l3, px_g9_p2_l3};

/* words x .. x + n - 1 of a row: word |= word (x + j) << (j * C), j < G (be_px_pack_rows) */
BE_X86_AVX512 static inline void pack16(be_word *row, uint32_t x, uint32_t n, uint32_t gw, uint32_t c)
{
    __m512i v = _mm512_loadu_si512((const void *)(row + x));
    uint32_t j;
    for (j = 1u; j < gw; j++)
        v = _mm512_or_si512(v, _mm512_sllv_epi32(_mm512_loadu_si512((const void *)(row + x + j)),
                                                 _mm512_set1_epi32((int)(j * c))));
    _mm512_mask_storeu_epi32((void *)(row + x), (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u), v);
}

BE_X86_AVX512 be_status be_conv2d_planes_px_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    __attribute__((aligned(64))) be_word img[IMG_WORDS];
    be_word wpk[WPK_WORDS], vmask[XV_MAX];
    const be_word *wk;
    be_px_geom g;
    (void)scratch;
    if (!be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, XV_MAX))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    be_px_copy_images(op, &g, (const be_word *)in, img);
    be_px_pack_rows(op, &g, img, LANES, pack16);
    wk = be_px_weights(op, &g, wpk, vmask);
    be_px_pick(op, &g, instances)(op, &g, img, wk, vmask, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_conv2d_planes_px_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
