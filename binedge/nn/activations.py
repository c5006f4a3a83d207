"""Hard-threshold activations and their training rules.

Forward (the deployed function; see each class for its sign(0) convention):
    sign   h = +1 if z >= 0 else -1         (sign(0) = +1, LAB's and DESIGN.md's convention;
                                             FTPROP's code uses z > 0 — a measure-zero difference)
    step   h = 1 if z > 0 else 0            (FTPROP's convention: step(0) = 0)
    qrelu  h = clamp(ceil(z·(n-1)), 0, n) / n   (Friesen & Domingos' "staircase"; n = 3 gives
           2-bit outputs {0, 1/3, 2/3, 1} with thresholds z > 0, > 0.5, > 1; n = 5 gives 3-bit
           outputs k/5 with thresholds every 0.25 from 0 to 1)

Backward rules for an incoming gradient g = ∂L/∂h (Friesen & Domingos, ICLR 2018, §4-5):
    ste     ∂L/∂z = g
    sste    ∂L/∂z = g·1{|z| <= 1} (sign, step);  g·1{0 <= z <= 1} (qrelu)
    ftprop  FTPROP-MB with the soft hinge: per-unit target t = sign(-g) (t = 0 ignores the unit),
            per-unit loss |g|·(tanh(-z̃·t) + 1) with z̃ = z (sign, step) or z̃ = 2z - 1 (qrelu,
            centred on its [0, 1] range), so ∂L/∂z = g·sech²(z̃) (for qrelu the constant factor
            dz̃/dz = 2 is dropped, as in the paper's code). ``weighted=False`` drops the |g| weight:
            ∂L/∂z = -t·sech²(z̃)/N with N the batch size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

RULES = ("ste", "sste", "ftprop")


def _sech2(x: torch.Tensor) -> torch.Tensor:
    # 1/cosh² keeps its relative precision in the tails, where 1 - tanh² cancels to noise.
    return torch.cosh(x).pow(-2)


class _HardThreshold(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, module):
        ctx.save_for_backward(z)
        ctx.module = module
        return module.hard_forward(z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return ctx.module.surrogate_grad(z, g), None


class ThresholdActivation(nn.Module):
    """Base of the hard-threshold activations; what lowering needs is exposed as attributes.

    Attributes:
        thresholds: real thresholds t_1 <= ... <= t_L on the pre-activation z.
        strict: the output level is #{k : z > t_k} if True, #{k : z >= t_k} if False.
        encoding: "sign" (level 1 -> +1, level 0 -> -1) or "unsigned" (value = level·level_scale).
        level_scale: real value of one unsigned level.
        pad_value: the value whose bit encoding is 0 (+1 for sign, 0 for unsigned): what a
            binary convolution pads its input with, so training and deployment agree.
    """

    thresholds: tuple = (0.0,)
    strict = False
    encoding = "sign"
    level_scale = 1.0
    pad_value = 1.0
    kind = "threshold"

    def __init__(self, rule: str = "sste", *, weighted: bool = True):
        super().__init__()
        if rule not in RULES:
            raise ValueError(f"unknown training rule {rule!r}; choose one of {', '.join(RULES)}")
        self.rule = rule
        self.weighted = weighted

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _HardThreshold.apply(z, self)

    def hard_forward(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _window(self, z: torch.Tensor) -> torch.Tensor:
        return (z.abs() <= 1).to(z.dtype)

    def _hinge_arg(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def surrogate_grad(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        if self.rule == "ste":
            return g
        if self.rule == "sste":
            return g * self._window(z)
        s = _sech2(self._hinge_arg(z))
        if self.weighted:
            return g * s
        t = torch.sign(-g)
        return -t * s / max(1, z.shape[0])

    def extra_repr(self) -> str:
        return f"rule={self.rule}" + ("" if self.weighted else ", weighted=False")


class Sign(ThresholdActivation):
    """h = +1 if z >= 0 else -1 (sign(0) = +1)."""

    name = "sign"

    def hard_forward(self, z):
        return torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


class RSign(Sign):
    """ReActNet's RSign (Liu et al., ECCV 2020, "ReActNet", eq. 3): h = sign(z − b_c) with a
    learnable shift b_c per channel (sign(0) = +1, so h = +1 iff z >= b_c). The gradient of the
    training rule flows to z and, negated, to b (b starts at 0: RSign starts as sign).

    In a binary ResNet the activation reads the int8 shortcut value directly, with no
    BatchNorm before it, so b is the only per-channel threshold there; after a BatchNorm it
    folds into the BatchNorm's bias. It lowers to the same integer thresholds as sign, one per
    channel (t_c = b_c on z).

    Args:
        channels: the number of channels (dimension 1 of the input: NCHW maps or (N, F)
            feature vectors).
        rule, weighted: as :class:`ThresholdActivation`.
    """

    name = "rsign"

    def __init__(self, channels: int, rule: str = "sste", *, weighted: bool = True):
        super().__init__(rule, weighted=weighted)
        if int(channels) < 1:
            raise ValueError(f"RSign needs a positive channel count, got {channels!r}")
        self.shift = nn.Parameter(torch.zeros(int(channels)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() < 2 or z.shape[1] != self.shift.numel():
            raise ValueError(f"RSign({self.shift.numel()}) got an input of shape {tuple(z.shape)}: dimension 1 "
                             f"must hold its {self.shift.numel()} channels")
        return _HardThreshold.apply(z - self.shift.view(1, -1, *([1] * (z.dim() - 2))), self)

    def channel_thresholds(self) -> list[tuple[float, ...]]:
        """The real threshold(s) on z of every channel: (b_c,) for sign(z − b_c)."""
        return [tuple(float(b) + t for t in self.thresholds) for b in self.shift.detach().double().cpu()]

    def extra_repr(self) -> str:
        return f"channels={self.shift.numel()}, " + super().extra_repr()


class Step(ThresholdActivation):
    """h = 1 if z > 0 else 0 (step(0) = 0, as in FTPROP's code)."""

    name = "step"
    strict = True
    encoding = "unsigned"
    pad_value = 0.0

    def hard_forward(self, z):
        return (z > 0).to(z.dtype)


class QReLU(ThresholdActivation):
    """Quantized ReLU: h = clamp(ceil(z·(n-1)), 0, n)/n; level k for z > (k-1)/(n-1), k = 1..n."""

    strict = True
    encoding = "unsigned"
    pad_value = 0.0

    def __init__(self, n: int, rule: str = "sste", *, weighted: bool = True):
        super().__init__(rule, weighted=weighted)
        if n < 2:
            raise ValueError("qrelu needs n >= 2")
        self.n = n
        self.thresholds = tuple((k - 1) / (n - 1) for k in range(1, n + 1))
        self.level_scale = 1.0 / n
        self.name = f"qrelu{math.ceil(math.log2(n + 1))}"

    def hard_forward(self, z):
        return torch.clamp(torch.ceil(z * (self.n - 1)), 0, self.n) / self.n

    def _window(self, z):
        return ((z >= 0) & (z <= 1)).to(z.dtype)

    def _hinge_arg(self, z):
        return 2 * z - 1

    def extra_repr(self) -> str:
        return f"n={self.n}, " + super().extra_repr()


class RealActivation(nn.Module):
    """A real-valued activation (not deployable as an integer program): relu or saturated relu."""

    kind = "real"
    pad_value = 0.0

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def forward(self, z):
        return torch.relu(z) if self.name == "relu" else torch.clamp(z, 0.0, 1.0)

    def extra_repr(self) -> str:
        return self.name


ACTIVATIONS = ("sign", "rsign", "step", "qrelu2", "qrelu3", "relu", "srelu", "int8")


def get_activation(spec, rule: str | None = None, *, weighted: bool = True,
                   channels: int | None = None) -> nn.Module | None:
    """Resolve ``None``, an activation module, or a name such as ``"sign"`` / ``"qrelu2:ftprop"``.

    Names: sign, rsign (sign with a learnable per-channel shift, :class:`RSign`; needs
    ``channels``), step, qrelu2 (n = 3), qrelu3 (n = 5), relu, srelu (clamp to [0, 1]), and
    int8 = ``binedge.nn.QuantInt8(relu=True)``: an int8 quantized ReLU calibrated on [0, max]
    (zero point −128), the activation of binedge's all-int8 twins; it lowers exactly to int8 codes.
    ``rule`` (ste | sste | ftprop; default sste) applies to the hard-threshold ones (int8 has its
    own straight-through gradient, ReLU's, and ignores it); a ``name:rule`` string sets it inline.
    """
    if spec is None or isinstance(spec, nn.Module):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"activation must be None, a string or an nn.Module, not {type(spec).__name__}")
    name, _, inline_rule = spec.lower().partition(":")
    rule = inline_rule or rule or "sste"
    if name in ("none", "identity"):
        return None
    if name in ("relu", "srelu"):
        return RealActivation(name)
    if name == "int8":
        from .quant import QuantInt8  # quant -> quantizers; imported here to keep activations a leaf module

        return QuantInt8(relu=True)
    if name == "sign":
        return Sign(rule, weighted=weighted)
    if name == "rsign":
        if channels is None:
            raise ValueError("rsign learns one shift per channel: give channels=, or build binedge.nn.RSign(channels)")
        return RSign(channels, rule, weighted=weighted)
    if name == "step":
        return Step(rule, weighted=weighted)
    if name == "qrelu2":
        return QReLU(3, rule, weighted=weighted)
    if name == "qrelu3":
        return QReLU(5, rule, weighted=weighted)
    raise ValueError(f"unknown activation {spec!r}; choose one of: {', '.join(ACTIVATIONS)}")
