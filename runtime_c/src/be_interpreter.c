/* be_interpreter.c -- be_prepare (arena, kernel selection) and be_invoke (compute only).
 *
 * The arena holds every intermediate value and every op's scratch at the offsets the blob
 * stores (planned over the values' lifetimes at export, proved safe by be_model_init; docs/
 * format.md §6). Op i reads its operands -- the caller's input for value 0, the arena for the
 * others -- and writes its output to the arena, or the caller's scores for the last op.
 * An LSTM op's scratch is its state (be_lstm.h), live for the whole graph and kept from one
 * be_invoke to the next: be_prepare and be_reset zero it.
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
    it->arena = a;
    it->model = m;
    it->ready = INTERP_READY;
    return be_reset(it);
}

be_status be_reset(be_interpreter *it)
{
    uint32_t i;
    if (it == NULL || it->ready != INTERP_READY)
        return BE_ERR_ARG;
    for (i = 0; i < it->model->n_ops; i++) {
        const be_op *op = &it->model->ops[i];
        if (op->type == BE_OP_LSTM)
            memset(it->arena + op->scratch_offset, 0, op->scratch_bytes);
    }
    return BE_OK;
}

/* Where value v lives for this invoke: the caller's input, or its arena offset. */
static const void *value_data(const be_interpreter *it, const uint8_t *input, uint32_t v)
{
    return v == 0u ? (const void *)input : (const void *)(it->arena + it->model->ops[v - 1u].out.offset);
}

be_status be_invoke(be_interpreter *it, const uint8_t *input, int32_t *scores)
{
    const be_model *m;
    uint32_t i;
    if (it == NULL || it->ready != INTERP_READY || input == NULL || scores == NULL)
        return BE_ERR_ARG;
    m = it->model;
    for (i = 0; i < m->n_ops; i++) /* a character id beyond an LSTM's vocabulary: before anything runs */
        if (m->ops[i].type == BE_OP_LSTM && m->ops[i].in.kind == BE_KIND_U8 && input[0] >= m->ops[i].in_ch)
            return BE_ERR_INPUT;
    for (i = 0; i < m->n_ops; i++) {
        const be_op *op = &m->ops[i];
        void *dst = i + 1u == m->n_ops ? (void *)scores : (void *)(it->arena + op->out.offset);
        void *scratch = op->scratch_bytes ? (void *)(it->arena + op->scratch_offset) : NULL;
        const void *src;
        be_inputs multi;
        be_status st;
        if (op->n_inputs == 1u) {
            src = value_data(it, input, m->operands[op->first_operand]);
        } else { /* Add, Concat: every input's data and value (be_kernels.h) */
            uint32_t j;
            multi.n = op->n_inputs;
            for (j = 0; j < op->n_inputs; j++) {
                const uint32_t v = m->operands[op->first_operand + j];
                multi.data[j] = value_data(it, input, v);
                multi.value[j] = v == 0u ? &m->input : &m->ops[v - 1u].out;
            }
            src = &multi;
        }
        if (it->op_hook != NULL)
            it->op_hook(it->op_hook_ctx, (int)i, 0);
        st = it->kernels[i]->fn(op, src, dst, scratch);
        if (it->op_hook != NULL)
            it->op_hook(it->op_hook_ctx, (int)i, 1);
        if (st != BE_OK)
            return st;
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
