"""``rzoo serve`` and ``rzoo worker``: wiring of the app, the queue and the workers."""

from __future__ import annotations

import signal
import threading

from evaluator.server.config import ServerConfig
from evaluator.server.db import make_engine, migrate
from evaluator.server.queue import JobQueue
from evaluator.server.worker import Worker, start_worker_threads


def run_server(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Migrate, start ``workers`` in-process workers, and serve HTTP until interrupted."""
    import uvicorn

    from evaluator.server.app import create_app

    config.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.database_url)
    app = create_app(config, engine)
    embedded = start_worker_threads(config, JobQueue(engine, config.lease_seconds), workers)
    print(
        f"rzoo server on http://{host}:{port} (database {engine.url.render_as_string()}, {workers} worker(s))",
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        for worker in embedded:
            worker.stop.set()


def run_worker(config: ServerConfig, max_jobs: int | None = None, poll_seconds: float = 1.0) -> int:
    """Process jobs until SIGTERM/SIGINT (or ``max_jobs``); returns how many ran."""
    config.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.database_url)
    migrate(engine)
    worker = Worker(config, JobQueue(engine, config.lease_seconds))
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop.set())
    print(f"rzoo worker {worker.worker_id} polling {engine.url.render_as_string()}", flush=True)
    return worker.run_forever(poll_seconds=poll_seconds, max_jobs=max_jobs)
