"""Fine-tuning recipes: typed, frozen presets reproducing the authors' settings, with overrides.

Sources (../shared/reference/benchmarks.md; the authors' MMDetection 2.x / MMSegmentation 0.x configs):

* CIFAR-10: 150 epochs, SGD lr 0.01 momentum 0.9, step x0.1 every 30 epochs, batch 64, wd 5e-4,
  images upsampled to 224 (RandomResizedCrop(224) + flip for training).
* COCO, Mask R-CNN FPN, 24 epochs (2x), batch 16, lr steps at epochs 16 and 22, 500 linear warmup
  iterations (ratio 0.001), test scale (1333, 800).
  ResNet: SGD lr 0.04 (the authors'; 0.02 is mmdetection's stock value) momentum 0.9 wd 1e-4,
  frozen_stages=1, norm_eval=True. Swin-T: AdamW lr 1e-4 wd 0.05, drop_path 0.2, multi-scale
  training (short side 480..800 step 32) with the AutoAugment crop branch (p=0.5: short side
  400/500/600, random 384..600 crop), fp16, no weight decay on norms / position tables.
* ADE20K, UperNet, 512x512 crops, 80k iterations, batch 16.
  ResNet: SGD lr 0.01 momentum 0.9 wd 5e-4, poly(0.9) down to 1e-4. Swin-T: AdamW lr 6e-5
  wd 0.01, 1500 linear warmup iterations (ratio 1e-6), poly(1.0) to 0, drop_path 0.3.

Two transfer modes: ``full`` (everything trains) and ``fixed`` (backbone frozen: lr_mult 0). BN policy
in ``fixed`` mode, per task: cifar10 / fashion-mnist - the backbone stays in eval mode (BN statistics
frozen too, so the backbone is bit-identical afterwards); coco - norm_eval as in the full recipe
(statistics frozen); ade20k - BN statistics keep updating (the authors' setting: mmseg trains the
frozen backbone in train mode), weights frozen.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args, get_type_hints

from zoo.errors import InvalidInputError, unknown_name

Task = Literal["cifar10", "fashion-mnist", "coco", "ade20k"]
Mode = Literal["full", "fixed"]
Family = Literal["resnet", "swin", "other"]
TASKS: tuple[str, ...] = get_args(Task)
MODES: tuple[str, ...] = get_args(Mode)
RECIPES: tuple[str, ...] = ("paper",)


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a fine-tuning run's result (saved as recipe.json with the run).

    Lengths: exactly one of ``epochs`` / ``iters``; ``milestones`` and ``step_size`` are in
    ``schedule_unit``s. ``batch_size`` is the global batch (all processes, all accumulation steps).
    """

    task: Task
    family: Family
    mode: Mode = "full"
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-4
    no_decay_norm_and_position: bool = False
    schedule: Literal["constant", "step", "multistep", "poly"] = "step"
    schedule_unit: Literal["epoch", "iter"] = "epoch"
    step_size: int = 30
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    poly_power: float = 0.9
    min_lr: float = 0.0
    warmup_iters: int = 0
    warmup_ratio: float = 0.001
    epochs: int | None = None
    iters: int | None = None
    batch_size: int = 64
    accumulation_steps: int = 1
    image_size: int = 224
    crop_size: int = 512
    train_min_sizes: tuple[int, ...] = (800,)
    max_size: int = 1333
    min_size: int = 800
    crop_branch: bool = False
    fpn_channels: int = 256
    box_representation_size: int = 1024
    mask_head_channels: int = 256
    decoder_channels: int = 512
    drop_path: float = 0.0
    frozen_stages: int = -1
    norm_eval: bool = False
    amp: bool = False
    grad_clip: float | None = None
    seed: int = 0
    train_limit: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise unknown_name("task", str(self.task), TASKS)
        if self.mode not in MODES:
            raise unknown_name("mode", str(self.mode), MODES)
        if (self.epochs is None) == (self.iters is None):
            raise InvalidInputError("a recipe needs exactly one of epochs / iters")
        for name in ("lr", "batch_size", "accumulation_steps"):
            if getattr(self, name) <= 0:
                raise InvalidInputError(f"{name} must be > 0, got {getattr(self, name)}")
        if (self.epochs or 1) <= 0 or (self.iters or 1) <= 0:
            raise InvalidInputError("epochs / iters must be > 0")
        if self.batch_size % self.accumulation_steps:
            raise InvalidInputError(
                f"batch_size {self.batch_size} is not divisible by accumulation_steps {self.accumulation_steps}"
            )
        if self.schedule == "multistep" and not self.milestones:
            raise InvalidInputError("schedule 'multistep' needs milestones")
        if not -1 <= self.frozen_stages <= 4:
            raise InvalidInputError(f"frozen_stages must be in -1..4, got {self.frozen_stages}")

    @property
    def backbone_frozen(self) -> bool:
        return self.mode == "fixed"

    @property
    def effective_frozen_stages(self) -> int:
        """4 (everything) in fixed mode, the recipe's frozen_stages otherwise."""
        return 4 if self.backbone_frozen else self.frozen_stages

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        data = json.loads(text)
        return cls(**_coerce_all(data))


def _coerce_all(values: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(Recipe)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidInputError(f"unknown recipe fields {unknown}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def paper_recipe(task: str, family: str, mode: str = "full") -> Recipe:
    """The authors' settings for ``task`` and backbone ``family`` ('resnet', 'swin' or 'other')."""
    if task not in TASKS:
        raise unknown_name("task", task, TASKS)
    family = family if family in ("resnet", "swin") else "other"
    swin = family == "swin"
    if task in ("cifar10", "fashion-mnist"):
        recipe = Recipe(
            task=task,  # type: ignore[arg-type]
            family=family,  # type: ignore[arg-type]
            mode=mode,  # type: ignore[arg-type]
            optimizer="sgd",
            lr=0.01,
            momentum=0.9,
            weight_decay=5e-4,
            schedule="step",
            schedule_unit="epoch",
            step_size=30,
            gamma=0.1,
            epochs=150,
            batch_size=64,
            image_size=224,
        )
    elif task == "coco":
        common: dict[str, Any] = dict(
            task=task,
            family=family,
            mode=mode,
            schedule="multistep",
            schedule_unit="epoch",
            milestones=(16, 22),
            gamma=0.1,
            warmup_iters=500,
            warmup_ratio=0.001,
            epochs=24,
            batch_size=16,
            min_size=800,
            max_size=1333,
        )
        if swin:
            recipe = Recipe(
                **common,
                optimizer="adamw",
                lr=1e-4,
                weight_decay=0.05,
                no_decay_norm_and_position=True,
                drop_path=0.2,
                train_min_sizes=tuple(range(480, 801, 32)),
                crop_branch=True,
                frozen_stages=-1,
                norm_eval=False,
                amp=True,
            )
        else:
            recipe = Recipe(
                **common,
                optimizer="sgd",
                lr=0.04,
                momentum=0.9,
                weight_decay=1e-4,
                train_min_sizes=(800,),
                frozen_stages=1,
                norm_eval=True,
                grad_clip=None,
            )
    else:  # ade20k
        common = dict(
            task=task,
            family=family,
            mode=mode,
            schedule="poly",
            schedule_unit="iter",
            iters=80_000,
            batch_size=16,
        )
        if swin:
            recipe = Recipe(
                **common,
                optimizer="adamw",
                lr=6e-5,
                weight_decay=0.01,
                no_decay_norm_and_position=True,
                poly_power=1.0,
                min_lr=0.0,
                warmup_iters=1500,
                warmup_ratio=1e-6,
                drop_path=0.3,
                crop_size=512,
            )
        else:
            recipe = Recipe(
                **common,
                optimizer="sgd",
                lr=0.01,
                momentum=0.9,
                weight_decay=5e-4,
                poly_power=0.9,
                min_lr=1e-4,
                crop_size=512,
            )
    return recipe


def get_recipe(name: str, task: str, family: str, mode: str = "full") -> Recipe:
    if name not in RECIPES:
        raise unknown_name("recipe", name, RECIPES)
    return paper_recipe(task, family, mode)


def apply_overrides(recipe: Recipe, overrides: dict[str, str | Any]) -> Recipe:
    """``recipe`` with fields replaced; string values (``--set lr=0.001``) are parsed to the field's type."""
    if not overrides:
        return recipe
    hints = get_type_hints(Recipe)
    names = {f.name for f in fields(Recipe)}
    parsed: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in names:
            raise unknown_name("recipe field", key, sorted(names))
        parsed[key] = parse_value(key, value, hints[key]) if isinstance(value, str) else value
    if "epochs" in parsed and parsed["epochs"] is not None and "iters" not in parsed:
        parsed["iters"] = None
    if "iters" in parsed and parsed["iters"] is not None and "epochs" not in parsed:
        parsed["epochs"] = None
    return dataclasses.replace(recipe, **parsed)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["lr=0.001", "milestones=8,11"]`` -> ``{"lr": "0.001", "milestones": "8,11"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--set expects key=value, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def parse_value(key: str, text: str, hint: Any) -> Any:
    """Parse ``text`` into the type ``hint`` (int, float, bool, str, Literal, tuple, Optional)."""
    args = get_args(hint)
    origin = getattr(hint, "__origin__", None)
    if type(None) in args:  # Optional[X]
        if text.lower() in ("none", "null", ""):
            return None
        inner = [a for a in args if a is not type(None)]
        return parse_value(key, text, inner[0])
    if origin is tuple:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        return tuple(parse_value(key, p, args[0]) for p in parts)
    if origin is Literal:
        if text not in args:
            raise InvalidInputError(f"{key} must be one of {list(args)}, got {text!r}")
        return text
    try:
        if hint is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        raise InvalidInputError(f"{key}: cannot parse {text!r} as {hint.__name__}") from None
    return text
