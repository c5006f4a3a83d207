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
 *   "sad"    | as "dsp"                                     | BE_ISA_ARM_DSP   | Conv2d over 2..8 unsigned
 *            |   (levels as bytes, USADA8)                  |                  |   bit-planes only
 *   "tab"    | every ARM build                              | none (plain C)   | Conv2d, C < 32 only
 *   "short"  | every ARM build                              | none (plain C)   | Dense, sign, K <= 128
 *            |   (DSP builds: score / accumulator stages only)
 *   "planes2"| every ARM build                              | none (plain C)   | Dense, 2 bit-planes
 *            |   (one pass per row: AND counts, no weight-count pass)
 *
 * All of them take the binary layers: Dense / Conv2d with sign-bit input and binary weights
 * (any output stage, see be_arm.h); "tab" (be_bin_tab.c: nibble tables built per call) goes
 * first and takes the Conv2d layers with fewer than 32 input channels whose tables fit; "short"
 * (be_dense_bin_short.c) goes first for Dense over sign bits with rows of at most 4 words (2 bit-planes:
 * 2 words), "planes2" (be_dense_planes2.c) for longer Dense rows over 2 bit-planes on the Cortex-M
 * cores but the M55. The first layer, uint8 pixels x binary weights (be_arm_u8.h,
 * src/arm/be_u8_*.c), has its own variants, in dispatch order:
 *
 *   variant  | built when        | table ISA bits   | takes
 *   ---------+-------------------+------------------+------------------------------------------
 *   "mve"    | as above          | BE_ISA_ARM_MVE   | Dense; Conv2d with K = KH KW C <= 128
 *   "lut"    | every ARM build   | none (plain C)   | Dense (subset-sum lookup tables)
 *   "mla"    | every ARM build   | none (C + asm)   | Conv2d, K <= 64 (M0), <= 256 (others)
 *   "dsp"    | as above          | BE_ISA_ARM_DSP   | Dense; Conv2d with K <= 64 (USADA8 masks)
 *   "nib"    | every ARM build   | none (C; T1 asm) | Conv2d, any K (nibble tables per pixel)
 *   "planes" | every ARM build   | none             | Dense, K <= 1024; Conv2d, 64 <= K <= 1024
 *
 * Every other op falls through to "ref".
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

/* The first layer's inline-assembly paths (be_u8_lut.c, be_u8_mla.c) ask for up to 14 registers,
 * which GCC can only give when it optimises for speed: at -O0 r7 is the frame pointer, and with
 * -Os on ARMv6-M the high-register requests fail. Debug and size-optimised builds take their
 * plain-C paths instead (the same results, slower). */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__)
#if defined(__thumb2__)
#define BE_ARM_T2_ASM 1
#endif
#if defined(BE_ARM_HAVE_THUMB1)
#define BE_ARM_T1_ASM 1
#endif
#endif

/* The split-16 code of one element in Thumb-2 asm (be_ew.h; "dsp" Merge and Add): %[a] and %[b]
 * hold the element's two inputs as int32, the pairs %[hp] = (Mh_a, Mh_b) and %[lp] = (Ml_a, Ml_b)
 * are int16 halves, %[ch], %[cl], %[sh] the constant and the shift; %[b] gets the int8 code
 * (PKHBT packs a low and b's low half above it, then H and L are one SMLAD each). */
#define BE_ARM_SPLIT16_CODE                                                                      \
    "pkhbt %[a], %[a], %[b], lsl #16\n\t"                                                         \
    "smlad %[b], %[a], %[hp], %[ch]\n\t"                                                          \
    "smlad %[a], %[a], %[lp], %[cl]\n\t"                                                          \
    "add %[b], %[b], %[a], asr #16\n\t"                                                           \
    "asr %[b], %[b], %[sh]\n\t"                                                                   \
    "ssat %[b], #8, %[b]\n\t"

/* Every ARM variant: Dense / Conv2d with bit inputs (sign bits or unsigned bit-planes) and
 * binary weights. */
int be_arm_bin_supports(const be_op *op);

/* The first layer: Dense / Conv2d with uint8 pixels and binary weights (src/arm/be_u8_*.c,
 * be_arm_u8.h; docs/kernels.md "The first layer"). Plain-C variants on every ARM build. */
#if defined(__arm__) || defined(__aarch64__)
#define BE_ARM_HAVE_U8 1
int be_dense_u8_lut_supports(const be_op *op);
be_status be_dense_u8_lut(const be_op *op, const void *in, void *out, void *scratch);
int be_dense_bin_short_supports(const be_op *op);
int be_dense_bin_short_head_supports(const be_op *op); /* NEON builds: where "short" beats "neon" */
be_status be_dense_bin_short(const be_op *op, const void *in, void *out, void *scratch);
int be_dense_planes_short_supports(const be_op *op);
int be_dense_planes_short_head_supports(const be_op *op); /* NEON builds: up to 64 outputs */
be_status be_dense_planes_short(const be_op *op, const void *in, void *out, void *scratch);
int be_dense_planes2_supports(const be_op *op);
be_status be_dense_planes2(const be_op *op, const void *in, void *out, void *scratch);
int be_conv2d_bin_tab_supports(const be_op *op);
int be_conv2d_bin_tab_first_supports(const be_op *op); /* NEON builds: where "tab" beats "neon" */
/* Whether "tab" takes this Conv2d from its offset image (3x3 over 2 bit-planes or sign bits, C <= 32,
 * Thumb-2 builds): the fastest kernel there, "sad" and "dsp" included (docs/kernels.md) */
int be_conv2d_bin_tab_offsets(const be_op *op);
be_status be_conv2d_bin_tab(const be_op *op, const void *in, void *out, void *scratch);
int be_conv2d_u8_nib_supports(const be_op *op);
be_status be_conv2d_u8_nib(const be_op *op, const void *in, void *out, void *scratch);
int be_conv2d_u8_mla_supports(const be_op *op);
be_status be_conv2d_u8_mla(const be_op *op, const void *in, void *out, void *scratch);
int be_u8_planes_supports(const be_op *op);
be_status be_dense_u8_planes(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_planes(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_DSP
/* "sad": Conv2d over 2 .. 8 unsigned bit-planes as byte levels, USADA8 (be_conv2d_planes_dsp.c) */
int be_conv2d_planes_dsp_supports(const be_op *op);
int be_conv2d_planes_dsp_first_supports(const be_op *op); /* where it beats "tab" / "dsp": C >= 16 */
be_status be_conv2d_planes_dsp(const be_op *op, const void *in, void *out, void *scratch);
int be_u8_dsp_supports(const be_op *op);
be_status be_dense_u8_dsp(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_dsp(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_MVE
/* "lanes": the 3x3 Conv2d with C <= 4, stride 1, <= 32 outputs, a sign stage or 3 levels on 2
 * planes: 8 output positions in int16 lanes (be_conv2d_u8_px_mve.c) */
int be_conv2d_u8_px_mve_supports(const be_op *op);
be_status be_conv2d_u8_px_mve(const be_op *op, const void *in, void *out, void *scratch);
/* "mve": Dense rows counted in Helium lanes (be_dense_rows_mve.c): over 2 unsigned bit-planes, one
 * pass per row, and over sign bits with rows of 1 .. 3 words */
int be_dense_planes_mve_supports(const be_op *op);
be_status be_dense_planes_mve(const be_op *op, const void *in, void *out, void *scratch);
int be_dense_bin_rows_mve_supports(const be_op *op);
be_status be_dense_bin_rows_mve(const be_op *op, const void *in, void *out, void *scratch);
int be_u8_mve_supports(const be_op *op);
be_status be_dense_u8_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_mve(const be_op *op, const void *in, void *out, void *scratch);
#endif

/* The int8 layers: Dense / Conv2d with int8 weights over u8 / i8 codes, any zero point, groups
 * and output stage (src/arm/be_i8_*.c, be_arm_i8.h; docs/kernels.md "int8 layers"):
 *
 *   variant  | built when        | table ISA bits   | core
 *   ---------+-------------------+------------------+------------------------------------------
 *   "mve"    | as above          | BE_ISA_ARM_MVE   | VMLADAVA.S8 over an int8 patch
 *   "neon"   | as above          | BE_ISA_NEON      | SMULL + SADALP over an int8 patch
 *   "dsp"    | as above          | BE_ISA_ARM_DSP   | SMLAD over an int16 patch (SXTB16 weights)
 *   "mac"    | every ARM build   | none (plain C)   | MLA over an int16 patch
 */
#if defined(__arm__) || defined(__aarch64__)
#define BE_ARM_HAVE_I8 1
int be_i8_mac_supports(const be_op *op);
be_status be_dense_i8_mac(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_i8_mac(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_DSP
int be_i8_dsp_supports(const be_op *op);
be_status be_dense_i8_dsp(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_NEON
int be_i8_neon_supports(const be_op *op);
be_status be_dense_i8_neon(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_i8_neon(const be_op *op, const void *in, void *out, void *scratch);
/* "lanes": int8 Conv2d, stride 1, a requant stage with every shift >= 32, over one input channel or
 * 1x1 over 8k channels: a block of positions x 8 output channels in registers */
int be_conv2d_i8_px_neon_supports(const be_op *op);
be_status be_conv2d_i8_px_neon(const be_op *op, const void *in, void *out, void *scratch);
int be_threshold_i8_neon_supports(const be_op *op);
be_status be_threshold_i8_neon(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_neon(const be_op *op, const void *in, void *out, void *scratch); /* round stage, split form */
be_status be_add_i8_neon(const be_op *op, const void *in, void *out, void *scratch); /* i8 + i8, split form */
/* "lanes": 2 .. 8 unsigned bit-planes with <= 32 channels, stride 1, a threshold stage: 4 output
 * positions per vector (be_planes_px.h) */
int be_conv2d_planes_px_neon_supports(const be_op *op);
int be_conv2d_px_neon_sign_supports(const be_op *op); /* sign bits, <= 16 channels, >= 32 output pixels */
be_status be_conv2d_planes_px_neon(const be_op *op, const void *in, void *out, void *scratch);
/* ... sign bits (<= 16 channels, >= 32 output pixels) into int32 accumulators (AccStage) */
int be_conv2d_px_neon_acc_supports(const be_op *op);
be_status be_conv2d_px_neon_acc(const be_op *op, const void *in, void *out, void *scratch);
/* ... sign bits with 17 .. 96 channels (1 .. 3 words per pixel, >= 32 output pixels) into a sign
 * stage, int32 accumulators or a RequantStage (be_conv2d_sign_px_neon.c) */
int be_conv2d_sign_px_neon_supports(const be_op *op);
be_status be_conv2d_sign_px_neon(const be_op *op, const void *in, void *out, void *scratch);
/* the first layer's Conv2d: 8 output positions in int16 lanes (be_u8_neon.c) */
int be_conv2d_u8_neon_supports(const be_op *op);
be_status be_conv2d_u8_neon(const be_op *op, const void *in, void *out, void *scratch);
int be_avgpool2d_i8_neon_supports(const be_op *op);
be_status be_avgpool2d_i8_neon(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_MVE
int be_i8_mve_supports(const be_op *op);
be_status be_dense_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
#endif

/* The elementwise and pooling ops (docs/kernels.md "Elementwise and pooling ops"; the portable
 * "word" / "w32" kernels are in src/word/, what they share in src/word/be_ew.h). */
#ifdef BE_ARM_HAVE_DSP
int be_threshold_i8_dsp_supports(const be_op *op);
be_status be_threshold_i8_dsp(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_dsp(const be_op *op, const void *in, void *out, void *scratch); /* round stage, SMLAD pairs */
be_status be_add_i8_dsp(const be_op *op, const void *in, void *out, void *scratch); /* i8 + i8, SMLAD pairs */
int be_maxpool2d_i8_dsp_supports(const be_op *op);
be_status be_maxpool2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch);
int be_avgpool2d_i8_dsp_supports(const be_op *op);
be_status be_avgpool2d_i8_dsp(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_MVE
int be_threshold_i8_mve_supports(const be_op *op);
be_status be_threshold_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
int be_maxpool2d_i8_mve_supports(const be_op *op);
be_status be_maxpool2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
int be_avgpool2d_i8_mve_supports(const be_op *op);
be_status be_avgpool2d_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_add_i8_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_mve(const be_op *op, const void *in, void *out, void *scratch); /* round stage, split form */
int be_lstm_mve_supports(const be_op *op); /* the LSTM step: weight bits as byte-lane predicates */
be_status be_lstm_mve(const be_op *op, const void *in, void *out, void *scratch);
#endif

#ifdef BE_ARM_HAVE_MVE
/* "lanes": 3x3 Conv2d, stride 1, <= 32 channels, <= 32 outputs (64 past 16 channels), over sign
 * bits into a sign stage or over 2 bit-planes into 3 levels on 2 planes: 4 .. 16 output positions
 * per vector (be_conv2d_px_mve.c) */
int be_conv2d_px_mve_sign_supports(const be_op *op);
int be_conv2d_px_mve_planes_supports(const be_op *op);
be_status be_conv2d_px_mve_sign(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_px_mve_planes(const be_op *op, const void *in, void *out, void *scratch);
/* ... and sign bits (C <= 96, in passes of 16 channels) into int32 accumulators (the residual
 * convs' AccStage) */
int be_conv2d_px_mve_acc_supports(const be_op *op);
be_status be_conv2d_px_mve_acc(const be_op *op, const void *in, void *out, void *scratch);
/* "mve" Dense: sign rows into the sign stage (the stage in lanes), then the rest of what
 * be_arm_bin_supports takes but the layers be_dense_rows_mve.c counts */
int be_dense_bin_mve_sign_supports(const be_op *op);
be_status be_dense_bin_mve_sign(const be_op *op, const void *in, void *out, void *scratch);
int be_dense_bin_mve_supports(const be_op *op);
be_status be_dense_bin_mve(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_mve(const be_op *op, const void *in, void *out, void *scratch);
#endif
#ifdef BE_ARM_HAVE_NEON
be_status be_dense_bin_neon(const be_op *op, const void *in, void *out, void *scratch);
/* Whether "neon" counts this Dense in its short rows (rows of at most 15 words, eight rows at a
 * time on aarch64, four on armv7; sign bits into a sign or score stage, 2 bit-planes into those
 * or three levels on two planes): there it beats "short" on the heads too. */
int be_dense_bin_neon_short_takes(const be_op *op);
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

/* An AvgPool2d on codes outside the split-16 form (the Helium and NEON pools' fallback): "dsp"
 * where the build has it and it takes the op, else "word". */
static inline be_status be_avgpool2d_i8_unsplit(const be_op *op, const void *in, void *out, void *scratch)
{
#ifdef BE_ARM_HAVE_DSP
    if (be_avgpool2d_i8_dsp_supports(op))
        return be_avgpool2d_i8_dsp(op, in, out, scratch);
#endif
    return be_avgpool2d_i8_word(op, in, out, scratch);
}

#endif /* BE_ARM_KERNELS_H */
