/* be_bin_dsp.c -- "dsp": binary Dense / Conv2d for cores with the DSP extension (Cortex-M4, M7,
 * M33, M55; also ARMv7-A built as Thumb-2), using USADA8 (sum of absolute byte differences and
 * accumulate).
 *
 * The whole row loop is Thumb-2 inline assembly (the first version, C around an asm
 * group loop, spilled and rebuilt the masks per row: 0.375 instructions per MAC on the conv
 * benchmark; see docs/kernels.md for the steps). Counting, three words at a time (24
 * instructions per 96 bits on rows up to 50 words, which run unrolled; 27 beyond):
 *   - LDM the three input and the three weight words, XOR;
 *   - one carry-save adder (Harley-Seal step): a + b + c = 2 * hi + lo;
 *   - SWAR on lo and hi down to 4-bit fields (<= 4), v = lo + 2 * hi (fields <= 12); the masks
 *     are registers, so every `m & (v >> s)` is one instruction;
 *   - no fold to bytes: with S(y) = the sum of the 4 bytes of y (USADA8 against zero),
 *     S(v) = sum(low nibbles) + 16 * sum(high nibbles) and S(v & 0xF0F0F0F0) = 16 * sum(high),
 *     so popcount = S(v) - 15 / 16 * S(v & 0xF0F0F0F0), two accumulators, 3 instructions.
 * Registers are pinned (explicit register variables) so that the LDM lists ascend; r7 (the
 * Thumb frame pointer) is not used. Words left over (nw % 3) are counted one by one (SWAR to
 * nibbles, the same two accumulators).
 * docs/kernels.md has the measured instructions per binary MAC.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP

#include "arm/be_arm.h"

/* What the long-row loop reads between rows (kept in memory: all 13 usable registers are
 * taken by the inner loop; its address is pushed on the stack for the duration). */
struct dsp_args {
    const be_word *x; /* +0: the input row */
    uint32_t groups;  /* +4: nw / 3 */
    uint32_t rest;    /* +8: nw % 3 */
    uint32_t *d;      /* +12: next result */
    uint32_t n;       /* +16: rows left */
};

/* Carry-save adder and SWAR of a, b, c (= x ^ w of three words) into acc / acc_hi; uses t0. */
#define DSP_GROUP                                                                              \
    /* carry-save adder: hi -> a, lo -> t0 */                                                  \
    "eor %[t0], %[a], %[b]\n\t"                                                                \
    "and %[a], %[a], %[b]\n\t"                                                                 \
    "and %[b], %[t0], %[c]\n\t"                                                                \
    "orr %[a], %[a], %[b]\n\t"                                                                 \
    "eor %[t0], %[t0], %[c]\n\t" /* 2-bit fields */                                            \
    "and %[b], %[m1], %[t0], lsr #1\n\t"                                                       \
    "and %[c], %[m1], %[a], lsr #1\n\t"                                                        \
    "sub %[t0], %[t0], %[b]\n\t"                                                               \
    "sub %[a], %[a], %[c]\n\t" /* 4-bit fields, v = lo + 2 hi */                               \
    "and %[b], %[m2], %[t0], lsr #2\n\t"                                                       \
    "and %[c], %[m2], %[a], lsr #2\n\t"                                                        \
    "and %[t0], %[t0], %[m2]\n\t"                                                              \
    "and %[a], %[a], %[m2]\n\t"                                                                \
    "add %[t0], %[t0], %[b]\n\t"                                                               \
    "add %[a], %[a], %[c]\n\t"                                                                 \
    "add %[t0], %[t0], %[a], lsl #1\n\t" /* byte sums: S(v) and S(v & 0xF0F0F0F0) */           \
    "usada8 %[acc], %[t0], %[zero], %[acc]\n\t"                                                \
    "and %[t0], %[t0], #0xF0F0F0F0\n\t"                                                        \
    "usada8 %[acc_hi], %[t0], %[zero], %[acc_hi]\n\t"

/* After the groups of a row: the last nw % 3 words one by one (counter `cnt`), the result
 * S(v) - 15/16 S(v & 0xF0F0F0F0) to *d++, and the next row while --n. Leaves a = &args. */
#define DSP_ROW_END                                                                            \
    "3:\n\t"                                                                                   \
    "ldr %[a], [sp]\n\t"                                                                       \
    "ldr %[cnt], [%[a], #8]\n\t"                                                               \
    "cmp %[cnt], #0\n\t"                                                                       \
    "beq 5f\n"                                                                                 \
    "4:\n\t"                                                                                   \
    "ldr %[b], [%[x]], #4\n\t"                                                                 \
    "ldr %[t0], [%[w]], #4\n\t"                                                                \
    "eor %[b], %[b], %[t0]\n\t"                                                                \
    "and %[t0], %[m1], %[b], lsr #1\n\t"                                                       \
    "sub %[b], %[b], %[t0]\n\t"                                                                \
    "and %[t0], %[m2], %[b], lsr #2\n\t"                                                       \
    "and %[b], %[b], %[m2]\n\t"                                                                \
    "add %[b], %[b], %[t0]\n\t"                                                                \
    "usada8 %[acc], %[b], %[zero], %[acc]\n\t"                                                 \
    "and %[b], %[b], #0xF0F0F0F0\n\t"                                                          \
    "usada8 %[acc_hi], %[b], %[zero], %[acc_hi]\n\t"                                           \
    "subs %[cnt], %[cnt], #1\n\t"                                                              \
    "bne 4b\n"                                                                                 \
    "5:\n\t"                                                                                   \
    "sub %[b], %[acc], %[acc_hi]\n\t"                                                          \
    "add %[b], %[b], %[acc_hi], lsr #4\n\t"                                                    \
    "ldr %[c], [%[a], #12]\n\t"                                                                \
    "str %[b], [%[c]], #4\n\t"                                                                 \
    "str %[c], [%[a], #12]\n\t"                                                                \
    "ldr %[c], [%[a], #16]\n\t"                                                                \
    "subs %[c], %[c], #1\n\t"                                                                  \
    "str %[c], [%[a], #16]\n\t"                                                                \
    "bne 2b\n\t"                                                                               \
    "add sp, sp, #4\n\t"

#define DSP_OPERANDS                                                                           \
    : [x] "=&r"(xp), [w] "+r"(wp), [cnt] "=&r"(cnt), [acc] "=&r"(acc), [acc_hi] "=&r"(acc_hi), \
      [a] "+r"(a), [b] "=&r"(b), [c] "=&r"(c), [t0] "=&r"(t0), [t1] "=&r"(t1)                  \
    : [m1] "r"(m1), [m2] "r"(m2), [zero] "r"(zero)                                             \
    : "cc", "memory"

/* The unrolled row loop for rows of at most 16 groups + 2 words (nw <= 50): every row jumps into
 * a straight run of 16 group bodies at the first of its nw / 3 groups (LDR PC from the frame),
 * then into a run of two single-word bodies at the first of its nw % 3 words, so no row pays a
 * loop counter. Every instruction of the bodies is 32-bit (.w), so a body's size is fixed; the
 * assembler checks it (.error). The frame on the stack: [sp] = x, [sp, #4] = group entry,
 * [sp, #8] = word entry, [sp, #12] = next result, [sp, #16] = end of the weight rows. */
#define DSP_GROUP_BYTES 96u /* 24 instructions */
#define DSP_WORD_BYTES 44u  /* 11 instructions */
#define DSP_UNROLL_GROUPS 16u

#define DSP_G /* one group of three words */                                                  \
    "ldmia.w %[x]!, {%[a], %[b], %[c]}\n\t"                                                    \
    "ldmia.w %[w]!, {%[cnt], %[t0], %[t1]}\n\t"                                                \
    "eor.w %[a], %[a], %[cnt]\n\t"                                                             \
    "eor.w %[b], %[b], %[t0]\n\t"                                                              \
    "eor.w %[c], %[c], %[t1]\n\t"                                                              \
    "eor.w %[t0], %[a], %[b]\n\t"                                                              \
    "and.w %[a], %[a], %[b]\n\t"                                                               \
    "and.w %[b], %[t0], %[c]\n\t"                                                              \
    "orr.w %[a], %[a], %[b]\n\t"                                                               \
    "eor.w %[t0], %[t0], %[c]\n\t"                                                             \
    "and.w %[b], %[m1], %[t0], lsr #1\n\t"                                                     \
    "and.w %[c], %[m1], %[a], lsr #1\n\t"                                                      \
    "sub.w %[t0], %[t0], %[b]\n\t"                                                             \
    "sub.w %[a], %[a], %[c]\n\t"                                                               \
    "and.w %[b], %[m2], %[t0], lsr #2\n\t"                                                     \
    "and.w %[c], %[m2], %[a], lsr #2\n\t"                                                      \
    "and.w %[t0], %[t0], %[m2]\n\t"                                                            \
    "and.w %[a], %[a], %[m2]\n\t"                                                              \
    "add.w %[t0], %[t0], %[b]\n\t"                                                             \
    "add.w %[a], %[a], %[c]\n\t"                                                               \
    "add.w %[t0], %[t0], %[a], lsl #1\n\t"                                                     \
    "usada8 %[acc], %[t0], %[zero], %[acc]\n\t"                                                \
    "and.w %[t0], %[t0], #0xF0F0F0F0\n\t"                                                      \
    "usada8 %[acc_hi], %[t0], %[zero], %[acc_hi]\n\t"

#define DSP_W /* one word */                                                                    \
    "ldr.w %[b], [%[x]], #4\n\t"                                                               \
    "ldr.w %[t0], [%[w]], #4\n\t"                                                              \
    "eor.w %[b], %[b], %[t0]\n\t"                                                              \
    "and.w %[t0], %[m1], %[b], lsr #1\n\t"                                                     \
    "sub.w %[b], %[b], %[t0]\n\t"                                                              \
    "and.w %[t0], %[m2], %[b], lsr #2\n\t"                                                     \
    "and.w %[b], %[b], %[m2]\n\t"                                                              \
    "add.w %[b], %[b], %[t0]\n\t"                                                              \
    "usada8 %[acc], %[b], %[zero], %[acc]\n\t"                                                 \
    "and.w %[b], %[b], #0xF0F0F0F0\n\t"                                                        \
    "usada8 %[acc_hi], %[b], %[zero], %[acc_hi]\n\t"

#define DSP_G4 DSP_G DSP_G DSP_G DSP_G

/* d[i] = popcount(x XOR w_i), rows of nw <= 50 words: the unrolled loop (see DSP_G). The frame
 * is pushed from the registers it arrives in (ascending: r2, r4, r5, r6, r8). */
static void popc_dsp_unrolled(const be_word *x, const be_word *w, uint32_t nw, uint32_t n, uint32_t *d)
{
    register const be_word *xp __asm__("r0");
    register const be_word *wp __asm__("r1") = w;
    register uint32_t cnt __asm__("r2") = (uint32_t)(uintptr_t)x;
    register uint32_t m1 __asm__("r9") = 0x55555555u;
    register uint32_t m2 __asm__("r10") = 0x33333333u;
    register uint32_t zero __asm__("r11") = 0u;
    register uint32_t acc __asm__("r12");
    register uint32_t acc_hi __asm__("lr");
    register uint32_t a __asm__("r3");
    /* byte offsets of the first group body and of the first word body to run */
    register uint32_t b __asm__("r4") = (DSP_UNROLL_GROUPS - nw / 3u) * DSP_GROUP_BYTES;
    register uint32_t c __asm__("r5") = (2u - nw % 3u) * DSP_WORD_BYTES;
    register uint32_t t0 __asm__("r6") = (uint32_t)(uintptr_t)d;
    register uint32_t t1 __asm__("r8") = (uint32_t)(uintptr_t)(w + (size_t)n * nw);
    __asm__ volatile(/* the frame: [sp] = x, [sp, #4] = group entry, [sp, #8] = word entry (absolute
                      * Thumb addresses), [sp, #12] = next result, [sp, #16] = end of the rows.
                      * ADR counts from the word-aligned PC and the assembler resolves it assuming
                      * the section starts word-aligned: .balign makes it so (at -Os functions are
                      * only halfword-aligned, and the entries would be 2 bytes off). */
                     ".balign 4\n\t"
                     "adr.w %[a], 10f\n\t"
                     "add %[b], %[b], %[a]\n\t"
                     "orr %[b], %[b], #1\n\t"
                     "adr.w %[a], 20f\n\t"
                     "add %[c], %[c], %[a]\n\t"
                     "orr %[c], %[c], #1\n\t"
                     "push {%[cnt], %[b], %[c], %[t0], %[t1]}\n"
                     "2:\n\t" /* next row */
                     "ldr %[x], [sp]\n\t"
                     "mov %[acc], #0\n\t"
                     "mov %[acc_hi], #0\n\t"
                     "ldr pc, [sp, #4]\n"
                     "10:\n\t"
                     DSP_G4 DSP_G4 DSP_G4 DSP_G4
                     "11:\n\t"
                     ".if (11b - 10b) != 16 * 96\n\t.error \"dsp: group body size\"\n\t.endif\n\t"
                     "ldr pc, [sp, #8]\n"
                     "20:\n\t"
                     DSP_W DSP_W
                     "21:\n\t"
                     ".if (21b - 20b) != 2 * 44\n\t.error \"dsp: word body size\"\n\t.endif\n\t"
                     "sub %[b], %[acc], %[acc_hi]\n\t"
                     "add %[b], %[b], %[acc_hi], lsr #4\n\t"
                     "ldr %[c], [sp, #12]\n\t"
                     "str %[b], [%[c]], #4\n\t"
                     "str %[c], [sp, #12]\n\t"
                     "ldr %[c], [sp, #16]\n\t"
                     "cmp %[w], %[c]\n\t"
                     "bne 2b\n\t"
                     "add sp, sp, #20\n\t"
                     : [x] "=&r"(xp), [w] "+r"(wp), [cnt] "+r"(cnt), [acc] "=&r"(acc), [acc_hi] "=&r"(acc_hi),
                       [a] "=&r"(a), [b] "+r"(b), [c] "+r"(c), [t0] "+r"(t0), [t1] "+r"(t1)
                     : [m1] "r"(m1), [m2] "r"(m2), [zero] "r"(zero)
                     : "cc", "memory");
}

/* d[i] = popcount(x XOR w_i) for n >= 1 consecutive rows w_i of nw words (row_words == nw).
 * Rows of up to 50 words take the unrolled loop; longer rows loop over groups with a counter
 * register and LDM 2 + LDR 1 (27 instructions per group). */
static void popc_dsp(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    struct dsp_args args;
    register const be_word *xp __asm__("r0");
    register const be_word *wp __asm__("r1") = w;
    register uint32_t cnt __asm__("r2");
    register uint32_t m1 __asm__("r9") = 0x55555555u;
    register uint32_t m2 __asm__("r10") = 0x33333333u;
    register uint32_t zero __asm__("r11") = 0u;
    register uint32_t acc __asm__("r12");
    register uint32_t acc_hi __asm__("lr");
    register uint32_t a __asm__("r3") = (uint32_t)(uintptr_t)&args;
    register uint32_t b __asm__("r4"), c __asm__("r5"), t0 __asm__("r6"), t1 __asm__("r8");
    (void)row_words; /* == nw: the driver's rows are contiguous */
    if (nw <= 3u * DSP_UNROLL_GROUPS + 2u) {
        popc_dsp_unrolled(x, w, nw, n, d);
        return;
    }
    args.x = x;
    args.groups = nw / 3u;
    args.rest = nw % 3u;
    args.d = d;
    args.n = n;
    __asm__ volatile("push {%[a]}\n"
                     "2:\n\t" /* next row; a = &args */
                     "ldr %[x], [%[a]]\n\t"
                     "ldr %[cnt], [%[a], #4]\n\t"
                     "mov %[acc], #0\n\t"
                     "mov %[acc_hi], #0\n"
                     "1:\n\t" /* three words */
                     "ldmia %[x]!, {%[a], %[b], %[c]}\n\t"
                     "ldmia %[w]!, {%[t0], %[t1]}\n\t"
                     "eor %[a], %[a], %[t0]\n\t"
                     "eor %[b], %[b], %[t1]\n\t"
                     "ldr %[t0], [%[w]], #4\n\t"
                     "eor %[c], %[c], %[t0]\n\t"
                     DSP_GROUP
                     "subs %[cnt], %[cnt], #1\n\t"
                     "bne 1b\n"
                     DSP_ROW_END
                     DSP_OPERANDS);
}

be_status be_dense_bin_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_dsp);
}

be_status be_conv2d_bin_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_dsp);
}

#else
typedef int be_bin_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
