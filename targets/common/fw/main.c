/*
 * binedge firmware harness (written by `binedge export --target`; template:
 * targets/common/fw/main.c in the binedge repository).
 *
 * Runs the model of model.c on the test images of test_inputs.c with the binedge C runtime
 * and prints, one record per line (docs/firmware.md, parsed by `binedge emulate`):
 *
 *   BINEDGE-FW 1 target=<t> samples=<n> classes=<c> ops=<k> input_bytes=<b> arena=<a>
 *       model_struct=<bytes> interp_struct=<bytes> blob_bytes=<b> blob_crc=<hex> inputs_crc=<hex>
 *       cycle_counter=<dwt|none> [recurrent=1 generate=<g>]   (one line)
 *   K <op> <kernel variant> <op name>                 kernel chosen for every op
 *   S <i> <score0> ... <score(c-1)>                   int32 scores of test input i
 *   T <i> <ticks> <cycles>                            board_ticks() / DWT cycles of that invoke
 *   P samples=<n> hook_overhead_ticks=<t> hook_overhead_cycles=<c>
 *   L <op> <ticks> <cycles>                           per-op sums over the n profiled invokes
 *   Z status=ok samples=<n> correct=<k> labelled=<l> selfcheck_mismatches=<m>
 *       misaligned_input_mismatches=<m2> [generated=<g> generate_mismatches=<m3>]
 *       stack_used_inference=<b> stack_used=<b> stack_size=<b> total_ticks=<t> total_cycles=<c>
 *       tick_hz=<hz>                                 (one line, last)
 *   E <where> <status code> <message>                 on a runtime error (then exit != 0)
 *
 * A recurrent model (model.h: BINEDGE_MODEL_RECURRENT 1, an LSTM op keeping state between
 * invokes; docs/firmware.md "Character models"): the test inputs are the successive time steps
 * of one sequence (a seed text's character ids) and every pass that steps through them (timing,
 * misaligned input, profile) starts with be_reset, from the zero state; the warm-up invoke is
 * reset away too. After the timing pass the model generates FW_GENERATE (test_inputs.h)
 * characters greedily: the argmax of the last scores (first maximum on ties) is fed back as the
 * next input, one line each, then the Z line gains generated= and generate_mismatches=:
 *
 *   G <g> <id> <score0> ... <score(c-1)>             generated id g and the scores after it
 *   GT <g> <ticks> <cycles>                           that invoke's ticks
 *
 * Exit status: 0 if every invoke returned BE_OK and every score equals the reference scores
 * compiled into test_inputs.c; 2 + be_status on a runtime error; 1 on a self-check mismatch.
 *
 * Three passes over the inputs: a misalignment pass runs each input again from an odd address
 * (1..3 bytes past a word; binedge.h allows any input address) and counts into both mismatch
 * fields; the timing pass brackets each be_invoke with two board_ticks()
 * reads (compiler barriers on both sides); the profile pass (FW_PROFILE, default on) installs a
 * per-op hook (be_interpreter_set_op_hook) and sums the ticks of every op. Keeping them apart
 * keeps the hook's own cost out of the per-inference numbers.
 *
 * Ticks: under QEMU with -icount (binedge emulate) they count executed instructions, NOT
 * cycles (see board.h). On a real Cortex-M3/M4/M7/M33/M55 build with FW_USE_DWT=1
 * (make DWT=1) to also read DWT->CYCCNT cycles; QEMU does not model it (reads 0), and
 * ARMv6-M (Cortex-M0) has no cycle counter.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "binedge.h"
#include "board.h"
#include "model.h"
#include "test_inputs.h"

/* Run only the first FW_RUN_SAMPLES inputs (0: all FW_SAMPLES). */
#ifndef FW_RUN_SAMPLES
#define FW_RUN_SAMPLES 0
#endif
/* Per-op profile pass (0 to skip it). */
#ifndef FW_PROFILE
#define FW_PROFILE 1
#endif
/* Kernel variant for be_options.kernel: NULL = automatic dispatch, "ref" = reference kernels. */
#ifndef FW_KERNEL
#define FW_KERNEL NULL
#endif
/* Recurrent model (model.h) and the number of characters to generate (test_inputs.h). */
#ifndef BINEDGE_MODEL_RECURRENT
#define BINEDGE_MODEL_RECURRENT 0
#endif
#ifndef FW_GENERATE
#define FW_GENERATE 0
#endif
#if FW_GENERATE > 0 && !BINEDGE_MODEL_RECURRENT
#error "FW_GENERATE needs a recurrent model (BINEDGE_MODEL_RECURRENT)"
#endif
/* DWT->CYCCNT cycle counter (real boards). */
#ifndef FW_USE_DWT
#define FW_USE_DWT 0
#endif

#if FW_USE_DWT && (defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || \
                   defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__))
#define FW_HAVE_DWT 1
#define FW_REG32(addr) (*(volatile uint32_t *)(addr))
#define FW_DEMCR FW_REG32(0xE000EDFCu)
#define FW_DWT_CTRL FW_REG32(0xE0001000u)
#define FW_DWT_CYCCNT FW_REG32(0xE0001004u)
#define FW_DWT_LAR FW_REG32(0xE0001FB0u)
static void fw_cycles_start(void)
{
    FW_DEMCR |= 1u << 24;  /* TRCENA */
    FW_DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7; ignored elsewhere) */
    FW_DWT_CYCCNT = 0u;
    FW_DWT_CTRL |= 1u;     /* CYCCNTENA */
}
static uint32_t fw_cycles(void) { return FW_DWT_CYCCNT; }
#else
#define FW_HAVE_DWT 0
static void fw_cycles_start(void) {}
static uint32_t fw_cycles(void) { return 0u; }
#endif

#if defined(__GNUC__)
#define FW_ALIGN16 __attribute__((aligned(16)))
#else
#define FW_ALIGN16 /* the arena must be 16-byte aligned: align it with your compiler's syntax */
#endif

#if FW_RUN_SAMPLES > 0 && FW_RUN_SAMPLES < FW_SAMPLES
#define FW_N FW_RUN_SAMPLES
#else
#define FW_N FW_SAMPLES
#endif

static be_model fw_model;
static be_interpreter fw_interp;
static uint8_t fw_arena[BINEDGE_MODEL_ARENA_BYTES > 0 ? BINEDGE_MODEL_ARENA_BYTES : 1] FW_ALIGN16;
static int32_t fw_scores[BINEDGE_MODEL_CLASSES];
/* binedge.h allows the input at any address: the misalignment pass runs every input again from
   an odd address (1, 2 or 3 bytes past a word) and requires the same scores. */
static uint8_t fw_shifted[FW_INPUT_BYTES + 3u];

#if FW_PROFILE
/* Per-op tick and cycle sums of the profile pass (only built with FW_PROFILE: with it off
   neither the hook nor its buffers exist, so -Werror builds see no unused code). */
struct fw_profile {
    uint64_t t0;
    uint32_t c0;
    uint64_t ticks[BINEDGE_MODEL_OPS];
    uint64_t cycles[BINEDGE_MODEL_OPS];
};
static struct fw_profile fw_prof;

/* The per-op hook: reads the counters last on entry to an op and first on its exit. */
static void fw_op_hook(void *ctx, int op, int end)
{
    struct fw_profile *p = (struct fw_profile *)ctx;
    if (!end) {
        BOARD_BARRIER();
        p->c0 = fw_cycles();
        p->t0 = board_ticks();
        BOARD_BARRIER();
    } else {
        uint64_t t;
        uint32_t c;
        BOARD_BARRIER();
        t = board_ticks();
        c = fw_cycles();
        BOARD_BARRIER();
        p->ticks[op] += t - p->t0;
        p->cycles[op] += (uint32_t)(c - p->c0);
    }
}
#endif /* FW_PROFILE */

/* printf of 64-bit integers is not in every embedded printf: format by hand. */
static const char *fw_u64(char *buf, uint64_t v)
{
    char tmp[24];
    int n = 0, i = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) buf[i++] = tmp[--n];
    buf[i] = '\0';
    return buf;
}

static int fw_fail(const char *where, be_status st)
{
    printf("E %s %d %s\n", where, (int)st, be_status_str(st));
    return 2 + (int)st;
}

static int fw_scores_match(uint32_t i)
{
    uint32_t j;
    for (j = 0; j < BINEDGE_MODEL_CLASSES; j++)
        if (fw_scores[j] != fw_ref_scores[i][j]) return 0;
    return 1;
}

#if BINEDGE_MODEL_RECURRENT
/* Start a new sequence: every LSTM state back to zero. */
#define FW_RESET(where)                                   \
    do {                                                  \
        st = be_reset(&fw_interp);                        \
        if (st != BE_OK) return fw_fail((where), st);     \
    } while (0)
#else
#define FW_RESET(where) ((void)0)
#endif

static uint32_t fw_argmax(void)
{
    uint32_t j, best = 0;
    for (j = 1; j < BINEDGE_MODEL_CLASSES; j++)
        if (fw_scores[j] > fw_scores[best]) best = j;
    return best;
}

int main(void)
{
    be_options opt;
    be_status st;
    uint32_t i, j, n = FW_N, correct = 0, labelled = 0, mismatches = 0, misaligned_mismatches = 0, stack_inference;
    uint32_t inputs_crc;
#if BINEDGE_MODEL_RECURRENT
    uint32_t generate_mismatches = 0;
#endif
    uint64_t total_ticks = 0, total_cycles = 0;
    char b1[24], b2[24], b3[24];

    fw_cycles_start();
    st = be_model_init(&fw_model, binedge_model_blob, binedge_model_blob_size);
    if (st != BE_OK) return fw_fail("be_model_init", st);
    if (be_model_input_bytes(&fw_model) != FW_INPUT_BYTES ||
        be_model_class_count(&fw_model) != BINEDGE_MODEL_CLASSES ||
        be_model_op_count(&fw_model) != BINEDGE_MODEL_OPS ||
        be_model_arena_size(&fw_model) != BINEDGE_MODEL_ARENA_BYTES ||
        (be_model_is_recurrent(&fw_model) != 0) != (BINEDGE_MODEL_RECURRENT != 0))
        return fw_fail("model.h_does_not_match_the_blob", BE_ERR_SHAPE);
    be_options_default(&opt);
    opt.kernel = FW_KERNEL;
    st = be_prepare(&fw_interp, &fw_model, fw_arena, sizeof fw_arena, &opt);
    if (st != BE_OK) return fw_fail("be_prepare", st);

    /* One inference before anything is printed: the stack high-water mark of
       reset + init + prepare + invoke alone (printf needs more stack). */
    st = be_invoke(&fw_interp, fw_test_images[0], fw_scores);
    if (st != BE_OK) return fw_fail("be_invoke", st);
    stack_inference = be_target_stack_used();
    FW_RESET("be_reset"); /* the warm-up step must not leak into the sequence */

    inputs_crc = be_crc32(0u, fw_test_images, (size_t)n * FW_INPUT_BYTES);
    printf("BINEDGE-FW 1 target=%s samples=%lu classes=%lu ops=%lu input_bytes=%lu arena=%lu "
           "model_struct=%lu interp_struct=%lu blob_bytes=%lu blob_crc=%08lx inputs_crc=%08lx "
           "cycle_counter=%s",
           board_name(), (unsigned long)n, (unsigned long)BINEDGE_MODEL_CLASSES,
           (unsigned long)BINEDGE_MODEL_OPS, (unsigned long)FW_INPUT_BYTES,
           (unsigned long)BINEDGE_MODEL_ARENA_BYTES, (unsigned long)sizeof(be_model),
           (unsigned long)sizeof(be_interpreter), (unsigned long)binedge_model_blob_size,
           (unsigned long)be_crc32(0u, binedge_model_blob, binedge_model_blob_size),
           (unsigned long)inputs_crc, FW_HAVE_DWT ? "dwt" : "none");
#if BINEDGE_MODEL_RECURRENT
    printf(" recurrent=1 generate=%lu", (unsigned long)FW_GENERATE);
#endif
    printf("\n");
    for (j = 0; j < BINEDGE_MODEL_OPS; j++) {
        const char *name = be_model_op_name(&fw_model, j);
        printf("K %lu %s %s\n", (unsigned long)j, be_interpreter_kernel_name(&fw_interp, j),
               name != NULL && name[0] != '\0' ? name : "-");
    }

    /* Timing pass. */
    for (i = 0; i < n; i++) {
        uint64_t t0, t1;
        uint32_t c0, c1;
        BOARD_BARRIER();
        c0 = fw_cycles();
        t0 = board_ticks();
        BOARD_BARRIER();
        st = be_invoke(&fw_interp, fw_test_images[i], fw_scores);
        BOARD_BARRIER();
        t1 = board_ticks();
        c1 = fw_cycles();
        BOARD_BARRIER();
        if (st != BE_OK) return fw_fail("be_invoke", st);
        total_ticks += t1 - t0;
        total_cycles += (uint32_t)(c1 - c0);
        printf("S %lu", (unsigned long)i);
        for (j = 0; j < BINEDGE_MODEL_CLASSES; j++) printf(" %ld", (long)fw_scores[j]);
        printf("\nT %lu %s %lu\n", (unsigned long)i, fw_u64(b1, t1 - t0), (unsigned long)(c1 - c0));
        if (!fw_scores_match(i)) mismatches++;
        if (fw_test_labels[i] >= 0) {
            labelled++;
            if ((int32_t)fw_argmax() == (int32_t)fw_test_labels[i]) correct++;
        }
    }

#if FW_GENERATE > 0
    /* Generation: the state continues from the last seed step; each step feeds back the argmax
       of the previous scores (first maximum on ties) and is timed like a seed step. The
       reference ids and scores in test_inputs.c follow the whole seed: they are checked only
       when every seed input ran. */
    for (i = 0; i < FW_GENERATE; i++) {
        uint64_t t0, t1;
        uint32_t c0, c1;
        uint8_t id = (uint8_t)fw_argmax();
        BOARD_BARRIER();
        c0 = fw_cycles();
        t0 = board_ticks();
        BOARD_BARRIER();
        st = be_invoke(&fw_interp, &id, fw_scores);
        BOARD_BARRIER();
        t1 = board_ticks();
        c1 = fw_cycles();
        BOARD_BARRIER();
        if (st != BE_OK) return fw_fail("be_invoke(generate)", st);
        printf("G %lu %lu", (unsigned long)i, (unsigned long)id);
        for (j = 0; j < BINEDGE_MODEL_CLASSES; j++) printf(" %ld", (long)fw_scores[j]);
        printf("\nGT %lu %s %lu\n", (unsigned long)i, fw_u64(b1, t1 - t0), (unsigned long)(c1 - c0));
        if (n == FW_SAMPLES) {
            int same = id == fw_ref_gen_ids[i];
            for (j = 0; j < BINEDGE_MODEL_CLASSES; j++) same &= fw_scores[j] == fw_ref_gen_scores[i][j];
            if (!same) {
                mismatches++;
                generate_mismatches++;
            }
        }
    }
#endif

    /* Misalignment pass: the same inputs at odd addresses (untimed). An unaligned word access
       that the core does not allow would fault here (a failure), a wrong score is a mismatch. */
    FW_RESET("be_reset(misaligned_input)");
    for (i = 0; i < n; i++) {
        uint8_t *at = fw_shifted + 1u + i % 3u;
        for (j = 0; j < FW_INPUT_BYTES; j++) at[j] = fw_test_images[i][j];
        st = be_invoke(&fw_interp, at, fw_scores);
        if (st != BE_OK) return fw_fail("be_invoke(misaligned_input)", st);
        if (!fw_scores_match(i)) {
            mismatches++;
            misaligned_mismatches++;
        }
    }

#if FW_PROFILE
    {
        /* Cost of the hook itself (two calls, nothing in between): subtracted on the host. */
        struct fw_profile calib = {0};
        uint64_t best_t = UINT64_MAX, best_c = UINT64_MAX;
        for (i = 0; i < 4; i++) {
            calib.ticks[0] = 0;
            calib.cycles[0] = 0;
            fw_op_hook(&calib, 0, 0);
            fw_op_hook(&calib, 0, 1);
            if (calib.ticks[0] < best_t) best_t = calib.ticks[0];
            if (calib.cycles[0] < best_c) best_c = calib.cycles[0];
        }
        st = be_interpreter_set_op_hook(&fw_interp, fw_op_hook, &fw_prof);
        if (st != BE_OK) return fw_fail("be_interpreter_set_op_hook", st);
        FW_RESET("be_reset(profile)");
        for (i = 0; i < n; i++) {
            st = be_invoke(&fw_interp, fw_test_images[i], fw_scores);
            if (st != BE_OK) return fw_fail("be_invoke(profile)", st);
            if (!fw_scores_match(i)) mismatches++;
        }
        be_interpreter_set_op_hook(&fw_interp, NULL, NULL);
        printf("P samples=%lu hook_overhead_ticks=%s hook_overhead_cycles=%s\n", (unsigned long)n,
               fw_u64(b1, best_t), fw_u64(b2, best_c));
        for (j = 0; j < BINEDGE_MODEL_OPS; j++)
            printf("L %lu %s %s\n", (unsigned long)j, fw_u64(b1, fw_prof.ticks[j]),
                   fw_u64(b2, fw_prof.cycles[j]));
    }
#endif

    printf("Z status=%s samples=%lu correct=%lu labelled=%lu selfcheck_mismatches=%lu "
           "misaligned_input_mismatches=%lu ",
           mismatches ? "mismatch" : "ok", (unsigned long)n, (unsigned long)correct,
           (unsigned long)labelled, (unsigned long)mismatches, (unsigned long)misaligned_mismatches);
#if BINEDGE_MODEL_RECURRENT
    printf("generated=%lu generate_mismatches=%lu ", (unsigned long)FW_GENERATE,
           (unsigned long)generate_mismatches);
#endif
    printf("stack_used_inference=%lu stack_used=%lu stack_size=%lu total_ticks=%s total_cycles=%s "
           "tick_hz=%s\n",
           (unsigned long)stack_inference,
           (unsigned long)be_target_stack_used(), (unsigned long)be_target_stack_size(),
           fw_u64(b1, total_ticks), fw_u64(b2, total_cycles), fw_u64(b3, (uint64_t)board_tick_hz()));
    return mismatches ? 1 : 0;
}
