"""Reading the CIFAR python pickles without executing arbitrary code.

The CIFAR-10 "python version" is a pickled dict of bytes, lists of ints and one uint8 NumPy array.
:func:`load_cifar_batch` unpickles it with a restricted :class:`pickle.Unpickler` whose
``find_class`` resolves exactly the globals such a file needs — NumPy's array reconstruction
(``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype`` for non-object dtypes) and ``_codecs.encode`` (how protocol-2 pickles store bytes) —
and refuses every other global (``os.system``, ``builtins.eval``, ...) with :class:`UnsafeFileError`
before anything is called. Object arrays are refused too, so no other code path can be reached.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

from zoo.errors import InvalidInputError, UnsafeFileError


def _safe_dtype(*args: Any, **kwargs: Any) -> Any:
    import numpy as np

    dtype = np.dtype(*args, **kwargs)
    if dtype.hasobject:
        raise UnsafeFileError("refusing a pickled NumPy array of Python objects")
    return dtype


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): codecs.encode,
    }


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafeFileError(f"refusing to unpickle global {module}.{name}") from None


def restricted_load(path: Path) -> Any:
    with open(path, "rb") as fh:
        try:
            return _RestrictedUnpickler(fh, encoding="bytes").load()
        except UnsafeFileError:
            raise
        except Exception as err:
            raise InvalidInputError(f"{path}: not a readable CIFAR pickle ({err})") from err


def load_cifar_batch(path: Path) -> tuple[Any, Any]:
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of a CIFAR-10 python batch file."""
    import numpy as np

    record = restricted_load(path)
    if not isinstance(record, dict):
        raise InvalidInputError(f"{path}: not a CIFAR batch (got {type(record).__name__})")
    record = {k.decode() if isinstance(k, bytes) else k: v for k, v in record.items()}
    data, labels = record.get("data"), record.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise InvalidInputError(f"{path}: 'data' must be a uint8 array of shape (N, 3072)")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise InvalidInputError(f"{path}: 'labels' must hold one class in 0..9 per image")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
