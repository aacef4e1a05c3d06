"""Fréchet distance between Gaussian fits of features (FID; Heusel et al. 2017, eq. 6; Dowson & Landau 1982):

    d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^{1/2}),

computed in float64 with ``scipy.linalg.sqrtm``. As in pytorch-fid, a non-finite square root (singular product) is
retried with ε·I added to both covariances, and small imaginary parts from round-off are dropped (large ones are an
error). The features come from a pluggable extractor in :data:`FEATURES`; every FID is reported under the key
``fid_<extractor name>`` (``fid_inception``, ``fid_aevb_classifier_mnist``) so the two kinds are never confused —
only ``fid_inception`` with the standard weights is comparable to published FIDs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import linalg

from aevb.data import TensorData
from aevb.errors import DataError
from aevb.metrics.classifier import classifier_for
from aevb.metrics.inception import FIDInceptionV3, load_fid_weights
from aevb.models.protocols import GenerativeModel, labels_to_context
from aevb.registry import Registry
from aevb.runtime import fork_rng, module_device

# Feature extractors: ``FEATURES.get(name)(weights, data, device) -> FeatureExtractor``.
FEATURES: Registry[Callable[..., Any]] = Registry("FID feature extractor")


def gaussian_fit(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``[N, F]`` features, float64."""
    f = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    f = f.astype(np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise DataError(f"FID needs at least 2 feature vectors [N, F], got shape {f.shape}")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """d²(N(μ₁, Σ₁), N(μ₂, Σ₂)) = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁Σ₂)^{1/2}), in float64."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise DataError(f"FID: the two feature sets differ in dimension ({mu1.shape} vs {mu2.shape})")
    diff = mu1 - mu2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if caught or not np.isfinite(covmean).all():
        # A singular product (e.g. fewer samples than dimensions, or dead features): regularize as pytorch-fid does.
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        worst = np.max(np.abs(np.diagonal(covmean).imag))
        if worst > 1e-3:
            raise DataError(
                f"FID: the matrix square root has an imaginary component of {worst:.3g}; the covariances are "
                "ill-conditioned (use more samples than feature dimensions)"
            )
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """The Fréchet distance between Gaussian fits of two feature sets ``[N, F]`` and ``[M, F]``."""
    return frechet_distance(*gaussian_fit(a), *gaussian_fit(b))


class FeatureExtractor:
    """Runs ``net`` (images ``[N, C, H, W]`` in [0, 1] → ``[N, F]``) in batches, in eval mode, without gradients."""

    def __init__(self, net: torch.nn.Module, name: str, batch_size: int = 200) -> None:
        self.net, self.name, self.batch_size = net.eval(), name, batch_size

    @property
    def key(self) -> str:
        """The metric name: ``fid_<name>``."""
        return f"fid_{self.name}"

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        device = module_device(self.net)
        out = [
            self.net(x[i : i + self.batch_size].to(device).float().clamp(0, 1)).double().cpu()
            for i in range(0, x.shape[0], self.batch_size)
        ]
        return torch.cat(out)


def compute_fid(real: torch.Tensor, fake: torch.Tensor, extractor: FeatureExtractor) -> float:
    """FID between two image sets ``[N, C, H, W]`` in [0, 1] under ``extractor``'s features."""
    return fid_from_features(extractor(real), extractor(fake))


@FEATURES.register("inception")
def inception_features(
    weights: str, data: TensorData | None = None, device: str | torch.device = "cpu"
) -> FeatureExtractor:
    """InceptionV3 pool-3 features (2048-d) with the FID weights file at ``weights`` (required)."""
    if not weights:
        raise DataError(
            "the inception FID needs --fid-weights PATH: the standard FID weights file "
            "(pt_inception-2015-12-05-6726825d.pth of pytorch-fid, or a .safetensors conversion)"
        )
    return FeatureExtractor(load_fid_weights(FIDInceptionV3(), weights).to(device), "inception", batch_size=50)


@FEATURES.register("aevb_classifier")
def classifier_features(weights: str, data: TensorData, device: str | torch.device = "cpu") -> FeatureExtractor:
    """Penultimate features of a small CNN that aevb trains on ``data`` (labelled, MNIST-like) on first use and keeps
    in the directory ``weights`` (default: ``<data dir>/fid/aevb_classifier_<dataset>``)."""
    clf = classifier_for(data, weights or None)
    return FeatureExtractor(clf.to(device).features_net(), f"aevb_classifier_{clf.dataset}")


@torch.no_grad()
def model_fid(model: GenerativeModel, data: TensorData, extractor: FeatureExtractor, n: int, seed: int = 0) -> float:
    """FID between ``n`` samples of ``model`` and the first ``n`` points of ``data`` (conditional models sample with
    those points' labels)."""
    n = min(n, len(data))
    real = data.x[:n]
    device = module_device(model)
    was_training = model.training
    model.eval()
    try:
        with fork_rng(device):
            torch.manual_seed(seed)
            context = labels_to_context(model, None if data.y is None else data.y[:n].to(device))
            batch = 500
            fake = []
            for i in range(0, n, batch):
                m = min(batch, n - i)
                c = None if context is None else context[i : i + m]
                fake.append(model.sample(m, c).float().cpu().reshape(m, *real.shape[1:]))
    finally:
        model.train(was_training)
    value = compute_fid(real, torch.cat(fake), extractor)
    return value if math.isfinite(value) else float("nan")
