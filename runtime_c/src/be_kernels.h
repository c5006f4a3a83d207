/*
 * be_kernels.h -- internal: the kernel interface, the kernel table and the reference kernels.
 *
 * A kernel computes one op for one sample: it reads `in` (op->in layout; for the multi-input
 * ops Add, Merge and Concat, `in` is a `const be_inputs *` holding every input's data and value),
 * writes `out` (op->out layout; for the last op this is the caller's int32 scores), and may use
 * `scratch` (op->scratch_bytes, 16-byte aligned, contents undefined on entry; NULL when 0).
 * The graph input may sit at any address (binedge.h): a kernel that can read it (any op whose
 * first input is a u8 / i8 value) reads bytes, or words only where it checked the alignment.
 * Kernels only run on ops the loader validated, so they do not re-check shapes. They return
 * BE_OK. The reference reports BE_ERR_OVERFLOW when a score does not fit int32, which the loader
 * proves impossible (|multiplier| * bound + |offset| <= INT32_MAX per channel), so a variant may
 * compute a score as one 32-bit multiply-add modulo 2^32 without that test (the ARM ones do);
 * test_variants still compares the wrapped values of such unloadable ops with the reference.
 *
 * Adding a variant (e.g. AVX2): put it in its own file (src/x86/be_dense_avx2.c, guarded by
 * #if for its architecture so the file compiles to nothing elsewhere), declare it below and add
 * one line to be_kernel_table in be_kernels.c ABOVE the "ref" entry of its op: dispatch takes
 * the first entry whose ISA bits are available and whose `supports` accepts the op.
 * Every variant must be bit-exact with the reference kernel of its op. Tag the line with the
 * kernel family of the ops it takes (below); the "ref" entries are BE_KF_ANY.
 */
#ifndef BE_KERNELS_H
#define BE_KERNELS_H

#include "binedge.h"
#include "be_bitformat.h"

/* Kernel families: what a firmware keeps. Every table entry belongs to one family (the "ref"
 * entries to BE_KF_ANY: every op of their type). Dispatch offers an op only the entries of the
 * families in be_op_kernel_families(op) and the ref entry of its type, so a build that compiles
 * the entries of some families only picks, for an op of those families, exactly the kernel a
 * build with all of them picks. -DBE_KERNEL_SUBSET with -DBE_KEEP_<FAMILY>=1 per family (e.g.
 * -DBE_KEEP_CONV2D_BIN=1) compiles only those entries and the ref entries of their op types; the
 * linker's --gc-sections then drops every other kernel. binedge's firmware generator passes the
 * families of its model (binedge.firmware.kernel_families mirrors be_op_kernel_families;
 * docs/firmware.md "Kernel subset"). Without BE_KERNEL_SUBSET every entry is compiled. */
enum be_kernel_family { /* an op type's families are consecutive, in this order (be_kernels.c),
                          but for CONV2D_PLANES and DENSE_PLANES (added last, subsets of the _BIN
                          families' ops) */
    BE_KF_ANY = 0,
    BE_KF_DENSE_BIN = 1,      /* Dense on bits (binary weights) */
    BE_KF_DENSE_U8 = 2,       /* Dense on u8 codes (binary weights; x86 also int8 weights) */
    BE_KF_DENSE_I8 = 3,       /* Dense with int8 weights or on i8 codes */
    BE_KF_CONV2D_BIN = 4,
    BE_KF_CONV2D_U8 = 5,
    BE_KF_CONV2D_I8 = 6,
    BE_KF_MAXPOOL2D_BIN = 7,  /* MaxPool2d on bits */
    BE_KF_MAXPOOL2D_I8 = 8,   /* MaxPool2d on u8 / i8 codes */
    BE_KF_FLATTEN = 9,
    BE_KF_RESHAPE = 10,
    BE_KF_AVGPOOL2D = 11,
    BE_KF_ADD = 12,
    BE_KF_REQUANTIZE = 13,
    BE_KF_THRESHOLD = 14,
    BE_KF_CONCAT = 15,
    BE_KF_MERGE = 16,
    BE_KF_LSTM_BIN = 17,      /* LSTM (binary gate matrices over a one-hot or int8 input) */
    BE_KF_CONV2D_PLANES = 18, /* Conv2d on 2 .. 8 unsigned bit-planes only (kernels that take no
                                 sign bits, e.g. "sad"); such an op is CONV2D_BIN too */
    BE_KF_DENSE_PLANES = 19,  /* Dense on 2 .. 8 unsigned bit-planes only ("planes2", the 2-plane
                                 "short"); such an op is DENSE_BIN too */
    BE_KF_COUNT = 20
};

/* The families whose entries may compute op (bit f = family f; never BE_KF_ANY): Dense / Conv2d
 * on bits -> _BIN (on 2 .. 8 unsigned bit-planes also CONV2D_PLANES / DENSE_PLANES); on u8 codes -> _U8, plus _I8 with int8 weights; on i8 codes -> _I8; MaxPool2d
 * on bits -> MAXPOOL2D_BIN, on codes -> MAXPOOL2D_I8; every other op its type's one family. */
uint32_t be_op_kernel_families(const be_op *op);

typedef be_status (*be_kernel_fn)(const be_op *op, const void *in, void *out, void *scratch);

typedef struct be_kernel {
    const char *name;                  /* variant name: "ref", "avx2", "neon", ... */
    int op_type;                       /* BE_OP_* */
    uint32_t isa;                      /* required BE_ISA_* bits (0: portable C) */
    int (*supports)(const be_op *op);  /* NULL: every op of op_type; else nonzero if usable */
    be_kernel_fn fn;
    int graph_v2;                      /* 1: takes every op `supports` accepts; 0: a kernel written
                                          for format version 1, offered only ops within it
                                          (be_op_is_v1: no groups, no i8 / zero-point inputs,
                                          no requantization stage) */
    int family;                        /* BE_KF_*: the ops it is offered (BE_KF_ANY: ref) */
} be_kernel;

extern const be_kernel be_kernel_table[];
extern const size_t be_kernel_table_len;

/* Select the kernel of `op`: variant NULL = auto, "ref", or a name. NULL if none fits. */
const be_kernel *be_select_kernel(const be_op *op, const char *variant, uint32_t isa);

/* May dispatch offer op to k on a CPU with the ISA bits `isa`? Same op type, ISA available, op
 * in k's family (ref: any), a format-v1 kernel only on a v1 op, and k->supports accepts it. The
 * one predicate of dispatch, the variant tests and the kernel benchmark. */
int be_kernel_usable(const be_kernel *k, const be_op *op, uint32_t isa);

/* Does op stay within what the kernels written for format version 1 assume? Dense / Conv2d:
 * groups <= 1 and either bits input with binary weights and any output stage (those kernels
 * store every stage through be_stage_put / be_stage_put_block, so the requant and accumulator
 * stages of graph v2 need nothing new from them), or u8 codes with zero point 0 and a threshold
 * or score stage; MaxPool2d: bits; Flatten: any. */
int be_op_is_v1(const be_op *op);

/* ---- reference kernels (src/ref/), the C spec of every op ---- */
be_status be_dense_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_maxpool2d_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_flatten_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_reshape_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_avgpool2d_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_add_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_requantize_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_threshold_op_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_concat_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_ref(const be_op *op, const void *in, void *out, void *scratch);
be_status be_lstm_ref(const be_op *op, const void *in, void *out, void *scratch); /* scratch: the state */

/* Exact sum_k x_k * w_k over the n elements of ONE input pixel (Dense: the whole input row;
 * a grouped Conv2d: the channels of one group): `x` is the pixel in op->in's storage (u8 / i8:
 * n codes; bits: P planes of cw words), or NULL for a padding pixel (the zero code: the zero
 * point of codes, +1 for sign bits, level 0); `w` is one weight row (binary: words(n) words;
 * int8: n bytes). (src/ref/be_dense_ref.c) */
int32_t be_ref_dot(const be_value *in, const void *x, const void *w, int weight_kind, uint32_t n);

/* ---- the rounding rule of docs/graph.md ---- */

/* An int64 at a 4-byte aligned address (blob tensors are only as aligned as the blob). */
static inline int64_t be_rd_i64(const void *p)
{
    const uint32_t *q = (const uint32_t *)p;
    const uint64_t u = (uint64_t)q[0] | ((uint64_t)q[1] << 32); /* little-endian host (checked) */
    return u <= 0x7FFFFFFFFFFFFFFFull ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* rshift(v, s) = floor((v + 2^(s-1)) / 2^s) for s in [1, 62], v for s = 0: v / 2^s rounded half
 * up. Portable C (a right shift of a negative value is implementation-defined): for negative
 * t = v + 2^(s-1), floor(t / 2^s) = -(((-t - 1) >> s) + 1). The loader proved
 * |v| + 2^(s-1) <= 2^63 - 1, so nothing overflows. */
static inline int64_t be_rshift_round(int64_t v, uint32_t s)
{
    int64_t t;
    if (s == 0u)
        return v;
    t = v + (int64_t)((uint64_t)1u << (s - 1u));
    if (t >= 0)
        return (int64_t)((uint64_t)t >> s);
    return -(int64_t)(((uint64_t)(-(t + 1)) >> s) + 1u);
}

/* requant(v, s, zp) = clamp(zp + rshift(v, s), -128, 127): an i8 code. Clamped against the
 * shifted range first: with s = 0, rshift(v, s) = v may lie within 128 of 2^63, where adding zp
 * would overflow. */
static inline int8_t be_requant(int64_t v, uint32_t s, int32_t zp)
{
    const int64_t r = be_rshift_round(v, s);
    if (r < -128 - (int64_t)zp)
        return -128;
    if (r > 127 - (int64_t)zp)
        return 127;
    return (int8_t)(r + zp);
}

/* The input position (*y0, *x0) of output pixel (oy, ox)'s window (negative in the padding), and
 * whether the KH x KW window lies inside the input (no padding tap): the fast path of the
 * kernels that gather receptive fields. */
static inline int be_window_inside(const be_op *op, uint32_t oy, uint32_t ox, int32_t *y0, int32_t *x0)
{
    *y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt;
    *x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    return *y0 >= 0 && *x0 >= 0 && *y0 + (int32_t)op->kh <= (int32_t)op->in.h &&
           *x0 + (int32_t)op->kw <= (int32_t)op->in.w;
}

/* Code x of a u8 / i8 value at byte i of `data` (any alignment). */
static inline int32_t be_code_at(const be_value *v, const void *data, size_t i)
{
    return v->kind == BE_KIND_I8 ? (int32_t)((const int8_t *)data)[i] : (int32_t)((const uint8_t *)data)[i];
}

/* ---- x86 variants (src/x86/, one file per op / data type / ISA; each file compiles to nothing
 * elsewhere). `*_supports` tells dispatch which ops a variant takes: sign-bit input with binary
 * weights (bin), uint8 pixels with binary or int8 weights (u8), sign-bit pooling. The SIMD conv
 * variants also bound the weight row length (stack buffers, see src/x86/be_x86.h). ---- */
#if defined(__x86_64__) || defined(__i386__)
int be_dense_bin_popcnt_supports(const be_op *op);
int be_dense_bin_avx2_supports(const be_op *op);
int be_dense_bin_avx512_supports(const be_op *op);
int be_dense_u8_avx2_supports(const be_op *op);
int be_dense_u8_avx512_supports(const be_op *op);
int be_conv2d_bin_popcnt_supports(const be_op *op);
int be_conv2d_bin_avx2_supports(const be_op *op);
int be_conv2d_bin_avx512_supports(const be_op *op);
int be_conv2d_u8_avx2_supports(const be_op *op);
int be_conv2d_u8_avx512_supports(const be_op *op);
be_status be_dense_bin_popcnt(const be_op *op, const void *in, void *out, void *scratch);
be_status be_dense_bin_avx2(const be_op *op, const void *in, void *out, void *scratch);
be_status be_dense_bin_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_dense_u8_avx2(const be_op *op, const void *in, void *out, void *scratch);
/* uint8 pixels x binary weights in plain C (x86 without AVX2: be_u8_scalar.c) */
int be_u8_scalar_supports(const be_op *op);
be_status be_dense_u8_scalar(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_scalar(const be_op *op, const void *in, void *out, void *scratch);
be_status be_dense_u8_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_popcnt(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_avx2(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_bin_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_avx2(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_u8_avx512(const be_op *op, const void *in, void *out, void *scratch);
/* int8 layers (int8 weights over u8 / i8 codes, any zero point, groups, stage; be_x86_i8.h) */
int be_dense_i8_avx2_supports(const be_op *op);
int be_conv2d_i8_avx2_supports(const be_op *op);
int be_conv2d_i8_avx512_supports(const be_op *op); /* also needs AVX-512 VNNI (checked inside) */
be_status be_conv2d_i8_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_dense_i8_avx2(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_i8_avx2(const be_op *op, const void *in, void *out, void *scratch);
/* unsigned bit-plane inputs (qrelu levels, P <= 8) with binary weights (be_op_is_planes_binary) */
int be_dense_planes_popcnt_supports(const be_op *op);
int be_conv2d_planes_popcnt_supports(const be_op *op);
int be_conv2d_planes_avx512_supports(const be_op *op); /* transposed weights within 32 KiB */
int be_conv2d_planes_px_avx512_supports(const be_op *op); /* <= 32 channels, stride 1, thresholds */
int be_conv2d_planes_px_avx2_supports(const be_op *op);   /* <= 32 channels, stride 1, thresholds */
be_status be_dense_planes_popcnt(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_planes_popcnt(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_planes_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_planes_px_avx512(const be_op *op, const void *in, void *out, void *scratch);
be_status be_conv2d_planes_px_avx2(const be_op *op, const void *in, void *out, void *scratch);
#endif

/* ---- portable word variants (src/word/, every target): MaxPool2d / Flatten on whole words ---- */
int be_maxpool2d_bin_word_supports(const be_op *op);
be_status be_maxpool2d_bin_word(const be_op *op, const void *in, void *out, void *scratch);
int be_maxpool2d_planes_word_supports(const be_op *op);
be_status be_maxpool2d_planes_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_flatten_bin_word(const be_op *op, const void *in, void *out, void *scratch);

/* ---- elementwise and pooling ops (docs/kernels.md "Elementwise and pooling ops"; what they share:
 * src/word/be_ew.h). "word": portable C with 64-bit products (one SMULL / SMLAL on ARMv7-M);
 * "w32": portable C in 32-bit arithmetic only (the split-16 form), for cores without a 64-bit
 * multiply (Cortex-M0), falling back to the 64-bit loop where the split does not apply. Each
 * decides its path per call from fields the loader proved. ---- */
#if defined(__arm__) && defined(__ARM_ARCH_ISA_THUMB) && __ARM_ARCH_ISA_THUMB == 1 && !defined(__ARM_ARCH_ISA_ARM)
#define BE_NO_MUL64 1 /* ARMv6-M: MULS is 32 x 32 -> 32; "w32" variants go first in the table */
#endif
be_status be_add_i8_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_add_i8_w32(const be_op *op, const void *in, void *out, void *scratch);
be_status be_requantize_i8_word(const be_op *op, const void *in, void *out, void *scratch);
int be_avgpool2d_i8_word_supports(const be_op *op); /* windows of at most 2^23 positions (int32 sums) */
be_status be_avgpool2d_i8_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_avgpool2d_i8_w32(const be_op *op, const void *in, void *out, void *scratch);
int be_maxpool2d_i8_word_supports(const be_op *op); /* u8 / i8 codes */
be_status be_maxpool2d_i8_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_threshold_i8_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_word(const be_op *op, const void *in, void *out, void *scratch);
be_status be_merge_w32(const be_op *op, const void *in, void *out, void *scratch);
be_status be_concat_word(const be_op *op, const void *in, void *out, void *scratch);

/* ---- LSTM (src/word/be_lstm_word.c, src/x86/be_lstm_avx*.c, src/arm/be_lstm_mve.c; be_lstm.h):
 * the binary x int8 dot products of the gate rows by nibble tables ("word", every target), mask
 * registers ("avx512"), byte masks ("avx2") or predicates ("mve") ---- */
int be_lstm_word_supports(const be_op *op);
be_status be_lstm_word(const be_op *op, const void *in, void *out, void *scratch);
#if defined(__x86_64__) || defined(__i386__)
int be_lstm_avx2_supports(const be_op *op);
be_status be_lstm_avx2(const be_op *op, const void *in, void *out, void *scratch);
int be_lstm_avx512_supports(const be_op *op);
be_status be_lstm_avx512(const be_op *op, const void *in, void *out, void *scratch);
#endif

/* ---- the shared output stage (src/ref/be_threshold_ref.c) ---- */
/* Zero one output pixel (threshold stages set bits only); no-op for score stages. */
void be_stage_clear(const be_op *op, void *out_pixel);
/* Threshold level of channel c: #{k : direction_c * acc >= T_c,k}. */
uint32_t be_threshold_level(const be_op *op, uint32_t c, int32_t acc);
/* Store channel c of one output pixel from its accumulator (threshold -> bits, score -> int32).
 * Returns BE_ERR_OVERFLOW if a score does not fit int32 (the wrapped value is stored). */
be_status be_stage_put(const be_op *op, uint32_t c, int32_t acc, void *out_pixel);

/* Whether the op's output stage is the one-threshold sign stage (the one kernels pack directly). */
static inline int be_stage_is_sign(const be_op *op)
{
    return op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_SIGN && op->levels == 1u;
}

/* Whether the op's output stage is an unsigned threshold stage: L >= 1 levels on bit-planes
 * (qrelu). */
static inline int be_stage_is_levels(const be_op *op)
{
    return op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && op->levels >= 1u &&
           op->out.kind == BE_KIND_BITS;
}

/* Binary weights on unsigned bit-plane inputs (qrelu levels, P <= 8 planes): the planes kernels. */
static inline int be_op_is_planes_binary(const be_op *op)
{
    return op->weight_kind == BE_WK_BINARY && op->in.kind == BE_KIND_BITS &&
           op->in.encoding == BE_ENC_UNSIGNED && op->in.planes >= 1u && op->in.planes <= 8u;
}

/* ---- word copies for the kernels ---- */
/* Copy / clear n words (4-byte aligned buffers) without a C library call: kernels copy runs of a
 * few words, where a call costs more than the copy, and on Cortex-M builds the C library's
 * memcpy / memset are byte loops (picolibc, size optimised). The empty asm (no instruction) keeps
 * GCC / Clang from turning the loops back into library calls; three words move as one struct
 * (one LDM / STM pair on ARM). */
#if defined(__GNUC__)
#define BE_OPAQUE_PTR(p) __asm__("" : "+r"(p))
#else
#define BE_OPAQUE_PTR(p) ((void)0)
#endif

typedef struct {
    be_word w[3];
} be_three_words;

static inline void be_copy_words(be_word *dst, const be_word *src, uint32_t n)
{
    for (; n >= 3u; n -= 3u, dst += 3, src += 3) {
        *(be_three_words *)dst = *(const be_three_words *)src;
        BE_OPAQUE_PTR(dst);
    }
    while (n-- > 0u) {
        *dst++ = *src++;
        BE_OPAQUE_PTR(dst);
    }
}

static inline void be_zero_words(be_word *dst, uint32_t n)
{
    while (n-- > 0u) {
        *dst++ = 0u;
        BE_OPAQUE_PTR(dst);
    }
}

/* ---- compacted receptive fields (word/be_compact_bits.c): binary layers with C % 32 != 0 ----
 * be_compact_rows: Conv2d weights (O, KH, KW, words(C)) of channels [o0, o0 + n) as n rows of
 * words(K) words, K = KH * KW * C bits back to back (zero after K): bit k = element k.
 * be_split_rows: the same rows in the split layout (every tap's full words, then the bits of
 * every tap's last word back to back; words(K) words, zero after).
 * be_split_patch: the receptive field of output pixel (oy, ox) in the split layout into dst (nw =
 * words(K) words): plane `plane` of pixels of px_words words (plane p at word p * cw). Padding
 * pixels are zero bits; needs cw <= BE_COMPACT_MAX_CW. */
#define BE_COMPACT_MAX_CW 64u
void be_compact_rows(const be_op *op, uint32_t o0, uint32_t n, be_word *dst);
void be_split_rows(const be_op *op, uint32_t o0, uint32_t n, be_word *dst);
void be_split_patch(const be_op *op, const be_word *in, uint32_t oy, uint32_t ox, be_word *dst, uint32_t nw,
                    uint32_t px_words, uint32_t plane);

/* The RequantStage of channel c as (M * acc + Bh) >> s with Bh = B + 2^(s-1): the rounding term
 * folded into the bias (the loader proved |M| * bound + |B| + 2^(s-1) <= 2^63 - 1, so Bh and
 * M * acc + Bh fit int64 for every accumulator the channel can have). */
static inline int64_t be_rq_bias(const be_op *op, uint32_t c)
{
    const uint32_t s = ((const uint8_t *)op->stage_c)[c];
    const int64_t b = be_rd_i64((const int32_t *)op->stage_b + 2u * c);
    return s == 0u ? b : b + (int64_t)((uint64_t)1u << (s - 1u));
}

/* requant(M * acc + B, s, zp) from Bh = be_rq_bias: one 64-bit multiply-add, an arithmetic shift
 * written portably (~(~v >> s) for negative v: GCC and Clang emit one shift), one clamp. */
static inline int8_t be_rq_apply(int32_t acc, int32_t m, int64_t bh, uint32_t s, int32_t zp)
{
    const int64_t v = (int64_t)m * acc + bh;
    const int64_t r = v < 0 ? ~(~v >> s) : v >> s;
    if (r < -128 - (int64_t)zp)
        return -128;
    if (r > 127 - (int64_t)zp)
        return 127;
    return (int8_t)(r + zp);
}

/* Store channels [o0, o0 + n) of one output pixel (cleared by be_stage_clear for threshold
 * stages) from their exact accumulators. The sign stage packs its bits straight into the pixel's
 * word (o0 % 32 + n <= 32 required); unsigned thresholds (the qrelu levels) count their levels
 * and set the plane bits inline, as be_stage_put does; the RequantStage runs be_rq_apply inline
 * (be_stage_put's arithmetic, the rounding folded into the bias; out of line through
 * be_stage_put it cost about 100 instructions per output on a Cortex-M4); any other stage goes
 * through be_stage_put. Returns the last non-OK status. */
static inline be_status be_stage_put_block(const be_op *op, void *out_pixel, uint32_t o0, uint32_t n,
                                           const int32_t *acc)
{
    uint32_t i;
    be_status st = BE_OK;
    if (be_stage_is_sign(op)) {
        const int8_t *d = (const int8_t *)op->stage_a + o0;
        const int32_t *t = (const int32_t *)op->stage_b + o0;
        uint32_t bits = 0u;
        for (i = 0; i < n; i++) {
            const int32_t x = d[i] < 0 ? -acc[i] : acc[i]; /* direction * acc; |acc| <= INT32_MAX (loader) */
            bits |= (uint32_t)(x < t[i]) << i;             /* level 0 -> -1 -> bit 1 */
        }
        ((be_word *)out_pixel)[o0 / 32u] |= bits << (o0 % 32u);
        return BE_OK;
    }
    if (op->stage == BE_STAGE_THRESHOLD && op->encoding == BE_ENC_UNSIGNED && op->out.planes <= 8u) {
        const int8_t *d = (const int8_t *)op->stage_a;
        const uint32_t levels = op->levels, planes = op->out.planes, cw = op->out.cw;
        const int32_t *t = (const int32_t *)op->stage_b;
        be_word *words = (be_word *)out_pixel;
        uint32_t c = o0, end = o0 + n, k, q;
        while (c < end) { /* runs of channels within one word of each plane */
            const uint32_t stop = end - c < 32u - c % 32u ? end : c + (32u - c % 32u), w = c / 32u, sh = c % 32u;
            be_word pb[8]; /* the run's bits of plane q */
            const int32_t *a = acc + (c - o0);
            uint32_t r;
            if (levels == 3u && planes == 2u) { /* 2-bit levels (qrelu2): no inner loops, the plane
                                                  * words in registers (pb would live in memory) */
                uint32_t b0 = 0u, b1 = 0u;
                for (r = 0; c < stop; c++, r++) {
                    const int32_t x = d[c] < 0 ? -a[r] : a[r]; /* |acc| <= INT32_MAX (loader) */
                    const int32_t *tc = t + (size_t)c * 3u;
                    const uint32_t level = (uint32_t)(x >= tc[0]) + (uint32_t)(x >= tc[1]) + (uint32_t)(x >= tc[2]);
                    b0 |= (level & 1u) << r;
                    b1 |= (level >> 1) << r;
                }
                words[w] |= b0 << sh;
                words[(size_t)cw + w] |= b1 << sh;
                continue;
            }
            be_zero_words(pb, planes); /* not an initializer: that is a memset call (a byte loop in picolibc) */
            for (r = 0; c < stop; c++, r++) {
                const int32_t x = d[c] < 0 ? -a[r] : a[r];
                const int32_t *tc = t + (size_t)c * levels;
                uint32_t level = 0u;
                for (k = 0; k < levels; k++)
                    level += (uint32_t)(x >= tc[k]);
                for (q = 0; q < planes; q++)
                    pb[q] |= ((level >> q) & 1u) << r;
            }
            for (q = 0; q < planes; q++)
                words[(size_t)q * cw + w] |= pb[q] << sh;
        }
        return BE_OK;
    }
    if (op->stage == BE_STAGE_REQUANT) {
        const int32_t *m = (const int32_t *)op->stage_a + o0;
        const uint8_t *sh = (const uint8_t *)op->stage_c + o0;
        int8_t *dst = (int8_t *)out_pixel + o0;
        for (i = 0; i < n; i++)
            dst[i] = be_rq_apply(acc[i], m[i], be_rq_bias(op, o0 + i), sh[i], op->zero_point);
        return BE_OK;
    }
    for (i = 0; i < n; i++) {
        be_status s = be_stage_put(op, o0 + i, acc[i], out_pixel);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

/* ---- int8 layers: what the optimized int8 variants share (src/x86/be_*_i8_*.c, src/arm/be_i8_*.c) ---- */

/* Dense / Conv2d with int8 weights over u8 / i8 codes: any zero point and groups, a threshold,
 * score, requant or accumulator stage (the layers the int8 variants take; docs/kernels.md "int8
 * layers"; the accumulator stage goes through be_stage_put_block). A stage added later runs ref
 * until the variants learn it. */
static inline int be_op_is_int8_layer(const be_op *op)
{
    return (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) && op->weight_kind == BE_WK_INT8 &&
           (op->in.kind == BE_KIND_U8 || op->in.kind == BE_KIND_I8) &&
           (op->stage == BE_STAGE_THRESHOLD || op->stage == BE_STAGE_SCORE || op->stage == BE_STAGE_REQUANT ||
            op->stage == BE_STAGE_ACC);
}

/* Bytes of scratch a Conv2d over codes has (docs/format.md §6): align16(KH * KW * C * 2). Kernels
 * use this, not op->scratch_bytes (which hand-built test ops may leave 0). */
static inline uint32_t be_int8_scratch_bytes(const be_op *op)
{
    return (op->kh * op->kw * op->in.pixel_bytes * 2u + 15u) & ~15u;
}

#endif /* BE_KERNELS_H */
