/* be_bin_neon.c -- "neon": binary Dense / Conv2d with Advanced SIMD (aarch64; armv7 -mfpu=neon).
 *
 * A group of weight rows shares each input load: eight rows on aarch64 (32 vector registers),
 * four on armv7 (16). Per 128 bits and row: VEOR, VCNT.8 (byte popcounts, <= 8) and one
 * pairwise widening add into 16-bit lanes (UADALP / VPADAL.U8). On aarch64 the loop takes
 * 512 bits per step with one LD1 {4 registers} per pointer and adds the four byte counts
 * first (<= 32 per byte) before the single widening add: 1 + 8 loads, 8 x (4 EOR + 4 CNT +
 * 3 ADD + 1 UADALP) and 2 loop instructions = 107 for 4096 MACs. armv7 has no multi-register
 * load intrinsic in GCC 12: 128 bits per step there.
 *
 * The words left over (nw % 4: 3 x 3 x 32 channels is 9 words, 3 x 3 x 64 is 18) are not done
 * row by row. Each four rows' accumulators are reduced pairwise to one vector whose lanes
 * belong to one row each, first [row 0: 4 lanes | row 1: 4 lanes] per pair, then
 * [2 | 2 | 2 | 2]; a 64-bit tail of two rows side by side in one Q register ([row 0: 8 bytes |
 * row 1: 8 bytes]) and a 32-bit tail of four rows ([4 | 4 | 4 | 4 bytes]) have exactly those
 * layouts once their byte counts are added pairwise, so each tail costs one VEOR, VCNT and
 * pairwise add per row pair / row quad. No scalar popcount, no __builtin_popcount.
 *
 * Layers with a sign threshold stage pack their output bits here too, four channels per NEON
 * step (sign_bits, be_conv2d_bin_neon). A Dense of rows of at most 15 words is counted eight rows
 * at a time on aarch64 (four on armv7) with the tails gathered across rows and its sign or score
 * stage in registers (dense_short, scores_short; over 2 bit-planes also into three levels,
 * planes_short); every other stage goes through the shared driver
 * (be_arm_common.c) with popc_neon as its popcount core. docs/kernels.md "NEON on the virt
 * boards" has the instruction counts.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>

#include "arm/be_arm.h"

#if defined(__aarch64__)
#define GROUP 8u
#else
#define GROUP 4u
#endif

/* Rows are done in pieces of at most this many words, so that no 16-bit lane overflows: a
 * lane of an accumulator gains <= 16 per 128 bits, the two reductions add four of them, and
 * the tails add <= 2 x 16 + 16, so a piece of nw words ends with lanes <= 64 (nw / 4) + 48
 * <= 65535 for nw <= 4095. Longer rows (over 131,040 bits) are summed piece by piece in 32
 * bits. The build can lower it (-DBE_NEON_PIECE_WORDS=5 exercises the piecewise path). */
#ifndef BE_NEON_PIECE_WORDS
#define BE_NEON_PIECE_WORDS 4095u
#endif

/* Neighbouring lanes of a, then of b, added: [a: 4 lanes | b: 4 lanes]. Lanes 2k and 2k + 1
 * go to lane k, so [row 0: 4 | row 1: 4] becomes [row 0: 2 | row 1: 2] per half. */
static inline uint16x8_t pair_sums(uint16x8_t a, uint16x8_t b)
{
#if defined(__aarch64__)
    return vpaddq_u16(a, b);
#else /* armv7 has pairwise adds on D registers only */
    return vcombine_u16(vpadd_u16(vget_low_u16(a), vget_high_u16(a)), vpadd_u16(vget_low_u16(b), vget_high_u16(b)));
#endif
}

/* a + the pairwise sums of c's bytes (UADALP / VPADAL.U8). On armv7 GCC 12 copies the
 * accumulator through other registers around each VPADAL (seven VMOVs per 128-bit step of
 * four rows: 26 instructions instead of 19); the instruction as inline assembly, accumulating
 * in place, has none. */
static inline uint16x8_t padal(uint16x8_t a, uint8x16_t c)
{
#if defined(__aarch64__)
    return vpadalq_u8(a, c);
#else
    __asm__("vpadal.u8 %q0, %q1" : "+w"(a) : "w"(c));
    return a;
#endif
}

/* Byte popcounts of x XOR w over 128 bits. */
static inline uint8x16_t cnt_xor(uint8x16_t x, uint8x16_t w)
{
    return vcntq_u8(veorq_u8(x, w));
}

/* Byte pointers for the loads: vld1q_u8 needs no alignment beyond the words'. */
#define B(p) ((const uint8_t *)(p))
#define U32(p) ((const uint32_t *)(const void *)(p))

/* 512 bits of row p against xv (aarch64): the four byte counts added (<= 32), then widened. */
#define ROW512(a, p)                                                                                               \
    do {                                                                                                           \
        const uint8x16x4_t v = vld1q_u8_x4(p);                                                                     \
        p += 64;                                                                                                   \
        a = vpadalq_u8(a, vaddq_u8(vaddq_u8(cnt_xor(xv.val[0], v.val[0]), cnt_xor(xv.val[1], v.val[1])),          \
                                   vaddq_u8(cnt_xor(xv.val[2], v.val[2]), cnt_xor(xv.val[3], v.val[3]))));        \
    } while (0)
/* GCC 12 would start all the rows' 64-byte loads first and run out of the 32 registers
 * (accumulators spilled to the stack inside the loop), and would address the rows from one
 * shared index (an ADD per row and step: LD1 {4 registers} has no register offset). This
 * empty asm, which may read memory and change p, keeps each row's load after the previous
 * row's sum and p a pointer of its own, advanced by the load (post-index). */
#define IN_ORDER(a, p) __asm__("" : "+w"(a), "+r"(p) : : "memory")
/* 128 bits of row p against xv. */
#define ROW128(a, p)                                                                                               \
    do {                                                                                                           \
        a = padal(a, cnt_xor(xv, vld1q_u8(p)));                                                               \
        p += 16;                                                                                                   \
    } while (0)
/* The 64-bit tails of rows p and q side by side: [p: 8 bytes | q: 8 bytes], into h = [p | q]. */
#define TAIL64(h, p, q) h = vpadalq_u8(h, cnt_xor(x2, vcombine_u8(vld1_u8(p), vld1_u8(q))))
/* The 32-bit tails of rows p, q, r, s in the four lanes, into h = [p | q | r | s]. */
#define TAIL32(h, p, q, r, s)                                                                                      \
    do {                                                                                                           \
        uint32x4_t v = vld1q_dup_u32(U32(p));                                                                      \
        v = vld1q_lane_u32(U32(q), v, 1);                                                                          \
        v = vld1q_lane_u32(U32(r), v, 2);                                                                          \
        v = vld1q_lane_u32(U32(s), v, 3);                                                                          \
        h = vpadalq_u8(h, cnt_xor(x1, vreinterpretq_u8_u32(v)));                                                   \
    } while (0)

/* 512 bits of row p against xv, the first step: the accumulator starts from its widened sums. */
#define FIRST512(a, p)                                                                                             \
    do {                                                                                                           \
        const uint8x16x4_t v = vld1q_u8_x4(p);                                                                     \
        p += 64;                                                                                                   \
        a = vpaddlq_u8(vaddq_u8(vaddq_u8(cnt_xor(xv.val[0], v.val[0]), cnt_xor(xv.val[1], v.val[1])),             \
                                vaddq_u8(cnt_xor(xv.val[2], v.val[2]), cnt_xor(xv.val[3], v.val[3]))));           \
    } while (0)

/* c[k] = popcount(x XOR row k) for the g rows w + off[k] (g = 4, or 8 on aarch64; a constant
 * where this is inlined), over nw <= BE_NEON_PIECE_WORDS words (c: g / 4 vectors, one 32-bit
 * lane per row). On aarch64 the accumulators start from the first 512-bit step (no zeroing). */
static inline __attribute__((always_inline)) void popc_group(const be_word *x, const be_word *w, const uint32_t *off,
                                                             uint32_t nw, uint32_t g, uint32x4_t *c)
{
    const uint8_t *xp = B(x), *p0 = B(w + off[0]), *p1 = B(w + off[1]), *p2 = B(w + off[2]), *p3 = B(w + off[3]);
    uint16x8_t a0, a1, a2, a3, h01, h23;
#if GROUP == 8u
    const uint8_t *p4 = B(w + off[g > 4u ? 4 : 0]), *p5 = B(w + off[g > 4u ? 5 : 0]);
    const uint8_t *p6 = B(w + off[g > 4u ? 6 : 0]), *p7 = B(w + off[g > 4u ? 7 : 0]);
    uint16x8_t a4, a5, a6, a7, h45, h67;
#endif
    uint32_t j, t = nw / 4u; /* 128-bit steps */
    (void)g; /* armv7: always four rows */
#if defined(__aarch64__)
    if (t >= 4u) { /* 512 bits per step */
        const uint8x16x4_t xv = vld1q_u8_x4(xp);
        xp += 64;
        FIRST512(a0, p0);
        IN_ORDER(a0, p0);
        FIRST512(a1, p1);
        IN_ORDER(a1, p1);
        FIRST512(a2, p2);
        IN_ORDER(a2, p2);
        FIRST512(a3, p3);
        IN_ORDER(a3, p3);
        if (g > 4u) {
            FIRST512(a4, p4);
            IN_ORDER(a4, p4);
            FIRST512(a5, p5);
            IN_ORDER(a5, p5);
            FIRST512(a6, p6);
            IN_ORDER(a6, p6);
            FIRST512(a7, p7);
            IN_ORDER(a7, p7);
        } else {
            a4 = a5 = a6 = a7 = a0;
        }
    } else {
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = vdupq_n_u16(0);
    }
    for (j = t / 4u; j > 1u; j--) { /* the other 512-bit steps */
        const uint8x16x4_t xv = vld1q_u8_x4(xp);
        xp += 64;
        ROW512(a0, p0);
        IN_ORDER(a0, p0);
        ROW512(a1, p1);
        IN_ORDER(a1, p1);
        ROW512(a2, p2);
        IN_ORDER(a2, p2);
        ROW512(a3, p3);
        IN_ORDER(a3, p3);
        if (g > 4u) {
            ROW512(a4, p4);
            IN_ORDER(a4, p4);
            ROW512(a5, p5);
            IN_ORDER(a5, p5);
            ROW512(a6, p6);
            IN_ORDER(a6, p6);
            ROW512(a7, p7);
            IN_ORDER(a7, p7);
        }
    }
    t %= 4u;
#else
    a0 = a1 = a2 = a3 = vdupq_n_u16(0);
#endif
    for (j = t; j > 0u; j--) { /* 128 bits per step */
        const uint8x16_t xv = vld1q_u8(xp);
        xp += 16;
        ROW128(a0, p0);
        ROW128(a1, p1);
        ROW128(a2, p2);
        ROW128(a3, p3);
#if GROUP == 8u
        if (g > 4u) {
            ROW128(a4, p4);
            ROW128(a5, p5);
            ROW128(a6, p6);
            ROW128(a7, p7);
        }
#endif
    }
    h01 = pair_sums(a0, a1); /* [row 0 | row 1] */
    h23 = pair_sums(a2, a3);
#if GROUP == 8u
    h45 = pair_sums(a4, a5);
    h67 = pair_sums(a6, a7);
#endif
    if (nw & 2u) { /* two words left */
        const uint8x8_t xd = vld1_u8(xp);
        const uint8x16_t x2 = vcombine_u8(xd, xd);
        xp += 8;
        TAIL64(h01, p0, p1);
        TAIL64(h23, p2, p3);
        p0 += 8;
        p1 += 8;
        p2 += 8;
        p3 += 8;
#if GROUP == 8u
        if (g > 4u) {
            TAIL64(h45, p4, p5);
            TAIL64(h67, p6, p7);
            p4 += 8;
            p5 += 8;
            p6 += 8;
            p7 += 8;
        }
#endif
    }
    h01 = pair_sums(h01, h23); /* [row 0 | row 1 | row 2 | row 3] */
#if GROUP == 8u
    h45 = pair_sums(h45, h67);
#endif
    if (nw & 1u) { /* one word left */
        const uint8x16_t x1 = vreinterpretq_u8_u32(vld1q_dup_u32(U32(xp)));
        TAIL32(h01, p0, p1, p2, p3);
#if GROUP == 8u
        if (g > 4u)
            TAIL32(h45, p4, p5, p6, p7);
#endif
    }
    c[0] = vpaddlq_u16(h01); /* one 32-bit lane per row */
#if GROUP == 8u
    if (g > 4u)
        c[1] = vpaddlq_u16(h45);
#endif
}

/* off[k] = min(k, n - 1) * row_words for k < GROUP (< 2^26: K < 2^28, loader); vector
 * instructions (a scalar loop here costs a group's set-up). */
static inline void row_offsets(uint32_t row_words, uint32_t n, uint32_t *off)
{
    static const uint32_t rows[8] = {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u};
    const uint32x4_t last = vdupq_n_u32(n - 1u);
    uint32_t k;
    for (k = 0; k < GROUP; k += 4u)
        vst1q_u32(off + k, vmulq_n_u32(vminq_u32(vld1q_u32(rows + k), last), row_words));
}

/* The variant's core (be_arm_popc_fn) for nw <= BE_NEON_PIECE_WORDS. */
static void popc_piece(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    /* Groups of GROUP consecutive rows, then the rows left: on aarch64 up to four of them as a
     * group of four ending at row n - 1 (n >= 4); otherwise, with n >= GROUP, a group moved back
     * to end at row n - 1 (it recomputes some rows, with the same results); with n < GROUP one
     * group that repeats row n - 1, of which only n results are kept. */
    uint32_t off[GROUP];
    uint32x4_t c[GROUP / 4u];
    uint32_t i, k;
    row_offsets(row_words, n, off);
    for (i = 0; i + GROUP <= n; i += GROUP) {
        popc_group(x, w + (size_t)i * row_words, off, nw, GROUP, c);
        for (k = 0; k < GROUP / 4u; k++)
            vst1q_u32(d + i + 4u * k, c[k]);
    }
    if (i == n)
        return;
#if GROUP == 8u
    if (n >= 4u && n - i <= 4u) {
        popc_group(x, w + (size_t)(n - 4u) * row_words, off, nw, 4u, c);
        vst1q_u32(d + n - 4u, c[0]);
        return;
    }
#endif
    if (n >= GROUP) {
        popc_group(x, w + (size_t)(n - GROUP) * row_words, off, nw, GROUP, c);
        for (k = 0; k < GROUP / 4u; k++)
            vst1q_u32(d + n - GROUP + 4u * k, c[k]);
    } else {
        uint32_t s[GROUP];
        popc_group(x, w, off, nw, GROUP, c);
        for (k = 0; k < GROUP / 4u; k++)
            vst1q_u32(s + 4u * k, c[k]);
        for (k = 0; k < n; k++)
            d[k] = s[k];
    }
}

static void popc_neon(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    uint32_t part[32], i, j;
    popc_piece(x, w, row_words, nw < BE_NEON_PIECE_WORDS ? nw : BE_NEON_PIECE_WORDS, n, d);
    for (j = BE_NEON_PIECE_WORDS; j < nw; j += BE_NEON_PIECE_WORDS) { /* rows over 131,040 bits */
        popc_piece(x + j, w + j, row_words, nw - j < BE_NEON_PIECE_WORDS ? nw - j : BE_NEON_PIECE_WORDS, n, part);
        for (i = 0; i < n; i++)
            d[i] += part[i];
    }
}

/* The OR of the four lanes, whose bits are disjoint (so their sum). */
static inline uint32_t or_lanes(uint32x4_t v)
{
#if defined(__aarch64__)
    return vaddvq_u32(v);
#else
    const uint32x2_t h = vpadd_u32(vget_low_u32(v), vget_high_u32(v));
    return vget_lane_u32(h, 0) + vget_lane_u32(h, 1);
#endif
}

/* Short Dense rows (aarch64 and armv7): rows of nw <= SHORT_MAX_WORDS words back to back, nv =
 * nw / 4 whole vectors and a tail of tw = nw % 4 words gathered across the rows of a group. */
#define SHORT_MAX_WORDS 15u

/* the byte counts of the nv whole vectors of the row at p (row k of the group: p = w + k step) */
#define SHORT_ROW(s, p)                                                                                        \
    do {                                                                                                       \
        s = vcntq_u8(veorq_u8(x0, vld1q_u8(p)));                                                               \
        if (nv > 1u)                                                                                           \
            s = vaddq_u8(s, vcntq_u8(veorq_u8(x1, vld1q_u8((p) + 16))));                                       \
        if (nv > 2u)                                                                                           \
            s = vaddq_u8(s, vcntq_u8(veorq_u8(x2, vld1q_u8((p) + 32))));                                       \
        (p) += step;                                                                                           \
    } while (0)

/* r0 .. r3 (r0 .. r7): the byte counts of the four (eight) rows at q, ROW(r, q) each (q advanced). */
#define ROWS4(ROW, q)                                                                                          \
    uint8x16_t r0, r1, r2, r3;                                                                                 \
    ROW(r0, q);                                                                                                \
    ROW(r1, q);                                                                                                \
    ROW(r2, q);                                                                                                \
    ROW(r3, q)
#define ROWS8(ROW, q)                                                                                          \
    ROWS4(ROW, q);                                                                                             \
    uint8x16_t r4, r5, r6, r7;                                                                                 \
    ROW(r4, q);                                                                                                \
    ROW(r5, q);                                                                                                \
    ROW(r6, q);                                                                                                \
    ROW(r7, q)

/* Four rows' 1-word tails at q, q + step, ... in the lanes of one vector (q advanced past them). */
static inline __attribute__((always_inline)) uint8x16_t tails4(const uint8_t **q, uint32_t step)
{
    const uint8_t *a = *q;
    uint32x4_t v = vld1q_dup_u32(U32(a));
    v = vld1q_lane_u32(U32(a + step), v, 1);
    v = vld1q_lane_u32(U32(a + 2u * step), v, 2);
    v = vld1q_lane_u32(U32(a + 3u * step), v, 3);
    *q = a + 4u * step;
    return vreinterpretq_u8_u32(v);
}

/* Two rows' 2-word tails at q and q + step side by side (q advanced past them). */
static inline __attribute__((always_inline)) uint8x16_t tails2(const uint8_t **q, uint32_t step)
{
    const uint8_t *a = *q;
    *q = a + 2u * step;
#if defined(__aarch64__)
    return vreinterpretq_u8_u64(
        vld1q_lane_u64((const uint64_t *)(const void *)(a + step), vld1q_dup_u64((const uint64_t *)(const void *)a), 1));
#else /* 32-bit elements: the rows are only word-aligned, and the bare-metal armv7 board (MMU off:
       * strongly-ordered memory) faults on a 64-bit element at a word address */
    return vreinterpretq_u8_u32(vcombine_u32(vld1_u32(U32(a)), vld1_u32(U32(a + step))));
#endif
}

/* The tails of a group of g rows at p (row k at p + k step, its tail at offset 16 nv): w1[j] the
 * last words of rows 4j .. 4j + 3 side by side (tw = 1 or 3), w2[j] the first two tail words of
 * rows 2j, 2j + 1 (tw >= 2); rows of one or two words are contiguous (plain loads). */
typedef struct {
    uint8x16_t w1[2], w2[4];
} group_tails;

static inline __attribute__((always_inline)) void load_tails(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                             uint32_t step, uint32_t g, group_tails *t)
{
    if (tw == 1u || tw == 3u) {
        const uint8_t *q = p + 16u * nv + 4u * (tw - 1u);
        if (nv == 0u && tw == 1u) {
            t->w1[0] = vld1q_u8(q);
            t->w1[1] = g == 8u ? vld1q_u8(q + 16) : t->w1[0];
        } else {
            t->w1[0] = tails4(&q, step);
            t->w1[1] = g == 8u ? tails4(&q, step) : t->w1[0];
        }
    }
    if (tw >= 2u) {
        const uint8_t *q = p + 16u * nv;
        if (nv == 0u && tw == 2u) {
            t->w2[0] = vld1q_u8(q);
            t->w2[1] = vld1q_u8(q + 16);
            t->w2[2] = g == 8u ? vld1q_u8(q + 32) : t->w2[0];
            t->w2[3] = g == 8u ? vld1q_u8(q + 48) : t->w2[0];
        } else {
            t->w2[0] = tails2(&q, step);
            t->w2[1] = tails2(&q, step);
            t->w2[2] = g == 8u ? tails2(&q, step) : t->w2[0];
            t->w2[3] = g == 8u ? tails2(&q, step) : t->w2[0];
        }
    }
}

/* The input's two words at x repeated in both halves (word-aligned: 32-bit elements). */
static inline uint8x16_t dup_pair(const be_word *x)
{
    const uint32x2_t v = vld1_u32(x);
    return vreinterpretq_u8_u32(vcombine_u32(v, v));
}

/* The sum of the 16 bytes of v (<= 255 each). */
static inline int32_t sum_bytes(uint8x16_t v)
{
#if defined(__aarch64__)
    return (int32_t)vaddlvq_u8(v);
#else
    const uint64x2_t t = vpaddlq_u32(vpaddlq_u16(vpaddlq_u8(v)));
    return (int32_t)(vgetq_lane_u64(t, 0) + vgetq_lane_u64(t, 1));
#endif
}

/* Short rows over 2 unsigned bit-planes (the qrelu2 layers: levels x = a + 2 b, plane b at
 * x + cw): with w bit 1 = -1,
 *     acc = sum_i w_i x_i = C - 2 (popcount(a AND w) + 2 popcount(b AND w)),
 *     C = popcount(a) + 2 popcount(b)   (once per call; be_dense_ref.c's formula),
 * so per row and vector one weight load, two AND, two CNT and one MLA by 2 (bytes <= 24). The
 * shared driver instead made three passes per row (each plane, then the weights' own count).
 * aarch64, eight rows: the per-row byte sums (<= 24 nv <= 72) reduced by one level of ADDP
 * (<= 144), widened (UADDLP) and reduced by two levels of 16-bit ADDP; the tails as in
 * short_tails8, widened before they are added; stages in registers: sign thresholds
 * (short_bits8), three levels on two planes (levels3_bits8: the qrelu2 hidden layers) and scores
 * (scores8); |acc| <= 3K <= 1440 fits the 16-bit lanes. armv7, four rows: planes_counts4. */
#define PLANES_VEC(a, b, w) vmlaq_u8(vcntq_u8(vandq_u8(a, w)), vcntq_u8(vandq_u8(b, w)), two)
#define PLANES_ROW(s, p)                                                                                       \
    do {                                                                                                       \
        s = PLANES_VEC(a0, b0, vld1q_u8(p));                                                                   \
        if (nv > 1u)                                                                                           \
            s = vaddq_u8(s, PLANES_VEC(a1, b1, vld1q_u8((p) + 16)));                                           \
        if (nv > 2u)                                                                                           \
            s = vaddq_u8(s, PLANES_VEC(a2, b2, vld1q_u8((p) + 32)));                                           \
        (p) += step;                                                                                           \
    } while (0)

/* What the 2-plane rows read of the input: each plane's whole vectors and its tails (the last word
 * in every lane, the first two tail words in both halves), and the constant 2. */
typedef struct {
    uint8x16_t a0, a1, a2, b0, b1, b2, at1, bt1, at2, bt2, two;
} planes_in;

static inline __attribute__((always_inline)) planes_in planes_input(const be_word *x, uint32_t nw)
{
    const uint32_t nv = nw / 4u, tw = nw % 4u;
    const be_word *y = x + nw; /* plane 1 (cw = nw: short_rows_kind) */
    planes_in v;
    v.two = vdupq_n_u8(2);
    v.a0 = nv > 0u ? vld1q_u8(B(x)) : v.two;
    v.b0 = nv > 0u ? vld1q_u8(B(y)) : v.two;
    v.a1 = nv > 1u ? vld1q_u8(B(x + 4)) : v.a0;
    v.b1 = nv > 1u ? vld1q_u8(B(y + 4)) : v.b0;
    v.a2 = nv > 2u ? vld1q_u8(B(x + 8)) : v.a0;
    v.b2 = nv > 2u ? vld1q_u8(B(y + 8)) : v.b0;
    v.at1 = tw == 1u || tw == 3u ? vreinterpretq_u8_u32(vld1q_dup_u32(x + nw - 1u)) : v.a0;
    v.bt1 = tw == 1u || tw == 3u ? vreinterpretq_u8_u32(vld1q_dup_u32(y + nw - 1u)) : v.b0;
    v.at2 = tw >= 2u ? dup_pair(x + 4u * nv) : v.a0;
    v.bt2 = tw >= 2u ? dup_pair(y + 4u * nv) : v.b0;
    return v;
}

/* The same count of the one row at p, and C = popcount(a) + 2 popcount(b) of the input
 * (w = NULL: every weight bit 1), out of line (once per call, and the rows past the groups). */
static __attribute__((noinline)) int32_t planes_count1(const uint8_t *p, const be_word *x, uint32_t nw)
{
    const uint8x16_t two = vdupq_n_u8(2), ones = vdupq_n_u8(0xFF);
    uint8x16_t s = vdupq_n_u8(0);
    uint32_t i;
    for (i = 0; i + 4u <= nw; i += 4u)
        s = vaddq_u8(s, PLANES_VEC(vld1q_u8(B(x + i)), vld1q_u8(B(x + nw + i)), p ? vld1q_u8(p + 4u * i) : ones));
    for (; i < nw; i++) { /* the tail words: zero lanes elsewhere */
        const uint32_t w = p ? U32(p)[i] : 0xFFFFFFFFu;
        const uint8x16_t a = vreinterpretq_u8_u32(vsetq_lane_u32(x[i] & w, vdupq_n_u32(0), 0));
        const uint8x16_t b = vreinterpretq_u8_u32(vsetq_lane_u32(x[nw + i] & w, vdupq_n_u32(0), 0));
        s = vaddq_u8(s, vmlaq_u8(vcntq_u8(a), vcntq_u8(b), two));
    }
    return sum_bytes(s); /* bytes <= 24 (3 + 3) = 144 */
}

/* The 2-plane layer's rows [o0, n) one by one, their bits OR-ed into the output (cleared there):
 * the rows past the last group, and layers of fewer rows than a group. */
static __attribute__((noinline)) void planes_rows(const be_op *op, const be_word *x, void *out, int32_t c,
                                                  uint32_t o0)
{
    const uint32_t nw = op->in.cw, n = op->out_ch;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b;
    be_word *bits = (be_word *)out;
    uint32_t o;
    for (o = o0; o < n; o++) {
        const int32_t acc = c - 2 * planes_count1(B(op->weights) + 4u * nw * o, x, nw);
        if (op->stage == BE_STAGE_SCORE) {
            ((uint32_t *)out)[o] = (uint32_t)((const int32_t *)op->stage_a)[o] * (uint32_t)acc + (uint32_t)t[o];
        } else if (be_stage_is_sign(op)) {
            bits[o / 32u] |= (be_word)(acc * dir[o] < t[o]) << (o % 32u);
        } else {
            const int32_t a = acc * dir[o];
            const uint32_t level =
                (uint32_t)(a >= t[3u * o]) + (uint32_t)(a >= t[3u * o + 1u]) + (uint32_t)(a >= t[3u * o + 2u]);
            bits[o / 32u] |= (level & 1u) << (o % 32u);
            bits[op->out.cw + o / 32u] |= (level >> 1) << (o % 32u);
        }
    }
}

/* The bit words of a 2-plane layer's output cleared (a sign stage: one plane; three levels: two). */
static void planes_clear(const be_op *op, void *out)
{
    if (op->stage != BE_STAGE_SCORE)
        be_zero_words((be_word *)out, be_stage_is_sign(op) ? op->out.cw : 2u * op->out.cw);
}

/* The input's vectors and tails as the group counts (short_counts8 / short_counts4) take them, the
 * first row and K. */
#define SHORT_INPUT                                                                                            \
    const uint8_t *xp = B(x);                                                                                  \
    const uint32_t nv = nw / 4u, tw = nw % 4u, step = 4u * nw, n = op->out_ch;                                 \
    const uint8x16_t x0 = nv > 0u ? vld1q_u8(xp) : vdupq_n_u8(0), x1 = nv > 1u ? vld1q_u8(xp + 16) : x0,      \
                     x2 = nv > 2u ? vld1q_u8(xp + 32) : x0;                                                   \
    const uint8x16_t xt1 = tw != 2u && tw > 0u ? vreinterpretq_u8_u32(vld1q_dup_u32(x + nw - 1u)) : x0;       \
    const uint8x16_t xt2 = tw >= 2u ? dup_pair(x + 4u * nv) : x0;                                            \
    const uint8_t *p = B(op->weights);                                                                         \
    const int32_t k = (int32_t)op->k

#if defined(__aarch64__)
/* Short rows on aarch64: Dense rows of nw <= 15 words (K <= 480 bits: the MLP's 128 -> 128, the
 * VGGs' 288 -> 64, 256 -> 256 and 64 -> 64 layers and their heads). popc_piece's set-up per
 * group of rows (eight row pointers, zeroed 16-bit accumulators, the widening tree) and the
 * stored counts' second pass cost as much as the counting there. Rows follow each other in
 * memory (4 nw bytes apart), so one pointer walks them. A row is nv = nw / 4 whole vectors and a
 * tail of tw = nw % 4 words:
 *   - the vectors: per row and vector one load, EOR and CNT, the row's byte counts added
 *     (<= 8 nv per byte); eight rows reduced by three levels of pairwise ADDP, row k in bytes
 *     2k, 2k + 1 (each <= 64 nv);
 *   - the tails: gathered across rows, four 1-word tails per vector ([row 0 | 1 | 2 | 3], one
 *     lane load each) or two 2-word tails ([row 0 | row 1]), against the input's tail repeated
 *     in every lane; one EOR and CNT per vector, then pairwise ADDP to the same layout (row k in
 *     bytes 2k, 2k + 1, each <= 16 for 1 word, <= 32 for 2, <= 48 for 3) and one ADD. Rows of
 *     1 or 2 words (the heads over 32 or 64 inputs) are all tail and contiguous: plain loads;
 *   - one UADDLP: the eight rows' counts in 16-bit lanes (each byte <= 64 nv + 48 <= 240 for
 *     nv <= 3: no byte overflows; a count <= 480).
 * A last partial group of r >= SHORT_OVERLAP rows is counted as the eight rows ending at row
 * n - 1 (its first 8 - r rows again, their results dropped); fewer rows, and layers of under
 * eight rows, one by one. The same rows serve the sign stage (dense_short) and the score stage of
 * a classifier head (scores_short). docs/kernels.md "NEON on the virt boards" has the counts. */
#define SHORT_OVERLAP 5u

/* The tails (tw words at offset 16 nv of each row) of the eight rows at p: row k in bytes 2k,
 * 2k + 1. xt1: the input's last word in every lane; xt2: its last two (tw = 2) or the two
 * before the last (tw = 3) in both halves. */
static inline __attribute__((always_inline)) uint8x16_t short_tails8(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                     uint32_t step, uint8x16_t xt1,
                                                                     uint8x16_t xt2)
{
    uint8x16_t r1 = vdupq_n_u8(0), r2 = vdupq_n_u8(0);
    group_tails g;
    load_tails(p, nv, tw, step, 8u, &g);
    if (tw != 2u) /* 1-word parts: the last word of each row */
        r1 = vpaddq_u8(vcntq_u8(veorq_u8(xt1, g.w1[0])), vcntq_u8(veorq_u8(xt1, g.w1[1])));
    if (tw >= 2u) /* 2-word parts: the first two tail words of each row */
        r2 = vpaddq_u8(vpaddq_u8(vcntq_u8(veorq_u8(xt2, g.w2[0])), vcntq_u8(veorq_u8(xt2, g.w2[1]))),
                       vpaddq_u8(vcntq_u8(veorq_u8(xt2, g.w2[2])), vcntq_u8(veorq_u8(xt2, g.w2[3]))));
    return tw == 1u ? r1 : tw == 2u ? r2 : vaddq_u8(r1, r2);
}

/* h = popcount(x XOR row k) of the eight rows at p (row k in lane k). */
static inline __attribute__((always_inline)) uint16x8_t short_counts8(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                      uint32_t step, uint8x16_t x0,
                                                                      uint8x16_t x1, uint8x16_t x2,
                                                                      uint8x16_t xt1, uint8x16_t xt2)
{
    uint8x16_t sum;
    if (nv > 0u) {
        const uint8_t *q = p;
        ROWS8(SHORT_ROW, q);
        sum = vpaddq_u8(vpaddq_u8(vpaddq_u8(r0, r1), vpaddq_u8(r2, r3)), vpaddq_u8(vpaddq_u8(r4, r5), vpaddq_u8(r6, r7)));
        if (tw > 0u)
            sum = vaddq_u8(sum, short_tails8(p, nv, tw, step, xt1, xt2));
    } else {
        sum = short_tails8(p, nv, tw, step, xt1, xt2);
    }
    return vpaddlq_u8(sum);
}

/* popcount(x XOR row) of the one row at p (the rows past the last group). */
static inline __attribute__((always_inline)) int32_t short_count1(const uint8_t *p, const be_word *x, uint32_t nv,
                                                                  uint32_t tw, uint8x16_t x0, uint8x16_t x1,
                                                                  uint8x16_t x2)
{
    const uint32_t step = 0u; /* (SHORT_ROW moves p on by it) */
    uint8x16_t s = vdupq_n_u8(0);
    uint32_t i;
    if (nv > 0u) {
        const uint8_t *q = p;
        SHORT_ROW(s, q);
    }
    for (i = 0; i < tw; i++) { /* the tail words: zero lanes elsewhere */
        const uint32_t d = U32(p + 16u * nv)[i] ^ x[4u * nv + i];
        s = vaddq_u8(s, vcntq_u8(vreinterpretq_u8_u32(vsetq_lane_u32(d, vdupq_n_u32(0), 0))));
    }
    return (int32_t)vaddlvq_u8(s); /* bytes <= 8 (nv + tw) <= 48 */
}

/* The sign stage on eight rows' counts h (row k in lane k): bit k is 1 when
 * dir_k (K - 2 d_k) < t_k, as in sign_bits, in 16-bit lanes: |K - 2 d| <= K <= 480 and dir = +-1
 * (loader), so the product fits, and a threshold narrowed with saturation (SQXTN) to
 * [-32768, 32767] compares the same with a value in [-480, 480]. */
static inline uint32_t short_bits8(uint16x8_t h, int16x8_t kv, const int8_t *dir, const int32_t *t)
{
    static const uint16_t lane_bit[8] = {1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u};
    const int16x8_t acc = vsubq_s16(kv, vreinterpretq_s16_u16(vshlq_n_u16(h, 1)));
    const int16x8_t tv = vcombine_s16(vqmovn_s32(vld1q_s32(t)), vqmovn_s32(vld1q_s32(t + 4)));
    const uint16x8_t lt = vcltq_s16(vmulq_s16(acc, vmovl_s8(vld1_s8(dir))), tv);
    return vaddvq_u16(vandq_u16(lt, vld1q_u16(lane_bit)));
}

/* Dense with sign bits in, a sign stage out and rows of nw <= 15 words: the counts of each eight
 * rows go straight into the threshold (short_bits8) and their eight output bits into one byte
 * of the output (little-endian words, be_model.c checks the host); a last group of at least
 * SHORT_OVERLAP rows as the eight ending at row n - 1, fewer rows one by one. */
static inline __attribute__((always_inline)) void dense_short_n(const be_op *op, const be_word *x, be_word *out,
                                                                uint32_t nw)
{
    SHORT_INPUT;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b;
    const int16x8_t kv = vdupq_n_s16((int16_t)k);
    uint8_t *ob = (uint8_t *)out;
    const uint32_t groups = n / 8u, r = n % 8u;
    uint32_t g, o;
    if (n % 32u != 0u)
        out[n / 32u] = 0u; /* the bytes past the last one written stay zero (padding bits) */
    for (g = 0; g < groups; g++, p += 8u * step, dir += 8, t += 8)
        ob[g] = (uint8_t)short_bits8(short_counts8(p, nv, tw, step, x0, x1, x2, xt1, xt2), kv, dir, t);
    if (r >= SHORT_OVERLAP && groups > 0u) { /* the eight rows ending at n - 1: keep the last r */
        const uint32_t back = 8u - r;
        const uint16x8_t h = short_counts8(p - back * step, nv, tw, step, x0, x1, x2, xt1, xt2);
        ob[groups] = (uint8_t)(short_bits8(h, kv, dir - back, t - back) >> back);
        return;
    }
    for (o = 0; o < r; o++, p += step) /* fewer rows: one by one */
        if ((k - 2 * short_count1(p, x, nv, tw, x0, x1, x2)) * (int32_t)dir[o] < t[o])
            ob[groups] |= (uint8_t)(1u << o);
}

/* Dense with sign bits in, a score stage out (the classifier head) and rows of nw <= 15 words:
 * eight rows' counts h as in dense_short_n, then their eight scores multiplier * (K - 2 d) +
 * offset in two 4-lane multiply-adds (modulo 2^32, exact: the loader proved no score leaves
 * int32, be_kernels.h); a last group of at least SHORT_OVERLAP rows as the eight ending at row
 * n - 1 (the overlapping scores stored twice, equal), fewer rows one by one. */
static inline __attribute__((always_inline)) void scores8(const int32_t *mult, const int32_t *offset, int32_t *y,
                                                          uint16x8_t h, int16x8_t kv)
{
    const int16x8_t acc = vsubq_s16(kv, vreinterpretq_s16_u16(vshlq_n_u16(h, 1))); /* |K - 2 d| <= K <= 480 */
    vst1q_s32(y, vmlaq_s32(vld1q_s32(offset), vld1q_s32(mult), vmovl_s16(vget_low_s16(acc))));
    vst1q_s32(y + 4, vmlaq_s32(vld1q_s32(offset + 4), vld1q_s32(mult + 4), vmovl_high_s16(acc)));
}

static inline __attribute__((always_inline)) void scores_short_n(const be_op *op, const be_word *x, int32_t *y,
                                                                 uint32_t nw)
{
    SHORT_INPUT;
    const int32_t *mult = (const int32_t *)op->stage_a, *offset = (const int32_t *)op->stage_b;
    const int16x8_t kv = vdupq_n_s16((int16_t)k);
    uint32_t o;
    for (o = 0; o + 8u <= n; o += 8u, p += 8u * step)
        scores8(mult + o, offset + o, y + o, short_counts8(p, nv, tw, step, x0, x1, x2, xt1, xt2), kv);
    if (n - o >= SHORT_OVERLAP && o > 0u) { /* the eight rows ending at n - 1 */
        const uint32_t back = 8u - (n - o);
        scores8(mult + (o - back), offset + (o - back), y + (o - back),
                short_counts8(p - back * step, nv, tw, step, x0, x1, x2, xt1, xt2), kv);
        return;
    }
    for (; o < n; o++, p += step) /* fewer rows: one by one */
        ((uint32_t *)y)[o] =
            (uint32_t)mult[o] * (uint32_t)(k - 2 * short_count1(p, x, nv, tw, x0, x1, x2)) + (uint32_t)offset[o];
}

/* The tails of the eight rows at p, widened: row k in 16-bit lane k. */
static inline __attribute__((always_inline)) uint16x8_t planes_tails8(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                      uint32_t step, const planes_in *v)
{
    uint16x8_t r = vdupq_n_u16(0);
    const uint8x16_t two = v->two;
    group_tails g;
    load_tails(p, nv, tw, step, 8u, &g);
    if (tw == 1u || tw == 3u) /* the last word of each row: [row 0 | 1 | 2 | 3] per vector */
        r = vpaddlq_u8(vpaddq_u8(PLANES_VEC(v->at1, v->bt1, g.w1[0]), PLANES_VEC(v->at1, v->bt1, g.w1[1]))); /* <= 48 */
    if (tw >= 2u) /* the first two tail words: [row 0 | row 1] per vector */
        r = vaddq_u16(r, vpaddlq_u8(vpaddq_u8(
                             vpaddq_u8(PLANES_VEC(v->at2, v->bt2, g.w2[0]), PLANES_VEC(v->at2, v->bt2, g.w2[1])),
                             vpaddq_u8(PLANES_VEC(v->at2, v->bt2, g.w2[2]), PLANES_VEC(v->at2, v->bt2, g.w2[3])))));
    return r; /* bytes <= 96 before the widening */
}

/* h = popcount(a AND row k) + 2 popcount(b AND row k) of the eight rows at p (row k in lane k). */
static inline __attribute__((always_inline)) uint16x8_t planes_counts8(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                       uint32_t step, const planes_in *v)
{
    uint16x8_t h = vdupq_n_u16(0);
    if (nv > 0u) {
        const uint8x16_t a0 = v->a0, a1 = v->a1, a2 = v->a2, b0 = v->b0, b1 = v->b1, b2 = v->b2, two = v->two;
        const uint8_t *q = p;
        ROWS8(PLANES_ROW, q);
        h = vpaddq_u16(vpaddq_u16(vpaddlq_u8(vpaddq_u8(r0, r1)), vpaddlq_u8(vpaddq_u8(r2, r3))),
                       vpaddq_u16(vpaddlq_u8(vpaddq_u8(r4, r5)), vpaddlq_u8(vpaddq_u8(r6, r7))));
    }
    return tw > 0u ? vaddq_u16(h, planes_tails8(p, nv, tw, step, v)) : h;
}

/* Three levels on two planes (the qrelu2 stage) of eight rows from acc (row k in lane k): the
 * level #{j : dir_k acc_k >= t_k,j} (thresholds j = 0..2 of channel k at t + 3k), its bit 0 into
 * *b0 and bit 1 into *b1 (bit k each, shifted right by `shift`). The thresholds narrowed with
 * saturation compare the same with a value in [-1440, 1440]. */
static inline void levels3_bits8(int16x8_t acc, const int8_t *dir, const int32_t *t, uint8_t *b0, uint8_t *b1,
                                 uint32_t shift)
{
    static const uint16_t lane_bit[8] = {1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u};
    const int32x4x3_t lo = vld3q_s32(t), hi = vld3q_s32(t + 12);
    const int16x8_t x = vmulq_s16(acc, vmovl_s8(vld1_s8(dir)));
    const int16x8_t t0 = vcombine_s16(vqmovn_s32(lo.val[0]), vqmovn_s32(hi.val[0]));
    const int16x8_t t1 = vcombine_s16(vqmovn_s32(lo.val[1]), vqmovn_s32(hi.val[1]));
    const int16x8_t t2 = vcombine_s16(vqmovn_s32(lo.val[2]), vqmovn_s32(hi.val[2]));
    const uint16x8_t m = vaddq_u16(vaddq_u16(vcgeq_s16(x, t0), vcgeq_s16(x, t1)), vcgeq_s16(x, t2)); /* -level */
    const uint16x8_t level = vreinterpretq_u16_s16(vnegq_s16(vreinterpretq_s16_u16(m)));
    const uint16x8_t bit = vld1q_u16(lane_bit);
    *b0 = (uint8_t)(vaddvq_u16(vandq_u16(vtstq_u16(level, vdupq_n_u16(1)), bit)) >> shift);
    *b1 = (uint8_t)(vaddvq_u16(vandq_u16(vtstq_u16(level, vdupq_n_u16(2)), bit)) >> shift);
}

/* The stage of rows [o0, o0 + m) (m <= 32, n >= 8) from their counts h[0..m) (h[-8..-1]: the rows
 * before, valid where o0 > 0): eight rows at a time, a last partial group as the eight rows ending
 * at o0 + m - 1 (the scores of its first ones stored again, equal; the bits of the new ones only).
 * Out of line: one copy for every row length. */
static __attribute__((noinline)) void planes_stage(const be_op *op, const uint16_t *h, uint32_t o0, uint32_t m,
                                                   int32_t c, void *out)
{
    const int16x8_t cv = vdupq_n_s16((int16_t)c); /* C <= 3K <= 1440 */
    uint32_t i;
    for (i = 0; i < m; i += 8u) {
        const uint32_t back = i + 8u > m ? i + 8u - m : 0u, o = o0 + i - back;
        const uint16x8_t hv = vld1q_u16(h + i - back);
        if (op->stage == BE_STAGE_SCORE) {
            scores8((const int32_t *)op->stage_a + o, (const int32_t *)op->stage_b + o, (int32_t *)out + o, hv, cv);
        } else {
            const int8_t *dir = (const int8_t *)op->stage_a + o;
            uint8_t *b0 = (uint8_t *)out + (o0 + i) / 8u;
            if (be_stage_is_sign(op)) /* short_bits8 computes C - 2h itself */
                *b0 = (uint8_t)(short_bits8(hv, cv, dir, (const int32_t *)op->stage_b + o) >> back);
            else /* three levels on two planes (short_rows_kind) */
                levels3_bits8(vsubq_s16(cv, vreinterpretq_s16_u16(vshlq_n_u16(hv, 1))), dir,
                              (const int32_t *)op->stage_b + 3u * o, b0, b0 + 4u * op->out.cw, back);
        }
    }
}

/* The whole layer for rows of nw (a constant) words: the counts of each 32 rows (eight at a time,
 * a last partial group as the eight ending at the last row) into h, then their stage. */
static inline __attribute__((always_inline)) void planes_short_n(const be_op *op, const be_word *x, void *out,
                                                                 uint32_t nw)
{
    const uint32_t nv = nw / 4u, tw = nw % 4u, step = 4u * nw, n = op->out_ch;
    const int32_t c = planes_count1(NULL, x, nw);
    const uint8_t *w = B(op->weights);
    uint16_t hb[8 + 32];
    uint32_t o0, i;
    if (n < 8u) {
        planes_clear(op, out);
        planes_rows(op, x, out, c, 0u);
        return;
    }
    if (op->stage != BE_STAGE_SCORE && n % 32u != 0u) { /* bytes past the last one written stay zero */
        ((be_word *)out)[n / 32u] = 0u;
        if (!be_stage_is_sign(op))
            ((be_word *)out)[op->out.cw + n / 32u] = 0u;
    }
    {
        const planes_in v = planes_input(x, nw);
        for (o0 = 0; o0 < n; o0 += 32u) {
            const uint32_t m = n - o0 < 32u ? n - o0 : 32u;
            for (i = 0; i < m; i += 8u) {
                const uint32_t back = i + 8u > m ? i + 8u - m : 0u;
                vst1q_u16(hb + 8 + i - back, planes_counts8(w + (o0 + i - back) * step, nv, tw, step, &v));
            }
            planes_stage(op, hb + 8, o0, m, c, out);
        }
    }
}

#else
/* Short rows on armv7 (16 quad registers): as on aarch64, in groups of four rows. Per row and
 * vector one load, VEOR and VCNT, the row's byte counts added (<= 8 nv); four rows reduced by two
 * levels of pairwise VPADD on D registers ([row 0: 4 | 1: 4 | 2: 4 | 3: 4] bytes, each <= 32 nv),
 * the tails gathered four rows per vector (1 word: that layout already; 2 words: [row 0 | row 1]
 * then one VPADD level) and added (bytes <= 96 + 24), widened twice (VPADDL): row k in 32-bit
 * lane k. The sign stage four channels per step (direction * (K - 2 d) < t, the bits OR-ed into
 * the output word), scores by one 4-lane MLA; the rows past the last group of four one by one. */
static inline uint8x16_t padd8(uint8x16_t a, uint8x16_t b) /* [a's pair sums | b's pair sums] */
{
    return vcombine_u8(vpadd_u8(vget_low_u8(a), vget_high_u8(a)), vpadd_u8(vget_low_u8(b), vget_high_u8(b)));
}

/* h = popcount(x XOR row k) of the four rows at p (row k in lane k). */
static inline __attribute__((always_inline)) uint32x4_t short_counts4(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                      uint32_t step, uint8x16_t x0,
                                                                      uint8x16_t x1, uint8x16_t x2,
                                                                      uint8x16_t xt1, uint8x16_t xt2)
{
    uint8x16_t sum = vdupq_n_u8(0);
    if (nv > 0u) {
        const uint8_t *q = p;
        ROWS4(SHORT_ROW, q);
        sum = padd8(padd8(r0, r1), padd8(r2, r3));
    }
    if (tw > 0u) {
        group_tails g;
        load_tails(p, nv, tw, step, 4u, &g);
        if (tw == 1u || tw == 3u) /* the last word of each row */
            sum = vaddq_u8(sum, vcntq_u8(veorq_u8(xt1, g.w1[0])));
        if (tw >= 2u) /* the first two tail words of each row */
            sum = vaddq_u8(sum, padd8(vcntq_u8(veorq_u8(xt2, g.w2[0])), vcntq_u8(veorq_u8(xt2, g.w2[1]))));
    }
    return vpaddlq_u16(vpaddlq_u8(sum));
}

/* popcount(x XOR row) of the one row at p (the rows past the last group). */
static __attribute__((noinline)) int32_t short_count1(const uint8_t *p, const be_word *x, uint32_t nw)
{
    uint8x16_t s = vdupq_n_u8(0);
    uint32_t i;
    for (i = 0; i + 4u <= nw; i += 4u)
        s = vaddq_u8(s, vcntq_u8(veorq_u8(vld1q_u8(B(x + i)), vld1q_u8(p + 4u * i))));
    for (; i < nw; i++) { /* the tail words: zero lanes elsewhere */
        const uint32_t d = U32(p)[i] ^ x[i];
        s = vaddq_u8(s, vcntq_u8(vreinterpretq_u8_u32(vsetq_lane_u32(d, vdupq_n_u32(0), 0))));
    }
    return sum_bytes(s); /* bytes <= 8 * 4 = 32 */
}

/* Dense with sign bits in, a sign stage out: four channels per step into the output word. */
static inline __attribute__((always_inline)) void dense_short_n(const be_op *op, const be_word *x, be_word *out,
                                                                uint32_t nw)
{
    static const uint32_t lane_bit[4] = {1u, 2u, 4u, 8u};
    SHORT_INPUT;
    const int8_t *dir = (const int8_t *)op->stage_a; /* a tensor: 4-byte aligned */
    const int32_t *t = (const int32_t *)op->stage_b;
    const int32x4_t kv = vdupq_n_s32(k);
    const uint32x4_t bit = vld1q_u32(lane_bit);
    uint32_t o, word = 0u;
    for (o = 0; o + 4u <= n; o += 4u, p += 4u * step) {
        const uint32x4_t h = short_counts4(p, nv, tw, step, x0, x1, x2, xt1, xt2);
        const int32x4_t acc = vsubq_s32(kv, vreinterpretq_s32_u32(vshlq_n_u32(h, 1)));
        const int8x8_t d8 = vreinterpret_s8_u32(vld1_dup_u32(U32(dir + o)));
        const int32x4_t dv = vmovl_s16(vget_low_s16(vmovl_s8(d8)));
        word |= or_lanes(vandq_u32(vcltq_s32(vmulq_s32(acc, dv), vld1q_s32(t + o)), bit)) << (o % 32u);
        if (o % 32u == 28u) {
            out[o / 32u] = word;
            word = 0u;
        }
    }
    for (; o < n; o++, p += step) /* the last rows one by one */
        if ((k - 2 * short_count1(p, x, nw)) * (int32_t)dir[o] < t[o])
            word |= 1u << (o % 32u);
    if (n % 32u != 0u)
        out[n / 32u] = word;
}

/* Dense with sign bits in, a score stage out: four scores per 4-lane MLA (modulo 2^32, exact: the
 * loader proved no score leaves int32). */
static inline __attribute__((always_inline)) void scores_short_n(const be_op *op, const be_word *x, int32_t *y,
                                                                 uint32_t nw)
{
    SHORT_INPUT;
    const int32_t *mult = (const int32_t *)op->stage_a, *offset = (const int32_t *)op->stage_b;
    const int32x4_t kv = vdupq_n_s32(k);
    uint32_t o;
    for (o = 0; o + 4u <= n; o += 4u, p += 4u * step) {
        const uint32x4_t h = short_counts4(p, nv, tw, step, x0, x1, x2, xt1, xt2);
        const int32x4_t acc = vsubq_s32(kv, vreinterpretq_s32_u32(vshlq_n_u32(h, 1)));
        vst1q_s32(y + o, vmlaq_s32(vld1q_s32(offset + o), vld1q_s32(mult + o), acc));
    }
    for (; o < n; o++, p += step)
        ((uint32_t *)y)[o] = (uint32_t)mult[o] * (uint32_t)(k - 2 * short_count1(p, x, nw)) + (uint32_t)offset[o];
}

/* popcount(a AND row k) + 2 popcount(b AND row k) of the four rows at p (row k in lane k): the
 * rows' byte sums (<= 72) reduced by one VPADD level (<= 144), widened, one 16-bit VPADD level,
 * widened; the tails as in short_counts4, widened before they are added. */
static inline __attribute__((always_inline)) uint32x4_t planes_counts4(const uint8_t *p, uint32_t nv, uint32_t tw,
                                                                       uint32_t step, const planes_in *v)
{
    const uint8x16_t two = v->two;
    uint32x4_t h = vdupq_n_u32(0);
    if (nv > 0u) {
        const uint8x16_t a0 = v->a0, a1 = v->a1, a2 = v->a2, b0 = v->b0, b1 = v->b1, b2 = v->b2;
        const uint8_t *q = p;
        uint16x8_t l01, l23;
        ROWS4(PLANES_ROW, q);
        l01 = vpaddlq_u8(padd8(r0, r1)); /* [row 0: 4 | row 1: 4] */
        l23 = vpaddlq_u8(padd8(r2, r3));
        h = vpaddlq_u16(vcombine_u16(vpadd_u16(vget_low_u16(l01), vget_high_u16(l01)),
                                     vpadd_u16(vget_low_u16(l23), vget_high_u16(l23))));
    }
    if (tw > 0u) {
        group_tails g;
        load_tails(p, nv, tw, step, 4u, &g);
        if (tw == 1u || tw == 3u) /* the last word of each row */
            h = vaddq_u32(h, vpaddlq_u16(vpaddlq_u8(PLANES_VEC(v->at1, v->bt1, g.w1[0]))));
        if (tw >= 2u) /* the first two tail words of each row */
            h = vaddq_u32(h, vpaddlq_u16(vpaddlq_u8(
                                 padd8(PLANES_VEC(v->at2, v->bt2, g.w2[0]), PLANES_VEC(v->at2, v->bt2, g.w2[1])))));
    }
    return h;
}

/* The 2-plane layer for rows of nw (a constant) words on armv7: four rows at a time into scores,
 * sign thresholds or three levels on two planes (thresholds deinterleaved by VLD3, three VCGE,
 * the level's bits by VTST), the bits OR-ed into the output words; the rows past the last group
 * of four one by one. */
static inline __attribute__((always_inline)) void planes_short_n(const be_op *op, const be_word *x, void *out,
                                                                 uint32_t nw)
{
    static const uint32_t lane_bit[4] = {1u, 2u, 4u, 8u};
    const uint32_t nv = nw / 4u, tw = nw % 4u, step = 4u * nw, n = op->out_ch, cw = op->out.cw;
    const int32_t c = planes_count1(NULL, x, nw);
    const planes_in v = planes_input(x, nw);
    const int32x4_t cv = vdupq_n_s32(c);
    const uint32x4_t bit = vld1q_u32(lane_bit);
    const uint8_t *p = B(op->weights);
    const int8_t *dir = (const int8_t *)op->stage_a; /* a tensor: 4-byte aligned */
    const int32_t *t = (const int32_t *)op->stage_b;
    const int score = op->stage == BE_STAGE_SCORE, sign = be_stage_is_sign(op);
    be_word *bits = (be_word *)out, b0 = 0u, b1 = 0u;
    uint32_t o;
    planes_clear(op, out);
    for (o = 0; o + 4u <= n; o += 4u, p += 4u * step) {
        const uint32x4_t h = planes_counts4(p, nv, tw, step, &v);
        const int32x4_t acc = vsubq_s32(cv, vreinterpretq_s32_u32(vshlq_n_u32(h, 1)));
        if (score) {
            vst1q_s32((int32_t *)out + o, vmlaq_s32(vld1q_s32(t + o), vld1q_s32((const int32_t *)op->stage_a + o), acc));
            continue;
        }
        {
            const int8x8_t d8 = vreinterpret_s8_u32(vld1_dup_u32(U32(dir + o)));
            const int32x4_t xv = vmulq_s32(acc, vmovl_s16(vget_low_s16(vmovl_s8(d8))));
            if (sign) {
                b0 |= or_lanes(vandq_u32(vcltq_s32(xv, vld1q_s32(t + o)), bit)) << (o % 32u);
            } else {
                const int32x4x3_t th = vld3q_s32(t + 3u * o);
                const uint32x4_t m = vaddq_u32(vaddq_u32(vcgeq_s32(xv, th.val[0]), vcgeq_s32(xv, th.val[1])),
                                               vcgeq_s32(xv, th.val[2])); /* -level */
                const uint32x4_t level = vreinterpretq_u32_s32(vnegq_s32(vreinterpretq_s32_u32(m)));
                b0 |= or_lanes(vandq_u32(vtstq_u32(level, vdupq_n_u32(1)), bit)) << (o % 32u);
                b1 |= or_lanes(vandq_u32(vtstq_u32(level, vdupq_n_u32(2)), bit)) << (o % 32u);
            }
        }
        if (o % 32u == 28u) {
            bits[o / 32u] = b0;
            if (!sign)
                bits[cw + o / 32u] = b1;
            b0 = b1 = 0u;
        }
    }
    if (!score && o % 32u != 0u) {
        bits[o / 32u] = b0;
        if (!sign)
            bits[cw + o / 32u] = b1;
    }
    if (o < n)
        planes_rows(op, x, out, c, o);
}
#endif

/* One out-of-line copy per row length nw = 1 .. 15 and path (scores, sign bits, 2 planes), so
 * that the row loop holds no test on the shape, every load has a constant offset (with the row
 * stride in a register GCC computed each row's address with an ADD: 0.049 -> 0.058 instructions
 * per MAC on 288 -> 64) and each copy saves only the registers it uses (a head pays no frame for
 * the 15-word rows); picked from a table by nw. The 45 copies take about 47 KiB of code on aarch64, 28 KiB on armv7
 * (Thumb-2). */
typedef void (*short_scores_fn)(const be_op *op, const be_word *x, int32_t *y);
typedef void (*short_sign_fn)(const be_op *op, const be_word *x, be_word *out);
typedef void (*planes_short_fn)(const be_op *op, const be_word *x, void *out);
#define SHORT_COPIES(NW)                                                                                       \
    static __attribute__((noinline)) void scores_short_##NW(const be_op *op, const be_word *x, int32_t *y)     \
    {                                                                                                          \
        scores_short_n(op, x, y, NW##u);                                                                       \
    }                                                                                                          \
    static __attribute__((noinline)) void dense_short_##NW(const be_op *op, const be_word *x, be_word *out)    \
    {                                                                                                          \
        dense_short_n(op, x, out, NW##u);                                                                      \
    }                                                                                                          \
    static __attribute__((noinline)) void planes_short_##NW(const be_op *op, const be_word *x, void *out)      \
    {                                                                                                          \
        planes_short_n(op, x, out, NW##u);                                                                     \
    }
SHORT_COPIES(1)
SHORT_COPIES(2)
SHORT_COPIES(3)
SHORT_COPIES(4)
SHORT_COPIES(5)
SHORT_COPIES(6)
SHORT_COPIES(7)
SHORT_COPIES(8)
SHORT_COPIES(9)
SHORT_COPIES(10)
SHORT_COPIES(11)
SHORT_COPIES(12)
SHORT_COPIES(13)
SHORT_COPIES(14)
SHORT_COPIES(15)

/* f's copies by row length (no rows of 0 words: short_rows_kind). */
#define SHORT_TABLE(f)                                                                                         \
    {0, f##_1, f##_2, f##_3, f##_4, f##_5, f##_6, f##_7, f##_8, f##_9, f##_10, f##_11, f##_12, f##_13, f##_14, f##_15}
static const short_scores_fn scores_short[SHORT_MAX_WORDS + 1u] = SHORT_TABLE(scores_short);
static const short_sign_fn dense_short[SHORT_MAX_WORDS + 1u] = SHORT_TABLE(dense_short);
static const planes_short_fn planes_short[SHORT_MAX_WORDS + 1u] = SHORT_TABLE(planes_short);

/* Which short rows take this binary Dense over bits (be_arm_bin_supports): rows of at most 15 words
 * back to back over sign bits into a sign (1) or score (2) stage, or over 2 unsigned bit-planes
 * into those or three levels on two planes (3); else 0. Inline: the entry's test on
 * every call. */
static inline int short_rows_kind(const be_op *op)
{
    if (op->in.cw < 1u || op->in.cw > SHORT_MAX_WORDS || op->w_row_bytes != op->in.cw * 4u)
        return 0;
    if (op->in.encoding == BE_ENC_SIGN)
        return be_stage_is_sign(op) ? 1 : op->stage == BE_STAGE_SCORE ? 2 : 0;
    return op->in.planes == 2u && (op->stage == BE_STAGE_SCORE || be_stage_is_sign(op) ||
                                   (be_stage_is_levels(op) && op->levels == 3u && op->out.planes == 2u))
               ? 3
               : 0;
}

int be_dense_bin_neon_short_takes(const be_op *op)
{
    return op->type == BE_OP_DENSE && be_arm_bin_supports(op) && short_rows_kind(op) != 0;
}

/* All ones in the lanes where v >= 0 (VCGE against zero). */
static inline uint32x4_t nonneg_lanes(int32x4_t v)
{
    return vcgeq_s32(v, vdupq_n_s32(0));
}

/* The sign threshold stage of channels [o0, o0 + n) of a pixel from their popcounts d (n <= 32):
 * bit i is 1 when direction * (K - 2 d) < t (level 0, value -1), as in the reference; four
 * channels per step (about 4 instructions per channel, the shared driver's scalar loop for a
 * layer without a threshold table takes 13). Directions are +-1 (loader), |K - 2 d| <= K. */
static be_word sign_bits(const be_op *op, uint32_t o0, uint32_t n, const uint32_t *d)
{
    static const uint32_t first[4] = {1u, 2u, 4u, 8u};
    const int8_t *dir = (const int8_t *)op->stage_a + o0; /* a tensor (4-byte aligned), o0 % 32 == 0 */
    const int32_t *t = (const int32_t *)op->stage_b + o0;
    const int32_t k = (int32_t)op->k;
    const int32x4_t kv = vdupq_n_s32(k);
    uint32x4_t bit = vld1q_u32(first), ones = vdupq_n_u32(0);
    uint32_t i, bits;
    for (i = 0; i + 4u <= n; i += 4u, bit = vshlq_n_u32(bit, 4)) {
        const int32x4_t acc = vsubq_s32(kv, vreinterpretq_s32_u32(vshlq_n_u32(vld1q_u32(d + i), 1)));
        const int8x8_t d8 = vreinterpret_s8_u32(vld1_dup_u32(U32(dir + i))); /* 4 directions */
        const int32x4_t dv = vmovl_s16(vget_low_s16(vmovl_s8(d8)));
        ones = vorrq_u32(ones, vandq_u32(vcltq_s32(vmulq_s32(acc, dv), vld1q_s32(t + i)), bit));
    }
    bits = or_lanes(ones);
    for (; i < n; i++)
        if ((k - 2 * (int32_t)d[i]) * (int32_t)dir[i] < t[i])
            bits |= 1u << i;
    return bits;
}

/* Dense with sign-bit input and a sign threshold stage: the popcounts of each 32 channels, then
 * their output word (sign_bits). Other layers go through the shared driver. */
/* The sign-stage Dense of rows up to BE_NEON_PIECE_WORDS: the popcounts of each 32 channels,
 * then their output word (sign_bits); out of line like scores_short, so that the entry below
 * stays a frameless dispatch. */
static __attribute__((noinline)) void dense_sign(const be_op *op, const be_word *x, be_word *out)
{
    const uint32_t nw = op->in.cw;
    const be_word *w = (const be_word *)op->weights;
    uint32_t d[32], o0;
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
        popc_piece(x, w + (size_t)o0 * nw, nw, nw, n, d);
        out[o0 / 32u] = sign_bits(op, o0, n, d);
    }
}

be_status be_dense_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t nw = op->in.cw;
    (void)scratch;
    switch (short_rows_kind(op)) {
    case 1:
        dense_short[nw](op, (const be_word *)in, (be_word *)out);
        return BE_OK;
    case 2:
        scores_short[nw](op, (const be_word *)in, (int32_t *)out);
        return BE_OK;
    case 3:
        planes_short[nw](op, (const be_word *)in, out);
        return BE_OK;
    default:
        break;
    }
    if (op->in.encoding == BE_ENC_SIGN && be_stage_is_sign(op) && nw <= BE_NEON_PIECE_WORDS) {
        dense_sign(op, (const be_word *)in, (be_word *)out);
        return BE_OK;
    }
    return be_arm_dense_bin(op, in, out, popc_neon);
}

/* Conv2d with sign-bit input and a sign threshold stage of up to CONV_TABLE channels: the
 * thresholds moved into the popcount domain once per call, as the shared driver does
 * (be_arm_common.c prepare_thresholds: the output bit is 1 when s d + c >= 0, s = +-2), then
 * per output pixel the receptive field gathered (the shared driver's im2col), then each 32
 * channels' output word: with a whole number of groups, the threshold applied to each group's
 * counts in registers (popc_group, four channels per step); otherwise popc_piece's stored
 * counts, four channels per step and the rest one by one. */
#define CONV_TABLE 128u /* channels: 1 KiB of stack */

be_status be_conv2d_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t cw = vi->cw, run = op->kw * cw, nw = op->kh * run;
    const be_word *w = (const be_word *)op->weights;
    be_word *patch = (be_word *)scratch; /* KH * KW * cw words <= the model's patch_bytes */
    int32_t s[CONV_TABLE], c[CONV_TABLE];
    uint32_t off[GROUP]; /* the group's row offsets: k * nw */
    uint32_t oy, ox, ky, kx, o;
    if (vi->encoding != BE_ENC_SIGN || !be_stage_is_sign(op) || op->out_ch > CONV_TABLE || op->k >= (1u << 28) ||
        nw > BE_NEON_PIECE_WORDS)
        return be_arm_conv2d_bin(op, in, out, scratch, popc_neon);
    for (o = 0; o < op->out_ch; o++) {
        const int32_t k = (int32_t)op->k, t = ((const int32_t *)op->stage_b)[o];
        const int32_t tc = t < -k - 1 ? -k - 1 : t > k + 1 ? k + 1 : t; /* beyond: +-infinity, |acc| <= K */
        const int dir = ((const int8_t *)op->stage_a)[o] > 0;
        s[o] = dir ? 2 : -2;
        c[o] = dir ? tc - k - 1 : k + tc - 1;
    }
    row_offsets(nw, GROUP, off);
    for (oy = 0; oy < vo->h; oy++) {
        const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
        for (ox = 0; ox < vo->w; ox++) {
            const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
            const int inside_x = x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w;
            be_word *dst = patch, *px_out = (be_word *)((uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes);
            uint32_t d[32], o0;
            for (ky = 0; ky < op->kh; ky++, dst += run) {
                const int32_t iy = y0 + (int32_t)ky;
                if (iy < 0 || iy >= (int32_t)vi->h) {
                    be_zero_words(dst, run); /* padding rows: zero words (+1) */
                } else if (inside_x) {       /* KW neighbouring pixels: one contiguous run */
                    be_copy_words(dst, (const be_word *)in + ((size_t)iy * vi->w + (size_t)x0) * cw, run);
                } else {
                    for (kx = 0; kx < op->kw; kx++) {
                        const int32_t ix = x0 + (int32_t)kx;
                        if (ix >= 0 && ix < (int32_t)vi->w)
                            be_copy_words(dst + kx * cw, (const be_word *)in + ((size_t)iy * vi->w + (size_t)ix) * cw, cw);
                        else
                            be_zero_words(dst + kx * cw, cw);
                    }
                }
            }
            for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
                const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
                static const uint32_t first[4] = {1u, 2u, 4u, 8u};
                uint32x4_t bit = vld1q_u32(first), ones = vdupq_n_u32(0);
                uint32_t i, bits;
                if (n % GROUP == 0u) { /* the threshold applied to each group's counts in registers */
                    for (i = 0; i < n; i += GROUP) {
                        uint32x4_t cnt[GROUP / 4u];
                        uint32_t k;
                        popc_group(patch, w + (size_t)(o0 + i) * nw, off, nw, GROUP, cnt);
                        for (k = 0; k < GROUP / 4u; k++, bit = vshlq_n_u32(bit, 4)) {
                            const int32x4_t u = vmlaq_s32(vld1q_s32(c + o0 + i + 4u * k), vld1q_s32(s + o0 + i + 4u * k),
                                                          vreinterpretq_s32_u32(cnt[k]));
                            ones = vorrq_u32(ones, vandq_u32(nonneg_lanes(u), bit));
                        }
                    }
                    px_out[o0 / 32u] = or_lanes(ones);
                    continue;
                }
                popc_piece(patch, w + (size_t)o0 * nw, nw, nw, n, d);
                for (i = 0; i + 4u <= n; i += 4u, bit = vshlq_n_u32(bit, 4)) {
                    const int32x4_t u = vmlaq_s32(vld1q_s32(c + o0 + i), vld1q_s32(s + o0 + i),
                                                  vreinterpretq_s32_u32(vld1q_u32(d + i)));
                    ones = vorrq_u32(ones, vandq_u32(nonneg_lanes(u), bit));
                }
                bits = or_lanes(ones);
                for (; i < n; i++)
                    if (s[o0 + i] * (int32_t)d[i] + c[o0 + i] >= 0)
                        bits |= 1u << i;
                px_out[o0 / 32u] = bits;
            }
        }
    }
    return BE_OK;
}

#else
typedef int be_bin_neon_unused; /* ISO C forbids an empty translation unit */
#endif
