"""``python -m zoo.finetune BACKBONE ...``: the ``rzoo finetune`` command, for torchrun."""

from __future__ import annotations

import typer

from zoo.cli import _RzooGroup
from zoo.cli.finetune import finetune_command


def main() -> None:
    app = typer.Typer(cls=_RzooGroup, add_completion=False, pretty_exceptions_enable=False)
    app.command("finetune")(finetune_command)
    app.command("help", hidden=True)(lambda: None)  # keep a group so _RzooGroup turns errors into one line
    app(args=["finetune", *__import__("sys").argv[1:]], prog_name="python -m zoo.finetune")


if __name__ == "__main__":
    main()
