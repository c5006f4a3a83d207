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

BE_X86_AVX512 be_status be_conv2d_u8_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const int sign = be_x86_sign_stage(op);
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
                            s = be_x86_put(op, px_out, o0, n0, a);
                            if (s == BE_OK && n1)
                                s = be_x86_put(op, px_out, o0 + LANES, n1, a + LANES);
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
