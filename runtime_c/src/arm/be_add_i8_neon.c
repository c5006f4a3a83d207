/* be_add_i8_neon.c -- "neon": Add of two i8 values with Advanced SIMD (aarch64, armv7 NEON): the
 * residual sum of a user's model (examples/custom_model) on a Cortex-A.
 *
 * The split-16 form of be_ew.h, as "dsp" computes it (be_add_i8_dsp.c): with the output zero point
 * folded, X = c' + M_a a + M_b b, M = Mh 2^16 + Ml with the low half signed (Ml in [-2^15, 2^15),
 * Mh = (M - Ml) / 2^16), c' = ch 2^16 + cl,
 *     code = clamp((H + (L >> 16)) >> (s - 16)),  H = ch + Mh_a a + Mh_b b,  L = cl + Ml_a a + Ml_b b
 * exactly in int32 (be_ew_split_ok: s >= 16, |c'| < 2^46). Eight elements per step: two 8-byte
 * loads, widened to int16 (SXTL), then per half of four lanes L and H as a widening multiply
 * (SMULL by the int16 scalar) and a widening multiply-add (SMLAL), plus the constant; H + (L >>
 * 16) is one SSRA, the shift an SSHL by -(s - 16), the clamp SQXTN twice, one 8-byte store. The
 * last n % 8 elements run the same arithmetic in C; u8 inputs, ops whose Mh leaves int16 and the
 * ops the form does not take run "word". Where the 64-bit "word" loop took 16 instructions per
 * element on aarch64 (no SMLAL with a 64-bit accumulator in one instruction there), this takes
 * about 3.
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON
#include <arm_neon.h>

#include "word/be_ew.h"

/* The codes of four lanes from their int16 codes a, b */
static inline int32x4_t add4(int16x4_t a, int16x4_t b, int16_t mla, int16_t mlb, int16_t mha, int16_t mhb,
                             int32x4_t cl, int32x4_t ch, int32x4_t nsh)
{
    const int32x4_t l = vaddq_s32(vmlal_n_s16(vmull_n_s16(a, mla), b, mlb), cl);
    const int32x4_t h = vaddq_s32(vmlal_n_s16(vmull_n_s16(a, mha), b, mhb), ch);
    return vshlq_s32(vsraq_n_s32(h, l, 16), nsh);
}

be_status be_add_i8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const uint32_t n = op->out.nbytes;
    const int8_t *a = (const int8_t *)io->data[0], *b = (const int8_t *)io->data[1];
    int8_t *y = (int8_t *)out;
    be_ew_add_split k;
    uint32_t i;
    if (!be_ew_add_split_prepare(op, io, &k))
        return be_add_i8_word(op, in, out, scratch);
    {
        const int32x4_t vcl = vdupq_n_s32(k.cl), vch = vdupq_n_s32(k.ch), nsh = vdupq_n_s32(-(int32_t)k.sh);
        for (i = 0; i + 8u <= n; i += 8u) {
            const int16x8_t a16 = vmovl_s8(vld1_s8(a + i)), b16 = vmovl_s8(vld1_s8(b + i));
            const int32x4_t lo = add4(vget_low_s16(a16), vget_low_s16(b16), (int16_t)k.mla, (int16_t)k.mlb,
                                      (int16_t)k.mha, (int16_t)k.mhb, vcl, vch, nsh);
            const int32x4_t hi = add4(vget_high_s16(a16), vget_high_s16(b16), (int16_t)k.mla, (int16_t)k.mlb,
                                      (int16_t)k.mha, (int16_t)k.mhb, vcl, vch, nsh);
            vst1_s8(y + i, vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi))));
        }
    }
    for (; i < n; i++) {
        const int32_t l = k.cl + k.mla * a[i] + k.mlb * b[i];
        const int32_t r = be_ew_asr32(k.ch + k.mha * a[i] + k.mhb * b[i] + be_ew_asr32(l, 16u), k.sh);
        y[i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
    }
    return BE_OK;
}

#else
typedef int be_add_i8_neon_unused; /* ISO C forbids an empty translation unit */
#endif
