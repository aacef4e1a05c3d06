"""A VAE as a scikit-learn transformer: rows → latent codes (and back), for a ``Pipeline`` before any estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from aevb.posteriors import with_shared_noise
from aevb.sklearn._base import VAEEstimatorBase

TRANSFORMS = ("mean", "sample")
"""The values of ``VAETransformer``'s ``output``: the posterior mean, or one posterior draw per row."""


class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, VAEEstimatorBase):
    """Dimensionality reduction with a VAE, a scikit-learn transformer for a ``Pipeline`` before any estimator.

    ``transform`` maps rows to their posterior ``q_φ(z|x)`` (Kingma & Welling 2014), ``inverse_transform`` maps codes
    back through the decoder.

    ``fit(X)`` trains the VAE on the rows of ``X``; ``transform(X)`` gives ``[n_samples, latent_dim]``: the posterior
    means E_q[z|x] (``output = "mean"``, deterministic) or one draw ``z ~ q_φ(z|x)`` per row (``"sample"``, drawn
    from ``random_state``); ``inverse_transform(Z)`` gives the decoder means ``E_p(x|z)[x]`` in the units of the data
    given to ``fit`` (the standardization undone). Feature names out: ``vaetransformer0`` … (scikit-learn's
    class-name prefix), so it fits a ``Pipeline`` with pandas output.

    The parameters are those of ``VAEOutlierDetector`` that describe the model and its training (``latent_dim``,
    ``hidden``, ``likelihood``, ``epochs`` …, ``random_state``, ``device``), plus ``output``.

    Parameters
    ----------
    latent_dim : int, default 20
        Width of the latent code z (the paper's ``N_z``).
    hidden : tuple of int, default (400,)
        Widths of the encoder's hidden layers; the decoder mirrors them. With ``arch = "conv"``, the channel counts of
        the stride-2 convolutions (one per entry).
    activation : str, default "relu"
        Nonlinearity of the hidden layers: ``"relu"``, ``"tanh"``, ``"softplus"``, ``"elu"``, ``"leaky_relu"`` or
        ``"gelu"``.
    likelihood : str, default "auto"
        Family of p(x|z): ``"bernoulli"`` (data in [0, 1]), ``"gaussian"`` (real data; learned variance), or
        ``"auto"``: Bernoulli for images in [0, 1] and for 0/1 data, else Gaussian (``images_`` says what was
        taken for images).
    arch : str, default "mlp"
        Network architecture of encoder and decoder: ``"mlp"``, or ``"conv"`` for images (H and W divisible by
        ``2 ** len(hidden)``).
    posterior : str, default "diagonal"
        Family of q(z|x): ``"diagonal"`` or ``"full"`` (full-covariance) Gaussian.
    beta : float, default 1.0
        Weight of the KL term (β-VAE); 1 trains the ELBO itself.
    epochs : int, default 30
        Passes over the training rows (not used with ``early_stopping``).
    early_stopping : bool, default False
        Choose the training length by the held-out ELBO instead of ``epochs``: a seeded ``validation_fraction`` of the
        rows is held out, a model is trained on the others for at most ``max_steps`` optimizer steps with the
        held-out ELBO evaluated about every 50 steps, the search ends 1,000 steps after the best evaluation, and the
        final model is trained on all the rows for the best evaluation's number of steps (``n_steps_``). On small
        tables a fixed number of epochs is a few dozen steps for one table and thousands for another.
    validation_fraction : float, default 0.2
        Share of the rows held out by ``early_stopping``, in (0, 1); both parts need at least 2 rows.
    max_steps : int, default 4000
        Longest training ``early_stopping`` tries, in optimizer steps.
    batch_size : int, default 100
        Minibatch size (the paper's M), capped at the number of training rows.
    lr : float, default 1e-3
        Learning rate of the optimizer.
    optimizer : str, default "adam"
        ``"adam"``, ``"adamw"``, ``"adagrad"`` or ``"sgd"``.
    standardize : str or bool, default "auto"
        ``"auto"``, True or False: whether the model is trained on features standardized with the training mean and
        standard deviation (``"auto"``: for a Gaussian likelihood only). Densities are reported for the data as
        given either way.
    output : str, default "mean"
        What ``transform`` gives: ``"mean"``, the posterior means E_q[z|x] (deterministic), or ``"sample"``, one draw
        z ~ q_φ(z|x) per row, ``z = μ + σ ⊙ ε`` (or ``μ + L ε`` for ``posterior = "full"``, L the Cholesky factor of
        the covariance), with one ε drawn from ``seed_`` and shared by every row (so a row's draw depends on that row
        alone).
    device : str, default "auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    precision : str, default "fp32"
        ``"fp32"``; ``"tf32"``: TF32 matmuls on CUDA (fp32 on a CPU); ``"bf16"``: autocast of the networks during
        training (densities stay fp32).
    random_state : int or numpy.random.RandomState or numpy.random.Generator or None, default None
        Seed of the initialization, the data order and the posterior noise. An int is the seed; from a RandomState
        or Generator (or, for None, NumPy's global random state) an int seed is drawn at ``fit`` and kept in
        ``seed_``.
    verbose : bool, default False
        Print a line per training epoch.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained VAE, in eval mode.
    n_features_in_, feature_names_in_, event_shape_, likelihood_
        What ``fit`` saw and chose (see ``VAEEstimatorBase``).
    center_, scale_, seed_
        The standardization (or None) and the seed drawn from ``random_state`` (see ``VAEEstimatorBase``).
    n_steps_ : int
        Optimizer steps the final model was trained for (``early_stopping``: the held-out ELBO's best).
    validation_elbo_ : list of [int, float] or None
        ``early_stopping``'s search: ``[step, held-out ELBO]`` per evaluation, nats per row of the data as the model
        sees it, higher is better; None without ``early_stopping``.
    train_bound_ : list of float
        The training bound per epoch (nats per row of the data as the model sees it, higher is better; the
        β-weighted objective when ``beta`` is not 1).

    Examples
    --------
    >>> from aevb.sklearn import VAETransformer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> Pipeline([("vae", VAETransformer(latent_dim=8)), ("clf", LogisticRegression())])  # doctest: +SKIP
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
        early_stopping: bool = False,
        validation_fraction: float = 0.2,
        max_steps: int = 4000,
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
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            max_steps=max_steps,
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
        """Train the VAE on the rows of ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array-like
            Training data, at least 2 samples: a 2-D array ``[n_samples, n_features]`` (NumPy, pandas, anything
            ``check_array`` reads) or images ``[N, C, H, W]`` / ``[N, H, W]``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        VAETransformer
            The fitted transformer itself.

        Raises
        ------
        ValueError
            If ``output`` is not ``"mean"`` or ``"sample"``; if ``X`` is not a 2-D array or images, or has fewer than
            2 samples; if ``standardize`` is not ``"auto"``, True or False.
        """
        if self.output not in TRANSFORMS:
            raise ValueError(f"output must be one of {', '.join(TRANSFORMS)}, got {self.output!r}")
        self._fit_model(X)
        self._n_features_out = self.model_.latent_dim
        return self

    @torch.no_grad()
    def transform(self, X: Any) -> np.ndarray:
        """Posterior means (or, with ``output = "sample"``, one posterior draw per row), ``[n_samples, latent_dim]``.

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.

        Returns
        -------
        numpy.ndarray
            ``[n_samples, latent_dim]``, float32: the posterior means E_q[z|x], or (``output = "sample"``) one draw
            ``z = μ + σ ⊙ ε`` per row (σ the posterior's marginal standard deviations) with one ε, drawn from
            ``seed_``, shared by every row.

        Raises
        ------
        ValueError
            If ``output`` is not ``"mean"`` or ``"sample"``.
        """
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
            z = with_shared_noise(q, eps).rsample()  # μ + σ ⊙ ε, or μ + L ε for a full covariance: [n, latent_dim]
        return z.float().cpu().numpy()

    @torch.no_grad()
    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decoder means ``E_p(x|z)[x]`` of codes ``X`` ``[n_samples, latent_dim]``, in the units of the fitted data.

        The standardization of ``fit`` is undone: rows of ``n_features_in_``, or images of ``event_shape_``, in the
        units of the data given to ``fit``.

        Parameters
        ----------
        X : array-like
            Latent codes, ``[n_samples, latent_dim]``.

        Returns
        -------
        numpy.ndarray
            float32 rows of ``n_features_in_`` (``[n_samples, n_features]``), or images ``[n_samples, *event_shape_]``.

        Raises
        ------
        ValueError
            If ``X`` does not have ``latent_dim`` columns.
        """
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
