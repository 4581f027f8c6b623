"""rzoo's model zoo: robust ImageNet backbones from the Hugging Face Hub, as safetensors.

>>> from zoo import list_models, get_weights
>>> get_weights("swin_t").architecture
'swin_tiny_patch4_window7_224'

>>> model, data_cfg = create_model("resnet50.augmix_in1k", pretrained=True, num_classes=10)  # doctest: +SKIP
>>> feats = create_model("swin_t", pretrained=True, features_only=True).model             # doctest: +SKIP

Importing this package does not import torch; model-building functions import it on first use.
"""

from __future__ import annotations

from zoo._create import CreatedModel, LoadedCheckpoint, create_model, eval_transform, load_checkpoint, to_nchw
from zoo._hub import FetchedWeights, fetch
from zoo._local import register_local_source, register_offline_mobilenet_v2
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
    "CreatedModel",
    "DataConfig",
    "FetchedWeights",
    "HubLocation",
    "LoadedCheckpoint",
    "Provenance",
    "ReferenceMetrics",
    "RzooError",
    "SourceRelease",
    "Weights",
    "__version__",
    "create_model",
    "eval_transform",
    "fetch",
    "get_weights",
    "is_registered",
    "list_models",
    "load_checkpoint",
    "register",
    "register_local_source",
    "register_offline_mobilenet_v2",
    "resolve_name",
    "to_nchw",
]
