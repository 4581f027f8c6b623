"""Server-rendered pages (Jinja2 with autoescaping on; inline CSS/JS, no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evaluator.protocol import FAMILIES
from evaluator.results import METRIC_LABELS, TASKS
from evaluator.server import charts
from evaluator.server import leaderboard as lb
from evaluator.server.models import Submission

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
# Pages load nothing from elsewhere and run only our own script file: an injected inline script or
# event handler would not run even if escaping ever failed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every {{ value }} is HTML-escaped; user text is never marked safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, digits=1: "—" if v is None else f"{100 * v:.{digits}f}"
    env.filters["sortval"] = lambda v: "" if v is None else repr(float(v))
    return env


def add_web_routes(app: FastAPI) -> None:
    env = make_environment()
    sortable_js = (STATIC / "sortable.js").read_text()

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        is_docs = request.url.path in ("/docs", "/redoc")  # FastAPI's docs pages load their own assets
        if response.headers.get("content-type", "").startswith("text/html") and not is_docs:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response

    @app.get("/static/sortable.js", include_in_schema=False)
    def sortable_script() -> Response:
        return Response(sortable_js, media_type="text/javascript")

    def render(name: str, **context) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(tasks=TASKS, **context))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        with Session(request.app.state.engine) as s:
            counts = dict(
                s.execute(
                    select(Submission.task, func.count())
                    .where(Submission.status == "done")
                    .group_by(Submission.task)
                ).all()
            )
        return render("index.html.j2", counts=counts)

    @app.get("/leaderboard/{task}", response_class=HTMLResponse, include_in_schema=False)
    def leaderboard_page(task: str, request: Request) -> HTMLResponse:
        from evaluator.server.app import check_task

        check_task(task)
        cache = request.app.state.leaderboard
        with Session(request.app.state.engine) as s:
            key, rows = cache.rows(s, task)
        html = cache.rendered(
            task,
            key,
            "html",
            lambda: env.get_template("leaderboard.html.j2").render(
                tasks=TASKS,
                task=task,
                rows=rows,
                reported=lb.reported_rows(),
                families=tuple(FAMILIES),
                show_mce=task == "imagenet-c",
                report_figures=REPORT_FIGURES if rows and task != "imagenet-c" else (),
            ),
        )
        return HTMLResponse(html)

    @app.get("/leaderboard/{task}/figures/{kind}.png", include_in_schema=False)
    def leaderboard_figure(task: str, kind: str, request: Request) -> Response:
        """The transfer report's figures (``evaluator.report``) over this board's results."""
        from evaluator.server.app import check_task

        check_task(task)
        if kind not in REPORT_FIGURES or task == "imagenet-c":
            raise HTTPException(404, f"no {kind!r} figure for {task}")
        cache = request.app.state.leaderboard
        with Session(request.app.state.engine) as s:
            key, rows = cache.rows(s, task)
            documents = _documents(s, [r.submission_id for r in rows])
        if not documents:
            raise HTTPException(404, f"no evaluated submissions on {task} yet")
        figures = cache.rendered(task, key, "report-figures", lambda: _report_figures(documents))
        return Response(figures[kind], media_type="image/png", headers={"Cache-Control": "no-cache"})

    @app.get("/submissions/{submission_id}", response_class=HTMLResponse, include_in_schema=False)
    def submission_page(submission_id: int, request: Request) -> HTMLResponse:
        with Session(request.app.state.engine) as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise HTTPException(404, f"no submission {submission_id}")
            doc = sub.result.document if sub.result is not None and sub.status == "done" else None
            context = {
                "sub": sub,
                "submitted_by": sub.user.name,
                "model_card_url": lb.model_card_url(sub.hub_repo),
                "paper_url": lb.safe_http_url(sub.paper_url),
                "doc": doc,
                "heatmap": None,
                "curves": None,
                "holdout_heatmap": None,
                "metric_label": None,
                "metric": None,
                "families": None,
            }
            if doc is not None:
                metric = doc["metrics"][doc["primary_metric"]]
                table = _int_keys(metric.get("corrupted", {}))
                context.update(
                    metric=metric,
                    metric_label=METRIC_LABELS.get(doc["primary_metric"], doc["primary_metric"]),
                    heatmap=charts.heatmap(table) if table else None,
                    curves=charts.severity_curves(table, metric.get("clean")) if table else None,
                    families=lb.family_means(metric.get("per_corruption", {})),
                )
                holdout = metric.get("holdout")
                if holdout and holdout.get("corrupted"):
                    context["holdout_heatmap"] = charts.heatmap(_int_keys(holdout["corrupted"]))
            return render("submission.html.j2", **context)


REPORT_FIGURES = ("severity", "heatmap", "transfer")


def _documents(session: Session, submission_ids: list[int]) -> list[dict]:
    from evaluator.server.models import Result

    by_id = {
        r.submission_id: r.document
        for r in session.scalars(select(Result).where(Result.submission_id.in_(submission_ids)))
    }
    return [by_id[i] for i in submission_ids if i in by_id]


def _report_figures(documents: list[dict]) -> dict[str, bytes]:
    """Render the report's figures in memory (matplotlib, Agg); keyed by kind."""
    from evaluator.report import build_report
    from evaluator.results import EvalResult

    report = build_report([EvalResult.from_dict(d) for d in documents], None)
    return {fig.kind: fig.png for section in report.sections for fig in section.figures}


def _int_keys(table: dict) -> dict[str, dict[int, float]]:
    return {c: {int(s): float(v) for s, v in by.items()} for c, by in table.items()}
