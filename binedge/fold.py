"""Folding real-valued arithmetic into the integer parameters of the deployment graph.

Pure numpy, no torch: :mod:`binedge.convert` decides what to fold, this module computes the
integers (docs/numerics.md, "Folding"). Every weight op's accumulator ``acc`` is exact; what
follows it up to the next quantizer — the weight scale, the input's scale and zero point, the
bias, BatchNorm, constant factors — is one per-channel affine z = a·acc + b in float64.

* Hard-threshold activation (level = #{k : z ⊳ t_k}, ⊳ is >= or >) -> :func:`thresholds`:

      z >= t  <=>  acc >= ceil((t - b)/a)          if a > 0   (direction +1)
              <=>  -acc >= -floor((t - b)/a)       if a < 0   (direction -1, the comparison flips)
              <=>  always / never (b >= t)         if a == 0  (INT32_MIN / INT32_MAX)
      z >  t  <=>  acc >= floor((t - b)/a) + 1     if a > 0, and -acc >= 1 - ceil((t - b)/a) if a < 0.

* Int8 quantizer with scale s_out and zero point zp (binedge.nn.QuantInt8) -> :func:`requant_stage`:
  code = clamp(zp + round_half_up(z / s_out)) is computed as requant(M_c·acc + B_c, s_c, zp) with
  M_c / 2^s_c ≈ a_c / s_out and B_c ≈ (b_c / s_out)·2^s_c, the largest shift s_c in [0, 62] for
  which M_c is int32 and |M_c|·bound_c + |B_c| + 2^(s_c−1) stays within int64 (the inequality
  binedge.graph proves). The fixed-point error, at most (|M_c − 2^s_c·a_c/s_out|·bound_c +
  |B_c − 2^s_c·b_c/s_out|) / 2^s_c code units, is checked to be below :data:`MAX_CODE_ERROR` (or the
  multipliers to carry at least 24 significant bits, the precision of float32), so the graph rounds
  differently from exact arithmetic only where float32 PyTorch cannot decide either (a tie).
  A channel whose whole range saturates becomes the constant code (M = 0).

* Linear maps of codes (Add, Requantize, AvgPool2d) -> :func:`shared_multipliers`: multipliers
  M_i / 2^s ≈ r_i with one shift, under the same int32 / int64 / precision rules.

* Model output -> :func:`scores`: round(a·2^S)·acc + round(b·2^S), the largest S <= 24 with every
  score provably in int32.

* Sum of two real-valued branches -> :func:`merge_thresholds` / :func:`merge_round` (a Merge).
  Per channel the real value is z = A·x_a + B·x_b + C over two exact integers x (an accumulator,
  or codes minus their zero point). With one power of two 2^k per channel, Ma = round(A·2^k) and
  Mb = round(B·2^k) (int32; the largest k for which |Ma|·max_a + |Mb|·max_b + |bias| + 2^(k−1)
  stays within :data:`MERGE_LIMIT` = 2^62, a bit below int64's edge), the graph's value is

      v = Ma·x_a + Mb·x_b + bias,   standing for  ẑ = (Ma·x_a + Mb·x_b)/2^k + C.

  Thresholds (bias = 0): ẑ >= t  <=>  v >= ceil((t − C)·2^k), ẑ > t  <=>  v >= floor((t − C)·2^k) + 1,
  in exact rational arithmetic on the float64 t, C; direction +1 always (v grows with ẑ: a negative
  scale is in the multipliers' signs); clamped to ±(|Ma|·max_a + |Mb|·max_b + 1), which also makes
  a channel with A = B = 0 the constant it is. Int8 output (RoundStage, k = the shift s <= 62):
  bias = round(C/s_out·2^s) and the multipliers of A/s_out, B/s_out, as :func:`requant_stage`
  (a channel whose range saturates: the constant code). The fixed-point error
  |ẑ − z| <= (|Ma − A·2^k|·|x_a| + |Mb − B·2^k|·|x_b|)/2^k <= (|x_a| + |x_b|)/2^(k+1), and the larger
  multiplier is at least 2^30, so it is at most 2^-31·max(|A|, |B|)·(|x_a| + |x_b|): 2^-31 of the
  value's linear part when the branches' scales are alike; a branch whose scale is ρ times smaller
  keeps 31 − log2(ρ) bits. Its worst case over the proved bounds must be at most MAX_CODE_ERROR
  (real units before an activation, code units before a quantizer) or every nonzero multiplier
  carry 24 bits, or it must be below 2^-24 of the sum's range |A|·max_a + |B|·max_b (float32, in
  which PyTorch adds the branches, resolves no finer); otherwise FoldError.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .graph import (CODE_RANGE, INT32_MAX, INT32_MIN, INT64_MAX, MAX_SHIFT, RequantStage, RoundStage, ScoreStage,
                    ThresholdStage)

MAX_SCORE_SHIFT = 24
#: Largest fixed-point error (in output code units) a requantization may add to exact arithmetic.
MAX_CODE_ERROR = 1e-6
#: Multipliers with at least this magnitude carry float32's 24 significant bits (relative error 2^-25).
PRECISE_MULTIPLIER = 2**24
#: A Merge's |Ma|·max_a + |Mb|·max_b + |bias| + 2^(k−1) stays at most this (the graph allows 2^63 − 1).
MERGE_LIMIT = 2**62
#: float32's relative resolution: a Merge's fixed-point error within this share of the sum's range is a tie.
FLOAT32_RESOLUTION = 2.0**-24


class FoldError(ValueError):
    """Real-valued parameters that cannot become exact integer parameters (the caller names the layer)."""


def bn_affine(bn) -> tuple[np.ndarray, np.ndarray]:
    """(s, t) with BatchNorm's eval-mode output = s·x + t per channel, in float64."""
    var = bn.running_var.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy() if bn.affine else np.ones_like(var)
    beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros_like(var)
    s = gamma / np.sqrt(var + bn.eps)
    return s, beta - mean * s


def channel_thresholds(act, channels: int, perm=None) -> np.ndarray:
    """The real thresholds of ``act`` for each of ``channels`` graph channels, float64 (C, L): the
    same row for every channel, or an activation's own per channel (binedge.nn.RSign: t_k + b_c),
    those of a flattened value reordered by ``perm`` (PyTorch's feature index of every graph
    position, binedge.lowering)."""
    if not hasattr(act, "channel_thresholds"):
        return np.tile(np.asarray(act.thresholds, np.float64), (channels, 1))
    rows = np.asarray(act.channel_thresholds(), np.float64)
    if rows.shape[0] != channels:
        raise FoldError(f"the activation has {rows.shape[0]} per-channel thresholds but the value it reads has "
                        f"{channels} channels in the integer graph (which thresholds per channel, before a pending "
                        f"flatten): give it one shift per channel of the map, applied before the flatten")
    return rows if perm is None else rows[np.asarray(perm)]


def thresholds(a: np.ndarray, b: np.ndarray, act, bound, perm=None) -> ThresholdStage:
    """Integer thresholds on acc for the activation ``act`` (its ``thresholds``, ``strict`` and
    ``encoding``) of z = a·acc + b per channel. ``bound[c]`` must be at least the largest |acc|
    of channel c: a threshold beyond ±(bound + 1) behaves like ±infinity and is clamped there
    (an int32 always holds it)."""
    c = a.shape[0]
    tss = channel_thresholds(act, c, perm)
    direction = np.ones(c, np.int8)
    out = np.zeros((c, tss.shape[1]), np.int64)
    lims = np.broadcast_to(np.asarray(bound, np.int64), (c,)) + 1
    for ch in range(c):
        lim = int(lims[ch])
        for k, t in enumerate(tss[ch]):
            if a[ch] == 0:
                hit = (b[ch] > t) if act.strict else (b[ch] >= t)
                out[ch, k] = INT32_MIN if hit else INT32_MAX
                continue
            tau = (t - b[ch]) / a[ch]
            if not math.isfinite(tau):
                raise FoldError("a threshold is not finite (NaN or infinite BatchNorm statistics?)")
            tau = min(max(tau, -lim - 1.0), lim + 1.0)
            if a[ch] > 0:
                out[ch, k] = math.floor(tau) + 1 if act.strict else math.ceil(tau)
            else:
                direction[ch] = -1
                out[ch, k] = 1 - math.ceil(tau) if act.strict else -math.floor(tau)
    # a == 0 channels keep direction +1 with the INT32 sentinels; clamp the others into range.
    finite = (out != INT32_MIN) & (out != INT32_MAX)
    lim_all = np.broadcast_to(lims[:, None], out.shape)
    out[finite] = np.clip(out[finite], -lim_all[finite], lim_all[finite])
    return ThresholdStage(direction, out.astype(np.int32), act.encoding)


def code_thresholds(spec, act, perm=None) -> ThresholdStage:
    """Thresholds on the codes q of a u8 / i8 value (real s·(q − zp)) for the activation ``act``:

        s·(q − zp) >= t  <=>  q >= zp + ceil(t / s)          s·(q − zp) > t  <=>  q >= zp + floor(t / s) + 1

    (s > 0, so the direction is +1), the same for every channel, clamped to the code range ± 1.
    t / s is computed as t·(1/s) when 1/s is an integer (uint8 images: t·255, what x/255 means)."""
    s, zp = float(spec.scale), int(spec.zero_point)
    lo, hi = CODE_RANGE[spec.kind]
    inv = 1.0 / s
    c = spec.shape[-1]
    out = np.zeros((c, len(act.thresholds)), np.int64)
    for ch, ts in enumerate(channel_thresholds(act, c, perm)):
        for j, t in enumerate(ts):
            u = float(t) * inv if inv.is_integer() else float(t) / s
            if not math.isfinite(u):
                raise FoldError("a threshold divided by the value's scale is not finite")
            u = min(max(u, lo - zp - 2.0), hi - zp + 2.0)
            k = math.floor(u) + 1 if act.strict else math.ceil(u)
            out[ch, j] = min(max(zp + k, lo - 1), hi + 1)
    return ThresholdStage(np.ones(c, np.int8), out.astype(np.int32), act.encoding)


def scores(a: np.ndarray, b: np.ndarray, bound) -> ScoreStage:
    """Fixed-point scores round(a·2^S)·acc + round(b·2^S) with the largest S <= MAX_SCORE_SHIFT for
    which every score provably fits int32: |m_c|·bound_c + |o_c| <= 2^31 - 1, checked exactly on
    the rounded integers (bound_c = the largest |acc| of channel c)."""
    bound = np.broadcast_to(np.asarray(bound, np.int64), np.shape(a))
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise FoldError("the output layer's scale or bias is not finite (NaN or infinite BatchNorm statistics?)")
    for shift in range(MAX_SCORE_SHIFT, -1, -1):
        mult = np.round(a * 2.0**shift)
        off = np.round(b * 2.0**shift)
        if mult.size and max(np.abs(mult).max(), np.abs(off).max()) > INT32_MAX:
            continue
        m64, o64 = mult.astype(np.int64), off.astype(np.int64)
        if mult.size == 0 or int((np.abs(m64) * bound + np.abs(o64)).max()) <= INT32_MAX:
            return ScoreStage(m64.astype(np.int32), o64.astype(np.int32), shift)
    raise FoldError("the output layer's scores cannot be represented in int32 even without fraction bits "
                    "(its scale times the largest accumulator exceeds 2**31)")


def _half(s: int) -> int:
    return 1 << (s - 1) if s > 0 else 0


def _fixed(x: float, s: int) -> int:
    """round(x·2^s) as a Python int (x·2^s is exact in float64: a power-of-two scaling)."""
    return int(np.round(math.ldexp(float(x), s)))


def _channel(r: float, c: float, bound: int, zp: int) -> tuple[int, int, int]:
    """(M, B, s) for one channel: requant(M·acc + B, s, zp) ≈ clamp(zp + round_half_up(r·acc + c))."""
    if not (math.isfinite(r) and math.isfinite(c)):
        raise FoldError("a requantization scale or offset is not finite (NaN or infinite statistics?)")
    reach = abs(r) * bound
    if c - reach + zp >= 128.5 or c + reach + zp <= -129.5:  # always saturated: a constant code
        return 0, (256 if c > 0 else -256), 0
    top = MAX_SHIFT if r == 0 else min(MAX_SHIFT, max(0, math.floor(math.log2(INT32_MAX / abs(r)))))
    for s in range(top, -1, -1):
        m, bb = _fixed(r, s), _fixed(c, s)
        if abs(m) > INT32_MAX or abs(m) * bound + abs(bb) + _half(s) > INT64_MAX:
            continue
        err = (abs(m - math.ldexp(r, s)) * bound + abs(bb - math.ldexp(c, s))) / math.ldexp(1.0, s)
        if err > MAX_CODE_ERROR and (m == 0 or abs(m) < PRECISE_MULTIPLIER) and r != 0:
            break
        return m, bb, s
    raise FoldError(f"the scale ratio {r:.6g} (input scale / output scale) with offset {c:.6g} code units cannot "
                    f"be represented within {MAX_CODE_ERROR} code units by an int32 multiplier and a shift up to "
                    f"{MAX_SHIFT}; the output quantizer's scale is far too small for this layer's range")


def requant_stage(a: np.ndarray, b: np.ndarray, bound, scale: float, zero_point: int) -> RequantStage:
    """RequantStage computing clamp(zp + round_half_up((a·acc + b) / scale), -128, 127) per channel
    (module docstring); ``bound[c]`` is the largest |acc| of channel c."""
    c = a.shape[0]
    bound = np.broadcast_to(np.asarray(bound, np.int64), (c,))
    m = np.zeros(c, np.int64)
    bias = np.zeros(c, np.int64)
    shift = np.zeros(c, np.int64)
    for ch in range(c):
        m[ch], bias[ch], shift[ch] = _channel(float(a[ch]) / scale, float(b[ch]) / scale, int(bound[ch]),
                                              int(zero_point))
    return RequantStage(m.astype(np.int32), bias, shift.astype(np.uint8), int(zero_point), float(scale))


def shared_multipliers(ratios, bounds) -> tuple[list[int], int]:
    """([M_i], s): one shift for several multipliers, M_i / 2^s ≈ ratios[i], for the sum
    Σ M_i·x_i with |x_i| <= bounds[i] (Add, Requantize, AvgPool2d): the largest s <= 62 with every
    M_i int32 and Σ |M_i|·bounds[i] + 2^(s-1) within int64, at most MAX_CODE_ERROR code units of
    fixed-point error (or every nonzero multiplier at least 2^24)."""
    ratios = [float(r) for r in ratios]
    bounds = [int(v) for v in bounds]
    if not all(math.isfinite(r) for r in ratios):
        raise FoldError("a scale ratio is not finite")
    big = max((abs(r) for r in ratios), default=0.0)
    top = MAX_SHIFT if big == 0 else min(MAX_SHIFT, max(0, math.floor(math.log2(INT32_MAX / big))))
    for s in range(top, -1, -1):
        ms = [_fixed(r, s) for r in ratios]
        if any(abs(m) > INT32_MAX for m in ms) or sum(abs(m) * v for m, v in zip(ms, bounds)) + _half(s) > INT64_MAX:
            continue
        err = sum(abs(m - math.ldexp(r, s)) * v for m, r, v in zip(ms, ratios, bounds)) / math.ldexp(1.0, s)
        if err > MAX_CODE_ERROR and any(m != 0 and abs(m) < PRECISE_MULTIPLIER for m in ms):
            break
        return ms, s
    raise FoldError(f"the scale ratios {', '.join(f'{r:.6g}' for r in ratios)} cannot be represented within "
                    f"{MAX_CODE_ERROR} code units by int32 multipliers with one shift up to {MAX_SHIFT}")


def acc_bound(wq: np.ndarray, kind: str, max_code: int) -> np.ndarray:
    """Largest |acc| per output channel: max|x| · Σ_k |w_k| (binary weights: |w_k| = 1), the same
    bound binedge.graph.acc_bound proves on the finished graph."""
    flat = wq.reshape(wq.shape[0], -1)
    absw = np.abs(flat.astype(np.int64)).sum(axis=1) if kind == "int8" else np.full(flat.shape[0], flat.shape[1])
    return absw.astype(np.int64) * int(max_code)


def float_weights_as_int8(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 rounding of full-precision weights (binedge.lower's
    historic treatment of a full-precision first layer; not exact): step_c = max|w_c| / 127,
    q = clip(round(w / step_c), -127, 127)."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    step = np.where(flat > 0, flat / 127.0, 1.0)
    q = np.clip(np.round(w / step.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, step


# ----------------------------------------------------------------------------- Merge: sums of two branches


def _merge_multipliers(A: float, B: float, max_a: int, max_b: int, ks, extra) -> tuple[int, int, int]:
    """(k, Ma, Mb) for the first k of ``ks`` (descending) with Ma = round(A·2^k), Mb = round(B·2^k)
    int32 and |Ma|·max_a + |Mb|·max_b + extra(k) <= MERGE_LIMIT; None if none fits."""
    for k in ks:
        ma, mb = _fixed(A, k), _fixed(B, k)
        if abs(ma) > INT32_MAX or abs(mb) > INT32_MAX:
            continue
        if abs(ma) * max_a + abs(mb) * max_b + extra(k) <= MERGE_LIMIT:
            return k, ma, mb
    return None


def _top_shift(big: float) -> int:
    """The k with big·2^k in [2^30, 2^31): the most precise int32 multiplier of the larger term."""
    return 31 - math.frexp(big)[1]


def _merge_error(A: float, B: float, ma: int, mb: int, k: int, max_a: int, max_b: int) -> float:
    """Worst-case |ẑ − z| of the multipliers: (|Ma − A·2^k|·max_a + |Mb − B·2^k|·max_b) / 2^k."""
    return (abs(ma - math.ldexp(A, k)) * max_a + abs(mb - math.ldexp(B, k)) * max_b) / math.ldexp(1.0, k)


def _check_merge_error(err: float, ms, coefs, maxes, what: str) -> None:
    """Refuse a worst-case error above the tolerance unless every multiplier of a nonzero
    coefficient keeps 24 significant bits (a coefficient whose multiplier rounded to 0 keeps none).

    The tolerance is the larger of MAX_CODE_ERROR and 2^-24 of the sum's reach |A|·max_a + |B|·max_b:
    PyTorch adds the branches in float32, whose rounding of values of that size is already about
    2^-24 of them, so a value closer than that to a threshold or a half-way point is a tie either way."""
    reach = abs(coefs[0]) * maxes[0] + abs(coefs[1]) * maxes[1]
    limit = max(MAX_CODE_ERROR, FLOAT32_RESOLUTION * reach)
    if err > limit and any(x != 0 and abs(m) < PRECISE_MULTIPLIER for m, x in zip(ms, coefs)):
        small = 0 if abs(ms[0]) < abs(ms[1]) else 1
        ratio = abs(coefs[1 - small]) / abs(coefs[small]) if coefs[small] != 0 else math.inf
        raise FoldError(f"the sum's branch {'ab'[small]} counts in units {ratio:.3g} times smaller than branch "
                        f"{'ab'[1 - small]}'s, with integers up to {maxes[small]:,}: int32 multipliers with one shift "
                        f"add them only to within {err:.3g} {what} (the limit is {limit:.3g}: 2^-24 of the sum's "
                        f"range, at least {MAX_CODE_ERROR}; or 24-bit multipliers); put a binedge.nn.QuantInt8 on "
                        f"branch {'ab'[small]} (its int8 codes are then merged)")


def _finite(*arrays) -> None:
    if not all(np.all(np.isfinite(np.asarray(a, np.float64))) for a in arrays):
        raise FoldError("a coefficient of the sum is not finite (NaN or infinite BatchNorm statistics?)")


def merge_thresholds(ca: np.ndarray, cb: np.ndarray, const: np.ndarray, max_a: int, max_b: int, act, perm=None):
    """Merge parameters (Ma int32, Mb int32, bias int64, ThresholdStage with int64 thresholds) for
    the activation ``act`` of z_c = ca_c·x_a + cb_c·x_b + const_c, where |x_a| <= max_a and
    |x_b| <= max_b are the Merge's centred inputs (module docstring: v >= T_c,k <=> ẑ >= t_k
    exactly, direction +1, bias 0, error at most 2^-31·max(|ca|, |cb|)·(|x_a| + |x_b|))."""
    _finite(ca, cb, const)
    c = len(const)
    rows = [[Fraction(float(t)) for t in row] for row in channel_thresholds(act, c, perm)]
    ma = np.zeros(c, np.int64)
    mb = np.zeros(c, np.int64)
    out = np.zeros((c, len(act.thresholds)), np.int64)
    for ch in range(c):
        A, B, C = float(ca[ch]), float(cb[ch]), Fraction(float(const[ch]))
        big = max(abs(A), abs(B))
        if big == 0:
            k, ma[ch], mb[ch] = 0, 0, 0
        else:
            top = _top_shift(big)
            found = _merge_multipliers(A, B, max_a, max_b, range(top, top - 64, -1), lambda k: 0)
            if found is None:
                raise FoldError("the sum's accumulators are too large for an int64 Merge")
            k, ma[ch], mb[ch] = found
            _check_merge_error(_merge_error(A, B, int(ma[ch]), int(mb[ch]), k, max_a, max_b),
                               (int(ma[ch]), int(mb[ch])), (A, B), (max_a, max_b), "real units")
        lim = abs(int(ma[ch])) * max_a + abs(int(mb[ch])) * max_b + 1
        scale = Fraction(2) ** k
        for j, t in enumerate(rows[ch]):
            u = (t - C) * scale  # exact: v >= u <=> ẑ >= t
            fl = u.numerator // u.denominator
            thr = fl + 1 if act.strict else (fl if u.denominator == 1 else fl + 1)
            out[ch, j] = min(max(thr, -lim), lim)
    stage = ThresholdStage(np.ones(c, np.int8), out, act.encoding)
    return ma.astype(np.int32), mb.astype(np.int32), np.zeros(c, np.int64), stage


def merge_round(ca: np.ndarray, cb: np.ndarray, const: np.ndarray, max_a: int, max_b: int, scale: float,
                zero_point: int):
    """Merge parameters (Ma int32, Mb int32, bias int64, RoundStage) computing
    clamp(zp + round_half_up(z_c / scale), -128, 127) of z_c = ca_c·x_a + cb_c·x_b + const_c as
    requant(Ma·x_a + Mb·x_b + bias, s_c, zp): Ma / 2^s ≈ ca/scale, Mb / 2^s ≈ cb/scale,
    bias ≈ const/scale·2^s with the largest s <= 62 that keeps the multipliers int32 and the int64
    sum within MERGE_LIMIT; error at most MAX_CODE_ERROR code units or 24-bit multipliers; a
    channel whose whole range saturates is the constant code (Ma = Mb = 0, bias = ±256, s = 0)."""
    _finite(ca, cb, const)
    c = len(const)
    ma = np.zeros(c, np.int64)
    mb = np.zeros(c, np.int64)
    bias = np.zeros(c, np.int64)
    shift = np.zeros(c, np.int64)
    zp = int(zero_point)
    for ch in range(c):
        ra, rb, rc = float(ca[ch]) / scale, float(cb[ch]) / scale, float(const[ch]) / scale
        if not all(math.isfinite(v) for v in (ra, rb, rc)):
            raise FoldError("a coefficient of the sum divided by the quantizer's scale is not finite")
        reach = abs(ra) * max_a + abs(rb) * max_b
        if rc - reach + zp >= 128.5 or rc + reach + zp <= -129.5:  # always saturated: a constant code
            bias[ch] = 256 if rc > 0 else -256
            continue
        big = max(abs(ra), abs(rb))
        top = MAX_SHIFT if big == 0 else min(MAX_SHIFT, _top_shift(big))
        found = _merge_multipliers(ra, rb, max_a, max_b, range(top, -1, -1), lambda s: abs(_fixed(rc, s)) + _half(s))
        if found is None:
            raise FoldError(f"the sum's scale ratios {ra:.6g}, {rb:.6g} (branch scale / output scale) do not fit int32 "
                            "multipliers with a shift in [0, 62]; the output quantizer's scale is far too small for "
                            "this sum's range")
        s, ma[ch], mb[ch] = found
        bias[ch] = _fixed(rc, s)
        err = _merge_error(ra, rb, int(ma[ch]), int(mb[ch]), s, max_a, max_b) \
            + abs(int(bias[ch]) - math.ldexp(rc, s)) / math.ldexp(1.0, s)
        _check_merge_error(err, (int(ma[ch]), int(mb[ch])), (ra, rb), (max_a, max_b), "code units")
        shift[ch] = s
    stage = RoundStage(shift.astype(np.uint8), zp, float(scale))
    return ma.astype(np.int32), mb.astype(np.int32), bias, stage
