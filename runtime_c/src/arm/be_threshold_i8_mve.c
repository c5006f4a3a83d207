/* be_threshold_i8_mve.c -- "mve": Threshold (sign) of u8 / i8 codes -> bits with Helium
 * (Cortex-M55).
 *
 * As the DSP variant (be_ew_sign_table: bits = ((ge ^ flip) & keep) | set, ge_i = (x_i >= W_i)),
 * 16 channels per vector: VLDRB of the codes, VCMP.U8 CS / VCMP.S8 GE against the W vector gives
 * the 16 compares as a predicate, which is the 16 bits of the output (VMRS P0). Two vectors per
 * output word. A partial vector is loaded tail-predicated (VCTP: no byte past the value is read).
 * Unsigned encodings take "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "word/be_ew.h"

int be_threshold_i8_mve_supports(const be_op *op)
{
    return op->encoding == BE_ENC_SIGN;
}

static inline uint32_t ge16(const uint8_t *x, uint8x16_t w, uint32_t n, int is_i8)
{
    if (n >= 16u) {
        const uint8x16_t v = vldrbq_u8(x);
        return is_i8 ? (uint32_t)vcmpgeq_s8(vreinterpretq_s8_u8(v), vreinterpretq_s8_u8(w)) : (uint32_t)vcmpcsq_u8(v, w);
    } else {
        const mve_pred16_t p = vctp8q(n);
        const uint8x16_t v = vldrbq_z_u8(x, p);
        return (is_i8 ? (uint32_t)vcmpgeq_s8(vreinterpretq_s8_u8(v), vreinterpretq_s8_u8(w)) : (uint32_t)vcmpcsq_u8(v, w)) &
               (uint32_t)p;
    }
}

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, be_word *out, int is_i8)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw, cs = vi->c;
    uint32_t c0, px;
    for (c0 = 0; c0 < cs; c0 += 32u) {
        const uint32_t n = cs - c0 < 32u ? cs - c0 : 32u;
        uint8_t wb[32];
        uint32_t flip, keep, set;
        uint8x16_t w0, w1;
        be_ew_sign_table(op, c0, n, wb, &flip, &keep, &set);
        w0 = vldrbq_u8(wb);
        w1 = vldrbq_u8(wb + 16);
        if (n == 32u) {
            for (px = 0; px < npx; px++) {
                const uint8_t *x = in + (size_t)px * cs + c0;
                const uint32_t bits = ge16(x, w0, 16u, is_i8) | ge16(x + 16, w1, 16u, is_i8) << 16;
                out[(size_t)px * cw + c0 / 32u] = ((bits ^ flip) & keep) | set;
            }
        } else {
            for (px = 0; px < npx; px++) {
                const uint8_t *x = in + (size_t)px * cs + c0;
                uint32_t bits = ge16(x, w0, n, is_i8);
                if (n > 16u)
                    bits |= ge16(x + 16, w1, n - 16u, is_i8) << 16;
                out[(size_t)px * cw + c0 / 32u] = ((bits ^ flip) & keep) | set;
            }
        }
    }
}

be_status be_threshold_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    if (op->in.kind == BE_KIND_I8)
        run(op, (const uint8_t *)in, (be_word *)out, 1);
    else
        run(op, (const uint8_t *)in, (be_word *)out, 0);
    return BE_OK;
}

#endif /* BE_ARM_HAVE_MVE */
