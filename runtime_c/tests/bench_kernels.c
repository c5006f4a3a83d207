/* bench_kernels.c -- executed instructions per binary MAC of every kernel variant of this build
 * on two representative binary layers (run on the QEMU boards with -icount; see
 * docs/kernels.md and tests/test_target_matrix.py, which builds, runs and converts this).
 *
 *   dense: 1024 sign bits -> BENCH_DENSE_OUT outputs (default 1024), binary weights, sign stage
 *   dense256o16 ... dense256o256: the same with K sign bits -> O outputs (o10: scores, the heads);
 *          densep2k288: 288 unsigned 2-bit levels (2 bit-planes) -> 64, sign stage (the qrelu2
 *          VGG's dense16; MACs are logical: 288 x 64); dense288o64 the sign VGG's dense16 (rows
 *          of 9 words), dense256o10 the VGG32's head (scores), densep2k64 / densep2k64o10
 *          the qrelu2 VGG's 64 -> 64 (sign stage here) and its head (scores)
 *   conv:  14 x 14 x 64 sign bits, 3x3 kernel, stride 1, padding 1 -> 14 x 14 x 64, sign stage
 *   conv8, conv8o16, conv16, conv16o32: the small layers of the VGG models (3x3, stride 1,
 *          padding 1, sign stage): 28 x 28 x 8 -> 8, 14 x 14 x 8 -> 16, 14 x 14 x 16 -> 16,
 *          7 x 7 x 16 -> 32; conv8q2: 14 x 14 x 8 unsigned 2-bit levels (qrelu2) -> 8;
 *          conv8q2l: the same -> 16 channels of 2-bit levels (3 thresholds each: the qrelu2 VGG);
 *          conv16q2l: 14 x 14 x 16 2-bit levels -> 16 channels of 2-bit levels; conv16q2o32:
 *          7 x 7 x 16 2-bit levels -> 32 channels of 2-bit levels (the qrelu2 VGG's conv10);
 *          conv32q2: 7 x 7 x 32 2-bit levels -> 32 of 2-bit levels (the qrelu2 VGG's conv12), conv32s7:
 *          the same with sign bits in and out (the sign VGG's conv12);
 *          conv40acc, conv80acc: 14 x 14 x 40 -> 40 and 7 x 7 x 80 -> 80, AccStage (int32
 *          accumulators): the residual convs of the ResNet with widths 16, 40, 80 (not on M0);
 *          conv16rq, conv32rq, conv64rq: 28 x 28 x 16 -> 16, 14 x 14 x 32 -> 32, 7 x 7 x 64 -> 64
 *          into a RequantStage of a trained layer's scale (s 26..29) (examples/custom_model's binary convs:
 *          binary conv, BatchNorm, QuantInt8; not on M0)
 * and three first layers (uint8 pixels x binary weights, sign stage; "instructions per MAC"):
 *   u8dense: 784 pixels (28 x 28) -> 256 outputs (the MLP 784-256-256-10); the weights are a
 *            const table (flash), so every board, the Cortex-M0 too, runs all 256 rows
 *   u8conv1: 28 x 28 x 1 pixels, 3x3 kernel, stride 1, padding 1 -> 28 x 28 x 32
 *   u8conv1q2: the same -> 28 x 28 x 8 unsigned 2-bit levels (the qrelu2 VGG's first layer;
 *            Cortex-M0: 14 x 14 x 1 -> 8)
 *   u8conv1o8, u8conv1o16: u8conv1 with 8 and 16 output channels (the small VGGs' first layer)
 *   u8conv3: 16 x 16 x 3 pixels, 3x3 kernel, stride 1, padding 1 -> 16 x 16 x 32
 *   u8conv7: 24 x 24 x 3 pixels, 7x7 kernel (K = 147), stride 2, padding 3 -> 12 x 12 x 32
 *   u8conv7o8: the same with 8 output channels (the tables shared by fewer rows)
 *
 * and the int8 layers (int8 weights over u8 / i8 codes with a zero point, RequantStage output;
 * "instructions per MAC" = per int8 multiply-accumulate of the layer; shapes smaller on the
 * Cortex-M0, whose 16 KiB RAM holds no more):
 *   i8c16:  12 x 12 x 16 i8 codes (zero point -5), 3x3, stride 1, padding 1 -> 12 x 12 x 16
 *           (Cortex-M0: 8 x 8 x 16)
 *   i8c32:  10 x 10 x 32 u8 codes (zero point 128), 3x3, stride 1, padding 1 -> 10 x 10 x 32
 *   i8c64:  8 x 8 x 64 i8 codes (zero point 3), 3x3, stride 1, padding 1 -> 8 x 8 x 64
 *   i8dw:   16 x 16 x 32 i8 codes (zero point -128), depthwise 3x3 (groups = 32), stride 1,
 *           padding 1 -> 16 x 16 x 32 (Cortex-M0: 8 x 8 x 16)
 *   i8dw2:  12 x 12 x 16 u8 codes (zero point 7), depthwise 3x3 with channel multiplier 2,
 *           stride 2, padding (1, 0, 1, 0) -> 6 x 6 x 32 (Cortex-M0: 8 x 8 x 8 -> 16)
 *   i8first: 28 x 28 x 1 u8 pixels (zero point 0), 3x3, stride 1, padding 1 -> 28 x 28 x 16
 *           (Cortex-M0: 14 x 14 x 1 -> 8)
 *   i8dense: 512 i8 codes (zero point 1) -> 64 (Cortex-M0: 256 -> 16)
 *   i8pw16, i8pw40: 14 x 14 x 16 -> 40 and 7 x 7 x 40 -> 80 i8 codes, 1x1 (the ResNets'
 *           downsampling convs; not on the Cortex-M0)
 *
 * For each op and each applicable kernel of the table (and "ref" unless BENCH_NO_REF), the
 * kernel runs once between two board_ticks() reads and the program prints
 *     bench <op> <variant> <binary MACs> <ticks>
 * Under `-icount shift=6` ticks are proportional to executed instructions (NOT cycles):
 * instructions = ticks / (tick_hz * 64 ns) (binedge.targets.instructions_from_ticks). Each
 * variant's output is also compared with ref's (when ref runs): "bench: N mismatches".
 * Hosted targets (x86_64: wall-clock nanoseconds, not instructions): build with
 * -DBENCH_REPEAT=N and each kernel's time is the median over BENCH_ROUNDS (15) rounds of the
 * mean of N runs (docs/kernels.md has the command).
 * Data: xorshift32, fixed seed. The weights live in RAM (a static pool); the Cortex-M0's
 * 16 KiB RAM gets fewer dense rows (BENCH_DENSE_OUT=32), which does not change the count per
 * MAC (every row costs the same).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "board.h"

#ifndef BENCH_DENSE_OUT
#define BENCH_DENSE_OUT 1024u
#endif
#define DENSE_K 1024u
#define CONV_HW 14u
#define CONV_C 64u
#define CONV_WORDS (CONV_C / 32u)

#define DENSE_POOL (BENCH_DENSE_OUT * (DENSE_K / 32u) + DENSE_K / 32u + 2u * BENCH_DENSE_OUT / 32u + BENCH_DENSE_OUT + BENCH_DENSE_OUT / 4u)
#define CONV_POOL (CONV_C * 9u * CONV_WORDS + 3u * CONV_HW * CONV_HW * CONV_WORDS + 9u * CONV_WORDS + 2u * CONV_C)
#define POOL_WORDS (DENSE_POOL > CONV_POOL ? DENSE_POOL : CONV_POOL)

/* first layers */
#define U8D_K 784u
#define U8D_OUT 256u
#define U8D_RW 25u /* words(784) */
#define U8C_OUT 32u

/* The u8dense weights: U8D_OUT rows of U8D_RW words, a fixed hash of the word index (the last
 * word of a row has 16 valid bits: padding bits are zero). A const array, so it lives in flash. */
#define U8H(i) ((((uint32_t)(i) * 0x9E3779B1u) ^ (((uint32_t)(i) * 0x85EBCA77u) >> 15)) & \
                ((uint32_t)(i) % U8D_RW == U8D_RW - 1u ? 0xFFFFu : 0xFFFFFFFFu))
#define U8X8(b) U8H((b) + 0u), U8H((b) + 1u), U8H((b) + 2u), U8H((b) + 3u), U8H((b) + 4u), U8H((b) + 5u), \
                U8H((b) + 6u), U8H((b) + 7u)
#define U8X64(b) U8X8((b) + 0u), U8X8((b) + 8u), U8X8((b) + 16u), U8X8((b) + 24u), U8X8((b) + 32u), \
                 U8X8((b) + 40u), U8X8((b) + 48u), U8X8((b) + 56u)
#define U8X640(b) U8X64((b) + 0u), U8X64((b) + 64u), U8X64((b) + 128u), U8X64((b) + 192u), U8X64((b) + 256u), \
                  U8X64((b) + 320u), U8X64((b) + 384u), U8X64((b) + 448u), U8X64((b) + 512u), U8X64((b) + 576u)
static const uint32_t u8d_weights[U8D_OUT * U8D_RW] = {
    U8X640(0u), U8X640(640u), U8X640(1280u), U8X640(1920u), U8X640(2560u),
    U8X640(3200u), U8X640(3840u), U8X640(4480u), U8X640(5120u), U8X640(5760u)};

static uint32_t pool[POOL_WORDS + 64u];
static uint32_t rng = 0x2545F491u;
static unsigned mismatches;

static uint32_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void bits_value(be_value *v, uint32_t rank, uint32_t h, uint32_t w, uint32_t c)
{
    memset(v, 0, sizeof *v);
    v->kind = BE_KIND_BITS;
    v->rank = (uint8_t)rank;
    v->encoding = BE_ENC_SIGN;
    v->planes = 1u;
    v->h = h;
    v->w = w;
    v->c = c;
    v->cw = be_words_for(c);
    v->pixel_bytes = v->cw * 4u;
    v->nbytes = h * w * v->pixel_bytes;
}

/* Sign thresholds near 0 (random data: acc is of order sqrt(K)), random directions. */
static void stage(be_op *op, int8_t *dir, int32_t *t)
{
    uint32_t c;
    op->stage = BE_STAGE_THRESHOLD;
    op->encoding = BE_ENC_SIGN;
    op->levels = 1u;
    for (c = 0; c < op->out_ch; c++) {
        dir[c] = (xs() & 1u) ? -1 : 1;
        t[c] = (int32_t)(xs() % 33u) - 16;
    }
    op->stage_a = dir;
    op->stage_b = t;
}

static void fill(uint32_t *p, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        p[i] = xs();
}

/* Ticks of one run of kernel k. BENCH_REPEAT (hosted targets, wall-clock ticks): the median
 * over BENCH_ROUNDS rounds of the mean of BENCH_REPEAT runs. */
#ifndef BENCH_ROUNDS
#define BENCH_ROUNDS 15u
#endif
static uint64_t time_kernel(const be_kernel *k, const be_op *op, const void *in, void *out, void *scratch)
{
#ifdef BENCH_REPEAT
    uint64_t r[BENCH_ROUNDS], t;
    uint32_t i, j;
    k->fn(op, in, out, scratch); /* warm the caches */
    for (i = 0; i < BENCH_ROUNDS; i++) {
        uint64_t t0, t1;
        BOARD_BARRIER();
        t0 = board_ticks();
        BOARD_BARRIER();
        for (j = 0; j < (uint32_t)(BENCH_REPEAT); j++) {
            k->fn(op, in, out, scratch);
            BOARD_BARRIER();
        }
        t1 = board_ticks();
        BOARD_BARRIER();
        r[i] = (t1 - t0) / (uint32_t)(BENCH_REPEAT);
        for (j = i; j > 0u && r[j - 1u] > r[j]; j--) { /* insertion sort */
            t = r[j];
            r[j] = r[j - 1u];
            r[j - 1u] = t;
        }
    }
    return r[BENCH_ROUNDS / 2u];
#else
    uint64_t t0, t1;
    BOARD_BARRIER();
    t0 = board_ticks();
    BOARD_BARRIER();
    k->fn(op, in, out, scratch);
    BOARD_BARRIER();
    t1 = board_ticks();
    BOARD_BARRIER();
    return t1 - t0;
#endif
}

static void run_all(const be_op *op, const char *what, const void *in, void *out, void *out_ref, void *scratch,
                    uint32_t macs)
{
    const uint32_t isa = be_isa_detect();
    int have_ref = 0;
    size_t i;
#ifndef BENCH_NO_REF
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        if (k->op_type == (int)op->type && strcmp(k->name, "ref") == 0) {
            printf("bench %s ref %lu %lu\n", what, (unsigned long)macs,
                   (unsigned long)time_kernel(k, op, in, out_ref, scratch));
            have_ref = 1;
        }
    }
#endif
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        uint64_t ticks;
        if (k->op_type != (int)op->type || strcmp(k->name, "ref") == 0 || !be_kernel_usable(k, op, isa))
            continue;
        memset(out, 0, op->out.nbytes);
        ticks = time_kernel(k, op, in, out, scratch);
        printf("bench %s %s %lu %lu\n", what, k->name, (unsigned long)macs, (unsigned long)ticks);
        if (have_ref && memcmp(out, out_ref, op->out.nbytes) != 0) {
            printf("bench: %s %s differs from ref\n", what, k->name);
            mismatches++;
        }
    }
}

/* A Dense: k sign bits (planes 0) or k levels on `planes` unsigned bit-planes -> o outputs, sign
 * thresholds or scores (int32 multiplier * acc + offset). The small ones (classifier heads) are
 * dominated by per-call and per-output costs. */
static void bench_dense_shape(const char *what, uint32_t k, uint32_t o, int scores, uint32_t planes)
{
    const uint32_t kw = be_words_for(k), ow = scores ? o : be_words_for(o), pw = planes ? planes : 1u;
    uint32_t *w = pool, *in = w + o * kw, *out = in + kw * pw, *out_ref = out + ow;
    int32_t *t = (int32_t *)(out_ref + ow), *off = t + o;
    int8_t *dir = (int8_t *)(off + (scores ? o : 0u));
    uint32_t i, j;
    be_op op;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = op.k = k;
    op.out_ch = o;
    op.w_row_bytes = kw * 4u;
    bits_value(&op.in, 1u, 1u, 1u, k);
    if (planes) {
        op.in.encoding = BE_ENC_UNSIGNED;
        op.in.planes = (uint8_t)planes;
        op.in.pixel_bytes = op.in.nbytes = kw * pw * 4u;
    }
    fill(w, o * kw);
    fill(in, kw * pw);
    for (i = 0; i < o; i++) /* padding bits of each row zero */
        for (j = k; j < kw * 32u; j++)
            w[i * kw + j / 32u] &= ~(1u << (j % 32u));
    for (i = 0; i < pw; i++)
        for (j = k; j < kw * 32u; j++)
            in[i * kw + j / 32u] &= ~(1u << (j % 32u));
    op.weights = w;
    if (scores) {
        memset(&op.out, 0, sizeof op.out);
        op.out.kind = BE_KIND_I32;
        op.out.rank = 1u;
        op.out.h = op.out.w = 1u;
        op.out.c = o;
        op.out.pixel_bytes = op.out.nbytes = o * 4u;
        op.stage = BE_STAGE_SCORE;
        for (i = 0; i < o; i++) {
            t[i] = (int32_t)(xs() % 1000u) + 1;
            off[i] = (int32_t)(xs() % 100000u) - 50000;
        }
        op.stage_a = t;
        op.stage_b = off;
    } else {
        bits_value(&op.out, 1u, 1u, 1u, o);
        stage(&op, dir, t);
    }
    run_all(&op, what, in, out, out_ref, NULL, k * o);
}

static void bench_dense(void)
{
    bench_dense_shape("dense", DENSE_K, BENCH_DENSE_OUT, 0, 0u);
}

/* op = a binary 3x3 conv, stride 1, padding 1, hw x hw x c sign bits -> hw x hw x o (sign bits) */
static void conv3x3_op(be_op *op, uint32_t hw, uint32_t c, uint32_t o)
{
    memset(op, 0, sizeof *op);
    op->type = BE_OP_CONV2D;
    op->weight_kind = BE_WK_BINARY;
    op->in_ch = c;
    op->out_ch = o;
    op->kh = op->kw = 3u;
    op->sh = op->sw = 1u;
    op->pt = op->pb = op->pl = op->pr = 1u;
    op->k = 9u * c;
    op->w_row_bytes = be_words_for(c) * 4u;
    bits_value(&op->in, 3u, hw, hw, c);
    bits_value(&op->out, 3u, hw, hw, o);
}

static void bench_conv(void)
{
    const uint32_t npx = CONV_HW * CONV_HW * CONV_WORDS;
    uint32_t *w = pool, *in = w + CONV_C * 9u * CONV_WORDS, *out = in + npx, *out_ref = out + npx;
    uint32_t *scratch = out_ref + npx;
    int32_t *t = (int32_t *)(scratch + 9u * CONV_WORDS);
    int8_t *dir = (int8_t *)(t + CONV_C);
    be_op op;
    conv3x3_op(&op, CONV_HW, CONV_C, CONV_C);
    fill(w, CONV_C * 9u * CONV_WORDS);
    fill(in, npx);
    op.weights = w;
    stage(&op, dir, t);
    run_all(&op, "conv", in, out, out_ref, scratch, CONV_HW * CONV_HW * CONV_C * 9u * CONV_C);
}

/* A binary 3x3 conv (stride 1, padding 1) on C < 32 channels of P bit-planes (P = 1: sign bits;
 * else unsigned levels), hw x hw -> hw x hw x o, sign stage: the small layers of real models.
 * Each pixel (plane) is one word whose padding bits are zero. */
static void codes_value(be_value *v, int kind, uint32_t rank, uint32_t h, uint32_t w, uint32_t c, int32_t zp);
static void requant_stage(be_op *op, int32_t *mult, int32_t *bias, uint8_t *shift, int32_t zp, uint32_t s0,
                          uint32_t bshift);

static void bench_conv_small(const char *what, uint32_t hw, uint32_t c, uint32_t o, uint32_t planes, uint32_t levels)
{
    /* levels 0: the sign stage; 99: AccStage; 98: RequantStage; else unsigned levels 0 .. levels in
     * bit_length(levels) planes */
    const uint32_t npx = hw * hw, mask = be_last_word_mask(c), ow = be_words_for(o), cw = be_words_for(c);
    const uint32_t oq = levels >= 98u ? 32u : levels == 0u ? 1u : levels == 1u ? 1u : levels <= 3u ? 2u : 3u;
    uint32_t *w = pool, *in = w + o * 9u * cw, *out = in + npx * planes * cw;
    uint32_t *out_ref = out + npx * ow * oq, *scratch = out_ref + npx * ow * oq, i, k;
    int32_t *t = (int32_t *)(scratch + 9u * planes * cw);
    int8_t *dir = (int8_t *)(t + o * (levels == 0u ? 1u : levels));
    be_op op;
    conv3x3_op(&op, hw, c, o);
    if (planes > 1u) {
        op.in.encoding = BE_ENC_UNSIGNED;
        op.in.planes = (uint8_t)planes;
        op.in.pixel_bytes = planes * cw * 4u;
        op.in.nbytes = npx * op.in.pixel_bytes;
    }
    fill(w, o * 9u * cw);
    fill(in, npx * planes * cw);
    for (i = cw - 1u; i < o * 9u * cw; i += cw) /* the padding bits of each tap's last word */
        w[i] &= mask;
    for (i = cw - 1u; i < npx * planes * cw; i += cw)
        in[i] &= mask;
    op.weights = w;
    stage(&op, dir, t);
    if (planes > 1u)
        for (i = 0; i < o; i++)
            t[i] = (int32_t)(xs() % 33u) - 16 - (int32_t)((1u << planes) - 1u) * (int32_t)op.k / 4; /* acc is offset */
    if (levels == 99u) { /* AccStage: the exact int32 accumulators (a residual block's conv) */
        op.stage = BE_STAGE_ACC;
        op.encoding = BE_ENC_NONE;
        op.out.kind = BE_KIND_I32;
        op.out.encoding = BE_ENC_ACC;
        op.out.planes = 1u;
        op.out.pixel_bytes = o * 4u;
        op.out.nbytes = npx * op.out.pixel_bytes;
    } else if (levels == 98u) { /* RequantStage: shifts 26..29 (|acc| ~ sqrt(K): the codes spread) */
        requant_stage(&op, t, t + o, (uint8_t *)(t + 3u * o), (int32_t)(xs() % 21u) - 10, 26u, 4u);
        op.encoding = BE_ENC_NONE;
        op.levels = 0u;
        codes_value(&op.out, BE_KIND_I8, 3u, hw, hw, o, 0);
    } else if (levels != 0u) { /* ascending thresholds around the mean accumulator */
        op.encoding = BE_ENC_UNSIGNED;
        op.levels = levels;
        op.out.encoding = BE_ENC_UNSIGNED;
        op.out.planes = (uint8_t)oq;
        op.out.pixel_bytes = oq * ow * 4u;
        op.out.nbytes = npx * op.out.pixel_bytes;
        for (i = 0; i < o; i++) {
            int32_t base = -8 - (int32_t)(xs() % 9u); /* acc is about 0 +- 10 */
            for (k = 0; k < levels; k++, base += 1 + (int32_t)(xs() % 8u))
                t[i * levels + k] = base;
        }
    }
    run_all(&op, what, in, out, out_ref, scratch, npx * o * 9u * c);
}

static void u8_value(be_value *v, uint32_t rank, uint32_t h, uint32_t w, uint32_t c)
{
    memset(v, 0, sizeof *v);
    v->kind = BE_KIND_U8;
    v->rank = (uint8_t)rank;
    v->planes = 1u;
    v->h = h;
    v->w = w;
    v->c = c;
    v->pixel_bytes = c;
    v->nbytes = h * w * c;
}

/* Random pixels, a quarter of them 0 (as in a digit's background). */
static void fill_pixels(uint8_t *p, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        uint32_t r = xs();
        p[i] = (uint8_t)((r & 3u) == 0u ? 0u : r >> 24);
    }
}

/* Sign thresholds around the mean of a u8 x binary dot (about 0, spread ~ 128 * sqrt(K)). */
static void stage_u8(be_op *op, int8_t *dir, int32_t *t, uint32_t spread)
{
    uint32_t c;
    stage(op, dir, t);
    for (c = 0; c < op->out_ch; c++)
        t[c] = (int32_t)(xs() % (2u * spread + 1u)) - (int32_t)spread;
}

static void bench_u8_dense(void)
{
    uint32_t *in = pool, *out = in + U8D_K / 4u, *out_ref = out + U8D_OUT / 32u;
    int32_t *t = (int32_t *)(out_ref + U8D_OUT / 32u);
    int8_t *dir = (int8_t *)(t + U8D_OUT);
    be_op op;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = op.k = U8D_K;
    op.out_ch = U8D_OUT;
    op.w_row_bytes = U8D_RW * 4u;
    u8_value(&op.in, 1u, 1u, 1u, U8D_K);
    bits_value(&op.out, 1u, 1u, 1u, U8D_OUT);
    fill_pixels((uint8_t *)in, U8D_K);
    op.weights = u8d_weights;
    stage_u8(&op, dir, t, 3000u);
    run_all(&op, "u8dense", in, out, out_ref, NULL, U8D_K * U8D_OUT);
}

/* A u8 first-layer Conv2d: hw x hw x c pixels, kxk kernel, stride st, padding pd on every side,
 * o output channels, sign stage. */
/* levels 0: the sign stage; 3: unsigned 2-bit levels (3 ascending thresholds, 2 output planes) */
static void bench_u8_conv_levels(const char *what, uint32_t hw, uint32_t c, uint32_t k, uint32_t st, uint32_t pd,
                                 uint32_t o, uint32_t levels)
{
    const uint32_t ohw = (hw + 2u * pd - k) / st + 1u, taps = k * k, cw = be_words_for(c);
    const uint32_t npx = (hw * hw * c + 3u) / 4u, nout = ohw * ohw * be_words_for(o) * (levels != 0u ? 2u : 1u);
    uint32_t *w = pool, *in = w + o * taps * cw, *out = in + npx, *out_ref = out + nout;
    uint32_t *scratch = out_ref + nout;
    int32_t *t = (int32_t *)(scratch + (taps * c + 15u) / 16u * 4u);
    int8_t *dir = (int8_t *)(t + o * (levels != 0u ? levels : 1u));
    uint32_t i, l;
    be_op op;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONV2D;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = c;
    op.out_ch = o;
    op.kh = op.kw = k;
    op.sh = op.sw = st;
    op.pt = op.pb = op.pl = op.pr = pd;
    op.k = taps * c;
    op.w_row_bytes = cw * 4u;
    u8_value(&op.in, 3u, hw, hw, c);
    bits_value(&op.out, 3u, ohw, ohw, o);
    for (i = 0; i < o * taps * cw; i++)
        w[i] = xs() & be_last_word_mask(c);
    fill_pixels((uint8_t *)in, hw * hw * c);
    op.weights = w;
    stage_u8(&op, dir, t, 120u * taps * c / 9u);
    if (levels != 0u) {
        const uint32_t spread = 120u * taps * c / 9u;
        op.encoding = BE_ENC_UNSIGNED;
        op.levels = levels;
        op.out.encoding = BE_ENC_UNSIGNED;
        op.out.planes = 2u;
        op.out.pixel_bytes = 2u * be_words_for(o) * 4u;
        op.out.nbytes = ohw * ohw * op.out.pixel_bytes;
        for (i = 0; i < o; i++) {
            int32_t base = (int32_t)(xs() % (spread + 1u)) - (int32_t)spread;
            for (l = 0; l < levels; l++, base += 1 + (int32_t)(xs() % spread))
                t[i * levels + l] = base;
        }
    }
    run_all(&op, what, in, out, out_ref, scratch, ohw * ohw * o * taps * c);
}

static void bench_u8_conv_k(const char *what, uint32_t hw, uint32_t c, uint32_t k, uint32_t st, uint32_t pd,
                            uint32_t o)
{
    bench_u8_conv_levels(what, hw, c, k, st, pd, o, 0u);
}

/* 3x3, stride 1, padding 1 -> hw x hw x U8C_OUT */
static void bench_u8_conv(const char *what, uint32_t hw, uint32_t c)
{
    bench_u8_conv_k(what, hw, c, 3u, 1u, 1u, U8C_OUT);
}

/* ---------------------------------------------------------------------------- int8 layers */

static void codes_value(be_value *v, int kind, uint32_t rank, uint32_t h, uint32_t w, uint32_t c, int32_t zp)
{
    u8_value(v, rank, h, w, c);
    v->kind = (uint8_t)kind;
    v->zero_point = zp;
}

/* A RequantStage with multipliers of about 2^29, shifts s0 .. s0 + 3 (the int8 layers: 36; binary
 * convs, whose accumulators are smaller: 26) and biases of either sign up to 2^(35 - bshift);
 * output zero point zp: the outputs of random data spread over the code range. */
static void requant_stage(be_op *op, int32_t *mult, int32_t *bias, uint8_t *shift, int32_t zp, uint32_t s0,
                          uint32_t bshift)
{
    uint32_t c;
    op->stage = BE_STAGE_REQUANT;
    op->zero_point = zp;
    for (c = 0; c < op->out_ch; c++) {
        const uint32_t r = xs();
        const int64_t b = (int64_t)(int32_t)xs() * 16 / ((int64_t)1 << bshift);
        mult[c] = (int32_t)((1u << 29) + (r >> 4)) * ((r & 1u) ? -1 : 1);
        shift[c] = (uint8_t)(s0 + (r >> 1) % 4u);
        bias[2u * c] = (int32_t)(uint32_t)(uint64_t)b; /* little-endian int64, 4-byte aligned */
        bias[2u * c + 1u] = (int32_t)(b >> 32);
    }
    op->stage_a = mult;
    op->stage_b = bias;
    op->stage_c = shift;
}

static uint32_t words_of(uint32_t bytes)
{
    return (bytes + 15u) / 16u * 4u;
}

/* One int8 Conv2d (in_kind BE_KIND_U8 / BE_KIND_I8, zero point zp, groups g, square kernel k,
 * stride s, padding (pt, pb, pl, pr) = (p0, p1, p0, p1)) or, with k = 0, a Dense of c -> o. */
static void bench_i8(const char *what, int in_kind, int32_t zp, uint32_t h, uint32_t w, uint32_t c, uint32_t o,
                     uint32_t g, uint32_t k, uint32_t s, uint32_t p0, uint32_t p1)
{
    const int dense = k == 0u;
    const uint32_t kk = dense ? 1u : k, cg = c / g;
    const uint32_t oh = dense ? 1u : (h + p0 + p1 - kk) / s + 1u, ow = dense ? 1u : (w + p0 + p1 - kk) / s + 1u;
    const uint32_t kdot = kk * kk * cg, nin = h * w * c, nout = oh * ow * o, nw = o * kdot;
    uint32_t *in = pool, *out = in + words_of(nin), *out_ref = out + words_of(nout);
    uint32_t *scratch = out_ref + words_of(nout), *wt = scratch + words_of(kk * kk * c * 2u);
    int32_t *mult = (int32_t *)(wt + words_of(nw)), *bias = mult + words_of(4u * o);
    uint8_t *shift = (uint8_t *)(bias + words_of(8u * o));
    uint32_t i;
    be_op op;
    if ((uint32_t)(shift + o - (uint8_t *)pool) > sizeof pool)
        return; /* does not fit this board's RAM */
    memset(&op, 0, sizeof op);
    op.type = dense ? BE_OP_DENSE : BE_OP_CONV2D;
    op.weight_kind = BE_WK_INT8;
    op.in_ch = c;
    op.out_ch = o;
    op.k = kdot;
    op.w_row_bytes = dense ? c : cg;
    if (!dense) {
        op.kh = op.kw = k;
        op.sh = op.sw = s;
        op.pt = op.pl = p0;
        op.pb = op.pr = p1;
        op.groups = g;
        codes_value(&op.in, in_kind, 3u, h, w, c, zp);
        codes_value(&op.out, BE_KIND_I8, 3u, oh, ow, o, 0);
    } else {
        codes_value(&op.in, in_kind, 1u, 1u, 1u, c, zp);
        codes_value(&op.out, BE_KIND_I8, 1u, 1u, 1u, o, 0);
    }
    fill_pixels((uint8_t *)in, nin);
    for (i = 0; i < nw; i++)
        ((int8_t *)wt)[i] = (int8_t)(int32_t)((xs() >> 8) % 255u - 127u);
    op.weights = wt;
    requant_stage(&op, mult, bias, shift, (int32_t)(xs() % 21u) - 10, 36u, 0u);
    op.out.zero_point = op.zero_point;
    run_all(&op, what, in, out, out_ref, dense ? NULL : scratch, nout * kdot);
}

static void bench_int8(void)
{
#if defined(__ARM_ARCH_6M__) /* Cortex-M0: 16 KiB RAM */
    bench_i8("i8c16", BE_KIND_I8, -5, 8u, 8u, 16u, 16u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8dw", BE_KIND_I8, -128, 8u, 8u, 16u, 16u, 16u, 3u, 1u, 1u, 1u);
    bench_i8("i8dw2", BE_KIND_U8, 7, 8u, 8u, 8u, 16u, 8u, 3u, 2u, 1u, 0u);
    bench_i8("i8first", BE_KIND_U8, 0, 14u, 14u, 1u, 8u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8dense", BE_KIND_I8, 1, 1u, 1u, 256u, 16u, 1u, 0u, 0u, 0u, 0u);
#else
    bench_i8("i8c16", BE_KIND_I8, -5, 12u, 12u, 16u, 16u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8c32", BE_KIND_U8, 128, 10u, 10u, 32u, 32u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8c64", BE_KIND_I8, 3, 8u, 8u, 64u, 64u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8dw", BE_KIND_I8, -128, 16u, 16u, 32u, 32u, 32u, 3u, 1u, 1u, 1u);
    bench_i8("i8dw2", BE_KIND_U8, 7, 12u, 12u, 16u, 32u, 16u, 3u, 2u, 1u, 0u);
    bench_i8("i8first", BE_KIND_U8, 0, 28u, 28u, 1u, 16u, 1u, 3u, 1u, 1u, 1u);
    bench_i8("i8dense", BE_KIND_I8, 1, 1u, 1u, 512u, 64u, 1u, 0u, 0u, 0u, 0u);
    bench_i8("i8pw16", BE_KIND_I8, -21, 14u, 14u, 16u, 40u, 1u, 1u, 1u, 0u, 0u); /* the ResNets' 1x1 convs */
    bench_i8("i8pw40", BE_KIND_I8, -4, 7u, 7u, 40u, 80u, 1u, 1u, 1u, 0u, 0u);
#endif
}

int main(void)
{
    printf("bench: target %s, isa 0x%lx, tick_hz %lu\n", board_name(), (unsigned long)be_isa_detect(),
           (unsigned long)board_tick_hz());
    bench_dense();
    bench_dense_shape("dense256o16", 256u, 16u, 0, 0u);
    bench_dense_shape("dense64o10", 64u, 10u, 1, 0u);
    bench_dense_shape("dense64o64", 64u, 64u, 0, 0u);
    bench_dense_shape("dense96o32", 96u, 32u, 0, 0u);
    bench_dense_shape("dense128o10", 128u, 10u, 1, 0u);
    bench_dense_shape("dense128o128", 128u, 128u, 0, 0u);
    bench_dense_shape("dense256o256", 256u, BENCH_DENSE_OUT < 256u ? BENCH_DENSE_OUT : 256u, 0, 0u); /* the VGG's dense18 */
    bench_dense_shape("densep2k288", 288u, 64u, 0, 2u); /* the qrelu2 VGG's dense16: 2 bit-planes */
    bench_dense_shape("dense288o64", 288u, 64u, 0, 0u);   /* the sign VGG's dense16: 9-word rows */
    bench_dense_shape("dense256o10", 256u, 10u, 1, 0u);   /* the VGG32's head */
    bench_dense_shape("densep2k64", 64u, 64u, 0, 2u);     /* the qrelu2 VGG's dense18 (sign stage here) */
    bench_dense_shape("densep2k64o10", 64u, 10u, 1, 2u);  /* the qrelu2 VGG's head */
    bench_conv();
    bench_conv_small("conv8", 28u, 8u, 8u, 1u, 0u);
    bench_conv_small("conv8o16", 14u, 8u, 16u, 1u, 0u);
    bench_conv_small("conv16", 14u, 16u, 16u, 1u, 0u);
    bench_conv_small("conv16o32", 7u, 16u, 32u, 1u, 0u);
    bench_conv_small("conv8q2", 14u, 8u, 8u, 2u, 0u);
    bench_conv_small("conv8q2l", 14u, 8u, 16u, 2u, 3u);
    bench_conv_small("conv16q2l", 14u, 16u, 16u, 2u, 3u);
    bench_conv_small("conv16q2o32", 7u, 16u, 32u, 2u, 3u);
    bench_conv_small("conv32q2", 7u, 32u, 32u, 2u, 3u);
    bench_conv_small("conv32s7", 7u, 32u, 32u, 1u, 0u);
#if !defined(__ARM_ARCH_6M__) /* the int32 outputs do not fit the Cortex-M0's pool */
    bench_conv_small("conv40acc", 14u, 40u, 40u, 1u, 99u);
    bench_conv_small("conv80acc", 7u, 80u, 80u, 1u, 99u);
    bench_conv_small("conv32acc", 14u, 32u, 32u, 1u, 99u);
    bench_conv_small("conv64acc", 7u, 64u, 64u, 1u, 99u);
    bench_conv_small("conv16acc", 14u, 16u, 16u, 1u, 99u);
    bench_conv_small("conv8acc", 14u, 8u, 16u, 1u, 99u);
    bench_conv_small("conv16rq", 28u, 16u, 16u, 1u, 98u);
    bench_conv_small("conv32rq", 14u, 32u, 32u, 1u, 98u);
    bench_conv_small("conv64rq", 7u, 64u, 64u, 1u, 98u);
#endif
    bench_u8_dense();
    bench_u8_conv("u8conv1", 28u, 1u);
#if defined(__ARM_ARCH_6M__) /* Cortex-M0: 16 KiB RAM, the 28 x 28 output planes do not fit the pool */
    bench_u8_conv_levels("u8conv1q2", 14u, 1u, 3u, 1u, 1u, 8u, 3u);
#else
    bench_u8_conv_levels("u8conv1q2", 28u, 1u, 3u, 1u, 1u, 8u, 3u);
#endif
    bench_u8_conv_k("u8conv1o8", 28u, 1u, 3u, 1u, 1u, 8u);   /* the small VGGs' first layer */
    bench_u8_conv_k("u8conv1o16", 28u, 1u, 3u, 1u, 1u, 16u);
    bench_u8_conv("u8conv3", 16u, 3u);
    bench_u8_conv_k("u8conv7", 24u, 3u, 7u, 2u, 3u, 32u);
    bench_u8_conv_k("u8conv7o8", 24u, 3u, 7u, 2u, 3u, 8u);
    bench_int8();
    printf("bench: stack %lu of %lu bytes\n", (unsigned long)be_target_stack_used(),
           (unsigned long)be_target_stack_size());
    printf("bench: %u mismatches\n", mismatches);
    return mismatches != 0u;
}
