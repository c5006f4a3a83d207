"""The numpy reference executor: THE SPEC every backend must match bit for bit (DESIGN.md §1-2, §7).

Deliberately simple: every op unpacks its stored inputs to exact integers (codes of u8 / i8
values, ±1 for sign bits, levels for unsigned bit-planes), computes in int64 with plain matmuls
and an explicit im2col, applies its output stage or rounding rule exactly as docs/graph.md and the
:mod:`binedge.graph` docstring say (:func:`binedge.graph.requant`) and packs the result again with
:mod:`binedge.bitformat`. The only floats are inside :func:`_int_matmul`, which uses float64 BLAS
as an integer matmul where every product and partial sum is an integer below 2**53 (checked), so
the result is exact. The graph is a DAG: values are kept by name until the last op has run.

A recurrent graph (an LSTM op, :meth:`Graph.is_recurrent`) keeps state between inputs: its N
inputs are N successive time steps of one stream, run one at a time from the given state (zeros
by default); :func:`run_stream` also returns the state after the last step.

Public API:
    run(graph, inputs)          -> int32 scores (N, C)
    run_stream(graph, inputs, state) -> (int32 scores (N, C), state after the last input)
    run_trace(graph, inputs)    -> stored value after every op (batch leading, storage layout)
    run_values(graph, inputs)   -> {value name: stored value}, the graph input included
    accumulators(graph, inputs) -> int64 acc of every Dense / Conv2d op (None for other ops)
"""

from __future__ import annotations

import numpy as np

from . import bitformat as bf
from .graph import (INPUT_NAME, LSTM, AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, MaxPool2d, Merge,
                    RequantStage, Requantize, Reshape, RoundStage, TensorSpec, Threshold, ThresholdStage, requant)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

__all__ = ["run", "run_stream", "zero_state", "run_trace", "run_values", "accumulators", "check_images", "unpack_value", "pack_value"]


# ----------------------------------------------------------------------------- values


def unpack_value(stored: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Stored value (batch leading) -> int64 integers of shape (N,) + spec.shape."""
    if spec.kind != "bits":
        return np.asarray(stored).astype(np.int64)
    if spec.encoding == "sign":
        return bf.unpack_sign(stored[..., 0, :], spec.channels).astype(np.int64)
    return bf.unpack_planes(stored, spec.channels).astype(np.int64)


def pack_value(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """int64 integers of shape (N,) + spec.shape -> stored value in spec's storage layout."""
    if spec.kind in ("u8", "i8"):
        return values.astype(spec.storage_dtype())
    if spec.kind == "i32":
        return values.astype(np.int32)
    if spec.encoding == "sign":
        return bf.pack_sign(values)[..., None, :]
    return bf.pack_planes(values, spec.planes)


def _weights(op) -> np.ndarray:
    """Weights as int64: ±1 for binary (bit 1 = -1), the int8 values otherwise."""
    if op.weight_kind == "binary":
        k = op.in_features if isinstance(op, Dense) else op.in_channels // op.groups
        return bf.unpack_sign(op.weights, k).astype(np.int64)
    return op.weights.astype(np.int64)


# ----------------------------------------------------------------------------- ops


EXACT_FLOAT64 = 2**53


def _int_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact int64 ``x @ w`` (numpy's integer matmul has no BLAS: ~30x slower on a 1000x1024 @ 1024x1024).

    float64 represents every integer below 2**53 exactly, and no partial sum can exceed
    K·max|x|·max|w|, so when that bound is below 2**53 the float64 product is the integer one.
    """
    k = x.shape[-1]
    bound = k * int(np.abs(x).max(initial=0)) * int(np.abs(w).max(initial=0))
    if bound >= EXACT_FLOAT64:
        return x @ w
    return np.rint(x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def _dense_acc(op: Dense, x: np.ndarray) -> np.ndarray:
    return _int_matmul(x, _weights(op).T)  # (N, K) @ (K, O)


def _conv_acc(op: Conv2d, x: np.ndarray, pad_value: int) -> np.ndarray:
    (kh, kw), (sh, sw), (pt, pb, pl, pr) = op.kernel, op.stride, op.padding
    n, h, w, c = x.shape
    g = int(op.groups)
    xp = np.full((n, h + pt + pb, w + pl + pr, c), pad_value, dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + w, :] = x
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    # im2col: columns ordered (i, j, c) like the weights (O, KH, KW, C / g)
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
    cg, og = c // g, op.out_channels // g
    wts = _weights(op)
    out = np.empty((n, oh, ow, op.out_channels), dtype=np.int64)
    for gi in range(g):  # group gi: output channels [gi*og, (gi+1)*og) read input channels [gi*cg, (gi+1)*cg)
        part = cols[..., gi * cg:(gi + 1) * cg].reshape(n, oh, ow, kh * kw * cg)
        wmat = wts[gi * og:(gi + 1) * og].reshape(og, kh * kw * cg)
        out[..., gi * og:(gi + 1) * og] = _int_matmul(part, wmat.T)
    return out


def _apply_stage(stage, acc: np.ndarray) -> np.ndarray:
    if isinstance(stage, ThresholdStage):
        d = stage.direction.astype(np.int64)
        t = stage.thresholds.astype(np.int64)  # (C, L)
        level = np.sum((d * acc)[..., None] >= t, axis=-1, dtype=np.int64)
        return 2 * level - 1 if stage.encoding == "sign" else level  # sign: level 1 -> +1, 0 -> -1
    if isinstance(stage, AccStage):
        return acc
    if isinstance(stage, RoundStage):  # Merge's v: int64, proved not to overflow by the graph
        return requant(acc, stage.shift.astype(np.int64), stage.zero_point)
    if isinstance(stage, RequantStage):  # M_c * acc + B_c: int64, proved not to overflow by the graph
        v = stage.multiplier.astype(np.int64) * acc + stage.bias.astype(np.int64)
        return requant(v, stage.shift.astype(np.int64), stage.zero_point)
    score = stage.multiplier.astype(np.int64) * acc + stage.offset.astype(np.int64)
    if score.size and (score.min() < INT32_MIN or score.max() > INT32_MAX):  # unreachable: graph-proved
        bad = int(score.max()) if score.max() > INT32_MAX else int(score.min())
        raise OverflowError(f"score {bad} does not fit int32 (multiplier * acc + offset)")
    return score


def _windows(x: np.ndarray, kernel, stride):
    """Every (ky, kx) tap of a pooling window over (N, H, W, C): slices of shape (N, OH, OW, C)."""
    (kh, kw), (sh, sw) = kernel, stride
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1  # floor mode, no padding
    for i in range(kh):
        for j in range(kw):
            yield x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]


def _avgpool(op: AvgPool2d, x: np.ndarray, spec_in: TensorSpec) -> np.ndarray:
    total = None
    for win in _windows(x - int(spec_in.zero_point), op.kernel, op.stride):
        total = win.copy() if total is None else total + win
    return requant(int(op.multiplier) * total, int(op.shift), op.zero_point)


def _maxpool(op: MaxPool2d, x: np.ndarray) -> np.ndarray:
    out = None
    for win in _windows(x, op.kernel, op.stride):
        out = win.copy() if out is None else np.maximum(out, win)
    return out


def _lstm_weights(op: LSTM, onehot: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ±1 int64 matrices of an LSTM op: Wh (4H, H) and Wx ((V, 4H) for a character input, else
    (4H, I)); unpacked once per run, not per step."""
    H = int(op.hidden)
    wx_bits = 4 * H if onehot else int(op.in_features)
    return (bf.unpack_sign(op.recurrent, H).astype(np.int64),
            bf.unpack_sign(op.input_weights, wx_bits).astype(np.int64))


def _lstm_step(op: LSTM, weights: tuple, x: np.ndarray, onehot: bool, state: tuple) -> tuple[np.ndarray, tuple]:
    """One LSTM step (graph.LSTM's formula) on one input x ((1,) id or (I,) codes) from state
    (h, c) int64 (H,), with ``weights`` = :func:`_lstm_weights`: returns (h', (h', c'))."""
    from .lstm_integer import C_MAX, H_FRAC, H_MAX, LUT_FRAC, SIG, TANH, Z_FRAC, Z_MAX, Z_MIN, rshift

    H = int(op.hidden)
    h, c = state
    wh, wx = weights
    mh, mx = (np.repeat(op.multipliers[k].astype(np.int64), H) for k in (0, 1))
    if onehot:
        xid = int(x[0])
        if not 0 <= xid < op.in_features:
            raise ValueError(f"character id {xid} is not below the vocabulary size {op.in_features}")
        xpart = mx * wx[xid]
    else:
        xpart = mx * (wx @ x.astype(np.int64))
    v = mh * (wh @ h) + xpart + op.bias.astype(np.int64)
    if np.abs(v).max(initial=0) > INT32_MAX:  # pragma: no cover - Graph.value_specs() proved it
        raise OverflowError("LSTM gate pre-activation beyond int32")
    z = np.clip(rshift(v, np.repeat(op.shifts.astype(np.int64), H)), Z_MIN, Z_MAX) - Z_MIN
    i, f, g, o = SIG[z[:H]], SIG[z[H:2 * H]], TANH[z[2 * H:3 * H]], SIG[z[3 * H:]]
    cf = int(op.c_frac)
    c = np.clip(rshift(f * c, LUT_FRAC) + rshift(i * g, 2 * LUT_FRAC - cf), -C_MAX, C_MAX)
    t = TANH[np.clip(rshift(c, cf - Z_FRAC), Z_MIN, Z_MAX) - Z_MIN]
    h = np.clip(rshift(o * t, 2 * LUT_FRAC - H_FRAC), -H_MAX, H_MAX)
    return h, (h, c)


def zero_state(graph: Graph) -> dict:
    """The reset state of a recurrent graph: {op index: (h, c)} int64 zeros of the op's H."""
    return {i: (np.zeros(op.hidden, np.int64), np.zeros(op.hidden, np.int64))
            for i, op in enumerate(graph.ops) if isinstance(op, LSTM)}


def _step(op, specs_in: list, spec_out: TensorSpec, stored: list, state: dict | None = None, index: int = -1,
          lstm_weights: dict | None = None):
    """One op on stored input values: returns (acc or None, stored output)."""
    xs = [unpack_value(v, s) for v, s in zip(stored, specs_in)]
    x, spec_in = xs[0], specs_in[0]
    acc = None
    if isinstance(op, Dense):
        acc = _dense_acc(op, x)
        y = _apply_stage(op.output, acc)
    elif isinstance(op, Conv2d):
        acc = _conv_acc(op, x, spec_in.pad_value)
        y = _apply_stage(op.output, acc)
    elif isinstance(op, MaxPool2d):
        y = _maxpool(op, x)
    elif isinstance(op, AvgPool2d):
        y = _avgpool(op, x, spec_in)
    elif isinstance(op, Merge):  # per channel, int64 (the graph proved the bound)
        (a, b), (sa, sb) = xs, specs_in
        za = int(sa.zero_point) if sa.kind != "i32" else 0
        zb = int(sb.zero_point) if sb.kind != "i32" else 0
        v = (op.multipliers_a.astype(np.int64) * (a - za) + op.multipliers_b.astype(np.int64) * (b - zb)
             + op.bias.astype(np.int64))
        y = _apply_stage(op.output, v)
    elif isinstance(op, Add):
        (ma, mb), (a, b) = op.multipliers, xs
        v = int(ma) * (a - int(specs_in[0].zero_point)) + int(mb) * (b - int(specs_in[1].zero_point))
        y = requant(v, int(op.shift), op.zero_point)
    elif isinstance(op, Requantize):
        y = requant(int(op.multiplier) * (x - int(spec_in.zero_point)), int(op.shift), op.zero_point)
    elif isinstance(op, Threshold):
        y = _apply_stage(op.stage, x)
    elif isinstance(op, Concat):
        y = np.concatenate(xs, axis=-1)
    elif isinstance(op, (Flatten, Reshape)):
        y = x.reshape((x.shape[0],) + tuple(spec_out.shape))  # (H, W, C) order, C fastest
    elif isinstance(op, LSTM):  # one time step: the batch holds one input (see _walk)
        assert x.shape[0] <= 1 and state is not None
        if x.shape[0]:
            h, state[index] = _lstm_step(op, lstm_weights[index], x[0], spec_in.kind == "u8", state[index])
        y = h[None] if x.shape[0] else np.zeros((0, op.hidden), np.int64)
    else:  # pragma: no cover - Graph.value_specs() rejects unknown ops first
        raise TypeError(f"unsupported op {type(op).__name__}")
    return acc, pack_value(y, spec_out)


# ----------------------------------------------------------------------------- API


def check_images(graph: Graph, images) -> np.ndarray:
    """Validate a batch of inputs against the graph input; returns (N,) + input shape of the
    input's dtype (uint8 or int8). A single-channel image may come without its channel axis."""
    shape = tuple(graph.input.shape)
    dtype = graph.input.storage_dtype()
    if not isinstance(images, np.ndarray):
        raise ValueError(f"inputs must be a numpy array of {dtype}, got {type(images).__name__}")
    if images.dtype != dtype:
        raise ValueError(f"inputs must have dtype {dtype}, got {images.dtype}")
    if len(shape) == 3 and shape[2] == 1 and images.ndim == 3 and images.shape[1:] == shape[:2]:
        images = images[..., None]
    if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise ValueError(f"inputs must have shape (N,)+{shape}, got {tuple(images.shape)}")
    return images


BATCH_CHUNK = 128  # samples per pass: bounds the im2col memory; results do not depend on it


def _walk(graph: Graph, images, want_acc: bool, state: dict | None = None) -> tuple[list, dict]:
    """(acc or None, stored output) for every op and the stored value of every name, computed in
    batch chunks and concatenated. A recurrent graph runs one input per chunk, in order, updating
    ``state`` (see :func:`zero_state`) in place."""
    specs = graph.value_specs()  # validates the graph
    images = check_images(graph, images)
    names = graph.value_names()
    inputs = [graph.op_inputs(i) for i in range(len(graph.ops))]
    chunk, lstm_weights = BATCH_CHUNK, None
    if graph.is_recurrent():
        chunk = 1
        if state is None:
            state = zero_state(graph)
        lstm_weights = {i: _lstm_weights(op, specs[inputs[i][0]].kind == "u8")
                        for i, op in enumerate(graph.ops) if isinstance(op, LSTM)}
    chunks, values = [], []
    for lo in range(0, max(len(images), 1), chunk):
        vals, rows = {INPUT_NAME: images[lo : lo + chunk]}, []
        for i, op in enumerate(graph.ops):
            acc, stored = _step(op, [specs[n] for n in inputs[i]], specs[names[i + 1]], [vals[n] for n in inputs[i]],
                                state, i, lstm_weights)
            vals[names[i + 1]] = stored
            rows.append(acc if want_acc else None)
        chunks.append(rows)
        values.append(vals)
    join = lambda parts: None if parts[0] is None else np.concatenate(parts)  # noqa: E731
    accs = [join([c[i] for c in chunks]) for i in range(len(graph.ops))]
    stored = {n: np.concatenate([v[n] for v in values]) for n in names}
    return accs, stored


def run_values(graph: Graph, images: np.ndarray) -> dict:
    """Every value by name (the graph input first): shape (N,) + spec.storage_shape()."""
    return _walk(graph, images, want_acc=False)[1]


def run_trace(graph: Graph, images: np.ndarray) -> list[np.ndarray]:
    """Stored value after every op: shape (N,) + spec.storage_shape(), dtype spec.storage_dtype()."""
    values = run_values(graph, images)
    return [values[n] for n in graph.value_names()[1:]]


def accumulators(graph: Graph, images: np.ndarray) -> list:
    """The int64 accumulator of every Dense / Conv2d op ((N, ..., O), NHWC); None for other ops."""
    return _walk(graph, images, want_acc=True)[0]


def run(graph: Graph, images: np.ndarray) -> np.ndarray:
    """int32 scores (N, C) of the graph on inputs (N,) + graph.input.shape (uint8 or int8); a
    recurrent graph runs them as N time steps from the zero state."""
    return run_trace(graph, images)[-1]


def run_stream(graph: Graph, inputs: np.ndarray, state: dict | None = None) -> tuple[np.ndarray, dict]:
    """(int32 scores (N, C), state after the last input) of a recurrent graph run over ``inputs``
    (N time steps) from ``state`` (None: :func:`zero_state`; it is not modified)."""
    if not graph.is_recurrent():
        raise ValueError("run_stream runs a recurrent graph (one with an LSTM op)")
    state = zero_state(graph) if state is None else {k: (h.copy(), c.copy()) for k, (h, c) in state.items()}
    names = graph.value_names()
    return _walk(graph, inputs, want_acc=False, state=state)[1][names[-1]], state
