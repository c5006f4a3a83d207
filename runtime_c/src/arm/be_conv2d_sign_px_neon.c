/* be_conv2d_sign_px_neon.c -- "lanes" for wide sign inputs: Conv2d over sign bits with 17 .. 96
 * channels (1 .. 3 words per pixel; armv7: up to 128, below), binary weights, stride 1, groups 1, into a
 * sign stage, int32 accumulators (a residual block's AccStage) or a RequantStage, with 4 output
 * positions in the NEON lanes (aarch64, or 32-bit ARM with NEON). Since 2026-12-06 (second
 * session of that day); the narrow
 * inputs (at most 16 channels, several kernel columns per word) stay in
 * be_conv2d_planes_px_neon.c.
 *
 * acc = KH * KW * C - 2 * D, D = popcount(x XOR w) over the receptive field, exactly the
 * reference (a padding pixel is the zero word, +1; bits past C are zero in both operands: the
 * image copy masks the input's, the loader proved the weights'). These layers (the ResNets'
 * 14 x 14 x 32 / 40 and 7 x 7 x 64 / 80 residual convs, examples/custom_model's 32- and
 * 64-channel blocks) ran the channel-major "neon" kernel at 0.06 .. 0.16 instructions per binary
 * MAC on aarch64-virt, which counts a 32-bit word of channels per pixel in a 128-bit vector step
 * padded with other taps.
 *
 * Here the input goes once per call into cw zero-padded word images (word p of every pixel in
 * image p, row pitch WP = W + PL + PR), so output position q = y * WP + x reads tap (ky, kx),
 * word p at q + ky * WP + kx of image p, and 4 consecutive positions are one vector load. Where
 * they fit (shift_words), these are cut into column-shifted images of pitch OW, one per tap
 * column, so that the positions are the output pixels and no padding column is computed (since
 * 2026-12-06, third session: the 7 x 7 maps' 16 vectors of positions became 13). When
 * the last word holds few bits (cl <= 10; with a 3x3 kernel this pays for C = 33 .. 42 only) its
 * image packs G = 32 / cl kernel columns per word, as be_planes_px.h packs narrow inputs, and the
 * weights are repacked to match (3x3 over 40 channels: 9 + 3 tap vectors instead of 18). Per vector of positions the n
 * tap vectors are loaded once (kept in registers by the instances, n = 9, 12, 18, 27); per output
 * channel each is XORed with the weight word (LD1R), counted per byte (CNT), the byte counts added
 * (at most 31 * 8 <= 255: n <= 31) and widened once (two UADDLP): 4 instructions per 128 bits.
 * On armv7 (16 quad registers) n <= 12 in registers: one word per pixel, or two with the last
 * packed into the accumulator or requant stage; unpacked rows of n = 18, 27 or 36 (3x3 over 43 ..
 * 128 channels; since 2026-12-06, third session) are counted in passes of 9 tap vectors, the
 * counts of the earlier passes kept per channel (part[], 4 KiB of stack: bytes up to 27 tap
 * vectors, halfwords for 36) and added to the last pass's.
 * The stages:
 *  - sign: D compared in the popcount domain (be_px_sign_a: D > A for direction +1, D <= A for
 *    -1, written u > A' with u = D XOR dmask, dmask = 0 or -1, A' = A or -A - 2: one LD2R of
 *    the pair), the bit inserted by VSRI #1 so that after 32 channels channel o0 + k sits at
 *    bit k; 4 positions of one row one store of output words;
 *  - accumulators: acc = KC - 2 D (VMLS), four channels' vectors stored by four ST4 lane stores
 *    (lane j: position j's 4 channels), a position past the row end into a trash row;
 *  - requant: be_neon_rq_bin_lanes per channel, four channels' 4 codes by four ST4 byte-lane
 *    stores.
 *
 * Stack: the word images and the shifted ones (at most IMG_WORDS words, 16 KiB), the repacked weights (at most
 * WPK_WORDS, 8 KiB), the tap vectors (n <= 31), the sign stage's constants (<= SIGN_OUT_MAX), the
 * trash row (<= OUT_MAX int32), the requant constants (<= RQ_MAX); no scratch.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>

#include "be_planes_px.h"
#include "arm/be_arm_i8.h"
#include "arm/be_px_neon.h"

#define LANES 4u
#define IMG_WORDS 4096u
#define VEC_MAX 31u       /* tap vectors KH * KW * cw: their byte counts fit a byte (31 * 8 <= 255) */
#define TAPS_MAX 36u      /* armv7's passes: at most 4 of 9 tap vectors (3x3 over 97 .. 128 channels) */
#define SIGN_OUT_MAX 512u /* output channels of a sign stage (its per-call constants) */
#define OUT_MAX 256u      /* output channels of the accumulator / requant stages (the trash row) */
#define RQ_MAX 64u        /* requantized outputs (their prepared constants: 1 KiB) */
#define WPK_WORDS 2048u   /* repacked weights O * n (8 KiB) */
#define C_MIN 17u         /* fewer channels: be_conv2d_planes_px_neon.c packs columns per word */
#if defined(__aarch64__)
#define C_MAX 96u
#else
#define C_MAX 128u /* four words per pixel in passes */
#endif

#if defined(__GNUC__)
#define PX_UNROLL _Pragma("GCC unroll 32")
#else
#define PX_UNROLL
#endif

/* The geometry of an op this kernel reads, whatever its stage, or 0: be_px_geom with planes = cw
 * word images, gw = G columns per word of the last image (the last word's cl = C - 32 (cw - 1)
 * bits: G = min(floor(32 / cl), KW), 1 when cl > 16), ng = ceil(KW / G) groups per kernel row
 * there, taps = n = (cw - 1) KH KW + KH ng tap vectors. With G > 1 the last image is packed as
 * be_planes_px.h packs narrow inputs, and the weights are repacked to match (at most WPK_WORDS);
 * when they would not fit, G = 1. */
static int wide_shape(const be_op *op, be_px_geom *g)
{
    const uint32_t cw = op->in.cw, cl = op->in.c - 32u * (cw - 1u);
    uint64_t n;
    if (!(be_px_sign_input(op) && op->type == BE_OP_CONV2D && op->groups <= 1u && op->sh == 1u && op->sw == 1u &&
          op->in.c >= C_MIN && op->in.c <= C_MAX && cw == be_words_for(op->in.c) && op->w_row_bytes == 4u * cw))
        return 0;
    g->wp = op->in.w + op->pl + op->pr;
    g->hp = op->in.h + op->pt + op->pb;
    if (op->kh == 0u || op->kw == 0u || op->kh > g->hp || op->kw > g->wp || op->out.h != g->hp - op->kh + 1u ||
        op->out.w != g->wp - op->kw + 1u || (uint64_t)op->out.h * op->out.w < 32u)
        return 0;
    g->planes = cw;
    g->npos = (op->out.h - 1u) * g->wp + op->out.w;
    g->gw = 32u / cl < op->kw ? 32u / cl : op->kw;
    g->ng = (op->kw + g->gw - 1u) / g->gw;
    n = (uint64_t)(cw - 1u) * op->kh * op->kw + (uint64_t)op->kh * g->ng;
    if (g->gw > 1u && (n > VEC_MAX || (uint64_t)op->out_ch * n > WPK_WORDS || op->kw % g->gw != 0u ||
                       4u * n > 3u * (uint64_t)cw * op->kh * op->kw)) {
        /* (packing pays for its weight repacking and copy only where it saves a quarter of the
         * taps: C = 80 (27 -> 24 taps) measured 0.055 -> 0.060 per binary MAC; and a group of the
         * last image holds whole G columns, so no tap needs a mask) */
        g->gw = 1u; /* unpacked */
        g->ng = op->kw;
        n = (uint64_t)cw * op->kh * op->kw;
    }
    g->taps = (uint32_t)(n <= TAPS_MAX ? n : 0u);
#if !defined(__aarch64__)
    /* AArch32's 16 quad registers hold 12 tap vectors at most (one word per pixel, or two with
     * the last one packed: C = 33 .. 42); 18 spilled, and "neon" counted them cheaper. Unpacked
     * rows of 18, 27 or 36 tap vectors (3x3 over 43 .. 128 channels) are counted in passes of 9
     * (wide_run) */
    if (cw > 1u && (g->gw == 1u ? n % 9u != 0u || n > TAPS_MAX : n > 12u))
        return 0;
    return (n <= VEC_MAX || g->gw == 1u) && (uint64_t)cw * g->hp * g->wp + BE_PX_SLACK <= IMG_WORDS;
#else
    return n <= VEC_MAX && (uint64_t)cw * g->hp * g->wp + BE_PX_SLACK <= IMG_WORDS;
#endif
}

/* The op's stage: 1 sign, 2 int32 accumulators, 3 RequantStage (q prepared), or 0 (not taken). */
static int wide_stage(const be_op *op, be_rq_bin *q)
{
    if (be_stage_is_sign(op) && op->out.kind == BE_KIND_BITS)
        return op->out_ch <= SIGN_OUT_MAX ? 1 : 0;
    if (op->out_ch > OUT_MAX)
        return 0;
    if (op->stage == BE_STAGE_ACC && op->out.kind == BE_KIND_I32 && op->out.pixel_bytes == op->out_ch * 4u)
        return 2;
    if (op->stage == BE_STAGE_REQUANT && op->out.kind == BE_KIND_I8 && op->out.pixel_bytes == op->out_ch &&
        op->out_ch <= RQ_MAX && be_rq_bin_prepare(op, 0u, op->out_ch, q))
        return 3;
    return 0;
}

/* Column-shifted images (be_pxn_shift_images): per full word p and kernel column kx, and per
 * group gr of the packed last image, the padded image cut to the OW columns that start at kx (at
 * gr G). Output position q = y * OW + x then reads tap (ky, kx) at q + ky * OW of its image, so
 * the positions are the output pixels themselves: no padding column is computed (a 7 x 7 map: 49
 * positions in 13 vectors, 61 in 16 with the padded pitch). Returns the words they take, or 0
 * where they do not fit beside the padded images they are cut from (those are read instead). */
static uint64_t shift_words(const be_op *op, const be_px_geom *g)
{
    const uint32_t full = g->gw > 1u ? g->planes - 1u : g->planes;
    const uint64_t nimg = (uint64_t)full * op->kw + (g->gw > 1u ? g->ng : 0u);
    const uint64_t words = nimg * g->hp * op->out.w;
    /* after the padded images and their slack, with a slack of their own; rows of at least a
     * vector (the lane pointers of the accumulator / requant stores wrap once) */
    return op->out.w >= LANES && (uint64_t)g->planes * g->hp * g->wp + words + 2u * BE_PX_SLACK <= IMG_WORDS ? words
                                                                                                             : 0u;
}

/* wide_shape and wide_stage. A sign stage over two or more words per pixel on maps of fewer than
 * 64 output pixels only from the column-shifted images: over the padded ones a 7 x 7 map computes
 * 61 positions for 49 outputs and "neon" counted the VGG32's 7 x 7 x 64 -> 128 cheaper (0.044
 * against 0.050 per binary MAC, aarch64-virt; 0.0415 from the shifted images). On AArch32 no sign
 * stage over a packed last word (its two constant vectors per channel would not fit beside the 12
 * tap vectors); the passes of 9 leave room for them. */
static int wide_takes(const be_op *op, be_px_geom *g, be_rq_bin *q)
{
    int stage;
    if (!wide_shape(op, g) || (stage = wide_stage(op, q)) == 0)
        return 0;
    if (stage == 1 && g->planes > 1u && (uint64_t)op->out.h * op->out.w < 64u && shift_words(op, g) == 0u)
        return 0;
    if (stage != 1 && g->wp < 4u) /* be_pxn_lane_pixels: a vector spans at most two rows */
        return 0;
#if !defined(__aarch64__)
    if (stage == 1 && g->planes > 1u && g->gw > 1u) /* 12 tap vectors and the constants: no room */
        return 0;
#endif
    return stage;
}

int be_conv2d_sign_px_neon_supports(const be_op *op)
{
    be_px_geom g;
    be_rq_bin q[RQ_MAX];
    return wide_takes(op, &g, q) != 0;
}

/* Word p of every pixel into image p (padding: zero words); the last word's bits past C
 * cleared. */
static void wide_copy(const be_op *op, const be_px_geom *g, const be_word *in, be_word *img)
{
    const uint32_t cw = g->planes, last = cw - 1u, w = op->in.w;
    const size_t plane = (size_t)g->hp * g->wp;
    const be_word cmask = be_last_word_mask(op->in.c);
    uint32_t y, x, p;
    be_zero_words(img, (uint32_t)(cw * plane) + BE_PX_SLACK); /* picolibc's memset is a byte loop */
    for (y = 0; y < op->in.h; y++) {
        const be_word *s = in + (size_t)y * w * cw;
        be_word *d = img + (size_t)(y + op->pt) * g->wp + op->pl;
        for (x = 0; x < w; x++, s += cw) {
            for (p = 0; p < last; p++)
                d[x + p * plane] = s[p];
            d[x + last * plane] = s[last] & cmask;
        }
    }
}

/* With G > 1: the last image's real rows packed in place, word (y, x) |= word (y, x + j) << (j cl)
 * for j < G, from the left (a word is read before it is rewritten; past the row end it reads the
 * next row's or the slack's words, which only positions x >= OW see). */
static void pack_last(const be_op *op, const be_px_geom *g, be_word *img)
{
    const uint32_t cl = op->in.c - 32u * (g->planes - 1u), gw = g->gw;
    uint32_t y, x, j;
    for (y = op->pt; y < op->pt + op->in.h; y++) {
        be_word *row = img + (size_t)(g->planes - 1u) * g->hp * g->wp + (size_t)y * g->wp;
        for (x = 0; x < g->wp; x++) {
            be_word v = row[x];
            for (j = 1u; j < gw; j++)
                v |= row[x + j] << (j * cl);
            row[x] = v;
        }
    }
}

/* The shifted images: the full words' kernel columns, then the packed last image's groups */
static void shift_images(const be_op *op, const be_px_geom *g, const be_word *pad, be_word *sh)
{
    const uint32_t full = g->gw > 1u ? g->planes - 1u : g->planes, plane = g->hp * g->wp;
    uint32_t p;
    for (p = 0; p < g->planes; p++)
        sh = be_pxn_shift_images(pad + p * plane, g->wp, g->hp, op->out.w, p < full ? op->kw : g->ng,
                                 p < full ? 1u : g->gw, sh);
}

/* The taps' word offsets, and with G > 1 the repacked weights:
 * taps t < F = (cw - 1) KH KW are (ky, kx, p) for the full words p < cw - 1 (t = (ky KW + kx)
 * (cw - 1) + p), then the last image's KH * ng groups (ky, group); wpk[o n + t] likewise, a group's
 * word packing its columns' last words (bits past C cleared) at j cl. Returns the weights to read:
 * op->weights as stored when G = 1 (there the taps are (ky, kx, p) for every p). */
static const be_word *wide_taps(const be_op *op, const be_px_geom *g, int shifted, uint32_t *tofs, be_word *wpk)
{
    const uint32_t cw = g->planes, n = g->taps, kw = op->kw, kk = op->kh * kw, gw = g->gw;
    const uint32_t full = gw > 1u ? cw - 1u : cw, f = full * kk, cl = op->in.c - 32u * (cw - 1u);
    const size_t plane = (size_t)g->hp * g->wp, splane = (size_t)g->hp * op->out.w;
    const be_word *w = (const be_word *)op->weights;
    const be_word cmask = be_last_word_mask(op->in.c);
    uint32_t t, o;
    for (t = 0; t < f; t++) { /* tap (ky, kx), word p: t = (ky * KW + kx) * full + p */
        const uint32_t p = t % full, k = t / full;
        tofs[t] = shifted ? (uint32_t)((p * kw + k % kw) * splane + k / kw * op->out.w)
                          : (uint32_t)(p * plane) + k / kw * g->wp + k % kw;
    }
    for (; t < n; t++) { /* the last image's group (ky, gr): columns gr G .. gr G + G - 1 */
        const uint32_t u = t - f;
        tofs[t] = shifted ? (uint32_t)((full * kw + u % g->ng) * splane + u / g->ng * op->out.w)
                          : (uint32_t)((cw - 1u) * plane) + u / g->ng * g->wp + u % g->ng * gw;
    }
    if (gw == 1u)
        return w;
    for (o = 0; o < op->out_ch; o++) {
        const be_word *wo = w + (size_t)o * kk * cw;
        be_word *d = wpk + (size_t)o * n;
        uint32_t k, p, ky, c0, j;
        for (k = 0; k < kk; k++)
            for (p = 0; p < full; p++)
                *d++ = wo[k * cw + p];
        for (ky = 0; ky < op->kh; ky++)
            for (c0 = 0; c0 < kw; c0 += gw) {
                be_word v = 0u;
                for (j = 0; j < gw && c0 + j < kw; j++)
                    v |= (wo[(ky * kw + c0 + j) * cw + cw - 1u] & cmask) << (j * cl);
                *d++ = v;
            }
    }
    return wpk;
}

#define BYTES_C_BODY                                                                                           \
    uint8x16_t a = vcntq_u8(vreinterpretq_u8_u32(veorq_u32(xv[0], vld1q_dup_u32(w))));                       \
    uint32_t t;                                                                                                \
    BYTES_C_LOOP                                                                                               \
    for (t = 1u; t < n; t++)                                                                                   \
        a = vaddq_u8(a, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(xv[t], vld1q_dup_u32(w + t)))));              \
    return a;

/* the same in C: unrolled for a constant n (armv7), or the generic instance's run-time loop (GCC
 * would otherwise unroll it 32 times, with exits) */
#define BYTES_C_LOOP PX_UNROLL
static inline __attribute__((always_inline)) uint8x16_t bytes_c(const uint32x4_t *xv, const be_word *w,
                                                                const uint32_t n)
{
    BYTES_C_BODY
}
#undef BYTES_C_LOOP
#define BYTES_C_LOOP
static inline __attribute__((always_inline)) uint8x16_t bytes_rt(const uint32x4_t *xv, const be_word *w,
                                                                 const uint32_t n)
{
    BYTES_C_BODY
}

/* D of the next output channel (weights at *p, then *p moves on) in 4 lanes */
static inline __attribute__((always_inline)) uint32x4_t count_next(const uint32x4_t *xv, const be_word **p,
                                                                   const uint32_t n, const int unrolled)
{
    uint8x16_t a;
    if (unrolled && n == 9u)
        a = be_pxn_bytes9(xv, p);
    else if (unrolled && n == 12u)
        a = be_pxn_bytes12(xv, p);
#if defined(__aarch64__)
    else if (unrolled && n == 18u)
        a = be_pxn_bytes18(xv, p);
    else if (unrolled && n == 27u)
        a = be_pxn_bytes27(xv, p);
#endif
    else {
        a = unrolled ? bytes_c(xv, *p, n) : bytes_rt(xv, *p, n);
        *p += n;
    }
    return vpaddlq_u16(vpaddlq_u8(a));
}

#if !defined(__aarch64__)
/* AArch32, rows of n = 18, 27 or 36 tap vectors in passes of 9: the running counts of the passes
 * before the last, per channel: byte counts while they fit a byte (n <= 27: 216), else halfword
 * sums of byte pairs (8 * 36 per halfword) */
static inline __attribute__((always_inline)) uint8x16_t pass_add(uint8x16_t part, uint8x16_t a, int first,
                                                                 const uint32_t n)
{
    if (n <= 27u)
        return first ? a : vaddq_u8(part, a);
    return vreinterpretq_u8_u16(first ? vpaddlq_u8(a) : vpadalq_u8(vreinterpretq_u16_u8(part), a));
}

/* D of the next output channel from the last pass's 9 tap vectors (weights at *p, then *p moves
 * on to the next channel's same pass) and the earlier passes' counts (**pp, then *pp moves on) */
static inline __attribute__((always_inline)) uint32x4_t count_last(const uint32x4_t *xv, const be_word **p,
                                                                   const uint8x16_t **pp, const uint32_t n)
{
    const uint8x16_t s = pass_add(*(*pp)++, be_pxn_bytes9(xv, p), 0, n);
    *p += n - 9u;
    return vpaddlq_u16(n <= 27u ? vpaddlq_u8(s) : vreinterpretq_u16_u8(s));
}
#define NEXT_D() (passes ? count_last(xv, &w, &pp, n) : count_next(xv, &w, n, unrolled))
#else
#define NEXT_D() count_next(xv, &w, n, unrolled)
#endif

/* One run over the positions with n tap vectors (a constant in the 3x3 instances); stage as
 * wide_stage. */
static inline __attribute__((always_inline)) void wide_run(const be_op *op, const be_px_geom *g, const be_word *img,
                                                           void *out, const uint32_t n, const int stage,
                                                           const be_rq_bin *rq, const int unrolled, const be_word *wk,
                                                           const uint32_t *tofs, const int passes)
{
    const uint32_t nout = op->out_ch, ow = op->out.w;
    const int32x4_t kc = vdupq_n_s32((int32_t)(op->kh * op->kw * op->in.c));
    int32_t sconst[2u * SIGN_OUT_MAX]; /* sign stage: (dmask, A') per channel */
    int32_t trash[OUT_MAX];
    uint32x4_t xv[VEC_MAX];
    uint32_t q0, t, c, y0 = 0u, x0 = 0u;
#if !defined(__aarch64__)
    uint8x16_t part[OUT_MAX]; /* passes: the earlier passes' counts per channel (pass_add) */
#else
    (void)passes;
#endif
    if (stage == 1) {
        const int8_t *dir = (const int8_t *)op->stage_a;
        const int32_t *thr = (const int32_t *)op->stage_b;
        const int64_t kcs = (int64_t)op->kh * op->kw * op->in.c;
        for (c = 0; c < nout; c++) {
            const int32_t a = be_px_sign_a(dir[c], thr[c], kcs); /* -A - 2 fits: A <= 2^30 + KC for -1 */
            sconst[2u * c] = dir[c] < 0 ? -1 : 0;
            sconst[2u * c + 1u] = dir[c] < 0 ? (int32_t)(-(int64_t)a - 2) : a;
        }
    }
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        const be_word *w = wk; /* channel c's weights: wk + c * n, read in channel order */
#if !defined(__aarch64__)
        const uint8x16_t *pp = part;
        if (passes) { /* every pass but the last into part[]; the last one's taps below */
            uint32_t t0;
            for (t0 = 0; t0 + 9u < n; t0 += 9u) {
                const be_word *wp = wk + t0;
                PX_UNROLL
                for (t = 0; t < 9u; t++)
                    xv[t] = vld1q_u32(img + tofs[t0 + t] + q0);
                for (c = 0; c < nout; c++, wp += n - 9u) {
                    const uint8x16_t a = be_pxn_bytes9(xv, &wp);
                    part[c] = pass_add(part[c], a, t0 == 0u, n);
                }
            }
            w = wk + t0;
            PX_UNROLL
            for (t = 0; t < 9u; t++)
                xv[t] = vld1q_u32(img + tofs[t0 + t] + q0);
        } else
#endif
        {
            PX_UNROLL
            for (t = 0; t < n; t++)
                xv[t] = vld1q_u32(img + tofs[t] + q0);
        }
        if (stage == 1) { /* per 32 channels: the bits by VSRI, then the words stored */
            uint32_t o0;
            for (o0 = 0; o0 < nout; o0 += 32u) {
                const uint32_t m = nout - o0 < 32u ? nout - o0 : 32u;
                uint32x4_t ov = vdupq_n_u32(0u);
                for (c = o0; c < o0 + m; c++) {
#if defined(__aarch64__)
                    const int32x4x2_t k = vld2q_dup_s32(sconst + 2u * c);
#else /* no VLD2 to all lanes of quad registers on AArch32 */
                    const int32x4x2_t k = {{vld1q_dup_s32(sconst + 2u * c), vld1q_dup_s32(sconst + 2u * c + 1u)}};
#endif
                    const int32x4_t u = veorq_s32(vreinterpretq_s32_u32(NEXT_D()), k.val[0]);
                    ov = vsriq_n_u32(vcgtq_s32(u, k.val[1]), ov, 1); /* (ov >> 1) | bit << 31 */
                }
                if (m < 32u)
                    ov = vshlq_u32(ov, vdupq_n_s32(-(int32_t)(32u - m)));
                if (op->out.pixel_bytes == 4u && be_px_run_of_pixels(op, g, LANES, q0, x0)) {
                    vst1q_u32((be_word *)out + (size_t)y0 * ow + x0, ov);
                } else {
                    be_word res[LANES];
                    vst1q_u32(res, ov);
                    be_px_store(op, g, res, LANES, q0, y0, x0, o0 / 32u, (be_word *)out);
                }
            }
            continue;
        }
        {
            uint8_t *px[LANES];
#if defined(__aarch64__)
            const uint32_t full = nout & ~3u;
#else /* past 9 tap vectors in registers the four results of ST4 do not fit beside them: lane stores */
            const uint32_t full = n > 9u && !passes ? 0u : nout & ~3u;
#endif
            be_pxn_lane_pixels(op, g, q0, y0, x0, out, trash, px);
            if (stage == 2) {
                int32_t *d0 = (int32_t *)(void *)px[0], *d1 = (int32_t *)(void *)px[1];
                int32_t *d2 = (int32_t *)(void *)px[2], *d3 = (int32_t *)(void *)px[3];
                for (c = 0; c < full; c += 4u) {
                    const int32x4_t a0 = vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2);
                    const int32x4_t a1 = vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2);
                    const int32x4_t a2 = vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2);
                    const int32x4_t a3 = vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2);
                    be_pxn_store_acc4(d0 + c, d1 + c, d2 + c, d3 + c, a0, a1, a2, a3);
                }
                for (; c < nout; c++) {
                    const int32x4_t r = vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2);
                    vst1q_lane_s32(d0 + c, r, 0);
                    vst1q_lane_s32(d1 + c, r, 1);
                    vst1q_lane_s32(d2 + c, r, 2);
                    vst1q_lane_s32(d3 + c, r, 3);
                }
            } else {
                int8_t *d0 = (int8_t *)px[0], *d1 = (int8_t *)px[1], *d2 = (int8_t *)px[2], *d3 = (int8_t *)px[3];
                for (c = 0; c < full; c += 4u) {
                    const int8x8_t r0 = be_neon_rq_bin_lanes(
                        vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2), rq + c);
                    const int8x8_t r1 = be_neon_rq_bin_lanes(
                        vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2), rq + c + 1u);
                    const int8x8_t r2 = be_neon_rq_bin_lanes(
                        vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2), rq + c + 2u);
                    const int8x8_t r3 = be_neon_rq_bin_lanes(
                        vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2), rq + c + 3u);
                    be_pxn_store_rq4(d0 + c, d1 + c, d2 + c, d3 + c, r0, r1, r2, r3);
                }
                for (; c < nout; c++) {
                    const int8x8_t r = be_neon_rq_bin_lanes(
                        vmlsq_n_s32(kc, vreinterpretq_s32_u32(NEXT_D()), 2), rq + c);
                    vst1_lane_s8(d0 + c, r, 0);
                    vst1_lane_s8(d1 + c, r, 1);
                    vst1_lane_s8(d2 + c, r, 2);
                    vst1_lane_s8(d3 + c, r, 3);
                }
            }
        }
    }
}

/* Instances: n = 9, 12, 18, 27 tap vectors (3x3 over 17 .. 32, 33 .. 42 (the last word packed three
 * columns to a word), 43 .. 64, 65 .. 96 channels) per stage; any other n is read at run time. */
#define WIDE_INSTANCE_P(name, n, stage, unrolled, passes)                                                      \
    static void name(const be_op *op, const be_px_geom *g, const be_word *img, void *out, const be_rq_bin *rq,  \
                     const be_word *wk, const uint32_t *tofs)                                                  \
    {                                                                                                          \
        wide_run(op, g, img, out, (n), (stage), rq, (unrolled), wk, tofs, (passes));                           \
    }
#define WIDE_INSTANCE(name, n, stage, unrolled) WIDE_INSTANCE_P(name, n, stage, unrolled, 0)
WIDE_INSTANCE(wide_sign9, 9u, 1, 1)
WIDE_INSTANCE(wide_acc9, 9u, 2, 1)
WIDE_INSTANCE(wide_rq9, 9u, 3, 1)
WIDE_INSTANCE(wide_acc12, 12u, 2, 1)
WIDE_INSTANCE(wide_rq12, 12u, 3, 1)
#if defined(__aarch64__)
WIDE_INSTANCE(wide_sign12, 12u, 1, 1)
WIDE_INSTANCE(wide_sign18, 18u, 1, 1)
WIDE_INSTANCE(wide_sign27, 27u, 1, 1)
WIDE_INSTANCE(wide_acc18, 18u, 2, 1)
WIDE_INSTANCE(wide_acc27, 27u, 2, 1)
WIDE_INSTANCE(wide_rq18, 18u, 3, 1)
WIDE_INSTANCE(wide_rq27, 27u, 3, 1)
#else /* 3x3 over 43 .. 128 channels in passes of 9 tap vectors */
WIDE_INSTANCE_P(wide_sign18, 18u, 1, 1, 1)
WIDE_INSTANCE_P(wide_sign27, 27u, 1, 1, 1)
WIDE_INSTANCE_P(wide_sign36, 36u, 1, 1, 1)
WIDE_INSTANCE_P(wide_acc36, 36u, 2, 1, 1)
WIDE_INSTANCE_P(wide_rq36, 36u, 3, 1, 1)
WIDE_INSTANCE_P(wide_acc18, 18u, 2, 1, 1)
WIDE_INSTANCE_P(wide_acc27, 27u, 2, 1, 1)
WIDE_INSTANCE_P(wide_rq18, 18u, 3, 1, 1)
WIDE_INSTANCE_P(wide_rq27, 27u, 3, 1, 1)
#endif
WIDE_INSTANCE(wide_sign_any, g->taps, 1, 0)
WIDE_INSTANCE(wide_acc_any, g->taps, 2, 0)
WIDE_INSTANCE(wide_rq_any, g->taps, 3, 0)

typedef void (*wide_fn)(const be_op *op, const be_px_geom *g, const be_word *img, void *out, const be_rq_bin *rq,
                        const be_word *wk, const uint32_t *tofs);

be_status be_conv2d_sign_px_neon(const be_op *op, const void *in, void *out, void *scratch)
{
#if defined(__aarch64__) /* n = 9, 12, 18, 27 or any (at most 31, in registers) */
    static const wide_fn inst[3][6] = {
        {wide_sign_any, wide_sign9, wide_sign12, wide_sign18, wide_sign27, wide_sign_any},
        {wide_acc_any, wide_acc9, wide_acc12, wide_acc18, wide_acc27, wide_acc_any},
        {wide_rq_any, wide_rq9, wide_rq12, wide_rq18, wide_rq27, wide_rq_any}};
#else /* n = 9 (3x3 over one word per pixel), 12 (two, the last packed; no sign stage), 18, 27 and
       * 36 (in passes of 9) or any (at most 12) */
    static const wide_fn inst[3][6] = {
        {wide_sign_any, wide_sign9, wide_sign_any, wide_sign18, wide_sign27, wide_sign36},
        {wide_acc_any, wide_acc9, wide_acc12, wide_acc18, wide_acc27, wide_acc36},
        {wide_rq_any, wide_rq9, wide_rq12, wide_rq18, wide_rq27, wide_rq36}};
#endif
    be_word img[IMG_WORDS], wpk[WPK_WORDS];
    uint32_t tofs[TAPS_MAX];
    be_rq_bin q[RQ_MAX];
    const be_word *wk;
    be_px_geom g;
    int stage, shifted;
    uint32_t pick;
    uint64_t pad_words, sw;
    (void)scratch;
    if ((stage = wide_takes(op, &g, q)) == 0)
        return BE_ERR_ARG; /* not reached: supports() checked it */
    wide_copy(op, &g, (const be_word *)in, img);
    if (g.gw > 1u)
        pack_last(op, &g, img);
    pad_words = (uint64_t)g.planes * g.hp * g.wp + BE_PX_SLACK;
    sw = shift_words(op, &g);
    shifted = sw > 0u;
    wk = wide_taps(op, &g, shifted, tofs, wpk);
    if (shifted) {
        shift_images(op, &g, img, img + pad_words);
        be_zero_words(img + pad_words + sw, LANES); /* what the last vector of positions reads past them */
        g.wp = op->out.w; /* the positions' pitch: the output rows */
        g.npos = op->out.h * op->out.w;
    }
    pick = g.taps == 9u ? 1u : g.taps == 12u ? 2u : g.taps == 18u ? 3u : g.taps == 27u ? 4u : g.taps == 36u ? 5u : 0u;
    inst[stage - 1][pick](op, &g, shifted ? img + pad_words : img, out, q, wk, tofs);
    return BE_OK;
}

#else
typedef int be_conv2d_sign_px_neon_unused; /* ISO C forbids an empty translation unit */
#endif
