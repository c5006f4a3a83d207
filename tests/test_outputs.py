"""binedge's output rule (binedge/fileio.py, README "Outputs"): a complete result or the previous
one, never neither; leftovers of killed runs cleaned by the next run; usual file modes; and
output locations that cannot be written refused with one clean line."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import clean_error
from click.testing import CliRunner

from binedge import fileio
from binedge.cli import main
from binedge.firmware import read_manifest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(train_synthetic):
    return train_synthetic("outputs", model="mlp", weights="lab", activation="sign", hidden=16, depth=1)


def _export(run, out, *args):
    return CliRunner().invoke(main, ["export", str(run), "--no-check", "-o", str(out), *args])


FW_ARGS = ("--target", "cortex-m4", "--samples", "2", "--format", "blob")


def _dot_siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# ----------------------------------------------------------------------------- locations (-o)


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory nobody can create entries in, root included (chattr +i as root)."""
    d = tmp_path / "ro"
    d.mkdir()
    root = os.geteuid() == 0
    if root:
        r = subprocess.run(["chattr", "+i", str(d)], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            pytest.skip(f"cannot make a read-only directory as root here (chattr +i: {r.stderr.strip()})")
    else:
        d.chmod(0o555)
    try:
        try:
            (d / "probe").mkdir()
        except OSError:
            pass
        else:
            pytest.skip("this filesystem lets the test write into a read-only directory")
        yield d
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(d)], check=False)
        else:
            d.chmod(0o755)


def _commands(run, out):
    return {"export": ["export", str(run), "--no-check", "-o", str(out)],
            "export --target": ["export", str(run), *FW_ARGS, "-o", str(out)],
            "train": ["train", "--dataset", "synthetic", "--hidden", "8", "--depth", "1", "--epochs", "1",
                      "--quiet", "-o", str(out)],
            "bench": ["bench", "--quick", "-o", str(out) + ".md"]}


@pytest.mark.parametrize("command", ["export", "export --target", "train", "bench"])
def test_output_below_a_regular_file_is_a_clean_error(run, tmp_path, command):
    f = tmp_path / "somefile"
    f.write_text("mine")
    out = clean_error(CliRunner().invoke(main, _commands(run, f / "out")[command]))
    assert f"{f} is a file, not a directory" in out and "choose another -o" in out
    assert f.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["somefile"]


@pytest.mark.parametrize("command", ["export", "export --target", "train", "bench"])
def test_output_in_a_read_only_directory_is_a_clean_error(run, read_only_dir, command):
    out = clean_error(CliRunner().invoke(main, _commands(run, read_only_dir / "out")[command]))
    assert f"{read_only_dir} is not writable" in out and "choose another -o" in out


def test_output_that_is_the_current_directory_is_refused(run, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    out = clean_error(_export(run, "."))
    assert "current directory" in out and list(here.iterdir()) == []


# ----------------------------------------------------------------------------- killed runs

# Runs `binedge export` and SIGKILLs itself at one point of writing the output:
#   rename    right after the output directory is renamed away (the old two-rename commit)
#   exchange  right after the atomic exchange
#   fallback  no atomic exchange available (as on another OS), killed between the two renames
#   report    just before report.json is written
KILLER = r"""
import os, signal, sys
run, out, mode = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
import binedge.fileio as fio

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_rename, real_write = os.rename, fio.atomic_write_json
real_exchange = getattr(fio, "exchange", None)

def rename(src, dst, *a, **k):
    real_rename(src, dst, *a, **k)
    if os.path.abspath(src) == out:
        die()

def exchange(a, b):
    real_exchange(a, b)
    die()

def write(path, obj):
    if os.path.basename(str(path)) == "report.json":
        die()
    return real_write(path, obj)

if mode in ("rename", "fallback"):
    os.rename = rename
if mode == "fallback":
    fio.exchange = lambda a, b: False
if mode == "exchange":
    fio.exchange = exchange
if mode == "report":
    fio.atomic_write_json = write
from binedge.cli import main
main(["export", run, "--no-check", "-o", out, *sys.argv[4:]], standalone_mode=False)
"""


def _killed_export(tmp_path, run, out, mode, *args):
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    r = subprocess.run([sys.executable, str(script), str(run), str(out), mode, *args], capture_output=True,
                       text=True, check=False, cwd=REPO)
    return r.returncode


def _complete_firmware(fw: Path) -> str:
    assert fw.is_dir(), f"{fw} is missing"
    assert fileio.verify_manifest(fw) == []
    return read_manifest(fw)["target"]


@pytest.mark.parametrize("mode", ["rename", "exchange", "fallback"])
def test_firmware_export_killed_while_replacing_leaves_a_complete_directory(run, tmp_path, mode):
    """export --target replaces -o; killed at any point of the swap, -o is a complete project,
    the previous or the new one (restored from the leftovers by the next reader if needed), and
    the next export removes what the killed one left."""
    fw = tmp_path / "fw"
    assert _export(run, fw, *FW_ARGS).exit_code == 0
    m4_args = list(FW_ARGS)
    m0_args = [a if a != "cortex-m4" else "cortex-m0" for a in m4_args]
    code = _killed_export(tmp_path, run, fw, mode, *m0_args)
    assert code in (0, -signal.SIGKILL)
    r = CliRunner().invoke(main, ["inspect", str(fw)])  # a reader restores a missing -o
    assert r.exit_code == 0, r.output
    assert "warning" not in r.output
    assert _complete_firmware(fw) in ("cortex-m4", "cortex-m0")
    assert _export(run, fw, *m4_args).exit_code == 0
    assert _complete_firmware(fw) == "cortex-m4" and _dot_siblings(fw) == []


def test_emulate_restores_a_firmware_directory_left_missing(run, tmp_path):
    fw = tmp_path / "fw"
    assert _export(run, fw, *FW_ARGS).exit_code == 0
    assert _killed_export(tmp_path, run, fw, "fallback", *FW_ARGS) == -signal.SIGKILL
    assert not fw.exists() and len(_dot_siblings(fw)) == 2  # the old copy and the complete new one
    from binedge.emulate import emulate

    emulate(fw)  # builds and runs it: the directory was put back first
    assert _complete_firmware(fw) == "cortex-m4"


def test_plain_export_is_all_or_nothing(run, tmp_path):
    """A plain export killed before it finished (here: before report.json) leaves no directory
    on a first export and the previous complete one on a re-export, never model.bnm alone."""
    out = tmp_path / "out"
    assert _killed_export(tmp_path, run, out, "report", "--format", "blob") == -signal.SIGKILL
    assert not out.exists()
    assert _export(run, out, "--format", "blob").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.bnm", "report.json"]
    assert _dot_siblings(out) == []  # the killed run's stage is gone
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _killed_export(tmp_path, run, out, "report") == -signal.SIGKILL  # all formats this time
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert fileio.verify_manifest(out) == []
    assert _export(run, out).exit_code == 0
    assert {"model.onnx", "model.tflite"} <= {p.name for p in out.iterdir()} and _dot_siblings(out) == []


def test_plain_export_refuses_a_directory_with_foreign_files(run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert "refusing" in clean_error(_export(run, out))
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and _dot_siblings(out) == []
    out2 = tmp_path / "out2"
    assert _export(run, out2, "--format", "blob").exit_code == 0
    (out2 / "extra.bin").write_bytes(b"x")
    assert "extra.bin" in clean_error(_export(run, out2, "--format", "blob"))
    (out2 / "extra.bin").unlink()
    (out2 / "model.bnm").write_bytes(b"edited")
    assert "changed since the export (model.bnm)" in clean_error(_export(run, out2, "--format", "blob"))


def test_inspect_says_when_an_export_directory_is_incomplete(run, tmp_path):
    out = tmp_path / "out"
    assert _export(run, out).exit_code == 0
    r = CliRunner().invoke(main, ["inspect", str(out)])
    assert r.exit_code == 0 and "warning" not in r.output

    partial = tmp_path / "partial"  # what a killed export of an older binedge left
    partial.mkdir()
    (partial / "model.bnm").write_bytes((out / "model.bnm").read_bytes())
    r = CliRunner().invoke(main, ["inspect", str(partial)])
    assert r.exit_code == 0, r.output
    assert f"warning: {partial} is not a complete binedge export (no report.json: the export did not finish)" \
        in r.output

    (out / "model.tflite").write_bytes((out / "model.tflite").read_bytes()[:-100])
    r = CliRunner().invoke(main, ["inspect", str(out / "model.bnm")])  # the blob alone: no verdict on the folder
    assert r.exit_code == 0 and "warning" not in r.output
    r = CliRunner().invoke(main, ["inspect", str(out)])
    assert "not a complete binedge export (changed since they were written: model.tflite)" in r.output


def test_export_of_an_older_binedge_is_still_replaced(run, tmp_path):
    """An export directory whose report.json lists its files but has no SHA-256 map (older
    binedge): inspect shows it without a warning, and a new export may replace it."""
    out = tmp_path / "old"
    assert _export(run, out, "--format", "blob").exit_code == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("sha256", "format", "version", "binedge"):
        del report[key]
    (out / "report.json").write_text(json.dumps(report))
    (out / ".model.bnm.a1b2c3d4.tmp").write_bytes(b"left by a killed run")
    r = CliRunner().invoke(main, ["inspect", str(out)])
    assert r.exit_code == 0 and "warning" not in r.output
    assert _export(run, out, "--format", "blob").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.bnm", "report.json"]
    assert set(json.loads((out / "report.json").read_text())["sha256"]) == {"model.bnm"}


def test_train_removes_temporary_files_of_a_killed_run(tmp_path):
    run_dir = tmp_path / "run"
    base = ["train", "--dataset", "synthetic", "--hidden", "8", "--depth", "1", "--quiet", "-o", str(run_dir)]
    assert CliRunner().invoke(main, base + ["--epochs", "1"]).exit_code == 0
    dead = 2**22 + 12345  # above Linux's pid_max: no such process
    stale = [f".last.pt.{dead}.abcd1234.tmp", ".metrics.json.x1y2z3w4.tmp", ".curves.png.qwertyui.png",
             ".tmp-k3j4h5g6.onnx"]
    live = f".best.pt.{os.getppid()}.abcd1234.tmp"  # a live process's: left alone
    for name in [*stale, live]:
        (run_dir / name).write_bytes(b"partial")
    assert CliRunner().invoke(main, base + ["--resume", "--epochs", "2"]).exit_code == 0
    names = {p.name for p in run_dir.iterdir()}
    assert not names & set(stale) and live in names


# ----------------------------------------------------------------------------- modes


def test_outputs_get_the_usual_modes(run, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "out"
        r = CliRunner().invoke(main, ["export", str(run), "--samples", "20", "-o", str(out)])
        assert r.exit_code == 0, r.output
        fw = tmp_path / "fw"
        assert _export(run, fw, *FW_ARGS).exit_code == 0
        run_dir = tmp_path / "run"
        r = CliRunner().invoke(main, ["train", "--dataset", "synthetic", "--hidden", "8", "--depth", "1",
                                      "--epochs", "1", "--quiet", "-o", str(run_dir)])
        assert r.exit_code == 0, r.output
    finally:
        os.umask(old)
    for d in (out, fw, run_dir):
        for p in [d, *d.rglob("*")]:
            want = 0o750 if p.is_dir() else 0o640
            assert stat.S_IMODE(p.stat().st_mode) == want, (p, oct(p.stat().st_mode))
    assert (out / "model.onnx").is_file() and (run_dir / "curves.png").is_file()


# ----------------------------------------------------------------------------- fileio


def _manifest(files: dict) -> str:
    return json.dumps({"format": "binedge-export", "sha256": files})


def _complete_copy(d: Path, text: str, *, sealed: bool = True) -> Path:
    d.mkdir()
    (d / "a.txt").write_text(text)
    (d / "report.json").write_text(_manifest({"a.txt": fileio.sha256(d / "a.txt")} if sealed else {}))
    return d


def test_recover_dir_restores_the_newest_complete_copy(tmp_path):
    out = tmp_path / "out"
    dead = 2**22 + 999
    old = _complete_copy(tmp_path / f".out.{dead}.aaaaaaaa.old", "previous")
    new = _complete_copy(tmp_path / f".out.{dead}.bbbbbbbb.tmp", "next")
    os.utime(old / "report.json", ns=(1, 1))
    _complete_copy(tmp_path / f".out.{dead}.cccccccc.tmp", "unsealed", sealed=False)  # never finished
    live = _complete_copy(tmp_path / f".out.{os.getppid()}.dddddddd.tmp", "a live writer's")
    os.utime(live / "report.json", ns=(2**62, 2**62))
    other = _complete_copy(tmp_path / f".out.v2.{dead}.eeeeeeee.tmp", "another output's")
    assert fileio.recover_dir(out) == out
    assert (out / "a.txt").read_text() == "next" and not new.exists()
    fileio.clean_stale_dirs(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", live.name, other.name])
    assert fileio.recover_dir(out) is None  # present: nothing to do


def test_commit_falls_back_when_the_exchange_is_not_supported(tmp_path, monkeypatch):
    """renameat2 answering EINVAL (a filesystem without RENAME_EXCHANGE) or missing: the
    directory is still replaced (two renames)."""
    out = tmp_path / "out"
    for text in ("one", "two"):
        with fileio.committed_dir(out, manifest="report.json") as stage:
            (stage / "a.txt").write_text(text)
            (stage / "report.json").write_text(_manifest({}))
        assert (out / "a.txt").read_text() == text

    def einval(*args):
        ctypes.set_errno(errno.EINVAL)
        return -1

    monkeypatch.setattr(fileio, "_libc_renameat2", lambda: einval)
    assert fileio.exchange(tmp_path, out) is False
    with fileio.committed_dir(out, manifest="report.json") as stage:
        (stage / "a.txt").write_text("three")
        (stage / "report.json").write_text(_manifest({}))
    assert (out / "a.txt").read_text() == "three" and fileio.verify_manifest(out) == []
    monkeypatch.setattr(fileio, "_libc_renameat2", lambda: None)
    with fileio.committed_dir(out, manifest="report.json") as stage:
        (stage / "a.txt").write_text("four")
        (stage / "report.json").write_text(_manifest({}))
    assert (out / "a.txt").read_text() == "four" and _dot_siblings(out) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_exchange_swaps_two_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not fileio.exchange(a, b):
        pytest.skip("this filesystem has no RENAME_EXCHANGE (the fallback is tested above)")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_clean_stale_files_removes_only_dead_runs_temporaries(tmp_path):
    dead = 2**22 + 7
    stale = [f".host.md.{dead}.a1b2c3d4.tmp", ".host.md.a1b2c3d4.tmp"]
    other_output = f".other.md.{dead}.a1b2c3d4.tmp"
    kept = [f".host.md.{os.getppid()}.a1b2c3d4.tmp", ".notes.tmp", "host.md", ".host.md.tmp", other_output]
    for name in stale + kept:
        (tmp_path / name).write_text("x")
    assert sorted(p.name for p in fileio.clean_stale_files(tmp_path, "host.md")) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert [p.name for p in fileio.clean_stale_files(tmp_path)] == [other_output]
