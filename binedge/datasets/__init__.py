"""Every data source ``binedge train`` reads, behind one :class:`~binedge.data.Dataset`.

    --dataset fashion-mnist | mnist     MNIST-format IDX files (binedge.data; --data-dir DIR for a copy)
    --dataset synthetic                 a small generated set (binedge.data.synthetic_dataset)
    --data-dir FOLDER                   an image folder tree, one sub-folder per class (binedge.datasets.folder)
    --data FILE.npz                     arrays x_train, y_train, ... (binedge.datasets.tables)
    --data FILE.csv                     a table of feature vectors with a label column (binedge.datasets.tables)
    --dataset text --data-file FILE     a character corpus for --model lstm (binedge.datasets.text; not a
                                        Dataset of samples: binedge.lm reads it)

A ``--data-dir`` holding the four IDX files is read as IDX, one holding class sub-folders of
images as a folder tree. Each source has a fixed, documented train / validation / test split (see
its module). The loaded dataset carries its :class:`~binedge.data.InputCoding` (the input shape
and quantization the deployed program takes) and its ``source`` (format, absolute path and a
fingerprint of the files), which the run records (config.json ``data``): ``--resume`` and
``binedge export`` reload the same data with the recorded coding and refuse data that changed.
"""

from __future__ import annotations

from pathlib import Path

from ..data import (DEFAULT_DIRS, IDX_FILES, Dataset, DatasetError, InputCoding, limit_dataset, load_dataset,
                    synthetic_dataset)

#: the values of TrainConfig.dataset: the IDX names, synthetic, and the formats found from the path
FORMATS = ("fashion-mnist", "mnist", "synthetic", "folder", "npz", "csv", "text")
COLORS = ("auto", "gray", "rgb")
DATA_SUFFIXES = {".csv": "csv", ".npz": "npz"}


def _has_idx(directory: Path) -> bool:
    stem = IDX_FILES["train_images"]
    return (directory / stem).is_file() or (directory / f"{stem}.gz").is_file()


def detect(dataset: str = "fashion-mnist", data_dir=None, data=None) -> str:
    """The format a request names (one of :data:`FORMATS`): ``data`` by its suffix, ``data_dir``
    by its content (IDX files, else an image folder tree), else ``dataset`` itself."""
    from .folder import is_image_tree

    if data is not None:
        path = Path(data)
        if path.is_dir():
            raise DatasetError(path, "is a directory; --data takes a .csv or .npz file",
                               f"pass the folder with --data-dir {path}")
        fmt = DATA_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise DatasetError(path, f"unknown data file type {path.suffix or '(no suffix)'!r}",
                               "give a .csv table or a .npz archive with --data, or a folder with --data-dir")
        return fmt
    if data_dir is not None and dataset in ("fashion-mnist", "mnist", "folder"):
        directory = Path(data_dir)
        if not _has_idx(directory) and is_image_tree(directory):
            return "folder"
        if dataset == "folder":  # recorded as a folder, no longer one: say what is there now
            from .folder import scan

            scan(directory)
    return dataset


def open_dataset(dataset: str = "fashion-mnist", data_dir=None, data=None, *, limit: int | None = None,
                 image_size=None, color: str = "auto", label_column: str | None = None, features: str = "standard",
                 coding: InputCoding | None = None, workers: int | None = None, parts=("train", "val", "test"),
                 fingerprint: str | None = None) -> Dataset:
    """Load any supported source as a :class:`~binedge.data.Dataset` (module docstring).

    Args:
        dataset, data_dir, data: what to read (see :func:`detect`).
        limit: keep at most this many samples of each split.
        image_size: (H, W) for image folders (scale and centre-crop); None: the images' own size.
        color: image folders: "auto", "gray" or "rgb".
        label_column: CSV: the label column (default "label", else the last column).
        features: feature coding of npz / CSV feature vectors: "standard" (int8) or "minmax" (uint8).
        coding: a recorded :class:`~binedge.data.InputCoding` to reuse (resume, export) instead
            of fitting one on the training split.
        workers: DataLoader workers decoding image files (None: automatic).
        parts: image folders: the splits to decode (export needs only "test").
        fingerprint: the fingerprint a run recorded: data whose fingerprint differs now is refused.

    Raises:
        DatasetError: naming the file or folder at fault and the fix.
    """
    fmt = detect(dataset, data_dir, data)
    if fmt == "folder":
        from .folder import load_folder

        ds = load_folder(data_dir, size=image_size, color=color, workers=workers, parts=parts)
    elif fmt == "npz":
        from .tables import load_npz

        ds = load_npz(data, features=features, coding=coding)
    elif fmt == "csv":
        from .tables import load_csv

        ds = load_csv(data, label_column=label_column, features=features, coding=coding)
    elif fmt == "synthetic":
        # Fixed data seed: the training seed varies initialisation and order, not the data.
        ds = synthetic_dataset(seed=0)
        ds.source = {"format": "synthetic"}
    elif fmt in DEFAULT_DIRS:
        ds = load_dataset(fmt, data_dir)
        ds.source = {"format": fmt, "path": str(Path(data_dir).resolve()) if data_dir else str(DEFAULT_DIRS[fmt])}
    elif fmt == "text":
        raise ValueError("a text corpus is not a dataset of samples: read it with binedge.datasets.text.load_text "
                         "(binedge train --model lstm --dataset text --data-file FILE)")
    else:
        raise ValueError(f"unknown dataset {fmt!r}; choose one of {', '.join(FORMATS)}")
    now = ds.source.get("fingerprint")
    if fingerprint and now and now != fingerprint:
        raise DatasetError(ds.source["path"], f"changed since the run was trained (fingerprint {fingerprint[:12]}… "
                                              f"then, {now[:12]}… now)",
                           "restore the data the run was trained on, or train a new run")
    return limit_dataset(ds, limit)


__all__ = ["FORMATS", "COLORS", "detect", "open_dataset"]
