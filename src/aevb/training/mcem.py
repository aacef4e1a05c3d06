"""Monte Carlo EM (Kingma & Welling 2014, App. E): the baseline of Fig. 3, which learns the decoder only.

E-step: one Hybrid Monte Carlo transition (10 leapfrog steps, step size adapted towards 90 % acceptance) on the
posterior p_θ(z|x) of each datapoint in the minibatch; M-step: 5 gradient steps on log p(z) + log p_θ(x|z) at the
sampled z. The chains persist across epochs, one per training datapoint, each with its own step size (posterior
widths differ a lot between datapoints; one shared step size leaves the narrow ones rejecting every move); chains
and step sizes are part of the checkpoint, so each E-step continues where that datapoint's chain stopped — a
stochastic, persistent-chain form of MCEM.

No recognition model is learned: the logged training metric is ``train_log_joint``, the mean log p_θ(x, z) at the
posterior samples (not a bound on log p(x)), and encoder-based metrics (test ELBO, …) are dropped from the log. Its
marginal likelihood is measured with :func:`aevb.inference.marginal.hmc_log_likelihood`.
"""

from __future__ import annotations

from typing import Any

import torch

from aevb.inference.hmc import adapt_step_size, hmc_step, log_joint
from aevb.training.hooks import TrainingRun
from aevb.training.update import Method


class MCEM(Method):
    trains_encoder = False
    data_parallel = False  # one persistent chain per datapoint: each rank would update only its own rows
    n_leapfrog = 10  # App. E
    weight_updates = 5  # App. E: decoder updates per posterior sample
    target_accept = 0.9  # App. E: step size tuned for 90 % acceptance
    adapt_rate = 0.2  # per visit of a datapoint, i.e. once per epoch
    initial_step_size = 0.05

    def __init__(self, run: TrainingRun) -> None:
        super().__init__(run)
        self.chains: torch.Tensor | None = None  # [N, D]; drawn from the prior at the first step (inside fit's RNG)
        self.step_size = torch.full((run.x.shape[0],), self.initial_step_size)  # [N]

    def state_dict(self) -> dict[str, Any]:
        return {"chains": self.chains, "step_size": self.step_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.chains = state["chains"]
            self.step_size = state["step_size"]

    def _init_chains(self) -> torch.Tensor:
        t = self.run
        prior = t.model.prior_distribution(t.context)
        return (prior.sample() if t.context is not None else prior.sample((t.x.shape[0],))).float()

    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        t = self.run
        if self.chains is None:
            self.chains = self._init_chains()
        self.chains = self.chains.to(t.device)
        self.step_size = self.step_size.to(t.device)
        rows = t.batch_rows.to(t.device)
        # E-step: one HMC transition per datapoint's persistent chain.
        with self.autocast():
            target = log_joint(t.model, xb, cb)
            eps = self.step_size[rows]
            trans = hmc_step(target, self.chains[rows].unsqueeze(0), eps, self.n_leapfrog)
        self.step_size[rows] = adapt_step_size(eps, trans.accept_prob, self.target_accept, self.adapt_rate)
        z = trans.z[0].detach()
        self.chains[rows] = z
        # M-step: a few decoder updates at the sampled z.
        logged = trans.log_prob[0].float().sum()
        for _ in range(self.weight_updates):
            with self.autocast():
                objective = log_joint(t.model, xb, cb)(z)
            self.apply(-objective.mean())
        return logged

    def on_epoch_end(self, run: TrainingRun, record: dict[str, Any]) -> None:
        record["train_log_joint"] = record.pop("train_bound")
        # The trainer logs no encoder metrics for MCEM (trains_encoder = False): nothing else to drop.
        record["hmc_step_size"] = float(self.step_size.median())  # median over training points
