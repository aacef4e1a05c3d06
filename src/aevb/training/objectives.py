"""Training objectives: each maps (model, x) to a per-datapoint lower bound ``[B]`` that training maximizes.

They only choose which estimator of :mod:`aevb.estimators` to apply to the model's :class:`~aevb.estimators.Terms`;
the bounds themselves are written once, there. Registered in :data:`OBJECTIVES`: ``elbo``, ``iwae`` and ``vqvae``
(van den Oord et al.'s loss, :mod:`aevb.training.vq`, which also fits the VQ-VAE's prior after training).
"""

from __future__ import annotations

import torch
from torch import nn

from aevb.config import TrainConfig
from aevb.errors import ConfigError
from aevb.estimators import elbo, iwae_bound
from aevb.models.ae import AutoEncoder
from aevb.models.m2 import M2
from aevb.registry import Registry
from aevb.training.hooks import Hooks, TrainingRun
from aevb.training.vq import VQVAEObjective

OBJECTIVES: Registry = Registry("objective")


@OBJECTIVES.register("elbo")
class ELBOObjective(Hooks):
    """SGVB: the (β-weighted) ELBO with L = ``samples`` draws per datapoint, estimator A or B.

    β-VAE options (Higgins et al. 2017; Bowman et al. 2016; Kingma et al. 2016), shared by every model:
    KL warm-up β_t = β · min(1, t / ``warmup_steps``) at optimizer step t (the trainer sets :attr:`step` before each
    step), and free bits λ = ``free_bits`` nats per latent dimension (:func:`aevb.estimators.free_bits_kl`).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples
        self.estimator = config.estimator
        self.beta = config.beta
        self.warmup_steps = config.warmup_steps
        self.free_bits = config.free_bits
        # β = 1 without warm-up or free bits is the ELBO itself; anything else trains another objective.
        self.is_bound = self.beta == 1.0 and not self.warmup_steps and not self.free_bits
        if self.free_bits > 0 and self.estimator != "B":
            raise ConfigError("free_bits needs the per-dimension analytic KL of estimator B; use --estimator B")
        self.step = 0  # optimizer steps taken so far; set by the trainer

    def current_beta(self) -> float:
        """β at the current step: the linear warm-up from 0, then the configured β."""
        if self.warmup_steps <= 0:
            return self.beta
        return self.beta * min(1.0, self.step / self.warmup_steps)

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        terms = model.terms(x, self.num_samples, context)
        return elbo(terms, self.estimator, self.current_beta(), self.free_bits)


@OBJECTIVES.register("iwae")
class IWAEObjective(Hooks):
    """The importance-weighted bound L_k with k = ``samples`` (Burda et al. 2015)."""

    is_bound = True  # whether the logged train_bound is a lower bound on log p(x)

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples
        if config.warmup_steps or config.free_bits or config.beta != 1.0:
            # L_k weighs whole importance weights; there is no separate KL term to anneal, weigh or floor.
            raise ConfigError("beta, warmup_steps and free_bits apply to --objective elbo only, not iwae")

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return iwae_bound(model.terms(x, self.num_samples, context))


@OBJECTIVES.register("m2")
class M2Objective(Hooks):
    """Kingma et al. (2014) eq. 9, J^α = Σ_labelled [−L(x, y) + α log q_φ(y|x)] + Σ_unlabelled −U(x)
    (:class:`aevb.models.m2.M2`), with α = ``m2_alpha`` · N (the paper: 0.1 · N, N the training-set size), divided by
    N so that it is per datapoint. Not a bound on log p(x) (α > 0).

    Estimated per step as (N_u/N) · mean over the minibatch's unlabelled points of −U(x) + (N_l/N) · mean over a
    labelled minibatch of −L(x, y) + α log q(y|x). With ``m2_labelled_batch`` = M > 0 that labelled minibatch is M
    points drawn (with replacement, from the global RNG the trainer checkpoints) from the labelled set at every step,
    as semi-supervised implementations commonly do: with 100 labels among 60,000, a random minibatch of 100 holds 0.17
    labelled points. With M = 0 it is the minibatch's own labelled points (the literal estimate). Each row of the
    result carries its share, so the mean over the minibatch is the estimate above.
    """

    is_bound = False

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples
        self.alpha_per_n = config.m2_alpha
        self.labelled_batch = config.m2_labelled_batch
        if config.estimator != "B" or config.beta != 1.0 or config.warmup_steps or config.free_bits:
            raise ConfigError("objective m2 uses estimator B without beta, warm-up or free bits; leave them unset")

    def bind(self, run: TrainingRun) -> None:
        if not isinstance(run.model, M2):
            raise ConfigError(f"objective m2 trains model m2; this model is {type(run.model).__name__}")
        if run.context is None:
            raise ConfigError("objective m2 needs labelled data (labels_per_class / labeled hide all but some)")
        rows = run.context.sum(-1) > 0
        self.n, self.n_labelled = run.x.shape[0], int(rows.sum())
        if self.n_labelled == 0:
            raise ConfigError("objective m2 found no labelled training point")
        self.alpha = self.alpha_per_n * self.n
        # The context lives on the device; the data may not (a set too large to keep there stays on the CPU).
        # The labelled rows are few, so they are kept on the device either way.
        host_rows, device = rows.to(run.x.device), rows.device
        self.labelled_x, self.labelled_c = run.x[host_rows].to(device), run.context[rows]
        # The labelled minibatch gets the per-batch transform the trainer's minibatches get (a fresh draw of M1's
        # posterior for M1+M2 on draws, a Bernoulli draw for dynamically binarized data), from the global RNG.
        self.labelled_scale = None if run.x_scale is None else run.x_scale[host_rows].to(device)
        self.transform = run.train_data.transform_batch

    def _labelled(self, model: M2, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """−L(x, y) + α log q(y|x) per labelled datapoint."""
        log_q = model.classify(x).log_prob(c.argmax(-1))
        return model.labelled_bound(x, c, self.num_samples) + self.alpha * log_q

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        labelled = context.sum(-1) > 0
        out = torch.zeros(b, device=x.device)
        if not self.labelled_batch:  # the literal estimate: each row is its own term of J^α / N
            if labelled.any():
                out[labelled] = self._labelled(model, x[labelled], context[labelled])
            if not labelled.all():
                out[~labelled] = model.unlabelled_bound(x[~labelled], self.num_samples)
            return out
        n_u = self.n - self.n_labelled
        if not labelled.all() and n_u:
            u = ~labelled
            out[u] = model.unlabelled_bound(x[u], self.num_samples) * (n_u / self.n) * (b / int(u.sum()))
        pick = torch.randint(self.n_labelled, (self.labelled_batch,), device=self.labelled_x.device)
        scale = None if self.labelled_scale is None else self.labelled_scale[pick]
        xl = self.transform(self.labelled_x[pick], None, scale)
        labelled_mean = self._labelled(model, xl, self.labelled_c[pick]).mean()
        return out + labelled_mean * (self.n_labelled / self.n)


@OBJECTIVES.register("reconstruction")
class ReconstructionObjective(Hooks):
    """The reconstruction term alone, E_q[log p(x|z)] with L = ``samples`` draws (the lecture's "reconstruction
    only"; for the plain autoencoder, log p(x|z = f(x))). Not a bound on log p(x). After training it fits the
    autoencoder's sampling Gaussian to the training codes (``TermsLogger`` logs ``test_recon`` per epoch)."""

    is_bound = False  # whether the logged train_bound is a lower bound on log p(x)

    def __init__(self, config: TrainConfig) -> None:
        self.num_samples = config.samples
        if config.warmup_steps or config.free_bits or config.beta != 1.0:
            raise ConfigError("beta, warmup_steps and free_bits weigh the KL; objective reconstruction has none")

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return model.terms(x, self.num_samples, context).log_likelihood.mean(0)

    def after_fit(self, run: TrainingRun) -> None:
        if isinstance(run.model, AutoEncoder):
            run.model.fit_prior(run.x)


@OBJECTIVES.register("kl")
class KLObjective(Hooks):
    """−KL(q(z|x) ‖ p(z)) alone (analytic, App. B): the lecture's "KL only" panel, where every code collapses onto
    the prior and the decoder learns nothing. Not a bound on log p(x)."""

    is_bound = False  # whether the logged train_bound is a lower bound on log p(x)

    def __init__(self, config: TrainConfig) -> None:
        if config.warmup_steps or config.free_bits or config.beta != 1.0 or config.estimator != "B":
            raise ConfigError("objective kl is the analytic KL alone: leave beta, warmup_steps, free_bits, estimator B")

    def __call__(self, model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return -model.terms(x, 1, context).kl()


OBJECTIVES.register("vqvae")(VQVAEObjective)
