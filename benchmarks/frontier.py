"""The accuracy / cost frontier of issue 13: binary networks against their float and all-int8
twins, trained on the same data and (where they lower) measured on the same Cortex-M4.

    .venv/bin/python benchmarks/frontier.py [--models vgg,resnet] [--precisions binary,float,int8]
        [--seeds 3] [--epochs E] [--limit N] [--threads 1] [--out runs/frontier]
        [--report benchmarks/frontier.md] [--plot benchmarks/frontier.png] [--target cortex-m4]
        [--fw-samples 8] [--deploy-seeds K] [--agreement-samples N] [--no-train]
        [--device cuda] [--jobs N] [--train-only]

The grid is models × precisions × seeds. A model is one topology (``--models``):

    vgg          VGG 32-64-128 (two 3×3 convs per width, 2×2 max-pool, 2×FC 256), the 90.73 % fully
                 binary network of benchmarks/fully_binary.md, with its recipe (Adam lr 0.005, cosine
                 schedule, batch 100, 12 epochs)
    resnet       the zoo's binary ResNet default (widths 16,32,64, blocks 0,2,3; docs/resnet.md) with
                 the issue-13 recipe (lr 0.005, cosine, crop+flip augmentation, 30 epochs)
    resnet-wide  the same ResNet at widths 32,64,128 (blocks 0,2,2)

and a precision one of its three twins, every layer otherwise the same:

    binary   LAB weights × sign activations (SSTE) — the binedge network (ResNet: Merge shortcuts)
    float    full-precision weights × ReLU: the accuracy ceiling of the topology; does not lower
    int8     int8 weights (per output channel) × int8 quantized ReLU activations
             (binedge.nn.QuantInt8(relu=True)), all lowered exactly by binedge.convert to int8 ops
             (ResNet: int8 Add shortcuts — an int8 convolution's accumulator is too fine for Merge)

Every run is an ordinary ``binedge train`` run directory, OUT/<model>/<precision>/seed<k>, chosen
by validation accuracy (test accuracy at the best validation epoch). Re-running the command reuses
finished runs and resumes interrupted ones (their last.pt); a directory holding a run with other
settings is an error, never silently reused. Runs go seed-major (every configuration's seed 0, then
every seed 1, ...), so an interrupted grid has about as many seeds everywhere; ``--no-train``
writes the report from whatever runs are finished.

On a GPU the grid trains faster in parallel: ``--jobs N`` trains the unfinished cells N at a time,
each in its own process (a GPU is mostly idle under one small network's steps; docs/training.md),
before the deployments; ``--train-only`` stops after training, so that a lent GPU trains the grid
(``--device cuda --jobs 6 --train-only``) and this machine deploys and reports it later from the
run directories (``--no-train``; deployment needs the QEMU toolchain, training does not).

The binary and int8 runs are then deployed as binedge would for a user: ``binedge export RUN
--target cortex-m4`` (binedge.export.export_run) and ``binedge emulate`` (binedge.emulate: QEMU
``-icount`` on the MPS2-AN386 board — executed instructions, not cycles — every score checked
bit-exactly against the reference executor), giving instructions per inference, flash without
the test images and RAM used (data + bss + the stack's high-water mark); PyTorch vs the integer
reference is compared on ``--agreement-samples`` test images (binedge.agreement: ties are the only
allowed difference). Deployments are cached in OUT/deploy/ keyed by the checkpoint's SHA-256, the
target, the sample counts and a digest of runtime_c/ (new kernels change instruction counts).

The report (``--report``, with the plot ``--plot``) holds a table (mean ± sample std over seeds,
n − 1 in the denominator), the commands that reproduce it, and sentences on where binary beats
int8 at equal instructions and at equal flash and where it does not — computed from the numbers
(:func:`verdicts`, :func:`verdict_sentence`, :func:`pareto`), never written by hand. Runs shorter
than the recipe, on fewer images or with fewer than 3 seeds are labelled a reduced run.

References: Liu et al., "Bi-Real Net", ECCV 2018 (the ResNet's shortcuts); Bannink et al., "Larq
Compute Engine", MLSys 2021 (QuickNet's int8 stem and transitions); Hou, Yao & Kwok, "Loss-aware
Binarization of Deep Networks", ICLR 2017 (LAB); Jacob et al., "Quantization and Training of
Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR 2018 (int8 with a
quantized ReLU as the int8 baseline); Lai, Suda & Chandra, "CMSIS-NN", arXiv 1801.06601 (the
int8 Cortex-M kernels whose figures the report quotes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from binedge.runs import config_differences, mean_std

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# ------------------------------------------------------------------------------------------------
# The grid
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arch:
    """One topology and its recipe (shared by its three twins)."""

    key: str
    label: str
    model: str
    widths: tuple
    fc: int = 256
    blocks: tuple | None = None
    lr: float = 0.005
    schedule: str = "cosine"
    augment: str = "none"
    epochs: int = 12  # the recipe's length; a shorter --epochs makes a reduced run
    recipe: str = ""  # where the recipe comes from, for the report


_DEFAULT_ARCHS = {
    "vgg": Arch("vgg", "VGG 32-64-128", "vgg", (32, 64, 128), fc=256, epochs=12,
                recipe="benchmarks/fully_binary.md (the 90.73 % fully binary VGG)"),
    "resnet": Arch("resnet", "ResNet 16-32-64 / 0-2-3", "resnet", (16, 32, 64), blocks=(0, 2, 3),
                   augment="crop+flip", epochs=30, recipe="docs/resnet.md (issue 13's recipe)"),
    "resnet-wide": Arch("resnet-wide", "ResNet 32-64-128 / 0-2-2", "resnet", (32, 64, 128), blocks=(0, 2, 2),
                        augment="crop+flip", epochs=30, recipe="docs/resnet.md (issue 13's recipe)"),
}
#: The models of this invocation: _DEFAULT_ARCHS, or their shapes replaced by the hidden test
#: options (_apply_overrides).
ARCHS = dict(_DEFAULT_ARCHS)

#: precision -> (--weights, --activation, the ResNet's --shortcut, does it lower, label)
PRECISIONS = {
    "binary": ("lab", "sign", "merge", True, "binary (LAB × sign)"),
    "float": ("fp", "relu", "merge", False, "float twin (fp × ReLU)"),
    "int8": ("int8", "int8", "add", True, "int8 twin (int8 × int8 ReLU)"),
}

#: Issue 13's budget on the Cortex-M4, and the instructions of the 90.73 % binary VGG it names.
FLASH_BUDGET = 256 * 1024
RAM_BUDGET = 64 * 1024
VGG_INSTRUCTIONS = 9.48e6

#: ARM's CMSIS-NN int8 kernels as issue 13 quotes them (measured there on the same QEMU board the
#: same way; quoted here as text, not measured by this script).
CMSIS_NN_M4 = (1.8, 2.0)  # instructions per int8 MAC, 3×3 convs with 32–64 channels, Cortex-M4
CMSIS_NN_M4_FIRST = 8.4  # a 28×28×1 first layer
CMSIS_NN_M55 = 0.21  # with Helium, Cortex-M55


class FrontierError(Exception):
    """A user error (bad option, a run directory with other settings): one line, exit status 1."""


def run_dir(out, arch: str, precision: str, seed: int) -> Path:
    return Path(out) / arch / precision / f"seed{seed}"


def make_train_config(arch: Arch, precision: str, seed: int, a):
    """The binedge.train.TrainConfig of one grid cell (``a``: the parsed options)."""
    from binedge.models import ModelConfig
    from binedge.train import TrainConfig

    weights, activation, shortcut, _, _ = PRECISIONS[precision]
    kw = {"widths": list(arch.widths), "fc": arch.fc}
    if arch.model == "resnet":
        kw.update(blocks=list(arch.blocks), shortcut=shortcut)
    mcfg = ModelConfig(model=arch.model, weights=weights, activation=activation, rule="sste", **kw)
    augment = arch.augment if a.augment == "recipe" else a.augment
    return TrainConfig(model=mcfg, dataset=a.dataset, data_dir=a.data_dir, limit=a.limit,
                       epochs=a.epochs or arch.epochs, batch_size=100, lr=arch.lr, schedule=arch.schedule,
                       augment=augment, loss="ce", seed=seed, out=str(run_dir(a.out, arch.key, precision, seed)))


def finished(out: Path, epochs: int) -> dict | None:
    """The metrics.json of a run that has trained ``epochs`` epochs, else None."""
    f = out / "metrics.json"
    if not f.is_file():
        return None
    m = json.loads(f.read_text())
    return m if m.get("epochs") and m["epochs"][-1]["epoch"] >= epochs else None


def train_one(tcfg, a, log) -> tuple[dict | None, str]:
    """Train one cell, or reuse / resume it: (metrics.json, status). With ``--no-train`` an
    unfinished run is skipped: (None, "missing")."""
    from binedge.train import train

    out = Path(tcfg.out)
    if (out / "config.json").is_file():
        diffs = config_differences(json.loads((out / "config.json").read_text()), tcfg.to_dict())
        if diffs:
            raise FrontierError(f"{out} holds a run with other settings ({'; '.join(diffs)}); choose another "
                                "--out or delete that directory")
    m = finished(out, tcfg.epochs)
    if m is not None:
        return m, "reused"
    if a.no_train:
        return None, "missing"
    resume = (out / "last.pt").is_file()
    train(tcfg, resume=resume, threads=a.threads or None, progress=False, device=a.device,
          log=lambda msg: log(f"[{out}] {msg}"))
    return json.loads((out / "metrics.json").read_text()), "resumed" if resume else "trained"


# ------------------------------------------------------------------------------------------------
# Deployment: export --target, emulate, agreement
# ------------------------------------------------------------------------------------------------


def runtime_digest() -> str:
    """SHA-256 of the C runtime's sources (runtime_c/include, runtime_c/src), which the firmware
    copies: a new kernel changes instruction counts, so cached deployments must not survive it."""
    h = hashlib.sha256()
    root = REPO / "runtime_c"
    for sub in ("include", "src"):
        for p in sorted((root / sub).rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def runtime_commit() -> str:
    """The last commit that touched runtime_c/include or src, '+dirty' if the working tree changes them."""
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h", "--", "runtime_c/include",
                              "runtime_c/src"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "runtime_c/include",
                                "runtime_c/src"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deploy_one(run: Path, key: str, a, log) -> dict:
    """Export ``run`` for ``a.target``, emulate it and measure the PyTorch / reference agreement;
    cached in OUT/deploy/<key>.json (reused while the checkpoint, target, sample counts and
    runtime sources are unchanged). Raises the emulator's MismatchError if a score is not bit-exact."""
    from binedge.emulate import emulate
    from binedge.export import export_run, load_test_images, lower_run
    from binedge.fileio import atomic_write_json
    from binedge.inspect import layer_table, totals
    from binedge.lower import agreement

    deploy_dir = Path(a.out) / "deploy"
    cache = deploy_dir / f"{key}.json"
    digest = runtime_digest()  # now, not when the grid started: others may change runtime_c meanwhile
    ident = {"checkpoint_sha256": _sha256(run / "best.pt"), "target": a.target, "fw_samples": a.fw_samples,
             "agreement_samples": a.agreement_samples, "runtime_sha256": digest}
    if cache.is_file():
        rec = json.loads(cache.read_text())
        if rec.get("ident") == ident:
            return rec
    fw = deploy_dir / key
    fw.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    export_run(run, fw, formats=("blob",), samples=a.fw_samples, check=False, target=a.target)
    emu = emulate(fw)  # raises MismatchError unless every score equals the reference's
    model, graph, cfg = lower_run(run)
    images, labels = load_test_images(cfg, a.agreement_samples)
    agree = agreement(model, graph, images, labels)
    t = totals(layer_table(graph))
    mem = emu["memory"]
    rec = {"ident": ident, "run": str(run), "firmware": str(fw), "runtime_commit": runtime_commit(),
           "instructions": emu["per_inference"]["mean"] if emu.get("icount") else None,
           "instructions_min": emu["per_inference"]["min"], "instructions_max": emu["per_inference"]["max"],
           "unit": emu["unit"], "emulated_samples": emu["samples"],
           "scores_equal_reference": bool(emu["scores_equal_reference"]),
           "flash": mem["flash_without_test_inputs"], "ram": mem["ram_static"] + (mem["stack_used"] or 0),
           "arena": mem["arena_bytes"], "blob": mem["blob_bytes"],
           "macs": t["macs"], "binary_macs": t["binary_macs"], "agreement": agree,
           "seconds": time.time() - t0}
    atomic_write_json(cache, rec)
    log(f"[{run}] {a.target}: {rec['instructions'] or 0:,.0f} instructions per inference, flash {rec['flash']:,} B, "
        f"RAM {rec['ram']:,} B, bit-exact {rec['scores_equal_reference']}; PyTorch vs reference "
        f"{agree['agree']}/{agree['samples']}, ties {agree['ties']}, disagreements without a tie "
        f"{agree['disagree_without_tie']}")
    return rec


# ------------------------------------------------------------------------------------------------
# Statistics and sentences (pure functions; tests/test_frontier.py checks them on made-up numbers)
# ------------------------------------------------------------------------------------------------


def compare(b: dict, i: dict) -> dict:
    """Binary vs int8 from their per-seed accuracies (dicts seed -> %): margin = mean(b) − mean(i),
    noise = the larger of the two sample stds, ``binary_ahead`` = margin ≥ 0, ``resolved`` =
    |margin| > noise with at least 2 seeds on each side."""
    mb, sb = mean_std(b.values())
    mi, si = mean_std(i.values())
    margin, noise = mb - mi, max(sb, si)
    return {"margin": margin, "noise": noise, "binary_ahead": margin >= 0,
            "resolved": min(len(b), len(i)) >= 2 and abs(margin) > noise}


def pareto(points: list[dict], metric: str) -> list[dict]:
    """The points no other point beats: q dominates p when cost(q) ≤ cost(p) and mean(q) ≥ mean(p),
    one of them strictly. Sorted by cost. Points without ``metric`` are left out."""
    pts = [p for p in points if p.get(metric) is not None]

    def dominated(p):
        return any(q is not p and q[metric] <= p[metric] and q["mean"] >= p["mean"]
                   and (q[metric] < p[metric] or q["mean"] > p["mean"]) for q in pts)

    return sorted((p for p in pts if not dominated(p)), key=lambda p: (p[metric], -p["mean"]))


def verdicts(points: list[dict], metric: str) -> list[dict]:
    """Binary vs int8 at equal cost (``metric``: "instructions" or "flash").

    For every binary point b, at the budget cost(b): the most accurate int8 point costing no more
    (kind "binary_wins" or "int8_wins" by mean accuracy), or "binary_only" when no int8 point fits
    (``other``: the cheapest int8 point). Then for every int8 point i, at the budget cost(i): the
    most accurate binary point costing no more ("binary_wins" / "int8_wins"), or "int8_only".
    Each verdict: {"kind", "budget": "binary" | "int8", "binary", "int8", "cmp": compare(...) or None}."""
    cost = lambda p: p[metric]  # noqa: E731
    B = sorted((p for p in points if p["precision"] == "binary" and p.get(metric) is not None), key=cost)
    I = sorted((p for p in points if p["precision"] == "int8" and p.get(metric) is not None), key=cost)  # noqa: E741
    out = []
    for budget, own, rivals in (("binary", B, I), ("int8", I, B)):
        for p in own:
            fit = [q for q in rivals if cost(q) <= cost(p)]
            if not fit:
                if rivals:
                    q = rivals[0]
                    pair = (p, q) if budget == "binary" else (q, p)
                    out.append({"kind": f"{budget}_only", "budget": budget, "binary": pair[0], "int8": pair[1],
                                "cmp": None})
                continue
            q = max(fit, key=lambda r: (r["mean"], -cost(r)))
            b, i = (p, q) if budget == "binary" else (q, p)
            c = compare(b["accs"], i["accs"])
            out.append({"kind": "binary_wins" if c["binary_ahead"] else "int8_wins", "budget": budget,
                        "binary": b, "int8": i, "cmp": c})
    return out


def fmt_cost(v: float, metric: str) -> str:
    """8,309,485 -> '8.31 M instructions'; 88,388 -> '86.3 KiB' (flash, RAM)."""
    if metric == "instructions":
        return f"{v / 1e6:.2f} M instructions"
    return f"{v / 1024:.1f} KiB"


def ratio(x: float) -> str:
    """A cost ratio: 1.87 -> '1.9×', 1.013 -> '1.01×' (two decimals below 1.1, where one would read 1.0×)."""
    return f"{x:.2f}×" if x < 1.1 else f"{x:.1f}×"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def fmt_acc(p: dict) -> str:
    return f"{p['mean']:.2f} ± {p['std']:.2f} %"


def _spread(c: dict) -> str:
    if c["resolved"]:
        return f"more than the larger std ({c['noise']:.2f} points)"
    return f"within the larger std ({c['noise']:.2f} points) or with too few seeds, so not resolved"


def verdict_sentence(v: dict, metric: str) -> str:
    """One verdict of :func:`verdicts` in words, with its numbers."""
    b, i, c = v["binary"], v["int8"], v["cmp"]
    cb, ci = fmt_cost(b[metric], metric), fmt_cost(i[metric], metric)
    word = "instructions" if metric == "instructions" else "flash"
    if v["kind"] == "binary_only":
        return (f"At {b['label']}'s {cb} ({fmt_acc(b)}) only binary fits: the cheapest int8 twin, {i['label']}, "
                f"needs {ratio(i[metric] / b[metric])} that ({ci}, {fmt_acc(i)}).")
    if v["kind"] == "int8_only":
        return (f"{i['label']} ({ci}, {fmt_acc(i)}) is cheaper in {word} than every binary network measured; the "
                f"cheapest, {b['label']}, needs {ratio(b[metric] / i[metric])} that ({cb}, {fmt_acc(b)}).")
    if v["budget"] == "binary":
        head = f"At {b['label']}'s {cb}"
        if v["kind"] == "binary_wins":
            return (f"{head}, binary beats int8: {fmt_acc(b)} against {fmt_acc(i)} for {i['label']}, the most "
                    f"accurate int8 twin costing no more ({ci}); margin {c['margin']:+.2f} points, {_spread(c)}.")
        return (f"{head}, int8 beats binary: {i['label']} costs no more ({ci}) and reaches {fmt_acc(i)} against "
                f"{fmt_acc(b)}, {-c['margin']:.2f} points ahead, {_spread(c)}.")
    head = f"Against {i['label']} ({ci}, {fmt_acc(i)})"
    if v["kind"] == "binary_wins":
        return (f"{head}, binary wins at equal {word}: {b['label']} needs {ratio(i[metric] / b[metric])} less "
                f"({cb}) and reaches {fmt_acc(b)}; margin {c['margin']:+.2f} points, {_spread(c)}.")
    return (f"{head}, int8 is more accurate than every binary network costing no more: the best, {b['label']} "
            f"({cb}), reaches {fmt_acc(b)}, {-c['margin']:.2f} points behind, {_spread(c)}.")


def pareto_sentence(points: list[dict], metric: str) -> str:
    front = pareto(points, metric)
    if not front:
        return "No deployed point to order."
    word = "instructions" if metric == "instructions" else "flash"
    steps = " → ".join(f"{p['label']} ({fmt_cost(p[metric], metric)}, {p['mean']:.2f} %)" for p in front)
    kinds = [p["precision"] for p in front]
    if all(k == "binary" for k in kinds):
        tail = "every point on it is binary: no int8 twin is both cheaper and more accurate than a binary network"
    elif all(k == "int8" for k in kinds):
        tail = "every point on it is an int8 twin: each binary network is beaten by a cheaper, more accurate int8 one"
    else:
        switches = sum(x != y for x, y in zip(kinds, kinds[1:]))
        if switches == 1:  # one kind holds the cheap end, the other the accurate end
            k = next(n for n in range(1, len(front)) if kinds[n] != kinds[0])
            lo, hi = front[k - 1], front[k]
            other = "int8" if kinds[0] == "binary" else "binary"
            tail = (f"{kinds[0]} holds the frontier below {fmt_cost(hi[metric], metric)}, {other} from there on "
                    f"(for {hi['mean'] - lo['mean']:+.2f} points at {ratio(hi[metric] / lo[metric])} the {word})")
        else:
            tail = "binary and int8 points alternate on it"
    return f"Best accuracy for the {word} (Pareto frontier, mean accuracy): {steps}; {tail}."


# ------------------------------------------------------------------------------------------------
# Report and plot
# ------------------------------------------------------------------------------------------------


def aggregate(results: dict, archs: list[str], precisions: list[str]) -> list[dict]:
    """One point per (model, precision) with runs: accuracies, and the deployment numbers averaged
    over the deployed seeds (instructions) or taken from them (flash, RAM: the same for every seed)."""
    points = []
    for ak in archs:
        for pk in precisions:
            recs = results.get((ak, pk), {})
            if not recs:
                continue
            accs = {s: r["test"] for s, r in recs.items()}
            m, s = mean_std(accs.values())
            deps = [r["deploy"] for r in recs.values() if r.get("deploy")]
            p = {"arch": ak, "precision": pk, "label": f"{ARCHS[ak].label} {pk}", "accs": accs, "mean": m, "std": s,
                 "n": len(accs), "epochs": {k: r["epoch"] for k, r in recs.items()},
                 "instructions": None, "flash": None, "ram": None, "deploy": deps}
            if deps and all(d.get("instructions") is not None for d in deps):
                p["instructions"] = sum(d["instructions"] for d in deps) / len(deps)
            if deps:
                p["flash"] = max(d["flash"] for d in deps)
                p["ram"] = max(d["ram"] for d in deps)
            points.append(p)
    return points


def _kib(v) -> str:
    return "—" if v is None else f"{v:,} B ({v / 1024:.1f} KiB)"


def table(points: list[dict], seeds: list[int]) -> list[str]:
    head = ("| model | precision | test acc. % (mean ± std) | per seed (" + ", ".join(map(str, seeds)) + ") | "
            "best val. epochs | Cortex-M4 instructions / inference | MACs: binary / int8 | flash | RAM used | "
            "fits 256 KiB / 64 KiB | bit-exact | PyTorch vs reference: agree / samples, ties, disagreements "
            "without a tie |")
    lines = [head, "|" + "---|" * 12]
    for p in points:
        per_seed = ", ".join(f"{p['accs'][s]:.2f}" if s in p["accs"] else "—" for s in seeds)
        epochs = ", ".join(str(p["epochs"][s]) if s in p["epochs"] else "—" for s in seeds)
        deps = p["deploy"]
        if not PRECISIONS[p["precision"]][3]:
            cost = macs = fits = exact = agree = "does not lower"
            flash = ram = "—"
        elif not deps:
            cost = macs = fits = exact = agree = flash = ram = "not deployed"
        else:
            d0 = deps[0]
            lo, hi = min(d["instructions_min"] for d in deps), max(d["instructions_max"] for d in deps)
            cost = (f"{p['instructions'] / 1e6:.2f} M" if p["instructions"] is not None else d0["unit"]) \
                + (f" ({lo / 1e6:.2f}–{hi / 1e6:.2f} M over {sum(d['emulated_samples'] for d in deps)} images, "
                   f"{len(deps)} seed{'s' if len(deps) != 1 else ''})" if p["instructions"] is not None else "")
            macs = f"{d0['binary_macs'] / 1e6:.2f} M / {(d0['macs'] - d0['binary_macs']) / 1e6:.2f} M"
            flash, ram = _kib(p["flash"]), _kib(p["ram"])
            fits = "yes" if p["flash"] <= FLASH_BUDGET and p["ram"] <= RAM_BUDGET else \
                "no (" + ", ".join(x for x, ok in (("flash", p["flash"] <= FLASH_BUDGET),
                                                   ("RAM", p["ram"] <= RAM_BUDGET)) if not ok) + ")"
            exact = "yes" if all(d["scores_equal_reference"] for d in deps) else "**NO**"
            ag = [d["agreement"] for d in deps]
            agree = (f"{sum(x['agree'] for x in ag):,} / {sum(x['samples'] for x in ag):,}, "
                     f"{sum(x['ties'] for x in ag):,}, {sum(x['disagree_without_tie'] for x in ag)}")
        lines.append(f"| {ARCHS[p['arch']].label} | {PRECISIONS[p['precision']][4]} | **{fmt_acc(p)}** (n = {p['n']}) "
                     f"| {per_seed} | {epochs} | {cost} | {macs} | {flash} | {ram} | {fits} | {exact} | {agree} |")
    return lines


def cmsis_lines(points: list[dict]) -> list[str]:
    lo, hi = CMSIS_NN_M4
    out = ["## For reference: CMSIS-NN (quoted, not measured here)", "",
           f"Issue 13 quotes ARM's CMSIS-NN int8 kernels measured on the same QEMU board the same way: about "
           f"{lo}–{hi} instructions per int8 MAC on the Cortex-M4 for 3×3 convolutions with 32–64 channels "
           f"({CMSIS_NN_M4_FIRST} for a 28×28×1 first layer), and about {CMSIS_NN_M55} per MAC with Helium on the "
           "Cortex-M55. These figures are the issue's, not this script's measurements."]
    for p in points:
        if p["precision"] != "int8" or not p["deploy"] or p["instructions"] is None:
            continue
        d = p["deploy"][0]
        int8_macs = d["macs"] - d["binary_macs"]
        out.append(f"- {p['label']}: {int8_macs / 1e6:.2f} M int8 MACs; binedge's runtime measured "
                   f"{p['instructions'] / 1e6:.2f} M instructions = {p['instructions'] / int8_macs:.2f} per MAC "
                   f"(element-wise ops included). At CMSIS-NN's {lo}–{hi} per MAC the MACs alone would take about "
                   f"{lo * int8_macs / 1e6:.2f}–{hi * int8_macs / 1e6:.2f} M (an estimate from the quoted figures, "
                   "not a measurement).")
    return out + [""]


def reduced_reasons(a, archs: list[str], points: list[dict]) -> list[str]:
    why = []
    if a.limit is not None:
        full = " (the full data: 55,000 training, 5,000 validation, 10,000 test)" \
            if a.dataset in ("fashion-mnist", "mnist") else ""
        why.append(f"at most {a.limit:,} images per split{full}")
    short = [f"{ARCHS[k].label}: {a.epochs} instead of {ARCHS[k].epochs}" for k in archs
             if a.epochs and a.epochs < ARCHS[k].epochs]
    if short:
        why.append("fewer epochs than the recipes (" + "; ".join(short) + ")")
    few = [f"{p['label']} ({p['n']})" for p in points if p["n"] < 3]
    if few:
        why.append("fewer than 3 seeds for " + ", ".join(few))
    if a.augment != "recipe":
        why.append(f"augmentation overridden to {a.augment}")
    return why


def write_report(points: list[dict], a, argv: list[str], info: dict) -> str:
    import torch

    # --no-train only re-reads finished runs: the command that reproduces them is the one without it
    shown = [x for x in argv if x != "--no-train"]
    cmd = "python benchmarks/frontier.py" + ("" if not shown else " " + shlex.join(shown))
    archs = [k for k in a.models if any(p["arch"] == k for p in points)]
    why = reduced_reasons(a, archs, points)
    missing = [f"{ARCHS[ak].label} {pk} seed {s}" for ak in a.models for pk in a.precisions for s in a.seeds
               if s not in next((p["accs"] for p in points if p["arch"] == ak and p["precision"] == pk), {})]
    lines = ["# Accuracy / cost frontier: binary networks vs their float and int8 twins", ""]
    if why:
        lines += [f"**This is a reduced run**: {'; '.join(why)}. Its numbers compare the twins under one short "
                  "protocol on one machine; they are not converged accuracies and do not decide issue 13's "
                  f"targets. {info['at_last']} of {info['runs']} runs reached their best validation accuracy "
                  "in their last epoch, i.e. were still improving when stopped.", ""]
    if missing:
        lines += [f"Not run (time): {', '.join(missing)}.", ""]
    lines += [
        "## Reproduce", "",
        "```sh",
        f".venv/bin/{cmd}",
        "```", "",
        "Each cell is an ordinary run, e.g. (seed 0 of each twin of each model, as the script trains them):", "",
        "```sh"]
    for ak in archs:
        for pk in a.precisions:
            tc = make_train_config(ARCHS[ak], pk, a.seeds[0], a)
            m = tc.model
            opts = [f"--model {m.model}", f"--weights {m.weights}", f"--activation {m.activation}",
                    f"--widths {','.join(map(str, m.widths))}"]
            opts += [f"--fc {m.fc}"] if m.model == "vgg" else [f"--blocks {','.join(map(str, m.blocks))}",
                                                                f"--shortcut {m.shortcut}"]
            opts += [f"--epochs {tc.epochs}", f"--lr {tc.lr:g}", f"--schedule {tc.schedule}", f"--seed {tc.seed}"]
            opts += [f"--augment {tc.augment}"] if tc.augment != "none" else []
            opts += [f"--limit {tc.limit}"] if tc.limit else []
            opts += [f"--dataset {tc.dataset}"] if tc.dataset != "fashion-mnist" else []
            lines.append(f"binedge train {' '.join(opts)} --threads {a.threads or 0} -o {tc.out}")
            if PRECISIONS[pk][3]:
                key = f"{ak}-{pk}-seed{a.seeds[0]}"
                lines.append(f"binedge export {tc.out} --target {a.target} --samples {a.fw_samples} "
                             f"-o {Path(a.out) / 'deploy' / key} && binedge emulate {Path(a.out) / 'deploy' / key}")
    lines += ["```", ""]
    lines += [
        "## Setup", "",
        f"- Data: {a.dataset}; {info['sizes']['train']:,} training, {info['sizes']['val']:,} validation and "
        f"{info['sizes']['test']:,} test images ("
        + ("validation = the last 5,000 official training images; " if a.dataset in ("fashion-mnist", "mnist")
           else "") + "`--limit` keeps the first N of each split).",
        "- Models (each with three twins, every layer otherwise the same): "
        + "; ".join(f"**{ARCHS[k].label}**: recipe of {ARCHS[k].recipe}: Adam lr {ARCHS[k].lr:g}, "
                    f"{ARCHS[k].schedule} schedule, batch 100, cross-entropy, augmentation "
                    f"{ARCHS[k].augment if a.augment == 'recipe' else a.augment}, "
                    f"{_plural(a.epochs or ARCHS[k].epochs, 'epoch')}" for k in archs) + ".",
        "- Twins: **binary** = LAB weights × sign activations (SSTE; ResNet shortcuts summed by Merge); **float** = "
        "full-precision weights × ReLU (accuracy only: it does not lower); **int8** = per-channel int8 weights × "
        "int8 quantized ReLU (`--weights int8 --activation int8`: binedge.nn.QuantInt8(relu=True), range [0, max] "
        "with zero point −128), lowered exactly to int8 Conv2d / Dense / Requantize / Add / pooling ops (ResNet: "
        "int8 Add shortcuts). The ResNet's stem, downsampling 1×1 convolutions and classifier are int8 in every "
        "twin (docs/resnet.md); every VGG layer, first and last included, follows the twin.",
        f"- Seeds: {', '.join(map(str, a.seeds))}; each run is validation-selected (test accuracy at the epoch "
        "of best validation accuracy); mean ± sample std over seeds (n − 1).",
        f"- Cost: `binedge export --target {a.target}` + `binedge emulate` on every deployed seed "
        f"({'all' if a.deploy_seeds is None else f'the first {a.deploy_seeds}'}): "
        f"instructions per inference under QEMU `-icount` on MPS2-AN386 (executed instructions, **not cycles**), "
        f"mean over {a.fw_samples} test images per seed; flash = text + data without the test images; RAM used = "
        "data + bss + the stack's high-water mark (the arena is in bss). Every emulated score is checked "
        "bit-exactly against the reference executor. PyTorch (eval) vs the integer reference on "
        f"{'all' if a.agreement_samples is None else f'the first {a.agreement_samples:,}'} test images per "
        "deployed seed (binedge.agreement; ties are the only allowed difference).",
        f"- C runtime: commit {info['runtime_commit']} (runtime_c/ sources SHA-256 {info['runtime_digest']}); "
        "instruction counts change as kernels are added.",
        f"- {info['runs']} runs, {info['train_minutes']:.1f} min of training (sum of epoch times, evaluation "
        f"included); this invocation took {info['wall'] / 60:.1f} min wall"
        + (" (with `--no-train`: it reported finished runs)" if a.no_train else "")
        + (f" and reused {info['reused']} finished runs" if info["reused"] else "")
        + f"; torch {torch.__version__}, {platform.machine()}, {a.threads or 'default'} thread(s) per run.",
        f"- Run directories: `{a.out}/<model>/<precision>/seed<k>`; firmware: `{a.out}/deploy/`.", "",
        f"![accuracy vs Cortex-M4 instructions and vs flash]({Path(a.plot).name})", "",
        "## Results", ""]
    lines += table(points, a.seeds)
    lines.append("")
    lines += ["## Where binary beats int8, and where it does not", "",
              "Computed from the table: \"costing no more\" compares the measured cost, \"beats\" the mean test "
              "accuracy; a margin counts as resolved only when it exceeds the larger of the two standard "
              "deviations (with at least 2 seeds each).", ""]
    for metric, title in (("instructions", "At equal instructions (Cortex-M4, QEMU -icount)"),
                          ("flash", "At equal flash")):
        vs = verdicts(points, metric)
        lines += [f"### {title}", ""]
        if not vs:
            lines += ["No binary and int8 pair was deployed.", ""]
            continue
        lines += [f"- {verdict_sentence(v, metric)}" for v in vs]
        wins = sum(v["kind"] in ("binary_wins", "binary_only") for v in vs)
        lines += [f"- {pareto_sentence(points, metric)}",
                  f"- In all: binary is ahead (or alone) in {wins} of these {len(vs)} comparisons, int8 in "
                  f"{len(vs) - wins}.", ""]
    floats = [p for p in points if p["precision"] == "float"]
    if floats:
        lines += ["### The float twins", ""]
        for f in floats:
            rest = [p for p in points if p["arch"] == f["arch"] and p["precision"] != "float"]
            gaps = ", ".join(f"{p['precision']} {p['mean'] - f['mean']:+.2f} points" for p in rest)
            lines.append(f"- {f['label']}: {fmt_acc(f)}" + (f"; its twins relative to it: {gaps}" if gaps else "")
                         + ".")
        lines.append("")
    budget = [p for p in points if p["flash"] is not None]
    if budget:
        fit = [p["label"] for p in budget if p["flash"] <= FLASH_BUDGET and p["ram"] <= RAM_BUDGET
               and p["instructions"] is not None and p["instructions"] <= VGG_INSTRUCTIONS]
        lines += ["### Issue 13's budget", "",
                  f"256 KiB flash, 64 KiB RAM and at most {VGG_INSTRUCTIONS / 1e6:.2f} M instructions (the 90.73 % "
                  "binary VGG, benchmarks/targets.md): " + (", ".join(fit) if fit else "no deployed network")
                  + " fit" + ("s" if len(fit) == 1 else "") + " all three.", ""]
    lines += cmsis_lines(points)
    return "\n".join(lines).rstrip() + "\n"


def _cost_ticks(ax, values: list, metric: str) -> None:
    """Readable ticks on a log cost axis: 1-2-5 steps in M instructions or powers of two in KiB."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    if not values:
        return
    lo, hi = min(values) / 1.3, max(values) * 1.3
    if metric == "instructions":
        steps = [m * 10.0**e for e in range(4, 11) for m in (1, 2, 5)]
        name = lambda v: f"{v / 1e6:g} M"  # noqa: E731
    else:
        steps = [1024.0 * 2**e for e in range(0, 16)]
        name = lambda v: f"{v / 1024:g} KiB"  # noqa: E731
    ticks = [v for v in steps if lo <= v <= hi] or [lo, hi]
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticks(ticks, [name(v) for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot(points: list[dict], a, path: Path) -> None:
    """Accuracy (mean ± std) against instructions and against flash, log cost axes; float twins
    as dashed lines (they have no cost)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from binedge.fileio import atomic_write_bytes

    colours = {"binary": "C0", "int8": "C3", "float": "C7"}
    markers = {k: m for k, m in zip(ARCHS, "os^D")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), squeeze=False)
    for ax, metric, xlabel in ((axes[0][0], "instructions", "Cortex-M4 instructions per inference (QEMU -icount)"),
                               (axes[0][1], "flash", "flash without the test images")):
        for p in points:
            if p.get(metric) is None:
                continue
            ax.errorbar([p[metric]], [p["mean"]], yerr=[p["std"]], fmt=markers.get(p["arch"], "o"),
                        color=colours[p["precision"]], capsize=4, ms=7, label=p["label"])
            ax.annotate(p["label"], (p[metric], p["mean"]), textcoords="offset points", xytext=(6, -10), fontsize=7)
        for p in points:
            if p["precision"] == "float":
                ax.axhline(p["mean"], ls="--", lw=1, color=colours["float"])
                # labelled mid-axis: the cheap and the expensive ends are where the deployed points sit
                ax.annotate(f"{p['label']} {p['mean']:.2f} %", (0.32, p["mean"]), xycoords=("axes fraction", "data"),
                            textcoords="offset points", xytext=(0, 3), fontsize=7, color="0.35")
        budget = FLASH_BUDGET if metric == "flash" else VGG_INSTRUCTIONS
        ax.axvline(budget, ls=":", lw=1, color="0.5")
        ax.set_xscale("log")
        _cost_ticks(ax, [p[metric] for p in points if p.get(metric) is not None] + [budget], metric)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel("test accuracy % (mean ± std over seeds)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.set_title({"instructions": "accuracy vs instructions (dotted: 9.48 M, the binary VGG of issue 13)",
                      "flash": "accuracy vs flash (dotted: 256 KiB)"}[metric], fontsize=9)
    # every point is labelled where it sits, so no legend covers the data; the colours are in the title
    reduced = " — reduced run" if reduced_reasons(a, [p["arch"] for p in points], points) else ""
    fig.suptitle(f"{a.dataset}: binary (blue) vs int8 twins (red) and float twins (grey dashed){reduced}\n"
                 f"seeds {','.join(map(str, a.seeds))}" + (f", {a.epochs} epochs" if a.epochs else "")
                 + (f", limit {a.limit}" if a.limit else "") + "; circles VGG, squares ResNet, triangles wide ResNet",
                 fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _names(choices):
    def parse(text: str) -> list[str]:
        names = [t.strip() for t in text.split(",") if t.strip()]
        bad = [n for n in names if n not in choices]
        if not names or bad:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return list(dict.fromkeys(names))
    return parse


def _seeds(text: str) -> list[int]:
    """'3' -> seeds 0, 1, 2 (a count); '0,4,7' or '5,' -> those seeds (a list has a comma)."""
    try:
        if "," not in text:
            n = int(text)
            if n < 1:
                raise ValueError
            return list(range(n))
        seeds = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a count (3) or a comma-separated list of seeds (0,1,2), "
                                         f"got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds: seeds are non-negative integers, got {text!r}")
    return list(dict.fromkeys(seeds))


def _ints(text: str) -> tuple:
    try:
        v = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not v:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return v


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", type=_names(tuple(ARCHS)), default=["vgg", "resnet"],
                   help=f"comma-separated subset of {','.join(ARCHS)}")
    p.add_argument("--precisions", type=_names(tuple(PRECISIONS)), default=list(PRECISIONS),
                   help="comma-separated subset of binary,float,int8")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="a count (3: seeds 0,1,2) or a list (0,1,2)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every run (default: each model's recipe)")
    p.add_argument("--limit", type=int, default=None, help="at most this many images per split")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (0: torch's default)")
    p.add_argument("--device", default="auto", help="training device (binedge train --device)")
    p.add_argument("--augment", choices=["recipe", "none", "crop", "crop+flip"], default="recipe",
                   help="augmentation of every run (recipe: each model's own)")
    p.add_argument("--out", default="runs/frontier", help="root of the run and firmware directories")
    p.add_argument("--report", default=str(HERE / "frontier.md"))
    p.add_argument("--plot", default=None, help="PNG path (default: the report's path with .png)")
    p.add_argument("--dataset", choices=["fashion-mnist", "mnist", "synthetic"], default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--target", default="cortex-m4", help="the binedge target the deployable twins are run on")
    p.add_argument("--fw-samples", type=int, default=8, help="test images emulated per deployed run")
    p.add_argument("--deploy-seeds", type=int, default=None,
                   help="deploy only the first K seeds of each deployable configuration (default: all)")
    p.add_argument("--agreement-samples", type=int, default=1000,
                   help="test images for PyTorch vs reference agreement per deployed run (the numpy reference "
                        "executor is slow on int8 convolutions: the int8 VGG takes minutes per thousand)")
    p.add_argument("--no-train", action="store_true", help="report the finished runs only; train nothing")
    p.add_argument("--jobs", type=int, default=1,
                   help="train up to this many unfinished cells at once, one process each (on a GPU: several)")
    p.add_argument("--train-only", action="store_true",
                   help="train (or resume) the grid and stop: no deployment, no report")
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)  # MODEL/PRECISION/SEED: one cell (--jobs)
    p.add_argument("--vgg-widths", type=_ints, default=None, help=argparse.SUPPRESS)  # tests: tiny models
    p.add_argument("--resnet-widths", type=_ints, default=None, help=argparse.SUPPRESS)
    p.add_argument("--resnet-blocks", type=_ints, default=None, help=argparse.SUPPRESS)
    p.add_argument("--fc", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    for name in ("epochs", "limit", "fw_samples", "deploy_seeds", "agreement_samples", "fc"):
        v = getattr(a, name)
        if v is not None and v < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {v}")
    if a.threads < 0:
        p.error(f"--threads must be 0 (torch's default) or more, got {a.threads}")
    if a.jobs < 1:
        p.error(f"--jobs must be a positive integer, got {a.jobs}")
    if a.no_train and a.train_only:
        p.error("--no-train and --train-only exclude each other")
    a.plot = a.plot or str(Path(a.report).with_suffix(".png"))
    return a


def _apply_overrides(a) -> None:
    """--vgg-widths / --resnet-widths / --resnet-blocks / --fc (hidden; for tests) replace the
    models' shapes."""
    global ARCHS
    new = dict(_DEFAULT_ARCHS)
    for k, arch in _DEFAULT_ARCHS.items():
        kw = {}
        if arch.model == "vgg" and a.vgg_widths:
            kw["widths"] = a.vgg_widths
        if arch.model == "resnet" and a.resnet_widths:
            kw["widths"] = a.resnet_widths
        if arch.model == "resnet" and a.resnet_blocks:
            kw["blocks"] = a.resnet_blocks
        if a.fc:
            kw["fc"] = a.fc
        if kw:
            from dataclasses import replace

            lab = "-".join(map(str, kw.get("widths", arch.widths)))
            if arch.model == "resnet":
                lab += " / " + "-".join(map(str, kw.get("blocks", arch.blocks)))
            new[k] = replace(arch, label=f"{arch.model.upper() if arch.model == 'vgg' else 'ResNet'} {lab}", **kw)
    ARCHS = new


def train_parallel(a, cells, log) -> None:
    """Train the unfinished ``cells`` ``a.jobs`` at a time: one process per cell (this script with
    ``--only CELL --train-only``, so each trains exactly as the sequential grid would), its log in
    OUT/logs/. A failed cell raises FrontierError with the tail of its log."""
    todo = []
    for seed, ak, pk in cells:
        tcfg = make_train_config(ARCHS[ak], pk, seed, a)
        if finished(Path(tcfg.out), tcfg.epochs) is None:
            todo.append((seed, ak, pk))
    if not todo:
        return
    logs = Path(a.out) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, str(Path(__file__).resolve()), *a.argv, "--jobs", "1", "--train-only"]
    log(f"training {len(todo)} run(s), {a.jobs} at a time (logs in {logs})")
    running: dict = {}
    failed: list[str] = []
    while todo or running:
        while todo and len(running) < a.jobs:
            seed, ak, pk = todo.pop(0)
            cell = f"{ak}/{pk}/{seed}"
            path = logs / f"{ak}-{pk}-seed{seed}.log"
            with open(path, "w") as f:
                running[cell] = (subprocess.Popen(base + ["--only", cell], stdout=f, stderr=subprocess.STDOUT), path)
        time.sleep(0.5)
        for cell, (proc, path) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[cell]
            if proc.returncode != 0:
                tail = path.read_text(errors="replace").strip().splitlines()[-3:]
                failed.append(f"{cell} (exit {proc.returncode}: {' / '.join(tail)})")
            else:
                log(f"trained {cell}")
    if failed:
        raise FrontierError(f"{len(failed)} training run(s) failed: {'; '.join(failed)}")


def run_grid(a, log) -> tuple[dict, dict]:
    """Train (or reuse) every cell seed-major and deploy the deployable ones; returns
    (results[(model, precision)][seed] = record, counters)."""
    from binedge.train import TrainError

    results: dict = {}
    counts = {"runs": 0, "reused": 0, "at_last": 0, "train_seconds": 0.0}
    cells = [(s, ak, pk) for s in a.seeds for ak in a.models for pk in a.precisions]
    if a.only is not None:
        cells = [c for c in cells if f"{c[1]}/{c[2]}/{c[0]}" == a.only]
    elif a.jobs > 1 and not a.no_train:
        train_parallel(a, cells, log)
    for n, (seed, ak, pk) in enumerate(cells, 1):
        tcfg = make_train_config(ARCHS[ak], pk, seed, a)
        try:
            tcfg.model.validate(shapes=False)
        except ValueError as e:
            raise FrontierError(f"{ak} {pk}: {e}") from None
        t0 = time.time()
        try:
            m, status = train_one(tcfg, a, log)
        except TrainError as e:
            raise FrontierError(f"{tcfg.out}: {e}") from None
        if m is None:
            log(f"({n}/{len(cells)}) {ak}/{pk}/seed{seed}: not finished, skipped (--no-train)")
            continue
        best = m["best"]
        counts["runs"] += 1
        counts["reused"] += status == "reused"
        counts["at_last"] += best["epoch"] == m["epochs"][-1]["epoch"]
        counts["train_seconds"] += sum(e.get("seconds", 0.0) for e in m["epochs"])
        rec = {"test": 100.0 * best["test_acc"], "val": 100.0 * best["val_acc"], "epoch": best["epoch"],
               "status": status}
        log(f"({n}/{len(cells)}) {ak}/{pk}/seed{seed}: {status}, best epoch {best['epoch']}, "
            f"val {best['val_acc']:.4f}, test {best['test_acc']:.4f} ({time.time() - t0:.0f} s)")
        rank = a.seeds.index(seed)
        if PRECISIONS[pk][3] and not a.train_only and (a.deploy_seeds is None or rank < a.deploy_seeds):
            rec["deploy"] = deploy_one(Path(tcfg.out), f"{ak}-{pk}-seed{seed}", a, log)
        results.setdefault((ak, pk), {})[seed] = rec
    return results, counts


def measured_runtime(points: list[dict]) -> tuple[str, str]:
    """(commit, short SHA-256) of the runtime sources the deployments were measured with: today's
    commit when every (possibly cached) deployment used today's sources, else the ones recorded."""
    now = runtime_digest()
    recorded = {d["ident"]["runtime_sha256"] for p in points for d in p["deploy"]}
    if recorded <= {now}:
        return runtime_commit(), now[:12]
    commits = sorted({d["runtime_commit"] for p in points for d in p["deploy"]})
    return ", ".join(commits), ", ".join(sorted(r[:12] for r in recorded))


def main(argv=None, log=print) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    a = parse_args(argv)
    a.argv = argv
    _apply_overrides(a)
    from binedge.data import DatasetError
    from binedge.emulate import EmulateError
    from binedge.export import ExportError
    from binedge.fileio import atomic_write_bytes
    from binedge.firmware import FirmwareError
    from binedge.targets import BuildError, TargetError, ToolchainError, get_target
    from binedge.train import TrainConfig, load_data

    t0 = time.time()
    try:
        get_target(a.target)
        ds = load_data(TrainConfig(dataset=a.dataset, data_dir=a.data_dir, limit=a.limit))
        sizes = {"train": len(ds.train.labels), "val": len(ds.val.labels), "test": len(ds.test.labels)}
        del ds
        results, counts = run_grid(a, log)
        if a.train_only:
            log(f"trained the grid in {a.out} ({counts['runs']} runs); deploy and report with --no-train")
            return 0
    except (FrontierError, DatasetError, TargetError, FirmwareError, ExportError, EmulateError, BuildError,
            ToolchainError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    points = aggregate(results, a.models, a.precisions)
    if not points:
        print("error: no finished run to report (run without --no-train first)", file=sys.stderr)
        return 1
    commit, digest = measured_runtime(points)
    info = {"sizes": sizes, "runs": counts["runs"], "reused": counts["reused"], "at_last": counts["at_last"],
            "train_minutes": counts["train_seconds"] / 60, "wall": time.time() - t0,
            "runtime_commit": commit, "runtime_digest": digest}
    report = write_report(points, a, argv, info)
    plot(points, a, Path(a.plot))
    atomic_write_bytes(Path(a.report), report.encode())
    log(f"wrote {a.report} and {a.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
