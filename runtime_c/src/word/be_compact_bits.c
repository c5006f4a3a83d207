/* be_compact_bits.c -- compacted receptive fields for binary layers with C % 32 != 0 (the ARM
 * popcount driver and the ARM first-layer kernels).
 *
 * Stored, every tap of a C-channel pixel takes words(C) words (bit-planes: one group per plane),
 * so a 3x3 conv on 8 channels counts 288 bits for 72 logical ones. Compacted, the K = KH * KW * C
 * bits of a receptive field take words(K) words: the weights once per call, each output pixel's
 * field into the scratch (never larger than the stored patch). Two layouts: the stream (bit k of
 * the row is element k of the receptive field: be_compact_rows, for the first-layer kernels,
 * which pair weight bit k with pixel k) and the split layout below (the popcount driver:
 * be_split_rows / be_split_patch). Padding pixels are zero bits in both and the row's bits after
 * K are zero in x and w, so popcount(x XOR w), popcount(x AND w) and acc are unchanged.
 */
#include "be_bitformat.h"
#include "be_kernels.h"

void be_compact_rows(const be_op *op, uint32_t o0, uint32_t n, be_word *dst)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c), taps = op->kh * op->kw;
    const uint32_t rw = be_words_for(taps * c);
    const be_word *src = (const be_word *)op->weights + (size_t)o0 * taps * cw;
    uint32_t i, t, j;
    be_zero_words(dst, n * rw);
    for (i = 0; i < n; i++, dst += rw) {
        uint32_t pos = 0u; /* bit position of the tap in the compacted row */
        for (t = 0; t < taps; t++, src += cw) {
            for (j = 0; j < cw; j++, pos += 32u) {
                const uint32_t bits = src[j], sh = pos % 32u; /* padding bits of the tap are 0 */
                dst[pos / 32u] |= bits << sh;
                if (sh != 0u && pos / 32u + 1u < rw)
                    dst[pos / 32u + 1u] |= bits >> (32u - sh);
            }
            pos -= cw * 32u - c;
        }
    }
}

static const be_word zero_pixel[BE_COMPACT_MAX_CW]; /* const: in flash on a microcontroller */

/* ---- The split layout (the popcount driver: only popcount(x XOR w) and popcount(x AND w) are
 * taken, so any order of the bits serves, the same for x and w) ----
 * With T taps, cw words per pixel and `last` = C - 32 (cw - 1) bits in a pixel's last word: the
 * cw - 1 full words of every tap in tap order, then the `last` bits of every tap back to back (tap
 * t from bit t * last of word T (cw - 1)), zero up to the row's words(T * C) words: as many words
 * as the stream layout, but a pixel's full words are copied whole, and when `last` is a multiple
 * of 8 its bits are bytes (a 40-channel pixel: one word and one byte). */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE_SPLIT_BYTES 1 /* bit 8 i + b of a word stream is bit b of byte i */
#else
#define BE_SPLIT_BYTES 0
#endif
#if BE_SPLIT_BYTES && defined(__GNUC__)
typedef uint16_t split_half __attribute__((may_alias)); /* a halfword of the stream's words */
#define BE_SPLIT_HALVES 1
#else
#define BE_SPLIT_HALVES 0
#endif

/* The last-word bits of tap t, v (zero above `last`), into the stream at s (words). */
static void split_put(be_word *s, uint32_t t, uint32_t last, uint32_t v)
{
    const uint32_t pos = t * last, sh = pos % 32u;
    s[pos / 32u] |= v << sh;
    if (sh + last > 32u)
        s[pos / 32u + 1u] |= v >> (32u - sh);
}

void be_split_rows(const be_op *op, uint32_t o0, uint32_t n, be_word *dst)
{
    const uint32_t c = op->in_ch, cw = be_words_for(c), taps = op->kh * op->kw, last = c - 32u * (cw - 1u);
    const uint32_t rw = be_words_for(taps * c), full = taps * (cw - 1u);
    const be_word *src = (const be_word *)op->weights + (size_t)o0 * taps * cw;
    uint32_t i, t, j;
    be_zero_words(dst, n * rw);
    for (i = 0; i < n; i++, dst += rw)
        for (t = 0; t < taps; t++, src += cw) {
            for (j = 0; j + 1u < cw; j++)
                dst[t * (cw - 1u) + j] = src[j];
            split_put(dst + full, t, last, src[cw - 1u]);
        }
}

/* Writes one pixel's bits after another into a row of the split layout. */
typedef struct {
    be_word *full;   /* where the next tap's full words go */
    be_word *stream; /* the stream of the taps' last words */
    uint8_t *bytes;  /* byte_aligned: where the next tap's last bits go */
    uint32_t cw, last, t, byte_aligned;
} split_writer;

static inline void split_tap(split_writer *w, const be_word *src)
{
    uint32_t j, v = src[w->cw - 1u];
    for (j = 0; j + 1u < w->cw; j++)
        *w->full++ = src[j];
    if (!w->byte_aligned) {
        split_put(w->stream, w->t, w->last, v);
#if BE_SPLIT_HALVES
    } else if (w->last == 16u) { /* one STRH: the stream starts on a word, so halfwords align */
        *(split_half *)(void *)w->bytes = (uint16_t)v;
        w->bytes += 2;
#endif
    } else {
        for (j = 0; j < w->last; j += 8u, v >>= 8)
            *w->bytes++ = (uint8_t)v;
    }
    w->t++;
}

void be_split_patch(const be_op *op, const be_word *in, uint32_t oy, uint32_t ox, be_word *dst, uint32_t nw,
                    uint32_t px_words, uint32_t plane)
{
    const be_value *vi = &op->in;
    const uint32_t cw = vi->cw, last = vi->c - 32u * (cw - 1u), kw = op->kw, full = op->kh * kw * (cw - 1u);
    const size_t pitch = (size_t)vi->w * px_words;
    split_writer w;
    uint32_t ky, kx;
    int32_t y0, x0;
    w.full = dst;
    w.stream = dst + full;
    w.bytes = (uint8_t *)w.stream;
    w.cw = cw;
    w.last = last;
    w.t = 0u;
    w.byte_aligned = BE_SPLIT_BYTES && last % 8u == 0u && (BE_SPLIT_HALVES || last != 16u);
    be_zero_words(w.stream, nw - full); /* the stream's words (ORed into) and the row's tail */
    if (be_window_inside(op, oy, ox, &y0, &x0)) {
        const be_word *row = in + (size_t)y0 * pitch + (size_t)x0 * px_words + plane * cw;
        for (ky = 0; ky < op->kh; ky++, row += pitch)
            for (kx = 0; kx < kw; kx++)
                split_tap(&w, row + (size_t)kx * px_words);
        return;
    }
    for (ky = 0; ky < op->kh; ky++) {
        const int32_t iy = y0 + (int32_t)ky;
        const be_word *row = iy >= 0 && iy < (int32_t)vi->h ? in + (size_t)iy * pitch + plane * cw : NULL;
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = x0 + (int32_t)kx;
            split_tap(&w, row != NULL && ix >= 0 && ix < (int32_t)vi->w ? row + (size_t)ix * px_words : zero_pixel);
        }
    }
}
