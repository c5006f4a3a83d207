/* test_variants.c -- every optimized kernel variant of this build against the reference kernel.
 *
 * For each entry of the kernel table that is not "ref", whose ISA bits the CPU has
 * (be_isa_detect) and whose supports() accepts the op, the op is run by the variant and by the
 * "ref" kernel of its type on the same deterministic pseudo-random data (xorshift32, fixed
 * seed: no files) and the outputs (and statuses) must be identical, byte for byte. The grid:
 *   Dense:   K = 1, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000 (and 1536, 1537, 1600,
 *            1601, 2000: "dsp" unrolls rows of up to 50 words); odd output counts (and 32, 64);
 *            sign / unsigned-plane / u8 inputs; binary / int8 weights; sign, unsigned (L = 1, 3)
 *            threshold and score stages; short rows (K <= 128) with every stage and scores
 *            that overflow int32;
 *   Conv2d:  kernel 1 / 3 / 5 (and 3x1), stride 1 / 2, padding 0 / 1 / 2 (and asymmetric),
 *            channels 1, 3, 31, 32, 33, 65; the same inputs and threshold stages;
 *   MaxPool2d and Flatten on sign and unsigned bit-planes (P = 1, 2, 3, 8);
 *   the elementwise and pooling ops (test_elementwise): Add, Requantize, Threshold, AvgPool2d,
 *            MaxPool2d on codes, Merge, Concat at the edges of what the loader accepts;
 *   LSTM (test_lstm): hidden 1 .. 128 (1 to 4 words), one-hot vocabularies 1 .. 256 and int8 inputs, several steps
 *            each (the state carried), saturating constants, out-of-vocabulary ids.
 * Buffers are static and small (Cortex-M0: 16 KiB RAM); a case that would not fit gets fewer
 * output channels. Prints per-variant counts, the elementwise ones per op ("test_variants ew:") and
 * "test_variants: N checks, M failures".
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "be_lstm.h"
#include "be_test.h"
#include "be_test_values.h"

#if defined(__ARM_ARCH_6M__) /* Cortex-M0: 16 KiB RAM shared with the other unit tests */
#define W_WORDS 640u   /* weights */
#define IO_WORDS 160u  /* input / each output */
#define OUT_WORDS IO_WORDS
#define SCRATCH_WORDS 96u
#define MAX_CH 72u
#else
#define W_WORDS 2048u
#define IO_WORDS 512u
#define OUT_WORDS 8192u /* the outputs: room for the int32 accumulators of 14 x 14 x 40 */
#define SCRATCH_WORDS 256u
#define MAX_CH 96u
#endif

static uint32_t weights[W_WORDS];
static uint32_t input[IO_WORDS];
static uint32_t out_ref[OUT_WORDS], out_var[OUT_WORDS];
/* The output bytes a case may have: IO_WORDS words (the grids were sized for that), raised to the
 * whole buffers by the blocks that need large outputs (not on the Cortex-M0, whose RAM has no
 * byte to spare) */
#if OUT_WORDS > IO_WORDS
#define LARGE_OUTPUTS 1
static size_t out_limit = IO_WORDS * 4u;
#else
#define LARGE_OUTPUTS 0
#define out_limit ((size_t)IO_WORDS * 4u)
#endif
static uint32_t scratch[SCRATCH_WORDS];
static int8_t stage_a8[MAX_CH];
static int32_t stage_a32[MAX_CH];
static int32_t stage_b[MAX_CH * 3u];

static uint32_t rng = 0x9E3779B9u;
static uint32_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

#define MAX_VARIANTS 16
static const char *vnames[MAX_VARIANTS];
static unsigned vruns[MAX_VARIANTS];
static unsigned n_cases;

/* Runs of the elementwise / pooling variants per (op, variant slot), printed on their own line
 * ("test_variants ew: add/word=N ..."; tests/test_target_matrix.py checks them per board). Bytes,
 * saturating at 255: the Cortex-M0's RAM has no room for more. */
#define EW_SLOTS 6
static const char *const ew_slot_name[EW_SLOTS] = {"word", "w32", "dsp", "mve", "neon", "avx2"};
static uint8_t ew_runs[BE_OP_TYPES + 1][EW_SLOTS];
static const char *const ew_op_name[BE_OP_TYPES + 1] = {"", "dense", "conv2d", "maxpool", "flatten", "avgpool", "add",
                                                     "requantize", "threshold", "concat", "reshape", "merge",
                                                     "lstm"};

static void count_ew(int type, const char *name)
{
    int i;
    for (i = 0; i < EW_SLOTS; i++)
        if (strcmp(ew_slot_name[i], name) == 0 && ew_runs[type][i] < 255u)
            ew_runs[type][i]++;
}

static void count_run(const char *name)
{
    int i;
    for (i = 0; i < MAX_VARIANTS && vnames[i] != NULL; i++)
        if (strcmp(vnames[i], name) == 0)
            break;
    if (i == MAX_VARIANTS)
        return;
    vnames[i] = name;
    vruns[i]++;
}

/* Random contents for a value: u8 bytes, or bit rows with zero padding bits. */
static void fill_value(const be_value *v, void *data)
{
    uint32_t i, n = v->h * v->w, j, p;
    if (v->kind != BE_KIND_BITS) {
        uint8_t *b = (uint8_t *)data;
        for (i = 0; i < v->nbytes; i++) {
            uint32_t r = xs();
            b[i] = (uint8_t)((r & 0x700u) == 0u ? ((r & 1u) ? 255u : 0u) : r >> 24);
        }
        return;
    }
    for (i = 0; i < n; i++)
        for (p = 0; p < v->planes; p++)
            for (j = 0; j < v->cw; j++) {
                be_word *row = (be_word *)data + ((size_t)i * v->planes + p) * v->cw;
                row[j] = xs() & (j + 1u == v->cw ? be_last_word_mask(v->c) : 0xFFFFFFFFu);
            }
}

/* Random weights: `rows` rows of `n` elements (binary: packed, zero padding; int8 bytes). */
static void fill_weights(int kind, uint32_t rows, uint32_t n)
{
    uint32_t r, j;
    if (kind == BE_WK_INT8) {
        int8_t *b = (int8_t *)weights;
        for (r = 0; r < rows * n; r++)
            b[r] = (int8_t)(int32_t)((xs() >> 8) % 256u - 128u);
        return;
    }
    for (r = 0; r < rows; r++)
        for (j = 0; j < be_words_for(n); j++)
            weights[r * be_words_for(n) + j] = xs() & (j + 1u == be_words_for(n) ? be_last_word_mask(n) : 0xFFFFFFFFu);
}

static void i8_requant(be_op *op, uint32_t base, int high);

/* Output stage: 0 sign threshold, 1 unsigned L = 1, 2 unsigned L = 3, 3 score (Dense only),
 * 4 requant (i8_requant's modes), 5 accumulators (AccStage). Thresholds are drawn around 0 within
 * +-spread (acc of random data is of that order), with a constant channel at INT32_MIN /
 * INT32_MAX, channels at +-2^20 and a repeated threshold. */
static int score_overflow; /* set_stage: score multipliers and offsets that overflow int32 */

static int rq_split16; /* set_stage: requant in i8_requant's split-16 mode (high = 3) */

static void set_stage(be_op *op, int stage, uint32_t spread)
{
    uint32_t c, l;
    if (stage == 4) {
        i8_requant(op, n_cases, rq_split16 ? 3 : n_cases % 4u == 3u ? 1 : n_cases % 4u == 1u ? 2 : 0);
        return;
    }
    if (stage == 5) {
        op->stage = BE_STAGE_ACC;
        op->encoding = BE_ENC_NONE;
        op->levels = 0u;
        op->zero_point = 0;
        op->stage_a = op->stage_b = op->stage_c = NULL;
        return;
    }
    op->stage = stage == 3 ? BE_STAGE_SCORE : BE_STAGE_THRESHOLD;
    op->encoding = stage == 0 ? BE_ENC_SIGN : stage == 3 ? BE_ENC_NONE : BE_ENC_UNSIGNED;
    op->levels = stage == 3 ? 0u : stage == 2 ? 3u : 1u;
    op->shift = 0;
    if (stage == 3) {
        for (c = 0; c < op->out_ch; c++) {
            stage_a32[c] = (int32_t)(xs() % 11u) - 5;
            stage_b[c] = (int32_t)(xs() % 2001u) - 1000;
            if (score_overflow && c % 3u != 2u) { /* scores that leave int32 (BE_ERR_OVERFLOW, wrapped) */
                stage_a32[c] = (c & 1u) ? (1 << 29) + (int32_t)c : -(1 << 29) - (int32_t)c;
                stage_b[c] = (c & 2u) ? INT32_MAX - (int32_t)c : INT32_MIN + (int32_t)c;
            }
        }
        op->stage_a = stage_a32;
        op->stage_b = stage_b;
        return;
    }
    for (c = 0; c < op->out_ch; c++) {
        int32_t *t = stage_b + (size_t)c * op->levels;
        stage_a8[c] = (xs() & 1u) ? -1 : 1;
        for (l = 0; l < op->levels; l++) {
            int32_t v = (int32_t)(xs() % (2u * spread + 1u)) - (int32_t)spread;
            uint32_t m;
            for (m = l; m > 0u && t[m - 1u] > v; m--) /* insertion: keep them sorted */
                t[m] = t[m - 1u];
            t[m] = v;
        }
        if (c % 7u == 5u)
            t[0] = t[op->levels - 1u];
        if (c % 11u == 3u)
            for (l = 0; l < op->levels; l++)
                t[l] = (c & 1u) ? INT32_MAX : INT32_MIN;
        if (c % 13u == 7u) /* far outside [-K - 1, K + 1] but not a sentinel (the ARM table clamps) */
            for (l = 0; l < op->levels; l++)
                t[l] = ((c & 2u) ? (1 << 20) : -(1 << 20)) + (int32_t)l;
    }
    op->stage_a = stage_a8;
    op->stage_b = stage_b;
}

static void set_out(be_op *op, uint32_t rank, uint32_t h, uint32_t w)
{
    if (op->stage == BE_STAGE_SCORE) {
        be_test_set_value(&op->out, BE_KIND_I32, rank, h, w, op->out_ch, BE_ENC_NONE, 1u);
    } else if (op->stage == BE_STAGE_ACC) {
        be_test_set_value(&op->out, BE_KIND_I32, rank, h, w, op->out_ch, BE_ENC_ACC, 1u);
    } else if (op->stage == BE_STAGE_REQUANT) {
        be_test_set_value(&op->out, BE_KIND_I8, rank, h, w, op->out_ch, BE_ENC_NONE, 1u);
        op->out.zero_point = op->zero_point;
    } else
        be_test_set_value(&op->out, BE_KIND_BITS, rank, h, w, op->out_ch, op->encoding,
                          op->encoding == BE_ENC_SIGN ? 1u : (op->levels >= 2u ? 2u : 1u));
}

/* Run every variant that dispatch could pick for *op (ISA available, supports() accepts it, and
 * a kernel written for format version 1 only on a v1 op) on the input at `in` (filled) with the
 * scratch `scr` of `scr_bytes`, and compare with ref. */
static void check_op_at(const be_op *op, const void *in, void *scr, size_t scr_bytes, const char *what)
{
    const uint32_t isa = be_isa_detect();
    const be_kernel *ref = be_test_ref_kernel(op->type);
    be_status st_ref;
    /* the output and the 256 bytes the overrun check reads after it (a byte loop on picolibc:
     * not the whole buffers) */
    const size_t fill = op->out.nbytes + 256u < sizeof out_ref ? op->out.nbytes + 256u : sizeof out_ref;
    size_t i;
    n_cases++;
    memset(out_ref, 0xA5, fill);
    st_ref = ref->fn(op, in, out_ref, scr);
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        be_status st;
        if (k == ref || strcmp(k->name, "ref") == 0 || k->op_type != (int)op->type || !be_kernel_usable(k, op, isa))
            continue;
        memset(out_var, 0xA5, fill);
        memset(scr, 0x5A, scr_bytes);
        st = k->fn(op, in, out_var, scr);
        count_run(k->name);
        if (op->type != BE_OP_DENSE && op->type != BE_OP_CONV2D)
            count_ew(op->type, k->name);
        if (!(score_overflow && st_ref == BE_ERR_OVERFLOW && st == BE_OK)) /* be_kernels.h: a variant may */
            CHECK_EQ(st, st_ref); /* skip the overflow test the loader makes redundant; values still equal */
        be_test_checks++;
        if (memcmp(out_ref, out_var, op->out.nbytes) != 0) {
            be_test_failures++;
            printf("MISMATCH variant %s on %s (in %u x %u x %u, out %u x %u x %u)\n", k->name, what,
                   (unsigned)op->in.h, (unsigned)op->in.w, (unsigned)op->in.c, (unsigned)op->out.h,
                   (unsigned)op->out.w, (unsigned)op->out.c);
        }
        { /* nothing written past the output (the buffer's bytes after it keep their fill) */
            const uint8_t *b = (const uint8_t *)out_var;
            size_t j;
            be_test_checks++;
            for (j = op->out.nbytes; j < sizeof out_var && j < op->out.nbytes + 256u; j++)
                if (b[j] != 0xA5u) {
                    be_test_failures++;
                    printf("OVERRUN variant %s on %s: byte %u past the output written\n", k->name, what,
                           (unsigned)(j - op->out.nbytes));
                    break;
                }
        }
    }
}

static void check_op(const be_op *op, const char *what)
{
    check_op_at(op, input, scratch, sizeof scratch, what);
}

/* ---------------------------------------------------------------------------------- dense */

/* Bit-planes P of the unsigned (in_kind 1) inputs of dense_case / conv_case: 2 in the main grids,
 * 1, 3 and 8 in the extra passes of test_dense / test_conv. */
static uint32_t unsigned_planes = 2u;

static void dense_case(uint32_t k, uint32_t o, int in_kind, int wk, int stage)
{
    be_op op;
    uint32_t row_words, in_bytes;
    char what[64];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = (uint8_t)wk;
    op.in_ch = k;
    op.k = k;
    if (in_kind == 0)
        be_test_set_value(&op.in, BE_KIND_BITS, 1u, 1u, 1u, k, BE_ENC_SIGN, 1u);
    else if (in_kind == 1)
        be_test_set_value(&op.in, BE_KIND_BITS, 1u, 1u, 1u, k, BE_ENC_UNSIGNED, unsigned_planes);
    else
        be_test_set_value(&op.in, BE_KIND_U8, 1u, 1u, 1u, k, BE_ENC_NONE, 1u);
    in_bytes = op.in.nbytes;
    row_words = wk == BE_WK_BINARY ? be_words_for(k) : (k + 3u) / 4u;
    op.w_row_bytes = wk == BE_WK_BINARY ? be_words_for(k) * 4u : k;
    if (in_bytes > sizeof input || row_words > W_WORDS)
        return;
    while (o > 1u && (o * row_words > W_WORDS || o > MAX_CH || ((stage == 3 || stage == 5) && o * 4u > out_limit)))
        o = o / 2u | 1u;
    op.out_ch = o;
    set_stage(&op, stage, in_kind == 2 ? 40u * k : (in_kind == 1 ? 3u : 1u) * (4u + k / 8u));
    set_out(&op, 1u, 1u, 1u);
    fill_value(&op.in, input);
    if (wk == BE_WK_BINARY)
        fill_weights(wk, o, k);
    else
        fill_weights(wk, 1u, o * k);
    op.weights = weights;
    sprintf(what, "dense K=%u O=%u in%d w%d stage%d", (unsigned)k, (unsigned)o, in_kind, wk, stage);
    check_op(&op, what);
}

static void test_dense(void)
{
    /* the grid, then 1536 / 1537 / 2000: both sides of the DSP kernel's 48-word short-row limit */
    static const uint32_t ks[] = {1, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000, 1536, 1537, 1600, 1601, 2000};
    /* 45, 61, 14, 29: a last 32-channel block of 13, 29, 14 and 29 rows (NEON's partial row groups) */
    static const uint32_t os[] = {1, 3, 33, 7, 65, 32, 5, 64, 9, 45, 61, 14, 29};
    uint32_t i, j, n = 0;
    for (i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        for (j = 0; j < 4u; j++, n++) {
            uint32_t o = os[n % (sizeof os / sizeof os[0])];
            dense_case(ks[i], o, 0, BE_WK_BINARY, (int)j);         /* sign bits, every stage */
            dense_case(ks[i], o, 1, BE_WK_BINARY, (int)(j % 3u) + (j == 3u)); /* unsigned planes */
            if (ks[i] <= 300u)
                dense_case(ks[i], o, 2, j & 1u ? BE_WK_INT8 : BE_WK_BINARY, (int)j); /* u8 pixels */
            if (j >= 2u) { /* requant and accumulator stages (graph v2) on bits */
                dense_case(ks[i], o, 0, BE_WK_BINARY, (int)j + 2);
                dense_case(ks[i], o, 1, BE_WK_BINARY, 7 - (int)j);
            }
        }
    }
    { /* rows of three 128-bit vectors (K 353..384: the aarch64 NEON short-row Dense), sign stage
       * and others, O with and without a partial group of eight */
        static const uint32_t k3[] = {353, 383, 384};
        static const uint32_t o3[] = {64, 45, 7, 256, 33};
        /* score heads of 1..3 whole vectors (aarch64 NEON scores_short): groups of eight rows
         * and the rows past them */
        static const uint32_t kh3[] = {128, 256, 384, 127, 383}, oh3[] = {10, 1, 8, 17};
        for (i = 0; i < sizeof k3 / sizeof k3[0]; i++)
            for (j = 0; j < sizeof o3 / sizeof o3[0]; j++)
                dense_case(k3[i], o3[j], 0, BE_WK_BINARY, j < 3u ? 0 : (int)j);
        for (i = 0; i < sizeof kh3 / sizeof kh3[0]; i++)
            for (j = 0; j < sizeof oh3 / sizeof oh3[0]; j++)
                dense_case(kh3[i], oh3[j], 0, BE_WK_BINARY, 3);
    }
    { /* rows of 1..15 words, whole and with a partial last word (the aarch64 NEON short rows: nw / 4
       * whole vectors and a tail of nw % 4 words gathered across eight rows), over sign bits into
       * sign and score stages and over 2 bit-planes into sign, three-level and score stages
       * (scores also wrapping): under eight rows (one by one), whole groups of eight, a
       * last group of 1..4 rows (one by one) and of 5..7 (the eight rows ending at the last, the
       * first ones counted twice), across a 32-bit output word (37: a group ends in word 1) */
        static const uint32_t on[] = {1, 5, 7, 8, 12, 13, 15, 16, 37, 61, 100, 11, 64};
        uint32_t nw;
        for (nw = 1u; nw <= 15u; nw++)
            for (j = 0; j < sizeof on / sizeof on[0]; j++, n++) {
                const uint32_t k = 32u * nw - (j % 3u == 1u ? 5u * (nw % 4u) + 1u : 0u);
                dense_case(k, on[j], 0, BE_WK_BINARY, j % 2u == 0u ? 0 : 3);
                dense_case(k, on[j], 1, BE_WK_BINARY, (int)(n % 3u) + (n % 3u == 1u)); /* 2 planes: 0, 2, 3 */
                if (j % 4u == 3u) {
                    score_overflow = 1;
                    dense_case(k, on[(j + 5u) % (sizeof on / sizeof on[0])], 0, BE_WK_BINARY, 3);
                    dense_case(k, on[(j + 6u) % (sizeof on / sizeof on[0])], 1, BE_WK_BINARY, 3);
                    score_overflow = 0;
                }
            }
    }
    { /* rows of 13..24 words (Cortex-M55 mve_short_F_T with a second group of three vectors: F = 3..6
       * whole vectors, with and without a partial one), odd and even row counts, every stage */
        static const uint32_t kl[] = {385, 416, 480, 512, 520, 608, 640, 700, 736, 768};
        static const uint32_t ol[] = {7, 8, 33, 2};
        for (i = 0; i < sizeof kl / sizeof kl[0]; i++)
            for (j = 0; j < sizeof ol / sizeof ol[0]; j++, n++)
                dense_case(kl[i], ol[j], (int)(n % 2u), BE_WK_BINARY, (int)(n % 6u));
    }
    { /* short rows (K <= 128, the ARM "short" variant): sign bits, every stage, then scores that
       * overflow int32 (the wrapped values must match ref; be_kernels.h: a variant may return BE_OK) */
        static const uint32_t kss[] = {1, 2, 7, 16, 31, 32, 33, 47, 64, 65, 96, 97, 127, 128};
        for (i = 0; i < sizeof kss / sizeof kss[0]; i++) {
            for (j = 0; j < 15u; j++, n++) /* every stage, then the sign, score and accumulator
                                            * stages (the ones "short" takes) more often */
                dense_case(kss[i], os[n % (sizeof os / sizeof os[0])], 0, BE_WK_BINARY,
                           j < 6u ? (int)j : j % 3u == 0u ? 0 : j % 3u == 1u ? 3 : 5);
            score_overflow = 1;
            dense_case(kss[i], os[n++ % (sizeof os / sizeof os[0])], 0, BE_WK_BINARY, 3);
            if (kss[i] <= 64u) /* 2 unsigned bit-planes (the qrelu2 heads): "short" takes them too */
                dense_case(kss[i], os[n++ % (sizeof os / sizeof os[0])], 1, BE_WK_BINARY, 3);
            score_overflow = 0;
            for (j = 0; kss[i] <= 64u && j < 6u; j++, n++) /* sign, unsigned L = 1 / 3, score, acc */
                dense_case(kss[i], os[n % (sizeof os / sizeof os[0])], 1, BE_WK_BINARY, j == 4u ? 5 : (int)(j % 4u));
        }
    }
    { /* 2 unsigned bit-planes, rows of 3 and more words ("planes2"): odd and even word counts, a
       * partial last word, every stage (scores also wrapping), one and more blocks of 32 rows */
        static const uint32_t kp[] = {65, 95, 96, 97, 160, 288, 289, 1000, 1601};
        static const uint32_t op2[] = {1, 10, 32, 33, 64, 7};
        for (i = 0; i < sizeof kp / sizeof kp[0]; i++) {
            for (j = 0; j < 6u; j++, n++)
                dense_case(kp[i], op2[(i + j) % (sizeof op2 / sizeof op2[0])], 1, BE_WK_BINARY, (int)j);
            score_overflow = 1;
            dense_case(kp[i], op2[i % (sizeof op2 / sizeof op2[0])], 1, BE_WK_BINARY, 3);
            score_overflow = 0;
        }
    }
    { /* unsigned planes with P = 1, 3 and 8: every stage, odd K and O, row tails */
        static const uint32_t pl[] = {1, 3, 8};
        for (i = 0; i < sizeof pl / sizeof pl[0]; i++) {
            unsigned_planes = pl[i];
            for (j = 0; j < sizeof ks / sizeof ks[0]; j++, n++)
                dense_case(ks[j], os[n % (sizeof os / sizeof os[0])], 1, BE_WK_BINARY, (int)(n % 6u));
        }
        unsigned_planes = 2u;
    }
}

/* First-layer extremes (test_u8): saturate 1 = every pixel 255, 2 = also every weight bit 1
 * (acc = -255 K, the largest |acc|); rows of n bits. */
static int saturate;

static void u8_extremes(const be_op *op, uint32_t rows, uint32_t n)
{
    uint32_t r, j;
    if (saturate == 0 || op->in.kind != BE_KIND_U8)
        return;
    memset(input, 255, op->in.nbytes);
    if (saturate == 2 && op->weight_kind == BE_WK_BINARY)
        for (r = 0; r < rows; r++)
            for (j = 0; j < be_words_for(n); j++)
                weights[r * be_words_for(n) + j] = j + 1u == be_words_for(n) ? be_last_word_mask(n) : 0xFFFFFFFFu;
}

/* ----------------------------------------------------------------------------------- conv */

static void conv_case(uint32_t c, uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, const uint32_t pad[4],
                      uint32_t h, uint32_t w, uint32_t o, int in_kind, int wk, int stage)
{
    be_op op;
    uint32_t oh, ow, row_words;
    char what[96];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONV2D;
    op.weight_kind = (uint8_t)wk;
    op.in_ch = c;
    op.kh = kh;
    op.kw = kw;
    op.sh = sh;
    op.sw = sw;
    op.pt = pad[0];
    op.pb = pad[1];
    op.pl = pad[2];
    op.pr = pad[3];
    op.k = kh * kw * c;
    if (h + op.pt + op.pb < kh || w + op.pl + op.pr < kw)
        return;
    oh = (h + op.pt + op.pb - kh) / sh + 1u;
    ow = (w + op.pl + op.pr - kw) / sw + 1u;
    if (in_kind == 0)
        be_test_set_value(&op.in, BE_KIND_BITS, 3u, h, w, c, BE_ENC_SIGN, 1u);
    else if (in_kind == 1)
        be_test_set_value(&op.in, BE_KIND_BITS, 3u, h, w, c, BE_ENC_UNSIGNED, unsigned_planes);
    else
        be_test_set_value(&op.in, BE_KIND_U8, 3u, h, w, c, BE_ENC_NONE, 1u);
    op.w_row_bytes = wk == BE_WK_BINARY ? be_words_for(c) * 4u : c;
    row_words = (kh * kw * op.w_row_bytes + 3u) / 4u;
    if (op.in.nbytes > sizeof input || row_words > W_WORDS || kh * kw * op.in.pixel_bytes > sizeof scratch)
        return;
    for (;;) {
        const uint32_t planes = stage == 2 ? 2u : 1u;
        const uint32_t px = stage == 4 ? o : stage == 3 || stage == 5 ? 4u * o : planes * be_words_for(o) * 4u;
        if (o <= 1u || (o * row_words <= W_WORDS && o <= MAX_CH && oh * ow * px <= out_limit))
            break;
        o = o / 2u | 1u;
    }
    op.out_ch = o;
    set_stage(&op, stage, in_kind == 2 ? 40u * op.k : (in_kind == 1 ? 3u : 1u) * (4u + op.k / 8u));
    set_out(&op, 3u, oh, ow);
    if (op.out.nbytes > out_limit)
        return;
    fill_value(&op.in, input);
    if (wk == BE_WK_BINARY)
        fill_weights(wk, o * kh * kw, c);
    else
        fill_weights(wk, 1u, o * kh * kw * c);
    u8_extremes(&op, o * kh * kw, c);
    op.weights = weights;
    sprintf(what, "conv C=%u k=%ux%u s=%ux%u p=%u,%u,%u,%u O=%u in%d w%d stage%d", (unsigned)c, (unsigned)kh,
            (unsigned)kw, (unsigned)sh, (unsigned)sw, (unsigned)pad[0], (unsigned)pad[1], (unsigned)pad[2],
            (unsigned)pad[3], (unsigned)o, in_kind, wk, stage);
    check_op(&op, what);
}

static void test_conv(void)
{
    static const uint32_t chans[] = {1, 3, 31, 32, 33, 65};
    static const uint32_t ks[] = {1, 3, 5};
    static const uint32_t os[] = {3, 33, 1, 7, 65, 5, 32, 47, 63, 13, 30};
    uint32_t ci, ki, s, p, n = 0;
    for (ci = 0; ci < sizeof chans / sizeof chans[0]; ci++) {
        for (ki = 0; ki < 3u; ki++) {
            for (s = 1; s <= 2u; s++) {
                for (p = 0; p <= 2u; p++, n++) {
                    const uint32_t c = chans[ci], k = ks[ki], pad[4] = {p, p, p, p};
                    const uint32_t h = 4u + n % 3u, w = 5u + n % 2u, o = os[n % (sizeof os / sizeof os[0])];
                    conv_case(c, k, k, s, s, pad, h, w, o, 0, BE_WK_BINARY, n % 3u == 2u ? 1 : 0);
                    if (n % 3u == 0u)
                        conv_case(c, k, k, s, s, pad, h, w, o, 0, BE_WK_BINARY, 2);
                    if (c <= 65u && n % 2u == 0u) /* unsigned planes; C = 65, 5x5: rows beyond 64 words */
                        conv_case(c, k, k, s, s, pad, h, w, o, 1, BE_WK_BINARY, (int)(n % 3u));
                    if (c <= 4u)
                        conv_case(c, k, k, s, s, pad, h, w, o, 2, n % 2u ? BE_WK_INT8 : BE_WK_BINARY, (int)(n % 3u));
                    if (n % 3u == 1u) /* requant / accumulator stages (graph v2) on sign bits and planes */
                        conv_case(c, k, k, s, s, pad, h, w, o, (int)(n % 2u), BE_WK_BINARY, 4 + (int)(n / 3u % 2u));
                }
            }
        }
    }
    { /* asymmetric geometry: 3x1 kernel, stride (2, 1), padding (2, 0, 1, 2) */
        static const uint32_t pad[4] = {2, 0, 1, 2};
        conv_case(33, 3, 1, 2, 1, pad, 7, 5, 9, 0, BE_WK_BINARY, 0);
        conv_case(65, 1, 3, 1, 2, pad, 5, 6, 3, 0, BE_WK_BINARY, 2);
        conv_case(3, 3, 1, 2, 1, pad, 7, 5, 9, 2, BE_WK_INT8, 0);
    }
    { /* u8 pixels, stride 3, padding top / left only: the windows stop short of the last rows and
       * columns (the first-layer kernels that copy the padded input copy only what they reach) */
        static const uint32_t pad_tl[4] = {1, 0, 1, 0};
        conv_case(1, 3, 3, 3, 3, pad_tl, 9, 9, 13, 2, BE_WK_BINARY, 0);
        conv_case(3, 3, 3, 3, 3, pad_tl, 10, 11, 8, 2, BE_WK_BINARY, 0);
        conv_case(1, 3, 3, 3, 3, pad_tl, 11, 10, 16, 2, BE_WK_BINARY, 2);
    }
    { /* u8 pixels into sign bits and qrelu2 levels (L = 3, 2 planes) with one group of 8 channels
       * or several, 3x3 x 1 and 3x3 x 3 (the row loops of "mla" on Thumb-2) */
        static const uint32_t pad1[4] = {1, 1, 1, 1};
        conv_case(1, 3, 3, 1, 1, pad1, 8, 8, 8, 2, BE_WK_BINARY, 2);
        conv_case(1, 3, 3, 1, 1, pad1, 9, 7, 6, 2, BE_WK_BINARY, 0);
        conv_case(3, 3, 3, 2, 2, pad1, 9, 9, 5, 2, BE_WK_BINARY, 2);
        conv_case(3, 3, 3, 1, 1, pad1, 7, 7, 8, 2, BE_WK_BINARY, 0);
        conv_case(3, 3, 3, 1, 1, pad1, 7, 7, 12, 2, BE_WK_BINARY, 2);
        conv_case(1, 3, 3, 1, 1, pad1, 6, 9, 24, 2, BE_WK_BINARY, 2);
    }
    { /* the small channel counts of real models ("tab": nibble tables for C < 32 on maps of
       * >= 64 output pixels; blocks of 8 and 4 output channels; a receptive field of more than
       * 63 nibbles takes the unpacking path; the format-v1 stages it is offered) */
        static const uint32_t cs[] = {8, 16, 24, 5, 12, 1, 3, 31};
        static const uint32_t ob[] = {8, 16, 40, 3, 12, 36, 64};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad3[4] = {3, 2, 3, 1};
        static const uint32_t pad_tl[4] = {1, 0, 1, 0};
        uint32_t i, j;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++)
            for (j = 0; j < sizeof ob / sizeof ob[0]; j++, n++) {
                conv_case(cs[i], 3, 3, 1, 1, pad1, 8, 9, ob[j], 0, BE_WK_BINARY, (int)(n % 4u));
                conv_case(cs[i], 1, 1, 1, 1, pad0, 8, 8, ob[j], (int)(n % 2u), BE_WK_BINARY, (int)((n + 3u) % 4u));
                conv_case(cs[i], 3, 3, 1, 1, pad1, 9, 8, ob[j], 1, BE_WK_BINARY, (int)((n + 1u) % 4u));
                if (j < 2u) { /* P = 1 and 3 (the byte-domain levels where they fit: C <= 4 for P = 3) */
                    unsigned_planes = j == 0u ? 1u : 3u;
                    conv_case(cs[i], 3, 3, 1, 1, pad1, 9, 8, ob[j], 1, BE_WK_BINARY, (int)(n % 3u));
                    unsigned_planes = 2u;
                    /* 7 x 7 maps (49 output pixels: "tab" on the Thumb-2 cores without Helium) */
                    conv_case(cs[i], 3, 3, 1, 1, pad1, 7, 7, ob[j + 4u], (int)((n + j) % 2u), BE_WK_BINARY,
                              (int)((n + 1u) % 4u));
                }
                if (j == 3u) /* stride 3, padding top / left only: the windows stop short of the last
                              * rows and columns ("tab" copies only what they reach) */
                    conv_case(cs[i], 3, 3, 3, 3, pad_tl, 22, 22, ob[j + 1u], 0, BE_WK_BINARY, (int)(n % 4u));
                if (j % 2u == 0u)
                    conv_case(cs[i], 3, 3, 2, 2, pad1, 15, 15, ob[j], (int)(n % 2u), BE_WK_BINARY, (int)((n + 2u) % 4u));
                else
                    conv_case(cs[i], 7, 5, 1, 2, pad3, 10, 16, ob[j], (int)(n % 2u), BE_WK_BINARY, (int)((n + 3u) % 4u));
            }
    }
    { /* unsigned planes with P = 1, 3 and 8: odd channel counts, strides, padding, every stage */
        static const uint32_t pl[] = {1, 3, 8}, pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1};
        static const uint32_t pad2[4] = {2, 0, 1, 2};
        uint32_t i;
        for (i = 0; i < sizeof pl / sizeof pl[0]; i++) {
            unsigned_planes = pl[i];
            for (ci = 0; ci < sizeof chans / sizeof chans[0]; ci++, n++) {
                const uint32_t c = chans[ci], o = os[n % (sizeof os / sizeof os[0])];
                conv_case(c, 3, 3, 1, 1, pad1, 5, 6, o, 1, BE_WK_BINARY, (int)(n % 6u));
                conv_case(c, 3, 3, 2, 2, pad1, 6, 5, o, 1, BE_WK_BINARY, (int)((n + 1u) % 6u));
                conv_case(c, 1, 1, 1, 1, pad0, 4, 5, o, 1, BE_WK_BINARY, (int)((n + 2u) % 6u));
                conv_case(c, 3, 1, 2, 1, pad2, 7, 5, o, 1, BE_WK_BINARY, (int)((n + 3u) % 6u));
            }
        }
        unsigned_planes = 2u;
    }
    { /* 2 bit-planes, 3x3: "tab" from its offset image on the Thumb-2 cores with DSP, in its three
       * forms: the byte sums (C <= 8), the planes' sums in halfwords (C <= 16) and two passes over
       * nibbles 0-3 and 4-7 (C <= 32, maps of 32 to 56 output pixels: its image and first-pass
       * sums must fit beside the tables); strides 1 and 2, padding none, 1 and asymmetric, partial
       * blocks of 8 output channels, sign and unsigned (L = 1, 3) stages; and sign bits into the
       * sign stage, one pass to 16 channels and two beyond */
        static const uint32_t cs[] = {1, 4, 6, 8, 9, 13, 16, 17, 20, 24, 28, 31, 32};
        static const uint32_t ob[] = {8, 12, 16, 5, 40, 24};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad2[4] = {2, 0, 1, 2};
        uint32_t i;
        unsigned_planes = 2u;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            const uint32_t o = ob[i % (sizeof ob / sizeof ob[0])];
            conv_case(cs[i], 3, 3, 1, 1, pad1, 8, 8, o, 1, BE_WK_BINARY, (int)(n % 3u));
            conv_case(cs[i], 3, 3, 2, 2, pad1, 15, 15, o, 1, BE_WK_BINARY, (int)((n + 1u) % 3u));
            conv_case(cs[i], 3, 3, 1, 1, pad0, 9, 10, o, 1, BE_WK_BINARY, (int)((n + 2u) % 3u));
            conv_case(cs[i], 3, 3, 1, 2, pad2, 9, 14, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 3, 3, 1, 1, pad1, 7, 7, o, 1, BE_WK_BINARY, (int)((n + 1u) % 3u));
            conv_case(cs[i], 3, 3, 1, 1, pad1, 6, 8, o + 3u, 1, BE_WK_BINARY, (int)(n % 3u));
            conv_case(cs[i], 3, 3, 2, 1, pad0, 13, 8, o, 1, BE_WK_BINARY, (int)((n + 2u) % 3u));
            conv_case(cs[i], 3, 3, 1, 2, pad0, 8, 13, o, 1, BE_WK_BINARY, (int)(n % 3u));
            conv_case(cs[i], 3, 3, 1, 1, pad2, 6, 6, o, 1, BE_WK_BINARY, 2);
            /* sign bits into the sign stage (one plane: one pass to C = 16, two beyond) */
            conv_case(cs[i], 3, 3, 1, 1, pad1, 8, 8, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 2, 2, pad1, 15, 13, o + 1u, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 2, pad2, 9, 14, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 2, 1, pad0, 13, 8, o, 0, BE_WK_BINARY, 0);
        }
    }
    { /* sign bits over 17 .. 128 channels into the sign stage, 9 .. 64 into the accumulators, and
       * 9 .. 16 on maps whose one-pass image does not fit: "tab" in P = ceil(C / 16) passes on
       * the Thumb-2 cores (sign_passes): the whole image resident (small maps) or bands of
       * output rows, each pass rebuilding its plane (these maps need 2 to 4 bands); odd channel
       * counts (the last pass's nibbles past C), partial blocks of 8 and of the 32-bit output
       * word, strides 1, 2 and 3 in either direction, padding none, 1 and asymmetric */
        static const uint32_t cs[] = {17, 33, 48, 64, 65, 96, 100, 127, 128, 32};
        static const uint32_t ob[] = {8, 13, 40, 5, 64, 24, 37};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad2[4] = {2, 0, 1, 2};
        uint32_t i;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            const uint32_t o = ob[i % (sizeof ob / sizeof ob[0])], big = cs[i] <= 64u ? 14u : 10u;
            conv_case(cs[i], 3, 3, 1, 1, pad1, 7, 7, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad1, big, big + 1u, o + 3u, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 2, 2, pad1, 15, 15, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 2, pad2, 9, 14, o + 1u, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 2, 1, pad0, 13, 8, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad0, big, big, o, 0, BE_WK_BINARY, 0);
        }
        for (i = 0; i < 8u; i++, n++) { /* the accumulator stage (a residual block's conv), C > 8 */
            static const uint32_t ca[] = {9, 12, 16, 17, 20, 33, 40, 64}, oa[] = {8, 13, 6, 16};
            conv_case(ca[i], 3, 3, 1, 1, pad1, 6, 6, oa[i % 4u], 0, BE_WK_BINARY, 5);
            conv_case(ca[i], 3, 3, 3, 3, pad1, 16, 16, oa[(i + 1u) % 4u], 0, BE_WK_BINARY, 5);
            conv_case(ca[i], 3, 3, 1, 2, pad2, 8, 11, oa[(i + 2u) % 4u], 0, BE_WK_BINARY, 5);
        }
        for (i = 0; i < 12u; i++, n++) { /* the RequantStage from the same sums (int8 codes: odd
                                          * output counts leave pixels at odd byte offsets), every
                                          * requant mode (shifts below / from 32, extreme zero points) */
            static const uint32_t cr[] = {5, 9, 12, 16, 17, 20, 33, 40, 64, 100, 128, 31};
            static const uint32_t orq[] = {8, 13, 6, 16, 7, 33};
            conv_case(cr[i], 3, 3, 1, 1, pad1, 6, 7, orq[i % 6u], 0, BE_WK_BINARY, 4);
            conv_case(cr[i], 3, 3, 2, 2, pad1, 15, 16, orq[(i + 1u) % 6u], 0, BE_WK_BINARY, 4);
            conv_case(cr[i], 3, 3, 1, 2, pad2, 8, 11, orq[(i + 2u) % 6u], 0, BE_WK_BINARY, 4);
            conv_case(cr[i], 3, 3, 1, 1, pad0, 10, 9, orq[(i + 3u) % 6u], 0, BE_WK_BINARY, 4);
        }
        conv_case(16, 3, 3, 1, 1, pad1, 22, 22, 12, 0, BE_WK_BINARY, 0); /* one pass, 2 bands */
        conv_case(12, 3, 3, 1, 1, pad0, 24, 21, 9, 0, BE_WK_BINARY, 0);
        conv_case(32, 3, 3, 1, 1, pad1, 20, 20, 16, 0, BE_WK_BINARY, 0); /* 4 bands */
        conv_case(20, 3, 3, 2, 2, pad1, 21, 21, 12, 0, BE_WK_BINARY, 0); /* stride 2, 2 bands */
        conv_case(24, 3, 3, 2, 2, pad2, 22, 21, 9, 0, BE_WK_BINARY, 0);
    }
    { /* 2 and 3 bit-planes into levels (L = 1, 3), stride 1, at most 32 channels: the position-lane
       * kernels ("lanes", the x86 px rows) with their instances (3x3: 3, 6 or 9 groups per plane),
       * the generic one (5x3, 1x1, 3 planes), row tails and padding */
        static const uint32_t cs[] = {8, 16, 32, 5, 12, 31, 1, 20};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad2[4] = {2, 0, 1, 2};
        uint32_t i;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            const uint32_t o = os[n % (sizeof os / sizeof os[0])];
            unsigned_planes = 2u;
            conv_case(cs[i], 3, 3, 1, 1, pad1, 7 + i % 3u, 9 + i % 4u, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 3, 3, 1, 1, pad0, 6, 11, o, 1, BE_WK_BINARY, 1);
            conv_case(cs[i], 5, 3, 1, 1, pad2, 8, 7, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 1, 1, 1, 1, pad0, 5, 9, o, 1, BE_WK_BINARY, (int)(1u + n % 2u));
            unsigned_planes = 3u;
            conv_case(cs[i], 3, 3, 1, 1, pad1, 6, 7, o, 1, BE_WK_BINARY, 2);
        }
        unsigned_planes = 2u;
    }
    { /* sign bits, stride 1, at most 16 channels on >= 64 output pixels: the x86 px row (3x3 with 3
       * or 6 groups into a sign stage in the popcount domain, the generic sign instance for other
       * kernels, sign inputs into levels), row tails, maps narrower than a vector, two groups of
       * 32 output channels, padding */
        static const uint32_t cs[] = {8, 16, 1, 3, 10, 11, 5, 13};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad2[4] = {2, 0, 1, 2};
        static const uint32_t op_[] = {8, 16, 33, 5, 32, 1, 40, 13};
        uint32_t i;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            const uint32_t o = op_[i];
            conv_case(cs[i], 3, 3, 1, 1, pad1, 8 + i % 3u, 9 + i % 5u, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad1, 20, 18, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad0, 12, 10, o + 1u, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad2, 9, 11, o, 0, BE_WK_BINARY, (int)(i % 3u));
            conv_case(cs[i], 5, 3, 1, 1, pad2, 10, 8, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 1, 1, 1, 1, pad0, 8, 9, o, 0, BE_WK_BINARY, (int)(i % 2u));
            conv_case(cs[i], 3, 1, 1, 1, pad1, 64, 1, o, 0, BE_WK_BINARY, 0);
        }
    }
    { /* 3x3, stride 1, at most 32 channels and 32 outputs (64 past 16 channels) on >= 32 output
       * pixels, over sign bits into the sign stage or over 2 bit-planes into 3 levels on 2 planes:
       * the Cortex-M55 "lanes" in its lane layouts (bytes, halfwords, 2 planes in halfwords and
       * in words, words in two passes past 16 channels; sign bits past 16 channels: its many-pass
       * instances), rows that end inside a vector (widths 5, 17, 28, 33), the last row's partial
       * store, blocks of 8 / 16 / 32 channels, both directions */
        static const uint32_t cs[] = {8, 16, 1, 3, 9, 12, 5, 15, 17, 32, 24, 31};
        static const uint32_t os_[] = {8, 32, 1, 17, 16, 31, 9, 24, 40, 64, 13, 33};
        static const uint32_t pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad2[4] = {2, 0, 1, 2};
        uint32_t i;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            const uint32_t o = os_[i];
            conv_case(cs[i], 3, 3, 1, 1, pad1, 8, 5, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad1, 14, 28, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad0, 5, 19, o, 0, BE_WK_BINARY, 0);
            conv_case(cs[i], 3, 3, 1, 1, pad2, 7, 33, o, 0, BE_WK_BINARY, 0);
            unsigned_planes = 2u;
            conv_case(cs[i], 3, 3, 1, 1, pad1, 8, 5, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 3, 3, 1, 1, pad1, 12, 17, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 3, 3, 1, 1, pad0, 5, 19, o, 1, BE_WK_BINARY, 2);
            conv_case(cs[i], 3, 3, 1, 1, pad2, 7, 14, o, 1, BE_WK_BINARY, 2);
        }
    }
    { /* 3x3, stride 1, sign bits into int32 accumulators (the residual convs' AccStage) and into
       * the sign stage on >= 32 output pixels, with outputs too large for the grids' buffers: the
       * Cortex-M55 "lanes" in 1 .. 6 passes of 16 channels (C = 1 .. 96, one to three words per
       * pixel), NEON's "lanes" (C <= 16; 17 .. 96 in one image per word of the pixel, C = 33 and
       * 40 with the last word packed), "tab" from its offset image on the Thumb-2 cores (C <= 8
       * too); the ResNets' 14 x 14 x 32 / 40 and 7 x 7 x 64 / 80 maps, rows narrower than a vector
       * (7, 5) and ending inside one, the map's last vector (its copy), asymmetric padding. Not on
       * the Cortex-M0: its outputs would shrink to a few channels, which the grids cover */
        static const uint32_t cs[] = {32, 40, 64, 80, 1, 16, 17, 33, 48, 49, 95, 96, 5, 8};
        static const uint32_t os_[] = {32, 40, 64, 72, 3, 17, 8, 31, 1, 13, 96, 5, 9, 16};
        static const uint32_t hs[] = {14, 14, 7, 7, 8, 6, 9, 5, 12, 7, 6, 8, 10, 14};
        static const uint32_t ws[] = {14, 14, 7, 7, 5, 9, 17, 19, 3, 11, 6, 13, 7, 14};
        static const uint32_t pad1[4] = {1, 1, 1, 1}, pad0[4] = {0, 0, 0, 0}, pad2[4] = {2, 0, 1, 2};
        uint32_t i;
#if LARGE_OUTPUTS
        out_limit = sizeof out_ref;
        for (i = 0; i < sizeof cs / sizeof cs[0]; i++, n++) {
            conv_case(cs[i], 3, 3, 1, 1, i % 3u == 2u && i > 3u ? pad2 : pad1, hs[i], ws[i], os_[i], 0, BE_WK_BINARY,
                      5);
            /* requantized (a binary conv into BatchNorm + QuantInt8: examples/custom_model); again
             * with every channel in the M55 lanes' split-16 form (i8_requant, high = 3) */
            conv_case(cs[i], 3, 3, 1, 1, pad1, hs[i], ws[i], os_[i], 0, BE_WK_BINARY, 4);
            rq_split16 = 1;
            conv_case(cs[i], 3, 3, 1, 1, i % 2u ? pad2 : pad1, hs[i], ws[i], os_[i], 0, BE_WK_BINARY, 4);
            rq_split16 = 0;
            if (i >= 4u)
                conv_case(cs[i], 3, 3, 1, 1, pad0, hs[i] + 2u, ws[i] + 2u, os_[i] + 2u, 0, BE_WK_BINARY, 5);
            /* the same maps into the sign stage (the M55's many-pass sign instances past 16
             * channels, up to 128 outputs in 8 halfword blocks, blocks of zeros past the last) */
            conv_case(cs[i], 3, 3, 1, 1, pad1, hs[i], ws[i], 2u * os_[i] > 128u ? 128u : 2u * os_[i] + 1u, 0,
                      BE_WK_BINARY, 0);
        }
        /* 97 and 128 channels (four words per pixel: armv7's passes of 9 tap vectors, 36 taps) */
        {
            static const uint32_t c4[] = {128, 97}, o4[] = {40, 33}, h4[] = {7, 6}, w4[] = {7, 8};
            uint32_t j;
            for (j = 0; j < 2u; j++) {
                conv_case(c4[j], 3, 3, 1, 1, j ? pad2 : pad1, h4[j], w4[j], o4[j], 0, BE_WK_BINARY, 5);
                conv_case(c4[j], 3, 3, 1, 1, pad1, h4[j], w4[j], o4[j], 0, BE_WK_BINARY, 4);
                conv_case(c4[j], 3, 3, 1, 1, j ? pad1 : pad2, h4[j], w4[j], o4[j] + 7u, 0, BE_WK_BINARY, 0);
            }
        }
        /* 1 x 15 kernels whose column-shifted images do not fit NEON's image buffers (2 x 15 x 16 x
         * 16 words over 48 channels; 8 groups x 16 x 30 over 16), which then read the padded
         * images (positions over the padding columns computed and dropped) */
        {
            static const uint32_t pad7[4] = {0, 0, 7, 7};
            conv_case(48, 1, 15, 1, 1, pad7, 16, 16, 20, 0, BE_WK_BINARY, 5);
            conv_case(48, 1, 15, 1, 1, pad7, 16, 16, 9, 0, BE_WK_BINARY, 4);
            conv_case(16, 1, 15, 1, 1, pad7, 16, 30, 12, 0, BE_WK_BINARY, 5);
            conv_case(16, 1, 15, 1, 1, pad7, 16, 30, 40, 0, BE_WK_BINARY, 0);
        }
        /* maps one and two pixels wide (1x1): a vector of 4 positions spans up to 4 rows */
        conv_case(33, 1, 1, 1, 1, pad0, 20, 2, 9, 0, BE_WK_BINARY, 5);
        conv_case(33, 1, 1, 1, 1, pad0, 37, 1, 9, 0, BE_WK_BINARY, 5);
        conv_case(16, 1, 1, 1, 1, pad0, 35, 1, 7, 0, BE_WK_BINARY, 5);
        conv_case(24, 1, 1, 1, 1, pad0, 33, 1, 6, 0, BE_WK_BINARY, 4);
        out_limit = IO_WORDS * 4u;
#else
        (void)cs, (void)os_, (void)hs, (void)ws, (void)pad0, (void)pad1, (void)pad2, (void)i;
#endif
    }
}

/* ------------------------------------------------------------------- the first layer (u8) */

/* uint8 pixels x binary weights beyond the grid: the MLP's 784 pixels, kernel sizes and channel
 * counts at the limits of the ARM variants (K = 64 / 128 for the 16-bit packed sums of "mla" /
 * "mve", 144 and 288 beyond them), and all pixels 255 (the largest |acc|). */

static void dense_u8(uint32_t k, uint32_t o, int stage)
{
    be_op op;
    char what[64];
    uint32_t row_words = be_words_for(k);
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = op.k = k;
    be_test_set_value(&op.in, BE_KIND_U8, 1u, 1u, 1u, k, BE_ENC_NONE, 1u);
    op.w_row_bytes = row_words * 4u;
    if (op.in.nbytes > sizeof input)
        return;
    while (o > 1u && (o * row_words > W_WORDS || o > MAX_CH || ((stage == 3 || stage == 5) && o * 4u > out_limit)))
        o = o / 2u | 1u;
    op.out_ch = o;
    set_stage(&op, stage, saturate ? 255u * k : 40u * k);
    set_out(&op, 1u, 1u, 1u);
    fill_value(&op.in, input);
    fill_weights(BE_WK_BINARY, o, k);
    u8_extremes(&op, o, k);
    op.weights = weights;
    sprintf(what, "dense u8 K=%u O=%u stage%d saturate%d", (unsigned)k, (unsigned)o, stage, saturate);
    check_op(&op, what);
}

static void conv_u8(uint32_t c, uint32_t kh, uint32_t kw, uint32_t s, uint32_t p, uint32_t h, uint32_t w, uint32_t o,
                    int stage)
{
    const uint32_t pad[4] = {p, p, p, p};
    conv_case(c, kh, kw, s, s, pad, h, w, o, 2, BE_WK_BINARY, stage);
}

#if !defined(__ARM_ARCH_6M__)
/* Dense with more output rows than one block of the "lut" variant (256 rows). */
static uint32_t big_w[300u * 3u];
static int8_t big_dir[300];
static int32_t big_t[300];
static uint32_t big_out_ref[10], big_out_var[10];

static void dense_u8_rows300(void)
{
    const uint32_t k = 70u, o = 300u, rw = be_words_for(k);
    const be_kernel *ref = be_test_ref_kernel(BE_OP_DENSE);
    const uint32_t isa = be_isa_detect();
    be_op op;
    size_t i;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = op.k = k;
    op.out_ch = o;
    op.w_row_bytes = rw * 4u;
    be_test_set_value(&op.in, BE_KIND_U8, 1u, 1u, 1u, k, BE_ENC_NONE, 1u);
    op.stage = BE_STAGE_THRESHOLD;
    op.encoding = BE_ENC_SIGN;
    op.levels = 1u;
    for (i = 0; i < o; i++) {
        big_dir[i] = (xs() & 1u) ? -1 : 1;
        big_t[i] = (int32_t)(xs() % 4001u) - 2000;
    }
    op.stage_a = big_dir;
    op.stage_b = big_t;
    set_out(&op, 1u, 1u, 1u);
    fill_value(&op.in, input);
    for (i = 0; i < o * rw; i++)
        big_w[i] = xs() & (i % rw + 1u == rw ? be_last_word_mask(k) : 0xFFFFFFFFu);
    op.weights = big_w;
    n_cases++;
    ref->fn(&op, input, big_out_ref, scratch);
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *kv = &be_kernel_table[i];
        if (kv == ref || strcmp(kv->name, "ref") == 0 || kv->op_type != BE_OP_DENSE || !be_kernel_usable(kv, &op, isa))
            continue;
        memset(big_out_var, 0xA5, sizeof big_out_var);
        CHECK_EQ(kv->fn(&op, input, big_out_var, scratch), BE_OK);
        count_run(kv->name);
        be_test_checks++;
        if (memcmp(big_out_ref, big_out_var, op.out.nbytes) != 0) {
            be_test_failures++;
            printf("MISMATCH variant %s on dense u8 K=70 O=300\n", kv->name);
        }
    }
}
#endif

static void test_u8(void)
{
    static const uint32_t ks[] = {784, 600, 1000, 16, 17, 48, 128, 129};
    static const uint32_t os[] = {33, 64, 7, 96, 32, 65};
    uint32_t i, st;
    for (saturate = 0; saturate <= 2; saturate++) {
        for (i = 0; i < sizeof ks / sizeof ks[0]; i++)
            for (st = 0; st < 4u; st += saturate ? 3u : 1u)
                dense_u8(ks[i], os[(i + st) % (sizeof os / sizeof os[0])], (int)st);
        for (st = 0; st < 3u; st += saturate ? 2u : 1u) {
            conv_u8(1, 3, 3, 1, 1, 12, 12, 32, (int)st);  /* the common case (bench: 28 x 28) */
            conv_u8(1, 3, 3, 1, 1, 9, 11, 33, (int)st);   /* channels not a multiple of 8 / 32 */
            conv_u8(3, 3, 3, 1, 1, 8, 9, 32, (int)st);    /* RGB */
            conv_u8(3, 3, 3, 2, 0, 9, 8, 64, (int)st);
            conv_u8(3, 5, 5, 2, 2, 9, 9, 17, (int)st);    /* K = 75 */
            conv_u8(4, 4, 4, 1, 1, 6, 7, 40, (int)st);    /* K = 64: "mla"'s packed test at its limit */
            conv_u8(8, 4, 4, 1, 2, 5, 6, 24, (int)st);    /* K = 128: the 16-bit sums at their limit */
            conv_u8(16, 3, 3, 1, 1, 6, 6, 33, (int)st);   /* K = 144: beyond the packed variants */
            conv_u8(32, 3, 3, 1, 1, 4, 4, 9, (int)st);    /* K = 288, rows stored whole (C % 32 == 0) */
            conv_u8(3, 7, 7, 2, 3, 11, 10, 35, (int)st);  /* K = 147: "lut" in channel blocks on M0 */
            conv_u8(5, 5, 5, 1, 0, 7, 6, 70, (int)st);    /* K = 125, C odd, 70 channels */
            conv_u8(2, 1, 3, 1, 1, 5, 7, 12, (int)st);    /* a 1x3 kernel (kernel rows of 6 bytes) */
        }
    }
    saturate = 0;
#if !defined(__ARM_ARCH_6M__)
    dense_u8_rows300();
#endif
}

/* ------------------------------------------------------------------------- pool, flatten */

static void test_pool_flatten(void)
{
    static const uint32_t chans[] = {1, 31, 32, 33, 65};
    uint32_t ci, e, n = 0;
    for (ci = 0; ci < sizeof chans / sizeof chans[0]; ci++) {
        for (e = 0; e < 5u; e++, n++) { /* e = 0: sign bits; 1 .. 4: unsigned levels of 3, 1, 2, 8 planes */
            static const uint32_t plane_counts[5] = {1, 3, 1, 2, 8};
            be_op op;
            const uint32_t c = chans[ci], planes = plane_counts[e], h = 5u, w = 4u + n % 2u;
            memset(&op, 0, sizeof op);
            op.type = BE_OP_MAXPOOL2D;
            op.kh = 1u + n % 3u;
            op.kw = 2u + (e == 4u);
            op.sh = 1u + n % 2u;
            op.sw = 2u;
            be_test_set_value(&op.in, BE_KIND_BITS, 3u, h, w, c, e ? BE_ENC_UNSIGNED : BE_ENC_SIGN, planes);
            if (op.in.nbytes > sizeof input)
                continue;
            be_test_set_value(&op.out, BE_KIND_BITS, 3u, (h - op.kh) / op.sh + 1u, (w - op.kw) / op.sw + 1u, c,
                      op.in.encoding, planes);
            op.in_ch = op.out_ch = c;
            fill_value(&op.in, input);
            check_op(&op, "maxpool");

            memset(&op, 0, sizeof op);
            op.type = BE_OP_FLATTEN;
            be_test_set_value(&op.in, BE_KIND_BITS, 3u, 2u, w, c, e ? BE_ENC_UNSIGNED : BE_ENC_SIGN, planes);
            be_test_set_value(&op.out, BE_KIND_BITS, 1u, 1u, 1u, 2u * w * c, op.in.encoding, planes);
            if (op.out.nbytes > out_limit)
                continue;
            fill_value(&op.in, input);
            check_op(&op, "flatten");
        }
    }
    { /* u8 pixels: a byte count that is not a multiple of 4 */
        be_op op;
        memset(&op, 0, sizeof op);
        op.type = BE_OP_FLATTEN;
        be_test_set_value(&op.in, BE_KIND_U8, 3u, 2u, 5u, 3u, BE_ENC_NONE, 1u);
        be_test_set_value(&op.out, BE_KIND_U8, 1u, 1u, 1u, 30u, BE_ENC_NONE, 1u);
        fill_value(&op.in, input);
        check_op(&op, "flatten u8");
    }
}

/* ------------------------------------------------------------------- int8 layers (graph v2) */

/* int8 weights over u8 / i8 codes with a zero point (docs/graph.md): Dense and Conv2d (groups
 * 1, grouped, depthwise with channel multipliers 1..3), every output stage. The weights and the
 * scratch have their own buffers where RAM allows (the Cortex-M0 shares the ones above). */
#if defined(__ARM_ARCH_6M__)
#define I8_W ((int8_t *)weights)
#define I8_W_BYTES (sizeof weights)
#define I8_SCRATCH ((void *)scratch)
#define I8_SCRATCH_BYTES (sizeof scratch)
#else
static int8_t i8_w[16384];
static uint32_t i8_scratch[512];
#define I8_W i8_w
#define I8_W_BYTES (sizeof i8_w)
#define I8_SCRATCH ((void *)i8_scratch)
#define I8_SCRATCH_BYTES (sizeof i8_scratch)
#endif

static int i8_extreme; /* 1: every code at its largest |x|, every weight -128 or 127 (|acc| largest) */

/* max|x| * sum_k |w_c,k|: the accumulator bound the loader proves <= INT32_MAX */
static uint64_t i8_bound(const be_op *op, uint32_t c)
{
    const int8_t *w = I8_W + (size_t)c * op->k;
    uint64_t sum = 0u;
    uint32_t i;
    if (op->weight_kind == BE_WK_BINARY) /* K * max|x| */
        return (uint64_t)op->k * (op->in.kind == BE_KIND_U8 ? 255u : op->in.kind == BE_KIND_I8 ? 128u
                                  : op->in.encoding == BE_ENC_SIGN ? 1u : (1u << op->in.planes) - 1u);
    for (i = 0; i < op->k; i++)
        sum += (uint64_t)(w[i] < 0 ? -(int32_t)w[i] : w[i]);
    return sum * (op->in.kind == BE_KIND_U8 ? 255u : 128u);
}

static uint32_t bit_length64(uint64_t v)
{
    uint32_t n = 0u;
    while (v != 0u) {
        v >>= 1;
        n++;
    }
    return n;
}

/* A RequantStage within the loader's bounds (|M| * bound + |B| + 2^(s-1) <= 2^63 - 1), channel
 * c in mode (c + base) % 6: 0 realistic (outputs spread over the codes), 1 extreme multiplier
 * with the largest bias of either sign and any shift, 2 shift 0 (every value saturates or is
 * exact), 3 shift 62 with extreme multiplier and bias, 4 multiplier 0, 5 small values with
 * small shifts (many exact halves: the round-half-up rule on both signs). With high = 1 every
 * shift is >= 32 (modes 0, 1, 3 and 4 only, shifts raised to 32..62): the blocks the kernels
 * requantize from the high word alone (the M55's lanes, be_arm_i8.h's all_high); with high = 2
 * every channel is mode 6, a trained layer's scale (M in [2^30, 2^31) of either sign, 20 <= s <=
 * 31; in a third of the cases every fifth channel with 1 <= s <= 8 and M <= 3, in another third
 * every seventh with the largest legal bias: the two cases that form cannot hold): the blocks
 * "tab" requantizes with the product taken 2^(32 - s) larger. With high = 3 every channel is
 * mode 7, the split-16 form of the M55's "lanes" (M of any size and sign, 16 <= s <= 39, to 46 with
 * zero point 0 (a quarter of the cases), the bias
 * of a spread of codes; every fifth channel with the bias at the form's bound, |ch| = 2^31 - 2 -
 * 32769 K; in a third of the cases every seventh with |ch| near 2^31, which the form must refuse:
 * taken, its sums would wrap). */
static uint32_t isqrt32(uint32_t v) /* floor(sqrt(v)) */
{
    uint32_t r = 0u;
    while ((r + 1u) * (r + 1u) <= v)
        r++;
    return r;
}

static void i8_requant(be_op *op, uint32_t base, int high)
{
    uint32_t c;
    uint8_t *shift = (uint8_t *)stage_a8;
    op->stage = BE_STAGE_REQUANT;
    op->encoding = BE_ENC_NONE;
    op->levels = 0u;
    op->zero_point = (base & 3u) == 1u   ? -128
                     : (base & 3u) == 2u ? 127
                     : high == 3 && (base & 3u) == 0u ? 0
                                                       : (int32_t)(xs() % 256u) - 128;
    for (c = 0; c < op->out_ch; c++) {
        const uint64_t bound = i8_bound(op, c), lim = 0x7FFFFFFFFFFFFFFFull;
        static const uint8_t high_modes[6] = {0u, 1u, 3u, 4u, 1u, 0u};
        const uint32_t mode = high == 1   ? high_modes[(c + base) % 6u]
                              : high == 2 ? 6u
                              : high == 3 ? 7u
                                          : (c + base) % 6u;
        int64_t m = 0, b = 0;
        uint32_t s = 0u;
        uint64_t half, maxb;
        if (mode == 0u) {
            uint32_t bl;
            m = (int64_t)((1u << 24) + xs() % (1u << 30));
            bl = bit_length64((uint64_t)m * (bound / 8u + 1u));
            s = bl > 8u + 3u ? bl - 8u - xs() % 4u : 0u;
            s = s > 62u ? 62u : high && s < 32u ? 32u + xs() % 8u : s;
            b = (int64_t)(xs() % 2001u) - 1000;
            b *= (int64_t)1 << (s > 10u ? s - 10u : 0u);
        } else if (mode == 1u || mode == 3u) {
            m = (xs() & 1u) ? 2147483647 : -2147483647 - 1;
            s = mode == 3u ? 62u : high ? 32u + xs() % 31u : xs() % 63u;
        } else if (mode == 2u) {
            m = (int64_t)(xs() % 7u) - 3;
            b = (int64_t)(xs() % 401u) - 200;
        } else if (mode == 6u) { /* a trained layer's scale: M in [2^30, 2^31), 20 <= s <= 31 */
            m = (int64_t)((1u << 30) + xs() % (1u << 30));
            s = 20u + xs() % 12u;
            if (base % 3u == 1u && c % 5u == 2u) { /* small s and M: acc 2^(32 - s) leaves int32 */
                s = 1u + xs() % 8u;
                m = 1 + (int64_t)(xs() % 3u);
            }
            b = ((int64_t)(xs() % 2001u) - 1000) * ((int64_t)1 << (s > 12u ? s - 12u : 0u));
        } else if (mode == 7u) { /* the split-16 form: 16 <= s <= 46 */
            static const int64_t ms[4] = {2147483647, -2147483647 - 1, 65535, -65536};
            const int64_t k = (int64_t)op->kh * op->kw * op->in.c, lim = 2147483647 - 32769 * k - 1;
            const int64_t z = (int64_t)op->zero_point;
            const uint32_t r = xs() % 4u;
            s = 16u + xs() % (z == 0 ? 31u : 24u); /* past 39 zp 2^(s - 16) itself leaves the form */
            m = r == 0u ? ms[xs() % 4u] : (int64_t)(xs() % 0x7FFFFFFFu) - 0x3FFFFFFF;
            b = ((int64_t)(xs() % 2001u) - 1000) * ((int64_t)1 << (s > 12u ? s - 12u : 0u));
            if (r >= 2u) { /* codes spread by acc (|acc| ~ sqrt(K)), s near 16: every low bit of
                            * M and B moves some code */
                s = 16u + xs() % 3u;
                m = ((int64_t)1 << (s + 5u)) / (int64_t)(1u + isqrt32((uint32_t)k)) * (int64_t)(1u + xs() % 4u) +
                    (int64_t)(xs() % 65536u);
                b = (int64_t)(xs() % (1u << (s + 7u))) - ((int64_t)1 << (s + 6u));
            }
            if (c % 5u == 1u && lim > 0) /* ch = +-lim: b = ch 2^16 + cl - 2^(s-1) - zp 2^s */
                b = ((xs() & 1u) ? lim * 65536 + (int64_t)(xs() % 65536u) : -lim * 65536) -
                    ((int64_t)1 << (s - 1u)) - z * ((int64_t)1 << s);
            if (base % 3u == 2u && c % 7u == 3u) { /* |ch| near 2^31: beyond the form */
                m = (int64_t)((1u << 30) + xs() % (1u << 30));
                b = (2147483647 - 65536 * (int64_t)(xs() % 4u)) * 65536 * ((xs() & 1u) ? 1 : -1);
            }
        } else if (mode == 4u) {
            s = high ? 32u + xs() % 31u : xs() % 63u;
            b = ((int64_t)(xs() % 2001u) - 1000) * ((int64_t)1 << 30);
        } else {
            s = 1u + xs() % 6u;
            m = (int64_t)(xs() % 9u) - 4;
            b = (int64_t)(xs() % 65u) - 32;
        }
        if (xs() & 1u)
            m = -m > 2147483647 ? m : -m;
        half = s == 0u ? 0u : (uint64_t)1u << (s - 1u);
        maxb = lim - (uint64_t)(m < 0 ? -m : m) * bound - half; /* |m| * bound <= 2^62 */
        if (mode == 1u || mode == 3u)
            b = (xs() % 3u) == 0u ? 0 : (xs() & 1u) ? (int64_t)maxb : -(int64_t)maxb;
        if (mode == 6u && base % 3u == 2u && c % 7u == 3u) /* a legal bias too large for 2^(32 - s) */
            b = (xs() & 1u) ? (int64_t)maxb : -(int64_t)maxb;
        stage_a32[c] = (int32_t)m;
        shift[c] = (uint8_t)s;
        stage_b[2u * c] = (int32_t)(uint32_t)((uint64_t)b & 0xFFFFFFFFu);
        stage_b[2u * c + 1u] = (int32_t)(b < 0 ? -(int32_t)((~(uint64_t)b) >> 32) - 1 : (int32_t)((uint64_t)b >> 32));
    }
    op->stage_a = stage_a32;
    op->stage_b = stage_b;
    op->stage_c = shift;
}

/* Codes of n bytes at p (an eighth at the extremes 0, 255, 127, 128), or all at max |x|. */
static void i8_fill_codes(uint8_t *p, uint32_t n, int is_i8)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const uint32_t r = xs();
        static const uint8_t ext[4] = {0u, 255u, 127u, 128u};
        p[i] = i8_extreme ? (uint8_t)(is_i8 ? 128u : 255u) : (uint8_t)((r & 7u) == 0u ? ext[(r >> 3) & 3u] : r >> 24);
    }
}

static void i8_fill_weights(uint32_t rows, uint32_t k)
{
    uint32_t r, i;
    for (r = 0; r < rows; r++)
        for (i = 0; i < k; i++)
            I8_W[(size_t)r * k + i] = i8_extreme ? (int8_t)((r & 1u) ? 127 : -128)
                                                 : (int8_t)(int32_t)((xs() >> 8) % 256u - 128u);
}

/* The output stage: 0 requant (modes from `base`), 1 sign threshold, 2 unsigned L = 3, 3 score
 * (Dense), 4 accumulators, 5 requant with every shift >= 32. Thresholds within +-40 K (some
 * channels constant: see set_stage). */
static void i8_stage(be_op *op, int stage, uint32_t base)
{
    if (stage == 4) { /* accumulators (AccStage) */
        set_stage(op, 5, 0u);
        set_out(op, op->type == BE_OP_DENSE ? 1u : 3u, op->out.h, op->out.w);
        return;
    }
    if (stage == 0 || stage == 5) {
        i8_requant(op, base, stage == 5);
        be_test_set_value(&op->out, BE_KIND_I8, op->type == BE_OP_DENSE ? 1u : 3u, op->out.h, op->out.w, op->out_ch,
                          BE_ENC_NONE, 1u);
        op->out.zero_point = op->zero_point;
        return;
    }
    set_stage(op, stage == 1 ? 0 : stage == 2 ? 2 : 3, 40u * op->k);
    set_out(op, op->type == BE_OP_DENSE ? 1u : 3u, op->out.h, op->out.w);
}

/* One int8 Conv2d: input (h, w, c) of kind in_kind (BE_KIND_U8 / _I8) with zero point zp at
 * byte offset `off` of the input buffer, o outputs in g groups; o, h and w shrink (o by
 * multiples of g) until the buffers hold it. */
static void i8_conv(int in_kind, int32_t zp, uint32_t h, uint32_t w, uint32_t c, uint32_t o, uint32_t g,
                    uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw, const uint32_t pad[4], int stage, uint32_t off)
{
    be_op op;
    uint32_t oh, ow, k, patch;
    char what[128];
    if (pad[0] >= kh || pad[1] >= kh || pad[2] >= kw || pad[3] >= kw || c % g != 0u || o % g != 0u)
        return;
    while (h * w * c + off > sizeof input && (h + pad[0] + pad[1] > kh || w + pad[2] + pad[3] > kw)) {
        if (h + pad[0] + pad[1] > kh)
            h--;
        if (w + pad[2] + pad[3] > kw && h * w * c + off > sizeof input)
            w--;
    }
    if (h == 0u || w == 0u || h + pad[0] + pad[1] < kh || w + pad[2] + pad[3] < kw || h * w * c + off > sizeof input)
        return;
    k = kh * kw * (c / g);
    patch = (kh * kw * c * 2u + 15u) & ~15u;
    oh = (h + pad[0] + pad[1] - kh) / sh + 1u;
    ow = (w + pad[2] + pad[3] - kw) / sw + 1u;
    while (o > g && (o * k > I8_W_BYTES || o > MAX_CH || oh * ow * 4u * ((o + 31u) / 32u) * 2u > out_limit ||
                     oh * ow * o * (stage == 4 ? 4u : 1u) > out_limit))
        o -= g;
    if (patch > I8_SCRATCH_BYTES || o * k > I8_W_BYTES || o > MAX_CH || oh * ow * o * (stage == 4 ? 4u : 1u) > out_limit)
        return;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONV2D;
    op.weight_kind = BE_WK_INT8;
    op.in_ch = c;
    op.out_ch = o;
    op.kh = kh;
    op.kw = kw;
    op.sh = sh;
    op.sw = sw;
    op.pt = pad[0];
    op.pb = pad[1];
    op.pl = pad[2];
    op.pr = pad[3];
    op.groups = g;
    op.k = k;
    op.w_row_bytes = c / g;
    op.scratch_bytes = patch;
    be_test_set_value(&op.in, in_kind, 3u, h, w, c, BE_ENC_NONE, 1u);
    op.in.zero_point = zp;
    op.out.h = oh;
    op.out.w = ow;
    i8_fill_codes((uint8_t *)input + off, op.in.nbytes, in_kind == BE_KIND_I8);
    i8_fill_weights(o, k);
    op.weights = I8_W;
    i8_stage(&op, stage, (uint32_t)n_cases);
    if (op.out.nbytes > out_limit)
        return;
    sprintf(what, "i8 conv %s zp=%d %ux%ux%u g=%u k=%ux%u s=%ux%u p=%u,%u,%u,%u O=%u stage%d +%u extreme%d",
            in_kind == BE_KIND_I8 ? "i8" : "u8", (int)zp, (unsigned)h, (unsigned)w, (unsigned)c, (unsigned)g,
            (unsigned)kh, (unsigned)kw, (unsigned)sh, (unsigned)sw, (unsigned)pad[0], (unsigned)pad[1],
            (unsigned)pad[2], (unsigned)pad[3], (unsigned)o, stage, (unsigned)off, i8_extreme);
    check_op_at(&op, (const uint8_t *)input + off, I8_SCRATCH, I8_SCRATCH_BYTES, what);
}

static void i8_dense(int in_kind, int32_t zp, uint32_t k, uint32_t o, int stage, uint32_t off)
{
    be_op op;
    char what[96];
    if (k + off > sizeof input)
        return;
    while (o > 1u && (o * k > I8_W_BYTES || o > MAX_CH || o * 4u > out_limit))
        o = o / 2u | 1u;
    if (o * k > I8_W_BYTES)
        return;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_INT8;
    op.in_ch = op.k = op.w_row_bytes = k;
    op.out_ch = o;
    be_test_set_value(&op.in, in_kind, 1u, 1u, 1u, k, BE_ENC_NONE, 1u);
    op.in.zero_point = zp;
    op.out.h = op.out.w = 1u;
    i8_fill_codes((uint8_t *)input + off, k, in_kind == BE_KIND_I8);
    i8_fill_weights(o, k);
    op.weights = I8_W;
    i8_stage(&op, stage, (uint32_t)n_cases);
    sprintf(what, "i8 dense %s zp=%d K=%u O=%u stage%d +%u extreme%d", in_kind == BE_KIND_I8 ? "i8" : "u8", (int)zp,
            (unsigned)k, (unsigned)o, stage, (unsigned)off, i8_extreme);
    check_op_at(&op, (const uint8_t *)input + off, I8_SCRATCH, I8_SCRATCH_BYTES, what);
}

static void test_int8(void)
{
    static const uint32_t chans[] = {1, 3, 7, 16, 17, 33, 64, 65};
    static const int32_t zp_u8[] = {0, 128, 255, 37}, zp_i8[] = {-128, 127, 0, -37};
    static const uint32_t dks[] = {1, 3, 7, 16, 17, 33, 64, 65, 255, 256, 257, 1000};
    uint32_t ci, ki, s, j, n = 0;
    for (i8_extreme = 0; i8_extreme <= 1; i8_extreme++) {
        for (ci = 0; ci < sizeof chans / sizeof chans[0]; ci++) {
            for (ki = 1; ki <= 5u; ki += 2u) {
                for (s = 1; s <= 2u; s++, n++) {
                    const uint32_t c = chans[ci], k = ki, p = n % 3u;
                    const int kind = n % 2u ? BE_KIND_U8 : BE_KIND_I8;
                    const int32_t zp = kind == BE_KIND_U8 ? zp_u8[(n / 2u) % 4u] : zp_i8[(n / 2u) % 4u];
                    /* padding: none, symmetric, asymmetric (every side < kernel) */
                    const uint32_t pad[4] = {p == 0u ? 0u : p == 1u ? k / 2u : k - 1u, p == 1u ? k / 2u : 0u,
                                             p == 1u ? k / 2u : p == 2u ? k / 2u : 0u, p == 2u ? k - 1u : p == 1u ? k / 2u : 0u};
                    const uint32_t h = 3u + n % 4u, w = 4u + n % 3u, off = n % 4u;
                    /* requant (every shift >= 32 in every other case: stage 5), thresholds */
                    const int stage = i8_extreme ? (n % 2u ? 5 : 0) : (int)(n % 4u == 3u ? (n / 4u) % 2u * 5u : n % 4u);
                    if (i8_extreme && n % 3u != 0u)
                        continue;
                    i8_conv(kind, zp, h, w, c, chans[(ci + n) % 8u], 1u, k, k, s, s, pad, stage, off);
                    /* depthwise, channel multiplier 1..3 */
                    i8_conv(kind, zp, h + 1u, w, c, c * (1u + n % 3u), c, k, k, s, 3u - s, pad,
                            n % 3u == 0u && n % 2u ? 5 : (int)(n % 3u), 3u - off);
                    if (!i8_extreme && n % 4u == 1u) /* accumulator stage: plain and depthwise */
                        i8_conv(kind, zp, h, w, c, n % 8u == 1u ? c : chans[(ci + n) % 8u], n % 8u == 1u ? c : 1u, k, k,
                                s, s, pad, 4, off);
                }
            }
        }
        /* grouped: (C, O, groups) */
        {
            static const uint32_t grp[][3] = {{12, 6, 3}, {16, 8, 4}, {33, 33, 3}, {8, 24, 2}, {64, 16, 2}, {6, 6, 6}};
            for (j = 0; j < sizeof grp / sizeof grp[0]; j++, n++) {
                static const uint32_t pad[4] = {1, 0, 2, 1};
                const int kind = j % 2u ? BE_KIND_I8 : BE_KIND_U8;
                i8_conv(kind, kind == BE_KIND_U8 ? zp_u8[j % 4u] : zp_i8[j % 4u], 5u, 6u, grp[j][0], grp[j][1], grp[j][2],
                        3u, 3u, 1u + j % 2u, 1u, pad, (int)(j % 3u), j % 4u);
            }
        }
        /* asymmetric kernels: 3x1 and 1x5 */
        {
            static const uint32_t pad31[4] = {2, 0, 0, 0}, pad15[4] = {0, 0, 4, 1};
            i8_conv(BE_KIND_I8, -3, 7, 5, 17, 9, 1, 3, 1, 2, 1, pad31, 0, 1);
            i8_conv(BE_KIND_U8, 200, 4, 9, 7, 7, 7, 1, 5, 1, 2, pad15, 0, 3);
            i8_conv(BE_KIND_U8, 1, 6, 6, 3, 16, 1, 1, 5, 1, 1, pad15, 1, 2);
        }
        /* the first layer: 28 x 28 x 1 pixels (smaller here), 3x3 -> 16 */
        {
            static const uint32_t pad[4] = {1, 1, 1, 1};
            i8_conv(BE_KIND_U8, 0, 12, 12, 1, 16, 1, 3, 3, 1, 1, pad, 0, 1);
            i8_conv(BE_KIND_U8, 0, 11, 9, 1, 8, 1, 3, 3, 1, 1, pad, 1, 0);
            /* every shift >= 32 (the lane requant), 24 channels (a partial group of 16) */
            i8_conv(BE_KIND_I8, -7, 10, 13, 1, 24, 1, 3, 3, 1, 1, pad, 5, 2);
            i8_conv(BE_KIND_U8, 9, 9, 8, 1, 37, 1, 3, 3, 2, 1, pad, 5, 1);
        }
        /* 1x1 over 16 channels (the ResNet's downsampling conv: K = 16) and over 40 (K = 40),
         * every shift >= 32 (the M55: two pixels per pass over the rows) */
        {
            static const uint32_t pad0[4] = {0, 0, 0, 0};
            i8_conv(BE_KIND_I8, 3, 6, 5, 16, 40, 1, 1, 1, 1, 1, pad0, 5, 0);
            i8_conv(BE_KIND_I8, -2, 5, 4, 40, 80, 1, 1, 1, 1, 1, pad0, 5, 3);
            i8_conv(BE_KIND_U8, 130, 5, 6, 16, 13, 1, 1, 1, 2, 2, pad0, 0, 1);
            /* every shift >= 32 with strides, u8 codes and C = 24 (the NEON 1x1 path: C / 8
             * vectors per pixel, a partial group of 8 outputs) */
            i8_conv(BE_KIND_U8, 130, 5, 6, 16, 13, 1, 1, 1, 2, 2, pad0, 5, 1);
            i8_conv(BE_KIND_I8, -9, 6, 5, 24, 21, 1, 1, 1, 1, 2, pad0, 5, 2);
            /* K = 14: two pixels per pass, an odd number of pixels (the last one alone) */
            i8_conv(BE_KIND_U8, 77, 5, 7, 14, 19, 1, 1, 1, 1, 1, pad0, 5, 2);
            i8_conv(BE_KIND_I8, -77, 5, 7, 14, 33, 1, 1, 1, 1, 1, pad0, 1, 1);
        }
        /* the NEON int8 "lanes" (be_conv2d_i8_px_neon.c), every shift >= 32: one input channel
         * under 1x1 .. 7x7 kernels with asymmetric padding, rows narrower than a block of positions
         * (w = 3, 5) and maps ending inside one; 1x1 over 8 .. 64 channels; output counts leaving a
         * partial block of 8 channels (1, 7, 13, 37) */
        {
            static const uint32_t ks[4] = {1, 3, 5, 7}, os8[6] = {1, 7, 8, 13, 16, 37}, cs8[5] = {8, 16, 24, 40, 64};
            static const uint32_t pad0[4] = {0, 0, 0, 0};
            for (j = 0; j < 8u; j++, n++) {
                const uint32_t k = ks[j % 4u], pad[4] = {k - 1u, 0u, k / 2u, (k - 1u) / 2u};
                const int kind = j % 2u ? BE_KIND_U8 : BE_KIND_I8;
                i8_conv(kind, kind == BE_KIND_U8 ? zp_u8[j % 4u] : zp_i8[j % 4u], 7u + j, 3u + 2u * j, 1u, os8[j % 6u],
                        1u, k, k, 1u, 1u, pad, 5, j % 4u);
            }
            for (j = 0; j < 5u; j++, n++) {
                const int kind = j % 2u ? BE_KIND_I8 : BE_KIND_U8;
                i8_conv(kind, kind == BE_KIND_U8 ? zp_u8[(j + 1u) % 4u] : zp_i8[(j + 1u) % 4u], 3u + j, 5u + j % 3u,
                        cs8[j], os8[(j + 2u) % 6u], 1u, 1u, 1u, 1u, 1u, pad0, 5, j % 4u);
            }
        }
        for (j = 0; j < sizeof dks / sizeof dks[0]; j++, n++) {
            const int kind = n % 2u ? BE_KIND_U8 : BE_KIND_I8;
            const int32_t zp = kind == BE_KIND_U8 ? zp_u8[(n / 2u) % 4u] : zp_i8[(n / 2u) % 4u];
            i8_dense(kind, zp, dks[j], chans[n % 8u], i8_extreme ? (int)(n % 2u) * 5 : n % 8u == 4u ? 5 : (int)(n % 4u),
                     n % 4u);
            if (!i8_extreme) {
                i8_dense(kind == BE_KIND_U8 ? BE_KIND_I8 : BE_KIND_U8, zp < 0 ? -zp : zp, dks[j], 33u, 0, 3u - n % 4u);
                i8_dense(kind, zp, dks[j], chans[(n + 3u) % 8u], 4, n % 4u); /* accumulator stage */
            }
        }
    }
    i8_extreme = 0;
}

/* ------------------------------------------------------------ elementwise and pooling (graph v2) */

/* Add, Requantize, AvgPool2d, MaxPool2d on codes, Threshold, Merge and Concat (docs/kernels.md
 * "Elementwise and pooling ops"): every variant against ref over channels 1, 3, 31, 33, 65, odd
 * spatial sizes, u8 / i8 codes with zero points at the extremes, multipliers and shifts at their
 * limits (INT32_MIN / INT32_MAX, shifts 0..62), outputs saturating at -128 / 127, thresholds at
 * the INT32 / INT64 extremes, Merge over codes and accumulators (bounds 1 .. 2^31 - 1) with the
 * loader's int64 bound met exactly, the first input at byte offsets 0..3 (it may be the graph
 * input). No RAM of its own (the Cortex-M0 has none left): the first input lives in `input`, the
 * second in `weights`, Merge thresholds in the last EW_T_BYTES of `weights`, per-channel
 * parameters in the stage arrays. */
#define EW_T_BYTES 1024u
#define EW_B_BYTES (sizeof weights - EW_T_BYTES)
#define EW_T ((int32_t *)((uint8_t *)weights + EW_B_BYTES))

static void ew_put64(int32_t *p, int64_t v)
{
    const uint64_t u = (uint64_t)v;
    p[0] = (int32_t)(uint32_t)(u & 0xFFFFFFFFu);
    p[1] = u >> 63 ? -(int32_t)(~(uint32_t)(u >> 32)) - 1 : (int32_t)(u >> 32);
}

static int32_t ew_i32(uint32_t u)
{
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* Largest |x - zp| (codes) or the bound (accumulators): what the loader bounds a Merge with. */
static uint32_t ew_cmax(const be_value *v)
{
    int32_t a, b;
    if (v->kind == BE_KIND_I32)
        return v->bound;
    a = (v->kind == BE_KIND_U8 ? 255 : 127) - v->zero_point;
    b = v->zero_point - (v->kind == BE_KIND_U8 ? 0 : -128);
    return (uint32_t)(a > b ? a : b);
}

static int64_t ew_rnd64(void)
{
    const uint64_t u = ((uint64_t)xs() << 32) | xs();
    return u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
}

/* A u8 / i8 / acc value description (rank 1 when h = w = 1 and c is odd, for variety). */
static void ew_value(be_value *v, int kind, uint32_t h, uint32_t w, uint32_t c, int32_t zp, uint32_t bound)
{
    const uint32_t rank = h == 1u && w == 1u && (c & 1u) ? 1u : 3u;
    be_test_set_value(v, kind, rank, h, w, c, kind == BE_KIND_I32 ? BE_ENC_ACC : BE_ENC_NONE, 1u);
    v->zero_point = kind == BE_KIND_I32 ? 0 : zp;
    v->bound = kind == BE_KIND_I32 ? bound : 0u;
}

/* Contents: codes with an eighth at the extremes (0, 255, 127, 128); accumulators within
 * +-bound, an eighth at +-bound. */
static void ew_fill(const be_value *v, void *p)
{
    uint32_t i;
    if (v->kind == BE_KIND_I32) {
        int32_t *a = (int32_t *)p;
        for (i = 0; i < v->nbytes / 4u; i++) {
            const uint32_t r = xs();
            const int32_t m = (int32_t)(r % (v->bound + 1u));
            a[i] = (r & 0x700u) == 0u ? ((r & 1u) ? (int32_t)v->bound : -(int32_t)v->bound) : ((r >> 31) ? -m : m);
        }
        return;
    }
    if (v->kind == BE_KIND_BITS) {
        fill_value(v, p);
        return;
    }
    i8_fill_codes((uint8_t *)p, v->nbytes, v->kind == BE_KIND_I8);
}

static int32_t ew_zp(int kind, uint32_t n)
{
    static const int32_t zu[] = {0, 255, 128, 37}, zi[] = {-128, 127, 0, -37};
    return kind == BE_KIND_U8 ? zu[n % 4u] : zi[n % 4u];
}

/* Multiplier and shift of a requantizing op, mode n % 6: 0 as the lowering makes them (|M| near
 * 2^30, s 28..35), 1 INT32_MIN / INT32_MAX with a shift from the edges {0, 1, 15, 16, 17, 31, 32,
 * 33, 47, 55, 56, 62}, 2 small M and shifts 0..23 (many exact halves), 3 M = 0, 4 s = 62, 5 anything. */
static void ew_mult(uint32_t n, int32_t *m, int32_t *s)
{
    static const int32_t edges[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 55, 56, 62};
    const uint32_t r = xs();
    switch (n % 6u) {
    case 0: *m = (int32_t)((1u << 29) + (xs() >> 2)); *s = 28 + (int32_t)(r % 8u); break;
    case 1: *m = (r & 1u) ? INT32_MAX : INT32_MIN; *s = edges[(r >> 1) % 12u]; break;
    case 2: *m = (int32_t)(r % 1024u); *s = (int32_t)((r >> 10) % 24u); break;
    case 3: *m = 0; *s = (int32_t)(r % 63u); break;
    case 4: *m = (int32_t)((1u << 29) + (xs() >> 2)); *s = 62; break;
    default: *m = ew_i32(xs()); *s = (int32_t)(r % 63u); break;
    }
    if ((r >> 20) & 1u && *m != INT32_MIN)
        *m = -*m;
}

static void ew_add(int ka, int kb, uint32_t h, uint32_t w, uint32_t c, uint32_t n, uint32_t off)
{
    be_op op;
    be_value vb;
    be_inputs io;
    char what[96];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_ADD;
    op.n_inputs = 2u;
    while (h * w * c + off > sizeof input || h * w * c > out_limit)
        h > 1u ? h-- : w--;
    ew_value(&op.in, ka, h, w, c, ew_zp(ka, n), 0u);
    ew_value(&vb, kb, h, w, c, ew_zp(kb, n / 4u + 1u), 0u);
    ew_mult(n, &op.mult_a, &op.shift);
    ew_mult(n / 6u + (n & 1u) * 3u, &op.mult_b, &op.shift);
    if (n % 5u == 0u)
        ew_mult(n, &op.mult_a, &op.shift); /* the pair with the shift of a's mode */
    if (n % 4u == 2u) { /* s 16 .. 18 and |M| about 2^(s-1) .. 2^s: the codes spread and a carry
                         * out of the low 16 bits (the split forms' L) moves many of them */
        op.shift = 16 + (int32_t)(xs() % 3u);
        op.mult_a = (int32_t)((1u << (op.shift - 1)) + xs() % (1u << (op.shift - 1))) * ((xs() & 1u) ? -1 : 1);
        op.mult_b = (int32_t)((1u << (op.shift - 1)) + xs() % (1u << (op.shift - 1))) * ((xs() & 1u) ? -1 : 1);
    }
    op.zero_point = n % 7u == 0u ? -128 : n % 7u == 1u ? 127 : (int32_t)(xs() % 256u) - 128;
    ew_value(&op.out, BE_KIND_I8, h, w, c, op.zero_point, 0u);
    ew_fill(&op.in, (uint8_t *)input + off);
    ew_fill(&vb, weights);
    io.n = 2u;
    io.data[0] = (uint8_t *)input + off;
    io.data[1] = weights;
    io.value[0] = &op.in;
    io.value[1] = &vb;
    sprintf(what, "add %dx%d %ux%ux%u Ma=%ld Mb=%ld s=%d zp=%d +%u", ka, kb, (unsigned)h, (unsigned)w, (unsigned)c,
            (long)op.mult_a, (long)op.mult_b, (int)op.shift, (int)op.zero_point, (unsigned)off);
    check_op_at(&op, &io, scratch, sizeof scratch, what);
}

static void ew_requantize(int kind, uint32_t h, uint32_t w, uint32_t c, uint32_t n, uint32_t off)
{
    be_op op;
    char what[96];
    uint8_t *src = (uint8_t *)weights + off; /* up to EW_B_BYTES: the table path of large values */
    memset(&op, 0, sizeof op);
    op.type = BE_OP_REQUANTIZE;
    op.n_inputs = 1u;
    while (h * w * c + off > EW_B_BYTES || h * w * c > out_limit)
        h > 1u ? h-- : w--;
    ew_value(&op.in, kind, h, w, c, ew_zp(kind, n), 0u);
    ew_mult(n, &op.mult_a, &op.shift);
    op.zero_point = n % 7u == 0u ? -128 : n % 7u == 1u ? 127 : (int32_t)(xs() % 256u) - 128;
    ew_value(&op.out, BE_KIND_I8, h, w, c, op.zero_point, 0u);
    ew_fill(&op.in, src);
    sprintf(what, "requantize %d %ux%ux%u M=%ld s=%d zp=%d +%u", kind, (unsigned)h, (unsigned)w, (unsigned)c,
            (long)op.mult_a, (int)op.shift, (int)op.zero_point, (unsigned)off);
    check_op_at(&op, src, scratch, sizeof scratch, what);
}

/* Pooling over codes: AvgPool2d (avg = 1) or MaxPool2d, kernel (kh, kw), stride (sh, sw); kh = 0:
 * global (the whole input). */
static void ew_pool(int avg, int kind, uint32_t h, uint32_t w, uint32_t c, uint32_t kh, uint32_t kw, uint32_t sh,
                    uint32_t sw, uint32_t n, uint32_t off)
{
    be_op op;
    char what[112];
    while (h * w * c + off > sizeof input && h > 1u && w > 1u) {
        h--;
        w--;
    }
    if (kh == 0u) {
        kh = h;
        kw = w;
    }
    if (kh > h || kw > w || h * w * c + off > sizeof input)
        return;
    memset(&op, 0, sizeof op);
    op.type = avg ? BE_OP_AVGPOOL2D : BE_OP_MAXPOOL2D;
    op.n_inputs = 1u;
    op.kh = kh;
    op.kw = kw;
    op.sh = sh;
    op.sw = sw;
    be_test_set_value(&op.in, kind, 3u, h, w, c, BE_ENC_NONE, 1u);
    op.in.zero_point = avg ? ew_zp(kind, n) : 0;
    be_test_set_value(&op.out, avg ? BE_KIND_I8 : kind, 3u, (h - kh) / sh + 1u, (w - kw) / sw + 1u, c, BE_ENC_NONE, 1u);
    if (avg) {
        ew_mult(n, &op.mult_a, &op.shift);
        op.zero_point = n % 7u == 0u ? -128 : n % 7u == 1u ? 127 : (int32_t)(xs() % 256u) - 128;
        op.out.zero_point = op.zero_point;
    }
    if (op.out.nbytes > out_limit)
        return;
    ew_fill(&op.in, (uint8_t *)input + off);
    sprintf(what, "%s %d %ux%ux%u k=%ux%u s=%ux%u M=%ld s=%d zp=%d +%u", avg ? "avgpool" : "maxpool", kind, (unsigned)h,
            (unsigned)w, (unsigned)c, (unsigned)kh, (unsigned)kw, (unsigned)sh, (unsigned)sw, (long)op.mult_a,
            (int)op.shift, (int)op.zero_point, (unsigned)off);
    check_op_at(&op, (uint8_t *)input + off, scratch, sizeof scratch, what);
}

/* Threshold on codes: L thresholds per channel (sign when enc is BE_ENC_SIGN), drawn within the
 * codes with channels at INT32_MIN / INT32_MAX, at +-2^20, repeated, just outside the codes. */
static void ew_threshold(int kind, uint32_t h, uint32_t w, uint32_t c, int enc, uint32_t levels, uint32_t n,
                         uint32_t off)
{
    be_op op;
    char what[96];
    const uint32_t planes = enc == BE_ENC_SIGN ? 1u : levels >= 8u ? 4u : levels >= 4u ? 3u : levels >= 2u ? 2u : 1u;
    uint32_t ch, l;
    while (c * levels > sizeof stage_b / sizeof stage_b[0] || c > MAX_CH)
        c = c / 2u | 1u;
    while (h * w * c + off > sizeof input || h * w * planes * be_words_for(c) * 4u > out_limit)
        h > 1u ? h-- : w--;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_THRESHOLD;
    op.n_inputs = 1u;
    op.stage = BE_STAGE_THRESHOLD;
    op.encoding = (uint8_t)enc;
    op.levels = levels;
    ew_value(&op.in, kind, h, w, c, ew_zp(kind, n), 0u);
    be_test_set_value(&op.out, BE_KIND_BITS, op.in.rank, h, w, c, enc, planes);
    for (ch = 0; ch < c; ch++) {
        int32_t *t = stage_b + (size_t)ch * levels;
        const uint32_t mode = (ch + n) % 9u;
        stage_a8[ch] = (xs() & 1u) ? -1 : 1;
        for (l = 0; l < levels; l++) {
            int32_t v = (int32_t)(xs() % 420u) - 140; /* around the codes -128..255 and their negation */
            uint32_t m;
            if (mode == 1u)
                v = (xs() & 1u) ? INT32_MAX : INT32_MIN;
            else if (mode == 2u)
                v = ((xs() & 1u) ? (1 << 20) : -(1 << 20)) + (int32_t)l;
            else if (mode == 3u)
                v = (int32_t)(xs() % 4u) + ((xs() & 1u) ? 254 : -130);
            for (m = l; m > 0u && t[m - 1u] > v; m--) /* keep them sorted */
                t[m] = t[m - 1u];
            t[m] = v;
        }
        if (mode == 4u)
            for (l = 1; l < levels; l++)
                t[l] = t[0];
    }
    op.stage_a = stage_a8;
    op.stage_b = stage_b;
    ew_fill(&op.in, (uint8_t *)input + off);
    sprintf(what, "threshold %d %ux%ux%u enc%d L=%u +%u", kind, (unsigned)h, (unsigned)w, (unsigned)c, enc,
            (unsigned)levels, (unsigned)off);
    check_op_at(&op, (uint8_t *)input + off, scratch, sizeof scratch, what);
}

/* Merge of a (kind ka, accumulator bound ba) and b: per channel multipliers in mode (ch + n) % 5
 * (lowering-like near 2^30, INT32 extremes, zero, small, anything) scaled down until the loader's
 * bound |Ma| max_a + |Mb| max_b + |B| + 2^(s-1) <= 2^63 - 1 holds, then the bias (and shift)
 * within what is left, at its edge in every fourth channel; output: round (levels 0), sign
 * thresholds (levels 1, enc sign) or unsigned (levels L), int64 thresholds from around the
 * values to INT64_MIN / INT64_MAX. */
static int ew_uniform; /* 1: every channel as the lowering makes them (the 32-bit forms apply to whole chunks) */

static void ew_merge(int ka, uint32_t ba, int kb, uint32_t bb, uint32_t h, uint32_t w, uint32_t c, int enc,
                     uint32_t levels, uint32_t n, uint32_t off)
{
    const uint64_t lim = 0x7FFFFFFFFFFFFFFFull;
    be_op op;
    be_value vb;
    be_inputs io;
    char what[128];
    uint32_t ch, l, planes = 1u;
    uint8_t *pa;
    while (c > 72u || (levels > 0u && c * levels * 8u > EW_T_BYTES))
        c = c / 2u | 1u;
    for (;;) {
        const uint32_t na = h * w * c * (ka == BE_KIND_I32 ? 4u : 1u), nb = h * w * c * (kb == BE_KIND_I32 ? 4u : 1u);
        const uint32_t no = levels ? h * w * 4u * be_words_for(c) * (enc == BE_ENC_SIGN ? 1u : 2u) : h * w * c;
        if ((na + off <= sizeof input && nb <= EW_B_BYTES && no <= out_limit) || (h == 1u && w == 1u))
            break;
        h > 1u ? h-- : w--;
    }
    memset(&op, 0, sizeof op);
    op.type = BE_OP_MERGE;
    op.n_inputs = 2u;
    pa = (uint8_t *)input + (ka == BE_KIND_I32 ? 0u : off); /* accumulators live in the arena (aligned) */
    ew_value(&op.in, ka, h, w, c, ew_zp(ka, n), ba);
    ew_value(&vb, kb, h, w, c, ew_zp(kb, n / 4u + 1u), bb);
    if (op.in.nbytes + (size_t)(pa - (uint8_t *)input) > sizeof input || vb.nbytes > EW_B_BYTES)
        return;
    for (ch = 0; ch < c; ch++) {
        const uint32_t mode = ew_uniform ? ((ch + n) % 2u ? 0u : 3u) : (ch + n) % 5u;
        const uint32_t ma_max = ew_cmax(&op.in), mb_max = ew_cmax(&vb);
        int64_t ma, mb, bias = 0;
        uint64_t used, rest, half = 0u;
        uint32_t s = 0u;
        if (mode == 0u) {
            ma = (int64_t)((1u << 29) + (xs() >> 2));
            mb = (int64_t)((1u << 27) + (xs() >> 4));
        } else if (mode == 1u) {
            ma = (xs() & 1u) ? INT32_MAX : INT32_MIN;
            mb = (xs() & 1u) ? INT32_MAX : INT32_MIN;
        } else if (mode == 2u) {
            ma = 0;
            mb = (int64_t)(xs() % 4096u);
        } else if (mode == 3u) {
            ma = (int64_t)(xs() % 65536u);
            mb = (int64_t)(xs() % 300u);
        } else {
            ma = ew_i32(xs());
            mb = ew_i32(xs());
        }
        if (xs() & 1u && ma != INT32_MIN)
            ma = -ma;
        if (xs() & 1u && mb != INT32_MIN)
            mb = -mb;
        while ((uint64_t)(ma < 0 ? -ma : ma) * ma_max + (uint64_t)(mb < 0 ? -mb : mb) * mb_max > lim)
            mb /= 2; /* both at 2^31 with bounds near 2^31: scale one down */
        used = (uint64_t)(ma < 0 ? -ma : ma) * ma_max + (uint64_t)(mb < 0 ? -mb : mb) * mb_max;
        rest = lim - used;
        if (levels == 0u) { /* a shift whose rounding term fits what is left */
            s = (ch + n) % 4u == 0u ? 62u : xs() % 63u;
            while (s > 0u && ((uint64_t)1u << (s - 1u)) > rest)
                s--;
            if (mode == 0u && (ch + n) % 4u != 0u)
                s = 28u + xs() % 10u;
            if (ew_uniform)
                s = 16u + xs() % 25u;
            while (s > 0u && ((uint64_t)1u << (s - 1u)) > rest)
                s--;
            half = s == 0u ? 0u : (uint64_t)1u << (s - 1u);
        }
        rest -= half;
        if (ew_uniform)
            bias = ew_rnd64() % ((int64_t)1 << (30u + (ch + n) % 14u));
        else if ((ch + n) % 4u == 1u)
            bias = (xs() & 1u) ? (int64_t)rest : -(int64_t)rest;
        else if (rest > 0u)
            bias = ew_rnd64() % (int64_t)(rest > 0x3FFFFFFFFFFull ? 0x3FFFFFFFFFFull : rest);
        stage_a32[ch] = (int32_t)ma;
        stage_b[ch] = (int32_t)mb; /* Mb: stage_b[0 .. c), the bias: stage_b[72 ..) (M0: 216 entries) */
        ew_put64(stage_b + 72u + 2u * ch, bias);
        if (levels == 0u) {
            stage_a8[ch] = (int8_t)s;
        } else {
            const int64_t span = (int64_t)(used > 0x3FFFFFFFFFFFFFFull ? 0x3FFFFFFFFFFFFFFull : used) + 1;
            stage_a8[ch] = (xs() & 1u) ? -1 : 1;
            for (l = 0; l < levels; l++) {
                const uint32_t tm = (ch + n + l) % 7u;
                int64_t v = bias + ew_rnd64() % span;
                uint32_t m;
                int32_t *t = EW_T + 2u * ((size_t)ch * levels);
                if (tm == 1u)
                    v = (xs() & 1u) ? INT64_MAX : INT64_MIN;
                else if (tm == 2u)
                    v = (xs() & 1u) ? INT64_MAX - (int64_t)(xs() % 3u) : INT64_MIN + (int64_t)(xs() % 3u);
                else if (tm == 3u)
                    v = ew_rnd64();
                else if (tm == 4u)
                    v = (int64_t)(xs() % 5u) - 2;
                for (m = l; m > 0u && be_rd_i64(t + 2u * (m - 1u)) > v; m--) /* sorted */
                    ew_put64(t + 2u * m, be_rd_i64(t + 2u * (m - 1u)));
                ew_put64(t + 2u * m, v);
            }
        }
    }
    op.stage_a = stage_a32;
    op.stage_b = stage_b;
    op.stage_c = stage_b + 72u;
    op.stage_d = stage_a8;
    if (levels == 0u) {
        op.stage = BE_STAGE_ROUND;
        op.zero_point = n % 7u == 0u ? -128 : n % 7u == 1u ? 127 : (int32_t)(xs() % 256u) - 128;
        ew_value(&op.out, BE_KIND_I8, h, w, c, op.zero_point, 0u);
        op.out.rank = op.in.rank;
    } else {
        op.stage = BE_STAGE_THRESHOLD;
        op.encoding = (uint8_t)enc;
        op.levels = levels;
        op.stage_e = EW_T;
        planes = enc == BE_ENC_SIGN ? 1u : levels >= 2u ? 2u : 1u;
        be_test_set_value(&op.out, BE_KIND_BITS, op.in.rank, h, w, c, enc, planes);
    }
    ew_fill(&op.in, pa);
    ew_fill(&vb, weights);
    io.n = 2u;
    io.data[0] = pa;
    io.data[1] = weights;
    io.value[0] = &op.in;
    io.value[1] = &vb;
    sprintf(what, "merge %d(%lu) + %d(%lu) %ux%ux%u enc%d L=%u n=%u +%u", ka, (unsigned long)ba, kb, (unsigned long)bb,
            (unsigned)h, (unsigned)w, (unsigned)c, enc, (unsigned)levels, (unsigned)n, (unsigned)off);
    check_op_at(&op, &io, scratch, sizeof scratch, what);
}

/* Concat of k inputs of one type: codes (kind, zero point shared) or bits (sign, or unsigned with
 * 2 planes), channel counts from chs. */
static void ew_concat(int kind, int enc, const uint32_t *chs, uint32_t k, uint32_t h, uint32_t w, uint32_t off)
{
    be_op op;
    be_value v[4] = {{0}}; /* (GCC -Os cannot see that k >= 1 inputs are set) */
    be_inputs io;
    char what[96];
    uint32_t j, ctot = 0u, used = 0u;
    const uint32_t planes = enc == BE_ENC_UNSIGNED ? 2u : 1u;
    for (;;) {
        uint32_t in_bytes = 0u;
        ctot = 0u;
        for (j = 0; j < k; j++) {
            ctot += chs[j];
            in_bytes += kind == BE_KIND_BITS ? h * w * planes * be_words_for(chs[j]) * 4u : h * w * chs[j];
        }
        if ((in_bytes + 16u * k <= EW_B_BYTES &&
             (kind == BE_KIND_BITS ? h * w * planes * be_words_for(ctot) * 4u : h * w * ctot) <= out_limit) ||
            (h == 1u && w == 1u))
            break;
        h > 1u ? h-- : w--;
    }
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONCAT;
    op.n_inputs = k;
    io.n = k;
    for (j = 0; j < k; j++) {
        uint8_t *p = (uint8_t *)weights + used;
        if (kind == BE_KIND_BITS) {
            be_test_set_value(&v[j], BE_KIND_BITS, 3u, h, w, chs[j], enc, planes);
        } else {
            be_test_set_value(&v[j], kind, 3u, h, w, chs[j], BE_ENC_NONE, 1u);
            v[j].zero_point = ew_zp(kind, k);
            if (j == 0u) /* the first one at an odd address (it may be the graph input) */
                p = (uint8_t *)input + off;
        }
        if (p != (uint8_t *)input + off)
            used += (v[j].nbytes + 15u) & ~15u;
        if (used > EW_B_BYTES)
            return;
        ew_fill(&v[j], p);
        io.data[j] = p;
        io.value[j] = &v[j];
    }
    op.in = v[0];
    if (kind == BE_KIND_BITS)
        be_test_set_value(&op.out, BE_KIND_BITS, 3u, h, w, ctot, enc, planes);
    else {
        be_test_set_value(&op.out, kind, 3u, h, w, ctot, BE_ENC_NONE, 1u);
        op.out.zero_point = v[0].zero_point;
    }
    if (op.out.nbytes > out_limit)
        return;
    sprintf(what, "concat %d enc%d k=%u %ux%u c0=%u +%u", kind, enc, (unsigned)k, (unsigned)h, (unsigned)w,
            (unsigned)chs[0], (unsigned)off);
    check_op_at(&op, &io, scratch, sizeof scratch, what);
}

static void test_elementwise(void)
{
    static const uint32_t chans[] = {1, 3, 31, 33, 65, 32, 7};
    static const uint32_t hw[][2] = {{1, 1}, {3, 5}, {5, 3}, {1, 7}, {7, 7}, {2, 9}, {4, 4}};
    static const uint32_t bounds[] = {288, 1, 1u << 20, 0x7FFFFFFFu, 127, 65535};
    uint32_t i, n = 0;
    for (i = 0; i < 7u * 7u; i++, n++) {
        const uint32_t c = chans[i % 7u], h = hw[i / 7u][0], w = hw[i / 7u][1], off = i % 4u;
        const int k1 = i % 3u == 1u ? BE_KIND_U8 : BE_KIND_I8, k2 = i % 5u == 2u ? BE_KIND_U8 : BE_KIND_I8;
        ew_add(k1, k2, h, w, c, n, off);
        ew_add(BE_KIND_I8, BE_KIND_I8, h + 1u, w, c, n + 1u, 3u - off); /* the lowering's case */
        ew_requantize(k1, h, w, c, n, off);
        ew_threshold(k1, h, w, c, BE_ENC_SIGN, 1u, n, off);
        ew_threshold(k2, h, w, c, BE_ENC_UNSIGNED, i % 4u == 0u ? 1u : i % 4u == 1u ? 3u : i % 4u == 2u ? 7u : 15u, n, off);
        ew_pool(1, k1, h + 2u, w + 1u, c, 2u, 2u, 2u, 2u, n, off);
        ew_pool(0, k2, h + 2u, w + 1u, c, 2u, 2u, 2u, 2u, n, off);
        ew_pool((int)(i & 1u), k1, h + 2u, w + 2u, c, i % 3u == 0u ? 0u : 3u, i % 3u == 0u ? 0u : 2u, 1u + i % 2u,
                1u + (i / 2u) % 3u, n + 2u, 3u - off); /* global (kh = 0), 3x2 windows, strides 1..3 */
        ew_merge(i % 2u ? BE_KIND_I32 : k1, bounds[i % 6u], k2, 0u, h, w, c, BE_ENC_NONE, 0u, n, off);
        ew_merge(k1, 0u, i % 3u ? BE_KIND_I32 : k2, bounds[(i + 1u) % 6u], h, w, c, BE_ENC_SIGN, 1u, n, off);
        ew_merge(i % 2u ? BE_KIND_I32 : k2, bounds[(i + 2u) % 6u], i % 5u ? BE_KIND_I32 : k1, bounds[(i + 3u) % 6u], h,
                 w, c, i % 4u ? BE_ENC_SIGN : BE_ENC_UNSIGNED, i % 4u ? 1u : 3u, n + 3u, off);
        ew_uniform = 1; /* as the lowering makes them: the 32-bit forms take whole chunks */
        ew_merge(i % 2u ? BE_KIND_I32 : k1, bounds[i % 3u], k2, 0u, h, w, c, BE_ENC_NONE, 0u, n, off);
        ew_merge(k1, 0u, i % 3u ? BE_KIND_I32 : k2, bounds[(i + 1u) % 3u], h, w, c, BE_ENC_SIGN, 1u, n, off);
        ew_uniform = 0;
        if (i % 7u == 0u) { /* the round stage of two accumulators at their largest bounds */
            ew_merge(BE_KIND_I32, 0x7FFFFFFFu, BE_KIND_I32, 0x7FFFFFFFu, h, w, c, BE_ENC_NONE, 0u, n + 5u, 0u);
            ew_merge(BE_KIND_I32, 288u, BE_KIND_I8, 0u, h, w, c, BE_ENC_SIGN, 1u, n + 1u, 0u); /* the ResNet block */
        }
    }
    { /* Concat: codes, sign bits and unsigned planes, channel counts across word boundaries */
        static const uint32_t cc[][3] = {{16, 16, 0}, {1, 3, 65}, {33, 31, 0}, {32, 32, 7}, {31, 1, 33}, {65, 65, 2}};
        for (i = 0; i < 6u; i++) {
            const uint32_t k = cc[i][2] ? 3u : 2u;
            ew_concat(i % 2u ? BE_KIND_U8 : BE_KIND_I8, BE_ENC_NONE, cc[i], k, 3u + i % 2u, 5u, i % 4u);
            ew_concat(BE_KIND_BITS, BE_ENC_SIGN, cc[i], k, 3u, 3u + i % 3u, 0u);
            ew_concat(BE_KIND_BITS, BE_ENC_UNSIGNED, cc[i], k, 2u + i % 2u, 3u, 0u);
        }
    }
}

/* ----------------------------------------------------------------------------------- lstm */

/* LSTM (be_lstm.h): every variant along the reference's own trajectory. Each step runs ref from
 * the current state, then every variant from a copy of the same state, and compares the status,
 * the output h' and the new state (c and h); a character id beyond the vocabulary must return
 * BE_ERR_INPUT and leave the state as it was. Hidden sizes 1 .. 128 (odd, 32 +- 1), one-hot
 * vocabularies 1 .. 256 and int8 inputs 1 .. 128; constants moderate, at the int32 limit (every
 * clamp reached) or all weight bits 1 with the codes at +-127. */
#if defined(__ARM_ARCH_6M__) /* 16 KiB of RAM: every LSTM buffer is one of the other tests' */
#define LSTM_MAX_H 33u
#define LSTM_WH_WORDS W_WORDS
#define LSTM_WX_WORDS IO_WORDS
#define lstm_wh weights
#define lstm_wx input
#define lstm_bias stage_b                           /* MAX_CH * 3 >= 4 * 33 int32 */
#define lstm_ref_state ((uint32_t *)(void *)stage_a32) /* 288 bytes >= the state of 33 cells (192) */
#define lstm_pre (out_ref + IO_WORDS / 2u)
#define lstm_var_state (out_var + IO_WORDS / 2u)
#define lstm_in ((int8_t *)(void *)scratch)
#else
#define LSTM_MAX_H 128u
#define LSTM_WH_WORDS 2048u
#define LSTM_WX_WORDS 8192u
#define LSTM_STATE_WORDS ((LSTM_MAX_H * 5u + 32u) / 4u)
static uint32_t lstm_wh[LSTM_WH_WORDS], lstm_wx[LSTM_WX_WORDS];
static int32_t lstm_bias[4u * LSTM_MAX_H];
static uint32_t lstm_ref_state[LSTM_STATE_WORDS], lstm_pre[LSTM_STATE_WORDS], lstm_var_state[LSTM_STATE_WORDS];
static int8_t lstm_in[LSTM_MAX_H];
#endif
static int32_t lstm_mul[8];
static uint8_t lstm_shift[4];

static void lstm_bits(uint32_t *w, uint32_t rows, uint32_t n, int ones)
{
    const uint32_t cw = be_words_for(n);
    uint32_t r, j;
    for (r = 0; r < rows; r++)
        for (j = 0; j < cw; j++)
            w[r * cw + j] = (ones ? 0xFFFFFFFFu : xs()) & (j + 1u == cw ? be_last_word_mask(n) : 0xFFFFFFFFu);
}

static int lstm_state_equal(const void *a, const void *b, uint32_t hid)
{
    return memcmp(a, b, 4u * hid) == 0 &&
           memcmp((const uint8_t *)a + be_lstm_h_offset(hid), (const uint8_t *)b + be_lstm_h_offset(hid), hid) == 0;
}

static void lstm_case(uint32_t hid, uint32_t n_in, int onehot, int mode, uint32_t steps)
{
    const uint32_t isa = be_isa_detect(), rows = 4u * hid;
    const be_kernel *ref = be_test_ref_kernel(BE_OP_LSTM);
    const uint32_t sbytes = be_lstm_state_bytes(hid);
    be_op op;
    uint32_t j, c, t;
    if (hid > LSTM_MAX_H || (!onehot && n_in > LSTM_MAX_H) || rows * be_words_for(hid) > LSTM_WH_WORDS ||
        (onehot ? n_in * be_words_for(rows) : rows * be_words_for(n_in)) > LSTM_WX_WORDS || hid > out_limit)
        return;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_LSTM;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = n_in;
    op.out_ch = hid;
    op.k = hid;
    op.w_row_bytes = be_words_for(hid) * 4u;
    op.shift = (int32_t)(7u + xs() % 8u);
    if (onehot)
        be_test_set_value(&op.in, BE_KIND_U8, 1u, 1u, 1u, 1u, BE_ENC_NONE, 1u);
    else
        be_test_set_value(&op.in, BE_KIND_I8, 1u, 1u, 1u, n_in, BE_ENC_NONE, 1u);
    be_test_set_value(&op.out, BE_KIND_I8, 1u, 1u, 1u, hid, BE_ENC_NONE, 1u);
    lstm_bits(lstm_wh, rows, hid, mode == 2);
    if (onehot)
        lstm_bits(lstm_wx, n_in, rows, mode == 2);
    else
        lstm_bits(lstm_wx, rows, n_in, mode == 2);
    for (j = 0; j < 4u; j++) { /* within the loader's bound: |Mh| 127 H + |Mx| xmax + |B| + 2^(s-1) */
        const uint32_t s = mode == 0 ? 1u + xs() % 30u : 8u + xs() % 12u;
        const uint32_t room = (0x7FFFFFFFu - (1u << (s - 1u))) / 3u;
        const uint32_t xmax = onehot ? 1u : 127u * n_in, mh = room / (127u * hid), mx = room / xmax;
        lstm_shift[j] = (uint8_t)s;
        lstm_mul[j] = (int32_t)(mode ? mh : (xs() % (mh + 1u)) >> (xs() % 8u)) * ((xs() & 1u) ? -1 : 1);
        lstm_mul[4u + j] = (int32_t)(mode ? mx : (xs() % (mx + 1u)) >> (xs() % 8u)) * ((xs() & 1u) ? -1 : 1);
        for (c = 0; c < hid; c++)
            lstm_bias[j * hid + c] = mode == 1 && c % 3u == 0u ? ((xs() & 1u) ? (int32_t)room : -(int32_t)room)
                                                             : (int32_t)(xs() % (room + 1u)) - (int32_t)(room / 2u);
    }
    op.weights = lstm_wh;
    op.stage_a = lstm_wx;
    op.stage_b = lstm_mul;
    op.stage_c = lstm_bias;
    op.stage_d = lstm_shift;
    memset(lstm_ref_state, 0, sbytes);
    for (t = 0; t < steps; t++) {
        const void *in = lstm_in;
        be_status st_ref;
        size_t i;
        if (onehot) {
            uint8_t *x = (uint8_t *)lstm_in;
            *x = (uint8_t)(xs() % n_in);
            if (t % 7u == 6u && n_in < 256u) /* out of the vocabulary: BE_ERR_INPUT, nothing written */
                *x = (uint8_t)(n_in + xs() % (256u - n_in));
        } else {
            for (i = 0; i < n_in; i++)
                lstm_in[i] = (int8_t)(mode == 2 ? ((xs() & 1u) ? 127 : -127) : (int32_t)(xs() % 255u) - 127);
        }
        memcpy(lstm_pre, lstm_ref_state, sbytes);
        memset(out_ref, 0xA5, hid);
        st_ref = ref->fn(&op, in, out_ref, lstm_ref_state);
        n_cases++;
        if (st_ref != BE_OK) {
            CHECK(onehot && *(const uint8_t *)in >= n_in && st_ref == BE_ERR_INPUT);
            CHECK(lstm_state_equal(lstm_pre, lstm_ref_state, hid));
        }
        for (i = 0; i < be_kernel_table_len; i++) {
            const be_kernel *k = &be_kernel_table[i];
            be_status st;
            if (k == ref || strcmp(k->name, "ref") == 0 || k->op_type != BE_OP_LSTM || !be_kernel_usable(k, &op, isa))
                continue;
            memcpy(lstm_var_state, lstm_pre, sbytes);
            memset(out_var, 0xA5, hid);
            st = k->fn(&op, in, out_var, lstm_var_state);
            count_run(k->name);
            CHECK_EQ(st, st_ref);
            be_test_checks++;
            if ((st_ref == BE_OK && memcmp(out_ref, out_var, hid) != 0) ||
                !lstm_state_equal(lstm_ref_state, lstm_var_state, hid)) {
                be_test_failures++;
                printf("MISMATCH variant %s on lstm H=%u I=%u onehot=%d mode=%d step %u\n", k->name, (unsigned)hid,
                       (unsigned)n_in, onehot, mode, (unsigned)t);
            }
        }
    }
}

static void test_lstm(void)
{
    static const uint32_t hs[] = {1, 5, 31, 32, 33, 64, 65, 100, 128};
    static const uint32_t vs[] = {1, 2, 7, 101, 256};
    static const uint32_t is[] = {1, 5, 33, 65, 100, 128};
    uint32_t a, b;
    int mode;
    for (a = 0; a < sizeof hs / sizeof hs[0]; a++)
        for (b = 0; b < sizeof is / sizeof is[0]; b++)
            for (mode = 0; mode < 3; mode++) {
                lstm_case(hs[a], vs[b % (sizeof vs / sizeof vs[0])], 1, mode, 10u);
                lstm_case(hs[a], is[b], 0, mode, 6u);
            }
}

int main(void)
{
    int i;
    test_dense();
    test_conv();
    test_u8();
    test_int8();
    test_pool_flatten();
    test_elementwise();
    test_lstm();
    printf("test_variants: isa 0x%lx, %u cases;", (unsigned long)be_isa_detect(), n_cases);
    for (i = 0; i < MAX_VARIANTS && vnames[i] != NULL; i++)
        printf(" %s=%u", vnames[i], vruns[i]);
    printf("\n");
    printf("test_variants ew:");
    for (i = 1; i <= BE_OP_TYPES; i++) {
        int j;
        for (j = 0; j < EW_SLOTS; j++)
            if (ew_runs[i][j] != 0u)
                printf(" %s/%s=%u", ew_op_name[i], ew_slot_name[j], (unsigned)ew_runs[i][j]);
    }
    printf("\n");
    return be_test_report("test_variants");
}
