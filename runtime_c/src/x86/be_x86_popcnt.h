/* be_x86_popcnt.h -- the scalar 64-bit POPCNT dot-product block shared by the Dense and Conv2d
 * popcnt variants (x86 only; every function carries target("popcnt")).
 *
 * be_x86_popcnt_block: for nb <= 32 weight rows of `words` words (row stride `stride`), starting
 * at `w`, acc[o] = k - 2 * popcount(x XOR w_o) over the packed input row x, 64 bits per POPCNT
 * and 4 rows sharing each input load. Exactly the reference's K - 2 * popcount(a XOR w).
 */
#ifndef BE_X86_POPCNT_H
#define BE_X86_POPCNT_H

#include "be_x86.h"

__attribute__((target("popcnt"))) static inline uint32_t be_pc64(const be_word *a, const be_word *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8u);
    memcpy(&y, b, 8u);
    return (uint32_t)__builtin_popcountll(x ^ y);
}

__attribute__((target("popcnt"))) static inline uint32_t be_pc32(be_word a, be_word b)
{
    return (uint32_t)__builtin_popcount(a ^ b);
}

__attribute__((target("popcnt"))) static inline void be_x86_popcnt_block(const be_word *x, const be_word *w,
                                                                          size_t stride, uint32_t words,
                                                                          uint32_t nb, uint32_t k, int32_t *acc)
{
    uint32_t o, j;
    for (o = 0; o + 4u <= nb; o += 4u) {
        const be_word *w0 = w + (size_t)o * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        uint32_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        for (j = 0; j + 2u <= words; j += 2u) {
            d0 += be_pc64(x + j, w0 + j);
            d1 += be_pc64(x + j, w1 + j);
            d2 += be_pc64(x + j, w2 + j);
            d3 += be_pc64(x + j, w3 + j);
        }
        if (j < words) {
            d0 += be_pc32(x[j], w0[j]);
            d1 += be_pc32(x[j], w1[j]);
            d2 += be_pc32(x[j], w2[j]);
            d3 += be_pc32(x[j], w3[j]);
        }
        acc[o] = (int32_t)k - 2 * (int32_t)d0;
        acc[o + 1u] = (int32_t)k - 2 * (int32_t)d1;
        acc[o + 2u] = (int32_t)k - 2 * (int32_t)d2;
        acc[o + 3u] = (int32_t)k - 2 * (int32_t)d3;
    }
    for (; o < nb; o++) {
        const be_word *w0 = w + (size_t)o * stride;
        uint32_t d0 = 0;
        for (j = 0; j + 2u <= words; j += 2u)
            d0 += be_pc64(x + j, w0 + j);
        if (j < words)
            d0 += be_pc32(x[j], w0[j]);
        acc[o] = (int32_t)k - 2 * (int32_t)d0;
    }
}

#endif /* BE_X86_POPCNT_H */
