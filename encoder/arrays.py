"""What every numpy-in, numpy-out analysis checks first (encoder.analysis, encoder.heads)."""

from __future__ import annotations

import numpy as np


def real_array(name: str, value: object, shape: str, ndim: int) -> np.ndarray:
    """value as a numpy array of real numbers with ``ndim`` axes, all finite (dtype kept)."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        a = np.asarray(None)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValueError(f"{name} must be an array of real numbers {shape}, got {what(value)}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def what(value: object) -> str:
    return f"dtype {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__
