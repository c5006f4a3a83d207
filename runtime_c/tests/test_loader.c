/* test_loader.c -- the golden blob loads and runs; every corruption yields its status code. */
#include <stdint.h>
#include <string.h>

#include "be_test.h"
#include "binedge.h"
#include "golden_blob.h"

static uint32_t blob_words[(GOLDEN_BLOB_SIZE + 64u) / 4u];
static uint8_t arena_raw[GOLDEN_ARENA_SIZE + 64u];
static be_model model;
static be_interpreter interp;

static uint8_t *blob(void)
{
    return (uint8_t *)blob_words;
}

static uint8_t *aligned_arena(void)
{
    uintptr_t p = (uintptr_t)arena_raw;
    return arena_raw + ((16u - p % 16u) % 16u);
}

static void reset(void)
{
    memset(blob_words, 0, sizeof blob_words);
    memcpy(blob(), golden_blob, GOLDEN_BLOB_SIZE);
}

static void put32(uint32_t off, uint32_t v)
{
    uint8_t *b = blob();
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
    b[off + 2] = (uint8_t)(v >> 16);
    b[off + 3] = (uint8_t)(v >> 24);
}

static void fix_crc(void) /* over [12, total_size) as stored, clipped to the buffer */
{
    const uint8_t *b = blob();
    uint32_t total = (uint32_t)b[12] | ((uint32_t)b[13] << 8) | ((uint32_t)b[14] << 16) | ((uint32_t)b[15] << 24);
    if (total > GOLDEN_BLOB_SIZE)
        total = GOLDEN_BLOB_SIZE;
    if (total >= 12u)
        put32(8, be_crc32(0u, b + 12, total - 12u));
}

/* Load the golden blob with a u32 written at `off` (CRC recomputed). */
static be_status with32(uint32_t off, uint32_t v)
{
    reset();
    put32(off, v);
    fix_crc();
    return be_model_init(&model, blob(), GOLDEN_BLOB_SIZE);
}

/* Load the golden blob with two u32 fields written (CRC recomputed). */
static be_status with32x2(uint32_t off1, uint32_t v1, uint32_t off2, uint32_t v2)
{
    reset();
    put32(off1, v1);
    put32(off2, v2);
    fix_crc();
    return be_model_init(&model, blob(), GOLDEN_BLOB_SIZE);
}

/* Load the golden blob with a byte written at `off` (CRC recomputed). */
static be_status with8(uint32_t off, uint8_t v)
{
    reset();
    blob()[off] = v;
    fix_crc();
    return be_model_init(&model, blob(), GOLDEN_BLOB_SIZE);
}

static void test_golden(void)
{
    int32_t scores[GOLDEN_N_INPUTS * GOLDEN_CLASSES];
    uint32_t dims[3], i, c;
    size_t msize = 0;
    const char *meta;
    reset();
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE), BE_OK);
    CHECK_EQ(be_model_arena_size(&model), GOLDEN_ARENA_SIZE);
    CHECK_EQ(be_model_input_bytes(&model), GOLDEN_INPUT_BYTES);
    CHECK_EQ(be_model_input_shape(&model, dims), 3);
    CHECK(dims[0] == 3u && dims[1] == 3u && dims[2] == 1u);
    CHECK_EQ(be_model_class_count(&model), GOLDEN_CLASSES);
    CHECK_EQ(be_model_output_shift(&model), 2);
    CHECK_EQ(be_model_op_count(&model), 7);
    CHECK_EQ(be_model_input_kind(&model), BE_KIND_U8);
    CHECK_EQ(be_model_input_zero_point(&model), 0);
    CHECK(strcmp(be_model_class_name(&model, 0), "a") == 0);
    CHECK(strcmp(be_model_class_name(&model, 2), "c") == 0);
    CHECK(be_model_class_name(&model, 3) == NULL);
    CHECK(strcmp(be_model_op_name(&model, 0), "c0") == 0);
    CHECK(strcmp(be_model_op_name(&model, 6), "d6") == 0);
    CHECK(be_model_op_name(&model, 7) == NULL);
    /* the DAG: g2 reads the input, k4 reads p1 and t3; the arena plan of tests/test_blob.py */
    CHECK(model.ops[2].n_inputs == 1u && model.operands[model.ops[2].first_operand] == 0u);
    CHECK(model.ops[4].n_inputs == 2u && model.operands[model.ops[4].first_operand] == 2u &&
          model.operands[model.ops[4].first_operand + 1u] == 4u);
    CHECK(model.ops[0].out.offset == 0u && model.ops[1].out.offset == 48u && model.ops[2].out.offset == 16u);
    CHECK(model.ops[0].scratch_offset == 48u && model.ops[0].scratch_bytes == 16u);
    CHECK(model.ops[1].last_use == 4u && model.ops[2].out.kind == BE_KIND_I8 && model.ops[2].out.zero_point == -2);
    meta = be_model_metadata(&model, &msize);
    CHECK(msize == 17u && meta != NULL && memcmp(meta, "{\"name\":\"golden\"}", 17) == 0);

    CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE, NULL), BE_OK);
    for (i = 0; i < 7u; i++)
        CHECK(be_interpreter_kernel_name(&interp, i) != NULL);
    CHECK(be_interpreter_kernel_name(&interp, 7) == NULL);
    for (i = 0; i < GOLDEN_N_INPUTS; i++) {
        CHECK_EQ(be_invoke(&interp, golden_inputs[i], scores), BE_OK);
        for (c = 0; c < GOLDEN_CLASSES; c++)
            CHECK_EQ(scores[c], golden_scores[i][c]);
    }
    memset(scores, 0, sizeof scores);
    CHECK_EQ(be_invoke_batch(&interp, &golden_inputs[0][0], GOLDEN_N_INPUTS, scores), BE_OK);
    for (i = 0; i < GOLDEN_N_INPUTS; i++)
        for (c = 0; c < GOLDEN_CLASSES; c++)
            CHECK_EQ(scores[i * GOLDEN_CLASSES + c], golden_scores[i][c]);

    /* forced reference kernels, restricted ISA */
    {
        be_options opt;
        be_options_default(&opt);
        opt.kernel = "ref";
        CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE, &opt), BE_OK);
        for (i = 0; i < 7u; i++)
            CHECK(strcmp(be_interpreter_kernel_name(&interp, i), "ref") == 0);
        CHECK_EQ(be_invoke(&interp, golden_inputs[0], scores), BE_OK);
        CHECK_EQ(scores[2], golden_scores[0][2]);
        opt.kernel = NULL;
        opt.isa = 0u;
        CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE, &opt), BE_OK);
        opt.kernel = "no-such-variant";
        CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE, &opt), BE_ERR_UNSUPPORTED);
        CHECK_EQ(be_invoke(&interp, golden_inputs[0], scores), BE_ERR_ARG); /* failed prepare: not ready */
    }

    /* arena checks */
    CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE - 1u, NULL), BE_ERR_ARENA_TOO_SMALL);
    CHECK_EQ(be_prepare(&interp, &model, aligned_arena() + 4, GOLDEN_ARENA_SIZE, NULL), BE_ERR_ALIGN);
    CHECK_EQ(be_prepare(&interp, &model, NULL, GOLDEN_ARENA_SIZE, NULL), BE_ERR_ARG);
    CHECK_EQ(be_prepare(NULL, &model, aligned_arena(), GOLDEN_ARENA_SIZE, NULL), BE_ERR_ARG);
    CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE + 100u, NULL), BE_OK);
    CHECK_EQ(be_invoke(&interp, NULL, scores), BE_ERR_ARG);
    CHECK_EQ(be_invoke(&interp, golden_inputs[0], NULL), BE_ERR_ARG);
    CHECK_EQ(be_invoke(NULL, golden_inputs[0], scores), BE_ERR_ARG);

    /* extra bytes after the blob are ignored (a blob at the start of a flash region) */
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE + 32u), BE_OK);
}

static void test_corruptions(void)
{
    uint32_t n, pos;
    /* arguments */
    reset();
    CHECK_EQ(be_model_init(NULL, blob(), GOLDEN_BLOB_SIZE), BE_ERR_ARG);
    CHECK_EQ(be_model_init(&model, NULL, GOLDEN_BLOB_SIZE), BE_ERR_ARG);
    CHECK_EQ(be_prepare(&interp, &model, aligned_arena(), GOLDEN_ARENA_SIZE, NULL), BE_ERR_ARG); /* not ready */
    CHECK_EQ(be_model_arena_size(&model), 0);

    /* truncation at every length */
    for (n = 0; n < GOLDEN_BLOB_SIZE; n++) {
        be_status st = be_model_init(&model, blob(), n);
        if (st != BE_ERR_TRUNCATED) {
            printf("length %u: status %d\n", (unsigned)n, (int)st);
            CHECK(0);
        }
    }
    /* magic, version, header size */
    reset();
    blob()[3] = '2';
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE), BE_ERR_MAGIC);
    reset();
    blob()[4] = 1; /* a version-1 blob: re-export */
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE), BE_ERR_VERSION);
    reset();
    blob()[4] = 3;
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE), BE_ERR_VERSION);
    reset();
    blob()[6] = 0x60; /* header size 96 (version 1's) */
    CHECK_EQ(be_model_init(&model, blob(), GOLDEN_BLOB_SIZE), BE_ERR_VERSION);
    /* CRC: any flipped bit after the CRC field (and in the CRC field) */
    for (pos = 8; pos < GOLDEN_BLOB_SIZE; pos++) {
        be_status st;
        if (pos >= 12u && pos < 16u)
            continue; /* total_size: truncation / bounds */
        reset();
        blob()[pos] ^= (uint8_t)(1u << (pos % 8u));
        st = be_model_init(&model, blob(), GOLDEN_BLOB_SIZE);
        if (st != BE_ERR_CRC) {
            printf("flip at %u: status %d\n", (unsigned)pos, (int)st);
            CHECK(0);
        }
    }
    /* misaligned blob pointer */
    reset();
    memmove(blob() + 1, blob(), GOLDEN_BLOB_SIZE);
    CHECK_EQ(be_model_init(&model, blob() + 1, GOLDEN_BLOB_SIZE), BE_ERR_ALIGN);

    /* with the CRC recomputed: the deeper validation (offsets of docs/format.md: values at 128,
     * ops at 512 (112 B each), operands at 1296, tensors at 1328, strings at 1584, data at 1648) */
    CHECK_EQ(with32(12, GOLDEN_BLOB_SIZE - 16u), BE_ERR_BOUNDS);        /* total_size cuts the data */
    CHECK_EQ(with32(12, 64u), BE_ERR_BOUNDS);                           /* total_size < header */
    CHECK_EQ(with32(16, 1u), BE_ERR_FORMAT);                            /* flags */
    CHECK_EQ(with8(100, 1u), BE_ERR_FORMAT);                            /* reserved */
    CHECK_EQ(with32(20, GOLDEN_ARENA_SIZE - 16u), BE_ERR_FORMAT);       /* arena too small for the plan */
    CHECK_EQ(with32(20, GOLDEN_ARENA_SIZE + 8u), BE_ERR_FORMAT);        /* arena not a multiple of 16 */
    CHECK_EQ(with32(84, 4u), BE_ERR_SHAPE);                             /* output classes */
    CHECK_EQ(with32(88, 3u), BE_ERR_FORMAT);                            /* output shift */
    CHECK_EQ(with32(24, 7u), BE_ERR_FORMAT);                            /* n_values != n_ops + 1 */
    CHECK_EQ(with32(28, 0u), BE_ERR_FORMAT);                            /* no ops */
    CHECK_EQ(with32(28, 1000u), BE_ERR_BOUNDS);                         /* op table out of range */
    CHECK_EQ(with32(40, 100u), BE_ERR_ALIGN);                           /* value table misaligned */
    CHECK_EQ(with32(44, 0xFFFFFFF0u), BE_ERR_BOUNDS);                   /* op table out of range */
    CHECK_EQ(with32(56, 128u), BE_ERR_BOUNDS);                          /* strings overlap */
    CHECK_EQ(with32(76, 0x7FFFFFF0u), BE_ERR_BOUNDS);                   /* data section */
    CHECK_EQ(with32(64, 2u), BE_ERR_FORMAT);                            /* class names vs NULs */
    CHECK_EQ(with8(1585, 'x'), BE_ERR_FORMAT);                          /* a NUL missing */
    /* value records: the input (128) and c0 (176) */
    CHECK_EQ(with8(128, 2u), BE_ERR_FORMAT);                            /* bits input */
    CHECK_EQ(with32(128 + 20, 0u), BE_ERR_FORMAT);                      /* the input in the arena */
    CHECK_EQ(with32(128 + 16, 256u), BE_ERR_FORMAT);                    /* input zero point 256 */
    CHECK_EQ(with32(128 + 36, 0xFFF00000u), BE_ERR_FORMAT);             /* input scale -inf */
    CHECK_EQ(with32(128 + 4, 4u), BE_ERR_SHAPE);                        /* input H 4: the global pool breaks */
    CHECK_EQ(with32(176 + 12, 3u), BE_ERR_SHAPE);                       /* c0 record: 3 channels */
    CHECK_EQ(with32(176 + 24, 40u), BE_ERR_SHAPE);                      /* c0 record: bytes */
    CHECK_EQ(with32(176 + 20, 0xFFFFFFFFu), BE_ERR_FORMAT);             /* c0 outside the arena */
    CHECK_EQ(with32(176 + 20, 16u), BE_ERR_FORMAT);                     /* c0 on top of g2 (both live at op 1) */
    CHECK_EQ(with32(176 + 20, 8u), BE_ERR_ALIGN);                       /* c0 misaligned */
    CHECK_EQ(with32(176 + 32, 1u), BE_ERR_FORMAT);                      /* a scale on a bits value */
    CHECK_EQ(with32(128 + 48 * 3 + 16, 5u), BE_ERR_SHAPE);              /* g2's zero point != the op's */
    CHECK_EQ(with32(128 + 48 * 7 + 20, 0u), BE_ERR_FORMAT);             /* the scores in the arena */
    /* operands */
    CHECK_EQ(with32(1296 + 4, 5u), BE_ERR_FORMAT);                      /* op 1 reads a later value */
    CHECK_EQ(with32(1296 + 4 * 7, 9u), BE_ERR_FORMAT);                  /* value index out of range */
    CHECK_EQ(with32(1296 + 4 * 4, 1u), BE_ERR_SHAPE);                   /* Concat of c0 (3x3) and t3 (1x1) */
    CHECK_EQ(with32(512 + 112 * 4 + 4, 1u), BE_ERR_FORMAT);             /* Concat of one input */
    CHECK_EQ(with32(512 + 112 * 4 + 4, 40u), BE_ERR_FORMAT);            /* operands out of range */
    CHECK_EQ(with32(1296 + 4 * 3, 0u), BE_ERR_SHAPE);                   /* t3 reads the input: g2 unused */
    /* tensor records (tensor 0 at 1328, 32 bytes each) */
    CHECK_EQ(with8(1328, 9u), BE_ERR_FORMAT);                           /* dtype */
    CHECK_EQ(with8(1328, 0u), BE_ERR_FORMAT);                           /* dtype 0 */
    CHECK_EQ(with8(1329, 5u), BE_ERR_FORMAT);                           /* rank */
    CHECK_EQ(with8(1328, 1u), BE_ERR_SHAPE);                            /* u8 instead of i8 */
    CHECK_EQ(with32(1328 + 24, 9u), BE_ERR_FORMAT);                     /* nbytes */
    CHECK_EQ(with32(1328 + 20, 1652u), BE_ERR_ALIGN);                   /* data offset misaligned */
    CHECK_EQ(with32(1328 + 20, 1776u), BE_ERR_BOUNDS);                  /* data past the end */
    CHECK_EQ(with32(1328 + 20, 0u), BE_ERR_BOUNDS);                     /* data in the header */
    CHECK_EQ(with32(1328 + 4, 0xFFFFFFFFu), BE_ERR_OVERFLOW);           /* dims product overflows */
    /* op records (op i at 512 + 112 i: c0, p1, g2, t3, k4, f5, d6) */
    CHECK_EQ(with8(512, 11u), BE_ERR_FORMAT);                           /* op type */
    CHECK_EQ(with8(512 + 1, 3u), BE_ERR_FORMAT);                        /* weight kind */
    CHECK_EQ(with8(512 + 2, 0u), BE_ERR_FORMAT);                        /* stage */
    CHECK_EQ(with8(512 + 3, 3u), BE_ERR_FORMAT);                        /* encoding */
    CHECK_EQ(with32(512 + 12, 2u), BE_ERR_SHAPE);                       /* in_channels */
    CHECK_EQ(with32(512 + 20, 0u), BE_ERR_FORMAT);                      /* kernel 0 */
    CHECK_EQ(with32(512 + 52, 0u), BE_ERR_FORMAT);                      /* groups 0 */
    CHECK_EQ(with32(512 + 52, 2u), BE_ERR_FORMAT);                      /* groups 2 over one channel */
    CHECK_EQ(with32(512 + 84, 1u), BE_ERR_FORMAT);                      /* tensors out of order */
    CHECK_EQ(with32(512 + 80, 32u), BE_ERR_FORMAT);                     /* scratch bytes != the need */
    CHECK_EQ(with32(512 + 76, 0u), BE_ERR_FORMAT);                      /* scratch on top of c0 */
    CHECK_EQ(with8(512 + 100, 1u), BE_ERR_FORMAT);                      /* reserved */
    CHECK_EQ(with32(624 + 36, 1u), BE_ERR_FORMAT);                      /* padding on MaxPool2d */
    CHECK_EQ(with32(624 + 20, 5u), BE_ERR_SHAPE);                       /* pool kernel > input */
    CHECK_EQ(with32(736 + 60, 63u), BE_ERR_FORMAT);                     /* AvgPool2d shift 63 */
    CHECK_EQ(with32(736 + 64, 128u), BE_ERR_FORMAT);                    /* AvgPool2d zero point 128 */
    CHECK_EQ(with32(736 + 72, 1u), BE_ERR_FORMAT);                      /* a second multiplier on AvgPool2d */
    CHECK_EQ(with32(848 + 88, 5u), BE_ERR_FORMAT);                      /* Threshold: tensors out of order */
    CHECK_EQ(with32(1184 + 20, 1u), BE_ERR_FORMAT);                     /* kernel on Dense */
    CHECK_EQ(with8(1184 + 2, 1u), BE_ERR_SHAPE);                        /* threshold stage on the last op */
    CHECK_EQ(with32(1184 + 60, 32u), BE_ERR_FORMAT);                    /* score shift > 31 */
    CHECK_EQ(with32(1184 + 60, 0xFFFFFFFFu), BE_ERR_FORMAT);            /* score shift -1 */
    CHECK_EQ(with32(1728, 1u | (1u << 5)), BE_ERR_FORMAT);              /* padding bits of weights */
    CHECK_EQ(with8(1665, 3u), BE_ERR_FORMAT);                           /* direction 3 */
    CHECK_EQ(with8(1665, 0u), BE_ERR_FORMAT);                           /* direction 0 */
}

/* Geometry fields beyond the limits of binedge.h (BE_MAX_*): refused before any arithmetic.
 * The golden conv (op 0 at 512) has kernel 2x2, stride 1, padding (0, 1, 0, 1) on a 3x3x1 input. */
static void test_geometry_limits(void)
{
    /* regression: a padding near 2^32 whose 32-bit sum with the other side matches the original
     * (0 + 1 = 0xFFFFFFFF + 2 mod 2^32) used to wrap the output size back to 3 and be accepted */
    CHECK_EQ(with32x2(512 + 44, 0xFFFFFFFFu, 512 + 48, 2u), BE_ERR_FORMAT);
    CHECK_EQ(with32x2(512 + 36, 0xFFFFFFFFu, 512 + 40, 2u), BE_ERR_FORMAT);
    CHECK_EQ(with32(512 + 36, 2u), BE_ERR_FORMAT);                      /* padding == kernel */
    CHECK_EQ(with32(512 + 48, 2u), BE_ERR_FORMAT);
    CHECK_EQ(with32(512 + 20, BE_MAX_DIM + 1u), BE_ERR_FORMAT);         /* kernel height */
    CHECK_EQ(with32(512 + 24, 0xFFFFFFFFu), BE_ERR_FORMAT);             /* kernel width */
    CHECK_EQ(with32(512 + 28, BE_MAX_DIM + 1u), BE_ERR_FORMAT);         /* stride */
    CHECK_EQ(with32(512 + 32, 0x80000000u), BE_ERR_FORMAT);
    CHECK_EQ(with32(512 + 28, 3u), BE_ERR_SHAPE);                       /* stride 3: the record's shape differs */
    CHECK_EQ(with32(512 + 16, BE_MAX_CHANNELS + 1u), BE_ERR_FORMAT);    /* output channels */
    CHECK_EQ(with32(128 + 4, BE_MAX_DIM + 1u), BE_ERR_FORMAT);          /* input height */
    CHECK_EQ(with32(128 + 8, 0xFFFFFFFFu), BE_ERR_FORMAT);              /* input width */
    CHECK_EQ(with32(128 + 12, BE_MAX_CHANNELS + 1u), BE_ERR_FORMAT);    /* input channels */
    CHECK_EQ(with32x2(512, 0x02010202u, 512 + 56, BE_MAX_LEVELS + 1u), BE_ERR_FORMAT); /* 256 levels */
    CHECK_EQ(with32(624 + 20, BE_MAX_DIM + 1u), BE_ERR_FORMAT);         /* pool kernel */
    CHECK_EQ(with32(624 + 28, 0xFFFFFFFFu), BE_ERR_FORMAT);             /* pool stride */
}

int main(void)
{
    const be_status all[] = {BE_OK, BE_ERR_ARG, BE_ERR_MAGIC, BE_ERR_VERSION, BE_ERR_TRUNCATED, BE_ERR_CRC,
                             BE_ERR_BOUNDS, BE_ERR_ALIGN, BE_ERR_FORMAT, BE_ERR_SHAPE, BE_ERR_UNSUPPORTED,
                             BE_ERR_ARENA_TOO_SMALL, BE_ERR_OVERFLOW};
    size_t i, j;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK(be_status_str(all[i]) != NULL && be_status_str(all[i])[0] != '\0');
        for (j = 0; j < i; j++)
            CHECK(strcmp(be_status_str(all[i]), be_status_str(all[j])) != 0);
    }
    CHECK(be_model_sizeof() == sizeof(be_model));
    CHECK(be_interpreter_sizeof() == sizeof(be_interpreter));
    CHECK(be_kernel_count() >= 4u);
    test_golden();
    test_corruptions();
    test_geometry_limits();
    return be_test_report("test_loader");
}
