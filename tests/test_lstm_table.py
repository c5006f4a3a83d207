"""examples/replicate/lstm_table.py: a tiny end-to-end table (4 methods x 3 seeds), reuse of
finished runs, and the claim sentences checked against hand computations on made-up numbers."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "replicate" / "lstm_table.py"


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("lstm_table", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["lstm_table"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("lstm_table", None)


def test_tiny_table_end_to_end_and_reuse(table, tmp_path, monkeypatch):
    import binedge.lm

    monkeypatch.setattr(binedge.lm, "plot_lm_curves", lambda metrics, path: None)  # matplotlib: a fixed cost
    corpus = tmp_path / "c.txt"
    corpus.write_text((REPO / "examples" / "data" / "tiny_corpus.txt").read_text()[:2000])
    out, report = tmp_path / "runs", tmp_path / "R.md"
    argv = ["--data-file", str(corpus), "--hidden", "4", "--epochs", "1", "--batch-size", "4", "--bptt", "10",
            "--out", str(out), "--report", str(report)]
    lines = []
    assert table.main(argv, log=lines.append) == 0, lines[-3:]
    text = report.read_text()
    assert "reduced run" in text and "python examples/replicate/lstm_table.py --data-file" in text
    assert "2,000 characters" in text and "train 1,800, validation 100, test 100" in text
    for method, label in table.LABELS.items():
        rows = [ln for ln in text.splitlines() if ln.startswith(f"| {label} |")]
        assert len(rows) == 1 and f"{table.PAPER[method]['Linux kernel']:.3f}" in rows[0]
        for seed in (0, 1, 2):
            assert (out / method / f"seed{seed}" / "best.pt").is_file()
    assert "LAB ≤ BWN" in text and "within 0.05 nats of full precision" in text
    lines.clear()
    assert table.main(argv, log=lines.append) == 0
    assert sum("reused" in ln for ln in lines) == 12
    # a run directory made with other settings is refused, not reused
    assert table.main(argv[:-4] + ["--hidden", "5", "--out", str(out), "--report", str(report)],
                      log=lines.append) == 1
    assert "holds a run with other settings" in lines[-1]


def test_claims_by_hand(table):
    lab = {0: 1.0, 1: 1.2, 2: 1.1}  # mean 1.1, sample std 0.1
    bwn = {0: 1.3, 1: 1.4, 2: 1.2}  # mean 1.3, std 0.1
    c = table.compare_lower(lab, bwn)
    assert c["mean_better"] == pytest.approx(1.1) and c["std_better"] == pytest.approx(0.1)
    assert c["margin"] == pytest.approx(0.2) and c["holds"] and c["exceeds"] and c["seed_wins"] == 3
    s = table.claim_sentence("LAB", "BWN", c)
    assert "LAB ≤ BWN holds in our means" in s and "BWN is 0.200 nats worse" in s and "exceeds" in s
    c = table.compare_lower(bwn, lab)
    assert not c["holds"] and "does not hold" in table.claim_sentence("BWN", "LAB", c)
    assert "is within 0.05 nats" in table.within_sentence("LAB", lab, "fp", {0: 1.06, 1: 1.08})  # gap +0.03
    assert "is not within 0.05 nats" in table.within_sentence("LAB", lab, "fp", {0: 1.0, 1: 1.02})  # +0.09
    results = {m: {s: {"test": v} for s, v in vals.items()}
               for m, vals in {"fp": {0: 1.0}, "binaryconnect": {0: 3.0}, "bwn": bwn, "lab": lab}.items()}
    text = "\n".join(table.claims(results))
    assert "BinaryConnect's gap to full precision: +2.000 nats" in text and "+2.203 on Linux" in text
