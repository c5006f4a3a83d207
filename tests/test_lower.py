"""Lowering: threshold folding against brute force, and whole models against PyTorch."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from binedge import fold, reference
from binedge.graph import AccStage, Add, Conv2d, Dense, Merge, RoundStage, ScoreStage, ThresholdStage
from binedge.lower import INT32_MAX, INT32_MIN, LoweringError, _thresholds, agreement, lower
from binedge.models import ModelConfig, build_model
from binedge.nn import BinaryConv2d, BinaryLinear, QReLU, QuantInt8, Sign, Step


def _level_by_brute_force(z, act):
    """The activation's level computed directly in float64 (the independent oracle)."""
    return sum((z > t) if act.strict else (z >= t) for t in act.thresholds)


def _stage_level(stage, acc, ch):
    return int(np.sum(int(stage.direction[ch]) * acc >= stage.thresholds[ch].astype(np.int64)))


@pytest.mark.parametrize("act", [Sign(), Step(), QReLU(3), QReLU(5)], ids=["sign", "step", "qrelu2", "qrelu3"])
def test_threshold_folding_matches_brute_force(act):
    rng = np.random.default_rng(0)
    bound = 40
    # Slopes of both signs and zero, offsets that put thresholds exactly on integers (ties).
    a = np.array([0.37, -0.37, 0.0, 0.0, 1.0, -1.0, 0.25, -2.5, 1e-9, 3.0])
    b = np.array([0.1, 0.1, 0.5, -0.5, -3.0, 3.0, 0.0, 7.5, 0.0, -200.0])
    a = np.concatenate([a, rng.normal(size=20)])
    b = np.concatenate([b, rng.normal(size=20) * 5])
    stage = _thresholds(a, b, act, bound)
    assert isinstance(stage, ThresholdStage) and stage.thresholds.dtype == np.int32
    for ch in range(a.size):
        for acc in range(-bound, bound + 1):
            z = a[ch] * acc + b[ch]
            assert _stage_level(stage, acc, ch) == _level_by_brute_force(z, act), (ch, acc, z)


def test_negative_scale_flips_direction_and_zero_scale_is_constant():
    stage = _thresholds(np.array([2.0, -2.0, 0.0, 0.0]), np.array([-3.0, -3.0, 1.0, -1.0]), Sign(), 10)
    assert stage.direction.tolist() == [1, -1, 1, 1]
    # z = 2acc - 3 >= 0 <=> acc >= 2;  z = -2acc - 3 >= 0 <=> acc <= -2 <=> -acc >= 2
    assert stage.thresholds[:2, 0].tolist() == [2, 2]
    assert stage.thresholds[2:, 0].tolist() == [INT32_MIN, INT32_MAX]


def test_tie_exactly_at_the_threshold_follows_each_activation_convention():
    # z = acc - 3: at acc = 3, z = 0 exactly. sign(0) = +1, step(0) = 0.
    s = _thresholds(np.array([1.0]), np.array([-3.0]), Sign(), 10)
    assert _stage_level(s, 3, 0) == 1 and _stage_level(s, 2, 0) == 0
    s = _thresholds(np.array([1.0]), np.array([-3.0]), Step(), 10)
    assert _stage_level(s, 3, 0) == 0 and _stage_level(s, 4, 0) == 1


def _randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 3)
            m.running_var.copy_(torch.rand(n, generator=g) * 20 + 0.5)
            m.weight.data.copy_(torch.randn(n, generator=g))  # negative scales included
            m.weight.data[0] = 0.0  # a zero scale: a constant unit
            m.bias.data.copy_(torch.randn(n, generator=g))
        if isinstance(m, (BinaryLinear, BinaryConv2d)) and m.bias is not None:
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 2)


def _torch_logits(model, images):
    x = torch.from_numpy(images).float().div(255).permute(0, 3, 1, 2)
    with torch.no_grad():
        return model(x).double().numpy()


@pytest.mark.parametrize("cfg", [
    ModelConfig(model="mlp", weights="lab", activation="sign", hidden=40, depth=2),
    ModelConfig(model="mlp", weights="bwn", activation="qrelu3", hidden=33, depth=1),
    ModelConfig(model="vgg", weights="lab", activation="sign", widths=[5, 7, 9], fc=20, image_shape=[12, 12, 1]),
    ModelConfig(model="vgg", weights="binaryconnect", activation="qrelu2", widths=[3, 4, 5], fc=11,
                image_shape=[10, 9, 2]),
    ModelConfig(model="ftprop4", weights="lab", activation="step", fc=24, image_shape=[12, 12, 1]),
], ids=["mlp-sign", "mlp-qrelu3", "vgg-sign", "vgg-qrelu2-rgb", "ftprop4-step"])
def test_lowered_model_matches_pytorch(cfg):
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    _randomize_bn(model, 1)
    h, w, c = cfg.image_shape
    images = np.random.default_rng(2).integers(0, 256, size=(64, h, w, c), dtype=np.uint8)
    graph = lower(model, (h, w, c))
    scores = reference.run(graph, images)
    stage = graph.ops[-1].output
    assert isinstance(stage, ScoreStage)
    logits = _torch_logits(model, images)
    # Scores are fixed-point logits: equal up to the rounding of the last layer's affine.
    approx = scores / 2.0**stage.shift
    scale = np.abs(logits).max() + 1
    assert np.abs(approx - logits).max() <= 1e-4 * scale
    rep = agreement(model, graph, images)
    assert rep["disagree_without_tie"] == 0 and rep["agreement"] >= 0.98


def test_int8_first_layer_is_exact_integer_arithmetic():
    model = nn.Sequential(nn.Flatten(), BinaryLinear(12, 5, kernel_quantizer=None),
                          BinaryLinear(5, 3, kernel_quantizer="lab", input_quantizer="sign")).eval()
    graph = lower(model, (2, 2, 3))
    assert graph.ops[1].weight_kind == "int8"
    images = np.random.default_rng(0).integers(0, 256, size=(30, 2, 2, 3), dtype=np.uint8)
    acc = reference.accumulators(graph, images)[1]
    # Oracle: per-row symmetric int8 quantization of the float weight, applied to torch's
    # (C, H, W) flattening of the image, in plain int64 arithmetic.
    w = model[1].weight.detach().double().numpy()
    q = np.round(w / (np.abs(w).max(axis=1, keepdims=True) / 127)).astype(np.int64)
    x = images.transpose(0, 3, 1, 2).reshape(30, -1).astype(np.int64)
    assert np.array_equal(acc, x @ q.T)
    assert reference.run(graph, images).shape == (30, 3)


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"), nn.ReLU(),
                   BinaryLinear(3, 2, kernel_quantizer="lab")), "ReLU"),
    (nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                   BinaryLinear(3, 2, kernel_quantizer="lab", input_quantizer="relu")), "hard-threshold"),
    (nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                   BinaryLinear(3, 2, kernel_quantizer=None, input_quantizer="sign")), "full-precision"),
    (nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), "Linear"),
])
def test_unsupported_layers_are_named(model, match):
    with pytest.raises(LoweringError, match=match):
        lower(model.eval(), (2, 2, 1))


# ------------------------------------------------------------- int8 first layer: exact bounds


def _int8_exact(layer: BinaryLinear, rng: np.random.Generator) -> np.ndarray:
    """Give a full-precision layer weights that per-channel int8 quantization represents exactly
    (q * s_c with max |q| = 127 per channel), so PyTorch and the int8 graph compute the same sums."""
    o, k = layer.weight.shape
    q = rng.integers(-127, 128, size=(o, k))
    q[:, 0] = np.where(rng.random(o) < 0.5, 127, -127)
    s = rng.uniform(0.5, 2.0, size=(o, 1)) / 127
    layer.weight.data.copy_(torch.from_numpy(q * s))
    return q


def _extreme_images(q: np.ndarray, shape, rng) -> np.ndarray:
    """All-0, all-255, and per output channel the images that maximise / minimise its accumulator
    (pixel 255 where q > 0, resp. q < 0), then random ones; torch's (C, H, W) flattening."""
    h, w, c = shape
    flat = [np.zeros(q.shape[1]), np.full(q.shape[1], 255)]
    for row in q:
        flat += [np.where(row > 0, 255, 0), np.where(row < 0, 255, 0)]
    x = np.stack(flat).reshape(-1, c, h, w).transpose(0, 2, 3, 1)
    noise = rng.integers(0, 256, size=(200, h, w, c))
    return np.concatenate([x, noise]).astype(np.uint8)


def test_int8_first_layer_thresholds_use_the_int8_accumulator_bound():
    """Regression: the accumulator of an int8 layer over pixels reaches 255 * sum|q|, not K * 255;
    thresholds clamped to the smaller bound made PyTorch and the graph disagree without ties."""
    rng = np.random.default_rng(3)
    torch.manual_seed(0)
    shape, k = (4, 4, 3), 48
    model = nn.Sequential(nn.Flatten(), BinaryLinear(k, 16, bias=False, kernel_quantizer=None), nn.BatchNorm1d(16),
                          BinaryLinear(16, 10, bias=False, kernel_quantizer="lab", input_quantizer="sign"),
                          nn.BatchNorm1d(10)).eval()
    q = _int8_exact(model[1], rng)
    step = np.abs(model[1].weight.detach().double().numpy()).max(axis=1) / 127
    # thresholds at accumulator values 2..40 times beyond K * 255, of both signs
    t_acc = rng.integers(2 * k * 255, 40 * k * 255, size=16) * rng.choice([-1, 1], size=16)
    model[2].running_mean.copy_(torch.from_numpy(t_acc * step / 255))
    model[2].running_var.fill_(1.0)
    images = _extreme_images(q, shape, rng)
    graph = lower(model, shape)
    assert graph.ops[1].weight_kind == "int8"
    rep = agreement(model, graph, images)
    assert rep["disagree_without_tie"] == 0, rep
    # the sign bits themselves against float64 arithmetic on the same integers
    acc = reference.accumulators(graph, images)[1]
    x = images.transpose(0, 3, 1, 2).reshape(len(images), -1).astype(np.int64)
    assert np.array_equal(acc, x @ q.T)
    bits = acc * graph.ops[1].output.direction >= graph.ops[1].output.thresholds[:, 0]
    z = (x @ q.T) - t_acc  # BN: (acc * step / 255 - mean) / sqrt(1 + eps) >= 0  <=>  acc >= t_acc
    assert np.array_equal(bits, z >= 0)


def test_int8_only_layer_scores_provably_fit_int32_in_every_backend(tmp_path):
    """Regression: an int8 layer that is also the last one chose its score shift from K * 255, so
    the reference overflowed and onnxruntime / LiteRT silently wrapped. The shift now comes from
    255 * sum|q|, the graph proves |m| * bound + |offset| <= 2**31 - 1, and every backend returns
    the reference's scores on the images that reach the bound."""
    from binedge.export_onnx import export_onnx, run_onnx
    from binedge.export_tflite import export_tflite, run_tflite
    from binedge.runtime import Runtime

    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    shape, k = (8, 8, 3), 192
    model = nn.Sequential(nn.Flatten(), BinaryLinear(k, 10, bias=True, kernel_quantizer=None),
                          nn.BatchNorm1d(10)).eval()
    q = _int8_exact(model[1], rng)
    model[2].running_mean.copy_(torch.randn(10))
    model[2].running_var.uniform_(1e-4, 1e-3)  # a large output scale: the shift must shrink
    images = _extreme_images(q, shape, rng)
    graph = lower(model, shape)
    stage = graph.ops[-1].output
    bound = 255 * np.abs(q).sum(axis=1)
    assert (np.abs(stage.multiplier.astype(np.int64)) * bound + np.abs(stage.offset.astype(np.int64))).max() \
        <= INT32_MAX
    ref = reference.run(graph, images)
    assert np.abs(ref).max() > 2**29  # the extreme images really come close to the int32 edge
    logits = _torch_logits(model, images)
    # fixed point: multiplier and offset are rounded to 1/2^S, so |score/2^S - logit| is at most
    # (|acc| / 2 + 1/2) / 2^S, plus float32 noise in PyTorch
    x = images.transpose(0, 3, 1, 2).reshape(len(images), -1).astype(np.int64)
    slack = (np.abs(x @ q.T) / 2 + 0.5) / 2.0**stage.shift + 1e-5 * np.abs(logits).max()
    assert np.all(np.abs(ref / 2.0**stage.shift - logits) <= slack)
    export_onnx(graph, tmp_path / "m.onnx")
    export_tflite(graph, tmp_path / "m.tflite")
    assert np.array_equal(run_onnx(tmp_path / "m.onnx", images), ref)
    assert np.array_equal(run_tflite(tmp_path / "m.tflite", images), ref)
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(images), ref)


# ------------------------------------------------------------- refusing what cannot be proved


class _SkipSequential(nn.Sequential):
    """A Sequential whose forward adds a skip connection: children() alone does not show it."""

    def forward(self, x):
        x = self[0](x)
        h = self[2](self[1](x))  # int8 weights on the pixels, then an int8 value
        r = self[4](self[3](h))  # the branch: binary weights on sign(h), quantized
        return self[6](self[5](h + r))  # the skip: the int8 sum, quantized; the classifier reads sign(.)


class _RealSkipSequential(nn.Sequential):
    """The same skip over real-valued layer outputs: h + layer2(sign(h)), with h = layer1(x) a
    real output of its own (two accumulators at unrelated scales), then sign and a classifier."""

    def forward(self, x):
        x = self[0](x)
        h = self[1](x)
        return self[3](self[2](h) + h)


class _ThreeRealSequential(nn.Sequential):
    """h + layer2(sign(h)) + layer3(sign(h)): three real-valued terms before one activation."""

    def forward(self, x):
        x = self[0](x)
        h = self[1](x)
        return self[4](self[2](h) + h + self[3](h))


class _BitsPlusRealSequential(nn.Sequential):
    def forward(self, x):
        x = self[0](x)
        h = self[1](x)
        return self[3](self[2](h) + h)


class _DoubledLinear(BinaryLinear):
    def forward(self, x):
        return 2 * super().forward(x)


class _OddSign(Sign):
    def hard_forward(self, z):
        return torch.where(z >= 0.5, torch.ones_like(z), -torch.ones_like(z))


def test_sequential_subclass_with_a_skip_connection_lowers_exactly():
    """Regression: lowering walked children() and ignored the skip connection of forward(),
    producing a graph that agreed with PyTorch on 0 of 200 inputs (it was then refused). Now
    torch.fx traces forward(): the skip is an Add of the two int8 values, and the graph agrees
    with PyTorch."""
    torch.manual_seed(0)
    model = _SkipSequential(nn.Flatten(), BinaryLinear(16, 16, kernel_quantizer="int8"), QuantInt8(),
                            BinaryLinear(16, 16, kernel_quantizer="lab", input_quantizer="sign"), QuantInt8(),
                            QuantInt8(), BinaryLinear(16, 4, kernel_quantizer="lab", input_quantizer="sign"))
    model.train()
    for _ in range(3):  # calibrate the quantizers
        model(torch.rand(64, 1, 4, 4))
    model.eval()
    graph = lower(model, (4, 4, 1))
    adds = [op for op in graph.ops if isinstance(op, Add)]
    assert len(adds) == 1 and set(adds[0].inputs) == {"dense1", "dense3"}  # h (int8) + r (int8)
    images = np.random.default_rng(1).integers(0, 256, size=(200, 4, 4, 1), dtype=np.uint8)
    rep = agreement(model, graph, images)
    assert rep["disagree_without_tie"] == 0 and rep["agreement"] >= 0.98, rep


def _quadrant_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """4x4 uint8 images whose label is the brightest 2x2 quadrant (a task the skip model learns)."""
    x = rng.integers(0, 160, size=(n, 4, 4, 1))
    y = rng.integers(0, 4, size=n)
    for i, q in enumerate(y):
        r, c = divmod(int(q), 2)
        x[i, 2 * r:2 * r + 2, 2 * c:2 * c + 2] += 96
    return x.astype(np.uint8), y


def _real_skip_model(seed: int = 0) -> _RealSkipSequential:
    """_RealSkipSequential trained a few steps on the quadrant task (not degenerate: the sum's
    sign varies with the input and the classifier's prediction too), in eval mode."""
    torch.manual_seed(seed)
    model = _RealSkipSequential(nn.Flatten(), BinaryLinear(16, 16, kernel_quantizer="lab"),
                                BinaryLinear(16, 16, kernel_quantizer="lab", input_quantizer="sign"),
                                BinaryLinear(16, 4, kernel_quantizer="lab", input_quantizer="sign"))
    images, labels = _quadrant_images(512, np.random.default_rng(seed))
    x = torch.from_numpy(images).float().div(255).permute(0, 3, 1, 2)
    y = torch.from_numpy(labels)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def test_a_real_valued_skip_connection_lowers_to_accumulators_and_a_merge():
    """h + layer2(sign(h)) with h a layer's real output: layer 1 is computed once (AccStage), its
    sign(h) is a Merge of that accumulator with itself, and the sum a Merge of both accumulators
    with a threshold; PyTorch and the graph agree up to ties, and the C runtime (every kernel
    choice) returns the reference's scores."""
    from binedge.runtime import Runtime

    model = _real_skip_model()
    graph = lower(model, (4, 4, 1))
    kinds = [(type(op).__name__, type(getattr(op, "output", None)).__name__) for op in graph.ops]
    assert kinds == [("Flatten", "NoneType"), ("Dense", "AccStage"), ("Merge", "ThresholdStage"),
                     ("Dense", "AccStage"), ("Merge", "ThresholdStage"), ("Dense", "ScoreStage")]
    acc1, sign_h, acc2, add = (graph.ops[i].name for i in (1, 2, 3, 4))
    assert graph.ops[2].inputs == (acc1, acc1) and set(graph.ops[4].inputs) == {acc1, acc2}
    images, labels = _quadrant_images(1000, np.random.default_rng(1))
    rep = agreement(model, graph, images, labels)
    assert rep["disagree_without_tie"] == 0 and rep["agreement"] >= 0.98, rep
    assert rep["reference_accuracy"] > 0.5, rep  # learned something: 4 classes, chance is 0.25
    ref = reference.run(graph, images)
    merged = reference.unpack_value(reference.run_values(graph, images)[add], graph.value_specs()[add])
    assert 0.05 < np.mean(merged > 0) < 0.95  # the sum's sign varies
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(images), ref), kernel


def test_merge_parameters_reproduce_the_float64_sum():
    """Hand check of the Merge of _RealSkipSequential against float64 PyTorch: its integer value
    v = Ma·acc1 + Mb·acc2 + bias, minus its threshold, is 2^k times the float64 sum
    h + layer2(sign(h)) per channel (2^k a power of two), up to the fixed-point error."""
    model = _real_skip_model(seed=3)
    graph = lower(model, (4, 4, 1))
    merge = graph.ops[4]
    assert isinstance(merge, Merge) and isinstance(merge.output, ThresholdStage)
    images = np.concatenate([_quadrant_images(200, np.random.default_rng(5))[0],
                             np.random.default_rng(6).integers(0, 256, size=(100, 4, 4, 1), dtype=np.uint8)])
    vals = reference.run_values(graph, images)
    a, b = (vals[n].astype(np.int64) for n in merge.inputs)
    v = merge.multipliers_a.astype(np.int64) * a + merge.multipliers_b.astype(np.int64) * b + merge.bias
    d = merge.output.direction.astype(np.int64)
    above = d * v - merge.output.thresholds[:, 0]  # >= 0 <=> sign(.) = +1
    # independent: float64 PyTorch, module by module
    m64 = _real_skip_model(seed=3).double()
    with torch.no_grad():
        x = torch.from_numpy(images).double().div(255).permute(0, 3, 1, 2)
        h = m64[1](m64[0](x))
        r = m64[2](h)
        z = (h + r).numpy()
        size = (h.abs() + r.abs()).numpy()
    for c in range(z.shape[1]):
        big = np.abs(z[:, c]) > 1e-3
        ratio = above[big, c] / z[big, c]
        k = np.round(np.log2(np.median(ratio)))
        assert np.all(np.abs(ratio / 2.0**k - 1) < 1e-4), c  # one positive power of two per channel
        # |v − T − 2^k z| <= 1 (the threshold's ceiling) + 2^k·(fixed-point error, ~2^-31 of the terms)
        assert np.all(np.abs(above[:, c] - 2.0**k * z[:, c]) <= 1 + 2.0**k * 2.0**-20 * (size[:, c] + 1)), c
        assert np.array_equal(above[:, c] >= 0, z[:, c] >= 0), c  # no value lies that close to 0 here


def test_what_still_cannot_be_summed_is_refused_with_its_source_line():
    """Three real-valued terms before one activation, and bits plus a real value: no Merge holds
    them; refused at the add, quoting the line of forward() that does it, naming the fix."""
    model = _ThreeRealSequential(nn.Flatten(), BinaryLinear(16, 16, kernel_quantizer="lab"),
                                 BinaryLinear(16, 16, kernel_quantizer="lab", input_quantizer="sign"),
                                 BinaryLinear(16, 16, kernel_quantizer="lab", input_quantizer="sign"),
                                 BinaryLinear(16, 4, kernel_quantizer="lab", input_quantizer="sign")).eval()
    with pytest.raises(LoweringError, match=r"node 'add_1' .*test_lower\.py:\d+ `return self\[4\]\(self\[2\]\(h\) "
                                            r"\+ h \+ self\[3\]\(h\)\)`: sums 3 real-valued terms .*Merge adds two: "
                                            r"end each pairwise sum in a hard-threshold activation or a "
                                            r"binedge\.nn\.QuantInt8"):
        lower(model, (4, 4, 1))
    model = _BitsPlusRealSequential(nn.Flatten(), BinaryLinear(16, 16, kernel_quantizer="lab"), Sign(),
                                    BinaryLinear(16, 4, kernel_quantizer="lab", input_quantizer="sign")).eval()
    with pytest.raises(LoweringError, match=r"node 'add' .*test_lower\.py:\d+ .*adds hard-threshold outputs "
                                            r"\(bits\): .*add the real values before the activation"):
        lower(model, (4, 4, 1))


# ------------------------------------------------------------- Merge parameters against exact arithmetic


def _exact_level(z: Fraction, act) -> int:
    return sum((z > Fraction(t)) if act.strict else (z >= Fraction(t)) for t in act.thresholds)


def _merge_cases():
    """(A, B, C, max_a, max_b) per channel: dyadic coefficients (exact, thresholds hit exactly),
    both signs, one or both zero (constant channels), scales 2^10 apart, random ones."""
    rng = np.random.default_rng(0)
    cases = [(0.25, -0.5, 0.75, 7, 9), (-0.25, -0.5, 0.0, 7, 9), (0.0, 0.0, 0.5, 7, 9), (0.0, 0.0, -0.5, 7, 9),
             (0.0, 0.375, -1.0, 7, 9), (1.5, 2.0**-10, 0.0, 7, 9), (-3.0, 1.0, 0.5, 7, 9)]
    for _ in range(12):
        cases.append((float(rng.normal()), float(rng.normal() * 0.1), float(rng.normal() * 2), 7, 9))
    return cases


@pytest.mark.parametrize("act", [Sign(), Step(), QReLU(3), QReLU(5)], ids=["sign", "step", "qrelu2", "qrelu3"])
def test_merge_thresholds_match_exact_arithmetic(act):
    """Every (x_a, x_b) in the bounds: the Merge's level against the activation of the exact
    rational z = A·x_a + B·x_b + C; they may differ only within the documented fixed-point error
    2^-31·max(|A|, |B|)·(|x_a| + |x_b|) (×2 slack) of a threshold, and never for dyadic A, B."""
    cases = _merge_cases()
    A, B, C = (np.array([c[i] for c in cases]) for i in range(3))
    ma, mb, bias, stage = fold.merge_thresholds(A, B, C, 7, 9, act)
    assert ma.dtype == np.int32 and mb.dtype == np.int32 and bias.dtype == np.int64
    assert stage.thresholds.dtype == np.int64 and stage.thresholds.shape == (len(cases), len(act.thresholds))
    assert np.all(np.abs(ma.astype(np.int64)) * 7 + np.abs(mb.astype(np.int64)) * 9 + np.abs(bias) <= 2**62)
    xa, xb = np.meshgrid(np.arange(-7, 8), np.arange(-9, 10), indexing="ij")
    for ch, (a, b, c, _, _) in enumerate(cases):
        v = int(ma[ch]) * xa + int(mb[ch]) * xb + int(bias[ch])
        got = np.sum(int(stage.direction[ch]) * v[..., None] >= stage.thresholds[ch], axis=-1)
        dyadic = all(Fraction(q).denominator <= 2**20 for q in (a, b))
        for i, j in zip(*np.nonzero(np.ones_like(xa))):
            z = Fraction(a) * int(xa[i, j]) + Fraction(b) * int(xb[i, j]) + Fraction(c)
            want = _exact_level(z, act)
            if got[i, j] != want:
                tol = 2.0**-30 * max(abs(a), abs(b)) * (abs(int(xa[i, j])) + abs(int(xb[i, j])))
                assert not dyadic and min(abs(float(z) - t) for t in act.thresholds) <= tol, (ch, i, j)


def _exact_code(z: Fraction, scale: float, zp: int) -> int:
    u = z / Fraction(scale) + Fraction(1, 2)
    return max(-128, min(127, zp + u.numerator // u.denominator))


@pytest.mark.parametrize("scale,zp", [(0.25, 0), (0.1, -7), (0.0371, 100), (2.0**-9, -128)])
def test_merge_round_matches_exact_arithmetic(scale, zp):
    """requant(Ma·x_a + Mb·x_b + bias, s, zp) against clamp(zp + round_half_up(z / scale)) in exact
    rationals; differences only within the fixed-point error of a half-way point (none for dyadic
    coefficients and scale); saturated channels are the constant code."""
    cases = _merge_cases() + [(0.01, 0.02, 1000.0, 7, 9), (0.01, 0.02, -1000.0, 7, 9)]
    A, B, C = (np.array([c[i] for c in cases]) for i in range(3))
    ma, mb, bias, stage = fold.merge_round(A, B, C, 7, 9, scale, zp)
    assert isinstance(stage, RoundStage) and stage.shift.dtype == np.uint8 and stage.zero_point == zp
    for ch, (a, b, c, _, _) in enumerate(cases):
        s = int(stage.shift[ch])
        assert 0 <= s <= 62
        assert abs(int(ma[ch])) * 7 + abs(int(mb[ch])) * 9 + abs(int(bias[ch])) + (1 << s >> 1) <= 2**62
        dyadic = all((Fraction(q) / Fraction(scale)).denominator <= 2**20 for q in (a, b, c))
        for xa in range(-7, 8):
            for xb in range(-9, 10):
                v = int(ma[ch]) * xa + int(mb[ch]) * xb + int(bias[ch])
                got = max(-128, min(127, zp + ((v + (1 << s >> 1)) >> s)))  # the one rounding rule
                z = Fraction(a) * xa + Fraction(b) * xb + Fraction(c)
                want = _exact_code(z, scale, zp)
                if got != want:
                    w = z / Fraction(scale) - Fraction(1, 2)
                    dist = min(w - math.floor(w), math.floor(w) + 1 - w)  # to the nearest half-way point
                    tol = (abs(xa) + abs(xb) + 1) * 2.0**-s + 2.0**-30 * max(abs(a), abs(b)) / scale * (abs(xa) + abs(xb))
                    assert not dyadic and abs(got - want) == 1 and float(dist) <= tol, (ch, xa, xb, got, want)
    assert ma[-1] == mb[-1] == ma[-2] == mb[-2] == 0  # saturated: constant codes
    assert bias[-2] > 0 > bias[-1]


def test_merge_refuses_branches_at_incompatible_scales():
    with pytest.raises(fold.FoldError, match=r"branch b counts in units .* smaller than branch a's.*QuantInt8 on "
                                             r"branch b"):
        fold.merge_thresholds(np.array([1.0]), np.array([1e-9]), np.array([0.0]), 10, 2**30, Sign())
    with pytest.raises(fold.FoldError, match="not finite"):
        fold.merge_round(np.array([np.nan]), np.array([1.0]), np.array([0.0]), 10, 10, 0.1, 0)


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Sequential(nn.Flatten(), _DoubledLinear(4, 3, kernel_quantizer="lab")), "_DoubledLinear overrides"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                           BinaryLinear(3, 2, kernel_quantizer="lab", input_quantizer=_OddSign())), "hard_forward"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                           nn.BatchNorm1d(3, track_running_stats=False)), "track_running_stats"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 0, kernel_quantizer="lab")), "no outputs or no inputs"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(0, 3, kernel_quantizer="lab")), "no outputs or no inputs"),
    (lambda: nn.Sequential(BinaryConv2d(1, 0, 3, kernel_quantizer="lab"), nn.Flatten(),
                           BinaryLinear(0, 2, kernel_quantizer="lab", input_quantizer="sign")),
     "no outputs or no inputs"),
    (lambda: nn.Sequential(BinaryConv2d(1, 4, 5, kernel_quantizer="lab"), nn.Flatten(),
                           BinaryLinear(4, 2, kernel_quantizer="lab", input_quantizer="sign")), "larger than"),
    (lambda: nn.Sequential(BinaryConv2d(1, 4, 3, padding=1, kernel_quantizer="lab"), nn.MaxPool2d(4),
                           nn.Flatten(), BinaryLinear(4, 2, kernel_quantizer="lab", input_quantizer="sign")),
     "does not fit"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"), nn.BatchNorm1d(5)),
     "normalises 5 features"),
    (lambda: nn.Sequential(nn.Flatten(0), BinaryLinear(4, 3, kernel_quantizer="lab")), "start_dim=1"),
], ids=["overridden-layer", "custom-activation", "bn-no-stats", "zero-outputs", "zero-inputs", "zero-channels",
        "kernel-too-big", "pool-too-big", "bn-size", "flatten-dims"])
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_unprovable_models_are_refused_with_the_layer_named(make, match):
    model = make().eval()
    with pytest.raises(LoweringError, match=match) as e:
        lower(model, (3, 3, 1) if isinstance(model[0], BinaryConv2d) else (2, 2, 1))
    if match == "no outputs or no inputs":
        assert "give every layer at least one input and one output" in str(e.value)  # the fix, not only the problem


def test_forward_hooks_are_refused():
    model = nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab")).eval()
    handle = model[1].register_forward_hook(lambda mod, args, out: out * 2)
    with pytest.raises(LoweringError, match="layer 1 .*hooks"):
        lower(model, (2, 2, 1))
    handle.remove()
    lower(model, (2, 2, 1))  # without the hook it lowers
