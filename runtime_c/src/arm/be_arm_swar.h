/*
 * be_arm_swar.h -- internal: the SWAR counting steps and row loads shared by the plain-C Dense
 * variants over bit rows ("short", be_dense_bin_short.c; "planes2", be_dense_planes2.c), and
 * their output stage.
 */
#ifndef BE_ARM_SWAR_H
#define BE_ARM_SWAR_H

#include <stdint.h>

#include "be_bitformat.h"
#include "be_kernels.h"

/* popcount(a) as 8 nibbles (each <= 4), and nibble sums v as byte lanes. On Thumb-2 as BIC with
 * the complement mask, then SUB / ADD with the shift folded in ((a & 0xAAAAAAAA) >> 1 rather than
 * (a >> 1) & 0x55555555): every mask is a modified immediate, so none lives in a register and
 * none costs a separate shift (GCC canonicalises the C back to shift-then-mask, two instructions
 * each, hence the asm). Elsewhere the plain SWAR. */
#if defined(__thumb2__)
static inline uint32_t be_swar_nibbles(uint32_t a)
{
    uint32_t t;
    __asm__("bic %1, %0, #0x55555555\n\t"
            "sub %0, %0, %1, lsr #1\n\t"
            "bic %1, %0, #0x33333333\n\t"
            "and %0, %0, #0x33333333\n\t"
            "add %0, %0, %1, lsr #2"
            : "+r"(a), "=&r"(t));
    return a;
}

static inline uint32_t be_swar_bytes(uint32_t v)
{
    uint32_t t;
    __asm__("bic %1, %0, #0x0F0F0F0F\n\t"
            "and %0, %0, #0x0F0F0F0F\n\t"
            "add %0, %0, %1, lsr #4"
            : "+r"(v), "=&r"(t));
    return v;
}
#else
static inline uint32_t be_swar_nibbles(uint32_t a)
{
    a = a - ((a >> 1) & 0x55555555u);
    return (a & 0x33333333u) + ((a >> 2) & 0x33333333u);
}

static inline uint32_t be_swar_bytes(uint32_t v)
{
    return (v & 0x0F0F0F0Fu) + ((v >> 4) & 0x0F0F0F0Fu);
}
#endif

/* Two (one) words from p into a, b (a), p advanced past them. On Thumb-2 as LDRD / LDR with
 * post-increment (GCC emits two LDRs and a separate pointer add for the C). */
#if defined(__thumb2__)
#define BE_LD2(p, a, b) __asm__("ldrd %0, %1, [%2], #8" : "=&r"(a), "=&r"(b), "+r"(p) : : "memory")
#define BE_LD1(p, a) __asm__("ldr %0, [%1], #4" : "=&r"(a), "+r"(p) : : "memory")
#else
#define BE_LD2(p, a, b) ((a) = (p)[0], (b) = (p)[1], (p) += 2)
#define BE_LD1(p, a) ((a) = *(p)++)
#endif

/* *y = mult * acc + offset modulo 2^32 (one MLA). The loader proved that no score of a loaded
 * op leaves int32 (be_model.c: |mult| * bound + |offset| <= INT32_MAX), so this is the exact
 * score and no overflow test is needed; on an op built by hand that breaks the proof the value is
 * still the reference's wrapped one (only its BE_ERR_OVERFLOW status is not reported). */
static inline __attribute__((always_inline)) void be_arm_put_score(int32_t *y, int32_t mult, int32_t acc,
                                                                   int32_t offset)
{
    *(uint32_t *)y = (uint32_t)mult * (uint32_t)acc + (uint32_t)offset; /* unsigned: wraps, defined */
}

/* Outputs [o0, o0 + n) of a Dense (n <= 32, o0 % 32 == 0) from their exact accumulators: scores
 * (be_arm_put_score) and accumulators inline, threshold stages through be_stage_put_block (the
 * output cleared by the caller). */
static inline be_status be_arm_dense_put_block(const be_op *op, void *out, uint32_t o0, uint32_t n,
                                               const int32_t *acc)
{
    uint32_t i;
    if (op->stage == BE_STAGE_SCORE) {
        const int32_t *mult = (const int32_t *)op->stage_a + o0, *offset = (const int32_t *)op->stage_b + o0;
        int32_t *y = (int32_t *)out + o0;
        for (i = 0; i < n; i++)
            be_arm_put_score(&y[i], mult[i], acc[i], offset[i]);
        return BE_OK;
    }
    if (op->stage == BE_STAGE_ACC) {
        for (i = 0; i < n; i++)
            ((int32_t *)out)[o0 + i] = acc[i];
        return BE_OK;
    }
    return be_stage_put_block(op, out, o0, n, acc);
}

#endif /* BE_ARM_SWAR_H */
