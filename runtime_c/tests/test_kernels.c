/* test_kernels.c -- the reference dot product against a naive sum of products. */
#include <stdint.h>
#include <string.h>

#include "be_bitformat.h"
#include "be_kernels.h"
#include "be_test.h"

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* The rounding rule of docs/graph.md at its edges, against values worked out by hand: halves go
 * up (2.5 -> 3, -2.5 -> -2, -0.5 -> 0), shifts 0 / 1 / 62, saturation, and s = 0 within 128 of
 * 2^63, where zero point + v would overflow if added before the clamp. */
static void test_rounding_rule(void)
{
    const int64_t max63 = 0x7FFFFFFFFFFFFFFFll;
    CHECK_EQ(be_rshift_round(5, 1), 3);
    CHECK_EQ(be_rshift_round(-5, 1), -2);
    CHECK_EQ(be_rshift_round(-1, 1), 0);
    CHECK_EQ(be_rshift_round(1, 1), 1);
    CHECK_EQ(be_rshift_round(-3, 1), -1);
    CHECK_EQ(be_rshift_round(-7, 2), -2); /* -1.75 -> -2 */
    CHECK_EQ(be_rshift_round(-6, 2), -1); /* -1.5 -> -1 */
    CHECK_EQ(be_rshift_round(-10, 2), -2); /* -2.5 -> -2 */
    CHECK_EQ(be_rshift_round(123456789, 0), 123456789);
    CHECK(be_rshift_round(((int64_t)1 << 62) - 1, 62) == 1); /* 0.99... -> 1 */
    CHECK(be_rshift_round(((int64_t)1 << 61) - 1, 62) == 0); /* 0.4999... -> 0 */
    CHECK(be_rshift_round(-((int64_t)1 << 61), 62) == 0);    /* -0.5 -> 0 */
    CHECK(be_rshift_round(-((int64_t)1 << 61) - 1, 62) == -1);
    CHECK(be_rshift_round(max63 - ((int64_t)1 << 61), 62) == 1); /* 1.5 - 2^-62 -> 1, at the edge of the proof */
    CHECK_EQ(be_requant(40, 2, 120), 127);
    CHECK_EQ(be_requant(-4, 2, 120), 119);
    CHECK_EQ(be_requant(-((int64_t)1 << 40), 2, 0), -128);
    CHECK_EQ(be_requant(max63 - 50, 0, 127), 127);
    CHECK_EQ(be_requant(-max63 + 50, 0, -128), -128);
    CHECK_EQ(be_requant(max63 - 50, 0, -128), 127);
    CHECK_EQ(be_requant(-max63 + 50, 0, 127), -128);
}

int main(void)
{
    uint32_t s = 7u, trial, n, k, p;
    test_rounding_rule();
    for (trial = 0; trial < 300u; trial++) {
        be_value v;
        be_word a[4 * 3], w[3];
        int8_t w8[96];
        uint8_t px[96];
        int32_t wv[96], xv[96], want = 0, want_pad = 0;
        uint32_t planes = 1u + lcg(&s) % 3u;
        n = 1u + lcg(&s) % 96u;
        memset(a, 0, sizeof a);
        memset(w, 0, sizeof w);
        for (k = 0; k < n; k++) {
            wv[k] = (lcg(&s) & 1u) ? -1 : 1;
            if (wv[k] < 0)
                be_set_bit(w, k);
            w8[k] = (int8_t)((int32_t)(lcg(&s) % 256u) - 128);
            px[k] = (uint8_t)lcg(&s);
        }
        memset(&v, 0, sizeof v);
        v.c = n;
        v.cw = be_words_for(n);
        v.h = v.w = 1u;

        /* sign bits: x = +-1 */
        v.kind = BE_KIND_BITS;
        v.encoding = BE_ENC_SIGN;
        v.planes = 1u;
        want = want_pad = 0;
        for (k = 0; k < n; k++) {
            xv[k] = (lcg(&s) & 1u) ? -1 : 1;
            if (xv[k] < 0)
                be_set_bit(a, k);
            want += xv[k] * wv[k];
            want_pad += wv[k]; /* padding pixel = all +1 */
        }
        CHECK_EQ(be_ref_dot(&v, a, w, BE_WK_BINARY, n), want);
        CHECK_EQ(be_ref_dot(&v, NULL, w, BE_WK_BINARY, n), want_pad);

        /* unsigned bit-planes: x = level in [0, 2^P) */
        memset(a, 0, sizeof a);
        v.encoding = BE_ENC_UNSIGNED;
        v.planes = (uint8_t)planes;
        want = 0;
        for (k = 0; k < n; k++) {
            xv[k] = (int32_t)(lcg(&s) % (1u << planes));
            for (p = 0; p < planes; p++)
                if ((xv[k] >> p) & 1)
                    be_set_bit(a + p * v.cw, k);
            want += xv[k] * wv[k];
        }
        CHECK_EQ(be_ref_dot(&v, a, w, BE_WK_BINARY, n), want);
        CHECK_EQ(be_ref_dot(&v, NULL, w, BE_WK_BINARY, n), 0);

        /* u8 pixels with binary and int8 weights */
        v.kind = BE_KIND_U8;
        v.encoding = BE_ENC_NONE;
        v.planes = 1u;
        v.cw = 0u;
        want = 0;
        for (k = 0; k < n; k++)
            want += (int32_t)px[k] * wv[k];
        CHECK_EQ(be_ref_dot(&v, px, w, BE_WK_BINARY, n), want);
        want = 0;
        for (k = 0; k < n; k++)
            want += (int32_t)px[k] * w8[k];
        CHECK_EQ(be_ref_dot(&v, px, w8, BE_WK_INT8, n), want);
        CHECK_EQ(be_ref_dot(&v, NULL, w8, BE_WK_INT8, n), 0);
    }
    return be_test_report("test_kernels");
}
