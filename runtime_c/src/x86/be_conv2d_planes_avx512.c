/* be_conv2d_planes_avx512.c -- Conv2d, unsigned bit-plane input (qrelu levels, P <= 8 planes) x
 * binary weights, AVX-512 VPOPCNTDQ.
 *
 * acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)) (weight bit 1 = -1), exactly the
 * reference. Channel lanes: the weight rows of 16 output channels are transposed once per call
 * on the stack so that one zmm holds word t of 16 rows. Per output pixel the taps inside the
 * input are listed (input and weight word offsets; a padding tap is level 0 and adds nothing,
 * so it is skipped and nothing is copied), and each input word is broadcast, ANDed with the
 * weight vector and counted with VPOPCNTD: 16 channels x 32 binary MACs per triple, up to 4
 * channel blocks (64 channels) per broadcast, one accumulator per block and plane, the 16 sums
 * in one vector (no horizontal reduction). popcount(b_p) is counted once per pixel. The unsigned threshold stage (qrelu
 * layers) runs in vector form, 16 channels per step (levels by compares, bit-planes by
 * VPTESTMD masks), from per-call threshold vectors (at most TV_VECS, 8 KiB); every other stage
 * goes through be_stage_put_block on 16 channels.
 *
 * Stack: the transposed weights, at most WT_WORDS words (32 KiB), the threshold vectors (8 KiB)
 * and the tap lists (4 KiB); no scratch. A larger op (KH*KW*words(C) x O rounded up to 16
 * channels beyond WT_WORDS) falls through to the popcnt variant.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"
#include "be_x86_popcnt.h"

#define LANES 16u
#define WT_WORDS 8192u
#define GROUP 4u
#define TV_VECS 128u /* threshold vectors of the unsigned stage kept on the stack (8 KiB) */

static uint32_t wt_words(const be_op *op)
{
    return op->kh * op->kw * op->in.cw * ((op->out_ch + LANES - 1u) / LANES) * LANES;
}

int be_conv2d_planes_avx512_supports(const be_op *op)
{
    return be_op_is_planes_binary(op) && wt_words(op) <= WT_WORDS;
}

/* wt[(b * kwords + t) * 16 + l] = word t of weight row 16 b + l (0 beyond out_ch). */
static void transpose_weights(const be_op *op, uint32_t kwords, be_word *wt)
{
    const be_word *w = (const be_word *)op->weights;
    const uint32_t nblk = (op->out_ch + LANES - 1u) / LANES;
    uint32_t b, t, l;
    for (b = 0; b < nblk; b++)
        for (t = 0; t < kwords; t++)
            for (l = 0; l < LANES; l++) {
                const uint32_t o = b * LANES + l;
                wt[((size_t)b * kwords + t) * LANES + l] = o < op->out_ch ? w[(size_t)o * kwords + t] : 0u;
            }
}

/* Channel blocks [b0, b0 + nb) (nb <= GROUP, a constant after inlining) of one pixel whose ntap
 * taps inside the input are at x + xo[i] (P planes of cw words) and use weight words
 * [wo[i], wo[i] + cw): s[b] = sum_p 2^p * popcount(x_p AND w) per lane (padding taps are level 0
 * and add nothing). */
BE_X86_AVX512 static inline void planes_group(const be_word *x, const uint32_t *xo, const uint32_t *wo,
                                              uint32_t ntap, uint32_t cw, uint32_t kwords, uint32_t planes,
                                              const be_word *wt, uint32_t nb, __m512i *s)
{
    uint32_t b, p, i, j;
    BE_X86_UNROLL
    for (b = 0; b < nb; b++)
        s[b] = _mm512_setzero_si512();
    for (p = 0; p < planes; p++) {
        __m512i a[GROUP];
        BE_X86_UNROLL
        for (b = 0; b < nb; b++)
            a[b] = _mm512_setzero_si512();
        for (i = 0; i < ntap; i++) {
            const be_word *xp = x + xo[i] + (size_t)p * cw, *wp = wt + (size_t)wo[i] * LANES;
            for (j = 0; j < cw; j++) {
                const __m512i v = _mm512_set1_epi32((int)xp[j]);
                BE_X86_UNROLL
                for (b = 0; b < nb; b++) {
                    const __m512i w = _mm512_load_si512((const void *)(wp + ((size_t)b * kwords + j) * LANES));
                    a[b] = _mm512_add_epi32(a[b], _mm512_popcnt_epi32(_mm512_and_si512(v, w)));
                }
            }
        }
        BE_X86_UNROLL
        for (b = 0; b < nb; b++)
            s[b] = _mm512_add_epi32(s[b], _mm512_slli_epi32(a[b], (unsigned int)p));
    }
}

/* Unsigned threshold stage with levels * blocks <= TV_VECS: tv[b * L + k] holds T_{o,k} of the
 * 16 channels of block b, neg[b] the lanes whose direction is -1, valid[b] the real channels. */
static int vector_stage(const be_op *op)
{
    return op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && op->levels >= 1u &&
           op->levels * ((op->out_ch + LANES - 1u) / LANES) <= TV_VECS;
}

static void stage_tables(const be_op *op, int32_t *tv, uint16_t *neg, uint16_t *valid)
{
    const uint32_t nblk = (op->out_ch + LANES - 1u) / LANES, levels = op->levels;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b;
    uint32_t b, k, l;
    for (b = 0; b < nblk; b++) {
        neg[b] = valid[b] = 0u;
        for (l = 0; l < LANES; l++) {
            const uint32_t o = b * LANES + l;
            for (k = 0; k < levels; k++)
                tv[((size_t)b * levels + k) * LANES + l] = o < op->out_ch ? t[(size_t)o * levels + k] : 0;
            if (o < op->out_ch) {
                valid[b] = (uint16_t)(valid[b] | (1u << l));
                if (dir[o] < 0)
                    neg[b] = (uint16_t)(neg[b] | (1u << l));
            }
        }
    }
}

/* level = #{k : direction * acc >= T_k} per lane (as be_threshold_level; |acc| <= INT32_MAX, so
 * the negation does not overflow), its bit-planes ORed into the cleared output pixel. */
BE_X86_AVX512 static inline void stage_put16(const be_op *op, be_word *px, uint32_t o0, __m512i acc,
                                             const int32_t *tv, __mmask16 neg, __mmask16 valid)
{
    const __m512i x = _mm512_mask_sub_epi32(acc, neg, _mm512_setzero_si512(), acc);
    const __m512i one = _mm512_set1_epi32(1);
    __m512i level = _mm512_setzero_si512();
    uint32_t k, q;
    for (k = 0; k < op->levels; k++) {
        const __mmask16 ge = _mm512_cmpge_epi32_mask(x, _mm512_load_si512((const void *)(tv + (size_t)k * LANES)));
        level = _mm512_mask_add_epi32(level, ge, level, one);
    }
    for (q = 0; q < op->out.planes; q++) {
        const uint32_t m = (uint32_t)_mm512_mask_test_epi32_mask(valid, level, _mm512_set1_epi32(1 << q));
        px[(size_t)q * op->out.cw + o0 / 32u] |= m << (o0 % 32u);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vpopcntdq,popcnt"))) be_status
be_conv2d_planes_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t kwords = op->kh * op->kw * op->in.cw, planes = op->in.planes;
    const uint32_t npx = vo->h * vo->w, nout = op->out_ch, nblk = (nout + LANES - 1u) / LANES;
    const uint32_t cw = op->in.cw, iw = op->in.w, ih = op->in.h, pxw = planes * cw;
    uint32_t xo[WT_WORDS / LANES], wo[WT_WORDS / LANES]; /* taps: KH * KW <= kwords <= 512 */
    be_word wt[WT_WORDS] __attribute__((aligned(64)));
    int32_t acc[LANES] __attribute__((aligned(64)));
    int32_t tv[TV_VECS * LANES] __attribute__((aligned(64)));
    uint16_t neg[WT_WORDS / LANES], valid[WT_WORDS / LANES];
    const int vstage = vector_stage(op);
    uint32_t p, b0, b;
    be_status st = BE_OK;
    (void)scratch;
    transpose_weights(op, kwords, wt);
    if (vstage)
        stage_tables(op, tv, neg, valid);
    for (p = 0; p < npx; p++) {
        uint8_t *px_out = (uint8_t *)out + (size_t)p * vo->pixel_bytes;
        __m512i ones, s[GROUP];
        be_stage_clear(op, px_out);
        const int32_t y0 = (int32_t)((p / vo->w) * op->sh) - (int32_t)op->pt;
        const int32_t x0 = (int32_t)((p % vo->w) * op->sw) - (int32_t)op->pl;
        uint32_t ky, kx, ntap = 0u, c1 = 0u;
        for (ky = 0; ky < op->kh; ky++) {
            const int32_t iy = y0 + (int32_t)ky;
            if (iy < 0 || iy >= (int32_t)ih)
                continue;
            for (kx = 0; kx < op->kw; kx++) {
                const int32_t ix = x0 + (int32_t)kx;
                if (ix < 0 || ix >= (int32_t)iw)
                    continue;
                xo[ntap] = ((uint32_t)iy * iw + (uint32_t)ix) * pxw;
                wo[ntap] = (ky * op->kw + kx) * cw;
                c1 += be_x86_planes_ones((const be_word *)in + xo[ntap], cw, cw, planes);
                ntap++;
            }
        }
        ones = _mm512_set1_epi32((int)c1);
        for (b0 = 0; b0 < nblk; b0 += GROUP) {
            const uint32_t nb = nblk - b0 < GROUP ? nblk - b0 : GROUP;
            const be_word *wg = wt + (size_t)b0 * kwords * LANES;
            if (nb == 4u)
                planes_group((const be_word *)in, xo, wo, ntap, cw, kwords, planes, wg, 4u, s);
            else if (nb == 3u)
                planes_group((const be_word *)in, xo, wo, ntap, cw, kwords, planes, wg, 3u, s);
            else if (nb == 2u)
                planes_group((const be_word *)in, xo, wo, ntap, cw, kwords, planes, wg, 2u, s);
            else
                planes_group((const be_word *)in, xo, wo, ntap, cw, kwords, planes, wg, 1u, s);
            for (b = 0; b < nb; b++) {
                const uint32_t o0 = (b0 + b) * LANES, n = nout - o0 < LANES ? nout - o0 : LANES;
                /* ones - 2 * s, in wrapping 32-bit lanes like the popcnt variant */
                const __m512i a = _mm512_sub_epi32(ones, _mm512_slli_epi32(s[b], 1));
                be_status r;
                if (vstage) {
                    stage_put16(op, (be_word *)px_out, o0, a, tv + (size_t)(b0 + b) * op->levels * LANES,
                                (__mmask16)neg[b0 + b], (__mmask16)valid[b0 + b]);
                    continue;
                }
                _mm512_store_si512((void *)acc, a);
                r = be_stage_put_block(op, px_out, o0, n, acc);
                if (r != BE_OK)
                    st = r;
            }
        }
    }
    return st;
}

#else
typedef int be_conv2d_planes_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
