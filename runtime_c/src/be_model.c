/* be_model.c -- the .bnm loader: validates a blob completely and decodes it into a be_model.
 *
 * The layout is specified in docs/format.md; binedge/blob.py is the writer and the Python
 * reader. Every read below happens at an offset that was checked against the blob size first;
 * all size arithmetic is done in 64 bits with explicit limits, so corrupt input yields a
 * status code, never an out-of-bounds read or an arithmetic overflow.
 */
#include <string.h>

#include "binedge.h"
#include "be_bitformat.h"

#define HEADER_SIZE 96u
#define TENSOR_RECORD 32u
#define OP_RECORD 64u
#define NO_TENSOR 0xFFFFFFFFu
#define ALIGN 16u
#define U32_LIMIT 0xFFFFFFFFull
#define INT32_LIMIT 0x7FFFFFFFull
#define MODEL_READY 0x424E4D31u /* "BNM1" */

/* ---------------------------------------------------------------------------- utilities */

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = rd32(p);
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* *r = a * b if it is <= limit (a, b <= 2^32 - 1 so a * b fits 64 bits); else 0. */
static int mul_lim(uint64_t a, uint64_t b, uint64_t limit, uint64_t *r)
{
    if (a > U32_LIMIT || b > U32_LIMIT)
        return 0;
    if (a * b > limit)
        return 0;
    *r = a * b;
    return 1;
}

static uint64_t align16(uint64_t n)
{
    return (n + (ALIGN - 1u)) / ALIGN * ALIGN;
}

static int little_endian(void)
{
    const uint32_t one = 1u;
    return *(const unsigned char *)&one == 1u;
}

/* ---------------------------------------------------------------------------------- CRC32 */

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t be_crc32(uint32_t crc, const void *data, size_t size)
{
    const uint8_t *p = (const uint8_t *)data;
    size_t i;
    crc = ~crc;
    for (i = 0; i < size; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
        crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    }
    return ~crc;
}

/* --------------------------------------------------------------------------------- status */

const char *be_status_str(be_status status)
{
    switch (status) {
    case BE_OK: return "ok";
    case BE_ERR_ARG: return "invalid argument (NULL pointer, bad index or uninitialised model / interpreter)";
    case BE_ERR_MAGIC: return "not a .bnm model blob (bad magic)";
    case BE_ERR_VERSION: return "unsupported .bnm format version (re-export the model with this binedge)";
    case BE_ERR_TRUNCATED: return "truncated .bnm blob (shorter than its header says)";
    case BE_ERR_CRC: return "blob CRC32 mismatch: the model data is corrupt";
    case BE_ERR_BOUNDS: return "a section or tensor of the blob lies out of bounds";
    case BE_ERR_ALIGN: return "misaligned blob, section, tensor or arena";
    case BE_ERR_FORMAT: return "malformed field in the blob (bad code, reserved bits or parameters)";
    case BE_ERR_SHAPE: return "tensor shapes or dtypes do not fit the model's ops";
    case BE_ERR_UNSUPPORTED: return "unsupported by this runtime build (op count, host or kernel variant)";
    case BE_ERR_ARENA_TOO_SMALL: return "arena too small for this model";
    case BE_ERR_OVERFLOW: return "integer overflow (size, accumulator or score exceeds 32 bits)";
    }
    return "unknown status";
}

/* --------------------------------------------------------------------------------- loader */

typedef struct loader {
    const uint8_t *b;
    uint32_t total, n_tensors, tensor_table, data_offset;
    uint32_t next_tensor; /* tensors are referenced exactly once, in table order */
} loader;

static const uint32_t dtype_size[5] = {0u, 1u, 1u, 4u, 4u};

/* Validate tensor record i on its own (dtype, rank, dims, size, alignment, bounds). */
static be_status check_tensor_record(const loader *L, uint32_t i)
{
    const uint8_t *r = L->b + L->tensor_table + (size_t)i * TENSOR_RECORD;
    uint32_t dtype = r[0], rank = r[1], d, offset, nbytes;
    uint64_t n = 1u;
    if (dtype < BE_DT_U8 || dtype > BE_DT_I32 || rank < 1u || rank > 4u)
        return BE_ERR_FORMAT;
    if (rd16(r + 2) != 0u || rd32(r + 28) != 0u)
        return BE_ERR_FORMAT;
    for (d = 0; d < 4u; d++) {
        uint32_t dim = rd32(r + 4 + 4 * d);
        if (d >= rank) {
            if (dim != 0u)
                return BE_ERR_FORMAT;
        } else if (!mul_lim(n, dim, U32_LIMIT, &n)) {
            return BE_ERR_OVERFLOW;
        }
    }
    if (!mul_lim(n, dtype_size[dtype], U32_LIMIT, &n))
        return BE_ERR_OVERFLOW;
    offset = rd32(r + 20);
    nbytes = rd32(r + 24);
    if ((uint64_t)nbytes != n)
        return BE_ERR_FORMAT;
    if (offset % ALIGN != 0u)
        return BE_ERR_ALIGN;
    if (offset < L->data_offset || offset > L->total || nbytes > L->total - offset)
        return BE_ERR_BOUNDS;
    return BE_OK;
}

/* Take the next tensor (index must equal L->next_tensor) and check its dtype and shape. */
static be_status take_tensor(loader *L, uint32_t idx, uint32_t dtype, uint32_t rank, const uint32_t *dims,
                             const uint8_t **data)
{
    const uint8_t *r;
    uint32_t d;
    if (idx == NO_TENSOR || idx >= L->n_tensors || idx != L->next_tensor)
        return BE_ERR_FORMAT;
    r = L->b + L->tensor_table + (size_t)idx * TENSOR_RECORD;
    if (r[0] != dtype || r[1] != rank)
        return BE_ERR_SHAPE;
    for (d = 0; d < rank; d++)
        if (rd32(r + 4 + 4 * d) != dims[d])
            return BE_ERR_SHAPE;
    *data = L->b + rd32(r + 20);
    L->next_tensor++;
    return BE_OK;
}

static uint32_t bit_length(uint32_t v)
{
    uint32_t n = 0;
    while (v != 0u) {
        n++;
        v >>= 1;
    }
    return n;
}

/* Fill in a value's derived sizes from kind / shape / planes. */
static be_status finish_value(be_value *v)
{
    uint64_t px, n;
    if (v->kind == BE_KIND_BITS) {
        v->cw = be_words_for(v->c);
        if (!mul_lim((uint64_t)v->planes * v->cw, 4u, U32_LIMIT, &px))
            return BE_ERR_OVERFLOW;
    } else {
        v->cw = 0u;
        if (!mul_lim(v->c, v->kind == BE_KIND_I32 ? 4u : 1u, U32_LIMIT, &px))
            return BE_ERR_OVERFLOW;
    }
    if (!mul_lim(v->h, v->w, U32_LIMIT, &n) || !mul_lim(n, px, INT32_LIMIT, &n))
        return BE_ERR_OVERFLOW; /* every value (one sample) is below 2 GiB: kernel offsets fit int32 */
    v->pixel_bytes = (uint32_t)px;
    v->nbytes = (uint32_t)n;
    return BE_OK;
}

/* Largest |value| an input element can take: 255 pixels, 1 sign, 2^P - 1 levels. */
static uint64_t value_max(const be_value *v)
{
    if (v->kind == BE_KIND_U8)
        return 255u;
    if (v->encoding == BE_ENC_SIGN)
        return 1u;
    return ((uint64_t)1u << v->planes) - 1u;
}

#define TRY(expr)                                                                                       \
    do {                                                                                                \
        be_status try_st_ = (expr);                                                                     \
        if (try_st_ != BE_OK)                                                                           \
            return try_st_;                                                                             \
    } while (0)

/* Output size of a window of `k` with stride `s` over `n` inputs padded by `p0` and `p1`; every
 * field was bounded first (n, k, s <= BE_MAX_DIM, p0, p1 < k), so nothing here can wrap. */
static be_status window_out(uint32_t n, uint32_t k, uint32_t s, uint32_t p0, uint32_t p1, uint32_t *out)
{
    const uint64_t padded = (uint64_t)n + p0 + p1;
    uint64_t o;
    if (padded < k)
        return BE_ERR_SHAPE; /* the kernel does not fit the (padded) input */
    o = (padded - k) / s + 1u;
    if (o > BE_MAX_DIM)
        return BE_ERR_SHAPE;
    *out = (uint32_t)o;
    return BE_OK;
}

/* Largest |acc| of output channel c: max|x| * sum_k |w_ck| (binary: max|x| * K). The loader
 * proves this <= INT32_MAX for every channel, and for a score stage also
 * |multiplier_c| * bound_c + |offset_c| <= INT32_MAX, so no kernel can overflow int32. */
static uint64_t acc_bound(const be_op *op, uint32_t c)
{
    uint64_t absw = op->k;
    if (op->weight_kind == BE_WK_INT8) {
        const int8_t *w = (const int8_t *)op->weights + (size_t)c * op->k;
        uint32_t i;
        absw = 0u;
        for (i = 0; i < op->k; i++)
            absw += (uint64_t)(w[i] < 0 ? -(int32_t)w[i] : (int32_t)w[i]);
    }
    return absw * value_max(&op->in); /* <= 2^31 * 128 * 255: fits 64 bits */
}

/* Dense / Conv2d: weights, output stage, output value. */
static be_status load_linear(loader *L, be_op *op, const uint8_t *r, int last)
{
    const be_value *in = &op->in;
    be_value *out = &op->out;
    uint32_t w_idx = rd32(r + 52), a_idx = rd32(r + 56), b_idx = rd32(r + 60);
    uint32_t dims[4], rank, cw_in, i;
    uint64_t k, rows;
    const uint8_t *w;

    if (op->weight_kind != BE_WK_BINARY && op->weight_kind != BE_WK_INT8)
        return BE_ERR_FORMAT;
    if (op->stage != BE_STAGE_THRESHOLD && op->stage != BE_STAGE_SCORE)
        return BE_ERR_FORMAT;
    if (op->in_ch == 0u || op->out_ch == 0u)
        return BE_ERR_SHAPE;
    if (op->in_ch > BE_MAX_CHANNELS || op->out_ch > BE_MAX_CHANNELS)
        return BE_ERR_FORMAT;
    if (in->kind == BE_KIND_I32)
        return BE_ERR_SHAPE; /* nothing may follow the scores */
    if (op->weight_kind == BE_WK_INT8 && in->kind != BE_KIND_U8)
        return BE_ERR_SHAPE; /* int8 weights only on the u8 input layer */

    memset(out, 0, sizeof *out);
    if (op->type == BE_OP_DENSE) {
        if (op->kh | op->kw | op->sh | op->sw | op->pt | op->pb | op->pl | op->pr)
            return BE_ERR_FORMAT;
        if (in->rank != 1u || in->c != op->in_ch)
            return BE_ERR_SHAPE;
        k = op->in_ch;
        out->rank = 1u;
        out->h = out->w = 1u;
    } else {
        /* every geometry field bounded before any arithmetic with it */
        if (op->kh == 0u || op->kw == 0u || op->sh == 0u || op->sw == 0u)
            return BE_ERR_FORMAT;
        if (op->kh > BE_MAX_DIM || op->kw > BE_MAX_DIM || op->sh > BE_MAX_DIM || op->sw > BE_MAX_DIM)
            return BE_ERR_FORMAT;
        if (op->pt >= op->kh || op->pb >= op->kh || op->pl >= op->kw || op->pr >= op->kw)
            return BE_ERR_FORMAT; /* padding of a side must be smaller than the kernel */
        if (in->rank != 3u || in->c != op->in_ch)
            return BE_ERR_SHAPE;
        TRY(window_out(in->h, op->kh, op->sh, op->pt, op->pb, &out->h));
        TRY(window_out(in->w, op->kw, op->sw, op->pl, op->pr, &out->w));
        { /* the padded input (kernels lay out padded rows / bands of it) also stays below 2 GiB */
            uint64_t padded;
            if (!mul_lim((uint64_t)in->h + op->pt + op->pb, (uint64_t)in->w + op->pl + op->pr, U32_LIMIT, &padded) ||
                !mul_lim(padded, in->pixel_bytes, INT32_LIMIT, &padded))
                return BE_ERR_OVERFLOW;
        }
        if (!mul_lim(op->kh, op->kw, U32_LIMIT, &k) || !mul_lim(k, op->in_ch, U32_LIMIT, &k))
            return BE_ERR_OVERFLOW;
        out->rank = 3u;
    }
    if (k > 0x7FFFFFFFull)
        return BE_ERR_OVERFLOW; /* K alone would overflow the accumulator */
    op->k = (uint32_t)k;

    /* weights */
    cw_in = be_words_for(op->in_ch);
    rank = 0;
    dims[rank++] = op->out_ch;
    if (op->type == BE_OP_CONV2D) {
        dims[rank++] = op->kh;
        dims[rank++] = op->kw;
    }
    dims[rank++] = op->weight_kind == BE_WK_BINARY ? cw_in : op->in_ch;
    TRY(take_tensor(L, w_idx, op->weight_kind == BE_WK_BINARY ? BE_DT_U32 : BE_DT_I8, rank, dims, &w));
    op->weights = w;
    op->w_row_bytes = op->weight_kind == BE_WK_BINARY ? cw_in * 4u : op->in_ch;
    if (op->weight_kind == BE_WK_BINARY) { /* padding bits of every packed row must be zero */
        be_word pad = (be_word)~be_last_word_mask(op->in_ch);
        rows = op->out_ch;
        if (op->type == BE_OP_CONV2D)
            rows = rows * op->kh * op->kw; /* the tensor fits the blob, so this cannot overflow */
        for (i = 0; pad != 0u && i < rows; i++)
            if (rd32(w + ((size_t)i * cw_in + cw_in - 1u) * 4u) & pad)
                return BE_ERR_FORMAT;
    }

    /* no accumulator may exceed int32 */
    for (i = 0; i < op->out_ch; i++)
        if (acc_bound(op, i) > 0x7FFFFFFFull)
            return BE_ERR_OVERFLOW;

    /* output stage */
    dims[0] = op->out_ch;
    out->c = op->out_ch;
    if (op->stage == BE_STAGE_THRESHOLD) {
        const uint8_t *dir, *t;
        uint32_t c, j;
        if ((op->encoding != BE_ENC_SIGN && op->encoding != BE_ENC_UNSIGNED) || op->levels == 0u ||
            op->levels > BE_MAX_LEVELS || op->shift != 0)
            return BE_ERR_FORMAT;
        if (op->encoding == BE_ENC_SIGN && op->levels != 1u)
            return BE_ERR_FORMAT;
        if (last)
            return BE_ERR_SHAPE; /* the last op must produce scores */
        TRY(take_tensor(L, a_idx, BE_DT_I8, 1u, dims, &dir));
        dims[1] = op->levels;
        TRY(take_tensor(L, b_idx, BE_DT_I32, 2u, dims, &t));
        for (c = 0; c < op->out_ch; c++) {
            if (dir[c] != 0x01u && dir[c] != 0xFFu)
                return BE_ERR_FORMAT; /* direction must be +1 or -1 */
            for (j = 1; j < op->levels; j++) {
                const uint8_t *tc = t + ((size_t)c * op->levels + j) * 4u;
                if (rd_i32(tc) < rd_i32(tc - 4))
                    return BE_ERR_FORMAT; /* thresholds must be non-decreasing */
            }
        }
        op->stage_a = dir;
        op->stage_b = t;
        out->kind = BE_KIND_BITS;
        out->encoding = op->encoding;
        out->planes = (uint8_t)(op->encoding == BE_ENC_SIGN ? 1u : bit_length(op->levels));
    } else {
        const uint8_t *mult, *offset;
        uint32_t c;
        if (op->encoding != BE_ENC_NONE || op->levels != 0u || op->shift < 0 || op->shift > 31)
            return BE_ERR_FORMAT;
        if (op->type != BE_OP_DENSE || !last)
            return BE_ERR_SHAPE; /* scores come from the last op, a Dense */
        TRY(take_tensor(L, a_idx, BE_DT_I32, 1u, dims, &mult));
        TRY(take_tensor(L, b_idx, BE_DT_I32, 1u, dims, &offset));
        for (c = 0; c < op->out_ch; c++) { /* |m| * bound + |offset| <= INT32_MAX: no score can wrap */
            const int64_t m = rd_i32(mult + 4u * c), o = rd_i32(offset + 4u * c);
            const uint64_t am = (uint64_t)(m < 0 ? -m : m), ao = (uint64_t)(o < 0 ? -o : o);
            uint64_t worst;
            if (!mul_lim(am, acc_bound(op, c), 0x7FFFFFFFull, &worst) || worst + ao > 0x7FFFFFFFull)
                return BE_ERR_OVERFLOW;
        }
        op->stage_a = mult;
        op->stage_b = offset;
        out->kind = BE_KIND_I32;
        out->encoding = BE_ENC_NONE;
        out->planes = 1u;
    }
    return finish_value(out);
}

static be_status load_op(loader *L, be_op *op, const uint8_t *r, int last)
{
    const be_value *in = &op->in;
    be_value *out = &op->out;
    op->type = r[0];
    op->weight_kind = r[1];
    op->stage = r[2];
    op->encoding = r[3];
    op->in_ch = rd32(r + 4);
    op->out_ch = rd32(r + 8);
    op->kh = rd32(r + 12);
    op->kw = rd32(r + 16);
    op->sh = rd32(r + 20);
    op->sw = rd32(r + 24);
    op->pt = rd32(r + 28);
    op->pb = rd32(r + 32);
    op->pl = rd32(r + 36);
    op->pr = rd32(r + 40);
    op->levels = rd32(r + 44);
    op->shift = rd_i32(r + 48);

    if (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D)
        return load_linear(L, op, r, last);
    if (op->type != BE_OP_MAXPOOL2D && op->type != BE_OP_FLATTEN)
        return BE_ERR_FORMAT;

    /* MaxPool2d / Flatten: no weights, no stage */
    if (op->weight_kind || op->stage || op->encoding || op->in_ch || op->out_ch || op->levels || op->shift ||
        op->pt || op->pb || op->pl || op->pr)
        return BE_ERR_FORMAT;
    if (rd32(r + 52) != NO_TENSOR || rd32(r + 56) != NO_TENSOR || rd32(r + 60) != NO_TENSOR)
        return BE_ERR_FORMAT;
    if (in->kind == BE_KIND_I32 || last)
        return BE_ERR_SHAPE; /* nothing follows the scores; the last op must produce them */
    *out = *in;
    if (op->type == BE_OP_MAXPOOL2D) {
        if (op->kh == 0u || op->kw == 0u || op->sh == 0u || op->sw == 0u)
            return BE_ERR_FORMAT;
        if (op->kh > BE_MAX_DIM || op->kw > BE_MAX_DIM || op->sh > BE_MAX_DIM || op->sw > BE_MAX_DIM)
            return BE_ERR_FORMAT;
        if (in->kind != BE_KIND_BITS || in->rank != 3u)
            return BE_ERR_SHAPE;
        TRY(window_out(in->h, op->kh, op->sh, 0u, 0u, &out->h));
        TRY(window_out(in->w, op->kw, op->sw, 0u, 0u, &out->w));
    } else {
        uint64_t f;
        if (op->kh | op->kw | op->sh | op->sw)
            return BE_ERR_FORMAT;
        if (!mul_lim(in->h, in->w, U32_LIMIT, &f) || !mul_lim(f, in->c, U32_LIMIT, &f))
            return BE_ERR_OVERFLOW;
        if (f > BE_MAX_CHANNELS)
            return BE_ERR_SHAPE; /* a flat value holds at most BE_MAX_CHANNELS features */
        out->rank = 1u;
        out->h = out->w = 1u;
        out->c = (uint32_t)f;
    }
    return finish_value(out);
}

static be_status load(be_model *m, const uint8_t *b, size_t size)
{
    loader L;
    uint32_t total, n_ops, n_tensors, i, n_strings, nul;
    uint32_t tt, ot, so, ss, mo, ms, dof, dsz;
    uint64_t end, vmax = 0u, pmax = 0u, arena;
    be_value *in;

    if (!little_endian())
        return BE_ERR_UNSUPPORTED;
    if (size < 4u)
        return BE_ERR_TRUNCATED;
    if (memcmp(b, BE_MAGIC, 4) != 0)
        return BE_ERR_MAGIC;
    if (size < HEADER_SIZE)
        return BE_ERR_TRUNCATED;
    if (rd16(b + 4) != BE_FORMAT_VERSION || rd16(b + 6) != HEADER_SIZE)
        return BE_ERR_VERSION;
    total = rd32(b + 12);
    if ((uint64_t)total > (uint64_t)size)
        return BE_ERR_TRUNCATED;
    if (total < HEADER_SIZE)
        return BE_ERR_BOUNDS;
    if (((uintptr_t)b) % 4u != 0u)
        return BE_ERR_ALIGN;
    if (be_crc32(0u, b + 12, total - 12u) != rd32(b + 8))
        return BE_ERR_CRC;
    if (total % ALIGN != 0u)
        return BE_ERR_ALIGN;
    if (rd32(b + 16) != 0u || rd32(b + 92) != 0u)
        return BE_ERR_FORMAT; /* flags, reserved */

    /* sections: aligned, in bounds, in order, data up to the end */
    n_tensors = rd32(b + 48);
    n_ops = rd32(b + 52);
    tt = rd32(b + 56);
    ot = rd32(b + 60);
    so = rd32(b + 64);
    ss = rd32(b + 68);
    mo = rd32(b + 76);
    ms = rd32(b + 80);
    dof = rd32(b + 84);
    dsz = rd32(b + 88);
    if (tt % ALIGN || ot % ALIGN || so % ALIGN || mo % ALIGN || dof % ALIGN)
        return BE_ERR_ALIGN;
    end = HEADER_SIZE;
    {
        const uint64_t off[5] = {tt, ot, so, mo, dof};
        const uint64_t len[5] = {(uint64_t)n_tensors * TENSOR_RECORD, (uint64_t)n_ops * OP_RECORD, ss, ms, dsz};
        for (i = 0; i < 5u; i++) {
            if (off[i] < end || off[i] + len[i] > total)
                return BE_ERR_BOUNDS;
            end = off[i] + len[i];
        }
    }
    if (end != total)
        return BE_ERR_BOUNDS;
    if (n_ops == 0u)
        return BE_ERR_FORMAT;
    if (n_ops > BE_MAX_OPS)
        return BE_ERR_UNSUPPORTED;

    /* tensor table */
    L.b = b;
    L.total = total;
    L.n_tensors = n_tensors;
    L.tensor_table = tt;
    L.data_offset = dof;
    L.next_tensor = 0u;
    for (i = 0; i < n_tensors; i++)
        TRY(check_tensor_record(&L, i));

    /* string table: n_class_names + n_ops NUL-terminated strings */
    m->n_class_names = rd32(b + 72);
    if ((uint64_t)m->n_class_names + n_ops > U32_LIMIT)
        return BE_ERR_FORMAT;
    n_strings = m->n_class_names + n_ops;
    for (i = 0, nul = 0; i < ss; i++)
        nul += b[so + i] == 0u;
    if (nul != n_strings || ss == 0u || b[so + ss - 1u] != 0u)
        return BE_ERR_FORMAT;

    /* input value */
    in = &m->input;
    if (b[24] != BE_KIND_U8 || (b[25] != 1u && b[25] != 3u))
        return BE_ERR_FORMAT;
    in->kind = BE_KIND_U8;
    in->rank = b[25];
    in->encoding = BE_ENC_NONE;
    in->planes = 1u;
    if (in->rank == 1u) {
        in->h = in->w = 1u;
        in->c = rd32(b + 28);
        if (rd32(b + 32) != 0u || rd32(b + 36) != 0u)
            return BE_ERR_FORMAT;
    } else {
        in->h = rd32(b + 28);
        in->w = rd32(b + 32);
        in->c = rd32(b + 36);
    }
    if (in->h == 0u || in->w == 0u || in->c == 0u)
        return BE_ERR_SHAPE;
    if (in->h > BE_MAX_DIM || in->w > BE_MAX_DIM || in->c > BE_MAX_CHANNELS)
        return BE_ERR_FORMAT;
    TRY(finish_value(in));

    /* ops */
    for (i = 0; i < n_ops; i++) {
        be_op *op = &m->ops[i];
        op->in = i == 0u ? m->input : m->ops[i - 1u].out;
        TRY(load_op(&L, op, b + ot + (size_t)i * OP_RECORD, i + 1u == n_ops));
    }
    if (L.next_tensor != n_tensors)
        return BE_ERR_FORMAT; /* unused tensors */
    m->output = m->ops[n_ops - 1u].out;

    /* header output fields */
    if (b[26] != BE_KIND_I32 || b[27] != 1u || rd32(b + 40) != m->output.c)
        return BE_ERR_SHAPE;
    m->output_shift = rd_i32(b + 44);
    if (m->output_shift != m->ops[n_ops - 1u].shift)
        return BE_ERR_FORMAT;
    if (m->n_class_names != 0u && m->n_class_names != m->output.c)
        return BE_ERR_FORMAT;

    /* arena = nbuf * align16(largest intermediate) + align16(largest conv patch) */
    for (i = 0; i < n_ops; i++) {
        const be_op *op = &m->ops[i];
        if (i + 1u < n_ops && op->out.nbytes > vmax)
            vmax = op->out.nbytes;
        if (op->type == BE_OP_CONV2D) {
            uint64_t patch;
            if (!mul_lim((uint64_t)op->kh * op->kw, op->in.pixel_bytes, U32_LIMIT, &patch))
                return BE_ERR_OVERFLOW;
            if (patch > pmax)
                pmax = patch;
        }
    }
    m->nbuf = n_ops > 2u ? 2u : n_ops - 1u;
    arena = m->nbuf * align16(vmax) + align16(pmax);
    if (arena > U32_LIMIT)
        return BE_ERR_OVERFLOW;
    if (rd32(b + 20) != (uint32_t)arena)
        return BE_ERR_FORMAT;

    m->blob = b;
    m->total_size = total;
    m->arena_size = (uint32_t)arena;
    m->value_bytes = (uint32_t)align16(vmax);
    m->patch_bytes = (uint32_t)align16(pmax);
    m->n_ops = n_ops;
    m->n_tensors = n_tensors;
    m->strings = (const char *)(b + so);
    m->strings_size = ss;
    m->metadata = (const char *)(b + mo);
    m->metadata_size = ms;
    return BE_OK;
}

be_status be_model_init(be_model *m, const void *blob, size_t size)
{
    be_status st;
    if (m == NULL)
        return BE_ERR_ARG;
    memset(m, 0, sizeof *m);
    if (blob == NULL)
        return BE_ERR_ARG;
    st = load(m, (const uint8_t *)blob, size);
    if (st != BE_OK) {
        memset(m, 0, sizeof *m);
        return st;
    }
    m->ready = MODEL_READY;
    return BE_OK;
}

/* ------------------------------------------------------------------------------ accessors */

static int ready(const be_model *m)
{
    return m != NULL && m->ready == MODEL_READY;
}

size_t be_model_arena_size(const be_model *m)
{
    return ready(m) ? m->arena_size : 0u;
}

size_t be_model_input_bytes(const be_model *m)
{
    return ready(m) ? m->input.nbytes : 0u;
}

int be_model_input_shape(const be_model *m, uint32_t dims[3])
{
    if (!ready(m) || dims == NULL)
        return 0;
    if (m->input.rank == 1u) {
        dims[0] = m->input.c;
        dims[1] = dims[2] = 0u;
    } else {
        dims[0] = m->input.h;
        dims[1] = m->input.w;
        dims[2] = m->input.c;
    }
    return m->input.rank;
}

uint32_t be_model_class_count(const be_model *m)
{
    return ready(m) ? m->output.c : 0u;
}

int32_t be_model_output_shift(const be_model *m)
{
    return ready(m) ? m->output_shift : 0;
}

uint32_t be_model_op_count(const be_model *m)
{
    return ready(m) ? m->n_ops : 0u;
}

static const char *nth_string(const be_model *m, uint32_t n)
{
    const char *s = m->strings;
    while (n-- > 0u)
        s += strlen(s) + 1u; /* the loader checked the count of NULs and the final NUL */
    return s;
}

const char *be_model_class_name(const be_model *m, uint32_t i)
{
    if (!ready(m) || i >= m->n_class_names)
        return NULL;
    return nth_string(m, i);
}

const char *be_model_op_name(const be_model *m, uint32_t i)
{
    if (!ready(m) || i >= m->n_ops)
        return NULL;
    return nth_string(m, m->n_class_names + i);
}

const char *be_model_metadata(const be_model *m, size_t *size)
{
    if (!ready(m))
        return NULL;
    if (size != NULL)
        *size = m->metadata_size;
    return m->metadata;
}

size_t be_model_sizeof(void)
{
    return sizeof(be_model);
}
