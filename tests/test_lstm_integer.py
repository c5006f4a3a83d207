"""The integer LSTM (docs/numerics.md, "Recurrent"): the numpy reference (binedge.lstm_integer) and
the PyTorch eval path (binedge.lstm_quant, CharLSTM.integer_eval) agree code for code and score for
score; the tables, the rounding rule and the refusals; the integer model is close to the float one."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from binedge import lstm_integer as li
from binedge.lm import CharLSTM, evaluate_lm
from binedge.lstm_quant import integer_scores
from char_models import train_char_lstm

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "data" / "tiny_corpus.txt"


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _exact_rshift(v: int, s: int) -> int:
    return int((Fraction(v, 2 ** s) + Fraction(1, 2)).__floor__())


def test_rshift_is_the_rounding_rule():
    for v in (5, -5, 3, -3, -1, 1, 0, 2 ** 31 - 1, -(2 ** 31 - 1), 12345, -12345, 2 ** 30 + 2 ** 29, -(2 ** 29)):
        for s in (1, 2, 5, 15, 19, 23, 30):
            assert int(li.rshift(v, s)) == _exact_rshift(v, s), (v, s)
    assert li.rshift([5, -5, -1], 1).tolist() == [3, -2, 0]  # halves up: 2.5 -> 3, -2.5 -> -2, -0.5 -> 0
    assert li.round_half_up([2.5, -2.5, -0.5, 0.49999999999999994]).tolist() == [3, -2, 0, 0]


def test_tables():
    assert li.SIG.shape == li.TANH.shape == (li.Z_MAX - li.Z_MIN + 1,)
    assert li.SIG[0] == 11 and li.SIG[-li.Z_MIN] == 16384 and li.SIG[-1] == 32757
    assert li.TANH[0] == -32767 and li.TANH[-li.Z_MIN] == 0 and li.TANH[-1] == 32767
    assert (np.diff(li.SIG) >= 0).all() and (np.diff(li.TANH) >= 0).all()
    assert li.SIG.max() < 2 ** 15 and np.abs(li.TANH).max() < 2 ** 15
    # every entry is the exact rounding of the float64 function (rational check of a few)
    for k in (-512, -300, -1, 0, 1, 37, 300, 511):
        y = 2 ** 15 * np.tanh(k / 64)
        assert li.TANH[k - li.Z_MIN] == max(-32767, min(32767, int(np.floor(y + 0.5))))
    # pinned bit for bit (little-endian int16 SIG then TANH)
    assert li.tables_sha256() == "5450a15c0f24310c527603f5bf9805a8841257e15f9e977e0d5d4972d533c41a"


def _random_model(seed, vocab=13, hidden=24, layers=1, weights="bwn", scale=None, bias_std=1.0):
    torch.manual_seed(seed)
    m = CharLSTM(vocab, hidden, layers, weights)
    with torch.no_grad():
        for layer in m.lstm.layers:
            layer.bias.normal_(0, bias_std)
            if scale is not None:
                for g in layer.gate_matrices():
                    g.kernel_scale.fill_(scale)
        m.out.weight.normal_(0, 0.3)
        m.out.bias.normal_(0, 0.5)
    return m.eval()


def _compare(m, ids: torch.Tensor, c_frac=li.C_FRAC):
    """torch path == numpy reference on every stream: scores, h and c codes at every step."""
    k = li.build_constants(m, c_frac=c_frac)
    scores, (h, c) = integer_scores(m, ids, constants=k)
    stats = {"c_sat": 0, "h_sat": 0}
    for b in range(ids.shape[0]):
        state, s_np, h_np, c_np = li.run(k, ids[b].numpy())
        assert np.array_equal(scores[b].numpy().astype(np.int64), s_np)
        assert np.array_equal(h[:, b].numpy().astype(np.int64), state[0])
        assert np.array_equal(c[:, b].numpy().astype(np.int64), state[1])
        stats["c_sat"] += int((np.abs(c_np) == li.C_MAX).sum())
        stats["h_sat"] += int((np.abs(h_np) == li.H_MAX).sum())
    # every step's codes, through the module's own eval path (state carried across two calls)
    m.integer_eval, m.integer_c_frac = True, c_frac
    half = ids.shape[1] // 2
    l1, st = m(ids[:, :half])
    l2, st2 = m(ids[:, half:], st)
    m.integer_eval = False
    assert torch.equal(torch.cat([l1, l2], 1), scores * 2.0 ** -k.score_shift)
    assert torch.equal(st2[0], h) and torch.equal(st2[1], c)
    return k, scores, stats


@pytest.mark.parametrize("weights,layers,scale,c_frac", [("bwn", 1, None, 10), ("lab", 1, 0.2, 10),
                                                         ("binaryconnect", 1, None, 10), ("bwn", 2, 0.15, 10),
                                                         ("binaryconnect", 1, None, 7), ("lab", 2, 0.3, 14)])
def test_random_models_torch_equals_numpy(weights, layers, scale, c_frac):
    m = _random_model(layers * 10 + len(weights), layers=layers, weights=weights, scale=scale)
    ids = torch.randint(0, m.vocab_size, (2, 300), generator=torch.Generator().manual_seed(1))
    k, scores, _ = _compare(m, ids, c_frac)
    assert len(k.layers) == layers and np.abs(scores.numpy()).max() <= k.score_bound.max()


def test_saturation_of_the_cell_and_the_tables():
    # large biases: i, f, o ≈ 1, g ≈ 1, so c grows by ~1 a step and saturates at C_MAX; z hits both ends
    m = _random_model(3, hidden=16, weights="binaryconnect", bias_std=0.0)
    with torch.no_grad():
        m.lstm.layers[0].bias.fill_(6.0)
    ids = torch.randint(0, m.vocab_size, (1, 200), generator=torch.Generator().manual_seed(2))
    for c_frac in (10, 13):  # |c| < 64, < 8
        k, _, stats = _compare(m, ids, c_frac)
        assert stats["c_sat"] > 0 and stats["h_sat"] > 0


def _corpus_ids():
    from binedge.datasets.text import load_text

    return load_text(CORPUS)


def test_trained_model_torch_equals_numpy_and_is_close_to_float():
    corpus = _corpus_ids()
    m = train_char_lstm(corpus, 32, streams=20, chars=41 * 30)  # ~30 truncated-BPTT steps
    ids = torch.from_numpy(corpus.test[:2 * 250].reshape(2, 250))
    k, scores, _ = _compare(m, ids)
    # float64 check: the integer logits are close to the float model's (quantization only)
    with torch.no_grad():
        m64 = CharLSTM(m.vocab_size, 32, 1, "lab").double()
        m64.load_state_dict(m.state_dict())
        logits_f, _ = m64.eval()(ids)
    logits_i = scores * 2.0 ** -k.score_shift
    err = (logits_i - logits_f).abs()
    assert err.mean() < 0.05 * logits_f.abs().mean() and err.max() < 0.5, (err.mean(), err.max())
    agree = (logits_i.argmax(-1) == logits_f.argmax(-1)).double().mean()
    assert agree > 0.9, agree
    # the output stage alone is exact up to its proved fixed-point error
    h = integer_scores(m, ids[:, :1])[1][0][-1]  # h codes after one step
    w, b = m.out.weight.double(), m.out.bias.double()
    s_row = w.abs().max(1).values / 127
    q = torch.from_numpy(k.wq.astype(np.float64))
    exact = (h @ q.t()) * s_row / 128 + b
    assert (scores[:, 0] * 2.0 ** -k.score_shift - exact).abs().max() <= k.score_error + 1e-12
    # the evaluation protocol runs the integer model (the CE is close to the float one)
    ce_f, n = evaluate_lm(m, corpus.test, streams_max=4, bptt=50)
    m.integer_eval = True
    ce_i, n_i = evaluate_lm(m, corpus.test, streams_max=4, bptt=50)
    m.integer_eval = False
    assert n == n_i and abs(ce_i - ce_f) < 0.05, (ce_f, ce_i)
    # train mode keeps the float path
    m.train().integer_eval = True
    out, (h_f, _) = m(ids[:, :3])
    assert out.dtype == torch.float32 and h_f.dtype == torch.float32 and out.requires_grad


def test_refusals():
    fp = CharLSTM(7, 8, 1, None)
    with pytest.raises(li.IntegerLSTMError, match="not binary.*full precision"):
        li.build_constants(fp)
    m = _random_model(0, vocab=7, hidden=8)
    with torch.no_grad():
        m.lstm.layers[0].bias[3] = 1e7
    with pytest.raises(li.IntegerLSTMError, match="layer 0 gate i"):
        li.build_constants(m)
    m = _random_model(0, vocab=7, hidden=8)
    with torch.no_grad():
        m.lstm.layers[0].bias[9] = float("nan")
    with pytest.raises(li.IntegerLSTMError, match="not all finite"):
        li.build_constants(m)
    m = _random_model(0, vocab=7, hidden=8, weights="lab")
    with torch.no_grad():
        m.lstm.layers[0].w_ho.kernel_scale.fill_(0.0)
    with pytest.raises(li.IntegerLSTMError, match="w_ho.*finite and positive"):
        li.build_constants(m)
    m = _random_model(0, vocab=7, hidden=8)
    with torch.no_grad():
        m.out.bias[2] = 1e6
    with pytest.raises(li.IntegerLSTMError, match="output layer"):
        li.build_constants(m)
    with pytest.raises(li.IntegerLSTMError, match="c_frac must be an integer in \\[7, 14\\]"):
        li.build_constants(_random_model(0, vocab=7, hidden=8), c_frac=6)


def test_reference_checks_int32_at_run_time():
    """The reference refuses to continue when a value leaves int32 (constants tampered with after the proof)."""
    m = _random_model(0, vocab=7, hidden=8, weights="binaryconnect")
    k = li.build_constants(m)
    k.layers[0].mh[:] = 2 ** 30
    with pytest.raises(OverflowError, match="layer 0 gate pre-activation exceeds int32"):
        li.run(k, [1, 2, 3, 4, 5, 6])


def test_eval_script_on_a_trained_run(tmp_path, capsys):
    """scripts/lstm_integer_eval.py end to end on a run trained by binedge.train (tiny sizes)."""
    import importlib.util
    import json

    from binedge.models import ModelConfig
    from binedge.train import TrainConfig, train

    cfg = TrainConfig(model=ModelConfig(model="lstm", weights="lab", hidden=12, depth=1), dataset="text",
                      data_file=str(CORPUS), batch_size=20, bptt=50, lr=0.01, schedule="none", epochs=1,
                      out=str(tmp_path / "run"))
    train(cfg, progress=False, log=lambda *_: None, threads=1)
    path = Path(__file__).resolve().parents[1] / "scripts" / "lstm_integer_eval.py"
    spec = importlib.util.spec_from_file_location("lstm_integer_eval", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main([str(tmp_path / "run"), "--json", str(tmp_path / "r.json")]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert "next-character agreement" in capsys.readouterr().out
    for split in ("val", "test"):
        assert r[split]["chars_scored"] == r[split]["numpy_equal_steps"] == 1980
        assert abs(r[split]["ce_integer"] - r[split]["ce_float"]) < 0.05 and r[split]["agreement"] > 0.9
