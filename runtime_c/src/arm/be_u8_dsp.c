/* be_u8_dsp.c -- "dsp": the first layer (uint8 pixels x binary weights) with the DSP extension
 * (Cortex-M4, M7, M33, M55): byte masks and USADA8.
 *
 * s_o = sum of the pixels whose weight bit is 1 (acc_o = total - 2 s_o): four pixels at a time,
 * `USADA8(x & mask, 0)` adds the selected bytes of a word, where mask has 0xFF in the bytes
 * whose weight bit is 1.
 *   Dense: the masks come from the weights on the fly, a 16-word table indexed by 4 weight bits
 *   (UBFX, LDR): 4 instructions + the pixel load per 4 MACs, ~1.1 per MAC. (Measured slower
 *   than "lut", which it follows in the table; kept as the measured alternative, see
 *   docs/kernels.md.)
 *   Conv2d (K <= 64): the masks are expanded once per call, per channel words(K / 4) words,
 *   with the direction folded in (a -1 channel selects the complement: direction * acc =
 *   total - 2 s' with s' the sum of the other pixels), followed by the channel's threshold
 *   clamped to +-(255 K + 1). Per output pixel the receptive field goes to the scratch as whole
 *   words (zero bytes up to the word: the scratch is align16(K) bytes), then per channel
 *   AND + USADA8 per word and the sign bit of (total - t) - 2 s'.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP

#include <arm_acle.h>
#include <string.h>

#include "arm/be_arm_u8.h"

#define CONV_KMAX 64u
#define MASK_WORDS 512u /* conv masks + thresholds on the stack (2 KiB) */

int be_u8_dsp_supports(const be_op *op)
{
    const uint32_t k = op->kh * op->kw * op->in_ch, kw4 = (k + 3u) / 4u;
    if (!be_arm_u8_supports(op))
        return 0;
    return op->type == BE_OP_DENSE || (k <= CONV_KMAX && 32u * (kw4 + 1u) <= MASK_WORDS);
}

/* byte masks of 4 bits */
static const uint32_t nib_mask[16] = {
    0x00000000u, 0x000000FFu, 0x0000FF00u, 0x0000FFFFu, 0x00FF0000u, 0x00FF00FFu, 0x00FFFF00u, 0x00FFFFFFu,
    0xFF000000u, 0xFF0000FFu, 0xFF00FF00u, 0xFF00FFFFu, 0xFFFF0000u, 0xFFFF00FFu, 0xFFFFFF00u, 0xFFFFFFFFu};

/* s over nw words of pixels x (aligned, zero after K) for the weight row w */
static uint32_t row_sum(const uint32_t *x, uint32_t nw, const be_word *w)
{
    uint32_t s = 0u, j;
    for (j = 0; j + 8u <= nw; j += 8u, x += 8) {
        const uint32_t b = *w++;
        s = __usada8(x[0] & nib_mask[b & 15u], 0u, s);
        s = __usada8(x[1] & nib_mask[(b >> 4) & 15u], 0u, s);
        s = __usada8(x[2] & nib_mask[(b >> 8) & 15u], 0u, s);
        s = __usada8(x[3] & nib_mask[(b >> 12) & 15u], 0u, s);
        s = __usada8(x[4] & nib_mask[(b >> 16) & 15u], 0u, s);
        s = __usada8(x[5] & nib_mask[(b >> 20) & 15u], 0u, s);
        s = __usada8(x[6] & nib_mask[(b >> 24) & 15u], 0u, s);
        s = __usada8(x[7] & nib_mask[b >> 28], 0u, s);
    }
    if (j < nw) {
        uint32_t b = *w;
        for (; j < nw; j++, b >>= 4)
            s = __usada8(*x++ & nib_mask[b & 15u], 0u, s);
    }
    return s;
}

be_status be_dense_u8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t k = op->in_ch, rw = be_words_for(k);
    const uint8_t *px = (const uint8_t *)in;
    uint32_t xbuf[64]; /* 256 pixels at a time, word-aligned, zero after K */
    uint32_t s[32], c0, o0, i;
    int32_t acc[32];
    const uint32_t total = be_arm_u8_sum(px, k);
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t nb = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        be_status r;
        memset(s, 0, sizeof s);
        for (c0 = 0; c0 < k; c0 += 256u) { /* chunks of 256 pixels (8 weight words) */
            const uint32_t n = k - c0 < 256u ? k - c0 : 256u;
            memset(xbuf, 0, sizeof xbuf);
            memcpy(xbuf, px + c0, n);
            for (i = 0; i < nb; i++)
                s[i] += row_sum(xbuf, (n + 3u) / 4u, (const be_word *)op->weights + (size_t)(o0 + i) * rw + c0 / 32u);
        }
        for (i = 0; i < nb; i++)
            acc[i] = be_arm_u8_acc(total, s[i]);
        r = be_stage_put_block(op, out, o0, nb, acc);
        if (r != BE_OK)
            st = r;
    }
    return st;
}

/* masks of channel o (folded with its direction when `fold`): kw4 words, then its threshold */
static void conv_masks(const be_op *op, uint32_t o, uint32_t k, uint32_t kw4, int fold, uint32_t *dst)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c);
    const be_word *w = (const be_word *)op->weights + (size_t)o * op->kh * op->kw * cw;
    const int neg = fold && ((const int8_t *)op->stage_a)[o] < 0;
    uint32_t i;
    memset(dst, 0, kw4 * 4u);
    for (i = 0; i < k; i++) {
        const uint32_t bit = be_get_bit(w + (i / c) * cw, i % c) ^ (uint32_t)neg;
        if (bit)
            dst[i / 4u] |= 0xFFu << (8u * (i % 4u));
    }
    if (fold) {
        const int32_t lim = (int32_t)(255u * k + 1u), t = ((const int32_t *)op->stage_b)[o];
        dst[kw4] = (uint32_t)(t < -lim ? -lim : t > lim ? lim : t);
    }
}

/* The sign bits of n channels for receptive fields of 3 / 7 words: the pixel words stay in
 * registers; per channel its masks and threshold (kw4 + 1 words). Bits collected from the top:
 * bits = (bits >> 1) | sign bit, so channel i ends at bit i after 32 steps (shifted for n < 32). */
static uint32_t sign3(const uint32_t *x, const uint32_t *m, uint32_t n, uint32_t total)
{
    const uint32_t x0 = x[0], x1 = x[1], x2 = x[2];
    const uint32_t *end = m + 4u * n;
    uint32_t bits = 0u;
    for (; m != end; m += 4) {
        uint32_t s = __usada8(x0 & m[0], 0u, 0u);
        s = __usada8(x1 & m[1], 0u, s);
        s = __usada8(x2 & m[2], 0u, s);
        bits = (bits >> 1) | ((total - m[3] - 2u * s) & 0x80000000u);
    }
    return n == 32u ? bits : bits >> (32u - n);
}

static uint32_t sign7(const uint32_t *x, const uint32_t *m, uint32_t n, uint32_t total)
{
    const uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3], x4 = x[4], x5 = x[5], x6 = x[6];
    const uint32_t *end = m + 8u * n;
    uint32_t bits = 0u;
    for (; m != end; m += 8) {
        uint32_t s = __usada8(x0 & m[0], 0u, 0u);
        s = __usada8(x1 & m[1], 0u, s);
        s = __usada8(x2 & m[2], 0u, s);
        s = __usada8(x3 & m[3], 0u, s);
        s = __usada8(x4 & m[4], 0u, s);
        s = __usada8(x5 & m[5], 0u, s);
        s = __usada8(x6 & m[6], 0u, s);
        bits = (bits >> 1) | ((total - m[7] - 2u * s) & 0x80000000u);
    }
    return n == 32u ? bits : bits >> (32u - n);
}

be_status be_conv2d_u8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->kh * op->kw * op->in_ch, kw4 = (k + 3u) / 4u, nout = op->out_ch;
    const int sign = op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u;
    uint32_t masks[MASK_WORDS];
    uint32_t *x = (uint32_t *)scratch; /* K bytes rounded up to words <= align16(K) = the patch scratch */
    uint32_t o0, oy, ox, i, j;
    be_status st = BE_OK;
    for (o0 = 0; o0 < nout; o0 += 32u) {
        const uint32_t nb = nout - o0 < 32u ? nout - o0 : 32u;
        for (i = 0; i < nb; i++)
            conv_masks(op, o0 + i, k, kw4, sign, masks + i * (kw4 + 1u));
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                const uint32_t *m = masks;
                uint32_t total = 0u;
                if (o0 == 0u)
                    be_stage_clear(op, px_out);
                x[kw4 - 1u] = 0u; /* zero bytes after K */
                be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, (uint8_t *)x);
                for (j = 0; j < kw4; j++)
                    total = __usada8(x[j], 0u, total);
                if (sign && kw4 == 3u) /* 3x3 x 1 channel */
                    ((be_word *)px_out)[o0 / 32u] = sign3(x, masks, nb, total);
                else if (sign && kw4 == 7u) /* 3x3 x 3 channels */
                    ((be_word *)px_out)[o0 / 32u] = sign7(x, masks, nb, total);
                else if (sign) {
                    uint32_t bits = 0u;
                    for (i = 0; i < nb; i++, m += kw4 + 1u) {
                        uint32_t s = 0u;
                        for (j = 0; j < kw4; j++)
                            s = __usada8(x[j] & m[j], 0u, s);
                        /* direction * acc < t  <=>  (total - t) - 2 s' < 0 (no overflow: t clamped) */
                        bits |= ((total - m[kw4] - 2u * s) >> 31) << i;
                    }
                    ((be_word *)px_out)[o0 / 32u] = bits;
                } else {
                    int32_t acc[32];
                    be_status r;
                    for (i = 0; i < nb; i++, m += kw4 + 1u) {
                        uint32_t s = 0u;
                        for (j = 0; j < kw4; j++)
                            s = __usada8(x[j] & m[j], 0u, s);
                        acc[i] = be_arm_u8_acc(total, s);
                    }
                    r = be_stage_put_block(op, px_out, o0, nb, acc);
                    if (r != BE_OK)
                        st = r;
                }
            }
        }
    }
    return st;
}

#else
typedef int be_u8_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
