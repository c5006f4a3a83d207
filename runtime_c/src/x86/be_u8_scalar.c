/* be_u8_scalar.c -- "scalar": Dense / Conv2d on uint8 pixels x binary weights (the first layer)
 * for x86 cores without AVX2 (Atom / Celeron / Pentium class, or a run restricted to the POPCNT
 * ISA tier), with SSE2 (baseline on x86-64) and a plain-C fallback.
 *
 * With binary weights (bit 1 = -1) the accumulator is acc_o = total - 2 * s_o, total = the sum of
 * the K pixels of the receptive field, s_o = the sum of the pixels whose weight bit is 1. With
 * SSE2 the weight bits of a block of channels become byte masks once per call and s_o is
 * PSADBW(x AND mask) over 16-byte chunks; without it (or when one channel's masks exceed the
 * 8 KiB buffer) s_o is summed branch-free bit by bit. `ref` runs at about 36 cycles per MAC on
 * the benchmark host. Conv2d copies each receptive field into the arena's scratch (align16(2 K)
 * bytes for a u8 conv, docs/format.md section 6; padding pixels 0, zeros up to the next 16).
 * Format-version-1 ops only (zero point 0: the table row says so), any output stage
 * (be_stage_put_block).
 */
#if defined(__x86_64__) || defined(__i386__)

#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"

int be_u8_scalar_supports(const be_op *op)
{
    return (op->type == BE_OP_DENSE || op->type == BE_OP_CONV2D) && op->weight_kind == BE_WK_BINARY &&
           op->in.kind == BE_KIND_U8;
}

/* sum of x[b] over the set bits b < n (n <= 32) of bits */
static inline uint32_t masked_sum(const uint8_t *x, uint32_t bits, uint32_t n)
{
    uint32_t s = 0u, b;
    for (b = 0; b < n; b++)
        s += x[b] & (0u - ((bits >> b) & 1u));
    return s;
}

/* total - 2 s as int32 (the loader bounds |acc| <= 255 K <= INT32_MAX; modulo 2^32 on the way) */
static inline int32_t u8_acc(uint32_t total, uint32_t s)
{
    const uint32_t u = total - 2u * s;
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

static uint32_t byte_sum(const uint8_t *x, uint32_t n)
{
    uint32_t s = 0u, i;
    for (i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* acc[i] for the n <= 32 channels from o0 over the field x of taps * c bytes, bit by bit; the
 * weight rows hold `taps` groups of cw words (Dense: one tap of K = c pixels) */
static void block_bits(const be_op *op, const uint8_t *x, uint32_t taps, uint32_t c, uint32_t o0, uint32_t n,
                       int32_t *acc)
{
    const uint32_t cw = be_words_for(c), total = byte_sum(x, taps * c);
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * taps * cw;
    uint32_t i, t, j;
    for (i = 0; i < n; i++) {
        uint32_t s = 0u;
        for (t = 0; t < taps; t++) {
            const uint8_t *xt = x + (size_t)t * c;
            for (j = 0; j < cw; j++, w++)
                s += masked_sum(xt + 32u * j, *w, c - 32u * j < 32u ? c - 32u * j : 32u);
        }
        acc[i] = u8_acc(total, s);
    }
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* With SSE2 (every x86-64 core): the weight bits of a block of channels expanded once per call
 * into byte masks (0xFF for bit 1), K rounded up to 16 (k16) with zero bytes; then per channel
 * s = sum over 16-byte chunks of PSADBW(x AND mask), 16 MACs in four instructions. */
#define BE_U8S_MASK_BYTES 8192u

/* channels per mask block: a power of two <= 32 (blocks never cross a 32-channel output word)
 * or 32 * j; 0 when not even one channel's masks fit */
static uint32_t mask_block(uint32_t k16, uint32_t nout)
{
    uint32_t nb = BE_U8S_MASK_BYTES / k16, p = 1u;
    if (nb >= 32u)
        return nb / 32u * 32u < nout ? nb / 32u * 32u : nout;
    while (2u * p <= nb)
        p *= 2u;
    return nb == 0u ? 0u : p;
}

static void expand_masks(const be_op *op, uint32_t taps, uint32_t c, uint32_t o0, uint32_t n, uint32_t k16,
                         uint8_t *m)
{
    const uint32_t cw = be_words_for(c);
    uint32_t i, t, ch;
    for (i = 0; i < n; i++, m += k16) {
        const be_word *row = (const be_word *)op->weights + (size_t)(o0 + i) * taps * cw;
        for (t = 0; t < taps; t++)
            for (ch = 0; ch < c; ch++)
                m[t * c + ch] = (uint8_t)(0u - ((row[t * cw + ch / 32u] >> (ch % 32u)) & 1u));
        for (t = taps * c; t < k16; t++)
            m[t] = 0u;
    }
}

/* acc[i] for the n channels whose masks are at m over the field x (k16 bytes, zero past K) */
static void block_masks(const uint8_t *x, uint32_t k, uint32_t k16, const uint8_t *m, uint32_t n, int32_t *acc)
{
    const uint32_t total = byte_sum(x, k);
    uint32_t i, j;
    for (i = 0; i < n; i++, m += k16) {
        __m128i s = _mm_setzero_si128();
        for (j = 0; j < k16; j += 16u) {
            const __m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)(x + j)),
                                            _mm_loadu_si128((const __m128i *)(m + j)));
            s = _mm_add_epi64(s, _mm_sad_epu8(v, _mm_setzero_si128()));
        }
        acc[i] = u8_acc(total, (uint32_t)_mm_cvtsi128_si32(s) + (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(s, 8)));
    }
}

/* Dense with SSE2: 16 weight bits at a time become byte masks in registers (three unpacks spread
 * each byte of the 16 bits over 8 lanes, AND with 1, 2, ..., 128 and compare), then AND with 16
 * input bytes and PSADBW; the last K % 16 pixels bit by bit (the input is the caller's buffer:
 * nothing past its K bytes is read). */
static void block_dense_sse2(const be_op *op, const uint8_t *x, uint32_t o0, uint32_t n, int32_t *acc)
{
    const uint32_t k = op->in_ch, cw = be_words_for(k), k16 = k / 16u * 16u, total = byte_sum(x, k);
    const __m128i sel = _mm_set_epi8((char)0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, (char)0x80, 0x40, 0x20,
                                     0x10, 0x08, 0x04, 0x02, 0x01);
    uint32_t i, j;
    for (i = 0; i < n; i++) {
        const be_word *w = (const be_word *)op->weights + (size_t)(o0 + i) * cw;
        __m128i sum = _mm_setzero_si128();
        uint32_t s;
        for (j = 0; j < k16; j += 16u) {
            __m128i m = _mm_cvtsi32_si128((int)((w[j / 32u] >> (j % 32u)) & 0xFFFFu));
            m = _mm_unpacklo_epi8(m, m);
            m = _mm_unpacklo_epi16(m, m);
            m = _mm_unpacklo_epi32(m, m); /* lanes 0-7: bits 0-7, lanes 8-15: bits 8-15 */
            m = _mm_cmpeq_epi8(_mm_and_si128(m, sel), sel);
            sum = _mm_add_epi64(sum, _mm_sad_epu8(_mm_and_si128(_mm_loadu_si128((const __m128i *)(x + j)), m),
                                                  _mm_setzero_si128()));
        }
        s = (uint32_t)_mm_cvtsi128_si32(sum) + (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
        if (k16 < k)
            s += masked_sum(x + k16, w[k16 / 32u] >> (k16 % 32u), k - k16);
        acc[i] = u8_acc(total, s);
    }
}
#endif

/* the stage of channels [o0, o0 + n) (n <= 32, not crossing a 32-channel word) */
static be_status put(const be_op *op, void *px_out, uint32_t o0, uint32_t n, const int32_t *acc, be_status st)
{
    const be_status s = be_stage_put_block(op, px_out, o0, n, acc);
    return s != BE_OK ? s : st;
}

/* Dense: every weight row is used once per call, so no stored masks (expanding them costs more
 * than the bit-by-bit sum): with SSE2 they are made in registers 16 bits at a time */
be_status be_dense_u8_scalar(const be_op *op, const void *in, void *out, void *scratch)
{
    int32_t acc[32];
    uint32_t o0;
    be_status st = BE_OK;
    (void)scratch;
    be_stage_clear(op, out);
    for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
        const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
#if defined(__SSE2__)
        block_dense_sse2(op, (const uint8_t *)in, o0, n, acc);
#else
        block_bits(op, (const uint8_t *)in, 1u, op->in_ch, o0, n, acc);
#endif
        st = put(op, out, o0, n, acc, st);
    }
    return st;
}

/* the receptive field of output pixel (oy, ox) into patch (K bytes, then zeros up to k16) */
static void im2col(const be_op *op, const uint8_t *in, uint32_t oy, uint32_t ox, uint8_t *patch, uint32_t k16)
{
    const be_value *vi = &op->in;
    const uint32_t c = vi->c, run = op->kw * c;
    const int32_t y0 = (int32_t)(oy * op->sh) - (int32_t)op->pt, x0 = (int32_t)(ox * op->sw) - (int32_t)op->pl;
    uint32_t ky, kx;
    for (ky = 0; ky < op->kh; ky++) { /* padding pixels 0 (format v1: zero point 0) */
        const int32_t iy = y0 + (int32_t)ky;
        uint8_t *dst = patch + (size_t)ky * run;
        for (kx = 0; kx < op->kw; kx++, dst += c) {
            const int32_t ix = x0 + (int32_t)kx;
            const uint8_t *src = iy >= 0 && iy < (int32_t)vi->h && ix >= 0 && ix < (int32_t)vi->w
                                     ? in + ((size_t)iy * vi->w + (size_t)ix) * c
                                     : NULL;
            uint32_t j;
            if (c >= 16u) { /* whole pixels: a library copy pays */
                if (src != NULL)
                    memcpy(dst, src, c);
                else
                    memset(dst, 0, c);
            } else {
                for (j = 0; j < c; j++)
                    dst[j] = src != NULL ? src[j] : 0u;
            }
        }
    }
    for (ky = op->kh * run; ky < k16; ky++)
        patch[ky] = 0u;
}

be_status be_conv2d_u8_scalar(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t c = op->in.c, taps = op->kh * op->kw, k = taps * c;
    uint8_t *patch = (uint8_t *)scratch; /* align16(2 K) bytes: the model's scratch of a u8 conv */
    int32_t acc[32];
    uint32_t oy, ox, o0, i;
    be_status st = BE_OK;
#if defined(__SSE2__)
    {
        const uint32_t k16 = (k + 15u) & ~15u, nb = mask_block(k16, op->out_ch);
        if (nb != 0u && k16 <= be_int8_scratch_bytes(op)) {
            uint8_t masks[BE_U8S_MASK_BYTES];
            for (o0 = 0; o0 < op->out_ch; o0 += nb) {
                const uint32_t nbb = op->out_ch - o0 < nb ? op->out_ch - o0 : nb;
                expand_masks(op, taps, c, o0, nbb, k16, masks);
                for (oy = 0; oy < vo->h; oy++)
                    for (ox = 0; ox < vo->w; ox++) {
                        uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                        im2col(op, (const uint8_t *)in, oy, ox, patch, k16);
                        if (o0 == 0u)
                            be_stage_clear(op, px_out);
                        for (i = 0; i < nbb; i += 32u) {
                            const uint32_t n = nbb - i < 32u ? nbb - i : 32u;
                            block_masks(patch, k, k16, masks + (size_t)i * k16, n, acc);
                            st = put(op, px_out, o0 + i, n, acc, st);
                        }
                    }
            }
            return st;
        }
    }
#endif
    for (oy = 0; oy < vo->h; oy++)
        for (ox = 0; ox < vo->w; ox++) {
            uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
            im2col(op, (const uint8_t *)in, oy, ox, patch, k);
            be_stage_clear(op, px_out);
            for (o0 = 0; o0 < op->out_ch; o0 += 32u) {
                const uint32_t n = op->out_ch - o0 < 32u ? op->out_ch - o0 : 32u;
                block_bits(op, patch, taps, c, o0, n, acc);
                st = put(op, px_out, o0, n, acc, st);
            }
        }
    return st;
}

#else
typedef int be_u8_scalar_unused; /* ISO C forbids an empty translation unit */
#endif
