"""What each model can do (``models/protocols.py``) must read the same on every supported Python.

Before, the capabilities were ``runtime_checkable`` protocols. From Python 3.12 ``isinstance`` against such a
protocol looks members up with ``inspect.getattr_static``, which does not see an ``nn.Module``'s submodules (they
live in ``_modules``), so on 3.12/3.13 no model had a ``decoder`` and ``aevb evaluate``/``export``/``score`` refused
every model. These tests failed there with that design (CI runs them on 3.11 and 3.13).
"""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from aevb.config import ModelConfig
from aevb.evaluation import evaluate
from aevb.export import export_onnx
from aevb.models import build_model
from aevb.models.protocols import BoundModel, ClassifyingModel, ConditionalModel, GenerativeModel
from aevb.registry import MODELS

# model name → (generative, bound, conditional, classifying); small configs so every model builds in milliseconds.
EXPECTED = {
    "vae": (True, True, False, False),
    "ae": (True, True, False, False),
    "cvae": (True, True, True, False),
    "m2": (True, True, True, True),
    "deep-vae": (True, True, False, False),
    "vqvae": (True, False, False, False),
}
SMALL = {
    "vqvae": dict(hidden=[8, 16], codebook_size=16, code_dim=4, prior_channels=16, prior_layers=3),
    "deep-vae": dict(latent_dims=[4, 2]),
}


def _model(name: str) -> nn.Module:
    settings = {"latent_dim": 4, "hidden": [16], "num_classes": 3, **SMALL.get(name, {})}
    config = ModelConfig(model=name, **settings)
    event_shape = (1, 8, 8) if name == "vqvae" else (36,)
    return build_model(config, event_shape, seed=0)


def test_every_registered_model_is_listed():
    assert set(MODELS.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capabilities_are_the_same_on_every_python(name):
    model = _model(name)
    got = tuple(isinstance(model, kind) for kind in (GenerativeModel, BoundModel, ConditionalModel, ClassifyingModel))
    assert got == EXPECTED[name], f"Python {sys.version_info[:2]}"
    # the decoder a capability promises is a submodule, which Python 3.12's getattr_static does not see
    assert isinstance(model.decoder, nn.Module)


def test_a_model_that_omits_a_declared_method_fails_when_built():
    class Incomplete(nn.Module, BoundModel):  # no encode, decode, terms, ...
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


def test_evaluate_and_export_accept_a_vae(tmp_path):
    """What 3.12/3.13 refused: the evaluator's variational-bound terms and the ONNX export of encoder and decoder."""
    pytest.importorskip("onnxruntime")
    model = _model("vae").eval()
    x = (torch.rand(16, 36, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    result = evaluate(model, x, nll_samples=64)
    assert result.elbo < 0 < result.nll
    assert -result.nll >= result.elbo  # the IS estimate with K = 64 is a tighter bound than the ELBO (L_K ≥ L_1)
    exported = export_onnx(model, tmp_path, check_batch=8)
    assert (tmp_path / "decoder.onnx").is_file(), exported


def test_a_hand_written_model_counts_by_its_methods():
    """A user's model that does not inherit the capabilities still counts when its class has their methods (as with
    ``collections.abc``); an instance attribute of the same name does not make a method."""

    class HandWritten(nn.Module):
        def encode(self, x, context=None): ...
        def decode(self, z, context=None): ...
        def prior_distribution(self, context=None): ...
        def terms(self, x, num_samples=1, context=None, posterior=None): ...
        def sample(self, n, context=None, mean=True): ...
        def reconstruct(self, x, context=None): ...

    class EncoderOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.decode = lambda z, context=None: None  # on the instance, not the class

        def encode(self, x, context=None): ...

    assert isinstance(HandWritten(), BoundModel) and isinstance(HandWritten(), GenerativeModel)
    assert not isinstance(HandWritten(), ConditionalModel)
    assert not isinstance(EncoderOnly(), BoundModel) and not isinstance(EncoderOnly(), GenerativeModel)
