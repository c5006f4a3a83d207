"""Lowering: a trained binedge model (eval mode) -> the integer deployment graph (DESIGN.md §2).

Every weight layer computes the exact integer accumulator ``acc`` of its encoded inputs and
binary (or int8) weights; everything real-valued that follows it up to the next activation —
the weight scale α, the input's real scale, the bias and BatchNorm — is one per-channel affine
map z = a·acc + b, folded into the next activation's thresholds:

    z >= t  <=>  acc >= ceil((t - b)/a)          if a > 0   (direction +1)
            <=>  -acc >= -floor((t - b)/a)       if a < 0   (direction -1, the comparison flips)
            <=>  always / never (b >= t)         if a == 0  (INT32_MIN / INT32_MAX)
    z >  t  <=>  acc >= floor((t - b)/a) + 1     if a > 0, and -acc >= 1 - ceil((t - b)/a) if a < 0.

The last layer's affine becomes fixed-point integer scores: score = round(a·2^S)·acc +
round(b·2^S) with the largest S (<= 24) for which every score fits int32.

Supported model layout (binedge.models builds only this): Flatten, BinaryLinear, BinaryConv2d
(binary weights; the first layer may also be full precision, lowered to int8 weights), BatchNorm
right after a weight layer, MaxPool2d, Dropout/Identity (ignored). A hard-threshold activation is
the input quantizer of the next weight layer. Anything else raises :class:`LoweringError`
naming the layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from . import bitformat as bf
from .graph import (Conv2d, Dense, Flatten, Graph, MaxPool2d, ScoreStage, TensorSpec,
                    ThresholdStage)
from .nn.activations import QReLU, Sign, Step, ThresholdActivation
from .nn.layers import BinaryConv2d, BinaryLinear
from .nn.quantizers import KernelQuantizer

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_SCORE_SHIFT = 24


class LoweringError(ValueError):
    """The model cannot be lowered to the integer graph; the message names the layer and why."""


@dataclass
class _Value:
    """What flows between layers during lowering: its encoding and real value per code."""

    kind: str  # "u8" | "sign" | "unsigned"
    shape: tuple  # logical (H, W, C) or (F,)
    scale: float  # real value = code * scale (sign: ±1 -> scale 1)
    max_code: int  # largest |code|, bounds |acc|
    torch_flatten_from: tuple | None = None  # (H, W, C) of a conv map flattened in torch's CHW order


@dataclass
class _Pending:
    """A weight layer whose output stage waits for the next activation."""

    name: str
    make: object  # callable(stage) -> op
    a: np.ndarray  # per-channel slope of z = a·acc + b
    b: np.ndarray
    acc_bound: np.ndarray  # per channel: the largest |acc| (graph.acc_bound)
    shape: tuple
    after: list = field(default_factory=list)  # pools / flattens to emit after the op
    pooled: bool = False


def _bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d):
    var = bn.running_var.detach().double().numpy()
    mean = bn.running_mean.detach().double().numpy()
    gamma = bn.weight.detach().double().numpy() if bn.affine else np.ones_like(var)
    beta = bn.bias.detach().double().numpy() if bn.affine else np.zeros_like(var)
    s = gamma / np.sqrt(var + bn.eps)
    return s, beta - mean * s


def _thresholds(a: np.ndarray, b: np.ndarray, act: ThresholdActivation, bound: np.ndarray) -> ThresholdStage:
    """``bound[c]`` must be at least the largest |acc| of channel c: a threshold beyond
    ±(bound + 1) behaves like ±infinity and is clamped there (an int32 always holds it)."""
    ts = np.asarray(act.thresholds, dtype=np.float64)
    c = a.shape[0]
    direction = np.ones(c, np.int8)
    out = np.zeros((c, ts.size), np.int64)
    lims = np.broadcast_to(np.asarray(bound, np.int64), (c,)) + 1
    for ch in range(c):
        lim = int(lims[ch])
        for k, t in enumerate(ts):
            if a[ch] == 0:
                hit = (b[ch] > t) if act.strict else (b[ch] >= t)
                out[ch, k] = INT32_MIN if hit else INT32_MAX
                continue
            tau = (t - b[ch]) / a[ch]
            if not math.isfinite(tau):
                raise LoweringError("a threshold is not finite (NaN or infinite BatchNorm statistics?)")
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


def _scores(a: np.ndarray, b: np.ndarray, bound: np.ndarray) -> ScoreStage:
    """Fixed-point scores round(a·2^S)·acc + round(b·2^S) with the largest S <= MAX_SCORE_SHIFT for
    which every score provably fits int32: |m_c|·bound_c + |o_c| <= 2^31 - 1, checked exactly on
    the rounded integers (bound_c = the largest |acc| of channel c)."""
    bound = np.broadcast_to(np.asarray(bound, np.int64), np.shape(a))
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise LoweringError("the output layer's scale or bias is not finite (NaN or infinite BatchNorm statistics?)")
    for shift in range(MAX_SCORE_SHIFT, -1, -1):
        mult = np.round(a * 2.0**shift)
        off = np.round(b * 2.0**shift)
        if mult.size and max(np.abs(mult).max(), np.abs(off).max()) > INT32_MAX:
            continue
        m64, o64 = mult.astype(np.int64), off.astype(np.int64)
        if mult.size == 0 or int((np.abs(m64) * bound + np.abs(o64)).max()) <= INT32_MAX:
            return ScoreStage(m64.astype(np.int32), o64.astype(np.int32), shift)
    raise LoweringError("the output layer's scores cannot be represented in int32 even without fraction bits "
                        "(its scale times the largest accumulator exceeds 2**31)")


def _binary_weight(layer) -> tuple[np.ndarray, float]:
    w = layer.weight.detach()
    return (w < 0).numpy().astype(np.uint8), layer.weight_scale()


def _int8_weight(layer) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 quantization of a full-precision first layer."""
    w = layer.weight.detach().double().numpy()
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    step = np.where(flat > 0, flat / 127.0, 1.0)
    q = np.clip(np.round(w / step.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, step


def _acc_bound(wq: np.ndarray, kind: str, max_code: int) -> np.ndarray:
    """Largest |acc| per output channel: max|x| · Σ_k |w_k| (binary weights: |w_k| = 1), the same
    bound binedge.graph.acc_bound proves on the finished graph."""
    flat = wq.reshape(wq.shape[0], -1)
    absw = np.abs(flat.astype(np.int64)).sum(axis=1) if kind == "int8" else np.full(flat.shape[0], flat.shape[1])
    return absw.astype(np.int64) * int(max_code)


def lower(model: nn.Module, input_shape, *, class_names=None, metadata=None) -> Graph:
    """Lower ``model`` (a binedge Sequential, eval mode) for uint8 inputs of shape (H, W, C).

    The model must expect the image as float x/255 in NCHW, as binedge.data's loader feeds it.
    Returns a validated :class:`~binedge.graph.Graph` whose integer scores stand for the
    model's logits (score / 2**shift).
    """
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise LoweringError(f"input_shape must be (H, W, C), got {input_shape!r}") from None
    if min(h, w, c) < 1:
        raise LoweringError(f"input_shape must be positive (H, W, C), got {(h, w, c)}")
    _check_no_global_hooks()
    if isinstance(model, nn.Sequential):
        _check_forward(model, "the model", nn.Sequential)
        modules = list(model.children())
    else:
        modules = [model]
    value = _Value("u8", (h, w, c), 1.0 / 255.0, 255)
    ops: list = []
    pending: _Pending | None = None
    for idx, m in enumerate(modules):
        where = f"layer {idx} ({type(m).__name__})"
        _check_module(m, where)
        if isinstance(m, (nn.Dropout, nn.Identity)):
            continue
        if isinstance(m, (BinaryLinear, BinaryConv2d)):
            act = m.input_quantizer
            if pending is not None:
                if not isinstance(act, ThresholdActivation):
                    raise LoweringError(
                        f"{where}: its input activation is {act!r}; only hard-threshold activations "
                        "(sign, step, qrelu2, qrelu3) lower to integers — train with one of them")
                value = _close(pending, act, ops, value)
                pending = None
            elif act is not None:
                raise LoweringError(f"{where}: the first layer sees the real image and takes no input quantizer")
            pending = _open(m, value, where, first=value.kind == "u8",
                            name=f"{'dense' if isinstance(m, BinaryLinear) else 'conv'}{idx}")
            continue
        if pending is None:
            if isinstance(m, (nn.Flatten,)):
                ops.append(Flatten(name=f"flatten{idx}"))
                value = _flattened(value)
                continue
            raise LoweringError(f"{where}: expected a binedge weight layer first")
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if m.num_features != pending.a.shape[0]:
                raise LoweringError(f"{where}: normalises {m.num_features} features but the layer before it has "
                                    f"{pending.a.shape[0]} outputs")
            s, t = _bn_affine(m)
            if pending.pooled and np.any(s <= 0):
                raise LoweringError(f"{where}: BatchNorm with a non-positive scale after max-pooling cannot be "
                                    "folded exactly; put BatchNorm before the pooling layer")
            pending.a, pending.b = pending.a * s, pending.b * s + t
        elif isinstance(m, nn.MaxPool2d):
            k = _pair(m.kernel_size)
            st = _pair(m.stride if m.stride is not None else m.kernel_size)
            if _pair(m.padding) != (0, 0) or _pair(m.dilation) != (1, 1) or m.ceil_mode:
                raise LoweringError(f"{where}: only max-pooling without padding, dilation or ceil_mode lowers")
            shape = _shape_after(pending)
            if len(shape) != 3:
                raise LoweringError(f"{where}: max-pooling needs an (H, W, C) map, not a flattened value")
            if k[0] > shape[0] or k[1] > shape[1] or min(k + st) < 1:
                raise LoweringError(f"{where}: its {k[0]}x{k[1]} window does not fit the {shape[0]}x{shape[1]} map "
                                    "(too many down-sampling layers for this input size)")
            pending.after.append(MaxPool2d(k, st, name=f"pool{idx}"))
            pending.pooled = True
        elif isinstance(m, nn.Flatten):
            pending.after.append(Flatten(name=f"flatten{idx}"))
        else:
            raise LoweringError(f"{where}: unsupported layer; binedge lowers BinaryLinear, BinaryConv2d, "
                                "BatchNorm, MaxPool2d and Flatten")
    if pending is None:
        raise LoweringError("the model has no weight layer")
    if pending.after:
        raise LoweringError("the model must end with a BinaryLinear (+ BatchNorm) producing the scores")
    ops.append(pending.make(_scores(pending.a, pending.b, pending.acc_bound)))
    graph = Graph(TensorSpec("u8", (h, w, c)), ops, list(class_names or []), dict(metadata or {}))
    graph.validate()
    return graph


# What each accepted module computes is its class's own forward: lowering reads the module's
# attributes (weights, thresholds, statistics) and rebuilds that computation in integers, so a
# subclass that overrides forward, or any forward hook, could compute something else entirely.
_FORWARDS = (
    (BinaryLinear, BinaryLinear.forward), (BinaryConv2d, BinaryConv2d.forward),
    (nn.BatchNorm1d, nn.BatchNorm1d.forward), (nn.BatchNorm2d, nn.BatchNorm2d.forward),
    (nn.MaxPool2d, nn.MaxPool2d.forward), (nn.Flatten, nn.Flatten.forward),
    (nn.Dropout, nn.Dropout.forward), (nn.Identity, nn.Identity.forward),
)
_HARD_FORWARDS = {Sign.hard_forward, Step.hard_forward, QReLU.hard_forward}


def _check_no_global_hooks() -> None:
    from torch.nn.modules import module as torch_module

    if getattr(torch_module, "_global_forward_hooks", None) or getattr(torch_module, "_global_forward_pre_hooks", None):
        raise LoweringError("global forward hooks are registered (torch.nn.modules.module."
                            "register_module_forward_hook): they may change what the model computes; remove them")


def _check_forward(m: nn.Module, where: str, cls) -> None:
    if type(m).forward is not cls.forward:
        raise LoweringError(f"{where}: {type(m).__name__} overrides forward() of {cls.__name__}; lowering rebuilds "
                            f"{cls.__name__}'s own computation and cannot prove a custom forward equal to it "
                            "(e.g. a skip connection inside forward); use the plain class")
    if m._forward_hooks or m._forward_pre_hooks:
        raise LoweringError(f"{where}: has forward hooks, which may change what it computes; remove them")


def _check_module(m: nn.Module, where: str) -> None:
    """Refuse a module whose computation lowering cannot prove equal to the integer ops."""
    for cls, _ in _FORWARDS:
        if isinstance(m, cls):
            _check_forward(m, where, cls)
            break
    else:
        return  # not a lowerable layer: the caller names it as unsupported
    if isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) != (1, -1):
        raise LoweringError(f"{where}: only Flatten(start_dim=1, end_dim=-1) lowers (it flattens a whole sample)")
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if not m.track_running_stats or m.running_mean is None or m.running_var is None:
            raise LoweringError(f"{where}: BatchNorm without running statistics (track_running_stats=False) "
                                "normalises every batch by its own statistics, which no fixed integer threshold "
                                "reproduces; train with track_running_stats=True")
    if isinstance(m, nn.MaxPool2d) and m.return_indices:
        raise LoweringError(f"{where}: MaxPool2d(return_indices=True) does not lower")
    if isinstance(m, (BinaryLinear, BinaryConv2d)):
        kq, act = m.kernel_quantizer, m.input_quantizer
        if kq is not None and type(kq).quantize is not KernelQuantizer.quantize:
            raise LoweringError(f"{where}: kernel quantizer {type(kq).__name__} overrides quantize(); lowering "
                                "deploys alpha * sign(w) and cannot prove another function equal to it")
        if isinstance(act, ThresholdActivation):
            _check_forward(act, f"{where}, input quantizer", ThresholdActivation)
            if type(act).hard_forward not in _HARD_FORWARDS:
                raise LoweringError(f"{where}: input quantizer {type(act).__name__} defines its own hard_forward(); "
                                    "only sign, step and qrelu lower to integer thresholds")
            if isinstance(act, QReLU) and tuple(act.thresholds) != tuple((k - 1) / (act.n - 1)
                                                                         for k in range(1, act.n + 1)):
                raise LoweringError(f"{where}: qrelu thresholds were changed; they must match its n={act.n}")
        weight = m.weight
        if weight.shape[0] < 1 or weight[0].numel() < 1:
            raise LoweringError(f"{where}: a layer with no outputs or no inputs (shape {tuple(weight.shape)}) "
                                "does not lower")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _flattened(value: _Value) -> _Value:
    src = value.shape if len(value.shape) == 3 else None
    return _Value(value.kind, (int(np.prod(value.shape)),), value.scale, value.max_code, src)


def _shape_after(p: _Pending) -> tuple:
    """Shape of a pending layer's output after the pools / flattens queued behind it."""
    shape = p.shape
    for op in p.after:
        if isinstance(op, MaxPool2d):
            shape = ((shape[0] - op.kernel[0]) // op.stride[0] + 1, (shape[1] - op.kernel[1]) // op.stride[1] + 1,
                     shape[2])
        else:
            shape = (int(np.prod(shape)),)
    return shape


def _close(p: _Pending, act: ThresholdActivation, ops: list, value: _Value) -> _Value:
    """Emit the pending layer with the activation's thresholds, then its pools / flattens."""
    ops.append(p.make(_thresholds(p.a, p.b, act, p.acc_bound)))
    levels = len(act.thresholds)
    if act.encoding == "sign":
        new = _Value("sign", p.shape, 1.0, 1)
    else:
        new = _Value("unsigned", p.shape, float(act.level_scale), levels)
    for op in p.after:
        ops.append(op)
        if isinstance(op, MaxPool2d):
            hh, ww, cc = new.shape
            new.shape = ((hh - op.kernel[0]) // op.stride[0] + 1, (ww - op.kernel[1]) // op.stride[1] + 1, cc)
        else:
            new = _flattened(new)
    return new


def _open(m, value: _Value, where: str, first: bool, name: str) -> _Pending:
    """Start a weight layer: pack its weights and set its affine z = a·acc + b."""
    if m.kernel_quantizer is None and not (first and value.kind == "u8"):
        raise LoweringError(f"{where}: full-precision weights lower only in the first layer (as int8); "
                            "train with --weights lab, bwn or binaryconnect")
    out_ch = m.weight.shape[0]
    bias = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(out_ch)
    if m.kernel_quantizer is None:
        wq, step = _int8_weight(m)
        a, kind = step * value.scale, "int8"
    else:
        wq, alpha = _binary_weight(m)
        a, kind = np.full(out_ch, alpha * value.scale), "binary"
    if isinstance(m, BinaryLinear):
        if len(value.shape) != 1:
            raise LoweringError(f"{where}: a linear layer needs a flattened input (add Flatten)")
        k = value.shape[0]
        if m.in_features != k:
            raise LoweringError(f"{where}: expects {m.in_features} inputs, the graph provides {k}")
        if value.torch_flatten_from is not None:  # torch flattened (C, H, W); the graph flattens (H, W, C)
            hh, ww, cc = value.torch_flatten_from
            wq = wq.reshape(out_ch, cc, hh, ww).transpose(0, 2, 3, 1).reshape(out_ch, k)
        packed = bf.pack_bits(wq) if kind == "binary" else np.ascontiguousarray(wq)
        bound = _acc_bound(wq, kind, value.max_code)

        def make(stage, packed=packed, k=k, kind=kind, name=name):
            return Dense(packed, k, out_ch, stage, weight_kind=kind, name=name)

        return _Pending(where, make, a, bias, bound, (out_ch,))
    if len(value.shape) != 3:
        raise LoweringError(f"{where}: a convolution needs an (H, W, C) input")
    hh, ww, cc = value.shape
    if m.in_channels != cc or m.groups != 1 or _pair(m.dilation) != (1, 1):
        raise LoweringError(f"{where}: needs groups=1, dilation=1 and {cc} input channels")
    kh, kw = _pair(m.kernel_size)
    sh, sw = _pair(m.stride)
    ph, pw = _pair(m.padding)
    if hh + 2 * ph < kh or ww + 2 * pw < kw:
        raise LoweringError(f"{where}: its {kh}x{kw} kernel is larger than its (padded) {hh + 2 * ph}x{ww + 2 * pw} "
                            "input; the model needs a larger input or fewer down-sampling layers before it")
    if ph >= kh or pw >= kw:
        raise LoweringError(f"{where}: padding ({ph}, {pw}) must be smaller than the kernel ({kh}, {kw}) "
                            "(docs/format.md §7)")
    wq = wq.transpose(0, 2, 3, 1)  # (O, C, KH, KW) -> (O, KH, KW, C)
    packed = bf.pack_bits(wq) if kind == "binary" else np.ascontiguousarray(wq)
    bound = _acc_bound(wq, kind, value.max_code)
    oh, ow = (hh + 2 * ph - kh) // sh + 1, (ww + 2 * pw - kw) // sw + 1

    def make(stage, packed=packed, kind=kind, name=name):
        return Conv2d(packed, cc, out_ch, (kh, kw), (sh, sw), (ph, ph, pw, pw), stage, weight_kind=kind, name=name)

    return _Pending(where, make, a, bias, bound, (oh, ow, out_ch))


# ---------------------------------------------------------------- agreement with PyTorch


@torch.no_grad()
def torch_predictions(model: nn.Module, images_u8: np.ndarray, *, tie_tol: float = 1e-5,
                      batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch eval-mode predictions and, per sample, whether it is a tie: a hard-threshold unit's
    pre-activation lay within ``tie_tol`` (relative) of a threshold, or the two largest logits lie
    within ``tie_tol`` (relative) of each other. Float32 rounding in PyTorch may legitimately
    decide such a sample either way, unlike the exact integer graph."""
    model.eval()
    near = np.zeros(len(images_u8), dtype=bool)
    state = {"near": None}

    def hook(mod, inputs):
        z = inputs[0].double().flatten(1)
        hit = torch.zeros(z.shape[0], dtype=torch.bool)
        for t in mod.thresholds:
            hit |= ((z - t).abs() <= tie_tol * max(1.0, abs(t))).any(dim=1)
        state["near"] |= hit

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ThresholdActivation)]
    preds = []
    try:
        for i in range(0, len(images_u8), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images_u8[i:i + batch_size])).float().div(255.0)
            if x.dim() == 3:
                x = x.unsqueeze(1)
            else:
                x = x.permute(0, 3, 1, 2)
            state["near"] = torch.zeros(x.shape[0], dtype=torch.bool)
            logits = model(x).double()
            if logits.shape[1] > 1:
                top2 = logits.topk(2, dim=1).values
                state["near"] |= (top2[:, 0] - top2[:, 1]) <= tie_tol * top2[:, 0].abs().clamp(min=1.0)
            preds.append(logits.argmax(1).numpy())
            near[i:i + x.shape[0]] = state["near"].numpy()
    finally:
        for h in handles:
            h.remove()
    return np.concatenate(preds), near


def agreement(model: nn.Module, graph: Graph, images_u8: np.ndarray, labels=None) -> dict:
    """Compare PyTorch eval-mode predictions with the reference executor's on ``images_u8``.

    ``ties`` counts the samples either side may legitimately decide differently: a unit at a
    threshold or nearly equal top logits in PyTorch (:func:`torch_predictions`), or several
    classes sharing the reference's top integer score (both pick the first, but PyTorch's float
    rounding may order equal logits either way)."""
    from . import reference

    scores = reference.run(graph, images_u8 if images_u8.ndim == 4 else images_u8[..., None])
    ref_pred = scores.argmax(1)
    t_pred, near = torch_predictions(model, images_u8)
    near = near | ((scores == scores.max(axis=1, keepdims=True)).sum(axis=1) > 1)
    differ = ref_pred != t_pred
    out = {"samples": int(len(ref_pred)), "agree": int((~differ).sum()),
           "agreement": float((~differ).mean()) if len(ref_pred) else 1.0,
           "ties": int(near.sum()), "disagree_with_tie": int((differ & near).sum()),
           "disagree_without_tie": int((differ & ~near).sum())}
    if labels is not None:
        out["reference_accuracy"] = float((ref_pred == labels).mean())
        out["torch_accuracy"] = float((t_pred == labels).mean())
    return out
