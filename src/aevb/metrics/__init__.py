"""Sample-quality metrics: the Fréchet distance (FID) with pluggable feature extractors."""

from aevb.metrics.fid import (
    FEATURES,
    FeatureExtractor,
    compute_fid,
    fid_from_features,
    frechet_distance,
    gaussian_fit,
    model_fid,
)

__all__ = [
    "FEATURES",
    "FeatureExtractor",
    "compute_fid",
    "fid_from_features",
    "frechet_distance",
    "gaussian_fit",
    "model_fid",
]
