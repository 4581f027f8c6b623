"""The ``rzoo`` command line: one module per noun, each a thin layer over the Python API.

Modules here import only typer/rich at import time so that ``rzoo --help`` stays fast; torch and
friends are imported inside the commands that need them.
"""

from __future__ import annotations

import os

import click
import typer
from typer.core import TyperGroup

from evaluator.openmp import sleep_when_idle
from zoo.errors import RzooError

sleep_when_idle()  # before any command imports torch (see evaluator/openmp.py)


class _RzooGroup(TyperGroup):
    """Turns :class:`RzooError` into ``error: <message>`` on stderr and a non-zero exit code.

    Set ``RZOO_DEBUG=1`` to get the traceback instead.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RzooError as err:
            if os.environ.get("RZOO_DEBUG"):
                raise
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


app = typer.Typer(
    name="rzoo",
    cls=_RzooGroup,
    help="Robust vision backbones: fetch, fine-tune, evaluate under corruptions, publish, serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _register_subcommands() -> None:
    """Every public module of this package is a noun with a ``register(app)`` function."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()
