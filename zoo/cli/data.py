"""``rzoo data download cifar10-c --root DIR``: official benchmark data, checksummed and resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Benchmark datasets.", no_args_is_help=True)


@app.command("download")
def download_command(
    dataset: Annotated[
        str, typer.Argument(help="cifar10-c (ImageNet, COCO and ADE20K need their own licences).")
    ],
    root: Annotated[
        Path, typer.Option("--root", help="Where to put the data (then: rzoo eval --data-root).")
    ],
    keep_archives: Annotated[
        bool, typer.Option("--keep-archives", help="Keep the downloaded archives.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Download and verify (md5) a dataset; an interrupted download resumes where it stopped."""
    from evaluator.download import download_dataset

    for folder in download_dataset(dataset, root, progress=not quiet, keep_archives=keep_archives):
        typer.echo(f"ready: {folder}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
