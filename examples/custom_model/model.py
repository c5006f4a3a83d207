"""A user-written residual binary network for Fashion-MNIST (not one of binedge's zoo models).

    .venv/bin/binedge train --model examples/custom_model/model.py:build --epochs 10 --lr 0.005 -o runs/custom

binedge calls ``build(image_shape, num_classes)`` with the training images' (H, W, C) and the
class count; the model sees x/255 pixels in NCHW and returns logits. Everything in it has an
exact integer form, so ``binedge.convert`` (and ``binedge export``) lower it to one integer
program:

    stem        int8 3x3 convolution on the pixels -> BatchNorm -> QuantInt8       (Conv2d, RequantStage)
    block       x + Q(BN(binary 3x3 conv(sign(x)))) -> QuantInt8                  (Threshold, Conv2d, Add)
    downsample  2x2 average pooling -> QuantInt8 -> int8 1x1 conv -> BN -> QuantInt8   (AvgPool2d, Conv2d)
    head        global average pooling -> QuantInt8 -> int8 classifier            (AvgPool2d, Dense scores)

The residual branch has its own QuantInt8 before the add: the integer graph adds int8 values
(binedge.graph Add), and a weight layer's output becomes one only through a quantizer — a
real-valued branch added to an int8 skip would have no exact integer form, and binedge.convert
refuses it rather than quantize it by guess.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from binedge.nn import BinaryConv2d, BinaryLinear, QuantInt8


class ResidualBlock(nn.Module):
    """x + Q(BN(binary conv(sign(x)))), requantized: the skip connection."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = BinaryConv2d(channels, channels, 3, padding=1, bias=False, kernel_quantizer="lab",
                                 input_quantizer="sign")
        self.bn = nn.BatchNorm2d(channels)
        self.branch = QuantInt8()
        self.out = QuantInt8()

    def forward(self, x):
        return self.out(x + self.branch(self.bn(self.conv(x))))


class Downsample(nn.Module):
    """The int8 downsampling path: 2x2 average pooling, requantized, then an int8 1x1 convolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.pooled = QuantInt8()
        self.conv = BinaryConv2d(cin, cout, 1, bias=False, kernel_quantizer="int8")
        self.bn = nn.BatchNorm2d(cout)
        self.out = QuantInt8()

    def forward(self, x):
        return self.out(self.bn(self.conv(self.pooled(F.avg_pool2d(x, 2)))))


class ResidualBinaryNet(nn.Module):
    def __init__(self, image_shape, num_classes: int, width: int = 16):
        super().__init__()
        _, _, c = image_shape
        self.stem = BinaryConv2d(c, width, 3, padding=1, bias=False, kernel_quantizer="int8")
        self.stem_bn = nn.BatchNorm2d(width)
        self.stem_q = QuantInt8()
        self.block1 = ResidualBlock(width)
        self.down1 = Downsample(width, 2 * width)
        self.block2 = ResidualBlock(2 * width)
        self.down2 = Downsample(2 * width, 4 * width)
        self.block3 = ResidualBlock(4 * width)
        self.pooled = QuantInt8()
        self.classifier = BinaryLinear(4 * width, num_classes, kernel_quantizer="int8")

    def forward(self, x):
        x = self.stem_q(self.stem_bn(self.stem(x)))
        x = self.block2(self.down1(self.block1(x)))  # 28x28 -> 14x14
        x = self.block3(self.down2(x))  # -> 7x7
        return self.classifier(self.pooled(x.mean((2, 3))))  # global average pooling


def build(image_shape, num_classes):
    """binedge's factory: (H, W, C), class count -> the model."""
    return ResidualBinaryNet(tuple(image_shape), int(num_classes))
