/*
 * be_arm.h -- internal: the driver shared by the ARM binary kernels (src/arm/).
 *
 * A binary layer (sign-bit input, binary weights) is, per output pixel, a set of dot products
 * of one input row with O weight rows: acc_o = K - 2 * popcount(x XOR w_o). Dense uses the
 * input itself as x; Conv2d first copies the receptive field of the output pixel into the
 * arena's scratch (im2col: KH * KW * words(C) words in weight-row order, padding pixels as
 * zero words = +1), after which the weight rows (O, KH, KW, words(C)) are contiguous rows of
 * the same length. Each variant only provides the popcount core (be_arm_popc_fn); the driver
 * here does the rest and the output stage (sign thresholds are packed 32 channels at a time;
 * other stages go through be_stage_put, as in the reference).
 */
#ifndef BE_ARM_H
#define BE_ARM_H

#include <stdint.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "arm/be_arm_kernels.h"

/* d[i] = popcount(x XOR w_i) over nw words, where w_i = w + i * row_words, for i < n (n <= 32).
 * nw >= 1. Padding bits are zero in x and in every w_i, so they never count. */
typedef void (*be_arm_popc_fn)(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n,
                               uint32_t *d);

/* The two kernels of a variant, given its popcount core (src/arm/be_arm_common.c). */
be_status be_arm_dense_bin(const be_op *op, const void *in, void *out, be_arm_popc_fn popc);
be_status be_arm_conv2d_bin(const be_op *op, const void *in, void *out, void *scratch, be_arm_popc_fn popc);

/* Helium Dense rows (be_dense_rows_mve.c): a layer of rows of op->in.cw words back to back, per
 * block of n <= 32 rows the accumulators by `rows` (acc[0 .. n) of the rows at w; c: the layer's
 * constant, K on sign bits), then the stage in lanes (sign thresholds, three levels on two
 * planes, scores; accumulators straight into the output). be_mve_dense_rows_stage: whether the
 * op's stage is one of those. */
typedef void (*be_mve_rows_fn)(const be_word *w, const be_word *x, uint32_t nw, uint32_t n, int32_t c, int32_t *acc);
int be_mve_dense_rows_stage(const be_op *op);
be_status be_mve_dense_rows(const be_op *op, const be_word *x, void *out, be_mve_rows_fn rows, int32_t c);

/* Hide a value from the optimiser so that it stays in a register (GCC and Clang). Used for the
 * SWAR masks: ARM data-processing instructions take a shifted REGISTER operand, so
 * `m & (v >> s)` is one instruction when m is in a register, two when m is an immediate. */
#define BE_ARM_OPAQUE(v) __asm__("" : "+r"(v))

/* Portable SWAR popcount of one word (no __builtin_popcount: no libgcc __popcountsi2). */
static inline uint32_t be_arm_popcount32(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/* The geometry of an input copied with its padding made explicit, so that every output pixel of
 * a convolution is an interior one (the padded copies of be_bin_tab.c and be_u8_mla.c): hp =
 * (OH - 1) SH + KH rows of wp = (OW - 1) SW + KW pixels of `elems` elements each; in every image
 * row, `lead` padding pixels on the left, then the n image pixels the windows reach, then padding.
 * Returns 0 when the copy would exceed cap elements. Every factor is checked against cap first,
 * so with cap < 2^16 no product below can wrap. */
typedef struct {
    uint32_t wp, hp, lead, n;
} be_arm_padded;

static inline int be_arm_padded_geometry(const be_op *op, uint32_t elems, uint32_t cap, be_arm_padded *g)
{
    if (op->out.w > cap || op->out.h > cap || op->sw > cap || op->sh > cap || op->kw > cap || op->kh > cap ||
        elems > cap)
        return 0;
    g->wp = (op->out.w - 1u) * op->sw + op->kw;
    g->hp = (op->out.h - 1u) * op->sh + op->kh;
    if (g->wp > cap || g->hp > cap || g->wp * g->hp > cap || g->wp * g->hp * elems > cap)
        return 0;
    g->lead = op->pl < g->wp ? op->pl : g->wp;
    g->n = op->in.w < g->wp - g->lead ? op->in.w : g->wp - g->lead;
    return 1;
}

#endif /* BE_ARM_H */
