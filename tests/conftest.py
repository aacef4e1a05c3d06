"""Shared fixtures: where the real data lives, and tiny in-memory datasets for fast tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from aevb.data import TensorData


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread for every test: the models here are tiny, and on a small CPU shared with other work more
    threads mostly wait on each other at barriers (steps measured 10× slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The staged real data (``$AEVB_DATA_DIR``); tests that need it skip when it is absent."""
    path = os.environ.get("AEVB_DATA_DIR")
    if not path or not Path(path).is_dir():
        pytest.skip("AEVB_DATA_DIR is not set to the staged data (CI sets it to ../shared/data)")
    return Path(path)


def toy_binary(n: int = 256, side: int = 6, seed: int = 0, labels: bool = True) -> TensorData:
    """Binary images made of a few random prototypes with pixel noise: learnable in seconds."""
    # The prototypes are the same for every seed, so a toy test set comes from the training distribution.
    protos = (torch.rand(4, 1, side, side, generator=torch.Generator().manual_seed(1234)) > 0.5).float()
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    flip = torch.rand(n, 1, side, side, generator=g) < 0.05
    x = (protos[y] + flip.float()) % 2
    return TensorData(x, y if labels else None, name="toy")


@pytest.fixture
def toy() -> TensorData:
    return toy_binary()


# How tests start Debian's Chromium headless as root on a machine with no network: without the background-networking
# flags it tries Google's hosts at every start (tests/test_report.py, tests/test_explore.py).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
