"""The job queue with real workers: atomic claims on PostgreSQL, lease expiry after kill -9, limits.

PostgreSQL tests connect as the ``root`` role over the unix socket (``.ci/setup`` starts the
cluster and creates the role) and use a fresh database per test session, dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from evaluator.server.config import ServerConfig
from evaluator.server.db import make_engine, migrate, session_factory, transaction
from evaluator.server.models import Job
from evaluator.server.queue import JobQueue
from evaluator.server.worker import Worker
from tests.conftest import REPO_ROOT

PG_SOCKET = "/var/run/postgresql"


def _admin_connect():
    import psycopg

    return psycopg.connect(f"host={PG_SOCKET} dbname=postgres user=root", autocommit=True)


@pytest.fixture(scope="session")
def pg_url():
    try:
        conn = _admin_connect()
    except Exception:
        subprocess.run(["pg_ctlcluster", "15", "main", "start"], check=False, capture_output=True)
        time.sleep(2)
        try:
            conn = _admin_connect()
        except Exception as err:
            pytest.fail(f"PostgreSQL is not reachable on {PG_SOCKET} as role root (run .ci/setup): {err}")
    name = f"rzoo_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg:///{name}?host={PG_SOCKET}"
    with _admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _worker_process(url: str, home: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo.cli",
            "worker",
            "--db",
            url,
            "--home",
            str(home),
            "--poll-seconds",
            "0.2",
            *extra,
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _computations(work_dir: Path) -> list[tuple[str, int, int]]:
    log = work_dir / "computations.log"
    if not log.exists():
        return []
    return [
        (kind, int(i), int(pid)) for kind, i, pid in (line.split() for line in log.read_text().splitlines())
    ]


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _jobs(engine) -> list[Job]:
    with Session(engine) as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


def test_four_workers_do_twenty_jobs_exactly_once_on_postgres(pg_url, tmp_path):
    engine = make_engine(pg_url)
    migrate(engine)
    queue = JobQueue(engine)
    with transaction(session_factory(engine)) as s:
        for seed in range(20):
            queue.enqueue(s, "selftest", {"shards": 2, "shard_seconds": 0.05, "seed": seed})
    ids = [j.id for j in _jobs(engine)]
    workers = [_worker_process(pg_url, tmp_path, "--lease-seconds", "30") for _ in range(4)]
    try:
        _wait_for(lambda: all(j.status == "done" for j in _jobs(engine) if j.id in ids), 180, "20 jobs done")
    finally:
        _stop(workers)
    jobs = [j for j in _jobs(engine) if j.id in ids]
    assert [j.attempts for j in jobs] == [1] * 20  # claimed once each
    for job in jobs:
        calls = _computations(tmp_path / "jobs" / f"job-{job.id}")
        # every shard computed exactly once, by one process: no job ran twice
        assert Counter((k, i) for k, i, _ in calls) == {
            ("start", 0): 1,
            ("done", 0): 1,
            ("start", 1): 1,
            ("done", 1): 1,
        }
        assert len({pid for _, _, pid in calls}) == 1
        assert job.output["shards"] == 2
    assert len({j.worker_id for j in jobs}) >= 2, "the jobs should be spread over several workers"


def test_killed_worker_job_is_requeued_and_resumes_from_finished_shards(pg_url, tmp_path):
    engine = make_engine(pg_url)
    migrate(engine)
    queue = JobQueue(engine)
    with transaction(session_factory(engine)) as s:
        job_id = queue.enqueue(s, "selftest", {"shards": 6, "shard_seconds": 0.6}).id
    work_dir = tmp_path / "jobs" / f"job-{job_id}"
    lease = ("--lease-seconds", "2", "--heartbeat-seconds", "0.5")
    first = _worker_process(pg_url, tmp_path, *lease)
    try:
        _wait_for(
            lambda: sum(k == "done" for k, _, _ in _computations(work_dir)) >= 2, 90, "two finished shards"
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
        finished_before = {i for k, i, _ in _computations(work_dir) if k == "done"}
        child_pids = {pid for _, _, pid in _computations(work_dir)}
        # the job's child process dies with its worker (PR_SET_PDEATHSIG): no orphan keeps computing
        _wait_for(lambda: not any(_alive(p) for p in child_pids), 10, "the orphaned job process to die")
        assert _jobs(engine)[-1].status == "running"  # until the lease expires
        second = _worker_process(pg_url, tmp_path, *lease)
        try:
            _wait_for(lambda: _jobs(engine)[-1].status == "done", 90, "the re-queued job to finish")
        finally:
            _stop([second])
    finally:
        _stop([first])
    job = next(j for j in _jobs(engine) if j.id == job_id)
    assert job.attempts == 2 and job.output["shards"] == 6
    calls = _computations(work_dir)
    done = Counter(i for k, i, _ in calls if k == "done")
    assert done == dict.fromkeys(range(6), 1)  # nothing lost, nothing redone
    resumed_pids = {pid for k, i, pid in calls if k == "start" and i not in finished_before}
    for index in finished_before:  # finished shards were not started again by the second worker
        assert sum(1 for k, i, _ in calls if k == "start" and i == index) == 1
    assert resumed_pids - child_pids, "the second worker computed the remaining shards"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purposes
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.fixture
def sqlite_queue(tmp_path):
    config = ServerConfig(
        home=tmp_path, heartbeat_seconds=0.2, lease_seconds=5, job_memory_limit_bytes=1024**3, max_attempts=2
    )
    engine = make_engine(config.database_url)
    migrate(engine)
    return config, engine, JobQueue(engine, config.lease_seconds)


def test_time_limit_memory_limit_and_bounded_retries_on_sqlite(sqlite_queue):
    config, engine, queue = sqlite_queue
    with transaction(session_factory(engine)) as s:
        slow = queue.enqueue(s, "selftest", {"shards": 1, "shard_seconds": 30}, time_limit_s=1).id
        hungry = queue.enqueue(s, "selftest", {"shards": 1, "allocate_bytes": 2 * 1024**3}, max_attempts=2).id
        ok = queue.enqueue(s, "selftest", {"shards": 1, "shard_seconds": 0.01}).id
    worker = Worker(config, queue)
    start = time.monotonic()
    outcome = worker.run_one()
    assert outcome.job_id == slow and outcome.status == "failed" and time.monotonic() - start < 15
    # the memory hog fails in its child (MemoryError under RLIMIT_AS), is retried once, then fails for good
    assert worker.run_one().status == "queued"
    assert worker.run_one().status == "failed"
    assert worker.run_one().job_id == ok
    assert worker.run_one() is None
    jobs = {j.id: j for j in _jobs(engine)}
    assert "time limit of 1 s exceeded" in jobs[slow].error
    assert jobs[hungry].attempts == 2 and "MemoryError" in jobs[hungry].log
    assert jobs[ok].status == "done" and jobs[ok].attempts == 1


def test_expired_lease_is_reclaimed_and_a_stale_worker_cannot_finish(sqlite_queue):
    _config, engine, _ = sqlite_queue
    queue = JobQueue(engine, lease_seconds=0.3)
    with transaction(session_factory(engine)) as s:
        job_id = queue.enqueue(s, "selftest", {"shards": 1}, max_attempts=2).id
    first = queue.claim("a")
    assert first.id == job_id and queue.claim("b") is None  # held by a
    time.sleep(0.5)  # a stops heartbeating
    second = queue.claim("b")
    assert second.id == job_id and second.attempt == 2
    assert not queue.heartbeat(job_id, "a") and not queue.finish(job_id, "a", {"x": 1})
    assert queue.heartbeat(job_id, "b")
    time.sleep(0.5)  # b dies too, on the last attempt: the job fails instead of running forever
    assert queue.claim("c") is None
    job = _jobs(engine)[0]
    assert job.status == "failed" and "last of 2 attempts" in job.error


def test_concurrent_identical_uploads_on_postgres_make_one_submission(pg_url, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from evaluator.server import create_app
    from evaluator.server.models import Submission
    from evaluator.server.store import stored_files
    from tests.server_helpers import make_token, safetensors_bytes

    config = ServerConfig(home=tmp_path / "api", db_url=pg_url, rate_limit_per_minute=1000)
    app = create_app(config)
    headers = {"Authorization": f"Bearer {make_token(app.state.engine, 'dave')}"}
    data = safetensors_bytes(seed=11)

    def submit(_):
        with TestClient(app) as client:
            return client.post(
                "/api/submissions",
                data={"task": "coco-c", "arch": "resnet18"},
                files={"file": ("same.safetensors", data)},
                headers=headers,
            )

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(submit, range(6)))
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    with Session(app.state.engine) as s:
        subs = s.scalars(select(Submission).where(Submission.task == "coco-c")).all()
        assert len(subs) == 1
        assert len(s.scalars(select(Job).where(Job.submission_id == subs[0].id)).all()) == 1
    assert len(stored_files(config.store_dir)) == 1
    with TestClient(app) as client:  # leave no queued job behind for other tests on this database
        assert client.delete(f"/api/submissions/{subs[0].id}", headers=headers).status_code == 204


def test_worker_runs_an_evaluation_under_torchrun_with_the_single_process_numbers(sqlite_queue, tmp_path):
    from evaluator.onnx_io import export_onnx
    from evaluator.protocol import COMMON_CORRUPTIONS
    from tests.evalkit import CIFAR_DATA_CONFIG, tiny_cnn, write_cifar10, write_cifar10_c

    config, engine, queue = sqlite_queue
    data = tmp_path / "data"
    images, labels = write_cifar10(data, n=7)  # odd: the two ranks get 4 and 3 images
    write_cifar10_c(data, images, labels, list(COMMON_CORRUPTIONS))
    checkpoint = tmp_path / "tiny.onnx"
    export_onnx(tiny_cnn(seed=4), checkpoint, (3, 32, 32), data_config=dict(CIFAR_DATA_CONFIG))
    payload = {"checkpoint": str(checkpoint), "task": "cifar10-c", "batch_size": 4, "model_name": "tiny"}
    with transaction(session_factory(engine)) as s:
        single = queue.enqueue(s, "evaluate", payload).id
        ranks = queue.enqueue(s, "evaluate", payload).id
    base = {**config.__dict__, "data_root": data, "job_memory_limit_bytes": None}
    assert Worker(ServerConfig(**base), queue).run_one().status == "done"
    outcome = Worker(ServerConfig(**{**base, "nproc_per_node": 2}), queue).run_one()
    jobs = {j.id: j for j in _jobs(engine)}
    assert outcome.status == "done", jobs[ranks].log[-3000:]
    one, two = jobs[single].output, jobs[ranks].output
    assert one["manifest"]["world_size"] == 1 and two["manifest"]["world_size"] == 2
    assert two["metrics"] == one["metrics"] and one["num_images"] == two["num_images"] == 7
    assert len(one["metrics"]["top1"]["corrupted"]) == 15
