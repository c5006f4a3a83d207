"""`binedge export` and `binedge inspect` end to end on small trained runs."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from binedge.cli import main


@pytest.fixture(scope="module")
def mlp_run(train_synthetic):
    return train_synthetic("mlp", model="mlp", weights="lab", activation="sign", hidden=48, depth=2)


@pytest.fixture(scope="module")
def vgg_run(train_synthetic):
    return train_synthetic("vgg", model="vgg", weights="lab", activation="qrelu2", widths=[4, 6, 8], fc=16)


@pytest.mark.parametrize("which", ["mlp_run", "vgg_run"])
def test_export_all_formats_and_report(request, tmp_path, which):
    run = request.getfixturevalue(which)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["export", str(run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    assert report["files"]["onnx"]["scores_equal_reference"] is True
    assert report["files"]["onnx"]["within_bound"] is True
    import onnx

    assert report["files"]["onnx"]["nodes"] == len(onnx.load(out / "model.onnx").graph.node) > 0
    assert f"(size bound {report['files']['onnx']['size_bound']:,} B: ok)" in r.output
    assert report["agreement"]["samples"] == 200
    assert report["agreement"]["disagree_without_tie"] == 0
    assert (out / "model.bnm").stat().st_size == report["files"]["blob"]["bytes"]
    assert "predictions agree" in r.output

    r = CliRunner().invoke(main, ["inspect", str(out)])
    assert r.exit_code == 0, r.output
    assert "total" in r.output and "model.onnx" in r.output and "within" in r.output


def test_inspect_run_dir_and_blob(mlp_run, tmp_path):
    r = CliRunner().invoke(main, ["export", str(mlp_run), "--format", "blob", "--no-check", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "model.onnx").exists()
    for target in (mlp_run, tmp_path / "model.bnm"):
        r = CliRunner().invoke(main, ["inspect", str(target)])
        assert r.exit_code == 0, r.output
        # 48 hidden units: 784·48 + 48·48 + 48·10 binary parameters.
        assert f"{784 * 48 + 48 * 48 + 48 * 10:,}" in r.output


def test_export_of_real_activation_model_fails_cleanly(train_synthetic, tmp_path):
    run = train_synthetic("relu", model="mlp", weights="lab", activation="relu", hidden=16, depth=1)
    out = tmp_path / "never"
    r = CliRunner().invoke(main, ["export", str(run), "-o", str(out)])
    assert r.exit_code == 1 and "hard-threshold" in r.output and "Traceback" not in r.output
    assert not out.exists()  # nothing partial


def test_export_bad_inputs(tmp_path, mlp_run):
    r = CliRunner().invoke(main, ["export", str(tmp_path / "missing"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2  # click: path does not exist
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(main, ["export", str(empty), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "no checkpoint" in r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "best.pt").write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(main, ["export", str(bad), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "not a readable binedge checkpoint" in r.output and "Traceback" not in r.output
    garbage = tmp_path / "garbage.bnm"
    garbage.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    r = CliRunner().invoke(main, ["inspect", str(garbage)])
    assert r.exit_code == 1 and "garbage.bnm" in r.output and "Traceback" not in r.output


def test_inspect_dag_blob_with_dot_file(tmp_path):
    """A typed DAG with a Merge: inspect lists every op (Merge with both operand types), the arena,
    and --dot writes one node per graph value and one edge per operand (graph.op_inputs is the oracle)."""
    import re

    from dags import random_dag

    from binedge.blob import plan_arena, write_blob
    from binedge.graph import Merge

    for seed in range(40):
        g = random_dag(np.random.default_rng(seed), input_kind="i8", channels=(3, 7, 33))
        if any(isinstance(op, Merge) for op in g.ops):
            break
    else:
        pytest.fail("no random DAG with a Merge in 40 seeds")
    blob = tmp_path / "dag.bnm"
    write_blob(g, blob)
    dot = tmp_path / "sub" / "dag.dot"
    r = CliRunner().invoke(main, ["inspect", str(blob), "--dot", str(dot)])
    assert r.exit_code == 0, r.output
    assert "Merge [" in r.output and f"arena {plan_arena(g).size:,} B" in r.output
    text = dot.read_text()
    assert text.startswith("digraph binedge {") and text.rstrip().endswith("}")
    nodes = set(re.findall(r'^  "([^"]+)" \[label=', text, re.M))
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)";', text, re.M)
    assert nodes == set(g.value_names())
    want = [(src, g.value_names()[i + 1]) for i in range(len(g.ops)) for src in g.op_inputs(i)]
    assert sorted(edges) == sorted(want)
    assert [p.name for p in dot.parent.iterdir()] == ["dag.dot"]  # no temporary left behind


def test_onnx_size_note_says_by_how_much_and_why():
    from binedge.cli import onnx_size_note

    assert onnx_size_note({"within_bound": True, "size_bound": 89_151, "bytes": 80_000}) == " (size bound 89,151 B: ok)"
    note = onnx_size_note({"within_bound": False, "size_bound": 89_151, "bytes": 93_210, "nodes": 373})
    assert "4,059 B over" in note and "373 nodes" in note and "EXCEEDED" not in note
