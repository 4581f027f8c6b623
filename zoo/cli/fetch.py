"""``rzoo fetch``: download (or build) verified weights into the Hugging Face cache."""

from __future__ import annotations

from typing import Annotated

import typer


def fetch_command(
    ref: Annotated[str, typer.Argument(help="Registry name or alias, or hf-hub:ORG/NAME[@REVISION].")],
    revision: Annotated[
        str | None, typer.Option("--revision", help="A commit sha, branch or tag (overrides the pin).")
    ] = None,
    from_source: Annotated[
        bool,
        typer.Option(
            "--from-source",
            help="Build the safetensors from the original release (checksum, safe unpickling).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Fetch NAME's weights (verified sha256) into the HF cache and print the local folder.

    Honours HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_HUB_OFFLINE and HF_TOKEN.
    """
    from zoo import fetch

    fetched = fetch(ref, revision=revision, from_source=from_source, progress=not quiet)
    typer.echo(str(fetched.folder))


def register(root: typer.Typer) -> None:
    root.command("fetch")(fetch_command)
