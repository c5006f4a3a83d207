/*
 * binedge target self-test: portable C99 run on EVERY target by
 * tests/test_targets.py. It checks what the runtime relies on: integer and
 * 64-bit arithmetic (libgcc helpers on 32-bit cores), a SWAR popcount
 * against a naive loop, memcpy/memmove at every alignment, unaligned-safe
 * little-endian reads, a little floating point (which faults on a hard-float
 * Cortex-M unless the startup enabled the FPU), and recursion on the stack.
 *
 * Prints "selftest: N passed, M failed" and returns 0 only when M == 0.
 * Expected constants were computed independently in Python.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"

static unsigned passed, failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            printf("selftest: FAIL line %d: %s\n", __LINE__, #cond);           \
        }                                                                      \
    } while (0)

/* volatile: keep the compiler from folding the arithmetic at compile time,
   so the target's instructions and libgcc helpers really run. */
static volatile uint64_t v_a = 0x0123456789ABCDEFull;
static volatile uint64_t v_b = 0xFEDCBA9876543210ull;
static volatile int32_t v_m7 = -7;
static volatile int32_t v_2 = 2;
static volatile uint32_t v_big = 1000000007u;
static volatile uint32_t v_97 = 97u;
static volatile unsigned v_shift = 13;

static void test_int(void)
{
    int32_t q = v_m7 / v_2, r = v_m7 % v_2;
    uint32_t u = 0xFFFFFFFFu;
    int8_t s8[256];
    int32_t sum = 0;
    int i;

    CHECK(q == -3 && r == -1); /* C99: truncation toward zero */
    CHECK(v_big / v_97 == 10309278u && v_big % v_97 == 41u);
    CHECK((uint32_t)(u + (uint32_t)v_2) == 1u); /* unsigned wrap */
    CHECK(((int32_t)-1 >> 1) == -1 || ((int32_t)-1 >> 1) == 0x7FFFFFFF); /* impl.-defined, either */
    CHECK((uint64_t)u * u == 0xFFFFFFFE00000001ull);
    CHECK((int32_t)((uint32_t)v_m7 * 3u) == -21);
    for (i = 0; i < 256; i++) s8[i] = (int8_t)(i - 128);
    for (i = 0; i < 256; i++) sum += s8[i];
    CHECK(sum == -128);
    CHECK((v_big << v_shift >> v_shift) == (v_big & (0xFFFFFFFFu >> 13)));
}

static void test_int64(void)
{
    uint64_t a = v_a, b = v_b, x = 0x9E3779B97F4A7C15ull, s = 0;
    int64_t sa = -(int64_t)a;
    int i;

    CHECK(a * b == 0x2236D88FE5618CF0ull);
    CHECK(a / 12345u == 0x60A45F5207Dull && a % 12345u == 0x221Aull);
    CHECK(sa / 7 == -11712218459498127ll && sa % 7 == -6);
    CHECK((a >> v_shift) == 0x91A2B3C4D5Eull);
    CHECK((a << (v_shift + 4)) == 0x8ACF13579BDE0000ull);
    CHECK((int64_t)b < 0 && b > a);
    for (i = 0; i < 1000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s += x;
    }
    CHECK(x == 0x56B663219F6E38F5ull && s == 0x1DDAD57E22766FC0ull);
}

/* SWAR popcount: the portable kernel Cortex-M cores without a popcount
   instruction use (DESIGN.md §4). */
static uint32_t popcount_swar(uint32_t v)
{
    v = v - ((v >> 1) & 0x55555555u);
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0Fu;
    return (v * 0x01010101u) >> 24;
}

static uint32_t popcount_naive(uint32_t v)
{
    uint32_t n = 0;
    while (v) {
        n += v & 1u;
        v >>= 1;
    }
    return n;
}

static void test_popcount(void)
{
    uint32_t y = 2463534242u, total = 0, mismatches = 0;
    static const uint32_t edge[] = {0u, 1u, 0x80000000u, 0xFFFFFFFFu, 0x55555555u, 0xAAAAAAAAu, 0x0F0F0F0Fu};
    unsigned i;

    for (i = 0; i < sizeof edge / sizeof edge[0]; i++)
        if (popcount_swar(edge[i]) != popcount_naive(edge[i])) mismatches++;
    CHECK(mismatches == 0 && popcount_swar(0xFFFFFFFFu) == 32u && popcount_swar(0u) == 0u);

    mismatches = 0;
    for (i = 0; i < 4096; i++) {
        y ^= y << 13;
        y ^= y >> 17;
        y ^= y << 5;
        if (popcount_swar(y) != popcount_naive(y)) mismatches++;
        total += popcount_swar(y);
    }
    CHECK(mismatches == 0);
    CHECK(total == 65023u && y == 0xEBCCFF9Bu);
}

static void test_memcpy(void)
{
    unsigned char src[64], dst[80];
    unsigned so, d0, len, i, bad = 0;

    for (i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 7u + 1u);
    for (so = 0; so < 4; so++)
        for (d0 = 0; d0 < 4; d0++)
            for (len = 0; len <= 48; len++) {
                memset(dst, 0xEE, sizeof dst);
                memcpy(dst + d0, src + so, len);
                for (i = 0; i < sizeof dst; i++) {
                    unsigned char want = (i >= d0 && i < d0 + len) ? src[so + i - d0] : 0xEE;
                    if (dst[i] != want) bad++;
                }
            }
    CHECK(bad == 0);

    /* overlapping move both ways */
    for (i = 0; i < 32; i++) dst[i] = (unsigned char)i;
    memmove(dst + 3, dst, 20);
    bad = 0;
    for (i = 0; i < 20; i++)
        if (dst[3 + i] != i) bad++;
    memmove(dst, dst + 3, 20);
    for (i = 0; i < 20; i++)
        if (dst[i] != i) bad++;
    CHECK(bad == 0);
}

/* Unaligned-safe little-endian loads (how the runtime reads a blob). */
static uint32_t load_le32_bytes(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint32_t load_u32_memcpy(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t load_u64_memcpy(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void test_unaligned(void)
{
    unsigned char buf[24];
    unsigned off, i, bad = 0;
    const uint16_t one = 1;
    int little = *(const unsigned char *)&one == 1;

    for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(0x10u + i);
    for (off = 0; off < 8; off++) {
        uint32_t want = (uint32_t)(0x10u + off) | ((uint32_t)(0x11u + off) << 8) |
                        ((uint32_t)(0x12u + off) << 16) | ((uint32_t)(0x13u + off) << 24);
        uint64_t want64 = (uint64_t)load_le32_bytes(buf + off) | ((uint64_t)load_le32_bytes(buf + off + 4) << 32);
        if (load_le32_bytes(buf + off) != want) bad++;
        if (little && load_u32_memcpy(buf + off) != want) bad++;
        if (little && load_u64_memcpy(buf + off) != want64) bad++;
    }
    CHECK(little); /* every binedge target is little-endian (the blob format is) */
    CHECK(bad == 0);
}

static volatile float v_f = 1.5f;
static volatile double v_d = 0.1;

static void test_float(void)
{
    float f = v_f * 2.0f + 0.25f;
    double d = v_d * 3.0;
    CHECK(f == 3.25f);
    CHECK(d > 0.3 - 1e-12 && d < 0.3 + 1e-12);
    CHECK((int32_t)(v_f * -4.0f) == -6);
}

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static void test_stack(void)
{
    volatile unsigned char scratch[256];
    unsigned i, s = 0;
    for (i = 0; i < sizeof scratch; i++) scratch[i] = (unsigned char)i;
    for (i = 0; i < sizeof scratch; i++) s += scratch[i];
    CHECK(s == 255u * 256u / 2u);
    CHECK(fib(15) == 610u);
}

int main(void)
{
    uint64_t t0, t1;

    t0 = board_ticks();
    BOARD_BARRIER();
    test_int();
    test_int64();
    test_popcount();
    test_memcpy();
    test_unaligned();
    test_float();
    test_stack();
    BOARD_BARRIER();
    t1 = board_ticks();

    printf("selftest: target %s\n", board_name());
    printf("selftest: stack used %lu of %lu bytes\n", (unsigned long)be_target_stack_used(),
           (unsigned long)be_target_stack_size());
    printf("selftest: ticks %lu at %lu Hz\n", (unsigned long)(t1 - t0), (unsigned long)board_tick_hz());
    printf("selftest: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
