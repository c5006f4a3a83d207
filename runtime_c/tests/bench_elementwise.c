/* bench_elementwise.c -- executed instructions per OUTPUT ELEMENT of every kernel variant of the
 * elementwise and pooling ops (run on the QEMU boards with -icount; docs/kernels.md "Elementwise
 * and pooling ops"; tests/test_target_matrix.py builds, runs and converts it:
 * `python tests/test_target_matrix.py bench-ew [target ...]`).
 *
 * Shapes (the same on every board: they fit the Cortex-M0's 16 KiB RAM), parameters as the
 * lowering makes them (binedge/fold.py: multipliers near 2^30 with the largest shift that keeps
 * them int32):
 *   add      6x6x32 i8 (zp -3) + 6x6x32 i8 (zp 7) -> i8 (zp -5); M_a, M_b ~ 0.9 / -0.6 * 2^31, s = 31
 *   requant  6x6x32 u8 (zp 128) -> i8 (zp 3); M ~ 0.7 * 2^31, s = 31
 *   thresh   6x6x32 i8 -> sign bits (directions +-1, thresholds within the codes)
 *   thresh3  6x6x32 i8 -> unsigned bits, 3 thresholds per channel (2 planes: a qrelu2)
 *   avgpool  12x12x32 i8 (zp 4), 2x2 stride 2 -> 6x6x32 i8; M ~ 0.25 * 2^33, s = 33
 *   gap      7x7x64 i8 -> 1x1x64 (global average pooling); M ~ 2^31 / 49, s = 31
 *   maxpool  12x12x32 i8, 2x2 stride 2 -> 6x6x32
 *   mergeb   6x6x32 acc (bound 288: a binary 3x3x32 conv) + 6x6x32 i8 (zp 2) -> sign bits
 *            (as binedge.fold.merge_thresholds makes them: M_a, M_b ~ 2^30, bias 0, int64 thresholds)
 *   mergeq   6x6x32 i8 (zp -1) + 6x6x32 i8 (zp 5) -> i8 (merge_round: shifts 30..32, a bias)
 *   mergeaq  6x6x32 acc (bound 288) + 6x6x32 i8 -> i8 (merge_round: shifts 34..36)
 *   concat   6x6x16 i8 + 6x6x16 i8 -> 6x6x32 i8
 *   concatb  6x6x33 sign bits + 6x6x31 sign bits -> 6x6x64 bits
 *
 * For each op and each applicable kernel of the table (and "ref" unless BENCH_NO_REF), the
 * kernel runs once between two board_ticks() reads and the program prints
 *     bench <op> <variant> <output elements> <ticks>
 * Under `-icount shift=6` ticks are proportional to executed instructions (NOT cycles):
 * binedge.targets.instructions_from_ticks converts them. Each variant's output is compared with
 * ref's: "bench: N mismatches". Data: xorshift32, fixed seed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "be_test_values.h"
#include "board.h"

#define HW 6u /* 6 x 6 x 32 = 1152 output elements per op (pools: 12 x 12 in) */

static uint32_t pool_a[4608u / 4u], pool_b[1152u / 4u], out_v[1152u / 4u], out_r[1152u / 4u];
static int32_t par_a[64], par_b[64], par_c[128], par_e[64 * 2 * 3];
static uint8_t par_d[64];
static uint32_t rng = 0x2545F491u;
static unsigned mismatches;

static uint32_t xs(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void fill_codes(void *p, uint32_t n)
{
    uint8_t *b = (uint8_t *)p;
    uint32_t i;
    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(xs() >> 24);
}

static void put_i64(int32_t *p, int64_t v)
{
    const uint64_t u = (uint64_t)v;
    p[0] = (int32_t)(uint32_t)(u & 0xFFFFFFFFu);
    p[1] = (int32_t)(uint32_t)(u >> 32);
}

static uint64_t time_kernel(const be_kernel *k, const be_op *op, const void *in, void *out)
{
    uint64_t t0, t1;
    BOARD_BARRIER();
    t0 = board_ticks();
    BOARD_BARRIER();
    k->fn(op, in, out, NULL);
    BOARD_BARRIER();
    t1 = board_ticks();
    BOARD_BARRIER();
    return t1 - t0;
}

static void run_all(const be_op *op, const char *what, const void *in)
{
    const uint32_t isa = be_isa_detect();
    const uint32_t elems = op->out.h * op->out.w * op->out.c;
    int have_ref = 0;
    size_t i;
#ifndef BENCH_NO_REF
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        if (k->op_type == (int)op->type && strcmp(k->name, "ref") == 0) {
            memset(out_r, 0x5A, sizeof out_r);
            printf("bench %s ref %lu %lu\n", what, (unsigned long)elems, (unsigned long)time_kernel(k, op, in, out_r));
            have_ref = 1;
        }
    }
#endif
    for (i = 0; i < be_kernel_table_len; i++) {
        const be_kernel *k = &be_kernel_table[i];
        uint64_t ticks;
        if (k->op_type != (int)op->type || strcmp(k->name, "ref") == 0 || !be_kernel_usable(k, op, isa))
            continue;
        memset(out_v, 0x5A, sizeof out_v);
        ticks = time_kernel(k, op, in, out_v);
        printf("bench %s %s %lu %lu\n", what, k->name, (unsigned long)elems, (unsigned long)ticks);
        if (have_ref && memcmp(out_v, out_r, op->out.nbytes) != 0) {
            printf("bench: %s %s differs from ref\n", what, k->name);
            mismatches++;
        }
    }
}

static void codes(be_value *v, int kind, uint32_t h, uint32_t w, uint32_t c, int32_t zp)
{
    be_test_set_value(v, kind, 3u, h, w, c, BE_ENC_NONE, 1u);
    v->zero_point = zp;
}

/* ------------------------------------------------------------------------------- the ops */

static void bench_add(void)
{
    be_op op;
    be_value vb;
    be_inputs io;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_ADD;
    op.n_inputs = 2u;
    codes(&op.in, BE_KIND_I8, HW, HW, 32u, -3);
    codes(&vb, BE_KIND_I8, HW, HW, 32u, 7);
    codes(&op.out, BE_KIND_I8, HW, HW, 32u, -5);
    op.mult_a = 1932735283;  /* 0.9 * 2^31 */
    op.mult_b = -1288490189; /* -0.6 * 2^31 */
    op.shift = 31;
    op.zero_point = -5;
    fill_codes(pool_a, 1152u);
    fill_codes(pool_b, 1152u);
    io.n = 2u;
    io.data[0] = pool_a;
    io.data[1] = pool_b;
    io.value[0] = &op.in;
    io.value[1] = &vb;
    run_all(&op, "add", &io);
}

static void bench_requant(void)
{
    be_op op;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_REQUANTIZE;
    op.n_inputs = 1u;
    codes(&op.in, BE_KIND_U8, HW, HW, 32u, 128);
    codes(&op.out, BE_KIND_I8, HW, HW, 32u, 3);
    op.mult_a = 1503238554; /* 0.7 * 2^31 */
    op.shift = 31;
    op.zero_point = 3;
    fill_codes(pool_a, 1152u);
    run_all(&op, "requant", pool_a);
}

static void bench_thresh(const char *what, uint32_t levels)
{
    be_op op;
    uint32_t c, l;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_THRESHOLD;
    op.n_inputs = 1u;
    op.stage = BE_STAGE_THRESHOLD;
    op.encoding = levels == 1u ? BE_ENC_SIGN : BE_ENC_UNSIGNED;
    op.levels = levels;
    codes(&op.in, BE_KIND_I8, HW, HW, 32u, 0);
    be_test_set_value(&op.out, BE_KIND_BITS, 3u, HW, HW, 32u, op.encoding, levels == 1u ? 1u : 2u);
    for (c = 0; c < 32u; c++) {
        ((int8_t *)par_d)[c] = (xs() & 1u) ? -1 : 1;
        for (l = 0; l < levels; l++)
            par_a[c * levels + l] = (int32_t)(xs() % 41u) - 60 + 40 * (int32_t)l;
    }
    op.stage_a = par_d;
    op.stage_b = par_a;
    fill_codes(pool_a, 1152u);
    run_all(&op, what, pool_a);
}

static void bench_avgpool(const char *what, uint32_t h, uint32_t c, uint32_t k, uint32_t s, int32_t m, int32_t sh)
{
    be_op op;
    const uint32_t oh = (h - k) / s + 1u;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_AVGPOOL2D;
    op.n_inputs = 1u;
    op.kh = op.kw = k;
    op.sh = op.sw = s;
    codes(&op.in, BE_KIND_I8, h, h, c, 4);
    codes(&op.out, BE_KIND_I8, oh, oh, c, -2);
    op.mult_a = m;
    op.shift = sh;
    op.zero_point = -2;
    fill_codes(pool_a, h * h * c);
    run_all(&op, what, pool_a);
}

static void bench_maxpool(void)
{
    be_op op;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_MAXPOOL2D;
    op.n_inputs = 1u;
    op.kh = op.kw = 2u;
    op.sh = op.sw = 2u;
    codes(&op.in, BE_KIND_I8, 2u * HW, 2u * HW, 32u, 0);
    codes(&op.out, BE_KIND_I8, HW, HW, 32u, 0);
    fill_codes(pool_a, 4608u);
    run_all(&op, "maxpool", pool_a);
}

/* Merge: a = acc (bound 288) or i8 codes, b = i8 codes; threshold (sign) or round output. */
static void bench_merge(const char *what, int acc, int round)
{
    be_op op;
    be_value vb;
    be_inputs io;
    const uint32_t hw = HW, n = hw * hw * 32u;
    uint32_t c, i;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_MERGE;
    op.n_inputs = 2u;
    if (acc) {
        be_test_set_value(&op.in, BE_KIND_I32, 3u, hw, hw, 32u, BE_ENC_ACC, 1u);
        op.in.bound = 288u;
        for (i = 0; i < n; i++)
            ((int32_t *)pool_a)[i] = (int32_t)(xs() % 577u) - 288;
    } else {
        codes(&op.in, BE_KIND_I8, hw, hw, 32u, -1);
        fill_codes(pool_a, n);
    }
    codes(&vb, BE_KIND_I8, hw, hw, 32u, acc ? 2 : 5);
    fill_codes(pool_b, n);
    for (c = 0; c < 32u; c++) {
        par_a[c] = (int32_t)((1u << 30) + (xs() >> 3)) * ((xs() & 1u) ? 1 : -1);
        par_b[c] = (int32_t)((1u << 28) + (xs() >> 4));
        if (round) { /* requant(v, s, zp): outputs spread over the codes */
            par_d[c] = (uint8_t)(acc ? 34u + c % 3u : 30u + c % 3u);
            put_i64(par_c + 2u * c, (int64_t)(int32_t)xs() * 64);
        } else {
            ((int8_t *)par_d)[c] = 1;
            put_i64(par_c + 2u * c, 0);
            put_i64(par_e + 2u * c, (int64_t)(int32_t)xs() * 32);
        }
    }
    op.stage_a = par_a;
    op.stage_b = par_b;
    op.stage_c = par_c;
    op.stage_d = par_d;
    if (round) {
        op.stage = BE_STAGE_ROUND;
        op.zero_point = 6;
        codes(&op.out, BE_KIND_I8, hw, hw, 32u, 6);
    } else {
        op.stage = BE_STAGE_THRESHOLD;
        op.encoding = BE_ENC_SIGN;
        op.levels = 1u;
        op.stage_e = par_e;
        be_test_set_value(&op.out, BE_KIND_BITS, 3u, hw, hw, 32u, BE_ENC_SIGN, 1u);
    }
    io.n = 2u;
    io.data[0] = pool_a;
    io.data[1] = pool_b;
    io.value[0] = &op.in;
    io.value[1] = &vb;
    run_all(&op, what, &io);
}

static void bench_concat(int bits)
{
    be_op op;
    be_value vb;
    be_inputs io;
    memset(&op, 0, sizeof op);
    op.type = BE_OP_CONCAT;
    op.n_inputs = 2u;
    if (bits) {
        uint32_t i;
        be_test_set_value(&op.in, BE_KIND_BITS, 3u, HW, HW, 33u, BE_ENC_SIGN, 1u);
        be_test_set_value(&vb, BE_KIND_BITS, 3u, HW, HW, 31u, BE_ENC_SIGN, 1u);
        be_test_set_value(&op.out, BE_KIND_BITS, 3u, HW, HW, 64u, BE_ENC_SIGN, 1u);
        for (i = 0; i < 2u * HW * HW; i++)
            pool_a[i] = xs() & (i % 2u ? 1u : 0xFFFFFFFFu);
        for (i = 0; i < HW * HW; i++)
            pool_b[i] = xs() & 0x7FFFFFFFu;
    } else {
        codes(&op.in, BE_KIND_I8, HW, HW, 16u, 0);
        codes(&vb, BE_KIND_I8, HW, HW, 16u, 0);
        codes(&op.out, BE_KIND_I8, HW, HW, 32u, 0);
        fill_codes(pool_a, 576u);
        fill_codes(pool_b, 576u);
    }
    io.n = 2u;
    io.data[0] = pool_a;
    io.data[1] = pool_b;
    io.value[0] = &op.in;
    io.value[1] = &vb;
    run_all(&op, bits ? "concatb" : "concat", &io);
}

int main(void)
{
    printf("bench: target %s, isa 0x%lx, tick_hz %lu\n", board_name(), (unsigned long)be_isa_detect(),
           (unsigned long)board_tick_hz());
    bench_add();
    bench_requant();
    bench_thresh("thresh", 1u);
    bench_thresh("thresh3", 3u);
    bench_avgpool("avgpool", 2u * HW, 32u, 2u, 2u, 2147000000, 33);
    bench_avgpool("gap", 7u, 64u, 7u, 1u, 43826197, 31);
    bench_maxpool();
    bench_merge("mergeb", 1, 0);
    bench_merge("mergeq", 0, 1);
    bench_merge("mergeaq", 1, 1);
    bench_concat(0);
    bench_concat(1);
    printf("bench: stack %lu of %lu bytes\n", (unsigned long)be_target_stack_used(),
           (unsigned long)be_target_stack_size());
    printf("bench: %u mismatches\n", mismatches);
    return mismatches != 0u;
}
