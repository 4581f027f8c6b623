"""The job queue: atomic claims, leases renewed by heartbeats, bounded retries, idempotent results.

Claiming is one atomic step on both back ends:

* PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` picks the oldest claimable row that no other
  transaction holds, and the same transaction marks it running — two workers never get one job;
* SQLite: one conditional ``UPDATE ... WHERE id = (oldest claimable) AND <still claimable>
  RETURNING id`` (SQLite serializes writers, so the condition is checked and set atomically).

A job is claimable when it is queued, or running with an expired lease (its worker died). Each claim
counts an attempt; a job whose lease expires after its last attempt fails. Only the worker holding
the lease can heartbeat, finish or fail a job, so a worker that lost its lease cannot overwrite the
outcome of the one that took over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evaluator.server.models import Job, Result, Submission, utcnow

LOG_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    time_limit_s: int
    submission_id: int | None


def _claimable(now: dt.datetime):
    return or_(Job.status == "queued", and_(Job.status == "running", Job.lease_expires_at < now))


class JobQueue:
    def __init__(self, engine: Engine, lease_seconds: float = 60.0) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.dialect = engine.dialect.name

    # ---- producers ------------------------------------------------------------------------------
    def enqueue(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        *,
        submission_id: int | None = None,
        max_attempts: int = 3,
        time_limit_s: int = 6 * 3600,
    ) -> Job:
        job = Job(
            kind=kind,
            payload=payload,
            submission_id=submission_id,
            status="queued",
            attempts=0,
            max_attempts=max_attempts,
            time_limit_s=time_limit_s,
            log="",
        )
        session.add(job)
        session.flush()
        return job

    def requeue(self, job_id: int) -> bool:
        """Put a finished or failed job back in the queue with a fresh attempt budget (admin)."""
        with self.sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is None:
                return False
            job.status, job.attempts, job.worker_id, job.error = "queued", 0, None, None
            job.lease_expires_at = None
            self._sync_submission(s, job)
            return True

    # ---- workers --------------------------------------------------------------------------------
    def claim(self, worker_id: str) -> ClaimedJob | None:
        """Atomically take the oldest claimable job, or ``None`` when there is none."""
        self._fail_exhausted()
        now = utcnow()
        values = {
            "status": "running",
            "worker_id": worker_id,
            "attempts": Job.attempts + 1,
            "lease_expires_at": now + self.lease,
            "heartbeat_at": now,
            "started_at": now,
        }
        with self.sessions.begin() as s:
            if self.dialect == "postgresql":
                job_id = s.scalar(
                    select(Job.id)
                    .where(_claimable(now), Job.attempts < Job.max_attempts)
                    .order_by(Job.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if job_id is None:
                    return None
                s.execute(update(Job).where(Job.id == job_id).values(**values))
            else:
                oldest = (
                    select(Job.id)
                    .where(_claimable(now), Job.attempts < Job.max_attempts)
                    .order_by(Job.id)
                    .limit(1)
                    .scalar_subquery()
                )
                job_id = s.scalar(
                    update(Job)
                    .where(Job.id == oldest, _claimable(now), Job.attempts < Job.max_attempts)
                    .values(**values)
                    .returning(Job.id)
                )
                if job_id is None:
                    return None
            job = s.get(Job, job_id)
            s.refresh(job)
            self._sync_submission(s, job)
            return ClaimedJob(
                id=job.id,
                kind=job.kind,
                payload=dict(job.payload or {}),
                attempt=job.attempts,
                max_attempts=job.max_attempts,
                time_limit_s=job.time_limit_s,
                submission_id=job.submission_id,
            )

    def heartbeat(self, job_id: int, worker_id: str, log_tail: str | None = None) -> bool:
        """Renew the lease; ``False`` means this worker no longer holds the job and must stop."""
        now = utcnow()
        values: dict[str, Any] = {"lease_expires_at": now + self.lease, "heartbeat_at": now}
        if log_tail is not None:
            values["log"] = log_tail[-LOG_LIMIT:]
        with self.sessions.begin() as s:
            res = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.worker_id == worker_id, Job.status == "running")
                .values(**values)
            )
            return res.rowcount == 1

    def finish(
        self,
        job_id: int,
        worker_id: str,
        output: dict[str, Any] | None,
        log: str | None = None,
    ) -> bool:
        """Mark the job done and store its output; the submission's result row is upserted."""
        with self.sessions.begin() as s:
            job = s.scalar(select(Job).where(Job.id == job_id).with_for_update())
            if job is None or job.worker_id != worker_id or job.status != "running":
                return False
            job.status, job.finished_at, job.output, job.error = "done", utcnow(), output, None
            job.lease_expires_at = None
            if log is not None:
                job.log = log[-LOG_LIMIT:]
            if job.submission_id is not None and output is not None:
                upsert_result(s, job.submission_id, output)
                record_weights_digest(s, job.submission_id, output)
            self._sync_submission(s, job)
            return True

    def fail(self, job_id: int, worker_id: str, error: str, *, retry: bool, log: str | None = None) -> str:
        """Give the job back (``retry`` and attempts left) or fail it; returns the new status."""
        with self.sessions.begin() as s:
            job = s.scalar(select(Job).where(Job.id == job_id).with_for_update())
            if job is None or job.worker_id != worker_id or job.status != "running":
                return "lost"
            job.error = error[-4000:]
            job.lease_expires_at = None
            if log is not None:
                job.log = log[-LOG_LIMIT:]
            if retry and job.attempts < job.max_attempts:
                job.status, job.worker_id = "queued", None
            else:
                job.status, job.finished_at = "failed", utcnow()
            self._sync_submission(s, job)
            return job.status

    # ---- helpers --------------------------------------------------------------------------------
    def _fail_exhausted(self) -> None:
        """Jobs whose worker died during their last attempt: fail them (bounded retries)."""
        now = utcnow()
        with self.sessions.begin() as s:
            rows = s.scalars(
                select(Job).where(
                    Job.status == "running",
                    Job.lease_expires_at < now,
                    Job.attempts >= Job.max_attempts,
                )
            ).all()
            for job in rows:
                job.status, job.finished_at = "failed", now
                job.error = f"the worker stopped heartbeating on the last of {job.max_attempts} attempts"
                self._sync_submission(s, job)

    @staticmethod
    def _sync_submission(s: Session, job: Job) -> None:
        if job.submission_id is not None:
            s.execute(update(Submission).where(Submission.id == job.submission_id).values(status=job.status))


def record_weights_digest(s: Session, submission_id: int, document: dict[str, Any]) -> None:
    """Hub submissions learn their weights' sha256 only once evaluated: record it, so identical
    weights submitted by file and by repo show up once on the leaderboard."""
    digest = (document.get("checkpoint") or {}).get("sha256")
    if digest:
        s.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.weights_sha256.is_(None))
            .values(weights_sha256=digest)
        )


def upsert_result(s: Session, submission_id: int, document: dict[str, Any]) -> None:
    """Insert or replace the result of a submission (a re-run writes the same row again)."""
    primary = document["metrics"][document["primary_metric"]]
    values = {
        "task": document["task"],
        "clean": primary.get("clean"),
        "mpc": primary.get("mPC"),
        "rpc": primary.get("rPC"),
        "document": document,
    }
    existing = s.scalar(select(Result).where(Result.submission_id == submission_id))
    if existing is not None:
        for key, value in values.items():
            setattr(existing, key, value)
        return
    try:
        with s.begin_nested():
            s.add(Result(submission_id=submission_id, **values))
    except IntegrityError:  # inserted concurrently: update that row instead
        existing = s.scalar(select(Result).where(Result.submission_id == submission_id))
        for key, value in values.items():
            setattr(existing, key, value)
