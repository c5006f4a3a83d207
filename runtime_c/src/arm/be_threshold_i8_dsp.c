/* be_threshold_i8_dsp.c -- "dsp": Threshold (sign) of u8 / i8 codes -> bits with byte SIMD
 * (Cortex-M4 / M7 / M33 / M55 DSP extension).
 *
 * be_ew_sign_table turns each channel's threshold and direction into a byte W and three masks,
 * so that 32 channels' bits are ((ge ^ flip) & keep) | set with ge_i = (x_i >= W_i). USUB8 (u8) /
 * SSUB8 (i8) subtracts four W bytes from four codes and sets the four GE flags to exactly those
 * compares; MRS APSR reads them (bits 16..19). Per four channels: one (unaligned) LDR of the
 * codes, one LDR of the W word, the SIMD subtract, MRS, and the four bits into the word
 * (UBFX / ORR): about 1.5 instructions per code instead of the reference's compare, branch and
 * read-modify-write of a bit. Channels past the last whole group of four are compared one by
 * one (no load past the value's end). Unsigned encodings (several levels) take "word".
 */
#include "be_arm_kernels.h"

#ifdef BE_ARM_HAVE_DSP
#include "word/be_ew.h"

int be_threshold_i8_dsp_supports(const be_op *op)
{
    return op->encoding == BE_ENC_SIGN;
}

/* Four codes at x: an LDR, unaligned where the value is (allowed for LDR on ARMv7-M; the graph
 * input may sit at any address); GCC emits it for a 4-byte memcpy. */
static inline uint32_t ld32(const uint8_t *x)
{
    uint32_t v;
    __builtin_memcpy(&v, x, 4u);
    return v;
}

/* GE flags of the byte-wise v - w (unsigned / signed), as bits 0..3: MRS right after the SIMD
 * subtract, in one asm statement (the compiler does not know the GE flags). */
static inline uint32_t ge_u(uint32_t v, uint32_t w)
{
    uint32_t r;
    __asm__("usub8 %0, %1, %2\n\tmrs %0, apsr" : "=&r"(r) : "r"(v), "r"(w) : "cc");
    return (r >> 16) & 0xFu;
}

static inline uint32_t ge_s(uint32_t v, uint32_t w)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tmrs %0, apsr" : "=&r"(r) : "r"(v), "r"(w) : "cc");
    return (r >> 16) & 0xFu;
}

#define GE(x, w) (is_i8 ? ge_s(ld32(x), (w)) : ge_u(ld32(x), (w)))

BE_EW_INLINE void run(const be_op *op, const uint8_t *in, be_word *out, int is_i8)
{
    const be_value *vi = &op->in, *vo = &op->out;
    const uint32_t npx = vo->h * vo->w, cw = vo->cw, cs = vi->c;
    uint32_t c0, px, i;
    for (c0 = 0; c0 < cs; c0 += 32u) {
        const uint32_t n = cs - c0 < 32u ? cs - c0 : 32u, ng = n / 4u;
        uint32_t wt[8], flip, keep, set;
        be_ew_sign_table(op, c0, n, (uint8_t *)wt, &flip, &keep, &set);
        for (px = 0; px < npx; px++) {
            const uint8_t *x = in + (size_t)px * cs + c0;
            uint32_t bits = 0u;
            if (ng == 8u) { /* a whole word */
                out[(size_t)px * cw + c0 / 32u] =
                    (((GE(x, wt[0]) | GE(x + 4, wt[1]) << 4 | GE(x + 8, wt[2]) << 8 | GE(x + 12, wt[3]) << 12 |
                       GE(x + 16, wt[4]) << 16 | GE(x + 20, wt[5]) << 20 | GE(x + 24, wt[6]) << 24 |
                       GE(x + 28, wt[7]) << 28) ^ flip) & keep) | set;
                continue;
            }
            switch (ng) { /* the whole groups, with constant shifts (falling through) */
            case 7: bits |= GE(x + 24, wt[6]) << 24; /* fall through */
            case 6: bits |= GE(x + 20, wt[5]) << 20; /* fall through */
            case 5: bits |= GE(x + 16, wt[4]) << 16; /* fall through */
            case 4: bits |= GE(x + 12, wt[3]) << 12; /* fall through */
            case 3: bits |= GE(x + 8, wt[2]) << 8;   /* fall through */
            case 2: bits |= GE(x + 4, wt[1]) << 4;   /* fall through */
            case 1: bits |= GE(x, wt[0]);            /* fall through */
            default: break;
            }
            for (i = 4u * ng; i < n; i++) { /* the last 1..3 channels: one byte each */
                const uint8_t wb = ((const uint8_t *)wt)[i];
                bits |= (uint32_t)(is_i8 ? (int8_t)x[i] >= (int8_t)wb : x[i] >= wb) << i;
            }
            out[(size_t)px * cw + c0 / 32u] = ((bits ^ flip) & keep) | set;
        }
    }
}

be_status be_threshold_i8_dsp(const be_op *op, const void *in, void *out, void *scratch)
{
    (void)scratch;
    if (op->in.kind == BE_KIND_I8)
        run(op, (const uint8_t *)in, (be_word *)out, 1);
    else
        run(op, (const uint8_t *)in, (be_word *)out, 0);
    return BE_OK;
}

#endif /* BE_ARM_HAVE_DSP */
