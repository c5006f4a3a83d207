/* be_add_i8_word.c -- "word": Add of two u8 / i8 values (portable C, every target).
 *
 * y = requant(M_a (a - zp_a) + M_b (b - zp_b), s, zp) (docs/graph.md), computed as
 * X = c + M_a a + M_b b with c = 2^(s-1) - M_a zp_a - M_b zp_b folded once per call (be_ew.h says
 * why that is exact in int64). The reference does per element what this does once: the kind test
 * of every code, the zero-point subtractions, the rounding term and a 64-bit clamp. The fast form
 * of be_ew.h (the output zero point folded into c, codes scaled by 2^(32-s) so that the code is the
 * high word of the SMLAL result, saturated by SSAT) applies to every Add the lowering makes; on
 * ARMv7-M the loop is 2 LDRSB, 2 LSL, 2 MOV + 2 SMLAL, SSAT, STRB and the loop test. Other kinds
 * (u8 inputs: only the graph input is u8) and shifts take a loop that reads codes by kind and
 * clamps in 64 bits (exact for every shift 0..62).
 */
#include "be_ew.h"

/* hi: s > 32 (shift the high word; the codes are not scaled), else s <= 32 (scaled codes) */
BE_EW_INLINE void add_i8(const int8_t *a, const int8_t *b, int8_t *y, uint32_t n, const be_ew_fast *f, int32_t ma,
                         int32_t mb, int hi)
{
    const int64_t c = f->c;
    const uint32_t k = hi ? 0u : f->k, sh = hi ? f->sh : 0u;
    uint32_t i;
    for (i = 0; i < n; i++) {
        /* x 2^k written on the unsigned value (a left shift of a negative int is undefined in C) */
        const int32_t xa = be_ew_i32((uint32_t)(int32_t)a[i] << k), xb = be_ew_i32((uint32_t)(int32_t)b[i] << k);
        y[i] = be_ew_fast_code(c + (int64_t)ma * xa + (int64_t)mb * xb, sh);
    }
}

/* Any kinds, any shift: the reference's arithmetic with c folded (X = c + M_a a + M_b b). */
void be_add_any_word(const be_op *op, const be_inputs *io, int8_t *y, int64_t c)
{
    const be_value *va = io->value[0], *vb = io->value[1];
    uint32_t i;
    for (i = 0; i < op->out.nbytes; i++) {
        const int64_t x = c + (int64_t)op->mult_a * be_code_at(va, io->data[0], i) +
                          (int64_t)op->mult_b * be_code_at(vb, io->data[1], i);
        y[i] = be_ew_clamp64(x, (uint32_t)op->shift, op->zero_point);
    }
}

be_status be_add_i8_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_inputs *io = (const be_inputs *)in;
    const be_value *va = io->value[0], *vb = io->value[1];
    const int32_t ma = op->mult_a, mb = op->mult_b;
    const uint32_t s = (uint32_t)op->shift;
    const int64_t c = be_ew_half(s) - (int64_t)ma * va->zero_point - (int64_t)mb * vb->zero_point;
    /* |X| <= |M_a| max|a - zp_a| + |M_b| max|b - zp_b| + 2^(s-1): the loader's bound */
    const uint64_t bound = be_ew_abs64(ma) * be_ew_centered_max(va) + be_ew_abs64(mb) * be_ew_centered_max(vb) +
                           (uint64_t)be_ew_half(s);
    be_ew_fast f;
    (void)scratch;
    if (va->kind == BE_KIND_I8 && vb->kind == BE_KIND_I8 && be_ew_fast_plan(&f, c, bound, 128u, s, op->zero_point)) {
        if (f.sh != 0u)
            add_i8((const int8_t *)io->data[0], (const int8_t *)io->data[1], (int8_t *)out, op->out.nbytes, &f, ma, mb, 1);
        else
            add_i8((const int8_t *)io->data[0], (const int8_t *)io->data[1], (int8_t *)out, op->out.nbytes, &f, ma, mb, 0);
        return BE_OK;
    }
    be_add_any_word(op, io, (int8_t *)out, c);
    return BE_OK;
}
