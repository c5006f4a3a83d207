"""``BinaryLSTM``: an LSTM whose 8 gate matrices take a kernel quantizer (LAB's recurrent networks).

One layer l computes, for t = 1..T (the gate order i, f, g, o of torch.nn.LSTM):

    i_t = σ(W_ii x_t + W_hi h_{t-1} + b_i)        f_t = σ(W_if x_t + W_hf h_{t-1} + b_f)
    g_t = tanh(W_ig x_t + W_hg h_{t-1} + b_g)     o_t = σ(W_io x_t + W_ho h_{t-1} + b_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t               h_t = o_t ⊙ tanh(c_t)

Each of the 8 matrices W_i* (hidden × input) and W_h* (hidden × hidden) is its own
:class:`~binedge.nn.BinaryLinear` without bias (attributes ``w_ii``, ``w_if``, ..., ``w_ho`` of
each layer in ``layers``), so each has its own kernel quantizer and its own α: one α per gate
matrix, as in LAB's code (Hou, Yao & Kwok, ICLR 2017, §4 "recurrent networks": all 8 gate
matrices binarized). The latent float weights are ordinary parameters, and binedge.optim.LAB
finds the 8 matrices with :func:`binedge.nn.binary_layers` like any binary layer: LAB trains a
BinaryLSTM unchanged (Adam, the proximal step, clipping of latent weights to [-1, 1]).

Biases stay real: one bias per gate (``bias``, 4·hidden values in the order i, f, g, o), where
torch.nn.LSTM keeps two (b_ih + b_hh: copy their sum to compare). Initialisation as LAB's code:
every weight uniform in ±0.08 (``init_range``), biases 0 except the forget gate's, 1.

Shapes: ``batch_first=False`` (the default, as torch.nn.LSTM): input (T, B, input_size),
output (T, B, hidden); ``batch_first=True``: (B, T, ·). The state (h, c) is two tensors of
(num_layers, B, hidden) either way, as torch.nn.LSTM returns it; None starts from zeros.
The weights are quantized once per forward call (not per time step), and the recurrent loop is
plain PyTorch, so with no quantizer the result equals torch.nn.LSTM's up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import BinaryLinear

#: gate order of the 4·hidden pre-activations and of ``bias`` (torch.nn.LSTM's: input, forget, cell, output)
GATES = ("i", "f", "g", "o")
#: LAB's (and char-rnn's) initialisation range of LSTM weights
INIT_RANGE = 0.08


class LSTMLayer(nn.Module):
    """One LSTM layer: 4 input matrices ``w_i{g}``, 4 recurrent matrices ``w_h{g}`` (BinaryLinear,
    no bias) and the real ``bias`` (4·hidden, gates i, f, g, o)."""

    def __init__(self, input_size: int, hidden_size: int, kernel_quantizer=None):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        for g in GATES:
            setattr(self, f"w_i{g}", BinaryLinear(input_size, hidden_size, bias=False,
                                                  kernel_quantizer=kernel_quantizer))
        for g in GATES:
            setattr(self, f"w_h{g}", BinaryLinear(hidden_size, hidden_size, bias=False,
                                                  kernel_quantizer=kernel_quantizer))
        self.bias = nn.Parameter(torch.zeros(4 * hidden_size))

    def gate_matrices(self) -> list[BinaryLinear]:
        """The 8 gate matrices: W_ii, W_if, W_ig, W_io, W_hi, W_hf, W_hg, W_ho."""
        return [getattr(self, f"w_i{g}") for g in GATES] + [getattr(self, f"w_h{g}") for g in GATES]

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """x: (T, B, input); h, c: (B, hidden). Returns (outputs (T, B, hidden), h_T, c_T)."""
        w_x = torch.cat([getattr(self, f"w_i{g}").quantized_weight() for g in GATES], 0)  # (4H, I)
        w_h = torch.cat([getattr(self, f"w_h{g}").quantized_weight() for g in GATES], 0)  # (4H, H)
        pre = torch.matmul(x, w_x.t()) + self.bias  # the input part of every step at once
        outs = []
        for t in range(x.shape[0]):
            z = pre[t] + torch.matmul(h, w_h.t())
            zi, zf, zg, zo = z.chunk(4, dim=-1)
            c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
            h = torch.sigmoid(zo) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, 0), h, c


class BinaryLSTM(nn.Module):
    """A multi-layer LSTM with quantizable gate matrices (module docstring).

    Args:
        input_size, hidden_size: as torch.nn.LSTM.
        num_layers: stacked layers (≥ 1); layer l > 0 reads layer l − 1's hidden states.
        kernel_quantizer: None / "fp" (full precision), "binaryconnect", "bwn", "lab" or a
            KernelQuantizer, applied to each of the 8 gate matrices of every layer (one α each).
        batch_first: (B, T, ·) tensors instead of (T, B, ·).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, kernel_quantizer=None,
                 batch_first: bool = False, init_range: float = INIT_RANGE):
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        if isinstance(kernel_quantizer, str) and kernel_quantizer.lower() == "int8":
            raise ValueError("kernel_quantizer 'int8' is not built for BinaryLSTM: choose fp, binaryconnect, bwn or "
                             "lab")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.batch_first = bool(batch_first)
        self.init_range = float(init_range)
        self.layers = nn.ModuleList(
            LSTMLayer(self.input_size if k == 0 else self.hidden_size, self.hidden_size, kernel_quantizer)
            for k in range(self.num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LAB's initialisation: weights uniform ±init_range, biases 0, forget-gate biases 1; α
        (``kernel_scale``) set to the BWN value mean|w| of each gate matrix."""
        h = self.hidden_size
        with torch.no_grad():
            for layer in self.layers:
                for m in layer.gate_matrices():
                    nn.init.uniform_(m.weight, -self.init_range, self.init_range)
                    m.kernel_scale.copy_(m.weight.abs().mean())
                layer.bias.zero_()
                layer.bias[h:2 * h].fill_(1.0)

    def gate_matrices(self) -> list[BinaryLinear]:
        """All gate matrices, layer by layer (8 per layer)."""
        return [m for layer in self.layers for m in layer.gate_matrices()]

    def forward(self, x: torch.Tensor, state=None):
        """Returns (output, (h_n, c_n)) exactly as torch.nn.LSTM (no projections, one direction)."""
        if x.dim() != 3:
            raise ValueError(f"BinaryLSTM takes a 3-d input ({'B, T' if self.batch_first else 'T, B'}, features), "
                             f"got shape {tuple(x.shape)}")
        if self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        if state is None:
            zeros = x.new_zeros(self.num_layers, batch, self.hidden_size)
            h0, c0 = zeros, zeros
        else:
            h0, c0 = state
        hs, cs = [], []
        out = x
        for k, layer in enumerate(self.layers):
            out, h, c = layer(out, h0[k], c0[k])
            hs.append(h)
            cs.append(c)
        if self.batch_first:
            out = out.transpose(0, 1)
        return out, (torch.stack(hs, 0), torch.stack(cs, 0))

    def load_torch_lstm(self, lstm: nn.LSTM) -> "BinaryLSTM":
        """Copy the weights of a torch.nn.LSTM of the same sizes (one direction, no projection);
        the two biases b_ih + b_hh become this layer's one bias. Returns self."""
        if (lstm.input_size, lstm.hidden_size, lstm.num_layers) != (self.input_size, self.hidden_size,
                                                                    self.num_layers) \
                or lstm.bidirectional or lstm.proj_size:
            raise ValueError("load_torch_lstm needs an nn.LSTM of the same input, hidden and layer sizes, "
                             "one direction, no projection")
        with torch.no_grad():
            for k, layer in enumerate(self.layers):
                w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
                for j, g in enumerate(GATES):
                    getattr(layer, f"w_i{g}").weight.copy_(w_ih.chunk(4, 0)[j])
                    getattr(layer, f"w_h{g}").weight.copy_(w_hh.chunk(4, 0)[j])
                layer.bias.zero_()
                if lstm.bias:
                    layer.bias.add_(getattr(lstm, f"bias_ih_l{k}")).add_(getattr(lstm, f"bias_hh_l{k}"))
                for m in layer.gate_matrices():
                    m.kernel_scale.copy_(m.weight.abs().mean())
        return self

    def extra_repr(self) -> str:
        kq = self.layers[0].w_ii.kernel_quantizer
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"batch_first={self.batch_first}, kernel_quantizer={kq.name if kq else None}")
