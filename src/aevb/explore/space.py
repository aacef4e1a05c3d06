"""One trained model's latent space with datapoints placed in it: what ``aevb explore`` shows and decodes.

A function of (model, tensors) like the pictures: :class:`LatentSpace` encodes the datapoints once (posterior means
μ_φ(x) and covariances Σ_φ(x) of q_φ(z|x)), finds the codes' principal axes, and then decodes any z the page asks for,
E_p_θ(x|z)[x] or a draw x ~ p_θ(x|z). A deep VAE is explored at its top layer h^L: its codes are the means of
q(h^L|x) along the chain of posterior means, and a point decodes through the means of p(h^l|h^{l+1}) down to x.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution

from aevb.errors import ConfigError
from aevb.models.protocols import BoundModel, ConditionalModel
from aevb.plots.png import image_shape
from aevb.runtime import fork_rng, module_device, to_device


def _covariance(q: Distribution) -> torch.Tensor:
    """Σ_φ(x) ``[N, d, d]`` of a batch of posteriors: the diagonal of σ² for a factorized q, LLᵀ for a full one, zero
    for an autoencoder's point mass."""
    base = getattr(q, "base_dist", q)
    if hasattr(base, "covariance_matrix"):
        return base.covariance_matrix.float()
    try:
        variance = q.variance.float()
    except NotImplementedError:  # a point mass has no spread
        variance = torch.zeros_like(q.mean.float())
    return torch.diag_embed(variance)


@dataclass
class Coding:
    """How a model is explored: x → q(z|x) and z → p(x|z), with the context of a label for conditional models."""

    encode: Callable[[torch.Tensor, torch.Tensor | None], Distribution]
    decode: Callable[[torch.Tensor, torch.Tensor | None], Distribution]
    latent_dim: int
    layer: str


def coding(model: nn.Module) -> Coding:
    """The :class:`Coding` of ``model``, or a :class:`ConfigError` saying why it cannot be explored."""
    if not isinstance(model, BoundModel):
        raise ConfigError(
            f"aevb explore needs a model with an encoder q(z|x) and a decoder p(x|z) over a continuous z; "
            f"{type(model).__name__} has none (a VQ-VAE's codes are discrete indices into a codebook: look at its "
            "samples and reconstructions with aevb plot instead)"
        )
    conditionals = list(getattr(model, "conditionals", []))
    if not conditionals:
        q = model.encode
        return Coding(q, model.decode, int(model.latent_dim), "z")
    encoders = list(model.encoders)

    def encode_top(x: torch.Tensor, c: torch.Tensor | None) -> Distribution:
        q = model.encode(x)
        for encoder in encoders[1:]:
            q = encoder(q.mean)
        return q

    def decode_top(h: torch.Tensor, c: torch.Tensor | None) -> Distribution:
        h = to_device(h, module_device(model))  # the conditionals are plain networks: they do not move their input
        for conditional in reversed(conditionals):
            h = conditional(h).mean
        return model.decode(h)

    return Coding(encode_top, decode_top, int(encoders[-1].family.latent_dim), f"h{len(encoders)} (top layer)")


class LatentSpace:
    """The datapoints ``x`` (labels ``y``, optional per-point ``color`` values) in ``model``'s latent space.

    Attributes (NumPy, float32): ``means`` ``[N, d]`` the codes μ_φ(x); ``center`` ``[d]`` and ``axes`` ``[2, d]``
    the codes' mean and first two principal axes (orthonormal rows; for d = 1 the second is zero).
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        *,
        name: str = "run",
        color: np.ndarray | None = None,
        color_name: str | None = None,
    ) -> None:
        self.model = model.eval()
        self.code = coding(self.model)
        self.name = name
        self.event_shape = tuple(int(s) for s in model.event_shape)
        self.conditional = isinstance(model, ConditionalModel)
        self.num_classes = int(model.num_classes) if self.conditional else 0
        if self.conditional and y is None:
            raise ConfigError(f"{name}: a conditional model is explored with the labels of its data; these have none")
        self.x = x.float().cpu()
        self.y = None if y is None else y.long().cpu()
        self.color, self.color_name = color, color_name
        with torch.no_grad():
            q = self.code.encode(x, self._context(self.y))
            self.means = q.mean.float().reshape(len(x), -1).cpu().numpy()
            self.covariances = _covariance(q).cpu().numpy()
        self.center, self.axes = principal_axes(self.means)

    # --- context ---------------------------------------------------------------------------------------------
    def _context(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return self.model.make_context(y) if self.conditional and y is not None else None

    def _label_context(self, label: int | None) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if label is None or not 0 <= int(label) < self.num_classes:
            raise ConfigError(f"{self.name} is conditional: choose a class in 0 … {self.num_classes - 1}, got {label}")
        return self.model.label_context(int(label), 1)

    # --- decoding --------------------------------------------------------------------------------------------
    def _z(self, z: Sequence[float] | np.ndarray) -> torch.Tensor:
        d = self.code.latent_dim
        try:
            values = np.asarray(z, dtype=np.float32)
        except (TypeError, ValueError):
            values = np.empty(0, dtype=np.float32)
        if values.ndim not in (1, 2) or values.shape[-1] != d or not values.size or not np.isfinite(values).all():
            shown = np.array2string(values.reshape(-1)[:8], precision=3) if values.size else repr(z)[:60]
            raise ConfigError(f"z must hold {d} finite numbers per point; got shape {values.shape}: {shown}")
        return torch.from_numpy(values.reshape(-1, d))

    @torch.no_grad()
    def decode(
        self, z: Sequence[float] | np.ndarray, label: int | None = None, sample: bool = False, seed: int = 0
    ) -> np.ndarray:
        """E_p_θ(x|z)[x] (or one draw, seeded, when ``sample``) for each z of ``z`` (``[d]`` or ``[k, d]``):
        ``[k, *event_shape]`` float32."""
        z_ = self._z(z)
        c = self._label_context(label)
        if c is not None:
            c = c.expand(len(z_), *c.shape[1:])
        p = self.code.decode(z_, c)
        if not sample:
            return p.mean.float().cpu().numpy()
        with fork_rng(p.mean.device):  # drawn on the model's device: its generator is the one seeded and restored
            torch.manual_seed(seed)
            return p.sample().float().cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, i: int) -> np.ndarray:
        """The decoder mean at datapoint ``i``'s code: E_p_θ(x|z=μ_φ(x_i))[x], ``[*event_shape]``."""
        label = None if self.y is None else int(self.y[i])
        return self.decode(self.means[i], label if self.conditional else None)[0]

    def line(self, i: int, j: int, steps: int = 10, label: int | None = None) -> np.ndarray:
        """Decoder means along the straight line from datapoint ``i``'s code to ``j``'s, ``steps`` points."""
        if not 2 <= steps <= 64:
            raise ConfigError(f"steps must be in 2 … 64, got {steps}")
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return self.decode((1 - t) * self.means[i] + t * self.means[j], label)

    def check_index(self, i: int) -> int:
        if not 0 <= i < len(self.means):
            raise ConfigError(f"datapoint {i} is not among the {len(self.means)} explored (0 … {len(self.means) - 1})")
        return i

    # --- what the page is sent -------------------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) when the data are images, else None (a row of features): :func:`aevb.plots.png.image_shape`."""
        return image_shape(self.event_shape)

    def value_range(self) -> list[float]:
        """The range the page draws values in: [min, max] of the data for images; for a row of features the 1st and
        99th percentiles of all values (a few extreme rows would otherwise flatten every other bar)."""
        if self.image_shape is not None:
            return [float(self.x.min()), float(self.x.max())]
        lo, hi = np.percentile(self.x.numpy(), [1, 99])
        return [float(lo), float(hi)]

    def summary(self) -> dict:
        """Everything the page needs to draw the map (JSON-ready)."""
        std = np.sqrt(np.clip(np.diagonal(self.covariances, axis1=1, axis2=2), 0, None))
        lo, hi = self.means.min(0), self.means.max(0)
        return {
            "name": self.name,
            "model": type(self.model).__name__,
            "layer": self.code.layer,
            "latent_dim": self.code.latent_dim,
            "event_shape": list(self.event_shape),
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "value_range": self.value_range(),
            "means": np.round(self.means, 4).tolist(),
            "std": np.round(std, 4).tolist(),
            "range": [np.round(lo, 4).tolist(), np.round(hi, 4).tolist()],
            "center": self.center.tolist(),
            "axes": self.axes.tolist(),
            "labels": None if self.y is None else self.y.tolist(),
            "color": None if self.color is None else np.round(self.color.astype(np.float64), 5).tolist(),
            "color_name": self.color_name,
            "num_classes": self.num_classes,
        }

    def point(self, i: int) -> dict:
        """Datapoint ``i``: its values, reconstruction, code and posterior covariance (JSON-ready)."""
        i = self.check_index(i)
        return {
            "index": i,
            "x": self.x[i].reshape(-1).tolist(),
            "reconstruction": self.reconstruct(i).reshape(-1).tolist(),
            "mean": self.means[i].tolist(),
            "covariance": self.covariances[i].tolist(),
            "label": None if self.y is None else int(self.y[i]),
        }


def principal_axes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes' mean ``[d]`` and first two principal axes ``[2, d]`` (unit rows, sign fixed so that each axis's
    largest entry is positive); a zero second axis when d = 1."""
    center = codes.mean(0)
    _, _, vt = np.linalg.svd(codes - center, full_matrices=False)
    axes = np.zeros((2, codes.shape[1]), dtype=np.float32)
    k = min(2, vt.shape[0])
    axes[:k] = vt[:k]
    for row in axes:
        if row.any() and row[np.abs(row).argmax()] < 0:
            row *= -1
    return center.astype(np.float32), axes
