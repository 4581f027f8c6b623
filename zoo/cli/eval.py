"""``rzoo eval CKPT --task T --data-root DIR``: score a checkpoint on a corrupted benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

TASK_HELP = "cifar10-c | imagenet-c | coco-c | ade20k-c"


def _csv_list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _severities(value: str) -> tuple[int, ...]:
    from zoo.errors import InvalidInputError

    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError as err:
        raise InvalidInputError(f"--severities takes comma-separated integers, got {value!r}") from err


def default_work_dir(checkpoint: str, task: str) -> Path:
    """``rzoo-runs/<task>__<checkpoint slug>``: where shards go unless --work-dir says otherwise."""
    import re

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", checkpoint).strip("_")[-80:] or "checkpoint"
    return Path("rzoo-runs") / f"{task}__{slug}"


def eval_command(
    checkpoint: Annotated[
        str, typer.Argument(help="Zoo name, hf-hub:ORG/NAME[@REV], folder, .safetensors or .onnx.")
    ],
    task: Annotated[str, typer.Option("--task", help=TASK_HELP)],
    data_root: Annotated[Path, typer.Option("--data-root", help="Where the task's data lives.")],
    arch: Annotated[str | None, typer.Option(help="Architecture of a bare .safetensors file.")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate only the first N images.")] = None,
    subset: Annotated[
        int | None,
        typer.Option(
            help="imagenet-c: RobustBench's first N (1-5000) evaluation images "
            "(pip install --no-deps robustbench==1.1.1)."
        ),
    ] = None,
    corruptions: Annotated[str | None, typer.Option(help="Comma-separated, e.g. fog,snow.")] = None,
    severities: Annotated[str, typer.Option(help="Comma-separated, e.g. 1,3,5.")] = "1,2,3,4,5",
    holdout: Annotated[bool, typer.Option("--holdout", help="Also the 4 holdout corruptions.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    device: Annotated[str, typer.Option(help="cpu | cuda | cuda:N")] = "cpu",
    runtime: Annotated[str, typer.Option(help="torch | onnx (ONNX Runtime)")] = "torch",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Threads that decode and corrupt ahead of the model (default: 0 on the CPU, where the "
            "model uses every core and batches are prepared in turn; 2 on a GPU)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Benchmark seed of on-the-fly corruptions.")] = 0,
    work_dir: Annotated[
        Path | None, typer.Option("--work-dir", help="Where finished shards are kept.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Reuse finished shards of an interrupted run.")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the rzoo.results/1 JSON here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | markdown | csv | latex")] = "table",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Evaluate CKPT on a corrupted benchmark and print the table (torchrun: `python -m evaluator`)."""
    from evaluator import EvalConfig, evaluate
    from evaluator.distributed import init_from_env
    from evaluator.tables import FORMATS
    from zoo.errors import unknown_name

    if fmt not in FORMATS:
        raise unknown_name("format", fmt, FORMATS)
    cfg = EvalConfig(
        checkpoint=checkpoint,
        task=task,
        data_root=data_root,
        arch=arch,
        limit=limit,
        subset=subset,
        corruptions=_csv_list(corruptions),
        severities=_severities(severities),
        holdout=holdout,
        batch_size=batch_size,
        device=device,
        runtime=runtime,
        work_dir=work_dir or default_work_dir(checkpoint, task),
        resume=resume,
        seed=seed,
        progress=not quiet,
        num_workers=workers,
    )
    dist = init_from_env(device)
    result = evaluate(cfg)
    if not dist.is_main:
        return
    if out is not None:
        result.save(out)
    print_result(result, fmt)


def print_result(result, fmt: str) -> None:
    import sys

    from evaluator.tables import metric_rows, render, title
    from zoo.cli._common import print_table

    if fmt == "table":
        for metric in result.metrics.values():
            columns, rows = metric_rows(metric)
            print_table(title(result, metric), columns, rows)
    else:
        sys.stdout.write(render(result, fmt))


def register(root: typer.Typer) -> None:
    root.command("eval")(eval_command)
