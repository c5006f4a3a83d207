/*
 * be_x86.h -- internal: portable helpers shared by the x86 kernel variants (src/x86/).
 *
 * Only x86 files include this. Everything here is plain C; the SIMD parts live in each variant
 * file (compiled with __attribute__((target(...))), chosen at run time by be_isa_detect).
 *
 * Stack use: the SIMD conv variants keep two bounded buffers on the stack (no malloc, and the
 * arena's scratch only holds one receptive field):
 *   - weights transposed so that one vector holds word j (sign) / int16 pair j (u8) of 16
 *     (AVX-512) or 8 (AVX2) output channels: BE_X86_KWORDS_MAX x lanes x 4 bytes (32 / 16 KiB),
 *     filled once per invoke when all channels fit (up to BE_X86_GROUP_MAX blocks), else per
 *     group of channel blocks;
 *   - the padded input rows of a band of output rows (+1 bits / pixel 0 around the input), so
 *     that the receptive field of every output pixel is KH contiguous segments:
 *     BE_X86_ROW_WORDS words (16 KiB). Unpadded 1x1 / stride 1 convs read the input in place.
 * About 50 KiB of stack in all. An op beyond these bounds (a weight row of more than
 * BE_X86_KWORDS_MAX words / pairs, or KH padded rows longer than the row buffer) is not
 * supported by those variants: dispatch falls through to the next entry of the table (popcnt,
 * then ref). The popcnt variants use only the arena's scratch.
 */
#ifndef BE_X86_H
#define BE_X86_H

#include <stdint.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"

#define BE_X86_KWORDS_MAX 512u  /* words (sign) or int16 pairs (u8) of one conv weight row */
#define BE_X86_ROW_WORDS 4096u  /* words of padded input rows kept at once */
#define BE_X86_GROUP_MAX 16u    /* output-channel blocks whose weights are transposed at once */

/* Fully unroll the next loop (constant trip counts over register arrays, which then stay in
 * registers; GCC's -O2 would keep them in memory). */
#if defined(__GNUC__)
#define BE_X86_UNROLL _Pragma("GCC unroll 16")
#else
#define BE_X86_UNROLL
#endif

/* Binary weights on sign-encoded bit inputs: the XOR / popcount kernels. */
static inline int be_x86_is_sign_binary(const be_op *op)
{
    return op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS && op->in.encoding == BE_ENC_SIGN;
}

/* uint8 pixel input with binary or int8 weights: the first-layer kernels. */
static inline int be_x86_is_u8(const be_op *op)
{
    return op->in.kind == BE_KIND_U8 && (op->weight_kind == BE_WK_BINARY || op->weight_kind == BE_WK_INT8);
}

/* A conv whose output pixel p reads exactly input pixel p (1x1, stride 1, no padding): its
 * im2col rows are the input itself. */
static inline int be_x86_conv_is_pointwise(const be_op *op)
{
    return op->kh == 1u && op->kw == 1u && op->sh == 1u && op->sw == 1u && op->pt == 0u && op->pb == 0u &&
           op->pl == 0u && op->pr == 0u;
}

/* im2col of sign bits: for output pixels p0 .. p0+n-1, the KH*KW*cw words of each receptive
 * field in weight-row order (ky, kx, word), padding pixels as zero words (+1). */
static inline void be_x86_im2col_bits(const be_op *op, const be_word *in, uint32_t p0, uint32_t n, be_word *dst)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, span = op->kw * cw, ow = op->out.w;
    const int32_t h = (int32_t)vi->h, w = (int32_t)vi->w, kw = (int32_t)op->kw;
    uint32_t oy = p0 / ow, ox = p0 % ow, i, ky;
    int32_t kx;
    for (i = 0; i < n; i++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
        const int inside_x = x0 >= 0 && x0 + kw <= w;
        for (ky = 0; ky < op->kh; ky++, dst += span) {
            const int32_t iy = y0 + (int32_t)ky;
            const be_word *row = in + (size_t)(iy < 0 ? 0 : iy) * (size_t)w * cw;
            if (iy < 0 || iy >= h) {
                be_zero_words(dst, span);
            } else if (inside_x) {
                be_copy_words(dst, row + (size_t)x0 * cw, span);
            } else {
                for (kx = 0; kx < kw; kx++) {
                    const int32_t ix = x0 + kx;
                    if (ix >= 0 && ix < w)
                        be_copy_words(dst + (size_t)kx * cw, row + (size_t)ix * cw, cw);
                    else
                        be_zero_words(dst + (size_t)kx * cw, cw);
                }
            }
        }
        if (++ox == ow) {
            ox = 0;
            oy++;
        }
    }
}


/* im2col of unsigned bit-planes for output pixel p: P patches of KH*KW*cw words (plane q at
 * dst + q * KH*KW*cw, weight-row order (ky, kx, word)), padding pixels as zero words (level 0).
 * KH*KW*pixel_bytes bytes: the model's patch_bytes. */
static inline void be_x86_im2col_planes(const be_op *op, const be_word *in, uint32_t p, be_word *dst)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, planes = vi->planes, kwords = op->kh * op->kw * cw, ow = op->out.w;
    const int32_t h = (int32_t)vi->h, w = (int32_t)vi->w;
    const int32_t y0 = (int32_t)((p / ow) * op->sh) - (int32_t)op->pt, x0 = (int32_t)((p % ow) * op->sw) - (int32_t)op->pl;
    uint32_t ky, kx, q;
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        for (kx = 0; kx < op->kw; kx++) {
            const int32_t ix = x0 + (int32_t)kx;
            be_word *d = dst + (ky * op->kw + kx) * cw;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                for (q = 0; q < planes; q++)
                    be_zero_words(d + (size_t)q * kwords, cw);
            } else {
                const be_word *s = in + ((size_t)iy * (size_t)w + (size_t)ix) * planes * cw;
                for (q = 0; q < planes; q++)
                    be_copy_words(d + (size_t)q * kwords, s + (size_t)q * cw, cw);
            }
        }
    }
}

/* Words of one padded input row of a sign conv: (W + PL + PR) * cw. */
static inline uint32_t be_x86_row_len(const be_op *op)
{
    return (op->in.w + op->pl + op->pr) * (op->in.kind == BE_KIND_U8 ? op->in.c : op->in.cw);
}

/* Output rows per band: the padded input rows a band of R output rows reads, (R-1)*SH + KH,
 * must fit `capacity` row elements; 0 if not even one output row fits. */
static inline uint32_t be_x86_band_rows(const be_op *op, uint32_t capacity)
{
    const uint32_t fit = capacity / be_x86_row_len(op);
    uint32_t r;
    if (fit < op->kh)
        return 0u;
    r = (fit - op->kh) / op->sh + 1u;
    return r < op->out.h ? r : op->out.h;
}

/* Do the SIMD conv variants' stack buffers hold op? The weight row (kwords words or pairs) and,
 * unless the conv reads its input in place, KH padded rows (`capacity` row elements). */
static inline int be_x86_conv_fits(const be_op *op, uint32_t capacity, uint32_t kwords)
{
    return kwords <= BE_X86_KWORDS_MAX && (be_x86_conv_is_pointwise(op) || be_x86_band_rows(op, capacity) > 0u);
}

/* The padded input rows of output rows [oy0, oy0 + n) (sign bits): buf row r holds input row
 * oy0*SH - PT + r with PL zero pixels before and PR after (zero words = +1), or zeros outside
 * the input. Output pixel (oy0 + y, ox) at kernel row ky then reads the KW*cw words at
 * buf + (y*SH + ky) * rl + ox*SW*cw. */
static inline void be_x86_band_bits(const be_op *op, const be_word *in, uint32_t oy0, uint32_t n, be_word *buf)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, rl = be_x86_row_len(op), pl = op->pl * cw, body = vi->w * cw;
    const uint32_t rows = (n - 1u) * op->sh + op->kh;
    uint32_t r;
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            memset(buf, 0, (size_t)rl * 4u);
        } else {
            memset(buf, 0, (size_t)pl * 4u);
            memcpy(buf + pl, in + (size_t)iy * body, (size_t)body * 4u);
            memset(buf + pl + body, 0, (size_t)(rl - pl - body) * 4u);
        }
    }
}

/* The same for u8 pixels widened to int16 (padding pixel 0), plus 2 zero elements after the
 * last row (a pair may reach one element past a segment: its weight half is zero). */
static inline void be_x86_band_u8(const be_op *op, const uint8_t *in, uint32_t oy0, uint32_t n, uint16_t *buf)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, rl = be_x86_row_len(op), pl = op->pl * c, body = vi->w * c;
    const uint32_t rows = (n - 1u) * op->sh + op->kh;
    uint32_t r, j;
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            memset(buf, 0, (size_t)rl * 2u);
        } else {
            const uint8_t *src = in + (size_t)iy * body;
            memset(buf, 0, (size_t)pl * 2u);
            for (j = 0; j < body; j++)
                buf[pl + j] = src[j];
            memset(buf + pl + body, 0, (size_t)(rl - pl - body) * 2u);
        }
    }
    buf[0] = buf[1] = 0u;
}

/* Row pointers of the PX output pixels p0 .. p0+PX-1 of a band (raster order, ow pixels per
 * row; pixels past n repeat pixel n-1): base[i] = buf + y*ystep + ox*xstep. */
static inline void be_x86_pixel_bases(uint32_t p0, uint32_t n, uint32_t px, uint32_t ow, size_t ystep, size_t xstep,
                                      size_t *base)
{
    uint32_t i, y = p0 / ow, x = p0 % ow;
    for (i = 0; i < px; i++) {
        base[i] = (size_t)y * ystep + (size_t)x * xstep;
        if (p0 + i + 1u < n && ++x == ow) {
            x = 0;
            y++;
        }
    }
}

/* Sign stage folded onto the popcount: with acc = K - 2 * diff, the bit of channel c (1 = -1)
 * is  y > T'  where y = diff (direction +1) or -diff (direction -1) and
 *     T' = floor((K - t) / 2)   (direction +1: K - 2*diff < t)
 *     T' = floor(-(K + t) / 2)  (direction -1: 2*diff - K < t),
 * clamped to [-K - 1, K] (y lies in [-K, K]), so T' fits int32 for any t. */
static inline int32_t be_x86_diff_threshold(const be_op *op, uint32_t c)
{
    const int64_t k = (int64_t)op->k, t = ((const int32_t *)op->stage_b)[c];
    const int64_t num = ((const int8_t *)op->stage_a)[c] < 0 ? -(k + t) : k - t;
    int64_t v = num >= 0 ? num / 2 : -((-num + 1) / 2); /* floor(num / 2) */
    if (v < -k - 1)
        v = -k - 1;
    if (v > k)
        v = k;
    return (int32_t)v;
}

/* The sign stage as one "greater than" per channel: with diff = popcount(x XOR w) over the K
 * bits and T' = be_x86_diff_threshold, the output bit of channel c is
 *     diff > T'                    (direction +1)
 *     -diff > T'  <=>  NOT(diff > -T' - 1)   (direction -1),
 * so bit = (diff > T2) XOR flip with T2 = T' or -T' - 1 (both in [-K - 1, K]) and flip = 1 for
 * direction -1. Returns T2; *flip gets the flip bit. */
static inline int32_t be_x86_gt_threshold(const be_op *op, uint32_t c, uint32_t *flip)
{
    const int32_t t = be_x86_diff_threshold(op, c);
    *flip = ((const int8_t *)op->stage_a)[c] < 0 ? 1u : 0u;
    return *flip ? -t - 1 : t;
}

/* Transposed int16-pair weights of output channels [o0, o0 + lanes) for the u8 conv kernels,
 * per kernel row: with S = KW*C elements per row segment and S2 = ceil(S / 2) pairs,
 * dst[(ky * S2 + q) * stride + l] = w(o0 + l, ky, 2q) | w(o0 + l, ky, 2q + 1) << 16 (int16
 * halves: +-1 for binary (bit 1 = -1), the int8 value; zero past the segment or beyond the last
 * channel). Weights: binary (O, KH, KW, words(C)) rows of w_row_bytes, int8 (O, KH, KW, C). */
static inline void be_x86_pairs_weights(const be_op *op, uint32_t o0, uint32_t lanes, uint32_t *dst,
                                        uint32_t stride)
{
    const uint32_t c = op->in_ch, seg = op->kw * c, s2 = (seg + 1u) / 2u, taps = op->kh * op->kw;
    uint32_t l, ky, kx, ch, q;
    for (q = 0; q < op->kh * s2; q++)
        memset(dst + (size_t)q * stride, 0, (size_t)lanes * 4u);
    for (l = 0; l < lanes && o0 + l < op->out_ch; l++) {
        const uint32_t o = o0 + l;
        for (ky = 0; ky < op->kh; ky++) {
            uint32_t *d = dst + (size_t)ky * s2 * stride + l;
            for (kx = 0; kx < op->kw; kx++) {
                const size_t tap = (size_t)o * taps + ky * op->kw + kx;
                const be_word *bits = (const be_word *)((const uint8_t *)op->weights + tap * op->w_row_bytes);
                const int8_t *i8 = (const int8_t *)op->weights + tap * c;
                for (ch = 0; ch < c; ch++) {
                    const uint32_t e = kx * c + ch; /* position in the segment */
                    const int32_t v = op->weight_kind == BE_WK_INT8 ? (int32_t)i8[ch]
                                                                    : be_bit_to_sign(be_get_bit(bits, ch));
                    d[(size_t)(e / 2u) * stride] |= (uint32_t)(uint16_t)(int16_t)v << (16u * (e % 2u));
                }
            }
        }
    }
}

/* Transposed sign weights of output channels [o0, o0 + lanes): dst[j * stride + l] = word j of
 * the weight row of channel o0 + l (zero beyond the last channel); stride >= lanes lets two
 * blocks interleave. */
static inline void be_x86_transpose_words(const be_op *op, uint32_t o0, uint32_t lanes, uint32_t kwords,
                                          be_word *dst, uint32_t stride)
{
    uint32_t l, j;
    for (l = 0; l < lanes; l++) {
        if (o0 + l < op->out_ch) {
            const be_word *row = (const be_word *)op->weights + (size_t)(o0 + l) * kwords;
            for (j = 0; j < kwords; j++)
                dst[(size_t)j * stride + l] = row[j];
        } else {
            for (j = 0; j < kwords; j++)
                dst[(size_t)j * stride + l] = 0u;
        }
    }
}

#endif /* BE_X86_H */
