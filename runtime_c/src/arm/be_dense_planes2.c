/* be_dense_planes2.c -- "planes2": binary Dense over 2 unsigned bit-planes (qrelu2 levels
 * x = x0 + 2 x1, plane 1 at x + cw) with rows of any length, plain C on every ARM core (the SWAR
 * steps in Thumb-2 asm, be_arm_swar.h). The hidden layers of the qrelu2 VGG (288 -> 64).
 *
 * The popcount drivers (be_arm_common.c) count popcount(x_p XOR w) per plane and then need the
 * row's own popcount: acc = sum_p 2^p popcount(x_p XOR w) - 3 popcount(w), three passes over
 * every weight row, the last one only to count the weights (in a Conv2d those counts are made once
 * and shared by every output pixel; a Dense row is used once). Here one pass, with w bit 1 = -1:
 *     acc = sum_i w_i x_i = C - 2 (popcount(x0 AND w) + 2 popcount(x1 AND w)),
 *     C = popcount(x0) + 2 popcount(x1)   (once per call; be_dense_ref.c's formula).
 * Per 32 inputs: the planes' AND words to nibble counts (<= 4), v = n0 + 2 n1 (<= 12 per nibble),
 * then with the DSP extension S(v) - 15/16 S(v AND 0xF0F0F0F0) (S: the byte sum, USADA8 into two
 * accumulators, as the "dsp" variant sums its nibbles); without it v to byte lanes, summed by one
 * multiply per two words ((lanes * 0x01010101) >> 24, lanes <= 48). Two words per loop step, the
 * row and both planes by LDRD. Scores and accumulators inline, thresholds per 32 rows through
 * be_stage_put_block. docs/kernels.md has the measurements.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include "arm/be_arm.h"
#include "arm/be_arm_swar.h"

#ifdef BE_ARM_HAVE_DSP
#include <arm_acle.h>
#endif

int be_dense_planes2_supports(const be_op *op)
{
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_UNSIGNED && op->in.planes == 2u && op->in.cw >= 1u &&
           op->w_row_bytes == op->in.cw * 4u &&
           (op->stage == BE_STAGE_THRESHOLD || op->stage == BE_STAGE_SCORE || op->stage == BE_STAGE_ACC);
}

/* v = n(a AND w) + 2 n(b AND w): the weighted nibble counts of one word of both planes (<= 12). */
static inline __attribute__((always_inline)) uint32_t word_nibbles(be_word a, be_word b, be_word w)
{
    return be_swar_nibbles(a & w) + (be_swar_nibbles(b & w) << 1);
}

/* The running count of a row: with DSP two USADA8 sums, S(v) and S(v AND 0xF0F0F0F0), whose
 * difference plus a sixteenth of the second is the low nibbles' sum plus the high ones'; without,
 * the byte lanes of one or two words (<= 48 each: their sum, <= 192, in the top byte of a
 * multiply) added to s. */
#ifdef BE_ARM_HAVE_DSP
#define ADD_WORD(v) (s = __usada8((v), 0u, s), s_hi = __usada8((v) & 0xF0F0F0F0u, 0u, s_hi))
#define ADD_PAIR(v0, v1) (ADD_WORD(v0), ADD_WORD(v1))
#define ROW_TOTAL (s - s_hi + (s_hi >> 4))
#else
#define ADD_WORD(v) (s += (be_swar_bytes(v) * 0x01010101u) >> 24)
#define ADD_PAIR(v0, v1) (s += ((be_swar_bytes(v0) + be_swar_bytes(v1)) * 0x01010101u) >> 24)
#define ROW_TOTAL s
#endif

/* popcount(x0 AND w) + 2 popcount(x1 AND w) over the row at *wp (advanced past it) of nw words;
 * x1 = x0 + nw. */
static inline __attribute__((always_inline)) uint32_t row_count(const be_word **wp, const be_word *x0, uint32_t nw)
{
    const be_word *w = *wp, *a = x0, *b = x0 + nw;
    const be_word *const pairs_end = w + (nw & ~1u);
    uint32_t s = 0u, s_hi = 0u;
    (void)s_hi; /* (without DSP: unused) */
    while (w != pairs_end) {
        be_word w0, w1, a0, a1, b0, b1;
        BE_LD2(w, w0, w1);
        BE_LD2(a, a0, a1);
        BE_LD2(b, b0, b1);
        {
            const uint32_t v0 = word_nibbles(a0, b0, w0), v1 = word_nibbles(a1, b1, w1);
            ADD_PAIR(v0, v1);
        }
    }
    if (nw & 1u) {
        const uint32_t v = word_nibbles(*a, *b, *w++);
        ADD_WORD(v);
    }
    *wp = w;
    return ROW_TOTAL;
}

be_status be_dense_planes2(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t nout = op->out_ch, nw = op->in.cw; /* rows of nw words back to back: supports */
    const be_word *x = (const be_word *)in, *w = (const be_word *)op->weights;
    int32_t acc[32], c = 0;
    uint32_t o, i, n;
    be_status st = BE_OK;
    (void)scratch;
    for (i = 0; i < nw; i++)
        c += (int32_t)(be_arm_popcount32(x[i]) + 2u * be_arm_popcount32(x[nw + i]));
    if (op->stage == BE_STAGE_THRESHOLD)
        be_stage_clear(op, out);
    for (o = 0; o < nout; o += n) {
        be_status s;
        n = nout - o < 32u ? nout - o : 32u;
        for (i = 0; i < n; i++)
            acc[i] = c - 2 * (int32_t)row_count(&w, x, nw);
        s = be_arm_dense_put_block(op, out, o, n, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_dense_planes2_unused; /* ISO C forbids an empty translation unit */
#endif
