"""What aevb's scikit-learn estimators share: the parameters (a model and training config, flat), input validation
in scikit-learn's conventions, the fit, and safe persistence.

Data: a 2-D array ``[n_samples, n_features]`` (NumPy, pandas, anything ``check_array`` reads) or images
``[N, C, H, W]`` / ``[N, H, W]``. ``likelihood = "auto"`` picks Bernoulli when every training value lies in [0, 1]
(pixels, binary features) and a Gaussian with learned variance otherwise; a Gaussian model sees the features
standardized with the training mean and standard deviation (``standardize = "auto"``), and its densities are
reported for the data as given (the log-Jacobian −Σ_j log s_j of the scaling is added), so nats stay nats.

Persistence: ``save(path)`` writes ``model.safetensors`` + ``model.json`` (:func:`aevb.io.save_model`) and
``estimator.json`` (the parameters and fitted values); ``load(path)`` reads them back. Pickling (``joblib.dump``)
stores the same: the weights as a dict of tensors and plain values, never a pickled module, so the model is rebuilt
from its JSON config on unpickling.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from aevb.atomic import write_text_atomic
from aevb.config import ModelConfig, TrainConfig
from aevb.data import TensorData
from aevb.errors import ConfigError
from aevb.io import load_model, model_from_bytes, model_meta, model_to_bytes, save_model
from aevb.models import build_model
from aevb.runtime import module_device, resolve_device
from aevb.training.trainer import Trainer
from aevb.version import __version__

ESTIMATOR_FILE = "estimator.json"
_STD_FLOOR = 1e-6  # a constant feature is centred, not divided by zero


class VAEEstimatorBase(BaseEstimator):
    """Parameters and fitting shared by :class:`~aevb.sklearn.VAEOutlierDetector` and
    :class:`~aevb.sklearn.VAETransformer` (see their docstrings for the parameters)."""

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
        """``X`` as a float32 array, validated as scikit-learn does (NaN/inf, sparse and complex refused; the number
        of features checked against ``fit``'s); images keep their shape."""
        array = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64], allow_nd=True, ensure_min_samples=1)
        array = np.asarray(array, dtype=np.float32)
        if array.ndim not in (2, 3, 4):
            raise ValueError(
                f"X must be a 2-D array [n_samples, n_features] or images [N, C, H, W] / [N, H, W]; got shape "
                f"{array.shape}"
            )
        if array.ndim == 3:
            array = array[:, None]  # gray images [N, H, W] → [N, 1, H, W]
        if not reset and tuple(array.shape[1:]) != self.event_shape_:
            raise ValueError(
                f"X has rows of shape {array.shape[1:]}, but this estimator was fitted on rows of {self.event_shape_}"
            )
        return array

    def _to_model(self, array: np.ndarray) -> torch.Tensor:
        """Rows as the model sees them (standardized for a Gaussian model), on the CPU; the model moves them."""
        x = torch.from_numpy(np.ascontiguousarray(array))
        if self.scale_ is not None:
            x = (x - self.center_) / self.scale_
        return x

    def _log_jacobian(self) -> float:
        """log |dx̃/dx| = −Σ_j log s_j of the standardization, added to densities of x̃ to give densities of x."""
        return 0.0 if self.scale_ is None else -float(self.scale_.double().log().sum())

    # --- fit -----------------------------------------------------------------------------------------------------
    def _resolve_likelihood(self, array: np.ndarray) -> str:
        if self.likelihood != "auto":
            return self.likelihood
        return "bernoulli" if array.min() >= 0.0 and array.max() <= 1.0 else "gaussian"

    def _seed(self) -> int:
        """An int seed from ``random_state`` (an int, a RandomState, or None: a fresh one)."""
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        if isinstance(self.random_state, np.random.Generator):
            return int(self.random_state.integers(0, 2**31 - 1))
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))  # None, a RandomState; else its error

    def _fit_model(self, X: Any, check: Callable[[np.ndarray], None] | None = None) -> torch.Tensor:
        """Validate ``X``, build and train the model; returns the training rows as the model sees them. ``check``
        sees the validated array before any training (a subclass's own refusals, e.g. a score that needs images)."""
        array = self._check_input(X, reset=True)
        if check is not None:
            check(array)
        if array.shape[0] < 2:
            raise ValueError(f"n_samples={array.shape[0]}: fitting a VAE needs at least 2 samples")
        self.event_shape_ = tuple(array.shape[1:])
        self.likelihood_ = self._resolve_likelihood(array)
        if self.standardize not in ("auto", True, False):
            raise ValueError(f"standardize must be 'auto', True or False, got {self.standardize!r}")
        standardize = self.likelihood_ == "gaussian" if self.standardize == "auto" else bool(self.standardize)
        self.center_ = self.scale_ = None
        if standardize:
            flat = torch.from_numpy(array)
            self.center_ = flat.mean(0)
            self.scale_ = flat.std(0, unbiased=False).clamp_min(_STD_FLOOR)
        x = self._to_model(array)
        seed = self._seed()
        model_config = ModelConfig(
            latent_dim=self.latent_dim,
            hidden=list(self.hidden),
            activation=self.activation,
            likelihood=self.likelihood_,
            arch=self.arch,
            posterior=self.posterior,
        )
        train_config = TrainConfig(
            dataset="array",
            epochs=self.epochs,
            batch_size=min(self.batch_size, x.shape[0]),
            lr=self.lr,
            optimizer=self.optimizer,
            beta=self.beta,
            seed=seed,
            device=self.device,
            precision=self.precision,
            progress=bool(self.verbose),
            eval_every=0,
            checkpoint_every=0,
            picture_epochs=[],
            terms_points=0,
        )
        model = build_model(model_config, self.event_shape_, seed=seed, data=x)
        result = Trainer(model, TensorData(x, None, name="array"), train_config).fit()
        self.model_ = model.eval()
        self.train_bound_ = [record["train_bound"] for record in result.history]
        self.seed_ = seed
        return x

    @property
    def device_(self) -> torch.device:
        """Where the fitted model computes (``device = "auto"``: CUDA when present)."""
        check_is_fitted(self, "model_")
        return module_device(self.model_)

    # --- persistence -----------------------------------------------------------------------------------------
    def _record(self) -> dict[str, Any]:
        """Parameters and fitted values (everything but the model) as JSON values."""
        params = self.get_params(deep=False)
        fitted = {k: v for k, v in vars(self).items() if k not in params and k != "model_"}
        return {
            "estimator": type(self).__name__,
            "aevb_version": __version__,
            "params": _encode(params),
            "fitted": _encode(fitted),
        }

    def _restore(self, record: dict[str, Any]) -> None:
        """Set the parameters and fitted values of a :meth:`_record`."""
        vars(self).update(_decode(record["params"]))
        vars(self).update(_decode(record["fitted"]))

    def __getstate__(self) -> dict[str, Any]:
        """What pickle (and ``joblib.dump``) stores: JSON values and, for a fitted estimator, the model's JSON
        description and its weights as the bytes of a safetensors file — no torch object, no pickled module."""
        state = {"record": self._record()}
        if hasattr(self, "model_"):
            state["model"] = {"meta": model_meta(self.model_), "safetensors": model_to_bytes(self.model_)}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._restore(state["record"])
        if "model" in state:
            device = _available(self.device)
            self.model_ = model_from_bytes(state["model"]["meta"], state["model"]["safetensors"], device)

    def save(self, path: str | Path) -> Path:
        """Write the fitted estimator into the folder ``path``: ``model.safetensors`` + ``model.json`` (what
        :func:`aevb.load_model` reads) and ``estimator.json`` (parameters and fitted values)."""
        check_is_fitted(self, "model_")
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(self.model_, folder)
        write_text_atomic(folder / ESTIMATOR_FILE, json.dumps(self._record(), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path) -> VAEEstimatorBase:
        """The estimator :meth:`save` wrote into ``path`` (weights from safetensors; nothing is unpickled)."""
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
        estimator.model_ = load_model(folder, device=_available(estimator.device)).eval()
        return estimator


def _available(device: str) -> torch.device:
    """``device`` resolved, or the CPU (with a warning) when it names CUDA on a machine without it: an estimator
    fitted on a GPU loads anywhere."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"this estimator was set to device {device!r}, but CUDA is not available: loading on the CPU", stacklevel=3
        )
        return torch.device("cpu")
    return resolve_device(device)


def _encode(value: Any) -> Any:
    """``value`` as JSON, with tuples, NumPy arrays and tensors tagged so that :func:`_decode` gives them back; a
    RandomState (a parameter) is stored as None."""
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
