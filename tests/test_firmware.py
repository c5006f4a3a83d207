"""Firmware projects (`binedge export --target`, binedge.firmware) and `binedge emulate`.

Every firmware is built with its target's real toolchain and run on its target (Cortex-M
under qemu-system-arm with -icount, x86_64 natively); the scores must equal
binedge.reference.run bit for bit. A missing compiler or QEMU is a failure naming the
Debian package (binedge.targets.ToolchainError), never a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_checks import clean_error
from click.testing import CliRunner
from dags import random_dag, random_inputs
from graphs import random_graph, random_images

from binedge import emulate as E
from binedge import reference
from binedge import targets as T
from binedge.blob import read_blob
from binedge.cli import main
from binedge.firmware import FirmwareError, read_manifest, write_firmware

pytestmark = pytest.mark.xdist_group("firmware")  # one worker: the trained runs are shared

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
TARGETS = ["cortex-m4", "cortex-m0", "x86_64"]
FW_SAMPLES = 12
RESULT_KEYS = {"target", "samples", "accuracy", "agreement", "scores_equal_reference", "first_mismatch", "memory",
               "unit", "per_inference", "layers", "total_binary_macs"}
MEMORY_KEYS = {"text", "rodata", "data", "bss", "flash", "ram", "arena_bytes", "stack_used",
               "bitpacked_lower_bound_bytes", "blob_bytes", "model_struct_bytes"}


@pytest.fixture(scope="module")
def mlp_run(train_synthetic):
    return train_synthetic("mlp", model="mlp", weights="lab", activation="sign", hidden=32, depth=2)


@pytest.fixture(scope="module")
def vgg_run(train_synthetic):
    # qrelu2: unsigned bit-planes; with the u8 first conv, binary convs, +1 padding, max-pool,
    # flatten and dense, every op of the format appears
    return train_synthetic("vgg", model="vgg", weights="lab", activation="qrelu2", widths=[4, 6, 8], fc=16)


def _export(run, out, target, *extra):
    r = CliRunner().invoke(main, ["export", str(run), "--target", target, "--samples", str(FW_SAMPLES),
                                  "--format", "blob", *extra, "-o", str(out)])
    return r


def _emulate(fw, *extra):
    return CliRunner().invoke(main, ["emulate", str(fw), *extra])


def _independent_check(fw: Path, n: int | None = None) -> np.ndarray:
    """Run the built ELF ourselves and compare its S lines with the reference (not through
    binedge.emulate's bookkeeping)."""
    m = read_manifest(fw)
    res = T.run(m["target"], fw / "firmware.elf", icount=False, timeout=300).check()
    got = dict(re.findall(r"^S (\d+) (.*)$", res.stdout, flags=re.MULTILINE))
    with np.load(fw / "test_inputs.npz") as z:
        images = z["images"]
    expected = reference.run(read_blob(fw / "model.bnm"), images)
    assert len(got) == len(images)
    for i in range(len(images)):
        assert [int(v) for v in got[str(i)].split()] == expected[i].tolist(), f"input {i}"
    return expected


def _check_result(fw: Path, target: str, samples: int):
    r = json.loads((fw / "emulate.json").read_text())
    assert RESULT_KEYS <= set(r) and MEMORY_KEYS <= set(r["memory"])
    assert r["target"] == target and r["samples"] == samples
    assert r["scores_equal_reference"] is True and r["agreement"] == 1.0 and r["first_mismatch"] is None
    assert r["firmware_selfcheck_mismatches"] == 0
    assert r["misaligned_input_mismatches"] == 0  # every input again from an odd address (no fault either)
    mem = r["memory"]
    assert mem["flash"] == mem["text"] + mem["rodata"] + mem["data"]
    assert mem["rodata"] > mem["blob_bytes"]  # the blob is const: flash, not RAM
    assert mem["bss"] > mem["arena_bytes"] and mem["bitpacked_lower_bound_bytes"] <= mem["blob_bytes"]
    assert len(r["layers"]) == read_manifest(fw)["ops"]
    if T.get_target(target).is_mcu:
        assert r["icount"] and r["unit"] == E.INSTRUCTIONS_LABEL
        assert 0 < mem["stack_used"] <= mem["stack_reserved"]
        assert mem["ram"] <= mem["ram_size"] and mem["flash"] <= mem["flash_size"]
        assert r["per_inference"]["max"] - r["per_inference"]["min"] < 0.5 * r["per_inference"]["mean"]
        per_layer = sum(layer["value"] for layer in r["layers"])
        # the hook (be_interpreter_set_op_hook) sees every op: per-layer sums ~ the whole inference
        assert 0.9 * r["per_inference"]["mean"] < per_layer <= 1.01 * r["per_inference"]["mean"]
        for layer in r["layers"]:
            if layer["binary_macs"]:
                assert layer["instructions_per_binary_mac"] > 0
    else:
        assert r["icount"] is False and "ns" in r["unit"] and mem["stack_used"] is None
    return r


# ----------------------------------------------------------------------------- trained runs


@pytest.mark.parametrize("target", TARGETS)
def test_trained_mlp_firmware(mlp_run, tmp_path, target):
    fw = tmp_path / "fw"
    r = _export(mlp_run, fw, target)
    assert r.exit_code == 0, r.output
    assert f"firmware for {target}" in r.output
    m = read_manifest(fw)
    assert m["target"] == target and m["samples"] == FW_SAMPLES and m["labelled"]
    assert "main.c" in m["files"] and "report.json" in m["files"] and "firmware.json" not in m["files"]
    for f in ("model.h", "model.c", "main.c", "Makefile", "test_inputs.c", "test_inputs.h", "README.md",
              "model.bnm", "report.json", "runtime/include/binedge.h", "runtime/src/be_interpreter.c",
              "board/board.c", "board/board.h"):
        assert (fw / f).is_file(), f
    if T.get_target(target).is_mcu:
        assert (fw / "board/link.ld").is_file() and (fw / "board/startup.c").is_file()
    # self-contained: nothing points back into the repository
    for p in fw.rglob("*"):
        if p.is_file() and p.suffix in (".c", ".h", ".ld", ".md", "") and p.name != "model.bnm":
            assert str(REPO) not in p.read_text(errors="replace"), p
    assert "BINEDGE_MODEL_ARENA_BYTES" in (fw / "model.h").read_text()
    assert "aligned(16)" in (fw / "model.c").read_text()

    r = _emulate(fw)
    assert r.exit_code == 0, r.output
    res = _check_result(fw, target, FW_SAMPLES)
    assert "agreement with the reference  100.00%" in r.output
    if T.get_target(target).is_mcu:
        assert E.INSTRUCTIONS_LABEL in r.output and "instr/bMAC" in r.output
        assert "bit-packed lower bound" in r.output and "stack high-water" in r.output
    _independent_check(fw)
    # the firmware's accuracy is the reference's on the same inputs
    assert res["accuracy"] == pytest.approx(m["reference_accuracy"])


@pytest.mark.parametrize("target", ["cortex-m4", "x86_64"])
def test_trained_vgg_firmware(vgg_run, tmp_path, target):
    fw = tmp_path / "fw"
    r = _export(vgg_run, fw, target)
    assert r.exit_code == 0, r.output
    r = _emulate(fw)
    assert r.exit_code == 0, r.output
    res = _check_result(fw, target, FW_SAMPLES)
    ops = " ".join(layer["op"] for layer in res["layers"])
    for op in ("Conv2d [binary w, u8 in", "Conv2d [binary w, bits unsigned x2 in", "MaxPool2d", "Flatten", "Dense"):
        assert op in ops
    _independent_check(fw)


def test_vgg_does_not_fit_cortex_m0(vgg_run, tmp_path):
    """16 KiB RAM: the qrelu2 convnet's 28x28 two-plane activations need a ~12 KiB arena, which
    with the 4 KiB stack cannot fit: a clear error before anything is written."""
    fw = tmp_path / "fw"
    r = _export(vgg_run, fw, "cortex-m0")
    assert r.exit_code == 1, r.output
    assert "does not fit cortex-m0" in r.output and "RAM" in r.output and "Traceback" not in r.output
    assert not fw.exists() and list(tmp_path.iterdir()) == []


def test_emulate_subset_and_reference_kernels(mlp_run, tmp_path):
    fw = tmp_path / "fw"
    assert _export(mlp_run, fw, "cortex-m4").exit_code == 0
    r = _emulate(fw, "--samples", "3", "--kernel", "ref")
    assert r.exit_code == 0, r.output
    res = json.loads((fw / "emulate.json").read_text())
    assert res["samples"] == 3 and res["kernel"] == "ref" and res["scores_equal_reference"]
    assert all(layer["kernel"] == "ref" for layer in res["layers"])
    assert (fw / "firmware-n3-kref.elf").is_file()
    r = _emulate(fw, "--samples", str(FW_SAMPLES + 1))
    assert r.exit_code == 1 and "--samples" in r.output


def test_dwt_cycle_counter_build(mlp_run, tmp_path):
    """make DWT=1 (real boards): enables and reads DWT->CYCCNT; QEMU reads it as 0 and the
    firmware still runs; ARMv6-M has no DWT and falls back to ticks only."""
    import subprocess

    for target, counter in (("cortex-m4", "dwt"), ("cortex-m0", "none")):
        fw = tmp_path / target
        assert _export(mlp_run, fw, target).exit_code == 0
        subprocess.run(["make", "-C", str(fw), "-j2", "DWT=1"], check=True, capture_output=True)
        res = T.run(target, fw / "firmware-n0-dwt.elf", timeout=120).check()
        assert f"cycle_counter={counter}" in res.stdout and "status=ok" in res.stdout


def test_emulate_reports_first_mismatch(mlp_run, tmp_path, monkeypatch):
    fw = tmp_path / "fw"
    assert _export(mlp_run, fw, "cortex-m4").exit_code == 0
    real = reference.run

    def off_by_one(graph, images):
        s = real(graph, images).copy()
        s[2, 1] += 1
        return s

    monkeypatch.setattr(reference, "run", off_by_one)
    r = _emulate(fw)
    assert r.exit_code == 1
    assert "input 2 class 1" in r.output and "MISMATCH" in r.output and "Traceback" not in r.output
    res = json.loads((fw / "emulate.json").read_text())
    assert res["first_mismatch"]["sample"] == 2 and res["agreement"] < 1


# ----------------------------------------------------------------------------- errors, atomicity


def test_unknown_target(mlp_run, tmp_path):
    fw = tmp_path / "fw"
    r = _export(mlp_run, fw, "cortex-m99")
    assert r.exit_code == 1 and "cortex-m99" in r.output and "Traceback" not in r.output
    for name in T.all_target_names():
        assert name in r.output
    assert not fw.exists() and list(tmp_path.iterdir()) == []
    g = random_graph(np.random.default_rng(0), "mlp")
    with pytest.raises(T.TargetError):
        write_firmware(g, fw, target="avr", images=random_images(np.random.default_rng(1), g, 2))
    assert not fw.exists()


def test_existing_directory_is_not_overwritten(mlp_run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my work")
    r = _export(mlp_run, mine, "cortex-m4")
    assert r.exit_code == 1 and "refusing" in r.output
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "my work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left behind

    # a previous firmware directory is replaced, build products included ...
    fw = tmp_path / "fw"
    assert _export(mlp_run, fw, "cortex-m4").exit_code == 0
    (fw / "firmware.elf").write_bytes(b"old")
    (fw / "build").mkdir()
    (fw / "build" / "x.o").write_bytes(b"old")
    r = _export(mlp_run, fw, "cortex-m0")
    assert r.exit_code == 0, r.output
    assert read_manifest(fw)["target"] == "cortex-m0" and not (fw / "firmware.elf").exists()
    # ... unless someone put their own file into it
    (fw / "my_driver.c").write_text("int x;")
    r = _export(mlp_run, fw, "cortex-m4")
    assert r.exit_code == 1 and "my_driver.c" in r.output
    assert read_manifest(fw)["target"] == "cortex-m0" and (fw / "my_driver.c").exists()
    (fw / "my_driver.c").unlink()
    # ... or edited one of binedge's files
    (fw / "main.c").write_text((fw / "main.c").read_text() + "/* my change */\n")
    r = _export(mlp_run, fw, "cortex-m4")
    assert r.exit_code == 1 and "changed since the export (main.c)" in r.output
    assert "my change" in (fw / "main.c").read_text()
    # a file where the directory should be
    f = tmp_path / "file"
    f.write_text("x")
    assert _export(mlp_run, f, "cortex-m4").exit_code != 0 and f.read_text() == "x"


def test_run_dir_export_produces_nothing_on_error(train_synthetic, tmp_path):
    relu = train_synthetic("relu", model="mlp", weights="lab", activation="relu", hidden=16, depth=1)
    fw = tmp_path / "fw"
    r = _export(relu, fw, "cortex-m4")
    assert r.exit_code == 1 and "hard-threshold" in r.output and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


def test_write_firmware_validates_early(tmp_path):
    g = random_graph(np.random.default_rng(3), "all")
    x = random_images(np.random.default_rng(4), g, 3)
    fw = tmp_path / "fw"
    with pytest.raises(FirmwareError, match="shape"):
        write_firmware(g, fw, target="cortex-m4", images=x[:, :1])
    with pytest.raises(FirmwareError, match="uint8"):
        write_firmware(g, fw, target="cortex-m4", images=x.astype(np.int32))
    with pytest.raises(FirmwareError, match="labels"):
        write_firmware(g, fw, target="cortex-m4", images=x, labels=[0, 1])
    with pytest.raises(FirmwareError, match="labels"):
        write_firmware(g, fw, target="cortex-m4", images=x, labels=[0, 1, 99])
    with pytest.raises(TypeError):  # keyword-only
        write_firmware(g, fw, "cortex-m4", x)  # type: ignore[misc]
    n = 300 * 1024 // int(np.prod(g.input.shape)) + 1  # more test images than 256 KiB of flash hold
    with pytest.raises(FirmwareError, match="flash"):
        write_firmware(g, fw, target="cortex-m0", images=np.zeros((n,) + tuple(g.input.shape), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- a random graph


@pytest.mark.parametrize("target", TARGETS)
def test_random_graph_firmware(tmp_path, target):
    rng = np.random.default_rng(20)
    g = random_graph(rng, "all")
    x = random_images(np.random.default_rng(21), g, 6)
    fw = tmp_path / "fw"
    m = write_firmware(g, fw, target=target, images=x, labels=None)
    assert m["samples"] == 6 and not m["labelled"] and m["max_ops"] == len(g.ops)
    res = E.emulate(fw)
    assert res["accuracy"] is None
    _check_result(fw, target, 6)
    _independent_check(fw)
    if target == "cortex-m0":  # 16 KiB RAM: BE_MAX_OPS = the model's ops keeps be_model small
        assert res["memory"]["model_struct_bytes"] < 200 * len(g.ops) + 200
        assert res["memory"]["ram"] <= 16 * 1024


@pytest.mark.parametrize("target", ["aarch64-virt", "armv7-virt"])
def test_virt_board_firmware(tmp_path, target):
    """A Cortex-A core bare metal on QEMU's virt board (kind "bare-metal"): the project carries
    the virt board files and runs under qemu-system-* with -icount; emulate gives per-layer
    instruction counts and the binary layers run the NEON kernels."""
    g = random_graph(np.random.default_rng(20), "all")
    x = random_images(np.random.default_rng(21), g, 6)
    fw = tmp_path / "fw"
    write_firmware(g, fw, target=target, images=x, labels=None)
    t = T.get_target(target)
    for f in ("board/startup.c", "board/board_virt.c", "board/link.ld", "board/virt.ld", "board/board.h"):
        assert (fw / f).is_file(), f
    make = (fw / "Makefile").read_text()
    assert f"{t.run_cmd[0]} -M virt" in make and "-icount" in make
    res = E.emulate(fw)
    _check_result(fw, target, 6)
    assert res["kind"] == "bare-metal" and t.is_mcu
    # a binary layer on NEON with its per-MAC count (int8 and elementwise layers run "neon" too,
    # without binary MACs)
    assert any(layer["kernel"] == "neon" and (layer.get("instructions_per_binary_mac") or 0) > 0
               for layer in res["layers"])
    report = E.format_report(res)
    assert "instr/bMAC" in report and E.INSTRUCTIONS_LABEL in report and "no flash on this board" in report
    _independent_check(fw)


@pytest.mark.parametrize("target", TARGETS)
def test_random_dag_firmware(tmp_path, target):
    """A typed DAG (int8 input with a zero point, residual add, pooling, concat, thresholds) as a
    firmware project: built, run, every score the reference's (the harness checks them all)."""
    g = random_dag(np.random.default_rng(31), input_kind="i8", channels=(3, 7, 33))
    x = random_inputs(np.random.default_rng(32), g, 5)
    fw = tmp_path / "fw"
    m = write_firmware(g, fw, target=target, images=x, labels=None)
    assert m["samples"] == 5 and m["max_ops"] == len(g.ops)
    assert "int8 codes" in (fw / "model.h").read_text()
    E.emulate(fw)
    _check_result(fw, target, 5)
    _independent_check(fw)


# ----------------------------------------------------------------------------- integration example


def test_integration_example_cortex_m4(mlp_run, tmp_path):
    fw = tmp_path / "fw"
    assert _export(mlp_run, fw, "cortex-m4").exit_code == 0
    m = read_manifest(fw)
    rt = fw / "runtime"
    sources = [REPO / "examples/integration/app.c", fw / "model.c", *sorted((rt / "src").rglob("*.c"))]
    elf = T.build("cortex-m4", sources, tmp_path / "app.elf",
                  include_dirs=[fw, rt / "include", rt / "src", rt / "src" / "ref"],
                  defines=[("BE_MAX_OPS", m["max_ops"])],
                  cflags=["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
    res = T.run("cortex-m4", elf, timeout=120).check()
    line = re.search(r"^class (\d+) scores (.*)$", res.stdout, flags=re.MULTILINE)
    assert line, res.stdout
    graph = read_blob(fw / "model.bnm")
    expected = reference.run(graph, np.full((1,) + tuple(graph.input.shape), 128, dtype=np.uint8))[0]
    assert [int(v) for v in line.group(2).split()] == expected.tolist()
    assert int(line.group(1)) == int(np.argmax(expected))


# ----------------------------------------------------------------------------- trained Fashion-MNIST blobs


def test_trained_fashion_mnist_blobs_on_cortex_m4(tmp_path):
    blobs = sorted(DATA.glob("*.bnm"))
    assert blobs, (f"no trained Fashion-MNIST blobs in {DATA} (tests/data/*.bnm): make them with "
                   f"`bash tests/data/make_blobs.sh`")
    from binedge.data import load_dataset

    ds = load_dataset("fashion-mnist", limit=64)
    images, labels = ds.test.images[..., None], ds.test.labels
    assert len(images) == 64
    for blob in blobs:
        g = read_blob(blob)
        fw = tmp_path / blob.stem
        write_firmware(g, fw, target="cortex-m4", images=images, labels=labels, source=blob.name)
        res = E.emulate(fw)
        assert res["scores_equal_reference"] and res["samples"] == 64, blob.name
        _check_result(fw, "cortex-m4", 64)
        assert res["accuracy"] > 0.5, (blob.name, res["accuracy"])


@pytest.mark.parametrize("target,opt", [("cortex-m4", "-O0"), ("cortex-m4", "-Os"), ("cortex-m0", "-O0"),
                                        ("cortex-m0", "-Os")])
def test_debug_and_size_optimised_builds_are_exact(tmp_path, monkeypatch, target, opt):
    """OPT=-O0 / -Os (the firmware Makefile's knob for debug and small builds) must build and give
    the same scores: the first layer's assembly needs registers GCC only frees when optimising
    for speed, so those builds take the C paths."""
    from binedge.data import load_dataset

    ds = load_dataset("fashion-mnist", limit=8)
    images, labels = ds.test.images[..., None], ds.test.labels
    monkeypatch.setenv("OPT", opt)
    # u8 first layer: "lut" (Dense), "mla" (Conv2d); the firmware links only the model's kernels
    # (docs/firmware.md "Kernel subset"), so each model's own first-layer file is checked
    for name, first in (("fmnist-mlp-sign", "be_u8_lut.c"), ("fmnist-vgg-sign", "be_u8_mla.c")):
        fw = tmp_path / name
        write_firmware(read_blob(DATA / f"{name}.bnm"), fw, target=target, images=images, labels=labels,
                       source=name)
        res = E.emulate(fw)
        assert res["scores_equal_reference"] and res["samples"] == 8, (name, opt)
        producers = subprocess.run(["arm-none-eabi-readelf", "--debug-dump=info", str(fw / "firmware.elf")],
                                   capture_output=True, text=True, check=True).stdout
        unit = re.search(r"DW_AT_producer.*\n(?:.*\n){0,3}?.*DW_AT_name.*" + re.escape(first), producers)
        assert unit and f" {opt}" in unit.group(0), f"{first} was not compiled with OPT={opt}"


def test_docs_and_templates_exist():
    doc = (REPO / "docs" / "firmware.md").read_text()
    for word in ("make -C", "binedge emulate", "instructions, not cycles", "DWT", "stack", "arena"):
        assert word in doc
    assert os.access(REPO / "scripts" / "demo.sh", os.R_OK)
    assert shutil.which("make"), "make is needed to build firmware projects"


@pytest.mark.parametrize("target", ["x86_64", "cortex-m4"])
def test_profile_off_build(tmp_path, target):
    """`make PROFILE=0` (docs/firmware.md) leaves the per-op pass out: the harness must still
    build under the project's -Werror, run, and print no profile records."""
    T.check_tools(target)  # a missing compiler / QEMU names its Debian package
    g = random_graph(np.random.default_rng(20), "mlp")
    fw = tmp_path / "fw"
    write_firmware(g, fw, target=target, images=random_images(np.random.default_rng(21), g, 3))
    r = subprocess.run(["make", "-C", str(fw), "-j2", "PROFILE=0"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    res = T.run(target, fw / "firmware-n0-noprof.elf", timeout=120).check()
    records = [line.split(" ", 1)[0] for line in res.stdout.splitlines()]
    assert records.count("S") == 3 and "P" not in records and "L" not in records
    assert "status=ok" in res.stdout


def test_emulate_damaged_elf_is_a_clean_error(tmp_path):
    """A truncated ELF (make does not rebuild it: it is newer than its sources), one that is not
    an ELF at all, and one whose code is garbage: one clean line each, naming the file and the
    make command that rebuilds it; QEMU's reason, not its register dump."""
    g = random_graph(np.random.default_rng(20), "mlp")
    fw = tmp_path / "fw"
    write_firmware(g, fw, target="cortex-m4", images=random_images(np.random.default_rng(21), g, 2))
    assert _emulate(fw).exit_code == 0
    elf = fw / "firmware.elf"
    good = elf.read_bytes()

    elf.write_bytes(good[: len(good) // 2])
    out = clean_error(_emulate(fw))
    assert f"{elf} is not a valid ELF file: truncated" in out and f"make -C {fw}" in out and f"rm {elf}" in out

    elf.write_bytes(np.random.default_rng(0).integers(0, 256, len(good), dtype=np.uint8).tobytes())
    out = clean_error(_emulate(fw))
    assert "not a valid ELF file" in out and "magic" in out and f"make -C {fw}" in out

    # sound headers, a zeroed vector table (initial SP 0, reset and fault handlers at 0): the
    # first instruction faults, the fault cannot escalate, QEMU reports a lockup and aborts
    phoff, = struct.unpack_from("<I", good, 0x1C)
    load = next(struct.unpack_from("<IIIIIIII", good, phoff + 32 * i) for i in range(8)
                if struct.unpack_from("<I", good, phoff + 32 * i)[0] == 1)  # first PT_LOAD: vectors
    bad = bytearray(good)
    bad[load[1]:load[1] + 256] = bytes(256)
    elf.write_bytes(bytes(bad))
    out = clean_error(_emulate(fw, "--timeout", "120"))
    message = out.split("Error: ", 1)[1].strip()
    assert "\n" not in message and "qemu" in message.lower() and f"make -C {fw}" in message
    assert not re.search(r"R\d\d=|XPSR=|FPSCR", message), message


def test_death_reason_skips_register_dumps():
    stderr = ("qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)\n\n"
              "R00=00000000 R01=00000000 R02=00000000 R03=00000000\nXPSR=40000003 -Z-- A handler\n"
              "s00=00000000 s01=00000000 d00=0000000000000000\nFPSCR: 00000000\n")
    assert E.death_reason("", stderr) == "qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)"
    assert E.death_reason("S 0 1 2\nbinedge: FAULT hardfault\n", "") == "S 0 1 2; binedge: FAULT hardfault"
    assert E.death_reason("", "") == "no output"
