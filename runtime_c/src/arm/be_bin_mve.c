/* be_bin_mve.c -- "mve": binary Dense / Conv2d with Helium (MVE, Cortex-M55).
 *
 * MVE has no vector popcount (no VCNT), so each 128-bit XOR is counted with SWAR in byte
 * lanes: 2-bit fields (VSHR / VAND / VSUB), then nibbles (<= 4) with one VMLA by -3; the
 * nibble vectors of three XORs are added (<= 12) before the sums: VADDVA.U8 (add all bytes
 * to a scalar) of v gives sum(low) + 16 * sum(high), of v >> 4 gives sum(high), so
 * popcount = S(v) - 15 S(v >> 4). Two channels share each input load. The loop over row pairs
 * is inline assembly (GCC's code for the intrinsics spilled Q registers and copied pointers),
 * one instance per shape of row, so that a pair runs straight code: rows of at most 12 words
 * (a 3x3 conv on 32 channels: 9) entirely (mve_short_F_T), longer rows as a loop over their
 * groups of three vectors and a straight tail (mve_long_F_T). The last nw % 4 words are one vector under the predicate VCTP sets once per call (zeroing
 * loads: inactive lanes read 0 and count 0). Q registers: q0 x, q1 / q3 a vector of row 0 / 1,
 * q2 temporary, q4 / q5 the rows' nibble sums, the masks in the two left; r7 (the Thumb frame
 * pointer) is not used. A Dense into the sign stage hands these counts to be_mve_dense_rows
 * (be_dense_rows_mve.c), which does the stage four rows at a time in lanes. No
 * __builtin_popcount.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_MVE

#include <arm_mve.h>

#include "arm/be_arm.h"

/* SWAR of one XOR vector \v (temporary q2) to nibble popcounts (each <= 4): 2-bit fields
 * t = v - ((v >> 1) & 0x55) (mask m1), then t - 3 * ((t >> 2) & 0x33) (mask m2) =
 * (c0 + c1) + 16 (c2 + c3): one VMLA by the scalar -3 (0xFD, mod 256) instead of a mask, a
 * shift and an add. */
#define BE_MVE_NIB(v)                                                                            \
    "vshr.u8 q2, " v ", #1\n\t"                                                                  \
    "vand q2, q2, %q[m1]\n\t"                                                                        \
    "vsub.i8 " v ", " v ", q2\n\t"                                                               \
    "vshr.u8 q2, " v ", #2\n\t"                                                                  \
    "vand q2, q2, %q[m2]\n\t"                                                                        \
    "vmla.u8 " v ", q2, %[m3]\n\t"

/* one vector of x (q0) against both rows: nibble counts of row 0 in \a, of row 1 in \b */
#define BE_MVE_STEP(a, b, ld)                                                                    \
    ld " q0, [%[px]], #16\n\t"                                                                   \
    ld " " a ", [%[p0]], #16\n\t"                                                                \
    ld " " b ", [%[p1]], #16\n\t"                                                                \
    "veor " a ", " a ", q0\n\t"                                                                  \
    "veor " b ", " b ", q0\n\t" BE_MVE_NIB(a) BE_MVE_NIB(b)

/* One vector of x (q0) against both rows without moving the pointers (the last, partial vector
 * of a short row: loads under the predicate, VPSTTT before them). */
#define BE_MVE_STEP_AT(a, b, ld)                                                                 \
    ld " q0, [%[px]]\n\t"                                                                        \
    ld " " a ", [%[p0]]\n\t"                                                                     \
    ld " " b ", [%[p1]]\n\t"                                                                     \
    "veor " a ", " a ", q0\n\t"                                                                  \
    "veor " b ", " b ", q0\n\t" BE_MVE_NIB(a) BE_MVE_NIB(b)

/* What both pair loops below share: the registers (x, w, stride, pairs, d are the function's
 * arguments; the row pointers move on by `advance` bytes after a pair), the results of a pair,
 * popcount = S(v) - 15 S(v >> 4) per row, stored, and the asm outputs. r7 (the Thumb frame
 * pointer) is not used; r12 and lr are each loop's own. */
#define BE_MVE_PAIR_REGS(advance)                                                                \
    const uint8x16_t m1 = vdupq_n_u8(0x55), m2 = vdupq_n_u8(0x33);                               \
    register uint32_t s0 __asm__("r0"); /* VADDV takes an even register */                      \
    register uint32_t h0 __asm__("r2");                                                          \
    register uint32_t s1 __asm__("r4");                                                          \
    register uint32_t h1 __asm__("r6");                                                          \
    register const be_word *px __asm__("r1") = x;                                                \
    register const be_word *p0 __asm__("r3") = w;                                                \
    register const be_word *p1 __asm__("r5") = (const be_word *)((const uint8_t *)w + stride);   \
    register uint32_t adv __asm__("r8") = (advance);                                             \
    register uint32_t cnt __asm__("r9") = pairs;                                                 \
    register uint32_t *dp __asm__("r10") = d;                                                    \
    register uint32_t m3 __asm__("r11") = 0xFDu;
#define BE_MVE_PAIR_STORE                                                                        \
    "rsb %[h0], %[h0], %[h0], lsl #4\n\t"                                                         \
    "sub %[s0], %[s0], %[h0]\n\t"                                                                 \
    "rsb %[h1], %[h1], %[h1], lsl #4\n\t"                                                         \
    "sub %[s1], %[s1], %[h1]\n\t"                                                                 \
    "strd %[s0], %[s1], [%[dp]], #8\n\t"
#define BE_MVE_PAIR_OUTS                                                                         \
    [s0] "=&r"(s0), [h0] "=&r"(h0), [s1] "=&r"(s1), [h1] "=&r"(h1), [px] "+r"(px), [p0] "+r"(p0), \
        [p1] "+r"(p1), [dp] "+r"(dp)

/* Short rows (nw <= 12 words: F = nw / 4 whole vectors, then, when TAIL, one vector of the
 * nw % 4 last words under the predicate VCTP sets once per call). The body of a pair is
 * straight code: no group loop, no tail counter, no row state in memory; the nibbles of the (at
 * most three) vectors are added (<= 12) before their byte sums, written by VADDV (no
 * accumulators to clear). With rows stride bytes apart, both row pointers move on by
 * adv = 2 stride - 16 F after a pair; the x pointer goes back. 71 instructions per pair of
 * 9-word rows (the 3x3 conv on 32 channels) where the former generic loop (group loop, tail
 * loop, row state in memory) took about 95. */
#define BE_MVE_SHORT(F, TAIL)                                                                    \
    static void mve_short_##F##_##TAIL(const be_word *x, const be_word *w, uint32_t stride, uint32_t tail, \
                                       uint32_t pairs, uint32_t *d)                              \
    {                                                                                            \
        BE_MVE_PAIR_REGS(2u * stride - 16u * (F))                                               \
        register uint32_t t __asm__("r12") = tail;                                               \
        __asm__ volatile("vctp.32 %[t]\n\t"                                                      \
                         "dls lr, %[cnt]\n"                                                      \
                         "0:\n\t"                                                                \
                         BE_MVE_SHORT_BODY(F, TAIL)                                              \
                         BE_MVE_PAIR_STORE                                                       \
                         BE_MVE_SHORT_BACK(F)                                                    \
                         "add %[p0], %[p0], %[adv]\n\t"                                          \
                         "add %[p1], %[p1], %[adv]\n\t"                                          \
                         "le lr, 0b\n\t"                                                         \
                         : BE_MVE_PAIR_OUTS                                                      \
                         : [adv] "r"(adv), [cnt] "r"(cnt), [t] "r"(t), [m3] "r"(m3), [m1] "w"(m1), [m2] "w"(m2) \
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "memory", "cc");           \
    }

#define BE_MVE_ADD13 "vadd.i8 q4, q4, q1\n\tvadd.i8 q5, q5, q3\n\t"
#define BE_MVE_V1 BE_MVE_STEP("q4", "q5", "vldrw.32")                      /* first vector of 3 */
#define BE_MVE_VN BE_MVE_STEP("q1", "q3", "vldrw.32") BE_MVE_ADD13         /* second or third */
#define BE_MVE_T1 "vpsttt\n\t" BE_MVE_STEP_AT("q4", "q5", "vldrwt.32")     /* partial, first */
#define BE_MVE_TN "vpsttt\n\t" BE_MVE_STEP_AT("q1", "q3", "vldrwt.32") BE_MVE_ADD13
/* the byte sums of up to three vectors' nibbles: written (the first three), then added */
#define BE_MVE_SUMS(op)                                                                          \
    op " %[s0], q4\n\t"                                                                          \
    "vshr.u8 q4, q4, #4\n\t" op " %[h0], q4\n\t" op " %[s1], q5\n\t"                             \
    "vshr.u8 q5, q5, #4\n\t" op " %[h1], q5\n\t"
#define BE_MVE_S1 BE_MVE_SUMS("vaddv.u8")
#define BE_MVE_SA BE_MVE_SUMS("vaddva.u8")
#define BE_MVE_BODY_0_1 BE_MVE_T1 BE_MVE_S1
#define BE_MVE_BODY_1_0 BE_MVE_V1 BE_MVE_S1
#define BE_MVE_BODY_1_1 BE_MVE_V1 BE_MVE_TN BE_MVE_S1
#define BE_MVE_BODY_2_0 BE_MVE_V1 BE_MVE_VN BE_MVE_S1
#define BE_MVE_BODY_2_1 BE_MVE_V1 BE_MVE_VN BE_MVE_TN BE_MVE_S1
#define BE_MVE_THREE BE_MVE_V1 BE_MVE_VN BE_MVE_VN
#define BE_MVE_BODY_3_0 BE_MVE_THREE BE_MVE_S1
#define BE_MVE_SHORT_BODY(F, T) BE_MVE_BODY_##F##_##T
#define BE_MVE_BACK_0 ""
#define BE_MVE_BACK_1 "sub %[px], %[px], #16\n\t"
#define BE_MVE_BACK_2 "sub %[px], %[px], #32\n\t"
#define BE_MVE_BACK_3 "sub %[px], %[px], #48\n\t"
#define BE_MVE_SHORT_BACK(F) BE_MVE_BACK_##F

BE_MVE_SHORT(0, 1)
BE_MVE_SHORT(1, 0)
BE_MVE_SHORT(1, 1)
BE_MVE_SHORT(2, 0)
BE_MVE_SHORT(2, 1)
BE_MVE_SHORT(3, 0)

/* Long rows (nw > 12 words): the nw / 12 groups of three vectors in a DLS / LE loop, then the
 * last nw % 12 words (F whole vectors, then when TAIL a partial one under the predicate set
 * once per call) as straight code. The x pointer is reloaded from the frame, the row pointers
 * move on by one add each: 119 instructions per pair of 18-word rows (the 3x3 conv on 64
 * channels) where the generic loop took about 134. (Peeling the first group to write the sums
 * with VADDV saves the four clears per pair but doubles the code of each instance.) */
#define BE_MVE_TAIL_0_0 ""
#define BE_MVE_TAIL_0_1 BE_MVE_T1 BE_MVE_SA
#define BE_MVE_TAIL_1_0 BE_MVE_V1 BE_MVE_SA
#define BE_MVE_TAIL_1_1 BE_MVE_V1 BE_MVE_TN BE_MVE_SA
#define BE_MVE_TAIL_2_0 BE_MVE_V1 BE_MVE_VN BE_MVE_SA
#define BE_MVE_TAIL_2_1 BE_MVE_V1 BE_MVE_VN BE_MVE_TN BE_MVE_SA
#define BE_MVE_LONG_TAIL(F, T) BE_MVE_TAIL_##F##_##T
#define BE_MVE_LONG(F, TAIL)                                                                     \
    static void mve_long_##F##_##TAIL(const be_word *x, const be_word *w, uint32_t stride, uint32_t tail, \
                                      uint32_t nw, uint32_t pairs, uint32_t *d)                  \
    {                                                                                            \
        const be_word *xb = x;                                                                   \
        const uint32_t tm = tail;                                                                \
        BE_MVE_PAIR_REGS(2u * stride - 48u * (nw / 12u) - 16u * (F))                            \
        register uint32_t g __asm__("r12") = nw / 12u;                                           \
        __asm__ volatile("ldr %[s0], %[tm]\n\t"                                                   \
                         "vctp.32 %[s0]\n"                                                       \
                         "0:\n\t"                                                                \
                         "movs %[s0], #0\n\t"                                                    \
                         "movs %[h0], #0\n\t"                                                    \
                         "movs %[s1], #0\n\t"                                                    \
                         "movs %[h1], #0\n\t"                                                    \
                         "dls lr, %[g]\n"                                                        \
                         "1:\n\t" BE_MVE_THREE BE_MVE_SA                                          \
                         "le lr, 1b\n\t" BE_MVE_LONG_TAIL(F, TAIL)                                 \
                         BE_MVE_PAIR_STORE                                                       \
                         "ldr %[px], %[xb]\n\t"                                                   \
                         "add %[p0], %[p0], %[adv]\n\t"                                          \
                         "add %[p1], %[p1], %[adv]\n\t"                                          \
                         "subs %[cnt], %[cnt], #1\n\t"                                           \
                         "bne 0b\n\t"                                                            \
                         : BE_MVE_PAIR_OUTS, [cnt] "+r"(cnt)                                    \
                         : [adv] "r"(adv), [g] "r"(g), [m3] "r"(m3), [m1] "w"(m1), [m2] "w"(m2),  \
                           [xb] "m"(xb), [tm] "m"(tm)                                            \
                         : "lr", "q0", "q1", "q2", "q3", "q4", "q5", "memory", "cc");           \
    }

BE_MVE_LONG(0, 0)
BE_MVE_LONG(0, 1)
BE_MVE_LONG(1, 0)
BE_MVE_LONG(1, 1)
BE_MVE_LONG(2, 0)
BE_MVE_LONG(2, 1)

typedef void (*mve_long_fn)(const be_word *x, const be_word *w, uint32_t stride, uint32_t tail, uint32_t nw,
                            uint32_t pairs, uint32_t *d);

/* the instance for rows of nw > 12 words, by nw % 12 */
static const mve_long_fn mve_long_for[12] = {mve_long_0_0, mve_long_0_1, mve_long_0_1, mve_long_0_1,
                                             mve_long_1_0, mve_long_1_1, mve_long_1_1, mve_long_1_1,
                                             mve_long_2_0, mve_long_2_1, mve_long_2_1, mve_long_2_1};

typedef void (*mve_short_fn)(const be_word *x, const be_word *w, uint32_t stride, uint32_t tail, uint32_t pairs,
                             uint32_t *d);

/* the instance for rows of nw words, nw = 1 .. BE_MVE_SHORT_WORDS */
#define BE_MVE_SHORT_WORDS 12u
static const mve_short_fn mve_short_for[BE_MVE_SHORT_WORDS + 1u] = {
    NULL,          mve_short_0_1, mve_short_0_1, mve_short_0_1, mve_short_1_0, mve_short_1_1, mve_short_1_1,
    mve_short_1_1, mve_short_2_0, mve_short_2_1, mve_short_2_1, mve_short_2_1, mve_short_3_0};

/* d[i] = popcount(x XOR w_i) for n rows (row_words apart) of nw words: pairs of rows through
 * the instance for their length, an odd last row as a pair with itself. */
static void popc_mve(const be_word *x, const be_word *w, uint32_t row_words, uint32_t nw, uint32_t n, uint32_t *d)
{
    const uint32_t stride = row_words * (uint32_t)sizeof(be_word), tail = nw % 4u;
    const be_word *last = w + (size_t)(n & ~1u) * row_words; /* the odd row, if any */
    uint32_t e[2];
    if (nw <= BE_MVE_SHORT_WORDS) {
        const mve_short_fn f = mve_short_for[nw];
        if (n >= 2u)
            f(x, w, stride, tail, n / 2u, d);
        if (n & 1u)
            f(x, last, 0u, tail, 1u, e);
    } else {
        const mve_long_fn f = mve_long_for[nw % 12u];
        if (n >= 2u)
            f(x, w, stride, tail, nw, n / 2u, d);
        if (n & 1u)
            f(x, last, 0u, tail, nw, 1u, e);
    }
    if (n & 1u)
        d[n - 1u] = e[0];
}

int be_dense_bin_mve_supports(const be_op *op)
{
    return be_arm_bin_supports(op) && !be_dense_planes_mve_supports(op) && !be_dense_bin_rows_mve_supports(op) &&
           !be_dense_bin_mve_sign_supports(op);
}

/* acc[0 .. n) = K - 2 popcount(x XOR w_i) of the n rows at w: the paired rows above, then
 * acc four rows at a time (be_mve_rows_fn, for be_mve_dense_rows' stage in lanes). */
static __attribute__((noinline)) void sign_rows(const be_word *w, const be_word *x, uint32_t nw, uint32_t n, int32_t k,
                                                int32_t *acc)
{
    uint32_t i;
    popc_mve(x, w, nw, nw, n, (uint32_t *)acc);
    for (i = 0; i < n; i += 4u) {
        const mve_pred16_t p = vctp32q(n - i);
        vstrwq_p_s32(acc + i, vaddq_n_s32(vmulq_n_s32(vldrwq_z_s32(acc + i, p), -2), k), p);
    }
}

/* Sign rows into the sign stage: the paired rows' counts, the stage in lanes (be_mve_dense_rows):
 * 128 -> 128 0.246 -> 0.226, 256 -> 256 0.159 -> 0.149 instructions per MAC. The score heads stay
 * with the driver's inline scores (128 -> 10: 0.348 there, 0.361 in lanes). Its own table row,
 * so that the heads' calls gain no test. */
int be_dense_bin_mve_sign_supports(const be_op *op)
{
    return be_arm_bin_supports(op) && op->type == BE_OP_DENSE && op->in.encoding == BE_ENC_SIGN &&
           be_stage_is_sign(op) && op->w_row_bytes == op->in.cw * 4u && !be_dense_bin_rows_mve_supports(op);
}

be_status be_dense_bin_mve_sign(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_mve_dense_rows(op, (const be_word *)in, out, sign_rows, (int32_t)op->k);
}

be_status be_dense_bin_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    return be_arm_dense_bin(op, in, out, popc_mve);
}

be_status be_conv2d_bin_mve(const be_op *op, const void *in, void *out, void *scratch)
{
    return be_arm_conv2d_bin(op, in, out, scratch, popc_mve);
}

#else
typedef int be_bin_mve_unused; /* ISO C forbids an empty translation unit */
#endif
