/* be_bin_tab.c -- "tab": binary Conv2d with fewer than 32 input channels (sign bits or unsigned
 * bit-planes x binary weights), plain C for every ARM core, with per-call nibble tables; on the
 * Thumb-2 cores also 3x3 layers with up to 32 channels of 2 bit-planes or sign bits, read from an
 * "offset image" of the input (the section "The offset image" below).
 *
 * With C < 32 a pixel's channel bits sit in one word and a popcount kernel wastes most of it
 * (8 channels: 3 words per 72-bit receptive field after compaction, and on cores without a
 * popcount instruction each word costs ~8 instructions per row). The tables turn the count
 * around: for nibble j of tap t (4 channels) and every 4-bit input value v,
 *     T[t, j, v][o] = popcount(v XOR w_o[t, j])            (0..4, one byte per output channel)
 * packed four output channels to a word. A receptive field then costs, per nibble of input
 * and per 4 output channels, one load and one add: the bytes of the sums d_o = popcount(x XOR
 * w_o) grow by at most 4 per nibble, so they are unpacked into 32-bit sums every 63 nibbles.
 * Built once per call (taps * ceil(C / 4) * 16 entries per 4 outputs) and shared by every
 * output pixel, so they pay on maps of BE_TAB_MIN_PIXELS output pixels or more.
 *
 * Output channels go in blocks of 8 (4 when their tables do not fit BE_TAB_WORDS of stack),
 * which never cross a 32-channel word of the output. Padding pixels are zero bits (+1, or level 0 for bit-planes), the input's
 * padding bits are zero, so only table entries with zero padding bits are ever used; exact like
 * the reference: acc = K - 2 d (sign), acc = sum_p 2^p d_p - (2^P - 1) popcount(w) (bit-planes,
 * be_arm.h). docs/kernels.md has the measurements.
 */
#include "arm/be_arm_kernels.h"

#ifdef BE_ARM_HAVE_U8

#include "arm/be_arm.h"
#include "arm/be_arm_i8.h" /* the saturating steps of the RequantStage (sign_passes) */

#if defined(BE_ARM_HAVE_THUMB1)
#define BE_TAB_WORDS 320u /* 1,280 B of stack: the Cortex-M0 has 4 KiB in all */
#else
#define BE_TAB_WORDS 1152u /* 4.5 KiB of stack: a 3x3 conv on 16 channels in blocks of 8 */
#endif
#if defined(BE_ARM_HAVE_THUMB1)
#define BE_TAB_MIN_PIXELS 64u /* output pixels: the Cortex-M0 is not measured below */
#else
#define BE_TAB_MIN_PIXELS 32u /* output pixels: 7 x 7 x 16 -> 32 on cortex-m4 0.449 vs dsp 0.620 (with
                               * the padded copy); on the M55 only for bit-planes, where it beats
                               * mve (0.933 vs 1.132): on sign bits they tie (0.468 vs 0.465) */
#endif
/* Stack words past the tables for the padded copy of the input (pad_input) or the offset image: it
 * takes what the tables of a layer leave of BE_TAB_WORDS + BE_TAB_PAD_EXTRA. On the Thumb-2 cores
 * 2.25 KiB more (6.75 KiB in all) covers every tab layer of the benchmark models (the padded copy
 * but for the qrelu2 VGG's 28 x 28 x 8 one, 1,800 words of 2 bit-planes, whose offset image is
 * 900 words; the 7 x 7 x 32 one's image and first-pass sums take 520 words past its tables); on
 * the Cortex-M0 a 7 x 7 map. */
#ifndef BE_TAB_PAD_EXTRA /* a RAM-tight build may set it (0: border pixels gather, no extra stack) */
#if defined(BE_ARM_HAVE_THUMB1)
#define BE_TAB_PAD_EXTRA 100u
#else
#define BE_TAB_PAD_EXTRA 576u
#endif
#endif
#if BE_TAB_PAD_EXTRA >= 65536
#error "BE_TAB_PAD_EXTRA must be below 65536 (be_arm_padded_geometry's bound)"
#endif
#define BE_TAB_FLUSH 63u /* lookups between unpacks: 63 * 4 <= 255 */

/* Output channels per block: 8 (two words of byte sums, the fastest on every core measured)
 * or 4 when the tables of 8 do not fit BE_TAB_WORDS (or the layer has at most 4); 0 when not
 * even 4 fit. */
static uint32_t tab_block(const be_op *op)
{
    const uint32_t nb = op->kh * op->kw * ((op->in.c + 3u) / 4u); /* nibble positions */
    if (op->out_ch > 4u && nb * 16u * 2u <= BE_TAB_WORDS)
        return 8u;
    return nb * 16u <= BE_TAB_WORDS ? 4u : 0u;
}

int be_conv2d_bin_tab_supports(const be_op *op)
{
    /* the tables pay off over many output pixels (a 7 x 7 map in blocks of 8 channels runs
     * slower than the popcount kernels: docs/kernels.md) */
    return (op->type == BE_OP_CONV2D && be_arm_bin_supports(op) && op->in.c < 32u && op->in.cw == 1u &&
            op->out.h * op->out.w >= BE_TAB_MIN_PIXELS && tab_block(op) != 0u
#ifdef BE_ARM_HAVE_MVE
            && (op->out.h * op->out.w >= 64u || op->in.encoding == BE_ENC_UNSIGNED)
#endif
                ) ||
           be_conv2d_bin_tab_offsets(op); /* 32 channels too, from the offset image */
}

/* On NEON builds "tab" also comes first where it beats "neon" (docs/kernels.md, aarch64-virt:
 * conv8 0.351 vs 0.590, qrelu2 conv8q2 1.057 vs 2.695; NEON wins on 16 sign channels, 0.221 vs
 * 0.337, and on bit-planes over a 7 x 7 map, 0.870 vs 1.096): at most 8 sign channels, or
 * bit-plane inputs on maps of at least 64 output pixels. */
int be_conv2d_bin_tab_first_supports(const be_op *op)
{
    const uint32_t pixels = op->out.h * op->out.w;
    /* armv7 (Thumb-2) reads up to 16 sign channels from the offset image on 64+ pixels:
     * armv7-virt conv16 tab 0.207, neon 0.282 (on 7 x 7 neon keeps them: 0.236 vs 0.281) */
    return be_conv2d_bin_tab_supports(op) &&
           (op->in.encoding == BE_ENC_UNSIGNED ? pixels >= 64u
                                                : op->in.c <= 8u ||
                                                      (op->in.c <= 16u && pixels >= 64u && be_conv2d_bin_tab_offsets(op)));
}

/* The 16 entries of one nibble position for 4 output channels (one per byte), EW words apart: with
 * w_b the lanes' weight bits b (0 / 1 per byte) and W = w_0 + .. + w_3 (entry 0),
 *     T[v] = W + sum over the bits b set in v of d_b,   d_b = 1 - 2 w_b,
 * a mismatch gained (w_b = 0) or lost (w_b = 1). Every lane stays in 0 .. 4, so adding d_b as one
 * 32-bit number (lanes of -1 borrow from the next, which gives it back) is exact. Returns W. */
#if defined(BE_ARM_T2_ASM)
/* The 16 entries of entries() (EW = 2) from the nibbles in bits 0-3 of wn's bytes, at te + B bytes,
 * W added to pl: 41 instructions (GCC spills the partial sums: 86). */
#define BE_TAB_ENTRIES2(B) \
    "and %[d0], %[wn], %[ones]\n\t" \
    "and %[d1], %[ones], %[wn], lsr #1\n\t" \
    "and %[d2], %[ones], %[wn], lsr #2\n\t" \
    "and %[d3], %[ones], %[wn], lsr #3\n\t" \
    "add %[t0], %[d0], %[d1]\n\t" \
    "add %[t0], %[t0], %[d2]\n\t" \
    "add %[t0], %[t0], %[d3]\n\t" \
    "add %[pl], %[pl], %[t0]\n\t" \
    "sub %[d0], %[ones], %[d0], lsl #1\n\t" \
    "sub %[d1], %[ones], %[d1], lsl #1\n\t" \
    "sub %[d2], %[ones], %[d2], lsl #1\n\t" \
    "sub %[d3], %[ones], %[d3], lsl #1\n\t" \
    "add %[t1], %[t0], %[d0]\n\t" \
    "add %[t2], %[t0], %[d1]\n\t" \
    "add %[t3], %[t1], %[d1]\n\t" \
    "str %[t0], [%[te], #" B "+0]\n\t" \
    "str %[t1], [%[te], #" B "+8]\n\t" \
    "str %[t2], [%[te], #" B "+16]\n\t" \
    "str %[t3], [%[te], #" B "+24]\n\t" \
    "add %[d0], %[t0], %[d3]\n\t" \
    "str %[d0], [%[te], #" B "+64]\n\t" \
    "add %[d0], %[t1], %[d3]\n\t" \
    "str %[d0], [%[te], #" B "+72]\n\t" \
    "add %[d0], %[t2], %[d3]\n\t" \
    "str %[d0], [%[te], #" B "+80]\n\t" \
    "add %[d0], %[t3], %[d3]\n\t" \
    "str %[d0], [%[te], #" B "+88]\n\t" \
    "add %[d0], %[t0], %[d2]\n\t" \
    "add %[t1], %[t1], %[d2]\n\t" \
    "add %[t2], %[t2], %[d2]\n\t" \
    "add %[t3], %[t3], %[d2]\n\t" \
    "str %[d0], [%[te], #" B "+32]\n\t" \
    "str %[t1], [%[te], #" B "+40]\n\t" \
    "str %[t2], [%[te], #" B "+48]\n\t" \
    "str %[t3], [%[te], #" B "+56]\n\t" \
    "add %[d0], %[d0], %[d3]\n\t" \
    "add %[t1], %[t1], %[d3]\n\t" \
    "add %[t2], %[t2], %[d3]\n\t" \
    "add %[t3], %[t3], %[d3]\n\t" \
    "str %[d0], [%[te], #" B "+96]\n\t" \
    "str %[t1], [%[te], #" B "+104]\n\t" \
    "str %[t2], [%[te], #" B "+112]\n\t" \
    "str %[t3], [%[te], #" B "+120]\n\t"
#define BE_TAB_ENTRIES2_OUT                                                                                  \
    [d0] "=&r"(d0), [d1] "=&r"(d1), [d2] "=&r"(d2), [d3] "=&r"(d3), [t0] "=&r"(t0), [t1] "=&r"(t1),          \
        [t2] "=&r"(t2), [t3] "=&r"(t3), [pl] "+&r"(pl)
#endif

static inline uint32_t entries(uint32_t wn, be_word *te, uint32_t ew)
{
#if defined(BE_ARM_T2_ASM)
    if (ew == 2u) {
        uint32_t d0, d1, d2, d3, t0, t1, t2, t3, pl = 0u;
        __asm__ volatile(BE_TAB_ENTRIES2("0") : BE_TAB_ENTRIES2_OUT : [wn] "r"(wn), [te] "r"(te), [ones] "r"(0x01010101u)
                : "memory");
        return pl;
    }
#endif
    const uint32_t ones = 0x01010101u;
    const uint32_t w0 = wn & ones, w1 = (wn >> 1) & ones, w2 = (wn >> 2) & ones, w3 = (wn >> 3) & ones;
    const uint32_t t0 = w0 + w1 + w2 + w3;
    const uint32_t d0 = ones - 2u * w0, d1 = ones - 2u * w1, d2 = ones - 2u * w2, d3 = ones - 2u * w3;
    const uint32_t t1 = t0 + d0, t2 = t0 + d1, t3 = t1 + d1;
    const uint32_t t4 = t0 + d2, t5 = t1 + d2, t6 = t2 + d2, t7 = t3 + d2;
    te[0] = t0, te[ew] = t1, te[2u * ew] = t2, te[3u * ew] = t3;
    te[4u * ew] = t4, te[5u * ew] = t5, te[6u * ew] = t6, te[7u * ew] = t7;
    te[8u * ew] = t0 + d3, te[9u * ew] = t1 + d3, te[10u * ew] = t2 + d3, te[11u * ew] = t3 + d3;
    te[12u * ew] = t4 + d3, te[13u * ew] = t5 + d3, te[14u * ew] = t6 + d3, te[15u * ew] = t7 + d3;
    return t0;
}

/* entries() (EW = 2) of two nibble positions: bits 0-3 of wn's bytes at te, bits 4-7 at te + 32
 * words; returns the sum of both W */
static inline uint32_t entries_pair(uint32_t wn, be_word *te)
{
#if defined(BE_ARM_T2_ASM)
    uint32_t d0, d1, d2, d3, t0, t1, t2, t3, pl = 0u;
    __asm__ volatile(BE_TAB_ENTRIES2("0") "lsr %[wn], %[wn], #4\n\t" BE_TAB_ENTRIES2("128")
            : BE_TAB_ENTRIES2_OUT, [wn] "+&r"(wn)
            : [te] "r"(te), [ones] "r"(0x01010101u)
            : "memory");
    return pl;
#else
    return entries(wn, te, 2u) + entries(wn >> 4, te + 32, 2u);
#endif
}

/* byte k of four weight words, one per byte: nibble 2k of each in bits 0-3 of its byte, and
 * nibble 2k + 1 there after a shift by 4 (entries reads bits 0-3 of each byte only) */
static inline uint32_t bytes4(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t sh)
{
    return ((a >> sh) & 255u) | ((b >> sh) & 255u) << 8 | ((c >> sh) & 255u) << 16 | (d >> sh) << 24;
}

/* bytes4(a, b, c, d, 8k) for k = 0, 1 (hi: k = 2, 3) into *e, *o: even bytes by masks and shifted
 * ORs, then one halfword pack each (PKHBT / PKHTB on Thumb-2: ~14 instructions for both, where
 * bytes4 takes ~19 for one) */
static inline void byte_columns2(uint32_t a, uint32_t b, uint32_t c, uint32_t d, int hi, uint32_t *e, uint32_t *o)
{
    const uint32_t m = 0x00FF00FFu;
    const uint32_t e_ab = (a & m) | (b & m) << 8, e_cd = (c & m) | (d & m) << 8;       /* bytes 0, 2 */
    const uint32_t o_ab = ((a >> 8) & m) | (b & ~m), o_cd = ((c >> 8) & m) | (d & ~m); /* bytes 1, 3 */
    if (hi) {
        *e = e_ab >> 16 | (e_cd & 0xFFFF0000u);
        *o = o_ab >> 16 | (o_cd & 0xFFFF0000u);
    } else {
        *e = (e_ab & 0xFFFFu) | e_cd << 16;
        *o = (o_ab & 0xFFFFu) | o_cd << 16;
    }
}

/* The tables of output channels [o0, o0 + n) (n <= 4) as words of 4 byte counts: entry
 * (pos, v) at tab + pos * 16 + v; pw[i] = popcount(w_{o0 + i}) (for bit-planes). Channels past n
 * get weights 0 (their lanes are masked off by the callers). */
static __attribute__((noinline)) void build_1(const be_op *op, uint32_t o0, uint32_t n, be_word *tab, uint32_t *pw)
{
    const uint32_t taps = op->kh * op->kw, nj = (op->in.c + 3u) / 4u;
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * taps; /* (O, KH, KW, 1 word) */
    uint32_t t, j, i, pl = 0u, left = BE_TAB_FLUSH;
    for (i = 0; i < 4u; i++)
        pw[i] = 0u;
    for (t = 0; t < taps; t++) {
        const uint32_t c0 = w[t], c1 = n > 1u ? w[taps + t] : 0u, c2 = n > 2u ? w[2u * taps + t] : 0u;
        const uint32_t c3 = n > 3u ? w[3u * taps + t] : 0u;
        for (j = 0; j < nj; j++, tab += 16u) {
            pl += entries(bytes4(c0, c1, c2, c3, 4u * j), tab, 1u);
            if (--left == 0u) { /* the lanes' counts grow by <= 4 per position */
                for (i = 0; i < 4u; i++)
                    pw[i] += (pl >> (8u * i)) & 255u;
                pl = 0u;
                left = BE_TAB_FLUSH;
            }
        }
    }
    for (i = 0; i < 4u; i++)
        pw[i] += (pl >> (8u * i)) & 255u;
}

/* One table position of 8 output channels (entries of 2 words, 8 bytes apart, at te + OFF) from the
 * nibbles at bit SH.. of the bytes of the words at cp (group A: channels 0-3) and cp + 4 (group B:
 * 4-7), both groups at once so that every entry is one STRD: d_b = the lanes' weight bits b,
 * entry 0 = W = d_0 + .. + d_3, then the 15 others in Gray-code order, each one step of
 * +-(1 - 2 d_b) from the one before (the lanes stay in 0 .. 4: the borrows cancel, see entries).
 * 70 instructions where two entries() take 83. */
#if defined(BE_ARM_T2_ASM)
#define BE_TAB_D(R, W, SH) "and %[" R "], %[ones], %[" W "], lsr #" SH "\n\t"
#define BE_TAB_STEP(OP, B, OFF, V) \
    OP " %[ea], %[ea], %[a" B "]\n\t" OP " %[eb], %[eb], %[b" B "]\n\t" \
    "strd %[ea], %[eb], [%[te], #(" OFF ")+8*" V "]\n\t"
#define BE_TAB_POS8(CP, FIRST_A, FIRST_B, SH1, SH2, SH3, OFF) \
    "ldr %[ea], [%[cp], #" CP "]\n\t" FIRST_A BE_TAB_D("a1", "ea", SH1) BE_TAB_D("a2", "ea", SH2) \
    BE_TAB_D("a3", "ea", SH3) \
    "ldr %[ea], [%[cp], #" CP "+4]\n\t" FIRST_B BE_TAB_D("b1", "ea", SH1) BE_TAB_D("b2", "ea", SH2) \
    BE_TAB_D("b3", "ea", SH3) \
    "add %[ea], %[a0], %[a1]\n\t" "add %[ea], %[ea], %[a2]\n\t" "add %[ea], %[ea], %[a3]\n\t" \
    "add %[eb], %[b0], %[b1]\n\t" "add %[eb], %[eb], %[b2]\n\t" "add %[eb], %[eb], %[b3]\n\t" \
    "sub %[a0], %[ones], %[a0], lsl #1\n\t" "sub %[a1], %[ones], %[a1], lsl #1\n\t" \
    "sub %[a2], %[ones], %[a2], lsl #1\n\t" "sub %[a3], %[ones], %[a3], lsl #1\n\t" \
    "sub %[b0], %[ones], %[b0], lsl #1\n\t" "sub %[b1], %[ones], %[b1], lsl #1\n\t" \
    "sub %[b2], %[ones], %[b2], lsl #1\n\t" "sub %[b3], %[ones], %[b3], lsl #1\n\t" \
    "strd %[ea], %[eb], [%[te], #" OFF "]\n\t" \
    BE_TAB_STEP("add", "0", OFF, "1") BE_TAB_STEP("add", "1", OFF, "3") BE_TAB_STEP("sub", "0", OFF, "2") \
    BE_TAB_STEP("add", "2", OFF, "6") BE_TAB_STEP("add", "0", OFF, "7") BE_TAB_STEP("sub", "1", OFF, "5") \
    BE_TAB_STEP("sub", "0", OFF, "4") BE_TAB_STEP("add", "3", OFF, "12") BE_TAB_STEP("add", "0", OFF, "13") \
    BE_TAB_STEP("add", "1", OFF, "15") BE_TAB_STEP("sub", "0", OFF, "14") BE_TAB_STEP("sub", "2", OFF, "10") \
    BE_TAB_STEP("add", "0", OFF, "11") BE_TAB_STEP("sub", "1", OFF, "9") BE_TAB_STEP("sub", "0", OFF, "8")
/* positions from the low nibbles (SH 0: no shift) and the high ones (SH 4) of a byte column pair */
#define BE_TAB_POS8_LO(CP, OFF) \
    BE_TAB_POS8(CP, "and %[a0], %[ones], %[ea]\n\t", "and %[b0], %[ones], %[ea]\n\t", "1", "2", "3", OFF)
#define BE_TAB_POS8_HI(CP, OFF) \
    BE_TAB_POS8(CP, BE_TAB_D("a0", "ea", "4"), BE_TAB_D("b0", "ea", "4"), "5", "6", "7", OFF)

/* The tables of 2 (the even byte columns col[0], col[1]) or 4 positions (and the odd ones col[2],
 * col[3]) of 8 output channels at te, 32 words per position. */
static __attribute__((noinline)) void pos8_tables(const uint32_t *col, be_word *te, uint32_t npos)
{
    uint32_t ea, eb, a0, a1, a2, a3, b0, b1, b2, b3;
    const uint32_t *cp = col;
#define BE_TAB_POS8_OPERANDS                                                                                 \
    : [ea] "=&r"(ea), [eb] "=&r"(eb), [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3),        \
      [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2), [b3] "=&r"(b3)                                          \
    : [cp] "r"(cp), [te] "r"(te), [ones] "r"(0x01010101u)                                                    \
    : "memory"
    if (npos == 4u)
        __asm__ volatile(BE_TAB_POS8_LO("0", "0") BE_TAB_POS8_HI("0", "128") BE_TAB_POS8_LO("8", "256")
                             BE_TAB_POS8_HI("8", "384") BE_TAB_POS8_OPERANDS);
    else
        __asm__ volatile(BE_TAB_POS8_LO("0", "0") BE_TAB_POS8_HI("0", "128") BE_TAB_POS8_OPERANDS);
#undef BE_TAB_POS8_OPERANDS
}
#endif

/* The same for blocks of 8 (EW = 2) and the nibbles j0 .. j0 + nj_tab - 1 only (tables of nj_tab
 * positions per tap, all in one weight word of the tap: j0 % 8 + nj_tab <= 8), the tap's eight
 * weight words in registers */
static __attribute__((noinline)) void build_2j(const be_op *op, uint32_t o0, uint32_t n, be_word *tab, uint32_t *pw,
                                               uint32_t j0, uint32_t nj_tab)
{
    const uint32_t taps = op->kh * op->kw, cw = op->in.cw, row = taps * cw; /* (O, KH, KW, cw words) */
    const uint32_t jb = j0 % 8u, nj = jb + nj_tab; /* the tables of nibbles jb .. nj - 1 of word j0 / 8 */
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * row + j0 / 8u;
    uint32_t t, j, i, pl0 = 0u, pl1 = 0u, left = BE_TAB_FLUSH / 2u;
    for (i = 0; i < 8u; i++)
        pw[i] = 0u;
    for (t = 0; t < taps; t++, w += cw) {
        /* the tap's byte columns first (channels 0-3, 4-7 per pair of nibbles), so that no weight
         * word stays live across the table asm (GCC spilled all eight around it) */
        uint32_t col[8], k;
        {
            const uint32_t c0 = w[0], c1 = n > 1u ? w[row] : 0u, c2 = n > 2u ? w[2u * row] : 0u;
            const uint32_t c3 = n > 3u ? w[3u * row] : 0u, c4 = n > 4u ? w[4u * row] : 0u;
            const uint32_t c5 = n > 5u ? w[5u * row] : 0u, c6 = n > 6u ? w[6u * row] : 0u;
            const uint32_t c7 = n > 7u ? w[7u * row] : 0u;
            if (nj_tab == 4u) { /* bytes jb / 2 and jb / 2 + 1: two byte columns of each group */
                byte_columns2(c0, c1, c2, c3, jb >= 4u, &col[0], &col[2]);
                byte_columns2(c4, c5, c6, c7, jb >= 4u, &col[1], &col[3]);
            } else {
                for (j = jb, k = 0; j < nj; j += 2u, k += 2u) {
                    col[k] = bytes4(c0, c1, c2, c3, 4u * j);
                    col[k + 1u] = bytes4(c4, c5, c6, c7, 4u * j);
                }
            }
        }
#if defined(BE_ARM_T2_ASM)
        if (nj_tab == 4u || nj_tab == 2u) { /* both groups at once (col: A, B per byte); W = entry 0 */
            pos8_tables(col, tab, nj_tab);
            for (k = 0; k < nj_tab; k++, tab += 32u) {
                pl0 += tab[0];
                pl1 += tab[1];
            }
            left -= 2u; /* the lanes grow by <= 4 per position: 16 per tap, as two pairs */
            if (left < 2u) {
                for (i = 0; i < 4u; i++) {
                    pw[i] += (pl0 >> (8u * i)) & 255u;
                    pw[4u + i] += (pl1 >> (8u * i)) & 255u;
                }
                pl0 = pl1 = 0u;
                left = BE_TAB_FLUSH / 2u;
            }
            continue;
        }
#endif
        for (j = jb, k = 0; j < nj; j += 2u, k += 2u) { /* nibbles j and j + 1 */
            if (j + 1u < nj) {
                pl0 += entries_pair(col[k], tab);
                pl1 += entries_pair(col[k + 1u], tab + 1);
                tab += 64u;
            } else {
                pl0 += entries(col[k], tab, 2u);
                pl1 += entries(col[k + 1u], tab + 1, 2u);
                tab += 32u;
            }
            if (--left == 0u) { /* the lanes' counts grow by <= 8 per pair of positions */
                for (i = 0; i < 4u; i++) {
                    pw[i] += (pl0 >> (8u * i)) & 255u;
                    pw[4u + i] += (pl1 >> (8u * i)) & 255u;
                }
                pl0 = pl1 = 0u;
                left = BE_TAB_FLUSH / 2u;
            }
        }
    }
    for (i = 0; i < 4u; i++) {
        pw[i] += (pl0 >> (8u * i)) & 255u;
        pw[4u + i] += (pl1 >> (8u * i)) & 255u;
    }
}

static void build(const be_op *op, uint32_t o0, uint32_t n, uint32_t ew, be_word *tab, uint32_t *pw)
{
    if (ew == 1u)
        build_1(op, o0, n, tab, pw);
    else
        build_2j(op, o0, n, tab, pw, 0u, (op->in.c + 3u) / 4u);
}

/* d[4e + b] (+)= byte b of a[e] << shift (assigned when `set`); a[e] = 0 */
static inline void unpack(uint32_t *a, uint32_t ew, uint32_t *d, uint32_t shift, int set)
{
    uint32_t e;
    for (e = 0; e < ew; e++, d += 4) {
        const uint32_t x = a[e];
        const uint32_t b0 = (x & 255u) << shift, b1 = ((x >> 8) & 255u) << shift;
        const uint32_t b2 = ((x >> 16) & 255u) << shift, b3 = (x >> 24) << shift;
        if (set) {
            d[0] = b0, d[1] = b1, d[2] = b2, d[3] = b3;
        } else {
            d[0] += b0, d[1] += b1, d[2] += b2, d[3] += b3;
        }
        a[e] = 0u;
    }
}

/* The lookups of one tap: a[e] += T[j, nibble j of x][e] for j < nj, the tables of the tap at
 * tab. Unrolled (a switch that falls through), so every table offset is a constant. */
#define BE_TAB_NIB(j)                                                                                        \
    do {                                                                                                     \
        const be_word *en_ = tab + (((x >> (4u * (j))) & 15u) + 16u * (j)) * ew_c;                           \
        for (e = 0; e < ew_c; e++)                                                                           \
            a[e] += en_[e];                                                                                  \
    } while (0)
#define BE_TAB_TAP                                                                                           \
    switch (nj) {                                                                                            \
    default: BE_TAB_NIB(7); /* fall through */                                                               \
    case 7: BE_TAB_NIB(6); /* fall through */                                                                \
    case 6: BE_TAB_NIB(5); /* fall through */                                                                \
    case 5: BE_TAB_NIB(4); /* fall through */                                                                \
    case 4: BE_TAB_NIB(3); /* fall through */                                                                \
    case 3: BE_TAB_NIB(2); /* fall through */                                                                \
    case 2: BE_TAB_NIB(1); /* fall through */                                                                \
    case 1: BE_TAB_NIB(0);                                                                                   \
    }

/* The receptive field's taps, row by row (KH rows of KW words, row_step / col_step apart), each
 * looked up after the statement BEFORE (a macro name: unpacking when due, or nothing). */
#define BE_TAB_FIELD(BEFORE)                                                                                 \
    for (ky = 0; ky < kh; ky++, x0 += row_step) {                                                            \
        const be_word *xp = x0;                                                                              \
        for (kx = 0; kx < kw; kx++, xp += col_step, tab += tap_words) {                                      \
            const uint32_t x = *xp;                                                                          \
            BEFORE                                                                                           \
            BE_TAB_TAP                                                                                       \
        }                                                                                                    \
    }
#define BE_TAB_UNPACK_DUE                                                                                    \
    if (left < nj) {                                                                                         \
        unpack(a, ew_c, d, shift, set);                                                                      \
        set = 0;                                                                                             \
        left = BE_TAB_FLUSH;                                                                                 \
    }                                                                                                        \
    left -= nj;
#define BE_TAB_NOTHING

/* One plane of one output pixel: d[0 .. 4 * EW) (+)= (the sum over the receptive field of the
 * table entries) << shift, d assigned when `set`. The receptive field: KH rows of KW words,
 * word (ky, kx) at x0[ky * row_step + kx * col_step] (the input itself inside the image, else
 * a gathered copy with padding words 0); nj nibbles per word. The byte sums stay in registers
 * (EW is a constant in each instance) and are unpacked only every BE_TAB_FLUSH nibbles. */
#define BE_TAB_PIXEL(EW)                                                                                     \
    static void pixel_##EW(const be_word *tab, const be_word *x0, uint32_t row_step, uint32_t col_step,      \
                           uint32_t kh, uint32_t kw, uint32_t nj, uint32_t *d, uint32_t shift, int set)      \
    {                                                                                                        \
        enum { ew_c = EW };                                                                                  \
        uint32_t a[EW], ky, kx, e, left = BE_TAB_FLUSH;                                                      \
        const uint32_t tap_words = 16u * EW * nj;                                                            \
        for (e = 0; e < EW; e++)                                                                             \
            a[e] = 0u;                                                                                       \
        BE_TAB_FIELD(BE_TAB_UNPACK_DUE)                                                                      \
        unpack(a, EW, d, shift, set);                                                                        \
    }
BE_TAB_PIXEL(1)
BE_TAB_PIXEL(2)

typedef void (*tab_pixel_fn)(const be_word *, const be_word *, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                             uint32_t *, uint32_t, int);

/* The fast path of a sign-bit receptive field of at most BE_TAB_FLUSH nibbles: out[e] = the
 * byte sums themselves (d of channels 4e .. 4e + 3, one per byte), any kernel and nj. */
#define BE_TAB_SUMS(EW)                                                                                      \
    static void sums_##EW(const be_word *tab, const be_word *x0, uint32_t row_step, uint32_t col_step,      \
                                 uint32_t kh, uint32_t kw, uint32_t nj, uint32_t *out)                       \
    {                                                                                                        \
        enum { ew_c = EW };                                                                                  \
        const uint32_t tap_words = 16u * EW * nj;                                                            \
        uint32_t a[EW], ky, kx, e;                                                                           \
        for (e = 0; e < EW; e++)                                                                             \
            a[e] = 0u;                                                                                       \
        BE_TAB_FIELD(BE_TAB_NOTHING)                                                                         \
        for (e = 0; e < EW; e++)                                                                             \
            out[e] = a[e];                                                                                   \
    }
BE_TAB_SUMS(1)
BE_TAB_SUMS(2)

typedef void (*tab_sums_fn)(const be_word *, const be_word *, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                            uint32_t *);

/* The byte sums of one 3x3 receptive field (one plane), blocks of 8 channels (2 words per table
 * entry), in Thumb-2 assembly: GCC's code for BE_TAB_T33 computes all 18 - 36 entry addresses
 * first and spills them (about 11 instructions per lookup). Here a lookup is UBFX (the nibble),
 * ADD (entry address), LDRD (the two words) and two ADDs, and the table pointer steps one tap
 * at a time so every LDRD offset stays under 1020. The taps of row r are at rows[r] + (kx * CS
 * + PL) words: OFFS gives the three byte offsets of a row as string literals. */
#if defined(BE_ARM_T2_ASM)
#define BE_TAB_ASM_NIB(SH, OFF)                                                                              \
    "ubfx %[t], %[x], #" SH ", #4\n\t"                                                                       \
    "add %[t], %[tb], %[t], lsl #3\n\t"                                                                      \
    "ldrd %[p], %[q], [%[t], #" OFF "]\n\t"                                                                  \
    "add %[a0], %[a0], %[p]\n\t"                                                                             \
    "add %[a1], %[a1], %[q]\n\t"
#define BE_TAB_ASM_TAP2(ROW, OFF)                                                                            \
    "ldr %[x], [%[" ROW "], #" OFF "]\n\t" BE_TAB_ASM_NIB("0", "0") BE_TAB_ASM_NIB("4", "128")                \
    "add %[tb], %[tb], #256\n\t"
#define BE_TAB_ASM_TAP4(ROW, OFF)                                                                            \
    "ldr %[x], [%[" ROW "], #" OFF "]\n\t" BE_TAB_ASM_NIB("0", "0") BE_TAB_ASM_NIB("4", "128")                \
    BE_TAB_ASM_NIB("8", "256") BE_TAB_ASM_NIB("12", "384") "add %[tb], %[tb], #512\n\t"
#define BE_TAB_ASM_ROWS(TAP, O0, O1, O2)                                                                     \
    TAP("r0", O0) TAP("r0", O1) TAP("r0", O2) TAP("r1", O0) TAP("r1", O1) TAP("r1", O2) TAP("r2", O0)        \
    TAP("r2", O1) TAP("r2", O2)
#define BE_TAB_ASM33(NAME, TAP, O0, O1, O2)                                                                  \
    static inline __attribute__((always_inline)) void NAME(const be_word *tab, const be_word *x0,            \
                                                           uint32_t row_words, uint32_t *s)                  \
    {                                                                                                        \
        const be_word *tb = tab, *r0 = x0, *r1 = x0 + row_words, *r2 = r1 + row_words;                       \
        uint32_t a0 = 0u, a1 = 0u, x, t, p, q;                                                               \
        __asm__(BE_TAB_ASM_ROWS(TAP, O0, O1, O2)                                                             \
                : [a0] "+&r"(a0), [a1] "+&r"(a1), [tb] "+&r"(tb), [x] "=&r"(x), [t] "=&r"(t), [p] "=&r"(p),   \
                  [q] "=&r"(q)                                                                               \
                : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2)                                                   \
                : "memory");                                                                                 \
        s[0] = a0;                                                                                           \
        s[1] = a1;                                                                                           \
    }
BE_TAB_ASM33(field33_2, BE_TAB_ASM_TAP2, "0", "4", "8")   /* sign bits, 8 channels */
BE_TAB_ASM33(field33_4, BE_TAB_ASM_TAP4, "0", "4", "8")   /* sign bits, 16 channels */
BE_TAB_ASM33(field33_p0, BE_TAB_ASM_TAP2, "0", "8", "16") /* plane 0 of 2, 8 channels */
BE_TAB_ASM33(field33_p1, BE_TAB_ASM_TAP2, "4", "12", "20") /* plane 1 of 2 */
BE_TAB_ASM33(field33_4p0, BE_TAB_ASM_TAP4, "0", "8", "16") /* plane 0 of 2, 16 channels */
BE_TAB_ASM33(field33_4p1, BE_TAB_ASM_TAP4, "4", "12", "20") /* plane 1 of 2, 16 channels */
#endif

/* The same for a 3x3 kernel, fully unrolled: each lookup is one address (table base + nibble *
 * 4 EW bytes) and loads at constant offsets; the input rows at x0, x0 + row_step, x0 + 2 row_step,
 * their taps col_step words apart. */
#define BE_TAB_N33(t, j, x)                                                                                  \
    do {                                                                                                     \
        const be_word *en_ = tab + (((x) >> (4u * (j))) & 15u) * ew33;                                      \
        for (e = 0; e < ew33; e++)                                                                           \
            a[e] += en_[((t) * nj33 + (j)) * 16u * ew33 + e];                                               \
    } while (0)
#define BE_TAB_T33(t, xv)                                                                                    \
    do {                                                                                                     \
        const uint32_t x_ = (xv);                                                                            \
        BE_TAB_N33(t, 0u, x_);                                                                               \
        if (nj33 > 1)                                                                                        \
            BE_TAB_N33(t, 1u, x_);                                                                           \
        if (nj33 > 2)                                                                                        \
            BE_TAB_N33(t, 2u, x_);                                                                           \
        if (nj33 > 3)                                                                                        \
            BE_TAB_N33(t, 3u, x_);                                                                           \
    } while (0)
/* with the assembly, a field whose taps are one word apart (sign bits; gathered border pixels) */
#if defined(BE_ARM_T2_ASM)
#define BE_TAB_SUMS33_ASM(NJ)                                                                                \
    if (col_step == 1u) {                                                                                    \
        field33_##NJ(tab, x0, row_step, out);                                                                \
        return;                                                                                              \
    }
#else
#define BE_TAB_SUMS33_ASM(NJ)
#endif
#define BE_TAB_SUMS33(EW, NJ)                                                                                \
    static void sums33_##EW##_##NJ(const be_word *tab, const be_word *x0, uint32_t row_step,                  \
                                   uint32_t col_step, uint32_t kh, uint32_t kw, uint32_t nj, uint32_t *out)  \
    {                                                                                                        \
        enum { ew33 = EW, nj33 = NJ };                                                                       \
        const be_word *r1 = x0 + row_step, *r2 = r1 + row_step;                                              \
        const uint32_t c2 = 2u * col_step;                                                                   \
        uint32_t a[EW], e;                                                                                   \
        (void)kh, (void)kw, (void)nj;                                                                        \
        BE_TAB_SUMS33_ASM(NJ)                                                                                \
        for (e = 0; e < EW; e++)                                                                             \
            a[e] = 0u;                                                                                       \
        BE_TAB_T33(0, x0[0]);                                                                                \
        BE_TAB_T33(1, x0[col_step]);                                                                         \
        BE_TAB_T33(2, x0[c2]);                                                                               \
        BE_TAB_T33(3, r1[0]);                                                                                \
        BE_TAB_T33(4, r1[col_step]);                                                                         \
        BE_TAB_T33(5, r1[c2]);                                                                               \
        BE_TAB_T33(6, r2[0]);                                                                                \
        BE_TAB_T33(7, r2[col_step]);                                                                         \
        BE_TAB_T33(8, r2[c2]);                                                                               \
        for (e = 0; e < EW; e++)                                                                             \
            out[e] = a[e];                                                                                   \
    }
BE_TAB_SUMS33(2, 2)
BE_TAB_SUMS33(2, 4)

static tab_sums_fn sums_for(uint32_t ew, uint32_t nj, uint32_t kh, uint32_t kw)
{
    if (kh == 3u && kw == 3u && ew == 2u && (nj == 2u || nj == 4u))
        return nj == 2u ? sums33_2_2 : sums33_2_4;
    return ew == 1u ? sums_1 : sums_2;
}

/* The sign stage in the byte domain (fast path): with acc = K - 2d, the output bit is 1 when
 *     direction +1:  K - 2d < t   <=>  d >= floor((K - t) / 2) + 1
 *     direction -1:  t > 2d - K   <=>  NOT d >= ceil((K + t) / 2)
 * so bit = (d >= T) XOR flip, T clamped to [0, 255] (d <= 4 * BE_TAB_FLUSH = 252, so T = 255
 * is never reached and T = 0 always is). Byte c of tw[c / 4] = T of channel o0 + c of the block
 * of n <= 8, of fw[c / 4] = 0xFF for direction -1: the layout of the sums. */
/* T of the sign stage on d (bit = (d >= T) XOR (direction < 0)), unclamped */
static int64_t sign_threshold(int64_t k, int8_t dir, int32_t t)
{
    if (dir > 0) { /* floor((K - t) / 2) + 1 */
        const int64_t m = k - t;
        return (m >= 0 ? m / 2 : -((-m + 1) / 2)) + 1;
    } else { /* ceil((K + t) / 2) */
        const int64_t m = k + t;
        return m >= 0 ? (m + 1) / 2 : -((-m) / 2);
    }
}

static void byte_thresholds(const be_op *op, uint32_t o0, uint32_t n, uint32_t *tw, uint32_t *fw)
{
    const int8_t *dir = (const int8_t *)op->stage_a + o0;
    const int32_t *t = (const int32_t *)op->stage_b + o0;
    uint32_t o;
    tw[0] = tw[1] = fw[0] = fw[1] = 0u;
    for (o = 0; o < 8u; o++) {
        /* channels beyond the block: 255, masked off */
        const int64_t v = o < n ? sign_threshold((int64_t)op->k, dir[o], t[o]) : 255;
        tw[o / 4u] |= (uint32_t)(v < 0 ? 0 : v > 255 ? 255 : v) << (8u * (o % 4u));
        fw[o / 4u] |= (o < n && dir[o] < 0 ? 0xFFu : 0u) << (8u * (o % 4u));
    }
}

/* bits 0 .. 3: (byte c of sums >= byte c of tw) XOR bit 0 of byte c of fw */
static inline uint32_t bits4(uint32_t sums, uint32_t tw, uint32_t fw)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
    uint32_t r; /* USUB8 sets the GE flags of the bytes with sum >= T; SEL picks ~flip or flip */
    __asm__("usub8 %0, %1, %2\n\tsel %0, %3, %4" : "=&r"(r) : "r"(sums), "r"(tw), "r"(~fw), "r"(fw));
    /* bytes 0x01 / 0x00 -> bits 21 .. 24 (lane i lands at 8i + 7(3 - i) = 21 + i) */
    return ((r & 0x01010101u) * 0x00204081u) >> 21 & 15u;
#else
    uint32_t bits = 0u, c;
    for (c = 0; c < 4u; c++)
        bits |= ((uint32_t)(((sums >> (8u * c)) & 255u) >= ((tw >> (8u * c)) & 255u)) ^ ((fw >> (8u * c)) & 1u)) << c;
    return bits;
#endif
}

/* bits 0 .. 4 * ew - 1 of a block from its byte sums (thresholds as words: byte_thresholds) */
static inline uint32_t byte_bits(const uint32_t *sums, const uint32_t *tw, const uint32_t *fw, uint32_t ew)
{
    return ew == 1u ? bits4(sums[0], tw[0], fw[0]) : bits4(sums[0], tw[0], fw[0]) | bits4(sums[1], tw[1], fw[1]) << 4;
}

/* A run of interior output pixels of one output row of a 3x3 sign layer with 8 or 16 input
 * channels, a block of 8 output channels: BE_TAB_SUMS33 and the thresholds pixel after pixel,
 * without a call per pixel. */
typedef struct {
    const be_word *tab;
    uint32_t row_step, sw;           /* input words per image row; per output column */
    uint32_t word_step, shift, mask; /* output words per pixel; the block's bit offset, its mask */
    uint32_t tw[2], fw[2];           /* byte thresholds and flips */
} tab_row;

#if defined(BE_ARM_T2_ASM)
#define BE_TAB_FIELD33_2(tab, x0, rs, a) field33_2(tab, x0, rs, a)
#define BE_TAB_FIELD33_4(tab, x0, rs, a) field33_4(tab, x0, rs, a)
#else
#define BE_TAB_FIELD33_2(tab, x0, rs, a) sums33_2_2(tab, x0, rs, 1u, 3u, 3u, 2u, a)
#define BE_TAB_FIELD33_4(tab, x0, rs, a) sums33_2_4(tab, x0, rs, 1u, 3u, 3u, 4u, a)
#endif

#define BE_TAB_ROW33(NJ)                                                                                     \
    static void row33_##NJ(const tab_row *rw, const be_word *x0, be_word *word, uint32_t count)              \
    {                                                                                                        \
        const be_word *tab = rw->tab;                                                                        \
        const uint32_t rs = rw->row_step;                                                                    \
        for (; count != 0u; count--, x0 += rw->sw, word += rw->word_step) {                                  \
            uint32_t a[2], bits;                                                                             \
            BE_TAB_FIELD33_##NJ(tab, x0, rs, a);                                                             \
            bits = (bits4(a[0], rw->tw[0], rw->fw[0]) | bits4(a[1], rw->tw[1], rw->fw[1]) << 4) & rw->mask;  \
            *word = rw->shift == 0u ? bits : *word | bits << rw->shift;                                      \
        }                                                                                                    \
    }
BE_TAB_ROW33(2)
BE_TAB_ROW33(4)

/* ---- Bit-plane inputs with the threshold stage in the byte domain ----------------------------
 * For P planes, S = sum_p 2^p d_p with d_p = popcount(b_p XOR w) per channel and acc = S - (2^P - 1)
 * popcount(w) (be_arm.h). When (2^P - 1) * 4 * (nibbles of the receptive field) <= 254 (qrelu2
 * input, 3x3 kernel, 8 channels: 3 * 4 * 18 = 216), S fits a byte lane: the planes' byte sums
 * are added shifted (S = s_0 + 2 s_1 + ...) and compared with per-lane thresholds, like the sign
 * fast path. Level k holds when direction * acc >= T_k:
 *     direction +1:  S >= T_k + top * pw                         (ge_k)
 *     direction -1:  S <= top * pw - T_k  =  NOT S >= top * pw - T_k + 1
 * so with G = the number of lanes' ge_k, the level is G (direction +1) or L - G (direction -1),
 * and L - G = G XOR L when L = 2^Q - 1 (the unsigned output of Q planes). The sign output (L =
 * 1) wants bit = 1 - level = G XOR (1 for direction +1). Thresholds clamp to [0, 255]: S <= 254,
 * so 0 always holds and 255 never does. */
#define BE_TAB_MAX_LEVELS 3u

typedef struct {
    const be_word *tab;
    uint32_t row_step, col_step, sw; /* input words per image row, per pixel; pixels per output column */
    uint32_t word_step, plane_step;  /* output words per pixel, per output plane */
    uint32_t shift, mask;            /* the block's bit offset in its output word, its channel mask */
    uint32_t levels, out_planes;
    uint32_t u[BE_TAB_MAX_LEVELS][2], f[2]; /* per-lane thresholds of each level; the XOR of G */
    uint32_t hu[BE_TAB_MAX_LEVELS][4], hf[4]; /* the same in halfword lanes (see levels_in_halves) */
    uint32_t ue[BE_TAB_MAX_LEVELS][2], uo[BE_TAB_MAX_LEVELS][2], fe[2], fo[2]; /* u, f split (no DSP) */
} tab_levels;

/* Whether a bit-plane layer's threshold stage can run in the byte domain (see above). */
static int levels_in_bytes(const be_op *op, uint32_t nj)
{
    const uint32_t top = (1u << op->in.planes) - 1u, q = op->out.planes;
    if (op->in.encoding != BE_ENC_UNSIGNED || op->stage != BE_STAGE_THRESHOLD ||
        top * 4u * op->kh * op->kw * nj > 254u)
        return 0;
    return be_stage_is_sign(op) ||
           (op->encoding == BE_ENC_UNSIGNED && op->levels <= BE_TAB_MAX_LEVELS && op->levels == (1u << q) - 1u);
}

/* The same in halfword lanes, for fields too large for a byte but whose per-plane byte sums fit
 * (at most BE_TAB_FLUSH nibbles; 16 channels of qrelu2, 3x3: S <= 3 * 4 * 36 = 432): the planes'
 * byte sums widened (UXTB16 lanes: channels 0 and 2, 1 and 3 of each word), added shifted, and
 * compared with USUB16 / SEL; thresholds clamp to [0, 65535] (S <= 65534). */
static int levels_in_halves(const be_op *op, uint32_t nj)
{
    const uint32_t top = (1u << op->in.planes) - 1u, nibbles = op->kh * op->kw * nj, q = op->out.planes;
    if (op->in.encoding != BE_ENC_UNSIGNED || op->stage != BE_STAGE_THRESHOLD || nibbles > BE_TAB_FLUSH ||
        top * 4u * nibbles > 65534u)
        return 0;
    return be_stage_is_sign(op) ||
           (op->encoding == BE_ENC_UNSIGNED && op->levels <= BE_TAB_MAX_LEVELS && op->levels == (1u << q) - 1u);
}

/* The lanes of channels [o0, o0 + n) (n <= 8): lv->u, lv->f (bytes) or lv->hu, lv->hf (`halves`);
 * pw = the channels' weight popcounts. */
static __attribute__((noinline)) void level_thresholds(const be_op *op, uint32_t o0, uint32_t n, const uint32_t *pw,
                                                       tab_levels *lv, int halves)
{
    const int8_t *dir = (const int8_t *)op->stage_a + o0;
    const int32_t *t = (const int32_t *)op->stage_b + (size_t)o0 * op->levels;
    const uint32_t top = (1u << op->in.planes) - 1u, levels = op->levels;
    const int sign = be_stage_is_sign(op);
    uint32_t o, k, e;
    for (e = 0; e < 4u; e++) {
        lv->hf[e] = 0u;
        for (k = 0; k < BE_TAB_MAX_LEVELS; k++)
            lv->hu[k][e] = 0u;
    }
    for (e = 0; e < 2u; e++) {
        lv->f[e] = 0u;
        for (k = 0; k < BE_TAB_MAX_LEVELS; k++)
            lv->u[k][e] = 0u;
    }
    for (o = 0; o < n; o++) {
        /* top * pw <= 255 * 4 * 72 (tab_block's tables), so with t clamped to +-2^20 the sums fit
         * 32 bits and clamp to [0, 255] / [0, 65535] exactly as the unclamped ones would */
        const int32_t base = (int32_t)(top * pw[o]), lim = 1 << 20;
        const uint32_t flip = sign ? (dir[o] > 0 ? 1u : 0u) : (dir[o] < 0 ? levels : 0u);
        /* bytes: word o / 4, lane o % 4; halfwords: word 2 (o / 4) + (o % 2), lane (o % 4) / 2 */
        uint32_t *u = halves ? &lv->hu[0][2u * (o / 4u) + o % 2u] : &lv->u[0][o / 4u];
        const uint32_t sh = halves ? 16u * ((o % 4u) / 2u) : 8u * (o % 4u), hi = halves ? 65535u : 255u;
        const uint32_t ustep = halves ? 4u : 2u; /* words between levels */
        for (k = 0; k < levels; k++, u += ustep) {
            const int32_t t0 = t[(size_t)o * levels + k], tk = t0 > lim ? lim : t0 < -lim ? -lim : t0;
            const int32_t v = dir[o] > 0 ? tk + base : base - tk + 1;
            *u |= (uint32_t)(v < 0 ? 0 : (uint32_t)v > hi ? (int32_t)hi : v) << sh;
        }
        if (halves)
            lv->hf[2u * (o / 4u) + o % 2u] |= flip << sh;
        else
            lv->f[o / 4u] |= flip << sh;
    }
#if !(defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__))
    for (e = 0; e < 2u; e++) { /* even / odd byte lanes in halfwords, the flips moved to bit 8 */
        for (k = 0; k < BE_TAB_MAX_LEVELS; k++) {
            lv->ue[k][e] = lv->u[k][e] & 0x00FF00FFu;
            lv->uo[k][e] = (lv->u[k][e] >> 8) & 0x00FF00FFu;
        }
        lv->fe[e] = (lv->f[e] & 0x00FF00FFu) << 8;
        lv->fo[e] = ((lv->f[e] >> 8) & 0x00FF00FFu) << 8;
    }
#endif
}

/* lanes 0x01 where byte s >= byte u (unsigned), else 0x00 */
static inline uint32_t ge_lanes(uint32_t s, uint32_t u)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
    uint32_t r; /* USUB8: GE flag of each lane with no borrow; SEL picks 1 or 0 per lane */
    __asm__("usub8 %0, %1, %2\n\tsel %0, %3, %4" : "=&r"(r) : "r"(s), "r"(u), "r"(0x01010101u), "r"(0u));
    return r;
#else
    uint32_t r = 0u, c;
    for (c = 0; c < 32u; c += 8u)
        r |= (uint32_t)(((s >> c) & 255u) >= ((u >> c) & 255u)) << c;
    return r;
#endif
}

/* The output planes of one pixel's block from its levels v: byte i holds channel i's level in bits
 * 0-1 and channel 4 + i's in bits 4-5 (levels <= 3, BE_TAB_MAX_LEVELS). Plane q's bits 8i + q and
 * 8i + 4 + q land at 21 + i and 25 + i under the multiply (no two partial products meet). */
static inline __attribute__((always_inline)) void store_planes(const tab_levels *lv, uint32_t v, be_word *word)
{
    const uint32_t mask = lv->mask, shift = lv->shift, step = lv->plane_step, planes = lv->out_planes;
    const uint32_t b0 = ((v & 0x11111111u) * 0x00204081u) >> 21 & mask;
    const uint32_t b1 = (((v >> 1) & 0x11111111u) * 0x00204081u) >> 21 & mask;
    if (shift == 0u) {
        word[0] = b0;
        if (planes > 1u)
            word[step] = b1;
    } else {
        word[0] |= b0 << shift;
        if (planes > 1u)
            word[step] |= b1 << shift;
    }
}

/* The output of one pixel's block from its byte sums S (ew = 2 words: channels 0-3, 4-7 of the
 * block; the second is 0 for blocks of 4): the levels' planes into word[q * plane_step]. */
static inline void put_levels(const tab_levels *lv, uint32_t s0, uint32_t s1, be_word *word)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
    /* L is 1 or 3 (2^Q - 1, BE_TAB_MAX_LEVELS), so G and G XOR f fit 2 bits per lane */
    uint32_t g0 = ge_lanes(s0, lv->u[0][0]), g1 = ge_lanes(s1, lv->u[0][1]), v;
    if (lv->levels > 1u) {
        g0 += ge_lanes(s0, lv->u[1][0]) + ge_lanes(s0, lv->u[2][0]);
        g1 += ge_lanes(s1, lv->u[1][1]) + ge_lanes(s1, lv->u[2][1]);
    }
    v = (g0 ^ lv->f[0]) | (g1 ^ lv->f[1]) << 4;
    store_planes(lv, v, word);
#else
    /* No USUB8: the byte lanes split into even and odd ones in halfwords (channels 0 and 2, 1 and
     * 3 of each word); ((s | 0x100) - u) & 0x100 per halfword is 0x100 when s >= u (256 + s - u is
     * in 1 .. 511: no borrow between halfwords). G counts in bits 8-9 and 24-25. */
    const uint32_t m = 0x00FF00FFu, one = 0x01000100u;
    const uint32_t e0 = (s0 & m) | one, o0 = ((s0 >> 8) & m) | one, e1 = (s1 & m) | one, o1 = ((s1 >> 8) & m) | one;
    uint32_t ge0 = 0u, go0 = 0u, ge1 = 0u, go1 = 0u, k, q;
    for (k = 0; k < lv->levels; k++) {
        ge0 += (e0 - lv->ue[k][0]) & one;
        go0 += (o0 - lv->uo[k][0]) & one;
        ge1 += (e1 - lv->ue[k][1]) & one;
        go1 += (o1 - lv->uo[k][1]) & one;
    }
    ge0 ^= lv->fe[0];
    go0 ^= lv->fo[0];
    ge1 ^= lv->fe[1];
    go1 ^= lv->fo[1];
    for (q = 0; q < lv->out_planes; q++, word += lv->plane_step) {
        /* channel 4e + 2h + j: bit 8 + 16h + q of (j ? go : ge) -> bit 16h + j, then 2h + j */
        const uint32_t v0 = ((ge0 >> (8u + q)) & 0x00010001u) | ((go0 >> (8u + q)) & 0x00010001u) << 1;
        const uint32_t v1 = ((ge1 >> (8u + q)) & 0x00010001u) | ((go1 >> (8u + q)) & 0x00010001u) << 1;
        const uint32_t bits = (((v0 | v0 >> 14) & 15u) | ((v1 | v1 >> 14) & 15u) << 4) & lv->mask;
        *word = lv->shift == 0u ? bits : *word | bits << lv->shift;
    }
#endif
}

/* lanes 0x0001 where halfword s >= halfword u (unsigned), else 0 */
static inline uint32_t ge_halves(uint32_t s, uint32_t u)
{
#if defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__)
    uint32_t r;
    __asm__("usub16 %0, %1, %2\n\tsel %0, %3, %4" : "=&r"(r) : "r"(s), "r"(u), "r"(0x00010001u), "r"(0u));
    return r;
#else
    return (uint32_t)((s & 0xFFFFu) >= (u & 0xFFFFu)) | (uint32_t)((s >> 16) >= (u >> 16)) << 16;
#endif
}

/* s[4] (+)= the byte sums of one plane (w0: channels 0-3, w1: 4-7) widened, << shift */
static inline void widen_add(uint32_t *s, uint32_t w0, uint32_t w1, uint32_t shift)
{
    s[0] += (w0 & 0x00FF00FFu) << shift;
    s[1] += ((w0 >> 8) & 0x00FF00FFu) << shift;
    s[2] += (w1 & 0x00FF00FFu) << shift;
    s[3] += ((w1 >> 8) & 0x00FF00FFu) << shift;
}

/* put_levels for the halfword sums S[4] */
/* One halfword-lane word of levels: the lanes' count of thresholds reached (L is 1 or 3), XOR f */
static inline __attribute__((always_inline)) uint32_t levels_halves(const tab_levels *lv, uint32_t s, uint32_t e)
{
    uint32_t g = ge_halves(s, lv->hu[0][e]);
    if (lv->levels > 1u)
        g += ge_halves(s, lv->hu[1][e]) + ge_halves(s, lv->hu[2][e]);
    return g ^ lv->hf[e];
}

/* put_levels for the halfword sums of channels (0, 2), (1, 3), (4, 6), (5, 7) */
static inline __attribute__((always_inline)) void put_levels_halves4(const tab_levels *lv, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t s3,
                                      be_word *word)
{
    const uint32_t g0 = levels_halves(lv, s0, 0u), g1 = levels_halves(lv, s1, 1u);
    const uint32_t g2 = levels_halves(lv, s2, 2u), g3 = levels_halves(lv, s3, 3u);
    store_planes(lv, g0 | g1 << 8 | g2 << 4 | g3 << 12, word); /* -> store_planes' byte lanes */
}

static inline void put_levels_halves(const tab_levels *lv, const uint32_t *sv, be_word *word)
{
    put_levels_halves4(lv, sv[0], sv[1], sv[2], sv[3], word);
}

/* A run of interior output pixels, 3x3 kernel, 16 input channels in 2 planes (qrelu2), a block
 * of 8 output channels, levels in halfwords. */
static __attribute__((noinline)) void row33_planes2_halves(const tab_levels *lv, const be_word *x0, be_word *word,
                                                            uint32_t count)
{
    const be_word *tab = lv->tab;
    const uint32_t rs = lv->row_step, step = lv->sw * 2u;
    for (; count != 0u; count--, x0 += step, word += lv->word_step) {
        uint32_t a[2], b[2], sv[4];
        sv[0] = sv[1] = sv[2] = sv[3] = 0u;
#if defined(BE_ARM_T2_ASM)
        field33_4p0(tab, x0, rs, b);
        field33_4p1(tab, x0, rs, a);
#else
        sums33_2_4(tab, x0, rs, 2u, 3u, 3u, 4u, b);
        sums33_2_4(tab, x0 + 1, rs, 2u, 3u, 3u, 4u, a);
#endif
        widen_add(sv, b[0], b[1], 0u);
        widen_add(sv, a[0], a[1], 1u);
        put_levels_halves(lv, sv, word);
    }
}

/* A run of interior output pixels of one output row, 3x3 kernel, 8 input channels in 2 planes
 * (qrelu2), a block of 8 output channels: the taps of both planes unrolled, S = s_0 + 2 s_1. */
static __attribute__((noinline)) void row33_planes2(const tab_levels *lv, const be_word *x0, be_word *word,
                                                     uint32_t count)
{
    const be_word *tab = lv->tab;
    const uint32_t rs = lv->row_step, step = lv->sw * 2u;
    for (; count != 0u; count--, x0 += step, word += lv->word_step) {
        uint32_t a[2], b[2];
#if defined(BE_ARM_T2_ASM)
        field33_p0(tab, x0, rs, b);
        field33_p1(tab, x0, rs, a);
#else
        sums33_2_2(tab, x0, rs, 2u, 3u, 3u, 2u, b); /* plane 0: taps 2 words apart */
        sums33_2_2(tab, x0 + 1, rs, 2u, 3u, 3u, 2u, a);
#endif
        put_levels(lv, b[0] + (a[0] << 1), b[1] + (a[1] << 1), word);
    }
}

/* ---- The offset image (Thumb-2: UXTAB with DSP, else UXTB + ADD) ----------------------------
 * The plane path above spends 5 instructions per lookup (UBFX, ADD, LDRD, ADD, ADD), loads each
 * plane's word per tap, and needs the padded copy for its border pixels. Here the input is first
 * rewritten once, padded, as an "offset image": every nibble j of plane p of a pixel becomes the
 * byte 8 v (v the nibble's value: the byte offset of its entry, 8 output channels = 2 words per
 * entry) at byte p NB + j of the pixel (NB = 2 bytes per plane for C <= 8: one word per pixel;
 * NB = 4 for C <= 16: two words; 4 words for C <= 32, and sign bits one word per pass). A lookup
 * is then UXTAB (table base + that byte; UXTB and ADD without DSP), LDRD at the entry's constant
 * offset and two ADDs, and one word load serves both planes (C <= 8). Plane 1
 * adds its entries shifted (ADD ..., LSL #1: S = s_0 + 2 s_1 in the byte lanes, levels_in_bytes)
 * for C <= 8; for 9 .. 16 channels the planes keep their own byte sums (<= 4 * 36 = 144 each) and
 * meet in halfwords (levels_in_halves); 17 .. 32 run two passes (orows_8). 3x3 kernels, any
 * stride and padding, blocks of 8 output channels (a last block of fewer takes entries of 8 with
 * zero weights beyond it, masked off). docs/kernels.md "`tab` from an offset image". */
#if defined(BE_ARM_T2_ASM) && BE_TAB_PAD_EXTRA > 0
#define BE_TAB_OFFSETS 1

/* bytes 0 and 2 of m (0x00FF00FF lanes) as their nibbles in bytes 0 .. 3, each times 8 */
static inline uint32_t nibble_offsets(uint32_t m)
{
    return ((m & 0x000F000Fu) | (m & 0x00F000F0u) << 4) << 3;
}

/* How a layer takes the offset image: its words per pixel (1 for C <= 8, 2 for C <= 16, 4 for
 * C <= 32: [plane 0 nibbles 0-3, plane 1 nibbles 0-3, plane 0 nibbles 4-7, plane 1 ...]), passes
 * (2 for C > 16: the tables of nibbles 0-3, then 4-7, which would not fit together), and the
 * words of its tables, image and (2 passes) the first pass's sums, 4 words per output pixel.
 * Sign bits over more than 16 channels, into the accumulator stage, or on maps whose one-pass image
 * does not fit, take P = ceil(C / 16) passes instead (sign_passes): one image plane per pass
 * (one word per pixel), in bands of `rows` output rows; `resident` when the whole map's P planes
 * fit (built once), else each pass rebuilds its plane of the band. */
typedef struct {
    uint32_t wpp, passes, njt, tab_words, img_words, part_words, wp; /* njt: table positions per tap */
    uint32_t banded, rows, resident, halves;                         /* sign_passes */
} offsets_plan;

/* Words per output pixel of the band's sums (part): halfword sums (4 words) or, P = 2 in bytes,
 * the first pass's byte counts (2 words); see orows_signp. */
static uint32_t band_sum_words(const offsets_plan *pl)
{
    return pl->halves ? 4u : pl->passes == 2u ? 2u : 0u;
}

/* The band of sign_passes: the most output rows whose image rows (one plane, or all P planes when
 * the whole map fits: resident), sums (band_sum_words per output pixel) and, for byte counts, one
 * output row of the last pass's (2 words per pixel) fit `room` words. P > 2 sums in halfwords; so
 * does P = 2 with the asm pass loop when the whole map fits that way (its last pass then adds in
 * place), else in bytes (twice the band rows). */
static int sign_bands(const be_op *op, uint32_t room, offsets_plan *pl)
{
    const uint32_t ow = op->out.w, oh = op->out.h, sh = op->sh, wp = pl->wp;
    const uint32_t planes = pl->passes * ((oh - 1u) * sh + 3u) * wp;
    uint32_t sums, fixed, whole, r;
#if defined(BE_ARM_HAVE_DSP)
    pl->halves = pl->passes > 2u || (pl->passes == 2u && planes + oh * 4u * ow <= room);
#else /* the C pass loop: byte counts are cheaper there (cortex-m3 7 x 7 x 32: 0.310 vs 0.348) */
    pl->halves = pl->passes > 2u;
#endif
    sums = band_sum_words(pl) * ow;
    fixed = pl->halves ? 0u : 2u * ow;
    whole = planes + oh * sums + fixed;
    pl->banded = 1u;
    if (whole <= room) {
        pl->rows = oh;
        pl->resident = 1u;
        pl->img_words = whole - oh * sums - fixed;
    } else { /* the largest R with (R - 1) SH wp + 3 wp + R sums + fixed <= room (sh <= room: no wrap) */
        r = sh > room || room + sh * wp < 3u * wp + fixed ? 1u
                                                          : (room + sh * wp - 3u * wp - fixed) / (sh * wp + sums);
        pl->rows = r == 0u ? 1u : r < oh ? r : oh;
        pl->resident = 0u;
        pl->img_words = ((pl->rows - 1u) * sh + 3u) * wp; /* (rows - 1) SH <= the map's hp */
    }
    pl->part_words = pl->rows * sums + fixed;
    return pl->img_words + pl->part_words <= room;
}

/* Whether a layer takes the offset image: 2 planes (C <= 32) or sign bits (C <= 128), 3x3, more
 * than 4 output channels, its stage in bytes (C <= 8) or halfwords (more: at most 36 nibbles per
 * pass; sign bits: the sign stage, or the accumulators), and tables, image and
 * sums within the stack budget. */
static int offsets_layer(const be_op *op, offsets_plan *pl)
{
    const uint32_t nj = (op->in.c + 3u) / 4u, njp = nj < 4u ? nj : 4u; /* nibble positions per pass */
    const uint32_t total = BE_TAB_WORDS + BE_TAB_PAD_EXTRA;
    /* acc: the accumulators themselves, or requantized (both from sign_passes' sums) */
    const int sign = op->in.encoding == BE_ENC_SIGN;
    const int acc = op->stage == BE_STAGE_ACC || op->stage == BE_STAGE_REQUANT;
    be_arm_padded g;
    if (op->type != BE_OP_CONV2D || !be_arm_bin_supports(op) || op->in.planes != (sign ? 1u : 2u) ||
        op->in.c > (sign ? 128u : 32u) || op->in.cw != (op->in.c + 31u) / 32u || op->kh != 3u || op->kw != 3u ||
        op->out_ch <= 4u || op->out.h * op->out.w < BE_TAB_MIN_PIXELS)
        return 0;
    if (sign ? !be_stage_is_sign(op) && !acc
             : nj <= 2u ? !levels_in_bytes(op, nj) : !levels_in_halves(op, njp))
        return 0; /* (2 passes: S <= 3 * 4 * 72 = 864, a halfword; sign: d <= 4 * 36 per pass) */
#if !defined(BE_ARM_HAVE_DSP)
    if (sign && nj <= 4u && !acc) /* cortex-m3: the row33 sign path wins there (conv8 0.460 vs 0.487) */
        return 0;
#endif
    pl->njt = nj <= 2u ? 2u : 4u; /* the fields of 2 or 4 positions (past C: zero weights and inputs) */
    pl->tab_words = 9u * pl->njt * 32u;
    /* sign bits: one word per pixel (a pass's nibbles as bytes); 2 planes as above */
    pl->wpp = sign ? 1u : nj <= 2u ? 1u : nj <= 4u ? 2u : 4u;
    pl->passes = nj <= 4u ? 1u : sign ? (nj + 3u) / 4u : 2u;
    pl->banded = pl->halves = 0u;
    pl->rows = op->out.h;
    pl->resident = 1u;
    if (!sign || (nj <= 4u && !acc)) { /* the whole image, one or (2 planes) two passes */
        pl->part_words = pl->passes == 2u ? op->out.h * op->out.w * 4u : 0u;
        if (be_arm_padded_geometry(op, pl->wpp, total - pl->tab_words, &g)) {
            pl->img_words = g.wp * g.hp * pl->wpp;
            pl->wp = g.wp;
            if (pl->tab_words + pl->img_words + pl->part_words <= total)
                return 1;
        }
        if (!sign || nj <= 2u) /* C <= 8 sign bits: the image of a map this large does not fit */
            return 0;
    }
    /* sign_passes (d <= 9 * 128 in halfword lanes): 4 table positions, one plane per pass */
    pl->njt = 4u;
    pl->tab_words = 9u * 4u * 32u;
    if (!be_arm_padded_geometry(op, 1u, 0xFFFFu, &g))
        return 0;
    pl->wp = g.wp;
    return sign_bands(op, total - pl->tab_words, pl);
}

/* The offset image of the input (offsets_plan): hp = (OH - 1) SH + 3 rows of wp = (OW - 1) SW + 3
 * pixels, padding pixels all zero bytes (offset 0: level 0, the contract's padding). */
static __attribute__((noinline)) void offset_image(const be_op *op, const be_word *in, be_word *img, uint32_t wpp)
{
    const be_value *vi = &op->in;
    be_arm_padded g;
    uint32_t py;
    if (!be_arm_padded_geometry(op, wpp, BE_TAB_WORDS + BE_TAB_PAD_EXTRA, &g)) /* offsets_layer checked it */
        return;
    for (py = 0; py < g.hp; py++, img += g.wp * wpp) {
        const int32_t iy = (int32_t)py - (int32_t)op->pt;
        const be_word *row = in + (size_t)(iy < 0 ? 0 : iy) * vi->w * vi->planes;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            be_zero_words(img, g.wp * wpp);
            continue;
        }
        be_zero_words(img, g.lead * wpp);
        {
            be_word *o = img + g.lead * wpp;
            const be_word *r = row, *end = row + vi->planes * g.n;
            if (vi->encoding == BE_ENC_SIGN || wpp == 2u) { /* nibbles 0 .. 3 (of each plane) */
                for (; r != end; r++)
                    *o++ = nibble_offsets((*r | *r << 8) & 0x00FF00FFu);
            } else if (wpp == 1u) {
                for (; r != end; r += 2) /* bytes: plane 0 nibbles 0, 1; plane 1 nibbles 0, 1 */
                    *o++ = nibble_offsets((r[0] | r[1] << 16) & 0x00FF00FFu);
            } else {
                for (; r != end; r += 2, o += 4) { /* nibbles 0 .. 3 of both planes, then 4 .. 7 */
                    const uint32_t x0 = r[0] & 0xFFFFu, x1 = r[1] & 0xFFFFu, y0 = r[0] >> 16, y1 = r[1] >> 16;
                    o[0] = nibble_offsets((x0 | x0 << 8) & 0x00FF00FFu);
                    o[1] = nibble_offsets((x1 | x1 << 8) & 0x00FF00FFu);
                    o[2] = nibble_offsets((y0 | y0 << 8) & 0x00FF00FFu);
                    o[3] = nibble_offsets((y1 | y1 << 8) & 0x00FF00FFu);
                }
            }
        }
        be_zero_words(img + (g.lead + g.n) * wpp, (g.wp - g.lead - g.n) * wpp);
    }
}

/* One lookup: t = the table row base + byte (ROR) of x; A0, A1 += the entry's words at IMM (an
 * expression the assembler evaluates), shifted by SH. */
#if defined(BE_ARM_HAVE_DSP)
#define BE_OT_ADDR(ROR) "uxtab %[t], %[tr], %[x]" ROR "\n\t"
#else /* ARMv7-M without DSP (Cortex-M3): UXTB and ADD */
#define BE_OT_ADDR(ROR) "uxtb %[t], %[x]" ROR "\n\t" "add %[t], %[tr], %[t]\n\t"
#endif
#define BE_OT_LOOK(ROR, IMM, A0, A1, SH)                                                                     \
    BE_OT_ADDR(ROR)                                                                                          \
    "ldrd %[p], %[q], [%[t], #" IMM "]\n\t"                                                                  \
    "add %[" A0 "], %[" A0 "], %[p]" SH "\n\t"                                                               \
    "add %[" A1 "], %[" A1 "], %[q]" SH "\n\t"
/* the first lookup into A0, A1: the entry itself */
#define BE_OT_SET(ROR, IMM, A0, A1)                                                                          \
    BE_OT_ADDR(ROR)                                                                                          \
    "ldrd %[" A0 "], %[" A1 "], [%[t], #" IMM "]\n\t"
/* tap KX of a row: entry (KX, J) at (KX * NJ + J) * 128 bytes past the row's tables, less BIAS */
#define BE_OT_E(KX, NJ, J, BIAS) "((" KX ")*" NJ "+" J ")*128-" BIAS
/* C <= 8 (bytes 0, 1 and 2, 3), one word per pixel (C <= 4: nibble 1 is zero) */
/* the field's first tap (KX = 0 of row 0), which sets the sums instead of adding to them */
#define BE_OT_TAP2F                                                                                          \
    "ldr %[x], [%[rp]]\n\t" BE_OT_SET("", BE_OT_E("0", "2", "0", "0"), "a0", "a1")                          \
    BE_OT_LOOK(", ror #8", BE_OT_E("0", "2", "1", "0"), "a0", "a1", "")                                        \
    BE_OT_LOOK(", ror #16", BE_OT_E("0", "2", "0", "0"), "a0", "a1", ", lsl #1")                               \
    BE_OT_LOOK(", ror #24", BE_OT_E("0", "2", "1", "0"), "a0", "a1", ", lsl #1")
/* plane P's first lookups of the first tap, into A0, A1 (4 nibbles: C <= 16, or a pass of 32) */
#define BE_OT_PLANE4F(A0, A1)                                                                                \
    BE_OT_SET("", BE_OT_E("0", "4", "0", "512"), A0, A1)                                                     \
    BE_OT_LOOK(", ror #8", BE_OT_E("0", "4", "1", "512"), A0, A1, "")                                          \
    BE_OT_LOOK(", ror #16", BE_OT_E("0", "4", "2", "512"), A0, A1, "")                                         \
    BE_OT_LOOK(", ror #24", BE_OT_E("0", "4", "3", "512"), A0, A1, "")
#define BE_OT_TAP4F                                                                                          \
    "ldr %[x], [%[rp]]\n\t" BE_OT_PLANE4F("a0", "a1") "ldr %[x], [%[rp], #4]\n\t" BE_OT_PLANE4F("a2", "a3")
#define BE_OT_TAP2(KX)                                                                                       \
    "ldr %[x], [%[rp], #(" KX ")*4]\n\t" BE_OT_LOOK("", BE_OT_E(KX, "2", "0", "0"), "a0", "a1", "")            \
    BE_OT_LOOK(", ror #8", BE_OT_E(KX, "2", "1", "0"), "a0", "a1", "")                                         \
    BE_OT_LOOK(", ror #16", BE_OT_E(KX, "2", "0", "0"), "a0", "a1", ", lsl #1")                                \
    BE_OT_LOOK(", ror #24", BE_OT_E(KX, "2", "1", "0"), "a0", "a1", ", lsl #1")
/* C <= 16 (4 nibbles per plane), two words per pixel, plane 1 into a2, a3 */
#define BE_OT_PLANE4(KX, A0, A1)                                                                             \
    BE_OT_LOOK("", BE_OT_E(KX, "4", "0", "512"), A0, A1, "")                                                 \
    BE_OT_LOOK(", ror #8", BE_OT_E(KX, "4", "1", "512"), A0, A1, "")                                          \
    BE_OT_LOOK(", ror #16", BE_OT_E(KX, "4", "2", "512"), A0, A1, "")                                         \
    BE_OT_LOOK(", ror #24", BE_OT_E(KX, "4", "3", "512"), A0, A1, "")
#define BE_OT_TAP4S(KX, PS)                                                                                  \
    "ldr %[x], [%[rp], #(" KX ")*" PS "]\n\t" BE_OT_PLANE4(KX, "a0", "a1")                                     \
    "ldr %[x], [%[rp], #(" KX ")*" PS "+4]\n\t" BE_OT_PLANE4(KX, "a2", "a3")
#define BE_OT_TAP4(KX) BE_OT_TAP4S(KX, "8")
#define BE_OT_TAP8(KX) BE_OT_TAP4S(KX, "16") /* C <= 32: 4 words per pixel, a pass reads 2 of them */
/* a kernel row, then the next image row and the next row's tables (ROWB bytes on) */
#define BE_OT_NEXT(ROWB) "add %[rp], %[rp], %[rs]\n\t" "addw %[tr], %[tr], #" ROWB "\n\t"
#define BE_OT_FIELD(TAP, FIRST, ROWB)                                                                        \
    FIRST TAP("1") TAP("2") BE_OT_NEXT(ROWB) TAP("0") TAP("1") TAP("2") BE_OT_NEXT(ROWB) TAP("0") TAP("1") TAP("2")

/* The byte sums of one 3x3 receptive field whose top-left pixel is at x0 (rs bytes per image row):
 * s[0], s[1] = S of channels 0-3, 4-7 (NJ <= 2), or plane 0's sums, then plane 1's in s[2], s[3]. */
#define BE_OT_FIELD_FN(NJ, TAP, FIRST, ROWB, BIAS)                                                           \
    static inline __attribute__((always_inline)) void ofield_##NJ(const be_word *tab, const be_word *x0,     \
                                                                  uint32_t rs, uint32_t *s)                  \
    {                                                                                                        \
        const uint8_t *rp = (const uint8_t *)x0, *tr = (const uint8_t *)tab + (BIAS);                        \
        uint32_t a0, a1, a2, a3, x, t, p, q; /* a2, a3: set (and read) only for NJ > 2 */                    \
        __asm__(BE_OT_FIELD(TAP, FIRST, ROWB)                                                                \
                : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "=&r"(x), [t] "=&r"(t), \
                  [p] "=&r"(p), [q] "=&r"(q), [rp] "+&r"(rp), [tr] "+&r"(tr)                                  \
                : [rs] "r"(rs)                                                                               \
                : "memory");                                                                                 \
        s[0] = a0;                                                                                           \
        s[1] = a1;                                                                                           \
        s[2] = a2;                                                                                           \
        s[3] = a3;                                                                                           \
    }
BE_OT_FIELD_FN(2, BE_OT_TAP2, BE_OT_TAP2F, "768", 0)
BE_OT_FIELD_FN(4, BE_OT_TAP4, BE_OT_TAP4F, "1536", 512)
BE_OT_FIELD_FN(8, BE_OT_TAP8, BE_OT_TAP4F, "1536", 512)

/* All output pixels of one block from the offset image (wp pixels per row): the field sums, then
 * the levels (put_levels on S, or put_levels_halves on the planes' sums widened). */
#define BE_OT_ROWS_FN(NJ)                                                                                    \
    static __attribute__((noinline)) void orows_##NJ(const be_op *op, const tab_levels *lv, const be_word *img, \
                                                     uint32_t wp, be_word *out)                              \
    {                                                                                                        \
        const uint32_t wpp = (NJ) <= 2 ? 1u : 2u, rs = wp * wpp * 4u;                                        \
        const uint32_t cstep = op->sw * wpp, rstep = op->sh * wp * wpp, ow = op->out.w;                     \
        const uint32_t ws = lv->word_step, row_words = ow * ws;                                              \
        uint32_t oy;                                                                                         \
        for (oy = 0; oy < op->out.h; oy++, img += rstep, out += row_words) {                                 \
            const be_word *x0 = img, *const x_end = img + ow * cstep;                                        \
            be_word *word = out;                                                                             \
            for (; x0 != x_end; x0 += cstep, word += ws) {                                                   \
                uint32_t s[4];                                                                               \
                ofield_##NJ(lv->tab, x0, rs, s);                                                             \
                if ((NJ) <= 2) {                                                                             \
                    put_levels(lv, s[0], s[1], word);                                                        \
                } else { /* S = s_0 + 2 s_1 in halfword lanes (<= 432) */                                   \
                    const uint32_t m = 0x00FF00FFu;                                                          \
                    put_levels_halves4(lv, (s[0] & m) + ((s[2] & m) << 1),                                   \
                                       ((s[0] >> 8) & m) + (((s[2] >> 8) & m) << 1),                         \
                                       (s[1] & m) + ((s[3] & m) << 1),                                       \
                                       ((s[1] >> 8) & m) + (((s[3] >> 8) & m) << 1), word);                  \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }
BE_OT_ROWS_FN(2)
BE_OT_ROWS_FN(4)


/* C <= 32 in two passes over the image (words 0-1, then 2-3 of each pixel, with the tables of
 * nibbles 0-3, then 4-7): the first stores each pixel's halfword sums in part, the second adds
 * its own and puts the levels. */
static __attribute__((noinline)) void orows_8(const be_op *op, const tab_levels *lv, const be_word *img, uint32_t wp,
                                              be_word *out, uint32_t *part, uint32_t pass)
{
    const uint32_t rs = wp * 16u, cstep = op->sw * 4u, rstep = op->sh * wp * 4u, ow = op->out.w;
    const uint32_t ws = lv->word_step, row_words = ow * ws, m = 0x00FF00FFu;
    uint32_t oy;
    img += 2u * pass;
    for (oy = 0; oy < op->out.h; oy++, img += rstep, out += row_words) {
        const be_word *x0 = img, *const x_end = img + ow * cstep;
        be_word *word = out;
        for (; x0 != x_end; x0 += cstep, word += ws, part += 4) {
            uint32_t s[4], h0, h1, h2, h3;
            ofield_8(lv->tab, x0, rs, s);
            h0 = (s[0] & m) + ((s[2] & m) << 1); /* S of channels (0, 2), (1, 3), (4, 6), (5, 7) */
            h1 = ((s[0] >> 8) & m) + (((s[2] >> 8) & m) << 1);
            h2 = (s[1] & m) + ((s[3] & m) << 1);
            h3 = ((s[1] >> 8) & m) + (((s[3] >> 8) & m) << 1);
            if (pass == 0u) {
                part[0] = h0, part[1] = h1, part[2] = h2, part[3] = h3;
                continue;
            }
            put_levels_halves4(lv, h0 + part[0], h1 + part[1], h2 + part[2], h3 + part[3], word);
        }
    }
}

/* Sign bits (one plane): the same lookups, a pass's nibbles in one word per pixel (PS bytes apart) */
#define BE_OS_TAP2(KX)                                                                                       \
    "ldr %[x], [%[rp], #(" KX ")*4]\n\t" BE_OT_LOOK("", BE_OT_E(KX, "2", "0", "0"), "a0", "a1", "")            \
    BE_OT_LOOK(", ror #8", BE_OT_E(KX, "2", "1", "0"), "a0", "a1", "")
#define BE_OS_TAP2F                                                                                          \
    "ldr %[x], [%[rp]]\n\t" BE_OT_SET("", BE_OT_E("0", "2", "0", "0"), "a0", "a1")                          \
    BE_OT_LOOK(", ror #8", BE_OT_E("0", "2", "1", "0"), "a0", "a1", "")
#define BE_OS_TAP4(KX) "ldr %[x], [%[rp], #(" KX ")*4]\n\t" BE_OT_PLANE4(KX, "a0", "a1")
#define BE_OS_TAP4F "ldr %[x], [%[rp]]\n\t" BE_OT_PLANE4F("a0", "a1")
BE_OT_FIELD_FN(s2, BE_OS_TAP2, BE_OS_TAP2F, "768", 0)
BE_OT_FIELD_FN(s4, BE_OS_TAP4, BE_OS_TAP4F, "1536", 512)

/* Sign bits, C <= 16: the mismatch counts d (bytes, <= 4 * 36) against the byte thresholds */
static __attribute__((noinline)) void orows_sign(const be_op *op, const tab_levels *lv, const uint32_t *tw,
                                                 const uint32_t *fw, const be_word *img, uint32_t wp, be_word *out)
{
    const uint32_t nj = (op->in.c + 3u) / 4u, rs = wp * 4u, cstep = op->sw, rstep = op->sh * wp;
    const uint32_t ow = op->out.w, ws = lv->word_step, row_words = ow * ws, mask = lv->mask, shift = lv->shift;
    uint32_t oy;
    for (oy = 0; oy < op->out.h; oy++, img += rstep, out += row_words) {
        const be_word *x0 = img, *const x_end = img + ow * cstep;
        be_word *word = out;
        for (; x0 != x_end; x0 += cstep, word += ws) {
            uint32_t s[4], bits;
            if (nj <= 2u)
                ofield_s2(lv->tab, x0, rs, s);
            else
                ofield_s4(lv->tab, x0, rs, s);
            bits = (bits4(s[0], tw[0], fw[0]) | bits4(s[1], tw[1], fw[1]) << 4) & mask;
            *word = shift == 0u ? bits : *word | bits << shift;
        }
    }
}

/* The sign stage as one level in halfword lanes (put_levels_halves4): bit = (d >= T) XOR flip,
 * with T = sign_threshold, clamped to [0, 65535] (d <= 9 * 128). */
static __attribute__((noinline)) void sign_thresholds_halves(const be_op *op, uint32_t o0, uint32_t n, tab_levels *lv)
{
    const int8_t *dir = (const int8_t *)op->stage_a + o0;
    const int32_t *t = (const int32_t *)op->stage_b + o0;
    uint32_t o, e;
    for (e = 0; e < 4u; e++)
        lv->hu[0][e] = lv->hf[e] = 0u;
    for (o = 0; o < n; o++) {
        const uint32_t hw = 2u * (o / 4u) + o % 2u, hs = 16u * ((o % 4u) / 2u);
        const int64_t v = sign_threshold((int64_t)op->k, dir[o], t[o]);
        lv->hu[0][hw] |= (uint32_t)(v < 0 ? 0 : v > 65535 ? 65535 : v) << hs;
        lv->hf[hw] |= (dir[o] < 0 ? 1u : 0u) << hs;
    }
}

/* ---- Sign bits over 17 .. 128 channels: P = ceil(C / 16) passes ------------------------------
 * Pass p reads the tables of nibbles 4p .. 4p + 3 (channels 16p .. 16p + 15) and its own plane of
 * the offset image: one word per pixel, those 4 nibbles as byte offsets (sign_plane), so every
 * pass is the one-word field of orows_sign (ofield_s4; ofield_s2 for a last pass with at most 2
 * nibbles left). A pass's byte counts (<= 4 * 36) are kept per output pixel in `part` (P = 2), or
 * widened to halfword lanes, channels (0, 2), (1, 3), (4, 6), (5, 7), and summed there (P > 2;
 * d <= 9 * 128); the last pass puts the sign bits (sign_thresholds_halves) or the accumulators.
 * When the image of all P planes and the sums of the whole map do not fit, the map runs in bands
 * of output rows and each (block, pass) rebuilds its plane of the band (offsets_plan). */

/* build_2j of 4 positions (nibbles j0 .. j0 + 3, j0 % 4 == 0) without the weight popcounts (sign
 * inputs: sign_passes): per tap the byte columns (byte_columns2), then the 4 positions' tables at
 * tab .. tab + 128 (pos8_tables) */
static __attribute__((noinline)) void build_sign4(const be_op *op, uint32_t o0, uint32_t n, be_word *tab, uint32_t j0)
{
    const uint32_t taps = op->kh * op->kw, cw = op->in.cw, row = taps * cw;
    const be_word *w = (const be_word *)op->weights + (size_t)o0 * row + j0 / 8u, *const w_end = w + taps * cw;
    const int hi = j0 % 8u != 0u;
    for (; w != w_end; w += cw, tab += 128) {
        uint32_t col[4]; /* A even, B even, A odd, B odd */
        if (n == 8u) {
            byte_columns2(w[0], w[row], w[2u * row], w[3u * row], hi, &col[0], &col[2]);
            byte_columns2(w[4u * row], w[5u * row], w[6u * row], w[7u * row], hi, &col[1], &col[3]);
        } else {
            byte_columns2(w[0], n > 1u ? w[row] : 0u, n > 2u ? w[2u * row] : 0u, n > 3u ? w[3u * row] : 0u, hi,
                          &col[0], &col[2]);
            byte_columns2(n > 4u ? w[4u * row] : 0u, n > 5u ? w[5u * row] : 0u, n > 6u ? w[6u * row] : 0u,
                          n > 7u ? w[7u * row] : 0u, hi, &col[1], &col[3]);
        }
        pos8_tables(col, tab, 4u);
    }
}

/* Plane `pass` of the offset image of the output rows [oy0, oy0 + rows) at img: (rows - 1) SH + 3
 * image rows from input row oy0 SH - pt, g->wp pixels each, padding pixels zero (offset 0). */
static __attribute__((noinline)) void sign_plane(const be_op *op, const be_word *in, be_word *img, uint32_t pass,
                                                 uint32_t oy0, uint32_t rows, const be_arm_padded *g)
{
    const be_value *vi = &op->in;
    const uint32_t hp = (rows - 1u) * op->sh + 3u, px = vi->pixel_bytes / 4u, shift = 16u * (pass % 2u);
    const int32_t iy0 = (int32_t)(oy0 * op->sh) - (int32_t)op->pt;
    uint32_t py;
    in += pass / 2u; /* the pixel's word of channels 32 (pass / 2) .. */
    for (py = 0; py < hp; py++, img += g->wp) {
        const int32_t iy = iy0 + (int32_t)py;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            be_zero_words(img, g->wp);
            continue;
        }
        be_zero_words(img, g->lead);
        {
            const be_word *r = in + (size_t)iy * vi->w * px;
            be_word *o = img + g->lead, *const end = o + g->n;
            for (; o != end; o++, r += px) {
                const uint32_t h = (*r >> shift) & 0xFFFFu;
                *o = nibble_offsets((h | h << 8) & 0x00FF00FFu);
            }
        }
        be_zero_words(img + g->lead + g->n, g->wp - g->lead - g->n);
    }
}

/* y[0 .. n) = k - 2 d, the accumulators of channels 0 .. n - 1 of the block from their halfword
 * counts d: channels (0, 2) in h0, (1, 3) in h1, (4, 6) in h2, (5, 7) in h3 */
static inline void put_acc(int32_t *y, uint32_t n, int32_t k, uint32_t h0, uint32_t h1, uint32_t h2, uint32_t h3)
{
    const uint32_t d[8] = {h0 & 0xFFFFu, h1 & 0xFFFFu, h0 >> 16, h1 >> 16,
                           h2 & 0xFFFFu, h3 & 0xFFFFu, h2 >> 16, h3 >> 16};
    uint32_t i;
    for (i = 0; i < n; i++)
        y[i] = k - 2 * (int32_t)d[i];
}

/* The accumulators of a block requantized: y[i] = the int8 code of channel i, from its count in
 * h0..h3 (as put_acc). With the prepared constants (fast: be_rq_bin_prepare, the zero point in
 * the bias; a whole block of 8 straight-line) about 9 instructions per channel on the cortex-m4:
 * the count, acc << t, SMLAL, ASR, SSAT 8, STRB; be_rq_apply's 64-bit shift and compares took
 * about 33. */
static inline void put_rq(const be_op *op, uint32_t o0, int8_t *y, uint32_t n, int fast, int32_t k,
                          const be_rq_bin *q, uint32_t h0, uint32_t h1, uint32_t h2, uint32_t h3)
{
#define PUT_RQ_BLOCK(ONE)                                                                         \
    do {                                                                                          \
        y[0] = ONE(&q[0], k - 2 * (int32_t)(h0 & 0xFFFFu));                                       \
        y[1] = ONE(&q[1], k - 2 * (int32_t)(h1 & 0xFFFFu));                                       \
        y[2] = ONE(&q[2], k - 2 * (int32_t)(h0 >> 16));                                           \
        y[3] = ONE(&q[3], k - 2 * (int32_t)(h1 >> 16));                                           \
        y[4] = ONE(&q[4], k - 2 * (int32_t)(h2 & 0xFFFFu));                                       \
        y[5] = ONE(&q[5], k - 2 * (int32_t)(h3 & 0xFFFFu));                                       \
        y[6] = ONE(&q[6], k - 2 * (int32_t)(h2 >> 16));                                           \
        y[7] = ONE(&q[7], k - 2 * (int32_t)(h3 >> 16));                                           \
    } while (0)
    if (fast == 2 && n == 8u) { /* every u = 0 (s <= 32, the usual case): no shift per output */
        PUT_RQ_BLOCK(be_rq_bin_one_hi);
    } else if (fast && n == 8u) {
        PUT_RQ_BLOCK(be_rq_bin_one);
    } else {
        const uint32_t d[8] = {h0 & 0xFFFFu, h1 & 0xFFFFu, h0 >> 16, h1 >> 16,
                               h2 & 0xFFFFu, h3 & 0xFFFFu, h2 >> 16, h3 >> 16};
        uint32_t i;
        if (!fast) { /* the general form: the shared stage (y is channel o0 of its pixel) */
            int32_t acc[8];
            for (i = 0; i < n; i++)
                acc[i] = k - 2 * (int32_t)d[i];
            (void)be_stage_put_block(op, y - o0, o0, n, acc);
            return;
        }
        for (i = 0; i < n; i++)
            y[i] = be_rq_bin_one(&q[i], k - 2 * (int32_t)d[i]);
    }
#undef PUT_RQ_BLOCK
}

/* What a pass leaves per output pixel (pass_row): its byte counts as they are (2 words: channels
 * 0-3, 4-7), or widened to halfword lanes, channels (0, 2), (1, 3), (4, 6), (5, 7), set or added
 * (4 words). */
enum { BE_PASS_RAW, BE_PASS_SET, BE_PASS_ADD };

#if defined(BE_ARM_HAVE_DSP)
/* One pass over n pixels of one output row (cs bytes apart in the image) in one asm loop: the field
 * of njt positions (ofield_s4 / ofield_s2), then its counts to part (BE_PASS_*: STRD; UXTB16,
 * STRD; LDRD, UXTAB16, STRD): 6 to 13 instructions per pixel past the field where a C loop
 * spends about 40. */
#define BE_OS_PASS_LOOP(TAP, FIRST, ROWB, BACK, PART)                                                       \
    "1:\n\t" BE_OT_FIELD(TAP, FIRST, ROWB) PART                                                              \
    "sub %[rp], %[rp], %[rs], lsl #1\n\t"                                                                   \
    "add %[rp], %[rp], %[cs]\n\t"                                                                          \
    "subw %[tr], %[tr], #" BACK "\n\t"                                                                      \
    "subs %[n], %[n], #1\n\t"                                                                              \
    "bne 1b\n\t"
/* 4 table positions (ofield_s4), or 2 (ofield_s2: a last pass with at most 2 nibbles left) */
#define BE_OS_LOOP4(PART) BE_OS_PASS_LOOP(BE_OS_TAP4, BE_OS_TAP4F, "1536", "3072", PART)
#define BE_OS_LOOP2(PART) BE_OS_PASS_LOOP(BE_OS_TAP2, BE_OS_TAP2F, "768", "1536", PART)
#define BE_OS_PART_RAW "strd %[a0], %[a1], [%[part]], #8\n\t"
#define BE_OS_PART_SET                                                                                       \
    "uxtb16 %[p], %[a0]\n\t" "uxtb16 %[q], %[a0], ror #8\n\t" "strd %[p], %[q], [%[part]], #8\n\t"           \
    "uxtb16 %[p], %[a1]\n\t" "uxtb16 %[q], %[a1], ror #8\n\t" "strd %[p], %[q], [%[part]], #8\n\t"
#define BE_OS_PART_ADD                                                                                       \
    "ldrd %[p], %[q], [%[part]]\n\t" "uxtab16 %[p], %[p], %[a0]\n\t" "uxtab16 %[q], %[q], %[a0], ror #8\n\t" \
    "strd %[p], %[q], [%[part]], #8\n\t"                                                                    \
    "ldrd %[p], %[q], [%[part]]\n\t" "uxtab16 %[p], %[p], %[a1]\n\t" "uxtab16 %[q], %[q], %[a1], ror #8\n\t" \
    "strd %[p], %[q], [%[part]], #8\n\t"
#define BE_OS_PASS_OPERANDS                                                                                  \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [x] "=&r"(x), [t] "=&r"(t), [p] "=&r"(p), [q] "=&r"(q), [rp] "+&r"(rp), \
      [tr] "+&r"(tr), [n] "+&r"(n), [part] "+&r"(part)                                                      \
    : [rs] "r"(rs), [cs] "r"(cs)                                                                             \
    : "cc", "memory"

static __attribute__((noinline)) void pass_row(const be_word *tab, const be_word *x0, uint32_t rs, uint32_t cs,
                                               uint32_t n, uint32_t *part, int mode, uint32_t njt)
{
    const uint8_t *rp = (const uint8_t *)x0, *tr = (const uint8_t *)tab + (njt == 4u ? 512 : 0);
    uint32_t a0, a1, x, t, p, q;
    if (njt == 2u) { /* the last pass (RAW for P <= 2, else ADD) */
        if (mode == BE_PASS_RAW)
            __asm__ volatile(BE_OS_LOOP2(BE_OS_PART_RAW) BE_OS_PASS_OPERANDS);
        else
            __asm__ volatile(BE_OS_LOOP2(BE_OS_PART_ADD) BE_OS_PASS_OPERANDS);
    } else if (mode == BE_PASS_RAW) {
        __asm__ volatile(BE_OS_LOOP4(BE_OS_PART_RAW) BE_OS_PASS_OPERANDS);
    } else if (mode == BE_PASS_SET) {
        __asm__ volatile(BE_OS_LOOP4(BE_OS_PART_SET) BE_OS_PASS_OPERANDS);
    } else {
        __asm__ volatile(BE_OS_LOOP4(BE_OS_PART_ADD) BE_OS_PASS_OPERANDS);
    }
}
#else
static __attribute__((noinline)) void pass_row(const be_word *tab, const be_word *x0, uint32_t rs, uint32_t cs,
                                               uint32_t n, uint32_t *part, int mode, uint32_t njt)
{
    const uint32_t m = 0x00FF00FFu;
    for (; n > 0u; n--, x0 += cs / 4u) {
        uint32_t s[4], h[4], i;
        if (njt == 2u)
            ofield_s2(tab, x0, rs, s);
        else
            ofield_s4(tab, x0, rs, s);
        if (mode == BE_PASS_RAW) {
            part[0] = s[0], part[1] = s[1];
            part += 2;
            continue;
        }
        h[0] = s[0] & m, h[1] = (s[0] >> 8) & m, h[2] = s[1] & m, h[3] = (s[1] >> 8) & m;
        for (i = 0; i < 4u; i++)
            part[i] = mode == BE_PASS_SET ? h[i] : part[i] + h[i];
        part += 4;
    }
}
#endif

/* One pass over the band's `rows` output rows (image wp pixels wide). Halfword sums: the first pass
 * sets part's, the others add to them, and the last then puts the outputs from them; byte counts
 * (P = 2): the first keeps them in part, the second its own in `row` (one output row) and puts
 * the outputs from both; P = 1: the counts of `row` alone. The outputs (out: the block's place in
 * the band's first output pixel): the sign bits, or (acc_n > 0) the block's acc_n channels as
 * accumulators, or (rq: the instance orows_signp_rq) requantized with q (the RequantStage of
 * channels o0 ..: be_rq_bin_prepare's constants, fast its result). */
typedef struct orows_rq {
    uint32_t o0;
    const be_rq_bin *q;
    int fast;
} orows_rq;

static inline __attribute__((always_inline)) void orows_signp_body(const be_op *op, const tab_levels *lv,
                                                                   const be_word *img, uint32_t wp, uint32_t rows,
                                                                   uint8_t *out, uint32_t *part, uint32_t *row,
                                                                   uint32_t pass, const offsets_plan *pl,
                                                                   uint32_t njt, uint32_t acc_n, const orows_rq *rq)
{
    const uint32_t rs = wp * 4u, cs = op->sw * 4u, rstep = op->sh * wp, ow = op->out.w, passes = pl->passes;
    const uint32_t ps = op->out.pixel_bytes, row_bytes = ow * ps, m = 0x00FF00FFu, pw = band_sum_words(pl);
    const int last = pass + 1u == passes, bytes = !pl->halves;
    const int32_t k = (int32_t)op->k;
    uint32_t oy;
    for (oy = 0; oy < rows; oy++, img += rstep, out += row_bytes, part += pw * ow) {
        const uint32_t *h = bytes ? row : part, *b = part;
        uint8_t *px = out;
        if (bytes)
            pass_row(lv->tab, img, rs, cs, ow, last ? row : part, BE_PASS_RAW, njt);
        else
            pass_row(lv->tab, img, rs, cs, ow, part, pass == 0u ? BE_PASS_SET : BE_PASS_ADD, njt);
        if (!last)
            continue;
        for (; px != out + row_bytes; px += ps, h += bytes ? 2 : 4, b += 2) {
            uint32_t h0, h1, h2, h3;
            if (!bytes) {
                h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3];
            } else {
                h0 = h[0] & m, h1 = (h[0] >> 8) & m, h2 = h[1] & m, h3 = (h[1] >> 8) & m;
                if (passes == 2u)
                    h0 += b[0] & m, h1 += (b[0] >> 8) & m, h2 += b[1] & m, h3 += (b[1] >> 8) & m;
            }
            if (rq != NULL) /* a constant in each instance */
                put_rq(op, rq->o0, (int8_t *)px, acc_n, rq->fast, k, rq->q, h0, h1, h2, h3);
            else if (acc_n != 0u)
                put_acc((int32_t *)(void *)px, acc_n, k, h0, h1, h2, h3);
            else
                put_levels_halves4(lv, h0, h1, h2, h3, (be_word *)(void *)px);
        }
    }
}

static __attribute__((noinline)) void orows_signp(const be_op *op, const tab_levels *lv, const be_word *img,
                                                  uint32_t wp, uint32_t rows, uint8_t *out, uint32_t *part,
                                                  uint32_t *row, uint32_t pass, const offsets_plan *pl, uint32_t njt,
                                                  uint32_t acc_n)
{
    orows_signp_body(op, lv, img, wp, rows, out, part, row, pass, pl, njt, acc_n, NULL);
}

static __attribute__((noinline)) void orows_signp_rq(const be_op *op, const tab_levels *lv, const be_word *img,
                                                     uint32_t wp, uint32_t rows, uint8_t *out, uint32_t *part,
                                                     uint32_t *row, uint32_t pass, const offsets_plan *pl,
                                                     uint32_t njt, uint32_t n, const orows_rq *rq)
{
    orows_signp_body(op, lv, img, wp, rows, out, part, row, pass, pl, njt, n, rq);
}

/* A requantizing pass over channels [o0, o0 + n): their constants prepared in this frame, so that
 * only it holds them (the sign and accumulator passes' stack stays as it was; with the table in
 * orows_signp_rq's own frame its pixel loop ran about 2.5 instructions per output more). */
static __attribute__((noinline)) void rq_pass(const be_op *op, const tab_levels *lv, const be_word *img, uint32_t wp,
                                              uint32_t rows, uint8_t *out, uint32_t *part, uint32_t *row,
                                              uint32_t pass, const offsets_plan *pl, uint32_t njt, uint32_t o0,
                                              uint32_t n)
{
    be_rq_bin q[8];
    orows_rq rq;
    rq.o0 = o0;
    rq.q = q;
    rq.fast = be_rq_bin_prepare(op, o0, n, q);
    orows_signp_rq(op, lv, img, wp, rows, out, part, row, pass, pl, njt, n, &rq);
}

/* The levels' fields shared by every block of 8 output channels from o0 (n of them) */
static void block_levels(const be_op *op, uint32_t o0, uint32_t n, const be_word *tab, tab_levels *lv)
{
    lv->tab = tab;
    lv->word_step = op->out.pixel_bytes / 4u;
    lv->plane_step = op->out.cw;
    lv->shift = o0 % 32u;
    lv->mask = (1u << n) - 1u;
    lv->levels = op->levels;
    lv->out_planes = op->out.planes;
}

/* The whole layer (offsets_layer: pl->banded): bands of pl->rows output rows, blocks of 8 output
 * channels, P passes; tab: the tables, then the image, then part. */
static __attribute__((noinline)) void sign_passes(const be_op *op, const be_word *in, void *out, be_word *tab,
                                                  const offsets_plan *pl)
{
    const uint32_t plane_words = pl->resident ? pl->img_words / pl->passes : 0u;
    const uint32_t out_row_bytes = op->out.w * op->out.pixel_bytes;
    const int acc = op->stage == BE_STAGE_ACC, rq = op->stage == BE_STAGE_REQUANT;
    const uint32_t nj = (op->in.c + 3u) / 4u;
    be_word *const img = tab + pl->tab_words;
    uint32_t *const part = img + pl->img_words, *const row = part + pl->rows * band_sum_words(pl) * op->out.w;
    be_arm_padded g;
    uint32_t oy0, o0, p, pw[8];
    if (!be_arm_padded_geometry(op, 1u, 0xFFFFu, &g)) /* offsets_layer checked it */
        return;
    for (oy0 = 0; oy0 < op->out.h; oy0 += pl->rows) {
        const uint32_t rows = op->out.h - oy0 < pl->rows ? op->out.h - oy0 : pl->rows;
        if (pl->resident)
            for (p = 0; p < pl->passes; p++)
                sign_plane(op, in, img + p * plane_words, p, oy0, rows, &g);
        for (o0 = 0; o0 < op->out_ch; o0 += 8u) {
            const uint32_t n = op->out_ch - o0 < 8u ? op->out_ch - o0 : 8u;
            /* the block's place in the band's first pixel: int32 accumulators, int8 codes, or the
             * word of sign bits that holds channel o0 */
            uint8_t *place = (uint8_t *)out + (size_t)oy0 * out_row_bytes + (acc ? 4u * o0 : rq ? o0 : o0 / 32u * 4u);
            tab_levels lv;
            block_levels(op, o0, n, tab, &lv);
            if (!acc && !rq) {
                sign_thresholds_halves(op, o0, n, &lv);
                lv.levels = 1u;
                lv.out_planes = 1u;
            }
            for (p = 0; p < pl->passes; p++) {
                /* 4 table positions (past C: zero weights and inputs); 2 for a last pass that
                 * has at most 2 nibbles left (C = 17 .. 24, 33 .. 40, ...: the 2-position field) */
                const uint32_t njt = nj - 4u * p <= 2u ? 2u : 4u;
                if (!pl->resident)
                    sign_plane(op, in, img, p, oy0, rows, &g);
                if (njt == 4u)
                    build_sign4(op, o0, n, tab, 4u * p);
                else
                    build_2j(op, o0, n, tab, pw, 4u * p, njt);
                if (rq && p + 1u == pl->passes) /* (the other passes only count: no stage) */
                    rq_pass(op, &lv, img + p * plane_words, pl->wp, rows, place, part, row, p, pl, njt, o0, n);
                else
                    orows_signp(op, &lv, img + p * plane_words, pl->wp, rows, place, part, row, p, pl, njt,
                                acc || rq ? n : 0u);
            }
        }
    }
}
#endif /* offsets */

int be_conv2d_bin_tab_offsets(const be_op *op)
{
#ifdef BE_TAB_OFFSETS
    offsets_plan pl;
    return offsets_layer(op, &pl)
#ifdef BE_ARM_HAVE_MVE
           /* Helium's popcount keeps 17 - 32 sign channels (7 x 7 x 32: mve 0.185, tab 0.285);
            * fewer go to the tables (7 x 7 x 16 -> 32: tab 0.28, mve 0.378) */
           && (op->in.encoding == BE_ENC_UNSIGNED || op->in.c <= 16u)
#endif
        ;
#else
    (void)op;
    return 0;
#endif
}

/* px[0 .. KH * KW) = the words of plane p of the receptive field whose top-left tap is input
 * (y0, x0), row by row; 0 for padding pixels (the border pixels only). */
static void gather(const be_op *op, const be_word *in, int32_t y0, int32_t x0, uint32_t p, uint32_t *px)
{
    const be_value *vi = &op->in;
    const uint32_t planes = vi->planes, kw = op->kw;
    /* the taps kx in [kx_lo, kx_hi) fall inside the image's columns */
    const uint32_t kx_lo = x0 < 0 ? (uint32_t)-x0 : 0u;
    const int32_t room = (int32_t)vi->w - x0;
    const uint32_t kx_hi = room < 0 ? 0u : (uint32_t)room < kw ? (uint32_t)room : kw;
    uint32_t ky, kx;
    for (ky = 0; ky < op->kh; ky++, px += kw) {
        const int32_t iy = y0 + (int32_t)ky;
        const int row_in = iy >= 0 && iy < (int32_t)vi->h;
        const be_word *row = in + (size_t)(row_in ? iy : 0) * vi->w * planes + p;
        const uint32_t lo = row_in ? kx_lo : kw, hi = row_in ? kx_hi : 0u;
        /* one loop (a separate zero-fill loop becomes a memset call: a byte loop in picolibc) */
        for (kx = 0; kx < kw; kx++)
            px[kx] = kx >= lo && kx < hi ? row[(size_t)((int32_t)kx + x0) * planes] : 0u;
    }
}

/* One output pixel of a bit-plane layer with its levels in bytes (`bytes`) or halfwords: each
 * plane's byte sums over the receptive field (in place when `inside`, else gathered into px),
 * added shifted, then the levels (put_levels / put_levels_halves). */
static __attribute__((noinline)) void levels_pixel(const be_op *op, const tab_levels *lv, tab_sums_fn sum,
                                                    const be_word *in, int32_t y0, int32_t x0, int inside, int bytes,
                                                    uint32_t *px, be_word *word)
{
    const uint32_t planes = op->in.planes, nj = (op->in.c + 3u) / 4u;
    uint32_t sums[2], s0 = 0u, s1 = 0u, sv[4], p;
    sv[0] = sv[1] = sv[2] = sv[3] = 0u;
    for (p = 0; p < planes; p++) {
        sums[1] = 0u;
        if (inside) {
            sum(lv->tab, in + (size_t)y0 * lv->row_step + (size_t)x0 * planes + p, lv->row_step, planes, op->kh,
                op->kw, nj, sums);
        } else {
            gather(op, in, y0, x0, p, px);
            sum(lv->tab, px, op->kw, 1u, op->kh, op->kw, nj, sums);
        }
        if (bytes) {
            s0 += sums[0] << p; /* lanes: S <= 254 (levels_in_bytes), no carry */
            s1 += sums[1] << p;
        } else {
            widen_add(sv, sums[0], sums[1], p); /* S <= 65534 (levels_in_halves) */
        }
    }
    if (bytes)
        put_levels(lv, s0, s1, word);
    else
        put_levels_halves(lv, sv, word);
}

/* The input with its padding made explicit, for layers whose border pixels would otherwise
 * gather their taps one by one (a quarter to a half of the pixels of a 14 x 14 or 7 x 7 map):
 * hp = (OH - 1) SH + KH rows of wp = (OW - 1) SW + KW pixels of P words, zero words (+1, level 0:
 * the padding of the numerics contract) outside the image. Then every output pixel is an
 * interior one. Returns 0 (nothing written) when the layer has no padding or the copy does not
 * fit cap words. */
static int pad_input(const be_op *op, const be_word *in, be_word *pad, uint32_t cap, uint32_t *wp_out,
                     uint32_t *hp_out)
{
    const be_value *vi = &op->in;
    const uint32_t planes = vi->planes;
    be_arm_padded g;
    uint32_t py;
    if ((op->pt | op->pb | op->pl | op->pr) == 0u || !be_arm_padded_geometry(op, planes, cap, &g))
        return 0;
    for (py = 0; py < g.hp; py++, pad += g.wp * planes) {
        const int32_t iy = (int32_t)py - (int32_t)op->pt;
        if (iy < 0 || iy >= (int32_t)vi->h) {
            be_zero_words(pad, g.wp * planes);
            continue;
        }
        be_zero_words(pad, g.lead * planes);
        be_copy_words(pad + g.lead * planes, in + (size_t)iy * vi->w * planes, g.n * planes);
        be_zero_words(pad + (g.lead + g.n) * planes, (g.wp - g.lead - g.n) * planes);
    }
    *wp_out = g.wp;
    *hp_out = g.hp;
    return 1;
}

be_status be_conv2d_bin_tab(const be_op *op, const void *in, void *out, void *scratch)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t nj = (vi->c + 3u) / 4u, planes = vi->planes;
#ifdef BE_TAB_OFFSETS
    offsets_plan opl;
    const int offsets = offsets_layer(op, &opl); /* the offset image (blocks of 8) */
#endif
    const uint32_t ob = tab_block(op), top = (1u << planes) - 1u; /* (the offset image: blocks of 8) */
    const int bit_planes = vi->encoding == BE_ENC_UNSIGNED;
    uint32_t *px = (uint32_t *)scratch; /* taps words: the model's patch is taps * P words */
    be_word tab[BE_TAB_WORDS + BE_TAB_PAD_EXTRA]; /* the tables, then the padded input */
    /* the fast path: sign thresholds on the byte sums themselves (receptive field <= 63 nibbles) */
    const int bytes = !bit_planes && be_stage_is_sign(op) && op->kh * op->kw * nj <= BE_TAB_FLUSH;
    /* bit-plane inputs whose thresholds fit the byte domain (see levels_in_bytes) */
    const int lv_bytes = bit_planes && levels_in_bytes(op, nj);
    const int lv_halves = bit_planes && !lv_bytes && levels_in_halves(op, nj);
    uint32_t sums[2];
    uint32_t d[8], pw[8];
    int32_t acc[8];
    uint32_t o0, oy, ox, p, i;
    be_status st = BE_OK;
    /* the input and its geometry as the loops see them: the padded copy when it fits (every
     * output pixel interior), else the input itself (border pixels gathered from `in`) */
    const uint32_t tab_words = op->kh * op->kw * nj * 16u * (ob / 4u); /* <= BE_TAB_WORDS: tab_block */
    const be_word *src = (const be_word *)in;
    uint32_t in_w = vi->w, in_h = vi->h;
    int32_t pt = (int32_t)op->pt, pl = (int32_t)op->pl;
#ifdef BE_TAB_OFFSETS
    if (offsets && opl.banded) {
        sign_passes(op, src, out, tab, &opl);
        return BE_OK;
    }
    if (offsets) { /* tables, then the offset image, then (2 passes) the first pass's sums */
        be_word *img = tab + opl.tab_words;
        uint32_t *part = img + opl.img_words;
        offset_image(op, src, img, opl.wpp);
        for (o0 = 0; o0 < op->out_ch; o0 += 8u) {
            const uint32_t n = op->out_ch - o0 < 8u ? op->out_ch - o0 : 8u;
            be_word *word = (be_word *)out + o0 / 32u;
            tab_levels lv;
            block_levels(op, o0, n, tab, &lv);
            if (vi->encoding == BE_ENC_SIGN) {
                uint32_t tw[2], fw[2];
                build_2j(op, o0, n, tab, pw, 0u, opl.njt); /* positions past C: zero weights, inputs */
                byte_thresholds(op, o0, n, tw, fw);
                orows_sign(op, &lv, tw, fw, img, opl.wp, word);
            } else if (opl.passes == 1u) {
                build_2j(op, o0, n, tab, pw, 0u, opl.njt); /* positions past C: zero weights, inputs */
                level_thresholds(op, o0, n, pw, &lv, nj > 2u);
                (nj <= 2u ? orows_2 : orows_4)(op, &lv, img, opl.wp, word);
            } else {
                uint32_t pw1[8];
                build_2j(op, o0, n, tab, pw, 0u, 4u); /* nibbles 0 .. 3 */
                orows_8(op, &lv, img, opl.wp, word, part, 0u);
                build_2j(op, o0, n, tab, pw1, 4u, 4u); /* nibbles 4 .. 7 (zero weights past C) */
                for (i = 0; i < 8u; i++)
                    pw[i] += pw1[i];
                level_thresholds(op, o0, n, pw, &lv, 1);
                orows_8(op, &lv, img, opl.wp, word, part, 1u);
            }
        }
        return BE_OK;
    }
#endif
    if (pad_input(op, src, tab + tab_words, BE_TAB_WORDS + BE_TAB_PAD_EXTRA - tab_words, &in_w, &in_h)) {
        src = tab + tab_words;
        pt = pl = 0;
    }
    for (o0 = 0; o0 < op->out_ch; o0 += ob) {
        const uint32_t n = op->out_ch - o0 < ob ? op->out_ch - o0 : ob;
        const uint32_t ew = n <= 4u ? 1u : 2u;
        const tab_pixel_fn pixel = ew == 1u ? pixel_1 : pixel_2;
        const tab_sums_fn sum = sums_for(ew, nj, op->kh, op->kw);
        const uint32_t mask = (1u << n) - 1u; /* n <= 8 */
        build(op, o0, n, ew, tab, pw); /* pw: used by the bit-plane paths */
        if (lv_bytes || lv_halves) {
            tab_levels lv;
            const int32_t lo_x = (pl + (int32_t)op->sw - 1) / (int32_t)op->sw; /* x0 >= 0 */
            const int32_t hi_x = ((int32_t)in_w - (int32_t)op->kw + pl) / (int32_t)op->sw + 1;
            const uint32_t xa = lo_x < (int32_t)vo->w ? (uint32_t)lo_x : vo->w;
            const uint32_t xb = hi_x < (int32_t)xa ? xa : hi_x > (int32_t)vo->w ? vo->w : (uint32_t)hi_x;
            const int rows33 = lv_bytes && sum == sums33_2_2 && planes == 2u;
            const int rows33h = !lv_bytes && sum == sums33_2_4 && planes == 2u;
            level_thresholds(op, o0, n, pw, &lv, !lv_bytes);
            lv.tab = tab;
            lv.row_step = in_w * planes;
            lv.col_step = planes;
            lv.sw = op->sw;
            lv.word_step = vo->pixel_bytes / 4u;
            lv.plane_step = vo->cw;
            lv.shift = o0 % 32u;
            lv.mask = mask;
            lv.levels = op->levels;
            lv.out_planes = vo->planes;
            for (oy = 0; oy < vo->h; oy++) {
                const int32_t y0 = (int32_t)(oy * op->sh) - pt;
                const int inside_y = y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)in_h;
                be_word *word = (be_word *)((uint8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes) + o0 / 32u;
                for (ox = 0; ox < vo->w; ox++, word += lv.word_step) {
                    const int32_t x0 = (int32_t)(ox * op->sw) - pl;
                    const int inside = inside_y && ox >= xa && ox < xb;
                    if (inside && (rows33 || rows33h)) { /* the interior run in one call */
                        const be_word *at = src + ((size_t)y0 * in_w + (size_t)x0) * planes;
                        (rows33 ? row33_planes2 : row33_planes2_halves)(&lv, at, word, xb - ox);
                        word += (xb - ox - 1u) * lv.word_step;
                        ox = xb - 1u;
                        continue;
                    }
                    levels_pixel(op, &lv, sum, inside ? src : (const be_word *)in, y0, x0, inside, lv_bytes, px, word);
                }
            }
            continue;
        }
        if (bytes) {
            tab_row rw;
            const int32_t lo_x = (pl + (int32_t)op->sw - 1) / (int32_t)op->sw; /* x0 >= 0 */
            const int32_t hi_x = ((int32_t)in_w - (int32_t)op->kw + pl) / (int32_t)op->sw + 1;
            const uint32_t xa = lo_x < (int32_t)vo->w ? (uint32_t)lo_x : vo->w;
            const uint32_t xb = hi_x < (int32_t)xa ? xa : hi_x > (int32_t)vo->w ? vo->w : (uint32_t)hi_x;
            const int rows33 = sum == sums33_2_2 || sum == sums33_2_4;
            byte_thresholds(op, o0, n, rw.tw, rw.fw);
            rw.tab = tab;
            rw.row_step = in_w;
            rw.sw = op->sw;
            rw.word_step = vo->pixel_bytes / 4u;
            rw.shift = o0 % 32u;
            rw.mask = mask;
            for (oy = 0; oy < vo->h; oy++) {
                const int32_t y0 = (int32_t)(oy * op->sh) - pt;
                const int inside_y = y0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)in_h;
                be_word *word = (be_word *)((uint8_t *)out + (size_t)oy * vo->w * vo->pixel_bytes) + o0 / 32u;
                for (ox = 0; ox < vo->w; ox++, word += rw.word_step) {
                    const int32_t x0 = (int32_t)(ox * op->sw) - pl;
                    uint32_t bits;
                    if (inside_y && ox >= xa && ox < xb) {
                        const be_word *at = src + (size_t)y0 * in_w + (size_t)x0;
                        if (rows33) { /* the interior run in one call */
                            (nj == 2u ? row33_2 : row33_4)(&rw, at, word, xb - ox);
                            word += (xb - ox - 1u) * rw.word_step;
                            ox = xb - 1u;
                            continue;
                        }
                        sum(tab, at, in_w, 1u, op->kh, op->kw, nj, sums);
                    } else {
                        gather(op, (const be_word *)in, y0, x0, 0u, px);
                        sum(tab, px, op->kw, 1u, op->kh, op->kw, nj, sums);
                    }
                    bits = byte_bits(sums, rw.tw, rw.fw, ew) & mask;
                    *word = rw.shift == 0u ? bits : *word | bits << rw.shift;
                }
            }
            continue;
        }
        for (oy = 0; oy < vo->h; oy++) {
            const int32_t y0 = (int32_t)(oy * op->sh) - pt;
            for (ox = 0; ox < vo->w; ox++) {
                const int32_t x0 = (int32_t)(ox * op->sw) - pl;
                void *px_out = (uint8_t *)out + ((size_t)oy * vo->w + ox) * vo->pixel_bytes;
                be_status s;
                const int inside = y0 >= 0 && x0 >= 0 && y0 + (int32_t)op->kh <= (int32_t)in_h &&
                                   x0 + (int32_t)op->kw <= (int32_t)in_w;
                for (p = 0; p < planes; p++) {
                    if (op->kh * op->kw * nj <= BE_TAB_FLUSH) { /* byte sums of the plane, unpacked once */
                        if (inside)
                            sum(tab, src + ((size_t)y0 * in_w + (size_t)x0) * planes + p,
                                in_w * planes, planes, op->kh, op->kw, nj, sums);
                        else {
                            gather(op, (const be_word *)in, y0, x0, p, px);
                            sum(tab, px, op->kw, 1u, op->kh, op->kw, nj, sums);
                        }
                        unpack(sums, ew, d, bit_planes ? p : 0u, p == 0u);
                        continue;
                    }
                    if (inside) { /* straight from the input: rows of W pixels of P words */
                        pixel(tab, src + ((size_t)y0 * in_w + (size_t)x0) * planes + p,
                              in_w * planes, planes, op->kh, op->kw, nj, d, bit_planes ? p : 0u, p == 0u);
                    } else {
                        gather(op, (const be_word *)in, y0, x0, p, px);
                        pixel(tab, px, op->kw, 1u, op->kh, op->kw, nj, d, bit_planes ? p : 0u, p == 0u);
                    }
                }
                for (i = 0; i < n; i++)
                    acc[i] = bit_planes ? (int32_t)(d[i] - top * pw[i]) : (int32_t)op->k - 2 * (int32_t)d[i];
                if (o0 == 0u)
                    be_stage_clear(op, px_out);
                s = be_stage_put_block(op, px_out, o0, n, acc);
                if (s != BE_OK)
                    st = s;
            }
        }
    }
    return st;
}

#else
typedef int be_bin_tab_unused; /* ISO C forbids an empty translation unit */
#endif
