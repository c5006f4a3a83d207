/* be_merge_mve.c -- "mve": Merge of an int8 shortcut and a binary conv's accumulators (the
 * residual sum of a binary ResNet block) with Helium (Cortex-M55), round stage.
 *
 * The split-16 form of be_ew.h that "w32" computes one channel at a time (be_merge_split_table:
 * M = Mh 2^16 + Ml, code = clamp((H + (L >> 16)) >> sh) with H = ch + Mh_a a + Mh_b b and
 * L = cl + Ml_a a + Ml_b b), here on four channels per vector: the table of a chunk of 32
 * channels is stored as vectors (per four channels their seven parameter vectors together, the
 * shifts negated for VSHL), and per pixel each four channels take two widening loads of the
 * inputs (VLDRB.S32 for codes, VLDRW for accumulators), four VMUL and four VADD against the
 * table's vectors, the shifts, a clamp and a narrowing store (VSTRB.32), the last vector of a
 * chunk tail-predicated (VCTP: nothing past the channels is read or written). Exact where the
 * split form is (its lanes cannot overflow: inputs together <= 2^14, s >= 16, |c'| < 2^45);
 * other chunks, sign or level stages and u8 inputs take the 64-bit code of "word"
 * (be_merge_word_chunk, through be_merge_by_chunks).
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE
#include <arm_mve.h>

#include "word/be_ew.h"

#define CHUNK 32u

/* a chunk's table as vectors: per four channels the seven parameter vectors one after the other
 * (one base pointer, immediate offsets), padded with zeros past n (lanes never stored) */
enum { P_MHA, P_MLA, P_MHB, P_MLB, P_CH, P_CL, P_NSH, P_N };
typedef struct {
    int32_t v[CHUNK / 4u][P_N][4];
} merge_table;

/* four elements of an input: i8 codes or i32 accumulators (the arena: aligned) */
#define LOAD(p, e, k) ((k) == BE_EW_K_I8 ? vldrbq_s32((const int8_t *)(p) + (e)) : vldrwq_s32((const int32_t *)(p) + (e)))
#define LOADZ(p, e, k, pr) \
    ((k) == BE_EW_K_I8 ? vldrbq_z_s32((const int8_t *)(p) + (e), pr) : vldrwq_z_s32((const int32_t *)(p) + (e), pr))

/* the four codes of channels with parameters g from inputs a, b */
BE_EW_INLINE int32x4_t codes(int32x4_t a, int32x4_t b, const int32_t (*g)[4])
{
    const int32x4_t l = vaddq_s32(vld1q_s32(g[P_CL]), vaddq_s32(vmulq_s32(vld1q_s32(g[P_MLA]), a),
                                                                vmulq_s32(vld1q_s32(g[P_MLB]), b)));
    const int32x4_t h = vaddq_s32(vld1q_s32(g[P_CH]), vaddq_s32(vmulq_s32(vld1q_s32(g[P_MHA]), a),
                                                                vmulq_s32(vld1q_s32(g[P_MHB]), b)));
    const int32x4_t r = vshlq_s32(vaddq_s32(h, vshrq_n_s32(l, 16)), vld1q_s32(g[P_NSH]));
    return vmaxq_s32(vminq_s32(r, vdupq_n_s32(127)), vdupq_n_s32(-128));
}

BE_EW_INLINE void round_rows(const void *pa, const void *pb, int8_t *y, uint32_t npx, uint32_t cs, uint32_t c0,
                             uint32_t n, const merge_table *t, int ka, int kb)
{
    const uint32_t whole = n / 4u, rest = n % 4u;
    const mve_pred16_t pr = vctp32q(rest);
    uint32_t px, j;
    for (px = 0; px < npx; px++) {
        const size_t base = (size_t)px * cs + c0;
        for (j = 0; j < whole; j++) {
            const size_t e = base + 4u * j;
            vstrbq_s32(y + e, codes(LOAD(pa, e, ka), LOAD(pb, e, kb), t->v[j]));
        }
        if (rest != 0u) { /* the chunk's last channels, tail-predicated: nothing past them */
            const size_t e = base + 4u * whole;
            vstrbq_p_s32(y + e, codes(LOADZ(pa, e, ka, pr), LOADZ(pb, e, kb, pr), t->v[whole]), pr);
        }
    }
}

/* Channels [c0, c0 + n) in the split form; 0 (nothing written) if the chunk does not take it. */
static int chunk(const be_op *op, const be_inputs *io, void *out, uint32_t c0, uint32_t n)
{
    const be_value *va = io->value[0], *vb = io->value[1], *vo = &op->out;
    const int ka = be_ew_kind(va), kb = be_ew_kind(vb);
    be_merge_split s[CHUNK];
    merge_table t;
    uint32_t i;
    if (op->stage != BE_STAGE_ROUND || ka == BE_EW_K_ANY || kb == BE_EW_K_ANY ||
        !be_merge_split_table(op, va, vb, c0, n, s))
        return 0;
    for (i = 0; i < CHUNK; i++) {
        int32_t(*g)[4] = t.v[i / 4u];
        const uint32_t l = i % 4u;
        const int in = i < n;
        g[P_MHA][l] = in ? s[i].mha : 0;
        g[P_MLA][l] = in ? s[i].mla : 0;
        g[P_MHB][l] = in ? s[i].mhb : 0;
        g[P_MLB][l] = in ? s[i].mlb : 0;
        g[P_CH][l] = in ? s[i].ch : 0;
        g[P_CL][l] = in ? s[i].cl : 0;
        g[P_NSH][l] = in ? -(int32_t)s[i].sh : 0; /* VSHL by a negative count: arithmetic right shift */
    }
#define ROUND(A, B) round_rows(io->data[0], io->data[1], (int8_t *)out, vo->h * vo->w, vo->c, c0, n, &t, A, B)
    BE_EW_CODED_KIND_SWITCH(ROUND);
#undef ROUND
    return 1;
}

be_status be_merge_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_merge_by_chunks(op, in, out, chunk);
}

#endif /* BE_ARM_HAVE_MVE */
