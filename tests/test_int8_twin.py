"""The all-int8 twins of the zoo models (``--weights int8 --activation int8``, benchmarks/frontier.py):
the int8 quantized ReLU (binedge.nn.QuantInt8(relu=True)) against a float64 / Fraction oracle
written here, and the twins of the MLP, the VGG and the ResNet lowered by binedge.convert (0
disagreements without a tie, every int8 code equal to float64 PyTorch's, no binary weight and
no threshold left in the graph) and run on the C runtime (ref and auto kernels) bit-exactly."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cli_checks import clean_error
from click.testing import CliRunner
from convert_checks import calibrate, check_model, image_inputs

from binedge import reference
from binedge.cli import main
from binedge.converter import image_spec
from binedge.graph import Add, Conv2d, Dense, Merge, Requantize, Threshold
from binedge.models import ModelConfig, ModelError, build_model
from binedge.nn import QuantInt8, get_activation
from binedge.optim import LAB
from binedge.runtime import Runtime


def _relu_code(x: float, s: float) -> int:
    """The oracle: the code of an int8 quantized ReLU with scale s (zero point -128), computed
    with exact rationals: clamp(floor(x/s + 1/2), 0, 255) - 128 (halves up)."""
    v = Fraction(x) / Fraction(s) + Fraction(1, 2)
    return min(max(math.floor(v), 0), 255) - 128


def test_relu_quantizer_calibrates_zero_to_the_lowest_code():
    q = QuantInt8(relu=True, momentum=1.0)
    x = torch.tensor([[-3.0, -0.01, 0.0, 0.4, 2.55]])
    q.train()
    q(x)
    assert int(q.zero_point) == -128
    assert float(q.scale) == pytest.approx(2.55 / 255, rel=1e-7)  # hi / 255, the minimum -3 ignored
    assert q.extra_repr().startswith("asymmetric, relu")


def test_relu_quantizer_forward_and_gradient_match_the_oracle():
    s = 2.0**-6  # a power of two: k·s/2 are exact halves in float and in the oracle alike
    q = QuantInt8(scale=s, relu=True)  # fixed scale: zero point -128 by default
    assert int(q.zero_point) == -128
    # negatives, the -s/2 boundary, exact halves (they round up), the top code and beyond
    xs = [-1.0, -0.6 * s, -0.5 * s, -0.4 * s, 0.0, 0.4 * s, 0.5 * s, 1.5 * s, 2.5 * s, 1.0, 254.5 * s, 255.4 * s,
          255.5 * s, 9.0]
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    y = q(x)
    want = [(_relu_code(v, s) + 128) * s for v in xs]
    assert y.detach().tolist() == want
    assert q.codes(x.detach()).tolist() == [_relu_code(v, s) for v in xs]
    assert all(v >= 0 for v in y.detach().tolist())  # a ReLU: nothing below real 0
    y.sum().backward()
    # straight through inside the code range: round(x/s) - 128 in [-128, 127], i.e. x/s in [-1/2, 255.5)
    inside = [1.0 if -0.5 <= Fraction(v) / Fraction(s) < 255.5 else 0.0 for v in xs]
    assert x.grad.tolist() == inside


@pytest.mark.parametrize("kw,match", [
    ({"relu": True, "symmetric": True}, "cannot be symmetric"),
    ({"relu": True, "scale": 0.1, "zero_point": 0}, "needs zero point -128"),
])
def test_relu_quantizer_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        QuantInt8(**kw)


def test_int8_activation_name():
    a = get_activation("int8")
    assert isinstance(a, QuantInt8) and a.relu and not a.fixed and a.pad_value == 0.0


def _steps(model, shape, classes, steps=3):
    g = torch.Generator().manual_seed(0)
    opt = LAB(model, lr=0.01)
    model.train()
    for _ in range(steps):
        x = torch.rand((16, shape[2], shape[0], shape[1]), generator=g)
        y = torch.randint(0, classes, (16,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


TWINS = [
    dict(model="mlp", hidden=24, depth=2, image_shape=[12, 12, 1]),
    dict(model="vgg", widths=[8, 16], fc=20, image_shape=[12, 12, 1]),
    dict(model="vgg", widths=[5], fc=9, image_shape=[9, 11, 3]),
    dict(model="resnet", widths=[8, 16], blocks=[1, 1], shortcut="add", image_shape=[12, 12, 1]),
    dict(model="resnet", widths=[7, 9, 12], blocks=[0, 2, 1], shortcut="add", image_shape=[13, 11, 3]),
]


@pytest.mark.parametrize("kw", TWINS, ids=lambda kw: f"{kw['model']}-{'x'.join(map(str, kw['image_shape']))}")
def test_int8_twin_lowers_exactly_and_runs_on_the_c_runtime(kw):
    cfg = ModelConfig(weights="int8", activation="int8", num_classes=7, **kw)
    torch.manual_seed(1)
    shape = cfg.image_shape
    model = _steps(build_model(cfg), shape, 7)
    h, w, c = shape
    example = torch.zeros(2, c, h, w)
    calibrate(model, example)
    x = image_inputs(np.random.default_rng(3), 96, h, w, c)
    # every standalone QuantInt8 (the ResNet's stem, branches, sums, pools) compared code by code with
    # float64 PyTorch; an input quantizer inside a layer is no graph node of its own (MLP, VGG)
    inner = {id(m.input_quantizer) for m in model.modules() if getattr(m, "input_quantizer", None) is not None}
    n_quant = sum(isinstance(m, QuantInt8) and id(m) not in inner for m in model.modules())
    graph, rep = check_model(model, example, x, input_spec=image_spec((h, w, c)), min_values=n_quant)
    ops = graph.ops
    weights = [op for op in ops if isinstance(op, (Conv2d, Dense))]
    assert weights and all(op.weight_kind == "int8" for op in weights)  # no binary layer left
    assert not [op for op in ops if isinstance(op, (Threshold, Merge))]  # no hard threshold, no Merge
    if cfg.model == "resnet":
        assert sum(isinstance(op, Add) for op in ops) == sum(cfg.blocks)  # int8 residual adds
        assert sum(isinstance(op, Requantize) for op in ops) == sum(cfg.blocks)  # relu(x) of each block
    want = reference.run(graph, x)
    assert len(np.unique(want, axis=0)) > 1
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(x), want), kernel


def test_int8_resnet_with_merge_is_refused_before_building():
    with pytest.raises(ModelError, match="--shortcut add"):
        build_model(ModelConfig(model="resnet", weights="int8", activation="int8"))


def _train_cli(tmp_path, *args):
    return CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--limit", "200", "--epochs", "1", "--quiet",
                                     "-o", str(tmp_path / "run"), *args])


@pytest.mark.parametrize("args,text", [
    (["--model", "resnet", "--weights", "int8", "--activation", "int8"], "--shortcut add"),
    (["--model", "vgg", "--weights", "int8", "--activation", "int8", "--epochs", "2", "--two-stage"],
     "not int8"),
])
def test_cli_int8_errors_are_one_line(tmp_path, args, text):
    out = clean_error(_train_cli(tmp_path, *args))
    assert text in out
    assert not (tmp_path / "run").exists()
