"""An image folder tree as a binedge :class:`~binedge.data.Dataset`.

Two layouts (the folder names are the class names, sorted):

    ROOT/<class>/.../*.png|jpg|jpeg                 one tree; the split is fixed (below)
    ROOT/train/<class>/...  ROOT/test/<class>/...   already split (ROOT/val/<class>/... optional)

Fixed split of one tree, per class, over the class's files sorted by relative path: of every ten
consecutive files (positions i = 0, 1, ...) the one at i mod 10 = 8 is validation, the one at
i mod 10 = 9 is test, the other eight train (80 / 10 / 10, stratified, independent of the
machine and of file-system order). With ``train/`` and ``test/`` but no ``val/``, validation is
the files at i mod 10 = 9 of each training class. Files are searched recursively below a class
folder; hidden files and files with other suffixes are ignored.

Images are read with Pillow and converted to grayscale ("L": one channel) or RGB (alpha and
palettes dropped by Pillow's convert); ``color="auto"`` takes grayscale when every file is
stored as grayscale (modes 1, L, LA), else RGB. 16-bit and float images are refused. Without a
declared size every image must have the size of the first one; with ``size=(H, W)`` each image
is scaled (bilinear, Pillow's antialiased resize) so that it covers H×W and centre-cropped to it.
Decoding runs in torch DataLoader workers when there are many files (``workers``).

Every problem — an unreadable or corrupt file, a wrong size, an empty class folder, a class in
``test/`` that ``train/`` lacks — is a :class:`~binedge.data.DatasetError` naming the file or
folder and the fix.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..data import Dataset, DatasetError, Split, image_coding

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRAY_MODES = ("1", "L", "LA")
#: Pillow modes refused: more than 8 bits per channel would be clipped, not scaled, by convert.
DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")
FOLDER_FIX = "give --data-dir a folder with one sub-folder of PNG/JPEG images per class (see binedge.datasets.folder)"
#: Files at or above this count are decoded in DataLoader workers by default.
PARALLEL_FROM = 1000


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    """PNG / JPEG files below ``folder`` (recursively, hidden ones skipped), sorted by relative path."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                out.append(Path(dirpath) / name)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def _class_dirs(folder: Path) -> list[Path]:
    try:
        return sorted((d for d in folder.iterdir() if d.is_dir() and _visible(d)), key=lambda d: d.name)
    except OSError as e:
        raise DatasetError(folder, f"cannot list the folder ({e.strerror or e})", FOLDER_FIX) from None


def is_image_tree(root) -> bool:
    """Does ``root`` look like an image folder tree (a visible sub-folder holding a PNG / JPEG)?"""
    root = Path(root)
    if not root.is_dir():
        return False
    for d in _class_dirs(root):
        for _dirpath, _dirs, files in os.walk(d):
            if any(f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".") for f in files):
                return True
    return False


def _is_presplit(root: Path) -> bool:
    return (root / "train").is_dir() and (root / "test").is_dir()


def scan(root) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """(class names, {"train" | "val" | "test": [(file, class index), ...]}) of a folder tree,
    by the layout and split rules of the module docstring."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "data directory not found", FOLDER_FIX)
    parts: dict[str, list[tuple[Path, int]]] = {"train": [], "val": [], "test": []}
    if _is_presplit(root):
        train_dirs = _class_dirs(root / "train")
        if not train_dirs:
            raise DatasetError(root / "train", "holds no class sub-folders", FOLDER_FIX)
        names = [d.name for d in train_dirs]
        index = {n: i for i, n in enumerate(names)}
        has_val = (root / "val").is_dir()
        for k, d in enumerate(train_dirs):
            files = _image_files(d)
            if not files:
                raise DatasetError(d, "class folder holds no PNG/JPEG images (a class with no samples)",
                                   "add images of this class or remove the folder")
            for i, f in enumerate(files):
                parts["val" if not has_val and i % 10 == 9 else "train"].append((f, k))
        for part in ("val", "test") if has_val else ("test",):
            for d in _class_dirs(root / part):
                if d.name not in index:
                    raise DatasetError(d, f"class {d.name!r} is not among the training classes "
                                          f"({', '.join(names)})", f"add {root / 'train' / d.name} or remove {d}")
                parts[part] += [(f, index[d.name]) for f in _image_files(d)]
    else:
        dirs = _class_dirs(root)
        if not dirs:
            raise DatasetError(root, "holds no class sub-folders", FOLDER_FIX)
        names = [d.name for d in dirs]
        for k, d in enumerate(dirs):
            files = _image_files(d)
            if not files:
                raise DatasetError(d, "class folder holds no PNG/JPEG images (a class with no samples)",
                                   "add images of this class or remove the folder")
            for i, f in enumerate(files):
                parts["val" if i % 10 == 8 else "test" if i % 10 == 9 else "train"].append((f, k))
    if len(names) < 2:
        raise DatasetError(root, f"has {len(names)} class folder(s); a classifier needs at least 2", FOLDER_FIX)
    return names, parts


def fingerprint(root) -> str:
    """SHA-256 over the sorted (relative path, size) of every image file below ``root``: changes
    when a file is added, removed, renamed or changes size (content edits of equal size do not)."""
    root = Path(root)
    h = hashlib.sha256()
    for f in _image_files(root):
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\n".encode())
    return h.hexdigest()


def _open_error(path: Path, e: BaseException) -> DatasetError:
    text = str(e).strip().splitlines()
    why = f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
    return DatasetError(path, f"not a readable PNG/JPEG image ({why})", "replace or delete the file")


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) from the file's header."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.mode, im.size
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for a bad file
        raise _open_error(path, e) from None


def _fit(im, size: tuple[int, int]):
    """Scale ``im`` to cover (H, W) and centre-crop it to exactly that."""
    from PIL import Image

    th, tw = size
    w, h = im.size
    s = max(th / h, tw / w)
    nw, nh = max(tw, round(w * s)), max(th, round(h * s))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - tw) // 2, (nh - th) // 2
    return im.crop((left, top, left + tw, top + th))


def decode(path, *, gray: bool, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image file as uint8 (H, W) (``gray``) or (H, W, 3), scaled / cropped to ``size``."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in DEEP_MODES:
                raise DatasetError(path, f"is a {im.mode} image (more than 8 bits per channel)",
                                   "save it as an 8-bit grayscale or RGB PNG / JPEG")
            im = im.convert("L" if gray else "RGB")
            if size is not None:
                im = _fit(im, size)
            return np.asarray(im, dtype=np.uint8).copy()
    except DatasetError:
        raise
    except Exception as e:  # noqa: BLE001
        raise _open_error(path, e) from None


class _Files:
    """A map-style torch dataset of files to decode (errors travel back as values: a worker's
    exception would lose its file name in DataLoader's re-raise)."""

    def __init__(self, files, gray, size):
        self.files, self.gray, self.size = files, gray, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i):
        try:
            return i, decode(self.files[i], gray=self.gray, size=self.size), None
        except DatasetError as e:
            return i, None, (str(e.path), e.problem, e.fix)


def _as_list(batch):
    return batch


def default_workers(n_files: int) -> int:
    """DataLoader workers for decoding ``n_files`` files: none below PARALLEL_FROM files (starting
    workers costs more than it saves), else up to 8, at most the CPUs this process may use
    shared by the processes of this node (LOCAL_WORLD_SIZE under torchrun)."""
    if n_files < PARALLEL_FROM:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    per_process = cpus // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(0, min(8, per_process))


def _decode_all(files: list[Path], gray: bool, size, shape, workers: int) -> np.ndarray:
    out = np.zeros((len(files),) + tuple(shape), dtype=np.uint8)
    if not files:
        return out
    if workers <= 0:
        for i, f in enumerate(files):
            out[i] = decode(f, gray=gray, size=size)
        return out
    from torch.utils.data import DataLoader

    batches = DataLoader(_Files(files, gray, size), batch_size=64, num_workers=workers, collate_fn=_as_list)
    for batch in batches:
        for i, arr, err in batch:
            if err is not None:
                raise DatasetError(*err)
            out[i] = arr
    return out


def load_folder(root, *, size=None, color: str = "auto", workers: int | None = None,
                parts=("train", "val", "test")) -> Dataset:
    """Read an image folder tree (module docstring) into a :class:`~binedge.data.Dataset`
    named "folder" with uint8 images (N, H, W) (grayscale) or (N, H, W, 3) (RGB).

    Args:
        root: the folder.
        size: (H, W) to scale and centre-crop every image to; None: all images must share the
            first one's size.
        color: "gray", "rgb" or "auto" (gray when every file is stored as grayscale).
        workers: DataLoader workers decoding the files (None: :func:`default_workers`).
        parts: the splits to decode (the others are empty, with the right shape): ``binedge
            export`` decodes only "test".
    """
    root = Path(root)
    if color not in ("auto", "gray", "rgb"):
        raise ValueError(f"color must be auto, gray or rgb, got {color!r}")
    names, files = scan(root)
    every = [f for part in ("train", "val", "test") for f, _ in files[part]]
    headers = {f: _header(f) for f in every}  # a corrupt file fails here, by name, before decoding
    gray = color == "gray" or (color == "auto" and all(m in GRAY_MODES for m, _ in headers.values()))
    if size is None:
        first = every[0]
        w0, h0 = headers[first][1]
        for f in every:
            if headers[f][1] != (w0, h0):
                w, h = headers[f][1]
                raise DatasetError(f, f"is {h}x{w} pixels (HxW) but {first} is {h0}x{w0}",
                                   "pass --image-size HxW to scale and crop every image to one size")
        size_hw = (h0, w0)
    else:
        size_hw = (int(size[0]), int(size[1]))
    shape = size_hw if gray else size_hw + (3,)
    if workers is None:
        workers = default_workers(sum(len(files[p]) for p in parts))
    splits = {}
    for part in ("train", "val", "test"):
        chosen = files[part] if part in parts else []
        images = _decode_all([f for f, _ in chosen], gray, None if size is None else size_hw, shape, workers)
        splits[part] = Split(images, np.array([k for _, k in chosen], dtype=np.int64))
    if "train" in parts and len(splits["train"]) == 0:
        raise DatasetError(root, "no training images (every class folder is empty)", FOLDER_FIX)
    h, w = size_hw
    return Dataset(splits["train"], splits["val"], splits["test"], names, "folder",
                   image_coding((h, w, 1 if gray else 3)),
                   {"format": "folder", "path": str(root.resolve()), "fingerprint": fingerprint(root),
                    "color": "gray" if gray else "rgb", "sizes": {p: len(files[p]) for p in files}})
