/* be_interpreter.c -- be_prepare (arena layout, kernel selection) and be_invoke (compute only).
 *
 * Arena layout (all offsets multiples of 16, see binedge.h):
 *     [ buf[0] : value_bytes ][ buf[1] : value_bytes, if nbuf == 2 ][ scratch : patch_bytes ]
 * Op i reads the caller's input (i == 0) or buf[(i - 1) % 2], and writes buf[i % 2] or, for the
 * last op, the caller's scores.
 */
#include <string.h>

#include "binedge.h"
#include "be_kernels.h"

#define MODEL_READY 0x424E4D31u
#define INTERP_READY 0x42454950u /* "BEIP" */

void be_options_default(be_options *opt)
{
    if (opt != NULL) {
        opt->kernel = NULL;
        opt->isa = BE_ISA_DETECT;
    }
}

/* A forced variant must exist in the table and have at least one kernel runnable here. */
static be_status check_variant(const char *variant, uint32_t isa)
{
    size_t i;
    if (variant == NULL || variant[0] == '\0' || strcmp(variant, "auto") == 0)
        return BE_OK;
    for (i = 0; i < be_kernel_table_len; i++) {
        if (strcmp(be_kernel_table[i].name, variant) == 0 && (be_kernel_table[i].isa & ~isa) == 0u)
            return BE_OK;
    }
    return BE_ERR_UNSUPPORTED;
}

be_status be_prepare(be_interpreter *it, const be_model *m, void *arena, size_t arena_size,
                     const be_options *opt)
{
    be_options defaults;
    uint32_t i, isa;
    uint8_t *a = (uint8_t *)arena;
    if (it == NULL)
        return BE_ERR_ARG;
    memset(it, 0, sizeof *it);
    if (m == NULL || m->ready != MODEL_READY)
        return BE_ERR_ARG;
    if (opt == NULL) {
        be_options_default(&defaults);
        opt = &defaults;
    }
    if (m->arena_size > 0u) {
        if (a == NULL)
            return BE_ERR_ARG;
        if (((uintptr_t)a) % 16u != 0u)
            return BE_ERR_ALIGN;
    }
    if (arena_size < m->arena_size)
        return BE_ERR_ARENA_TOO_SMALL;
    isa = opt->isa == BE_ISA_DETECT ? be_isa_detect() : opt->isa;
    if (check_variant(opt->kernel, isa) != BE_OK)
        return BE_ERR_UNSUPPORTED;
    for (i = 0; i < m->n_ops; i++) {
        it->kernels[i] = be_select_kernel(&m->ops[i], opt->kernel, isa);
        if (it->kernels[i] == NULL)
            return BE_ERR_UNSUPPORTED;
    }
    if (m->nbuf >= 1u)
        it->buf[0] = a;
    if (m->nbuf >= 2u)
        it->buf[1] = a + m->value_bytes;
    if (m->patch_bytes > 0u)
        it->scratch = a + (size_t)m->nbuf * m->value_bytes;
    it->model = m;
    it->ready = INTERP_READY;
    return BE_OK;
}

be_status be_invoke(be_interpreter *it, const uint8_t *input, int32_t *scores)
{
    const be_model *m;
    const void *src = input;
    uint32_t i;
    if (it == NULL || it->ready != INTERP_READY || input == NULL || scores == NULL)
        return BE_ERR_ARG;
    m = it->model;
    for (i = 0; i < m->n_ops; i++) {
        void *dst = i + 1u == m->n_ops ? (void *)scores : (void *)it->buf[i & 1u];
        be_status st;
        if (it->op_hook != NULL)
            it->op_hook(it->op_hook_ctx, (int)i, 0);
        st = it->kernels[i]->fn(&m->ops[i], src, dst, it->scratch);
        if (it->op_hook != NULL)
            it->op_hook(it->op_hook_ctx, (int)i, 1);
        if (st != BE_OK)
            return st;
        src = dst;
    }
    return BE_OK;
}

be_status be_interpreter_set_op_hook(be_interpreter *it, be_op_hook hook, void *ctx)
{
    if (it == NULL || it->ready != INTERP_READY)
        return BE_ERR_ARG;
    it->op_hook = hook;
    it->op_hook_ctx = hook != NULL ? ctx : NULL;
    return BE_OK;
}

be_status be_invoke_batch(be_interpreter *it, const uint8_t *inputs, size_t n, int32_t *scores)
{
    size_t s;
    if (it == NULL || it->ready != INTERP_READY || (n > 0u && (inputs == NULL || scores == NULL)))
        return BE_ERR_ARG;
    for (s = 0; s < n; s++) {
        be_status st = be_invoke(it, inputs + s * it->model->input.nbytes, scores + s * it->model->output.c);
        if (st != BE_OK)
            return st;
    }
    return BE_OK;
}

const char *be_interpreter_kernel_name(const be_interpreter *it, uint32_t i)
{
    if (it == NULL || it->ready != INTERP_READY || i >= it->model->n_ops)
        return NULL;
    return it->kernels[i]->name;
}

size_t be_interpreter_sizeof(void)
{
    return sizeof(be_interpreter);
}
