"""binedge.datasets: image folder trees, .npz arrays and CSV tables as one Dataset — the fixed
splits, the recorded input coding, and a clean error naming the file for every bad input."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_checks import clean_error
from click.testing import CliRunner
from PIL import Image

from binedge.cli import main
from binedge.data import DatasetError, InputCoding, model_input
from binedge.datasets import detect, open_dataset
from binedge.datasets.folder import decode, load_folder
from binedge.datasets.tables import fit_coding, load_csv, load_npz, positional_split


def png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def tree(root: Path, classes=("cat", "dog", "eel"), n=12, h=6, w=5, rgb=False, seed=0) -> dict:
    """root/<class>/<i>.png with random pixels; returns {class: [arrays in file order]}."""
    rng = np.random.default_rng(seed)
    out = {}
    for c in classes:
        out[c] = []
        for i in range(n):
            a = rng.integers(0, 256, (h, w, 3) if rgb else (h, w), dtype=np.uint8)
            png(root / c / f"{i:03d}.png", a)
            out[c].append(a)
    return out


# ----------------------------------------------------------------------------- image folders


def test_folder_split_classes_and_pixels(tmp_path):
    arrays = tree(tmp_path / "imgs")
    ds = load_folder(tmp_path / "imgs")
    assert ds.class_names == ["cat", "dog", "eel"] and ds.name == "folder"
    # per class, of every ten files (sorted) the 9th validates and the 10th tests: 12 files -> 10 / 1 / 1
    assert (len(ds.train), len(ds.val), len(ds.test)) == (30, 3, 3)
    assert ds.image_shape == (6, 5, 1) and ds.train.images.shape == (30, 6, 5)
    np.testing.assert_array_equal(ds.val.images[1], arrays["dog"][8])
    np.testing.assert_array_equal(ds.test.images[2], arrays["eel"][9])
    np.testing.assert_array_equal(ds.train.images[10], arrays["dog"][0])
    assert ds.val.labels.tolist() == [0, 1, 2] and ds.train.labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    coding = ds.input_coding
    assert (coding.kind, coding.dtype, coding.shape, coding.scale) == ("image", "u8", (6, 5, 1), 1 / 255)
    assert len(ds.source["fingerprint"]) == 64 and ds.source["path"] == str((tmp_path / "imgs").resolve())


def test_folder_color_and_presplit_layout(tmp_path):
    tree(tmp_path / "t" / "train", classes=("a", "b"), n=11)
    tree(tmp_path / "t" / "test", classes=("b",), n=2, seed=1)
    png(tmp_path / "t" / "train" / "a" / "zz-color.png", np.full((6, 5, 3), (255, 0, 0)))  # one RGB file
    ds = load_folder(tmp_path / "t")
    assert ds.image_shape == (6, 5, 3)  # auto: one colour file makes the set RGB
    assert (len(ds.train), len(ds.val), len(ds.test)) == (21, 2, 2)  # val: the 10th of each training class
    assert ds.test.labels.tolist() == [1, 1]
    gray = load_folder(tmp_path / "t", color="gray")
    assert gray.image_shape == (6, 5, 1) and gray.train.images.ndim == 3


def test_folder_resize_and_crop(tmp_path):
    a = np.zeros((4, 8), np.uint8)
    a[:, 2:6] = 200  # the centre 4 columns
    f = png(tmp_path / "x.png", a)
    np.testing.assert_array_equal(decode(f, gray=True, size=(4, 4)), a[:, 2:6])  # centre crop, no scaling
    assert decode(f, gray=False, size=(2, 2)).shape == (2, 2, 3)  # scaled to cover 2x2 (2x4), then cropped


def test_folder_decoding_in_workers_equals_in_process(tmp_path):
    tree(tmp_path / "imgs", n=10)
    a = load_folder(tmp_path / "imgs", workers=0)
    b = load_folder(tmp_path / "imgs", workers=2)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part).images, getattr(b, part).images)


def test_folder_errors_name_the_file(tmp_path):
    tree(tmp_path / "sizes", classes=("a", "b"), n=3)
    png(tmp_path / "sizes" / "b" / "odd.png", np.zeros((7, 7)))
    with pytest.raises(DatasetError, match=r"odd\.png: is 7x7 pixels .*--image-size"):
        load_folder(tmp_path / "sizes")
    assert load_folder(tmp_path / "sizes", size=(4, 4)).image_shape == (4, 4, 1)

    tree(tmp_path / "corrupt", classes=("a", "b"), n=3)
    (tmp_path / "corrupt" / "a" / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    with pytest.raises(DatasetError, match=r"a/001\.png: not a readable PNG/JPEG image"):
        load_folder(tmp_path / "corrupt")

    tree(tmp_path / "empty", classes=("a", "b"), n=3)
    (tmp_path / "empty" / "c").mkdir()
    (tmp_path / "empty" / "c" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"empty/c: class folder holds no PNG/JPEG images \(a class with no samples"):
        load_folder(tmp_path / "empty")

    tree(tmp_path / "p" / "train", classes=("a", "b"), n=3)
    tree(tmp_path / "p" / "test", classes=("a", "zebra"), n=1)
    with pytest.raises(DatasetError, match=r"test/zebra: class 'zebra' is not among the training classes"):
        load_folder(tmp_path / "p")

    deep = tmp_path / "deep"
    tree(deep, classes=("a", "b"), n=2)
    Image.fromarray(np.zeros((6, 5), np.uint16) + 1000).save(deep / "a" / "z16.png")
    with pytest.raises(DatasetError, match=r"z16\.png: is a I;16 image"):
        load_folder(deep)


# ----------------------------------------------------------------------------- .npz


def test_npz_images_and_features(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 4, 4), dtype=np.uint8)
    y = np.arange(40) % 4
    np.savez(tmp_path / "img.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5],
             class_names=np.array(["w", "x", "y", "z"]))
    ds = load_npz(tmp_path / "img.npz")
    assert ds.image_shape == (4, 4, 1) and ds.class_names == ["w", "x", "y", "z"]
    assert (len(ds.train), len(ds.val), len(ds.test)) == (36, 4, 5)  # val: every 10th training row
    tr, va, _ = positional_split(40, val=True, test=False)
    np.testing.assert_array_equal(ds.val.images, x[va])
    np.testing.assert_array_equal(ds.train.images, x[tr])

    f = rng.normal(5.0, 3.0, (50, 3)) * np.array([1.0, 100.0, 0.01])
    np.savez(tmp_path / "feat.npz", x_train=f, y_train=np.arange(50) % 2)
    ds = load_npz(tmp_path / "feat.npz")
    c = ds.input_coding
    assert (c.kind, c.dtype, c.shape, c.steps, c.scale) == ("features", "i8", (3,), 16, 1 / 16)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (40, 5, 5) and ds.train.images.dtype == np.int8
    tr, _, _ = positional_split(50)
    np.testing.assert_allclose(c.center, f[tr].mean(0))
    mm = load_npz(tmp_path / "feat.npz", features="minmax")
    assert mm.input_coding.dtype == "u8" and mm.train.images.dtype == np.uint8
    assert mm.train.images.min(0).tolist() == [0, 0, 0] and mm.train.images.max(0).tolist() == [255, 255, 255]


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": np.zeros((4, 3))}, "has no array 'y_train'"),
    ({"x_train": np.zeros((4, 3)), "y_train": np.zeros(4, int), "x_val": np.zeros((2, 3))}, "has 'x_val' but no 'y_val'"),
    ({"x_train": np.zeros((4, 3)), "y_train": np.array([0, 1, 2, -1])}, "label -1, out of range"),
    ({"x_train": np.zeros((4, 3)), "y_train": np.array([0, 1, 0, 5]), "class_names": np.array(["a", "b"])},
     "label 5, out of range for 2 classes"),
    ({"x_train": np.zeros((20, 3)), "y_train": np.arange(20) % 2, "x_test": np.zeros((2, 4)),
      "y_test": np.zeros(2, int)}, "x_test has shape (2, 4) but x_train has (20, 3)"),
    ({"x_train": np.zeros((4, 5, 5), np.float32), "y_train": np.zeros(4, int)}, "dtype float32"),
    ({"x_train": np.zeros((4,)), "y_train": np.zeros(4, int)}, "x_train has shape (4,)"),
    ({"x_train": np.zeros((4, 3)), "y_train": np.zeros((4, 2), int)}, "y_train has shape (4, 2)"),
    ({"x_train": np.array([[0.0, np.nan]] * 4), "y_train": np.arange(4) % 2}, "is nan (not finite)"),
    ({"x_train": np.zeros((30, 3)), "y_train": np.array([0, 1, 2] * 10), "class_names": np.array(["a", "b", "c", "d"])},
     "class 'd' has no samples in the training split"),
])
def test_npz_errors_name_the_file(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DatasetError) as e:
        load_npz(tmp_path / "d.npz")
    assert str(e.value).startswith(str(tmp_path / "d.npz")) and message in str(e.value), str(e.value)


def test_npz_corrupt_and_pickled(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(DatasetError, match=r"bad\.npz: not a readable \.npz archive"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", x_train=np.array([{"a": 1}] * 4, dtype=object), y_train=np.zeros(4, int))
    with pytest.raises(DatasetError, match=r"obj\.npz: holds Python objects"):
        load_npz(tmp_path / "obj.npz")
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as z:
        z.writestr("x_train.npy", b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match=r"x\.npz: not a readable \.npz archive"):
        load_npz(tmp_path / "x.npz")


# ----------------------------------------------------------------------------- CSV


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_labels_split_and_coding(tmp_path):
    rows = [f"{i},{i * 0.5},{'yes' if i % 3 else 'no'}" for i in range(30)]
    f = write_csv(tmp_path / "t.csv", "a,b,label\n" + "\n".join(rows) + "\n\n")
    ds = load_csv(f)
    assert ds.class_names == ["no", "yes"] and ds.image_shape == (2,) and ds.name == "csv"
    tr, va, te = positional_split(30)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (len(tr), len(va), len(te)) == (24, 3, 3)
    c = ds.input_coding
    assert c.feature_names == ["a", "b"] and c.dtype == "i8"
    x = np.array([[i, i * 0.5] for i in range(30)], float)
    np.testing.assert_allclose(c.center, x[tr].mean(0))
    np.testing.assert_array_equal(ds.test.images, c.encode(x[te]))
    assert ds.test.labels.tolist() == [0 if i % 3 == 0 else 1 for i in te]
    # a label column elsewhere, semicolons, integer labels
    g = write_csv(tmp_path / "u.csv", "y;f1;f2\n" + "\n".join(f"{i % 3};{i};{-i}" for i in range(20)))
    ds = load_csv(g, label_column="y")
    assert ds.class_names == ["0", "1", "2"] and ds.input_coding.feature_names == ["f1", "f2"]
    assert ds.source["label_column"] == "y"


def test_coding_formula_by_hand():
    c = InputCoding("features", "i8", (2,), 1 / 16, 0, "standard", [1.0, -2.0], [2.0, 0.5], 16, ["p", "q"])
    x = np.array([[1.0, -2.0], [2.0, -1.0], [1.0625, -2.0 + 0.5 / 32], [100.0, -100.0]])
    # (x - center) / spread * 16, rounded half up, clamped to [-128, 127]
    assert c.encode(x).tolist() == [[0, 0], [8, 32], [1, 1], [127, -128]]
    assert model_input(torch.tensor(c.encode(x)), c).tolist() == [[0.0, 0.0], [0.5, 2.0], [0.0625, 0.0625],
                                                                   [127 / 16, -8.0]]
    from binedge.agreement import torch_input

    q = np.arange(-128, 128, dtype=np.int8).reshape(-1, 2)
    assert torch.equal(model_input(torch.from_numpy(q), c), torch_input(c.tensor_spec(), q))
    u = fit_coding(np.array([[0.0, 5.0], [10.0, 5.0]]), "minmax")
    assert u.spread == [10.0, 1.0] and u.encode(np.array([[5.0, 5.0]])).tolist() == [[128, 0]]  # 127.5 rounds up


@pytest.mark.parametrize("text,message", [
    ("a,b,label\n1,2,x\n3,4\n", "line 3 has 2 fields but the header has 3 (wrong shape)"),
    ("a,b,label\n1,2,x\n3,abc,y\n", "line 3, column 'b': 'abc', not a finite number"),
    ("a,b,label\n1,,x\n", "line 2, column 'b': empty (a missing value)"),
    ("a,b,label\n1,nan,x\n", "line 2, column 'b': 'nan', not a finite number"),
    ("a,label\n" + "".join(f"{i},{(i % 2) * 2}\n" for i in range(10)), "class 1 has no rows"),
    ("a,label\n1,0\n2,-1\n", "label -1 is out of range"),
    ("a,label\n", "has a header but no rows"),
    ("", "is empty (no header row)"),
    ("a,label\n1,\n", "empty label"),
    ("a,label\n" + "".join(f"{i},{'x' if i < 9 else 'y'}\n" for i in range(10)),
     "class 'y' has no rows in the training split"),
])
def test_csv_errors_name_the_file(tmp_path, text, message):
    f = write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(DatasetError) as e:
        load_csv(f)
    assert str(e.value).startswith(str(f)) and message in str(e.value), str(e.value)


def test_csv_unknown_label_column_and_binary_file(tmp_path):
    f = write_csv(tmp_path / "t.csv", "a,b\n1,0\n2,1\n")
    with pytest.raises(DatasetError, match="has no column 'target' \\(columns: a, b\\)"):
        load_csv(f, label_column="target")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match=r"bin\.csv: is not UTF-8 text"):
        load_csv(tmp_path / "bin.csv")


def test_detect_and_fingerprint_refusal(tmp_path):
    assert detect("fashion-mnist", None, "x.CSV") == "csv" and detect(data="y.npz") == "npz"
    with pytest.raises(DatasetError, match="unknown data file type '.txt'"):
        detect(data=str(tmp_path / "x.txt"))
    with pytest.raises(DatasetError, match="is a directory.*--data-dir"):
        detect(data=str(tmp_path))
    tree(tmp_path / "imgs", classes=("a", "b"), n=2)
    assert detect("fashion-mnist", tmp_path / "imgs") == "folder"
    ds = open_dataset(data_dir=tmp_path / "imgs")
    png(tmp_path / "imgs" / "a" / "new.png", np.zeros((6, 5)))
    with pytest.raises(DatasetError, match="changed since the run was trained"):
        open_dataset(data_dir=tmp_path / "imgs", fingerprint=ds.source["fingerprint"])


# ----------------------------------------------------------------------------- the train CLI on these sources


def _train(tmp_path, *args, out="run"):
    return CliRunner().invoke(main, ["train", "--epochs", "1", "--quiet", "-o", str(tmp_path / out), *args])


def test_cli_trains_on_a_folder_and_records_the_data(tmp_path):
    tree(tmp_path / "imgs", n=10, h=8, w=8)
    r = _train(tmp_path, "--data-dir", str(tmp_path / "imgs"), "--hidden", "16", "--depth", "1", "--batch-size", "10")
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["dataset"] == "folder" and cfg["data_info"]["input"]["shape"] == [8, 8, 1]
    assert cfg["data_info"]["class_names"] == ["cat", "dog", "eel"] and cfg["data_info"]["color"] == "gray"
    assert cfg["data_info"]["sizes"] == {"train": 24, "val": 3, "test": 3}
    # --resume refuses changed data
    png(tmp_path / "imgs" / "cat" / "extra.png", np.zeros((8, 8)))
    out = clean_error(CliRunner().invoke(main, ["train", "--resume", "--epochs", "2", "--quiet",
                                                "-o", str(tmp_path / "run")]))
    assert str(tmp_path / "imgs") in out and "changed since the run was trained" in out


def test_cli_user_model_on_feature_vectors_converts_exactly(tmp_path):
    """A user factory over (F,) inputs (int8 Dense first) trained from a CSV: export lowers it with
    the recorded int8 input spec and agrees with PyTorch."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (300, 6)) * [1, 10, 100, 0.1, 1, 1]
    y = (x[:, 0] + x[:, 1] / 10 > 0).astype(int)
    lines = ["f0,f1,f2,f3,f4,f5,label"] + [",".join(map(repr, r.tolist())) + f",{c}" for r, c in zip(x, y)]
    write_csv(tmp_path / "t.csv", "\n".join(lines) + "\n")
    (tmp_path / "net.py").write_text(
        "from torch import nn\nfrom binedge.nn import BinaryLinear\n"
        "def build(shape, k):\n"
        "    (f,) = shape\n"
        "    return nn.Sequential(BinaryLinear(f, 16, kernel_quantizer='int8'), nn.BatchNorm1d(16),\n"
        "                         BinaryLinear(16, k, bias=False, kernel_quantizer='lab', input_quantizer='sign'),\n"
        "                         nn.BatchNorm1d(k))\n")
    r = _train(tmp_path, "--data", str(tmp_path / "t.csv"), "--model", f"{tmp_path / 'net.py'}:build", "--lr", "0.01")
    assert r.exit_code == 0, r.output
    from binedge.agreement import agreement
    from binedge.export import load_test_images, lower_run

    model, graph, cfg = lower_run(tmp_path / "run")
    assert graph.input.kind == "i8" and graph.input.shape == (6,) and graph.input.scale == 1 / 16
    codes, labels = load_test_images(cfg, None)
    assert codes.dtype == np.int8 and codes.shape == (30, 6)
    rep = agreement(model, graph, codes, labels)
    assert rep["disagree_without_tie"] == 0 and rep["reference_accuracy"] > 0.7, rep


@pytest.mark.parametrize("args,code,text", [
    (["--data", "{tmp}/none.csv"], 1, "none.csv: file not found"),
    (["--data", "{tmp}/x.txt"], 1, "unknown data file type"),
    (["--data", "{tmp}/t.csv", "--data-dir", "{tmp}"], 2, "two data sources"),
    (["--data", "{tmp}/t.csv", "--dataset", "mnist"], 2, "--dataset names the built-in data"),
    (["--data", "{tmp}/t.csv", "--model", "vgg"], 1, "--model vgg is a convnet for images"),
    (["--data-dir", "{tmp}/imgs", "--image-size", "12xq"], 2, "--image-size"),
    (["--data", "{tmp}/t.csv", "--device", "tpu"], 1, "--device 'tpu'"),
])
def test_cli_data_errors_are_one_line(tmp_path, args, code, text):
    write_csv(tmp_path / "t.csv", "a,b,label\n" + "".join(f"{i},{-i},{i % 2}\n" for i in range(40)))
    (tmp_path / "x.txt").write_text("1,2\n")
    tree(tmp_path / "imgs", classes=("a", "b"), n=2)
    r = _train(tmp_path, *[a.format(tmp=tmp_path) for a in args])
    out = clean_error(r, code=code)
    assert text in out
    assert not (tmp_path / "run").exists()
