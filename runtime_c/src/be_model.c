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
#include "be_kernels.h"
#include "be_lstm.h"

#define HEADER_SIZE 128u
#define VALUE_RECORD 48u
#define OP_RECORD 112u
#define TENSOR_RECORD 32u
#define NO_INDEX 0xFFFFFFFFu
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
    case BE_ERR_INPUT: return "an input value is out of range (a character id not below the vocabulary)";
    }
    return "unknown status";
}

/* --------------------------------------------------------------------------------- loader */

typedef struct loader {
    const uint8_t *b;
    uint32_t total, n_tensors, tensor_table, data_offset, value_table;
    uint32_t next_tensor; /* tensors are referenced exactly once, in table order */
} loader;

static const uint32_t dtype_size[6] = {0u, 1u, 1u, 4u, 4u, 8u};

/* Validate tensor record i on its own (dtype, rank, dims, size, alignment, bounds). */
static be_status check_tensor_record(const loader *L, uint32_t i)
{
    const uint8_t *r = L->b + L->tensor_table + (size_t)i * TENSOR_RECORD;
    uint32_t dtype = r[0], rank = r[1], d, offset, nbytes;
    uint64_t n = 1u;
    if (dtype < BE_DT_U8 || dtype > BE_DT_I64 || rank < 1u || rank > 4u)
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
    if (idx == NO_INDEX || idx >= L->n_tensors || idx != L->next_tensor)
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

static int is_codes(const be_value *v)
{
    return v->kind == BE_KIND_U8 || v->kind == BE_KIND_I8;
}

/* Largest |value| an element takes in a dot product: 255 u8 codes, 128 i8 codes, 1 sign,
 * 2^P - 1 levels. */
static uint64_t value_max(const be_value *v)
{
    if (v->kind == BE_KIND_U8)
        return 255u;
    if (v->kind == BE_KIND_I8)
        return 128u;
    if (v->encoding == BE_ENC_SIGN)
        return 1u;
    return ((uint64_t)1u << v->planes) - 1u;
}

/* Largest |code - zero point| of a u8 / i8 value (what Add, AvgPool2d, Requantize scale). */
static uint64_t centered_max(const be_value *v)
{
    const int64_t lo = v->kind == BE_KIND_U8 ? 0 : -128, hi = v->kind == BE_KIND_U8 ? 255 : 127;
    const int64_t a = hi - v->zero_point, b = v->zero_point - lo;
    return (uint64_t)(a > b ? a : b);
}

/* 2^(s-1) for a shift s in [1, 62], 0 for s = 0: the rounding term of docs/graph.md. */
static uint64_t half_of(uint32_t s)
{
    return s == 0u ? 0u : (uint64_t)1u << (s - 1u);
}

static uint64_t abs64(int64_t v)
{
    return v < 0 ? (uint64_t)0u - (uint64_t)v : (uint64_t)v;
}

static int64_t rd_i64(const uint8_t *p)
{
    uint64_t u = (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
    return u <= 0x7FFFFFFFFFFFFFFFull ? (int64_t)u : -(int64_t)(~u) - 1;
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

/* m * a + b + c <= 2^63 - 1, decided without overflowing (any m, a; b, c <= 2^63). */
static int fits_int64(uint64_t m, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t lim = 0x7FFFFFFFFFFFFFFFull;
    uint64_t v;
    if (a != 0u && m > lim / a)
        return 0;
    v = m * a;
    if (b > lim - v)
        return 0;
    v += b;
    return c <= lim - v;
}

/* A threshold stage of `c` channels: direction (c) and thresholds (c, L). */
static be_status load_threshold_stage(loader *L, be_op *op, const uint8_t *r, uint32_t c)
{
    const uint8_t *dir, *t;
    uint32_t dims[2], ch, j;
    if ((op->encoding != BE_ENC_SIGN && op->encoding != BE_ENC_UNSIGNED) || op->levels == 0u ||
        op->levels > BE_MAX_LEVELS || op->shift != 0 || op->zero_point != 0 || rd32(r + 96) != NO_INDEX)
        return BE_ERR_FORMAT;
    if (op->encoding == BE_ENC_SIGN && op->levels != 1u)
        return BE_ERR_FORMAT;
    dims[0] = c;
    TRY(take_tensor(L, rd32(r + 88), BE_DT_I8, 1u, dims, &dir));
    dims[1] = op->levels;
    TRY(take_tensor(L, rd32(r + 92), BE_DT_I32, 2u, dims, &t));
    for (ch = 0; ch < c; ch++) {
        if (dir[ch] != 0x01u && dir[ch] != 0xFFu)
            return BE_ERR_FORMAT; /* direction must be +1 or -1 */
        for (j = 1; j < op->levels; j++) {
            const uint8_t *tc = t + ((size_t)ch * op->levels + j) * 4u;
            if (rd_i32(tc) < rd_i32(tc - 4))
                return BE_ERR_FORMAT; /* thresholds must be non-decreasing */
        }
    }
    op->stage_a = dir;
    op->stage_b = t;
    op->out.kind = BE_KIND_BITS;
    op->out.encoding = op->encoding;
    op->out.planes = (uint8_t)(op->encoding == BE_ENC_SIGN ? 1u : bit_length(op->levels));
    return BE_OK;
}

/* Multiplier / shift / zero point of an op producing i8 (Add, AvgPool2d, Requantize). */
static be_status check_requant_fields(const be_op *op)
{
    if (op->shift < 0 || op->shift > BE_MAX_SHIFT || op->zero_point < -128 || op->zero_point > 127)
        return BE_ERR_FORMAT;
    return BE_OK;
}

static void make_i8(be_value *out, const be_op *op)
{
    out->kind = BE_KIND_I8;
    out->encoding = BE_ENC_NONE;
    out->planes = 1u;
    out->zero_point = op->zero_point;
}

/* Dense / Conv2d: geometry, weights, output stage, output value (before finish_value). */
static be_status load_linear(loader *L, be_op *op, const uint8_t *r, int last)
{
    const be_value *in = &op->in;
    be_value *out = &op->out;
    uint32_t dims[4], rank, cw_in, i, kc;
    uint64_t k, rows;
    const uint8_t *w;

    if (op->weight_kind != BE_WK_BINARY && op->weight_kind != BE_WK_INT8)
        return BE_ERR_FORMAT;
    if (op->stage != BE_STAGE_THRESHOLD && op->stage != BE_STAGE_SCORE && op->stage != BE_STAGE_REQUANT &&
        op->stage != BE_STAGE_ACC)
        return BE_ERR_FORMAT;
    if (op->n_inputs != 1u || op->mult_a != 0 || op->mult_b != 0)
        return BE_ERR_FORMAT;
    if (op->in_ch == 0u || op->out_ch == 0u)
        return BE_ERR_SHAPE;
    if (op->in_ch > BE_MAX_CHANNELS || op->out_ch > BE_MAX_CHANNELS)
        return BE_ERR_FORMAT;

    if (op->type == BE_OP_DENSE) {
        if (op->kh | op->kw | op->sh | op->sw | op->pt | op->pb | op->pl | op->pr | op->groups)
            return BE_ERR_FORMAT;
        if (in->rank != 1u || in->c != op->in_ch)
            return BE_ERR_SHAPE;
        kc = op->in_ch;
        k = kc;
        out->rank = 1u;
        out->h = out->w = 1u;
    } else {
        /* every geometry field bounded before any arithmetic with it */
        if (op->kh == 0u || op->kw == 0u || op->sh == 0u || op->sw == 0u || op->groups == 0u)
            return BE_ERR_FORMAT;
        if (op->kh > BE_MAX_DIM || op->kw > BE_MAX_DIM || op->sh > BE_MAX_DIM || op->sw > BE_MAX_DIM)
            return BE_ERR_FORMAT;
        if (op->pt >= op->kh || op->pb >= op->kh || op->pl >= op->kw || op->pr >= op->kw)
            return BE_ERR_FORMAT; /* padding of a side must be smaller than the kernel */
        if (op->in_ch % op->groups != 0u || op->out_ch % op->groups != 0u)
            return BE_ERR_FORMAT;
        if (op->groups > 1u && (op->weight_kind != BE_WK_INT8 || !is_codes(in)))
            return BE_ERR_FORMAT; /* grouped / depthwise: int8 weights over u8 / i8 codes */
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
        kc = op->in_ch / op->groups;
        if (!mul_lim(op->kh, op->kw, U32_LIMIT, &k) || !mul_lim(k, kc, U32_LIMIT, &k))
            return BE_ERR_OVERFLOW;
        out->rank = 3u;
    }
    if (k > 0x7FFFFFFFull)
        return BE_ERR_OVERFLOW; /* K alone would overflow the accumulator */
    op->k = (uint32_t)k;

    /* weights */
    cw_in = be_words_for(kc);
    rank = 0;
    dims[rank++] = op->out_ch;
    if (op->type == BE_OP_CONV2D) {
        dims[rank++] = op->kh;
        dims[rank++] = op->kw;
    }
    dims[rank++] = op->weight_kind == BE_WK_BINARY ? cw_in : kc;
    TRY(take_tensor(L, rd32(r + 84), op->weight_kind == BE_WK_BINARY ? BE_DT_U32 : BE_DT_I8, rank, dims, &w));
    op->weights = w;
    op->w_row_bytes = op->weight_kind == BE_WK_BINARY ? cw_in * 4u : kc;
    if (op->weight_kind == BE_WK_BINARY) { /* padding bits of every packed row must be zero */
        be_word pad = (be_word)~be_last_word_mask(kc);
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
        if (last)
            return BE_ERR_SHAPE; /* the last op must produce scores */
        TRY(load_threshold_stage(L, op, r, op->out_ch));
    } else if (op->stage == BE_STAGE_ACC) { /* the accumulator itself, for a Merge */
        uint32_t c;
        if (op->encoding != BE_ENC_NONE || op->levels != 0u || op->shift != 0 || op->zero_point != 0 ||
            rd32(r + 88) != NO_INDEX || rd32(r + 92) != NO_INDEX || rd32(r + 96) != NO_INDEX)
            return BE_ERR_FORMAT;
        if (last)
            return BE_ERR_SHAPE;
        out->kind = BE_KIND_I32;
        out->encoding = BE_ENC_ACC;
        out->planes = 1u;
        out->bound = 0u;
        for (c = 0; c < op->out_ch; c++) /* <= INT32_MAX: checked above */
            if (acc_bound(op, c) > out->bound)
                out->bound = (uint32_t)acc_bound(op, c);
    } else if (op->stage == BE_STAGE_SCORE) {
        const uint8_t *mult, *offset;
        uint32_t c;
        if (op->encoding != BE_ENC_NONE || op->levels != 0u || op->shift < 0 || op->shift > 31 ||
            op->zero_point != 0 || rd32(r + 96) != NO_INDEX)
            return BE_ERR_FORMAT;
        if (op->type != BE_OP_DENSE || !last)
            return BE_ERR_SHAPE; /* scores come from the last op, a Dense */
        TRY(take_tensor(L, rd32(r + 88), BE_DT_I32, 1u, dims, &mult));
        TRY(take_tensor(L, rd32(r + 92), BE_DT_I32, 1u, dims, &offset));
        for (c = 0; c < op->out_ch; c++) { /* |m| * bound + |offset| <= INT32_MAX: no score can wrap */
            const int64_t m = rd_i32(mult + 4u * c), o = rd_i32(offset + 4u * c);
            uint64_t worst;
            if (!mul_lim(abs64(m), acc_bound(op, c), 0x7FFFFFFFull, &worst) || worst + abs64(o) > 0x7FFFFFFFull)
                return BE_ERR_OVERFLOW;
        }
        op->stage_a = mult;
        op->stage_b = offset;
        out->kind = BE_KIND_I32;
        out->encoding = BE_ENC_NONE;
        out->planes = 1u;
    } else {
        const uint8_t *mult, *bias, *shift;
        uint32_t c;
        if (op->encoding != BE_ENC_NONE || op->levels != 0u || op->shift != 0 || op->zero_point < -128 ||
            op->zero_point > 127)
            return BE_ERR_FORMAT;
        if (last)
            return BE_ERR_SHAPE;
        TRY(take_tensor(L, rd32(r + 88), BE_DT_I32, 1u, dims, &mult));
        TRY(take_tensor(L, rd32(r + 92), BE_DT_I64, 1u, dims, &bias));
        TRY(take_tensor(L, rd32(r + 96), BE_DT_U8, 1u, dims, &shift));
        for (c = 0; c < op->out_ch; c++) { /* |M| * bound + |B| + 2^(s-1) <= 2^63 - 1 */
            if (shift[c] > BE_MAX_SHIFT)
                return BE_ERR_FORMAT;
            if (!fits_int64(abs64(rd_i32(mult + 4u * c)), acc_bound(op, c), abs64(rd_i64(bias + 8u * c)),
                            half_of(shift[c])))
                return BE_ERR_OVERFLOW;
        }
        op->stage_a = mult;
        op->stage_b = bias;
        op->stage_c = shift;
        make_i8(out, op);
    }
    return BE_OK;
}

/* The value a value index names: 0 is the input, v the output of op v - 1. */
static be_value *value_of(be_model *m, uint32_t v)
{
    return v == 0u ? &m->input : &m->ops[v - 1u].out;
}

/* The f64 scale of value record v: positive and finite for u8 / i8 values, +0 otherwise. */
static be_status check_scale(const uint8_t *rec, const be_value *v)
{
    const uint32_t lo = rd32(rec + 32), hi = rd32(rec + 36);
    if (!is_codes(v))
        return (lo | hi) == 0u ? BE_OK : BE_ERR_FORMAT;
    if ((hi >> 31) != 0u || ((hi >> 20) & 0x7FFu) == 0x7FFu || (lo | hi) == 0u)
        return BE_ERR_FORMAT; /* negative, infinite / NaN or zero */
    return BE_OK;
}

/* Compare a derived value with its stored record (kind, encoding, planes, shape, zero point,
 * bytes, reserved fields) and take its arena offset. */
static be_status check_value_record(const uint8_t *rec, be_value *v)
{
    const uint32_t planes = v->kind == BE_KIND_BITS ? v->planes : 0u;
    if (rec[0] != v->kind || rec[1] != v->encoding || rec[2] != planes || rec[3] != v->rank)
        return BE_ERR_SHAPE;
    if (rd32(rec + 4) != v->h || rd32(rec + 8) != v->w || rd32(rec + 12) != v->c)
        return BE_ERR_SHAPE;
    if (rd_i32(rec + 16) != (is_codes(v) ? v->zero_point : 0) || rd32(rec + 24) != v->nbytes)
        return BE_ERR_SHAPE;
    if (rd32(rec + 28) != v->bound)
        return BE_ERR_SHAPE; /* an accumulator's bound (0 for every other value) */
    if (rd32(rec + 40) != 0u || rd32(rec + 44) != 0u)
        return BE_ERR_FORMAT;
    TRY(check_scale(rec, v));
    v->offset = rd32(rec + 20);
    return BE_OK;
}

/* Scratch an op may use (docs/format.md §6): a Conv2d's receptive field, widened for codes; an
 * LSTM's persistent state (int32 c[H], int8 h[H]). */
static uint64_t scratch_need(const be_op *op)
{
    uint64_t patch;
    if (op->type == BE_OP_LSTM)
        return align16(4u * (uint64_t)op->out_ch) + align16(op->out_ch);
    if (op->type != BE_OP_CONV2D)
        return 0u;
    patch = (uint64_t)op->kh * op->kw * op->in.pixel_bytes * (is_codes(&op->in) ? 2u : 1u);
    return align16(patch); /* < 2^31 * 2 + 16: the padded input below 2 GiB bounds it */
}

/* Largest |x - zp| of a Merge input: the zero point of codes, the proved bound of accumulators. */
static uint64_t merge_max(const be_value *v)
{
    return v->kind == BE_KIND_I32 ? v->bound : centered_max(v);
}

/* Merge: v_c = Ma_c (a - zp_a) + Mb_c (b - zp_b) + B_c in int64, then thresholds (int64) -> bits
 * or the rounding rule -> i8. */
static be_status load_merge(loader *L, be_model *m, be_op *op, const uint8_t *r)
{
    const be_value *a = &op->in, *b;
    be_value *out = &op->out;
    const uint8_t *ma, *mb, *bias;
    uint32_t dims[2], c, j;
    if (op->n_inputs != 2u || op->shift != 0 || op->mult_a != 0 || op->mult_b != 0)
        return BE_ERR_FORMAT;
    b = value_of(m, m->operands[op->first_operand + 1u]);
    if ((!is_codes(a) && a->encoding != BE_ENC_ACC) || (!is_codes(b) && b->encoding != BE_ENC_ACC))
        return BE_ERR_SHAPE; /* codes or accumulators */
    if (a->rank != b->rank || a->h != b->h || a->w != b->w || a->c != b->c)
        return BE_ERR_SHAPE;
    dims[0] = a->c;
    TRY(take_tensor(L, rd32(r + 88), BE_DT_I32, 1u, dims, &ma));
    TRY(take_tensor(L, rd32(r + 92), BE_DT_I32, 1u, dims, &mb));
    TRY(take_tensor(L, rd32(r + 96), BE_DT_I64, 1u, dims, &bias));
    op->stage_a = ma;
    op->stage_b = mb;
    op->stage_c = bias;
    if (op->stage == BE_STAGE_THRESHOLD) {
        const uint8_t *dir, *t;
        if ((op->encoding != BE_ENC_SIGN && op->encoding != BE_ENC_UNSIGNED) || op->levels == 0u ||
            op->levels > BE_MAX_LEVELS || op->zero_point != 0 || rd32(r + 104) == NO_INDEX)
            return BE_ERR_FORMAT;
        if (op->encoding == BE_ENC_SIGN && op->levels != 1u)
            return BE_ERR_FORMAT;
        TRY(take_tensor(L, rd32(r + 100), BE_DT_I8, 1u, dims, &dir));
        dims[1] = op->levels;
        TRY(take_tensor(L, rd32(r + 104), BE_DT_I64, 2u, dims, &t));
        for (c = 0; c < a->c; c++) {
            if (dir[c] != 0x01u && dir[c] != 0xFFu)
                return BE_ERR_FORMAT;
            for (j = 1; j < op->levels; j++) {
                const uint8_t *tc = t + ((size_t)c * op->levels + j) * 8u;
                if (rd_i64(tc) < rd_i64(tc - 8))
                    return BE_ERR_FORMAT; /* thresholds must be non-decreasing */
            }
        }
        op->stage_d = dir;
        op->stage_e = t;
        out->kind = BE_KIND_BITS;
        out->encoding = op->encoding;
        out->planes = (uint8_t)(op->encoding == BE_ENC_SIGN ? 1u : bit_length(op->levels));
        out->zero_point = 0;
    } else if (op->stage == BE_STAGE_ROUND) {
        const uint8_t *shift;
        if (op->encoding != BE_ENC_NONE || op->levels != 0u || op->zero_point < -128 || op->zero_point > 127 ||
            rd32(r + 104) != NO_INDEX)
            return BE_ERR_FORMAT;
        TRY(take_tensor(L, rd32(r + 100), BE_DT_U8, 1u, dims, &shift));
        op->stage_d = shift;
        make_i8(out, op);
    } else {
        return BE_ERR_FORMAT;
    }
    out->bound = 0u;
    for (c = 0; c < a->c; c++) { /* |Ma| max|a - zp| + |Mb| max|b - zp| + |B| + 2^(s-1) <= 2^63 - 1 */
        const uint64_t lim = 0x7FFFFFFFFFFFFFFFull;
        uint64_t sa, sb, half = 0u;
        if (op->stage == BE_STAGE_ROUND) {
            const uint8_t s = ((const uint8_t *)op->stage_d)[c];
            if (s > BE_MAX_SHIFT)
                return BE_ERR_FORMAT;
            half = half_of(s);
        }
        if (!fits_int64(abs64(rd_i32(ma + 4u * c)), merge_max(a), 0u, 0u) ||
            !fits_int64(abs64(rd_i32(mb + 4u * c)), merge_max(b), 0u, 0u))
            return BE_ERR_OVERFLOW;
        sa = abs64(rd_i32(ma + 4u * c)) * merge_max(a); /* each <= 2^63 - 1: just checked */
        sb = abs64(rd_i32(mb + 4u * c)) * merge_max(b);
        if (sb > lim - sa || abs64(rd_i64(bias + 8u * c)) > lim - sa - sb ||
            half > lim - sa - sb - abs64(rd_i64(bias + 8u * c)))
            return BE_ERR_OVERFLOW;
    }
    return BE_OK;
}

/* Padding bits (beyond n in the last word of each of `rows` rows of words(n) words) all zero? */
static int padding_zero(const uint8_t *w, uint64_t rows, uint32_t n)
{
    const uint32_t cw = be_words_for(n);
    const be_word pad = (be_word)~be_last_word_mask(n);
    uint64_t i;
    for (i = 0; pad != 0u && i < rows; i++)
        if (rd32(w + ((size_t)i * cw + cw - 1u) * 4u) & pad)
            return 0;
    return 1;
}

/* LSTM (binary gate matrices; be_lstm.h): one time step, state in the op's scratch. Input: a
 * character id (the graph input, u8 (1,), zero point 0; one-hot over I = V <= 256) or the i8 (I,)
 * output of an earlier LSTM; output i8 (H,), zero point 0, scale 2^-7. Tensors: Wh u32 (4H,
 * words(H)); Wx u32 (I, words(4H)) one-hot (transposed), else (4H, words(I)); M i32 (2, 4);
 * B i32 (4H); shifts u8 (4) in 1..30. Per gate j the bound of docs/numerics.md:
 * |Mh_j| 127 H + |Mx_j| (one-hot: 1, else 127 I) + max_c |B_jc| + 2^(s_j - 1) <= 2^31 - 1. */
static be_status load_lstm(loader *L, be_model *m, be_op *op, const uint8_t *r, const uint8_t *out_rec)
{
    const be_value *in = &op->in;
    be_value *out = &op->out;
    const uint32_t v_in = m->operands[op->first_operand];
    const uint8_t *wh, *wx, *mul, *bias, *sh;
    uint32_t dims[2], hid, n_in, rows, j, c;
    int onehot;
    if (op->weight_kind != BE_WK_BINARY || op->stage != BE_STAGE_NONE || op->encoding != BE_ENC_NONE ||
        op->n_inputs != 1u || op->levels != 0u || op->groups != 0u || op->zero_point != 0 || op->mult_a != 0 ||
        op->mult_b != 0)
        return BE_ERR_FORMAT;
    if (op->kh | op->kw | op->sh | op->sw | op->pt | op->pb | op->pl | op->pr)
        return BE_ERR_FORMAT;
    if (op->shift < BE_LSTM_C_FRAC_MIN || op->shift > BE_LSTM_C_FRAC_MAX || rd32(r + 104) != NO_INDEX)
        return BE_ERR_FORMAT;
    if (op->in_ch == 0u || op->out_ch == 0u)
        return BE_ERR_SHAPE;
    if (op->in_ch > BE_MAX_CHANNELS || op->out_ch > BE_MAX_CHANNELS / 4u)
        return BE_ERR_FORMAT; /* 4H gate rows: at most BE_MAX_CHANNELS */
    hid = op->out_ch;
    n_in = op->in_ch;
    rows = 4u * hid; /* <= 2^26 */
    onehot = in->kind == BE_KIND_U8;
    if (onehot) { /* the character id: the graph input itself, one byte */
        if (v_in != 0u || in->rank != 1u || in->c != 1u || in->zero_point != 0 || n_in > 256u)
            return BE_ERR_SHAPE;
    } else if (in->kind == BE_KIND_I8) { /* the h codes of an earlier LSTM (|code| <= 127) */
        if (v_in == 0u || m->ops[v_in - 1u].type != BE_OP_LSTM || in->rank != 1u || in->c != n_in ||
            in->zero_point != 0)
            return BE_ERR_SHAPE;
    } else {
        return BE_ERR_SHAPE;
    }
    op->k = hid;
    op->w_row_bytes = be_words_for(hid) * 4u;

    dims[0] = rows;
    dims[1] = be_words_for(hid);
    TRY(take_tensor(L, rd32(r + 84), BE_DT_U32, 2u, dims, &wh));
    if (!padding_zero(wh, rows, hid))
        return BE_ERR_FORMAT;
    dims[0] = onehot ? n_in : rows;
    dims[1] = be_words_for(onehot ? rows : n_in);
    TRY(take_tensor(L, rd32(r + 88), BE_DT_U32, 2u, dims, &wx));
    if (!padding_zero(wx, dims[0], onehot ? rows : n_in))
        return BE_ERR_FORMAT;
    dims[0] = 2u;
    dims[1] = 4u;
    TRY(take_tensor(L, rd32(r + 92), BE_DT_I32, 2u, dims, &mul));
    dims[0] = rows;
    TRY(take_tensor(L, rd32(r + 96), BE_DT_I32, 1u, dims, &bias));
    dims[0] = 4u;
    TRY(take_tensor(L, rd32(r + 100), BE_DT_U8, 1u, dims, &sh));
    for (j = 0; j < 4u; j++) {
        const uint64_t xmax = onehot ? 1u : (uint64_t)BE_LSTM_H_MAX * n_in;
        uint64_t bmax = 0u, total;
        if (sh[j] < 1u || sh[j] > BE_LSTM_SHIFT_MAX)
            return BE_ERR_FORMAT;
        for (c = 0; c < hid; c++) {
            const uint64_t b = abs64(rd_i32(bias + 4u * ((size_t)j * hid + c)));
            bmax = b > bmax ? b : bmax;
        }
        /* each product < 2^31 * 2^31: the sum of all four fits 64 bits */
        total = abs64(rd_i32(mul + 4u * j)) * ((uint64_t)BE_LSTM_H_MAX * hid) + abs64(rd_i32(mul + 16u + 4u * j)) * xmax +
                bmax + half_of(sh[j]);
        if (total > INT32_LIMIT)
            return BE_ERR_OVERFLOW;
    }
    op->weights = wh;
    op->stage_a = wx;
    op->stage_b = mul;
    op->stage_c = bias;
    op->stage_d = sh;
    out->kind = BE_KIND_I8;
    out->encoding = BE_ENC_NONE;
    out->planes = 1u;
    out->rank = 1u;
    out->h = out->w = 1u;
    out->c = hid;
    out->zero_point = 0;
    out->bound = 0u;
    if (rd32(out_rec + 32) != 0u || rd32(out_rec + 36) != 0x3F800000u)
        return BE_ERR_SHAPE; /* h codes are q / 2^7: the scale is exactly 2^-7 */
    return BE_OK;
}

/* Every op but Dense / Conv2d; `in` is op->in (input 0). */
static be_status load_other(loader *L, be_model *m, be_op *op, const uint8_t *r, const uint8_t *out_rec)
{
    const be_value *in = &op->in;
    be_value *out = &op->out;
    uint32_t j;
    if (op->weight_kind != BE_WK_NONE || op->in_ch || op->out_ch || op->groups || rd32(r + 84) != NO_INDEX)
        return BE_ERR_FORMAT;
    if (op->type != BE_OP_THRESHOLD && op->type != BE_OP_MERGE &&
        (op->stage || op->encoding || op->levels || rd32(r + 88) != NO_INDEX || rd32(r + 92) != NO_INDEX ||
         rd32(r + 96) != NO_INDEX))
        return BE_ERR_FORMAT;
    if (op->type != BE_OP_MAXPOOL2D && op->type != BE_OP_AVGPOOL2D &&
        (op->kh | op->kw | op->sh | op->sw | op->pt | op->pb | op->pl | op->pr))
        return BE_ERR_FORMAT;
    if (op->type == BE_OP_MAXPOOL2D || op->type == BE_OP_AVGPOOL2D) {
        if (op->pt | op->pb | op->pl | op->pr)
            return BE_ERR_FORMAT;
    }
    if (op->type != BE_OP_ADD && op->type != BE_OP_CONCAT && op->type != BE_OP_MERGE && op->n_inputs != 1u)
        return BE_ERR_FORMAT;
    *out = *in;
    out->offset = 0u;
    switch (op->type) {
    case BE_OP_MAXPOOL2D:
    case BE_OP_AVGPOOL2D:
        if (op->kh == 0u || op->kw == 0u || op->sh == 0u || op->sw == 0u)
            return BE_ERR_FORMAT;
        if (op->kh > BE_MAX_DIM || op->kw > BE_MAX_DIM || op->sh > BE_MAX_DIM || op->sw > BE_MAX_DIM)
            return BE_ERR_FORMAT;
        if (in->rank != 3u)
            return BE_ERR_SHAPE;
        TRY(window_out(in->h, op->kh, op->sh, 0u, 0u, &out->h));
        TRY(window_out(in->w, op->kw, op->sw, 0u, 0u, &out->w));
        if (op->type == BE_OP_MAXPOOL2D) {
            if (op->shift || op->zero_point || op->mult_a || op->mult_b)
                return BE_ERR_FORMAT;
            return BE_OK; /* bits, u8 or i8: the same type */
        }
        if (!is_codes(in) || op->mult_b != 0)
            return !is_codes(in) ? BE_ERR_SHAPE : BE_ERR_FORMAT;
        TRY(check_requant_fields(op));
        {
            uint64_t win;
            if (!mul_lim(op->kh, op->kw, U32_LIMIT, &win) ||
                !fits_int64(abs64(op->mult_a), win * centered_max(in), 0u, half_of((uint32_t)op->shift)))
                return BE_ERR_OVERFLOW;
        }
        make_i8(out, op);
        return BE_OK;
    case BE_OP_FLATTEN: {
        uint64_t f;
        if (op->shift || op->zero_point || op->mult_a || op->mult_b)
            return BE_ERR_FORMAT;
        if (!mul_lim(in->h, in->w, U32_LIMIT, &f) || !mul_lim(f, in->c, U32_LIMIT, &f))
            return BE_ERR_OVERFLOW;
        if (f > BE_MAX_CHANNELS)
            return BE_ERR_SHAPE; /* a flat value holds at most BE_MAX_CHANNELS features */
        out->rank = 1u;
        out->h = out->w = 1u;
        out->c = (uint32_t)f;
        return BE_OK;
    }
    case BE_OP_RESHAPE: {
        uint64_t a, b;
        if (op->shift || op->zero_point || op->mult_a || op->mult_b)
            return BE_ERR_FORMAT;
        if (!is_codes(in))
            return BE_ERR_SHAPE;
        out->rank = out_rec[3];
        out->h = rd32(out_rec + 4);
        out->w = rd32(out_rec + 8);
        out->c = rd32(out_rec + 12);
        if ((out->rank != 1u && out->rank != 3u) || (out->rank == 1u && (out->h != 1u || out->w != 1u)))
            return BE_ERR_SHAPE;
        if (out->h == 0u || out->w == 0u || out->c == 0u || out->h > BE_MAX_DIM || out->w > BE_MAX_DIM ||
            out->c > BE_MAX_CHANNELS)
            return BE_ERR_SHAPE;
        if (!mul_lim(in->h, in->w, U32_LIMIT, &a) || !mul_lim(a, in->c, U32_LIMIT, &a) ||
            !mul_lim(out->h, out->w, U32_LIMIT, &b) || !mul_lim(b, out->c, U32_LIMIT, &b) || a != b)
            return BE_ERR_SHAPE; /* the same element count */
        return BE_OK;
    }
    case BE_OP_REQUANTIZE:
        if (!is_codes(in))
            return BE_ERR_SHAPE;
        if (op->mult_b != 0)
            return BE_ERR_FORMAT;
        TRY(check_requant_fields(op));
        if (!fits_int64(abs64(op->mult_a), centered_max(in), 0u, half_of((uint32_t)op->shift)))
            return BE_ERR_OVERFLOW;
        make_i8(out, op);
        return BE_OK;
    case BE_OP_THRESHOLD:
        if (!is_codes(in))
            return BE_ERR_SHAPE;
        if (op->stage != BE_STAGE_THRESHOLD || op->mult_a || op->mult_b)
            return BE_ERR_FORMAT;
        TRY(load_threshold_stage(L, op, r, in->c));
        out->zero_point = 0;
        return BE_OK;
    case BE_OP_ADD: {
        const be_value *b;
        if (op->n_inputs != 2u)
            return BE_ERR_FORMAT;
        b = value_of(m, m->operands[op->first_operand + 1u]);
        if (!is_codes(in) || !is_codes(b) || in->rank != b->rank || in->h != b->h || in->w != b->w || in->c != b->c)
            return BE_ERR_SHAPE;
        TRY(check_requant_fields(op));
        { /* |M_a| max|a - zp_a| + |M_b| max|b - zp_b| + 2^(s-1) <= 2^63 - 1 */
            const uint64_t sb = abs64(op->mult_b) * centered_max(b); /* < 2^39 */
            if (!fits_int64(abs64(op->mult_a), centered_max(in), sb, half_of((uint32_t)op->shift)))
                return BE_ERR_OVERFLOW;
        }
        make_i8(out, op);
        return BE_OK;
    }
    case BE_OP_MERGE:
        return load_merge(L, m, op, r);
    case BE_OP_CONCAT: {
        uint64_t c = 0u;
        if (op->shift || op->zero_point || op->mult_a || op->mult_b)
            return BE_ERR_FORMAT;
        if (op->n_inputs < 2u || op->n_inputs > BE_MAX_CONCAT)
            return BE_ERR_FORMAT;
        for (j = 0; j < op->n_inputs; j++) {
            const uint32_t vj = m->operands[op->first_operand + j];
            const be_value *x = value_of(m, vj);
            const uint8_t *rx = L->b + L->value_table + (size_t)vj * VALUE_RECORD;
            const uint8_t *r0 = L->b + L->value_table + (size_t)m->operands[op->first_operand] * VALUE_RECORD;
            if (x->kind != in->kind || x->encoding != in->encoding || x->planes != in->planes ||
                x->rank != in->rank || x->h != in->h || x->w != in->w || x->zero_point != in->zero_point ||
                memcmp(rx + 32, r0 + 32, 8) != 0)
                return BE_ERR_SHAPE; /* one type (scale included) and one spatial size */
            c += x->c;
        }
        if (c > BE_MAX_CHANNELS)
            return BE_ERR_SHAPE;
        out->c = (uint32_t)c;
        return BE_OK;
    }
    default:
        return BE_ERR_FORMAT;
    }
}

static be_status load_op(loader *L, be_model *m, uint32_t i, const uint8_t *r)
{
    be_op *op = &m->ops[i];
    const uint8_t *out_rec = L->b + L->value_table + (size_t)(i + 1u) * VALUE_RECORD;
    const int last = i + 1u == m->n_ops;
    uint32_t j;
    be_status st;
    memset(op, 0, sizeof *op);
    op->type = r[0];
    op->weight_kind = r[1];
    op->stage = r[2];
    op->encoding = r[3];
    op->n_inputs = rd32(r + 4);
    op->first_operand = rd32(r + 8);
    op->in_ch = rd32(r + 12);
    op->out_ch = rd32(r + 16);
    op->kh = rd32(r + 20);
    op->kw = rd32(r + 24);
    op->sh = rd32(r + 28);
    op->sw = rd32(r + 32);
    op->pt = rd32(r + 36);
    op->pb = rd32(r + 40);
    op->pl = rd32(r + 44);
    op->pr = rd32(r + 48);
    op->groups = rd32(r + 52);
    op->levels = rd32(r + 56);
    op->shift = rd_i32(r + 60);
    op->zero_point = rd_i32(r + 64);
    op->mult_a = rd_i32(r + 68);
    op->mult_b = rd_i32(r + 72);
    op->scratch_offset = rd32(r + 76);
    op->scratch_bytes = rd32(r + 80);
    if (op->type < BE_OP_DENSE || op->type > BE_OP_TYPES)
        return BE_ERR_FORMAT;
    for (j = 108; j < OP_RECORD; j++)
        if (r[j] != 0u)
            return BE_ERR_FORMAT; /* reserved */
    if (op->type != BE_OP_MERGE && ((op->type != BE_OP_LSTM && rd32(r + 100) != NO_INDEX) || rd32(r + 104) != NO_INDEX))
        return BE_ERR_FORMAT; /* tensor d: Merge, LSTM; e: Merge only */

    /* operands: values written before this op */
    if (op->n_inputs == 0u || op->n_inputs > BE_MAX_CONCAT || op->first_operand > m->n_operands ||
        op->n_inputs > m->n_operands - op->first_operand)
        return BE_ERR_FORMAT;
    for (j = 0; j < op->n_inputs; j++) {
        const uint32_t v = m->operands[op->first_operand + j];
        if (v > i)
            return BE_ERR_FORMAT;
        if (v > 0u) {
            be_op *producer = &m->ops[v - 1u];
            if (producer->out.kind == BE_KIND_I32 &&
                (producer->out.encoding != BE_ENC_ACC || op->type != BE_OP_MERGE))
                return BE_ERR_SHAPE; /* nothing reads the scores; accumulators only a Merge */
            producer->last_use = i;
        }
    }
    op->in = *value_of(m, m->operands[op->first_operand]);

    st = (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) ? load_linear(L, op, r, last)
         : op->type == BE_OP_LSTM                               ? load_lstm(L, m, op, r, out_rec)
                                                               : load_other(L, m, op, r, out_rec);
    if (st != BE_OK)
        return st;
    if ((op->out.kind == BE_KIND_I32 && op->out.encoding != BE_ENC_ACC) ? !last : last)
        return BE_ERR_SHAPE; /* the last op, and only it, produces the scores */
    TRY(finish_value(&op->out));
    TRY(check_value_record(out_rec, &op->out));
    if (op->type == BE_OP_MAXPOOL2D || op->type == BE_OP_FLATTEN || op->type == BE_OP_RESHAPE ||
        op->type == BE_OP_CONCAT) { /* a u8 / i8 value keeps the scale of its input */
        const uint8_t *in_rec = L->b + L->value_table + (size_t)m->operands[op->first_operand] * VALUE_RECORD;
        if (memcmp(out_rec + 32, in_rec + 32, 8) != 0)
            return BE_ERR_SHAPE;
    }
    if (last ? op->out.offset != BE_NO_OFFSET : op->out.offset == BE_NO_OFFSET)
        return BE_ERR_FORMAT; /* the scores are the caller's buffer; every other value is in the arena */
    if (op->scratch_bytes != scratch_need(op))
        return BE_ERR_FORMAT;
    if ((op->scratch_bytes == 0u) != (op->scratch_offset == NO_INDEX))
        return BE_ERR_FORMAT;
    op->last_use = i; /* until a later op reads it */
    return BE_OK;
}

/* Region r of the arena plan: value r + 1 (r < n_ops - 1) or op (r - n_ops)'s scratch;
 * 0 if there is none. */
static int region(const be_model *m, uint32_t r, uint32_t *off, uint32_t *size, uint32_t *first, uint32_t *last)
{
    const be_op *op;
    if (r + 1u < m->n_ops) {
        op = &m->ops[r];
        *off = op->out.offset;
        *size = op->out.nbytes;
        *first = r;
        *last = op->last_use;
        return 1;
    }
    if (r < m->n_ops)
        return 0; /* the scores: not in the arena */
    op = &m->ops[r - m->n_ops];
    if (op->scratch_bytes == 0u)
        return 0;
    *off = op->scratch_offset;
    *size = op->scratch_bytes;
    *first = *last = r - m->n_ops;
    if (op->type == BE_OP_LSTM) { /* the state persists: live at every op */
        *first = 0u;
        *last = m->n_ops - 1u;
    }
    return 1;
}

/* Prove the stored arena plan safe: every region 16-aligned and inside the arena, and no two
 * regions whose lifetimes meet overlapping. */
static be_status check_plan(const be_model *m, uint32_t arena)
{
    uint32_t a, b;
    for (a = 0; a < 2u * m->n_ops; a++) {
        uint32_t oa, sa, fa, la;
        if (!region(m, a, &oa, &sa, &fa, &la))
            continue;
        if (oa % ALIGN != 0u)
            return BE_ERR_ALIGN;
        if (oa > arena || sa > arena - oa)
            return BE_ERR_FORMAT;
        for (b = a + 1u; b < 2u * m->n_ops; b++) {
            uint32_t ob, sb, fb, lb;
            if (!region(m, b, &ob, &sb, &fb, &lb))
                continue;
            if (fa <= lb && fb <= la && (uint64_t)oa < (uint64_t)ob + sb && (uint64_t)ob < (uint64_t)oa + sa &&
                sa != 0u && sb != 0u)
                return BE_ERR_FORMAT; /* live at the same op and overlapping */
        }
    }
    return BE_OK;
}

static be_status load(be_model *m, const uint8_t *b, size_t size)
{
    loader L;
    uint32_t total, n_ops, n_values, n_operands, n_tensors, i, n_strings, nul, arena;
    uint32_t vt, ot, pt, tt, so, ss, mo, ms, dof, dsz;
    uint64_t end;
    be_value *in;

    if (!little_endian())
        return BE_ERR_UNSUPPORTED;
    if (size < 4u)
        return BE_ERR_TRUNCATED;
    if (memcmp(b, BE_MAGIC, 4) != 0)
        return BE_ERR_MAGIC;
    if (size < 6u)
        return BE_ERR_TRUNCATED;
    if (rd16(b + 4) != BE_FORMAT_VERSION)
        return BE_ERR_VERSION; /* version 1: re-export the model */
    if (size < HEADER_SIZE)
        return BE_ERR_TRUNCATED;
    if (rd16(b + 6) != HEADER_SIZE)
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
    if (rd32(b + 16) != 0u)
        return BE_ERR_FORMAT; /* flags */
    for (i = 92; i < HEADER_SIZE; i++)
        if (b[i] != 0u)
            return BE_ERR_FORMAT; /* reserved */

    /* sections: aligned, in bounds, in order, data up to the end */
    arena = rd32(b + 20);
    n_values = rd32(b + 24);
    n_ops = rd32(b + 28);
    n_operands = rd32(b + 32);
    n_tensors = rd32(b + 36);
    vt = rd32(b + 40);
    ot = rd32(b + 44);
    pt = rd32(b + 48);
    tt = rd32(b + 52);
    so = rd32(b + 56);
    ss = rd32(b + 60);
    mo = rd32(b + 68);
    ms = rd32(b + 72);
    dof = rd32(b + 76);
    dsz = rd32(b + 80);
    if (vt % ALIGN || ot % ALIGN || pt % ALIGN || tt % ALIGN || so % ALIGN || mo % ALIGN || dof % ALIGN)
        return BE_ERR_ALIGN;
    end = HEADER_SIZE;
    {
        const uint64_t off[7] = {vt, ot, pt, tt, so, mo, dof};
        const uint64_t len[7] = {(uint64_t)n_values * VALUE_RECORD, (uint64_t)n_ops * OP_RECORD,
                                 (uint64_t)n_operands * 4u, (uint64_t)n_tensors * TENSOR_RECORD, ss, ms, dsz};
        for (i = 0; i < 7u; i++) {
            if (off[i] < end || off[i] + len[i] > total)
                return BE_ERR_BOUNDS;
            end = off[i] + len[i];
        }
    }
    if (end != total)
        return BE_ERR_BOUNDS;
    if (n_ops == 0u || n_values != n_ops + 1u)
        return BE_ERR_FORMAT;
    if (n_ops > BE_MAX_OPS || n_operands > BE_MAX_OPERANDS)
        return BE_ERR_UNSUPPORTED;
    m->n_ops = n_ops;
    m->n_operands = n_operands;
    for (i = 0; i < n_operands; i++) {
        const uint32_t v = rd32(b + pt + 4u * i);
        if (v >= n_values)
            return BE_ERR_FORMAT;
        m->operands[i] = (uint16_t)v;
    }

    /* tensor table */
    L.b = b;
    L.total = total;
    L.n_tensors = n_tensors;
    L.tensor_table = tt;
    L.data_offset = dof;
    L.value_table = vt;
    L.next_tensor = 0u;
    for (i = 0; i < n_tensors; i++)
        TRY(check_tensor_record(&L, i));

    /* string table: n_class_names + n_ops NUL-terminated strings */
    m->n_class_names = rd32(b + 64);
    if ((uint64_t)m->n_class_names + n_ops > U32_LIMIT)
        return BE_ERR_FORMAT;
    n_strings = m->n_class_names + n_ops;
    for (i = 0, nul = 0; i < ss; i++)
        nul += b[so + i] == 0u;
    if (nul != n_strings || ss == 0u || b[so + ss - 1u] != 0u)
        return BE_ERR_FORMAT;

    /* input value: record 0 */
    in = &m->input;
    {
        const uint8_t *r = b + vt;
        in->kind = r[0];
        in->rank = r[3];
        if ((in->kind != BE_KIND_U8 && in->kind != BE_KIND_I8) || (in->rank != 1u && in->rank != 3u) || r[1] || r[2])
            return BE_ERR_FORMAT;
        in->encoding = BE_ENC_NONE;
        in->planes = 1u;
        in->h = rd32(r + 4);
        in->w = rd32(r + 8);
        in->c = rd32(r + 12);
        in->zero_point = rd_i32(r + 16);
        if (in->zero_point < (in->kind == BE_KIND_U8 ? 0 : -128) || in->zero_point > (in->kind == BE_KIND_U8 ? 255 : 127))
            return BE_ERR_FORMAT;
        if (in->rank == 1u && (in->h != 1u || in->w != 1u))
            return BE_ERR_FORMAT;
        if (in->h == 0u || in->w == 0u || in->c == 0u)
            return BE_ERR_SHAPE;
        if (in->h > BE_MAX_DIM || in->w > BE_MAX_DIM || in->c > BE_MAX_CHANNELS)
            return BE_ERR_FORMAT;
        TRY(finish_value(in));
        TRY(check_value_record(r, in));
        if (in->offset != BE_NO_OFFSET)
            return BE_ERR_FORMAT; /* the input is the caller's buffer */
    }

    /* ops */
    for (i = 0; i < n_ops; i++)
        TRY(load_op(&L, m, i, b + ot + (size_t)i * OP_RECORD));
    if (L.next_tensor != n_tensors)
        return BE_ERR_FORMAT; /* unused tensors */
    for (i = 0; i + 1u < n_ops; i++)
        if (m->ops[i].last_use == i)
            return BE_ERR_SHAPE; /* a value no later op reads */
    m->output = m->ops[n_ops - 1u].out;

    /* header output fields */
    if (rd32(b + 84) != m->output.c)
        return BE_ERR_SHAPE;
    m->output_shift = rd_i32(b + 88);
    if (m->output_shift != m->ops[n_ops - 1u].shift)
        return BE_ERR_FORMAT;
    if (m->n_class_names != 0u && m->n_class_names != m->output.c)
        return BE_ERR_FORMAT;

    TRY(check_plan(m, arena));
    if (arena % ALIGN != 0u)
        return BE_ERR_FORMAT;

    m->blob = b;
    m->total_size = total;
    m->arena_size = arena;
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

int be_model_input_kind(const be_model *m)
{
    return ready(m) ? m->input.kind : 0;
}

int32_t be_model_input_zero_point(const be_model *m)
{
    return ready(m) ? m->input.zero_point : 0;
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

int be_model_is_recurrent(const be_model *m)
{
    uint32_t i;
    if (!ready(m))
        return 0;
    for (i = 0; i < m->n_ops; i++)
        if (m->ops[i].type == BE_OP_LSTM)
            return 1;
    return 0;
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

uint32_t be_model_kernel_families(const be_model *m, uint32_t i)
{
    if (!ready(m) || i >= m->n_ops)
        return 0u;
    return be_op_kernel_families(&m->ops[i]);
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
