"""Leaderboard rows from stored results and from the zoo's author-reported numbers (pure functions)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from evaluator.protocol import COMMON_CORRUPTIONS, FAMILIES

FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
HUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class LeaderboardRow:
    """One rzoo-evaluated submission. Metrics are fractions in [0, 1]; families average the common
    corruptions of each family (holdout corruptions stay out, as in mPC)."""

    rank: int
    submission_id: int
    model_name: str
    submitted_by: str
    architecture: str | None
    clean: float | None
    mPC: float | None
    rPC: float | None
    mCE: float | None
    families: dict[str, float | None]
    model_card_url: str | None
    paper_url: str | None
    weights_sha256: str | None
    evaluated_by: str = "rzoo"


@dataclass(frozen=True)
class ReportedRow:
    """Numbers the authors report for a zoo entry (never evaluated by this server)."""

    model_name: str
    architecture: str
    imagenet_top1: float | None
    imagenet_c_mce: float | None
    model_card_url: str | None
    paper_url: str | None
    source: str
    evaluated_by: str = "authors"


def family_means(per_corruption: Mapping[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for family, names in FAMILIES.items():
        values = [per_corruption[c] for c in names if c in per_corruption and c in COMMON_CORRUPTIONS]
        out[family] = sum(values) / len(values) if values else None
    return out


def model_card_url(hub_repo: str | None) -> str | None:
    return f"https://huggingface.co/{hub_repo}" if hub_repo and HUB_REPO.match(hub_repo) else None


def safe_http_url(url: str | None) -> str | None:
    """Only http(s) links reach a page (a ``javascript:`` URL would run when clicked)."""
    if url and re.match(r"^https?://[^\s\"'<>]+$", url):
        return url
    return None


def rank_rows(entries: Iterable[dict[str, Any]]) -> list[LeaderboardRow]:
    """``entries``: dicts with the submission columns and its result ``document``; ranked by mPC."""
    rows = []
    for e in entries:
        doc = e["document"]
        metric = doc["metrics"][doc["primary_metric"]]
        rows.append(
            dict(
                submission_id=e["submission_id"],
                model_name=e["model_name"],
                submitted_by=e["submitted_by"],
                architecture=e.get("architecture"),
                clean=metric.get("clean"),
                mPC=metric.get("mPC"),
                rPC=metric.get("rPC"),
                mCE=metric.get("mCE"),
                families=family_means(metric.get("per_corruption", {})),
                model_card_url=model_card_url(e.get("hub_repo")),
                paper_url=safe_http_url(e.get("paper_url")),
                weights_sha256=e.get("weights_sha256"),
            )
        )
    rows.sort(key=lambda r: (r["mPC"] is None, -(r["mPC"] or 0.0), r["submission_id"]))
    return [LeaderboardRow(rank=i + 1, **r) for i, r in enumerate(rows)]


def reported_rows() -> list[ReportedRow]:
    """Author-reported upstream numbers from the zoo registry (ImageNet top-1, ImageNet-C mCE).

    Every board shows them in their own table: on ImageNet-C they are the authors' claims next to
    rzoo's measurements; on the downstream boards they are the upstream side of the transfer
    question. They never enter a ranking. Model cards are linked only for published Hub repos.
    """
    from zoo import get_weights, list_models

    out = []
    for name in list_models():
        w = get_weights(name)
        if w.metrics.imagenet_top1 is None and w.metrics.imagenet_c_mce is None:
            continue
        out.append(
            ReportedRow(
                model_name=w.name,
                architecture=w.architecture,
                imagenet_top1=w.metrics.imagenet_top1,
                imagenet_c_mce=w.metrics.imagenet_c_mce,
                model_card_url=model_card_url(w.hub.repo_id) if w.hub.is_published else None,
                paper_url=safe_http_url(w.provenance.paper_url),
                source=w.metrics.source,
            )
        )
    return out


CSV_COLUMNS = (
    "rank",
    "submission_id",
    "model_name",
    "submitted_by",
    "architecture",
    "clean",
    "mPC",
    "rPC",
    "mCE",
    *FAMILY_NAMES,
    "weights_sha256",
    "model_card_url",
    "paper_url",
    "evaluated_by",
)


def to_csv(rows: Iterable[LeaderboardRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        d = asdict(row)
        d.update(d.pop("families"))
        # repr() of a float round-trips exactly: the CSV holds the same numbers as the JSON
        writer.writerow(["" if d[c] is None else _cell(d[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def _cell(value: Any) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is neutralised with a quote.
    return "'" + text if isinstance(value, str) and text[:1] in ("=", "+", "-", "@") else text
