"""Random typed DAGs (graph v2, docs/graph.md) for tests of every backend.

    from dags import random_dag, random_inputs
    g = random_dag(np.random.default_rng(0))                 # any mix of ops
    g = random_dag(rng, input_kind="i8", image=False)        # an int8 feature vector in
    x = random_inputs(np.random.default_rng(1), g, n=5)

Every DAG validates (every bound proved). What a DAG may contain: a u8 image or a u8 / i8
feature input with a zero point; int8 convolutions (dense, grouped, depthwise) over u8 / i8 /
bits with RequantStage or ThresholdStage outputs; binary convolutions over bits with requantized
int8 outputs; residual Adds of int8 values at different scales and zero points; Requantize;
Threshold (int8 -> bits); AvgPool2d and global average pooling; MaxPool2d on bits and int8;
Concat of int8 (same scale) and of bits; Merge of real-valued branches (int8 codes or the int32
accumulators of an AccStage) into bits or int8; Flatten and Reshape; Dense (binary or int8) on
flattened values; a scoring Dense. Channel counts come from ``channels`` (odd counts, word
boundaries), spatial sizes are odd, strides 1 / 2 appear. Requantization multipliers are
calibrated on random inputs through binedge.reference (so codes spread over [-128, 127] with
some saturation), thresholds likewise (so bits vary and ties happen); tests compare backends
with each other and with independent oracles, never with this calibration.
"""

from __future__ import annotations

import numpy as np

from binedge import bitformat as bf
from binedge import reference
from binedge.graph import (AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, Graph, MaxPool2d, Merge,
                           RequantStage, Requantize, Reshape, RoundStage, ScoreStage, TensorSpec, Threshold,
                           ThresholdStage, acc_bound, infer)

CHANNELS = (1, 3, 4, 7, 31, 32, 33, 65)


def _calib_inputs(rng, spec: TensorSpec, n: int = 12) -> np.ndarray:
    lo, hi = (0, 255) if spec.kind == "u8" else (-128, 127)
    x = rng.integers(lo, hi + 1, size=(n,) + tuple(spec.shape))
    mask = rng.random(x.shape) < 0.1
    x[mask] = rng.choice(np.array([lo, hi]), size=int(mask.sum()))
    return x.astype(spec.storage_dtype())


def multiplier_for(rng, ratio: float, max_abs_v: float) -> tuple[int, int]:
    """(M, s) with M / 2^s close to ``ratio`` (a random factor around it), M < 2^30 and the int64
    intermediate M * max_abs_v far from overflowing."""
    ratio = abs(ratio) if ratio else 1e-3
    s = 0
    while s < 60 and ratio * 2.0 ** (s + 1) < 2**29 and max_abs_v * ratio * 2.0 ** (s + 1) < 2**55:
        s += 1
    m = max(1, int(round(ratio * 2.0**s)))
    return m, s


class DagBuilder:
    """Appends ops to a graph, naming every value; calibrates requantizations and thresholds on
    random inputs (through binedge.reference) as it goes."""

    def __init__(self, rng: np.random.Generator, spec: TensorSpec):
        self.rng = rng
        self.graph = Graph(spec, [])
        self.calib = _calib_inputs(rng, spec)
        self.specs = {"input": spec}
        self.values = {"input": self.calib}

    # -- plumbing
    def _name(self, prefix: str) -> str:
        return f"{prefix}{len(self.graph.ops)}"

    def _eval(self, op, names: tuple):
        """(acc or None, stored output, output spec) of ``op`` on the calibration values of ``names``."""
        ins = [self.specs[n] for n in names]
        spec = infer(op, ins)
        acc, stored = reference._step(op, ins, spec, [self.values[n] for n in names])
        return acc, stored, spec

    def _run(self, op, names: tuple) -> str:
        """Append op (reading ``names``) and keep its output on the calibration inputs."""
        op.inputs = tuple(names)
        _, stored, spec = self._eval(op, op.inputs)
        self.graph.ops.append(op)
        self.values[op.name], self.specs[op.name] = stored, spec
        return op.name

    def code_range(self, name: str) -> float:
        v = self.values[name]
        s = self.specs[name]
        x = reference.unpack_value(v, s)
        if s.kind in ("u8", "i8"):
            x = x - int(s.zero_point)
        return float(max(1, np.abs(x).max()))

    def _requant_stage(self, acc: np.ndarray, channels: int) -> RequantStage:
        """Per channel M, B, s mapping the observed accumulators onto [-128, 127] (some saturate)."""
        rng = self.rng
        a = acc.reshape(-1, channels).astype(np.float64)
        lo, hi = a.min(axis=0), a.max(axis=0)
        mult, bias, shift = [], [], []
        for c in range(channels):
            span = max(hi[c] - lo[c], 1.0)
            ratio = rng.uniform(180.0, 320.0) / span * rng.choice([1, 1, 1, -1])
            m, s = multiplier_for(rng, ratio, float(max(abs(lo[c]), abs(hi[c]), 1.0)))
            m = m if ratio > 0 else -m
            center = (lo[c] + hi[c]) / 2
            b = int(round(-center * m + rng.normal(0, 20) * 2.0**s))
            mult.append(m)
            bias.append(b)
            shift.append(s)
        zp = int(rng.integers(-20, 21))
        return RequantStage(np.array(mult, np.int32), np.array(bias, np.int64), np.array(shift, np.uint8), zp,
                            float(rng.uniform(0.01, 0.2)))

    def _threshold_stage(self, x: np.ndarray, channels: int, encoding: str, levels: int,
                         dtype=np.int32) -> ThresholdStage:
        rng = self.rng
        levels = 1 if encoding == "sign" else levels
        direction = rng.choice(np.array([-1, 1], np.int8), size=channels)
        vals = x.reshape(-1, channels).astype(np.int64) * direction.astype(np.int64)
        t = np.sort(vals[rng.integers(vals.shape[0], size=(channels, levels)), np.arange(channels)[:, None]], axis=1)
        t = t + rng.choice(np.array([-1, 0, 0, 1]), size=t.shape)
        t = np.sort(t, axis=1)
        if channels >= 4:  # a constant channel
            t[int(rng.integers(channels))] = np.iinfo(dtype).min
        return ThresholdStage(direction, t.astype(dtype), encoding)

    def _weights(self, kind: str, lead: tuple, k: int) -> np.ndarray:
        if kind == "binary":
            return bf.pack_sign(self.rng.choice(np.array([-1, 1]), size=tuple(lead) + (k,)))
        w = self.rng.integers(-127, 128, size=tuple(lead) + (k,))
        if self.rng.random() < 0.2:
            w[..., 0] = -128
        return w.astype(np.int8)

    # -- ops
    def conv(self, src: str, out_ch: int, kernel, stride, padding, *, weight_kind="int8", groups=1,
             stage="requant", encoding="sign", levels=1) -> str:
        spec = self.specs[src]
        c = spec.shape[2]
        w = self._weights(weight_kind, (out_ch,) + tuple(kernel), c // groups)
        name = self._name("conv")
        dummy = ThresholdStage(np.ones(out_ch, np.int8), np.zeros((out_ch, 1), np.int32), "sign")
        op = Conv2d(w, c, out_ch, tuple(kernel), tuple(stride), tuple(padding), dummy, weight_kind, name=name,
                    groups=groups)
        acc = self._acc(op, src)
        op.output = (self._requant_stage(acc, out_ch) if stage == "requant" else AccStage() if stage == "acc"
                     else self._threshold_stage(acc, out_ch, encoding, levels))
        return self._run(op, (src,))

    def dense(self, src: str, out_f: int, *, weight_kind="binary", stage="threshold", encoding="sign", levels=1,
              scores=False) -> str:
        spec = self.specs[src]
        k = spec.shape[0]
        w = self._weights(weight_kind, (out_f,), k)
        name = self._name("dense")
        dummy = ThresholdStage(np.ones(out_f, np.int8), np.zeros((out_f, 1), np.int32), "sign")
        op = Dense(w, k, out_f, dummy, weight_kind, name=name)
        if scores:
            bound = int(acc_bound(op, spec).max())
            off_max = 1 << 20
            m_max = max(1, min(1000, (2**31 - 1 - off_max) // max(bound, 1)))
            mult = self.rng.integers(-m_max, m_max + 1, size=out_f)
            mult[mult == 0] = 1
            op.output = ScoreStage(mult.astype(np.int32), self.rng.integers(-off_max, off_max + 1, size=out_f).astype(np.int32),
                                   int(self.rng.integers(0, 8)))
            op.inputs = (src,)
            self.graph.ops.append(op)
            self.specs[name] = infer(op, [spec])
            return name
        acc = self._acc(op, src)
        op.output = (self._requant_stage(acc, out_f) if stage == "requant" else AccStage() if stage == "acc"
                     else self._threshold_stage(acc, out_f, encoding, levels))
        return self._run(op, (src,))

    def _acc(self, op, src: str) -> np.ndarray:
        """The accumulators of ``op`` (any stage; a placeholder one here) on the calibration inputs."""
        op.output = ThresholdStage(np.ones(op.weights.shape[0], np.int8),
                                   np.zeros((op.weights.shape[0], 1), np.int32), "sign")
        return self._eval(op, (src,))[0]

    def add(self, a: str, b: str) -> str:
        ra, rb = self.code_range(a), self.code_range(b)
        # out = (sa * xa + sb * xb) / so with an output range spanning both
        ma, s = multiplier_for(self.rng, 120.0 / (ra + rb) * self.rng.uniform(0.7, 1.5), ra + rb)
        mb = max(1, int(round(ma * self.rng.uniform(0.3, 3.0))))
        op = Add((ma, mb), s, int(self.rng.integers(-10, 11)), float(self.rng.uniform(0.01, 0.2)), name=self._name("add"))
        return self._run(op, (a, b))

    def _centered(self, name: str) -> np.ndarray:
        s = self.specs[name]
        v = np.asarray(self.values[name]).astype(np.int64)
        return v - int(s.zero_point) if s.kind in ("u8", "i8") else v

    def merge(self, a: str, b: str, *, output: str = "round", encoding: str = "sign", levels: int = 1) -> str:
        """Merge a + b (codes or AccStage accumulators) at a random real ratio, then round to i8 or
        threshold; per channel multipliers with either sign."""
        rng = self.rng
        va, vb = self._centered(a), self._centered(b)
        c = va.shape[-1]
        ra = np.maximum(np.abs(va.reshape(-1, c)).max(axis=0), 1)
        rb = np.maximum(np.abs(vb.reshape(-1, c)).max(axis=0), 1)
        mb = rng.integers(1 << 10, 1 << 16, size=c) * rng.choice([1, 1, -1], size=c)
        ma = np.round(np.abs(mb) * rb / ra * rng.uniform(0.3, 3.0, size=c)).astype(np.int64)
        ma = np.clip(ma, 1, 2**30) * rng.choice([1, 1, -1], size=c)
        v = ma * va + mb * vb
        span = np.maximum(np.abs(v.reshape(-1, c)).max(axis=0), 1)
        bias = np.round(rng.normal(0, 0.2, size=c) * span).astype(np.int64)
        v = v + bias
        if output == "round":
            shift = np.array([max(0, int(np.ceil(np.log2(float(sp) / 100.0)))) for sp in span], np.uint8)
            stage = RoundStage(shift, int(rng.integers(-10, 11)), float(rng.uniform(0.01, 0.2)))
        else:
            stage = self._threshold_stage(v, c, encoding, levels, np.int64)
        op = Merge(ma.astype(np.int32), mb.astype(np.int32), bias, stage, name=self._name("merge"))
        return self._run(op, (a, b))

    def requantize(self, src: str) -> str:
        r = self.code_range(src)
        m, s = multiplier_for(self.rng, 127.0 / r * self.rng.uniform(0.5, 1.5), r)
        op = Requantize(m, s, int(self.rng.integers(-10, 11)), float(self.rng.uniform(0.01, 0.2)),
                        name=self._name("requant"))
        return self._run(op, (src,))

    def threshold(self, src: str, encoding="sign", levels=1) -> str:
        x = reference.unpack_value(self.values[src], self.specs[src])
        stage = self._threshold_stage(x, self.specs[src].shape[-1], encoding, levels)
        return self._run(Threshold(stage, name=self._name("thr")), (src,))

    def avgpool(self, src: str, kernel, stride) -> str:
        kh, kw = kernel
        r = self.code_range(src)
        m, s = multiplier_for(self.rng, 127.0 / r / (kh * kw) * self.rng.uniform(0.8, 1.6), r * kh * kw)
        op = AvgPool2d(tuple(kernel), tuple(stride), m, s, int(self.rng.integers(-10, 11)),
                       float(self.rng.uniform(0.01, 0.2)), name=self._name("avg"))
        return self._run(op, (src,))

    def maxpool(self, src: str, kernel, stride) -> str:
        return self._run(MaxPool2d(tuple(kernel), tuple(stride), name=self._name("max")), (src,))

    def concat(self, *srcs: str) -> str:
        return self._run(Concat(name=self._name("cat")), tuple(srcs))

    def flatten(self, src: str) -> str:
        return self._run(Flatten(name=self._name("flat")), (src,))

    def reshape(self, src: str, shape) -> str:
        return self._run(Reshape(tuple(shape), name=self._name("reshape")), (src,))


def _geometry(rng, h: int, w: int):
    k = int(rng.choice([1, 3, 3, 5]))
    k = min(k, h, w) if min(h, w) < k else k
    s = int(rng.choice([1, 1, 2]))
    p = int(rng.integers(0, k // 2 + 1)) if k > 1 else 0
    pads = (p, p, p, p) if rng.random() < 0.7 else tuple(int(rng.integers(0, k)) for _ in range(4))
    return (k, k), (s, s), pads


def random_dag(rng: np.random.Generator, *, input_kind: str | None = None, image: bool | None = None,
               channels: tuple = CHANNELS, classes: int | None = None) -> Graph:
    """A random valid DAG (see the module docstring)."""
    ch = lambda: int(rng.choice(channels))  # noqa: E731
    input_kind = input_kind or str(rng.choice(["u8", "u8", "i8"]))
    image = bool(rng.random() < 0.75) if image is None else image
    zp = 0 if input_kind == "u8" and rng.random() < 0.5 else int(rng.integers(-20, 21) + (128 if input_kind == "u8" else 0))
    zp = int(np.clip(zp, *((0, 255) if input_kind == "u8" else (-128, 127))))
    if image:
        shape = (int(rng.integers(5, 12)), int(rng.integers(5, 12)), int(rng.choice([1, 2, 3, 4])))
    else:
        shape = (int(rng.integers(3, 60)),)
    b = DagBuilder(rng, TensorSpec(input_kind, shape, scale=float(rng.uniform(0.005, 0.05)), zero_point=zp))
    classes = int(rng.integers(2, 9)) if classes is None else classes
    x = "input"
    if image:
        c0 = ch()
        x = b.conv(x, c0, *_geometry(rng, *shape[:2]), weight_kind="int8")  # stem: int8 conv -> i8
        # a residual block: i8 -> bits -> binary conv -> i8, added to the shortcut (other scale)
        h, w_ = b.specs[x].shape[:2]
        bits = b.threshold(x)
        k = 3 if min(h, w_) >= 3 else 1
        y = b.conv(bits, c0, (k, k), (1, 1), (k // 2,) * 4, weight_kind="binary")
        x = b.add(x, y)
        if rng.random() < 0.4:  # a real-valued residual: x + conv(sign(x)) merged exactly, rounded to i8
            bits = b.threshold(x)
            y = b.conv(bits, b.specs[x].shape[2], (k, k), (1, 1), (k // 2,) * 4, weight_kind="binary", stage="acc")
            x = b.merge(x, y, output="round") if rng.random() < 0.5 else b.merge(y, x, output="round")
        if rng.random() < 0.5:  # a grouped / depthwise int8 conv
            c = b.specs[x].shape[2]
            g = c if rng.random() < 0.5 else next(d for d in (3, 2, 1) if c % d == 0)
            x = b.conv(x, c * int(rng.choice([1, 2])) if g == c else c, (3, 3) if min(h, w_) >= 3 else (1, 1),
                       (1, 1), (1, 1, 1, 1) if min(h, w_) >= 3 else (0, 0, 0, 0), weight_kind="int8", groups=g)
        if rng.random() < 0.5:  # a concat of two int8 branches at one scale
            y = b.requantize(x)
            z = b.requantize(b.conv(x, ch(), (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="int8"))
            z = b._run(Requantize(1 << 20, 20, b.specs[y].zero_point, b.specs[y].scale, name=b._name("align")), (z,))
            x = b.concat(y, z)
        h, w_ = b.specs[x].shape[:2]
        if rng.random() < 0.5 and min(h, w_) >= 2:  # down-sampling: avg or max pool on int8
            x = b.avgpool(x, (2, 2), (2, 2)) if rng.random() < 0.5 else b.maxpool(x, (2, 2), (2, 2))
        if rng.random() < 0.5:  # a binary branch kept in bits: conv -> bits, pooled, concatenated
            bits = b.threshold(x, *(("sign", 1) if rng.random() < 0.5 else ("unsigned", 3)))
            enc = b.specs[bits].encoding
            lv = 3 if enc == "unsigned" else 1
            y1 = b.conv(bits, ch(), (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="binary", stage="threshold",
                        encoding=enc, levels=lv)
            y2 = b.conv(bits, ch(), (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="binary", stage="threshold",
                        encoding=enc, levels=lv)
            x = b.concat(y1, y2)
            h, w_ = b.specs[x].shape[:2]
            if min(h, w_) >= 2 and rng.random() < 0.5:
                x = b.maxpool(x, (2, 2), (1, 2))
            x = b.flatten(x)
            x = b.dense(x, ch(), weight_kind="binary", stage="threshold")
        else:
            h, w_, c = b.specs[x].shape
            x = b.avgpool(x, (h, w_), (1, 1))  # global average pooling
            x = b.flatten(x) if rng.random() < 0.5 else b.reshape(x, (c,))
            x = b.dense(x, ch(), weight_kind="int8", stage="requant")
    else:
        x = b.dense(x, ch(), weight_kind="int8", stage="requant")
        if rng.random() < 0.5:
            y = b.dense(x, b.specs[x].shape[0], weight_kind="int8", stage="requant")
            x = b.add(x, y)
        if rng.random() < 0.5:  # the sum of two accumulators thresholded: sign(h + dense(sign(h)))
            c = b.specs[x].shape[0]
            h = b.dense(x, c, weight_kind="int8", stage="acc")
            z = b.dense(b.threshold(x), c, weight_kind="binary", stage="acc")
            x = b.merge(h, z, output="threshold", **(dict(encoding="sign") if rng.random() < 0.5
                                                      else dict(encoding="unsigned", levels=3)))
        else:
            x = b.threshold(x)
        x = b.dense(x, ch(), weight_kind="binary", stage="threshold")
    b.dense(x, classes, weight_kind=str(rng.choice(["binary", "int8"])), scores=True)
    g = b.graph
    g.class_names = [f"class{i}" for i in range(classes)]
    g.metadata = {"kind": "dag"}
    g.validate()
    return g


def random_inputs(rng: np.random.Generator, graph: Graph, n: int = 4) -> np.ndarray:
    """Inputs (n,) + graph.input.shape of the input's dtype; uniform codes plus saturated ones."""
    return _calib_inputs(rng, graph.input, n)
