"""The training recipe of ``binedge train`` beyond plain Adam (docs/resnet.md "Recipe"):
data augmentation, learning-rate schedules, knowledge distillation from a teacher run and
two-stage training. The training loop (binedge.train) calls these; each piece is a pure function
of its arguments so that a resumed or data-parallel run computes what a single uninterrupted
one does.

Augmentation (``--augment``): random crop with zero padding (He et al. 2016, "Deep residual
learning", the CIFAR recipe) and horizontal flip, applied to the stored uint8 image codes of a
training batch before they become the model's input. A sample's crop offsets (dy, dx) ∈
[0, 2·pad]² and flip bit are drawn from a generator seeded by (seed, epoch): every process of
a data-parallel run draws the whole global batch's parameters and keeps its own part, so the
result does not depend on the number of processes, and a resumed run redraws the same values.

Schedules (``--schedule``): the learning rate of epoch i (0-based) within a stage of L epochs
that starts at epoch s, t = i − s:

    none:    lr
    step:    lr · γ^(number of milestones m ≤ t)    (milestones: fractions of L, or epochs)
    cosine:  lr · (1 + cos(π · min(t, L − 1) / L)) / 2       (Loshchilov & Hutter 2017, SGDR)
    exp:     lr · γ^max(0, t + 1 − M), M the first milestone  (LAB's LSTM: γ = 0.98 per epoch after
             epoch M = 10; keeps decaying when --resume --epochs extends the run)

A run has one stage, a two-stage run two (each runs the whole schedule). The stages are fixed
when a run starts and saved in its checkpoints: ``--resume --epochs`` extends the last stage,
whose schedule then stays at its final value.

Knowledge distillation (``--teacher``; Hinton et al. 2015; Martinez et al. 2020, "Training
binary neural networks with real-to-binary convolutions"; Liu et al. 2020, ReActNet): the
student's loss per sample adds

    kd_weight · T² · KL(softmax(t / T) ‖ softmax(s / T))

to its task loss, with t the teacher's and s the student's logits; T² keeps the gradient's size
independent of T (Hinton et al.). The teacher is an ordinary binedge run directory (its
best.pt), loaded once, in eval mode, without gradients; it must have been trained on the same
data (input coding, classes and, where recorded, the files' fingerprint).

Two-stage training (``--two-stage``; Martinez et al. 2020; ReActNet): the first ⌊E/2⌋ epochs
train with full-precision weights in every layer that will be binary (binary activations as
configured), the remaining epochs with binary weights starting from the stage-1 weights
(:func:`binarize_from`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

AUGMENTS = ("none", "crop", "crop+flip")
SCHEDULES = ("step", "cosine", "exp", "none")
#: Default zero padding of --augment crop: 2 pixels, for 28×28 images (the CIFAR recipe pads 32×32 by 4).
DEFAULT_CROP_PAD = 2


# ----------------------------------------------------------------------------- augmentation


def augment_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of epoch ``epoch``'s augmentation parameters: a function of
    (seed, epoch) only (as binedge.data.epoch_order), so a resumed run redraws them."""
    # a different stream from epoch_order's: mix in a constant so equal (seed, epoch) pairs
    # of the two never share a sequence
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) * 2 + 0x5EED)


def augment_params(n: int, *, pad: int, flip: bool, generator: torch.Generator):
    """Per sample: crop offsets dy, dx uniform in [0, 2·pad] (int64) and a flip flag (bool,
    probability 1/2; all False unless ``flip``). Drawn in this order from ``generator``."""
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    return dy, dx, flips


def augment_images(codes: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flips: torch.Tensor,
                   pad: int) -> torch.Tensor:
    """Random-crop-and-flip a batch of image codes (N, H, W) or (N, H, W, C), any dtype:

        out[i, r, c] = P[i, dy_i + r, dx_i + c']     c' = W − 1 − c if flips_i else c

    where P is the batch zero-padded by ``pad`` pixels on every side (code 0: the black pixel
    of uint8 images). dy = dx = pad, no flip, is the identity."""
    if codes.dim() not in (3, 4):
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {tuple(codes.shape)}")
    n, h, w = codes.shape[:3]
    dev = codes.device
    padded = codes.new_zeros((n, h + 2 * pad, w + 2 * pad) + tuple(codes.shape[3:]))
    padded[:, pad:pad + h, pad:pad + w] = codes
    dy, dx, flips = dy.to(dev), dx.to(dev), flips.to(dev)
    rows = dy[:, None] + torch.arange(h, device=dev)[None, :]
    c = torch.arange(w, device=dev)[None, :]
    cols = dx[:, None] + torch.where(flips[:, None], w - 1 - c, c)
    return padded[torch.arange(n, device=dev)[:, None, None], rows[:, :, None], cols[:, None, :]]


# ----------------------------------------------------------------------------- schedules


@dataclass
class Schedule:
    """The learning rate of every epoch, in closed form (module docstring).

    ``stages``: [start, length] pairs in epochs (0-based starts), fixed when the run starts;
    ``milestones``: step marks, each a fraction of the stage (< 1) or a number of epochs into it."""

    kind: str = "step"
    lr: float = 0.01
    gamma: float = 0.1
    milestones: list = field(default_factory=lambda: [0.3, 0.5])
    stages: list = field(default_factory=lambda: [[0, 1]])

    @classmethod
    def create(cls, kind: str, lr: float, gamma: float, milestones, epochs: int, two_stage: bool = False):
        first = epochs // 2 if two_stage else epochs
        stages = [[0, first], [first, epochs - first]] if two_stage else [[0, epochs]]
        return cls(kind, float(lr), float(gamma), [float(m) for m in milestones], stages)

    def marks(self, length: int) -> list[int]:
        """The step milestones of a stage of ``length`` epochs, as epochs into the stage (the rule
        binedge always used: a fraction m < 1 is max(1, round(m·L)), a number m ≥ 1 is int(m))."""
        return sorted({max(1, round(m * length)) if m < 1 else int(m) for m in self.milestones})

    def stage_of(self, epoch: int) -> int:
        """The 1-based stage of 0-based epoch ``epoch`` (epochs beyond the end: the last)."""
        k = 1
        for i, (start, _) in enumerate(self.stages):
            if epoch >= start:
                k = i + 1
        return k

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 0-based epoch ``epoch``."""
        start, length = self.stages[self.stage_of(epoch) - 1]
        t = epoch - start
        if self.kind == "cosine":
            return self.lr * (1.0 + math.cos(math.pi * min(t, length - 1) / length)) / 2.0
        if self.kind == "exp":  # LAB's LSTM: lr·γ^(e − M) in 1-based epoch e after the first mark M
            start = self.marks(length)[0] if self.milestones else 0
            return self.lr * self.gamma ** max(0, t + 1 - start)
        v = self.lr
        if self.kind == "step":
            for m in self.marks(length):
                if m <= t:
                    v = v * self.gamma  # one multiplication per mark: MultiStepLR's float values
        return v

    def apply(self, optimizer, epoch: int) -> float:
        """Set every parameter group of ``optimizer`` to epoch ``epoch``'s rate; returns it."""
        lr = self.lr_at(epoch)
        for g in optimizer.param_groups:
            g["lr"] = lr
        return lr

    def state_dict(self) -> dict:
        return {"kind": self.kind, "lr": self.lr, "gamma": self.gamma, "milestones": list(self.milestones),
                "stages": [list(s) for s in self.stages]}

    @classmethod
    def from_state(cls, state: dict) -> "Schedule":
        return cls(state["kind"], float(state["lr"]), float(state["gamma"]), list(state["milestones"]),
                   [list(s) for s in state["stages"]])

    @classmethod
    def from_legacy(cls, sched_state: dict, cfg, epochs: int) -> "Schedule":
        """The schedule of a checkpoint written before binedge saved one (a torch LR scheduler's
        state): MultiStepLR kept its milestones (absolute epochs), CosineAnnealingLR its T_max."""
        if "milestones" in sched_state:
            marks = sorted(int(m) for m in sched_state["milestones"])
            return cls("step", float(cfg.lr), float(sched_state.get("gamma", cfg.gamma)), [float(m) for m in marks],
                       [[0, int(epochs)]])
        if "T_max" in sched_state:
            return cls("cosine", float(cfg.lr), float(cfg.gamma), [], [[0, int(sched_state["T_max"])]])
        return cls("none", float(cfg.lr), float(cfg.gamma), [], [[0, int(epochs)]])


# ----------------------------------------------------------------------------- distillation


def kd_loss_sum(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Σ over the batch of T² · KL(softmax(teacher / T) ‖ softmax(student / T)) (summed, like
    binedge.train's task losses, so a data-parallel process can weight its part)."""
    t = float(temperature)
    log_s = F.log_softmax(student / t, dim=1)
    log_t = F.log_softmax(teacher.detach() / t, dim=1)
    return F.kl_div(log_s, log_t, log_target=True, reduction="sum") * (t * t)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_checkpoint(run_dir) -> Path:
    """The checkpoint of a teacher run directory (its best.pt), or TrainError naming the fix."""
    from .train import TrainError

    p = Path(run_dir)
    if p.is_file() and p.suffix == ".pt":
        return p.resolve()
    if not p.is_dir():
        raise TrainError(f"--teacher {run_dir}: no such run directory (give a directory made by 'binedge train')")
    ck = p / "best.pt"
    if not ck.is_file():
        raise TrainError(f"--teacher {run_dir}: it holds no best.pt (give a directory made by 'binedge train' that "
                         f"finished at least one epoch)")
    return ck.resolve()


def load_teacher(run_dir, dataset, *, sha256: str | None = None):
    """Load a teacher run for a student training on ``dataset`` (binedge.datasets.Dataset) and
    check that it saw the same data: input coding (shape and quantization), classes (count and
    names) and, where both runs recorded one, the files' fingerprint. With ``sha256`` (a resumed
    run) the checkpoint must be the one the run started with. Returns (model in eval mode with
    gradients off, its checkpoint's SHA-256). Errors are one-line TrainErrors."""
    from .train import TrainError, load_checkpoint

    ck = teacher_checkpoint(run_dir)
    digest = file_sha256(ck)
    if sha256 and digest != sha256:
        raise TrainError(f"--teacher {run_dir}: {ck} changed since this run started (SHA-256 {digest[:12]}…, "
                         f"recorded {sha256[:12]}…); restore it or train a new run")
    model, tcfg, ckpt = load_checkpoint(ck)
    want = dataset.input_coding.to_dict()
    info = tcfg.data_info or {}
    got = info.get("input")
    if got is None:  # a run from before binedge recorded its data: compare the image shape
        if list(tcfg.model.image_shape) != list(dataset.image_shape):
            got = {"shape": list(tcfg.model.image_shape)}
        else:
            got = want
    if got != want:
        raise TrainError(f"--teacher {run_dir} was trained on other inputs ({_coding(got)}) than this run "
                         f"({_coding(want)}); distil from a teacher trained on the same data")
    if int(tcfg.model.num_classes) != int(dataset.num_classes) or \
            (ckpt.get("class_names") is not None and list(ckpt["class_names"]) != list(dataset.class_names)):
        raise TrainError(f"--teacher {run_dir} predicts other classes ({tcfg.model.num_classes}: "
                         f"{_names(ckpt.get('class_names'))}) than this data has ({dataset.num_classes}: "
                         f"{_names(dataset.class_names)})")
    fp_t, fp_s = info.get("fingerprint"), dataset.source.get("fingerprint")
    if fp_t and fp_s and fp_t != fp_s:
        raise TrainError(f"--teacher {run_dir} was trained on other data files ({info.get('format')} "
                         f"{info.get('path')}, fingerprint {fp_t[:12]}…) than this run "
                         f"({dataset.source.get('path')}, fingerprint {fp_s[:12]}…)")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, digest


def _coding(d: dict) -> str:
    kind = d.get("kind", "images")
    return f"{kind} of shape {tuple(d.get('shape', ()))}" + (f", scale {d['scale']}" if "scale" in d else "")


def _names(names) -> str:
    if not names:
        return "unnamed"
    names = list(names)
    return ", ".join(str(n) for n in names[:4]) + (", ..." if len(names) > 4 else "")


# ----------------------------------------------------------------------------- two stages


def release_weights(layers) -> list:
    """Stage 1: make every layer of ``layers`` (the binary layers) full precision; returns their
    kernel quantizers, for :func:`binarize_from`."""
    quantizers = [layer.kernel_quantizer for layer in layers]
    for layer in layers:
        layer.kernel_quantizer = None
    return quantizers


@torch.no_grad()
def binarize_from(layers, quantizers, clip: float | None = 1.0) -> None:
    """Stage 2: give ``layers`` back their binary ``quantizers``, starting from the stage-1
    weights: each latent weight is clipped to LAB's box [−clip, clip] (what LAB's step keeps
    them in) and α (``kernel_scale``) set to ‖w‖₁/n, the value LAB takes before its first step
    (d constant); BinaryConnect and BWN compute theirs from w."""
    for layer, q in zip(layers, quantizers):
        layer.kernel_quantizer = q
        if clip is not None:
            layer.weight.clamp_(-clip, clip)
        layer.kernel_scale.copy_(layer.weight.abs().mean())
