/* be_avgpool2d_i8_mve.c -- "mve": AvgPool2d on u8 / i8 codes with Helium (Cortex-M55).
 *
 * Window sums of 8 channels per vector: a widening load (VLDRB.S16 / .U16) and a VADD per tap
 * (windows of at most 64 positions: |sum| <= 64 * 255 fits the int16 lanes). The requantization
 * is the split-16 form of be_ew.h in int32 lanes: X = c' + M S, c' = 2^(s-1) - M n zp_x + zp 2^s,
 * code = clamp((ch + Mh S + ((cl + Ml S) >> 16)) >> (s - 16)), on the even and the odd lanes
 * (VMOVLB / VMOVLT), then narrowed back (VMOVNB / VMOVNT) and stored as bytes (VSTRB.16). The last
 * vector of a pixel is tail-predicated. Ops outside the split form (s < 16 or > 45, |c'| >= 2^45,
 * larger windows) take "dsp" (windows up to 256) or "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "word/be_ew.h"

int be_avgpool2d_i8_mve_supports(const be_op *op)
{
    return be_avgpool2d_i8_word_supports(op);
}

BE_EW_INLINE int16x8_t load8(const uint8_t *p, int is_i8, mve_pred16_t pr)
{
    return is_i8 ? vldrbq_z_s16((const int8_t *)p, pr) : vreinterpretq_s16_u16(vldrbq_z_u16(p, pr));
}

/* the codes of four int32 sums */
BE_EW_INLINE int32x4_t rq(int32x4_t sum, const int32_t k[4], int32_t sh)
{
    const int32x4_t l = vmlaq_n_s32(vdupq_n_s32(k[3]), sum, k[1]);
    const int32x4_t h = vmlaq_n_s32(vdupq_n_s32(k[2]), sum, k[0]);
    const int32x4_t r = vshlq_r_s32(vaddq_s32(h, vshrq_n_s32(l, 16)), -sh);
    return vmaxq_s32(vminq_s32(r, vdupq_n_s32(127)), vdupq_n_s32(-128));
}

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, int8_t *out, const int32_t k[4], int32_t sh, int is_i8,
                      int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * cs;
    uint32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++, out += cs) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (c = 0; c < cs; c += 8u) {
                const mve_pred16_t pr = vctp16q((uint32_t)(cs - c));
                const uint8_t *q = p + c;
                int16x8_t sum;
                if (k22) {
                    sum = vaddq_s16(vaddq_s16(load8(q, is_i8, pr), load8(q + cs, is_i8, pr)),
                                    vaddq_s16(load8(q + rp, is_i8, pr), load8(q + rp + cs, is_i8, pr)));
                } else {
                    sum = vdupq_n_s16(0);
                    for (ky = 0; ky < op->kh; ky++, q += rp) {
                        const uint8_t *r = q;
                        for (kx = 0; kx < op->kw; kx++, r += cs)
                            sum = vaddq_s16(sum, load8(r, is_i8, pr));
                    }
                }
                {
                    const int32x4_t even = rq(vmovlbq_s16(sum), k, sh), odd = rq(vmovltq_s16(sum), k, sh);
                    const int16x8_t y = vmovntq_s32(vmovnbq_s32(vdupq_n_s16(0), even), odd);
                    vstrbq_p_s16(out + c, y, pr);
                }
            }
        }
    }
}

be_status be_avgpool2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
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

#endif /* BE_ARM_HAVE_MVE */
