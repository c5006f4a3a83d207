/* be_concat_word.c -- "word": Concat along channels of codes or bits (portable C, every target).
 *
 * Codes: per pixel, each input's run of channels is copied; by words when the run and every
 * address involved are 4-byte aligned (the first input may be the graph input, at any address:
 * an unaligned word load faults on Cortex-M), else by bytes. No C library calls (memcpy is a byte
 * loop on the Cortex-M builds).
 * Bits: per pixel and plane, each input's words are shifted into the output row at its channel
 * offset (two ORs per word; the reference moves bit by bit). Inputs' padding bits are zero (every
 * bits value is), so they add nothing; a word that would hold only padding past the output row's
 * last word is not written.
 */
#include "be_ew.h"

static void concat_codes(const be_op *op, const be_inputs *io, uint8_t *out)
{
    const be_value *vo = &op->out;
    const uint32_t npx = vo->h * vo->w;
    uint32_t j, px, base = 0u, i;
    for (j = 0; j < io->n; j++) {
        const uint32_t c = io->value[j]->c;
        const uint8_t *src = (const uint8_t *)io->data[j];
        uint8_t *dst = out + base;
        if (c % 4u == 0u && vo->c % 4u == 0u && base % 4u == 0u && ((uintptr_t)src | (uintptr_t)out) % 4u == 0u) {
            for (px = 0; px < npx; px++, src += c, dst += vo->c)
                be_copy_words((be_word *)dst, (const be_word *)src, c / 4u);
        } else {
            for (px = 0; px < npx; px++, dst += vo->c)
                for (i = 0; i < c; i++)
                    dst[i] = *src++;
        }
        base += c;
    }
}

static void concat_bits(const be_op *op, const be_inputs *io, be_word *out)
{
    const be_value *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, planes = vo->planes, cwo = vo->cw;
    uint32_t px, p, j, t;
    be_zero_words(out, npx * planes * cwo);
    for (px = 0; px < npx; px++) {
        for (p = 0; p < planes; p++) {
            be_word *row = out + ((size_t)px * planes + p) * cwo;
            uint32_t base = 0u;
            for (j = 0; j < io->n; j++) {
                const be_value *vi = io->value[j];
                const be_word *src = (const be_word *)io->data[j] + ((size_t)px * planes + p) * vi->cw;
                const uint32_t w0 = base / 32u, sh = base % 32u;
                if (sh == 0u) {
                    for (t = 0; t < vi->cw; t++)
                        row[w0 + t] |= src[t];
                } else {
                    for (t = 0; t < vi->cw; t++) {
                        row[w0 + t] |= src[t] << sh;
                        if (w0 + t + 1u < cwo)
                            row[w0 + t + 1u] |= src[t] >> (32u - sh);
                    }
                }
                base += vi->c;
            }
        }
    }
}

be_status be_concat_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    (void)scratch;
    if (op->out.kind == BE_KIND_BITS)
        concat_bits(op, io, (be_word *)out);
    else
        concat_codes(op, io, (uint8_t *)out);
    return BE_OK;
}
