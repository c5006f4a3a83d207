/* be_conv2d_planes_px_neon.c -- "lanes": Conv2d, 2 .. 8 unsigned bit-planes with at most 32 channels
 * (or sign bits with at most 16), stride 1, binary weights, threshold output stage, with 4 output positions in the lanes
 * (aarch64, or 32-bit ARM with NEON; be_planes_px.h: which ops, the packed images and weights;
 * the method of x86/be_conv2d_planes_px_avx512.c).
 *
 * acc = sum_p 2^p * (popcount(b_p) - 2 * popcount(b_p AND w)) (weight bit 1 = -1), exactly the
 * reference. On the NEON targets these layers (the qrelu2 VGG's 8- and 16-channel ones) ran
 * "tab" (nibble tables, 0.71-0.78 instructions per binary MAC) or the channel-major "neon". Per
 * vector of 4 positions: the KH * ceil(KW / G) * P group vectors (G kernel columns per word: 3
 * groups per plane for a 3x3 kernel on 8 channels) are loaded once and popcount(b_p) counted under
 * each group's mask; per output channel each group vector is ANDed with the weight word (VDUP),
 * counted per byte (VCNT), the byte counts of a plane added over its groups (at most 31: <= 248)
 * and folded into the 32-bit lanes once per plane (two pairwise widening adds). The threshold
 * stage runs on the 4 positions at once: level = #{k : direction * acc >= T_k} (compare masks
 * subtracted), each output plane's bit tested (VTST) and ORed into the output words of 32
 * channels; then the valid positions are stored.
 *
 * Sign bits (one plane, at most 16 channels, since 2026-12-05) take the XOR form of the x86
 * kernels: acc = KH * KW * C - 2 * popcount(x XOR w), the sign stage one compare per channel in
 * the popcount domain (be_px_sign_setup; px_sign_run below), or the int32 accumulators of a
 * residual conv (px_acc_run, a third entry point).
 *
 * Stack: the plane images (at most IMG_WORDS words, 16 KiB), the packed weights (at most WPK_WORDS,
 * 8 KiB) and the group vectors (at most XV_MAX, 1 KiB); no scratch.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON

#include <arm_neon.h>

#include "be_planes_px.h"
#include "arm/be_arm_i8.h" /* be_rq_bin: the RequantStage of px_acc_run */
#include "arm/be_px_neon.h"

#define LANES 4u
#define IMG_WORDS 4096u
#define XV_MAX 64u
#define WPK_WORDS 2048u
#define TAPS_MAX 31u /* groups per plane whose byte counts one byte holds (31 * 8 <= 255) */
#define SIGN_OUT_MAX 512u /* output channels of sign inputs (the sign stage's per-call constants) */

/* Fully unroll the next loop (constant trip counts in the instances: the group vectors then stay
 * in registers) */
#if defined(__GNUC__)
#define PX_UNROLL _Pragma("GCC unroll 16")
#else
#define PX_UNROLL
#endif

/* 2 .. 8 planes: the kernel family CONV2D_PLANES, so that firmware without such a layer does not
 * link it (one plane: "tab" / "neon"); unsigned levels out (a sign stage runs the generic
 * instance: 0.73 instructions per MAC against "tab"'s 0.64 on 14x14x8 -> 8, aarch64-virt) */
int be_conv2d_planes_px_neon_supports(const be_op *op)
{
    be_px_geom g;
    return op->in.planes >= 2u && op->encoding == BE_ENC_UNSIGNED &&
           be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 0);
}

/* popcount of the bytes of a, added over a plane's groups, to 32-bit lanes */
static inline uint32x4_t bytes_to_words(uint8x16_t a)
{
    return vpaddlq_u16(vpaddlq_u8(a));
}

/* sum over the planes p of 2^p * sum over the groups t of popcount(x[p][t] AND m_t) per lane,
 * m_t = wo[t] (taps (groups) and planes are constants after inlining) */
static inline __attribute__((always_inline)) uint32x4_t count_and(const uint32x4_t *xv, const be_word *wo,
                                                                  const uint32_t taps, const uint32_t planes)
{
    uint32x4_t s = vdupq_n_u32(0u);
    uint32_t p, t;
    PX_UNROLL
    for (p = 0; p < planes; p++) {
        uint8x16_t a = vdupq_n_u8(0u);
        PX_UNROLL
        for (t = 0; t < taps; t++)
            a = vaddq_u8(a, vcntq_u8(vreinterpretq_u8_u32(vandq_u32(xv[p * taps + t], vdupq_n_u32(wo[t])))));
        s = vaddq_u32(s, vshlq_u32(bytes_to_words(a), vdupq_n_s32((int32_t)p)));
    }
    return s;
}

static inline __attribute__((always_inline)) void px_run(const be_op *op, const be_px_geom *g, const be_word *img,
                                                         const be_word *wk, const be_word *vmask, be_word *out,
                                                         const uint32_t taps, const uint32_t planes, const int sign,
                                                         const uint32_t levels, const uint32_t oplanes)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u;
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *thr = (const int32_t *)op->stage_b;
    uint32x4_t xv[XV_MAX];
    be_word res[BE_PX_OUT_PLANES * LANES];
    uint32_t tofs[XV_MAX];
    uint32_t q0, t, p, gi, o, k, qp, y0 = 0u, x0 = 0u;
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        uint32x4_t ones = vdupq_n_u32(0u);
        PX_UNROLL
        for (p = 0; p < planes; p++) {
            uint8x16_t a = vdupq_n_u8(0u);
            PX_UNROLL
            for (t = 0; t < taps; t++) {
                xv[p * taps + t] = vld1q_u32(img + tofs[p * taps + t] + q0);
                a = vaddq_u8(a, vcntq_u8(vreinterpretq_u8_u32(vandq_u32(xv[p * taps + t], vdupq_n_u32(vmask[t])))));
            }
            ones = vaddq_u32(ones, vshlq_u32(bytes_to_words(a), vdupq_n_s32((int32_t)p)));
        }
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u;
            uint32x4_t ov[BE_PX_OUT_PLANES];
            PX_UNROLL
            for (qp = 0; qp < BE_PX_OUT_PLANES; qp++)
                ov[qp] = vdupq_n_u32(0u);
            for (o = 0; o < n; o++) {
                const uint32_t c = o0 + o;
                const uint32x4_t bit = vdupq_n_u32(1u << o);
                const int32x4_t acc = vreinterpretq_s32_u32(
                    vsubq_u32(ones, vshlq_n_u32(count_and(xv, wk + (size_t)c * taps, taps, planes), 1)));
                /* |acc| <= INT32_MAX (the loader's bound), so the negation does not overflow */
                const int32x4_t x = dir[c] < 0 ? vnegq_s32(acc) : acc;
                const int32_t *tc = thr + (size_t)c * levels;
                if (sign) { /* x < T: level 0 -> -1 -> bit 1 */
                    ov[0] = vorrq_u32(ov[0], vandq_u32(vcltq_s32(x, vdupq_n_s32(tc[0])), bit));
                } else {
                    uint32x4_t level = vdupq_n_u32(0u); /* minus the number of thresholds met */
                    PX_UNROLL
                    for (k = 0; k < levels; k++)
                        level = vaddq_u32(level, vcgeq_s32(x, vdupq_n_s32(tc[k])));
                    level = vreinterpretq_u32_s32(vnegq_s32(vreinterpretq_s32_u32(level)));
                    PX_UNROLL
                    for (qp = 0; qp < oplanes; qp++)
                        ov[qp] = vorrq_u32(ov[qp], vandq_u32(vtstq_u32(level, vdupq_n_u32(1u << qp)), bit));
                }
            }
            if (op->out.pixel_bytes == 4u * oplanes && oplanes <= 2u && be_px_run_of_pixels(op, g, LANES, q0, x0)) {
                /* 4 pixels of one row, one word per plane: stored as they are, or interleaved */
                be_word *d = out + ((size_t)y0 * op->out.w + x0) * oplanes;
                if (oplanes == 1u) {
                    vst1q_u32(d, ov[0]);
                } else {
                    const uint32x4x2_t pair = {{ov[0], ov[1]}};
                    vst2q_u32(d, pair);
                }
                continue;
            }
            PX_UNROLL
            for (qp = 0; qp < oplanes; qp++)
                vst1q_u32(res + qp * LANES, ov[qp]);
            be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
        }
    }
}

/* Instances: the qrelu2 VGG's 3x3 layers (3, 6 or 9 groups, 2 planes, 3 thresholds on 2 planes),
 * anything else with every count read at run time. */
static void px_g3_p2_l3(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                        const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, 3u, 2u, 0, 3u, 2u);
}

static void px_g6_p2_l3(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                        const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, 6u, 2u, 0, 3u, 2u);
}

static void px_g9_p2_l3(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                        const be_word *vmask, be_word *out)
{
    px_run(op, g, img, wk, vmask, out, 9u, 2u, 0, 3u, 2u);
}

static void px_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk, const be_word *vmask,
                   be_word *out)
{
    px_run(op, g, img, wk, vmask, out, g->taps, g->planes, op->encoding == BE_ENC_SIGN, op->levels, op->out.planes);
}

/* Sign bits (one plane) with at most 16 channels on at least 32 output pixels into a sign stage:
 * the kernel family CONV2D_BIN (be_kernels.c), ahead of "tab" and "neon" (docs/kernels.md, "NEON:
 * sign bits in position lanes"). */
int be_conv2d_px_neon_sign_supports(const be_op *op)
{
    be_px_geom g;
    return be_px_sign_input(op) && be_stage_is_sign(op) && op->in.c <= 16u &&
           (uint64_t)op->out.h * op->out.w >= 32u && op->out_ch <= SIGN_OUT_MAX &&
           be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 1);
}

/* sum over the groups t of popcount(x[t] XOR w_t) per lane (x[t] with only its real columns) */
static inline __attribute__((always_inline)) int32x4_t count_xor(const uint32x4_t *xv, const be_word *wo,
                                                                 const uint32_t taps)
{
    uint8x16_t a = vdupq_n_u8(0u);
    uint32_t t;
    PX_UNROLL
    for (t = 0; t < taps; t++)
        a = vaddq_u8(a, vcntq_u8(vreinterpretq_u8_u32(veorq_u32(xv[t], vdupq_n_u32(wo[t])))));
    return vreinterpretq_s32_u32(bytes_to_words(a));
}

/* D of output channel c (packed weights at wk + c * taps) in 4 lanes: the 3x3 instances' 3 and 6
 * groups in assembly (be_px_neon.h: LD1R + EOR + CNT + ADD per group) */
static inline __attribute__((always_inline)) int32x4_t count_xor_at(const uint32x4_t *xv, const be_word *wo,
                                                                   const uint32_t taps)
{
    if (taps == 3u)
        return vreinterpretq_s32_u32(bytes_to_words(be_pxn_bytes3(xv, &wo)));
    if (taps == 6u)
        return vreinterpretq_s32_u32(bytes_to_words(be_pxn_bytes6(xv, &wo)));
    return count_xor(xv, wo, taps);
}

/* Sign bits into a sign stage in the popcount domain (be_px_sign_setup): per channel one compare
 * of D = popcount(x XOR w) against A (D > A for direction +1, D <= A for -1); 4 positions of one
 * row stored as one vector. */
static inline __attribute__((always_inline)) void px_sign_run(const be_op *op, const be_px_geom *g,
                                                              const be_word *img, const be_word *wk,
                                                              const be_word *vmask, be_word *out,
                                                              const uint32_t taps)
{
    const uint32_t nout = op->out_ch, ngrp = (nout + 31u) / 32u, ow = op->out.w;
    int32_t dthr[SIGN_OUT_MAX];
    uint16_t ord[SIGN_OUT_MAX];
    uint8_t npl[SIGN_OUT_MAX / 32u];
    uint32x4_t xv[XV_MAX];
    uint32_t tofs[XV_MAX];
    uint32_t q0, t, gi, k, y0 = 0u, x0 = 0u;
    be_px_sign_setup(op, dthr, ord, npl);
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        PX_UNROLL
        for (t = 0; t < taps; t++)
            xv[t] = vandq_u32(vld1q_u32(img + tofs[t] + q0), vdupq_n_u32(vmask[t]));
        for (gi = 0; gi < ngrp; gi++) {
            const uint32_t o0 = gi * 32u, n = nout - o0 < 32u ? nout - o0 : 32u, np = npl[gi];
            uint32x4_t ov = vdupq_n_u32(0u);
            for (k = 0; k < np; k++) {
                const uint32_t c = ord[o0 + k];
                ov = vorrq_u32(ov, vandq_u32(vcgtq_s32(count_xor_at(xv, wk + (size_t)c * taps, taps), vdupq_n_s32(dthr[c])),
                                             vdupq_n_u32(1u << (c - o0))));
            }
            for (; k < n; k++) {
                const uint32_t c = ord[o0 + k];
                ov = vorrq_u32(ov, vandq_u32(vcleq_s32(count_xor_at(xv, wk + (size_t)c * taps, taps), vdupq_n_s32(dthr[c])),
                                             vdupq_n_u32(1u << (c - o0))));
            }
            if (op->out.pixel_bytes == 4u && be_px_run_of_pixels(op, g, LANES, q0, x0)) {
                vst1q_u32(out + (size_t)y0 * ow + x0, ov);
            } else {
                be_word res[LANES];
                vst1q_u32(res, ov);
                be_px_store(op, g, res, LANES, q0, y0, x0, gi, out);
            }
        }
    }
}

/* 3x3 kernels over sign bits: 3 groups (C <= 10), 6 (11 .. 16); any other kernel size */
static void px_g3_sign(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                       const be_word *vmask, be_word *out)
{
    px_sign_run(op, g, img, wk, vmask, out, 3u);
}

static void px_g6_sign(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                       const be_word *vmask, be_word *out)
{
    px_sign_run(op, g, img, wk, vmask, out, 6u);
}

static void px_sign_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                        const be_word *vmask, be_word *out)
{
    px_sign_run(op, g, img, wk, vmask, out, g->taps);
}

static const be_px_run_fn instances[7] = {px_any,     px_g3_p2_l3, px_g6_p2_l3, px_g9_p2_l3,
                                          px_g3_sign, px_g6_sign,  px_sign_any};

/* Sign bits (at most 16 channels) into int32 accumulators (the AccStage of a residual block's
 * conv, at most ACC_OUT_MAX outputs) on at least 32 output pixels: acc = KH * KW * C - 2 *
 * popcount(x XOR w) per lane (one VMLS by 2). The accumulators are pixel-major (out[pixel * O +
 * channel]): each block of 4 channels' 4 vectors (lanes: positions) is stored by four ST4 lane
 * stores (be_px_neon.h: lane j, position j's 4 channels), a last block of 1 .. 3 channels lane by
 * lane. The positions x >= OW of a row (computed, as every position of the padded rows) go to a
 * trash row. Since 2026-12-05 (seventh session) also into the RequantStage (a binary conv into
 * BatchNorm and QuantInt8) of at most RQ_MAX outputs whose every channel takes be_rq_bin's form:
 * the 4 lanes requantized in NEON (be_neon_rq_bin_lanes), four channels stored by ST4. Since
 * 2026-12-06 (second session) the 3x3 instances count in assembly (be_px_neon.h; GCC had split
 * each weight's LD1R into LDR + DUP) and store by ST4 (a 4 x 4 transpose and a branch per lane
 * before): conv16acc 0.123 -> 0.094, conv16rq 0.146 -> 0.116 instructions per binary MAC
 * (aarch64-virt); the sign stage's counts too (conv16 0.123 -> 0.111). */
#define RQ_MAX 64u /* requantized outputs: their prepared constants on the stack (1.5 KiB) */
#define ACC_OUT_MAX 256u /* accumulator outputs (the trash row of a padding column's lanes) */

static int acc_geometry(const be_op *op, be_px_geom *g)
{
    if (!be_px_sign_input(op) || op->in.c > 16u || (uint64_t)op->out.h * op->out.w < 32u)
        return 0;
    if (op->stage == BE_STAGE_REQUANT) {
        be_rq_bin q[RQ_MAX];
        if (op->out.kind != BE_KIND_I8 || op->out.pixel_bytes != op->out_ch || op->out_ch > RQ_MAX ||
            !be_rq_bin_prepare(op, 0u, op->out_ch, q))
            return 0;
    } else if (op->stage != BE_STAGE_ACC || op->out.kind != BE_KIND_I32 || op->out.pixel_bytes != op->out_ch * 4u ||
               op->out_ch > ACC_OUT_MAX) {
        return 0;
    }
    /* be_pxn_lane_pixels: a vector of 4 positions spans at most two rows (pitch >= 4) */
    return be_px_shape(op, g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 1) && g->wp >= 4u;
}

int be_conv2d_px_neon_acc_supports(const be_op *op)
{
    be_px_geom g;
    return acc_geometry(op, &g);
}

/* acc = KC - 2 D of the next output channel (its packed weights at *w, then *w moves on) */
static inline __attribute__((always_inline)) int32x4_t acc_next(const uint32x4_t *xv, const be_word **w,
                                                               const uint32_t taps, const int32x4_t kc)
{
    int32x4_t d;
    if (taps == 3u) {
        d = vreinterpretq_s32_u32(bytes_to_words(be_pxn_bytes3(xv, w)));
    } else if (taps == 6u) {
        d = vreinterpretq_s32_u32(bytes_to_words(be_pxn_bytes6(xv, w)));
    } else {
        d = count_xor(xv, *w, taps);
        *w += taps;
    }
    return vmlsq_n_s32(kc, d, 2);
}

static inline __attribute__((always_inline)) void px_acc_run(const be_op *op, const be_px_geom *g,
                                                             const be_word *img, const be_word *wk,
                                                             const be_word *vmask, void *out, const uint32_t taps,
                                                             const be_rq_bin *rq)
{
    const uint32_t nout = op->out_ch, full = nout & ~3u;
    const int32x4_t kc = vdupq_n_s32((int32_t)(op->kh * op->kw * op->in.c));
    int32_t trash[ACC_OUT_MAX];
    uint32x4_t xv[XV_MAX];
    uint32_t tofs[XV_MAX];
    uint32_t q0, t, c, y0 = 0u, x0 = 0u;
    be_px_offsets(op, g, tofs);
    for (q0 = 0; q0 < g->npos; q0 += LANES, be_px_advance(g, LANES, &y0, &x0)) {
        uint8_t *px[LANES]; /* lane j's output pixel, or the trash row (a padding column) */
        const be_word *w = wk; /* channel c's weights: wk + c * taps, read in channel order */
        PX_UNROLL
        for (t = 0; t < taps; t++)
            xv[t] = vandq_u32(vld1q_u32(img + tofs[t] + q0), vdupq_n_u32(vmask[t]));
        be_pxn_lane_pixels(op, g, q0, y0, x0, out, trash, px);
        if (rq != NULL) { /* four channels' 4 lanes requantized, stored by ST4 */
            int8_t *d0 = (int8_t *)px[0], *d1 = (int8_t *)px[1], *d2 = (int8_t *)px[2], *d3 = (int8_t *)px[3];
            for (c = 0; c < full; c += 4u) {
                const int8x8_t r0 = be_neon_rq_bin_lanes(acc_next(xv, &w, taps, kc), rq + c);
                const int8x8_t r1 = be_neon_rq_bin_lanes(acc_next(xv, &w, taps, kc), rq + c + 1u);
                const int8x8_t r2 = be_neon_rq_bin_lanes(acc_next(xv, &w, taps, kc), rq + c + 2u);
                const int8x8_t r3 = be_neon_rq_bin_lanes(acc_next(xv, &w, taps, kc), rq + c + 3u);
                be_pxn_store_rq4(d0 + c, d1 + c, d2 + c, d3 + c, r0, r1, r2, r3);
            }
            for (; c < nout; c++) {
                const int8x8_t r = be_neon_rq_bin_lanes(acc_next(xv, &w, taps, kc), rq + c);
                vst1_lane_s8(d0 + c, r, 0);
                vst1_lane_s8(d1 + c, r, 1);
                vst1_lane_s8(d2 + c, r, 2);
                vst1_lane_s8(d3 + c, r, 3);
            }
            continue;
        }
        {
            int32_t *d0 = (int32_t *)(void *)px[0], *d1 = (int32_t *)(void *)px[1];
            int32_t *d2 = (int32_t *)(void *)px[2], *d3 = (int32_t *)(void *)px[3];
            for (c = 0; c < full; c += 4u) {
                const int32x4_t a0 = acc_next(xv, &w, taps, kc), a1 = acc_next(xv, &w, taps, kc);
                const int32x4_t a2 = acc_next(xv, &w, taps, kc), a3 = acc_next(xv, &w, taps, kc);
                be_pxn_store_acc4(d0 + c, d1 + c, d2 + c, d3 + c, a0, a1, a2, a3);
            }
            for (; c < nout; c++) {
                const int32x4_t r = acc_next(xv, &w, taps, kc);
                vst1q_lane_s32(d0 + c, r, 0);
                vst1q_lane_s32(d1 + c, r, 1);
                vst1q_lane_s32(d2 + c, r, 2);
                vst1q_lane_s32(d3 + c, r, 3);
            }
        }
    }
}

/* 3x3 kernels: 3 groups (C <= 10), 6 (11 .. 16); any other kernel size */
static void px_acc_g3(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                      const be_word *vmask, be_word *out, const be_rq_bin *rq)
{
    px_acc_run(op, g, img, wk, vmask, out, 3u, rq);
}

static void px_acc_g6(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                      const be_word *vmask, be_word *out, const be_rq_bin *rq)
{
    px_acc_run(op, g, img, wk, vmask, out, 6u, rq);
}

static void px_acc_any(const be_op *op, const be_px_geom *g, const be_word *img, const be_word *wk,
                       const be_word *vmask, be_word *out, const be_rq_bin *rq)
{
    px_acc_run(op, g, img, wk, vmask, out, g->taps, rq);
}

/* words x .. x + n - 1 of a row: word |= word (x + j) << (j * C), j < G (be_px_pack_rows); a
 * partial last vector word by word */
static inline void pack4(be_word *row, uint32_t x, uint32_t n, uint32_t gw, uint32_t c)
{
    uint32_t j;
    if (n == LANES) {
        uint32x4_t v = vld1q_u32(row + x);
        for (j = 1u; j < gw; j++)
            v = vorrq_u32(v, vshlq_u32(vld1q_u32(row + x + j), vdupq_n_s32((int32_t)(j * c))));
        vst1q_u32(row + x, v);
        return;
    }
    for (; n > 0u; n--, x++) {
        be_word v = row[x];
        for (j = 1u; j < gw; j++)
            v |= row[x + j] << (j * c);
        row[x] = v;
    }
}

/* Where they fit beside the packed images, cut these into column-shifted ones (be_pxn_shift_images:
 * one per plane and group of a kernel row, rows of OW >= 4 words) and point g at them (since
 * 2026-12-06, third session: no position over a padding column is computed, a 14 x 14 map's 56
 * vectors of positions become 49). Returns the images to read. */
static const be_word *px_shift(const be_op *op, be_px_geom *g, be_word *img)
{
    const uint32_t ow = op->out.w, plane = g->hp * g->wp;
    const uint64_t pad = (uint64_t)g->planes * plane + BE_PX_SLACK, words = (uint64_t)g->planes * g->ng * g->hp * ow;
    be_word *end = img + pad;
    uint32_t p;
    if (ow < LANES || pad + words + BE_PX_SLACK > IMG_WORDS)
        return img;
    for (p = 0; p < g->planes; p++)
        end = be_pxn_shift_images(img + p * plane, g->wp, g->hp, ow, g->ng, g->gw, end);
    be_zero_words(end, LANES); /* what the last vector of positions reads past them */
    g->gstride = g->hp * ow;
    g->pstride = g->ng * g->hp * ow;
    g->wp = ow; /* the positions' pitch: the output rows */
    g->npos = op->out.h * ow;
    return img + pad;
}

be_status be_conv2d_planes_px_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    be_word img[IMG_WORDS], wpk[WPK_WORDS], vmask[XV_MAX];
    const be_word *wk, *src;
    be_px_geom g;
    (void)scratch;
    if (!be_px_geometry(op, &g, IMG_WORDS, XV_MAX, WPK_WORDS, TAPS_MAX, 1))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    be_px_copy_images(op, &g, (const be_word *)in, img);
    be_px_pack_rows(op, &g, img, LANES, pack4);
    wk = be_px_weights(op, &g, wpk, vmask);
    src = px_shift(op, &g, img);
    be_px_pick_sign(op, &g, instances)(op, &g, src, wk, vmask, (be_word *)out);
    return BE_OK;
}

be_status be_conv2d_px_neon_acc(const be_op *op, const void *in, void *out, void *scratch)
{
    be_word img[IMG_WORDS], wpk[WPK_WORDS], vmask[XV_MAX];
    be_rq_bin q[RQ_MAX];
    const be_rq_bin *rq = NULL;
    const be_word *wk, *src;
    be_px_geom g;
    (void)scratch;
    if (!acc_geometry(op, &g))
        return BE_ERR_ARG; /* not reached: supports() checked it */
    if (op->stage == BE_STAGE_REQUANT) {
        (void)be_rq_bin_prepare(op, 0u, op->out_ch, q); /* succeeds: supports() checked it */
        rq = q;
    }
    be_px_copy_images(op, &g, (const be_word *)in, img);
    be_px_pack_rows(op, &g, img, LANES, pack4);
    wk = be_px_weights(op, &g, wpk, vmask);
    src = px_shift(op, &g, img);
    if (op->kh == 3u && op->kw == 3u && g.taps == 3u)
        px_acc_g3(op, &g, src, wk, vmask, (be_word *)out, rq);
    else if (op->kh == 3u && op->kw == 3u && g.taps == 6u)
        px_acc_g6(op, &g, src, wk, vmask, (be_word *)out, rq);
    else
        px_acc_any(op, &g, src, wk, vmask, (be_word *)out, rq);
    return BE_OK;
}

#else
typedef int be_conv2d_planes_px_neon_unused; /* ISO C forbids an empty translation unit */
#endif
