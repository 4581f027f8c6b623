"""The benchmark protocol: corruption names, families, holdout set and severities.

The 15 "common" corruptions are the ImageNet-C benchmark set (the order of Hendrycks & Dietterich
2019, also the order of the AlexNet baseline); the 4 "holdout" ones (speckle_noise, gaussian_blur,
spatter, saturate) are reported separately and never enter mPC or mCE.
"""

from __future__ import annotations

from types import MappingProxyType

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

COMMON_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)

HOLDOUT_CORRUPTIONS: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")

ALL_CORRUPTIONS: tuple[str, ...] = COMMON_CORRUPTIONS + HOLDOUT_CORRUPTIONS

FAMILIES = MappingProxyType(
    {
        "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
        "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur"),
        "weather": ("snow", "frost", "fog", "brightness", "spatter"),
        "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"),
    }
)

FAMILY_OF = MappingProxyType({c: family for family, names in FAMILIES.items() for c in names})
