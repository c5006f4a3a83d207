/* be_conv2d_bin_avx512.c -- Conv2d, sign bits x binary weights, AVX-512 VPOPCNTDQ.
 *
 * acc = K - 2 * popcount(x XOR w), exactly as the reference. Two formulations:
 *
 * Channel lanes (any kernel, stride, padding): output channels go in blocks of 16 whose weight
 * rows are transposed once per call on the stack (16 x 16 word blocks through registers), so
 * that one zmm holds word j of 16 weight rows; each word of an output pixel's receptive field
 * is broadcast, XORed with it and counted with VPOPCNTD: one instruction triple gives
 * 16 channels x 32 binary MACs and the 16 sums come out in one vector (no horizontal
 * reduction). A tile is 8 output pixels x 2 blocks (one output word) in 16 zmm accumulators, so
 * every weight load feeds 8 triples and every broadcast 2; the tail of a band runs tiles of
 * 4, 2 and 1 pixels (no wasted pixel slots). The receptive field is read through a table of
 * word offsets into padded input rows (padding = zero words = +1) built once per band of output
 * rows; the sign threshold is one compare on the popcount itself (be_x86_gt_threshold), so 32
 * output bits are a mask pair and one store, straight from the registers.
 *
 * Row-major (1x1, stride 1, no padding, rows of >= 16 words): the input pixels are the rows
 * themselves and the weights are read in place (nothing transposed, nothing copied): 4 weight
 * rows x 4 pixels per tile in 16 accumulators, each loaded vector feeding 4 triples, the 16
 * horizontal sums reduced together (be_x86_rowdot16).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

#define LANES 16u
#define PX 8u
#define ROWMAJOR_MIN_WORDS 16u

static int rowmajor(const be_op *op)
{
    return be_x86_conv_is_pointwise(op) && op->in.cw >= ROWMAJOR_MIN_WORDS;
}

int be_conv2d_bin_avx512_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op) &&
           (rowmajor(op) || be_x86_conv_fits(op, BE_X86_ROW_WORDS, op->kh * op->kw * op->in.cw));
}

/* ------------------------------------------------------------------ channel lanes */

/* Per call constants of the channel-lane path. */
typedef struct conv_ctx {
    const be_op *op;
    const uint32_t *offs; /* word offset of receptive-field word t in the padded rows */
    uint32_t kwords;      /* words per weight row = entries of offs */
    uint32_t cwo;         /* words per output pixel */
    int sign;             /* sign stage: vector threshold */
    be_status st;
} conv_ctx;

/* One unit: channels [o0, o0 + 16 * nb) with their transposed weights wt ([t][nb][16]) and,
 * for the sign stage, T2 vectors and flip / valid bits (lanes 0-15 block 0, 16-31 block 1). */
typedef struct conv_unit {
    const be_word *wt;
    uint32_t o0, n0, n1;
    __m512i t0, t1;
    uint32_t flip, valid;
} conv_unit;

#define ACC_STEP(i)                                                                              \
    if (px > i) {                                                                                \
        const __m512i x = _mm512_set1_epi32((int)r##i[o]);                                       \
        a##i = _mm512_add_epi32(a##i, _mm512_popcnt_epi32(_mm512_xor_si512(x, w0)));             \
        if (nb == 2)                                                                             \
            c##i = _mm512_add_epi32(c##i, _mm512_popcnt_epi32(_mm512_xor_si512(x, w1)));         \
    }

#define PUT(i)                                                                                   \
    if (px > i)                                                                                  \
        put(cx, u, out, pix[i], a##i, c##i, nb);

/* Output stage of one pixel from its accumulators (block 0: a, block 1: c). */
BE_X86_AVX512 static inline __attribute__((always_inline)) void put(conv_ctx *cx, const conv_unit *u, void *out,
                                                                    size_t pix, __m512i a, __m512i c, const int nb)
{
    const be_op *op = cx->op;
    if (cx->sign) {
        uint32_t word = (uint32_t)_mm512_cmpgt_epi32_mask(a, u->t0);
        be_word *dst = (be_word *)out + pix * cx->cwo + u->o0 / 32u;
        if (nb == 2)
            word |= (uint32_t)_mm512_cmpgt_epi32_mask(c, u->t1) << 16;
        word = (word ^ u->flip) & u->valid;
        if (u->o0 % 32u == 0u)
            *dst = word; /* the word's first block: plain store */
        else
            *dst |= word << 16;
    } else {
        const __m512i kv = _mm512_set1_epi32((int)op->k);
        uint8_t *px_out = (uint8_t *)out + pix * op->out.pixel_bytes;
        int32_t acc[2 * LANES];
        be_status s;
        _mm512_storeu_si512((void *)acc, _mm512_sub_epi32(kv, _mm512_slli_epi32(a, 1)));
        _mm512_storeu_si512((void *)(acc + LANES), _mm512_sub_epi32(kv, _mm512_slli_epi32(c, 1)));
        s = be_stage_put_block(op, px_out, u->o0, u->n0, acc);
        if (s == BE_OK && u->n1)
            s = be_stage_put_block(op, px_out, u->o0 + LANES, u->n1, acc + LANES);
        if (s != BE_OK)
            cx->st = s;
    }
}

/* px (<= 8, a constant after inlining) output pixels against one unit of nb blocks: the
 * receptive field of pixel i starts at r_i (its word t at r_i[offs[t]]), its output index is
 * pix[i]. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
tile(conv_ctx *cx, const conv_unit *u, const be_word *const *r, const size_t *pix, void *out, const int nb,
     const int px)
{
    const be_word *r0 = r[0], *r1 = r[px > 1 ? 1 : 0], *r2 = r[px > 2 ? 2 : 0], *r3 = r[px > 3 ? 3 : 0];
    const be_word *r4 = r[px > 4 ? 4 : 0], *r5 = r[px > 5 ? 5 : 0], *r6 = r[px > 6 ? 6 : 0], *r7 = r[px > 7 ? 7 : 0];
    const uint32_t *offs = cx->offs, n = cx->kwords;
    const be_word *wk = u->wt;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
    uint32_t t;
    for (t = 0; t < n; t++, wk += LANES * (uint32_t)nb) {
        const uint32_t o = offs[t];
        const __m512i w0 = _mm512_load_si512((const void *)wk);
        const __m512i w1 = nb == 2 ? _mm512_load_si512((const void *)(wk + LANES)) : w0;
        ACC_STEP(0) ACC_STEP(1) ACC_STEP(2) ACC_STEP(3) ACC_STEP(4) ACC_STEP(5) ACC_STEP(6) ACC_STEP(7)
    }
    PUT(0) PUT(1) PUT(2) PUT(3) PUT(4) PUT(5) PUT(6) PUT(7)
}

/* Copy n words / clear n words with vector stores (the padded rows are short). */
BE_X86_AVX512 static inline void copy_words(be_word *dst, const be_word *src, uint32_t n)
{
    uint32_t j = 0;
    for (; j + 16u <= n; j += 16u)
        _mm512_storeu_si512((void *)(dst + j), _mm512_loadu_si512((const void *)(src + j)));
    if (j < n) {
        const __mmask16 k = (__mmask16)((1u << (n - j)) - 1u);
        _mm512_mask_storeu_epi32((void *)(dst + j), k, _mm512_maskz_loadu_epi32(k, (const void *)(src + j)));
    }
}

BE_X86_AVX512 static inline void zero_words(be_word *dst, uint32_t n)
{
    uint32_t j = 0;
    for (; j + 16u <= n; j += 16u)
        _mm512_storeu_si512((void *)(dst + j), _mm512_setzero_si512());
    if (j < n)
        _mm512_mask_storeu_epi32((void *)(dst + j), (__mmask16)((1u << (n - j)) - 1u), _mm512_setzero_si512());
}

/* be_x86_band_bits with vector copies. */
BE_X86_AVX512 static void band(const be_op *op, const be_word *in, uint32_t oy0, uint32_t n, be_word *buf)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, rl = be_x86_row_len(op), pl = op->pl * cw, body = vi->w * cw;
    const uint32_t rows = (n - 1u) * op->sh + op->kh;
    uint32_t r;
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            zero_words(buf, rl);
        } else {
            zero_words(buf, pl);
            copy_words(buf + pl, in + (size_t)iy * body, body);
            zero_words(buf + pl + body, rl - pl - body);
        }
    }
}

/* All pixels of a band (npx pixels, ow per row, first output index pix0) against one unit:
 * tiles of 8 pixels, then 4, 2, 1 for the rest. */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
run_band(conv_ctx *cx, const conv_unit *u, const be_word *buf, uint32_t npx, uint32_t ow, size_t ystep,
         size_t xstep, size_t pix0, void *out, const int nb)
{
    const be_word *r[PX];
    size_t pix[PX];
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
            tile(cx, u, r, pix, out, nb, 8);
        else if (px == 4u)
            tile(cx, u, r, pix, out, nb, 4);
        else if (px == 2u)
            tile(cx, u, r, pix, out, nb, 2);
        else
            tile(cx, u, r, pix, out, nb, 1);
        p0 += px;
    }
}

BE_X86_AVX512 static be_status conv_lanes(const be_op *op, const void *in, void *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int pointwise = be_x86_conv_is_pointwise(op);
    const uint32_t cw = vi->cw, kwords = op->kh * op->kw * cw, nout = op->out_ch;
    const uint32_t nblk = (nout + LANES - 1u) / LANES;
    const int nb = kwords <= BE_X86_KWORDS_MAX / 2u ? 2 : 1; /* blocks per unit */
    const uint32_t nunit = (nblk + (uint32_t)nb - 1u) / (uint32_t)nb, unit = kwords * LANES * (uint32_t)nb;
    const uint32_t gmax = BE_X86_KWORDS_MAX * LANES / unit < BE_X86_GROUP_MAX ? BE_X86_KWORDS_MAX * LANES / unit
                                                                               : BE_X86_GROUP_MAX;
    const size_t rl = pointwise ? (size_t)vi->w * cw : be_x86_row_len(op);
    const size_t ystep = pointwise ? rl : op->sh * rl, xstep = pointwise ? cw : (size_t)op->sw * cw;
    const uint32_t band_rows = pointwise ? vo->h : be_x86_band_rows(op, BE_X86_ROW_WORDS), ow = vo->w;
    __attribute__((aligned(64))) be_word wt[BE_X86_KWORDS_MAX * LANES];
    __attribute__((aligned(64))) be_word rowbuf[BE_X86_ROW_WORDS];
    uint32_t offs[BE_X86_KWORDS_MAX];
    conv_ctx cx;
    conv_unit units[BE_X86_GROUP_MAX];
    uint32_t u0, g, gn, b, oy0, ky, j;
    cx.op = op;
    cx.offs = offs;
    cx.kwords = kwords;
    cx.cwo = vo->pixel_bytes / 4u;
    cx.sign = be_stage_is_sign(op);
    cx.st = BE_OK;
    for (ky = 0; ky < (pointwise ? 1u : op->kh); ky++) /* receptive field: KH segments of KW * cw words */
        for (j = 0; j < (pointwise ? cw : op->kw * cw); j++)
            offs[ky * op->kw * cw + j] = (uint32_t)(ky * rl + j);
    if (!cx.sign)
        memset(out, 0, vo->nbytes); /* be_stage_put only sets bits */
    for (u0 = 0; u0 < nunit; u0 += gn) {
        gn = nunit - u0 < gmax ? nunit - u0 : gmax;
        for (g = 0; g < gn; g++) {
            conv_unit *u = &units[g];
            u->wt = wt + (size_t)g * unit;
            u->o0 = (u0 + g) * (uint32_t)nb * LANES;
            u->n0 = nout - u->o0 < LANES ? nout - u->o0 : LANES;
            u->n1 = nb == 2 && nout > u->o0 + LANES ? (nout - u->o0 - LANES < LANES ? nout - u->o0 - LANES : LANES) : 0u;
            for (b = 0; b < (uint32_t)nb; b++) {
                if (b == 0u || u->n1) {
                    be_x86_transpose16(op, u->o0 + b * LANES, kwords, wt + (size_t)g * unit + b * LANES,
                                       LANES * (uint32_t)nb);
                } else { /* a second block without channels: zeros (computed, never stored) */
                    for (j = 0; j < kwords; j++)
                        _mm512_store_si512((void *)(wt + (size_t)g * unit + (size_t)j * 2u * LANES + LANES),
                                           _mm512_setzero_si512());
                }
            }
            u->t0 = u->t1 = _mm512_setzero_si512();
            u->flip = u->valid = 0u;
            if (cx.sign) {
                uint32_t f0, v0, f1 = 0u, v1 = 0u;
                be_x86_gt_stage16(op, u->o0, u->n0, &u->t0, &f0, &v0);
                if (u->n1)
                    be_x86_gt_stage16(op, u->o0 + LANES, u->n1, &u->t1, &f1, &v1);
                u->flip = f0 | f1 << 16;
                u->valid = v0 | v1 << 16;
            }
        }
        for (oy0 = 0; oy0 < vo->h; oy0 += band_rows) {
            const uint32_t nr = vo->h - oy0 < band_rows ? vo->h - oy0 : band_rows;
            const be_word *buf = (const be_word *)in + (size_t)oy0 * rl;
            if (!pointwise) {
                band(op, (const be_word *)in, oy0, nr, rowbuf);
                buf = rowbuf;
            }
            for (g = 0; g < gn; g++) {
                if (nb == 2)
                    run_band(&cx, &units[g], buf, nr * ow, ow, ystep, xstep, (size_t)oy0 * ow, out, 2);
                else
                    run_band(&cx, &units[g], buf, nr * ow, ow, ystep, xstep, (size_t)oy0 * ow, out, 1);
            }
        }
    }
    return cx.st;
}

/* ------------------------------------------------------------------ row-major (pointwise) */

BE_X86_AVX512 static be_status conv_rows(const be_op *op, const void *in, void *out)
{
    const uint32_t cw = op->in.cw, nout = op->out_ch, npx = op->out.h * op->out.w, cwo = op->out.pixel_bytes / 4u;
    const int sign = be_stage_is_sign(op);
    const be_word *x = (const be_word *)in, *wts = (const be_word *)op->weights;
    const __m512i kv = _mm512_set1_epi32((int)op->k);
    const be_word *wr[4], *xr[4];
    uint32_t o0, p0, r, p;
    be_status st = BE_OK;
    memset(out, 0, op->out.nbytes);
    for (o0 = 0; o0 < nout; o0 += 4u) {
        const uint32_t nr = nout - o0 < 4u ? nout - o0 : 4u;
        int32_t tt[4] = {0, 0, 0, 0};
        uint32_t flip = 0u, f;
        __m512i tv;
        for (r = 0; r < 4u; r++) { /* rows past the last channel repeat it; their results are dropped */
            wr[r] = wts + (size_t)(r < nr ? o0 + r : nout - 1u) * cw;
            if (sign && r < nr) {
                tt[r] = be_x86_gt_threshold(op, o0 + r, &f);
                flip |= f << r;
            }
        }
        tv = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)tt));
        for (p0 = 0; p0 < npx; p0 += 4u) {
            const uint32_t np = npx - p0 < 4u ? npx - p0 : 4u;
            __m512i sums;
            for (p = 0; p < 4u; p++)
                xr[p] = x + (size_t)(p < np ? p0 + p : npx - 1u) * cw;
            sums = be_x86_rowdot16(wr, xr, cw, 4);
            if (sign) {
                const uint32_t m = (uint32_t)_mm512_cmpgt_epi32_mask(sums, tv);
                for (p = 0; p < np; p++)
                    ((be_word *)out)[(size_t)(p0 + p) * cwo + o0 / 32u] |=
                        ((((m >> (4u * p)) & 0xFu) ^ flip) & ((1u << nr) - 1u)) << (o0 % 32u);
            } else {
                int32_t acc[16];
                _mm512_storeu_si512((void *)acc, _mm512_sub_epi32(kv, _mm512_slli_epi32(sums, 1)));
                for (p = 0; p < np; p++) {
                    const be_status s = be_stage_put_block(op, (uint8_t *)out + (size_t)(p0 + p) * op->out.pixel_bytes, o0,
                                                   nr, acc + 4u * p);
                    if (s != BE_OK)
                        st = s;
                }
            }
        }
    }
    return st;
}

BE_X86_AVX512 be_status be_conv2d_bin_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return rowmajor(op) ? conv_rows(op, in, out) : conv_lanes(op, in, out);
}

#else
typedef int be_conv2d_bin_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
