"""Report figures: axes, plotted data and PNG encoding (checked on the Figure, then on the bytes)."""

from __future__ import annotations

import struct

import numpy as np

from evaluator.protocol import COMMON_CORRUPTIONS
from evaluator.report import (
    FIGURE_SIZE_PX,
    Sourced,
    UpstreamMetrics,
    corruption_heatmap,
    png_bytes,
    severity_curves,
    transfer_scatter,
)
from evaluator.report.identity import Identified
from evaluator.report.tables import task_tables
from tests.report_fixtures import downstream, make_result, wiggle

BACKBONES = ("net.a", "net.b", "net.c")
MCE = {"net.a": 0.75, "net.b": 0.62}  # net.c has no upstream number


def _table(task: str = "cifar10-c"):
    results = []
    for i, backbone in enumerate(BACKBONES):
        results.append(downstream(task, backbone, "fixed", 0.80 + 0.01 * i, 0.05 + 0.01 * i))
        results.append(downstream(task, backbone, "full", 0.90 + 0.01 * i, 0.08 - 0.01 * i))
    identified = [
        (r, Identified(r.checkpoint.base_model, r.checkpoint.transfer_mode, "checkpoint")) for r in results
    ]
    return task_tables(identified)[task][0]


def _upstream():
    return {
        b: UpstreamMetrics(b, imagenet_c_mce=Sourced(MCE[b], "test") if b in MCE else Sourced())
        for b in BACKBONES
    }


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_transfer_scatter_plots_one_labelled_point_per_backbone_and_mode() -> None:
    table = _table()
    fig = transfer_scatter(table, _upstream())
    (ax,) = fig.axes
    assert ax.get_xlabel() == "ImageNet-C mCE (%) — lower is more robust"
    assert ax.get_ylabel() == "CIFAR-10-C rPC of top-1 accuracy (%)"
    assert ax.get_title() == "Does ImageNet robustness transfer to CIFAR-10-C?"
    points = sorted(tuple(np.round(p, 6)) for coll in ax.collections for p in coll.get_offsets())
    expected = sorted(
        (round(100 * MCE[r.backbone], 6), round(100 * r.rPC, 6)) for r in table.rows if r.backbone in MCE
    )
    assert points == expected and len(points) == 4  # net.c (no mCE) is not drawn
    assert sorted(t.get_text() for t in ax.texts) == ["net.a", "net.a", "net.b", "net.b"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fixed-feature", "full fine-tuning"]
    assert _png_size(png_bytes(fig)) == FIGURE_SIZE_PX


def test_transfer_scatter_with_accuracy_and_nothing_to_draw() -> None:
    fig = transfer_scatter(_table("coco-c"), _upstream(), measure="accuracy")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "ImageNet-C top-1 accuracy (%) — higher is more robust"
    assert ax.get_ylabel() == "COCO-C rPC of box AP (%)"
    assert not ax.collections
    assert "no backbone has both ImageNet-C top-1 accuracy and a COCO-C rPC" in ax.texts[0].get_text()


def test_severity_curves_start_at_clean_and_follow_the_severity_means() -> None:
    table = _table()
    fig = severity_curves(table)
    absolute, relative = fig.axes
    assert fig.get_suptitle() == "CIFAR-10-C: top-1 accuracy vs corruption severity"
    assert absolute.get_xlabel() == relative.get_xlabel() == "corruption severity (0 = clean)"
    assert absolute.get_ylabel() == "top-1 accuracy (%), mean over corruptions"
    assert relative.get_ylabel() == "relative to clean (P_s / P_clean)"
    assert len(absolute.lines) == len(relative.lines) == 6
    row = table.get("net.b", "full")
    line = next(line for line in absolute.lines if line.get_label() == "net.b (full)")
    assert list(line.get_xdata()) == [0, 1, 2, 3, 4, 5]
    # the wiggle averages out over the 15 corruptions: y(s) = clean * (1 - k s)
    assert np.allclose(line.get_ydata(), [100 * row.clean * (1 - 0.07 * s) for s in range(6)])
    rel = next(line for line in relative.lines if line.get_label() == "net.b (full)")
    assert np.allclose(rel.get_ydata(), [1 - 0.07 * s for s in range(6)])
    assert line.get_linestyle() == "-" and absolute.lines[0].get_linestyle() == "--"
    assert _png_size(png_bytes(fig)) == FIGURE_SIZE_PX


def test_heatmap_cells_are_relative_performance_per_corruption() -> None:
    table = _table()
    fig = corruption_heatmap(table)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "backbone (transfer mode)" and ax.get_ylabel() == "corruption"
    assert ax.get_title() == "CIFAR-10-C: relative top-1 accuracy per corruption"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(COMMON_CORRUPTIONS)
    assert [t.get_text() for t in ax.get_xticklabels()] == [r.label for r in table.rows]
    grid = ax.images[0].get_array()
    assert grid.shape == (15, 6)
    k = 0.05  # net.a fixed: P_c / clean = 1 - 3k + wiggle(c)
    assert np.allclose(grid[:, 0], [1 - 3 * k + wiggle(i) for i in range(15)])
    assert fig.axes[1].get_ylabel() == "P_c / P_clean"  # the colorbar
    assert _png_size(png_bytes(fig)) == FIGURE_SIZE_PX


def test_figures_for_a_partial_table_still_render() -> None:
    result = make_result("ade20k-c", "lonely", 0.4, 0.1)
    table = task_tables([(result, Identified("lonely", None, "assumed"))])["ade20k-c"][0]
    for draw in (lambda: transfer_scatter(table, {}), lambda: severity_curves(table)):
        assert _png_size(png_bytes(draw())) == FIGURE_SIZE_PX
    heat = corruption_heatmap(table)
    assert [t.get_text() for t in heat.axes[0].get_xticklabels()] == ["lonely (?)"]
