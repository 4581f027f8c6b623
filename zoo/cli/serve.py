"""``rzoo serve``: the evaluation server (API, web leaderboard, embedded workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HomeOption = Annotated[
    Path, typer.Option("--home", help="Folder for the SQLite database, uploads and job work folders.")
]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SQLite in --home; postgresql://... for many hosts)."),
]
DataRootOption = Annotated[Path, typer.Option("--data-root", help="Where the benchmark datasets live.")]


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="In-process workers (0: only external `rzoo worker`s).")] = 1,
    db: DbOption = None,
    home: HomeOption = Path("~/.rzoo/server"),
    data_root: DataRootOption = Path("~/data"),
    device: Annotated[str, typer.Option(help="Device for embedded workers.")] = "cpu",
    max_upload_mb: Annotated[int, typer.Option(help="Upload size limit in MiB.")] = 2048,
    rate_limit: Annotated[int, typer.Option(help="API requests per minute per user.")] = 120,
    job_time_limit: Annotated[int, typer.Option(help="Seconds one evaluation may run.")] = 6 * 3600,
    memory_limit_gb: Annotated[float, typer.Option(help="Address-space limit per job (CPU jobs).")] = 32.0,
) -> None:
    """Serve the API and leaderboard (SQLite + one embedded worker unless told otherwise)."""
    from evaluator.server.config import ServerConfig
    from evaluator.server.serve import run_server

    config = ServerConfig(
        home=home.expanduser(),
        db_url=db,
        data_root=data_root.expanduser(),
        device=device,
        max_upload_bytes=max_upload_mb * 1024 * 1024,
        rate_limit_per_minute=rate_limit,
        job_time_limit_s=job_time_limit,
        job_memory_limit_bytes=int(memory_limit_gb * 1024**3),
    )
    run_server(config, host=host, port=port, workers=workers)


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)
