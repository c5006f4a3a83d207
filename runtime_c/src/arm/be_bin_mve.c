/* be_bin_mve.c -- "mve": binary Dense / Conv2d with Helium (MVE, Cortex-M55).
 *
 * MVE has no vector popcount (no VCNT), so each 128-bit XOR is counted with SWAR in byte
 * lanes: 2-bit fields (VSHR / VAND / VSUB), nibbles (<= 4); then the nibble trick of the DSP
 * kernel across 16 bytes: VADDVA.U8 (add all bytes to a scalar) of v gives sum(low) +
 * 16 * sum(high), of v & 0xF0 gives 16 * sum(high), so popcount = S(v) - 15/16 S(v & 0xF0).
 * Two channels share each input load. The last 1-3 words are a tail-predicated step (VCTP +
 * zeroing loads: inactive lanes read 0 and count 0). No __builtin_popcount.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "arm/be_arm.h"

/* nibble popcounts of x ^ w (each <= 4) */
static inline uint8x16_t nib(uint32x4_t x, uint32x4_t w, uint8x16_t m1, uint8x16_t m2)
{
    uint8x16_t v = vreinterpretq_u8_u32(veorq_u32(x, w));
    v = vsubq_u8(v, vandq_u8(vshrq_n_u8(v, 1), m1));
    return vaddq_u8(vandq_u8(v, m2), vandq_u8(vshrq_n_u8(v, 2), m2));
}

static void popc_mve(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    const uint8x16_t m1 = vdupq_n_u8(0x55), m2 = vdupq_n_u8(0x33), mh = vdupq_n_u8(0xF0);
    const uint32_t nv = nw / 4u, rest = nw % 4u;
    uint32_t i, j;
    for (i = 0; i < n; i += 2u) {
        const be_word *w0 = w + (size_t)i * row_words;
        const be_word *w1 = i + 1u < n ? w0 + row_words : w0; /* odd count: the last row twice */
        uint32_t s0 = 0u, h0 = 0u, s1 = 0u, h1 = 0u;
        for (j = 0; j + 2u <= nv; j += 2u) { /* two vectors: nibbles <= 8 */
            const uint32x4_t xa = vld1q_u32(x + 4u * j), xb = vld1q_u32(x + 4u * j + 4u);
            uint8x16_t v0 = vaddq_u8(nib(xa, vld1q_u32(w0 + 4u * j), m1, m2), nib(xb, vld1q_u32(w0 + 4u * j + 4u), m1, m2));
            uint8x16_t v1 = vaddq_u8(nib(xa, vld1q_u32(w1 + 4u * j), m1, m2), nib(xb, vld1q_u32(w1 + 4u * j + 4u), m1, m2));
            s0 = vaddvaq_u8(s0, v0);
            h0 = vaddvaq_u8(h0, vandq_u8(v0, mh));
            s1 = vaddvaq_u8(s1, v1);
            h1 = vaddvaq_u8(h1, vandq_u8(v1, mh));
        }
        if (j < nv || rest != 0u) { /* one more vector, possibly partial (tail predication) */
            const mve_pred16_t p = vctp32q(j < nv ? 4u : rest);
            const uint32x4_t xa = vldrwq_z_u32(x + 4u * j, p);
            uint8x16_t v0 = nib(xa, vldrwq_z_u32(w0 + 4u * j, p), m1, m2);
            uint8x16_t v1 = nib(xa, vldrwq_z_u32(w1 + 4u * j, p), m1, m2);
            s0 = vaddvaq_u8(s0, v0);
            h0 = vaddvaq_u8(h0, vandq_u8(v0, mh));
            s1 = vaddvaq_u8(s1, v1);
            h1 = vaddvaq_u8(h1, vandq_u8(v1, mh));
            if (j < nv && rest != 0u) {
                const mve_pred16_t q = vctp32q(rest);
                const uint32x4_t xr = vldrwq_z_u32(x + 4u * j + 4u, q);
                v0 = nib(xr, vldrwq_z_u32(w0 + 4u * j + 4u, q), m1, m2);
                v1 = nib(xr, vldrwq_z_u32(w1 + 4u * j + 4u, q), m1, m2);
                s0 = vaddvaq_u8(s0, v0);
                h0 = vaddvaq_u8(h0, vandq_u8(v0, mh));
                s1 = vaddvaq_u8(s1, v1);
                h1 = vaddvaq_u8(h1, vandq_u8(v1, mh));
            }
        }
        d[i] = s0 - (h0 >> 4) * 15u;
        if (i + 1u < n)
            d[i + 1u] = s1 - (h1 >> 4) * 15u;
    }
}

be_status be_dense_bin_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_mve);
}

be_status be_conv2d_bin_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_mve);
}

#else
typedef int be_bin_mve_unused; /* ISO C forbids an empty translation unit */
#endif
