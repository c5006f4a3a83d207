/*
 * be_ew.h -- internal: what the variants of the elementwise and pooling ops share (Add,
 * Requantize, AvgPool2d, Merge, Threshold, MaxPool2d on codes, Concat; src/word/, the _dsp.c / _mve.c
 * files of src/arm/; docs/kernels.md "Elementwise and pooling ops").
 *
 * The requantizing ops compute requant(v, s, zp) = clamp(zp + floor((v + 2^(s-1)) / 2^s)) of an
 * exact integer sum v = B + sum_i M_i (x_i - zp_i) (docs/graph.md). Every variant rewrites it as
 *
 *     X = c + sum_i M_i x_i,   c = B + 2^(s-1) - sum_i M_i zp_i,   code = clamp(zp + (X >> s))
 *
 * over the raw codes x_i (u8 0..255, i8 -128..127, or int32 accumulators with zp 0), X >> s the
 * arithmetic shift (floor). Why that is exact in int64: the loader proved
 * |B| + 2^(s-1) + sum_i |M_i| max|x_i - zp_i| <= 2^63 - 1, and |zp_i| <= max|x_i - zp_i| (the code 0
 * is a valid code of both kinds), so |c| and every partial sum c + M_0 x_0 (+ M_1 x_1) stay within
 * that bound when summed in this order (c + M_0 x_0 = B + 2^(s-1) + M_0 (x_0 - zp_0) - M_1 zp_1).
 *
 * Paths, chosen per op (per channel for Merge) from fields the loader proved, before the loop:
 *   - 64-bit (variant "word", the DSP / MVE scalar code): X in int64 (one SMULL / SMLAL per term
 *     on ARMv7-M), then X >> s; when |X| / 2^s < 2^31 (be_ew_fits32: always for s >= 32, and for
 *     the lowering's Add / pooling shifts) the shifted value is taken as int32 and saturated with
 *     SSAT; otherwise the reference's 64-bit clamp.
 *   - split 16 (variant "w32", for cores without a 32 x 32 -> 64 multiply: Cortex-M0; the MVE
 *     lanes): M = Mh 2^16 + Ml (Ml = M & 0xFFFF, Mh = M >> 16), c = ch 2^16 + cl, then
 *         X = 2^16 (H + ch) + L,   H = sum Mh_i x_i,   L = cl + sum Ml_i x_i
 *         X >> s = (H + ch + (L >> 16)) >> (s - 16)          (s >= 16)
 *     all in int32 when sum 65535 max|x_i| + 65535 < 2^31 and sum 2^15 max|x_i| + |ch| + 2^15 < 2^31
 *     (be_ew_split_ok): |x_i| <= 2^14 together, |c| < 2^45. A shift beyond 31 of an int32 is the
 *     shift by 31 (the result is 0 or -1 either way). Thresholds (Merge -> bits) use the same
 *     split on T: v >= T <=> (H - th) + ((L - tl) >> 16) >= 0.
 */
#ifndef BE_EW_H
#define BE_EW_H

#include "be_kernels.h"
#include "be_bitformat.h"

#if defined(__ARM_FEATURE_SAT) && defined(__arm__)
#include <arm_acle.h>
#endif

#define BE_EW_U64_MAX 0xFFFFFFFFFFFFFFFFull

/* Loop bodies are written once as inline functions with constant arguments: always inlined so
 * that each call site is specialised (no per-element test of those arguments). */
#if defined(__GNUC__)
#define BE_EW_INLINE static inline __attribute__((always_inline))
#else
#define BE_EW_INLINE static inline
#endif

static inline uint64_t be_ew_addsat(uint64_t a, uint64_t b)
{
    return a > BE_EW_U64_MAX - b ? BE_EW_U64_MAX : a + b;
}

static inline uint64_t be_ew_abs64(int64_t v)
{
    return v < 0 ? (uint64_t)0u - (uint64_t)v : (uint64_t)v;
}

/* Largest |x - zp| of a u8 / i8 value (what the loader bounds with), or an accumulator's bound. */
static inline uint32_t be_ew_centered_max(const be_value *v)
{
    int32_t lo, hi, a, b;
    if (v->kind == BE_KIND_I32)
        return v->bound;
    lo = v->kind == BE_KIND_U8 ? 0 : -128;
    hi = v->kind == BE_KIND_U8 ? 255 : 127;
    a = hi - v->zero_point;
    b = v->zero_point - lo;
    return (uint32_t)(a > b ? a : b);
}

/* Largest |x| of the raw codes (u8 255, i8 128) or an accumulator's bound. */
static inline uint32_t be_ew_raw_max(const be_value *v)
{
    return v->kind == BE_KIND_I32 ? v->bound : v->kind == BE_KIND_U8 ? 255u : 128u;
}

/* Arithmetic shifts written portably (a right shift of a negative value is implementation-defined
 * in C); GCC and Clang emit one ASR. s < the width. */
static inline int64_t be_ew_asr64(int64_t v, uint32_t s)
{
    return v < 0 ? ~(~v >> s) : v >> s;
}

static inline int32_t be_ew_asr32(int32_t v, uint32_t s)
{
    return v < 0 ? ~(~v >> s) : v >> s;
}

/* The high word of an int64 (its arithmetic shift by 32). */
static inline int32_t be_ew_hi32(int64_t v)
{
    return (int32_t)be_ew_asr64(v, 32u);
}

/* clamp(r + zp, -128, 127) for any int32 r and zp in [-128, 127]: SSAT to 16 bits first (the
 * final clamp lies inside, so it changes nothing), then the add cannot overflow. */
static inline int8_t be_ew_sat8(int32_t r, int32_t zp)
{
#if defined(__ARM_FEATURE_SAT) && defined(__arm__)
    return (int8_t)__ssat(__ssat(r, 16) + zp, 8);
#else
    if (r < -128 - zp)
        return -128;
    if (r > 127 - zp)
        return 127;
    return (int8_t)(r + zp);
#endif
}

/* requant of a 64-bit X (rounding term included) in general: the reference's 64-bit clamp. */
static inline int8_t be_ew_clamp64(int64_t x, uint32_t s, int32_t zp)
{
    const int64_t r = be_ew_asr64(x, s);
    if (r < -128 - (int64_t)zp)
        return -128;
    if (r > 127 - (int64_t)zp)
        return 127;
    return (int8_t)(r + zp);
}

/* The low word of X >> s for s in [1, 31] (what the shifted value is when it fits int32): three
 * 32-bit operations instead of a 64-bit shift. */
static inline int32_t be_ew_i32(uint32_t u) /* two's complement, portably (GCC: no instruction) */
{
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

static inline int32_t be_ew_shr_lo(int64_t x, uint32_t s)
{
    const uint64_t u = (uint64_t)x;
    return be_ew_i32(((uint32_t)u >> s) | ((uint32_t)(u >> 32) << (32u - s)));
}

/* Does floor(X / 2^s) fit int32 for every |X| <= bound? (bound < 2^(31 + s)) */
static inline int be_ew_fits32(uint64_t bound, uint32_t s)
{
    return (bound >> s) < 0x7FFFFFFFull;
}

/* 2^(s-1), 0 for s = 0: the rounding term. */
static inline int64_t be_ew_half(uint32_t s)
{
    return s == 0u ? 0 : (int64_t)((uint64_t)1u << (s - 1u));
}

/* ---- input kinds as loop constants ---- */
enum { BE_EW_K_I8, BE_EW_K_I32, BE_EW_K_ANY };

static inline int be_ew_kind(const be_value *v)
{
    return v->kind == BE_KIND_I8 ? BE_EW_K_I8 : v->kind == BE_KIND_I32 ? BE_EW_K_I32 : BE_EW_K_ANY;
}

/* Element i of a Merge / Add input: i8 codes, i32 accumulators (arena: aligned) or, for
 * BE_EW_K_ANY, whatever v is (u8 codes by bytes: the graph input may sit at any address). */
BE_EW_INLINE int32_t be_ew_ld(const void *p, size_t i, int k, const be_value *v)
{
    if (k == BE_EW_K_I8)
        return ((const int8_t *)p)[i];
    if (k == BE_EW_K_I32)
        return ((const int32_t *)p)[i];
    return v->kind == BE_KIND_I32 ? ((const int32_t *)p)[i] : be_code_at(v, p, i);
}

/* CALL(ka, kb) with constant kinds for the pairs of a residual network's Merge (codes + an
 * accumulator either way round, two codes, two accumulators), kind-generic loads otherwise. */
#define BE_EW_KIND_SWITCH(CALL)                                                                                   \
    do {                                                                                                          \
        if (ka == BE_EW_K_I8 && kb == BE_EW_K_I32)                                                                \
            CALL(BE_EW_K_I8, BE_EW_K_I32);                                                                        \
        else if (ka == BE_EW_K_I32 && kb == BE_EW_K_I8)                                                           \
            CALL(BE_EW_K_I32, BE_EW_K_I8);                                                                        \
        else if (ka == BE_EW_K_I8 && kb == BE_EW_K_I8)                                                            \
            CALL(BE_EW_K_I8, BE_EW_K_I8);                                                                         \
        else if (ka == BE_EW_K_I32 && kb == BE_EW_K_I32)                                                          \
            CALL(BE_EW_K_I32, BE_EW_K_I32);                                                                       \
        else                                                                                                      \
            CALL(BE_EW_K_ANY, BE_EW_K_ANY);                                                                       \
    } while (0)

/* CALL(ka, kb) with constant kinds for inputs that hold i8 codes or i32 accumulators only (the
 * SIMD Merges, which decline u8 codes before). */
#define BE_EW_CODED_KIND_SWITCH(CALL)                                                                             \
    do {                                                                                                          \
        if (ka == BE_EW_K_I8 && kb == BE_EW_K_I32)                                                                \
            CALL(BE_EW_K_I8, BE_EW_K_I32);                                                                        \
        else if (ka == BE_EW_K_I32 && kb == BE_EW_K_I8)                                                           \
            CALL(BE_EW_K_I32, BE_EW_K_I8);                                                                        \
        else if (ka == BE_EW_K_I8)                                                                                \
            CALL(BE_EW_K_I8, BE_EW_K_I8);                                                                         \
        else                                                                                                      \
            CALL(BE_EW_K_I32, BE_EW_K_I32);                                                                       \
    } while (0)

/* The window sum of raw codes at p (one channel: row pitch rp bytes, channel stride cs), kh x kw
 * (k22: the 2 x 2 window in one expression); the caller bounds kh kw 255 below 2^31. */
BE_EW_INLINE int32_t be_ew_code(const uint8_t *p, size_t i, int is_i8)
{
    return is_i8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)p[i];
}

BE_EW_INLINE int32_t be_ew_window_sum(const uint8_t *p, uint32_t kh, uint32_t kw, size_t rp, size_t cs, int is_i8,
                                      int k22)
{
    int32_t sum = 0;
    uint32_t ky, kx;
    if (k22)
        return be_ew_code(p, 0, is_i8) + be_ew_code(p, cs, is_i8) + be_ew_code(p, rp, is_i8) +
               be_ew_code(p, rp + cs, is_i8);
    for (ky = 0; ky < kh; ky++, p += rp)
        for (kx = 0; kx < kw; kx++)
            sum += be_ew_code(p, (size_t)kx * cs, is_i8);
    return sum;
}

/* ---- the 64-bit fast form ----
 * For requant(X, s, zp) with |X| <= bound over inputs |x_i| <= xmax: the output zero point is
 * folded into the constant (X' = X + zp 2^s, so the code is SSAT8(X' >> s): one instruction
 * instead of three) and, for s <= 32, the inputs are scaled by 2^k, k = 32 - s (one LSL each):
 * then X' 2^k >> 32 = X' >> s is the high word of the SMLAL result, no 64-bit shift. For s > 32
 * the high word is shifted by s - 32. Exact when X' >> s fits int32 (checked), x_i 2^k fits
 * int32 (checked) and c' 2^k fits int64 (|c'| is a value of X': the codes 0 are valid). */
typedef struct be_ew_fast {
    int64_t c;   /* (c + zp 2^s) 2^k */
    uint32_t k;  /* inputs scaled by 2^k (s <= 32), else 0 */
    uint32_t sh; /* high word shifted by sh (s > 32: s - 32), else 0 */
} be_ew_fast;

/* Fill *f for X = c + sum M_i x_i (|X| <= bound, |x_i| <= xmax each), shift s, output zero point
 * zp; 0 if this form does not apply (then use be_ew_clamp64). */
static inline int be_ew_fast_plan(be_ew_fast *f, int64_t c, uint64_t bound, uint64_t xmax, uint32_t s, int32_t zp)
{
    uint64_t b2;
    f->c = 0;
    f->k = f->sh = 0u;
    if (s == 0u || s > 55u)
        return 0; /* s = 0: 2^32 would scale the inputs; s > 55: zp 2^s would not fit int64 with room */
    b2 = be_ew_addsat(bound, (uint64_t)128u << s); /* |X'| <= |X| + 128 2^s */
    if (b2 > 0x7FFFFFFFFFFFFFFFull || (b2 >> s) >= 0x7FFFFFFFull)
        return 0; /* X' must fit int64, X' >> s int32 */
    c += (int64_t)zp * ((int64_t)1 << s);
    if (s <= 32u) {
        f->k = 32u - s;
        f->sh = 0u;
        if (xmax >= ((uint64_t)1u << (31u - f->k)))
            return 0;
        f->c = c * ((int64_t)1 << f->k);
    } else {
        f->k = 0u;
        f->sh = s - 32u;
        f->c = c;
    }
    return 1;
}

/* The code of X' (built from f->c and inputs scaled by 2^f->k). */
static inline int8_t be_ew_fast_code(int64_t x, uint32_t sh)
{
#if defined(__ARM_FEATURE_SAT) && defined(__arm__)
    return (int8_t)__ssat(be_ew_asr32(be_ew_hi32(x), sh), 8);
#else
    const int32_t r = be_ew_asr32(be_ew_hi32(x), sh);
    return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
#endif
}

/* ---- Threshold (sign) on codes as byte compares (the SIMD variants: USUB8 / SSUB8 + GE flags,
 * MVE VCMP) ----
 * Channel i's bit (level 0) is d x < T. With W = T (d = +1) or W = 1 - T (d = -1: -x < T <=>
 * x >= 1 - T) it is (x >= W) XOR flip_i (flip for d = +1). W beyond the codes makes the bit
 * constant: then keep_i = 0 and set_i holds it. A word of 32 bits is
 * ((ge ^ flip) & keep) | set, ge the x >= W compare of every lane (unsigned for u8, signed
 * for i8). Fills wb[0 .. n) (the W bytes) and the three masks for channels [c0, c0 + n). */
static inline void be_ew_sign_table(const be_op *op, uint32_t c0, uint32_t n, uint8_t wb[32], uint32_t *flip,
                                    uint32_t *keep, uint32_t *set)
{
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const int64_t lo = op->in.kind == BE_KIND_I8 ? -128 : 0, hi = lo + 255;
    uint32_t i;
    *flip = *keep = *set = 0u;
    for (i = 0; i < 32u; i++) {
        const int up = i < n && dir[c0 + i] > 0;
        const int64_t w = i >= n ? lo : up ? (int64_t)thr[c0 + i] : 1 - (int64_t)thr[c0 + i];
        wb[i] = (uint8_t)(w <= lo ? lo : w > hi ? hi : w); /* (the byte of an i8 code is its two's complement) */
        if (i >= n)
            continue; /* padding channels: bit 0 */
        if (w <= lo)
            *set |= (uint32_t)!up << i; /* x >= W always: the bit is !flip */
        else if (w > hi)
            *set |= (uint32_t)up << i; /* never: the bit is flip */
        else
            *keep |= 1u << i;
        *flip |= (uint32_t)up << i;
    }
}

/* ---- the split-16 form (module comment) ---- */

/* High / low parts of a multiplier: m = mh * 2^16 + ml, ml in [0, 65535]. (m int64: a negated
 * int32 multiplier, up to 2^31.) */
static inline int32_t be_ew_mh(int64_t m)
{
    return (int32_t)be_ew_asr64(m, 16u);
}

static inline int32_t be_ew_ml(int64_t m)
{
    return (int32_t)(uint32_t)((uint64_t)m & 0xFFFFu);
}

/* Whether the split form stays in int32 for inputs of raw maxima xmax (sum over the terms) and a
 * constant of |c| <= cmax (module comment): 65535 (xmax + 1) < 2^31 and
 * 2^15 xmax + |c| / 2^16 + 2^16 < 2^31; xmax <= 2^14 keeps both with room. */
static inline int be_ew_split_ok(uint64_t xmax, uint64_t cmax)
{
    return xmax <= 16384u && (cmax >> 16) < 0x40000000ull;
}

/* ---- Add of two i8 values in the split-16 form with signed low halves ("dsp", "neon") ----
 * With the output zero point folded, X = c' + M_a a + M_b b, c' = 2^(s-1) - M_a zp_a - M_b zp_b +
 * zp 2^s, M = Mh 2^16 + Ml with Ml in [-2^15, 2^15) (Mh = (M - Ml) / 2^16, an int16 too), c' =
 * ch 2^16 + cl: code = clamp((ch + Mh_a a + Mh_b b + ((cl + Ml_a a + Ml_b b) >> 16)) >> sh,
 * -128, 127), sh = s - 16, exactly in int32 (be_ew_split_ok). Fills k and returns 1 for an Add of
 * two i8 values with 16 <= s <= 45 whose c' passes be_ew_split_ok and whose Mh fit int16 (not
 * when M >= 2^31 - 2^15 with a negative low half); else 0 (the caller runs "word"). */
typedef struct be_ew_add_split {
    int32_t mla, mlb, mha, mhb, ch, cl;
    uint32_t sh;
} be_ew_add_split;

static inline int be_ew_add_split_prepare(const be_op *op, const be_inputs *io, be_ew_add_split *k)
{
    const be_value *va = io->value[0], *vb = io->value[1];
    const int32_t ma = op->mult_a, mb = op->mult_b;
    const uint32_t s = (uint32_t)op->shift;
    int64_t c;
    if (va->kind != BE_KIND_I8 || vb->kind != BE_KIND_I8 || s < 16u || s > 45u)
        return 0;
    c = be_ew_half(s) - (int64_t)ma * va->zero_point - (int64_t)mb * vb->zero_point +
        (int64_t)op->zero_point * ((int64_t)1 << s);
    if (!be_ew_split_ok(256u, be_ew_abs64(c)))
        return 0;
    k->mla = be_ew_ml(ma) >= 32768 ? be_ew_ml(ma) - 65536 : be_ew_ml(ma);
    k->mlb = be_ew_ml(mb) >= 32768 ? be_ew_ml(mb) - 65536 : be_ew_ml(mb);
    k->mha = (int32_t)(((int64_t)ma - k->mla) / 65536);
    k->mhb = (int32_t)(((int64_t)mb - k->mlb) / 65536);
    if (k->mha > 32767 || k->mhb > 32767)
        return 0;
    k->ch = (int32_t)be_ew_asr64(c, 16u);
    k->cl = be_ew_ml(c);
    k->sh = s - 16u; /* at most 29 */
    return 1;
}

/* ---- AvgPool2d in the split-16 form ("mve", "neon"; "w32" computes the same inline) ----
 * For a window of n <= 64 codes (|sum| <= 64 * 255: int16 lanes), X = c' + M S with
 * c' = 2^(s-1) - M n zp_x + zp 2^s, and the code clamp((ch + Mh S + ((cl + Ml S) >> 16)) >> sh):
 * k = {Mh, Ml, ch, cl}, sh = min(s - 16, 31). 0 (nothing promised) when s is outside [16, 45],
 * the window is larger or c' fails be_ew_split_ok; then the caller takes another kernel. */
static inline int be_ew_avgpool_split(const be_op *op, int32_t k[4], uint32_t *sh)
{
    const uint32_t n = op->kh * op->kw, s = (uint32_t)op->shift;
    const int32_t m = op->mult_a;
    int64_t c;
    if (n > 64u || s < 16u || s > 45u)
        return 0;
    c = be_ew_half(s) - (int64_t)m * ((int32_t)n * op->in.zero_point) + (int64_t)op->zero_point * ((int64_t)1 << s);
    if (!be_ew_split_ok((uint64_t)n * 255u, be_ew_abs64(c)))
        return 0;
    k[0] = be_ew_mh(m);
    k[1] = be_ew_ml(m);
    k[2] = (int32_t)be_ew_asr64(c, 16u);
    k[3] = be_ew_ml(c);
    *sh = s - 16u > 31u ? 31u : s - 16u;
    return 1;
}

/* CALL(is_i8, k22) with both constant: i8 (else u8) codes, a 2 x 2 window (else any). */
#define BE_EW_POOL_SWITCH(op, CALL)                                                                               \
    do {                                                                                                          \
        const int i8_ = (op)->in.kind == BE_KIND_I8, k22_ = (op)->kh == 2u && (op)->kw == 2u;                     \
        if (i8_ && k22_)                                                                                          \
            CALL(1, 1);                                                                                           \
        else if (i8_)                                                                                             \
            CALL(1, 0);                                                                                           \
        else if (k22_)                                                                                            \
            CALL(0, 1);                                                                                           \
        else                                                                                                      \
            CALL(0, 0);                                                                                           \
    } while (0)

/* ---- Merge in the split form, shared by "w32" (be_merge_w32.c) and the M55's "mve" ---- */

/* One channel: M_a, M_b as (Mh, Ml), the folded constant c' (round) or threshold T' (sign) as
 * (ch, cl) = (c' >> 16, c' & 0xFFFF), and sh = min(s - 16, 31) (round). */
typedef struct {
    int32_t mha, mla, mhb, mlb, ch, cl; /* sign: ch, cl are th, tl */
    uint32_t sh;
} be_merge_split;

/* The split table of channels [c0, c0 + n) of a Merge with a round or sign stage; 0 if a channel
 * does not take the split form (then nothing is promised about t). */
int be_merge_split_table(const be_op *op, const be_value *va, const be_value *vb, uint32_t c0, uint32_t n,
                         be_merge_split *t);

/* Channels [c0, c0 + n) (n <= 32, c0 a multiple of 32) in the 64-bit arithmetic of "word" (any
 * stage, any kinds): the fallback of the 32-bit variants. */
void be_merge_word_chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n);

/* A 32-bit variant's chunk: channels [c0, c0 + n) written, or 0 (nothing written) if it does not
 * take them. */
typedef int (*be_merge_chunk_fn)(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n);

/* The Merge in chunks of 32 channels: each through split, or be_merge_word_chunk where split
 * declines. */
be_status be_merge_by_chunks(const be_op *op, const void *in, void *out, be_merge_chunk_fn split);

#endif /* BE_EW_H */
