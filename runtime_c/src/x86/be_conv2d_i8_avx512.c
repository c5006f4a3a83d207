/* be_conv2d_i8_avx512.c -- Conv2d with int8 weights over u8 / i8 codes (any zero point, groups;
 * every stage), AVX-512 VNNI.
 *
 * VPDPBUSD multiplies 4 unsigned bytes by 4 signed bytes and adds the 4 products to a 32-bit
 * lane, exactly (no saturation). The padded rows of a band of output rows are kept as bytes:
 * u8 codes as they are, i8 codes as x + 128 (x XOR 0x80: unsigned), padding the zero point the
 * same way; the weights of 16 output channels are transposed into 32-bit lanes of 4 consecutive
 * weights of a kernel row segment (zero past the segment: the quad may reach 3 bytes past it).
 * Over i8 codes each channel's accumulator starts at -128 * sum_k w_k, so it ends at
 * sum_k w_k x_k exactly: the lanes add modulo 2^32 (VPDPBUSD does not saturate) and the final
 * value lies within the loader's bound (|acc| <= 128 sum |w| <= INT32_MAX), so the biased
 * partial sums may wrap but the result cannot.
 * Per quad step 2 weight vectors (32 channels) and 4 output pixels: 2 loads, 4 broadcasts, 8
 * VPDPBUSD = 512 MACs. RequantStage on 8 lanes (be_x86_rq8_apply), others through
 * be_stage_put_block. Depthwise convs and Dense stay with AVX2 (supports() declines them), as
 * do ops whose rows or weight row exceed the stack buffers (16 and 32 KiB) and ops whose kernel
 * rows hold fewer than 16 elements (KW * C/g: a 3x3 first layer over one channel ran faster
 * with AVX2).
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx512.h"
#include "be_x86_i8.h"

#define BE_X86_I8_VNNI __attribute__((target("avx2,avx512f,avx512bw,avx512vpopcntdq,avx512vnni")))

#define PX 4u
#define ROW_BYTES 16376u                /* padded rows of bytes kept at once (+ 8 of slack) */
#define WT_WORDS 8192u                  /* transposed weights (32 KiB): quads x 32 lanes */
#define KQ_MAX (WT_WORDS / 32u)         /* quads of one weight row: 256 */

static uint32_t row_len(const be_op *op)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u;
    return (op->in.w + op->pl + op->pr) * (op->in.c / groups);
}

static uint32_t band_rows(const be_op *op)
{
    const uint32_t fit = ROW_BYTES / row_len(op);
    uint32_t r;
    if (fit < op->kh)
        return 0u;
    r = (fit - op->kh) / op->sh + 1u;
    return r < op->out.h ? r : op->out.h;
}

static uint32_t kquads(const be_op *op)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u;
    return op->kh * ((op->kw * (op->in_ch / groups) + 3u) / 4u);
}

int be_conv2d_i8_avx512_supports(const be_op *op)
{
    if (!be_op_is_int8_layer(op) || op->type != BE_OP_CONV2D)
        return 0;
    if (op->groups > 1u && op->groups == op->in_ch)
        return 0; /* depthwise: the AVX2 lanes */
    if (op->kw * (op->in_ch / (op->groups > 1u ? op->groups : 1u)) < 16u)
        return 0; /* kernel rows of < 4 quads (a 28 x 28 x 1 first layer): AVX2 measured faster */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") && band_rows(op) > 0u && kquads(op) <= KQ_MAX;
}

/* The padded byte rows of output rows [oy0, oy0 + n) for group g (u8 codes, or i8 + 128). */
BE_X86_I8_VNNI static void band8(const be_op *op, const uint8_t *in, uint32_t g, uint32_t oy0, uint32_t n,
                                 uint8_t *buf)
{
    const be_value *vi = &op->in;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, c = vi->c, cg = c / groups;
    const uint32_t rl = row_len(op), pl = op->pl * cg, body = vi->w * cg;
    const uint32_t rows = (n - 1u) * op->sh + op->kh;
    const uint8_t flip = vi->kind == BE_KIND_I8 ? 0x80u : 0u, zp = (uint8_t)((uint8_t)vi->zero_point ^ flip);
    const __m512i f = _mm512_set1_epi8((char)flip);
    uint32_t r, x, j;
    for (r = 0; r < rows; r++, buf += rl) {
        const int32_t iy = (int32_t)(oy0 * op->sh) - (int32_t)op->pt + (int32_t)r;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            memset(buf, zp, rl);
            continue;
        }
        memset(buf, zp, pl);
        if (cg == c) {
            const uint8_t *src = in + (size_t)iy * body;
            for (j = 0; j + 64u <= body; j += 64u)
                _mm512_storeu_si512((void *)(buf + pl + j), _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + j)), f));
            for (; j < body; j++)
                buf[pl + j] = (uint8_t)(src[j] ^ flip);
        } else {
            const uint8_t *src = in + (size_t)iy * vi->w * c + (size_t)g * cg;
            for (x = 0; x < vi->w; x++, src += c)
                for (j = 0; j < cg; j++)
                    buf[pl + x * cg + j] = (uint8_t)(src[j] ^ flip);
        }
        memset(buf + pl + body, zp, rl - pl - body);
    }
    memset(buf, 0, 8u); /* slack: a quad may reach 3 bytes past a row segment (zero weights) */
}

/* Weights of output channels [o0, o0 + valid) (valid <= 32, one group) as quads:
 * dst[(ky * S4 + q) * 32 + l] = w(o0 + l, ky, 4q .. 4q + 3) (bytes, zero past the segment);
 * corr[l] = -128 * sum of the channel's weights (i8 codes) or 0. 64 bytes of 16 rows at a time
 * (masked loads: nothing past a row segment is read), one 16 x 16 transpose of 32-bit quads;
 * the sums by VPDPBUSD against 128 in every byte. */
BE_X86_I8_VNNI static void quads32(const be_op *op, uint32_t o0, uint32_t valid, uint32_t *dst, int32_t *corr)
{
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups;
    const uint32_t seg = op->kw * cg, s4 = (seg + 3u) / 4u;
    const __m512i b128 = _mm512_set1_epi8((char)0x80);
    uint32_t half, ky, e0, l, q;
    for (half = 0; half < 2u; half++) {
        __m512i sum = _mm512_setzero_si512();
        for (ky = 0; ky < op->kh; ky++)
            for (e0 = 0; e0 < seg; e0 += 64u) {
                const uint32_t n = seg - e0 < 64u ? seg - e0 : 64u, nq = (n + 3u) / 4u;
                const __mmask64 m = n == 64u ? ~(__mmask64)0 : (((__mmask64)1) << n) - 1u;
                __m512i r[16];
                for (l = 0; l < 16u; l++) {
                    const uint32_t ch = 16u * half + l;
                    r[l] = ch < valid ? _mm512_maskz_loadu_epi8(m, (const void *)((const int8_t *)op->weights +
                                                                                (size_t)(o0 + ch) * op->k +
                                                                                (size_t)ky * seg + e0))
                                      : _mm512_setzero_si512();
                }
                be_x86_transpose16x16(r);
                for (q = 0; q < nq; q++) {
                    _mm512_store_si512((void *)(dst + ((size_t)ky * s4 + e0 / 4u + q) * 32u + 16u * half), r[q]);
                    sum = _mm512_dpbusd_epi32(sum, b128, r[q]);
                }
            }
        if (op->in.kind == BE_KIND_I8) /* |128 * sum| <= 128 * sum |w| <= INT32_MAX (loader) */
            _mm512_store_si512((void *)(corr + 16u * half), _mm512_sub_epi32(_mm512_setzero_si512(), sum));
        else
            _mm512_store_si512((void *)(corr + 16u * half), _mm512_setzero_si512());
    }
}

/* Non-requant stages of channels [o0, o0 + n): be_stage_put_block per word of bits. */
static be_status put_other(const be_op *op, void *px_out, uint32_t o0, uint32_t n, const int32_t *acc)
{
    be_status st = BE_OK;
    while (n > 0u) {
        const uint32_t k = 32u - o0 % 32u < n ? 32u - o0 % 32u : n;
        const be_status s = be_stage_put_block(op, px_out, o0, k, acc);
        if (s != BE_OK)
            st = s;
        o0 += k;
        acc += k;
        n -= k;
    }
    return st;
}

#define STEP(i)                                                                                         \
    do {                                                                                                \
        const __m512i xb = _mm512_broadcastd_epi32(_mm_loadu_si32(r##i + 4u * q));                     \
        a##i = _mm512_dpbusd_epi32(a##i, xb, w0);                                                       \
        b##i = _mm512_dpbusd_epi32(b##i, xb, w1);                                                       \
    } while (0)

BE_X86_I8_VNNI static be_status conv_group(const be_op *op, const uint8_t *in, uint8_t *out, uint32_t g,
                                           uint32_t *wt, uint8_t *rows)
{
    const be_value *vo = &op->out;
    const uint32_t groups = op->groups > 1u ? op->groups : 1u, cg = op->in_ch / groups, og = op->out_ch / groups;
    const uint32_t s4 = (op->kw * cg + 3u) / 4u, nblk = (og + 31u) / 32u;
    const size_t rl = row_len(op), ystep = op->sh * rl, xstep = (size_t)op->sw * cg;
    const uint32_t band = band_rows(op), ow = vo->w;
    const __m256i lo = _mm256_set1_epi64x(-128 - (int64_t)op->zero_point);
    const __m256i hi = _mm256_set1_epi64x(127 - (int64_t)op->zero_point), zp = _mm256_set1_epi32(op->zero_point);
    __attribute__((aligned(64))) int32_t corr[32];
    size_t base[PX];
    uint32_t blk, oy0, p0, i, ky, q, h;
    be_status st = BE_OK;
    for (blk = 0; blk < nblk; blk++) {
        const uint32_t o0 = g * og + 32u * blk, nl = og - 32u * blk < 32u ? og - 32u * blk : 32u;
        be_x86_rq8 rq[4];
        memset(rq, 0, sizeof rq);
        quads32(op, o0, nl, wt, corr);
        if (op->stage == BE_STAGE_REQUANT)
            for (h = 0; h < 4u; h++)
                be_x86_rq8_prepare(op, o0 + 8u * h, nl > 8u * h ? (nl - 8u * h < 8u ? nl - 8u * h : 8u) : 0u, &rq[h]);
        for (oy0 = 0; oy0 < vo->h; oy0 += band) {
            const uint32_t nr = vo->h - oy0 < band ? vo->h - oy0 : band, npx = nr * ow;
            band8(op, in, g, oy0, nr, rows);
            for (p0 = 0; p0 < npx; p0 += PX) {
                const uint32_t nv = npx - p0 < PX ? npx - p0 : PX;
                const __m512i c0 = _mm512_load_si512((const void *)corr), c1 = _mm512_load_si512((const void *)(corr + 16));
                __m512i a0 = c0, a1 = c0, a2 = c0, a3 = c0, b0 = c1, b1 = c1, b2 = c1, b3 = c1;
                __m512i av[PX], bv[PX];
                be_x86_pixel_bases(p0, npx, PX, ow, ystep, xstep, base);
                for (ky = 0; ky < op->kh; ky++) {
                    const uint8_t *rw = rows + (size_t)ky * rl;
                    const uint8_t *r0 = rw + base[0], *r1 = rw + base[1], *r2 = rw + base[2], *r3 = rw + base[3];
                    const uint32_t *wk = wt + (size_t)ky * s4 * 32u;
                    for (q = 0; q < s4; q++) {
                        const __m512i w0 = _mm512_load_si512((const void *)(wk + 32u * q));
                        const __m512i w1 = _mm512_load_si512((const void *)(wk + 32u * q + 16u));
                        STEP(0);
                        STEP(1);
                        STEP(2);
                        STEP(3);
                    }
                }
                av[0] = a0; av[1] = a1; av[2] = a2; av[3] = a3;
                bv[0] = b0; bv[1] = b1; bv[2] = b2; bv[3] = b3;
                for (i = 0; i < nv; i++) {
                    uint8_t *px_out = out + ((size_t)oy0 * ow + p0 + i) * vo->pixel_bytes;
                    if (op->stage == BE_STAGE_REQUANT) {
                        int8_t *dst = (int8_t *)px_out + o0;
                        be_x86_store_codes16(be_x86_rq8_apply(&rq[0], _mm512_castsi512_si256(av[i]), lo, hi, zp),
                                             be_x86_rq8_apply(&rq[1], _mm512_extracti64x4_epi64(av[i], 1), lo, hi, zp),
                                             dst, nl < 16u ? nl : 16u);
                        if (nl > 16u)
                            be_x86_store_codes16(
                                be_x86_rq8_apply(&rq[2], _mm512_castsi512_si256(bv[i]), lo, hi, zp),
                                be_x86_rq8_apply(&rq[3], _mm512_extracti64x4_epi64(bv[i], 1), lo, hi, zp), dst + 16,
                                nl - 16u);
                    } else {
                        __attribute__((aligned(64))) int32_t t[32];
                        be_status s;
                        _mm512_store_si512((void *)t, av[i]);
                        _mm512_store_si512((void *)(t + 16), bv[i]);
                        s = put_other(op, px_out, o0, nl, t);
                        if (s != BE_OK)
                            st = s;
                    }
                }
            }
        }
    }
    return st;
}

BE_X86_I8_VNNI be_status be_conv2d_i8_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    __attribute__((aligned(64))) uint32_t wt[WT_WORDS];
    __attribute__((aligned(64))) uint8_t rows[ROW_BYTES + 8u];
    uint32_t g;
    be_status st = BE_OK;
    (void)scratch;
    if (op->stage == BE_STAGE_THRESHOLD)
        memset(out, 0, op->out.nbytes); /* the stage ORs bits into the output words */
    for (g = 0; g < (op->groups > 1u ? op->groups : 1u); g++) {
        const be_status s = conv_group(op, (const uint8_t *)in, (uint8_t *)out, g, wt, rows);
        if (s != BE_OK)
            st = s;
    }
    return st;
}

#else
typedef int be_conv2d_i8_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
