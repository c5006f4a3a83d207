/* be_conv2d_bin_avx512.c -- Conv2d, sign bits x binary weights, AVX-512 VPOPCNTDQ.
 *
 * Output channels go in blocks of 16: the weights of a block are transposed (on the stack) so
 * that one zmm holds word j of 16 weight rows; each input word of an output pixel's receptive
 * field is broadcast, XORed with it and counted with VPOPCNTD: one instruction triple gives
 * 16 channels x 32 binary MACs and the 16 sums come out in one vector (no horizontal reduction).
 * Two blocks (32 channels = one output word) run together when their weights fit the stack
 * buffer, 8 output pixels share every weight load, and the sign threshold is compared on the
 * popcount itself (be_x86_diff_threshold), so 32 output bits are one mask and one store.
 * Receptive fields are read from padded input rows (padding = zero words = +1) built once per
 * band of output rows; unpadded 1x1 / stride 1 convs read the input in place.
 * acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"

#define LANES 16u
#define PX 8u

int be_conv2d_bin_avx512_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op) && be_x86_conv_fits(op, BE_X86_ROW_WORDS, op->kh * op->kw * op->in.cw);
}

#define STEP1(i)                                                                              \
    do {                                                                                      \
        const __m512i x = _mm512_set1_epi32((int)r##i[j]);                                    \
        a##i = _mm512_add_epi32(a##i, _mm512_popcnt_epi32(_mm512_xor_si512(w0, x)));          \
        if (nb == 2) {                                                                        \
            c##i = _mm512_add_epi32(c##i, _mm512_popcnt_epi32(_mm512_xor_si512(w1, x)));      \
        } else {                                                                              \
            const __m512i x2 = _mm512_set1_epi32((int)s##i[j]);                               \
            c##i = _mm512_add_epi32(c##i, _mm512_popcnt_epi32(_mm512_xor_si512(w0, x2)));     \
        }                                                                                     \
    } while (0)

/* popcount(x XOR w) into 16 accumulators: nb == 2 (a constant after inlining): 8 pixels (row
 * offsets base[0..7] in buf) against two interleaved blocks of transposed weights wt
 * ([j][2][16]); nb == 1: 16 pixels (base[0..15]) against one block ([j][16]). Output: diff[0..7]
 * = block 0 of pixels 0..7, diff[8..15] = block 1 of pixels 0..7 (nb == 2) or block 0 of
 * pixels 8..15 (nb == 1). */
BE_X86_AVX512 static inline __attribute__((always_inline)) void
pixels(const be_word *buf, const size_t *base, uint32_t kh, size_t rl, uint32_t span, const be_word *wt, const int nb,
       __m512i *diff)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512i c0 = a0, c1 = a0, c2 = a0, c3 = a0, c4 = a0, c5 = a0, c6 = a0, c7 = a0;
    uint32_t ky, j;
    for (ky = 0; ky < kh; ky++) {
        const be_word *rw = buf + (size_t)ky * rl;
        const be_word *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
        const be_word *r4 = rw + base[4], *r5 = rw + base[5], *r6 = rw + base[6], *r7 = rw + base[7];
        const be_word *s0 = r0, *s1 = r1, *s2 = r2, *s3 = r3, *s4 = r4, *s5 = r5, *s6 = r6, *s7 = r7;
        const be_word *wk = wt + (size_t)ky * span * LANES * (uint32_t)nb;
        if (nb == 1) {
            s0 = rw + base[8]; s1 = rw + base[9]; s2 = rw + base[10]; s3 = rw + base[11];
            s4 = rw + base[12]; s5 = rw + base[13]; s6 = rw + base[14]; s7 = rw + base[15];
        }
        for (j = 0; j < span; j++) {
            const __m512i w0 = _mm512_load_si512((const void *)(wk + (size_t)j * LANES * (uint32_t)nb));
            const __m512i w1 = nb == 2 ? _mm512_load_si512((const void *)(wk + (size_t)j * 2u * LANES + LANES)) : w0;
            STEP1(0); STEP1(1); STEP1(2); STEP1(3); STEP1(4); STEP1(5); STEP1(6); STEP1(7);
        }
    }
    diff[0] = a0; diff[1] = a1; diff[2] = a2; diff[3] = a3; diff[4] = a4; diff[5] = a5; diff[6] = a6; diff[7] = a7;
    diff[8] = c0; diff[9] = c1; diff[10] = c2; diff[11] = c3; diff[12] = c4; diff[13] = c5; diff[14] = c6; diff[15] = c7;
}

BE_X86_AVX512 be_status be_conv2d_bin_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int pointwise = be_x86_conv_is_pointwise(op), sign = be_x86_sign_stage(op);
    const uint32_t cw = vi->cw, kwords = op->kh * op->kw * cw, nout = op->out_ch, cwo = vo->pixel_bytes / 4u;
    const uint32_t nblk = (nout + LANES - 1u) / LANES;
    const int nb = kwords <= BE_X86_KWORDS_MAX / 2u ? 2 : 1; /* blocks per unit */
    const uint32_t nunit = (nblk + (uint32_t)nb - 1u) / (uint32_t)nb, unit = kwords * LANES * (uint32_t)nb;
    const uint32_t gmax = BE_X86_KWORDS_MAX * LANES / unit < BE_X86_GROUP_MAX ? BE_X86_KWORDS_MAX * LANES / unit
                                                                               : BE_X86_GROUP_MAX;
    const uint32_t kh = pointwise ? 1u : op->kh, span = pointwise ? cw : op->kw * cw;
    const size_t rl = pointwise ? (size_t)vi->w * cw : be_x86_row_len(op);
    const size_t ystep = pointwise ? rl : op->sh * rl, xstep = pointwise ? cw : (size_t)op->sw * cw;
    const uint32_t band = pointwise ? vo->h : be_x86_band_rows(op, BE_X86_ROW_WORDS), ow = vo->w;
    const __m512i kv = _mm512_set1_epi32((int)op->k);
    __attribute__((aligned(64))) be_word wt[BE_X86_KWORDS_MAX * LANES];
    __attribute__((aligned(64))) be_word rowbuf[BE_X86_ROW_WORDS];
    const uint32_t pxb = nb == 2 ? PX : 2u * PX; /* pixels per weight load */
    __m512i diff[2 * PX];
    size_t base[2 * PX];
    uint32_t u0, g, gn, b, oy0, p0, i;
    be_status st = BE_OK;
    (void)scratch;
    if (!sign)
        memset(out, 0, vo->nbytes); /* be_stage_put only sets bits */
    for (u0 = 0; u0 < nunit; u0 += gn) {
        gn = nunit - u0 < gmax ? nunit - u0 : gmax;
        for (g = 0; g < gn; g++)
            for (b = 0; b < (uint32_t)nb; b++)
                if (((u0 + g) * (uint32_t)nb + b) * LANES < nout)
                    be_x86_transpose16(op, ((u0 + g) * (uint32_t)nb + b) * LANES, kwords,
                                       wt + (size_t)g * unit + b * LANES, LANES * (uint32_t)nb);
                else
                    be_x86_transpose_words(op, ((u0 + g) * (uint32_t)nb + b) * LANES, LANES, kwords,
                                           wt + (size_t)g * unit + b * LANES, LANES * (uint32_t)nb);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            const be_word *buf = (const be_word *)in + (size_t)oy0 * rl;
            if (!pointwise) {
                be_x86_band_bits(op, (const be_word *)in, oy0, nr, rowbuf);
                buf = rowbuf;
            }
            for (g = 0; g < gn; g++) {
                const uint32_t o0 = (u0 + g) * (uint32_t)nb * LANES;
                const uint32_t n0 = nout - o0 < LANES ? nout - o0 : LANES;
                const uint32_t n1 = nb == 2 && nout > o0 + LANES ? (nout - o0 - LANES < LANES ? nout - o0 - LANES : LANES)
                                                               : 0u;
                const be_word *wg = wt + (size_t)g * unit;
                __m512i t0 = kv, t1 = kv;
                __mmask16 neg0 = 0, neg1 = 0, val0 = 0, val1 = 0;
                if (sign) {
                    be_x86_diff_stage16(op, o0, n0, &t0, &neg0, &val0);
                    if (n1)
                        be_x86_diff_stage16(op, o0 + LANES, n1, &t1, &neg1, &val1);
                }
                for (p0 = 0; p0 < npx; p0 += pxb) {
                    const uint32_t nv = npx - p0 < pxb ? npx - p0 : pxb;
                    be_x86_pixel_bases(p0, npx, pxb, ow, ystep, xstep, base);
                    if (nb == 2)
                        pixels(buf, base, kh, rl, span, wg, 2, diff);
                    else
                        pixels(buf, base, kh, rl, span, wg, 1, diff);
                    for (i = 0; i < nv; i++) {
                        const size_t pix = (size_t)oy0 * ow + p0 + i;
                        if (sign) {
                            const __m512i z = _mm512_setzero_si512();
                            uint32_t word = (uint32_t)_mm512_mask_cmpgt_epi32_mask(
                                val0, _mm512_mask_sub_epi32(diff[i], neg0, z, diff[i]), t0); /* nb 1: i < 16 */
                            be_word *ow_ = (be_word *)out + pix * cwo + o0 / 32u;
                            if (n1)
                                word |= (uint32_t)_mm512_mask_cmpgt_epi32_mask(
                                            val1, _mm512_mask_sub_epi32(diff[PX + i], neg1, z, diff[PX + i]), t1)
                                        << 16;
                            if (o0 % 32u == 0u)
                                *ow_ = word; /* the word's first block: plain store */
                            else
                                *ow_ |= word << 16;
                        } else {
                            uint8_t *px_out = (uint8_t *)out + pix * vo->pixel_bytes;
                            int32_t a[2 * LANES];
                            be_status s;
                            _mm512_storeu_si512((void *)a, _mm512_sub_epi32(kv, _mm512_slli_epi32(diff[i], 1)));
                            s = be_x86_put(op, px_out, o0, n0, a);
                            if (s == BE_OK && n1) { /* nb == 2: i < PX */
                                _mm512_storeu_si512((void *)(a + LANES),
                                                    _mm512_sub_epi32(kv, _mm512_slli_epi32(diff[PX + i], 1)));
                                s = be_x86_put(op, px_out, o0 + LANES, n1, a + LANES);
                            }
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
typedef int be_conv2d_bin_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
