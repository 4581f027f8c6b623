"""Load on the leaderboard: requests/s and p50/p99 latency with 50 concurrent clients on loopback.

Starts ``rzoo serve --workers 0`` as a real process on 127.0.0.1 (a free port) over a SQLite
database holding ``--submissions`` evaluated submissions, then drives it with concurrent
keep-alive clients (httpx, asyncio), bounded both in request count and in time. The reference is
the trivial ``/health`` endpoint measured in the same run: the ratio says what the leaderboard
query + rendering costs on top of the HTTP stack. Client and server share this machine's CPUs.

    python benchmarks/server_load.py [--clients 50] [--requests 2000] [--max-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Measurement:
    path: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def populate(home: Path, submissions: int) -> None:
    """Submissions with real rzoo.results/1 documents, finished through the queue's claim/finish."""
    from sqlalchemy.orm import Session

    from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
    from evaluator.results import CheckpointIdentity, EvalResult, summarize_metric
    from evaluator.server.auth import create_token
    from evaluator.server.db import make_engine, migrate, session_factory, transaction
    from evaluator.server.models import Submission, User
    from evaluator.server.queue import JobQueue

    home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{home / 'rzoo.sqlite3'}")
    migrate(engine)
    queue = JobQueue(engine)
    with transaction(session_factory(engine)) as s:
        create_token(s, "bench")
    with Session(engine) as s:
        user_id = s.query(User.id).scalar()
    for i in range(submissions):
        clean = 0.70 + 0.25 * ((i * 37) % 100) / 100
        table = {
            c: {sev: clean * (1 - 0.04 * sev - 0.003 * k) for sev in SEVERITIES}
            for k, c in enumerate(COMMON_CORRUPTIONS)
        }
        doc = EvalResult(
            task="cifar10-c",
            checkpoint=CheckpointIdentity(name=f"model-{i}"),
            primary_metric="top1",
            metrics={"top1": summarize_metric("top1", clean, table)},
            num_images=10000,
        ).to_dict()
        with Session(engine) as s, s.begin():
            sub = Submission(
                user_id=user_id, task="cifar10-c", model_name=f"model-{i}", source="safetensors",
                weights_sha256=f"{i:064x}", dedup_key=f"cifar10-c:sha256:{i:064x}", status="queued",
            )  # fmt: skip
            s.add(sub)
            s.flush()
            job_id = queue.enqueue(s, "evaluate", {}, submission_id=sub.id).id
        claimed = queue.claim("bench")
        assert claimed is not None and claimed.id == job_id
        queue.finish(job_id, "bench", doc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def hammer(base: str, path: str, clients: int, total: int, max_seconds: float) -> Measurement:
    import httpx

    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one_client() -> None:
            nonlocal errors, issued
            while issued < total and time.perf_counter() < deadline:
                issued += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get(path)
                    ok = response.status_code == 200
                except Exception:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        seconds = time.perf_counter() - start
    latencies.sort()
    return Measurement(
        path=path,
        requests=len(latencies),
        errors=errors,
        seconds=seconds,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint (upper bound)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="per endpoint (upper bound)")
    parser.add_argument("--submissions", type=int, default=50, help="rows on the leaderboard")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rzoo-load-") as tmp:
        home = Path(tmp) / "server"
        populate(home, args.submissions)
        port = free_port()
        env = dict(os.environ, PYTHONPATH=str(REPO))
        server = subprocess.Popen(
            [sys.executable, "-m", "zoo.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0", "--home", str(home)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base, server)
            asyncio.run(hammer(base, "/health", args.clients, 200, 5))  # warm-up
            results = [
                asyncio.run(hammer(base, path, args.clients, args.requests, args.max_seconds))
                for path in ("/health", "/api/leaderboard/cifar10-c", "/leaderboard/cifar10-c")
            ]
        finally:
            server.terminate()
            server.wait(timeout=20)

    health = results[0]
    print(f"rzoo server load: {args.clients} concurrent clients on 127.0.0.1, {args.submissions} leaderboard rows, "
          f"<= {args.requests} requests / <= {args.max_seconds:.0f} s per endpoint, {os.cpu_count()} CPUs shared by client and server")  # fmt: skip
    print(
        f"{'endpoint':32} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s vs /health':>17}"
    )
    for m in results:
        print(
            f"{m.path:32} {m.requests:8d} {m.errors:6d} {m.rps:8.1f} {m.p50_ms:8.1f} {m.p99_ms:8.1f} "
            f"{m.rps / health.rps:17.2f}"
        )
    return 0 if all(m.errors == 0 for m in results) else 1


def _wait_up(base: str, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"rzoo serve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("rzoo serve did not come up within 60 s")


if __name__ == "__main__":
    sys.exit(main())
