"""What aevb's scikit-learn estimators share: flat parameters, input validation, the fit and safe persistence.

The parameters are a model and a training config (``aevb.ModelConfig``, ``aevb.TrainConfig``), flat; the input is
validated in scikit-learn's conventions.

Data: a 2-D array ``[n_samples, n_features]`` (NumPy, pandas, anything ``check_array`` reads) or images
``[N, C, H, W]`` / ``[N, H, W]``. ``likelihood = "auto"`` picks Bernoulli for images with values in [0, 1] (given as
images, or flat pixel rows: an array without column names, of a square width of 64 or more) and for 0/1 data, and a
Gaussian with learned variance otherwise; a Gaussian model sees the features
standardized with the training mean and standard deviation (``standardize = "auto"``), and its densities are
reported for the data as given (the log-Jacobian ``−Σ_j log s_j`` of the scaling is added), so nats stay nats.

Persistence: ``save(path)`` writes ``model.safetensors`` + ``model.json`` (``aevb.io.save_model``) and
``estimator.json`` (the parameters and fitted values); ``load(path)`` reads them back. Pickling (``joblib.dump``)
stores the same: the weights as a dict of tensors and plain values, never a pickled module, so the model is rebuilt
from its JSON config on unpickling.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from aevb.atomic import write_text_atomic
from aevb.config import ModelConfig, TrainConfig, section_from_dict
from aevb.data import TensorData
from aevb.data.scaling import standardization
from aevb.errors import ConfigError
from aevb.io import load_model, model_from_bytes, model_meta, model_to_bytes, save_model
from aevb.models import build_model
from aevb.plots.png import image_shape
from aevb.runtime import available_device, module_device, resolve_device
from aevb.training.callbacks import EarlyStopping
from aevb.training.trainer import FitResult, Trainer
from aevb.version import __version__

VALIDATION_EVERY = 50
"""Early stopping evaluates the held-out ELBO about every this many optimizer steps (or each epoch, if longer)."""
PATIENCE_STEPS = 1000
"""Early stopping ends the search after this many optimizer steps without a better held-out ELBO."""
VALIDATION_SAMPLES = 10
"""Posterior samples per held-out row of the early-stopping ELBO (``aevb.evaluate``'s test ELBO)."""
ESTIMATOR_POSTERIORS = ("diagonal", "full")
"""The families of q(z|x) the estimators offer: Gaussians (a point mass has no density, so no ELBO to fit by)."""
ESTIMATOR_FILE = "estimator.json"
"""Name of the file, in the folder ``save`` writes, that holds the estimator's parameters and fitted values."""


class VAEEstimatorBase(BaseEstimator):
    """Parameters and fitting shared by ``VAEOutlierDetector`` and ``VAETransformer``.

    The base class of aevb's scikit-learn estimators: the parameters of the model and its training, the validation of
    the input, the fit of the VAE, and the persistence of a fitted estimator (``save``, ``load``, pickling). It has
    no ``score_samples`` or ``transform`` of its own: fit one of its subclasses, which add their own parameters.

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
    event_shape_ : tuple of int
        The shape of one training row: ``(n_features,)``, or ``(C, H, W)`` for images (gray ``[N, H, W]`` images
        become ``(1, H, W)``).
    images_ : bool
        Whether ``fit`` took the rows for images (given as ``[N, C, H, W]`` / ``[N, H, W]``, or flat pixel rows: an
        array without column names, of a square width of 64 or more, values in [0, 1]); the ``"auto"`` likelihood
        and anomaly score follow it.
    likelihood_ : str
        The likelihood ``"auto"`` resolved to: ``"bernoulli"`` for images in [0, 1] and 0/1 data, else
        ``"gaussian"``.
    center_, scale_ : torch.Tensor or None
        The training mean and standard deviation per feature when the features are standardized (1 for a feature
        constant in the training rows: ``aevb.data.scaling.standardization``), else None.
    seed_ : int
        The seed drawn from ``random_state`` at ``fit``.
    n_steps_ : int
        Optimizer steps the final model was trained for (``early_stopping``: the held-out ELBO's best).
    validation_elbo_ : list of [int, float] or None
        ``early_stopping``'s search: ``[step, held-out ELBO]`` per evaluation, nats per row of the data as the model
        sees it, higher is better; None without ``early_stopping``.
    train_bound_ : list of float
        The training objective per epoch: the (β-weighted) ELBO averaged over the epoch's rows, each taken at the
        step that trained on it, in nats per row of the data as the model sees it (standardized when ``standardize``
        applies: no log-Jacobian added), higher is better.
    n_features_in_, feature_names_in_
        What ``fit`` saw, as scikit-learn's ``validate_data`` records it (``feature_names_in_`` only for input with
        string column names, such as a pandas DataFrame).
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
        device: str = "auto",
        precision: str = "fp32",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.likelihood = likelihood
        self.arch = arch
        self.posterior = posterior
        self.beta = beta
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.standardize = standardize
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    # --- input ---------------------------------------------------------------------------------------------------
    def _check_input(self, X: Any, *, reset: bool) -> np.ndarray:
        """``X`` as a float32 array, validated as scikit-learn does; images keep their shape.

        NaN/inf, sparse and complex input are refused; the number of features is checked against ``fit``'s.

        Returns
        -------
        numpy.ndarray
            The rows, float32: ``[n_samples, n_features]`` or images ``[N, C, H, W]`` (gray ``[N, H, W]`` become
            ``[N, 1, H, W]``).

        Raises
        ------
        ValueError
            If ``X`` is not a 2-D array or images (3-D or 4-D), or (``reset = False``) its rows do not have the shape
            of the rows ``fit`` saw.
        """
        if getattr(X, "ndim", 0) == 3:  # gray images [N, H, W] are [N, 1, H, W], for fit and score alike
            X = np.asarray(X)[:, None]
        fitted = None if reset else self.event_shape_
        if fitted is not None and len(fitted) == 3 and getattr(X, "ndim", 0) in (2, 4) and X.shape[1:] != fitted:
            # before scikit-learn's check, which would count channels as "features" ("X has 784 features, but … is
            # expecting 1 features")
            gray = f" or [N, {fitted[1]}, {fitted[2]}]" if fitted[0] == 1 else ""
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but this estimator was fitted on images of shape {fitted}: "
                f"give them as [N, {', '.join(map(str, fitted))}]{gray}"
            )
        array = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64], allow_nd=True, ensure_min_samples=1)
        array = np.asarray(array, dtype=np.float32)
        if array.ndim not in (2, 3, 4):
            raise ValueError(
                f"X must be a 2-D array [n_samples, n_features] or images [N, C, H, W] / [N, H, W]; got shape "
                f"{array.shape}"
            )
        if not reset and tuple(array.shape[1:]) != self.event_shape_:
            raise ValueError(
                f"X has rows of shape {array.shape[1:]}, but this estimator was fitted on rows of {self.event_shape_}"
            )
        return array

    def _to_model(self, array: np.ndarray) -> torch.Tensor:
        """Rows as the model sees them (standardized for a Gaussian model), on the CPU; the model moves them.

        Returns
        -------
        torch.Tensor
            ``array`` as a tensor, standardized with ``center_`` and ``scale_`` when those are set.
        """
        x = torch.from_numpy(np.ascontiguousarray(array))
        if self.scale_ is not None:
            x = (x - self.center_) / self.scale_
        return x

    def _log_jacobian(self) -> float:
        """The log-Jacobian ``log |dx̃/dx| = −Σ_j log s_j`` of the standardization.

        Returns
        -------
        float
            The log-Jacobian, added to log-densities of x̃ to give log-densities of x; 0 without standardization.
        """
        return 0.0 if self.scale_ is None else -float(self.scale_.double().log().sum())

    # --- fit -----------------------------------------------------------------------------------------------------
    def _checked_params(self) -> tuple[ModelConfig, TrainConfig]:
        """The model's and the training's parameters, checked before ``fit`` changes anything.

        They are read as aevb's config files are (``aevb.config.section_from_dict``): each value is converted to its
        field's type (NumPy scalars, such as ``GridSearchCV`` hands over, become Python numbers; a tuple or one int
        for ``hidden``) or refused with a ``ConfigError`` (a ``ValueError``) naming the parameter, then range-checked.

        Returns
        -------
        tuple
            The ``ModelConfig`` (``likelihood`` still ``"auto"`` if so) and a ``TrainConfig`` template (``epochs``,
            ``batch_size``, ``lr``, ``optimizer``, ``beta``, ``device``, ``precision`` checked).

        Raises
        ------
        ConfigError
            A ``ValueError``: if a parameter has the wrong type or is out of its range, or ``posterior``,
            ``early_stopping``, ``verbose``, ``validation_fraction`` or ``max_steps`` is not an allowed value, or
            ``device`` names a GPU this process lacks.
        """
        if self.posterior not in ESTIMATOR_POSTERIORS:
            raise ConfigError(
                f"posterior must be one of {', '.join(ESTIMATOR_POSTERIORS)} (a Gaussian q(z|x), diagonal or with a "
                f"full covariance), got {self.posterior!r}"
            )
        for name in ("early_stopping", "verbose"):  # 0 and 1 too: scikit-learn's and PyOD's verbose is an int
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_) and not (isinstance(value, numbers.Integral) and value in (0, 1)):
                raise ConfigError(f"{name} must be True or False (or 1 or 0), got {value!r}")
        if self.early_stopping:
            fraction = self.validation_fraction
            if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
                raise ConfigError(f"validation_fraction must be a number in (0, 1), got {fraction!r}")
            steps = self.max_steps
            if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
                raise ConfigError(f"max_steps must be a positive integer, got {steps!r}")
        hidden = self.hidden.tolist() if isinstance(self.hidden, np.ndarray) else self.hidden
        model = section_from_dict(
            ModelConfig,
            {
                "latent_dim": self.latent_dim,
                "hidden": hidden,
                "activation": self.activation,
                "likelihood": self.likelihood,  # "auto" until fit sees the data
                "arch": self.arch,
                "posterior": self.posterior,
            },
        )
        train = section_from_dict(
            TrainConfig,
            {
                "dataset": "array",
                "epochs": self.epochs,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "optimizer": self.optimizer,
                "beta": self.beta,
                "device": self.device,
                "precision": self.precision,
            },
        )
        resolve_device(train.device)  # a GPU this process lacks is refused now, by name
        return model, train

    def _takes_for_images(self, array: np.ndarray, in_unit: bool) -> bool:
        """Whether the training rows are images, for the ``"auto"`` choices of likelihood and anomaly score.

        Images are rows given as images (``[N, C, H, W]``, ``[N, H, W]``) and flat rows that can only be pixels:
        an array without column names, of a square width of 8 × 8 or more, every value in [0, 1] (scikit-learn's
        ``load_digits().data / 16``, ``fetch_openml("mnist_784", as_frame=False).data / 255``). A DataFrame's named
        columns are a table whatever their number, as are values outside [0, 1]: a table of 64 or 100 sensors is no
        8 × 8 or 10 × 10 image. (An unnamed array of 64, 81, 100 … columns min-max scaled into [0, 1] is taken for
        pixels: pass it as a DataFrame, or set ``likelihood`` and ``anomaly_score``.)

        Returns
        -------
        bool
            True for images.
        """
        if array.ndim == 4:
            return True
        width = array.shape[1]
        square = width >= 64 and math.isqrt(width) ** 2 == width
        named = hasattr(self, "feature_names_in_")
        return square and not named and in_unit

    def _resolve_likelihood(self, array: np.ndarray, in_unit: bool) -> str:
        """``likelihood = "auto"`` for these training rows: Bernoulli for images in [0, 1] and for 0/1 rows.

        Other data, a table whose values merely lie in [0, 1] (min-max scaled, proportions) too, get a Gaussian: a
        Bernoulli model of continuous features is no density of them, and it has none for a new row outside [0, 1]
        (scored ``inf``: no ranking among such rows, and no finite score for PyOD's metrics).

        Returns
        -------
        str
            ``"bernoulli"`` or ``"gaussian"`` (or ``likelihood`` itself when it is not ``"auto"``).
        """
        if self.likelihood != "auto":
            return self.likelihood
        binary = in_unit and bool(((array == 0) | (array == 1)).all())
        return "bernoulli" if binary or (in_unit and self.images_) else "gaussian"

    def _seed(self) -> int:
        """An int seed from ``random_state`` (an int, a RandomState, a Generator, or None: a fresh one).

        Returns
        -------
        int
            ``random_state`` itself when it is an int, else a seed drawn from it (None: from NumPy's global state).
        """
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        if isinstance(self.random_state, np.random.Generator):
            return int(self.random_state.integers(0, 2**31 - 1))
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))  # None, a RandomState; else its error

    def _fit_model(self, X: Any, check: Callable[[np.ndarray], None] | None = None) -> torch.Tensor:
        """Validate ``X``, build and train the model; set the fitted attributes.

        ``check`` sees the validated array before any training (a subclass's own refusals, e.g. a score that needs
        images).

        Returns
        -------
        torch.Tensor
            The training rows as the model sees them (standardized for a Gaussian model), on the CPU.

        Raises
        ------
        ValueError
            If ``X`` has fewer than 2 samples, or ``standardize`` is not ``"auto"``, True or False.
        """
        model_config, train_config = self._checked_params()
        array = self._check_input(X, reset=True)
        if check is not None:
            check(array)
        if array.shape[0] < 2:
            raise ValueError(f"n_samples={array.shape[0]}: fitting a VAE needs at least 2 samples")
        self.event_shape_ = tuple(array.shape[1:])
        in_unit = bool(array.min() >= 0.0 and array.max() <= 1.0)  # read by both "auto" rules
        self.images_ = self._takes_for_images(array, in_unit)
        self.likelihood_ = self._resolve_likelihood(array, in_unit)
        if self.standardize not in ("auto", True, False):
            raise ValueError(f"standardize must be 'auto', True or False, got {self.standardize!r}")
        standardize = self.likelihood_ == "gaussian" if self.standardize == "auto" else bool(self.standardize)
        self.center_ = self.scale_ = None
        if standardize:
            center, scale = standardization(array)
            self.center_, self.scale_ = torch.from_numpy(center), torch.from_numpy(scale)
        x = self._to_model(array)
        seed = self._seed()
        model_config = dataclasses.replace(model_config, likelihood=self.likelihood_)
        self.validation_elbo_ = None  # _search_steps sets it
        steps = self._search_steps(x, model_config, train_config, seed) if self.early_stopping else None
        model, result = self._train(x, model_config, train_config, seed, steps=steps)
        self.model_ = model.eval()
        self.train_bound_ = [record["train_bound"] for record in result.history]
        self.n_steps_ = result.step
        self.seed_ = seed
        return x

    def _train_config(
        self, base: TrainConfig, rows: int, seed: int, epochs: int, steps: int = 0, eval_every: int = 0
    ) -> TrainConfig:
        return dataclasses.replace(
            base,
            epochs=epochs,
            steps=steps,
            batch_size=min(base.batch_size, rows),
            seed=seed,
            progress=bool(self.verbose),
            eval_every=eval_every,
            eval_samples=VALIDATION_SAMPLES,
            checkpoint_every=0,
            picture_epochs=[],
            terms_points=0,
        )

    def _train(
        self,
        x: torch.Tensor,
        model_config: ModelConfig,
        base: TrainConfig,
        seed: int,
        *,
        steps: int | None = None,
        held_out: torch.Tensor | None = None,
        hook: EarlyStopping | None = None,
    ) -> tuple[torch.nn.Module, FitResult]:
        """Train a fresh model on ``x``: ``epochs`` passes, or ``steps`` optimizer steps.

        With ``held_out`` and ``hook``: at most ``max_steps`` steps, the held-out ELBO evaluated about every
        ``VALIDATION_EVERY`` steps for the hook to watch.

        Returns
        -------
        tuple
            The trained model and the trainer's ``FitResult``.
        """
        rows = x.shape[0]
        per_epoch = math.ceil(rows / min(base.batch_size, rows))
        if held_out is not None:
            max_steps = int(self.max_steps)
            every = max(1, VALIDATION_EVERY // per_epoch)
            config = self._train_config(base, rows, seed, math.ceil(max_steps / per_epoch), max_steps, every)
        elif steps is not None:
            config = self._train_config(base, rows, seed, math.ceil(steps / per_epoch), steps)
        else:
            config = self._train_config(base, rows, seed, base.epochs)
        model = build_model(model_config, self.event_shape_, seed=seed, data=x)
        test = None if held_out is None else TensorData(held_out, None, name="held-out rows")
        callbacks = [hook] if hook else None
        return model, Trainer(model, TensorData(x, None, name="array"), config, test=test, callbacks=callbacks).fit()

    def _search_steps(self, x: torch.Tensor, model_config: ModelConfig, base: TrainConfig, seed: int) -> int:
        """Early stopping: the number of optimizer steps at which the held-out ELBO peaks.

        A seeded ``validation_fraction`` of the rows is held out; a model trains on the others for at most
        ``max_steps`` steps. Sets ``validation_elbo_``.

        Returns
        -------
        int
            The steps of the best evaluation (at least 1).

        Raises
        ------
        ValueError
            If a part would have fewer than 2 rows, or the held-out ELBO was never finite.
        KeyboardInterrupt
            If the search was interrupted (Ctrl-C).
        """
        n_held = round(self.validation_fraction * x.shape[0])
        if n_held < 2 or x.shape[0] - n_held < 2:
            raise ValueError(
                f"early_stopping holds out validation_fraction={self.validation_fraction} of {x.shape[0]} rows = "
                f"{n_held}; both the held-out and the training part need at least 2 rows"
            )
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
        hook = EarlyStopping(PATIENCE_STEPS, keep_state=False)
        _, result = self._train(x[order[n_held:]], model_config, base, seed, held_out=x[order[:n_held]], hook=hook)
        if result.interrupted:
            raise KeyboardInterrupt("early stopping's search was interrupted; nothing was fitted")
        self.validation_elbo_ = [[step, elbo] for step, elbo in hook.curve]
        if not hook.best_step:
            raise ValueError(
                f"early_stopping: the held-out ELBO was never finite ({[e for _, e in hook.curve][:5]} at the first "
                "evaluations): the model diverged; try a lower lr, or early_stopping=False"
            )
        return hook.best_step

    @property
    def device_(self) -> torch.device:
        """Where the fitted model computes (``device = "auto"``: CUDA when present)."""
        check_is_fitted(self, "model_")
        return module_device(self.model_)

    # --- persistence -----------------------------------------------------------------------------------------
    def _record(self) -> dict[str, Any]:
        """Parameters and fitted values (everything but the model) as JSON values.

        Returns
        -------
        dict
            ``estimator`` (the class name), ``aevb_version``, ``params`` and ``fitted``, encoded by ``_encode``.
        """
        params = self.get_params(deep=False)
        fitted = {k: v for k, v in vars(self).items() if k not in params and k != "model_"}
        return {
            "estimator": type(self).__name__,
            "aevb_version": __version__,
            "params": _encode(params),
            "fitted": _encode(fitted),
        }

    def _restore(self, record: dict[str, Any]) -> None:
        """Set the parameters and fitted values of a ``_record``."""
        vars(self).update(_decode(record["params"]))
        vars(self).update(_decode(record["fitted"]))
        shape = getattr(self, "event_shape_", ())
        if len(shape) == 3 and shape[0] == 1 and getattr(self, "n_features_in_", 1) == shape[1] != 1:
            # Saved before 2026-12-05 from gray [N, H, W] images: scikit-learn's check counted H "features"; such
            # images are now [N, 1, H, W] before that check, which counts 1
            self.n_features_in_ = 1
        if "images_" not in record["fitted"] and shape:  # saved before images_ existed: what fit took then
            self.images_ = image_shape(shape) is not None

    def __getstate__(self) -> dict[str, Any]:
        """What pickle (and ``joblib.dump``) stores: JSON values and the model's description and weights.

        For a fitted estimator, the model is stored as its JSON description and its weights as the bytes of a
        safetensors file — no torch object, no pickled module.

        Returns
        -------
        dict
            ``record`` (the ``_record``) and, when fitted, ``model`` (``meta`` and ``safetensors`` bytes).
        """
        state = {"record": self._record()}
        if hasattr(self, "model_"):
            state["model"] = {"meta": model_meta(self.model_), "safetensors": model_to_bytes(self.model_)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._restore(state["record"])
        if "model" in state:
            device = available_device(self.device, "this estimator")
            self.model_ = model_from_bytes(state["model"]["meta"], state["model"]["safetensors"], device)

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator into the folder ``path``.

        The folder (created if need be) receives ``model.safetensors`` + ``model.json`` (what ``aevb.load_model``
        reads) and ``estimator.json`` (parameters and fitted values); ``load`` reads them back.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder to write into.

        Returns
        -------
        pathlib.Path
            The folder written.
        """
        check_is_fitted(self, "model_")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(self.model_, folder)
        write_text_atomic(folder / ESTIMATOR_FILE, json.dumps(self._record(), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> VAEEstimatorBase:
        """The estimator ``save`` wrote into ``path`` (weights from safetensors; nothing is unpickled).

        The model is loaded onto the saved ``device`` parameter, or onto the CPU (with a warning) when that names CUDA
        on a machine without it.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder ``save`` wrote.

        Returns
        -------
        VAEEstimatorBase
            The fitted estimator, an instance of the class ``load`` is called on.

        Raises
        ------
        ConfigError
            If ``path`` holds no ``estimator.json``, or holds an estimator of another class than the one ``load`` is
            called on.
        """
        folder = Path(path)
        file = folder / ESTIMATOR_FILE
        if not file.is_file():
            raise ConfigError(f"{folder} holds no saved estimator ({ESTIMATOR_FILE} is missing)")
        record = json.loads(file.read_text())
        if record.get("estimator") != cls.__name__:
            raise ConfigError(
                f"{folder} holds a {record.get('estimator')}, not a {cls.__name__}: load it with that class"
            )
        estimator = cls()
        estimator._restore(record)
        estimator.model_ = load_model(folder, device=available_device(estimator.device, "this estimator")).eval()
        return estimator


def _encode(value: Any) -> Any:
    """``value`` as JSON, with tuples, NumPy arrays and tensors tagged so that ``_decode`` gives them back.

    A RandomState or Generator (a ``random_state`` parameter) is stored as None; a non-finite float is tagged.

    Returns
    -------
    Any
        A JSON value.

    Raises
    ------
    TypeError
        If ``value`` holds something else than JSON values, tuples, NumPy arrays and scalars, tensors and random
        states.
    """
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, torch.Tensor):
        return {"tensor": value.tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        return None  # a random_state object: its seed was drawn at fit (seed_); unpickled, it is fresh
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": str(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} with the estimator (JSON values, arrays and tensors only)")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"tuple"}:
        return tuple(_decode(v) for v in value["tuple"])
    if set(value) == {"ndarray", "dtype"}:
        return np.asarray(value["ndarray"], dtype=value["dtype"])
    if set(value) == {"tensor", "dtype"}:
        return torch.tensor(value["tensor"], dtype=getattr(torch, value["dtype"]))
    if set(value) == {"float"}:
        return float(value["float"])
    return {k: _decode(v) for k, v in value.items()}
