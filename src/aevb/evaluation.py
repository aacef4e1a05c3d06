"""Held-out evaluation: test ELBO and the importance-sampled marginal likelihood, for any model with ``terms``.

log p(x) ≈ log (1/K) Σ_k p(x, z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al. 2015, eq. 11; Rezende et al. 2014) — the
IWAE bound with a large K, which tends to log p(x) as K → ∞. Evaluated over chunks of samples and datapoints so
memory stays bounded, combining chunks with ``logsumexp`` in fp32.
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass

import torch
from torch import nn

from aevb.config import PRECISIONS
from aevb.errors import ConfigError
from aevb.estimators import elbo
from aevb.runtime import tune_cpu_allocator

# Bytes one chunk's decoder output may take. Small enough to stay in the last-level cache and below the allocator's
# mmap threshold, so the elementwise passes after the GEMM hit cache and freed blocks are reused instead of being
# unmapped and page-faulted back in on every chunk (a 256 MiB budget spent ~40 % of the time in the kernel).
DEFAULT_MEMORY_BUDGET = 8 * 2**20


def _floats_per_pair(model: nn.Module) -> int:
    """Floats of the largest activation one (sample, datapoint) pair makes: the decoder's output parameters."""
    n_params = getattr(getattr(getattr(model, "decoder", None), "family", None), "n_params", 2)
    return max(n_params * math.prod(model.event_shape), 1)


def chunk_pairs(model: nn.Module, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """How many (sample, datapoint) pairs one decoder call takes: its output within ``budget`` bytes."""
    return max(1, budget // (4 * _floats_per_pair(model)))


def sample_chunk(model: nn.Module, batch: int, num_samples: int, budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """How many posterior samples per chunk keep ``batch × chunk`` decoder outputs within ``budget`` bytes."""
    return max(1, min(num_samples, chunk_pairs(model, budget) // max(batch, 1)))


def _reuses_posterior(model: nn.Module) -> bool:
    """Models whose ``terms`` accepts a precomputed ``posterior`` get encoded once per datapoint block."""
    try:
        return hasattr(model, "encode") and "posterior" in inspect.signature(model.terms).parameters
    except (TypeError, ValueError):
        return False


def _chunk_log_weights(
    model: nn.Module, x: torch.Tensor, samples: int, context: torch.Tensor | None, **kwargs
) -> torch.Tensor:
    """logsumexp_k log w_k over one chunk of ``samples`` proposals per datapoint, ``[B]``, in fp32."""
    return torch.logsumexp(model.terms(x, samples, context, **kwargs).log_weight.float(), dim=0)


@functools.cache
def _compiled_chunk():
    """:func:`_chunk_log_weights` compiled once per process; dynamo caches a graph per model and chunk shape (the
    last, shorter chunk of samples and block of datapoints get one more, with dynamic sizes)."""
    return torch.compile(_chunk_log_weights)


@torch.no_grad()
def log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    num_samples: int = 5000,
    context: torch.Tensor | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    compile: bool = False,
) -> torch.Tensor:
    """Importance-sampled log p(x) per datapoint of ``x``, ``[B]``, with K = ``num_samples`` proposals from q.

    log p̂(x) = logsumexp_k(log w_k) − log K. The (K × B) pairs are cut into chunks of about
    :func:`chunk_pairs` pairs: each chunk is one ``model.terms`` call whose decoder runs one large GEMM over
    (samples × datapoints) flattened; q_φ(z|x) is computed once per block of datapoints and reused by all its
    chunks when the model allows (``terms(..., posterior=q)``). Each chunk is reduced by ``logsumexp`` in fp32 and the
    chunk results are combined by a running ``logaddexp``, so the estimate is the same in distribution for any
    chunking and memory does not grow with K.

    ``compile = True`` runs each chunk through ``torch.compile``: the decoder's bias, the likelihood's log-density
    and its sum over pixels become one pass over the chunk after the GEMM, instead of three or four (1.3-1.5x faster
    for the 784-400-20 MLP on one CPU thread). It costs a compilation of some seconds per model and chunk shape, so it
    pays for large evaluations (K in the thousands over a test set), not small ones. The compiled chunk draws its
    ε with inductor's generator: the same distribution and seed-determined, not the same numbers as eager.
    """
    pairs = chunk_pairs(model, memory_budget)
    block = max(1, min(x.shape[0], pairs))  # datapoints per block: at least one sample of each fits a chunk
    reuse = _reuses_posterior(model)
    run_chunk = _compiled_chunk() if compile else _chunk_log_weights
    out = []
    for start in range(0, x.shape[0], block):
        xb = x[start : start + block]
        cb = None if context is None else context[start : start + block]
        kwargs = {"posterior": model.encode(xb, cb)} if reuse else {}
        chunk = sample_chunk(model, xb.shape[0], num_samples, memory_budget)
        # A running log-sum-exp, so nothing of a chunk outlives the next one: with compiled chunks, keeping every
        # chunk's small [B] result (a list) stopped the allocator from reusing the freed 8 MiB work buffers around
        # them, ~6 MB per chunk, and the 10 000-point test set at K = 5000 was killed at 24 GB.
        total = None
        for done in range(0, num_samples, chunk):
            part = run_chunk(model, xb, min(chunk, num_samples - done), cb, **kwargs)
            total = part if total is None else torch.logaddexp(total, part)
        out.append(total - math.log(num_samples))
    return torch.cat(out)


@dataclass
class Evaluation:
    """Per-datapoint bounds in nats. ``elbo`` is a lower bound on log p(x) (higher is better); ``nll`` is
    −log p̂(x) from importance sampling (lower is better); standard errors are over datapoints."""

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

    def as_dict(self) -> dict:
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
    model: nn.Module,
    x: torch.Tensor,
    *,
    context: torch.Tensor | None = None,
    elbo_samples: int = 1,
    nll_samples: int = 0,
    batch_size: int = 500,
    seed: int | None = 0,
    precision: str = "fp32",
    nll_estimator: str = "is",
    compile: bool = False,
) -> Evaluation:
    """Test ELBO (estimator A, which every model supports) and, if ``nll_samples`` > 0, an estimate of log p(x) by
    ``nll_estimator`` (``"is"``: importance sampling with K = ``nll_samples``; ``"hmc"``: App. D with L =
    ``nll_samples`` posterior samples). Also active units and the KL per latent dimension.

    ``precision = "bf16"`` runs the networks under bf16 autocast (log-densities and logsumexp stay fp32);
    ``compile`` compiles the importance-sampling chunks (:func:`log_likelihood`; the IS estimator only).
    Runs under a forked RNG seeded with ``seed`` so evaluating never perturbs a training run's random stream.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision = {precision!r} is not allowed; choose one of: {', '.join(PRECISIONS)}")
    if compile and nll_estimator != "is":
        raise ConfigError(f"compile applies to the importance-sampling estimator ('is'), not {nll_estimator!r}")
    if not hasattr(model, "terms"):  # e.g. the VQ-VAE: a point-mass posterior, evaluated by its own metrics
        raise ConfigError(
            f"{type(model).__name__} has no variational-bound terms to evaluate; its held-out metrics (reconstruction "
            "NLL, prior bits/dim, ELBO under its prior) are in the run's metrics.jsonl, from model.evaluate_metrics"
        )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if device.type == "cpu":
        tune_cpu_allocator()
    from aevb.inference.latents import LatentStats
    from aevb.inference.marginal import NLL_ESTIMATORS  # imports this module: looked up here, not at import

    elbos, lls, recons = [], [], []
    estimate_log_px = NLL_ESTIMATORS.get(nll_estimator)
    if compile:
        estimate_log_px = functools.partial(estimate_log_px, compile=True)
    stats = LatentStats()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            for start in range(0, x.shape[0], batch_size):
                xb = x[start : start + batch_size].to(device)
                cb = None if context is None else context[start : start + batch_size].to(device)
                terms = model.terms(xb, elbo_samples, cb)
                elbos.append(elbo(terms, "A").float().cpu())
                recons.append(-terms.log_likelihood.float().mean(0).cpu())
                stats.add(terms)
                if nll_samples:
                    lls.append(estimate_log_px(model, xb, nll_samples, cb).cpu())
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
        **stats.as_dict(),
    )
