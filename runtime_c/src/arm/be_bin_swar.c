/* be_bin_swar.c -- "swar": binary Dense / Conv2d for 32-bit ARM without a popcount instruction
 * (Cortex-M3 and every Thumb-2 / ARM-state core), plain C.
 *
 * Counting: three words at a time through one carry-save adder (Harley-Seal step:
 * a + b + c = 2 * high + low, 5 operations), then SWAR on high and low down to 4-bit fields
 * (5 operations each, fields <= 4), combined as low + 2 * high (fields <= 12), folded to
 * byte lanes (<= 24) and summed in byte-lane accumulators that are flushed every 10 groups
 * (<= 240 per lane). Thumb-2 does every `(v >> s) & m` in one instruction (shifted operand).
 * Leftover words (nw % 3) use the plain SWAR popcount. No __builtin_popcount (libgcc).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_SWAR

#include "arm/be_arm.h"

/* The masks live in registers (see BE_ARM_OPAQUE): Thumb-2 then does `m & (v >> s)` in one
 * instruction; with immediates GCC needs a separate shift. */
#define M1 m1
#define M2 m2
#define M4 m4

/* popcount(a) + popcount(b) + popcount(c) as 8 nibbles (each <= 12). */
static inline uint32_t nib3(uint32_t a, uint32_t b, uint32_t c, uint32_t m1, uint32_t m2)
{
    uint32_t u = a ^ b, hi = (a & b) | (u & c), lo = u ^ c;
    lo = lo - ((lo >> 1) & M1);
    hi = hi - ((hi >> 1) & M1);
    lo = (lo & M2) + ((lo >> 2) & M2);
    hi = (hi & M2) + ((hi >> 2) & M2);
    return lo + (hi << 1);
}

/* Byte lanes of up to 10 groups (3 * g words, g >= 1) -> their sum; advances *xp, *wp. */
static inline uint32_t groups(const be_word **xp, const be_word **wp, uint32_t g, uint32_t m1, uint32_t m2,
                              uint32_t m4)
{
    const be_word *x = *xp, *w = *wp, *end = x + 3u * g;
    uint32_t lanes = 0u;
    do {
        uint32_t a = x[0] ^ w[0], b = x[1] ^ w[1], c = x[2] ^ w[2], v;
        x += 3;
        w += 3;
        v = nib3(a, b, c, m1, m2);
        lanes += (v & M4) + ((v >> 4) & M4);
    } while (x != end);
    *xp = x;
    *wp = w;
    lanes = (lanes & 0x00FF00FFu) + ((lanes >> 8) & 0x00FF00FFu);
    return (lanes + (lanes >> 16)) & 0xFFFFu;
}

static void popc_swar(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    const uint32_t chunks = nw / 30u, last = (nw % 30u) / 3u, rest = nw % 3u; /* once per call */
    uint32_t i, j, m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;
    BE_ARM_OPAQUE(m1);
    BE_ARM_OPAQUE(m2);
    BE_ARM_OPAQUE(m4);
    for (i = 0; i < n; i++) {
        const be_word *xp = x, *wp = w + (size_t)i * row_words;
        uint32_t total = 0u;
        for (j = 0; j < chunks; j++)
            total += groups(&xp, &wp, 10u, m1, m2, m4);
        if (last != 0u)
            total += groups(&xp, &wp, last, m1, m2, m4);
        for (j = 0; j < rest; j++)
            total += be_arm_popcount32(xp[j] ^ wp[j]);
        d[i] = total;
    }
}

be_status be_dense_bin_swar(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_swar);
}

be_status be_conv2d_bin_swar(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_swar);
}

#else
typedef int be_bin_swar_unused; /* ISO C forbids an empty translation unit */
#endif
