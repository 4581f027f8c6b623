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
    wide: Annotated[bool, typer.Option("--wide", help="Also show architecture and recipe.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Name, aliases, ImageNet top-1, ImageNet-C mCE, params, license, where the weights come from.

    The table fits the terminal (80 columns and up); ``--wide`` adds architecture and recipe,
    ``--json`` prints every field.
    """
    from zoo import get_weights, list_models

    entries = [get_weights(n) for n in list_models(include)]
    if as_json:
        print_json([w.to_dict() for w in entries])
        return
    from rich.console import Console

    # Column sets by terminal width: below ~110 columns aliases and license do not fit next to the
    # names, so they are left to `--json` / `models info`.
    narrow = Console().width < 110 and not wide
    fields = {
        "name": lambda w: w.name,
        "architecture": lambda w: w.architecture,
        "recipe": lambda w: w.recipe,
        "aliases": lambda w: ", ".join(w.aliases),
        "top-1": lambda w: percent(w.metrics.imagenet_top1),
        "mCE": lambda w: percent(w.metrics.imagenet_c_mce),
        "params": lambda w: f"{w.num_params / 1e6:.1f}M",
        "license": lambda w: w.provenance.license,
        "weights": lambda w: "hub" if w.hub.is_published else "source",
    }
    columns = [c for c in fields if (wide or c not in {"architecture", "recipe"})]
    if narrow:
        columns = [c for c in columns if c not in {"aliases", "license"}]
    print_table(
        f"rzoo: {len(entries)} backbones",
        columns,
        [[fields[c](w) for c in columns] for w in entries],
        min_width=0,
        no_wrap=("name",),
    )
    print("top-1: ImageNet %, mCE: ImageNet-C %, as published (— = not verified).")
    print("weights: hub = on the Hugging Face Hub; source = built from the original")
    print("release by `rzoo fetch NAME --from-source`.")


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
    print_table(weights.name, ["field", "value"], rows, min_width=0, no_wrap=("field",))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
