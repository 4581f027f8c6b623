"""Clean top-1 accuracy of a fine-tuned classifier on its task's test split (the paper's test transform).

The corruption benchmarks are ``rzoo eval``'s job; this is the quick check logged at the end of a run.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def classification_accuracy(
    model: nn.Module, dataset, device: torch.device, batch_size: int = 128, num_workers: int = 0
) -> float:
    """Top-1 accuracy over ``dataset`` (keys ``(index, 0)``: the eval transform is deterministic)."""
    was_training = model.training
    model.eval()
    keys = [(i, 0) for i in range(len(dataset))]
    batches = [keys[i : i + batch_size] for i in range(0, len(keys), batch_size)]
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=num_workers)
    correct = total = 0
    for images, labels in loader:
        logits = model(images.to(device))
        correct += int((logits.argmax(1).cpu() == labels).sum())
        total += len(labels)
    model.train(was_training)
    return correct / max(total, 1)
