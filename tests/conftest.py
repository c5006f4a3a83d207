import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def train_synthetic(tmp_path_factory):
    """A function that trains a one-epoch model on the synthetic set into a fresh run directory
    and returns that directory: ``train_synthetic("mlp", model="mlp", weights="lab", ...)``."""
    from binedge.models import ModelConfig
    from binedge.train import TrainConfig, train

    def make(name, **model):
        out = tmp_path_factory.mktemp("runs") / name
        cfg = TrainConfig(model=ModelConfig(**model), dataset="synthetic", epochs=1, lr=0.01, out=str(out))
        train(cfg, progress=False, log=lambda *_: None)
        return out

    return make
