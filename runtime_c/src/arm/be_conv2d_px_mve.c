/* be_conv2d_px_mve.c -- "lanes" on Helium (Cortex-M55): 3x3 Conv2d, stride 1, binary weights,
 * with output positions in the vector lanes: sign bits (up to 96 channels) into the sign stage,
 * into int32 accumulators or requantized to int8 (a RequantStage: MP_STAGE_RQ), or 2 unsigned
 * bit-planes (qrelu2, up to 32 channels) into 3 levels on 2 planes.
 *
 * The channel-major kernels ("mve", "tab") spend a 32-bit word, or a nibble table, on a pixel
 * whose C <= 16 channel bits fill a fraction of it, and "mve" adds its horizontal sums and row
 * tails to every output. Here a lane holds one pixel's channel bits: a byte for C <= 8 sign bits
 * (16 output positions per vector), a halfword for 9 .. 16 (8 positions) or for two planes of
 * <= 8 channels (plane 1 in the high byte), a word for two planes of 9 .. 16; two planes past 16
 * channels in two passes of 16; sign bits past 16 channels (and into accumulators) in passes of 16
 * with halfword sums (the many-pass instances at the end of this file). The input is copied once per call into zero-padded images of such
 * elements, one per pass (a padding pixel is the zero element: +1, level 0, as in the reference);
 * output position (y, x)'s tap (ky, kx) is element (y + ky) * WP + x + kx, so the taps of a run
 * of positions on one output row are one unaligned vector load each.
 *
 * Per output channel and vector of positions, with D = popcount(x XOR w) over the receptive field
 * (two planes: S = D_0 + 2 D_1, acc = S - 3 popcount(w)): per tap one load, VEOR with the tap's
 * weight (a broadcast vector from a per-call table; two passes: a word VDUP-ed), SWAR in byte lanes
 * to nibble counts (VSHR / VAND / VSUB, then one VMLA by -3, the two steps of "mve"), the nibbles
 * of three taps added (<= 12) and folded into byte counts with one VMLA by -15 (lo + 16 hi -
 * 15 hi); the bytes of a lane are added at the end (VSHR / VADD / VMOVLB). The stages compare in
 * the popcount domain: the sign bit is D >= B (a predicated VORR of the channel's bit; B from
 * be_px_sign_setup's A), the level G = #{k : S >= B_k} (predicated adds) goes into the two output
 * planes by VSLI; the direction -1 channels' bits are flipped once per vector (levels: 3 - G =
 * G XOR 3). The output words of the positions are written by one interleaving store (VST2 / VST4).
 *
 * Bounds (px_mode): C <= 16 sign bits or 32 of two planes, at most 32 output channels (64 with
 * two passes), at least 32 output pixels, the images within IMG_BYTES. Byte counts <= 8 per tap:
 * <= 144 over two passes' 18 taps. Stack: the images (4 KiB), the weights (4.5 KiB), the
 * thresholds; no scratch. No
 * __builtin_popcount. A RAM-tight build (BE_TAB_PAD_EXTRA = 0) leaves these layers to the others.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "be_planes_px.h"

#define IMG_BYTES 4096u
#define SLACK 16u /* elements a row's last vector reads past the last padded row */
#define OUT_MAX 32u    /* one output word per pixel and plane */
#define OUT_MAX_X2 64u /* two passes (weights VDUP-ed from words): two */
#define MIN_PIXELS 32u /* smaller maps: "tab" / "mve" (the vector setup per row weighs more) */
#define WV_BYTES (OUT_MAX * 9u * 16u) /* the broadcast weight vectors of one pass */
/* A RAM-tight build (docs/firmware.md: BE_TAB_PAD_EXTRA = 0) keeps no padded image on the stack:
 * these layers run "tab" / "sad" / "mve" there */
#if defined(BE_TAB_PAD_EXTRA) && (BE_TAB_PAD_EXTRA + 0) == 0
#define PX_MVE_ENABLED 0
#else
#define PX_MVE_ENABLED 1
#endif

/* The lane layouts. Sign bits: bytes (C <= 8, 16 positions per vector), halfwords (9 .. 16, 8
 * positions); more channels: the many-pass instances at the end of this file. Two bit-planes: halfwords (C <= 8,
 * plane 1 in the high byte), words (9 .. 16, plane 1 in the high halfword), words in two passes
 * (17 .. 32). */
enum { MODE_S8, MODE_S16, MODE_P16, MODE_P32, MODE_P32X2 };

static int mode_sign(int m)
{
    return m <= MODE_S16;
}

static uint32_t mode_esz(int m) /* bytes per lane (image element) */
{
    return m == MODE_S8 ? 1u : m >= MODE_P32 ? 4u : 2u;
}

static uint32_t mode_passes(int m)
{
    return m == MODE_P32X2 ? 2u : 1u;
}

static uint32_t mode_per(int m) /* output channels per lane of an output vector */
{
    return m == MODE_S8 ? 8u : m >= MODE_P32 ? 32u : 16u;
}

/* The layout of an op this kernel takes, or -1: a 3x3 Conv2d, stride 1, groups 1, at most 32
 * input and 32 output channels on at least MIN_PIXELS output pixels, over sign bits into the sign
 * stage, or over 2 unsigned bit-planes into 3 levels on 2 planes (qrelu2); the padded images with
 * their slack within IMG_BYTES. */
static int px_mode(const be_op *op, be_px_geom *g)
{
    int mode;
    if (!PX_MVE_ENABLED)
        return -1;
    if (be_px_sign_input(op) && be_stage_is_sign(op)) {
        if (op->in.c > 16u)
            return -1; /* past one halfword: the many-pass instances below */
        mode = op->in.c <= 8u ? MODE_S8 : MODE_S16;
    } else if (be_op_is_planes_binary(op) && op->in.planes == 2u && be_stage_is_levels(op) && op->levels == 3u &&
             op->out.planes == 2u)
        mode = op->in.c <= 8u ? MODE_P16 : op->in.c <= 16u ? MODE_P32 : MODE_P32X2;
    else
        return -1;
    if (op->in.c > 32u || op->out_ch > (mode_passes(mode) == 2u ? OUT_MAX_X2 : OUT_MAX) ||
        op->out.cw != (op->out_ch + 31u) / 32u || op->kh != 3u || op->kw != 3u ||
        (uint64_t)op->out.h * op->out.w < MIN_PIXELS)
        return -1;
    /* the geometry's own image / weight bounds are those of the packed-word kernels: not used here */
    if (!be_px_geometry(op, g, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 1))
        return -1;
    return ((uint64_t)g->hp * g->wp + SLACK) * mode_esz(mode) * mode_passes(mode) <= IMG_BYTES ? mode : -1;
}

/* Sign bits (kernel family CONV2D_BIN) and 2 bit-planes (CONV2D_PLANES): two rows of the table */
/* The many-pass instances' geometry (mp_takes): padded pitch and rows, and where the halfword
 * sums and the last vector's output copy start in the stack buffer (bytes) */
typedef struct mp_geom {
    uint32_t wp, hp, sums_at, last_at, rq_at;
} mp_geom;
enum { MP_ACC, MP_SIGN, MP_RQ }; /* the stage after the passes */
static int mp_takes(const be_op *op, int stage, mp_geom *g);
static be_status mp_call(const be_op *op, const void *in, void *out, const int stage);

int be_conv2d_px_mve_sign_supports(const be_op *op)
{
    be_px_geom g;
    mp_geom mg;
    const int m = px_mode(op, &g);
    return (m >= 0 && mode_sign(m)) || mp_takes(op, MP_SIGN, &mg);
}

int be_conv2d_px_mve_planes_supports(const be_op *op)
{
    be_px_geom g;
    const int m = px_mode(op, &g);
    return m >= 0 && !mode_sign(m);
}

/* The element of pass p for a pixel: its channels 16 p .. 16 p + 15 (all C <= 16 in one pass),
 * plane 1's above plane 0's (8 bits up with C <= 8, 16 with more) */
static uint32_t element(int mode, uint32_t p, be_word b0, be_word b1)
{
    const uint32_t sh = mode_passes(mode) == 2u ? 16u * p : 0u;
    const uint32_t e0 = (b0 >> sh) & 0xFFFFu, e1 = (b1 >> sh) & 0xFFFFu;
    return mode_sign(mode) ? e0 : e0 | e1 << (mode == MODE_P16 ? 8u : 16u);
}

/* The padded images (one per pass, `pimg` elements apart): element (y + PT) * WP + x + PL = pixel
 * (y, x)'s element (the words AND the channel mask), zero elsewhere. Sign bits of one pass by
 * byte loads and narrowing stores (the input may sit at any address); two planes of one pass by
 * de-interleaving loads when aligned; the rest pixel by pixel. */
static void build_image(const be_op *op, const be_px_geom *g, const uint8_t *in, void *img, const int mode,
                        uint32_t pimg)
{
    const uint32_t w = op->in.w, full = w & ~3u, esz = mode_esz(mode), passes = mode_passes(mode);
    const uint32_t planes = mode_sign(mode) ? 1u : 2u;
    const be_word cmask = be_last_word_mask(op->in.c);
    uint32_t y, x, p;
    be_zero_words((be_word *)img, (pimg * esz * passes + 3u) / 4u);
    for (y = 0; y < op->in.h; y++) {
        const uint32_t e0 = (y + op->pt) * g->wp + op->pl;
        const uint8_t *s = in + (size_t)y * w * 4u * planes;
        if (mode == MODE_S8 || mode == MODE_S16) {
            const uint32x4_t cm = vdupq_n_u32(cmask);
            uint8_t *d8 = (uint8_t *)img + e0;
            uint16_t *d16 = (uint16_t *)img + e0;
            if (mode == MODE_S16) {
                for (x = 0; x < full; x += 4u)
                    vstrhq_u32(d16 + x, vandq_u32(vreinterpretq_u32_u8(vld1q_u8(s + 4u * x)), cm));
            } else {
                for (x = 0; x < full; x += 4u)
                    vstrbq_u32(d8 + x, vandq_u32(vreinterpretq_u32_u8(vld1q_u8(s + 4u * x)), cm));
            }
            if (full < w) { /* the last 1 .. 3 pixels under a predicate */
                const mve_pred16_t pr = vctp32q(w - full);
                const uint32x4_t v =
                    vandq_u32(vreinterpretq_u32_u8(vldrbq_z_u8(s + 4u * full, vctp8q(4u * (w - full)))), cm);
                if (mode == MODE_S16)
                    vstrhq_p_u32(d16 + full, v, pr);
                else
                    vstrbq_p_u32(d8 + full, v, pr);
            }
            continue;
        }
        x = 0u;
        if ((mode == MODE_P16 || mode == MODE_P32) && ((uintptr_t)s & 3u) == 0u) {
            /* one pass of two planes: 4 pixels by one de-interleaving load (an arena value is word
             * aligned) */
            const uint32x4_t cm = vdupq_n_u32(cmask);
            for (; x < full; x += 4u) {
                const uint32x4x2_t v = vld2q_u32((const uint32_t *)(const void *)(s + 8u * x));
                const uint32x4_t b0 = vandq_u32(v.val[0], cm), b1 = vandq_u32(v.val[1], cm);
                if (mode == MODE_P16)
                    vstrhq_u32((uint16_t *)img + e0 + x, vsliq_n_u32(b0, b1, 8));
                else
                    vst1q_u32((uint32_t *)img + e0 + x, vsliq_n_u32(b0, b1, 16));
            }
        }
        for (; x < w; x++) {
            be_word b0, b1 = 0u;
            memcpy(&b0, s + 4u * planes * x, 4u);
            if (planes == 2u)
                memcpy(&b1, s + 8u * x + 4u, 4u);
            b0 &= cmask;
            b1 &= cmask;
            for (p = 0; p < passes; p++) {
                const uint32_t e = element(mode, p, b0, b1), i = p * pimg + e0 + x;
                if (esz == 2u)
                    ((uint16_t *)img)[i] = (uint16_t)e;
                else
                    ((uint32_t *)img)[i] = e;
            }
        }
    }
}

/* The weight of a tap, one pass: from the table of broadcast vectors (VLDRW, post-increment), or
 * (two passes) a word VDUP-ed to the lanes */
#define PX_WT "vldrw.u32 q1, [%[wv]], #16\n\t"
#define PX_W32 "ldr %[thr], [%[wv]], #4\n\tvdup.32 q1, %[thr]\n\t"
/* One tap (byte offset \o of row pointer \p): nibble counts of x XOR w into \a (q1: temporary;
 * q5 / q6: 0x55 / 0x33) */
#define PX_TAP(a, ld, p, o, W)                                                                   \
    ld " " a ", [%[" p "], #" o "]\n\t" W                                                      \
    "veor " a ", " a ", q1\n\t"                                                                \
    "vshr.u8 q1, " a ", #1\n\t"                                                                \
    "vand q1, q1, q5\n\t"                                                                      \
    "vsub.i8 " a ", " a ", q1\n\t"                                                             \
    "vshr.u8 q1, " a ", #2\n\t"                                                                \
    "vand q1, q1, q6\n\t"                                                                      \
    "vmla.u8 " a ", q1, %[m3]\n\t"
/* A kernel row of 3 taps: nibbles (<= 12) in \g, folded into byte counts (lo + hi) */
#define PX_ROW(g, ld, p, o1, o2, W)                                                              \
    PX_TAP(g, ld, p, "0", W) PX_TAP("q0", ld, p, o1, W) "vadd.i8 " g ", " g ", q0\n\t"           \
    PX_TAP("q0", ld, p, o2, W) "vadd.i8 " g ", " g ", q0\n\t"                                   \
    "vshr.u8 q1, " g ", #4\n\t"                                                                \
    "vmla.u8 " g ", q1, %[m15]\n\t"
/* The byte counts of a 3x3 kernel into q3 (rows p0, p1, p2): written, or added (a second pass) */
#define PX_K33(ld, o1, o2, W)                                                                    \
    PX_ROW("q3", ld, "p0", o1, o2, W) PX_ROW("q2", ld, "p1", o1, o2, W) "vadd.i8 q3, q3, q2\n\t" \
    PX_ROW("q2", ld, "p2", o1, o2, W) "vadd.i8 q3, q3, q2\n\t"
#define PX_K33_ADD(ld, o1, o2, W)                                                                \
    PX_ROW("q2", ld, "p0", o1, o2, W) "vadd.i8 q3, q3, q2\n\t"                                  \
    PX_ROW("q2", ld, "p1", o1, o2, W) "vadd.i8 q3, q3, q2\n\t"                                  \
    PX_ROW("q2", ld, "p2", o1, o2, W) "vadd.i8 q3, q3, q2\n\t"
/* Two passes: the second pass's image is `plane` bytes on (read from the block's frame) */
#define PX_MOVE(op)                                                                              \
    "ldr %[thr], [%[o], #32]\n\t" op " %[p0], %[p0], %[thr]\n\t" op " %[p1], %[p1], %[thr]\n\t"   \
    op " %[p2], %[p2], %[thr]\n\t"
#define PX_K33X2(ld, o1, o2, W) PX_K33(ld, o1, o2, W) PX_MOVE("add") PX_K33_ADD(ld, o1, o2, W) PX_MOVE("sub")

/* The byte counts of a lane added up. Sign bits in halfwords: D = lo + hi. Two planes of 8
 * channels in halfwords (plane 1 in the high byte): S = lo + 2 hi. Two planes of 16 channels in
 * words (plane 1 in the high halfword): halfword sums first, then S = lo + 2 hi. */
#define PX_FOLD_S16                                                                              \
    "vshr.u16 q2, q3, #8\n\t"                                                                  \
    "vadd.i16 q3, q3, q2\n\t"                                                                  \
    "vmovlb.u8 q3, q3\n\t"
#define PX_FOLD_P16                                                                              \
    "vshr.u16 q2, q3, #8\n\t"                                                                  \
    "vmovlb.u8 q3, q3\n\t"                                                                     \
    "vadd.i16 q3, q3, q2\n\t"                                                                  \
    "vadd.i16 q3, q3, q2\n\t"
#define PX_FOLD_P32                                                                              \
    PX_FOLD_S16                                                                                  \
    "vshr.u32 q2, q3, #16\n\t"                                                                 \
    "vmovlb.u16 q3, q3\n\t"                                                                    \
    "vadd.i32 q3, q3, q2\n\t"                                                                  \
    "vadd.i32 q3, q3, q2\n\t"

/* The sign stage of a channel: bit k of each lane (k = the channel in its block, in \bit as
 * 1 << k) = count >= B (thresholds read with post-increment) */
#define PX_STAGE_SIGN(dt)                                                                        \
    "ldrh %[thr], [%[tp]], #2\n\t"                                                              \
    "vdup." dt " q2, %[bit]\n\t"                                                               \
    "vpt.u" dt " cs, q3, %[thr]\n\t"                                                           \
    "vorrt q4, q4, q2\n\t"                                                                     \
    "lsl %[bit], %[bit], #1\n\t"
/* The level stage of a channel, 3 thresholds on 2 output planes: G = #{k : S >= B_k} in q0
 * (predicated adds of 1), its bit 0 shifted into the top of plane 0's vector (q4) and bit 1 into
 * plane 1's (q7) from the left (VSLI), so that after n channels channel k sits at bit
 * E - n + k (the final shift takes it to bit k) */
#define PX_STAGE_LEVELS(dt, top)                                                                 \
    "vmov.i8 q0, #0\n\t"                                                                       \
    "vmov.i" dt " q1, #1\n\t"                                                                  \
    "ldrh %[thr], [%[tp]], #2\n\t"                                                              \
    "vpt.u" dt " cs, q3, %[thr]\n\t"                                                           \
    "vaddt.i" dt " q0, q0, q1\n\t"                                                             \
    "ldrh %[thr], [%[tp]], #2\n\t"                                                              \
    "vpt.u" dt " cs, q3, %[thr]\n\t"                                                           \
    "vaddt.i" dt " q0, q0, q1\n\t"                                                             \
    "ldrh %[thr], [%[tp]], #2\n\t"                                                              \
    "vpt.u" dt " cs, q3, %[thr]\n\t"                                                           \
    "vaddt.i" dt " q0, q0, q1\n\t"                                                             \
    "vshr.u" dt " q4, q4, #1\n\t"                                                              \
    "vsli." dt " q4, q0, #" top "\n\t"                                                          \
    "vshr.u" dt " q1, q0, #1\n\t"                                                              \
    "vshr.u" dt " q7, q7, #1\n\t"                                                              \
    "vsli." dt " q7, q1, #" top "\n\t"

#define PX_SIGN_ASM(count, fold, dt)                                                             \
    __asm__ volatile("vmov.i8 q5, #0x55\n\t"                                                    \
                     "vmov.i8 q6, #0x33\n\t"                                                    \
                     "vmov.i8 q4, #0\n\t"                                                       \
                     "dls lr, %[n]\n"                                                           \
                     "1:\n\t" count fold PX_STAGE_SIGN(dt)                                      \
                     "le lr, 1b\n\t"                                                            \
                     "vstrw.32 q4, [%[o]]\n\t"                                                  \
                     : [wv] "+r"(wv), [tp] "+r"(bthr), [bit] "+r"(bit), [thr] "=&r"(thr), [p0] "+r"(p0), \
                       [p1] "+r"(p1), [p2] "+r"(p2)                                             \
                     : [n] "r"(n), [m3] "r"(m3), [m15] "r"(m15), [o] "r"(bo)                    \
                     : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory", "cc")
#define PX_LEVELS_ASM(count, fold, dt, top, bits)                                                \
    __asm__ volatile("vmov.i8 q5, #0x55\n\t"                                                    \
                     "vmov.i8 q6, #0x33\n\t"                                                    \
                     "vmov.i8 q4, #0\n\t"                                                       \
                     "vmov.i8 q7, #0\n\t"                                                       \
                     "dls lr, %[n]\n"                                                           \
                     "1:\n\t" count fold PX_STAGE_LEVELS(dt, top)                               \
                     "le lr, 1b\n\t"                                                            \
                     "sub %[thr], %[n], #" bits "\n\t"                                          \
                     "vshl.u" dt " q4, %[thr]\n\t"                                              \
                     "vshl.u" dt " q7, %[thr]\n\t"                                              \
                     "vstrw.32 q4, [%[o]]\n\t"                                                  \
                     "vstrw.32 q7, [%[o], #16]\n\t"                                             \
                     : [wv] "+r"(wv), [tp] "+r"(bthr), [thr] "=&r"(thr), [p0] "+r"(p0), [p1] "+r"(p1), \
                       [p2] "+r"(p2)                                                            \
                     : [n] "r"(n), [m3] "r"(m3), [m15] "r"(m15), [o] "r"(bo)                    \
                     : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "memory", "cc")

/* A block's frame: the stage bits of output plane 0 (and 1) of its channels, and the bytes from
 * one pass's image to the next (read by the asm) */
typedef struct px_frame {
    uint8x16_t ov[2];
    uint32_t plane;
} px_frame;

/* The channels c0 .. c0 + n - 1 (n <= the channels one output lane holds) of the positions whose
 * tap (0, 0) rows start at p0, p1, p2: the stage's bits of output plane 0 (and 1) to bo->ov[0]
 * (and [1]), channel c0 + k at bit k of each lane (before the direction's flip, applied by the
 * caller). Per channel and pass 9 taps of 9 instructions (10 with a VDUP-ed weight), 3 + 2 per
 * row to add and fold, then the fold of the lane and the stage (sign: 5; levels: 16). */
static inline __attribute__((always_inline)) void block_k33(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
                                                            const void *wv, const uint16_t *bthr, uint32_t n,
                                                            px_frame *bo, const int mode)
{
    uint32_t bit = 1u, thr;
    const uint32_t m3 = 0xFDu, m15 = 0xF1u;
    if (mode == MODE_S8)
        PX_SIGN_ASM(PX_K33("vldrb.u8", "1", "2", PX_WT), "", "8");
    else if (mode == MODE_S16)
        PX_SIGN_ASM(PX_K33("vldrh.u16", "2", "4", PX_WT), PX_FOLD_S16, "16");
    else if (mode == MODE_P16)
        PX_LEVELS_ASM(PX_K33("vldrh.u16", "2", "4", PX_WT), PX_FOLD_P16, "16", "15", "16");
    else if (mode == MODE_P32)
        PX_LEVELS_ASM(PX_K33("vldrw.u32", "4", "8", PX_WT), PX_FOLD_P32, "32", "31", "32");
    else
        PX_LEVELS_ASM(PX_K33X2("vldrw.u32", "4", "8", PX_W32), PX_FOLD_P32, "32", "31", "32");
    (void)bit;
}

/* Every output row's positions in vectors of 16 / esz lanes: the stage of every channel, stored
 * as the positions' output words (the valid ones; 2 out planes: 2 words per pixel). */
static inline __attribute__((always_inline)) void px_run(const be_op *op, const be_px_geom *g, const uint8_t *img,
                                                         const void *wv, const uint16_t *bthr, const uint32_t *neg,
                                                         uint32_t pimg, be_word *out, const int mode)
{
    const uint32_t ow = op->out.w, oh = op->out.h, nout = op->out_ch;
    const uint32_t esz = mode_esz(mode), lanes = 16u / esz, per = mode_per(mode);
    const uint32_t oplanes = mode_sign(mode) ? 1u : 2u, nthr = mode_sign(mode) ? 1u : 3u;
    const uint32_t pxw = oplanes * op->out.cw; /* output words per pixel */
    const uint32_t nvec = (nout + per - 1u) / per, pitch = g->wp * esz;
    /* bytes of weights per channel: one broadcast vector per tap, or one word per tap and pass */
    const uint32_t wstep = mode_passes(mode) == 2u ? 9u * 2u * 4u : 9u * 16u;
    const uint32_t rep = mode == MODE_S8 ? 0x01010101u : per == 32u ? 1u : 0x00010001u; /* per lane */
    uint8x16_t res[8]; /* [block * oplanes + plane] */
    px_frame fr;
    uint32_t y, x0, j, q;
    fr.plane = pimg * esz;
    for (y = 0; y < oh; y++)
        for (x0 = 0; x0 < ow; x0 += lanes) {
            const uint8_t *p0 = img + ((size_t)y * g->wp + x0) * esz;
            be_word *d = out + ((size_t)y * ow + x0) * pxw;
            be_word tmp[16];
            for (j = 0; j < 8u; j++)
                res[j] = vdupq_n_u8(0u);
            for (j = 0; j < nvec; j++) {
                const uint32_t c0 = j * per, n = nout - c0 < per ? nout - c0 : per;
                block_k33(p0, p0 + pitch, p0 + 2u * pitch, (const uint8_t *)wv + (size_t)c0 * wstep,
                          bthr + c0 * nthr, n, &fr, mode);
                for (q = 0; q < oplanes; q++) /* direction -1: the bit of acc >= T flipped, levels L - G */
                    res[j * oplanes + q] =
                        vreinterpretq_u8_u32(veorq_u32(vreinterpretq_u32_u8(fr.ov[q]), vdupq_n_u32(neg[j] * rep)));
            }
            if ((size_t)y * ow + x0 + lanes > (size_t)oh * ow)
                d = tmp; /* elsewhere the lanes past the row end write the next rows' first pixels,
                          * which their vectors rewrite later */
            if (mode == MODE_S8) {
                const uint8x16x4_t quad = {{res[0], res[1], res[2], res[3]}};
                vst4q_u8((uint8_t *)d, quad);
            } else if (mode_sign(mode)) {
                const uint16x8x2_t pair = {{vreinterpretq_u16_u8(res[0]), vreinterpretq_u16_u8(res[1])}};
                vst2q_u16((uint16_t *)d, pair);
            } else if (mode == MODE_P16) { /* per pixel: plane 0's two halfwords, then plane 1's */
                const uint16x8x4_t quad = {{vreinterpretq_u16_u8(res[0]), vreinterpretq_u16_u8(res[2]),
                                            vreinterpretq_u16_u8(res[1]), vreinterpretq_u16_u8(res[3])}};
                vst4q_u16((uint16_t *)d, quad);
            } else if (pxw == 4u) { /* per pixel: plane 0's two words, then plane 1's */
                const uint32x4x4_t quad = {{vreinterpretq_u32_u8(res[0]), vreinterpretq_u32_u8(res[2]),
                                            vreinterpretq_u32_u8(res[1]), vreinterpretq_u32_u8(res[3])}};
                vst4q_u32(d, quad);
            } else {
                const uint32x4x2_t pair = {{vreinterpretq_u32_u8(res[0]), vreinterpretq_u32_u8(res[1])}};
                vst2q_u32(d, pair);
            }
            if (d == tmp)
                be_copy_words(out + ((size_t)y * ow + x0) * pxw, tmp, (ow - x0) * pxw);
        }
}

typedef void (*px_run_fn)(const be_op *op, const be_px_geom *g, const uint8_t *img, const void *wv,
                          const uint16_t *bthr, const uint32_t *neg, uint32_t pimg, be_word *out);
#define PX_INSTANCE(name, mode)                                                                  \
    static void name(const be_op *op, const be_px_geom *g, const uint8_t *img, const void *wv,      \
                     const uint16_t *bthr, const uint32_t *neg, uint32_t pimg, be_word *out)      \
    {                                                                                            \
        px_run(op, g, img, wv, bthr, neg, pimg, out, mode);                                      \
    }
PX_INSTANCE(run_s8, MODE_S8)
PX_INSTANCE(run_s16, MODE_S16)
PX_INSTANCE(run_p16, MODE_P16)
PX_INSTANCE(run_p32, MODE_P32)
PX_INSTANCE(run_p32x2, MODE_P32X2)
/* the instances by layout, sign and bit-plane ones apart: each table row's entry point below
 * references only its own, so firmware without one kind of layer does not link the other's */
static const px_run_fn sign_instances[2] = {run_s8, run_s16};
static const px_run_fn planes_instances[3] = {run_p16, run_p32, run_p32x2};

/* popcount of a word without a popcount instruction (the setup's weight counts) */
static uint32_t popcount_word(uint32_t v)
{
    v -= (v >> 1) & 0x55555555u;
    v = (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0Fu;
    return (v * 0x01010101u) >> 24;
}

static uint16_t clamp16(int64_t b)
{
    return (uint16_t)(b < 0 ? 0 : b > 0xFFFF ? 0xFFFF : b);
}

/* The layout `mode` (px_mode, with its geometry g) of an op the caller's row takes: the images,
 * the thresholds and the weights, then the instance inst[mode - first]. */
static be_status px_call(const be_op *op, const be_px_geom *g, int mode, const void *in, void *out,
                         const px_run_fn *inst, int first)
{
    be_word img[IMG_BYTES / 4u];
    union { /* one pass: a broadcast vector per tap; two passes: a word per tap and pass */
        uint8x16_t v[WV_BYTES / 16u];
        uint32_t w[WV_BYTES / 4u];
    } wt;
    uint16_t bthr[OUT_MAX_X2 * 3u];
    uint32_t neg[4];
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    const be_word *w = (const be_word *)op->weights;
    const be_word cmask = be_last_word_mask(op->in.c);
    const int64_t kc = 9 * (int64_t)op->in.c;
    uint32_t c, t, k, p, per, nw, pimg;
    per = mode_per(mode);
    nw = op->out_ch * 9u;
    pimg = g->hp * g->wp + SLACK;
    build_image(op, g, (const uint8_t *)in, img, mode, pimg);
    for (c = 0; c < 4u; c++)
        neg[c] = 0u;
    for (c = 0; c < op->out_ch; c++) {
        if (dir[c] < 0)
            neg[c / per] |= 1u << (c % per);
        if (mode_sign(mode)) {
            /* the sign stage in the popcount domain: the reference's bit (direction * acc < T,
             * acc = KC - 2 D) is D > A for direction +1 and D <= A for -1 (be_px_sign_a), so D >=
             * B = A + 1, flipped for -1. D <= 72 in bytes, <= 144 in halfwords: a clamp at the top
             * never sets a bit. */
            const int64_t b = (int64_t)be_px_sign_a(dir[c], thr[c], kc) + 1;
            bthr[c] = b > 0xFF && mode == MODE_S8 ? 0xFF : clamp16(b);
        } else {
            /* 3 levels on 2 planes: with S = sum_p 2^p popcount(b_p XOR w) and pw = popcount(w)
             * over the receptive field, acc = S - 3 pw; level k holds when S >= T_k + 3 pw
             * (direction +1), or when NOT S >= 3 pw - T_k + 1 (-1: the level is 3 - G, G XOR 3).
             * S <= 216 (halfwords), 432 or 864 (words) < 0xFFFF. */
            int64_t pw = 0;
            for (t = 0; t < 9u; t++)
                pw += popcount_word(w[(size_t)c * 9u + t] & cmask);
            for (k = 0; k < 3u; k++) {
                const int64_t tk = thr[(size_t)c * 3u + k];
                bthr[c * 3u + k] = clamp16(dir[c] < 0 ? 3 * pw - tk + 1 : tk + 3 * pw);
            }
        }
    }
    /* the weight elements of each channel and tap (the image's layout: plane 1's copy above plane
     * 0's), read in order by the pass of a channel */
    if (mode_passes(mode) == 2u) {
        for (c = 0; c < op->out_ch; c++)
            for (p = 0; p < 2u; p++)
                for (t = 0; t < 9u; t++) {
                    const be_word e = w[(size_t)c * 9u + t] & cmask;
                    wt.w[(c * 2u + p) * 9u + t] = element(mode, p, e, e);
                }
    } else {
        for (t = 0; t < nw; t++) {
            const be_word e = w[t] & cmask;
            const uint32_t v = element(mode, 0u, e, e);
            wt.v[t] = mode == MODE_S8  ? vdupq_n_u8((uint8_t)v)
                      : mode_esz(mode) == 2u ? vreinterpretq_u8_u16(vdupq_n_u16((uint16_t)v))
                                          : vreinterpretq_u8_u32(vdupq_n_u32(v));
        }
    }
    inst[mode - first](op, g, (const uint8_t *)img, &wt, bthr, neg, pimg, (be_word *)out);
    return BE_OK;
}

be_status be_conv2d_px_mve_sign(const be_op *op, const void *in, void *out, void *scratch)
{
    be_px_geom g;
    const int mode = px_mode(op, &g);
    (void)scratch;
    if (mode < 0 || !mode_sign(mode))
        return mp_call(op, in, out, MP_SIGN); /* (BE_ERR_ARG if it does not take it: dispatch checked) */
    return px_call(op, &g, mode, in, out, sign_instances, MODE_S8);
}

be_status be_conv2d_px_mve_planes(const be_op *op, const void *in, void *out, void *scratch)
{
    be_px_geom g;
    const int mode = px_mode(op, &g);
    (void)scratch;
    if (mode < 0 || mode_sign(mode))
        return BE_ERR_ARG; /* not reached: dispatch checked it */
    return px_call(op, &g, mode, in, out, planes_instances, MODE_P16);
}

/* ------------------- many passes: sign bits into the accumulator, the RequantStage or the sign stage */

/* Sign bits with more channels than one halfword holds: the residual convs of a ResNet (graph v2:
 * Conv2d -> AccStage -> Merge, int32 accumulators acc = 9 C - 2 D, one per pixel and channel),
 * binary convs into BatchNorm + QuantInt8 (a RequantStage: MP_STAGE_RQ, any C <= 96, at most 96
 * outputs whose every channel takes mp_rq_prepare's form) and the wide convs of a VGG (the sign
 * stage, up to 128 outputs). Their sign bits go through the
 * count of the sign stage in halfword lanes (8 positions) and P = ceil(C / 16) passes of 16
 * channels (C <= 96: six passes). The passes are the outer loop of a vector's asm: per pass
 * and channel the byte counts (<= 144 per lane) are folded and added into the channel's
 * halfword accumulator (D <= 864) in a stack buffer, so any number of passes adds up exactly;
 * the weights are read from the blob as they are (pass p's element of a tap is halfword p of the
 * tap's words: LDRH with the tap's stride, VDUP; a pass walks every channel's weights in order,
 * so no pointer moves per channel). Then one loop over the channels:
 *   - accumulators: acc in halfword lanes (VDUP of 9 C, two VSUB), widened to the even and the
 *     odd positions (VMOVLB / VMOVLT) and written by two scatter stores (VSTRW with a vector of
 *     byte offsets: positions 2i and 2i + 1, the output pixel pitch apart);
 *   - sign bits: per block of 16 channels the bit of D >= B (VPT + VORRT, B from be_px_sign_a),
 *     the direction -1 channels flipped once (VEOR), one halfword scatter store (VSTRH with the
 *     positions' pixel offsets) per block; the blocks past the last channel store zeros, so the
 *     padding bits of the output words are 0.
 * Passes outside the channel loop measured 5 % fewer instructions than inside it (the row and
 * weight pointers move once per pass, not per channel: conv32acc 0.130 -> 0.123 per binary MAC).
 * One stack buffer of MP_BYTES holds the images, the halfword sums (16 bytes per channel) and
 * the last vector's output copy (8 pixels): a layer takes these instances when all three fit. */
#define MP_MAX_C 96u /* 128 channels: "mve" counts them faster (7x7x128 -> 128: 0.103 vs 0.113) */
#define MP_MAX_ACC 96u   /* accumulator outputs */
#define MP_MAX_SIGN 128u /* sign outputs */
#define MP_BYTES 6144u   /* images + sums + last vector: 7 x 7 x 80 -> 80 accumulators need 4,816 */
#define MP_MIN_C 17u     /* fewer sign channels into a sign stage: the one-pass layouts above */

/* What the asm reads (offsets fixed: PX_MOVE reads `plane` at 32) */
typedef struct mp_frame {
    uint32x4_t offs;   /*  0: accumulators: byte offsets of positions 0, 2, 4, 6; sign: of all 8 (u16) */
    uint32x4_t odd;    /* 16: accumulators: positions 1, 3, 5, 7 */
    uint32_t plane;    /* 32: bytes from one pass's image to the next */
    uint32_t passes;   /* 36 */
    uint32_t blocks;   /* 40: sign: halfword blocks of output bits per pixel (2 out.cw) */
    uint32_t wback;    /* 44: 9 * stride * n - 2: a pass's weights past the last channel -> the next pass's first */
    uint32_t kc;       /* 48: 9 * C */
    uint32_t n;        /* 52: output channels */
    int16_t *acc;      /* 56: the halfword accumulators, 8 per channel */
    void *out;         /* 60: the first position's output */
    const uint16_t *thr; /* 64: sign: per block, the direction -1 mask, then its channels' B */
    const int32_t *rq;   /* 68: requant: per channel {Ml, cl, Mh, ch, -(s - 16)} (mp_rq_prepare) */
} mp_frame;
/* the offsets the asm reads (C99 has no static assertion: a negative array size fails the build) */
typedef char mp_frame_offsets_checked[(offsetof(mp_frame, plane) == 32u && offsetof(mp_frame, passes) == 36u &&
                                       offsetof(mp_frame, blocks) == 40u && offsetof(mp_frame, wback) == 44u &&
                                       offsetof(mp_frame, kc) == 48u && offsetof(mp_frame, n) == 52u &&
                                       offsetof(mp_frame, acc) == 56u && offsetof(mp_frame, out) == 60u &&
                                       offsetof(mp_frame, thr) == 64u && offsetof(mp_frame, rq) == 68u)
                                          ? 1
                                          : -1];

/* The tap's weight of the pass: halfword p of its words, the taps `stride` bytes apart */
#define PX_WH(stride) "ldrh %[thr], [%[wv]], #" stride "\n\tvdup.16 q1, %[thr]\n\t"

/* The passes: every output channel's D of the 8 positions whose tap (0, 0) rows start at p0, p1,
 * p2 (PX_K33, the weights `stride` = 4 cw bytes apart) into the frame's accumulators (zeroed
 * first) */
#define MP_PASSES(stride)                                                                        \
    "vmov.i8 q5, #0x55\n\t"                                                                     \
    "vmov.i8 q6, #0x33\n\t"                                                                     \
    "vmov.i8 q4, #0\n\t"                                                                        \
    "ldr %[ob], [%[o], #56]\n\t"                                                                \
    "ldr lr, [%[o], #52]\n\t"                                                                   \
    "dls lr, lr\n"                                                                              \
    "5:\n\t"                                                                                    \
    "vstrh.16 q4, [%[ob]], #16\n\t"                                                             \
    "le lr, 5b\n\t"                                                                             \
    "ldr %[cnt], [%[o], #36]\n"                                                                 \
    "3:\n\t"                                                                                    \
    "ldr %[ob], [%[o], #56]\n\t"                                                                \
    "ldr lr, [%[o], #52]\n\t"                                                                   \
    "dls lr, lr\n"                                                                              \
    "1:\n\t" PX_K33("vldrh.u16", "2", "4", PX_WH(stride))                                       \
    "vshr.u16 q2, q3, #8\n\t"                                                                   \
    "vadd.i16 q3, q3, q2\n\t"                                                                   \
    "vmovlb.u8 q3, q3\n\t"                                                                      \
    "vldrh.u16 q2, [%[ob]]\n\t"                                                                 \
    "vadd.i16 q3, q3, q2\n\t"                                                                   \
    "vstrh.16 q3, [%[ob]], #16\n\t"                                                             \
    "le lr, 1b\n\t" PX_MOVE("add")                                                              \
    "ldr %[thr], [%[o], #44]\n\t"                                                               \
    "sub %[wv], %[wv], %[thr]\n\t"                                                              \
    "subs %[cnt], %[cnt], #1\n\t"                                                               \
    "bne 3b\n\t"
/* The accumulator stage over the channels */
#define MP_STAGE_ACC                                                                             \
    "ldr %[thr], [%[o], #48]\n\t"                                                               \
    "vdup.16 q4, %[thr]\n\t"                                                                    \
    "vldrw.u32 q5, [%[o]]\n\t"                                                                  \
    "vldrw.u32 q6, [%[o], #16]\n\t"                                                             \
    "ldr %[cnt], [%[o], #56]\n\t"                                                               \
    "ldr %[ob], [%[o], #60]\n\t"                                                                \
    "ldr lr, [%[o], #52]\n\t"                                                                   \
    "dls lr, lr\n"                                                                              \
    "4:\n\t"                                                                                    \
    "vldrh.u16 q3, [%[cnt]], #16\n\t"                                                           \
    "vsub.i16 q2, q4, q3\n\t"                                                                   \
    "vsub.i16 q2, q2, q3\n\t"                                                                   \
    "vmovlb.s16 q1, q2\n\t"                                                                     \
    "vmovlt.s16 q2, q2\n\t"                                                                     \
    "vstrw.32 q1, [%[ob], q5]\n\t"                                                              \
    "vstrw.32 q2, [%[ob], q6]\n\t"                                                              \
    "add %[ob], %[ob], #4\n\t"                                                                  \
    "le lr, 4b\n\t"
/* The sign stage over blocks of 16 channels (p0: the channel's bit, p1: the block's channels,
 * p2: the channels left) */
#define MP_STAGE_SIGN                                                                            \
    "vldrw.u32 q5, [%[o]]\n\t"                                                                  \
    "ldr %[cnt], [%[o], #56]\n\t"                                                               \
    "ldr %[ob], [%[o], #60]\n\t"                                                                \
    "ldr %[wv], [%[o], #64]\n\t"                                                                \
    "ldr %[p2], [%[o], #52]\n\t"                                                                \
    "ldr lr, [%[o], #40]\n\t"                                                                   \
    "dls lr, lr\n"                                                                              \
    "6:\n\t"                                                                                    \
    "vmov.i8 q4, #0\n\t"                                                                        \
    "ldrh %[thr], [%[wv]], #2\n\t"                                                              \
    "vdup.16 q6, %[thr]\n\t"                                                                    \
    "cmp %[p2], #16\n\t"                                                                        \
    "ite hs\n\t"                                                                                \
    "movhs %[p1], #16\n\t"                                                                      \
    "movlo %[p1], %[p2]\n\t"                                                                    \
    "sub %[p2], %[p2], %[p1]\n\t"                                                               \
    "mov %[p0], #1\n\t"                                                                         \
    "cmp %[p1], #0\n\t"                                                                         \
    "beq 8f\n"                                                                                  \
    "7:\n\t"                                                                                    \
    "vldrh.u16 q3, [%[cnt]], #16\n\t"                                                           \
    "ldrh %[thr], [%[wv]], #2\n\t"                                                              \
    "vdup.16 q2, %[p0]\n\t"                                                                     \
    "vpt.u16 cs, q3, %[thr]\n\t"                                                                \
    "vorrt q4, q4, q2\n\t"                                                                      \
    "lsl %[p0], %[p0], #1\n\t"                                                                  \
    "subs %[p1], %[p1], #1\n\t"                                                                 \
    "bne 7b\n"                                                                                  \
    "8:\n\t"                                                                                    \
    "veor q4, q4, q6\n\t"                                                                       \
    "vstrh.16 q4, [%[ob], q5]\n\t"                                                              \
    "add %[ob], %[ob], #2\n\t"                                                                  \
    "le lr, 6b\n\t"
/* The RequantStage over the channels, in the split-16 form of mp_rq_prepare: per channel acc =
 * 9 C - 2 D in halfword lanes, widened to the even and the odd positions; per half T = ((Ml acc +
 * cl) >> 16) + Mh acc + ch (VMUL, VADD, VSHR, VMLA, VADD by scalars), T >> (s - 16) (VSHL by a
 * negative scalar); the even halves saturated into the bottom and the odd into the top halfwords
 * of one vector (VQMOVNB / VQMOVNT: positions 0 .. 7 in order), then to int8 (VQMOVNB), and one
 * byte scatter store (VSTRB.16 with the positions' byte offsets). 24 instructions per channel
 * and 8 positions. */
#define MP_RQ_HALF(a, r)                                                                         \
    "vmul.i32 " r ", " a ", %[thr]\n\t"                                                          \
    "vadd.i32 " r ", " r ", %[p0]\n\t"                                                           \
    "vshr.s32 " r ", " r ", #16\n\t"                                                             \
    "vmla.s32 " r ", " a ", %[p1]\n\t"                                                           \
    "vadd.i32 " r ", " r ", %[p2]\n\t"                                                           \
    "vshl.s32 " r ", %[k0]\n\t"
#define MP_STAGE_RQ                                                                              \
    "ldr %[thr], [%[o], #48]\n\t"                                                               \
    "vdup.16 q4, %[thr]\n\t"                                                                    \
    "vldrw.u32 q5, [%[o]]\n\t"                                                                  \
    "ldr %[cnt], [%[o], #56]\n\t"                                                               \
    "ldr %[ob], [%[o], #60]\n\t"                                                                \
    "ldr %[wv], [%[o], #68]\n\t"                                                                \
    "ldr lr, [%[o], #52]\n\t"                                                                   \
    "dls lr, lr\n"                                                                              \
    "4:\n\t"                                                                                    \
    "vldrh.u16 q3, [%[cnt]], #16\n\t"                                                           \
    "ldrd %[thr], %[p0], [%[wv]], #8\n\t"                                                       \
    "ldrd %[p1], %[p2], [%[wv]], #8\n\t"                                                        \
    "ldr %[k0], [%[wv]], #4\n\t"                                                                \
    "vsub.i16 q2, q4, q3\n\t"                                                                   \
    "vsub.i16 q2, q2, q3\n\t"                                                                   \
    "vmovlb.s16 q1, q2\n\t"                                                                     \
    "vmovlt.s16 q2, q2\n\t"                                                                     \
    MP_RQ_HALF("q1", "q3") MP_RQ_HALF("q2", "q0")                                               \
    "vqmovnb.s32 q1, q3\n\t"                                                                    \
    "vqmovnt.s32 q1, q0\n\t"                                                                    \
    "vqmovnb.s16 q1, q1\n\t"                                                                    \
    "vstrb.16 q1, [%[ob], q5]\n\t"                                                              \
    "add %[ob], %[ob], #1\n\t"                                                                  \
    "le lr, 4b\n\t"
#define PX_MP_ASM(stride, stage)                                                                 \
    __asm__ volatile(MP_PASSES(stride) stage                                                    \
                     : [wv] "+r"(wv), [thr] "=&r"(thr), [cnt] "=&r"(cnt), [p0] "+r"(p0), [p1] "+r"(p1), \
                       [p2] "+r"(p2), [ob] "=&r"(ob)                                            \
                     : [m3] "r"(m3), [m15] "r"(m15), [o] "r"(fr)                                \
                     : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory", "cc")
/* The requant stage needs one register more (the shift): its own operand list, so that the
 * other stages' loops keep their registers (with it, they spilled: conv16acc +1 %) */
#define PX_MP_ASM_RQ(stride, stage)                                                              \
    __asm__ volatile(MP_PASSES(stride) stage                                                    \
                     : [wv] "+r"(wv), [thr] "=&r"(thr), [cnt] "=&r"(cnt), [p0] "+r"(p0), [p1] "+r"(p1), \
                       [p2] "+r"(p2), [ob] "=&r"(ob), [k0] "=&r"(k0)                            \
                     : [m3] "r"(m3), [m15] "r"(m15), [o] "r"(fr)                                \
                     : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "q6", "memory", "cc")

/* One vector of 8 positions (rows p0 .. p2, weights w of cw words per tap), every channel */
static inline __attribute__((always_inline)) void mp_block(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
                                                           const be_word *w, const mp_frame *fr, uint32_t cw,
                                                           const int stage)
{
    const uint8_t *wv = (const uint8_t *)w;
    uint8_t *ob;
    uint32_t thr, cnt, k0;
    const uint32_t m3 = 0xFDu, m15 = 0xF1u;
/* one instance per tap stride (1 .. 3 words of channel bits per pixel) */
#define PX_MP_BY_CW(ASM, stage)                                                                  \
    do {                                                                                         \
        if (cw == 1u)                                                                            \
            ASM("4", stage);                                                                     \
        else if (cw == 2u)                                                                       \
            ASM("8", stage);                                                                     \
        else                                                                                     \
            ASM("12", stage);                                                                    \
    } while (0)
    if (stage == MP_SIGN)
        PX_MP_BY_CW(PX_MP_ASM, MP_STAGE_SIGN);
    else if (stage == MP_RQ)
        PX_MP_BY_CW(PX_MP_ASM_RQ, MP_STAGE_RQ);
    else
        PX_MP_BY_CW(PX_MP_ASM, MP_STAGE_ACC);
#undef PX_MP_BY_CW
    (void)ob, (void)k0;
}

/* The RequantStage's constants in split-16 form, for accumulators |acc| <= K = 9 C, or 0 when a
 * channel does not take it. With Bh = be_rq_bias (the rounding term included) and the zero point
 * folded in, X = M acc + Bh + zp 2^s, and M = Mh 2^16 + Ml, X = ch 2^16 + cl (Ml, cl in
 * [0, 2^16), Mh, ch the arithmetic shifts by 16):
 *     floor(X / 2^s) = (((Ml acc + cl) >> 16) + Mh acc + ch) >> (s - 16)          (s >= 16)
 * all in int32 when |Ml acc + cl| < 65536 (K + 1) <= 2^31 (K <= 864) and |ch| + 32769 K + 1 <= 2^31 - 1;
 * the code is then clamp(T >> (s - 16), -128, 127). Checked per channel: 16 <= s <= 46 (a larger
 * s leaves only the bias: rare, the other kernels take it) and |Bh| <= 2^56 (X's terms stay
 * within int64). k gets 5 words per channel: Ml, cl, Mh, ch, -(s - 16) (k = NULL: the check
 * alone). */
static int mp_rq_prepare(const be_op *op, int32_t *k)
{
    const int32_t *m = (const int32_t *)op->stage_a;
    const uint8_t *sh = (const uint8_t *)op->stage_c;
    const int64_t kk = 9 * (int64_t)op->in.c, lim = (int64_t)INT32_MAX - 32769 * kk - 1;
    uint32_t c;
    if (kk > 864)
        return 0;
    for (c = 0; c < op->out_ch; c++) {
        const uint32_t s = sh[c];
        int64_t bz, ch;
        if (s < 16u || s > 46u)
            return 0;
        bz = be_rq_bias(op, c);
        if (bz > ((int64_t)1 << 56) || bz < -((int64_t)1 << 56))
            return 0;
        bz += (int64_t)op->zero_point * ((int64_t)1 << s); /* |zp| <= 128, s <= 46: within 2^54 */
        ch = bz < 0 ? ~(~bz >> 16) : bz >> 16;
        if (ch > lim || ch < -lim)
            return 0;
        if (k == NULL)
            continue; /* the check alone (supports) */
        k[0] = m[c] & 0xFFFF;
        k[1] = (int32_t)(bz - ch * 65536);
        k[2] = m[c] < 0 ? ~(~m[c] >> 16) : m[c] >> 16;
        k[3] = (int32_t)ch;
        k[4] = -(int32_t)(s - 16u); /* s <= 46: a shift of at most 30 */
        k += 5;
    }
    return 1;
}

/* The geometry of an op the many-pass instances take, or 0: a 3x3 Conv2d, stride 1, groups 1,
 * over C <= 96 sign bits (at least MP_MIN_C into a sign stage) into int32 accumulators (at most
 * MP_MAX_ACC) or the sign stage (at most MP_MAX_SIGN) on at least MIN_PIXELS output pixels; the
 * passes' padded images (halfwords, SLACK to spare each, rounded to 16 bytes), the sums (16
 * bytes per channel) and the last vector's 8 output pixels within MP_BYTES. */
static int mp_takes(const be_op *op, int stage, mp_geom *g)
{
    const int sign = stage == MP_SIGN;
    uint64_t img, sums, last, rq;
    if (!PX_MVE_ENABLED || op->type != BE_OP_CONV2D || !be_px_sign_input(op) || op->groups > 1u || op->kh != 3u ||
        op->kw != 3u || op->sh != 1u || op->sw != 1u || op->in.c == 0u || op->in.c > MP_MAX_C ||
        op->in.cw != (op->in.c + 31u) / 32u || op->w_row_bytes != op->in.cw * 4u || op->out_ch == 0u)
        return 0;
    if (sign ? !(be_stage_is_sign(op) && op->in.c >= MP_MIN_C && op->out_ch <= MP_MAX_SIGN &&
                 op->out.kind == BE_KIND_BITS && op->out.cw == (op->out_ch + 31u) / 32u &&
                 op->out.pixel_bytes == op->out.cw * 4u)
             : stage == MP_RQ
             ? !(op->stage == BE_STAGE_REQUANT && op->out_ch <= MP_MAX_ACC && op->out.kind == BE_KIND_I8 &&
                 op->out.pixel_bytes == op->out_ch && mp_rq_prepare(op, NULL))
             : !(op->stage == BE_STAGE_ACC && op->out_ch <= MP_MAX_ACC && op->out.kind == BE_KIND_I32 &&
                 op->out.pixel_bytes == op->out_ch * 4u))
        return 0;
    g->wp = op->in.w + op->pl + op->pr;
    g->hp = op->in.h + op->pt + op->pb;
    if (g->wp < 3u || g->hp < 3u || op->out.w != g->wp - 2u || op->out.h != g->hp - 2u ||
        (uint64_t)op->out.h * op->out.w < MIN_PIXELS)
        return 0;
    img = (((uint64_t)g->hp * g->wp + SLACK) * 2u * ((op->in.c + 15u) / 16u) + 15u) & ~(uint64_t)15u;
    sums = 16u * (uint64_t)op->out_ch;
    last = (8u * (uint64_t)op->out.pixel_bytes + 3u) & ~(uint64_t)3u;
    rq = stage == MP_RQ ? 20u * (uint64_t)op->out_ch : 0u; /* the requant constants (mp_rq_prepare) */
    if (img + sums + last + rq > MP_BYTES)
        return 0;
    g->sums_at = (uint32_t)img;
    g->last_at = (uint32_t)(img + sums);
    g->rq_at = (uint32_t)(img + sums + last);
    return 1;
}

int be_conv2d_px_mve_acc_supports(const be_op *op)
{
    mp_geom g;
    return mp_takes(op, op->stage == BE_STAGE_REQUANT ? MP_RQ : MP_ACC, &g);
}

/* Every vector of 8 output positions of the requant stage, row by row (the loop of mp_call for
 * the others): the lanes past a row's end write the next row's first pixels (rewritten by its
 * vectors later); past the map's end a copy in tmp (its int8 pixels need not be whole words) */
static inline __attribute__((always_inline)) void mp_rows(const be_op *op, const uint16_t *img16, uint32_t wp,
                                                          void *out, be_word *tmp, mp_frame *fr, uint32_t cw,
                                                          const int stage)
{
    const uint32_t ow = op->out.w, oh = op->out.h, npix = oh * ow, ps = op->out.pixel_bytes;
    uint32_t y, x, i;
    for (y = 0; y < oh; y++)
        for (x = 0; x < ow; x += 8u) {
            const uint8_t *p0 = (const uint8_t *)img16 + ((size_t)y * wp + x) * 2u;
            const size_t pos = (size_t)y * ow + x;
            uint8_t *d = pos + 8u > npix ? (uint8_t *)tmp : (uint8_t *)out + pos * ps;
            fr->out = d;
            mp_block(p0, p0 + 2u * wp, p0 + 4u * wp, (const be_word *)op->weights, fr, cw, stage);
            if (d == (uint8_t *)tmp) { /* (picolibc's memcpy copies bytes: words where they are) */
                if (ps % 4u == 0u)
                    be_copy_words((be_word *)out + pos * (ps / 4u), tmp, (uint32_t)(npix - pos) * (ps / 4u));
                else
                    for (i = 0; i < (npix - pos) * ps; i++)
                        ((uint8_t *)out)[pos * ps + i] = ((const uint8_t *)tmp)[i];
            }
        }
}

static be_status mp_call(const be_op *op, const void *in, void *out, const int stage)
{
    const int sign = stage == MP_SIGN;
    be_word buf[MP_BYTES / 4u]; /* the images, the sums, the last vector's output (mp_takes) */
    be_word *const img = buf, *tmp;
    int16_t *acc16;
    uint16_t bthr[MP_MAX_SIGN + MP_MAX_SIGN / 16u];
    int32_t *rqc = NULL;
    mp_frame fr;
    mp_geom g;
    uint32_t wp, pimg, passes, cw, y, x, p, i, c, b;
    const uint32_t nout = op->out_ch, ow = op->out.w, oh = op->out.h, npix = oh * ow;
    const uint32_t ps = op->out.pixel_bytes, pxw = ps / 4u; /* output bytes, words per pixel */
    const be_word cmask = be_last_word_mask(op->in.c);
    uint16_t *img16 = (uint16_t *)(void *)img;
    const be_word *src = (const be_word *)in;
    if (!mp_takes(op, stage, &g))
        return BE_ERR_ARG; /* not reached: dispatch checked it */
    wp = g.wp;
    acc16 = (int16_t *)(void *)(buf + g.sums_at / 4u);
    tmp = buf + g.last_at / 4u;
    cw = op->in.cw;
    passes = (op->in.c + 15u) / 16u;
    pimg = g.hp * wp + SLACK;
    /* the images: pass p's element of a pixel = bits 16 p .. 16 p + 15 of its channel words (the
     * last word masked to C), zero for padding (+1, as in the reference) */
    be_zero_words(img, (pimg * passes + 1u) / 2u);
    for (y = 0; y < op->in.h; y++)
        for (x = 0; x < op->in.w; x++) {
            const be_word *s = src + ((size_t)y * op->in.w + x) * cw;
            const uint32_t e = (y + op->pt) * wp + op->pl + x;
            for (p = 0; p < passes; p++) {
                be_word v = s[p / 2u];
                if (p / 2u + 1u == cw)
                    v &= cmask;
                img16[p * pimg + e] = (uint16_t)(v >> (16u * (p % 2u)));
            }
        }
    if (sign) {
        /* per block of 16 channels: the direction -1 mask, then each channel's B = A + 1 (D >= B
         * is the reference's bit for direction +1; flipped for -1: be_px_sign_a). D <= 864: a
         * clamp at 0xFFFF never sets a bit. Blocks past the last channel: a zero mask. */
        const int8_t *dir = (const int8_t *)op->stage_a;
        const int32_t *t = (const int32_t *)op->stage_b;
        const int64_t kc = 9 * (int64_t)op->in.c;
        uint16_t *q = bthr;
        for (b = 0; b < 2u * pxw; b++) {
            uint16_t neg = 0u;
            uint16_t *mask = q++;
            for (c = 16u * b; c < nout && c < 16u * b + 16u; c++) {
                const int64_t bb = (int64_t)be_px_sign_a(dir[c], t[c], kc) + 1;
                *q++ = clamp16(bb);
                if (dir[c] < 0)
                    neg |= (uint16_t)(1u << (c - 16u * b));
            }
            *mask = neg;
        }
        for (i = 0; i < 4u; i++) {
            fr.offs[i] = (2u * i * pxw * 4u) | ((2u * i + 1u) * pxw * 4u) << 16;
            fr.odd[i] = 0u;
        }
    } else if (stage == MP_RQ) {
        rqc = (int32_t *)(void *)(buf + g.rq_at / 4u); /* in the buffer: no stack for the others */
        (void)mp_rq_prepare(op, rqc); /* succeeds: mp_takes checked it */
        for (i = 0; i < 4u; i++) { /* the byte offsets of the 8 positions (u16: 7 ps <= 672) */
            fr.offs[i] = (2u * i * ps) | ((2u * i + 1u) * ps) << 16;
            fr.odd[i] = 0u;
        }
    } else {
        for (i = 0; i < 4u; i++) {
            fr.offs[i] = 2u * i * nout * 4u;
            fr.odd[i] = (2u * i + 1u) * nout * 4u;
        }
    }
    fr.plane = pimg * 2u;
    fr.passes = passes;
    fr.blocks = 2u * pxw;
    fr.wback = 9u * cw * 4u * nout - 2u;
    fr.kc = 9u * op->in.c;
    fr.n = nout;
    fr.acc = acc16;
    fr.thr = bthr;
    fr.rq = rqc;
    if (stage == MP_RQ) { /* its own copy of the loop: the requant asm's extra register stays out of the others' */
        mp_rows(op, img16, wp, out, tmp, &fr, cw, MP_RQ);
        return BE_OK;
    }
    for (y = 0; y < oh; y++)
        for (x = 0; x < ow; x += 8u) {
            const uint8_t *p0 = (const uint8_t *)img16 + ((size_t)y * wp + x) * 2u;
            const size_t pos = (size_t)y * ow + x;
            /* the lanes past a row's end write the next row's first pixels, rewritten by its
             * vectors later; past the map's end a copy */
            be_word *d = pos + 8u > npix ? tmp : (be_word *)out + pos * pxw;
            fr.out = d;
            mp_block(p0, p0 + 2u * wp, p0 + 4u * wp, (const be_word *)op->weights, &fr, cw, sign ? MP_SIGN : MP_ACC);
            if (d == tmp)
                be_copy_words((be_word *)out + pos * pxw, tmp, (uint32_t)(npix - pos) * pxw);
        }
    return BE_OK;
}

be_status be_conv2d_px_mve_acc(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return mp_call(op, in, out, op->stage == BE_STAGE_REQUANT ? MP_RQ : MP_ACC);
}

#else
typedef int be_conv2d_px_mve_unused; /* ISO C forbids an empty translation unit */
#endif
