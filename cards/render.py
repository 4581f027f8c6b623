"""Render a model card (README.md) from typed inputs, on huggingface_hub's ModelCard / ModelCardData.

The YAML metadata (library, tags, license, datasets, base_model, pipeline_tag, model-index) is built
with ``ModelCardData`` and ``EvalResult``; the body is the Jinja template in ``templates/``. Every input
but the repo id and architecture is optional: a card renders without results, recipe or provenance.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

from cards._model_index import AGGREGATES, TASKS, metric_aggregates, source_name, to_hub_eval_results
from evaluator.protocol import COMMON_CORRUPTIONS, FAMILY_OF, HOLDOUT_CORRUPTIONS, SEVERITIES
from evaluator.results import METRIC_LABELS, EvalResult, MetricResult
from zoo._registry import Provenance, ReferenceMetrics

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md.j2"
HUB_ENDPOINT = "https://huggingface.co"

PIPELINE_TAGS = {
    "classification": "image-classification",
    "detection": "object-detection",
    "segmentation": "image-segmentation",
}
DEFAULT_USAGE_TASK = {"classification": "cifar10-c", "detection": "coco-c", "segmentation": "ade20k-c"}

PAPER_BIBTEX = """@inproceedings{yamada2022does,
  title={Does Robustness on ImageNet Transfer to Downstream Tasks?},
  author={Yamada, Yutaro and Otani, Mayu},
  booktitle={CVPR},
  year={2022}
}"""


@dataclass(frozen=True)
class CardSpec:
    """Everything a card can say. Only ``repo_id`` and ``architecture`` are required."""

    repo_id: str
    architecture: str
    kind: str = "classification"  # classification | detection | segmentation
    num_classes: int | None = None
    num_params: int | None = None
    license: str | None = None
    base_model: str | None = None  # the upstream zoo repo on the Hub
    train_datasets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: str | None = None
    provenance: Provenance | None = None
    reference_metrics: ReferenceMetrics | None = None
    recipe: Mapping[str, Any] | None = None  # the resolved recipe JSON of a fine-tuning run
    recipe_text: str | None = None  # a recipe in words (original releases)
    preprocessing: Mapping[str, Any] | None = None
    results: tuple[EvalResult, ...] = ()
    results_paths: tuple[str, ...] = ()  # path in the repo of each results file, same order
    plot_filename: str | None = None
    checkpoint_sha256: str | None = None
    endpoint: str = HUB_ENDPOINT
    library_name: str | None = None  # default: timm for classifiers, rzoo for dense models
    extra_citations: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.repo_id.split("/", 1)[-1]


def card_data(spec: CardSpec) -> ModelCardData:
    """The YAML metadata block, model-index included."""
    if spec.kind not in PIPELINE_TAGS:
        raise ValueError(f"unknown model kind {spec.kind!r}; expected one of {sorted(PIPELINE_TAGS)}")
    eval_results = []
    for result, path in zip(spec.results, _results_paths(spec), strict=True):
        eval_results.extend(to_hub_eval_results(result, f"{spec.endpoint}/{spec.repo_id}/blob/main/{path}"))
    datasets = [*spec.train_datasets]
    tags = [
        *(["timm"] if spec.kind == "classification" else []),
        "rzoo",
        "robustness",
        "image-corruptions",
        spec.kind,
        *spec.tags,
        *(r.task for r in spec.results),
    ]
    return ModelCardData(
        library_name=spec.library_name or ("timm" if spec.kind == "classification" else "rzoo"),
        pipeline_tag=PIPELINE_TAGS[spec.kind],
        license=spec.license,
        tags=tags,
        datasets=datasets or None,
        base_model=spec.base_model,
        model_name=spec.name if eval_results else None,
        eval_results=eval_results or None,
    )


def render_card(spec: CardSpec) -> ModelCard:
    """The full card (metadata + body) as a huggingface_hub ``ModelCard``."""
    data = card_data(spec)
    return ModelCard.from_template(data, template_path=str(TEMPLATE_PATH), **_body_context(spec))


def write_card(spec: CardSpec, folder: Path) -> Path:
    path = folder / "README.md"
    render_card(spec).save(path)
    return path


# ---- body view model (pure) ------------------------------------------------------------------------
def _results_paths(spec: CardSpec) -> list[str]:
    if spec.results_paths:
        if len(spec.results_paths) != len(spec.results):
            raise ValueError("results_paths must name one path per result")
        return list(spec.results_paths)
    return [f"eval/{r.task}.json" for r in spec.results]


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}"


def _body_context(spec: CardSpec) -> dict[str, Any]:
    provenance = spec.provenance
    reference = spec.reference_metrics
    reference_rows = []
    if reference is not None:
        if reference.imagenet_top1 is not None:
            reference_rows.append(("ImageNet top-1 (%)", _pct(reference.imagenet_top1, 2)))
        if reference.imagenet_c_mce is not None:
            reference_rows.append(("ImageNet-C mCE (%)", _pct(reference.imagenet_c_mce)))
    citations = [PAPER_BIBTEX]
    if provenance is not None and provenance.bibtex:
        citations.insert(0, provenance.bibtex.strip())
    citations.extend(c.strip() for c in spec.extra_citations)
    usage_task = spec.results[0].task if spec.results else DEFAULT_USAGE_TASK[spec.kind]
    return {
        "model_title": spec.name,
        "summary": spec.summary or _default_summary(spec),
        "repo_id": spec.repo_id,
        "architecture": spec.architecture,
        "kind": spec.kind,
        "num_classes": spec.num_classes,
        "num_params": None if spec.num_params is None else f"{spec.num_params / 1e6:.1f} M",
        "base_model": spec.base_model,
        "license": spec.license,
        "endpoint": spec.endpoint,
        "checkpoint_sha256": spec.checkpoint_sha256,
        "provenance": provenance,
        "reference_rows": reference_rows,
        "reference_source": None if reference is None else reference.source,
        "recipe_json": json.dumps(spec.recipe, indent=2, sort_keys=True) if spec.recipe else None,
        "recipe_text": spec.recipe_text,
        "preprocessing_rows": _preprocessing_rows(spec.preprocessing),
        "usage_task": usage_task,
        "plot_filename": spec.plot_filename,
        "evaluations": [
            _evaluation_view(r, path) for r, path in zip(spec.results, _results_paths(spec), strict=True)
        ],
        "citations": "\n\n".join(citations),
    }


def _default_summary(spec: CardSpec) -> str:
    what = {"classification": "An image classifier", "detection": "A detector", "segmentation": "A segmenter"}
    text = f"{what[spec.kind]} built on `{spec.architecture}`"
    if spec.base_model:
        text += f", fine-tuned from [{spec.base_model}]({spec.endpoint}/{spec.base_model})"
    text += ", published by rzoo"
    if spec.results:
        text += (
            " with its robustness under common corruptions (" + ", ".join(r.task for r in spec.results) + ")"
        )
    return text + "."


def _preprocessing_rows(cfg: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not cfg:
        return []
    keys = ("input_size", "crop_pct", "crop_mode", "interpolation", "mean", "std")
    rows = [(k, _fmt(cfg[k])) for k in keys if cfg.get(k) is not None]
    rows.extend((k, _fmt(v)) for k, v in sorted(cfg.items()) if k not in keys and v is not None)
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _evaluation_view(result: EvalResult, results_path: str) -> dict[str, Any]:
    present = [
        (a, label)
        for a, label in AGGREGATES
        if any(a in metric_aggregates(m) for m in result.metrics.values())
    ]
    summary_rows = []
    for name, metric in result.metrics.items():
        values = metric_aggregates(metric)
        label = METRIC_LABELS.get(name, name) + (" (primary)" if name == result.primary_metric else "")
        summary_rows.append([label, *(_pct(values.get(a)) for a, _ in present)])
    return {
        "dataset_name": TASKS[result.task].dataset_name,
        "num_images": result.num_images,
        "source_name": source_name(result),
        "results_path": results_path,
        "aggregate_labels": [a for a, _ in present],
        "summary_rows": summary_rows,
        "tables": [
            {
                "title": f"{METRIC_LABELS.get(name, name)} per corruption and severity (%)",
                "rows": corruption_rows(metric),
            }
            for name, metric in result.metrics.items()
            if metric.corrupted or (metric.holdout and metric.holdout.corrupted)
        ],
    }


def corruption_rows(metric: MetricResult) -> list[list[str]]:
    """One row per corruption (common ones first, then holdout ones marked as such)."""
    rows = []
    holdout = metric.holdout.corrupted if metric.holdout else {}
    sections: Sequence[tuple[Mapping[str, Mapping[int, float]], bool]] = (
        (metric.corrupted, False),
        (holdout, True),
    )
    for table, is_holdout in sections:
        order = [c for c in (*COMMON_CORRUPTIONS, *HOLDOUT_CORRUPTIONS) if c in table]
        order += sorted(c for c in table if c not in order)
        for c in order:
            by_sev = table[c]
            mean = sum(by_sev.values()) / len(by_sev) if by_sev else None
            name = f"{c} (holdout)" if is_holdout else c
            rows.append([name, FAMILY_OF.get(c, "—"), *(_pct(by_sev.get(s)) for s in SEVERITIES), _pct(mean)])
    return rows
