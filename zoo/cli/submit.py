"""``rzoo submit CKPT --task T --server URL --token TOKEN [--wait]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def submit_command(
    checkpoint: Annotated[
        str, typer.Argument(help="A .safetensors/.onnx file, or hf-hub:ORG/NAME[@REVISION].")
    ],
    task: Annotated[str, typer.Option(help="cifar10-c, imagenet-c, coco-c or ade20k-c.")],
    server: Annotated[str, typer.Option(help="Server URL.", envvar="RZOO_SERVER")] = "http://127.0.0.1:8000",
    token: Annotated[str, typer.Option(help="API token.", envvar="RZOO_TOKEN")] = "",
    arch: Annotated[str | None, typer.Option(help="timm architecture of a .safetensors file.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name on the leaderboard.")] = None,
    paper: Annotated[str | None, typer.Option(help="Paper URL to link.")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Poll until done and print the results JSON.")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds.")] = None,
) -> None:
    """Submit a checkpoint to an rzoo server for evaluation."""
    from evaluator.server.client import Client
    from zoo.cli._common import print_json
    from zoo.errors import InvalidInputError

    if not token:
        raise InvalidInputError("an API token is needed: --token or RZOO_TOKEN (`rzoo token create NAME`)")
    client = Client(server, token)
    if checkpoint.startswith("hf-hub:"):
        repo, _, revision = checkpoint[len("hf-hub:") :].partition("@")
        sub = client.submit_hub(repo, revision or "main", task, arch=arch, model_name=name, paper_url=paper)
    else:
        sub = client.submit_file(Path(checkpoint), task, arch=arch, model_name=name, paper_url=paper)
    if not wait:
        print_json(sub)
        return
    typer.echo(
        f"submission {sub['id']} {'(duplicate) ' if sub.get('duplicate') else ''}{sub['status']}; waiting...",
        err=True,
    )
    print_json(client.wait(sub["id"], timeout_s=timeout))


def register(root: typer.Typer) -> None:
    root.command("submit")(submit_command)
