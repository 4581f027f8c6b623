"""Fixtures shared by the server tests: tokens, real safetensors files, result documents."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity, EvalResult, summarize_metric


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_token(engine, name: str, *, admin: bool = False) -> str:
    from evaluator.server.auth import create_token
    from evaluator.server.db import session_factory, transaction

    with transaction(session_factory(engine)) as session:
        return create_token(session, name, admin=admin)


def safetensors_bytes(seed: int = 0) -> bytes:
    import torch
    from safetensors.torch import save

    gen = torch.Generator().manual_seed(seed)
    return save({"fc.weight": torch.randn(4, 3, generator=gen), "fc.bias": torch.zeros(4)})


def result_document(
    name: str, clean: float, drop: float, task: str = "cifar10-c", sha256: str | None = None
) -> dict:
    """A real rzoo.results/1 document built with the schema's own summarizer."""
    table = {
        c: {s: max(0.0, clean - drop * s - 0.01 * i) for s in SEVERITIES}
        for i, c in enumerate(COMMON_CORRUPTIONS)
    }
    metric = summarize_metric("top1", clean, table)
    return EvalResult(
        task=task,
        checkpoint=CheckpointIdentity(name=name, source="safetensors", sha256=sha256),
        primary_metric="top1",
        metrics={"top1": metric},
        num_images=10,
    ).to_dict()


def finish_submission(engine, submission_id: int, document: dict) -> None:
    """Run the queue's real claim/finish path for a submission's job with a given result."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from evaluator.server.models import Job
    from evaluator.server.queue import JobQueue

    queue = JobQueue(engine)
    with Session(engine) as s:
        job_id = s.scalar(select(Job.id).where(Job.submission_id == submission_id))
    claimed = queue.claim(f"test-{job_id}")
    assert claimed is not None and claimed.id == job_id, "finish submissions in the order they were made"
    assert queue.finish(job_id, f"test-{job_id}", document)


def tree_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "the test server did not stop"
