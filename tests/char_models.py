"""Small character LSTMs trained in the tests (binedge.lm.CharLSTM with LAB weights on the shipped
tiny corpus): a few truncated-BPTT steps make a model whose constants and scores look like a real
one's, in seconds on one thread."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "data" / "tiny_corpus.txt"


def train_char_lstm(corpus, hidden: int, layers: int = 1, *, streams: int, chars: int, lr: float = 5e-3,
                    seed: int = 0, weights: str = "lab"):
    """A CharLSTM over ``corpus`` (binedge.datasets.text.TextCorpus) trained with binedge.optim.LAB
    by truncated-BPTT steps of 40 characters on ``streams`` parallel streams of ``chars``
    characters each (the start of its training split); returned in eval mode."""
    import torch
    import torch.nn.functional as F

    from binedge.lm import CharLSTM
    from binedge.optim import LAB

    torch.manual_seed(seed)
    m = CharLSTM(corpus.vocab_size, hidden, layers, weights)
    opt = LAB(m, lr=lr)
    train = torch.from_numpy(corpus.train[:streams * chars].reshape(streams, -1))
    state = None
    for s in range(0, train.shape[1] - 41, 40):
        logits, state = m(train[:, s:s + 40], state)
        state = tuple(x.detach() for x in state)
        loss = F.cross_entropy(logits.reshape(-1, m.vocab_size), train[:, s + 1:s + 41].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()
