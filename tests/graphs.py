"""Random deployment graphs for tests of every backend (reference, ONNX, C runtime, ...).

    from graphs import random_graph, random_images
    g = random_graph(np.random.default_rng(0), kind="all")   # "conv" | "mlp" | "all"
    x = random_images(np.random.default_rng(1), g, n=5)

Every graph validates, ends in int32 scores that provably fit int32 (|multiplier| * max|acc|
+ |offset| < 2**31), uses odd channel counts, asymmetric paddings, strides, direction -1
channels, constant channels (thresholds at INT32_MIN / INT32_MAX) and repeated thresholds.
Thresholds are calibrated on random images through ``binedge.reference.accumulators`` (the
values acc really takes, sometimes ±1 off), so activations vary and ties at a threshold
happen; tests must still compare against independent oracles, not against this calibration.
"""

from __future__ import annotations

import numpy as np

from binedge import bitformat as bf
from binedge import reference
from binedge.graph import (Conv2d, Dense, Flatten, Graph, MaxPool2d, ScoreStage, TensorSpec, ThresholdStage,
                           infer)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "random_graph",
    "random_images",
    "binary_weights",
    "threshold_stage",
    "score_stage",
    "CHANNELS",
    "value_max",
    "acc_bound",
    "unprovable_graphs",
]


def value_max(spec: TensorSpec) -> int:
    """Largest |integer| a value of ``spec`` can hold (255 pixels, 1 sign, 2**P - 1 levels)."""
    if spec.kind == "u8":
        return 255
    return 1 if spec.encoding == "sign" else (1 << spec.planes) - 1


def acc_bound(weights_abs_max: int, k: int, spec_in: TensorSpec) -> int:
    """Upper bound of |acc| over K inputs of ``spec_in`` (and padding)."""
    return k * weights_abs_max * value_max(spec_in)


def binary_weights(rng: np.random.Generator, lead: tuple, k: int) -> np.ndarray:
    """Random packed sign weights of shape lead + (ceil(k/32),) (padding bits zero)."""
    return bf.pack_sign(rng.choice(np.array([-1, 1]), size=tuple(lead) + (k,)))


def int8_weights(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    w = rng.integers(-128, 128, size=shape, dtype=np.int64)
    return w.astype(np.int8)


def threshold_stage(rng: np.random.Generator, channels: int, spread: float, encoding: str = "sign",
                    levels: int = 1, center: float = 0.0) -> ThresholdStage:
    """Thresholds drawn around ``center`` ± ``spread``; some direction -1 and some constant channels."""
    if encoding == "sign":
        levels = 1
    direction = rng.choice(np.array([-1, 1], dtype=np.int8), size=channels)
    t = np.round(rng.normal(0.0, max(spread, 1.0), size=(channels, levels)))
    t = t + direction[:, None] * center  # the stage compares direction * acc
    t = np.sort(np.clip(t, INT32_MIN, INT32_MAX), axis=1).astype(np.int64)
    if levels > 1 and channels > 0:  # repeated thresholds (a level that is skipped)
        c = int(rng.integers(channels))
        t[c, 1] = t[c, 0]
    if channels >= 3:  # constant channels
        t[int(rng.integers(channels))] = INT32_MIN
        t[int(rng.integers(channels))] = INT32_MAX
    return ThresholdStage(direction, t.astype(np.int32), encoding)


def score_stage(rng: np.random.Generator, channels: int, bound: int) -> ScoreStage:
    """Random multiplier / offset such that |multiplier| * bound + |offset| < 2**31."""
    off_max = 1 << 20
    m_max = max(1, min(1000, (INT32_MAX - off_max) // max(bound, 1)))
    mult = rng.integers(-m_max, m_max + 1, size=channels)
    mult[mult == 0] = 1
    off = rng.integers(-off_max, off_max + 1, size=channels)
    return ScoreStage(mult.astype(np.int32), off.astype(np.int32), shift=int(rng.integers(0, 8)))


class _Builder:
    """Appends ops to a graph while tracking the current spec; calibrates thresholds on images."""

    def __init__(self, rng: np.random.Generator, input_shape: tuple):
        self.rng = rng
        self.graph = Graph(TensorSpec("u8", tuple(input_shape)), [])
        self.spec = self.graph.input
        self.calib = random_images(rng, self.graph, 12)

    def _stage(self, channels: int, encoding: str, levels: int) -> ThresholdStage:
        """Placeholder thresholds; :meth:`_calibrate` sets them once the op is in the graph."""
        return threshold_stage(self.rng, channels, 1.0, encoding, levels)

    def _closed(self) -> Graph:
        """The graph so far plus a throw-away scoring head, so that it validates."""
        ops, spec = list(self.graph.ops), self.spec
        if len(spec.shape) == 3:
            ops.append(Flatten())
            spec = infer(ops[-1], spec)
        k = spec.shape[0]
        ops.append(Dense(bf.pack_sign(np.ones((1, k))), k, 1, ScoreStage.identity(1)))
        return Graph(self.graph.input, ops)

    def _calibrate(self, stage: ThresholdStage) -> None:
        """Thresholds at values direction * acc really takes on the calibration images (so ties
        at a threshold happen), sometimes ±1 off; keeps the constant / repeated channels."""
        acc = reference.accumulators(self._closed(), self.calib)[len(self.graph.ops) - 1]
        acc = acc.reshape(-1, acc.shape[-1]).astype(np.int64) * stage.direction.astype(np.int64)
        t = stage.thresholds.astype(np.int64)
        for c in range(t.shape[0]):
            if t[c, 0] in (INT32_MIN, INT32_MAX):  # constant channel
                continue
            pick = acc[self.rng.integers(acc.shape[0], size=t.shape[1]), c]
            pick = pick + self.rng.choice(np.array([-1, 0, 0, 0, 1]), size=pick.shape)
            t[c] = np.sort(np.clip(pick, INT32_MIN + 1, INT32_MAX - 1))
        if t.shape[1] > 1:  # a repeated threshold (a level that is skipped)
            c = int(self.rng.integers(t.shape[0]))
            if t[c, 0] not in (INT32_MIN, INT32_MAX):
                t[c, 1] = t[c, 0]
        stage.thresholds = t.astype(np.int32)

    def _weights(self, kind: str, lead: tuple, k: int):
        if kind == "binary":
            return binary_weights(self.rng, lead, k), 1
        return int8_weights(self.rng, tuple(lead) + (k,)), 128

    def _push(self, op):
        self.spec = infer(op, self.spec)
        self.graph.ops.append(op)

    def conv(self, out_channels: int, kernel, stride, padding, encoding="sign", levels=1, weight_kind="binary"):
        c = self.spec.shape[2]
        w, _ = self._weights(weight_kind, (out_channels,) + tuple(kernel), c)
        stage = self._stage(out_channels, encoding, levels)
        self._push(Conv2d(w, c, out_channels, tuple(kernel), tuple(stride), tuple(padding), stage,
                          weight_kind, name=f"conv{len(self.graph.ops)}"))
        self._calibrate(stage)

    def dense(self, out_features: int, encoding="sign", levels=1, weight_kind="binary", scores=False):
        k = self.spec.shape[0]
        w, wmax = self._weights(weight_kind, (out_features,), k)
        if scores:
            stage = score_stage(self.rng, out_features, acc_bound(wmax, k, self.spec))
        else:
            stage = self._stage(out_features, encoding, levels)
        self._push(Dense(w, k, out_features, stage, weight_kind, name=f"dense{len(self.graph.ops)}"))
        if not scores:
            self._calibrate(stage)

    def pool(self, kernel, stride):
        self._push(MaxPool2d(tuple(kernel), tuple(stride), name=f"pool{len(self.graph.ops)}"))

    def flatten(self):
        self._push(Flatten(name=f"flatten{len(self.graph.ops)}"))


CHANNELS = (1, 3, 5, 7, 31, 32, 33, 65)  # odd counts and both sides of a word boundary


def _random_unsigned(rng) -> tuple[str, int]:
    """("sign", 1) or ("unsigned", L) with L in {1, 2, 3, 5} (1 to 3 bit-planes)."""
    if rng.random() < 0.5:
        return "sign", 1
    return "unsigned", int(rng.choice([1, 2, 3, 5]))


def _conv_geometry(rng, h: int, w: int):
    """Kernel 1..5 (at most the input size), stride 1..3, asymmetric padding 0..min(2, kernel - 1)
    per side (the format's limit: padding smaller than the kernel)."""
    kh, kw = min(int(rng.integers(1, 6)), h), min(int(rng.integers(1, 6)), w)
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    pt, pb = (int(rng.integers(0, min(2, kh - 1) + 1)) for _ in range(2))
    pl, pr = (int(rng.integers(0, min(2, kw - 1) + 1)) for _ in range(2))
    return (kh, kw), (sh, sw), (pt, pb, pl, pr)


def _pool_geometry(rng, h: int, w: int):
    kh, kw = min(int(rng.integers(1, 4)), h), min(int(rng.integers(1, 4)), w)
    return (kh, kw), (int(rng.integers(1, 3)), int(rng.integers(1, 3)))


def random_graph(rng: np.random.Generator, kind: str = "all", *, classes: int | None = None,
                 channels: tuple = CHANNELS) -> Graph:
    """A small random valid Graph whose scores fit int32.

    ``classes``: number of scores (random 2..11 by default); ``channels``: the widths conv
    layers and hidden dense layers draw from (pass e.g. (129, 257) for multi-word rows).

    kind="conv": u8 (H, W, C) -> Conv2d (int8 or binary weights) -> [Conv2d] -> [MaxPool2d] ->
                 Flatten -> Dense -> scores
    kind="mlp":  u8 (F,) or (H, W, C) + Flatten -> Dense (int8 or binary) -> Dense ... -> scores
    kind="all":  every op: u8 conv int8 -> sign, binary conv -> unsigned, maxpool, binary conv,
                 flatten, dense (unsigned or sign in) -> sign / unsigned, dense -> scores
    """
    if kind not in ("conv", "mlp", "all"):
        raise ValueError(f"kind must be 'conv', 'mlp' or 'all', got {kind!r}")
    classes = int(rng.integers(2, 12)) if classes is None else int(classes)
    ch = lambda: int(rng.choice(channels))  # noqa: E731

    if kind == "mlp":
        if rng.random() < 0.5:
            b = _Builder(rng, (int(rng.integers(1, 80)),))
        else:
            b = _Builder(rng, (int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.choice([1, 3]))))
            b.flatten()
        for _ in range(int(rng.integers(0, 3))):
            enc, lv = _random_unsigned(rng)
            wk = "int8" if b.spec.kind == "u8" and rng.random() < 0.5 else "binary"
            b.dense(ch(), enc, lv, wk)
        wk = "int8" if b.spec.kind == "u8" and rng.random() < 0.5 else "binary"
        b.dense(classes, weight_kind=wk, scores=True)
        b.graph.class_names = [f"class{i}" for i in range(classes)]
        b.graph.metadata = {"kind": kind}
        return b.graph

    h, w = int(rng.integers(3, 11)), int(rng.integers(3, 11))
    b = _Builder(rng, (h, w, int(rng.choice([1, 3, 4]))))
    # first layer on pixels
    wk = "int8" if kind == "all" or rng.random() < 0.5 else "binary"
    enc, lv = ("sign", 1) if kind == "all" else _random_unsigned(rng)
    b.conv(ch(), *_conv_geometry(rng, *b.spec.shape[:2]), encoding=enc, levels=lv, weight_kind=wk)
    # binary conv
    if kind == "all" or rng.random() < 0.6:
        enc, lv = ("unsigned", int(rng.choice([2, 3]))) if kind == "all" else _random_unsigned(rng)
        b.conv(ch(), *_conv_geometry(rng, *b.spec.shape[:2]), encoding=enc, levels=lv)
    if kind == "all" or rng.random() < 0.6:
        b.pool(*_pool_geometry(rng, *b.spec.shape[:2]))
    if kind == "all" and rng.random() < 0.5:
        b.conv(ch(), *_conv_geometry(rng, *b.spec.shape[:2]), encoding="sign")
    b.flatten()
    if kind == "all" or rng.random() < 0.5:
        enc, lv = _random_unsigned(rng)
        b.dense(ch(), enc, lv)
    b.dense(classes, scores=True)
    b.graph.class_names = [f"class{i}" for i in range(classes)]
    b.graph.metadata = {"kind": kind}
    b.graph.validate()
    return b.graph


def random_images(rng: np.random.Generator, graph: Graph, n: int = 4) -> np.ndarray:
    """uint8 images (n,) + graph.input.shape; mixes uniform noise with saturated pixels."""
    x = rng.integers(0, 256, size=(n,) + tuple(graph.input.shape), dtype=np.int64)
    mask = rng.random(x.shape) < 0.1
    x[mask] = rng.choice(np.array([0, 255]), size=int(mask.sum()))
    return x.astype(np.uint8)


def unprovable_graphs() -> dict:
    """Graphs no exporter may write (the hardening issue): name -> (graph factory, the GraphError's
    text). An int8 layer over pixels that is also the last one, whose score multiplier fits the old
    K * 255 bound (16,320 here) but not the real 255 * sum|q| (2,072,640): onnxruntime and LiteRT
    once wrapped such scores silently. Zero-size layers: once exported, with [0, 0] scores or
    shape errors at run time. Factories, since constructing a graph does not validate it."""
    k = 64
    q = np.full((2, k), 127, np.int8)
    empty = (np.zeros(0, np.int8), np.zeros((0, 1), np.int32), "sign")
    return {
        "int8-last-layer-scores": (lambda: Graph(TensorSpec("u8", (k,)), [
            Dense(q, k, 2, ScoreStage(np.array([1100, 1], np.int32), np.zeros(2, np.int32)), "int8")]),
            "score 0 may reach"),
        "zero-classes": (lambda: Graph(TensorSpec("u8", (k,)), [
            Dense(np.zeros((0, 2), np.uint32), k, 0, ScoreStage.identity(0), "binary")]), "empty dimension"),
        "zero-features": (lambda: Graph(TensorSpec("u8", (0,)), [
            Dense(np.zeros((3, 0), np.int8), 0, 3, ScoreStage.identity(3), "int8")]), "empty dimension"),
        "zero-channel-conv": (lambda: Graph(TensorSpec("u8", (4, 4, 1)), [
            Conv2d(np.zeros((0, 3, 3, 1), np.int8), 1, 0, (3, 3), (1, 1), (0, 0, 0, 0), ThresholdStage(*empty),
                   "int8"), Flatten(),
            Dense(np.zeros((2, 0), np.int8), 0, 2, ScoreStage.identity(2), "int8")]), "empty dimension"),
    }
