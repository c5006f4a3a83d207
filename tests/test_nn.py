"""Binary layers, weight quantizers, the LAB optimizer and the activations' training rules."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from binedge.nn import BinaryConv2d, BinaryLinear, QReLU, Sign, Step, get_activation, get_kernel_quantizer
from binedge.optim import LAB


def test_plain_linear_equals_torch():
    torch.manual_seed(0)
    ref = nn.Linear(13, 7)
    ours = BinaryLinear(13, 7)
    ours.load_state_dict(ref.state_dict(), strict=False)
    x = torch.randn(5, 13)
    assert torch.equal(ours(x), ref(x))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_plain_conv_equals_torch(stride, padding):
    torch.manual_seed(1)
    ref = nn.Conv2d(3, 5, 3, stride=stride, padding=padding)
    ours = BinaryConv2d(3, 5, 3, stride=stride, padding=padding)
    ours.load_state_dict(ref.state_dict(), strict=False)
    x = torch.randn(2, 3, 9, 8)
    assert torch.equal(ours(x), ref(x))


def test_binaryconnect_sign_of_zero_is_plus_one():
    layer = BinaryLinear(4, 1, bias=False, kernel_quantizer="binaryconnect")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, -0.2, 0.3, -0.0]]))
    assert layer.quantized_weight().tolist() == [[1.0, -1.0, 1.0, 1.0]]


def test_bwn_scale_is_mean_abs():
    layer = BinaryLinear(3, 2, bias=False, kernel_quantizer="bwn")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -0.1, 0.2], [-0.4, 0.3, 0.0]]))
    alpha = (0.5 + 0.1 + 0.2 + 0.4 + 0.3 + 0.0) / 6
    expect = alpha * torch.tensor([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])
    assert torch.allclose(layer.quantized_weight(), expect)


def test_gradient_passes_straight_through_to_latent_weight():
    layer = BinaryLinear(3, 1, bias=False, kernel_quantizer="bwn")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[2.0, -0.5, 0.1]]))  # |w| > 1 too: no mask
    x = torch.tensor([[1.0, 2.0, 3.0]])
    layer(x).sum().backward()
    # d(sum ŵ·x)/dŵ = x, applied unchanged to w.
    assert layer.weight.grad.tolist() == [[1.0, 2.0, 3.0]]


def test_binary_conv_pads_sign_input_with_plus_one():
    # All inputs negative -> sign -1; weights all +1. A 3x3 window at a corner sees
    # 4 real inputs (-1 each) and 5 padded positions (+1 each): 4·(-1) + 5·(+1) = +1.
    conv = BinaryConv2d(1, 1, 3, padding=1, bias=False, kernel_quantizer="binaryconnect", input_quantizer="sign")
    with torch.no_grad():
        conv.weight.fill_(0.3)
    out = conv(-torch.ones(1, 1, 4, 4))
    assert out[0, 0, 0, 0].item() == 1.0
    assert out[0, 0, 1, 1].item() == -9.0  # interior: nine -1
    assert out[0, 0, 0, 1].item() == -3.0  # edge: 6·(-1) + 3·(+1)


def test_binary_conv_pads_qrelu_input_with_zero():
    conv = BinaryConv2d(1, 1, 3, padding=1, bias=False, kernel_quantizer="binaryconnect", input_quantizer="qrelu2")
    with torch.no_grad():
        conv.weight.fill_(1.0)
    out = conv(torch.full((1, 1, 3, 3), 2.0))  # every input saturates at level 3/3 = 1
    assert out[0, 0, 0, 0].item() == 4.0 and out[0, 0, 1, 1].item() == 9.0


def test_quantizers_resolve_from_strings_and_reject_unknown():
    assert get_kernel_quantizer("none") is None and get_kernel_quantizer("lab").name == "lab"
    with pytest.raises(ValueError, match="unknown kernel quantizer"):
        get_kernel_quantizer("ternary")
    assert isinstance(get_activation("sign:ftprop"), Sign) and get_activation("sign:ftprop").rule == "ftprop"
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("gelu")
    with pytest.raises(ValueError, match="unknown training rule"):
        get_activation("sign:magic")


# ---------------------------------------------------------------- LAB


def _lab_layer(w):
    model = nn.Sequential(BinaryLinear(w.shape[1], w.shape[0], bias=False, kernel_quantizer="lab"))
    with torch.no_grad():
        model[0].weight.copy_(w)
    return model


def test_lab_scale_after_one_step_matches_hand_computation():
    w0 = torch.tensor([[0.5, -0.2, 0.05], [-0.7, 0.1, 0.3]])
    model = _lab_layer(w0)
    lr, eps = 0.01, 1e-8
    opt = LAB(model, lr=lr, eps=eps)
    assert math.isclose(float(model[0].kernel_scale), float(w0.abs().mean()), rel_tol=1e-6)  # BWN before step 1
    g = torch.tensor([[0.3, -2.0, 0.01], [1.0, 0.5, -0.2]])
    model[0].weight.grad = g.clone()
    opt.step()
    # Adam's first step: m̂ = g, v̂ = g², so w1 = w0 - lr·g/(|g| + eps); d = |g| + eps.
    w1 = (w0 - lr * g / (g.abs() + eps)).clamp(-1, 1)
    d = g.abs() + eps
    alpha = float((d * w1.abs()).sum() / d.sum())
    assert torch.allclose(model[0].weight, w1, atol=1e-7)
    assert math.isclose(float(model[0].kernel_scale), alpha, rel_tol=1e-5)


def test_lab_curvature_on_the_device_equals_the_host_formula():
    """A capturable LAB (CUDA graphs) computes d = √(v / (1 − β₂^t)) + ε with the step count t
    as a tensor, on the device; the host path reads t as a float. Independent oracle: the
    bias-corrected second moment computed by hand from the gradients of three steps."""
    torch.manual_seed(4)
    w = torch.rand(3, 5) * 2 - 1
    model = _lab_layer(w)
    opt = LAB(model, lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    grads = [torch.randn(3, 5) for _ in range(3)]
    v = torch.zeros(3, 5, dtype=torch.float64)
    for g in grads:
        model[0].weight.grad = g.clone()
        opt.step()
        v = 0.99 * v + 0.01 * g.double() ** 2
    expect = (v / (1 - 0.99 ** 3)).sqrt() + 1e-8
    host = opt.curvature(model[0].weight)
    for group in opt.param_groups:
        group["capturable"] = True  # the device formula, here on CPU tensors
    device = opt.curvature(model[0].weight)
    assert torch.allclose(host.double(), expect, rtol=1e-5) and torch.allclose(device.double(), expect, rtol=1e-5)


def test_lab_with_constant_curvature_is_bwn():
    torch.manual_seed(0)
    w = torch.rand(4, 6) * 2 - 1
    assert math.isclose(float(LAB.lab_scale(w, torch.full_like(w, 3.7))), float(w.abs().mean()), rel_tol=1e-6)
    model = _lab_layer(w)
    opt = LAB(model, lr=0.0)
    model[0].weight.grad = torch.ones_like(w)  # constant |g| -> constant v̂ -> constant d
    opt.step()
    assert math.isclose(float(model[0].kernel_scale), float(w.abs().mean()), rel_tol=1e-5)


def test_lab_with_scale_fixed_to_one_is_binaryconnect():
    torch.manual_seed(2)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))

    def make(q):
        torch.manual_seed(3)
        return nn.Sequential(BinaryLinear(8, 3, kernel_quantizer=q))

    bc, lab = make("binaryconnect"), make("lab")
    lab[0].kernel_scale.fill_(1.0)
    opt_bc, opt_lab = LAB(bc, lr=0.05), LAB(lab, lr=0.05, update_scale=False)
    lab[0].kernel_scale.fill_(1.0)
    for _ in range(5):
        for m, o in ((bc, opt_bc), (lab, opt_lab)):
            o.zero_grad()
            F.cross_entropy(m(x), y).backward()
            o.step()
    assert torch.equal(bc[0].weight, lab[0].weight)


def test_lab_clips_latent_weights_and_leaves_bias_alone():
    model = _lab_layer(torch.tensor([[0.99, -0.99]]))
    model.append(nn.BatchNorm1d(1))
    opt = LAB(model, lr=0.5)
    model[0].weight.grad = torch.tensor([[-1.0, 1.0]])
    model[1].bias.grad = torch.tensor([-1.0])
    opt.step()
    assert model[0].weight.tolist() == [[1.0, -1.0]]
    assert model[1].bias.item() > 0.49  # plain Adam, no clip


# ---------------------------------------------------------------- activation rules


def _grad(act, z, g):
    z = z.clone().requires_grad_(True)
    out = act(z)
    out.backward(g)
    return out.detach(), z.grad


Z = torch.tensor([[-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5]])
G = torch.tensor([[0.5, -1.0, 2.0, -0.25, 1.0, -3.0, 0.0, 4.0]])


def test_sign_forward_and_rules():
    out, g_ste = _grad(Sign("ste"), Z, G)
    assert out.tolist() == [[-1, -1, -1, 1, 1, 1, 1, 1]]
    assert torch.equal(g_ste, G)
    _, g_sste = _grad(Sign("sste"), Z, G)
    assert g_sste.tolist() == [[0.0, -1.0, 2.0, -0.25, 1.0, -3.0, 0.0, 0.0]]
    _, g_ft = _grad(Sign("ftprop"), Z, G)
    expect = [g * (1 / math.cosh(z)) ** 2 for z, g in zip(Z[0].tolist(), G[0].tolist())]
    assert torch.allclose(g_ft[0], torch.tensor(expect))


def test_ftprop_unweighted_uses_only_the_target_sign():
    _, g = _grad(Sign("ftprop", weighted=False), Z, G)
    n = Z.shape[0]
    expect = []
    for z, gi in zip(Z[0].tolist(), G[0].tolist()):
        t = 0.0 if gi == 0 else (-1.0 if gi > 0 else 1.0)  # t = sign(-g)
        expect.append(-t * (1 / math.cosh(z)) ** 2 / n)
    assert torch.allclose(g[0], torch.tensor(expect))


def test_step_forward_convention():
    out, _ = _grad(Step("sste"), Z, G)
    assert out.tolist() == [[0, 0, 0, 0, 1, 1, 1, 1]]  # step(0) = 0


@pytest.mark.parametrize("n,levels", [
    (3, [0, 0, 0, 0, 1, 1, 2, 3]),  # thresholds z > 0, > 0.5, > 1
    (5, [0, 0, 0, 0, 1, 2, 4, 5]),  # thresholds every 0.25
])
def test_qrelu_levels_match_the_paper(n, levels):
    out, _ = _grad(QReLU(n, "sste"), Z, G)
    assert torch.allclose(out[0] * n, torch.tensor(levels, dtype=torch.float32))


def test_qrelu_backward_rules():
    _, g = _grad(QReLU(3, "sste"), Z, G)
    assert g.tolist() == [[0.0, 0.0, 0.0, -0.25, 1.0, -3.0, 0.0, 0.0]]  # 0 <= z <= 1
    _, g = _grad(QReLU(3, "ftprop"), Z, G)
    expect = [gi * (1 / math.cosh(2 * z - 1)) ** 2 for z, gi in zip(Z[0].tolist(), G[0].tolist())]
    assert torch.allclose(g[0], torch.tensor(expect))


def test_lab_resumes_a_capturable_state_on_the_cpu():
    """A run trained with CUDA graphs saves Adam groups with capturable=True (and step counts
    that lived on the GPU); torch's load_state_dict keeps that setting, which cannot step CPU
    tensors. LAB.set_capturable(False) after loading makes the CPU step work and equal to
    the step of an optimizer that never was capturable."""
    torch.manual_seed(3)
    w = torch.rand(2, 3) * 2 - 1
    a, b = _lab_layer(w), _lab_layer(w)
    opt_a, opt_b = LAB(a, lr=0.01), LAB(b, lr=0.01)
    g = torch.randn(2, 3)
    for m, o in ((a, opt_a), (b, opt_b)):
        m[0].weight.grad = g.clone()
        o.step()
    saved = opt_b.state_dict()
    for group in saved["param_groups"]:
        group["capturable"] = True
    opt_b = LAB(b, lr=0.01)
    opt_b.load_state_dict(saved)
    assert all(group["capturable"] for group in opt_b.param_groups)  # what torch does
    opt_b.set_capturable(False)
    for m, o in ((a, opt_a), (b, opt_b)):
        m[0].weight.grad = g.clone() * 0.5
        o.step()
    assert torch.equal(a[0].weight, b[0].weight) and torch.equal(a[0].kernel_scale, b[0].kernel_scale)
