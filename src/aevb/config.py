"""Validated configuration: one dataclass per TOML section, every field a CLI flag.

``[model]`` says what is built, ``[train]`` how it is fitted. Field names are the TOML keys; the CLI flag of a
field is ``--`` + its name with ``_`` → ``-`` (``latent_dim`` ↔ ``--latent-dim``). Unknown keys are errors that
list the valid ones; values are coerced to the field's type (:func:`section_from_dict`) and range-checked once,
when a section is made (``__post_init__`` → ``validate``).

This module is a leaf: it imports nothing of aevb but its errors. Names that a registry resolves (``model``,
``likelihood``, ``objective``, ``method``, …) are checked by that registry where the part is built, and all at once,
before any data are read, by :func:`aevb.training.components.check_names`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aevb.errors import ConfigError

CONFIG_VERSION = 1

# Numeric precisions of training and evaluation: bf16 = autocast of the networks; densities stay fp32.
PRECISIONS = ("fp32", "bf16")


# Adam's own defaults, which TrainConfig.betas and .eps keep unless set (other optimizers must leave them so).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def _choice(name: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


@dataclass
class ModelConfig:
    """What is built: a prior × posterior × likelihood, with the networks that parameterize them."""

    model: str = "vae"  # registry name, see ``aevb.MODELS``
    latent_dim: int = 20
    hidden: list[int] = field(default_factory=lambda: [400])  # widths of the hidden layers of encoder and decoder
    activation: str = "relu"
    arch: str = "mlp"
    posterior: str = "diagonal"
    likelihood: str = "bernoulli"
    squash_mean: bool = True  # Gaussian likelihood: mean = sigmoid(·), for data in [0, 1]
    min_variance: float = 1e-4  # Gaussian likelihood: variance floor
    init_std: float = 0.0  # > 0: draw all parameters from N(0, init_std²) as the paper did (0.01); 0: see ``init``
    init: str = "pytorch"  # "pytorch" (the layers' defaults) or "glorot" (Burda et al.'s IWAE code); aevb.nets.INITS
    # Bernoulli MLP decoder: start its output bias at logit(clamp(mean of the training x, 0.001, 0.999)), so the first
    # steps model the pixel marginals (Burda et al.'s IWAE code); applied when a run starts, not on resume
    data_bias: bool = False
    # deep-vae: widths of the stochastic layers h¹..h^L (empty: one layer of latent_dim); the networks between
    # consecutive stochastic layers have hidden widths upper_hidden (empty: same as hidden)
    latent_dims: list[int] = field(default_factory=list)
    upper_hidden: list[int] = field(default_factory=list)
    # cvae: labels 0..num_classes−1 become one-hot contexts; the prior p(z|c) is "standard" N(0, I) or "learned"
    num_classes: int = 10
    conditional_prior: str = "standard"
    # vqvae (van den Oord et al. 2017): K codes of dimension D, commitment β, EMA codebook (decay γ), dead-code
    # restart below this many assignments per step (running average; 0: off); gated PixelCNN prior width and depth
    codebook_size: int = 128
    code_dim: int = 32
    commitment: float = 0.25
    ema: bool = False
    ema_decay: float = 0.99
    dead_code: float = 1.0
    prior_channels: int = 64
    prior_layers: int = 8

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> ModelConfig:
        """Range and consistency checks of the values. Registry names (model, arch, posterior, likelihood,
        activation, init) are checked where the parts are built, by the registries that know them."""
        _positive("latent_dim", self.latent_dim)
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ConfigError(f"hidden must be a non-empty list of positive widths, got {self.hidden!r}")
        _positive("min_variance", self.min_variance)
        _positive("init_std", self.init_std, allow_zero=True)
        if self.init_std > 0 and self.init != "pytorch":
            raise ConfigError(
                f"init_std = {self.init_std} (N(0, σ²) initialization) and init = {self.init!r} both choose the "
                "initialization; set init_std = 0 or init = 'pytorch'"
            )
        if self.data_bias and (self.likelihood != "bernoulli" or self.arch != "mlp"):
            raise ConfigError(
                "data_bias = true sets the logits' bias of a Bernoulli MLP decoder; "
                f"got likelihood = {self.likelihood!r}, arch = {self.arch!r}"
            )
        if any(d <= 0 for d in self.latent_dims) or any(h <= 0 for h in self.upper_hidden):
            raise ConfigError(
                "latent_dims and upper_hidden must hold positive widths, "
                f"got {self.latent_dims!r} and {self.upper_hidden!r}"
            )
        if self.num_classes < 2:
            raise ConfigError(f"num_classes must be >= 2, got {self.num_classes}")
        for name in ("codebook_size", "code_dim", "prior_channels", "prior_layers"):
            _positive(name, getattr(self, name))
        _positive("commitment", self.commitment, allow_zero=True)
        _positive("dead_code", self.dead_code, allow_zero=True)
        if not 0 < self.ema_decay < 1:
            raise ConfigError(f"ema_decay must lie in (0, 1), got {self.ema_decay}")
        return self


@dataclass
class TrainConfig:
    """How the model is fitted, on what, and where the run goes."""

    dataset: str = "mnist-sample"  # a registered dataset name or a path to user data (.npy/.npz/.csv/image folder)
    data_dir: str = ""  # where dataset files live; empty: $AEVB_DATA_DIR, then ~/.cache/aevb
    download: bool = True
    test_split: str = "test"
    epochs: int = 10
    batch_size: int = 100  # the paper's minibatch M
    samples: int = 1  # the paper's L: posterior samples per datapoint (the IWAE bound's k)
    # how parameters are fitted: "aevb" (SGVB), "wake-sleep" or "mcem" (the baselines; see aevb.training.methods)
    method: str = "aevb"
    objective: str = "elbo"
    estimator: str = "B"  # SGVB estimator: A (Monte Carlo KL) or B (analytic KL)
    beta: float = 1.0
    warmup_steps: int = 0  # KL warm-up: β rises linearly from 0 to beta over this many steps (0: no warm-up)
    free_bits: float = 0.0  # free bits λ (nats per latent dimension; needs estimator B and a diagonal posterior)
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "iwae": Burda et al.'s 3^i-epoch passes at lr·10^(−i/7) (aevb.training.schedules)
    weight_decay: float = 0.0
    # Adam/AdamW: (β₁, β₂) and ε, per-datapoint loss scale (the loss is a mean over the minibatch)
    betas: list[float] = field(default_factory=lambda: list(ADAM_BETAS))
    eps: float = ADAM_EPS
    param_prior: bool = False  # add −log N(θ; 0, I)/N_train to the per-datapoint loss (the paper's parameter prior)
    seed: int = 0
    eval_every: int = 1  # epochs between evaluations on the test split (0: never)
    eval_samples: int = 1  # posterior samples for the test ELBO
    checkpoint_every: int = 1  # epochs between checkpoints (0: only at the end)
    checkpoint_steps: int = 0  # also checkpoint every N optimizer steps, mid-epoch (0: off); resume is exact either way
    compile: bool = False  # torch.compile the training step (sgvb method); pays a compile time once per run
    precision: str = "fp32"
    device: str = "auto"
    progress: bool = True
    out: str = ""  # run directory
    # epochs after which pictures/samples_epochNNNN.png (from a fixed z) and recon_epochNNNN.png are written (and the
    # last epoch); empty: none
    picture_epochs: list[int] = field(default_factory=lambda: [1, 5, 10, 20, 50, 100, 200, 500, 1000])
    terms_points: int = 1000  # log the ELBO's reconstruction term and KL on this many train/test points (0: off)
    prior_epochs: int = 0  # vqvae: after training, fit the PixelCNN prior over code grids for this many epochs
    # FID every N epochs (0: never) with a feature extractor from aevb.metrics.FEATURES ("aevb_classifier": a small
    # classifier aevb trains on the dataset, cached in fid_weights or the data dir; "inception": needs fid_weights,
    # the standard FID Inception weights file); fid_samples model samples against as many test points
    fid_every: int = 0
    fid_features: str = "aevb_classifier"
    fid_weights: str = ""
    fid_samples: int = 1000

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> TrainConfig:
        """Range and consistency checks of the values. Registry names (method, objective, optimizer, lr_schedule,
        fid_features) are checked where those parts are built, by the registries that know them."""
        for name in ("epochs", "batch_size", "samples", "eval_samples", "lr"):
            _positive(name, getattr(self, name))
        _positive("checkpoint_steps", self.checkpoint_steps, allow_zero=True)
        if self.compile and self.warmup_steps:
            raise ConfigError(
                "compile = true cannot be combined with warmup_steps > 0: β changes every step, which would recompile "
                "the step each time; turn one of them off"
            )
        for name in ("eval_every", "checkpoint_every", "weight_decay", "beta", "warmup_steps", "free_bits"):
            _positive(name, getattr(self, name), allow_zero=True)
        _choice("estimator", self.estimator, ["A", "B"])
        if self.method != "aevb" and (self.objective != "elbo" or self.samples != 1):
            raise ConfigError(
                f"method = {self.method!r} trains by its own rule: objective and samples apply to method 'aevb' only "
                f"(got objective = {self.objective!r}, samples = {self.samples}); leave them at 'elbo' and 1"
            )
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1) (Adam's β₁, β₂), got {self.betas!r}")
        _positive("eps", self.eps)
        if self.optimizer not in ("adam", "adamw") and (tuple(self.betas) != ADAM_BETAS or self.eps != ADAM_EPS):
            raise ConfigError(
                f"betas and eps are Adam's settings; optimizer = {self.optimizer!r} has none (use adam or adamw, or "
                f"leave them at {list(ADAM_BETAS)} and {ADAM_EPS})"
            )
        _choice("precision", self.precision, PRECISIONS)
        _positive("terms_points", self.terms_points, allow_zero=True)
        for name in ("prior_epochs", "fid_every"):
            _positive(name, getattr(self, name), allow_zero=True)
        _positive("fid_samples", self.fid_samples)
        if any(e <= 0 for e in self.picture_epochs):
            raise ConfigError(f"picture_epochs must hold positive epoch numbers, got {self.picture_epochs!r}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise ConfigError(f"device = {self.device!r} is not allowed; choose auto, cpu, cuda or cuda:N")
        return self


@dataclass
class Config:
    """A whole experiment: ``[model]`` and ``[train]`` sections."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> Config:
        """Checks across the sections (each section checked its own values when it was made)."""
        if self.version > CONFIG_VERSION:
            raise ConfigError(
                f"config version {self.version} is newer than this aevb understands ({CONFIG_VERSION}); upgrade aevb"
            )
        if (self.model.model == "vqvae") != (self.train.objective == "vqvae"):
            # The VQ-VAE has no ELBO terms (its posterior is a point mass), and its loss fits no other model.
            raise ConfigError(
                f"model = {self.model.model!r} with objective = {self.train.objective!r}: the vqvae model trains "
                "with --objective vqvae, and that objective trains only --model vqvae"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a table of sections, got {type(data).__name__}")
        _check_keys("config", data, ["model", "train", "version"])
        version = _coerce("version", int, data.get("version", CONFIG_VERSION))
        return cls(
            model=section_from_dict(ModelConfig, data.get("model", {})),
            train=section_from_dict(TrainConfig, data.get("train", {})),
            version=version,
        )

    def to_toml(self) -> str:
        lines = [f"version = {self.version}", ""]
        for name in ("model", "train"):
            lines.append(f"[{name}]")
            for key, value in dataclasses.asdict(getattr(self, name)).items():
                lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


def load_toml(path: str | Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None


def load_config(path: str | Path) -> Config:
    return Config.from_dict(load_toml(path))


def field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def section_from_dict(cls: type, data: dict[str, Any]) -> Any:
    section = cls.__name__.removesuffix("Config").lower()
    if not isinstance(data, dict):
        raise ConfigError(f"[{section}] must be a table, got {type(data).__name__}")
    types_ = field_types(cls)
    _check_keys(f"[{section}]", data, list(types_))
    return cls(**{k: _coerce(f"{section}.{k}", types_[k], v) for k, v in data.items()})


def _check_keys(where: str, data: dict[str, Any], valid: list[str]) -> None:
    unknown = [k for k in data if k not in valid]
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; valid keys: {', '.join(valid)}")


def _coerce(name: str, typ: Any, value: Any) -> Any:
    """Convert ``value`` (from TOML or a CLI string) to ``typ``, or raise a ConfigError naming the key."""
    origin = typing.get_origin(typ)
    try:
        if origin is list:
            (item,) = typing.get_args(typ)
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            elif not isinstance(value, list | tuple):
                value = [value]
            return [_coerce(name, item, v) for v in value]
        if origin in (typing.Union, types.UnionType):
            return value
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if typ is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (ValueError, TypeError, OverflowError):
        pass
    else:
        return value
    tname = getattr(typ, "__name__", str(typ))
    raise ConfigError(f"{name} must be of type {tname}, got {value!r}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
