#!/usr/bin/env python3
"""Train several seeds of one ``binedge train`` command at the same time, as many epochs as fit
a time budget, and report the validation-selected test accuracy of each and their mean.

Small binary networks leave a GPU mostly idle (docs/resnet.md, "Three seeds on a GPU": a step
of the ResNet-40 at batch 100 is ~2,000 small launches), so independent seeds run side by side
at nearly their single-run speed; a lent GPU is also time-boxed. This script starts one process
per seed (``python -m binedge train ... --seed S --epochs E -o RUNS/seedS``) and, unless
``--epochs`` is given, sizes E with a probe (its runs only time epochs; they are deleted): every
seed trains until each has finished its first epoch and then at least 2 more over at least 2 s;
the wall-clock time per epoch (with the checkpoints written after each) and the start-up time
give E, sized for 10 % slower epochs and capped by ``--max-epochs``; then the real runs start.
The budget counts from the script's start.

    python benchmarks/train_seeds.py --seeds 0,1,2 --budget 450 --runs runs/kd -- \\
        --model resnet --weights lab --activation sign --widths 16,40,80 --blocks 0,2,4 \\
        --augment crop+flip --schedule cosine --lr 0.005 --threads 1 --device cuda \\
        --teacher benchmarks/models/teachers/fmnist-resnet40-fp-teacher20

Writes RUNS/summary.json (per seed: epochs, best epoch, validation and test accuracy; mean and
sample std of the test accuracies) and prints it as a table. ``--pack DIR`` also copies each
run's config.json and metrics.json (and best.pt with ``--pack-checkpoints``) into one .tar.gz per
seed in DIR every ``--pack-every`` seconds, so a run killed from outside leaves its results
behind. Exit status 1 if a run failed (its log's tail is printed), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

#: Options the script sets for every run itself.
OWN_OPTIONS = ("--seed", "--epochs", "-o", "--out", "--resume")
PROBE_EPOCHS = 1000  # the probe's epoch count: only its first epoch runs
MARGIN_S = 10.0  # seconds kept free at the end of the budget
PROBE_S = 2.0  # the probe measures epochs over at least this long
SAFETY = 1.1  # epochs are sized for 10 % slower epochs than the probe saw


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        print("train_seeds: give the binedge train options after '--', e.g. train_seeds.py --seeds 0,1,2 "
              "--budget 600 --runs runs/x -- --model vgg --device cuda", file=sys.stderr)
        raise SystemExit(2)
    cut = argv.index("--")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--budget", type=float, default=None, help="seconds for the whole script (with the probe)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every run (no probe)")
    p.add_argument("--max-epochs", type=int, default=None, help="with --budget: at most this many epochs")
    p.add_argument("--runs", required=True, help="directory of the runs: RUNS/seedS")
    p.add_argument("--pack", default=None, help="also keep .tar.gz copies of the results here")
    p.add_argument("--pack-every", type=float, default=45.0)
    p.add_argument("--pack-checkpoints", action="store_true", help="pack best.pt too")
    a = p.parse_args(argv[:cut])
    train = argv[cut + 1:]
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds {a.seeds!r}: give integers separated by commas, e.g. 0,1,2")
    if not a.seeds or len(set(a.seeds)) != len(a.seeds):
        p.error("--seeds: give one or more different seeds")
    if (a.budget is None) == (a.epochs is None):
        p.error("give exactly one of --budget (epochs sized by a probe) and --epochs")
    if a.epochs is not None and a.epochs < 1:
        p.error("--epochs must be at least 1")
    if a.max_epochs is not None and (a.max_epochs < 1 or a.budget is None):
        p.error("--max-epochs must be at least 1 and goes with --budget")
    if a.budget is not None and a.budget <= MARGIN_S:
        p.error(f"--budget must exceed {MARGIN_S:.0f} s")
    own = [o for o in train if o.split("=")[0] in OWN_OPTIONS]
    if own:
        p.error(f"{own[0]} is set by this script for each run; leave it out of the binedge train options")
    if not train:
        p.error("no binedge train options after '--' (at least --model ...)")
    return a, train


class Seeds:
    def __init__(self, a, train_options):
        self.a, self.options = a, train_options
        self.root = Path(a.runs)
        self.procs: dict[int, subprocess.Popen] = {}

    def run_dir(self, seed: int) -> Path:
        return self.root / f"seed{seed}"

    def log_path(self, seed: int) -> Path:
        return self.root / f"seed{seed}.log"

    def launch(self, epochs: int) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for s in self.a.seeds:
            shutil.rmtree(self.run_dir(s), ignore_errors=True)
            cmd = [sys.executable, "-m", "binedge", "train", *self.options, "--quiet", "--seed", str(s),
                   "--epochs", str(epochs), "-o", str(self.run_dir(s))]
            with open(self.log_path(s), "w") as log:
                self.procs[s] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def epochs_of(self, seed: int) -> list[dict]:
        try:
            return json.loads((self.run_dir(seed) / "metrics.json").read_text())["epochs"]
        except (OSError, ValueError, KeyError):
            return []

    def failed(self) -> list[int]:
        return [s for s, p in self.procs.items() if p.poll() not in (None, 0)]

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def pack(self) -> None:
        if not self.a.pack:
            return
        dest = Path(self.a.pack)
        dest.mkdir(parents=True, exist_ok=True)
        names = ["config.json", "metrics.json"] + (["best.pt"] if self.a.pack_checkpoints else [])
        for s in self.a.seeds:
            tmp = dest / f"seed{s}.tar.gz.tmp"
            with tarfile.open(tmp, "w:gz") as t:
                for n in names:
                    if (self.run_dir(s) / n).exists():
                        t.add(self.run_dir(s) / n, arcname=f"seed{s}/{n}")
                if self.log_path(s).exists():
                    t.add(self.log_path(s), arcname=f"seed{s}.log")
            tmp.replace(dest / f"seed{s}.tar.gz")


def summarise(seeds: Seeds, planned: int) -> dict:
    rows = {}
    for s in seeds.a.seeds:
        ep = seeds.epochs_of(s)
        if not ep:
            rows[str(s)] = {"epochs": 0}
            continue
        best = max(ep, key=lambda m: m["val_acc"])  # the first maximum, as the trainer's best.pt
        rows[str(s)] = {"epochs": len(ep), "best_epoch": best["epoch"], "val_acc": best["val_acc"],
                        "test_acc": best["test_acc"], "seconds_per_epoch": ep[-1]["seconds"]}
    tests = [r["test_acc"] for r in rows.values() if r["epochs"] == planned]
    return {"planned_epochs": planned, "seeds": rows, "finished": len(tests),
            "mean_test_acc": statistics.fmean(tests) if tests else None,
            "std_test_acc": statistics.stdev(tests) if len(tests) > 1 else None}


def main(argv: list[str]) -> int:
    t0 = time.time()
    a, options = parse_args(argv)
    seeds = Seeds(a, options)

    def say(msg: str) -> None:
        print(f"[{time.time() - t0:7.1f} s] {msg}", flush=True)

    def report_failures() -> int:
        for s in seeds.failed():
            say(f"seed {s} failed (exit {seeds.procs[s].returncode}); the end of {seeds.log_path(s)}:\n"
                + seeds.log_path(s).read_text()[-2000:])
        return 1

    epochs = a.epochs
    try:
        if epochs is None:
            # The probe: wall-clock time per epoch (training, evaluation and the checkpoints the
            # trainer writes after each epoch) over at least PROBE_S seconds and 2 epochs of every
            # seed, once each has finished its first; start-up is the time to that first epoch.
            seeds.launch(PROBE_EPOCHS)
            started = time.time()
            first: dict[int, tuple[float, int]] = {}
            while True:
                if seeds.failed():
                    seeds.stop()
                    return report_failures()
                if time.time() - t0 > a.budget:
                    seeds.stop()
                    say("the probe did not finish within the budget: give a larger --budget")
                    return 1
                now = time.time()
                counts = {s: len(seeds.epochs_of(s)) for s in a.seeds}
                for s, n in counts.items():
                    if n and s not in first:
                        first[s] = (now, n)
                if len(first) == len(a.seeds) and now - max(t for t, _ in first.values()) >= PROBE_S and \
                        all(counts[s] - first[s][1] >= 2 for s in a.seeds):
                    break
                time.sleep(0.1)
            per_epoch = max((now - first[s][0]) / (counts[s] - first[s][1]) for s in a.seeds)
            per_epoch = max(per_epoch, max(seeds.epochs_of(s)[0]["seconds"] for s in a.seeds))
            startup = max(0.0, max(t for t, _ in first.values()) - started - per_epoch)
            seeds.stop()
            left = a.budget - (time.time() - t0) - startup - MARGIN_S
            epochs = int(left // (per_epoch * SAFETY))
            if a.max_epochs is not None:
                epochs = min(epochs, a.max_epochs)
            say(f"probe: {per_epoch:.2f} s per epoch with {len(a.seeds)} runs at once, start-up {startup:.1f} s, "
                f"{left:.0f} s left: {epochs} epochs")
            if epochs < 1:
                say("no whole epoch fits the rest of the budget: give a larger --budget")
                return 1
        seeds.launch(epochs)
        last_pack = time.time()
        while any(p.poll() is None for p in seeds.procs.values()):
            if seeds.failed():
                seeds.stop()
                break
            if a.budget is not None and time.time() - t0 > a.budget:
                say("the budget ran out: stopping the runs (their best.pt so far is kept)")
                seeds.stop()
                break
            if time.time() - last_pack > a.pack_every:
                seeds.pack()
                last_pack = time.time()
                say("epochs done: " + ", ".join(f"seed {s}: {len(seeds.epochs_of(s))}" for s in a.seeds))
            time.sleep(1.0)
    except KeyboardInterrupt:
        seeds.stop()
        raise
    seeds.pack()
    summary = summarise(seeds, epochs)
    tmp = seeds.root / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    tmp.replace(seeds.root / "summary.json")
    for s, r in summary["seeds"].items():
        if r["epochs"]:
            say(f"seed {s}: {r['epochs']}/{epochs} epochs, best epoch {r['best_epoch']}: "
                f"validation {100 * r['val_acc']:.2f} %, test {100 * r['test_acc']:.2f} %")
    if summary["mean_test_acc"] is not None:
        std = f" ± {100 * summary['std_test_acc']:.2f}" if summary["std_test_acc"] is not None else ""
        say(f"test accuracy, mean of {summary['finished']} finished seed(s): {100 * summary['mean_test_acc']:.2f}{std} %")
    if seeds.failed():
        return report_failures()
    return 0 if summary["finished"] == len(a.seeds) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
