/* be_conv2d_sign_px_mve.c -- "lanes" on Helium (Cortex-M55): Conv2d over sign bits with at most
 * 16 channels, stride 1, binary weights, sign stage, with output positions in the vector lanes.
 *
 * The channel-major kernels ("mve", "tab") spend a 32-bit word, or a nibble table, on a pixel
 * whose C <= 16 channel bits fill a fraction of it. Here a lane holds one pixel's channel bits:
 * a byte for C <= 8 (16 output positions per vector), a halfword for 9 .. 16 (8 positions), so a
 * 128-bit vector carries 128 bits of work for C = 8 or 16. The input is copied once per call into
 * a zero-padded image of such elements (a padding pixel is the zero element, +1, as in the
 * reference); output position (y, x)'s tap (ky, kx) is element (y + ky) * WP + x + kx, so the taps
 * of a run of positions on one output row are one unaligned vector load each.
 *
 * Per output channel and vector of positions, with D = popcount(x XOR w) over the receptive field:
 * per tap one load, VEOR with the tap's weight element (VDUP), SWAR in byte lanes to nibble counts
 * (VSHR / VAND / VSUB, then one VMLA by -3: x86 and "mve" use the same two steps), the nibbles of
 * three taps added (<= 12) and folded into byte counts with one VMLA by -15 (lo + 16 hi - 15 hi);
 * a halfword lane's two bytes are added at the end with one VMLA by -255. The sign stage is one
 * compare per channel in the popcount domain (be_px_sign_setup: bit = D > A for direction +1, D <= A
 * for -1): D >= A + 1 sets the channel's bit (a predicated VORR), and the bits of the direction -1
 * channels are flipped once per vector. The output words of the positions are written by one
 * interleaving store (VST4 of four byte vectors of 8 channels, VST2 of two halfword vectors of 16).
 *
 * Bounds (be_conv2d_sign_px_mve_supports): KH * KW <= 31 taps (byte counts <= 8 * 31 = 248; in
 * byte lanes D <= 248 < 255, the clamp of A + 1), at most 32 output channels (one output word per
 * pixel), the padded image within IMG_BYTES. Stack: the image (4 KiB), the weight elements
 * (2 KiB), the thresholds; no scratch. No __builtin_popcount.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "be_planes_px.h"

#define IMG_BYTES 2048u
#define SLACK 16u /* elements a row's last vector reads past the last padded row */
#define OUT_MAX 32u
#define MIN_PIXELS 32u /* smaller maps: "tab" / "mve" (the vector setup per row weighs more) */

/* elements per padded image (with the slack) and their size: bytes for C <= 8, halfwords above */
static uint32_t image_bytes(const be_op *op, const be_px_geom *g)
{
    return (g->hp * g->wp + SLACK) * (op->in.c <= 8u ? 1u : 2u);
}

int be_conv2d_sign_px_mve_supports(const be_op *op)
{
    be_px_geom g;
    if (!(be_px_sign_input(op) && be_stage_is_sign(op) && op->in.c <= 16u && op->out_ch <= OUT_MAX &&
          op->out.pixel_bytes == 4u && (uint64_t)op->out.h * op->out.w >= MIN_PIXELS))
        return 0;
    /* the geometry's own image / weight bounds are those of the packed-word kernels: not used here */
    if (!be_px_geometry(op, &g, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 1))
        return 0;
    return op->kh == 3u && op->kw == 3u && (uint64_t)g.hp * g.wp + SLACK <= IMG_BYTES &&
           image_bytes(op, &g) <= IMG_BYTES;
}

/* The padded image: element (y + PT) * WP + x + PL = pixel (y, x)'s channel bits (the pixel word
 * AND the channel mask, narrowed by the store), zero elsewhere. Byte loads: the input may sit at
 * any address. */
static void build_image(const be_op *op, const be_px_geom *g, const uint8_t *in, void *img, const int half)
{
    const uint32_t w = op->in.w, n = (image_bytes(op, g) + 3u) / 4u, full = w & ~3u;
    const uint32x4_t cm = vdupq_n_u32(be_last_word_mask(op->in.c));
    uint32_t y, x;
    be_zero_words((be_word *)img, n);
    for (y = 0; y < op->in.h; y++) {
        const uint8_t *s = in + (size_t)y * w * 4u;
        const uint32_t e0 = (y + op->pt) * g->wp + op->pl;
        uint8_t *d8 = (uint8_t *)img + e0;
        uint16_t *d16 = (uint16_t *)img + e0;
        if (half) {
            for (x = 0; x < full; x += 4u)
                vstrhq_u32(d16 + x, vandq_u32(vreinterpretq_u32_u8(vld1q_u8(s + 4u * x)), cm));
        } else {
            for (x = 0; x < full; x += 4u)
                vstrbq_u32(d8 + x, vandq_u32(vreinterpretq_u32_u8(vld1q_u8(s + 4u * x)), cm));
        }
        if (full < w) { /* the last 1 .. 3 pixels under a predicate */
            const mve_pred16_t p = vctp32q(w - full);
            const uint32x4_t v = vandq_u32(vreinterpretq_u32_u8(vldrbq_z_u8(s + 4u * full, vctp8q(4u * (w - full)))), cm);
            if (half)
                vstrhq_p_u32(d16 + full, v, p);
            else
                vstrbq_p_u32(d8 + full, v, p);
        }
    }
}

/* One tap (byte offset \o of row pointer \p): nibble counts of x XOR w into \a (q1: temporary;
 * the tap's weight vector read from the table, post-increment; q5 / q6: 0x55 / 0x33) */
#define PX_TAP(a, ld, p, o)                                                                      \
    ld " " a ", [%[" p "], #" o "]\n\t"                                                         \
    "vldrw.u32 q1, [%[wv]], #16\n\t"                                                          \
    "veor " a ", " a ", q1\n\t"                                                                \
    "vshr.u8 q1, " a ", #1\n\t"                                                                \
    "vand q1, q1, q5\n\t"                                                                      \
    "vsub.i8 " a ", " a ", q1\n\t"                                                             \
    "vshr.u8 q1, " a ", #2\n\t"                                                                \
    "vand q1, q1, q6\n\t"                                                                      \
    "vmla.u8 " a ", q1, %[m3]\n\t"
/* A kernel row of 3 taps: nibbles (<= 12) in \g, folded into byte counts (lo + hi) */
#define PX_ROW(g, ld, p, o1, o2)                                                                 \
    PX_TAP(g, ld, p, "0") PX_TAP("q0", ld, p, o1) "vadd.i8 " g ", " g ", q0\n\t"                 \
    PX_TAP("q0", ld, p, o2) "vadd.i8 " g ", " g ", q0\n\t"                                      \
    "vshr.u8 q1, " g ", #4\n\t"                                                                \
    "vmla.u8 " g ", q1, %[m15]\n\t"
/* D of a 3x3 kernel in the lanes of q3: three rows, each 3 taps (rows p0, p1, p2) */
#define PX_K33(ld, o1, o2)                                                                       \
    PX_ROW("q3", ld, "p0", o1, o2) PX_ROW("q2", ld, "p1", o1, o2) "vadd.i8 q3, q3, q2\n\t"      \
    PX_ROW("q2", ld, "p2", o1, o2) "vadd.i8 q3, q3, q2\n\t"

/* The channels c0 .. c0 + n - 1 (n <= 8 in bytes, <= 16 in halfwords) of the positions whose tap
 * (0, 0) rows start at p0, p1, p2: bit c - c0 of each lane = D_c >= B_c (the direction's flip
 * is applied by the caller), written to *ov. Per channel 9 taps of 9 instructions, 3 + 2 per
 * row to add and fold, 5 for the stage (thresholds read with post-increment, the bit vector
 * from a shifted register). */
static inline __attribute__((always_inline)) void block_k33(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
                                                            const uint8x16_t *wv, const void *bthr, uint32_t n,
                                                            uint8x16_t *ov, const int half)
{
    uint32_t bit = 1u, thr;
    const uint32_t m3 = 0xFDu, m15 = 0xF1u;
    uint8x16_t res;
    if (half)
        __asm__ volatile("vmov.i8 q5, #0x55\n\t"
                         "vmov.i8 q6, #0x33\n\t"
                         "vmov.i8 q4, #0\n\t"
                         "dls lr, %[n]\n"
                         "1:\n\t" PX_K33("vldrh.u16", "2", "4")
                         "vshr.u16 q2, q3, #8\n\t"
                         "vadd.i16 q3, q3, q2\n\t"
                         "vmovlb.u8 q3, q3\n\t"
                         "ldrh %[thr], [%[tp]], #2\n\t"
                         "vdup.16 q2, %[bit]\n\t"
                         "vpt.u16 cs, q3, %[thr]\n\t"
                         "vorrt q4, q4, q2\n\t"
                         "lsl %[bit], %[bit], #1\n\t"
                         "le lr, 1b\n\t"
                         "vmov %q[res], q4\n\t"
                         : [res] "=w"(res), [wv] "+r"(wv), [tp] "+r"(bthr), [bit] "+r"(bit), [thr] "=&r"(thr)
                         : [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2), [n] "r"(n), [m3] "r"(m3), [m15] "r"(m15)
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory", "cc");
    else
        __asm__ volatile("vmov.i8 q5, #0x55\n\t"
                         "vmov.i8 q6, #0x33\n\t"
                         "vmov.i8 q4, #0\n\t"
                         "dls lr, %[n]\n"
                         "1:\n\t" PX_K33("vldrb.u8", "1", "2")
                         "ldrb %[thr], [%[tp]], #1\n\t"
                         "vdup.8 q2, %[bit]\n\t"
                         "vpt.u8 cs, q3, %[thr]\n\t"
                         "vorrt q4, q4, q2\n\t"
                         "lsl %[bit], %[bit], #1\n\t"
                         "le lr, 1b\n\t"
                         "vmov %q[res], q4\n\t"
                         : [res] "=w"(res), [wv] "+r"(wv), [tp] "+r"(bthr), [bit] "+r"(bit), [thr] "=&r"(thr)
                         : [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2), [n] "r"(n), [m3] "r"(m3), [m15] "r"(m15)
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory", "cc");
    *ov = res;
}

/* Every output row's positions in vectors of V = 16 (bytes) or 8 (halfwords): the sign bits of
 * every channel, stored as the positions' output words (the valid ones). */
static inline __attribute__((always_inline)) void sign_run(const be_op *op, const be_px_geom *g, const uint8_t *img,
                                                           const uint8x16_t *wv, const void *bthr,
                                                           const uint16_t *neg, be_word *out, const int half)
{
    const uint32_t ow = op->out.w, oh = op->out.h, nout = op->out_ch;
    const uint32_t lanes = half ? 8u : 16u, per = half ? 16u : 8u, esz = half ? 2u : 1u;
    const uint32_t nvec = (nout + per - 1u) / per, pitch = g->wp * esz;
    uint32_t y, x0, j;
    for (y = 0; y < oh; y++)
        for (x0 = 0; x0 < ow; x0 += lanes) {
            const uint8_t *p0 = img + ((size_t)y * g->wp + x0) * esz;
            uint8x16_t res[4];
            be_word *d = out + (size_t)y * ow + x0;
            be_word tmp[16];
            for (j = 0; j < 4u; j++)
                res[j] = vdupq_n_u8(0u);
            for (j = 0; j < nvec; j++) {
                const uint32_t c0 = j * per, n = nout - c0 < per ? nout - c0 : per;
                block_k33(p0, p0 + pitch, p0 + 2u * pitch, wv + (size_t)c0 * 9u,
                          (const uint8_t *)bthr + c0 * esz, n, &res[j], half);
                res[j] = half ? vreinterpretq_u8_u16(veorq_u16(vreinterpretq_u16_u8(res[j]), vdupq_n_u16(neg[j])))
                              : veorq_u8(res[j], vdupq_n_u8((uint8_t)neg[j]));
            }
            if (x0 + lanes > ow && y + 1u == oh)
                d = tmp; /* elsewhere the lanes past the row end write the next row's first pixels,
                          * which that row's vectors rewrite later */
            if (half) {
                const uint16x8x2_t pair = {{vreinterpretq_u16_u8(res[0]), vreinterpretq_u16_u8(res[1])}};
                vst2q_u16((uint16_t *)d, pair);
            } else {
                const uint8x16x4_t quad = {{res[0], res[1], res[2], res[3]}};
                vst4q_u8((uint8_t *)d, quad);
            }
            if (d == tmp)
                for (j = 0; j < ow - x0; j++) {
                    out[(size_t)y * ow + x0 + j] = tmp[j];
                    BE_OPAQUE_PTR(out); /* a loop, not a call of the C library's byte-wise memcpy */
                }
        }
}

static void run_b(const be_op *op, const be_px_geom *g, const uint8_t *img, const uint8x16_t *wv, const void *bthr,
                  const uint16_t *neg, be_word *out)
{
    sign_run(op, g, img, wv, bthr, neg, out, 0);
}

static void run_h(const be_op *op, const be_px_geom *g, const uint8_t *img, const uint8x16_t *wv, const void *bthr,
                  const uint16_t *neg, be_word *out)
{
    sign_run(op, g, img, wv, bthr, neg, out, 1);
}

be_status be_conv2d_sign_px_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    be_word img[IMG_BYTES / 4u];
    uint8x16_t wv[OUT_MAX * 9u];
    uint16_t bthr[OUT_MAX], neg[OUT_MAX / 8u];
    uint8_t bthr8[OUT_MAX];
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const be_word *w = (const be_word *)op->weights;
    const be_word cmask = be_last_word_mask(op->in.c);
    const int half = op->in.c > 8u;
    const int64_t kc = 9 * (int64_t)op->in.c;
    const uint32_t per = half ? 16u : 8u, nw = op->out_ch * 9u;
    const int64_t bmax = half ? 0xFFFF : 0xFF;
    be_px_geom g;
    uint32_t c, t;
    (void)scratch;
    if (!be_conv2d_sign_px_mve_supports(op) || !be_px_geometry(op, &g, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu,
                                                                0xFFFFFFFFu, 1))
        return BE_ERR_ARG; /* not reached: dispatch checked it */
    build_image(op, &g, (const uint8_t *)in, img, half);
    /* The sign stage in the popcount domain (be_px_sign_setup's A): the reference's bit
     * (direction * acc < T, acc = KC - 2 D) is D >= B with B = floor((KC - T) / 2) + 1 for
     * direction +1 and NOT D >= B with B = ceil((T + KC) / 2) for -1. B is clamped to the lane: D
     * <= 72 in bytes, <= 144 in halfwords, so a clamp at the top never sets a bit. */
    for (c = 0; c < OUT_MAX / 8u; c++)
        neg[c] = 0u;
    for (c = 0; c < op->out_ch; c++) {
        const int64_t b = dir[c] < 0 ? be_px_ceil_half((int64_t)thr[c] + kc) : be_px_floor_half(kc - thr[c]) + 1;
        bthr[c] = (uint16_t)(b < 0 ? 0 : b > bmax ? bmax : b);
        bthr8[c] = (uint8_t)bthr[c];
        if (dir[c] < 0)
            neg[c / per] |= (uint16_t)(1u << (c % per));
    }
    /* the weight elements of each channel and tap, broadcast to a vector (read in order by the
     * pass of a channel) */
    if (half)
        for (t = 0; t < nw; t++)
            wv[t] = vreinterpretq_u8_u16(vdupq_n_u16((uint16_t)(w[t] & cmask)));
    else
        for (t = 0; t < nw; t++)
            wv[t] = vdupq_n_u8((uint8_t)(w[t] & cmask));
    if (half)
        run_h(op, &g, (const uint8_t *)img, wv, bthr, neg, (be_word *)out);
    else
        run_b(op, &g, (const uint8_t *)img, wv, bthr8, neg, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_conv2d_sign_px_mve_unused; /* ISO C forbids an empty translation unit */
#endif
