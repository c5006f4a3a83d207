/* be_add_i8_w32.c -- "w32": Add of two u8 / i8 values in 32-bit arithmetic only (portable C, every
 * target; what auto picks on the Cortex-M0, which has no 32 x 32 -> 64 multiply: a 64-bit product
 * there is a call to libgcc's __aeabi_lmul).
 *
 * The split-16 form of be_ew.h: M = Mh 2^16 + Ml, X = c + M_a a + M_b b = 2^16 (H + ch) + L with
 * H = Mh_a a + Mh_b b, L = cl + Ml_a a + Ml_b b, and X >> s = (H + ch + (L >> 16)) >> (s - 16):
 * four 32-bit multiplies per element, exact when s >= 16 and |c| < 2^45 (be_ew_split_ok: codes are
 * at most 255, so H and L cannot overflow). Decided per call from the op's proved fields; other
 * ops (a shift below 16: multipliers of 2^16 or more times the scale ratio) take the 64-bit loop
 * of "word".
 */
#include "be_ew.h"

void be_add_any_word(const be_op *op, const be_inputs *io, int8_t *y, int64_t c); /* be_add_i8_word.c */

BE_EW_INLINE int32_t code_of(const void *p, uint32_t i, int is_i8)
{
    return is_i8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

BE_EW_INLINE void add_split(const void *a, const void *b, int8_t *y, uint32_t n, const int32_t k[6], uint32_t sh,
                            int32_t zp, int a8, int b8)
{
    const int32_t mha = k[0], mla = k[1], mhb = k[2], mlb = k[3], ch = k[4], cl = k[5];
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t xa = code_of(a, i, a8), xb = code_of(b, i, b8);
        const int32_t l = cl + mla * xa + mlb * xb;
        const int32_t h = ch + mha * xa + mhb * xb + be_ew_asr32(l, 16u);
        y[i] = be_ew_sat8(be_ew_asr32(h, sh), zp);
    }
}

be_status be_add_i8_w32(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *va = io->value[0], *vb = io->value[1];
    const int32_t ma = op->mult_a, mb = op->mult_b;
    const uint32_t s = (uint32_t)op->shift, n = op->out.nbytes;
    const int64_t c = be_ew_half(s) - (int64_t)ma * va->zero_point - (int64_t)mb * vb->zero_point; /* once a call */
    (void)scratch;
    if (s >= 16u && be_ew_split_ok((uint64_t)be_ew_raw_max(va) + be_ew_raw_max(vb), be_ew_abs64(c))) {
        int32_t k[6];
        const uint32_t sh = s - 16u > 31u ? 31u : s - 16u;
        k[0] = be_ew_mh(ma);
        k[1] = be_ew_ml(ma);
        k[2] = be_ew_mh(mb);
        k[3] = be_ew_ml(mb);
        k[4] = (int32_t)be_ew_asr64(c, 16u); /* |c| < 2^46: fits */
        k[5] = be_ew_ml(c);
        if (va->kind == BE_KIND_I8 && vb->kind == BE_KIND_I8)
            add_split(io->data[0], io->data[1], (int8_t *)out, n, k, sh, op->zero_point, 1, 1);
        else if (va->kind == BE_KIND_U8 && vb->kind == BE_KIND_U8)
            add_split(io->data[0], io->data[1], (int8_t *)out, n, k, sh, op->zero_point, 0, 0);
        else if (va->kind == BE_KIND_I8)
            add_split(io->data[0], io->data[1], (int8_t *)out, n, k, sh, op->zero_point, 1, 0);
        else
            add_split(io->data[0], io->data[1], (int8_t *)out, n, k, sh, op->zero_point, 0, 1);
        return BE_OK;
    }
    be_add_any_word(op, io, (int8_t *)out, c);
    return BE_OK;
}
