"""aevb: Auto-Encoding Variational Bayes (Kingma & Welling 2014) and the VAE family.

>>> import aevb
>>> data = aevb.load_dataset("mnist-sample", "train")
>>> model = aevb.build_model(aevb.ModelConfig(latent_dim=20, hidden=[400]), data.event_shape)
>>> aevb.fit(model, data, epochs=5)                                    # doctest: +SKIP
>>> model.elbo(data.x[:100]).mean()                                    # nats per datapoint
"""

from aevb import likelihoods, posteriors  # noqa: E402,F401  (registers the families)
from aevb.config import Config, ModelConfig, TrainConfig, load_config  # noqa: E402
from aevb.data import TensorData, list_datasets, load_dataset  # noqa: E402
from aevb.errors import AevbError, CheckpointError, ConfigError, DataError, TrainingError  # noqa: E402
from aevb.estimators import Terms, elbo, iwae_bound, sgvb_a, sgvb_b  # noqa: E402
from aevb.evaluation import evaluate, log_likelihood  # noqa: E402
from aevb.io import load_model, save_model  # noqa: E402
from aevb.models import VAE, build_model  # noqa: E402
from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS  # noqa: E402
from aevb.runs import evaluate_run, load, train_from_config  # noqa: E402
from aevb.scoring import score  # noqa: E402
from aevb.training.trainer import Trainer, fit  # noqa: E402
from aevb.version import __version__  # noqa: E402,F401

__all__ = [
    "LIKELIHOODS",
    "MODELS",
    "POSTERIORS",
    "VAE",
    "AevbError",
    "CheckpointError",
    "Config",
    "ConfigError",
    "DataError",
    "ModelConfig",
    "TensorData",
    "Terms",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "build_model",
    "elbo",
    "evaluate",
    "evaluate_run",
    "fit",
    "iwae_bound",
    "list_datasets",
    "load",
    "load_config",
    "load_dataset",
    "load_model",
    "log_likelihood",
    "save_model",
    "score",
    "sgvb_a",
    "sgvb_b",
    "train_from_config",
]
