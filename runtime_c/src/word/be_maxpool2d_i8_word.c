/* be_maxpool2d_i8_word.c -- "word": MaxPool2d on u8 / i8 codes (portable C, every target).
 *
 * The maximum of the codes of each channel's window (their scale is positive: the largest code is
 * the largest real value). The reference decodes every code through the kind test into int64 and
 * re-encodes it; this compares bytes of one kind directly, a 2 x 2 window (the usual down-sampling)
 * in one expression. The input may be the graph input at any address: bytes only.
 */
#include "be_ew.h"

int be_maxpool2d_i8_word_supports(const be_op *op)
{
    return op->in.kind == BE_KIND_U8 || op->in.kind == BE_KIND_I8;
}

#define MAX2(a, b) ((a) > (b) ? (a) : (b))

#define POOL_LOOP(T)                                                                                              \
    do {                                                                                                          \
        const T *src = (const T *)in;                                                                             \
        T *y = (T *)out;                                                                                          \
        for (oy = 0; oy < vo->h; oy++) {                                                                          \
            for (ox = 0; ox < vo->w; ox++) {                                                                      \
                const T *p = src + (size_t)oy * op->sh * rp + (size_t)ox * op->sw * cs;                           \
                if (k22) {                                                                                        \
                    for (c = 0; c < cs; c++, y++, p++) {                                                          \
                        const T a = MAX2(p[0], p[cs]), b = MAX2(p[rp], p[rp + cs]);                               \
                        *y = MAX2(a, b);                                                                          \
                    }                                                                                             \
                    continue;                                                                                     \
                }                                                                                                 \
                for (c = 0; c < cs; c++, y++, p++) {                                                              \
                    const T *q = p;                                                                               \
                    T best = *p;                                                                                  \
                    for (ky = 0; ky < op->kh; ky++, q += rp)                                                      \
                        for (kx = 0; kx < op->kw; kx++)                                                           \
                            best = MAX2(best, q[(size_t)kx * cs]);                                                \
                    *y = best;                                                                                    \
                }                                                                                                 \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

be_status be_maxpool2d_i8_word(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const size_t cs = vi->c, rp = (size_t)vi->w * vi->c;
    const int k22 = op->kh == 2u && op->kw == 2u;
    uint32_t oy, ox, ky, kx;
    size_t c;
    (void)scratch;
    if (vi->kind == BE_KIND_I8)
        POOL_LOOP(int8_t);
    else
        POOL_LOOP(uint8_t);
    return BE_OK;
}
