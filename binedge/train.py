"""Training loop: any binedge model × weight method × activation rule, with run directories.

A run directory holds
    config.json    the full TrainConfig (model config included)
    metrics.json   one record per finished epoch (loss, train/val/test accuracy, lr, seconds)
    best.pt        the best-validation checkpoint: model state + config + epoch + metrics
    last.pt        the last epoch's full state (model, optimizer, scheduler) for --resume
    curves.png     loss and accuracy curves (redrawn at most every PLOT_EVERY seconds, and after
                   the last epoch: drawing costs about 0.2 s, more than an epoch of a small set)
All files are written atomically (temporary file, then rename; binedge.fileio's output rule:
a complete file or the previous one, never neither, with the usual modes 0666 / 0777 & ~umask),
so an interrupted run leaves the previous epoch's files intact and ``resume=True`` continues
after the last finished epoch; temporary files a killed run left are removed when the next run
(or resume) starts. An ``out`` that cannot be written (below a regular file, in a read-only
directory) is refused before the data is loaded.
The same seed gives the same weights on the same device type, number of processes and threads
per process: initialisation is seeded (on the CPU, so every device starts from the same weights),
and the shuffling order of epoch e is a function of (seed, e) only. Other thread counts (1 vs 2
already), process counts or devices change float summation orders: results then agree within
float tolerance, not bitwise (binedge.distributed, README "Reproducibility").

Data: any source of binedge.datasets (IDX, an image folder tree, .npz arrays, a CSV of feature
vectors); the run records its format, absolute path, fingerprint and input coding (config.json
"data_info": the input shape and quantization the deployed program takes), so ``--resume`` and
``binedge export`` reload it without data options and refuse data that changed since.

Devices and processes (binedge.distributed): ``device`` "auto" | "cpu" | "cuda[:N]"; under
torchrun (``binedge train --nproc N``) every process trains a DistributedDataParallel replica on
its part of each global batch of ``batch_size``, evaluation is sharded and summed, LAB's α is
checked identical across processes every epoch, and process 0 alone writes the run directory
and shows the progress bar.

Recipe (binedge.recipe, docs/resnet.md): ``augment`` (random crop of the zero-padded image,
horizontal flip), the learning-rate ``schedule`` in closed form per stage (saved in last.pt as
"schedule"), ``weight_decay`` on the real-valued weights only (binedge.optim.real_weights),
knowledge distillation from a ``teacher`` run (its path and checkpoint SHA-256 recorded), and
``two_stage`` training: full-precision weights for the first half of the epochs, then binary
weights from them with a new optimizer and the schedule restarted; last.pt records the "stage",
and only second-stage epochs can become best.pt.

Character models (``--model lstm --dataset text --data-file FILE``, LAB's LSTM experiment) train in
binedge.lm with the same run directory, resume rule and optimizer; :func:`train` hands them over.

Models: the zoo (binedge.models) or a user model, ``ModelConfig(model="path/to/file.py:factory")``
(binedge.user_model): the run records the factory's file and its SHA-256 (config.json, model
"source"), and ``--resume`` and ``binedge export`` rebuild the model from that file — refused, in
one line, if it changed or vanished. LAB's optimizer trains any model unchanged (binary layers get
its post-step, everything else plain Adam). The memory check applies to zoo models only.
"""

from __future__ import annotations

import io
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

import numpy as np

from . import data as data_mod
from . import distributed as dist_mod
from .fileio import (atomic_torch_save, atomic_write_bytes, atomic_write_json, check_output_path,
                     clean_stale_files, make_dirs)
from .models import ModelConfig, ModelError, build_model, squared_hinge_loss
from .nn.layers import binary_layers
from .optim import LAB, real_weights
from .step_graph import GraphedStep
from .recipe import (Schedule, augment_generator, augment_images, augment_params, binarize_from, kd_loss_sum,
                     release_weights)

LOSSES = ("ce", "hinge")
#: Bytes per parameter in training (float32 weight, gradient, Adam's two moments, the binarized
#: copy, its gradient, checkpoint buffers), for TrainConfig.check_memory.
TRAIN_BYTES_PER_PARAM = 32
#: Bytes per activation value in training (float32 output, gradient, autograd's saved copy).
TRAIN_BYTES_PER_ACTIVATION = 12
#: Batch size of evaluate().
EVAL_BATCH = 1000
#: Least seconds between two redraws of curves.png during a run (the last epoch always draws).
PLOT_EVERY = 30.0
#: Largest image side --image-size accepts.
MAX_IMAGE_SIDE = 4096


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


class TrainError(Exception):
    """A user error in the training request (bad option, unusable run directory)."""


#: TrainConfig fields of character models only (--model lstm)
TEXT_FIELDS = ("data_file", "bptt", "grad_clip")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: str = "fashion-mnist"  # fashion-mnist | mnist | synthetic, or (found from the path) folder | npz | csv
    data_dir: str | None = None  # IDX files or an image folder tree
    data: str | None = None  # a .csv or .npz file
    image_size: list | None = None  # image folders: [H, W] to scale and centre-crop to
    color: str = "auto"  # image folders: auto | gray | rgb
    label_column: str | None = None  # CSV: the label column (default "label", else the last)
    features: str = "standard"  # feature coding of CSV / npz vectors: standard (int8) | minmax (uint8)
    limit: int | None = None  # at most this many samples per split (quick runs)
    epochs: int = 10
    batch_size: int = 100  # the global batch: split among the processes of a data-parallel run
    lr: float = 0.01
    schedule: str = "step"  # step | cosine | none (binedge.recipe.Schedule)
    milestones: list = field(default_factory=lambda: [0.3, 0.5])  # fractions of a stage's epochs, or epochs (step)
    gamma: float = 0.1
    #: Adam's L2 term on the real-valued weight tensors only (binedge.optim.real_weights; FTPROP's recipe: 5e-4)
    weight_decay: float = 0.0
    augment: str = "none"  # none | crop | crop+flip (images only; binedge.recipe)
    crop_pad: int = 2  # zero padding of the random crop, in pixels
    teacher: str | None = None  # knowledge distillation: a binedge run directory (absolute once training starts)
    teacher_sha256: str = ""  # recorded when training starts: the teacher checkpoint's SHA-256
    kd_weight: float = 1.0  # weight of the distillation term
    kd_temperature: float = 1.0  # its temperature T
    two_stage: bool = False  # first half: full-precision weights, binary activations; then binary weights
    loss: str = "ce"
    data_file: str | None = None  # --dataset text: the character corpus (binedge.datasets.text, binedge.lm)
    bptt: int = 100  # --model lstm: truncated back-propagation through time over this many steps
    grad_clip: float = 5.0  # --model lstm: clip the gradients' total L2 norm (0: no clipping)
    seed: int = 0
    out: str = "runs/run"
    #: recorded when training starts: format, absolute path, fingerprint, input coding, sizes
    data_info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from .models import TEXT_MODELS

        d = asdict(self)
        d["model"] = self.model.to_dict()
        if self.model.model not in TEXT_MODELS and self.dataset != "text":
            # character-model settings: left out of image runs, whose saved configs stay as before
            # (binedge.runs.config_differences compares them key by key; from_dict fills defaults)
            for key in TEXT_FIELDS:
                d.pop(key, None)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["model"] = ModelConfig.from_dict(d.get("model", {}))
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        """Raise TrainError (naming the option) for a setting that cannot train: non-positive or
        non-finite numbers (inf / nan learning rates train nothing and say nothing), unknown
        names, a negative seed; ModelError for a model that cannot be built (widths, depth)."""
        def number(option: str, v, *, positive: bool, example: str) -> None:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or (v <= 0 if positive else v < 0):
                need = "a finite number > 0" if positive else "a finite number >= 0"
                raise TrainError(f"{option} {v!r}: must be {need} (e.g. {example})")

        number("--lr", self.lr, positive=True, example="0.01")
        number("--gamma", self.gamma, positive=True, example="0.1")
        number("--weight-decay", self.weight_decay, positive=False, example="5e-4, or 0 for none")
        number("--kd-weight", self.kd_weight, positive=False, example="1.0")
        number("--kd-temperature", self.kd_temperature, positive=True, example="1.0, or 4 for softer targets")
        from .recipe import AUGMENTS, SCHEDULES

        if self.augment not in AUGMENTS:
            raise TrainError(f"unknown --augment {self.augment!r}; choose one of {', '.join(AUGMENTS)}")
        if not isinstance(self.crop_pad, int) or isinstance(self.crop_pad, bool) or self.crop_pad < 1:
            raise TrainError(f"--crop-pad {self.crop_pad!r}: must be a positive number of pixels (e.g. 2)")
        if self.teacher is not None and (not isinstance(self.teacher, str) or not self.teacher):
            raise TrainError(f"--teacher {self.teacher!r}: give a run directory made by 'binedge train'")
        if self.two_stage and self.epochs < 2:
            raise TrainError(f"--two-stage splits the epochs into two stages: give --epochs 2 or more, not "
                             f"{self.epochs}")
        if self.two_stage and not self.model.is_user and self.model.weights in ("fp", "int8"):
            raise TrainError("--two-stage trains full-precision weights first, then binary ones: it needs binary "
                             f"--weights (lab, bwn or binaryconnect), not {self.model.weights}")
        for option, v in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise TrainError(f"{option} {v!r}: must be a positive integer")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise TrainError(f"--limit {self.limit!r}: must be a positive integer")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise TrainError(f"--seed {self.seed!r}: must be an integer >= 0")
        if self.loss not in LOSSES:
            raise TrainError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not all(isinstance(m, (int, float)) and math.isfinite(m) and m > 0 for m in self.milestones):
            raise TrainError(f"milestones must be positive epoch fractions or numbers, got {self.milestones!r}")
        from .datasets import COLORS, FORMATS
        from .datasets.tables import FEATURE_METHODS

        if self.dataset not in FORMATS:
            raise TrainError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(FORMATS)}")
        if self.data is not None and self.data_dir is not None:
            raise TrainError("--data (a .csv / .npz file) and --data-dir (a folder) name two data sources; give one")
        if self.color not in COLORS:
            raise TrainError(f"unknown --color {self.color!r}; choose one of {', '.join(COLORS)}")
        if self.features not in FEATURE_METHODS:
            raise TrainError(f"unknown --features {self.features!r}; choose one of {', '.join(FEATURE_METHODS)}")
        if self.image_size is not None:
            ok = isinstance(self.image_size, (list, tuple)) and len(self.image_size) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_IMAGE_SIDE for v in self.image_size)
            if not ok:
                raise TrainError(f"--image-size {self.image_size!r}: give HxW (or one number for a square), each from "
                                 f"1 to {MAX_IMAGE_SIDE:,} pixels")
        self._validate_text()
        self.model.validate(shapes=False)  # the shapes once the data (its image size) is loaded

    def _validate_text(self) -> None:
        """Character models (--model lstm, binedge.lm) and text corpora go together."""
        from .models import TEXT_MODELS

        text_model = self.model.model in TEXT_MODELS
        if not text_model and self.dataset != "text":
            if self.data_file is not None:
                raise TrainError("--data-file is the text corpus of --dataset text --model lstm; image and feature "
                                 "data come with --data-dir or --data")
            return
        if not text_model:
            raise TrainError(f"--dataset text trains a character model: give --model lstm, not --model "
                             f"{self.model.model}")
        if self.dataset != "text" or self.data_file is None:
            raise TrainError("--model lstm reads a text corpus: give --dataset text --data-file FILE (e.g. "
                             "examples/data/tiny_corpus.txt)")
        if not isinstance(self.bptt, int) or isinstance(self.bptt, bool) or self.bptt < 1:
            raise TrainError(f"--bptt {self.bptt!r}: must be a positive number of time steps (LAB: 100)")
        ok = isinstance(self.grad_clip, (int, float)) and not isinstance(self.grad_clip, bool) \
            and math.isfinite(self.grad_clip) and self.grad_clip >= 0
        if not ok:
            raise TrainError(f"--grad-clip {self.grad_clip!r}: must be a finite number >= 0 (LAB: 5; 0: no clipping)")
        unused = [option for option, bad in (("--loss hinge", self.loss != "ce"), ("--augment", self.augment != "none"),
                                             ("--teacher", self.teacher is not None), ("--two-stage", self.two_stage),
                                             ("--data / --data-dir", self.data is not None or self.data_dir is not None),
                                             ("--limit", self.limit is not None))
                  if bad]
        if unused:
            raise TrainError(f"{', '.join(unused)}: not built for --model lstm (a character model trained with "
                             f"cross-entropy on --data-file)")

    def training_bytes(self) -> int:
        """A rough lower bound of the memory training needs (call after the model's image shape is
        set): per parameter the weight, its gradient, Adam's two moments, the binarized copy and
        its gradient and the checkpoint buffers (TRAIN_BYTES_PER_PARAM); per activation value the
        output, its gradient and what autograd keeps, for one training batch (or one evaluation
        batch of EVAL_BATCH, whichever is larger)."""
        batch = max(self.batch_size, EVAL_BATCH)
        return (self.model.param_count() * TRAIN_BYTES_PER_PARAM
                + batch * self.model.activation_count() * TRAIN_BYTES_PER_ACTIVATION)

    def check_memory(self, available: int | None = None) -> None:
        """Raise TrainError if training needs more than this machine's physical memory
        (``available`` bytes; default os.sysconf's). No check where the OS does not say."""
        from .models import physical_memory_bytes

        available = physical_memory_bytes() if available is None else available
        if available is None or self.model.is_user:  # a user model's size is known only once built
            return
        need = self.training_bytes()
        if need <= available:
            return
        params = self.model.param_count()
        param_bytes = params * TRAIN_BYTES_PER_PARAM
        cause = self.model.size_options() if param_bytes * 2 >= need else f"{self.model.size_options()} or --batch-size"
        raise TrainError(f"--model {self.model.model} with these sizes has {params:,} parameters: training it "
                         f"needs at least {_gib(need)} of memory, more than this machine's {_gib(available)}; "
                         f"choose a smaller {cause}")


def make_schedule(cfg: TrainConfig):
    """The run's learning-rate schedule (binedge.recipe.Schedule): ``cfg.schedule`` over the run's
    epochs, or over each stage of a two-stage run."""
    from .recipe import Schedule

    return Schedule.create(cfg.schedule, cfg.lr, cfg.gamma, cfg.milestones, cfg.epochs, cfg.two_stage)


def check_augment(cfg: TrainConfig, dataset) -> None:
    """--augment needs images, and a crop padding smaller than the image: TrainError otherwise."""
    if cfg.augment == "none":
        return
    shape = dataset.image_shape
    if dataset.input_coding.kind != "image" or len(shape) != 3:
        raise TrainError(f"--augment {cfg.augment} crops and flips images; this data is feature vectors of "
                         f"{shape[0]} values: use --augment none")
    if cfg.crop_pad >= min(shape[0], shape[1]):
        raise TrainError(f"--crop-pad {cfg.crop_pad} is not smaller than the {shape[0]}x{shape[1]} images: choose "
                         f"a padding of a few pixels (e.g. 2 for 28x28)")


def loss_fn(name: str):
    return F.cross_entropy if name == "ce" else squared_hinge_loss


def loss_sum_fn(name: str):
    """The summed per-sample loss of a batch: cross-entropy, or LAB's squared hinge averaged over
    the classes of each sample (so sum / batch is :func:`binedge.models.squared_hinge_loss`).
    Summed, not averaged, so that a data-parallel process can weight its part of a global batch."""
    if name == "ce":
        return lambda logits, y: F.cross_entropy(logits, y, reduction="sum")

    def hinge(logits, y):
        t = -torch.ones_like(logits)
        t.scatter_(1, y.unsqueeze(1), 1.0)
        return torch.clamp(1.0 - t * logits, min=0.0).pow(2).sum() / logits.shape[1]

    return hinge


@torch.no_grad()
def evaluate(model, split, batch_size: int = EVAL_BATCH, *, coding=None, ctx=None) -> float:
    """Accuracy of ``model`` (eval mode) on a data split. With a data-parallel ``ctx`` each
    process counts its contiguous part of the split (binedge.distributed.shard) and the counts
    are summed over the processes; inputs go to the model's device."""
    ctx = ctx or dist_mod.Context()
    model.eval()
    n = len(split.labels)
    lo, hi = dist_mod.shard(n, ctx.rank, ctx.world)
    device = next(model.parameters()).device if any(True for _ in model.parameters()) else ctx.device
    codes = torch.from_numpy(np.ascontiguousarray(split.images[lo:hi]))
    labels = torch.from_numpy(np.ascontiguousarray(split.labels[lo:hi], dtype=np.int64))
    correct = 0
    for b in range(0, hi - lo, batch_size):
        x = data_mod.model_input(codes[b:b + batch_size].to(device), coding)
        correct += int((model(x).argmax(1).cpu() == labels[b:b + batch_size]).sum())
    if ctx.distributed:
        correct = int(dist_mod.all_sum(ctx, [correct])[0])
    return correct / max(1, n)


def load_data(cfg: TrainConfig, *, workers: int | None = None, parts=("train", "val", "test")):
    """The run's dataset (binedge.datasets.open_dataset). A run that recorded its data
    (``cfg.data_info``) reloads it with the recorded input coding and image colour, and data whose
    fingerprint changed since is refused (DatasetError)."""
    from .data import InputCoding
    from .datasets import open_dataset

    info = cfg.data_info or {}
    coding = None
    if info.get("input", {}).get("kind") == "features":
        coding = InputCoding.from_dict(info["input"])
    color = info.get("color", cfg.color)
    return open_dataset(cfg.dataset, cfg.data_dir, cfg.data, limit=cfg.limit,
                        image_size=tuple(cfg.image_size) if cfg.image_size else None, color=color,
                        label_column=cfg.label_column, features=cfg.features, coding=coding, workers=workers,
                        parts=parts, fingerprint=info.get("fingerprint"))


def data_record(ds) -> dict:
    """What a run records about its data (config.json "data_info"): format, absolute path and
    fingerprint of the files, the input coding (shape and quantization), class names and sizes."""
    src = dict(ds.source)
    rec = {"format": src.pop("format", ds.name), "path": src.pop("path", None),
           "fingerprint": src.pop("fingerprint", None), "input": ds.input_coding.to_dict(),
           "class_names": list(ds.class_names),
           "sizes": {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}}
    src.pop("sizes", None)
    rec.update(src)  # e.g. the resolved colour of an image folder, the CSV's label column
    return rec


def load_checkpoint(path) -> tuple[torch.nn.Module, TrainConfig, dict]:
    """Rebuild the model saved in a checkpoint (best.pt / last.pt) or a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise TrainError(f"no checkpoint at {path}: pass a run directory made by 'binedge train' or its best.pt")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        cfg = TrainConfig.from_dict(ckpt["config"])
        model = build_model(cfg.model)
        model.load_state_dict(ckpt["model"])
    except (TrainError, ModelError):  # ModelError: a user model's file changed, vanished or fails
        raise
    except Exception as e:  # a corrupt or foreign file: say which and what to do
        raise TrainError(f"{path} is not a readable binedge checkpoint ({type(e).__name__}: {e}); "
                         "re-run 'binedge train' to recreate it") from None
    model.eval()
    return model, cfg, ckpt


def plot_curves(metrics: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [m["epoch"] for m in metrics]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [m["train_loss"] for m in metrics], marker="o")
    a.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key in ("train_acc", "val_acc", "test_acc"):
        b.plot(epochs, [m[key] for m in metrics], marker="o", label=key.replace("_acc", ""))
    b.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    b.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())  # like every output: atomic, the usual file mode


#: The ``binedge train`` options that define a run, and the TrainConfig field each sets. With
#: --resume the run continues with its saved values; one of these given explicitly must equal
#: the saved value (see resume_conflicts). --epochs extends the run; --out, --threads, --quiet,
#: --device, --nproc and --workers do not change it (another device or process count continues
#: the run with float-level differences, binedge.distributed "Reproducibility").
RUN_OPTIONS = {
    "--model": "model.model", "--weights": "model.weights", "--activation": "model.activation",
    "--rule": "model.rule", "--unweighted": "model.weighted", "--hidden": "model.hidden",
    "--depth": "model.depth", "--widths": "model.widths", "--fc": "model.fc", "--dataset": "dataset",
    "--data-dir": "data_dir", "--data": "data", "--image-size": "image_size", "--color": "color",
    "--label-column": "label_column", "--features": "features", "--limit": "limit", "--batch-size": "batch_size",
    "--lr": "lr",
    "--schedule": "schedule", "--gamma": "gamma", "--weight-decay": "weight_decay", "--loss": "loss",
    "--seed": "seed", "--blocks": "model.blocks", "--shortcut": "model.shortcut", "--downsample": "model.downsample",
    "--classifier": "model.classifier", "--milestones": "milestones", "--augment": "augment", "--crop-pad": "crop_pad",
    "--teacher": "teacher", "--kd-weight": "kd_weight", "--kd-temperature": "kd_temperature",
    "--two-stage": "two_stage", "--data-file": "data_file", "--bptt": "bptt", "--grad-clip": "grad_clip",
}


def _field(cfg: TrainConfig, path: str):
    obj = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _shown(option: str, value) -> str:
    if option == "--unweighted":
        return "set" if not value else "not set"
    if option == "--two-stage":
        return "set" if value else "not set"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value)


def _same(option: str, a, b) -> bool:
    if option in ("--data-dir", "--data", "--data-file") and a is not None and b is not None:
        return os.path.normpath(str(a)) == os.path.normpath(str(b))
    if option == "--teacher" and a is not None and b is not None:  # saved absolute, given as typed
        return os.path.abspath(str(a)) == os.path.abspath(str(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def resume_conflicts(saved: TrainConfig, given: TrainConfig, explicit) -> list[str]:
    """The options among ``explicit`` (option names such as "--lr"; those outside RUN_OPTIONS
    are ignored) whose value in ``given`` differs from the saved run's, as
    "--lr (saved 0.01, given 0.1)" strings, in RUN_OPTIONS order."""
    explicit = set(explicit)
    out = []
    for option, path in RUN_OPTIONS.items():
        if option in explicit:
            a, b = _field(saved, path), _field(given, path)
            if not _same(option, a, b):
                out.append(f"{option} (saved {_shown(option, a)}, given {_shown(option, b)})")
    return out


def train(cfg: TrainConfig, *, resume: bool = False, epochs: int | None = None, threads: int | None = None,
          progress: bool = True, log=print, explicit=(), device: str | None = "auto",
          workers: int | None = None, cuda_graphs: bool = True) -> dict:
    """Train as ``cfg`` says and return the summary (best epoch, its val/test accuracy).

    resume: continue ``cfg.out`` after its last finished epoch, with the configuration saved
        there (``cfg`` only names the directory); ``epochs`` then extends the run (the
        learning-rate schedule keeps the milestones it was created with).
    explicit: the options (names such as "--lr", see RUN_OPTIONS) the user gave on purpose.
        With ``resume``, each of them must agree with the saved run (``cfg`` holds the given
        values): a TrainError lists every one that differs, saved vs given, rather than
        silently ignoring it.
    threads: torch intra-op threads (default: torch's choice; under torchrun the CPUs shared
        among the processes of the node). One thread per process is much faster when several
        trainings share the cores.
    device: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N" (binedge.distributed).
    workers: DataLoader workers decoding image files (default: automatic).
    cuda_graphs: replay each full-batch training step from a CUDA graph (binedge.step_graph) on
        a single-process CUDA run (ignored on the CPU and under DDP). Same kernels as the eager
        step, a fraction of the launch time.

    Under torchrun (WORLD_SIZE > 1) this is one process of a data-parallel run: every process
    calls it with the same arguments (binedge.distributed).
    """
    ctx = dist_mod.setup(device, threads)
    try:
        if _is_text_run(cfg, resume):
            from .lm import train_lm

            return train_lm(cfg, ctx, resume=resume, epochs=epochs, progress=progress and ctx.is_main, log=log,
                            explicit=explicit)
        return _train(cfg, ctx, resume=resume, epochs=epochs, progress=progress, log=log, explicit=explicit,
                      workers=workers, cuda_graphs=cuda_graphs)
    except RuntimeError as e:
        if not ctx.distributed or isinstance(e, dist_mod.ReplicaError) or not dist_mod.is_peer_failure(e):
            raise
        raise dist_mod.PeerLostError(f"lost the other training processes ({dist_mod.short_reason(e)}); the run "
                                     f"directory keeps its last finished epoch: continue it with --resume") from None
    finally:
        dist_mod.teardown(ctx)


def _is_text_run(cfg: TrainConfig, resume: bool) -> bool:
    """Is this a character-model run (binedge.lm)? A resumed run says so in its config.json."""
    from .models import TEXT_MODELS

    if resume:
        from .lm import is_text_run

        if (Path(cfg.out) / "config.json").is_file() or (Path(cfg.out) / "last.pt").is_file():
            return is_text_run(cfg.out)
    return cfg.model.model in TEXT_MODELS or cfg.dataset == "text"


#: Training data up to this share of the GPU's free memory is moved to the GPU once; larger sets
#: stay in pinned host memory and travel batch by batch.
DEVICE_DATA_SHARE = 0.25


def _place(codes: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type != "cuda":
        return codes
    free, _total = torch.cuda.mem_get_info(device)
    if codes.numel() * codes.element_size() <= DEVICE_DATA_SHARE * free:
        return codes.to(device)
    return codes.pin_memory()


def open_run(cfg: TrainConfig, *, resume: bool, epochs: int | None, explicit) -> tuple[TrainConfig, dict | None]:
    """Check the run directory ``cfg.out`` before any work (a file in the way, a read-only
    parent) and, with ``resume``, load its last.pt: the saved config (options given explicitly
    must match it; ``epochs`` may extend it) and the saved state. Without ``resume`` a directory
    that already holds a run is refused. Returns (config to train with, state or None)."""
    out = Path(cfg.out)
    check_output_path(out, "-o", kind="rundir")
    if not resume:
        if (out / "last.pt").exists():
            raise TrainError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        return cfg, None
    if not (out / "last.pt").is_file():
        raise TrainError(f"cannot resume: {out / 'last.pt'} does not exist (start the run without --resume)")
    try:
        state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        saved = TrainConfig.from_dict(state["config"])
    except Exception as e:
        raise TrainError(f"cannot resume: {out / 'last.pt'} is unreadable ({type(e).__name__}: {e})") from None
    conflicts = resume_conflicts(saved, cfg, explicit)
    if conflicts:
        raise TrainError(f"cannot resume {out} with other settings: {'; '.join(conflicts)}. --resume continues "
                         f"the run with its saved settings (only --epochs may change, to extend it): drop "
                         f"these options, or train a new run with another --out")
    cfg = saved
    cfg.out = str(out)  # the directory may have been moved since
    if epochs is not None:
        if epochs < state["epoch"]:
            raise TrainError(f"--epochs {epochs} is below the {state['epoch']} epochs already trained in {out}; "
                             f"with --resume, --epochs is the new total: give {state['epoch']} or more, or leave "
                             f"it out to keep the saved {saved.epochs}")
        cfg.epochs = epochs
    return cfg, state


def _train(cfg: TrainConfig, ctx, *, resume, epochs, progress, log, explicit, workers, cuda_graphs=True) -> dict:
    from tqdm import tqdm

    if not ctx.is_main:
        log = lambda *_: None  # noqa: E731 - process 0 alone reports
    cfg.validate()
    cfg, state = open_run(cfg, resume=resume, epochs=epochs, explicit=explicit)
    out = Path(cfg.out)
    if not resume:
        cfg.model.record_source()  # a user model: its factory's file and SHA-256, before the data is loaded
    dist_mod.barrier(ctx)  # every process has checked the run directory before process 0 writes to it

    dataset = load_data(cfg, workers=workers)
    cfg.dataset = dataset.name
    if not cfg.data_info:
        cfg.data_info = data_record(dataset)
    coding = dataset.input_coding
    cfg.model.image_shape = list(dataset.image_shape)
    cfg.model.num_classes = dataset.num_classes
    cfg.model.validate()  # shapes for this input (e.g. --widths too deep), before any allocation
    cfg.check_memory()
    check_augment(cfg, dataset)
    teacher = None
    if cfg.teacher is not None:
        from .recipe import load_teacher

        teacher, digest = load_teacher(cfg.teacher, dataset, sha256=cfg.teacher_sha256 if resume else None)
        if not resume:
            cfg.teacher, cfg.teacher_sha256 = str(Path(cfg.teacher).resolve()), digest
        teacher = teacher.to(ctx.device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)  # initialised on the CPU: the same weights on every device
    model = dist_mod.synchronise(model, ctx).to(ctx.device)
    # Weight decay's parameters are fixed by the binary model, so that the weights a two-stage
    # run trains in full precision first are never decayed either.
    decay = real_weights(model)
    binary = list(binary_layers(model))
    if cfg.two_stage and not binary:
        raise TrainError(f"--two-stage trains full-precision weights first, then binary ones, but --model "
                         f"{cfg.model.model} has no binary layer")
    # stage 1 of a two-stage run (full-precision weights) until the schedule's second stage
    stage = 0
    if cfg.two_stage:
        stage = int(state.get("stage") or 2) if resume else 1
    quantizers = release_weights(binary) if stage == 1 else None
    # One training step as a CUDA graph (binedge.step_graph): single-process CUDA runs only.
    graphed = cuda_graphs and not ctx.distributed and ctx.device.type == "cuda"
    opt = LAB(model, lr=cfg.lr, weight_decay=cfg.weight_decay, decay=decay, capturable=graphed)
    schedule = make_schedule(cfg)
    metrics: list[dict] = []
    best = {"epoch": 0, "val_acc": -1.0, "test_acc": 0.0}
    start = 1
    if resume:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        opt.set_capturable(graphed)  # the saved run may have trained on another device / with(out) graphs
        if "schedule" in state:
            schedule = Schedule.from_state(state["schedule"])
        else:  # a checkpoint from before binedge.recipe: the torch scheduler's state
            schedule = Schedule.from_legacy(state["scheduler"], cfg, cfg.epochs)
        metrics, best, start = state["metrics"], state["best"], state["epoch"] + 1
        log(f"resuming {out} after epoch {state['epoch']}")
    net = dist_mod.wrap(model, ctx)
    if ctx.is_main:
        make_dirs(out, "-o")
        clean_stale_files(out)  # temporary files of a killed earlier run
        atomic_write_json(out / "config.json", cfg.to_dict())
    if ctx.distributed or ctx.device.type != "cpu":
        per = -(-cfg.batch_size // ctx.world)
        log(f"training on {ctx.describe()}: global batch {cfg.batch_size}"
            + (f", about {per} per process" if ctx.distributed else ""))
    criterion = loss_sum_fn(cfg.loss)
    train_codes = _place(torch.from_numpy(np.ascontiguousarray(dataset.train.images)), ctx.device)
    train_labels = torch.from_numpy(np.ascontiguousarray(dataset.train.labels, dtype=np.int64)).to(train_codes.device)
    n_train = len(dataset.train.labels)
    steps = -(-n_train // cfg.batch_size)
    if cfg.batch_size > 1 and n_train % cfg.batch_size == 1:
        # A last batch of one sample cannot be batch-normalised (its variance is 0/0): it is left
        # out; the epoch's order changes every epoch, so no sample is left out for good.
        steps -= 1
    if steps < 1:
        raise TrainError(f"the training split holds {n_train} sample(s): at least 2 are needed (BatchNorm "
                         f"normalises over a batch)")
    plotted = -math.inf
    pad, flip = cfg.crop_pad, cfg.augment == "crop+flip"
    runner = GraphedStep(batch_size=cfg.batch_size, enabled=graphed)
    reported_failure = False

    for epoch in range(start, cfg.epochs + 1):
        t0 = time.time()
        if stage == 1 and schedule.stage_of(epoch - 1) == 2:
            # Stage 2: binary weights from the stage-1 weights, a new optimizer (Adam's moments,
            # LAB's d and its step count start afresh, as a new run would), the schedule's second
            # stage, and a new best checkpoint (stage-1 models are not the binary deliverable).
            binarize_from(binary, quantizers)
            opt = LAB(model, lr=cfg.lr, weight_decay=cfg.weight_decay, decay=decay, capturable=graphed)
            stage, best = 2, {"epoch": 0, "val_acc": -1.0, "test_acc": 0.0}
            log(f"stage 2 from epoch {epoch}: binary weights from the stage-1 weights")
        lr = schedule.apply(opt, epoch - 1)
        step = _step_fn(net, opt, criterion, teacher, cfg, ctx.world)
        runner.reset(step)  # a new learning rate (or optimizer): the next full batch is captured afresh
        net.train()
        total = torch.zeros((), dtype=torch.float64, device=ctx.device)
        kd_total = torch.zeros((), dtype=torch.float64, device=ctx.device)
        correct = torch.zeros((), dtype=torch.int64, device=ctx.device)
        seen = 0
        # augmentation parameters of the whole global batch, drawn by every process alike
        gen = augment_generator(cfg.seed, epoch) if cfg.augment != "none" else None
        # The global order of this epoch; batch k is the single-process batch k, of which this
        # process takes its contiguous part (binedge.distributed.shard).
        order = torch.from_numpy(data_mod.epoch_order(n_train, cfg.seed, epoch)).to(train_codes.device)
        bar = tqdm(range(steps), disable=not (progress and ctx.is_main), desc=f"epoch {epoch}/{cfg.epochs}",
                   leave=False)
        for k in bar:
            batch = order[k * cfg.batch_size:min((k + 1) * cfg.batch_size, n_train)]
            m = len(batch)
            lo, hi = dist_mod.shard(m, ctx.rank, ctx.world)
            mine = batch[lo:hi]
            codes = train_codes.index_select(0, mine)
            y = train_labels.index_select(0, mine)
            if codes.device != ctx.device:
                codes = codes.pin_memory().to(ctx.device, non_blocking=True)
                y = y.to(ctx.device, non_blocking=True)
            if gen is not None:
                dy, dx, flips = augment_params(m, pad=pad, flip=flip, generator=gen)
                codes = augment_images(codes, dy[lo:hi], dx[lo:hi], flips[lo:hi], pad)
            x = data_mod.model_input(codes, coding)
            part, kd, hits = step(x, y, m) if ctx.distributed else runner(x, y)
            if kd is not None:
                kd_total += kd.double()
            total += part.double()
            correct += hits
            seen += hi - lo
            if ctx.is_main and progress:
                bar.set_postfix(loss=f"{float(total) / max(1, seen):.4f}")
        train_seconds = time.time() - t0
        total_loss, total_kd, total_correct, total_seen = dist_mod.all_sum(
            ctx, [float(total), float(kd_total), int(correct), seen])
        replicas = dist_mod.check_replicas(model, opt, ctx)  # LAB's α (and the weights) equal on every process
        rec = {"epoch": epoch, "train_loss": total_loss / total_seen, "train_acc": total_correct / total_seen,
               "val_acc": evaluate(model, dataset.val, coding=coding, ctx=ctx),
               "test_acc": evaluate(model, dataset.test, coding=coding, ctx=ctx),
               "lr": lr, "seconds": round(time.time() - t0, 2), "train_seconds": round(train_seconds, 3),
               "samples_per_second": round(total_seen / max(train_seconds, 1e-9), 1),
               "device": ctx.device.type, "processes": ctx.world, "threads": torch.get_num_threads()}
        if ctx.distributed:
            rec["alpha_identical_ranks"] = replicas
        if graphed:
            rec["cuda_graph_steps"] = runner.replays  # steps replayed from a graph so far (the rest ran eagerly)
            if runner.failure and not reported_failure:
                log(f"CUDA graph capture failed ({runner.failure}); training continues with eager steps")
                reported_failure = True
        if teacher is not None:
            rec["train_kd_loss"] = total_kd / total_seen  # included in train_loss, weighted by --kd-weight
        if stage:
            rec["stage"] = stage
        metrics.append(rec)
        if stage != 1 and rec["val_acc"] > best["val_acc"]:
            best = {"epoch": epoch, "val_acc": rec["val_acc"], "test_acc": rec["test_acc"]}
            if ctx.is_main:
                atomic_torch_save({"model": _cpu_state(model), "config": cfg.to_dict(), "epoch": epoch,
                                   "metrics": rec, "class_names": dataset.class_names}, out / "best.pt")
        if ctx.is_main:
            atomic_torch_save({"model": _cpu_state(model), "optimizer": _cpu_tree(opt.state_dict()),
                               "schedule": schedule.state_dict(), "stage": stage, "config": cfg.to_dict(),
                               "epoch": epoch, "metrics": metrics, "best": best}, out / "last.pt")
            atomic_write_json(out / "metrics.json", {"epochs": metrics, "best": best})
            if epoch == cfg.epochs or time.time() - plotted >= PLOT_EVERY:
                plot_curves(metrics, out / "curves.png")
                plotted = time.time()
        log(f"epoch {epoch}: loss {rec['train_loss']:.4f}  train {rec['train_acc']:.4f}  "
            f"val {rec['val_acc']:.4f}  test {rec['test_acc']:.4f}  ({rec['seconds']} s)")
    summary = {"run": str(out), "best_epoch": best["epoch"], "val_acc": best["val_acc"], "test_acc": best["test_acc"]}
    log(f"best validation epoch {best['epoch']}: val {best['val_acc']:.4f}, test accuracy {best['test_acc']:.4f}")
    return summary


def _step_fn(net, opt, criterion, teacher, cfg: TrainConfig, world: int):
    """One training step on a batch: ``step(x, y, m=None) -> (loss sum, distillation sum or None,
    correct count)``, all detached device tensors. ``m`` is the global batch size (default: this
    batch's); the step is the gradient of the global batch's mean loss. Pure device work, so
    binedge.step_graph can capture it."""

    def step(x, y, m=None):
        m = x.shape[0] if m is None else m
        logits = net(x)
        part = criterion(logits, y)
        kd = None
        if teacher is not None:
            with torch.no_grad():
                soft = teacher(x)
            kd = kd_loss_sum(logits, soft, cfg.kd_temperature)
            part = part + cfg.kd_weight * kd
        # DDP averages over the processes: weighting each part's sum by world / m makes the
        # step the gradient of the global batch's mean loss (world 1: sum / m, the mean).
        loss = part * world / m
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hits = (logits.detach().argmax(1) == y).sum()
        return part.detach(), None if kd is None else kd.detach(), hits

    return step


def _cpu_tree(obj):
    """``obj`` with every tensor on the CPU (checkpoints load anywhere)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_tree(v) for v in obj)
    return obj


def _cpu_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}
