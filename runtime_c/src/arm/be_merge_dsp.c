/* be_merge_dsp.c -- "dsp": Merge of two branches into i8 (round stage) on the DSP cores
 * (Cortex-M4 / M7 / M33; the M55 runs "mve"): the residual sum of every binary ResNet block.
 *
 * The split-16 form of be_ew.h (be_merge_split_table, as "w32": X = c' + Ma a + Mb b, code =
 * clamp((H + (L >> 16)) >> sh) with H = ch + Mh_a a + Mh_b b, L = cl + Ml_a a + Ml_b b), with
 * both inputs of an element packed as one pair of int16 (a's low half and b << 16: the split
 * form takes inputs whose raw maxima add up to at most 2^14) and each channel's multipliers as
 * two pairs, so that H and L are one SMLAD each. SMLAD multiplies signed halves, so the table's
 * low halves Ml (0 .. 65535) are re-split as signed ones: Ml >= 2^15 becomes Ml - 2^16 with
 * Mh + 1 (the same M; a channel whose Mh + 1 leaves int16 keeps the 64-bit code). The loop runs
 * channel by channel over the pixels, so a channel's five constants stay in registers: per
 * element two loads, the pack (PKHBT), two SMLAD, an add with ASR #16, the shift, SSAT and the
 * store, in a Thumb-2 loop of two elements per end test (merge_*: 11 instructions per element).
 * Sign and level stages, and
 * chunks the split form does not take, run "word" (be_merge_word_chunk, through
 * be_merge_by_chunks).
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP
#include <arm_acle.h>

#include "word/be_ew.h"

#define CHUNK 32u

/* One channel: (Mh_a, Mh_b) and (Ml_a, Ml_b) as pairs of int16 (a in the low half). */
typedef struct {
    uint32_t h, l;
    int32_t ch, cl;
    uint32_t sh;
} merge_pairs;

static inline uint32_t pair16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/* The pairs of the split table t of n channels; 0 if a multiplier does not fit them. */
static int to_pairs(const be_merge_split *t, uint32_t n, merge_pairs *p)
{
    uint32_t i;
    for (i = 0; i < n; i++) {
        const int32_t la = t[i].mla >= 32768 ? t[i].mla - 65536 : t[i].mla;
        const int32_t lb = t[i].mlb >= 32768 ? t[i].mlb - 65536 : t[i].mlb;
        const int32_t ha = t[i].mha + (la != t[i].mla), hb = t[i].mhb + (lb != t[i].mlb);
        if (ha > 32767 || hb > 32767 || ha < -32768 || hb < -32768)
            return 0;
        p[i].h = pair16(ha, hb);
        p[i].l = pair16(la, lb);
        p[i].ch = t[i].ch;
        p[i].cl = t[i].cl;
        p[i].sh = t[i].sh;
    }
    return 1;
}

#if defined(BE_ARM_T2_ASM)
/* The element loop of round_channel for constant kinds (i8 codes: LDRSB; i32 accumulators: LDR
 * of the element's word; PKHBT keeps the low half of a and puts b's low half above it, which is
 * pair16(a, b)), two elements per test of the end: 11 instructions per element where GCC's loop
 * took 14. e is the running element index (channel + pixel * cs), the same offset for the code,
 * accumulator and output arrays. */
#define LD_I8(R, P) "ldrsb %[" R "], [%[" P "], %[e]]\n\t"
#define LD_I32(R, P) "ldr %[" R "], [%[" P "], %[e], lsl #2]\n\t"
#define MERGE_ELEMENT(LDA, LDB)                                                                   \
    LDA("a", "pa") LDB("b", "pb") BE_ARM_SPLIT16_CODE                                              \
    "strb %[b], [%[py], %[e]]\n\t"                                                                 \
    "add %[e], %[e], %[cs]\n\t"
#define MERGE_LOOP(NAME, LDA, LDB)                                                                \
    static void NAME(const void *pa_, const void *pb_, int8_t *py_, uint32_t e_, uint32_t npx, uint32_t cs_, \
                     const merge_pairs *q)                                                         \
    {                                                                                              \
        register const void *pa __asm__("r0") = pa_;                                               \
        register const void *pb __asm__("r1") = pb_;                                               \
        register int8_t *py __asm__("r2") = py_;                                                   \
        register uint32_t e __asm__("r3") = e_;                                                    \
        register uint32_t cs __asm__("r4") = cs_;                                                  \
        register uint32_t end __asm__("r5") = e_ + (npx & ~1u) * cs_;                              \
        register uint32_t hp __asm__("r6") = q->h, lp __asm__("r8") = q->l;                        \
        register int32_t ch __asm__("r9") = q->ch, cl __asm__("r10") = q->cl;                      \
        register uint32_t sh __asm__("r11") = q->sh;                                               \
        register int32_t a __asm__("r12"), b __asm__("lr");                                        \
        if (npx & 1u) /* the odd element first */                                                 \
            __asm__ volatile(MERGE_ELEMENT(LDA, LDB)                                               \
                             : [e] "+r"(e), [a] "=&r"(a), [b] "=&r"(b)                             \
                             : [pa] "r"(pa), [pb] "r"(pb), [py] "r"(py), [cs] "r"(cs), [hp] "r"(hp), \
                               [lp] "r"(lp), [ch] "r"(ch), [cl] "r"(cl), [sh] "r"(sh)              \
                             : "cc", "memory");                                                    \
        if (npx < 2u)                                                                              \
            return;                                                                                \
        end += (npx & 1u) * cs;                                                                    \
        __asm__ volatile("1:\n\t" MERGE_ELEMENT(LDA, LDB) MERGE_ELEMENT(LDA, LDB)                  \
                         "cmp %[e], %[end]\n\t"                                                    \
                         "bne 1b\n\t"                                                              \
                         : [e] "+r"(e), [a] "=&r"(a), [b] "=&r"(b)                                 \
                         : [pa] "r"(pa), [pb] "r"(pb), [py] "r"(py), [cs] "r"(cs), [hp] "r"(hp),   \
                           [lp] "r"(lp), [ch] "r"(ch), [cl] "r"(cl), [sh] "r"(sh), [end] "r"(end)  \
                         : "cc", "memory");                                                        \
    }
MERGE_LOOP(merge_i8_i32, LD_I8, LD_I32)
MERGE_LOOP(merge_i32_i8, LD_I32, LD_I8)
MERGE_LOOP(merge_i8_i8, LD_I8, LD_I8)
MERGE_LOOP(merge_i32_i32, LD_I32, LD_I32)
#endif

/* Channel c of every pixel (inputs of kinds ka / kb, element stride cs). */
BE_EW_INLINE void round_channel(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, uint32_t c,
                                const merge_pairs *q, int ka, int kb, const be_value *va, const be_value *vb)
{
    const uint32_t h = q->h, l = q->l, sh = q->sh;
    const int32_t ch = q->ch, cl = q->cl;
    size_t e = c;
    uint32_t px;
#if defined(BE_ARM_T2_ASM)
    if (ka != BE_EW_K_ANY && kb != BE_EW_K_ANY) {
        if (ka == BE_EW_K_I8)
            (kb == BE_EW_K_I8 ? merge_i8_i8 : merge_i8_i32)(pa, pb, y, c, npx, cs, q);
        else
            (kb == BE_EW_K_I8 ? merge_i32_i8 : merge_i32_i32)(pa, pb, y, c, npx, cs, q);
        return;
    }
#endif
    for (px = 0; px < npx; px++, e += cs) {
        const int32_t a = be_ew_ld(pa, e, ka, va), b = be_ew_ld(pb, e, kb, vb);
        const int32_t x = (int32_t)pair16(a, b); /* (a, b) as int16 (|a| + |b| <= 2^14) */
        const int32_t hs = __smlad(x, (int32_t)h, ch), ls = __smlad(x, (int32_t)l, cl);
        y[e] = (int8_t)__ssat(be_ew_asr32(hs + be_ew_asr32(ls, 16u), sh), 8);
    }
}

/* Channels [c0, c0 + n) in the paired split form; 0 (nothing written) if a channel does not take
 * it or the stage is not the round stage. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int pairs_chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cs = vo->c;
    const int ka = be_ew_kind(va), kb = be_ew_kind(vb);
    be_merge_split t[CHUNK];
    merge_pairs p[CHUNK];
    uint32_t i;
    if (op->stage != BE_STAGE_ROUND || !be_merge_split_table(op, va, vb, c0, n, t) || !to_pairs(t, n, p))
        return 0;
    for (i = 0; i < n; i++) {
#define ROUND(A, B) round_channel(io->data[0], io->data[1], (int8_t *)out, npx, cs, c0 + i, p + i, A, B, va, vb)
        BE_EW_KIND_SWITCH(ROUND);
#undef ROUND
    }
    return 1;
}

be_status be_merge_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_merge_by_chunks(op, in, out, pairs_chunk);
}

#else
typedef int be_merge_dsp_unused; /* ISO C forbids an empty translation unit */
#endif
