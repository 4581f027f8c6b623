"""Learning-rate schedules as pure functions of the optimizer step (mmcv's semantics).

``lr(step) = base_lr * factor(step)``; the schedule carries no state, so resuming only needs the step.
"""

from __future__ import annotations

from zoo.finetune.recipes import Recipe


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Multiplier of the base lr before optimizer step ``step`` (0-based)."""
    unit_progress = step // steps_per_epoch if recipe.schedule_unit == "epoch" else step
    if recipe.schedule == "constant":
        factor = 1.0
    elif recipe.schedule == "step":
        factor = recipe.gamma ** (unit_progress // recipe.step_size)
    elif recipe.schedule == "multistep":
        factor = recipe.gamma ** sum(1 for m in recipe.milestones if unit_progress >= m)
    else:  # poly, per iteration: (base - min) * (1 - t / T) ** p + min
        coeff = (1 - min(step, total_steps) / total_steps) ** recipe.poly_power
        min_factor = recipe.min_lr / recipe.lr
        factor = (1 - min_factor) * coeff + min_factor
    if step < recipe.warmup_iters:  # mmcv linear warmup on top of the regular schedule
        k = (1 - step / recipe.warmup_iters) * (1 - recipe.warmup_ratio)
        factor *= 1 - k
    return factor
