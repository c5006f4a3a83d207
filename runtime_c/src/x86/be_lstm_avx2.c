/* be_lstm_avx2.c -- LSTM, AVX2: the binary x int8 dot products 32 codes per step.
 *
 * A weight word becomes a byte mask (broadcast, vpshufb byte k / 8 to lane k, AND with bit k % 8,
 * compare), vpsignb negates the codes whose bit is 1, vpmaddubsw with ones adds neighbours into
 * int16 lanes (|lane| <= 254 per word: 128 words fit int16), and one vpmaddwd + horizontal sum
 * per row gives the exact int32. The four gate rows of a cell share every code load. The codes
 * (the state h, and p for an int8 input) are first copied to zero-padded stack buffers of
 * words * 32 bytes: H and I up to 4096 (longer rows fall through to "word" / "ref"). The rest
 * of the step is be_lstm.h's, exactly as the reference.
 */
#if defined(__x86_64__) || defined(__i386__)

#include "be_x86_avx2.h"
#include "be_lstm.h"

#define MAX_WORDS 128u

int be_lstm_avx2_supports(const be_op *op)
{
    return op->type == BE_OP_LSTM && be_words_for(op->out_ch) <= MAX_WORDS &&
           (be_lstm_onehot(op) || be_words_for(op->in_ch) <= MAX_WORDS);
}

/* -1 in byte k where bit k of w is 1, +1 elsewhere */
BE_X86_AVX2 static inline __m256i signs(uint32_t w)
{
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                          3, 3, 3, 3, 3, 3);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)w), shuf), bits);
    return _mm256_or_si256(_mm256_cmpeq_epi8(v, bits), _mm256_set1_epi8(1));
}

BE_X86_AVX2 static inline int32_t hsum16(__m256i acc16)
{
    const __m256i s = _mm256_madd_epi16(acc16, _mm256_set1_epi16(1));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

/* The four dot products of rows r0, r0 + step, r0 + 2 step, r0 + 3 step (cw words each) with the
 * padded codes x. */
BE_X86_AVX2 static void dot4(const be_word *w, size_t r0, size_t step, uint32_t cw, const int8_t *x, int32_t acc[4])
{
    const __m256i ones = _mm256_set1_epi8(1);
    const be_word *w0 = w + r0 * cw, *w1 = w0 + step * cw, *w2 = w1 + step * cw, *w3 = w2 + step * cw;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    uint32_t j;
    for (j = 0; j < cw; j++) {
        const __m256i xv = _mm256_load_si256((const __m256i *)(const void *)(x + 32u * j));
        a0 = _mm256_add_epi16(a0, _mm256_maddubs_epi16(ones, _mm256_sign_epi8(xv, signs(w0[j]))));
        a1 = _mm256_add_epi16(a1, _mm256_maddubs_epi16(ones, _mm256_sign_epi8(xv, signs(w1[j]))));
        a2 = _mm256_add_epi16(a2, _mm256_maddubs_epi16(ones, _mm256_sign_epi8(xv, signs(w2[j]))));
        a3 = _mm256_add_epi16(a3, _mm256_maddubs_epi16(ones, _mm256_sign_epi8(xv, signs(w3[j]))));
    }
    acc[0] = hsum16(a0);
    acc[1] = hsum16(a1);
    acc[2] = hsum16(a2);
    acc[3] = hsum16(a3);
}

static void pad_copy(int8_t *dst, const int8_t *src, uint32_t n)
{
    const uint32_t padded = be_words_for(n) * 32u;
    uint32_t k;
    for (k = 0; k < n; k++)
        dst[k] = src[k];
    for (; k < padded; k++)
        dst[k] = 0;
}

BE_X86_AVX2 be_status be_lstm_avx2(const be_op *op, const void *in, void *out, void *scratch)
{
    __m256i hbuf[MAX_WORDS], pbuf[MAX_WORDS]; /* 32 codes per weight word, zero padded */
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
typedef int be_lstm_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
