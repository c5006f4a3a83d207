"""The numpy reference executor: THE SPEC every backend must match bit for bit (DESIGN.md §1-2).

Deliberately simple: every op unpacks its stored input to exact integers (pixels 0..255,
±1 for sign bits, levels for unsigned bit-planes), computes in int64 with plain matmuls and
an explicit im2col, applies the output stage exactly as the :mod:`binedge.graph` docstring
says and packs the result again with :mod:`binedge.bitformat`. The only floats are inside
:func:`_int_matmul`, which uses float64 BLAS as an integer matmul where every product and
partial sum is an integer below 2**53 (checked), so the result is exact.

Public API:
    run(graph, images)          -> int32 scores (N, C)
    run_trace(graph, images)    -> stored value after every op (batch leading, storage layout)
    accumulators(graph, images) -> int64 acc of every Dense / Conv2d op (None for other ops)
"""

from __future__ import annotations

import numpy as np

from . import bitformat as bf
from .graph import Conv2d, Dense, Flatten, Graph, MaxPool2d, TensorSpec, ThresholdStage

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

__all__ = ["run", "run_trace", "accumulators", "check_images", "unpack_value", "pack_value"]


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
    if spec.kind == "u8":
        return values.astype(np.uint8)
    if spec.kind == "i32":
        return values.astype(np.int32)
    if spec.encoding == "sign":
        return bf.pack_sign(values)[..., None, :]
    return bf.pack_planes(values, spec.planes)


def _weights(op) -> np.ndarray:
    """Weights as int64: ±1 for binary (bit 1 = -1), the int8 values otherwise."""
    if op.weight_kind == "binary":
        k = op.in_features if isinstance(op, Dense) else op.in_channels
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
    xp = np.full((n, h + pt + pb, w + pl + pr, c), pad_value, dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + w, :] = x
    oh, ow = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    # im2col: columns ordered (i, j, c) like the weights (O, KH, KW, C)
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = xp[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
    wmat = _weights(op).reshape(op.out_channels, kh * kw * c)
    return _int_matmul(cols.reshape(n, oh, ow, kh * kw * c), wmat.T)


def _apply_stage(stage, acc: np.ndarray) -> np.ndarray:
    if isinstance(stage, ThresholdStage):
        d = stage.direction.astype(np.int64)
        t = stage.thresholds.astype(np.int64)  # (C, L)
        level = np.sum((d * acc)[..., None] >= t, axis=-1, dtype=np.int64)
        return 2 * level - 1 if stage.encoding == "sign" else level  # sign: level 1 -> +1, 0 -> -1
    score = stage.multiplier.astype(np.int64) * acc + stage.offset.astype(np.int64)
    if score.size and (score.min() < INT32_MIN or score.max() > INT32_MAX):
        bad = int(score.max()) if score.max() > INT32_MAX else int(score.min())
        raise OverflowError(f"score {bad} does not fit int32 (multiplier * acc + offset)")
    return score


def _maxpool(op: MaxPool2d, x: np.ndarray) -> np.ndarray:
    (kh, kw), (sh, sw) = op.kernel, op.stride
    n, h, w, c = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1  # floor mode, no padding
    out = None
    for i in range(kh):
        for j in range(kw):
            win = x[:, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw, :]
            out = win.copy() if out is None else np.maximum(out, win)
    return out


def _step(op, spec_in: TensorSpec, spec_out: TensorSpec, stored: np.ndarray):
    """One op on a stored value: returns (acc or None, stored output)."""
    x = unpack_value(stored, spec_in)
    acc = None
    if isinstance(op, Dense):
        acc = _dense_acc(op, x)
        y = _apply_stage(op.output, acc)
    elif isinstance(op, Conv2d):
        acc = _conv_acc(op, x, spec_in.pad_value)
        y = _apply_stage(op.output, acc)
    elif isinstance(op, MaxPool2d):
        y = _maxpool(op, x)
    elif isinstance(op, Flatten):
        y = x.reshape(x.shape[0], spec_out.shape[0])  # (H, W, C) order, C fastest
    else:  # pragma: no cover - Graph.specs() rejects unknown ops first
        raise TypeError(f"unsupported op {type(op).__name__}")
    return acc, pack_value(y, spec_out)


# ----------------------------------------------------------------------------- API


def check_images(graph: Graph, images) -> np.ndarray:
    """Validate a batch of images against the graph input; returns (N,) + input shape uint8."""
    shape = tuple(graph.input.shape)
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy array of uint8, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8, got {images.dtype}")
    if len(shape) == 3 and shape[2] == 1 and images.ndim == 3 and images.shape[1:] == shape[:2]:
        images = images[..., None]
    if images.ndim != len(shape) + 1 or tuple(images.shape[1:]) != shape:
        raise ValueError(f"images must have shape (N,)+{shape}, got {tuple(images.shape)}")
    return images


BATCH_CHUNK = 128  # samples per pass: bounds the im2col memory; results do not depend on it


def _walk(graph: Graph, images, want_acc: bool) -> list[tuple]:
    """(acc or None, stored output) for every op, computed in batch chunks and concatenated."""
    specs = graph.specs()  # validates the graph
    images = check_images(graph, images)
    chunks = []
    for lo in range(0, max(len(images), 1), BATCH_CHUNK):
        stored, rows = images[lo : lo + BATCH_CHUNK], []
        for op, s_in, s_out in zip(graph.ops, specs[:-1], specs[1:]):
            acc, stored = _step(op, s_in, s_out, stored)
            rows.append((acc if want_acc else None, stored))
        chunks.append(rows)
    join = lambda parts: None if parts[0] is None else np.concatenate(parts)  # noqa: E731
    return [(join([c[i][0] for c in chunks]), join([c[i][1] for c in chunks])) for i in range(len(graph.ops))]


def run_trace(graph: Graph, images: np.ndarray) -> list[np.ndarray]:
    """Stored value after every op: shape (N,) + spec.storage_shape(), dtype spec.storage_dtype()."""
    return [stored for _, stored in _walk(graph, images, want_acc=False)]


def accumulators(graph: Graph, images: np.ndarray) -> list:
    """The int64 accumulator of every Dense / Conv2d op ((N, ..., O), NHWC); None for other ops."""
    return [acc for acc, _ in _walk(graph, images, want_acc=True)]


def run(graph: Graph, images: np.ndarray) -> np.ndarray:
    """int32 scores (N, C) of the graph on uint8 images (N,) + graph.input.shape."""
    return run_trace(graph, images)[-1]
