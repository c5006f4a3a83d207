/*
 * be_px_neon.h -- internal: what the NEON position-lane kernels on sign bits share
 * (arm/be_conv2d_sign_px_neon.c, arm/be_conv2d_planes_px_neon.c): the byte counts of one output
 * channel over n tap vectors in assembly, and the stores of four channels' lanes by ST4. Include
 * only where BE_ARM_HAVE_NEON is set.
 */
#ifndef BE_PX_NEON_H
#define BE_PX_NEON_H

#include <arm_neon.h>
#include <stdint.h>

#include "be_bitformat.h"
#include "be_planes_px.h"

/* The byte counts of one output channel, sum over the n tap vectors of popcount(x[t] XOR w[t])
 * per byte (n <= 31: they do not wrap), w read from *p, which then moves past the channel's n
 * words (the channels' weights are consecutive): per tap the weight word to all lanes (LD1R,
 * post-incremented), EOR, CNT, ADD. In assembly: GCC 12 splits vld1q_dup_u32 into LDR + DUP (5
 * instructions per tap instead of 4). n = 3, 6, 9, 12 on both ISAs; 18 and 27 on aarch64 (AArch32's
 * 16 quad registers hold at most 12 tap vectors beside the sums). */
#if defined(__aarch64__)
#define BE_PXN_TAP0(i)                                                                                         \
    "ld1r {%[t].4s}, [%[p]], #4\n\teor %[a].16b, %[t].16b, %[x" #i "].16b\n\tcnt %[a].16b, %[a].16b\n\t"
#define BE_PXN_TAP(i)                                                                                          \
    "ld1r {%[t].4s}, [%[p]], #4\n\teor %[t].16b, %[t].16b, %[x" #i "].16b\n\tcnt %[t].16b, %[t].16b\n\t"       \
    "add %[a].16b, %[a].16b, %[t].16b\n\t"
#else
#define BE_PXN_TAP0(i)                                                                                         \
    "vld1.32 {%e[t][], %f[t][]}, [%[p]]!\n\tveor %q[a], %q[t], %q[x" #i "]\n\tvcnt.8 %q[a], %q[a]\n\t"
#define BE_PXN_TAP(i)                                                                                          \
    "vld1.32 {%e[t][], %f[t][]}, [%[p]]!\n\tveor %q[t], %q[t], %q[x" #i "]\n\tvcnt.8 %q[t], %q[t]\n\t"       \
    "vadd.i8 %q[a], %q[a], %q[t]\n\t"
#endif
#define BE_PXN_TAPS3 BE_PXN_TAP0(0) BE_PXN_TAP(1) BE_PXN_TAP(2)
#define BE_PXN_TAPS6 BE_PXN_TAPS3 BE_PXN_TAP(3) BE_PXN_TAP(4) BE_PXN_TAP(5)
#define BE_PXN_TAPS9 BE_PXN_TAPS6 BE_PXN_TAP(6) BE_PXN_TAP(7) BE_PXN_TAP(8)
#define BE_PXN_TAPS12 BE_PXN_TAPS9 BE_PXN_TAP(9) BE_PXN_TAP(10) BE_PXN_TAP(11)
#define BE_PXN_TAPS18                                                                                          \
    BE_PXN_TAPS12 BE_PXN_TAP(12) BE_PXN_TAP(13) BE_PXN_TAP(14) BE_PXN_TAP(15) BE_PXN_TAP(16) BE_PXN_TAP(17)
#define BE_PXN_TAPS18_26                                                                                       \
    BE_PXN_TAP(18) BE_PXN_TAP(19) BE_PXN_TAP(20) BE_PXN_TAP(21) BE_PXN_TAP(22) BE_PXN_TAP(23) BE_PXN_TAP(24)     \
    BE_PXN_TAP(25) BE_PXN_TAP(26)
#define BE_PXN_X(i) [x##i] "w"(xv[i])
#define BE_PXN_X3 BE_PXN_X(0), BE_PXN_X(1), BE_PXN_X(2)
#define BE_PXN_X6 BE_PXN_X3, BE_PXN_X(3), BE_PXN_X(4), BE_PXN_X(5)
#define BE_PXN_X9 BE_PXN_X6, BE_PXN_X(6), BE_PXN_X(7), BE_PXN_X(8)
#define BE_PXN_X12 BE_PXN_X9, BE_PXN_X(9), BE_PXN_X(10), BE_PXN_X(11)
#define BE_PXN_X18 BE_PXN_X12, BE_PXN_X(12), BE_PXN_X(13), BE_PXN_X(14), BE_PXN_X(15), BE_PXN_X(16), BE_PXN_X(17)
#define BE_PXN_X18_26                                                                                          \
    BE_PXN_X(18), BE_PXN_X(19), BE_PXN_X(20), BE_PXN_X(21), BE_PXN_X(22), BE_PXN_X(23), BE_PXN_X(24),           \
        BE_PXN_X(25), BE_PXN_X(26)
#define BE_PXN_BYTES_ASM(n)                                                                                    \
    static inline __attribute__((always_inline)) uint8x16_t be_pxn_bytes##n(const uint32x4_t *xv,              \
                                                                            const be_word **p)                 \
    {                                                                                                          \
        uint8x16_t a, t;                                                                                       \
        __asm__(BE_PXN_TAPS##n                                                                                 \
                : [a] "=&w"(a), [t] "=&w"(t), [p] "+r"(*p)                                                     \
                : "m"(*(const be_word(*)[n]) * p), BE_PXN_X##n);                                               \
        return a;                                                                                              \
    }
BE_PXN_BYTES_ASM(3)
BE_PXN_BYTES_ASM(6)
BE_PXN_BYTES_ASM(9)
BE_PXN_BYTES_ASM(12)
#if defined(__aarch64__)
BE_PXN_BYTES_ASM(18)
/* 27 taps in two statements (an asm takes at most 30 operands) */
static inline __attribute__((always_inline)) uint8x16_t be_pxn_bytes27(const uint32x4_t *xv, const be_word **p)
{
    uint8x16_t a = be_pxn_bytes18(xv, p), t;
    __asm__(BE_PXN_TAPS18_26
            : [a] "+w"(a), [t] "=&w"(t), [p] "+r"(*p)
            : "m"(*(const be_word(*)[9]) * p), BE_PXN_X18_26);
    return a;
}
#endif

/* Four channels' lanes stored by lane: position j's 4 channels at dj, one ST4 of lane j (GCC 12
 * builds the register quadruple of vst4q_lane_s32 through the stack, so the four vectors are
 * bound to four consecutive registers R0 .. R3 here; INSNS stores their lanes 0 .. 3). */
#define BE_PXN_ST4(VT, ET, R0, R1, R2, R3, INSNS)                                                              \
    do {                                                                                                       \
        register VT r0_ __asm__(R0) = a0;                                                                      \
        register VT r1_ __asm__(R1) = a1;                                                                      \
        register VT r2_ __asm__(R2) = a2;                                                                      \
        register VT r3_ __asm__(R3) = a3;                                                                      \
        __asm__(INSNS                                                                                          \
                : "=m"(*(ET(*)[4])d0), "=m"(*(ET(*)[4])d1), "=m"(*(ET(*)[4])d2), "=m"(*(ET(*)[4])d3)           \
                : [d0] "r"(d0), [d1] "r"(d1), [d2] "r"(d2), [d3] "r"(d3), "w"(r0_), "w"(r1_), "w"(r2_),        \
                  "w"(r3_));                                                                                   \
    } while (0)

static inline __attribute__((always_inline)) void be_pxn_store_acc4(int32_t *d0, int32_t *d1, int32_t *d2, int32_t *d3,
                                                                    int32x4_t a0, int32x4_t a1, int32x4_t a2,
                                                                    int32x4_t a3)
{
#if defined(__aarch64__)
    BE_PXN_ST4(int32x4_t, int32_t, "v28", "v29", "v30", "v31",
               "st4 {v28.s, v29.s, v30.s, v31.s}[0], [%[d0]]\n\t"
               "st4 {v28.s, v29.s, v30.s, v31.s}[1], [%[d1]]\n\t"
               "st4 {v28.s, v29.s, v30.s, v31.s}[2], [%[d2]]\n\t"
               "st4 {v28.s, v29.s, v30.s, v31.s}[3], [%[d3]]");
#else /* lanes 0, 1 in the low D registers, 2, 3 in the high ones */
    BE_PXN_ST4(int32x4_t, int32_t, "q12", "q13", "q14", "q15",
               "vst4.32 {d24[0], d26[0], d28[0], d30[0]}, [%[d0]]\n\t"
               "vst4.32 {d24[1], d26[1], d28[1], d30[1]}, [%[d1]]\n\t"
               "vst4.32 {d25[0], d27[0], d29[0], d31[0]}, [%[d2]]\n\t"
               "vst4.32 {d25[1], d27[1], d29[1], d31[1]}, [%[d3]]");
#endif
}

/* the same for four channels' codes (lanes 0 .. 3 of each) */
static inline __attribute__((always_inline)) void be_pxn_store_rq4(int8_t *d0, int8_t *d1, int8_t *d2, int8_t *d3,
                                                                   int8x8_t a0, int8x8_t a1, int8x8_t a2, int8x8_t a3)
{
#if defined(__aarch64__)
    BE_PXN_ST4(int8x8_t, int8_t, "v28", "v29", "v30", "v31",
               "st4 {v28.b, v29.b, v30.b, v31.b}[0], [%[d0]]\n\t"
               "st4 {v28.b, v29.b, v30.b, v31.b}[1], [%[d1]]\n\t"
               "st4 {v28.b, v29.b, v30.b, v31.b}[2], [%[d2]]\n\t"
               "st4 {v28.b, v29.b, v30.b, v31.b}[3], [%[d3]]");
#else
    BE_PXN_ST4(int8x8_t, int8_t, "d28", "d29", "d30", "d31",
               "vst4.8 {d28[0], d29[0], d30[0], d31[0]}, [%[d0]]\n\t"
               "vst4.8 {d28[1], d29[1], d30[1], d31[1]}, [%[d1]]\n\t"
               "vst4.8 {d28[2], d29[2], d30[2], d31[2]}, [%[d2]]\n\t"
               "vst4.8 {d28[3], d29[3], d30[3], d31[3]}, [%[d3]]");
#endif
}

/* The output pixels of the 4 lanes of positions q0 .. q0 + 3 ((y0, x0): q0's row and column):
 * px[j] = out + pixel * ps bytes, or trash when the position is a padding column (x >= OW) or past
 * the map. The callers take pitches WP >= 4 only, so a vector reaches at most into the next row
 * (one subtraction; a loop for narrower maps cost the armv7 accumulator convs up to 10 %). */
static inline __attribute__((always_inline)) void be_pxn_lane_pixels(const be_op *op, const be_px_geom *g, uint32_t q0, uint32_t y0, uint32_t x0,
                                      void *out, void *trash, uint8_t *px[4])
{
    const uint32_t ow = op->out.w, ps = op->out.pixel_bytes;
    uint32_t j;
    for (j = 0; j < 4u; j++) {
        uint32_t x = x0 + j, y = y0;
        if (x >= g->wp) {
            x -= g->wp;
            y++;
        }
        px[j] = x < ow && q0 + j < g->npos ? (uint8_t *)out + ((size_t)y * ow + x) * ps : (uint8_t *)trash;
    }
}

/* Column-shifted images: for each shift s < nsh, the padded image src (hp rows of pitch wp) cut
 * to the ow >= 4 columns that start at column s * step, as hp rows of pitch ow at dst, one image
 * after the other. Output position q = y * ow + x then reads kernel row ky of that shift at q +
 * ky * ow: the positions are the output pixels, no padding column is computed. A row is copied 4
 * words at a time: its last vector spills into the next row, which is written after it (the last
 * one into what follows, which the caller keeps as slack), and reads up to 2 words past column
 * wp - 1 of src (the next row, or the slack after the images). Returns the word after them. */
static inline be_word *be_pxn_shift_images(const be_word *src, uint32_t wp, uint32_t hp, uint32_t ow, uint32_t nsh,
                                           uint32_t step, be_word *dst)
{
    uint32_t s, y, x;
    for (s = 0; s < nsh; s++) {
        const be_word *r = src + s * step;
        for (y = 0; y < hp; y++, r += wp, dst += ow)
            for (x = 0; x < ow; x += 4u)
                vst1q_u32(dst + x, vld1q_u32(r + x));
    }
    return dst;
}

#endif /* BE_PX_NEON_H */
