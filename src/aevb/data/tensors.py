"""The in-memory dataset type, ``TensorData``, and the cheap validity check ``check_data``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from aevb.errors import DataError

SUPPORTS = ("binary", "unit", "real")
"""Supports ``check_data`` knows: ``binary`` and ``unit`` both mean values in [0, 1], ``real`` any finite value."""


@dataclass(eq=False)
class TensorData:
    """A whole dataset split held as tensors.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point tensor of shape ``[N, *event_shape]`` with at least 2 dimensions, stored as float32
        (another floating dtype is converted); images are ``[N, C, H, W]`` (``C == 1`` for gray scale) with values
        in [0, 1].
    y : torch.Tensor or None, default None
        Optional integer labels of shape ``[N]``, one per example, stored as int64.
    name : str, default "data"
        What the data is called in messages (a dataset name or a file path).
    dynamic_binarize : bool, default False
        When true, ``transform_batch`` draws a fresh Bernoulli sample of every batch (dynamically binarized MNIST).
    x_scale : torch.Tensor or None, default None
        Optional standard deviations, the shape of ``x``, stored as float32: each example is then a Gaussian
        ``N(x, diag x_scale²)`` and ``transform_batch`` draws from it afresh for every batch (M1+M2 trains on draws
        of M1's q(z|x), Kingma et al. 2014, §3.2). Cannot be combined with ``dynamic_binarize``. Without either,
        batches pass through unchanged.

    Raises
    ------
    DataError
        If ``x`` is not a floating-point ``torch.Tensor`` of at least 2 dimensions (convert uint8 pixels with
        ``x.float() / 255``); if ``x_scale`` is not a tensor of ``x``'s shape or comes with ``dynamic_binarize``;
        if ``y`` is not an integer tensor of shape ``[N]``.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    name: str = "data"
    dynamic_binarize: bool = False
    x_scale: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor):
            raise DataError(f"{self.name}: x must be a torch.Tensor; got {type(self.x).__name__}")
        if not self.x.is_floating_point():
            raise DataError(
                f"{self.name}: x must be a floating-point tensor; got dtype {self.x.dtype} "
                "(convert uint8 pixels with x.float() / 255)"
            )
        if self.x.dim() < 2:
            raise DataError(
                f"{self.name}: x must have shape [N, *event_shape] with at least 2 dimensions; "
                f"got shape {tuple(self.x.shape)}"
            )
        if self.x.dtype != torch.float32:
            self.x = self.x.to(torch.float32)
        if self.x_scale is not None:
            scale = self.x_scale
            if not isinstance(scale, torch.Tensor) or scale.shape != self.x.shape or self.dynamic_binarize:
                raise DataError(
                    f"{self.name}: x_scale must be a tensor of x's shape {tuple(self.x.shape)}, and the data cannot "
                    "also be dynamically binarized"
                )
            self.x_scale = scale.to(torch.float32)
        if self.y is not None:
            if not isinstance(self.y, torch.Tensor) or self.y.is_floating_point() or self.y.is_complex():
                raise DataError(f"{self.name}: labels y must be an integer tensor of shape [N]")
            if self.y.shape != (self.x.shape[0],):
                raise DataError(
                    f"{self.name}: labels y must have shape [{self.x.shape[0]}] (one per example); "
                    f"got shape {tuple(self.y.shape)}"
                )
            if self.y.dtype != torch.int64:
                self.y = self.y.to(torch.int64)

    @property
    def event_shape(self) -> torch.Size:
        """The shape of one example, ``x.shape[1:]``."""
        return self.x.shape[1:]

    @property
    def dim(self) -> int:
        """The number of values in one example, the product of ``event_shape``."""
        return math.prod(self.event_shape)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __repr__(self) -> str:
        labels = "no labels" if self.y is None else "labels"
        binar = ", dynamic_binarize" if self.dynamic_binarize else ""
        shape = tuple(self.event_shape)
        return f"TensorData({self.name!r}, n={len(self)}, event_shape={shape}, {labels}{binar})"

    def subset(self, n: int) -> TensorData:
        """The first ``n`` examples (a view, no copy).

        Parameters
        ----------
        n : int
            How many examples to keep, ``0 < n <= len(self)``.

        Returns
        -------
        TensorData
            Examples ``0 .. n − 1`` with their labels and scales, under the same name and settings.

        Raises
        ------
        DataError
            If ``n`` is not an integer in ``1..len(self)``.
        """
        if not isinstance(n, int) or isinstance(n, bool) or not 0 < n <= len(self):
            raise DataError(f"{self.name}: subset size must be an integer in 1..{len(self)}; got {n!r}")
        return self.take(slice(0, n))

    def spread(self, n: int) -> TensorData:
        """``n`` examples evenly spaced over the whole set (all of it if ``n >= len(self)``).

        For pictures and per-epoch statistics: several splits are stored grouped by class (the static binarized
        MNIST test set, our seeded splits keep file order), so "the first n" can be one or two classes.

        Parameters
        ----------
        n : int
            How many examples to keep.

        Returns
        -------
        TensorData
            ``self`` itself when ``n >= len(self)``, else a copy of the examples at ``spread_indices(n)`` (which
            refuses an ``n`` that is not a positive integer with a ``DataError``).
        """
        indices = self.spread_indices(n)  # checks n
        return self if n >= len(self) else self.take(indices)

    def spread_indices(self, n: int) -> torch.Tensor:
        """The indices ``spread`` keeps (``0 .. len − 1`` when ``n >= len(self)``).

        Parameters
        ----------
        n : int
            How many indices to return.

        Returns
        -------
        torch.Tensor
            int64 indices in increasing order: ``n`` values evenly spaced over ``0 .. len − 1`` (both ends included,
            rounded to the nearest integer), or every index when ``n >= len(self)``.

        Raises
        ------
        DataError
            If ``n`` is not a positive integer (``subset`` and ``take`` refuse the same).
        """
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise DataError(f"{self.name}: how many evenly spaced examples must be an integer ≥ 1; got {n!r}")
        if n >= len(self):
            return torch.arange(len(self))
        return torch.linspace(0, len(self) - 1, n).round().long()

    def take(self, indices: Sequence[int] | torch.Tensor | slice) -> TensorData:
        """The examples at ``indices`` (a slice, a sequence of ints or an integer/bool tensor).

        Parameters
        ----------
        indices : Sequence[int] or torch.Tensor or slice
            Which examples to keep: a slice (the result is a view), integer indices (negative ones count from
            the end) or a boolean mask.

        Returns
        -------
        TensorData
            The selected examples with their labels and scales, under the same name and settings.

        Raises
        ------
        DataError
            If an integer index lies outside ``[−len(self), len(self) − 1]``.
        """
        if not isinstance(indices, slice):
            indices = torch.as_tensor(indices)
            if indices.dtype != torch.bool:
                indices = indices.to(torch.int64)
                if indices.numel() and (indices.min() < -len(self) or indices.max() >= len(self)):
                    raise DataError(
                        f"{self.name}: indices must lie in [{-len(self)}, {len(self) - 1}]; "
                        f"got values in [{int(indices.min())}, {int(indices.max())}]"
                    )
        y = None if self.y is None else self.y[indices]
        scale = None if self.x_scale is None else self.x_scale[indices]
        return TensorData(self.x[indices], y, self.name, self.dynamic_binarize, scale)

    def flat(self) -> torch.Tensor:
        """``x`` as ``[N, D]`` (a view when ``x`` is contiguous).

        Returns
        -------
        torch.Tensor
            ``x`` reshaped to ``[N, D]``, ``D`` = ``dim``.
        """
        return self.x.reshape(len(self), -1)

    def transform_batch(
        self, xb: torch.Tensor, generator: torch.Generator | None = None, scale: torch.Tensor | None = None
    ) -> torch.Tensor:
        """What the trainer feeds the model for batch ``xb``.

        A Bernoulli draw when dynamically binarized; a draw ``xb + scale ⊙ ε``, ``ε ~ N(0, I)``, when the data carry
        ``x_scale`` (``scale``: the batch's rows of it); else ``xb`` unchanged.

        Parameters
        ----------
        xb : torch.Tensor
            A batch of examples, ``[B, *event_shape]``.
        generator : torch.Generator or None, default None
            The random number generator of the draws (``None``: torch's default generator).
        scale : torch.Tensor or None, default None
            The batch's rows of ``x_scale``, the shape of ``xb``; ``None`` when the data carry no ``x_scale``
            (then no Gaussian draw is made).

        Returns
        -------
        torch.Tensor
            The batch to feed the model, the shape of ``xb``: a fresh Bernoulli sample of ``xb`` when
            ``dynamic_binarize``, else a Gaussian draw around ``xb`` when ``scale`` is given, else ``xb`` itself.
        """
        if self.dynamic_binarize:
            return torch.bernoulli(xb, generator=generator)
        if scale is not None:
            return torch.randn(xb.shape, generator=generator, device=xb.device).mul_(scale).add_(xb)
        return xb


def check_data(x: torch.Tensor | TensorData, *, support: str = "real", name: str | None = None) -> None:
    """Raise ``DataError`` unless ``x`` is non-empty, finite and inside ``support``.

    In the common (valid) case this costs one pass over the data. A boolean tensor is only checked for emptiness.

    Parameters
    ----------
    x : torch.Tensor or TensorData
        The data, ``[N, *event_shape]``; of a ``TensorData``, its ``x`` is checked.
    support : str, default "real"
        ``"binary"`` or ``"unit"`` (values in [0, 1], what a Bernoulli likelihood accepts) or ``"real"`` (any
        finite value); see ``SUPPORTS``.
    name : str or None, default None
        What the data is called in the error message; default the ``TensorData``'s name, else ``"data"``.

    Raises
    ------
    DataError
        If ``support`` is not one of ``SUPPORTS``; if the data are empty (no example); if any value is NaN or
        inf (the message names the rows that hold them); if ``support`` is ``"binary"`` or ``"unit"`` and a value
        lies outside [0, 1].
    """
    if isinstance(x, TensorData):
        name = name or x.name
        x = x.x
    name = name or "data"
    if support not in SUPPORTS:
        raise DataError(f"unknown support {support!r}; known supports: {', '.join(SUPPORTS)}")
    if x.dim() == 0 or x.shape[0] == 0 or x.numel() == 0:
        raise DataError(f"{name}: the dataset is empty (shape {tuple(x.shape)}); at least one example is needed")
    if x.dtype == torch.bool:
        return
    lo, hi = torch.aminmax(x.detach())
    lo_v, hi_v = float(lo), float(hi)
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
        bad = ~torch.isfinite(x.detach().reshape(x.shape[0], -1))
        count = int(bad.sum())
        rows = bad.any(dim=1).nonzero().flatten().tolist()
        shown = ", ".join(map(str, rows[:10])) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")
        raise DataError(
            f"{name}: {count} non-finite value{'s' if count != 1 else ''} (NaN or inf); the first is in "
            f"example {rows[0]}; rows {shown} hold NaN or inf; all values must be finite (remove or impute them)"
        )
    if support in ("binary", "unit") and (lo_v < 0.0 or hi_v > 1.0):
        raise DataError(
            f"{name}: values range over [{lo_v:.6g}, {hi_v:.6g}], but a Bernoulli likelihood needs values "
            "in [0, 1]; rescale the data (e.g. divide 8-bit pixels by 255) or use a Gaussian likelihood "
            "(--likelihood gaussian; --standardize true for columns in their own units)"
        )
