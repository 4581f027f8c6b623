"""``rzoo publish``: a fine-tuning run -> model card with robustness results -> one Hub commit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def publish_command(
    run_dir: Annotated[
        Path, typer.Argument(help="Run folder: config.json + model.safetensors (+ recipe.json).")
    ],
    repo_id: Annotated[str, typer.Option("--repo-id", help="Hub repo to publish to, ORG/NAME.")],
    results: Annotated[
        list[Path] | None,
        typer.Option("--results", help="rzoo results JSON (rzoo eval); repeat for several tasks."),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Create the repo private (new repos only).")
    ] = False,
    dry_run: Annotated[
        Path | None,
        typer.Option("--dry-run", metavar="OUT", help="Write the folder to OUT and upload nothing."),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(help="Zoo name of the backbone the run started from (default: from recipe.json)."),
    ] = None,
) -> None:
    """Build the Hub folder for RUN_DIR (weights, config, card, plot, results) and commit it in one commit.

    The token comes from HF_TOKEN or `hf auth login`; re-running with nothing changed makes no commit.
    """
    from zoo.publish import publish_run

    outcome = publish_run(
        run_dir, repo_id, list(results or ()), private=private, dry_run=dry_run, backbone=backbone
    )
    if outcome.upload is None:
        assert outcome.folder is not None
        files = sorted(
            p.relative_to(outcome.folder).as_posix() for p in outcome.folder.rglob("*") if p.is_file()
        )
        typer.echo(f"dry run: wrote the {repo_id} folder to {outcome.folder} ({', '.join(files)})")
        typer.echo(f"model.safetensors sha256 {outcome.weights_sha256}")
        return
    up = outcome.upload
    if up.changed:
        typer.echo(f"published {repo_id} at commit {up.commit_sha}: {up.url}")
    else:
        typer.echo(
            f"{repo_id} is already up to date at commit {up.commit_sha} (nothing changed, no new commit)"
        )
    typer.echo(f"model.safetensors sha256 {outcome.weights_sha256}")


def register(root: typer.Typer) -> None:
    root.command("publish")(publish_command)
