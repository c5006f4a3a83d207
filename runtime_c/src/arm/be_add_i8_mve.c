/* be_add_i8_mve.c -- "mve": Add of two u8 / i8 values with Helium (Cortex-M55).
 *
 * The split-16 form of be_ew.h in four int32 lanes (Helium has no 64-bit lane arithmetic):
 * M = Mh 2^16 + Ml, X = c' + M_a a + M_b b with c' = 2^(s-1) - M_a zp_a - M_b zp_b + zp 2^s (the
 * output zero point folded), code = clamp((H + (L >> 16)) >> (s - 16)) where
 * H = ch + Mh_a a + Mh_b b and L = cl + Ml_a a + Ml_b b, each a VMLA by a scalar. Per four codes:
 * two widening loads (VLDRB.S32 / .U32), four VMLA, the shifts, a clamp and a narrowing store
 * (VSTRB.32), the last vector tail-predicated (VCTP: nothing past either value is read or
 * written). Exact when s >= 16 and |c'| < 2^45 (codes: the lanes cannot overflow); other ops take
 * the 64-bit loop of "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "word/be_ew.h"

#define LOAD(p, is_i8, pr) (is_i8 ? vldrbq_z_s32((const int8_t *)(p), pr) : vreinterpretq_s32_u32(vldrbq_z_u32((p), pr)))
#define LOADF(p, is_i8) (is_i8 ? vldrbq_s32((const int8_t *)(p)) : vreinterpretq_s32_u32(vldrbq_u32(p)))

/* the four codes of a, b (int32 lanes) */
BE_EW_INLINE int32x4_t codes(int32x4_t a, int32x4_t b, const int32_t k[6], int32_t sh)
{
    const int32x4_t l = vaddq_n_s32(vmlaq_n_s32(vmulq_n_s32(a, k[1]), b, k[3]), k[5]);
    const int32x4_t h = vaddq_n_s32(vmlaq_n_s32(vmulq_n_s32(a, k[0]), b, k[2]), k[4]);
    const int32x4_t r = vshlq_r_s32(vaddq_s32(h, vshrq_n_s32(l, 16)), -sh);
    return vmaxq_s32(vminq_s32(r, vdupq_n_s32(127)), vdupq_n_s32(-128));
}

BE_EW_INLINE void run(const uint8_t *pa, const uint8_t *pb, int8_t *y, uint32_t n, const int32_t k[6], int32_t sh,
                      int a8, int b8)
{
    uint32_t i;
    for (i = 0; i + 8u <= n; i += 8u) { /* whole vectors, two per step */
        vstrbq_s32(y + i, codes(LOADF(pa + i, a8), LOADF(pb + i, b8), k, sh));
        vstrbq_s32(y + i + 4, codes(LOADF(pa + i + 4, a8), LOADF(pb + i + 4, b8), k, sh));
    }
    for (; i < n; i += 4u) { /* the rest, tail-predicated: nothing past the values */
        const mve_pred16_t pr = vctp32q(n - i);
        vstrbq_p_s32(y + i, codes(LOAD(pa + i, a8, pr), LOAD(pb + i, b8, pr), k, sh), pr);
    }
}

be_status be_add_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *va = io->value[0], *vb = io->value[1];
    const int32_t ma = op->mult_a, mb = op->mult_b;
    const uint32_t s = (uint32_t)op->shift, n = op->out.nbytes;
    int64_t c;
    int32_t k[6];
    if (s < 16u || s > 45u)
        return be_add_i8_word(op, in, out, scratch);
    c = be_ew_half(s) - (int64_t)ma * va->zero_point - (int64_t)mb * vb->zero_point +
        (int64_t)op->zero_point * ((int64_t)1 << s);
    if (!be_ew_split_ok((uint64_t)be_ew_raw_max(va) + be_ew_raw_max(vb), be_ew_abs64(c)))
        return be_add_i8_word(op, in, out, scratch);
    k[0] = be_ew_mh(ma);
    k[1] = be_ew_ml(ma);
    k[2] = be_ew_mh(mb);
    k[3] = be_ew_ml(mb);
    k[4] = (int32_t)be_ew_asr64(c, 16u);
    k[5] = be_ew_ml(c);
    {
        const int32_t sh = s - 16u > 31u ? 31 : (int32_t)(s - 16u);
        const uint8_t *pa = (const uint8_t *)io->data[0], *pb = (const uint8_t *)io->data[1];
        const int a8 = va->kind == BE_KIND_I8, b8 = vb->kind == BE_KIND_I8;
        if (a8 && b8)
            run(pa, pb, (int8_t *)out, n, k, sh, 1, 1);
        else if (a8)
            run(pa, pb, (int8_t *)out, n, k, sh, 1, 0);
        else if (b8)
            run(pa, pb, (int8_t *)out, n, k, sh, 0, 1);
        else
            run(pa, pb, (int8_t *)out, n, k, sh, 0, 0);
    }
    return BE_OK;
}

#endif /* BE_ARM_HAVE_MVE */
