"""RSign (ReActNet's sign with a learnable per-channel shift, binedge.nn.RSign): its forward and
gradients against hand computations, and its exact lowering to per-channel integer thresholds in
every zoo model (every QuantInt8 / activation output of the graph equals float64 PyTorch's, the
C runtime equals the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from click.testing import CliRunner
from convert_checks import calibrate, check_model, image_inputs

from binedge import reference
from binedge.cli import main
from binedge.converter import image_spec
from binedge.graph import Threshold
from binedge.converter import convert
from binedge.fxtrace import LoweringError
from binedge.models import ModelConfig, ModelError, build_model
from binedge.nn import BinaryConv2d, BinaryLinear, RSign, Sign, get_activation
from binedge.runtime import Runtime


def test_forward_is_sign_of_the_shifted_input_and_starts_as_sign():
    z = torch.tensor([[[[-1.0, 0.3], [0.0, 2.0]], [[0.5, -0.2], [0.1, 0.0]]]])  # (N, C, H, W)
    r = RSign(2)
    assert torch.equal(r(z), Sign()(z))  # b = 0
    with torch.no_grad():
        r.shift.copy_(torch.tensor([0.3, -0.2]))
    b = torch.tensor([0.3, -0.2]).view(1, 2, 1, 1)
    want = torch.where(z >= b, 1.0, -1.0)  # sign(0) = +1: z = b gives +1
    assert torch.equal(r(z), want) and int((z == b).sum()) == 2
    assert torch.equal(RSign(3)(torch.tensor([[0.0, -1.0, 1.0]])), torch.tensor([[1.0, -1.0, 1.0]]))  # (N, F)


@pytest.mark.parametrize("rule", ["ste", "sste", "ftprop"])
def test_gradients_reach_the_input_and_the_shift(rule):
    torch.manual_seed(0)
    z = (torch.randn(4, 3, 5, 5) * 1.5).requires_grad_()
    r = RSign(3, rule)
    with torch.no_grad():
        r.shift.copy_(torch.tensor([0.4, -0.7, 0.0]))
    g = torch.randn(4, 3, 5, 5)
    r(z).backward(g)
    u = (z - r.shift.view(1, 3, 1, 1)).detach()
    local = {"ste": g, "sste": g * (u.abs() <= 1), "ftprop": g / torch.cosh(u) ** 2}[rule]
    assert torch.allclose(z.grad, local, atol=1e-6)
    assert torch.allclose(r.shift.grad, -local.sum((0, 2, 3)), atol=1e-5)


def test_bad_uses_are_clear_errors():
    with pytest.raises(ValueError, match="give channels="):
        get_activation("rsign")
    assert isinstance(get_activation("rsign:ftprop", channels=4), RSign)
    with pytest.raises(ValueError, match="dimension 1 must hold its 4 channels"):
        RSign(4)(torch.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match="positive channel count"):
        RSign(0)


def _shifted(model, seed: int, spread: float):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, RSign):
            with torch.no_grad():
                m.shift.copy_((torch.rand(m.shift.shape, generator=g) * 2 - 1) * spread)
    return model


@pytest.mark.parametrize("kw", [
    dict(model="resnet", widths=[8, 16], blocks=[1, 1], shortcut="merge"),
    dict(model="resnet", widths=[7, 9, 33], blocks=[1, 0, 1], shortcut="add", downsample="binary", weights="bwn",
         rule="ftprop"),
])
def test_resnets_lower_rsign_exactly(kw):
    """Shifts of up to ±1 (dozens of int8 codes of the shortcut values): the lowering's
    per-channel Threshold ops on int8 codes reproduce float64 PyTorch at every activation, and the
    C runtime reproduces the reference."""
    kw = dict(kw)
    kw.setdefault("weights", "lab")
    h, w, c = (12, 12, 1)
    torch.manual_seed(2)
    model = build_model(ModelConfig(activation="rsign", image_shape=[h, w, c], num_classes=5, **kw))
    example = torch.zeros(2, c, h, w)
    calibrate(model, example)
    _shifted(model, 5, 1.0).eval()
    x = image_inputs(np.random.default_rng(3), 64, h, w, c)
    graph, _ = check_model(model, example, x, input_spec=image_spec((h, w, c)), min_values=4, min_agreement=0.95)
    t = [op.stage.thresholds[:, 0] for op in graph.ops if isinstance(op, Threshold)]
    assert len(t) == sum(kw["blocks"]) and all(len(np.unique(v)) > 2 for v in t)  # per channel, not all alike
    want = reference.run(graph, x)
    for kernel in ("ref", "auto"):
        assert np.array_equal(Runtime(graph, kernel=kernel).run(x), want), kernel


def test_rsign_after_a_batchnorm_lowers_into_its_thresholds():
    """A user model with RSign after BatchNorm on a map and on a feature vector: the shifts fold
    into the integer thresholds on the accumulators (exact against float64 PyTorch); an RSign on
    a flattened map's features (one shift per position) is refused, saying why."""
    torch.manual_seed(4)

    def net(flat_rsign: bool):  # the activations as their own modules: each output is compared
        return nn.Sequential(
            BinaryConv2d(1, 6, 3, padding=1, bias=False, kernel_quantizer="lab"), nn.BatchNorm2d(6), RSign(6),
            BinaryConv2d(6, 8, 3, bias=False, kernel_quantizer="lab"), nn.BatchNorm2d(8), nn.MaxPool2d(2),
            nn.Flatten(), RSign(8 * 25) if flat_rsign else Sign(),
            BinaryLinear(8 * 25, 16, bias=False, kernel_quantizer="lab"), nn.BatchNorm1d(16), RSign(16),
            BinaryLinear(16, 5, bias=False, kernel_quantizer="lab"), nn.BatchNorm1d(5))

    example = torch.zeros(2, 1, 12, 12)
    model = _shifted(calibrate(net(False), example), 6, 1.5)
    x = image_inputs(np.random.default_rng(5), 64, 12, 12, 1)
    graph, _ = check_model(model, example, x, input_spec=image_spec((12, 12, 1)), min_values=3, min_agreement=0.95)
    assert np.array_equal(Runtime(graph, kernel="auto").run(x), reference.run(graph, x))
    bad = _shifted(calibrate(net(True), example), 6, 1.5)
    with pytest.raises(LoweringError, match="one shift per channel of the map, applied before the flatten"):
        convert(bad, example, input_spec=image_spec((12, 12, 1)))


def test_zoo_models_other_than_resnet_refuse_rsign():
    with pytest.raises(ModelError, match="whose bias is that shift: use --activation sign"):
        build_model(ModelConfig(model="vgg", activation="rsign", image_shape=[12, 12, 1], num_classes=5))


def test_cli_trains_and_exports_rsign(tmp_path):
    out = tmp_path / "r"
    r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--limit", "200", "--epochs", "1", "--quiet",
                                  "--model", "resnet", "--widths", "8,16", "--blocks", "1,1", "--activation", "rsign",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    state = torch.load(out / "best.pt", weights_only=False)["model"]
    shifts = [k for k in state if k.endswith("shift")]
    assert len(shifts) == 2 and any(float(state[k].abs().max()) > 0 for k in shifts)  # trained away from 0
    r = CliRunner().invoke(main, ["export", str(out), "--format", "blob", "-o", str(tmp_path / "e")])
    assert r.exit_code == 0 and "disagreements without a tie: 0" in r.output, r.output
