/*
 * be_arm_i8.h -- internal: the int8 layers on ARM (src/arm/be_i8_*.c).
 *
 * Dense / Conv2d with int8 weights over u8 / i8 codes (any zero point, any geometry the loader
 * takes, groups and depthwise, every output stage). The accumulator is over the raw codes,
 * acc_o = sum_k w_o,k * x_k, padding positions holding the zero point (docs/graph.md), so it is
 * computed exactly as it is defined: every partial sum is bounded by max|x| * sum_k |w_o,k|,
 * which the loader proved <= INT32_MAX, so nothing here can overflow.
 *
 * Conv2d (be_i8_conv2d): output channels in chunks of up to 32 (aligned to 32: the sign stage
 * packs whole words), the chunk's output stage prepared once (be_i8_rq_prepare), then per
 * output pixel and group the receptive field of the group is copied into the arena's scratch
 * ("patch", im2col: element e = (ky * KW + kx) * C/g + ci, the weights' order; padding
 * positions as the zero point), in the layout the variant's dot core wants:
 *   BE_I8_S16   int16 codes in order (plain C: "mac");
 *   BE_I8_S16Q  int16 codes, each quad of elements stored (x0, x2, x1, x3), so that the words
 *               (x0 | x2 << 16) and (x1 | x3 << 16) pair with SXTB16(w) and SXTB16(w ROR 8) of
 *               a weight word (w0, w1, w2, w3): two SMLAD per 4 MACs ("dsp"); the last quad
 *               zero-padded;
 *   BE_I8_S8    int8: i8 codes as they are; u8 codes as x - 128 (x XOR 0x80), the core adding
 *               128 * sum_k w_o,k ("mve": VMLADAVA.S8, 16 MACs per instruction);
 *   BE_I8_RAW   the code bytes as stored (u8 or i8: the core knows which; "mac").
 * The patch of one group is at most KH * KW * C elements: it fits the model's scratch,
 * align16(KH * KW * C * 2) bytes (docs/format.md section 6), in every layout (S16Q pads to a
 * quad: roundup4(n) * 2 <= align16(2 n)). The weight rows of the group's channels (rows of
 * K = KH * KW * C/g int8, contiguous: (O, KH, KW, C/g)) are dotted with it, up to 4 rows per
 * call of the core.
 * Depthwise Conv2d (groups = C) has its own driver (be_i8_dw_*): per output pixel a table of
 * the KH * KW tap addresses (the input pixel, or a buffer of zero points for a padding tap),
 * and a variant core that runs the channels in lanes.
 * Dense (be_i8_dense): the input (any address) is converted to the layout in chunks of
 * BE_I8_CHUNK elements on the stack, each chunk dotted with 32 rows at a time.
 * RequantStage (be_i8_rq_*): per channel (M * acc + Bh) >> s with Bh = B + 2^(s-1) prepared
 * once per chunk; for s >= 32 (every multiplier of at least 2^24 with a real scale gives it)
 * only the high word of the 64-bit SMLAL result is shifted (ASR), then saturated (SSAT 16,
 * add the zero point, SSAT 8: 11 instructions per output in GCC's code on a Cortex-M4, 10 in
 * be_i8_dsp.c's assembly); smaller shifts take the 64-bit path.
 *
 * Each variant file instantiates the drivers with its own (inlined) copy, fill and dot
 * functions.
 */
#ifndef BE_ARM_I8_H
#define BE_ARM_I8_H

#include <stdint.h>
#include <string.h>

#include "be_kernels.h"
#include "arm/be_arm.h"
#include "arm/be_arm_kernels.h"

#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#define BE_I8_SAT16(v) __ssat((v), 16)
#define BE_I8_SAT8(v) __ssat((v), 8)
#else
#define BE_I8_SAT16(v) be_i8_clamp((v), -32768, 32767)
#define BE_I8_SAT8(v) be_i8_clamp((v), -128, 127)
#endif

enum { BE_I8_S16 = 0, BE_I8_S16Q = 1, BE_I8_S8 = 2, BE_I8_RAW = 3 };

#define BE_I8_CHUNK 256u   /* Dense: input elements converted at a time (stack: 512 bytes) */
#define BE_I8_BLOCK 32u    /* output channels per chunk (one word of sign bits) */
#define BE_I8_DW_TAPS 64u  /* depthwise: KH * KW taps the lane drivers take (a pointer each) */

static inline int32_t be_i8_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Arithmetic right shifts written portably (~(~v >> s) for negative v; GCC and Clang emit one
 * ASR). */
static inline int32_t be_i8_sar32(int32_t v, uint32_t s)
{
    return v < 0 ? ~(~v >> s) : v >> s;
}

static inline int64_t be_i8_sar64(int64_t v, uint32_t s)
{
    return v < 0 ? ~(~v >> s) : v >> s;
}

/* ------------------------------------------------------------ the pixel layers' padded input */

/* The pixel layers (int8 Conv2d over one channel, K = 9: the ResNets' stem) read their input
 * from a copy with the padding made explicit, so that no border pixel needs a slower path:
 * BE_I8_PAD_BYTES of stack while such a layer runs (0: a RAM-tight build without the copy;
 * docs/firmware.md). */
#ifndef BE_I8_PAD_BYTES
#define BE_I8_PAD_BYTES 1024u /* 28 x 28 x 1 -> 30 x 30 */
#endif
#if BE_I8_PAD_BYTES >= 65536
#error "BE_I8_PAD_BYTES must be below 65536 (be_arm_padded_geometry's bound)"
#endif

/* The copy: g->hp rows of g->wp pixels of C codes (be_arm_padded_geometry with a cap of
 * BE_I8_PAD_BYTES - 4), padding pixels the zero point's code, then 4 zero bytes of slack (a
 * reader of whole words may read past the last window). */
static inline void be_i8_pad_input(const be_op *op, const uint8_t *in, const be_arm_padded *g, uint8_t *pad)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, rs = g->wp * c;
    const uint8_t zp = (uint8_t)vi->zero_point;
    uint32_t py, i;
    for (py = 0; py < g->hp; py++, pad += rs) {
        const int32_t iy = (int32_t)py - (int32_t)op->pt;
        const uint32_t a = iy < 0 || iy >= (int32_t)vi->h ? rs : g->lead * c, b = a == rs ? a : a + g->n * c;
        const uint8_t *row = in + (size_t)(iy < 0 ? 0 : iy) * vi->w * c;
        for (i = 0; i < a; i++)
            pad[i] = zp;
        for (; i < b; i++)
            pad[i] = row[i - a];
        for (; i < rs; i++)
            pad[i] = zp;
    }
    for (i = 0; i < 4u; i++)
        pad[i] = 0u;
}

/* ------------------------------------------------------------------------ output stage */

/* One channel of a RequantStage, prepared: v = m * acc + bh (bh = B + 2^(s-1)); the output is
 * clamp(zp + (v >> s)). hi_shift = s - 32 when s >= 32 (only the high word of v matters),
 * else BE_I8_LOW and s stays in `s`. */
typedef struct be_i8_rq {
    int64_t bh;
    int32_t m;
    uint32_t s; /* s - 32 for s >= 32; s | BE_I8_LOW for s < 32 */
} be_i8_rq;

#define BE_I8_LOW 0x100u

/* The stage constants of channels [o0, o0 + n); returns 1 if every one has s >= 32. */
static inline int be_i8_rq_prepare(const be_op *op, uint32_t o0, uint32_t n, be_i8_rq *q)
{
    const int32_t *m = (const int32_t *)op->stage_a + o0;
    const uint8_t *sh = (const uint8_t *)op->stage_c + o0;
    uint32_t i;
    int all_high = 1;
    for (i = 0; i < n; i++) {
        const uint32_t s = sh[i];
        q[i].bh = be_rq_bias(op, o0 + i);
        q[i].m = m[i];
        q[i].s = s >= 32u ? s - 32u : s | BE_I8_LOW;
        if (s < 32u)
            all_high = 0;
    }
    return all_high;
}

/* 1 if op's stage is a RequantStage whose every channel shifts by >= 32 (the fused rows' and
 * lane paths' condition), read from the shifts alone. */
static inline int be_i8_requant_all_high(const be_op *op)
{
    const uint8_t *sh = (const uint8_t *)op->stage_c;
    uint32_t c;
    if (op->stage != BE_STAGE_REQUANT)
        return 0;
    for (c = 0; c < op->out_ch; c++)
        if (sh[c] < 32u)
            return 0;
    return 1;
}

/* The output code of one prepared channel. */
static inline int32_t be_i8_rq_one(const be_i8_rq *q, int32_t acc, int32_t zp)
{
    const int64_t v = (int64_t)q->m * acc + q->bh;
    int32_t r;
    if (q->s < BE_I8_LOW) {
        r = BE_I8_SAT16(be_i8_sar32((int32_t)be_i8_sar64(v, 32u), q->s));
    } else {
        const int64_t t = be_i8_sar64(v, q->s & 31u);
        r = t < -32768 ? -32768 : t > 32767 ? 32767 : (int32_t)t;
    }
    return BE_I8_SAT8(r + zp); /* |r| <= 32768: r + zp cannot overflow */
}

/* The RequantStage after a binary layer (sign-bit input: |acc| <= K, acc = K - 2d, 0 <= d <= K),
 * for the kernels that requantize their own accumulators ("tab" from its offset image, NEON's
 * "lanes", the ARM popcount drivers): with the zero point folded into the bias, Bz = Bh + zp 2^s
 * (Bh = B + 2^(s-1)), the code is SSAT8 of the high word of one 64-bit multiply-add, shifted by
 * u. For s >= 32: t = 0, u = s - 32. For 1 <= s < 32 (the usual case after a binary conv: its
 * accumulators are small, so the multiplier's scale leaves s near 30) the product is taken 2^t
 * larger, t = 32 - s, u = 0, since
 *     zp + floor((M acc + Bh) / 2^s) = floor((M (acc 2^t) + Bz 2^t) / 2^32)
 * exactly, as long as K 2^t fits int32 and (|M| K + |Bz|) 2^t fits int64 (t = 0 for s >= 32):
 * be_rq_bin_prepare checks both per channel, and s <= 55 (|zp 2^s| <= 2^62). The result then
 * fits int32, and SSAT8 of it is the reference's clamp(zp + (v >> s), -128, 127). Folding the
 * zero point saved the SSAT to 16 bits and the add of every output (2 of about 11 instructions
 * per output on the cortex-m4). */
typedef struct be_rq_bin {
    int64_t bh; /* Bz 2^t */
    int32_t m;
    uint32_t t, u;
} be_rq_bin;

/* The constants of channels [o0, o0 + n) of a binary layer (K = op->k); returns 0 when some
 * channel does not take the form above (s = 0 or s > 55, or a product that could overflow: the
 * caller then runs be_rq_apply), 2 when every channel has u = 0 (s <= 32: be_rq_bin_one_hi
 * applies), else 1. */
static inline int be_rq_bin_prepare(const be_op *op, uint32_t o0, uint32_t n, be_rq_bin *q)
{
    const int32_t *m = (const int32_t *)op->stage_a + o0;
    const uint8_t *sh = (const uint8_t *)op->stage_c + o0;
    const uint64_t k = op->k;
    const int64_t zp = op->zero_point; /* -128 .. 127 */
    uint32_t i;
    int all_u0 = 1;
    for (i = 0; i < n; i++) {
        const uint32_t s = sh[i], t = s >= 32u ? 0u : 32u - s;
        const int64_t bh = be_rq_bias(op, o0 + i);
        const uint64_t am = m[i] < 0 ? (uint64_t)0 - (uint64_t)(int64_t)m[i] : (uint64_t)m[i];
        const uint64_t ab = bh < 0 ? (uint64_t)0 - (uint64_t)bh : (uint64_t)bh; /* |Bh| < 2^63: loader */
        uint64_t az, abz;
        int64_t bz;
        if (s == 0u || s > 55u || (k << t) > (uint64_t)INT32_MAX)
            return 0;
        az = (uint64_t)(zp < 0 ? -zp : zp) << s; /* <= 2^62 */
        if (ab > (uint64_t)INT64_MAX - az)
            return 0;
        bz = bh + (zp < 0 ? -(int64_t)az : (int64_t)az);
        abz = bz < 0 ? (uint64_t)0 - (uint64_t)bz : (uint64_t)bz;
        if (am * k + abz > ((uint64_t)INT64_MAX >> t))
            return 0; /* (am < 2^31 and k < 2^32: am * k + abz cannot wrap) */
        q[i].m = m[i];
        q[i].t = t;
        q[i].u = s >= 32u ? s - 32u : 0u;
        q[i].bh = (int64_t)((uint64_t)bz << t);
        if (q[i].u != 0u)
            all_u0 = 0;
    }
    return all_u0 ? 2 : 1;
}

/* The int8 code of accumulator acc (|acc| <= K) of a channel prepared by be_rq_bin_prepare (the
 * zero point is in its bias). */
static inline __attribute__((always_inline)) int8_t be_rq_bin_one(const be_rq_bin *q, int32_t acc)
{
    const int64_t v = (int64_t)q->m * (int32_t)((uint32_t)acc << q->t) + q->bh;
    return (int8_t)BE_I8_SAT8(be_i8_sar32((int32_t)be_i8_sar64(v, 32u), q->u));
}

/* The same for a channel with u = 0 (be_rq_bin_prepare returned 2): the high word itself. */
static inline __attribute__((always_inline)) int8_t be_rq_bin_one_hi(const be_rq_bin *q, int32_t acc)
{
    const int64_t v = (int64_t)q->m * (int32_t)((uint32_t)acc << q->t) + q->bh;
    return (int8_t)BE_I8_SAT8((int32_t)be_i8_sar64(v, 32u));
}

#ifdef BE_ARM_HAVE_NEON
#include <arm_neon.h>
/* The codes of one channel's accumulators in 4 NEON lanes (be_rq_bin_one per lane): acc << t,
 * two VMLAL into int64 lanes (the zero point is in the bias), their high words (VSHRN #32), ASR
 * by u, then two saturating narrows (SAT8(SAT16(r)) = SAT8(r)). Lanes 0..3 of the result (the
 * NEON "lanes" kernels' RequantStage). */
static inline int8x8_t be_neon_rq_bin_lanes(int32x4_t a, const be_rq_bin *q)
{
    const int32x4_t as = vshlq_s32(a, vdupq_n_s32((int32_t)q->t)); /* |acc| 2^t fits int32: prepare */
    const int64x2_t b = vdupq_n_s64(q->bh);
    const int64x2_t lo = vmlal_n_s32(b, vget_low_s32(as), q->m), hi = vmlal_n_s32(b, vget_high_s32(as), q->m);
    const int32x4_t h = vshlq_s32(vcombine_s32(vshrn_n_s64(lo, 32), vshrn_n_s64(hi, 32)), vdupq_n_s32(-(int32_t)q->u));
    return vqmovn_s16(vcombine_s16(vqmovn_s32(h), vdup_n_s16(0)));
}
#endif

/* A variant may requantize a block whose shifts are all >= 32 in vector lanes: it defines
 * BE_I8_PUT_HIGH as the name of its function before including this header (and defines the
 * function after it): dst[i] = the code of acc[i] with constants q[i], for i < n <= BE_I8_BLOCK
 * (q and acc are arrays of BE_I8_BLOCK entries: whole vectors may be read, only n bytes are
 * written). */
#ifdef BE_I8_PUT_HIGH
static void BE_I8_PUT_HIGH(const struct be_i8_rq *q, const int32_t *acc, uint32_t n, int32_t zp, int8_t *dst);
#endif

/* Channels [o0, o0 + n) of one output pixel (threshold stages: cleared before) from their exact
 * accumulators; q: the chunk's prepared requant constants (q[0] is channel o0), all_high from
 * be_i8_rq_prepare. Other stages: be_stage_put_block (sign: o0 % 32 + n <= 32). */
static inline be_status be_i8_put(const be_op *op, const be_i8_rq *q, int all_high, void *out_pixel, uint32_t o0,
                                  uint32_t n, const int32_t *acc)
{
    if (op->stage == BE_STAGE_REQUANT) {
        int8_t *dst = (int8_t *)out_pixel + o0;
        const int32_t zp = op->zero_point;
        uint32_t i;
        if (all_high) {
#ifdef BE_I8_PUT_HIGH
            BE_I8_PUT_HIGH(q, acc, n, zp, dst);
#else
            for (i = 0; i < n; i++) {
                const int64_t v = (int64_t)q[i].m * acc[i] + q[i].bh;
                const int32_t r = BE_I8_SAT16(be_i8_sar32((int32_t)be_i8_sar64(v, 32u), q[i].s));
                dst[i] = (int8_t)BE_I8_SAT8(r + zp);
            }
#endif
        } else {
            for (i = 0; i < n; i++)
                dst[i] = (int8_t)be_i8_rq_one(q + i, acc[i], zp);
        }
        return BE_OK;
    }
    return be_stage_put_block(op, out_pixel, o0, n, acc);
}

/* ------------------------------------------------ fused rows (Thumb-2 assembly, shared) */

#if defined(BE_ARM_T2_ASM)
/* The fused int8 rows of be_i8_dsp.c (SMLAD over int16 pairs) and be_i8_mac.c (MLA over int32
 * codes), for a RequantStage whose shifts are all >= 32: per output pixel one asm loop over a
 * chunk of channels, each channel a table row of its weights in the layout the variant's dot
 * wants, then the requant words be_i8_row_rq writes. The dot is the variant's; the stage is
 * BE_I8_ROW_STAGE: SMLAL (v = M * acc + Bh, exact in 64 bits: the loader's bound), ASR of the
 * high word by s - 32, SSAT 16, the zero point (ASR #16 of the last word: ASR by a register
 * reads only its low byte), SSAT 8, STRB; BE_I8_ROW_NEXT ends the loop after the row that
 * carries BE_I8_ROW_LAST (bit 8 of the last word), so no counter is needed. Operands: %[p] the
 * table, %[d] the output, %[a] the dot, %[w0]..%[w3] ascending registers, %[last]. */
#define BE_I8_ROW_LAST 0x100u
#define BE_I8_ROW_STAGE                                                                          \
    "ldmia %[p]!, {%[w0], %[w1], %[w2], %[w3]}\n\t"                                               \
    "smlal %[w0], %[w1], %[w2], %[a]\n\t"                                                         \
    "asr %[w1], %[w1], %[w3]\n\t"                                                                 \
    "ssat %[w1], #16, %[w1]\n\t"                                                                  \
    "add %[w1], %[w1], %[w3], asr #16\n\t"                                                        \
    "ssat %[w1], #8, %[w1]\n\t"                                                                   \
    "strb %[w1], [%[d]], #1\n\t"
#define BE_I8_ROW_NEXT                                                                           \
    "tst %[w3], %[last]\n\t"                                                                      \
    "beq 1b\n\t"

/* A pixel over a patch in memory (%[xp], 4 words per LDM, stepped back by BACK bytes after each
 * channel's dot): NAME(tbl, patch, dst) runs BODY (the dot: LDMs of %[x0]..%[x3] and %[w0]..
 * %[w3] into %[a]), the stage and the step back, channel after channel. */
#define BE_I8_ROW_PIXEL(NAME, BODY, BACK)                                                        \
    static __attribute__((noinline)) void NAME(const uint32_t *tbl, const void *patch, int8_t *dst) \
    {                                                                                            \
        register const uint32_t *p __asm__("lr") = tbl;                                          \
        register const void *xp __asm__("r12") = patch;                                          \
        register int8_t *d __asm__("r3") = dst;                                                  \
        register uint32_t x0 __asm__("r0"), x1 __asm__("r1"), x2 __asm__("r2"), x3 __asm__("r9"); \
        register uint32_t w0 __asm__("r4"), w1 __asm__("r5"), w2 __asm__("r6"), w3 __asm__("r8"); \
        register int32_t a __asm__("r10");                                                       \
        __asm__ volatile("1:\n\t" BODY BE_I8_ROW_STAGE "sub %[xp], %[xp], #" BACK "\n\t" BE_I8_ROW_NEXT \
                         : [p] "+r"(p), [xp] "+r"(xp), [d] "+r"(d), [x0] "=&r"(x0), [x1] "=&r"(x1), \
                           [x2] "=&r"(x2), [x3] "=&r"(x3), [w0] "=&r"(w0), [w1] "=&r"(w1),       \
                           [w2] "=&r"(w2), [w3] "=&r"(w3), [a] "=&r"(a)                          \
                         : [last] "I"(BE_I8_ROW_LAST)                                            \
                         : "cc", "memory");                                                      \
    }

/* The 4 requant words of a row from its prepared constants; `last`: the chunk's last row. */
static inline void be_i8_row_rq(const be_i8_rq *q, int32_t zp, int last, uint32_t *r)
{
    const uint64_t bh = (uint64_t)q->bh;
    r[0] = (uint32_t)bh;
    r[1] = (uint32_t)(bh >> 32);
    r[2] = (uint32_t)q->m;
    r[3] = q->s | (uint32_t)zp << 16 | (last ? BE_I8_ROW_LAST : 0u);
}
#endif

/* ---------------------------------------------------------------------------- patches */

/* acc[r] += sum_{j < n} w[r * rb + j] * x_j for r < rows (1..4); x in the core's layout, element
 * 0 at the start of a quad; xbias: the patch holds x - xbias (S8 over u8 codes: 128), the core
 * adds xbias * sum_j w[r * rb + j]. */
typedef void (*be_i8_dot_fn)(const int8_t *w, uint32_t rb, const void *x, uint32_t n, uint32_t rows, int32_t xbias,
                             int32_t *acc);
/* Elements [e, e + n) of a patch: n codes from src (u8 or i8 bytes, any alignment), or n times
 * the stored value `code` (the zero point; S8 over u8 codes: zero point - 128). */
typedef void (*be_i8_copy_fn)(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8);
typedef void (*be_i8_fill_fn)(void *patch, uint32_t e, uint32_t n, int32_t code);

/* The be_i8_copy_fn / be_i8_fill_fn of the BE_I8_RAW layout: the code bytes as they are. On
 * NEON builds GCC vectorises the plain loops (the ResNet's int8 layers on armv7-virt: stem
 * 354,674 -> 342,380 instructions with them); elsewhere the pointer is hidden from the optimiser
 * so that the short runs do not become calls to picolibc's byte-loop memcpy / memset. */
#if defined(BE_ARM_HAVE_NEON)
#define BE_I8_RAW_STEP(d)
#else
#define BE_I8_RAW_STEP(d) BE_OPAQUE_PTR(d)
#endif

static inline void be_i8_copy_raw(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    uint8_t *d = (uint8_t *)patch + e;
    (void)is_i8;
    for (; n > 0u; n--) {
        BE_I8_RAW_STEP(d);
        *d++ = *src++;
    }
}

static inline void be_i8_fill_raw(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    uint8_t *d = (uint8_t *)patch + e;
    for (; n > 0u; n--) {
        BE_I8_RAW_STEP(d);
        *d++ = (uint8_t)code;
    }
}

/* Position of element e in an S16Q patch (int16 units): quads stored (x0, x2, x1, x3). */
static inline uint32_t be_i8_q(uint32_t e)
{
    return (e & ~3u) | ((e & 1u) << 1) | ((e >> 1) & 1u);
}

/* The code of byte i of a u8 / i8 value. */
static inline int32_t be_i8_code(const uint8_t *src, uint32_t i, int is_i8)
{
    return is_i8 ? (int32_t)(int8_t)src[i] : (int32_t)src[i];
}

/* The patch of group g (C/g channels from channel g * C/g) of output pixel (oy, ox): KH * KW *
 * C/g elements; S16Q: the elements after them up to a whole quad get code 0 (be_i8_im2col: a
 * window of groups = 1 inside the image as KH runs, anything else here). */
static inline void be_i8_im2col_any(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint32_t g,
                                    void *patch, int layout, be_i8_copy_fn copy, be_i8_fill_fn fill)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, groups = op->groups > 1u ? op->groups : 1u, cg = c / groups, kw = op->kw;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    const int32_t w = (int32_t)vi->w, zp = vi->zero_point;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const int32_t pad = layout == BE_I8_S8 && !is_i8 ? zp - 128 : zp; /* the code a padding position holds */
    const int inside_x = x0 >= 0 && x0 + (int32_t)kw <= w;
    uint32_t ky, kx, e = 0u;
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        const uint8_t *row;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            fill(patch, e, kw * cg, pad);
            e += kw * cg;
            continue;
        }
        row = in + (size_t)iy * vi->w * c + (size_t)g * cg;
        if (inside_x && cg == c) { /* KW neighbouring pixels: one run */
            copy(patch, e, row + (size_t)x0 * c, kw * c, is_i8);
            e += kw * c;
            continue;
        }
        for (kx = 0; kx < kw; kx++, e += cg) {
            const int32_t ix = x0 + (int32_t)kx;
            if (ix < 0 || ix >= w)
                fill(patch, e, cg, pad);
            else
                copy(patch, e, row + (size_t)ix * c, cg, is_i8);
        }
    }
    if (layout == BE_I8_S16Q)
        for (; (e & 3u) != 0u; e++)
            ((int16_t *)patch)[be_i8_q(e)] = 0;
}

static inline void be_i8_im2col(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint32_t g,
                                void *patch, int layout, be_i8_copy_fn copy, be_i8_fill_fn fill)
{
    if (op->groups <= 1u) { /* the window inside the image: KH straight runs */
        const be_value *v = &op->in;
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
        if (y0 >= 0 && x0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)v->h && x0 + (int32_t)op->kw <= (int32_t)v->w) {
            const uint32_t run = op->kw * v->c, pitch = v->w * v->c;
            const uint8_t *src = in + ((size_t)y0 * v->w + (uint32_t)x0) * v->c;
            uint32_t ky, e = 0u;
            for (ky = 0; ky < op->kh; ky++, e += run, src += pitch)
                copy(patch, e, src, run, v->kind == BE_KIND_I8);
            if (layout == BE_I8_S16Q)
                for (; (e & 3u) != 0u; e++)
                    ((int16_t *)patch)[be_i8_q(e)] = 0;
            return;
        }
    }
    be_i8_im2col_any(op, in, oy, ox, g, patch, layout, copy, fill);
}
/* Threshold stages OR bits into the output: clear all of it first (the chunks run pixels in
 * their inner loop). */
static inline void be_i8_clear_out(const be_op *op, void *out)
{
    uint32_t p;
    if (op->stage == BE_STAGE_THRESHOLD)
        for (p = 0; p < op->out.h * op->out.w; p++)
            be_stage_clear(op, (uint8_t *)out + (size_t)p * op->out.pixel_bytes);
}

/* ----------------------------------------------------------------------------- drivers */

/* Conv2d: chunks of 32 output channels; per output pixel every group's patch once per chunk,
 * rows 4 at a time. */
static inline be_status be_i8_conv2d(const be_op *op, const void *in, void *out, void *scratch, int layout,
                                     be_i8_copy_fn copy, be_i8_fill_fn fill, be_i8_dot_fn dot)
{
    const be_value *vo = &op->out;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, og = op->out_ch / groups, kg = op->k;
    const int32_t xbias = layout == BE_I8_S8 && op->in.kind == BE_KIND_U8 ? 128 : 0;
    const int8_t *wts = (const int8_t *)op->weights;
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, oy, ox, o;
    be_status st = BE_OK;
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                be_zero_words((be_word *)(void *)acc, nb); /* a loop GCC makes a memset call (a byte loop) */
                if (groups == 1u) {
                    be_i8_im2col(op, (const uint8_t *)in, oy, ox, 0u, scratch, layout, copy, fill);
                    for (o = 0; o < nb; o += 4u)
                        dot(wts + (size_t)(o0 + o) * kg, kg, scratch, kg, nb - o < 4u ? nb - o : 4u, xbias, acc + o);
                } else {
                    for (o = 0; o < nb;) { /* the chunk's channels, group by group */
                        const uint32_t g = (o0 + o) / og, gend = (g + 1u) * og - o0 < nb ? (g + 1u) * og - o0 : nb;
                        be_i8_im2col(op, (const uint8_t *)in, oy, ox, g, scratch, layout, copy, fill);
                        while (o < gend) {
                            const uint32_t r = gend - o < 4u ? gend - o : 4u;
                            dot(wts + (size_t)(o0 + o) * kg, kg, scratch, kg, r, xbias, acc + o);
                            o += r;
                        }
                    }
                }
                s = be_i8_put(op, rq, high, px_out, o0, nb, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

/* Dense: 32 rows at a time, the input converted in chunks of BE_I8_CHUNK elements. */
static inline be_status be_i8_dense(const be_op *op, const void *in, void *out, int layout, be_i8_copy_fn copy,
                                    be_i8_dot_fn dot)
{
    const uint32_t k = op->in_ch;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    const int32_t xbias = layout == BE_I8_S8 && !is_i8 ? 128 : 0;
    const int8_t *wts = (const int8_t *)op->weights;
    uint32_t buf[BE_I8_CHUNK / 2u]; /* BE_I8_CHUNK int16 (or bytes) */
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, c0, o;
    be_status st = BE_OK;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        be_status s;
        be_zero_words((be_word *)(void *)acc, nb);
        for (c0 = 0; c0 < k; c0 += BE_I8_CHUNK) {
            const uint32_t n = k - c0 < BE_I8_CHUNK ? k - c0 : BE_I8_CHUNK;
            const void *x = buf;
            uint32_t e;
            if (layout == BE_I8_RAW) /* the input itself (the core reads bytes) */
                x = (const uint8_t *)in + c0;
            else
                copy(buf, 0u, (const uint8_t *)in + c0, n, is_i8);
            if (layout == BE_I8_S16Q)
                for (e = n; (e & 3u) != 0u; e++)
                    ((int16_t *)(void *)buf)[be_i8_q(e)] = 0;
            for (o = 0; o < nb; o += 4u)
                dot(wts + (size_t)(o0 + o) * k + c0, k, x, n, nb - o < 4u ? nb - o : 4u, xbias, acc + o);
        }
        s = be_i8_put(op, rq, high, out, o0, nb, acc);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

/* ------------------------------------------------------------------------ depthwise */

/* Depthwise: groups = C, O = m C (channel multiplier m): output channel o reads input channel
 * o / m with its KH * KW weights at o * KH * KW. */
static inline int be_i8_is_depthwise(const be_op *op)
{
    return op->type == BE_OP_CONV2D && op->groups > 1u && op->groups == op->in_ch;
}

/* Tap addresses of output pixel (oy, ox): taps[t] = the input pixel of tap t = (ky, kx) plus
 * c0 bytes, or zbuf (zero points) for a padding tap. Returns the number of taps. */
static inline uint32_t be_i8_dw_taps(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint32_t c0,
                                     const uint8_t *zbuf, const uint8_t **taps)
{
    const be_value *vi = &op->in;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    const size_t pitch = (size_t)vi->w * vi->c;
    uint32_t ky, kx, t = 0u;
    if (y0 >= 0 && x0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h && x0 + (int32_t)op->kw <= (int32_t)vi->w) {
        /* the window inside the image (most pixels): no bounds tests */
        const uint8_t *row = in + (size_t)y0 * pitch + (size_t)x0 * vi->c + c0;
        for (ky = 0; ky < op->kh; ky++, row += pitch) {
            const uint8_t *p = row;
            for (kx = 0; kx < op->kw; kx++, p += vi->c)
                taps[t++] = p;
        }
        return t;
    }
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        const int row_in = iy >= 0 && iy < (int32_t)vi->h;
        const uint8_t *row = in + (row_in ? (size_t)iy * pitch : 0u) + c0;
        for (kx = 0; kx < op->kw; kx++, t++) {
            const int32_t ix = x0 + (int32_t)kx;
            taps[t] = row_in && ix >= 0 && ix < (int32_t)vi->w ? row + (size_t)ix * vi->c : zbuf;
        }
    }
    return t;
}

/* acc[i] (i < n) of output channels o0 + i of one pixel, lanes: taps[t] + j is input channel
 * c0 + j (c0 = o0 / m); wt: the variant's weights of the chunk (prepared by its dw_weights). */
typedef void (*be_i8_dw_fn)(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0, uint32_t n,
                            const void *wt, int32_t *acc);
typedef void (*be_i8_dw_weights_fn)(const be_op *op, uint32_t o0, uint32_t n, void *wt);

/* The generic lane core (plain C, any channel multiplier): per output channel the KH * KW
 * products, two channels per tap address load. */
static inline void be_i8_dw_core_c(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0,
                                   uint32_t n, int32_t *acc)
{
    const uint32_t m = op->out_ch / op->in_ch, c0 = o0 / m;
    const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * nt;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    uint32_t i, t;
    for (i = 0; i + 2u <= n; i += 2u) {
        const uint32_t j0 = (o0 + i) / m - c0, j1 = (o0 + i + 1u) / m - c0;
        const int8_t *w0 = w + (size_t)i * nt, *w1 = w0 + nt;
        int32_t a0 = 0, a1 = 0;
        if (is_i8) {
            for (t = 0; t < nt; t++) {
                const int8_t *p = (const int8_t *)taps[t];
                a0 += w0[t] * p[j0];
                a1 += w1[t] * p[j1];
            }
        } else {
            for (t = 0; t < nt; t++) {
                const uint8_t *p = taps[t];
                a0 += w0[t] * p[j0];
                a1 += w1[t] * p[j1];
            }
        }
        acc[i] = a0;
        acc[i + 1u] = a1;
    }
    if (i < n) {
        const uint32_t j0 = (o0 + i) / m - c0;
        const int8_t *w0 = w + (size_t)i * nt;
        int32_t a0 = 0;
        for (t = 0; t < nt; t++)
            a0 += w0[t] * be_i8_code(taps[t], j0, is_i8);
        acc[i] = a0;
    }
}

/* Depthwise driver: chunks of 32 output channels; per pixel the tap table, then `core` (NULL:
 * the generic C core) on the chunk. zbuf: the zero point as bytes, BE_I8_BLOCK of them (a
 * chunk reads at most 32 input channels). */
static inline be_status be_i8_dw(const be_op *op, const void *in, void *out, be_i8_dw_fn core,
                                 be_i8_dw_weights_fn prep, void *wt)
{
    const be_value *vo = &op->out;
    const uint32_t m = op->out_ch / op->in_ch;
    const uint8_t *taps[BE_I8_DW_TAPS];
    uint8_t zbuf[BE_I8_BLOCK + 4u];
    be_i8_rq rq[BE_I8_BLOCK];
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, oy, ox, i;
    be_status st = BE_OK;
    for (i = 0; i < sizeof zbuf; i++)
        zbuf[i] = (uint8_t)op->in.zero_point;
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        if (prep != NULL)
            prep(op, o0, nb, wt);
        for (oy = 0; oy < vo->h; oy++) {
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                const uint32_t nt = be_i8_dw_taps(op, (const uint8_t *)in, oy, ox, o0 / m, zbuf, taps);
                be_status s;
                if (core != NULL)
                    core(op, taps, nt, o0, nb, wt, acc);
                else
                    be_i8_dw_core_c(op, taps, nt, o0, nb, acc);
                s = be_i8_put(op, rq, high, px_out, o0, nb, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

#endif /* BE_ARM_I8_H */
