"""Anomaly scores per datapoint: how unlikely each input is under a trained model (higher = more anomalous).

Every score is a function of (model, x) registered in :data:`SCORES`; :func:`score` computes several at once and
shares what they have in common (the importance-sampled log p(x) of ``nll`` and ``complexity``):

- ``nll``: −log p̂(x), importance sampling with K = ``nll_samples`` proposals from q
  (:func:`aevb.inference.importance.log_likelihood`, the path ``aevb evaluate`` uses), nats.
- ``elbo``: −ELBO(x) (estimator B where the KL is analytic, else A; ``elbo_samples`` posterior samples), nats.
- ``recon``: −E_q[log p(x|z)], the reconstruction term alone, nats.
- ``regret``: Likelihood Regret (Xiao, Yan & Amit, NeurIPS 2020), ELBO(x; φ*(x)) − ELBO(x; φ): how much the bound of
  one input improves when its posterior is fitted to it alone. Here the posterior's parameters (the encoder's output
  for x) are the free variables, optimized by Adam for ``regret_steps`` steps on the ELBO of each datapoint — all
  datapoints of a batch at once, each with its own parameters (Xiao et al. fine-tune a copy of the whole encoder per
  input). In-distribution inputs are already well encoded (small regret); inputs the encoder never saw gain more.
- ``complexity``: the input-complexity correction (Serrà et al., ICLR 2020), S(x) = −log₂ p̂(x) − L(x) bits, with L(x)
  the length in bits of a lossless compression of x: PNG (Pillow, compression level 9) of the 8-bit image for image
  data, zlib (level 9) of the float32 bytes for other data.
"""

from __future__ import annotations

import io
import math
import zlib

import numpy as np
import torch
from PIL import Image

from aevb.config import ScoreSettings
from aevb.data import check_data
from aevb.errors import ConfigError
from aevb.estimators import Terms, elbo
from aevb.inference.importance import log_likelihood
from aevb.models.protocols import BoundModel, as_input, is_variational
from aevb.names import DEFAULT_SCORE
from aevb.plots.png import shows_as_images, to_images
from aevb.registry import Registry
from aevb.runtime import fork_rng

# name → (model, x [B, ...], context, settings, cache) → score [B]; higher = more anomalous.
SCORES: Registry = Registry("anomaly score")


def _bound(terms: Terms) -> torch.Tensor:
    """The ELBO per datapoint: estimator B (analytic KL) where the model has one, else A."""
    return elbo(terms, "B" if terms.posterior is not None and _has_analytic_kl(terms) else "A")


def _has_analytic_kl(terms: Terms) -> bool:
    try:
        terms.kl()
    except ConfigError:
        return False
    return True


def _terms(model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict) -> Terms:
    """One draw of ``elbo_samples`` posterior samples shared by ``elbo`` and ``recon``, so −ELBO = recon + KL holds
    exactly between the two columns."""
    if "terms" not in cache:
        with torch.no_grad():
            cache["terms"] = model.terms(x, s.elbo_samples, c)
    return cache["terms"]


def _nll(model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict) -> torch.Tensor:
    if "nll" not in cache:
        cache["nll"] = -log_likelihood(model, x, s.nll_samples, c)
    return cache["nll"]


@SCORES.register("nll")
def nll_score(
    model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict
) -> torch.Tensor:
    """−log p̂(x) in nats (importance sampling, K = ``nll_samples``)."""
    return _nll(model, x, c, s, cache)


@SCORES.register("elbo")
@torch.no_grad()
def elbo_score(
    model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict
) -> torch.Tensor:
    """−ELBO(x) in nats."""
    return -_bound(_terms(model, x, c, s, cache))


@SCORES.register("recon")
@torch.no_grad()
def recon_score(
    model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict
) -> torch.Tensor:
    """−E_q[log p(x|z)] in nats."""
    return -_terms(model, x, c, s, cache).log_likelihood.mean(0)


@SCORES.register("regret")
def regret_score(
    model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict
) -> torch.Tensor:
    """Likelihood Regret ELBO(x; fitted posterior) − ELBO(x; encoder), nats (clamped at 0: a fit that did not improve
    the bound is no evidence)."""
    encoder = model.encoder
    # Common random numbers: the bound before and after the fit is estimated with the same ε, so the difference
    # measures the change of q and not two independent Monte Carlo errors (on in-distribution data this cut the
    # regret's noise several-fold at equal cost).
    noise_seed = int(torch.randint(2**62, ()))

    def bound_at(raw: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), fork_rng(x.device):
            torch.manual_seed(noise_seed)
            return _bound(model.terms(x, s.elbo_samples, c, posterior=encoder.family(raw)))

    with torch.no_grad():
        raw = encoder.net(x, c).float()
    before = bound_at(raw)
    raw = raw.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([raw], lr=s.regret_lr)
    for _ in range(s.regret_steps):
        # Datapoints are independent given θ, so the gradient of the summed bound is each one's own gradient.
        loss = -_bound(model.terms(x, 1, c, posterior=encoder.family(raw))).sum()
        (grad,) = torch.autograd.grad(loss, [raw])  # θ gets no gradient: only the posterior is fitted
        raw.grad = grad
        optimizer.step()
    return (bound_at(raw.detach()) - before).clamp_min(0.0)


def compressed_bits(x: torch.Tensor, event_shape: tuple[int, ...]) -> torch.Tensor:
    """L(x) in bits per datapoint: PNG (Pillow, level 9) of 8-bit images, or zlib (level 9) of float32 bytes."""
    bits = []
    if shows_as_images(event_shape):
        pixels = (to_images(x, event_shape).clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for image in pixels:
            buffer = io.BytesIO()
            mode = "L" if image.shape[2] == 1 else "RGB"
            Image.fromarray(image[:, :, 0] if mode == "L" else image, mode=mode).save(
                buffer, format="PNG", compress_level=9
            )
            bits.append(8 * buffer.getbuffer().nbytes)
    else:
        for row in x.detach().float().cpu().numpy():
            bits.append(8 * len(zlib.compress(np.ascontiguousarray(row).tobytes(), 9)))
    return torch.tensor(bits, dtype=torch.float32)


@SCORES.register("complexity")
def complexity_score(
    model: BoundModel, x: torch.Tensor, c: torch.Tensor | None, s: ScoreSettings, cache: dict
) -> torch.Tensor:
    """S(x) = −log₂ p̂(x) − L(x), bits (Serrà et al. 2020)."""
    nll_bits = _nll(model, x, c, s, cache) / math.log(2)
    return nll_bits - compressed_bits(x, model.event_shape).to(nll_bits.device)


def score(
    model: BoundModel,
    x: torch.Tensor | np.ndarray,
    kinds: tuple[str, ...] | list[str] = (DEFAULT_SCORE,),
    *,
    context: torch.Tensor | None = None,
    settings: ScoreSettings | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Scores ``kinds`` (names in :data:`SCORES`) of every datapoint of ``x``: ``{name: [N] tensor}``, higher = more
    anomalous, under a forked RNG seeded with ``seed``. ``x``: a tensor or NumPy array ``[N, *event_shape]``."""
    if not isinstance(model, BoundModel):
        raise ConfigError(f"{type(model).__name__} has no variational bound to score with")
    settings = settings or ScoreSettings()
    functions = {name: SCORES.get(name) for name in kinds}  # an unknown name fails before any work
    if not is_variational(model) and set(kinds) - {"recon"}:
        raise ConfigError(
            f"{type(model).__name__} is not variational: it has no likelihood or bound to score with, so only recon "
            f"applies (asked for {', '.join(kinds)}; the default score is {DEFAULT_SCORE}): pass --score recon"
        )
    x = as_input(model, x)
    check_data(x, support=model.decoder.family.support, name="x")  # finite (rows named) and in the family's range
    was_training = model.training
    model.eval()
    out: dict[str, list[torch.Tensor]] = {name: [] for name in functions}
    try:
        with fork_rng(x.device):
            torch.manual_seed(seed)
            for start in range(0, x.shape[0], settings.batch_size):
                xb = x[start : start + settings.batch_size]
                cb = None if context is None else context[start : start + settings.batch_size].to(x.device)
                cache: dict = {}
                for name, function in functions.items():
                    out[name].append(function(model, xb, cb, settings, cache).detach().float().cpu())
    finally:
        model.train(was_training)
    return {name: torch.cat(parts) for name, parts in out.items()}
