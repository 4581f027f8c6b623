"""The HTTP API and web pages (FastAPI; OpenAPI at ``/docs`` and ``/openapi.json``)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evaluator.results import TASKS
from evaluator.server import leaderboard as lb
from evaluator.server.auth import Principal, authenticate
from evaluator.server.config import ServerConfig
from evaluator.server.db import make_engine, migrate
from evaluator.server.models import Job, Result, Submission, User
from evaluator.server.queue import JobQueue
from evaluator.server.ratelimit import RateLimiter
from evaluator.server.store import UploadTooLarge, path_for
from evaluator.server.uploads import parse_submission_form
from zoo.errors import InvalidInputError, RzooError, UnsafeFileError

HUB_REVISION = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
ARCH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def create_app(config: ServerConfig, engine: Engine | None = None) -> FastAPI:
    """The ASGI app; applies pending migrations first."""
    config.home.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(config.database_url)
    migrate(engine)
    config.store_dir.mkdir(parents=True, exist_ok=True)
    app = FastAPI(
        title="rzoo evaluation server",
        version="1",
        description=(
            "Submit checkpoints for corruption-robustness evaluation and read the leaderboards. "
            "Authenticate with `Authorization: Bearer <token>` (tokens: `rzoo token create NAME`)."
        ),
    )
    app.state.config = config
    app.state.engine = engine
    app.state.queue = JobQueue(engine, lease_seconds=config.lease_seconds)
    app.state.limiter = RateLimiter(config.rate_limit_per_minute)
    app.state.leaderboard = LeaderboardCache()

    @app.exception_handler(RzooError)
    async def _rzoo_error(_request: Request, err: RzooError) -> JSONResponse:
        status = 413 if isinstance(err, UploadTooLarge) else 422 if isinstance(err, UnsafeFileError) else 400
        return JSONResponse({"detail": str(err)}, status_code=status)

    _api_routes(app)
    from evaluator.server.web import add_web_routes

    add_web_routes(app)
    return app


# ---- dependencies -----------------------------------------------------------------------------------
def get_session(request: Request):
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_user(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    principal = authenticate(session, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise HTTPException(
            401,
            "missing or invalid API token (send 'Authorization: Bearer <token>')",
            {"WWW-Authenticate": "Bearer"},
        )
    allowed, retry_after = request.app.state.limiter.allow(principal.name)
    if not allowed:
        raise HTTPException(
            429, f"rate limit exceeded for {principal.name}", {"Retry-After": str(int(retry_after) + 1)}
        )
    return principal


UserDep = Annotated[Principal, Depends(current_user)]


def check_task(task: str) -> str:
    if task not in TASKS:
        raise HTTPException(404, f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    return task


# ---- serialization ------------------------------------------------------------------------------------
def submission_json(sub: Submission, viewer: Principal | None) -> dict[str, Any]:
    job: Job | None = sub.job
    out: dict[str, Any] = {
        "id": sub.id,
        "task": sub.task,
        "model_name": sub.model_name,
        "submitted_by": sub.user.name,
        "source": sub.source,
        "architecture": sub.architecture,
        "weights_sha256": sub.weights_sha256,
        "weights_size": sub.weights_size,
        "hub_repo": sub.hub_repo,
        "hub_revision": sub.hub_revision,
        "model_card_url": lb.model_card_url(sub.hub_repo),
        "paper_url": lb.safe_http_url(sub.paper_url),
        "status": sub.status,
        "created_at": sub.created_at.isoformat() + "Z",
        "attempts": job.attempts if job else 0,
        "results_url": f"/api/submissions/{sub.id}/results" if sub.status == "done" else None,
    }
    if viewer is not None and (viewer.is_admin or viewer.user_id == sub.user_id) and job is not None:
        out["error"] = job.error
        out["log"] = job.log
    return out


class LeaderboardCache:
    """Ranked rows per task, recomputed only when the task's finished submissions change.

    The fingerprint (number of finished submissions, newest submission id, newest job finish time)
    is one cheap aggregate query; the expensive part (loading and summarising every result
    document) runs once per change. Each server process has its own cache, so it is correct with
    several hosts sharing one database.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple, list[lb.LeaderboardRow], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def rows(self, session: Session, task: str) -> tuple[tuple, list[lb.LeaderboardRow]]:
        key = tuple(
            session.execute(
                select(func.count(Submission.id), func.max(Submission.id), func.max(Job.finished_at))
                .join(Job, Job.submission_id == Submission.id)
                .where(Submission.task == task, Submission.status == "done")
            ).one()
        )
        with self._lock:
            cached = self._entries.get(task)
        if cached is not None and cached[0] == key:
            return key, cached[1]
        rows = leaderboard_entries(session, task)
        with self._lock:
            self._entries[task] = (key, rows, {})
        return key, rows

    def rendered(self, task: str, key: tuple, kind: str, render) -> Any:
        """A per-fingerprint memo for serialized forms (JSON body, CSV, HTML page)."""
        with self._lock:
            cached = self._entries.get(task)
            memo = cached[2] if cached is not None and cached[0] == key else None
            if memo is not None and kind in memo:
                return memo[kind]
        value = render()
        if memo is not None:
            with self._lock:
                memo[kind] = value
        return value


def leaderboard_entries(session: Session, task: str) -> list[lb.LeaderboardRow]:
    rows = session.execute(
        select(Submission, Result, User)
        .join(Result, Result.submission_id == Submission.id)
        .join(User, User.id == Submission.user_id)
        .where(Submission.task == task, Submission.status == "done")
        .order_by(Submission.id)
    ).all()
    seen: set[str] = set()
    unique = []
    for sub, result, user in rows:  # the same weights (by file and by Hub repo): the first submission
        if sub.weights_sha256 is None or sub.weights_sha256 not in seen:
            unique.append((sub, result, user))
            if sub.weights_sha256:
                seen.add(sub.weights_sha256)
    return lb.rank_rows(
        {
            "submission_id": sub.id,
            "model_name": sub.model_name,
            "submitted_by": user.name,
            "architecture": sub.architecture,
            "hub_repo": sub.hub_repo,
            "paper_url": sub.paper_url,
            "weights_sha256": sub.weights_sha256,
            "document": result.document,
        }
        for sub, result, user in unique
    )


def get_submission_or_404(session: Session, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise HTTPException(404, f"no submission {submission_id}")
    return sub


# ---- routes ------------------------------------------------------------------------------------------
def _api_routes(app: FastAPI) -> None:
    @app.get("/health", tags=["meta"], summary="Liveness probe")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/me", tags=["auth"], summary="Who the token belongs to")
    def me(user: UserDep) -> dict[str, Any]:
        return {"name": user.name, "is_admin": user.is_admin}

    @app.post(
        "/api/submissions",
        tags=["submissions"],
        summary="Submit a checkpoint for evaluation",
        status_code=201,
        responses={
            200: {"description": "The same weights were already submitted for this task (deduplicated)"},
            401: {"description": "Missing or invalid token"},
            413: {"description": "Upload over the size limit"},
            422: {"description": "Refused file (pickle, malformed safetensors, custom ONNX ops, bad name)"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["task"],
                            "properties": {
                                "task": {"type": "string", "enum": list(TASKS)},
                                "file": {
                                    "type": "string",
                                    "format": "binary",
                                    "description": ".safetensors or .onnx; streamed to disk",
                                },
                                "arch": {"type": "string", "description": "timm architecture (safetensors)"},
                                "model_name": {"type": "string"},
                                "paper_url": {"type": "string"},
                                "hub_repo": {"type": "string", "description": "instead of a file: org/name"},
                                "hub_revision": {"type": "string", "description": "commit or branch"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def create_submission(request: Request, user: UserDep) -> JSONResponse:
        """Upload a ``.safetensors`` (+ ``arch``) or ``.onnx`` file, or name a Hub repo and revision.

        Identical weights (same sha256) on the same task are evaluated once: the existing submission
        is returned with status 200 and ``"duplicate": true``.
        """
        config: ServerConfig = request.app.state.config
        form = await parse_submission_form(request, config.store_dir, config.max_upload_bytes)
        return await run_in_threadpool(_create_submission, request.app, user, form)

    @app.get("/api/submissions", tags=["submissions"], summary="List submissions")
    def list_submissions(
        session: SessionDep,
        user: UserDep,
        task: str | None = None,
        status: str | None = None,
        mine: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        query = select(Submission).order_by(Submission.id.desc()).limit(limit)
        if task:
            query = query.where(Submission.task == check_task(task))
        if status:
            query = query.where(Submission.status == status)
        if mine:
            query = query.where(Submission.user_id == user.user_id)
        return [submission_json(s, user) for s in session.scalars(query)]

    @app.get("/api/submissions/{submission_id}", tags=["submissions"], summary="One submission")
    def get_submission(submission_id: int, session: SessionDep, user: UserDep) -> dict[str, Any]:
        """Status for everyone with a token; the log and error only for its owner and admins."""
        return submission_json(get_submission_or_404(session, submission_id), user)

    @app.get("/api/submissions/{submission_id}/log", tags=["submissions"], summary="A submission's job log")
    def get_log(submission_id: int, session: SessionDep, user: UserDep) -> PlainTextResponse:
        sub = get_submission_or_404(session, submission_id)
        if not (user.is_admin or user.user_id == sub.user_id):
            raise HTTPException(403, "only the submitter or an admin can read this log")
        return PlainTextResponse(sub.job.log if sub.job else "")

    @app.delete("/api/submissions/{submission_id}", tags=["submissions"], summary="Withdraw a submission")
    def delete_submission(submission_id: int, session: SessionDep, user: UserDep) -> Response:
        sub = get_submission_or_404(session, submission_id)
        if not (user.is_admin or user.user_id == sub.user_id):
            raise HTTPException(403, "only the submitter or an admin can delete this submission")
        session.delete(sub)
        session.commit()
        return Response(status_code=204)

    @app.post("/api/submissions/{submission_id}/requeue", tags=["admin"], summary="Evaluate again (admins)")
    def requeue(submission_id: int, request: Request, session: SessionDep, user: UserDep) -> dict[str, Any]:
        if not user.is_admin:
            raise HTTPException(403, "admins only")
        sub = get_submission_or_404(session, submission_id)
        if sub.job is None or not request.app.state.queue.requeue(sub.job.id):
            raise HTTPException(409, "this submission has no job")
        session.expire_all()
        return submission_json(get_submission_or_404(session, submission_id), user)

    @app.get(
        "/api/weights/{sha256}.{fmt}",
        tags=["admin"],
        summary="Download stored weights (admins: workers on other hosts)",
        response_class=FileResponse,
    )
    def get_weights_file(sha256: str, fmt: str, request: Request, user: UserDep) -> FileResponse:
        if not user.is_admin:
            raise HTTPException(403, "admins only (workers use an admin token)")
        if fmt not in ("safetensors", "onnx"):
            raise HTTPException(404, "unknown format")
        path = path_for(request.app.state.config.store_dir, sha256, fmt)
        if not path.is_file():
            raise HTTPException(404, f"no stored weights {sha256}")
        return FileResponse(path, media_type="application/octet-stream")

    @app.get(
        "/api/submissions/{submission_id}/results",
        tags=["results"],
        summary="Corruption x severity results of a finished submission",
    )
    def get_results(submission_id: int, session: SessionDep) -> dict[str, Any]:
        sub = get_submission_or_404(session, submission_id)
        if sub.status != "done" or sub.result is None:
            raise HTTPException(409, f"submission {submission_id} is {sub.status}, not done")
        doc = sub.result.document
        metric = doc["metrics"][doc["primary_metric"]]
        return {
            "submission_id": sub.id,
            "task": sub.task,
            "metric": doc["primary_metric"],
            "clean": metric.get("clean"),
            "mPC": metric.get("mPC"),
            "rPC": metric.get("rPC"),
            "corrupted": metric.get("corrupted", {}),
            "document": doc,
        }

    @app.get("/api/leaderboard/{task}", tags=["leaderboard"], summary="Leaderboard of a task (JSON)")
    def leaderboard_json(task: str, request: Request) -> Response:
        """Rows ranked by mPC (fractions in [0, 1]), and the zoo's author-reported numbers apart."""
        check_task(task)
        cache: LeaderboardCache = request.app.state.leaderboard
        with Session(request.app.state.engine) as session:  # no dependency: one thread hop less
            key, rows = cache.rows(session, task)
        body = cache.rendered(
            task,
            key,
            "json",
            lambda: json.dumps(
                {
                    "task": task,
                    "ranked_by": "mPC",
                    "rows": [asdict(r) for r in rows],
                    "reported_by_authors": [asdict(r) for r in lb.reported_rows()],
                }
            ),
        )
        return Response(body, media_type="application/json")

    @app.get(
        "/api/leaderboard/{task}.csv",
        tags=["leaderboard"],
        summary="Leaderboard of a task (CSV)",
        response_class=PlainTextResponse,
    )
    def leaderboard_csv(task: str, request: Request) -> Response:
        check_task(task)
        cache: LeaderboardCache = request.app.state.leaderboard
        with Session(request.app.state.engine) as session:
            key, rows = cache.rows(session, task)
        return Response(cache.rendered(task, key, "csv", lambda: lb.to_csv(rows)), media_type="text/csv")

    # FastAPI matches routes in order: the .csv route must win over "{task}" for "cifar10-c.csv".
    app.router.routes.sort(key=lambda r: 0 if getattr(r, "path", "").endswith(".csv") else 1)


def _create_submission(app: FastAPI, user: Principal, form) -> JSONResponse:
    config: ServerConfig = app.state.config
    queue: JobQueue = app.state.queue
    fields = form.fields
    task = fields.get("task", "")
    if task not in TASKS:
        raise InvalidInputError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    arch = fields.get("arch") or None
    if arch is not None and not ARCH_NAME.match(arch):
        raise InvalidInputError(f"invalid architecture name {arch!r}")
    paper_url = fields.get("paper_url") or None
    if paper_url is not None and lb.safe_http_url(paper_url) is None:
        raise InvalidInputError("paper_url must be an http(s) URL")
    hub_repo, hub_revision = fields.get("hub_repo") or None, fields.get("hub_revision") or None
    if form.file is not None and hub_repo:
        raise InvalidInputError("send either a file or hub_repo, not both")
    if form.file is not None:
        stored = form.file
        source = stored.format
        dedup_key = f"{task}:sha256:{stored.sha256}"
        default_name = form.file_name.rsplit(".", 1)[0]
        # Workers find the file by digest in their own store (shared, or fetched from this API).
        payload = {"weights_sha256": stored.sha256, "format": stored.format, "arch": arch, "task": task}
    elif hub_repo:
        if not lb.HUB_REPO.match(hub_repo):
            raise InvalidInputError(f"invalid Hub repo id {hub_repo!r} (want org/name)")
        hub_revision = hub_revision or "main"
        if not HUB_REVISION.match(hub_revision):
            raise InvalidInputError(f"invalid Hub revision {hub_revision!r}")
        stored, source = None, "hf-hub"
        dedup_key = f"{task}:hub:{hub_repo}@{hub_revision}"
        default_name = hub_repo
        payload = {"checkpoint": f"hf-hub:{hub_repo}@{hub_revision}", "arch": arch, "task": task}
    else:
        raise InvalidInputError("send a .safetensors/.onnx file in the field 'file', or hub_repo")
    model_name = (fields.get("model_name") or default_name).strip()[:200] or default_name
    payload["model_name"] = model_name

    with Session(app.state.engine, expire_on_commit=False) as session:
        existing = session.scalar(select(Submission).where(Submission.dedup_key == dedup_key))
        if existing is not None:
            return JSONResponse({**submission_json(existing, user), "duplicate": True}, status_code=200)
        try:
            sub = Submission(
                user_id=user.user_id,
                task=task,
                model_name=model_name,
                source=source,
                architecture=arch,
                weights_sha256=stored.sha256 if stored else None,
                weights_size=stored.size if stored else None,
                hub_repo=hub_repo,
                hub_revision=hub_revision,
                paper_url=paper_url,
                dedup_key=dedup_key,
                status="queued",
            )
            session.add(sub)
            session.flush()
            queue.enqueue(
                session,
                "evaluate",
                payload,
                submission_id=sub.id,
                max_attempts=config.max_attempts,
                time_limit_s=config.job_time_limit_s,
            )
            session.commit()
        except IntegrityError:  # the same weights arrived concurrently
            session.rollback()
            existing = session.scalar(select(Submission).where(Submission.dedup_key == dedup_key))
            return JSONResponse({**submission_json(existing, user), "duplicate": True}, status_code=200)
        session.refresh(sub)
        return JSONResponse({**submission_json(sub, user), "duplicate": False}, status_code=201)
