/* be_lstm_mve.c -- "mve": the LSTM step with Helium (Cortex-M55).
 *
 * A weight word's bits ARE Helium predicates: the low / high half of a word, moved to P0, selects
 * the byte lanes of 16 codes, and one predicated VADDVA.S8 adds the selected codes to a scalar.
 * So sum_k (bit k ? -x_k : x_k) = S - 2 sum_{bit k = 1} x_k with S = sum_k x_k (once per step):
 * per 32 codes and row, two predicated byte sums. The four gate rows of a cell share every code
 * load; the predicated sums are inline assembly (VMSR P0 / VPST / VADDVAT.S8). The codes (the
 * state h, and p for an int8 input) are copied to zero-padded stack buffers
 * of words * 32 bytes first: H and I up to 1024 (2 x 1 KiB; longer rows fall through to "word"
 * or "ref"). The rest of the step is be_lstm.h's, exactly as the reference.
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "be_lstm.h"

#define MAX_WORDS 32u

int be_lstm_mve_supports(const be_op *op)
{
    return op->type == BE_OP_LSTM && be_words_for(op->out_ch) <= MAX_WORDS &&
           (be_lstm_onehot(op) || be_words_for(op->in_ch) <= MAX_WORDS);
}

/* Copy n codes into dst (words(n) * 32 bytes, zero padded); returns their sum. */
static int32_t pad_copy(int8_t *dst, const int8_t *src, uint32_t n)
{
    const uint32_t padded = be_words_for(n) * 32u;
    int32_t sum = 0;
    uint32_t k;
    for (k = 0; k < n; k++) {
        dst[k] = src[k];
        sum += src[k];
    }
    for (; k < padded; k++)
        dst[k] = 0;
    return sum;
}

#ifdef BE_ARM_T2_ASM
/* sum_k (bit k ? -x_k : x_k) of the four rows r0 + j step (cw words each), from the sum of x.
 * Inline assembly per word: GCC passes an mve_pred16_t through the stack (a halfword store and
 * load per sum); VMSR P0 takes bits 15:0 of its register, VADDVA an even one. */
static void dot4(const be_word *w, size_t r0, size_t step, uint32_t cw, const int8_t *x, int32_t sum, int32_t acc[4])
{
    const be_word *w0 = w + r0 * cw, *w1 = w0 + step * cw, *w2 = w1 + step * cw, *w3 = w2 + step * cw;
    register int32_t a0 __asm__("r0") = 0;
    register int32_t a1 __asm__("r2") = 0;
    register int32_t a2 __asm__("r4") = 0;
    register int32_t a3 __asm__("r6") = 0;
    uint32_t j, t;
    for (j = 0; j < cw; j++) {
        const int8x16_t lo = vld1q_s8(x + 32u * j), hi = vld1q_s8(x + 32u * j + 16u);
        __asm__("vmsr p0, %[b0]\n\tvpst\n\tvaddvat.s8 %[a0], %q[lo]\n\t"
                "vmsr p0, %[b1]\n\tvpst\n\tvaddvat.s8 %[a1], %q[lo]\n\t"
                "vmsr p0, %[b2]\n\tvpst\n\tvaddvat.s8 %[a2], %q[lo]\n\t"
                "vmsr p0, %[b3]\n\tvpst\n\tvaddvat.s8 %[a3], %q[lo]\n\t"
                "lsr %[t], %[b0], #16\n\tvmsr p0, %[t]\n\tvpst\n\tvaddvat.s8 %[a0], %q[hi]\n\t"
                "lsr %[t], %[b1], #16\n\tvmsr p0, %[t]\n\tvpst\n\tvaddvat.s8 %[a1], %q[hi]\n\t"
                "lsr %[t], %[b2], #16\n\tvmsr p0, %[t]\n\tvpst\n\tvaddvat.s8 %[a2], %q[hi]\n\t"
                "lsr %[t], %[b3], #16\n\tvmsr p0, %[t]\n\tvpst\n\tvaddvat.s8 %[a3], %q[hi]"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [t] "=&r"(t)
                : [b0] "r"(w0[j]), [b1] "r"(w1[j]), [b2] "r"(w2[j]), [b3] "r"(w3[j]), [lo] "w"(lo), [hi] "w"(hi));
    }
    acc[0] = sum - 2 * a0;
    acc[1] = sum - 2 * a1;
    acc[2] = sum - 2 * a2;
    acc[3] = sum - 2 * a3;
}
#else
/* sum_k (bit k ? -x_k : x_k) of the four rows r0 + j step (cw words each), from the sum of x
 * (intrinsics: debug and size-optimised builds, where the assembly's registers are not free) */
static void dot4(const be_word *w, size_t r0, size_t step, uint32_t cw, const int8_t *x, int32_t sum, int32_t acc[4])
{
    const be_word *w0 = w + r0 * cw, *w1 = w0 + step * cw, *w2 = w1 + step * cw, *w3 = w2 + step * cw;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t j;
    for (j = 0; j < cw; j++) {
        const int8x16_t lo = vld1q_s8(x + 32u * j), hi = vld1q_s8(x + 32u * j + 16u);
        a0 = vaddvaq_p_s8(a0, lo, (mve_pred16_t)(w0[j] & 0xFFFFu));
        a0 = vaddvaq_p_s8(a0, hi, (mve_pred16_t)(w0[j] >> 16));
        a1 = vaddvaq_p_s8(a1, lo, (mve_pred16_t)(w1[j] & 0xFFFFu));
        a1 = vaddvaq_p_s8(a1, hi, (mve_pred16_t)(w1[j] >> 16));
        a2 = vaddvaq_p_s8(a2, lo, (mve_pred16_t)(w2[j] & 0xFFFFu));
        a2 = vaddvaq_p_s8(a2, hi, (mve_pred16_t)(w2[j] >> 16));
        a3 = vaddvaq_p_s8(a3, lo, (mve_pred16_t)(w3[j] & 0xFFFFu));
        a3 = vaddvaq_p_s8(a3, hi, (mve_pred16_t)(w3[j] >> 16));
    }
    acc[0] = sum - 2 * a0;
    acc[1] = sum - 2 * a1;
    acc[2] = sum - 2 * a2;
    acc[3] = sum - 2 * a3;
}
#endif

be_status be_lstm_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    int8x16_t hbuf[2u * MAX_WORDS], pbuf[2u * MAX_WORDS]; /* 32 codes per weight word, zero padded */
    int32_t hsum, psum = 0;
    be_lstm_step s;
    uint32_t c;
    const be_status st = be_lstm_step_init(&s, op, in, out, scratch);
    if (st != BE_OK)
        return st;
    hsum = pad_copy((int8_t *)(void *)hbuf, s.h, s.hid);
    if (!s.onehot)
        psum = pad_copy((int8_t *)(void *)pbuf, (const int8_t *)in, s.n_in);
    for (c = 0; c < s.hid; c++) {
        int32_t ah[4], ax[4] = {0, 0, 0, 0};
        dot4(s.wh, c, s.hid, s.cwh, (const int8_t *)(const void *)hbuf, hsum, ah);
        if (!s.onehot)
            dot4(s.wx, c, s.hid, s.cwx, (const int8_t *)(const void *)pbuf, psum, ax);
        be_lstm_finish_cell(&s, c, ah, ax);
    }
    be_lstm_copy_h(s.h, s.hout, s.hid);
    return BE_OK;
}

#else
typedef int be_lstm_mve_unused; /* ISO C forbids an empty translation unit */
#endif
