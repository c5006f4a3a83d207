/* be_mutate.h -- the structural blob mutations of the fuzzers (docs/fuzzing.md).
 *
 * Shared by tests/fuzz_blobs.c (host, ASan + UBSan) and the hostile-blob program that
 * tests/test_target_matrix.py builds for every Cortex-M board: portable C99, no allocation, no
 * library call but memcpy. A deterministic splitmix64 generator (be_mut_seed) drives them.
 *
 *   field     a field of the header or of a value, op, operand or tensor record set to an extreme
 *             value
 *   geometry  consistent geometry changes: padding moved between the two sides of an axis (also
 *             by amounts near 2^32, so a 32-bit sum wraps back), the input size traded against
 *             op 0's padding (its value record kept consistent), kernel / stride / padding /
 *             groups fields, arena offsets of values and scratch moved, the arena size nudged
 *   data      weights, thresholds, directions, multipliers, offsets, biases, shifts (extreme
 *             values, bit flips); the requantization fields of Add / AvgPool2d / Requantize
 *   dag       an operand pointed at another value, two operands swapped, an op's operand range
 *   flips     a random bit anywhere
 *   size      truncation, total_size edits, extra bytes after the blob
 */
#ifndef BE_MUTATE_H
#define BE_MUTATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "binedge.h"

#define HEADER 128u
#define VREC 48u
#define OREC 112u
#define TREC 32u

static uint64_t rng_state = 1u;

static void be_mut_seed(uint64_t seed)
{
    rng_state = seed;
}

static uint32_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static uint32_t below(uint32_t n)
{
    return n ? rnd() % n : 0u;
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

/* An extreme value for a u32 field currently holding v. */
static uint32_t extreme32(uint32_t v)
{
    static const uint32_t vals[] = {0u, 1u, 2u, 3u, 4u, 5u, 7u, 8u, 15u, 16u, 17u, 31u, 32u, 33u, 63u, 64u, 65u,
                                    127u, 128u, 255u, 256u, 257u, 0x7FFFu, 0x8000u, 0xFFFFu, 0x10000u, 0x10001u,
                                    0xFFFFFFu, 0x1000000u, 0x1000001u, 0x7FFFFFFFu, 0x80000000u, 0x80000001u,
                                    0xFFFFFFF0u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    switch (below(8)) {
    case 0: return v + 1u;
    case 1: return v - 1u;
    case 2: return v * 2u;
    case 3: return v / 2u;
    case 4: return v + 0x80000000u;
    case 5: return 0u - v;
    case 6: return rnd();
    default: return vals[below(sizeof vals / sizeof vals[0])];
    }
}

static uint8_t extreme8(uint8_t v)
{
    static const uint8_t vals[] = {0u, 1u, 2u, 3u, 4u, 5u, 0x7Fu, 0x80u, 0x81u, 0xFEu, 0xFFu};
    switch (below(4)) {
    case 0: return (uint8_t)(v + 1u);
    case 1: return (uint8_t)(v - 1u);
    case 2: return (uint8_t)rnd();
    default: return vals[below(sizeof vals / sizeof vals[0])];
    }
}

/* ------------------------------------------------------------------------------ mutations */

typedef struct blob_buf {
    uint8_t *b;
    size_t len, cap;
} blob_buf;

static uint32_t hdr(const blob_buf *x, uint32_t off)
{
    return x->len >= off + 4u ? rd32(x->b + off) : 0u;
}

/* Offset of record i of a table, or 0 if it does not lie inside the buffer. */
static uint32_t record(const blob_buf *x, uint32_t table_field, uint32_t count_field, uint32_t size, uint32_t i)
{
    uint64_t off = (uint64_t)hdr(x, table_field) + (uint64_t)i * size;
    if (i >= hdr(x, count_field) || off + size > x->len)
        return 0u;
    return (uint32_t)off;
}

static uint32_t value_record(const blob_buf *x, uint32_t i)
{
    return record(x, 40u, 24u, VREC, i);
}

static uint32_t op_record(const blob_buf *x, uint32_t i)
{
    return record(x, 44u, 28u, OREC, i);
}

static uint32_t operand_entry(const blob_buf *x, uint32_t i)
{
    return record(x, 48u, 32u, 4u, i);
}

static uint32_t tensor_record(const blob_buf *x, uint32_t i)
{
    return record(x, 52u, 36u, TREC, i);
}

static void mutate_field(blob_buf *x)
{
    uint32_t off;
    switch (below(5)) {
    case 0: /* a header field (all u32 after the version) */
        off = 4u * (1u + below(22));
        break;
    case 1: /* a value record: the u8 codes, a u32 field or half of the f64 scale */
        off = value_record(x, below(hdr(x, 24u) + 1u));
        if (off == 0u)
            return;
        off += below(3) == 0 ? below(4) : 4u * (1u + below(10));
        break;
    case 2: /* a tensor record */
        off = tensor_record(x, below(hdr(x, 36u) + 1u));
        if (off == 0u)
            return;
        off += below(3) == 0 ? below(4) : 4u * (1u + below(7));
        break;
    case 3: /* an operand */
        off = operand_entry(x, below(hdr(x, 32u) + 1u));
        if (off == 0u)
            return;
        break;
    default: /* an op record */
        off = op_record(x, below(hdr(x, 28u) + 1u));
        if (off == 0u)
            return;
        off += below(3) == 0 ? below(4) : 4u * (1u + below(26)); /* up to tensor e at 104 */
        break;
    }
    if (off % 4u != 0u)
        x->b[off] = extreme8(x->b[off]);
    else if (off + 4u <= x->len)
        wr32(x->b + off, extreme32(rd32(x->b + off)));
}

/* An amount to move padding by: small, or so large that a 32-bit sum wraps. */
static uint32_t pad_delta(void)
{
    static const uint32_t d[] = {1u, 2u, 3u, 0xFFFFFFFFu, 0xFFFFFFFEu, 0x80000000u, 0x7FFFFFFFu, 0x10000u};
    return d[below(sizeof d / sizeof d[0])];
}

/* An op record of one of the given types (0 if none found in a few tries). */
static uint32_t find_op(const blob_buf *x, uint32_t t1, uint32_t t2, uint32_t t3)
{
    uint32_t tries, r = 0u;
    for (tries = 0; tries < 8u && r == 0u; tries++) {
        r = op_record(x, below(hdr(x, 28u)));
        if (r != 0u && x->b[r] != t1 && x->b[r] != t2 && x->b[r] != t3)
            r = 0u;
    }
    return r;
}

static void mutate_geometry(blob_buf *x)
{
    const uint32_t r = find_op(x, 2u, 3u, 5u); /* Conv2d, MaxPool2d, AvgPool2d */
    if (r == 0u)
        return;
    switch (below(8)) {
    case 0: { /* move padding between the two sides of one axis: the output size stays */
        uint32_t a = r + (below(2) ? 36u : 44u), d = pad_delta();
        wr32(x->b + a, rd32(x->b + a) + d);
        wr32(x->b + a + 4u, rd32(x->b + a + 4u) - d);
        break;
    }
    case 1: { /* the graph input traded against op 0's padding; the input's byte count follows */
        uint32_t r0 = op_record(x, 0u), v0 = value_record(x, 0u), axis = below(2), d = below(2) ? 1u : pad_delta();
        uint32_t h, w, n;
        if (r0 == 0u || v0 == 0u || x->b[r0] != 2u || x->b[v0 + 3u] != 3u)
            return;
        h = rd32(x->b + v0 + 4u);
        w = rd32(x->b + v0 + 8u);
        n = rd32(x->b + v0 + 24u);
        wr32(x->b + v0 + 4u + 4u * axis, rd32(x->b + v0 + 4u + 4u * axis) - d);
        wr32(x->b + r0 + 36u + 8u * axis, rd32(x->b + r0 + 36u + 8u * axis) + d);
        if (h != 0u && w != 0u) /* bytes per pixel times the new pixel count (mod 2^32) */
            wr32(x->b + v0 + 24u, n / (h * w) * rd32(x->b + v0 + 4u) * rd32(x->b + v0 + 8u));
        break;
    }
    case 2: /* kernel field */
        wr32(x->b + r + 20u + 4u * below(2), extreme32(rd32(x->b + r + 20u)));
        break;
    case 3: /* stride field */
        wr32(x->b + r + 28u + 4u * below(2), below(2) ? 1u + below(4) : extreme32(rd32(x->b + r + 28u)));
        break;
    case 4: /* one padding side */
        wr32(x->b + r + 36u + 4u * below(4), below(2) ? below(4) : extreme32(0u));
        break;
    case 5: /* groups */
        wr32(x->b + r + 52u, below(2) ? 1u + below(4) : extreme32(rd32(x->b + r + 52u)));
        break;
    case 6: { /* the arena plan: a value or an op's scratch moved by a few 16-byte steps */
        const uint32_t v = value_record(x, below(hdr(x, 24u)));
        const uint32_t a = below(2) && v != 0u ? v + 20u : r + 76u;
        wr32(x->b + a, rd32(x->b + a) + 16u * (below(7) - 3u));
        break;
    }
    default: /* stride and padding together: a different but plausible window */
        wr32(x->b + r + 28u, 1u + below(3));
        wr32(x->b + r + 36u, below(3));
        wr32(x->b + r + 40u, below(3));
        break;
    }
    if (below(2)) /* the arena a change needs: a multiple of 16 near the stored one */
        wr32(x->b + 20u, hdr(x, 20u) + 16u * (below(9) - 4u));
}

static void mutate_data(blob_buf *x)
{
    uint32_t t, off, nbytes, dtype, pos;
    if (below(4) == 0u) { /* the requantization fields of Add (6), AvgPool2d (5), Requantize (7) */
        const uint32_t r = find_op(x, 5u, 6u, 7u);
        if (r == 0u)
            return;
        switch (below(3)) {
        case 0: wr32(x->b + r + 60u, below(3) ? below(63) : extreme32(0u)); break;         /* shift */
        case 1: wr32(x->b + r + 64u, below(3) ? below(256) - 128u : extreme32(0u)); break; /* zero point */
        default: wr32(x->b + r + 68u + 4u * below(2), extreme32(rd32(x->b + r + 68u))); break; /* M */
        }
        return;
    }
    t = tensor_record(x, below(hdr(x, 36u)));
    if (t == 0u)
        return;
    dtype = x->b[t];
    off = rd32(x->b + t + 20u);
    nbytes = rd32(x->b + t + 24u);
    if (nbytes == 0u || (uint64_t)off + nbytes > x->len)
        return;
    pos = off + below(nbytes);
    switch (dtype) {
    case 1: /* u8: requantization shifts (0..62 valid) */
        x->b[pos] = below(2) ? (uint8_t)below(63) : extreme8(x->b[pos]);
        break;
    case 2: /* i8: directions (+-1) or int8 weights */
        x->b[pos] = below(2) ? (uint8_t)(0u - x->b[pos]) : extreme8(x->b[pos]);
        break;
    case 3: /* packed weight words: random bits (padding bits may get set: refused) */
        pos &= ~3u;
        wr32(x->b + pos, below(2) ? rnd() : rd32(x->b + pos) ^ (1u << below(32)));
        break;
    case 4: /* i32 thresholds / multipliers / offsets */
        pos &= ~3u;
        wr32(x->b + pos, extreme32(rd32(x->b + pos)));
        break;
    case 5: /* i64 biases: either half extreme */
        pos &= ~7u;
        wr32(x->b + pos + 4u * below(2), extreme32(rd32(x->b + pos)));
        break;
    default:
        x->b[pos] = (uint8_t)rnd();
        break;
    }
}

static void mutate_dag(blob_buf *x)
{
    const uint32_t n = hdr(x, 32u), e = operand_entry(x, below(n));
    uint32_t r;
    if (e == 0u)
        return;
    switch (below(3)) {
    case 0: /* an operand names another value */
        wr32(x->b + e, below(hdr(x, 24u) + 1u));
        break;
    case 1: { /* two operands swapped */
        const uint32_t e2 = operand_entry(x, below(n)), v = rd32(x->b + e);
        if (e2 != 0u) {
            wr32(x->b + e, rd32(x->b + e2));
            wr32(x->b + e2, v);
        }
        break;
    }
    default: /* an op's operand range */
        r = op_record(x, below(hdr(x, 28u)));
        if (r != 0u)
            wr32(x->b + r + 4u + 4u * below(2), below(3) ? below(n + 2u) : extreme32(rd32(x->b + r + 4u)));
        break;
    }
}

static void mutate_size(blob_buf *x)
{
    switch (below(3)) {
    case 0:
        x->len = below((uint32_t)x->len + 1u);
        break;
    case 1:
        wr32(x->b + 12u, hdr(x, 12u) + 16u * (below(5) - 2u));
        break;
    default: {
        const size_t more = x->len + 16u * below(4);
        if (more <= x->cap)
            x->len = more; /* extra bytes after the blob (zeros): allowed */
        break;
    }
    }
}

static void fix_crc(blob_buf *x)
{
    uint32_t total = hdr(x, 12u);
    if (x->len >= 16u && total >= 12u && total <= x->len)
        wr32(x->b + 8u, be_crc32(0u, x->b + 12u, total - 12u));
}

enum { M_FIELD, M_GEOMETRY, M_DATA, M_DAG, M_FLIPS, M_SIZE, M_KINDS };

/* Apply 1-3 mutations to x (its capacity allows 64 extra bytes); returns a bit mask of the kinds
 * used. The CRC is recomputed afterwards in 9 of 10 cases. */
static uint32_t be_mutate(blob_buf *x)
{
    uint32_t k, nmut = 1u + below(3), kinds = 0u;
    for (k = 0; k < nmut; k++) {
        const uint32_t kind = below(20);
        if (kind < 6u) {
            mutate_field(x);
            kinds |= 1u << M_FIELD;
        } else if (kind < 11u) {
            mutate_geometry(x);
            kinds |= 1u << M_GEOMETRY;
        } else if (kind < 16u) {
            mutate_data(x);
            kinds |= 1u << M_DATA;
        } else if (kind < 17u) {
            mutate_dag(x);
            kinds |= 1u << M_DAG;
        } else if (kind < 18u) {
            if (x->len)
                x->b[below((uint32_t)x->len)] ^= (uint8_t)(1u << below(8));
            kinds |= 1u << M_FLIPS;
        } else {
            mutate_size(x);
            kinds |= 1u << M_SIZE;
        }
    }
    if (below(10) != 0u)
        fix_crc(x);
    return kinds;
}

#endif /* BE_MUTATE_H */
