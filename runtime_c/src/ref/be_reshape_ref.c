/* be_reshape_ref.c -- Reshape (reference).
 *
 * A u8 / i8 value keeps its codes in HWC order: a new shape with the same element count is the
 * same bytes. Copied byte by byte (the input may be the caller's, at any address).
 */
#include "be_kernels.h"

be_status be_reshape_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    uint32_t i;
    (void)scratch;
    for (i = 0; i < op->in.nbytes; i++)
        dst[i] = src[i];
    return BE_OK;
}
