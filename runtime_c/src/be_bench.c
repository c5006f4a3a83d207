/* be_bench.c -- host timing entry points for binedge.bench (shared library only, see Makefile).
 *
 * Not part of the embedded API (no declaration in binedge.h): the Python benchmark declares the
 * signatures itself. Timing in C avoids measuring ctypes: every call is timed individually with
 * CLOCK_MONOTONIC around the kernel / be_invoke call, and the caller takes the median.
 *
 *   be_bench_invoke  ns of each of `iters` be_invoke calls on one input (batch 1, this thread)
 *   be_bench_ops     ns of every op of each of `iters` invokes (a per-op profile)
 *   be_bench_gemm    ns of each of `iters` calls of one kernel on a synthetic binary GEMM:
 *                    x (M rows of K sign bits) against w (N rows of K bits), sign threshold
 *                    output; M == 1 runs a Dense op, M > 1 a 1x1 Conv2d over M pixels
 */
#define _POSIX_C_SOURCE 199309L

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "binedge.h"
#include "be_bitformat.h"
#include "be_kernels.h"

uint64_t be_bench_now_ns(void);
be_status be_bench_invoke(be_interpreter *it, const uint8_t *input, int32_t *scores, uint32_t iters,
                          uint64_t *ns_out);
be_status be_bench_ops(be_interpreter *it, const uint8_t *input, int32_t *scores, uint32_t iters,
                       uint64_t *ns_out);
be_status be_bench_gemm(const char *variant, uint32_t isa, uint32_t m, uint32_t k, uint32_t n, const uint32_t *x,
                        const uint32_t *w, const int32_t *thresholds, const int8_t *direction, uint32_t *out,
                        void *scratch, uint32_t iters, uint64_t *ns_out, const char **name_out);

uint64_t be_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

be_status be_bench_invoke(be_interpreter *it, const uint8_t *input, int32_t *scores, uint32_t iters,
                          uint64_t *ns_out)
{
    uint32_t i;
    for (i = 0; i < iters; i++) {
        uint64_t t0 = be_bench_now_ns();
        be_status st = be_invoke(it, input, scores);
        ns_out[i] = be_bench_now_ns() - t0;
        if (st != BE_OK)
            return st;
    }
    return BE_OK;
}

/* Per-op times through the interpreter's op hook (be_interpreter_set_op_hook): the hook reads
 * the clock on entry to and exit from every op, so the timed work is exactly be_invoke's. */
typedef struct bench_hook {
    uint64_t *ns; /* this run's row: ns[op] */
    uint64_t t0;
} bench_hook;

static void bench_op_hook(void *ctx, int op, int end)
{
    bench_hook *h = (bench_hook *)ctx;
    if (!end)
        h->t0 = be_bench_now_ns();
    else
        h->ns[op] = be_bench_now_ns() - h->t0;
}

be_status be_bench_ops(be_interpreter *it, const uint8_t *input, int32_t *scores, uint32_t iters,
                       uint64_t *ns_out)
{
    uint32_t r;
    bench_hook h;
    be_status st = BE_OK;
    if (it == NULL || it->model == NULL || input == NULL || scores == NULL)
        return BE_ERR_ARG;
    for (r = 0; r < iters && st == BE_OK; r++) {
        h.ns = ns_out + (size_t)r * it->model->n_ops;
        st = be_interpreter_set_op_hook(it, bench_op_hook, &h);
        if (st == BE_OK)
            st = be_invoke(it, input, scores);
    }
    (void)be_interpreter_set_op_hook(it, NULL, NULL);
    return st;
}

static void sign_value(be_value *v, uint32_t h, uint32_t c, int rank)
{
    memset(v, 0, sizeof *v);
    v->kind = BE_KIND_BITS;
    v->rank = (uint8_t)rank;
    v->encoding = BE_ENC_SIGN;
    v->planes = 1u;
    v->h = h;
    v->w = 1u;
    v->c = c;
    v->cw = be_words_for(c);
    v->pixel_bytes = v->cw * 4u;
    v->nbytes = h * v->pixel_bytes;
}

be_status be_bench_gemm(const char *variant, uint32_t isa, uint32_t m, uint32_t k, uint32_t n, const uint32_t *x,
                        const uint32_t *w, const int32_t *thresholds, const int8_t *direction, uint32_t *out,
                        void *scratch, uint32_t iters, uint64_t *ns_out, const char **name_out)
{
    be_op op;
    const be_kernel *kern;
    uint32_t i;
    if (m == 0u || k == 0u || n == 0u || x == NULL || w == NULL || out == NULL || ns_out == NULL)
        return BE_ERR_ARG;
    memset(&op, 0, sizeof op);
    op.type = m == 1u ? BE_OP_DENSE : BE_OP_CONV2D;
    op.weight_kind = BE_WK_BINARY;
    op.stage = BE_STAGE_THRESHOLD;
    op.encoding = BE_ENC_SIGN;
    op.in_ch = k;
    op.out_ch = n;
    op.levels = 1u;
    op.k = k;
    op.w_row_bytes = be_words_for(k) * 4u;
    op.weights = w;
    op.stage_a = direction;
    op.stage_b = thresholds;
    if (m == 1u) {
        sign_value(&op.in, 1u, k, 1);
        sign_value(&op.out, 1u, n, 1);
    } else {
        op.kh = op.kw = op.sh = op.sw = 1u;
        sign_value(&op.in, m, k, 3);
        sign_value(&op.out, m, n, 3);
    }
    kern = be_select_kernel(&op, variant, isa == BE_ISA_DETECT ? be_isa_detect() : isa);
    if (kern == NULL)
        return BE_ERR_UNSUPPORTED;
    if (name_out != NULL)
        *name_out = kern->name;
    for (i = 0; i < iters; i++) {
        uint64_t t0 = be_bench_now_ns();
        be_status st = kern->fn(&op, x, out, scratch);
        ns_out[i] = be_bench_now_ns() - t0;
        if (st != BE_OK)
            return st;
    }
    return BE_OK;
}
