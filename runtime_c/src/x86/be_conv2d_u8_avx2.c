/* be_conv2d_u8_avx2.c -- Conv2d on uint8 pixels (first layer), binary or int8 weights, AVX2.
 *
 * Same scheme as the AVX-512 variant with 8 output channels per vector and 4 output pixels per
 * weight load: padded int16 input rows built once per band of output rows, int16-pair
 * transposed weights (+-1 or int8), VPMADDWD into exact 32-bit sums (|px * w| <= 255 * 128).
 * Sign and unsigned (qrelu, L <= 15) threshold stages are applied to the 8 channels of a vector
 * at once; other stages per channel (be_stage_put_block).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"

#define LANES 8u
#define PX 4u
#define ROW_ELEMS (2u * BE_X86_ROW_WORDS - 2u) /* int16 per row buffer, minus the 2 slack elements */

int be_conv2d_u8_avx2_supports(const be_op *op)
{
    return be_x86_is_u8(op) && be_x86_band_rows(op, ROW_ELEMS) > 0u &&
           op->kh * ((op->kw * op->in_ch + 1u) / 2u) <= BE_X86_KWORDS_MAX;
}

#define STEP(i) a##i = _mm256_add_epi32(a##i, _mm256_madd_epi16(wv, _mm256_broadcastd_epi32(_mm_loadu_si32(r##i + 2u * q))))

BE_X86_AVX2 be_status be_conv2d_u8_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t s2 = (op->kw * op->in_ch + 1u) / 2u, kpairs = op->kh * s2, nout = op->out_ch;
    const uint32_t nblk = (nout + LANES - 1u) / LANES;
    const uint32_t gmax = BE_X86_KWORDS_MAX / kpairs < BE_X86_GROUP_MAX ? BE_X86_KWORDS_MAX / kpairs : BE_X86_GROUP_MAX;
    const size_t rl = be_x86_row_len(op), ystep = op->sh * rl, xstep = (size_t)op->sw * op->in_ch;
    const uint32_t band = be_x86_band_rows(op, ROW_ELEMS), ow = vo->w;
    int32_t tl[BE_X86_LEVELS8_MAX * LANES];
    __attribute__((aligned(32))) uint32_t wt[BE_X86_KWORDS_MAX * LANES];
    __attribute__((aligned(32))) uint16_t rows[2u * BE_X86_ROW_WORDS];
    size_t base[PX];
    uint32_t blk, g, gn, oy0, p0, i, ky, q;
    be_status st = BE_OK;
    (void)scratch;
    memset(out, 0, vo->nbytes); /* blocks OR their bits into the output words */
    for (blk = 0; blk < nblk; blk += gn) {
        gn = nblk - blk < gmax ? nblk - blk : gmax;
        for (g = 0; g < gn; g++)
            be_x86_pairs_weights(op, (blk + g) * LANES, LANES, wt + (size_t)g * kpairs * LANES, LANES);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            be_x86_band_u8(op, (const uint8_t *)in, oy0, nr, rows);
            for (g = 0; g < gn; g++) {
                const uint32_t o0 = (blk + g) * LANES, nl = nout - o0 < LANES ? nout - o0 : LANES;
                const uint32_t *wg = wt + (size_t)g * kpairs * LANES;
                __m256i t, d;
                uint32_t valid;
                be_x86_stage8(op, o0, nl, &t, &d, &valid, tl);
                for (p0 = 0; p0 < npx; p0 += PX) {
                    const uint32_t nv = npx - p0 < PX ? npx - p0 : PX;
                    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, acc[PX];
                    be_x86_pixel_bases(p0, npx, PX, ow, ystep, xstep, base);
                    for (ky = 0; ky < op->kh; ky++) {
                        const uint16_t *rw = rows + (size_t)ky * rl;
                        const uint16_t *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
                        const uint32_t *wk = wg + (size_t)ky * s2 * LANES;
                        for (q = 0; q < s2; q++) {
                            const __m256i wv = _mm256_load_si256((const __m256i *)(const void *)(wk + (size_t)q * LANES));
                            STEP(0); STEP(1); STEP(2); STEP(3);
                        }
                    }
                    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
                    for (i = 0; i < nv; i++) {
                        uint8_t *px_out = (uint8_t *)out + ((size_t)oy0 * ow + p0 + i) * vo->pixel_bytes;
                        const be_status s = be_x86_put8(op, px_out, o0, nl, acc[i], t, d, tl, valid);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    return st;
}

#else
typedef int be_conv2d_u8_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
