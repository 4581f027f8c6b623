"""The reference backend: the implementations the torch backend is measured against, seeded per picture.

- ``imagenet-c``: the ``imagecorruptions`` package (distribution ``imagecorruptions-imaug`` >= 1.1.5, the
  maintained fork that runs on NumPy 2 / scikit-image >= 0.25; the original 1.1.2 no longer imports).
  Frost textures are the package's own data files.
- ``cifar10-c``: no package ships make_cifar_c, so :mod:`evaluator.corruptions.reference_cifar` transcribes
  hendrycks' formulas in NumPy/SciPy/OpenCV, independently of the torch code.

Both draw from NumPy's global RNG (as the originals do): each call seeds it with
``seeding.numpy_seed(seed)`` under a lock and restores the caller's RNG state afterwards, so reference
outputs are reproducible and thread safe. ``glass_blur`` and ``impulse_noise`` also get the seed as their
``seed=`` argument (imagecorruptions-imaug gives them their own generators).
"""

from __future__ import annotations

import threading

import numpy as np

from evaluator.corruptions.seeding import numpy_seed
from evaluator.protocol import ALL_CORRUPTIONS
from zoo.errors import unknown_name

_RNG_LOCK = threading.Lock()
_TAKES_SEED = ("glass_blur", "impulse_noise")


def corrupt(img: np.ndarray, name: str, severity: int, seed: int, params: str = "imagenet-c") -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 with the reference implementation of ``params``."""
    if name not in ALL_CORRUPTIONS:
        raise unknown_name("corruption", name, ALL_CORRUPTIONS)
    np_seed = numpy_seed(seed)
    with _RNG_LOCK:
        saved = np.random.get_state()
        np.random.seed(np_seed)
        try:
            if params == "cifar10-c":
                from evaluator.corruptions import reference_cifar

                out = reference_cifar.corrupt(img, name, severity, np_seed)
            else:
                import imagecorruptions

                kwargs = {"seed": np_seed} if name in _TAKES_SEED else {}
                out = imagecorruptions.corrupt(img, severity=severity, corruption_name=name, **kwargs)
        finally:
            np.random.set_state(saved)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out, dtype=np.uint8)
