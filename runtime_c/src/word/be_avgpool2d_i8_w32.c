/* be_avgpool2d_i8_w32.c -- "w32": AvgPool2d on u8 / i8 codes in 32-bit arithmetic only (portable
 * C, every target; what auto picks on the Cortex-M0, which has no 32 x 32 -> 64 multiply).
 *
 * X = c' + M S with S the window sum of the raw codes and c' = 2^(s-1) - M n zp_x + zp 2^s (the
 * output zero point folded), in the split-16 form of be_ew.h: code = clamp((H + ch + (L >> 16))
 * >> min(s - 16, 31)), H = Mh S, L = cl + Ml S: two MULs per output. Applies when n 255 <= 2^14
 * (windows of up to 64 positions: 2 x 2 down-sampling, 7 x 7 global pooling), s >= 16 and
 * |c'| < 2^45; other ops take the 64-bit code of "word" (be_avgpool2d_i8_word).
 */
#include "be_ew.h"

BE_EW_INLINE void pool(const be_op *op, const uint8_t *in, int8_t *y, const int32_t k[5], uint32_t sh, int is_i8,
                       int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * vi->c;
    const int32_t mh = k[0], ml = k[1], ch = k[2], cl = k[3];
    uint32_t oy, ox, c;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (c = 0; c < vo->c; c++, y++) {
                const int32_t sum = be_ew_window_sum(p + c, op->kh, op->kw, rp, cs, is_i8, k22);
                const int32_t r = be_ew_asr32(ch + mh * sum + be_ew_asr32(cl + ml * sum, 16u), sh);
                *y = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
            }
        }
    }
}

be_status be_avgpool2d_i8_w32(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const uint32_t n = op->kh * op->kw, s = (uint32_t)op->shift; /* n <= 2^23 (supports) */
    const int32_t m = op->mult_a;
    int64_t c;
    if (n > 64u || s < 16u || s > 45u) /* n 255 <= 2^14 */
        return be_avgpool2d_i8_word(op, in, out, scratch);
    c = be_ew_half(s) - (int64_t)m * ((int32_t)n * vi->zero_point) +
        (int64_t)op->zero_point * ((int64_t)1 << s);
    if (!be_ew_split_ok((uint64_t)n * 255u, be_ew_abs64(c)))
        return be_avgpool2d_i8_word(op, in, out, scratch);
    {
        const int i8 = vi->kind == BE_KIND_I8, k22 = op->kh == 2u && op->kw == 2u;
        const uint32_t sh = s - 16u > 31u ? 31u : s - 16u;
        int32_t k[5];
        k[0] = be_ew_mh(m);
        k[1] = be_ew_ml(m);
        k[2] = (int32_t)be_ew_asr64(c, 16u);
        k[3] = be_ew_ml(c);
        k[4] = 0;
        if (i8 && k22)
            pool(op, (const uint8_t *)in, (int8_t *)out, k, sh, 1, 1);
        else if (i8)
            pool(op, (const uint8_t *)in, (int8_t *)out, k, sh, 1, 0);
        else if (k22)
            pool(op, (const uint8_t *)in, (int8_t *)out, k, sh, 0, 1);
        else
            pool(op, (const uint8_t *)in, (int8_t *)out, k, sh, 0, 0);
    }
    return BE_OK;
}
