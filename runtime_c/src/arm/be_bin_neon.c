/* be_bin_neon.c -- "neon": binary Dense / Conv2d with Advanced SIMD (aarch64; armv7 -mfpu=neon).
 *
 * Two channels share each input load: per 128 bits, VEOR with each weight row, VCNT.8 (byte
 * popcounts, <= 8) and VPADAL.U8 into 16-bit lanes (pairwise add and accumulate; a lane
 * gains <= 16 per step, so 4096 steps = 2 MiB rows fit). The lanes are reduced once per row
 * (ADDV on aarch64, pairwise adds on armv7). Words left over (nw % 4) use the plain SWAR
 * popcount. No __builtin_popcount.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>

#include "arm/be_arm.h"

static inline uint32_t sum16(uint16x8_t v)
{
#if defined(__aarch64__)
    return vaddlvq_u16(v);
#else
    uint64x2_t s = vpaddlq_u32(vpaddlq_u16(v));
    return (uint32_t)(vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1));
#endif
}

static void popc_neon(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    const uint32_t nv = nw / 4u, rest = nw % 4u;
    uint32_t i, j;
    for (i = 0; i < n; i += 2u) {
        const be_word *w0 = w + (size_t)i * row_words;
        const be_word *w1 = i + 1u < n ? w0 + row_words : w0; /* odd count: the last row twice */
        uint16x8_t a0 = vdupq_n_u16(0), a1 = vdupq_n_u16(0);
        uint32_t t0, t1;
        for (j = 0; j < nv; j++) {
            const uint8x16_t xv = vreinterpretq_u8_u32(vld1q_u32(x + 4u * j));
            a0 = vpadalq_u8(a0, vcntq_u8(veorq_u8(xv, vreinterpretq_u8_u32(vld1q_u32(w0 + 4u * j)))));
            a1 = vpadalq_u8(a1, vcntq_u8(veorq_u8(xv, vreinterpretq_u8_u32(vld1q_u32(w1 + 4u * j)))));
        }
        t0 = sum16(a0);
        t1 = sum16(a1);
        for (j = 4u * nv; j < 4u * nv + rest; j++) {
            t0 += be_arm_popcount32(x[j] ^ w0[j]);
            t1 += be_arm_popcount32(x[j] ^ w1[j]);
        }
        d[i] = t0;
        if (i + 1u < n)
            d[i + 1u] = t1;
    }
}

be_status be_dense_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_neon);
}

be_status be_conv2d_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_neon);
}

#else
typedef int be_bin_neon_unused; /* ISO C forbids an empty translation unit */
#endif
