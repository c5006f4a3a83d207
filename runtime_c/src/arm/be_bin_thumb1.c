/* be_bin_thumb1.c -- "thumb1": binary Dense / Conv2d for ARMv6-M (Cortex-M0 / M0+).
 *
 * Thumb-1 has 8 low registers for data processing, 2-operand ALU instructions, no shifted
 * operands and no immediate masks, so the Thumb-2 kernels' register-hungry inner loop spills.
 * The inner loop is Thumb-1 inline assembly on the low registers r0-r6 (pinned so that the LDM
 * lists ascend), with the masks, the loop end and the accumulator in high registers (a MOV /
 * ADD / CMP from a high register is one instruction). Per group of three words: LDM the input
 * words, LDM the weight words (2 + 1) and XOR, one carry-save adder (a + b + c = 2 hi + lo,
 * no constants), SWAR on lo and hi to nibbles, v = lo + 2 hi (nibbles <= 12), folded to byte
 * lanes (<= 24) and added to a byte-lane accumulator, flushed every 10 groups (<= 240). GCC's
 * code for the same loop in C was 48 instructions per group (spills, masks rebuilt); this is
 * 39 (the bench: 0.709 / 0.751 instructions per MAC for the C, 0.520 / 0.565 for this; see
 * docs/kernels.md). No __builtin_popcount (libgcc).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_THUMB1

#include "arm/be_arm.h"

/* popcount(x XOR w) over 3 * groups words, 1 <= groups <= 10 (byte lanes <= 240); advances
 * *xp, *wp. 39 Thumb-1 instructions per group; r7 (the Thumb frame pointer) is not used. */
static inline uint32_t popc_groups(const be_word **xp, const be_word **wp, uint32_t groups)
{
    register const be_word *x __asm__("r0") = *xp;
    register const be_word *w __asm__("r1") = *wp;
    register const be_word *end __asm__("r12") = *xp + 3u * groups;
    register uint32_t m1 __asm__("r8") = 0x55555555u;
    register uint32_t m2 __asm__("r9") = 0x33333333u;
    register uint32_t m4 __asm__("r10") = 0x0F0F0F0Fu;
    register uint32_t lanes __asm__("r11") = 0u;
    register uint32_t a __asm__("r2"), b __asm__("r3"), c __asm__("r4"), t0 __asm__("r5"), t1 __asm__("r6");
    __asm__ volatile(".syntax unified\n"
                     "1:\n\t"
                     "ldmia %[x]!, {%[a], %[b], %[c]}\n\t"
                     "ldmia %[w]!, {%[t0], %[t1]}\n\t"
                     "eors %[a], %[t0]\n\t"
                     "eors %[b], %[t1]\n\t"
                     "ldmia %[w]!, {%[t0]}\n\t"
                     "eors %[c], %[t0]\n\t"
                     /* carry-save adder: hi -> a, lo -> t0 */
                     "movs %[t0], %[a]\n\t"
                     "eors %[t0], %[b]\n\t"
                     "ands %[a], %[b]\n\t"
                     "movs %[t1], %[t0]\n\t"
                     "ands %[t1], %[c]\n\t"
                     "orrs %[a], %[t1]\n\t"
                     "eors %[t0], %[c]\n\t"
                     /* 2-bit fields */
                     "mov %[t1], %[m1]\n\t"
                     "lsrs %[b], %[t0], #1\n\t"
                     "ands %[b], %[t1]\n\t"
                     "subs %[t0], %[t0], %[b]\n\t"
                     "lsrs %[b], %[a], #1\n\t"
                     "ands %[b], %[t1]\n\t"
                     "subs %[a], %[a], %[b]\n\t"
                     /* 4-bit fields */
                     "mov %[t1], %[m2]\n\t"
                     "lsrs %[b], %[t0], #2\n\t"
                     "ands %[b], %[t1]\n\t"
                     "ands %[t0], %[t1]\n\t"
                     "adds %[t0], %[t0], %[b]\n\t"
                     "lsrs %[b], %[a], #2\n\t"
                     "ands %[b], %[t1]\n\t"
                     "ands %[a], %[t1]\n\t"
                     "adds %[a], %[a], %[b]\n\t"
                     "lsls %[a], %[a], #1\n\t"
                     "adds %[t0], %[t0], %[a]\n\t"
                     /* bytes (<= 24) into the lanes */
                     "mov %[t1], %[m4]\n\t"
                     "lsrs %[b], %[t0], #4\n\t"
                     "ands %[b], %[t1]\n\t"
                     "ands %[t0], %[t1]\n\t"
                     "adds %[t0], %[t0], %[b]\n\t"
                     "add %[lanes], %[t0]\n\t"
                     "cmp %[x], %[end]\n\t"
                     "bne 1b\n\t"
                     ".syntax divided\n"
                     : [x] "+l"(x), [w] "+l"(w), [lanes] "+r"(lanes), [a] "=&l"(a), [b] "=&l"(b), [c] "=&l"(c),
                       [t0] "=&l"(t0), [t1] "=&l"(t1)
                     : [end] "r"(end), [m1] "r"(m1), [m2] "r"(m2), [m4] "r"(m4)
                     : "cc", "memory");
    *xp = x;
    *wp = w;
    lanes = (lanes & 0x00FF00FFu) + ((lanes >> 8) & 0x00FF00FFu);
    return (lanes + (lanes >> 16)) & 0xFFFFu;
}

static void popc_thumb1(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n,
                        uint32_t *d)
{
    const uint32_t chunks = nw / 30u, last = (nw % 30u) / 3u, rest = nw % 3u; /* once per call */
    uint32_t i, j;
    for (i = 0; i < n; i++) {
        const be_word *xp = x, *wp = w + (size_t)i * row_words;
        uint32_t total = 0u;
        for (j = 0; j < chunks; j++)
            total += popc_groups(&xp, &wp, 10u);
        if (last != 0u)
            total += popc_groups(&xp, &wp, last);
        for (j = 0; j < rest; j++)
            total += be_arm_popcount32(xp[j] ^ wp[j]);
        d[i] = total;
    }
}

be_status be_dense_bin_thumb1(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_thumb1);
}

be_status be_conv2d_bin_thumb1(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_thumb1);
}

#else
typedef int be_bin_thumb1_unused; /* ISO C forbids an empty translation unit */
#endif
