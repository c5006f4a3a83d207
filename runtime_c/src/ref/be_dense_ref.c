/* be_dense_ref.c -- Dense (reference) and the exact per-pixel dot product it shares with Conv2d.
 *
 * acc_o = sum_k x_k * w_o,k over the K inputs, where x_k is the code (u8 / i8), the +-1 value
 * (sign bits) or the level (unsigned bits) and w is +-1 (binary, bit 1 = -1) or int8:
 *     codes x binary / int8:  plain sum of products (a padding pixel: every code = zero point)
 *     sign bits x binary:     K - 2 * popcount(a XOR w)
 *     unsigned x binary:      sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w))
 *     bits x int8:            sum of (+-1 or level) * w, element by element
 * The loader guarantees every partial sum fits int32.
 */
#include "be_kernels.h"
#include "be_bitformat.h"
#include "be_popcount.h"

/* Element k of a bits pixel: +-1 (sign; NULL = padding = +1) or the level (NULL = 0). */
static int32_t bits_element(const be_value *in, const be_word *x, uint32_t k)
{
    uint32_t p;
    int32_t level = 0;
    if (in->encoding == BE_ENC_SIGN)
        return x != NULL ? be_bit_to_sign(be_get_bit(x, k)) : 1;
    if (x == NULL)
        return 0;
    for (p = 0; p < in->planes; p++)
        level += (int32_t)be_get_bit(x + (size_t)p * in->cw, k) << p;
    return level;
}

static int32_t weight_at(const void *w, int weight_kind, uint32_t k)
{
    return weight_kind == BE_WK_BINARY ? be_bit_to_sign(be_get_bit((const be_word *)w, k))
                                       : (int32_t)((const int8_t *)w)[k];
}

int32_t be_ref_dot(const be_value *in, const void *x, const void *w, int weight_kind, uint32_t n)
{
    uint32_t k, j, p;
    int32_t acc = 0;
    if (in->kind == BE_KIND_U8 || in->kind == BE_KIND_I8) {
        for (k = 0; k < n; k++) /* a padding pixel holds the zero point, the code of real 0 */
            acc += (x != NULL ? be_code_at(in, x, k) : in->zero_point) * weight_at(w, weight_kind, k);
        return acc;
    }
    if (weight_kind == BE_WK_INT8) {
        for (k = 0; k < n; k++)
            acc += bits_element(in, (const be_word *)x, k) * weight_at(w, weight_kind, k);
        return acc;
    }
    if (in->encoding == BE_ENC_SIGN) {
        const be_word *a = (const be_word *)x, *ww = (const be_word *)w;
        uint32_t diff = 0, cw = be_words_for(n);
        for (j = 0; j < cw; j++) /* padding pixel: all +1 = all bits 0 */
            diff += be_popcount32((a != NULL ? a[j] : 0u) ^ ww[j]);
        return (int32_t)n - 2 * (int32_t)diff;
    }
    /* unsigned bit-planes; a padding pixel is level 0 */
    if (x == NULL)
        return 0;
    for (p = 0; p < in->planes; p++) {
        const be_word *b = (const be_word *)x + (size_t)p * in->cw, *ww = (const be_word *)w;
        uint32_t cw = be_words_for(n), ones = 0, both = 0;
        for (j = 0; j < cw; j++) {
            ones += be_popcount32(b[j]);
            both += be_popcount32(b[j] & ww[j]);
        }
        acc += (int32_t)((uint32_t)1u << p) * ((int32_t)ones - 2 * (int32_t)both);
    }
    return acc;
}

be_status be_dense_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    uint32_t o;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o = 0; o < op->out_ch; o++) {
        const void *w = (const uint8_t *)op->weights + (size_t)o * op->w_row_bytes;
        int32_t acc = be_ref_dot(&op->in, in, w, op->weight_kind, op->in_ch);
        be_status s = be_stage_put(op, o, acc, out);
        if (s != BE_OK)
            st = s;
    }
    return st;
}
