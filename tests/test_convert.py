"""binedge.convert: torch.fx lowering of hand-written and random modules against PyTorch.

Every model here is checked three ways: PyTorch (float32, eval) and the reference executor agree
on predictions with 0 disagreements outside ties (binedge.agreement); every int8 code and bit the
graph holds for a QuantInt8 / activation node equals the float64 model's (convert_checks); and,
where cheap, an op's integers against an independent computation (exact fractions, float64 torch).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from convert_checks import CHANNELS, calibrate, check_model, image_inputs, random_model
from torch import nn

import binedge
from binedge import reference
from binedge.converter import LoweringError, convert, convert_with_values
from binedge.graph import (Add, AvgPool2d, Concat, Conv2d, Dense, Flatten, MaxPool2d, Requantize, Reshape, TensorSpec,
                           Threshold)
from binedge.nn import BinaryConv2d, BinaryLinear, QuantInt8, Sign, Step


def _ops(graph, kind) -> list:
    return [op for op in graph.ops if isinstance(op, kind)]


def _values(graph, x) -> dict:
    specs = graph.value_specs()
    return {n: reference.unpack_value(v, specs[n]) for n, v in reference.run_values(graph, x).items()}


def _exact_code(real: Fraction, scale: float, zp: int) -> int:
    """clamp(zp + round_half_up(real / scale), -128, 127) in exact rational arithmetic."""
    v = real / Fraction(scale) + Fraction(1, 2)
    return max(-128, min(127, zp + v.numerator // v.denominator))


# ----------------------------------------------------------------------------- the API


def test_convert_is_exposed_at_the_package_top_level():
    assert binedge.convert is convert
    from binedge import convert as c

    assert c is convert


# ----------------------------------------------------------------------------- residual adds


class _Residual(nn.Module):
    """Two int8 branches at different scales and zero points, added and requantized."""

    def __init__(self, c: int):
        super().__init__()
        self.a = BinaryConv2d(c, c, 3, padding=1, kernel_quantizer="int8")
        self.qa = QuantInt8()
        self.b = BinaryConv2d(c, c, 1, stride=1, kernel_quantizer="int8")
        self.qb = QuantInt8(symmetric=True)
        self.qs = QuantInt8()
        self.fc = BinaryLinear(c, 3, kernel_quantizer="int8")
        self.qg = QuantInt8()

    def forward(self, x):
        s = self.qs(self.qa(self.a(x)) - 0.5 * self.qb(self.b(x)))
        return self.fc(self.qg(s.mean((2, 3))))


@pytest.mark.parametrize("c", [1, 3, 33])
def test_residual_add_at_mismatched_scales_is_exact(c):
    torch.manual_seed(c)
    model = _Residual(c)
    spec = TensorSpec("i8", (7, 5, c), scale=0.02, zero_point=-9)  # int8 inputs with a zero point
    example = torch.zeros(1, c, 7, 5)
    calibrate(model, example, seed=c)
    x = np.random.default_rng(c).integers(-128, 128, size=(64, 7, 5, c)).astype(np.int8)
    graph, _ = check_model(model, example, x, input_spec=spec, min_values=4)
    (add,) = _ops(graph, Add)
    assert add.multipliers[1] < 0  # a - 0.5·b: the second multiplier is negative
    # independent check of the Add: exact rational arithmetic on the codes it read
    vals, specs = _values(graph, x), graph.value_specs()
    a, b = add.inputs
    sa, sb = specs[a], specs[b]
    got = vals[add.name].reshape(-1)[:400]
    for i, (qa, qb) in enumerate(zip(vals[a].reshape(-1)[:400], vals[b].reshape(-1)[:400])):
        real = Fraction(sa.scale) * (int(qa) - sa.zero_point) - Fraction(1, 2) * Fraction(sb.scale) * (int(qb) - sb.zero_point)
        assert got[i] == _exact_code(real, add.scale, add.zero_point), i


class _Block(nn.Module):
    """x + Q(BN(binary conv(sign(x)))), quantized: the residual binary block."""

    def __init__(self, c: int, stride_path: bool = False):
        super().__init__()
        self.conv = BinaryConv2d(c, c, 3, padding=1, bias=False, kernel_quantizer="lab", input_quantizer="sign")
        self.bn = nn.BatchNorm2d(c)
        self.q = QuantInt8()
        self.out = QuantInt8()

    def forward(self, x):
        return self.out(x + self.q(self.bn(self.conv(x))))


class _ResNet(nn.Module):
    def __init__(self, c_in: int, c: int, classes: int = 10):
        super().__init__()
        self.stem = BinaryConv2d(c_in, c, 3, padding=1, kernel_quantizer="int8")
        self.bn = nn.BatchNorm2d(c)
        self.q = QuantInt8()
        self.block1 = _Block(c)
        self.down = BinaryConv2d(c, 2 * c, 3, stride=2, padding=1, kernel_quantizer="int8")
        self.qd = QuantInt8()
        self.block2 = _Block(2 * c)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.qp = QuantInt8()
        self.fc = BinaryLinear(2 * c, classes, kernel_quantizer="lab", input_quantizer="sign")
        self.bnf = nn.BatchNorm1d(classes)

    def forward(self, x):
        x = self.block1(self.q(self.bn(self.stem(x))))
        x = self.block2(self.qd(self.down(x)))
        return self.bnf(self.fc(torch.flatten(self.qp(self.pool(x)), 1)))


@pytest.mark.parametrize("c_in,c,h,w", [(1, 4, 9, 9), (3, 31, 7, 5), (1, 33, 6, 7)])
def test_residual_binary_network(c_in, c, h, w):
    torch.manual_seed(0)
    model = calibrate(_ResNet(c_in, c), torch.zeros(1, c_in, h, w))
    x = image_inputs(np.random.default_rng(1), 64, h, w, c_in)
    graph, _ = check_model(model, torch.zeros(2, c_in, h, w), x, min_values=7)
    assert len(_ops(graph, Add)) == 2 and len(_ops(graph, Threshold)) == 3  # sign(x) of both blocks and the head
    assert not graph.is_chain()
    # the stem is an int8 convolution over pixels: its accumulator against float64 torch
    acc = reference.accumulators(graph, x)[0]
    q, _ = model.stem.kernel_quantizer.codes(model.stem.weight)
    want = F.conv2d(torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2), q.double(), padding=1)
    assert np.array_equal(acc, want.permute(0, 2, 3, 1).numpy().astype(np.int64))


# ----------------------------------------------------------------------------- grouped / depthwise


class _Grouped(nn.Module):
    def __init__(self, c: int, groups: int, stride: int):
        super().__init__()
        self.conv = BinaryConv2d(c, c, 3, stride=stride, padding=1, groups=groups, bias=True, kernel_quantizer="int8")
        self.bn = nn.BatchNorm2d(c)
        self.q = QuantInt8()
        self.fc = BinaryLinear(c, 4, kernel_quantizer="int8")
        self.qg = QuantInt8()

    def forward(self, x):
        return self.fc(self.qg(F.adaptive_avg_pool2d(self.q(self.bn(self.conv(x))), 1).flatten(1)))


@pytest.mark.parametrize("c,groups,stride", [(3, 3, 1), (31, 31, 2), (33, 3, 2), (65, 65, 1), (4, 2, 2)])
def test_depthwise_and_grouped_int8_convs(c, groups, stride):
    torch.manual_seed(c)
    model = _Grouped(c, groups, stride)
    spec = TensorSpec("u8", (7, 9, c), scale=0.01, zero_point=100)  # uint8 features with a zero point
    calibrate(model, torch.zeros(1, c, 7, 9), seed=c)
    x = np.random.default_rng(c).integers(0, 256, size=(48, 7, 9, c)).astype(np.uint8)
    graph, _ = check_model(model, torch.zeros(1, c, 7, 9), x, input_spec=spec, min_values=2)
    conv = _ops(graph, Conv2d)[0]
    assert conv.groups == groups and conv.weight_kind == "int8"
    # accumulator of raw codes, padded with the zero point, against a float64 torch convolution
    q, _ = model.conv.kernel_quantizer.codes(model.conv.weight)
    xt = F.pad(torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2), (1, 1, 1, 1), value=100.0)
    want = F.conv2d(xt, q.double(), stride=stride, groups=groups).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(reference.accumulators(graph, x)[0], want.astype(np.int64))


# ----------------------------------------------------------------------------- pooling


class _Pools(nn.Module):
    def __init__(self, how: str, c: int = 5):
        super().__init__()
        self.how = how
        self.conv = BinaryConv2d(2, c, 3, padding=1, kernel_quantizer="int8")
        self.q1 = QuantInt8()
        self.q2 = QuantInt8()
        self.pool = nn.AvgPool2d(2) if how == "module2" else nn.AvgPool2d((7, 6)) if how == "module_global" else None
        self.fc = BinaryLinear(c * (9 if how in ("avg2", "module2") else 1), 3, kernel_quantizer="int8")

    def forward(self, x):
        x = self.q1(self.conv(x))
        if self.how == "mean":
            y = x.mean(dim=(-1, -2))
        elif self.how == "mean_keepdim":
            y = torch.mean(x, [2, 3], keepdim=True)
        elif self.how == "adaptive":
            y = F.adaptive_avg_pool2d(x, (1, 1))
        elif self.how == "avg2":
            y = F.avg_pool2d(x, 2, stride=2)
        else:
            y = self.pool(x)
        return self.fc(self.q2(y).view(x.size(0), -1))


@pytest.mark.parametrize("how", ["mean", "mean_keepdim", "adaptive", "avg2", "module2", "module_global"])
def test_average_pooling_variants(how):
    torch.manual_seed(1)
    model = calibrate(_Pools(how), torch.zeros(1, 2, 7, 6))
    x = image_inputs(np.random.default_rng(2), 48, 7, 6, 2)
    graph, _ = check_model(model, torch.zeros(1, 2, 7, 6), x, min_values=2)
    (pool,) = _ops(graph, AvgPool2d)
    assert pool.kernel == ((2, 2) if how in ("avg2", "module2") else (7, 6))
    # independent: the exact mean of the window, requantized with exact fractions
    vals, specs = _values(graph, x), graph.value_specs()
    src = graph.op_inputs(graph.ops.index(pool))[0]
    kh, kw = pool.kernel
    for n in range(3):
        for ch in range(5):
            win = vals[src][n, :kh, :kw, ch].astype(np.int64) - specs[src].zero_point
            real = Fraction(specs[src].scale) * Fraction(int(win.sum()), kh * kw)
            assert vals[pool.name][n, 0, 0, ch] == _exact_code(real, pool.scale, pool.zero_point)


class _MaxPools(nn.Module):
    """Max pooling on int8 codes, on bits, and queued between BatchNorm and the next stage."""

    def __init__(self):
        super().__init__()
        self.c1 = BinaryConv2d(1, 6, 3, padding=1, kernel_quantizer="int8")
        self.q1 = QuantInt8()
        self.c2 = BinaryConv2d(6, 7, 3, padding=1, bias=False, kernel_quantizer="lab", input_quantizer="sign")
        self.bn2 = nn.BatchNorm2d(7)
        self.act = Step()
        self.c3 = BinaryConv2d(7, 8, 1, bias=False, kernel_quantizer="bwn")
        self.bn3 = nn.BatchNorm2d(8)
        self.q3 = QuantInt8()
        self.fc = BinaryLinear(8 * 1 * 2, 2, kernel_quantizer="int8")  # 9x8 -> 4x4 -> 3x4 -> 1x2

    def forward(self, x):
        x = F.max_pool2d(self.q1(self.c1(x)), 2)  # int8 codes
        x = nn.functional.max_pool2d(self.act(self.bn2(self.c2(x))), (2, 1), (1, 1))  # bits (step: unsigned)
        x = self.q3(F.max_pool2d(self.bn3(self.c3(x)), 2))  # pooling waits behind the requantization
        return self.fc(x.flatten(1))


def test_max_pooling_on_codes_bits_and_stages():
    torch.manual_seed(3)
    model = calibrate(_MaxPools(), torch.zeros(1, 1, 9, 8))
    x = image_inputs(np.random.default_rng(3), 64, 9, 8, 1)
    graph, _ = check_model(model, torch.zeros(1, 1, 9, 8), x, min_values=3)
    specs = graph.value_specs()
    kinds = [specs[graph.op_inputs(graph.ops.index(op))[0]].kind for op in _ops(graph, MaxPool2d)]
    assert sorted(kinds) == ["bits", "i8", "i8"]


# ----------------------------------------------------------------------------- concat, flatten


class _Concat(nn.Module):
    def __init__(self, same: bool, flat: bool):
        super().__init__()
        self.same, self.flat = same, flat
        self.a = BinaryConv2d(3, 4, 3, padding=1, kernel_quantizer="int8")
        self.b = BinaryConv2d(3, 5, 1, kernel_quantizer="int8")
        self.qa = QuantInt8(scale=0.05, zero_point=3) if same else QuantInt8()
        self.qb = QuantInt8(scale=0.05, zero_point=3) if same else QuantInt8()
        self.q = QuantInt8()
        self.fc = BinaryLinear(9 * 5 * 5, 3, kernel_quantizer="int8")

    def forward(self, x):
        a, b = self.qa(self.a(x)), self.qb(self.b(x))
        if self.flat:
            y = torch.cat((a.flatten(1), b.reshape(b.shape[0], -1)), dim=-1)
        else:
            y = torch.cat([a, b], dim=1).flatten(1)
        return self.fc(y if self.same else self.q(y))


@pytest.mark.parametrize("same", [True, False], ids=["same-scale", "requantized"])
@pytest.mark.parametrize("flat", [False, True], ids=["channels", "features"])
def test_concatenation(same, flat):
    torch.manual_seed(4)
    model = calibrate(_Concat(same, flat), torch.zeros(1, 3, 5, 5))
    x = image_inputs(np.random.default_rng(4), 48, 5, 5, 3)
    graph, _ = check_model(model, torch.zeros(1, 3, 5, 5), x, min_values=2)
    assert len(_ops(graph, Concat)) == 1
    assert len(_ops(graph, Requantize)) == (0 if same else 2)


class _Reshapes(nn.Module):
    """Flatten by every spelling, and a reshape back to the map (the orders agree there)."""

    def __init__(self):
        super().__init__()
        self.c = BinaryConv2d(2, 3, 3, padding=1, kernel_quantizer="int8")
        self.q = QuantInt8()
        self.c2 = BinaryConv2d(3, 4, 3, kernel_quantizer="int8")
        self.q2 = QuantInt8()
        self.flat = nn.Flatten()
        self.fc = BinaryLinear(4 * 3 * 4 * 4, 5, kernel_quantizer="int8")

    def forward(self, x):
        y = self.q(self.c(x))
        n = y.size(0)
        flat = y.view(n, -1)
        y = flat.reshape(n, 3, 5, 6)  # back to the map: the same codes
        z = self.q2(self.c2(y))
        return self.fc(torch.cat([self.flat(z), z.flatten(1), z.view(n, -1), z.reshape(-1, 48)], 1))


def test_flatten_view_reshape_spellings():
    torch.manual_seed(5)
    model = calibrate(_Reshapes(), torch.zeros(1, 2, 5, 6))
    x = image_inputs(np.random.default_rng(5), 48, 5, 6, 2)
    graph, _ = check_model(model, torch.zeros(1, 2, 5, 6), x, min_values=2)
    assert len(_ops(graph, Reshape)) == 1 and len(_ops(graph, Flatten)) >= 2


# ----------------------------------------------------------------------------- feature inputs


class _Tabular(nn.Module):
    def __init__(self, f: int, hidden: int):
        super().__init__()
        self.fc1 = BinaryLinear(f, hidden, kernel_quantizer="int8")
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = BinaryLinear(hidden, hidden, bias=False, kernel_quantizer="lab", input_quantizer="sign")
        self.bn2 = nn.BatchNorm1d(hidden)
        self.q = QuantInt8()
        self.fc3 = BinaryLinear(hidden, 2, kernel_quantizer="int8")

    def forward(self, x):
        return 2.0 * self.fc3(self.q(self.bn2(self.fc2(self.bn1(self.fc1(x)))))) - 1.0


@pytest.mark.parametrize("kind,zp", [("i8", 0), ("i8", -17), ("u8", 128), ("u8", 0)])
def test_feature_vector_inputs(kind, zp):
    torch.manual_seed(6)
    model = _Tabular(30, 33)
    spec = TensorSpec(kind, (30,), scale=0.04, zero_point=zp)
    calibrate(model, torch.zeros(1, 30))
    lo, hi = (-128, 127) if kind == "i8" else (0, 255)
    x = np.random.default_rng(6).integers(lo, hi + 1, size=(200, 30)).astype(np.int8 if kind == "i8" else np.uint8)
    graph, _ = check_model(model, torch.zeros(4, 30), x, input_spec=spec, min_values=1)
    assert graph.input == spec and [type(op) for op in graph.ops] == [Dense, Dense, Dense]
    acc = reference.accumulators(graph, x)[0]  # raw codes (zero point folded into the stage)
    q, _ = model.fc1.kernel_quantizer.codes(model.fc1.weight)
    assert np.array_equal(acc, x.astype(np.int64) @ q.numpy().astype(np.int64).T)


def test_feature_model_needs_an_input_spec():
    with pytest.raises(LoweringError, match="needs input_spec"):
        convert(calibrate(_Tabular(4, 3), torch.zeros(1, 4)), torch.zeros(1, 4))
    with pytest.raises(LoweringError, match=r"input_spec has shape \(5,\)"):
        convert(_Tabular(4, 3), torch.zeros(1, 4), input_spec=TensorSpec("i8", (5,), scale=0.1))


# ----------------------------------------------------------------------------- thresholds on codes, reuse


class _Shared(nn.Module):
    """A layer called twice (weights shared), an output consumed by two stages, activations on codes."""

    def __init__(self):
        super().__init__()
        self.fc = BinaryLinear(12, 12, kernel_quantizer="int8")
        self.fc2 = BinaryLinear(12, 12, kernel_quantizer="lab")
        self.q = QuantInt8()
        self.q3 = QuantInt8()
        self.qo = QuantInt8()
        self.sign = Sign()
        self.out = BinaryLinear(36, 3, kernel_quantizer="bwn", input_quantizer="sign")

    def forward(self, x):
        h = self.fc(x)  # consumed by a quantizer and by an activation: its op is emitted twice
        a = self.q(h)
        d = self.q3(self.fc2(self.sign(h)))
        b = self.fc(self.sign(a))  # the shared layer again, on the bits of codes (a Threshold op)
        c = self.qo(torch.cat([self.q(b), a, d], 1))
        return 2.0 * self.out(c) - 1.0


def test_shared_layers_multiple_consumers_and_activations_on_codes():
    torch.manual_seed(7)
    model = calibrate(_Shared(), torch.zeros(1, 12))
    spec = TensorSpec("i8", (12,), scale=0.03, zero_point=5)
    x = np.random.default_rng(7).integers(-128, 128, size=(200, 12)).astype(np.int8)
    graph, _ = check_model(model, torch.zeros(1, 12), x, input_spec=spec)
    assert len(_ops(graph, Threshold)) >= 1
    names = [op.name for op in graph.ops]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("act", [Sign(), Step(), binedge.nn.QReLU(3), binedge.nn.QReLU(5)],
                         ids=["sign", "step", "qrelu2", "qrelu3"])
def test_threshold_op_on_codes_by_brute_force(act):
    """Every code of every zero point / scale: the Threshold op's level against the activation
    computed in float64 on the real value s·(q − zp)."""
    for scale, zp in ((0.1, 0), (1 / 255, 0), (0.25, -3), (0.0037, 77), (0.5, 127)):
        model = nn.Sequential(act, BinaryLinear(256, 2, kernel_quantizer="bwn")).eval()
        spec = TensorSpec("i8", (256,), scale=scale, zero_point=zp)
        graph = convert(model, torch.zeros(1, 256), input_spec=spec)
        x = np.arange(-128, 128, dtype=np.int8)[None, :]
        got = _values(graph, x)[graph.value_names()[1]]
        z = torch.tensor((x.astype(np.float64) - zp) * scale)
        want = act.hard_forward(z).numpy()
        want = want if act.encoding == "sign" else np.rint(want / act.level_scale)
        assert np.array_equal(got, want.astype(np.int64)), (scale, zp)


# ----------------------------------------------------------------------------- random models


@pytest.mark.parametrize("seed", range(24))
def test_random_models(seed):
    model, example, spec, inputs = random_model(seed)
    graph, rep = check_model(model, example, inputs, input_spec=spec, min_values=3, min_agreement=0.95)
    assert rep["samples"] == len(inputs)


def test_channel_counts_of_the_random_models_cover_the_awkward_ones():
    assert {1, 3, 31, 33, 65} <= set(CHANNELS)


# ----------------------------------------------------------------------------- refusals


class _Fn(nn.Module):
    """A model whose forward is ``fn(self, x)``, with a few layers to use."""

    def __init__(self, fn, c: int = 3, calibrated: bool = True):
        super().__init__()
        self.fn = fn
        self.conv = BinaryConv2d(c, c, 3, padding=1, kernel_quantizer="int8")
        self.bconv = BinaryConv2d(c, c, 3, padding=1, bias=False, kernel_quantizer="lab", input_quantizer="sign")
        self.bn = nn.BatchNorm2d(c)
        self.q = QuantInt8(scale=0.1) if calibrated else QuantInt8()
        self.q2 = QuantInt8(scale=0.07, zero_point=4)
        self.q3 = QuantInt8(scale=0.03)
        self.sign = Sign()
        self.step = Step()
        self.fc = BinaryLinear(c * 25, 2, kernel_quantizer="int8")
        self.fc1 = BinaryLinear(c, 2, kernel_quantizer="int8")

    def forward(self, x):
        return self.fn(self, x)


def _head(m, x):
    return m.fc(x.flatten(1))


def _inplace(m, x):
    h = m.q(x)
    g = h
    h += m.q2(x)  # eager: g sees the sum too; one graph value cannot
    return _head(m, m.q3(g))


def _inplace_method(m, x):
    h = m.q(x)
    g = h
    h.add_(m.q2(x))
    return g + h


class _InPlaceOk(nn.Module):
    def __init__(self):
        super().__init__()
        self.qa, self.qb, self.q = QuantInt8(scale=0.1), QuantInt8(scale=0.07, zero_point=4), QuantInt8(scale=0.2)
        self.fc = BinaryLinear(4, 2, kernel_quantizer="int8")

    def forward(self, x):
        h = self.qa(x)
        h += self.qb(x)  # nothing reads the old h afterwards: an ordinary Add
        return self.fc(self.q(h))


def test_in_place_add_without_later_readers_lowers():
    graph = convert(_InPlaceOk(), torch.zeros(1, 4), input_spec=TensorSpec("i8", (4,), scale=0.05))
    assert [type(op) for op in graph.ops] == [Requantize, Requantize, Add, Dense]


# ----------------------------------------------------------------------------- sums of real-valued branches

MERGES = [
    # BN(binary conv)'s real output plus int8 codes, requantized: Merge(acc, codes) + RoundStage
    ("real-plus-codes", lambda m, x: _head(m, m.q(m.bn(m.bconv(m.q(x))) + m.q2(x))), "round"),
    # two codes summed straight into an activation: Merge(codes, codes) + thresholds
    ("codes-into-sign", lambda m, x: m.fc(m.sign(m.q(x) + m.q2(x)).flatten(1)), "thresholds"),
    # BN(binary conv) + another binary conv's output, into a sign: Merge(acc, acc) + thresholds
    ("two-accumulators", lambda m, x: m.fc(m.sign(m.bn(m.bconv(m.q(x))) + m.bconv(m.q2(x))).flatten(1)),
     "thresholds"),
]


@pytest.mark.parametrize("name,fn,stage", [c for c in MERGES if c[2]], ids=[c[0] for c in MERGES if c[2]])
def test_sums_of_real_branches_lower_to_a_merge(name, fn, stage):
    """A sum of two real-valued branches (a weight layer's output, or int8 codes) that ends in a
    QuantInt8 or a hard-threshold activation is one Merge: PyTorch and the reference agree up to
    ties, and every intermediate code / bit equals float64 PyTorch's."""
    from binedge.graph import AccStage, Merge, RoundStage, ThresholdStage

    torch.manual_seed(5)
    model = _Fn(fn)
    example = torch.zeros(1, 3, 5, 5)
    calibrate(model, example, seed=5)
    model.eval()
    x = image_inputs(np.random.default_rng(5), 200, 5, 5, 3)
    graph, _ = check_model(model, example, x, min_values=1, min_agreement=0.95)
    (merge,) = _ops(graph, Merge)
    assert isinstance(merge.output, RoundStage if stage == "round" else ThresholdStage)
    specs = graph.value_specs()
    for name_in in merge.inputs:
        assert specs[name_in].encoding == "acc" or specs[name_in].kind in ("u8", "i8")
    if name == "two-accumulators":
        assert sum(isinstance(op, (Conv2d,)) and isinstance(op.output, AccStage) for op in graph.ops) == 2


REFUSALS = [
    # an int8 image layer's accumulator counts in units ~10^4 times finer than the codes' scale:
    # one int32 multiplier pair cannot add them to float32's precision
    ("real-sum-scales", lambda m, x: _head(m, m.q(m.conv(x) + m.q2(m.conv(x)))),
     r"layer q \(QuantInt8\) .*branch a counts in units .* times smaller than branch b's.*QuantInt8 on branch a"),
    ("two-real-outputs", lambda m, x: _head(m, m.q(m.conv(x) + m.bn(m.bconv(x)))), "adds the real-valued output"),
    ("three-terms", lambda m, x: _head(m, m.q(m.q(x) + m.q2(x) + m.q3(x))), "sums 3 int8 values"),
    ("broadcast", lambda m, x: _head(m, m.q(m.q(x) + m.q2(m.q(x).mean((2, 3), keepdim=True)))), "no broadcasting"),
    ("slicing", lambda m, x: _head(m, m.q(m.q(x) + m.q2(x)[:, :1])), "indexing or slicing"),
    ("sum-into-layer", lambda m, x: m.fc((m.q(x) + m.q2(x)).flatten(1)), "reads the real-valued sum"),
    ("zero-sum", lambda m, x: _head(m, m.q(m.q(x) - m.q(x))), "identically zero"),
    ("sum-into-conv", lambda m, x: _head(m, m.q(m.conv(m.q(x) + m.q2(x)))), r"reads the real-valued sum"),
    ("avg-of-real", lambda m, x: m.fc1(m.q(F.adaptive_avg_pool2d(m.conv(x), 1).flatten(1))), "average pooling reads"),
    ("avg-of-bits", lambda m, x: m.fc1(m.q(m.sign(m.q(x)).mean((2, 3)))), "average pooling reads hard-threshold"),
    ("avg-padding", lambda m, x: _head(m, m.q(F.avg_pool2d(m.q(x), 3, 1, 1))), "without padding"),
    ("adaptive-uneven", lambda m, x: m.fc1(m.q(F.adaptive_avg_pool2d(m.q(x), 2)).mean((2, 3))), "different sizes"),
    ("mean-channels", lambda m, x: _head(m, m.q(m.q(x).mean(1, keepdim=True)).expand(-1, 3, -1, -1)), "spatial axes"),
    ("max-padding", lambda m, x: _head(m, F.max_pool2d(m.q(x), 3, 1, 1)), "without padding, dilation or ceil_mode"),
    ("bn-on-codes", lambda m, x: _head(m, m.q(m.bn(m.q(x)))), "BatchNorm folds into the output stage"),
    ("quantize-bits", lambda m, x: _head(m, m.q(m.sign(m.q(x)))), "int8 quantizer on hard-threshold outputs"),
    ("step-on-sign", lambda m, x: _head(m, m.step(m.sign(m.q(x)))), "no op re-thresholding bits"),
    ("functional-conv", lambda m, x: _head(m, m.q(F.conv2d(m.q(x), m.conv.weight, padding=1))),
     "conv2d does not lower"),
    ("relu", lambda m, x: _head(m, m.q(F.relu(m.conv(x)))), "relu does not lower"),
    ("product", lambda m, x: _head(m, m.q(m.q(x) * m.q2(x))), "multiplies two tensors"),
    ("divide-by-tensor", lambda m, x: _head(m, m.q(1.0 / m.q(x))), "divides by a tensor"),
    ("offset-codes", lambda m, x: _head(m, m.q(m.q(x) + 1.0)), "adding a constant to an int8 value"),
    ("tensor-constant", lambda m, x: _head(m, m.q(m.conv(x) * m.conv.weight[:, :1, :1, :1].reshape(1, 3, 1, 1))),
     "only scalar constants"),
    ("unflatten-order", lambda m, x: _head(m, m.q(x).flatten(1).view(-1, 5, 5, 3)), r"in \(C, H, W\) order"),
    ("batch-mixing", lambda m, x: m.fc(m.q(x).view(1, -1).view(x.shape[0], -1)), "mixing the batch axis"),
    ("cat-dim2", lambda m, x: m.fc1(m.q(torch.cat([m.q(x), m.q(x)], 2).mean((2, 3)))), "along dimension 2"),
    ("cat-mixed-flattened", lambda m, x: m.fc(torch.cat([m.q(x), m.q2(x)], 1).flatten(1)), "flattening a concaten"),
    ("cat-mixed-into-layer", lambda m, x: _head(m, m.q(m.conv(torch.cat([m.q(x), m.q2(x)], 1)))),
     "concatenation of values of different types"),
    ("returns-codes", lambda m, x: m.q(x), "must end with a BinaryLinear"),
    ("returns-tuple", lambda m, x: (_head(m, m.q(x)), x), "must return one tensor"),
    ("partial-flatten", lambda m, x: m.fc1(m.q(m.q(x).flatten(2).mean(2))), r"flatten\(start_dim=2"),
    ("reshape-3d", lambda m, x: _head(m, m.q(x).reshape(x.shape[0], 3, 25)), "reshapes between"),
    ("unknown-method", lambda m, x: _head(m, m.q(m.conv(x).sigmoid())), r"\.sigmoid\(\) does not lower"),
    ("floor-division", lambda m, x: _head(m, m.q(torch.div(m.conv(x), 2, rounding_mode="floor"))), "rounding mode"),
    ("pool-indices", lambda m, x: _head(m, F.max_pool2d(m.q(x), 1, return_indices=True)[0]), "return_indices"),
    ("bits-plus-codes", lambda m, x: _head(m, m.q(m.sign(m.q(x)) + m.q(x))), "adds hard-threshold outputs"),
    ("in-place", lambda m, x: _inplace(m, x), r"computes something else than model.forward .*x \+= y"),
    ("in-place-method", lambda m, x: _head(m, m.q3(_inplace_method(m, x))), "modifies 'q' in place while a later"),
    ("dropout-training", lambda m, x: _head(m, F.dropout(m.q(x), 0.5, True)), "dropout in training mode"),
    ("control-flow", lambda m, x: _head(m, m.q(x)) if x.sum() > 0 else _head(m, m.q2(x)), "torch.fx cannot trace"),
    ("score-after-pool", lambda m, x: F.max_pool2d(m.bn(m.conv(x)), 5).flatten(1), "must end with a BinaryLinear"),
    ("neg-after-pool", lambda m, x: _head(m, m.q(-F.max_pool2d(m.bn(m.conv(x)), 1))), "negative factor"),
    ("bn-after-flatten", lambda m, x: m.fc(m.q(nn.functional.batch_norm(m.conv(x).flatten(1), None, None))),
     "batch_norm does not lower"),
]


@pytest.mark.parametrize("name,fn,match", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_node_and_the_source_line(name, fn, match):
    model = _Fn(fn).eval()
    with pytest.raises(LoweringError, match=match) as e:
        convert(model, torch.zeros(1, 3, 5, 5))
    if name not in ("control-flow", "in-place"):
        assert "test_convert.py:" in str(e.value), str(e.value)  # the user's source line


class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = BinaryLinear(3, 2, kernel_quantizer="int8")

    def forward(self, x, y):
        return self.fc(x)


class _Scaled(nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.fc = BinaryLinear(4, 4, kernel_quantizer="int8")
        self.q = QuantInt8(scale=scale)
        self.out = BinaryLinear(4, 2, kernel_quantizer="int8")

    def forward(self, x):
        return self.out(self.q(self.fc(x)))


def test_refusals_of_modules_and_quantizers():
    spec = TensorSpec("i8", (4,), scale=0.1)
    with pytest.raises(LoweringError, match="more than one input"):
        convert(_TwoInputs(), torch.zeros(1, 3), input_spec=TensorSpec("i8", (3,), scale=0.1))
    with pytest.raises(LoweringError, match=r"layer 1 \(QuantInt8\): .*never calibrated"):
        convert(nn.Sequential(BinaryLinear(4, 4, kernel_quantizer="int8"), QuantInt8(),
                              BinaryLinear(4, 2, kernel_quantizer="int8")).eval(), torch.zeros(1, 4), input_spec=spec)
    with pytest.raises(LoweringError, match="cannot be represented"):
        convert(_Scaled(1e-30), torch.zeros(1, 4), input_spec=spec)
    with pytest.raises(LoweringError, match="full-precision weights do not lower exactly"):
        convert(nn.Sequential(BinaryLinear(4, 2)), torch.zeros(1, 4), input_spec=spec)
    with pytest.raises(LoweringError, match="unsupported module Conv2d"):
        convert(nn.Sequential(nn.Conv2d(1, 2, 3)), torch.zeros(1, 1, 5, 5))
    with pytest.raises(LoweringError, match="needs a flattened input"):
        convert(nn.Sequential(BinaryLinear(5, 2, kernel_quantizer="int8")), torch.zeros(1, 1, 5, 5))
    with pytest.raises(LoweringError, match="grouped / depthwise convolutions lower with int8 weights only"):
        convert(nn.Sequential(BinaryConv2d(2, 2, 3, groups=2, kernel_quantizer="lab"), nn.Flatten(),
                              BinaryLinear(2, 2, kernel_quantizer="lab", input_quantizer="sign")),
                torch.zeros(1, 2, 3, 3))
    with pytest.raises(LoweringError, match="grouped"):  # grouped int8 weights over bits: the graph refuses
        convert(nn.Sequential(BinaryConv2d(2, 2, 3, groups=2, kernel_quantizer="int8", input_quantizer="sign"),
                              nn.Flatten(), BinaryLinear(2, 2, kernel_quantizer="lab", input_quantizer="sign")),
                torch.zeros(1, 2, 3, 3))
    with pytest.raises(LoweringError, match="dilation=1"):
        convert(nn.Sequential(BinaryConv2d(1, 2, 3, dilation=2, kernel_quantizer="lab"), nn.Flatten(),
                              BinaryLinear(2, 2, kernel_quantizer="lab", input_quantizer="sign")),
                torch.zeros(1, 1, 5, 5))
    with pytest.raises(LoweringError, match=r"±1 sign bits have no code for 0"):
        convert(nn.Sequential(Sign(), BinaryConv2d(1, 2, 3, padding=1, kernel_quantizer="lab"), nn.Flatten(),
                              BinaryLinear(18, 2, kernel_quantizer="lab", input_quantizer="sign")),
                torch.zeros(1, 1, 3, 3))
    with pytest.raises(LoweringError, match="BatchNorm after flattening a feature map"):
        convert(nn.Sequential(BinaryConv2d(1, 2, 3, kernel_quantizer="lab"), nn.Flatten(), nn.BatchNorm1d(18),
                              BinaryLinear(18, 2, kernel_quantizer="lab", input_quantizer="sign")).eval(),
                torch.zeros(1, 1, 5, 5))

    class _Odd(binedge.nn.KernelQuantizer):
        name = "odd"

        def scale(self, w, layer):
            return torch.ones(())

        def quantize(self, w, layer):
            return w.sign() * 0.5

    with pytest.raises(LoweringError, match="overrides quantize"):
        convert(nn.Sequential(BinaryLinear(4, 2, kernel_quantizer=_Odd())), torch.zeros(1, 4), input_spec=spec)


def test_convert_restores_training_mode_and_rejects_bad_arguments():
    model = nn.Sequential(BinaryLinear(4, 2, kernel_quantizer="int8")).train()
    convert(model, torch.zeros(1, 4), input_spec=TensorSpec("i8", (4,), scale=0.1))
    assert model.training and model[0].training
    with pytest.raises(LoweringError, match="example_input"):
        convert(model, torch.zeros(4), input_spec=TensorSpec("i8", (4,), scale=0.1))
    with pytest.raises(LoweringError, match="nn.Module"):
        convert(lambda x: x, torch.zeros(1, 4))


def test_values_map_points_at_graph_values():
    torch.manual_seed(0)
    model = calibrate(_ResNet(1, 4), torch.zeros(1, 1, 9, 9))
    graph, values = convert_with_values(model, torch.zeros(1, 1, 9, 9))
    names = set(graph.value_names())
    assert all(v is None or v in names for _, _, v, _ in values)
    assert ("x", "x", "input", None) in values
