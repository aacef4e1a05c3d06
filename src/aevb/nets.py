"""Deterministic networks shared by encoders and decoders."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aevb.data.scaling import standardization
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


def conditional_linear(
    layer: nn.Linear, h: torch.Tensor, context: torch.Tensor | None, context_dim: int
) -> torch.Tensor:
    """``layer`` applied to the concatenation ``[h, context]`` without building it: h W_hᵀ + b + context W_cᵀ, the
    two products broadcast against each other.

    A context with batch dims of its own then costs h's product once: M2's unlabelled bound pairs every datapoint
    with every label (h ``[1, B, ·]``, context ``[C, B, C]``) and the encoder's first layer, its largest, runs on
    x once instead of C times. ``context_dim`` = 0: a plain ``layer(h)``.
    """
    if not context_dim:
        return layer(h)
    if context is None:
        raise ValueError("this network is conditional: pass a context (e.g. one-hot labels)")
    w_h, w_c = layer.weight.split([layer.in_features - context_dim, context_dim], dim=1)
    return F.linear(h, w_h, layer.bias) + F.linear(context.to(h.dtype), w_c)


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
        if not self.context_dim:
            return self.net(x)
        # x and the context broadcast against each other's batch dims (posterior samples; M2's every-label pass).
        layers = iter(self.net)  # (not self.net[1:]: slicing builds a new Sequential on every call)
        h = conditional_linear(next(layers), x, context, self.context_dim)
        for layer in layers:
            h = layer(h)
        return h


class Standardization(nn.Module):
    """Per-feature standardization x̃ = (x − c) / s, by the training data's mean c and standard deviation s.

    What ``ModelConfig.standardize`` adds to a model: the encoder reads x̃ (``StandardizedNet``) and the Gaussian
    likelihood's N(x̃; μ, diag σ²) is reported as the density of x itself, N(x; c + s ⊙ μ, diag (s ⊙ σ)²) — the same
    density times the Jacobian ∏ⱼ 1/sⱼ of x ↦ x̃ (change of variables), so bounds stay in nats of the data. The
    networks see unit-scale inputs and targets whatever the data's units (a table with a column in thousands sends an
    unscaled encoder's codes, and its KL, to ~10²⁵). ``c`` and ``s`` are buffers, saved with the weights;
    ``aevb.models.fit_standardization_`` sets them from the training rows.
    """

    def __init__(self, event_shape: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(tuple(event_shape)))
        self.register_buffer("scale", torch.ones(tuple(event_shape)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center) / self.scale

    @torch.no_grad()
    def set_(self, center: torch.Tensor, scale: torch.Tensor) -> None:
        """Set ``c`` and ``s`` (reshaped to this part's shape: a flat classifier's ``(D,)`` takes ``(C, H, W)``)."""
        self.center.copy_(center.reshape(self.center.shape))
        self.scale.copy_(scale.reshape(self.scale.shape))


def standardization_of(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The centre and scale per feature of the training rows ``x`` ``[N, *event_shape]``, for ``Standardization``.

    ``aevb.data.scaling.standardization`` in float64: a feature constant in ``x`` keeps s = 1.

    Returns
    -------
    tuple of torch.Tensor
        ``(c, s)``, each the shape of one row, float64.
    """
    center, scale = standardization(x.detach().to("cpu", torch.float64).numpy())
    return torch.from_numpy(center), torch.from_numpy(scale)


class StandardizedNet(nn.Module):
    """A network that reads its input standardized: ``net(standardization(x), context)``."""

    def __init__(self, net: nn.Module, standardization: Standardization) -> None:
        super().__init__()
        self.net = net
        self.standardization = standardization

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.standardization(x), context)
