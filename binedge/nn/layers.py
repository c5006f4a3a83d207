"""Binary layers: ``BinaryLinear`` and ``BinaryConv2d``.

Both subclass the plain torch layer and add two optional quantizers (larq's style):
    kernel_quantizer: None (full precision), "binaryconnect", "bwn", "lab", "int8" (per-channel int8
                      weights, binedge.nn.quant.Int8Weights) or a KernelQuantizer
    input_quantizer:  None, an activation name ("sign", "sign:ftprop", "qrelu2", "relu", ...)
                      or a module (e.g. binedge.nn.QuantInt8()); it is applied to the layer's input first.
With neither they compute exactly what nn.Linear / nn.Conv2d compute (the same call).
The latent float weight stays the layer's ``weight`` parameter, visible to any optimizer.

Padding (DESIGN.md §2): a convolution whose input quantizer is a hard-threshold activation
pads the quantized input with that activation's ``pad_value`` (+1 for sign, 0 for step/qrelu,
0 for QuantInt8, whose code for 0 is its zero point): the value whose encoding is the zero code,
so the deployed integer graph pads identically.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .activations import get_activation
from .quantizers import get_kernel_quantizer


class QuantizedMixin:
    """Shared quantizer plumbing; ``kernel_scale`` holds LAB's α (see binedge.optim.LAB)."""

    def _init_quantizers(self, kernel_quantizer, input_quantizer):
        self.kernel_quantizer = get_kernel_quantizer(kernel_quantizer)
        self.input_quantizer = get_activation(input_quantizer)
        # α for optimizer-scaled quantizers; starts at the BWN value (d constant before step 1).
        self.register_buffer("kernel_scale", self.weight.detach().abs().mean().clone())

    @property
    def is_binary(self) -> bool:
        """Binary weights (α·sign(w)); False for full precision and int8 weights."""
        return self.kernel_quantizer is not None and bool(getattr(self.kernel_quantizer, "binary", True))

    def quantized_weight(self) -> torch.Tensor:
        if self.kernel_quantizer is None:
            return self.weight
        return self.kernel_quantizer.quantize(self.weight, self)

    def weight_scale(self) -> float:
        """α of the binarized weight (1.0 for full precision, which has no α; int8 weights have one
        scale per output channel: ``kernel_quantizer.scale(weight, layer)``)."""
        if self.kernel_quantizer is None:
            return 1.0
        return float(self.kernel_quantizer.scale(self.weight.detach(), self))

    def _quantize_input(self, x):
        return x if self.input_quantizer is None else self.input_quantizer(x)

    def _quant_repr(self) -> str:
        kq = self.kernel_quantizer.name if self.kernel_quantizer else None
        return f", kernel_quantizer={kq}, input_quantizer={self.input_quantizer!r}"


class BinaryLinear(QuantizedMixin, nn.Linear):
    """nn.Linear with optional kernel and input quantizers (see module docstring)."""

    def __init__(self, in_features, out_features, bias=True, *, kernel_quantizer=None, input_quantizer=None,
                 **kwargs):
        super().__init__(in_features, out_features, bias=bias, **kwargs)
        self._init_quantizers(kernel_quantizer, input_quantizer)

    def forward(self, x):
        return F.linear(self._quantize_input(x), self.quantized_weight(), self.bias)

    def extra_repr(self):
        return super().extra_repr() + self._quant_repr()


class BinaryConv2d(QuantizedMixin, nn.Conv2d):
    """nn.Conv2d with optional kernel and input quantizers; pads a quantized input with the
    quantizer's ``pad_value`` (+1 for sign) instead of zero."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, *,
                 kernel_quantizer=None, input_quantizer=None, **kwargs):
        if kwargs.get("padding_mode", "zeros") != "zeros":
            raise ValueError("BinaryConv2d supports only padding_mode='zeros' (it pads quantized inputs itself)")
        if isinstance(padding, str):
            raise ValueError("BinaryConv2d takes integer padding, not 'same'/'valid'")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias, **kwargs)
        self._init_quantizers(kernel_quantizer, input_quantizer)

    def forward(self, x):
        w = self.quantized_weight()
        if self.input_quantizer is None:
            return self._conv_forward(x, w, self.bias)
        x = self.input_quantizer(x)
        ph, pw = self.padding
        if ph or pw:
            x = F.pad(x, (pw, pw, ph, ph), value=float(self.input_quantizer.pad_value))
        return F.conv2d(x, w, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self):
        return super().extra_repr() + self._quant_repr()


def binary_layers(model: nn.Module):
    """Yield every binedge layer of ``model`` whose weight is binarized."""
    for m in model.modules():
        if isinstance(m, QuantizedMixin) and m.is_binary:
            yield m
