/* be_dense_bin_short.c -- "short": binary Dense with short rows (K <= 128 bits, at most 4 words),
 * the classifier heads and small hidden layers, on every ARM core.
 *
 * In such a layer the popcount itself is a few dozen instructions per output, so what the
 * general driver adds around it (a call into the variant's counting core per block of 32 rows,
 * a row-end sequence built for long rows, one be_stage_put call per score) costs as much as
 * the counting. Here each output is one pass, everything in registers:
 *   - d = popcount(x XOR w) by SWAR: 2-bit fields, then nibbles (<= 4 per word), the nibbles of
 *     up to three words added (<= 12), folded to byte lanes; the byte lanes of the row (<= 32
 *     each for 4 words) summed once at the end;
 *   - acc = K - 2d, exactly the reference's accumulator;
 *   - the output stage inline: sign thresholds (bit 1 where direction * acc < T), scores
 *     (multiplier * acc + offset in 64 bits, BE_ERR_OVERFLOW when it leaves int32, as the
 *     reference), accumulators; any other stage (unsigned levels, requantization) goes through
 *     be_stage_put.
 * On the cores with the DSP extension it only takes the score and accumulator stages (their
 * carry-save counting is as fast on these rows: docs/kernels.md). No __builtin_popcount (libgcc).
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include "arm/be_arm.h"

#define BE_SHORT_MAX_WORDS 4u /* from 5 words on, the dsp variant's carry-save loop is faster (M4) */

int be_dense_bin_short_supports(const be_op *op)
{
#if defined(BE_ARM_HAVE_DSP)
    /* the DSP cores' carry-save counting ("dsp", "mve") is as fast on these rows: only the score and
     * accumulator stages, which the driver hands out per channel, gain (docs/kernels.md) */
    if (op->stage != BE_STAGE_SCORE && op->stage != BE_STAGE_ACC)
        return 0;
#endif
    return op->type == BE_OP_DENSE && op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_SIGN && op->in.cw >= 1u && op->in.cw <= BE_SHORT_MAX_WORDS;
}

/* popcount(a) as 8 nibbles (each <= 4). The masks come in registers (BE_ARM_OPAQUE): on Thumb-2
 * `m & (v >> s)` is then one instruction. */
static inline uint32_t nibbles(uint32_t a, uint32_t m1, uint32_t m2)
{
    a = a - ((a >> 1) & m1);
    return (a & m2) + ((a >> 2) & m2);
}

/* popcount(x XOR w) over nw (1..4) words; inlined with a constant nw (count_rows_N) the loops
 * unroll and the x words stay in registers across rows where they fit */
static inline __attribute__((always_inline)) uint32_t row_count(const be_word *x, const be_word *w, uint32_t nw,
                                                                 uint32_t m1, uint32_t m2, uint32_t m4)
{
    uint32_t lanes = 0u, v;
    for (; nw >= 3u; nw -= 3u, x += 3, w += 3) {
        v = nibbles(x[0] ^ w[0], m1, m2) + nibbles(x[1] ^ w[1], m1, m2) + nibbles(x[2] ^ w[2], m1, m2);
        lanes += (v & m4) + ((v >> 4) & m4);
    }
    if (nw != 0u) {
        v = nibbles(x[0] ^ w[0], m1, m2);
        if (nw == 2u)
            v += nibbles(x[1] ^ w[1], m1, m2);
        lanes += (v & m4) + ((v >> 4) & m4);
    }
    /* byte lanes <= 32 each: halfword lanes, then their sum (<= 128) */
    lanes = (lanes & 0x00FF00FFu) + ((lanes >> 8) & 0x00FF00FFu);
    return (lanes + (lanes >> 16)) & 0xFFFFu;
}

/* d[i] = popcount(x XOR w_i), w_i = w + i * rw, for i < n; one instance per row length */
typedef void (*count_fn)(const be_word *x, const be_word *w, uint32_t rw, uint32_t n, uint32_t *d);

#define BE_SHORT_COUNT(NW)                                                                                 \
    static void count_rows_##NW(const be_word *x, const be_word *w, uint32_t rw, uint32_t n, uint32_t *d) \
    {                                                                                                      \
        uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu;                                     \
        BE_ARM_OPAQUE(m1);                                                                                 \
        BE_ARM_OPAQUE(m2);                                                                                 \
        BE_ARM_OPAQUE(m4);                                                                                 \
        for (; n > 0u; n--, w += rw)                                                                       \
            *d++ = row_count(x, w, NW##u, m1, m2, m4);                                                     \
    }
BE_SHORT_COUNT(1)
BE_SHORT_COUNT(2)
BE_SHORT_COUNT(3)
BE_SHORT_COUNT(4)

static const count_fn count_rows[BE_SHORT_MAX_WORDS] = {count_rows_1, count_rows_2, count_rows_3, count_rows_4};

be_status be_dense_bin_short(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t rw = op->w_row_bytes / 4u, nout = op->out_ch;
    const int32_t k = (int32_t)op->k;
    const count_fn count = count_rows[op->in.cw - 1u]; /* 1 <= cw <= 4: supports */
    const be_word *x = (const be_word *)in, *w = (const be_word *)op->weights;
    uint32_t d[32], o0, i;
    be_status st = BE_OK;
    (void)scratch;
    if (!be_stage_is_sign(op))
        be_stage_clear(op, out);
    for (o0 = 0; o0 < nout; o0 += 32u, w += 32u * rw) {
        const uint32_t n = nout - o0 < 32u ? nout - o0 : 32u;
        count(x, w, rw, n, d);
        if (be_stage_is_sign(op)) {
            const int8_t *dir = (const int8_t *)op->stage_a + o0;
            const int32_t *t = (const int32_t *)op->stage_b + o0;
            uint32_t word = 0u;
            for (i = 0; i < n; i++) {
                const int32_t acc = k - 2 * (int32_t)d[i];
                /* direction * acc < T -> level 0 -> -1 -> bit 1 (|acc| <= K: -acc cannot overflow) */
                word |= (uint32_t)((dir[i] < 0 ? -acc : acc) < t[i]) << i;
            }
            ((be_word *)out)[o0 / 32u] = word;
        } else if (op->stage == BE_STAGE_SCORE) {
            const int32_t *mult = (const int32_t *)op->stage_a + o0, *offset = (const int32_t *)op->stage_b + o0;
            int32_t *y = (int32_t *)out + o0;
            for (i = 0; i < n; i++) {
                const int64_t s = (int64_t)mult[i] * (k - 2 * (int32_t)d[i]) + offset[i];
                const uint32_t u = (uint32_t)(uint64_t)s; /* modulo 2^32, as the reference */
                y[i] = u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
                if (s < INT32_MIN || s > INT32_MAX)
                    st = BE_ERR_OVERFLOW;
            }
        } else {
            for (i = 0; i < n; i++) {
                const be_status s = be_stage_put(op, o0 + i, k - 2 * (int32_t)d[i], out);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

#else
typedef int be_dense_bin_short_unused; /* ISO C forbids an empty translation unit */
#endif
