/* be_bin_neon.c -- "neon": binary Dense / Conv2d with Advanced SIMD (aarch64; armv7 -mfpu=neon).
 *
 * Four weight rows share each input load. Per 128 bits and row: VEOR, VCNT.8 (byte popcounts,
 * <= 8) and one pairwise widening add into 16-bit lanes (UADALP / VPADAL.U8). On aarch64 the
 * loop takes 512 bits per step with one LD1 {4 registers} per pointer and adds the four byte
 * counts first (<= 32 per byte) before the single widening add, so a step is 1 + 4 loads,
 * 4 x (4 EOR + 4 CNT + 3 ADD + 1 UADALP) and 2 loop instructions = 55 for 2048 MACs. armv7
 * has 16 Q registers and no multi-register load intrinsic in GCC 12: 128 bits per step there.
 *
 * The words left over (nw % 4: 3 x 3 x 32 channels is 9 words, 3 x 3 x 64 is 18) are not done
 * row by row. The four rows' accumulators are reduced pairwise to one vector whose lanes belong
 * to one row each, first [row 0: 4 lanes | row 1: 4 lanes] per pair, then [2 | 2 | 2 | 2]; a
 * 64-bit tail of two rows side by side in one Q register ([row 0: 8 bytes | row 1: 8 bytes])
 * and a 32-bit tail of all four rows ([4 | 4 | 4 | 4 bytes]) have exactly those layouts once
 * their byte counts are added pairwise, so each tail costs one VEOR, VCNT and pairwise add per
 * row pair / row quad. No scalar popcount, no __builtin_popcount.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>

#include "arm/be_arm.h"

/* Rows are done in pieces of at most this many words, so that no 16-bit lane overflows: a
 * lane of an accumulator gains <= 16 per 128 bits, the two reductions add four of them, and
 * the tails add <= 2 x 16 + 16, so a piece of nw words ends with lanes <= 64 (nw / 4) + 48
 * <= 65535 for nw <= 4095. Longer rows (over 131,040 bits) are summed piece by piece in 32 bits. The
 * build can lower it (tests: -DBE_NEON_PIECE_WORDS=5 exercises the piecewise path). */
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

/* Byte popcounts of x XOR w over 128 bits. */
static inline uint8x16_t cnt_xor(uint8x16_t x, uint8x16_t w)
{
    return vcntq_u8(veorq_u8(x, w));
}

/* Byte pointers for the loads: vld1q_u8 needs no alignment beyond the words'. */
#define B(p) ((const uint8_t *)(p))

/* popcount(x XOR w_r) for the four rows w_r = w + r * step, r < 4, over nw <= BE_NEON_PIECE_WORDS
 * words. */
static inline __attribute__((always_inline)) uint32x4_t popc4(const be_word *x, const be_word *w, uint32_t step,
                                                              uint32_t nw)
{
    const uint8_t *xp = B(x), *p0 = B(w), *p1 = B(w + step), *p2 = B(w + 2u * step), *p3 = B(w + 3u * step);
    uint16x8_t a0 = vdupq_n_u16(0), a1 = a0, a2 = a0, a3 = a0, h01, h23;
    uint32_t j, t = nw / 4u; /* 128-bit steps */
#if defined(__aarch64__)
    for (j = t / 4u; j > 0u; j--) { /* 512 bits per step */
        const uint8x16x4_t xv = vld1q_u8_x4(xp);
        uint8x16x4_t v;
        xp += 64;
#define ROW4(a, p)                                                                                                \
    v = vld1q_u8_x4(p);                                                                                            \
    p += 64;                                                                                                       \
    a = vpadalq_u8(a, vaddq_u8(vaddq_u8(cnt_xor(xv.val[0], v.val[0]), cnt_xor(xv.val[1], v.val[1])),              \
                               vaddq_u8(cnt_xor(xv.val[2], v.val[2]), cnt_xor(xv.val[3], v.val[3]))))
        /* GCC 12 would start all five 64-byte loads first and run out of the 32 registers
         * (accumulators spilled to the stack in the loop); the empty asm, which may read
         * memory, keeps each row's load after the previous row's sum. */
        ROW4(a0, p0);
        __asm__("" : "+w"(a0) : : "memory");
        ROW4(a1, p1);
        __asm__("" : "+w"(a1) : : "memory");
        ROW4(a2, p2);
        __asm__("" : "+w"(a2) : : "memory");
        ROW4(a3, p3);
#undef ROW4
    }
    t %= 4u;
#endif
    for (j = t; j > 0u; j--) { /* 128 bits per step */
        const uint8x16_t xv = vld1q_u8(xp);
        xp += 16;
        a0 = vpadalq_u8(a0, cnt_xor(xv, vld1q_u8(p0)));
        a1 = vpadalq_u8(a1, cnt_xor(xv, vld1q_u8(p1)));
        a2 = vpadalq_u8(a2, cnt_xor(xv, vld1q_u8(p2)));
        a3 = vpadalq_u8(a3, cnt_xor(xv, vld1q_u8(p3)));
        p0 += 16;
        p1 += 16;
        p2 += 16;
        p3 += 16;
    }
    h01 = pair_sums(a0, a1); /* [row 0 | row 1] */
    h23 = pair_sums(a2, a3);
    if (nw & 2u) { /* two words left: rows 0 and 1 side by side, then rows 2 and 3 */
        const uint8x8_t xd = vld1_u8(xp);
        const uint8x16_t x2 = vcombine_u8(xd, xd);
        xp += 8;
        h01 = vpadalq_u8(h01, cnt_xor(x2, vcombine_u8(vld1_u8(p0), vld1_u8(p1))));
        h23 = vpadalq_u8(h23, cnt_xor(x2, vcombine_u8(vld1_u8(p2), vld1_u8(p3))));
        p0 += 8;
        p1 += 8;
        p2 += 8;
        p3 += 8;
    }
    h01 = pair_sums(h01, h23); /* [row 0 | row 1 | row 2 | row 3] */
    if (nw & 1u) {             /* one word left: the four rows' words in the four 32-bit lanes */
        uint32x4_t v = vld1q_dup_u32((const uint32_t *)(const void *)p0);
        v = vld1q_lane_u32((const uint32_t *)(const void *)p1, v, 1);
        v = vld1q_lane_u32((const uint32_t *)(const void *)p2, v, 2);
        v = vld1q_lane_u32((const uint32_t *)(const void *)p3, v, 3);
        h01 = vpadalq_u8(h01, cnt_xor(vreinterpretq_u8_u32(vld1q_dup_u32((const uint32_t *)(const void *)xp)),
                                      vreinterpretq_u8_u32(v)));
    }
    return vpaddlq_u16(h01); /* one 32-bit lane per row */
}

/* The variant's core (be_arm_popc_fn) for nw <= BE_NEON_PIECE_WORDS. */
static void popc_piece(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    /* Groups of four consecutive rows; the last group of n >= 4 rows moves back to end at row
     * n - 1 (it recomputes up to three rows, with the same results). With n < 4 each row is its
     * own group, taken four times (step 0). */
    const uint32_t step = n >= 4u ? row_words : 0u, per = n >= 4u ? 4u : 1u;
    uint32_t i;
    for (i = 0; i < n; i += per) {
        const uint32_t g = n - i < per ? n - per : i; /* first row of the group */
        const uint32x4_t c = popc4(x, w + (size_t)g * row_words, step, nw);
        if (step != 0u)
            vst1q_u32(d + g, c);
        else
            d[g] = vgetq_lane_u32(c, 0);
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

be_status be_dense_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_neon);
}

be_status be_conv2d_bin_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_neon);
}

#else
typedef int be_bin_neon_unused; /* ISO C forbids an empty translation unit */
#endif
