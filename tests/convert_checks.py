"""Helpers for tests of binedge.convert: calibrating models, checking a graph against PyTorch
(prediction agreement and every intermediate code / bit), and random models.

    from convert_checks import calibrate, check_model, random_model
    graph, rep = check_model(model, example, inputs, input_spec=spec)

The intermediate check compares the graph value every QuantInt8 / activation node became with
the module's output in a float64 copy of the model (exact arithmetic for these purposes): the
graph's codes must equal round_half_up(x64 / s) + zp clamped, its bits the float64 activation.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import torch
from torch import nn

from binedge import reference
from binedge.agreement import agreement, torch_input
from binedge.converter import convert_with_values
from binedge.nn import BinaryConv2d, BinaryLinear, QuantInt8, ThresholdActivation

CHANNELS = (1, 3, 4, 7, 31, 33, 65)


def calibrate(model: nn.Module, example: torch.Tensor, *, batches: int = 3, seed: int = 0) -> nn.Module:
    """Run ``model`` in training mode on random inputs shaped like ``example`` (QuantInt8 and
    BatchNorm statistics), give BatchNorm random affine parameters, then return it in eval mode."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            n = m.num_features
            m.weight.data.copy_(torch.rand(n, generator=g) * 1.5 + 0.25)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.3)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            x = torch.rand((32,) + tuple(example.shape[1:]), generator=g)
            model(x if example.dim() == 4 else x * 2 - 1)
    return model.eval()


def _torch_calls(model: nn.Module, x64: torch.Tensor) -> dict:
    """For every QuantInt8 / ThresholdActivation module, its integer outputs per call, in call order
    (NCHW / (N, F)): codes, ±1, or levels."""
    calls = defaultdict(list)

    def hook(name):
        def f(mod, args, out):
            if isinstance(mod, QuantInt8):
                calls[name].append(mod.codes(args[0]).to(torch.int64))
            elif mod.encoding == "sign":
                calls[name].append(out.to(torch.int64))
            else:
                calls[name].append(torch.round(out / mod.level_scale).to(torch.int64))
        return f

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (QuantInt8, ThresholdActivation))]
    try:
        with torch.no_grad():
            model(x64)
    finally:
        for h in handles:
            h.remove()
    return calls


def check_values(model: nn.Module, graph, values, inputs: np.ndarray) -> int:
    """Compare every graph value a QuantInt8 / activation node became with the float64 model's
    output of that call; returns how many values were compared (asserts they are equal)."""
    shadow = copy.deepcopy(model).double().eval()
    calls = _torch_calls(shadow, torch_input(graph.input, inputs, torch.float64))
    seen = defaultdict(int)
    specs = graph.value_specs()
    stored = reference.run_values(graph, inputs)
    compared = 0
    modules = dict(model.named_modules())
    for node, target, vname, perm in values:
        if target not in modules or not isinstance(modules[target], (QuantInt8, ThresholdActivation)):
            continue
        k = seen[target]
        seen[target] += 1
        if vname is None:
            continue
        want = calls[target][k].numpy()
        if want.ndim == 4:
            want = want.transpose(0, 2, 3, 1)
        elif perm is not None:
            want = want[:, perm]
        got = reference.unpack_value(stored[vname], specs[vname])
        assert got.shape == want.shape, (node, got.shape, want.shape)
        bad = np.argwhere(got != want)
        assert len(bad) == 0, f"{node} -> {vname}: {len(bad)} of {got.size} differ, first at {bad[0]}: " \
                              f"graph {got[tuple(bad[0])]}, float64 PyTorch {want[tuple(bad[0])]}"
        compared += 1
    return compared


def check_model(model: nn.Module, example: torch.Tensor, inputs: np.ndarray, *, input_spec=None,
                min_values: int = 0, min_agreement: float = 0.98):
    """Convert, then require 0 disagreements without a tie, agreement >= ``min_agreement`` and (at
    least ``min_values`` compared) every intermediate value equal to float64 PyTorch's."""
    graph, values = convert_with_values(model, example, input_spec=input_spec)
    rep = agreement(model, graph, inputs)
    assert rep["disagree_without_tie"] == 0, rep
    assert rep["agreement"] >= min_agreement, rep
    assert check_values(model, graph, values, inputs) >= min_values
    return graph, rep


def image_inputs(rng: np.random.Generator, n: int, h: int, w: int, c: int) -> np.ndarray:
    """Random uint8 images with some smooth structure (a random ramp plus noise, 10 % saturated)."""
    ramp = rng.uniform(0, 255, size=(n, 1, 1, 1)) * np.linspace(0, 1, w)[None, None, :, None]
    x = ramp + rng.normal(0, 60, size=(n, h, w, c))
    x[rng.random(x.shape) < 0.05] = 0
    x[rng.random(x.shape) < 0.05] = 255
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- random models


class RandomNet(nn.Module):
    """A random stack of blocks over int8 values (see :func:`random_model`): ``steps`` is a list of
    (kind, modules) the forward interprets."""

    def __init__(self, stem: nn.Module, steps: list, head: nn.Module, head_kind: str):
        super().__init__()
        self.stem = stem
        self.blocks = nn.ModuleList([mods for _, mods in steps])
        self.kinds = [k for k, _ in steps]
        self.head = head
        self.head_kind = head_kind

    def forward(self, x):
        x = self.stem(x)
        for kind, b in zip(self.kinds, self.blocks):
            if kind == "res_binary":  # x + Q(BN(binary conv(sign(x)))), quantized
                x = b["out"](x + b["q"](b["bn"](b["conv"](x))))
            elif kind == "res_int8":  # x + Q(int8 conv(x)): scales differ, zero points too
                x = b["out"](x + b["q"](b["conv"](x)))
            elif kind == "conv":  # Q(BN(int8 conv(x))), maybe grouped / depthwise / strided
                x = b["q"](b["bn"](b["conv"](x)))
            elif kind == "avg":  # Q(avg pool 2x2)
                x = b["q"](torch.nn.functional.avg_pool2d(x, 2))
            elif kind == "max":  # max pool on int8 codes
                x = torch.nn.functional.max_pool2d(x, 2)
            elif kind == "bin_pool":  # Q(max pool(BN(binary conv(sign(x))))): pooling waits behind the stage
                x = b["q"](torch.nn.functional.max_pool2d(b["bn"](b["conv"](x)), 2))
            elif kind == "cat":  # Q(cat(x, Q(int8 conv(x)))): Requantize each part, then Concat
                x = b["out"](torch.cat([x, b["q"](b["conv"](x))], dim=1))
        return self.head(x)


class _Head(nn.Module):
    def __init__(self, kind: str, c: int, h: int, w: int, classes: int, rng):
        super().__init__()
        self.kind = kind
        if kind == "gap":  # global average pooling -> Q -> int8 Dense
            self.q = QuantInt8()
            self.fc = BinaryLinear(c, classes, kernel_quantizer="int8")
        else:  # flatten -> binary Dense on sign -> BN -> binary Dense on sign -> scores
            hidden = int(rng.choice([5, 33]))
            self.fc1 = BinaryLinear(c * h * w, hidden, bias=False, kernel_quantizer="lab", input_quantizer="sign")
            self.bn = nn.BatchNorm1d(hidden)
            self.fc = BinaryLinear(hidden, classes, kernel_quantizer="bwn", input_quantizer="sign")

    def forward(self, x):
        if self.kind == "gap":
            return self.fc(self.q(x.mean((2, 3))))
        return self.fc(self.bn(self.fc1(x.flatten(1))))


def random_model(seed: int):
    """(model, example input, input spec or None, inputs): a random residual int8 / binary network
    with awkward shapes (channels from CHANNELS, odd sizes, strides 2), calibrated, eval mode."""
    from binedge.graph import TensorSpec

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    features = bool(rng.random() < 0.3)
    h, w = int(rng.choice([5, 7, 9])), int(rng.choice([5, 7, 8]))
    shape_in = (int(rng.choice([1, 3])), h, w)
    c_in = shape_in[0]
    c = int(rng.choice(CHANNELS))
    k = int(rng.choice([1, 3]))
    stride = int(rng.choice([1, 2])) if min(h, w) >= 7 else 1
    stem = nn.Sequential(BinaryConv2d(c_in, c, k, stride=stride, padding=k // 2, kernel_quantizer="int8"),
                         nn.BatchNorm2d(c), QuantInt8(symmetric=bool(rng.random() < 0.3)))
    h, w = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
    steps = []
    for _ in range(int(rng.integers(2, 5))):
        kinds = ["res_binary", "res_int8", "conv", "cat"] + (["avg", "max", "bin_pool"] if min(h, w) >= 4 else [])
        kind = str(rng.choice(kinds))
        mods = nn.ModuleDict()
        if kind == "res_binary":
            mods["conv"] = BinaryConv2d(c, c, 3, padding=1, bias=False, kernel_quantizer="lab", input_quantizer="sign")
            mods["bn"], mods["q"], mods["out"] = nn.BatchNorm2d(c), QuantInt8(), QuantInt8()
        elif kind == "res_int8":
            mods["conv"] = BinaryConv2d(c, c, 3, padding=1, kernel_quantizer="int8")
            mods["q"], mods["out"] = QuantInt8(symmetric=True), QuantInt8()
        elif kind == "conv":
            groups = int(rng.choice([1, c] + ([3] if c % 3 == 0 else [])))
            c2 = c if groups > 1 else int(rng.choice(CHANNELS))
            s = int(rng.choice([1, 2])) if min(h, w) >= 5 else 1
            mods["conv"] = BinaryConv2d(c, c2, 3, stride=s, padding=1, groups=groups, kernel_quantizer="int8")
            mods["bn"], mods["q"] = nn.BatchNorm2d(c2), QuantInt8()
            c, h, w = c2, (h - 1) // s + 1, (w - 1) // s + 1
        elif kind in ("avg", "max"):
            mods["q"] = QuantInt8()
            h, w = h // 2, w // 2
        elif kind == "bin_pool":
            c2 = int(rng.choice(CHANNELS))
            mods["conv"] = BinaryConv2d(c, c2, 3, padding=1, bias=False, kernel_quantizer="bwn", input_quantizer="sign")
            mods["bn"], mods["q"] = nn.BatchNorm2d(c2), QuantInt8()
            c, h, w = c2, h // 2, w // 2
        else:  # cat
            c2 = int(rng.choice([1, 3, 7]))
            mods["conv"] = BinaryConv2d(c, c2, 1, kernel_quantizer="int8")
            mods["q"], mods["out"] = QuantInt8(), QuantInt8()
            c = c + c2
        steps.append((kind, mods))
    head_kind = str(rng.choice(["gap", "flat"]))
    model = RandomNet(stem, steps, _Head(head_kind, c, h, w, int(rng.choice([2, 10])), rng), head_kind)
    example = torch.zeros((1,) + shape_in)
    spec = None
    if features:  # int8 "images" with a zero point: the model sees scale·(q − zp)
        spec = TensorSpec("i8", (shape_in[1], shape_in[2], c_in), scale=float(rng.choice([0.01, 0.05])),
                          zero_point=int(rng.integers(-20, 20)))
    calibrate(model, example, seed=seed)
    if spec is None:
        inputs = image_inputs(rng, 48, shape_in[1], shape_in[2], c_in)
    else:
        inputs = rng.integers(-128, 128, size=(48, shape_in[1], shape_in[2], c_in)).astype(np.int8)
    return model, example, spec, inputs

