/* be_merge_ref.c -- Merge (reference): the sum of two real-valued branches, exactly.
 *
 * Per element of channel c, in int64 (the loader proved every term and the sum fit):
 *     v = Ma_c * (a - zp_a) + Mb_c * (b - zp_b) + B_c
 * where a, b are u8 / i8 codes or int32 accumulators (AccStage, zero point 0); then
 *     threshold stage: level = #{k : d_c * v >= T_c,k} with int64 thresholds -> bits
 *     round stage:     requant(v, s_c, zero point) -> i8 (docs/graph.md)
 * `in` is a be_inputs of the two values.
 */
#include "be_kernels.h"

static int64_t merge_term(const be_value *v, const void *data, size_t i)
{
    if (v->kind == BE_KIND_I32)
        return (int64_t)((const int32_t *)data)[i];
    return (int64_t)be_code_at(v, data, i) - v->zero_point;
}

be_status be_merge_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const int32_t *ma = (const int32_t *)op->stage_a, *mb = (const int32_t *)op->stage_b;
    uint32_t px, c, k;
    (void)scratch;
    for (px = 0; px < vo->h * vo->w; px++) {
        uint8_t *po = (uint8_t *)out + (size_t)px * vo->pixel_bytes;
        if (op->stage == BE_STAGE_THRESHOLD) {
            for (k = 0; k < (uint32_t)vo->planes * vo->cw; k++)
                ((be_word *)po)[k] = 0u;
        }
        for (c = 0; c < vo->c; c++) {
            const size_t i = (size_t)px * vo->c + c;
            /* |v| <= 2^63 - 1 (loader), so -v below cannot overflow */
            const int64_t v = (int64_t)ma[c] * merge_term(va, io->data[0], i) +
                              (int64_t)mb[c] * merge_term(vb, io->data[1], i) +
                              be_rd_i64((const int32_t *)op->stage_c + 2u * c);
            if (op->stage == BE_STAGE_THRESHOLD) {
                const int64_t x = ((const int8_t *)op->stage_d)[c] < 0 ? -v : v;
                const int32_t *t = (const int32_t *)op->stage_e + 2u * (size_t)c * op->levels;
                uint32_t level = 0, p;
                for (k = 0; k < op->levels; k++)
                    if (x >= be_rd_i64(t + 2u * k))
                        level++;
                if (op->encoding == BE_ENC_SIGN) {
                    if (level == 0u) /* -1 -> bit 1 */
                        be_set_bit((be_word *)po, c);
                } else {
                    for (p = 0; p < vo->planes; p++)
                        if ((level >> p) & 1u)
                            be_set_bit((be_word *)po + (size_t)p * vo->cw, c);
                }
            } else {
                ((int8_t *)po)[c] = be_requant(v, ((const uint8_t *)op->stage_d)[c], op->zero_point);
            }
        }
    }
    return BE_OK;
}
