/* test_bitformat.c -- the frozen bit format, popcount and CRC32. */
#include <stdint.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_popcount.h"
#include "be_test.h"
#include "binedge.h"

static uint32_t naive_popcount(uint32_t x)
{
    uint32_t n = 0, i;
    for (i = 0; i < 32u; i++)
        n += (x >> i) & 1u;
    return n;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

int main(void)
{
    uint32_t k, j, s = 12345u, i;
    be_word row[3];

    /* words_for */
    CHECK_EQ(be_words_for(0), 0);
    CHECK_EQ(be_words_for(1), 1);
    CHECK_EQ(be_words_for(31), 1);
    CHECK_EQ(be_words_for(32), 1);
    CHECK_EQ(be_words_for(33), 2);
    CHECK_EQ(be_words_for(64), 2);
    CHECK_EQ(be_words_for(0xFFFFFFFFu), 0x08000000u);

    /* bit order with one-hot vectors: element k -> word k/32, bit k%32 -> byte k/8, bit k%8 */
    for (k = 0; k < 96u; k++) {
        const uint8_t *bytes = (const uint8_t *)row;
        memset(row, 0, sizeof row);
        be_set_bit(row, k);
        for (j = 0; j < 3u; j++)
            CHECK_EQ(row[j], j == k / 32u ? (1u << (k % 32u)) : 0u);
        for (j = 0; j < 12u; j++)
            CHECK_EQ(bytes[j], j == k / 8u ? (1u << (k % 8u)) : 0u);
        for (j = 0; j < 96u; j++)
            CHECK_EQ(be_get_bit(row, j), j == k);
    }
    CHECK_EQ(be_last_word_mask(32), 0xFFFFFFFFu);
    CHECK_EQ(be_last_word_mask(64), 0xFFFFFFFFu);
    CHECK_EQ(be_last_word_mask(1), 1u);
    CHECK_EQ(be_last_word_mask(33), 1u);
    CHECK_EQ(be_last_word_mask(5), 0x1Fu);
    CHECK_EQ(be_bit_to_sign(0), 1);
    CHECK_EQ(be_bit_to_sign(1), -1);
    CHECK_EQ(be_sign_to_bit(0), 0);
    CHECK_EQ(be_sign_to_bit(7), 0);
    CHECK_EQ(be_sign_to_bit(-1), 1);

    /* popcount vs naive: edge values, every 16-bit pattern in both halves, random words */
    CHECK_EQ(be_popcount32(0u), 0);
    CHECK_EQ(be_popcount32(0xFFFFFFFFu), 32);
    CHECK_EQ(be_popcount32(0x80000000u), 1);
    CHECK_EQ(be_popcount32(0x55555555u), 16);
    for (i = 0; i < 65536u; i++) {
        if (be_popcount32(i) != naive_popcount(i) || be_popcount32(i << 16) != naive_popcount(i << 16) ||
            be_popcount32(i * 0x00010001u) != naive_popcount(i * 0x00010001u))
            CHECK(0);
    }
    for (i = 0; i < 200000u; i++) {
        uint32_t x = lcg(&s) ^ (lcg(&s) >> 7);
        if (be_popcount32(x) != naive_popcount(x))
            CHECK(0);
    }

    /* CRC32 (zlib): the standard check value, chaining, empty input */
    CHECK_EQ(be_crc32(0u, "123456789", 9), 0xCBF43926u);
    CHECK_EQ(be_crc32(be_crc32(0u, "1234", 4), "56789", 5), 0xCBF43926u);
    CHECK_EQ(be_crc32(0u, "", 0), 0u);
    CHECK_EQ(be_crc32(0u, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);

    return be_test_report("test_bitformat");
}
