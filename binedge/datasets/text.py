"""Character corpora for language models: ``binedge train --dataset text --data-file FILE``.

Reading: the file's bytes are decoded as UTF-8 (a character is a Unicode code point); a file
that is not valid UTF-8 is read as bytes (a character is one byte, 0..255). The run records which
("encoding": "utf-8" or "bytes") and the file's SHA-256, so ``--resume`` refuses a file that
changed.

Split (LAB's paper, Linux kernel corpus: 90 / 5 / 5, in order): of n characters the last
⌊n/20⌋ are the test split, the ⌊n/20⌋ before them the validation split, all the rest (the first
n − 2⌊n/20⌋) the training split. Nothing is shuffled: the splits are contiguous text.

Vocabulary: the distinct characters of the training split only, sorted by code point (byte
value), take ids 1..V; id 0 is the explicit unknown character ``UNKNOWN`` ("<unk>"), which every
validation or test character absent from the training split maps to (their number is recorded,
"unknown_val" / "unknown_test"). The model's softmax therefore has V + 1 classes; id 0 never
occurs as a training target, so the model learns to give it little probability, and an unseen
character in the evaluation splits costs what the model gives "<unk>" (no character is dropped).

Errors are :class:`~binedge.data.DatasetError` s naming the file and the fix: a missing file, a
directory, an unreadable or empty file, and (:func:`check_lengths`) a file too short for the
split, the batch of parallel streams and the BPTT length.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import DatasetError

#: the id and the name of the unknown character
UNKNOWN_ID = 0
UNKNOWN = "<unk>"
#: parts of 20 that are validation and test (LAB: 90 / 5 / 5)
EVAL_PART = 20


@dataclass
class TextCorpus:
    """A character corpus split into train / validation / test id arrays (int64)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    vocab: list  # vocab[i] = the character of id i; vocab[0] = UNKNOWN
    source: dict = field(default_factory=dict)  # format, path, fingerprint, encoding, sizes, unknown counts
    name: str = "text"

    @property
    def vocab_size(self) -> int:
        """Classes of the softmax: the training split's distinct characters + the unknown id."""
        return len(self.vocab)

    def encode(self, text) -> np.ndarray:
        index = {ch: i for i, ch in enumerate(self.vocab) if i != UNKNOWN_ID}
        return np.array([index.get(ch, UNKNOWN_ID) for ch in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join("\ufffd" if int(i) == UNKNOWN_ID else self.vocab[int(i)] for i in ids)


def split_sizes(n: int) -> tuple[int, int, int]:
    """(train, val, test) lengths of an n-character corpus (module docstring)."""
    k = n // EVAL_PART
    return n - 2 * k, k, k


def read_text(path) -> tuple[str, str, bytes]:
    """(text, encoding, raw bytes) of ``path``: UTF-8 if it decodes, else bytes (latin-1: one
    character per byte value). DatasetError for a missing, unreadable or empty file."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "no such file", "give a text file with --data-file (the repository ships "
                                                 "examples/data/tiny_corpus.txt)")
    if path.is_dir():
        raise DatasetError(path, "is a directory; --data-file takes one text file",
                           "concatenate the files into one (e.g. scripts/linux_corpus.py for the Linux corpus)")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DatasetError(path, f"cannot be read ({e.strerror or e})", "check the file's permissions") from None
    if not raw:
        raise DatasetError(path, "is empty", "give a text file with some characters in it")
    try:
        return raw.decode("utf-8"), "utf-8", raw
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "bytes", raw


def load_text(path) -> TextCorpus:
    """Read, split and encode a character corpus (module docstring)."""
    text, encoding, raw = read_text(path)
    n = len(text)
    n_train, n_val, n_test = split_sizes(n)
    if n_val < 2:
        raise DatasetError(path, f"holds {n:,} characters, too few for the 90/5/5 split: its validation and test "
                                 f"parts (1/20 each) would hold {n_val} character(s), and a model needs at least 2 "
                                 f"(one input, one next character) to be evaluated",
                           f"give a text of at least {2 * EVAL_PART} characters (a few thousand or more to learn "
                           f"anything)")
    train_text, val_text, test_text = text[:n_train], text[n_train:n_train + n_val], text[n_train + n_val:]
    vocab = [UNKNOWN] + sorted(set(train_text))
    index = {ch: i for i, ch in enumerate(vocab) if i != UNKNOWN_ID}

    def ids(part: str) -> np.ndarray:
        return np.fromiter((index.get(ch, UNKNOWN_ID) for ch in part), dtype=np.int64, count=len(part))

    val, test = ids(val_text), ids(test_text)
    source = {"format": "text", "path": str(Path(path).resolve()), "fingerprint": hashlib.sha256(raw).hexdigest(),
              "encoding": encoding, "characters": n, "sizes": {"train": n_train, "val": n_val, "test": n_test},
              "vocab_size": len(vocab), "unknown_val": int((val == UNKNOWN_ID).sum()),
              "unknown_test": int((test == UNKNOWN_ID).sum())}
    return TextCorpus(ids(train_text), val, test, vocab, source)


def check_lengths(corpus: TextCorpus, batch_size: int, bptt: int, path=None) -> None:
    """DatasetError unless the training split gives each of ``batch_size`` parallel streams at
    least one full BPTT chunk (``bptt`` inputs and their next characters: bptt + 1 characters)."""
    n = len(corpus.train)
    need = batch_size * (bptt + 1)
    if n < need:
        total = corpus.source.get("characters", n)
        raise DatasetError(path or corpus.source.get("path", "--data-file"),
                           f"holds {total:,} characters, whose training split (the first 90%, {n:,} characters) is "
                           f"shorter than --batch-size {batch_size} streams x (--bptt {bptt} + 1) = {need:,} "
                           f"characters, one truncated-BPTT chunk per stream",
                           "use a longer text, or fewer streams or shorter chunks: " + _fits(n, batch_size, bptt))


def _fits(n: int, batch_size: int, bptt: int) -> str:
    """What fits a training split of n characters, for check_lengths' message."""
    ways = []
    if n // (bptt + 1) >= 1:
        ways.append(f"--batch-size {n // (bptt + 1)} or less with --bptt {bptt}")
    if n // batch_size - 1 >= 1:
        ways.append(f"--bptt {n // batch_size - 1} or less with --batch-size {batch_size}")
    return " or ".join(ways) if ways else "the text is too short for any batch"


def streams(ids: np.ndarray, count: int) -> np.ndarray:
    """The text as ``count`` parallel streams (count, L): stream s is the s-th of ``count``
    consecutive pieces of L = len(ids) // count characters; the last len(ids) mod count characters
    are left out."""
    length = len(ids) // count
    return np.ascontiguousarray(ids[:count * length].reshape(count, length))


__all__ = ["TextCorpus", "UNKNOWN", "UNKNOWN_ID", "check_lengths", "load_text", "read_text", "split_sizes",
           "streams"]
