"""Transfer report: tables, upstream sources, correlations and written output on generated result sets."""

from __future__ import annotations

import html
import json
import re

import pytest
from scipy import stats

from evaluator import metrics as M
from evaluator.baselines import ALEXNET_MEAN_ERRORS
from evaluator.protocol import COMMON_CORRUPTIONS
from evaluator.report import Sourced, UpstreamMetrics, build_report
from evaluator.report.correlation import rank_correlation
from evaluator.report.identity import Assignment, ReportMapping
from evaluator.report.upstream import SOURCE_ROBUSTBENCH, SOURCE_RZOO, SOURCE_ZOO
from tests.report_fixtures import (
    ZOO_TEST_BACKBONES,
    downstream,
    make_result,
    table,
    zoo_test_backbones,  # noqa: F401 (fixture)
)
from zoo.errors import InvalidInputError

A, B, C, D, NOMCE = ZOO_TEST_BACKBONES


pytestmark = pytest.mark.usefixtures("zoo_test_backbones")


def _cifar_set():
    """Four backbones x two modes on CIFAR-10-C with known clean and k (rPC = 1 - 3k)."""
    spec = {  # backbone: (fixed clean, fixed k, full clean, full k)
        A: (0.80, 0.10, 0.95, 0.05),
        B: (0.82, 0.08, 0.94, 0.06),
        C: (0.81, 0.07, 0.96, 0.04),
        D: (0.83, 0.05, 0.93, 0.07),
    }
    results = []
    for backbone, (c_fixed, k_fixed, c_full, k_full) in spec.items():
        results.append(downstream("cifar10-c", backbone, "fixed", c_fixed, k_fixed))
        results.append(downstream("cifar10-c", backbone, "full", c_full, k_full))
    return spec, results


def test_tables_hold_the_right_numbers_in_every_rendering() -> None:
    spec, results = _cifar_set()
    report = build_report(results, with_figures=False)
    table = report.section("cifar10-c").table
    assert table.metric == "top1"
    assert table.backbones == (A, B, C, D)
    assert table.modes == ("fixed", "full")
    for backbone, (c_fixed, k_fixed, c_full, k_full) in spec.items():
        for mode, clean, k in (("fixed", c_fixed, k_fixed), ("full", c_full, k_full)):
            row = table.get(backbone, mode)
            assert row.clean == pytest.approx(clean)
            assert row.mPC == pytest.approx(clean * (1 - 3 * k))
            assert row.rPC == pytest.approx(1 - 3 * k)
    # the markdown row in the paper's layout: backbone, IN top-1, IN-C mCE, fixed clean/mPC/rPC, full ...
    escaped = A.replace("_", "\\_")
    assert f"| {escaped} | 76.0 | 77.0 | 80.0 | 56.0 | 70.0 | 95.0 | 80.8 | 85.0 |" in report.markdown
    # the HTML has two header rows: mode groups spanning clean/mPC/rPC
    assert '<th colspan="3">fixed-feature</th><th colspan="3">full fine-tuning</th>' in report.html
    assert "<td>56.0</td><td>70.0</td><td>95.0</td><td>80.8</td><td>85.0</td>" in report.html


def test_upstream_comes_from_measurements_before_the_zoo_and_says_which() -> None:
    _, results = _cifar_set()
    imagenet = make_result("imagenet-c", A, 0.70, 0.1)  # a measured ImageNet-C run of backbone A
    rb_table = table(0.6, 0.12)
    report = build_report(
        [*results, imagenet],
        robustbench={"SomeRobustBenchModel": rb_table, "Unrelated_Model": rb_table},
        mapping=ReportMapping(robustbench={"SomeRobustBenchModel": B}),
        with_figures=False,
    )
    up_a, up_b, up_c = report.upstream[A], report.upstream[B], report.upstream[C]
    assert up_a.imagenet_top1.value == pytest.approx(0.70) and up_a.imagenet_top1.source == SOURCE_RZOO
    assert up_a.imagenet_c_mce.value == pytest.approx(imagenet.primary.mCE)
    assert up_b.imagenet_top1.source == SOURCE_ZOO and up_b.imagenet_top1.value == pytest.approx(0.77)
    expected_mce = M.mean_corruption_error(rb_table, ALEXNET_MEAN_ERRORS)
    assert up_b.imagenet_c_mce.value == pytest.approx(expected_mce)
    assert up_b.imagenet_c_mce.source == f"{SOURCE_ROBUSTBENCH}: SomeRobustBenchModel"
    assert up_b.imagenet_c_accuracy.value == pytest.approx(
        sum(v for c in COMMON_CORRUPTIONS for v in rb_table[c].values()) / 75
    )
    assert up_c.imagenet_c_mce.source == SOURCE_ZOO and up_c.imagenet_c_accuracy.value is None
    # the measured ImageNet-C result is upstream data, not a downstream table
    assert [s.task for s in report.sections] == ["cifar10-c"]
    assert "measured (rzoo imagenet-c)" in report.markdown
    assert any("Unrelated_Model" in note for note in report.notes)


def test_missing_upstream_metrics_are_listed_never_invented() -> None:
    _, results = _cifar_set()
    stranger = downstream("cifar10-c", "convnext_pico.unknown", "full", 0.9, 0.02)
    no_mce = downstream("cifar10-c", NOMCE, "full", 0.9, 0.03)
    report = build_report([*results, stranger, no_mce], with_figures=False)
    assert report.missing_upstream == {
        "convnext_pico.unknown": ("ImageNet top-1", "ImageNet-C mCE"),
        NOMCE: ("ImageNet-C mCE",),
    }
    up = report.upstream["convnext_pico.unknown"]
    assert (up.imagenet_top1.value, up.imagenet_c_mce.value, up.imagenet_c_accuracy.value) == (None,) * 3
    assert "| convnext\\_pico.unknown | — | — | — | — | — | 90.0 | 84.6 | 94.0 |" in report.markdown
    section = report.markdown.split("## Missing upstream metrics")[1]
    assert "convnext\\_pico.unknown: ImageNet top-1, ImageNet-C mCE" in section
    # backbones without the upstream number are not in the correlation
    assert report.section("cifar10-c").correlations["full"].n == 4


def test_correlations_equal_scipy_and_are_stated_in_one_sentence() -> None:
    spec, results = _cifar_set()
    report = build_report(results, with_figures=False)
    section = report.section("cifar10-c")
    mce = [ZOO_TEST_BACKBONES[b][1] for b in spec]
    for mode, k_index in (("fixed", 1), ("full", 3)):
        rpc = [1 - 3 * spec[b][k_index] for b in spec]
        corr = section.correlations[mode]
        assert corr.n == 4
        assert corr.spearman == pytest.approx(stats.spearmanr(mce, rpc).statistic)
        assert corr.spearman_p == pytest.approx(stats.spearmanr(mce, rpc).pvalue)
        assert corr.kendall == pytest.approx(stats.kendalltau(mce, rpc).statistic)
        assert corr.kendall_p == pytest.approx(stats.kendalltau(mce, rpc).pvalue)
    full = section.correlations["full"]
    assert section.sentence.endswith(".") and ". " not in section.sentence  # a single sentence
    assert (
        f"full fine-tuning: Spearman ρ = {full.spearman:+.2f} (p = {full.spearman_p:.3f})" in section.sentence
    )
    assert "fixed-feature: Spearman ρ = -1.00 (p < 0.001)" in section.sentence  # mCE down, rPC up
    assert "ImageNet robustness transfers" in section.sentence
    assert "n = 4" in section.sentence and section.sentence in report.markdown


def test_too_few_backbones_is_not_enough_data() -> None:
    results = [
        downstream("coco-c", A, "full", 0.37, 0.1),
        downstream("coco-c", B, "full", 0.38, 0.12),
        downstream("coco-c", "unknown.net", "full", 0.36, 0.11),
    ]
    report = build_report(results, with_figures=False)
    corr = report.section("coco-c").correlations["full"]
    assert corr.n == 2 and corr.spearman is None and not corr.enough_data
    assert "not enough data (n = 2" in report.section("coco-c").sentence


def test_rank_correlation_handles_ties_and_constants() -> None:
    x, y = [0.5, 0.6, 0.6, 0.7, 0.9], [0.8, 0.7, 0.75, 0.7, 0.5]
    corr = rank_correlation(x, y)
    assert corr.spearman == pytest.approx(stats.spearmanr(x, y).statistic)
    assert corr.kendall_p == pytest.approx(stats.kendalltau(x, y).pvalue)
    constant = rank_correlation([0.5, 0.5, 0.5], [0.1, 0.2, 0.3])
    assert constant.n == 3 and not constant.defined and "undefined" in constant.describe()


def test_mapping_beats_checkpoint_fields_and_extra_metrics_get_tables() -> None:
    plain = make_result("coco-c", "my-maskrcnn", 0.37, 0.1, extra_metric="mask_ap")
    recorded = make_result("coco-c", "other-maskrcnn", 0.38, 0.1, base_model=B, mode="fixed",
                           extra_metric="mask_ap")  # fmt: skip
    mapping = ReportMapping(checkpoints={"my-maskrcnn": Assignment("resnet50.rtest_a_in1k", "full")})
    report = build_report([plain, recorded], mapping=mapping, with_figures=False)
    section = report.section("coco-c")
    assert [t.metric for t in section.tables] == ["box_ap", "mask_ap"]
    assert section.table.get(A, "full").checkpoint == "my-maskrcnn"
    assert section.table.get(B, "fixed").identified_by == "checkpoint"
    assert section.tables[1].get(A, "full").clean == pytest.approx(0.185)
    assert not report.notes


def test_duplicates_and_unknown_tasks_are_refused() -> None:
    twice = [downstream("cifar10-c", A, "full", 0.9, 0.1), downstream("cifar10-c", A, "full", 0.8, 0.1)]
    with pytest.raises(InvalidInputError, match=r"two cifar10-c results for backbone resnet50\.rtest_a_in1k"):
        build_report(twice, with_figures=False)
    odd = make_result("cifar10-c", "x", 0.9, 0.1)
    object.__setattr__(odd, "task", "mnist-c")
    with pytest.raises(InvalidInputError, match="unknown task 'mnist-c'"):
        build_report([odd], with_figures=False)
    with pytest.raises(InvalidInputError, match="unknown upstream measure"):
        build_report([downstream("cifar10-c", A, "full", 0.9, 0.1)], measure="auc")


def test_written_report_is_self_contained_and_escaped(tmp_path) -> None:
    _, results = _cifar_set()
    evil = make_result("ade20k-c", "<script>alert(1)</script>", 0.4, 0.1)
    report = build_report([*results, evil], tmp_path / "out")
    out = tmp_path / "out"
    page = (out / "report.html").read_text()
    assert "<script>" not in page and html.escape("<script>alert(1)</script>") in page
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 6 and all(not s.startswith(("/", "http")) for s in srcs)
    for src in srcs:
        assert (out / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md_images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "report.md").read_text())
    assert md_images == srcs == [f.path for f in report.figures]
    assert "<link" not in page and "http" not in page.split("<body>")[0]  # no external assets
    # report.json carries the same numbers
    data = json.loads((out / "report.json").read_text())
    assert data["schema"] == "rzoo.report/1" and data["measure"] == "mce"
    row = next(r for r in data["tasks"]["cifar10-c"]["tables"][0]["rows"] if r["backbone"] == A)
    assert row["mode"] == "fixed" and row["rPC"] == pytest.approx(
        report.section("cifar10-c").table.get(A, "fixed").rPC
    )
    assert data["tasks"]["cifar10-c"]["correlations"]["full"]["n"] == 4
    assert data["tasks"]["ade20k-c"]["correlations"]["unknown"]["spearman"] is None
    assert data["upstream"][A]["imagenet_c_mce"] == {"value": 0.77, "source": SOURCE_ZOO}
    # rewriting the folder with fewer tasks removes rzoo's stale figures and nothing else
    (out / "figures" / "mine.png").write_bytes(b"not ours")
    build_report(results, out, with_figures=False)
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["mine.png"]
    assert "ade20k-c" not in json.loads((out / "report.json").read_text())["tasks"]


def test_explicit_upstream_overrides_and_imagenet_only_inputs() -> None:
    _, results = _cifar_set()
    override = {A: UpstreamMetrics(A, imagenet_c_mce=Sourced(0.40, "server database"))}
    report = build_report(results, upstream=override, with_figures=False)
    assert report.upstream[A].imagenet_c_mce == Sourced(0.40, "server database")
    assert report.upstream[A].imagenet_top1.value is None  # an override replaces, it does not merge
    assert "mCE: server database" in report.markdown
    only_upstream = build_report([make_result("imagenet-c", B, 0.7, 0.1)], with_figures=False)
    assert not only_upstream.sections and "No downstream results" in only_upstream.markdown
    assert only_upstream.upstream[B].imagenet_top1 == Sourced(0.7, SOURCE_RZOO)
