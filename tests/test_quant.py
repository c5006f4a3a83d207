"""Int8 fake quantization (binedge.nn.quant) against hand values and the graph's rounding rule."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from binedge.graph import requant, rshift
from binedge.nn import BinaryConv2d, BinaryLinear, Int8Weights, QuantInt8, round_half_up
from binedge.optim import LAB


def test_round_half_up_by_hand():
    x = torch.tensor([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.50000006, 3.0, -3.0, 1e9 + 0.5],
                     dtype=torch.float64)
    assert round_half_up(x).tolist() == [1, 0, 2, -1, 3, -2, 0, -1, 3, -3, 1e9 + 1]
    # float32: 0.49999997 + 0.5 rounds to 1.0, floor(v + 0.5) would give 1; the exact rule gives 0
    assert round_half_up(torch.tensor([0.49999997])).item() == 0.0
    assert torch.round(torch.tensor([0.5, 2.5])).tolist() == [0.0, 2.0]  # why torch.round is not used


def test_round_half_up_is_the_graphs_rshift():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.integers(-(2**40), 2**40, size=2000), np.arange(-40, 41)]).astype(np.int64)
    for s in (1, 2, 3, 7, 12):
        got = round_half_up(torch.from_numpy(v.astype(np.float64) / 2.0**s)).numpy().astype(np.int64)
        assert np.array_equal(got, rshift(v, s)), s


def test_fixed_scale_quantizer_by_hand():
    q = QuantInt8(scale=0.5, zero_point=3)
    x = torch.tensor([0.25, -0.25, 0.75, -0.75, 0.0, 0.2, 100.0, -100.0, 62.0, 62.25])
    # code = clamp(round_half_up(x / 0.5) + 3, -128, 127): halves go up, both ends saturate
    assert q.codes(x).tolist() == [4, 3, 5, 2, 3, 3, 127, -128, 127, 127]
    assert q(x).tolist() == [0.5, 0.0, 1.0, -0.5, 0.0, 0.0, 62.0, -65.5, 62.0, 62.0]
    q.train()
    q(torch.randn(100) * 50)  # fixed: training does not move it
    assert float(q.scale) == 0.5 and int(q.zero_point) == 3 and bool(q.calibrated)


def test_quantizer_matches_the_graphs_requant_on_exact_values():
    """QuantInt8 applied to acc·2^-s (exact in float) is requant(acc, s, zp) with scale 1."""
    rng = np.random.default_rng(1)
    acc = rng.integers(-5000, 5000, size=4000).astype(np.int64)
    for s, zp in ((0, 0), (3, -7), (5, 100), (8, -128)):
        q = QuantInt8(scale=1.0, zero_point=zp)
        got = q.codes(torch.from_numpy(acc.astype(np.float64) / 2.0**s)).numpy()
        assert np.array_equal(got, requant(acc, s, zp)), (s, zp)


def test_straight_through_gradient_inside_the_range_only():
    q = QuantInt8(scale=1.0)
    x = torch.tensor([-200.0, -128.4, -128.6, 0.3, 126.6, 127.4, 127.6, 300.0], requires_grad=True)
    q(x).sum().backward()
    # codes: -200 and -128.6 -> -129 (saturated), 126.6 -> 127 inside, 127.6 / 300 saturated
    assert x.grad.tolist() == [0, 1, 0, 1, 1, 1, 0, 0]


def test_calibration_ema_asymmetric_and_symmetric():
    q = QuantInt8(momentum=0.5)
    assert not bool(q.calibrated)
    q.train()
    q(torch.tensor([-1.0, 3.0]))  # the first batch sets min / max
    assert float(q.running_min) == -1.0 and float(q.running_max) == 3.0
    s = 4.0 / 255
    assert float(q.scale) == pytest.approx(s) and int(q.zero_point) == int(np.floor(-128 + 1.0 / s + 0.5))
    q(torch.tensor([-3.0, 3.0]))  # EMA: m = 0.5 m + 0.5 batch
    assert float(q.running_min) == -2.0 and float(q.running_max) == 3.0
    assert int(q.zero_point) == -128 + 102 and float(q.scale) == pytest.approx(5.0 / 255)  # 2 / (5 / 255) = 102
    # real 0 is always exactly the code zp: the range is widened to include 0
    p = QuantInt8()
    p.train()
    p(torch.tensor([2.0, 5.0]))
    assert int(p.zero_point) == -128 and float(p.scale) == pytest.approx(5.0 / 255)
    assert p(torch.tensor([0.0])).item() == 0.0
    # symmetric: zp = 0, s = max|x| / 127
    r = QuantInt8(symmetric=True)
    r.train()
    r(torch.tensor([-6.35, 2.0]))
    assert int(r.zero_point) == 0 and float(r.scale) == pytest.approx(0.05)
    # eval mode freezes the buffers
    r.eval()
    r(torch.tensor([-100.0, 100.0]))
    assert float(r.scale) == pytest.approx(0.05)
    assert bool(r.calibrated)


def test_quantizer_state_survives_a_state_dict_round_trip():
    q = QuantInt8()
    q.train()
    q(torch.randn(64) * 3)
    r = QuantInt8()
    r.load_state_dict(q.state_dict())
    assert bool(r.calibrated) and float(r.scale) == float(q.scale) and int(r.zero_point) == int(q.zero_point)


@pytest.mark.parametrize("kwargs,match", [
    ({"scale": 0.0}, "positive"), ({"scale": float("inf")}, "positive"), ({"zero_point": 3}, "fixed scale"),
    ({"scale": 1.0, "zero_point": 200}, r"\[-128, 127\]"), ({"scale": 1.0, "zero_point": 1.5}, "integer"),
    ({"symmetric": True, "scale": 1.0, "zero_point": 2}, "zero point 0"), ({"momentum": 0.0}, "momentum"),
])
def test_quantizer_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantInt8(**kwargs)


# ----------------------------------------------------------------------------- int8 weights


def test_int8_weights_are_int8_times_a_per_channel_scale():
    torch.manual_seed(0)
    layer = BinaryConv2d(5, 7, 3, kernel_quantizer="int8")
    with torch.no_grad():
        layer.weight[3].zero_()  # an all-zero channel: scale 1, codes 0
    q, s = layer.kernel_quantizer.codes(layer.weight)
    w = layer.weight.detach()
    assert torch.equal(q, torch.floor(w / s.view(-1, 1, 1, 1) + 0.5).clamp(-127, 127))
    assert torch.all(q.abs().amax(dim=(1, 2, 3))[[0, 1, 2, 4, 5, 6]] == 127) and float(s[3]) == 1.0
    m = w.abs().amax(dim=(1, 2, 3))
    assert torch.allclose(s[m > 0], m[m > 0] / 127, rtol=2.0**-17, atol=0)
    assert torch.equal(layer.quantized_weight(), q * s.view(-1, 1, 1, 1))
    # 17-bit scales: every q·s is exact in float32 (as float64 products show)
    assert torch.equal((q * s.view(-1, 1, 1, 1)).double(), q.double() * s.double().view(-1, 1, 1, 1))
    assert not layer.is_binary and isinstance(layer.kernel_quantizer, Int8Weights)


def test_int8_layer_accumulates_exact_integers():
    """Over integer inputs, the int8 layer's output divided by its channel scale is Σ q·x."""
    torch.manual_seed(1)
    conv = BinaryConv2d(3, 4, 3, padding=1, stride=2, bias=False, kernel_quantizer="int8")
    x = torch.randint(-128, 128, (2, 3, 9, 7)).double()
    q, s = conv.kernel_quantizer.codes(conv.weight)
    out = F.conv2d(x, (q * s.view(-1, 1, 1, 1)).double(), None, 2, 1) / s.double().view(1, -1, 1, 1)
    want = F.conv2d(x, q.double(), None, 2, 1)
    assert torch.equal(out, want)
    lin = BinaryLinear(6, 3, bias=False, kernel_quantizer="int8")
    q, s = lin.kernel_quantizer.codes(lin.weight)
    xl = torch.randint(0, 256, (5, 6)).float()
    assert torch.allclose(lin(xl), xl @ (q * s.view(-1, 1)).T)


def test_int8_weights_pass_the_gradient_straight_through_and_lab_leaves_them_unclipped():
    layer = BinaryLinear(3, 1, bias=False, kernel_quantizer="int8")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[2.5, -0.5, 0.1]]))
    layer(torch.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert layer.weight.grad.tolist() == [[1.0, 2.0, 3.0]]
    model = torch.nn.Sequential(layer)
    opt = LAB(model, lr=0.0)
    opt.step()
    assert layer.weight[0, 0].item() == 2.5  # int8 weights are not binary: no [-1, 1] clipping


def test_quantizer_as_input_quantizer_pads_with_real_zero():
    conv = BinaryConv2d(1, 1, 3, padding=1, bias=False, kernel_quantizer="int8", input_quantizer=QuantInt8(scale=0.5))
    with torch.no_grad():
        conv.weight.fill_(1.0)
    out = conv(torch.full((1, 1, 3, 3), 1.2))  # 1.2 -> code 2 -> 1.0; corners see 4 inputs and 5 zeros
    w = conv.quantized_weight()[0, 0, 0, 0].item()  # 1 as int8: 127 · s, s = 1/127 to 17 bits
    assert out[0, 0, 0, 0].item() == pytest.approx(4.0 * w) and out[0, 0, 1, 1].item() == pytest.approx(9.0 * w)
