"""Exact integer arithmetic in the number types of the exporters, shared by ONNX and LiteRT.

Two things every exporter needs and proves at export time:

**Sums in float32.** float32 represents every integer of magnitude up to 2**24 exactly, so a
Conv / MatMul / window sum on small integer tensors is exact, in any summation order and with
or without FMA, while every partial sum stays within that bound. :func:`exact_chunks` splits a
layer whose worst-case accumulator exceeds it along its input channels into chunks that each
stay within it (the chunks' results are then added in int32 or int64); :func:`window_bands`
splits a window sum (average pooling) into bands of kernel rows the same way, and since one row
of any window is always below the bound, a window sum never has to be refused.
:func:`channel_cost` is the per-channel worst case both need.

**The rounding rule** (docs/graph.md): for an int64 v and a shift s in [0, 62],

    rshift(v, s) = floor((v + 2^(s-1)) / 2^s)   (v for s = 0)
    requant(v, s, zp) = clamp(zp + rshift(v, s), -128, 127)

Every exporter first forms w = v + h exactly in int64 (h = 2^(s-1), or 0 for s = 0; the graph
proves |v| + h <= 2^63 - 1, so |w| <= 2^63 - 1) and then needs floor(w / 2^s), which neither
format offers directly for int64 (ONNX BitShift is unsigned only and Div truncates towards zero;
LiteRT 2.3 has no int64 RIGHT_SHIFT, FLOOR_DIV, DIV or BITWISE_XOR). Two decompositions, each with a
numpy model of the exact op sequence the exporter emits (tests run them on the edges):

* :func:`rshift_sign_flip` (ONNX): with m = -1 if w < 0 else 0, floor(w / 2^s) =
  m XOR ((w XOR m) >>> s). Proof: for w >= 0 this is the plain shift; for w < 0, w XOR -1 = -w - 1
  >= 0 and floor(w / d) = -floor((-w - 1) / d) - 1 for every integer w and d >= 1 (write
  w = a d + b, 0 <= b < d: -w - 1 = (-a - 1) d + (d - 1 - b)). w XOR m lies in [0, 2^63 - 1], so
  the casts int64 -> uint64 -> int64 around the unsigned shift never change a value.
* :func:`requant_floor_mod` (LiteRT, whose FLOOR_MOD does take int64): clamp w in int64 to
  [w_lo, w_hi] (the quotient then lies in [-128 - zp, 127 - zp] and no result changes), subtract
  FLOOR_MOD(w, 2^s) to get the quotient times 2^s exactly, and scale that by 2^-s in float32,
  where it is exact because the quotient has at most 8 bits. :class:`RequantConstants` has the
  constants and the proof.

:func:`requant_exact` is the rule itself on Python integers (no int64 wrap anywhere), the oracle
for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOAT_EXACT_BOUND = 2**24
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_SHIFT = 62


# ----------------------------------------------------------------------------- float32 sums


def exact_chunks(cost: np.ndarray, where: str, *, bound: int = FLOAT_EXACT_BOUND, error: type[Exception] = ValueError,
                 ops: str = "float32 convolution / matmul") -> list[tuple[int, int]]:
    """Consecutive input-channel ranges [start, stop) whose |acc| bound stays <= ``bound``.

    cost[o, c] bounds |contribution| of input channel c to output o. Raises ``error`` when even
    the int32 sum could overflow or when one channel alone exceeds the bound.
    """
    total = int(cost.sum(axis=1).max(initial=0))
    if total <= bound:
        return [(0, cost.shape[1])]
    if total > INT32_MAX:
        raise error(f"{where}: |acc| may reach {total} > 2**31 - 1; not exportable exactly")
    if cost.max() > bound:
        raise error(f"{where}: one input channel alone may reach |acc| {int(cost.max())} > 2**24, "
                    f"which {ops} cannot sum exactly")
    out, start, run = [], 0, np.zeros(cost.shape[0], np.int64)
    for c in range(cost.shape[1]):
        if (run + cost[:, c]).max() > bound:
            out.append((start, c))
            start, run = c, np.zeros_like(run)
        run += cost[:, c]
    out.append((start, cost.shape[1]))
    return out


def channel_cost(op, spec) -> np.ndarray:
    """cost[o, j] = max|x| * sum over the kernel of |w[o, ..., j]|: a bound on the contribution of
    input channel j *of its group* (j in [0, C / groups)) to the accumulator of output o of a
    Dense / Conv2d over values of ``spec`` (max|x| = ``spec.max_abs_value``; padding holds the
    zero code, whose magnitude is within it). Binary weights: |w| = 1."""
    if op.weight_kind == "int8":
        absw = np.abs(op.weights.astype(np.int64))
        per = absw.sum(axis=(1, 2)) if absw.ndim == 4 else absw
    elif hasattr(op, "kernel"):  # a binary Conv2d (groups = 1)
        per = np.full((op.out_channels, op.in_channels // int(op.groups)), op.kernel[0] * op.kernel[1], np.int64)
    else:  # a binary Dense
        per = np.ones((op.out_features, op.in_features), np.int64)
    return per.astype(np.int64) * int(spec.max_abs_value)


def window_bands(kernel_h: int, kernel_w: int, max_abs: int, *,
                 bound: int = FLOAT_EXACT_BOUND) -> list[tuple[int, int]]:
    """Kernel-row ranges [r0, r1) of a window sum (all weights 1) over values of magnitude <=
    ``max_abs`` such that each band's sum, (r1 - r0) * kernel_w * max_abs, stays <= ``bound``.

    One row always fits: kernel_w <= 65,535 (graph limit) and max_abs <= 255 give at most
    16,711,425 < 2**24, so a window sum is never refused."""
    per_row = int(kernel_w) * int(max(1, max_abs))
    if per_row > bound:  # unreachable under the graph's limits
        raise ValueError(f"one kernel row of width {kernel_w} may reach {per_row} > {bound}")
    rows = max(1, bound // per_row)
    return [(r, min(r + rows, int(kernel_h))) for r in range(0, int(kernel_h), rows)]


def check_int64(worst: int, where: str, what: str, error: type[Exception] = ValueError) -> None:
    """Refuse (``error``) an int64 intermediate whose proved bound ``worst`` exceeds 2**63 - 1."""
    if int(worst) > INT64_MAX:
        raise error(f"{where}: {what} may reach {int(worst)} > 2**63 - 1 in int64")


def merge_constants(op, ins, where: str, error: type[Exception] = ValueError):
    """(shift, half shifts, [Ma, Mb], bias) of a Merge as Python ints / int64 arrays for an
    exporter, after checking every int64 partial result it forms per channel:
    |Ma|·max_a, + |Mb|·max_b, + |B| + 2^(s−1) <= 2**63 − 1 (max: ``ins[i].max_centered``, the
    largest |code − zp| or the accumulator's proved bound; the graph proved it, checked again)."""
    from .graph import RoundStage

    c = len(op.bias)
    shift = op.output.shift.astype(np.int64) if isinstance(op.output, RoundStage) else np.zeros(c, np.int64)
    hs = [int(v) for v in half(shift)]
    mults = [[int(v) for v in op.multipliers_a], [int(v) for v in op.multipliers_b]]
    bias = [int(v) for v in op.bias]
    for ch in range(c):
        partial = 0
        for side, (mu, spec) in enumerate(zip(mults, ins)):
            partial += abs(mu[ch]) * spec.max_centered
            check_int64(partial, where, f"{'Ma * a' if side == 0 else 'Ma * a + Mb * b'} of channel {ch}", error)
        check_int64(partial + abs(bias[ch]) + hs[ch], where, f"v + 2^(s-1) of channel {ch}", error)
    return shift, hs, mults, bias


# ----------------------------------------------------------------------------- the rounding rule


def half(shift) -> np.ndarray:
    """2^(s-1) for s >= 1, 0 for s = 0 (int64, elementwise)."""
    s = np.asarray(shift, dtype=np.int64)
    return np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0).astype(np.int64)


def requant_exact(v, s: int, zp: int) -> int:
    """clamp(zp + floor((v + 2^(s-1)) / 2^s), -128, 127) on Python integers (the rule itself)."""
    v, s = int(v), int(s)
    r = v if s == 0 else (v + (1 << (s - 1))) >> s  # Python's >> on int is floor division by 2^s
    return max(-128, min(127, int(zp) + r))


def check_shifts(shift) -> np.ndarray:
    s = np.asarray(shift, dtype=np.int64)
    if s.size and (s.min() < 0 or s.max() > MAX_SHIFT):
        raise ValueError(f"shifts must lie in [0, {MAX_SHIFT}]")
    return s


def rshift_sign_flip(w: np.ndarray, shift) -> np.ndarray:
    """floor(w / 2^s) for int64 w, by the ONNX op sequence: m = -(w < 0) (Less, Cast, Neg),
    u = w XOR m (BitwiseXor; >= 0), Cast uint64, BitShift RIGHT s (unsigned), Cast int64,
    XOR m. Exact for every int64 w and s in [0, 63] (module docstring)."""
    w = np.asarray(w, dtype=np.int64)
    s = check_shifts(shift).astype(np.uint64)
    m = -(w < 0).astype(np.int64)
    u = np.bitwise_xor(w, m).astype(np.uint64)
    return np.bitwise_xor(np.right_shift(u, s).astype(np.int64), m)


@dataclass(frozen=True)
class RequantConstants:
    """Per-channel int64 / float32 constants of requant(v, s, zp) for w = v + 2^(s-1) (arrays of
    the shifts' shape), as the exporters emit them.

    lo = -128 - zp, hi = 127 - zp: clamp(zp + q, -128, 127) = zp + clamp(q, lo, hi).

    The LiteRT path (:func:`requant_floor_mod`) also uses
        w_lo = max(lo * 2^s, -(2^63 - 1)),  w_hi = min((hi + 1) * 2^s - 1, 2^63 - 1)
        pow2 = 2^s (int64),                 inv_pow2 = 2^-s (float32, exact)

    Proof of :func:`requant_floor_mod`, for every int64 w with |w| <= 2^63 - 1:

    1. x -> floor(x / 2^s) is non-decreasing, so with w_c = clamp(w, w_lo, w_hi),
       q_c = floor(w_c / 2^s) = clamp(floor(w / 2^s), floor(w_lo / 2^s), floor(w_hi / 2^s)).
       If lo * 2^s fits int64, floor(w_lo / 2^s) = lo; otherwise w_lo = -(2^63 - 1) <= w already,
       so both lower clamps are inactive (and floor(w_lo / 2^s) >= lo). The same holds above
       (floor(w_hi / 2^s) = hi, or both upper clamps inactive because (hi + 1) 2^s > 2^63).
       Hence q_c = clamp(floor(w / 2^s), lo, hi), and the result is zp + q_c, in [-128, 127].
    2. r = FLOOR_MOD(w_c, 2^s) = w_c - 2^s q_c lies in [0, 2^s) (LiteRT's integer FLOOR_MOD is the
       exact C++ remainder, moved into the divisor's sign), and t = w_c - r = q_c 2^s exactly; t
       lies in [-2^63, 2^63 - 1] because floor(w_lo / 2^s) 2^s >= -2^63 (2^63 is a multiple of 2^s).
    3. |q_c| <= 255, so t = q_c 2^s has at most 8 significant bits: CAST to float32 is exact,
       and so is the multiplication by 2^-s (a power of two; no overflow or underflow), which
       gives q_c; adding zp is exact on such small integers.
    """

    half: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray
    pow2: np.ndarray
    inv_pow2: np.ndarray


def requant_constants(shift, zero_point: int) -> RequantConstants:
    """The constants of :class:`RequantConstants` for shifts ``shift`` (scalar or (C,)) and an
    output zero point in [-128, 127], computed on Python integers."""
    s = check_shifts(shift)
    zp = int(zero_point)
    if not -128 <= zp <= 127:
        raise ValueError(f"zero point {zp} outside [-128, 127]")
    lo, hi = -128 - zp, 127 - zp
    flat = [int(v) for v in s.reshape(-1)]
    shape = s.shape

    def arr(values, dtype):
        return np.array(values, dtype=dtype).reshape(shape)

    return RequantConstants(
        half=half(s), lo=np.full(shape, lo, np.int64), hi=np.full(shape, hi, np.int64),
        w_lo=arr([max(lo << k, -INT64_MAX) for k in flat], np.int64),
        w_hi=arr([min(((hi + 1) << k) - 1, INT64_MAX) for k in flat], np.int64),
        pow2=arr([1 << k for k in flat], np.int64), inv_pow2=arr([2.0 ** -k for k in flat], np.float32))


def requant_floor_mod(w: np.ndarray, k: RequantConstants, zero_point: int) -> np.ndarray:
    """requant by the LiteRT op sequence, on int64 w = v + 2^(s-1) (numpy model; numpy's int64
    ``%`` is the floor modulus LiteRT's FLOOR_MOD computes, its float32 is IEEE single precision):

        MAXIMUM w_lo, MINIMUM w_hi (int64) -> w_c;  FLOOR_MOD 2^s, SUB from w_c (int64) -> q_c 2^s;
        CAST float32, MUL 2^-s -> q_c;  ADD zp.

    Returns the int8 codes as float32 (they are what the next op reads)."""
    w = np.asarray(w, dtype=np.int64)
    wc = np.minimum(np.maximum(w, k.w_lo), k.w_hi)
    t = wc - np.mod(wc, k.pow2)
    return t.astype(np.float32) * k.inv_pow2 + np.float32(zero_point)
