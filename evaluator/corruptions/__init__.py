"""The corruption engine: the 19 ImageNet-C corruptions, 5 severities, two parameter sets, two backends.

    from evaluator.corruptions import corrupt, corrupt_batch, CORRUPTIONS
    out = corrupt(img, "glass_blur", 3, seed=0)              # (H, W, 3) uint8 ndarray -> same
    outs = corrupt_batch(x, "fog", 3, seeds=[0, 1, 2])        # (N, 3, H, W) uint8 tensor, any device
    ref = corrupt(img, "fog", 3, seed=0, backend="reference")  # the imagecorruptions implementation

- Parameter sets: ``imagenet-c`` (the imagecorruptions tables: ImageNet-C, COCO-C, ADE20K-C; any size
  >= 32 px) and ``cifar10-c`` (hendrycks' make_cifar_c tables, for 32x32 pictures).
- Backends: ``torch`` (ours, batched, CPU or CUDA) and ``reference`` (imagecorruptions for imagenet-c;
  :mod:`evaluator.corruptions.reference_cifar`, a NumPy transcription of make_cifar_c, for cifar10-c).
- Determinism: the output is a pure function of (picture, corruption, severity, parameter set, seed).
  Benchmarks derive each picture's seed with :func:`image_seed` (see :mod:`evaluator.corruptions.seeding`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import MappingProxyType

from evaluator.corruptions import _engine
from evaluator.corruptions._spec import PARAM_SETS, CorruptionSpec
from evaluator.corruptions.seeding import image_seed
from evaluator.protocol import ALL_CORRUPTIONS, FAMILIES
from zoo.errors import InvalidInputError

BACKENDS = ("torch", "reference")


def _load_specs() -> dict[str, CorruptionSpec]:
    specs: dict[str, CorruptionSpec] = {}
    for family in FAMILIES:
        try:
            module = importlib.import_module(f"{__name__}.{family}")
        except ModuleNotFoundError as err:  # a family not written yet; a broken import still raises
            if err.name != f"{__name__}.{family}":
                raise
            continue
        for spec in module.SPECS:
            if spec.name in specs:
                raise ValueError(f"corruption {spec.name!r} registered twice")
            if spec.family != family or spec.name not in FAMILIES[family]:
                raise ValueError(f"{spec.name!r} does not belong to the {family} family")
            if set(spec.params) != set(PARAM_SETS) or any(len(t) != 5 for t in spec.params.values()):
                raise ValueError(f"{spec.name!r} needs 5 severities for each of {PARAM_SETS}")
            specs[spec.name] = spec
    return {name: specs[name] for name in ALL_CORRUPTIONS if name in specs}  # protocol order


CORRUPTIONS: MappingProxyType[str, CorruptionSpec] = MappingProxyType(_load_specs())


def corrupt_batch(x, name: str, severity: int, seeds: Sequence[int], params: str = "imagenet-c", device=None):
    """Corrupt a (N, 3, H, W) uint8 tensor (any device), or a list of (3, H, W) uint8 tensors of any sizes.

    Image ``i`` is corrupted with ``seeds[i]``; the result (uint8, same shape and device as the input)
    does not depend on the other images. ``device`` runs the work elsewhere (e.g. ``"cuda"``).
    """
    return _engine.corrupt_batch(CORRUPTIONS, x, name, severity, seeds, params, device)


def as_rgb(img):
    """An (H, W, 3) uint8 view of a greyscale (H, W) / (H, W, 1), RGB or RGBA (alpha dropped) ndarray."""
    import numpy as np

    if not isinstance(img, np.ndarray):
        raise InvalidInputError(f"expected a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise InvalidInputError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return np.ascontiguousarray(img[..., :3])
    raise InvalidInputError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {img.shape}")


def corrupt(img, name: str, severity: int, seed: int = 0, params: str = "imagenet-c", backend: str = "torch"):
    """Corrupt one picture: (H, W, 3) uint8 ndarray (greyscale and RGBA are converted) -> (H, W, 3) uint8."""
    import torch

    rgb = as_rgb(img)
    if backend not in BACKENDS:
        from zoo.errors import unknown_name

        raise unknown_name("backend", str(backend), BACKENDS)
    if backend == "reference":
        from evaluator.corruptions import reference

        if name not in ALL_CORRUPTIONS:  # the reference knows all 19, even before a torch family lands
            from zoo.errors import unknown_name

            raise unknown_name("corruption", str(name), ALL_CORRUPTIONS)
        _engine.check_severity(severity)
        _engine.check_params(params)
        _engine.check_size(rgb.shape[0], rgb.shape[1], params)
        return reference.corrupt(rgb, name, severity, seed, params)
    x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
    return corrupt_batch(x, name, severity, [seed], params)[0].permute(1, 2, 0).contiguous().numpy()


__all__ = [
    "BACKENDS",
    "CORRUPTIONS",
    "PARAM_SETS",
    "CorruptionSpec",
    "as_rgb",
    "corrupt",
    "corrupt_batch",
    "image_seed",
]
