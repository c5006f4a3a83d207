/* test_x86_kernels.c -- the x86 variants on shapes beyond test_variants.c's grid, against "ref".
 *
 * test_variants.c keeps its buffers small (it also runs on a 16 KiB Cortex-M0); the AVX-512
 * kernels have paths that only larger ops reach:
 *   - the row-major 1x1 Conv2d (stride 1, no padding, rows of >= 16 words = 512 bits): K = 512,
 *     513, 1000, 2065, 4100; 1, 3, 10 and 21 pixels (tiles of 4 and their tails), 1, 3, 37 and
 *     64 output channels (tiles of 4 rows), sign / unsigned (L = 1, 3) stages;
 *   - the channel-lane Conv2d with several units and partial blocks: C = 130 (5 words), 129 and
 *     40 output channels, 7 x 7 outputs (tiles of 8, 4, 2, 1 pixels), stride 2 with asymmetric
 *     padding;
 *   - Dense with long rows (K = 4100) and output counts not a multiple of 16;
 *   - the first-layer (uint8) paths: the pixel-lane path (stride 1, sign stage, K <= 128) with
 *     more than 32 output channels (several output words per pixel), 3 input channels, a 5 x 5
 *     kernel (25 groups of 3 taps), every pixel 255 with every weight bit 1; the byte-quad path
 *     (other stages, stride 2).
 * Every variant the CPU runs (be_isa_detect) and whose supports() takes the op is compared with
 * the "ref" kernel byte for byte, status included. Thresholds: random around 0, both directions,
 * and channels at INT32_MIN / INT32_MAX / +-2^20. Data: xorshift32, fixed seed. On other
 * architectures this file only reports that it has nothing to test.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "be_test.h"
#include "be_test_values.h"

#if defined(__x86_64__) || defined(__i386__)

#define W_WORDS 16384u
#define IO_WORDS 4096u
#define MAX_CH 256u

static uint32_t weights[W_WORDS];
static uint32_t input[IO_WORDS];
static uint32_t out_ref[IO_WORDS], out_var[IO_WORDS];
static uint32_t scratch[2048];
static int8_t stage_a8[MAX_CH];
static int32_t stage_b[MAX_CH * 3u];
static unsigned runs;

static uint32_t rng = 0x2545F491u;
static uint32_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint32_t in_planes = 2u; /* bit-planes of the unsigned (in_kind 1) inputs */

/* bit-planes of a threshold stage's output: 1 (sign), or the bits of L */
static uint32_t out_planes(const be_op *op)
{
    return op->levels >= 7u ? 3u : op->levels >= 2u ? 2u : 1u;
}

/* stage 0: sign threshold; 1: unsigned L = 1; 2: unsigned L = 3 (2 planes); 3: unsigned L = 7
 * (3 planes) */
static void set_stage(be_op *op, int stage, int32_t spread)
{
    uint32_t c, l;
    op->stage = BE_STAGE_THRESHOLD;
    op->encoding = stage == 0 ? BE_ENC_SIGN : BE_ENC_UNSIGNED;
    op->levels = stage == 3 ? 7u : stage == 2 ? 3u : 1u;
    for (c = 0; c < op->out_ch; c++) {
        int32_t *t = stage_b + (size_t)c * op->levels;
        stage_a8[c] = (xs() & 1u) ? -1 : 1;
        for (l = 0; l < op->levels; l++) {
            const int32_t v = (int32_t)(xs() % (2u * (uint32_t)spread + 1u)) - spread;
            uint32_t m;
            for (m = l; m > 0u && t[m - 1u] > v; m--)
                t[m] = t[m - 1u];
            t[m] = v;
        }
        if (c % 11u == 3u)
            for (l = 0; l < op->levels; l++)
                t[l] = (c & 1u) ? INT32_MAX : INT32_MIN;
        if (c % 13u == 7u)
            for (l = 0; l < op->levels; l++)
                t[l] = ((c & 2u) ? (1 << 20) : -(1 << 20)) + (int32_t)l;
    }
    op->stage_a = stage_a8;
    op->stage_b = stage_b;
    be_test_set_value(&op->out, BE_KIND_BITS, 3u, 1u, 1u, op->out_ch, op->encoding, out_planes(op));
}

static void fill_bits(const be_value *v, void *data)
{
    uint32_t i, j;
    for (i = 0; i < v->h * v->w * v->planes; i++)
        for (j = 0; j < v->cw; j++)
            ((be_word *)data)[(size_t)i * v->cw + j] = xs() & (j + 1u == v->cw ? be_last_word_mask(v->c) : 0xFFFFFFFFu);
}

static void fill_weights(uint32_t rows, uint32_t n, int all_ones)
{
    const uint32_t nw = be_words_for(n);
    uint32_t r, j;
    for (r = 0; r < rows; r++)
        for (j = 0; j < nw; j++)
            weights[r * nw + j] = (all_ones ? 0xFFFFFFFFu : xs()) & (j + 1u == nw ? be_last_word_mask(n) : 0xFFFFFFFFu);
}

static void check_op(const be_op *op, const char *what)
{
    const uint32_t isa = be_isa_detect();
    const be_kernel *ref = be_test_ref_kernel(op->type);
    be_status st_ref;
    size_t i;
    memset(out_ref, 0xA5, sizeof out_ref);
    st_ref = ref->fn(op, input, out_ref, scratch);
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        be_status st;
        if (k == ref || strcmp(k->name, "ref") == 0 || k->op_type != (int)op->type || !be_kernel_usable(k, op, isa))
            continue;
        memset(out_var, 0xA5, sizeof out_var);
        memset(scratch, 0x5A, sizeof scratch);
        st = k->fn(op, input, out_var, scratch);
        runs++;
        CHECK_EQ(st, st_ref);
        be_test_checks++;
        if (memcmp(out_ref, out_var, op->out.nbytes) != 0) {
            be_test_failures++;
            printf("MISMATCH variant %s on %s\n", k->name, what);
        }
    }
}

/* Conv2d; in_kind 0: sign bits, 1: unsigned levels on in_planes bit-planes, 2: uint8 pixels
 * (binary weights). saturate: pixels 255 (all level bits set) and weights all ones. */
static void conv_case(uint32_t c, uint32_t kh, uint32_t kw, uint32_t s, const uint32_t pad[4], uint32_t h,
                      uint32_t w, uint32_t o, int in_kind, int stage, int saturate)
{
    be_op op;
    uint32_t oh, ow;
    char what[128];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONV2D;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = c;
    op.out_ch = o;
    op.kh = kh;
    op.kw = kw;
    op.sh = op.sw = s;
    op.pt = pad[0];
    op.pb = pad[1];
    op.pl = pad[2];
    op.pr = pad[3];
    op.k = kh * kw * c;
    op.w_row_bytes = be_words_for(c) * 4u;
    oh = (h + op.pt + op.pb - kh) / s + 1u;
    ow = (w + op.pl + op.pr - kw) / s + 1u;
    if (in_kind == 0)
        be_test_set_value(&op.in, BE_KIND_BITS, 3u, h, w, c, BE_ENC_SIGN, 1u);
    else if (in_kind == 1)
        be_test_set_value(&op.in, BE_KIND_BITS, 3u, h, w, c, BE_ENC_UNSIGNED, in_planes);
    else
        be_test_set_value(&op.in, BE_KIND_U8, 3u, h, w, c, BE_ENC_NONE, 1u);
    set_stage(&op, stage,
              in_kind == 2 ? (int32_t)(40u * op.k)
                           : (int32_t)((4u + op.k / 8u) * (in_kind == 1 ? (1u << in_planes) - 1u : 1u)));
    be_test_set_value(&op.out, BE_KIND_BITS, 3u, oh, ow, o, op.encoding, out_planes(&op));
    if (op.in.nbytes > sizeof input || op.out.nbytes > sizeof out_ref || o * kh * kw * be_words_for(c) > W_WORDS ||
        o > MAX_CH || kh * kw * op.in.pixel_bytes > sizeof scratch) {
        printf("test_x86_kernels: case too large for the buffers\n");
        CHECK(0);
        return;
    }
    if (in_kind == 1 && saturate) {
        uint32_t i;
        for (i = 0; i < op.in.h * op.in.w * op.in.planes; i++)
            input[i] = be_last_word_mask(c); /* one word per plane row (c <= 32 here) */
    } else if (in_kind <= 1) {
        fill_bits(&op.in, input);
    } else {
        uint32_t i;
        for (i = 0; i < op.in.nbytes; i++)
            ((uint8_t *)input)[i] = saturate ? 255u : (uint8_t)(xs() >> 24);
    }
    fill_weights(o * kh * kw, c, saturate);
    op.weights = weights;
    sprintf(what, "conv C=%u k=%ux%u s=%u p=%u,%u,%u,%u %ux%u O=%u in%d P=%u stage%d sat%d", (unsigned)c,
            (unsigned)kh, (unsigned)kw, (unsigned)s, (unsigned)pad[0], (unsigned)pad[1], (unsigned)pad[2],
            (unsigned)pad[3], (unsigned)h, (unsigned)w, (unsigned)o, in_kind, (unsigned)in_planes, stage, saturate);
    check_op(&op, what);
}

static void dense_case(uint32_t k, uint32_t o, int stage)
{
    be_op op;
    char what[64];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_BINARY;
    op.in_ch = k;
    op.out_ch = o;
    op.k = k;
    op.w_row_bytes = be_words_for(k) * 4u;
    be_test_set_value(&op.in, BE_KIND_BITS, 1u, 1u, 1u, k, BE_ENC_SIGN, 1u);
    set_stage(&op, stage, (int32_t)(4u + k / 8u));
    be_test_set_value(&op.out, BE_KIND_BITS, 1u, 1u, 1u, o, op.encoding, op.levels >= 2u ? 2u : 1u);
    fill_bits(&op.in, input);
    fill_weights(o, k, 0);
    op.weights = weights;
    sprintf(what, "dense K=%u O=%u stage%d", (unsigned)k, (unsigned)o, stage);
    check_op(&op, what);
}

/* ------------------------------------------------------------------------- int8 layers */

/* The int8 layers (int8 weights over u8 / i8 codes) beyond test_variants.c's grid: the AVX2
 * conv's bands (several per op), weight groups (several transposed blocks per band), its patch
 * path (rows or a weight row beyond the stack buffers, grouped too), the depthwise lanes with
 * more than one 256-channel chunk, channel multipliers and odd tap counts, depthwise beyond 64
 * taps; Dense beyond one 4096-element chunk. RequantStage with realistic and extreme constants. */
static int32_t i8_mult[512];
static int32_t i8_bias[1024]; /* int64 as (low, high) words */
static uint8_t i8_shift[512];

static void i8_requant(be_op *op)
{
    uint32_t c;
    op->stage = BE_STAGE_REQUANT;
    op->encoding = BE_ENC_NONE;
    op->levels = 0u;
    op->zero_point = (int32_t)(xs() % 256u) - 128;
    for (c = 0; c < op->out_ch; c++) {
        const int8_t *w = (const int8_t *)(const void *)weights + (size_t)c * op->k;
        const uint64_t xmax = op->in.kind == BE_KIND_U8 ? 255u : 128u;
        uint64_t sum = 0u, bound, maxb, half;
        int64_t m, b;
        uint32_t s, i;
        for (i = 0; i < op->k; i++)
            sum += (uint64_t)(w[i] < 0 ? -(int32_t)w[i] : w[i]);
        bound = sum * xmax;
        if (c % 4u != 3u) { /* realistic: multiplier ~ 2^29, shift to spread the codes */
            uint64_t v;
            m = (int64_t)((1u << 28) + xs() % (1u << 29));
            v = (uint64_t)m * (bound / 16u + 1u);
            for (s = 0; v > 255u && s < 62u; s++)
                v >>= 1;
            b = ((int64_t)(xs() % 2001u) - 1000) * ((int64_t)1 << (s > 10u ? s - 10u : 0u));
        } else { /* extreme multiplier and bias, any shift */
            m = 2147483647;
            s = xs() % 63u;
            half = s == 0u ? 0u : (uint64_t)1u << (s - 1u);
            maxb = 0x7FFFFFFFFFFFFFFFull - (uint64_t)m * bound - half;
            b = (xs() & 1u) ? (int64_t)maxb : -(int64_t)maxb;
        }
        if (xs() & 1u)
            m = -m;
        i8_mult[c] = (int32_t)m;
        i8_shift[c] = (uint8_t)s;
        i8_bias[2u * c] = (int32_t)(uint32_t)((uint64_t)b & 0xFFFFFFFFu);
        i8_bias[2u * c + 1u] = (int32_t)(b < 0 ? -(int32_t)((~(uint64_t)b) >> 32) - 1 : (int32_t)((uint64_t)b >> 32));
    }
    op->stage_a = i8_mult;
    op->stage_b = i8_bias;
    op->stage_c = i8_shift;
}

/* stage 0: requant, 1: sign thresholds (set_stage), 2: unsigned L = 3 */
static void i8_conv_case(int kind, int32_t zp, uint32_t c, uint32_t g, uint32_t kh, uint32_t kw, uint32_t s,
                         const uint32_t pad[4], uint32_t h, uint32_t w, uint32_t o, int stage)
{
    be_op op;
    uint32_t oh, ow, i;
    char what[128];
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONV2D;
    op.weight_kind = BE_WK_INT8;
    op.in_ch = c;
    op.out_ch = o;
    op.kh = kh;
    op.kw = kw;
    op.sh = op.sw = s;
    op.pt = pad[0];
    op.pb = pad[1];
    op.pl = pad[2];
    op.pr = pad[3];
    op.groups = g;
    op.k = kh * kw * (c / g);
    op.w_row_bytes = c / g;
    oh = (h + op.pt + op.pb - kh) / s + 1u;
    ow = (w + op.pl + op.pr - kw) / s + 1u;
    be_test_set_value(&op.in, kind, 3u, h, w, c, BE_ENC_NONE, 1u);
    op.in.zero_point = zp;
    op.scratch_bytes = (kh * kw * c * 2u + 15u) & ~15u;
    if (op.in.nbytes > sizeof input || (size_t)o * op.k > sizeof weights || o > 512u ||
        op.scratch_bytes > sizeof scratch || oh * ow * o > sizeof out_ref) {
        printf("test_x86_kernels: int8 case C=%u %ux%u O=%u too large for the buffers\n", (unsigned)c, (unsigned)h,
               (unsigned)w, (unsigned)o);
        CHECK(0);
        return;
    }
    for (i = 0; i < op.in.nbytes; i++)
        ((uint8_t *)input)[i] = (uint8_t)(xs() >> 24);
    for (i = 0; i < o * op.k; i++)
        ((int8_t *)(void *)weights)[i] = (int8_t)(int32_t)((xs() >> 8) % 256u - 128u);
    op.weights = weights;
    if (stage == 0) {
        i8_requant(&op);
        be_test_set_value(&op.out, BE_KIND_I8, 3u, oh, ow, o, BE_ENC_NONE, 1u);
        op.out.zero_point = op.zero_point;
    } else {
        if (o > MAX_CH)
            return;
        set_stage(&op, stage == 1 ? 0 : 2, (int32_t)(40u * op.k));
        be_test_set_value(&op.out, BE_KIND_BITS, 3u, oh, ow, o, op.encoding, op.levels >= 2u ? 2u : 1u);
    }
    sprintf(what, "i8 conv %s zp=%d C=%u g=%u k=%ux%u s=%u %ux%u O=%u stage%d", kind == BE_KIND_I8 ? "i8" : "u8",
            (int)zp, (unsigned)c, (unsigned)g, (unsigned)kh, (unsigned)kw, (unsigned)s, (unsigned)h, (unsigned)w,
            (unsigned)o, stage);
    check_op(&op, what);
}

static void i8_dense_case(int kind, uint32_t k, uint32_t o, int stage)
{
    be_op op;
    uint32_t i;
    char what[64];
    if ((size_t)o * k > sizeof weights || k > sizeof input || o > 512u || 4u * o > sizeof out_ref) {
        printf("test_x86_kernels: int8 case too large for the buffers\n");
        CHECK(0);
        return;
    }
    memset(&op, 0, sizeof op);
    op.type = BE_OP_DENSE;
    op.weight_kind = BE_WK_INT8;
    op.in_ch = op.k = op.w_row_bytes = k;
    op.out_ch = o;
    be_test_set_value(&op.in, kind, 1u, 1u, 1u, k, BE_ENC_NONE, 1u);
    op.in.zero_point = kind == BE_KIND_I8 ? -7 : 200;
    for (i = 0; i < k; i++)
        ((uint8_t *)input)[i] = (uint8_t)(xs() >> 24);
    for (i = 0; i < o * k; i++)
        ((int8_t *)(void *)weights)[i] = (int8_t)(int32_t)((xs() >> 8) % 256u - 128u);
    op.weights = weights;
    if (stage == 0) {
        i8_requant(&op);
        be_test_set_value(&op.out, BE_KIND_I8, 1u, 1u, 1u, o, BE_ENC_NONE, 1u);
        op.out.zero_point = op.zero_point;
    } else { /* scores */
        for (i = 0; i < o; i++) {
            i8_mult[i] = (int32_t)(xs() % 7u) - 3;
            i8_bias[i] = (int32_t)(xs() % 2001u) - 1000;
        }
        op.stage = BE_STAGE_SCORE;
        op.stage_a = i8_mult;
        op.stage_b = i8_bias;
        be_test_set_value(&op.out, BE_KIND_I32, 1u, 1u, 1u, o, BE_ENC_NONE, 1u);
    }
    sprintf(what, "i8 dense %s K=%u O=%u stage%d", kind == BE_KIND_I8 ? "i8" : "u8", (unsigned)k, (unsigned)o, stage);
    check_op(&op, what);
}

static void test_int8(void)
{
    static const uint32_t nopad[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, asym[4] = {2, 1, 2, 1};
    static const uint32_t pad4[4] = {4, 4, 0, 8};
    /* bands: 3 padded rows of 42 x 64 fill the row buffer (one output row per band, 6 bands);
     * a weight row of 288 pairs: one 16-channel block per transposed group, 3 groups */
    i8_conv_case(BE_KIND_I8, -3, 64, 1, 3, 3, 1, pad1, 6, 40, 40, 0);
    i8_conv_case(BE_KIND_U8, 131, 64, 1, 3, 3, 1, pad1, 6, 40, 40, 1);
    i8_conv_case(BE_KIND_U8, 0, 48, 1, 3, 3, 2, asym, 9, 30, 21, 0);
    i8_conv_case(BE_KIND_I8, 127, 17, 1, 5, 5, 1, asym, 11, 13, 19, 2);
    /* AVX-512: rows of 202 x 20 bytes, 4 per 16 KiB: bands of 2 output rows (padding 2 above and below) */
    {
        static const uint32_t pad2[4] = {2, 2, 1, 1};
        i8_conv_case(BE_KIND_I8, -9, 20, 1, 3, 3, 1, pad2, 2, 200, 20, 0);
        i8_conv_case(BE_KIND_U8, 19, 40, 1, 3, 3, 1, pad2, 2, 200, 20, 1);
    }
    /* the patch path: a weight row beyond 512 pairs (C = 200), and rows beyond the buffer (grouped) */
    i8_conv_case(BE_KIND_I8, 5, 200, 1, 3, 3, 1, pad1, 4, 4, 33, 0);
    i8_conv_case(BE_KIND_U8, 255, 200, 1, 3, 3, 2, asym, 5, 4, 17, 1);
    i8_conv_case(BE_KIND_U8, 9, 60, 2, 3, 3, 1, pad1, 2, 100, 6, 0);
    i8_conv_case(BE_KIND_I8, -128, 60, 4, 3, 3, 1, pad1, 2, 100, 12, 2);
    /* grouped, band path */
    i8_conv_case(BE_KIND_I8, 1, 48, 3, 3, 3, 1, pad1, 7, 9, 39, 0);
    i8_conv_case(BE_KIND_U8, 77, 48, 4, 1, 1, 1, nopad, 6, 7, 20, 1);
    /* depthwise: two 256-channel chunks and a channel tail; multipliers 2 and 3, 25 taps */
    i8_conv_case(BE_KIND_I8, -128, 300, 300, 3, 3, 1, pad1, 5, 5, 300, 0);
    i8_conv_case(BE_KIND_U8, 128, 270, 270, 3, 3, 2, asym, 6, 5, 270, 1);
    i8_conv_case(BE_KIND_U8, 3, 40, 40, 5, 5, 2, asym, 9, 8, 120, 0);
    i8_conv_case(BE_KIND_I8, 100, 21, 21, 5, 5, 1, asym, 7, 6, 42, 0);
    i8_conv_case(BE_KIND_I8, 0, 33, 33, 3, 3, 1, pad1, 6, 6, 99, 2);
    /* depthwise beyond 64 taps (9 x 9): the patch path */
    i8_conv_case(BE_KIND_U8, 50, 8, 8, 9, 9, 1, pad4, 10, 10, 16, 0);
    /* the first layer: 28 x 28 x 1, 3x3 -> 16 / 32 */
    i8_conv_case(BE_KIND_U8, 0, 1, 1, 3, 3, 1, pad1, 28, 28, 16, 0);
    i8_conv_case(BE_KIND_U8, 0, 1, 1, 3, 3, 1, pad1, 20, 20, 32, 1);
    i8_conv_case(BE_KIND_I8, -1, 3, 1, 3, 3, 2, pad1, 20, 17, 32, 0);
    /* Dense: two chunks, long rows */
    i8_dense_case(BE_KIND_I8, 5000, 7, 0);
    i8_dense_case(BE_KIND_U8, 5000, 13, 1);
    i8_dense_case(BE_KIND_U8, 4100, 15, 0);
    i8_dense_case(BE_KIND_I8, 1152, 56, 1);
}

int main(void)
{
    static const uint32_t nopad[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, asym[4] = {1, 0, 2, 1};
    static const uint32_t ks[] = {512, 513, 1000, 2065, 4100};
    static const uint32_t px[][2] = {{1, 1}, {1, 3}, {2, 5}, {3, 7}};
    static const uint32_t os[] = {1, 3, 37, 64};
    uint32_t i, j, n = 0;
    /* row-major 1x1 Conv2d */
    for (i = 0; i < sizeof ks / sizeof ks[0]; i++)
        for (j = 0; j < 4u; j++, n++) {
            uint32_t o = os[(i + j) % 4u];
            while (o * be_words_for(ks[i]) > W_WORDS)
                o /= 2u;
            conv_case(ks[i], 1, 1, 1, nopad, px[j][0], px[j][1], o, 0, (int)(n % 3u), 0);
        }
    /* channel lanes: several units, partial blocks, every tile size */
    conv_case(130, 3, 3, 1, pad1, 7, 7, 129, 0, 0, 0);
    conv_case(130, 3, 3, 1, pad1, 7, 7, 40, 0, 2, 0);
    conv_case(64, 3, 3, 2, asym, 9, 8, 40, 0, 0, 0);
    conv_case(96, 3, 3, 1, nopad, 6, 9, 17, 0, 1, 0);
    conv_case(256, 1, 1, 1, nopad, 5, 3, 33, 0, 0, 0); /* 1x1 with 8-word rows: channel lanes */
    conv_case(600, 1, 1, 2, nopad, 5, 5, 9, 0, 0, 0);  /* 1x1, stride 2: not row-major */
    /* Dense, long rows */
    dense_case(4100, 37, 0);
    dense_case(4100, 17, 2);
    dense_case(1152, 256, 0);
    /* first layer: pixel lanes (stride 1, sign), then the byte quads */
    conv_case(1, 3, 3, 1, pad1, 12, 12, 65, 2, 0, 0);
    conv_case(3, 3, 3, 1, pad1, 10, 9, 33, 2, 0, 0);
    conv_case(3, 5, 5, 1, asym, 9, 11, 20, 2, 0, 0);
    conv_case(1, 3, 3, 1, pad1, 28, 28, 32, 2, 0, 0);
    conv_case(1, 3, 3, 1, pad1, 28, 28, 32, 2, 0, 1);
    conv_case(8, 4, 4, 1, nopad, 7, 7, 31, 2, 0, 1); /* K = 128: the int16 limit */
    conv_case(1, 3, 3, 1, pad1, 12, 12, 40, 2, 2, 0);
    conv_case(3, 3, 3, 2, pad1, 11, 10, 33, 2, 0, 1);
    /* first layer into qrelu levels (pixel lanes): L = 3 on 2 planes, L = 7 on 3, several words */
    conv_case(1, 3, 3, 1, pad1, 28, 28, 8, 2, 2, 0);
    conv_case(1, 3, 3, 1, pad1, 28, 28, 8, 2, 2, 1);
    conv_case(3, 3, 3, 1, asym, 13, 17, 45, 2, 3, 0);
    conv_case(2, 5, 5, 1, pad1, 9, 8, 33, 2, 1, 0);
    /* unsigned bit-plane inputs with at most 32 channels (the pixel-lane kernel, stride 1) and its
     * neighbours: P = 1, 2, 3, 8; 3x3 (its instances), 1x1, 5x3; up to 64 output channels (two
     * words); sign, L = 1, 3, 7 outputs; every level bit set with every weight bit 1 */
    {
        static const uint32_t pls[] = {2, 1, 3, 8};
        static const uint32_t cs[] = {8, 32, 1, 17, 16, 31};
        static const uint32_t outs[] = {8, 33, 16, 64, 5, 32};
        for (i = 0; i < 4u; i++) {
            in_planes = pls[i];
            for (j = 0; j < 6u; j++, n++) {
                const uint32_t c = cs[j], o = outs[(i + j) % 6u];
                conv_case(c, 3, 3, 1, pad1, 14 + j, 14 + i, o, 1, (int)(n % 4u), 0);
                conv_case(c, 3, 3, 1, (j & 1u) ? asym : nopad, 7, 9 + j, o, 1, (int)((n + 1u) % 4u), j == 2u);
            }
            conv_case(9, 1, 1, 1, nopad, 6, 5, 12, 1, 2, 0);
            conv_case(20, 5, 3, 1, asym, 9, 7, 21, 1, 3, 0);
            conv_case(8, 3, 3, 2, pad1, 11, 10, 8, 1, 2, 0); /* stride 2: the next variant */
        }
        in_planes = 2u;
        conv_case(8, 3, 3, 1, pad1, 28, 28, 8, 1, 2, 0); /* the qrelu2 VGG's second layer */
        conv_case(16, 3, 3, 1, pad1, 14, 14, 16, 1, 2, 1);
        conv_case(32, 3, 3, 1, pad1, 40, 40, 32, 1, 2, 0); /* a large image: 2 x 42 x 42 words */
        conv_case(32, 7, 7, 1, asym, 9, 9, 5, 1, 2, 0); /* 49 groups per plane: past AVX2's 31 */
        conv_case(4, 7, 7, 1, pad1, 8, 9, 7, 1, 3, 0);  /* G = 7: one group per kernel row */
    }
    test_int8();
    printf("test_x86_kernels: %u variant runs\n", runs);
    return be_test_report("test_x86_kernels");
}

#else

int main(void)
{
    printf("test_x86_kernels: not an x86 build, nothing to test\n");
    return be_test_report("test_x86_kernels");
}

#endif
