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
static uint32_t scratch[1024];
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

/* stage 0: sign threshold; 1: unsigned L = 1; 2: unsigned L = 3 */
static void set_stage(be_op *op, int stage, int32_t spread)
{
    uint32_t c, l;
    op->stage = BE_STAGE_THRESHOLD;
    op->encoding = stage == 0 ? BE_ENC_SIGN : BE_ENC_UNSIGNED;
    op->levels = stage == 2 ? 3u : 1u;
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
    be_test_set_value(&op->out, BE_KIND_BITS, 3u, 1u, 1u, op->out_ch, op->encoding, op->levels >= 2u ? 2u : 1u);
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
        if (k == ref || strcmp(k->name, "ref") == 0 || k->op_type != (int)op->type || (k->isa & ~isa) != 0u ||
            (k->supports != NULL && !k->supports(op)))
            continue;
        memset(out_var, 0xA5, sizeof out_var);
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

/* Conv2d; in_kind 0: sign bits, 2: uint8 pixels (binary weights). saturate: pixels 255 and
 * weights all ones. */
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
    else
        be_test_set_value(&op.in, BE_KIND_U8, 3u, h, w, c, BE_ENC_NONE, 1u);
    set_stage(&op, stage, in_kind == 2 ? (int32_t)(40u * op.k) : (int32_t)(4u + op.k / 8u));
    be_test_set_value(&op.out, BE_KIND_BITS, 3u, oh, ow, o, op.encoding, op.levels >= 2u ? 2u : 1u);
    if (op.in.nbytes > sizeof input || op.out.nbytes > sizeof out_ref || o * kh * kw * be_words_for(c) > W_WORDS ||
        o > MAX_CH || kh * kw * op.in.pixel_bytes > sizeof scratch) {
        printf("test_x86_kernels: case too large for the buffers\n");
        CHECK(0);
        return;
    }
    if (in_kind == 0) {
        fill_bits(&op.in, input);
    } else {
        uint32_t i;
        for (i = 0; i < op.in.nbytes; i++)
            ((uint8_t *)input)[i] = saturate ? 255u : (uint8_t)(xs() >> 24);
    }
    fill_weights(o * kh * kw, c, saturate);
    op.weights = weights;
    sprintf(what, "conv C=%u k=%ux%u s=%u p=%u,%u,%u,%u %ux%u O=%u in%d stage%d sat%d", (unsigned)c, (unsigned)kh,
            (unsigned)kw, (unsigned)s, (unsigned)pad[0], (unsigned)pad[1], (unsigned)pad[2], (unsigned)pad[3],
            (unsigned)h, (unsigned)w, (unsigned)o, in_kind, stage, saturate);
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
