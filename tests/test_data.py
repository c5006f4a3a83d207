"""Tests of binedge.data: IDX reading, error messages, the fixed split, synthetic data, loader."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from binedge import data
from binedge.data import DatasetError, Split, load_dataset, loader, read_idx, synthetic_dataset

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---- an independent IDX writer (deliberately not sharing code with binedge.data) -------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """Serialize a uint8 array as IDX: big-endian magic, one big-endian uint32 per dimension."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write(path: Path, payload: bytes, *, gz: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_images(n: int, h: int = 5, w: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w), dtype=np.uint8)


def make_labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, 10, size=n, dtype=np.uint8)


def write_dataset(
    directory: Path, *, gz: bool, n_train: int = 30, n_test: int = 12, suffix: bool | None = None
) -> dict[str, np.ndarray]:
    """Write the four MNIST files; ``suffix`` (default: same as gz) controls the ".gz" name."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = gz if suffix is None else suffix
    arrays = {
        "train-images-idx3-ubyte": make_images(n_train, seed=1),
        "train-labels-idx1-ubyte": make_labels(n_train, seed=1),
        "t10k-images-idx3-ubyte": make_images(n_test, seed=2),
        "t10k-labels-idx1-ubyte": make_labels(n_test, seed=2),
    }
    for stem, arr in arrays.items():
        write(directory / (stem + (".gz" if suffix else "")), idx_bytes(arr), gz=gz)
    return arrays


# ---- read_idx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    images = make_images(7)
    labels = make_labels(7)
    got_images = read_idx(write(tmp_path / "img", idx_bytes(images), gz=gz))
    got_labels = read_idx(write(tmp_path / "lbl", idx_bytes(labels), gz=gz))
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 5, 4)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    assert got_images.flags.writeable


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    images = make_images(3)
    # gzipped data without the suffix, and raw data with it
    np.testing.assert_array_equal(read_idx(write(tmp_path / "a", idx_bytes(images), gz=True)), images)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "b.gz", idx_bytes(images), gz=False)), images)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "img", idx_bytes(make_images(4))[:-1], gz=gz)
    with pytest.raises(DatasetError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = write(tmp_path / "img", struct.pack(">II", 0x803, 4), gz=False)
    with pytest.raises(DatasetError, match="truncated IDX header"):
        read_idx(path)
    path = write(tmp_path / "tiny", b"\x00\x00", gz=False)
    with pytest.raises(DatasetError, match="too short"):
        read_idx(path)


def test_trailing_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "img", idx_bytes(make_images(4)) + b"\x00\x00", gz=True)
    with pytest.raises(DatasetError, match="2 trailing bytes"):
        read_idx(path)


@pytest.mark.parametrize("magic", [0x00000802, 0x00000903, 0x01000803, 0x1234])
def test_wrong_magic(tmp_path: Path, magic: int) -> None:
    path = write(tmp_path / "img", idx_bytes(make_images(2), magic=magic), gz=False)
    with pytest.raises(DatasetError, match="bad IDX magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_wrong_dimensions(tmp_path: Path) -> None:
    labels = write(tmp_path / "lbl", idx_bytes(make_labels(3)), gz=False)
    with pytest.raises(DatasetError, match="expected images"):
        read_idx(labels, ndim=3)
    images = write(tmp_path / "img", idx_bytes(make_images(3)), gz=False)
    with pytest.raises(DatasetError, match="expected labels"):
        read_idx(images, ndim=1)


def test_corrupt_gzip(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(idx_bytes(make_images(20))))
    # damage the deflate stream and the CRC
    for i in range(12, len(packed), 7):
        packed[i] ^= 0x5A
    path = tmp_path / "img.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DatasetError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_cut_off_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(make_images(20)))
    path = tmp_path / "img.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DatasetError, match="corrupt gzip"):
        read_idx(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found") as info:
        read_idx(tmp_path / "nothing")
    assert str(tmp_path / "nothing") in str(info.value)
    with pytest.raises(DatasetError, match="directory"):
        read_idx(tmp_path)


# ---- load_dataset -----------------------------------------------------------------------------


def test_default_location_missing_names_path_and_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "fashion-mnist"
    monkeypatch.setitem(data.DEFAULT_DIRS, "fashion-mnist", missing)
    with pytest.raises(DatasetError) as info:
        load_dataset()
    message = str(info.value)
    assert str(missing) in message
    assert "dataset-fashion-mnist" in message
    assert "--data-dir" in message


def test_missing_file_in_default_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "fashion-mnist"
    write_dataset(directory, gz=True)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setitem(data.DEFAULT_DIRS, "fashion-mnist", directory)
    with pytest.raises(DatasetError) as info:
        load_dataset()
    assert str(directory / "t10k-labels-idx1-ubyte.gz") in str(info.value)
    assert "dataset-fashion-mnist" in str(info.value)


@pytest.mark.parametrize("gz", [False, True])
def test_load_from_data_dir(tmp_path: Path, gz: bool) -> None:
    arrays = write_dataset(tmp_path, gz=gz)
    ds = load_dataset("mnist", tmp_path, val_size=8)
    train_images = arrays["train-images-idx3-ubyte"]
    train_labels = arrays["train-labels-idx1-ubyte"]
    np.testing.assert_array_equal(ds.train.images, train_images[:22])
    np.testing.assert_array_equal(ds.val.images, train_images[22:])
    np.testing.assert_array_equal(ds.val.labels, train_labels[22:])
    np.testing.assert_array_equal(ds.test.images, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test.labels, arrays["t10k-labels-idx1-ubyte"])
    for split in (ds.train, ds.val, ds.test):
        assert split.images.dtype == np.uint8
        assert split.labels.dtype == np.int64
    assert ds.image_shape == (5, 4, 1)
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.num_classes == 10
    assert ds.name == "mnist"


def test_gzipped_content_under_raw_names(tmp_path: Path) -> None:
    arrays = write_dataset(tmp_path, gz=True, suffix=False)
    ds = load_dataset("fashion-mnist", tmp_path, val_size=5)
    np.testing.assert_array_equal(ds.test.images, arrays["t10k-images-idx3-ubyte"])
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_limit_and_class_names(tmp_path: Path) -> None:
    write_dataset(tmp_path, gz=False)
    ds = load_dataset("mnist", tmp_path, val_size=8, limit=5, class_names=list("abcdefghij"))
    assert (len(ds.train), len(ds.val), len(ds.test)) == (5, 5, 5)
    assert ds.class_names[0] == "a"
    with pytest.raises(DatasetError, match="at least 31 training images are needed"):
        load_dataset("mnist", tmp_path, val_size=30)
    with pytest.raises(ValueError):
        load_dataset("cifar", tmp_path)


def test_count_mismatch(tmp_path: Path) -> None:
    write_dataset(tmp_path, gz=True)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(make_labels(29)), gz=True)
    with pytest.raises(DatasetError, match="29 labels but train-images-idx3-ubyte.gz has 30 images") as info:
        load_dataset("mnist", tmp_path, val_size=5)
    assert str(tmp_path / "train-labels-idx1-ubyte.gz") in str(info.value)


def test_label_out_of_range(tmp_path: Path) -> None:
    write_dataset(tmp_path, gz=False)
    labels = make_labels(12, seed=2)
    labels[3] = 10
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(labels), gz=False)
    with pytest.raises(DatasetError, match="label 10 out of range"):
        load_dataset("mnist", tmp_path, val_size=5)


def test_swapped_files_are_rejected(tmp_path: Path) -> None:
    write_dataset(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"
    tmp = tmp_path / "swap"
    images.rename(tmp)
    labels.rename(images)
    tmp.rename(labels)
    with pytest.raises(DatasetError, match="expected images"):
        load_dataset("mnist", tmp_path, val_size=5)


# ---- the real Fashion-MNIST files -------------------------------------------------------------


def raw_idx(path: Path) -> np.ndarray:
    """Second, minimal reader for cross-checking: gunzip, skip the header, reshape."""
    payload = gzip.decompress(path.read_bytes())
    ndim = payload[3]
    dims = struct.unpack(f">{ndim}I", payload[4 : 4 + 4 * ndim])
    return np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.fixture(scope="module")
def fashion() -> data.Dataset:
    # A missing dataset is a broken set-up, not a reason to skip: fail with the fix.
    assert FASHION_DIR.is_dir(), f"{FASHION_DIR} is absent: run scripts/bootstrap.sh (apt-get install dataset-fashion-mnist)"
    return load_dataset()


def test_fashion_mnist_split(fashion: data.Dataset) -> None:
    assert (len(fashion.train), len(fashion.val), len(fashion.test)) == (55000, 5000, 10000)
    assert fashion.image_shape == (28, 28, 1)
    assert fashion.train.images.shape == (55000, 28, 28)
    assert fashion.num_classes == 10 and fashion.name == "fashion-mnist"
    for split in (fashion.train, fashion.val, fashion.test):
        assert split.images.dtype == np.uint8 and split.labels.dtype == np.int64
        assert split.labels.min() == 0 and split.labels.max() == 9
    raw_images = raw_idx(FASHION_DIR / "train-images-idx3-ubyte.gz")
    raw_labels = raw_idx(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(fashion.val.images, raw_images[-5000:])
    np.testing.assert_array_equal(fashion.val.labels, raw_labels[-5000:])
    np.testing.assert_array_equal(fashion.train.images[:100], raw_images[:100])


# ---- synthetic data ---------------------------------------------------------------------------


def test_synthetic_deterministic() -> None:
    a = synthetic_dataset(seed=3)
    b = synthetic_dataset(seed=3)
    c = synthetic_dataset(seed=4)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part).images, getattr(b, part).images)
        np.testing.assert_array_equal(getattr(a, part).labels, getattr(b, part).labels)
    assert not np.array_equal(a.train.images, c.train.images)
    assert a.train.images.dtype == np.uint8 and a.train.images.shape == (600, 28, 28)
    assert a.train.labels.dtype == np.int64
    assert (len(a.val), len(a.test)) == (200, 200)
    assert a.image_shape == (28, 28, 1) and a.num_classes == 10 and a.name == "synthetic"
    # balanced classes
    assert np.bincount(a.train.labels, minlength=10).tolist() == [60] * 10


def test_synthetic_is_learnable() -> None:
    # A nearest-class-mean classifier stands in for "a tiny model": it must beat chance by far.
    ds = synthetic_dataset(seed=0)
    x = ds.train.images.reshape(len(ds.train), -1).astype(np.float32)
    means = np.stack([x[ds.train.labels == k].mean(0) for k in range(10)])
    t = ds.test.images.reshape(len(ds.test), -1).astype(np.float32)
    predicted = ((t[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (predicted == ds.test.labels).mean() > 0.8


def test_load_dataset_synthetic_with_limit() -> None:
    ds = load_dataset("synthetic", limit=50)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (50, 50, 50)


# ---- loader -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_split() -> Split:
    return synthetic_dataset(n_train=100, n_val=1, n_test=1, seed=1).train


def collect(batches) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batches)
    return torch.cat(xs), torch.cat(ys)


def test_loader_batches(small_split: Split) -> None:
    batches = loader(small_split, 32, shuffle=False, seed=0)
    assert len(batches) == 4
    shapes = [tuple(x.shape) for x, _ in batches]
    assert shapes == [(32, 1, 28, 28)] * 3 + [(4, 1, 28, 28)]
    x, y = collect(batches)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(small_split.images.astype(np.float32) / 255.0).unsqueeze(1)
    torch.testing.assert_close(x, expected)
    assert torch.equal(y, torch.from_numpy(small_split.labels))
    assert len(loader(small_split, 32, shuffle=False, seed=0, drop_last=True)) == 3


def test_loader_order_deterministic(small_split: Split) -> None:
    x1, y1 = collect(loader(small_split, 16, shuffle=True, seed=7, epoch=3))
    x2, y2 = collect(loader(small_split, 16, shuffle=True, seed=7, epoch=3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    x3, _ = collect(loader(small_split, 16, shuffle=True, seed=7, epoch=4))
    x4, _ = collect(loader(small_split, 16, shuffle=True, seed=8, epoch=3))
    assert not torch.equal(x1, x3)
    assert not torch.equal(x1, x4)
    # a shuffle is a permutation: every sample exactly once, labels still paired with images
    order = data.epoch_order(len(small_split), 7, 3)
    assert sorted(order.tolist()) == list(range(len(small_split)))
    assert torch.equal(y1, torch.from_numpy(small_split.labels[order]))
    torch.testing.assert_close(x1[:, 0], torch.from_numpy(small_split.images[order] / np.float32(255)))
