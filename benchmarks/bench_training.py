"""Training throughput of `binedge train`: samples/s for the MLP, the VGG and the binary
ResNet (--model resnet, docs/resnet.md), one process vs two
data-parallel processes (DDP over Gloo on this CPU), and on a GPU when one is present.

    .venv/bin/python benchmarks/bench_training.py [-o benchmarks/training.md] [--limit 1000] [--quick]
                                                  [--data-dir DIR]

Each configuration is one `binedge train` run of two epochs on the first ``--limit`` Fashion-MNIST
training images (global batch 100, the default); the figure is epoch 2's training throughput
(global training samples / seconds of the training phase, without evaluation: metrics.json
"samples_per_second"), so start-up and the first epoch's warm-up are left out. The report states
the machine, its load average before and after (a shared machine slows every figure), and
whether a GPU was available.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = [  # (label, binedge train options)
    ("MLP 784-1024-1024-1024-10 (LAB weights, sign)", ["--model", "mlp"]),
    ("VGG 32-64-128, fc 256 (LAB weights, sign)", ["--model", "vgg"]),
    ("binary ResNet 16-32-64, blocks 0,2,3 (LAB weights, sign)", ["--model", "resnet", "--lr", "0.005"]),
]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def run_config(model_args, *, nproc: int, threads: int, device: str, limit: int, epochs: int, work: Path,
               data_dir: str | None = None) -> dict:
    out = work / f"run-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "binedge", "train", *model_args, "--limit", str(limit), "--epochs", str(epochs),
           "--threads", str(threads), "--device", device, "--quiet", "-o", str(out)]
    if data_dir:
        cmd += ["--data-dir", str(Path(data_dir).resolve())]
    if nproc > 1:
        cmd[4:4] = ["--nproc", str(nproc)]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"bench_training: {' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    last = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    shutil.rmtree(out, ignore_errors=True)
    return {"samples_per_second": last["samples_per_second"], "train_seconds": last["train_seconds"],
            "processes": last["processes"], "threads": last["threads"], "device": last["device"],
            "wall_seconds": round(time.time() - t0, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default=str(ROOT / "benchmarks" / "training.md"))
    p.add_argument("--limit", type=int, default=1000, help="training images per run (also val / test size)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="the MLP only (a smoke run)")
    p.add_argument("--data-dir", default=None,
                   help="Fashion-MNIST's IDX files, where the Debian package's folder is absent (a GPU machine)")
    a = p.parse_args(argv)
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    configs = [("1 process, all threads", 1, cores, "cpu"), ("1 process, 1 thread", 1, 1, "cpu"),
               (f"2 processes (DDP, Gloo), {max(1, cores // 2)} thread(s) each", 2, max(1, cores // 2), "cpu")]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if gpu:
        configs.append((f"1 process, GPU ({gpu})", 1, cores, "cuda"))
        if torch.cuda.device_count() > 1:
            configs.append((f"2 processes (DDP, NCCL), 2 GPUs", 2, max(1, cores // 2), "cuda"))
    load_before = _load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        for label, margs in MODELS[:1] if a.quick else MODELS:
            base = None
            for clabel, nproc, threads, device in configs:
                res = run_config(margs, nproc=nproc, threads=threads, device=device, limit=a.limit, epochs=a.epochs,
                                 work=Path(tmp), data_dir=a.data_dir)
                base = base or res["samples_per_second"]
                rows.append((label, clabel, res, res["samples_per_second"] / base))
                print(f"{label} | {clabel}: {res['samples_per_second']:.1f} samples/s", flush=True)
    load_after = _load()
    lines = [
        "# Training throughput",
        "",
        f"Written by `benchmarks/bench_training.py{' --quick' if a.quick else ''}` "
        f"({time.strftime('%Y-%m-%d')}). Each row is one `binedge train` run of {a.epochs} epochs on the first "
        f"{a.limit:,} Fashion-MNIST training images with the default global batch of 100; the figure is the last "
        "epoch's training throughput (global training samples per second of the training phase, evaluation "
        "excluded: metrics.json `samples_per_second`).",
        "",
        f"- Machine: {_cpu_name()}, {cores} CPU core(s) available to this process; torch {torch.__version__}; "
        f"Python {platform.python_version()}.",
        f"- GPU: {gpu if gpu else 'none was available to this run (' + ('a CPU-only torch build' if torch.version.cuda is None else 'no CUDA device') + '): no GPU figures'}.",
        f"- Load average (1 / 5 / 15 min) before: {load_before}; after: {load_after}. This machine is shared: "
        "other jobs running at the same time lower every figure, and the 1- vs 2-process comparison only holds "
        "for rows measured under similar load.",
        "",
        "| model | configuration | samples/s | vs. first row of the model | epoch train s |",
        "|---|---|---:|---:|---:|",
    ]
    for label, clabel, res, rel in rows:
        lines.append(f"| {label} | {clabel} | {res['samples_per_second']:,.1f} | {rel:.2f}x | {res['train_seconds']:.2f} |")
    lines += [
        "",
        f"Reading the table: with {cores} cores, two DDP processes of {max(1, cores // 2)} thread(s) do the work "
        f"one {cores}-thread process does, plus per step one all-reduce of the gradients (Gloo over loopback) and two all-reduces per "
        "BatchNorm layer (synchronised statistics, so that the run equals the single-process one); for small "
        "models that communication is a large share of a step. Data parallelism pays when each process has its "
        "own cores or GPU and the per-process batch is large enough to keep them busy: on N GPUs use "
        "`binedge train --nproc N` (one process per GPU, NCCL), across machines torchrun (README).",
        "",
    ]
    if gpu:
        lines[-1:-1] = [
            "",
            "On the GPU an epoch here is only a few steps of 100 images, each a millisecond or two: too little "
            "work to fill the device (full-batch steps are replayed from a CUDA graph, `--cuda-graphs`, the "
            "default). The GPU rows show the order of magnitude; longer runs and larger batches gain more.",
        ]
    from binedge.fileio import atomic_write_bytes

    atomic_write_bytes(a.out, "\n".join(lines).encode())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
