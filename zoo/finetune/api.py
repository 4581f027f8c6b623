"""The Python API behind ``rzoo finetune`` / ``python -m zoo.finetune``: resolve the recipe, run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from zoo.finetune.recipes import Recipe, apply_overrides, get_recipe, parse_overrides
from zoo.finetune.trainer import RECIPE_FILE, RunOptions, RunResult, finetune


def resolve_recipe(
    backbone: str,
    task: str,
    mode: str,
    recipe_name: str = "paper",
    sets: list[str] | None = None,
    explicit: dict[str, Any] | None = None,
) -> Recipe:
    """The preset for the backbone's family, then ``--set key=value`` items, then explicit options."""
    from zoo.dense.backbone import backbone_family

    recipe = get_recipe(recipe_name, task, backbone_family(_architecture(backbone)), mode)
    recipe = apply_overrides(recipe, parse_overrides(sets or []))
    return apply_overrides(recipe, {k: v for k, v in (explicit or {}).items() if v is not None})


def _architecture(ref: str) -> str:
    from zoo._registry import get_weights, is_registered

    return get_weights(ref).architecture if is_registered(ref) else ref.split(".", 1)[0]


def run_finetune(
    backbone: str,
    *,
    task: str,
    mode: str,
    out: Path | None,
    data_root: Path | None = None,
    recipe_name: str = "paper",
    sets: list[str] | None = None,
    explicit: dict[str, Any] | None = None,
    resume: Path | None = None,
    **options: Any,
) -> RunResult:
    """Start (or with ``resume``, continue) a run. On resume the saved recipe is used unchanged."""
    from zoo.errors import InvalidInputError

    if resume is not None:
        if out is not None and Path(out) != Path(resume):
            raise InvalidInputError("--resume DIR continues the run in DIR; do not pass a different --out")
        run_dir = Path(resume)
        if not (run_dir / RECIPE_FILE).is_file():
            raise InvalidInputError(f"cannot resume: {run_dir / RECIPE_FILE} does not exist")
        recipe = Recipe.from_json((run_dir / RECIPE_FILE).read_text())
        # Options that repeat the saved recipe (e.g. --amp on an amp run) are fine; changes are not.
        requested = apply_overrides(
            apply_overrides(recipe, parse_overrides(sets or [])),
            {k: v for k, v in (explicit or {}).items() if v is not None},
        )
        if requested != recipe:
            saved = dataclasses.asdict(recipe)
            changed = sorted(k for k, v in dataclasses.asdict(requested).items() if saved[k] != v)
            raise InvalidInputError(
                f"a resumed run keeps its recipe; {', '.join(changed)} differ from {run_dir / RECIPE_FILE} "
                "(drop them, or start a new run)"
            )
        return finetune(
            recipe, RunOptions(backbone=backbone, out=run_dir, data_root=data_root, **options), resume=True
        )
    recipe = resolve_recipe(backbone, task, mode, recipe_name, sets, explicit)
    if out is None:
        raise InvalidInputError("--out DIR is required (or --resume DIR)")
    return finetune(recipe, RunOptions(backbone=backbone, out=Path(out), data_root=data_root, **options))
