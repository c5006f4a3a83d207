/* be_u8_planes.c -- "planes": the first layer (uint8 pixels x binary weights) as bit-planes,
 * counted by the binary kernel of this build (mve / neon / dsp / swar / thumb1).
 *
 * With b_p = bit-plane p of the pixels (packed like the weights: LSB first, zero padding) and
 * w = the weight row (bit 1 = -1), sum_k x_k w_k = sum_p 2^p (popcount(b_p) - 2 popcount(b_p AND w)),
 * and since popcount(b XOR w) = popcount(b) + popcount(w) - 2 popcount(b AND w):
 *     acc = sum_p 2^p popcount(b_p XOR w) - 255 popcount(w).
 * The binary kernels compute exactly K - 2 popcount(x XOR w) per row (a Dense op with sign-bit
 * input and the identity score stage), so one call per plane, plus one with x = 0 for
 * popcount(w), gives acc = (255 sc_0 - sum_p 2^p sc_p) / 2 (sc_0: the x = 0 call, sc_p: plane p).
 * The planes are packed per input (Dense: on the stack, K <= 1024 pixels; Conv2d: per output
 * pixel from the im2col row, weight rows compacted as in be_arm_u8.h) 32 pixels at a time:
 * for 4 pixels in a word, ((v >> p) & 0x01010101) * 0x01020408 gathers bit p of each byte in
 * bits 24..27. Nine kernel calls per 32 output rows: this is the "any core" idea, and slow
 * without a popcount instruction (docs/kernels.md has the numbers).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include <string.h>

#include "arm/be_arm_u8.h"

/* the binary Dense kernel that counts: the widest of this build */
#if defined(BE_ARM_HAVE_MVE)
#define BIN_DENSE be_dense_bin_mve
#elif defined(BE_ARM_HAVE_NEON)
#define BIN_DENSE be_dense_bin_neon
#elif defined(BE_ARM_HAVE_DSP)
#define BIN_DENSE be_dense_bin_dsp
#elif defined(BE_ARM_HAVE_SWAR)
#define BIN_DENSE be_dense_bin_swar
#elif defined(BE_ARM_HAVE_THUMB1)
#define BIN_DENSE be_dense_bin_thumb1
#endif

#ifdef BE_ARM_HAVE_THUMB1
#define KMAX_WORDS 25u /* pixels <= 800 (28 x 28): 9 * 25 words of planes on the stack */
#else
#define KMAX_WORDS 32u /* pixels <= 1024: 9 * 32 words of planes on the stack */
#endif

/* Conv2d only from K = 64 on: below that the nine calls per pixel cost more than "ref" (3x3x1:
 * 80 instructions per MAC on Cortex-M4 against ref's 81, docs/kernels.md). */
int be_u8_planes_supports(const be_op *op)
{
    const uint32_t k = be_arm_u8_k(op);
    return be_arm_u8_rows_supports(op) && be_words_for(k) <= KMAX_WORDS && (op->type == BE_OP_DENSE || k >= 64u);
}

/* planes[p * nw + j] = bit p of pixels 32j .. 32j + 31 (k pixels, zero after), p < 8 */
static void make_planes(const uint8_t *x, uint32_t k, uint32_t nw, be_word *planes)
{
    uint32_t j, i, p;
    memset(planes, 0, (size_t)nw * 8u * 4u);
    for (j = 0; j < nw; j++) {
        for (i = 0; i < 8u && 32u * j + 4u * i < k; i++) {
            const uint32_t base = 32u * j + 4u * i;
            uint32_t v = 0u, b;
            for (b = 0; b < 4u && base + b < k; b++)
                v |= (uint32_t)x[base + b] << (8u * b);
            for (p = 0; p < 8u; p++)
                planes[p * nw + j] |= ((((v >> p) & 0x01010101u) * 0x01020408u) >> 24) << (4u * i);
        }
    }
}

/* acc[i] for rows i < n (n <= 32) of row_words words (k bits) against the 8 planes + zero row */
static void plane_rows(const be_word *planes, const be_word *zero, uint32_t k, uint32_t nw, const be_word *w,
                       uint32_t n, int32_t *acc)
{
    static const int32_t ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const int32_t zeros[32] = {0};
    int32_t sc[32];
    be_op f;
    uint32_t p, i;
    memset(&f, 0, sizeof f); /* Dense, sign bits x binary weights, identity scores */
    f.type = BE_OP_DENSE;
    f.weight_kind = BE_WK_BINARY;
    f.stage = BE_STAGE_SCORE;
    f.in_ch = f.k = k;
    f.out_ch = n;
    f.w_row_bytes = nw * 4u;
    f.weights = w;
    f.stage_a = ones;
    f.stage_b = zeros;
    f.in.kind = BE_KIND_BITS;
    f.in.rank = 1u;
    f.in.encoding = BE_ENC_SIGN;
    f.in.planes = 1u;
    f.in.h = f.in.w = 1u;
    f.in.c = k;
    f.in.cw = nw;
    f.in.pixel_bytes = f.in.nbytes = nw * 4u;
    f.out.kind = BE_KIND_I32;
    f.out.rank = 1u;
    f.out.planes = 1u;
    f.out.h = f.out.w = 1u;
    f.out.c = n;
    f.out.pixel_bytes = f.out.nbytes = 4u * n;
    /* |sc| <= K <= 1024, so 2 acc = 255 sc_0 - sum_p 2^p sc_p stays far inside int32 */
    (void)BIN_DENSE(&f, zero, sc, NULL); /* K - 2 popcount(w) */
    for (i = 0; i < n; i++)
        acc[i] = 255 * sc[i];
    for (p = 0; p < 8u; p++) {
        (void)BIN_DENSE(&f, planes + p * nw, sc, NULL);
        for (i = 0; i < n; i++)
            acc[i] -= sc[i] * (int32_t)(1u << p);
    }
    for (i = 0; i < n; i++)
        acc[i] /= 2; /* exact: even */
}

/* rows w (n <= 32, words(k) words each) against the planes -> the output stage */
static be_status pixel(const be_op *op, uint32_t k, const be_word *w, uint32_t o0, uint32_t n, const be_word *planes,
                       const be_word *zero, void *px_out)
{
    int32_t acc[32];
    plane_rows(planes, zero, k, be_words_for(k), w, n, acc);
    return be_stage_put_block(op, px_out, o0, n, acc);
}

be_status be_dense_u8_planes(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, nw = be_words_for(k);
    be_word planes[8u * KMAX_WORDS], zero[KMAX_WORDS];
    uint32_t o0;
    be_status st = BE_OK;
    (void)scratch;
    memset(zero, 0, sizeof zero);
    make_planes((const uint8_t *)in, k, nw, planes);
    be_stage_clear(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        be_status s = pixel(op, k, (const be_word *)op->weights + (size_t)o0 * nw, o0, n, planes, zero, out);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

be_status be_conv2d_u8_planes(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = be_arm_u8_k(op), nw = be_words_for(k), direct = op->in_ch % 32u == 0u;
    be_word planes[8u * KMAX_WORDS], zero[KMAX_WORDS];
    be_word buf[BE_ARM_U8_ROWBUF_WORDS];
    uint8_t *patch = (uint8_t *)scratch; /* K bytes <= the model's patch_bytes */
    uint32_t o0, oy, ox;
    be_status st = BE_OK;
    memset(zero, 0, sizeof zero);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        const be_word *w = (const be_word *)op->weights + (size_t)o0 * nw; /* C % 32 == 0: as stored */
        if (!direct) {
            be_compact_rows(op, o0, n, buf);
            w = buf;
        }
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                if (o0 == 0u)
                    be_stage_clear(op, px_out);
                be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                make_planes(patch, k, nw, planes);
                s = pixel(op, k, w, o0, n, planes, zero, px_out);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

#else
typedef int be_u8_planes_unused; /* ISO C forbids an empty translation unit */
#endif
