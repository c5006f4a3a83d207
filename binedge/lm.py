"""Character language models: ``binedge train --model lstm --dataset text --data-file FILE``.

LAB's recurrent experiment (Hou, Yao & Kwok, ICLR 2017, §5.3; ../shared/PAPERS.md): a character
LSTM (one layer of 512 cells) over one-hot characters with a real-valued softmax output layer,
whose 8 gate matrices are full precision or binarized (BinaryConnect, BWN, LAB), trained with
Adam (LAB: Adam plus its proximal step) at lr 2e-3, ×0.98 per epoch after epoch 10, batch 100,
truncated back-propagation through time over 100 steps and gradient clipping at 5.

:class:`CharLSTM`: one-hot(x_t) → :class:`binedge.nn.BinaryLSTM` (``--depth`` layers of
``--hidden`` cells, the ``--weights`` method on every gate matrix, one α per matrix) →
``nn.Linear(hidden, V)`` (real, as in LAB: only the LSTM's gate matrices are binarized) →
softmax over the V characters of binedge.datasets.text's vocabulary (id 0 the unknown).
Every weight uniform ±0.08, biases 0, forget-gate biases 1 (LAB's and char-rnn's initialisation).

Training (:func:`train_lm`), one epoch = one pass over the training split:
    - the split is read as ``--batch-size`` parallel streams (B consecutive pieces of ⌊n/B⌋
      characters; binedge.datasets.text.streams), cut into chunks of ``--bptt`` steps; each step
      predicts the next character of every stream (the last chunk may be shorter);
    - the LSTM state (h, c) is carried from one chunk to the next, detached (truncated BPTT),
      and starts at zero at every epoch's start;
    - loss: mean cross-entropy over the chunk's B·T predictions; gradients clipped to a total
      L2 norm of ``--grad-clip`` (5; 0: no clipping) over all parameters; then one step of
      binedge.optim.LAB (Adam for full precision; LAB's clipping of latent binary weights to
      [−1, 1]); nothing is shuffled, so a resumed run continues exactly.
Evaluation (:func:`evaluate_lm`) of the validation and test splits after every epoch: each split
is read as S = min(B, ⌊n/2⌋) parallel streams from a zero state, in chunks of ``--bptt`` steps
with the state carried; the cross-entropy is the mean over every predicted character, in nats
(LAB's table) and in bits per character (nats / ln 2). The last n mod S characters of a split,
and the first character of each stream (no prediction), are not scored; metrics.json records the
number scored.

The run directory is that of image runs (binedge.train): config.json, metrics.json (per epoch:
train_loss = training cross-entropy in nats per character, val_ce / test_ce in nats, val_bpc /
test_bpc, lr, seconds, chars_per_second), best.pt (the epoch of lowest validation
cross-entropy), last.pt (``--resume``), curves.png. Deployment: ``binedge export RUN``
lowers the run to the exact integer LSTM (binedge.lstm_integer, binedge.lstm_deploy; ``CharLSTM.integer_eval``
computes the same integers in eval mode). Not built yet: data-parallel training of LSTMs, LAB2 (binary
activations).
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .nn.recurrent import INIT_RANGE, BinaryLSTM

#: binedge train's defaults for --model lstm: LAB's LSTM experiment (option -> value); the other
#: options keep their general defaults (--batch-size 100 is LAB's already)
LSTM_DEFAULTS = {"--hidden": 512, "--depth": 1, "--lr": 2e-3, "--schedule": "exp", "--gamma": 0.98,
                 "--milestones": [10.0]}
#: options that mean nothing to a character model (refused with --model lstm)
IMAGE_ONLY_OPTIONS = ("--activation", "--rule", "--unweighted", "--widths", "--fc", "--blocks", "--shortcut",
                      "--downsample", "--classifier", "--data-dir", "--data", "--image-size", "--color",
                      "--label-column", "--features", "--limit", "--augment", "--crop-pad", "--teacher",
                      "--kd-weight", "--kd-temperature", "--two-stage", "--workers")
#: options of character models only (refused with the image models)
TEXT_ONLY_OPTIONS = ("--data-file", "--bptt", "--grad-clip")
LN2 = math.log(2.0)


class CharLSTM(nn.Module):
    """One-hot characters → BinaryLSTM → real linear softmax layer (module docstring).

    ``forward(ids, state=None)`` takes (B, T) int64 character ids and returns the (B, T, V)
    logits of the next character and the LSTM state ((layers, B, hidden) h and c).
    With ``integer_eval = True``, eval mode computes the exact integer model instead."""

    def __init__(self, vocab_size: int, hidden: int, layers: int = 1, kernel_quantizer=None):
        super().__init__()
        self.vocab_size = int(vocab_size)
        #: in eval mode, compute the exact integer model (binedge.lstm_quant; docs/numerics.md,
        #: "Recurrent"): logits = int32 scores · 2^-S, state = integer codes. Training is unaffected.
        self.integer_eval = False
        self.integer_c_frac = 10  # the integer cell state's fraction bits (|c| < 2^(16 - c_frac))
        self.lstm = BinaryLSTM(self.vocab_size, hidden, layers, kernel_quantizer=kernel_quantizer, batch_first=True)
        self.out = nn.Linear(hidden, self.vocab_size)
        with torch.no_grad():
            nn.init.uniform_(self.out.weight, -INIT_RANGE, INIT_RANGE)
            self.out.bias.zero_()

    def forward(self, ids: torch.Tensor, state=None):
        if self.integer_eval and not self.training:
            from .lstm_quant import integer_forward

            return integer_forward(self, ids, state)
        x = F.one_hot(ids, self.vocab_size).to(self.out.weight.dtype)
        h, state = self.lstm(x, state)
        return self.out(h), state


def build_char_lstm(cfg) -> CharLSTM:
    """The CharLSTM of a ModelConfig with model "lstm" (num_classes = vocabulary, hidden, depth layers)."""
    return CharLSTM(cfg.num_classes, cfg.hidden, cfg.depth, None if cfg.weights == "fp" else cfg.weights)


def _detach(state):
    return tuple(s.detach() for s in state)


@torch.no_grad()
def evaluate_lm(model: CharLSTM, ids, *, streams_max: int, bptt: int, device=None) -> tuple[float, int]:
    """(mean cross-entropy in nats per character, characters scored) of ``model`` (eval mode) on
    the id sequence ``ids`` read as min(streams_max, ⌊n/2⌋) streams (module docstring)."""
    from .datasets.text import streams

    model.eval()
    device = device or next(model.parameters()).device
    count = max(1, min(int(streams_max), len(ids) // 2))
    data = torch.from_numpy(streams(ids, count)).to(device)
    total = torch.zeros((), dtype=torch.float64, device=device)
    scored, state = 0, None
    for s in range(0, data.shape[1] - 1, bptt):
        y = data[:, s + 1:s + bptt + 1]
        logits, state = model(data[:, s:s + y.shape[1]], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").double()
        scored += y.numel()
    return float(total) / max(1, scored), scored


def text_record(corpus) -> dict:
    """What an LSTM run records about its corpus (config.json "data_info")."""
    rec = dict(corpus.source)
    rec["vocab"] = list(corpus.vocab)
    return rec


def plot_lm_curves(metrics: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fileio import atomic_write_bytes

    epochs = [m["epoch"] for m in metrics]
    fig, a = plt.subplots(1, 1, figsize=(6, 4))
    for key, label in (("train_loss", "train"), ("val_ce", "validation"), ("test_ce", "test")):
        a.plot(epochs, [m[key] for m in metrics], marker="o", label=label)
    a.set(xlabel="epoch", ylabel="cross-entropy (nats / character)", title="character LSTM")
    a.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def training_bytes(cfg) -> int:
    """A rough lower bound of training memory: per parameter 32 bytes (binedge.train's rule), per
    stored step value 4 bytes: for each of B·T steps the one-hot input, per layer the 4 gate
    pre-activations, c, h and their activations (about 12·hidden), and the V logits with their
    softmax and gradient (3·V)."""
    from .train import TRAIN_BYTES_PER_PARAM

    m = cfg.model
    per_step = m.depth * 12 * m.hidden + 4 * m.num_classes
    return m.param_count() * TRAIN_BYTES_PER_PARAM + cfg.batch_size * cfg.bptt * per_step * 4


def train_lm(cfg, ctx, *, resume: bool, epochs, progress: bool, log, explicit) -> dict:
    """Train a character LSTM as ``cfg`` (a binedge.train.TrainConfig with model "lstm") says;
    the run directory and --resume behave as binedge.train's (module docstring). Returns the
    summary: best (lowest validation cross-entropy) epoch, its validation and test cross-entropy
    in nats and bits per character."""
    from tqdm import tqdm

    from .datasets.text import check_lengths, streams
    from .fileio import atomic_torch_save, atomic_write_json, clean_stale_files, make_dirs
    from .models import build_model, physical_memory_bytes
    from .optim import LAB
    from .recipe import Schedule
    from .train import TrainError, _cpu_state, _cpu_tree, _gib, make_schedule, open_run

    if ctx.distributed:
        raise TrainError("--model lstm trains in one process: data-parallel training (--nproc, torchrun) of "
                         "recurrent models is not built yet; run it without --nproc")
    cfg.validate()
    cfg, state = open_run(cfg, resume=resume, epochs=epochs, explicit=explicit)
    out = Path(cfg.out)

    corpus = load_run_corpus(cfg)
    check_lengths(corpus, cfg.batch_size, cfg.bptt, cfg.data_file)
    cfg.dataset = "text"
    if not cfg.data_info:
        cfg.data_info = text_record(corpus)
    vocab = corpus.vocab_size
    cfg.model.image_shape, cfg.model.num_classes = [vocab], vocab
    cfg.model.validate()
    available = physical_memory_bytes()
    need = training_bytes(cfg)
    if available is not None and need > available:
        raise TrainError(f"--model lstm with --hidden {cfg.model.hidden}, --depth {cfg.model.depth}, --batch-size "
                         f"{cfg.batch_size} and --bptt {cfg.bptt} needs at least {_gib(need)} of memory to train, "
                         f"more than this machine's {_gib(available)}; choose smaller sizes")

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model).to(ctx.device)
    opt = LAB(model, lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = make_schedule(cfg)
    metrics: list[dict] = []
    best = {"epoch": 0, "val_ce": math.inf, "test_ce": math.inf}
    start = 1
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        schedule = Schedule.from_state(state["schedule"])
        metrics, best, start = state["metrics"], state["best"], state["epoch"] + 1
        log(f"resuming {out} after epoch {state['epoch']}")
    make_dirs(out, "-o")
    clean_stale_files(out)
    atomic_write_json(out / "config.json", cfg.to_dict())
    if ctx.device.type != "cpu":
        log(f"training on {ctx.describe()}")
    train = torch.from_numpy(streams(corpus.train, cfg.batch_size)).to(ctx.device)
    starts = list(range(0, train.shape[1] - 1, cfg.bptt))
    params = [p for p in model.parameters()]
    plotted = -math.inf
    from .train import PLOT_EVERY

    for epoch in range(start, cfg.epochs + 1):
        t0 = time.time()
        lr = schedule.apply(opt, epoch - 1)
        model.train()
        total = torch.zeros((), dtype=torch.float64, device=ctx.device)
        seen = 0
        hidden = None
        bar = tqdm(starts, disable=not progress, desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        for s in bar:
            y = train[:, s + 1:s + cfg.bptt + 1]
            logits, hidden = model(train[:, s:s + y.shape[1]], hidden)
            hidden = _detach(hidden)
            loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            total += loss.detach().double() * y.numel()
            seen += y.numel()
            if progress:
                bar.set_postfix(loss=f"{float(total) / max(1, seen):.4f}")
        train_seconds = time.time() - t0
        val_ce, val_n = evaluate_lm(model, corpus.val, streams_max=cfg.batch_size, bptt=cfg.bptt)
        test_ce, test_n = evaluate_lm(model, corpus.test, streams_max=cfg.batch_size, bptt=cfg.bptt)
        train_ce = float(total) / max(1, seen)
        rec = {"epoch": epoch, "train_loss": train_ce, "train_bpc": train_ce / LN2, "val_ce": val_ce,
               "val_bpc": val_ce / LN2, "test_ce": test_ce, "test_bpc": test_ce / LN2, "val_chars": val_n,
               "test_chars": test_n, "lr": lr, "seconds": round(time.time() - t0, 2),
               "train_seconds": round(train_seconds, 3),
               "chars_per_second": round(seen / max(train_seconds, 1e-9), 1), "device": ctx.device.type,
               "processes": 1, "threads": torch.get_num_threads()}
        if not math.isfinite(train_ce):
            rec["diverged"] = True
        metrics.append(rec)
        if val_ce < best["val_ce"]:
            best = {"epoch": epoch, "val_ce": val_ce, "test_ce": test_ce, "val_bpc": val_ce / LN2,
                    "test_bpc": test_ce / LN2}
            atomic_torch_save({"model": _cpu_state(model), "config": cfg.to_dict(), "epoch": epoch, "metrics": rec,
                               "vocab": list(corpus.vocab)}, out / "best.pt")
        atomic_torch_save({"model": _cpu_state(model), "optimizer": _cpu_tree(opt.state_dict()),
                           "schedule": schedule.state_dict(), "config": cfg.to_dict(), "epoch": epoch,
                           "metrics": metrics, "best": best}, out / "last.pt")
        atomic_write_json(out / "metrics.json", {"epochs": metrics, "best": _json_safe(best)})
        if epoch == cfg.epochs or time.time() - plotted >= PLOT_EVERY:
            plot_lm_curves(metrics, out / "curves.png")
            plotted = time.time()
        log(f"epoch {epoch}: train {train_ce:.4f}  val {val_ce:.4f}  test {test_ce:.4f} nats/char "
            f"(test {test_ce / LN2:.4f} bits/char)  ({rec['seconds']} s)")
    summary = {"run": str(out), "best_epoch": best["epoch"], "val_ce": best["val_ce"], "test_ce": best["test_ce"],
               "val_bpc": best["val_ce"] / LN2, "test_bpc": best["test_ce"] / LN2}
    log(f"best validation epoch {best['epoch']}: val {best['val_ce']:.4f}, test cross-entropy "
        f"{best['test_ce']:.4f} nats/char ({best['test_ce'] / LN2:.4f} bits/char)")
    return summary


def _json_safe(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def load_run_corpus(cfg):
    """The text corpus of a character run (its ``data_file``); DatasetError if the file changed
    since the run recorded its fingerprint (a resumed run, an export)."""
    from .data import DatasetError
    from .datasets.text import load_text

    corpus = load_text(cfg.data_file)
    recorded = (cfg.data_info or {}).get("fingerprint")
    if recorded and recorded != corpus.source["fingerprint"]:
        raise DatasetError(cfg.data_file, f"changed since the run was trained (fingerprint {recorded[:12]}… then, "
                                          f"{corpus.source['fingerprint'][:12]}… now)",
                           "restore the text the run was trained on, or train a new run")
    return corpus


def is_text_run(run_dir) -> bool:
    """Does ``run_dir`` (a binedge run directory) hold a character model (its config.json, else its
    best.pt / last.pt config, says model "lstm")?"""
    from .models import TEXT_MODELS

    run = Path(run_dir)
    if run.is_dir() and (run / "config.json").is_file():
        try:
            return json.loads((run / "config.json").read_text()).get("model", {}).get("model") in TEXT_MODELS
        except (OSError, ValueError, AttributeError):
            pass
    for ck in ([run] if run.is_file() else [run / "best.pt", run / "last.pt"]):
        if ck.is_file():
            try:
                return torch.load(ck, map_location="cpu", weights_only=False)["config"]["model"]["model"] \
                    in TEXT_MODELS
            except Exception:
                return False
    return False
