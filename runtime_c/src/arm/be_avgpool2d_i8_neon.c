/* be_avgpool2d_i8_neon.c -- "neon": AvgPool2d on u8 / i8 codes with Advanced SIMD (aarch64,
 * armv7 NEON).
 *
 * Window sums of 8 channels per vector: per tap one 8-byte load widened to int16 (UXTL / SXTL)
 * and an ADD (windows of at most 64 positions: |sum| <= 64 * 255 fits the int16 lanes). The
 * requantization is the split-16 form of be_ew.h in int32 lanes (as "w32" and the M55's "mve"):
 * X = c' + M S with c' = 2^(s-1) - M n zp_x + zp 2^s, code = clamp((ch + Mh S + ((cl + Ml S) >> 16))
 * >> (s - 16)): two MLA, an SSRA, an SSHL per four lanes, the clamp as SQXTN twice. The last
 * cs % 8 channels of a pixel run the same arithmetic in C (no load past the pixel). Ops outside
 * the split form (s < 16 or > 45, |c'| >= 2^45, windows of more than 64) take "dsp" where the
 * build has it, else "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON
#include "arm/be_arm_neon.h"

#include "word/be_ew.h"

int be_avgpool2d_i8_neon_supports(const be_op *op)
{
    return be_avgpool2d_i8_word_supports(op);
}

/* the codes of four int32 window sums (k: Mh, Ml, ch, cl; nsh = -(s - 16)) */
BE_EW_INLINE int16x4_t rq4(int32x4_t sum, const int32_t k[4], int32x4_t nsh)
{
    const int32x4_t l = vmlaq_n_s32(vdupq_n_s32(k[3]), sum, k[1]);
    const int32x4_t h = vmlaq_n_s32(vdupq_n_s32(k[2]), sum, k[0]);
    return vqmovn_s32(vshlq_s32(vsraq_n_s32(h, l, 16), nsh));
}

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, int8_t *out, const int32_t k[4], int32_t sh, int is_i8,
                      int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * cs;
    const uint32_t c8 = (uint32_t)cs & ~7u;
    const int32x4_t nsh = vdupq_n_s32(-sh);
    uint32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++, out += cs) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (c = 0; c < c8; c += 8u) {
                const uint8_t *q = p + c;
                int16x8_t sum;
                if (k22) {
                    sum = vaddq_s16(vaddq_s16(be_neon_codes8(q, is_i8), be_neon_codes8(q + cs, is_i8)),
                                    vaddq_s16(be_neon_codes8(q + rp, is_i8), be_neon_codes8(q + rp + cs, is_i8)));
                } else {
                    sum = vdupq_n_s16(0);
                    for (ky = 0; ky < op->kh; ky++, q += rp) {
                        const uint8_t *r = q;
                        for (kx = 0; kx < op->kw; kx++, r += cs)
                            sum = vaddq_s16(sum, be_neon_codes8(r, is_i8));
                    }
                }
                vst1_s8(out + c, vqmovn_s16(vcombine_s16(rq4(vmovl_s16(vget_low_s16(sum)), k, nsh),
                                                         rq4(vmovl_s16(vget_high_s16(sum)), k, nsh))));
            }
            for (; c < cs; c++) {
                const int32_t sum = be_ew_window_sum(p + c, op->kh, op->kw, rp, cs, is_i8, k22);
                const int32_t r = be_ew_asr32(k[2] + k[0] * sum + be_ew_asr32(k[3] + k[1] * sum, 16u), (uint32_t)sh);
                out[c] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
            }
        }
    }
}

be_status be_avgpool2d_i8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    int32_t k[4];
    uint32_t sh;
    if (!be_ew_avgpool_split(op, k, &sh))
        return be_avgpool2d_i8_unsplit(op, in, out, scratch);
#define RUN(I8, K22) run(op, (const uint8_t *)in, (int8_t *)out, k, (int32_t)sh, I8, K22)
    BE_EW_POOL_SWITCH(op, RUN);
#undef RUN
    return BE_OK;
}

#else
typedef int be_avgpool2d_i8_neon_unused; /* ISO C forbids an empty translation unit */
#endif
