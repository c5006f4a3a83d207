"""binedge.agreement: what PyTorch sees for graph inputs, and what counts as a tie."""

import numpy as np
import torch
from torch import nn

from binedge import data
from binedge.agreement import _logit_ties, _near, agreement, torch_input, torch_predictions
from binedge.converter import convert
from binedge.graph import TensorSpec
from binedge.nn import BinaryLinear, QuantInt8, Sign


def test_images_are_exactly_what_the_data_loader_feeds():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    split = data.Split(pixels, np.zeros(1, np.int64))
    (x, _), = list(data.loader(split, 1, shuffle=False))
    got = torch_input(TensorSpec("u8", (16, 16, 1), scale=1 / 255), pixels)
    assert torch.equal(got, x)  # bit for bit: q / 255 rounded once to float32
    feats = torch_input(TensorSpec("i8", (3,), scale=0.1, zero_point=-2), np.array([[-128, -2, 127]], np.int8))
    assert feats.dtype == torch.float32 and feats.tolist() == [[np.float32(-12.6), 0.0, np.float32(12.9)]]


def test_rounding_boundary_ties():
    q = QuantInt8(scale=1.0, zero_point=0)
    v64 = torch.tensor([[2.5 + 1e-9, 2.3, 2.5, 126.5 + 1e-9, 0.7]], dtype=torch.float64)
    v32 = torch.tensor([[2.4999998, 2.3, 2.5, 126.5, 0.7]], dtype=torch.float64)
    # 2.5 + 1e-9: float32 saw the other side of the boundary -> a tie; 2.5 exactly in both: exact, no tie
    assert _near(q, v64[:, :1], v32[:, :1], 2.0**-24).tolist() == [True]
    assert _near(q, v64[:, 1:3], v32[:, 1:3], 2.0**-24).tolist() == [False]
    # 126.5 is the boundary between codes 126 and 127: visible; with zp = 5 it lies beyond the clamp
    assert _near(q, v64[:, 3:4], v32[:, 3:4], 2.0**-24).tolist() == [True]
    q5 = QuantInt8(scale=1.0, zero_point=5)
    assert _near(q5, v64[:, 3:4], v32[:, 3:4], 2.0**-24).tolist() == [False]


def test_threshold_ties():
    s = Sign()
    z64 = torch.tensor([[1e-12], [0.0], [0.3]], dtype=torch.float64)
    z32 = torch.tensor([[-1e-9], [0.0], [0.3]], dtype=torch.float64)
    assert _near(s, z64, z32, 2.0**-24).tolist() == [True, False, False]


def test_logit_ties_include_the_graphs_score_error():
    l64 = np.array([[1.0, 1.0 + 1e-4, 0.0], [3.0, 1.0, 0.0]])
    assert _logit_ties(l64, l64, 2.0**-24).tolist() == [False, False]
    err = np.full((2, 3), 1e-4)  # the fixed-point score error covers a gap of 1e-4
    assert _logit_ties(l64, l64, 2.0**-24, err).tolist() == [True, False]


def test_agreement_on_int8_features_and_torch_predictions():
    torch.manual_seed(0)
    model = nn.Sequential(BinaryLinear(6, 8, kernel_quantizer="int8"), QuantInt8(),
                          BinaryLinear(8, 3, kernel_quantizer="lab", input_quantizer="sign"))
    model.train()
    model(torch.randn(64, 6))
    model.eval()
    spec = TensorSpec("i8", (6,), scale=0.05, zero_point=3)
    graph = convert(model, torch.zeros(1, 6), input_spec=spec)
    x = np.random.default_rng(0).integers(-128, 128, size=(300, 6)).astype(np.int8)
    rep = agreement(model, graph, x, labels=np.zeros(300, np.int64))
    assert rep["samples"] == 300 and rep["disagree_without_tie"] == 0 and rep["agree"] >= 297
    pred, near = torch_predictions(model, x, spec)
    assert pred.shape == (300,) and near.dtype == bool
    with torch.no_grad():
        assert np.array_equal(pred, model(torch_input(spec, x)).argmax(1).numpy())
