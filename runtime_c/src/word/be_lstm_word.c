/* be_lstm_word.c -- LSTM, "word": the binary x int8 dot products four elements per table lookup
 * (portable C, every target; what auto picks where there is no SIMD variant).
 *
 * Once per step the kernel builds, for every group of four codes x[4g .. 4g + 3] (zeros beyond
 * n), the 16 signed sums T[16 g + m] = sum_i (bit i of m ? -x[4g + i] : x[4g + i]) (15 additions
 * per group, |T| <= 508: int16). A weight word then costs eight lookups, one per nibble:
 * sum_k (bit k ? -x_k : x_k) = sum_g T[16 g + nibble g] (padding bits are zero and look up the
 * zero codes). Tables of h (words(H) * 256 bytes) and of the input codes p (words(I) * 256
 * bytes) live on the stack: at most TABLE_WORDS words in all (2 KiB on the Cortex-M0, 4 KiB
 * elsewhere); longer rows fall through to the reference kernel. The rest of the step is
 * be_lstm.h's, exactly as the reference.
 */
#include "be_kernels.h"
#include "be_lstm.h"

#ifdef BE_NO_MUL64 /* Cortex-M0: 16 KiB RAM parts */
#define TABLE_WORDS 8u
#else
#define TABLE_WORDS 16u
#endif

int be_lstm_word_supports(const be_op *op)
{
    return op->type == BE_OP_LSTM &&
           be_words_for(op->out_ch) + (be_lstm_onehot(op) ? 0u : be_words_for(op->in_ch)) <= TABLE_WORDS;
}

static void build_table(int16_t *t, const int8_t *x, uint32_t n)
{
    const uint32_t groups = be_words_for(n) * 8u;
    uint32_t g, i, m;
    for (g = 0; g < groups; g++, t += 16) {
        int32_t e[4];
        for (i = 0; i < 4u; i++)
            e[i] = 4u * g + i < n ? (int32_t)x[4u * g + i] : 0;
        t[0] = (int16_t)(e[0] + e[1] + e[2] + e[3]);
        t[1] = (int16_t)(t[0] - 2 * e[0]);
        for (m = 0; m < 2u; m++)
            t[2u + m] = (int16_t)(t[m] - 2 * e[1]);
        for (m = 0; m < 4u; m++)
            t[4u + m] = (int16_t)(t[m] - 2 * e[2]);
        for (m = 0; m < 8u; m++)
            t[8u + m] = (int16_t)(t[m] - 2 * e[3]);
    }
}

/* sum_k (bit k of w ? -x_k : x_k) over cw words, from x's table t. */
static int32_t table_dot(const int16_t *t, const be_word *w, uint32_t cw)
{
    int32_t acc = 0;
    uint32_t j;
    for (j = 0; j < cw; j++, t += 128) {
        const be_word b = w[j];
        acc += t[b & 15u] + t[16u + ((b >> 4) & 15u)] + t[32u + ((b >> 8) & 15u)] + t[48u + ((b >> 12) & 15u)] +
               t[64u + ((b >> 16) & 15u)] + t[80u + ((b >> 20) & 15u)] + t[96u + ((b >> 24) & 15u)] +
               t[112u + (b >> 28)];
    }
    return acc;
}

be_status be_lstm_word(const be_op *op, const void *in, void *out, void *scratch)
{
    int16_t table[TABLE_WORDS * 128u], *tx;
    be_lstm_step s;
    uint32_t c, j;
    const be_status st = be_lstm_step_init(&s, op, in, out, scratch);
    if (st != BE_OK)
        return st;
    tx = table + s.cwh * 128u;
    build_table(table, s.h, s.hid);
    if (!s.onehot)
        build_table(tx, (const int8_t *)in, s.n_in);
    for (c = 0; c < s.hid; c++) {
        int32_t v[4];
        for (j = 0; j < 4u; j++) {
            const size_t r = (size_t)j * s.hid + c;
            const int32_t ax = s.onehot ? 0 : table_dot(tx, s.wx + r * s.cwx, s.cwx);
            v[j] = be_lstm_v(&s.k, j, (uint32_t)r, table_dot(table, s.wh + r * s.cwh, s.cwh), ax, s.bias);
        }
        s.hout[c] = be_lstm_cell_h(v, s.k.s, s.k.half, &s.c[c], s.k.cf);
    }
    be_lstm_copy_h(s.h, s.hout, s.hid);
    return BE_OK;
}
