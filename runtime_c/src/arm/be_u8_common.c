/* be_u8_common.c -- what the ARM first-layer kernels share (see be_arm_u8.h). */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include <string.h>

#include "arm/be_arm_u8.h"

int be_arm_u8_supports(const be_op *op)
{
    return (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) && op->weight_kind == BE_WK_BINARY &&
           op->in.kind == BE_KIND_U8;
}

/* n bytes, n small (a few pixels): a byte loop, not a library call. The empty asm keeps GCC
 * from turning the loop back into memcpy / memset. */
static inline void copy_small(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    uint8_t *end = dst + n;
    while (dst != end) {
        __asm__("" : "+r"(dst));
        *dst++ = *src++;
    }
}

static inline void zero_small(uint8_t *dst, uint32_t n)
{
    uint8_t *end = dst + n;
    while (dst != end) {
        __asm__("" : "+r"(dst));
        *dst++ = 0u;
    }
}

void be_arm_u8_im2col(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint8_t *patch)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, run = op->kw * c, stride = vi->w * c;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    uint32_t ky, kx;
    if (x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w) { /* KW neighbouring pixels: one run per row */
        const uint8_t *src = in + ((size_t)y0 * vi->w + (size_t)x0) * c; /* row y0 (maybe outside) */
        if (y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h && run == 3u) { /* 3x3 x 1 inside */
            for (ky = 0; ky < op->kh; ky++, patch += 3, src += stride) {
                patch[0] = src[0];
                patch[1] = src[1];
                patch[2] = src[2];
            }
            return;
        }
        for (ky = 0; ky < op->kh; ky++, patch += run) {
            const int32_t iy = y0 + (int32_t)ky;
            if (iy < 0 || iy >= (int32_t)vi->h)
                zero_small(patch, run);
            else if (run <= 32u)
                copy_small(patch, in + ((size_t)iy * vi->w + (size_t)x0) * c, run);
            else
                memcpy(patch, in + ((size_t)iy * vi->w + (size_t)x0) * c, run);
        }
        return;
    }
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        for (kx = 0; kx < op->kw; kx++, patch += c) {
            const int32_t ix = x0 + (int32_t)kx;
            if (iy < 0 || iy >= (int32_t)vi->h || ix < 0 || ix >= (int32_t)vi->w)
                zero_small(patch, c);
            else
                copy_small(patch, in + ((size_t)iy * vi->w + (size_t)ix) * c, c);
        }
    }
}

uint32_t be_arm_u8_sum(const uint8_t *x, uint32_t n)
{
    uint32_t i, s = 0u;
    for (i = 0; i < n; i++)
        s += x[i];
    return s;
}

int be_arm_u8_rows_supports(const be_op *op)
{
    if (!be_arm_u8_supports(op))
        return 0;
    return op->type == BE_OP_DENSE || op->in_ch % 32u == 0u ||
           be_words_for(op->kh * op->kw * op->in_ch) * 32u <= BE_ARM_U8_ROWBUF_WORDS;
}

#else
typedef int be_u8_common_unused; /* ISO C forbids an empty translation unit */
#endif
