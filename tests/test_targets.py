"""Targets and the QEMU runner (binedge.targets, targets/, docs/targets.md).

Every target runs targets/common/selftest.c. A missing compiler, QEMU or C library is a
test FAILURE (ToolchainError naming the Debian package), never a skip.
ELFs are built once per module and cached by content hash under build/targets/.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from binedge import targets as T

CHECKS = T.COMMON_DIR / "checks"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
ALL = T.all_target_names()
MCUS = T.mcu_targets()

# The QEMU boards of DESIGN.md §5.
MACHINES = {
    "cortex-m0": "microbit", "cortex-m3": "mps2-an385", "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500", "cortex-m33": "mps2-an505", "cortex-m55": "mps3-an547",
}
# The Cortex-A cores bare metal on QEMU's virt board (kind "bare-metal"), with their CPU model.
VIRT = {"aarch64-virt": "cortex-a53", "armv7-virt": "cortex-a15"}


@pytest.fixture(scope="module")
def elf():
    """elf(target, program) -> Path, building each (target, program) once."""
    memo: dict[tuple[str, str], Path] = {}

    def get(target: str, program: str) -> Path:
        key = (target, program)
        if key not in memo:
            src = T.COMMON_DIR / "selftest.c" if program == "selftest" else CHECKS / f"{program}.c"
            memo[key] = T.build(target, [src], cflags=STRICT)
        return memo[key]

    return get


# ----------------------------------------------------------------------------- target data


def test_target_set():
    assert set(ALL) == set(MACHINES) | set(VIRT) | {"aarch64-linux", "armv7-linux", "x86_64"}
    assert MCUS == ["cortex-m0", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", *sorted(VIRT)]
    for name, machine in MACHINES.items():
        t = T.get_target(name)
        assert t.kind == "mcu" and t.machine == machine
        assert (t.dir / "link.ld").is_file() and (t.dir / "startup.c").is_file()
    for name, cpu in VIRT.items():
        t = T.get_target(name)
        assert t.kind == "bare-metal" and t.is_mcu and t.machine == "virt" and "neon" in t.features
        assert t.run_cmd[t.run_cmd.index("-cpu") + 1] == cpu and t.icount_args
        assert (t.dir / "link.ld").is_file() and (t.dir / "startup.c").is_file()
    assert T.get_target("aarch64-linux").kind == "linux-user"
    assert T.get_target("armv7-linux").kind == "linux-user"
    assert T.get_target("x86_64").kind == "native"
    assert "-mfpu=neon" in T.get_target("armv7-linux").cflags
    assert "mve" in T.get_target("cortex-m55").features
    assert "thumb1" in T.get_target("cortex-m0").features


def test_alias_and_unknown_target():
    assert T.get_target("cortex-m") is T.get_target("cortex-m4")
    with pytest.raises(T.TargetError) as exc:
        T.get_target("cortex-m99")
    assert isinstance(exc.value, ValueError)
    msg = str(exc.value)
    assert "cortex-m99" in msg
    for name in ALL:
        assert name in msg


def _ld_size(num: str, unit: str) -> int:
    return int(num, 0) * {"": 1, "K": 1024, "M": 1024 * 1024}[unit]


@pytest.mark.parametrize("name", MCUS)
def test_link_script_matches_target_json(name):
    t = T.get_target(name)
    ld = (t.dir / "link.ld").read_text()
    regions = {m[0]: (int(m[1], 16), _ld_size(m[2], m[3])) for m in re.findall(
        r"(FLASH|RAM)\s*\([a-z]+\)\s*:\s*ORIGIN\s*=\s*(0x[0-9a-fA-F]+),\s*LENGTH\s*=\s*(\d+)([KM]?)", ld)}
    stack = re.search(r"__stack_size\s*=\s*(\d+)([KM]?)\s*;", ld)
    mem = t.memory
    assert regions["FLASH"] == (int(mem["flash_origin"], 16), mem["flash"])
    assert regions["RAM"] == (int(mem["ram_origin"], 16), mem["ram"])
    assert _ld_size(stack[1], stack[2]) == mem["stack"]
    raw = json.loads((t.dir / "target.json").read_text())
    for key in ("name", "kind", "cc", "cflags", "ldflags", "run", "memory", "features", "tools"):
        assert key in raw, key


# ----------------------------------------------------------------------------- toolchain errors


def test_missing_compiler_names_the_package(tmp_path):
    t = T.get_target("cortex-m4")
    fake = dataclasses.replace(t, cc="binedge-no-such-gcc", tools={**t.tools, "binedge-no-such-gcc": "gcc-binedge-test"})
    with pytest.raises(T.ToolchainError, match=r"binedge-no-such-gcc.*apt-get install .*gcc-binedge-test"):
        T.build(fake, [CHECKS / "exit_code.c"], tmp_path / "x.elf")


def test_missing_qemu_and_libc_name_the_package(tmp_path, elf):
    t = T.get_target("cortex-m4")
    fake = dataclasses.replace(t, run_cmd=("binedge-no-such-qemu", *t.run_cmd[1:]),
                               tools={**t.tools, "binedge-no-such-qemu": "qemu-binedge-test"})
    with pytest.raises(T.ToolchainError, match="qemu-binedge-test"):
        T.run(fake, elf("cortex-m4", "exit_code"))
    fake = dataclasses.replace(t, files={"binedge-no-such.specs": "picolibc-binedge-test"})
    with pytest.raises(T.ToolchainError, match="picolibc-binedge-test"):
        T.build(fake, [CHECKS / "exit_code.c"], tmp_path / "x.elf")


# ----------------------------------------------------------------------------- every target


@pytest.mark.parametrize("name", ALL)
def test_selftest(name, elf):
    res = T.run(name, elf(name, "selftest"), timeout=60)
    m = re.search(r"^selftest: (\d+) passed, (\d+) failed$", res.stdout, re.MULTILINE)
    assert m, f"no summary line\n{res.stdout}\n{res.stderr}"
    assert int(m[2]) == 0 and res.returncode == 0, res.stdout
    assert int(m[1]) >= 25
    assert f"selftest: target {name}" in res.stdout


@pytest.mark.parametrize("name", ALL)
def test_exit_code_reaches_host(name, elf):
    res = T.run(name, elf(name, "exit_code"), timeout=30)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert "exit_code: returning 3" in res.stdout


@pytest.mark.parametrize("name", ALL)
def test_fault_fails_fast(name, elf):
    t0 = time.monotonic()
    res = T.run(name, elf(name, "fault"), timeout=30)
    assert res.returncode != 0
    assert time.monotonic() - t0 < 15
    if T.get_target(name).is_mcu:
        assert res.faulted and res.returncode == T.FAULT_EXIT_CODE, (res.stdout, res.stderr)
        assert "pc=0x00000100" in res.stdout


# ----------------------------------------------------------------------------- MCU board layer


@pytest.mark.parametrize("name", MCUS)
def test_stack_high_water_mark(name, elf):
    res = T.run(name, elf(name, "selftest"), timeout=60)
    m = re.search(r"selftest: stack used (\d+) of (\d+) bytes", res.stdout)
    used, total = int(m[1]), int(m[2])
    assert total == T.get_target(name).memory["stack"]
    # selftest keeps a 256-byte local array and recurses: plausible, well inside the stack
    assert 256 < used < min(total, 4096), res.stdout


@pytest.mark.parametrize("name", MCUS)
def test_icount_ticks_are_deterministic_instruction_counts(name, elf):
    t = T.get_target(name)
    path = elf(name, "ticks")
    runs = [T.run(name, path, icount=True, timeout=30) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, (r.stdout, r.stderr)
    assert runs[0].stdout == runs[1].stdout  # identical tick counts
    a, b, hz = map(int, re.search(r"ticks: (\d+) (\d+) (\d+)", runs[0].stdout).groups())
    assert hz == t.tick_hz and a > 0
    # b - a is exactly 2*100000 instructions (subs + bne) more; 2^shift ns each
    assert "-icount" in T.run_command(name, path, icount=True)
    assert abs(T.instructions_from_ticks(name, b - a) - 200000) <= 200, (a, b)


def test_icount_is_mcu_only():
    with pytest.raises(T.TargetError):
        T.run_command("x86_64", Path("/bin/true"), icount=True)


def test_timeout_kills_qemu(elf):
    path = elf("cortex-m3", "hang")
    t0 = time.monotonic()
    with pytest.raises(T.RunTimeout) as exc:
        T.run("cortex-m3", path, timeout=1.5)
    assert time.monotonic() - t0 < 10
    assert "hang: spinning forever" in exc.value.stdout


@pytest.mark.parametrize("name", ["cortex-m0", "cortex-m55"])
def test_size_report(name, elf):
    path = elf(name, "selftest")
    s = T.size(name, path)
    mem = T.get_target(name).memory
    assert s["text"] > 1000 and s["rodata"] > 0 and s["stack"] == mem["stack"]
    assert s["flash"] <= s["flash_size"] == mem["flash"]
    assert s["ram"] <= s["ram_size"] == mem["ram"]
    # the Berkeley totals of binutils' size: text = everything read-only
    out = subprocess.run(["arm-none-eabi-size", str(path)], capture_output=True, text=True, check=True).stdout
    text, data, bss = map(int, out.splitlines()[1].split()[:3])
    assert (text, data, bss) == (s["text"] + s["rodata"], s["data"], s["bss"] + s["stack"])


def test_build_cache_and_out_elf(tmp_path, elf):
    first = elf("x86_64", "exit_code")
    again = T.build("x86_64", [CHECKS / "exit_code.c"], tmp_path / "prog.elf", cflags=STRICT)
    assert again == tmp_path / "prog.elf" and again.read_bytes() == first.read_bytes()
    assert T.build("x86_64", [CHECKS / "exit_code.c"], cflags=STRICT) == first  # cache hit: same file
    other = T.build("x86_64", [CHECKS / "exit_code.c"], cflags=STRICT, defines=[("EXIT_CODE", 5)])
    assert other != first and T.run("x86_64", other).returncode == 5
