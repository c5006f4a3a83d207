"""LAB: loss-aware binarization as an Adam optimizer (Hou, Yao & Kwok, ICLR 2017).

The proximal Newton step with diagonal Hessian D = diag(d) has the closed form (Prop. 3.1)

    w_l <- w_l - ∇_l ℓ(ŵ) ⊘ d_l              (Adam's update of the latent weight, gradient at ŵ)
    α_l = ‖d_l ⊙ w_l‖₁ / ‖d_l‖₁,  b_l = sign(w_l),  ŵ_l = α_l·b_l
    d_l = ε + √v̂_l                           (v̂: Adam's bias-corrected second moment)

so LAB is Adam on every parameter plus, after each step, for every binarized weight tensor:
clip the latent weight to [-1, 1] and (for layers with the ``lab`` quantizer) refresh α from
the new d and w — the α the next forward pass uses. With d constant α is BWN's ‖w‖₁/n; with
α held at 1 the step is BinaryConnect with Adam. Biases and BatchNorm parameters get plain Adam.
Weight decay (Adam's L2 term) applies to the real-valued weight tensors only (:func:`real_weights`):
a binary layer's latent weight moves by LAB's proximal step alone.
The same optimizer trains ``binaryconnect`` and ``bwn`` layers (their α needs no optimizer state),
so every weight method shares one update rule and one clipping convention.

Data parallelism: α = ‖d ⊙ w‖₁ / ‖d‖₁ reduces over the whole tensor, so every process must hold
all of d (Adam's second moment) and w. Under DistributedDataParallel each process keeps the full
optimizer and sees the same all-reduced gradients, hence the same α (binedge.distributed checks
it every epoch: :meth:`LAB.scales`). Sharded optimizers (ZeroRedundancyOptimizer, FSDP) split the
moments across processes, which would make α a partial sum: LAB refuses them (it takes the
whole model, and refuses sharded parameters).
"""

from __future__ import annotations

import torch
from torch import nn

from .nn.layers import binary_layers


def real_weights(model: nn.Module) -> list:
    """The parameters weight decay applies to: every parameter of two or more dimensions (weight
    matrices and kernels) except the latent weights of binary layers (binedge.nn.binary_layers).
    BatchNorm scales and shifts and biases (one dimension) are left alone, as is usual ("no bias
    decay", He et al., CVPR 2019, "Bag of tricks"): they set the thresholds of the activations
    that follow, not a model's capacity."""
    binary = {id(layer.weight) for layer in binary_layers(model)}
    return [p for p in model.parameters() if p.dim() >= 2 and id(p) not in binary]


class LAB(torch.optim.Adam):
    """Adam with LAB's post-step for the binarized layers of ``model``.

    Args:
        model: any module built from binedge layers; its parameters are optimised.
        lr, betas, eps: as in torch.optim.Adam (``eps`` is also LAB's ε in d).
        weight_decay: Adam's L2 term λ (the gradient of p becomes g + λ·p), applied to the
            parameters ``decay`` names only: by default :func:`real_weights` — the weight tensors
            that stay real-valued (full-precision and int8 layers), never a binary layer's
            latent weight (LAB's proximal step alone moves those) nor BatchNorm parameters or
            biases.
        decay: the parameters that weight decay applies to (default ``real_weights(model)``).
        clip: clip latent binary weights to [-clip, clip] after each step (LAB's code: 1).
        update_scale: refresh α of ``lab`` layers after each step (False keeps α fixed,
            which with α = 1 is BinaryConnect; used by the reduction tests).
        capturable: Adam's ``capturable`` (CUDA only): the step count lives on the device and
            every update, LAB's α included, is made of device operations, so that a whole
            training step can be captured and replayed as a CUDA graph (binedge.step_graph).
    """

    def __init__(self, model: nn.Module, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, clip: float | None = 1.0, update_scale: bool = True,
                 decay=None, capturable: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError("LAB takes the whole model (an nn.Module), not a group of its parameters: its α is a "
                            "reduction over each whole weight tensor and Adam's second moment of it, so a sharded "
                            "optimizer (ZeroRedundancyOptimizer, FSDP) that hands each process a part cannot run LAB")
        sharded = [(n, type(p).__name__) for n, p in model.named_parameters()
                   if type(p).__name__ in ("DTensor", "FlatParameter") or hasattr(p, "_local_tensor")]
        if sharded:
            raise TypeError(f"LAB cannot train sharded parameters ({sharded[0][0]} is a {sharded[0][1]}): α needs "
                            "each whole weight tensor and its whole second moment on every process; train with "
                            "DistributedDataParallel (binedge train --nproc / torchrun), which replicates them")
        decayed = {id(p) for p in (real_weights(model) if decay is None else decay)} if weight_decay else set()
        params = list(model.parameters())
        groups = [{"params": [p for p in params if id(p) in decayed], "weight_decay": weight_decay},
                  {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]
        # foreach=None is torch's own choice: one multi-tensor update on CUDA (a few launches
        # instead of ~12 per parameter, which bound the GPU step of these small models), the
        # per-parameter loop on the CPU (the CPU results binedge always had).
        super().__init__([g for g in groups if g["params"]] or params, lr=lr, betas=betas, eps=eps,
                         weight_decay=0.0, foreach=None, capturable=capturable)
        self._layers = list(binary_layers(model))
        self.clip = clip
        self.update_scale = update_scale
        with torch.no_grad():
            for layer in self._layers:
                layer.kernel_scale.copy_(layer.weight.abs().mean())

    def set_capturable(self, on: bool) -> None:
        """Make the update capturable (CUDA graphs) or not, whatever a loaded state said: torch's
        ``load_state_dict`` keeps the saved groups' ``capturable``, so a run trained with CUDA
        graphs would otherwise resume on the CPU with a device-only setting (and a CPU run on
        a GPU without it). Adam's step counts follow: on the parameter's device when
        capturable, on the CPU otherwise, float32 as torch keeps them."""
        for group in self.param_groups:
            group["capturable"] = bool(on)
        for p, state in self.state.items():
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].to(device=p.device if on else "cpu", dtype=torch.float32)

    def curvature(self, param: torch.Tensor) -> torch.Tensor | None:
        """d = √v̂ + ε for ``param`` from Adam's state, or None before the first step."""
        state = self.state.get(param)
        if not state or "exp_avg_sq" not in state:
            return None
        group = next(g for g in self.param_groups if any(p is param for p in g["params"]))
        beta2 = group["betas"][1]
        if group.get("capturable"):
            # the count is a device tensor: read it on the device (a CUDA graph cannot sync)
            bias = 1.0 - beta2 ** state["step"].to(state["exp_avg_sq"].dtype)
        else:
            bias = 1.0 - beta2 ** float(state["step"])
        v_hat = state["exp_avg_sq"] / bias
        return v_hat.sqrt() + group["eps"]

    def scales(self) -> torch.Tensor:
        """The current α of every binarized layer (one value per layer, in model order): what
        must be identical on every process of a data-parallel run."""
        if not self._layers:
            return torch.zeros(0)
        return torch.stack([layer.kernel_scale.detach().reshape(-1)[0] for layer in self._layers])

    @staticmethod
    def lab_scale(w: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """α = ‖d ⊙ w‖₁ / ‖d‖₁ (LAB, Prop. 3.1)."""
        return (d * w.abs()).sum() / d.sum()

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        for layer in self._layers:
            w = layer.weight
            if self.clip is not None:
                w.clamp_(-self.clip, self.clip)
            if self.update_scale and layer.kernel_quantizer.optimizer_scaled:
                d = self.curvature(w)
                if d is not None:
                    layer.kernel_scale.copy_(self.lab_scale(w, d))
        return loss
