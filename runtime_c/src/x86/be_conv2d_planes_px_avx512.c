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
#define SIGN_OUT_MAX 512u            /* output channels of sign inputs (the sign stage's per-call constants) */

/* Sign inputs: at most 16 channels on at least 64 output pixels, where this row (ahead of the
 * channel-lane kernel) measured faster; other sign convs go to the channel lanes
 * (docs/kernels.md, "x86: sign bits in position lanes"). */
int be_conv2d_planes_px_avx512_supports(const be_op *op)
{
    be_px_geom g;
    return be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, XV_MAX, 1) &&
           (!be_px_sign_input(op) ||
            (op->in.c <= 16u && (uint64_t)op->out.h * op->out.w >= 64u && op->out_ch <= SIGN_OUT_MAX));
}

/* Store the output words ov[0 .. oplanes) (group gi) of the valid lanes vmk of the vector at q0
 * ((y0, x0) its row and column): with one word per output pixel, or two planes of one word, the
 * valid lanes compressed and stored at once (their pixels are consecutive from y0 * OW +
 * min(x0, OW)); otherwise lane by lane (be_px_store). */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
store_vec(const be_op *op, const be_px_geom *g, const __m512i *ov, uint32_t oplanes, __mmask16 vmk, uint32_t q0,
          uint32_t y0, uint32_t x0, uint32_t gi, be_word *out)
{
    const uint32_t pxw = op->out.pixel_bytes / 4u, ow = op->out.w;
    be_word *d = out + ((size_t)y0 * ow + (x0 < ow ? x0 : ow)) * pxw;
    const uint32_t n = (uint32_t)__builtin_popcount((unsigned)vmk);
    if (pxw == 1u) {
        _mm512_mask_storeu_epi32((void *)d, (__mmask16)((1u << n) - 1u), _mm512_maskz_compress_epi32(vmk, ov[0]));
    } else if (pxw == 2u && oplanes == 2u) { /* interleave the planes: pixel i -> words 2 i, 2 i + 1 */
        const __m512i c0 = _mm512_maskz_compress_epi32(vmk, ov[0]), c1 = _mm512_maskz_compress_epi32(vmk, ov[1]);
        const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
        const uint32_t n2 = 2u * n;
        _mm512_mask_storeu_epi32((void *)d, (__mmask16)(n2 >= 16u ? 0xFFFFu : (1u << n2) - 1u),
                                 _mm512_permutex2var_epi32(c0, lo, c1));
        _mm512_mask_storeu_epi32((void *)(d + 16), (__mmask16)(n2 > 16u ? (1u << (n2 - 16u)) - 1u : 0u),
                                 _mm512_permutex2var_epi32(c0, hi, c1));
    } else {
        __attribute__((aligned(64))) be_word res[BE_PX_OUT_PLANES * LANES];
        uint32_t qp;
        for (qp = 0; qp < oplanes; qp++)
            _mm512_store_si512((void *)(res + qp * LANES), ov[qp]);
        be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
    }
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

/* The group vectors of sign bits for the 16 positions from q0, each with only its real columns
 * (for every channel's XOR) */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
load_sign_groups(__m512i *xv, const be_px_geom *g, const be_word *img, const uint32_t *tofs, const be_word *vmask,
                 uint32_t q0, const uint32_t taps)
{
    uint32_t t;
    BE_X86_UNROLL
    for (t = 0; t < taps; t++) {
        xv[t] = _mm512_loadu_si512((const void *)(img + tofs[t] + q0));
        if (g->gw > 1u)
            xv[t] = _mm512_and_si512(xv[t], _mm512_set1_epi32((int)vmask[t]));
    }
}

/* sum over the groups t of popcount(x[t] XOR w_t) (sign inputs: x[t] holds only its real columns) */
BE_X86_AVX512 static inline __attribute__((always_inline)) __m512i count_xor(const __m512i *xv, const be_word *wo,
                                                                            const uint32_t taps)
{
    __m512i a = _mm512_setzero_si512();
    uint32_t t;
    BE_X86_UNROLL
    for (t = 0; t < taps; t++)
        a = _mm512_add_epi32(a, _mm512_popcnt_epi32(_mm512_xor_si512(xv[t], _mm512_set1_epi32((int)wo[t]))));
    return a;
}

/* One call's work for taps (groups) / planes / stage / input kind (constants in the specialised
 * instances, below). wk[o * taps + t]: the (packed) weights; vmask[t]: the bits of group t's real
 * columns. sign_in: sign-bit input (one plane), acc = KH * KW * C - 2 * popcount(x XOR w). */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
px_run(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
       be_word *out, const uint32_t taps, const uint32_t planes, const int sign, const uint32_t levels,
       const uint32_t oplanes, const int sign_in)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const __m512i one = _mm512_set1_epi32(1);
    __m512i xv[XV_MAX];
    uint32_t tofs[XV_MAX];
    const __m512i kc = _mm512_set1_epi32((int)(op->kh * op->kw * op->in.c));
    uint32_t q0, t, p, gi, o, k, qp, y0 = 0u, x0 = 0u;
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        const __mmask16 vmk = (__mmask16)be_px_valid_lanes(op, g, LANES, q0, x0);
        __m512i ones = _mm512_setzero_si512();
        if (sign_in)
            load_sign_groups(xv, g, img, tofs, vmask, q0, taps);
        for (p = 0; p < (sign_in ? 0u : planes); p++) {
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
                    sign_in ? _mm512_sub_epi32(kc, _mm512_slli_epi32(count_xor(xv, wk + (size_t)c * taps, taps), 1))
                            : _mm512_sub_epi32(ones, _mm512_slli_epi32(count_and(xv, wk + (size_t)c * taps, taps, planes), 1));
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
            store_vec(op, g, ov, oplanes, vmk, q0, y0, x0, gi, out);
        }
    }
}

/* Sign bits into a sign stage, in the popcount domain (be_px_sign_setup): per channel one
 * compare of D = popcount(x XOR w) over the receptive field, the channels of direction +1 first.
 * taps: constant in the 3x3 instances. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
px_sign_run(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
            be_word *out, const uint32_t taps)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    int32_t dthr[SIGN_OUT_MAX];
    uint16_t ord[SIGN_OUT_MAX];
    uint8_t npl[SIGN_OUT_MAX / 32u];
    __m512i xv[XV_MAX];
    uint32_t tofs[XV_MAX];
    uint32_t q0, gi, k, y0 = 0u, x0 = 0u;
    be_px_sign_setup(op, dthr, ord, npl);
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        const __mmask16 vmk = (__mmask16)be_px_valid_lanes(op, g, LANES, q0, x0);
        load_sign_groups(xv, g, img, tofs, vmask, q0, taps);
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u, np = npl[gi];
            __m512i ov = _mm512_setzero_si512();
            for (k = 0; k < np; k++) {
                const uint32_t c = ord[o0 + k];
                const __mmask16 m = _mm512_cmpgt_epi32_mask(count_xor(xv, wk + (size_t)c * taps, taps),
                                                            _mm512_set1_epi32(dthr[c]));
                ov = _mm512_mask_or_epi32(ov, m, ov, _mm512_set1_epi32((int)(1u << (c - o0))));
            }
            for (; k < n; k++) {
                const uint32_t c = ord[o0 + k];
                const __mmask16 m = _mm512_cmple_epi32_mask(count_xor(xv, wk + (size_t)c * taps, taps),
                                                            _mm512_set1_epi32(dthr[c]));
                ov = _mm512_mask_or_epi32(ov, m, ov, _mm512_set1_epi32((int)(1u << (c - o0))));
            }
            store_vec(op, g, &ov, 1u, vmk, q0, y0, x0, gi, out);
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
        px_run(op, g, img, wk, vmask, out, T##u, 2u, 0, 3u, 2u, 0);                                      \
    }
PX_QRELU2(3)
PX_QRELU2(6)
PX_QRELU2(9)

/* 3x3 kernels over sign bits into a sign stage (the sign VGG's small layers): 3 groups (C <= 10),
 * 6 (11 .. 16) */
#define PX_SIGN(T)                                                                                       \
    BE_X86_AVX512 static void px_g##T##_sign(const be_op *op, const be_px_geom *g, const be_word *img,    \
                                             const be_word *wk, const be_word *vmask, be_word *out)      \
    {                                                                                                    \
        px_sign_run(op, g, img, wk, vmask, out, T##u);                                                   \
    }
PX_SIGN(3)
PX_SIGN(6)

BE_X86_AVX512 static void px_sign_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                                      const be_word *vmask, be_word *out)
{
    px_sign_run(op, g, img, wk, vmask, out, g->taps);
}

BE_X86_AVX512 static void px_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                                 const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, g->taps, g->planes, op->encoding == BE_ENC_SIGN, op->levels, op->out.planes,
           be_px_sign_input(op));
}

static const be_px_run_fn instances[7] = {px_any,     px_g3_p2_l3, px_g6_p2_l3, px_g9_p2_l3,
                                          px_g3_sign, px_g6_sign,  px_sign_any};

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

/* be_px_copy_images + be_px_pack_rows for one plane (sign bits, or P = 1), in one pass over the
 * input rows (contiguous words): packed word (y, x) = OR over j < G of padded pixel (y, x + j)
 * << j * C, the padded pixel's lanes read straight from the input row (lanes left of the row
 * start moved up by a permute), each image word written once (no store is read back soon: a
 * masked store followed by an overlapping load stalls store forwarding). */
BE_X86_AVX512 static void image_1plane(const be_op *op, const be_px_geom *g, const be_word *in, be_word *img)
{
    const int32_t w = (int32_t)op->in.w, pl = (int32_t)op->pl, lanes = (int32_t)LANES;
    const __m512i cmask = _mm512_set1_epi32((int)be_last_word_mask(op->in.c));
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    uint32_t y, x, j;
    memset(img, 0, (size_t)op->pt * g->wp * sizeof(be_word));
    memset(img + (size_t)(op->pt + op->in.h) * g->wp, 0, ((size_t)op->pb * g->wp + BE_PX_SLACK) * sizeof(be_word));
    for (y = 0; y < op->in.h; y++) {
        const be_word *s = in + (size_t)y * op->in.w;
        be_word *d = img + (size_t)(y + op->pt) * g->wp;
        for (x = 0; x < g->wp; x += LANES) {
            __m512i v = _mm512_setzero_si512();
            for (j = 0; j < g->gw; j++) {
                const int32_t o = (int32_t)(x + j) - pl; /* input column of lane 0 */
                const int32_t lo = o < 0 ? -o : 0, hi = w - o < lanes ? w - o : lanes;
                __m512i p;
                if (hi <= lo)
                    continue;
                if (o >= 0) {
                    p = _mm512_maskz_loadu_epi32((__mmask16)((1u << hi) - 1u), s + o);
                } else { /* lanes lo .. hi - 1 hold s[0 .. hi - lo - 1] */
                    const __mmask16 m = (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
                    p = _mm512_maskz_permutexvar_epi32(m, _mm512_sub_epi32(iota, _mm512_set1_epi32(lo)),
                                                       _mm512_maskz_loadu_epi32((__mmask16)((1u << (hi - lo)) - 1u), s));
                }
                v = _mm512_or_si512(v, _mm512_sllv_epi32(_mm512_and_si512(p, cmask), _mm512_set1_epi32((int)(j * op->in.c))));
            }
            _mm512_mask_storeu_epi32((void *)(d + x), (__mmask16)(g->wp - x >= LANES ? 0xFFFFu : (1u << (g->wp - x)) - 1u), v);
        }
    }
}

/* be_px_weights with vectors when a channel's KH * KW words fit one (G > 1): output word (ky, t)
 * of channel o = OR over j of w[ky * KW + t * G + j] << j * C (t * G + j < KW), by one permute
 * per j of the channel's words. Returns 0 when it does not apply (the caller runs be_px_weights). */
BE_X86_AVX512 static int weights_vec(const be_op *op, const be_px_geom *g, be_word *wpk, be_word *vmask)
{
    const uint32_t kk = op->kh * op->kw, nw = op->kh * g->ng;
    const __m512i cmask = _mm512_set1_epi32((int)be_last_word_mask(op->in.c));
    __m512i idx[LANES]; /* G <= KW <= KH * KW <= 16 */
    __mmask16 use[LANES];
    uint32_t o, j, l;
    if (g->gw == 1u || kk > LANES || nw > LANES)
        return 0;
    for (j = 0; j < g->gw; j++) {
        int32_t ix[16];
        uint32_t m = 0u;
        for (l = 0; l < LANES; l++) {
            const uint32_t ky = l / g->ng, col = l % g->ng * g->gw + j;
            ix[l] = 0;
            if (l < nw && col < op->kw) {
                ix[l] = (int32_t)(ky * op->kw + col);
                m |= 1u << l;
            }
        }
        idx[j] = _mm512_loadu_si512((const void *)ix);
        use[j] = (__mmask16)m;
    }
    for (o = 0; o < op->out_ch; o++) {
        const __m512i wv = _mm512_and_si512(
            _mm512_maskz_loadu_epi32((__mmask16)((1u << kk) - 1u), (const be_word *)op->weights + (size_t)o * kk), cmask);
        __m512i v = _mm512_setzero_si512();
        for (j = 0; j < g->gw; j++)
            v = _mm512_or_si512(v, _mm512_sllv_epi32(_mm512_maskz_permutexvar_epi32(use[j], idx[j], wv),
                                                     _mm512_set1_epi32((int)(j * op->in.c))));
        _mm512_mask_storeu_epi32((void *)(wpk + (size_t)o * nw), (__mmask16)((1u << nw) - 1u), v);
    }
    be_px_group_masks(op, g, vmask);
    return 1;
}

BE_X86_AVX512 be_status be_conv2d_planes_px_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    __attribute__((aligned(64))) be_word img[IMG_WORDS];
    be_word wpk[WPK_WORDS], vmask[XV_MAX];
    const be_word *wk;
    be_px_geom g;
    (void)scratch;
    if (!be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, XV_MAX, 1))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    if (g.planes == 1u) {
        image_1plane(op, &g, (const be_word *)in, img);
    } else {
        be_px_copy_images(op, &g, (const be_word *)in, img);
        be_px_pack_rows(op, &g, img, LANES, pack16);
    }
    wk = weights_vec(op, &g, wpk, vmask) ? wpk : be_px_weights(op, &g, wpk, vmask);
    be_px_pick_sign(op, &g, instances)(op, &g, img, wk, vmask, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_conv2d_planes_px_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
