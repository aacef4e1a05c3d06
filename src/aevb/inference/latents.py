"""How the latent space is used: active units (Burda et al. 2015, §5.2) and the KL per latent dimension.

Both read the posterior q_φ(z|x) and prior p(z) that a model's :class:`~aevb.estimators.Terms` carries, so they apply
to every model with a one-layer posterior; models without one (``Terms.posterior is None``) report none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from aevb.errors import ConfigError
from aevb.estimators import Terms

# Burda et al. (2015): unit u is active if A_u = Cov_x(E_q[z_u | x]) > 10⁻².
ACTIVITY_THRESHOLD = 1e-2


@dataclass
class LatentStats:
    """Accumulates posterior means and per-dimension KLs over batches of :class:`Terms`."""

    threshold: float = ACTIVITY_THRESHOLD
    means: list[torch.Tensor] = field(default_factory=list)
    kls: list[torch.Tensor] = field(default_factory=list)
    supported: bool = True

    def add(self, terms: Terms) -> None:
        q = terms.posterior
        if q is None or not self.supported:
            self.supported = False
            return
        try:
            mean = q.mean
        except NotImplementedError:  # e.g. a flow posterior: E_q[z] has no closed form
            self.supported = False
            return
        self.means.append(mean.detach().float().reshape(-1, q.event_shape[-1]).cpu())
        try:  # analytic, for diagonal Gaussian posterior and prior (App. B, per dimension)
            kl = terms.kl_per_dim()
        except ConfigError:  # the KL of a full-covariance or flow posterior does not split over dimensions
            return
        self.kls.append(kl.detach().float().reshape(-1, kl.shape[-1]).cpu())

    def activity(self) -> torch.Tensor | None:
        """A_u = Var_x(E_q[z_u|x]) per dimension ``[D]`` (the diagonal of Cov_x; unbiased)."""
        if not self.supported or not self.means:
            return None
        means = torch.cat(self.means).double()
        return means.var(0, unbiased=True) if means.shape[0] > 1 else torch.zeros(means.shape[1])

    def as_dict(self) -> dict:
        """``active_units`` (count), ``activity`` (A_u per dim) and ``kl_per_dim`` (mean over x, nats; ``None``
        for non-diagonal posteriors). Keys are ``None`` when the model has no single-layer posterior."""
        act = self.activity()
        kl = torch.cat(self.kls).double().mean(0) if self.kls and len(self.kls) == len(self.means) else None
        return {
            "active_units": None if act is None else int((act > self.threshold).sum()),
            "activity": None if act is None else act.tolist(),
            "kl_per_dim": None if kl is None else kl.tolist(),
        }
