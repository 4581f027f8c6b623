"""rzoo's model zoo: robust ImageNet backbones from the Hugging Face Hub, as safetensors.

>>> from zoo import list_models, get_weights
>>> get_weights("swin_t").architecture
'swin_tiny_patch4_window7_224'

Importing this package does not import torch; model-building functions import it on first use.
"""

from __future__ import annotations

from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    ReferenceMetrics,
    SourceRelease,
    Weights,
    get_weights,
    is_registered,
    list_models,
    register,
    resolve_name,
)
from zoo.errors import RzooError

__version__ = "0.1.0"

__all__ = [
    "DataConfig",
    "HubLocation",
    "Provenance",
    "ReferenceMetrics",
    "RzooError",
    "SourceRelease",
    "Weights",
    "__version__",
    "get_weights",
    "is_registered",
    "list_models",
    "register",
    "resolve_name",
]
