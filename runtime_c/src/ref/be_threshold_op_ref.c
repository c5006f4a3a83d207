/* be_threshold_op_ref.c -- Threshold (reference): hard thresholds of a u8 / i8 value -> bits.
 *
 * Per element of channel c: level = #{k : d_c * code >= T_c,k} (the ThresholdStage of
 * be_threshold_ref.c applied to the code, which plays the accumulator); sign encoding: level 1
 * -> +1 (bit 0), level 0 -> -1 (bit 1); unsigned: the level in bit-planes.
 */
#include "be_kernels.h"

be_status be_threshold_op_ref(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    uint32_t px, c;
    (void)scratch;
    for (px = 0; px < vo->h * vo->w; px++) {
        void *po = (uint8_t *)out + (size_t)px * vo->pixel_bytes;
        be_stage_clear(op, po);
        for (c = 0; c < vo->c; c++)
            (void)be_stage_put(op, c, be_code_at(vi, in, (size_t)px * vi->c + c), po);
    }
    return BE_OK;
}
