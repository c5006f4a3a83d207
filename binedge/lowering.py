"""The lowering rules of :func:`binedge.convert` (driven node by node by binedge.converter).

Every value flowing between fx nodes has one of six lowering types:

    Codes    a graph value of kind u8 / i8: the model holds scale·(q − zp)        (input, QuantInt8, pools)
    Bits     packed hard-threshold outputs: ±1 (sign) or level·level_scale       (Sign / Step / QReLU)
    Affine   a weight op's real output z = a·acc + b, per channel, waiting for its output stage
    CodeSum  Σ_i c_i·s_i·(q_i − zp_i) of codes, optionally averaged over a window, waiting for a QuantInt8
    RealSum  z = A·x_a + B·x_b + C per channel over two exact integers (a weight op's accumulator, or
             codes minus their zero point): a sum of two real-valued branches, waiting for an
             activation (Merge + ThresholdStage) or a QuantInt8 (Merge + RoundStage)
    Cat      a concatenation of values of different types, waiting for a quantizer

:class:`Lowering` holds the graph under construction and one method per rule: ``weight_layer``
(BinaryLinear / BinaryConv2d -> Affine: the accumulator over codes or bits, a = weight scale ·
input scale, b = bias − a·zp·Σw for an input zero point), ``batchnorm`` / ``scale`` / ``offset``
(fold into an Affine), ``quantize`` (Affine -> RequantStage, Codes -> Requantize, CodeSum -> Add /
Requantize / AvgPool2d, RealSum -> Merge + RoundStage, Cat -> each part, then Concat), ``activate``
(Affine -> ThresholdStage, Codes -> Threshold, RealSum or a sum of two codes -> Merge +
ThresholdStage, Cat -> each part), ``add`` (codes + codes -> CodeSum; anything with a weight
layer's real output -> RealSum), ``avgpool``, ``maxpool``, ``flatten``, ``reshape``, ``cat`` and
``scores`` (Affine of a Dense -> ScoreStage, the graph output). Every refusal is a
:class:`~binedge.fxtrace.LoweringError` naming the node being lowered and its source line.

A weight op's accumulator is computed once: ``emit_stage`` gives it the output stage its first
consumer asks for; when a RealSum later needs the accumulator itself (``accumulator``), that op
becomes an AccStage op and each stage already emitted becomes a Merge of the accumulator with
itself, Merge(acc, acc, Ma = M, Mb = 0, bias = B) — the same integers, v = M·acc + B, under the
same value name — so ``h`` feeding both ``sign(h)`` and ``h + f(sign(h))`` costs one layer and
two elementwise Merges rather than two layers.

PyTorch is NCHW, the graph HWC: a flat value remembers ``perm``, PyTorch's feature index of every
graph position, so that a Dense after a flatten permutes its weights and anything else that
depends on the order is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from . import bitformat as bf
from . import fold
from .fxtrace import LoweringError, describe
from .graph import (INPUT_NAME, AccStage, Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, GraphError, MaxPool2d, Merge,
                    RequantStage, Requantize, Reshape, RoundStage, TensorSpec, Threshold, ThresholdStage, infer)
from .nn.activations import QReLU, RealActivation, ThresholdActivation
from .nn.layers import BinaryConv2d, BinaryLinear
from .nn.quant import Int8Weights, QuantInt8
from .nn.quantizers import KernelQuantizer


# ----------------------------------------------------------------------------- lowering types


@dataclass(frozen=True)
class Codes:
    name: str  # the graph value
    spec: TensorSpec
    perm: np.ndarray | None = None  # flat values: PyTorch's feature index of every graph position
    raw: bool = False  # the graph input, only re-laid-out (flatten, reshape, max-pool)


@dataclass(frozen=True)
class Bits:
    name: str
    spec: TensorSpec
    real_scale: float  # real value of one level (sign: ±1)
    max_level: int = 1  # largest |value|: 1 for sign, the activation's number of levels for unsigned
    perm: np.ndarray | None = None


@dataclass(frozen=True)
class Affine:
    origin: str  # how messages name the weight layer
    base: str  # op name
    make: object  # stage -> Dense / Conv2d
    input_name: str
    a: np.ndarray
    b: np.ndarray
    bound: np.ndarray  # largest |acc| per channel
    shape: tuple  # graph shape after the queued ops
    dense: bool
    after: tuple = ()  # queued MaxPool2d / Flatten ops (unnamed templates, name prefix)
    perm: np.ndarray | None = None
    pooled: bool = False


@dataclass(frozen=True)
class CodeSum:
    origin: str
    base: str
    terms: tuple  # ((Codes, coefficient), ...): real = Σ c_i · s_i · (q_i − zp_i)
    shape: tuple  # graph shape of the result (after the pooling and the queued ops)
    pool: tuple | None = None  # (kernel, stride): the average over each window
    after: tuple = ()
    perm: np.ndarray | None = None


@dataclass(frozen=True)
class RealSum:
    """z_c = Σ_i coef_i,c · x_i + const_c over one or two integer sources x_i: an Affine's
    accumulator (its own a, b are already folded into coef / const) or Codes (x = q − zp)."""

    origin: str
    base: str
    terms: tuple  # ((Affine | Codes, coef float64 (C,)), ...), one or two
    const: np.ndarray  # float64 (C,)
    shape: tuple  # graph shape after the queued ops
    after: tuple = ()  # queued MaxPool2d / Flatten ops, emitted after the Merge
    perm: np.ndarray | None = None
    pooled: bool = False


@dataclass(frozen=True)
class Cat:
    origin: str
    base: str
    parts: tuple
    flat: bool  # concatenation of flat values (features) rather than channels
    after: tuple = ()  # a queued Flatten
    perm: np.ndarray | None = None


VALUE_TYPES = (Codes, Bits, Affine, CodeSum, RealSum, Cat)


def _kind(v) -> str:
    if isinstance(v, Codes):
        return f"an int8 value ({v.spec.kind})" if v.spec.kind == "i8" else "a uint8 value"
    if isinstance(v, Bits):
        return "hard-threshold outputs (bits)"
    if isinstance(v, Affine):
        return f"the real-valued output of {v.origin}"
    if isinstance(v, CodeSum):
        return f"the real-valued {'average' if v.pool else 'sum'} at {v.origin}"
    if isinstance(v, RealSum):
        return f"the real-valued sum at {v.origin}"
    return f"a concatenation of values of different types at {v.origin}"


def _shape(v) -> tuple:
    """Graph shape of a lowering value."""
    if isinstance(v, (Codes, Bits)):
        return tuple(v.spec.shape)
    if isinstance(v, Cat):
        shapes = [_shape(p) for p in v.parts]
        shape = shapes[0][:-1] + (sum(s[-1] for s in shapes),)
        return (int(np.prod(shape)),) if v.after else shape
    return tuple(v.shape)


def _simplify(v):
    """A CodeSum that is just one value's codes (one term, factor 1, no pooling) is those codes."""
    if isinstance(v, CodeSum) and v.pool is None and not v.after and len(v.terms) == 1 and v.terms[0][1] == 1.0:
        return v.terms[0][0]
    return v


def _flat_perm(shape: tuple) -> np.ndarray | None:
    """PyTorch's feature index (C, H, W order) of every position of an (H, W, C) value flattened
    in the graph's HWC order; None when both orders agree (H = W = 1, or C = 1)."""
    h, w, c = shape
    if h * w == 1 or c == 1:
        return None
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)


def _perm_or_identity(p, n: int) -> np.ndarray:
    return np.arange(n) if p is None else p


def _norm_perm(p):
    return None if p is None or np.array_equal(p, np.arange(len(p))) else p


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _merge_form(stage):
    """A Merge of an accumulator with itself computing exactly what ``stage`` computes on it:
    ThresholdStage on acc = Merge(1, 0, 0) + the same thresholds (int64); RequantStage
    requant(M·acc + B, s, zp) = Merge(M, 0, B) + RoundStage(s, zp)."""
    if isinstance(stage, ThresholdStage):
        c = stage.direction.shape[0]
        return Merge(np.ones(c, np.int32), np.zeros(c, np.int32), np.zeros(c, np.int64),
                     ThresholdStage(stage.direction.copy(), stage.thresholds.astype(np.int64), stage.encoding))
    if isinstance(stage, RequantStage):
        c = stage.multiplier.shape[0]
        return Merge(stage.multiplier.copy(), np.zeros(c, np.int32), stage.bias.astype(np.int64),
                     RoundStage(stage.shift.copy(), int(stage.zero_point), float(stage.scale)))
    raise TypeError(f"no Merge form of {type(stage).__name__}")  # pragma: no cover - scores are never shared


def _pair_sum(v) -> bool:
    """A sum of two codes (not an average): a real-valued sum of two branches."""
    return isinstance(v, CodeSum) and v.pool is None and len(v.terms) == 2


def _as_real_sum(v: CodeSum) -> RealSum:
    c = v.terms[0][0].spec.shape[-1]
    terms = tuple((x, np.full(c, k * float(x.spec.scale))) for x, k in v.terms)
    return RealSum(v.origin, v.base, terms, np.zeros(c), v.shape, v.after, v.perm)


def _after_shape(shape: tuple, op) -> tuple:
    if isinstance(op, MaxPool2d):
        return ((shape[0] - op.kernel[0]) // op.stride[0] + 1, (shape[1] - op.kernel[1]) // op.stride[1] + 1, shape[2])
    return (int(np.prod(shape)),)


# ----------------------------------------------------------------------------- the lowering


class Lowering:
    """The lowering rules: turns each fx node's inputs (lowering values) into its output value,
    emitting graph ops as soon as they are determined (binedge.converter drives it node by node)."""

    def __init__(self, model: nn.Module, spec: TensorSpec, round_float_weights: bool):
        self.model = model
        self.input_spec = spec
        self.round_float_weights = round_float_weights
        self.ops: list = []
        self.specs: dict[str, TensorSpec] = {INPUT_NAME: spec}
        self.used: set[str] = {INPUT_NAME}
        self.memo: dict = {}
        self.keep: list = []
        self.node = None  # the fx node being lowered (for messages)
        self.accs: dict = {}  # Affine.make -> (name, spec) of its AccStage value
        self.staged: dict = {}  # Affine.make -> ops emitted with another stage (before any AccStage)

    # -- plumbing

    def where(self, node=None) -> str:
        return describe(node if node is not None else self.node, self.model)

    def label(self, node=None) -> str:
        """The node's name without its source line (for values that mention where they came from)."""
        return describe(node if node is not None else self.node, self.model, source=False)

    def fail(self, msg: str, node=None):
        raise LoweringError(f"{self.where(node)}: {msg}")

    def unique(self, base: str) -> str:
        name, k = base, 2
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def emit(self, op, inputs: tuple, base: str, at: int | None = None) -> tuple[str, TensorSpec]:
        """Name ``op``, infer its value (a graph error is a LoweringError here) and append it (or
        insert it at index ``at``)."""
        op.name = self.unique(base)
        op.inputs = tuple(inputs)
        spec = self._infer(op)
        self.ops.append(op) if at is None else self.ops.insert(at, op)
        self.specs[op.name] = spec
        return op.name, spec

    def _infer(self, op) -> TensorSpec:
        try:
            return infer(op, [self.specs[n] for n in op.inputs])
        except GraphError as e:
            self.fail(f"its integer form is not a valid graph op: {e}")

    def _index(self, op) -> int:
        return next(i for i, o in enumerate(self.ops) if o is op)

    # -- weight ops: one accumulator, any number of stages

    def emit_stage(self, v: Affine, stage) -> tuple[str, TensorSpec]:
        """The value of ``v``'s weight op with output ``stage`` (threshold or requant), its queued
        ops not yet applied: the weight op itself, or — once its accumulator is a value of its
        own — a Merge of the accumulator with itself (:func:`_merge_form`)."""
        if v.make in self.accs:
            acc, _ = self.accs[v.make]
            return self.emit(_merge_form(stage), (acc, acc), v.base)
        op = v.make(stage)
        out = self.emit(op, (v.input_name,), v.base)
        self.staged.setdefault(v.make, []).append(op)
        return out

    def accumulator(self, v: Affine) -> tuple[str, TensorSpec]:
        """The AccStage value of ``v``'s weight op (exact int32 accumulators, read by Merges),
        emitted once. If the op was already emitted with other stages, the first of them becomes
        the AccStage op and each becomes a Merge of it with itself under its own name (the same
        integers: :func:`_merge_form`), so the layer is computed once."""
        if v.make in self.accs:
            return self.accs[v.make]
        staged = self.staged.pop(v.make, [])
        at = self._index(staged[0]) if staged else None
        out = self.emit(v.make(AccStage()), (v.input_name,), f"{v.base}_acc", at)
        for old in staged:
            merge = _merge_form(old.output)
            merge.name, merge.inputs = old.name, (out[0], out[0])
            if self._infer(merge) != self.specs[old.name]:  # pragma: no cover - _merge_form keeps the type
                self.fail(f"internal error: the Merge form of {old.name} has another type")
            self.ops[self._index(old)] = merge
        self.accs[v.make] = out
        return out

    def merge(self, v: RealSum, fold_stage) -> tuple[str, TensorSpec]:
        """Merge of ``v``'s sources (accumulators via :meth:`accumulator`, codes as they are) with
        the parameters ``fold_stage(ca, cb, const, max_a, max_b)`` -> (Ma, Mb, bias, stage), then
        the queued ops. One source is merged with itself (Mb = 0)."""
        ins = []
        for src, coef in v.terms:
            name, spec = self.accumulator(src) if isinstance(src, Affine) else (src.name, src.spec)
            ins.append((name, spec, np.asarray(coef, np.float64)))
        if len(ins) == 1:
            ins.append((ins[0][0], ins[0][1], np.zeros_like(ins[0][2])))
        (na, sa, ca), (nb, sb, cb) = ins
        try:
            ma, mb, bias, stage = fold_stage(ca, cb, np.asarray(v.const, np.float64), sa.max_centered,
                                             sb.max_centered)
        except fold.FoldError as e:
            srcs = [src for src, _ in v.terms] * 2
            raise fold.FoldError(f"{e} (branch a: {_kind(srcs[0])}, branch b: {_kind(srcs[1])})") from None
        name, spec = self.emit(Merge(ma, mb, bias, stage), (na, nb), v.base)
        return self.emit_after(name, spec, v.after)

    def emit_after(self, name: str, spec: TensorSpec, after: tuple) -> tuple[str, TensorSpec]:
        for template, base in after:
            op = replace(template)
            name, spec = self.emit(op, (name,), base)
        return name, spec

    # -- quantizers

    def remember(self, v, what: tuple, make):
        """``make()`` once per (value, what): a value consumed twice by the same quantizer or
        activation is materialised once. Values are kept alive, so their ids stay unique."""
        key = (v.name if isinstance(v, (Codes, Bits)) else id(v),) + what
        if key not in self.memo:
            self.keep.append(v)
            self.memo[key] = make()
        return self.memo[key]

    def quantize(self, v, s: float, zp: int):
        """The value of an int8 quantizer (scale s, zero point zp) applied to ``v``: always Codes (i8)."""
        return self.remember(v, ("q", s, zp), lambda: self._quantize(v, s, zp))

    def _quantize(self, v, s: float, zp: int):
        try:
            if isinstance(v, Codes):
                if v.spec.kind == "i8" and v.spec.scale == s and v.spec.zero_point == zp:
                    return v  # the same codes: QuantInt8 is the identity on them
                (m,), sh = fold.shared_multipliers([v.spec.scale / s], [v.spec.max_centered])
                name, spec = self.emit(Requantize(m, sh, zp, s), (v.name,), self.op_base(self.node))
                return Codes(name, spec, v.perm)
            if isinstance(v, Affine):
                name, spec = self.emit_stage(v, fold.requant_stage(v.a, v.b, v.bound, s, zp))
                name, spec = self.emit_after(name, spec, v.after)
                return Codes(name, spec, v.perm)
            if isinstance(v, CodeSum):
                return self._quantize_sum(v, s, zp)
            if isinstance(v, RealSum):
                name, spec = self.merge(v, lambda ca, cb, c, xa, xb: fold.merge_round(ca, cb, c, xa, xb, s, zp))
                return Codes(name, spec, v.perm)
            if isinstance(v, Cat):
                return self.finish_cat(v, [self.quantize(p, s, zp) for p in v.parts])
        except fold.FoldError as e:
            self.fail(str(e))
        self.fail(f"an int8 quantizer on {_kind(v)} does not lower: quantize the real-valued input of the "
                  "hard-threshold activation instead, or use the bits directly")

    def _quantize_sum(self, v: CodeSum, s: float, zp: int) -> Codes:
        names = tuple(c.name for c, _ in v.terms)
        ratios = [coef * c.spec.scale / s for c, coef in v.terms]
        if v.pool is not None:
            (kh, kw), stride = v.pool
            (c, _), = v.terms
            (m,), sh = fold.shared_multipliers([ratios[0] / (kh * kw)], [kh * kw * c.spec.max_centered])
            name, spec = self.emit(AvgPool2d((kh, kw), stride, m, sh, zp, s), names, v.base)
        elif len(v.terms) == 1:
            (m,), sh = fold.shared_multipliers(ratios, [v.terms[0][0].spec.max_centered])
            name, spec = self.emit(Requantize(m, sh, zp, s), names, v.base)
        else:
            ms, sh = fold.shared_multipliers(ratios, [c.spec.max_centered for c, _ in v.terms])
            name, spec = self.emit(Add((ms[0], ms[1]), sh, zp, s), names, v.base)
        name, spec = self.emit_after(name, spec, v.after)
        return Codes(name, spec, v.perm)

    def activate(self, v, act: ThresholdActivation, base: str):
        """The value of hard-threshold activation ``act`` applied to ``v``: always Bits."""
        if isinstance(act, QReLU) and tuple(act.thresholds) != tuple((k - 1) / (act.n - 1)
                                                                     for k in range(1, act.n + 1)):
            self.fail(f"qrelu thresholds were changed; they must match its n={act.n}")
        what = ("act", tuple(act.thresholds), act.strict, act.encoding, float(act.level_scale),
                tuple(act.channel_thresholds()) if hasattr(act, "channel_thresholds") else None)
        return self.remember(v, what, lambda: self._activate(v, act, base))

    def _activate(self, v, act: ThresholdActivation, base: str):
        scale = 1.0 if act.encoding == "sign" else float(act.level_scale)
        top = 1 if act.encoding == "sign" else len(act.thresholds)
        try:
            if isinstance(v, Affine):
                name, spec = self.emit_stage(v, fold.thresholds(v.a, v.b, act, v.bound, v.perm))
                name, spec = self.emit_after(name, spec, v.after)
                return Bits(name, spec, scale, top, v.perm)
            if _pair_sum(v):
                v = _as_real_sum(v)
            if isinstance(v, RealSum):
                name, spec = self.merge(v, lambda ca, cb, c, xa, xb: fold.merge_thresholds(ca, cb, c, xa, xb, act,
                                                                                          v.perm))
                return Bits(name, spec, scale, top, v.perm)
            if isinstance(v, Codes):
                stage = fold.code_thresholds(v.spec, act, v.perm)
                name, spec = self.emit(Threshold(stage), (v.name,), base)
                return Bits(name, spec, scale, top, v.perm)
            if isinstance(v, Bits) and act.encoding == "sign" and v.spec.encoding == "sign" and not act.strict \
                    and tuple(act.thresholds) == (0.0,) and not hasattr(act, "channel_thresholds"):
                return v  # sign(±1) = ±1
            if isinstance(v, Cat):
                return self.finish_cat(v, [self.activate(p, act, base) for p in v.parts])
        except fold.FoldError as e:
            self.fail(str(e))
        if isinstance(v, CodeSum):
            self.fail(f"a hard-threshold activation on {_kind(v)} does not lower: the graph averages (and scales "
                      "single values) only into int8 values; put a QuantInt8 between them")
        self.fail(f"a hard-threshold activation on {_kind(v)} does not lower (the graph has no op re-thresholding "
                  "bits); apply it to the real-valued value before the first activation")

    # -- weight layers

    def weight_layer(self, m, v, node) -> Affine:
        where = self.where(node)
        iq = m.input_quantizer
        if iq is not None:
            if isinstance(iq, ThresholdActivation):
                v = self.activate(v, iq, f"{self.op_base(node)}_in")
            elif isinstance(iq, QuantInt8):
                self.check_quantizer(iq, f"{where}, input quantizer")
                v = self.quantize(v, float(iq.scale), int(iq.zero_point))
            else:
                raise LoweringError(f"{where}: its input activation is {iq!r}; only hard-threshold activations "
                                    "(sign, rsign, step, qrelu2, qrelu3) lower to integers — train with one of "
                                    "them — or a binedge.nn.QuantInt8 (int8 inputs)")
        if not isinstance(v, (Codes, Bits)):
            hint = ("put a hard-threshold activation (e.g. input_quantizer='sign') or a binedge.nn.QuantInt8 between "
                    "them" if isinstance(v, (Affine, RealSum)) or _pair_sum(v) else
                    "put a binedge.nn.QuantInt8 between them")
            raise LoweringError(f"{where}: reads {_kind(v)}, but a weight layer reads codes or bits only; {hint}")
        kq = m.kernel_quantizer
        out_ch = int(m.weight.shape[0])
        bias = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(out_ch)
        in_scale = v.spec.scale if isinstance(v, Codes) else v.real_scale
        zp = int(v.spec.zero_point) if isinstance(v, Codes) else 0
        max_code = v.spec.max_abs_value if isinstance(v, Codes) else v.max_level  # bounds |acc|
        w = m.weight.detach()
        if kq is None:
            if not (self.round_float_weights and isinstance(v, Codes) and v.raw):
                raise LoweringError(f"{where}: full-precision weights do not lower exactly; give the layer "
                                    "kernel_quantizer='int8' (exact int8 weights, binedge.nn.Int8Weights) or binary "
                                    "weights (lab, bwn, binaryconnect)")
            wq, step = fold.float_weights_as_int8(w.double().numpy())
            a, kind = step * in_scale, "int8"
            wsum = wq.reshape(out_ch, -1).astype(np.int64).sum(axis=1)
        elif kq.binary:
            wq = (w < 0).numpy().astype(np.uint8)
            a, kind = np.full(out_ch, m.weight_scale() * in_scale), "binary"
            wsum = (1 - 2 * wq.reshape(out_ch, -1).astype(np.int64)).sum(axis=1)
        else:
            q, s = kq.codes(w)
            wq = q.numpy().astype(np.int8)
            a, kind = s.double().numpy() * in_scale, "int8"
            wsum = wq.reshape(out_ch, -1).astype(np.int64).sum(axis=1)
        b = bias - a * zp * wsum if zp else bias  # Σ w·s·(q − zp) = s·acc − s·zp·Σw (padding included)
        base = self.op_base(node)
        if isinstance(m, BinaryLinear):
            if len(v.spec.shape) != 1:
                raise LoweringError(f"{where}: a linear layer needs a flattened input (add a flatten before it), "
                                    f"it reads a {v.spec.shape[2]}-channel map")
            k = v.spec.shape[0]
            if m.in_features != k:
                raise LoweringError(f"{where}: expects {m.in_features} inputs, the graph provides {k}")
            if v.perm is not None:  # PyTorch flattened in (C, H, W) order, the graph in (H, W, C)
                wq = wq[:, v.perm]
            packed = bf.pack_bits(wq) if kind == "binary" else np.ascontiguousarray(wq)
            bound = fold.acc_bound(wq, kind, max_code)

            def make(stage, packed=packed, k=k, kind=kind):
                return Dense(packed, k, out_ch, stage, weight_kind=kind)

            return Affine(self.label(node), base, make, v.name, a, b, bound, (out_ch,), True)
        if len(v.spec.shape) != 3:
            raise LoweringError(f"{where}: a convolution needs an (H, W, C) map, it reads a flat value")
        hh, ww, cc = v.spec.shape
        g = int(m.groups)
        if m.in_channels != cc or _pair(m.dilation) != (1, 1):
            raise LoweringError(f"{where}: needs dilation=1 and {cc} input channels")
        if g > 1 and kind != "int8":
            raise LoweringError(f"{where}: grouped / depthwise convolutions lower with int8 weights only; give it "
                                "kernel_quantizer='int8'")
        kh, kw = _pair(m.kernel_size)
        sh, sw = _pair(m.stride)
        ph, pw = _pair(m.padding)
        if hh + 2 * ph < kh or ww + 2 * pw < kw:
            raise LoweringError(f"{where}: its {kh}x{kw} kernel is larger than its (padded) {hh + 2 * ph}x"
                                f"{ww + 2 * pw} input; the model needs a larger input or fewer down-sampling layers "
                                "before it")
        if ph >= kh or pw >= kw:
            raise LoweringError(f"{where}: padding ({ph}, {pw}) must be smaller than the kernel ({kh}, {kw}) "
                                "(docs/format.md §7)")
        if ph or pw:  # PyTorch pads with 0 (or the input quantizer's pad_value); the graph with the zero code
            zero_real = 1.0 if isinstance(v, Bits) and v.spec.encoding == "sign" else 0.0
            pad_real = float(iq.pad_value) if iq is not None else 0.0
            if pad_real != zero_real:
                raise LoweringError(f"{where}: pads its input with {pad_real:g} but the value's zero code means "
                                    f"{zero_real:g} (±1 sign bits have no code for 0); make the sign activation "
                                    "this convolution's input_quantizer (it pads with +1)")
        wq = wq.transpose(0, 2, 3, 1)  # (O, C/g, KH, KW) -> (O, KH, KW, C/g)
        packed = bf.pack_bits(wq) if kind == "binary" else np.ascontiguousarray(wq)
        bound = fold.acc_bound(wq, kind, max_code)
        oh, ow = (hh + 2 * ph - kh) // sh + 1, (ww + 2 * pw - kw) // sw + 1

        def make(stage, packed=packed, kind=kind):
            return Conv2d(packed, cc, out_ch, (kh, kw), (sh, sw), (ph, ph, pw, pw), stage, weight_kind=kind, groups=g)

        return Affine(self.label(node), base, make, v.name, a, b, bound, (oh, ow, out_ch), False)

    def op_base(self, node) -> str:
        """Op name of a node: a module's qualified name (a Sequential child i: dense<i> / conv<i> /
        pool<i> / flatten<i>, as binedge always named them), else the fx node's name."""
        if node.op != "call_module":
            return node.name
        name = str(node.target)
        if not name.replace(".", "").isdigit():
            return name
        m = self.model.get_submodule(name)
        prefix = ("dense" if isinstance(m, BinaryLinear) else "conv" if isinstance(m, BinaryConv2d) else
                  "pool" if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)) else
                  "flatten" if isinstance(m, nn.Flatten) else type(m).__name__.lower())
        return f"{prefix}{name}"

    # -- checks of leaf modules

    def check_layer(self, m, where: str) -> None:
        kq = m.kernel_quantizer
        if kq is not None:
            binary_ok = getattr(kq, "binary", True) and type(kq).quantize is KernelQuantizer.quantize
            int8_ok = isinstance(kq, Int8Weights) and type(kq).quantize is Int8Weights.quantize \
                and type(kq).codes is Int8Weights.codes
            if not (binary_ok or int8_ok):
                raise LoweringError(f"{where}: kernel quantizer {type(kq).__name__} overrides quantize(); lowering "
                                    "deploys alpha * sign(w) or binedge's int8 weights and cannot prove another "
                                    "function equal to them")
        weight = m.weight
        if weight.shape[0] < 1 or weight[0].numel() < 1:
            raise LoweringError(f"{where}: a layer with no outputs or no inputs (shape {tuple(weight.shape)}) "
                                "does not lower: give every layer at least one input and one output channel / "
                                "feature (a classifier at least one class)")
        if isinstance(m.input_quantizer, RealActivation):
            raise LoweringError(f"{where}: its input activation is {m.input_quantizer!r}; only hard-threshold "
                                "activations (sign, rsign, step, qrelu2, qrelu3) lower to integers — train with one "
                                "of them")

    def check_quantizer(self, q: QuantInt8, where: str) -> None:
        if not bool(q.calibrated):
            raise LoweringError(f"{where}: this QuantInt8 was never calibrated (it has seen no data in training "
                                "mode); train the model, or run it in training mode on some data, or give the "
                                "quantizer a fixed scale")
        s = float(q.scale)
        if not (np.isfinite(s) and s > 0) or not -128 <= int(q.zero_point) <= 127:
            raise LoweringError(f"{where}: scale {s} / zero point {int(q.zero_point)} are not a valid int8 encoding")

    # -- the other ops

    def batchnorm(self, v, bn, node, torch_in: torch.Size):
        where = self.where(node)
        if not bn.track_running_stats or bn.running_mean is None or bn.running_var is None:
            raise LoweringError(f"{where}: BatchNorm without running statistics (track_running_stats=False) "
                                "normalises every batch by its own statistics, which no fixed integer threshold "
                                "reproduces; train with track_running_stats=True")
        if _pair_sum(v):
            v = _as_real_sum(v)
        if not isinstance(v, (Affine, RealSum)):
            raise LoweringError(f"{where}: BatchNorm folds into the output stage of the weight layer (or the Merge of "
                                f"the sum) before it, but it reads {_kind(v)}; put it right after a BinaryLinear / "
                                "BinaryConv2d or a sum")
        if v.perm is not None:
            raise LoweringError(f"{where}: BatchNorm after flattening a feature map normalises every (c, h, w) "
                                "position by itself, which no per-channel output stage holds; normalise before the "
                                "flatten (BatchNorm2d)")
        channels = v.a.shape[0] if isinstance(v, Affine) else len(v.const)
        if bn.num_features != channels:
            raise LoweringError(f"{where}: normalises {bn.num_features} features but the "
                                f"{'layer' if isinstance(v, Affine) else 'sum'} before it has {channels}")
        if isinstance(bn, nn.BatchNorm2d) != (len(torch_in) == 4) or len(torch_in) not in (2, 4):
            raise LoweringError(f"{where}: BatchNorm2d needs an (N, C, H, W) input and BatchNorm1d an (N, C) one")
        s, t = fold.bn_affine(bn)
        if v.pooled and np.any(s <= 0):
            raise LoweringError(f"{where}: BatchNorm with a non-positive scale after max-pooling cannot be folded "
                                "exactly; put BatchNorm before the pooling layer")
        if isinstance(v, RealSum):
            return replace(v, terms=tuple((x, k * s) for x, k in v.terms), const=v.const * s + t)
        return replace(v, a=v.a * s, b=v.b * s + t)

    def scale(self, v, c: float):
        if isinstance(v, (Affine, RealSum)) and v.pooled and c < 0:
            self.fail("a negative factor after max-pooling cannot be folded exactly (max and a negative "
                      "factor do not commute); apply it before the pooling")
        if isinstance(v, Affine):
            return replace(v, a=v.a * c, b=v.b * c)
        if isinstance(v, RealSum):
            return replace(v, terms=tuple((x, k * c) for x, k in v.terms), const=v.const * c)
        if isinstance(v, Codes):
            return CodeSum(self.label(), self.node.name, ((v, float(c)),), v.spec.shape, perm=v.perm)
        if isinstance(v, CodeSum):  # (only Flatten waits behind a CodeSum: it commutes with a factor)
            return _simplify(replace(v, terms=tuple((x, k * c) for x, k in v.terms)))
        self.fail(f"multiplying {_kind(v)} by a constant does not lower; scale the real value before it is "
                  "quantized")

    def offset(self, v, c: float):
        if isinstance(v, Affine):
            return replace(v, b=v.b + c)
        if _pair_sum(v):
            v = _as_real_sum(v)
        if isinstance(v, RealSum):
            return replace(v, const=v.const + c)
        self.fail(f"adding a constant to {_kind(v)} does not lower (only a weight layer's real output or a sum of "
                  "two branches takes a constant offset, folded into its output stage or Merge)")

    def add(self, x, y, cx: float, cy: float):
        """cx·x + cy·y: of codes only, a CodeSum (an Add or Requantize once quantized); with a
        weight layer's real output (or a RealSum) in it, a RealSum of at most two integer sources."""
        for v in (x, y):
            if isinstance(v, Bits):
                self.fail(f"adds {_kind(v)}: bits have no real-valued integer form to add; add the real values "
                          "before the activation (the sum then ends in the activation), or quantize both operands "
                          "with binedge.nn.QuantInt8")
            if isinstance(v, Cat):
                self.fail(f"adds {_kind(v)}: give the concatenation one type first (a QuantInt8 after it)")
            if isinstance(v, CodeSum) and (v.pool is not None or v.after):
                self.fail(f"adds {_kind(v)}: quantize it first (a binedge.nn.QuantInt8 after the "
                          f"{'pooling' if v.pool is not None else 'flatten'})")
        if isinstance(x, (Affine, RealSum)) or isinstance(y, (Affine, RealSum)):
            return self._real_add(x, y, cx, cy)
        terms: dict = {}
        for v, c in ((x, cx), (y, cy)):
            for code, k in (((v, 1.0),) if isinstance(v, Codes) else v.terms):
                prev = terms.get(code.name)
                terms[code.name] = (code, (prev[1] if prev else 0.0) + k * c)
        parts = tuple((c, k) for c, k in terms.values() if k != 0)
        if not parts:
            self.fail("the sum is identically zero (its terms cancel); remove it")
        self._check_operands([c for c, _ in parts])
        if len(parts) > 2:
            self.fail(f"sums {len(parts)} int8 values before one quantizer; the graph's Add takes two: put a "
                      "QuantInt8 after each pairwise sum")
        return _simplify(CodeSum(self.label(), self.node.name, parts, parts[0][0].spec.shape, perm=parts[0][0].perm))

    def _check_operands(self, sources: list) -> None:
        shapes = {_shape(v) for v in sources}
        if len(shapes) != 1:
            self.fail(f"adds values of shapes {sorted(shapes)}; the graph adds values of one shape only (no "
                      "broadcasting)")
        perms = [v.perm for v in sources]
        if any((p is None) != (perms[0] is None) or (p is not None and not np.array_equal(p, perms[0]))
               for p in perms):
            self.fail("adds flattened values whose element orders differ (one flattened from a map, one not)")

    def _real_terms(self, v, c: float) -> tuple[list, np.ndarray | float]:
        """(sources with their per-channel coefficients, constant) of c·v."""
        if isinstance(v, (Affine, RealSum)) and v.after:
            what = "max-pooling" if v.pooled else "flattening"
            self.fail(f"adds {_kind(v)} after {what}: a Merge adds a weight layer's accumulators themselves, "
                      f"before any pooling or flattening; add first, then pool / flatten the sum (or its "
                      "activation)")
        if isinstance(v, Affine):
            return [(v, v.a * c)], v.b * c
        if isinstance(v, RealSum):
            return [(x, k * c) for x, k in v.terms], v.const * c
        if isinstance(v, Codes):
            return [(v, np.full(v.spec.shape[-1], float(v.spec.scale) * c))], 0.0
        return [(x, np.full(x.spec.shape[-1], float(x.spec.scale) * k * c)) for x, k in v.terms], 0.0

    def _real_add(self, x, y, cx: float, cy: float):
        terms: dict = {}  # one entry per integer source: an accumulator (by weight op) or codes (by value)
        const = 0.0
        for v, c in ((x, cx), (y, cy)):
            parts, k0 = self._real_terms(v, c)
            const = const + k0
            for src, coef in parts:
                key = ("acc", id(src.make)) if isinstance(src, Affine) else ("codes", src.name)
                prev = terms.get(key)
                terms[key] = (src, coef if prev is None else prev[1] + coef)
        parts = [(src, coef) for src, coef in terms.values() if np.any(coef != 0)]
        if not parts:
            self.fail("the sum does not depend on the input (its terms cancel); remove it")
        self._check_operands([src for src, _ in parts])
        if len(parts) > 2:
            names = ", ".join(_kind(src) for src, _ in parts)
            self.fail(f"sums {len(parts)} real-valued terms ({names}); the graph's Merge adds two: end each "
                      "pairwise sum in a hard-threshold activation or a binedge.nn.QuantInt8 before adding the next")
        shape = _shape(parts[0][0])
        const = np.zeros(shape[-1]) + const
        if len(parts) == 1 and isinstance(parts[0][0], Affine):  # e.g. h + 0.5·h: one accumulator
            return replace(parts[0][0], a=parts[0][1], b=const)
        return RealSum(self.label(), self.node.name, tuple(parts), const, shape, perm=parts[0][0].perm)

    def maxpool(self, v, k, st, padding, dilation, ceil_mode, return_indices):
        if _pair(padding) != (0, 0) or _pair(dilation) != (1, 1) or ceil_mode:
            self.fail("only max-pooling without padding, dilation or ceil_mode lowers")
        if return_indices:
            self.fail("MaxPool2d(return_indices=True) does not lower")
        k, st = _pair(k), _pair(st if st is not None else k)
        shape = v.shape if isinstance(v, (Affine, RealSum)) else v.spec.shape if isinstance(v, (Codes, Bits)) else None
        if isinstance(v, Cat) and not v.after:
            return self.concat_or_cat([self.maxpool(p, k, st, 0, 1, False, False) for p in v.parts], v.flat)
        if shape is None or len(shape) != 3:
            self.fail(f"max-pooling needs an (H, W, C) map of codes, bits or a weight layer's output, not {_kind(v)}")
        if k[0] > shape[0] or k[1] > shape[1] or min(k + st) < 1:
            self.fail(f"its {k[0]}x{k[1]} window does not fit the {shape[0]}x{shape[1]} map (too many down-sampling "
                      "layers for this input size)")
        op = MaxPool2d(k, st)
        if isinstance(v, (Affine, RealSum)):  # waits behind the stage: thresholds and rounding are non-decreasing
            return replace(v, after=v.after + ((op, self.op_base(self.node)),), shape=_after_shape(v.shape, op),
                           pooled=True)
        name, spec = self.emit(op, (v.name,), self.op_base(self.node))
        return replace(v, name=name, spec=spec)

    def avgpool(self, v, k, st):
        """Average over windows k with stride st (k = the whole map: global average pooling)."""
        if not isinstance(v, Codes) or len(v.spec.shape) != 3:
            self.fail(f"average pooling reads {_kind(v)}; the graph averages int8 / uint8 maps only: put a "
                      "binedge.nn.QuantInt8 before the pooling (and one after it)")
        h, w, _ = v.spec.shape
        k, st = _pair(k), _pair(st if st is not None else k)
        if k[0] > h or k[1] > w or min(k + st) < 1:
            self.fail(f"its {k[0]}x{k[1]} window does not fit the {h}x{w} map")
        out = ((h - k[0]) // st[0] + 1, (w - k[1]) // st[1] + 1, v.spec.shape[2])
        return CodeSum(self.label(), self.op_base(self.node), ((v, 1.0),), out, pool=(k, st))

    def flatten(self, v, base: str | None = None):
        """Flatten a value to (N, features) in PyTorch's (C, H, W) order (op named ``base``, default
        the node's)."""
        shape = _shape(v)
        if len(shape) == 1:
            return v
        perm = _flat_perm(tuple(shape))
        op, base = Flatten(), base or self.op_base(self.node)
        if isinstance(v, Cat):  # waits with the concatenation for the quantizer that gives it one type
            return replace(v, after=v.after + ((op, base),), perm=perm)
        if isinstance(v, (Affine, CodeSum, RealSum)):  # the flatten waits behind the op the consumer will choose
            new_shape = (int(np.prod(shape)),)
            return replace(v, after=v.after + ((op, base),), shape=new_shape, perm=perm)
        name, spec = self.emit(op, (v.name,), base)
        return replace(v, name=name, spec=spec, perm=perm)

    def reshape(self, v, before: torch.Size, after: torch.Size):
        """view / reshape / flatten from PyTorch shape ``before`` to ``after`` (batch axis first)."""
        if tuple(after[:1]) != tuple(before[:1]):
            self.fail(f"reshapes {tuple(before)} to {tuple(after)}, mixing the batch axis with the others; keep "
                      "dimension 0 (e.g. x.flatten(1) or x.view(x.size(0), -1))")
        if tuple(after) == tuple(before):
            return v
        if len(after) == 2 and len(before) == 4:
            return self.flatten(v)
        if len(after) == 4 and len(before) == 2 and isinstance(v, Codes):
            _, c, h, w = (int(d) for d in after)
            have = _perm_or_identity(v.perm, c * h * w)
            want = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
            if np.array_equal(have, want):
                name, spec = self.emit(Reshape((h, w, c)), (v.name,), self.node.name)
                return Codes(name, spec, raw=v.raw)
            self.fail(f"reshapes {tuple(before)} to {tuple(after)}: PyTorch reads the features in (C, H, W) order, the "
                      "graph stores maps in (H, W, C) order, and for this value the two differ; reshape to (N, 1, H, "
                      "W) / (N, C, 1, 1), or keep the map unflattened")
        self.fail(f"reshapes {tuple(before)} to {tuple(after)}; binedge lowers reshapes between (N, C, H, W) maps and "
                  "(N, features) vectors only, of codes (bits and real-valued outputs: flattening only)")

    def concat_or_cat(self, parts: list, flat: bool):
        first = parts[0]
        if all(isinstance(p, Codes) for p in parts) and all(p.spec.same_type(first.spec) for p in parts):
            return self.concat(parts, flat, self.node.name)
        if all(isinstance(p, Bits) for p in parts) and all(
                p.spec.same_type(first.spec) and p.real_scale == first.real_scale and p.max_level == first.max_level
            for p in parts):
            return self.concat(parts, flat, self.node.name)
        if any(isinstance(p, CodeSum) for p in parts):
            self.fail("concatenating a real-valued sum or average does not lower; put a QuantInt8 before the "
                      "concatenation")
        return Cat(self.label(), self.node.name, tuple(parts), flat)

    def finish_cat(self, v: Cat, parts: list):
        """Concat of a Cat's parts once a quantizer or activation gave them one type, then its queued ops."""
        out = self.concat(parts, v.flat, v.base)
        if not v.after:
            return out
        name, spec = self.emit_after(out.name, out.spec, v.after)
        return replace(out, name=name, spec=spec, perm=v.perm)

    def concat(self, parts: list, flat: bool, base: str):
        """Concat op(s) of same-type Codes or Bits (at most 16 inputs per op: chained)."""
        perm = None
        if flat:
            pieces, off = [], 0
            for p in parts:
                n = p.spec.shape[0]
                pieces.append(_perm_or_identity(p.perm, n) + off)
                off += n
            perm = _norm_perm(np.concatenate(pieces))
        names = [p.name for p in parts]
        while len(names) > 1:
            group, names = names[:16], names[16:]
            name, spec = self.emit(Concat(), tuple(group), base)
            names = [name] + names
        out = replace(parts[0], name=name, spec=spec, perm=perm)
        return replace(out, raw=False) if isinstance(out, Codes) else out

    def cat(self, values: list, dim: int, ranks: set):
        if len(ranks) != 1:
            self.fail("concatenates tensors of different ranks")
        rank = ranks.pop()
        dim = dim + rank if dim < 0 else dim
        if dim != 1 or rank not in (2, 4):
            self.fail(f"concatenates along dimension {dim} of {rank}-dimensional tensors; binedge lowers "
                      "concatenation along the channels (dim 1 of (N, C, H, W)) or the features (dim 1 of (N, F))")
        if len(values) == 1:
            return values[0]
        return self.concat_or_cat(list(values), rank == 2)

    def scores(self, v):
        if not isinstance(v, Affine) or not v.dense or v.after:
            self.fail("the model returns this value, but it must end with a BinaryLinear (+ BatchNorm) producing the "
                      f"scores; this is {_kind(v) if isinstance(v, VALUE_TYPES) else type(v).__name__}"
                      + (" after pooling / flattening" if isinstance(v, Affine) and v.after else ""))
        try:
            stage = fold.scores(v.a, v.b, v.bound)
        except fold.FoldError as e:
            self.fail(str(e))
        self.emit(v.make(stage), (v.input_name,), v.base)
