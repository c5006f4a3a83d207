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

/* ---- unsigned bit-plane inputs (qrelu levels x = sum_p 2^p * b_p), binary weights ----
 * With neg = the weight bits (bit 1 = -1), sum_k w_k * x_k = sum_p 2^p * (popcount(b_p) -
 * 2 * popcount(b_p AND neg)) over whole words, exactly the reference's sum. The first term does
 * not depend on the weight row: be_x86_planes_ones gives it once per input row (pixel / patch);
 * be_x86_planes_block the rest for nb <= 32 rows. Arithmetic in uint32 (wraps like the int32
 * reference, whose every partial sum the loader proved to fit). */
__attribute__((target("popcnt"))) static inline uint32_t be_x86_planes_ones(const be_word *x, size_t plane_step,
                                                                             uint32_t words, uint32_t planes)
{
    uint32_t p, j, s = 0u;
    for (p = 0; p < planes; p++) {
        const be_word *b = x + (size_t)p * plane_step;
        uint32_t d = 0u;
        for (j = 0; j + 2u <= words; j += 2u) {
            uint64_t v;
            memcpy(&v, b + j, 8u);
            d += (uint32_t)__builtin_popcountll(v);
        }
        if (j < words)
            d += (uint32_t)__builtin_popcount(b[j]);
        s += d << p;
    }
    return s;
}

__attribute__((target("popcnt"))) static inline uint32_t be_pc64and(const be_word *a, const be_word *b)
{
    uint64_t x, y;
    memcpy(&x, a, 8u);
    memcpy(&y, b, 8u);
    return (uint32_t)__builtin_popcountll(x & y);
}

/* acc[o] = ones - 2 * sum_p 2^p * popcount(x_p AND w_o) for the nb rows at w (stride `stride`),
 * plane p of the input at x + p * plane_step, `words` words per row; 4 rows share each load. */
__attribute__((target("popcnt"))) static inline void be_x86_planes_block(const be_word *x, size_t plane_step,
                                                                          const be_word *w, size_t stride,
                                                                          uint32_t words, uint32_t planes,
                                                                          uint32_t nb, uint32_t ones, int32_t *acc)
{
    uint32_t o, j, p;
    for (o = 0; o + 4u <= nb; o += 4u) {
        const be_word *w0 = w + (size_t)o * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (p = 0; p < planes; p++) {
            const be_word *b = x + (size_t)p * plane_step;
            uint32_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
            for (j = 0; j + 2u <= words; j += 2u) {
                d0 += be_pc64and(b + j, w0 + j);
                d1 += be_pc64and(b + j, w1 + j);
                d2 += be_pc64and(b + j, w2 + j);
                d3 += be_pc64and(b + j, w3 + j);
            }
            if (j < words) {
                d0 += (uint32_t)__builtin_popcount(b[j] & w0[j]);
                d1 += (uint32_t)__builtin_popcount(b[j] & w1[j]);
                d2 += (uint32_t)__builtin_popcount(b[j] & w2[j]);
                d3 += (uint32_t)__builtin_popcount(b[j] & w3[j]);
            }
            s0 += d0 << p;
            s1 += d1 << p;
            s2 += d2 << p;
            s3 += d3 << p;
        }
        acc[o] = (int32_t)(ones - 2u * s0);
        acc[o + 1u] = (int32_t)(ones - 2u * s1);
        acc[o + 2u] = (int32_t)(ones - 2u * s2);
        acc[o + 3u] = (int32_t)(ones - 2u * s3);
    }
    for (; o < nb; o++) {
        const be_word *w0 = w + (size_t)o * stride;
        uint32_t s0 = 0;
        for (p = 0; p < planes; p++) {
            const be_word *b = x + (size_t)p * plane_step;
            uint32_t d0 = 0;
            for (j = 0; j + 2u <= words; j += 2u)
                d0 += be_pc64and(b + j, w0 + j);
            if (j < words)
                d0 += (uint32_t)__builtin_popcount(b[j] & w0[j]);
            s0 += d0 << p;
        }
        acc[o] = (int32_t)(ones - 2u * s0);
    }
}

#endif /* BE_X86_POPCNT_H */
