"""The PyTorch path of the integer LSTM: what :class:`binedge.lm.CharLSTM` computes in eval mode
with ``integer_eval=True`` (docs/numerics.md, "Recurrent: the binary-weight LSTM step").

The integers of binedge.lstm_integer's spec, computed batched in torch float64: every value is
an integer below 2^31 in magnitude (products included, as the spec proves), sums of ±1 times
int8 codes stay below 2^53, and the rounding shift floor((v + 2^(s-1)) · 2^-s) is exact in float64
(multiplying by a power of two is exact, floor is exact). So this path equals the numpy reference
code for code and score for score (tests/test_lstm_integer.py checks it on the CPU; float64 is
exact the same way on CUDA, where it has not been run yet), and the
logits it returns are score · 2^-S_out exactly. The integer constants come from
:func:`binedge.lstm_integer.build_constants` (the same rounding of α, biases and the output layer);
the computation here is independent of the numpy reference's.

It is an eval path only (no gradient): training keeps the float LSTM.
"""

from __future__ import annotations

import torch

from .lstm_integer import (C_FRAC, C_MAX, H_FRAC, H_MAX, LUT_FRAC, SIG, TANH, Z_FRAC, Z_MAX, Z_MIN,
                           build_constants)


def _rshift(v: torch.Tensor, s) -> torch.Tensor:
    """floor((v + 2^(s-1)) / 2^s), exact for float64 integers |v| < 2^52 (s ≥ 1, a number or a tensor)."""
    if isinstance(s, torch.Tensor):
        return torch.floor((v + torch.ldexp(torch.ones_like(s), s - 1)) * torch.ldexp(torch.ones_like(s), -s))
    return torch.floor((v + 2.0 ** (s - 1)) * 2.0 ** -s)


class _Tensors:
    """The constants as float64 tensors on one device, gates stacked (4H rows, order i, f, g, o)."""

    def __init__(self, k, device):
        f64 = dict(dtype=torch.float64, device=device)
        H = k.hidden
        self.layers = []
        for L in k.layers:
            rows = lambda a: torch.tensor(a, **f64).repeat_interleave(H)  # noqa: E731 - per gate → per row
            self.layers.append({
                "wx": torch.tensor(L.wx.reshape(4 * H, -1), **f64),
                "wh": torch.tensor(L.wh.reshape(4 * H, H), **f64),
                "mx": rows(L.mx), "mh": rows(L.mh), "b": torch.tensor(L.b.reshape(-1), **f64),
                "shift": torch.tensor(L.shift, dtype=torch.int64, device=device).repeat_interleave(H),
                "onehot": L.onehot})
        self.sig = torch.tensor(SIG, **f64)
        self.tanh = torch.tensor(TANH, **f64)
        self.wq = torch.tensor(k.wq, **f64)
        self.m, self.o = torch.tensor(k.m, **f64), torch.tensor(k.o, **f64)
        self.score_shift = k.score_shift

    def lut(self, table: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return table[(z.clamp(Z_MIN, Z_MAX) - Z_MIN).long()]


def model_constants(model):
    """build_constants of ``model`` with its ``integer_c_frac`` (default C_FRAC)."""
    return build_constants(model, c_frac=getattr(model, "integer_c_frac", C_FRAC))


@torch.no_grad()
def integer_scores(model, ids: torch.Tensor, state=None, constants=None):
    """(scores (B, T, V) as float64 integers, (h codes, c codes) each (layers, B, H) float64) of
    the integer model over character ids (B, T), from ``state`` (codes; None: zeros)."""
    k = constants if constants is not None else model_constants(model)
    device = ids.device
    t = _Tensors(k, device)
    B, T = ids.shape
    H, nl = k.hidden, len(k.layers)
    if state is None:
        hs = torch.zeros(nl, B, H, dtype=torch.float64, device=device)
        cs = torch.zeros_like(hs)
    else:
        hs, cs = (s.to(device=device, dtype=torch.float64) for s in state)
    hs, cs = list(hs.unbind(0)), list(cs.unbind(0))
    xparts0 = t.layers[0]["wx"].t()[ids] * t.layers[0]["mx"]  # (B, T, 4H): one-hot picks a ±1 column
    out = []
    for step in range(T):
        x = None
        for l, L in enumerate(t.layers):
            acc_h = hs[l] @ L["wh"].t()
            xpart = xparts0[:, step] if L["onehot"] else L["mx"] * (x @ L["wx"].t())
            v = L["mh"] * acc_h + xpart + L["b"]
            z = _rshift(v, L["shift"])
            zi, zf, zg, zo = z.chunk(4, dim=-1)
            i, f, g, o = t.lut(t.sig, zi), t.lut(t.sig, zf), t.lut(t.tanh, zg), t.lut(t.sig, zo)
            c = (_rshift(f * cs[l], LUT_FRAC) + _rshift(i * g, 2 * LUT_FRAC - k.c_frac)).clamp(-C_MAX, C_MAX)
            h = _rshift(o * t.lut(t.tanh, _rshift(c, k.c_frac - Z_FRAC)), 2 * LUT_FRAC - H_FRAC).clamp(-H_MAX, H_MAX)
            hs[l], cs[l] = h, c
            x = h
        out.append(t.m * (x @ t.wq.t()) + t.o)
    return torch.stack(out, 1), (torch.stack(hs, 0), torch.stack(cs, 0))


def integer_forward(model, ids: torch.Tensor, state=None, constants=None):
    """CharLSTM.forward of the integer model: (logits = scores · 2^-S_out, float64 (B, T, V);
    state as codes). The state is not interchangeable with the float LSTM's."""
    k = constants if constants is not None else model_constants(model)
    scores, state = integer_scores(model, ids, state, k)
    return scores * 2.0 ** -k.score_shift, state


__all__ = ["integer_forward", "integer_scores", "model_constants"]
