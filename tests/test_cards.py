"""Model cards: metadata and model-index through huggingface_hub, body, plot, optional fields."""

from __future__ import annotations

import hashlib

import pytest
from huggingface_hub import ModelCard

from cards import (
    PLOT_FILENAME,
    CardSpec,
    corruption_rows,
    plot_robustness,
    render_card,
    severity_curve,
    summarize_results,
    summary_from_hub_eval_results,
    write_card,
)
from tests._publish_data import make_result
from zoo import get_weights


def _full_spec(results, **overrides) -> CardSpec:
    weights = get_weights("resnet50.tv_in1k")
    fields = {
        "repo_id": "me/resnet50.tv_in1k_ft_cifar10",
        "architecture": "resnet50",
        "num_classes": 10,
        "num_params": 23_528_522,
        "license": weights.provenance.license,
        "base_model": weights.hub.repo_id,
        "train_datasets": ("imagenet-1k", "cifar10"),
        "provenance": weights.provenance,
        "reference_metrics": weights.metrics,
        "recipe": {"lr": 0.01, "epochs": 150, "mode": "full-network"},
        "preprocessing": weights.data_config.to_timm(),
        "results": tuple(results),
        "plot_filename": PLOT_FILENAME,
        "checkpoint_sha256": "ab" * 32,
    }
    fields.update(overrides)
    return CardSpec(**fields)


def test_card_model_index_round_trips_every_aggregate(tmp_path) -> None:
    results = [make_result("cifar10-c"), make_result("imagenet-c")]
    path = write_card(_full_spec(results), tmp_path)

    card = ModelCard.load(path)
    assert card.data.library_name == "timm"
    assert card.data.pipeline_tag == "image-classification"
    assert card.data.base_model == "timm/resnet50.tv_in1k"
    assert card.data.license == "bsd-3-clause"
    assert card.data.datasets == ["imagenet-1k", "cifar10"]
    assert {"cifar10-c", "imagenet-c", "robustness"} <= set(card.data.tags)
    assert card.data.model_name == "resnet50.tv_in1k_ft_cifar10"

    parsed = summary_from_hub_eval_results(card.data.eval_results)
    assert parsed == summarize_results(results)  # exact floats, clean .. holdout rPC
    # mCE is defined for ImageNet-C only; CIFAR-10-C has no AlexNet baseline
    assert "mCE" in parsed["imagenet-c"]["top1"] and "relative_mCE" in parsed["imagenet-c"]["top1"]
    assert "mCE" not in parsed["cifar10-c"]["top1"]
    assert set(parsed["cifar10-c"]["top1"]) == {"clean", "mPC", "rPC", "holdout_mPC", "holdout_rPC"}
    # each result cites its source: the manifest in words and the results JSON shipped in the repo
    sources = {(r.dataset_type, r.source_url) for r in card.data.eval_results}
    assert sources == {
        ("cifar10-c", "https://huggingface.co/me/resnet50.tv_in1k_ft_cifar10/blob/main/eval/cifar10-c.json"),
        (
            "imagenet-c",
            "https://huggingface.co/me/resnet50.tv_in1k_ft_cifar10/blob/main/eval/imagenet-c.json",
        ),
    }
    assert all("rzoo 0.1.0" in r.source_name and "seed 0" in r.source_name for r in card.data.eval_results)


def test_dense_model_card_reports_every_metric_family(tmp_path) -> None:
    results = [make_result("coco-c")]
    spec = _full_spec(results, kind="detection", num_classes=80, train_datasets=("imagenet-1k", "coco"))
    card = ModelCard.load(write_card(spec, tmp_path))
    assert card.data.pipeline_tag == "object-detection"
    assert card.data.library_name == "rzoo"  # timm cannot build a detector from the folder
    parsed = summary_from_hub_eval_results(card.data.eval_results)
    assert set(parsed["coco-c"]) == {"box_ap", "mask_ap"}
    assert parsed == summarize_results(results)
    assert "timm.create_model" not in card.text


def test_card_body_has_provenance_recipe_usage_table_and_plot(tmp_path) -> None:
    result = make_result("cifar10-c")
    card = render_card(_full_spec([result]))
    text = card.text
    assert "[Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385)" in text
    assert "@inproceedings{he2016deep" in text and "Does Robustness on ImageNet Transfer" in text
    assert '"mode": "full-network"' in text  # the recipe, as JSON
    assert "| crop_pct | 0.875 |" in text and "| interpolation | bilinear |" in text
    assert 'timm.create_model("hf-hub:me/resnet50.tv_in1k_ft_cifar10", pretrained=True)' in text
    assert f"![robustness vs corruption severity]({PLOT_FILENAME})" in text
    # the per-corruption x severity table: fog at severity 3 from the results, in percent
    fog = result.primary.corrupted["fog"]
    assert f"| fog | weather | {100 * fog[1]:.1f} | {100 * fog[2]:.1f} | {100 * fog[3]:.1f} |" in text
    assert "| saturate (holdout) | digital |" in text
    assert (
        f"| top-1 accuracy (primary) | {100 * result.primary.clean:.1f} | {100 * result.primary.mPC:.1f} |"
        in text
    )


def test_card_renders_with_optional_fields_missing(tmp_path) -> None:
    card = ModelCard.load(write_card(CardSpec(repo_id="me/bare", architecture="resnet18"), tmp_path))
    assert card.data.library_name == "timm"
    assert card.data.eval_results is None and card.data.base_model is None
    assert "model-index" not in card.content
    for line in (
        "No evaluation results were published",
        "No training recipe recorded.",
        "No provenance recorded",
        "No preprocessing recorded",
    ):
        assert line in card.text
    assert "![robustness" not in card.text


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model kind"):
        render_card(CardSpec(repo_id="me/x", architecture="resnet18", kind="captioning"))


def test_corruption_rows_order_common_then_holdout() -> None:
    rows = corruption_rows(make_result("cifar10-c").primary)
    names = [r[0] for r in rows]
    assert names[:3] == ["gaussian_noise", "shot_noise", "impulse_noise"]
    assert names[-4:] == [f"{c} (holdout)" for c in ("speckle_noise", "gaussian_blur", "spatter", "saturate")]
    assert len(rows) == 19 and all(len(r) == 8 for r in rows)


def test_severity_curve_and_deterministic_plot(tmp_path) -> None:
    result = make_result("cifar10-c")
    metric = result.primary
    curve = severity_curve(metric)
    assert curve[0] == metric.clean
    assert curve[3] == pytest.approx(sum(metric.corrupted[c][3] for c in metric.corrupted) / 15)
    assert curve == sorted(curve, reverse=True)  # this table degrades with severity

    first = plot_robustness([result, make_result("imagenet-c")], tmp_path / "a" / PLOT_FILENAME)
    second = plot_robustness([result, make_result("imagenet-c")], tmp_path / "b" / PLOT_FILENAME)
    assert first is not None and second is not None
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # same results -> same bytes: re-publishing unchanged results creates no commit
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    assert plot_robustness([], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()
