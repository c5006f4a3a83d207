/* be_threshold_i8_word.c -- "word": Threshold of u8 / i8 codes -> bits (portable C, every target).
 *
 * level = #{k : d_c x >= T_c,k} (be_threshold_op_ref.c). A code lies in [-128, 255], so each
 * threshold can be clamped to [-257, 257] without changing a comparison, after which everything
 * fits a few bits:
 *   sign (L = 1): bit = (d x < T) = ((x ^ m) - t) >> 31 (the sign bit), m = 0, t = T for d = +1;
 *   m = -1, t = T - 1 for d = -1 (~x = -x - 1, so -x < T <=> ~x < T - 1). Per 32 channels a table
 *   {m, t} is made once per call, then per code: load, XOR, subtract, the sign bit into the word
 *   being built (32 channels per store; the reference clears the pixel and sets bits one by one).
 *   unsigned (L levels, P planes): for L <= 7 (qrelu2 / qrelu3: 3 / 7 levels) a table of clamped
 *   int16 thresholds per 32 channels, the direction folded as above, level = L - #{k : x' < t_k};
 *   more levels are compared in int32 straight from the blob (d x is within +-255: no clamp
 *   needed). The level's bits go into P words built in registers.
 */
#include "be_ew.h"

#define CHUNK 32u

static int32_t clamp_t(int32_t t)
{
    return t < -257 ? -257 : t > 257 ? 257 : t;
}

BE_EW_INLINE be_word sign_word(const uint8_t *x, const int32_t *tab, uint32_t n, int is_i8)
{
    be_word bits = 0u;
    uint32_t i = n;
    while (i-- > 0u) { /* from the last channel down: bits = bits << 1 | bit */
        const int32_t v = is_i8 ? (int32_t)((const int8_t *)x)[i] : (int32_t)x[i];
        const int32_t d = (v ^ tab[2u * i]) - tab[2u * i + 1u];
        bits = (bits << 1) | ((uint32_t)d >> 31);
    }
    return bits;
}

BE_EW_INLINE void sign_stage(const be_op *op, const uint8_t *in, be_word *out, int is_i8)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw;
    int32_t tab[2u * CHUNK];
    uint32_t c0, px, i;
    for (c0 = 0; c0 < vi->c; c0 += CHUNK) {
        const uint32_t n = vi->c - c0 < CHUNK ? vi->c - c0 : CHUNK;
        for (i = 0; i < n; i++) {
            const int neg = dir[c0 + i] < 0;
            tab[2u * i] = neg ? -1 : 0;
            tab[2u * i + 1u] = clamp_t(thr[c0 + i]) - neg; /* clamped first: T - 1 cannot wrap */
        }
        for (px = 0; px < npx; px++)
            out[(size_t)px * cw + c0 / 32u] = sign_word(in + (size_t)px * vi->c + c0, tab, n, is_i8);
    }
}

/* Unsigned, L <= 7 levels: per 32 channels a table of the clamped thresholds (int16) with the
 * direction folded as for the sign stage (d = -1: -x >= T <=> ~x >= T - 1), then per code
 * level = L - #{k : (x ^ m) < t_k}, each compare a subtract and its sign bit. */
#define TL 7u

BE_EW_INLINE void unsigned_small(const be_op *op, const uint8_t *in, be_word *out, int is_i8, uint32_t levels)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw, planes = vo->planes;
    int16_t tab[CHUNK][TL + 1u];
    uint32_t px, c0, i, k;
    for (c0 = 0; c0 < vi->c; c0 += CHUNK) {
        const uint32_t n = vi->c - c0 < CHUNK ? vi->c - c0 : CHUNK;
        for (i = 0; i < n; i++) {
            const int neg = dir[c0 + i] < 0;
            tab[i][0] = (int16_t)(neg ? -1 : 0);
            for (k = 0; k < levels; k++)
                tab[i][k + 1u] = (int16_t)(clamp_t(thr[(size_t)(c0 + i) * levels + k]) - neg);
        }
        for (px = 0; px < npx; px++) {
            const uint8_t *x = in + (size_t)px * vi->c + c0;
            be_word *o = out + (size_t)px * planes * cw + c0 / 32u;
            be_word w0 = 0u, w1 = 0u, w2 = 0u;
            for (i = n; i-- > 0u;) {
                const int32_t v = (is_i8 ? (int32_t)((const int8_t *)x)[i] : (int32_t)x[i]) ^ tab[i][0];
                uint32_t level = levels;
                for (k = 0; k < levels; k++)
                    level -= (uint32_t)(v - tab[i][k + 1u]) >> 31;
                w0 = (w0 << 1) | (level & 1u);
                w1 = (w1 << 1) | ((level >> 1) & 1u);
                w2 = (w2 << 1) | (level >> 2);
            }
            o[0] = w0;
            if (planes > 1u)
                o[cw] = w1;
            if (planes > 2u)
                o[2u * cw] = w2;
        }
    }
}

static void unsigned_stage(const be_op *op, const uint8_t *in, be_word *out)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw, planes = vo->planes, levels = op->levels;
    uint32_t px, c0, i, k, p;
    for (px = 0; px < npx; px++) {
        const uint8_t *x = in + (size_t)px * vi->c;
        be_word *o = out + (size_t)px * planes * cw;
        for (c0 = 0; c0 < vi->c; c0 += CHUNK) {
            const uint32_t n = vi->c - c0 < CHUNK ? vi->c - c0 : CHUNK;
            be_word w[8] = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u};
            for (i = 0; i < n; i++) {
                const int32_t code = be_code_at(vi, x, c0 + i);
                const int32_t v = dir[c0 + i] < 0 ? -code : code;
                const int32_t *t = thr + (size_t)(c0 + i) * levels;
                uint32_t level = 0u;
                for (k = 0; k < levels && v >= t[k]; k++) /* sorted: the first that fails ends it */
                    level++;
                for (p = 0; p < planes; p++)
                    w[p] |= ((level >> p) & 1u) << i;
            }
            for (p = 0; p < planes; p++)
                o[(size_t)p * cw + c0 / 32u] = w[p];
        }
    }
}

be_status be_threshold_i8_word(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    if (op->encoding == BE_ENC_SIGN && op->in.kind == BE_KIND_I8)
        sign_stage(op, (const uint8_t *)in, (be_word *)out, 1);
    else if (op->encoding == BE_ENC_SIGN)
        sign_stage(op, (const uint8_t *)in, (be_word *)out, 0);
    else if (op->levels == 3u && op->in.kind == BE_KIND_I8) /* qrelu2: constant levels, an unrolled count */
        unsigned_small(op, (const uint8_t *)in, (be_word *)out, 1, 3u);
    else if (op->levels <= TL && op->in.kind == BE_KIND_I8)
        unsigned_small(op, (const uint8_t *)in, (be_word *)out, 1, op->levels);
    else if (op->levels <= TL)
        unsigned_small(op, (const uint8_t *)in, (be_word *)out, 0, op->levels);
    else
        unsigned_stage(op, (const uint8_t *)in, (be_word *)out);
    return BE_OK;
}
