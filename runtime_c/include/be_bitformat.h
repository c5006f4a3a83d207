/*
 * be_bitformat.h -- the frozen bit format of binedge, the C twin of binedge/bitformat.py.
 *
 * Binary values:  +1 <-> bit 0, -1 <-> bit 1 (the sign bit; sign(0) = +1 packs to bit 0).
 * Unsigned bit-planes: plane p holds bit p of the integer level.
 * Packing: along the innermost axis (features; channels in HWC), least significant bit
 *   first, into 32-bit words stored little-endian; every row is padded with zero bits to a
 *   whole word. Element k of a row lives in word k / 32 at bit k % 32. Padding bits are zero
 *   in both operands of a dot product, so they never count.
 * Binary dot product over K elements:          dot = K - 2 * popcount(a XOR w)
 * Binary weight x unsigned bits b in {0, 1}:   sum(w * b) = popcount(b) - 2 * popcount(b AND w)
 *
 * The runtime reads words in place, so it requires a little-endian host (checked by
 * be_model_init). Nothing here may change without changing bitformat.py, docs/format.md and
 * the tests together.
 */
#ifndef BE_BITFORMAT_H
#define BE_BITFORMAT_H

#include <stdint.h>

#define BE_WORD_BITS 32u
#define BE_FORMAT_ID "binedge-bits-v1: +1=bit0, -1=bit1, LSB-first, uint32 little-endian, rows padded to 32"

typedef uint32_t be_word;

/* Number of 32-bit words holding n_bits bits (rows are padded to whole words). */
static inline uint32_t be_words_for(uint32_t n_bits)
{
    return n_bits / BE_WORD_BITS + (n_bits % BE_WORD_BITS != 0u);
}

/* Bit k of a packed row (0 or 1). */
static inline uint32_t be_get_bit(const be_word *row, uint32_t k)
{
    return (row[k / BE_WORD_BITS] >> (k % BE_WORD_BITS)) & 1u;
}

/* Set bit k of a packed row (the row must start zeroed: bits are only ever set). */
static inline void be_set_bit(be_word *row, uint32_t k)
{
    row[k / BE_WORD_BITS] |= (be_word)1u << (k % BE_WORD_BITS);
}

/* Mask of the bits of the last word of an n_bits row that hold elements (the rest is padding). */
static inline be_word be_last_word_mask(uint32_t n_bits)
{
    uint32_t r = n_bits % BE_WORD_BITS;
    return r == 0u ? (be_word)0xFFFFFFFFu : (((be_word)1u << r) - 1u);
}

/* bit -> sign value: bit 0 -> +1, bit 1 -> -1. */
static inline int32_t be_bit_to_sign(uint32_t bit)
{
    return 1 - 2 * (int32_t)(bit & 1u);
}

/* sign value -> bit: negative -> 1, zero or positive -> 0 (sign(0) = +1). */
static inline uint32_t be_sign_to_bit(int32_t v)
{
    return v < 0 ? 1u : 0u;
}

#endif /* BE_BITFORMAT_H */
