"""Training steps per second of ``rzoo finetune``'s models, per task, for ResNet-50 and Swin-T.

    python benchmarks/finetune_steps.py [--device cpu|cuda] [--amp] [--steps 3] [--tasks cifar10 coco ade20k]
                                        [--batch cifar10=8 coco=2 ade20k=2]

Each row times full optimizer steps (forward, loss, backward, step) of the paper recipe's model and
optimizer on inputs of the paper's sizes: CIFAR-10 upsampled to 224 x 224, COCO images resized by
Mask R-CNN to (1333, 800) (480 x 640 inputs with 4 objects each), ADE20K 512 x 512 crops. Random
weights (the timing does not depend on them) and synthetic tensors (data loading is not timed).
Batch sizes default to what a 2-core CPU affords; the paper's are 64 / 16 / 16 (global).
"ratio" is the row's step time over the CIFAR-10 step of the same backbone, measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BACKBONES = {"resnet50": "resnet50.tv_in1k", "swin_t": "swin_tiny_patch4_window7_224.ms_in1k"}
DEFAULT_BATCH_CPU = {"cifar10": 8, "coco": 2, "ade20k": 2}
DEFAULT_BATCH_GPU = {"cifar10": 64, "coco": 2, "ade20k": 4}


def build(backbone: str, task: str):
    """The paper recipe's train module and optimizer for ``task`` (random weights)."""
    import timm

    from zoo.dense import build_dense_model
    from zoo.finetune.api import resolve_recipe
    from zoo.finetune.tasks import (
        ClassifierTrainModule,
        DetectionTrainModule,
        SegmentationTrainModule,
        detection_config,
        segmentation_config,
    )
    from zoo.finetune.trainer import build_optimizer

    recipe = resolve_recipe(backbone, task, "full")
    if task == "cifar10":
        arch = BACKBONES_ARCH[backbone]
        module = ClassifierTrainModule(timm.create_model(arch, num_classes=10), frozen_backbone=False)
    elif task == "coco":
        config = detection_config(backbone, recipe, category_ids=range(1, 81))
        module = DetectionTrainModule(build_dense_model(config, pretrained=False))
    else:
        module = SegmentationTrainModule(
            build_dense_model(segmentation_config(backbone, recipe), pretrained=False)
        )
    return recipe, module, build_optimizer(module, recipe)


BACKBONES_ARCH = {
    "resnet50.tv_in1k": "resnet50",
    "swin_tiny_patch4_window7_224.ms_in1k": "swin_tiny_patch4_window7_224",
}


def make_batch(task: str, batch: int, device):
    import torch

    g = torch.Generator().manual_seed(0)
    if task == "cifar10":
        return torch.randn(batch, 3, 224, 224, generator=g).to(device), torch.randint(
            0, 10, (batch,), generator=g
        ).to(device)
    if task == "ade20k":
        return torch.randn(batch, 3, 512, 512, generator=g).to(device), torch.randint(
            0, 150, (batch, 512, 512), generator=g
        ).to(device)
    images, targets = [], []
    for _ in range(batch):
        images.append(torch.rand(3, 480, 640, generator=g).to(device))
        boxes = torch.tensor(
            [[40.0, 40, 200, 220], [300, 100, 420, 300], [100, 250, 260, 460], [450, 20, 620, 180]]
        )
        masks = torch.zeros(4, 480, 640, dtype=torch.uint8)
        for i, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
            masks[i, y0:y1, x0:x1] = 1
        targets.append(
            {
                "boxes": boxes.to(device),
                "labels": torch.tensor([1, 5, 17, 80]).to(device),
                "masks": masks.to(device),
            }
        )
    return images, targets


def time_steps(module, optimizer, batch, steps: int, device, amp: bool) -> float:
    import torch

    module.to(device).train()
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def one_step():
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            loss = sum(module(*batch).values())
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    one_step()  # warm-up (allocations, cudnn autotune)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="float16 autocast + GradScaler (CUDA)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--tasks", nargs="+", default=["cifar10", "coco", "ade20k"])
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    parser.add_argument("--batch", nargs="*", default=[], help="task=N overrides")
    args = parser.parse_args(argv)

    import torch

    device = torch.device(args.device)
    batches = dict(DEFAULT_BATCH_GPU if device.type == "cuda" else DEFAULT_BATCH_CPU)
    batches.update({k: int(v) for k, v in (item.split("=") for item in args.batch)})
    print(
        f"device={device} threads={torch.get_num_threads()} amp={args.amp} steps={args.steps} torch={torch.__version__}"
    )
    print(f"{'backbone':9} {'task':8} {'batch':>5} {'s/step':>8} {'steps/s':>8} {'img/s':>7} {'ratio':>6}")
    for short in args.backbones:
        reference = None
        for task in ["cifar10", *[t for t in args.tasks if t != "cifar10"]]:
            _, module, optimizer = build(BACKBONES[short], task)
            batch = make_batch(task, batches[task], device)
            seconds = time_steps(
                module, optimizer, batch, args.steps, device, args.amp and device.type == "cuda"
            )
            reference = reference or seconds
            if task in args.tasks:
                print(
                    f"{short:9} {task:8} {batches[task]:5d} {seconds:8.2f} {1 / seconds:8.3f} "
                    f"{batches[task] / seconds:7.1f} {seconds / reference:6.2f}",
                    flush=True,
                )
            del module, optimizer, batch
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
