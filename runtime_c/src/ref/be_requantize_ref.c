/* be_requantize_ref.c -- Requantize (reference): a u8 / i8 value at another scale / zero point.
 *
 * For every element: y = requant(M * (x - zp_in), shift, zp_out) (docs/graph.md).
 */
#include "be_kernels.h"

be_status be_requantize_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    int8_t *y = (int8_t *)out;
    uint32_t i;
    (void)scratch;
    for (i = 0; i < op->out.nbytes; i++)
        y[i] = be_requant((int64_t)op->mult_a * (be_code_at(vi, in, i) - vi->zero_point), (uint32_t)op->shift,
                          op->zero_point);
    return BE_OK;
}
