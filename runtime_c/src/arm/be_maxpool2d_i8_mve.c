/* be_maxpool2d_i8_mve.c -- "mve": MaxPool2d on u8 / i8 codes with Helium (Cortex-M55).
 *
 * 16 channels per vector: VLDRB of a tap, VMAX.U8 / VMAX.S8 into the running maximum, one VSTRB
 * per output vector. The last vector of a pixel is tail-predicated (VCTP): no byte past the
 * pixel's channels is read or written. 2 x 2 windows are unrolled.
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "word/be_ew.h"

int be_maxpool2d_i8_mve_supports(const be_op *op)
{
    return op->in.kind == BE_KIND_U8 || op->in.kind == BE_KIND_I8;
}

#define VMAX(a, b) (is_i8 ? vreinterpretq_u8_s8(vmaxq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b))) : vmaxq_u8((a), (b)))

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, uint8_t *out, int is_i8, int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * cs;
    uint32_t oy, ox, ky, kx, c;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++, out += cs) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (c = 0; c < cs; c += 16u) {
                const mve_pred16_t pr = vctp8q((uint32_t)(cs - c)); /* all lanes but in the last vector */
                const uint8_t *q = p + c;
                uint8x16_t m;
                if (k22) {
                    m = VMAX(VMAX(vldrbq_z_u8(q, pr), vldrbq_z_u8(q + cs, pr)),
                             VMAX(vldrbq_z_u8(q + rp, pr), vldrbq_z_u8(q + rp + cs, pr)));
                } else {
                    m = vldrbq_z_u8(q, pr);
                    for (ky = 0; ky < op->kh; ky++, q += rp) {
                        const uint8_t *r = q;
                        for (kx = 0; kx < op->kw; kx++, r += cs)
                            m = VMAX(m, vldrbq_z_u8(r, pr));
                    }
                }
                vstrbq_p_u8(out + c, m, pr);
            }
        }
    }
}

be_status be_maxpool2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    const int k22 = op->kh == 2u && op->kw == 2u;
    (void)scratch;
    if (op->in.kind == BE_KIND_I8 && k22)
        run(op, (const uint8_t *)in, (uint8_t *)out, 1, 1);
    else if (op->in.kind == BE_KIND_I8)
        run(op, (const uint8_t *)in, (uint8_t *)out, 1, 0);
    else if (k22)
        run(op, (const uint8_t *)in, (uint8_t *)out, 0, 1);
    else
        run(op, (const uint8_t *)in, (uint8_t *)out, 0, 0);
    return BE_OK;
}

#endif /* BE_ARM_HAVE_MVE */
