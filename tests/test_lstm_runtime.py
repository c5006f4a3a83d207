"""The LSTM op in the C runtime (runtime_c: be_model.c's loader, src/ref/be_lstm_ref.c and its
variants) against the numpy reference (binedge.reference.run_stream, the spec of
binedge/lstm_integer.py): random recurrent graphs of 1 and 2 layers, every kernel variant of
this CPU forced, hundreds of steps with resets, saturating constants, out-of-vocabulary ids.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from binedge import reference as R
from binedge.blob import blob_bytes
from binedge.firmware import op_kernel_families
from binedge.lstm_deploy import random_lstm_graph
from binedge.lstm_integer import SIG, TANH
from binedge.runtime import RUNTIME_DIR, InputRangeError, Runtime, RuntimeStatusError, kernel_table

LSTM_VARIANTS = sorted({name for name, op, _isa in kernel_table() if op == "lstm"})


def _runtimes(graph):
    """A Runtime per kernel choice this CPU runs: auto, ref and every LSTM variant."""
    data = blob_bytes(graph)
    out = {}
    for kernel in ["auto", *LSTM_VARIANTS]:
        try:
            out[kernel] = Runtime(data, kernel=kernel)
        except RuntimeStatusError as e:  # a variant whose ISA this CPU lacks
            assert e.name == "BE_ERR_UNSUPPORTED" and kernel != "ref"
    return out


def test_c_tables_are_the_spec():
    """runtime_c/src/be_lstm_tables.c holds exactly binedge.lstm_integer.SIG and TANH."""
    text = (RUNTIME_DIR / "src" / "be_lstm_tables.c").read_text()
    for name, want in (("be_lstm_sig", SIG), ("be_lstm_tanh", TANH)):
        body = re.search(rf"const int16_t {name}\[BE_LSTM_TABLE\] = \{{(.*?)\}};", text, re.S)
        assert body, name
        got = np.array([int(v) for v in body.group(1).replace("\n", " ").split(",") if v.strip()])
        assert got.shape == (1024,) and np.array_equal(got, want), name


def test_variants_are_registered():
    assert {"ref", "word"} <= set(LSTM_VARIANTS)


CASES = [  # (vocab, hidden, layers, c_frac, saturate)
    (2, 1, 1, 10, False), (7, 5, 2, 7, True), (101, 32, 1, 14, False), (256, 33, 2, 10, True),
    (101, 100, 1, 9, True), (7, 33, 1, 12, False), (256, 100, 2, 10, False), (2, 32, 2, 8, True),
    (101, 5, 1, 11, True), (7, 1, 2, 13, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_random_graphs_every_variant_equals_reference(case):
    """240 steps from the zero state, a reset, 60 more: every variant gives the reference's int32
    scores at every step; the steps may be given in any number of run calls."""
    vocab, hidden, layers, c_frac, saturate = CASES[case]
    rng = np.random.default_rng(1000 + case)
    g = random_lstm_graph(rng, vocab, hidden, layers, c_frac=c_frac, saturate=saturate)
    ids = rng.integers(0, vocab, 240).astype(np.uint8)
    again = rng.integers(0, vocab, 60).astype(np.uint8)
    want, _ = R.run_stream(g, ids[:, None])
    want2, _ = R.run_stream(g, again[:, None])
    rts = _runtimes(g)
    assert {"auto", "ref", "word"} <= set(rts)
    for kernel, rt in rts.items():
        assert rt.recurrent
        got = np.concatenate([rt.run(ids[:1]), rt.run(ids[1:100]), rt.run(ids[100:, None])])
        assert np.array_equal(got, want), kernel
        rt.reset()
        assert np.array_equal(rt.run(again), want2), kernel
        rt.reset()
        assert np.array_equal(rt.run(ids[:30]), want[:30]), kernel


def test_reset_in_the_middle_and_state_carried():
    g = random_lstm_graph(np.random.default_rng(7), 101, 33, 2)
    ids = np.random.default_rng(8).integers(0, 101, 200).astype(np.uint8)
    full, state = R.run_stream(g, ids[:, None])
    first, mid = R.run_stream(g, ids[:120, None])
    rest, end = R.run_stream(g, ids[120:, None], mid)
    assert np.array_equal(np.concatenate([first, rest]), full)
    for kernel, rt in _runtimes(g).items():
        a = rt.run(ids[:120])
        b = rt.run(ids[120:])  # the state carried from the first call
        assert np.array_equal(np.concatenate([a, b]), full), kernel
        rt.reset()
        fresh, _ = R.run_stream(g, ids[120:, None])
        assert np.array_equal(rt.run(ids[120:]), fresh), kernel


def test_out_of_vocabulary_id_is_refused_and_changes_nothing():
    vocab = 7
    g = random_lstm_graph(np.random.default_rng(3), vocab, 5, 2)
    ids = np.random.default_rng(4).integers(0, vocab, 50).astype(np.uint8)
    want, _ = R.run_stream(g, ids[:, None])
    for kernel, rt in _runtimes(g).items():
        a = rt.run(ids[:20])
        for bad in ([vocab], [255], [0, 1, vocab + 3, 2]):
            with pytest.raises(InputRangeError, match=r"BE_ERR_INPUT.*not below the vocabulary") as e:
                rt.run(np.array(bad, np.uint8))
            assert isinstance(e.value, ValueError) and e.value.status == 13
        b = rt.run(ids[20:])  # nothing of the refused calls ran
        assert np.array_equal(np.concatenate([a, b]), want), kernel
    with pytest.raises(ValueError, match="not below the vocabulary"):
        R.run_stream(g, np.array([[vocab]], np.uint8))


def test_lean_run_path_equals_checked_path():
    """ids (N,) or (N, 1) through Runtime.run's lean path (N <= its staging capacity) advance the
    state as the checked path does; an out-of-vocabulary id is refused by both before any step."""
    vocab = 9
    g = random_lstm_graph(np.random.default_rng(12), vocab, 7, 2)
    ids = np.random.default_rng(13).integers(0, vocab, 40).astype(np.uint8)
    want, _ = R.run_stream(g, ids[:, None])
    lean, checked = Runtime(blob_bytes(g)), Runtime(blob_bytes(g))
    assert lean._fast_cap >= 40
    got_lean, got_checked = [], []
    for lo, hi in ((0, 1), (1, 2), (2, 10), (10, 11), (11, 40)):
        step = ids[lo:hi] if lo % 2 else ids[lo:hi, None]
        got_lean.append(lean.run(step))
        got_checked.append(checked._run_checked(step))
        for rt in (lean, checked):
            with pytest.raises(InputRangeError, match="not below the vocabulary"):
                rt.run(np.array([1, vocab], np.uint8))
    assert np.array_equal(np.concatenate(got_lean), want) and np.array_equal(np.concatenate(got_checked), want)


def test_out_of_vocabulary_in_c_itself():
    """be_invoke's own check (BE_ERR_INPUT before any op writes): bypass the binding's pre-check."""
    g = random_lstm_graph(np.random.default_rng(5), 2, 3, 1)
    rt = Runtime(blob_bytes(g), kernel="ref")
    rt._vocab_cache = None  # the binding checks nothing now
    ids = np.array([1, 0, 1], np.uint8)
    want, _ = R.run_stream(g, ids[:, None])
    with pytest.raises(InputRangeError):
        rt.run(np.array([2], np.uint8))
    assert np.array_equal(rt.run(ids), want)


def test_saturation_reached_and_exact():
    """Saturating constants: the gates' z, c and h reach their clamps, and every variant still
    equals the reference."""
    g = random_lstm_graph(np.random.default_rng(11), 101, 33, 2, c_frac=12, saturate=True)
    ids = np.random.default_rng(12).integers(0, 101, 300).astype(np.uint8)
    state = R.zero_state(g)
    hmax = cmax = 0
    for t in range(len(ids)):
        _, state = R.run_stream(g, ids[t:t + 1, None], state)
        for h, c in state.values():
            hmax, cmax = max(hmax, int(np.abs(h).max())), max(cmax, int(np.abs(c).max()))
    assert hmax == 127 and cmax == 65535
    want, _ = R.run_stream(g, ids[:, None])
    for kernel, rt in _runtimes(g).items():
        assert np.array_equal(rt.run(ids), want), kernel


def test_families_and_non_recurrent_models():
    g = random_lstm_graph(np.random.default_rng(2), 7, 5, 2)
    rt = Runtime(blob_bytes(g))
    specs = g.value_specs()
    ours = [op_kernel_families(op, specs[g.op_inputs(i)[0]]) for i, op in enumerate(g.ops)]
    assert ours == rt.kernel_families()
    assert ours[0] == ours[1] == frozenset({"LSTM_BIN"})
    from graphs import random_graph

    plain = Runtime(blob_bytes(random_graph(np.random.default_rng(0), "mlp")))
    assert not plain.recurrent
    plain.reset()  # nothing to do


def test_larger_hidden_falls_back_exactly():
    """H beyond what the 'word' variant's stack tables hold (H = 600: 19 words): auto falls back
    to a variant that takes it, still exact."""
    g = random_lstm_graph(np.random.default_rng(21), 11, 600, 1)
    ids = np.random.default_rng(22).integers(0, 11, 12).astype(np.uint8)
    want, _ = R.run_stream(g, ids[:, None])
    rts = _runtimes(g)
    assert rts["word"].kernel_names()[0] == "ref"
    for kernel, rt in rts.items():
        assert np.array_equal(rt.run(ids), want), kernel


# ----------------------------------------------------------------------------- C unit test blob

LSTM_H = RUNTIME_DIR / "tests" / "lstm_blob.h"
LSTM_STEPS = 40


def lstm_test_graph():
    """The small recurrent graph of runtime_c/tests/test_lstm.c: 5 characters, 3 cells, 2 layers,
    saturating constants."""
    return random_lstm_graph(np.random.default_rng(42), 5, 3, 2, c_frac=9, saturate=True)


def render_lstm_header() -> str:
    g = lstm_test_graph()
    data = blob_bytes(g)
    ids = np.random.default_rng(43).integers(0, 5, LSTM_STEPS).astype(np.uint8)
    scores, _ = R.run_stream(g, ids[:, None])
    lines = [
        "/* lstm_blob.h -- GENERATED by tests/test_lstm_runtime.py (lstm_test_graph); do not edit.",
        " * Regenerate: BINEDGE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_lstm_runtime.py",
        f" * A recurrent blob (character id -> LSTM 5 -> 3 -> LSTM 3 -> 3 -> Dense int8 -> 5 scores), {LSTM_STEPS}",
        " * character ids and the reference's int32 scores of each step from the zero state. */",
        "#ifndef LSTM_BLOB_H",
        "#define LSTM_BLOB_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define LSTM_BLOB_SIZE {len(data)}u",
        "#define LSTM_VOCAB 5u",
        "#define LSTM_HIDDEN 3u",
        f"#define LSTM_STEPS {LSTM_STEPS}u",
        "",
        "static const uint8_t lstm_blob[LSTM_BLOB_SIZE] = {",
    ]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    lines += ["};", "", "static const uint8_t lstm_ids[LSTM_STEPS] = {"]
    for i in range(0, LSTM_STEPS, 20):
        lines.append("    " + ", ".join(str(int(v)) for v in ids[i:i + 20]) + ",")
    lines += ["};", "", "static const int32_t lstm_scores[LSTM_STEPS][LSTM_VOCAB] = {"]
    for s in scores:
        lines.append("    {" + ", ".join(str(int(v)) for v in s) + "},")
    lines += ["};", "", "#endif /* LSTM_BLOB_H */"]
    return "\n".join(lines) + "\n"


def test_lstm_c_header_in_sync():
    import os

    text = render_lstm_header()
    if os.environ.get("BINEDGE_UPDATE_GOLDEN"):
        LSTM_H.write_text(text)
    assert LSTM_H.read_text() == text, "runtime_c/tests/lstm_blob.h is stale (see its header comment)"
