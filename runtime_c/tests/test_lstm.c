/* test_lstm.c -- the LSTM op end to end: a recurrent blob written by binedge (lstm_blob.h: id ->
 * LSTM -> LSTM -> Dense scores) run step by step with every kernel choice (the reference's scores
 * at every step), be_prepare / be_reset zeroing the state, BE_ERR_INPUT for an id beyond the
 * vocabulary (nothing changes), and the loader refusing each bad field of an LSTM op record, its
 * tensors, its values and its state region (the CRC recomputed so each check is reached). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "binedge.h"
#include "be_test.h"
#include "golden_blob.h"
#include "lstm_blob.h"

#define ARENA_BYTES 512u
#define COPY_BYTES (LSTM_BLOB_SIZE > GOLDEN_BLOB_SIZE ? LSTM_BLOB_SIZE : GOLDEN_BLOB_SIZE)

#if !defined(__ARM_ARCH_6M__) /* the Cortex-M0's 16 KiB of RAM hold the other tests' buffers */

static uint32_t blob_copy[(COPY_BYTES + 3u) / 4u]; /* a mutable, 4-byte aligned blob */
static uint32_t arena_words[ARENA_BYTES / 4u + 4u];
static be_model model;
static be_interpreter interp;

static uint8_t *arena16(void)
{
    uintptr_t a = (uintptr_t)arena_words;
    return (uint8_t *)arena_words + ((16u - a % 16u) % 16u);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint8_t *fresh(void)
{
    memcpy(blob_copy, lstm_blob, LSTM_BLOB_SIZE);
    return (uint8_t *)blob_copy;
}

static be_status load_patched(uint8_t *b)
{
    wr32(b + 8, be_crc32(0u, b + 12, LSTM_BLOB_SIZE - 12u));
    return be_model_init(&model, b, LSTM_BLOB_SIZE);
}

/* Offsets in the blob: op record i, tensor record t's data, value record v. */
static uint32_t op_at(const uint8_t *b, uint32_t i)
{
    return rd32(b + 44) + 112u * i;
}

static uint32_t tensor_data(const uint8_t *b, uint32_t t)
{
    return rd32(b + rd32(b + 52) + 32u * t + 20u);
}

static uint32_t value_at(const uint8_t *b, uint32_t v)
{
    return rd32(b + 40) + 48u * v;
}

/* Patch op i's field at `off` (u32) to v and load. */
static be_status op_field(uint32_t i, uint32_t off, uint32_t v)
{
    uint8_t *b = fresh();
    wr32(b + op_at(b, i) + off, v);
    return load_patched(b);
}

static be_status op_byte(uint32_t i, uint32_t off, uint8_t v)
{
    uint8_t *b = fresh();
    b[op_at(b, i) + off] = v;
    return load_patched(b);
}

/* Patch byte / u32 `off` of tensor t's data. */
static be_status tensor_byte(uint32_t t, uint32_t off, uint8_t v)
{
    uint8_t *b = fresh();
    b[tensor_data(b, t) + off] = v;
    return load_patched(b);
}

static be_status tensor_u32(uint32_t t, uint32_t off, uint32_t v)
{
    uint8_t *b = fresh();
    wr32(b + tensor_data(b, t) + off, v);
    return load_patched(b);
}

static void run_steps(const char *kernel)
{
    be_options opt;
    int32_t scores[LSTM_VOCAB];
    uint8_t x;
    uint32_t t, c;
    int ok = 1;
    CHECK_EQ(be_model_init(&model, fresh(), LSTM_BLOB_SIZE), BE_OK);
    CHECK(be_model_arena_size(&model) <= ARENA_BYTES);
    be_options_default(&opt);
    opt.kernel = kernel;
    memset(arena16(), 0xA5, ARENA_BYTES); /* garbage state: be_prepare must zero it */
    CHECK_EQ(be_prepare(&interp, &model, arena16(), ARENA_BYTES, &opt), BE_OK);
    for (t = 0; t < LSTM_STEPS; t++) {
        if (t == 17u) { /* an id beyond the vocabulary: refused, nothing changes */
            x = (uint8_t)LSTM_VOCAB;
            memset(scores, 0x5A, sizeof scores);
            CHECK_EQ(be_invoke(&interp, &x, scores), BE_ERR_INPUT);
            x = 255u;
            CHECK_EQ(be_invoke(&interp, &x, scores), BE_ERR_INPUT);
            CHECK_EQ(scores[0], 0x5A5A5A5A);
        }
        CHECK_EQ(be_invoke(&interp, &lstm_ids[t], scores), BE_OK);
        for (c = 0; c < LSTM_VOCAB; c++)
            ok &= scores[c] == lstm_scores[t][c];
    }
    CHECK(ok);
    /* be_reset: the sequence starts again */
    CHECK_EQ(be_reset(&interp), BE_OK);
    ok = 1;
    for (t = 0; t < 10u; t++) {
        CHECK_EQ(be_invoke(&interp, &lstm_ids[t], scores), BE_OK);
        for (c = 0; c < LSTM_VOCAB; c++)
            ok &= scores[c] == lstm_scores[t][c];
    }
    CHECK(ok);
    /* be_invoke_batch: successive steps, the state carried (from the reset and between calls) */
    CHECK_EQ(be_reset(&interp), BE_OK);
    for (t = 0; t < LSTM_STEPS; t += 4u) {
        int32_t batch[4][LSTM_VOCAB];
        CHECK_EQ(be_invoke_batch(&interp, lstm_ids + t, 4u, &batch[0][0]), BE_OK);
        CHECK(memcmp(batch, lstm_scores[t], sizeof batch) == 0);
    }
    if (kernel != NULL)
        printf("test_lstm: %s ran %s\n", kernel, be_interpreter_kernel_name(&interp, 0));
}

static void test_api(void)
{
    be_interpreter none;
    CHECK_EQ(be_model_init(&model, fresh(), LSTM_BLOB_SIZE), BE_OK);
    CHECK_EQ(be_model_is_recurrent(&model), 1);
    CHECK_EQ(be_model_op_count(&model), 3u);
    CHECK_EQ(be_model_input_bytes(&model), 1u);
    CHECK_EQ(be_model_class_count(&model), LSTM_VOCAB);
    CHECK_EQ(be_model_kernel_families(&model, 0), be_model_kernel_families(&model, 1));
    {
        const uint32_t fams = be_model_kernel_families(&model, 0);
        int f;
        for (f = 1; f < 32 && fams != (1u << f); f++)
            ;
        CHECK(f < 32 && strcmp(be_kernel_family_name(f), "LSTM_BIN") == 0);
    }
    CHECK_EQ(be_model_is_recurrent(NULL), 0);
    CHECK_EQ(be_reset(NULL), BE_ERR_ARG);
    memset(&none, 0, sizeof none);
    CHECK_EQ(be_reset(&none), BE_ERR_ARG);
    CHECK(strcmp(be_status_str(BE_ERR_INPUT), "unknown status") != 0);
    /* a model without LSTM: not recurrent, be_reset has nothing to do */
    {
        memcpy(blob_copy, golden_blob, GOLDEN_BLOB_SIZE);
        CHECK_EQ(be_model_init(&model, blob_copy, GOLDEN_BLOB_SIZE), BE_OK);
        CHECK_EQ(be_model_is_recurrent(&model), 0);
        CHECK_EQ(be_prepare(&none, &model, arena16(), ARENA_BYTES, NULL), BE_OK);
        CHECK_EQ(be_reset(&none), BE_OK);
    }
}

static void test_kernels(void)
{
    size_t i;
    run_steps(NULL);
    run_steps("ref");
    for (i = 0; i < be_kernel_count(); i++) {
        int type;
        uint32_t isa;
        const char *name = be_kernel_info(i, &type, &isa);
        if (type == BE_OP_LSTM && strcmp(name, "ref") != 0 && (isa & ~be_isa_detect()) == 0u)
            run_steps(name);
    }
}

static void test_loader(void)
{
    uint8_t *b;
    const uint32_t o0 = op_at(lstm_blob, 0);
    const uint32_t state0 = rd32(lstm_blob + o0 + 76);
    CHECK_EQ(load_patched(fresh()), BE_OK);
    /* op record fields */
    CHECK_EQ(op_byte(0, 1, BE_WK_INT8), BE_ERR_FORMAT);      /* weight kind */
    CHECK_EQ(op_byte(0, 2, BE_STAGE_SCORE), BE_ERR_FORMAT);  /* stage */
    CHECK_EQ(op_byte(0, 3, BE_ENC_SIGN), BE_ERR_FORMAT);     /* encoding */
    CHECK_EQ(op_field(0, 4, 2u), BE_ERR_FORMAT);             /* n_inputs */
    CHECK_EQ(op_field(0, 12, LSTM_VOCAB + 1u), BE_ERR_SHAPE); /* in: the Wx shape no longer fits */
    CHECK_EQ(op_field(0, 12, 257u), BE_ERR_SHAPE);           /* a vocabulary beyond 256 */
    CHECK_EQ(op_field(0, 12, 0u), BE_ERR_SHAPE);
    CHECK_EQ(op_field(0, 16, 0u), BE_ERR_SHAPE);             /* out = H */
    CHECK_EQ(op_field(0, 16, LSTM_HIDDEN + 1u), BE_ERR_SHAPE);
    CHECK_EQ(op_field(0, 16, BE_MAX_CHANNELS / 4u + 1u), BE_ERR_FORMAT);
    CHECK_EQ(op_field(1, 12, LSTM_HIDDEN + 1u), BE_ERR_SHAPE); /* layer 1: in must be the layer below's H */
    CHECK_EQ(op_field(0, 20, 1u), BE_ERR_FORMAT);            /* kh .. pr */
    CHECK_EQ(op_field(0, 48, 1u), BE_ERR_FORMAT);
    CHECK_EQ(op_field(0, 52, 1u), BE_ERR_FORMAT);            /* groups */
    CHECK_EQ(op_field(0, 56, 1u), BE_ERR_FORMAT);            /* levels */
    CHECK_EQ(op_field(0, 60, 6u), BE_ERR_FORMAT);            /* c_frac 7 .. 14 */
    CHECK_EQ(op_field(0, 60, 15u), BE_ERR_FORMAT);
    CHECK_EQ(op_field(0, 60, 7u), BE_OK);
    CHECK_EQ(op_field(0, 60, 14u), BE_OK);
    CHECK_EQ(op_field(0, 64, 1u), BE_ERR_FORMAT);            /* zero point */
    CHECK_EQ(op_field(0, 68, 1u), BE_ERR_FORMAT);            /* multipliers a, b */
    CHECK_EQ(op_field(0, 72, 1u), BE_ERR_FORMAT);
    CHECK_EQ(op_field(0, 80, rd32(lstm_blob + o0 + 80) + 16u), BE_ERR_FORMAT); /* state bytes */
    CHECK_EQ(op_field(0, 80, 0u), BE_ERR_FORMAT);
    CHECK_EQ(op_field(0, 76, 0xFFFFFFFFu), BE_ERR_FORMAT);   /* no state region */
    CHECK_EQ(op_field(0, 76, state0 + 8u), BE_ERR_ALIGN);
    CHECK_EQ(op_field(0, 100, 0xFFFFFFFFu), BE_ERR_FORMAT);  /* stage d (shifts) missing */
    CHECK_EQ(op_field(0, 104, 10u), BE_ERR_FORMAT);          /* stage e */
    CHECK_EQ(op_field(0, 84, 1u), BE_ERR_FORMAT);            /* tensors out of order */
    CHECK_EQ(op_byte(0, 108, 1u), BE_ERR_FORMAT);            /* reserved */
    /* the state region overlapping any other region (it is live at every op) */
    {
        uint32_t r, v, other[6], n = 0, k;
        other[n++] = rd32(lstm_blob + op_at(lstm_blob, 1) + 76); /* layer 1's state */
        for (v = 1; v <= 2u; v++)                                /* the two h values */
            other[n++] = rd32(lstm_blob + value_at(lstm_blob, v) + 20);
        for (k = 0; k < n; k++) {
            for (r = 0; r < 2u; r++) { /* op 0's state onto it, and it onto op 0's state */
                b = fresh();
                if (r == 0u) {
                    wr32(b + o0 + 76, other[k]);
                } else if (k == 0u) {
                    wr32(b + op_at(b, 1) + 76, state0);
                } else {
                    wr32(b + value_at(b, k) + 20, state0);
                }
                CHECK_EQ(load_patched(b), BE_ERR_FORMAT);
            }
        }
    }
    /* tensors: 0 Wh, 1 Wx, 2 M, 3 B, 4 shifts (layer 0); 5 .. 9 (layer 1) */
    CHECK_EQ(tensor_byte(4, 0, 0u), BE_ERR_FORMAT);          /* gate shifts 1 .. 30 */
    CHECK_EQ(tensor_byte(4, 3, 31u), BE_ERR_FORMAT);
    CHECK_EQ(tensor_byte(9, 2, 0u), BE_ERR_FORMAT);
    CHECK_EQ(tensor_u32(0, 4, 0x8u), BE_ERR_FORMAT);         /* Wh padding bit (H = 3: bits 3..31 of each row) */
    CHECK_EQ(tensor_u32(0, 4 * 11, 0x80000000u), BE_ERR_FORMAT);
    CHECK_EQ(tensor_u32(0, 4, 0x7u), BE_OK);
    CHECK_EQ(tensor_u32(1, 4 * 4, 0x1000u), BE_ERR_FORMAT);  /* layer 0 Wx (V, words(4H)): bits 12.. */
    CHECK_EQ(tensor_u32(1, 4 * 4, 0xFFFu), BE_OK);
    CHECK_EQ(tensor_u32(6, 0, 0x10u), BE_ERR_FORMAT);        /* layer 1 Wx (4H, words(I)) */
    /* the per-gate int32 bound: |Mh| 127 H + |Mx| xmax + max |B| + 2^(s-1) <= 2^31 - 1 */
    CHECK_EQ(tensor_u32(2, 0, 0x7FFFFFFFu), BE_ERR_OVERFLOW);           /* Mh_i */
    CHECK_EQ(tensor_u32(2, 16 + 12, 0x80000000u), BE_ERR_OVERFLOW);     /* Mx_o = INT32_MIN */
    CHECK_EQ(tensor_u32(7, 16, 0x7FFFFFFFu / (127u * LSTM_HIDDEN)), BE_ERR_OVERFLOW); /* layer 1 Mx: 127 I */
    CHECK_EQ(tensor_u32(3, 4 * 5, 0x7FFFFFFFu), BE_ERR_OVERFLOW);       /* a bias */
    CHECK_EQ(tensor_u32(3, 4 * 5, 0x80000001u), BE_ERR_OVERFLOW);
    CHECK_EQ(tensor_u32(2, 0, 0u), BE_OK);
    {   /* exactly at the bound: accepted; one more: refused (gate i of layer 0: Mx and B zeroed) */
        const uint32_t s = lstm_blob[tensor_data(lstm_blob, 4)];
        const uint32_t room = 0x7FFFFFFFu - (1u << (s - 1u)), mh = room / (127u * LSTM_HIDDEN);
        uint32_t c;
        for (c = 0; c < 2u; c++) {
            b = fresh();
            wr32(b + tensor_data(b, 2), mh);
            wr32(b + tensor_data(b, 2) + 16u, 0u);
            wr32(b + tensor_data(b, 3), room - mh * 127u * LSTM_HIDDEN + c);
            wr32(b + tensor_data(b, 3) + 4u, 0u);
            wr32(b + tensor_data(b, 3) + 8u, 0u);
            CHECK_EQ(load_patched(b), c == 0u ? BE_OK : BE_ERR_OVERFLOW);
        }
    }
    /* values */
    b = fresh();
    b[value_at(b, 1) + 39] = 0x3Fu; /* layer 0's h: scale 2^-7 exactly (here 1.0) */
    b[value_at(b, 1) + 38] = 0xF0u;
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
    b = fresh();
    wr32(b + value_at(b, 2) + 16, 1u); /* h has zero point 0 */
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
    b = fresh();
    wr32(b + value_at(b, 0) + 16, 1u); /* the character id has zero point 0 */
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
    b = fresh();
    wr32(b + value_at(b, 0) + 12, 2u); /* ... and one byte */
    wr32(b + value_at(b, 0) + 24, 2u);
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
    b = fresh();
    b[value_at(b, 0)] = BE_KIND_I8; /* an i8 input that is not an LSTM's h */
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
    /* layer 1 reading the character id instead of layer 0's h */
    b = fresh();
    wr32(b + rd32(b + 48) + 4u * rd32(b + op_at(b, 1) + 8), 0u);
    CHECK_EQ(load_patched(b), BE_ERR_SHAPE);
}

int main(void)
{
    test_api();
    test_kernels();
    test_loader();
    return be_test_report("test_lstm");
}

#else

int main(void)
{
    printf("test_lstm: skipped on the Cortex-M0 (16 KiB of RAM; test_variants runs the LSTM kernels there)\n");
    return be_test_report("test_lstm");
}

#endif
