"""The C runtime (runtime_c/) through binedge.runtime: bit-exact with binedge.reference, the arena
contract, status codes, the C unit tests, a cross build without libgcc popcount, and a fuzz run."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time

import numpy as np
import pytest
from dags import random_dag, random_inputs
from graphs import _Builder, random_graph, random_images
from test_blob import GOLDEN_INPUTS, GOLDEN_SCORES, fix_crc, golden_expected_bytes, golden_graph

from binedge import blob as B
from binedge import reference
from binedge.graph import Dense, Flatten, Graph, GraphError, Merge, ScoreStage, TensorSpec
from binedge.lstm_deploy import random_lstm_graph
from binedge.runtime import RUNTIME_DIR, Runtime, RuntimeStatusError, build_lock, kernel_table


def make(*args, timeout=120) -> subprocess.CompletedProcess:
    with build_lock():
        return subprocess.run(["make", "-C", str(RUNTIME_DIR), *args], capture_output=True, text=True,
                              timeout=timeout)


def stored_arena(data: bytes) -> int:
    return struct.unpack_from("<I", data, 20)[0]


def check_graph(g: Graph, images: np.ndarray, kernels=("ref", None)) -> Runtime:
    data = B.blob_bytes(g)
    want = reference.run(g, images)
    rt = None
    for kernel in kernels:
        rt = Runtime(data, kernel=kernel)
        got = rt.run(images)
        assert got.dtype == np.int32 and got.shape == want.shape
        assert np.array_equal(got, want), f"kernel {kernel}: C scores differ from the reference"
        assert rt.arena_bytes == stored_arena(data) == B.arena_bytes(g)
    return rt


# ----------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("kind", ["conv", "mlp", "all"])
def test_random_graphs_match_reference(kind):
    for seed in range(150):
        g = random_graph(np.random.default_rng(1000 + seed), kind)
        x = random_images(np.random.default_rng(seed), g, 6)
        check_graph(g, x)


def test_golden_blob():
    rt = Runtime(golden_expected_bytes())
    assert np.array_equal(rt.run(GOLDEN_INPUTS), GOLDEN_SCORES)
    assert np.array_equal(rt.run(GOLDEN_INPUTS[..., 0]), GOLDEN_SCORES)  # (N, H, W) for C = 1
    assert rt.arena_bytes == 64 and rt.input_shape == (3, 3, 1) and rt.num_classes == 3
    assert rt.class_names == ["a", "b", "c"] and rt.op_names == ["c0", "p1", "g2", "t3", "k4", "f5", "d6"]
    assert rt.output_shift == 2 and rt.metadata_json == '{"name":"golden"}'
    assert rt.run(np.zeros((0, 3, 3, 1), np.uint8)).shape == (0, 3)


def test_blob_from_file_and_graph(tmp_path):
    path = tmp_path / "g.bnm"
    B.write_blob(golden_graph(), path)
    assert np.array_equal(Runtime(path).run(GOLDEN_INPUTS), GOLDEN_SCORES)
    assert np.array_equal(Runtime(str(path)).run(GOLDEN_INPUTS), GOLDEN_SCORES)
    assert np.array_equal(Runtime(golden_graph()).run(GOLDEN_INPUTS), GOLDEN_SCORES)


def _hand_graphs():
    """Geometries chosen by hand: wide / odd channels, big strides, asymmetric padding, planes."""
    out = []
    rng = np.random.default_rng(42)
    # u8 -> binary conv -> 65 unsigned channels (L=3: 2 planes), stride (3, 2), pad (2, 0, 1, 3)
    b = _Builder(rng, (11, 9, 3))
    b.conv(65, (3, 2), (3, 2), (2, 0, 1, 1), encoding="unsigned", levels=3, weight_kind="binary")
    b.pool((2, 3), (1, 2))  # unsigned max-pool
    b.conv(33, (3, 1), (1, 1), (1, 1, 0, 0), encoding="sign")  # 65-channel unsigned input
    b.pool((1, 2), (1, 1))  # sign max-pool
    b.flatten()
    b.dense(97, encoding="unsigned", levels=7)  # 3 planes
    b.dense(64, encoding="unsigned", levels=1)
    b.dense(10, scores=True)
    out.append(b.graph)
    # flatten straight on the pixels, u8 dense with binary weights, 1 class
    b = _Builder(rng, (4, 5, 3))
    b.flatten()
    b.dense(1, weight_kind="binary", scores=True)
    out.append(b.graph)
    # one op: int8 dense on (F,) pixels (no intermediate values: arena 0)
    b = _Builder(rng, (100,))
    b.dense(7, weight_kind="int8", scores=True)
    out.append(b.graph)
    # repeated flattens of a flat bit value, 1x1 convs, stride larger than the kernel
    b = _Builder(rng, (7, 7, 1))
    b.conv(32, (1, 1), (3, 3), (0, 0, 0, 0), encoding="sign", weight_kind="int8")
    b.conv(1, (3, 3), (1, 1), (2, 2, 2, 2), encoding="unsigned", levels=5)  # windows mostly padding
    b.flatten()
    b.flatten()
    b.dense(31, encoding="sign")
    b.flatten()
    b.dense(3, scores=True)
    out.append(b.graph)
    # a kernel covering the whole padded input
    b = _Builder(rng, (3, 4, 4))
    b.conv(5, (5, 4), (1, 1), (1, 1, 0, 0), encoding="sign", weight_kind="int8")
    b.conv(3, (1, 1), (1, 1), (0, 0, 0, 0), encoding="sign")
    b.flatten()
    b.dense(2, scores=True)
    out.append(b.graph)
    return out


def test_hand_graphs_match_reference():
    for g in _hand_graphs():
        x = random_images(np.random.default_rng(9), g, 10)
        x[0] = 0
        x[1] = 255
        rt = check_graph(g, x)
        if len(g.ops) == 1:
            assert rt.arena_bytes == 0


# ----------------------------------------------------------------------------- arena, options


def test_arena_too_small():
    for g in [golden_graph()] + [random_graph(np.random.default_rng(s), "all") for s in range(3)]:
        data = B.blob_bytes(g)
        need = stored_arena(data)
        assert need > 0
        for arena in (need - 1, need - 16, 0):
            with pytest.raises(RuntimeStatusError) as ei:
                Runtime(data, arena=arena)
            assert ei.value.name == "BE_ERR_ARENA_TOO_SMALL" and "arena too small" in str(ei.value)
        Runtime(data, arena=need)


def test_kernel_selection(monkeypatch):
    table = kernel_table()
    assert {op for name, op, isa in table if name == "ref"} == {
        "dense", "conv2d", "maxpool2d", "flatten", "avgpool2d", "add", "requantize", "threshold", "concat", "reshape",
        "merge", "lstm"}
    data = golden_expected_bytes()
    assert Runtime(data, kernel="ref").kernel_names() == ["ref"] * 7
    assert len(Runtime(data, kernel="auto").kernel_names()) == 7
    assert np.array_equal(Runtime(data, isa=0).run(GOLDEN_INPUTS), GOLDEN_SCORES)
    with pytest.raises(RuntimeStatusError, match="BE_ERR_UNSUPPORTED"):
        Runtime(data, kernel="no-such-variant")
    monkeypatch.setenv("BINEDGE_KERNEL", "ref")
    assert Runtime(data).kernel_names() == ["ref"] * 7
    monkeypatch.setenv("BINEDGE_KERNEL", "bogus")
    with pytest.raises(RuntimeStatusError, match="BE_ERR_UNSUPPORTED"):
        Runtime(data)


def test_input_validation():
    rt = Runtime(golden_expected_bytes())
    with pytest.raises(ValueError, match="uint8"):
        rt.run(GOLDEN_INPUTS.astype(np.int32))
    with pytest.raises(ValueError, match="shape"):
        rt.run(np.zeros((2, 3, 4, 1), np.uint8))
    assert np.array_equal(rt.run(np.asfortranarray(GOLDEN_INPUTS)), GOLDEN_SCORES)


def test_lean_run_path_equals_checked_path():
    """Runtime.run's lean path (an ndarray of the input dtype and shape, N <= the staging capacity)
    gives the scores of the checked path and of the reference, in a fresh array every call, for
    any strides and both accepted shapes; everything else still takes the checked path."""
    rng = np.random.default_rng(17)
    b = _Builder(rng, (7, 7, 1))  # C == 1: (N, H, W) is accepted too
    b.conv(8, (3, 3), (1, 1), (1, 1, 1, 1), encoding="sign", weight_kind="int8")
    b.flatten()
    b.dense(5, scores=True)
    g = b.graph
    rt = Runtime(B.blob_bytes(g))
    cap = rt._fast_cap
    assert cap >= 2
    images = random_images(rng, g, 2 * cap + 3)
    want = reference.run(g, images)
    for n in (1, 2, cap, cap + 1, 2 * cap + 3):
        x = images[:n]
        for variant in (x, x[..., 0], np.asfortranarray(x), x[::-1][::-1], np.ascontiguousarray(x[:, ::-1])[:, ::-1]):
            got = rt.run(variant)
            assert got.dtype == np.int32 and got.shape == (n, rt.num_classes)
            assert np.array_equal(got, want[:n]) and np.array_equal(rt._run_checked(variant), want[:n])
    a = rt.run(images[:1])
    b2 = rt.run(images[1:2])
    assert not np.shares_memory(a, b2) and np.array_equal(a, want[:1]) and np.array_equal(b2, want[1:2])
    assert rt.run(images[:0]).shape == (0, rt.num_classes)
    class Sub(np.ndarray):
        pass

    assert np.array_equal(rt.run(images[:3].view(Sub)), want[:3])  # not an ndarray itself: the checked path
    # refused as before, by either path
    for bad, match in ((images[:1].astype(np.int8), "dtype uint8"), (images[:1].astype(np.int32), "dtype uint8"),
                       (np.zeros((1, 7, 6, 1), np.uint8), "shape"), (np.zeros((1, 7, 7, 2), np.uint8), "shape"),
                       (np.zeros((7, 7), np.uint8), "shape"), (np.zeros((), np.uint8), "shape"),
                       (np.zeros((1, 49), np.uint8), "shape"), (images[:3].tolist(), "dtype uint8")):
        with pytest.raises(ValueError, match=match):
            rt.run(bad)
    assert np.array_equal(rt.run(images[:2]), want[:2])  # nothing of the refused calls stuck


# ----------------------------------------------------------------------------- errors


def test_corrupt_blobs_give_status():
    good = golden_expected_bytes()
    cases = {
        "BE_ERR_MAGIC": b"XNM1" + good[4:],
        "BE_ERR_TRUNCATED": good[:500],
        "BE_ERR_CRC": good[:300] + bytes([good[300] ^ 4]) + good[301:],
    }
    d = bytearray(good)
    d[4] = 9
    cases["BE_ERR_VERSION"] = bytes(d)
    d = bytearray(good)
    struct.pack_into("<I", d, 1328 + 20, 1656)  # tensor 0 data offset, misaligned
    cases["BE_ERR_ALIGN"] = fix_crc(d)
    d = bytearray(good)
    struct.pack_into("<I", d, 1728, 1 << 7)  # a padding bit of the dense weights (K = 3)
    cases["BE_ERR_FORMAT"] = fix_crc(d)
    for name, data in cases.items():
        with pytest.raises(RuntimeStatusError) as ei:
            Runtime(data)
        assert ei.value.name == name, (name, str(ei.value))
        assert "be_model_init" in str(ei.value)


def _patched_tensor(graph, index: int, values: np.ndarray) -> bytes:
    """The blob of ``graph`` with tensor ``index``'s payload replaced (CRC recomputed): a blob the
    Python writer would refuse to produce, for checking the C loader on its own."""
    data = bytearray(B.blob_bytes(graph))
    _code, _shape, offset, payload = B.layout(graph)["tensors"][index]
    raw = np.ascontiguousarray(values).tobytes()
    assert len(raw) == len(payload)
    data[offset:offset + len(raw)] = raw
    return fix_crc(data)


def test_score_bound_is_proved_at_load():
    """A score stage whose |multiplier| * max|acc| + |offset| may exceed int32 is refused by the
    Python validation and, crafted by hand, by the C loader (BE_ERR_OVERFLOW): no invoke can wrap."""
    g = golden_graph()
    mult = np.array([2**30 + 1, 1, 1], np.int32)
    bad = _patched_tensor(g, len(B.layout(g)["tensors"]) - 2, mult)  # the multiplier tensor
    with pytest.raises(B.BlobError, match="score 0 may reach"):
        B.read_blob(bad)
    with pytest.raises(RuntimeStatusError, match="BE_ERR_OVERFLOW"):
        Runtime(bad)
    g.ops[-1].output.multiplier = mult
    with pytest.raises(GraphError):
        B.blob_bytes(g)


def test_accumulator_bound():
    """max|x| * sum_k |w_k| > 2**31 - 1 is refused at init (int32 accumulators); at the edge it runs."""
    k = 65794
    w = np.full((1, k), -128, np.int8)
    w[0, 0] = 0  # sum |w| = 128 * 65793: 255 * that = 2,147,483,520 <= 2**31 - 1
    g = Graph(TensorSpec("u8", (k,)), [Dense(w, k, 1, ScoreStage.identity(1), "int8")])
    x = np.full((1, k), 255, np.uint8)
    assert Runtime(g).run(x)[0, 0] == reference.run(g, x)[0, 0] == -255 * 128 * (k - 1)
    w2 = w.copy()
    w2[0, 0] = -1  # one more: 2,147,483,775 > 2**31 - 1
    bad = _patched_tensor(g, 0, w2)
    with pytest.raises(RuntimeStatusError, match="BE_ERR_OVERFLOW"):
        Runtime(bad)
    with pytest.raises(B.BlobError, match="accumulator may reach"):
        B.read_blob(bad)


def test_too_many_ops():
    ops = [Flatten(f"f{i}") for i in range(64)] + [Dense(np.zeros((2, 1), np.int8), 5, 2, ScoreStage.identity(2),
                                                          "int8")]
    ops[-1].weights = np.zeros((2, 5), np.int8)
    g = Graph(TensorSpec("u8", (5,)), ops)
    B.read_blob(B.blob_bytes(g))  # a valid blob ...
    with pytest.raises(RuntimeStatusError, match="BE_ERR_UNSUPPORTED"):  # ... beyond BE_MAX_OPS = 64
        Runtime(g)
    g.ops = ops[1:]
    assert Runtime(g).run(np.ones((1, 5), np.uint8)).shape == (1, 2)


@pytest.mark.parametrize("base", ["chain", "dag-merge-threshold", "dag-merge-round"])
def test_python_and_c_readers_agree(base):
    """Mutated blobs (CRC fixed): whatever the strict Python reader accepts, the C reader accepts
    and runs with the reference's scores; whatever C rejects, Python rejects. Bases: a chain, and
    DAGs with a Merge of accumulators into bits / of codes and accumulators into int8."""
    rng = np.random.default_rng(5)
    if base == "chain":
        g0 = random_graph(np.random.default_rng(11), "all")
        x = random_images(np.random.default_rng(12), g0, 3)
    else:
        g0 = random_dag(np.random.default_rng(901 if base == "dag-merge-threshold" else 904))
        assert any(isinstance(op, Merge) for op in g0.ops)
        x = random_inputs(np.random.default_rng(12), g0, 3)
    base = B.blob_bytes(g0)
    accepted = 0
    for _ in range(400):
        d = bytearray(base)
        for _ in range(int(rng.integers(1, 3))):
            pos = int(rng.integers(12, len(d)))
            d[pos] ^= 1 << int(rng.integers(8))
        data = fix_crc(d)
        try:
            g = B.read_blob(data)
        except B.BlobError:
            g = None
        try:
            rt = Runtime(data, kernel="ref")
        except RuntimeStatusError:
            assert g is None, "the C reader rejected a blob the Python reader accepts"
            continue
        if g is not None:
            accepted += 1
            try:
                want = reference.run(g, x)
            except OverflowError:
                with pytest.raises(RuntimeStatusError, match="BE_ERR_OVERFLOW"):
                    rt.run(x)
                continue
            assert np.array_equal(rt.run(x), want)
    assert accepted > 50


# ----------------------------------------------------------------------------- C side


def test_c_unit_tests():
    proc = make("test")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all C tests passed" in proc.stdout


def fuzz_seeds(directory) -> list:
    """Seed blobs of the structural fuzzer: the golden blob, the trained test blobs, random chain
    graphs (odd channel counts, multi-word rows, strides, asymmetric padding), random DAGs and
    random recurrent (LSTM) graphs."""
    blobs = {"golden": golden_expected_bytes()}
    for f in sorted((RUNTIME_DIR.parent / "tests" / "data").glob("*.bnm")):
        blobs[f.stem] = f.read_bytes()
    for i in range(12):
        kind = ("conv", "mlp", "all")[i % 3]
        channels = (33, 65, 129) if i >= 9 else (1, 3, 8, 31, 32, 33)
        blobs[f"random{i}-{kind}"] = B.blob_bytes(random_graph(np.random.default_rng(500 + i), kind, channels=channels))
    blobs["hand"] = B.blob_bytes(_hand_graphs()[0])
    for i in range(6):  # typed DAGs: int8 codes, residual adds, pooling, concat, thresholds
        blobs[f"dag{i}"] = B.blob_bytes(random_dag(np.random.default_rng(900 + i)))
    for i in range(3):  # recurrent: character id -> LSTM layers (state in the arena) -> int8 Dense scores
        g = random_lstm_graph(np.random.default_rng(950 + i), (7, 101, 256)[i], (5, 33, 3)[i], 1 + i % 2,
                              saturate=i == 1)
        blobs[f"lstm{i}"] = B.blob_bytes(g)
    paths = []
    for name, data in blobs.items():
        path = directory / f"{name}.bnm"
        path.write_bytes(data)
        paths.append(path)
    return paths


def run_fuzzer(seeds, n: int, seed: int, timeout: float) -> str:
    proc = make("fuzz", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    exe = RUNTIME_DIR / "build" / "fuzz_blobs"
    run = subprocess.run([str(exe), "-n", str(n), "-s", str(seed), *map(str, seeds)], capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, f"fuzz_blobs failed\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    return run.stdout


def test_fuzz_blobs_every_variant_equals_ref(tmp_path):
    """The structural fuzzer (runtime_c/tests/fuzz_blobs.c, docs/fuzzing.md) under ASan + UBSan:
    20,000 mutated blobs (extreme fields, consistent geometry changes, new weights and thresholds,
    truncation, misplacement), every accepted one run with every kernel variant on inputs at odd
    addresses and against a guard page: no crash, no sanitizer report, every variant == ref."""
    out = run_fuzzer(fuzz_seeds(tmp_path), 20000, 1, timeout=600)
    m = re.search(r"(\d+) blobs, (\d+) accepted, (\d+) invoked, (\d+) variant runs .* (\d+) mismatches", out)
    assert m, out
    blobs, accepted, invoked, runs, mismatches = map(int, m.groups())
    assert blobs == 20000 and mismatches == 0, out
    big = int(re.search(r"\((\d+) too big", out).group(1))
    assert accepted >= 2000 and invoked == 2 * (accepted - big) and runs >= invoked, out  # not a vacuous run
    geometry = re.search(r"geometry (\d+)/(\d+)", out)
    assert geometry and int(geometry.group(2)) >= 300, out  # geometry changes the loader accepted ran too


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4"])
def test_cortex_m_build_has_no_libgcc_popcount(tmp_path, cpu):
    """The Makefile cross-builds the static library; no __popcountsi2 / float helpers are referenced."""
    assert shutil.which("arm-none-eabi-gcc"), ("arm-none-eabi-gcc is missing: run scripts/bootstrap.sh (or "
                                               "apt-get install gcc-arm-none-eabi)")
    build = tmp_path / cpu
    proc = subprocess.run(["make", "-C", str(RUNTIME_DIR), "lib", "CC=arm-none-eabi-gcc", "AR=arm-none-eabi-ar",
                           f"CFLAGS=-mcpu={cpu} -mthumb -O2", f"BUILD={build}"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    nm = subprocess.run(["arm-none-eabi-nm", "-u", str(build / "libbinedge.a")], capture_output=True, text=True)
    undefined = set(nm.stdout.split()) - {"U"}
    assert not any("popcount" in s for s in undefined), sorted(undefined)
    assert not any(s.startswith(("__aeabi_f", "__aeabi_d")) for s in undefined), sorted(undefined)
    assert os.path.getsize(build / "libbinedge.a") > 0


# ----------------------------------------------------------------------------- typed DAGs


VARIANTS = sorted({name for name, _op, isa in kernel_table()})


@pytest.mark.parametrize("seed", range(24))
def test_random_dags_every_variant_equals_reference(seed):
    """Random DAGs (tests/dags.py: int8 codes with zero points, residual adds at other scales,
    grouped / depthwise int8 convs, pooling, concat, thresholds, u8 / i8 inputs) through the C
    runtime with automatic dispatch and every variant forced: the reference's scores exactly."""
    rng = np.random.default_rng(seed)
    g = random_dag(rng, input_kind=("u8", "i8")[seed % 2], image=seed % 4 != 3)
    x = random_inputs(rng, g, 4)
    want = reference.run(g, x)
    for kernel in ["auto"] + VARIANTS:
        try:
            rt = Runtime(g, kernel=kernel)
        except RuntimeStatusError as e:  # a variant whose ISA this CPU lacks
            assert e.name == "BE_ERR_UNSUPPORTED" and kernel != "ref"
            continue
        assert np.array_equal(rt.run(x), want), kernel
    assert Runtime(g).input_dtype == g.input.storage_dtype()
