"""Auto-Encoding VB (Kingma & Welling 2014, Algorithm 1): one SGVB gradient step per minibatch on the configured
objective (``--objective``, ``--estimator``), for encoder and decoder jointly.

    θ, φ ← θ, φ + Γ(∇_{θ,φ} L̃^M(θ, φ; X^M, ε)),   L̃^M = (N/M) Σ_i L̃(θ, φ; x^(i))

with the loss taken as the minibatch *mean* of −L̃ (so the learning rate does not depend on M), plus the parameter
prior when ``param_prior`` is set. ``compile = true`` compiles the loss (forward and backward) as one graph; the
optimizer step stays a foreach/fused kernel. ``compile_mode = "reduce-overhead"`` replays those graphs as CUDA graphs
on a GPU, where a small model's step is bound by kernel launches rather than arithmetic.
"""

from __future__ import annotations

import torch

from aevb.training.hooks import TrainingRun
from aevb.training.update import Method

CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
"""The compile modes that replay the step as CUDA graphs on a GPU (torch.compile's ``max-autotune`` includes them)."""


class AEVB(Method):
    def __init__(self, run: TrainingRun) -> None:
        super().__init__(run)
        mode = run.config.compile_mode
        self.loss = torch.compile(self._loss, dynamic=False, mode=mode) if run.config.compile else self._loss
        # CUDA graphs reuse their output buffers at each replay: mark each step as a new iteration so the trainer's
        # copy of the last step's bound sum (taken at once, _add_to_epoch) is never read after being overwritten.
        self.graphs = run.config.compile and mode in CUDA_GRAPH_MODES and run.device.type == "cuda"

    def step(self, xb: torch.Tensor, cb: torch.Tensor | None) -> torch.Tensor:
        run = self.run
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        run.objective.step = run.step  # step-dependent objectives (KL warm-up) read it
        loss, bound_sum = self.loss(xb, cb)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        return bound_sum

    def _loss(self, xb: torch.Tensor, cb: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch loss −mean bound (+ parameter prior) and the bound's sum."""
        run = self.run
        with self.autocast():
            bound = run.objective(run.model, xb, cb)
        return self.with_parameter_prior(-bound.mean()), bound.detach().sum()
