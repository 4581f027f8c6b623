"""Reference baselines shipped with the code.

AlexNet's mean top-1 error per ImageNet-C corruption, averaged over the five severities, as published
with ImageNet-C (Hendrycks & Dietterich 2019, github.com/hendrycks/robustness) — the denominator of
mCE. AlexNet's clean top-1 error is torchvision's AlexNet (top-1 56.522 %), the model those errors
were measured with. There is no AlexNet baseline for CIFAR-10-C: mCE is undefined there.
"""

from __future__ import annotations

from types import MappingProxyType

ALEXNET_MEAN_ERRORS = MappingProxyType(
    {
        "gaussian_noise": 0.886428,
        "shot_noise": 0.894468,
        "impulse_noise": 0.922640,
        "defocus_blur": 0.819880,
        "glass_blur": 0.826268,
        "motion_blur": 0.785948,
        "zoom_blur": 0.798360,
        "snow": 0.866816,
        "frost": 0.826572,
        "fog": 0.819324,
        "brightness": 0.564592,
        "contrast": 0.853204,
        "elastic_transform": 0.646056,
        "pixelate": 0.717840,
        "jpeg_compression": 0.606500,
    }
)

ALEXNET_CLEAN_ERROR = 1.0 - 0.56522
