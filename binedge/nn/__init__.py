"""Binary layers, weight quantizers and hard-threshold activations."""

from .activations import ACTIVATIONS, RULES, QReLU, RealActivation, Sign, Step, ThresholdActivation, get_activation
from .layers import BinaryConv2d, BinaryLinear, QuantizedMixin, binary_layers
from .quantizers import BWN, BinaryConnect, KernelQuantizer, LABQuantizer, binary_sign, get_kernel_quantizer

__all__ = [
    "ACTIVATIONS", "RULES", "BWN", "BinaryConnect", "BinaryConv2d", "BinaryLinear", "KernelQuantizer",
    "LABQuantizer", "QReLU", "QuantizedMixin", "RealActivation", "Sign", "Step", "ThresholdActivation",
    "binary_layers", "binary_sign", "get_activation", "get_kernel_quantizer",
]
