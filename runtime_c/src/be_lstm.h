/* be_lstm.h -- internal: what every LSTM kernel shares (the tables, the state layout, one cell).
 *
 * One step of the binary-weight LSTM op (docs/numerics.md, "Recurrent: the binary-weight LSTM
 * step"; binedge/lstm_integer.py `step` is the spec), for gate j in (i, f, g, o) = 0..3 and cell c,
 * row r = j H + c:
 *   acc_h = sum_k Wh[r][k] h[k]                     (+-1 x int8, h = the OLD state h)
 *   xpart = Mx_j Wx[r][x]                           (one-hot: x the input byte, x < I)
 *         = Mx_j sum_k Wx[r][k] p[k]                (p: the previous LSTM's h codes)
 *   v     = Mh_j acc_h + xpart + B[r]               (int32: the loader proved every term)
 *   z_j   = clamp(rshift(v, s_j), -512, 511)
 *   c'    = clamp(rshift(f c, 15) + rshift(i g, 30 - cf), -65535, 65535)
 *   h'    = clamp(rshift(o TANH[clamp(rshift(c', cf - 6), -512, 511)], 23), -127, 127)
 * with i, f, o = SIG[z], g = TANH[z] (Q15) and rshift(v, s) = floor((v + 2^(s-1)) / 2^s). Only
 * 32-bit arithmetic: every intermediate is proved to fit int32 (docs/numerics.md), given the
 * state invariants |c| <= 65535 and |h| <= 127 (only the op writes its state, clamped; be_prepare
 * and be_reset zero it).
 *
 * The kernel's `scratch` is the op's state: int32 c[H] at 0, int8 h[H] at be_lstm_h_offset(H).
 * Every kernel writes h' to its output, c' into the state as it goes (cell c reads only c[c]),
 * and copies the output into the state h at the end (every row reads the old h).
 */
#ifndef BE_LSTM_H
#define BE_LSTM_H

#include "binedge.h"
#include "be_bitformat.h"

#define BE_LSTM_TABLE 1024      /* entries of each table: z codes -512 .. 511 */
#define BE_LSTM_Z_MIN (-512)
#define BE_LSTM_Z_MAX 511
#define BE_LSTM_C_MAX 65535     /* |c| */
#define BE_LSTM_H_MAX 127       /* |h| */
#define BE_LSTM_C_FRAC_MIN 7
#define BE_LSTM_C_FRAC_MAX 14
#define BE_LSTM_SHIFT_MAX 30    /* gate shifts s_j in 1 .. 30 */

/* Q15 sigmoid / tanh at z = k / 64, index k + 512 (src/be_lstm_tables.c, generated). */
extern const int16_t be_lstm_sig[BE_LSTM_TABLE];
extern const int16_t be_lstm_tanh[BE_LSTM_TABLE];

/* Byte offset of h in the state; the state's bytes (docs/format.md: the op's scratch). */
static inline uint32_t be_lstm_h_offset(uint32_t hidden)
{
    return (4u * hidden + 15u) & ~15u;
}

static inline uint32_t be_lstm_state_bytes(uint32_t hidden)
{
    return be_lstm_h_offset(hidden) + ((hidden + 15u) & ~15u);
}

/* rshift(v, s) = floor((v + 2^(s-1)) / 2^s) for s in [1, 30] where v + 2^(s-1) fits int32 (proved
 * by the caller), given half = 2^(s-1); the arithmetic shift written portably (~(~t >> s) for
 * negative t: one ASR). */
static inline int32_t be_lstm_rshift_h(int32_t v, uint32_t s, int32_t half)
{
    const int32_t t = v + half;
    return t < 0 ? ~(~t >> s) : t >> s;
}

static inline int32_t be_lstm_rshift(int32_t v, uint32_t s)
{
    return be_lstm_rshift_h(v, s, (int32_t)(1u << (s - 1u)));
}

static inline int32_t be_lstm_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Table index of a gate pre-activation v with shift s (half = 2^(s-1)). */
static inline uint32_t be_lstm_z(int32_t v, uint32_t s, int32_t half)
{
    return (uint32_t)(be_lstm_clamp(be_lstm_rshift_h(v, s, half), BE_LSTM_Z_MIN, BE_LSTM_Z_MAX) - BE_LSTM_Z_MIN);
}

/* One cell from its four pre-activations v[j] (gates i, f, g, o), shifts s[j] with half[j] =
 * 2^(s[j]-1): updates *c and returns h'. */
static inline int8_t be_lstm_cell_h(const int32_t v[4], const uint32_t s[4], const int32_t half[4], int32_t *c,
                                    uint32_t cf)
{
    const int32_t i = be_lstm_sig[be_lstm_z(v[0], s[0], half[0])], f = be_lstm_sig[be_lstm_z(v[1], s[1], half[1])];
    const int32_t g = be_lstm_tanh[be_lstm_z(v[2], s[2], half[2])], o = be_lstm_sig[be_lstm_z(v[3], s[3], half[3])];
    const int32_t cn = be_lstm_clamp(be_lstm_rshift(f * *c, 15u) + be_lstm_rshift(i * g, 30u - cf), -BE_LSTM_C_MAX,
                                     BE_LSTM_C_MAX);
    const int32_t t = be_lstm_tanh[be_lstm_clamp(be_lstm_rshift(cn, cf - 6u), BE_LSTM_Z_MIN, BE_LSTM_Z_MAX) -
                                   BE_LSTM_Z_MIN];
    *c = cn;
    return (int8_t)be_lstm_clamp(be_lstm_rshift(o * t, 23u), -BE_LSTM_H_MAX, BE_LSTM_H_MAX);
}

/* The same from the op's uint8 shifts (the reference kernel). */
static inline int8_t be_lstm_cell(const int32_t v[4], const uint8_t *s, int32_t *c, uint32_t cf)
{
    const uint32_t sj[4] = {s[0], s[1], s[2], s[3]};
    const int32_t half[4] = {(int32_t)(1u << (s[0] - 1u)), (int32_t)(1u << (s[1] - 1u)), (int32_t)(1u << (s[2] - 1u)),
                             (int32_t)(1u << (s[3] - 1u))};
    return be_lstm_cell_h(v, sj, half, c, cf);
}

/* Whether the op reads a character id (one-hot, a u8 input of shape (1,)) or int8 codes. */
static inline int be_lstm_onehot(const be_op *op)
{
    return op->in.kind == BE_KIND_U8;
}

/* The x part of row r for a one-hot input x (< I): Mx_j or -Mx_j by bit r of Wx's row x. */
static inline int32_t be_lstm_onehot_x(const be_op *op, uint32_t x, uint32_t r, int32_t mx)
{
    const uint32_t cw = be_words_for(4u * op->out_ch);
    const be_word w = ((const be_word *)op->stage_a)[(size_t)x * cw + r / 32u];
    return (w >> (r % 32u)) & 1u ? -mx : mx;
}

/* Copy n int8 codes (the new h) into the state. */
static inline void be_lstm_copy_h(int8_t *dst, const int8_t *src, uint32_t n)
{
    uint32_t i;
    for (i = 0; i < n; i++)
        dst[i] = src[i];
}

/* What the optimized kernels load once per step: the multipliers, shifts and rounding terms, c_frac
 * and, for a one-hot input, Wx's row x (an int8 store may alias anything, so a compiler would
 * otherwise reload them from the op for every cell). */
typedef struct be_lstm_k {
    int32_t mh[4], mx[4], half[4];
    uint32_t s[4], cf;
    const be_word *xrow; /* one-hot: row x of Wx (bit r: the sign of Wx[r][x]); else NULL */
} be_lstm_k;

static inline void be_lstm_k_init(be_lstm_k *k, const be_op *op, uint32_t x)
{
    const int32_t *mul = (const int32_t *)op->stage_b;
    const uint8_t *sh = (const uint8_t *)op->stage_d;
    uint32_t j;
    for (j = 0; j < 4u; j++) {
        k->mh[j] = mul[j];
        k->mx[j] = mul[4u + j];
        k->s[j] = sh[j];
        k->half[j] = (int32_t)(1u << (sh[j] - 1u));
    }
    k->cf = (uint32_t)op->shift;
    k->xrow = be_lstm_onehot(op) ? (const be_word *)op->stage_a + (size_t)x * be_words_for(4u * op->out_ch) : NULL;
}

/* v of row r (gate j) from its recurrent dot ah and, for an int8 input, its input dot ax. */
static inline int32_t be_lstm_v(const be_lstm_k *k, uint32_t j, uint32_t r, int32_t ah, int32_t ax, const int32_t *bias)
{
    const int32_t xp = k->xrow != NULL ? ((k->xrow[r / 32u] >> (r % 32u)) & 1u ? -k->mx[j] : k->mx[j]) : k->mx[j] * ax;
    return k->mh[j] * ah + xp + bias[r];
}

/* The operands of one step as the optimized kernels read them (be_lstm_step_init). */
typedef struct be_lstm_step {
    uint32_t hid, n_in, cwh, cwx; /* H, the input width (one-hot: V), words of a Wh / Wx row */
    int onehot;
    const int32_t *bias;
    const be_word *wh, *wx;
    int32_t *c;    /* the state's cell codes, updated in place */
    int8_t *h;     /* the state's h codes: the old h while the dots read it */
    int8_t *hout;  /* the op's output: the new h */
    be_lstm_k k;
} be_lstm_step;

/* Fill s for one step of op; BE_ERR_INPUT (nothing written) for a character id beyond the vocabulary. */
static inline be_status be_lstm_step_init(be_lstm_step *s, const be_op *op, const void *in, void *out, void *scratch)
{
    const uint32_t x = be_lstm_onehot(op) ? *(const uint8_t *)in : 0u;
    s->hid = op->out_ch;
    s->n_in = op->in_ch;
    s->cwh = be_words_for(s->hid);
    s->cwx = be_words_for(s->n_in);
    s->onehot = be_lstm_onehot(op);
    s->bias = (const int32_t *)op->stage_c;
    s->wh = (const be_word *)op->weights;
    s->wx = (const be_word *)op->stage_a;
    s->c = (int32_t *)scratch;
    s->h = (int8_t *)scratch + be_lstm_h_offset(s->hid);
    s->hout = (int8_t *)out;
    if (s->onehot && x >= s->n_in)
        return BE_ERR_INPUT;
    be_lstm_k_init(&s->k, op, x);
    return BE_OK;
}

/* Cell c from its four gates' recurrent dots ah and input dots ax (zeros for a one-hot input):
 * the pre-activations, the cell update and the new h code. */
static inline void be_lstm_finish_cell(const be_lstm_step *s, uint32_t c, const int32_t ah[4], const int32_t ax[4])
{
    int32_t v[4];
    uint32_t j;
    for (j = 0; j < 4u; j++)
        v[j] = be_lstm_v(&s->k, j, j * s->hid + c, ah[j], ax[j], s->bias);
    s->hout[c] = be_lstm_cell_h(v, s->k.s, s->k.half, &s->c[c], s->k.cf);
}

#endif /* BE_LSTM_H */
