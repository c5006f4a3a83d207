"""x86 kernel variants of the C runtime (runtime_c/src/x86/): every variant this CPU supports,
forced by name, on a grid of shapes (tile boundaries and tails of K, odd channel counts, conv
kernels / strides / paddings / input sizes, the stack-buffer limits where a variant hands an op
to the next one), equals both the C reference kernels and binedge.reference.run exactly; plus
the trained Fashion-MNIST blobs in tests/data/*.bnm on the whole test set.

The variant names, their ops and ISA bits come from the kernel table (binedge.runtime.kernel_table),
the one place they are listed. A variant whose ISA this CPU lacks is reported: its tests are
skipped with the reason and a warning names it (CI CPUs differ from the developer's).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from dags import random_dag, random_inputs
from graphs import _Builder, random_graph, random_images

from binedge import reference
from binedge.blob import blob_bytes, read_blob
from binedge.graph import Add, AvgPool2d, Conv2d, Dense, Graph, Merge
from binedge.runtime import Runtime, RuntimeStatusError, kernel_table, library

ISA_NAMES = {0x1: "POPCNT", 0x2: "AVX2", 0x4: "AVX-512 F/BW/VPOPCNTDQ", 0x8: "AVX-512 BITALG"}
DATA_DIR = Path(__file__).parent / "data"

TABLE = kernel_table()
CPU_ISA = int(library().be_isa_detect())
VARIANT_ISA: dict[str, int] = {}
for _name, _op, _isa in TABLE:
    VARIANT_ISA[_name] = VARIANT_ISA.get(_name, 0) | _isa
X86_SIMD = [n for n, isa in VARIANT_ISA.items() if isa]  # popcnt, avx2, avx512 (x86 builds)
VARIANTS = [n for n in VARIANT_ISA if n != "ref"]  # + the portable "word" kernels


def isa_text(bits: int) -> str:
    return " + ".join(v for k, v in ISA_NAMES.items() if bits & k) or "none"


def supported(variant: str) -> bool:
    return VARIANT_ISA[variant] & ~CPU_ISA == 0


def require(variant: str) -> None:
    """Skip (and warn, so that the run's output names it) when this CPU lacks the variant's ISA."""
    if not supported(variant):
        missing = VARIANT_ISA[variant] & ~CPU_ISA
        msg = f"x86 kernel variant {variant!r} NOT TESTED: this CPU lacks {isa_text(missing)}"
        warnings.warn(msg, pytest.PytestWarning, stacklevel=2)
        pytest.skip(msg)


def annotate(g: Graph) -> None:
    """Mark every Dense / Conv2d with the kind of its input (for the expected kernel names)."""
    for op, spec in zip(g.ops, g.specs()[:-1]):
        if isinstance(op, (Dense, Conv2d)):
            op._sign_in = spec.kind == "bits" and spec.encoding == "sign"
            op._u8_in = spec.kind == "u8"


def check(g: Graph, x: np.ndarray, variants=None, expect: dict | None = None) -> None:
    """All variants (forced by name) and the C reference equal binedge.reference.run on x.
    expect: {op index: True if the forced variant must run that op itself, False for "ref",
    "simd" for the uint8 first layers (AVX2 / AVX-512 take them, popcnt hands them to "ref")}."""
    want = reference.run(g, x)
    data = blob_bytes(g)
    got = Runtime(data, kernel="ref").run(x)
    np.testing.assert_array_equal(got, want, err_msg="C reference != binedge.reference")
    for v in variants if variants is not None else [v for v in X86_SIMD if supported(v)]:
        rt = Runtime(data, kernel=v)
        np.testing.assert_array_equal(rt.run(x), want, err_msg=f"variant {v} != reference")
        names = rt.kernel_names()
        for i, own in (expect or {}).items():
            own = v != "popcnt" if own == "simd" else own
            assert names[i] == (v if own else "ref"), (v, i, names)
    rt = Runtime(data)  # automatic dispatch
    np.testing.assert_array_equal(rt.run(x), want, err_msg=f"auto dispatch {rt.kernel_names()} != reference")


def images(rng, g, n=3):
    x = random_images(rng, g, n)
    x[0] = 0
    if n > 1:
        x[1] = 255
    return x


# ----------------------------------------------------------------------------- variants present


def test_variant_table_and_cpu():
    """The table lists each variant's ISA; this CPU runs ref and at least popcnt or AVX2."""
    assert {"ref", "popcnt", "avx2", "avx512", "word"} <= set(VARIANT_ISA)
    assert VARIANT_ISA["ref"] == 0 and VARIANT_ISA["word"] == 0
    assert VARIANT_ISA["popcnt"] == 0x1 and VARIANT_ISA["avx2"] == 0x2 and VARIANT_ISA["avx512"] == 0x4
    for v in X86_SIMD:
        if not supported(v):
            warnings.warn(f"x86 kernel variant {v!r} NOT TESTED on this CPU (lacks "
                          f"{isa_text(VARIANT_ISA[v] & ~CPU_ISA)})", pytest.PytestWarning)
    assert supported("popcnt") or supported("avx2"), "neither POPCNT nor AVX2: only the reference was tested"
    # restricting the ISA mask restricts automatic dispatch; forcing a variant the mask lacks fails
    g = random_graph(np.random.default_rng(0), "all")
    assert set(Runtime(g, isa=0).kernel_names()) <= {"ref", "word"}
    with pytest.raises(RuntimeStatusError, match="BE_ERR_UNSUPPORTED"):
        Runtime(g, kernel="avx2", isa=0x1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_forced_by_env_and_option(monkeypatch, variant):
    require(variant)
    rng = np.random.default_rng(1)
    if variant == "w32":  # the 32-bit elementwise kernels (Add, AvgPool2d, Merge): a typed DAG with them
        g = next(d for s in range(100) for d in [random_dag(np.random.default_rng(s))]
                 if sum(isinstance(op, (Add, AvgPool2d, Merge)) for op in d.ops) >= 2)
        x = random_inputs(rng, g, 4)
    else:
        b = _Builder(rng, (6, 6, 3))
        b.conv(33, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="binary")
        b.conv(40, (3, 3), (1, 1), (1, 1, 1, 1))
        b.pool((2, 2), (2, 2))
        b.flatten()
        b.dense(37)
        b.dense(5, scores=True)
        g = b.graph
        x = images(rng, g, 4)
    monkeypatch.setenv("BINEDGE_KERNEL", variant)
    rt = Runtime(g)
    assert rt.kernel == variant and variant in rt.kernel_names()
    np.testing.assert_array_equal(rt.run(x), reference.run(g, x))
    monkeypatch.setenv("BINEDGE_KERNEL", "ref")
    assert Runtime(g).kernel_names() == ["ref"] * len(g.ops)
    # "scalar" is the first layer's variant (uint8 input) for x86 without AVX2: one op of this graph
    need = 1 if variant == "scalar" else 2 if variant in ("word", "w32") else 3
    assert Runtime(g, kernel=variant).kernel_names().count(variant) >= need


def test_auto_dispatch_prefers_widest():
    rng = np.random.default_rng(2)
    b = _Builder(rng, (5, 5, 1))
    b.conv(32, (3, 3), (1, 1), (1, 1, 1, 1), weight_kind="binary")
    b.conv(32, (3, 3), (1, 1), (1, 1, 1, 1))
    b.pool((2, 2), (2, 2))
    b.flatten()
    b.dense(10, scores=True)
    names = Runtime(b.graph).kernel_names()
    best = next((v for v in ("avx512", "avx2") if supported(v)), None)
    if best:
        assert names == [best, best, "word", "word", best]
    elif supported("popcnt"):  # the u8 first layer: "scalar" (SSE2) without AVX2
        assert names == ["scalar", "popcnt", "word", "word", "popcnt"]


# ----------------------------------------------------------------------------- dense

K_GRID = (1, 31, 32, 33, 63, 64, 65, 255, 256, 257, 511, 512, 513, 1000)
O_GRID = (1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70)


@pytest.mark.parametrize("k", K_GRID)
def test_dense_sign_grid(k):
    """sign bits x binary weights: every K tail against output counts 1..70 (thresholds with
    direction -1, constant channels, unsigned multi-level outputs, score outputs)."""
    rng = np.random.default_rng(k)
    for o in O_GRID:
        b = _Builder(rng, (6,))
        b.dense(k, "sign", 1, "int8")  # 6 pixels -> k sign bits
        if o % 3 == 0:
            b.dense(o, "unsigned", 3)  # generic output stage (2 bit-planes)
            b.dense(3, scores=True)
        else:
            b.dense(o, "sign")
            b.dense(3, scores=True)
        g = b.graph
        annotate(g)
        check(g, images(rng, g, 3), expect={1: True})


@pytest.mark.parametrize("k", K_GRID)
@pytest.mark.parametrize("weight_kind", ["binary", "int8"])
def test_dense_u8_grid(k, weight_kind):
    """uint8 pixels (first layer) x binary / int8 weights: AVX2 / AVX-512 take it, popcnt hands
    it to ref."""
    rng = np.random.default_rng(7 * k + len(weight_kind))
    for o in (1, 3, 16, 17, 33, 64, 70):
        b = _Builder(rng, (k,))
        b.dense(o, "sign", 1, weight_kind)
        b.dense(2, scores=True)
        g = b.graph
        annotate(g)
        for v in [v for v in X86_SIMD if supported(v)]:
            check(g, images(rng, g, 3), [v], expect={0: "simd"})


def test_dense_scores_direct():
    """The last Dense (scores, multipliers and offsets) straight on bits and on pixels."""
    rng = np.random.default_rng(11)
    for k in (1, 33, 257, 1000):
        b = _Builder(rng, (9,))
        b.dense(k, "sign", 1, "int8")
        b.dense(65, scores=True)
        check(b.graph, images(rng, b.graph, 4))
        b = _Builder(rng, (k,))
        b.dense(33, scores=True, weight_kind="binary")
        check(b.graph, images(rng, b.graph, 4))


# ----------------------------------------------------------------------------- conv

C_GRID = (1, 3, 31, 32, 33, 64, 65, 129)
# padding below the kernel size on every side (the format's limit, docs/format.md §7)
GEOMETRY = [(k, s, p) for k in (1, 3, 5) for s in (1, 2, 3) for p in (0, 1, 2) if p < k]


def _conv_case(rng, c, k, s, p, hw=None, o=None, asym=False):
    pad = [p, p, p, p]
    if asym:
        pad = [int(v) for v in rng.integers(0, min(2, k - 1) + 1, size=4)]
    h = int(rng.integers(1, 10)) if hw is None else hw[0]
    w = int(rng.integers(1, 10)) if hw is None else hw[1]
    h = max(h, k - pad[0] - pad[1])  # the kernel must fit the padded input
    w = max(w, k - pad[2] - pad[3])
    o = int(rng.choice(O_GRID)) if o is None else o
    return h, w, tuple(pad), o


@pytest.mark.parametrize("c", C_GRID)
def test_conv_sign_grid(c):
    """sign bits x binary weights: kernel 1/3/5 x stride 1/2/3 x padding 0/1/2 (+ asymmetric),
    inputs 1x1 .. 9x9, output channels 1..70; then a sign max-pool (word kernel) and flatten."""
    rng = np.random.default_rng(100 + c)
    for i, (k, s, p) in enumerate(GEOMETRY):
        h, w, pad, o = _conv_case(rng, c, k, s, p, asym=i % 4 == 3)
        b = _Builder(rng, (h, w, 2))
        b.conv(c, (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="int8")  # pixels -> c sign channels
        if i % 5 == 4:
            b.conv(o, (k, k), (s, s), pad, encoding="unsigned", levels=3)  # generic output stage
        else:
            b.conv(o, (k, k), (s, s), pad)
        oh, ow = b.spec.shape[:2]
        if b.spec.encoding == "sign" and oh > 1 and ow > 1:
            b.pool((2, 2), (1, 2))
        b.flatten()
        b.dense(3, scores=True)
        g = b.graph
        annotate(g)
        check(g, images(rng, g, 2), expect={1: True})


@pytest.mark.parametrize("c", (1, 3, 4, 8, 31))
@pytest.mark.parametrize("weight_kind", ["binary", "int8"])
def test_conv_u8_grid(c, weight_kind):
    """First-layer conv on uint8 pixels, binary / int8 weights, the same geometry grid."""
    rng = np.random.default_rng(200 + c + len(weight_kind))
    for i, (k, s, p) in enumerate(GEOMETRY):
        h, w, pad, o = _conv_case(rng, c, k, s, p, asym=i % 4 == 1)
        b = _Builder(rng, (h, w, c))
        b.conv(o, (k, k), (s, s), pad, weight_kind=weight_kind)
        b.flatten()
        b.dense(3, scores=True)
        g = b.graph
        annotate(g)
        check(g, images(rng, g, 2), expect={0: "simd"})


def test_conv_buffer_limits():
    """Shapes at the stack-buffer limits of the SIMD conv variants (src/x86/be_x86.h): several
    bands of padded rows, weight rows too long to pair two channel blocks, more channel blocks
    than one group, and rows beyond the limit (handed to popcnt / ref)."""
    rng = np.random.default_rng(300)
    simd = [v for v in ("avx2", "avx512") if supported(v)]
    cases = [  # (input h, w, c; out channels; kernel; stride; padding; SIMD takes it)
        ((30, 40, 129), 33, 3, 1, 1, True),  # 5-word pixels: 3 bands of padded rows
        ((12, 200, 33), 17, 3, 2, 2, True),  # wide rows: bands of 1-3 output rows
        ((6, 6, 353), 20, 5, 1, 2, True),  # 300-word weight rows: one 16-channel block at a time
        ((3, 3, 700), 5, 5, 1, 1, False),  # 550-word rows > 512: popcnt takes it, forced SIMD -> ref
        ((4, 5, 32), 600, 1, 1, 0, True),  # pointwise, 38 blocks of 16 > one group of 16 pairs
        ((3, 3, 64), 70, 1, 2, 0, True),  # 1x1 with stride: padded-row path
    ]
    for (h, w, c), o, k, s, p, simd_ok in cases:
        b = _Builder(rng, (h, w, 1))
        b.conv(c, (1, 1), (1, 1), (0, 0, 0, 0), weight_kind="int8")
        b.conv(o, (k, k), (s, s), (p, p, p, p))
        b.flatten()
        b.dense(2, scores=True)
        g = b.graph
        x = images(rng, g, 2)
        want = reference.run(g, x)
        for v in simd:
            rt = Runtime(g, kernel=v)
            assert rt.kernel_names()[1] == (v if simd_ok else "ref"), (v, (h, w, c), rt.kernel_names())
            np.testing.assert_array_equal(rt.run(x), want, err_msg=f"{v} {(h, w, c)} -> {o}")
        if supported("popcnt"):
            rt = Runtime(g, kernel="popcnt")
            np.testing.assert_array_equal(rt.run(x), want)
            if not simd_ok:
                assert Runtime(g).kernel_names()[1] == "popcnt"  # auto falls through to popcnt
    # u8 first layers: several bands (wide rows), one block at a time (> 256 pairs), too long
    for (h, w, c), o, k, simd_ok in [((60, 100, 3), 33, 3, True), ((7, 7, 24), 20, 5, True),
                                     ((6, 6, 45), 3, 5, False)]:
        b = _Builder(rng, (h, w, c))
        b.conv(o, (k, k), (1, 1), (1, 1, 1, 1), weight_kind="binary")
        b.flatten()
        b.dense(2, scores=True)
        g = b.graph
        x = images(rng, g, 2)
        want = reference.run(g, x)
        for v in simd:
            rt = Runtime(g, kernel=v)
            assert rt.kernel_names()[0] == (v if simd_ok else "ref"), (v, (h, w, c), rt.kernel_names())
            np.testing.assert_array_equal(rt.run(x), want, err_msg=f"u8 {v} {(h, w, c)}")


def test_pool_and_flatten_word():
    """The word kernels: max-pool of sign bits and of unsigned bit-planes (odd channels, strides,
    windows) and flatten of both, with C not a multiple of 32."""
    rng = np.random.default_rng(400)
    for c in (1, 31, 32, 33, 65, 129):
        for enc, lv in (("sign", 1), ("unsigned", 3)):
            b = _Builder(rng, (7, 6, 2))
            b.conv(c, (3, 3), (1, 1), (1, 1, 1, 1), encoding=enc, levels=lv, weight_kind="int8")
            b.pool((int(rng.integers(1, 4)), int(rng.integers(1, 4))), (int(rng.integers(1, 3)),
                                                                         int(rng.integers(1, 3))))
            b.flatten()
            b.dense(33, "sign")
            b.dense(4, scores=True)
            g = b.graph
            x = images(rng, g, 3)
            check(g, x, variants=["word"])
            names = Runtime(g, kernel="word").kernel_names()
            assert names[1] == "word" and names[2] == "word"


# ----------------------------------------------------------------------------- random graphs


@pytest.mark.parametrize("kind", ["conv", "mlp", "all"])
def test_random_graphs_all_variants(kind):
    for seed in range(40):
        rng = np.random.default_rng(5000 + seed)
        g = random_graph(rng, kind, channels=C_GRID)
        check(g, random_images(np.random.default_rng(seed), g, 4), [v for v in VARIANTS if supported(v)])


# ----------------------------------------------------------------------------- trained models


def _reference_scores(request, data: bytes, g: Graph, x: np.ndarray) -> np.ndarray:
    """binedge.reference.run(g, x), cached in pytest's cache (the numpy reference needs about a
    minute per 1,000 images of a VGG-style convnet). The key hashes the blob, the images and the
    source of the reference and its modules, so any change recomputes it."""
    import hashlib

    from binedge import bitformat, graph

    h = hashlib.sha256(data)
    h.update(x.tobytes())
    for mod in (reference, graph, bitformat):
        h.update(Path(mod.__file__).read_bytes())
    key = f"binedge/reference_scores/{h.hexdigest()[:32]}"
    cached = request.config.cache.get(key, None)
    if cached is not None and len(cached) == len(x):
        return np.asarray(cached, dtype=np.int32)
    want = reference.run(g, x)
    request.config.cache.set(key, want.tolist())
    return want


def test_trained_fashion_mnist_blobs(request):
    """Every tests/data/*.bnm (trained Fashion-MNIST models, see tests/data/README.md): the scores
    of every variant (forced by name, and automatic dispatch) equal binedge.reference.run on the
    whole test set (10,000 images). The C reference kernels are compared on the first 1,000
    (they are tested against the reference on every op elsewhere and are ~30x slower)."""
    blobs = sorted(DATA_DIR.glob("*.bnm"))
    assert blobs, f"no trained blobs in {DATA_DIR} (tests/data/*.bnm, see tests/data/README.md)"
    from binedge.data import load_dataset

    test_images = load_dataset("fashion-mnist").test.images[..., None]
    assert test_images.shape == (10000, 28, 28, 1)
    for path in blobs:
        data = path.read_bytes()
        g = read_blob(data)
        x = np.ascontiguousarray(test_images.reshape((len(test_images),) + tuple(g.input.shape)))
        want = _reference_scores(request, data, g, x)
        np.testing.assert_array_equal(Runtime(data, kernel="ref").run(x[:1000]), want[:1000],
                                      err_msg=f"{path.name}: C reference")
        for v in [v for v in VARIANTS if supported(v)] + [None]:
            rt = Runtime(data, kernel=v)
            np.testing.assert_array_equal(rt.run(x), want, err_msg=f"{path.name}: variant {v or 'auto'} "
                                                                   f"{rt.kernel_names()}")
