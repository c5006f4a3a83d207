/*
 * binedge.h -- the public API of the binedge C runtime (C99, no malloc, no global mutable state).
 *
 * The runtime runs a .bnm blob (docs/format.md, version 2) -- the deployment graph of a
 * binarized network, a typed DAG of integer ops (docs/graph.md) -- exactly as the numpy
 * reference executor (binedge/reference.py) does: integer scores, bit for bit. This header is
 * the only documentation of the C API.
 *
 * Usage:
 *
 *     be_model model;                          // caller-allocated (static, stack or wherever)
 *     be_interpreter interp;
 *     static uint8_t arena[ARENA] __attribute__((aligned(16)));
 *     be_status st = be_model_init(&model, blob, blob_size);    // validates the whole blob
 *     if (st == BE_OK) st = be_prepare(&interp, &model, arena, sizeof arena, NULL);
 *     if (st == BE_OK) st = be_invoke(&interp, input, scores);  // scores: int32[classes]
 *     if (st != BE_OK) printf("binedge: %s\n", be_status_str(st));
 *
 * A recurrent model (be_model_is_recurrent: a character LSTM) runs one time step per be_invoke:
 *
 *     for (t = 0; t < n; t++)                  // input: one character id; scores: the next one's
 *         st = be_invoke(&interp, &ids[t], scores);
 *     be_reset(&interp);                       // a new sequence: the LSTM state back to zero
 *
 * Lifetimes: the blob must stay valid (and unchanged) while the model is used: weights are
 * read in place. The model must outlive every interpreter prepared on it; the arena belongs to
 * one interpreter. Nothing is allocated; there is no global mutable state, so independent
 * models / interpreters may run on different threads. One interpreter must not be invoked from
 * two threads at once (it writes its arena).
 *
 * Memory:
 *   - blob: must start at a 4-byte aligned address (16 recommended; every section and tensor
 *     is 16-byte aligned inside the blob, so a 16-aligned blob gives 16-aligned weights).
 *   - arena: be_model_arena_size(m) bytes, 16-byte aligned, owned by the caller. The number is
 *     fixed by the model: every intermediate value and every op's scratch has an offset in it,
 *     planned at export over the values' lifetimes (greedy by size) and stored in the blob;
 *     be_model_init proves the plan safe (every region inside the arena, no two regions that
 *     are live at the same op overlapping) before anything runs (docs/format.md §6).
 *   - input: the caller's buffer of be_model_input_bytes(m) bytes (uint8 or int8 codes, HWC
 *     order), any alignment; scores: the caller's int32 buffer of be_model_class_count(m)
 *     entries (4-byte aligned). Neither is ever part of the arena.
 *   - recurrent models (LSTM ops, be_model_is_recurrent): each LSTM op keeps its state (int32
 *     c[H], then int8 h[H] at offset align16(4 H)) in its own arena region, live for the whole
 *     graph. The state persists from one be_invoke to the next (one invoke = one time step);
 *     be_prepare and be_reset zero it. Do not write the arena between invokes.
 *   - be_model holds a decoded copy of every op: sizeof(be_model) is about 190 * BE_MAX_OPS bytes
 *     (12 KiB on 32-bit targets with the default 64 ops; build with -DBE_MAX_OPS=16 for small
 *     RAM), be_interpreter about 4 * BE_MAX_OPS + 24 bytes. Both may live in .bss or on the stack.
 *
 * Host requirements: a little-endian CPU (words are read in place; checked at init), CHAR_BIT
 * 8, two's complement int32_t (guaranteed by <stdint.h>). No floating point is used.
 */
#ifndef BINEDGE_H
#define BINEDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum number of ops in a model. Override with -DBE_MAX_OPS=n when building the runtime
 * AND every file that includes this header (be_model's size depends on it). */
#ifndef BE_MAX_OPS
#define BE_MAX_OPS 64
#endif

/* Limits of every geometry field a blob may hold (docs/format.md §7; binedge.graph checks the
 * same ones). The loader refuses anything beyond them before doing arithmetic with it, so every
 * size a kernel derives from a validated op fits comfortably in 32 bits:
 *   spatial sizes H, W, kernel and stride sizes  1 .. BE_MAX_DIM
 *   channels / features (also after Flatten)      1 .. BE_MAX_CHANNELS
 *   Conv2d padding of each side                   0 .. kernel size - 1 (every window overlaps
 *                                                 the input: no output is all padding)
 *   thresholds per channel L (unsigned planes)    1 .. BE_MAX_LEVELS (at most 8 bit-planes)
 *   every value (one sample), and every Conv2d input with its padding, below 2^31 bytes;
 *   every dot product length K below 2^31, and no accumulator or score beyond int32 */
#define BE_MAX_DIM 65535u
#define BE_MAX_CHANNELS 16777216u
#define BE_MAX_LEVELS 255u

/* More limits of the graph (docs/graph.md): inputs of one Concat, requantization shifts. */
#define BE_MAX_CONCAT 16u
#define BE_MAX_SHIFT 62

/* Value indices the ops of a model may read, in all (the operand table); override with
 * -DBE_MAX_OPERANDS=n like BE_MAX_OPS. */
#ifndef BE_MAX_OPERANDS
#define BE_MAX_OPERANDS (2 * BE_MAX_OPS + 16)
#endif

/* The .bnm format version this runtime reads (docs/format.md), and its magic bytes. Version 1
 * blobs (linear chains, binedge < 0.3) are refused with BE_ERR_VERSION: re-export them. */
#define BE_FORMAT_VERSION 2u
#define BE_MAGIC "BNM1"

/* Status codes. Every function that can fail returns one; BE_OK is 0. */
typedef enum be_status {
    BE_OK = 0,
    BE_ERR_ARG = 1,              /* NULL pointer, bad index, uninitialised model / interpreter */
    BE_ERR_MAGIC = 2,            /* not a .bnm blob (magic bytes differ) */
    BE_ERR_VERSION = 3,          /* a .bnm blob of another format version (or header size) */
    BE_ERR_TRUNCATED = 4,        /* the buffer is shorter than the header / the stored total size */
    BE_ERR_CRC = 5,              /* CRC32 mismatch: the blob is corrupt */
    BE_ERR_BOUNDS = 6,           /* a section or tensor offset / size lies outside the blob or overlaps */
    BE_ERR_ALIGN = 7,            /* misaligned section, tensor, blob pointer or arena pointer */
    BE_ERR_FORMAT = 8,           /* a malformed field: unknown code, nonzero reserved or padding bits,
                                    direction not +-1, decreasing thresholds, bad string table, ... */
    BE_ERR_SHAPE = 9,            /* tensor dtypes / shapes or the value chain do not fit the ops */
    BE_ERR_UNSUPPORTED = 10,     /* valid, but not supported here: too many ops (BE_MAX_OPS),
                                    no kernel for an op in this build (a kernel subset),
                                    big-endian host, unknown or unavailable forced kernel variant */
    BE_ERR_ARENA_TOO_SMALL = 11, /* the arena given to be_prepare is smaller than required */
    BE_ERR_OVERFLOW = 12,        /* a size does not fit 32 bits, an accumulator could exceed int32
                                    (be_model_init), or a score does not fit int32 (be_invoke) */
    BE_ERR_INPUT = 13            /* be_invoke: an input value is out of range (a recurrent model's
                                    character id not below its vocabulary); nothing was written */
} be_status;

/* A short English description of a status ("ok", "blob CRC32 mismatch ...", ...); never NULL. */
const char *be_status_str(be_status status);

/* ---------------------------------------------------------------------------------- codes */
/* These mirror docs/format.md. */

enum { BE_KIND_U8 = 1, BE_KIND_BITS = 2, BE_KIND_I32 = 3, BE_KIND_I8 = 4 };       /* value kinds */
enum { BE_DT_U8 = 1, BE_DT_I8 = 2, BE_DT_U32 = 3, BE_DT_I32 = 4, BE_DT_I64 = 5 };  /* tensor dtypes */
enum {
    BE_OP_DENSE = 1, BE_OP_CONV2D = 2, BE_OP_MAXPOOL2D = 3, BE_OP_FLATTEN = 4, BE_OP_AVGPOOL2D = 5,
    BE_OP_ADD = 6, BE_OP_REQUANTIZE = 7, BE_OP_THRESHOLD = 8, BE_OP_CONCAT = 9, BE_OP_RESHAPE = 10,
    BE_OP_MERGE = 11, BE_OP_LSTM = 12
};
#define BE_OP_TYPES 12
enum { BE_WK_NONE = 0, BE_WK_BINARY = 1, BE_WK_INT8 = 2 };                           /* weight kinds */
enum {                                                                              /* output stages */
    BE_STAGE_NONE = 0, BE_STAGE_THRESHOLD = 1, BE_STAGE_SCORE = 2, BE_STAGE_REQUANT = 3, BE_STAGE_ROUND = 4,
    BE_STAGE_ACC = 5
};
enum { BE_ENC_NONE = 0, BE_ENC_SIGN = 1, BE_ENC_UNSIGNED = 2, BE_ENC_ACC = 3 }; /* encodings (ACC: an i32
                                                                              accumulator value) */

/* ISA feature bits (be_options.isa, be_isa_detect, kernel requirements). */
#define BE_ISA_POPCNT          0x0001u /* x86 POPCNT */
#define BE_ISA_AVX2            0x0002u /* x86 AVX2 */
#define BE_ISA_AVX512_VPOPCNT  0x0004u /* x86 AVX-512 F + BW + VPOPCNTDQ */
#define BE_ISA_AVX512_BITALG   0x0008u /* x86 AVX-512 BITALG */
#define BE_ISA_NEON            0x0100u /* ARM NEON (aarch64, armv7 -mfpu=neon) */
#define BE_ISA_ARM_DSP         0x0200u /* Cortex-M DSP extension (M4, M7, M33) */
#define BE_ISA_ARM_MVE         0x0400u /* Cortex-M Helium (M55) */
#define BE_ISA_DETECT          0xFFFFFFFFu /* be_options.isa: ask be_isa_detect() */

/* ---------------------------------------------------------------------------------- types */

/* One stored value (one sample; the batch axis is not part of it). Filled in by the loader. */
typedef struct be_value {
    uint8_t kind;         /* BE_KIND_U8, BE_KIND_I8, BE_KIND_BITS or BE_KIND_I32 */
    uint8_t rank;         /* 1: shape (c,); 3: shape (h, w, c) */
    uint8_t encoding;     /* bits: BE_ENC_SIGN or BE_ENC_UNSIGNED; otherwise BE_ENC_NONE */
    uint8_t planes;       /* bits: bit-planes P (sign: 1); otherwise 1 */
    uint32_t h, w, c;     /* rank 1: h = w = 1 */
    uint32_t cw;          /* bits: words per plane row, be_words_for(c); otherwise 0 */
    uint32_t pixel_bytes; /* bytes of one (y, x) position: P * cw * 4, c (u8 / i8) or 4 * c */
    uint32_t nbytes;      /* h * w * pixel_bytes; bits are stored (h, w, P, cw) words */
    int32_t zero_point;   /* u8 / i8: the code of real 0 (what convolutions pad with); else 0 */
    uint32_t offset;      /* arena offset; BE_NO_OFFSET for the input and the scores */
    uint32_t bound;       /* i32 accumulators (encoding BE_ENC_ACC): the largest |value|; else 0 */
} be_value;

#define BE_NO_OFFSET 0xFFFFFFFFu

/* One decoded op. Pointers point into the blob (weights are read in place). */
typedef struct be_op {
    uint8_t type;          /* BE_OP_* */
    uint8_t weight_kind;   /* Dense / Conv2d: BE_WK_BINARY or BE_WK_INT8; LSTM: BE_WK_BINARY */
    uint8_t stage;         /* Dense / Conv2d: BE_STAGE_THRESHOLD, _SCORE or _REQUANT; Threshold: _THRESHOLD */
    uint8_t encoding;      /* threshold stage: BE_ENC_SIGN or BE_ENC_UNSIGNED */
    uint32_t in_ch;        /* Dense: in_features; Conv2d: in_channels; LSTM: I (one-hot: the vocabulary V) */
    uint32_t out_ch;       /* Dense: out_features; Conv2d: out_channels; LSTM: H (cells) */
    uint32_t kh, kw;       /* Conv2d / MaxPool2d / AvgPool2d kernel */
    uint32_t sh, sw;       /* Conv2d / MaxPool2d / AvgPool2d stride */
    uint32_t pt, pb, pl, pr; /* Conv2d padding: top, bottom, left, right */
    uint32_t groups;       /* Conv2d: groups (>= 1); else 0 */
    uint32_t levels;       /* threshold stages: thresholds per channel L */
    int32_t shift;         /* score: logit = score / 2^shift; Add / AvgPool2d / Requantize: the
                              rounding shift s (docs/graph.md); LSTM: c_frac (7 .. 14) */
    int32_t zero_point;    /* i8 output of a requant stage, Add, AvgPool2d, Requantize */
    int32_t mult_a, mult_b; /* Add: M_a, M_b; AvgPool2d / Requantize: M (mult_a) */
    uint32_t k;            /* Dense / Conv2d: dot length (in_features or kh * kw * in_channels / groups);
                              LSTM: H (the recurrent dot) */
    uint32_t w_row_bytes;  /* Dense: bytes of one weight row; Conv2d: of one (o, ky, kx) row; LSTM: of
                              one Wh row, 4 words(H) */
    const void *weights;   /* binary: uint32 words (O, words(K)) / (O, KH, KW, words(C / g));
                              int8: int8 (O, K) / (O, KH, KW, C / g);
                              LSTM: Wh, uint32 (4H, words(H)), row j H + c for gate j (i, f, g, o), cell c */
    const void *stage_a;   /* threshold: int8 direction (O); score / requant: int32 multiplier (O);
                              Merge: int32 multipliers of input a (C); LSTM: Wx, uint32 (I, words(4H))
                              transposed for a one-hot (u8) input, else (4H, words(I)) */
    const void *stage_b;   /* threshold: int32 thresholds (O, L); score: int32 offset (O);
                              requant: int64 bias (O) (read with be_rd_i64: 4-byte aligned only);
                              Merge: int32 multipliers of input b (C); LSTM: int32 (2, 4): Mh_j, Mx_j */
    const void *stage_c;   /* requant: uint8 shift (O); Merge: int64 bias (C); LSTM: int32 B (4H); else NULL */
    const void *stage_d;   /* Merge: int8 direction (C) of its threshold stage, or uint8 shifts (C);
                              LSTM: uint8 gate shifts s_j (4), each 1 .. 30 */
    const void *stage_e;   /* Merge: int64 thresholds (C, L) of its threshold stage; else NULL */
    uint32_t n_inputs;     /* values read: 1; Add, Merge 2; Concat 2 .. BE_MAX_CONCAT */
    uint32_t first_operand; /* they are model->operands[first_operand .. + n_inputs) */
    uint32_t scratch_offset, scratch_bytes; /* the op's scratch in the arena (bytes 0: none); LSTM:
                              its persistent state, align16(4H) + align16(H) bytes */
    uint32_t last_use;     /* the last op that reads this op's output (its lifetime in the arena) */
    be_value in, out;      /* the op's first input value and its output value */
} be_op;

/* A loaded model. Caller-allocated; filled in by be_model_init; treat as read-only. */
typedef struct be_model {
    uint32_t ready;            /* set by a successful be_model_init */
    const uint8_t *blob;       /* the blob (not copied) */
    uint32_t total_size;       /* blob bytes (from the header) */
    uint32_t arena_size;       /* required arena bytes (the stored plan, proved safe) */
    int32_t output_shift;      /* logit = score / 2^output_shift */
    uint32_t n_ops, n_tensors, n_class_names, n_operands;
    const char *strings;       /* class names then op names, each NUL-terminated */
    uint32_t strings_size;
    const char *metadata;      /* JSON (UTF-8, not NUL-terminated) */
    uint32_t metadata_size;
    be_value input, output;    /* value 0 (u8 / i8 input) and the last value (i32 scores) */
    uint16_t operands[BE_MAX_OPERANDS]; /* value indices read by the ops (value i + 1 = ops[i].out) */
    be_op ops[BE_MAX_OPS];
} be_model;

/* What the kernels of multi-input ops (Add, Concat) receive as `in`: every input's data and
 * value, in operand order. Single-input ops get the input's data pointer itself. */
typedef struct be_inputs {
    uint32_t n;
    const void *data[BE_MAX_CONCAT];
    const be_value *value[BE_MAX_CONCAT];
} be_inputs;

/* Options of be_prepare. Initialise with be_options_default. */
typedef struct be_options {
    /* NULL, "" or "auto": for each op the first kernel of the table whose ISA is available
     *   and that supports the op (optimized variants first, "ref" last);
     * "ref": the reference kernels everywhere;
     * another variant name (e.g. "avx2"): that variant for every op it supports, "ref" for the
     *   rest; BE_ERR_UNSUPPORTED if no kernel has that name or its ISA is not available.
     * The host harness / Python binding read the BINEDGE_KERNEL environment variable and pass
     * it here; the core never reads the environment. */
    const char *kernel;
    /* ISA features the kernels may use: BE_ISA_DETECT (default) = be_isa_detect(); otherwise
     * a mask of BE_ISA_* bits (use it to restrict dispatch, e.g. 0 = portable C only). */
    uint32_t isa;
} be_options;

struct be_kernel; /* one entry of the kernel table (src/be_kernels.h) */

/* Optional profiling hook (see be_interpreter_set_op_hook): be_invoke calls it with end = 0
 * right before op `op_index` runs and with end = 1 right after it returned (also when the op
 * failed). `ctx` is the pointer given with the hook. */
typedef void (*be_op_hook)(void *ctx, int op_index, int end);

/* A prepared interpreter. Caller-allocated; filled in by be_prepare. */
typedef struct be_interpreter {
    uint32_t ready;                           /* set by a successful be_prepare */
    const be_model *model;
    uint8_t *arena;                           /* the caller's arena: values and scratch at planned offsets */
    be_op_hook op_hook;                       /* NULL (be_prepare's default) or a profiling hook */
    void *op_hook_ctx;                        /* passed to op_hook */
    const struct be_kernel *kernels[BE_MAX_OPS]; /* selected kernel of every op */
} be_interpreter;

/* ---------------------------------------------------------------------------------- model */

/* Validate a blob of `size` bytes at `blob` and decode it into *m. Checks, in this order:
 * arguments, magic, version and header size, truncation (size >= stored total size; extra
 * bytes after the blob are ignored, e.g. a flash partition), blob alignment, CRC32, reserved
 * fields, section offsets/sizes/alignment, every tensor record, the string table, every op's
 * parameters, operands and tensors (dtype, shape, padding bits of packed weights zero,
 * directions +-1, thresholds non-decreasing, shifts and zero points in range), every value
 * record against what its op produces (exactly as binedge.graph.infer), the limits of
 * BE_MAX_* (every field bounded before any arithmetic), that no accumulator or score can leave
 * int32 and no requantization int64, the DAG rules (every value but the scores is read) and
 * the arena plan. Never reads outside [blob, blob + size). On error *m is left not ready. */
be_status be_model_init(be_model *m, const void *blob, size_t size);

/* Arena bytes be_prepare needs for this model (0 for an uninitialised model). */
size_t be_model_arena_size(const be_model *m);

/* Input: bytes of one sample (uint8 or int8 codes, HWC); rank (1 or 3) and dims (h, w, c or
 * f, 0, 0); its kind (BE_KIND_U8 or BE_KIND_I8) and zero point. */
size_t be_model_input_bytes(const be_model *m);
int be_model_input_shape(const be_model *m, uint32_t dims[3]);
int be_model_input_kind(const be_model *m);
int32_t be_model_input_zero_point(const be_model *m);

/* Number of classes (int32 scores per sample) and the fixed-point shift of the scores. */
uint32_t be_model_class_count(const be_model *m);
int32_t be_model_output_shift(const be_model *m);

/* 1 if the model has an LSTM op (it keeps state between be_invoke calls: one call is one time
 * step, be_reset starts a new sequence), else 0 (also for a model that is not ready). */
int be_model_is_recurrent(const be_model *m);

/* Number of ops; name of class i / op i (NUL-terminated, in the blob) or NULL if absent. */
uint32_t be_model_op_count(const be_model *m);
const char *be_model_class_name(const be_model *m, uint32_t i);
const char *be_model_op_name(const be_model *m, uint32_t i);

/* The metadata JSON (not NUL-terminated) and its size; NULL if the model is not ready. */
const char *be_model_metadata(const be_model *m, size_t *size);

/* ---------------------------------------------------------------------------- interpreter */

/* Default options: kernel NULL (auto), isa BE_ISA_DETECT. */
void be_options_default(be_options *opt);

/* Prepare *it to run model m with the caller's arena: checks the arena (16-byte aligned,
 * at least be_model_arena_size(m) bytes; may be NULL if that is 0), selects a kernel per op and
 * zeroes the state of every LSTM op (as be_reset). opt may be NULL (defaults). */
be_status be_prepare(be_interpreter *it, const be_model *m, void *arena, size_t arena_size,
                     const be_options *opt);

/* Run one sample: input = be_model_input_bytes(m) bytes (uint8 codes, or int8 codes as bytes),
 * scores = class_count int32. Compute only. (BE_ERR_OVERFLOW if a score did not fit int32:
 * be_model_init proves that it cannot happen.) A recurrent model runs one time step: its input
 * is one character id, which must be below the vocabulary of the LSTM that reads it (else
 * BE_ERR_INPUT before anything is written: the state is unchanged); the LSTM state advances. */
be_status be_invoke(be_interpreter *it, const uint8_t *input, int32_t *scores);

/* Zero the state of every LSTM op of a prepared interpreter (start a new sequence). BE_OK, and
 * nothing to do, for a model without LSTM ops; BE_ERR_ARG if it is NULL or not prepared. */
be_status be_reset(be_interpreter *it);

/* Run n samples stored back to back (inputs n * input_bytes, scores n * class_count), in order
 * (a recurrent model: n successive time steps, its state carried from one to the next).
 * Stops at the first error (the samples before it have run). */
be_status be_invoke_batch(be_interpreter *it, const uint8_t *inputs, size_t n, int32_t *scores);

/* Name of the kernel variant selected for op i ("ref", "avx2", ...) or NULL. */
const char *be_interpreter_kernel_name(const be_interpreter *it, uint32_t i);

/* Install (or, with hook NULL, remove) a per-op profiling hook on a prepared interpreter:
 * be_invoke then calls hook(ctx, i, 0) before and hook(ctx, i, 1) after each op i (e.g. to
 * read a cycle counter; the firmware harness of `binedge export --target` does). be_prepare
 * resets it to NULL: without a hook be_invoke does exactly what it did before. The hook runs
 * inside be_invoke, so be_invoke stays compute only as long as the hook is; it must not call
 * be_invoke on the same interpreter. It lives in the interpreter, not in be_options, so that
 * be_options keeps its layout (bindings mirror it). BE_ERR_ARG if it is not prepared. */
be_status be_interpreter_set_op_hook(be_interpreter *it, be_op_hook hook, void *ctx);

/* ------------------------------------------------------------------------------- kernels */

/* ISA features of the running CPU (BE_ISA_* bits): x86 from CPUID (GCC/Clang), ARM from the
 * compiler's target macros. 0 on other hosts. */
uint32_t be_isa_detect(void);

/* The kernel table: number of entries; entry i's variant name, op type (BE_OP_*) and required
 * ISA bits. Returns NULL if i is out of range. */
size_t be_kernel_count(void);
const char *be_kernel_info(size_t i, int *op_type, uint32_t *isa);

/* Kernel families (docs/firmware.md "Kernel subset"): the kernels of a build come in families
 * (binary Dense, Conv2d on u8 codes, Add, ...). be_model_kernel_families returns the families
 * op i of m may use, bit f set for family f (0 if m is not loaded or i out of range); a build
 * with -DBE_KERNEL_SUBSET compiles only the families given as -DBE_KEEP_<name>=1, where <name>
 * is be_kernel_family_name(f) ("CONV2D_BIN"; NULL if f is not a family, 1 <= f < 32). An op
 * whose families were left out gets the reference kernel of its type if that was kept, else
 * be_prepare returns BE_ERR_UNSUPPORTED. */
uint32_t be_model_kernel_families(const be_model *m, uint32_t i);
const char *be_kernel_family_name(int f);

/* ---------------------------------------------------------------------------------- misc */

/* zlib-compatible CRC32 (polynomial 0xEDB88320, reflected, init/final xor 0xFFFFFFFF):
 * be_crc32(0, p, n) == zlib.crc32(p[:n]); chain calls by passing the previous result. */
uint32_t be_crc32(uint32_t crc, const void *data, size_t size);

/* sizeof(be_model) / sizeof(be_interpreter) as compiled into the library (for bindings). */
size_t be_model_sizeof(void);
size_t be_interpreter_sizeof(void);

#ifdef __cplusplus
}
#endif

#endif /* BINEDGE_H */
