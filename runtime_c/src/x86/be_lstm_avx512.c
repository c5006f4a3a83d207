/* be_lstm_avx512.c -- LSTM, AVX-512 (F + BW): the binary x int8 dot products 64 codes per step.
 *
 * Two weight words are a 64-bit mask register as they are: a masked byte subtraction from zero
 * (vpsubb with a write mask) negates the codes whose bit is 1, vpmaddubsw with ones adds
 * neighbours into int16 lanes (|lane| <= 254 per step: 128 steps fit int16), and one vpmaddwd +
 * reduction per row gives the exact int32. The four gate rows of a cell share every code load.
 * A row with an odd number of words reads its last one alone (never past the tensor). The codes
 * (the state h, and p for an int8 input) are first copied to zero-padded stack buffers of
 * 64-code blocks: H and I up to 4096 (longer rows fall through to "avx2", "word", "ref"). The
 * rest of the step is be_lstm.h's, exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include <string.h>

#include "be_x86_avx512.h"
#include "be_lstm.h"

#define MAX_WORDS 128u

int be_lstm_avx512_supports(const be_op *op)
{
    return op->type == BE_OP_LSTM && be_words_for(op->out_ch) <= MAX_WORDS &&
           (be_lstm_onehot(op) || be_words_for(op->in_ch) <= MAX_WORDS);
}

/* Bits 2 s .. 2 s + 63 of a row of cw words. */
static inline uint64_t mask_at(const be_word *row, uint32_t j, uint32_t cw)
{
    return j + 1u < cw ? (uint64_t)row[j] | ((uint64_t)row[j + 1u] << 32) : (uint64_t)row[j];
}

/* The four dot products of rows r0 + i step (cw words each) with the padded codes x. */
BE_X86_AVX512 static void dot4(const be_word *w, size_t r0, size_t step, uint32_t cw, const int8_t *x, int32_t acc[4])
{
    const __m512i ones = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
    const be_word *w0 = w + r0 * cw, *w1 = w0 + step * cw, *w2 = w1 + step * cw, *w3 = w2 + step * cw;
    __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    uint32_t j;
    for (j = 0; j < cw; j += 2u) {
        const __m512i xv = _mm512_load_si512((const void *)(x + 32u * j));
        a0 = _mm512_add_epi16(a0, _mm512_maddubs_epi16(ones, _mm512_mask_sub_epi8(xv, mask_at(w0, j, cw), zero, xv)));
        a1 = _mm512_add_epi16(a1, _mm512_maddubs_epi16(ones, _mm512_mask_sub_epi8(xv, mask_at(w1, j, cw), zero, xv)));
        a2 = _mm512_add_epi16(a2, _mm512_maddubs_epi16(ones, _mm512_mask_sub_epi8(xv, mask_at(w2, j, cw), zero, xv)));
        a3 = _mm512_add_epi16(a3, _mm512_maddubs_epi16(ones, _mm512_mask_sub_epi8(xv, mask_at(w3, j, cw), zero, xv)));
    }
    acc[0] = _mm512_reduce_add_epi32(_mm512_madd_epi16(a0, _mm512_set1_epi16(1)));
    acc[1] = _mm512_reduce_add_epi32(_mm512_madd_epi16(a1, _mm512_set1_epi16(1)));
    acc[2] = _mm512_reduce_add_epi32(_mm512_madd_epi16(a2, _mm512_set1_epi16(1)));
    acc[3] = _mm512_reduce_add_epi32(_mm512_madd_epi16(a3, _mm512_set1_epi16(1)));
}

/* n codes into dst, zero padded to whole 64-code blocks */
static void pad_copy(int8_t *dst, const int8_t *src, uint32_t n)
{
    const uint32_t padded = (be_words_for(n) + 1u) / 2u * 64u;
    memcpy(dst, src, n);
    memset(dst + n, 0, padded - n);
}

BE_X86_AVX512 be_status be_lstm_avx512(const be_op *op, const void *in, void *out, void *scratch)
{
    __m512i hbuf[MAX_WORDS / 2u], pbuf[MAX_WORDS / 2u]; /* 64 codes per two weight words, zero padded */
    be_lstm_step s;
    uint32_t c;
    const be_status st = be_lstm_step_init(&s, op, in, out, scratch);
    if (st != BE_OK)
        return st;
    pad_copy((int8_t *)(void *)hbuf, s.h, s.hid);
    if (!s.onehot)
        pad_copy((int8_t *)(void *)pbuf, (const int8_t *)in, s.n_in);
    for (c = 0; c < s.hid; c++) {
        int32_t ah[4], ax[4] = {0, 0, 0, 0};
        dot4(s.wh, c, s.hid, s.cwh, (const int8_t *)(const void *)hbuf, ah);
        if (!s.onehot)
            dot4(s.wx, c, s.hid, s.cwx, (const int8_t *)(const void *)pbuf, ax);
        be_lstm_finish_cell(&s, c, ah, ax);
    }
    be_lstm_copy_h(s.h, s.hout, s.hid);
    return BE_OK;
}

#else
typedef int be_lstm_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
