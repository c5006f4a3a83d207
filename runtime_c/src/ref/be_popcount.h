/*
 * be_popcount.h -- portable population count (SWAR), for every target.
 *
 * Deliberately NOT __builtin_popcount: on cores without a popcount instruction (Cortex-M) GCC
 * lowers that to a call to libgcc's __popcountsi2, which binedge does not use. This is the
 * classic SWAR count: 2-bit, 4-bit, then byte sums, and a multiply to add the four bytes.
 */
#ifndef BE_POPCOUNT_H
#define BE_POPCOUNT_H

#include <stdint.h>

static inline uint32_t be_popcount32(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

#endif /* BE_POPCOUNT_H */
