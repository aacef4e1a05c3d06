"""Held-out evaluation of a model with bound terms.

The test ELBO (estimator A), an estimate of log p(x) by a registered marginal-likelihood estimator
(``aevb.inference.marginal``), and how the latent space is used.

``log_likelihood`` (importance sampling) lives in ``aevb.inference.importance``; it is re-exported here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from aevb.errors import ConfigError
from aevb.estimators import elbo
from aevb.inference.importance import chunk_pairs, compile_pays, log_likelihood, sample_chunk
from aevb.inference.latents import LatentStats
from aevb.inference.marginal import NLL_ESTIMATORS
from aevb.models.protocols import BoundModel, ClassifyingModel, as_input, is_variational
from aevb.runtime import autocast, fork_rng, fp32_arithmetic, module_device, tune_cpu_allocator

__all__ = ["Evaluation", "chunk_pairs", "evaluate", "log_likelihood", "sample_chunk"]


@dataclass
class Evaluation:
    """Per-datapoint bounds in nats, the result of ``evaluate``.

    ``elbo`` is a lower bound on log p(x) (higher is better); ``nll`` is −log p̂(x) from importance sampling (lower
    is better); standard errors are over datapoints.

    Parameters
    ----------
    elbo : float
        The test ELBO (estimator A), mean over datapoints, nats per datapoint.
    elbo_stderr : float
        Its standard error over datapoints (NaN for a single datapoint).
    nll : float or None
        −log p̂(x), mean over datapoints, nats per datapoint; None when it was not estimated (``nll_samples`` = 0).
    nll_stderr : float or None
        Its standard error over datapoints; None with ``nll``.
    n : int
        The number of datapoints evaluated.
    nll_samples : int
        The samples per datapoint of the ``nll`` estimate (K for importance sampling, L for HMC); 0: none.
    data_dim : int
        The number of values in one datapoint, for the bits per dimension of ``as_dict``.
    reconstruction : float or None, default None
        ``−E_q[log p(x|z)]``, nats per datapoint, lower is better. ELBO = −reconstruction − kl.
    kl : float or None, default None
        ``E_q[log q(z|x) − log p(z)]`` (Monte Carlo with the ELBO's samples, so it covers every model), nats per
        datapoint, lower is better.
    nll_estimator : str, default "is"
        How ``nll`` was estimated: ``"is"`` (importance sampling with q) or ``"hmc"`` (App. D;
        ``aevb.inference.marginal``).
    active_units : int or None, default None
        The number of units u with ``A_u = Var_x(E_q[z_u|x]) > 10⁻²`` (Burda et al. 2015; ``aevb.inference.latents``);
        None for models without a one-layer posterior.
    activity : list of float or None, default None
        ``A_u`` of each latent dimension; None likewise.
    kl_per_dim : list of float or None, default None
        KL(q‖p) per latent dimension averaged over x, nats (diagonal posteriors only; None otherwise).
    compiled : bool, default False
        Whether the importance-sampling chunks ran compiled.
    compile_auto : bool, default False
        Whether that was decided automatically (``compile=None``).
    classification_error : float or None, default None
        Models with a classifier q(y|x) (M2), evaluated on labelled data: the fraction of ``argmax_y q(y|x) ≠ y``;
        None otherwise.
    """

    elbo: float
    elbo_stderr: float
    nll: float | None
    nll_stderr: float | None
    n: int
    nll_samples: int
    data_dim: int
    # ELBO = −reconstruction − kl: reconstruction = −E_q[log p(x|z)], kl = E_q[log q(z|x) − log p(z)] (Monte Carlo
    # with the ELBO's samples, so it covers every model), both nats per datapoint, lower is better.
    reconstruction: float | None = None
    kl: float | None = None
    # How nll was estimated: "is" (importance sampling with q) or "hmc" (App. D; aevb.inference.marginal).
    nll_estimator: str = "is"
    # Burda et al. (2015): units u with A_u = Var_x(E_q[z_u|x]) > 10⁻² (aevb.inference.latents); KL(q‖p) per latent
    # dimension averaged over x, nats (diagonal posteriors only). None for models without a one-layer posterior.
    active_units: int | None = None
    activity: list[float] | None = None
    kl_per_dim: list[float] | None = None
    # Whether the importance-sampling chunks ran compiled, and whether that was decided automatically.
    compiled: bool = False
    compile_auto: bool = False
    # Models with a classifier q(y|x) (M2), evaluated on labelled data: the fraction of argmax_y q(y|x) ≠ y.
    classification_error: float | None = None

    def as_dict(self) -> dict:
        """The fields as a dict, with the units and the bounds in bits per dimension added.

        Returns
        -------
        dict
            Every field, plus ``units`` (a sentence saying what the numbers mean), ``elbo_bits_per_dim`` =
            ``−elbo / (data_dim · ln 2)`` and, when ``nll`` is set, ``nll_bits_per_dim`` = ``nll / (data_dim · ln 2)``.
        """
        out = dict(self.__dict__)
        out["units"] = "nats per datapoint; elbo = lower bound on log p(x) (higher is better), nll = -log p(x)"
        if self.nll is not None:
            out["nll_bits_per_dim"] = self.nll / (self.data_dim * math.log(2))
        out["elbo_bits_per_dim"] = -self.elbo / (self.data_dim * math.log(2))
        return out


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    values = values.double()
    n = values.numel()
    stderr = float(values.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return float(values.mean()), stderr


@torch.no_grad()
def evaluate(
    model: BoundModel,
    x: torch.Tensor,
    *,
    context: torch.Tensor | None = None,
    elbo_samples: int = 1,
    nll_samples: int = 0,
    batch_size: int = 500,
    seed: int | None = 0,
    precision: str = "fp32",
    nll_estimator: str = "is",
    compile: bool | None = None,
) -> Evaluation:
    """Test ELBO and, if ``nll_samples`` > 0, an estimate of log p(x), with how the latent space is used.

    The ELBO by estimator A, which every model supports; log p(x) by ``nll_estimator`` (``"is"``: importance
    sampling with K = ``nll_samples``; ``"hmc"``: App. D with L = ``nll_samples`` posterior samples). Also active
    units and the KL per latent dimension.

    ``precision = "bf16"`` runs the networks under bf16 autocast (log-densities and logsumexp stay fp32);
    ``compile`` compiles the importance-sampling chunks (``log_likelihood``; the IS estimator only); ``None``
    (the default) compiles when the work is large enough to pay for it (datapoints × K ≥
    ``aevb.config.AUTO_COMPILE_PAIRS``), and falls back to eager where compilation fails.
    Runs under a forked RNG seeded with ``seed`` so evaluating never perturbs a training run's random stream, without
    gradients, with the model in eval mode (its mode is restored after). An unknown ``precision`` or
    ``nll_estimator`` is a ``ConfigError`` that lists the allowed ones.

    Parameters
    ----------
    model : BoundModel
        A variational model with bound terms (``terms``).
    x : torch.Tensor
        The held-out data, ``[N, *event_shape]`` (converted to the model's dtype and device).
    context : torch.Tensor or None, default None
        The contexts of a conditional model (e.g. one-hot labels), one row per datapoint; for a model with a
        classifier (M2) also the labels its ``classification_error`` is measured against.
    elbo_samples : int, default 1
        Posterior samples per datapoint of the test ELBO.
    nll_samples : int, default 0
        Samples per datapoint of the log p(x) estimate (K importance samples, or L posterior samples for
        ``"hmc"``); 0: no estimate.
    batch_size : int, default 500
        Datapoints per batch.
    seed : int or None, default 0
        Seed of the forked RNG; None continues from (a copy of) the global random state.
    precision : {"fp32", "tf32", "bf16"}, default "fp32"
        The numeric precision of the networks (``aevb.runtime.autocast``; tf32 is fp32 on a CPU).
    nll_estimator : {"is", "hmc"}, default "is"
        The marginal-likelihood estimator, a name of ``aevb.inference.marginal.NLL_ESTIMATORS``.
    compile : bool or None, default None
        Compile the importance-sampling chunks (True), run them eagerly (False), or decide by the size of the work
        (None).

    Returns
    -------
    Evaluation
        The bounds (nats per datapoint) and statistics of the latent space.

    Raises
    ------
    ConfigError
        If ``compile`` is True with an ``nll_estimator`` other than ``"is"``; if the model is not variational (its
        encoder gives a point, not a density: it has no ELBO or log p(x)); or if it has no variational-bound terms
        to evaluate (e.g. the VQ-VAE, whose held-out metrics are in the run's ``metrics.jsonl``).
    """
    auto = compile is None
    if auto:
        compile = nll_estimator == "is" and nll_samples > 0 and compile_pays(len(x), nll_samples)
    elif compile and nll_estimator != "is":
        raise ConfigError(f"compile applies to the importance-sampling estimator ('is'), not {nll_estimator!r}")
    if isinstance(model, BoundModel) and not is_variational(model):
        raise ConfigError(
            f"{type(model).__name__} is not variational (its encoder gives a point, not a density): it has no ELBO "
            "or log p(x); its reconstruction error per datapoint is `aevb score RUN --score recon`"
        )
    if not isinstance(model, BoundModel):  # e.g. the VQ-VAE: a point-mass posterior, evaluated by its own metrics
        raise ConfigError(
            f"{type(model).__name__} has no variational-bound terms to evaluate; its held-out metrics (reconstruction "
            "NLL, prior bits/dim, ELBO under its prior) are in the run's metrics.jsonl, from model.evaluate_metrics"
        )
    x = as_input(model, x)
    device = module_device(model)
    mixed_precision = autocast(device, precision)  # an unknown precision fails here, before anything runs
    estimate_log_px = NLL_ESTIMATORS.get(nll_estimator)
    was_training = model.training
    model.eval()
    if device.type == "cpu":
        tune_cpu_allocator()
    elbos, lls, recons, wrong = [], [], [], []
    classifies = isinstance(model, ClassifyingModel) and context is not None
    if compile:
        estimate_log_px = functools.partial(estimate_log_px, compile=True)
    stats = LatentStats()
    try:  # the caller's model goes back to its mode even when a batch fails (bad data, out of memory, Ctrl-C)
        with fork_rng(device):
            if seed is not None:
                torch.manual_seed(seed)
            with fp32_arithmetic(device, precision), mixed_precision:
                for start in range(0, x.shape[0], batch_size):
                    xb = x[start : start + batch_size].to(device)
                    cb = None if context is None else context[start : start + batch_size].to(device)
                    terms = model.terms(xb, elbo_samples, cb)
                    elbos.append(elbo(terms, "A").float().cpu())
                    recons.append(-terms.log_likelihood.float().mean(0).cpu())
                    stats.add(terms)
                    if classifies:
                        wrong.append((model.classify(xb).probs.argmax(-1) != cb.argmax(-1)).cpu())
                    if nll_samples:
                        lls.append(estimate_log_px(model, xb, nll_samples, cb).cpu())
    finally:
        model.train(was_training)
    e, e_se = _mean_stderr(torch.cat(elbos))
    nll = nll_se = None
    if nll_samples:
        ll, nll_se = _mean_stderr(torch.cat(lls))
        nll = -ll
    recon = float(torch.cat(recons).double().mean())
    return Evaluation(
        e,
        e_se,
        nll,
        nll_se,
        x.shape[0],
        nll_samples,
        math.prod(model.event_shape),
        reconstruction=recon,
        kl=-e - recon,
        nll_estimator=nll_estimator,
        compiled=bool(compile and nll_samples),
        compile_auto=auto,
        classification_error=float(torch.cat(wrong).float().mean()) if wrong else None,
        **stats.as_dict(),
    )
