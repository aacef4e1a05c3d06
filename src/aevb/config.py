"""Validated configuration: one dataclass per TOML section, every field a CLI flag.

``[model]`` says what is built, ``[train]`` how it is fitted. Field names are the TOML keys; the CLI flag of a
field is ``--`` + its name with ``_`` → ``-`` (``latent_dim`` ↔ ``--latent-dim``). Unknown keys are errors that
list the valid ones; values are coerced to the field's type (``section_from_dict``) and range-checked once,
when a section is made (``__post_init__`` → ``validate``).

This module is a leaf: it imports nothing of aevb but its errors. Names that a registry resolves (``model``,
``likelihood``, ``objective``, ``method``, …) are checked by that registry where the part is built, and all at once,
before any data are read, by ``aevb.training.components.check_names``.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aevb.errors import ConfigError

CONFIG_VERSION = 1
"""The version of the config format this aevb writes; a config of a newer version is refused (``Config.validate``)."""

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
"""``torch.compile`` modes of the training step; ``reduce-overhead`` replays the step's kernels as CUDA graphs on a GPU
(small models are launch-bound there); on a CPU it compiles as ``default`` does, since inductor skips CUDA graphs."""
PRECISIONS = ("fp32", "tf32", "bf16")
"""Numeric precisions of training and evaluation: bf16 = autocast of the networks (``aevb.runtime.autocast``); tf32 =
CUDA's TF32 tensor cores for fp32 matmuls and convolutions, fp32 = IEEE fp32 for both (on a CPU, tf32 is fp32;
``aevb.runtime.fp32_arithmetic``); densities stay fp32."""


ADAM_BETAS = (0.9, 0.999)
"""Adam's own default (β₁, β₂), which ``TrainConfig.betas`` keeps unless set (other optimizers must leave it so)."""
ADAM_EPS = 1e-8
"""Adam's own default ε, which ``TrainConfig.eps`` keeps unless set (other optimizers must leave it so)."""


def _choice(name: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")


def _f(default: Any, group: str, help: str) -> Any:
    """A config field with its one-line description and its group (``aevb train --help`` shows both).

    Returns
    -------
    dataclasses.Field
        The field, with metadata ``{"group": group, "help": help}`` (a list default becomes a factory of copies).
    """
    metadata = {"group": group, "help": help}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def field_help(cls: type) -> dict[str, tuple[str, str]]:
    """``{field name: (group, one-line description)}`` of a config section.

    Parameters
    ----------
    cls : type
        A config section class (``ModelConfig`` or ``TrainConfig``).

    Returns
    -------
    dict of str to tuple of (str, str)
        The group and the one-line description of each field, in field order.
    """
    return {f.name: (f.metadata["group"], f.metadata["help"]) for f in dataclasses.fields(cls)}


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    # A number's type is checked first: "fast" > 0 would be a TypeError naming no setting.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy's numbers register as Real
        raise ConfigError(f"{name} must be a number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


AUTO_COMPILE_PAIRS = 5_000_000
"""(datapoints × K) pairs above which ``evaluate`` compiles the importance-sampling chunks by itself.

Measured on the 784-400-20 MLP on this project's 2-core CPU, compiling costs 10-20 s once and then saves ~30 % of the
eager time (~6 µs per pair), so it pays from about 3 M pairs; 5 M leaves a margin (1,000 test points at K = 5,000; the
10,000-image test set at 500).
"""


@dataclass
class ModelConfig:
    """What is built: a prior × posterior × likelihood, with the networks that parameterize them.

    The ``[model]`` section of a config file. Every field is a TOML key and a flag of ``aevb train`` (``--`` + its
    name with ``_`` → ``-``). The values are range-checked when the section is made (``validate``): a value out of
    range is a ``ConfigError``. A field whose description starts "cvae:", "vqvae:" or "deep-vae:" applies to those
    models only ("cvae:" also to ``m2``; ``applicable``); the others ignore it.

    Parameters
    ----------
    model : str, default "vae"
        Which model to build: a name of ``aevb.registry.MODELS`` (``vae``, ``ae``, ``cvae``, ``m2``, ``deep-vae``,
        ``vqvae``).
    latent_dim : int, default 20
        Width of the latent code z (the paper's Nz); > 0.
    hidden : list of int, default [400]
        Widths of the encoder's hidden layers (the decoder mirrors them); non-empty, each > 0.
    activation : str, default "relu"
        Nonlinearity of the hidden layers (``tanh``, the paper's; ``relu``, ``softplus``, ``elu``, ``leaky_relu``,
        ``gelu``).
    arch : str, default "mlp"
        Network architecture of encoder and decoder: ``mlp``, or ``conv`` (one stride-2 conv per width).
    posterior : str, default "diagonal"
        Family of q(z|x): ``diagonal`` or ``full``-covariance Gaussian (``point``: set by ``--model ae``).
    likelihood : str, default "bernoulli"
        Family of p(x|z): ``bernoulli`` (data in [0, 1]) or ``gaussian`` (real data).
    squash_mean : bool or None, default None
        Gaussian likelihood: mean = sigmoid(·), for data in [0, 1]. None (``"auto"``): on when the training data
        lie in [0, 1] (``aevb.models.data_defaults``).
    min_variance : float, default 1e-4
        Gaussian likelihood: floor of the learned variance; > 0.
    standardize : bool, default False
        Gaussian likelihood: the model standardizes each feature by the training data's mean and standard deviation
        (``aevb.nets.Standardization``: the encoder reads x̃ = (x − c) / s, the likelihood is reported for x), for
        data not on a unit scale; densities stay in nats of the data. Excludes ``squash_mean``. ``min_variance`` is
        then a floor of the standardized features' variance: sⱼ² · ``min_variance`` in the data's units.
    init_std : float, default 0.0
        When > 0, draw every parameter from ``N(0, init_std²)``, as the paper (0.01), and then ``init`` must be
        ``"pytorch"``; 0: ``init`` decides.
    init : str, default "pytorch"
        Initialization: ``pytorch`` (the layers' defaults) or ``glorot`` (Burda et al.'s code).
    data_bias : bool, default False
        Start the Bernoulli MLP decoder's output bias at the training pixel logits (Burda et al.'s code); at the
        start of a run, not on resume. Needs ``likelihood = "bernoulli"`` and ``arch = "mlp"``.
    latent_dims : list of int, default []
        deep-vae: widths of the stochastic layers h1..hL (empty: ``latent_dim``); each > 0.
    upper_hidden : list of int, default []
        deep-vae: hidden widths between stochastic layers (empty: ``hidden``); each > 0.
    num_classes : int, default 10
        cvae: labels ``0..num_classes−1`` become one-hot contexts; >= 2.
    conditional_prior : str, default "standard"
        cvae: p(z|c) ``standard`` N(0, I) or ``learned`` N(μ(c), σ(c)²).
    codebook_size : int, default 128
        vqvae: number of codes K; > 0.
    code_dim : int, default 32
        vqvae: dimension D of each code; > 0.
    commitment : float, default 0.25
        vqvae: commitment weight β of eq. 3 (van den Oord et al. 2017); >= 0.
    ema : bool, default False
        vqvae: learn the codebook by exponential moving averages.
    ema_decay : float, default 0.99
        vqvae: EMA decay γ, in (0, 1).
    dead_code : float, default 1.0
        vqvae: restart codes used less than this often per step (0: never); >= 0.
    prior_channels : int, default 64
        vqvae: channels of the gated PixelCNN prior; > 0.
    prior_layers : int, default 8
        vqvae: layers of the gated PixelCNN prior; > 0.
    """

    model: str = _f("vae", "model", "which model to build")
    latent_dim: int = _f(20, "model", "width of the latent code z (the paper's Nz)")
    hidden: list[int] = _f([400], "model", "widths of the encoder's hidden layers (the decoder mirrors them)")
    activation: str = _f("relu", "model", "nonlinearity of the hidden layers")
    arch: str = _f("mlp", "model", "network architecture of encoder and decoder (conv: one stride-2 conv per width)")
    posterior: str = _f(
        "diagonal",
        "model",
        "family of q(z|x): diagonal or full-covariance Gaussian (point: set by --model ae)",
    )
    likelihood: str = _f("bernoulli", "model", "family of p(x|z): Bernoulli (data in [0, 1]) or Gaussian (real data)")
    squash_mean: bool | None = _f(
        None,
        "model",
        "Gaussian likelihood: mean = sigmoid(·), for data in [0, 1]; auto: on when the training data lie in [0, 1]",
    )
    min_variance: float = _f(1e-4, "model", "Gaussian likelihood: floor of the learned variance")
    standardize: bool = _f(
        False,
        "model",
        "Gaussian likelihood: the model standardizes each feature by the training data's mean and std (for data "
        "not on a unit scale, e.g. a table's raw columns); densities stay those of the data",
    )
    init_std: float = _f(0.0, "model", "> 0: draw every parameter from N(0, init_std²), as the paper (0.01); 0: --init")
    init: str = _f("pytorch", "model", "initialization: pytorch (the layers' defaults) or glorot (Burda et al.'s code)")
    data_bias: bool = _f(
        False,
        "model",
        "start the Bernoulli MLP decoder's output bias at the training pixel logits (Burda et al.'s code); at the "
        "start of a run, not on resume",
    )
    latent_dims: list[int] = _f([], "model", "deep-vae: widths of the stochastic layers h1..hL (empty: latent_dim)")
    upper_hidden: list[int] = _f([], "model", "deep-vae: hidden widths between stochastic layers (empty: hidden)")
    num_classes: int = _f(10, "model", "cvae: labels 0..num_classes-1 become one-hot contexts")
    conditional_prior: str = _f("standard", "model", "cvae: p(z|c) standard N(0, I) or learned N(mu(c), sigma(c)²)")
    codebook_size: int = _f(128, "model", "vqvae: number of codes K")
    code_dim: int = _f(32, "model", "vqvae: dimension D of each code")
    commitment: float = _f(0.25, "model", "vqvae: commitment weight beta of eq. 3")
    ema: bool = _f(False, "model", "vqvae: learn the codebook by exponential moving averages")
    ema_decay: float = _f(0.99, "model", "vqvae: EMA decay gamma")
    dead_code: float = _f(1.0, "model", "vqvae: restart codes used less than this often per step (0: never)")
    prior_channels: int = _f(64, "model", "vqvae: channels of the gated PixelCNN prior")
    prior_layers: int = _f(8, "model", "vqvae: layers of the gated PixelCNN prior")

    def __post_init__(self) -> None:
        self.validate()

    # A field whose description starts "cvae: …" applies to these models only (the others ignore it).
    _ONLY_FOR = {"cvae": ("cvae", "m2"), "vqvae": ("vqvae",), "deep-vae": ("deep-vae",)}

    def applicable(self) -> dict[str, Any]:
        """The fields that mean something for ``self.model`` (a plain VAE's description lists no codebook size).

        Returns
        -------
        dict of str to Any
            ``{field name: value}`` of the fields that apply to this model, in field order.
        """
        out = {}
        for f in dataclasses.fields(self):
            prefix = f.metadata["help"].split(":", 1)[0]
            if self.model in self._ONLY_FOR.get(prefix, (self.model,)):
                out[f.name] = getattr(self, f.name)
        return out

    def validate(self) -> ModelConfig:
        """Range and consistency checks of the values.

        Registry names (model, arch, posterior, likelihood, activation, init) are checked where the parts are built,
        by the registries that know them.

        Returns
        -------
        ModelConfig
            ``self``, checked.

        Raises
        ------
        ConfigError
            If a value is out of its range (see the class's Parameters), or ``init_std`` > 0 and ``init`` both
            choose the initialization, or ``data_bias`` is set without a Bernoulli MLP decoder.
        """
        _positive("latent_dim", self.latent_dim)
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ConfigError(f"hidden must be a non-empty list of positive widths, got {self.hidden!r}")
        _positive("min_variance", self.min_variance)
        if self.standardize and self.likelihood != "gaussian":
            raise ConfigError(
                f"standardize applies to a Gaussian likelihood (real-valued data), not to {self.likelihood!r}; "
                "add likelihood = gaussian (--likelihood gaussian) or leave standardize off"
            )
        if self.standardize and self.model == "vqvae":
            raise ConfigError(
                "standardize applies to the models built from an encoder network and a Gaussian likelihood (vae, "
                "cvae, m2, ae, deep-vae), not to vqvae"
            )
        if self.standardize and self.squash_mean:
            raise ConfigError(
                "standardize and squash_mean exclude each other: standardized features do not lie in [0, 1]; "
                "leave squash_mean at auto"
            )
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
    """How the model is fitted, on what, and where the run goes.

    The ``[train]`` section of a config file. Every field is a TOML key and a flag of ``aevb train`` (``--`` + its
    name with ``_`` → ``-``). The values are range-checked when the section is made (``validate``): a value out of
    range or an inconsistent pair is a ``ConfigError``. A description that starts "m2:", "M1+M2:" or "vqvae:" applies
    to that model only.

    Parameters
    ----------
    dataset : str, default "mnist-sample"
        A dataset name (``aevb datasets``) or a path to .npy/.npz/.csv/images.
    data_dir : str, default ""
        Where dataset files live (empty: ``$AEVB_DATA_DIR``, then ``~/.cache/aevb``).
    download : bool, default True
        Download missing dataset files from their canonical URLs.
    test_split : str, default "test"
        The held-out split evaluated during training.
    test_fraction : float, default 0.1
        Your own files: the fraction of rows held out (seeded) as the test split; 0: train on every row. In [0, 1).
    labels_per_class : int, default 0
        m2: keep this many training labels per class (seeded), hide the rest; >= 0, not with ``labeled``.
    labeled : int, default 0
        m2: keep this many training labels chosen at random (seeded), hide the rest; >= 0.
    features : str, default ""
        M1+M2: train on the posterior means of this run's encoder (a run directory).
    features_sample : bool, default False
        M1+M2: train on a fresh draw of q(z|x) of ``features`` per minibatch (the paper), not the means; needs
        ``features``.
    epochs : int, default 10
        Passes over the training set; > 0.
    batch_size : int, default 100
        Minibatch size (the paper's M); > 0.
    steps : int, default 0
        Stop after this many optimizer steps, mid-epoch if need be (0: ``epochs`` decides); >= 0.
    samples : int, default 1
        Posterior samples per datapoint (the paper's L; the IWAE bound's k); > 0.
    method : str, default "aevb"
        How parameters are fitted: ``aevb`` (SGVB) or a baseline (``wake-sleep``, ``mcem``), which trains by its
        own rule: ``objective`` and ``samples`` must then stay ``"elbo"`` and 1.
    objective : str, default "elbo"
        What training maximizes: ``elbo``, ``iwae`` (``L_k``), ``reconstruction`` (ae), ``kl``, ``m2`` or ``vqvae``
        (van den Oord eq. 3). ``--model ae`` trains with ``reconstruction``; ``m2`` and ``vqvae`` go with the
        models of those names, and only with them (``Config.validate``).
    estimator : {"B", "A"}, default "B"
        SGVB estimator: ``A`` (Monte Carlo KL) or ``B`` (analytic KL).
    beta : float, default 1.0
        Weight of the KL (β-VAE; 1: the ELBO); >= 0.
    warmup_steps : int, default 0
        KL warm-up: β rises linearly from 0 over this many steps (0: off); >= 0, not with ``compile``.
    free_bits : float, default 0.0
        Free bits: nats per latent dimension below which the KL is not charged; >= 0.
    m2_alpha : float, default 0.1
        m2: weight of log q(y|x) per labelled point, times the training-set size N; >= 0.
    m2_labelled_batch : int, default 100
        m2: labelled points drawn with every minibatch (0: only the minibatch's own labelled points); >= 0.
    optimizer : str, default "adam"
        The optimizer: ``adam``, ``adamw``, ``adagrad`` or ``sgd``.
    lr : float, default 1e-3
        Learning rate; > 0.
    lr_schedule : str, default "constant"
        ``constant``, or ``iwae``: Burda et al.'s ``3^i`` passes at ``lr·10^(−i/7)``.
    weight_decay : float, default 0.0
        Weight decay of the optimizer; >= 0.
    betas : list of float, default [0.9, 0.999]
        Adam/AdamW: (β₁, β₂), two numbers in [0, 1); other optimizers must leave the default.
    eps : float, default 1e-8
        Adam/AdamW: ε (the loss is a mean over the minibatch); > 0; other optimizers must leave the default.
    param_prior : bool, default False
        Add the paper's N(0, I) prior on the parameters, spread over N.
    seed : int, default 0
        Seed of the initialization, the data order and the posterior noise.
    eval_every : int, default 1
        Epochs between test-set evaluations (0: never); >= 0.
    eval_samples : int, default 1
        Posterior samples per datapoint of the test ELBO; > 0.
    checkpoint_every : int, default 1
        Epochs between checkpoints (0: only at the end); >= 0.
    checkpoint_steps : int, default 0
        Also checkpoint every N optimizer steps, mid-epoch (0: off); >= 0.
    compile : bool, default False
        ``torch.compile`` the training step (pays a compile time once per run); not with ``warmup_steps`` > 0
        (β would change, and the step recompile, every step).
    compile_mode : {"default", "reduce-overhead", "max-autotune"}, default "default"
        ``torch.compile``'s mode for ``compile``: ``reduce-overhead`` captures the step's forward and backward as
        CUDA graphs on a GPU (one launch each instead of dozens of small kernels; the same as ``default`` on a CPU);
        ``max-autotune`` also searches kernel configurations (long compiles). Only with ``compile``.
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        ``fp32``; ``tf32``: TF32 matmuls and convolutions on CUDA (fp32 on a CPU); ``bf16``: autocast of the
        networks (densities stay fp32).
    device : str, default "auto"
        ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
    progress : bool, default True
        Print a line per epoch and a progress bar.
    out : str, default ""
        The run directory to write (required to train).
    picture_epochs : list of int, default [1, 5, 10, 20, 50, 100, 200, 500, 1000]
        Epochs after which sample/recon pictures are written; each > 0.
    terms_points : int, default 1000
        Log the ELBO's two terms on this many train/test points (0: off); >= 0.
    prior_epochs : int, default 0
        vqvae: epochs of the PixelCNN prior fitted after training; >= 0.
    fid_every : int, default 0
        Epochs between FID measurements (0: never); >= 0.
    fid_features : str, default "aevb_classifier"
        FID features: ``aevb_classifier`` or ``inception``.
    fid_weights : str, default ""
        ``inception``: the FID weights file; ``aevb_classifier``: its directory.
    fid_samples : int, default 1000
        Model samples (and test points) per FID; > 0.
    """

    dataset: str = _f("mnist-sample", "data", "a dataset name (aevb datasets) or a path to .npy/.npz/.csv/images")
    data_dir: str = _f("", "data", "where dataset files live (empty: $AEVB_DATA_DIR, then ~/.cache/aevb)")
    download: bool = _f(True, "data", "download missing dataset files from their canonical URLs")
    test_split: str = _f("test", "data", "the held-out split evaluated during training")
    test_fraction: float = _f(
        0.1, "data", "your own files: the fraction of rows held out (seeded) as the test split; 0: train on every row"
    )
    labels_per_class: int = _f(0, "data", "m2: keep this many training labels per class (seeded), hide the rest")
    labeled: int = _f(0, "data", "m2: keep this many training labels chosen at random (seeded), hide the rest")
    features: str = _f("", "data", "M1+M2: train on the posterior means of this run's encoder (a run directory)")
    features_sample: bool = _f(
        False, "data", "M1+M2: train on a fresh draw of q(z|x) of --features per minibatch (the paper), not the means"
    )
    epochs: int = _f(10, "optimizer", "passes over the training set")
    batch_size: int = _f(100, "optimizer", "minibatch size (the paper's M)")
    steps: int = _f(0, "optimizer", "stop after this many optimizer steps, mid-epoch if need be (0: --epochs decides)")
    samples: int = _f(1, "objective", "posterior samples per datapoint (the paper's L; the IWAE bound's k)")
    method: str = _f("aevb", "objective", "how parameters are fitted: aevb (SGVB) or a baseline")
    objective: str = _f(
        "elbo",
        "objective",
        "what training maximizes: elbo, iwae (L_k), reconstruction (ae), kl or vqvae (van den Oord eq. 3)",
    )
    estimator: str = _f("B", "objective", "SGVB estimator: A (Monte Carlo KL) or B (analytic KL)")
    beta: float = _f(1.0, "objective", "weight of the KL (beta-VAE; 1: the ELBO)")
    warmup_steps: int = _f(0, "objective", "KL warm-up: beta rises linearly from 0 over this many steps (0: off)")
    free_bits: float = _f(0.0, "objective", "free bits: nats per latent dimension below which the KL is not charged")
    m2_alpha: float = _f(0.1, "objective", "m2: weight of log q(y|x) per labelled point, times the training-set size N")
    m2_labelled_batch: int = _f(
        100, "objective", "m2: labelled points drawn with every minibatch (0: only the minibatch's own labelled points)"
    )
    optimizer: str = _f("adam", "optimizer", "the optimizer")
    lr: float = _f(1e-3, "optimizer", "learning rate")
    lr_schedule: str = _f("constant", "optimizer", "constant, or iwae: Burda et al.'s 3^i passes at lr·10^(−i/7)")
    weight_decay: float = _f(0.0, "optimizer", "weight decay of the optimizer")
    betas: list[float] = _f(list(ADAM_BETAS), "optimizer", "Adam/AdamW: (beta1, beta2)")
    eps: float = _f(ADAM_EPS, "optimizer", "Adam/AdamW: epsilon (the loss is a mean over the minibatch)")
    param_prior: bool = _f(False, "objective", "add the paper's N(0, I) prior on the parameters, spread over N")
    seed: int = _f(0, "run", "seed of the initialization, the data order and the posterior noise")
    eval_every: int = _f(1, "evaluation", "epochs between test-set evaluations (0: never)")
    eval_samples: int = _f(1, "evaluation", "posterior samples per datapoint of the test ELBO")
    checkpoint_every: int = _f(1, "run", "epochs between checkpoints (0: only at the end)")
    checkpoint_steps: int = _f(0, "run", "also checkpoint every N optimizer steps, mid-epoch (0: off)")
    compile: bool = _f(False, "run", "torch.compile the training step (pays a compile time once per run)")
    compile_mode: str = _f(
        "default",
        "run",
        "torch.compile mode of --compile: default; reduce-overhead (CUDA graphs on a GPU, for small models); "
        "max-autotune",
    )
    precision: str = _f(
        "fp32",
        "run",
        "fp32; tf32: TF32 matmuls on CUDA (fp32 on a CPU); bf16: autocast of the networks (densities stay fp32)",
    )
    device: str = _f("auto", "run", "auto (CUDA when present), cpu, cuda or cuda:N")
    progress: bool = _f(True, "run", "print a line per epoch and a progress bar")
    out: str = _f("", "run", "the run directory to write (required)")
    picture_epochs: list[int] = _f(
        [1, 5, 10, 20, 50, 100, 200, 500, 1000], "evaluation", "epochs after which sample/recon pictures are written"
    )
    terms_points: int = _f(1000, "evaluation", "log the ELBO's two terms on this many train/test points (0: off)")
    prior_epochs: int = _f(0, "run", "vqvae: epochs of the PixelCNN prior fitted after training")
    fid_every: int = _f(0, "evaluation", "epochs between FID measurements (0: never)")
    fid_features: str = _f("aevb_classifier", "evaluation", "FID features: aevb_classifier or inception")
    fid_weights: str = _f("", "evaluation", "inception: the FID weights file; aevb_classifier: its directory")
    fid_samples: int = _f(1000, "evaluation", "model samples (and test points) per FID")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> TrainConfig:
        """Range and consistency checks of the values.

        Registry names (``method``, ``objective``, ``optimizer``, ``lr_schedule``, ``fid_features``) are checked
        where those parts are built, by the registries that know them.

        Returns
        -------
        TrainConfig
            ``self``, checked.

        Raises
        ------
        ConfigError
            If a value is out of its range (see the class's Parameters), ``estimator``, ``precision`` or ``device``
            is not an allowed value, or two settings conflict: ``labels_per_class`` and ``labeled`` both set,
            ``features_sample`` without ``features``, ``compile`` with ``warmup_steps`` > 0, a ``method`` other
            than ``"aevb"`` with another objective or more samples, or ``betas``/``eps`` changed for an optimizer
            other than Adam/AdamW.
        """
        for name in ("epochs", "batch_size", "samples", "eval_samples", "lr"):
            _positive(name, getattr(self, name))
        if not 0 <= self.test_fraction < 1:
            raise ConfigError(f"test_fraction must lie in [0, 1) (0: no test split), got {self.test_fraction}")
        _positive("checkpoint_steps", self.checkpoint_steps, allow_zero=True)
        _positive("steps", self.steps, allow_zero=True)
        for name in ("labels_per_class", "labeled", "m2_alpha", "m2_labelled_batch"):
            _positive(name, getattr(self, name), allow_zero=True)
        if self.labels_per_class and self.labeled:
            raise ConfigError("give labels_per_class or labeled, not both")
        if self.features_sample and not self.features:
            raise ConfigError("features_sample draws from the encoder of the --features run: give features too")
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
        _choice("compile_mode", self.compile_mode, COMPILE_MODES)
        if self.compile_mode != "default" and not self.compile:
            raise ConfigError(
                f"compile_mode = {self.compile_mode!r} is a mode of the compiled step: add compile = true"
            )
        _positive("terms_points", self.terms_points, allow_zero=True)
        for name in ("prior_epochs", "fid_every"):
            _positive(name, getattr(self, name), allow_zero=True)
        _positive("fid_samples", self.fid_samples)
        if any(e <= 0 for e in self.picture_epochs):
            raise ConfigError(f"picture_epochs must hold positive epoch numbers, got {self.picture_epochs!r}")
        if self.device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", str(self.device)):
            raise ConfigError(f"device = {self.device!r} is not allowed; choose auto, cpu, cuda or cuda:N")
        return self


@dataclass
class Config:
    """A whole experiment: ``[model]`` and ``[train]`` sections.

    The sections are checked against each other when the config is made (``validate``).

    Parameters
    ----------
    model : ModelConfig, default ModelConfig()
        What is built (the ``[model]`` section).
    train : TrainConfig, default TrainConfig()
        How it is fitted (the ``[train]`` section).
    version : int, default CONFIG_VERSION
        The config format's version (1); a version newer than this aevb's is refused.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> Config:
        """Checks across the sections (each section checked its own values when it was made).

        Returns
        -------
        Config
            ``self``, checked.

        Raises
        ------
        ConfigError
            If ``version`` is newer than this aevb understands, or the model and the objective do not go together:
            ``model = "ae"`` trains with ``objective = "reconstruction"``; ``objective = "m2"`` trains
            ``model = "m2"`` and only it trains with that objective; likewise ``"vqvae"``.
        """
        if self.version > CONFIG_VERSION:
            raise ConfigError(
                f"config version {self.version} is newer than this aevb understands ({CONFIG_VERSION}); upgrade aevb"
            )
        if self.model.model == "ae" and self.train.objective != "reconstruction":
            raise ConfigError(
                f"model = 'ae' with objective = {self.train.objective!r}: the plain autoencoder has no KL or bound; "
                "it trains with --objective reconstruction"
            )
        if (self.model.model == "m2") != (self.train.objective == "m2"):
            raise ConfigError(
                f"model = {self.model.model!r} with objective = {self.train.objective!r}: the m2 model trains with "
                "--objective m2 (labelled and unlabelled bounds plus the classifier's term), and only it"
            )
        if (self.model.model == "vqvae") != (self.train.objective == "vqvae"):
            # The VQ-VAE has no ELBO terms (its posterior is a point mass), and its loss fits no other model.
            raise ConfigError(
                f"model = {self.model.model!r} with objective = {self.train.objective!r}: the vqvae model trains "
                "with --objective vqvae, and that objective trains only --model vqvae"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The config as nested dicts, as ``from_dict`` reads them.

        Returns
        -------
        dict of str to Any
            ``{"model": {...}, "train": {...}, "version": int}``, each section's fields by name.
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """A config from nested dicts (a parsed TOML file): keys checked, values coerced to the fields' types.

        Missing sections, keys and ``version`` take their defaults. An unknown key, a value of the wrong type and a
        value out of range are ``ConfigError`` too (naming the key and what is allowed).

        Parameters
        ----------
        data : dict of str to Any
            A table with the sections ``"model"`` and ``"train"`` (tables of field values) and ``"version"``.

        Returns
        -------
        Config
            The validated config.

        Raises
        ------
        ConfigError
            If ``data`` is not a table (a dict) of sections.
        """
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
        """The config as the text of a TOML file, which ``load_config`` reads back.

        Returns
        -------
        str
            ``version = …``, then a ``[model]`` and a ``[train]`` table with one ``key = value`` line per field
            (an ``"auto"`` setting, None, is written ``"auto"``).
        """
        lines = [f"version = {self.version}", ""]
        for name in ("model", "train"):
            lines.append(f"[{name}]")
            for key, value in dataclasses.asdict(getattr(self, name)).items():
                lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


def load_toml(path: str | Path) -> dict[str, Any]:
    """The table a TOML file holds, not yet checked as a config.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file.

    Returns
    -------
    dict of str to Any
        The parsed table.

    Raises
    ------
    ConfigError
        If the file does not exist or is not valid TOML.
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None


def load_config(path: str | Path) -> Config:
    """The config a TOML file describes, checked (``Config.from_dict``).

    A file that does not exist or is not valid TOML, an unknown key, a value of the wrong type and a value out of
    range are each a ``ConfigError`` that names what was wrong and what is allowed.

    Parameters
    ----------
    path : str or pathlib.Path
        The TOML file, with ``[model]`` and ``[train]`` tables and an optional ``version``.

    Returns
    -------
    Config
        The validated config.
    """
    return Config.from_dict(load_toml(path))


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: type}`` of a config section, its annotations resolved.

    Parameters
    ----------
    cls : type
        A config section class (``ModelConfig`` or ``TrainConfig``).

    Returns
    -------
    dict of str to Any
        The type of each field, in field order.
    """
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def section_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """A config section from a table of TOML or CLI values: keys checked, values coerced to the fields' types.

    Missing keys take the fields' defaults. An unknown key (the message lists the valid ones), a value of the wrong
    type and a value out of range are ``ConfigError`` too.

    Parameters
    ----------
    cls : type
        The section class (``ModelConfig`` or ``TrainConfig``).
    data : dict of str to Any
        The section's values by field name.

    Returns
    -------
    Any
        The validated section, an instance of ``cls``.

    Raises
    ------
    ConfigError
        If ``data`` is not a table (a dict).
    """
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
    """Convert ``value`` (from TOML or a CLI string) to ``typ``, or raise a ConfigError naming the key.

    Returns
    -------
    Any
        ``value`` as ``typ`` (a list of ``item`` for ``list[item]``; None for ``"auto"`` of a ``bool | None``).

    Raises
    ------
    ConfigError
        If ``value`` cannot be read as ``typ``.
    """  # noqa: DOC501 - the ValueErrors raised inside are caught here and become that ConfigError
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
            if set(typing.get_args(typ)) == {bool, type(None)}:  # a switch whose default ("auto") follows the data
                return None if value is None or value == "auto" else _coerce(name, bool, value)
            return value
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                return int(value)
            if int(value) != value:  # 2.5 is no int (NumPy's float32 neither); 2.0 and NumPy's int64 are
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


def boolean(text: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no), as config files and flags write switches.

    Any other text is a ``ConfigError``.

    Parameters
    ----------
    text : str
        The switch's text, in any case.

    Returns
    -------
    bool
        True for ``true``, ``1`` and ``yes``; False for ``false``, ``0`` and ``no``.
    """
    return _coerce("value", bool, text)


def _toml_value(value: Any) -> str:
    if value is None:
        return '"auto"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class ScoreSettings:
    """Sample counts and the regret's optimization, for the anomaly scores (``aevb.scoring``).

    Defaults: K = 100; the regret takes 100 Adam steps at lr 0.01, as Xiao et al.'s code, and estimates its bound with
    64 posterior samples (chosen on in-distribution test data only: two seeds' regrets then correlate at 0.96, against
    0.88 with 16). A count below 1 or a learning rate not > 0 is a ``ConfigError``.

    Parameters
    ----------
    nll_samples : int, default 100
        K, the importance samples of ``nll`` and ``complexity``; >= 1.
    elbo_samples : int, default 64
        Posterior samples of ``elbo``, ``recon`` and the regret's bound; >= 1.
    regret_steps : int, default 100
        Adam steps that fit each datapoint's posterior for the Likelihood Regret; >= 1.
    regret_lr : float, default 0.01
        Their learning rate; > 0.
    batch_size : int, default 500
        Datapoints per batch; >= 1.
    """

    nll_samples: int = 100
    elbo_samples: int = 64
    regret_steps: int = 100
    regret_lr: float = 1e-2
    batch_size: int = 500

    def __post_init__(self) -> None:
        for name in ("nll_samples", "elbo_samples", "regret_steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.regret_lr > 0:
            raise ConfigError(f"regret_lr must be > 0, got {self.regret_lr}")
