"""Property test over random typed DAGs (tests/dags.py): every backend returns the reference's
scores exactly -- the C runtime with automatic dispatch and every kernel variant of this CPU,
onnxruntime and LiteRT -- for u8 and i8 inputs, images and feature vectors, awkward channel
counts (1, 3, 31, 33, 65), odd spatial sizes and strides. The same DAGs' blobs round-trip."""

from __future__ import annotations

import numpy as np
from dags import random_dag, random_inputs
from hypothesis import given, settings
from hypothesis import strategies as st

from binedge import blob as B
from binedge import reference
from binedge.export_onnx import export_onnx, run_onnx
from binedge.export_tflite import export_tflite, run_tflite
from binedge.runtime import Runtime, RuntimeStatusError, kernel_table

VARIANTS = sorted({name for name, _op, _isa in kernel_table()})


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), input_kind=st.sampled_from(["u8", "i8"]), image=st.booleans(),
       channels=st.sampled_from([(1, 3, 31, 33), (3, 7, 65), (4, 32, 33)]))
def test_every_backend_equals_the_reference(tmp_path_factory, seed, input_kind, image, channels):
    rng = np.random.default_rng(seed)
    g = random_dag(rng, input_kind=input_kind, image=image, channels=channels)
    x = random_inputs(rng, g, 5)
    want = reference.run(g, x)
    assert B.blob_bytes(B.read_blob(B.blob_bytes(g))) == B.blob_bytes(g)
    for kernel in ["auto"] + VARIANTS:
        try:
            rt = Runtime(g, kernel=kernel)
        except RuntimeStatusError as e:  # a variant whose ISA this CPU lacks
            assert e.name == "BE_ERR_UNSUPPORTED" and kernel != "ref", kernel
            continue
        assert np.array_equal(rt.run(x), want), f"C runtime, kernel {kernel}"
    d = tmp_path_factory.mktemp("dag")
    export_onnx(g, d / "m.onnx")
    export_tflite(g, d / "m.tflite")
    assert np.array_equal(run_onnx(d / "m.onnx", x), want), "onnxruntime"
    assert np.array_equal(run_tflite(d / "m.tflite", x), want), "LiteRT"
