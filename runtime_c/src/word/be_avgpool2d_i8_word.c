/* be_avgpool2d_i8_word.c -- "word": AvgPool2d on u8 / i8 codes, global average pooling included
 * (portable C, every target).
 *
 * y = requant(M sum_window (x - zp_x), s, zp) (docs/graph.md) as X = c + M S with S the window
 * sum of the raw codes in int32 and c = 2^(s-1) - M n zp_x (n = KH KW) folded once per call (be_ew.h:
 * exact in int64), then the fast form of be_ew.h: one SMLAL, a shift, SSAT per output. The
 * reference recomputes the kind test, the zero point and the rounding term per element and sums
 * in int64. Windows of 2 x 2 (the down-sampling of residual networks) have their own loop; other
 * windows sum row by row. supports(): windows of at most 2^23 positions, so that a sum of codes
 * (|x| <= 255) fits int32 (the loader allows windows up to the whole input).
 */
#include "be_ew.h"

int be_avgpool2d_i8_word_supports(const be_op *op)
{
    return (uint64_t)op->kh * op->kw <= (1u << 23);
}

#define window_sum be_ew_window_sum

BE_EW_INLINE void pool(const be_op *op, const uint8_t *in, int8_t *y, int32_t m, const be_ew_fast *f, int64_t c,
                       int fast, int is_i8, int k22)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * vi->c;
    const uint32_t s = (uint32_t)op->shift;
    uint32_t oy, ox, ch;
    for (oy = 0; oy < vo->h; oy++) {
        for (ox = 0; ox < vo->w; ox++) {
            const uint8_t *p = in + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;
            for (ch = 0; ch < vo->c; ch++, y++) {
                const int32_t sum = window_sum(p + ch, op->kh, op->kw, rp, cs, is_i8, k22);
                *y = fast ? be_ew_fast_code(f->c + (int64_t)m * be_ew_i32((uint32_t)sum << f->k), f->sh)
                          : be_ew_clamp64(c + (int64_t)m * sum, s, op->zero_point);
            }
        }
    }
}

be_status be_avgpool2d_i8_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const uint32_t n = op->kh * op->kw, s = (uint32_t)op->shift; /* n <= 2^23 (supports) */
    const int32_t m = op->mult_a;
    const int64_t c = be_ew_half(s) - (int64_t)m * ((int64_t)n * vi->zero_point);
    const uint64_t bound = be_ew_abs64(m) * ((uint64_t)n * be_ew_centered_max(vi)) + (uint64_t)be_ew_half(s);
    be_ew_fast f;
    const int fast = be_ew_fast_plan(&f, c, bound, (uint64_t)n * 255u, s, op->zero_point);
    const int i8 = vi->kind == BE_KIND_I8, k22 = op->kh == 2u && op->kw == 2u;
    (void)scratch;
    if (fast && i8 && k22)
        pool(op, (const uint8_t *)in, (int8_t *)out, m, &f, c, 1, 1, 1);
    else if (fast && i8)
        pool(op, (const uint8_t *)in, (int8_t *)out, m, &f, c, 1, 1, 0);
    else if (fast && k22)
        pool(op, (const uint8_t *)in, (int8_t *)out, m, &f, c, 1, 0, 1);
    else if (fast)
        pool(op, (const uint8_t *)in, (int8_t *)out, m, &f, c, 1, 0, 0);
    else
        pool(op, (const uint8_t *)in, (int8_t *)out, m, &f, c, 0, i8, 0);
    return BE_OK;
}
