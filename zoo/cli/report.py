"""``rzoo report``: does ImageNet robustness transfer? Tables, figures and rank correlations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zoo.cli._common import print_table


def report_command(
    results: Annotated[
        list[Path], typer.Argument(help="rzoo results JSON files (or folders of them).", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for report.md, report.html and figures/.")
    ] = Path("report"),
    imagenet_c: Annotated[
        Path | None,
        typer.Option(
            "--imagenet-c",
            help="RobustBench unaggregated_results.csv: measured ImageNet-C accuracies (and mCE vs AlexNet).",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="JSON mapping checkpoints to backbone + transfer mode, RobustBench rows to backbones."
        ),
    ] = None,
    assign: Annotated[
        list[str] | None,
        typer.Option(
            "--assign", help="CHECKPOINT=BACKBONE[:fixed|full], repeatable; overrides the mapping file."
        ),
    ] = None,
    measure: Annotated[
        str, typer.Option(help="Upstream robustness on the x axis and in the correlation: mce | accuracy.")
    ] = "mce",
    no_zoo: Annotated[
        bool, typer.Option("--no-zoo", help="Do not use the zoo's reference ImageNet numbers.")
    ] = False,
) -> None:
    """Build the transfer report from any set of rzoo results: paper-layout tables, figures, correlations."""
    from evaluator.report import build_report, expand_paths, load_results
    from evaluator.report.identity import ReportMapping, load_mapping, merge_mappings, parse_assignment
    from evaluator.report.render import transfer_table_cells, upstream_table_cells
    from evaluator.robustbench import read_unaggregated_results

    files = expand_paths(results)
    loaded = load_results(files)
    rb = read_unaggregated_results(imagenet_c) if imagenet_c is not None else None
    explicit = ReportMapping(checkpoints=dict(parse_assignment(a) for a in assign or ()))
    combined = merge_mappings(load_mapping(mapping), explicit) if mapping is not None else explicit
    report = build_report(
        loaded,
        output,
        robustbench=rb,
        mapping=combined,
        measure=measure,
        use_zoo=not no_zoo,
        inputs=[str(f) for f in files],
    )

    columns, rows = upstream_table_cells(report.upstream)
    print_table("Upstream: ImageNet (%)", columns, rows)
    for section in report.sections:
        table = section.table
        _, columns, rows = transfer_table_cells(table, report.upstream)
        header = columns[:3] + [f"{m or '?'} {c}" for m in table.modes for c in ("clean", "mPC", "rPC")]
        print_table(f"{section.task}: {table.metric} (%)", header, rows)
        typer.echo(section.sentence)
    for line in report.missing_lines:
        typer.echo(f"missing upstream: {line}")
    typer.echo(f"wrote report.md, report.html, report.json and {len(report.figures)} figures to {output}")


def register(root: typer.Typer) -> None:
    root.command("report")(report_command)
