"""The child process that runs one job: ``python -m evaluator.server.runner SPEC.json``.

It first limits itself (address space via ``RLIMIT_AS``, dies with its parent via
``PR_SET_PDEATHSIG``), then runs the job and writes ``output.json`` atomically into the job's work
folder. Everything a job computes is resumable from that folder: a re-queued job skips the shards
it already finished.

Job kinds:

* ``evaluate``: :func:`evaluator.evaluate` on the submitted checkpoint; per (corruption, severity)
  shards live in ``work_dir`` (the evaluator resumes from them). With ``nproc_per_node`` > 1 the
  child execs ``torchrun`` and every rank evaluates its share of each shard (rank 0 writes);
* ``selftest``: the queue's self-test: ``shards`` shards of ``shard_seconds`` each, every shard
  written atomically and every computation recorded in ``computations.log`` (start/done lines), so
  tests can count that no finished shard is lost or redone (``allocate_bytes`` first allocates
  that much memory, to exercise the memory limit).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from evaluator.results import atomic_write_text

PR_SET_PDEATHSIG = 1


def limit_self(memory_bytes: int | None, parent_pid: int | None, *, die_with_parent: bool = True) -> None:
    """Cap the address space (inherited by children) and die with the parent process."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if die_with_parent and sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # kept across execve (torchrun below)
        if parent_pid is not None and os.getppid() != parent_pid:  # it died before prctl took effect
            os._exit(3)


def run_selftest(spec: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    if spec.get("allocate_bytes"):  # exercises the memory limit: fails with MemoryError under RLIMIT_AS
        ballast = bytearray(int(spec["allocate_bytes"]))
        del ballast
    shards = int(spec["shards"])
    seconds = float(spec.get("shard_seconds", 0.1))
    log = work_dir / "computations.log"
    digests = []
    for index in range(shards):
        shard = work_dir / f"shard-{index:04d}.json"
        if not shard.exists():
            _append(log, f"start {index} {os.getpid()}\n")
            deadline = time.monotonic() + seconds
            value = hashlib.sha256(f"{spec.get('seed', 0)}:{index}".encode()).hexdigest()
            while time.monotonic() < deadline:
                time.sleep(min(0.02, seconds))
            atomic_write_text(shard, json.dumps({"index": index, "value": value, "pid": os.getpid()}))
            _append(log, f"done {index} {os.getpid()}\n")
            print(f"shard {index + 1}/{shards} done", flush=True)
        digests.append(json.loads(shard.read_text())["value"])
    return {"shards": shards, "digest": hashlib.sha256("".join(digests).encode()).hexdigest()}


def run_evaluate(spec: dict[str, Any], work_dir: Path) -> dict[str, Any]:
    from evaluator import EvalConfig, evaluate

    cfg = EvalConfig(
        checkpoint=spec["checkpoint"],
        task=spec["task"],
        data_root=Path(spec["data_root"]),
        arch=spec.get("arch"),
        limit=spec.get("limit"),
        batch_size=int(spec.get("batch_size", 64)),
        device=spec.get("device", "cpu"),
        runtime=spec.get("runtime", "torch"),
        work_dir=work_dir / "shards",
        resume=True,
        seed=int(spec.get("seed", 0)),
        progress=False,
    )
    result = evaluate(cfg)
    document = result.to_dict()
    if spec.get("model_name"):
        document["checkpoint"]["name"] = spec["model_name"]
    return document


KINDS = {"selftest": run_selftest, "evaluate": run_evaluate}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    if "LOCAL_RANK" in os.environ:  # a rank started by torchrun: die with torchrun
        limit_self(None, None)
    else:
        parent = os.environ.get("RZOO_RUNNER_PARENT")
        limit_self(spec.get("memory_limit_bytes"), int(parent) if parent else None)
        nproc = int(spec.get("nproc_per_node") or 1)
        if nproc > 1 and spec["kind"] == "evaluate":
            # Become torchrun (same pid: the worker's heartbeat/kill logic and the parent-death
            # signal still apply); each rank runs this module again and evaluates its share.
            os.execv(sys.executable, [sys.executable, *torchrun_args(nproc), argv[0]])
    work_dir = Path(spec["work_dir"])
    work_dir.mkdir(parents=True, exist_ok=True)
    output = KINDS[spec["kind"]](spec, work_dir)
    if int(os.environ.get("RANK", "0")) == 0:
        atomic_write_text(work_dir / "output.json", json.dumps(output))
    return 0


def torchrun_args(nproc: int) -> list[str]:
    return ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", __spec__.name]


def _append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
