"""Lowering: threshold folding against brute force, and whole models against PyTorch."""

import numpy as np
import pytest
import torch
from torch import nn

from binedge import reference
from binedge.graph import ScoreStage, ThresholdStage
from binedge.lower import INT32_MAX, INT32_MIN, LoweringError, _thresholds, agreement, lower
from binedge.models import ModelConfig, build_model
from binedge.nn import BinaryConv2d, BinaryLinear, QReLU, Sign, Step


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
