"""Datasets for binedge: the one :class:`Dataset` abstraction (train / val / test :class:`Split`
of input *codes* plus their :class:`InputCoding`), MNIST-format IDX files, a synthetic set and a
deterministic batch loader. The other formats (a folder of images, ``.npz`` arrays, CSV tables)
are read by :mod:`binedge.datasets` into the same :class:`Dataset`.

A split stores what the deployed program reads: uint8 images (N, H, W) or (N, H, W, C), or
uint8 / int8 feature codes (N, F). The model sees ``scale·(q − zero_point)`` of them
(:func:`model_input`): x/255 for images, exactly what the integer graph's input spec says.

The validation split of the IDX datasets is fixed, not random: it is the LAST ``val_size``
(default 5,000) images of the official training file, the first ones train. A fixed split keeps
validation numbers comparable between runs and machines without storing an index list anywhere.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is only needed by loader(); importing it is slow, so defer it.
    import torch

__all__ = [
    "InputCoding",
    "image_coding",
    "model_input",
    "DEFAULT_DIRS",
    "FASHION_CLASSES",
    "DIGIT_CLASSES",
    "IDX_FILES",
    "DatasetError",
    "Split",
    "Dataset",
    "Batches",
    "read_idx",
    "load_dataset",
    "synthetic_dataset",
    "loader",
]

FASHION_CLASSES: list[str] = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGIT_CLASSES: list[str] = [str(i) for i in range(10)]

# Where each named dataset lives when no data_dir is given. Only Fashion-MNIST has a Debian
# package (dataset-fashion-mnist); MNIST gets a conventional place next to it.
DEFAULT_DIRS: dict[str, Path] = {
    "fashion-mnist": Path("/usr/share/datasets/fashion-mnist"),
    "mnist": Path("/usr/share/datasets/mnist"),
}

# The four file stems of the MNIST layout; each may also carry a ".gz" suffix.
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
_GZIP_MAGIC = b"\x1f\x8b"

_FILES_HINT = "the four files {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
GENERIC_FIX = f"pass --data-dir DIR with {_FILES_HINT}"
FASHION_FIX = (
    "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) "
    f"or pass --data-dir DIR with {_FILES_HINT}"
)


class DatasetError(Exception):
    """A dataset file is missing, unreadable or malformed.

    The message always names the offending path and says how to fix the problem, so a command
    line tool can print ``str(err)`` as is instead of a traceback.

    Args:
        path: the file or directory at fault.
        problem: what is wrong with it.
        fix: what the user should do about it.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, fix: str = GENERIC_FIX):
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. Fix: {fix}")


@dataclass
class InputCoding:
    """How the stored input codes of a dataset map to what the model sees, and (feature data)
    how raw values became those codes. Recorded in every run (config.json, ``data.input``), so
    that ``--resume`` and ``binedge export`` code the data exactly as training did.

    The model sees ``scale·(q − zero_point)`` of a code q (the graph input's
    :class:`binedge.graph.TensorSpec`). Images: uint8 pixels, scale 1/255, zero point 0.
    Feature vectors (``kind`` "features", shape (F,)) are coded per feature f from the raw value x:

        q = clamp(round_half_up((x − center_f) / spread_f · steps) + zero_point, lo, hi)

    computed in float64, with scale = 1/steps; ``method`` "standard": center = mean, spread =
    standard deviation of the training split, steps 16, int8 (±8 standard deviations, lo, hi =
    −128, 127); "minmax": center = minimum, spread = maximum − minimum of the training split,
    steps 255, uint8 (lo, hi = 0, 255). A constant feature gets spread 1. A device must code its
    raw features with the same formula (the export report and the blob's metadata carry it).

    Args:
        kind: "image" or "features".
        dtype: "u8" or "i8": the code type the graph input takes.
        shape: (H, W, C) for images, (F,) for features.
        scale, zero_point: the model input is scale·(q − zero_point).
        method, center, spread, steps, feature_names: feature coding (empty for images).
    """

    kind: str = "image"
    dtype: str = "u8"
    shape: tuple = (28, 28, 1)
    scale: float = 1.0 / 255.0
    zero_point: int = 0
    method: str = ""
    center: list = field(default_factory=list)
    spread: list = field(default_factory=list)
    steps: int = 0
    feature_names: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = [int(v) for v in self.shape]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> InputCoding:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "shape" in known:
            known["shape"] = tuple(int(v) for v in known["shape"])
        return cls(**known)

    @property
    def code_range(self) -> tuple[int, int]:
        return (-128, 127) if self.dtype == "i8" else (0, 255)

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(np.int8) if self.dtype == "i8" else np.dtype(np.uint8)

    def tensor_spec(self):
        """The graph input (:class:`binedge.graph.TensorSpec`) these codes are."""
        from .graph import TensorSpec

        return TensorSpec(self.dtype, tuple(int(v) for v in self.shape), scale=float(self.scale),
                          zero_point=int(self.zero_point))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Codes of raw feature rows ``x`` (N, F) by the formula in the class docstring."""
        if self.kind != "features":
            raise ValueError("encode() codes feature vectors; images are stored as their uint8 pixels")
        x = np.asarray(x, dtype=np.float64)
        z = (x - np.asarray(self.center, np.float64)) / np.asarray(self.spread, np.float64) * float(self.steps)
        lo, hi = self.code_range
        q = np.floor(z + 0.5) + int(self.zero_point)  # round half up, as the graph rounds
        return np.clip(q, lo, hi).astype(self.numpy_dtype)

    def describe(self) -> str:
        if self.kind == "image":
            h, w, c = self.shape
            return f"uint8 images {h}x{w}x{c}, seen as x/255"
        return (f"{'int8' if self.dtype == 'i8' else 'uint8'} codes of {self.shape[0]} features ({self.method}: "
                f"q = round((x - center) / spread * {self.steps}) + {self.zero_point}), seen as q/{self.steps}")


def image_coding(shape) -> InputCoding:
    """The coding of uint8 images of shape (H, W, C): the model sees x/255."""
    h, w, c = (int(v) for v in shape)
    return InputCoding("image", "u8", (h, w, c), 1.0 / 255.0, 0)


@dataclass
class Split:
    """One part of a dataset.

    Args:
        images: the input codes: uint8 images (N, H, W) or (N, H, W, C) with raw pixel values
            0..255, or feature codes (N, F) (uint8 or int8, see :class:`InputCoding`); scaling
            is left to the consumer (:func:`model_input`).
        labels: int64 array of shape (N,), class indices.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        # Catch mismatched pairs here, where they are made, rather than as a shape error
        # deep inside a training step.
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int | None) -> Split:
        """The first ``n`` samples (views, no copy); ``None`` returns the split unchanged.

        Args:
            n: maximum number of samples to keep, or None for all.
        """
        if n is None or n >= len(self):
            return self
        return Split(self.images[:n], self.labels[:n])


@dataclass
class Dataset:
    """Train, validation and test splits of one dataset plus its class names.

    Args:
        train: the training split.
        val: the validation split (for Fashion-MNIST/MNIST the last ``val_size`` training images).
        test: the official test split.
        class_names: one human-readable name per class index.
        name: the dataset's name, e.g. "fashion-mnist".
    """

    train: Split
    val: Split
    test: Split
    class_names: list[str]
    name: str
    #: how the codes map to the model's input; None: uint8 images seen as x/255
    coding: InputCoding | None = None
    #: where the data came from: {"format", "path", "fingerprint"} (binedge.datasets)
    source: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(H, W, C) of one image (single-channel (N, H, W) data reports C = 1), or (F,) for
        feature vectors: the input shape the model factory receives."""
        if self.coding is not None:
            return tuple(int(v) for v in self.coding.shape)
        shape = self.train.images.shape[1:]
        if len(shape) == 2:
            return (int(shape[0]), int(shape[1]), 1)
        return (int(shape[0]), int(shape[1]), int(shape[2]))

    @property
    def input_coding(self) -> InputCoding:
        """The :class:`InputCoding` of the stored codes (images: x/255)."""
        return self.coding if self.coding is not None else image_coding(self.image_shape)

    @property
    def num_classes(self) -> int:
        """Number of classes (the length of ``class_names``)."""
        return len(self.class_names)


# --------------------------------------------------------------------------------------------
# IDX reading
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path, fix: str) -> bytes:
    """All bytes of ``path``, gunzipped if the content starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(path, "file not found", fix) from None
    except IsADirectoryError:
        raise DatasetError(path, "is a directory, not an IDX file", fix) from None
    except OSError as err:
        raise DatasetError(path, f"cannot read file ({err.strerror or err})", fix) from None
    # Decide by content, not by name: mirrors rename files and some ship gzipped data without
    # the suffix (or the reverse).
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        # BadGzipFile is an OSError; a cut-off stream raises EOFError; bad deflate data zlib.error.
        raise DatasetError(path, f"corrupt gzip data ({err})", fix) from None


def read_idx(
    path: str | os.PathLike[str], *, ndim: int | None = None, fix: str = GENERIC_FIX
) -> np.ndarray:
    """Read one MNIST-format IDX file of unsigned bytes, gzipped or not.

    Supports the two layouts MNIST uses: magic 0x00000803 (uint8, 3-D: count, rows, cols) for
    images and 0x00000801 (uint8, 1-D: count) for labels. The header is big-endian. The file
    must hold exactly the bytes its header promises.

    Args:
        path: the file to read; gzip is detected from the magic bytes 1f 8b, not the name.
        ndim: if given, require this many dimensions (3 for images, 1 for labels).
        fix: the advice put into any :class:`DatasetError` raised.

    Returns:
        A writable uint8 array with the header's shape.

    Raises:
        DatasetError: missing/unreadable file, corrupt gzip, wrong magic, wrong dimensions,
            truncated or over-long payload.
    """
    path = Path(path)
    data = _read_bytes(path, fix)
    if len(data) < 4:
        raise DatasetError(path, f"too short for an IDX header ({len(data)} bytes)", fix)
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise DatasetError(
            path,
            f"bad IDX magic 0x{magic:08x} (expected 0x{IDX_IMAGES_MAGIC:08x} for images or "
            f"0x{IDX_LABELS_MAGIC:08x} for labels)",
            fix,
        )
    file_ndim = magic & 0xFF
    if ndim is not None and file_ndim != ndim:
        kind = {3: "images", 1: "labels"}.get(ndim, f"{ndim}-D data")
        raise DatasetError(path, f"IDX file has {file_ndim} dimension(s), expected {kind}", fix)
    header = 4 + 4 * file_ndim
    if len(data) < header:
        raise DatasetError(path, f"truncated IDX header ({len(data)} of {header} bytes)", fix)
    dims = struct.unpack(f">{file_ndim}I", data[4:header])
    if file_ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise DatasetError(path, f"empty image size {dims[1]}x{dims[2]}", fix)
    # Python ints, so a hostile header cannot overflow the product.
    expected = 1
    for d in dims:
        expected *= d
    got = len(data) - header
    if got < expected:
        raise DatasetError(path, f"truncated: header promises {expected} data bytes, file has {got}", fix)
    if got > expected:
        raise DatasetError(
            path, f"{got - expected} trailing bytes after the {expected} the header promises", fix
        )
    # frombuffer over immutable bytes gives a read-only view; copy once so callers (and
    # torch.from_numpy) get an ordinary writable array.
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(dims).copy()


def _find_file(directory: Path, stem: str, fix: str) -> Path:
    """``directory/stem.gz`` or ``directory/stem``, whichever exists (the .gz one if both do)."""
    candidates = [directory / f"{stem}.gz", directory / stem]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not directory.is_dir():
        raise DatasetError(directory, "data directory not found", fix)
    raise DatasetError(candidates[0], f"file not found (nor {candidates[1].name})", fix)


def _read_pair(directory: Path, prefix: str, num_classes: int, fix: str) -> Split:
    """Read and cross-check the images and labels files of one official part ("train" or "test")."""
    images_path = _find_file(directory, IDX_FILES[f"{prefix}_images"], fix)
    labels_path = _find_file(directory, IDX_FILES[f"{prefix}_labels"], fix)
    images = read_idx(images_path, ndim=3, fix=fix)
    labels = read_idx(labels_path, ndim=1, fix=fix)
    if len(images) != len(labels):
        raise DatasetError(
            labels_path, f"{len(labels)} labels but {images_path.name} has {len(images)} images", fix
        )
    if labels.size and int(labels.max()) >= num_classes:
        raise DatasetError(
            labels_path, f"label {int(labels.max())} out of range for {num_classes} classes", fix
        )
    return Split(images, labels.astype(np.int64))


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str = "fashion-mnist",
    data_dir: str | os.PathLike[str] | None = None,
    *,
    val_size: int = 5000,
    limit: int | None = None,
    class_names: Sequence[str] | None = None,
) -> Dataset:
    """Load a dataset with its fixed train/val/test split.

    For "fashion-mnist" and "mnist" the validation split is the LAST ``val_size`` images of the
    training file and the training split is everything before it; the test split is the t10k
    file. "synthetic" returns :func:`synthetic_dataset` with its defaults (``data_dir`` and
    ``val_size`` are ignored for it).

    Args:
        name: "fashion-mnist", "mnist" or "synthetic".
        data_dir: directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; None uses
            :data:`DEFAULT_DIRS` (``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST).
        val_size: number of training images held out for validation (0 for none).
        limit: if given, keep at most this many samples of each split (for quick runs).
        class_names: names for the class indices; defaults to the Fashion-MNIST names for
            "fashion-mnist" and "0".."9" otherwise. Its length is the number of classes that
            labels are checked against.

    Returns:
        The :class:`Dataset`.

    Raises:
        DatasetError: a file is missing or malformed, or the training file does not hold more
            than ``val_size`` images; the message names the directory or file and the fix.
        ValueError: unknown ``name`` or invalid ``val_size``/``limit``.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of samples, got {limit}")
    if val_size < 0:
        raise ValueError(f"val_size must be >= 0, got {val_size}")
    if name == "synthetic":
        ds = synthetic_dataset()
        if class_names is not None:
            ds.class_names = list(class_names)
        return limit_dataset(ds, limit)
    if name not in DEFAULT_DIRS:
        raise ValueError(f"unknown dataset {name!r}; choose one of fashion-mnist, mnist, synthetic")

    if data_dir is None:
        directory = DEFAULT_DIRS[name]
        # Only the default Fashion-MNIST location can be filled by a package install.
        fix = FASHION_FIX if name == "fashion-mnist" else GENERIC_FIX
    else:
        directory = Path(data_dir)
        fix = f"check the files in {directory} or {GENERIC_FIX}"
    if class_names is None:
        class_names = FASHION_CLASSES if name == "fashion-mnist" else DIGIT_CLASSES
    names = list(class_names)

    full_train = _read_pair(directory, "train", len(names), fix)
    test = _read_pair(directory, "test", len(names), fix)
    if test.images.shape[1:] != full_train.images.shape[1:]:
        raise DatasetError(
            directory / IDX_FILES["test_images"],
            f"test images are {test.images.shape[1:]} but training images are "
            f"{full_train.images.shape[1:]}",
            fix,
        )
    n = len(full_train)
    if val_size >= n:
        # A complete IDX pair with too few images: a user's data problem, reported like the others.
        raise DatasetError(
            directory,
            f"the training files hold {n:,} image(s), but the last {val_size:,} are the validation split, "
            f"which leaves none to train on: at least {val_size + 1:,} training images are needed",
            f"use a complete MNIST-format training set (Fashion-MNIST and MNIST have 60,000 images) "
            f"or a --data-dir whose {IDX_FILES['train_images']} holds more than {val_size:,} images",
        )
    cut = n - val_size
    # Slices are views of the one array read from disk: no extra copy of the training set.
    train = Split(full_train.images[:cut], full_train.labels[:cut])
    val = Split(full_train.images[cut:], full_train.labels[cut:])
    return limit_dataset(Dataset(train, val, test, names, name), limit)


def limit_dataset(ds: Dataset, limit: int | None) -> Dataset:
    """``ds`` with every split cut to at most ``limit`` samples."""
    if limit is None:
        return ds
    return Dataset(ds.train.head(limit), ds.val.head(limit), ds.test.head(limit), ds.class_names, ds.name,
                   ds.coding, ds.source)


def synthetic_dataset(
    n_train: int = 600,
    n_val: int = 200,
    n_test: int = 200,
    *,
    size: int = 28,
    classes: int = 10,
    seed: int = 0,
) -> Dataset:
    """A small, deterministic, learnable stand-in for MNIST-like data.

    Each class has a fixed random prototype: a coarse grid of on/off cells blown up to
    ``size`` x ``size`` pixels, so the pattern survives input binarization and small models can
    separate the classes. Every sample is its class prototype with random contrast, a random
    background level and Gaussian pixel noise, clipped to uint8. Labels are balanced.

    The same arguments always give identical arrays. The prototypes depend only on ``seed``,
    ``size`` and ``classes``, and each split draws from its own random stream, so changing one
    split's size does not change the others.

    Args:
        n_train: number of training samples.
        n_val: number of validation samples.
        n_test: number of test samples.
        size: image height and width in pixels.
        classes: number of classes (class names are "0", "1", ...).
        seed: seed of all randomness.

    Returns:
        A :class:`Dataset` named "synthetic" with uint8 (N, size, size) images.
    """
    if classes < 2:
        raise ValueError(f"need at least 2 classes, got {classes}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    proto_seq, *split_seqs = np.random.SeedSequence(seed).spawn(4)

    # 4x4-pixel cells: coarse enough to be robust to noise, fine enough for 28x28 to have
    # 49 cells, i.e. plenty of distinct patterns.
    cell = 4
    cells = -(-size // cell)
    proto_rng = np.random.default_rng(proto_seq)
    coarse = proto_rng.random((classes, cells, cells)) < 0.5
    prototypes = np.kron(coarse, np.ones((cell, cell), dtype=bool))[:, :size, :size]
    prototypes = prototypes.astype(np.float32)

    def make(n: int, seq: np.random.SeedSequence) -> Split:
        rng = np.random.default_rng(seq)
        labels = np.arange(n, dtype=np.int64) % classes
        rng.shuffle(labels)
        contrast = rng.uniform(140.0, 230.0, size=(n, 1, 1)).astype(np.float32)
        background = rng.uniform(0.0, 40.0, size=(n, 1, 1)).astype(np.float32)
        noise = rng.normal(0.0, 45.0, size=(n, size, size)).astype(np.float32)
        pixels = background + contrast * prototypes[labels] + noise
        return Split(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), labels)

    return Dataset(
        train=make(n_train, split_seqs[0]),
        val=make(n_val, split_seqs[1]),
        test=make(n_test, split_seqs[2]),
        class_names=[str(i) for i in range(classes)],
        name="synthetic",
    )


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled sample order of one epoch, a pure function of (n, seed, epoch).

    Seeding from the pair (seed, epoch) rather than advancing one generator across epochs lets a
    run resumed at epoch E see exactly the order an uninterrupted run would have seen.

    Args:
        n: number of samples.
        seed: the run's seed (>= 0).
        epoch: the epoch index (>= 0).

    Returns:
        An int64 permutation of 0..n-1.
    """
    if seed < 0 or epoch < 0:
        raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


class Batches:
    """Iterable of (x, y) batches over one split; built by :func:`loader`.

    Iterating it more than once yields the same batches in the same order.

    Args:
        x: float32 tensor (N, C, H, W), already scaled and (if shuffling) permuted.
        y: int64 tensor (N,), in the same order.
        batch_size: samples per batch.
        drop_last: drop a final batch smaller than ``batch_size``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, drop_last: bool):
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for b in range(len(self)):
            lo = b * self.batch_size
            # Contiguous slices are views: no copy per batch.
            yield self.x[lo : lo + self.batch_size], self.y[lo : lo + self.batch_size]


def model_input(codes: torch.Tensor, coding: InputCoding | None = None) -> torch.Tensor:
    """The float32 batch the model sees for a batch of stored codes: scale·(q − zero_point).

    Images (N, H, W) or (N, H, W, C) become NCHW x/255 (one correctly rounded float32 division
    per pixel, exactly binedge.agreement.torch_input); feature codes (N, F) become
    (q − zero_point)/steps, also one correctly rounded division (the codings binedge makes have
    an integer 1/scale; any other scale is applied in float64 and rounded once, as torch_input
    does). Runs on the device the codes are on.

    Args:
        codes: uint8 / int8 tensor of codes, on any device.
        coding: the dataset's :class:`InputCoding`; None for uint8 images.
    """
    import torch

    if coding is None or coding.kind == "image":
        x = codes.to(torch.float32).div_(255.0)
        if x.dim() == 3:
            return x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
        if x.dim() == 4:
            return x.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {tuple(x.shape)}")
    if codes.dim() != 2:
        raise ValueError(f"feature codes must be (N, F), got shape {tuple(codes.shape)}")
    inv = 1.0 / float(coding.scale)
    if float(inv).is_integer():
        return (codes.to(torch.float32) - float(coding.zero_point)).div_(inv)
    return ((codes.to(torch.float64) - float(coding.zero_point)) * float(coding.scale)).to(torch.float32)


def loader(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
    coding: InputCoding | None = None,
) -> Batches:
    """Batches of one split as torch tensors, in a reproducible order.

    The whole split is converted to a float32 tensor once per call; batches are slices of it.
    With ``shuffle`` the order is :func:`epoch_order` ``(len(split), seed, epoch)``, so calling
    again with the same (seed, epoch) — e.g. after resuming at epoch E — gives the same batches.

    Args:
        split: the data; images uint8 (N, H, W) or (N, H, W, C).
        batch_size: samples per batch (> 0).
        shuffle: permute the samples (training) or keep file order (evaluation).
        seed: the run's seed; only used when shuffling.
        epoch: the epoch index; only used when shuffling.
        drop_last: drop a final batch smaller than ``batch_size``.
        coding: the split's :class:`InputCoding` (None: uint8 images); see :func:`model_input`.

    Returns:
        A :class:`Batches` yielding (x float32 (B, C, H, W) in [0, 1] or (B, F), y int64 (B,))
        and supporting ``len()`` (number of batches).
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    images = np.asarray(split.images)
    labels = np.asarray(split.labels, dtype=np.int64)
    if shuffle:
        # Permute once up front (one gather) so every batch is then a contiguous slice.
        order = epoch_order(len(labels), seed, epoch)
        images = images[order]
        labels = labels[order]
    # torch.from_numpy warns on read-only arrays and rejects negative strides; a contiguous
    # writable copy sidesteps both and is cheap for uint8.
    if not images.flags.writeable or not images.flags.c_contiguous:
        images = np.array(images, order="C")
    if not labels.flags.writeable or not labels.flags.c_contiguous:
        labels = np.array(labels, order="C")
    x = model_input(torch.from_numpy(images), coding)
    y = torch.from_numpy(labels)
    return Batches(x, y, batch_size, drop_last)
