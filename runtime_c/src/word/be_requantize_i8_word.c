/* be_requantize_i8_word.c -- "word": Requantize a u8 / i8 value (portable C, every target).
 *
 * y = requant(M (x - zp_x), s, zp) (docs/graph.md) depends on one 8-bit code only, so a value of
 * BE_EW_LUT_MIN codes or more is mapped through a 256-entry table built once per call: each
 * entry X = c + M x is the previous one plus M (an int64 add: no multiply, so this is also the
 * fast path of the Cortex-M0), then one table load per code. Smaller values compute each code
 * with the fast form of be_ew.h (as Add with one term). Codes are read by bytes (the input may
 * be the graph input, at any address). Exact for every shift 0..62 (be_ew_clamp64 where the fast
 * form does not apply).
 */
#include "be_ew.h"

#if defined(BE_NO_MUL64)
#define BE_EW_LUT_MIN 48u /* the direct path would call __aeabi_lmul per code */
#else
#define BE_EW_LUT_MIN 320u /* ~256 entries to build, then 3-4 instructions instead of ~10 per code */
#endif

/* Table entries t[u] for the raw bytes u of codes x = xlo .. xlo + cnt - 1 starting at byte u0. */
static void fill_table(int8_t *t, uint32_t u0, uint32_t cnt, int64_t x0, int32_t m, uint32_t s, int32_t zp,
                       const be_ew_fast *f, int fast)
{
    uint32_t i;
    if (fast) { /* X' = (c + zp 2^s + M x) 2^k, one step = M 2^k */
        const int64_t step = (int64_t)m * ((int64_t)1 << f->k);
        int64_t x = f->c + x0 * step;
        for (i = 0; i < cnt; i++, x += step)
            t[u0 + i] = be_ew_fast_code(x, f->sh);
    } else {
        int64_t x = x0;
        for (i = 0; i < cnt; i++, x += m)
            t[u0 + i] = be_ew_clamp64(x, s, zp);
    }
}

be_status be_requantize_i8_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in;
    const uint8_t *x = (const uint8_t *)in;
    int8_t *y = (int8_t *)out;
    const int32_t m = op->mult_a, zp = op->zero_point;
    const uint32_t s = (uint32_t)op->shift, n = op->out.nbytes;
    const int64_t c = be_ew_half(s) - (int64_t)m * vi->zero_point;
    const uint64_t bound = be_ew_abs64(m) * be_ew_centered_max(vi) + (uint64_t)be_ew_half(s);
    be_ew_fast f;
    const int fast = be_ew_fast_plan(&f, c, bound, 255u, s, zp);
    uint32_t i;
    (void)scratch;
    if (n >= BE_EW_LUT_MIN) {
        int8_t t[256];
        if (vi->kind == BE_KIND_I8) { /* bytes 0..127 are the codes 0..127, bytes 128..255 -128..-1 */
            fill_table(t, 0u, 128u, fast ? 0 : c, m, s, zp, &f, fast);
            fill_table(t, 128u, 128u, fast ? -128 : c - (int64_t)m * 128, m, s, zp, &f, fast);
        } else {
            fill_table(t, 0u, 256u, fast ? 0 : c, m, s, zp, &f, fast);
        }
        for (i = 0; i + 4u <= n; i += 4u) { /* four independent loads per step */
            const uint32_t a = x[i], b = x[i + 1u], d = x[i + 2u], e = x[i + 3u];
            y[i] = t[a];
            y[i + 1u] = t[b];
            y[i + 2u] = t[d];
            y[i + 3u] = t[e];
        }
        for (; i < n; i++)
            y[i] = t[x[i]];
        return BE_OK;
    }
    for (i = 0; i < n; i++) {
        const int32_t v = be_code_at(vi, x, i);
        y[i] = fast ? be_ew_fast_code(f.c + (int64_t)m * be_ew_i32((uint32_t)v << f.k), f.sh)
                    : be_ew_clamp64(c + (int64_t)m * v, s, zp);
    }
    return BE_OK;
}
