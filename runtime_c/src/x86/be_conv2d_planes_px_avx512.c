/* be_conv2d_planes_px_avx512.c -- Conv2d, unsigned bit-plane input with at most 32 channels (one
 * word per plane and pixel), stride 1, binary weights, threshold output stage: AVX-512
 * VPOPCNTDQ with output positions in the lanes.
 *
 * acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)) (weight bit 1 = -1), exactly the
 * reference. The channel-lane kernel (be_conv2d_planes_avx512.c) puts 16 output channels in a
 * zmm; with 8 or 16 channels of qrelu levels (the small layers of a qrelu VGG) most of those
 * lanes and most of each 32-bit word are empty, and per pixel it lists taps and runs short
 * loops. Here the input is copied once per call into zero-padded plane images whose word
 * (y, x) of plane p packs G = min(floor(32 / C), KW) horizontal neighbours: the C channel bits
 * of padded pixel (y, x + j) at bit j * C (WP = W + PL + PR the row pitch; past the row: zero).
 * Output position q = y * WP + x then reads tap group (ky, g), kernel columns g*G .. g*G + G - 1,
 * at q + ky * WP + g * G: a group of 16 consecutive positions is one unaligned load, for every
 * row alike (the positions x >= OW of each row are computed and dropped). The weights are packed
 * the same way once per call (zero past KW), so one AND + VPOPCNTD counts G taps: with 8 channels
 * a 3x3 kernel is 3 groups per plane instead of 9 taps. Per vector of 16 positions: the
 * KH * ceil(KW / G) * P group vectors are loaded once and popcount(b_p) is counted under a mask
 * of each group's real columns; per output channel each group is ANDed with the broadcast packed
 * weight word, counted and added. Padding reads zero words: level 0, nothing to count, as in the
 * reference; channel bits past C in an input word are not read (the format keeps them zero). The
 * threshold stage runs on the 16 positions at once (level = #{k : direction * acc >= T_k} by
 * compares, its bits ORed into the output words of 32 channels per plane by masked ORs); then
 * the valid positions are stored.
 *
 * Stack: the plane images (at most IMG_WORDS words, 64 KiB), the packed weights (at most
 * WPK_WORDS, 16 KiB) and the group vectors (at most XV_MAX zmm, 8 KiB); no scratch. Other ops
 * (more channels, strides, other stages, larger images) go to the next variant.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

#define LANES 16u
#define IMG_WORDS 16384u /* padded plane images, plus SLACK zero words */
#define SLACK 64u        /* reads past the last image word: a vector (16) plus G - 1 <= 31 (packing) */
#define XV_MAX 128u      /* group vectors of one position vector: KH * ceil(KW / G) * P */
#define WPK_WORDS 4096u  /* packed weights: O * KH * ceil(KW / G) */
#define OUT_PLANES_MAX 8u

typedef struct px_geom {
    uint32_t wp, hp, planes, npos; /* pitch, padded rows, P, positions computed */
    uint32_t gw, ng, taps;         /* columns per group G, groups per kernel row, groups KH * ng */
} px_geom;

static int px_geometry(const be_op *op, px_geom *g)
{
    g->wp = op->in.w + op->pl + op->pr;
    g->hp = op->in.h + op->pt + op->pb;
    g->planes = op->in.planes;
    if (op->in.c == 0u || op->in.c > 32u || op->kh == 0u || op->kw == 0u || op->kh > g->hp || op->kw > g->wp ||
        op->out.h != g->hp - op->kh + 1u || op->out.w != g->wp - op->kw + 1u || op->out.h == 0u || op->out.w == 0u)
        return 0;
    g->npos = (op->out.h - 1u) * g->wp + op->out.w;
    g->gw = 32u / op->in.c < op->kw ? 32u / op->in.c : op->kw;
    g->ng = (op->kw + g->gw - 1u) / g->gw;
    g->taps = op->kh * g->ng;
    /* the last vector reads up to 15 positions past npos - 1; the slack covers them */
    return (uint64_t)g->planes * g->hp * g->wp + SLACK <= IMG_WORDS && (uint64_t)g->taps * g->planes <= XV_MAX &&
           (uint64_t)op->out_ch * g->taps <= WPK_WORDS;
}

int be_conv2d_planes_px_avx512_supports(const be_op *op)
{
    px_geom g;
    const int sign = be_stage_is_sign(op);
    const int levels = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && op->levels >= 1u &&
                       op->out.planes >= 1u && op->out.planes <= OUT_PLANES_MAX;
    return be_x86_is_planes_binary(op) && op->type == BE_OP_CONV2D && op->groups <= 1u && op->in.cw == 1u &&
           op->w_row_bytes == 4u && op->sh == 1u && op->sw == 1u && op->out.kind == BE_KIND_BITS &&
           (sign || levels) && px_geometry(op, &g);
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
 * below). wpk[o * taps + t]: the packed weights; vmask[t]: the bits of group t's real columns. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
px_run(const be_op *op, const px_geom *g, const be_word *img, const be_word *wpk, const be_word *vmask, be_word *out,
       const uint32_t taps, const uint32_t planes, const int sign, const uint32_t levels, const uint32_t oplanes)
{
    const be_value *vo = &op->out;
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u, ocw = vo->cw;
    const uint32_t psz = g->hp * g->wp, ow = vo->w, pxw = vo->pixel_bytes / 4u;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const __m512i one = _mm512_set1_epi32(1);
    __m512i xv[XV_MAX];
    __attribute__((aligned(64))) be_word res[OUT_PLANES_MAX * LANES];
    uint32_t tofs[XV_MAX];
    uint32_t q0, t, p, gi, o, k, qp, i, y, xx, y0 = 0u, x0 = 0u;
    for (p = 0; p < planes; p++)
        for (t = 0; t < taps; t++)
            tofs[p * taps + t] = p * psz + (t / g->ng) * g->wp + t % g->ng * g->gw;
    for (q0 = 0; q0 < g->npos; q0 += LANES) {
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
            __m512i ov[OUT_PLANES_MAX];
            BE_X86_UNROLL
            for (qp = 0; qp < OUT_PLANES_MAX; qp++) /* all: GCC cannot tell the rest is unread */
                ov[qp] = _mm512_setzero_si512();
            for (o = 0; o < n; o++) {
                const uint32_t c = o0 + o;
                const __m512i bit = _mm512_set1_epi32((int)(1u << o));
                const __m512i acc =
                    _mm512_sub_epi32(ones, _mm512_slli_epi32(count_and(xv, wpk + (size_t)c * taps, taps, planes), 1));
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
            for (i = 0, y = y0, xx = x0; i < LANES && q0 + i < g->npos; i++) {
                if (xx < ow) {
                    be_word *d = out + ((size_t)y * ow + xx) * pxw + gi;
                    for (qp = 0; qp < oplanes; qp++)
                        d[(size_t)qp * ocw] = res[qp * LANES + i];
                }
                if (++xx == g->wp) {
                    xx = 0u;
                    y++;
                }
            }
        }
        /* the row and column of the next vector's first position (no division per lane) */
        x0 += LANES;
        while (x0 >= g->wp) {
            x0 -= g->wp;
            y0++;
        }
    }
}

/* Instances: 3x3 kernels on 2 planes into 3 thresholds on 2 planes (the qrelu2 VGG's layers) for
 * 8 channels (3 groups of 3 columns), 16 (6 groups: 2 + 1 columns per row) and 32 (9 single
 * taps); anything else with every count read at run time. */
#define PX_QRELU2(T)                                                                                     \
    BE_X86_AVX512 static void px_g##T##_p2_l3(const be_op *op, const px_geom *g, const be_word *img,      \
                                              const be_word *wpk, const be_word *vmask, be_word *out)    \
    {                                                                                                    \
        px_run(op, g, img, wpk, vmask, out, T##u, 2u, 0, 3u, 2u);                                        \
    }
PX_QRELU2(3)
PX_QRELU2(6)
PX_QRELU2(9)

BE_X86_AVX512 static void px_any(const be_op *op, const px_geom *g, const be_word *img, const be_word *wpk,
                                 const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wpk, vmask, out, g->taps, g->planes, op->encoding == BE_ENC_SIGN, op->levels, op->out.planes);
}

BE_X86_AVX512 be_status be_conv2d_planes_px_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const be_word cmask = be_last_word_mask(vi->c);
    __attribute__((aligned(64))) be_word img[IMG_WORDS];
    __attribute__((aligned(64))) be_word wpk[WPK_WORDS];
    be_word vmask[XV_MAX];
    const be_word *wk;
    px_geom g;
    uint32_t p, y, x, j, o, ky, t;
    (void)scratch;
    if (!px_geometry(op, &g))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    /* the padded plane images, then each real row packed in place from the left, 16 words at a
     * time: word (y, x) |= word (y, x + j) << (j * C), j < G. A vector reads words x .. x + 15 +
     * G - 1 and writes x .. x + 15 (< WP): the words it reads past x + 15 are not rewritten yet.
     * Past the row end it reads the next row's (or the slack's) words into slots of columns
     * >= WP, which only output positions x >= OW and weight-0 / masked columns see. */
    memset(img, 0, ((size_t)g.planes * g.hp * g.wp + SLACK) * sizeof(be_word));
    for (y = 0; y < vi->h; y++) {
        const be_word *s = (const be_word *)in + (size_t)y * vi->w * g.planes;
        for (p = 0; p < g.planes; p++) {
            be_word *d = img + (size_t)p * g.hp * g.wp + (size_t)(y + op->pt) * g.wp + op->pl;
            const be_word *sp = s + p;
            for (x = 0; x < vi->w; x++, sp += g.planes)
                d[x] = *sp & cmask;
        }
    }
    if (g.gw > 1u)
        for (p = 0; p < g.planes; p++)
            for (y = op->pt; y < op->pt + vi->h; y++) {
                be_word *row = img + (size_t)p * g.hp * g.wp + (size_t)y * g.wp;
                for (x = 0; x < g.wp; x += LANES) {
                    const __mmask16 m = (__mmask16)(g.wp - x >= LANES ? 0xFFFFu : (1u << (g.wp - x)) - 1u);
                    __m512i v = _mm512_loadu_si512((const void *)(row + x));
                    for (j = 1; j < g.gw; j++)
                        v = _mm512_or_si512(v, _mm512_sllv_epi32(_mm512_loadu_si512((const void *)(row + x + j)),
                                                                 _mm512_set1_epi32((int)(j * vi->c))));
                    _mm512_mask_storeu_epi32((void *)(row + x), m, v);
                }
            }
    /* packed weights: wpk[(o * KH + ky) * ng + gr] = sum over j of w(o, ky, gr * G + j) << (j * C);
     * with G = 1 that is the weights as stored (their bits past C meet zero input bits) */
    for (o = 0; g.gw > 1u && o < op->out_ch; o++)
        for (ky = 0; ky < op->kh; ky++)
            for (t = 0; t < g.ng; t++) {
                const be_word *w = (const be_word *)op->weights + ((size_t)o * op->kh + ky) * op->kw;
                be_word v = 0u;
                for (j = 0; j < g.gw && t * g.gw + j < op->kw; j++)
                    v |= (w[t * g.gw + j] & cmask) << (j * vi->c);
                wpk[((size_t)o * op->kh + ky) * g.ng + t] = v;
            }
    for (t = 0; t < g.taps; t++) { /* the real columns of group t % ng */
        const uint32_t ncol = op->kw - t % g.ng * g.gw < g.gw ? op->kw - t % g.ng * g.gw : g.gw;
        vmask[t] = ncol * vi->c >= 32u ? 0xFFFFFFFFu : (1u << (ncol * vi->c)) - 1u;
    }
    wk = g.gw > 1u ? wpk : (const be_word *)op->weights;
    if (g.planes == 2u && op->encoding == BE_ENC_UNSIGNED && op->levels == 3u && op->out.planes == 2u &&
        (g.taps == 3u || g.taps == 6u || g.taps == 9u) && op->kh == 3u && op->kw == 3u) {
        if (g.taps == 3u)
            px_g3_p2_l3(op, &g, img, wk, vmask, (be_word *)out);
        else if (g.taps == 6u)
            px_g6_p2_l3(op, &g, img, wk, vmask, (be_word *)out);
        else
            px_g9_p2_l3(op, &g, img, wk, vmask, (be_word *)out);
    } else {
        px_any(op, &g, img, wk, vmask, (be_word *)out);
    }
    return BE_OK;
}

#else
typedef int be_conv2d_planes_px_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
