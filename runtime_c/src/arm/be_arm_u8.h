/*
 * be_arm_u8.h -- internal: what the ARM first-layer kernels share (src/arm/be_u8_*.c).
 *
 * The first layer of a binedge model reads uint8 pixels; with binary weights (bit 1 = -1) its
 * accumulator is exactly
 *     acc_o = sum_k x_k * w_o,k = total - 2 * s_o,   total = sum_k x_k,   s_o = sum_{k: bit 1} x_k
 * over the K = in_ch (Dense) or KH * KW * C (Conv2d) pixels of one receptive field. Every
 * variant computes s_o (or acc_o) its own way; this header has the common parts:
 *   - which ops they take (be_arm_u8_supports: uint8 input, binary weights);
 *   - the Conv2d receptive field copied to the arena's scratch (im2col: exactly the model's
 *     KH * KW * C bytes of patch scratch, docs/format.md section 6; padding pixels are 0);
 *   - Conv2d weight rows "compacted": the weights are stored per tap, (O, KH, KW, words(C)), each
 *     tap padded to a whole word; the kernels want one K-bit row per channel like Dense;
 *   - the output stage (sign thresholds packed 32 channels at a time, others via be_stage_put).
 * Nothing here reads beyond the input: Dense input is the caller's buffer (any alignment, no
 * slack after it); the scratch is only KH * KW * C bytes rounded up to 16.
 */
#ifndef BE_ARM_U8_H
#define BE_ARM_U8_H

#include <stdint.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "arm/be_arm.h"
#include "arm/be_arm_kernels.h"

/* Rows of compacted Conv2d weights that live on the stack at once (words); a conv whose K-bit
 * row is longer than this, with C not a multiple of 32, is not taken by the row drivers. */
#if defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1 && !defined(__ARM_ARCH_ISA_ARM)
#define BE_ARM_U8_ROWBUF_WORDS 128u /* Cortex-M0: 4 KiB of stack in all */
#else
#define BE_ARM_U8_ROWBUF_WORDS 512u
#endif

/* uint8 input, binary weights, Dense or Conv2d (any output stage). */
int be_arm_u8_supports(const be_op *op);

/* K of one dot product: in_ch (Dense) or KH * KW * C (Conv2d). */
static inline uint32_t be_arm_u8_k(const be_op *op)
{
    return op->type == BE_OP_DENSE ? op->in_ch : op->kh * op->kw * op->in_ch;
}

/* Conv2d: the K = KH * KW * C pixels of output pixel (oy, ox) into patch, tap by tap (the
 * weights' order), pixel 0 for padding. */
void be_arm_u8_im2col(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint8_t *patch);


/* sum of n bytes (any alignment) */
uint32_t be_arm_u8_sum(const uint8_t *x, uint32_t n);

/* total - 2 * s as int32 (exact: the loader bounds |acc| <= 255 * K <= INT32_MAX; the
 * subtraction is done modulo 2^32 so that 2 * s may exceed INT32_MAX). */
static inline int32_t be_arm_u8_acc(uint32_t total, uint32_t s)
{
    uint32_t u = total - 2u * s;
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* What the variants that take compacted Conv2d rows can take: C % 32 == 0 (rows as stored) or
 * 32 compacted rows fit BE_ARM_U8_ROWBUF_WORDS. */
int be_arm_u8_rows_supports(const be_op *op);

/* uint16_t that may alias other types (lookup tables built as words, read as halfwords) */
typedef uint16_t be_arm_u16a __attribute__((may_alias));

#endif /* BE_ARM_U8_H */
