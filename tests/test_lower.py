"""Lowering: threshold folding against brute force, and whole models against PyTorch."""

import numpy as np
import pytest
import torch
from torch import nn

from binedge import reference
from binedge.graph import Add, ScoreStage, ThresholdStage
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
    """The same skip over real-valued layer outputs: no integer op adds two accumulators."""

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


def test_a_real_valued_skip_connection_is_refused_with_its_source_line():
    """Adding two layers' real outputs has no exact integer form (their accumulators have
    incommensurable scales): refused at the add, quoting the line of forward() that does it."""
    model = _RealSkipSequential(nn.Flatten(), BinaryLinear(16, 16, kernel_quantizer="lab"),
                                BinaryLinear(16, 16, kernel_quantizer="lab", input_quantizer="sign"),
                                BinaryLinear(16, 4, kernel_quantizer="lab", input_quantizer="sign")).eval()
    with pytest.raises(LoweringError, match=r"node 'add' .*test_lower\.py:\d+ `return self\[3\]\(self\[2\]\(h\) "
                                            r"\+ h\)`: adds the real-valued output of layer 2 .*QuantInt8"):
        lower(model, (4, 4, 1))


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Sequential(nn.Flatten(), _DoubledLinear(4, 3, kernel_quantizer="lab")), "_DoubledLinear overrides"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                           BinaryLinear(3, 2, kernel_quantizer="lab", input_quantizer=_OddSign())), "hard_forward"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"),
                           nn.BatchNorm1d(3, track_running_stats=False)), "track_running_stats"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 0, kernel_quantizer="lab")), "no outputs or no inputs"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(0, 3, kernel_quantizer="lab")), "no outputs or no inputs"),
    (lambda: nn.Sequential(BinaryConv2d(1, 4, 5, kernel_quantizer="lab"), nn.Flatten(),
                           BinaryLinear(4, 2, kernel_quantizer="lab", input_quantizer="sign")), "larger than"),
    (lambda: nn.Sequential(BinaryConv2d(1, 4, 3, padding=1, kernel_quantizer="lab"), nn.MaxPool2d(4),
                           nn.Flatten(), BinaryLinear(4, 2, kernel_quantizer="lab", input_quantizer="sign")),
     "does not fit"),
    (lambda: nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab"), nn.BatchNorm1d(5)),
     "normalises 5 features"),
    (lambda: nn.Sequential(nn.Flatten(0), BinaryLinear(4, 3, kernel_quantizer="lab")), "start_dim=1"),
], ids=["overridden-layer", "custom-activation", "bn-no-stats", "zero-outputs", "zero-inputs", "kernel-too-big",
        "pool-too-big", "bn-size", "flatten-dims"])
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_unprovable_models_are_refused_with_the_layer_named(make, match):
    model = make().eval()
    with pytest.raises(LoweringError, match=match):
        lower(model, (3, 3, 1) if isinstance(model[0], BinaryConv2d) else (2, 2, 1))


def test_forward_hooks_are_refused():
    model = nn.Sequential(nn.Flatten(), BinaryLinear(4, 3, kernel_quantizer="lab")).eval()
    handle = model[1].register_forward_hook(lambda mod, args, out: out * 2)
    with pytest.raises(LoweringError, match="layer 1 .*hooks"):
        lower(model, (2, 2, 1))
    handle.remove()
    lower(model, (2, 2, 1))  # without the hook it lowers
