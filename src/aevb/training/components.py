"""Every registry name of a config, resolved at once before any data are read or anything is built.

The config itself holds values only (:mod:`aevb.config` is a leaf); each name is a key of the registry that builds
that part, and ``Registry.get`` of an unknown key is a :class:`~aevb.errors.ConfigError` listing the known ones.
Looking them all up here first means a misspelled ``--likelihood`` fails in a second, not after a download.
"""

from __future__ import annotations

from aevb.config import Config
from aevb.errors import ConfigError
from aevb.metrics.fid import FEATURES
from aevb.models import ARCHS
from aevb.models.cvae import CONDITIONAL_PRIORS
from aevb.nets import ACTIVATIONS, INITS
from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS
from aevb.training.methods import METHODS
from aevb.training.objectives import OBJECTIVES
from aevb.training.optim import OPTIMIZERS
from aevb.training.schedules import SCHEDULES


def check_names(config: Config) -> Config:
    """Raise a :class:`ConfigError` naming the allowed values for the first unknown name in ``config``."""
    model, train = config.model, config.train
    MODELS.get(model.model)
    LIKELIHOODS.get(model.likelihood)
    POSTERIORS.get(model.posterior)
    ARCHS.get(model.arch)
    CONDITIONAL_PRIORS.get(model.conditional_prior)
    for name, value, allowed in (("activation", model.activation, sorted(ACTIVATIONS)), ("init", model.init, INITS)):
        if value not in allowed:
            raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(allowed)}")
    METHODS.get(train.method)
    OBJECTIVES.get(train.objective)
    OPTIMIZERS.get(train.optimizer)
    SCHEDULES.get(train.lr_schedule)
    FEATURES.get(train.fid_features)
    return config
