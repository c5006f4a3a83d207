/* be_conv2d_u8_avx512.c -- Conv2d on uint8 pixels (first layer), binary or int8 weights, AVX-512 BW.
 *
 * acc_o = sum_k px_k * w_o,k exactly in 32-bit integer lanes. The input rows a band of output
 * rows reads are widened to int16 and padded (pixel 0) once, so the receptive field of a pixel
 * at kernel row ky is one contiguous segment of S = KW*C values, read as int16 pairs; the
 * weights of 16 output channels are expanded once per invoke to int16 pairs (+-1 for binary,
 * the int8 value; zero past a segment) and transposed on the stack; VPMADDWD of a broadcast
 * pair with them adds two products to each of 16 channels (|px * w| <= 255 * 128: pair sums and
 * the total fit int32; the loader bounds the total). Two blocks of 16 channels (one output
 * word) and 8 output pixels run together; the sums come out in one vector per block, ready for
 * the vector threshold (32 output bits = one store).
 *
 * Binary weights with stride 1, one sign threshold and K <= 128 (the usual first layer, e.g.
 * 3x3x1 or 3x3x3) take the pixel-lane path below (conv_planes: 32 output positions per zmm,
 * subset-sum tables of 3 taps). Other binary-weight ops with K <= 128 take a path on bytes:
 * the padded rows stay uint8, each kernel-row segment is read as 4-byte quads (one 32-bit
 * broadcast per quad), and VPMADDUBSW multiplies them with the +-1 int8 weights of
 * 16 channels (channel l in bytes 4l..4l+3: even int16 lane = taps 0-1, odd lane = taps 2-3),
 * accumulating in int16 (|sum| <= 255 * K <= 32640, no saturation or wrap); one VPMADDWD with
 * ones per pixel and block folds the two lanes of a channel into int32. Per quad and 16
 * channels that is 2 instructions instead of 4 pairs' worth, and the +-1 int8 weights (64 bytes
 * per quad and block) are built once per call.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

#define LANES 16u
#define PX 8u
#define ROW_ELEMS (2u * BE_X86_ROW_WORDS - 2u) /* int16 per row buffer, minus the 2 slack elements */

int be_conv2d_u8_avx512_supports(const be_op *op)
{
    /* S = KW*C elements per kernel-row segment, ceil(S / 2) int16 pairs */
    return be_x86_is_u8(op) && be_x86_band_rows(op, ROW_ELEMS) > 0u &&
           op->kh * ((op->kw * op->in_ch + 1u) / 2u) <= BE_X86_KWORDS_MAX;
}

#define STEP1(i)                                                                                    \
    do {                                                                                            \
        const __m512i x = _mm512_broadcastd_epi32(_mm_loadu_si32(r##i + 2u * q));                  \
        a##i = _mm512_add_epi32(a##i, _mm512_madd_epi16(w0, x));                                    \
        if (nb == 2)                                                                                \
            c##i = _mm512_add_epi32(c##i, _mm512_madd_epi16(w1, x));                                \
    } while (0)

/* sum px * w of PX pixels (row offsets base[i] in buf) against nb (1 or 2, a constant after
 * inlining) interleaved blocks of transposed int16-pair weights wt ([q][nb][16]). */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
pixels(const uint16_t *buf, const size_t *base, uint32_t kh, size_t rl, uint32_t s2, const uint32_t *wt, const int nb,
       __m512i *acc)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
    uint32_t ky, q;
    for (ky = 0; ky < kh; ky++) {
        const uint16_t *rw = buf + (size_t)ky * rl;
        const uint16_t *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
        const uint16_t *r4 = rw + base[4], *r5 = rw + base[5], *r6 = rw + base[6], *r7 = rw + base[7];
        const uint32_t *wk = wt + (size_t)ky * s2 * LANES * (uint32_t)nb;
        for (q = 0; q < s2; q++) {
            const __m512i w0 = _mm512_load_si512((const void *)(wk + (size_t)q * LANES * (uint32_t)nb));
            const __m512i w1 = nb == 2 ? _mm512_load_si512((const void *)(wk + (size_t)q * 2u * LANES + LANES)) : w0;
            STEP1(0); STEP1(1); STEP1(2); STEP1(3); STEP1(4); STEP1(5); STEP1(6); STEP1(7);
        }
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6; acc[7] = a7;
    acc[8] = c0; acc[9] = c1; acc[10] = c2; acc[11] = c3; acc[12] = c4; acc[13] = c5; acc[14] = c6; acc[15] = c7;
}

/* ------------------------------------------------------------------ binary weights, pixel lanes */

/* Stride 1, binary weights, a threshold stage (sign, or unsigned levels: qrelu), K <= 128: 32
 * output pixels per zmm (int16
 * lanes). The input is widened once into zero-padded int16 planes, one per input channel, with
 * row pitch WP = W + PL + PR; lane q of a vector is the output position (q / WP, q % WP), so tap
 * (ky, kx, c) of 32 consecutive positions is ONE unaligned load at plane_c + q + ky*WP + kx
 * (positions with q % WP >= OW are computed and dropped). The taps go in groups of three
 * (a, b, c): the 8 signed sums +-a +-b +-c are built once per vector (12 additions), after which
 * every output channel costs one table load and one add per group (weights used as table
 * indices, prepared once per call), one VPCMPW against its threshold and two masked ORs that set
 * its bit in the 32 output words of the vector; with L unsigned levels, L compares count the
 * level and each output plane takes its bit (VPTESTMW, two masked ORs). |acc| <= 255 * K <=
 * 32640: int16 is exact, and thresholds clamped to the int16 range compare the same. */

#define PL_K_MAX 128u
#define PL_GROUPS_MAX 43u      /* ceil(128 / 3) */
#define PL_ELEMS 6144u         /* int16 plane elements, all channels (12 KiB) */
#define PL_OUT_WORDS 2048u     /* output words of all positions, 32-channel groups, planes (8 KiB) */
#define PL_THR_MAX 1024u       /* channels x thresholds */
#define PL_OUT_PLANES 8u
#define PL_TIX_MAX 1024u       /* channels x groups */

typedef struct plane_geom {
    uint32_t wp, hp, nvec, psz; /* pitch, padded rows, vectors of 32 positions, elements per plane */
} plane_geom;

static int plane_geometry(const be_op *op, plane_geom *g)
{
    const uint32_t oh = op->out.h;
    g->wp = op->in.w + op->pl + op->pr;
    g->hp = op->in.h + op->pt + op->pb;
    g->nvec = (oh * g->wp + 31u) / 32u;
    /* a vector reads up to 31 + (KH - 1) * WP + KW - 1 elements past its first position */
    g->psz = g->nvec * 32u + (op->kh - 1u) * g->wp + op->kw;
    if (g->psz < g->hp * g->wp)
        g->psz = g->hp * g->wp;
    g->psz = (g->psz + 31u) & ~31u;
    return (uint64_t)g->psz * op->in.c <= PL_ELEMS && (uint64_t)op->out_ch * ((op->k + 2u) / 3u) <= PL_TIX_MAX &&
           (uint64_t)g->nvec * 32u * ((op->out_ch + 31u) / 32u) * op->out.planes <= PL_OUT_WORDS;
}

static int plane_path(const be_op *op)
{
    plane_geom g;
    const int levels = be_stage_is_levels(op) && (uint64_t)op->out_ch * op->levels <= PL_THR_MAX &&
                       op->out.planes >= 1u && op->out.planes <= PL_OUT_PLANES;
    return op->weight_kind == BE_WK_BINARY && op->k <= PL_K_MAX && op->sh == 1u && op->sw == 1u &&
           (be_stage_is_sign(op) || levels) && plane_geometry(op, &g);
}

/* sign: the sign stage (a constant in the two instances below, so that the sign path does not
 * carry the level planes' registers) */
BE_X86_AVX512 static inline __attribute__((always_inline)) be_status conv_planes_body(const be_op *op, const uint8_t *in,
                                                                                    void *out, const int sign)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t c = vi->c, k = op->k, ng = (k + 2u) / 3u, nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    const uint32_t taps = op->kh * op->kw, cwo = vo->pixel_bytes / 4u, ocw = vo->cw;
    const uint32_t levels = sign ? 1u : op->levels, oplanes = sign ? 1u : vo->planes;
    __attribute__((aligned(64))) int16_t planes[PL_ELEMS];
    __attribute__((aligned(64))) be_word owords[PL_OUT_WORDS];
    __attribute__((aligned(64))) __m512i tbl[8u * PL_GROUPS_MAX];
    __attribute__((aligned(64))) __m512i bitv[16]; /* int16 lanes 1 << j */
    uint32_t toff[3u * PL_GROUPS_MAX];  /* element offset of each tap in the planes (groups of 3) */
    uint32_t tword[3u * PL_GROUPS_MAX]; /* weight word of each tap within a channel's weights */
    uint8_t tbit[3u * PL_GROUPS_MAX];   /* and its bit */
    uint16_t tix[PL_TIX_MAX];           /* per channel and group: byte offset of its table entry */
    int32_t thr[PL_TIX_MAX];            /* sign: per channel, t (clamped to int16) in both halves */
    int16_t thl[PL_THR_MAX];            /* levels: per channel and k, T_k clamped to int16 */
    plane_geom g;
    uint32_t y, x, ch, t, v, o, gi, qp, kk;
    plane_geometry(op, &g);
    /* widened, zero-padded planes */
    memset(planes, 0, (size_t)g.psz * c * 2u);
    for (y = 0; y < vi->h; y++) {
        const uint8_t *src = in + (size_t)y * vi->w * c;
        for (ch = 0; ch < c; ch++) {
            int16_t *dst = planes + (size_t)ch * g.psz + (size_t)(y + op->pt) * g.wp + op->pl;
            if (c == 1u) {
                for (x = 0; x < vi->w; x += 32u) {
                    const uint32_t n = vi->w - x < 32u ? vi->w - x : 32u;
                    const __mmask32 m = (__mmask32)(n >= 32u ? 0xFFFFFFFFu : (1u << n) - 1u);
                    _mm512_mask_storeu_epi16((void *)(dst + x), m,
                                             _mm512_cvtepu8_epi16(_mm512_castsi512_si256(
                                                 _mm512_maskz_loadu_epi8((__mmask64)m, (const void *)(src + x)))));
                }
            } else {
                for (x = 0; x < vi->w; x++)
                    dst[x] = src[(size_t)x * c + ch];
            }
        }
    }
    /* taps in (ky, kx, c) order, the weights' order; the missing taps of the last group read as
     * zero vectors */
    for (t = 0; t < 3u * ng; t++) {
        if (t < k) {
            const uint32_t ky = t / (op->kw * c), kx = t / c % op->kw, cc = t % c;
            toff[t] = cc * g.psz + ky * g.wp + kx;
            tword[t] = (ky * op->kw + kx) * (op->w_row_bytes / 4u) + cc / 32u; /* word of the tap's bit */
            tbit[t] = (uint8_t)(cc % 32u);
        } else {
            toff[t] = 0xFFFFFFFFu;
        }
    }
    /* per channel: the byte offset of its table entry in each group (direction -1 folded in:
     * -T[m] = T[7 - m], so every channel tests acc' = direction * acc < t) and t clamped to the
     * int16 range (|acc| <= 32640 < 32767: no comparison changes) */
    for (o = 0; o < nout; o++) {
        const be_word *wo = (const be_word *)((const uint8_t *)op->weights + (size_t)o * taps * op->w_row_bytes);
        const int32_t th = ((const int32_t *)op->stage_b)[o];
        const uint32_t neg = ((const int8_t *)op->stage_a)[o] < 0 ? 7u : 0u;
        const int32_t tc = th < -32768 ? -32768 : th > 32767 ? 32767 : th;
        thr[o] = (int32_t)(((uint32_t)(uint16_t)(int16_t)tc) * 0x10001u);
        for (kk = 0; !sign && kk < levels; kk++) {
            const int32_t tk = ((const int32_t *)op->stage_b)[(size_t)o * levels + kk];
            thl[(size_t)o * levels + kk] = (int16_t)(tk < -32768 ? -32768 : tk > 32767 ? 32767 : tk);
        }
        for (gi = 0; gi < ng; gi++) {
            uint32_t m = 0u, i;
            for (i = 0; i < 3u; i++) {
                const uint32_t tt = 3u * gi + i;
                if (tt < k)
                    m |= (wo[tword[tt]] >> tbit[tt] & 1u) << i;
            }
            tix[(size_t)o * ng + gi] = (uint16_t)(64u * (8u * gi + (m ^ neg)));
        }
    }
    for (o = 0; o < 16u; o++)
        bitv[o] = _mm512_set1_epi16((short)(1u << o));
    for (v = 0; v < g.nvec; v++) {
        const uint32_t q0 = v * 32u;
        for (gi = 0; gi < ng; gi++) { /* T[m] = sum over i of (bit i of m ? -X_i : X_i), in registers */
            const uint32_t *to = toff + 3u * gi;
            const __m512i xa = _mm512_loadu_si512((const void *)(planes + to[0] + q0));
            const __m512i xb = to[1] == 0xFFFFFFFFu ? _mm512_setzero_si512()
                                                    : _mm512_loadu_si512((const void *)(planes + to[1] + q0));
            const __m512i xc = to[2] == 0xFFFFFFFFu ? _mm512_setzero_si512()
                                                    : _mm512_loadu_si512((const void *)(planes + to[2] + q0));
            const __m512i a2 = _mm512_add_epi16(xa, xa), b2 = _mm512_add_epi16(xb, xb), c2 = _mm512_add_epi16(xc, xc);
            const __m512i t0 = _mm512_add_epi16(_mm512_add_epi16(xa, xb), xc), t1 = _mm512_sub_epi16(t0, a2);
            const __m512i t2 = _mm512_sub_epi16(t0, b2), t3 = _mm512_sub_epi16(t1, b2);
            __m512i *tg = tbl + 8u * gi;
            tg[0] = t0;
            tg[1] = t1;
            tg[2] = t2;
            tg[3] = t3;
            tg[4] = _mm512_sub_epi16(t0, c2);
            tg[5] = _mm512_sub_epi16(t1, c2);
            tg[6] = _mm512_sub_epi16(t2, c2);
            tg[7] = _mm512_sub_epi16(t3, c2);
        }
        for (gi = 0; gi < ngrp; gi++) { /* 32 channels: bits 0-15 in lo, 16-31 in hi (int16 lanes) */
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u;
            __m512i lo = _mm512_setzero_si512(), hi = lo, w0, w1, lq[PL_OUT_PLANES], hq[PL_OUT_PLANES];
            for (qp = 0; !sign && qp < PL_OUT_PLANES; qp++) /* the sign stage uses lo / hi only */
                lq[qp] = hq[qp] = lo;
            for (o = 0; o < n; o++) {
                const uint16_t *ti = tix + (size_t)(o0 + o) * ng;
                const char *tb = (const char *)tbl;
                __m512i acc = _mm512_load_si512((const void *)(tb + ti[0]));
                __mmask32 mk;
                uint32_t j;
                if (ng == 3u) { /* 7 <= K <= 9, e.g. 3x3x1 */
                    acc = _mm512_add_epi16(acc, _mm512_load_si512((const void *)(tb + ti[1])));
                    acc = _mm512_add_epi16(acc, _mm512_load_si512((const void *)(tb + ti[2])));
                } else {
                    for (j = 1; j < ng; j++)
                        acc = _mm512_add_epi16(acc, _mm512_load_si512((const void *)(tb + ti[j])));
                }
                if (sign) {
                    mk = _mm512_cmplt_epi16_mask(acc, _mm512_set1_epi32(thr[o0 + o]));
                    if (o < 16u)
                        lo = _mm512_mask_add_epi16(lo, mk, lo, bitv[o]);
                    else
                        hi = _mm512_mask_add_epi16(hi, mk, hi, bitv[o - 16u]);
                    continue;
                }
                { /* level = #{k : direction * acc >= T_k}; its bit qp -> plane qp */
                    const int16_t *tk = thl + (size_t)(o0 + o) * levels;
                    __m512i lvl = _mm512_setzero_si512();
                    for (kk = 0; kk < levels; kk++)
                        lvl = _mm512_mask_add_epi16(lvl, _mm512_cmpge_epi16_mask(acc, _mm512_set1_epi16(tk[kk])), lvl,
                                                    bitv[0]);
                    for (qp = 0; qp < oplanes; qp++) {
                        mk = _mm512_test_epi16_mask(lvl, bitv[qp]);
                        if (o < 16u)
                            lq[qp] = _mm512_mask_add_epi16(lq[qp], mk, lq[qp], bitv[o]);
                        else
                            hq[qp] = _mm512_mask_add_epi16(hq[qp], mk, hq[qp], bitv[o - 16u]);
                    }
                }
            }
            for (qp = 0; qp < oplanes; qp++) { /* plane qp of 32 channels: owords[qp][gi][position] */
                be_word *ov = owords + (((size_t)qp * ngrp + gi) * g.nvec + v) * 32u;
                if (!sign) {
                    lo = lq[qp];
                    hi = hq[qp];
                }
                w0 = _mm512_or_si512(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(lo)),
                                     _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(hi)), 16));
                w1 = _mm512_or_si512(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(lo, 1)),
                                     _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hi, 1)), 16));
                _mm512_store_si512((void *)ov, w0);
                _mm512_store_si512((void *)(ov + 16u), w1);
            }
        }
    }
    /* positions -> output pixels (x < OW) */
    for (y = 0; y < vo->h; y++) {
        be_word *dst = (be_word *)out + (size_t)y * vo->w * cwo;
        for (gi = 0; gi < ngrp * oplanes; gi++) { /* plane gi / ngrp, word gi % ngrp of the plane */
            const be_word *src = owords + (size_t)gi * g.nvec * 32u + (size_t)y * g.wp;
            const uint32_t wi = gi / ngrp * ocw + gi % ngrp;
            if (cwo == 1u) {
                for (x = 0; x < vo->w; x += 16u) {
                    const uint32_t n = vo->w - x < 16u ? vo->w - x : 16u;
                    const __mmask16 m = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
                    _mm512_mask_storeu_epi32((void *)(dst + x), m, _mm512_maskz_loadu_epi32(m, (const void *)(src + x)));
                }
            } else {
                for (x = 0; x < vo->w; x++)
                    dst[(size_t)x * cwo + wi] = src[x];
            }
        }
    }
    return BE_OK;
}

BE_X86_AVX512 static be_status conv_planes_sign(const be_op *op, const uint8_t *in, void *out)
{
    return conv_planes_body(op, in, out, 1);
}

BE_X86_AVX512 static be_status conv_planes_levels(const be_op *op, const uint8_t *in, void *out)
{
    return conv_planes_body(op, in, out, 0);
}

BE_X86_AVX512 static be_status conv_planes(const be_op *op, const uint8_t *in, void *out)
{
    return be_stage_is_sign(op) ? conv_planes_sign(op, in, out) : conv_planes_levels(op, in, out);
}

/* ------------------------------------------------------------------ binary weights, bytes */

#define QUAD_K_MAX 128u   /* int16 accumulation bound: 255 * K <= 32767 */
#define QUAD_ROW_BYTES (4u * BE_X86_ROW_WORDS - 4u)
#define QUADS_MAX 64u     /* quads of the K <= 128 taps (KH segments rounded up) */

static int quad_path(const be_op *op)
{
    return op->weight_kind == BE_WK_BINARY && op->k <= QUAD_K_MAX && op->in.c == op->in_ch &&
           be_x86_band_rows(op, QUAD_ROW_BYTES) > 0u && op->kh * ((op->kw * op->in_ch + 3u) / 4u) <= QUADS_MAX;
}

#define QSTEP(i)                                                                                  \
    if (px > i) {                                                                                 \
        const __m512i x = _mm512_set1_epi32(ld32(r##i + offs[t]));                                \
        a##i = _mm512_add_epi16(a##i, _mm512_maddubs_epi16(x, w0));                               \
        if (nb == 2)                                                                              \
            c##i = _mm512_add_epi16(c##i, _mm512_maddubs_epi16(x, w1));                           \
    }

#define QPUT(i)                                                                                   \
    if (px > i)                                                                                   \
        qput(q, out, pix[i], a##i, c##i, nb);

typedef struct quad_ctx {
    const be_op *op;
    const uint32_t *offs;  /* byte offset of quad t in the padded rows */
    uint32_t nq;           /* quads per receptive field */
    uint32_t cwo;          /* words per output pixel */
    int sign;
    be_status st;
    /* the unit being run: channels [o0, o0 + 32) */
    const __m512i *wq;     /* [t][nb] weight vectors */
    uint32_t o0, n0, n1;
    __m512i t0, t1;
    uint32_t flip, valid;
} quad_ctx;

static inline int32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (int32_t)v;
}

/* "bit = (acc > T2) XOR flip" form of the threshold stage on the exact accumulator: direction +1:
 * acc < t <=> NOT(acc > t - 1); direction -1: -acc < t <=> acc > -t (clamped to int32). */
BE_X86_AVX512 static inline void quad_stage16(const be_op *op, uint32_t o0, uint32_t n, __m512i *t, uint32_t *flip,
                                              uint32_t *valid)
{
    int32_t tt[16];
    uint32_t l, m = 0u;
    memset(tt, 0, sizeof tt);
    for (l = 0; l < n; l++) {
        const int64_t th = ((const int32_t *)op->stage_b)[o0 + l];
        int64_t v;
        if (((const int8_t *)op->stage_a)[o0 + l] < 0) {
            v = -th;
        } else {
            v = th - 1;
            m |= 1u << l;
        }
        tt[l] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
    }
    *t = _mm512_loadu_si512((const void *)tt);
    *flip = m;
    *valid = n >= 16u ? 0xFFFFu : (1u << n) - 1u;
}

BE_X86_AVX512 static inline __attribute__((always_inline)) void qput(quad_ctx *q, void *out, size_t pix, __m512i a,
                                                                     __m512i c, const int nb)
{
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i s0 = _mm512_madd_epi16(a, ones);
    const __m512i s1 = nb == 2 ? _mm512_madd_epi16(c, ones) : s0;
    const be_op *op = q->op;
    if (q->sign) {
        uint32_t word = (uint32_t)_mm512_cmpgt_epi32_mask(s0, q->t0);
        be_word *dst = (be_word *)out + pix * q->cwo + q->o0 / 32u;
        if (nb == 2)
            word |= (uint32_t)_mm512_cmpgt_epi32_mask(s1, q->t1) << 16;
        *dst = (word ^ q->flip) & q->valid; /* o0 % 32 == 0: the whole word */
    } else {
        uint8_t *px_out = (uint8_t *)out + pix * op->out.pixel_bytes;
        int32_t acc[32];
        be_status s;
        _mm512_storeu_si512((void *)acc, s0);
        _mm512_storeu_si512((void *)(acc + 16), s1);
        s = be_stage_put_block(op, px_out, q->o0, q->n0, acc);
        if (s == BE_OK && q->n1)
            s = be_stage_put_block(op, px_out, q->o0 + 16u, q->n1, acc + 16);
        if (s != BE_OK)
            q->st = s;
    }
}

BE_X86_AVX512 static inline __attribute__((always_inline)) void
qtile(quad_ctx *q, const uint8_t *const *r, const size_t *pix, void *out, const int nb, const int px)
{
    const uint8_t *r0 = r[0], *r1 = r[px > 1 ? 1 : 0], *r2 = r[px > 2 ? 2 : 0], *r3 = r[px > 3 ? 3 : 0];
    const uint8_t *r4 = r[px > 4 ? 4 : 0], *r5 = r[px > 5 ? 5 : 0], *r6 = r[px > 6 ? 6 : 0], *r7 = r[px > 7 ? 7 : 0];
    const uint32_t *offs = q->offs, n = q->nq;
    const __m512i *wk = q->wq;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
    uint32_t t;
    for (t = 0; t < n; t++, wk += nb) {
        const __m512i w0 = _mm512_load_si512((const void *)wk);
        const __m512i w1 = nb == 2 ? _mm512_load_si512((const void *)(wk + 1)) : w0;
        QSTEP(0) QSTEP(1) QSTEP(2) QSTEP(3) QSTEP(4) QSTEP(5) QSTEP(6) QSTEP(7)
    }
    QPUT(0) QPUT(1) QPUT(2) QPUT(3) QPUT(4) QPUT(5) QPUT(6) QPUT(7)
}

BE_X86_AVX512 static inline __attribute__((always_inline)) void
qband(quad_ctx *q, const uint8_t *buf, uint32_t npx, uint32_t ow, size_t ystep, size_t xstep, size_t pix0, void *out,
      const int nb)
{
    const uint8_t *r[8];
    size_t pix[8];
    uint32_t p0 = 0, y = 0, x = 0, i, px;
    while (p0 < npx) {
        const uint32_t left = npx - p0;
        px = left >= 8u ? 8u : left >= 4u ? 4u : left >= 2u ? 2u : 1u;
        for (i = 0; i < px; i++) {
            r[i] = buf + (size_t)y * ystep + (size_t)x * xstep;
            pix[i] = pix0 + p0 + i;
            if (++x == ow) {
                x = 0;
                y++;
            }
        }
        if (px == 8u)
            qtile(q, r, pix, out, nb, 8);
        else if (px == 4u)
            qtile(q, r, pix, out, nb, 4);
        else if (px == 2u)
            qtile(q, r, pix, out, nb, 2);
        else
            qtile(q, r, pix, out, nb, 1);
        p0 += px;
    }
}

BE_X86_AVX512 static be_status conv_quads(const be_op *op, const uint8_t *in, void *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t c = vi->c, seg = op->kw * c, s4 = (seg + 3u) / 4u, nq = op->kh * s4, nout = op->out_ch;
    const uint32_t taps = op->kh * op->kw, rl = (vi->w + op->pl + op->pr) * c, ow = vo->w;
    const uint32_t band_rows = be_x86_band_rows(op, QUAD_ROW_BYTES);
    const size_t ystep = (size_t)op->sh * rl, xstep = (size_t)op->sw * c;
    __attribute__((aligned(64))) int8_t wq[QUADS_MAX * 2u * 64u];
    __attribute__((aligned(64))) uint8_t rows[4u * BE_X86_ROW_WORDS];
    uint32_t offs[QUADS_MAX];
    quad_ctx q;
    uint32_t o0, ky, j, l, kx, ch, oy0, r;
    q.op = op;
    q.offs = offs;
    q.nq = nq;
    q.cwo = vo->pixel_bytes / 4u;
    q.sign = be_stage_is_sign(op);
    q.st = BE_OK;
    q.wq = (const __m512i *)(const void *)wq;
    for (ky = 0; ky < op->kh; ky++)
        for (j = 0; j < s4; j++)
            offs[ky * s4 + j] = ky * rl + 4u * j;
    if (!q.sign)
        memset(out, 0, vo->nbytes); /* be_stage_put only sets bits */
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const int nb = nout - o0 > 16u ? 2 : 1;
        q.o0 = o0;
        q.n0 = nout - o0 < 16u ? nout - o0 : 16u;
        q.n1 = nout - o0 > 16u ? (nout - o0 - 16u < 16u ? nout - o0 - 16u : 16u) : 0u;
        /* +-1 int8 weights: wq[t][b][4l + i] = w(o0 + 16b + l, tap 4j + i of segment ky), t = ky*s4 + j */
        memset(wq, 0, (size_t)nq * (uint32_t)nb * 64u);
        for (l = 0; l < q.n0 + q.n1; l++) {
            const uint32_t o = o0 + l, b = l / 16u, ll = l % 16u;
            for (ky = 0; ky < op->kh; ky++)
                for (kx = 0; kx < op->kw; kx++) {
                    const be_word *bits =
                        (const be_word *)((const uint8_t *)op->weights + ((size_t)o * taps + ky * op->kw + kx) * op->w_row_bytes);
                    for (ch = 0; ch < c; ch++) {
                        const uint32_t e = kx * c + ch, t = ky * s4 + e / 4u;
                        wq[((size_t)t * (uint32_t)nb + b) * 64u + 4u * ll + e % 4u] =
                            (int8_t)be_bit_to_sign(be_get_bit(bits, ch));
                    }
                }
        }
        q.t0 = q.t1 = _mm512_setzero_si512();
        q.flip = q.valid = 0u;
        if (q.sign) {
            uint32_t f0, v0, f1 = 0u, v1 = 0u;
            quad_stage16(op, o0, q.n0, &q.t0, &f0, &v0);
            if (q.n1)
                quad_stage16(op, o0 + 16u, q.n1, &q.t1, &f1, &v1);
            q.flip = f0 | f1 << 16;
            q.valid = v0 | v1 << 16;
        }
        for (oy0 = 0; oy0 < vo->h; oy0 += band_rows) {
            const uint32_t nr = vo->h - oy0 < band_rows ? vo->h - oy0 : band_rows;
            const uint32_t nrows = (nr - 1u) * op->sh + op->kh;
            uint8_t *b = rows;
            for (r = 0; r < nrows; r++, b += rl) { /* padded uint8 rows (pixel 0 outside the input) */
                const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
                if (iy < 0 || iy >= (int32_t)vi->h) {
                    memset(b, 0, rl);
                } else {
                    memset(b, 0, (size_t)op->pl * c);
                    memcpy(b + (size_t)op->pl * c, in + (size_t)iy * vi->w * c, (size_t)vi->w * c);
                    memset(b + (size_t)(op->pl + vi->w) * c, 0, (size_t)op->pr * c);
                }
            }
            memset(b, 0, 4u); /* a quad may read up to 3 bytes past the last segment (weight 0) */
            if (nb == 2)
                qband(&q, rows, nr * ow, ow, ystep, xstep, (size_t)oy0 * ow, out, 2);
            else
                qband(&q, rows, nr * ow, ow, ystep, xstep, (size_t)oy0 * ow, out, 1);
        }
    }
    return q.st;
}

BE_X86_AVX512 be_status be_conv2d_u8_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const int sign = be_stage_is_sign(op);
    const uint32_t s2 = (op->kw * op->in_ch + 1u) / 2u, kpairs = op->kh * s2, nout = op->out_ch;
    const uint32_t nblk = (nout + LANES - 1u) / LANES, cwo = vo->pixel_bytes / 4u;
    const int nb = kpairs <= BE_X86_KWORDS_MAX / 2u ? 2 : 1; /* blocks per unit */
    const uint32_t nunit = (nblk + (uint32_t)nb - 1u) / (uint32_t)nb, unit = kpairs * LANES * (uint32_t)nb;
    const uint32_t gmax = BE_X86_KWORDS_MAX * LANES / unit < BE_X86_GROUP_MAX ? BE_X86_KWORDS_MAX * LANES / unit
                                                                               : BE_X86_GROUP_MAX;
    const size_t rl = be_x86_row_len(op), ystep = op->sh * rl, xstep = (size_t)op->sw * op->in_ch;
    const uint32_t band = be_x86_band_rows(op, ROW_ELEMS), ow = vo->w;
    __attribute__((aligned(64))) uint32_t wt[BE_X86_KWORDS_MAX * LANES];
    __attribute__((aligned(64))) uint16_t rows[2u * BE_X86_ROW_WORDS];
    __m512i acc[2 * PX];
    size_t base[PX];
    uint32_t u0, g, gn, b, oy0, p0, i;
    be_status st = BE_OK;
    (void)scratch;
    if (plane_path(op))
        return conv_planes(op, (const uint8_t *)in, out);
    if (quad_path(op))
        return conv_quads(op, (const uint8_t *)in, out);
    if (!sign)
        memset(out, 0, vo->nbytes); /* be_stage_put only sets bits */
    for (u0 = 0; u0 < nunit; u0 += gn) {
        gn = nunit - u0 < gmax ? nunit - u0 : gmax;
        for (g = 0; g < gn; g++)
            for (b = 0; b < (uint32_t)nb; b++)
                be_x86_pairs_weights(op, ((u0 + g) * (uint32_t)nb + b) * LANES, LANES,
                                     wt + (size_t)g * unit + b * LANES, LANES * (uint32_t)nb);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            be_x86_band_u8(op, (const uint8_t *)in, oy0, nr, rows);
            for (g = 0; g < gn; g++) {
                const uint32_t o0 = (u0 + g) * (uint32_t)nb * LANES;
                const uint32_t n0 = nout - o0 < LANES ? nout - o0 : LANES;
                const uint32_t n1 = nb == 2 && nout > o0 + LANES ? (nout - o0 - LANES < LANES ? nout - o0 - LANES : LANES)
                                                               : 0u;
                const uint32_t *wg = wt + (size_t)g * unit;
                __m512i t0 = _mm512_setzero_si512(), t1 = t0;
                __mmask16 neg0 = 0, neg1 = 0, val0 = 0, val1 = 0;
                be_x86_stage16(op, o0, n0, &t0, &neg0, &val0);
                if (n1)
                    be_x86_stage16(op, o0 + LANES, n1, &t1, &neg1, &val1);
                for (p0 = 0; p0 < npx; p0 += PX) {
                    const uint32_t nv = npx - p0 < PX ? npx - p0 : PX;
                    be_x86_pixel_bases(p0, npx, PX, ow, ystep, xstep, base);
                    if (nb == 2)
                        pixels(rows, base, op->kh, rl, s2, wg, 2, acc);
                    else
                        pixels(rows, base, op->kh, rl, s2, wg, 1, acc);
                    for (i = 0; i < nv; i++) {
                        const size_t pix = (size_t)oy0 * ow + p0 + i;
                        if (sign) {
                            const __m512i z = _mm512_setzero_si512();
                            /* direction * acc < t: level 0 -> bit 1 */
                            uint32_t word = (uint32_t)_mm512_mask_cmplt_epi32_mask(
                                val0, _mm512_mask_sub_epi32(acc[i], neg0, z, acc[i]), t0);
                            be_word *ow_ = (be_word *)out + pix * cwo + o0 / 32u;
                            if (n1)
                                word |= (uint32_t)_mm512_mask_cmplt_epi32_mask(
                                            val1, _mm512_mask_sub_epi32(acc[PX + i], neg1, z, acc[PX + i]), t1)
                                        << 16;
                            if (o0 % 32u == 0u)
                                *ow_ = word; /* the word's first block: plain store */
                            else
                                *ow_ |= word << 16;
                        } else {
                            uint8_t *px_out = (uint8_t *)out + pix * vo->pixel_bytes;
                            int32_t a[2 * LANES];
                            be_status s;
                            _mm512_storeu_si512((void *)a, acc[i]);
                            _mm512_storeu_si512((void *)(a + LANES), acc[PX + i]);
                            s = be_stage_put_block(op, px_out, o0, n0, a);
                            if (s == BE_OK && n1)
                                s = be_stage_put_block(op, px_out, o0 + LANES, n1, a + LANES);
                            if (s != BE_OK)
                                st = s;
                        }
                    }
                }
            }
        }
    }
    return st;
}

#else
typedef int be_conv2d_u8_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
