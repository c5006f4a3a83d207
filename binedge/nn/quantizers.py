"""Weight (kernel) quantizers: BinaryConnect, BWN and LAB (and "int8", binedge.nn.quant.Int8Weights).

Every quantizer maps the latent full-precision weight w to the weight the layer computes
with, ŵ = α·sign(w) with sign(0) = +1, and passes the gradient straight through:
∂L/∂w := ∂L/∂ŵ (no |w| <= 1 mask; LAB's official code does the same). Latent binary weights
are clipped to [-1, 1] after each optimizer step by :class:`binedge.optim.LAB`.

    BinaryConnect (Courbariaux et al. 2015): α = 1.
    BWN (Rastegari et al. 2016):             α = ‖w‖₁ / n, one α per weight tensor.
    LAB (Hou, Yao & Kwok, ICLR 2017, Prop. 3.1): α = ‖d ⊙ w‖₁ / ‖d‖₁ with d = √v̂ + ε,
        Adam's bias-corrected second moment of the previous step. The optimizer owns d, so
        the LAB quantizer reads α from the layer's ``kernel_scale`` buffer, which
        :class:`binedge.optim.LAB` refreshes after every step (before any step, d is
        constant and α is the BWN value).
"""

from __future__ import annotations

import torch


def binary_sign(w: torch.Tensor) -> torch.Tensor:
    """sign with sign(0) = +1 (DESIGN.md §2), as a float tensor of ±1."""
    return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))


def _straight_through(w: torch.Tensor, w_hat: torch.Tensor) -> torch.Tensor:
    # Forward value w_hat, gradient w.r.t. w equal to the gradient w.r.t. w_hat.
    return w + (w_hat - w).detach()


class KernelQuantizer:
    """Base class: ``quantize(w, layer) -> ŵ`` and ``scale(w, layer) -> α`` (a 0-d tensor)."""

    name = "none"
    binary = True
    #: whether binedge.optim.LAB refreshes layer.kernel_scale from Adam's state
    optimizer_scaled = False

    def scale(self, w: torch.Tensor, layer) -> torch.Tensor:
        raise NotImplementedError

    def quantize(self, w: torch.Tensor, layer) -> torch.Tensor:
        return _straight_through(w, self.scale(w, layer).detach() * binary_sign(w))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class BinaryConnect(KernelQuantizer):
    """ŵ = sign(w) (α = 1)."""

    name = "binaryconnect"

    def scale(self, w, layer):
        return torch.ones((), dtype=w.dtype, device=w.device)


class BWN(KernelQuantizer):
    """ŵ = α·sign(w), α = ‖w‖₁ / n per weight tensor (recomputed every forward)."""

    name = "bwn"

    def scale(self, w, layer):
        return w.detach().abs().mean()


class LABQuantizer(KernelQuantizer):
    """ŵ = α·sign(w) with α = ‖d ⊙ w‖₁ / ‖d‖₁ held in ``layer.kernel_scale`` (set by binedge.optim.LAB)."""

    name = "lab"
    optimizer_scaled = True

    def scale(self, w, layer):
        return layer.kernel_scale.to(w.dtype)


KERNEL_QUANTIZERS = {q.name: q for q in (BinaryConnect, BWN, LABQuantizer)}


def get_kernel_quantizer(spec) -> KernelQuantizer | None:
    """Resolve ``None`` / ``"none"`` / ``"fp"`` (full precision), a name (binaryconnect, bwn, lab, int8),
    or a quantizer object."""
    if spec is None or isinstance(spec, KernelQuantizer):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in ("none", "fp", "float", "full"):
            return None
        if key in KERNEL_QUANTIZERS:
            return KERNEL_QUANTIZERS[key]()
        if key == "int8":
            from .quant import Int8Weights  # quant builds on this module

            return Int8Weights()
        raise ValueError(f"unknown kernel quantizer {spec!r}; choose one of: none, {', '.join(KERNEL_QUANTIZERS)}, "
                         "int8")
    raise TypeError(f"kernel_quantizer must be None, a string or a KernelQuantizer, not {type(spec).__name__}")
