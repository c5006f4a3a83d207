/* be_dense_ref.c -- Dense (reference) and the exact per-pixel dot product it shares with Conv2d.
 *
 * acc_o = sum_k x_k * w_o,k over the K inputs, where x_k is the pixel (u8), the +-1 value (sign
 * bits) or the level (unsigned bits) and w is +-1 (binary, bit 1 = -1) or int8:
 *     u8 x binary/int8:   plain sum of products
 *     sign bits:          K - 2 * popcount(a XOR w)
 *     unsigned bits:      sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w))
 * The loader guarantees every partial sum fits int32.
 */
#include "be_kernels.h"
#include "be_bitformat.h"
#include "be_popcount.h"

int32_t be_ref_dot(const be_value *in, const void *x, const void *w, int weight_kind, uint32_t n)
{
    uint32_t k, j, p;
    int32_t acc = 0;
    if (in->kind == BE_KIND_U8) {
        const uint8_t *px = (const uint8_t *)x;
        if (px == NULL) /* padding pixel 0 */
            return 0;
        for (k = 0; k < n; k++) {
            int32_t wv = weight_kind == BE_WK_BINARY ? be_bit_to_sign(be_get_bit((const be_word *)w, k))
                                                     : (int32_t)((const int8_t *)w)[k];
            acc += (int32_t)px[k] * wv;
        }
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
