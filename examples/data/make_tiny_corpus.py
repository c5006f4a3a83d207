"""Write tiny_corpus.txt: a small, deterministic C-like character corpus for binedge's tests and the
reduced LSTM table (examples/replicate/lstm_table.py).

Kernel-style C (comments, structs, functions with nested if / for / while blocks, tab
indentation) generated from a fixed grammar and word list by a seeded random.Random, so the
text has the structure a character LSTM learns on the Linux corpus (matching braces,
indentation, recurring identifiers) without copying any real source. No input is read: the same
Python gives the same bytes (checked by tests/test_text_data.py).

    .venv/bin/python examples/data/make_tiny_corpus.py      # rewrites examples/data/tiny_corpus.txt
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

#: characters written (the file is ASCII: bytes = characters)
SIZE = 40_000
SEED = 2017

NOUNS = ["dev", "buf", "page", "queue", "node", "entry", "irq", "lock", "frame", "port", "slot", "cache", "state",
         "req", "skb", "inode", "task", "timer", "region", "ring"]
VERBS = ["init", "free", "alloc", "get", "put", "read", "write", "reset", "flush", "map", "unmap", "probe", "remove",
         "start", "stop", "update", "check", "release"]
TYPES = ["int", "unsigned int", "unsigned long", "u32", "u8", "size_t", "bool", "long"]
WORDS = ("the of a to is for this we it that be must not on with when if lock held caller returns zero error "
         "buffer device queue entry page memory before after each free used count state").split()
ERRORS = ["-EINVAL", "-ENOMEM", "-EBUSY", "-EIO", "-ENODEV", "-EAGAIN"]


class Writer:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.out: list[str] = []

    def line(self, depth: int, text: str) -> None:
        self.out.append("\t" * depth + text + "\n")

    def name(self) -> str:
        r = self.rng
        return f"{r.choice(NOUNS)}_{r.choice(VERBS)}" if r.random() < 0.6 else r.choice(NOUNS)

    def expr(self) -> str:
        r = self.rng
        k = r.random()
        if k < 0.3:
            return f"{r.choice(NOUNS)}->{r.choice(NOUNS)}"
        if k < 0.5:
            return str(r.choice([0, 1, 2, 4, 8, 16, 32, 64, 128, 255, 4096]))
        if k < 0.7:
            return f"{self.name()}({r.choice(NOUNS)})"
        if k < 0.85:
            return f"{r.choice(NOUNS)} {r.choice(['+', '-', '&', '|', '<<', '>>'])} {r.choice([1, 2, 8, 0xff])}"
        return r.choice(NOUNS)

    def comment(self, depth: int) -> None:
        r = self.rng
        words = [r.choice(WORDS) for _ in range(r.randint(4, 11))]
        text = " ".join(words).capitalize() + "."
        if r.random() < 0.5:
            self.line(depth, f"/* {text} */")
        else:
            self.line(depth, "/*")
            self.line(depth, f" * {text}")
            self.line(depth, f" * {' '.join(r.choice(WORDS) for _ in range(r.randint(3, 9))).capitalize()}.")
            self.line(depth, " */")

    def block(self, depth: int, budget: int) -> None:
        r = self.rng
        for _ in range(r.randint(1, 4)):
            k = r.random()
            if k < 0.12:
                self.comment(depth)
            if budget > 0 and k < 0.3:
                self.line(depth, f"if ({self.expr()} {r.choice(['==', '!=', '<', '>='])} {self.expr()}) {{")
                self.block(depth + 1, budget - 1)
                self.line(depth, "}")
            elif budget > 0 and k < 0.42:
                i = r.choice("ijk")
                self.line(depth, f"for ({i} = 0; {i} < {self.expr()}; {i}++) {{")
                self.block(depth + 1, budget - 1)
                self.line(depth, "}")
            elif budget > 0 and k < 0.5:
                self.line(depth, f"while (!{self.name()}({r.choice(NOUNS)})) {{")
                self.block(depth + 1, budget - 1)
                self.line(depth, "}")
            elif k < 0.65:
                self.line(depth, f"{r.choice(NOUNS)}->{r.choice(NOUNS)} = {self.expr()};")
            elif k < 0.8:
                self.line(depth, f"{self.name()}({r.choice(NOUNS)}, {self.expr()});")
            elif k < 0.9:
                self.line(depth, f"return {r.choice(ERRORS)};")
            else:
                self.line(depth, f"{r.choice(NOUNS)} = {self.expr()};")

    def function(self) -> None:
        r = self.rng
        if r.random() < 0.4:
            self.comment(0)
        static = "static " if r.random() < 0.7 else ""
        ret = r.choice(TYPES[:3] + ["void"])
        args = ", ".join(f"struct {n} *{n}" if r.random() < 0.6 else f"{r.choice(TYPES)} {n}"
                         for n in r.sample(NOUNS, r.randint(1, 3)))
        self.line(0, f"{static}{ret} {self.name()}({args})")
        self.line(0, "{")
        for _ in range(r.randint(0, 3)):
            self.line(1, f"{r.choice(TYPES)} {r.choice(NOUNS)};")
        self.block(1, 2)
        if ret != "void":
            self.line(1, f"return {r.choice(['0', self.expr()])};")
        self.line(0, "}")
        self.out.append("\n")

    def struct(self) -> None:
        r = self.rng
        self.line(0, f"struct {r.choice(NOUNS)} {{")
        for n in r.sample(NOUNS, r.randint(2, 6)):
            self.line(1, f"{r.choice(TYPES)} {n};" if r.random() < 0.7 else f"struct {n} *{n};")
        self.line(0, "};")
        self.out.append("\n")


def corpus(size: int = SIZE, seed: int = SEED) -> str:
    w = Writer(random.Random(seed))
    w.line(0, "/* SPDX-License-Identifier: CC0-1.0 */")
    w.line(0, "/* Generated by binedge examples/data/make_tiny_corpus.py: not real kernel code. */")
    w.out.append("\n")
    while sum(map(len, w.out)) < size:
        (w.struct if w.rng.random() < 0.15 else w.function)()
    return "".join(w.out)[:size]


def main(argv=None) -> int:
    out = Path(argv[0]) if argv else Path(__file__).with_name("tiny_corpus.txt")
    text = corpus()
    out.write_text(text, encoding="ascii")
    print(f"{out}: {len(text):,} characters, {len(set(text))} distinct")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
