/*
 * be_planes_px.h -- internal: what the position-lane Conv2d kernels on unsigned bit-planes
 * (x86/be_conv2d_planes_px_avx512.c, x86/be_conv2d_planes_px_avx2.c, arm/be_conv2d_planes_px_neon.c)
 * share: which ops they take, the packed plane images, the packed weights, the group masks and
 * the store of a vector's positions. Plain C (no SIMD).
 *
 * An op they take: binary weights over unsigned bit-planes (P <= 8) with C <= 32 channels (one
 * word per plane and pixel), groups 1, stride 1, a threshold stage (sign, or L unsigned levels on
 * at most 8 output planes). They also take sign-bit inputs with at most 16 channels (one plane,
 * XOR instead of AND: acc = KH * KW * C - 2 * popcount(x XOR w); a padding pixel is the zero word,
 * +1, as in the reference; each variant's supports() sets its map-size rule). The input goes once per call into zero-padded plane images (row pitch
 * WP = W + PL + PR) whose word (y, x) packs G = min(floor(32 / C), KW) horizontal neighbours:
 * the C channel bits of padded pixel (y, x + j) at bit j * C. Output position q = y * WP + x
 * reads kernel-row group (ky, g), columns g*G .. g*G + G - 1, at q + ky * WP + g * G: a run of
 * consecutive positions is one unaligned vector load, for every row alike (the positions
 * x >= OW of a row are computed and dropped). The weights are packed the same way (zero past KW;
 * with G = 1 they are read as stored), and a group's mask keeps the bits of its real columns.
 */
#ifndef BE_PLANES_PX_H
#define BE_PLANES_PX_H

#include <stdint.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"

#define BE_PX_OUT_PLANES 8u
#define BE_PX_SLACK 64u /* zero words after the images: a vector (<= 16) plus G - 1 <= 31 */

typedef struct be_px_geom {
    uint32_t wp, hp, planes, npos; /* pitch, padded rows, P, positions computed */
    uint32_t gw, ng, taps;         /* columns per group G, groups per kernel row, groups KH * ng */
    uint32_t gstride, pstride;     /* words from a kernel row's group to the next, from a plane's image to the next */
} be_px_geom;

/* Binary weights on sign bits (one plane): the XOR form of the position-lane kernels. */
static inline int be_px_sign_input(const be_op *op)
{
    return op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS && op->in.encoding == BE_ENC_SIGN &&
           op->in.planes == 1u;
}

/* The geometry of a Conv2d the position-lane kernels can read, whatever its output stage (each
 * caller checks the stages it takes), or 0: one word per pixel and plane (C <= 32), groups 1,
 * stride 1; img_words bounds the images (with the slack), xv_max the group vectors KH * ng * P,
 * wpk_words the packed weights O * KH * ng, taps_max the groups KH * ng of one plane; sign_ok:
 * sign-bit inputs too (be_px_sign_input). */
static inline int be_px_shape(const be_op *op, be_px_geom *g, uint32_t img_words, uint32_t xv_max,
                              uint32_t wpk_words, uint32_t taps_max, int sign_ok)
{
    if (!((be_op_is_planes_binary(op) || (sign_ok && be_px_sign_input(op))) && op->type == BE_OP_CONV2D &&
          op->groups <= 1u && op->in.cw == 1u && op->w_row_bytes == 4u && op->sh == 1u && op->sw == 1u))
        return 0;
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
    g->gstride = g->gw;
    g->pstride = g->hp * g->wp;
    return (uint64_t)g->planes * g->hp * g->wp + BE_PX_SLACK <= img_words && (uint64_t)g->taps * g->planes <= xv_max &&
           (uint64_t)op->out_ch * g->taps <= wpk_words && g->taps <= taps_max;
}

/* be_px_shape of an op with a threshold stage (sign, or unsigned levels on at most
 * BE_PX_OUT_PLANES output planes) */
static inline int be_px_geometry(const be_op *op, be_px_geom *g, uint32_t img_words, uint32_t xv_max,
                                 uint32_t wpk_words, uint32_t taps_max, int sign_ok)
{
    const int sign = be_stage_is_sign(op);
    const int levels = be_stage_is_levels(op) && op->out.planes >= 1u && op->out.planes <= BE_PX_OUT_PLANES;
    return op->out.kind == BE_KIND_BITS && (sign || levels) &&
           be_px_shape(op, g, img_words, xv_max, wpk_words, taps_max, sign_ok);
}

/* The padded plane images (g->planes * g->hp * g->wp words, then BE_PX_SLACK zero words), not
 * yet packed: each variant then packs the real rows in place with its vectors, from the left,
 * word (y, x) |= word (y, x + j) << (j * C) for j < G (be_px_pack_rows). Plain stores only: ORing
 * into the words pixel by pixel would chain every store to the next load. */
static inline void be_px_copy_images(const be_op *op, const be_px_geom *g, const be_word *in, be_word *img)
{
    const be_value *vi = &op->in;
    const be_word cmask = be_last_word_mask(vi->c);
    uint32_t y, x, p;
#if defined(__x86_64__) || defined(__i386__)
    memset(img, 0, ((size_t)g->planes * g->hp * g->wp + BE_PX_SLACK) * sizeof(be_word));
#else
    be_zero_words(img, g->planes * g->hp * g->wp + BE_PX_SLACK); /* picolibc's memset is a byte loop */
#endif
    for (y = 0; y < vi->h; y++) {
        const be_word *s = in + (size_t)y * vi->w * g->planes;
        for (p = 0; p < g->planes; p++) {
            be_word *d = img + (size_t)p * g->hp * g->wp + (size_t)(y + op->pt) * g->wp + op->pl;
            const be_word *sp = s + p;
            for (x = 0; x < vi->w; x++, sp += g->planes)
                d[x] = *sp & cmask;
        }
    }
}

/* Pack the real rows of the images in place, V words at a time (a vector reads words x .. x + V
 * - 1 + G - 1 and writes x .. x + V - 1 (< WP), so the words it reads past x + V - 1 are not
 * rewritten yet; past the row end it reads the next row's or the slack's words into slots of
 * columns >= WP, which only positions x >= OW and weight-0 / masked columns see).
 * pack(row, x, n) packs words x .. x + n - 1 (n <= V) of one row. */
#define be_px_pack_rows(op, g, img, V, pack)                                                                do {                                                                                                        uint32_t p_, y_, x_;                                                                                    if ((g)->gw > 1u)                                                                                           for (p_ = 0; p_ < (g)->planes; p_++)                                                                        for (y_ = (op)->pt; y_ < (op)->pt + (op)->in.h; y_++) {                                                     be_word *row_ = (img) + (size_t)p_ * (g)->hp * (g)->wp + (size_t)y_ * (g)->wp;                          for (x_ = 0; x_ < (g)->wp; x_ += (V))                                                                       pack(row_, x_, (g)->wp - x_ < (V) ? (g)->wp - x_ : (V), (g)->gw, (op)->in.c);                   }                                                                                           } while (0)

/* The weights, packed like the images into wpk[(o * KH + ky) * ng + gr] (G > 1), or as stored
 * (G = 1: their bits past C meet zero input bits); and vmask[t], the bits of group t's real
 * columns. Returns the weights to read. */
/* vmask[t]: the bits of group t's real columns (a kernel row's last group may hold fewer than G). */
static inline void be_px_group_masks(const be_op *op, const be_px_geom *g, be_word *vmask)
{
    const uint32_t c = op->in.c;
    uint32_t t;
    for (t = 0; t < g->taps; t++) {
        const uint32_t ncol = op->kw - t % g->ng * g->gw < g->gw ? op->kw - t % g->ng * g->gw : g->gw;
        vmask[t] = ncol * c >= 32u ? 0xFFFFFFFFu : (1u << (ncol * c)) - 1u;
    }
}

static inline const be_word *be_px_weights(const be_op *op, const be_px_geom *g, be_word *wpk, be_word *vmask)
{
    const uint32_t c = op->in.c;
    const be_word cmask = be_last_word_mask(c);
    uint32_t o, ky, t, j;
    be_px_group_masks(op, g, vmask);
    if (g->gw == 1u)
        return (const be_word *)op->weights;
    for (o = 0; o < op->out_ch; o++)
        for (ky = 0; ky < op->kh; ky++) {
            const be_word *w = (const be_word *)op->weights + ((size_t)o * op->kh + ky) * op->kw;
            for (t = 0; t < g->ng; t++) {
                be_word v = 0u;
                for (j = 0; j < g->gw && t * g->gw + j < op->kw; j++)
                    v |= (w[t * g->gw + j] & cmask) << (j * c);
                wpk[((size_t)o * op->kh + ky) * g->ng + t] = v;
            }
        }
    return wpk;
}

/* Word offsets of the group vectors of plane p, group t = (ky, gr): tofs[p * taps + t] (in the
 * padded images gstride = G and pstride = HP * WP; a variant that cuts them into column-shifted
 * images sets its own, with WP the output rows' pitch). */
static inline void be_px_offsets(const be_op *op, const be_px_geom *g, uint32_t *tofs)
{
    uint32_t p, t;
    (void)op;
    for (p = 0; p < g->planes; p++)
        for (t = 0; t < g->taps; t++)
            tofs[p * g->taps + t] = p * g->pstride + (t / g->ng) * g->wp + t % g->ng * g->gstride;
}

/* Are positions q0 .. q0 + lanes - 1 (q0 at column x0 of its row) consecutive output pixels? They
 * are where the positions' pitch is the output rows' (no padding column computed) and the run
 * ends inside the map, or where it ends inside the row. */
static inline int be_px_run_of_pixels(const be_op *op, const be_px_geom *g, uint32_t lanes, uint32_t q0, uint32_t x0)
{
    return g->wp == op->out.w ? q0 + lanes <= g->npos : x0 + lanes <= op->out.w;
}

/* Store output word gi of each plane for the valid positions among lanes q0 .. q0 + lanes - 1
 * (res[qp * lanes + i]: plane qp of lane i); (y0, x0) is position q0's row and column. */
static inline void be_px_store(const be_op *op, const be_px_geom *g, const be_word *res, uint32_t lanes, uint32_t q0,
                               uint32_t y0, uint32_t x0, uint32_t gi, be_word *out)
{
    const be_value *vo = &op->out;
    const uint32_t ow = vo->w, pxw = vo->pixel_bytes / 4u, oplanes = vo->planes;
    uint32_t i, qp, y = y0, x = x0;
    for (i = 0; i < lanes && q0 + i < g->npos; i++) {
        if (x < ow) {
            be_word *d = out + ((size_t)y * ow + x) * pxw + gi;
            for (qp = 0; qp < oplanes; qp++)
                d[(size_t)qp * vo->cw] = res[qp * lanes + i];
        }
        if (++x == g->wp) {
            x = 0u;
            y++;
        }
    }
}

/* Floor and ceiling of x / 2 (no division of negative numbers, no right shift of them) */
static inline int64_t be_px_floor_half(int64_t x)
{
    return (x - (x & 1)) / 2;
}
static inline int64_t be_px_ceil_half(int64_t x)
{
    return -be_px_floor_half(-x);
}

/* The sign stage of a sign-input op in the popcount domain. With D = popcount(x XOR w) over the
 * receptive field and acc = KC - 2 D (KC = KH * KW * C), the reference's bit (direction * acc <
 * T) is D > A for direction +1 (A = floor((KC - T) / 2)) and D <= A for -1 (A = ceil((T + KC) /
 * 2) - 1): one compare per channel (|T| <= 2^31, so A fits int32): dthr[o] = A (be_px_sign_a for
 * one channel, which the Cortex-M55 kernel uses alone). Per group of 32
 * channels, ord[] lists the channels of direction +1 first (npl[group] of them), then those of
 * -1, each in channel order. */
static inline int32_t be_px_sign_a(int8_t dir, int32_t t, int64_t kc)
{
    return (int32_t)(dir < 0 ? be_px_ceil_half((int64_t)t + kc) - 1 : be_px_floor_half(kc - (int64_t)t));
}

static inline void be_px_sign_setup(const be_op *op, int32_t *dthr, uint16_t *ord, uint8_t *npl)
{
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const int64_t kc = (int64_t)op->kh * op->kw * op->in.c;
    const uint32_t nout = op->out_ch;
    uint32_t o0, o, k;
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t n = nout - o0 < 32u ? nout - o0 : 32u;
        for (o = o0, k = o0; o < o0 + n; o++)
            if (dir[o] >= 0)
                ord[k++] = (uint16_t)o;
        npl[o0 / 32u] = (uint8_t)(k - o0);
        for (o = o0; o < o0 + n; o++)
            if (dir[o] < 0)
                ord[k++] = (uint16_t)o;
        for (o = o0; o < o0 + n; o++)
            dthr[o] = be_px_sign_a(dir[o], thr[o], kc);
    }
}

/* The lanes of the vector of positions q0 .. q0 + lanes - 1 (x0: q0's column; lanes <= 16) that
 * are output pixels: x < OW (the rows start at lanes -x0 + k * WP) and q < npos. Valid positions
 * map in order onto consecutive output pixels, the first at y0 * OW + min(x0, OW). */
static inline uint32_t be_px_valid_lanes(const be_op *op, const be_px_geom *g, uint32_t lanes, uint32_t q0, uint32_t x0)
{
    const int32_t ow = (int32_t)op->out.w, nl = (int32_t)lanes;
    uint32_t m = 0u;
    int32_t s;
    for (s = -(int32_t)x0; s < nl; s += (int32_t)g->wp) {
        const int32_t lo = s < 0 ? 0 : s, hi = s + ow > nl ? nl : s + ow;
        if (hi > lo)
            m |= ((1u << hi) - 1u) & ~((1u << lo) - 1u);
    }
    if (g->npos - q0 < lanes)
        m &= (1u << (g->npos - q0)) - 1u;
    return m;
}

/* The instance of a qrelu2 3x3 layer (2 planes in, 3 thresholds on 2 planes out) by its groups
 * per plane (3 for 8 channels, 6 for 9 .. 16, 9 for 17 .. 32), or 0: the generic instance. */
static inline uint32_t be_px_qrelu2_groups(const be_op *op, const be_px_geom *g)
{
    const int qrelu2 = g->planes == 2u && op->encoding == BE_ENC_UNSIGNED && op->levels == 3u &&
                       op->out.planes == 2u && op->kh == 3u && op->kw == 3u;
    return qrelu2 && (g->taps == 3u || g->taps == 6u || g->taps == 9u) ? g->taps : 0u;
}

/* One instance of a variant's work once the images and weights are ready. */
typedef void (*be_px_run_fn)(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                             const be_word *vmask, be_word *out);

/* The instance for the op among a variant's four: inst[0] the generic one (every count read at
 * run time), inst[1 .. 3] the qrelu2 3x3 layers of 3, 6 and 9 groups per plane. */
static inline be_px_run_fn be_px_pick(const be_op *op, const be_px_geom *g, const be_px_run_fn inst[4])
{
    return inst[be_px_qrelu2_groups(op, g) / 3u]; /* 0, 3, 6, 9 -> 0 .. 3 */
}

/* The instance of a 3x3 layer over sign bits into a sign stage by its groups (3 for at most 10
 * channels, 6 for 11 .. 16), or 0: the generic instance. */
static inline uint32_t be_px_sign3x3_groups(const be_op *op, const be_px_geom *g)
{
    const int s3 = be_px_sign_input(op) && be_stage_is_sign(op) && op->kh == 3u && op->kw == 3u;
    return s3 && (g->taps == 3u || g->taps == 6u) ? g->taps : 0u;
}

/* The pick of the kernels that take sign inputs too (x86, NEON): inst[0 .. 3] as be_px_pick,
 * inst[4 .. 5] the sign-to-sign 3x3 layers of 3 and 6 groups, inst[6] any other sign-to-sign
 * layer. */
static inline be_px_run_fn be_px_pick_sign(const be_op *op, const be_px_geom *g, const be_px_run_fn inst[7])
{
    const uint32_t s = be_px_sign3x3_groups(op, g);
    if (be_px_sign_input(op) && be_stage_is_sign(op))
        return inst[s ? 3u + s / 3u : 6u];
    return be_px_pick(op, g, inst);
}

/* (y, x) of position q0 + lanes, from (y, x) of q0 (no division per vector) */
static inline void be_px_advance(const be_px_geom *g, uint32_t lanes, uint32_t *y, uint32_t *x)
{
    *x += lanes;
    while (*x >= g->wp) {
        *x -= g->wp;
        (*y)++;
    }
}

#endif
