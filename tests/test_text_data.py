"""Character corpora (binedge.datasets.text), the shipped tiny corpus and scripts/linux_corpus.py's
file selection on a fake source tree."""

import hashlib
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from binedge.data import DatasetError
from binedge.datasets.text import UNKNOWN_ID, check_lengths, load_text, split_sizes, streams

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "examples" / "data" / "tiny_corpus.txt"


def _script(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_split_90_5_5_in_order_vocabulary_from_training_only(tmp_path):
    # 40 characters: train = 36, val = 2, test = 2 (n // 20 each), in order.
    text = "abcab" * 7 + "a" + "xy" + "bz"  # 36 + 4
    assert len(text) == 40
    f = tmp_path / "t.txt"
    f.write_text(text)
    c = load_text(f)
    assert split_sizes(40) == (36, 2, 2)
    assert c.vocab == ["<unk>", "a", "b", "c"]  # training characters, sorted; id 0 the unknown
    assert c.train.tolist() == [{"a": 1, "b": 2, "c": 3}[ch] for ch in text[:36]]
    assert c.val.tolist() == [UNKNOWN_ID, UNKNOWN_ID]  # x, y never seen in training
    assert c.test.tolist() == [2, UNKNOWN_ID]  # b, z
    assert c.source["unknown_val"] == 2 and c.source["unknown_test"] == 1
    assert c.source["encoding"] == "utf-8" and c.source["characters"] == 40
    assert c.source["fingerprint"] == hashlib.sha256(text.encode()).hexdigest()
    assert c.decode(c.test) == "b\ufffd"


def test_split_sizes_by_hand():
    assert split_sizes(6_210_000) == (5_589_000, 310_500, 310_500)
    assert split_sizes(41) == (37, 2, 2)
    assert split_sizes(59) == (55, 2, 2)
    assert split_sizes(60) == (54, 3, 3)


def test_utf8_characters_are_code_points_and_invalid_utf8_is_bytes(tmp_path):
    f = tmp_path / "u.txt"
    f.write_text("é€" * 30, encoding="utf-8")  # 60 characters, 150 bytes
    c = load_text(f)
    assert c.source["encoding"] == "utf-8" and c.source["characters"] == 60 and c.vocab == ["<unk>", "é", "€"]
    g = tmp_path / "b.bin"
    g.write_bytes(bytes([0xff, 0x41]) * 30)  # not UTF-8: one character per byte
    c = load_text(g)
    assert c.source["encoding"] == "bytes" and c.source["characters"] == 60
    assert c.vocab == ["<unk>", "A", "\xff"]


def test_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.txt: no such file\. Fix: give a text file"):
        load_text(tmp_path / "nope.txt")
    with pytest.raises(DatasetError, match="is a directory"):
        load_text(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.txt: is empty"):
        load_text(empty)
    short = tmp_path / "short.txt"
    short.write_text("x" * 39)  # 39 // 20 = 1 character of validation
    with pytest.raises(DatasetError, match=r"short\.txt: holds 39 characters, too few .* at least 40"):
        load_text(short)


def test_too_short_for_batch_and_bptt(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("ab" * 500)  # 1000 characters, training split 900
    c = load_text(f)
    check_lengths(c, 9, 99)  # 9 × 100 = 900: fits exactly
    with pytest.raises(DatasetError, match=r"c\.txt: holds 1,000 characters, whose training split .* 900 .* "
                                           r"--batch-size 10 streams x \(--bptt 99 \+ 1\) = 1,000") as e:
        check_lengths(c, 10, 99)
    assert "--batch-size 9 or less with --bptt 99" in str(e.value) and "--bptt 89 or less" in str(e.value)


def test_streams_are_consecutive_pieces():
    ids = np.arange(23)
    s = streams(ids, 4)  # 5 characters each, the last 3 left out
    assert s.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]


def test_shipped_tiny_corpus_is_what_its_generator_writes(tmp_path):
    gen = _script("make_tiny_corpus", REPO / "examples" / "data" / "make_tiny_corpus.py")
    out = tmp_path / "tiny.txt"
    gen.main([str(out)])
    assert out.read_bytes() == TINY.read_bytes()
    assert 20_000 <= TINY.stat().st_size <= 64_000
    c = load_text(TINY)
    assert c.source["encoding"] == "utf-8" and c.vocab_size > 40


# ----------------------------------------------------------------------------- scripts/linux_corpus.py

FAKE = {  # a fake tree: what is selected, and what is not
    "Makefile": "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 192\nall:\n",
    "kernel/fork.c": "int fork(void) { return 0; }\n",
    "kernel/Makefile": "obj-y += fork.o\n",
    "kernel/sched/core.c": "void schedule(void) {}\n",
    "kernel/acct.c": "/* acct */\n",
    "kernel/bpf/a.h": "#define A 1\n",
    "kernel/notes.txt": "not code\n",
    "kernel/latin1.c": b"/* caf\xe9 */\n",  # not UTF-8: skipped
    "mm/slab.c": "void *kmalloc(void);\n",
    "kernelx/other.c": "int other;\n",  # a prefix of kernel/, not under it
}


def _fake_tar(tmp_path) -> Path:
    path = tmp_path / "linux-source-6.1.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        for name, content in FAKE.items():
            data = content if isinstance(content, bytes) else content.encode()
            info = tarfile.TarInfo("linux-source-6.1/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_linux_corpus_selection_order_and_cut(tmp_path):
    lc = _script("linux_corpus", REPO / "scripts" / "linux_corpus.py")
    # the pure selection rule: under kernel/, .c and .h, path byte order ("bpf/" < "fork.c" < "sched/")
    assert lc.select(FAKE) == ["kernel/acct.c", "kernel/bpf/a.h", "kernel/fork.c", "kernel/latin1.c",
                               "kernel/sched/core.c"]
    assert lc.select(FAKE, dirs=("mm", "kernel"))[:2] == ["mm/slab.c", "kernel/acct.c"]
    expect = "/* acct */\n#define A 1\nint fork(void) { return 0; }\nvoid schedule(void) {}\n"
    tar = _fake_tar(tmp_path)
    corpus, manifest = lc.build(tar, characters=10_000)
    assert corpus == expect
    assert manifest["skipped_not_utf8"] == ["kernel/latin1.c"] and manifest["kernel_version"] == "6.1.192"
    assert [f["file"] for f in manifest["files"]] == ["kernel/acct.c", "kernel/bpf/a.h", "kernel/fork.c",
                                                     "kernel/sched/core.c"]
    # cut at exactly --characters, part-way through a file
    corpus, manifest = lc.build(tar, characters=30)
    assert corpus == expect[:30] and manifest["characters"] == 30
    assert manifest["files"][-1] == {"file": "kernel/fork.c", "characters": 30 - 11 - 12, "of": 29}
    # an unpacked tree gives the same text; the command line writes the corpus and its manifest
    root = tmp_path / "tree" / "linux-source-6.1"
    for name, content in FAKE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    assert lc.build(tmp_path / "tree", characters=10_000)[0] == expect
    out = tmp_path / "out" / "corpus.txt"
    assert lc.main(["--source", str(tar), "-o", str(out), "--characters", "40"]) == 0
    assert out.read_text() == expect[:40]
    m = json.loads((tmp_path / "out" / "corpus.txt.json").read_text())
    assert m["sha256"] == hashlib.sha256(expect[:40].encode()).hexdigest() and m["characters"] == 40


def test_linux_corpus_missing_source_says_how_to_install(tmp_path):
    lc = _script("linux_corpus", REPO / "scripts" / "linux_corpus.py")
    with pytest.raises(SystemExit, match="apt-get install --no-install-recommends linux-source-6.1"):
        lc.main(["--source", str(tmp_path / "none.tar.xz"), "-o", str(tmp_path / "c.txt")])
    assert not (tmp_path / "c.txt").exists()
