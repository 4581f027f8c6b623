"""``rzoo corruptions list`` and ``rzoo corrupt``: the corruption engine on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoo.cli._common import print_json, print_table

app = typer.Typer(help="The 19 ImageNet-C corruptions: list them.", no_args_is_help=True)

PARAM_SETS = ("imagenet-c", "cifar10-c")  # kept in sync with evaluator.corruptions (tested)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Name, family, holdout?, random?, parameter sets."""
    from evaluator.corruptions import CORRUPTIONS

    rows = [
        {
            "name": spec.name,
            "family": spec.family,
            "holdout": spec.holdout,
            "random": spec.random,
            "parameter_sets": list(spec.params),
        }
        for spec in CORRUPTIONS.values()
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"rzoo: {len(rows)} corruptions, severities 1..5",
        ["name", "family", "holdout", "random", "parameter sets"],
        [
            (
                r["name"],
                r["family"],
                "yes" if r["holdout"] else "",
                "yes" if r["random"] else "",
                ", ".join(r["parameter_sets"]),
            )
            for r in rows
        ],
    )


def corrupt_command(
    picture: Annotated[Path, typer.Argument(help="Any picture PIL reads (converted to RGB).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write (.png, .jpg, ...).")],
    corruption: Annotated[
        str | None, typer.Option("--corruption", "-c", help="e.g. fog (see `rzoo corruptions list`).")
    ] = None,
    severity: Annotated[int, typer.Option("--severity", "-s", help="1..5.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the random corruptions.")] = 0,
    params: Annotated[str, typer.Option(help="Parameter set: imagenet-c or cifar10-c.")] = "imagenet-c",
    backend: Annotated[str, typer.Option(help="torch (ours) or reference (imagecorruptions).")] = "torch",
    grid: Annotated[
        bool, typer.Option("--grid", help="Every corruption x severity in one labelled picture.")
    ] = False,
    tile: Annotated[int, typer.Option(help="Grid cell size in px.")] = 160,
) -> None:
    """Corrupt one picture, or draw the grid of every corruption x severity (--grid)."""
    from evaluator.corruptions import CORRUPTIONS, corrupt
    from evaluator.corruptions._engine import check_params, check_severity, get_spec
    from evaluator.corruptions.pictures import check_writable, corruption_grid, read_picture, write_picture
    from zoo.errors import InvalidInputError

    check_writable(output)
    check_params(params)
    if grid:
        if corruption is not None:
            raise InvalidInputError("--grid draws every corruption; drop --corruption")
        if tile < 32:
            raise InvalidInputError(f"--tile must be at least 32 px, got {tile}")
        image = read_picture(picture)
        from rich.progress import Progress

        names = list(CORRUPTIONS)
        with Progress(transient=True) as progress:
            task = progress.add_task("corrupting", total=len(names) * 5)
            result = corruption_grid(
                image,
                names,
                seed=seed,
                params=params,
                backend=backend,
                tile=tile,
                on_cell=lambda *_: progress.advance(task),
            )
    else:
        if corruption is None:
            raise InvalidInputError("name a corruption with --corruption (or draw them all with --grid)")
        get_spec(CORRUPTIONS, corruption)
        check_severity(severity)
        image = read_picture(picture)
        result = corrupt(image, corruption, severity, seed=seed, params=params, backend=backend)
    write_picture(result, output)
    typer.echo(f"wrote {output} ({result.shape[1]}x{result.shape[0]})")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="corruptions")
    root.command("corrupt")(corrupt_command)
