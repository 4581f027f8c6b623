"""``rzoo finetune BACKBONE --task cifar10|coco|ade20k --mode full|fixed ...``: transfer a backbone.

Also ``python -m zoo.finetune`` (same options) for ``torchrun --nproc_per_node N -m zoo.finetune``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def finetune_command(
    backbone: Annotated[
        str, typer.Argument(help="Zoo name or alias (rzoo models list), or a timm architecture.")
    ],
    task: Annotated[str, typer.Option(help="cifar10 | coco | ade20k | fashion-mnist")] = "cifar10",
    mode: Annotated[str, typer.Option(help="full (everything trains) | fixed (backbone frozen)")] = "full",
    data_root: Annotated[
        Path | None, typer.Option(help="Folder holding the dataset (see rzoo data download).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run folder: recipe, logs, checkpoints, final model.")
    ] = None,
    recipe: Annotated[str, typer.Option(help="Preset: paper (the authors' settings).")] = "paper",
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder exactly.")] = None,
    amp: Annotated[bool | None, typer.Option("--amp/--no-amp", help="Mixed precision (CUDA only).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the recipe's epochs.")] = None,
    iters: Annotated[int | None, typer.Option(help="Override the recipe's iterations.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Base learning rate.")] = None,
    accumulation_steps: Annotated[int | None, typer.Option(help="Gradient accumulation steps.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any recipe field: --set lr=0.001 --set milestones=8,11"),
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    scratch: Annotated[
        bool, typer.Option("--scratch", help="Start from random weights (debugging).")
    ] = False,
    checkpoint_every: Annotated[int, typer.Option(help="Save the training state every N steps.")] = 1000,
    log_every: Annotated[int, typer.Option(help="Log a JSONL line every N steps.")] = 10,
    num_workers: Annotated[int, typer.Option(help="DataLoader worker processes per rank.")] = 4,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps (resumable).")] = None,
    evaluate: Annotated[
        bool,
        typer.Option("--eval/--no-eval", help="Classification: clean test top-1 at the end (metrics.json)."),
    ] = True,
    eval_limit: Annotated[int | None, typer.Option(help="Evaluate on the first N test images only.")] = None,
    show_recipe: Annotated[
        bool, typer.Option("--show-recipe", help="Print the resolved recipe and exit.")
    ] = False,
) -> None:
    """Fine-tune BACKBONE on a downstream task; writes config.json + model.safetensors into --out."""
    from zoo.cli._common import print_json
    from zoo.finetune.api import resolve_recipe, run_finetune

    explicit = {"amp": amp, "epochs": epochs, "iters": iters, "batch_size": batch_size, "lr": lr,
                "accumulation_steps": accumulation_steps}  # fmt: skip
    if show_recipe:
        import dataclasses

        print_json(dataclasses.asdict(resolve_recipe(backbone, task, mode, recipe, set_, explicit)))
        return
    result = run_finetune(
        backbone,
        task=task,
        mode=mode,
        out=out,
        data_root=data_root,
        recipe_name=recipe,
        sets=set_,
        explicit=explicit,
        resume=resume,
        device=device,
        pretrained=not scratch,
        checkpoint_every=checkpoint_every,
        log_every=log_every,
        num_workers=num_workers,
        max_steps=max_steps,
        evaluate=evaluate,
        eval_limit=eval_limit,
    )
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        state = "finished" if result.finished else "stopped (resume with --resume)"
        typer.echo(f"{state} at step {result.step}/{result.total_steps}: {result.out}")


def register(root: typer.Typer) -> None:
    root.command("finetune")(finetune_command)
