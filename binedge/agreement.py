"""Agreement of a PyTorch model (eval mode) with its integer graph (DESIGN.md §1: report the rate;
ties are the only allowed difference, and their count is reported).

The graph is exact in integers (up to its fixed-point multipliers, at most ~2^-31 of a value's
range: binedge.fold); PyTorch computes the same function in float32. They may decide a sample
differently only where float32 rounding decides it — a *tie*. To see where it does, the model is
run twice: in float32 (the predictions compared) and as a float64 copy, which stands for exact
arithmetic (its error is ~2^-29 times smaller than float32's). A sample is a tie when

* a hard-threshold unit (binedge.nn Sign / Step / QReLU) has a threshold t within
  |z32 − z64| + ``tie_tol``·max(1, |t|) of its float64 pre-activation z64 (t lies between the
  float32 and the exact value, or next to them);
* an int8 quantizer (binedge.nn.QuantInt8) has a rounding boundary k + 1/2 that the clamp to
  [-128, 127] does not hide within |v32 − v64| + ``tie_tol``·max(1, |v64|) of its float64 input in
  code units, v64 = x64 / s;
* the two largest float64 logits are closer than 2·max|l32 − l64| + ``tie_tol``·max(1, |l|) plus
  (in :func:`agreement`) the fixed-point error of the graph's two scores, (|acc|/2 + 1/2) / 2^shift
  each; or several classes share the graph's top integer score (both sides take the first
  maximum, but float32 may order equal logits either way).

A value exactly on a threshold or boundary in both runs is no tie: it is exact (a code at its zero
point, a zero accumulator), and both sides apply the same convention to it (sign(0) = +1,
step(0) = 0, halves round up).

Inputs are the graph's input codes (uint8 images (N, H, W[, C]), or uint8 / int8 features); the
model sees them as :func:`torch_input` makes them.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .graph import Graph, ScoreStage, TensorSpec
from .nn.activations import RSign, ThresholdActivation
from .nn.quant import CODE_MAX, CODE_MIN, QuantInt8

#: Relative slack added to every tie margin: float32's unit roundoff. It covers float64's own error
#: and the graph's fixed-point multipliers (at most 2^-31 of the value's linear part, binedge.fold).
TIE_TOL = 2.0**-24
BATCH = 250


def torch_input(spec: TensorSpec, codes: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """What the model sees for graph-input codes of ``spec``: scale·(q − zero_point) correctly
    rounded to ``dtype`` (uint8 images with scale 1/255: exactly binedge.data's x/255), images
    (N, H, W, C) permuted to NCHW, (N, H, W) given a channel axis; features (N, F) as they are."""
    x = np.asarray(codes)
    if len(spec.shape) == 3 and x.ndim == 3:
        x = x[..., None]
    centred = x.astype(np.float64) - float(spec.zero_point)
    inv = 1.0 / float(spec.scale)
    # q / 255 for images: one correctly rounded division, as binedge.data's float32 x / 255
    real = centred / inv if inv.is_integer() else centred * float(spec.scale)
    t = torch.from_numpy(real).to(dtype)
    return t.permute(0, 3, 1, 2).contiguous() if t.dim() == 4 else t


def _units(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, (ThresholdActivation, QuantInt8))]


def _position(m, x: torch.Tensor) -> torch.Tensor:
    """Where a unit stands on its decision scale: z for activations, x / s (code units) for quantizers."""
    x = x.double()
    if isinstance(m, RSign):  # it thresholds z − b_c
        x = x - m.shift.detach().double().view(1, -1, *([1] * (x.dim() - 2)))
    x = x.flatten(1)
    return x / float(m.scale) if isinstance(m, QuantInt8) else x


def _near(m, v64: torch.Tensor, v32: torch.Tensor, tol: float) -> torch.Tensor:
    """Per sample: does any unit lie within its float32 error (plus ``tol``) of a boundary?"""
    slack = (v32 - v64).abs_()
    if isinstance(m, QuantInt8):
        u = v64 - 0.5
        r = torch.round(u)  # the boundary r + 1/2 nearest to v64 lies between codes r + zp and r + zp + 1
        d = (u - r).abs_()
        hit = d <= slack.add_(v64.abs().clamp_(min=1.0).mul_(tol))
        code = r + int(m.zero_point)
        hit &= (code >= CODE_MIN) & (code + 1 <= CODE_MAX)  # both neighbours survive the clamp
        hit &= (d != 0) | (v32 != v64)  # exactly on the boundary in both runs: exact, no tie
        return hit.any(dim=1)
    hit = torch.zeros(v64.shape[0], dtype=torch.bool)
    for t in m.thresholds:
        d = (v64 - t).abs_()
        near = (d <= slack + tol * max(1.0, abs(t))) & ((d != 0) | (v32 != v64))
        hit |= near.any(dim=1)
    return hit


@torch.no_grad()
def _runs(model: nn.Module, inputs: np.ndarray, spec: TensorSpec, tol: float, batch_size: int):
    """(float32 logits, float64 logits, per-sample unit tie) of ``model`` on graph-input codes."""
    model.eval()
    shadow = copy.deepcopy(model).double().eval()
    units32, units64 = _units(model), _units(shadow)
    state: dict = {}

    def keep(m, args):
        state["v32"].append(_position(m, args[0]).float())

    def check(m, args):
        v32 = state["v32"][state["i"]].double()
        state["i"] += 1
        v64 = _position(m, args[0])
        if v32.shape == v64.shape:
            state["near"] |= _near(m, v64, v32, tol)
        else:  # pragma: no cover - both runs call the same units in the same order
            state["near"] |= True

    handles = [m.register_forward_pre_hook(keep) for m in units32]
    handles += [m.register_forward_pre_hook(check) for m in units64]
    l32, l64, near = [], [], []
    try:
        for i in range(0, len(inputs), batch_size):
            chunk = np.ascontiguousarray(inputs[i:i + batch_size])
            state.update(v32=[], i=0)
            l32.append(model(torch_input(spec, chunk)).double())
            state["near"] = torch.zeros(len(chunk), dtype=torch.bool)
            l64.append(shadow(torch_input(spec, chunk, torch.float64)))
            near.append(state["near"])
    finally:
        for h in handles:
            h.remove()
    if not l32:
        return np.zeros((0, 0)), np.zeros((0, 0)), np.zeros(0, bool)
    return torch.cat(l32).numpy(), torch.cat(l64).numpy(), torch.cat(near).numpy()


def _logit_ties(l32: np.ndarray, l64: np.ndarray, tol: float, score_err=None) -> np.ndarray:
    """Samples whose two largest float64 logits are closer than float32's error (and the graph's
    fixed-point score error ``score_err`` (N, C), if given) can account for."""
    if l64.shape[1] < 2:
        return np.zeros(len(l64), bool)
    order = np.argsort(-l64, axis=1, kind="stable")[:, :2]
    top = np.take_along_axis(l64, order, axis=1)
    gap = top[:, 0] - top[:, 1]
    slack = 2.0 * np.abs(l32 - l64).max(axis=1) + tol * np.maximum(1.0, np.abs(top[:, 0]))
    if score_err is not None:
        slack = slack + np.take_along_axis(score_err, order, axis=1).sum(axis=1)
    return gap <= slack


def torch_predictions(model: nn.Module, inputs: np.ndarray, spec: TensorSpec | None = None, *,
                      tie_tol: float = TIE_TOL, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch eval-mode (float32) predictions on graph-input codes ``inputs`` (``spec``: the graph
    input; default uint8 images seen as x/255) and, per sample, whether it is a tie (module
    docstring; without the graph's score error)."""
    if spec is None:
        spec = TensorSpec("u8", tuple(inputs.shape[1:]) if inputs.ndim == 4 else tuple(inputs.shape[1:]) + (1,),
                          scale=1.0 / 255.0)
    l32, l64, near = _runs(model, inputs, spec, tie_tol, batch_size)
    if not len(l32):
        return np.zeros(0, np.int64), np.zeros(0, bool)
    return l32.argmax(1), near | _logit_ties(l32, l64, tie_tol)


def score_error(graph: Graph, scores: np.ndarray) -> np.ndarray:
    """Per sample and class, the largest |score / 2^shift − exact logit| of the graph's fixed-point
    ScoreStage: (|acc|/2 + 1/2) / 2^shift, with acc recovered from the score ((score − o) / m)."""
    st = graph.ops[-1].output
    if not isinstance(st, ScoreStage):  # pragma: no cover - every valid graph ends with scores
        return np.zeros(scores.shape)
    m = st.multiplier.astype(np.float64)
    acc = np.where(m != 0, (scores - st.offset.astype(np.float64)) / np.where(m != 0, m, 1.0), 0.0)
    return (0.5 * np.abs(acc) + 0.5) / 2.0 ** int(st.shift)


def agreement(model: nn.Module, graph: Graph, inputs: np.ndarray, labels=None, *, tie_tol: float = TIE_TOL) -> dict:
    """Compare PyTorch eval-mode predictions with the reference executor's on ``inputs`` (graph
    input codes): samples, agree, agreement (rate), ties, disagree_with_tie, disagree_without_tie
    and, given ``labels``, both accuracies."""
    from . import reference

    codes = inputs
    if len(graph.input.shape) == 3 and codes.ndim == 3:
        codes = codes[..., None]
    scores = reference.run(graph, codes)
    ref_pred = scores.argmax(1)
    l32, l64, near = _runs(model, codes, graph.input, tie_tol, BATCH)
    t_pred = l32.argmax(1) if len(l32) else np.zeros(0, np.int64)
    if len(l32):
        near = near | _logit_ties(l32, l64, tie_tol, score_error(graph, scores.astype(np.float64)))
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
