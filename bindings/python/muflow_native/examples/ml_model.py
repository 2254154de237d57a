"""The numerics of the ML example: synthetic datasets, a ridge regression, scores.

A dataset is a small regression problem derived from its name alone: features and
noise come from SHA-256 in counter mode, so every machine, process and numpy version
produces the same numbers for the same name (a cached result stays valid). All
datasets share one true linear model, so training on several of them and predicting
another one is meaningful.
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np

N_SAMPLES = 16
TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5, 3.0])
TRUE_INTERCEPT = 0.25
NOISE_SCALE = 0.1
DEFAULT_ALPHA = 1e-3


def _uniform(label: str, count: int) -> np.ndarray:
    """``count`` numbers in [0, 1) determined by ``label``."""
    blocks = -(-count // 4)  # a SHA-256 digest holds four 64-bit words
    digest = b"".join(
        hashlib.sha256(f"{label}\x00{block}".encode("utf-8")).digest() for block in range(blocks)
    )
    words = np.frombuffer(digest, dtype="<u8")[:count]
    return (words >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def dataset_features(name: str, n_samples: int = N_SAMPLES):
    """The feature matrix (``n_samples`` x len(TRUE_WEIGHTS), values in [-1, 1)) and the
    targets of dataset ``name``."""
    n_features = len(TRUE_WEIGHTS)
    features = 2.0 * _uniform(f"features:{name}", n_samples * n_features) - 1.0
    features = features.reshape(n_samples, n_features)
    noise = NOISE_SCALE * (2.0 * _uniform(f"noise:{name}", n_samples) - 1.0)
    # Column by column rather than a BLAS product, whose rounding may vary by machine.
    targets = np.full(n_samples, TRUE_INTERCEPT) + noise
    for column, weight in enumerate(TRUE_WEIGHTS):
        targets += features[:, column] * weight
    return features, targets


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float = DEFAULT_ALPHA) -> dict:
    """Ridge regression with an unpenalised intercept: ``{"weights", "intercept"}``."""
    features = np.asarray(features, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError("fit_ridge needs at least one sample")
    if len(features) != len(targets):
        raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
    design = np.hstack([features, np.ones((len(features), 1))])
    penalty = alpha * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    solution = np.linalg.lstsq(design.T @ design + penalty, design.T @ targets, rcond=None)[0]
    return {"weights": solution[:-1].tolist(), "intercept": float(solution[-1])}


def predict(model: dict, features: np.ndarray) -> np.ndarray:
    return np.asarray(features, dtype=np.float64) @ np.asarray(model["weights"]) + model["intercept"]


def r2_score(targets: np.ndarray, predictions: np.ndarray) -> float:
    """Coefficient of determination; NaN when the targets are constant."""
    targets = np.asarray(targets, dtype=np.float64)
    total = float(np.sum((targets - targets.mean()) ** 2))
    if total == 0.0:
        return math.nan
    return 1.0 - float(np.sum((targets - predictions) ** 2)) / total


def rmse(targets: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(targets) - predictions) ** 2)))


def stack(datasets: Sequence[dict]):
    """One feature matrix and one target vector from several ``features.json`` dicts."""
    n_features = len(TRUE_WEIGHTS)
    if not datasets:
        return np.empty((0, n_features)), np.empty(0)
    features = np.vstack([np.asarray(d["features"], dtype=np.float64).reshape(-1, n_features) for d in datasets])
    targets = np.concatenate([np.asarray(d["targets"], dtype=np.float64) for d in datasets])
    return features, targets
