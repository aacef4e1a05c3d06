"""Every registry name of a config, resolved at once before any data are read or anything is built.

The config itself holds values only (:mod:`aevb.config` is a leaf); each name is a key of the registry that builds
that part, and ``Registry.get`` of an unknown key is a :class:`~aevb.errors.ConfigError` listing the known ones.
Looking them all up here first means a misspelled ``--likelihood`` fails in a second, not after a download.
:data:`NAMED_FIELDS` is also where ``aevb train --help`` finds each flag's allowed values, so they cannot drift.
"""

from __future__ import annotations

from aevb.config import Config
from aevb.errors import ConfigError
from aevb.metrics.fid import FEATURES
from aevb.models import ARCHS
from aevb.models.cvae import CONDITIONAL_PRIORS
from aevb.nets import ACTIVATIONS, INITS
from aevb.registry import LIKELIHOODS, MODELS, POSTERIORS, Registry
from aevb.training.methods import METHODS
from aevb.training.objectives import OBJECTIVES
from aevb.training.optim import OPTIMIZERS
from aevb.training.schedules import SCHEDULES

# (section, field) → what its value names: a registry, or a table whose keys are the allowed values.
NAMED_FIELDS: dict[tuple[str, str], Registry | dict] = {
    ("model", "model"): MODELS,
    ("model", "likelihood"): LIKELIHOODS,
    ("model", "posterior"): POSTERIORS,
    ("model", "arch"): ARCHS,
    ("model", "conditional_prior"): CONDITIONAL_PRIORS,
    ("model", "activation"): ACTIVATIONS,
    ("model", "init"): INITS,
    ("train", "method"): METHODS,
    ("train", "objective"): OBJECTIVES,
    ("train", "optimizer"): OPTIMIZERS,
    ("train", "lr_schedule"): SCHEDULES,
    ("train", "fid_features"): FEATURES,
}


def allowed_names(section: str, name: str) -> list[str] | None:
    """The values a named field may take, or None for a field that names nothing."""
    table = NAMED_FIELDS.get((section, name))
    if table is None:
        return None
    return table.names() if isinstance(table, Registry) else list(table)


def check_names(config: Config) -> Config:
    """Raise a :class:`ConfigError` naming the allowed values for the first unknown name in ``config``."""
    for (section, name), table in NAMED_FIELDS.items():
        value = getattr(getattr(config, section), name)
        if isinstance(table, Registry):
            table.get(value)
        elif value not in table:
            raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(table)}")
    return config
