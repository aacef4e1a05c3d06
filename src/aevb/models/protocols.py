"""What a model can do, declared as :class:`typing.Protocol`\\ s instead of probed with ``hasattr``.

- :class:`GenerativeModel`: every model — ``event_shape``, a ``decoder`` (network + likelihood family), ``sample``
  and ``reconstruct``; the VQ-VAE is one and nothing more.
- :class:`BoundModel`: a latent-variable model with an encoder and per-sample log densities: ``encode`` (q_φ(z|x)),
  ``decode`` (p_θ(x|z)), ``prior_distribution`` (p(z)) and ``terms``, what every estimator reads. ``variational``
  says whether q is a density, so that the bounds mean something (the plain autoencoder's point mass is not).
  ``terms`` takes a precomputed ``posterior``, so the IS evaluator encodes a block of datapoints once and draws many
  chunks of samples from it.
- :class:`ConditionalModel`: a model whose distributions see a context c built from labels (the CVAE).

The checks are ``isinstance(model, BoundModel)``; the protocols are ``runtime_checkable``, so the methods must exist
(signatures are the type checker's job).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch
from torch.distributions import Distribution

from aevb.errors import DataError

if TYPE_CHECKING:
    from aevb.config import ModelConfig
    from aevb.estimators import Terms
    from aevb.likelihoods import Decoder


@runtime_checkable
class GenerativeModel(Protocol):
    event_shape: tuple[int, ...]
    decoder: Decoder
    config: ModelConfig | None

    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor: ...

    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class BoundModel(GenerativeModel, Protocol):
    latent_dim: int  # the width of the latent layer that ``encode`` returns and ``decode`` reads
    variational: bool  # q(z|x) is a density, so the ELBO and log p(x) are defined (False: the plain autoencoder)

    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution: ...

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution: ...

    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution: ...

    def terms(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        context: torch.Tensor | None = None,
        posterior: Distribution | None = None,
    ) -> Terms: ...


@runtime_checkable
class ConditionalModel(Protocol):
    num_classes: int

    def make_context(self, y: torch.Tensor) -> torch.Tensor: ...

    def label_context(self, label: int, n: int, device: torch.device | None = None) -> torch.Tensor: ...


@runtime_checkable
class ClassifyingModel(Protocol):
    """A model with a classifier q(y|x) among its parts (M2): evaluation reports its test error."""

    def classify(self, x: torch.Tensor) -> Distribution: ...


def labels_to_context(model: object, y: torch.Tensor | None) -> torch.Tensor | None:
    """A conditional model's context for labels ``y`` (``model.make_context``); other models take none."""
    if not isinstance(model, ConditionalModel):
        return None
    if y is None:
        raise DataError("this model is conditional and needs labels, but the dataset has none")
    return model.make_context(y)


def as_input(model: torch.nn.Module, x: object, name: str = "x") -> torch.Tensor:
    """``x`` (a tensor, NumPy array or nested list of numbers, any numeric dtype) as a tensor of the model's dtype on
    its device, checked to have the shape ``[N, *event_shape]`` the model reads; else a :class:`DataError` that names
    what was expected."""
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"{name} must hold numbers; got a NumPy array of dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    elif not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise DataError(f"{name} must be a tensor or an array of numbers; got {type(x).__name__}") from None
    if x.is_complex():
        raise DataError(f"{name} must hold real numbers; got dtype {x.dtype}")
    event_shape = tuple(model.event_shape)
    if x.dim() != len(event_shape) + 1 or tuple(x.shape[1:]) != event_shape:
        expected = ", ".join(["N", *map(str, event_shape)])
        raise DataError(f"{name} must have shape [{expected}] (a batch of datapoints); got {list(x.shape)}")
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
    device = param.device if param is not None else x.device
    return x.to(device=device, dtype=dtype)
