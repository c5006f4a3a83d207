/* be_add_ref.c -- Add of two u8 / i8 values (reference): a residual connection.
 *
 * For every element: y = requant(M_a * (a - zp_a) + M_b * (b - zp_b), shift, zp_out)
 * (docs/graph.md); the two inputs may have other scales and zero points (the multipliers carry
 * the ratios). `in` is a be_inputs of the two values.
 */
#include "be_kernels.h"

be_status be_add_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *va = io->value[0], *vb = io->value[1];
    int8_t *y = (int8_t *)out;
    uint32_t i;
    (void)scratch;
    for (i = 0; i < op->out.nbytes; i++) {
        const int64_t v = (int64_t)op->mult_a * (be_code_at(va, io->data[0], i) - va->zero_point) +
                          (int64_t)op->mult_b * (be_code_at(vb, io->data[1], i) - vb->zero_point);
        y[i] = be_requant(v, (uint32_t)op->shift, op->zero_point);
    }
    return BE_OK;
}
