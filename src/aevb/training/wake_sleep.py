"""The Wake-Sleep algorithm (Hinton, Dayan, Frey & Neal 1995) with the same encoder and decoder as AEVB.

The baseline of Kingma & Welling (2014) Fig. 2. Each minibatch makes one update of both phases:

- wake: z ~ q_φ(z|x) for the data (no gradient to φ); θ ← θ + ∇_θ [log p(z) + log p_θ(x|z)];
- sleep: dream (z, x) ~ p(z) p_θ(x|z) (no gradient to θ); φ ← φ + ∇_φ log q_φ(z|x).

The two losses touch disjoint parameters, so one optimizer step on their sum is the two phase updates. The logged
``train_bound`` is the ELBO estimator A, log p(x, z) − log q(z|x) at the wake sample: the same lower bound AEVB logs.
"""

from __future__ import annotations

import torch

from aevb.training.update import Method


class WakeSleep(Method):
    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        model = self.run.model
        with self.autocast():
            # Wake: the recognition model proposes z for real data; only the generative model learns from it.
            with torch.no_grad():
                q = model.encode(xb, cb)
                z = q.sample()
                log_q = q.log_prob(z)
            prior = model.prior_distribution(cb)
            log_joint = prior.log_prob(z) + model.decode(z, cb).log_prob(xb)  # log p(z) + log p_θ(x|z), [B]
            # Sleep: the generative model dreams (z, x); only the recognition model learns to invert it.
            with torch.no_grad():
                z_dream = prior.sample((xb.shape[0],)) if cb is None else prior.sample()
                x_dream = model.decode(z_dream, cb).sample()
            log_q_dream = model.encode(x_dream, cb).log_prob(z_dream)  # log q_φ(z|x) on dreams, [B]
        self.apply(-(log_joint.mean() + log_q_dream.mean()))
        return (log_joint.detach() - log_q).float().sum()
