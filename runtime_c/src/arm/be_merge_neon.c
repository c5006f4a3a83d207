/* be_merge_neon.c -- "neon": Merge of two branches into i8 (round stage) with Advanced SIMD
 * (aarch64, armv7 NEON): the residual sum of every binary ResNet block on a Cortex-A.
 *
 * The split-16 form of be_ew.h (be_merge_split_table, as "w32"), four channels per vector:
 * L = cl + Ml_a a + Ml_b b and H = ch + Mh_a a + Mh_b b are two MLA each in 32-bit lanes (the
 * split form keeps both within int32, so the lanes compute exactly what "w32" computes),
 * H + (L >> 16) is one SSRA, then SSHL by -sh and the int8 clamp as SQXTN twice. On aarch64
 * eight channels per step (two vectors each, one 8-byte load of codes and one store; since
 * 2026-12-06, second session: 31 instructions per 8 elements in the loop; the ResNet40's 14 x 14
 * x 40 Merge 5.9 -> 4.3 instructions per element, 7 x 7 x 80 7.0 -> 5.4, the per-chunk table
 * included). The table is
 * stored per chunk as vectors (structure of arrays) and runs group by group of four channels
 * over all pixels, so that a group's seven constant vectors stay in registers; the last n % 4
 * channels of a chunk run the same arithmetic in C. Codes are read four at a time with a 32-bit load (never past the
 * pixel's channels), accumulators as vectors. Sign and level stages, u8 inputs, and chunks the
 * split form does not take run "word" (be_merge_word_chunk, through be_merge_by_chunks).
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_NEON
#include <arm_neon.h>
#include <string.h>

#include "word/be_ew.h"

#define CHUNK 32u

typedef struct {
    int32_t mha[CHUNK], mla[CHUNK], mhb[CHUNK], mlb[CHUNK], ch[CHUNK], cl[CHUNK], nsh[CHUNK];
} merge_soa;

/* Four elements from element e of an input of kind k (BE_EW_K_I8 or BE_EW_K_I32) as int32. */
static inline int32x4_t load4(const void *p, size_t e, int k)
{
    if (k == BE_EW_K_I8) {
        uint32_t w;
        memcpy(&w, (const int8_t *)p + e, 4u);
        return vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(w)))));
    }
    return vld1q_s32((const int32_t *)p + e);
}

/* Four channels from c0 + i of every pixel: the group's table vectors stay in registers. */
BE_EW_INLINE void round_group(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, size_t e,
                              const merge_soa *t, uint32_t i, int ka, int kb)
{
    const int32x4_t cl = vld1q_s32(t->cl + i), mla = vld1q_s32(t->mla + i), mlb = vld1q_s32(t->mlb + i);
    const int32x4_t ch = vld1q_s32(t->ch + i), mha = vld1q_s32(t->mha + i), mhb = vld1q_s32(t->mhb + i);
    const int32x4_t nsh = vld1q_s32(t->nsh + i);
    uint32_t px;
    for (px = 0; px < npx; px++, e += cs) {
        const int32x4_t a = load4(pa, e, ka), b = load4(pb, e, kb);
        const int32x4_t l = vmlaq_s32(vmlaq_s32(cl, mla, a), mlb, b);
        const int32x4_t h = vmlaq_s32(vmlaq_s32(ch, mha, a), mhb, b);
        const int32x4_t r = vshlq_s32(vsraq_n_s32(h, l, 16), nsh);
        const int8x8_t c = vqmovn_s16(vcombine_s16(vqmovn_s32(r), vdup_n_s16(0)));
        const uint32_t w = vget_lane_u32(vreinterpret_u32_s8(c), 0);
        memcpy(y + e, &w, 4u); /* any address (an STR; NEON stores may assume alignment) */
    }
}

#if defined(__aarch64__)
/* Eight elements from element e of an input of kind k as two int32 vectors (the codes: one 8-byte
 * load, widened twice). */
static inline int32x4x2_t load8(const void *p, size_t e, int k)
{
    int32x4x2_t r;
    if (k == BE_EW_K_I8) {
        const int16x8_t h = vmovl_s8(vld1_s8((const int8_t *)p + e));
        r.val[0] = vmovl_s16(vget_low_s16(h));
        r.val[1] = vmovl_high_s16(h);
    } else {
        r.val[0] = vld1q_s32((const int32_t *)p + e);
        r.val[1] = vld1q_s32((const int32_t *)p + e + 4u);
    }
    return r;
}

/* Eight channels from c0 + i of every pixel (aarch64: the 14 table vectors and the pixel's
 * values fit the 32 registers): one 8-byte store per pixel. */
BE_EW_INLINE void round_group8(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, size_t e,
                               const merge_soa *t, uint32_t i, int ka, int kb)
{
    const int32x4_t cl0 = vld1q_s32(t->cl + i), mla0 = vld1q_s32(t->mla + i), mlb0 = vld1q_s32(t->mlb + i);
    const int32x4_t ch0 = vld1q_s32(t->ch + i), mha0 = vld1q_s32(t->mha + i), mhb0 = vld1q_s32(t->mhb + i);
    const int32x4_t cl1 = vld1q_s32(t->cl + i + 4u), mla1 = vld1q_s32(t->mla + i + 4u);
    const int32x4_t mlb1 = vld1q_s32(t->mlb + i + 4u), ch1 = vld1q_s32(t->ch + i + 4u);
    const int32x4_t mha1 = vld1q_s32(t->mha + i + 4u), mhb1 = vld1q_s32(t->mhb + i + 4u);
    const int32x4_t nsh0 = vld1q_s32(t->nsh + i), nsh1 = vld1q_s32(t->nsh + i + 4u);
    uint32_t px;
    for (px = 0; px < npx; px++, e += cs) {
        const int32x4x2_t a = load8(pa, e, ka), b = load8(pb, e, kb);
        const int32x4_t l0 = vmlaq_s32(vmlaq_s32(cl0, mla0, a.val[0]), mlb0, b.val[0]);
        const int32x4_t h0 = vmlaq_s32(vmlaq_s32(ch0, mha0, a.val[0]), mhb0, b.val[0]);
        const int32x4_t l1 = vmlaq_s32(vmlaq_s32(cl1, mla1, a.val[1]), mlb1, b.val[1]);
        const int32x4_t h1 = vmlaq_s32(vmlaq_s32(ch1, mha1, a.val[1]), mhb1, b.val[1]);
        const int32x4_t r0 = vshlq_s32(vsraq_n_s32(h0, l0, 16), nsh0);
        const int32x4_t r1 = vshlq_s32(vsraq_n_s32(h1, l1, 16), nsh1);
        vst1_s8(y + e, vqmovn_s16(vcombine_s16(vqmovn_s32(r0), vqmovn_s32(r1))));
    }
}
#endif

/* Channels [c0, c0 + n) of every pixel: groups of eight (aarch64), then of four, then the last
 * n % 4 channels in C. */
BE_EW_INLINE void round_rows(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, uint32_t c0,
                             uint32_t n, const merge_soa *t, int ka, int kb)
{
    const uint32_t n4 = n & ~3u;
    uint32_t px, i = 0u;
#if defined(__aarch64__)
    for (; i + 8u <= n; i += 8u)
        round_group8(pa, pb, y, npx, cs, (size_t)c0 + i, t, i, ka, kb);
#endif
    for (; i < n4; i += 4u)
        round_group(pa, pb, y, npx, cs, (size_t)c0 + i, t, i, ka, kb);
    for (px = 0; px < npx && n4 < n; px++) {
        const size_t base = (size_t)px * cs + c0;
        for (i = n4; i < n; i++) {
            const int32_t a = be_ew_ld(pa, base + i, ka, NULL), b = be_ew_ld(pb, base + i, kb, NULL);
            const int32_t l = t->cl[i] + t->mla[i] * a + t->mlb[i] * b;
            const int32_t r = be_ew_asr32(t->ch[i] + t->mha[i] * a + t->mhb[i] * b + be_ew_asr32(l, 16u),
                                          (uint32_t)-t->nsh[i]);
            y[base + i] = (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
        }
    }
}

/* Channels [c0, c0 + n) in the split form; 0 (nothing written) if a channel does not take it,
 * the stage is not the round stage or an input holds u8 codes. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int split_chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cs = vo->c;
    const int ka = be_ew_kind(va), kb = be_ew_kind(vb);
    be_merge_split t[CHUNK];
    merge_soa s;
    uint32_t i;
    if (op->stage != BE_STAGE_ROUND || ka == BE_EW_K_ANY || kb == BE_EW_K_ANY ||
        !be_merge_split_table(op, va, vb, c0, n, t))
        return 0;
    for (i = 0; i < n; i++) {
        s.mha[i] = t[i].mha;
        s.mla[i] = t[i].mla;
        s.mhb[i] = t[i].mhb;
        s.mlb[i] = t[i].mlb;
        s.ch[i] = t[i].ch;
        s.cl[i] = t[i].cl;
        s.nsh[i] = -(int32_t)t[i].sh;
    }
#define ROUND(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0, n, &s, A, B)
    BE_EW_CODED_KIND_SWITCH(ROUND);
#undef ROUND
    return 1;
}

be_status be_merge_neon(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_merge_by_chunks(op, in, out, split_chunk);
}

#else
typedef int be_merge_neon_unused; /* ISO C forbids an empty translation unit */
#endif
