/*
 * be_arm_neon.h -- internal: Advanced SIMD helpers shared by the NEON kernels (src/arm/ *_neon.c;
 * aarch64, or 32-bit ARM with NEON). Include only where BE_ARM_HAVE_NEON is set.
 */
#ifndef BE_ARM_NEON_H
#define BE_ARM_NEON_H

#include <arm_neon.h>
#include <stdint.h>

/* 8 codes at p (u8, or i8 when is_i8; any address) widened to int16. */
static inline int16x8_t be_neon_codes8(const uint8_t *p, int is_i8)
{
    const uint8x8_t b = vld1_u8(p);
    return is_i8 ? vmovl_s8(vreinterpret_s8_u8(b)) : vreinterpretq_s16_u16(vmovl_u8(b));
}

#endif /* BE_ARM_NEON_H */
