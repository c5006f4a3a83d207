/* be_u8_nib.c -- "nib": Conv2d on uint8 pixels x binary weights (the first layer of a CNN) of
 * any kernel size, plain C for every ARM core, with nibble subset-sum tables.
 *
 * s_o = sum of the pixels whose weight bit is 1 (acc_o = total - 2 s_o, be_arm_u8.h). For 4
 * consecutive pixels x_0..x_3 of the receptive field a table T[m] = sum_{j: bit j of m} x_j
 * (16 uint16 entries, each <= 1020) turns 4 weight bits of a row into one load. "lut" does the
 * same with 8 pixels per table (256 entries); a Dense builds its tables once per inference, but
 * a Conv2d needs new ones at every output pixel, and there 16 entries per 4 pixels cost about
 * a sixth of 256 per 8 while the lookups cost about the same per pixel:
 *
 *   per output pixel: the receptive field to the scratch (im2col, K bytes)
 *     for each chunk of CHUNK pixels: build CHUNK / 4 tables (8 words each: T[2i] | T[2i+1] << 16)
 *       for each row: s += one table entry per weight nibble (shift, mask, load, add)
 *
 * The total is the sum of the tables' last entries (T[15] = x_0 + x_1 + x_2 + x_3). Rows are the
 * weights as stored when C % 32 == 0, else compacted (be_compact_rows) into a stack
 * buffer in blocks. Stack: 512 B of tables + 4 * ROWS + the row buffer. Exact: uint32 sums of
 * uint16 entries. It takes the convolutions "mla" cannot (K > 64 on the Cortex-M0, K > 256
 * elsewhere); docs/kernels.md has the measurements.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include <string.h>

#include "arm/be_arm_u8.h"

#define CHUNK 64u /* pixels per chunk: 16 tables of 8 words, two weight words per row */
#define ROWS 64u  /* rows whose sums are kept at once */

int be_conv2d_u8_nib_supports(const be_op *op)
{
    return op->type == BE_OP_CONV2D && be_arm_u8_supports(op) &&
           (op->in_ch % 32u == 0u || be_words_for(op->kh * op->kw * op->in_ch) <= BE_ARM_U8_ROWBUF_WORDS);
}

/* The table of pixels x[0..3] as 8 words P[i] = T[2i] | T[2i + 1] << 16 (T[2i + 1] = T[2i] + x0):
 * the halves never carry (T <= 1020). */
static inline void build(uint32_t *p, const uint8_t *x)
{
    const uint32_t a = (uint32_t)x[0] << 16, b = x[1] * 0x10001u, c = x[2] * 0x10001u, d = x[3] * 0x10001u;
    const uint32_t ab = a + b, ac = a + c, abc = ab + c;
    p[0] = a;
    p[1] = ab;
    p[2] = ac;
    p[3] = abc;
    p[4] = a + d;
    p[5] = ab + d;
    p[6] = ac + d;
    p[7] = abc + d;
}

/* sum of the entries that the 8 nibbles of v select in 8 consecutive tables t (32 bytes each) */
static inline uint32_t look8(const uint8_t *t, uint32_t v)
{
    return (uint32_t) * (const be_arm_u16a *)(const void *)(t + ((v << 1) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 32u + ((v >> 3) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 64u + ((v >> 7) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 96u + ((v >> 11) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 128u + ((v >> 15) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 160u + ((v >> 19) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 192u + ((v >> 23) & 0x1Eu)) +
           *(const be_arm_u16a *)(const void *)(t + 224u + ((v >> 27) & 0x1Eu));
}

/* s[o] += the entries that words w[o * rw + j], j < words (1 or 2), select in the 8 tables of
 * 32 bytes from t + 256 j; o < n (n >= 1). */
static void look_rows(const uint8_t *t, const be_word *w, uint32_t rw, uint32_t words, uint32_t *s, uint32_t n)
{
#ifdef BE_ARM_T1_ASM
    /* Thumb-1, 5 instructions per nibble: shift, mask, step the table base, LDRH, add */
#define NIB0 "lsls %[x], %[v], #1\n\tands %[x], %[m]\n\tldrh %[x], [%[tb], %[x]]\n\tadds %[a], %[x]\n\t"
#define NIB(sh)                                                                                \
    "lsrs %[x], %[v], #" #sh "\n\tands %[x], %[m]\n\tadds %[tb], #32\n\t"                   \
    "ldrh %[x], [%[tb], %[x]]\n\tadds %[a], %[x]\n\t"
#define WORD NIB0 NIB(3) NIB(7) NIB(11) NIB(15) NIB(19) NIB(23) NIB(27)
    register const uint8_t *tb __asm__("r0");
    register const be_word *wp __asm__("r1") = w;
    register uint32_t *sp_ __asm__("r2") = s;
    register uint32_t v __asm__("r3"), x __asm__("r4"), a __asm__("r5");
    register uint32_t m __asm__("r6") = 0x1Eu;
    register uint32_t *end __asm__("r8") = s + n;
    register uint32_t step __asm__("r9") = rw * 4u;
    register const uint8_t *t0 __asm__("r10") = t;
    if (words == 2u)
        __asm__ volatile(".syntax unified\n"
                         "1:\n\t"
                         "mov %[tb], %[t0]\n\t"
                         "ldr %[a], [%[s]]\n\t"
                         "ldr %[v], [%[w]]\n\t" WORD
                         "adds %[tb], #32\n\t"
                         "ldr %[v], [%[w], #4]\n\t" WORD
                         "stmia %[s]!, {%[a]}\n\t"
                         "add %[w], %[step]\n\t"
                         "cmp %[s], %[end]\n\t"
                         "bne 1b\n\t"
                         : [tb] "=&l"(tb), [w] "+l"(wp), [s] "+l"(sp_), [v] "=&l"(v), [x] "=&l"(x), [a] "=&l"(a)
                         : [m] "l"(m), [end] "h"(end), [step] "h"(step), [t0] "h"(t0)
                         : "cc", "memory");
    else
        __asm__ volatile(".syntax unified\n"
                         "1:\n\t"
                         "mov %[tb], %[t0]\n\t"
                         "ldr %[a], [%[s]]\n\t"
                         "ldr %[v], [%[w]]\n\t" WORD
                         "stmia %[s]!, {%[a]}\n\t"
                         "add %[w], %[step]\n\t"
                         "cmp %[s], %[end]\n\t"
                         "bne 1b\n\t"
                         : [tb] "=&l"(tb), [w] "+l"(wp), [s] "+l"(sp_), [v] "=&l"(v), [x] "=&l"(x), [a] "=&l"(a)
                         : [m] "l"(m), [end] "h"(end), [step] "h"(step), [t0] "h"(t0)
                         : "cc", "memory");
#undef NIB0
#undef NIB
#undef WORD
#else
    uint32_t o;
    for (o = 0; o < n; o++, w += rw) {
        uint32_t v = look8(t, w[0]);
        if (words == 2u)
            v += look8(t + 256u, w[1]);
        s[o] += v;
    }
#endif
}

/* Rows [0, n) of `rows` (rw words each, K-bit rows, padding bits 0) against the k pixels at px,
 * stored as output channels [o_first, o_first + n) of out (cleared by the caller). */
static be_status nib_rows(const be_op *op, const uint8_t *px, uint32_t k, const be_word *rows, uint32_t rw,
                          uint32_t o_first, uint32_t n, void *out)
{
    uint32_t tab[CHUNK / 4u * 8u];
    uint32_t s[ROWS];
    int32_t acc[32];
    uint32_t total = 0u, r0, o, c, i;
    be_status st = BE_OK;
    for (r0 = 0; r0 < n; r0 += ROWS) {
        const uint32_t nb = n - r0 < ROWS ? n - r0 : ROWS;
        const be_word *wb = rows + (size_t)r0 * rw;
        memset(s, 0, (size_t)nb * 4u);
        for (c = 0; c * CHUNK < k; c++) {
            const uint32_t first = c * CHUNK, words = rw - 2u * c < 2u ? 1u : 2u;
            for (i = 0; i < 8u * words && first + 4u * i < k; i++) {
                const uint32_t at = first + 4u * i;
                if (at + 4u <= k) {
                    build(tab + 8u * i, px + at);
                } else { /* the last pixels: zeros after K */
                    uint8_t x4[4] = {0u, 0u, 0u, 0u};
                    memcpy(x4, px + at, k - at);
                    build(tab + 8u * i, x4);
                }
                if (r0 == 0u)
                    total += tab[8u * i + 7u] >> 16;
            }
            for (; i < 8u * words; i++) /* tables past K: their weight bits are 0 (entry 0) */
                tab[8u * i] = 0u;
            look_rows((const uint8_t *)tab, wb + 2u * c, rw, words, s, nb);
        }
        /* the output stage in runs that stay inside one 32-channel word (be_stage_put_block) */
        for (o = 0; o < nb;) {
            const uint32_t at = o_first + r0 + o, room = 32u - at % 32u;
            const uint32_t m = nb - o < room ? nb - o : room;
            be_status r;
            for (i = 0; i < m; i++)
                acc[i] = be_arm_u8_acc(total, s[o + i]);
            r = be_stage_put_block(op, out, at, m, acc);
            if (r != BE_OK)
                st = r;
            o += m;
        }
    }
    return st;
}

be_status be_conv2d_u8_nib(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vo = &op->out;
    const uint32_t k = op->kh * op->kw * op->in_ch, rw = be_words_for(k), nout = op->out_ch;
    const int stored = op->in_ch % 32u == 0u;
    const uint32_t per = stored ? nout : BE_ARM_U8_ROWBUF_WORDS / rw; /* rows per block, >= 1 */
    uint8_t *patch = (uint8_t *)scratch;                               /* K bytes: the model's patch */
    be_word rowbuf[BE_ARM_U8_ROWBUF_WORDS];
    uint32_t o0, oy, ox;
    be_status st = BE_OK;
    for (o0 = 0; o0 < nout; o0 += per) {
        const uint32_t nb = nout - o0 < per ? nout - o0 : per;
        const be_word *rows = (const be_word *)op->weights + (size_t)o0 * rw;
        if (!stored) {
            be_compact_rows(op, o0, nb, rowbuf);
            rows = rowbuf;
        }
        for (oy = 0; oy < vo->h; oy++)
            for (ox = 0; ox < vo->w; ox++) {
                uint8_t *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status r;
                if (o0 == 0u)
                    be_stage_clear(op, px_out);
                be_arm_u8_im2col(op, (const uint8_t *)in, oy, ox, patch);
                r = nib_rows(op, patch, k, rows, rw, o0, nb, px_out);
                if (r != BE_OK)
                    st = r;
            }
    }
    return st;
}

#else
typedef int be_u8_nib_unused; /* ISO C forbids an empty translation unit */
#endif
