"""Running a model: torch eager or ONNX Runtime, behind one callable.

A runner maps the prepared batch of a task to raw outputs on the CPU: logits (N, C) for
classifiers, a list of detection dicts for Mask R-CNN, logits (N, C, H, W) for UperNet.

Dense models see one image per forward pass, like mmdetection's and mmsegmentation's test loops. For
a detector this is what makes the numbers exact: torchvision's Mask R-CNN pads the images of a batch
to the largest one (rounded up to 32), and the padding changes the features near the borders, so
batched detections would depend on an image's batch mates, hence on ``--batch-size`` and on how the
images are split across ranks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo.errors import InvalidInputError


@dataclass
class TorchRunner:
    model: Any
    device: str
    kind: str  # classifier | detector | segmenter

    def __post_init__(self) -> None:
        self.model = self.model.to(self.device).eval()

    def __call__(self, inputs: Any) -> Any:
        import torch

        with torch.inference_mode():
            if self.kind == "detector":  # one image at a time, see the module docstring
                outputs = [self.model([img.to(self.device)])[0] for img in inputs]
                return [{k: v.cpu() for k, v in out.items()} for out in outputs]
            if self.kind == "segmenter":  # one image at a time: sizes differ at the test scale
                return [self.model(x.to(self.device)).float().cpu() for x in inputs]
            out = self.model(inputs.to(self.device, non_blocking=True))
            if isinstance(out, dict | list | tuple):
                raise InvalidInputError(f"expected a tensor from the {self.kind}, got {type(out).__name__}")
            return out.float().cpu()


@dataclass
class OnnxRunner:
    session: Any
    kind: str = "classifier"

    def __post_init__(self) -> None:
        if self.kind != "classifier":
            raise InvalidInputError("--runtime onnx supports classification tasks only")
        self.input_name = self.session.get_inputs()[0].name

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def __call__(self, inputs: Any) -> Any:
        import numpy as np
        import torch

        array = np.ascontiguousarray(inputs.numpy(), dtype=np.float32)
        (logits, *_) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(np.asarray(logits, dtype=np.float32))
