"""``rzoo worker``: evaluate queued submissions (run as many as you like, on any host)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoo.cli.serve import DataRootOption, DbOption, HomeOption


def worker_command(
    db: DbOption = None,
    data_root: DataRootOption = Path("~/data"),
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:0, ...")] = "cpu",
    nproc_per_node: Annotated[
        int,
        typer.Option(help="Ranks per evaluation (torchrun; e.g. the GPUs of this host with --device cuda)."),
    ] = 1,
    home: HomeOption = Path("~/.rzoo/server"),
    max_jobs: Annotated[int | None, typer.Option(help="Exit after this many jobs.")] = None,
    lease_seconds: Annotated[float, typer.Option(help="Lease length; heartbeats renew it.")] = 60.0,
    heartbeat_seconds: Annotated[float, typer.Option(help="Seconds between heartbeats.")] = 10.0,
    memory_limit_gb: Annotated[float, typer.Option(help="Address-space limit per job (CPU jobs).")] = 32.0,
    work_dir: Annotated[
        Path | None, typer.Option(help="Job work folders (shared storage lets workers resume each other).")
    ] = None,
    poll_seconds: Annotated[float, typer.Option(help="Idle wait between queue polls.")] = 1.0,
    server: Annotated[
        str | None,
        typer.Option(help="API URL to fetch uploaded weights from (when the store is not shared)."),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Admin API token for --server.", envvar="RZOO_TOKEN")
    ] = None,
) -> None:
    """Claim jobs from the queue and run each in a child process with memory and time limits."""
    from evaluator.server.config import ServerConfig
    from evaluator.server.serve import run_worker

    config = ServerConfig(
        home=home.expanduser(),
        db_url=db,
        data_root=data_root.expanduser(),
        device=device,
        nproc_per_node=nproc_per_node,
        lease_seconds=lease_seconds,
        heartbeat_seconds=heartbeat_seconds,
        job_memory_limit_bytes=int(memory_limit_gb * 1024**3),
        jobs_dir=work_dir.expanduser() if work_dir else None,
        server_url=server,
        server_token=token,
    )
    run_worker(config, max_jobs=max_jobs, poll_seconds=poll_seconds)


def register(root: typer.Typer) -> None:
    root.command("worker")(worker_command)
