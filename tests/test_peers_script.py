"""benchmarks/peers.py without the peers' virtualenv: arguments, the pinned requirements, the Larq
architecture (checked against binedge's trained fully binary VGG) and the report writer on
made-up numbers. The benchmark itself (TensorFlow, LCE, TFLM) is not part of CI."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    spec = importlib.util.spec_from_file_location("binedge_peers_script", ROOT / "benchmarks" / "peers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


peers = _load()
worker = sys.modules["peers_worker"]


def test_parse_args_defaults_and_quick():
    a = peers.parse_args([])
    assert (a.rounds, a.budget, a.quick, a.skip_setup) == (60, 4.0, False, False)
    assert Path(a.out).name == "peers.md" and Path(a.venv).name == ".venv-peers"
    q = peers.parse_args(["--quick", "-o", "x.md", "--skip-setup"])
    assert (q.rounds, q.budget, q.out, q.skip_setup) == (3, 0.5, "x.md", True)
    assert peers.parse_args(["--rounds", "4", "--budget", "1.5"]).rounds == 4


@pytest.mark.parametrize("bad", [["--rounds", "0"], ["--budget", "0"], ["--budget", "-1"], ["--bogus"]])
def test_parse_args_refuses(bad):
    with pytest.raises(SystemExit) as e:
        peers.parse_args(bad)
    assert e.value.code == 2


def test_requirements_are_exact_pins():
    pins = dict(peers.parse_requirements(peers.DEFAULT_REQUIREMENTS.read_text()))
    assert pins["larq-compute-engine"] == "0.16.0"
    assert pins["tf-keras"].startswith("2.16.") and pins["tensorflow-cpu"].startswith("2.16.")
    assert pins["numpy"].split(".")[0] == "1"
    assert "tflite-micro" in pins and "larq" in pins
    assert peers.parse_requirements("# c\n\na==1.0  # x\n") == [("a", "1.0")]
    for line in ("numpy<2", "tensorflow", "a>=1", "a==1; python_version<'3.12'"):
        with pytest.raises(ValueError, match="exact pin"):
            peers.parse_requirements(line)


def test_bad_requirements_fail_before_any_venv(tmp_path):
    req = tmp_path / "req.txt"
    req.write_text("numpy<2\n")
    with pytest.raises(peers.PeerSetupError, match="exact pin"):
        peers.ensure_venv(tmp_path / "venv", req, log=lambda *a: None)
    assert not (tmp_path / "venv").exists()
    with pytest.raises(peers.PeerSetupError, match="requirements"):
        peers.ensure_venv(tmp_path / "venv", tmp_path / "missing.txt", log=lambda *a: None)


def test_architecture_is_binedges_vgg():
    from binedge.blob import read_blob
    from binedge.inspect import layer_table, totals

    arch = worker.architecture()
    weights = [r for r in arch if r["layer"] in ("QuantConv2D", "QuantDense")]
    assert [r["units"] for r in weights] == [32, 32, 64, 64, 128, 128, 256, 256, 10]
    assert [r["layer"] for r in arch].count("BatchNormalization") == 9
    assert [r["layer"] for r in arch].count("MaxPool2D") == 3
    assert weights[0]["input_quantizer"] is None and weights[0]["pad_values"] == 0.0
    assert all(r["input_quantizer"] == "ste_sign" for r in weights[1:])
    assert all(r["pad_values"] == 1.0 for r in weights[1:6])
    assert arch[arch.index(next(r for r in arch if r["layer"] == "Flatten"))]["shape"] == (1152,)
    tot = totals(layer_table(read_blob(peers.DEFAULT_BLOB)))
    assert sum(r.get("macs", 0) for r in arch) == tot["macs"] == tot["binary_macs"] == 29_490_176
    table = worker.architecture_rows(arch)
    assert len(table) == len(arch) + 2 and "pad_values=1" in table[4]


def _report(**over):
    def t(name, label, med, mn=None, calls=100):
        return {"name": name, "label": label, "detail": "d", "median_us": med, "min_us": mn or med * 0.9,
                "calls": calls}

    r = {"command": "python benchmarks/peers.py", "date": "2026-01-01 00:00 UTC", "seconds": 12.0,
         "cpu": "Made-up CPU", "clock_ghz": 3.0, "isa": "POPCNT, AVX2", "load": (0.5, 0.7), "rounds": 10,
         "budget": 3.0, "blob": "benchmarks/models/fmnist-vgg32-sign.bnm", "blob_bytes": 90_000,
         "macs": 29_490_176, "binary_macs": 29_490_176, "image_source": "made-up", "seed": 0,
         "versions_main": {"python": "3.11", "numpy": "2.0", "ai-edge-litert": "2.3.0", "binedge commit": "abc"},
         "versions_peers": {"tensorflow-cpu": "2.16.2", "larq-compute-engine": "0.16.0"},
         "setup": {"error": None}, "arch": worker.architecture(),
         "checks": {"lce_vs_larq_keras": {"max_abs_diff": 1e-6, "max_abs": 30.0, "argmax_equal": True},
                    "tflm_vs_litert-tf-xnnpack": {"max_abs_diff_int8": 1}},
         "models": {"lce": {"bytes": 1000, "params": 10, "ops": {"LceBconv2d": 5}}, "int8": {"error": "boom"}},
         "timings": [t("binedge-c", "binedge C", 30.0), t("binedge-python", "binedge Python", 40.0),
                     t("lce", "LCE default", 2000.0), t("lce-indirect", "LCE indirect", 400.0),
                     t("litert-xnnpack", "LiteRT new", 250.0), t("litert-tf-xnnpack", "LiteRT old", 260.0),
                     t("tflm", "TFLM", 20_000.0),
                     {"name": "litert-tf-builtin", "label": "LiteRT builtin", "detail": "", "error": "it broke"}]}
    r.update(over)
    return r


def test_report_on_made_up_numbers():
    md = peers.format_report(_report())
    assert md.startswith("# binedge vs Larq Compute Engine")
    assert "| LCE default | 2,000.0 | 1,800.0 | 66.7x | 50.0x | 100 | d |" in md
    assert "| LiteRT builtin | failed | | | | | it broke |" in md
    assert "**6.2x** (binedge through its Python binding 40.0 µs vs the faster LiteRT int8 + XNNPACK row, LiteRT new" in md
    assert "-- met." in md and "8.3x (30.0 µs); ratio of the minimums 6.2x)" in md
    assert "Against Larq Compute Engine (its fastest configuration here, LCE indirect): binedge is **10.0x**" in md
    assert "Against TFLM" in md and "**500.0x**" in md
    assert "int8 twin: **failed**: boom" in md and "LceBconv2d ×5" in md
    assert "random weights" in md and "## Setup failed" not in md
    assert "Median / minimum of some rows: binedge C 1.11; binedge Python 1.11; LiteRT new 1.11" in md
    assert md.count("| QuantConv2D |") == 6 and md.count("| QuantDense |") == 3


def test_report_goal_not_met_and_setup_failure():
    slow = _report()
    slow["timings"][1]["median_us"] = 50.0
    assert "**5.0x**" in peers.format_report(slow) and "NOT met." in peers.format_report(slow)
    failed = _report(setup={"error": "`pip install -r x` failed (exit 1):\nno matching distribution"},
                     versions_peers={}, checks={}, models={},
                     timings=[_report()["timings"][0], _report()["timings"][1],
                              {"name": "lce", "label": "lce", "detail": "", "error": "the peers' venv failed"}])
    md = peers.format_report(failed)
    assert "## Setup failed" in md and "no matching distribution" in md
    assert "peers' virtualenv: **not available**" in md
    assert "**not measured**" in md and "| lce | failed |" in md
