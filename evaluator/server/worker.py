"""A worker: claims jobs, runs each in a limited child process, heartbeats, reports the outcome.

``rzoo worker --db URL --data-root DIR`` runs :meth:`Worker.run_forever`; ``rzoo serve`` runs one
in a thread next to the web server. Any number of workers on any number of hosts may share a
PostgreSQL database (their work folders must then be on shared storage for resumption across hosts).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.server.config import ServerConfig
from evaluator.server.queue import ClaimedJob, JobQueue
from evaluator.server.store import fetch_into_store, path_for
from zoo.errors import InvalidInputError, RzooError

LOG_TAIL = 64 * 1024


@dataclass(frozen=True)
class JobOutcome:
    job_id: int
    status: str  # done | queued (retry) | failed | lost
    error: str | None = None


class Worker:
    def __init__(self, config: ServerConfig, queue: JobQueue, worker_id: str | None = None) -> None:
        self.config = config
        self.queue = queue
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stop = threading.Event()

    def run_forever(self, poll_seconds: float = 1.0, max_jobs: int | None = None) -> int:
        done = 0
        while not self.stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                outcome = self.run_one()
            except Exception:  # a database hiccup must not end the worker: its lease will expire
                traceback.print_exc()
                self.stop.wait(max(poll_seconds, 5.0))
                continue
            if outcome is None:
                self.stop.wait(poll_seconds)
            else:
                done += 1
        return done

    def run_one(self) -> JobOutcome | None:
        job = self.queue.claim(self.worker_id)
        if job is None:
            return None
        return self._run(job)

    # ---- one job --------------------------------------------------------------------------------
    def job_dir(self, job: ClaimedJob) -> Path:
        return self.config.work_dir / f"job-{job.id}"

    def checkpoint_for(self, payload: dict[str, Any]) -> str:
        """Where the job's weights are on this host: the store (shared, or filled from the API)."""
        if payload.get("checkpoint"):
            return payload["checkpoint"]
        sha256, fmt = payload["weights_sha256"], payload["format"]
        local = path_for(self.config.store_dir, sha256, fmt)
        if local.exists():
            return str(local)
        if not (self.config.server_url and self.config.server_token):
            raise InvalidInputError(
                f"weights {sha256} are not in {self.config.store_dir}: share the server's store or give "
                "the worker --server URL --token ADMIN_TOKEN to fetch them"
            )
        return str(
            fetch_into_store(
                self.config.store_dir,
                sha256,
                fmt,
                self.config.server_url,
                self.config.server_token,
                self.config.max_upload_bytes,
            )
        )

    def spec_for(self, job: ClaimedJob, work_dir: Path) -> dict[str, Any]:
        spec = dict(job.payload)
        if job.kind == "evaluate":
            spec["checkpoint"] = self.checkpoint_for(job.payload)
        spec["kind"] = job.kind
        spec["work_dir"] = str(work_dir)
        spec.setdefault("data_root", str(self.config.data_root))
        spec.setdefault("nproc_per_node", self.config.nproc_per_node)
        spec.setdefault("device", self.config.device)
        if self.config.device.startswith("cuda"):
            spec["memory_limit_bytes"] = None  # CUDA reserves huge address ranges: RLIMIT_AS breaks it
        else:
            spec.setdefault("memory_limit_bytes", self.config.job_memory_limit_bytes)
        return spec

    def _run(self, job: ClaimedJob) -> JobOutcome:
        work_dir = self.job_dir(job)
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "output.json").unlink(missing_ok=True)
        spec_path = work_dir / f"spec-{job.attempt}.json"
        try:
            spec = self.spec_for(job, work_dir)
        except RzooError as err:  # e.g. weights that cannot be found or fetched: retry elsewhere
            status = self.queue.fail(job.id, self.worker_id, str(err), retry=True, log=str(err))
            return JobOutcome(job.id, status, str(err))
        spec_path.write_text(json.dumps(spec))
        log_path = work_dir / "job.log"
        with log_path.open("ab") as log_fh:
            log_fh.write(f"--- attempt {job.attempt}/{job.max_attempts} on {self.worker_id}\n".encode())
            log_fh.flush()
            env = dict(os.environ, RZOO_RUNNER_PARENT=str(os.getpid()))
            child = subprocess.Popen(
                [sys.executable, "-m", "evaluator.server.runner", str(spec_path)],
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        started = time.monotonic()
        lost = timed_out = False
        while True:
            try:
                code = child.wait(timeout=self.config.heartbeat_seconds)
                break
            except subprocess.TimeoutExpired:
                pass
            if not self.queue.heartbeat(job.id, self.worker_id, _tail(log_path)):
                lost = True
            elif time.monotonic() - started > job.time_limit_s:
                timed_out = True
            if lost or timed_out or self.stop.is_set():
                _kill(child)
                code = child.wait()
                break
        log = _tail(log_path)
        if lost:
            return JobOutcome(job.id, "lost", "lease lost")
        if timed_out:
            status = self.queue.fail(
                job.id, self.worker_id, f"time limit of {job.time_limit_s} s exceeded", retry=False, log=log
            )
            return JobOutcome(job.id, status, "time limit exceeded")
        if self.stop.is_set() and code != 0:
            status = self.queue.fail(job.id, self.worker_id, "worker shut down", retry=True, log=log)
            return JobOutcome(job.id, status, "worker shut down")
        output_path = work_dir / "output.json"
        if code == 0 and output_path.exists():
            output = json.loads(output_path.read_text())
            ok = self.queue.finish(job.id, self.worker_id, output, log=log)
            return JobOutcome(job.id, "done" if ok else "lost")
        reason = _describe_exit(code)
        status = self.queue.fail(job.id, self.worker_id, f"{reason}\n{log[-2000:]}", retry=True, log=log)
        return JobOutcome(job.id, status, reason)


def start_worker_threads(config: ServerConfig, queue: JobQueue, count: int) -> list[Worker]:
    """In-process workers for ``rzoo serve`` (each job still runs in its own child process)."""
    workers = []
    for index in range(count):
        worker = Worker(config, queue, worker_id=f"{socket.gethostname()}:{os.getpid()}:embedded-{index}")
        threading.Thread(target=worker.run_forever, name=f"rzoo-worker-{index}", daemon=True).start()
        workers.append(worker)
    return workers


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - LOG_TAIL))
            return fh.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _kill(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def _describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        return f"the job process was killed by {name}" + (
            " (memory limit?)" if -code == signal.SIGKILL else ""
        )
    return f"the job process exited with status {code}"
