/* be_kernels.c -- the ONE kernel table of the runtime, dispatch, and CPU feature detection.
 *
 * Order matters: for each op, automatic dispatch takes the first entry whose op type matches,
 * whose ISA bits are all available and whose `supports` accepts the op. Optimized variants
 * therefore go ABOVE the "ref" entry of their op; the "ref" entries are last and accept every
 * op, so dispatch always finds a kernel. See be_kernels.h for how to add a variant.
 *
 * Each entry is BE_ROW(<kernel family>, fields...) or, for the reference kernels,
 * BE_REF(<op type>, fields...): under -DBE_KERNEL_SUBSET only the entries of the families given
 * as -DBE_KEEP_<FAMILY>=1 are compiled (be_kernel_set.h; be_kernels.h "Kernel families").
 */
#include <string.h>

#include "be_kernels.h"
#include "arm/be_arm_kernels.h" /* ARM variants: BE_ARM_HAVE_* and declarations (src/arm/) */
#include "be_kernel_set.h"

const be_kernel be_kernel_table[] = {
/* name      op type           isa                     supports                        function */
#if defined(__x86_64__) || defined(__i386__)
    /* x86 (src/x86/): widest ISA first; a SIMD variant that does not take an op falls through
     * to the next (e.g. a conv row too long for the stack buffers -> "popcnt"). The int8-layer
     * kernels (be_*_i8_*) follow the u8 ones of their ISA, which keep the format-v1 ops they
     * took before (u8 codes with zero point 0, int8 weights, threshold / score stages). */
    BE_ROW(DENSE_BIN, "avx512", BE_OP_DENSE, BE_ISA_AVX512_VPOPCNT, be_dense_bin_avx512_supports, be_dense_bin_avx512, 0)
    BE_ROW(DENSE_U8, "avx512", BE_OP_DENSE, BE_ISA_AVX512_VPOPCNT, be_dense_u8_avx512_supports, be_dense_u8_avx512, 0)
    BE_ROW(DENSE_BIN, "avx2", BE_OP_DENSE, BE_ISA_AVX2, be_dense_bin_avx2_supports, be_dense_bin_avx2, 0)
    BE_ROW(DENSE_U8, "avx2", BE_OP_DENSE, BE_ISA_AVX2, be_dense_u8_avx2_supports, be_dense_u8_avx2, 0)
    BE_ROW(DENSE_I8, "avx2", BE_OP_DENSE, BE_ISA_AVX2, be_dense_i8_avx2_supports, be_dense_i8_avx2, 1)
    BE_ROW(DENSE_BIN, "popcnt", BE_OP_DENSE, BE_ISA_POPCNT, be_dense_bin_popcnt_supports, be_dense_bin_popcnt, 0)
    BE_ROW(DENSE_BIN, "popcnt", BE_OP_DENSE, BE_ISA_POPCNT, be_dense_planes_popcnt_supports, be_dense_planes_popcnt, 0)
    BE_ROW(CONV2D_BIN, "avx512", BE_OP_CONV2D, BE_ISA_AVX512_VPOPCNT, be_conv2d_planes_px_avx512_supports, be_conv2d_planes_px_avx512, 0)
    BE_ROW(CONV2D_BIN, "avx512", BE_OP_CONV2D, BE_ISA_AVX512_VPOPCNT, be_conv2d_bin_avx512_supports, be_conv2d_bin_avx512, 0)
    BE_ROW(CONV2D_BIN, "avx512", BE_OP_CONV2D, BE_ISA_AVX512_VPOPCNT, be_conv2d_planes_avx512_supports, be_conv2d_planes_avx512, 0)
    BE_ROW(CONV2D_U8, "avx512", BE_OP_CONV2D, BE_ISA_AVX512_VPOPCNT, be_conv2d_u8_avx512_supports, be_conv2d_u8_avx512, 0)
    BE_ROW(CONV2D_I8, "avx512", BE_OP_CONV2D, BE_ISA_AVX512_VPOPCNT, be_conv2d_i8_avx512_supports, be_conv2d_i8_avx512, 1)
    BE_ROW(CONV2D_BIN, "avx2", BE_OP_CONV2D, BE_ISA_AVX2, be_conv2d_planes_px_avx2_supports, be_conv2d_planes_px_avx2, 0)
    BE_ROW(CONV2D_BIN, "avx2", BE_OP_CONV2D, BE_ISA_AVX2, be_conv2d_bin_avx2_supports, be_conv2d_bin_avx2, 0)
    BE_ROW(CONV2D_U8, "avx2", BE_OP_CONV2D, BE_ISA_AVX2, be_conv2d_u8_avx2_supports, be_conv2d_u8_avx2, 0)
    BE_ROW(CONV2D_I8, "avx2", BE_OP_CONV2D, BE_ISA_AVX2, be_conv2d_i8_avx2_supports, be_conv2d_i8_avx2, 1)
    BE_ROW(CONV2D_BIN, "popcnt", BE_OP_CONV2D, BE_ISA_POPCNT, be_conv2d_bin_popcnt_supports, be_conv2d_bin_popcnt, 0)
    BE_ROW(CONV2D_BIN, "popcnt", BE_OP_CONV2D, BE_ISA_POPCNT, be_conv2d_planes_popcnt_supports, be_conv2d_planes_popcnt, 0)
    /* the first layer without AVX2: plain C (any x86) */
    BE_ROW(DENSE_U8, "scalar", BE_OP_DENSE, 0u, be_u8_scalar_supports, be_dense_u8_scalar, 0)
    BE_ROW(CONV2D_U8, "scalar", BE_OP_CONV2D, 0u, be_u8_scalar_supports, be_conv2d_u8_scalar, 0)
#endif
    /* ARM (src/arm/, docs/kernels.md): binary Dense / Conv2d (sign bits x binary weights);
     * nibble tables for Conv2d with fewer than 32 input channels ("tab") first on the cores
     * without NEON, then Helium, then NEON (which beats "tab" on 16 sign channels: on NEON
     * builds "tab" goes first only for bit-plane inputs and at most 8 sign channels, and "short"
     * only for Dense heads of at most 64 inputs and 16 outputs (2 bit-planes: 64 outputs); the
     * rest after "neon", forced only), then DSP, then plain-C Thumb-2 / Thumb-1 counting.
     * Dense over 2 unsigned bit-planes beyond "short"'s K <= 64: "planes2" (one pass per row)
     * first on the Cortex-M cores but the M55, after "mve" / "neon" (forced only) elsewhere.
     * Conv2d over 2 .. 8 bit-planes with 16 or more channels goes to "sad" (levels as bytes,
     * USADA8) first on the DSP cores without NEON; otherwise it is forced only (after "dsp").
     * On NEON builds a Conv2d over 2 .. 8 unsigned bit-planes with at most 32 channels, stride 1
     * and a threshold stage goes first to "lanes" (be_conv2d_planes_px_neon.c: output positions in the
     * NEON lanes), and so does one over sign bits with at most 16 channels on 32+ output pixels
     * into a sign stage (a second row, kernel family CONV2D_BIN), int32 accumulators or a
     * RequantStage (a third), and one over 17 .. 96 sign channels (on armv7 17 .. 32, and 33 .. 42
     * into accumulators or a RequantStage) into any of
     * those stages (a fourth: be_conv2d_sign_px_neon.c). On the Cortex-M55 "lanes"
     * (be_conv2d_px_mve.c: output positions in Helium lanes) goes first for 3x3 Conv2d with at
     * most 32 channels over sign bits (sign stage) or 2 bit-planes (3 levels on 2 planes), and
     * over up to 96 sign channels into the sign stage, int32 accumulators or a RequantStage; then
     * "mve"'s Dense rows (be_dense_rows_mve.c: rows counted in Helium lanes) for Dense over 2
     * bit-planes (any K) and over sign bits with K <= 96 and more than 16 outputs */
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(CONV2D_BIN, "lanes", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_conv2d_px_mve_sign_supports, be_conv2d_px_mve_sign, 0)
    BE_ROW(CONV2D_PLANES, "lanes", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_conv2d_px_mve_planes_supports, be_conv2d_px_mve_planes, 0)
    BE_ROW(CONV2D_BIN, "lanes", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_conv2d_px_mve_acc_supports, be_conv2d_px_mve_acc, 0)
    BE_ROW(DENSE_PLANES, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_dense_planes_mve_supports, be_dense_planes_mve, 0)
    BE_ROW(DENSE_BIN, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_dense_bin_rows_mve_supports, be_dense_bin_rows_mve, 0)
#endif
#if defined(BE_ARM_HAVE_DSP) && !defined(BE_ARM_HAVE_NEON)
    BE_ROW(CONV2D_PLANES, "sad", BE_OP_CONV2D, BE_ISA_ARM_DSP, be_conv2d_planes_dsp_first_supports, be_conv2d_planes_dsp, 0)
#endif
#if defined(BE_ARM_HAVE_U8) && !defined(BE_ARM_HAVE_NEON)
    BE_ROW(DENSE_BIN, "short", BE_OP_DENSE, 0u, be_dense_bin_short_supports, be_dense_bin_short, 0)
    BE_ROW(DENSE_PLANES, "short", BE_OP_DENSE, 0u, be_dense_planes_short_supports, be_dense_planes_short, 0)
#ifndef BE_ARM_HAVE_MVE
    BE_ROW(DENSE_PLANES, "planes2", BE_OP_DENSE, 0u, be_dense_planes2_supports, be_dense_planes2, 0)
#endif
    BE_ROW(CONV2D_BIN, "tab", BE_OP_CONV2D, 0u, be_conv2d_bin_tab_supports, be_conv2d_bin_tab, 0)
#endif
#ifdef BE_ARM_HAVE_NEON
    BE_ROW(CONV2D_PLANES, "lanes", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_planes_px_neon_supports, be_conv2d_planes_px_neon, 0)
    BE_ROW(CONV2D_BIN, "lanes", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_px_neon_sign_supports, be_conv2d_planes_px_neon, 0)
    BE_ROW(CONV2D_BIN, "lanes", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_px_neon_acc_supports, be_conv2d_px_neon_acc, 0)
    BE_ROW(CONV2D_BIN, "lanes", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_sign_px_neon_supports, be_conv2d_sign_px_neon, 0)
#endif
#if defined(BE_ARM_HAVE_U8) && defined(BE_ARM_HAVE_NEON)
    BE_ROW(DENSE_BIN, "short", BE_OP_DENSE, 0u, be_dense_bin_short_head_supports, be_dense_bin_short, 0)
    BE_ROW(DENSE_PLANES, "short", BE_OP_DENSE, 0u, be_dense_planes_short_head_supports, be_dense_planes_short, 0)
    BE_ROW(CONV2D_BIN, "tab", BE_OP_CONV2D, 0u, be_conv2d_bin_tab_first_supports, be_conv2d_bin_tab, 0)
#endif
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(DENSE_BIN, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_dense_bin_mve_sign_supports, be_dense_bin_mve_sign, 0)
    BE_ROW(DENSE_BIN, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_dense_bin_mve_supports, be_dense_bin_mve, 0)
    BE_ROW(CONV2D_BIN, "mve", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_arm_bin_supports, be_conv2d_bin_mve, 0)
#endif
#ifdef BE_ARM_HAVE_NEON
    BE_ROW(DENSE_BIN, "neon", BE_OP_DENSE, BE_ISA_NEON, be_arm_bin_supports, be_dense_bin_neon, 0)
    BE_ROW(CONV2D_BIN, "neon", BE_OP_CONV2D, BE_ISA_NEON, be_arm_bin_supports, be_conv2d_bin_neon, 0)
#ifdef BE_ARM_HAVE_U8
    BE_ROW(DENSE_BIN, "short", BE_OP_DENSE, 0u, be_dense_bin_short_supports, be_dense_bin_short, 0)
    BE_ROW(DENSE_PLANES, "short", BE_OP_DENSE, 0u, be_dense_planes_short_supports, be_dense_planes_short, 0)
    BE_ROW(CONV2D_BIN, "tab", BE_OP_CONV2D, 0u, be_conv2d_bin_tab_supports, be_conv2d_bin_tab, 0)
#endif
#endif
#if defined(BE_ARM_HAVE_U8) && (defined(BE_ARM_HAVE_NEON) || defined(BE_ARM_HAVE_MVE))
    BE_ROW(DENSE_PLANES, "planes2", BE_OP_DENSE, 0u, be_dense_planes2_supports, be_dense_planes2, 0)
#endif
#ifdef BE_ARM_HAVE_DSP
    BE_ROW(DENSE_BIN, "dsp", BE_OP_DENSE, BE_ISA_ARM_DSP, be_arm_bin_supports, be_dense_bin_dsp, 0)
    BE_ROW(CONV2D_BIN, "dsp", BE_OP_CONV2D, BE_ISA_ARM_DSP, be_arm_bin_supports, be_conv2d_bin_dsp, 0)
    BE_ROW(CONV2D_PLANES, "sad", BE_OP_CONV2D, BE_ISA_ARM_DSP, be_conv2d_planes_dsp_supports, be_conv2d_planes_dsp, 0)
#endif
#ifdef BE_ARM_HAVE_SWAR
    BE_ROW(DENSE_BIN, "swar", BE_OP_DENSE, 0u, be_arm_bin_supports, be_dense_bin_swar, 0)
    BE_ROW(CONV2D_BIN, "swar", BE_OP_CONV2D, 0u, be_arm_bin_supports, be_conv2d_bin_swar, 0)
#endif
#ifdef BE_ARM_HAVE_THUMB1
    BE_ROW(DENSE_BIN, "thumb1", BE_OP_DENSE, 0u, be_arm_bin_supports, be_dense_bin_thumb1, 0)
    BE_ROW(CONV2D_BIN, "thumb1", BE_OP_CONV2D, 0u, be_arm_bin_supports, be_conv2d_bin_thumb1, 0)
#endif
    /* ARM first layer (src/arm/be_u8_*.c, be_conv2d_u8_px_mve.c, docs/kernels.md): uint8 pixels x
     * binary weights; on the Cortex-M55 "lanes" (8 positions in int16 lanes) first for 3x3 Conv2d
     * with C <= 4 */
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(CONV2D_U8, "lanes", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_conv2d_u8_px_mve_supports, be_conv2d_u8_px_mve, 0)
    BE_ROW(DENSE_U8, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_u8_mve_supports, be_dense_u8_mve, 0)
    BE_ROW(CONV2D_U8, "mve", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_u8_mve_supports, be_conv2d_u8_mve, 0)
#endif
#ifdef BE_ARM_HAVE_NEON
    BE_ROW(CONV2D_U8, "neon", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_u8_neon_supports, be_conv2d_u8_neon, 0)
#endif
#ifdef BE_ARM_HAVE_U8
    BE_ROW(DENSE_U8, "lut", BE_OP_DENSE, 0u, be_dense_u8_lut_supports, be_dense_u8_lut, 0)
    BE_ROW(CONV2D_U8, "mla", BE_OP_CONV2D, 0u, be_conv2d_u8_mla_supports, be_conv2d_u8_mla, 0)
#endif
#ifdef BE_ARM_HAVE_DSP
    BE_ROW(DENSE_U8, "dsp", BE_OP_DENSE, BE_ISA_ARM_DSP, be_u8_dsp_supports, be_dense_u8_dsp, 0)
    BE_ROW(CONV2D_U8, "dsp", BE_OP_CONV2D, BE_ISA_ARM_DSP, be_u8_dsp_supports, be_conv2d_u8_dsp, 0)
#endif
#ifdef BE_ARM_HAVE_U8
    BE_ROW(CONV2D_U8, "nib", BE_OP_CONV2D, 0u, be_conv2d_u8_nib_supports, be_conv2d_u8_nib, 0)
    BE_ROW(DENSE_U8, "planes", BE_OP_DENSE, 0u, be_u8_planes_supports, be_dense_u8_planes, 0)
    BE_ROW(CONV2D_U8, "planes", BE_OP_CONV2D, 0u, be_u8_planes_supports, be_conv2d_u8_planes, 0)
#endif
    /* ARM int8 layers (src/arm/be_i8_*.c, docs/kernels.md "int8 layers"): int8 weights over u8 /
     * i8 codes, any zero point, groups and output stage */
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(DENSE_I8, "mve", BE_OP_DENSE, BE_ISA_ARM_MVE, be_i8_mve_supports, be_dense_i8_mve, 1)
    BE_ROW(CONV2D_I8, "mve", BE_OP_CONV2D, BE_ISA_ARM_MVE, be_i8_mve_supports, be_conv2d_i8_mve, 1)
#endif
#ifdef BE_ARM_HAVE_NEON
    BE_ROW(DENSE_I8, "neon", BE_OP_DENSE, BE_ISA_NEON, be_i8_neon_supports, be_dense_i8_neon, 1)
    /* the pixel layer (one input channel) and 1x1 convs over 8k channels into a requant stage with
     * every shift >= 32, stride 1: positions x 8 channels in registers (be_conv2d_i8_px_neon.c) */
    BE_ROW(CONV2D_I8, "lanes", BE_OP_CONV2D, BE_ISA_NEON, be_conv2d_i8_px_neon_supports, be_conv2d_i8_px_neon, 1)
    BE_ROW(CONV2D_I8, "neon", BE_OP_CONV2D, BE_ISA_NEON, be_i8_neon_supports, be_conv2d_i8_neon, 1)
#endif
#ifdef BE_ARM_HAVE_DSP
    BE_ROW(DENSE_I8, "dsp", BE_OP_DENSE, BE_ISA_ARM_DSP, be_i8_dsp_supports, be_dense_i8_dsp, 1)
    BE_ROW(CONV2D_I8, "dsp", BE_OP_CONV2D, BE_ISA_ARM_DSP, be_i8_dsp_supports, be_conv2d_i8_dsp, 1)
#endif
#ifdef BE_ARM_HAVE_I8
    BE_ROW(DENSE_I8, "mac", BE_OP_DENSE, 0u, be_i8_mac_supports, be_dense_i8_mac, 1)
    BE_ROW(CONV2D_I8, "mac", BE_OP_CONV2D, 0u, be_i8_mac_supports, be_conv2d_i8_mac, 1)
#endif
    /* elementwise and pooling ops (src/word/ on every target, src/arm/ *_dsp.c, *_mve.c, *_neon.c; docs/kernels.md
     * "Elementwise and pooling ops"): where a core has no 64-bit multiply (Cortex-M0) the 32-bit
     * "w32" kernels go first, elsewhere the 64-bit "word" ones (the other is there when forced) */
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(THRESHOLD, "mve", BE_OP_THRESHOLD, BE_ISA_ARM_MVE, be_threshold_i8_mve_supports, be_threshold_i8_mve, 1)
    BE_ROW(MAXPOOL2D_I8, "mve", BE_OP_MAXPOOL2D, BE_ISA_ARM_MVE, be_maxpool2d_i8_mve_supports, be_maxpool2d_i8_mve, 1)
    BE_ROW(AVGPOOL2D, "mve", BE_OP_AVGPOOL2D, BE_ISA_ARM_MVE, be_avgpool2d_i8_mve_supports, be_avgpool2d_i8_mve, 1)
    BE_ROW(ADD, "mve", BE_OP_ADD, BE_ISA_ARM_MVE, NULL, be_add_i8_mve, 1)
    BE_ROW(MERGE, "mve", BE_OP_MERGE, BE_ISA_ARM_MVE, NULL, be_merge_mve, 1)
#endif
#ifdef BE_ARM_HAVE_NEON
    BE_ROW(THRESHOLD, "neon", BE_OP_THRESHOLD, BE_ISA_NEON, be_threshold_i8_neon_supports, be_threshold_i8_neon, 1)
    BE_ROW(AVGPOOL2D, "neon", BE_OP_AVGPOOL2D, BE_ISA_NEON, be_avgpool2d_i8_neon_supports, be_avgpool2d_i8_neon, 1)
    BE_ROW(MERGE, "neon", BE_OP_MERGE, BE_ISA_NEON, NULL, be_merge_neon, 1)
    BE_ROW(ADD, "neon", BE_OP_ADD, BE_ISA_NEON, NULL, be_add_i8_neon, 1)
#endif
#ifdef BE_ARM_HAVE_DSP
    BE_ROW(THRESHOLD, "dsp", BE_OP_THRESHOLD, BE_ISA_ARM_DSP, be_threshold_i8_dsp_supports, be_threshold_i8_dsp, 1)
    BE_ROW(MAXPOOL2D_I8, "dsp", BE_OP_MAXPOOL2D, BE_ISA_ARM_DSP, be_maxpool2d_i8_dsp_supports, be_maxpool2d_i8_dsp, 1)
    BE_ROW(AVGPOOL2D, "dsp", BE_OP_AVGPOOL2D, BE_ISA_ARM_DSP, be_avgpool2d_i8_dsp_supports, be_avgpool2d_i8_dsp, 1)
    BE_ROW(MERGE, "dsp", BE_OP_MERGE, BE_ISA_ARM_DSP, NULL, be_merge_dsp, 1)
    BE_ROW(ADD, "dsp", BE_OP_ADD, BE_ISA_ARM_DSP, NULL, be_add_i8_dsp, 1)
#endif
#ifdef BE_NO_MUL64
    BE_ROW(ADD, "w32", BE_OP_ADD, 0u, NULL, be_add_i8_w32, 1)
    BE_ROW(AVGPOOL2D, "w32", BE_OP_AVGPOOL2D, 0u, be_avgpool2d_i8_word_supports, be_avgpool2d_i8_w32, 1)
    BE_ROW(MERGE, "w32", BE_OP_MERGE, 0u, NULL, be_merge_w32, 1)
#endif
    BE_ROW(ADD, "word", BE_OP_ADD, 0u, NULL, be_add_i8_word, 1)
    BE_ROW(AVGPOOL2D, "word", BE_OP_AVGPOOL2D, 0u, be_avgpool2d_i8_word_supports, be_avgpool2d_i8_word, 1)
    BE_ROW(MERGE, "word", BE_OP_MERGE, 0u, NULL, be_merge_word, 1)
    BE_ROW(REQUANTIZE, "word", BE_OP_REQUANTIZE, 0u, NULL, be_requantize_i8_word, 1)
    BE_ROW(THRESHOLD, "word", BE_OP_THRESHOLD, 0u, NULL, be_threshold_i8_word, 1)
    BE_ROW(MAXPOOL2D_I8, "word", BE_OP_MAXPOOL2D, 0u, be_maxpool2d_i8_word_supports, be_maxpool2d_i8_word, 1)
    BE_ROW(CONCAT, "word", BE_OP_CONCAT, 0u, NULL, be_concat_word, 1)
#ifndef BE_NO_MUL64
    BE_ROW(ADD, "w32", BE_OP_ADD, 0u, NULL, be_add_i8_w32, 1)
    BE_ROW(AVGPOOL2D, "w32", BE_OP_AVGPOOL2D, 0u, be_avgpool2d_i8_word_supports, be_avgpool2d_i8_w32, 1)
    BE_ROW(MERGE, "w32", BE_OP_MERGE, 0u, NULL, be_merge_w32, 1)
#endif
    /* portable word kernels (src/word/): MaxPool2d / Flatten a word at a time, every target */
    BE_ROW(MAXPOOL2D_BIN, "word", BE_OP_MAXPOOL2D, 0u, be_maxpool2d_bin_word_supports, be_maxpool2d_bin_word, 0)
    BE_ROW(MAXPOOL2D_BIN, "word", BE_OP_MAXPOOL2D, 0u, be_maxpool2d_planes_word_supports, be_maxpool2d_planes_word, 0)
    BE_ROW(FLATTEN, "word", BE_OP_FLATTEN, 0u, NULL, be_flatten_bin_word, 0)
    /* LSTM (be_lstm.h): AVX-512 mask registers / AVX2 byte masks on x86, weight bits as Helium
     * predicates on the M55, nibble tables everywhere */
#if defined(__x86_64__) || defined(__i386__)
    BE_ROW(LSTM_BIN, "avx512", BE_OP_LSTM, BE_ISA_AVX512_VPOPCNT, be_lstm_avx512_supports, be_lstm_avx512, 1)
    BE_ROW(LSTM_BIN, "avx2", BE_OP_LSTM, BE_ISA_AVX2, be_lstm_avx2_supports, be_lstm_avx2, 1)
#endif
#ifdef BE_ARM_HAVE_MVE
    BE_ROW(LSTM_BIN, "mve", BE_OP_LSTM, BE_ISA_ARM_MVE, be_lstm_mve_supports, be_lstm_mve, 1)
#endif
    BE_ROW(LSTM_BIN, "word", BE_OP_LSTM, 0u, be_lstm_word_supports, be_lstm_word, 1)
    /* the reference kernels (src/ref/): last, every op of every kind */
    BE_REF(DENSE, "ref", BE_OP_DENSE, 0u, NULL, be_dense_ref, 1)
    BE_REF(CONV2D, "ref", BE_OP_CONV2D, 0u, NULL, be_conv2d_ref, 1)
    BE_REF(MAXPOOL2D, "ref", BE_OP_MAXPOOL2D, 0u, NULL, be_maxpool2d_ref, 1)
    BE_REF(FLATTEN, "ref", BE_OP_FLATTEN, 0u, NULL, be_flatten_ref, 1)
    BE_REF(RESHAPE, "ref", BE_OP_RESHAPE, 0u, NULL, be_reshape_ref, 1)
    BE_REF(AVGPOOL2D, "ref", BE_OP_AVGPOOL2D, 0u, NULL, be_avgpool2d_ref, 1)
    BE_REF(ADD, "ref", BE_OP_ADD, 0u, NULL, be_add_ref, 1)
    BE_REF(REQUANTIZE, "ref", BE_OP_REQUANTIZE, 0u, NULL, be_requantize_ref, 1)
    BE_REF(THRESHOLD, "ref", BE_OP_THRESHOLD, 0u, NULL, be_threshold_op_ref, 1)
    BE_REF(CONCAT, "ref", BE_OP_CONCAT, 0u, NULL, be_concat_ref, 1)
    BE_REF(MERGE, "ref", BE_OP_MERGE, 0u, NULL, be_merge_ref, 1)
    BE_REF(LSTM, "ref", BE_OP_LSTM, 0u, NULL, be_lstm_ref, 1)
};

const size_t be_kernel_table_len = sizeof be_kernel_table / sizeof be_kernel_table[0];

int be_op_is_v1(const be_op *op)
{
    const be_value *in = &op->in;
    switch (op->type) {
    case BE_OP_DENSE:
    case BE_OP_CONV2D:
        if (op->groups > 1u)
            return 0;
        if (in->kind == BE_KIND_BITS) /* any stage: these kernels store through be_stage_put(_block) */
            return op->weight_kind == BE_WK_BINARY;
        if (op->stage != BE_STAGE_THRESHOLD && op->stage != BE_STAGE_SCORE)
            return 0;
        return in->kind == BE_KIND_U8 && in->zero_point == 0;
    case BE_OP_MAXPOOL2D:
        return in->kind == BE_KIND_BITS;
    case BE_OP_FLATTEN:
        return 1;
    default:
        return 0;
    }
}

/* The first family of each op type; Dense / Conv2d have _BIN, _U8, _I8 and MaxPool2d _BIN, _I8 at
 * consecutive values (be_kernels.h). */
static const uint8_t first_family[BE_OP_TYPES + 1] = {
    [BE_OP_DENSE] = BE_KF_DENSE_BIN,   [BE_OP_CONV2D] = BE_KF_CONV2D_BIN,   [BE_OP_MAXPOOL2D] = BE_KF_MAXPOOL2D_BIN,
    [BE_OP_FLATTEN] = BE_KF_FLATTEN,   [BE_OP_RESHAPE] = BE_KF_RESHAPE,     [BE_OP_AVGPOOL2D] = BE_KF_AVGPOOL2D,
    [BE_OP_ADD] = BE_KF_ADD,           [BE_OP_REQUANTIZE] = BE_KF_REQUANTIZE, [BE_OP_THRESHOLD] = BE_KF_THRESHOLD,
    [BE_OP_CONCAT] = BE_KF_CONCAT,     [BE_OP_MERGE] = BE_KF_MERGE,         [BE_OP_LSTM] = BE_KF_LSTM_BIN};

uint32_t be_op_kernel_families(const be_op *op)
{
    const int bits = op->in.kind == BE_KIND_BITS, u8 = op->in.kind == BE_KIND_U8;
    const int int8 = op->weight_kind == BE_WK_INT8 || op->in.kind == BE_KIND_I8;
    uint32_t f;
    if (op->type == 0u || op->type > BE_OP_TYPES)
        return 0u;
    f = first_family[op->type];
    if (op->type == BE_OP_MAXPOOL2D)
        return 1u << (bits ? f : f + 1u); /* _BIN on bits, _I8 on codes */
    if (op->type == BE_OP_CONV2D && bits && op->in.encoding == BE_ENC_UNSIGNED && op->in.planes >= 2u)
        return (1u << f) | (1u << BE_KF_CONV2D_PLANES); /* 2 .. 8 bit-planes: _BIN and _PLANES */
    if (op->type == BE_OP_DENSE && bits && op->in.encoding == BE_ENC_UNSIGNED && op->in.planes >= 2u)
        return (1u << f) | (1u << BE_KF_DENSE_PLANES);
    if ((op->type != BE_OP_DENSE && op->type != BE_OP_CONV2D) || bits)
        return 1u << f; /* the op's one family; Dense / Conv2d on bits: _BIN */
    return (u8 ? 1u << (f + 1u) : 0u) | (int8 ? 1u << (f + 2u) : 0u); /* _U8, _I8 */
}

const char *be_kernel_family_name(int f)
{
    static const char *const names[BE_KF_COUNT] = {
        NULL,          "DENSE_BIN", "DENSE_U8",  "DENSE_I8",   "CONV2D_BIN", "CONV2D_U8",
        "CONV2D_I8",   "MAXPOOL2D_BIN", "MAXPOOL2D_I8", "FLATTEN", "RESHAPE", "AVGPOOL2D",
        "ADD",         "REQUANTIZE", "THRESHOLD", "CONCAT",     "MERGE",     "LSTM_BIN",
        "CONV2D_PLANES", "DENSE_PLANES"};
    return f > BE_KF_ANY && f < BE_KF_COUNT ? names[f] : NULL;
}

int be_kernel_usable(const be_kernel *k, const be_op *op, uint32_t isa)
{
    return k->op_type == (int)op->type && (k->isa & ~isa) == 0u &&
           (k->family == BE_KF_ANY || ((be_op_kernel_families(op) >> k->family) & 1u)) &&
           (k->graph_v2 || be_op_is_v1(op)) && (k->supports == NULL || k->supports(op));
}

const be_kernel *be_select_kernel(const be_op *op, const char *variant, uint32_t isa)
{
    size_t i;
    if (variant != NULL && variant[0] != '\0' && strcmp(variant, "auto") != 0) {
        for (i = 0; i < be_kernel_table_len; i++)
            if (strcmp(be_kernel_table[i].name, variant) == 0 && be_kernel_usable(&be_kernel_table[i], op, isa))
                return &be_kernel_table[i];
        variant = "ref"; /* the named variant does not cover this op */
    } else {
        variant = NULL;
    }
    for (i = 0; i < be_kernel_table_len; i++)
        if ((variant == NULL || strcmp(be_kernel_table[i].name, variant) == 0) &&
            be_kernel_usable(&be_kernel_table[i], op, isa))
            return &be_kernel_table[i];
    return NULL;
}

size_t be_kernel_count(void)
{
    return be_kernel_table_len;
}

const char *be_kernel_info(size_t i, int *op_type, uint32_t *isa)
{
    if (i >= be_kernel_table_len)
        return NULL;
    if (op_type != NULL)
        *op_type = be_kernel_table[i].op_type;
    if (isa != NULL)
        *isa = be_kernel_table[i].isa;
    return be_kernel_table[i].name;
}

uint32_t be_isa_detect(void)
{
    uint32_t isa = 0u;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt"))
        isa |= BE_ISA_POPCNT;
    if (__builtin_cpu_supports("avx2"))
        isa |= BE_ISA_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vpopcntdq"))
        isa |= BE_ISA_AVX512_VPOPCNT;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bitalg"))
        isa |= BE_ISA_AVX512_BITALG;
#endif
#if defined(__ARM_NEON) || defined(__ARM_NEON__)
    isa |= BE_ISA_NEON;
#endif
#if defined(__ARM_FEATURE_DSP)
    isa |= BE_ISA_ARM_DSP;
#endif
#if defined(__ARM_FEATURE_MVE)
    isa |= BE_ISA_ARM_MVE;
#endif
    return isa;
}
