"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling 2014) and the VAE family.

The names below load on first use (PEP 562): ``import aevb`` and the command line's ``--help`` start without
importing torch, and ``aevb.X`` / ``from aevb import X`` work as if everything were imported here.

Examples
--------
>>> import aevb
>>> data = aevb.load_dataset("mnist-sample", "train")
>>> model = aevb.build_model(aevb.ModelConfig(latent_dim=20, hidden=[400]), data.event_shape)
>>> aevb.fit(model, data, epochs=5)                                    # doctest: +SKIP
>>> model.elbo(data.x[:100]).mean()                                    # nats per datapoint
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aevb.lazy import lazy_exports
from aevb.version import __version__

# name → the module that defines it
_EXPORTS: dict[str, str] = {
    "AevbError": "aevb.errors",
    "build_model": "aevb.models",
    "CheckpointError": "aevb.errors",
    "Config": "aevb.config",
    "ConfigError": "aevb.errors",
    "DataError": "aevb.errors",
    "elbo": "aevb.estimators",
    "evaluate": "aevb.evaluation",
    "evaluate_run": "aevb.runs",
    "fit": "aevb.training.trainer",
    "iwae_bound": "aevb.estimators",
    "LIKELIHOODS": "aevb.registry",
    "list_datasets": "aevb.data",
    "load": "aevb.runs",
    "load_config": "aevb.config",
    "load_dataset": "aevb.data",
    "load_model": "aevb.io",
    "log_likelihood": "aevb.evaluation",
    "ModelConfig": "aevb.config",
    "MODELS": "aevb.registry",
    "POSTERIORS": "aevb.registry",
    "save_model": "aevb.io",
    "score": "aevb.scoring",
    "sgvb_a": "aevb.estimators",
    "sgvb_b": "aevb.estimators",
    "TensorData": "aevb.data",
    "Terms": "aevb.estimators",
    "train_from_config": "aevb.runs",
    "TrainConfig": "aevb.config",
    "Trainer": "aevb.training.trainer",
    "TrainingError": "aevb.errors",
    "VAE": "aevb.models",
}

if TYPE_CHECKING:
    from aevb.config import Config, ModelConfig, TrainConfig, load_config
    from aevb.data import TensorData, list_datasets, load_dataset
    from aevb.errors import AevbError, CheckpointError, ConfigError, DataError, TrainingError
    from aevb.estimators import Terms, elbo, iwae_bound, sgvb_a, sgvb_b
    from aevb.evaluation import evaluate, log_likelihood
    from aevb.io import load_model, save_model
    from aevb.models import VAE, build_model
    from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS
    from aevb.runs import evaluate_run, load, train_from_config
    from aevb.scoring import score
    from aevb.training.trainer import Trainer, fit


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = [
    "AevbError",
    "build_model",
    "CheckpointError",
    "Config",
    "ConfigError",
    "DataError",
    "elbo",
    "evaluate",
    "evaluate_run",
    "fit",
    "iwae_bound",
    "LIKELIHOODS",
    "list_datasets",
    "load",
    "load_config",
    "load_dataset",
    "load_model",
    "log_likelihood",
    "ModelConfig",
    "MODELS",
    "POSTERIORS",
    "save_model",
    "score",
    "sgvb_a",
    "sgvb_b",
    "TensorData",
    "Terms",
    "train_from_config",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "VAE",
    "__version__",
]
