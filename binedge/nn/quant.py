"""Int8 fake quantization: PyTorch computes what the integer graph computes (DESIGN.md §7).

The deployment graph's int8 values are codes q with real value s·(q − zp) (docs/graph.md), and
every op that makes one rounds with ONE rule, ``binedge.graph.requant``:
requant(v, shift, zp) = clamp(zp + floor(v / 2^shift + 1/2), −128, 127) — halves go up, towards
+∞. The modules here apply that rule to float tensors, so a trained model already sees the
values the integer program will hold (up to float32 rounding next to a boundary: a tie).

round_half_up(v) = floor(v + 1/2), computed exactly for every float (``torch.round`` rounds
halves to even and would disagree with the graph at every exact half).

:class:`QuantInt8` — activations and other real-valued paths (shortcuts, residual sums, pooled
maps, the outputs of int8 layers)::

    q = clamp(round_half_up(x / s) + zp, −128, 127)      the int8 code
    y = (q − zp) · s                                       the forward value
    ∂y/∂x = 1 where −128 <= round_half_up(x / s) + zp <= 127, else 0   (straight through in range)

  Scale s and zero point zp (buffers ``scale``, ``zero_point``):

  * fixed (``scale=`` given, ``zero_point`` default 0): never change;
  * calibrated (default): in training mode every batch updates the running minimum and maximum
    of x by an exponential moving average, m <- (1 − momentum)·m + momentum·m_batch (the first
    batch sets them), widened to lo = min(m_min, 0), hi = max(m_max, 0) so that real 0 is
    exactly the code zp (what convolutions pad with), then

        asymmetric (default): s = (hi − lo) / 255,        zp = clamp(round_half_up(−128 − lo / s), −128, 127)
        symmetric:            s = max(−lo, hi) / 127,     zp = 0
        relu:                 s = hi / 255,               zp = −128   (lo := 0, whatever m_min is)

    (s at least 1e-8); the batch is then quantized with the new s and zp;
  * ``relu=True`` — an int8 quantized ReLU: the range is [0, hi], so code −128 is real 0 and
    every negative input saturates to it. The forward value is then
    y = s·(clamp(round_half_up(x / s), 0, 255)) = s·round(clamp(x, 0, 255·s) / s), i.e.
    ReLU(x) clipped at 255·s and rounded, and the straight-through gradient is ReLU's
    (0 below −s/2, 1 in range, 0 above the top code). Nothing new lowers: it is an ordinary
    (s, zp = −128) quantizer, which the graph's clamp to [−128, 127] applies exactly (the
    RequantStage / Requantize / Add / Merge that make its codes). A fixed ``scale`` with
    ``relu`` gets zero point −128 (another one is refused);
  * eval mode: the buffers are frozen. ``calibrated`` tells whether s and zp were ever set
    (binedge.convert refuses a quantizer that never saw data).

:class:`Int8Weights` — ``kernel_quantizer="int8"`` of BinaryLinear / BinaryConv2d: symmetric,
per output channel c::

    s_c = max_k |w_ck| / 127 rounded to 17 significant bits   (1 for an all-zero channel)
    q_ck = clamp(round_half_up(w_ck / s_c), −127, 127),   ŵ_ck = q_ck · s_c   (exact in float32)
    ∂L/∂w := ∂L/∂ŵ   (straight through, as the binary quantizers)

  so the layer's accumulator over int8 / uint8 codes or bits is an exact integer Σ q·x and its
  output is s_c·s_in·acc: the same computation the graph's int8 Dense / Conv2d makes.
"""

from __future__ import annotations

import torch
from torch import nn

from .quantizers import KernelQuantizer, _straight_through

CODE_MIN, CODE_MAX = -128, 127
WEIGHT_MAX = 127
MIN_SCALE = 1e-8
#: Significant bits of an int8 weight scale: 7-bit codes times 17-bit scales are exact in float32.
SCALE_BITS = 17


def round_half_up(v: torch.Tensor) -> torch.Tensor:
    """floor(v + 1/2), exactly for every float v (halves go up, towards +infinity).

    ``v - floor(v)`` is exact in floating point, so comparing it with 1/2 decides the rounding
    without the error that ``floor(v + 0.5)`` makes when v + 0.5 is not representable."""
    f = torch.floor(v)
    return f.add_((v - f) >= 0.5)


class _FakeQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point):
        v = round_half_up(x / scale).add_(zero_point)
        if ctx.needs_input_grad[0]:  # only training needs the mask
            ctx.save_for_backward((v >= CODE_MIN) & (v <= CODE_MAX))
        return v.clamp_(CODE_MIN, CODE_MAX).sub_(zero_point).mul_(scale)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside.to(g.dtype), None, None


class QuantInt8(nn.Module):
    """Int8 fake quantization of a real-valued tensor (formulas in the module docstring).

    Args:
        symmetric: zero point 0 and s = max|x| / 127 (else asymmetric over [min, max]).
        scale: a fixed scale (no calibration); with ``zero_point`` (default 0) a fixed code
            mapping, e.g. ``QuantInt8(scale=1/16)``.
        zero_point: the fixed zero point, in [-128, 127] (only with ``scale``).
        momentum: weight of each new batch in the running minimum / maximum.
        relu: calibrate the range [0, max] (zero point −128): an int8 quantized ReLU that
            clamps every negative input to 0 (module docstring). Not with ``symmetric``.
    """

    kind = "int8"
    pad_value = 0.0  # real 0 is the code zp: the value a convolution pads a quantized input with

    def __init__(self, symmetric: bool = False, *, scale: float | None = None, zero_point: int | None = None,
                 momentum: float = 0.1, relu: bool = False):
        super().__init__()
        if relu and symmetric:
            raise ValueError("QuantInt8: relu=True clamps at zero (zero point -128); it cannot be symmetric")
        if relu and scale is not None:
            if zero_point is None:
                zero_point = CODE_MIN
            elif int(zero_point) != CODE_MIN:
                raise ValueError(f"QuantInt8: relu=True needs zero point -128 (real 0 = the lowest code), "
                                 f"got {zero_point!r}")
        if scale is not None and not (float(scale) > 0 and float(scale) < float("inf")):
            raise ValueError(f"QuantInt8 scale must be a positive finite number, got {scale!r}")
        if zero_point is not None:
            if scale is None:
                raise ValueError("QuantInt8: a fixed zero_point needs a fixed scale")
            if int(zero_point) != zero_point or not CODE_MIN <= int(zero_point) <= CODE_MAX:
                raise ValueError(f"QuantInt8 zero_point must be an integer in [-128, 127], got {zero_point!r}")
            if symmetric and int(zero_point) != 0:
                raise ValueError("QuantInt8: a symmetric quantizer has zero point 0")
        if not 0.0 < float(momentum) <= 1.0:
            raise ValueError(f"QuantInt8 momentum must lie in (0, 1], got {momentum!r}")
        self.symmetric = bool(symmetric)
        self.relu = bool(relu)
        self.fixed = scale is not None
        self.momentum = float(momentum)
        self.register_buffer("scale", torch.tensor(float(scale) if self.fixed else 1.0))
        self.register_buffer("zero_point", torch.tensor(int(zero_point or 0), dtype=torch.int64))
        self.register_buffer("running_min", torch.tensor(0.0))
        self.register_buffer("running_max", torch.tensor(0.0))
        self.register_buffer("calibrated", torch.tensor(self.fixed))

    @torch.no_grad()
    def _observe(self, x: torch.Tensor) -> None:
        lo_b, hi_b = x.min().to(self.running_min.dtype), x.max().to(self.running_max.dtype)
        # The first batch sets the range, later ones move it by ``momentum``. Chosen on the device
        # (torch.where), not by reading ``calibrated`` into Python: no host synchronisation, so a
        # training step stays capturable as a CUDA graph (binedge.step_graph). Same float32
        # operations as the in-place update, so the same bits.
        m = self.momentum
        self.running_min.copy_(torch.where(self.calibrated, self.running_min * (1.0 - m) + m * lo_b, lo_b))
        self.running_max.copy_(torch.where(self.calibrated, self.running_max * (1.0 - m) + m * hi_b, hi_b))
        # relu: the range starts at 0 whatever the inputs' minimum, so negatives saturate to zp = -128
        lo = torch.zeros_like(self.running_min) if self.relu else torch.clamp(self.running_min, max=0.0)
        hi = torch.clamp(self.running_max, min=0.0)
        if self.symmetric:
            s = torch.clamp(torch.maximum(-lo, hi) / WEIGHT_MAX, min=MIN_SCALE)
            zp = torch.zeros((), dtype=torch.int64, device=self.zero_point.device)
        else:
            s = torch.clamp((hi - lo) / (CODE_MAX - CODE_MIN), min=MIN_SCALE)
            zp = round_half_up(CODE_MIN - lo / s).clamp(CODE_MIN, CODE_MAX).to(torch.int64)
        self.scale.copy_(s)
        self.zero_point.copy_(zp)
        self.calibrated.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not self.fixed:
            self._observe(x.detach())
        scale = self.scale.to(x.dtype)
        return _FakeQuant.apply(x, scale, self.zero_point.to(x.dtype))

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The int8 codes q of ``x`` with the current scale and zero point (no calibration)."""
        v = round_half_up(x / self.scale.to(x.dtype)) + self.zero_point.to(x.dtype)
        return v.clamp(CODE_MIN, CODE_MAX).to(torch.int8)

    def extra_repr(self) -> str:
        how = "fixed" if self.fixed else ("symmetric" if self.symmetric else "asymmetric")
        how += ", relu" if self.relu else ""
        return f"{how}, scale={float(self.scale):.6g}, zero_point={int(self.zero_point)}"


def _short_mantissa(s: torch.Tensor) -> torch.Tensor:
    """``s`` rounded to SCALE_BITS significant bits, so that q·s is exact in float32 for |q| <= 127."""
    mant, ex = torch.frexp(s)  # s = mant · 2^ex, mant in [0.5, 1)
    return torch.ldexp(torch.round(mant * 2.0**SCALE_BITS), ex - SCALE_BITS).to(s.dtype)


def int8_weight_codes(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, s): per output channel (axis 0) s_c = max|w_c| / 127 (1 if all zero) rounded to 17
    significant bits, and q = clamp(round_half_up(w / s_c), -127, 127) as a float tensor of
    integers; w ≈ q · s_c, and q · s_c is exact in float32 (7 + 17 bits)."""
    w = w.detach()
    m = w.reshape(w.shape[0], -1).abs().amax(dim=1) if w.numel() else torch.zeros(w.shape[0], dtype=w.dtype)
    s = _short_mantissa(torch.where(m > 0, m / WEIGHT_MAX, torch.ones_like(m)))
    view = (-1,) + (1,) * (w.dim() - 1)
    q = round_half_up(w / s.view(view)).clamp(-WEIGHT_MAX, WEIGHT_MAX)
    return q, s


class Int8Weights(KernelQuantizer):
    """ŵ = q · s_c: symmetric per-output-channel int8 weights (module docstring), straight through."""

    name = "int8"
    binary = False

    def scale(self, w, layer):
        """The per-output-channel scales s_c (shape (O,))."""
        return int8_weight_codes(w)[1]

    def codes(self, w) -> tuple[torch.Tensor, torch.Tensor]:
        return int8_weight_codes(w)

    def quantize(self, w, layer):
        q, s = int8_weight_codes(w)
        return _straight_through(w, q * s.view((-1,) + (1,) * (w.dim() - 1)))
