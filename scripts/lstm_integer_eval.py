"""Integer vs float character LSTM on a run's test (and validation) split.

    .venv/bin/python scripts/lstm_integer_eval.py runs/RUN [--checkpoint best.pt] [--json OUT.json]

Reads RUN's checkpoint and corpus (config.json's data file, checked by SHA-256), builds the integer
constants (binedge.lstm_integer.build_constants; refused models stop here), and evaluates with
binedge.lm.evaluate_lm's protocol (S = min(batch size, n/2) streams from a zero state, chunks of
--bptt steps, state carried): the float model's and the integer model's cross-entropy in nats,
next-character agreement (argmax of the float logits == argmax of the integer scores, first maximum
on ties), each model's accuracy, integer score ties, how often the cell state and h saturate; and
checks that the numpy reference gives the same int32 scores as the PyTorch path on every stream.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from binedge import lstm_integer as li  # noqa: E402
from binedge.datasets.text import load_text, streams  # noqa: E402
from binedge.lstm_quant import integer_scores  # noqa: E402
from binedge.models import build_model  # noqa: E402
from binedge.train import TrainConfig  # noqa: E402


def compare_split(model, k, ids, *, streams_max: int, bptt: int, check_numpy: bool) -> dict:
    count = max(1, min(int(streams_max), len(ids) // 2))
    data = torch.from_numpy(streams(ids, count))
    nll_f = nll_i = 0.0
    n = agree = acc_f = acc_i = ties = 0
    fstate = istate = None
    all_scores, all_h, all_c, all_cf = [], [], [], []
    with torch.no_grad():
        for s in range(0, data.shape[1] - 1, bptt):
            y = data[:, s + 1:s + bptt + 1]
            x = data[:, s:s + y.shape[1]]
            lf, fstate = model(x, fstate)
            sc, istate = integer_scores(model, x, istate, k)
            li_ = sc * 2.0 ** -k.score_shift
            nll_f += float(F.cross_entropy(lf.double().reshape(-1, lf.shape[-1]), y.reshape(-1), reduction="sum"))
            nll_i += float(F.cross_entropy(li_.reshape(-1, li_.shape[-1]), y.reshape(-1), reduction="sum"))
            pf, pi = lf.argmax(-1), sc.argmax(-1)
            top2 = sc.topk(2, -1).values
            ties += int((top2[..., 0] == top2[..., 1]).sum())
            agree += int((pf == pi).sum())
            acc_f += int((pf == y).sum())
            acc_i += int((pi == y).sum())
            n += y.numel()
            all_scores.append(sc)
            all_h.append(istate[0].clone())
            all_c.append(istate[1].clone())
            all_cf.append(fstate[1].abs().max())
    scores = torch.cat(all_scores, 1).numpy().astype(np.int64)
    out = {"streams": count, "chars_scored": n, "ce_float": nll_f / n, "ce_integer": nll_i / n,
           "agreement": agree / n, "acc_float": acc_f / n, "acc_integer": acc_i / n, "integer_score_ties": ties,
           "max_abs_c_float_at_chunk_ends": float(max(all_cf))}
    if check_numpy:
        t0 = time.time()
        c_sat = h_sat = steps = 0
        cmax = 0
        for b in range(count):
            _, s_np, h_np, c_np = li.run(k, data[b, :scores.shape[1]].numpy())
            if not np.array_equal(s_np, scores[b]):
                raise SystemExit(f"numpy reference and torch path differ on stream {b}")
            c_sat += int((np.abs(c_np) == li.C_MAX).sum())
            h_sat += int((np.abs(h_np) == li.H_MAX).sum())
            cmax = max(cmax, int(np.abs(c_np).max()))
            steps += len(s_np)
        out.update({"numpy_equal_steps": steps, "numpy_seconds": round(time.time() - t0, 2),
                    "c_saturated_units": c_sat, "h_saturated_units": h_sat, "max_abs_c_code": cmax,
                    "max_abs_c_integer": cmax / 2 ** k.c_frac})
    return out


@torch.no_grad()
def float_cell_stats(model, ids, streams_max: int, c_frac: int) -> dict:
    """max |c| of the float model over every step of the split's streams, and the fraction of cell
    values beyond the integer clamp C_MAX / 2^C_FRAC."""
    count = max(1, min(int(streams_max), len(ids) // 2))
    x = F.one_hot(torch.from_numpy(streams(ids, count)), model.vocab_size).float().transpose(0, 1)
    limit = li.C_MAX / 2 ** c_frac
    hs = [torch.zeros(count, model.lstm.hidden_size) for _ in model.lstm.layers]
    cs = [torch.zeros_like(h) for h in hs]
    cmax, beyond, total = 0.0, 0, 0
    for t in range(x.shape[0]):
        inp = x[t:t + 1]
        for l, layer in enumerate(model.lstm.layers):
            inp, hs[l], cs[l] = layer(inp, hs[l], cs[l])
            cmax = max(cmax, float(cs[l].abs().max()))
            beyond += int((cs[l].abs() > limit).sum())
            total += cs[l].numel()
    return {"max_abs_c_float": cmax, "c_float_beyond_clamp": beyond / total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("--checkpoint", default="best.pt")
    ap.add_argument("--bptt", type=int, default=None, help="default: the run's")
    ap.add_argument("--streams", type=int, default=None, help="default: the run's batch size")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--c-frac", type=int, default=li.C_FRAC, help="cell state fraction bits (|c| < 2^(16 - c_frac))")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    run = Path(a.run)
    ck = torch.load(run / a.checkpoint, map_location="cpu", weights_only=False)
    cfg = TrainConfig.from_dict(ck["config"])
    model = build_model(cfg.model)
    model.load_state_dict(ck["model"])
    model.eval()
    corpus = load_text(cfg.data_file)
    if corpus.source["fingerprint"] != cfg.data_info["fingerprint"]:
        raise SystemExit(f"{cfg.data_file} changed since the run was trained")
    k = li.build_constants(model, c_frac=a.c_frac)
    bptt = a.bptt or cfg.bptt
    streams_max = a.streams or cfg.batch_size
    report = {"run": str(run), "checkpoint": a.checkpoint, "epoch": ck.get("epoch"), "weights": cfg.model.weights,
              "hidden": cfg.model.hidden, "depth": cfg.model.depth, "vocab": model.vocab_size, "bptt": bptt,
              "constants": k.info}
    for split in ("val", "test"):
        report[split] = compare_split(model, k, getattr(corpus, split), streams_max=streams_max, bptt=bptt,
                                      check_numpy=True)
        report[split].update(float_cell_stats(model, getattr(corpus, split), streams_max, k.c_frac))
    for split in ("val", "test"):
        r = report[split]
        print(f"{split}: {r['chars_scored']} characters, cross-entropy float {r['ce_float']:.4f} / integer "
              f"{r['ce_integer']:.4f} nats ({r['ce_float'] / math.log(2):.4f} / {r['ce_integer'] / math.log(2):.4f}"
              f" bits), next-character agreement {r['agreement']:.4f}, accuracy float {r['acc_float']:.4f} / "
              f"integer {r['acc_integer']:.4f}, integer score ties {r['integer_score_ties']}, saturated c / h units "
              f"{r['c_saturated_units']} / {r['h_saturated_units']}, max |c| integer {r['max_abs_c_integer']:.2f} / "
              f"float {r['max_abs_c_float']:.2f} (float beyond the clamp: {r['c_float_beyond_clamp']:.2e}), "
              f"numpy == torch on {r['numpy_equal_steps']} steps")
    print("constants:", json.dumps(k.info))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
