"""A VAE as a scikit-learn transformer: rows → latent codes (and back), for a ``Pipeline`` before any estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from aevb.sklearn._base import VAEEstimatorBase

TRANSFORMS = ("mean", "sample")


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, VAEEstimatorBase):
    """Dimensionality reduction with a VAE: ``transform`` maps rows to their posterior q_φ(z|x) (Kingma & Welling
    2014), ``inverse_transform`` maps codes back through the decoder.

    ``fit(X)`` trains the VAE on the rows of ``X``; ``transform(X)`` gives ``[n_samples, latent_dim]``: the posterior
    means E_q[z|x] (``output = "mean"``, deterministic) or one draw z ~ q_φ(z|x) per row (``"sample"``, drawn from
    ``random_state``); ``inverse_transform(Z)`` gives the decoder means E_p(x|z)[x] in the units of the data given
    to ``fit`` (the standardization undone). Feature names out: ``vaetransformer0`` … (scikit-learn's class-name
    prefix), so it fits a ``Pipeline`` with pandas output.

    Parameters are those of :class:`~aevb.sklearn.VAEOutlierDetector` that describe the model and its training
    (``latent_dim``, ``hidden``, ``likelihood``, ``epochs`` …, ``random_state``, ``device``), plus ``output``.

    Attributes
    ----------
    model_ : the trained VAE.
    n_features_in_, feature_names_in_, event_shape_, likelihood_ : what ``fit`` saw and chose.
    train_bound_ : the training bound per epoch (nats per row, higher is better).
    """

    def __init__(
        self,
        *,
        latent_dim: int = 20,
        hidden: tuple[int, ...] = (400,),
        activation: str = "relu",
        likelihood: str = "auto",
        arch: str = "mlp",
        posterior: str = "diagonal",
        beta: float = 1.0,
        epochs: int = 30,
        batch_size: int = 100,
        lr: float = 1e-3,
        optimizer: str = "adam",
        standardize: str | bool = "auto",
        output: str = "mean",
        device: str = "auto",
        precision: str = "fp32",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(
            latent_dim=latent_dim,
            hidden=hidden,
            activation=activation,
            likelihood=likelihood,
            arch=arch,
            posterior=posterior,
            beta=beta,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            standardize=standardize,
            device=device,
            precision=precision,
            random_state=random_state,
            verbose=verbose,
        )
        self.output = output

    def fit(self, X: Any, y: Any = None) -> VAETransformer:
        """Train the VAE on the rows of ``X`` (``y`` is ignored)."""
        if self.output not in TRANSFORMS:
            raise ValueError(f"output must be one of {', '.join(TRANSFORMS)}, got {self.output!r}")
        self._fit_model(X)
        self._n_features_out = self.model_.latent_dim
        return self

    @torch.no_grad()
    def transform(self, X: Any) -> np.ndarray:
        """Posterior means (or, with ``output = "sample"``, one posterior draw per row), ``[n_samples, latent_dim]``."""
        check_is_fitted(self, "model_")
        if self.output not in TRANSFORMS:
            raise ValueError(f"output must be one of {', '.join(TRANSFORMS)}, got {self.output!r}")
        x = self._to_model(self._check_input(X, reset=False))
        q = self.model_.encode(x)
        if self.output == "mean":
            z = q.mean
        else:  # one ε from random_state, shared by every row: a row's draw depends on that row alone
            generator = torch.Generator().manual_seed(self.seed_)
            eps = torch.randn(1, q.mean.shape[-1], generator=generator).to(q.mean)
            z = q.mean + q.stddev * eps
        return z.float().cpu().numpy()

    @torch.no_grad()
    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decoder means E_p(x|z)[x] of codes ``X`` ``[n_samples, latent_dim]``, in the units of the fitted data
        (rows of ``n_features_in_``, or images of ``event_shape_``)."""
        check_is_fitted(self, "model_")
        z = torch.from_numpy(np.ascontiguousarray(check_array(X, dtype=np.float32)))
        if z.shape[1] != self.model_.latent_dim:
            raise ValueError(f"X must have {self.model_.latent_dim} columns (latent_dim), got {z.shape[1]}")
        x = self.model_.decode(z).mean.float().cpu()
        if self.scale_ is not None:
            x = x * self.scale_ + self.center_
        return x.numpy()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
