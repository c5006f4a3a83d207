/* be_conv2d_planes_dsp.c -- "sad": binary Conv2d over unsigned bit-plane inputs (qrelu levels,
 * P = 2 .. 8 planes) with the DSP extension (Cortex-M4, M7, M33, M55): the levels as bytes and
 * USADA8, one instruction per four multiply-accumulates whatever P is.
 *
 * With weight bit b_i = 1 for -1, M = 2^P - 1 and a_i = M b_i, for every level x_i in [0, M]
 *     S = sum_i |x_i - a_i| = sum_{b_i = 0} x_i + sum_{b_i = 1} (M - x_i) = sum_i w_i x_i + M popcount(b),
 * the S = sum_p 2^p popcount(x_p XOR b) that the popcount kernels count one plane at a time
 * (be_arm.h, be_bin_tab.c), so acc = S - M popcount(b), exactly the reference's sum. USADA8 adds
 * four |x - a| byte terms to an accumulator.
 *
 * Per call: the input is converted once into a padded image of bytes (one per channel, C rounded
 * up to 4 with zero bytes; padding pixels are level 0, the contract's padding), then output
 * channels go in blocks whose weights, as bytes a_i, fit SAD_WEIGHT_BYTES; a block's pairs of
 * channels are interleaved by 16-byte steps so that one pointer walks a pair. Per output pixel
 * the receptive field is copied into a contiguous patch (KH runs of KW C4 bytes, zero after),
 * then per pair an assembly loop: LDM 4 words of the patch, and per channel LDM 4 weight words
 * and 4 USADA8: 11 instructions per 32 MACs plus the loop. On the Cortex-M55 Helium's VABAV adds
 * a vector's 16 |x - a| at once: two pairs (four channels) per patch vector, 12 instructions per
 * 64 MACs with the loop. Threshold stages (sign, unsigned
 * levels L <= 3) are applied to S directly (thresholds moved into the S domain once per
 * block); other stages go through be_stage_put_block with acc = S - M popcount(b).
 * docs/kernels.md "Bit-plane inputs as bytes" has the measurements.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP

#include <arm_acle.h>
#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>
#endif

#include "arm/be_arm.h"

#define SAD_IMAGE_BYTES 3072u  /* the padded input as bytes */
#define SAD_WEIGHT_BYTES 2304u /* a block of output channels' weights as bytes */
#define SAD_PATCH_BYTES 576u   /* one receptive field as bytes, rounded up to 16 */
#define SAD_LEVELS 3u          /* thresholds per channel applied in the S domain */

typedef struct {
    be_arm_padded pad; /* the padded image: pad.hp rows of pad.wp pixels */
    uint32_t c4;       /* bytes per pixel: C rounded up to 4 */
    uint32_t row;      /* bytes of one kernel row: KW C4 */
    uint32_t kb;       /* bytes of one receptive field: KH KW C4 */
    uint32_t k16;      /* kb rounded up to 16 */
    uint32_t block;    /* output channels per block: 32, 16, 8, 4 or 2 */
} sad_geometry;

static int geometry(const be_op *op, sad_geometry *g)
{
    uint32_t b;
    if (op->in.c == 0u || op->in.c > SAD_PATCH_BYTES || op->kh > SAD_PATCH_BYTES || op->kw > SAD_PATCH_BYTES)
        return 0;
    g->c4 = (op->in.c + 3u) & ~3u;
    if (!be_arm_padded_geometry(op, g->c4 / 4u, SAD_IMAGE_BYTES / 4u, &g->pad))
        return 0;
    g->row = op->kw * g->c4;
    g->kb = op->kh * g->row;
    g->k16 = (g->kb + 15u) & ~15u;
    if (g->k16 > SAD_PATCH_BYTES) /* kb <= k16 */
        return 0;
    for (b = 32u; b >= 2u && b * g->k16 > SAD_WEIGHT_BYTES; b /= 2u)
        ;
    g->block = b;
    return b >= 2u;
}

int be_conv2d_planes_dsp_supports(const be_op *op)
{
    sad_geometry g;
    return op->type == BE_OP_CONV2D && be_op_is_planes_binary(op) && op->in.planes >= 2u && op->groups <= 1u &&
           op->in.cw == be_words_for(op->in.c) && geometry(op, &g);
}

/* Where it goes first (before "tab" and the popcount kernels; docs/kernels.md, cortex-m4
 * instructions per MAC): 32 or more input channels (7 x 7 x 32: sad 0.681, dsp 0.891), and 16 to
 * 31 on maps of at most 64 output pixels, where "tab"'s tables serve few pixels, except where
 * "tab" reads an offset image (2 planes, 3x3, C <= 16: 7 x 7 x 16 -> 32 tab 0.531, sad 0.813;
 * without it tab 0.926). On 8 channels "tab" wins (conv8q2: tab 0.437, sad 1.399: the stage and
 * the patch cost as much per channel as a 72-byte field's counting). On the Cortex-M55 Helium's
 * popcount keeps 32 channels (mve 0.528, sad with VABAV 0.531). */
int be_conv2d_planes_dsp_first_supports(const be_op *op)
{
#ifdef BE_ARM_HAVE_MVE
    if (op->in.c >= 32u)
        return 0;
#endif
    if (op->in.c < 16u || (op->in.c < 32u && op->out.h * op->out.w > 64u) || be_conv2d_bin_tab_offsets(op))
        return 0;
    return be_conv2d_planes_dsp_supports(op);
}

/* 4 bits -> 4 bytes of 0 / 1 */
static const uint32_t spread4[16] = {
    0x00000000u, 0x00000001u, 0x00000100u, 0x00000101u, 0x00010000u, 0x00010001u, 0x00010100u, 0x00010101u,
    0x01000000u, 0x01000001u, 0x01000100u, 0x01000101u, 0x01010000u, 0x01010001u, 0x01010100u, 0x01010101u};

/* dst[0, n) = src[0, n), eight or four words per LDM / STM pair (picolibc's memcpy is a byte loop) */
static inline void copy_words(uint32_t *dst, const uint32_t *src, uint32_t n)
{
#if defined(BE_ARM_T2_ASM)
    for (; n >= 8u; n -= 8u)
        __asm__ volatile("ldmia %[s]!, {r4, r5, r6, r8, r9, r10, r11, r12}\n\t"
                         "stmia %[d]!, {r4, r5, r6, r8, r9, r10, r11, r12}\n\t"
                         : [s] "+r"(src), [d] "+r"(dst)
                         :
                         : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "memory");
    if (n >= 4u) {
        n -= 4u;
        __asm__ volatile("ldmia %[s]!, {r4, r5, r6, r8}\n\t"
                         "stmia %[d]!, {r4, r5, r6, r8}\n\t"
                         : [s] "+r"(src), [d] "+r"(dst)
                         :
                         : "r4", "r5", "r6", "r8", "memory");
    }
#endif
    for (; n > 0u; n--)
        *dst++ = *src++;
}

/* The padded image: row r holds input row r - pt, pixel p input column p - pl (level 0
 * outside the input), C4 bytes per pixel. */
static void convert_input(const be_op *op, const sad_geometry *g, const be_word *in, uint32_t *img)
{
    const be_value *vi = &op->in;
    const uint32_t planes = vi->planes, cw = vi->cw, px_words = planes * cw, groups = g->c4 / 4u;
    const uint32_t last = vi->c % 4u == 0u ? 15u : (1u << (vi->c % 4u)) - 1u;
    uint32_t r, px, j, p;
    for (r = 0; r < g->pad.hp; r++) {
        const int32_t iy = (int32_t)r - (int32_t)op->pt;
        for (px = 0; px < g->pad.wp; px++, img += groups) {
            const int32_t ix = (int32_t)px - (int32_t)op->pl;
            const be_word *src;
            if (iy < 0 || iy >= (int32_t)vi->h || ix < 0 || ix >= (int32_t)vi->w) {
                be_zero_words(img, groups);
                continue;
            }
            src = in + ((size_t)iy * vi->w + (size_t)ix) * px_words;
            for (j = 0; j < groups; j++) {
                const uint32_t ch = 4u * j, mask = j + 1u == groups ? last : 15u;
                uint32_t v = 0u;
                for (p = 0; p < planes; p++)
                    v += spread4[(src[p * cw + ch / 32u] >> (ch % 32u)) & mask] << p;
                img[j] = v;
            }
        }
    }
}

/* The weights of channels [o0, o0 + n) as bytes a_i = M b_i in receptive-field order (ky, kx,
 * channel; C4 bytes per tap), zero up to K16, pairs interleaved: pair q at dst + q K16 / 2 words,
 * its 16-byte steps alternating between the even and the odd channel. An odd n gets a zero
 * partner (its sum is computed and dropped). pw[i] = popcount of channel o0 + i's weight bits. */
static void expand_weights(const be_op *op, const sad_geometry *g, uint32_t o0, uint32_t n, uint32_t *dst,
                           uint32_t *pw)
{
    const uint32_t cw = op->in.cw, taps = op->kh * op->kw, top = (1u << op->in.planes) - 1u;
    const uint32_t words = g->k16 / 4u, groups = g->c4 / 4u, last = be_last_word_mask(op->in.c);
    const be_word *w = (const be_word *)op->weights;
    uint32_t bytes[16], chan[SAD_PATCH_BYTES / 4u], i, t, j;
    for (i = 0; i < 16u; i++)
        bytes[i] = spread4[i] * top; /* 4 weight bits -> 4 bytes of 0 / M */
    for (i = 0; i < n + n % 2u; i++) {
        const be_word *wo = w + (size_t)(o0 + (i < n ? i : 0u)) * taps * cw;
        uint32_t *q = chan, count = 0u;
        for (t = 0; t < taps; t++, wo += cw)
            for (j = 0; j < groups; j += 8u) { /* weight word j / 8 of tap t: up to 8 nibbles */
                uint32_t bits = i < n ? wo[j / 8u] & (j / 8u + 1u == cw ? last : ~0u) : 0u, k;
                const uint32_t end = groups - j < 8u ? groups - j : 8u;
                count += be_arm_popcount32(bits);
                for (k = 0; k < end; k++, bits >>= 4)
                    *q++ = bytes[bits & 15u];
            }
        while (q < chan + words)
            *q++ = 0u;
        if (i < n)
            pw[i] = count;
        { /* the channel's 16-byte steps into every other step of its pair */
            uint32_t *p = dst + (size_t)(i / 2u) * (words * 2u) + (i % 2u) * 4u;
            for (j = 0; j < words; j += 4u, p += 8)
                copy_words(p, chan + j, 4u);
        }
    }
}

/* One 16-byte step of the pair: 4 patch words, then 4 weight words and 4 USADA8 per channel. */
#define SAD_STEP                                                                                       \
    "ldmia %[x]!, {r4, r5, r6, r8}\n\t"                                                                \
    "ldmia %[a]!, {r9, r10, r11, r12}\n\t"                                                             \
    "usada8 %[s0], r4, r9, %[s0]\n\t"                                                                  \
    "usada8 %[s0], r5, r10, %[s0]\n\t"                                                                 \
    "usada8 %[s0], r6, r11, %[s0]\n\t"                                                                 \
    "usada8 %[s0], r8, r12, %[s0]\n\t"                                                                 \
    "ldmia %[a]!, {r9, r10, r11, r12}\n\t"                                                             \
    "usada8 %[s1], r4, r9, %[s1]\n\t"                                                                  \
    "usada8 %[s1], r5, r10, %[s1]\n\t"                                                                 \
    "usada8 %[s1], r6, r11, %[s1]\n\t"                                                                 \
    "usada8 %[s1], r8, r12, %[s1]\n\t"

/* sums[2q], sums[2q + 1] = S of pair q's even and odd channel for the `pairs` pairs whose
 * interleaved weights follow each other at a: `steps` 16-byte steps (>= 1) of the patch x each,
 * two per loop iteration after an odd one. */
static inline void sad_pairs(const uint32_t *x, const uint32_t *a, uint32_t steps, uint32_t pairs, uint32_t *sums)
{
#if defined(BE_ARM_HAVE_MVE)
    /* Helium: VABAV adds the 16 |x - a| of a vector to a scalar; two pairs (four channels) per
     * patch vector */
    const uint8_t *xb = (const uint8_t *)x, *ab = (const uint8_t *)a;
    for (; pairs >= 2u; pairs -= 2u, sums += 4, ab += 64u * steps) {
        const uint8_t *p = ab, *q = ab + 32u * steps, *xp = xb;
        uint32_t s0 = 0u, s1 = 0u, s2 = 0u, s3 = 0u, j;
        for (j = 0; j < steps; j++, p += 32, q += 32, xp += 16) {
            const uint8x16_t xv = vld1q_u8(xp);
            s0 = vabavq_u8(s0, xv, vld1q_u8(p));
            s1 = vabavq_u8(s1, xv, vld1q_u8(p + 16));
            s2 = vabavq_u8(s2, xv, vld1q_u8(q));
            s3 = vabavq_u8(s3, xv, vld1q_u8(q + 16));
        }
        sums[0] = s0;
        sums[1] = s1;
        sums[2] = s2;
        sums[3] = s3;
    }
    if (pairs != 0u) {
        const uint8_t *p = ab, *xp = xb;
        uint32_t s0 = 0u, s1 = 0u, j;
        for (j = 0; j < steps; j++, p += 32, xp += 16) {
            const uint8x16_t xv = vld1q_u8(xp);
            s0 = vabavq_u8(s0, xv, vld1q_u8(p));
            s1 = vabavq_u8(s1, xv, vld1q_u8(p + 16));
        }
        sums[0] = s0;
        sums[1] = s1;
    }
#elif defined(BE_ARM_T2_ASM)
    const uint32_t twos = steps / 2u;
    if (steps % 2u != 0u) {
        for (; pairs > 0u; pairs--, sums += 2) {
            const uint32_t *xp = x;
            uint32_t acc0 = 0u, acc1 = 0u, left = twos;
            __asm__ volatile(SAD_STEP
                             "cmp %[n], #0\n\t"
                             "beq 2f\n\t"
                             "1:\n\t" SAD_STEP SAD_STEP "subs %[n], %[n], #1\n\t"
                             "bne 1b\n\t"
                             "2:\n\t"
                             : [x] "+r"(xp), [a] "+r"(a), [s0] "+r"(acc0), [s1] "+r"(acc1), [n] "+r"(left)
                             :
                             : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
            sums[0] = acc0;
            sums[1] = acc1;
        }
        return;
    }
    for (; pairs > 0u; pairs--, sums += 2) {
        const uint32_t *xp = x;
        uint32_t acc0 = 0u, acc1 = 0u, left = twos;
        __asm__ volatile("1:\n\t" SAD_STEP SAD_STEP "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         : [x] "+r"(xp), [a] "+r"(a), [s0] "+r"(acc0), [s1] "+r"(acc1), [n] "+r"(left)
                         :
                         : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
        sums[0] = acc0;
        sums[1] = acc1;
    }
#else
    for (; pairs > 0u; pairs--, sums += 2) {
        const uint32_t *xp = x;
        uint32_t acc0 = 0u, acc1 = 0u, left;
        for (left = steps; left > 0u; left--, xp += 4, a += 8) {
            acc0 = __usada8(xp[0], a[0], acc0);
            acc0 = __usada8(xp[1], a[1], acc0);
            acc0 = __usada8(xp[2], a[2], acc0);
            acc0 = __usada8(xp[3], a[3], acc0);
            acc1 = __usada8(xp[0], a[4], acc1);
            acc1 = __usada8(xp[1], a[5], acc1);
            acc1 = __usada8(xp[2], a[6], acc1);
            acc1 = __usada8(xp[3], a[7], acc1);
        }
        sums[0] = acc0;
        sums[1] = acc1;
    }
#endif
}

/* A threshold stage in the S domain. With acc = S - M pw and x = direction * acc, "x >= T_k" is
 * S >= V_k with V_k = T_k + M pw (direction +1), and NOT S >= V_k with V_k = M pw - T_k + 1
 * (direction -1). S lies in [0, M K] (< 2^31), so V_k is clamped to [0, M K + 1] (in 64 bits: T_k
 * is any int32). For direction -1, "S < V" is "~S >= -V" in signed 32-bit arithmetic (~S = -S -
 * 1; V = 0 gives 0, which no ~S reaches). Both become one unsigned compare after flipping the
 * sign bits: the level is #{k : (S XOR m) >= U_k} with m = 0x80000000 (+1) or 0x7FFFFFFF (-1),
 * U_k = V_k or -V_k, XOR 0x80000000. Unused levels get U = 0xFFFFFFFF, which no S XOR m reaches
 * (that would need S = 0x7FFFFFFF or S = 0x80000000, both above M K). Per channel: U_0 .. U_2, m. */
typedef struct {
    uint32_t c[32][SAD_LEVELS + 1u];
} sad_stage;

static int stage_in_s(const be_op *op)
{
    return op->stage == BE_STAGE_THRESHOLD &&
           ((op->encoding == BE_ENC_SIGN && op->levels == 1u) ||
            (op->encoding == BE_ENC_UNSIGNED && op->levels >= 1u && op->levels <= SAD_LEVELS && op->out.planes <= 2u));
}

static void prepare_stage(const be_op *op, uint32_t o0, uint32_t n, const uint32_t *pw, sad_stage *sg)
{
    const int8_t *dir = (const int8_t *)op->stage_a;
    const int32_t *t = (const int32_t *)op->stage_b;
    const uint32_t levels = op->levels, top = (1u << op->in.planes) - 1u;
    const int64_t smax = (int64_t)top * (int64_t)op->k;
    uint32_t i, k;
    for (i = 0; i < n; i++) {
        const int64_t mpw = (int64_t)top * (int64_t)pw[i];
        const int up = dir[o0 + i] >= 0;
        uint32_t *c = sg->c[i];
        for (k = 0; k < SAD_LEVELS; k++) {
            int64_t v;
            if (k >= levels) {
                c[k] = 0xFFFFFFFFu;
                continue;
            }
            v = (int64_t)t[(size_t)(o0 + i) * levels + k];
            v = up ? v + mpw : mpw - v + 1;
            v = v < 0 ? 0 : v > smax + 1 ? smax + 1 : v;
            c[k] = (up ? (uint32_t)v : 0u - (uint32_t)v) ^ 0x80000000u;
        }
        c[SAD_LEVELS] = up ? 0x80000000u : 0x7FFFFFFFu;
    }
}

/* level = #{k : (s XOR m) >= U_k}: one unsigned compare and one add-with-carry per level */
static inline uint32_t level_of(uint32_t s, const uint32_t *c)
{
#if defined(BE_ARM_T2_ASM)
    uint32_t g, x;
    __asm__("eor %[x], %[s], %[m]\n\t"
            "movs %[g], #0\n\t"
            "cmp %[x], %[u0]\n\t"
            "adc %[g], %[g], #0\n\t"
            "cmp %[x], %[u1]\n\t"
            "adc %[g], %[g], #0\n\t"
            "cmp %[x], %[u2]\n\t"
            "adc %[g], %[g], #0\n\t"
            : [g] "=&r"(g), [x] "=&r"(x)
            : [s] "r"(s), [m] "r"(c[3]), [u0] "r"(c[0]), [u1] "r"(c[1]), [u2] "r"(c[2])
            : "cc");
    return g;
#else
    const uint32_t x = s ^ c[3];
    return (uint32_t)(x >= c[0]) + (uint32_t)(x >= c[1]) + (uint32_t)(x >= c[2]);
#endif
}

/* The block's output bits of one pixel from its sums: channels [o0, o0 + n), within one word.
 * Each channel's level bits enter at bit 31 and move down one per channel. */
static inline void put_stage(const be_op *op, const sad_stage *sg, uint32_t o0, uint32_t n, const uint32_t *sums,
                             be_word *px)
{
    const uint32_t w = o0 / 32u, sh = o0 % 32u;
    const uint32_t(*c)[SAD_LEVELS + 1u] = sg->c;
    uint32_t b0 = 0u, b1 = 0u, i;
    for (i = 0; i < n; i++) {
        const uint32_t level = level_of(sums[i], c[i]);
        b0 = (level << 31) | (b0 >> 1);
        b1 = ((level >> 1) << 31) | (b1 >> 1);
    }
    b0 >>= 32u - n; /* n >= 1 */
    b1 >>= 32u - n;
    if (op->encoding == BE_ENC_SIGN) { /* level 0: bit 1 (-1) */
        px[w] |= (b0 ^ (n == 32u ? ~0u : (1u << n) - 1u)) << sh;
        return;
    }
    px[w] |= b0 << sh;
    if (op->out.planes > 1u)
        px[op->out.cw + w] |= b1 << sh;
}

be_status be_conv2d_planes_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t top = (1u << op->in.planes) - 1u;
    const int in_s = stage_in_s(op);
    uint32_t image[SAD_IMAGE_BYTES / 4u], weights[SAD_WEIGHT_BYTES / 4u], patch[SAD_PATCH_BYTES / 4u];
    uint32_t pw[32], sums[32];
    int32_t acc[32];
    sad_stage sg;
    sad_geometry g;
    uint32_t o0, oy, ox, ky, i;
    be_status st = BE_OK;
    (void)scratch;
    if (!geometry(op, &g))
        return BE_ERR_UNSUPPORTED;
    convert_input(op, &g, (const be_word *)in, image);
    for (i = 0; i < vo->h * vo->w; i++)
        be_stage_clear(op, (uint8_t *)out + (size_t)i * vo->pixel_bytes);
    be_zero_words(patch + g.kb / 4u, (g.k16 - g.kb) / 4u); /* the patch's tail stays zero: |0 - 0| = 0 */
    for (o0 = 0; o0 < op->out_ch; o0 += g.block) {
        const uint32_t n = op->out_ch - o0 < g.block ? op->out_ch - o0 : g.block;
        const uint32_t img_row = g.pad.wp * g.c4 / 4u, row_words = g.row / 4u, steps = g.k16 / 16u;
        expand_weights(op, &g, o0, n, weights, pw);
        if (in_s)
            prepare_stage(op, o0, n, pw, &sg);
        for (oy = 0; oy < vo->h; oy++) {
            const uint32_t *rows = image + (size_t)oy * op->sh * img_row;
            for (ox = 0; ox < vo->w; ox++) {
                const uint32_t *src = rows + (size_t)ox * op->sw * (g.c4 / 4u);
                void *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                for (ky = 0; ky < op->kh; ky++, src += img_row)
                    copy_words(patch + ky * row_words, src, row_words);
                sad_pairs(patch, weights, steps, (n + 1u) / 2u, sums);
                if (in_s) {
                    put_stage(op, &sg, o0, n, sums, (be_word *)px_out);
                } else {
                    be_status s;
                    for (i = 0; i < n; i++)
                        acc[i] = (int32_t)(sums[i] - top * pw[i]);
                    s = be_stage_put_block(op, px_out, o0, n, acc);
                    if (s != BE_OK)
                        st = s;
                }
            }
        }
    }
    return st;
}

#else
typedef int be_conv2d_planes_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
