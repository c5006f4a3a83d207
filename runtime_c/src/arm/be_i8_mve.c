/* be_i8_mve.c -- "mve": the int8 layers (int8 weights over u8 / i8 codes) with Helium (MVE,
 * Cortex-M55). docs/kernels.md "int8 layers" (the "Cortex-M55 mve v4" steps) has the numbers.
 *
 * Conv2d, groups = 1:
 *   K = KH KW C <= 12 (the pixel layer): channel lanes (conv_lanes): int32 weights transposed
 *     once per chunk, per tap one code and four VMLA.S32 (vector by scalar) for 16 channels;
 *   K > 12: an int8 patch per pixel (i8 codes as they are, u8 codes as x - 128, XOR 0x80; the
 *     padding as the zero point's code), VMLADAVA.S8 (16 products summed into a scalar), two
 *     pixels per pass over the rows (rows3x2_s8 for K > 16, rows_small2 up to 16), a last odd
 *     pixel four rows per patch load (rows4_s8 / rows_small); over u8 codes the rows start from
 *     128 * sum_k w_k (sum_k w_k x_k = sum_k w_k (x_k - 128) + 128 sum_k w_k, exact in int32:
 *     every partial sum within the loader's bound).
 * Depthwise with channel multiplier 1: channel lanes of int16 products (dw_core). Grouped convs,
 * other multipliers and Dense: the generic drivers of be_arm_i8.h. A RequantStage whose shifts
 * are all >= 32 is computed four channels per vector (be_i8_put_high_mve / rq_high). Last
 * partial vectors are predicated (VCTP): nothing past a row, a patch or a value is read.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#define BE_I8_PUT_HIGH be_i8_put_high_mve
#include "arm/be_arm_i8.h"

/* RequantStage when every shift of the block is >= 32, four channels per vector. The
 * prepared constants {Bh (int64), M, s - 32} of four channels are one VLD4 (be_i8_rq is four
 * words: Bh's low and high word, M, s - 32). v = M * acc + Bh in two words: lo = M * acc mod
 * 2^32 (VMUL) and the high word of the product (VMULH.S32); that plus Bh's high word plus the
 * carry of lo + Bh_lo is the high word of v exactly (v fits int64: loader), then shifted right
 * by s - 32 (VSHL by a negative lane), the zero point added with saturation and clamped to
 * int8: clamp(zp + (v >> s)) equals the reference's sat8(sat16(v >> s) + zp) for every v. */
static inline int32x4_t rq_high(int32x4_t a, int32x4_t m, int32x4_t bl, int32x4_t bh, int32x4_t ns, int32_t zp)
{
    const uint32x4_t lo = vreinterpretq_u32_s32(vaddq_s32(vmulq_s32(a, m), bl));
    int32x4_t hi = vmulhq_s32(a, m);
    hi = vaddq_m_n_s32(hi, hi, 1, vcmphiq_u32(vreinterpretq_u32_s32(bl), lo)); /* lo wrapped */
    hi = vshlq_s32(vaddq_s32(hi, bh), ns); /* ns = 32 - s <= 0 */
    /* zp + r saturated to int8: shifted up by 24 with saturation and back */
    return vshrq_n_s32(vqshlq_n_s32(vqaddq_n_s32(hi, zp), 24), 24);
}

static inline int32x4_t rq_high4(const be_i8_rq *q, int32x4_t a, int32_t zp)
{
    const int32x4x4_t c = vld4q_s32((const int32_t *)(const void *)q); /* Bh lo, Bh hi, M, s - 32 */
    return rq_high(a, c.val[2], c.val[0], c.val[1], vnegq_s32(c.val[3]), zp);
}

static void be_i8_put_high_mve(const be_i8_rq *q, const int32_t *acc, uint32_t n, int32_t zp, int8_t *dst)
{
    uint32_t i;
    for (i = 0; i + 4u <= n; i += 4u)
        vstrbq_s32(dst + i, rq_high4(q + i, vld1q_s32(acc + i), zp));
    if (i < n)
        vstrbq_p_s32(dst + i, rq_high4(q + i, vld1q_s32(acc + i), zp), vctp32q(n - i));
}

int be_i8_mve_supports(const be_op *op)
{
    return be_op_is_int8_layer(op);
}

static void patch_run(int8_t *d, const uint8_t *src, uint32_t n, uint8x16_t flip)
{
    for (; n >= 16u; n -= 16u, d += 16, src += 16)
        vst1q_u8((uint8_t *)d, veorq_u8(vld1q_u8(src), flip));
    if (n > 0u) {
        const mve_pred16_t p = vctp8q(n);
        vst1q_p_u8((uint8_t *)d, veorq_u8(vld1q_z_u8(src, p), flip), p);
    }
}

static void patch_fill(int8_t *d, uint32_t n, uint8x16_t v)
{
    for (; n >= 16u; n -= 16u, d += 16)
        vst1q_u8((uint8_t *)d, v);
    if (n > 0u)
        vst1q_p_u8((uint8_t *)d, v, vctp8q(n));
}

/* The be_i8_copy_fn / be_i8_fill_fn of the generic drivers (grouped Conv2d, Dense). */
static void copy_s8(void *patch, uint32_t e, const uint8_t *src, uint32_t n, int is_i8)
{
    patch_run((int8_t *)patch + e, src, n, vdupq_n_u8(is_i8 ? 0u : 0x80u));
}

static void fill_s8(void *patch, uint32_t e, uint32_t n, int32_t code)
{
    patch_fill((int8_t *)patch + e, n, vdupq_n_u8((uint8_t)code));
}

#define ROW(a, wr)  a = vmladavaq_s8(a, xv, vld1q_s8(wr))
#define ROWS(a, s, wr)                                                                                  \
    do {                                                                                                \
        const int8x16_t wv_ = vld1q_s8(wr);                                                            \
        a = vmladavaq_s8(a, xv, wv_);                                                                   \
        s = vaddvaq_s8(s, wv_);                                                                         \
    } while (0)

static void dot_s8(const int8_t *w, uint32_t rb, const void *xp, uint32_t n, uint32_t rows, int32_t xbias,
                   int32_t *acc)
{
    const int8_t *x = (const int8_t *)xp;
    const uint32_t nf = n & ~15u, t = n & 15u;
    const mve_pred16_t p = vctp8q(t);
    for (; rows > 0u;) {
        const uint32_t nr = rows >= 4u ? 4u : rows >= 2u ? 2u : 1u;
        const int8_t *w0 = w, *w1 = w + rb, *w2 = w1 + rb, *w3 = w2 + rb;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        uint32_t j;
        if (nr == 4u && xbias == 0) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROW(a0, w0 + j);
                ROW(a1, w1 + j);
                ROW(a2, w2 + j);
                ROW(a3, w3 + j);
            }
        } else if (nr == 4u) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
                ROWS(a1, s1, w1 + j);
                ROWS(a2, s2, w2 + j);
                ROWS(a3, s3, w3 + j);
            }
        } else if (nr == 2u) {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
                ROWS(a1, s1, w1 + j);
            }
        } else {
            for (j = 0; j < nf; j += 16u) {
                const int8x16_t xv = vld1q_s8(x + j);
                ROWS(a0, s0, w0 + j);
            }
        }
        if (t != 0u) { /* predicated: no byte past a row (or the tensor) is read */
            const int8x16_t xv = vld1q_z_s8(x + nf, p);
            int8x16_t wv = vld1q_z_s8(w0 + nf, p);
            a0 = vmladavaq_s8(a0, xv, wv);
            s0 = vaddvaq_s8(s0, wv);
            if (nr > 1u) {
                wv = vld1q_z_s8(w1 + nf, p);
                a1 = vmladavaq_s8(a1, xv, wv);
                s1 = vaddvaq_s8(s1, wv);
            }
            if (nr > 2u) {
                wv = vld1q_z_s8(w2 + nf, p);
                a2 = vmladavaq_s8(a2, xv, wv);
                s2 = vaddvaq_s8(s2, wv);
                wv = vld1q_z_s8(w3 + nf, p);
                a3 = vmladavaq_s8(a3, xv, wv);
                s3 = vaddvaq_s8(s3, wv);
            }
        }
        acc[0] += a0 + xbias * s0;
        if (nr > 1u)
            acc[1] += a1 + xbias * s1;
        if (nr > 2u) {
            acc[2] += a2 + xbias * s2;
            acc[3] += a3 + xbias * s3;
        }
        rows -= nr;
        acc += nr;
        w += (size_t)nr * rb;
    }
}

/* ------------------------------------------------------------------ Conv2d, groups = 1 */

/* The patch of output pixel (oy, ox), element e = (ky * KW + kx) * C + ci: as int8 (u8 codes
 * XOR 0x80; padding: the zero point's code) or, with raw, the code bytes as stored (padding:
 * the zero point); a window row inside the image is one run of KW * C bytes. Vector copies,
 * the last partial vector predicated. */
static void patch_bytes(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, int8_t *d, int raw)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, kw = op->kw, run = kw * c;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    const int32_t w = (int32_t)vi->w;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const uint8x16_t flip = vdupq_n_u8(is_i8 || raw ? 0u : 0x80u);
    const uint8x16_t pad = vdupq_n_u8((uint8_t)(is_i8 || raw ? vi->zero_point : vi->zero_point - 128));
    const int inside_x = x0 >= 0 && x0 + (int32_t)kw <= w;
    uint32_t ky, kx;
    for (ky = 0; ky < op->kh; ky++, d += run) {
        const int32_t iy = y0 + (int32_t)ky;
        const uint8_t *row = in + (size_t)iy * (uint32_t)w * c;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            patch_fill(d, run, pad);
        } else if (inside_x) {
            patch_run(d, row + (size_t)x0 * c, run, flip);
        } else {
            for (kx = 0; kx < kw; kx++) {
                const int32_t ix = x0 + (int32_t)kx;
                if (ix < 0 || ix >= w)
                    patch_fill(d + kx * c, c, pad);
                else
                    patch_run(d + kx * c, row + (size_t)ix * c, c, flip);
            }
        }
    }
}

/* The int8 patch of output pixel px (row-major index): a window inside the image is KH runs
 * of KW * C bytes copied straight (the most pixels: no bounds tests, no per-tap work), others
 * through patch_bytes. */
static inline void patch_s8(const be_op *op, const uint8_t *in, uint32_t px, int8_t *d)
{
    const be_value *vi = &op->in;
    const uint32_t oy = px / op->out.w, ox = px - oy * op->out.w;
    int32_t y0, x0;
    if (be_window_inside(op, oy, ox, &y0, &x0)) {
        const uint32_t run = op->kw * vi->c, pitch = vi->w * vi->c;
        const uint8x16_t flip = vdupq_n_u8(vi->kind == BE_KIND_I8 ? 0u : 0x80u);
        const uint8_t *src = in + ((size_t)y0 * vi->w + (uint32_t)x0) * vi->c;
        uint32_t ky;
        for (ky = 0; ky < op->kh; ky++, src += pitch, d += run)
            patch_run(d, src, run, flip);
    } else {
        patch_bytes(op, in, oy, ox, d, 0);
    }
}

/* The rows' group loops (asm below): the next group's rows follow the last row of this one
 * (rows contiguous, stride k): w0 = LAST's end + K % 16 (LAST advanced by 16 * (K / 16)), then
 * w1, w2 (and w3) k apart; the loop ends when d reaches end. */
#define BE_I8_NEXT_ROWS(LAST)                                                                     \
    "ldr r0, %[tm]\n\t"                                                                          \
    "ldr r2, %[km]\n\t"                                                                          \
    "add %[w0], %[" LAST "], r0\n\t"                                                             \
    "add %[w1], %[w0], r2\n\t"                                                                   \
    "add %[w2], %[w1], r2\n\t"
#define BE_I8_NEXT_GROUP                                                                          \
    "ldr r0, %[em]\n\t"                                                                          \
    "cmp %[d], r0\n\t"                                                                           \
    "bne 0b\n\t"

/* Groups of four weight rows (w0..w3, K = k int8 each) dotted with the patch x: per group
 * nv = K / 16 steps of one VLDRB of the patch and four (VLDRB + VMLADAVA.S8) of the rows in a
 * DLS / LE loop, then with TAIL the last K % 16 bytes as one predicated vector (VCTP once per
 * call: no byte past a row or the patch is read), and the four sums stored (STM) at d. The
 * next group's rows follow the last one's (rows contiguous, stride k): w0 = the end of row 3.
 * The loop constants live in memory (sp-relative operands): every core register is in use. */
#define BE_I8_ROWS4(TAIL)                                                                         \
    __asm__ volatile("ldr r0, %[tm]\n\t"                                                         \
                     "vctp.8 r0\n"                                                               \
                     "0:\n\t"                                                                    \
                     "ldr lr, %[nvm]\n\t"                                                        \
                     "ldr %[xp], %[xm]\n\t"                                                      \
                     "ldm %[b]!, {r0, r2, r4, r6}\n\t"                                            \
                     "dls lr, lr\n"                                                              \
                     "1:\n\t"                                                                    \
                     "vldrb.u8 q0, [%[xp]], #16\n\t"                                             \
                     "vldrb.u8 q1, [%[w0]], #16\n\t"                                             \
                     "vmladava.s8 r0, q0, q1\n\t"                                                \
                     "vldrb.u8 q2, [%[w1]], #16\n\t"                                             \
                     "vmladava.s8 r2, q0, q2\n\t"                                                \
                     "vldrb.u8 q3, [%[w2]], #16\n\t"                                             \
                     "vmladava.s8 r4, q0, q3\n\t"                                                \
                     "vldrb.u8 q4, [%[w3]], #16\n\t"                                             \
                     "vmladava.s8 r6, q0, q4\n\t"                                                \
                     "le lr, 1b\n\t" BE_I8_ROWS4_TAIL_##TAIL                                     \
                     "stm %[d]!, {r0, r2, r4, r6}\n\t"                                           \
                     BE_I8_NEXT_ROWS("w3") "add %[w3], %[w2], r2\n\t" BE_I8_NEXT_GROUP          \
                     : [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [d] "+r"(d),   \
                       [b] "+r"(init), [xp] "=&r"(xp)                                            \
                     : [tm] "m"(t), [nvm] "m"(nv), [xm] "m"(x), [km] "m"(k), [em] "m"(end)         \
                     : "r0", "r2", "r4", "r6", "lr", "q0", "q1", "q2", "q3", "q4", "memory", "cc")
#define BE_I8_ROWS4_TAIL_0
#define BE_I8_ROWS4_TAIL_1                                                                        \
    "vpstttt\n\t"                                                                                \
    "vldrbt.u8 q0, [%[xp]]\n\t"                                                                  \
    "vldrbt.u8 q1, [%[w0]]\n\t"                                                                  \
    "vldrbt.u8 q2, [%[w1]]\n\t"                                                                  \
    "vldrbt.u8 q3, [%[w2]]\n\t"                                                                  \
    "vpst\n\t"                                                                                   \
    "vldrbt.u8 q4, [%[w3]]\n\t"                                                                  \
    "vmladava.s8 r0, q0, q1\n\t"                                                                 \
    "vmladava.s8 r2, q0, q2\n\t"                                                                 \
    "vmladava.s8 r4, q0, q3\n\t"                                                                 \
    "vmladava.s8 r6, q0, q4\n\t"

/* d[g * 4 + r] = init[g * 4 + r] + the dot product of row 4 g + r (from w0..w3, K > 16) with
 * the patch x for the `groups` groups. */
__attribute__((noinline)) static void rows4_s8(const int8_t *w0, const int8_t *w1, const int8_t *w2,
                                               const int8_t *w3, uint32_t k, const int8_t *x, uint32_t groups,
                                               const int32_t *init, int32_t *d)
{
    const uint32_t nv = k / 16u, t = k & 15u;
    const int32_t *end = d + 4u * groups;
    const int8_t *xp;
    if (t != 0u)
        BE_I8_ROWS4(1);
    else
        BE_I8_ROWS4(0);
}

/* acc[o] = init[o] + the dot product of weight row o (rows of K = k > 16 int8 from w,
 * contiguous) with the patch x, for o < n: whole groups of four rows in one call, then the last
 * 1-3 rows as a group whose extra rows repeat the last one (their sums land in
 * acc[n .. roundup4(n)), which the caller's arrays hold, as init does). */
static void rows_s8(const int8_t *w, uint32_t k, const int8_t *x, uint32_t n, const int32_t *init, int32_t *acc)
{
    const uint32_t g = n / 4u, left = n & 3u;
    if (g > 0u)
        rows4_s8(w, w + k, w + 2u * k, w + 3u * k, k, x, g, init, acc);
    if (left > 0u) {
        const int8_t *w0 = w + (size_t)(4u * g) * k, *w1 = left > 1u ? w0 + k : w0, *w2 = left > 2u ? w1 + k : w1;
        rows4_s8(w0, w1, w2, w2, k, x, 1u, init + 4u * g, acc + 4u * g);
    }
}

/* Two pixels at once: groups of three weight rows (w0..w2, K = k int8 each) dotted with the
 * patches xa and xa + K, each weight vector loaded once for both: per step two VLDRB of the
 * patches and three (VLDRB + 2 VMLADAVA.S8) of the rows, 12 instructions per 96 MACs (the
 * four-row pass of one pixel: 10 per 64). The six sums start from init (the rows' weight sums
 * term: the same for both pixels) and are stored at d (pixel a) and d + BE_I8_PAIR (pixel b).
 * Every core register but sp and pc is in use: the loop constants are memory operands. */
#define BE_I8_PAIR 40 /* entries between the two pixels' sums: 32 rows + 2 of a partial group */
typedef char be_i8_pair_is_160_bytes[BE_I8_PAIR == 40 ? 1 : -1]; /* the asm's "str rN, [d, #160]" */
#define BE_I8_ROWS3X2(TAIL)                                                                       \
    __asm__ volatile("ldr r0, %[tm]\n\t"                                                         \
                     "vctp.8 r0\n"                                                               \
                     "0:\n\t"                                                                    \
                     "ldr lr, %[nvm]\n\t"                                                        \
                     "ldr %[xa], %[xm]\n\t"                                                      \
                     "ldr r0, %[km]\n\t"                                                         \
                     "add %[xb], %[xa], r0\n\t"                                                  \
                     "ldm %[b], {r0, r2, r4}\n\t"                                                 \
                     "ldm %[b]!, {r6, r8, r10}\n\t"                                               \
                     "dls lr, lr\n"                                                              \
                     "1:\n\t"                                                                    \
                     "vldrb.u8 q0, [%[xa]], #16\n\t"                                             \
                     "vldrb.u8 q1, [%[xb]], #16\n\t"                                             \
                     "vldrb.u8 q2, [%[w0]], #16\n\t"                                             \
                     "vmladava.s8 r0, q0, q2\n\t"                                                \
                     "vmladava.s8 r6, q1, q2\n\t"                                                \
                     "vldrb.u8 q3, [%[w1]], #16\n\t"                                             \
                     "vmladava.s8 r2, q0, q3\n\t"                                                \
                     "vmladava.s8 r8, q1, q3\n\t"                                                \
                     "vldrb.u8 q4, [%[w2]], #16\n\t"                                             \
                     "vmladava.s8 r4, q0, q4\n\t"                                                \
                     "vmladava.s8 r10, q1, q4\n\t"                                               \
                     "le lr, 1b\n\t" BE_I8_ROWS3X2_TAIL_##TAIL                                   \
                     "str r6, [%[d], #160]\n\t"                                                  \
                     "str r8, [%[d], #164]\n\t"                                                  \
                     "str r10, [%[d], #168]\n\t"                                                 \
                     "stm %[d]!, {r0, r2, r4}\n\t"                                               \
                     BE_I8_NEXT_ROWS("w2") BE_I8_NEXT_GROUP                                       \
                     : [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [d] "+r"(d), [b] "+r"(init),  \
                       [xa] "=&r"(xa), [xb] "=&r"(xb)                                            \
                     : [tm] "m"(t), [nvm] "m"(nv), [xm] "m"(x), [km] "m"(k), [em] "m"(end)         \
                     : "r0", "r2", "r4", "r6", "r8", "r10", "lr", "q0", "q1", "q2", "q3", "q4", "memory", \
                       "cc")
#define BE_I8_ROWS3X2_TAIL_0
#define BE_I8_ROWS3X2_TAIL_1                                                                      \
    "vpstttt\n\t"                                                                                \
    "vldrbt.u8 q0, [%[xa]]\n\t"                                                                  \
    "vldrbt.u8 q1, [%[xb]]\n\t"                                                                  \
    "vldrbt.u8 q2, [%[w0]]\n\t"                                                                  \
    "vldrbt.u8 q3, [%[w1]]\n\t"                                                                  \
    "vpst\n\t"                                                                                   \
    "vldrbt.u8 q4, [%[w2]]\n\t"                                                                  \
    "vmladava.s8 r0, q0, q2\n\t"                                                                 \
    "vmladava.s8 r6, q1, q2\n\t"                                                                 \
    "vmladava.s8 r2, q0, q3\n\t"                                                                 \
    "vmladava.s8 r8, q1, q3\n\t"                                                                 \
    "vmladava.s8 r4, q0, q4\n\t"                                                                 \
    "vmladava.s8 r10, q1, q4\n\t"

/* d[g * 3 + r] and d[BE_I8_PAIR + g * 3 + r] = init[g * 3 + r] + the dot products of row 3 g + r
 * (from w0..w2, K > 16) with the patches x and x + K, for the `groups` groups. */
__attribute__((noinline)) static void rows3x2_s8(const int8_t *w0, const int8_t *w1, const int8_t *w2, uint32_t k,
                                                 const int8_t *x, uint32_t groups, const int32_t *init, int32_t *d)
{
    const uint32_t nv = k / 16u, t = k & 15u;
    const int32_t *end = d + 3u * groups;
    const int8_t *xa, *xb;
    if (t != 0u)
        BE_I8_ROWS3X2(1);
    else
        BE_I8_ROWS3X2(0);
}

/* acc[o] and acc[BE_I8_PAIR + o] for o < n: the two pixels' sums (as rows_s8), whole groups of
 * three rows, then the last 1-2 rows as a group whose extra rows repeat the last one. */
static void rows_pair_s8(const int8_t *w, uint32_t k, const int8_t *x, uint32_t n, const int32_t *init,
                         int32_t *acc)
{
    const uint32_t g = n / 3u, left = n - 3u * g;
    if (g > 0u)
        rows3x2_s8(w, w + k, w + 2u * k, k, x, g, init, acc);
    if (left > 0u) {
        const int8_t *w0 = w + (size_t)(3u * g) * k, *w1 = left > 1u ? w0 + k : w0;
        rows3x2_s8(w0, w1, w1, k, x, 1u, init + 3u * g, acc + 3u * g);
    }
}

/* K <= 16 (conv_s8's last odd pixel when 12 < K <= 16): the patch is one predicated vector,
 * loaded once for all n rows: per row a predicated VLDRB and one VMLADAVA. */
__attribute__((noinline)) static void rows_small(const int8_t *w, uint32_t k, const int8_t *x, uint32_t n,
                                                 const int32_t *init, int32_t *a)
{
    const mve_pred16_t p = vctp8q(k);
    const int8x16_t xv = vld1q_z_s8(x, p);
    uint32_t o;
    for (o = 0; o < n; o++, w += k)
        a[o] = vmladavaq_s8(init[o], xv, vld1q_z_s8(w, p));
}

/* rows_small for two pixels (patches x and x + 16: K <= 16 bytes each): one predicated weight
 * load per row for both, sums at a[o] and a[BE_I8_PAIR + o]. */
__attribute__((noinline)) static void rows_small2(const int8_t *w, uint32_t k, const int8_t *x, uint32_t n,
                                                  const int32_t *init, int32_t *a)
{
    const mve_pred16_t p = vctp8q(k);
    const int8x16_t xa = vld1q_z_s8(x, p), xb = vld1q_z_s8(x + 16, p);
    uint32_t o;
    for (o = 0; o < n; o++, w += k) {
        const int8x16_t wv = vld1q_z_s8(w, p);
        a[o] = vmladavaq_s8(init[o], xa, wv);
        a[BE_I8_PAIR + o] = vmladavaq_s8(init[o], xb, wv);
    }
}

/* sum_k w_k of row w (K = k) */
static int32_t row_sum(const int8_t *w, uint32_t k)
{
    int32_t s = 0;
    for (; k >= 16u; k -= 16u, w += 16)
        s = vaddvaq_s8(s, vld1q_s8(w));
    if (k > 0u)
        s = vaddvaq_s8(s, vld1q_z_s8(w, vctp8q(k)));
    return s;
}

/* Chunks of 32 output channels; over u8 codes the chunk's weight sums once (the patch holds
 * x - 128: acc = dot + 128 * sum_k w_k, the rows' starting values); per pixel the patch, then
 * all rows of the chunk in one call, then the stage (RequantStage with every shift >= 32 in
 * lanes, else be_i8_put). */
__attribute__((noinline)) static be_status conv_s8(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->k, npx = vo->h * vo->w;
    const int is_u8 = op->in.kind == BE_KIND_U8;
    const int8_t *wts = (const int8_t *)op->weights;
    int8_t *patch = (int8_t *)scratch;
    be_i8_rq rq[BE_I8_BLOCK];
    /* the sums of up to two pixels (BE_I8_PAIR apart), with room for a partial group of rows */
    int32_t acc[2u * BE_I8_PAIR], base[BE_I8_BLOCK + 4u];
    uint32_t o0, px, o;
    be_status st = BE_OK;
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        const int8_t *w = wts + (size_t)o0 * k;
        for (o = 0; o < nb; o++) /* |128 * sum w| <= 255 * sum |w| <= INT32_MAX (loader) */
            base[o] = is_u8 ? 128 * row_sum(w + (size_t)o * k, k) : 0;
        for (px = 0; px < npx;) {
            /* two pixels left: both patches (K > 16: 2 K bytes, the scratch holds align16(2 K);
             * K <= 16: 16 bytes apart, within the 32 bytes it holds), one pass over the rows */
            const uint32_t two = px + 1u < npx;
            uint32_t i;
            patch_s8(op, (const uint8_t *)in, px, patch);
            if (two) {
                patch_s8(op, (const uint8_t *)in, px + 1u, patch + (k <= 16u ? 16u : k));
                if (k <= 16u)
                    rows_small2(w, k, patch, nb, base, acc);
                else
                    rows_pair_s8(w, k, patch, nb, base, acc);
            } else if (k <= 16u) {
                rows_small(w, k, patch, nb, base, acc);
            } else {
                rows_s8(w, k, patch, nb, base, acc);
            }
            for (i = 0; i <= two; i++, px++) {
                const be_status s = be_i8_put(op, rq, high, (uint8_t *)out + (size_t)px * vo->pixel_bytes, o0, nb,
                                              acc + i * BE_I8_PAIR);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

/* ------------------------------------------------- Conv2d with few taps: channel lanes */

/* Conv2d (groups 1) with K = KH * KW * C <= BE_I8_LANES_K (the pixel layer: 3x3 over one
 * channel, K = 9): a 16-lane dot over K bytes would leave most lanes empty, so the output
 * channels go in the lanes instead. The chunk's weights are transposed once into int32
 * (wt[t * 32 + o] = w(o0 + o, t), 1.5 KiB of stack), and per output pixel and 16 channels the
 * K codes are scalars, read through a table of tap offsets from the input copied with its
 * padding made explicit (be_i8_pad_input, BE_I8_PAD_BYTES of stack: i8first 2.07 -> 1.79
 * instructions per MAC; without the copy, a window inside the image is read in place and the
 * others from a patch of the raw bytes, padding = the zero point): per tap one LDRB / LDRSB
 * and four VLDRW + VMLA.S32 (vector += vector * scalar) into four accumulator vectors, exact in
 * int32 (every partial sum within the loader's bound). A RequantStage with every shift >= 32 is
 * applied in the registers (rq_high, constants as arrays: rq_soa) and stored as bytes; other
 * stages go through be_i8_put. About 0.75 K instructions per output against about 9 for the
 * one-vector dot (rows_small): lanes up to K = 12 (cortex-m55, the 1x1 conv over 16 channels
 * of the ResNet: lanes 239 k, rows_small 188 k instructions). */
#define BE_I8_LANES_K 12u

/* Four vectors of channel sums (16 channels from wp) over the K codes x[off[t]]. */
#define BE_I8_LANES16(CODE)                                                                       \
    do {                                                                                          \
        const int32_t *wp_ = wt + o;                                                              \
        for (t = 0; t < k; t++, wp_ += BE_I8_BLOCK) {                                             \
            const int32_t v_ = (CODE);                                                            \
            a0 = vmlaq_n_s32(a0, vld1q_s32(wp_), v_);                                             \
            a1 = vmlaq_n_s32(a1, vld1q_s32(wp_ + 4), v_);                                         \
            a2 = vmlaq_n_s32(a2, vld1q_s32(wp_ + 8), v_);                                         \
            a3 = vmlaq_n_s32(a3, vld1q_s32(wp_ + 12), v_);                                        \
        }                                                                                         \
    } while (0)

/* A chunk's RequantStage constants as arrays (one vector load each, not one VLD4 into four
 * registers: the lane kernel keeps four accumulators live). */
typedef struct rq_soa {
    int32_t m[BE_I8_BLOCK], lo[BE_I8_BLOCK], hi[BE_I8_BLOCK], s[BE_I8_BLOCK]; /* s: 32 - shift */
} rq_soa;

/* 16 channels of one pixel, every shift >= 32, in assembly (GCC's code for the intrinsics moved
 * the predicate and reloaded constants: about 30 instructions per 4 outputs, 16 here): the K
 * taps (LDRB / LDRSB of x[off[t]], then four VLDRW + VMLA.S32 into q0-q3, 11 per tap), then
 * each vector requantized as rq_high does from the chunk's arrays (offsets 0 / 128 / 256 / 384
 * of the rq_soa: M, Bh lo, Bh hi, 32 - s) and stored as four bytes (VSTRB.32). wp: the
 * transposed weights of channel c (wt + c), r: &soa + c words, d: the pixel's output + c. */
#define BE_I8_RQ_VEC(Q, OFF)                                                                      \
    "vldrw.u32 q4, [%[r], #" #OFF "]\n\t"                                                        \
    "vmulh.s32 q5, " Q ", q4\n\t"                                                                \
    "vmul.i32 " Q ", " Q ", q4\n\t"                                                              \
    "vldrw.u32 q4, [%[r], #128 + " #OFF "]\n\t"                                                  \
    "vadd.i32 " Q ", " Q ", q4\n\t"                                                              \
    "vcmp.u32 hi, q4, " Q "\n\t"                                                                 \
    "vpst\n\t"                                                                                   \
    "vaddt.i32 q5, q5, %[one]\n\t"                                                               \
    "vldrw.u32 q4, [%[r], #256 + " #OFF "]\n\t"                                                  \
    "vadd.i32 q5, q5, q4\n\t"                                                                    \
    "vldrw.u32 q4, [%[r], #384 + " #OFF "]\n\t"                                                  \
    "vshl.s32 q5, q5, q4\n\t"                                                                    \
    "vqadd.s32 q5, q5, %[zp]\n\t"                                                                \
    "vqshl.s32 q5, q5, #24\n\t"                                                                  \
    "vshr.s32 q5, q5, #24\n\t"                                                                   \
    "vstrb.32 q5, [%[d], #" #OFF " / 4]\n\t"
#define BE_I8_LANES16_RQ(LDB)                                                                     \
    do {                                                                                          \
        const uint32_t *op_ = offs;                                                               \
        const int32_t *wp_ = wt + o;                                                              \
        uint32_t v_;                                                                              \
        __asm__ volatile("vmov.i32 q0, #0\n\t"                                                   \
                         "vmov.i32 q1, #0\n\t"                                                   \
                         "vmov.i32 q2, #0\n\t"                                                   \
                         "vmov.i32 q3, #0\n\t"                                                   \
                         "dls lr, %[k]\n"                                                         \
                         "0:\n\t"                                                                \
                         "ldr %[v], [%[op]], #4\n\t"                                             \
                         LDB " %[v], [%[x], %[v]]\n\t"                                           \
                         "vldrw.u32 q4, [%[wp], #16]\n\t"                                        \
                         "vmla.s32 q1, q4, %[v]\n\t"                                             \
                         "vldrw.u32 q5, [%[wp], #32]\n\t"                                        \
                         "vmla.s32 q2, q5, %[v]\n\t"                                             \
                         "vldrw.u32 q4, [%[wp], #48]\n\t"                                        \
                         "vmla.s32 q3, q4, %[v]\n\t"                                             \
                         "vldrw.u32 q5, [%[wp]], #128\n\t"                                       \
                         "vmla.s32 q0, q5, %[v]\n\t"                                             \
                         "le lr, 0b\n\t"                                                         \
                         BE_I8_RQ_VEC("q0", 0) BE_I8_RQ_VEC("q1", 16) BE_I8_RQ_VEC("q2", 32)         \
                         BE_I8_RQ_VEC("q3", 48)                                                   \
                         : [op] "+r"(op_), [wp] "+r"(wp_), [v] "=&r"(v_)                           \
                         : [k] "r"(k), [x] "r"(x), [r] "r"(soa.m + o), [d] "r"(dst + o), [zp] "r"(zp), \
                           [one] "r"(1)                                                           \
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "memory", "cc");             \
    } while (0)

static void rq_soa_prepare(const be_i8_rq *q, rq_soa *r)
{
    uint32_t i;
    for (i = 0; i < BE_I8_BLOCK; i++) {
        const int32_t *w = (const int32_t *)(const void *)(q + i); /* Bh lo, Bh hi, M, s - 32 */
        r->lo[i] = w[0];
        r->hi[i] = w[1];
        r->m[i] = w[2];
        r->s[i] = -w[3]; /* VSHL by a negative amount: the right shift by s - 32 */
    }
}

/* Channels [c, c + 4) of the pixel's 16 from lane vector a: requantized into dst, or into acc. */
static inline void lanes_put4(const rq_soa *r, int high, int32_t zp, int8_t *dst, int32_t *acc, uint32_t c,
                              uint32_t nb, int32x4_t a)
{
    if (c >= nb)
        return;
    if (high) {
        const int32x4_t v =
            rq_high(a, vld1q_s32(r->m + c), vld1q_s32(r->lo + c), vld1q_s32(r->hi + c), vld1q_s32(r->s + c), zp);
        if (nb - c >= 4u) /* a whole vector: no predicate live across the carry's compare */
            vstrbq_s32(dst + c, v);
        else
            vstrbq_p_s32(dst + c, v, vctp32q(nb - c));
    } else
        vst1q_s32(acc + c, a);
}

__attribute__((noinline)) static be_status conv_lanes(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out, *vi = &op->in;
    const uint32_t k = op->k, c = vi->c;
    const int is_i8 = vi->kind == BE_KIND_I8;
    const int32_t zp = op->zero_point;
    const int8_t *wts = (const int8_t *)op->weights;
    int32_t wt[BE_I8_LANES_K * BE_I8_BLOCK];
    uint32_t off[BE_I8_LANES_K]; /* tap t of a window inside the image: its byte offset */
    be_i8_rq rq[BE_I8_BLOCK];
    rq_soa soa;
    int32_t acc[BE_I8_BLOCK];
    uint32_t o0, oy, ox, o, t;
    be_status st = BE_OK;
#if BE_I8_PAD_BYTES >= 8
    /* the input with its padding made explicit: every window read in place through the tap
     * offsets (a border pixel otherwise builds a patch) */
    uint8_t pad[BE_I8_PAD_BYTES];
    be_arm_padded g = {0u, 0u, 0u, 0u}; /* (initialised: -Os cannot see the geometry sets it) */
    const int padded = be_arm_padded_geometry(op, c, BE_I8_PAD_BYTES - 4u, &g);
    const uint32_t iw = padded ? g.wp : vi->w; /* the row pitch the tap offsets use */
    if (padded)
        be_i8_pad_input(op, (const uint8_t *)in, &g, pad);
#else
    const uint32_t iw = vi->w;
#endif
    for (t = 0; t < k; t++) {
        const uint32_t ci = t % c, kx = (t / c) % op->kw, ky = t / (c * op->kw);
        off[t] = (ky * iw + kx) * c + ci;
    }
    be_i8_clear_out(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += BE_I8_BLOCK) {
        const uint32_t nb = op->out_ch - o0 < BE_I8_BLOCK ? op->out_ch - o0 : BE_I8_BLOCK;
        const int high = op->stage == BE_STAGE_REQUANT ? be_i8_rq_prepare(op, o0, nb, rq) : 0;
        if (high)
            rq_soa_prepare(rq, &soa);
        for (t = 0; t < k; t++)
            for (o = 0; o < BE_I8_BLOCK; o++)
                wt[t * BE_I8_BLOCK + o] = o < nb ? wts[(size_t)(o0 + o) * k + t] : 0;
        for (oy = 0; oy < vo->h; oy++) {
            /* be_window_inside's test, its row half hoisted out of the pixel loop */
            const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
#if BE_I8_PAD_BYTES >= 8
            if (padded && high && nb % 16u == 0u) {
                /* the common case (the ResNets' stem: 16 channels over the padded copy, every
                 * shift >= 32) as a bare loop over the row: per pixel and 16 channels only the
                 * asm block, none of the per-pixel tests below (i8first 1.79 -> 1.50
                 * instructions per MAC) */
                const uint8_t *x = pad + (size_t)oy * op->sh * g.wp * c;
                int8_t *dst = (int8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes + o0;
                const uint32_t *const offs = off;
                for (ox = 0; ox < vo->w; ox++, x += op->sw * c, dst += vo->pixel_bytes)
                    for (o = 0; o < nb; o += 16u) {
                        if (is_i8)
                            BE_I8_LANES16_RQ("ldrsb");
                        else
                            BE_I8_LANES16_RQ("ldrb");
                    }
                continue;
            }
#endif
            const int inside_y = y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)vi->h;
            for (ox = 0; ox < vo->w; ox++) {
                const int32_t x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
                int8_t *dst = (int8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes + o0;
                const uint8_t *x = (const uint8_t *)scratch;
                const uint32_t *offs = off;
                static const uint32_t seq[BE_I8_LANES_K] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
#if BE_I8_PAD_BYTES >= 8
                if (padded) {
                    x = pad + ((size_t)oy * op->sh * g.wp + (size_t)ox * op->sw) * c;
                } else
#endif
                if (inside_y && x0 >= 0 && x0 + (int32_t)op->kw <= (int32_t)vi->w) {
                    x = (const uint8_t *)in + ((size_t)y0 * vi->w + (uint32_t)x0) * c; /* read in place */
                } else {
                    patch_bytes(op, (const uint8_t *)in, oy, ox, (int8_t *)scratch, 1);
                    offs = seq;
                }
                for (o = 0; o < nb; o += 16u) {
                    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
                    if (high && o + 16u <= nb) {
                        if (is_i8)
                            BE_I8_LANES16_RQ("ldrsb");
                        else
                            BE_I8_LANES16_RQ("ldrb");
                        continue;
                    }
                    if (is_i8)
                        BE_I8_LANES16((int8_t)x[offs[t]]);
                    else
                        BE_I8_LANES16(x[offs[t]]);
                    lanes_put4(&soa, high, zp, dst, acc, o, nb, a0);
                    lanes_put4(&soa, high, zp, dst, acc, o + 4u, nb, a1);
                    lanes_put4(&soa, high, zp, dst, acc, o + 8u, nb, a2);
                    lanes_put4(&soa, high, zp, dst, acc, o + 12u, nb, a3);
                }
                if (!high) {
                    const be_status s = be_i8_put(op, rq, high, dst - o0, o0, nb, acc);
                    if (s != BE_OK)
                        st = s;
                }
            }
        }
    }
    return st;
}

/* ---------------------------------------------------------- depthwise, channel lanes */

/* Depthwise with channel multiplier 1: 8 channels per vector of int16 lanes. Per tap one
 * VLDRB (8 input channels widened) at the tap's address, one VLDRH of the 8 weights
 * (transposed per chunk: wt[(j8 * nt + t) * 8 + l] = w(8 j8 + l, t)), VMULLB / VMULLT (the even
 * and odd lanes' products, 32 bits) and two VADD; the last vector of the chunk predicated
 * (VCTP: no byte past the chunk's channels is read). */
#define DW_WT (BE_I8_BLOCK * BE_I8_DW_TAPS) /* int16: 4 KiB */

static void dw_weights(const be_op *op, uint32_t o0, uint32_t n, void *wt)
{
    const uint32_t nt = op->kh * op->kw;
    const int8_t *w = (const int8_t *)op->weights + (size_t)o0 * nt;
    int16_t *d = (int16_t *)wt;
    uint32_t j8, t, l;
    for (j8 = 0; j8 < (n + 7u) / 8u; j8++)
        for (t = 0; t < nt; t++, d += 8)
            for (l = 0; l < 8u; l++)
                d[l] = 8u * j8 + l < n ? w[(size_t)(8u * j8 + l) * nt + t] : 0;
}

/* 16 channels from j (unpredicated: j + 16 <= n): per tap two 8-lane vectors of codes (widened
 * to int16 by the load), each against its 8 weights with VMULLB / VMULLT (even and odd lanes'
 * products, 32 bits) into four accumulators (the widening VLDRB takes a low base register:
 * "l"). In assembly: GCC's code for the intrinsics kept
 * both code vectors live and spilled an accumulator (18 instructions per tap, 15 here). */
#define BE_I8_DW16(LD)                                                                            \
    for (; j + 16u <= n; j += 16u) {                                                              \
        const int16_t *w0 = w + (size_t)(j / 8u) * nt * 8u, *w1 = w0 + nt * 8u;                   \
        const uint8_t *const *tp = taps;                                                          \
        int32x4_t e0 = vdupq_n_s32(0), d0 = e0, e1 = e0, d1 = e0;                                 \
        int32x4x2_t r;                                                                            \
        uint32_t x;                                                                               \
        __asm__ volatile("dls lr, %[nt]\n"                                                        \
                         "0:\n\t"                                                                 \
                         "ldr %[x], [%[tp]], #4\n\t"                                              \
                         "vldrh.u16 q1, [%[w0]], #16\n\t"                                         \
                         "add %[x], %[x], %[j]\n\t"                                               \
                         LD " q0, [%[x]]\n\t"                                                     \
                         "vmullb.s16 q2, q0, q1\n\t"                                              \
                         "vadd.i32 %q[e0], %q[e0], q2\n\t"                                        \
                         "vmullt.s16 q2, q0, q1\n\t"                                              \
                         "vadd.i32 %q[d0], %q[d0], q2\n\t"                                        \
                         "vldrh.u16 q1, [%[w1]], #16\n\t"                                         \
                         LD " q0, [%[x], #8]\n\t"                                                 \
                         "vmullb.s16 q2, q0, q1\n\t"                                              \
                         "vadd.i32 %q[e1], %q[e1], q2\n\t"                                        \
                         "vmullt.s16 q2, q0, q1\n\t"                                              \
                         "vadd.i32 %q[d1], %q[d1], q2\n\t"                                        \
                         "le lr, 0b\n\t"                                                          \
                         : [e0] "+w"(e0), [d0] "+w"(d0), [e1] "+w"(e1), [d1] "+w"(d1), [tp] "+r"(tp), \
                           [w0] "+r"(w0), [w1] "+r"(w1), [x] "=&l"(x)                               \
                         : [nt] "r"(nt), [j] "r"(j)                                               \
                         : "lr", "q0", "q1", "q2", "memory");                                     \
        r.val[0] = e0;                                                                            \
        r.val[1] = d0;                                                                            \
        vst2q_s32(acc + j, r);                                                                    \
        r.val[0] = e1;                                                                            \
        r.val[1] = d1;                                                                            \
        vst2q_s32(acc + j + 8, r);                                                                \
    }

static void dw_core(const be_op *op, const uint8_t *const *taps, uint32_t nt, uint32_t o0, uint32_t n,
                    const void *wt, int32_t *acc)
{
    const int16_t *w = (const int16_t *)wt;
    const int is_i8 = op->in.kind == BE_KIND_I8;
    uint32_t j = 0, t;
    (void)o0;
    if (nt > 0u) { /* (the loader takes no kernel of zero taps; DLS wants a count) */
        if (is_i8) {
            BE_I8_DW16("vldrb.s16")
        } else {
            BE_I8_DW16("vldrb.u16")
        }
    }
    w += (size_t)(j / 8u) * nt * 8u;
    for (; j < n; j += 8u) { /* the last 1..15 channels, 8 lanes at a time, predicated */
        const mve_pred16_t p = vctp16q(n - j);
        int32x4_t ae = vdupq_n_s32(0), ao = ae;
        int32x4x2_t r;
        if (is_i8) {
            for (t = 0; t < nt; t++, w += 8) {
                const int16x8_t xv = vldrbq_z_s16((const int8_t *)taps[t] + j, p), wv = vld1q_s16(w);
                ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
                ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
            }
        } else {
            for (t = 0; t < nt; t++, w += 8) {
                const int16x8_t xv = vreinterpretq_s16_u16(vldrbq_z_u16(taps[t] + j, p)), wv = vld1q_s16(w);
                ae = vaddq_s32(ae, vmullbq_int_s16(xv, wv));
                ao = vaddq_s32(ao, vmulltq_int_s16(xv, wv));
            }
        }
        r.val[0] = ae;
        r.val[1] = ao;
        if (n - j >= 8u) {
            vst2q_s32(acc + j, r);
        } else { /* the last partial vector: lanes past n are not stored */
            int32_t tmp[8];
            vst2q_s32(tmp, r);
            for (t = 0; t < n - j; t++)
                acc[j + t] = tmp[t];
        }
    }
}

/* ------------------------------------------------------------------------ entries */

/* Each driver in its own frame (and each instance of the depthwise driver compiled on its own:
 * inlined together, GCC's code for the plain-C lane core got slower). */
__attribute__((noinline)) static be_status dw_lanes(const be_op *op, const void *in, void *out)
{
    int16_t wt[DW_WT];
    return be_i8_dw(op, in, out, dw_core, dw_weights, wt);
}

__attribute__((noinline)) static be_status dw_generic(const be_op *op, const void *in, void *out)
{
    return be_i8_dw(op, in, out, NULL, NULL, NULL);
}

be_status be_conv2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    if (be_i8_is_depthwise(op) && op->kh * op->kw <= BE_I8_DW_TAPS)
        return op->out_ch == op->in_ch ? dw_lanes(op, in, out) : dw_generic(op, in, out);
    if (op->groups <= 1u)
        return op->k <= BE_I8_LANES_K ? conv_lanes(op, in, out, scratch) : conv_s8(op, in, out, scratch);
    return be_i8_conv2d(op, in, out, scratch, BE_I8_S8, copy_s8, fill_s8, dot_s8);
}

be_status be_dense_i8_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_i8_dense(op, in, out, BE_I8_S8, copy_s8, dot_s8);
}

#else
typedef int be_i8_mve_unused; /* ISO C forbids an empty translation unit */
#endif
