/* be_threshold_i8_neon.c -- "neon": Threshold (sign) of u8 / i8 codes -> bits with Advanced SIMD
 * (aarch64, armv7 NEON).
 *
 * As the DSP and MVE variants (be_ew_sign_table: bits = ((ge ^ flip) & keep) | set, ge_i =
 * (x_i >= W_i)), 16 channels per vector: one load, CMHS / CMGE against the W vector (all-ones
 * bytes where x >= W), AND with the lane weights 1, 2, ..., 128 of each half, and a horizontal
 * add per half gives the 16 bits (ADDV on aarch64, three pairwise adds on armv7). A partial vector
 * (the last n % 16 channels of a pixel) is read whole where the vector ends inside the value (the
 * next pixel's bytes; keep clears their bits) and copied into a buffer for the last pixels: no
 * byte past the value is read (since 2026-12-06; the buffer on every pixel had made the ResNet40's
 * 40-channel Threshold cost twice its 80-channel one per element). Unsigned encodings take "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON
#include <arm_neon.h>
#include <string.h>

#include "word/be_ew.h"

int be_threshold_i8_neon_supports(const be_op *op)
{
    return op->encoding == BE_ENC_SIGN;
}

static inline uint32_t hadd_u8(uint8x8_t v)
{
#ifdef __aarch64__
    return vaddv_u8(v);
#else
    v = vpadd_u8(v, v);
    v = vpadd_u8(v, v);
    v = vpadd_u8(v, v);
    return vget_lane_u8(v, 0);
#endif
}

/* The 16 compare bits of x[0 .. 16) against w (bit i: x_i >= w_i). */
static inline uint32_t ge16(uint8x16_t v, uint8x16_t w, int is_i8, uint8x16_t weights)
{
    const uint8x16_t ge = is_i8 ? vcgeq_s8(vreinterpretq_s8_u8(v), vreinterpretq_s8_u8(w)) : vcgeq_u8(v, w);
    const uint8x16_t b = vandq_u8(ge, weights);
    return hadd_u8(vget_low_u8(b)) | hadd_u8(vget_high_u8(b)) << 8;
}

static inline uint8x16_t load_n(const uint8_t *x, uint32_t n)
{
    uint8_t buf[16] = {0};
    if (n >= 16u)
        return vld1q_u8(x);
    memcpy(buf, x, n);
    return vld1q_u8(buf);
}

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, be_word *out, int is_i8)
{
    static const uint8_t lane_bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw, cs = vi->c;
    const uint8x16_t weights = vld1q_u8(lane_bits);
    uint32_t c0, px;
    for (c0 = 0; c0 < cs; c0 += 32u) {
        const uint32_t n = cs - c0 < 32u ? cs - c0 : 32u;
        uint8_t wb[32];
        uint32_t flip, keep, set;
        uint8x16_t w0, w1;
        be_ew_sign_table(op, c0, n, wb, &flip, &keep, &set);
        w0 = vld1q_u8(wb);
        w1 = vld1q_u8(wb + 16);
        if (n == 32u) {
            for (px = 0; px < npx; px++) {
                const uint8_t *x = in + (size_t)px * cs + c0;
                const uint32_t bits = ge16(vld1q_u8(x), w0, is_i8, weights) |
                                      ge16(vld1q_u8(x + 16), w1, is_i8, weights) << 16;
                out[(size_t)px * cw + c0 / 32u] = ((bits ^ flip) & keep) | set;
            }
        } else {
            /* whole vectors where they stay inside the value (the bytes past the pixel's n
             * channels are the next pixel's, and keep clears their bits); the last pixels
             * through a buffer */
            const uint32_t need = n > 16u ? 32u : 16u;
            const uint32_t direct = (uint64_t)npx * cs >= (uint64_t)c0 + need
                                        ? (uint32_t)(((uint64_t)npx * cs - c0 - need) / cs + 1u)
                                        : 0u;
            for (px = 0; px < npx; px++) {
                const uint8_t *x = in + (size_t)px * cs + c0;
                const int whole = px < direct;
                uint32_t bits = ge16(whole ? vld1q_u8(x) : load_n(x, n), w0, is_i8, weights);
                if (n > 16u)
                    bits |= ge16(whole ? vld1q_u8(x + 16) : load_n(x + 16, n - 16u), w1, is_i8, weights) << 16;
                out[(size_t)px * cw + c0 / 32u] = ((bits ^ flip) & keep) | set;
            }
        }
    }
}

be_status be_threshold_i8_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    if (op->in.kind == BE_KIND_I8)
        run(op, (const uint8_t *)in, (be_word *)out, 1);
    else
        run(op, (const uint8_t *)in, (be_word *)out, 0);
    return BE_OK;
}

#else
typedef int be_threshold_i8_neon_unused; /* ISO C forbids an empty translation unit */
#endif
