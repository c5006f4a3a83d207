#!/usr/bin/env python
"""binedge against its peers on one network (writes benchmarks/peers.md): the fully binary VGG
(``--model vgg --widths 32,64,128 --fc 256``, 28x28x1, sign activations, binary weights) in

* binedge's C runtime (benchmarks/models/fmnist-vgg32-sign.bnm, trained; best ISA and AVX2),
* Larq Compute Engine 0.16: the same architecture built in Larq, converted by LCE's converter,
  run by LCE's interpreter,
* LiteRT int8 with XNNPACK (TensorFlow 2.16's tf.lite and ai-edge-litert from binedge's venv)
  and TFLM (tflite-micro's Python interpreter) on an int8 post-training-quantized twin of the
  same architecture,

at batch 1 on one thread, in interleaved rounds across the two processes, medians and ratios.

The peers need numpy < 2 and TensorFlow 2.16 with tf-keras (TF_USE_LEGACY_KERAS=1), so they run
in their own virtualenv (default .venv-peers/, pinned in benchmarks/peers-requirements.txt),
which this script creates or updates first; the peers' side is benchmarks/peers_worker.py.
Not part of CI (tests/test_peers_script.py covers the parts that need no peers' venv).

    .venv/bin/python benchmarks/peers.py [-o benchmarks/peers.md] [--quick] [--skip-setup]

Exit status: 0 when every engine ran; 1 when one did not (the report names it and says why; no
number is made up); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _load_worker_module():
    """benchmarks/peers_worker.py as a module (its pure-Python parts: architecture, DIFFERENCES;
    TensorFlow is imported only inside its functions), without putting benchmarks/ on sys.path."""
    import importlib.util

    if "peers_worker" in sys.modules:
        return sys.modules["peers_worker"]
    spec = importlib.util.spec_from_file_location("peers_worker", HERE / "peers_worker.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peers_worker"] = mod
    spec.loader.exec_module(mod)
    return mod


peers_worker = _load_worker_module()

DEFAULT_VENV = ROOT / ".venv-peers"
DEFAULT_REQUIREMENTS = HERE / "peers-requirements.txt"
DEFAULT_BLOB = HERE / "models" / "fmnist-vgg32-sign.bnm"
WORKER = HERE / "peers_worker.py"
#: Goal of issue 16 (a benchmark goal, not a test): binedge's fully binary VGG end to end at least
#: this many times faster than LiteRT int8 + XNNPACK on the same network.
GOAL_VS_LITERT_INT8 = 6.0
#: Order of the rows in the report.
ORDER = ["binedge-c", "binedge-c-avx2", "binedge-python", "lce", "lce-indirect", "lce-xnnpack",
         "lce-indirect-xnnpack", "litert-xnnpack", "litert-tf-xnnpack", "litert-tf-builtin", "tflm", "litert-binedge-float"]
#: The rows the goal compares with: LiteRT int8 + XNNPACK, either version (the faster counts).
LITERT_INT8_XNNPACK = ("litert-xnnpack", "litert-tf-xnnpack")


class PeerSetupError(RuntimeError):
    """The peers' virtualenv could not be made or its packages installed (the message says why)."""


# ----------------------------------------------------------------------------- arguments, setup


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=str(HERE / "peers.md"), help="report (default benchmarks/peers.md)")
    ap.add_argument("--venv", default=str(DEFAULT_VENV), help="the peers' virtualenv (default .venv-peers)")
    ap.add_argument("--requirements", default=str(DEFAULT_REQUIREMENTS), help="pinned packages of the peers' venv")
    ap.add_argument("--python", default=None, help="interpreter that creates the venv (default: this one's base)")
    ap.add_argument("--skip-setup", action="store_true", help="use the peers' venv as it is (no pip)")
    ap.add_argument("--blob", default=str(DEFAULT_BLOB), help="binedge's model (the trained fully binary VGG)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 60, quick 3)")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds of timed calls per engine, all rounds together (default 4, quick 0.5)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and calls (smoke run)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the peers' random weights")
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 60
    if args.budget is None:
        args.budget = 0.5 if args.quick else 4.0
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if not args.budget > 0:
        ap.error("--budget must be positive")
    return args


def parse_requirements(text: str) -> list[tuple[str, str]]:
    """(name, version) of every 'name==version' line; comments and blank lines skipped. Anything
    else is refused: the peers' venv is pinned exactly."""
    pins = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line or any(c in line for c in "<>~!;@ "):
            raise ValueError(f"requirements line {n}: {raw.strip()!r} is not an exact pin (name==version)")
        name, version = (s.strip() for s in line.split("==", 1))
        pins.append((name, version))
    return pins


_CHECK_PINS = """
import json, sys
from importlib.metadata import version, PackageNotFoundError
bad = {}
for name, want in json.loads(sys.argv[1]):
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    if have != want:
        bad[name] = [want, have]
print(json.dumps(bad))
"""


def venv_python(venv) -> Path:
    return Path(venv) / "bin" / "python"


def missing_pins(venv, pins) -> dict:
    """{name: [wanted, installed or None]} for every pin the venv does not satisfy."""
    r = subprocess.run([str(venv_python(venv)), "-c", _CHECK_PINS, json.dumps(pins)], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise PeerSetupError(f"{venv_python(venv)} cannot check its packages: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout)


def ensure_venv(venv, requirements, python=None, log=print) -> dict:
    """Create the peers' venv if missing and pip-install the pins it lacks (idempotent: nothing
    happens when every pin is installed). Returns {name: version} of the pins."""
    venv, requirements = Path(venv), Path(requirements)
    try:
        pins = parse_requirements(requirements.read_text())
    except (OSError, ValueError) as e:
        raise PeerSetupError(f"requirements {requirements}: {e}") from None
    if not venv_python(venv).exists():
        base = python or getattr(sys, "_base_executable", None) or "python3"
        log(f"creating the peers' virtualenv {venv} with {base} ...")
        r = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode != 0:
            raise PeerSetupError(f"`{base} -m venv {venv}` failed (exit {r.returncode}): "
                                 f"{(r.stderr or r.stdout).strip()[-600:]}")
    bad = missing_pins(venv, pins)
    if bad:
        log(f"installing into {venv}: " + ", ".join(f"{n}=={w[0]}" for n, w in bad.items())
            + " (TensorFlow: several minutes) ...")
        r = subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-r", str(requirements)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            tail = "\n".join(line for line in (r.stderr + r.stdout).splitlines()
                             if "is ignored: it is neither a file nor a directory" not in line)[-1500:]
            raise PeerSetupError(f"`pip install -r {requirements}` into {venv} failed (exit {r.returncode}):\n{tail}")
        bad = missing_pins(venv, pins)
        if bad:
            raise PeerSetupError(f"after pip install, {venv} still lacks: "
                                 + ", ".join(f"{n}=={w[0]} (has {w[1]})" for n, w in bad.items()))
    else:
        log(f"peers' virtualenv {venv}: every pin installed")
    return dict(pins)


# ----------------------------------------------------------------------------- runners


_Timed = _load_worker_module()._Timed  # one timing loop for both sides: each runner's call(), in ns


class _PyRuntimeRunner(_Timed):
    """binedge through its Python binding: Runtime.run on one image, timed in Python."""

    def __init__(self, rt, x):
        self.rt, self.x = rt, x
        self.scores = self.call()

    def call(self):
        return self.rt.run(self.x)


class _LiteInt8Runner(_Timed):
    """ai-edge-litert (binedge's venv) on the int8 twin: default delegates (XNNPACK), one thread."""

    def __init__(self, content: bytes, xq):
        from ai_edge_litert.interpreter import Interpreter

        self.interp = Interpreter(model_content=content, num_threads=1)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]
        self.outi = self.interp.get_output_details()[0]["index"]
        self.x = xq
        self.out = self.call()

    def call(self):
        self.interp.set_tensor(self.inp, self.x)
        self.interp.invoke()
        return self.interp.get_tensor(self.outi)


class Worker:
    """The peers' process (benchmarks/peers_worker.py in the peers' venv), driven line by line."""

    def __init__(self, venv, workdir, images_path, widths, fc, classes, seed):
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env.pop("PYTHONPATH", None)
        self.log_path = Path(workdir) / "worker.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(venv_python(venv)), str(WORKER), "--workdir", str(workdir), "--images", str(images_path),
             "--widths", ",".join(str(w) for w in widths), "--fc", str(fc), "--classes", str(classes),
             "--seed", str(seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            env=env, cwd=str(ROOT))
        msg = self._read()
        if "ready" not in msg:
            raise PeerSetupError(f"the peers' worker failed: {msg.get('fatal', msg)}; its log:\n{self.log_tail()}")
        self.info = msg["ready"]

    def log_tail(self, n: int = 1500) -> str:
        self._log.flush()
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            return {"fatal": f"the worker exited (status {self.proc.returncode}) without answering"}
        return json.loads(line)

    def time(self, engine: str, iters: int) -> list:
        self.proc.stdin.write(json.dumps({"cmd": "time", "engine": engine, "iters": int(iters)}) + "\n")
        self.proc.stdin.flush()
        msg = self._read()
        if "samples" not in msg:
            raise RuntimeError(f"worker, engine {engine}: {msg.get('error') or msg.get('fatal')}")
        return msg["samples"]

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class _RemoteRunner:
    def __init__(self, worker: Worker, engine: str):
        self.worker, self.engine = worker, engine

    def time(self, iters: int) -> list:
        return self.worker.time(self.engine, iters)


# ----------------------------------------------------------------------------- the run


def _images(n: int = 64, seed: int = 0):
    """Fashion-MNIST test images (uint8, N x 28 x 28 x 1), or random pixels when the data set is not here."""
    import numpy as np

    try:
        from binedge.data import load_dataset

        x = load_dataset("fashion-mnist").test.images[:n]
        return np.ascontiguousarray(x.reshape(len(x), 28, 28, 1)), "the first Fashion-MNIST test image"
    except Exception:  # noqa: BLE001 - the data set is optional here
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=(n, 28, 28, 1), dtype=np.uint8), "random pixels: Fashion-MNIST was not found"


def main_versions() -> dict:
    import numpy as np

    from binedge.bench import _litert_version

    out = {"python": platform.python_version(), "numpy": np.__version__, "ai-edge-litert": _litert_version()}
    try:
        out["binedge commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                               capture_output=True, text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "runtime_c", "binedge"],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
        if dirty:
            out["binedge commit"] += (f" + {len(dirty)} uncommitted file(s) under runtime_c/ and binedge/ in the "
                                      "working tree at run time")
    except (OSError, subprocess.SubprocessError):
        out["binedge commit"] = "?"
    return out


def run(args, log=print) -> dict:
    import numpy as np

    from binedge import reference
    from binedge.bench import (ISA_AVX2, ISA_POPCNT, _CRunner, _interleaved, _LiteRunner, cpu_model, isa_names,
                               measure_machine)
    from binedge.blob import read_blob
    from binedge.export_tflite import export_tflite
    from binedge.inspect import layer_table, totals

    t0 = time.time()
    load0 = os.getloadavg()
    widths, fc, classes = (32, 64, 128), 256, 10
    arch = peers_worker.architecture(widths, fc, (28, 28, 1), classes)
    errors: dict[str, str] = {}
    labels: dict[str, tuple[str, str]] = {}
    runners: dict = {}
    setup = {"requirements": None, "error": None}

    log("measuring the clock ...")
    machine = measure_machine(quick=True)
    graph = read_blob(args.blob)
    tot = totals(layer_table(graph))
    arch_macs = sum(r.get("macs", 0) for r in arch)
    if tot["macs"] != arch_macs:
        raise SystemExit(f"{args.blob}: {tot['macs']:,} MACs, the Larq architecture {arch_macs:,}: not the same network")
    images, image_source = _images()
    x = images[:1]
    want = reference.run(graph, x)

    # binedge, in this process
    best = _CRunner(graph, x)
    runners["binedge-c"] = best
    labels["binedge-c"] = (f"binedge C runtime, {isa_names(machine.isa & 0x7)}",
                           "auto dispatch at the best ISA, timed in C around be_invoke (be_bench_invoke); kernels "
                           + " ".join(best.rt.kernel_names()))
    if machine.isa & ISA_AVX2 and machine.isa & ~(ISA_POPCNT | ISA_AVX2) & 0x7:
        avx2 = _CRunner(graph, x, isa=ISA_POPCNT | ISA_AVX2)
        runners["binedge-c-avx2"] = avx2
        labels["binedge-c-avx2"] = ("binedge C runtime, AVX2 only", "dispatch restricted to POPCNT + AVX2, timed in C; "
                                    "kernels " + " ".join(avx2.rt.kernel_names()))
    runners["binedge-python"] = _PyRuntimeRunner(best.rt, x)
    labels["binedge-python"] = ("binedge via Python (Runtime.run)",
                                "the same interpreter through the ctypes binding, timed in Python like the peers")
    for name in ("binedge-c", "binedge-c-avx2", "binedge-python"):
        if name in runners and not np.array_equal(runners[name].scores, want):
            raise AssertionError(f"{name}: scores differ from binedge.reference.run")

    worker = None
    with tempfile.TemporaryDirectory(prefix="binedge-peers-") as tmp:
        lite = Path(tmp) / "binedge-vgg.tflite"
        export_tflite(graph, lite)
        runners["litert-binedge-float"] = _LiteRunner(lite, x)
        if not np.array_equal(runners["litert-binedge-float"].scores, want):
            raise AssertionError("LiteRT on binedge's .tflite: scores differ from binedge.reference.run")
        labels["litert-binedge-float"] = (
            "LiteRT + XNNPACK on binedge's own .tflite (float32)",
            f"binedge.export_tflite of the trained blob ({lite.stat().st_size:,} B): ±1 weights DEQUANTIZE'd to "
            "float32, exact int32 scores; ai-edge-litert, 1 thread")
        images_path = Path(tmp) / "images.npy"
        np.save(images_path, images)
        try:
            setup["requirements"] = (ensure_venv(args.venv, args.requirements, args.python, log) if not args.skip_setup
                                     else dict(parse_requirements(Path(args.requirements).read_text())))
            log("building, converting and checking the peers' models (TensorFlow: about a minute) ...")
            worker = Worker(args.venv, tmp, images_path, widths, fc, classes, args.seed)
        except (PeerSetupError, OSError, ValueError, subprocess.SubprocessError) as e:
            setup["error"] = str(e)
            log(f"peers not available: {e}")
        info = worker.info if worker else {"versions": {}, "engines": {}, "checks": {}, "models": {}}
        for name in ("lce", "lce-indirect", "lce-xnnpack", "lce-indirect-xnnpack", "litert-tf-xnnpack",
                     "litert-tf-builtin", "tflm"):
            e = info["engines"].get(name)
            if e is None:
                errors[name] = "the peers' virtualenv or worker failed (see Setup)"
                labels[name] = (name, "")
            elif "error" in e:
                errors[name], labels[name] = e["error"], (e["label"], e["detail"])
            else:
                runners[name], labels[name] = _RemoteRunner(worker, name), (e["label"], e["detail"])
        labels["litert-xnnpack"] = ("LiteRT (ai-edge-litert) int8 + XNNPACK",
                                    "ai_edge_litert Interpreter(num_threads=1), default delegates (XNNPACK), "
                                    "on the int8 twin written by the worker")
        int8 = info["models"].get("int8", {})
        if "path" in int8:
            try:
                content = Path(int8["path"]).read_bytes()
                scale, zp = int8["input_quantization"]
                xq = np.clip(np.round(x.astype(np.float32) / 255.0 / scale) + zp, -128, 127).astype(np.int8)
                runners["litert-xnnpack"] = _LiteInt8Runner(content, xq)
                if "int8_output" in info:
                    diff = np.abs(np.ravel(runners["litert-xnnpack"].out).astype(np.int32) - np.asarray(info["int8_output"]))
                    info["checks"]["litert-xnnpack_vs_litert-tf-xnnpack"] = {"max_abs_diff_int8": int(diff.max())}
            except Exception as e:  # noqa: BLE001 - reported
                errors["litert-xnnpack"] = f"{type(e).__name__}: {e}"
        else:
            errors["litert-xnnpack"] = "no int8 model: " + int8.get("error", "the peers' worker did not run")
        try:
            log(f"timing {len(runners)} engines in {args.rounds} interleaved rounds ...")
            samples = _interleaved(runners, args.budget, args.rounds)
        finally:
            if worker:
                worker.close()
    timings = []
    for name in ORDER:
        label, detail = labels.get(name, (name, ""))
        if name in runners:
            s = np.asarray(samples[name], dtype=np.float64)
            timings.append({"name": name, "label": label, "detail": detail, "median_us": float(np.median(s)) / 1e3,
                            "min_us": float(np.min(s)) / 1e3, "calls": int(len(s))})
        elif name in errors:
            timings.append({"name": name, "label": label, "detail": detail, "error": errors[name]})
    return {"command": args.command, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": time.time() - t0, "cpu": cpu_model(),
            "clock_ghz": machine.clock_hz / 1e9, "isa": isa_names(machine.isa), "load": (load0[0], os.getloadavg()[0]),
            "rounds": args.rounds, "budget": args.budget, "blob": os.path.relpath(args.blob, ROOT),
            "blob_bytes": Path(args.blob).stat().st_size, "macs": tot["macs"], "binary_macs": tot["binary_macs"],
            "image_source": image_source, "versions_main": main_versions(), "versions_peers": info["versions"],
            "setup": setup, "checks": info["checks"], "models": info["models"], "timings": timings, "arch": arch,
            "seed": args.seed}


# ----------------------------------------------------------------------------- report


def _fmt(v: float) -> str:
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def goal_line(timings: list[dict]) -> str:
    by = {t["name"]: t for t in timings if "median_us" in t}
    lite = [by[n] for n in LITERT_INT8_XNNPACK if n in by]
    if "binedge-python" not in by or not lite:
        return (f"- Fully binary VGG end to end >= {GOAL_VS_LITERT_INT8:g}x LiteRT int8 + XNNPACK: **not measured** "
                "(a LiteRT int8 + XNNPACK row or binedge's row is missing; see above).")
    fast = min(lite, key=lambda t: t["median_us"])
    py = by["binedge-python"]
    ratio = fast["median_us"] / py["median_us"]
    c = by.get("binedge-c")
    c_txt = (f"; timed in C, binedge is {fast['median_us'] / c['median_us']:.1f}x ({_fmt(c['median_us'])} µs)"
             if c else "")
    return (f"- Fully binary VGG end to end >= {GOAL_VS_LITERT_INT8:g}x LiteRT int8 + XNNPACK on the same network: "
            f"**{ratio:.1f}x** (binedge through its Python binding {_fmt(py['median_us'])} µs vs the faster LiteRT int8 "
            f"+ XNNPACK row, {fast['label']}, {_fmt(fast['median_us'])} µs, both timed in Python around one call{c_txt}; "
            f"ratio of the minimums {fast['min_us'] / py['min_us']:.1f}x) "
            f"-- " + ("met." if ratio >= GOAL_VS_LITERT_INT8 else "NOT met."))


def summary_lines(timings: list[dict]) -> list[str]:
    """binedge (Python binding) against the fastest configuration of each peer family."""
    by = {t["name"]: t for t in timings if "median_us" in t}
    py = by.get("binedge-python")
    if not py:
        return []
    out = []
    for family, prefix in (("Larq Compute Engine", "lce"), ("TFLM", "tflm")):
        rows = [t for n, t in by.items() if n == prefix or n.startswith(prefix + "-")]
        if rows:
            fast = min(rows, key=lambda t: t["median_us"])
            out.append(f"- Against {family} (its fastest configuration here, {fast['label']}): binedge is "
                       f"**{fast['median_us'] / py['median_us']:.1f}x** faster ({_fmt(py['median_us'])} µs vs "
                       f"{_fmt(fast['median_us'])} µs, both timed in Python; ratio of the minimums "
                       f"{fast['min_us'] / py['min_us']:.1f}x).")
    return out


def format_report(r: dict) -> str:
    vm, vp = r["versions_main"], r["versions_peers"]
    lines = [
        "# binedge vs Larq Compute Engine, LiteRT int8 + XNNPACK and TFLM (x86, batch 1, one thread)", "",
        f"Written by `benchmarks/peers.py` (peers' side: `benchmarks/peers_worker.py` in their own virtualenv) "
        f"on {r['date']}, {r['seconds']:.0f} s. Not part of CI.", "",
        f"- command: `{r['command']}`",
        f"- CPU: {r['cpu']}; ISA: {r['isa']}; clock **{r['clock_ghz']:.2f} GHz measured** (chain of dependent adds)",
        f"- load average at start / end: {r['load'][0]:.2f} / {r['load'][1]:.2f} (a shared host: expect 10-20 % "
        "noise; the engines are timed in interleaved rounds to share it)",
        f"- binedge (commit {vm.get('binedge commit', '?')}): Python {vm.get('python', '?')}, numpy "
        f"{vm.get('numpy', '?')}, ai-edge-litert {vm.get('ai-edge-litert', '?')}",
        "- peers' virtualenv: " + (", ".join(f"{k} {v}" for k, v in vp.items()) if vp else "**not available**")
        + " (pins: `benchmarks/peers-requirements.txt`; TF_USE_LEGACY_KERAS=1)",
        f"- timing: {r['rounds']} interleaved rounds, about {r['budget']:g} s of calls per engine in all; every engine "
        "in its round, the binedge process and the peers' process taking turns (the idle one waits on a pipe); "
        f"median and minimum over all calls; one input image ({r['image_source']}; the peers' int8 models were "
        "calibrated on the first 64) at batch 1, one thread everywhere", "",
    ]
    if r["setup"].get("error"):
        lines += ["## Setup failed", "", "The peers' virtualenv or worker could not run, so their rows are missing "
                  "(nothing below is estimated):", "", "```", r["setup"]["error"].strip(), "```", ""]
    lines += ["## The network", "",
              f"binedge runs `{r['blob']}` ({r['blob_bytes']:,} B; trained, 90.73 % on Fashion-MNIST, "
              "benchmarks/models/README.md): `binedge train --model vgg --weights lab --activation sign --widths "
              f"32,64,128 --fc 256`, {r['macs']:,} MACs, all binary ({r['binary_macs']:,}; the first layer is u8 pixels "
              "× binary weights). The peers run the same architecture, layer for layer, with **random weights** "
              f"(Keras initialisers, seed {r['seed']}, random BatchNorm statistics): latency does not depend on the "
              "weights' values.", ""]
    lines += peers_worker.architecture_rows(r["arch"])
    lines += ["", "What is equal and what differs:", ""] + [f"- {d}" for d in peers_worker.DIFFERENCES]
    models = r.get("models", {})
    if models:
        lines += ["", "The peers' converted models (their operator lists show what each runs in which format):", ""]
    for key, what in (("lce", "LCE model"), ("int8", "int8 twin")):
        m = models.get(key)
        if not m:
            continue
        if "error" in m:
            lines.append(f"- {what}: **failed**: {m['error']}")
        else:
            ops = ", ".join(f"{k} ×{v}" for k, v in m["ops"].items())
            lines.append(f"- {what}: {m['bytes']:,} B, {m['params']:,} parameters; operators: {ops}")
    lines += ["", "## Latency", "",
              "Ratios are of medians: how many times binedge's time a row takes (> 1: slower than binedge). "
              "\"vs binedge C\" divides by binedge timed in C around `be_invoke`; \"vs binedge Python\" by binedge "
              "through its Python binding (`Runtime.run`), timed like every peer row: in Python around one call "
              "(input set, invoke, output read).", "",
              "| engine | median µs | min µs | vs binedge C | vs binedge Python | calls | how |",
              "|---|---:|---:|---:|---:|---:|---|"]
    by = {t["name"]: t for t in r["timings"] if "median_us" in t}
    c, py = by.get("binedge-c"), by.get("binedge-python")
    for t in r["timings"]:
        if "error" in t:
            lines.append(f"| {t['label']} | failed | | | | | {t['error']} |")
            continue
        rc = f"{t['median_us'] / c['median_us']:.1f}x" if c else "-"
        rp = f"{t['median_us'] / py['median_us']:.1f}x" if py else "-"
        lines.append(f"| {t['label']} | {_fmt(t['median_us'])} | {_fmt(t['min_us'])} | {rc} | {rp} | {t['calls']:,} | "
                     f"{t['detail']} |")
    spread = [f"{t['label']} {t['median_us'] / t['min_us']:.2f}" for n in ("binedge-c", "binedge-python", "litert-xnnpack",
              "litert-tf-xnnpack") for t in [by.get(n)] if t]
    if spread:
        lines += ["", "Median / minimum of some rows: " + "; ".join(spread) + ". On a shared host the medians carry "
                  "the other tenants' load, not always evenly across engines; the minimums are the least disturbed "
                  "figures, so the goal below gives the ratio of the minimums too."]
    checks = r.get("checks", {})
    if checks:
        lines += ["", "## Output checks", "",
                  "- binedge's rows (C, AVX2, Python binding, and LiteRT on binedge's own .tflite): int32 scores "
                  "equal to `binedge.reference.run` on the timed image."]
        ck = checks.get("lce_vs_larq_keras")
        if ck:
            lines.append(f"- LCE vs the Larq Keras model in TensorFlow: max |difference| {ck['max_abs_diff']:.3g} "
                         f"(outputs up to {ck['max_abs']:.3g}), same argmax: {ck['argmax_equal']}.")
        for k in ("lce-indirect_vs_lce", "lce-xnnpack_vs_lce", "lce-indirect-xnnpack_vs_lce"):
            if k in checks:
                lines.append(f"- {k.replace('_vs_', ' vs ')}: max |difference| {checks[k]['max_abs_diff']:.3g}.")
        for k in ("litert-xnnpack_vs_litert-tf-xnnpack", "litert-tf-builtin_vs_litert-tf-xnnpack",
                  "tflm_vs_litert-tf-xnnpack"):
            if k in checks:
                lines.append(f"- int8 outputs, {k.replace('_vs_', ' vs ')}: max |difference| "
                             f"{checks[k]['max_abs_diff_int8']} (int8 steps; kernels may round differently).")
        if "int8_vs_float_twin" in checks:
            lines.append(f"- int8 twin vs its float Keras model: same argmax: {checks['int8_vs_float_twin']['argmax_equal']}.")
    lines += ["", "## Goal", "", goal_line(r["timings"])] + summary_lines(r["timings"]) + ["",
              "## Caveats", "",
              "- Weights: binedge's are trained; the peers' are random (see above). Latency of these engines does "
              "not depend on weight values; accuracy is not compared here.",
              "- Equal across engines: the architecture (layers, shapes, padding), batch 1, one thread, the input "
              "image, the machine and the interleaved rounds. Not equal: the number formats (binary vs int8; LCE's "
              "first layer and dense layers in float32, see the operator list), and the timing point of binedge's C "
              "rows (in C; the Python rows are the like-for-like comparison).",
              "- LCE on x86: LCE's own interpreter documentation says it is optimized for 64-bit Arm and that on other "
              "architectures (x86 named) it falls back to reference kernels, \"not optimized for speed in any way\"; "
              "its x86 numbers are what its pip wheel does here (four configurations of its interpreter, the fastest "
              "counts), not what it does on an Arm board. LCE 0.16 converts QuantDense layers to float "
              "FULLY_CONNECTED (LceDequantize before them), not to binary dense kernels.",
              "- TFLM runs its reference kernels on x86 (optimized TFLM kernels exist for Arm Cortex-M, Xtensa and "
              "others, not x86): its row shows the portable kernels' cost, not a microcontroller's.",
              "- The int8 twin is a conventional network of the same shape (ReLU instead of sign), not a binary one: "
              "it measures what an int8 deployment of this architecture costs, the comparison issue 16 asks for.",
              "- binedge's numbers depend on the ISA: AVX-512 VPOPCNTDQ on this CPU (the AVX2-only row shows a CPU "
              "without it). XNNPACK and LCE pick their own x86 code paths at run time.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    args.command = " ".join(["python benchmarks/peers.py"] + list(sys.argv[1:] if argv is None else argv))
    from binedge.fileio import atomic_write_bytes, check_output_path

    check_output_path(args.out, "-o", kind="file")
    r = run(args)
    atomic_write_bytes(args.out, format_report(r).encode())
    print(f"wrote {args.out}")
    failed = [t for t in r["timings"] if "error" in t]
    if r["setup"].get("error"):
        print("error: the peers did not run (" + " ".join(r["setup"]["error"].splitlines()[:2])[:600]
              + f"); {args.out} says what failed", file=sys.stderr)
        return 1
    if failed:
        print("error: not every engine ran: " + "; ".join(f"{t['label']}: {t['error']}" for t in failed),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
