"""``rzoo models list|info``: what the zoo holds."""

from __future__ import annotations

from typing import Annotated

import typer

from zoo.cli._common import percent, print_json, print_table

app = typer.Typer(help="List the zoo's backbones and show one entry.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


@app.command("list")
def list_command(
    include: Annotated[str, typer.Option(help="Glob over names and aliases.")] = "*",
    as_json: JsonOption = False,
) -> None:
    """Name, aliases, architecture, recipe, ImageNet top-1, ImageNet-C mCE, params, license, source."""
    from zoo import get_weights, list_models

    entries = [get_weights(n) for n in list_models(include)]
    if as_json:
        print_json([w.to_dict() for w in entries])
        return
    print_table(
        f"rzoo: {len(entries)} backbones",
        [
            "name",
            "aliases",
            "architecture",
            "recipe",
            "IN top-1",
            "IN-C mCE",
            "params (M)",
            "license",
            "source",
        ],
        [
            (
                w.name,
                ", ".join(w.aliases),
                w.architecture,
                w.recipe,
                percent(w.metrics.imagenet_top1, 2),
                percent(w.metrics.imagenet_c_mce),
                f"{w.num_params / 1e6:.1f}",
                w.provenance.license,
                w.hub.repo_id if w.hub.is_published or w.provenance.source is None else "original release",
            )
            for w in entries
        ],
    )


@app.command("info")
def info_command(name: str, as_json: JsonOption = False) -> None:
    """Everything the registry knows about one backbone (name or alias)."""
    from zoo import get_weights

    weights = get_weights(name)
    if as_json:
        print_json(weights.to_dict())
        return
    rows = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
        else:
            rows.append((prefix, value))

    walk("", weights.to_dict())
    print_table(weights.name, ["field", "value"], rows)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
