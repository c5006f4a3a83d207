"""Side-by-side replication of LAB (Hou, Yao & Kwok, ICLR 2017) and FTPROP (Friesen & Domingos,
ICLR 2018) on Fashion-MNIST, over several seeds, every run validation-selected.

    .venv/bin/python examples/replicate/replicate.py [--epochs 3] [--limit 10000] [--seeds 0,1,2]
        [--groups a,b,c] [--out runs/replicate] [--report examples/replicate/RESULTS.md]

Groups (each is one table of RESULTS.md and one panel of the plot):
    a  weights {fp, binaryconnect, bwn, lab} × ReLU activations on the MLP       (LAB, Table 1)
    b  activations {sign, qrelu2} × {SSTE, FTPROP} + ReLU + saturated ReLU with
       full-precision weights on FTPROP's 4-layer convnet (ftprop4)               (FTPROP, Table 1)
    c  fully binary: LAB weights × sign activations, SSTE vs FTPROP, on the MLP and the VGG convnet

Every run lives in OUT/<group>/<configuration>/seed<k> (a normal `binedge train` run directory).
Re-running the command reuses finished runs (their metrics.json) and resumes interrupted ones
(last.pt), so an interrupted grid continues where it stopped. A run directory made with other
settings is an error, not silently reused: pick another --out.

RESULTS.md holds, per group, the mean ± sample standard deviation (n − 1) of the test accuracy
over seeds, the per-seed values, the papers' numbers beside ours, and an "agreement with the
papers' claims" section whose sentences are computed from the numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from binedge.runs import config_differences, mean_std

if TYPE_CHECKING:
    from binedge.train import TrainConfig

HERE = Path(__file__).resolve().parent

# ------------------------------------------------------------------------------------------------
# The papers' numbers (from /work/shared/PAPERS.md)
# ------------------------------------------------------------------------------------------------

LAB_CITE = "Hou, Yao & Kwok, *Loss-aware Binarization of Deep Networks*, ICLR 2017 (arXiv 1611.01600), Table 1"
FTPROP_CITE = ("Friesen & Domingos, *Deep Learning as a Mixed Convex-Combinatorial Optimization Problem*, "
               "ICLR 2018 (arXiv 1710.11573), Table 1")

# LAB paper, test error % (lower is better).
LAB_PAPER = {
    "fp": {"MNIST": 1.190, "CIFAR-10": 11.900, "SVHN": 2.277},
    "binaryconnect": {"MNIST": 1.280, "CIFAR-10": 9.860, "SVHN": 2.450},
    "bwn": {"MNIST": 1.200, "CIFAR-10": 11.030, "SVHN": 2.531},
    "lab": {"MNIST": 1.170, "CIFAR-10": 10.500, "SVHN": 2.354},
    "lab2": {"MNIST": 1.380, "CIFAR-10": 12.280, "SVHN": 3.362},
}
LAB_DATASETS = ("MNIST", "CIFAR-10", "SVHN")

# FTPROP paper, top-1 accuracy % (higher is better). PAPERS.md marks these as recalled, unverified.
FTPROP_PAPER = {
    "sign-sste": {"4-layer CIFAR-10": 80.6, "8-layer CIFAR-10": 84.6, "AlexNet ImageNet": 46.7, "ResNet-18 ImageNet": 49.1},
    "sign-ftprop": {"4-layer CIFAR-10": 81.3, "8-layer CIFAR-10": 84.9, "AlexNet ImageNet": 47.3, "ResNet-18 ImageNet": 47.8},
    "qrelu2-sste": {"4-layer CIFAR-10": 85.6, "8-layer CIFAR-10": 88.4, "AlexNet ImageNet": 59.4, "ResNet-18 ImageNet": 60.6},
    "qrelu2-ftprop": {"4-layer CIFAR-10": 85.5, "8-layer CIFAR-10": 89.8, "AlexNet ImageNet": 60.7, "ResNet-18 ImageNet": 64.3},
    "relu": {"4-layer CIFAR-10": 86.5, "8-layer CIFAR-10": 91.2, "AlexNet ImageNet": 61.3, "ResNet-18 ImageNet": 69.1},
    "srelu": {"4-layer CIFAR-10": 87.3, "8-layer CIFAR-10": 91.2, "AlexNet ImageNet": 61.9, "ResNet-18 ImageNet": 66.9},
}
FTPROP_NETS = ("4-layer CIFAR-10", "8-layer CIFAR-10", "AlexNet ImageNet", "ResNet-18 ImageNet")


def paper_accuracy(paper: dict, key: str, column: str, metric: str) -> float:
    """A paper's value as an accuracy-like number (higher is better): 100 − error for LAB."""
    v = paper[key][column]
    return 100.0 - v if metric == "error" else v


# ------------------------------------------------------------------------------------------------
# The grid
# ------------------------------------------------------------------------------------------------


@dataclass
class Config:
    key: str  # directory name and table key
    label: str  # row label
    model: str
    weights: str
    activation: str
    rule: str = "sste"


@dataclass
class Group:
    key: str
    title: str
    source: str
    lr: float
    batch_size: int
    loss: str  # the paper's loss for this group
    milestones: list
    settings_note: str
    configs: list = field(default_factory=list)


GROUPS: dict[str, Group] = {
    "a": Group(
        "a", "(a) Weight methods with real (ReLU) activations, MLP — LAB paper, Table 1", "lab",
        lr=0.01, batch_size=100, loss="hinge", milestones=[0.3, 0.5],
        settings_note="LAB's MNIST recipe: Adam lr 0.01, ×0.1 at 30% and 50% of the epochs (15 and 25 of 50 "
                      "in the paper), batch 100, squared hinge loss, BatchNorm after every layer, every "
                      "weight layer binarized (first and last included).",
        configs=[Config("fp", "full precision", "mlp", "fp", "relu"),
                 Config("binaryconnect", "BinaryConnect", "mlp", "binaryconnect", "relu"),
                 Config("bwn", "BWN", "mlp", "bwn", "relu"),
                 Config("lab", "LAB", "mlp", "lab", "relu")]),
    "b": Group(
        "b", "(b) Activations with full-precision weights, FTPROP's 4-layer convnet — FTPROP paper, Table 1",
        "ftprop", lr=2.5e-4, batch_size=64, loss="ce", milestones=[2 / 3, 5 / 6],
        settings_note="FTPROP's recipe: Adam lr 2.5e-4, ×0.1 at 2/3 and 5/6 of the epochs (200 and 250 of "
                      "300 in the paper), batch 64, cross-entropy, no BatchNorm, full-precision weights, "
                      "real input and output layers. Not reproduced: the paper's weight decay 5e-4 "
                      "(binedge's trainer has no weight-decay option) and its crop + flip augmentation.",
        configs=[Config("sign-sste", "sign, SSTE", "ftprop4", "fp", "sign", "sste"),
                 Config("sign-ftprop", "sign, FTP-SH", "ftprop4", "fp", "sign", "ftprop"),
                 Config("qrelu2-sste", "qrelu (2-bit), SSTE", "ftprop4", "fp", "qrelu2", "sste"),
                 Config("qrelu2-ftprop", "qrelu (2-bit), FTP-SH", "ftprop4", "fp", "qrelu2", "ftprop"),
                 Config("relu", "ReLU", "ftprop4", "fp", "relu"),
                 Config("srelu", "saturated ReLU", "ftprop4", "fp", "srelu")]),
    "c": Group(
        "c", "(c) Fully binary networks: LAB weights × sign activations, SSTE vs FTPROP", "lab2",
        lr=0.005, batch_size=100, loss="hinge", milestones=[0.3, 0.5],
        settings_note="LAB's recipe with binary activations (LAB2): Adam lr 0.005, ×0.1 at 30% and 50% of "
                      "the epochs, batch 100, squared hinge loss, BatchNorm after every layer. SSTE's "
                      "backward (gradient where |z| ≤ 1) is LAB2's; FTP-SH swaps in FTPROP's soft hinge.",
        configs=[Config("mlp-sste", "MLP, LAB × sign, SSTE", "mlp", "lab", "sign", "sste"),
                 Config("mlp-ftprop", "MLP, LAB × sign, FTP-SH", "mlp", "lab", "sign", "ftprop"),
                 Config("vgg-sste", "VGG, LAB × sign, SSTE", "vgg", "lab", "sign", "sste"),
                 Config("vgg-ftprop", "VGG, LAB × sign, FTP-SH", "vgg", "lab", "sign", "ftprop")]),
}

# Group c's SSTE rows are the LAB paper's LAB2; its MLP ran on MNIST, its convnet on CIFAR-10.
LAB2_COLUMN = {"mlp-sste": "MNIST", "vgg-sste": "CIFAR-10"}


# ------------------------------------------------------------------------------------------------
# Statistics and claim sentences (pure functions; unit-tested on made-up numbers)
# ------------------------------------------------------------------------------------------------


def compare(hi: dict, lo: dict) -> dict:
    """Compare two configurations' per-seed accuracies (dicts seed -> %) for the claim "hi ≥ lo".

    Returns the means and stds, margin = mean(hi) − mean(lo), noise = the larger of the two stds,
    whether the claim holds in the means (margin ≥ 0), whether |margin| exceeds the noise, and on
    how many of the shared seeds hi ≥ lo.
    """
    m_hi, s_hi = mean_std(hi.values())
    m_lo, s_lo = mean_std(lo.values())
    margin = m_hi - m_lo
    noise = max(s_hi, s_lo)
    seeds = sorted(set(hi) & set(lo))
    return {"mean_hi": m_hi, "std_hi": s_hi, "mean_lo": m_lo, "std_lo": s_lo, "margin": margin,
            "noise": noise, "holds": margin >= 0, "exceeds": abs(margin) > noise,
            "n_hi": len(hi), "n_lo": len(lo), "seed_wins": sum(hi[s] >= lo[s] for s in seeds),
            "seeds": len(seeds)}


def our_sentence(hi_label: str, lo_label: str, c: dict) -> str:
    """The data's verdict on "hi ≥ lo" in words, numbers included."""
    nums = (f"{hi_label} {c['mean_hi']:.2f} ± {c['std_hi']:.2f} % vs {lo_label} "
            f"{c['mean_lo']:.2f} ± {c['std_lo']:.2f} %")
    if c["holds"]:
        verdict = f"holds in our means ({nums}; margin {c['margin']:+.2f} points)"
    else:
        verdict = f"does not hold in our means ({nums}; {lo_label} is ahead by {-c['margin']:.2f} points)"
    if min(c["n_hi"], c["n_lo"]) < 2:
        spread = "with a single seed there is no spread to judge the margin against"
    elif c["exceeds"]:
        spread = f"the margin exceeds the larger std ({c['noise']:.2f} points)"
    else:
        spread = (f"the margin is within the larger std ({c['noise']:.2f} points), "
                  "so these seeds do not resolve the difference")
    seeds = f"per seed, {hi_label} ≥ {lo_label} in {c['seed_wins']} of {c['seeds']}"
    return f"{verdict}; {spread}; {seeds}."


def paper_sentence(paper: dict, hi: str, lo: str, columns, metric: str, name: str) -> str:
    """Whether the paper's own table shows "hi ≥ lo", column by column."""
    held, failed = [], []
    for col in columns:
        if col not in paper.get(hi, {}) or col not in paper.get(lo, {}):
            continue
        a, b = paper[hi][col], paper[lo][col]
        ok = paper_accuracy(paper, hi, col, metric) >= paper_accuracy(paper, lo, col, metric)
        unit = "% error" if metric == "error" else "%"
        (held if ok else failed).append(f"{col} ({a:g} vs {b:g} {unit})")
    parts = []
    if held:
        parts.append("holds on " + ", ".join(held))
    if failed:
        parts.append("does not hold on " + ", ".join(failed))
    return f"{name}: " + ("; ".join(parts) if parts else "no numbers") + "."


def chain_sentence(labels: list[str], comps: list[dict]) -> str:
    """Verdict on a chain l0 ≥ l1 ≥ ... from its consecutive pairwise comparisons."""
    chain = " ≥ ".join(labels)
    if all(c["holds"] for c in comps):
        resolved = all(c["exceeds"] for c in comps)
        tail = ("every link by more than the larger std" if resolved
                else "but not every link by more than the larger std")
        return f"The chain {chain} holds in our means, {tail}."
    broken = [f"{labels[i]} ≥ {labels[i + 1]}" for i, c in enumerate(comps) if not c["holds"]]
    return f"The chain {chain} does not hold in our means (broken link: {', '.join(broken)})."


def paper_chain_sentence(paper: dict, keys: list[str], columns, metric: str, name: str) -> str:
    """Columns of a paper's table on which the whole chain keys[0] ≥ keys[1] ≥ ... holds."""
    held, failed = [], []
    for col in columns:
        accs = [paper_accuracy(paper, k, col, metric) for k in keys]
        (held if all(x >= y for x, y in itertools.pairwise(accs)) else failed).append(col)
    parts = ([f"holds on {', '.join(held)}"] if held else []) + ([f"does not hold on {', '.join(failed)}"]
                                                                 if failed else [])
    return f"{name} " + "; ".join(parts) + "."


def margins_sentence(name_a: str, ca: dict, name_b: str, cb: dict, what: str) -> str:
    """Which of two comparisons has the larger margin (e.g. FTPROP's gain for qrelu vs for sign)."""
    bigger = name_a if ca["margin"] > cb["margin"] else name_b
    if ca["margin"] == cb["margin"]:
        return f"{what} is the same for {name_a} and {name_b} ({ca['margin']:+.2f} points)."
    return (f"{what} is larger for {bigger}: {ca['margin']:+.2f} points for {name_a}, "
            f"{cb['margin']:+.2f} for {name_b}.")


# ------------------------------------------------------------------------------------------------
# Running
# ------------------------------------------------------------------------------------------------


class ReplicateError(Exception):
    pass


def make_train_config(group: Group, cfg: Config, seed: int, a) -> TrainConfig:
    from binedge.models import ModelConfig
    from binedge.train import TrainConfig

    mcfg = ModelConfig(model=cfg.model, weights=cfg.weights, activation=cfg.activation, rule=cfg.rule,
                       hidden=a.hidden, depth=a.depth, widths=list(a.widths),
                       fc=a.ftprop_fc if cfg.model == "ftprop4" else a.fc)
    return TrainConfig(model=mcfg, dataset=a.dataset, data_dir=a.data_dir, limit=a.limit, epochs=a.epochs,
                       batch_size=group.batch_size, lr=group.lr, schedule="step",
                       milestones=list(group.milestones), gamma=0.1,
                       loss=group.loss if a.loss == "paper" else a.loss, seed=seed,
                       out=str(Path(a.out) / group.key / cfg.key / f"seed{seed}"))


def run_one(tcfg, *, progress: bool, log) -> tuple[dict, str, list]:
    """Train one run, or reuse / resume it; returns (best, status, epoch records)."""
    from binedge.train import train

    out = Path(tcfg.out)
    if (out / "config.json").is_file():
        saved = json.loads((out / "config.json").read_text())
        diffs = config_differences(saved, tcfg.to_dict())
        if diffs:
            raise ReplicateError(f"{out} holds a run with other settings ({'; '.join(diffs)}); "
                                 "choose another --out or delete that directory")
    metrics_file = out / "metrics.json"
    if metrics_file.is_file():
        m = json.loads(metrics_file.read_text())
        if m.get("epochs") and m["epochs"][-1]["epoch"] >= tcfg.epochs:
            return m["best"], "reused", m["epochs"]
    resume = (out / "last.pt").is_file()
    prefix = f"[{out}] "
    train(tcfg, resume=resume, progress=progress, log=lambda msg: log(prefix + str(msg)))
    m = json.loads(metrics_file.read_text())
    return m["best"], "resumed" if resume else "trained", m["epochs"]


def run_grid(a, log=print) -> dict:
    """Run (or reuse) every configuration × seed; results[group][config] = {seed: record}."""
    results: dict = {}
    todo = [(g, c, s) for g in a.groups for c in GROUPS[g].configs for s in a.seeds]
    for i, (gk, cfg, seed) in enumerate(todo, 1):
        group = GROUPS[gk]
        tcfg = make_train_config(group, cfg, seed, a)
        t0 = time.time()
        best, status, epochs = run_one(tcfg, progress=a.progress, log=log)
        log(f"({i}/{len(todo)}) {gk}/{cfg.key}/seed{seed}: {status}, best epoch {best['epoch']}, "
            f"val {best['val_acc']:.4f}, test {best['test_acc']:.4f} ({time.time() - t0:.1f} s)")
        at_best = next((e for e in epochs if e["epoch"] == best["epoch"]), {})
        results.setdefault(gk, {}).setdefault(cfg.key, {})[seed] = {
            "test": 100.0 * best["test_acc"], "val": 100.0 * best["val_acc"], "epoch": best["epoch"],
            "train": 100.0 * at_best["train_acc"] if "train_acc" in at_best else float("nan"),
            "seconds": sum(e.get("seconds", 0.0) for e in epochs), "status": status}
    return results


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def _accs(results, g, key) -> dict:
    return {s: r["test"] for s, r in results.get(g, {}).get(key, {}).items()}


def _train_mean(results, g, key) -> float:
    recs = results.get(g, {}).get(key, {})
    return sum(r["train"] for r in recs.values()) / len(recs) if recs else math.nan


def _fmt(v: float) -> str:
    return f"{v:.2f}"


def _model_desc(a, model: str) -> str:
    if model == "mlp":
        return f"MLP {a.depth}×{a.hidden} (paper: 3×2048)"
    if model == "vgg":
        w = ",".join(map(str, a.widths))
        return f"VGG convnet, conv widths {w} (two 3×3 convs each, then max-pool), 2×FC {a.fc} (paper: 128,256,512 and 2×1024)"
    return f"FTPROP 4-layer convnet, conv 32 5×5 / conv 64 5×5 / FC {a.ftprop_fc} (paper: FC 1024)"


def group_table(g: str, results: dict, a) -> list[str]:
    group = GROUPS[g]
    seeds = a.seeds
    seed_head = ", ".join(str(s) for s in seeds)
    if group.source == "lab":
        head = ("| configuration | test acc. % (mean ± std) | per seed (" + seed_head + ") | best val. epochs | "
                "train acc. % then (mean) | "
                "LAB paper, test error %: MNIST / CIFAR-10 / SVHN |")
    elif group.source == "ftprop":
        head = ("| configuration | test acc. % (mean ± std) | per seed (" + seed_head + ") | best val. epochs | "
                "train acc. % then (mean) | "
                "FTPROP paper, top-1 % (recalled, unverified): " + " / ".join(FTPROP_NETS) + " |")
    else:
        head = ("| configuration | test acc. % (mean ± std) | per seed (" + seed_head + ") | best val. epochs | "
                "train acc. % then (mean) | "
                "LAB paper, LAB2 (LAB weights + sign, |z| ≤ 1 backward), test error % |")
    lines = [head, "|---|---|---|---|---|---|"]
    for cfg in group.configs:
        recs = results.get(g, {}).get(cfg.key, {})
        if not recs:
            continue
        m, s = mean_std(r["test"] for r in recs.values())
        per_seed = ", ".join(_fmt(recs[k]["test"]) if k in recs else "—" for k in seeds)
        epochs = ", ".join(str(recs[k]["epoch"]) if k in recs else "—" for k in seeds)
        if group.source == "lab":
            paper = " / ".join(f"{LAB_PAPER[cfg.key][d]:.3f}" for d in LAB_DATASETS)
        elif group.source == "ftprop":
            paper = " / ".join(f"{FTPROP_PAPER[cfg.key][n]:.1f}" for n in FTPROP_NETS)
        else:
            col = LAB2_COLUMN.get(cfg.key)
            paper = (f"{LAB_PAPER['lab2'][col]:.3f} ({col}, {'MLP' if col == 'MNIST' else 'convnet'})" if col
                     else "— (FTPROP with binary weights is in neither paper)")
        lines.append(f"| {cfg.label} | **{_fmt(m)} ± {_fmt(s)}** | {per_seed} | {epochs} | "
                     f"{_fmt(_train_mean(results, g, cfg.key))} | {paper} |")
    return lines


def claims(results: dict) -> list[str]:
    """The 'agreement with the papers' claims' section, computed from the numbers."""
    out: list[str] = []
    lab_cols, ft_cols = LAB_DATASETS, FTPROP_NETS

    def have(g, *keys):
        return all(_accs(results, g, k) for k in keys)

    if have("a", "lab", "bwn", "binaryconnect"):
        out += ["### (a) LAB paper: LAB ≥ BWN ≥ BinaryConnect", ""]
        pairs = [("lab", "LAB", "bwn", "BWN"), ("bwn", "BWN", "binaryconnect", "BinaryConnect")]
        comps = []
        for hi, hl, lo, ll in pairs:
            c = compare(_accs(results, "a", hi), _accs(results, "a", lo))
            comps.append(c)
            out.append(f"- **{hl} ≥ {ll}** — ours: {our_sentence(hl, ll, c)} "
                       + paper_sentence(LAB_PAPER, hi, lo, lab_cols, "error", "LAB paper"))
        out.append(f"- {chain_sentence(['LAB', 'BWN', 'BinaryConnect'], comps)} "
                   + paper_chain_sentence(LAB_PAPER, ["lab", "bwn", "binaryconnect"], lab_cols, "error",
                                          "In the LAB paper's own table the chain"))
        if have("a", "fp"):
            c = compare(_accs(results, "a", "lab"), _accs(results, "a", "fp"))
            out.append(f"- **LAB ≥ full precision** — ours: {our_sentence('LAB', 'full precision', c)} "
                       + paper_sentence(LAB_PAPER, "lab", "fp", lab_cols, "error", "LAB paper"))
        out.append("")

    if have("b", "sign-ftprop", "sign-sste") or have("b", "qrelu2-ftprop", "qrelu2-sste"):
        out += ["### (b) FTPROP paper: FTP-SH ≥ SSTE (most clearly for qrelu)", ""]
        comps = {}
        for act, name in (("sign", "sign"), ("qrelu2", "qrelu")):
            if not have("b", f"{act}-ftprop", f"{act}-sste"):
                continue
            c = compare(_accs(results, "b", f"{act}-ftprop"), _accs(results, "b", f"{act}-sste"))
            comps[name] = c
            out.append(f"- **{name}: FTP-SH ≥ SSTE** — ours: {our_sentence('FTP-SH', 'SSTE', c)} "
                       + paper_sentence(FTPROP_PAPER, f"{act}-ftprop", f"{act}-sste", ft_cols, "accuracy",
                                        "FTPROP paper (recalled, unverified)"))
        if len(comps) == 2:
            out.append("- " + margins_sentence("qrelu", comps["qrelu"], "sign", comps["sign"],
                                               "In our data FTP-SH's gain over SSTE"))
            paper_parts = []
            for net in ft_cols:
                gq = FTPROP_PAPER["qrelu2-ftprop"][net] - FTPROP_PAPER["qrelu2-sste"][net]
                gs = FTPROP_PAPER["sign-ftprop"][net] - FTPROP_PAPER["sign-sste"][net]
                paper_parts.append(f"{net}: qrelu {gq:+.1f}, sign {gs:+.1f} "
                                   f"({'larger for qrelu' if gq > gs else 'not larger for qrelu'})")
            out.append("  In the paper's table (recalled, unverified) the gain is " + "; ".join(paper_parts) + ".")
        if have("b", "relu", "qrelu2-ftprop", "sign-ftprop"):
            best_hard = max(("sign-sste", "sign-ftprop", "qrelu2-sste", "qrelu2-ftprop"),
                            key=lambda k: mean_std(_accs(results, "b", k).values())[0]
                            if _accs(results, "b", k) else -math.inf)
            label = next(c.label for c in GROUPS["b"].configs if c.key == best_hard)
            c = compare(_accs(results, "b", "relu"), _accs(results, "b", best_hard))
            out.append(f"- **ReLU ≥ the best hard-threshold activation ({label})** — ours: "
                       f"{our_sentence('ReLU', label, c)} "
                       + paper_sentence(FTPROP_PAPER, "relu", best_hard, ft_cols, "accuracy",
                                        "FTPROP paper (recalled, unverified)"))
            tr_relu = _train_mean(results, "b", "relu")
            tr_hard = _train_mean(results, "b", best_hard)
            if c["mean_hi"] < c["mean_lo"] and tr_relu < tr_hard:
                out.append(f"  Training accuracy at the selected epochs: ReLU {_fmt(tr_relu)} %, {label} "
                           f"{_fmt(tr_hard)} %: the ReLU network had fitted its training data less when the run "
                           "stopped, so with this schedule it is still under-trained; this says how fast each "
                           "activation learns here, not which converges higher.")
        out.append("")

    c_pairs = [(m, M) for m, M in (("mlp", "MLP"), ("vgg", "VGG")) if have("c", f"{m}-ftprop", f"{m}-sste")]
    if c_pairs:
        out += ["### (c) FTPROP's claim carried to fully binary networks: FTP-SH ≥ SSTE with LAB weights", "",
                "Neither paper has these numbers (FTPROP keeps weights full precision); the claim is FTPROP's.", ""]
        for m, M in c_pairs:
            c = compare(_accs(results, "c", f"{m}-ftprop"), _accs(results, "c", f"{m}-sste"))
            out.append(f"- **{M}: FTP-SH ≥ SSTE** — ours: {our_sentence('FTP-SH', 'SSTE', c)}")
        if have("a", "lab") and have("c", "mlp-sste"):
            c = compare(_accs(results, "a", "lab"), _accs(results, "c", "mlp-sste"))
            out.append("- **Binarizing the activations too costs accuracy: LAB (ReLU) ≥ LAB2 (sign, SSTE), MLP** — "
                       f"ours: {our_sentence('LAB', 'LAB2', c)} "
                       + paper_sentence(LAB_PAPER, "lab", "lab2", lab_cols, "error", "LAB paper"))
        out.append("")
    return out


def write_report(results: dict, a, argv: list[str], sizes: dict, wall: float) -> str:
    import torch

    cmd = "python examples/replicate/replicate.py" + ("" if not argv else " " + shlex.join(argv))
    n_runs = sum(len(v) for g in results.values() for v in g.values())
    train_secs = sum(r["seconds"] for g in results.values() for v in g.values() for r in v.values())
    threads = torch.get_num_threads()
    reused = sum(r.get("status") == "reused" for g in results.values() for v in g.values() for r in v.values())
    at_last = sum(r["epoch"] == a.epochs for g in results.values() for v in g.values() for r in v.values())
    reduced = []
    if a.limit is not None:
        reduced.append(f"at most {a.limit:,} samples per split")
    reduced.append(f"{a.epochs} epoch{'s' if a.epochs != 1 else ''} per run (the papers: 50 for LAB's MNIST MLP, "
                   "200 for its CIFAR-10 convnet, 300 for FTPROP's 4-layer convnet)")
    reduced.append(f"small widths ({_model_desc(a, 'mlp')}; {_model_desc(a, 'vgg')}; {_model_desc(a, 'ftprop4')})")
    lines = [
        "# Side-by-side replication: LAB and FTPROP on " + a.dataset,
        "",
        f"Command: `{cmd}`",
        "",
        f"**This is a reduced run**: {'; '.join(reduced)}. Its numbers show the methods side by side on "
        "one machine under one protocol; they are not converged accuracies and must not be read as the "
        "papers' numbers reproduced."
        + (f" {at_last} of {n_runs} runs reached their best validation accuracy in their last epoch, i.e. were "
           "still improving when stopped." if n_runs else ""),
        "",
        (f"- Data: {a.dataset}; {sizes['train']:,} training, {sizes['val']:,} validation and {sizes['test']:,} test "
        "samples (Fashion-MNIST's validation split is the last 5,000 official training images; `--limit` keeps the "
        "first N of each split). No augmentation."),
        f"- Seeds: {', '.join(map(str, a.seeds))} (seed sets the initialisation and the shuffling order).",
        ("- Model selection: every run reports its test accuracy at the epoch of best validation accuracy "
        "(binedge's trainer; the first such epoch on ties). The \"train acc. then\" column is the training "
        "accuracy at that epoch (measured during the epoch, in training mode): a configuration whose training "
        "accuracy is no higher than its test accuracy was still under-fitting when stopped."),
        "- Mean ± std: over seeds, sample standard deviation (n − 1 in the denominator).",
        f"- {n_runs} runs, {train_secs / 60:.1f} min of training (sum of epoch times, evaluation included); "
        f"the invocation that wrote this file took {wall / 60:.1f} min wall"
        + (f" and reused {reused} finished runs" if reused else "")
        + f"; torch {torch.__version__}, {platform.machine()}, {threads} thread{'s' if threads != 1 else ''}.",
        f"- Run directories: `{a.out}/<group>/<configuration>/seed<k>` (config.json, metrics.json, best.pt).",
        "",
        "The papers' numbers are quoted beside ours for orientation only: **the datasets differ** "
        "(LAB: MNIST, CIFAR-10, SVHN; FTPROP: CIFAR-10, ImageNet; here: " + a.dataset + "), and so do the "
        "network sizes and training lengths. LAB's numbers are test errors (%, lower is better) from "
        + LAB_CITE + ". FTPROP's are top-1 accuracies (%) from " + FTPROP_CITE + "; our notes mark them as "
        "**recalled, not verified against the paper's text**.",
        "",
        f"![mean ± std test accuracy per configuration]({Path(a.plot).name})",
        "",
    ]
    for g in a.groups:
        group = GROUPS[g]
        models = sorted({c.model for c in group.configs}, key=["mlp", "vgg", "ftprop4"].index)
        lines += [f"## {group.title}", "",
                  "Settings: " + "; ".join(_model_desc(a, m) for m in models) + ". " + group.settings_note
                  + (f" Loss overridden to {a.loss}." if a.loss != "paper" else ""), ""]
        lines += group_table(g, results, a)
        lines.append("")
    lines += ["## Agreement with the papers' claims", "",
              ("Generated from the numbers above. \"Holds in our means\" compares mean test accuracies; a margin "
              "counts as resolved only when it exceeds the larger of the two standard deviations; the per-seed "
              "count compares runs with the same seed. The papers' side is read off their tables (different "
              "datasets)."), ""]
    lines += claims(results) or ["(No claim could be checked with the groups that were run.)", ""]
    return "\n".join(lines).rstrip() + "\n"


def plot(results: dict, a, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in a.groups if results.get(g)]
    widths = [max(1, len(results[g])) for g in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(max(6.0, 1.3 * sum(widths) + 1.5), 4.8),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, g in zip(axes[0], groups):
        cfgs = [c for c in GROUPS[g].configs if c.key in results[g]]
        means, stds, lows = [], [], []
        for i, c in enumerate(cfgs):
            vals = list(_accs(results, g, c.key).values())
            m, s = mean_std(vals)
            means.append(m)
            stds.append(s)
            lows.append(min(vals))
            ax.scatter([i] * len(vals), vals, color="black", s=10, zorder=3)
        ax.bar(range(len(cfgs)), means, yerr=stds, capsize=4, color=f"C{'abc'.index(g)}", alpha=0.75)
        lo = min(lows) if lows else 0.0
        hi = max(m + s for m, s in zip(means, stds)) if means else 100.0
        pad = max(1.0, 0.15 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad), min(100.0, hi + pad))
        ax.set_xticks(range(len(cfgs)))
        ax.set_xticklabels([c.label for c in cfgs], rotation=35, ha="right", fontsize=8)
        ax.set_title(f"({g}) " + {"a": "weights, MLP, ReLU", "b": "activations, ftprop4, fp weights",
                                  "c": "fully binary (LAB × sign)"}[g], fontsize=9)
        if ax is axes[0][0]:
            ax.set_ylabel("test accuracy % (mean ± std over seeds)")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{a.dataset}: {a.epochs} epoch{'s' if a.epochs != 1 else ''}, {len(a.seeds)} "
                 f"seed{'s' if len(a.seeds) != 1 else ''}"
                 + (f", limit {a.limit}" if a.limit else ""), fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _groups(text: str) -> list[str]:
    gs = [g.strip().lower() for g in text.split(",") if g.strip()]
    bad = [g for g in gs if g not in GROUPS]
    if not gs or bad:
        raise argparse.ArgumentTypeError(f"groups are a comma-separated subset of a,b,c, got {text!r}")
    return list(dict.fromkeys(gs))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--limit", type=int, default=None, help="at most this many samples per split")
    p.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated seeds")
    p.add_argument("--groups", type=_groups, default=["a", "b", "c"], help="comma-separated subset of a,b,c")
    p.add_argument("--out", default="runs/replicate", help="root of the run directories")
    p.add_argument("--report", default=str(HERE / "RESULTS.md"))
    p.add_argument("--plot", default=None, help="PNG path (default: the report's path with .png)")
    p.add_argument("--dataset", choices=["fashion-mnist", "mnist", "synthetic"], default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--hidden", type=int, default=256, help="MLP width (LAB: 2048)")
    p.add_argument("--depth", type=int, default=2, help="MLP hidden layers (LAB: 3)")
    p.add_argument("--widths", type=_int_list, default=[16, 32, 64], help="VGG conv widths (LAB: 128,256,512)")
    p.add_argument("--fc", type=int, default=128, help="VGG fully connected width (LAB: 1024)")
    p.add_argument("--ftprop-fc", type=int, default=256, help="ftprop4 fully connected width (FTPROP: 1024)")
    p.add_argument("--loss", choices=["paper", "ce", "hinge"], default="paper",
                   help="paper: squared hinge for the LAB groups (a, c), cross-entropy for FTPROP's (b)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (0: torch's default). The grid is many small runs; one thread avoids "
                        "the heavy slow-down of oversubscribed OpenMP threads on a shared machine")
    p.add_argument("--progress", action="store_true", help="show per-epoch progress bars")
    a = p.parse_args(argv)
    if a.epochs < 1 or (a.limit is not None and a.limit < 1) or min(a.seeds) < 0 or a.threads < 0:
        p.error("--epochs and --limit must be positive, seeds and --threads >= 0")
    if min([a.hidden, a.depth, a.fc, a.ftprop_fc] + a.widths) < 1:
        p.error("--hidden, --depth, --widths, --fc and --ftprop-fc must be positive")
    a.seeds = list(dict.fromkeys(a.seeds))
    a.plot = a.plot or str(Path(a.report).with_suffix(".png"))
    return a


def main(argv=None, log=print) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    import torch

    from binedge.data import DatasetError
    from binedge.fileio import atomic_write_bytes
    from binedge.train import TrainConfig, TrainError, load_data

    t0 = time.time()
    threads = torch.get_num_threads()
    if a.threads:
        torch.set_num_threads(a.threads)
    try:
        ds = load_data(TrainConfig(dataset=a.dataset, data_dir=a.data_dir, limit=a.limit))
        sizes = {"train": len(ds.train.labels), "val": len(ds.val.labels), "test": len(ds.test.labels)}
        del ds
        results = run_grid(a, log=log)
        report = write_report(results, a, argv, sizes, time.time() - t0)
    except (ReplicateError, TrainError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        torch.set_num_threads(threads)
    plot(results, a, Path(a.plot))
    atomic_write_bytes(Path(a.report), report.encode())
    log(f"wrote {a.report} and {a.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
