"""Training loop: any binedge model × weight method × activation rule, with run directories.

A run directory holds
    config.json    the full TrainConfig (model config included)
    metrics.json   one record per finished epoch (loss, train/val/test accuracy, lr, seconds)
    best.pt        the best-validation checkpoint: model state + config + epoch + metrics
    last.pt        the last epoch's full state (model, optimizer, scheduler) for --resume
    curves.png     loss and accuracy curves
All files are written atomically (temporary file, then rename; binedge.fileio's output rule:
a complete file or the previous one, never neither, with the usual modes 0666 / 0777 & ~umask),
so an interrupted run leaves the previous epoch's files intact and ``resume=True`` continues
after the last finished epoch; temporary files a killed run left are removed when the next run
(or resume) starts. An ``out`` that cannot be written (below a regular file, in a read-only
directory) is refused before the data is loaded.
The same seed gives the same weights: initialisation is seeded, and the shuffling order of
epoch e is a function of (seed, e) only.

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

from . import data as data_mod
from .fileio import (atomic_torch_save, atomic_write_bytes, atomic_write_json, check_output_path,
                     clean_stale_files, make_dirs)
from .models import ModelConfig, ModelError, build_model, squared_hinge_loss
from .optim import LAB

LOSSES = ("ce", "hinge")
#: Bytes per parameter in training (float32 weight, gradient, Adam's two moments, the binarized
#: copy, its gradient, checkpoint buffers), for TrainConfig.check_memory.
TRAIN_BYTES_PER_PARAM = 32
#: Bytes per activation value in training (float32 output, gradient, autograd's saved copy).
TRAIN_BYTES_PER_ACTIVATION = 12
#: Batch size of evaluate().
EVAL_BATCH = 1000


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


class TrainError(Exception):
    """A user error in the training request (bad option, unusable run directory)."""


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dataset: str = "fashion-mnist"  # fashion-mnist | mnist | synthetic
    data_dir: str | None = None
    limit: int | None = None  # at most this many samples per split (quick runs)
    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.01
    schedule: str = "step"  # step | cosine | none
    milestones: list = field(default_factory=lambda: [0.3, 0.5])  # fractions of epochs (step)
    gamma: float = 0.1
    weight_decay: float = 0.0  # Adam's L2 term (FTPROP's recipe: 5e-4)
    loss: str = "ce"
    seed: int = 0
    out: str = "runs/run"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
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
        for option, v in (("--epochs", self.epochs), ("--batch-size", self.batch_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise TrainError(f"{option} {v!r}: must be a positive integer")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise TrainError(f"--limit {self.limit!r}: must be a positive integer")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise TrainError(f"--seed {self.seed!r}: must be an integer >= 0")
        if self.loss not in LOSSES:
            raise TrainError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.schedule not in ("step", "cosine", "none"):
            raise TrainError(f"unknown schedule {self.schedule!r}; choose step, cosine or none")
        if not all(isinstance(m, (int, float)) and math.isfinite(m) and m > 0 for m in self.milestones):
            raise TrainError(f"milestones must be positive epoch fractions or numbers, got {self.milestones!r}")
        self.model.validate(shapes=False)  # the shapes once the data (its image size) is loaded

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


def make_scheduler(opt, cfg: TrainConfig):
    if cfg.schedule == "step":
        marks = sorted({max(1, round(m * cfg.epochs)) if m < 1 else int(m) for m in cfg.milestones})
        return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=marks, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0)


def loss_fn(name: str):
    return F.cross_entropy if name == "ce" else squared_hinge_loss


@torch.no_grad()
def evaluate(model, split, batch_size: int = EVAL_BATCH) -> float:
    """Accuracy of ``model`` (eval mode) on a data split."""
    model.eval()
    correct = 0
    for x, y in data_mod.loader(split, batch_size, shuffle=False, seed=0):
        correct += int((model(x).argmax(1) == y).sum())
    return correct / max(1, len(split.labels))


def load_data(cfg: TrainConfig):
    if cfg.dataset == "synthetic":
        # Fixed data seed: the training seed varies initialisation and order, not the data.
        return data_mod.limit_dataset(data_mod.synthetic_dataset(seed=0), cfg.limit)
    return data_mod.load_dataset(cfg.dataset, cfg.data_dir, limit=cfg.limit)


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
#: the saved value (see resume_conflicts). --epochs extends the run; --out, --threads and
#: --quiet do not change it.
RUN_OPTIONS = {
    "--model": "model.model", "--weights": "model.weights", "--activation": "model.activation",
    "--rule": "model.rule", "--unweighted": "model.weighted", "--hidden": "model.hidden",
    "--depth": "model.depth", "--widths": "model.widths", "--fc": "model.fc", "--dataset": "dataset",
    "--data-dir": "data_dir", "--limit": "limit", "--batch-size": "batch_size", "--lr": "lr",
    "--schedule": "schedule", "--gamma": "gamma", "--weight-decay": "weight_decay", "--loss": "loss",
    "--seed": "seed",
}


def _field(cfg: TrainConfig, path: str):
    obj = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _shown(option: str, value) -> str:
    if option == "--unweighted":
        return "set" if not value else "not set"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value)


def _same(option: str, a, b) -> bool:
    if option == "--data-dir" and a is not None and b is not None:
        return os.path.normpath(str(a)) == os.path.normpath(str(b))
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
          progress: bool = True, log=print, explicit=()) -> dict:
    """Train as ``cfg`` says and return the summary (best epoch, its val/test accuracy).

    resume: continue ``cfg.out`` after its last finished epoch, with the configuration saved
        there (``cfg`` only names the directory); ``epochs`` then extends the run (the
        learning-rate schedule keeps the milestones it was created with).
    explicit: the options (names such as "--lr", see RUN_OPTIONS) the user gave on purpose.
        With ``resume``, each of them must agree with the saved run (``cfg`` holds the given
        values): a TrainError lists every one that differs, saved vs given, rather than
        silently ignoring it.
    threads: torch intra-op threads (default: torch's choice). One thread per process is much
        faster when several trainings share the cores.
    """
    from tqdm import tqdm

    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    cfg.validate()
    out = Path(cfg.out)
    check_output_path(out, "-o", kind="rundir")  # before any work: a file in the way, a read-only parent
    if resume:
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
                raise TrainError(f"--epochs {epochs} is below the {state['epoch']} epochs already trained")
            cfg.epochs = epochs
    elif (out / "last.pt").exists():
        raise TrainError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    else:
        cfg.model.record_source()  # a user model: its factory's file and SHA-256, before the data is loaded

    dataset = load_data(cfg)
    cfg.model.image_shape = list(dataset.image_shape)
    cfg.model.num_classes = dataset.num_classes
    cfg.model.validate()  # shapes for this image size (e.g. --widths too deep), before any allocation
    cfg.check_memory()
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    opt = LAB(model, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, cfg)
    metrics: list[dict] = []
    best = {"epoch": 0, "val_acc": -1.0, "test_acc": 0.0}
    start = 1
    if resume:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        metrics, best, start = state["metrics"], state["best"], state["epoch"] + 1
        log(f"resuming {out} after epoch {state['epoch']}")
    make_dirs(out, "-o")
    clean_stale_files(out)  # temporary files of a killed earlier run
    atomic_write_json(out / "config.json", cfg.to_dict())
    criterion = loss_fn(cfg.loss)

    for epoch in range(start, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        total, seen, correct = 0.0, 0, 0
        batches = data_mod.loader(dataset.train, cfg.batch_size, shuffle=True, seed=cfg.seed, epoch=epoch)
        bar = tqdm(batches, total=-(-len(dataset.train.labels) // cfg.batch_size), disable=not progress,
                   desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        for x, y in bar:
            logits = model(x)
            loss = criterion(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            seen += len(y)
            correct += int((logits.argmax(1) == y).sum())
            bar.set_postfix(loss=f"{total / seen:.4f}")
        lr = opt.param_groups[0]["lr"]
        sched.step()
        rec = {"epoch": epoch, "train_loss": total / seen, "train_acc": correct / seen,
               "val_acc": evaluate(model, dataset.val), "test_acc": evaluate(model, dataset.test),
               "lr": lr, "seconds": round(time.time() - t0, 2)}
        metrics.append(rec)
        if rec["val_acc"] > best["val_acc"]:
            best = {"epoch": epoch, "val_acc": rec["val_acc"], "test_acc": rec["test_acc"]}
            atomic_torch_save({"model": model.state_dict(), "config": cfg.to_dict(), "epoch": epoch,
                               "metrics": rec, "class_names": dataset.class_names}, out / "best.pt")
        atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "scheduler": sched.state_dict(), "config": cfg.to_dict(), "epoch": epoch,
                           "metrics": metrics, "best": best}, out / "last.pt")
        atomic_write_json(out / "metrics.json", {"epochs": metrics, "best": best})
        plot_curves(metrics, out / "curves.png")
        log(f"epoch {epoch}: loss {rec['train_loss']:.4f}  train {rec['train_acc']:.4f}  "
            f"val {rec['val_acc']:.4f}  test {rec['test_acc']:.4f}  ({rec['seconds']} s)")
    summary = {"run": str(out), "best_epoch": best["epoch"], "val_acc": best["val_acc"], "test_acc": best["test_acc"]}
    log(f"best validation epoch {best['epoch']}: val {best['val_acc']:.4f}, test accuracy {best['test_acc']:.4f}")
    return summary
