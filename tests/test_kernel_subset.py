"""Kernel subsets: a firmware compiles only the kernel families its model uses.

The oracle for the Python rule (binedge.firmware.op_kernel_families) is the C runtime's
be_op_kernel_families, which dispatch obeys; the oracle for a subset build is the same
firmware built with every kernel (`make KERNELS=all`): it must pick the same kernel for every
op (the harness's K lines), give the same scores, and be larger.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from dags import random_dag, random_inputs
from graphs import random_graph, random_images

from binedge import emulate as E
from binedge import targets as T
from binedge.blob import blob_bytes, read_blob
from binedge.firmware import KERNEL_FAMILIES, kernel_families, op_kernel_families, write_firmware
from binedge.runtime import Runtime, library

DATA = Path(__file__).resolve().parent / "data"


def test_family_names_are_the_c_enum():
    lib = library()
    names = [lib.be_kernel_family_name(f) for f in range(0, len(KERNEL_FAMILIES) + 2)]
    assert names[0] is None and names[-1] is None
    assert [n.decode() for n in names[1:-1]] == list(KERNEL_FAMILIES)


def _graphs():
    for seed in range(12):
        yield f"dag{seed}", random_dag(np.random.default_rng(seed))
    for seed, kind in enumerate(["all", "mlp", "mlp", "conv", "conv"]):
        yield f"chain-{kind}{seed}", random_graph(np.random.default_rng(100 + seed), kind)
    for p in sorted(DATA.glob("*.bnm")):
        yield p.name, read_blob(p)


def test_python_families_are_the_c_runtimes():
    """Every op of random DAGs, random binary chains and the committed trained blobs: the
    families the firmware generator keeps equal those the C dispatcher may use."""
    seen: set[str] = set()
    for name, g in _graphs():
        specs = g.value_specs()
        ours = [op_kernel_families(op, specs[g.op_inputs(i)[0]]) for i, op in enumerate(g.ops)]
        theirs = Runtime(blob_bytes(g)).kernel_families()
        assert ours == theirs, name
        assert all(ours), name  # every op has a family
        seen |= set().union(*ours)
        assert kernel_families(g) == [f for f in KERNEL_FAMILIES if f in set().union(*ours)]
    # the graphs exercise the rule's branches: bits, u8 and i8 inputs, both pools, elementwise ops
    assert {"DENSE_BIN", "CONV2D_BIN", "CONV2D_U8", "MAXPOOL2D_BIN", "FLATTEN", "ADD", "CONV2D_PLANES",
            "DENSE_PLANES"} <= seen
    assert seen & {"DENSE_I8", "CONV2D_I8"} and seen & {"MAXPOOL2D_I8", "AVGPOOL2D", "MERGE", "CONCAT"}


def _kernel_lines(stdout: str) -> list[str]:
    return re.findall(r"^K (\d+ \S+) .*$", stdout, flags=re.MULTILINE)


def _make(fw: Path, *args: str) -> None:
    r = subprocess.run(["make", "-C", str(fw), "-j2", *args], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def _graph(kind: str):
    if kind == "chain":  # u8 image, int8 + binary convs, max-pool on bits, flatten, dense: no elementwise op
        g = random_graph(np.random.default_rng(20), "all")
        return g, random_images(np.random.default_rng(21), g, 4)
    g = random_dag(np.random.default_rng(31), input_kind="i8", channels=(3, 7, 33))
    return g, random_inputs(np.random.default_rng(32), g, 4)


@pytest.mark.parametrize("target,kind", [("x86_64", "chain"), ("cortex-m4", "chain"), ("cortex-m55", "dag"),
                                         ("cortex-m0", "chain")])
def test_subset_firmware_picks_what_the_full_build_picks(tmp_path, target, kind):
    T.check_tools(target)  # a missing compiler / QEMU names its Debian package
    g, x = _graph(kind)
    fw = tmp_path / "fw"
    m = write_firmware(g, fw, target=target, images=x)
    assert m["kernel_families"] == kernel_families(g)
    assert f"KERNELS      := {' '.join(m['kernel_families'])}" in (fw / "Makefile").read_text()
    _make(fw)
    _make(fw, "KERNELS=all")
    sub = T.run(target, fw / "firmware.elf", timeout=300).check()
    full = T.run(target, fw / "firmware-n0-kall.elf", timeout=300).check()
    assert len(_kernel_lines(sub.stdout)) == len(g.ops)
    assert _kernel_lines(sub.stdout) == _kernel_lines(full.stdout)
    assert re.findall(r"^S .*$", sub.stdout, flags=re.MULTILINE) == \
        re.findall(r"^S .*$", full.stdout, flags=re.MULTILINE)
    assert "status=ok" in sub.stdout
    text_sub = T.size(target, fw / "firmware.elf")["text"]
    text_full = T.size(target, fw / "firmware-n0-kall.elf")["text"]
    assert text_sub < text_full, (text_sub, text_full)
    if kind == "chain":  # no elementwise, pooling-on-codes or int8-Dense kernel linked
        assert text_full - text_sub > 8 * 1024, (text_sub, text_full)
    # and the default build again after the full one: the kernel table is recompiled
    _make(fw)
    assert T.size(target, fw / "firmware.elf")["text"] == text_sub
    res = E.emulate(fw)
    assert res["scores_equal_reference"] is True
    if target == "x86_64":
        _check_missing_family_is_an_error_status(fw)


def _check_missing_family_is_an_error_status(fw: Path) -> None:
    """The same firmware built without the families of its convolutions: be_prepare says
    BE_ERR_UNSUPPORTED (10), the program exits non-zero, nothing faults."""
    _make(fw, "KERNELS=DENSE_BIN FLATTEN")
    res = T.run("x86_64", fw / "firmware.elf", timeout=120)
    assert res.returncode != 0
    assert re.search(r"^E be_prepare 10 ", res.stdout, flags=re.MULTILINE), res.stdout[-1000:]
