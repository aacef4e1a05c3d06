"""A VAE as a scikit-learn outlier detector: ``fit``, ``score_samples``, ``decision_function``, ``predict``."""

from __future__ import annotations

import numbers
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from aevb.config import ScoreSettings
from aevb.plots.png import image_shape
from aevb.scoring import SCORES, auto_score
from aevb.scoring import score as anomaly_scores
from aevb.sklearn._base import VAEEstimatorBase

# Scores measured in nats of x (densities): the standardization's log-Jacobian applies to them.
_DENSITY_SCORES = ("nll", "elbo", "recon", "complexity")


class VAEOutlierDetector(OutlierMixin, VAEEstimatorBase):
    """Unsupervised outlier detection with a VAE trained on (mostly) normal data, in scikit-learn's conventions.

    ``fit(X)`` trains the VAE on the rows of ``X`` (Kingma & Welling 2014, SGVB estimator B); each row's anomaly
    score is one of ``aevb.scoring.SCORES`` (``anomaly_score``): ``nll`` −log p̂(x) by importance sampling, ``elbo``
    −ELBO(x), ``recon`` −E_q log p(x|z), ``regret`` Likelihood Regret (Xiao et al. 2020), ``complexity`` the
    input-complexity-corrected NLL (Serrà et al. 2020), ``sqerr`` the squared reconstruction error, ``relerr`` that
    error per unit of an image's gradient energy, or ``"auto"`` (``aevb.scoring.auto_score``: ``relerr`` for
    images, ``nll`` for other data). As in scikit-learn,

    - ``score_samples(X)`` = −anomaly score: higher is more normal (for ``nll``: log p(x) in nats);
    - ``decision_function(X)`` = ``score_samples(X) − offset_``: negative for outliers;
    - ``predict(X)``: −1 for outliers, +1 for inliers; ``offset_`` is the ``contamination`` quantile of the
      training rows' ``score_samples``, so that fraction of the training data is called outliers.

    A row's score is a function of that row alone (the posterior noise is drawn once from ``random_state`` and shared
    by every row: ``aevb.scoring.SharedNoise``), so scores do not depend on the batch or the order of rows (up to
    float32 rounding, which on a GPU can vary with the batch's shape: cuBLAS picks its kernels by shape).

    The model's parameters (``latent_dim``, ``hidden``, ``activation``, ``likelihood``, ``arch``, ``posterior``) are
    those of ``aevb.ModelConfig``: by default a ``hidden``-wide MLP encoder and decoder around a
    ``latent_dim``-dimensional latent space; the training's (``beta``, ``epochs``, ``batch_size``, ``lr``,
    ``optimizer``) are those of ``aevb.TrainConfig``.

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
    anomaly_score : str, default "auto"
        The anomaly score, a name of ``aevb.scoring.SCORES`` (``"nll"``, ``"elbo"``, ``"recon"``, ``"regret"``,
        ``"complexity"``, ``"sqerr"``, ``"relerr"``) or ``"auto"``: ``"relerr"`` for images (``images_``), ``"nll"``
        for other data.
        ``"relerr"`` needs images.
    contamination : float, default 0.1
        The fraction of training rows taken to be outliers, in (0, 0.5]: ``offset_`` is this quantile of the
        training rows' ``score_samples``.
    mc_samples : int, default 64
        Monte Carlo samples per row: the importance samples K of ``nll`` and ``complexity``, the posterior samples of
        ``elbo``, ``recon`` and ``regret``.
    regret_steps : int, default 100
        Adam steps of the Likelihood Regret's posterior fit.
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
        The trained VAE (``encode``, ``decode``, ``sample`` …), in eval mode.
    anomaly_score_ : str
        The score ``"auto"`` resolved to (else ``anomaly_score`` itself).
    offset_ : float
        The threshold on ``score_samples`` (see ``predict``).
    likelihood_, event_shape_, n_features_in_, feature_names_in_
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
    >>> from aevb.sklearn import VAEOutlierDetector
    >>> detector = VAEOutlierDetector(epochs=20, random_state=0).fit(X_train)  # doctest: +SKIP
    >>> detector.score_samples(X_test)  # higher = more normal  # doctest: +SKIP
    >>> detector.predict(X_test)  # -1 outlier, +1 inlier  # doctest: +SKIP
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
        anomaly_score: str = "auto",
        contamination: float = 0.1,
        mc_samples: int = 64,
        regret_steps: int = 100,
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
        self.anomaly_score = anomaly_score
        self.contamination = contamination
        self.mc_samples = mc_samples
        self.regret_steps = regret_steps

    def fit(self, X: Any, y: Any = None) -> VAEOutlierDetector:
        """Train the VAE on the rows of ``X`` (``y`` is ignored) and set ``offset_`` from ``contamination``.

        ``anomaly_score`` is checked before training: an unknown name raises ``ConfigError`` naming the known ones.

        Parameters
        ----------
        X : array-like
            (Mostly) normal training data, at least 2 samples: a 2-D array ``[n_samples, n_features]`` (NumPy, pandas,
            anything ``check_array`` reads) or images ``[N, C, H, W]`` / ``[N, H, W]``.
        y : None
            Ignored; present for scikit-learn's API.

        Returns
        -------
        VAEOutlierDetector
            The fitted detector itself.

        Raises
        ------
        ValueError
            If ``contamination`` is not a number in (0, 0.5]; if ``X`` is not a 2-D array or images, or has fewer
            than 2 samples; if ``anomaly_score = "relerr"`` and ``X`` does not hold images; if ``standardize`` is not
            ``"auto"``, True or False.
        """
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0 < c <= 0.5:
            raise ValueError(f"contamination must be a number in (0, 0.5], got {c!r}")
        for name in ("mc_samples", "regret_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.anomaly_score != "auto":
            SCORES.get(self.anomaly_score)  # an unknown name fails before training, naming the known ones
        x = self._fit_model(X, check=self._check_score_applies)
        auto = self.anomaly_score == "auto"
        self.anomaly_score_ = auto_score(self.event_shape_, images=self.images_) if auto else self.anomaly_score
        normality = -self._anomaly(x, [self.anomaly_score_])[self.anomaly_score_]
        self.offset_ = float(np.quantile(normality, self.contamination))
        self._fitted_on(normality)
        return self

    def _check_score_applies(self, array: np.ndarray) -> None:
        """Refuse, before training, a score that cannot apply to these rows (``relerr`` needs images).

        Raises
        ------
        ValueError
            If ``anomaly_score = "relerr"`` and the rows are not images (``[N, C, H, W]``, ``[N, H, W]`` or rows of
            64+ square values).
        """
        shape = tuple(array.shape[1:])
        if self.anomaly_score == "relerr" and image_shape(shape) is None:
            raise ValueError(
                f"anomaly_score='relerr' needs images ([N, C, H, W], [N, H, W] or rows of 64+ square values); X has "
                f"rows of shape {shape}: use 'sqerr'"
            )

    def _fitted_on(self, normality: np.ndarray) -> None:
        """Called at the end of ``fit`` with the training rows' ``score_samples`` (the PyOD detector keeps them)."""

    def _anomaly(self, x: torch.Tensor, kinds: list[str]) -> dict[str, np.ndarray]:
        """Scores ``kinds`` of rows ``x`` as the model sees them (higher = more anomalous), float64.

        In units of the data as given: the standardization's log-Jacobian is taken out of the densities.

        Returns
        -------
        dict of str to numpy.ndarray
            ``{kind: [N]}``, float64.
        """
        samples, steps = int(self.mc_samples), int(self.regret_steps)
        settings = ScoreSettings(nll_samples=samples, elbo_samples=samples, regret_steps=steps)
        out = {}
        for kind, raw in anomaly_scores(self.model_, x, kinds, settings=settings, seed=self.seed_).items():
            values = raw.double().numpy()
            if kind in _DENSITY_SCORES:  # −log p(x̃) → −log p(x); complexity is in bits
                values = values - self._log_jacobian() / (np.log(2) if kind == "complexity" else 1.0)
            out[kind] = values
        return out

    def anomaly_scores(self, X: Any, kinds: str | list[str] | tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Several scores of the fitted model at once: ``{kind: [n_samples]}``, higher = more anomalous.

        ``score_samples`` is ``−anomaly_scores(X)[anomaly_score_]``. The densities (``nll``, ``elbo``, ``recon`` in
        nats, ``complexity`` in bits) are those of the data as given: the standardization's log-Jacobian is taken out.
        A row with a value outside [0, 1], the support of a fitted Bernoulli model, scores ``inf`` (maximally
        anomalous) under every kind, with a warning.

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.
        kinds : str or list of str or tuple of str, optional
            A name of ``aevb.scoring.SCORES`` or several, or ``"all"`` (every score that applies to this model);
            None (or empty): ``[anomaly_score_]``.

        Returns
        -------
        dict of str to numpy.ndarray
            ``{kind: [n_samples]}``, float64, higher = more anomalous (for ``nll``, −log p(x) in nats).
        """
        check_is_fitted(self, "model_")
        x = self._to_model(self._check_input(X, reset=False))
        kinds = [kinds] if isinstance(kinds, str) else list(kinds or [self.anomaly_score_])
        outside = self._outside_support(x)
        if not outside.any():
            return self._anomaly(x, kinds)
        # A Bernoulli model has no density outside [0, 1] (e.g. rows min-max scaled by the training range): such a
        # row is as anomalous as can be, not an error in a detector.
        warnings.warn(
            f"{int(outside.sum())} row(s) of X lie outside [0, 1], the support of the Bernoulli model fitted on this "
            "data: scored as maximally anomalous (inf)",
            stacklevel=_user_stacklevel(),
        )
        inside = self._anomaly(x[~outside], kinds) if (~outside).any() else {k: np.empty(0) for k in kinds}
        out = {}
        for kind, values in inside.items():
            full = np.full(len(x), np.inf)
            full[~outside.numpy()] = values
            out[kind] = full
        return out

    def _outside_support(self, x: torch.Tensor) -> torch.Tensor:
        """Rows (``[N]`` bool) with a value outside the fitted likelihood's support.

        Returns
        -------
        torch.Tensor
            ``[N]`` bool: True for a row with a value outside [0, 1] under a Bernoulli model; all False otherwise.
        """
        if self.likelihood_ != "bernoulli":
            return torch.zeros(len(x), dtype=torch.bool)
        flat = x.reshape(len(x), -1)
        return ((flat < 0) | (flat > 1)).any(1)

    def score_samples(self, X: Any) -> np.ndarray:
        """−anomaly score of each row of ``X``, ``[n_samples]``: higher is more normal.

        It is ``−anomaly_scores(X)[anomaly_score_]``; for ``anomaly_score = "nll"``, the importance-sampled log p(x)
        in nats.

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.

        Returns
        -------
        numpy.ndarray
            ``[n_samples]``, float64: the negated anomaly score of each row (−inf for a row outside a Bernoulli
            model's support [0, 1]).
        """
        return -self.anomaly_scores(X)[self.anomaly_score_]

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) − offset_``: negative for the rows ``predict`` calls outliers.

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.

        Returns
        -------
        numpy.ndarray
            ``[n_samples]``, float64: ``score_samples(X) − offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """−1 for outliers (``decision_function < 0``), +1 for inliers.

        Parameters
        ----------
        X : array-like
            Rows shaped as those ``fit`` saw: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` / ``[N, H, W]``.

        Returns
        -------
        numpy.ndarray
            ``[n_samples]`` ints: −1 for an outlier, +1 for an inlier.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning raised here at the first caller outside aevb.

    ``score_samples``, ``decision_function`` and ``predict`` all reach the warning through ``anomaly_scores``: a fixed
    level would name a line of this file for some of them instead of the user's.

    Returns
    -------
    int
        The level of the first frame, counted from the caller of this function, whose file is not in aevb.
    """
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
