"""rzoo's evaluator: corrupted downstream benchmarks, robustness metrics and the results schema.

Public API (stable; the server builds on it)::

    from evaluator import evaluate, EvalConfig

    result = evaluate(EvalConfig(checkpoint="resnet50.augmix_in1k", task="imagenet-c",
                                 data_root=Path("~/data/imagenet"), work_dir=Path("run1"), resume=True))
    result.primary.mPC, result.save("results.json")

``EvalConfig`` (evaluator/config.py) describes one run; ``evaluate`` returns an
``evaluator.results.EvalResult`` (schema ``rzoo.results/1``). Importing this package does not
import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evaluator.config import EvalConfig

if TYPE_CHECKING:
    from evaluator.results import EvalResult


def evaluate(cfg: EvalConfig) -> EvalResult:
    """Score ``cfg.checkpoint`` on ``cfg.task`` (see ``evaluator.engine``)."""
    from evaluator.engine import evaluate as _evaluate

    return _evaluate(cfg)


def __getattr__(name: str) -> Any:
    if name == "EvalResult":
        from evaluator.results import EvalResult

        return EvalResult
    raise AttributeError(name)


__all__ = ["EvalConfig", "EvalResult", "evaluate"]
