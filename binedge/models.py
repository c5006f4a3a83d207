"""Model zoo: LAB's MLP, a VGG-style convnet (LAB's CIFAR-10 shape for 28×28 inputs) and
FTPROP's 4-layer convnet, each for any weight method × any activation — and user models:
``ModelConfig(model="path/to/file.py:factory")`` (or ``package.module:factory``, or a
``binedge.models`` entry point) builds ``factory(image_shape, num_classes)``
(binedge.user_model), recording the file and its SHA-256 in ``source`` so that a run can be
rebuilt exactly.

Layout convention (what binedge.lower expects): every weight layer is a binedge layer whose
activation is the *input quantizer of the next layer* (larq's style), BatchNorm follows each
weight layer (the output layer too, as in LAB), max-pooling sits between BatchNorm and the next
layer's input quantizer — equivalent to pooling after the activation, since every activation
here is non-decreasing. The first layer sees the real image x/255 (no input quantizer).

Every configuration is checked before anything is allocated (:meth:`ModelConfig.validate`):
known names, every width between 1 and :data:`MAX_WIDTH`, at most :data:`MAX_DEPTH` hidden
layers, and shapes that work for the image size (each VGG width adds a 2×2 max-pool, so the
feature map must keep at least 1×1 pixels). :meth:`ModelConfig.param_count` and
:meth:`ModelConfig.activation_count` let a trainer compare the memory a model needs with the
machine's (binedge.train refuses a model whose training would not fit in physical memory).
Errors are :class:`ModelError` messages that name the ``binedge train`` option at fault.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .nn import BinaryConv2d, BinaryLinear, get_activation

MODELS = ("mlp", "vgg", "ftprop4")
WEIGHT_METHODS = ("fp", "binaryconnect", "bwn", "lab")

#: Widest layer accepted (--hidden, --fc, each of --widths): far above anything that trains on
#: one machine, low enough that a typo (--hidden 100000000) is caught before any allocation.
MAX_WIDTH = 65536
#: Most MLP hidden layers accepted (--depth).
MAX_DEPTH = 1000


class ModelError(ValueError):
    """A model configuration that cannot be built (the message names the option and the fix)."""


def physical_memory_bytes() -> int | None:
    """This machine's physical memory (os.sysconf), or None where the OS does not say."""
    try:
        pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * page if pages > 0 and page > 0 else None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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
    image_shape: list = field(default_factory=lambda: [28, 28, 1])  # H, W, C of images, or [F] for feature vectors
    num_classes: int = 10
    #: user models: where the factory lives and the SHA-256 of its file (binedge.user_model.Source),
    #: recorded when training starts; empty for the zoo
    source: dict = field(default_factory=dict)

    @property
    def is_user(self) -> bool:
        """Is this a user model (``--model path/to/file.py:factory`` and the like), not a zoo one?"""
        return self.model not in MODELS

    def user_source(self):
        """The :class:`binedge.user_model.Source` of a user model: the recorded one (a file keeps
        its absolute path; a module or entry point is looked up again), else resolved from ``model``."""
        from .user_model import Source, resolve

        if not self.source:
            return resolve(self.model)
        rec = Source(**{k: self.source[k] for k in Source.__dataclass_fields__})
        return rec if rec.kind == "file" else resolve(self.model)

    def record_source(self) -> None:
        """Resolve a user model's factory and record where it lives and its file's SHA-256."""
        from dataclasses import asdict

        if self.is_user:
            from .user_model import resolve

            self.source = asdict(resolve(self.model))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def validate(self, *, shapes: bool = True) -> None:
        """Raise ModelError unless the model can be built for ``image_shape``: known names,
        widths in [1, MAX_WIDTH], depth in [1, MAX_DEPTH], and (``shapes``) a feature map of at
        least 1×1 after every max-pool. Allocates nothing. ``shapes=False`` checks the options
        alone, before the data (and so the image size) is known."""
        if not isinstance(self.model, str) or not self.model:
            raise ModelError(f"--model must be a zoo name ({', '.join(MODELS)}) or path/to/file.py:factory, got "
                             f"{self.model!r}")
        if self.is_user:
            if not self.source:
                self.user_source()  # a missing file or module, or an unknown entry point: refused here
            self._validate_shape()
            return
        if self.weights not in WEIGHT_METHODS:
            raise ModelError(f"unknown --weights {self.weights!r}; choose one of {', '.join(WEIGHT_METHODS)}")
        try:
            _act(self)
        except (ValueError, TypeError) as e:
            raise ModelError(f"--activation / --rule: {e}") from None
        shape = self._validate_shape()

        def width(option: str, v) -> None:
            if not _is_int(v) or v < 1:
                raise ModelError(f"{option} must be a positive integer, got {v!r}")
            if v > MAX_WIDTH:
                raise ModelError(f"{option} {v:,} is wider than binedge's limit of {MAX_WIDTH:,} units per layer; "
                                 f"choose a smaller {option}")

        if self.model == "mlp":
            width("--hidden", self.hidden)
            if not _is_int(self.depth) or not 1 <= self.depth <= MAX_DEPTH:
                raise ModelError(f"--depth must be an integer from 1 to {MAX_DEPTH}, got {self.depth!r}")
        else:
            width("--fc", self.fc)
        if self.model == "vgg":
            ws = self.widths if isinstance(self.widths, (list, tuple)) else None
            if not ws:
                raise ModelError(f"--widths must list at least one conv width (e.g. 32,64,128), got {self.widths!r}")
            for v in ws:
                width("--widths", v)
        if not shapes:
            return
        if len(shape) == 1:
            if self.model != "mlp":
                raise ModelError(f"--model {self.model} is a convnet for images; this data is feature vectors of "
                                 f"{shape[0]} values: choose --model mlp or your own model (--model file.py:factory)")
            return
        h, w = shape[0], shape[1]
        if self.model == "vgg":
            blocks, (hh, ww) = 0, (h, w)
            while hh // 2 >= 1 and ww // 2 >= 1:
                blocks, hh, ww = blocks + 1, hh // 2, ww // 2
            if len(self.widths) > blocks:
                shown = ",".join(str(v) for v in self.widths)
                raise ModelError(f"--widths {shown} is too deep for {h}x{w} images: every width ends with a 2x2 "
                                 f"max-pool that halves the feature map, and {len(self.widths)} of them shrink it to "
                                 f"0x0 pixels; {h}x{w} images allow at most {blocks} width(s)")
        if self.model == "ftprop4" and (h < 4 or w < 4):
            raise ModelError(f"--model ftprop4 needs images of at least 4x4 pixels (two 2x2 max-pools), "
                             f"these are {h}x{w}; choose --model mlp")

    def _validate_shape(self) -> list:
        shape = list(self.image_shape) if isinstance(self.image_shape, (list, tuple)) else []
        if len(shape) not in (1, 3) or not all(_is_int(d) and d >= 1 for d in shape):
            raise ModelError(f"input shape must be three positive integers (H, W, C) for images or one (F,) for "
                             f"feature vectors, got {self.image_shape!r}")
        if not _is_int(self.num_classes) or self.num_classes < 2:
            raise ModelError(f"a classifier needs at least 2 classes, got {self.num_classes!r}")
        return shape

    def _layers(self) -> list[tuple[int, int]]:
        """(parameters, output values per sample) of every weight layer (with its BatchNorm)."""
        k = self.num_classes
        if self.model == "mlp":
            fan, out = math.prod(self.image_shape), []
            for _ in range(self.depth):
                out.append((fan * self.hidden + 2 * self.hidden, self.hidden))
                fan = self.hidden
            return out + [(fan * k + 2 * k, k)]
        h, w, c = self.image_shape
        if self.model == "vgg":
            out = []
            for width in self.widths:
                out += [(9 * c * width + 2 * width, h * w * width), (9 * width * width + 2 * width, h * w * width)]
                c, h, w = width, h // 2, w // 2
            fan = h * w * c
            out += [(fan * self.fc + 2 * self.fc, self.fc), (self.fc * self.fc + 2 * self.fc, self.fc),
                    (self.fc * k + 2 * k, k)]
            return out
        # ftprop4: conv 5x5 c->32, pool, conv 5x5 32->64, pool, FC, FC (with biases)
        return [(25 * c * 32 + 32, h * w * 32), (25 * 32 * 64 + 64, (h // 2) * (w // 2) * 64),
                ((h // 4) * (w // 4) * 64 * self.fc + self.fc, self.fc), (self.fc * k + k, k)]

    def param_count(self) -> int:
        """Trainable parameters (weights, biases, BatchNorm scales and shifts); call validate() first."""
        return sum(p for p, _ in self._layers())

    def activation_count(self) -> int:
        """Output values of the weight layers for one sample (a lower bound of what training keeps)."""
        return sum(a for _, a in self._layers())

    def size_options(self) -> str:
        """The options that set this model's size, for messages."""
        return {"mlp": "--hidden / --depth", "vgg": "--widths / --fc", "ftprop4": "--fc"}.get(self.model, "--model")


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
    """LAB's MLP over images (flattened) or feature vectors (N, F): ``depth`` hidden layers of
    ``hidden`` units, each BinaryLinear -> BatchNorm, the next layer's input quantizer the activation."""
    kq = _kq(cfg)
    layers: list[nn.Module] = [Flatten()]
    fan_in = math.prod(cfg.image_shape)
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


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build (and initialise as LAB does) the model a :class:`ModelConfig` describes.
    Raises ModelError (before allocating anything) if the configuration cannot be built.
    A user model is built by its factory (binedge.user_model.build), with its own
    initialisation; a recorded ``source`` must still match the file (its SHA-256)."""
    builders = {"mlp": build_mlp, "vgg": build_vgg, "ftprop4": build_ftprop4}
    cfg.validate()
    if cfg.is_user:
        from .user_model import build

        return build(cfg.user_source(), cfg.image_shape, cfg.num_classes,
                     recorded_sha256=str(cfg.source.get("sha256", "")) if cfg.source else "")
    model = builders[cfg.model](cfg)
    _lab_init(model)
    return model


def squared_hinge_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LAB's loss: mean(max(0, 1 - t·y)²) with one-vs-all targets t ∈ {±1}."""
    t = -torch.ones_like(logits)
    t.scatter_(1, target.unsqueeze(1), 1.0)
    return torch.clamp(1.0 - t * logits, min=0.0).pow(2).mean()
