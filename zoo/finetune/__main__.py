"""``python -m zoo.finetune BACKBONE ...``: the ``rzoo finetune`` command, for torchrun."""

from __future__ import annotations

import os
import sys

import typer

from zoo.cli.finetune import finetune_command
from zoo.errors import RzooError


def main() -> None:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(finetune_command)
    try:
        app(prog_name="python -m zoo.finetune")
    except RzooError as err:  # one line, like the rzoo CLI (RZOO_DEBUG=1 for the traceback)
        if os.environ.get("RZOO_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
