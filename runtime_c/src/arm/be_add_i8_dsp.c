/* be_add_i8_dsp.c -- "dsp": Add of two i8 values on the DSP cores (Cortex-M4 / M7 / M33, and the
 * ARMv7-A boards; the M55 runs "mve"): the residual sum of a user's model (examples/custom_model).
 *
 * The split-16 form of be_ew.h, as "w32" and "mve" compute it: with the output zero point folded,
 * X = c' + M_a a + M_b b, c' = 2^(s-1) - M_a zp_a - M_b zp_b + zp 2^s, and M = Mh 2^16 + Ml,
 * c' = ch 2^16 + cl,
 *     code = SSAT8((H + (L >> 16)) >> (s - 16)),  H = ch + Mh_a a + Mh_b b,  L = cl + Ml_a a + Ml_b b
 * exactly in int32 (be_ew_split_ok: s >= 16, |c'| < 2^46). Both codes of an element go into one
 * register as a pair of int16 (a low, b high) and each multiplier pair into another, so H and L
 * are one SMLAD each. SMLAD multiplies signed halves: a low half Ml >= 2^15 is taken as Ml - 2^16
 * with Mh + 1 (the same M); an op whose Mh + 1 leaves int16 takes "word". On the Thumb-2 cores
 * an asm loop (add_loop: 9 instructions per element, 12 in "word"), elsewhere and for the last
 * n % 4 elements the same arithmetic in C; u8 inputs and the ops the form does not take run
 * "word" (the M55 runs "mve", the same form in Helium lanes).
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP
#include <arm_acle.h>

#include "word/be_ew.h"

static inline uint32_t pair16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

#if defined(BE_ARM_T2_ASM)
/* Elements [0, n) (n a multiple of 4) in a Thumb-2 loop of four per test of the end: per
 * element two LDRSB, PKHBT (a low, b's low half above: pair16(a, b)), two SMLAD, an ADD with ASR
 * #16, the shift, SSAT and STRB, post-incremented pointers: 9 instructions, where GCC's loop over
 * packed words (SXTB16, PKH) took 11.75 per element with its pointers spilled. */
#define ADD_ELEMENT                                                                               \
    "ldrsb %[a], [%[pa]], #1\n\t"                                                                 \
    "ldrsb %[b], [%[pb]], #1\n\t" BE_ARM_SPLIT16_CODE                                             \
    "strb %[b], [%[py]], #1\n\t"
static void add_loop(const int8_t *pa, const int8_t *pb, int8_t *py, uint32_t n, uint32_t hp, uint32_t lp,
                     int32_t ch, int32_t cl, uint32_t sh)
{
    const int8_t *const end = py + n;
    int32_t a, b;
    __asm__ volatile("1:\n\t" ADD_ELEMENT ADD_ELEMENT ADD_ELEMENT ADD_ELEMENT
                     "cmp %[py], %[end]\n\t"
                     "bne 1b\n\t"
                     : [pa] "+r"(pa), [pb] "+r"(pb), [py] "+r"(py), [a] "=&r"(a), [b] "=&r"(b)
                     : [hp] "r"(hp), [lp] "r"(lp), [ch] "r"(ch), [cl] "r"(cl), [sh] "r"(sh), [end] "r"(end)
                     : "cc", "memory");
}
#endif

/* The code of the element whose codes are the pair p (a low, b high) */
static inline int8_t add_one(uint32_t p, uint32_t mh, uint32_t ml, int32_t ch, int32_t cl, uint32_t sh)
{
    const int32_t l = __smlad(p, ml, cl);
    const int32_t h = __smlad(p, mh, ch) + be_ew_asr32(l, 16u);
    return (int8_t)__ssat(be_ew_asr32(h, sh), 8);
}

be_status be_add_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const uint32_t n = op->out.nbytes;
    const int8_t *a = (const int8_t *)io->data[0], *b = (const int8_t *)io->data[1];
    int8_t *y = (int8_t *)out;
    be_ew_add_split k;
    uint32_t mh, ml, i = 0u;
    if (!be_ew_add_split_prepare(op, io, &k))
        return be_add_i8_word(op, in, out, scratch);
    mh = pair16(k.mha, k.mhb);
    ml = pair16(k.mla, k.mlb);
#if defined(BE_ARM_T2_ASM)
    if (n >= 4u) {
        i = n & ~3u;
        add_loop(a, b, y, i, mh, ml, k.ch, k.cl, k.sh);
    }
#endif
    for (; i < n; i++)
        y[i] = add_one(pair16(a[i], b[i]), mh, ml, k.ch, k.cl, k.sh);
    return BE_OK;
}

#else
typedef int be_add_i8_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
