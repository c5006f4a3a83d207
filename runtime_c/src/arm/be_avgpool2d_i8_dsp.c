/* be_avgpool2d_i8_dsp.c -- "dsp": AvgPool2d on u8 / i8 codes, window sums of four channels per
 * instruction pair (Cortex-M4 / M7 / M33 / M55 DSP extension).
 *
 * UXTAB16 (u8) / SXTAB16 (i8) adds bytes 0 and 2 of a word to the two halfwords of an
 * accumulator, and with ROR #8 bytes 1 and 3: one (unaligned) LDR and two instructions sum a tap
 * of four channels into two halfword-pair accumulators (the reference: four byte loads, kind
 * tests, zero-point subtractions and int64 adds). The halfwords cannot overflow: supports()
 * takes windows of at most 256 positions (256 * 255 <= 65535 unsigned, 256 * -128 >= -32768
 * signed). Each channel's sum then takes the fast requant of be_ew.h (X = c + M S with the zero
 * points and the rounding term in c: SMLAL, shift, SSAT); windows whose op the fast form does not
 * take, and the last channels past a whole group of four, go through be_avgpool2d_i8_word.
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP
#include <arm_acle.h>

#include "word/be_ew.h"

int be_avgpool2d_i8_dsp_supports(const be_op *op)
{
    return op->kh * op->kw <= 256u; /* kh, kw <= 65535 (loader): no overflow */
}

static inline uint32_t ld32(const uint8_t *x)
{
    uint32_t v;
    __builtin_memcpy(&v, x, 4u); /* an LDR (unaligned allowed for LDR on ARMv7-M) */
    return v;
}

/* acc += bytes 1 and 3 of v as halfwords: the ROR #8 operand of UXTAB16 / SXTAB16 (GCC 12 would
 * rotate with a separate instruction) */
static inline uint32_t uxtab16_r8(uint32_t acc, uint32_t v)
{
    __asm__("uxtab16 %0, %0, %1, ror #8" : "+r"(acc) : "r"(v));
    return acc;
}

static inline uint32_t sxtab16_r8(uint32_t acc, uint32_t v)
{
    __asm__("sxtab16 %0, %0, %1, ror #8" : "+r"(acc) : "r"(v));
    return acc;
}

/* lo += bytes 0, 2 and hi += bytes 1, 3 of v, as halfwords */
#define XTAB(lo, hi, v)                                                                                   \
    do {                                                                                                  \
        const uint32_t v_ = (v);                                                                          \
        if (is_i8) {                                                                                      \
            lo = (uint32_t)__sxtab16((int16x2_t)lo, (int8x4_t)v_);                                        \
            hi = sxtab16_r8(hi, v_);                                                                      \
        } else {                                                                                          \
            lo = __uxtab16(lo, v_);                                                                       \
            hi = uxtab16_r8(hi, v_);                                                                      \
        }                                                                                                 \
    } while (0)

/* the halfword of a pair: low / high, as the signed (i8) or unsigned (u8) sum */
#define H_LO(x) (is_i8 ? (int32_t)(int16_t)(uint16_t)((x) & 0xFFFFu) : (int32_t)((x) & 0xFFFFu))
#define H_HI(x) (is_i8 ? (int32_t)(int16_t)(uint16_t)((x) >> 16) : (int32_t)((x) >> 16))

BE_EW_INLINE int8_t code_of(int32_t sum, int32_t m, const be_ew_fast *f)
{
    return be_ew_fast_code(f->c + (int64_t)m * be_ew_i32((uint32_t)sum << f->k), f->sh);
}

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, int8_t *out, const be_ew_fast *f, int is_i8, int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * cs;
    const uint32_t ng = vi->c / 4u;
    const int32_t m = op->mult_a;
    uint32_t oy, ox, g, ky, kx;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++, out += cs) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (g = 0; g < ng; g++) {
                const uint8_t *q = p + 4u * g;
                uint32_t lo = 0u, hi = 0u;
                int8_t *y = out + 4u * g;
                if (k22) {
                    XTAB(lo, hi, ld32(q));
                    XTAB(lo, hi, ld32(q + cs));
                    XTAB(lo, hi, ld32(q + rp));
                    XTAB(lo, hi, ld32(q + rp + cs));
                } else {
                    for (ky = 0; ky < op->kh; ky++, q += rp) { /* two taps per step */
                        const uint8_t *r = q;
                        for (kx = op->kw; kx >= 2u; kx -= 2u, r += 2u * cs) {
                            XTAB(lo, hi, ld32(r));
                            XTAB(lo, hi, ld32(r + cs));
                        }
                        if (kx != 0u)
                            XTAB(lo, hi, ld32(r));
                    }
                }
                y[0] = code_of(H_LO(lo), m, f);
                y[1] = code_of(H_LO(hi), m, f);
                y[2] = code_of(H_HI(lo), m, f);
                y[3] = code_of(H_HI(hi), m, f);
            }
            for (g = 4u * ng; g < cs; g++) /* the last 1..3 channels */
                out[g] = code_of(be_ew_window_sum(p + g, op->kh, op->kw, rp, cs, is_i8, k22), m, f);
        }
    }
}

be_status be_avgpool2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const uint32_t n = op->kh * op->kw, s = (uint32_t)op->shift; /* n <= 256 (supports) */
    const int32_t m = op->mult_a;
    const int64_t c = be_ew_half(s) - (int64_t)m * ((int64_t)n * vi->zero_point);
    const uint64_t bound = be_ew_abs64(m) * ((uint64_t)n * be_ew_centered_max(vi)) + (uint64_t)be_ew_half(s);
    const int k22 = op->kh == 2u && op->kw == 2u;
    be_ew_fast f;
    if (!be_ew_fast_plan(&f, c, bound, (uint64_t)n * 255u, s, op->zero_point))
        return be_avgpool2d_i8_word(op, in, out, scratch);
    if (vi->kind == BE_KIND_I8 && k22)
        run(op, (const uint8_t *)in, (int8_t *)out, &f, 1, 1);
    else if (vi->kind == BE_KIND_I8)
        run(op, (const uint8_t *)in, (int8_t *)out, &f, 1, 0);
    else if (k22)
        run(op, (const uint8_t *)in, (int8_t *)out, &f, 0, 1);
    else
        run(op, (const uint8_t *)in, (int8_t *)out, &f, 0, 0);
    return BE_OK;
}

#endif /* BE_ARM_HAVE_DSP */
