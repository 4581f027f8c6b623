"""The server's tables (SQLAlchemy 2.x declarative models).

The schema is owned by the Alembic migrations in ``evaluator/server/migrations``; these classes
must match them (``tests/test_server_api.py`` checks that a migrated database has no drift).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    """An API token, stored as the sha256 of a 256-bit random secret (never the secret itself)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class Submission(Base):
    """A checkpoint someone asked the server to evaluate on one task.

    ``dedup_key`` is ``<task>:sha256:<weights sha256>`` for uploads and ``<task>:hub:<repo>@<revision>``
    for Hub submissions; it is unique, so the same weights on the same task are evaluated once.
    """

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    task: Mapped[str] = mapped_column(String(32), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))  # safetensors | onnx | hf-hub
    architecture: Mapped[str | None] = mapped_column(String(200), nullable=True)
    weights_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    weights_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hub_repo: Mapped[str | None] = mapped_column(String(200), nullable=True)
    hub_revision: Mapped[str | None] = mapped_column(String(100), nullable=True)
    paper_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()
    job: Mapped[Job | None] = relationship(
        back_populates="submission", uselist=False, cascade="all, delete-orphan", passive_deletes=True
    )
    result: Mapped[Result | None] = relationship(
        back_populates="submission", uselist=False, cascade="all, delete-orphan", passive_deletes=True
    )


class Job(Base):
    """A unit of work in the queue; one per submission (``kind='evaluate'``) or a queue self-test.

    ``status``: queued -> running (a worker holds a lease until ``lease_expires_at``, renewed by
    heartbeats) -> done | failed. A running job whose lease expired is claimable again; every claim
    counts an attempt, and a job that used up ``max_attempts`` fails.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="evaluate")
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    time_limit_s: Mapped[int] = mapped_column(Integer, default=6 * 3600)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    log: Mapped[str] = mapped_column(Text, default="")
    output: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    submission: Mapped[Submission | None] = relationship(back_populates="job")


class Result(Base):
    """The ``rzoo.results/1`` document of a finished submission plus the columns leaderboards sort by."""

    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("submission_id", name="uq_results_submission"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(32), index=True)
    clean: Mapped[float | None] = mapped_column(Float, nullable=True)
    mpc: Mapped[float | None] = mapped_column(Float, nullable=True)
    rpc: Mapped[float | None] = mapped_column(Float, nullable=True)
    document: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="result")
