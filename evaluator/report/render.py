"""Markdown and self-contained HTML for a :class:`~evaluator.report.build.Report` (pure string building).

Cells come from :func:`transfer_table_cells` and :func:`upstream_table_cells`, which the terminal
table (``rzoo report``) uses too, so the three renderings always show the same numbers.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from evaluator.report.figures import metric_label, task_label
from evaluator.report.tables import MODE_LABELS, TaskTable
from evaluator.report.upstream import UpstreamMetrics

if TYPE_CHECKING:
    from evaluator.report.build import Report

DASH = "—"
TITLE = "Does ImageNet robustness transfer?"
_STATS = ("clean", "mPC", "rPC")
NO_DOWNSTREAM = "No downstream results (CIFAR-10-C, COCO-C, ADE20K-C) among the inputs: nothing to correlate."


def pct(value: float | None, digits: int = 1) -> str:
    """0.7613 -> '76.1'; None -> an em dash."""
    return DASH if value is None else f"{100 * value:.{digits}f}"


def transfer_table_cells(
    table: TaskTable, upstream: Mapping[str, UpstreamMetrics]
) -> tuple[list[tuple[str, int]], list[str], list[list[str]]]:
    """(column groups as (label, span), column names, rows) of the paper-layout table, in percent."""
    groups = [("backbone", 1), ("ImageNet (upstream)", 2)] + [
        (MODE_LABELS[m], len(_STATS)) for m in table.modes
    ]
    columns = ["backbone", "IN top-1", "IN-C mCE"] + [s for _ in table.modes for s in _STATS]
    rows = []
    for backbone in table.backbones:
        up = upstream.get(backbone)
        cells = [
            backbone,
            pct(up.imagenet_top1.value if up else None),
            pct(up.imagenet_c_mce.value if up else None),
        ]
        for mode in table.modes:
            row = table.get(backbone, mode)
            cells += [pct(getattr(row, s)) if row else DASH for s in _STATS]
        rows.append(cells)
    return groups, columns, rows


def upstream_table_cells(upstream: Mapping[str, UpstreamMetrics]) -> tuple[list[str], list[list[str]]]:
    columns = ["backbone", "ImageNet top-1", "ImageNet-C mCE", "ImageNet-C top-1", "sources"]
    rows = []
    for name in sorted(upstream):
        up = upstream[name]
        values = (
            ("top-1", up.imagenet_top1),
            ("mCE", up.imagenet_c_mce),
            ("IN-C top-1", up.imagenet_c_accuracy),
        )
        sources = "; ".join(f"{label}: {v.source}" for label, v in values if v.source) or "none"
        rows.append([name, *(pct(v.value) for _, v in values), sources])
    return columns, rows


def render_markdown(report: Report) -> str:
    lines = [f"# {TITLE}", "", *_intro(report), ""]
    columns, rows = upstream_table_cells(report.upstream)
    lines += ["## Upstream: ImageNet", "", *_md_table(columns, rows), ""]
    if not report.sections:
        lines += [NO_DOWNSTREAM, ""]
    for section in report.sections:
        lines += [f"## {task_label(section.task)}", "", section.sentence, ""]
        for table in section.tables:
            _, columns, rows = transfer_table_cells(table, report.upstream)
            header = [columns[0], *columns[1:3]] + [
                f"{MODE_LABELS[m]} {s}" for m in table.modes for s in _STATS
            ]
            lines += [f"**{metric_label(table.metric)}** (%)", "", *_md_table(header, rows), ""]
        for fig in section.figures:
            lines += [f"![{_md_escape(fig.title)}]({fig.path})", ""]
    lines += ["## Missing upstream metrics", ""]
    lines += [f"- {_md_escape(line)}" for line in report.missing_lines] or ["None."]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {_md_escape(n)}" for n in report.notes)]
    return "\n".join(lines).rstrip() + "\n"


def render_html(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(TITLE)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{e(TITLE)}</h1>",
        *(f"<p>{e(p)}</p>" for p in _intro(report)),
        "<h2>Upstream: ImageNet</h2>",
    ]
    columns, rows = upstream_table_cells(report.upstream)
    parts.append(_html_table([(c, 1) for c in columns], None, rows))
    if not report.sections:
        parts.append(f"<p>{e(NO_DOWNSTREAM)}</p>")
    for section in report.sections:
        parts += [
            f'<h2 id="{e(section.task)}">{e(task_label(section.task))}</h2>',
            f'<p class="finding">{e(section.sentence)}</p>',
        ]
        for table in section.tables:
            groups, columns, rows = transfer_table_cells(table, report.upstream)
            parts += [f"<h3>{e(metric_label(table.metric))} (%)</h3>", _html_table(groups, columns, rows)]
        for fig in section.figures:
            parts.append(
                f'<figure><img src="{e(fig.path)}" alt="{e(fig.title)}" width="{fig.width}" '
                f'height="{fig.height}"><figcaption>{e(fig.title)}</figcaption></figure>'
            )
    parts.append("<h2>Missing upstream metrics</h2>")
    if report.missing_lines:
        parts.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in report.missing_lines) + "</ul>")
    else:
        parts.append("<p>None.</p>")
    if report.notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{e(n)}</li>" for n in report.notes) + "</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _intro(report: Report) -> list[str]:
    from zoo import __version__

    measure = report.measure
    return [
        f"Generated by rzoo {__version__} from {len(report.inputs)} results file(s). "
        "Downstream robustness is rPC = mPC / clean (higher is more robust); upstream robustness is "
        f"{measure.label.removesuffix(' (%)')} ({measure.better} is more robust). "
        "All numbers are percentages; a dash is a number nobody supplied.",
    ]


def _md_escape(text: str) -> str:
    for ch in "\\|*_[]<>`":
        text = text.replace(ch, "\\" + ch)
    return text


def _md_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(_md_escape(c) for c in columns) + " |"]
    out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
    out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return out


def _html_table(
    groups: Sequence[tuple[str, int]], columns: Sequence[str] | None, rows: Sequence[Sequence[str]]
) -> str:
    e = html.escape
    if columns is None:  # one header row
        head = "<tr>" + "".join(f"<th>{e(label)}</th>" for label, _ in groups) + "</tr>"
    else:  # the paper's two header rows: groups (backbone spans both), then the stats under each
        first, *rest = groups
        head = f'<tr><th rowspan="2">{e(first[0])}</th>'
        head += "".join(f'<th colspan="{span}">{e(label)}</th>' for label, span in rest) + "</tr>"
        head += "<tr>" + "".join(f"<th>{e(c)}</th>" for c in columns[1:]) + "</tr>"
    body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _html_cell(text: str) -> str:
    """Numbers and dashes align right (the default); words (names, sources) align left."""
    numeric = text == DASH or text.replace(".", "", 1).lstrip("-").isdigit()
    return f"<td>{html.escape(text)}</td>" if numeric else f'<td class="t">{html.escape(text)}</td>'


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em}"
    "td{text-align:right}td.t{text-align:left}th{background:#f3f3f3}"
    ".finding{font-weight:600}figure{margin:1em 0}img{max-width:100%;height:auto}"
)
