"""Real data beyond Fashion-MNIST from scikit-learn's bundled datasets (no download), written in
the formats ``binedge train`` reads from any user:

    .venv/bin/python examples/datasets/sklearn_data.py -o data/sklearn

    data/sklearn/digits/<0..9>/<index>.png   the 1,797 handwritten digits (8x8 grayscale; the
                                             0..16 intensities scaled to 0..255), an image folder tree
    data/sklearn/breast_cancer.csv           the Wisconsin breast-cancer table: 569 rows, 30 numeric
                                             features and a "label" column (malignant / benign)

Then (README "Your own data"):

    binedge train --data-dir data/sklearn/digits --hidden 256 --epochs 20 -o runs/digits
    binedge train --data data/sklearn/breast_cancer.csv --hidden 64 --depth 1 --epochs 30 -o runs/cancer
    binedge export runs/cancer --target cortex-m4 -o fw/cancer && make -C fw/cancer && binedge emulate fw/cancer

The same commands take any folder of PNG / JPEG images with one sub-folder per class, and any CSV
of numeric features with a label column.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def write_digits(root: Path) -> int:
    """One PNG per digit image under root/<label>/; returns the number written."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    pixels = np.clip(np.floor(d.images * (255.0 / 16.0) + 0.5), 0, 255).astype(np.uint8)
    for i, (img, label) in enumerate(zip(pixels, d.target)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    return len(pixels)


def write_breast_cancer(path: Path) -> int:
    """The table as CSV: the 30 feature columns (scikit-learn's names) and "label"."""
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([str(n) for n in d.feature_names] + ["label"])
        for row, label in zip(d.data, d.target):
            w.writerow([repr(float(v)) for v in row] + [str(d.target_names[label])])
    return len(d.data)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default="data/sklearn", help="output folder (default: data/sklearn)")
    a = p.parse_args(argv)
    out = Path(a.out)
    n = write_digits(out / "digits")
    m = write_breast_cancer(out / "breast_cancer.csv")
    print(f"{out / 'digits'}: {n} PNG images in 10 class folders; {out / 'breast_cancer.csv'}: {m} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
