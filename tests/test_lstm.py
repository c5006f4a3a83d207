"""binedge.nn.BinaryLSTM: equal to torch.nn.LSTM without a quantizer, quantized gate matrices, LAB's
per-gate-matrix α computed by hand, LAB's initialisation."""

import pytest
import torch
from torch import nn

from binedge.nn import BinaryLSTM, binary_layers
from binedge.nn.quantizers import binary_sign
from binedge.optim import LAB


def _pair(layers, batch_first, seed=0, input_size=5, hidden=7):
    torch.manual_seed(seed)
    ref = nn.LSTM(input_size, hidden, num_layers=layers, batch_first=batch_first)
    ours = BinaryLSTM(input_size, hidden, layers, batch_first=batch_first).load_torch_lstm(ref)
    return ref, ours


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
def test_full_precision_equals_torch_lstm(layers, batch_first):
    ref, ours = _pair(layers, batch_first, seed=layers)
    x = torch.randn(4, 9, 5) if batch_first else torch.randn(9, 4, 5)
    y_ref, (h_ref, c_ref) = ref(x)
    y, (h, c) = ours(x)
    assert y.shape == y_ref.shape and h.shape == h_ref.shape == (layers, 4, 7)
    assert torch.allclose(y, y_ref, atol=1e-6) and torch.allclose(h, h_ref, atol=1e-6)
    assert torch.allclose(c, c_ref, atol=1e-6)
    # with a given initial state, and the gradients too
    h0, c0 = torch.randn(layers, 4, 7), torch.randn(layers, 4, 7)
    y_ref, _ = ref(x, (h0, c0))
    y, _ = ours(x, (h0, c0))
    assert torch.allclose(y, y_ref, atol=1e-6)
    y_ref.square().sum().backward()
    y.square().sum().backward()
    g_ref = ref.weight_hh_l0.grad.chunk(4, 0)
    for j, name in enumerate(("w_hi", "w_hf", "w_hg", "w_ho")):
        assert torch.allclose(getattr(ours.layers[0], name).weight.grad, g_ref[j], atol=1e-5)
    assert torch.allclose(ours.layers[0].bias.grad, ref.bias_ih_l0.grad, atol=1e-5)


def test_state_carried_across_chunks_equals_one_pass():
    # Truncated BPTT carries (h, c) from one chunk to the next: two halves = the whole sequence.
    _, ours = _pair(2, True, seed=3)
    x = torch.randn(3, 10, 5)
    whole, _ = ours(x)
    a, state = ours(x[:, :6])
    b, _ = ours(x[:, 6:], state)
    assert torch.allclose(torch.cat([a, b], 1), whole, atol=1e-6)


@pytest.mark.parametrize("method", ["binaryconnect", "bwn", "lab"])
def test_binary_gate_matrices_equal_torch_lstm_with_binarized_weights(method):
    """Each gate matrix is α·sign(W) with its own α: a torch.nn.LSTM given those weights by hand agrees."""
    torch.manual_seed(4)
    ours = BinaryLSTM(3, 6, 2, kernel_quantizer=method)
    gates = ours.gate_matrices()
    assert len(gates) == 16 and len(list(binary_layers(ours))) == 16
    if method == "lab":  # any α per matrix: LAB's buffer
        for k, m in enumerate(gates):
            m.kernel_scale.fill_(0.01 * (k + 1))
    ref = nn.LSTM(3, 6, num_layers=2)
    with torch.no_grad():
        for layer_idx, layer in enumerate(ours.layers):
            mats = []
            for m in layer.gate_matrices():
                w = m.weight
                alpha = {"binaryconnect": 1.0, "bwn": float(w.abs().mean()), "lab": float(m.kernel_scale)}[method]
                mats.append(alpha * torch.where(w >= 0, 1.0, -1.0))
            getattr(ref, f"weight_ih_l{layer_idx}").copy_(torch.cat(mats[:4], 0))
            getattr(ref, f"weight_hh_l{layer_idx}").copy_(torch.cat(mats[4:], 0))
            getattr(ref, f"bias_ih_l{layer_idx}").copy_(layer.bias)
            getattr(ref, f"bias_hh_l{layer_idx}").zero_()
    x = torch.randn(7, 2, 3)
    assert torch.allclose(ours(x)[0], ref(x)[0], atol=1e-6)


def test_initialisation_as_lab():
    torch.manual_seed(5)
    m = BinaryLSTM(20, 30, 2, kernel_quantizer="lab")
    for layer in m.layers:
        for g in layer.gate_matrices():
            w = g.weight.detach()
            assert float(w.abs().max()) <= 0.08 and float(w.abs().max()) > 0.07  # uniform ±0.08
            assert float(g.kernel_scale) == pytest.approx(float(w.abs().mean()))
        assert layer.bias[:30].eq(0).all() and layer.bias[30:60].eq(1).all() and layer.bias[60:].eq(0).all()
    assert m.layers[0].w_ii.weight.shape == (30, 20) and m.layers[1].w_ii.weight.shape == (30, 30)


def test_lab_step_gives_one_alpha_per_gate_matrix_computed_by_hand():
    """After LAB's first Adam step, v̂ = g² (bias-corrected), so d = |g| + ε and the latent weight is
    clip(w − lr·g / (|g| + ε), −1, 1); α = ‖d ⊙ w‖₁ / ‖d‖₁ per gate matrix (LAB, Prop. 3.1)."""
    torch.manual_seed(6)
    model = BinaryLSTM(4, 5, 1, kernel_quantizer="lab", batch_first=True)
    lr, eps = 0.05, 1e-8
    opt = LAB(model, lr=lr, eps=eps)
    x = torch.randn(3, 8, 4)
    y, _ = model(x)
    (y * torch.linspace(-1, 2, 5)).sum().backward()
    b0, gb = model.layers[0].bias.detach().clone(), model.layers[0].bias.grad.clone()
    before = {}
    for m in model.gate_matrices():
        before[m] = (m.weight.detach().clone(), m.weight.grad.detach().clone())
    opt.step()
    alphas = []
    for m in model.gate_matrices():
        w0, g = before[m]
        d = g.abs() + eps
        w1 = torch.clamp(w0 - lr * g / d, -1.0, 1.0)
        assert torch.allclose(m.weight.detach(), w1, atol=1e-6)
        alpha = float((d * w1.abs()).sum() / d.sum())
        assert float(m.kernel_scale) == pytest.approx(alpha, rel=1e-5)
        assert torch.allclose(m.quantized_weight(), alpha * binary_sign(w1), rtol=1e-5)
        alphas.append(alpha)
    assert len(set(round(a, 7) for a in alphas)) == 8  # 8 matrices, 8 different α
    # the real bias got plain Adam's first step b − lr·g / (|g| + ε), no clipping and no α
    assert torch.allclose(model.layers[0].bias.detach(), b0 - lr * gb / (gb.abs() + eps), atol=1e-6)


def test_binaryconnect_and_bwn_latent_weights_clipped_by_lab():
    torch.manual_seed(7)
    model = BinaryLSTM(2, 3, kernel_quantizer="bwn")
    with torch.no_grad():
        model.layers[0].w_ii.weight.fill_(0.999)
    opt = LAB(model, lr=1.0)
    y, _ = model(torch.randn(4, 2, 2))
    (-y.sum()).backward()  # pushes weights up
    opt.step()
    assert float(model.layers[0].w_ii.weight.detach().max()) <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        BinaryLSTM(3, 4, 0)
    with pytest.raises(ValueError, match="int8"):
        BinaryLSTM(3, 4, kernel_quantizer="int8")
    with pytest.raises(ValueError, match="3-d"):
        BinaryLSTM(3, 4)(torch.zeros(2, 3))
