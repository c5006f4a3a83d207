/*
 * be_arm_kernels.h -- internal: which ARM kernel variants this build has, and their entry points.
 *
 * Included by be_kernels.c (the kernel table) and by every file under src/arm/. Each variant
 * file compiles to nothing unless its BE_ARM_HAVE_* macro below is set, so the same sources
 * build for every target. docs/kernels.md lists the variants and where they run.
 *
 *   variant  | built when                                   | table ISA bits   | cores
 *   ---------+----------------------------------------------+------------------+----------------------
 *   "mve"    | __ARM_FEATURE_MVE (Helium)                   | BE_ISA_ARM_MVE   | Cortex-M55
 *   "neon"   | aarch64, or 32-bit ARM with __ARM_NEON       | BE_ISA_NEON      | aarch64, armv7 + NEON
 *   "dsp"    | Thumb-2 with __ARM_FEATURE_DSP (USADA8)       | BE_ISA_ARM_DSP   | M4, M7, M33, M55, armv7
 *   "swar"   | 32-bit ARM with Thumb-2 or ARM state          | none (plain C)   | M3 and up, armv7
 *   "thumb1" | ARMv6-M (Thumb-1 only; inline assembly)      | none             | Cortex-M0 / M0+
 *
 * All of them take the binary layers only: Dense / Conv2d with sign-bit input and binary
 * weights (any output stage); every other op falls through to "ref" (see be_arm.h).
 */
#ifndef BE_ARM_KERNELS_H
#define BE_ARM_KERNELS_H

#include "be_kernels.h"

#if defined(__aarch64__) || (defined(__arm__) && (defined(__ARM_NEON) || defined(__ARM_NEON__)))
#define BE_ARM_HAVE_NEON 1
#endif
#if defined(__arm__) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define BE_ARM_HAVE_MVE 1
#endif
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && defined(__thumb2__)
#define BE_ARM_HAVE_DSP 1 /* Thumb-2 assembly (0xF0F0F0F0 is a Thumb-2 immediate, not an A32 one) */
#endif
#if defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1 && !defined(__ARM_ARCH_ISA_ARM)
#define BE_ARM_HAVE_THUMB1 1 /* ARMv6-M: Thumb-1 only (Cortex-M0 / M0+ / M1) */
#elif defined(__arm__)
#define BE_ARM_HAVE_SWAR 1   /* Thumb-2 or ARM state: shifted operands, 13 general registers */
#endif

/* Every ARM variant: Dense / Conv2d with sign-bit input and binary weights. */
int be_arm_bin_supports(const be_op *op);

#ifdef BE_ARM_HAVE_MVE
be_status be_dense_bin_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_mve(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_NEON
be_status be_dense_bin_neon(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_neon(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_DSP
be_status be_dense_bin_dsp(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_dsp(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_SWAR
be_status be_dense_bin_swar(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_swar(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_THUMB1
be_status be_dense_bin_thumb1(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_thumb1(const be_op *op, const void *in, void *out, void *scratch);
#endif

#endif /* BE_ARM_KERNELS_H */
