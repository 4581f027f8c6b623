"""``rzoo token create NAME``: API tokens for the evaluation server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoo.cli.serve import DbOption, HomeOption

app = typer.Typer(help="Manage API tokens of the evaluation server.", no_args_is_help=True)


@app.command("create")
def create_command(
    user: Annotated[str, typer.Argument(help="User name (created if new).")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the user the admin role.")] = False,
    db: DbOption = None,
    home: HomeOption = Path("~/.rzoo/server"),
) -> None:
    """Print a new token for USER (shown once; the server stores only its sha256)."""
    from evaluator.server.auth import create_token
    from evaluator.server.config import ServerConfig
    from evaluator.server.db import make_engine, migrate, session_factory, transaction

    config = ServerConfig(home=home.expanduser(), db_url=db)
    config.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        token = create_token(session, user, admin=admin)
    typer.echo(token)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="token")
