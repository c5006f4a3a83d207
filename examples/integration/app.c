/*
 * Minimal integration of a binedge model into your own firmware.
 *
 * Needs, from `binedge export RUN_DIR --target <your core> -o fw`:
 *   fw/model.h, fw/model.c        the model (a const array: stays in flash)
 *   fw/runtime/include, fw/runtime/src (+ its sub-folders)   the C99 runtime
 * Compile model.c, every runtime/src .c file and this file with
 *   -Ifw -Ifw/runtime/include -Ifw/runtime/src -Ifw/runtime/src/ref -DBE_MAX_OPS=<ops or more>
 * (BE_MAX_OPS must be the same for every file; see README.md here and docs/firmware.md).
 *
 * Nothing is allocated: the model and interpreter structs and the arena are static (RAM),
 * the weights are read in place from the blob (flash). Build with -DAPP_NO_MAIN to drop the
 * demonstration main() and call app_init() / app_classify() from your code.
 */
#include <stdint.h>
#include <stdio.h>

#include "binedge.h"
#include "model.h"

static be_model app_model;
static be_interpreter app_interp;
/* +1: a model whose arena is 0 bytes still gets a valid array. */
static uint8_t app_arena[BINEDGE_MODEL_ARENA_BYTES + 1] __attribute__((aligned(16)));

/* Validate the blob and prepare the interpreter once. Returns BE_OK or an error status. */
be_status app_init(void)
{
    be_status st = be_model_init(&app_model, binedge_model_blob, binedge_model_blob_size);
    if (st != BE_OK)
        return st;
    return be_prepare(&app_interp, &app_model, app_arena, sizeof app_arena, NULL);
}

/* Classify one image (BINEDGE_MODEL_INPUT_BYTES uint8 pixels, HWC): the class index, or a
 * negative be_status. scores receives the BINEDGE_MODEL_CLASSES int32 scores. */
int app_classify(const uint8_t *pixels, int32_t scores[BINEDGE_MODEL_CLASSES])
{
    uint32_t j, best = 0;
    be_status st = be_invoke(&app_interp, pixels, scores);
    if (st != BE_OK)
        return -(int)st;
    for (j = 1; j < BINEDGE_MODEL_CLASSES; j++)
        if (scores[j] > scores[best])
            best = j;
    return (int)best;
}

#ifndef APP_NO_MAIN
/* Demonstration: classify a mid-grey image and print the scores. */
int main(void)
{
    static uint8_t pixels[BINEDGE_MODEL_INPUT_BYTES];
    int32_t scores[BINEDGE_MODEL_CLASSES];
    uint32_t i;
    int cls;
    be_status st = app_init();
    if (st != BE_OK) {
        printf("binedge: %s\n", be_status_str(st));
        return 1;
    }
    for (i = 0; i < BINEDGE_MODEL_INPUT_BYTES; i++)
        pixels[i] = 128u;
    cls = app_classify(pixels, scores);
    if (cls < 0) {
        printf("binedge: %s\n", be_status_str((be_status)-cls));
        return 1;
    }
    printf("class %d scores", cls);
    for (i = 0; i < BINEDGE_MODEL_CLASSES; i++)
        printf(" %ld", (long)scores[i]);
    printf("\n");
    return 0;
}
#endif
