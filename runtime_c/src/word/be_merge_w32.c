/* be_merge_w32.c -- "w32": Merge in 32-bit arithmetic only (portable C, every target; what auto
 * picks on the Cortex-M0, which has no 32 x 32 -> 64 multiply).
 *
 * The split-16 form of be_ew.h, per channel, with the parameters folded into a stack table per
 * 32 channels (M = Mh 2^16 + Ml):
 *   round:  X = c' + Ma a + Mb b, c' = B - Ma zp_a - Mb zp_b + 2^(s-1) + zp 2^s (the output zero
 *           point folded too), code = clamp((H + ch + (L >> 16)) >> min(s - 16, 31)) with
 *           H = Mh_a a + Mh_b b, L = cl + Ml_a a + Ml_b b: four MULs per element;
 *   sign:   with the direction folded into the multipliers (v' = d v0, v0 = Ma a + Mb b) and the
 *           bias into the threshold (T' = T - d B', saturated, then clamped to +-(R + 1) where
 *           R = |Ma| max|a| + |Mb| max|b| bounds |v0|: no comparison changes),
 *           bit = (v' < T') = the sign of (H - th) + ((L - tl) >> 16).
 * It applies to a channel when the inputs' raw maxima add up to at most 2^14 (codes, accumulators
 * of a binary layer with K <= 16,000 or so), s >= 16 and |c'| < 2^45 (be_ew_split_ok); chunks
 * with another channel, and unsigned thresholds, take the 64-bit code of "word"
 * (be_merge_word_chunk).
 */
#include "be_ew.h"

#define CHUNK 32u

BE_EW_INLINE void round_rows(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, uint32_t c0,
                             uint32_t n, const be_merge_split *t, int ka, int kb, const be_value *va, const be_value *vb)
{
    uint32_t px, i;
    for (px = 0; px < npx; px++) {
        const size_t base = (size_t)px * cs + c0;
        for (i = 0; i < n; i++) {
            const int32_t a = be_ew_ld(pa, base + i, ka, va), b = be_ew_ld(pb, base + i, kb, vb);
            const int32_t l = t[i].cl + t[i].mla * a + t[i].mlb * b;
            const int32_t r = be_ew_asr32(t[i].ch + t[i].mha * a + t[i].mhb * b + be_ew_asr32(l, 16u), t[i].sh);
            y[base + i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
        }
    }
}

BE_EW_INLINE void sign_rows(const void *pa, const void *pb, be_word *out, uint32_t npx, uint32_t cs, uint32_t cw,
                            uint32_t c0, uint32_t n, const be_merge_split *t, int ka, int kb, const be_value *va,
                            const be_value *vb)
{
    uint32_t px, i;
    for (px = 0; px < npx; px++) {
        const size_t base = (size_t)px * cs + c0;
        be_word bits = 0u;
        for (i = n; i-- > 0u;) {
            const int32_t a = be_ew_ld(pa, base + i, ka, va), b = be_ew_ld(pb, base + i, kb, vb);
            const int32_t l = t[i].mla * a + t[i].mlb * b - t[i].cl;
            const int32_t h = t[i].mha * a + t[i].mhb * b - t[i].ch + be_ew_asr32(l, 16u);
            bits = (bits << 1) | ((uint32_t)h >> 31);
        }
        out[(size_t)px * cw + c0 / 32u] = bits;
    }
}

/* a + b saturated to the int64 range */
static int64_t add_sat64(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < -INT64_MAX - 1 - b)
        return -INT64_MAX - 1;
    return a + b;
}

/* The table of channels [c0, c0 + n); 0 if a channel does not take the split form (be_ew.h). */
int be_merge_split_table(const be_op *op, const be_value *va, const be_value *vb, uint32_t c0, uint32_t n,
                         be_merge_split *t)
{
    const int32_t *ma = (const int32_t *)op->stage_a, *mb = (const int32_t *)op->stage_b;
    const uint64_t xa = be_ew_raw_max(va), xb = be_ew_raw_max(vb);
    uint32_t i;
    if (xa + xb > 16384u)
        return 0;
    for (i = 0; i < n; i++) {
        const uint32_t c = c0 + i;
        const int64_t b = be_rd_i64((const int32_t *)op->stage_c + 2u * c) - (int64_t)ma[c] * va->zero_point -
                          (int64_t)mb[c] * vb->zero_point; /* B': exact (be_ew.h) */
        if (op->stage == BE_STAGE_ROUND) {
            const uint32_t s = ((const uint8_t *)op->stage_d)[c];
            int64_t cc;
            if (s < 16u || s > 45u || be_ew_abs64(b) >= ((uint64_t)1u << 46))
                return 0;
            cc = b + be_ew_half(s) + (int64_t)op->zero_point * ((int64_t)1 << s); /* |cc| < 2^47 */
            if (!be_ew_split_ok(xa + xb, be_ew_abs64(cc)))
                return 0;
            t[i].mha = be_ew_mh(ma[c]);
            t[i].mla = be_ew_ml(ma[c]);
            t[i].mhb = be_ew_mh(mb[c]);
            t[i].mlb = be_ew_ml(mb[c]);
            t[i].ch = (int32_t)be_ew_asr64(cc, 16u);
            t[i].cl = be_ew_ml(cc);
            t[i].sh = s - 16u > 31u ? 31u : s - 16u;
        } else {
            const int neg = ((const int8_t *)op->stage_d)[c] < 0;
            const int64_t r1 = (int64_t)(be_ew_abs64(ma[c]) * xa + be_ew_abs64(mb[c]) * xb) + 1; /* < 2^46 */
            const int64_t ma2 = neg ? -(int64_t)ma[c] : ma[c], mb2 = neg ? -(int64_t)mb[c] : mb[c];
            int64_t tt = be_rd_i64((const int32_t *)op->stage_e + 2u * c);
            /* d v >= T <=> v' >= T' with v' = d v0 and T' = T - d B' (|B'| <= 2^63 - 1: -B' exists) */
            tt = add_sat64(tt, neg ? b : -b);
            tt = tt < -r1 ? -r1 : tt > r1 ? r1 : tt;
            t[i].mha = be_ew_mh(ma2);
            t[i].mla = be_ew_ml(ma2);
            t[i].mhb = be_ew_mh(mb2);
            t[i].mlb = be_ew_ml(mb2);
            t[i].ch = (int32_t)be_ew_asr64(tt, 16u);
            t[i].cl = be_ew_ml(tt);
            t[i].sh = 0u;
        }
    }
    return 1;
}

/* Channels [c0, c0 + n) in the split form; 0 (nothing written) if a channel does not take it. Its
 * own frame (not inlined), so that the 64-bit fallback's table is not on the stack beside this one. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int split_chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cs = vo->c;
    const int ka = be_ew_kind(va), kb = be_ew_kind(vb);
    be_merge_split t[CHUNK];
    if ((op->stage == BE_STAGE_THRESHOLD && op->encoding != BE_ENC_SIGN) || !be_merge_split_table(op, va, vb, c0, n, t))
        return 0;
    if (op->stage == BE_STAGE_ROUND) {
#define ROUND(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0, n, t, A, B, va, vb)
        BE_EW_KIND_SWITCH(ROUND);
#undef ROUND
    } else {
#define SIGN(A, B) sign_rows(io->data[0], io->data[1], (be_word *)out, npx, cs, vo->cw, c0, n, t, A, B, va, vb)
        BE_EW_KIND_SWITCH(SIGN);
#undef SIGN
    }
    return 1;
}

be_status be_merge_by_chunks(const be_op *op, const void *in, void *out, be_merge_chunk_fn split)
{
    const be_inputs *io = (const be_inputs *)in;
    const uint32_t cs = op->out.c;
    uint32_t c0;
    for (c0 = 0; c0 < cs; c0 += CHUNK) {
        const uint32_t n = cs - c0 < CHUNK ? cs - c0 : CHUNK;
        if (!split(op, io, out, c0, n))
            be_merge_word_chunk(op, io, out, c0, n);
    }
    return BE_OK;
}

be_status be_merge_w32(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_merge_by_chunks(op, in, out, split_chunk);
}
