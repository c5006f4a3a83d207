/* be_concat_ref.c -- Concat along channels (reference).
 *
 * Output pixel p holds the channels of input 0's pixel p, then input 1's, ... All inputs share
 * the kind, the encoding / planes (bits) or the zero point (codes), and the spatial size. u8 / i8
 * codes are copied byte by byte; bits are moved bit by bit into every plane (a channel count
 * that is not a multiple of 32 shifts the following inputs inside the words). `in` is a
 * be_inputs of the values.
 */
#include "be_kernels.h"
#include "be_bitformat.h"

be_status be_concat_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *vo = &op->out;
    uint32_t px, j, c, p, base;
    (void)scratch;
    for (px = 0; px < vo->h * vo->w; px++) {
        uint8_t *po = (uint8_t *)out + (size_t)px * vo->pixel_bytes;
        if (vo->kind == BE_KIND_BITS)
            for (j = 0; j < (uint32_t)vo->planes * vo->cw; j++)
                ((be_word *)po)[j] = 0u;
        for (j = 0, base = 0; j < io->n; j++) {
            const be_value *vi = io->value[j];
            const uint8_t *pi = (const uint8_t *)io->data[j] + (size_t)px * vi->pixel_bytes;
            for (c = 0; c < vi->c; c++) {
                if (vo->kind != BE_KIND_BITS) {
                    po[base + c] = pi[c];
                    continue;
                }
                for (p = 0; p < vo->planes; p++) /* bits values live in the arena: word aligned */
                    if (be_get_bit((const be_word *)pi + (size_t)p * vi->cw, c))
                        be_set_bit((be_word *)po + (size_t)p * vo->cw, base + c);
            }
            base += vi->c;
        }
    }
    return BE_OK;
}
