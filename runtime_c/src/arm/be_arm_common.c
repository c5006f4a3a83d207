/* be_arm_common.c -- the driver shared by the ARM binary kernels (see be_arm.h). */
#if defined(__arm__) || defined(__aarch64__)

#include <string.h>

#include "arm/be_arm.h"

int be_arm_bin_supports(const be_op *op)
{
    return (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) && op->weight_kind == BE_WK_BINARY &&
           op->in.kind == BE_KIND_BITS && op->in.encoding == BE_ENC_SIGN;
}

/* Output stage of channels [o0, o0 + n) of one (cleared) output pixel; o0 % 32 == 0, n <= 32. */
static be_status put(const be_op *op, void *px_out, uint32_t o0, uint32_t n, const uint32_t *d)
{
    uint32_t i;
    be_status st = BE_OK;
    if (op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u) {
        const int8_t *dir = (const int8_t *)op->stage_a + o0;
        const int32_t *t = (const int32_t *)op->stage_b + o0;
        const int32_t k = (int32_t)op->k;
        uint32_t bits = 0u, bit = 1u;
        for (i = 0; i < n; i++, bit <<= 1) {
            /* direction * acc (direction is +-1; |acc| <= K <= INT32_MAX, loader) */
            if ((k - 2 * (int32_t)d[i]) * (int32_t)dir[i] < t[i])
                bits |= bit; /* level 0 -> -1 -> bit 1 */
        }
        ((be_word *)px_out)[o0 / 32u] = bits;
        return BE_OK;
    }
    for (i = 0; i < n; i++) {
        be_status s = be_stage_put(op, o0 + i, (int32_t)op->k - 2 * (int32_t)d[i], px_out);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

static be_status rows(const be_op *op, const be_word *x, uint32_t nw, void *px_out, be_arm_popc_fn popc)
{
    const be_word *w = (const be_word *)op->weights;
    uint32_t d[32], o0;
    be_status st = BE_OK;
    be_stage_clear(op, px_out);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        be_status s;
        popc(x, w + (size_t)o0 * nw, nw, nw, n, d);
        s = put(op, px_out, o0, n, d);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

be_status be_arm_dense_bin(const be_op *op, const void *in, void *out, be_arm_popc_fn popc)
{
    return rows(op, (const be_word *)in, op->in.cw, out, popc);
}

be_status be_arm_conv2d_bin(const be_op *op, const void *in, void *out, void *scratch, be_arm_popc_fn popc)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, run = op->kw * cw;
    be_word *patch = (be_word *)scratch; /* KH * KW * cw words <= the model's patch_bytes */
    uint32_t oy, ox, ky, kx;
    be_status st = BE_OK;
    for (oy = 0; oy < vo->h; oy++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
        for (ox = 0; ox < vo->w; ox++) {
            const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
            const int inside_x = x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w;
            be_word *dst = patch;
            be_status s;
            for (ky = 0; ky < op->kh; ky++, dst += run) {
                const int32_t iy = y0 + (int32_t)ky;
                if (iy < 0 || iy >= (int32_t)vi->h) {
                    memset(dst, 0, (size_t)run * 4u);
                } else if (inside_x) { /* KW neighbouring pixels: one contiguous run */
                    memcpy(dst, (const be_word *)in + ((size_t)iy * vi->w + (size_t)x0) * cw, (size_t)run * 4u);
                } else {
                    for (kx = 0; kx < op->kw; kx++) {
                        const int32_t ix = x0 + (int32_t)kx;
                        if (ix >= 0 && ix < (int32_t)vi->w)
                            memcpy(dst + kx * cw, (const be_word *)in + ((size_t)iy * vi->w + (size_t)ix) * cw,
                                   (size_t)cw * 4u);
                        else
                            memset(dst + kx * cw, 0, (size_t)cw * 4u);
                    }
                }
            }
            s = rows(op, patch, op->kh * run, (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes, popc);
            if (s != BE_OK)
                st = s;
        }
    }
    return st;
}

#else
typedef int be_arm_common_unused; /* ISO C forbids an empty translation unit */
#endif
