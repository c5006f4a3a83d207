/* be_conv2d_i8_avx2.c -- Conv2d with int8 weights over u8 / i8 codes (any zero point, groups,
 * depthwise, every output stage), AVX2.
 *
 * Groups (1 or more; a depthwise conv with more than 64 taps too): the padded int16 rows of a
 * band of output rows (be_x86_i8_band: zero points around the input), int16-pair weights
 * transposed for 16 output channels (two vectors), and per pair step one 32-bit broadcast of
 * the input pair per output pixel and one VPMADDWD per weight vector: 4 output pixels x 16
 * channels = 8 accumulators, 2 weight loads and 4 broadcasts per 8 VPMADDWD (128 MACs).
 * Depthwise (groups = C, any channel multiplier m, up to 64 taps): the channels in lanes. Per
 * output pixel a table of the tap addresses (the input pixel, or a row of zero points for a
 * padding tap); per 16 output channels and pair of taps two 16-byte loads (the input channels
 * the 16 outputs read, spread by one VPSHUFB when m > 1), widened to int16, interleaved
 * (VPUNPCKL/HWD) and multiplied with the pair-interleaved weights (VPMADDWD).
 * Every other conv (rows or a weight row beyond those stack buffers): per output pixel the
 * receptive field in the arena's scratch as int16, the weight rows read in place (conv_patch).
 * RequantStage: 8 lanes at a time (be_x86_rq8_apply); other stages through be_stage_put_block.
 * Stack: 32 KiB of transposed weights + 16 KiB of rows (or the depthwise tables, 41 KiB); the
 * patch path none. Every int8 conv is supported.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_i8.h"

#define PX 4u
#define WT_WORDS 8192u                   /* transposed weights: 32 KiB */
#define KPAIRS_MAX (WT_WORDS / BE_X86_I8_LANES) /* 512 pairs in one weight row */
#define DW_TAPS 64u
#define DW_CH 256u                       /* depthwise: output channels per chunk */
#define DW_WT_VECS (DW_CH / 16u * (DW_TAPS / 2u) * 2u) /* pair-interleaved weight vectors: 32 KiB */
#define DW_CIN_MAX 4096u                 /* depthwise: input channels (the zero-point row) */

static int dw_ok(const be_op *op)
{
    return op->groups > 1u && op->groups == op->in_ch && op->kh * op->kw <= DW_TAPS && op->in_ch <= DW_CIN_MAX;
}

int be_conv2d_i8_avx2_supports(const be_op *op)
{
    return be_op_is_int8_layer(op) && op->type == BE_OP_CONV2D;
}

/* The band path: KH padded rows and one transposed weight row fit the stack buffers. */
static int band_ok(const be_op *op)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups;
    return be_x86_i8_band_rows(op, BE_X86_I8_ROW_ELEMS) > 0u && op->kh * ((op->kw * cg + 1u) / 2u) <= KPAIRS_MAX;
}

/* Non-requant stages of channels [o0, o0 + n) (any o0): be_stage_put_block per word of bits. */
static be_status put_other(const be_op *op, void *px_out, uint32_t o0, uint32_t n, const int32_t *acc)
{
    be_status st = BE_OK;
    while (n > 0u) {
        const uint32_t k = 32u - o0 % 32u < n ? 32u - o0 % 32u : n;
        const be_status s = be_stage_put_block(op, px_out, o0, k, acc);
        if (s != BE_OK)
            st = s;
        o0 += k;
        acc += k;
        n -= k;
    }
    return st;
}

/* The stage of 16 channels of one pixel from two accumulator vectors (channels o0..o0+7, +8..15). */
BE_X86_I8_AVX2 static inline be_status put16(const be_op *op, const be_x86_rq8 *rq, __m256i a, __m256i b,
                                             uint8_t *px_out, uint32_t o0, uint32_t n, __m256i lo, __m256i hi,
                                             __m256i zp)
{
    if (op->stage == BE_STAGE_REQUANT) {
        be_x86_store_codes16(be_x86_rq8_apply(rq, a, lo, hi, zp), be_x86_rq8_apply(rq + 1, b, lo, hi, zp),
                             (int8_t *)px_out + o0, n);
        return BE_OK;
    } else {
        int32_t t[16];
        _mm256_storeu_si256((__m256i *)(void *)t, a);
        _mm256_storeu_si256((__m256i *)(void *)(t + 8), b);
        return put_other(op, px_out, o0, n, t);
    }
}

#define STEP(i)                                                                                         \
    do {                                                                                                \
        const __m256i xb = _mm256_broadcastd_epi32(_mm_loadu_si32(r##i + 2u * q));                     \
        a##i = _mm256_add_epi32(a##i, _mm256_madd_epi16(w0, xb));                                       \
        b##i = _mm256_add_epi32(b##i, _mm256_madd_epi16(w1, xb));                                       \
    } while (0)

/* Group g: every output channel of the group, band by band. */
BE_X86_I8_AVX2 static be_status conv_group(const be_op *op, const uint8_t *in, uint8_t *out, uint32_t g,
                                           uint32_t *wt, int16_t *rows)
{
    const be_value *vo = &op->out;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups, og = op->out_ch / groups;
    const uint32_t s2 = (op->kw * cg + 1u) / 2u, kpairs = op->kh * s2, nblk = (og + 15u) / 16u;
    const uint32_t gmax = WT_WORDS / (kpairs * BE_X86_I8_LANES);
    const size_t rl = be_x86_i8_row_len(op), ystep = op->sh * rl, xstep = (size_t)op->sw * cg;
    const uint32_t band = be_x86_i8_band_rows(op, BE_X86_I8_ROW_ELEMS), ow = vo->w;
    const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
    const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point), zp = _mm256_set1_epi32(op->zero_point);
    size_t base[PX];
    uint32_t blk, gi, gn, oy0, p0, i, ky, q;
    be_status st = BE_OK;
    for (blk = 0; blk < nblk; blk += gn) {
        gn = nblk - blk < gmax ? nblk - blk : gmax;
        for (gi = 0; gi < gn; gi++) {
            const uint32_t b = blk + gi;
            be_x86_i8_pairs(op, g * og + 16u * b, og - 16u * b < 16u ? og - 16u * b : 16u,
                            wt + (size_t)gi * kpairs * BE_X86_I8_LANES);
        }
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            be_x86_i8_band(op, in, g, oy0, nr, rows);
            for (gi = 0; gi < gn; gi++) {
                const uint32_t b = blk + gi, o0 = g * og + 16u * b, nl = og - 16u * b < 16u ? og - 16u * b : 16u;
                const uint32_t *wg = wt + (size_t)gi * kpairs * BE_X86_I8_LANES;
                be_x86_rq8 rq[2];
                memset(rq, 0, sizeof rq);
                if (op->stage == BE_STAGE_REQUANT) {
                    be_x86_rq8_prepare(op, o0, nl < 8u ? nl : 8u, &rq[0]);
                    be_x86_rq8_prepare(op, o0 + 8u, nl > 8u ? nl - 8u : 0u, &rq[1]);
                }
                for (p0 = 0; p0 < npx; p0 += PX) {
                    const uint32_t nv = npx - p0 < PX ? npx - p0 : PX;
                    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                    __m256i av[PX], bv[PX];
                    be_x86_pixel_bases(p0, npx, PX, ow, ystep, xstep, base);
                    for (ky = 0; ky < op->kh; ky++) {
                        const int16_t *rw = rows + (size_t)ky * rl;
                        const int16_t *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
                        const uint32_t *wk = wg + (size_t)ky * s2 * BE_X86_I8_LANES;
                        for (q = 0; q < s2; q++) {
                            const __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)(wk + 16u * q));
                            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(const void *)(wk + 16u * q + 8u));
                            STEP(0);
                            STEP(1);
                            STEP(2);
                            STEP(3);
                        }
                    }
                    av[0] = a0; av[1] = a1; av[2] = a2; av[3] = a3;
                    bv[0] = b0; bv[1] = b1; bv[2] = b2; bv[3] = b3;
                    for (i = 0; i < nv; i++) {
                        uint8_t *px_out = out + ((size_t)oy0 * ow + p0 + i) * vo->pixel_bytes;
                        const be_status s = put16(op, rq, av[i], bv[i], px_out, o0, nl, lo, hi, zp);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    return st;
}

/* ------------------------------------------------------------------------- depthwise */

/* Pair-interleaved weights of output channels [o0, o0 + n) (n <= DW_CH): for block j16 and
 * tap pair tp, vectors wt[(j16 * ntp + tp) * 2 + h]: VPUNPCKL/HWD order of (w(c, 2 tp),
 * w(c, 2 tp + 1)) over the 16 channels c of the block, h = 0 channels 0-3 and 8-11, h = 1
 * channels 4-7 and 12-15 (zero past n and past the last tap). */
static void dw_weights(const be_op *op, uint32_t o0, uint32_t n, int16_t *wt)
{
    const uint32_t nt = op->kh * op->kw, ntp = (nt + 1u) / 2u;
    const int8_t *w = (const int8_t *)op->weights;
    uint32_t j16, tp, l, u;
    for (j16 = 0; j16 < (n + 15u) / 16u; j16++)
        for (tp = 0; tp < ntp; tp++) {
            int16_t *d = wt + ((size_t)j16 * ntp + tp) * 32u;
            for (l = 0; l < 16u; l++) { /* channel l of the block: vector h = (l / 4) % 2, lane (l / 8) * 4 + l % 4 */
                const uint32_t c = 16u * j16 + l, h = (l / 4u) % 2u, lane = (l / 8u) * 4u + l % 4u;
                for (u = 0; u < 2u; u++) {
                    const uint32_t t = 2u * tp + u;
                    d[h * 16u + lane * 2u + u] = c < n && t < nt ? w[(size_t)(o0 + c) * nt + t] : 0;
                }
            }
        }
}

/* 16 int16: the input channels of output channels o .. o + 15 at a tap (m > 1: spread by the
 * shuffle `spread`, src then holds channels (o / m) ..). */
BE_X86_I8_AVX2 static inline __m256i dw_load(const uint8_t *src, int is_i8, int spread_on, __m128i spread)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)src);
    if (spread_on)
        v = _mm_shuffle_epi8(v, spread);
    return is_i8 ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

/* Depthwise over padded bands: output channels in chunks of 32; the band holds, per pixel, 32
 * int16 slots, slot i = the input channel output channel o0 + i reads (zero points around and
 * outside the input; any channel multiplier), so that tap t of output pixel (y, x) and lanes
 * j .. j + 15 are one 32-byte load at a fixed offset from the pixel's base. */
#define DWB_SLOT 32u
#define DWB_ELEMS 16384u /* int16 of padded rows (32 KiB) */

static uint32_t dwb_row_len(const be_op *op)
{
    return (op->in.w + op->pl + op->pr) * DWB_SLOT;
}

static uint32_t dwb_band_rows(const be_op *op)
{
    const uint32_t fit = DWB_ELEMS / dwb_row_len(op);
    uint32_t r;
    if (fit < op->kh)
        return 0u;
    r = (fit - op->kh) / op->sh + 1u;
    return r < op->out.h ? r : op->out.h;
}

BE_X86_I8_AVX2 static void dwb_band(const be_op *op, const uint8_t *in, uint32_t o0, uint32_t nch, uint32_t oy0,
                                    uint32_t nr, int16_t *buf)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, m = op->out_ch / c, cin0 = o0 / m, rl = dwb_row_len(op);
    const uint32_t rows = (nr - 1u) * op->sh + op->kh, pw = vi->w + op->pl + op->pr;
    const uint32_t span = (o0 + nch - 1u) / m - cin0 + 1u; /* input channels the chunk reads */
    const int16_t zp = (int16_t)vi->zero_point;
    const int is_i8 = vi->kind == BE_KIND_I8;
    uint8_t idx[DWB_SLOT];
    __m128i s0, s1;
    uint32_t r, x, i;
    for (i = 0; i < DWB_SLOT; i++) /* m >= 2: slot i reads byte (o0 + i) / m - cin0 <= 15 */
        idx[i] = (uint8_t)((o0 + i) / m - cin0);
    s0 = _mm_loadu_si128((const __m128i *)(const void *)idx);
    s1 = _mm_loadu_si128((const __m128i *)(const void *)(idx + 16));
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            be_x86_i8_set(buf, rl, zp);
            continue;
        }
        for (x = 0; x < pw; x++) {
            int16_t *d = buf + (size_t)x * DWB_SLOT;
            const int32_t ix = (int32_t)x - (int32_t)op->pl;
            const uint8_t *src = in + ((size_t)iy * vi->w + (size_t)(ix < 0 ? 0 : ix)) * c + cin0;
            if (ix < 0 || ix >= (int32_t)vi->w) {
                be_x86_i8_set(d, DWB_SLOT, zp);
            } else if (m == 1u && cin0 + DWB_SLOT <= c) {
                be_x86_i8_widen(d, src, DWB_SLOT, is_i8);
            } else if (m == 1u) {
                for (i = 0; i < DWB_SLOT; i++)
                    d[i] = i < nch ? (int16_t)be_code_at(vi, src, i) : 0;
            } else { /* spread: 16 bytes (copied when they would pass the pixel) and two shuffles */
                __m128i v, a, b;
                if (cin0 + 16u <= c) {
                    v = _mm_loadu_si128((const __m128i *)(const void *)src);
                } else {
                    uint8_t t[16];
                    memset(t, 0, sizeof t);
                    memcpy(t, src, span);
                    v = _mm_loadu_si128((const __m128i *)(const void *)t);
                }
                a = _mm_shuffle_epi8(v, s0);
                b = _mm_shuffle_epi8(v, s1);
                _mm256_storeu_si256((__m256i *)(void *)d, is_i8 ? _mm256_cvtepi8_epi16(a) : _mm256_cvtepu8_epi16(a));
                _mm256_storeu_si256((__m256i *)(void *)(d + 16),
                                    is_i8 ? _mm256_cvtepi8_epi16(b) : _mm256_cvtepu8_epi16(b));
            }
        }
    }
}

BE_X86_I8_AVX2 static be_status conv_dw_band(const be_op *op, const uint8_t *in, uint8_t *out, int16_t *wt,
                                             int16_t *rows)
{
    const be_value *vo = &op->out;
    const uint32_t nt = op->kh * op->kw, ntp = (nt + 1u) / 2u, rl = dwb_row_len(op), band = dwb_band_rows(op);
    const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
    const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point), zp = _mm256_set1_epi32(op->zero_point);
    uint32_t off[DW_TAPS + 1u];
    be_x86_rq8 rqt[DWB_SLOT / 8u];
    uint32_t o0, oy0, oy, ox, j, t, ky, kx;
    be_status st = BE_OK;
    memset(rqt, 0, sizeof rqt);
    for (ky = 0, t = 0; ky < op->kh; ky++)
        for (kx = 0; kx < op->kw; kx++, t++)
            off[t] = ky * rl + kx * DWB_SLOT;
    off[nt] = 0u; /* the odd tap's partner (zero weights) */
    for (o0 = 0; o0 < op->out_ch; o0 += DWB_SLOT) {
        const uint32_t nch = op->out_ch - o0 < DWB_SLOT ? op->out_ch - o0 : DWB_SLOT;
        dw_weights(op, o0, nch, wt);
        if (op->stage == BE_STAGE_REQUANT)
            for (j = 0; j < nch; j += 8u)
                be_x86_rq8_prepare(op, o0 + j, nch - j < 8u ? nch - j : 8u, &rqt[j / 8u]);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band;
            dwb_band(op, in, o0, nch, oy0, nr, rows);
            for (oy = 0; oy < nr; oy++) {
                for (ox = 0; ox < vo->w; ox++) {
                    const int16_t *px = rows + (size_t)oy * op->sh * rl + (size_t)ox * op->sw * DWB_SLOT;
                    uint8_t *px_out = out + ((size_t)(oy0 + oy) * vo->w + ox) * vo->pixel_bytes;
                    for (j = 0; j < nch; j += 16u) {
                        const int16_t *w = wt + (size_t)(j / 16u) * ntp * 32u;
                        __m256i a = _mm256_setzero_si256(), b = a;
                        be_status s;
                        for (t = 0; t < nt; t += 2u, w += 32) {
                            const __m256i x0v = _mm256_loadu_si256((const __m256i *)(const void *)(px + off[t] + j));
                            const __m256i x1v =
                                _mm256_loadu_si256((const __m256i *)(const void *)(px + off[t + 1u] + j));
                            a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v),
                                                                      _mm256_load_si256((const __m256i *)(const void *)w)));
                            b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v),
                                                                      _mm256_load_si256((const __m256i *)(const void *)(w + 16))));
                        }
                        s = put16(op, rqt + j / 8u, _mm256_permute2x128_si256(a, b, 0x20),
                                  _mm256_permute2x128_si256(a, b, 0x31), px_out, o0 + j,
                                  nch - j < 16u ? nch - j : 16u, lo, hi, zp);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    return st;
}

BE_X86_I8_AVX2 static be_status conv_dw(const be_op *op, const uint8_t *in, uint8_t *out, int16_t *wt,
                                        uint8_t *zrow)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t c = vi->c, m = op->out_ch / c, nt = op->kh * op->kw, ntp = (nt + 1u) / 2u;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
    const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point), zp = _mm256_set1_epi32(op->zero_point);
    const uint8_t *taps[DW_TAPS + 1u];
    be_x86_rq8 rqt[DW_CH / 8u];
    uint32_t o0, oy, ox, j, t, l;
    be_status st = BE_OK;
    memset(rqt, 0, sizeof rqt);
    memset(zrow, (uint8_t)vi->zero_point, c + 16u);
    for (o0 = 0; o0 < op->out_ch; o0 += DW_CH) {
        const uint32_t nch = op->out_ch - o0 < DW_CH ? op->out_ch - o0 : DW_CH;
        dw_weights(op, o0, nch, wt);
        if (op->stage == BE_STAGE_REQUANT)
            for (j = 0; j < nch; j += 8u)
                be_x86_rq8_prepare(op, o0 + j, nch - j < 8u ? nch - j : 8u, &rqt[j / 8u]);
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
                const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
                uint32_t ky, kx;
                for (ky = 0, t = 0; ky < op->kh; ky++)
                    for (kx = 0; kx < op->kw; kx++, t++) {
                        const int32_t iy = y0 + (int32_t)ky, ix = x0 + (int32_t)kx;
                        taps[t] = iy >= 0 && iy < (int32_t)vi->h && ix >= 0 && ix < (int32_t)vi->w
                                      ? in + ((size_t)iy * vi->w + (size_t)ix) * c
                                      : zrow;
                    }
                taps[nt] = zrow; /* the odd tap's partner (zero weights) */
                for (j = 0; j < nch; j += 16u) {
                    const uint32_t o = o0 + j, cin = o / m, nl = nch - j < 16u ? nch - j : 16u;
                    const uint32_t span = (o + nl - 1u) / m - cin + 1u; /* input channels the block reads */
                    const int16_t *w = wt + (size_t)(j / 16u) * ntp * 32u;
                    __m256i a = _mm256_setzero_si256(), b = a;
                    __m128i spread = _mm_setzero_si128();
                    uint8_t idx[16];
                    if (m > 1u) {
                        for (l = 0; l < 16u; l++)
                            idx[l] = (uint8_t)((o + l) / m - cin);
                        spread = _mm_loadu_si128((const __m128i *)(const void *)idx);
                    }
                    if (cin + 16u <= c) { /* 16 bytes at every tap stay inside its pixel */
                        for (t = 0; t < nt; t += 2u, w += 32) {
                            const __m256i x0v = dw_load(taps[t] + cin, is_i8, m > 1u, spread);
                            const __m256i x1v = dw_load(taps[t + 1u] + cin, is_i8, m > 1u, spread);
                            a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v),
                                                                      _mm256_loadu_si256((const __m256i *)(const void *)w)));
                            b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v),
                                                                      _mm256_loadu_si256((const __m256i *)(const void *)(w + 16))));
                        }
                    } else { /* the last channels of the pixel: copied, nothing read past the input */
                        uint8_t tmp[2][16];
                        memset(tmp, 0, sizeof tmp);
                        for (t = 0; t < nt; t += 2u, w += 32) {
                            __m256i x0v, x1v;
                            memcpy(tmp[0], taps[t] + cin, span);
                            memcpy(tmp[1], taps[t + 1u] + cin, span);
                            x0v = dw_load(tmp[0], is_i8, m > 1u, spread);
                            x1v = dw_load(tmp[1], is_i8, m > 1u, spread);
                            a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0v, x1v),
                                                                      _mm256_loadu_si256((const __m256i *)(const void *)w)));
                            b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0v, x1v),
                                                                      _mm256_loadu_si256((const __m256i *)(const void *)(w + 16))));
                        }
                    }
                    { /* lanes (0-3, 8-11) and (4-7, 12-15) back to channel order */
                        const be_status s = put16(op, rqt + j / 8u, _mm256_permute2x128_si256(a, b, 0x20),
                                                  _mm256_permute2x128_si256(a, b, 0x31), px_out, o, nl, lo, hi, zp);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    return st;
}

/* ------------------------------------------------------------------- any size: patches */

/* Every other conv (rows or weights beyond the band path's buffers): per output pixel and group
 * the receptive field widened to int16 in the arena's scratch (docs/format.md section 6), then
 * per 4 output channels the weight rows read in place (VPMOVSXBW, VPMADDWD: 16 MACs per row and
 * step, the patch vector shared by the 4 rows), one horizontal sum per row. */
BE_X86_I8_AVX2 static void patch_fill(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint32_t g,
                                      int16_t *patch)
{
    const be_value *vi = &op->in;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, c = vi->c, cg = c / groups;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const int16_t zp = (int16_t)vi->zero_point;
    uint32_t ky, kx, j;
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        for (kx = 0; kx < op->kw; kx++, patch += cg) {
            const int32_t ix = x0 + (int32_t)kx;
            const uint8_t *src;
            if (iy < 0 || iy >= (int32_t)vi->h || ix < 0 || ix >= (int32_t)vi->w) {
                for (j = 0; j < cg; j++)
                    patch[j] = zp;
                continue;
            }
            src = in + ((size_t)iy * vi->w + (size_t)ix) * c + (size_t)g * cg;
            for (j = 0; j + 16u <= cg; j += 16u) {
                const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + j));
                _mm256_storeu_si256((__m256i *)(void *)(patch + j), is_i8 ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v));
            }
            for (; j < cg; j++)
                patch[j] = is_i8 ? (int16_t)(int8_t)src[j] : (int16_t)src[j];
        }
    }
}

/* 16 int16 of the patch at x; n < 16: only n are read, the rest 0 */
BE_X86_I8_AVX2 static inline __m256i xload(const int16_t *x, uint32_t n)
{
    if (n >= 16u)
        return _mm256_loadu_si256((const __m256i *)(const void *)x);
    else {
        int16_t t[16];
        memset(t, 0, sizeof t);
        memcpy(t, x, (size_t)n * 2u);
        return _mm256_loadu_si256((const __m256i *)(const void *)t);
    }
}

BE_X86_I8_AVX2 static inline __m256i wload16(const int8_t *w, uint32_t n)
{
    if (n >= 16u)
        return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
    else {
        int8_t t[16];
        memset(t, 0, sizeof t);
        memcpy(t, w, n);
        return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)t));
    }
}

BE_X86_I8_AVX2 static be_status conv_patch(const be_op *op, const uint8_t *in, uint8_t *out, int16_t *patch)
{
    const be_value *vo = &op->out;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, og = op->out_ch / groups, k = op->k;
    const int8_t *wts = (const int8_t *)op->weights;
    const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
    const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point), zp = _mm256_set1_epi32(op->zero_point);
    __attribute__((aligned(32))) int32_t acc[16];
    uint32_t oy, ox, o0, o, j, i;
    be_status st = BE_OK;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            uint8_t *px_out = out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
            uint32_t gcur = 0xFFFFFFFFu;
            for (o0 = 0; o0 < op->out_ch;) {
                const uint32_t g = o0 / og, gend = (g + 1u) * og, n = gend - o0 < 16u ? gend - o0 : 16u;
                be_x86_rq8 rq[2];
                be_status s;
                if (g != gcur) {
                    patch_fill(op, in, oy, ox, g, patch);
                    gcur = g;
                }
                for (o = 0; o < n; o += 4u) {
                    const uint32_t last = n - 1u;
                    const int8_t *w0 = wts + (size_t)(o0 + o) * k, *w1 = wts + (size_t)(o0 + (o + 1u < last ? o + 1u : last)) * k;
                    const int8_t *w2 = wts + (size_t)(o0 + (o + 2u < last ? o + 2u : last)) * k;
                    const int8_t *w3 = wts + (size_t)(o0 + (o + 3u < last ? o + 3u : last)) * k;
                    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
                    int32_t r[4];
                    for (j = 0; j < k; j += 16u) {
                        const uint32_t m = k - j < 16u ? k - j : 16u;
                        const __m256i xv = xload(patch + j, m);
                        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(xv, wload16(w0 + j, m)));
                        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(xv, wload16(w1 + j, m)));
                        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(xv, wload16(w2 + j, m)));
                        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(xv, wload16(w3 + j, m)));
                    }
                    {
                        const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
                        _mm_storeu_si128((__m128i *)(void *)r,
                                         _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
                    }
                    for (i = 0; i < 4u && o + i < n; i++)
                        acc[o + i] = r[i];
                }
                for (i = n; i < 16u; i++)
                    acc[i] = 0;
                memset(rq, 0, sizeof rq);
                if (op->stage == BE_STAGE_REQUANT) {
                    be_x86_rq8_prepare(op, o0, n < 8u ? n : 8u, &rq[0]);
                    be_x86_rq8_prepare(op, o0 + 8u, n > 8u ? n - 8u : 0u, &rq[1]);
                }
                s = put16(op, rq, _mm256_load_si256((const __m256i *)(const void *)acc),
                          _mm256_load_si256((const __m256i *)(const void *)(acc + 8)), px_out, o0, n, lo, hi, zp);
                if (s != BE_OK)
                    st = s;
                o0 += n;
            }
        }
    }
    return st;
}

/* Each path's stack buffers in its own frame (the entry's stack is the largest of them, not
 * their sum). */
BE_X86_I8_AVX2 __attribute__((noinline)) static be_status run_dw_band(const be_op *op, const uint8_t *in,
                                                                      uint8_t *out)
{
    __attribute__((aligned(32))) int16_t wt[DWB_SLOT / 16u * (DW_TAPS / 2u) * 32u];
    __attribute__((aligned(32))) int16_t rows[DWB_ELEMS];
    return conv_dw_band(op, in, out, wt, rows);
}

BE_X86_I8_AVX2 __attribute__((noinline)) static be_status run_dw(const be_op *op, const uint8_t *in, uint8_t *out)
{
    __attribute__((aligned(32))) int16_t wt[DW_WT_VECS * 16u];
    uint8_t zrow[DW_CIN_MAX + 16u];
    return conv_dw(op, in, out, wt, zrow);
}

BE_X86_I8_AVX2 __attribute__((noinline)) static be_status run_bands(const be_op *op, const uint8_t *in,
                                                                    uint8_t *out)
{
    __attribute__((aligned(32))) uint32_t wt[WT_WORDS];
    __attribute__((aligned(32))) int16_t rows[BE_X86_I8_ROW_ELEMS + 2u];
    be_status st = BE_OK;
    uint32_t g;
    for (g = 0; g < (op->groups > 1u ? op->groups : 1u); g++) {
        const be_status s = conv_group(op, in, out, g, wt, rows);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

BE_X86_I8_AVX2 be_status be_conv2d_i8_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    if (op->stage == BE_STAGE_THRESHOLD)
        memset(out, 0, op->out.nbytes); /* the stage ORs bits into the output words */
    if (dw_ok(op) && dwb_band_rows(op) > 0u)
        return run_dw_band(op, (const uint8_t *)in, (uint8_t *)out);
    if (dw_ok(op))
        return run_dw(op, (const uint8_t *)in, (uint8_t *)out);
    if (!band_ok(op))
        return conv_patch(op, (const uint8_t *)in, (uint8_t *)out, (int16_t *)scratch);
    return run_bands(op, (const uint8_t *)in, (uint8_t *)out);
}

#else
typedef int be_conv2d_i8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
