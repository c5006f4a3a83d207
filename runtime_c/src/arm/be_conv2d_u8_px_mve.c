/* be_conv2d_u8_px_mve.c -- "lanes": the first layer's 3x3 Conv2d (uint8 pixels, binary weights)
 * on Helium (Cortex-M55), with 8 output positions in int16 lanes.
 *
 * acc_o = sum_k x_k * w_o,k (weight bit 1 = -1, a padding pixel holds the zero point), exactly the
 * reference. "mla" (plain C) ran the small VGGs' 28 x 28 x 1 -> 8 layer at 1.47 instructions per
 * MAC on the M55 and "mve" (vectors over output channels) at 3.9. Here the input goes once per
 * call into zero-point-padded byte planes, one per input channel (row pitch WP = W + PL + PR), so
 * that tap (ky, kx) of 8 consecutive positions of an output row is one widening load (VLDRB.U16)
 * at ky * WP + kx from the row's start. Per vector of positions and group of 4 output channels,
 * each tap is one load, one LDRD of the 4 channels' weights (+1 / -1 as int16, the direction
 * folded in) and four VMLA by scalar (two ASR bring the odd channels' halfwords down): 8
 * instructions per 32 MACs. |acc| <= 255 * 9 * C <= 9180 for C <= 4: exact in int16.
 *
 * The stages use the sign of acc - T (no overflow: the thresholds are clamped to +-(255 K + 1)):
 * a sign stage's bit (acc < T) is that sign bit, put on top of the channel vector by one VSRI
 * (the vector moves right one bit per channel); 3 levels on 2 planes count m = #{k : acc < T_k}
 * (level = 3 - m = m XOR 3, flipped once per block) and insert m's two bits with VSLI. After the
 * block's channels, channel k sits at bit k of its 16-bit lane (channels 0 .. 15 and 16 .. 31),
 * and one interleaving store writes the positions' output words (VST2, or VST4 for 2 planes).
 *
 * Takes: Conv2d 3x3, groups 1, stride 1, C <= 4, at most 32 output channels on at least 32 output
 * pixels, a sign stage or 3 levels on 2 planes, the padded planes within IMG_BYTES.
 * Stack: the planes (4 KiB), the weights (<= 2.3 KiB), the thresholds; no scratch.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "arm/be_arm_u8.h"

#define IMG_BYTES 4096u
#define SLACK 16u /* bytes a row's last vector reads past the last padded row */
#define C_MAX 4u
#define OUT_MAX 32u
#define GROUPS_MAX (OUT_MAX / 4u)
#define MIN_PIXELS 32u
/* A RAM-tight build (docs/firmware.md: BE_U8_PAD_BYTES = 0) keeps no padded planes on the stack:
 * these layers run "mla" / "mve" there */
#if defined(BE_U8_PAD_BYTES) && (BE_U8_PAD_BYTES + 0) == 0
#define U8_PX_ENABLED 0
#else
#define U8_PX_ENABLED 1
#endif

static int levels3(const be_op *op)
{
    return be_stage_is_levels(op) && op->levels == 3u && op->out.planes == 2u;
}

int be_conv2d_u8_px_mve_supports(const be_op *op)
{
    const uint64_t wp = (uint64_t)op->in.w + op->pl + op->pr, hp = (uint64_t)op->in.h + op->pt + op->pb;
    return U8_PX_ENABLED && be_arm_u8_supports(op) && op->type == BE_OP_CONV2D && op->groups <= 1u && op->sh == 1u && op->sw == 1u &&
           op->kh == 3u && op->kw == 3u && (be_stage_is_sign(op) || levels3(op)) && op->out.kind == BE_KIND_BITS &&
           op->out.cw == 1u && op->out_ch >= 1u && op->out_ch <= OUT_MAX && op->in.c >= 1u && op->in.c <= C_MAX &&
           hp >= 3u && wp >= 3u && op->out.h == hp - 2u && op->out.w == wp - 2u &&
           (uint64_t)op->out.h * op->out.w >= MIN_PIXELS && wp * hp * op->in.c + SLACK <= IMG_BYTES;
}

/* One tap of the 4 channels: x = the 8 positions widened (q4), the channels' weights by LDRD */
#define U_TAP(p, o)                                                                              \
    "vldrb.u16 q4, [%[" p "], #" o "]\n\t"                                                      \
    "ldrd %[wa], %[wb], [%[wp]], #8\n\t"                                                        \
    "vmla.s16 q0, q4, %[wa]\n\t"                                                               \
    "asr %[wa], %[wa], #16\n\t"                                                                \
    "vmla.s16 q1, q4, %[wa]\n\t"                                                               \
    "vmla.s16 q2, q4, %[wb]\n\t"                                                               \
    "asr %[wb], %[wb], #16\n\t"                                                                \
    "vmla.s16 q3, q4, %[wb]\n\t"
#define U_ROW(p) U_TAP(p, "0") U_TAP(p, "1") U_TAP(p, "2")
/* the taps of every input channel (planes `plane` bytes apart) into q0 .. q3 */
#define U_TAPS                                                                                   \
    "vmov.i16 q0, #0\n\t"                                                                      \
    "vmov.i16 q1, #0\n\t"                                                                      \
    "vmov.i16 q2, #0\n\t"                                                                      \
    "vmov.i16 q3, #0\n\t"                                                                      \
    "ldr %[wa], [%[o], #40]\n\t"                                                              \
    "dls lr, %[wa]\n"                                                                          \
    "1:\n\t" U_ROW("p0") U_ROW("p1") U_ROW("p2")                                                \
    "ldr %[wa], [%[o], #44]\n\t"                                                              \
    "add %[p0], %[p0], %[wa]\n\t"                                                             \
    "add %[p1], %[p1], %[wa]\n\t"                                                             \
    "add %[p2], %[p2], %[wa]\n\t"                                                             \
    "le lr, 1b\n\t"
/* sign stage of channel \acc: the sign of acc - T on top of the channel vector (\from -> \to) */
#define U_SIGN(acc, from, to)                                                                    \
    "ldrsh %[wa], [%[tp]], #2\n\t"                                                              \
    "vsub.i16 " to ", " acc ", %[wa]\n\t"                                                      \
    "vsri.16 " to ", " from ", #1\n\t"
/* 3 levels of channel \acc: m = #{k : acc < T_k} in q4, its bits onto planes 0 (q5) and 1 (q6) */
#define U_LEVELS(acc)                                                                            \
    "ldrsh %[wa], [%[tp]], #2\n\t"                                                              \
    "vsub.i16 q4, " acc ", %[wa]\n\t"                                                          \
    "vshr.u16 q4, q4, #15\n\t"                                                                 \
    "ldrsh %[wa], [%[tp]], #2\n\t"                                                              \
    "vsub.i16 q7, " acc ", %[wa]\n\t"                                                          \
    "vshr.u16 q7, q7, #15\n\t"                                                                 \
    "vadd.i16 q4, q4, q7\n\t"                                                                  \
    "ldrsh %[wa], [%[tp]], #2\n\t"                                                              \
    "vsub.i16 q7, " acc ", %[wa]\n\t"                                                          \
    "vshr.u16 q7, q7, #15\n\t"                                                                 \
    "vadd.i16 q4, q4, q7\n\t"                                                                  \
    "vshr.u16 q5, q5, #1\n\t"                                                                  \
    "vsli.16 q5, q4, #15\n\t"                                                                  \
    "vshr.u16 q4, q4, #1\n\t"                                                                  \
    "vshr.u16 q6, q6, #1\n\t"                                                                  \
    "vsli.16 q6, q4, #15\n\t"

/* One block of G groups of 4 output channels (G <= 4: at most 16 channels) over the 8 positions
 * whose tap (0, 0) of channel 0 is at p0 (rows p0, p0 + WP, p0 + 2 WP): their stage bits, shifted
 * into q5 (and q6, plane 1) from the top per channel, then moved down by 16 - 4 G bits (shift =
 * 4 G - 16, a negative VSHL), levels flipped (3 - m) by `flip`, written to bo->ov[0] (and [1]).
 * The groups run in an asm loop: the channel loop moves the row pointers on by C planes, the
 * group loop takes them back. */
/* the next group: the row pointers back by the C planes the channel loop moved them on */
#define U_NEXT_GROUP                                                                             \
    "ldr %[wa], [%[o], #48]\n\t"                                                              \
    "sub %[p0], %[p0], %[wa]\n\t"                                                             \
    "sub %[p1], %[p1], %[wa]\n\t"                                                             \
    "sub %[p2], %[p2], %[wa]\n\t"                                                             \
    "subs %[g], %[g], #1\n\t"                                                                 \
    "bne 2b\n\t"
/* "l": the widening VLDRB.U16 takes its base from r0-r7 only */
#define U_OUTS                                                                                   \
    [p0] "+l"(p0), [p1] "+l"(p1), [p2] "+l"(p2), [wp] "+r"(wq), [tp] "+r"(tq), [wa] "=&r"(wa), [wb] "=&r"(wb), \
        [g] "+r"(ngroups)

typedef struct px_block {
    uint16x8_t ov[2]; /* the block's bits: plane 0, plane 1 */
    int32_t shift;    /* 4 G - 16 */
    uint32_t flip;    /* levels: the block's channels */
    uint32_t c;       /* input channels (planes) */
    uint32_t plane;   /* bytes from one plane to the next */
    uint32_t back;    /* C planes: the channel loop's advance, undone per group */
} px_block;

static inline __attribute__((always_inline)) void block(const uint8_t *p0, uint32_t wp, const int16_t *wq,
                                                        const int16_t *tq, uint32_t ngroups, px_block *bo,
                                                        const int levels)
{
    const uint8_t *p1 = p0 + wp, *p2 = p1 + wp;
    uint32_t wa, wb;
    if (levels)
        __asm__ volatile("vmov.i16 q5, #0\n\t"
                         "vmov.i16 q6, #0\n"
                         "2:\n\t" U_TAPS U_LEVELS("q0") U_LEVELS("q1") U_LEVELS("q2") U_LEVELS("q3")
                         U_NEXT_GROUP
                         "ldrd %[wa], %[wb], [%[o], #32]\n\t"
                         "vshl.u16 q5, %[wa]\n\t"
                         "vshl.u16 q6, %[wa]\n\t"
                         "vdup.16 q7, %[wb]\n\t"
                         "veor q5, q5, q7\n\t"
                         "veor q6, q6, q7\n\t"
                         "vstrw.32 q5, [%[o]]\n\t"
                         "vstrw.32 q6, [%[o], #16]\n\t"
                         : U_OUTS
                         : [o] "r"(bo)
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "memory", "cc");
    else
        __asm__ volatile("vmov.i16 q5, #0\n"
                         "2:\n\t" U_TAPS U_SIGN("q0", "q5", "q7") U_SIGN("q1", "q7", "q5")
                             U_SIGN("q2", "q5", "q7") U_SIGN("q3", "q7", "q5")
                         U_NEXT_GROUP
                         "ldr %[wa], [%[o], #32]\n\t"
                         "vshl.u16 q5, %[wa]\n\t"
                         "vstrw.32 q5, [%[o]]\n\t"
                         : U_OUTS
                         : [o] "r"(bo)
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q7", "memory", "cc");
}

/* Every output row's positions in vectors of 8: the stage of every channel (blocks of 16 channels,
 * 4 groups of 4 each), stored as the positions' output words (the valid ones) */
static inline __attribute__((always_inline)) void u8_run(const be_op *op, const uint8_t *img, uint32_t wp,
                                                         uint32_t plane, const int16_t *wq, const int16_t *tq,
                                                         be_word *out, const int levels)
{
    const uint32_t ow = op->out.w, oh = op->out.h, nout = op->out_ch, c = op->in.c;
    const uint32_t oplanes = levels ? 2u : 1u, ngroups = (nout + 3u) / 4u, nthr = levels ? 3u : 1u;
    const uint32_t g0 = ngroups < 4u ? ngroups : 4u, g1 = ngroups - g0; /* groups of blocks 0 and 1 */
    px_block bk[2];
    uint32_t y, x0, j;
    bk[0].shift = (int32_t)(4u * g0) - 16;
    bk[1].shift = (int32_t)(4u * g1) - 16;
    bk[0].flip = levels ? (nout < 16u ? (1u << nout) - 1u : 0xFFFFu) : 0u;
    bk[1].flip = levels && nout > 16u ? (1u << (nout - 16u)) - 1u : 0u;
    for (j = 0; j < 2u; j++) { /* block 1 of no channels (O <= 16) stays zero */
        bk[j].ov[0] = bk[j].ov[1] = vdupq_n_u16(0u);
        bk[j].c = c;
        bk[j].plane = plane;
        bk[j].back = plane * c;
    }
    for (y = 0; y < oh; y++)
        for (x0 = 0; x0 < ow; x0 += 8u) {
            const uint8_t *p0 = img + (size_t)y * wp + x0;
            be_word *d = out + ((size_t)y * ow + x0) * oplanes;
            be_word tmp[16];
            block(p0, wp, wq, tq, g0, &bk[0], levels);
            if (g1 > 0u)
                block(p0, wp, wq + (size_t)16u * c * 9u, tq + 16u * nthr, g1, &bk[1], levels);
            if ((size_t)y * ow + x0 + 8u > (size_t)oh * ow)
                d = tmp; /* elsewhere the lanes past the row end write the next rows' first pixels,
                          * which their vectors rewrite later */
            if (levels) { /* per pixel: plane 0's two halfwords, then plane 1's */
                const uint16x8x4_t quad = {{bk[0].ov[0], bk[1].ov[0], bk[0].ov[1], bk[1].ov[1]}};
                vst4q_u16((uint16_t *)d, quad);
            } else {
                const uint16x8x2_t pair = {{bk[0].ov[0], bk[1].ov[0]}};
                vst2q_u16((uint16_t *)d, pair);
            }
            if (d == tmp)
                be_copy_words(out + ((size_t)y * ow + x0) * oplanes, tmp, (ow - x0) * oplanes);
        }
}

static void run_sign(const be_op *op, const uint8_t *img, uint32_t wp, uint32_t plane, const int16_t *wq,
                     const int16_t *tq, be_word *out)
{
    u8_run(op, img, wp, plane, wq, tq, out, 0);
}

static void run_levels(const be_op *op, const uint8_t *img, uint32_t wp, uint32_t plane, const int16_t *wq,
                       const int16_t *tq, be_word *out)
{
    u8_run(op, img, wp, plane, wq, tq, out, 1);
}

/* a threshold on the int16 accumulators: |acc| <= 255 K, so clamping to +-(255 K + 1) keeps
 * every comparison and acc - T fits int16 */
static int16_t clamp_thr(int32_t t, int32_t lim)
{
    return (int16_t)(t < -lim ? -lim : t > lim ? lim : t);
}

be_status be_conv2d_u8_px_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    be_word img[IMG_BYTES / 4u];
    int16_t wq[GROUPS_MAX * C_MAX * 36u], tq[OUT_MAX * 3u];
    const uint32_t c = op->in.c, wp = op->in.w + op->pl + op->pr, hp = op->in.h + op->pt + op->pb;
    const uint32_t plane = wp * hp, nout = op->out_ch, ngroups = (nout + 3u) / 4u, rw = op->w_row_bytes;
    const int levels = levels3(op);
    const uint32_t nthr = levels ? 3u : 1u, fill = 0x01010101u * (uint8_t)op->in.zero_point;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b, lim = 255 * 9 * (int32_t)c + 1;
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *im = (uint8_t *)img;
    uint32_t y, x, o, ch, t, k;
    be_word *wd;
    (void)scratch;
    if (!be_conv2d_u8_px_mve_supports(op))
        return BE_ERR_ARG; /* not reached: dispatch checked it */
    /* the planes, padded with the zero point (the code of real 0, as the reference pads) */
    for (wd = img, x = 0; x < (plane * c + SLACK + 3u) / 4u; x++) {
        *wd++ = fill;
        BE_OPAQUE_PTR(wd); /* not the C library's byte-wise memset */
    }
    for (y = 0; y < op->in.h; y++)
        for (ch = 0; ch < c; ch++) {
            const uint8_t *s = src + (size_t)y * op->in.w * c + ch;
            uint8_t *d = im + ch * plane + (y + op->pt) * wp + op->pl;
            if (c == 1u) {
                for (x = 0; x + 16u <= op->in.w; x += 16u)
                    vst1q_u8(d + x, vld1q_u8(s + x));
                if (x < op->in.w)
                    vstrbq_p_u8(d + x, vldrbq_z_u8(s + x, vctp8q(op->in.w - x)), vctp8q(op->in.w - x));
            } else {
                for (x = 0; x < op->in.w; x++)
                    d[x] = s[(size_t)x * c];
            }
        }
    /* weights: wq[((g * C + c) * 9 + t) * 4 + j] = direction * (+1 / -1) of channel 4 g + j (0 past
     * the last channel); thresholds: tq[(4 g + j) * L + k], 0 past the last channel (a sign bit
     * or count of 0 there) */
    for (o = 0; o < ngroups * 4u; o++) {
        const int16_t s = o < nout && dir[o] < 0 ? -1 : 1;
        for (ch = 0; ch < c; ch++)
            for (t = 0; t < 9u; t++) {
                int16_t v = 0;
                if (o < nout) {
                    const uint8_t *wr = (const uint8_t *)op->weights + ((size_t)o * 9u + t) * rw;
                    v = (int16_t)(((wr[ch / 8u] >> (ch % 8u)) & 1u) ? -s : s);
                }
                wq[(((o / 4u) * c + ch) * 9u + t) * 4u + o % 4u] = v;
            }
        for (k = 0; k < nthr; k++)
            tq[o * nthr + k] = o < nout ? clamp_thr(thr[(size_t)o * nthr + k], lim) : 0;
    }
    (levels ? run_levels : run_sign)(op, im, wp, plane, wq, tq, (be_word *)out);
    return BE_OK;
}

#else
typedef int be_conv2d_u8_px_mve_unused; /* ISO C forbids an empty translation unit */
#endif
