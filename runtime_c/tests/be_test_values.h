/* be_test_values.h -- helpers of the kernel tests: be_value descriptions by hand, the ref kernel. */
#ifndef BE_TEST_VALUES_H
#define BE_TEST_VALUES_H

#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"

/* A value of kind u8 / bits / int32 with its derived sizes (cw, pixel_bytes, nbytes) as the
 * loader would compute them; bits are stored (h, w, planes, cw) words. */
static inline void be_test_set_value(be_value *v, int kind, uint32_t rank, uint32_t h, uint32_t w, uint32_t c,
                                     int enc, uint32_t planes)
{
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    v->rank = (uint8_t)rank;
    v->encoding = (uint8_t)enc;
    v->planes = (uint8_t)planes;
    v->h = h;
    v->w = w;
    v->c = c;
    if (kind == BE_KIND_BITS) {
        v->cw = be_words_for(c);
        v->pixel_bytes = planes * v->cw * 4u;
    } else {
        v->pixel_bytes = kind == BE_KIND_I32 ? 4u * c : c;
    }
    v->nbytes = h * w * v->pixel_bytes;
}

/* The "ref" entry of the kernel table for an op type (the oracle of the variant tests). */
static inline const be_kernel *be_test_ref_kernel(int type)
{
    size_t i;
    for (i = 0; i < be_kernel_table_len; i++)
        if (be_kernel_table[i].op_type == type && strcmp(be_kernel_table[i].name, "ref") == 0)
            return &be_kernel_table[i];
    return NULL;
}

#endif /* BE_TEST_VALUES_H */
