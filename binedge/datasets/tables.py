"""Arrays and tables as binedge :class:`~binedge.data.Dataset` s: ``.npz`` archives and CSV files.

``.npz`` (numpy's zip of arrays, read with ``allow_pickle=False``):

    x_train, y_train          required
    x_val, y_val              optional (a pair)
    x_test, y_test            optional (a pair)
    class_names               optional: one string per class (labels must lie below its length)

``x`` is uint8 images (N, H, W) or (N, H, W, C), kept as they are, or feature vectors (N, F) of
any real or integer type, coded as :class:`~binedge.data.InputCoding` says (``features``
"standard" → int8, "minmax" → uint8, fitted on the training split). ``y`` is integer class
indices (N,).

CSV: a header row of column names, then one row per sample; the label column is ``label_column``
(default: the column named "label", else the last one), every other column a numeric feature
(finite; a missing value, text or NaN is an error naming the line and column). Labels that are
all integers are class indices (classes 0..max, each must occur); otherwise every distinct label
is a class, named by it, in sorted order. The delimiter (comma, semicolon or tab) is taken from
the header line.

Fixed split: parts a ``.npz`` lacks, and all of a CSV, come from the training rows by position:
of every ten consecutive rows (i = 0, 1, ...) the one at i mod 10 = 8 is validation and the one
at i mod 10 = 9 test (a ``.npz`` with only one of the two missing: the rows at i mod 10 = 9 go
to it). Interleaving keeps a table sorted by class (or time) represented in every split.

Every problem is a :class:`~binedge.data.DatasetError` naming the file (and the array, line or
column) and the fix: a corrupt archive, a missing or unpaired array, a wrong shape or dtype, a
label out of range, a class with no training samples, non-finite features.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from ..data import Dataset, DatasetError, InputCoding, Split, image_coding

FEATURE_METHODS = ("standard", "minmax")
NPZ_FIX = ("write it with numpy.savez(path, x_train=..., y_train=..., [x_val=..., y_val=..., x_test=..., "
           "y_test=..., class_names=...])")
CSV_FIX = "give a CSV with a header row, numeric feature columns and one label column (--label-column NAME)"


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- feature coding


def fit_coding(x_train: np.ndarray, method: str = "standard", feature_names=None) -> InputCoding:
    """The :class:`~binedge.data.InputCoding` of feature vectors, fitted on the training rows
    (float64): "standard" (int8, mean / standard deviation, 16 codes per deviation) or "minmax"
    (uint8, minimum / range, 255 codes over the range). A constant feature gets spread 1."""
    if method not in FEATURE_METHODS:
        raise ValueError(f"unknown feature coding {method!r}; choose one of {', '.join(FEATURE_METHODS)}")
    x = np.asarray(x_train, dtype=np.float64)
    if method == "standard":
        center, spread, steps, dtype = x.mean(0), x.std(0), 16, "i8"
    else:
        center, spread, steps, dtype = x.min(0), x.max(0) - x.min(0), 255, "u8"
    spread = np.where(spread > 0, spread, 1.0)
    f = x.shape[1]
    names = [str(n) for n in feature_names] if feature_names is not None else [f"f{i}" for i in range(f)]
    return InputCoding("features", dtype, (f,), 1.0 / steps, 0, method, [float(v) for v in center],
                       [float(v) for v in spread], steps, names)


def positional_split(n: int, *, val: bool = True, test: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices of the fixed interleaved split (module docstring)."""
    i = np.arange(n)
    if val and test:
        v, t = i % 10 == 8, i % 10 == 9
    elif val:
        v, t = i % 10 == 9, np.zeros(n, bool)
    elif test:
        v, t = np.zeros(n, bool), i % 10 == 9
    else:
        v = t = np.zeros(n, bool)
    return i[~(v | t)], i[v], i[t]


def _check_classes(path: Path, labels: np.ndarray, train_labels: np.ndarray, names: list[str], what: str) -> None:
    k = len(names)
    if k < 2:
        raise DatasetError(path, f"has {k} class(es); a classifier needs at least 2", "add samples of other classes")
    counts = np.bincount(train_labels, minlength=k)
    empty = [names[c] for c in range(k) if counts[c] == 0]
    if empty:
        raise DatasetError(path, f"class {empty[0]!r} has no {what} in the training split "
                                 f"(a class with no samples){f' ({len(empty)} such classes)' if len(empty) > 1 else ''}",
                           "add training samples of that class or drop the class")


# ----------------------------------------------------------------------------- .npz


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DatasetError(path, "file not found", NPZ_FIX) from None
    except IsADirectoryError:
        raise DatasetError(path, "is a directory; --data takes a .npz or .csv file (a folder goes to --data-dir)",
                           NPZ_FIX) from None
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DatasetError(path, "holds Python objects (arrays of dtype object), which binedge does not unpickle",
                               "store numeric arrays and class_names as a string array") from None
        raise DatasetError(path, f"not a readable .npz archive ({e})", NPZ_FIX) from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise DatasetError(path, f"not a readable .npz archive ({type(e).__name__}: {e})", NPZ_FIX) from None


def load_npz(path, *, features: str = "standard", coding: InputCoding | None = None) -> Dataset:
    """Read a ``.npz`` archive (module docstring) into a :class:`~binedge.data.Dataset` named
    "npz". ``coding``: a recorded feature coding to reuse (resume, export) instead of fitting one."""
    path = Path(path)
    arrays = _npz_arrays(path)
    for key in ("x_train", "y_train"):
        if key not in arrays:
            raise DatasetError(path, f"has no array {key!r} (it holds {', '.join(sorted(arrays)) or 'nothing'})",
                               NPZ_FIX)
    for part in ("val", "test"):
        if (f"x_{part}" in arrays) != (f"y_{part}" in arrays):
            have, lack = (f"x_{part}", f"y_{part}") if f"x_{part}" in arrays else (f"y_{part}", f"x_{part}")
            raise DatasetError(path, f"has {have!r} but no {lack!r}", f"store both or neither; {NPZ_FIX}")
    x0 = arrays["x_train"]
    if x0.ndim == 2:
        kind = "features"
    elif x0.ndim in (3, 4):
        kind = "image"
        if x0.dtype != np.uint8:
            raise DatasetError(path, f"x_train holds images of shape {x0.shape} but dtype {x0.dtype}",
                               "store images as uint8 0..255 (e.g. np.round(x * 255).astype(np.uint8)), or feature "
                               "vectors as a 2-D (N, F) array")
        if x0.ndim == 4 and not 1 <= x0.shape[3] <= 4:
            raise DatasetError(path, f"x_train has shape {x0.shape}: images are (N, H, W) or (N, H, W, C) with C "
                                     "channels last (1 to 4)", "store images channels-last")
    else:
        raise DatasetError(path, f"x_train has shape {x0.shape}: expected images (N, H, W) / (N, H, W, C) or "
                                 "feature vectors (N, F)", NPZ_FIX)
    parts = {}
    for part in ("train", "val", "test"):
        if f"x_{part}" not in arrays:
            continue
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.shape[1:] != x0.shape[1:] or x.ndim != x0.ndim:
            raise DatasetError(path, f"x_{part} has shape {x.shape} but x_train has {x0.shape}: every part needs "
                                     "the same sample shape", NPZ_FIX)
        if kind == "image" and x.dtype != np.uint8:
            raise DatasetError(path, f"x_{part} has dtype {x.dtype}; images are uint8", NPZ_FIX)
        if kind == "features" and not (np.issubdtype(x.dtype, np.number) or x.dtype == bool) \
                or np.issubdtype(x.dtype, np.complexfloating):
            raise DatasetError(path, f"x_{part} has dtype {x.dtype}; feature vectors are real numbers", NPZ_FIX)
        if kind == "features" and not np.isfinite(x.astype(np.float64)).all():
            bad = np.argwhere(~np.isfinite(x.astype(np.float64)))[0]
            raise DatasetError(path, f"x_{part}[{bad[0]}, {bad[1]}] is {x[bad[0], bad[1]]} (not finite)",
                               "fill or drop missing values")
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetError(path, f"y_{part} has shape {y.shape}; it must be ({len(x)},): one label per row of "
                                     f"x_{part}", NPZ_FIX)
        if not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
            raise DatasetError(path, f"y_{part} has dtype {y.dtype}; labels are integer class indices", NPZ_FIX)
        if len(x) == 0 and part == "train":
            raise DatasetError(path, "x_train holds no samples", NPZ_FIX)
        parts[part] = (x, y.astype(np.int64))
    if "val" not in parts or "test" not in parts:
        tr, va, te = positional_split(len(parts["train"][1]), val="val" not in parts, test="test" not in parts)
        x, y = parts["train"]
        if "val" not in parts:
            parts["val"] = (x[va], y[va])
        if "test" not in parts:
            parts["test"] = (x[te], y[te])
        parts["train"] = (x[tr], y[tr])
    labels = np.concatenate([parts[p][1] for p in ("train", "val", "test")])
    if "class_names" in arrays:
        cn = arrays["class_names"]
        if cn.ndim != 1:
            raise DatasetError(path, f"class_names has shape {cn.shape}; it must be one name per class", NPZ_FIX)
        names = [str(v) for v in cn.tolist()]
    else:
        names = [str(i) for i in range(int(labels.max()) + 1 if labels.size else 0)]
    for part in ("train", "val", "test"):
        y = parts[part][1]
        if y.size and (y.min() < 0 or y.max() >= len(names)):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise DatasetError(path, f"y_{part} holds label {bad}, out of range for {len(names)} classes "
                                     f"[0, {len(names)})", "labels must be class indices 0..K-1 (with class_names "
                                                           "of length K if given)")
    _check_classes(path, labels, parts["train"][1], names, "samples")
    if kind == "features":
        if coding is None:
            coding = fit_coding(parts["train"][0], features)
        splits = {p: Split(coding.encode(x), y) for p, (x, y) in parts.items()}
    else:
        x = parts["train"][0]
        coding = image_coding((x.shape[1], x.shape[2], 1 if x.ndim == 3 else x.shape[3]))
        splits = {p: Split(np.ascontiguousarray(x), y) for p, (x, y) in parts.items()}
    return Dataset(splits["train"], splits["val"], splits["test"], names, "npz", coding,
                   {"format": "npz", "path": str(path.resolve()), "fingerprint": file_sha256(path)})


# ----------------------------------------------------------------------------- CSV


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(path, "file not found", CSV_FIX) from None
    except IsADirectoryError:
        raise DatasetError(path, "is a directory; --data takes a .csv or .npz file (a folder goes to --data-dir)",
                           CSV_FIX) from None
    except OSError as e:
        raise DatasetError(path, f"cannot read file ({e.strerror or e})", CSV_FIX) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(path, f"is not UTF-8 text (byte {e.start}): not a CSV file", CSV_FIX) from None


def load_csv(path, *, label_column: str | None = None, features: str = "standard",
             coding: InputCoding | None = None) -> Dataset:
    """Read a CSV table (module docstring) into a :class:`~binedge.data.Dataset` named "csv"
    of feature codes. ``coding``: a recorded feature coding to reuse instead of fitting one."""
    path = Path(path)
    text = _read_text(path)
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(rows)
    except StopIteration:
        raise DatasetError(path, "is empty (no header row)", CSV_FIX) from None
    except csv.Error as e:
        raise DatasetError(path, f"line 1: {e}", CSV_FIX) from None
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise DatasetError(path, f"the header has {len(header)} column(s); need at least one feature and the label",
                           CSV_FIX)
    if label_column is None:
        label_at = header.index("label") if "label" in header else len(header) - 1
    elif label_column in header:
        label_at = header.index(label_column)
    else:
        raise DatasetError(path, f"has no column {label_column!r} (columns: {', '.join(header)})",
                           "pass the label column's name with --label-column")
    feature_at = [i for i in range(len(header)) if i != label_at]
    values: list[list[float]] = []
    labels: list[str] = []
    try:
        for row in rows:
            line = rows.line_num
            if not row or all(not v.strip() for v in row):
                continue  # blank lines (e.g. a trailing newline) carry no sample
            if len(row) != len(header):
                raise DatasetError(path, f"line {line} has {len(row)} fields but the header has {len(header)} "
                                         "(wrong shape)", CSV_FIX)
            out = []
            for i in feature_at:
                v = row[i].strip()
                try:
                    f = float(v)
                except ValueError:
                    f = None
                if f is None or not np.isfinite(f):
                    what = "empty (a missing value)" if not v else f"{v!r}, not a finite number"
                    raise DatasetError(path, f"line {line}, column {header[i]!r}: {what}",
                                       "fill or drop missing values; every feature column must be numeric")
                out.append(f)
            values.append(out)
            labels.append(row[label_at].strip())
    except csv.Error as e:
        raise DatasetError(path, f"line {rows.line_num}: {e}", CSV_FIX) from None
    if not values:
        raise DatasetError(path, "has a header but no rows", CSV_FIX)
    for n, lab in enumerate(labels):
        if not lab:
            raise DatasetError(path, f"row {n + 1} (after the header) has an empty label in column "
                                     f"{header[label_at]!r}", "give every row a label")
    try:
        ints = [int(v) for v in labels]
    except ValueError:
        ints = None
    if ints is not None:
        y = np.array(ints, dtype=np.int64)
        if y.min() < 0:
            row = int(np.argmax(y < 0))
            raise DatasetError(path, f"row {row + 1}: label {int(y[row])} is out of range (integer labels are class "
                                     "indices 0..K-1)", "use class indices from 0, or class names")
        names = [str(i) for i in range(int(y.max()) + 1)]
        counts = np.bincount(y, minlength=len(names))
        if (counts == 0).any():
            missing = int(np.argmax(counts == 0))
            raise DatasetError(path, f"class {missing} has no rows although labels go up to {len(names) - 1} "
                                     "(a class with no samples)",
                               "renumber the classes 0..K-1 without gaps, or use class names as labels")
    else:
        names = sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
    x = np.array(values, dtype=np.float64)
    tr, va, te = positional_split(len(y))
    _check_classes(path, y, y[tr], names, "rows")
    if coding is None:
        coding = fit_coding(x[tr], features, [header[i] for i in feature_at])
    elif coding.kind != "features" or tuple(coding.shape) != (len(feature_at),):
        raise DatasetError(path, f"has {len(feature_at)} feature columns but the run was trained on {coding.shape}",
                           "use the CSV the run was trained on")
    q = coding.encode(x)
    return Dataset(Split(q[tr], y[tr]), Split(q[va], y[va]), Split(q[te], y[te]), [str(n) for n in names], "csv",
                   coding, {"format": "csv", "path": str(path.resolve()), "fingerprint": file_sha256(path),
                            "label_column": header[label_at]})
