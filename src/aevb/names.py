"""The names a user can type, known without importing torch, so ``aevb --help`` starts at once.

Each tuple is the key list of the registry that builds the part (models, families, methods, scores, ...);
``tests/test_start.py`` checks that every tuple equals its registry's names, so a new entry registered without
being named here fails the suite instead of drifting out of ``--help``.
"""

from __future__ import annotations

# (config section, field) → the values it may take (training/components.py:NAMED_FIELDS holds the registries)
FIELD_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "model"): ("ae", "cvae", "deep-vae", "m2", "vae", "vqvae"),
    ("model", "likelihood"): ("bernoulli", "gaussian"),
    ("model", "posterior"): ("diagonal", "full", "point"),
    ("model", "arch"): ("conv", "mlp"),
    ("model", "conditional_prior"): ("learned", "standard"),
    ("model", "activation"): ("tanh", "relu", "softplus", "elu", "leaky_relu", "gelu"),
    ("model", "init"): ("pytorch", "glorot"),
    ("train", "method"): ("aevb", "mcem", "wake-sleep"),
    ("train", "objective"): ("elbo", "iwae", "kl", "m2", "reconstruction", "vqvae"),
    ("train", "optimizer"): ("adagrad", "adam", "adamw", "sgd"),
    ("train", "lr_schedule"): ("constant", "iwae"),
    ("train", "fid_features"): ("aevb_classifier", "inception"),
}
SCORE_NAMES = ("complexity", "elbo", "nll", "recon", "regret", "relerr", "sqerr")
# "auto": relerr for images, nll for other data (aevb.scoring.auto_score says why). Until 2026-12-04 it was regret for
# images; before that regret for all data, chosen before any OOD measurement (it is designed to work both ways).
DEFAULT_SCORE = "auto"
NLL_ESTIMATOR_NAMES = ("hmc", "is")
EXPERIMENT_NAMES = (
    "ae-vs-vae",
    "beta-vae-dsprites",
    "fig2",
    "fig3",
    "fig4",
    "fig5",
    "one-class",
    "one-class-tabular",
)
