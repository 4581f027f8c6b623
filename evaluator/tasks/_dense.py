"""Helpers shared by the dense tasks: image files, normalisation settings from a dense config."""

from __future__ import annotations

from typing import Any

from evaluator.preprocessing import IMAGENET_MEAN, IMAGENET_STD, _get


def normalization(config: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) in [0, 1] units from a ``zoo.dense.DenseModelConfig`` or a plain dict."""
    norm = _get(config, "normalization", None) or config
    mean = tuple(float(v) for v in _get(norm, "mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in _get(norm, "std", IMAGENET_STD))
    return mean, std


def head_setting(config: Any, head: str, key: str, default: Any) -> Any:
    """``config.<head>.<key>`` of a DenseModelConfig, or ``config[key]`` of a plain dict."""
    sub = _get(config, head, None)
    if sub is not None:
        return _get(sub, key, default)
    return _get(config, key, default)
