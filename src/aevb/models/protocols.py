"""What a model can do, declared by the model classes themselves (abstract base classes), not probed.

- :class:`GenerativeModel`: every model — ``event_shape``, a ``decoder`` (network + likelihood family), ``sample``
  and ``reconstruct``; the VQ-VAE is one and nothing more.
- :class:`BoundModel`: a latent-variable model with an encoder and per-sample log densities: ``encode`` (q_φ(z|x)),
  ``decode`` (p_θ(x|z)), ``prior_distribution`` (p(z)) and ``terms``, what every estimator reads. ``variational``
  says whether q is a density, so that the bounds mean something (the plain autoencoder's point mass is not).
  ``terms`` takes a precomputed ``posterior``, so the IS evaluator encodes a block of datapoints once and draws many
  chunks of samples from it.
- :class:`ConditionalModel`: a model whose distributions see a context c built from labels (the CVAE).
- :class:`ClassifyingModel`: a model with a classifier q(y|x) among its parts (M2).

aevb's models say what they are by inheriting these (``class VAE(nn.Module, BoundModel)``), so a model that forgets
a method fails when it is built (``abstractmethod``), not when a command first asks. A model written by hand that
does not inherit them still counts when its class has the capability's methods (``__subclasshook__``, as
``collections.abc`` does: ``isinstance(model, BoundModel)`` is true for any class with ``encode``, ``decode``,
``prior_distribution``, ``terms``, ``sample`` and ``reconstruct``). Only methods are looked for, on the class.

Why not ``typing.Protocol`` with ``runtime_checkable``, as before: since Python 3.12 such a check looks members up with
``inspect.getattr_static``, which does not see an ``nn.Module``'s submodules, parameters and buffers (they live in
``_modules`` and friends, reached through ``__getattr__``), so on 3.12 and 3.13 no model passed the check for a
``decoder`` and every command refused every model. Declared bases and methods looked up on the class give the same
answer on every Python. The annotated attributes are what the class provides (as submodules, properties or class
attributes); signatures are the type checker's job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import NotImplementedType
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.distributions import Distribution

from aevb.errors import DataError

if TYPE_CHECKING:
    from aevb.config import ModelConfig
    from aevb.estimators import Terms
    from aevb.likelihoods import Decoder


def _has_methods(cls: type, owner: type, other: type) -> bool | NotImplementedType:
    """``__subclasshook__`` of the capability ``owner``: True when ``other`` has every abstract method of ``owner``
    as a callable on its class (or a base); otherwise the usual rules (declared bases) decide."""
    if cls is not owner:  # a concrete model class inheriting the hook: plain subclass rules
        return NotImplemented
    for name in owner.__abstractmethods__:
        if not any(callable(vars(base).get(name)) for base in other.__mro__):
            return NotImplemented
    return True


class GenerativeModel(ABC):
    """A model that generates data: ``sample`` from the model, ``reconstruct`` through it."""

    event_shape: tuple[int, ...]
    decoder: Decoder
    config: ModelConfig | None

    @classmethod
    def __subclasshook__(cls, other: type) -> bool | NotImplementedType:
        return _has_methods(cls, GenerativeModel, other)

    @abstractmethod
    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor: ...

    @abstractmethod
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor: ...


class BoundModel(GenerativeModel):
    """A latent-variable model whose log densities every bound of :mod:`aevb.estimators` reads."""

    latent_dim: int  # the width of the latent layer that ``encode`` returns and ``decode`` reads
    variational: bool  # q(z|x) is a density, so the ELBO and log p(x) are defined (False: the plain autoencoder)

    @classmethod
    def __subclasshook__(cls, other: type) -> bool | NotImplementedType:
        return _has_methods(cls, BoundModel, other)

    @abstractmethod
    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> Distribution: ...

    @abstractmethod
    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> Distribution: ...

    @abstractmethod
    def prior_distribution(self, context: torch.Tensor | None = None) -> Distribution: ...

    @abstractmethod
    def terms(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        context: torch.Tensor | None = None,
        posterior: Distribution | None = None,
    ) -> Terms: ...


class ConditionalModel(ABC):
    """A model whose distributions see a context c made from labels."""

    num_classes: int

    @classmethod
    def __subclasshook__(cls, other: type) -> bool | NotImplementedType:
        return _has_methods(cls, ConditionalModel, other)

    @abstractmethod
    def make_context(self, y: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def label_context(self, label: int, n: int, device: torch.device | None = None) -> torch.Tensor: ...


class ClassifyingModel(ABC):
    """A model with a classifier q(y|x) among its parts (M2): evaluation reports its test error."""

    @classmethod
    def __subclasshook__(cls, other: type) -> bool | NotImplementedType:
        return _has_methods(cls, ClassifyingModel, other)

    @abstractmethod
    def classify(self, x: torch.Tensor) -> Distribution: ...


def is_variational(model: object) -> bool:
    """Whether ``model`` has variational-bound terms with a density q(z|x), so its ELBO and log p(x) are defined (a
    model written by hand that does not say ``variational = False`` is taken to be)."""
    return isinstance(model, BoundModel) and bool(getattr(model, "variational", True))


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
