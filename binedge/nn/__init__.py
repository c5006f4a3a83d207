"""Binary layers (BinaryLinear, BinaryConv2d, BinaryLSTM), weight quantizers, hard-threshold activations
and int8 fake quantization."""

from .activations import (ACTIVATIONS, RULES, QReLU, RealActivation, RSign, Sign, Step, ThresholdActivation,
                          get_activation)
from .layers import BinaryConv2d, BinaryLinear, QuantizedMixin, binary_layers
from .quant import Int8Weights, QuantInt8, int8_weight_codes, round_half_up
from .recurrent import BinaryLSTM, LSTMLayer
from .quantizers import BWN, BinaryConnect, KernelQuantizer, LABQuantizer, binary_sign, get_kernel_quantizer

__all__ = [
    "ACTIVATIONS", "RULES", "RSign", "BWN", "BinaryConnect", "BinaryConv2d", "BinaryLinear", "BinaryLSTM",
    "Int8Weights", "KernelQuantizer", "LSTMLayer", "LABQuantizer", "QReLU", "QuantInt8", "QuantizedMixin",
    "RealActivation", "Sign", "Step", "ThresholdActivation", "binary_layers", "binary_sign", "get_activation",
    "get_kernel_quantizer", "int8_weight_codes", "round_half_up",
]
