#!/usr/bin/env python3
"""Rebuild the Linux-kernel character corpus of LAB's LSTM experiment from Debian's linux-source-6.1.

LAB (Hou, Yao & Kwok, ICLR 2017) trained its character LSTMs on "Linux kernel source", 6.21 M
characters, vocabulary 101, split 90/5/5 (../shared/PAPERS.md); the exact files are not given.
This script makes a corpus of the same size, deterministically, from one Debian package:

    source:  /usr/src/linux-source-6.1.tar.xz of the package linux-source-6.1 (or --source: the
             tarball, or an unpacked tree)
    files:   the regular files under kernel/ (--dirs) whose names end in .c or .h, in byte order of
             their path relative to the tree's top directory (kernel/acct.c, kernel/async.c, ...,
             kernel/bpf/..., sub-directories sorted with the files, as plain strings);
             a file that is not valid UTF-8 is skipped (listed in the manifest)
    text:    the files' text concatenated as is, nothing between them, cut at exactly
             --characters characters (default 6,210,000, the paper's 6.21 M): the last file
             used is usually cut part-way
    output:  --out (default linux_corpus.txt, UTF-8) and OUT.json: the package version, every
             file used in order with its character count, the skipped files, the total, the
             number of distinct characters and the SHA-256 of the output

The text depends only on the package version (recorded; Debian updates linux-source-6.1 with
stable releases), never on the machine. Measured with 6.1.192-3 (Linux 6.1.192; the tarball
taken from the .deb with ``apt-get download`` + ``dpkg-deb -x``, 11 s on one core): 293 files,
kernel/acct.c first, the last kernel/rcu/srcutree.c (56,662 of its 62,534 characters), none
skipped, 98 distinct characters (ASCII and ©), SHA-256 250f3c949f95ced9…. The vocabulary binedge builds from the
training split (binedge.datasets.text) is reported by ``binedge train`` (config.json
"data_info"); the paper's 101 is for its own file selection and is not expected to match exactly.

The package (about 140 MB installed) is installed only when this script is run with --install
(apt-get, as root); scripts/bootstrap.sh and the default set-up never install it.

    sudo .venv/bin/python scripts/linux_corpus.py --install -o data/linux_corpus.txt
    .venv/bin/binedge train --model lstm --dataset text --data-file data/linux_corpus.txt -o runs/linux-lab
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "linux-source-6.1"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
DIRS = ("kernel",)
SUFFIXES = (".c", ".h")
CHARACTERS = 6_210_000


def select(paths, dirs=DIRS, suffixes=SUFFIXES) -> list[str]:
    """The corpus files among ``paths`` (relative to the tree's top directory, '/'-separated):
    those under one of ``dirs`` whose names end in one of ``suffixes``, in byte order of the path
    (the order of ``dirs`` first: all of dirs[0], then dirs[1], ...)."""
    out = []
    for k, d in enumerate(dirs):
        prefix = d.strip("/") + "/"
        out += sorted((p for p in set(paths) if p.startswith(prefix) and p.endswith(tuple(suffixes))),
                      key=lambda p: p.encode("utf-8"))
    return out


def _strip_top(name: str) -> str | None:
    """A tar member name without its top directory ("linux-source-6.1/kernel/fork.c" -> "kernel/fork.c")."""
    parts = name.lstrip("./").split("/", 1)
    return parts[1] if len(parts) == 2 and parts[1] else None


class Tree:
    """The files of a source tarball (.tar, .tar.xz, ...) or of an unpacked directory, by relative path.

    A tarball is read in one forward pass (an .xz stream cannot seek back cheaply): the names of
    all its regular files are kept, and the contents of those ``want(rel)`` accepts."""

    def __init__(self, source: Path, want=lambda rel: True):
        self.source = Path(source)
        self._data: dict[str, bytes] = {}
        if self.source.is_dir():
            root = self.source
            subdirs = [p for p in root.iterdir() if p.is_dir()]
            # an unpacked tarball: one top directory (linux-source-6.1/) holding the tree
            if len(subdirs) == 1 and not any(p.is_file() for p in root.iterdir()) and not (root / DIRS[0]).is_dir():
                root = subdirs[0]
            self.root = root
            self.files = {p.relative_to(root).as_posix(): p for p in root.rglob("*")
                          if p.is_file() and not p.is_symlink()}
        else:
            self.files = {}
            with tarfile.open(self.source, "r|*") as tar:
                for m in tar:
                    rel = _strip_top(m.name)
                    if rel is None or not m.isreg():
                        continue
                    self.files[rel] = None
                    if want(rel):
                        self._data[rel] = tar.extractfile(m).read()

    def read(self, rel: str) -> bytes:
        if rel in self._data:
            return self._data[rel]
        item = self.files[rel]
        if item is None:
            raise KeyError(f"{rel} was not read from {self.source}")
        return item.read_bytes()


def build(source, characters: int = CHARACTERS, dirs=DIRS) -> tuple[str, dict]:
    """(corpus text, manifest) from ``source`` (module docstring)."""
    tree = Tree(source, want=lambda rel: rel == "Makefile" or bool(select([rel], dirs)))
    chosen = select(tree.files, dirs)
    if not chosen:
        raise SystemExit(f"{source}: no .c / .h files under {', '.join(d + '/' for d in dirs)}; is it a Linux "
                         f"source tree or tarball?")
    parts, used, skipped, total = [], [], [], 0
    for rel in chosen:
        if total >= characters:
            break
        try:
            text = tree.read(rel).decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(rel)
            continue
        take = text[:characters - total]
        parts.append(take)
        used.append({"file": rel, "characters": len(take), "of": len(text)})
        total += len(take)
    corpus = "".join(parts)
    if total < characters:
        print(f"warning: the selected files hold only {total:,} characters, fewer than --characters "
              f"{characters:,}", file=sys.stderr)
    manifest = {"source": str(source), "package_version": package_version(),
                "kernel_version": kernel_version(tree), "dirs": list(dirs),
                "suffixes": list(SUFFIXES), "characters": len(corpus), "requested_characters": characters,
                "distinct_characters": len(set(corpus)), "files": used, "skipped_not_utf8": skipped,
                "sha256": hashlib.sha256(corpus.encode("utf-8")).hexdigest()}
    return corpus, manifest


def kernel_version(tree: Tree) -> str | None:
    """VERSION.PATCHLEVEL.SUBLEVEL from the tree's top Makefile (e.g. 6.1.192), or None."""
    if "Makefile" not in tree.files:
        return None
    fields = {}
    for line in tree.read("Makefile").decode("utf-8", "replace").splitlines()[:20]:
        key, eq, value = line.partition("=")
        if eq and key.strip() in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
            fields[key.strip()] = value.strip()
    if len(fields) != 3:
        return None
    return f"{fields['VERSION']}.{fields['PATCHLEVEL']}.{fields['SUBLEVEL']}"


def package_version() -> str | None:
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.strip() or None


def install() -> None:
    """apt-get install linux-source-6.1 (only on request: --install)."""
    if os.geteuid() != 0:
        raise SystemExit(f"--install runs apt-get, which needs root: run this script as root, or ask an "
                         f"administrator for 'apt-get install --no-install-recommends {PACKAGE}'")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", PACKAGE], check=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, default=Path("linux_corpus.txt"))
    ap.add_argument("--source", type=Path, default=TARBALL,
                    help=f"the source tarball or an unpacked tree (default {TARBALL})")
    ap.add_argument("--characters", type=int, default=CHARACTERS,
                    help=f"corpus length in characters (default {CHARACTERS:,}: LAB's 6.21 M)")
    ap.add_argument("--dirs", default=",".join(DIRS),
                    help="comma-separated directories of the tree, in order (default: kernel)")
    ap.add_argument("--install", action="store_true",
                    help=f"apt-get install {PACKAGE} first if {TARBALL} is missing (root)")
    a = ap.parse_args(argv)
    if a.characters < 1:
        ap.error("--characters must be positive")
    if not a.source.exists():
        if a.install and a.source == TARBALL:
            install()
        if not a.source.exists():
            raise SystemExit(f"{a.source}: not found. Install Debian's {PACKAGE} (run this script as root with "
                             f"--install, or apt-get install --no-install-recommends {PACKAGE}), or give "
                             f"--source TARBALL_OR_TREE")
    corpus, manifest = build(a.source, a.characters, tuple(d for d in a.dirs.split(",") if d))
    _write(a.out, corpus.encode("utf-8"))
    _write(a.out.with_name(a.out.name + ".json"), (json.dumps(manifest, indent=1) + "\n").encode())
    print(f"{a.out}: {manifest['characters']:,} characters from {len(manifest['files'])} files "
          f"({len(manifest['skipped_not_utf8'])} skipped: not UTF-8), {manifest['distinct_characters']} distinct "
          f"characters, Linux {manifest['kernel_version'] or '(version unknown)'}, package "
          f"{manifest['package_version'] or '(not installed: version unknown)'}; manifest {a.out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
