"""Deterministic networks shared by encoders and decoders."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from aevb.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,  # the paper's choice (Kingma & Welling 2014, App. C)
    "relu": nn.ReLU,  # pytorch/examples vae/main.py
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}


def activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; choose one of: {', '.join(sorted(ACTIVATIONS))}") from None


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, act: str) -> nn.Sequential:
    """``in_dim → hidden[0] → … → hidden[-1] → out_dim`` with ``act`` after every hidden layer (none at the end)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation(act)]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


@torch.no_grad()
def init_normal_(module: nn.Module, std: float) -> None:
    """The paper's initialization: every weight and bias drawn from N(0, std²) (App. C uses std 0.01)."""
    for p in module.parameters():
        p.normal_(0.0, std)


@torch.no_grad()
def init_glorot_(module: nn.Module) -> None:
    """Glorot & Bengio (2010): every linear and convolution weight ~ U(±√(6 / (fan_in + fan_out))), biases 0 — the
    tanh initialization of Burda et al.'s IWAE code."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                m.bias.zero_()


# ModelConfig.init: name → initializer applied to a freshly built model ("pytorch": the layers' own defaults).
# init_std > 0 (the paper's N(0, σ²)) takes precedence; the config rejects it combined with another init.
INITS: dict[str, Callable[[nn.Module], None]] = {"pytorch": lambda module: None, "glorot": init_glorot_}


def initialize_(model: nn.Module, init: str, init_std: float = 0.0) -> nn.Module:
    """Apply a model config's initialization to a freshly built ``model``: N(0, init_std²) when ``init_std`` > 0,
    else ``INITS[init]``."""
    if init not in INITS:
        raise ConfigError(f"init = {init!r} is not allowed; choose one of: {', '.join(INITS)}")
    if init_std > 0:
        init_normal_(model, init_std)
    else:
        INITS[init](model)
    return model


class MLPNet(nn.Module):
    """Flattens the trailing ``in_shape`` dims of its input (and appends an optional context vector), then an MLP.

    Used for every fully connected encoder and decoder: the output has ``out_dim`` features, which a distribution
    family (:mod:`aevb.posteriors`, :mod:`aevb.likelihoods`) turns into distribution parameters.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        hidden: Sequence[int],
        out_dim: int,
        act: str,
        context_dim: int = 0,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.context_dim = context_dim
        in_dim = int(torch.tensor(self.in_shape).prod()) if self.in_shape else 1
        self.net = mlp(in_dim + context_dim, hidden, out_dim, act)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = x.flatten(start_dim=x.dim() - len(self.in_shape)) if self.in_shape else x.unsqueeze(-1)
        if self.context_dim:
            if context is None:
                raise ValueError("this network is conditional: pass a context (e.g. one-hot labels)")
            # The context has batch dims of its own; broadcast it over leading sample dims of x.
            context = context.to(x.dtype).expand(*x.shape[:-1], context.shape[-1])
            x = torch.cat([x, context], dim=-1)
        return self.net(x)
