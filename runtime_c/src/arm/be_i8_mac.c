/* be_i8_mac.c -- "mac": the int8 layers (int8 weights over u8 / i8 codes) in plain C, for the
 * cores without the DSP extension (Cortex-M0, M3) and every other ARM build.
 *
 * The drivers of be_arm_i8.h with an int16 patch in element order (BE_I8_S16): per element one
 * halfword load shared by the rows of the call and, per row, a signed byte load and a
 * multiply-accumulate (MLA; MULS + ADDS on Thumb-1). Two rows share each patch load on ARMv6-M
 * (8 low registers), four elsewhere; the element loop runs 2 elements per step. Depthwise
 * convolutions (up to 64 taps) run the lane driver with its plain-C core: no patch, per tap
 * address two channels.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_I8

#include "arm/be_arm_i8.h"

int be_i8_mac_supports(const be_op *op)
{
    return be_op_is_int8_layer(op);
}

static void copy_s16(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    int16_t *d = (int16_t *)patch + e, *end = d + n;
    if (is_i8) {
        const int8_t *s = (const int8_t *)src;
        while (d != end)
            *d++ = *s++;
    } else {
        while (d != end)
            *d++ = *src++;
    }
}

static void fill_s16(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    int16_t *d = (int16_t *)patch + e, *end = d + n;
    while (d != end) {
        BE_OPAQUE_PTR(d); /* no memset call */
        *d++ = (int16_t)code;
    }
}

/* One row: a += sum_j w[j] * x[j]. */
static int32_t dot1(const int8_t *w, const int16_t *x, uint32_t n, int32_t a)
{
    uint32_t j;
    for (j = 0; j + 2u <= n; j += 2u)
        a += w[j] * x[j] + w[j + 1u] * x[j + 1u];
    if (j < n)
        a += w[j] * x[j];
    return a;
}

static void dot_s16(const int8_t *w, uint32_t rb, const void *xv, uint32_t n, uint32_t rows, int32_t xbias,
                    int32_t *acc)
{
    const int16_t *x = (const int16_t *)xv;
    uint32_t r = 0u, j;
    (void)xbias;
#if !defined(BE_ARM_HAVE_THUMB1)
    if (rows == 4u) {
        const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        for (j = 0; j + 2u <= n; j += 2u) {
            const int32_t x0 = x[j], x1 = x[j + 1u];
            a0 += w0[j] * x0 + w0[j + 1u] * x1;
            a1 += w1[j] * x0 + w1[j + 1u] * x1;
            a2 += w2[j] * x0 + w2[j + 1u] * x1;
            a3 += w3[j] * x0 + w3[j + 1u] * x1;
        }
        if (j < n) {
            const int32_t x0 = x[j];
            a0 += w0[j] * x0;
            a1 += w1[j] * x0;
            a2 += w2[j] * x0;
            a3 += w3[j] * x0;
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
        return;
    }
#endif
    for (; r + 2u <= rows; r += 2u) {
        const int8_t *w0 = w + (size_t)r * rb, *w1 = w0 + rb;
        int32_t a0 = acc[r], a1 = acc[r + 1u];
        for (j = 0; j + 2u <= n; j += 2u) {
            const int32_t x0 = x[j], x1 = x[j + 1u];
            a0 += w0[j] * x0 + w0[j + 1u] * x1;
            a1 += w1[j] * x0 + w1[j + 1u] * x1;
        }
        if (j < n) {
            a0 += w0[j] * x[j];
            a1 += w1[j] * x[j];
        }
        acc[r] = a0;
        acc[r + 1u] = a1;
    }
    if (r < rows)
        acc[r] = dot1(w + (size_t)r * rb, x, n, acc[r]);
}

be_status be_conv2d_i8_mac(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS)
        return be_i8_dw(op, in, out, NULL, NULL, NULL);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_S16, copy_s16, fill_s16, dot_s16);
}

be_status be_dense_i8_mac(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_i8_dense(op, in, out, BE_I8_S16, copy_s16, dot_s16);
}

#else
typedef int be_i8_mac_unused; /* ISO C forbids an empty translation unit */
#endif
