"""Model zoo: LAB's MLP, a VGG-style convnet (LAB's CIFAR-10 shape for 28×28 inputs) and
FTPROP's 4-layer convnet, each for any weight method × any activation.

Layout convention (what binedge.lower expects): every weight layer is a binedge layer whose
activation is the *input quantizer of the next layer* (larq's style), BatchNorm follows each
weight layer (the output layer too, as in LAB), max-pooling sits between BatchNorm and the next
layer's input quantizer — equivalent to pooling after the activation, since every activation
here is non-decreasing. The first layer sees the real image x/255 (no input quantizer).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .nn import BinaryConv2d, BinaryLinear, get_activation

MODELS = ("mlp", "vgg", "ftprop4")
WEIGHT_METHODS = ("fp", "binaryconnect", "bwn", "lab")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model (saved in every checkpoint)."""

    model: str = "mlp"
    weights: str = "lab"  # fp | binaryconnect | bwn | lab
    activation: str = "sign"  # sign | step | qrelu2 | qrelu3 | relu | srelu
    rule: str = "sste"  # ste | sste | ftprop (hard-threshold activations only)
    weighted: bool = True  # FTPROP: weight the per-unit loss by |∂L/∂h|
    hidden: int = 1024  # MLP width
    depth: int = 3  # MLP hidden layers
    widths: list = field(default_factory=lambda: [32, 64, 128])  # VGG conv widths (2 convs each)
    fc: int = 256  # VGG / ftprop4 fully connected width
    image_shape: list = field(default_factory=lambda: [28, 28, 1])  # H, W, C
    num_classes: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Flatten(nn.Flatten):
    """nn.Flatten; a separate class so lowering can tell model flattening from others."""


def _kq(cfg: ModelConfig):
    if cfg.weights not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight method {cfg.weights!r}; choose one of {', '.join(WEIGHT_METHODS)}")
    return None if cfg.weights == "fp" else cfg.weights


def _act(cfg: ModelConfig):
    return get_activation(cfg.activation, cfg.rule, weighted=cfg.weighted)


def _lab_init(module: nn.Module) -> None:
    """LAB's initialisation: uniform ±√(1.5 / (fan_in + fan_out)), zero biases."""
    for m in module.modules():
        if isinstance(m, (BinaryLinear, BinaryConv2d)):
            receptive = m.weight[0, 0].numel() if m.weight.dim() > 2 else 1
            fan_in, fan_out = m.weight.shape[1] * receptive, m.weight.shape[0] * receptive
            bound = math.sqrt(1.5 / (fan_in + fan_out))
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
            m.kernel_scale.copy_(m.weight.detach().abs().mean())


def build_mlp(cfg: ModelConfig) -> nn.Sequential:
    h, w, c = cfg.image_shape
    kq = _kq(cfg)
    layers: list[nn.Module] = [Flatten()]
    fan_in = h * w * c
    for i in range(cfg.depth):
        layers += [BinaryLinear(fan_in, cfg.hidden, bias=False, kernel_quantizer=kq,
                                input_quantizer=_act(cfg) if i else None),
                   nn.BatchNorm1d(cfg.hidden)]
        fan_in = cfg.hidden
    layers += [BinaryLinear(fan_in, cfg.num_classes, bias=False, kernel_quantizer=kq, input_quantizer=_act(cfg)),
               nn.BatchNorm1d(cfg.num_classes)]
    return nn.Sequential(*layers)


def build_vgg(cfg: ModelConfig) -> nn.Sequential:
    h, w, c = cfg.image_shape
    kq = _kq(cfg)
    layers: list[nn.Module] = []
    first = True
    for width in cfg.widths:
        for _ in range(2):
            layers += [BinaryConv2d(c, width, 3, padding=1, bias=False, kernel_quantizer=kq,
                                    input_quantizer=None if first else _act(cfg)),
                       nn.BatchNorm2d(width)]
            c, first = width, False
        layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    layers.append(Flatten())
    fan_in = h * w * c
    for _ in range(2):
        layers += [BinaryLinear(fan_in, cfg.fc, bias=False, kernel_quantizer=kq, input_quantizer=_act(cfg)),
                   nn.BatchNorm1d(cfg.fc)]
        fan_in = cfg.fc
    layers += [BinaryLinear(fan_in, cfg.num_classes, bias=False, kernel_quantizer=kq, input_quantizer=_act(cfg)),
               nn.BatchNorm1d(cfg.num_classes)]
    return nn.Sequential(*layers)


def build_ftprop4(cfg: ModelConfig) -> nn.Sequential:
    """Friesen & Domingos' 4-layer convnet: conv 32 5×5, pool, act; conv 64 5×5, pool, act;
    FC ``cfg.fc`` (1024 in the paper), act; FC out. No BatchNorm, biases on (as published);
    pooling before the activation equals pooling after it for these non-decreasing activations."""
    h, w, c = cfg.image_shape
    kq = _kq(cfg)
    layers = [BinaryConv2d(c, 32, 5, padding=2, kernel_quantizer=kq), nn.MaxPool2d(2),
              BinaryConv2d(32, 64, 5, padding=2, kernel_quantizer=kq, input_quantizer=_act(cfg)), nn.MaxPool2d(2),
              Flatten(),
              BinaryLinear((h // 4) * (w // 4) * 64, cfg.fc, kernel_quantizer=kq, input_quantizer=_act(cfg)),
              BinaryLinear(cfg.fc, cfg.num_classes, kernel_quantizer=kq, input_quantizer=_act(cfg))]
    return nn.Sequential(*layers)


def build_model(cfg: ModelConfig) -> nn.Sequential:
    """Build (and initialise as LAB does) the model a :class:`ModelConfig` describes."""
    builders = {"mlp": build_mlp, "vgg": build_vgg, "ftprop4": build_ftprop4}
    if cfg.model not in builders:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}")
    _act(cfg)  # validates activation and rule names early
    model = builders[cfg.model](cfg)
    _lab_init(model)
    return model


def squared_hinge_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LAB's loss: mean(max(0, 1 - t·y)²) with one-vs-all targets t ∈ {±1}."""
    t = -torch.ones_like(logits)
    t.scatter_(1, target.unsqueeze(1), 1.0)
    return torch.clamp(1.0 - t * logits, min=0.0).pow(2).mean()
