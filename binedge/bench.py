"""Host benchmark: the C runtime against onnxruntime at batch 1 on one thread, and a binary-GEMM
kernel microbenchmark against the CPU's popcount-bound peak (``binedge bench``,
``benchmarks/bench_host.py``; the report is ``benchmarks/host.md``).

What is measured, in one run:

* per model, the median latency of one sample (batch 1, one thread) of
    - the C runtime with the reference kernels and with automatic dispatch restricted to each
      x86 ISA level this CPU has (``isa=`` mask: POPCNT; POPCNT+AVX2; everything detected) --
      what a CPU with exactly that ISA runs; timed in C around each ``be_invoke``
      (``be_bench_invoke`` in runtime_c/src/be_bench.c, no ctypes overhead);
    - onnxruntime on the bit-packed ONNX (``export_onnx``) and on the float ONNX
      (``export_onnx(packed=False)``: ±1 float32 weights, what other exporters write), one
      intra-op and one inter-op thread, default graph optimisations; timed in Python around
      ``InferenceSession.run`` (so it includes the Python binding's per-call cost, reported
      separately as the latency of a one-node ONNX model on the same input);
    - LiteRT (``ai_edge_litert`` Interpreter, its default XNNPACK delegate, one thread) on the
      .tflite file (``export_tflite``: int8 ±1 weights DEQUANTIZE'd to float32 once); timed in
      Python around ``set_tensor`` + ``invoke`` + ``get_tensor``, like the ORT rows.
  Configurations are measured in interleaved rounds (the host may be shared), every call timed
  on its own; the median over all calls is reported, with the minimum.
* the binary GEMM kernels (x: M rows of K sign bits, w: N rows, sign-threshold output) through
  each variant's Dense kernel (M = 1) or 1x1 Conv2d kernel (M > 1, the M rows are pixels), as
  binary MACs (M * N * K) per second and per cycle;
* the clock (a chain of dependent 64-bit adds, one cycle each; best of several runs) and the
  popcount-bound peak: VPOPCNTQ zmm per cycle measured with 12 independent chains, times 512
  binary MACs per instruction; also the ceiling of the XOR + VPOPCNTQ + VPADDQ triple every
  kernel needs per 512 bits (measured from registers, no loads).

Every score is checked against binedge.reference.run on the timing input before timing.

The report follows binedge's output rule (binedge.fileio): its location is checked before the
benchmark starts, it is written atomically with the usual mode (0666 & ~umask), and temporary
files a killed run left beside it are removed.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import reference
from .graph import Graph
from .inspect import layer_table, totals

ISA_POPCNT, ISA_AVX2, ISA_AVX512 = 0x1, 0x2, 0x4  # BE_ISA_* (binedge.h)
GEMM_SHAPES = [(m, k, 1024) for m in (1, 8, 64) for k in (4096, 8192, 16384)]


# ----------------------------------------------------------------------------- C entry points


def _bench_lib():
    from .runtime import library

    lib = library()
    vp, u32, u64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64
    lib.be_bench_invoke.restype = ctypes.c_int
    lib.be_bench_invoke.argtypes = [vp, vp, vp, u32, vp]
    lib.be_bench_ops.restype = ctypes.c_int
    lib.be_bench_ops.argtypes = [vp, vp, vp, u32, vp]
    lib.be_bench_gemm.restype = ctypes.c_int
    lib.be_bench_gemm.argtypes = [ctypes.c_char_p, u32, u32, u32, u32, vp, vp, vp, vp, vp, vp, u32, vp,
                                  ctypes.POINTER(ctypes.c_char_p)]
    for name in ("be_bench_clock_ns", "be_bench_vpopcnt_ns", "be_bench_popcnt64_ns", "be_bench_xorpop_ns"):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = u64, [u64]
    return lib


def isa_variants() -> list[tuple[str, int]]:
    """The ISA-specific kernel variants of the C kernel table (the one place their names are
    listed), narrowest ISA first: [(name, required ISA bits), ...], e.g. popcnt, avx2, avx512."""
    from .runtime import kernel_table

    isa: dict[str, int] = {}
    for name, _op, bits in kernel_table():
        isa[name] = isa.get(name, 0) | bits
    return sorted(((n, b) for n, b in isa.items() if b), key=lambda nb: nb[1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        else:
            name = platform.processor() or "unknown"
        fam = mod = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu family") and not fam:
                fam = line.split(":", 1)[1].strip()
            if line.startswith("model\t") and not mod:
                mod = line.split(":", 1)[1].strip()
        return f"{name} (family {fam}, model {mod}), {os.cpu_count()} logical CPUs"
    except OSError:
        return platform.processor() or "unknown"


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    try:
        out = subprocess.run([cc.split()[0], "--version"], capture_output=True, text=True, timeout=10).stdout
        return f"{cc}: {out.splitlines()[0]}" if out else cc
    except (OSError, subprocess.SubprocessError):
        return cc


def isa_names(bits: int) -> str:
    names = {ISA_POPCNT: "POPCNT", ISA_AVX2: "AVX2", ISA_AVX512: "AVX-512 F/BW/VPOPCNTDQ", 0x8: "AVX-512 BITALG"}
    return ", ".join(v for k, v in names.items() if bits & k) or "none"


@dataclass
class Machine:
    cpu: str
    compiler: str
    isa: int
    clock_hz: float
    vpopcnt_per_cycle: float | None
    xorpop_per_cycle: float | None
    popcnt64_per_cycle: float | None

    @property
    def peak_macs_per_cycle(self) -> float | None:
        """Popcount-bound peak: VPOPCNTQ zmm per cycle x 512 binary MACs per instruction."""
        return None if self.vpopcnt_per_cycle is None else self.vpopcnt_per_cycle * 512


def measure_machine(quick: bool = False) -> Machine:
    lib = _bench_lib()
    isa = int(lib.be_isa_detect())
    n = 2_000_000 if not quick else 500_000
    reps = 15 if not quick else 5
    clock = max(16 * n / lib.be_bench_clock_ns(n) for _ in range(reps)) * 1e9  # best of: least disturbed

    def rate(fn, per_iter):
        best = min(fn(n // 4) for _ in range(reps))
        return None if best == 0 else per_iter * (n // 4) / (best * 1e-9 * clock)

    vpop = rate(lib.be_bench_vpopcnt_ns, 12) if isa & ISA_AVX512 else None
    xorpop = rate(lib.be_bench_xorpop_ns, 8) if isa & ISA_AVX512 else None
    pop64 = rate(lib.be_bench_popcnt64_ns, 8) if isa & ISA_POPCNT else None
    return Machine(cpu_model(), compiler(), isa, clock, vpop, xorpop, pop64)


# ----------------------------------------------------------------------------- model latency


@dataclass
class Timing:
    label: str
    detail: str = ""
    samples: list = field(default_factory=list)  # ns per call

    @property
    def median_us(self) -> float:
        return float(np.median(self.samples)) / 1e3

    @property
    def min_us(self) -> float:
        return float(np.min(self.samples)) / 1e3


class _CRunner:
    def __init__(self, graph: Graph, x: np.ndarray, kernel=None, isa=None):
        from .runtime import Runtime

        self.lib = _bench_lib()
        self.rt = Runtime(graph, kernel=kernel, isa=isa)
        self.x = np.ascontiguousarray(x[0])
        self.out = np.zeros(self.rt.num_classes, np.int32)
        self.scores = self.rt.run(x)

    def time(self, iters: int) -> list:
        ns = np.zeros(iters, np.uint64)
        st = self.lib.be_bench_invoke(self.rt._interp, self.x.ctypes.data, self.out.ctypes.data, iters, ns.ctypes.data)
        if st != 0:
            raise RuntimeError(f"be_bench_invoke failed with status {st}")
        return [int(v) for v in ns]


def op_medians(runner: "_CRunner", iters: int) -> list[float]:
    """Median µs of each op over `iters` invokes (be_bench_ops: the clock read on entry to and exit
    from every op, the work exactly be_invoke's), the first tenth of the invokes dropped (warm-up)."""
    n_ops = len(runner.rt.op_names)
    ns = np.zeros((iters, n_ops), np.uint64)
    st = runner.lib.be_bench_ops(runner.rt._interp, runner.x.ctypes.data, runner.out.ctypes.data, iters,
                                 ns.ctypes.data)
    if st != 0:
        raise RuntimeError(f"be_bench_ops failed with status {st}")
    return [float(v) / 1000.0 for v in np.median(ns[iters // 10:], axis=0)]


class _OrtRunner:
    def __init__(self, path, x: np.ndarray, output="scores"):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(os.fspath(path), so, providers=["CPUExecutionProvider"])
        self.output = output
        self.feed = {self.sess.get_inputs()[0].name: np.ascontiguousarray(x[:1])}
        self.scores = self.sess.run([output], self.feed)[0]

    def time(self, iters: int) -> list:
        run, feed, out, clock = self.sess.run, self.feed, [self.output], time.perf_counter_ns
        samples = []
        for _ in range(iters):
            t0 = clock()
            run(out, feed)
            samples.append(clock() - t0)
        return samples


class _LiteRunner:
    def __init__(self, path, x: np.ndarray):
        from .export_tflite import INPUT_NAME, OUTPUT_NAME, load_tflite_checked, make_interpreter

        self.interp = make_interpreter(load_tflite_checked(path).content, num_threads=1)
        self.interp.allocate_tensors()  # batch 1: the file's static shape
        self.inp = next(d["index"] for d in self.interp.get_input_details() if d["name"] == INPUT_NAME)
        self.out = next(d["index"] for d in self.interp.get_output_details() if d["name"] == OUTPUT_NAME)
        self.x = np.ascontiguousarray(x[:1])
        self.time(1)
        self.scores = self.interp.get_tensor(self.out)

    def time(self, iters: int) -> list:
        it, x, inp, out, clock = self.interp, self.x, self.inp, self.out, time.perf_counter_ns
        samples = []
        for _ in range(iters):
            t0 = clock()
            it.set_tensor(inp, x)
            it.invoke()
            it.get_tensor(out)
            samples.append(clock() - t0)
        return samples


def _identity_onnx(path, shape) -> None:
    import onnx
    from onnx import TensorProto, helper

    inp = helper.make_tensor_value_info("images", TensorProto.UINT8, [1, *shape])
    out = helper.make_tensor_value_info("out", TensorProto.UINT8, [1, *shape])
    g = helper.make_graph([helper.make_node("Identity", ["images"], ["out"])], "identity", [inp], [out])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.save(model, os.fspath(path))


def _interleaved(runners: dict, budget_s: float, rounds: int) -> dict:
    """Time every runner in `rounds` interleaved rounds of about budget_s / rounds seconds each."""
    per_call = {}
    for name, r in runners.items():  # warm up and size the rounds
        t0 = time.perf_counter()
        r.time(3)
        per_call[name] = max((time.perf_counter() - t0) / 3, 1e-7)
    samples = {name: [] for name in runners}
    for _ in range(rounds):
        for name, r in runners.items():
            iters = int(min(5000, max(3, budget_s / rounds / per_call[name])))
            samples[name].extend(r.time(iters))
    return samples


def bench_model(name: str, graph: Graph, x: np.ndarray, machine: Machine, workdir, budget_s: float = 1.5,
                rounds: int = 6) -> dict:
    from .export_onnx import export_onnx

    want = reference.run(graph, x)
    runners, details = {}, {}
    runners["C ref"] = _CRunner(graph, x, kernel="ref")
    details["C ref"] = "reference kernels (the C spec)"
    mask = 0
    for tier, need in isa_variants():  # ISA levels: automatic dispatch restricted to the ISA up to each
        mask |= need
        if need & ~machine.isa:
            continue
        r = _CRunner(graph, x, isa=mask)
        label = f"C {tier}"
        runners[label] = r
        details[label] = f"auto dispatch, ISA {isa_names(mask)}: " + " ".join(r.rt.kernel_names())
    packed = Path(workdir) / f"{name}.packed.onnx"
    plain = Path(workdir) / f"{name}.float.onnx"
    export_onnx(graph, packed)
    export_onnx(graph, plain, packed=False)
    runners["ORT bit-packed ONNX"] = _OrtRunner(packed, x)
    details["ORT bit-packed ONNX"] = f"{packed.stat().st_size:,} B"
    runners["ORT float ONNX"] = _OrtRunner(plain, x)
    details["ORT float ONNX"] = f"{plain.stat().st_size:,} B"
    from .export_tflite import export_tflite

    lite = Path(workdir) / f"{name}.tflite"
    export_tflite(graph, lite)
    runners["LiteRT .tflite"] = _LiteRunner(lite, x)
    details["LiteRT .tflite"] = f"{lite.stat().st_size:,} B; XNNPACK delegate, 1 thread; int8 ±1 weights"
    ident = Path(workdir) / "identity.onnx"
    _identity_onnx(ident, graph.input.shape)
    runners["ORT call overhead"] = _OrtRunner(ident, x, output="out")
    details["ORT call overhead"] = "one Identity node on the same input: the per-call cost of the binding"
    for label, r in runners.items():
        if label != "ORT call overhead" and not np.array_equal(r.scores, want):
            raise AssertionError(f"{name}: {label} scores differ from binedge.reference.run")
    samples = _interleaved(runners, budget_s, rounds)
    rows = totals(layer_table(graph))
    op_iters = 300 if budget_s >= 1.0 else 60
    per_op = {k: (r.rt.kernel_names(), op_medians(r, op_iters))
              for k, r in runners.items() if k.startswith("C ") and k != "C ref"}
    return {"name": name, "timings": [Timing(k, details[k], v) for k, v in samples.items()],
            "binary_macs": rows["binary_macs"], "macs": rows["macs"], "ops": len(graph.ops),
            "op_names": list(runners["C ref"].rt.op_names), "per_op": per_op, "op_iters": op_iters}


# ----------------------------------------------------------------------------- GEMM microbenchmark


def bench_gemm(machine: Machine, shapes=GEMM_SHAPES, variants=None, budget_s: float = 0.25,
               seed: int = 0) -> list[dict]:
    lib = _bench_lib()
    rng = np.random.default_rng(seed)
    need = dict(isa_variants())
    variants = list(need) if variants is None else variants
    out = []
    for m, k, n in shapes:
        kw = (k + 31) // 32
        x = rng.integers(0, 2**32, size=(m, kw), dtype=np.uint64).astype(np.uint32)
        w = rng.integers(0, 2**32, size=(n, kw), dtype=np.uint64).astype(np.uint32)
        thr = rng.integers(-64, 65, size=n).astype(np.int32)
        direction = rng.choice(np.array([-1, 1], np.int8), size=n)
        results = {}
        for v in variants:
            if not machine.isa & need[v]:
                continue
            y = np.zeros((m, (n + 31) // 32), np.uint32)
            scratch = np.zeros(kw * 4 + 64, np.uint8)
            name = ctypes.c_char_p()
            ns = np.zeros(2, np.uint64)
            args = (v.encode(), 0xFFFFFFFF, m, k, n, x.ctypes.data, w.ctypes.data, thr.ctypes.data,
                    direction.ctypes.data, y.ctypes.data, scratch.ctypes.data)
            st = lib.be_bench_gemm(*args, 2, ns.ctypes.data, ctypes.byref(name))
            if st != 0:
                raise RuntimeError(f"be_bench_gemm {v} {m}x{k}x{n}: status {st}")
            iters = int(min(2000, max(5, budget_s / max(float(ns[1]) * 1e-9, 1e-7))))
            ns = np.zeros(iters, np.uint64)
            lib.be_bench_gemm(*args, iters, ns.ctypes.data, ctypes.byref(name))
            results[v] = (name.value.decode(), y.copy(), float(np.median(ns)), float(np.min(ns)))
        # every variant computes the same bits (the same integer program)
        ys = [r[1] for r in results.values()]
        assert all(np.array_equal(ys[0], y) for y in ys[1:]), f"GEMM {m}x{k}x{n}: variants disagree"
        macs = m * n * k
        for v, (kname, _, med, best) in results.items():
            per_s = macs / (med * 1e-9)
            row = {"m": m, "k": k, "n": n, "variant": v, "kernel": kname, "op": "Dense" if m == 1 else "Conv2d 1x1",
                   "median_us": med / 1e3, "min_us": best / 1e3, "gmacs_per_s": per_s / 1e9,
                   "macs_per_cycle": per_s / machine.clock_hz}
            if machine.peak_macs_per_cycle:
                row["pct_peak"] = 100 * row["macs_per_cycle"] / machine.peak_macs_per_cycle
            out.append(row)
    return out


# ----------------------------------------------------------------------------- models, report


def default_models(data_dir=None) -> dict:
    """The VGG-style fully binary convnet and the 784-1024-1024-1024-10 MLP (random weights, eval
    mode, lowered), plus every trained blob in tests/data/*.bnm."""
    import torch

    from .blob import read_blob
    from .lower import lower
    from .models import ModelConfig, build_model

    torch.manual_seed(0)
    models = {}
    vgg = build_model(ModelConfig(model="vgg", weights="lab", activation="sign", widths=[32, 64, 128], fc=256))
    models["vgg (random weights)"] = lower(vgg.eval(), (28, 28, 1))
    mlp = build_model(ModelConfig(model="mlp", weights="lab", activation="sign", hidden=1024, depth=3))
    models["mlp 784-1024x3-10 (random weights)"] = lower(mlp.eval(), (28, 28, 1))
    data_dir = Path(data_dir) if data_dir else Path(__file__).resolve().parent.parent / "tests" / "data"
    for path in sorted(data_dir.glob("*.bnm")) if data_dir.is_dir() else []:
        models[f"{path.name} (trained)"] = read_blob(path)
    return models


def _input(graph: Graph, seed: int = 0) -> np.ndarray:
    try:
        from .data import load_dataset

        ds = load_dataset("fashion-mnist")
        x = ds.test.images[:1][..., None]
        if tuple(x.shape[1:]) == tuple(graph.input.shape):
            return np.ascontiguousarray(x)
        if x.size == int(np.prod(graph.input.shape)):
            return np.ascontiguousarray(x.reshape((1,) + tuple(graph.input.shape)))
    except Exception:  # noqa: BLE001 - any dataset problem: fall back to random pixels
        pass
    return np.random.default_rng(seed).integers(0, 256, size=(1,) + tuple(graph.input.shape), dtype=np.uint8)


def run_benchmark(out_md=None, *, quick: bool = False, data_dir=None, command: str | None = None,
                  log=print) -> dict:
    """Run everything, write the Markdown report to out_md (if given) and return the results.
    ``out_md`` is checked before the benchmark starts (a parent that is a file, a read-only
    directory: binedge.fileio.OutputError) and written atomically with the usual mode."""
    from .fileio import atomic_write_bytes, check_output_path, clean_stale_files

    if out_md:
        check_output_path(out_md, "-o", kind="file")
        clean_stale_files(Path(out_md).parent, Path(out_md).name)  # what a killed run left
    t0 = time.time()
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    log("measuring clock and popcount peak ...")
    machine = measure_machine(quick)
    models = default_models(data_dir)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, graph) in enumerate(models.items()):
            log(f"model {name} ...")
            x = _input(graph)
            results.append(bench_model(f"m{i}", graph, x, machine, tmp, budget_s=0.5 if quick else 2.0,
                                       rounds=3 if quick else 8) | {"name": name})
    log("binary GEMM microbenchmark ...")
    shapes = GEMM_SHAPES if not quick else [(1, 4096, 1024), (64, 16384, 1024)]
    gemm = bench_gemm(machine, shapes, budget_s=0.1 if quick else 0.4)
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    report = {"machine": machine, "models": results, "gemm": gemm, "seconds": time.time() - t0,
              "load": (load0, load1), "command": command or " ".join(sys.argv), "quick": quick}
    if out_md:
        atomic_write_bytes(out_md, format_report(report).encode())
        log(f"wrote {out_md}")
    return report


def _fmt(v: float) -> str:
    return f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def format_report(r: dict) -> str:
    import onnxruntime

    m: Machine = r["machine"]
    ghz = m.clock_hz / 1e9
    lines = [
        "# Host benchmark: C runtime vs onnxruntime, binary GEMM kernels",
        "",
        f"Written by `benchmarks/bench_host.py` (`binedge/bench.py`) on {datetime.date.today().isoformat()}, "
        f"{r['seconds']:.0f} s.",
        "",
        f"- command: `{r['command']}`" + (" (quick mode: fewer iterations and shapes)" if r["quick"] else ""),
        f"- CPU: {m.cpu}; ISA used by the runtime: {isa_names(m.isa)}",
        f"- compiler: {m.compiler}, flags `-O2` + `-std=c99 -Wall -Wextra -Werror -pedantic` "
        "(runtime_c/Makefile); x86 variants compiled per function with `__attribute__((target(...)))`",
        f"- onnxruntime {onnxruntime.__version__} (CPUExecutionProvider, 1 intra-op + 1 inter-op thread, "
        f"default graph optimisations); Python {platform.python_version()}, numpy {np.__version__}",
        f"- LiteRT (ai-edge-litert {_litert_version()}): `Interpreter`, default XNNPACK delegate, 1 thread, "
        "on the .tflite of `binedge.export_tflite` (docs/tflite.md)",
        f"- clock: **{ghz:.2f} GHz measured** (chain of dependent 64-bit adds, 1 cycle each, best of 15 runs); "
        "all per-cycle numbers below use it",
    ]
    if r["load"][0] is not None:
        lines.append(f"- load average at start / end: {r['load'][0][0]:.2f} / {r['load'][1][0]:.2f} "
                     f"(the host is shared: other processes compete for the cores, so expect noise of "
                     f"10-20 %; every configuration is measured in interleaved rounds to share it fairly)")
    lines += ["", "## Latency at batch 1, one thread", "",
              "Median (and minimum) over all calls; C timed in C around each `be_invoke` "
              "(`be_bench_invoke`), onnxruntime timed in Python around `InferenceSession.run`, LiteRT "
              "around `set_tensor` + `invoke` + `get_tensor`. "
              "Speedups are ratios of medians. Scores of every configuration were checked equal to "
              "`binedge.reference.run` first.", ""]
    for res in r["models"]:
        tim = {t.label: t for t in res["timings"]}
        flt, pk = tim["ORT float ONNX"].median_us, tim["ORT bit-packed ONNX"].median_us
        lines += [f"### {res['name']}", "",
                  f"{res['ops']} ops, {res['binary_macs']:,} binary MACs of {res['macs']:,} MACs.", "",
                  "| configuration | median µs | min µs | vs float ONNX | vs bit-packed ONNX | binary MACs / cycle | kernels |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for t in res["timings"]:
            if t.label == "ORT call overhead":
                continue
            mpc = res["binary_macs"] / (t.median_us * 1e-6) / m.clock_hz
            lines.append(f"| {t.label} | {_fmt(t.median_us)} | {_fmt(t.min_us)} | {flt / t.median_us:.1f}x | "
                         f"{pk / t.median_us:.1f}x | {mpc:,.0f} | {t.detail} |")
        ov = tim["ORT call overhead"]
        lines += ["", f"onnxruntime's per-call cost (one Identity node on the same input): median "
                  f"{_fmt(ov.median_us)} µs; it is included in the ORT rows.", ""]
        if res.get("per_op"):
            tiers = list(res["per_op"])
            n = res["op_iters"]
            lines += [f"Per op (`be_bench_ops`, median µs of {n - n // 10} invokes after the first {n // 10}; "
                      "kernel in brackets), for each ISA tier of automatic dispatch:", "",
                      "| op | " + " | ".join(tiers) + " |", "|---|" + "---:|" * len(tiers)]
            for i, op in enumerate(res["op_names"]):
                cells = [f"{_fmt(res['per_op'][t][1][i])} ({res['per_op'][t][0][i]})" for t in tiers]
                lines.append(f"| {i} {op} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += ["## Binary GEMM kernels", "",
              "x: M rows of K sign bits, w: N = 1024 rows of K bits, output: N sign bits per row through "
              "a threshold; M = 1 runs the variant's Dense kernel, M > 1 its 1x1 Conv2d kernel (the M rows "
              "are pixels); binary MACs = M x N x K. Timed in C per call (`be_bench_gemm`), median. "
              "The variants' outputs were checked equal to each other.", ""]
    if m.peak_macs_per_cycle:
        lines += [f"**Popcount-bound peak**: VPOPCNTQ zmm measured at {m.vpopcnt_per_cycle:.2f} per cycle "
                  f"(12 independent chains, no loads) x 512 binary MACs per instruction = "
                  f"**{m.peak_macs_per_cycle:,.0f} binary MACs / cycle** "
                  f"({m.peak_macs_per_cycle * m.clock_hz / 1e9:,.0f} G/s at {ghz:.2f} GHz). "
                  f"A kernel needs XOR + VPOPCNTQ + ADD per 512 bits: that triple, measured from registers, "
                  f"runs at {m.xorpop_per_cycle:.2f} per cycle = {m.xorpop_per_cycle * 512:,.0f} MACs / cycle "
                  f"({100 * m.xorpop_per_cycle / m.vpopcnt_per_cycle:.0f} % of the peak): the ALU ceiling "
                  f"of this formulation on this core. Scalar POPCNT r64: {m.popcnt64_per_cycle:.2f} per cycle "
                  f"(= {m.popcnt64_per_cycle * 64:,.0f} MACs / cycle).", ""]
    lines += ["| M | K | N | variant | kernel | median µs | G binary MACs/s | MACs / cycle | % of popcount peak |",
              "|---:|---:|---:|---|---|---:|---:|---:|---:|"]
    for g in r["gemm"]:
        pct = f"{g['pct_peak']:.0f} %" if "pct_peak" in g else "-"
        lines.append(f"| {g['m']} | {g['k']} | {g['n']} | {g['variant']} | {g['op']} ({g['kernel']}) | "
                     f"{_fmt(g['median_us'])} | {g['gmacs_per_s']:,.0f} | {g['macs_per_cycle']:,.0f} | {pct} |")
    lines += ["", "## Goals", ""]
    lines += _goals(r)
    return "\n".join(lines) + "\n"


def _litert_version() -> str:
    try:
        from importlib.metadata import version

        return version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - only a label
        return "?"


def _goals(r: dict) -> list[str]:
    out = []
    m: Machine = r["machine"]
    for res in r["models"]:
        if not res["name"].startswith("vgg"):
            continue
        tim = {t.label: t for t in res["timings"]}
        best = min((t for t in res["timings"] if t.label.startswith("C ") and t.label != "C ref"),
                   key=lambda t: t.median_us, default=None)
        if best:
            ratio = tim["ORT float ONNX"].median_us / best.median_us
            out.append(f"- Fully binary convnet ({res['name']}) at batch 1 >= 20x faster than onnxruntime on the "
                       f"float ONNX: **{ratio:.1f}x** ({best.label}: {_fmt(best.median_us)} µs vs "
                       f"{_fmt(tim['ORT float ONNX'].median_us)} µs) -- "
                       + ("met." if ratio >= 20 else "NOT met."))
    big = [g for g in r["gemm"] if g["variant"] == "avx512" and g["m"] > 1 and "pct_peak" in g]
    if big:
        top = max(big, key=lambda g: g["m"] * g["k"])
        best = max(big, key=lambda g: g["pct_peak"])
        out.append(f"- Binary GEMM on AVX-512 >= 50 % of the popcount-bound peak on large shapes: "
                   f"**{top['pct_peak']:.0f} %** at M={top['m']}, K={top['k']}, N={top['n']} "
                   f"(best {best['pct_peak']:.0f} % at M={best['m']}, K={best['k']}); the XOR + POPCNT + ADD "
                   f"ceiling is {100 * m.xorpop_per_cycle / m.vpopcnt_per_cycle:.0f} % -- "
                   + ("met." if top["pct_peak"] >= 50 else "NOT met."))
    elif not m.isa & ISA_AVX512:
        out.append("- AVX-512 VPOPCNTDQ not available on this CPU: the GEMM goal was not measured.")
    return out
