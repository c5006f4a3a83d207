"""The CUDA training path (--device cuda), run whenever this machine has a CUDA device. Without
one these tests are skipped with the reason shown in the summary (`pytest -ra`): "no CUDA device"
is reported, never passed silently. The CPU side of the device option (a clean error for
--device cuda without CUDA) is tested in test_distributed.py."""

from __future__ import annotations

import json

import pytest
import torch

from binedge.models import ModelConfig
from binedge.train import TrainConfig, load_checkpoint, train

NO_CUDA = (f"no CUDA device on this machine (torch {torch.__version__}, "
           f"{'built without CUDA' if torch.version.cuda is None else 'CUDA ' + str(torch.version.cuda)}): "
           "the --device cuda training path was NOT tested here")

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)


def _cfg(tmp_path, name, model="mlp", epochs=2):
    m = ModelConfig(model=model, hidden=32, depth=2, widths=[8, 16], fc=32)
    return TrainConfig(model=m, dataset="synthetic", epochs=epochs, lr=0.01, out=str(tmp_path / name))


@needs_cuda
@pytest.mark.parametrize("model", ["mlp", "vgg"])
def test_cuda_training_is_reproducible_and_close_to_cpu(tmp_path, model):
    a = train(_cfg(tmp_path, "a", model), device="cuda", progress=False, log=lambda *_: None)
    train(_cfg(tmp_path, "b", model), device="cuda", progress=False, log=lambda *_: None)
    train(_cfg(tmp_path, "cpu", model), device="cpu", progress=False, log=lambda *_: None)
    wa, wb, wc = (torch.load(tmp_path / n / "last.pt", weights_only=False)["model"] for n in ("a", "b", "cpu"))
    assert all(t.device.type == "cpu" for t in wa.values())  # checkpoints load anywhere
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "same seed, same device: bitwise the same weights"
    assert max(float((wa[k].double() - wc[k].double()).abs().max()) for k in wa if wa[k].numel()) < 0.05
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())["epochs"]
    assert all(m["device"] == "cuda" for m in metrics) and a["test_acc"] > 0.5
    net, _cfg_, _ = load_checkpoint(tmp_path / "a")  # and the export path rebuilds it on the CPU
    assert next(net.parameters()).device.type == "cpu"


@needs_cuda
def test_cuda_auto_device_and_resume(tmp_path):
    train(_cfg(tmp_path, "r", epochs=1), device="auto", progress=False, log=lambda *_: None)
    train(_cfg(tmp_path, "r"), resume=True, epochs=2, device="cuda:0", progress=False, log=lambda *_: None)
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())["epochs"]
    assert [m["epoch"] for m in metrics] == [1, 2] and all(m["device"] == "cuda" for m in metrics)
