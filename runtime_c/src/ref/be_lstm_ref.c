/* be_lstm_ref.c -- LSTM, the reference kernel: one time step, plainly (be_lstm.h has the step,
 * binedge/lstm_integer.py `step` the spec). Every row's binary x int8 dot product an element at a
 * time; the C spec the optimized variants are tested against. */
#include "be_kernels.h"
#include "be_lstm.h"

/* sum_k (bit k of w ? -x[k] : x[k]) over n int8 codes (|x| <= 127: the loader proved n * 127 and
 * its multiple by the gate's multiplier within int32). */
static int32_t dot_pm(const be_word *w, const int8_t *x, uint32_t n)
{
    int32_t acc = 0;
    uint32_t k;
    for (k = 0; k < n; k++)
        acc += (w[k / 32u] >> (k % 32u)) & 1u ? -(int32_t)x[k] : (int32_t)x[k];
    return acc;
}

be_status be_lstm_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t hid = op->out_ch, n_in = op->in_ch, cwh = be_words_for(hid), cwx = be_words_for(n_in);
    const int32_t *mul = (const int32_t *)op->stage_b; /* Mh_j at j, Mx_j at 4 + j */
    const int32_t *bias = (const int32_t *)op->stage_c;
    const uint8_t *sh = (const uint8_t *)op->stage_d;
    const be_word *wh = (const be_word *)op->weights, *wx = (const be_word *)op->stage_a;
    int32_t *cst = (int32_t *)scratch;
    int8_t *hst = (int8_t *)scratch + be_lstm_h_offset(hid), *hout = (int8_t *)out;
    const int onehot = be_lstm_onehot(op);
    const uint32_t x = onehot ? *(const uint8_t *)in : 0u;
    uint32_t c, j;
    if (onehot && x >= n_in)
        return BE_ERR_INPUT; /* a character id beyond the vocabulary: nothing written */
    for (c = 0; c < hid; c++) {
        int32_t v[4];
        for (j = 0; j < 4u; j++) {
            const uint32_t r = j * hid + c;
            const int32_t acc = dot_pm(wh + (size_t)r * cwh, hst, hid);
            const int32_t xp = onehot ? be_lstm_onehot_x(op, x, r, mul[4u + j])
                                      : mul[4u + j] * dot_pm(wx + (size_t)r * cwx, (const int8_t *)in, n_in);
            v[j] = mul[j] * acc + xp + bias[r];
        }
        hout[c] = be_lstm_cell(v, sh, &cst[c], (uint32_t)op->shift);
    }
    be_lstm_copy_h(hst, hout, hid);
    return BE_OK;
}
