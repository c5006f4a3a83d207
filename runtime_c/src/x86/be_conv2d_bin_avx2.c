/* be_conv2d_bin_avx2.c -- Conv2d, sign bits x binary weights, AVX2.
 *
 * Same scheme as the AVX-512 variant with 8 output channels per vector: transposed weights of 8
 * channels (stack), each receptive-field word broadcast and XORed, popcount by nibble lookup
 * (vpshufb) into byte accumulators that are widened to 32-bit lanes every 31 words; 4 output
 * pixels share every weight load; receptive fields read from padded input rows built once per
 * band of output rows; the sign threshold compared on the popcount (be_x86_diff_threshold).
 * acc = K - 2 * popcount(x XOR w), exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"

#define LANES 8u
#define PX 4u

int be_conv2d_bin_avx2_supports(const be_op *op)
{
    return be_x86_is_sign_binary(op) && be_x86_conv_fits(op, BE_X86_ROW_WORDS, op->kh * op->kw * op->in.cw);
}

#define STEP(i) b##i = _mm256_add_epi8(b##i, be_x86_popcnt8(_mm256_xor_si256(wv, _mm256_set1_epi32((int)r##i[j]))))
#define FLUSH(i)                                                    \
    do {                                                            \
        d##i = _mm256_add_epi32(d##i, be_x86_bytes_to_dwords(b##i)); \
        b##i = _mm256_setzero_si256();                              \
    } while (0)

BE_X86_AVX2 be_status be_conv2d_bin_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int pointwise = be_x86_conv_is_pointwise(op), sign = be_stage_is_sign(op);
    const uint32_t cw = vi->cw, kwords = op->kh * op->kw * cw, nout = op->out_ch, cwo = vo->pixel_bytes / 4u;
    const uint32_t nblk = (nout + LANES - 1u) / LANES;
    const uint32_t gmax = BE_X86_KWORDS_MAX / kwords < BE_X86_GROUP_MAX ? BE_X86_KWORDS_MAX / kwords : BE_X86_GROUP_MAX;
    const uint32_t kh = pointwise ? 1u : op->kh, span = pointwise ? cw : op->kw * cw;
    const size_t rl = pointwise ? (size_t)vi->w * cw : be_x86_row_len(op);
    const size_t ystep = pointwise ? rl : op->sh * rl, xstep = pointwise ? cw : (size_t)op->sw * cw;
    const uint32_t band = pointwise ? vo->h : be_x86_band_rows(op, BE_X86_ROW_WORDS), ow = vo->w;
    const __m256i kv = _mm256_set1_epi32((int)op->k);
    __attribute__((aligned(32))) be_word wt[BE_X86_KWORDS_MAX * LANES];
    __attribute__((aligned(32))) be_word rowbuf[BE_X86_ROW_WORDS];
    size_t base[PX];
    uint32_t blk, g, gn, oy0, p0, i, ky, j;
    be_status st = BE_OK;
    (void)scratch;
    memset(out, 0, vo->nbytes); /* blocks OR their bits into the output words */
    for (blk = 0; blk < nblk; blk += gn) {
        gn = nblk - blk < gmax ? nblk - blk : gmax;
        for (g = 0; g < gn; g++)
            be_x86_transpose_words(op, (blk + g) * LANES, LANES, kwords, wt + (size_t)g * kwords * LANES, LANES);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            const be_word *buf = (const be_word *)in + (size_t)oy0 * rl;
            if (!pointwise) {
                be_x86_band_bits(op, (const be_word *)in, oy0, nr, rowbuf);
                buf = rowbuf;
            }
            for (g = 0; g < gn; g++) {
                const uint32_t o0 = (blk + g) * LANES, nl = nout - o0 < LANES ? nout - o0 : LANES;
                const be_word *wg = wt + (size_t)g * kwords * LANES;
                __m256i t = kv, d = kv;
                uint32_t valid = 0u;
                if (sign)
                    be_x86_diff_stage8(op, o0, nl, &t, &d, &valid);
                for (p0 = 0; p0 < npx; p0 += PX) {
                    const uint32_t nv = npx - p0 < PX ? npx - p0 : PX;
                    __m256i b0 = _mm256_setzero_si256(), b1 = b0, b2 = b0, b3 = b0, d0 = b0, d1 = b0, d2 = b0, d3 = b0;
                    __m256i acc[PX];
                    uint32_t steps = 0;
                    be_x86_pixel_bases(p0, npx, PX, ow, ystep, xstep, base);
                    for (ky = 0; ky < kh; ky++) {
                        const be_word *rw = buf + (size_t)ky * rl;
                        const be_word *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
                        const be_word *wk = wg + (size_t)ky * span * LANES;
                        for (j = 0; j < span; j++) {
                            const __m256i wv = _mm256_load_si256((const __m256i *)(const void *)(wk + (size_t)j * LANES));
                            STEP(0); STEP(1); STEP(2); STEP(3);
                            if (++steps == BE_X86_AVX2_BYTE_STEPS) {
                                FLUSH(0); FLUSH(1); FLUSH(2); FLUSH(3);
                                steps = 0;
                            }
                        }
                    }
                    FLUSH(0); FLUSH(1); FLUSH(2); FLUSH(3);
                    acc[0] = d0; acc[1] = d1; acc[2] = d2; acc[3] = d3;
                    for (i = 0; i < nv; i++) {
                        const size_t pix = (size_t)oy0 * ow + p0 + i;
                        if (sign) {
                            const __m256i y = _mm256_sign_epi32(acc[i], d); /* +-diff */
                            uint32_t bits = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(y, t)));
                            ((be_word *)out)[pix * cwo + o0 / 32u] |= (bits & valid) << (o0 % 32u);
                        } else {
                            int32_t a[LANES];
                            be_status s;
                            _mm256_storeu_si256((__m256i *)(void *)a, _mm256_sub_epi32(kv, _mm256_slli_epi32(acc[i], 1)));
                            s = be_stage_put_block(op, (uint8_t *)out + pix * vo->pixel_bytes, o0, nl, a);
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
typedef int be_conv2d_bin_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
