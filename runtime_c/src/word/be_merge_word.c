/* be_merge_word.c -- "word": Merge of two branches, codes (u8 / i8) or accumulators (i32), into
 * i8 (round stage) or bits (thresholds) (portable C, every target).
 *
 * v_c = B_c + Ma_c (a - zp_a) + Mb_c (b - zp_b) in int64 (be_merge_ref.c), computed as
 * v = B'_c + Ma_c a + Mb_c b over the raw inputs with B' = B - Ma zp_a - Mb zp_b (+ 2^(s-1) for
 * the round stage) folded per channel (be_ew.h says why the sum in this order stays exact). Per
 * 32 channels the folded parameters go into a stack table once per call, then every pixel runs
 * two SMLAL per channel from it:
 *   round:   the fast form of be_ew.h per channel (zp folded, inputs scaled by 2^k, the code the
 *            high word shifted by sh, SSAT) when every channel of the 32 allows it;
 *   sign:    bit = (v ^ m) < T' with m = 0, T' = T for direction +1 and m = -1, T' = T - 1 for
 *            direction -1 (~v = -v - 1; T clamped to INT64_MIN + 1 first, which changes no
 *            comparison since |v| <= 2^63 - 1), a 64-bit compare, 32 channels per output word;
 *   other:   (unsigned thresholds, or channels the fast form does not take) per element as the
 *            reference, with B' folded and the bits built in registers.
 * Input kinds are constants of each loop (u8 in a kind-generic one).
 */
#include "be_ew.h"

#define CHUNK 32u
#define ldk be_ew_ld
#define K_I8 BE_EW_K_I8
#define K_I32 BE_EW_K_I32
#define K_ANY BE_EW_K_ANY

typedef struct {
    int64_t c;
    int32_t ma, mb;
    uint32_t k, sh;
} round_par;

typedef struct {
    int64_t b, t;
    int32_t ma, mb, m;
} sign_par;

/* B' = B - Ma zp_a - Mb zp_b (+ half): exact, |B'| within the loader's bound */
static int64_t folded(const be_op *op, const be_value *va, const be_value *vb, uint32_t c, int64_t half)
{
    const int32_t ma = ((const int32_t *)op->stage_a)[c], mb = ((const int32_t *)op->stage_b)[c];
    return be_rd_i64((const int32_t *)op->stage_c + 2u * c) + half - (int64_t)ma * va->zero_point -
           (int64_t)mb * vb->zero_point;
}

/* mode: 1 every channel of the chunk scales its inputs (s <= 32), 2 every channel shifts the high
 * word (s > 32), 0 mixed: constant modes drop the unused shift from the loop */
BE_EW_INLINE void round_rows(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, uint32_t c0,
                             uint32_t n, const round_par *t, int ka, int kb, const be_value *va, const be_value *vb,
                             int mode)
{
    uint32_t px, i;
    for (px = 0; px < npx; px++) {
        const size_t base = (size_t)px * cs + c0;
        for (i = 0; i < n; i++) {
            const uint32_t k = mode == 2 ? 0u : t[i].k, sh = mode == 1 ? 0u : t[i].sh;
            const int32_t a = be_ew_i32((uint32_t)ldk(pa, base + i, ka, va) << k);
            const int32_t b = be_ew_i32((uint32_t)ldk(pb, base + i, kb, vb) << k);
            y[base + i] = be_ew_fast_code(t[i].c + (int64_t)t[i].ma * a + (int64_t)t[i].mb * b, sh);
        }
    }
}

BE_EW_INLINE void sign_rows(const void *pa, const void *pb, be_word *out, uint32_t npx, uint32_t cs, uint32_t cw,
                            uint32_t c0, uint32_t n, const sign_par *t, int ka, int kb, const be_value *va,
                            const be_value *vb)
{
    uint32_t px, i;
    for (px = 0; px < npx; px++) {
        const size_t base = (size_t)px * cs + c0;
        be_word bits = 0u;
        for (i = n; i-- > 0u;) { /* from the last channel down: bits = bits << 1 | bit */
            const int64_t v = t[i].b + (int64_t)t[i].ma * ldk(pa, base + i, ka, va) +
                              (int64_t)t[i].mb * ldk(pb, base + i, kb, vb);
            const int64_t m = t[i].m; /* 0 or -1 */
            bits = (bits << 1) | (be_word)((v ^ m) < t[i].t);
        }
        out[(size_t)px * cw + c0 / 32u] = bits;
    }
}

/* Any stage, any kinds: the reference's arithmetic per element with B' folded. */
static void generic_rows(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const int32_t *ma = (const int32_t *)op->stage_a, *mb = (const int32_t *)op->stage_b;
    const uint32_t npx = vo->h * vo->w;
    uint32_t px, i, k, p;
    for (px = 0; px < npx; px++) {
        be_word w[8] = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u};
        for (i = 0; i < n; i++) {
            const uint32_t c = c0 + i;
            const size_t e = (size_t)px * vo->c + c;
            const int round = op->stage == BE_STAGE_ROUND;
            const uint32_t s = round ? ((const uint8_t *)op->stage_d)[c] : 0u;
            const int64_t v = folded(op, va, vb, c, round ? be_ew_half(s) : 0) +
                              (int64_t)ma[c] * ldk(io->data[0], e, K_ANY, va) + (int64_t)mb[c] * ldk(io->data[1], e, K_ANY, vb);
            if (round) {
                ((int8_t *)out)[e] = be_ew_clamp64(v, s, op->zero_point);
            } else {
                const int64_t x = ((const int8_t *)op->stage_d)[c] < 0 ? -v : v; /* |v| <= 2^63 - 1 */
                const int32_t *t = (const int32_t *)op->stage_e + 2u * (size_t)c * op->levels;
                uint32_t level = 0u;
                for (k = 0; k < op->levels && x >= be_rd_i64(t + 2u * k); k++) /* sorted */
                    level++;
                if (op->encoding == BE_ENC_SIGN)
                    w[0] |= (be_word)(level == 0u) << i;
                else
                    for (p = 0; p < vo->planes; p++)
                        w[p] |= ((level >> p) & 1u) << i;
            }
        }
        if (op->stage == BE_STAGE_THRESHOLD)
            for (p = 0; p < vo->planes; p++)
                ((be_word *)out)[((size_t)px * vo->planes + p) * vo->cw + c0 / 32u] = w[p];
    }
}

#define KIND_SWITCH BE_EW_KIND_SWITCH

/* Channels [c0, c0 + n) (n <= 32, c0 a multiple of 32) of every pixel; also the fallback of
 * "w32" (be_merge_w32.c) for the channels its 32-bit form does not take. */
void be_merge_word_chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const int32_t *ma = (const int32_t *)op->stage_a, *mb = (const int32_t *)op->stage_b;
    const uint32_t npx = vo->h * vo->w, cs = vo->c;
    const int ka = be_ew_kind(va), kb = be_ew_kind(vb);
    const uint64_t xmax = be_ew_raw_max(va) > be_ew_raw_max(vb) ? be_ew_raw_max(va) : be_ew_raw_max(vb);
    union { /* one frame for either table (a Cortex-M0 has 4 KiB of stack) */
        round_par r[CHUNK];
        sign_par s[CHUNK];
    } tab;
    uint32_t i;
    if (op->stage == BE_STAGE_ROUND) {
        round_par *t = tab.r;
        int ok = 1;
        for (i = 0; i < n && ok; i++) {
            const uint32_t c = c0 + i, s = ((const uint8_t *)op->stage_d)[c];
            const uint64_t bound = be_ew_addsat(be_ew_abs64(ma[c]) * be_ew_centered_max(va) +
                                                    be_ew_abs64(mb[c]) * be_ew_centered_max(vb),
                                                be_ew_abs64(be_rd_i64((const int32_t *)op->stage_c + 2u * c)) +
                                                    (uint64_t)be_ew_half(s));
            be_ew_fast f;
            ok = be_ew_fast_plan(&f, folded(op, va, vb, c, be_ew_half(s)), bound, xmax, s, op->zero_point);
            t[i].c = f.c;
            t[i].ma = ma[c];
            t[i].mb = mb[c];
            t[i].k = f.k;
            t[i].sh = f.sh;
        }
        if (!ok) {
            generic_rows(op, io, out, c0, n);
            return;
        }
        {
            int scaled = 1, high = 1;
            for (i = 0; i < n; i++) {
                scaled &= t[i].sh == 0u;
                high &= t[i].k == 0u;
            }
#define ROUND1(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0, n, t, A, B, va, vb, 1)
#define ROUND2(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0, n, t, A, B, va, vb, 2)
#define ROUND0(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0, n, t, A, B, va, vb, 0)
            if (scaled)
                KIND_SWITCH(ROUND1);
            else if (high)
                KIND_SWITCH(ROUND2);
            else
                KIND_SWITCH(ROUND0);
#undef ROUND0
#undef ROUND1
#undef ROUND2
        }
    } else if (op->encoding == BE_ENC_SIGN) {
        sign_par *t = tab.s;
        for (i = 0; i < n; i++) {
            const uint32_t c = c0 + i;
            const int neg = ((const int8_t *)op->stage_d)[c] < 0;
            int64_t thr = be_rd_i64((const int32_t *)op->stage_e + 2u * c);
            if (neg && thr < -INT64_MAX)
                thr = -INT64_MAX;
            t[i].b = folded(op, va, vb, c, 0);
            t[i].t = neg ? thr - 1 : thr;
            t[i].ma = ma[c];
            t[i].mb = mb[c];
            t[i].m = neg ? -1 : 0;
        }
#define SIGN(A, B) sign_rows(io->data[0], io->data[1], (be_word *)out, npx, cs, vo->cw, c0, n, t, A, B, va, vb)
        KIND_SWITCH(SIGN);
#undef SIGN
    } else {
        generic_rows(op, io, out, c0, n);
    }
}

be_status be_merge_word(const be_op *op, const void *in, void *out, void *scratch)
{
    uint32_t c0;
    (void)scratch;
    for (c0 = 0; c0 < op->out.c; c0 += CHUNK)
        be_merge_word_chunk(op, (const be_inputs *)in, out, c0, op->out.c - c0 < CHUNK ? op->out.c - c0 : CHUNK);
    return BE_OK;
}
