"""The exact integer binary-weight LSTM character model: constants and the numpy reference (the spec).

docs/numerics.md, "Recurrent: the binary-weight LSTM step", defines every operation below; this
module is its executable form, deliberately plain integer numpy (int64 arrays holding values the
spec proves to fit int32; :func:`step` checks that again at run time).

Formats (module constants):
    h       int8 code q in [-127, 127], h = q / 2^7                        (H_FRAC, H_MAX)
    z       gate pre-activation code in [-512, 511], z = k / 2^6            (Z_FRAC, Z_MIN, Z_MAX)
    σ, tanh lookup tables over z codes, outputs Q15 (int16), float64 + round half up
    c       cell state, int32 code in [-65535, 65535], c = code / 2^c_frac  (c_frac = 10 by default)
    scores  int32, logit = score / 2^S_out (one shift for the whole vocabulary)

One step of layer l (gates j = i, f, g, o; x = the character id for l = 0, the layer below's h
codes otherwise; rshift(v, s) = floor((v + 2^(s-1)) / 2^s)):
    acc_h[j]   = Σ_k Wh[j][:, k] · h_k                       (Wh = ±1; |acc_h| ≤ 127·H)
    x-part[j]  = Ax[j] · Wx[j][:, x]            (l = 0: one-hot picks a ±1 column)
               = Mx[j] · Σ_k Wx[j][:, k] · x_k  (l > 0)
    v[j]       = Mh[j] · acc_h[j] + x-part[j] + B[j]         (proved |v| + 2^(s_j-1) ≤ 2^31 − 1)
    z[j]       = clamp(rshift(v[j], s_j), -512, 511)
    i, f, o    = SIG[z], g = TANH[z]                          (Q15)
    c'         = clamp(rshift(f·c, 15) + rshift(i·g, 30 − c_frac), -C_MAX, C_MAX)
    h'         = clamp(rshift(o · TANH[clamp(rshift(c', c_frac − 6), -512, 511)], 23), -127, 127)
    scores     = m ⊙ (Wq · h'_top) + o_out                    (Wq int8 per-row, proved int32)

:func:`build_constants` makes the integers from a trained :class:`binedge.lm.CharLSTM` (binary gate
matrices: BinaryConnect, BWN or LAB) and refuses, with :class:`IntegerLSTMError` naming the
problem, a model whose constants or bounds do not fit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

#: h = q / 2^H_FRAC, q in [-H_MAX, H_MAX] (symmetric int8)
H_FRAC, H_MAX = 7, 127
#: gate pre-activation codes: z = k / 2^Z_FRAC, k clamped to [Z_MIN, Z_MAX] (the table domain [-8, 8))
Z_FRAC, Z_MIN, Z_MAX = 6, -512, 511
#: σ / tanh outputs: Q15 (value · 2^15), int16
LUT_FRAC = 15
#: cell state: c = code / 2^c_frac, code clamped to [-C_MAX, C_MAX]; c_frac is a model constant in
#: [C_FRAC_MIN, C_FRAC_MAX], default C_FRAC (|c| < 2^(16 - c_frac): 64 by default)
C_FRAC, C_MAX = 10, 65535
C_FRAC_MIN, C_FRAC_MAX = 7, 14
INT32_MAX = 2 ** 31 - 1
#: gate shifts s_j are chosen in [1, GATE_SHIFT_MAX]; output score shift S_out in [0, SCORE_SHIFT_MAX]
GATE_SHIFT_MAX, SCORE_SHIFT_MAX = 30, 30
#: refuse a model whose worst-case fixed-point error of a gate pre-activation exceeds this (z codes)
MAX_Z_ERROR = 1.0 / 16
#: refuse a model whose worst-case fixed-point error of a score exceeds this (logit units, nats); the
#: int8 rounding of the output weights alone may move a logit by up to H·s_r/2 (~0.25 at H = 128)
MAX_SCORE_ERROR = 0.05
GATES = ("i", "f", "g", "o")


class IntegerLSTMError(ValueError):
    """A model that the integer LSTM cannot represent exactly within its proved bounds."""


def round_half_up(x) -> np.ndarray:
    """floor(x + 1/2) exactly for float64 x (halves towards +infinity), as int64."""
    x = np.asarray(x, dtype=np.float64)
    f = np.floor(x)
    return (f + ((x - f) >= 0.5)).astype(np.int64)


def rshift(v, s) -> np.ndarray:
    """floor((v + 2^(s-1)) / 2^s) for s ≥ 1 (the project's rounding rule), elementwise, int64."""
    v = np.asarray(v, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    return (v + (np.int64(1) << (s - 1))) >> s


def _tables() -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(Z_MIN, Z_MAX + 1, dtype=np.float64)
    z = k / 2.0 ** Z_FRAC
    sig = 2.0 ** LUT_FRAC / (1.0 + np.exp(-z))
    tanh = np.tanh(z) * 2.0 ** LUT_FRAC
    for name, y in (("sigmoid", sig), ("tanh", tanh)):
        # reproducible bit for bit with any libm within 1e-9 of the true value: no entry is that close to a half
        margin = np.abs(y - np.floor(y) - 0.5).min()
        assert margin > 1e-6, f"{name} table entry within {margin} of a rounding boundary"
    return (np.clip(round_half_up(sig), 0, 2 ** LUT_FRAC - 1),
            np.clip(round_half_up(tanh), -(2 ** LUT_FRAC - 1), 2 ** LUT_FRAC - 1))


#: SIG[k − Z_MIN] = round_half_up(2^15 · σ(k / 64)), TANH[k − Z_MIN] = clamp(round_half_up(2^15 · tanh(k / 64)), ±32767)
SIG, TANH = _tables()


def tables_sha256() -> str:
    """SHA-256 of SIG then TANH as little-endian int16 (pins the tables)."""
    return hashlib.sha256(SIG.astype("<i2").tobytes() + TANH.astype("<i2").tobytes()).hexdigest()


@dataclass
class LayerConstants:
    """One LSTM layer: ±1 gate matrices, per-gate multipliers and shifts, per-channel biases."""

    wx: np.ndarray        # (4, H, I) int8 ±1: input gate matrices (sign of the binary weight; +1 ↔ bit 0)
    wh: np.ndarray        # (4, H, H) int8 ±1: recurrent gate matrices
    mx: np.ndarray        # (4,) int64: Ax (one-hot input, layer 0) or Mx (int8 input)
    mh: np.ndarray        # (4,) int64
    b: np.ndarray         # (4, H) int64
    shift: np.ndarray     # (4,) int64, in [1, GATE_SHIFT_MAX]
    onehot: bool          # layer 0 reads character ids
    bound: np.ndarray     # (4,) int64: proved max |v| + 2^(s-1)
    z_error: np.ndarray   # (4,) float: worst-case |z_code − exact z·2^6| from rounding the constants


@dataclass
class IntegerCharLSTM:
    """All integers of a deployed character LSTM (see the module docstring)."""

    layers: list
    wq: np.ndarray        # (V, H) int8 output weights, per row w ≈ s_r·q
    m: np.ndarray         # (V,) int64 score multipliers
    o: np.ndarray         # (V,) int64 score offsets
    score_shift: int      # logit = score / 2^score_shift
    score_bound: np.ndarray  # (V,) proved max |score|
    score_error: float    # worst-case |score / 2^S − (s_r / 128 · acc + b_r)|
    vocab_size: int
    hidden: int
    c_frac: int = C_FRAC  # cell state c = code / 2^c_frac
    info: dict = field(default_factory=dict)

    def zero_state(self) -> tuple[np.ndarray, np.ndarray]:
        shape = (len(self.layers), self.hidden)
        return np.zeros(shape, np.int64), np.zeros(shape, np.int64)


def _binary_matrix(m, name: str):
    """(α as float64, ±1 int8 signs) of a BinaryLinear gate matrix; refuses anything else."""
    import torch

    from .nn.quantizers import binary_sign

    kq = m.kernel_quantizer
    if kq is None or not getattr(kq, "binary", False):
        raise IntegerLSTMError(f"gate matrix {name} is not binary ({'full precision' if kq is None else kq.name}): "
                               f"the integer LSTM needs binary weights (--weights binaryconnect, bwn or lab)")
    with torch.no_grad():
        w = m.weight.detach().cpu()
        alpha = float(kq.scale(w, m).double())
        signs = binary_sign(w).to(torch.int8).numpy()
        w_hat = m.quantized_weight().detach().cpu().double().numpy()
    if not np.isfinite(alpha) or alpha <= 0:
        raise IntegerLSTMError(f"gate matrix {name} has weight scale α = {alpha}: it must be finite and positive")
    # the straight-through form w + (α·sign(w) − w) of the quantizers is α·sign(w) up to float32 rounding
    if not np.allclose(w_hat, alpha * signs.astype(np.float64), rtol=1e-5, atol=0):
        raise IntegerLSTMError(f"gate matrix {name}: its quantized weight is not α·sign(w)")
    return alpha, signs


def _gate_constants(alpha_h: float, alpha_x: float, bias: np.ndarray, hidden: int, in_bound: int, onehot: bool,
                    name: str):
    """(mh, mx, b, shift, bound, z_error) of one gate: the largest shift that keeps the int32 bound."""
    acc_h_max = H_MAX * hidden
    for s in range(GATE_SHIFT_MAX, 0, -1):
        # z code · 2^s = α_h·acc_h/2^7·2^6·2^s + x-part + b·2^6·2^s
        eh = alpha_h * 2.0 ** (s - 1)
        ex = alpha_x * 2.0 ** (s + Z_FRAC) if onehot else alpha_x * 2.0 ** (s - 1)
        eb = bias * 2.0 ** (s + Z_FRAC)
        mh, mx, b = int(round_half_up(eh)), int(round_half_up(ex)), round_half_up(eb)
        bound = abs(mh) * acc_h_max + abs(mx) * in_bound + int(np.abs(b).max()) + (1 << (s - 1))
        if bound <= INT32_MAX:
            err = (abs(mh - eh) * acc_h_max + abs(mx - ex) * in_bound + float(np.abs(b - eb).max())) / 2.0 ** s
            if err > MAX_Z_ERROR:
                raise IntegerLSTMError(
                    f"{name}: its constants (α_h {alpha_h:.4g}, α_x {alpha_x:.4g}, max |bias| "
                    f"{float(np.abs(bias).max()):.4g}) fit int32 only with a shift of {s}, where their rounding "
                    f"error reaches {err:.3g} of a table step (at most {MAX_Z_ERROR}); the weight scales or biases "
                    f"are too large for the integer LSTM")
            return mh, mx, b, s, bound, err
    raise IntegerLSTMError(f"{name}: no shift ≥ 1 keeps |v| + 2^(s-1) within int32 (α_h {alpha_h:.4g}, α_x "
                           f"{alpha_x:.4g}, max |bias| {float(np.abs(bias).max()):.4g}, hidden {hidden})")


def build_constants(model, c_frac: int = C_FRAC) -> IntegerCharLSTM:
    """The integer constants of a trained :class:`binedge.lm.CharLSTM` (eval weights; LAB's α as
    stored in ``kernel_scale``); ``c_frac``: the cell state's fraction bits (range |c| < 2^(16 − c_frac)).
    IntegerLSTMError for a model they cannot represent."""
    import torch

    if not (isinstance(c_frac, int) and C_FRAC_MIN <= c_frac <= C_FRAC_MAX):
        raise IntegerLSTMError(f"c_frac must be an integer in [{C_FRAC_MIN}, {C_FRAC_MAX}], got {c_frac!r}")

    lstm = model.lstm
    hidden, vocab = lstm.hidden_size, model.vocab_size
    if lstm.input_size != vocab:
        raise IntegerLSTMError(f"the LSTM reads {lstm.input_size} inputs but the vocabulary has {vocab} characters")
    layers = []
    for l, layer in enumerate(lstm.layers):
        onehot = l == 0
        bias = layer.bias.detach().cpu().double().numpy().reshape(4, hidden)
        if not np.isfinite(bias).all():
            raise IntegerLSTMError(f"layer {l}: its gate biases are not all finite")
        wx, wh, mx, mh, b, shift, bound, err = [], [], [], [], [], [], [], []
        for j, g in enumerate(GATES):
            ax, sx = _binary_matrix(getattr(layer, f"w_i{g}"), f"layers[{l}].w_i{g}")
            ah, sh = _binary_matrix(getattr(layer, f"w_h{g}"), f"layers[{l}].w_h{g}")
            in_bound = 1 if onehot else H_MAX * layer.input_size
            k = _gate_constants(ah, ax, bias[j], hidden, in_bound, onehot, f"layer {l} gate {g}")
            wx.append(sx), wh.append(sh), mh.append(k[0]), mx.append(k[1]), b.append(k[2])
            shift.append(k[3]), bound.append(k[4]), err.append(k[5])
        layers.append(LayerConstants(np.stack(wx), np.stack(wh), np.array(mx, np.int64), np.array(mh, np.int64),
                                     np.stack(b).astype(np.int64), np.array(shift, np.int64), onehot,
                                     np.array(bound, np.int64), np.array(err)))
    with torch.no_grad():
        w = model.out.weight.detach().cpu().double().numpy()
        bo = model.out.bias.detach().cpu().double().numpy() if model.out.bias is not None else np.zeros(vocab)
    if not (np.isfinite(w).all() and np.isfinite(bo).all()):
        raise IntegerLSTMError("the output layer's weights or biases are not all finite")
    wmax = np.abs(w).max(axis=1)
    s_row = np.where(wmax > 0, wmax / 127.0, 1.0)
    wq = np.clip(round_half_up(w / s_row[:, None]), -127, 127)
    # the deployment graph bounds an i8 value by 128 (binedge.graph.TensorSpec.max_abs_value); h
    # never exceeds 127, but proving the scores for 128 lets the graph's own check accept them
    acc_bound = (H_MAX + 1) * np.abs(wq).sum(axis=1)
    a = s_row / 2.0 ** H_FRAC
    for S in range(SCORE_SHIFT_MAX, -1, -1):
        em, eo = a * 2.0 ** S, bo * 2.0 ** S
        m, o = round_half_up(em), round_half_up(eo)
        score_bound = np.abs(m) * acc_bound + np.abs(o)
        if score_bound.max() <= INT32_MAX:
            break
    else:  # pragma: no cover - S = 0 always fits unless the biases are beyond int32
        raise IntegerLSTMError("the output layer's scores do not fit int32 at any shift")
    score_error = float(((np.abs(m - em) * acc_bound + np.abs(o - eo)) / 2.0 ** S).max())
    if score_error > MAX_SCORE_ERROR:
        raise IntegerLSTMError(f"the output layer's scores fit int32 only with a shift of {S}, where their "
                               f"worst-case rounding error is {score_error:.3g} nats (at most {MAX_SCORE_ERROR}); "
                               f"its biases are too large")
    info = {"tables_sha256": tables_sha256(), "c_frac": c_frac, "gate_shifts": [k.shift.tolist() for k in layers], "score_shift": S,
            "max_z_error": float(max(k.z_error.max() for k in layers)), "score_error": score_error}
    return IntegerCharLSTM(layers, wq.astype(np.int8), m, o, S, score_bound, score_error, vocab, hidden, c_frac, info)


def _int32(x: np.ndarray, what: str) -> np.ndarray:
    if x.size and np.abs(x).max() > INT32_MAX:
        raise OverflowError(f"{what} exceeds int32 (the proof of docs/numerics.md was violated)")
    return x


def step(k: IntegerCharLSTM, state, char_id: int):
    """One character: (h codes (layers, H), c codes (layers, H)) → (new state, int scores (V,))."""
    hs, cs = state
    new_h, new_c = [], []
    x = None
    for l, L in enumerate(k.layers):
        h, c = np.asarray(hs[l], np.int64), np.asarray(cs[l], np.int64)
        acc_h = L.wh.astype(np.int64) @ h                                    # (4, H)
        if L.onehot:
            xpart = L.mx[:, None] * L.wx[:, :, int(char_id)].astype(np.int64)
        else:
            xpart = L.mx[:, None] * (L.wx.astype(np.int64) @ x)
        v = _int32(L.mh[:, None] * acc_h + xpart + L.b, f"layer {l} gate pre-activation")
        z = np.clip(rshift(v, L.shift[:, None]), Z_MIN, Z_MAX) - Z_MIN
        i, f, g, o = SIG[z[0]], SIG[z[1]], TANH[z[2]], SIG[z[3]]
        c = np.clip(rshift(_int32(f * c, "f·c"), LUT_FRAC) + rshift(i * g, 2 * LUT_FRAC - k.c_frac), -C_MAX, C_MAX)
        t = TANH[np.clip(rshift(c, k.c_frac - Z_FRAC), Z_MIN, Z_MAX) - Z_MIN]
        h = np.clip(rshift(o * t, 2 * LUT_FRAC - H_FRAC), -H_MAX, H_MAX)
        new_h.append(h), new_c.append(c)
        x = h
    scores = _int32(k.m * (k.wq.astype(np.int64) @ x) + k.o, "scores")
    return (np.stack(new_h), np.stack(new_c)), scores


def run(k: IntegerCharLSTM, chars, state=None):
    """Step through the character ids ``chars`` from ``state`` (None: zeros). Returns (final state,
    scores (T, V) int64, h codes (T, layers, H), c codes (T, layers, H))."""
    state = k.zero_state() if state is None else state
    scores, hs, cs = [], [], []
    for ch in chars:
        state, s = step(k, state, int(ch))
        scores.append(s), hs.append(state[0]), cs.append(state[1])
    V, L, H = k.vocab_size, len(k.layers), k.hidden
    return (state, np.array(scores, np.int64).reshape(-1, V), np.array(hs, np.int64).reshape(-1, L, H),
            np.array(cs, np.int64).reshape(-1, L, H))


__all__ = ["C_FRAC", "C_FRAC_MAX", "C_FRAC_MIN", "C_MAX", "H_FRAC", "H_MAX", "IntegerCharLSTM", "IntegerLSTMError", "LUT_FRAC", "LayerConstants",
           "SIG", "TANH", "Z_FRAC", "Z_MAX", "Z_MIN", "build_constants", "rshift", "round_half_up", "run", "step",
           "tables_sha256"]
