"""Model zoo: LAB's MLP, a VGG-style convnet (LAB's CIFAR-10 shape for 28×28 inputs),
FTPROP's 4-layer convnet and a binary ResNet with int8 shortcuts (Bi-Real Net / QuickNet style,
:func:`build_resnet`, docs/resnet.md), each for any weight method × any activation — and user models:
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
import torch.nn.functional as F
from torch import nn

from .nn import BinaryConv2d, BinaryLinear, QuantInt8, get_activation

MODELS = ("mlp", "vgg", "ftprop4", "resnet", "lstm")
#: Character models (binedge.lm): train on --dataset text, not on images or feature vectors.
TEXT_MODELS = ("lstm",)
#: Most stacked LSTM layers accepted (--depth with --model lstm).
MAX_LSTM_LAYERS = 16
WEIGHT_METHODS = ("fp", "binaryconnect", "bwn", "lab", "int8")
#: Weight methods whose layers are binary (α·sign(w)); "fp" is full precision, "int8" per-channel
#: int8 weights (binedge.nn.Int8Weights), which lower exactly but are not binary.
BINARY_WEIGHTS = ("binaryconnect", "bwn", "lab")

#: Widest layer accepted (--hidden, --fc, each of --widths): far above anything that trains on
#: one machine, low enough that a typo (--hidden 100000000) is caught before any allocation.
MAX_WIDTH = 65536
#: Most MLP hidden layers accepted (--depth); also the most ResNet blocks in one stage (--blocks).
MAX_DEPTH = 1000

#: Default widths (--widths) per zoo model: VGG's are LAB's shape scaled to 28x28; the ResNet's
#: were chosen to fit the Cortex-M4 budget of issue 13 (docs/resnet.md "Cost").
DEFAULT_WIDTHS = {"vgg": [32, 64, 128], "resnet": [16, 32, 64]}
#: Default residual blocks per ResNet stage (--blocks): none at 28x28 (the stem's 16 channels
#: only), two at 14x14, three at 7x7 — 8.3 M Cortex-M4 instructions per inference (docs/resnet.md).
DEFAULT_BLOCKS = [0, 2, 3]
#: ResNet shortcut sums (--shortcut): "add" quantizes the binary branch to int8 and adds two
#: int8 values (graph Add); "merge" adds the branch's exact accumulator to the int8 shortcut
#: (graph AccStage + Merge, Bi-Real Net's real-valued sum).
SHORTCUTS = ("merge", "add")
#: Weights of the ResNet's 1x1 downsampling convolutions and of its classifier (--downsample,
#: --classifier): int8, or "binary" = the --weights method.
LAYER_WEIGHTS = ("int8", "binary")


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
    weights: str = "lab"  # fp | binaryconnect | bwn | lab | int8
    activation: str = "sign"  # sign | rsign (resnet) | step | qrelu2 | qrelu3 | relu | srelu | int8
    rule: str = "sste"  # ste | sste | ftprop (hard-threshold activations only)
    weighted: bool = True  # FTPROP: weight the per-unit loss by |∂L/∂h|
    hidden: int = 1024  # MLP width
    depth: int = 3  # MLP hidden layers
    #: VGG conv widths (2 convs each) / ResNet stage widths; None: the model's DEFAULT_WIDTHS
    widths: list | None = None
    fc: int = 256  # VGG / ftprop4 fully connected width
    blocks: list | None = None  # ResNet: residual blocks per stage; None: DEFAULT_BLOCKS
    shortcut: str = "merge"  # ResNet: merge | add (SHORTCUTS)
    downsample: str = "int8"  # ResNet: weights of the 1x1 downsampling convs, int8 | binary
    classifier: str = "int8"  # ResNet: weights of the classifier, int8 | binary
    image_shape: list = field(default_factory=lambda: [28, 28, 1])  # H, W, C of images, or [F] for feature vectors
    num_classes: int = 10
    #: user models: where the factory lives and the SHA-256 of its file (binedge.user_model.Source),
    #: recorded when training starts; empty for the zoo
    source: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.widths is None:
            self.widths = list(DEFAULT_WIDTHS.get(self.model, DEFAULT_WIDTHS["vgg"]))
        if self.blocks is None:
            self.blocks = list(DEFAULT_BLOCKS)

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
        if self.model in TEXT_MODELS:
            self._validate_lstm(shapes)
            return
        try:
            _act(self, 1)
        except (ValueError, TypeError) as e:
            raise ModelError(f"--activation / --rule: {e}") from None
        if self.activation.partition(":")[0].lower() == "rsign" and self.model != "resnet":
            raise ModelError(f"--activation rsign learns a shift before each sign, for activations that read a value "
                             f"with no BatchNorm before them: the ResNet's int8 shortcuts. In --model {self.model} "
                             f"every activation follows a BatchNorm, whose bias is that shift: use --activation sign")
        shape = self._validate_shape()

        def width(option: str, v) -> None:
            if not _is_int(v) or v < 1:
                raise ModelError(f"{option} must be a positive integer, got {v!r}")
            if v > MAX_WIDTH:
                raise ModelError(f"{option}: {v} units is wider than binedge's limit of {MAX_WIDTH} units per layer; "
                                 f"choose at most {MAX_WIDTH}")

        if self.model == "mlp":
            width("--hidden", self.hidden)
            if not _is_int(self.depth) or not 1 <= self.depth <= MAX_DEPTH:
                raise ModelError(f"--depth must be an integer from 1 to {MAX_DEPTH}, got {self.depth!r}")
        else:
            width("--fc", self.fc)
        if self.model in ("vgg", "resnet"):
            ws = self.widths if isinstance(self.widths, (list, tuple)) else None
            if not ws:
                raise ModelError(f"--widths must list at least one conv width (e.g. 32,64,128), got {self.widths!r}")
            for v in ws:
                width("--widths", v)
        if self.model == "resnet":
            self._validate_resnet_options()
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
        if self.model == "resnet":
            stages, (hh, ww) = 1, (h, w)
            while hh // 2 >= 1 and ww // 2 >= 1:
                stages, hh, ww = stages + 1, hh // 2, ww // 2
            if len(self.widths) > stages:
                shown = ",".join(str(v) for v in self.widths)
                raise ModelError(f"--widths {shown} is too deep for {h}x{w} images: every stage after the first "
                                 f"starts with a 2x2 average pool that halves the feature map, and "
                                 f"{len(self.widths)} stages shrink it to 0x0 pixels; {h}x{w} images allow at "
                                 f"most {stages} stage(s)")
        if self.model == "ftprop4" and (h < 4 or w < 4):
            raise ModelError(f"--model ftprop4 needs images of at least 4x4 pixels (two 2x2 max-pools), "
                             f"these are {h}x{w}; choose --model mlp")

    def _validate_lstm(self, shapes: bool) -> None:
        """--model lstm (binedge.lm.CharLSTM): image_shape is [vocabulary], num_classes the vocabulary."""
        if self.weights == "int8":
            raise ModelError("--weights int8 is not built for --model lstm: choose fp, binaryconnect, bwn or lab")
        if not _is_int(self.hidden) or not 1 <= self.hidden <= MAX_WIDTH:
            raise ModelError(f"--hidden must be an integer from 1 to {MAX_WIDTH} LSTM cells, got {self.hidden!r}")
        if not _is_int(self.depth) or not 1 <= self.depth <= MAX_LSTM_LAYERS:
            raise ModelError(f"--depth (LSTM layers) must be an integer from 1 to {MAX_LSTM_LAYERS}, got "
                             f"{self.depth!r}")
        if not shapes:
            return
        shape = self._validate_shape()
        if len(shape) != 1 or shape[0] != self.num_classes:
            raise ModelError("--model lstm is a character model: it reads a text corpus (--dataset text --data-file "
                             "FILE), not images or feature vectors")

    def _validate_resnet_options(self) -> None:
        bs = self.blocks if isinstance(self.blocks, (list, tuple)) else None
        if not bs or not all(_is_int(b) and 0 <= b <= MAX_DEPTH for b in bs) or sum(bs) < 1:
            raise ModelError(f"--blocks must list the number of residual blocks of every stage (each from 0 to "
                             f"{MAX_DEPTH}, at least one block in all), e.g. 2,2,2; got {self.blocks!r}")
        if len(bs) != len(self.widths):
            raise ModelError(f"--blocks lists {len(bs)} stage(s) but --widths {len(self.widths)}: give one "
                             f"number of blocks per stage width (e.g. --widths 16,32,64 --blocks 2,2,2)")
        if self.shortcut not in SHORTCUTS:
            raise ModelError(f"unknown --shortcut {self.shortcut!r}; choose one of {', '.join(SHORTCUTS)}")
        for option, v in (("--downsample", self.downsample), ("--classifier", self.classifier)):
            if v not in LAYER_WEIGHTS:
                raise ModelError(f"unknown {option} {v!r}; choose one of {', '.join(LAYER_WEIGHTS)}")
        if self.weights == "int8" and self.shortcut == "merge":
            # An int8 conv's accumulator counts in units s_w·s_in, ~10^3 finer than the int8
            # shortcut's: one int32 Merge cannot add them within float32's resolution
            # (docs/numerics.md "Merge"), so the int8 twin quantizes the branch first (graph Add),
            # as int8 ResNets on microcontrollers do.
            raise ModelError("--weights int8 needs --shortcut add on the resnet: an int8 convolution's output "
                             "is added to the shortcut as int8 codes (graph Add); merge adds binary accumulators only")

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
        if self.model in TEXT_MODELS:  # per LSTM layer the 8 gate matrices and 4 biases; the softmax layer
            out, fan = [], k
            for _ in range(self.depth):
                out.append((4 * self.hidden * (fan + self.hidden + 1), 6 * self.hidden))
                fan = self.hidden
            return out + [(fan * k + k, k)]
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
        if self.model == "resnet":
            out = [(9 * c * self.widths[0] + 2 * self.widths[0], 2 * h * w * self.widths[0])]  # stem (+ its int8 copy)
            for i, (width, nb) in enumerate(zip(self.widths, self.blocks)):
                if i:
                    h, w = h // 2, w // 2
                    out.append((c * width + 2 * width, h * w * (c + 2 * width)))  # pool, 1x1 conv
                # each block: the sign of x, the conv, its BatchNorm, the branch code and the sum
                out += [(9 * width * width + 2 * width, 5 * h * w * width)] * nb
                c = width
            return out + [(c * k + 2 * k, k + c)]
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
        return {"mlp": "--hidden / --depth", "lstm": "--hidden / --depth", "vgg": "--widths / --fc", "ftprop4": "--fc",
                "resnet": "--widths / --blocks"}.get(self.model, "--model")


class Flatten(nn.Flatten):
    """nn.Flatten; a separate class so lowering can tell model flattening from others."""


def _kq(cfg: ModelConfig):
    if cfg.weights not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight method {cfg.weights!r}; choose one of {', '.join(WEIGHT_METHODS)}")
    return None if cfg.weights == "fp" else cfg.weights


def _act(cfg: ModelConfig, channels: int):
    """The activation of a layer whose input has ``channels`` channels (features); rsign learns a
    shift per channel."""
    return get_activation(cfg.activation, cfg.rule, weighted=cfg.weighted, channels=channels)


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
                                input_quantizer=_act(cfg, fan_in) if i else None),
                   nn.BatchNorm1d(cfg.hidden)]
        fan_in = cfg.hidden
    layers += [BinaryLinear(fan_in, cfg.num_classes, bias=False, kernel_quantizer=kq,
                            input_quantizer=_act(cfg, fan_in)),
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
                                    input_quantizer=None if first else _act(cfg, c)),
                       nn.BatchNorm2d(width)]
            c, first = width, False
        layers.append(nn.MaxPool2d(2))
        h, w = h // 2, w // 2
    layers.append(Flatten())
    fan_in = h * w * c
    for _ in range(2):
        layers += [BinaryLinear(fan_in, cfg.fc, bias=False, kernel_quantizer=kq, input_quantizer=_act(cfg, fan_in)),
                   nn.BatchNorm1d(cfg.fc)]
        fan_in = cfg.fc
    layers += [BinaryLinear(fan_in, cfg.num_classes, bias=False, kernel_quantizer=kq,
                            input_quantizer=_act(cfg, fan_in)),
               nn.BatchNorm1d(cfg.num_classes)]
    return nn.Sequential(*layers)


def build_ftprop4(cfg: ModelConfig) -> nn.Sequential:
    """Friesen & Domingos' 4-layer convnet: conv 32 5×5, pool, act; conv 64 5×5, pool, act;
    FC ``cfg.fc`` (1024 in the paper), act; FC out. No BatchNorm, biases on (as published);
    pooling before the activation equals pooling after it for these non-decreasing activations."""
    h, w, c = cfg.image_shape
    kq = _kq(cfg)
    layers = [BinaryConv2d(c, 32, 5, padding=2, kernel_quantizer=kq), nn.MaxPool2d(2),
              BinaryConv2d(32, 64, 5, padding=2, kernel_quantizer=kq, input_quantizer=_act(cfg, 32)), nn.MaxPool2d(2),
              Flatten(),
              BinaryLinear((h // 4) * (w // 4) * 64, cfg.fc, kernel_quantizer=kq,
                           input_quantizer=_act(cfg, (h // 4) * (w // 4) * 64)),
              BinaryLinear(cfg.fc, cfg.num_classes, kernel_quantizer=kq, input_quantizer=_act(cfg, cfg.fc))]
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """Bi-Real Net's block with an int8 shortcut (Liu et al., ECCV 2018, "Bi-Real Net"):

        y = Q_out(x + Q_branch(BN(conv3x3(act(x)))))     shortcut "add"
        y = Q_out(x + BN(conv3x3(act(x))))                shortcut "merge"

    x is an int8 value (a QuantInt8 output), act the hard-threshold activation (the conv's
    ``input_quantizer``: sign pads with +1), conv3x3 a binary convolution (``kernel_quantizer``)
    and Q_* calibrated :class:`~binedge.nn.QuantInt8` quantizers. "add" lowers to Threshold ->
    Conv2d (RequantStage) -> Add, "merge" to Threshold -> Conv2d (AccStage) -> Merge (RoundStage);
    docs/resnet.md."""

    def __init__(self, channels: int, kernel_quantizer, activation: nn.Module, shortcut: str):
        super().__init__()
        self.conv = BinaryConv2d(channels, channels, 3, padding=1, bias=False, kernel_quantizer=kernel_quantizer,
                                 input_quantizer=activation)
        self.bn = nn.BatchNorm2d(channels)
        # "merge" keeps the branch exact (no quantizer): the sum is rounded once, by Q_out
        self.branch = QuantInt8() if shortcut == "add" else nn.Identity()
        self.out = QuantInt8()

    def forward(self, x):
        return self.out(x + self.branch(self.bn(self.conv(x))))


class Downsample(nn.Module):
    """QuickNet / Bi-Real downsampling between stages: y = Q(BN(conv1x1(Q(avgpool2x2(x))))), the
    1x1 convolution (int8 or binary weights) changing the width; lowers to AvgPool2d -> Conv2d
    (RequantStage)."""

    def __init__(self, cin: int, cout: int, kernel_quantizer):
        super().__init__()
        self.pooled = QuantInt8()
        self.conv = BinaryConv2d(cin, cout, 1, bias=False, kernel_quantizer=kernel_quantizer)
        self.bn = nn.BatchNorm2d(cout)
        self.out = QuantInt8()

    def forward(self, x):
        return self.out(self.bn(self.conv(self.pooled(F.avg_pool2d(x, 2)))))


class BinaryResNet(nn.Module):
    """The zoo's binary ResNet for small images (docs/resnet.md):

        stem        int8 conv3x3 (c -> widths[0]) on x/255 -> BN -> QuantInt8
        stage i     [Downsample(widths[i-1] -> widths[i]) for i > 0] then blocks[i] ResidualBlocks
        head        global average pool -> QuantInt8 -> Dense (int8 or binary) -> BatchNorm1d

    Every 3x3 convolution after the stem is binary (``cfg.weights``) and reads the activation
    ``cfg.activation`` / ``cfg.rule`` of its int8 input; every value between layers is int8, so
    the whole network lowers exactly with binedge.convert."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        _, _, c = cfg.image_shape
        kq = _kq(cfg)
        side = {"int8": "int8", "binary": kq}
        w0 = cfg.widths[0]
        self.stem = BinaryConv2d(c, w0, 3, padding=1, bias=False, kernel_quantizer="int8")
        self.stem_bn = nn.BatchNorm2d(w0)
        self.stem_q = QuantInt8()
        stages, cin = [], w0
        for i, (width, nb) in enumerate(zip(cfg.widths, cfg.blocks)):
            layers: list[nn.Module] = [Downsample(cin, width, side[cfg.downsample])] if i else []
            layers += [ResidualBlock(width, kq, _act(cfg, width), cfg.shortcut) for _ in range(nb)]
            stages.append(nn.Sequential(*layers))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.pooled = QuantInt8()
        self.classifier = BinaryLinear(cin, cfg.num_classes, bias=False, kernel_quantizer=side[cfg.classifier])
        self.classifier_bn = nn.BatchNorm1d(cfg.num_classes)

    def forward(self, x):
        x = self.stages(self.stem_q(self.stem_bn(self.stem(x))))
        return self.classifier_bn(self.classifier(self.pooled(x.mean((2, 3)))))


def build_resnet(cfg: ModelConfig) -> BinaryResNet:
    """The binary ResNet of :class:`BinaryResNet` for ``cfg`` (widths, blocks, shortcut,
    downsample, classifier)."""
    return BinaryResNet(cfg)


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build (and initialise as LAB does) the model a :class:`ModelConfig` describes.
    Raises ModelError (before allocating anything) if the configuration cannot be built.
    A user model is built by its factory (binedge.user_model.build), with its own
    initialisation; a recorded ``source`` must still match the file (its SHA-256)."""
    builders = {"mlp": build_mlp, "vgg": build_vgg, "ftprop4": build_ftprop4, "resnet": build_resnet}
    cfg.validate()
    if cfg.is_user:
        from .user_model import build

        return build(cfg.user_source(), cfg.image_shape, cfg.num_classes,
                     recorded_sha256=str(cfg.source.get("sha256", "")) if cfg.source else "")
    if cfg.model in TEXT_MODELS:
        from .lm import build_char_lstm

        return build_char_lstm(cfg)  # LAB's LSTM initialisation (uniform ±0.08), not _lab_init's
    model = builders[cfg.model](cfg)
    _lab_init(model)
    return model


def squared_hinge_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LAB's loss: mean(max(0, 1 - t·y)²) with one-vs-all targets t ∈ {±1}."""
    t = -torch.ones_like(logits)
    t.scatter_(1, target.unsqueeze(1), 1.0)
    return torch.clamp(1.0 - t * logits, min=0.0).pow(2).mean()
