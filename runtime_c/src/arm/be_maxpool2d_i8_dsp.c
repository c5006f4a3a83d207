/* be_maxpool2d_i8_dsp.c -- "dsp": MaxPool2d on u8 / i8 codes, four channels per instruction
 * (Cortex-M4 / M7 / M33 / M55 DSP extension).
 *
 * USUB8 (u8) / SSUB8 (i8) of a tap's four codes and the running maximum sets one GE flag per
 * byte (code >= max); SEL then takes, byte by byte, the code where GE is set and the maximum
 * elsewhere: a byte-wise maximum in two instructions, so a tap costs an (unaligned) LDR and two
 * instructions per four channels. The window is walked row by row; 2 x 2 windows (down-sampling)
 * are unrolled. Channels past the last whole group of four are done one by one (no load or store
 * past a pixel's channels: the next pixel, or the end of the value, follows).
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP
#include "word/be_ew.h"

int be_maxpool2d_i8_dsp_supports(const be_op *op)
{
    return op->in.kind == BE_KIND_U8 || op->in.kind == BE_KIND_I8;
}

static inline uint32_t ld32(const uint8_t *x)
{
    uint32_t v;
    __builtin_memcpy(&v, x, 4u); /* an LDR (unaligned allowed for LDR / STR on ARMv7-M) */
    return v;
}

static inline void st32(uint8_t *y, uint32_t v)
{
    __builtin_memcpy(y, &v, 4u);
}

/* byte-wise max(m, v): unsigned / signed */
static inline uint32_t max_u(uint32_t m, uint32_t v)
{
    uint32_t t;
    __asm__("usub8 %1, %2, %0\n\tsel %0, %2, %0" : "+r"(m), "=&r"(t) : "r"(v) : "cc");
    return m;
}

static inline uint32_t max_s(uint32_t m, uint32_t v)
{
    uint32_t t;
    __asm__("ssub8 %1, %2, %0\n\tsel %0, %2, %0" : "+r"(m), "=&r"(t) : "r"(v) : "cc");
    return m;
}

#define MAX4(m, v) (is_i8 ? max_s((m), (v)) : max_u((m), (v)))

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, uint8_t *out, int is_i8, int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * cs;
    const uint32_t ng = vi->c / 4u;
    uint32_t oy, ox, g, ky, kx, c;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++, out += cs) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (g = 0; g < ng; g++) {
                const uint8_t *q = p + 4u * g;
                uint32_t m;
                if (k22) {
                    m = MAX4(MAX4(ld32(q), ld32(q + cs)), MAX4(ld32(q + rp), ld32(q + rp + cs)));
                } else {
                    m = ld32(q);
                    for (ky = 0; ky < op->kh; ky++, q += rp) {
                        const uint8_t *r = q;
                        for (kx = 0; kx < op->kw; kx++, r += cs)
                            m = MAX4(m, ld32(r));
                    }
                }
                st32(out + 4u * g, m);
            }
            for (c = 4u * ng; c < cs; c++) { /* the last 1..3 channels */
                const uint8_t *q = p + c;
                int32_t best = be_ew_code(q, 0, is_i8);
                for (ky = 0; ky < op->kh; ky++, q += rp)
                    for (kx = 0; kx < op->kw; kx++) {
                        const int32_t v = be_ew_code(q, (size_t)kx * cs, is_i8);
                        best = v > best ? v : best;
                    }
                out[c] = (uint8_t)best;
            }
        }
    }
}

be_status be_maxpool2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
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

#endif /* BE_ARM_HAVE_DSP */
