/* be_threshold_ref.c -- the shared output stage of Dense / Conv2d (reference).
 *
 * ThresholdStage, channel c, direction d_c in {+1, -1}, thresholds T_c,1 <= ... <= T_c,L:
 *     level = #{k : d_c * acc >= T_c,k}
 *     sign encoding (L = 1): level 1 -> +1 (bit 0), level 0 -> -1 (bit 1)
 *     unsigned encoding: the level in bit-planes (plane p holds bit p of the level)
 * ScoreStage: score_c = multiplier_c * acc + offset_c, exact in 64 bits; it must fit int32.
 * RequantStage: code_c = requant(M_c * acc + B_c, s_c, zero point) (docs/graph.md), int8.
 * AccStage: acc itself, int32 (for a Merge to combine with another branch).
 */
#include "be_kernels.h"
#include "be_bitformat.h"

void be_stage_clear(const be_op *op, void *out_pixel)
{
    uint32_t i, n;
    be_word *w = (be_word *)out_pixel;
    if (op->stage != BE_STAGE_THRESHOLD)
        return;
    n = (uint32_t)op->out.planes * op->out.cw;
    for (i = 0; i < n; i++)
        w[i] = 0u;
}

uint32_t be_threshold_level(const be_op *op, uint32_t c, int32_t acc)
{
    const int8_t *direction = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b + (size_t)c * op->levels;
    /* the loader guarantees |acc| <= INT32_MAX, so -acc cannot overflow */
    int32_t x = direction[c] < 0 ? -acc : acc;
    uint32_t k, level = 0;
    for (k = 0; k < op->levels; k++)
        if (x >= t[k])
            level++;
    return level;
}

static int32_t wrap_int32(int64_t v)
{
    uint32_t u = (uint32_t)(uint64_t)v; /* modulo 2^32, well defined */
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

be_status be_stage_put(const be_op *op, uint32_t c, int32_t acc, void *out_pixel)
{
    if (op->stage == BE_STAGE_THRESHOLD) { /* first: the stage of every hidden binary layer */
        be_word *words = (be_word *)out_pixel;
        uint32_t level = be_threshold_level(op, c, acc), p;
        if (op->encoding == BE_ENC_SIGN) {
            if (level == 0u) /* -1 -> bit 1 */
                be_set_bit(words, c);
        } else {
            for (p = 0; p < op->out.planes; p++)
                if ((level >> p) & 1u)
                    be_set_bit(words + (size_t)p * op->out.cw, c);
        }
        return BE_OK;
    }
    if (op->stage == BE_STAGE_SCORE) {
        const int32_t *mult = (const int32_t *)op->stage_a;
        const int32_t *offset = (const int32_t *)op->stage_b;
        int64_t s = (int64_t)mult[c] * (int64_t)acc + (int64_t)offset[c];
        ((int32_t *)out_pixel)[c] = wrap_int32(s);
        return (s < INT32_MIN || s > INT32_MAX) ? BE_ERR_OVERFLOW : BE_OK;
    }
    if (op->stage == BE_STAGE_ACC) {
        ((int32_t *)out_pixel)[c] = acc;
        return BE_OK;
    }
    { /* BE_STAGE_REQUANT */
        const int32_t *mult = (const int32_t *)op->stage_a;
        const uint8_t *shift = (const uint8_t *)op->stage_c;
        const int64_t v = (int64_t)mult[c] * (int64_t)acc + be_rd_i64((const int32_t *)op->stage_b + 2u * c);
        ((int8_t *)out_pixel)[c] = be_requant(v, shift[c], op->zero_point);
        return BE_OK;
    }
}
